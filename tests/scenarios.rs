//! Golden scenarios. Each directory under `tests/scenarios/` holds a `config.json` (flat flags;
//! file paths relative to the directory). Every scenario runs with all engine invariants
//! checked after every event, then its report is checked (INV-1 conservation, INV-5 causality,
//! INV-4 KV at the end), re-run in chunks of 1 and 1000 events (INV-6 determinism, and
//! `request_metrics.csv` streamed during those runs equals the one built at the end), and
//! compared byte for byte with the committed `expected_summary.json` and
//! `expected_request_metrics.csv`. `UPDATE_GOLDEN=1 cargo test -p llmsim-tests
//! scenarios::` rewrites the goldens after an intended change.

use std::path::{Path, PathBuf};

use llmsim_engine::report::RequestRecord;
use llmsim_engine::{Config, Inputs, Report, SimConfig, Simulation};
use llmsim_tests::{check_report_invariants, repo_root, run_checked};

fn scenario_dirs() -> Vec<PathBuf> {
    let root = repo_root().join("tests/scenarios");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/scenarios exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("config.json").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn load(dir: &Path) -> (Config, Inputs) {
    let text = std::fs::read_to_string(dir.join("config.json")).expect("config.json readable");
    let config = Config::from_json_str(&text).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut inputs = Inputs::new();
    for (_, path) in SimConfig::required_files(&config) {
        let text = std::fs::read_to_string(dir.join(&path))
            .unwrap_or_else(|e| panic!("{}: {path}: {e}", dir.display()));
        inputs.add_text(path, text);
    }
    (config, inputs)
}

fn run_in_chunks(config: &Config, inputs: &Inputs, chunk: u64) -> Report {
    let sim_config = SimConfig::build(config, inputs).expect("valid");
    let mut sim = Simulation::new(&sim_config);
    while !sim.is_finished() {
        sim.run_for_events(chunk);
    }
    sim.finish()
}

/// `request_metrics.csv` as streamed during a run in chunks of `chunk` events.
fn streamed_request_metrics(config: &Config, inputs: &Inputs, chunk: u64) -> String {
    let sim_config = SimConfig::build(config, inputs).expect("valid");
    let mut sim = Simulation::new(&sim_config).stream_request_records();
    let mut records = Vec::new();
    let mut csv = RequestRecord::csv_header(sim_config.disagg.is_some()).into_bytes();
    loop {
        let finished = sim.run_for_events(chunk).finished;
        sim.drain_request_records(&mut records);
        for r in records.drain(..) {
            if sim_config.disagg.is_some() {
                r.write_disaggregated_csv_row(sim.take_kv_transfer(r.id).as_ref(), &mut csv);
            } else {
                r.write_csv_row(&mut csv);
            }
        }
        if finished {
            break;
        }
    }
    assert!(sim.finish().requests.is_empty(), "streamed records are not kept");
    String::from_utf8(csv).expect("ASCII rows")
}

/// The summary a capacity search reads (`Simulation::finish_summary`) is the full report's,
/// with and without the overload stop the search uses; `Some(what differs)` otherwise.
fn summary_alone_differs(config: &Config, inputs: &Inputs) -> Option<String> {
    let sim_config = SimConfig::build(config, inputs).expect("valid");
    for stop in [false, true] {
        let start = || {
            let sim = Simulation::new(&sim_config);
            if stop { sim.stop_when_overloaded() } else { sim }
        };
        let mut full = start();
        full.run();
        let mut alone = start();
        alone.run();
        let (full, alone) = (full.finish().summary, alone.finish_summary());
        let json = |s: &llmsim_engine::Summary| serde_json::to_string(s).expect("serialises");
        if json(&full) != json(&alone) {
            return Some(format!(
                "finish_summary (overload stop {stop}) differs from finish's summary:\n  {}\n  {}",
                json(&full),
                json(&alone)
            ));
        }
    }
    None
}

fn compare_golden(dir: &Path, name: &str, actual: &str, failures: &mut Vec<String>) {
    let path = dir.join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("golden writable");
        return;
    }
    match std::fs::read_to_string(&path) {
        Ok(expected) if expected == actual => {}
        Ok(expected) => {
            let line = expected.lines().zip(actual.lines()).position(|(a, b)| a != b).unwrap_or(0);
            failures.push(format!(
                "{}: {name} differs from the golden at line {}:\n  expected: {}\n  actual:   {}\n  (UPDATE_GOLDEN=1 rewrites goldens after an intended change)",
                dir.display(),
                line + 1,
                expected.lines().nth(line).unwrap_or(""),
                actual.lines().nth(line).unwrap_or("")
            ));
        }
        Err(_) => failures
            .push(format!("{}: {name} is missing (run with UPDATE_GOLDEN=1 to create it)", dir.display())),
    }
}

