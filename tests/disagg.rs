//! Disaggregated prefill and decode, hand-computed: one request's TTFT and E2E through
//! prefill, KV transfer and decode on the predictor's own stage times; transfer time against
//! context length and link; transfers queued by a decode pool without KV room; determinism.

use llmsim_engine::exec::{BatchItem, StagePosition};
use llmsim_engine::{Config, Inputs, SimConfig, Simulation};
use llmsim_tests::{check_report_invariants, config, run_checked};

/// Llama-3-8B (32 layers, 8 KV heads × 128, bf16): 131,072 KV bytes per token on one GPU.
const KV_BYTES_PER_TOKEN: u64 = 32 * 8 * 128 * 2 * 2;

fn trace(rows: &[(f64, u32, u32)]) -> Inputs {
    let mut text = String::from("arrived_at,num_prefill_tokens,num_decode_tokens\n");
    for (at, p, d) in rows {
        text.push_str(&format!("{at},{p},{d}\n"));
    }
    let mut inputs = Inputs::new();
    inputs.add_text("t.csv", text.as_str());
    inputs
}

/// One prefill and one decode replica of Llama-3-8B on H100s, plus `extra` flags.
fn disagg_config(extra: &[(&str, &str)]) -> Config {
    let mut pairs = vec![
        ("replica_config_model_name", "meta-llama/Meta-Llama-3-8B"),
        ("replica_config_device", "h100"),
        ("replica_config_network_device", "h100_dgx"),
        ("cache_config_num_blocks", "2000"),
        ("vllm_v1_scheduler_config_chunk_size", "4096"),
        ("request_generator_config_type", "trace"),
        ("trace_request_generator_config_trace_file", "t.csv"),
        ("disaggregation_config_type", "prefill_decode"),
    ];
    pairs.extend_from_slice(extra);
    config(&pairs)
}

fn stage_ns(sim: &SimConfig, processed: u32, tokens: u32, is_prefill: bool) -> u64 {
    let item = BatchItem {
        num_processed_tokens: processed,
        num_tokens: tokens,
        is_prefill,
        dp_rank: BatchItem::NO_RANK,
    };
    sim.predictor.build.predict(&[item], StagePosition { stage: 0, num_stages: 1 }).total_ns()
}

#[test]
fn one_request_ttft_and_e2e_add_up_through_prefill_transfer_and_decode() {
    let (p, d) = (1000u32, 4u32);
    let inputs = trace(&[(0.0, p, d)]);
    for first_token_after_transfer in [false, true] {
        let c = disagg_config(&[(
            "disaggregation_config_first_token_after_transfer",
            if first_token_after_transfer { "true" } else { "false" },
        )]);
        let sim = SimConfig::build(&c, &inputs).unwrap();
        let report = run_checked(&c, &inputs);
        check_report_invariants(&report).unwrap();
        // Prefill: one 1000-token iteration; it yields the first token.
        let prefill = stage_ns(&sim, 0, p, true);
        // Both replicas sit in one 8-GPU DGX node: NVLink at 450 GB/s and 10 µs.
        let transfer = (u64::from(p) * KV_BYTES_PER_TOKEN).div_ceil(450) + 10_000;
        // Decode: D − 1 steps over the prompt and the tokens so far.
        let decode: u64 = (0..d - 1).map(|i| stage_ns(&sim, p + 1 + i, 1, false)).sum();
        let r = &report.requests[0];
        let ttft = if first_token_after_transfer { prefill + transfer } else { prefill };
        assert_eq!(r.prefill_completed_at_ns, ttft, "TTFT");
        assert_eq!(r.completed_at_ns, prefill + transfer + decode, "E2E");
        let s = report.summary.disaggregation.as_ref().expect("disaggregated summary");
        assert_eq!((s.num_kv_transfers, s.num_kv_transfers_nvlink), (1, 1));
        assert_eq!(s.kv_transfer_s.max, transfer as f64 / 1e9);
        assert_eq!(s.kv_transfer_wait_s.max, 0.0);
        // Both pools' GPUs are counted and priced.
        assert_eq!(report.summary.cost.num_gpus, 2);
        assert_eq!((s.prefill.num_gpus, s.decode.num_gpus), (1, 1));
        // The prefill replica ran one batch, the decode replica three.
        assert_eq!(report.replicas.iter().map(|r| r.num_batches).collect::<Vec<_>>(), [1, 3]);
    }
}

#[test]
fn transfer_time_scales_with_context_length_and_link() {
    let transfer_s = |p: u32, extra: &[(&str, &str)]| {
        let report = run_checked(&disagg_config(extra), &trace(&[(0.0, p, 3)]));
        check_report_invariants(&report).unwrap();
        report.summary.disaggregation.unwrap().kv_transfer_s.max
    };
    let nvlink = |p: u64| (p * KV_BYTES_PER_TOKEN).div_ceil(450) + 10_000;
    assert_eq!(transfer_s(1000, &[]), nvlink(1000) as f64 / 1e9);
    assert_eq!(transfer_s(4000, &[]), nvlink(4000) as f64 / 1e9);
    // A decode pool in other nodes (another node type): RDMA, the slower side's 25 GB/s per GPU
    // and 20 µs.
    let rdma = [("disaggregation_config_decode_network_device", "h100_pairwise_nvlink")];
    assert_eq!(transfer_s(1000, &rdma), ((1000 * KV_BYTES_PER_TOKEN).div_ceil(25) + 20_000) as f64 / 1e9);
    // TP2 on both sides halves each GPU's bytes; a per-transfer overhead adds to every transfer.
    let tp2 =
        [("replica_config_tensor_parallel_size", "2"), ("disaggregation_config_transfer_overhead_ms", "0.5")];
    assert_eq!(
        transfer_s(1000, &tp2),
        ((500 * KV_BYTES_PER_TOKEN).div_ceil(450) + 10_000 + 500_000) as f64 / 1e9
    );
}

#[test]
fn a_decode_pool_without_kv_room_queues_transfers_and_the_prefill_pool_holds_the_kv() {
    // Each request needs ⌈(1000 + 200) / 16⌉ = 75 blocks by its end; 100 decode blocks hold one.
    let inputs = trace(&[(0.0, 1000, 200), (0.0, 1000, 200)]);
    let run = |blocks: &str| {
        let c = disagg_config(&[("disaggregation_config_decode_num_blocks", blocks)]);
        let report = run_checked(&c, &inputs);
        check_report_invariants(&report).unwrap();
        assert_eq!(report.summary.num_completed, 2);
        report
    };
    let roomy = run("2000");
    let tight = run("100");
    let wait = |r: &llmsim_engine::Report| r.summary.disaggregation.as_ref().unwrap().kv_transfer_wait_s;
    // With room, the second transfer waits only for the link: both prompts are prefilled in
    // one batch (2000 tokens within the 4096 budget) and handed off at its end, the first
    // transfer takes the prefill replica's one link slot from then, and the second, alike
    // (1000 tokens), starts when it lands: its wait is exactly one transfer time.
    let transfer = roomy.summary.disaggregation.as_ref().unwrap().kv_transfer_s.max;
    assert_eq!(transfer, ((1000 * KV_BYTES_PER_TOKEN).div_ceil(450) + 10_000) as f64 / 1e9);
    assert_eq!(roomy.summary.disaggregation.as_ref().unwrap().kv_transfer_s.min, transfer);
    assert_eq!((wait(&roomy).min, wait(&roomy).max), (0.0, transfer));
    // Without, it waits until the first request finished decoding and freed its blocks.
    let first = tight.requests.iter().map(|r| r.completed_at_ns).min().unwrap();
    let prefill_end = tight.requests.iter().map(|r| r.prefill_completed_at_ns).max().unwrap();
    assert_eq!(wait(&tight).max, (first - prefill_end) as f64 / 1e9);
    // The prefill replica held the second request's blocks all that time.
    let prefill_replica = &tight.replicas[0];
    assert!(prefill_replica.kv_usage_percent_max >= 2.0 * 1000.0 / 16.0 / 2000.0 * 100.0 - 1e-9);
    assert!(tight.summary.e2e_s.max > roomy.summary.e2e_s.max);
}

