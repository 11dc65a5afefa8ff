//! One execution: drive an input through its entry point and check every invariant on what is
//! accepted, and that what is refused says where.

use std::panic::{AssertUnwindSafe, catch_unwind};

use llmsim_engine::hf_config::model_from_hf_config;
use llmsim_engine::inputs::decode_text;
use llmsim_engine::limits::{DEFAULT_MEMORY_BUDGET_BYTES, MAX_REQUEST_TOKENS, MAX_REQUESTS};
use llmsim_engine::trace::{TraceError, read_arrival_times, summarize};
use llmsim_engine::{Config, Inputs, SimConfig, Simulation, parse_trace};
use llmsim_tests::{check_report_bounds, check_report_invariants};

use crate::case::{Case, Target};

/// How far one execution may go.
#[derive(Clone, Copy, Debug)]
pub struct ExecLimits {
    /// Events a run may handle before it is cut (and its partial report checked).
    pub max_events: u64,
    /// Events at one simulated instant, with no request arriving or ending, that count as a
    /// stalled clock.
    pub stall_events: u64,
    /// KV blocks (all replicas) up to which runs check INV-4 after every event.
    pub checked_blocks: u64,
}

impl Default for ExecLimits {
    fn default() -> ExecLimits {
        ExecLimits { max_events: 20_000, stall_events: 5_000, checked_blocks: 1024 }
    }
}

/// What went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// `panic`, `invariant`, `unlocated-error`, `stall`, `hang` or `abort`.
    pub kind: String,
    /// What, in one line.
    pub message: String,
}

impl Finding {
    fn new(kind: &str, message: impl Into<String>) -> Finding {
        Finding { kind: kind.to_string(), message: message.into().replace('\n', " | ") }
    }

    /// The finding with numbers and quoted values blanked: findings that differ only in them
    /// are one finding.
    pub fn signature(&self) -> String {
        let mut out = String::with_capacity(self.message.len());
        let mut quoted = false;
        for c in self.message.chars().take(160) {
            match c {
                '\'' => {
                    quoted = !quoted;
                    out.push('\'');
                }
                _ if quoted => {}
                '0'..='9' => {
                    if !out.ends_with('#') {
                        out.push('#');
                    }
                }
                _ => out.push(c),
            }
        }
        format!("{}: {out}", self.kind)
    }
}

/// What an execution found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Refused with a clear error.
    Refused,
    /// Accepted; for runs, the events handled and whether the run was cut at the budget.
    Accepted {
        /// Events handled (0 for parse-only targets).
        events: u64,
        /// Whether the run hit the event budget.
        cut: bool,
    },
    /// A violation.
    Finding(Finding),
}

/// Runs `case`, catching panics.
pub fn execute(case: &Case, limits: &ExecLimits) -> Verdict {
    match catch_unwind(AssertUnwindSafe(|| drive(case, limits))) {
        Ok(Ok(verdict)) => verdict,
        Ok(Err(finding)) => Verdict::Finding(finding),
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic without a message".to_string());
            let location = crate::campaign::last_panic_location();
            Verdict::Finding(Finding::new("panic", format!("{message} (at {location})")))
        }
    }
}

fn drive(case: &Case, limits: &ExecLimits) -> Result<Verdict, Finding> {
    match case.target {
        Target::Trace => trace_target(case),
        Target::Arrivals => arrivals_target(case),
        Target::ConfigJson => {
            let Some((_, bytes)) = case.files.first() else { return Ok(Verdict::Refused) };
            let Ok(text) = std::str::from_utf8(bytes) else { return Ok(Verdict::Refused) };
            match Config::from_json_str(text) {
                Ok(config) => build_and_run(&config, &case.files[1..], limits),
                Err(errors) => check_config_errors(&errors),
            }
        }
        Target::ModelConfig | Target::Scenario => {
            if case.target == Target::ModelConfig
                && let Some((_, bytes)) = case.files.first()
                && let Ok(text) = std::str::from_utf8(bytes)
                && let Ok(model) = model_from_hf_config("fuzz", text)
            {
                check_model(&model.arch)?;
            }
            match Config::from_pairs(case.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
                Ok(config) => build_and_run(&config, &case.files, limits),
                Err(errors) => check_config_errors(&errors),
            }
        }
    }
}

