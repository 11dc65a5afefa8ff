use super::*;
use crate::config::fill_placeholders;

fn build(pairs: &[(&str, &str)]) -> Result<SimConfig, ConfigErrors> {
    let config = Config::from_pairs(pairs.iter().copied()).expect("pairs parse");
    SimConfig::build(&config, &Inputs::new())
}

#[test]
fn defaults_build() {
    let c = build(&[]).expect("the default configuration is valid");
    assert_eq!(c.replica.model.name, "meta-llama/Llama-2-7b-hf");
    assert_eq!(c.router.name, "round_robin");
    assert!(c.memory.num_blocks > 1000);
}

#[test]
fn tp_not_dividing_heads_is_refused_with_a_hint() {
    let e = build(&[("replica_config_tensor_parallel_size", "3")]).unwrap_err();
    let tp = e.0.iter().find(|e| e.flag == "replica_config_tensor_parallel_size").expect("TP error");
    assert!(tp.message.contains("32 attention heads"), "{tp}");
    assert!(tp.hint.as_ref().unwrap().contains("1, 2, 4, 8"), "{tp}");
}

#[test]
fn model_too_big_is_refused_with_numbers() {
    let e = build(&[
        ("replica_config_model_name", "meta-llama/Meta-Llama-3-70B"),
        ("replica_config_device", "h100"),
        ("replica_config_network_device", "h100_dgx"),
    ])
    .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("GiB per GPU") && !text.contains(" GB"), "{text}");
    assert!(text.contains("TP"), "{text}");
}

#[test]
fn every_error_is_reported_at_once() {
    let e = build(&[
        ("cluster_config_num_replicas", "0"),
        ("cache_config_block_size", "24"),
        ("replica_config_device", "h1000"),
    ])
    .unwrap_err();
    let flags: Vec<_> = e.0.iter().map(|e| e.flag.as_str()).collect();
    assert!(flags.contains(&"cluster_config_num_replicas"));
    assert!(flags.contains(&"cache_config_block_size"));
    assert!(flags.contains(&"replica_config_device"));
    let device = e.0.iter().find(|e| e.flag == "replica_config_device").unwrap();
    assert_eq!(device.hint.as_deref(), Some("did you mean 'h100'?"));
}

#[test]
fn clusters_too_big_to_simulate_are_refused() {
    let e = build(&[
        ("cluster_config_num_replicas", "100000"),
        ("synthetic_request_generator_config_num_requests", "10"),
    ])
    .unwrap_err();
    let e = e.0.iter().find(|e| e.flag == "cluster_config_num_replicas").expect("names the replica flag");
    assert!(e.hint.as_ref().unwrap().contains("at most"), "{e}");
}

fn build_with(pairs: &[(&str, &str)], files: &[(&str, &str)]) -> Result<SimConfig, ConfigErrors> {
    let config = Config::from_pairs(pairs.iter().copied()).expect("pairs parse");
    let mut inputs = Inputs::new();
    for (path, text) in files {
        inputs.add_text(*path, *text);
    }
    SimConfig::build(&config, &inputs)
}

const QWEN2_7B: &str = r#"{"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_act": "silu",
    "hidden_size": 3584, "intermediate_size": 18944, "max_position_embeddings": 131072,
    "num_attention_heads": 28, "num_hidden_layers": 28, "num_key_value_heads": 4,
    "rms_norm_eps": 1e-06, "sliding_window": 131072, "tie_word_embeddings": false,
    "use_sliding_window": false, "vocab_size": 152064"#;

