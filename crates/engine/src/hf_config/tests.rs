use super::*;
use crate::catalog::{find_device, find_model, find_node};

fn read(text: &str) -> HfModel {
    model_from_hf_config("x", text).unwrap_or_else(|e| panic!("{e}"))
}

/// Total parameters (one GPU, no TP or PP), counted as the memory planner does.
fn params(m: &ModelArch) -> u64 {
    use crate::config::{Dtype, ParallelSpec, ReplicaSpec};
    let replica = ReplicaSpec {
        model: m.clone(),
        device: find_device("h100").unwrap().clone(),
        node: find_node("h100_dgx").unwrap().clone(),
        parallel: ParallelSpec::tp_pp(1, 1),
        weight_dtype: Dtype::Bf16,
        kv_cache_dtype: Dtype::Bf16,
    };
    let embeddings =
        if m.tie_word_embeddings { 1 } else { 2 } * u64::from(m.vocab_size) * u64::from(m.embedding_dim);
    crate::memory::stage_layer_params(&replica) + embeddings
}

/// google/gemma-2-9b's published config.json.
const GEMMA2_9B: &str = r#"{
    "architectures": ["Gemma2ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
    "attn_logit_softcapping": 50.0, "bos_token_id": 2, "cache_implementation": "hybrid",
    "eos_token_id": 1, "final_logit_softcapping": 30.0, "head_dim": 256,
    "hidden_act": "gelu_pytorch_tanh", "hidden_activation": "gelu_pytorch_tanh",
    "hidden_size": 3584, "initializer_range": 0.02, "intermediate_size": 14336,
    "max_position_embeddings": 8192, "model_type": "gemma2", "num_attention_heads": 16,
    "num_hidden_layers": 42, "num_key_value_heads": 8, "pad_token_id": 0,
    "query_pre_attn_scalar": 256, "rms_norm_eps": 1e-06, "rope_theta": 10000.0,
    "sliding_window": 4096, "sliding_window_size": 4096, "torch_dtype": "float32",
    "transformers_version": "4.42.0.dev0", "use_cache": true, "vocab_size": 256000}"#;

/// deepseek-ai/DeepSeek-V2-Lite's published config.json (auto_map left out).
const DEEPSEEK_V2_LITE: &str = r#"{
    "architectures": ["DeepseekV2ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
    "aux_loss_alpha": 0.001, "bos_token_id": 100000, "eos_token_id": 100001,
    "first_k_dense_replace": 1, "hidden_act": "silu", "hidden_size": 2048,
    "initializer_range": 0.02, "intermediate_size": 10944, "kv_lora_rank": 512,
    "max_position_embeddings": 163840, "model_type": "deepseek_v2", "moe_intermediate_size": 1408,
    "moe_layer_freq": 1, "n_group": 1, "n_routed_experts": 64, "n_shared_experts": 2,
    "norm_topk_prob": false, "num_attention_heads": 16, "num_experts_per_tok": 6,
    "num_hidden_layers": 27, "num_key_value_heads": 16, "pretraining_tp": 1, "q_lora_rank": null,
    "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "rms_norm_eps": 1e-06,
    "rope_scaling": {"beta_fast": 32, "beta_slow": 1, "factor": 40, "mscale": 0.707,
        "mscale_all_dim": 0.707, "original_max_position_embeddings": 4096, "type": "yarn"},
    "rope_theta": 10000, "routed_scaling_factor": 1.0, "scoring_func": "softmax", "seq_aux": true,
    "tie_word_embeddings": false, "topk_group": 1, "topk_method": "greedy",
    "torch_dtype": "bfloat16", "transformers_version": "4.33.1", "use_cache": true,
    "v_head_dim": 128, "vocab_size": 102400}"#;