/// A malformed trace's error names a row, unless it is about the file as a whole.
fn located(e: &TraceError) -> Result<(), Finding> {
    let whole_file = ["the file is empty", "has a header but no", "has no arrival times"];
    if e.line.is_none() && !whole_file.iter().any(|m| e.message.contains(m)) {
        return Err(Finding::new("unlocated-error", format!("no row in: {e}")));
    }
    if e.message.trim().is_empty() {
        return Err(Finding::new("unlocated-error", format!("an empty message: {e}")));
    }
    Ok(())
}

fn trace_target(case: &Case) -> Result<Verdict, Finding> {
    let (path, bytes) = &case.files[0];
    let text = match decode_text(bytes.clone()) {
        Ok(text) => text,
        Err(e) if e.row >= 1 && e.byte >= 1 => return Ok(Verdict::Refused),
        Err(e) => return Err(Finding::new("unlocated-error", format!("not UTF-8 at {e}"))),
    };
    let mut last = 0;
    let trace = match parse_trace(path, &text, &mut |done| {
        assert!(done >= last && done <= text.len(), "progress went from {last} to {done} of {}", text.len());
        last = done;
    }) {
        Ok(trace) => trace,
        Err(e) => return located(&e).map(|()| Verdict::Refused),
    };
    for row in &trace.rows {
        let total = u64::from(row.num_prefill_tokens) + u64::from(row.num_decode_tokens);
        if total > u64::from(MAX_REQUEST_TOKENS) || row.line == 0 {
            return Err(Finding::new("invariant", format!("row {} accepted with {total} tokens", row.line)));
        }
        if row.arrived_at.is_some_and(|t| !(t.is_finite() && t >= 0.0)) {
            return Err(Finding::new(
                "invariant",
                format!("row {} arrives at {:?}", row.line, row.arrived_at),
            ));
        }
    }
    let summary = summarize(&trace);
    let figures = [summary.input_tokens.mean, summary.output_tokens.mean, summary.duration_s.unwrap_or(0.0)];
    if figures.iter().any(|x| !x.is_finite() || *x < 0.0) {
        return Err(Finding::new("invariant", format!("trace summary figures {figures:?}")));
    }
    Ok(Verdict::Accepted { events: 0, cut: false })
}

fn arrivals_target(case: &Case) -> Result<Verdict, Finding> {
    let (path, bytes) = &case.files[0];
    let Ok(text) = decode_text(bytes.clone()) else { return Ok(Verdict::Refused) };
    match read_arrival_times(path, &text) {
        Ok(a) if a.instants_ns.len() != a.lines.len() || a.lines.contains(&0) => {
            Err(Finding::new("invariant", "arrival times and their rows do not match"))
        }
        Ok(_) => Ok(Verdict::Accepted { events: 0, cut: false }),
        Err(e) => located(&e).map(|()| Verdict::Refused),
    }
}

/// A model the reader accepted is within the limits the memory planner's arithmetic needs.
fn check_model(m: &llmsim_engine::catalog::ModelArch) -> Result<(), Finding> {
    use llmsim_engine::limits::{MAX_MODEL_DIM, MAX_MODEL_LAYERS};
    if m.num_layers == 0
        || m.num_layers > MAX_MODEL_LAYERS
        || m.embedding_dim > MAX_MODEL_DIM
        || m.head_dim() == 0
    {
        return Err(Finding::new("invariant", format!("model accepted with {m:?}")));
    }
    Ok(())
}

fn check_config_errors(errors: &llmsim_engine::ConfigErrors) -> Result<Verdict, Finding> {
    if errors.0.is_empty() || errors.0.iter().any(|e| e.message.trim().is_empty()) {
        return Err(Finding::new(
            "unlocated-error",
            format!("a configuration error without a message: {errors:?}"),
        ));
    }
    Ok(Verdict::Refused)
}