#[test]
fn many_requests_over_several_replicas_conserve_requests_and_are_deterministic() {
    let rows: Vec<(f64, u32, u32)> =
        (0..60).map(|i| (f64::from(i) * 0.01, 200 + (i * 37) % 900, 1 + (i * 13) % 40)).collect();
    let inputs = trace(&rows);
    // Every engine's scheduler (vLLM's, SGLang's, TensorRT-LLM's hooks) under KV pressure on
    // both pools (overlap scheduling as each defaults), with every decode router.
    for (engine, router) in ["vllm_v1", "sglang", "trtllm"]
        .into_iter()
        .flat_map(|e| ["least_loaded", "most_kv_free", "round_robin"].map(move |r| (e, r)))
    {
        let mut flags = vec![("replica_scheduler_config_type", engine)];
        flags.extend([
            ("cluster_config_num_replicas", "2"),
            ("disaggregation_config_decode_num_replicas", "3"),
            ("disaggregation_config_decode_tensor_parallel_size", "2"),
            ("disaggregation_config_decode_router", router),
            ("disaggregation_config_layerwise_transfer", "true"),
            ("cache_config_num_blocks", "300"),
        ]);
        let c = disagg_config(&flags);
        let router = format!("{engine} {router}");
        let report = run_checked(&c, &inputs);
        check_report_invariants(&report).unwrap();
        let s = &report.summary;
        assert_eq!(s.num_completed, 60, "{router}");
        let d = s.disaggregation.as_ref().unwrap();
        // Every request with tokens left after its prefill left the prefill pool exactly once.
        assert_eq!(d.num_kv_transfers, rows.iter().filter(|r| r.2 > 1).count() as u64, "{router}");
        assert_eq!((d.prefill.num_gpus, d.decode.num_gpus, s.cost.num_gpus), (2, 6, 8));
        assert_eq!(report.replicas.len(), 5);
        // The transfer times' CDF (the page's chart) spans the summary's distribution.
        let cdf = &report.cdfs[llmsim_engine::metrics::KV_TRANSFER_CDF];
        assert_eq!(
            (cdf.len(), cdf[0], cdf[100]),
            (101, d.kv_transfer_s.min, d.kv_transfer_s.max),
            "{router}"
        );
        assert_eq!(cdf[50], d.kv_transfer_s.p50, "{router}");
        // Chunks of events give the same report.
        let sim = SimConfig::build(&c, &inputs).unwrap();
        let mut chunked = Simulation::new(&sim);
        while !chunked.is_finished() {
            chunked.run_for_events(7);
        }
        let chunked = chunked.finish();
        assert_eq!(
            serde_json::to_string(&chunked.summary).unwrap(),
            serde_json::to_string(&report.summary).unwrap(),
            "{router}"
        );
    }
}

#[test]
fn disaggregation_errors_name_the_decode_flag() {
    let inputs = trace(&[(0.0, 100, 10)]);
    let errors = |extra: &[(&str, &str)]| -> Vec<String> {
        match SimConfig::build(&disagg_config(extra), &inputs) {
            Ok(_) => Vec::new(),
            Err(e) => e.0.into_iter().map(|e| e.flag).collect(),
        }
    };
    assert_eq!(
        errors(&[("disaggregation_config_decode_device", "h9000")]),
        ["disaggregation_config_decode_device"]
    );
    assert_eq!(
        errors(&[("disaggregation_config_decode_num_replicas", "0")]),
        ["disaggregation_config_decode_num_replicas"]
    );
    assert_eq!(errors(&[("replica_scheduler_config_type", "sarathi")]), ["replica_scheduler_config_type"]);
    // The decode cap is range-checked under its own name (it used to be reported under
    // vllm_v1_scheduler_config_batch_size_cap), as is the scheduler's upper bound and
    // pipeline-depth check it stands in for.
    for cap in ["0", "-3", "99999999"] {
        assert_eq!(
            errors(&[("disaggregation_config_decode_batch_size_cap", cap)]),
            ["disaggregation_config_decode_batch_size_cap"],
            "{cap}"
        );
    }
    assert_eq!(
        errors(&[
            ("disaggregation_config_decode_batch_size_cap", "1"),
            ("disaggregation_config_decode_num_pipeline_stages", "2")
        ]),
        ["disaggregation_config_decode_batch_size_cap"]
    );
    // The run limits hold for both pools together, each of which is within them alone.
    assert_eq!(
        errors(&[
            ("cache_config_num_blocks", "100"),
            ("cluster_config_num_replicas", "60000"),
            ("disaggregation_config_decode_num_replicas", "60000")
        ]),
        ["disaggregation_config_decode_num_replicas"]
    );
    assert_eq!(
        errors(&[
            ("cluster_config_num_replicas", "15000"),
            ("disaggregation_config_decode_num_replicas", "15000")
        ]),
        ["disaggregation_config_decode_num_replicas"]
    );
    // The two pools are alike (one replica of 2000 blocks each): a budget that holds either
    // pool's estimate alone but not both pools' KV blocks.
    let one_pool =
        SimConfig::build(&disagg_config(&[]), &inputs).unwrap().disagg.unwrap().decode.memory_estimate;
    assert!(one_pool.kv_blocks > 0);
    let budget = one_pool.total() + one_pool.kv_blocks / 2;
    let over =
        SimConfig::build_with_budget(&disagg_config(&[]), &inputs, budget).err().map(|e| e.to_string());
    assert!(over.as_deref().is_some_and(|e| e.contains("budget")), "{over:?}");
    // Aggregated: the decode flags are ignored (with the usual warning), nothing changes.
    let c = config(&[
        ("disaggregation_config_decode_num_replicas", "4"),
        ("request_generator_config_type", "trace"),
        ("trace_request_generator_config_trace_file", "t.csv"),
    ]);
    let sim = SimConfig::build(&c, &inputs).unwrap();
    assert!(sim.disagg.is_none());
    assert!(
        sim.warnings.iter().any(|w| w.contains("disaggregation_config_decode_num_replicas")),
        "{:?}",
        sim.warnings
    );
}

#[test]
fn a_capacity_search_varies_the_pool_sizes() {
    use llmsim_engine::search::{JobOutcome, SearchPlan, SearchSpec, run_job};
    // Long outputs under a TPOT objective: decode-bound, so a third of the GPUs on decode
    // sustains less than three quarters.
    let spec = SearchSpec::from_json_str(
        r#"{"base": {"replica_config_model_name": "meta-llama/Llama-3.1-8B", "replica_config_device": "h100",
            "replica_config_network_device": "h100_dgx", "length_generator_config_type": "fixed",
            "fixed_request_length_generator_config_prefill_tokens": 512, "fixed_request_length_generator_config_decode_tokens": 256,
            "disaggregation_config_type": "prefill_decode", "disaggregation_config_decode_batch_size_cap": 32},
        "space": {"pools": [{"cluster_config_num_replicas": 2, "disaggregation_config_decode_num_replicas": 1},
                            {"cluster_config_num_replicas": 1, "disaggregation_config_decode_num_replicas": 3}]},
        "slos": [{"metric": "tpot", "quantile": 0.9, "max_s": 0.02}],
        "goal": "max_qps", "qps": 8, "qps_granularity": 0.1, "num_requests": 200}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut plan = SearchPlan::new(spec);
    let inputs = Inputs::new();
    loop {
        let jobs = plan.next_jobs(1);
        let Some(job) = jobs.into_iter().next() else { break };
        let outcome = run_job(&job, &inputs, &mut |_| false).unwrap();
        assert!(matches!(outcome, JobOutcome::Ran(_)), "{outcome:?}");
        plan.on_result(job.id, outcome).unwrap();
    }
    let max_qps: Vec<f64> = plan.results().iter().map(|r| r.chosen.as_ref().map_or(0.0, |p| p.qps)).collect();
    assert!(max_qps[1] > max_qps[0] * 1.5, "max QPS 2P:1D vs 1P:3D: {max_qps:?}");
}

#[test]
fn a_request_that_can_never_fit_a_decode_replica_is_refused_up_front_naming_the_decode_flag() {
    // ⌈(1000 + 200) / 16⌉ = 75 blocks by its end; a decode replica has 50. It used to be
    // prefilled, refused at its hand-off and then read after release by its PrefillEnd (panic).
    let c = disagg_config(&[("disaggregation_config_decode_num_blocks", "50")]);
    let report = run_checked(&c, &trace(&[(0.0, 1000, 200), (0.0, 100, 10)]));
    check_report_invariants(&report).unwrap();
    assert_eq!((report.summary.num_completed, report.summary.num_refused), (1, 1));
    let refused = &report.request_errors[0];
    assert_eq!(refused.id, 0);
    assert!(refused.reason.contains("disaggregation_config_decode_num_blocks"), "{}", refused.reason);
    // Refused before any prefill: the prefill replica ran only the other request's batch.
    assert_eq!(report.replicas[0].num_batches, 1);
}

