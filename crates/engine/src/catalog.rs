//! Catalogues of models, devices and nodes, embedded from `data/*.json` at build time.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, FlagDef, Params};

fn default_true() -> bool {
    true
}
fn default_one() -> f64 {
    1.0
}

/// Mixture-of-experts layout of a decoder's MLP.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MoeSpec {
    /// Experts per layer.
    pub num_experts: u32,
    /// Experts each token is routed to.
    pub top_k: u32,
    /// Hidden size of one expert's MLP.
    pub expert_hidden_dim: u32,
    /// Hidden size of an always-active shared expert (0 = none).
    #[serde(default)]
    pub shared_expert_hidden_dim: u32,
}

/// A decoder-only transformer's shape: everything the memory planner and predictors need.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelArch {
    /// Hugging Face id, e.g. `meta-llama/Meta-Llama-3-8B`.
    pub name: String,
    /// Other names that resolve to this entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Transformer blocks.
    pub num_layers: u32,
    /// Query heads.
    pub num_q_heads: u32,
    /// Key/value heads (GQA when fewer than query heads).
    pub num_kv_heads: u32,
    /// Hidden size E.
    pub embedding_dim: u32,
    /// Per-head size; 0 in the file means E / q heads.
    #[serde(default)]
    pub head_dim: u32,
    /// MLP hidden size (per expert for MoE models).
    pub mlp_hidden_dim: u32,
    /// Gated MLP (SwiGLU: gate + up projections).
    #[serde(default = "default_true")]
    pub use_gated_mlp: bool,
    /// Vocabulary size.
    pub vocab_size: u32,
    /// Longest context the model supports.
    pub max_model_len: u32,
    /// Linear layers carry biases.
    #[serde(default)]
    pub use_bias: bool,
    /// The QKV projection carries a bias.
    #[serde(default)]
    pub use_qkv_bias: bool,
    /// MLP activation (`silu`, `gelu`).
    #[serde(default = "default_activation")]
    pub activation: String,
    /// Normalisation (`rms_norm`, `layer_norm`).
    #[serde(default = "default_norm")]
    pub norm: String,
    /// A norm after attention as well as before it.
    #[serde(default = "default_true")]
    pub post_attn_norm: bool,
    /// Share of each head rotated by RoPE.
    #[serde(default = "default_one")]
    pub partial_rotary_factor: f64,
    /// The model cannot be split by tensor parallelism.
    #[serde(default)]
    pub no_tensor_parallel: bool,
    /// The LM head reuses the embedding matrix.
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Mixture-of-experts layout, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moe: Option<MoeSpec>,
}

fn default_activation() -> String {
    "silu".to_string()
}
fn default_norm() -> String {
    "rms_norm".to_string()
}

impl ModelArch {
    /// Per-head size.
    pub fn head_dim(&self) -> u32 {
        if self.head_dim > 0 { self.head_dim } else { self.embedding_dim / self.num_q_heads.max(1) }
    }

    fn normalise(mut self) -> ModelArch {
        if self.head_dim == 0 && self.num_q_heads > 0 {
            self.head_dim = self.embedding_dim / self.num_q_heads;
        }
        self
    }
}

/// A GPU SKU's datasheet figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceSpec {
    /// Lower-case id, as Vidur spells it (`h100`).
    pub name: String,
    /// Marketing name.
    pub display_name: String,
    /// Dense BF16/FP16 tensor TFLOP/s.
    pub fp16_tflops: f64,
    /// Dense FP8 tensor TFLOP/s, if supported.
    pub fp8_tflops: Option<f64>,
    /// Device memory in GB, counted as 2^30 bytes (Vidur's convention).
    pub memory_gb: f64,
    /// Memory bandwidth in GB/s (10^9 bytes).
    pub memory_bandwidth_gbps: f64,
    /// The device whose fitted roofline efficiencies this one borrows, when it has no measured
    /// tables of its own (`None`: its own entry in `data/calibration.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<String>,
}

impl DeviceSpec {
    /// The device id whose calibration applies.
    pub fn calibration_source(&self) -> &str {
        self.calibration.as_deref().unwrap_or(&self.name)
    }
}

