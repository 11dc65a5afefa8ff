//! The page's wasm does not link the engine's validator or simulation (issue 19, page weight):
//! cross-field validation and the memory estimate are asked of the worker (`live_check`), and
//! runs and search jobs run there. Checked on the source: no code of `web/src` outside its tests
//! names `SimConfig::build` (or `build_with_budget`), `Simulation::`, the search's `run_job` or
//! the worker crate (a dev-dependency, for the page's tests only).
#![cfg(not(target_arch = "wasm32"))]

use std::path::{Path, PathBuf};

const FORBIDDEN: [&str; 4] = ["SimConfig::build", "Simulation::", "run_job", "llmsim_worker"];

/// What reaches the parsed catalogues (their JSON and deserialisers, about 11 KB of the page's
/// wasm gzipped): the page reads `catalog::index` and passes `catalog::index::Index` to the
/// engine's `_with` functions instead (BENCHMARKS.md, "Page weight at stop 35").
const PARSED_CATALOGUE: [&str; 10] = [
    "catalog::models",
    "catalog::devices",
    "catalog::nodes",
    "catalog::prices",
    "catalog::find_",
    "catalog::matching_node",
    "catalog::Parsed",
    "serving_engine::apply(",
    "SimConfig::required_files(",
    "fill_placeholders(",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The file's lines without its test code: a `tests.rs` module whole, and each item under a
/// `#[cfg(test)]` line, up to the closing brace at the attribute's indentation.
fn code_outside_tests(path: &Path) -> Vec<(usize, String)> {
    if path.file_name().is_some_and(|n| n == "tests.rs") {
        return Vec::new();
    }
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = Vec::new();
    let mut skip_until: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        if let Some(end) = &skip_until {
            if line == end {
                skip_until = None;
            }
            continue;
        }
        if line.trim() == "#[cfg(test)]" {
            let indent = &line[..line.len() - line.trim_start().len()];
            skip_until = Some(format!("{indent}}}"));
            continue;
        }
        lines.push((i + 1, line.to_string()));
    }
    lines
}

/// Where code of `web/src` outside its tests names one of `words`: `file:line: word`.
fn named_outside_tests(words: &[&str]) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 20, "read web/src: {files:?}");
    let mut found = Vec::new();
    for file in &files {
        for (n, line) in code_outside_tests(file) {
            for word in words.iter().filter(|w| line.contains(**w)) {
                found.push(format!("{}:{n}: {word}", file.display()));
            }
        }
    }
    found
}

#[test]
fn the_page_names_no_validator_and_no_simulation() {
    let found = named_outside_tests(&FORBIDDEN);
    assert!(
        found.is_empty(),
        "the page would link the validator; ask the worker instead:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_page_reads_the_catalogue_index_not_the_parsed_catalogues() {
    let found = named_outside_tests(&PARSED_CATALOGUE);
    assert!(
        found.is_empty(),
        "the page would link the catalogues' JSON; read llmsim_engine::catalog::index instead:\n{}",
        found.join("\n")
    );
}

#[test]
fn test_code_is_recognised() {
    // The checker itself: test items are skipped, the code around them is read.
    let dir = std::env::temp_dir().join(format!("llmsim-web-links-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sample.rs");
    std::fs::write(
        &file,
        "fn a() {}\n    #[cfg(test)]\n    fn b() {\n        SimConfig::build();\n    }\nfn c() { Simulation::new(); }\n#[cfg(test)]\nmod tests {\n}\n",
    )
    .unwrap();
    let lines: Vec<usize> = code_outside_tests(&file).into_iter().map(|(n, _)| n).collect();
    assert_eq!(lines, [1, 6]);
    std::fs::remove_dir_all(dir).unwrap();
}
