//! Every replica scheduler and router end to end: each pair runs a small session trace with
//! every invariant checked after every event, and accounts for every request; configuration
//! errors name the flag to fix.

use llmsim_engine::scheduler::global::ROUTERS;
use llmsim_engine::scheduler::replica::REPLICA_SCHEDULERS;
use llmsim_engine::{Config, Inputs, Report, SimConfig};
use llmsim_tests::{config, run_checked};

const TRACE: &str = "policies_trace.csv";

/// A session trace of `n` requests: 5 sessions whose requests share the session's first 8
/// blocks (128 tokens) of prompt; arrivals every 20 ms.
fn session_trace(n: u32) -> String {
    let mut csv = String::from(
        "arrived_at,num_prefill_tokens,num_decode_tokens,session_id,block_size,block_hash_ids\n",
    );
    for i in 0..n {
        let session = u64::from(i % 5);
        let prefill = 130 + (i * 37) % 200;
        let decode = 2 + (i * 13) % 40;
        let blocks = (prefill + decode) / 16;
        let ids: Vec<String> = (0..u64::from(blocks))
            .map(|b| if b < 8 { session * 1000 + b } else { 1_000_000 + u64::from(i) * 1000 + b }.to_string())
            .collect();
        csv +=
            &format!("{:.3},{prefill},{decode},{session},16,\"[{}]\"\n", f64::from(i) * 0.02, ids.join(", "));
    }
    csv
}

fn inputs(n: u32) -> Inputs {
    let mut inputs = Inputs::new();
    inputs.add_text(TRACE, session_trace(n));
    inputs
}

/// A trace replay on `replicas` replicas of `num_blocks` 16-token blocks, prefix caching on.
fn trace_config(scheduler: &str, router: &str, replicas: u32, pp: u32, num_blocks: u32) -> Config {
    let mut c = config(&[
        ("request_generator_config_type", "trace"),
        ("trace_request_generator_config_trace_file", TRACE),
        ("cache_config_enable_prefix_caching", "true"),
        ("replica_scheduler_config_type", scheduler),
        ("global_scheduler_config_type", router),
    ]);
    c.set("cluster_config_num_replicas", &replicas.to_string()).unwrap();
    c.set("replica_config_num_pipeline_stages", &pp.to_string()).unwrap();
    c.set("cache_config_num_blocks", &num_blocks.to_string()).unwrap();
    c
}

fn assert_all_accounted(report: &Report, n: u64, what: &str) {
    let s = &report.summary;
    assert_eq!(s.num_requests, n, "{what}: arrivals");
    assert_eq!(s.num_unfinished, 0, "{what}: unfinished requests");
    assert_eq!(s.num_completed + s.num_refused, n, "{what}: lost requests");
    assert_eq!(s.num_refused, 0, "{what}: refused {:?}", report.request_errors.first());
    for r in &report.requests {
        assert!(r.arrived_at_ns <= r.scheduled_at_ns, "{what}: request {} scheduled before arrival", r.id);
        assert!(
            r.scheduled_at_ns <= r.prefill_completed_at_ns,
            "{what}: request {} first token before schedule",
            r.id
        );
        assert!(
            r.prefill_completed_at_ns <= r.completed_at_ns,
            "{what}: request {} done before first token",
            r.id
        );
    }
}

#[test]
fn every_scheduler_with_every_router_accounts_for_every_request() {
    let inputs = inputs(24);
    for pp in [1, 2] {
        for scheduler in REPLICA_SCHEDULERS {
            for router in ROUTERS {
                // 40 blocks (640 tokens) per replica: tight enough to preempt.
                let c = trace_config(scheduler.name, router.name, 2, pp, 40);
                let report = run_checked(&c, &inputs);
                assert_all_accounted(
                    &report,
                    24,
                    &format!("{} × {} with PP={pp}", scheduler.name, router.name),
                );
            }
        }
    }
}

#[test]
fn tight_memory_preempts_where_the_policy_allows_it_and_never_where_it_reserves() {
    let inputs = inputs(24);
    for scheduler in REPLICA_SCHEDULERS {
        let report = run_checked(&trace_config(scheduler.name, "round_robin", 1, 1, 40), &inputs);
        assert_all_accounted(&report, 24, scheduler.name);
        let preemptions = report.summary.num_preemptions;
        match scheduler.name {
            // Worst-case reservations (and LightLLM's peak estimate) avoid preemption.
            "orca" | "faster_transformer" | "lightllm" => assert_eq!(preemptions, 0, "{}", scheduler.name),
            _ => assert!(preemptions > 0, "{} never preempted with 640 KV tokens", scheduler.name),
        }
    }
}

#[test]
fn every_policy_is_deterministic() {
    let inputs = inputs(16);
    for (scheduler, router) in [
        ("sarathi", "ranked_sticky_lop_uncached"),
        ("lightllm", "lop"),
        ("vllm_v1", "tolerant_sticky_lop_uncached"),
        ("vllm", "sticky_lor"),
    ] {
        let c = trace_config(scheduler, router, 3, 1, 40);
        let a = run_checked(&c, &inputs);
        let b = run_checked(&c, &inputs);
        assert_eq!(a.summary_json(), b.summary_json(), "{scheduler} × {router}");
    }
}