/// A node (network device): GPUs per node and interconnect speeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeSpec {
    /// Id, as Vidur spells it (`h100_dgx`).
    pub name: String,
    /// The device SKU the node holds.
    pub device: String,
    /// GPUs per node.
    pub devices_per_node: u32,
    /// Per-direction GPU-to-GPU bandwidth inside a node, GB/s.
    pub intra_node_bandwidth_gbps: f64,
    /// Latency of one intra-node transfer, µs.
    pub intra_node_latency_us: f64,
    /// Per-GPU bandwidth between nodes, GB/s.
    pub inter_node_bandwidth_gbps: f64,
    /// Latency of one inter-node transfer, µs.
    pub inter_node_latency_us: f64,
}

/// The embedded model catalogue.
pub fn models() -> &'static [ModelArch] {
    static MODELS: OnceLock<Vec<ModelArch>> = OnceLock::new();
    MODELS.get_or_init(|| {
        let list: Vec<ModelArch> = serde_json::from_str(include_str!("../../../data/models.json")).expect("data/models.json is valid");
        list.into_iter().map(ModelArch::normalise).collect()
    })
}

/// The embedded device catalogue.
pub fn devices() -> &'static [DeviceSpec] {
    static DEVICES: OnceLock<Vec<DeviceSpec>> = OnceLock::new();
    DEVICES.get_or_init(|| serde_json::from_str(include_str!("../../../data/devices.json")).expect("data/devices.json is valid"))
}

/// The embedded node catalogue.
pub fn nodes() -> &'static [NodeSpec] {
    static NODES: OnceLock<Vec<NodeSpec>> = OnceLock::new();
    NODES.get_or_init(|| serde_json::from_str(include_str!("../../../data/nodes.json")).expect("data/nodes.json is valid"))
}

/// Finds a model by Hugging Face id or alias; an `-Instruct`/`-Chat` variant resolves to its
/// base architecture.
pub fn find_model(name: &str) -> Option<&'static ModelArch> {
    let exact = |n: &str| models().iter().find(|m| m.name == n || m.aliases.iter().any(|a| a == n));
    if let Some(m) = exact(name) {
        return Some(m);
    }
    for suffix in ["-Instruct", "-instruct", "-Chat", "-chat", "-chat-hf", "-Instruct-hf", "-Base", "-base"] {
        if let Some(base) = name.strip_suffix(suffix)
            && let Some(m) = exact(base).or_else(|| exact(&format!("{base}-hf")))
        {
            return Some(m);
        }
    }
    None
}

/// Finds a device by its lower-case id.
pub fn find_device(name: &str) -> Option<&'static DeviceSpec> {
    devices().iter().find(|d| d.name == name)
}

/// The device name that selects a user-described GPU.
pub const CUSTOM_DEVICE: &str = "custom";

/// Flags describing a custom device (`--replica_config_device custom`).
pub const CUSTOM_DEVICE_FLAGS: &[FlagDef] = &[
    FlagDef::float("custom_device_config_fp16_tflops", "0", "Custom device: dense BF16/FP16 tensor TFLOP/s (datasheet, without sparsity)."),
    FlagDef::opt_float("custom_device_config_fp8_tflops", "none", "Custom device: dense FP8 tensor TFLOP/s; none = no FP8 tensor cores."),
    FlagDef::float("custom_device_config_memory_gb", "0", "Custom device: memory in GB (GiB, as Vidur counts)."),
    FlagDef::float("custom_device_config_memory_bandwidth_gbps", "0", "Custom device: memory bandwidth in GB/s."),
    FlagDef::string(
        "custom_device_config_calibration",
        "h100",
        "Custom device: the catalogued GPU whose fitted efficiencies it borrows (the architecturally nearest one).",
    ),
];

