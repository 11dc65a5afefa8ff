//! Embeds the catalogues and the calibration (`data/*.json`) without their indentation: the
//! committed files are pretty-printed for review, but every byte embedded is a byte the page and
//! its worker download (about 0.5 KB gzipped of the calibration's whitespace). Only whitespace
//! outside JSON strings is dropped, so what `serde_json` reads is unchanged.
//!
//! The engine's purity lint (clippy.toml: no IO, no environment) is about the simulator at run
//! time; this script runs once at compile time and is not part of it.
#![allow(clippy::disallowed_methods)]

use std::path::Path;

const EMBEDDED: [&str; 5] = ["calibration.json", "models.json", "devices.json", "nodes.json", "prices.json"];

fn main() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data");
    let out = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    for name in EMBEDDED {
        let path = data.join(name);
        println!("cargo::rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        std::fs::write(Path::new(&out).join(name), without_whitespace(&text))
            .unwrap_or_else(|e| panic!("writing the compact {name}: {e}"));
    }
}

/// `json` without the whitespace between its tokens (inside strings, kept: escapes included).
fn without_whitespace(json: &str) -> String {
    let mut compact = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            compact.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if !c.is_ascii_whitespace() {
            in_string = c == '"';
            compact.push(c);
        }
    }
    compact
}