#[test]
fn a_prefill_replica_full_of_handed_off_kv_waits_for_the_transfers_instead_of_refusing() {
    // 200 prefill blocks hold two 63-block prompts (+ first token); 100 decode blocks hold one
    // 75-block request. The prefill replica runs nothing while its KV is held by handed-off
    // requests and others wait: that is not a stall, the transfers free it.
    let c = disagg_config(&[
        ("cache_config_num_blocks", "200"),
        ("disaggregation_config_decode_num_blocks", "100"),
    ]);
    let report = run_checked(&c, &trace(&[(0.0, 1000, 200); 5]));
    check_report_invariants(&report).unwrap();
    assert_eq!(
        (report.summary.num_completed, report.summary.num_refused),
        (5, 0),
        "{:?}",
        report.request_errors
    );
}

#[test]
fn per_replica_completions_count_where_requests_ended_and_prompts_where_they_were_prefilled() {
    // Request 0 has tokens left after its prefill and ends on the decode replica; request 1
    // (one output token) ends where it was prefilled.
    let report = run_checked(&disagg_config(&[]), &trace(&[(0.0, 500, 20), (0.0, 300, 1)]));
    check_report_invariants(&report).unwrap();
    let completed: Vec<u64> = report.replicas.iter().map(|r| r.num_completed).collect();
    assert_eq!(completed, [1, 1]);
    let prompts: Vec<u64> = report.replicas.iter().map(|r| r.prompt_tokens).collect();
    assert_eq!(prompts, [800, 0]);
}

#[test]
fn layerwise_transfer_hides_only_what_the_link_was_free_for() {
    // Two prefill replicas prefill one request each in the same span and send to the one decode
    // replica. The first transfer's layers went out during its prefill (only the last layer's
    // share is left); the second's link was busy with the first until after its prefill ended,
    // so nothing of it was hidden: its whole byte time shows.
    let c = disagg_config(&[
        ("cluster_config_num_replicas", "2"),
        ("global_scheduler_config_type", "round_robin"),
        ("disaggregation_config_layerwise_transfer", "true"),
    ]);
    let report = run_checked(&c, &trace(&[(0.0, 1000, 4), (0.0, 1000, 4)]));
    check_report_invariants(&report).unwrap();
    let d = report.summary.disaggregation.as_ref().unwrap();
    assert_eq!(d.num_kv_transfers, 2);
    let bytes_ns = (1000 * KV_BYTES_PER_TOKEN).div_ceil(450);
    assert_eq!(d.kv_transfer_s.min, (bytes_ns.div_ceil(32) + 10_000) as f64 / 1e9);
    assert_eq!(d.kv_transfer_s.max, (bytes_ns + 10_000) as f64 / 1e9);
}

#[test]
fn a_pool_distribution_without_samples_is_null_in_the_summary_not_zero() {
    // One-token outputs end where they are prefilled: no request reaches the decode pool, so
    // its queueing and the transfer times have no samples. summary.json gives null (the
    // page's pool table shows "–" for it, as the CLI's latency table does for an aggregated
    // distribution without samples), never a 0 that reads as measured.
    let report = run_checked(&disagg_config(&[]), &trace(&[(0.0, 500, 1), (0.1, 300, 1)]));
    check_report_invariants(&report).unwrap();
    let summary = serde_json::to_value(&report.summary).unwrap();
    let d = &summary["disaggregation"];
    assert_eq!(d["num_kv_transfers"], 0, "{d}");
    for stats in [&d["decode"]["queueing_s"], &d["kv_transfer_s"], &d["kv_transfer_wait_s"]] {
        assert_eq!(stats["count"], 0, "{stats}");
        for key in ["mean", "p50", "p90", "p99", "max"] {
            assert!(stats[key].is_null(), "{key}: {stats}");
        }
    }
    assert_eq!(d["prefill"]["queueing_s"]["count"], 2, "{d}");
}

/// The flags that run both pools on `engine`'s scheduler without overlap scheduling (so each
/// batch starts when the previous one ends, as the hand computation assumes).
fn engine_flags(engine: &str) -> Vec<(&'static str, &'static str)> {
    match engine {
        "sglang" => vec![
            ("replica_scheduler_config_type", "sglang"),
            ("sglang_scheduler_config_overlap_schedule", "false"),
        ],
        "trtllm" => vec![
            ("replica_scheduler_config_type", "trtllm"),
            ("trtllm_scheduler_config_overlap_scheduler", "false"),
        ],
        _ => vec![],
    }
}

#[test]
fn sglang_and_trtllm_pools_take_one_request_through_prefill_transfer_and_decode() {
    let (p, d) = (1000u32, 4u32);
    let inputs = trace(&[(0.0, p, d)]);
    for engine in ["sglang", "trtllm"] {
        for first_token_after_transfer in [false, true] {
            let mut extra = engine_flags(engine);
            extra.push((
                "disaggregation_config_first_token_after_transfer",
                if first_token_after_transfer { "true" } else { "false" },
            ));
            let c = disagg_config(&extra);
            let sim = SimConfig::build(&c, &inputs).unwrap_or_else(|e| panic!("{engine}: {e}"));
            assert_eq!(sim.replica_scheduler.name, engine);
            assert_eq!(sim.disagg.as_ref().unwrap().decode.replica_scheduler.name, engine);
            let report = run_checked(&c, &inputs);
            check_report_invariants(&report).unwrap();
            // Prefill: the whole 1000-token prompt in one iteration (SGLang's chunk 8192,
            // TensorRT-LLM's max_num_tokens 8192); it yields the first token.
            let prefill = stage_ns(&sim, 0, p, true);
            // One DGX node: NVLink at 450 GB/s and 10 µs.
            let transfer = (u64::from(p) * KV_BYTES_PER_TOKEN).div_ceil(450) + 10_000;
            // Decode: D − 1 one-token steps over the prompt and the tokens so far.
            let decode: u64 = (0..d - 1).map(|i| stage_ns(&sim, p + 1 + i, 1, false)).sum();
            let r = &report.requests[0];
            let ttft = if first_token_after_transfer { prefill + transfer } else { prefill };
            assert_eq!(r.prefill_completed_at_ns, ttft, "{engine} TTFT");
            assert_eq!(r.completed_at_ns, prefill + transfer + decode, "{engine} E2E");
            let s = report.summary.disaggregation.as_ref().expect("disaggregated summary");
            assert_eq!((s.num_kv_transfers, s.num_kv_transfers_nvlink), (1, 1), "{engine}");
            assert_eq!(s.kv_transfer_s.max, transfer as f64 / 1e9, "{engine}");
            assert_eq!(report.replicas.iter().map(|r| r.num_batches).collect::<Vec<_>>(), [1, 3], "{engine}");
        }
    }
}

#[test]
fn decode_admission_follows_each_engines_rule() {
    // Two 1000-token prompts, 200 outputs each (⌈1200 / 16⌉ = 75 blocks by the end, 63 for the
    // prompt and first token); 140 decode blocks. vLLM reserves the prompt's 63 blocks after
    // the prefill, so both transfers start at once. TensorRT-LLM's generation server reserves
    // prompt and output under guaranteed_no_evict: 140 − 75 = 65 < 75, the second transfer
    // waits for the first request to end. SGLang's pre-allocation keeps 512 tokens per active
    // request free: (140 − 63) × 16 − 512 = 720 tokens < 1000 + 512, so the second waits too —
    // but before its prefill (the bootstrap: a prefill server runs a request only once its
    // decode server pre-allocated), so its transfer then waits for nothing but the link.
    let inputs = trace(&[(0.0, 1000, 200), (0.0, 1000, 200)]);
    for (engine, waits, before_prefill) in
        [("vllm_v1", false, false), ("sglang", true, true), ("trtllm", true, false)]
    {
        let mut extra = engine_flags(engine);
        extra.push(("disaggregation_config_decode_num_blocks", "140"));
        let c = disagg_config(&extra);
        let report = run_checked(&c, &inputs);
        check_report_invariants(&report).unwrap();
        assert_eq!(report.summary.num_completed, 2, "{engine}");
        let s = report.summary.disaggregation.as_ref().unwrap();
        assert_eq!(s.num_kv_transfers, 2, "{engine}");
        assert_eq!(
            s.kv_transfer_wait_s.max > s.kv_transfer_s.max,
            waits && !before_prefill,
            "{engine}: {:?}",
            s.kv_transfer_wait_s
        );
        let first_end = report.requests.iter().map(|r| r.completed_at_ns).min().unwrap();
        let second = report.requests.iter().max_by_key(|r| r.completed_at_ns).unwrap();
        if waits {
            // The second request waited until the first one ended on the decode replica.
            assert!(second.completed_at_ns > first_end, "{engine}");
        }
        // Where the wait is before the prefill, the second prompt is prefilled only then.
        assert_eq!(second.prefill_completed_at_ns > first_end, before_prefill, "{engine}");
    }
}

