//! Hand-computed routing decisions of each router on tiny traces: the replica every request is
//! sent to is read back from the report.

use llmsim_engine::Inputs;
use llmsim_tests::{check_report_invariants, config, run_checked};

/// Runs `trace` (Vidur CSV text) on `replicas` replicas with `router`; returns each request's
/// replica, by request id.
fn route(router: &str, replicas: u32, trace: &str) -> Vec<u32> {
    let mut inputs = Inputs::new();
    inputs.add_text("t.csv", trace);
    let replicas = replicas.to_string();
    let c = config(&[
        ("cluster_config_num_replicas", &replicas),
        ("replica_config_model_name", "meta-llama/Meta-Llama-3-8B"),
        ("replica_config_device", "h100"),
        ("replica_config_network_device", "h100_dgx"),
        ("cache_config_num_blocks", "2000"),
        ("cache_config_enable_prefix_caching", "true"),
        ("request_generator_config_type", "trace"),
        ("trace_request_generator_config_trace_file", "t.csv"),
        ("global_scheduler_config_type", router),
    ]);
    let report = run_checked(&c, &inputs);
    check_report_invariants(&report).unwrap();
    assert_eq!(report.summary.num_completed, report.summary.num_requests);
    report.requests.iter().map(|r| r.replica).collect()
}

#[test]
fn round_robin_cycles_through_replicas() {
    let trace =
        "arrived_at,num_prefill_tokens,num_decode_tokens\n0,10,2\n0.1,10,2\n0.2,10,2\n0.3,10,2\n0.4,10,2\n";
    assert_eq!(route("round_robin", 3, trace), [0, 1, 2, 0, 1]);
}

#[test]
fn lor_sends_each_request_to_the_replica_with_fewest_outstanding() {
    // Long requests stay outstanding: after a tie-break for the first, each next request goes
    // to the other replica until both hold two.
    let trace = "arrived_at,num_prefill_tokens,num_decode_tokens\n0,100,500\n0.01,100,500\n0.02,100,500\n0.03,100,500\n";
    let r = route("lor", 2, trace);
    assert_ne!(r[0], r[1]);
    assert_ne!(r[2], r[3]);
    assert_eq!(r.iter().filter(|x| **x == 0).count(), 2);
}

#[test]
fn lor_reuses_a_replica_once_its_requests_finished() {
    // The first request finishes (1 decode token, tiny prompt) long before the second arrives,
    // so both replicas are idle again: the second goes by tie-break, but the third arrives
    // while the second is outstanding and must go to the other replica.
    let trace = "arrived_at,num_prefill_tokens,num_decode_tokens\n0,10,1\n5,100,500\n5.01,100,500\n";
    let r = route("lor", 2, trace);
    assert_ne!(r[1], r[2]);
}

#[test]
fn lop_balances_prompt_tokens_awaiting_prefill() {
    // All four arrive at once and are routed before any prefill runs.
    // R0 (1000) → tie-break; R1 (100) → the other; R2 (100) → the 100-token one (100 < 1000);
    // R3 (2000) → that one again (200 < 1000).
    let trace = "arrived_at,num_prefill_tokens,num_decode_tokens\n0,1000,4\n0,100,4\n0,100,4\n0,2000,4\n";
    let r = route("lop", 2, trace);
    assert_ne!(r[0], r[1]);
    assert_eq!(r[1], r[2]);
    assert_eq!(r[2], r[3]);
}

#[test]
fn sticky_keeps_sessions_together_and_places_new_ones_by_lop() {
    // Session 7 starts with a big prompt; session 9's first request goes to the other replica
    // (LOP); every later request follows its session's replica.
    let trace = "arrived_at,num_prefill_tokens,num_decode_tokens,session_id\n\
                 0,3000,4,7\n0,100,4,9\n0.5,100,4,7\n0.6,100,4,9\n0.7,100,4,7\n2.0,100,4,9\n";
    let r = route("sticky", 2, trace);
    assert_ne!(r[0], r[1]);
    assert_eq!([r[2], r[4]], [r[0], r[0]]);
    assert_eq!([r[3], r[5]], [r[1], r[1]]);
}

#[test]
fn random_spreads_requests_over_all_replicas() {
    let mut trace = String::from("arrived_at,num_prefill_tokens,num_decode_tokens\n");
    for i in 0..300 {
        trace.push_str(&format!("{},16,1\n", f64::from(i) * 0.01));
    }
    let r = route("random", 3, &trace);
    for replica in 0..3 {
        let n = r.iter().filter(|x| **x == replica).count();
        assert!((70..=130).contains(&n), "replica {replica} got {n} of 300");
    }
}

#[test]
fn sticky_without_sessions_is_refused_with_a_hint() {
    let mut inputs = Inputs::new();
    inputs.add_text("t.csv", "arrived_at,num_prefill_tokens,num_decode_tokens\n0,10,2\n");
    let c = config(&[
        ("request_generator_config_type", "trace"),
        ("trace_request_generator_config_trace_file", "t.csv"),
        ("global_scheduler_config_type", "sticky"),
    ]);
    let e = llmsim_engine::SimConfig::build(&c, &inputs).unwrap_err();
    let e =
        e.0.iter().find(|e| e.flag == "global_scheduler_config_type").expect("error names the router flag");
    assert!(e.message.contains("session"), "{e}");
}