#[test]
fn a_custom_config_is_named_by_its_file_unless_the_name_is_given() {
    let file = ("replica_config_model_config_file", "models/qwen2_7b.json");
    // No _name_or_path: the file name.
    let c = build_with(&[file], &[("models/qwen2_7b.json", &format!("{QWEN2_7B}}}"))])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.replica.model.name, "qwen2_7b.json");
    assert_eq!(
        c.raw.get("replica_config_model_name").to_text(),
        "qwen2_7b.json",
        "config.json names the model simulated"
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    // _name_or_path.
    let named = format!(r#"{QWEN2_7B}, "_name_or_path": "Qwen/Qwen2-7B"}}"#);
    let c = build_with(&[file], &[("models/qwen2_7b.json", &named)]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.replica.model.name, "Qwen/Qwen2-7B");
    assert_eq!(c.raw.to_json(true)["replica_config_model_name"], "Qwen/Qwen2-7B");
    // The config.json written back builds the same model.
    let again = SimConfig::build(&c.raw, &{
        let mut i = Inputs::new();
        i.add_text("models/qwen2_7b.json", named.as_str());
        i
    })
    .unwrap();
    assert_eq!(again.replica.model, c.replica.model);
    // An explicit name wins, even the default one.
    let c = build_with(
        &[file, ("replica_config_model_name", "meta-llama/Llama-2-7b-hf")],
        &[("models/qwen2_7b.json", &named)],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.replica.model.name, "meta-llama/Llama-2-7b-hf");
    // So does the does-not-fit error.
    let e = build_with(
        &[file, ("cache_config_memory_margin_fraction", "0.9")],
        &[("models/qwen2_7b.json", &named)],
    )
    .unwrap_err();
    assert!(e.to_string().contains("Qwen/Qwen2-7B does not fit"), "{e}");
}

#[test]
fn custom_config_warnings_and_refusals_name_the_file() {
    let gemma = r#"{"model_type": "gemma2", "head_dim": 256, "hidden_act": "gelu_pytorch_tanh", "hidden_size": 3584,
        "intermediate_size": 14336, "max_position_embeddings": 8192, "num_attention_heads": 16,
        "num_hidden_layers": 42, "num_key_value_heads": 8, "sliding_window": 4096, "vocab_size": 256000,
        "_name_or_path": "google/gemma-2-9b"}"#;
    let c = build_with(
        &[("replica_config_model_config_file", "g.json"), ("replica_config_device", "h100")],
        &[("g.json", gemma)],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        c.warnings.iter().any(|w| w.starts_with("g.json: sliding_window = 4096 is ignored")),
        "{:?}",
        c.warnings
    );
    let p = c.memory.params_per_device as f64;
    assert!((9.2e9..9.3e9).contains(&p), "Gemma-2-9B has 9.24 B parameters, not {p}");
    let mla = r#"{"model_type": "deepseek_v2", "hidden_size": 2048, "num_hidden_layers": 27, "num_attention_heads": 16,
        "kv_lora_rank": 512, "qk_rope_head_dim": 64, "q_lora_rank": null, "vocab_size": 102400,
        "intermediate_size": 10944}"#;
    let e = build_with(&[("replica_config_model_config_file", "ds.json")], &[("ds.json", mla)]).unwrap_err();
    let e = e.0.iter().find(|e| e.flag == "replica_config_model_config_file").expect("names the file flag");
    // Latent attention is modelled, so each of its sizes is required, and a missing one named.
    assert!(e.message.starts_with("ds.json: field 'qk_nope_head_dim' is missing"), "{e}");
}

#[test]
fn a_model_named_without_its_organisation_resolves_and_suggestions_prefer_the_exact_name() {
    let c = build(&[("replica_config_model_name", "Meta-Llama-3-8B"), ("replica_config_device", "h100")])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.replica.model.name, "meta-llama/Meta-Llama-3-8B");
    let c = build(&[
        ("replica_config_model_name", "meta-llama/Meta-Llama-3.1-8B-Instruct"),
        ("replica_config_device", "h100"),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.replica.model.name, "meta-llama/Llama-3.1-8B");
    let e = build(&[("replica_config_model_name", "Llama-3-8B")]).unwrap_err();
    let hint = e.0[0].hint.clone().unwrap();
    assert!(hint.starts_with("did you mean 'meta-llama/Meta-Llama-3-8B'?"), "{hint}");
    let config = Config::from_pairs([("replica_config_model_name", "Meta-Llama-3-8B")]).unwrap();
    assert_eq!(fill_placeholders(&config, "{MODEL}/mlp.csv"), "meta-llama/Meta-Llama-3-8B/mlp.csv");
    // The page fills them from the catalogues' compile-time index: the same text.
    assert_eq!(
        crate::config::fill_placeholders_with(&config, "{MODEL}/mlp.csv", &crate::catalog::index::Index),
        "meta-llama/Meta-Llama-3-8B/mlp.csv"
    );
}

#[test]
fn the_router_seed_is_the_value_of_the_flag_its_entry_names() {
    // A trace with sessions, so that every router builds.
    let trace = "arrived_at,num_prefill_tokens,num_decode_tokens,session_id\n0.5,16,4,1\n1.0,16,4,2\n";
    for router in crate::scheduler::global::ROUTERS {
        let flag = router.seed_flag.expect("every router has a seed flag");
        let pairs = [
            ("global_scheduler_config_type", router.name),
            ("request_generator_config_type", "trace"),
            ("trace_request_generator_config_trace_file", "t.csv"),
        ];
        let c = build_with(&pairs, &[("t.csv", trace)]).unwrap_or_else(|e| panic!("{}: {e}", router.name));
        assert_eq!(c.router_seed, 67, "{}: Vidur's default seed", router.name);
        let c = build_with(&[pairs[0], pairs[1], pairs[2], (flag, "1234")], &[("t.csv", trace)]).unwrap();
        assert_eq!(c.router_seed, 1234, "{}", router.name);
    }
}

#[test]
fn a_profile_run_sizes_activations_by_the_schedulers_token_budget_and_cap() {
    let base = [
        ("replica_config_model_name", "meta-llama/Meta-Llama-3-8B"),
        ("replica_config_device", "h100"),
        ("vllm_v1_scheduler_config_chunk_size", "8192"),
        ("vllm_v1_scheduler_config_batch_size_cap", "1024"),
    ];
    let blocks = |extra: &[(&str, &str)]| {
        let mut pairs = base.to_vec();
        pairs.extend_from_slice(extra);
        build(&pairs).unwrap_or_else(|e| panic!("{e}")).memory.num_blocks
    };
    let none = blocks(&[]);
    let profile = blocks(&[("cache_config_activation_memory", "profile")]);
    let r = build(&base).unwrap().replica;
    let reserved = crate::memory::activation_bytes(&r, 8192, 1024);
    // Llama-3-8B: 131,072 KV bytes per token, 16 tokens per block.
    let expected = reserved as f64 / 131_072.0 / 16.0;
    assert!(((none - profile) as f64 - expected).abs() <= 1.0, "{} vs {expected}", none - profile);
    // A smaller token budget reserves less.
    let small = blocks(&[
        ("cache_config_activation_memory", "profile"),
        ("vllm_v1_scheduler_config_chunk_size", "512"),
    ]);
    assert!(small > profile && small < none, "{small} {profile} {none}");
}