#[test]
fn pools_with_expert_and_attention_data_parallelism_run_and_transfer_rank_to_rank() {
    // Mixtral-8x7B (MoE: 8 experts, 32 layers, 8 KV heads × 128, bf16: 131,072 KV bytes per
    // token on one GPU), prefill TP 1 × attention DP 2 with EP 2, decode TP 2 × EP 2 (no DP),
    // then decode TP 1 × DP 2 × EP 2, on each engine's scheduler: both pools run and every
    // request leaves the prefill pool once and ends once (run_checked's INV-13).
    let inputs = trace(&[(0.0, 1000, 20), (0.0, 1000, 20)]);
    for engine in ["vllm_v1", "sglang", "trtllm"] {
        for (decode_tp, decode_dp) in [("2", "1"), ("1", "2")] {
            let mut extra = engine_flags(engine);
            extra.extend([
                ("replica_config_model_name", "mistralai/Mixtral-8x7B-v0.1"),
                ("replica_config_tensor_parallel_size", "1"),
                ("replica_config_attention_dp_size", "2"),
                ("replica_config_expert_parallel_size", "2"),
                ("disaggregation_config_decode_tensor_parallel_size", decode_tp),
                ("disaggregation_config_decode_attention_dp_size", decode_dp),
                ("disaggregation_config_decode_expert_parallel_size", "2"),
            ]);
            let c = disagg_config(&extra);
            let sim = SimConfig::build(&c, &inputs).unwrap_or_else(|e| panic!("{engine}: {e}"));
            let report = run_checked(&c, &inputs);
            check_report_invariants(&report).unwrap();
            let case = format!("{engine} decode TP {decode_tp} DP {decode_dp}");
            assert_eq!(report.summary.num_completed, 2, "{case}");
            let s = report.summary.disaggregation.as_ref().unwrap();
            assert_eq!(s.num_kv_transfers, 2, "{case}");
            assert_eq!((s.prefill.num_gpus, s.decode.num_gpus), (2, 2), "{case}");
            let decode = &sim.disagg.as_ref().unwrap().decode;
            // A prefill rank is one GPU holding its requests' whole KV: 1000 × 131,072 B over
            // NVLink; the decode side's GPUs hold that (DP 2) or half (TP 2).
            assert_eq!(sim.memory.kv_bytes_per_token, KV_BYTES_PER_TOKEN, "{case}");
            let per_gpu = if decode_dp == "2" { KV_BYTES_PER_TOKEN } else { KV_BYTES_PER_TOKEN / 2 };
            assert_eq!(decode.memory.kv_bytes_per_token, per_gpu, "{case}");
            let transfer = (1000 * KV_BYTES_PER_TOKEN).div_ceil(450) + 10_000;
            assert_eq!(s.kv_transfer_s.max, transfer as f64 / 1e9, "{case}");
            // Rank to rank: with two ranks on both sides both transfers run at once; a
            // decode replica of one rank (TP 2) receives both at once too, each of its GPUs
            // taking half a prefill GPU's bytes (two slots on its rank).
            assert_eq!(s.kv_transfer_wait_s.max, 0.0, "{case}");
            let slots = if decode_dp == "2" { (1, 1) } else { (1, 2) };
            assert_eq!(sim.disagg.as_ref().unwrap().transfer.slots_per_rank(), slots, "{case}");
        }
    }
}

#[test]
fn a_prefill_replica_holds_only_the_prompt_and_first_token_of_a_request() {
    // 100 prefill blocks (1,600 tokens) cannot hold 1,000 + 1,000 tokens (125 blocks) but hold
    // the prompt and first token (63 blocks); the 2,000 decode blocks hold the whole request.
    for engine in ["vllm_v1", "sglang", "trtllm"] {
        let mut extra = engine_flags(engine);
        extra.push(("cache_config_num_blocks", "100"));
        extra.push(("disaggregation_config_decode_num_blocks", "2000"));
        let report = run_checked(&disagg_config(&extra), &trace(&[(0.0, 1000, 1000)]));
        check_report_invariants(&report).unwrap();
        assert_eq!(
            (report.summary.num_completed, report.summary.num_refused),
            (1, 0),
            "{engine}: {:?}",
            report.request_errors
        );
    }
}

#[test]
fn the_engine_times_each_attention_dp_rank_on_the_requests_its_scheduler_gave_it() {
    // An aggregated SGLang replica of Mixtral (TP 1 × attention DP 2 × EP 2) dispatches round
    // robin: R0 → rank 0, R1 → rank 1, R2 → rank 0, all prefilled in the first step. Prompts of
    // 1000, 100, 1000 tokens put 2000 on rank 0, where a spread by tokens would run 1000 and
    // 1100; prompts of 1000, 1000, 100 put 1100 and 1000 on the ranks either way. The same
    // 2,100 tokens, so only the engine's rank fill makes the first case's step (everyone's
    // TTFT) longer.
    let max_ttft = |prompts: [u32; 3]| {
        let inputs = trace(&prompts.map(|p| (0.0, p, 2)));
        let mut pairs = vec![
            ("replica_config_model_name", "mistralai/Mixtral-8x7B-v0.1"),
            ("replica_config_device", "h100"),
            ("replica_config_network_device", "h100_dgx"),
            ("replica_config_tensor_parallel_size", "1"),
            ("replica_config_attention_dp_size", "2"),
            ("replica_config_expert_parallel_size", "2"),
            ("request_generator_config_type", "trace"),
            ("trace_request_generator_config_trace_file", "t.csv"),
        ];
        pairs.extend(engine_flags("sglang"));
        let report = run_checked(&config(&pairs), &inputs);
        check_report_invariants(&report).unwrap();
        assert_eq!(report.summary.num_completed, 3);
        let ttfts: Vec<f64> = report.requests.iter().map(|r| r.ttft()).collect();
        assert!(ttfts.iter().all(|&t| t == ttfts[0]), "one prefill step for all three: {ttfts:?}");
        ttfts[0]
    };
    let (assigned_uneven, even) = (max_ttft([1000, 100, 1000]), max_ttft([1000, 1000, 100]));
    assert!(assigned_uneven > even, "2000 tokens on rank 0 take longer: {assigned_uneven} vs {even}");
}

#[test]
fn a_disaggregated_run_with_decode_flags_set_warns_nothing_false_and_nothing_twice() {
    let inputs = trace(&[(0.0, 100, 4)]);
    // Every decode flag set: each applies (the type is prefill_decode), so none is ignored.
    let c = disagg_config(&[
        ("disaggregation_config_decode_num_replicas", "2"),
        ("disaggregation_config_decode_device", "a100"),
        ("disaggregation_config_decode_network_device", "a100_dgx"),
        ("disaggregation_config_decode_tensor_parallel_size", "2"),
        ("disaggregation_config_decode_num_pipeline_stages", "1"),
        ("disaggregation_config_decode_num_blocks", "1500"),
        ("disaggregation_config_decode_batch_size_cap", "64"),
        ("disaggregation_config_decode_router", "most_kv_free"),
        ("disaggregation_config_first_token_after_transfer", "true"),
        ("disaggregation_config_transfer_overhead_ms", "0.5"),
    ]);
    let sim = SimConfig::build(&c, &inputs).unwrap();
    assert!(sim.warnings.is_empty(), "{:#?}", sim.warnings);
    let report = run_checked(&c, &inputs);
    assert!(report.warnings.is_empty(), "{:#?}", report.warnings);

    // A flag both pools read the same way and ignore: one warning, not one per pool.
    let c = disagg_config(&[("sarathi_scheduler_config_chunk_size", "256")]);
    let warnings = SimConfig::build(&c, &inputs).unwrap().warnings;
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(warnings[0].starts_with("--sarathi_scheduler_config_chunk_size is ignored"), "{warnings:#?}");

    // What only the decode pool observes still comes through, named as the decode pool's.
    let c = disagg_config(&[("disaggregation_config_decode_num_blocks", "100")]);
    let warnings = SimConfig::build(&c, &inputs).unwrap().warnings;
    assert_eq!(
        warnings,
        [
            "decode pool: a replica's KV cache holds 1600 tokens, less than the model's max_model_len of 8192: long requests will be refused"
        ],
    );

    // A decode flag that really is ignored (an aggregated cluster) still warns, once.
    let c = disagg_config(&[
        ("disaggregation_config_type", "none"),
        ("disaggregation_config_decode_tensor_parallel_size", "2"),
    ]);
    let warnings = SimConfig::build(&c, &inputs).unwrap().warnings;
    assert_eq!(
        warnings,
        [
            "--disaggregation_config_decode_tensor_parallel_size is ignored: it applies with --disaggregation_config_type prefill_decode, not none"
        ],
    );
}