/// Reads the custom device's flags, recording an error naming each bad one.
pub fn custom_device(p: &mut Params) -> Option<DeviceSpec> {
    let positive = |p: &mut Params, flag: &str, what: &str, max: f64| -> Option<f64> {
        let v = p.float(flag);
        if v > 0.0 && v <= max {
            return Some(v);
        }
        p.error(
            ConfigError::new(flag, format!("{v} is not a valid {what} for --replica_config_device custom (between 0 and {max})"))
                .with_hint(format!("set --{flag} to the GPU's datasheet {what}")),
        );
        None
    };
    let fp16 = positive(p, "custom_device_config_fp16_tflops", "dense FP16 TFLOP/s", 1e5);
    let memory = positive(p, "custom_device_config_memory_gb", "memory size in GB", 1e5);
    let bandwidth = positive(p, "custom_device_config_memory_bandwidth_gbps", "memory bandwidth in GB/s", 1e6);
    let fp8 = p.opt_float("custom_device_config_fp8_tflops");
    if let Some(v) = fp8
        && !(v > 0.0 && v <= 1e5)
    {
        p.error(ConfigError::new("custom_device_config_fp8_tflops", format!("{v} is not a valid FP8 TFLOP/s (between 0 and 100000, or none)")));
    }
    let calibration = p.string("custom_device_config_calibration");
    let calibrated = &crate::exec::calibration::Calibration::embedded().devices;
    if !calibrated.iter().any(|d| d.device == calibration) {
        let names: Vec<&str> = calibrated.iter().map(|d| d.device.as_str()).collect();
        p.error(
            ConfigError::new("custom_device_config_calibration", format!("'{calibration}' has no fitted efficiencies"))
                .with_hint(format!("choose one of: {}", names.join(", "))),
        );
        return None;
    }
    Some(DeviceSpec {
        name: CUSTOM_DEVICE.to_string(),
        display_name: format!("custom GPU ({:.0} TFLOP/s, {:.0} GB/s)", fp16?, bandwidth?),
        fp16_tflops: fp16?,
        fp8_tflops: fp8,
        memory_gb: memory?,
        memory_bandwidth_gbps: bandwidth?,
        calibration: Some(calibration),
    })
}

/// Finds a node by its id.
pub fn find_node(name: &str) -> Option<&'static NodeSpec> {
    nodes().iter().find(|n| n.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogues_load_and_resolve_variants() {
        assert!(models().len() >= 20);
        let m = find_model("meta-llama/Llama-3.1-8B-Instruct").expect("instruct resolves to base");
        assert_eq!(m.name, "meta-llama/Llama-3.1-8B");
        assert_eq!(find_model("meta-llama/Llama-3.3-70B").unwrap().num_layers, 80);
        assert_eq!(find_model("Qwen/Qwen3-32B").unwrap().head_dim(), 128);
        assert_eq!(find_model("meta-llama/Meta-Llama-3-8B").unwrap().head_dim(), 128);
        assert!(find_device("h100").is_some() && find_node("h100_dgx").is_some());
        for node in nodes() {
            assert!(find_device(&node.device).is_some(), "node {} names a known device", node.name);
        }
    }
}

/// Reads a Hugging Face `config.json` of a dense or MoE decoder into a [`ModelArch`] named
/// `name`. Errors name the missing or malformed field.
pub fn model_from_hf_config(name: &str, text: &str) -> Result<ModelArch, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    // Multimodal and some wrapper configs nest the language model.
    let v = v.get("text_config").filter(|t| t.is_object()).unwrap_or(&v);
    let get = |keys: &[&str]| keys.iter().find_map(|k| v.get(*k).and_then(serde_json::Value::as_u64));
    let need = |keys: &[&str]| -> Result<u32, String> {
        let n = get(keys).ok_or_else(|| format!("field '{}' is missing or not a whole number", keys[0]))?;
        u32::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| format!("field '{}' = {n} is out of range", keys[0]))
    };
    let embedding_dim = need(&["hidden_size", "n_embd", "d_model"])?;
    let num_layers = need(&["num_hidden_layers", "n_layer", "num_layers"])?;
    let num_q_heads = need(&["num_attention_heads", "n_head"])?;
    let num_kv_heads = get(&["num_key_value_heads", "multi_query_group_num"]).map_or(num_q_heads, |n| n as u32);
    let vocab_size = need(&["vocab_size"])?;
    let head_dim = get(&["head_dim"]).map_or(embedding_dim / num_q_heads, |n| n as u32);
    let max_model_len = get(&["max_position_embeddings", "max_sequence_length", "seq_length"]).unwrap_or(4096) as u32;
    let activation = v.get("hidden_act").and_then(serde_json::Value::as_str).unwrap_or("silu").to_string();
    let gated = matches!(activation.as_str(), "silu" | "swiglu" | "geglu") || v.get("ffn_hidden_size").is_some();
    let experts = get(&["num_local_experts", "num_experts", "n_routed_experts"]).unwrap_or(0) as u32;
    let moe = if experts > 1 {
        let top_k = need(&["num_experts_per_tok", "moe_top_k"])?;
        let expert_hidden_dim = need(&["moe_intermediate_size", "intermediate_size"])?;
        let shared = get(&["shared_expert_intermediate_size"]).unwrap_or(0) as u32;
        Some(MoeSpec { num_experts: experts, top_k, expert_hidden_dim, shared_expert_hidden_dim: shared })
    } else {
        None
    };
    let mlp_hidden_dim = match &moe {
        Some(m) => get(&["intermediate_size"]).map_or(m.expert_hidden_dim, |n| n as u32),
        None => need(&["intermediate_size", "n_inner", "ffn_hidden_size"])?,
    };
    if num_kv_heads == 0 || num_q_heads % num_kv_heads != 0 {
        return Err(format!("num_key_value_heads = {num_kv_heads} must divide num_attention_heads = {num_q_heads}"));
    }
    let flag = |k: &str| v.get(k).and_then(serde_json::Value::as_bool).unwrap_or(false);
    Ok(ModelArch {
        name: name.to_string(),
        aliases: Vec::new(),
        num_layers,
        num_q_heads,
        num_kv_heads,
        embedding_dim,
        head_dim,
        mlp_hidden_dim,
        use_gated_mlp: gated,
        vocab_size,
        max_model_len,
        use_bias: flag("bias") || flag("use_bias"),
        use_qkv_bias: flag("attention_bias") || flag("qkv_bias"),
        activation,
        norm: if v.get("layer_norm_epsilon").is_some() && v.get("rms_norm_eps").is_none() { "layer_norm".into() } else { "rms_norm".into() },
        post_attn_norm: true,
        partial_rotary_factor: v.get("partial_rotary_factor").and_then(serde_json::Value::as_f64).unwrap_or(1.0),
        no_tensor_parallel: false,
        tie_word_embeddings: flag("tie_word_embeddings"),
        moe,
    })
}

