//! Shared helpers of llmsim's integration tests: locating `../shared`, building scenarios from
//! flag pairs, and running them with invariant checks.

use std::path::PathBuf;

use llmsim_engine::{Config, Inputs, Report, SimConfig, Simulation};

/// The workplace's reference material (`../shared` next to the repository), or `None` with a
/// visible note when it is absent (a clone outside this workplace). Set `LLMSIM_SHARED_DIR` to
/// point elsewhere; CI sets `LLMSIM_REQUIRE_SHARED=1`, which turns absence into a failure.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("LLMSIM_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    if dir.join("README.md").is_file() {
        return Some(dir);
    }
    if std::env::var_os("LLMSIM_REQUIRE_SHARED").is_some() {
        panic!("LLMSIM_REQUIRE_SHARED is set but {} does not exist", dir.display());
    }
    eprintln!("SKIPPED: {} not found (tests that read ../shared are skipped outside the workplace)", dir.display());
    None
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A configuration from `(flag, value)` pairs; panics on a bad pair (test input is fixed).
pub fn config(pairs: &[(&str, &str)]) -> Config {
    Config::from_pairs(pairs.iter().copied()).unwrap_or_else(|e| panic!("bad test configuration: {e}"))
}

/// Builds and runs a configuration with every invariant checked after every event.
pub fn run_checked(config: &Config, inputs: &Inputs) -> Report {
    let sim_config = SimConfig::build(config, inputs).unwrap_or_else(|e| panic!("invalid test configuration: {e}"));
    Simulation::new(&sim_config).with_invariant_checks().run_to_report()
}