#[test]
fn the_transfer_overhead_defaults_from_the_node_catalogue_and_the_flag_overrides_it() {
    let inputs = trace(&[(0.0, 100, 4)]);
    // Prefill on an H100 DGX, decode on a B200 DGX: the larger of the two nodes' figures.
    let c = disagg_config(&[
        ("disaggregation_config_decode_device", "b200"),
        ("disaggregation_config_decode_network_device", "b200_dgx"),
    ]);
    let sim = SimConfig::build(&c, &inputs).unwrap();
    let node_us = |name: &str| {
        llmsim_engine::catalog::find_node(name).expect("catalogued node").kv_transfer_overhead_us
    };
    let expected = (node_us("h100_dgx").max(node_us("b200_dgx")) * 1e3).round() as u64;
    assert_eq!(sim.disagg.as_ref().unwrap().transfer.overhead_ns, expected);
    // Every catalogued node has a figure, finite and not negative.
    for node in llmsim_engine::catalog::nodes() {
        assert!(
            node.kv_transfer_overhead_us.is_finite() && node.kv_transfer_overhead_us >= 0.0,
            "{}",
            node.name
        );
    }
    // The flag overrides it.
    let c = disagg_config(&[("disaggregation_config_transfer_overhead_ms", "0.25")]);
    assert_eq!(SimConfig::build(&c, &inputs).unwrap().disagg.unwrap().transfer.overhead_ns, 250_000);
    // Out of range names the flag.
    let c = disagg_config(&[("disaggregation_config_transfer_overhead_ms", "-1")]);
    let e = SimConfig::build(&c, &inputs).unwrap_err();
    assert!(e.0.iter().any(|e| e.flag == "disaggregation_config_transfer_overhead_ms"), "{e}");
}

#[test]
fn chunked_prefill_smaller_than_the_prompt_then_transfer_and_decode() {
    // A 600-token prompt with a 256-token chunk: three prefill iterations (256, 256, 88) on
    // the prefill replica, then the transfer, then the decode steps.
    let (p, d) = (600u32, 3u32);
    let inputs = trace(&[(0.0, p, d)]);
    let c = disagg_config(&[("vllm_v1_scheduler_config_chunk_size", "256")]);
    let sim = SimConfig::build(&c, &inputs).unwrap();
    let report = run_checked(&c, &inputs);
    check_report_invariants(&report).unwrap();
    let prefill =
        stage_ns(&sim, 0, 256, true) + stage_ns(&sim, 256, 256, true) + stage_ns(&sim, 512, 88, true);
    let transfer = (u64::from(p) * KV_BYTES_PER_TOKEN).div_ceil(450) + 10_000;
    let decode: u64 = (0..d - 1).map(|i| stage_ns(&sim, p + 1 + i, 1, false)).sum();
    let r = &report.requests[0];
    assert_eq!(r.prefill_completed_at_ns, prefill, "TTFT: the three chunks");
    assert_eq!(r.completed_at_ns, prefill + transfer + decode, "E2E");
    // The prefill replica ran the three chunks, the decode replica the two steps.
    assert_eq!(report.replicas.iter().map(|r| r.num_batches).collect::<Vec<_>>(), [3, 2]);
    let s = report.summary.disaggregation.as_ref().unwrap();
    assert_eq!(s.kv_transfer_s.max, transfer as f64 / 1e9);
}

#[test]
fn prefill_and_decode_pools_with_different_pipeline_depths() {
    // Llama-3-8B's 32 layers: a PP 2 pool's GPU holds 16 layers' KV (half a PP 1 GPU's). The
    // busier side (the PP 1 pool's GPU, all 32 layers) sets the transfer's time; both pools
    // (3 GPUs) sit in one 8-GPU DGX node: NVLink.
    let p = 1000u32;
    let inputs = trace(&[(0.0, p, 4), (0.5, p, 4)]);
    let transfer = (u64::from(p) * KV_BYTES_PER_TOKEN).div_ceil(450) + 10_000;
    for (prefill_pp, decode_pp) in [("1", "2"), ("2", "1")] {
        let case = format!("prefill PP {prefill_pp}, decode PP {decode_pp}");
        let c = disagg_config(&[
            ("replica_config_num_pipeline_stages", prefill_pp),
            ("disaggregation_config_decode_num_pipeline_stages", decode_pp),
        ]);
        let sim = SimConfig::build(&c, &inputs).unwrap();
        let decode = &sim.disagg.as_ref().unwrap().decode;
        let per_gpu = |pp: &str| if pp == "2" { KV_BYTES_PER_TOKEN / 2 } else { KV_BYTES_PER_TOKEN };
        assert_eq!(sim.memory.kv_bytes_per_token, per_gpu(prefill_pp), "{case}");
        assert_eq!(decode.memory.kv_bytes_per_token, per_gpu(decode_pp), "{case}");
        assert_eq!(decode.replica.parallel.num_pipeline_stages.to_string(), decode_pp, "{case}");
        let report = run_checked(&c, &inputs);
        check_report_invariants(&report).unwrap();
        assert_eq!(report.summary.num_completed, 2, "{case}");
        let s = report.summary.disaggregation.as_ref().unwrap();
        assert_eq!(s.num_kv_transfers, 2, "{case}");
        assert_eq!(
            (s.prefill.num_gpus, s.decode.num_gpus),
            (prefill_pp.parse().unwrap(), decode_pp.parse().unwrap()),
            "{case}"
        );
        assert_eq!(s.kv_transfer_s.max, transfer as f64 / 1e9, "{case}");
        if prefill_pp == "1" {
            // One stage: TTFT is the one prefill iteration.
            assert_eq!(report.requests[0].prefill_completed_at_ns, stage_ns(&sim, 0, p, true), "{case}");
        }
    }
}

#[test]
fn mla_latent_kv_bytes_drive_the_transfer_time() {
    // DeepSeek-V3 (config.json: num_hidden_layers 61, kv_lora_rank 512, qk_rope_head_dim 64):
    // the latent of one token is 61 × (512 + 64) × 2 bytes (bf16 KV cache) = 70,272 bytes,
    // whole on every GPU of a TP 8 replica (the latent is not split by heads). Prefill and
    // decode replicas of 8 H200s each fill two DGX nodes: RDMA at 50 GB/s per GPU and 20 µs.
    const MLA_BYTES_PER_TOKEN: u64 = 61 * (512 + 64) * 2;
    let model = llmsim_engine::catalog::find_model("deepseek-ai/DeepSeek-V3").unwrap();
    let mla = model.mla.as_ref().expect("DeepSeek-V3 has latent attention");
    assert_eq!(
        u64::from(model.num_layers) * u64::from(mla.kv_lora_rank + mla.qk_rope_head_dim) * 2,
        MLA_BYTES_PER_TOKEN
    );
    let p = 2000u32;
    let inputs = trace(&[(0.0, p, 3)]);
    let c = disagg_config(&[
        ("replica_config_model_name", "deepseek-ai/DeepSeek-V3"),
        ("replica_config_device", "h200"),
        ("replica_config_network_device", "h200_dgx"),
        ("replica_config_weight_dtype", "fp8"),
        ("replica_config_tensor_parallel_size", "8"),
    ]);
    let sim = SimConfig::build(&c, &inputs).unwrap();
    assert_eq!(sim.memory.kv_bytes_per_token, MLA_BYTES_PER_TOKEN);
    assert_eq!(sim.disagg.as_ref().unwrap().decode.memory.kv_bytes_per_token, MLA_BYTES_PER_TOKEN);
    let report = run_checked(&c, &inputs);
    check_report_invariants(&report).unwrap();
    let s = report.summary.disaggregation.as_ref().unwrap();
    assert_eq!((s.num_kv_transfers, s.num_kv_transfers_nvlink), (1, 0));
    let transfer = (u64::from(p) * MLA_BYTES_PER_TOKEN).div_ceil(50) + 20_000;
    assert_eq!(s.kv_transfer_s.max, transfer as f64 / 1e9);
}

