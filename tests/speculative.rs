//! Speculative decoding (`--replica_config_speculative_*`, issue 18): decode steps counted by
//! hand at acceptance 1, 0 and ½, outputs never overshot, KV and weights of the draft in the
//! memory plan, the draft's cost in the breakdown, TPOT, determinism, and every flag's error.

use llmsim_engine::{Inputs, SimConfig, Simulation};
use llmsim_tests::{check_report_invariants, config, run_checked};

/// One request of `prefill` → `decode` tokens, alone on a vllm_v1 replica (Llama-2-7B, A100),
/// with `extra` flags.
fn one_request(prefill: &str, decode: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = [
        ("replica_scheduler_config_type", "vllm_v1"),
        ("synthetic_request_generator_config_num_requests", "1"),
        ("length_generator_config_type", "fixed"),
        ("fixed_request_length_generator_config_prefill_tokens", prefill),
        ("fixed_request_length_generator_config_decode_tokens", decode),
        ("interval_generator_config_type", "static"),
        ("metrics_config_store_request_metrics", "true"),
        ("metrics_config_store_operation_metrics", "true"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    pairs
}

fn run(pairs: &[(String, String)]) -> llmsim_engine::Report {
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let report = run_checked(&config(&refs), &Inputs::new());
    check_report_invariants(&report).unwrap();
    report
}

fn mtp(k: &str, rate: &str) -> [(&'static str, String); 3] {
    [
        ("replica_config_speculative_method", "mtp".to_string()),
        ("replica_config_num_speculative_tokens", k.to_string()),
        ("replica_config_speculative_acceptance_rate", rate.to_string()),
    ]
}

fn with<'a>(extra: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    extra.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn at_acceptance_one_decode_steps_fall_by_k_plus_one() {
    // 64 → 13: the prefill's step emits the first token; 12 are left. Without speculation
    // 12 decode steps, with k = 3 at acceptance 1 each step emits 4: 12 / 4 = 3 steps.
    let off = run(&one_request("64", "13", &[]));
    assert_eq!(off.summary.num_batches, 1 + 12);
    let spec = mtp("3", "1");
    let on = run(&one_request("64", "13", &with(&spec)));
    assert_eq!(on.summary.num_batches, 1 + 3);
    assert_eq!(on.requests[0].num_decode_tokens, 13);
    // Every step but the prefill's emitted 4 tokens at once: the per-token TPOT is about a
    // quarter (a step costs more: it verifies 4 tokens and runs the draft 3 times).
    let (tpot_off, tpot_on) = (off.requests[0].tpot().unwrap(), on.requests[0].tpot().unwrap());
    assert!(tpot_on < tpot_off / 3.0, "{tpot_on} vs {tpot_off}");
}

#[test]
fn a_step_emitting_several_tokens_is_one_tbt_sample_of_its_whole_gap() {
    // 64 → 13 at k = 3, acceptance 1: three decode steps of 4 tokens each. A streaming client
    // sees three chunks, each after a whole step: three TBT samples of a step's time, and the
    // request's largest gap is a step, not a quarter of one. TPOT still averages per token.
    let spec = mtp("3", "1");
    let on = run(&one_request("64", "13", &with(&spec)));
    assert_eq!(on.summary.tbt_s.count, 3);
    let r = &on.requests[0];
    let step = (r.e2e() - r.ttft()) / 3.0;
    let max_gap = r.max_token_gap_ns as f64 * 1e-9;
    assert!(max_gap >= step * 0.999 && max_gap < step * 1.1, "{max_gap} vs a step of {step}");
    assert!((on.summary.tbt_s.mean - step).abs() < 1e-6 * step, "{} vs {step}", on.summary.tbt_s.mean);
    assert!((r.tpot().unwrap() - step / 4.0).abs() < 1e-9);
}

#[test]
fn a_request_never_overshoots_its_output_length() {
    // 14 outputs: 13 after the prefill; k = 3 at acceptance 1 emits 4, 4, 4 and then only the
    // 1 left (the last step verifies 1 token, no draft).
    let spec = mtp("3", "1");
    let on = run(&one_request("64", "14", &with(&spec)));
    assert_eq!(on.summary.num_batches, 1 + 4);
    assert_eq!(on.requests[0].num_decode_tokens, 14);
    assert_eq!(on.summary.throughput.output_tokens_per_s * on.summary.simulated_time_s, 14.0);
}

#[test]
fn at_acceptance_zero_each_step_emits_one_token_but_pays_the_draft() {
    let off = run(&one_request("64", "13", &[]));
    let spec = mtp("2", "0");
    let on = run(&one_request("64", "13", &with(&spec)));
    assert_eq!(on.summary.num_batches, 1 + 12, "one token per step");
    assert!(on.operation_cdfs.contains_key("speculative_draft"), "{:?}", on.operation_cdfs.keys());
    assert!(!off.operation_cdfs.contains_key("speculative_draft"));
    // The same steps, each verifying 3 tokens and drafting twice: slower.
    assert!(on.requests[0].tpot().unwrap() > off.requests[0].tpot().unwrap());
}

#[test]
fn at_acceptance_one_half_steps_alternate_one_and_two_tokens() {
    // k = 1, r = ½: 1.5 tokens a step by expected-value accounting with a carry: 1, 2, 1, 2, ...
    // 12 tokens after the prefill take 8 steps (the last, 2 tokens left, verifies 1 draft).
    let spec = mtp("1", "0.5");
    let on = run(&one_request("64", "13", &with(&spec)));
    assert_eq!(on.summary.num_batches, 1 + 8);
    // Per-position rates: k = 2 at 1 then 0 is 2 tokens a step: 6 steps.
    let rates = [
        ("replica_config_speculative_method", "eagle".to_string()),
        ("replica_config_num_speculative_tokens", "2".to_string()),
        ("replica_config_speculative_acceptance_rates", "1,0".to_string()),
    ];
    let on = run(&one_request("64", "13", &with(&rates)));
    assert_eq!(on.summary.num_batches, 1 + 6);
}

/// The configuration of `pairs` built.
fn built(pairs: &[(&str, &str)]) -> SimConfig {
    SimConfig::build(&config(pairs), &Inputs::new()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_memory_plan_holds_the_draft_weights_and_its_kv() {
    // Llama-2-7B at TP 1, fp16: one layer's KV is 2 × 32 heads × 128 × 2 bytes = 16 KiB a
    // token, 32 layers 512 KiB. An MTP layer adds one layer's KV and weights plus its
    // 2E × E input projection (E = 4096).
    let base = built(&[]);
    let spec = mtp("2", "0.7");
    let on = built(&with(&spec));
    assert_eq!(base.memory.kv_bytes_per_token, 32 * 16_384);
    assert_eq!(on.memory.kv_bytes_per_token, 33 * 16_384);
    let layer = llmsim_engine::memory::params_per_layer(&base.replica);
    assert_eq!(on.memory.params_per_device - base.memory.params_per_device, layer + 2 * 4096 * 4096);
    assert!(on.memory.num_blocks < base.memory.num_blocks);
    // A draft model: Llama-3.2-1B for Llama-3.1-8B, its 16 layers' KV (8 KV heads × 64... per
    // its own shape) and all of its weights.
    let target = [
        ("replica_config_model_name", "meta-llama/Llama-3.1-8B"),
        ("replica_config_device", "h100"),
        ("replica_config_network_device", "h100_dgx"),
    ];
    let base = built(&target);
    let mut pairs = target.to_vec();
    pairs.extend([
        ("replica_config_speculative_method", "draft_model"),
        ("replica_config_speculative_draft_model_name", "meta-llama/Llama-3.2-1B"),
    ]);
    let on = built(&pairs);
    let draft = llmsim_engine::catalog::find_model("meta-llama/Llama-3.2-1B").unwrap();
    let draft_kv =
        2 * u64::from(draft.num_kv_heads) * u64::from(draft.head_dim()) * 2 * u64::from(draft.num_layers);
    assert_eq!(on.memory.kv_bytes_per_token - base.memory.kv_bytes_per_token, draft_kv);
    assert!(on.memory.params_per_device - base.memory.params_per_device > 1_000_000_000);
}

#[test]
fn a_loaded_replica_conserves_tokens_and_kv_and_speculation_lowers_tpot() {
    // 64 requests at once, k = 3 at 0.7: every invariant after every event (KV blocks
    // conserved, INV-4), every request completes with exactly its tokens; TPOT falls.
    let base = [
        ("replica_scheduler_config_type", "vllm_v1"),
        ("synthetic_request_generator_config_num_requests", "64"),
        ("length_generator_config_type", "uniform"),
        ("uniform_request_length_generator_config_max_tokens", "1024"),
        ("interval_generator_config_type", "static"),
        ("metrics_config_store_request_metrics", "true"),
        ("cache_config_num_blocks", "400"),
    ];
    let off = run(&base.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>());
    let mut pairs: Vec<(String, String)> = base.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    pairs.extend(mtp("3", "0.7").iter().map(|(k, v)| (k.to_string(), v.clone())));
    let on = run(&pairs);
    assert_eq!(on.requests.len(), 64);
    assert!(
        on.summary.num_preemptions > 0,
        "the cache is small enough to preempt: restarts keep the accounting"
    );
    for (a, b) in off.requests.iter().zip(&on.requests) {
        assert_eq!(a.num_decode_tokens, b.num_decode_tokens);
    }
    assert!(
        on.summary.tpot_s.mean < off.summary.tpot_s.mean,
        "{} vs {}",
        on.summary.tpot_s.mean,
        off.summary.tpot_s.mean
    );
    // Same inputs, byte-identical report.
    let again = run(&pairs);
    assert_eq!(on.summary_json(), again.summary_json());
}

/// The errors of building `pairs`, as `(flag, message)`.
fn errors(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    match SimConfig::build(&config(pairs), &Inputs::new()) {
        Ok(_) => panic!("{pairs:?} should be refused"),
        Err(e) => e.0.into_iter().map(|e| (e.flag, e.message)).collect(),
    }
}

/// Flags, then the flag the error names and a part of its message.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);

#[test]
fn bad_speculative_flags_are_refused_naming_the_flag() {
    const M: (&str, &str) = ("replica_config_speculative_method", "mtp");
    let cases: &[Case] = &[
        (
            &[M, ("replica_config_num_speculative_tokens", "0")],
            "replica_config_num_speculative_tokens",
            "between 1 and 16",
        ),
        (
            &[M, ("replica_config_num_speculative_tokens", "17")],
            "replica_config_num_speculative_tokens",
            "between 1 and 16",
        ),
        (
            &[M, ("replica_config_speculative_acceptance_rate", "1.5")],
            "replica_config_speculative_acceptance_rate",
            "between 0 and 1",
        ),
        (
            &[M, ("replica_config_speculative_acceptance_rate", "-0.1")],
            "replica_config_speculative_acceptance_rate",
            "between 0 and 1",
        ),
        (
            &[
                M,
                ("replica_config_num_speculative_tokens", "3"),
                ("replica_config_speculative_acceptance_rates", "0.8,0.6"),
            ],
            "replica_config_speculative_acceptance_rates",
            "has 2 rates, but --replica_config_num_speculative_tokens is 3",
        ),
        (
            &[M, ("replica_config_speculative_acceptance_rates", "x")],
            "replica_config_speculative_acceptance_rates",
            "'x', is not a number between 0 and 1",
        ),
        (
            &[M, ("replica_config_speculative_acceptance_rates", "1.2")],
            "replica_config_speculative_acceptance_rates",
            "is not a number between 0 and 1",
        ),
        (
            &[("replica_config_speculative_method", "draft_model")],
            "replica_config_speculative_draft_model_name",
            "must name a catalogue model",
        ),
        (
            &[
                ("replica_config_speculative_method", "draft_model"),
                ("replica_config_speculative_draft_model_name", "no/such-model"),
            ],
            "replica_config_speculative_draft_model_name",
            "unknown model 'no/such-model'",
        ),
        (
            &[M, ("replica_scheduler_config_type", "sarathi")],
            "replica_config_speculative_method",
            "the sarathi scheduler does not",
        ),
        (
            &[M, ("replica_scheduler_config_type", "orca")],
            "replica_config_speculative_method",
            "the orca scheduler does not",
        ),
        (
            &[M, ("disaggregation_config_type", "prefill_decode")],
            "replica_config_speculative_method",
            "not modelled with disaggregated",
        ),
    ];
    for (pairs, flag, message) in cases {
        let errors = errors(pairs);
        assert!(
            errors.iter().any(|(f, m)| f == flag && m.contains(message)),
            "{pairs:?}: expected {flag}: …{message}…, got {errors:?}"
        );
    }
    // A method that is not a choice is refused when the flag is parsed.
    assert!(llmsim_engine::Config::from_pairs([("replica_config_speculative_method", "medusa")]).is_err());
}

#[test]
fn speculation_off_is_the_default_and_changes_nothing() {
    const FEW: (&str, &str) = ("synthetic_request_generator_config_num_requests", "20");
    let base = built(&[FEW]);
    assert!(base.speculative.is_none());
    let explicit = built(&[FEW, ("replica_config_speculative_method", "none")]);
    assert_eq!(base.memory, explicit.memory);
    let a = Simulation::new(&base).run_to_report();
    let b = Simulation::new(&explicit).run_to_report();
    assert_eq!(a.summary_json(), b.summary_json());
    // Its settings without a method are ignored, with a warning naming them.
    let ignored = built(&[FEW, ("replica_config_num_speculative_tokens", "3")]);
    assert!(ignored.speculative.is_none());
    assert!(
        ignored.warnings.iter().any(|w| w.starts_with("--replica_config_num_speculative_tokens is ignored")),
        "{:?}",
        ignored.warnings
    );
}

#[test]
fn speculation_with_prefix_caching_pipeline_stages_and_async_scheduling_keeps_every_invariant() {
    // The conversation trace's shared prefixes, a small cache (preemptions), two pipeline
    // stages (the draft on the last) and vLLM's async scheduling, every invariant after every
    // event; then an EAGLE head on two replicas.
    let trace = std::fs::read_to_string(llmsim_tests::repo_root().join("tests/scenarios/conversation.csv"))
        .expect("the conversation trace");
    let mut inputs = Inputs::new();
    inputs.add_text("conversation.csv", trace);
    for (method, extra) in [
        ("mtp", ("replica_config_num_pipeline_stages", "2")),
        ("eagle", ("cluster_config_num_replicas", "2")),
    ] {
        let pairs = [
            ("replica_config_model_name", "meta-llama/Meta-Llama-3-8B"),
            ("replica_scheduler_config_type", "vllm_v1"),
            ("vllm_v1_scheduler_config_async_scheduling", "true"),
            ("cache_config_num_blocks", "300"),
            ("cache_config_enable_prefix_caching", "true"),
            ("request_generator_config_type", "trace"),
            ("trace_request_generator_config_trace_file", "conversation.csv"),
            ("global_scheduler_config_type", "lop"),
            ("replica_config_speculative_method", method),
            ("replica_config_num_speculative_tokens", "3"),
            ("replica_config_speculative_acceptance_rates", "0.9,0.6,0.3"),
            extra,
        ];
        let report = run_checked(&config(&pairs), &inputs);
        check_report_invariants(&report).unwrap();
        assert!(report.summary.num_completed > 0, "{method}");
        assert_eq!(report.summary.num_refused + report.summary.num_unfinished, 0, "{method}");
    }
}

#[test]
fn a_token_budget_short_of_a_full_batch_of_verification_steps_is_a_warning() {
    const V1: (&str, &str) = ("replica_scheduler_config_type", "vllm_v1");
    let budget_warning = |k: &str| {
        let spec = mtp(k, "0.7");
        let mut pairs = with(&spec);
        pairs.push(V1);
        built(&pairs).warnings.into_iter().find(|w| w.contains("--vllm_v1_scheduler_config_chunk_size"))
    };
    // Defaults: chunk 512, cap 128. k = 3 verifies 4 × 128 = 512 tokens: enough; k = 4 not.
    assert_eq!(budget_warning("3"), None);
    let w = budget_warning("4").expect("k = 4 starves the running queue");
    assert!(w.contains("holds only 102 verification steps") && w.contains("640"), "{w}");
}

#[test]
fn rate_lists_take_the_list_forms_and_a_single_rate_beside_them_is_a_warning() {
    let steps = |list: &str| {
        let rates = [
            ("replica_config_speculative_method", "eagle".to_string()),
            ("replica_config_num_speculative_tokens", "2".to_string()),
            ("replica_config_speculative_acceptance_rates", list.to_string()),
        ];
        run(&one_request("64", "13", &with(&rates))).summary.num_batches
    };
    assert_eq!(steps("1,0"), 1 + 6);
    assert_eq!(steps("[1, 0]"), 1 + 6);
    assert_eq!(steps("1 0"), 1 + 6);
    let both = built(&[
        ("replica_config_speculative_method", "mtp"),
        ("replica_config_num_speculative_tokens", "2"),
        ("replica_config_speculative_acceptance_rate", "0.5"),
        ("replica_config_speculative_acceptance_rates", "0.9,0.8"),
    ]);
    assert_eq!(both.speculative.as_ref().unwrap().rates, vec![0.9, 0.8]);
    assert!(
        both.warnings
            .iter()
            .any(|w| w.starts_with("--replica_config_speculative_acceptance_rate is ignored")),
        "{:?}",
        both.warnings
    );
    // An out-of-range k is one error, not also one about the list's length.
    let errors = errors(&[
        ("replica_config_speculative_method", "mtp"),
        ("replica_config_num_speculative_tokens", "17"),
        ("replica_config_speculative_acceptance_rates", "0.8,0.6"),
    ]);
    assert!(errors.iter().any(|(f, _)| f == "replica_config_num_speculative_tokens"), "{errors:?}");
    assert!(!errors.iter().any(|(f, _)| f == "replica_config_speculative_acceptance_rates"), "{errors:?}");
}

#[test]
fn trtllm_refuses_a_token_budget_that_cannot_hold_one_verification_step() {
    // TensorRT-LLM plans a generation request with all its k + 1 tokens or not at all: a budget
    // of 3 with k = 3 would never schedule one (the run stalled, every request left waiting).
    let refused = errors(&[
        ("replica_scheduler_config_type", "trtllm"),
        ("replica_config_speculative_method", "mtp"),
        ("replica_config_num_speculative_tokens", "3"),
        ("trtllm_scheduler_config_max_num_tokens", "3"),
    ]);
    assert!(
        refused
            .iter()
            .any(|(flag, m)| flag == "trtllm_scheduler_config_max_num_tokens" && m.contains("k + 1 = 4")),
        "{refused:?}"
    );
    // k + 1 exactly fits: built, and every request completes.
    let pairs = one_request(
        "16",
        "9",
        &[
            ("replica_scheduler_config_type", "trtllm"),
            ("trtllm_scheduler_config_enable_chunked_context", "true"),
            ("trtllm_scheduler_config_max_num_tokens", "4"),
            ("replica_config_speculative_method", "mtp"),
            ("replica_config_num_speculative_tokens", "3"),
        ],
    );
    let report = run(&pairs);
    assert_eq!((report.summary.num_completed, report.summary.num_unfinished), (1, 0));
}

#[test]
fn trtllm_speculation_keeps_every_invariant_under_both_capacity_policies_and_chunked_context() {
    // The conversation trace on a small cache, so that max_utilization pauses (recomputes)
    // speculating requests; every invariant after every event, nothing refused or unfinished.
    let trace = std::fs::read_to_string(llmsim_tests::repo_root().join("tests/scenarios/conversation.csv"))
        .expect("the conversation trace");
    let mut inputs = Inputs::new();
    inputs.add_text("conversation.csv", trace);
    for (policy, chunked) in [("guaranteed_no_evict", "false"), ("max_utilization", "true")] {
        let pairs = [
            ("replica_config_model_name", "meta-llama/Meta-Llama-3-8B"),
            ("replica_scheduler_config_type", "trtllm"),
            ("trtllm_scheduler_config_capacity_scheduler_policy", policy),
            ("trtllm_scheduler_config_enable_chunked_context", chunked),
            ("cache_config_num_blocks", "300"),
            ("request_generator_config_type", "trace"),
            ("trace_request_generator_config_trace_file", "conversation.csv"),
            ("replica_config_speculative_method", "mtp"),
            ("replica_config_num_speculative_tokens", "3"),
            ("replica_config_speculative_acceptance_rates", "0.9,0.6,0.3"),
        ];
        let report = run_checked(&config(&pairs), &inputs);
        check_report_invariants(&report).unwrap();
        assert!(report.summary.num_completed > 0, "{policy}");
        assert_eq!(report.summary.num_refused + report.summary.num_unfinished, 0, "{policy}");
    }
}

/// `pairs` on the sglang scheduler instead of vllm_v1.
fn on_sglang(mut pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    for (k, v) in &mut pairs {
        if k == "replica_scheduler_config_type" {
            *v = "sglang".to_string();
        }
    }
    pairs
}

#[test]
fn sglang_at_acceptance_one_decode_steps_fall_by_k_plus_one() {
    // As on vllm_v1: 64 → 13, 12 tokens after the prefill: 12 decode steps without
    // speculation, 12 / (3 + 1) = 3 with k = 3 (SGLang's --speculative-num-steps 3, top-1,
    // 4 draft tokens) at acceptance 1.
    let off = run(&on_sglang(one_request("64", "13", &[])));
    assert_eq!(off.summary.num_batches, 1 + 12);
    let spec = mtp("3", "1");
    let on = run(&on_sglang(one_request("64", "13", &with(&spec))));
    assert_eq!(on.summary.num_batches, 1 + 3);
    assert_eq!(on.requests[0].num_decode_tokens, 13);
    let (tpot_off, tpot_on) = (off.requests[0].tpot().unwrap(), on.requests[0].tpot().unwrap());
    assert!(tpot_on < tpot_off / 3.0, "{tpot_on} vs {tpot_off}");
    // `--serving_engine sglang` with no step count takes SGLang's auto choice, 3 steps.
    let auto = [
        ("serving_engine", "sglang".to_string()),
        ("replica_config_speculative_method", "mtp".to_string()),
        ("replica_config_speculative_acceptance_rate", "1".to_string()),
    ];
    let on = run(&one_request("64", "13", &with(&auto)));
    assert_eq!(on.summary.num_batches, 1 + 3);
}

#[test]
fn sglang_s_draft_costs_time_and_its_tree_verifies_more_tokens_per_step() {
    // Acceptance 0: one token a step, as many steps as without speculation, each slower: it
    // verifies 3 tokens and drafts twice.
    let off = run(&on_sglang(one_request("64", "13", &[])));
    let spec = mtp("2", "0");
    let on = run(&on_sglang(one_request("64", "13", &with(&spec))));
    assert_eq!(on.summary.num_batches, 1 + 12);
    assert!(on.operation_cdfs.contains_key("speculative_draft"));
    assert!(on.requests[0].tpot().unwrap() > off.requests[0].tpot().unwrap());
    // A tree of 5 steps, top-4, 8 draft tokens at acceptance 1 emits 6 tokens a step, as a
    // chain of 5 does: 2 steps each; but each step verifies 8 tokens and drafts 4 candidates
    // per step, so its TPOT is higher.
    let eagle = |extra: &[(&'static str, &'static str)]| {
        let mut flags = vec![
            ("replica_config_speculative_method", "eagle".to_string()),
            ("replica_config_num_speculative_tokens", "5".to_string()),
            ("replica_config_speculative_acceptance_rate", "1".to_string()),
        ];
        flags.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        run(&on_sglang(one_request("64", "13", &with(&flags))))
    };
    let chain = eagle(&[]);
    let tree = eagle(&[
        ("sglang_scheduler_config_speculative_eagle_topk", "4"),
        ("sglang_scheduler_config_speculative_num_draft_tokens", "8"),
    ]);
    assert_eq!((chain.summary.num_batches, tree.summary.num_batches), (1 + 2, 1 + 2));
    assert!(tree.requests[0].tpot().unwrap() > chain.requests[0].tpot().unwrap());
    // A tree of 4 draft tokens reaches depth 3 at most: 4 tokens a step, 3 steps.
    let shallow = eagle(&[
        ("sglang_scheduler_config_speculative_eagle_topk", "4"),
        ("sglang_scheduler_config_speculative_num_draft_tokens", "4"),
    ]);
    assert_eq!(shallow.summary.num_batches, 1 + 3);
}

#[test]
fn sglang_speculation_flags_are_checked_as_sglang_checks_them() {
    const S: (&str, &str) = ("replica_scheduler_config_type", "sglang");
    const M: (&str, &str) = ("replica_config_speculative_method", "eagle");
    const K: (&str, &str) = ("replica_config_num_speculative_tokens", "3");
    const TOPK: &str = "sglang_scheduler_config_speculative_eagle_topk";
    const DRAFTS: &str = "sglang_scheduler_config_speculative_num_draft_tokens";
    let cases: &[Case] = &[
        (&[S, M, K, (TOPK, "2")], DRAFTS, "must be given with"),
        // The root plus 2 + 2 × 4 candidates: 11 at most.
        (&[S, M, K, (TOPK, "2"), (DRAFTS, "12")], DRAFTS, "is not between 2 and 11"),
        (
            &[S, M, K, (TOPK, "2"), (DRAFTS, "6"), ("sglang_scheduler_config_overlap_schedule", "true")],
            "sglang_scheduler_config_overlap_schedule",
            "runs only",
        ),
        (&[S, M, K, (TOPK, "0")], TOPK, "between 1 and 16"),
        (
            &[
                S,
                ("replica_config_speculative_method", "draft_model"),
                ("replica_config_speculative_draft_model_name", "meta-llama/Llama-3.2-1B"),
                ("replica_config_model_name", "meta-llama/Llama-3.1-8B"),
                ("replica_config_attention_dp_size", "2"),
            ],
            "replica_config_speculative_method",
            "without attention DP only",
        ),
    ];
    for (pairs, flag, message) in cases {
        let errors = errors(pairs);
        assert!(
            errors.iter().any(|(f, m)| f == flag && m.contains(message)),
            "{pairs:?}: expected {flag}: …{message}…, got {errors:?}"
        );
    }
    let ok = built(&[S, M, K, (TOPK, "2"), (DRAFTS, "11")]);
    let tree = ok.speculative.as_ref().unwrap().tree.unwrap();
    assert_eq!((tree.num_steps, tree.topk, tree.num_draft_tokens), (3, 2, 11));
    // Top-1 takes num_steps + 1 draft tokens, another value with a warning, as SGLang adjusts it.
    let chain = built(&[S, M, K, (DRAFTS, "6"), ("sglang_scheduler_config_enable_mixed_chunk", "true")]);
    assert_eq!(chain.speculative.as_ref().unwrap().tree.unwrap().num_draft_tokens, 4);
    assert!(chain.warnings.iter().any(|w| w.contains("is adjusted to")), "{:?}", chain.warnings);
    assert!(chain.warnings.iter().any(|w| w.contains("mixed_chunk is turned off")), "{:?}", chain.warnings);
    // Other schedulers run no tree; the tree's flags are ignored there, with a warning.
    let vllm = built(&[M, K, (TOPK, "2"), (DRAFTS, "6")]);
    assert!(vllm.speculative.as_ref().unwrap().tree.is_none());
    assert!(vllm.warnings.iter().any(|w| w.contains(TOPK)), "{:?}", vllm.warnings);
}

#[test]
fn sglang_speculation_keeps_every_invariant_through_retractions_and_is_deterministic() {
    // The conversation trace on a small cache, so that SGLang retracts speculating requests
    // (the chain does; the tree with the radix cache off happens not to);
    // every invariant after every event, nothing refused or unfinished, same report twice.
    let trace = std::fs::read_to_string(llmsim_tests::repo_root().join("tests/scenarios/conversation.csv"))
        .expect("the conversation trace");
    let mut inputs = Inputs::new();
    inputs.add_text("conversation.csv", trace);
    for (topk, drafts, prefix) in [("1", "none", "true"), ("2", "6", "false")] {
        let pairs = [
            ("replica_config_model_name", "meta-llama/Meta-Llama-3-8B"),
            ("replica_scheduler_config_type", "sglang"),
            ("cache_config_num_blocks", "1600"),
            ("cache_config_block_size", "1"),
            ("cache_config_enable_prefix_caching", prefix),
            ("request_generator_config_type", "trace"),
            ("trace_request_generator_config_trace_file", "conversation.csv"),
            ("replica_config_speculative_method", "mtp"),
            ("replica_config_num_speculative_tokens", "3"),
            ("replica_config_speculative_acceptance_rates", "0.9,0.6,0.3"),
            ("sglang_scheduler_config_speculative_eagle_topk", topk),
            ("sglang_scheduler_config_speculative_num_draft_tokens", drafts),
        ];
        let report = run_checked(&config(&pairs), &inputs);
        check_report_invariants(&report).unwrap();
        assert!(report.summary.num_completed > 0, "top-{topk}");
        assert_eq!(report.summary.num_refused + report.summary.num_unfinished, 0, "top-{topk}");
        if topk == "1" {
            assert!(report.summary.num_preemptions > 0, "the cache is small enough to retract");
        }
        let again = run_checked(&config(&pairs), &inputs);
        assert_eq!(report.summary_json(), again.summary_json());
    }
}