#[test]
fn reads_a_llama_and_a_mixtral_config() {
    let llama = r#"{"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
        "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256,
        "max_position_embeddings": 131072, "hidden_act": "silu", "rms_norm_eps": 1e-5,
        "tie_word_embeddings": false}"#;
    let hf = read(llama);
    let m = &hf.arch;
    assert_eq!((m.num_layers, m.num_kv_heads, m.head_dim(), m.mlp_hidden_dim), (32, 8, 128, 14336));
    assert!(m.moe.is_none() && m.use_gated_mlp && !m.tie_word_embeddings);
    assert!(hf.warnings.is_empty(), "{:?}", hf.warnings);
    assert_eq!(hf.name_or_path, None);
    // The same counts as the catalogue's Llama-3.1-8B.
    assert_eq!(params(m), params(find_model("meta-llama/Llama-3.1-8B").unwrap()));
    let mixtral = r#"{"model_type": "mixtral", "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
        "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 32000,
        "max_position_embeddings": 32768, "num_local_experts": 8, "num_experts_per_tok": 2}"#;
    let moe = read(mixtral).arch.moe.unwrap();
    assert_eq!(
        (moe.num_experts, moe.top_k, moe.expert_hidden_dim, moe.shared_expert_hidden_dim),
        (8, 2, 14336, 0)
    );
}

#[test]
fn gemma2_is_a_gated_geglu_model_with_tied_embeddings_and_its_own_head_dim() {
    let hf = read(GEMMA2_9B);
    let m = &hf.arch;
    assert!(m.use_gated_mlp, "Gemma's MLP is GeGLU (gate, up, down) although its activation is gelu");
    assert!(m.tie_word_embeddings, "Gemma ties its embeddings (transformers' default, absent from the file)");
    assert_eq!(
        (m.head_dim(), m.num_q_heads, m.embedding_dim),
        (256, 16, 3584),
        "head_dim × heads = 4096 ≠ hidden 3584"
    );
    // google/gemma-2-9b has 9,241,705,984 parameters; the planner counts two of its four
    // norms per layer (-301,056) and leaves out the final norm (-3,584).
    assert_eq!(params(m), 9_241_705_984 - 42 * 2 * 3584 - 3584);
    assert!(hf.warnings.iter().any(|w| w.contains("sliding_window = 4096 is ignored")), "{:?}", hf.warnings);
    // gemma-7b (Gemma 1): hidden_act "gelu", still GeGLU: 8.54 B parameters.
    let gemma7b = r#"{"architectures": ["GemmaForCausalLM"], "head_dim": 256, "hidden_act": "gelu",
        "hidden_size": 3072, "intermediate_size": 24576, "max_position_embeddings": 8192,
        "model_type": "gemma", "num_attention_heads": 16, "num_hidden_layers": 28,
        "num_key_value_heads": 16, "rms_norm_eps": 1e-06, "vocab_size": 256000}"#;
    let p = params(&read(gemma7b).arch) as f64;
    assert!((8.53e9..8.54e9).contains(&p), "{p}");
}