#[test]
fn sliding_window_layers_transfer_the_windows_blocks() {
    // gpt-oss-120b (config.json: 36 layers alternating full and 128-token sliding attention,
    // 8 KV heads × 64, bf16): on one GPU each token's KV is 18 × 8 × 64 × 2 × 2 = 36,864 bytes
    // in the full layers and as much in the sliding ones, of which the transfer sends the
    // window's blocks only: a 1000-token prompt's window starts at 872, in the 16-token block
    // from 864, so 136 tokens. Both replicas on one H200 DGX node: NVLink, 450 GB/s, 10 µs.
    const PER_TOKEN: u64 = 18 * 8 * 64 * 2 * 2;
    let p = 1000u32;
    let inputs = trace(&[(0.0, p, 3)]);
    let c = disagg_config(&[
        ("replica_config_model_name", "openai/gpt-oss-120b"),
        ("replica_config_device", "h200"),
        ("replica_config_network_device", "h200_dgx"),
        ("replica_config_weight_dtype", "fp8"),
    ]);
    let sim = SimConfig::build(&c, &inputs).unwrap();
    assert_eq!(sim.memory.kv_bytes_per_token, PER_TOKEN);
    let t = &sim.disagg.as_ref().unwrap().transfer;
    assert_eq!(t.prefill.sliding_bytes_per_token_per_gpu, PER_TOKEN);
    assert_eq!(t.sliding_tokens(p), 136);
    let report = run_checked(&c, &inputs);
    check_report_invariants(&report).unwrap();
    let s = report.summary.disaggregation.as_ref().unwrap();
    let transfer = ((u64::from(p) + 136) * PER_TOKEN).div_ceil(450) + 10_000;
    assert_eq!(s.kv_transfer_s.max, transfer as f64 / 1e9);
}

#[test]
fn the_decode_pool_has_its_own_token_budget() {
    const FLAG: &str = "disaggregation_config_decode_max_num_batched_tokens";
    let inputs = trace(&[(0.0, 100, 3), (0.0, 100, 3)]);
    // vLLM: the decode pool's max_num_batched_tokens; the prefill pool keeps its own 4096.
    let c = disagg_config(&[(FLAG, "1")]);
    let sim = SimConfig::build(&c, &inputs).unwrap();
    let decode = &sim.disagg.as_ref().unwrap().decode;
    assert_eq!(decode.raw.get("vllm_v1_scheduler_config_chunk_size").to_text(), "1");
    assert_eq!(sim.raw.get("vllm_v1_scheduler_config_chunk_size").to_text(), "4096");
    assert!(sim.warnings.is_empty(), "{:?}", sim.warnings);
    // One token per decode iteration: the two requests' 2 + 2 decode steps run one at a time.
    let report = run_checked(&c, &inputs);
    check_report_invariants(&report).unwrap();
    assert_eq!(report.summary.num_completed, 2);
    assert_eq!(report.replicas[1].num_batches, 4);
    // TensorRT-LLM: its max_num_tokens.
    let mut extra = engine_flags("trtllm");
    extra.push((FLAG, "64"));
    let sim = SimConfig::build(&disagg_config(&extra), &inputs).unwrap();
    let decode = &sim.disagg.as_ref().unwrap().decode;
    assert_eq!(decode.raw.get("trtllm_scheduler_config_max_num_tokens").to_text(), "64");
    assert_eq!(sim.raw.get("trtllm_scheduler_config_max_num_tokens").to_text(), "8192");
    // SGLang's decode has no token budget: said once, as the decode pool's.
    let mut extra = engine_flags("sglang");
    extra.push((FLAG, "64"));
    let warnings = SimConfig::build(&disagg_config(&extra), &inputs).unwrap().warnings;
    let ours: Vec<&String> = warnings.iter().filter(|w| w.contains(FLAG)).collect();
    assert_eq!(ours.len(), 1, "{warnings:?}");
    assert!(ours[0].starts_with(&format!("decode pool: --{FLAG} is ignored")), "{warnings:?}");
    // Out of range names the decode flag.
    let e = SimConfig::build(&disagg_config(&[(FLAG, "0")]), &inputs).unwrap_err();
    assert!(e.0.iter().all(|e| e.flag == FLAG), "{e}");
}

#[test]
fn a_transfer_waits_for_its_own_attention_dp_rank_while_another_rank_admits() {
    // An SGLang decode replica of Mixtral (TP 1 × attention DP 2 × EP 2) with
    // --max-running-requests 2: one request per rank. Four 100-token prompts prefill together
    // on the prefill replica (TP 2 × EP 2) and reach the decode replica in that order; its
    // data-parallel controller gives them ranks in turn: R0 → 0, R1 → 1, R2 → 0, R3 → 1. R0
    // (200 outputs) and R1 (3) are admitted; R2 waits for rank 0, i.e. for R0's end. Each rank
    // pre-allocates from its own queue (SGLang's DecodePreallocQueue per rank), so R3 goes in
    // as soon as R1 ends on rank 1 and finishes long before R0. One queue for the replica held
    // R3 behind R2 until R0 ended.
    let inputs = trace(&[(0.0, 100, 200), (0.0, 100, 3), (0.0, 100, 3), (0.0, 100, 3)]);
    let mut extra = engine_flags("sglang");
    extra.extend([
        ("replica_config_model_name", "mistralai/Mixtral-8x7B-v0.1"),
        ("replica_config_tensor_parallel_size", "2"),
        ("replica_config_expert_parallel_size", "2"),
        ("disaggregation_config_decode_tensor_parallel_size", "1"),
        ("disaggregation_config_decode_attention_dp_size", "2"),
        ("disaggregation_config_decode_expert_parallel_size", "2"),
        ("disaggregation_config_decode_batch_size_cap", "2"),
    ]);
    let report = run_checked(&disagg_config(&extra), &inputs);
    check_report_invariants(&report).unwrap();
    assert_eq!(report.summary.num_completed, 4);
    let end = |i: usize| report.requests.iter().find(|r| r.id == i as u32).unwrap().completed_at_ns;
    let prefilled =
        |i: usize| report.requests.iter().find(|r| r.id == i as u32).unwrap().prefill_completed_at_ns;
    assert!(end(2) > end(0), "R2 waits for its rank (R0's end)");
    assert!(end(3) < end(0), "R3 goes in on rank 1 once R1 ends: {} vs {}", end(3), end(0));
    assert!(end(3) > end(1), "R3 waited for R1's slot");
    // SGLang's bootstrap: the prefill server runs a request only once its decode rank has
    // pre-allocated it, so R0 and R1 are prefilled together, R3 after R1's end, R2 after R0's.
    assert_eq!(prefilled(0), prefilled(1), "R0 and R1 in one prefill batch");
    assert!(prefilled(3) > end(1) && prefilled(3) < end(0), "R3 prefilled once rank 1 freed");
    assert!(prefilled(2) > end(0), "R2 prefilled once rank 0 freed");
}

#[test]
fn a_request_too_big_for_one_sglang_decode_rank_is_refused_before_its_prefill() {
    // An SGLang decode replica of Mixtral (TP 1 × attention DP 2 × EP 2) with 100 KV blocks:
    // each rank pre-allocates from its own pool of 50 (SGLang's per-rank DecodePreallocQueue).
    // Request 0 needs ⌈(1000 + 200) / 16⌉ = 75 blocks: within the replica's 100 but over any
    // rank's 50, so it can never be admitted. It used to be checked against the replica's 100,
    // prefilled and then refused at its hand-off (INV-13: refusals come before the prefill).
    let inputs = trace(&[(0.0, 1000, 200), (0.0, 100, 10)]);
    let mut extra = engine_flags("sglang");
    extra.extend([
        ("replica_config_model_name", "mistralai/Mixtral-8x7B-v0.1"),
        ("replica_config_tensor_parallel_size", "2"),
        ("replica_config_expert_parallel_size", "2"),
        ("disaggregation_config_decode_tensor_parallel_size", "1"),
        ("disaggregation_config_decode_attention_dp_size", "2"),
        ("disaggregation_config_decode_expert_parallel_size", "2"),
        ("disaggregation_config_decode_num_blocks", "100"),
    ]);
    let report = run_checked(&disagg_config(&extra), &inputs);
    check_report_invariants(&report).unwrap();
    assert_eq!((report.summary.num_completed, report.summary.num_refused), (1, 1));
    let refused = &report.request_errors[0];
    assert_eq!(refused.id, 0);
    assert!(refused.reason.contains("attention-DP rank"), "{}", refused.reason);
    assert!(refused.reason.contains("disaggregation_config_decode_num_blocks"), "{}", refused.reason);
    // Refused before any prefill: the prefill replica ran only the other request's batch.
    assert_eq!(report.replicas[0].num_batches, 1);
}

#[test]
fn a_request_its_prefill_replica_refuses_frees_its_sglang_decode_reservation() {
    // SGLang pre-allocates on the decode side before the prefill (bootstrap). The decode
    // replica runs one request at a time (cap 1); request 0's prompt (⌈1001 / 16⌉ = 63 blocks)
    // exceeds the prefill replica's 50 blocks, so the prefill replica refuses it after the
    // decode replica reserved for it. The reservation must be freed then, or request 1 would
    // wait for it forever (reported unfinished).
    let inputs = trace(&[(0.0, 1000, 20), (0.0, 100, 20)]);
    let mut extra = engine_flags("sglang");
    extra.extend([
        ("cache_config_num_blocks", "50"),
        ("disaggregation_config_decode_num_blocks", "2000"),
        ("disaggregation_config_decode_batch_size_cap", "1"),
    ]);
    let report = run_checked(&disagg_config(&extra), &inputs);
    check_report_invariants(&report).unwrap();
    assert_eq!(
        (report.summary.num_completed, report.summary.num_refused),
        (1, 1),
        "{:?}",
        report.request_errors
    );
    assert_eq!(report.request_errors[0].id, 0);
    let s = report.summary.disaggregation.as_ref().unwrap();
    assert_eq!(s.num_kv_transfers, 1);
}