#[test]
fn sticky_prefix_aware_routing_hits_the_cache_more_than_round_robin() {
    let inputs = inputs(32);
    let hit_rate = |router: &str| {
        run_checked(&trace_config("vllm_v1", router, 4, 1, 400), &inputs).summary.prefix_cache_hit_rate
    };
    let round_robin = hit_rate("round_robin");
    for router in [
        "lop_uncached",
        "sticky_round_robin",
        "sticky_lor",
        "ranked_sticky_lop_uncached",
        "tolerant_sticky_lop_uncached",
    ] {
        assert!(
            hit_rate(router) > round_robin,
            "{router}: {} vs round_robin {round_robin}",
            hit_rate(router)
        );
    }
}

#[test]
fn edf_queues_run_with_a_prefill_slo() {
    let inputs = inputs(16);
    for scheduler in REPLICA_SCHEDULERS {
        let mut c = trace_config(scheduler.name, "lor", 2, 1, 40);
        c.set("request_queue_config_type", "edf").unwrap();
        c.set("slo_config_prefill_e2e_time_normalized", "0.001").unwrap();
        assert_all_accounted(&run_checked(&c, &inputs), 16, scheduler.name);
    }
}

#[test]
fn a_request_that_can_never_fit_is_refused_with_the_reason() {
    let mut inputs = Inputs::new();
    inputs.add_text(
        TRACE,
        "arrived_at,num_prefill_tokens,num_decode_tokens\n0,100,10\n0.1,2000,10\n0.2,50,5\n",
    );
    for scheduler in REPLICA_SCHEDULERS {
        // 40 blocks of 16 = 640 tokens: the 2,010-token request can never fit.
        let mut c = trace_config(scheduler.name, "round_robin", 1, 1, 40);
        c.set("cache_config_enable_prefix_caching", "false").unwrap();
        let report = run_checked(&c, &inputs);
        assert_eq!((report.summary.num_completed, report.summary.num_refused), (2, 1), "{}", scheduler.name);
        let error = &report.request_errors[0];
        assert_eq!(error.id, 1);
        assert!(error.reason.contains("KV blocks"), "{}: {}", scheduler.name, error.reason);
    }
}

fn build_errors(c: &Config, inputs: &Inputs) -> Vec<(String, String)> {
    match SimConfig::build(c, inputs) {
        Ok(_) => Vec::new(),
        Err(e) => e.0.into_iter().map(|e| (e.flag, e.message)).collect(),
    }
}

#[test]
fn session_routers_refuse_a_workload_without_sessions() {
    for router in ROUTERS.iter().filter(|r| r.needs_sessions) {
        let c = config(&[
            ("global_scheduler_config_type", router.name),
            ("synthetic_request_generator_config_num_requests", "4"),
        ]);
        let errors = build_errors(&c, &Inputs::new());
        assert!(
            errors
                .iter()
                .any(|(flag, message)| flag == "global_scheduler_config_type"
                    && message.contains("session_id")),
            "{}: {errors:?}",
            router.name
        );
    }
}

#[test]
fn a_batch_size_cap_below_the_pipeline_depth_is_refused_naming_the_flag() {
    for scheduler in REPLICA_SCHEDULERS {
        let flag = format!("{}_scheduler_config_batch_size_cap", scheduler.name);
        let c = config(&[
            ("replica_scheduler_config_type", scheduler.name),
            ("replica_config_num_pipeline_stages", "4"),
            (&flag, "2"),
        ]);
        let errors = build_errors(&c, &Inputs::new());
        assert!(errors.iter().any(|(f, _)| *f == flag), "{}: {errors:?}", scheduler.name);
    }
}

#[test]
fn legacy_schedulers_warn_that_prefix_caching_is_ignored() {
    let inputs = inputs(4);
    for scheduler in REPLICA_SCHEDULERS {
        let built =
            SimConfig::build(&trace_config(scheduler.name, "lop", 1, 1, 400), &inputs).expect("valid");
        let warned = built.warnings.iter().any(|w| w.contains("prefix_caching"));
        assert_eq!(warned, !scheduler.prefix_caching, "{}", scheduler.name);
    }
}

#[test]
fn every_policy_states_its_rule_and_uses_vidur_flag_names() {
    for s in REPLICA_SCHEDULERS {
        assert!(!s.summary.is_empty(), "{}", s.name);
        for f in s.flags {
            assert!(
                f.name.starts_with(&format!("{}_scheduler_config_", s.name)),
                "{} flag {}",
                s.name,
                f.name
            );
        }
    }
    for r in ROUTERS {
        assert!(!r.summary.is_empty(), "{}", r.name);
        let prefix = match r.name {
            "lor" => "l_o_r".to_string(),
            "lop" => "l_o_p".to_string(),
            name if name.starts_with("lop_") => format!("l_o_p_{}", &name[4..]),
            name => name.to_string(),
        };
        for f in r.flags {
            assert!(
                f.name.starts_with(&format!("{prefix}_global_scheduler_config_")),
                "{} flag {}",
                r.name,
                f.name
            );
        }
        assert!(
            r.flags.iter().any(|f| Some(f.name) == r.seed_flag && f.default == "67"),
            "{} has Vidur's seed 67",
            r.name
        );
    }
}
