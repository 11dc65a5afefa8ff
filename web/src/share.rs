//! Share links: the query string carries the configuration with Vidur's flag names as keys,
//! plus `_file=<size>:<sha256>:<name>` for each uploaded file the run read (the file itself
//! never leaves the machine; whoever opens the link is asked for it), and `_text=<name>:<text>`
//! for a model config.json pasted into the page (a few hundred bytes that were typed, not a
//! user's file, so the link alone reproduces the run).

/// An uploaded file a shared run read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedFile {
    /// The name the configuration refers to it by.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, lower-case hex.
    pub sha256: String,
}

impl SharedFile {
    /// Short form for messages: `name (12.3 MB, sha256 abcdef12…)`.
    pub fn describe(&self) -> String {
        format!(
            "{} ({}, sha256 {}…)",
            self.path,
            format_bytes(self.size),
            &self.sha256[..self.sha256.len().min(12)]
        )
    }
}

/// What a share link holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SharedRun {
    /// `(flag, text)` pairs, in link order.
    pub pairs: Vec<(String, String)>,
    /// Uploaded files the run read.
    pub files: Vec<SharedFile>,
    /// `(name, text)` of pasted files carried in the link.
    pub texts: Vec<(String, String)>,
}

/// Largest pasted text a link carries, bytes (a Hugging Face config.json is 0.5–3 kB).
pub const MAX_LINK_TEXT: usize = 8 * 1024;

/// Key of the uploaded-file entries (flags never start with `_`).
const FILE_KEY: &str = "_file";
/// Key of the pasted-text entries.
const TEXT_KEY: &str = "_text";

impl SharedRun {
    /// The query string, without the leading `?`.
    pub fn to_query(&self) -> String {
        let mut parts: Vec<String> =
            self.pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
        for f in &self.files {
            parts.push(format!("{FILE_KEY}={}", encode(&format!("{}:{}:{}", f.size, f.sha256, f.path))));
        }
        for (name, text) in &self.texts {
            parts.push(format!("{TEXT_KEY}={}", encode(&format!("{name}:{text}"))));
        }
        parts.join("&")
    }

    /// Reads a query string (with or without the leading `?`). Malformed file entries and
    /// other `_` keys are skipped; flag names are checked later, by the form.
    pub fn from_query(query: &str) -> SharedRun {
        let mut run = SharedRun::default();
        for part in query.trim_start_matches('?').split('&').filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            let (key, value) = (decode(key), decode(value));
            if key == FILE_KEY {
                let mut fields = value.splitn(3, ':');
                if let (Some(size), Some(sha256), Some(path)) = (fields.next(), fields.next(), fields.next())
                    && let Ok(size) = size.parse()
                {
                    run.files.push(SharedFile { path: path.to_string(), size, sha256: sha256.to_string() });
                }
            } else if key == TEXT_KEY {
                if let Some((name, text)) = value.split_once(':')
                    && !name.is_empty()
                    && text.len() <= MAX_LINK_TEXT
                {
                    run.texts.push((name.to_string(), text.to_string()));
                }
            } else if !key.starts_with('_') {
                run.pairs.push((key, value));
            }
        }
        run
    }

    /// Whether the link carries a configuration (a bare page URL does not).
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty() && self.files.is_empty() && self.texts.is_empty()
    }
}

/// Percent-encodes everything but unreserved characters and a few that read well in a URL.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/:,".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes and `+` (a space in form encoding); bad escapes stay as they are.
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// `1234567` → `1.2 MB`.
pub fn format_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GB", n as f64 / 1e9),
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / 1e6),
        n if n >= 1 << 10 => format!("{:.1} kB", n as f64 / 1e3),
        n => format!("{n} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_round_trip_configurations_and_files() {
        let run = SharedRun {
            pairs: vec![
                ("replica_config_model_name".into(), "meta-llama/Meta-Llama-3-8B".into()),
                ("poisson_request_interval_generator_config_qps".into(), "8.0".into()),
                (
                    "trace_request_length_generator_config_trace_file".into(),
                    "my trace+v2 (final) é.csv".into(),
                ),
            ],
            files: vec![SharedFile {
                path: "my trace+v2 (final) é.csv".into(),
                size: 80_030_551,
                sha256: "ab".repeat(32),
            }],
            texts: vec![("pasted-config.json".into(), "{\"a\": \"b:c&d=e%\"}\n".into())],
        };
        let query = run.to_query();
        assert!(query.starts_with("replica_config_model_name=meta-llama/Meta-Llama-3-8B&"), "{query}");
        assert!(!query.contains(' ') && !query.contains('+'), "{query}");
        assert_eq!(SharedRun::from_query(&format!("?{query}")), run);
    }

    #[test]
    fn odd_input_is_tolerated() {
        let run = SharedRun::from_query("?seed=7&_file=bad&_x=1&flag_only&a=%zz%4");
        assert_eq!(
            run.pairs,
            vec![
                ("seed".into(), "7".into()),
                ("flag_only".into(), String::new()),
                ("a".into(), "%zz%4".into())
            ]
        );
        assert!(run.files.is_empty());
        assert!(SharedRun::from_query("").is_empty());
        assert_eq!(decode("a+b%20c"), "a b c");
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(format_bytes(80_030_551), "80.0 MB");
        assert_eq!(format_bytes(512), "512 B");
    }
}