#[test]
fn a_decode_pool_with_its_own_scheduler_takes_one_request_through_prefill_transfer_and_decode() {
    // `--disaggregation_config_decode_replica_scheduler_type`: each pool runs its scheduler on
    // that scheduler's own flags (overlap off, so every step's time is the predictor's).
    let (p, d) = (1000u32, 4u32);
    let inputs = trace(&[(0.0, p, d)]);
    let overlap_off = |scheduler: &str| match scheduler {
        "sglang" => Some(("sglang_scheduler_config_overlap_schedule", "false")),
        "trtllm" => Some(("trtllm_scheduler_config_overlap_scheduler", "false")),
        _ => None,
    };
    for (prefill, decode) in [("vllm_v1", "trtllm"), ("trtllm", "sglang"), ("sglang", "vllm_v1")] {
        let mut extra = vec![
            ("replica_scheduler_config_type", prefill),
            ("disaggregation_config_decode_replica_scheduler_type", decode),
        ];
        extra.extend(overlap_off(prefill));
        extra.extend(overlap_off(decode));
        let c = disagg_config(&extra);
        let sim = SimConfig::build(&c, &inputs).unwrap_or_else(|e| panic!("{prefill}+{decode}: {e}"));
        assert_eq!(sim.replica_scheduler.name, prefill);
        assert_eq!(sim.disagg.as_ref().unwrap().decode.replica_scheduler.name, decode);
        if prefill == "vllm_v1" || decode == "vllm_v1" {
            // Every flag set is read by one pool or the other.
            assert!(sim.warnings.is_empty(), "{prefill}+{decode}: {:#?}", sim.warnings);
        }
        let report = run_checked(&c, &inputs);
        check_report_invariants(&report).unwrap();
        // Both pools on H100s of one DGX node: one predictor's stage times.
        let prefill_ns = stage_ns(&sim, 0, p, true);
        let transfer = (u64::from(p) * KV_BYTES_PER_TOKEN).div_ceil(450) + 10_000;
        let decode_ns: u64 = (0..d - 1).map(|i| stage_ns(&sim, p + 1 + i, 1, false)).sum();
        let r = &report.requests[0];
        assert_eq!(r.prefill_completed_at_ns, prefill_ns, "{prefill}+{decode} TTFT");
        assert_eq!(r.completed_at_ns, prefill_ns + transfer + decode_ns, "{prefill}+{decode} E2E");
        assert_eq!(report.replicas.iter().map(|r| r.num_batches).collect::<Vec<_>>(), [1, 3]);
    }
}

#[test]
fn a_decode_pool_s_own_scheduler_admits_transfers_by_its_own_rule() {
    // As decode_admission_follows_each_engines_rule, with the prefill pool on vLLM's scheduler
    // throughout: the decode pool's scheduler alone decides whether the second request waits
    // and when (vLLM reserves the prompt; TensorRT-LLM prompt and output; SGLang keeps room
    // besides, and pre-allocates before the prefill whatever the prefill pool runs: its
    // decode server's bootstrap).
    let inputs = trace(&[(0.0, 1000, 200), (0.0, 1000, 200)]);
    for (decode, waits, before_prefill) in
        [("vllm_v1", false, false), ("sglang", true, true), ("trtllm", true, false)]
    {
        let c = disagg_config(&[
            ("disaggregation_config_decode_replica_scheduler_type", decode),
            ("disaggregation_config_decode_num_blocks", "140"),
        ]);
        let report = run_checked(&c, &inputs);
        check_report_invariants(&report).unwrap();
        assert_eq!(report.summary.num_completed, 2, "{decode}");
        let s = report.summary.disaggregation.as_ref().unwrap();
        assert_eq!(
            s.kv_transfer_wait_s.max > s.kv_transfer_s.max,
            waits && !before_prefill,
            "{decode}: {:?}",
            s.kv_transfer_wait_s
        );
        let first_end = report.requests.iter().map(|r| r.completed_at_ns).min().unwrap();
        let second = report.requests.iter().max_by_key(|r| r.completed_at_ns).unwrap();
        if waits {
            assert!(second.completed_at_ns > first_end, "{decode}");
        }
        assert_eq!(second.prefill_completed_at_ns > first_end, before_prefill, "{decode}");
    }
}

#[test]
fn per_pool_busy_mfu_and_kv_usage_of_one_request_are_hand_computed() {
    // One 1000-token prompt with 4 output tokens, no preallocation: 63 blocks of 16 tokens
    // (⌈1001 / 16⌉, prompt and first token; the three decode steps stay within them) of 2000
    // on each replica. Prefill replica: busy for the prefill, its KV held from its schedule
    // at 0 until the transfer lands. Decode replica: busy for the three steps, its KV reserved
    // from the prefill's end (the transfer's admission) to the request's end.
    let (p, d) = (1000u32, 4u32);
    let inputs = trace(&[(0.0, p, d)]);
    let c = disagg_config(&[("cache_config_num_preallocate_tokens", "0")]);
    let sim = SimConfig::build(&c, &inputs).unwrap();
    let report = run_checked(&c, &inputs);
    check_report_invariants(&report).unwrap();
    let prefill = stage_ns(&sim, 0, p, true);
    let transfer = (u64::from(p) * KV_BYTES_PER_TOKEN).div_ceil(450) + 10_000;
    let steps: Vec<u64> = (0..d - 1).map(|i| stage_ns(&sim, p + 1 + i, 1, false)).collect();
    let decode: u64 = steps.iter().sum();
    let end = prefill + transfer + decode;
    assert_eq!(report.requests[0].completed_at_ns, end);
    let close = |got: f64, want: f64, what: &str| {
        assert!((got - want).abs() <= 1e-9 * want.abs().max(1.0), "{what}: {got} vs {want}");
    };
    // Busy: share of the run (which ends with the request).
    let busy = [prefill as f64 * 100.0 / end as f64, decode as f64 * 100.0 / end as f64];
    // MFU: Σ FLOPs ÷ (peak × run). Per token 2 × the active layer weights per GPU; attention
    // 2 × 32 layers × 32 query heads × 2 × 128 (QKᵀ and PV) per causal query/key pair: the
    // prompt's 1000 × 1001 / 2 pairs, then each decode step's one token over the context.
    let weights = sim.memory.active_layer_params_per_device as f64;
    let per_pair = 2.0 * 32.0 * 32.0 * 2.0 * 128.0;
    let peak = sim.replica.device.fp16_tflops * 1e12;
    let seconds = end as f64 / 1e9;
    let prefill_flops = 2.0 * f64::from(p) * weights + per_pair * f64::from(p) * f64::from(p + 1) / 2.0;
    let decode_flops: f64 = (0..d - 1).map(|i| 2.0 * weights + per_pair * (f64::from(p + 1 + i) + 1.0)).sum();
    let mfu = [prefill_flops / (peak * seconds) * 100.0, decode_flops / (peak * seconds) * 100.0];
    // KV usage, time-weighted: 63 / 2000 blocks over the spans above.
    let blocks = 63.0 * 100.0 / 2000.0;
    let kv =
        [blocks * (prefill + transfer) as f64 / end as f64, blocks * (end - prefill) as f64 / end as f64];
    let s = report.summary.disaggregation.as_ref().unwrap();
    for (i, (name, pool)) in [("prefill", &s.prefill), ("decode", &s.decode)].into_iter().enumerate() {
        let replica = &report.replicas[i];
        assert_eq!(replica.stages.len(), 1, "{name}");
        close(replica.stages[0].busy_percent, busy[i], &format!("{name} replica busy"));
        close(pool.busy_percent_mean, busy[i], &format!("{name} pool busy"));
        close(replica.stages[0].mfu_percent, mfu[i], &format!("{name} replica MFU"));
        close(pool.mfu_percent_mean, mfu[i], &format!("{name} pool MFU"));
        close(replica.kv_usage_percent_mean, kv[i], &format!("{name} replica KV"));
        close(pool.kv_usage_percent_mean, kv[i], &format!("{name} pool KV"));
        assert_eq!((replica.kv_usage_percent_max, pool.kv_usage_percent_max), (blocks, blocks), "{name}");
    }
    // Queueing: none before the prefill, none before the transfer.
    assert_eq!((s.prefill.queueing_s.max, s.decode.queueing_s.max), (0.0, 0.0));
}