#[test]
fn a_custom_device_takes_its_price_from_the_flag_and_a_bad_price_is_refused() {
    let custom = [
        ("replica_config_device", "custom"),
        ("custom_device_config_fp16_tflops", "500"),
        ("custom_device_config_memory_gb", "96"),
        ("custom_device_config_memory_bandwidth_gbps", "4000"),
        ("cluster_config_num_replicas", "3"),
    ];
    let unpriced = build(&custom).unwrap();
    assert_eq!(unpriced.cost.num_gpus, 3);
    assert_eq!(unpriced.cost.usd_per_hour(), None);
    assert!(
        unpriced.warnings.iter().any(|w| w.contains("--cost_config_usd_per_gpu_hour")),
        "{:?}",
        unpriced.warnings
    );
    let mut priced_pairs = custom.to_vec();
    priced_pairs.push(("cost_config_usd_per_gpu_hour", "2.5"));
    let priced = build(&priced_pairs).unwrap();
    assert_eq!(priced.cost.usd_per_hour(), Some(7.5));
    assert_eq!(priced.cost.price_source.as_deref(), Some("--cost_config_usd_per_gpu_hour"));
    let e = build(&[("cost_config_usd_per_gpu_hour", "-1")]).unwrap_err();
    assert_eq!(e.0[0].flag, "cost_config_usd_per_gpu_hour");
    let e = build(&[
        ("slo_config_ttft_max_s", "0"),
        ("slo_config_tpot_max_s", "1"),
        ("slo_config_tpot_quantile", "1.5"),
    ])
    .unwrap_err();
    let flags: Vec<&str> = e.0.iter().map(|e| e.flag.as_str()).collect();
    assert_eq!(flags, ["slo_config_ttft_max_s", "slo_config_tpot_quantile"]);
}

#[test]
fn max_length_reservations_of_a_long_context_model_are_warned_about() {
    let long = [
        ("replica_config_model_name", "meta-llama/Llama-3.1-8B"),
        ("replica_config_device", "h100"),
        ("replica_scheduler_config_type", "orca"),
        ("orca_scheduler_config_batch_size_cap", "64"),
    ];
    let c = build(&long).unwrap();
    let warned = |c: &SimConfig| c.warnings.iter().any(|w| w.contains("max_model_len"));
    assert!(warned(&c), "{:?}", c.warnings);
    // A cap below what fits, or a scheduler that allocates as tokens arrive: no warning.
    let mut small_cap = long.to_vec();
    small_cap[3] = ("orca_scheduler_config_batch_size_cap", "1");
    assert!(!warned(&build(&small_cap).unwrap()));
    assert!(!warned(&build(&long[..2]).unwrap()));
}

