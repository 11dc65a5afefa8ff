//! The short fuzz campaign of `scripts/test.sh`: 100,000 executions (`LLMSIM_FUZZ_EXECUTIONS`
//! to change) of seed 1 with small bounded runs, which must find no panic, hang, abort,
//! violated invariant or unlocated error. Ignored by a plain `cargo test` (it takes a couple of
//! minutes on two cores); `scripts/test.sh` runs it with
//! `cargo test --workspace --test short_campaign -- --ignored`.

use std::process::Command;

#[test]
#[ignore = "a two-minute campaign: scripts/test.sh runs it"]
fn a_short_campaign_finds_nothing() {
    let executions = std::env::var("LLMSIM_FUZZ_EXECUTIONS").unwrap_or_else(|_| "100000".to_string());
    let findings = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-findings");
    let _ = std::fs::remove_dir_all(&findings);
    let status = Command::new(env!("CARGO_BIN_EXE_llmsim-fuzz"))
        .args(["--executions", &executions, "--seed", "1", "--max-events", "2000", "--hang-secs", "120"])
        .arg("--findings")
        .arg(&findings)
        .status()
        .expect("the harness runs");
    assert!(status.success(), "the campaign found something: see {}", findings.display());
}