#[test]
fn golden_scenarios() {
    let dirs = scenario_dirs();
    assert!(dirs.len() >= 8, "expected the committed scenarios, found {}", dirs.len());
    let mut failures = Vec::new();
    for dir in &dirs {
        let (config, inputs) = load(dir);
        let report = run_checked(&config, &inputs);
        if let Err(e) = check_report_invariants(&report) {
            failures.push(format!("{}: {e}", dir.display()));
        }
        let summary = report.summary_json();
        let metrics = report.request_metrics_csv();
        for chunk in [1, 1000] {
            let again = run_in_chunks(&config, &inputs, chunk);
            if again.summary_json() != summary || again.request_metrics_csv() != metrics {
                failures.push(format!(
                    "{}: running in chunks of {chunk} events changed the report (INV-6)",
                    dir.display()
                ));
            }
            if streamed_request_metrics(&config, &inputs, chunk) != metrics {
                failures.push(format!(
                    "{}: request_metrics.csv streamed in chunks of {chunk} events differs",
                    dir.display()
                ));
            }
        }
        if let Some(e) = summary_alone_differs(&config, &inputs) {
            failures.push(format!("{}: {e}", dir.display()));
        }
        let mut streamed_trace = Vec::new();
        report.write_chrome_trace(&mut streamed_trace).expect("writes to memory");
        if streamed_trace != report.chrome_trace_json().as_bytes() {
            failures
                .push(format!("{}: chrome_trace.json streamed differs from the rendered one", dir.display()));
        }
        let s = &report.summary;
        eprintln!(
            "{:32} {:4} requests: {:4} completed {:3} refused {:3} unfinished, {:3} preemptions, TTFT p50 {:.4} s, hit rate {:.2}",
            dir.file_name().unwrap().to_string_lossy(),
            s.num_requests,
            s.num_completed,
            s.num_refused,
            s.num_unfinished,
            s.num_preemptions,
            s.ttft_s.p50,
            s.prefix_cache_hit_rate
        );
        compare_golden(dir, "expected_summary.json", &summary, &mut failures);
        compare_golden(dir, "expected_request_metrics.csv", &metrics, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every replica scheduler runs every golden scenario with all invariants checked: the engine
/// reuses an ended request's memory, so a scheduler that reads ended requests without saying so
/// (`ReplicaScheduler::reads_ended_requests`) fails here.
#[test]
fn golden_scenarios_run_under_every_replica_scheduler() {
    use llmsim_engine::scheduler::replica::REPLICA_SCHEDULERS;
    let mut ran = 0;
    for dir in &scenario_dirs() {
        let (mut config, inputs) = load(dir);
        for scheduler in REPLICA_SCHEDULERS {
            config.set("replica_scheduler_config_type", scheduler.name).expect("a registered name");
            // Some scenarios' settings do not suit every scheduler (caps, pipeline stages).
            let Ok(sim_config) = SimConfig::build(&config, &inputs) else { continue };
            let report = Simulation::new(&sim_config).with_invariant_checks().run_to_report();
            check_report_invariants(&report)
                .unwrap_or_else(|e| panic!("{} with {}: {e}", dir.display(), scheduler.name));
            ran += 1;
        }
    }
    assert!(ran >= scenario_dirs().len() * 4, "only {ran} scenario × scheduler runs were valid");
}

/// The scenarios exercise what they are named for; a golden that silently stopped preempting
/// or refusing would no longer test anything.
#[test]
fn scenarios_cover_their_features() {
    let run = |name: &str| {
        let (config, inputs) = load(&repo_root().join("tests/scenarios").join(name));
        SimConfig::build(&config, &inputs).map(|c| Simulation::new(&c).run_to_report()).expect("valid")
    };
    assert!(run("preemption_static_random").summary.num_preemptions > 0);
    let limited = run("time_limit_and_refusals").summary;
    assert!(limited.num_refused > 0 && limited.num_unfinished > 0 && limited.time_limit_reached);
    assert!(run("conversation_prefix_lop").summary.prefix_cache_hit_rate > 0.2);
    // The same tight-KV workload with prefix caching on but no block hashes: only a preempted
    // request's own surviving blocks can be hit, and they are, so restarts recompute less.
    let plain = run("preemption_static_random").summary;
    let self_hit = run("preemption_self_hit").summary;
    assert!(self_hit.num_preemptions > 0 && self_hit.prefix_cache_hit_rate > 0.0);
    assert_eq!(plain.prefix_cache_hit_rate, 0.0);
    assert!(self_hit.ttft_s.mean < plain.ttft_s.mean, "{} vs {}", self_hit.ttft_s.mean, plain.ttft_s.mean);
    assert!(run("conversation_sticky_block32").summary.prefix_cache_hit_rate > 0.2);
}

/// An MoE model with EP = DP = 1 is the TP-only model (`docs/policies.md`, "MoE as deployed"):
/// the Mixtral golden pins its output, and spelling both degrees out as 1 changes nothing.
#[test]
fn mixtral_with_ep_and_dp_of_one_is_the_tp_only_golden() {
    let (mut config, inputs) = load(&repo_root().join("tests/scenarios/moe_mixtral_tp2"));
    let default = Simulation::new(&SimConfig::build(&config, &inputs).unwrap()).run_to_report();
    config.set("replica_config_expert_parallel_size", "1").unwrap();
    config.set("replica_config_attention_dp_size", "1").unwrap();
    let spelled = Simulation::new(&SimConfig::build(&config, &inputs).unwrap()).run_to_report();
    assert_eq!(spelled.summary_json(), default.summary_json());
    assert_eq!(spelled.request_metrics_csv(), default.request_metrics_csv());
    assert_eq!(default.summary.num_completed, 200);
}

#[test]
fn chrome_trace_is_capped_with_a_warning() {
    let (mut config, inputs) = load(&repo_root().join("tests/scenarios/synthetic_fixed_poisson"));
    config.set("metrics_config_chrome_trace_max_slices", "10").unwrap();
    let report = Simulation::new(&SimConfig::build(&config, &inputs).unwrap()).run_to_report();
    assert_eq!(report.chrome_trace.len(), 10);
    let warning = report
        .warnings
        .iter()
        .find(|w| w.contains("chrome_trace.json"))
        .expect("a warning says the trace is cut");
    assert!(warning.contains(&format!("of {}", report.summary.num_batches)), "{warning}");
}

#[test]
fn a_time_limit_before_the_last_arrival_is_reported() {
    let (mut config, inputs) = load(&repo_root().join("tests/scenarios/synthetic_fixed_poisson"));
    let full = Simulation::new(&SimConfig::build(&config, &inputs).unwrap()).run_to_report();
    assert!(!full.warnings.iter().any(|w| w.contains("last arrival")), "{:?}", full.warnings);
    // Stop early, before the last arrival: the report says requests were left out, and the ones
    // that did arrive are all accounted for.
    let early = full.summary.simulated_time_s / 4.0;
    config.set("time_limit", &format!("{early}")).unwrap();
    let cut = Simulation::new(&SimConfig::build(&config, &inputs).unwrap()).run_to_report();
    assert!(cut.summary.time_limit_reached && cut.summary.num_requests < full.summary.num_requests);
    assert!(
        cut.warnings.iter().any(|w| w.contains("before the workload's last arrival")),
        "{:?}",
        cut.warnings
    );
    check_report_invariants(&cut).unwrap();
}