#[test]
fn replica_metrics_name_each_replicas_pool_when_disaggregated_only() {
    let inputs = trace(&[(0.0, 100, 4)]);
    let c = disagg_config(&[
        ("cluster_config_num_replicas", "2"),
        ("disaggregation_config_decode_num_replicas", "3"),
    ]);
    let report = run_checked(&c, &inputs);
    let json: serde_json::Value = serde_json::to_value(&report.replicas).unwrap();
    let pools: Vec<&str> = json.as_array().unwrap().iter().map(|r| r["pool"].as_str().unwrap()).collect();
    assert_eq!(pools, ["prefill", "prefill", "decode", "decode", "decode"]);
    // The file written says the same.
    let files = report.files(true, false);
    let (_, text) = files.iter().find(|(name, _)| name == "plots/replica_metrics.json").unwrap();
    let file: serde_json::Value = serde_json::from_str(text).unwrap();
    let in_file: Vec<&str> = file.as_array().unwrap().iter().map(|r| r["pool"].as_str().unwrap()).collect();
    assert_eq!(in_file, pools);
    // Aggregated: no pool field, the file as before.
    let c = config(&[
        ("cluster_config_num_replicas", "2"),
        ("request_generator_config_type", "trace"),
        ("trace_request_generator_config_trace_file", "t.csv"),
    ]);
    let report = run_checked(&c, &inputs);
    assert!(report.replicas.iter().all(|r| r.pool.is_none()));
    let files = report.files(true, false);
    let (_, text) = files.iter().find(|(name, _)| name == "plots/replica_metrics.json").unwrap();
    assert!(!text.contains("\"pool\""), "{text}");
}

/// `request_metrics.csv` as streamed during the run (the CLI's path), in chunks of 5 events.
fn streamed_csv(c: &Config, inputs: &Inputs) -> String {
    let sim = SimConfig::build(c, inputs).unwrap();
    let mut run = Simulation::new(&sim).stream_request_records();
    let mut csv = llmsim_engine::report::RequestRecord::csv_header(sim.disagg.is_some()).into_bytes();
    let mut records = Vec::new();
    loop {
        let finished = run.run_for_events(5).finished;
        run.drain_request_records(&mut records);
        for r in records.drain(..) {
            if sim.disagg.is_some() {
                r.write_disaggregated_csv_row(run.take_kv_transfer(r.id).as_ref(), &mut csv);
            } else {
                r.write_csv_row(&mut csv);
            }
        }
        if finished {
            return String::from_utf8(csv).unwrap();
        }
    }
}

#[test]
fn request_metrics_name_the_decode_replica_the_transfer_and_its_wait_when_disaggregated() {
    // Request 0 and 1 (1000-token prompts) are prefilled together and handed off at once:
    // request 0's transfer starts at the prefill's end, request 1's waits for it on the link.
    // Request 2 (one output token) ends on its prefill replica: no decode replica, no transfer.
    let inputs = trace(&[(0.0, 1000, 20), (0.0, 1000, 20), (0.0, 100, 1)]);
    let c = disagg_config(&[]);
    let report = run_checked(&c, &inputs);
    check_report_invariants(&report).unwrap();
    let transfer = (1000 * KV_BYTES_PER_TOKEN).div_ceil(450) + 10_000;
    let csv = report.request_metrics_csv();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header.len(), 28);
    assert_eq!(header[24..], ["replica", "decode_replica", "kv_transfer_wait_time", "kv_transfer_time"]);
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let secs = |ns: u64| format!("{:.6}", ns as f64 / 1e9);
    assert_eq!(rows[0][24..], ["0", "1", "0.000000", secs(transfer).as_str()]);
    assert_eq!(rows[1][24..], ["0", "1", secs(transfer).as_str(), secs(transfer).as_str()]);
    assert_eq!(rows[2][24..], ["0", "", "", ""]);
    // The report keeps the same beside the records, in ns.
    let t = |i: u32| report.request_transfers.get(&i).copied();
    let one =
        |wait_ns| llmsim_engine::report::TransferRecord { decode_replica: 1, wait_ns, transfer_ns: transfer };
    assert_eq!((t(0), t(1), t(2)), (Some(one(0)), Some(one(transfer)), None));
    // The prefill-to-decode wait stays in the preemption time (e2e = scheduling delay +
    // execution + preemption): request 1's covers its wait and its transfer.
    let r1 = &report.requests[1];
    assert!(r1.preempted_ns >= 2 * transfer, "{r1:?}");
    assert_eq!(
        r1.completed_at_ns - r1.arrived_at_ns,
        r1.scheduled_at_ns - r1.arrived_at_ns + r1.execution_ns + r1.preempted_ns
    );
    // Streamed row by row, as the command line writes it: the same file.
    assert_eq!(streamed_csv(&c, &inputs), csv);
    // Aggregated: Vidur's columns and the replica, nothing after.
    let c = config(&[
        ("request_generator_config_type", "trace"),
        ("trace_request_generator_config_trace_file", "t.csv"),
    ]);
    let report = run_checked(&c, &inputs);
    let csv = report.request_metrics_csv();
    assert!(csv.lines().next().unwrap().ends_with(",request_arrived_at,replica"), "{csv}");
    assert!(csv.lines().all(|l| l.split(',').count() == 25), "{csv}");
    assert!(report.request_transfers.is_empty());
    assert_eq!(streamed_csv(&c, &inputs), csv);
}

#[test]
fn layerwise_transfer_of_a_restarted_prefill_hides_only_its_last_attempts_span() {
    // phi-2 (32 layers, 32 KV heads × 80, bf16: 327,680 KV bytes per token) on two pipeline
    // stages per pool (16 layers, 163,840 bytes per GPU); the decode pool on another node type:
    // RDMA at 25 GB/s and 20 µs. Prefill replica: 200 blocks, 512-token chunks, prefix caching
    // on. A (2048 tokens, one output token: it ends where it is prefilled) and B (1600 tokens)
    // are prefilled chunk by chunk, one micro-batch each; when A's next chunk finds no block
    // B, the newest, is preempted by recompute. After A's end B prefills again, re-hitting its
    // own cached blocks, and is handed off. Its KV was dropped at the restart: the layers can
    // only have been sent during its last attempt, not since its first schedule (which, long
    // before, hid all but the last layer's share).
    let inputs = trace(&[(0.0, 2048, 1), (0.0, 1600, 3)]);
    let c = disagg_config(&[
        ("replica_config_model_name", "microsoft/phi-2"),
        ("replica_config_num_pipeline_stages", "2"),
        ("cache_config_num_blocks", "200"),
        ("cache_config_num_preallocate_tokens", "0"),
        ("cache_config_enable_prefix_caching", "true"),
        ("vllm_v1_scheduler_config_chunk_size", "512"),
        ("disaggregation_config_layerwise_transfer", "true"),
        ("disaggregation_config_decode_network_device", "h100_pairwise_nvlink"),
        ("disaggregation_config_decode_num_blocks", "2000"),
        ("metrics_config_enable_chrome_trace", "true"),
    ]);
    let report = run_checked(&c, &inputs);
    check_report_invariants(&report).unwrap();
    let (a, b) = (&report.requests[0], &report.requests[1]);
    assert_eq!((a.id, a.num_restarts, b.id, b.num_restarts), (0, 0, 1, 1));
    // B's last attempt: its batches on the prefill replica after A's end (stage 0's start).
    let attempt: Vec<u64> = report
        .chrome_trace
        .iter()
        .filter(|s| {
            s.replica == 0 && s.stage == 0 && s.request_ids.contains(&1) && s.start_ns >= a.completed_at_ns
        })
        .map(|s| s.start_ns)
        .collect();
    assert!(!attempt.is_empty());
    let (start, end) = (attempt[0], b.prefill_completed_at_ns);
    assert!(b.scheduled_at_ns < a.completed_at_ns && start < end);
    let bytes_ns = (1600 * 327_680 / 2u64).div_ceil(25);
    let last_layer = bytes_ns.div_ceil(16);
    // The only transfer: the links were free all along.
    let t = report.request_transfers[&1];
    assert_eq!(t.wait_ns, 0);
    assert!(end - start < bytes_ns - last_layer, "the last attempt is shorter than the byte time");
    assert_eq!(t.transfer_ns, bytes_ns - (end - start) + 20_000);
    // Measured from its first schedule, the span hid all but the last layer's share.
    assert!(end - b.scheduled_at_ns > bytes_ns);
    assert!(t.transfer_ns > last_layer + 20_000);
}