/// Builds and runs a configuration within the limits, checking every invariant.
fn build_and_run(
    config: &Config,
    files: &[(String, Vec<u8>)],
    limits: &ExecLimits,
) -> Result<Verdict, Finding> {
    let mut inputs = Inputs::new();
    for (path, bytes) in files {
        inputs.add_bytes(path.clone(), bytes.clone());
    }
    let sim_config = match SimConfig::build(config, &inputs) {
        Ok(c) => c,
        Err(errors) => return check_config_errors(&errors),
    };
    if sim_config.memory_estimate.total() > DEFAULT_MEMORY_BUDGET_BYTES {
        return Err(Finding::new(
            "invariant",
            format!("accepted beyond the budget: {}", sim_config.memory_estimate),
        ));
    }
    let mut sim = Simulation::new(&sim_config);
    if simulated_blocks(&sim_config) <= limits.checked_blocks {
        sim = sim.with_invariant_checks();
    }
    // Requests a workload may send: its estimate (for random arrivals over a duration, the
    // upper bound of the count their spread allows), with a little room, never beyond the limit.
    let allowed = sim_config.workload.build.estimated_requests.saturating_add(1000).min(MAX_REQUESTS);
    let mut stalled_since: Option<(u64, f64, u64, u64)> = None;
    let mut cut = false;
    loop {
        let p = sim.run_for_events(1000);
        if p.requests_arrived > allowed {
            return Err(Finding::new(
                "invariant",
                format!(
                    "{} requests arrived, more than the workload's bound of {allowed}",
                    p.requests_arrived
                ),
            ));
        }
        if p.finished {
            break;
        }
        // The clock must move: events at one instant with nothing arriving or ending are a stall.
        match stalled_since {
            Some((events, t, arrived, done))
                if t == p.sim_time_s && arrived == p.requests_arrived && done == p.requests_done =>
            {
                // Every replica and stage may act once at an instant: that is no stall.
                let replicas_stages = u64::from(sim_config.cluster.num_replicas)
                    * u64::from(sim_config.replica.parallel.num_pipeline_stages);
                if p.events - events >= limits.stall_events + 16 * replicas_stages {
                    return Err(Finding::new(
                        "stall",
                        format!("{} events at t = {} s without progress", p.events - events, p.sim_time_s),
                    ));
                }
            }
            _ => stalled_since = Some((p.events, p.sim_time_s, p.requests_arrived, p.requests_done)),
        }
        if p.events >= limits.max_events {
            cut = true;
            break;
        }
    }
    let events = sim.progress().events;
    // A run that ends because nothing is left to do (no horizon, time limit or event budget
    // stopped it) must have ended every request: one left over is a deadlock.
    let ran_dry = !cut && !sim.horizon_reached() && !sim.time_limit_reached() && !sim.stopped_for_overload();
    let report = sim.finish();
    // A run cut at the event budget is reported within an instant (every front end runs to
    // the end): requests completed at that instant, whose end event is still queued, are
    // neither completed nor unfinished yet. Its other invariants hold.
    let s = &report.summary;
    // Completed warm-up requests (closed-loop benchmark clients) are counted apart (INV-1).
    let accounted = s.num_completed + s.num_refused + s.num_unfinished + s.num_warmup_requests;
    if accounted > s.num_requests || (!cut && accounted != s.num_requests) {
        return Err(Finding::new(
            "invariant",
            format!(
                "INV-1: {} requests but {} completed + {} refused + {} unfinished + {} warm-up",
                s.num_requests, s.num_completed, s.num_refused, s.num_unfinished, s.num_warmup_requests
            ),
        ));
    }
    if ran_dry && s.num_unfinished > 0 {
        return Err(Finding::new(
            "stall",
            format!("the run ran out of events with {} requests unfinished", s.num_unfinished),
        ));
    }
    if sim_config.metrics.store_request_metrics
        && let Err(e) = check_report_invariants(&report)
        && !(cut && e.starts_with("INV-1"))
    {
        return Err(Finding::new("invariant", e));
    }
    check_report_bounds(&report, &sim_config).map_err(|e| Finding::new("invariant", e))?;
    if report.summary.num_requests > allowed {
        return Err(Finding::new(
            "invariant",
            format!("{} requests in the report", report.summary.num_requests),
        ));
    }
    Ok(Verdict::Accepted { events, cut })
}