#[cfg(test)]
mod hf_tests {
    use super::*;

    #[test]
    fn reads_a_llama_and_a_mixtral_config() {
        let llama = r#"{"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
            "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256,
            "max_position_embeddings": 131072, "hidden_act": "silu", "rms_norm_eps": 1e-5}"#;
        let m = model_from_hf_config("my/llama", llama).unwrap();
        assert_eq!((m.num_layers, m.num_kv_heads, m.head_dim(), m.mlp_hidden_dim), (32, 8, 128, 14336));
        assert!(m.moe.is_none() && m.use_gated_mlp);
        let mixtral = r#"{"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
            "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 32000,
            "num_local_experts": 8, "num_experts_per_tok": 2}"#;
        let moe = model_from_hf_config("my/mixtral", mixtral).unwrap().moe.unwrap();
        assert_eq!((moe.num_experts, moe.top_k, moe.expert_hidden_dim), (8, 2, 14336));
    }

    #[test]
    fn missing_fields_are_named() {
        let e = model_from_hf_config("x", r#"{"hidden_size": 4096}"#).unwrap_err();
        assert!(e.contains("num_hidden_layers"), "{e}");
        assert!(model_from_hf_config("x", "{").unwrap_err().contains("JSON"));
    }
}

#[cfg(test)]
mod custom_device_tests {
    use crate::config::{Config, SimConfig};
    use crate::inputs::Inputs;

    fn build(pairs: &[(&str, &str)]) -> Result<SimConfig, crate::config::ConfigErrors> {
        SimConfig::build(&Config::from_pairs(pairs.iter().copied()).unwrap(), &Inputs::new())
    }

    #[test]
    fn a_custom_device_runs_on_borrowed_efficiencies() {
        let c = build(&[
            ("replica_config_device", "custom"),
            ("custom_device_config_fp16_tflops", "500"),
            ("custom_device_config_memory_gb", "96"),
            ("custom_device_config_memory_bandwidth_gbps", "4000"),
            ("custom_device_config_calibration", "h100"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.replica.device.fp16_tflops, 500.0);
        assert!(c.predictor.build.describe().contains("borrowed from h100 for custom"), "{}", c.predictor.build.describe());
    }

    #[test]
    fn a_custom_device_without_figures_names_each_missing_flag() {
        let e = build(&[("replica_config_device", "custom"), ("custom_device_config_calibration", "h999")]).unwrap_err();
        let flags: Vec<&str> = e.0.iter().map(|e| e.flag.as_str()).collect();
        for f in ["custom_device_config_fp16_tflops", "custom_device_config_memory_gb", "custom_device_config_memory_bandwidth_gbps", "custom_device_config_calibration"] {
            assert!(flags.contains(&f), "{f} missing from {flags:?}");
        }
        assert!(!flags.contains(&"replica_config_device"), "custom is a known device: {flags:?}");
    }
}
