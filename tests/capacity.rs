//! Capacity planning on the real engine: the overload verdict against a capacity measured
//! without it, the cost and SLO sections of a report, and the search's answers (replicas scale
//! the highest QPS, results do not depend on the order points finish in).

use llmsim_engine::search::{JobOutcome, SearchPlan, SearchSpec, run_job};
use llmsim_engine::{Inputs, Report, SimConfig, Simulation, catalog};
use llmsim_tests::{check_report_invariants, config};

/// A small, fast cluster: Llama-3.1-8B on one H100, fixed lengths.
const CLUSTER: &[(&str, &str)] = &[
    ("replica_config_model_name", "meta-llama/Llama-3.1-8B"),
    ("replica_config_device", "h100"),
    ("replica_config_network_device", "h100_dgx"),
    ("length_generator_config_type", "fixed"),
    ("fixed_request_length_generator_config_prefill_tokens", "1024"),
    ("fixed_request_length_generator_config_decode_tokens", "128"),
    ("metrics_config_enable_chrome_trace", "false"),
];

fn run(extra: &[(&str, &str)], stop_on_overload: bool) -> Report {
    let pairs: Vec<(&str, &str)> = CLUSTER.iter().chain(extra).copied().collect();
    let sim_config = SimConfig::build(&config(&pairs), &Inputs::new()).unwrap();
    let mut sim = Simulation::new(&sim_config);
    if stop_on_overload {
        sim = sim.stop_when_overloaded();
    }
    let report = sim.run_to_report();
    check_report_invariants(&report).unwrap();
    report
}

/// The cluster's capacity, measured without the detector: every request arrives at once, so
/// the replica runs flat out; completions per second of the busy period.
fn saturated_capacity() -> f64 {
    let report = run(
        &[
            ("interval_generator_config_type", "static"),
            ("synthetic_request_generator_config_num_requests", "1000"),
        ],
        false,
    );
    assert!(!report.summary.overload.overloaded, "arrivals at one instant carry no rate to judge");
    report.summary.throughput.requests_per_s
}

#[test]
fn a_run_at_twice_capacity_is_overloaded_and_one_at_half_is_not() {
    let capacity = saturated_capacity();
    let at = |factor: f64, stop: bool| {
        let qps = (capacity * factor).to_string();
        run(
            &[
                ("poisson_request_interval_generator_config_qps", qps.as_str()),
                ("synthetic_request_generator_config_num_requests", "2000"),
            ],
            stop,
        )
    };
    let half = at(0.5, false);
    assert!(!half.summary.overload.overloaded, "{:?}", half.summary.overload);
    assert!(!half.warnings.iter().any(|w| w.starts_with("overloaded")));

    let double = at(2.0, false);
    let o = &double.summary.overload;
    assert!(o.overloaded && !o.stopped_early, "{o:?}");
    let (offered, admitted) = (o.offered_per_s.unwrap(), o.admitted_per_s.unwrap());
    assert!(admitted < 0.7 * offered, "admitted {admitted} of {offered} requests/s");
    assert!(o.queue_growth_per_s.unwrap() > 0.0 && o.scheduling_delay_trend_s.unwrap() > 1.0, "{o:?}");
    assert!(double.warnings.iter().any(|w| w.starts_with("overloaded")), "{:?}", double.warnings);

    // Stopped at the verdict: the same verdict at the same arrival, for a fraction of the work.
    let stopped = at(2.0, true);
    let s = &stopped.summary.overload;
    assert!(s.overloaded && s.stopped_early);
    assert_eq!(s.detected_at_request, o.detected_at_request);
    assert_eq!(s.offered_per_s, o.offered_per_s);
    assert!(
        stopped.summary.num_requests < 2000 && stopped.summary.num_events * 3 < double.summary.num_events
    );
    assert!(stopped.request_errors.iter().any(|e| e.reason.contains("stopped for overload")));
}

#[test]
fn every_report_prices_its_gpus_and_judges_its_objectives() {
    let report = run(
        &[
            ("cluster_config_num_replicas", "2"),
            ("replica_config_tensor_parallel_size", "2"),
            ("synthetic_request_generator_config_num_requests", "200"),
            ("poisson_request_interval_generator_config_qps", "2"),
            ("slo_config_ttft_max_s", "10"),
            ("slo_config_tpot_max_s", "0.000001"),
            ("slo_config_tpot_quantile", "0.5"),
        ],
        false,
    );
    let s = &report.summary;
    let price = catalog::find_price("h100").unwrap().usd_per_gpu_hour;
    assert_eq!(s.cost.num_gpus, 4);
    assert_eq!(s.cost.usd_per_hour, Some(4.0 * price));
    let tokens_per_s = s.throughput.output_tokens_per_s;
    let per_million = s.cost.usd_per_million_output_tokens.unwrap();
    assert!((per_million - 4.0 * price / 3600.0 / tokens_per_s * 1e6).abs() < 1e-9 * per_million);
    let slo = s.slo.as_ref().unwrap();
    assert_eq!((slo.targets[0].metric.as_str(), slo.targets[1].metric.as_str()), ("ttft", "tpot"));
    assert!(slo.targets[0].met && !slo.targets[1].met);
    assert_eq!(slo.combine, "and");
    assert_eq!(slo.attainment, 0.0, "no request has a TPOT of a microsecond");
    assert_eq!(slo.required_attainment, Some(0.9), "several targets need their largest quantile");
    assert!(!slo.met && slo.goodput.requests_per_s == 0.0);
    let json: serde_json::Value = serde_json::from_str(&report.summary_json()).unwrap();
    assert_eq!(json["slo"]["targets"][1]["met"], false);
    assert!(json["cost"]["price_source"].as_str().unwrap().contains("coreweave.com"), "{}", json["cost"]);

    // A price given on the command line wins; a custom device has none unless given.
    let flagged = run(
        &[("cost_config_usd_per_gpu_hour", "1.5"), ("synthetic_request_generator_config_num_requests", "10")],
        false,
    );
    assert_eq!(flagged.summary.cost.usd_per_hour, Some(1.5));
    assert!(flagged.summary.slo.is_none(), "no objective, no SLO section");
}

