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
    eprintln!(
        "SKIPPED: {} not found (tests that read ../shared are skipped outside the workplace)",
        dir.display()
    );
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
    let sim_config =
        SimConfig::build(config, inputs).unwrap_or_else(|e| panic!("invalid test configuration: {e}"));
    Simulation::new(&sim_config).with_invariant_checks().run_to_report()
}

/// Checks a finished report: every request accounted for exactly once (INV-1), causality of
/// each completed request's timestamps and a latency that splits exactly into scheduling
/// delay, execution and preemption (INV-5), cached prompt within the prompt (INV-2), and no
/// KV block held after a run that completed everything (INV-4).
pub fn check_report_invariants(report: &Report) -> Result<(), String> {
    let s = &report.summary;
    if s.num_requests != s.num_completed + s.num_refused + s.num_unfinished + s.num_warmup_requests {
        return Err(format!(
            "INV-1: {} requests but {} completed + {} refused + {} unfinished + {} warm-up",
            s.num_requests, s.num_completed, s.num_refused, s.num_unfinished, s.num_warmup_requests
        ));
    }
    let mut seen = vec![false; s.num_requests as usize];
    let ids = report.requests.iter().map(|r| r.id).chain(report.request_errors.iter().map(|e| e.id));
    for id in ids {
        let slot = seen.get_mut(id as usize).ok_or_else(|| format!("INV-1: unknown request id {id}"))?;
        if std::mem::replace(slot, true) {
            return Err(format!("INV-1: request {id} reported twice"));
        }
    }
    // Completed warm-up requests have no row; they arrive before every measured request.
    let first_measured = report.requests.iter().map(|r| r.id).min().unwrap_or(u32::MAX);
    let missing: Vec<usize> = seen.iter().enumerate().filter(|(_, s)| !**s).map(|(i, _)| i).collect();
    if let Some(&id) = missing.iter().find(|&&id| id as u64 >= u64::from(first_measured)) {
        return Err(format!("INV-1: request {id} is missing from the report"));
    }
    if missing.len() as u64 != s.num_warmup_requests {
        return Err(format!(
            "INV-1: {} requests without a row, but {} warm-up requests",
            missing.len(),
            s.num_warmup_requests
        ));
    }
    for r in &report.requests {
        if !(r.arrived_at_ns <= r.scheduled_at_ns
            && r.scheduled_at_ns <= r.prefill_completed_at_ns
            && r.prefill_completed_at_ns <= r.completed_at_ns)
        {
            return Err(format!("INV-5: request {} has arrival/schedule/first token/end out of order", r.id));
        }
        let accounted = (r.scheduled_at_ns - r.arrived_at_ns) + r.execution_ns + r.preempted_ns;
        if r.completed_at_ns - r.arrived_at_ns != accounted {
            return Err(format!(
                "INV-5: request {}: e2e {} ns ≠ scheduling delay + execution + preemption = {} ns",
                r.id,
                r.completed_at_ns - r.arrived_at_ns,
                accounted
            ));
        }
        if r.num_prefill_tokens_cached > r.num_prefill_tokens {
            return Err(format!(
                "INV-2: request {} has {} cached prompt tokens of {}",
                r.id, r.num_prefill_tokens_cached, r.num_prefill_tokens
            ));
        }
    }
    if s.num_unfinished == 0 {
        for replica in &report.replicas {
            if replica.kv_blocks_allocated_at_end != 0 {
                return Err(format!(
                    "INV-4: replica {} still holds {} KV blocks at the end",
                    replica.replica, replica.kv_blocks_allocated_at_end
                ));
            }
        }
    }
    Ok(())
}