#[test]
fn fp4_weights_without_fp4_tensor_cores_are_warned_about() {
    let warned = |device: &str| {
        let c = build(&[
            ("replica_config_model_name", "meta-llama/Meta-Llama-3-8B"),
            ("replica_config_device", device),
            ("replica_config_weight_dtype", "fp4"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        c.warnings.iter().any(|w| w.contains("no FP4 tensor cores"))
    };
    assert!(warned("h100"));
    assert!(!warned("b200"));
    // The whole text, the dtype lower-cased in the second half.
    let c = build(&[
        ("replica_config_model_name", "meta-llama/Meta-Llama-3-8B"),
        ("replica_config_device", "a100"),
        ("replica_config_weight_dtype", "fp8"),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    let expected = "has no FP8 tensor cores: fp8 weights save memory but GEMMs run at the FP16 rate";
    assert!(c.warnings.iter().any(|w| w.ends_with(expected)), "{:?}", c.warnings);
}

#[test]
fn int4_weights_build_without_a_tensor_core_warning_and_bad_dtypes_are_refused() {
    // INT4 weight-only runs at the 16-bit rate by design: nothing to warn about.
    let c = build(&[
        ("replica_config_model_name", "meta-llama/Meta-Llama-3-8B"),
        ("replica_config_device", "h100"),
        ("replica_config_weight_dtype", "int4"),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.replica.weight_dtype, crate::config::Dtype::Int4);
    assert!(!c.warnings.iter().any(|w| w.contains("tensor cores")), "{:?}", c.warnings);
    // A bad dtype is refused when the flags are read, naming the flag, the value and the
    // choices (with a suggestion).
    let refused = |flag: &str, value: &str| {
        let e = Config::from_pairs([(flag, value)]).unwrap_err();
        assert!(e.0.iter().all(|e| e.flag == flag), "{e:?}");
        e.0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")
    };
    let e = refused("replica_config_weight_dtype", "int3");
    assert!(
        e.contains("'int3' is not one of: bf16, fp16, fp8, fp4, int4") && e.contains("did you mean 'int4'"),
        "{e}"
    );
    // INT4 is a weight format only: the KV cache refuses it.
    let e = refused("replica_config_kv_cache_dtype", "int4");
    assert!(e.contains("'int4' is not one of: bf16, fp16, fp8"), "{e}");
}

/// The errors of `pairs` on the given flag, as text.
fn errors_on(pairs: &[(&str, &str)], flag: &str) -> String {
    let e = build(pairs).unwrap_err();
    let texts: Vec<String> = e.0.iter().filter(|e| e.flag == flag).map(|e| e.to_string()).collect();
    assert!(!texts.is_empty(), "no error on {flag}: {e}");
    texts.join("\n")
}

const MIXTRAL_H100: [(&str, &str); 3] = [
    ("replica_config_model_name", "mistralai/Mixtral-8x7B-v0.1"),
    ("replica_config_device", "h100"),
    ("replica_config_network_device", "h100_dgx"),
];

#[test]
fn expert_and_attention_data_parallelism_are_refused_where_not_modelled() {
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut pairs = MIXTRAL_H100.to_vec();
        pairs.extend_from_slice(extra);
        pairs
    };
    // A dense model has no experts to shard.
    let dense =
        errors_on(&[("replica_config_expert_parallel_size", "2")], "replica_config_expert_parallel_size");
    assert!(dense.contains("not a mixture of experts"), "{dense}");
    let dense = errors_on(&[("replica_config_attention_dp_size", "2")], "replica_config_attention_dp_size");
    assert!(dense.contains("cluster_config_num_replicas"), "{dense}");
    // EP must divide TP × DP and the experts.
    let text = errors_on(
        &with(&[("replica_config_tensor_parallel_size", "2"), ("replica_config_expert_parallel_size", "4")]),
        "replica_config_expert_parallel_size",
    );
    assert!(text.contains("does not divide the stage's TP×DP = 2 GPUs"), "{text}");
    let text = errors_on(
        &with(&[
            ("replica_config_tensor_parallel_size", "1"),
            ("replica_config_attention_dp_size", "6"),
            ("replica_config_expert_parallel_size", "3"),
        ]),
        "replica_config_expert_parallel_size",
    );
    assert!(text.contains("8 routed experts"), "{text}");
    // Not with pipeline parallelism or another predictor.
    let text = errors_on(
        &with(&[("replica_config_num_pipeline_stages", "2"), ("replica_config_attention_dp_size", "2")]),
        "replica_config_attention_dp_size",
    );
    assert!(text.contains("pipeline parallelism"), "{text}");
    // SGLang's receive interval is refused with DP attention, as SGLang refuses it.
    let text = errors_on(
        &with(&[
            ("serving_engine", "sglang"),
            ("replica_config_attention_dp_size", "2"),
            ("sglang_scheduler_config_scheduler_recv_interval", "10"),
        ]),
        "sglang_scheduler_config_scheduler_recv_interval",
    );
    assert!(text.contains("needs attention DP off"), "{text}");
    assert!(build(&with(&[("serving_engine", "sglang"), ("replica_config_attention_dp_size", "2")])).is_ok());
    let text = errors_on(
        &with(&[
            ("replica_config_tensor_parallel_size", "2"),
            ("replica_config_expert_parallel_size", "2"),
            ("execution_time_predictor_config_type", "linear_regression"),
        ]),
        "replica_config_expert_parallel_size",
    );
    assert!(text.contains("roofline"), "{text}");
    // A decode pool's EP/DP are checked as a replica's, the error naming the decode flag.
    let text = errors_on(
        &with(&[
            ("replica_config_tensor_parallel_size", "2"),
            ("disaggregation_config_type", "prefill_decode"),
            ("disaggregation_config_decode_expert_parallel_size", "4"),
        ]),
        "disaggregation_config_decode_expert_parallel_size",
    );
    assert!(text.contains("does not divide the stage's TP×DP = 2 GPUs"), "{text}");
    let text = errors_on(
        &with(&[
            ("replica_config_tensor_parallel_size", "2"),
            ("disaggregation_config_type", "prefill_decode"),
            ("disaggregation_config_decode_attention_dp_size", "2"),
            ("disaggregation_config_decode_num_pipeline_stages", "2"),
        ]),
        "disaggregation_config_decode_attention_dp_size",
    );
    assert!(text.contains("pipeline parallelism"), "{text}");
    // EP inherited from the prefill pool that the decode pool's TP cannot take: the error
    // names the decode pool and hints at its own flag.
    let text = errors_on(
        &with(&[
            ("replica_config_tensor_parallel_size", "4"),
            ("replica_config_expert_parallel_size", "4"),
            ("disaggregation_config_type", "prefill_decode"),
            ("disaggregation_config_decode_tensor_parallel_size", "2"),
        ]),
        "replica_config_expert_parallel_size",
    );
    assert!(text.contains("decode pool"), "{text}");
    assert!(text.contains("--disaggregation_config_decode_expert_parallel_size"), "{text}");
    // TP × DP counts against the node like TP.
    let text = errors_on(
        &with(&[("replica_config_tensor_parallel_size", "4"), ("replica_config_attention_dp_size", "3")]),
        "replica_config_tensor_parallel_size",
    );
    assert!(text.contains("TP×DP×PP = 12 GPUs"), "{text}");
}

#[test]
fn a_deployed_moe_replica_builds_with_its_ranks() {
    let mut pairs = MIXTRAL_H100.to_vec();
    pairs.extend([
        ("replica_config_tensor_parallel_size", "2"),
        ("replica_config_attention_dp_size", "2"),
        ("replica_config_expert_parallel_size", "4"),
    ]);
    let c = build(&pairs).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.replica.parallel.world_size(), 4);
    assert_eq!(c.replica.parallel.expert_tensor_parallel_size(), 1);
    assert_eq!(c.memory.attention_dp_size, 2);
    assert!(c.predictor.build.describe().contains("EP 4 × expert TP 1, attention DP 2"));
}

#[test]
fn each_disaggregated_pool_plans_memory_for_its_own_ranks() {
    // Prefill TP 2 (no EP/DP), decode TP 1 × attention DP 2 with EP 2 on Mixtral (8 experts,
    // 32 layers, 8 KV heads × 128, bf16). Each pool's plan is an aggregated replica's plan of
    // the same parallelism, so the decode pool's KV per token per GPU is a whole rank's
    // (8 heads: 32 × 8 × 128 × 2 × 2 = 131,072 B), the prefill pool's half that (TP 2).
    let mut pairs = MIXTRAL_H100.to_vec();
    pairs.extend([
        ("replica_config_tensor_parallel_size", "2"),
        ("disaggregation_config_type", "prefill_decode"),
        ("disaggregation_config_decode_tensor_parallel_size", "1"),
        ("disaggregation_config_decode_attention_dp_size", "2"),
        ("disaggregation_config_decode_expert_parallel_size", "2"),
    ]);
    let c = build(&pairs).unwrap_or_else(|e| panic!("{e}"));
    let d = c.disagg.as_ref().expect("disaggregated");
    assert_eq!(c.memory.kv_bytes_per_token, 65_536);
    assert_eq!(d.decode.memory.kv_bytes_per_token, 131_072);
    assert_eq!(d.decode.memory.attention_dp_size, 2);
    assert_eq!(d.decode.replica.parallel.world_size(), 2);
    assert_eq!(d.transfer.decode.attention_dp_size, 2);
    assert_eq!(d.transfer.prefill.attention_dp_size, 1);
    // The same decode replica built aggregated plans the same memory.
    let mut agg = MIXTRAL_H100.to_vec();
    agg.extend([
        ("replica_config_tensor_parallel_size", "1"),
        ("replica_config_attention_dp_size", "2"),
        ("replica_config_expert_parallel_size", "2"),
    ]);
    let a = build(&agg).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.memory.num_blocks, d.decode.memory.num_blocks);
    assert_eq!(a.memory.kv_bytes_per_token, d.decode.memory.kv_bytes_per_token);
}

#[test]
fn an_mtp_layer_or_eagle_head_of_a_sliding_window_model_attends_to_the_whole_context() {
    for method in ["mtp", "eagle"] {
        let c = build(&[
            ("replica_config_model_name", "openai/gpt-oss-120b"),
            ("replica_config_device", "h200"),
            ("replica_config_weight_dtype", "fp4"),
            ("replica_config_speculative_method", method),
        ])
        .unwrap_or_else(|e| panic!("{method}: {e}"));
        assert!(c.replica.model.sliding_window.is_some(), "the target still slides");
        let draft = &c.speculative.as_ref().unwrap().draft;
        assert_eq!(draft.num_layers, 1);
        assert_eq!(draft.sliding_window, None, "{method}");
        assert_eq!(draft.sliding_layers_of(1), 0, "{method}: its one layer is a full one");
    }
}

#[test]
fn a_dense_draft_under_attention_dp_keeps_the_ranks_and_drafts_per_rank() {
    use crate::exec::{BatchItem, Op, StagePosition};
    let mut pairs = MIXTRAL_H100.to_vec();
    pairs.extend([
        ("replica_scheduler_config_type", "vllm_v1"),
        ("replica_config_tensor_parallel_size", "2"),
        ("replica_config_attention_dp_size", "2"),
        ("replica_config_speculative_method", "eagle"),
        ("replica_config_num_speculative_tokens", "2"),
    ]);
    let c = build(&pairs).unwrap_or_else(|e| panic!("{e}"));
    let spec = c.speculative.as_ref().expect("speculating");
    let draft = speculative::draft_replica(spec, &c.replica);
    assert_eq!((draft.parallel.attention_dp_size, draft.parallel.expert_parallel_size), (2, 1));
    // Two like decodes land one on each rank: the draft takes one decode's time, not two's.
    let decode = BatchItem::decode(2000, 3);
    let last = StagePosition { stage: 0, num_stages: 1 };
    let one = c.predictor.build.predict(&[decode], last).get(Op::SpeculativeDraft);
    let two = c.predictor.build.predict(&[decode, decode], last).get(Op::SpeculativeDraft);
    assert!(one > 0.0);
    assert_eq!(one, two);
}

#[test]
fn a_linear_attention_model_runs_without_the_block_prefix_cache_and_says_so() {
    let pairs = [
        ("replica_config_model_name", "Qwen/Qwen3.5-397B-A17B"),
        ("replica_config_device", "h200"),
        ("replica_config_network_device", "h200_dgx"),
        ("replica_config_tensor_parallel_size", "8"),
        ("replica_config_weight_dtype", "fp8"),
    ];
    let plain = build(&pairs).unwrap_or_else(|e| panic!("{e}"));
    assert!(!plain.cache.enable_prefix_caching);
    let mut with_cache = pairs.to_vec();
    with_cache.push(("cache_config_enable_prefix_caching", "true"));
    let c = build(&with_cache).unwrap_or_else(|e| panic!("{e}"));
    assert!(!c.cache.enable_prefix_caching, "turned off");
    assert!(
        c.warnings
            .iter()
            .any(|w| w
                .contains("--cache_config_enable_prefix_caching is turned off for Qwen/Qwen3.5-397B-A17B")),
        "{:?}",
        c.warnings
    );
    assert!(c.memory.linear_state_bytes_per_device > 0, "the batch cap's states are reserved");
    // A model without linear attention keeps it.
    let mut dense = with_cache.clone();
    dense[0] = ("replica_config_model_name", "Qwen/Qwen3-235B-A22B");
    assert!(build(&dense).unwrap_or_else(|e| panic!("{e}")).cache.enable_prefix_caching);
}

/// The decode pool's replica scheduler flag.
const DECODE_SCHEDULER: &str = crate::disagg::SCHEDULER_FLAG;

#[test]
fn a_decode_pool_runs_its_own_scheduler_on_that_scheduler_s_own_flags() {
    let c = build(&[
        ("disaggregation_config_type", "prefill_decode"),
        (DECODE_SCHEDULER, "trtllm"),
        ("vllm_v1_scheduler_config_chunk_size", "2048"),
        ("trtllm_scheduler_config_max_num_tokens", "1024"),
        ("trtllm_scheduler_config_capacity_scheduler_policy", "max_utilization"),
        ("disaggregation_config_decode_batch_size_cap", "32"),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    let decode = &c.disagg.as_ref().expect("disaggregated").decode;
    assert_eq!((c.replica_scheduler.name, decode.replica_scheduler.name), ("vllm_v1", "trtllm"));
    // Each pool reads its own scheduler's flags from the user's; the decode cap sets the
    // decode scheduler's cap flag.
    assert_eq!(c.raw.get("vllm_v1_scheduler_config_chunk_size").to_text(), "2048");
    assert_eq!(decode.raw.get("trtllm_scheduler_config_max_num_tokens").to_text(), "1024");
    assert_eq!(
        decode.raw.get("trtllm_scheduler_config_capacity_scheduler_policy").to_text(),
        "max_utilization"
    );
    assert_eq!(decode.raw.get("trtllm_scheduler_config_batch_size_cap").to_text(), "32");
    assert_eq!(
        c.raw.get("vllm_v1_scheduler_config_batch_size_cap").to_text(),
        "128",
        "the prefill cap is its own"
    );
    // Neither pool calls the other's scheduler flags ignored: the cluster reads both.
    assert!(c.warnings.is_empty(), "{:#?}", c.warnings);
    // Its token budget flag stands for the decode scheduler's.
    let c = build(&[
        ("disaggregation_config_type", "prefill_decode"),
        (DECODE_SCHEDULER, "trtllm"),
        ("disaggregation_config_decode_max_num_batched_tokens", "512"),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    let decode = &c.disagg.as_ref().unwrap().decode;
    assert_eq!(decode.raw.get("trtllm_scheduler_config_max_num_tokens").to_text(), "512");
    assert_eq!(
        c.raw.get("vllm_v1_scheduler_config_chunk_size").to_text(),
        "512",
        "Vidur's default, untouched"
    );
    // A flag neither pool's scheduler reads is still ignored, said by each pool.
    let c = build(&[
        ("disaggregation_config_type", "prefill_decode"),
        (DECODE_SCHEDULER, "sglang"),
        ("sarathi_scheduler_config_chunk_size", "256"),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.warnings,
        [
            "--sarathi_scheduler_config_chunk_size is ignored: it applies with --replica_scheduler_config_type sarathi, not vllm_v1",
            "decode pool: --sarathi_scheduler_config_chunk_size is ignored: it applies with --replica_scheduler_config_type sarathi, not sglang",
        ]
    );
}

#[test]
fn same_or_the_prefill_pool_s_own_scheduler_builds_the_decode_pool_as_before() {
    let base = [
        ("disaggregation_config_type", "prefill_decode"),
        ("replica_scheduler_config_type", "trtllm"),
        ("disaggregation_config_decode_batch_size_cap", "16"),
        ("sarathi_scheduler_config_chunk_size", "256"),
    ];
    let before = build(&base).unwrap_or_else(|e| panic!("{e}"));
    for value in ["same", "trtllm"] {
        let mut pairs = base.to_vec();
        pairs.push((DECODE_SCHEDULER, value));
        let c = build(&pairs).unwrap_or_else(|e| panic!("{value}: {e}"));
        let (d, b) = (&c.disagg.as_ref().unwrap().decode, &before.disagg.as_ref().unwrap().decode);
        assert_eq!(d.replica_scheduler.name, "trtllm");
        // The decode pool's flags are the same but for the flag itself.
        let pairs = |c: &Config| -> Vec<(String, String)> {
            c.to_pairs().into_iter().filter(|(k, _)| k != DECODE_SCHEDULER).collect()
        };
        assert_eq!(pairs(&d.raw), pairs(&b.raw), "{value}");
        assert_eq!(c.warnings, before.warnings, "{value}");
        assert_eq!(d.memory.num_blocks, b.memory.num_blocks);
    }
}

#[test]
fn a_decode_scheduler_the_serving_engine_does_not_run_is_refused_naming_the_flag() {
    let text = errors_on(
        &[
            ("serving_engine", "sglang"),
            ("disaggregation_config_type", "prefill_decode"),
            (DECODE_SCHEDULER, "vllm_v1"),
        ],
        DECODE_SCHEDULER,
    );
    assert!(text.contains("--serving_engine sglang runs one engine on both pools"), "{text}");
    assert!(text.contains("(sglang), not vllm_v1"), "{text}");
    // The engine's own scheduler, named, is `same`.
    let c = build(&[
        ("serving_engine", "sglang"),
        ("disaggregation_config_type", "prefill_decode"),
        (DECODE_SCHEDULER, "sglang"),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.disagg.unwrap().decode.replica_scheduler.name, "sglang");
    // Only the schedulers with the hand-off are choices.
    let mut config = Config::new();
    let e = config.set(DECODE_SCHEDULER, "sarathi").unwrap_err();
    assert_eq!(e.flag, DECODE_SCHEDULER);
    let choices = config.table().find(DECODE_SCHEDULER).unwrap().choices().to_vec();
    let serving: Vec<&str> = std::iter::once("same")
        .chain(REPLICA_SCHEDULERS.iter().filter(|e| e.disaggregation.is_some()).map(|e| e.name))
        .collect();
    assert_eq!(choices, serving);
    // Aggregated, the flag is ignored as the other decode flags are.
    let c = build(&[(DECODE_SCHEDULER, "trtllm")]).unwrap_or_else(|e| panic!("{e}"));
    assert!(c.disagg.is_none());
    assert_eq!(
        c.warnings,
        [format!(
            "--{DECODE_SCHEDULER} is ignored: it applies with --disaggregation_config_type prefill_decode, not none"
        )]
    );
}

#[test]
fn the_decode_scheduler_s_flags_apply_while_it_is_chosen() {
    let mut config = Config::new();
    let flag = "trtllm_scheduler_config_max_num_tokens";
    config.set(DECODE_SCHEDULER, "trtllm").unwrap();
    assert!(!config.is_active(flag), "aggregated: the decode flag does not apply");
    config.set("disaggregation_config_type", "prefill_decode").unwrap();
    assert!(config.is_active(flag));
    assert!(config.is_active("vllm_v1_scheduler_config_chunk_size"), "the prefill pool's too");
    assert!(!config.is_active("sglang_scheduler_config_chunked_prefill_size"));
    config.set(DECODE_SCHEDULER, "same").unwrap();
    assert!(!config.is_active(flag));
}

#[test]
fn a_token_budget_the_decode_scheduler_lacks_is_ignored_whatever_its_value() {
    // SGLang's decode batches have no token budget: the flag is ignored with a warning, even
    // out of range (an ignored flag's value is not judged), as the decode pool's note.
    for (pairs, scheduler) in
        [(vec![("serving_engine", "sglang")], "sglang"), (vec![(DECODE_SCHEDULER, "sglang")], "sglang")]
    {
        for value in ["64", "0", "-3"] {
            let mut all = pairs.clone();
            all.extend([
                ("disaggregation_config_type", "prefill_decode"),
                ("disaggregation_config_decode_max_num_batched_tokens", value),
            ]);
            let c = build(&all).unwrap_or_else(|e| panic!("{value}: {e}"));
            assert_eq!(c.disagg.as_ref().unwrap().decode.replica_scheduler.name, scheduler);
            let ignored: Vec<&String> =
                c.warnings.iter().filter(|w| w.contains("max_num_batched_tokens is ignored")).collect();
            assert_eq!(ignored.len(), 1, "{value}: {:#?}", c.warnings);
            assert!(ignored[0].starts_with("decode pool: --disaggregation_config_decode_max_num_batched_tokens is ignored: the sglang scheduler's"), "{ignored:?}");
        }
    }
    // Where the decode scheduler has one, an out-of-range value is refused naming the flag.
    let text = errors_on(
        &[
            ("disaggregation_config_type", "prefill_decode"),
            ("replica_scheduler_config_type", "sglang"),
            (DECODE_SCHEDULER, "vllm_v1"),
            ("disaggregation_config_decode_max_num_batched_tokens", "0"),
        ],
        "disaggregation_config_decode_max_num_batched_tokens",
    );
    assert!(!text.is_empty());
}

#[test]
fn a_custom_decode_device_reads_the_custom_device_flags_without_calling_them_ignored() {
    let c = build(&[
        ("replica_config_device", "h100"),
        ("replica_config_network_device", "h100_dgx"),
        ("disaggregation_config_type", "prefill_decode"),
        ("disaggregation_config_decode_device", "custom"),
        ("custom_device_config_fp16_tflops", "500"),
        ("custom_device_config_memory_gb", "96"),
        ("custom_device_config_memory_bandwidth_gbps", "4000"),
        ("cost_config_usd_per_gpu_hour", "2.5"),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    let decode = &c.disagg.as_ref().unwrap().decode;
    assert_eq!(decode.replica.device.name, "custom");
    assert_eq!(c.replica.device.name, "h100");
    let ignored: Vec<&String> = c.warnings.iter().filter(|w| w.contains("is ignored")).collect();
    assert!(ignored.is_empty(), "{ignored:#?}");
    // The flags apply (the page shows them and its links carry them) while the decode
    // device is custom.
    let mut config = Config::new();
    config.set("disaggregation_config_decode_device", "custom").unwrap();
    config.set("disaggregation_config_type", "prefill_decode").unwrap();
    assert!(config.is_active("custom_device_config_memory_gb"));
    config.set("disaggregation_config_type", "none").unwrap();
    assert!(!config.is_active("custom_device_config_memory_gb"));
}

#[test]
fn an_out_of_range_pipeline_depth_is_its_own_flag_s_one_error() {
    // Before: PP 1,000,000 also asked for a batch-size cap of 1,000,000 (the cap check read the
    // out-of-range depth), in an aggregated cluster and for the decode pool alike.
    let llama = [
        ("replica_config_model_name", "meta-llama/Meta-Llama-3-8B"),
        ("replica_config_device", "h100"),
        ("replica_config_network_device", "h100_dgx"),
    ];
    let mut aggregated = llama.to_vec();
    aggregated.push(("replica_config_num_pipeline_stages", "1000000"));
    let e = build(&aggregated).unwrap_err();
    assert_eq!(e.0.len(), 1, "{e}");
    assert_eq!(e.0[0].flag, "replica_config_num_pipeline_stages");
    let mut decode = llama.to_vec();
    decode.extend([
        ("disaggregation_config_type", "prefill_decode"),
        ("disaggregation_config_decode_num_pipeline_stages", "1000000"),
    ]);
    let e = build(&decode).unwrap_err();
    assert_eq!(e.0.len(), 1, "{e}");
    assert_eq!(e.0[0].flag, "disaggregation_config_decode_num_pipeline_stages");
}

#[test]
fn a_decode_replica_that_fits_no_node_is_named_by_the_decode_flag_the_user_set() {
    // Decode PP 33 on 8-GPU nodes: PP does not divide 32 layers, and 33 GPUs fit no node. The
    // second error named --replica_config_tensor_parallel_size (the prefill pool's flag).
    let pairs = [
        ("replica_config_model_name", "meta-llama/Meta-Llama-3-8B"),
        ("replica_config_device", "h100"),
        ("replica_config_network_device", "h100_dgx"),
        ("disaggregation_config_type", "prefill_decode"),
        ("disaggregation_config_decode_num_pipeline_stages", "33"),
    ];
    let e = build(&pairs).unwrap_err();
    assert_eq!(e.0.len(), 2, "{e}");
    for error in &e.0 {
        assert_eq!(error.flag, "disaggregation_config_decode_num_pipeline_stages", "{e}");
    }
    assert!(e.0.iter().any(|error| error.message.contains("33 GPUs neither fits")), "{e}");
}

#[test]
fn vllm_engine_cores_per_dp_rank_reserve_each_rank_s_whole_max_num_seqs_of_linear_state() {
    // With an engine core per DP rank each rank runs up to the whole cap, so each rank's GPUs
    // keep the states of the cap's sequences, not of its DP share.
    let state = |cores: &str| {
        build(&[
            ("replica_config_model_name", "Qwen/Qwen3.5-397B-A17B"),
            ("replica_config_device", "h200"),
            ("replica_config_network_device", "h200_dgx"),
            ("replica_config_tensor_parallel_size", "8"),
            ("replica_config_attention_dp_size", "2"),
            ("replica_config_weight_dtype", "fp8"),
            ("replica_scheduler_config_type", "vllm_v1"),
            ("vllm_v1_scheduler_config_batch_size_cap", "64"),
            ("vllm_v1_scheduler_config_dp_engine_cores", cores),
        ])
        .unwrap_or_else(|e| panic!("{e}"))
        .memory
        .linear_state_bytes_per_device
    };
    let shared = state("false");
    assert!(shared > 0);
    assert_eq!(state("true"), 2 * shared);
}