fn spec(json: &str) -> SearchSpec {
    SearchSpec::from_json_str(json).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `plan` to the end with `in_flight` jobs at a time, finishing the newest first when
/// `reverse`, else the oldest.
fn drive(plan: &mut SearchPlan, in_flight: usize, reverse: bool) {
    let inputs = Inputs::new();
    let mut pending = Vec::new();
    loop {
        pending.extend(plan.next_jobs(in_flight - pending.len()));
        if pending.is_empty() {
            break;
        }
        let job = if reverse { pending.pop().unwrap() } else { pending.remove(0) };
        let outcome = run_job(&job, &inputs, &mut |_| false).unwrap();
        assert!(matches!(outcome, JobOutcome::Ran(_)), "{outcome:?}");
        plan.on_result(job.id, outcome).unwrap();
    }
    assert!(plan.is_done());
}

const BASE: &str = r#""base": {"replica_config_model_name": "meta-llama/Llama-3.1-8B", "replica_config_device": "h100",
    "replica_config_network_device": "h100_dgx", "length_generator_config_type": "fixed",
    "fixed_request_length_generator_config_prefill_tokens": 1024, "fixed_request_length_generator_config_decode_tokens": 128}"#;

#[test]
fn two_replicas_sustain_about_twice_the_qps_of_one() {
    let mut plan = SearchPlan::new(spec(&format!(
        r#"{{{BASE}, "space": {{"cluster_config_num_replicas": [1, 2]}},
            "slos": [{{"metric": "ttft", "quantile": 0.9, "max_s": 2.0}}],
            "goal": "max_qps", "qps": 4, "qps_granularity": 0.04, "num_requests": 800}}"#
    )));
    drive(&mut plan, 2, false);
    let max_qps: Vec<f64> = plan.results().iter().map(|r| r.chosen.as_ref().unwrap().qps).collect();
    let ratio = max_qps[1] / max_qps[0];
    assert!((1.7..=2.3).contains(&ratio), "max QPS {max_qps:?}, ratio {ratio}");
    for r in plan.results() {
        let chosen = r.chosen.as_ref().unwrap();
        assert!(chosen.outcome.passed);
        let above =
            r.points.iter().filter(|p| p.qps > chosen.qps).map(|p| p.qps).fold(f64::INFINITY, f64::min);
        assert!(above - chosen.qps <= 0.04 * above, "bisected to the granularity: {} vs {above}", chosen.qps);
        assert!(r.points.iter().filter(|p| p.qps > chosen.qps).all(|p| !p.outcome.passed));
    }
}

#[test]
fn a_real_search_gives_the_same_answer_whatever_order_its_points_finish_in() {
    let text = format!(
        r#"{{{BASE}, "space": {{"replica_config_tensor_parallel_size": [1, 2], "vllm_v1_scheduler_config_batch_size_cap": [32, 256]}},
            "slos": [{{"metric": "ttft", "quantile": 0.9, "max_s": 1.0}}, {{"metric": "tpot", "quantile": 0.9, "max_s": 0.02}}],
            "goal": "min_replicas", "qps": 60, "num_requests": 600}}"#
    );
    let mut serial = SearchPlan::new(spec(&text));
    drive(&mut serial, 1, false);
    let mut shuffled = SearchPlan::new(spec(&text));
    drive(&mut shuffled, 3, true);
    assert_eq!(serial.results(), shuffled.results());
    assert_eq!(llmsim_engine::search::search_csv(&serial), llmsim_engine::search::search_csv(&shuffled));
    // Each answer is the fewest replicas: one fewer failed, and at least one needs several.
    let mut replicas = Vec::new();
    for r in serial.results() {
        let n = r.chosen.as_ref().and_then(|p| p.num_replicas).unwrap_or_else(|| panic!("{r:?}"));
        if n > 1 {
            assert!(r.points.iter().any(|p| p.num_replicas == Some(n - 1) && !p.outcome.passed), "{r:?}");
        }
        replicas.push(n);
    }
    assert!(replicas.iter().any(|n| *n > 1), "{replicas:?}");
}