#[test]
fn gating_comes_from_the_model_type_or_architecture() {
    let base = |extra: &str| {
        format!(
            r#"{{"hidden_size": 1024, "num_hidden_layers": 2, "num_attention_heads": 8,
        "intermediate_size": 4096, "vocab_size": 1000, "max_position_embeddings": 2048{extra}}}"#
        )
    };
    for (extra, gated) in [
        (r#", "model_type": "qwen2", "hidden_act": "silu""#, true),
        (r#", "model_type": "gemma3_text", "hidden_activation": "gelu_pytorch_tanh""#, true),
        (r#", "model_type": "phi3", "hidden_act": "silu""#, true),
        (r#", "architectures": ["Olmo2ForCausalLM"]"#, true),
        (r#", "model_type": "gpt_neox", "hidden_act": "gelu""#, false),
        (r#", "model_type": "starcoder2", "hidden_act": "gelu_pytorch_tanh""#, false),
        (r#", "model_type": "phi", "hidden_act": "gelu_new""#, false),
        (r#", "architectures": ["GPTNeoXForCausalLM"], "hidden_act": "silu""#, false),
    ] {
        let hf = read(&base(extra));
        assert_eq!(hf.arch.use_gated_mlp, gated, "{extra}");
        assert!(hf.warnings.is_empty(), "{extra}: {:?}", hf.warnings);
    }
    // Unknown: the activation decides, and a warning says so.
    let hf = read(&base(r#", "model_type": "brand_new", "hidden_act": "gelu""#));
    assert!(!hf.arch.use_gated_mlp);
    assert!(
        hf.warnings
            .iter()
            .any(|w| w.contains("model_type 'brand_new'") && w.contains("ungated") && w.contains("'gelu'")),
        "{:?}",
        hf.warnings
    );
    let hf = read(&base(r#", "hidden_act": "silu""#));
    assert!(hf.arch.use_gated_mlp);
    assert!(
        hf.warnings.iter().any(|w| w.contains("names no model_type") && w.contains("gated")),
        "{:?}",
        hf.warnings
    );
}

#[test]
fn deepseek_v2_lite_reads_latent_attention_without_a_query_latent() {
    let hf = read(DEEPSEEK_V2_LITE);
    let mla = hf.arch.mla.clone().unwrap();
    // "q_lora_rank": null: queries are projected directly.
    assert_eq!(
        (mla.q_lora_rank, mla.kv_lora_rank, mla.qk_nope_head_dim, mla.qk_rope_head_dim, mla.v_head_dim),
        (0, 512, 128, 64, 128)
    );
    assert_eq!(hf.arch.moe.as_ref().unwrap().first_k_dense_layers, 1);
    // 15.7 B parameters published (DeepSeek-V2-Lite's model card).
    let p = params(&hf.arch) as f64;
    assert!((15.5e9..16.0e9).contains(&p), "{p}");
}

/// deepseek-ai/DeepSeek-V3's published config.json (auto_map, quantization_config and
/// rope_scaling left out).
const DEEPSEEK_V3: &str = r#"{
    "architectures": ["DeepseekV3ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
    "bos_token_id": 0, "eos_token_id": 1, "ep_size": 1, "first_k_dense_replace": 3,
    "hidden_act": "silu", "hidden_size": 7168, "initializer_range": 0.02,
    "intermediate_size": 18432, "kv_lora_rank": 512, "max_position_embeddings": 163840,
    "model_type": "deepseek_v3", "moe_intermediate_size": 2048, "moe_layer_freq": 1,
    "n_group": 8, "n_routed_experts": 256, "n_shared_experts": 1, "norm_topk_prob": true,
    "num_attention_heads": 128, "num_experts_per_tok": 8, "num_hidden_layers": 61,
    "num_key_value_heads": 128, "num_nextn_predict_layers": 1, "q_lora_rank": 1536,
    "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "rms_norm_eps": 1e-06,
    "rope_theta": 10000, "routed_scaling_factor": 2.5, "scoring_func": "sigmoid",
    "tie_word_embeddings": false, "topk_group": 4, "topk_method": "noaux_tc",
    "torch_dtype": "bfloat16", "transformers_version": "4.33.1", "use_cache": true,
    "v_head_dim": 128, "vocab_size": 129280}"#;

#[test]
fn deepseek_v3_caches_one_latent_per_token_and_layer_whatever_the_tp() {
    use crate::config::{Dtype, ParallelSpec, ReplicaSpec};
    let hf = read(DEEPSEEK_V3);
    let m = &hf.arch;
    let replica = |tp: u32, kv: Dtype| ReplicaSpec {
        model: m.clone(),
        device: find_device("h200").unwrap().clone(),
        node: find_node("h200_dgx").unwrap().clone(),
        parallel: ParallelSpec::tp_pp(tp, 1),
        weight_dtype: Dtype::Fp8,
        kv_cache_dtype: kv,
    };
    // (kv_lora_rank 512 + qk_rope_head_dim 64) × 61 layers × 2 bytes = 70,272 bytes per token
    // at bf16, on every GPU of a TP group (the latent is replicated, not split); caching every
    // head's keys (192) and values (128) would take 128 × 320 = 40,960 elements a layer, 71×.
    let bytes = |tp, kv| crate::memory::kv_elements_per_token_layer(&replica(tp, kv)) * 61 * kv_bytes(kv);
    assert_eq!(bytes(1, Dtype::Bf16), 70_272);
    assert_eq!(bytes(8, Dtype::Bf16), 70_272);
    assert_eq!(bytes(8, Dtype::Fp8), 35_136);
    let cache = crate::config::CacheSpec {
        block_size: 64,
        num_blocks_override: None,
        watermark_blocks_fraction: 0.01,
        memory_margin_fraction: 0.1,
        activation_memory: crate::config::ActivationMemory::None,
        runtime_memory_bytes: 0,
        enable_prefix_caching: false,
        num_preallocate_tokens: 64,
        max_sequences: 0,
        max_sequences_flag: String::new(),
        linear_state_pool: Default::default(),
    };
    let plan = crate::memory::plan(&replica(8, Dtype::Bf16), &cache).unwrap();
    assert_eq!(plan.kv_bytes_per_token, 70_272);
    // 671 B parameters published (the main model; its 14 B multi-token-prediction module is
    // not counted): 3 dense layers, 58 MoE layers of 256 routed and 1 shared expert.
    let p = params(m) as f64;
    assert!((670e9..673e9).contains(&p), "{p}");
    assert!(hf.warnings.iter().all(|w| !w.contains("dense MLP")), "{:?}", hf.warnings);
    // The catalogue's entry is the same architecture.
    let catalogued = find_model("deepseek-ai/DeepSeek-V3").unwrap();
    assert_eq!((&catalogued.mla, &catalogued.moe), (&m.mla, &m.moe));
    assert_eq!((catalogued.head_dim(), catalogued.num_layers), (m.head_dim(), m.num_layers));
}

fn kv_bytes(dtype: crate::config::Dtype) -> u64 {
    dtype.bytes_of(1)
}

#[test]
fn deepseek_moe_shared_experts_count_and_dense_first_layers_are_modelled() {
    // deepseek-ai/deepseek-moe-16b-base: ordinary attention, 2 shared + 64 routed experts,
    // the first layer dense.
    let text = r#"{"architectures": ["DeepseekForCausalLM"], "model_type": "deepseek", "hidden_size": 2048,
        "intermediate_size": 10944, "moe_intermediate_size": 1408, "n_routed_experts": 64,
        "n_shared_experts": 2, "num_experts_per_tok": 6, "first_k_dense_replace": 1, "moe_layer_freq": 1,
        "num_attention_heads": 16, "num_key_value_heads": 16, "num_hidden_layers": 28,
        "max_position_embeddings": 4096, "vocab_size": 102400, "hidden_act": "silu", "tie_word_embeddings": false}"#;
    let hf = read(text);
    let moe = hf.arch.moe.clone().unwrap();
    assert_eq!(
        (moe.num_experts, moe.top_k, moe.expert_hidden_dim, moe.shared_expert_hidden_dim),
        (64, 6, 1408, 2816)
    );
    assert_eq!(moe.first_k_dense_layers, 1);
    assert!(hf.warnings.iter().all(|w| !w.contains("dense MLP")), "{:?}", hf.warnings);
    // 16.4 B parameters published.
    let p = params(&hf.arch) as f64;
    assert!((16.2e9..16.6e9).contains(&p), "{p}");
}

#[test]
fn multi_query_and_default_mlp_sizes_of_older_families() {
    // tiiuae/falcon-7b: multi-query (one KV head), MLP 4 × hidden, tied: 6.92 B.
    let falcon = r#"{"architectures": ["FalconForCausalLM"], "bias": false, "hidden_size": 4544,
        "layer_norm_epsilon": 1e-05, "model_type": "falcon", "multi_query": true,
        "new_decoder_architecture": false, "num_attention_heads": 71, "num_hidden_layers": 32,
        "parallel_attn": true, "vocab_size": 65024}"#;
    let hf = read(falcon);
    let m = &hf.arch;
    assert_eq!(
        (m.num_kv_heads, m.mlp_hidden_dim, m.use_gated_mlp, m.tie_word_embeddings, m.post_attn_norm),
        (1, 18176, false, true, false)
    );
    assert!(hf.warnings.iter().any(|w| w.contains("max_position_embeddings")), "{:?}", hf.warnings);
    let p = params(m) as f64;
    assert!((6.90e9..6.95e9).contains(&p), "{p}");
    // tiiuae/falcon-40b: the new decoder architecture's 8 KV heads, two norms.
    let falcon40b = r#"{"model_type": "falcon", "new_decoder_architecture": true, "num_kv_heads": 8,
        "num_attention_heads": 128, "hidden_size": 8192, "num_hidden_layers": 60, "vocab_size": 65024,
        "max_position_embeddings": 2048, "parallel_attn": true, "bias": false}"#;
    let m = read(falcon40b).arch;
    assert_eq!((m.num_kv_heads, m.post_attn_norm, m.mlp_hidden_dim), (8, true, 32768));
    // bigcode/starcoderbase: GPT-BigCode is multi-query unless told otherwise.
    let bigcode = r#"{"model_type": "gpt_bigcode", "n_embd": 6144, "n_head": 48, "n_layer": 40, "n_inner": 24576,
        "n_positions": 8192, "vocab_size": 49152}"#;
    assert_eq!(read(bigcode).arch.num_kv_heads, 1);
    // gpt2: n_inner null → 4 × n_embd.
    let gpt2 = r#"{"model_type": "gpt2", "activation_function": "gelu_new", "n_embd": 768, "n_head": 12,
        "n_layer": 12, "n_inner": null, "n_positions": 1024, "vocab_size": 50257}"#;
    let m = read(gpt2).arch;
    assert_eq!(
        (m.mlp_hidden_dim, m.max_model_len, m.use_gated_mlp, m.tie_word_embeddings),
        (3072, 1024, false, true)
    );
    // Qwen (v1) counts both halves of its MLP in intermediate_size: the catalogue's Qwen-72B.
    let qwen = r#"{"model_type": "qwen", "hidden_size": 8192, "intermediate_size": 49152, "kv_channels": 128,
        "num_attention_heads": 64, "num_hidden_layers": 80, "seq_length": 32768, "vocab_size": 152064}"#;
    let m = read(qwen).arch;
    let catalogued = find_model("Qwen/Qwen-72B").unwrap();
    assert_eq!(
        (m.mlp_hidden_dim, m.use_qkv_bias, params(&m)),
        (catalogued.mlp_hidden_dim, true, params(catalogued))
    );
}

#[test]
fn phi2s_config_matches_the_catalogue_entry() {
    // microsoft/phi-2's published config.json.
    let phi2 = r#"{"architectures": ["PhiForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 50256,
        "embd_pdrop": 0.0, "eos_token_id": 50256, "hidden_act": "gelu_new", "hidden_size": 2560,
        "initializer_range": 0.02, "intermediate_size": 10240, "layer_norm_eps": 1e-05,
        "max_position_embeddings": 2048, "model_type": "phi", "num_attention_heads": 32,
        "num_hidden_layers": 32, "num_key_value_heads": 32, "partial_rotary_factor": 0.4,
        "qk_layernorm": false, "resid_pdrop": 0.1, "rope_scaling": null, "rope_theta": 10000.0,
        "tie_word_embeddings": false, "torch_dtype": "float16", "transformers_version": "4.37.0",
        "use_cache": true, "vocab_size": 51200}"#;
    let hf = read(phi2);
    let (m, c) = (&hf.arch, find_model("microsoft/phi-2").unwrap());
    assert!(hf.warnings.is_empty(), "{:?}", hf.warnings);
    assert_eq!(
        (m.use_gated_mlp, m.norm.as_str(), m.post_attn_norm, m.partial_rotary_factor),
        (c.use_gated_mlp, c.norm.as_str(), c.post_attn_norm, c.partial_rotary_factor)
    );
    assert_eq!(params(m), params(c));
}

#[test]
fn ignored_architecture_fields_are_named() {
    let text = r#"{"model_type": "mistral", "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
        "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 32000,
        "max_position_embeddings": 32768, "sliding_window": 4096,
        "quantization_config": {"quant_method": "awq", "bits": 4}, "_name_or_path": "mistralai/Mistral-7B-v0.1"}"#;
    let hf = read(text);
    assert_eq!(hf.name_or_path.as_deref(), Some("mistralai/Mistral-7B-v0.1"));
    assert!(hf.warnings.iter().any(|w| w.contains("sliding_window = 4096")), "{:?}", hf.warnings);
    assert!(
        hf.warnings.iter().any(|w| w.contains("quantization_config (awq) is ignored")),
        "{:?}",
        hf.warnings
    );
    // A 4-bit AWQ, GPTQ or compressed-tensors checkpoint is told to pass int4 and which layers
    // llmsim then takes as INT4.
    let int4 = "pass --replica_config_weight_dtype int4, which makes an MoE model's routed experts INT4";
    assert!(hf.warnings.iter().any(|w| w.contains(int4)), "{:?}", hf.warnings);
    let quantised = |q: &str| {
        let text = format!(
            r#"{{"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
            "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256,
            "max_position_embeddings": 8192, "quantization_config": {q}}}"#
        );
        read(&text).warnings.join("\n")
    };
    let ct = r#"{"quant_method": "compressed-tensors", "format": "pack-quantized",
        "config_groups": {"group_0": {"targets": ["Linear"], "weights": {"num_bits": 4, "type": "int", "group_size": 32, "symmetric": true}}}}"#;
    let w = quantised(ct);
    assert!(w.contains("quantization_config (compressed-tensors) is ignored") && w.contains(int4), "{w}");
    assert!(quantised(r#"{"quant_method": "gptq", "bits": 4, "group_size": 128}"#).contains(int4));
    // 8-bit and floating-point formats are not INT4: no int4 suggestion.
    let fp8 = r#"{"quant_method": "fp8", "weight_block_size": [128, 128]}"#;
    let w8 = r#"{"quant_method": "compressed-tensors", "config_groups": {"g": {"weights": {"num_bits": 8, "type": "int"}}}}"#;
    let fp4 = r#"{"quant_method": "compressed-tensors", "config_groups": {"g": {"weights": {"num_bits": 4, "type": "float"}}}}"#;
    for q in [fp8, w8, fp4] {
        let w = quantised(q);
        assert!(w.contains("is ignored") && !w.contains("int4"), "{w}");
    }
    // Qwen2 turns its sliding window off: nothing to say.
    let qwen2 = r#"{"model_type": "qwen2", "hidden_size": 3584, "num_hidden_layers": 28, "num_attention_heads": 28,
        "num_key_value_heads": 4, "intermediate_size": 18944, "vocab_size": 152064,
        "max_position_embeddings": 131072, "sliding_window": 131072, "use_sliding_window": false}"#;
    assert!(read(qwen2).warnings.is_empty());
}

#[test]
fn gpt_oss_layer_types_give_its_sliding_window_layers() {
    // openai/gpt-oss-120b's config.json (architecture fields; layer_types alternates 18 times).
    let text = r#"{"architectures": ["GptOssForCausalLM"], "model_type": "gpt_oss", "attention_bias": true,
        "experts_per_token": 4, "head_dim": 64, "hidden_act": "silu", "hidden_size": 2880,
        "intermediate_size": 2880, "layer_types": ["sliding_attention", "full_attention", "sliding_attention", "full_attention", "sliding_attention", "full_attention", "sliding_attention", "full_attention", "sliding_attention", "full_attention", "sliding_attention", "full_attention", "sliding_attention", "full_attention", "sliding_attention", "full_attention", "sliding_attention", "full_attention", "sliding_attention", "full_attention", "sliding_attention", "full_attention", "sliding_attention", "full_attention", "sliding_attention", "full_attention", "sliding_attention", "full_attention", "sliding_attention", "full_attention", "sliding_attention", "full_attention", "sliding_attention", "full_attention", "sliding_attention", "full_attention"],
        "max_position_embeddings": 131072, "num_attention_heads": 64, "num_experts_per_tok": 4,
        "num_hidden_layers": 36, "num_key_value_heads": 8, "num_local_experts": 128,
        "rms_norm_eps": 1e-05, "sliding_window": 128, "tie_word_embeddings": false, "vocab_size": 201088}"#;
    let hf = read(text);
    let window = hf.arch.sliding_window.as_ref().expect("layer_types name the sliding layers");
    assert_eq!((window.window, window.layers), (128, 18));
    assert!(!hf.warnings.iter().any(|w| w.contains("sliding_window")), "{:?}", hf.warnings);
    let c = find_model("openai/gpt-oss-120b").unwrap();
    assert_eq!(hf.arch.sliding_window, c.sliding_window);
    assert_eq!(params(&hf.arch), params(c));
    // Without layer_types, which layers slide is not said: warned, not modelled.
    let text = text.replace(r#""layer_types": ["#, r#""unused": ["#);
    let hf = read(&text);
    assert_eq!(hf.arch.sliding_window, None);
    assert!(hf.warnings.iter().any(|w| w.contains("sliding_window = 128 is ignored")), "{:?}", hf.warnings);
}

#[test]
fn layer_types_of_the_wrong_length_or_kind_are_refused() {
    let config = |types: &str, layers: u32| {
        format!(
            r#"{{"model_type": "gpt_oss", "hidden_size": 2880, "intermediate_size": 2880, "head_dim": 64,
            "num_attention_heads": 64, "num_key_value_heads": 8, "num_hidden_layers": {layers},
            "vocab_size": 201088, "max_position_embeddings": 131072, "sliding_window": 128,
            "layer_types": {types}}}"#
        )
    };
    let e = model_from_hf_config("x", &config(r#"["sliding_attention", "full_attention"]"#, 4)).unwrap_err();
    assert!(e.message.contains("layer_types") && e.message.contains("2 layers"), "{e}");
    let e =
        model_from_hf_config("x", &config(r#"["sliding_attention", "linear_attention"]"#, 2)).unwrap_err();
    assert!(e.message.contains("layer_types") && e.message.contains("linear_attention"), "{e}");
    let e = model_from_hf_config("x", &config(r#""sliding_attention""#, 2)).unwrap_err();
    assert!(e.message.contains("layer_types"), "{e}");
    // Every layer full: no window modelled, and none ignored either.
    let hf = read(&config(r#"["full_attention", "full_attention"]"#, 2));
    assert_eq!(hf.arch.sliding_window, None);
    assert!(!hf.warnings.iter().any(|w| w.contains("sliding_window")), "{:?}", hf.warnings);
    // gpt_oss and minimax_m2 are known families: no unknown-model_type warning.
    assert!(!hf.warnings.iter().any(|w| w.contains("not one llmsim knows")), "{:?}", hf.warnings);
    let minimax = config(r#"["full_attention", "full_attention"]"#, 2).replace("gpt_oss", "minimax_m2");
    assert!(!read(&minimax).warnings.iter().any(|w| w.contains("not one llmsim knows")));
}

#[test]
fn a_per_layer_qk_norm_spans_the_whole_projection() {
    // MiniMax-M2's `use_qk_norm` with `qk_norm_type: "per_layer"`: one RMSNorm over all of a
    // token's q (and k) heads, whose variance vLLM all-reduces under TP.
    let base = r#"{"model_type": "minimax_m2", "hidden_size": 3072, "intermediate_size": 1536, "head_dim": 128,
        "num_attention_heads": 48, "num_key_value_heads": 8, "num_hidden_layers": 2,
        "vocab_size": 200064, "max_position_embeddings": 196608"#;
    let with = |extra: &str| read(&format!("{base}{extra}}}")).arch.qk_norm_across_heads;
    assert!(with(r#", "use_qk_norm": true, "qk_norm_type": "per_layer""#));
    assert!(!with(r#", "use_qk_norm": true, "qk_norm_type": "per_head""#), "per head: no all-reduce");
    assert!(!with(r#", "use_qk_norm": false, "qk_norm_type": "per_layer""#));
    assert!(!with(""));
    assert_eq!(with(r#", "use_qk_norm": true, "qk_norm_type": "per_layer""#), {
        find_model("MiniMaxAI/MiniMax-M2.5").unwrap().qk_norm_across_heads
    });
}

#[test]
fn missing_fields_are_named() {
    let e = model_from_hf_config("x", r#"{"hidden_size": 4096}"#).unwrap_err();
    assert!(e.message.contains("num_hidden_layers"), "{e}");
    assert!(model_from_hf_config("x", "{").unwrap_err().message.contains("JSON"));
    assert!(model_from_hf_config("x", "[1]").unwrap_err().message.contains("JSON object"));
}

#[test]
fn a_checkpoint_that_leaves_self_attn_unconverted_keeps_attention_unquantised_under_fp4() {
    // gpt-oss-120b's config.json: only the experts are MXFP4.
    let config = |q: &str| {
        format!(
            r#"{{"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
            "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 32000,
            "max_position_embeddings": 8192, "quantization_config": {q}}}"#
        )
    };
    let mxfp4 = r#"{"quant_method": "mxfp4", "modules_to_not_convert": ["model.layers.*.self_attn",
        "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"]}"#;
    assert_eq!(read(&config(mxfp4)).arch.fp4_unquantised, vec![WeightPart::Attention]);
    // ModelOpt lists one entry per layer: all 32 layers' attention, or only some.
    let per_layer = |layers: std::ops::Range<u32>| {
        let list: Vec<String> = layers.map(|l| format!("\"model.layers.{l}.self_attn*\"")).collect();
        format!(r#"{{"quant_method": "modelopt", "exclude_modules": ["lm_head", {}]}}"#, list.join(", "))
    };
    assert_eq!(read(&config(&per_layer(0..32))).arch.fp4_unquantised, vec![WeightPart::Attention]);
    assert!(read(&config(&per_layer(0..1))).arch.fp4_unquantised.is_empty(), "one layer's attention only");
    // Only the edges excluded: attention follows the weight dtype.
    let edges = r#"{"quant_method": "modelopt", "exclude_modules": ["lm_head", "model.embed_tokens"]}"#;
    assert!(read(&config(edges)).arch.fp4_unquantised.is_empty());
    assert!(read(&config("null")).arch.fp4_unquantised.is_empty());
}

#[test]
fn a_weight_block_size_marks_the_fp8_checkpoint_block_scaled() {
    let with = |q: &str| {
        let text = format!(
            r#"{{"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
            "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256,
            "max_position_embeddings": 8192, "quantization_config": {q}}}"#
        );
        read(&text).arch.fp8_block_scaled
    };
    assert!(with(r#"{"quant_method": "fp8", "weight_block_size": [128, 128]}"#));
    assert!(!with(r#"{"quant_method": "modelopt", "quant_algo": "FP8"}"#));
    assert!(!with("null"));
    assert!(!with(r#"{"quant_method": "fp8", "weight_block_size": null}"#));
    // compressed-tensors: a group whose weights are scaled per block.
    let group = |strategy: &str| {
        format!(
            r#"{{"quant_method": "compressed-tensors", "config_groups": {{"group_0": {{"weights": {{"num_bits": 8, "type": "float", "strategy": "{strategy}"}}}}}}}}"#
        )
    };
    assert!(with(&group("block")));
    assert!(!with(&group("tensor")));
}

#[test]
fn a_malformed_weight_block_size_is_an_error_naming_the_field() {
    for bad in
        ["false", "[]", "0", "\"x\"", "[0, 0]", "[128]", "[128, 128, 128]", "[128, -1]", "[128.5, 128]"]
    {
        let text = format!(
            r#"{{"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
            "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256,
            "max_position_embeddings": 8192, "quantization_config": {{"quant_method": "fp8", "weight_block_size": {bad}}}}}"#
        );
        let err =
            model_from_hf_config("m", &text).err().unwrap_or_else(|| panic!("{bad} accepted")).to_string();
        assert!(err.contains("quantization_config.weight_block_size"), "{bad}: {err}");
    }
}