/// KV blocks of every pool of the cluster. The invariant checks walk each replica's pool after
/// every event, so only small clusters are checked; a disaggregated cluster's decode pool
/// counts too (a large decode pool alone made a checked run crawl: a false hang).
fn simulated_blocks(c: &SimConfig) -> u64 {
    let pool = |c: &SimConfig| c.memory.num_blocks.saturating_mul(u64::from(c.cluster.num_replicas));
    pool(c).saturating_add(c.disagg.as_ref().map_or(0, |d| pool(&d.decode)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(pairs: &[(&str, &str)]) -> Case {
        Case {
            target: Target::Scenario,
            pairs: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            files: Vec::new(),
        }
    }

    #[test]
    fn a_valid_run_is_accepted_and_a_bad_flag_refused() {
        let limits = ExecLimits::default();
        let small = scenario(&[("synthetic_request_generator_config_num_requests", "4")]);
        assert!(matches!(execute(&small, &limits), Verdict::Accepted { events: 1.., cut: false }));
        assert_eq!(execute(&scenario(&[("seed", "x")]), &limits), Verdict::Refused);
        let long = scenario(&[("synthetic_request_generator_config_num_requests", "100000")]);
        assert!(matches!(execute(&long, &limits), Verdict::Accepted { cut: true, .. }));
    }

    /// The short campaign's first finding after the serving engines landed: completed warm-up
    /// requests are accounted for apart, and the harness's INV-1 counted them nowhere.
    #[test]
    fn a_closed_loop_with_warm_up_requests_is_accepted() {
        let case = scenario(&[
            ("request_generator_config_type", "closed_loop"),
            ("closed_loop_request_generator_config_num_requests", "3"),
            ("closed_loop_request_generator_config_warmup_requests", "4"),
            ("fixed_request_length_generator_config_decode_tokens", "6"),
            ("serving_engine", "vllm"),
        ]);
        let verdict = execute(&case, &ExecLimits::default());
        assert!(matches!(verdict, Verdict::Accepted { cut: false, .. }), "{verdict:?}");
    }

    #[test]
    fn a_disaggregated_cluster_counts_its_decode_pool_s_blocks() {
        // The short campaign's finding (stop 34): 2 prefill replicas of 100 blocks and a decode
        // pool of 16,777,216 blocks ran with the checks on and crawled.
        let mut config = Config::default();
        for (k, v) in [
            ("disaggregation_config_type", "prefill_decode"),
            ("cluster_config_num_replicas", "2"),
            ("cache_config_num_blocks", "100"),
            ("disaggregation_config_decode_num_replicas", "1"),
            ("disaggregation_config_decode_num_blocks", "16777216"),
        ] {
            config.set(k, v).unwrap();
        }
        let inputs = Inputs::default();
        let c = SimConfig::build(&config, &inputs).unwrap();
        assert_eq!(simulated_blocks(&c), 2 * 100 + 16_777_216);
        assert!(simulated_blocks(&c) > ExecLimits::default().checked_blocks);
    }

    #[test]
    fn a_trace_error_without_a_row_is_a_finding() {
        let e = TraceError::new("t.csv", None, None, "something is wrong");
        assert_eq!(located(&e).unwrap_err().kind, "unlocated-error");
        assert!(located(&TraceError::new("t.csv", None, None, "the file is empty")).is_ok());
        assert!(located(&TraceError::new("t.csv", Some(3), None, "bad")).is_ok());
    }

    #[test]
    fn signatures_ignore_numbers_and_quoted_values() {
        let a = Finding::new("panic", "index 12 out of range for 'x.csv' at 3");
        let b = Finding::new("panic", "index 7 out of range for 'y.csv' at 41");
        assert_eq!(a.signature(), b.signature());
        assert_ne!(a.signature(), Finding::new("invariant", "index 1 out of range").signature());
    }
}
