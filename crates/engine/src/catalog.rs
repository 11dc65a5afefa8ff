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
    /// Device memory in GiB (2^30 bytes): what Vidur and datasheets call "80 GB" is 80 GiB.
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
        let list: Vec<ModelArch> = serde_json::from_str(include_str!("../../../data/models.json"))
            .expect("data/models.json is valid");
        list.into_iter().map(ModelArch::normalise).collect()
    })
}

/// The embedded device catalogue.
pub fn devices() -> &'static [DeviceSpec] {
    static DEVICES: OnceLock<Vec<DeviceSpec>> = OnceLock::new();
    DEVICES.get_or_init(|| {
        serde_json::from_str(include_str!("../../../data/devices.json")).expect("data/devices.json is valid")
    })
}

/// The embedded node catalogue.
pub fn nodes() -> &'static [NodeSpec] {
    static NODES: OnceLock<Vec<NodeSpec>> = OnceLock::new();
    NODES.get_or_init(|| {
        serde_json::from_str(include_str!("../../../data/nodes.json")).expect("data/nodes.json is valid")
    })
}

/// Finds a model by Hugging Face id or alias; an `-Instruct`/`-Chat` variant resolves to its
/// base architecture, and a name without its `org/` prefix (`Meta-Llama-3-8B`) or in other
/// letter case resolves when exactly one entry matches.
pub fn find_model(name: &str) -> Option<&'static ModelArch> {
    let name = name.trim();
    let names =
        |m: &'static ModelArch| std::iter::once(m.name.as_str()).chain(m.aliases.iter().map(String::as_str));
    let bare = |n: &'static str| n.rsplit('/').next().unwrap_or(n);
    // The one entry with a name `matches` accepts; none when several do.
    let unique = |matches: &dyn Fn(&'static str) -> bool| -> Option<&'static ModelArch> {
        let mut found = models().iter().filter(|m| names(m).any(matches));
        let first = found.next()?;
        found.next().is_none().then_some(first)
    };
    let resolve = |n: &str| -> Option<&'static ModelArch> {
        unique(&|c| c == n)
            .or_else(|| (!n.contains('/')).then(|| unique(&|c| bare(c) == n)).flatten())
            .or_else(|| unique(&|c| c.eq_ignore_ascii_case(n)))
            .or_else(|| (!n.contains('/')).then(|| unique(&|c| bare(c).eq_ignore_ascii_case(n))).flatten())
    };
    if let Some(m) = resolve(name) {
        return Some(m);
    }
    for suffix in ["-Instruct", "-instruct", "-Chat", "-chat", "-chat-hf", "-Instruct-hf", "-Base", "-base"] {
        if let Some(base) = name.strip_suffix(suffix)
            && let Some(m) = resolve(base).or_else(|| resolve(&format!("{base}-hf")))
        {
            return Some(m);
        }
    }
    None
}

/// The catalogue name closest to an unknown model `name`, for "did you mean": first an entry
/// whose name (without `org/`) ends with the name asked for, then the nearest by spelling,
/// comparing with and without the organisation.
pub fn suggest_model(name: &str) -> Option<&'static str> {
    let name = name.trim();
    let bare = |n: &str| n.rsplit('/').next().unwrap_or(n).to_ascii_lowercase();
    let wanted = bare(name);
    let candidates = || {
        models().iter().flat_map(|m| {
            std::iter::once(m.name.as_str()).chain(m.aliases.iter().map(String::as_str)).map(move |c| (c, m))
        })
    };
    let mut suffixed = candidates()
        .filter(|(c, _)| !wanted.is_empty() && bare(c).ends_with(&wanted))
        .map(|(_, m)| m.name.as_str());
    if let Some(first) = suffixed.next()
        && suffixed.all(|other| other == first)
    {
        return Some(first);
    }
    let lower = name.to_ascii_lowercase();
    candidates()
        .map(|(c, m)| {
            (
                strsim::jaro_winkler(&lower, &c.to_ascii_lowercase())
                    .max(strsim::jaro_winkler(&wanted, &bare(c))),
                m.name.as_str(),
            )
        })
        .filter(|(score, _)| *score > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, n)| n)
}

/// Finds a device by its lower-case id.
pub fn find_device(name: &str) -> Option<&'static DeviceSpec> {
    devices().iter().find(|d| d.name == name)
}

/// The device name that selects a user-described GPU.
pub const CUSTOM_DEVICE: &str = "custom";

/// Flags describing a custom device (`--replica_config_device custom`).
pub const CUSTOM_DEVICE_FLAGS: &[FlagDef] = &[
    FlagDef::float(
        "custom_device_config_fp16_tflops",
        "0",
        "Custom device: dense BF16/FP16 tensor TFLOP/s (datasheet, without sparsity).",
    ),
    FlagDef::opt_float(
        "custom_device_config_fp8_tflops",
        "none",
        "Custom device: dense FP8 tensor TFLOP/s; none = no FP8 tensor cores.",
    ),
    FlagDef::float(
        "custom_device_config_memory_gb",
        "0",
        "Custom device: memory in GiB (2^30 bytes, which Vidur calls GB): enter the datasheet's figure, e.g. 80 for an 80 GB H100.",
    ),
    FlagDef::float(
        "custom_device_config_memory_bandwidth_gbps",
        "0",
        "Custom device: memory bandwidth in GB/s.",
    ),
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
            ConfigError::new(
                flag,
                format!("{v} is not a valid {what} for --replica_config_device custom (between 0 and {max})"),
            )
            .with_hint(format!("set --{flag} to the GPU's datasheet {what}")),
        );
        None
    };
    let fp16 = positive(p, "custom_device_config_fp16_tflops", "dense FP16 TFLOP/s", 1e5);
    let memory = positive(p, "custom_device_config_memory_gb", "memory size in GiB", 1e5);
    let bandwidth =
        positive(p, "custom_device_config_memory_bandwidth_gbps", "memory bandwidth in GB/s", 1e6);
    let fp8 = p.opt_float("custom_device_config_fp8_tflops");
    if let Some(v) = fp8
        && !(v > 0.0 && v <= 1e5)
    {
        p.error(ConfigError::new(
            "custom_device_config_fp8_tflops",
            format!("{v} is not a valid FP8 TFLOP/s (between 0 and 100000, or none)"),
        ));
    }
    let calibration = p.string("custom_device_config_calibration");
    let calibrated = &crate::exec::calibration::Calibration::embedded().devices;
    if !calibrated.iter().any(|d| d.device == calibration) {
        let names: Vec<&str> = calibrated.iter().map(|d| d.device.as_str()).collect();
        p.error(
            ConfigError::new(
                "custom_device_config_calibration",
                format!("'{calibration}' has no fitted efficiencies"),
            )
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

/// A model read from a Hugging Face `config.json` ([`model_from_hf_config`]).
#[derive(Clone, Debug, PartialEq)]
pub struct HfModel {
    /// The architecture, named as asked.
    pub arch: ModelArch,
    /// The file's `_name_or_path` (the id or directory it was saved from), if it names one.
    pub name_or_path: Option<String>,
    /// What the reader ignored or had to assume, one sentence each (for `SimConfig::warnings`).
    pub warnings: Vec<String>,
}

/// Why a `config.json` cannot be modelled: what is wrong, and how to proceed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HfConfigError {
    /// What is wrong, naming the field.
    pub message: String,
    /// How to proceed, when there is a way.
    pub hint: Option<String>,
}

impl HfConfigError {
    fn new(message: impl Into<String>) -> HfConfigError {
        HfConfigError { message: message.into(), hint: None }
    }
}

impl std::fmt::Display for HfConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

/// What a Hugging Face `model_type` implies where its `config.json` leaves a field out:
/// transformers' per-class defaults, and the MLP's form, which no field states.
#[derive(Clone, Copy, Debug)]
struct Family {
    /// `model_type` values, lower case.
    types: &'static [&'static str],
    /// Gated MLP (SwiGLU/GeGLU: gate, up and down projections) rather than up and down only.
    gated: bool,
    /// `tie_word_embeddings` when absent.
    tied: bool,
    /// LayerNorm rather than RMSNorm.
    layer_norm: bool,
    /// Linear layers carry biases.
    bias: bool,
    /// The QKV projection carries a bias.
    qkv_bias: bool,
    /// Attention and MLP read one shared norm (a parallel block).
    parallel_block: bool,
    /// The MLP hidden size defaults to 4 × hidden when the file gives none.
    mlp_4x: bool,
}

const GATED: Family = Family {
    types: &[],
    gated: true,
    tied: false,
    layer_norm: false,
    bias: false,
    qkv_bias: false,
    parallel_block: false,
    mlp_4x: false,
};
const UNGATED: Family = Family { gated: false, layer_norm: true, bias: true, ..GATED };

/// Decoder families by `model_type`. Gated: the Llama lineage, Qwen, Gemma (GeGLU), Phi-3,
/// OLMo, InternLM, Granite, Cohere, DeepSeek, ...; ungated: GPT-2, GPT-NeoX, GPT-J, Falcon,
/// Phi-1/2, BLOOM, OPT, StarCoder2, MPT, ....
const FAMILIES: &[Family] = &[
    Family {
        types: &[
            "llama",
            "mistral",
            "mixtral",
            "qwen3",
            "qwen3_moe",
            "phi3",
            "phimoe",
            "olmo",
            "olmo2",
            "olmoe",
            "internlm",
            "internlm2",
            "internlm3",
            "granite",
            "granitemoe",
            "deepseek",
            "deepseek_v2",
            "deepseek_v3",
            "baichuan",
            "yi",
            "exaone",
            "chatglm",
            "glm",
            "glm4",
            "aquila",
        ],
        ..GATED
    },
    Family { types: &["qwen", "qwen2", "qwen2_moe"], qkv_bias: true, ..GATED },
    Family { types: &["gemma", "gemma2", "gemma3", "gemma3_text"], tied: true, ..GATED },
    Family { types: &["cohere", "cohere2"], tied: true, layer_norm: true, parallel_block: true, ..GATED },
    Family { types: &["stablelm"], layer_norm: true, ..GATED },
    Family { types: &["gpt2", "gpt_bigcode"], tied: true, mlp_4x: true, ..UNGATED },
    Family { types: &["bloom"], tied: true, mlp_4x: true, ..UNGATED },
    Family {
        types: &["falcon", "refinedweb", "refinedwebmodel", "rw"],
        tied: true,
        bias: false,
        parallel_block: true,
        mlp_4x: true,
        ..UNGATED
    },
    Family { types: &["gptj", "codegen"], parallel_block: true, mlp_4x: true, ..UNGATED },
    Family { types: &["phi"], parallel_block: true, ..UNGATED },
    Family { types: &["gpt_neox", "nemotron"], ..UNGATED },
    Family { types: &["opt", "starcoder2"], tied: true, ..UNGATED },
    Family { types: &["mpt"], tied: true, bias: false, ..UNGATED },
];

fn family_of(model_type: &str) -> Option<(&'static str, Family)> {
    let squash = |s: &str| s.to_ascii_lowercase().replace(['_', '-'], "");
    let wanted = squash(model_type);
    FAMILIES.iter().find_map(|f| f.types.iter().find(|t| squash(t) == wanted).map(|t| (*t, *f)))
}

/// The family an `architectures` entry names (`Gemma2ForCausalLM` → `gemma2`).
fn family_of_architecture(arch: &str) -> Option<(&'static str, Family)> {
    let stem = ["ForCausalLM", "LMHeadModel", "ForConditionalGeneration", "Model"]
        .iter()
        .find_map(|s| arch.strip_suffix(s))
        .unwrap_or(arch);
    family_of(stem)
}

fn is_set(v: &serde_json::Value, key: &str) -> bool {
    v.get(key).is_some_and(|x| !x.is_null())
}

/// Reads a Hugging Face `config.json` of a dense or MoE decoder into a [`ModelArch`] named
/// `name`. The MLP's form (gated or not) and the defaults of absent fields come from the
/// file's `model_type` (or `architectures`); an unknown type falls back to the activation,
/// with a warning. Fields that change the architecture but are not modelled (sliding windows,
/// quantisation, dense layers among MoE ones, ...) are warned about; multi-head latent
/// attention (DeepSeek-V2/V3), which would be grossly mis-sized, is refused. Errors name the
/// missing or malformed field.
pub fn model_from_hf_config(name: &str, text: &str) -> Result<HfModel, HfConfigError> {
    use serde_json::Value;
    let root: Value =
        serde_json::from_str(text).map_err(|e| HfConfigError::new(format!("not valid JSON: {e}")))?;
    if !root.is_object() {
        return Err(HfConfigError::new("must be a JSON object (a Hugging Face config.json)"));
    }
    let name_or_path = root
        .get("_name_or_path")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from);
    let mut warnings = Vec::new();
    // Multimodal and some wrapper configs nest the language model.
    let v = match root.get("text_config").filter(|t| t.is_object()) {
        Some(text_config) => {
            if is_set(&root, "vision_config") {
                warnings.push("only the language model (text_config) is modelled: the vision encoder's weights and time are not counted".to_string());
            }
            text_config
        }
        None => &root,
    };
    let get = |keys: &[&str]| keys.iter().find_map(|k| v.get(*k).and_then(Value::as_u64));
    let get_in = |outer: &str, key: &str| v.get(outer).and_then(|o| o.get(key)).and_then(Value::as_u64);
    let flag = |k: &str| v.get(k).and_then(Value::as_bool);
    let text_of =
        |keys: &[&str]| keys.iter().find_map(|k| v.get(*k).and_then(Value::as_str)).map(str::to_string);
    let need = |keys: &[&str]| -> Result<u32, HfConfigError> {
        let n = get(keys).ok_or_else(|| {
            HfConfigError::new(format!("field '{}' is missing or not a whole number", keys[0]))
        })?;
        u32::try_from(n)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| HfConfigError::new(format!("field '{}' = {n} is out of range", keys[0])))
    };
    let small = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);

    // The family: model_type, else the architectures list, else unknown.
    let model_type = text_of(&["model_type"])
        .or_else(|| root.get("model_type").and_then(Value::as_str).map(str::to_string));
    let architectures: Vec<String> = root
        .get("architectures")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    let family = model_type
        .as_deref()
        .and_then(family_of)
        .or_else(|| architectures.iter().find_map(|a| family_of_architecture(a)));
    let family_name = family.map(|f| f.0);

    let embedding_dim = need(&["hidden_size", "n_embd", "d_model"])?;
    let num_layers = need(&["num_hidden_layers", "n_layer", "num_layers", "n_layers"])?;
    let num_q_heads = need(&["num_attention_heads", "n_head", "n_heads"])?;

    // Multi-head latent attention caches one compressed latent per token and layer, shared by
    // every head, instead of per-head K and V: ordinary attention would overstate its KV
    // cache several-fold.
    if let Some(kv_lora_rank) = get(&["kv_lora_rank"]).filter(|r| *r > 0) {
        let rope = get(&["qk_rope_head_dim"]).unwrap_or(0);
        let heads = get(&["num_key_value_heads"]).unwrap_or(u64::from(num_q_heads));
        let head_dim = get(&["head_dim"]).unwrap_or(u64::from(embedding_dim / num_q_heads));
        let ordinary = 2 * heads * head_dim;
        let latent = kv_lora_rank + rope;
        return Err(HfConfigError {
            message: format!(
                "multi-head latent attention (kv_lora_rank = {kv_lora_rank}, qk_rope_head_dim = {rope}: DeepSeek-V2/V3-style MLA) is not supported yet: it caches {latent} elements per token and layer, not split by TP, where ordinary attention would count 2 × {heads} heads × {head_dim} = {ordinary} ({:.1}× the KV cache)",
                ordinary as f64 / latent.max(1) as f64
            ),
            hint: Some(
                "simulate a catalogued GQA model of similar size instead (`llmsim --list-models`)"
                    .to_string(),
            ),
        });
    }

    let vocab_size = need(&["vocab_size", "padded_vocab_size"])?;
    let max_model_len = match get(&[
        "max_position_embeddings",
        "max_sequence_length",
        "seq_length",
        "n_positions",
        "max_seq_len",
        "n_ctx",
    ]) {
        Some(n) => small(n),
        None => {
            warnings.push(
                "the file gives no max_position_embeddings: the context is taken to be 4096 tokens"
                    .to_string(),
            );
            4096
        }
    };

    // Key/value heads: GQA fields, then the multi-query conventions of Falcon, GPT-BigCode
    // and ChatGLM, then one per query head.
    let falcon = matches!(family_name, Some("falcon" | "refinedweb" | "refinedwebmodel" | "rw"));
    // transformers' Falcon and GPT-BigCode default to multi-query.
    let multi_query = flag("multi_query").unwrap_or(falcon || family_name == Some("gpt_bigcode"));
    let kv_fields = get(&["num_key_value_heads", "num_kv_heads", "n_head_kv"])
        .or_else(|| get_in("attn_config", "kv_n_heads"))
        .map(small);
    let num_kv_heads = match family_name {
        // Falcon's new decoder architecture reads num_kv_heads; the original one is multi-query
        // or multi-head.
        _ if falcon => match kv_fields {
            Some(n) if flag("new_decoder_architecture").unwrap_or(false) || is_set(v, "n_head_kv") => n,
            None if flag("new_decoder_architecture").unwrap_or(false) => num_q_heads,
            _ if multi_query => 1,
            _ => num_q_heads,
        },
        Some("chatglm" | "glm") if flag("multi_query_attention").unwrap_or(false) => {
            get(&["multi_query_group_num"]).map_or(num_q_heads, small)
        }
        _ => match kv_fields {
            Some(n) => n,
            None if multi_query => 1,
            None => num_q_heads,
        },
    };
    if num_kv_heads == 0 || !num_q_heads.is_multiple_of(num_kv_heads) {
        return Err(HfConfigError::new(format!(
            "num_key_value_heads = {num_kv_heads} must divide num_attention_heads = {num_q_heads}"
        )));
    }
    // Gemma and others give head_dim explicitly; head_dim × heads need not equal hidden_size.
    let head_dim = match get(&["head_dim", "kv_channels"]) {
        Some(n) if n > 0 => small(n),
        _ if embedding_dim.is_multiple_of(num_q_heads) => embedding_dim / num_q_heads,
        _ => {
            return Err(HfConfigError::new(format!(
                "hidden_size = {embedding_dim} is not a multiple of num_attention_heads = {num_q_heads} and the file gives no head_dim"
            )));
        }
    };

    let activation = text_of(&["hidden_activation", "hidden_act", "activation_function", "activation"])
        .unwrap_or_else(|| "silu".to_string());
    let gated = match family {
        Some((_, f)) => f.gated,
        None => {
            let gated = matches!(activation.as_str(), "silu" | "swiglu" | "swish" | "geglu");
            let named = match (&model_type, architectures.first()) {
                (Some(t), _) => format!("model_type '{t}' is not one llmsim knows"),
                (None, Some(a)) => format!("architecture '{a}' is not one llmsim knows"),
                (None, None) => "the file names no model_type".to_string(),
            };
            warnings.push(format!(
                "{named}: its MLP is taken to be {} from the activation '{activation}' alone; check the parameter count against the model card",
                if gated { "gated (gate, up and down projections)" } else { "ungated (up and down projections)" }
            ));
            gated
        }
    };
    let projections = if gated { 3 } else { 2 };

    // The MLP: mixture of experts, or one dense MLP.
    let experts =
        get(&["num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts"]).unwrap_or(0);
    let moe = if experts > 1 {
        let top_k = need(&["num_experts_per_tok", "moe_top_k"])?;
        let expert_hidden_dim = need(&["moe_intermediate_size", "intermediate_size"])?;
        let shared = match get(&["shared_expert_intermediate_size"]) {
            Some(n) => small(n),
            None => small(
                get(&["n_shared_experts", "num_shared_experts"]).unwrap_or(0) * u64::from(expert_hidden_dim),
            ),
        };
        Some(MoeSpec {
            num_experts: small(experts),
            top_k,
            expert_hidden_dim,
            shared_expert_hidden_dim: shared,
        })
    } else {
        None
    };
    let dense_mlp = get(&["intermediate_size", "n_inner", "ffn_hidden_size", "ffn_dim"]).map(small);
    let mlp_hidden_dim = match (&moe, dense_mlp) {
        (Some(m), dense) => dense.unwrap_or(m.expert_hidden_dim),
        // Qwen (v1) counts both halves of its gated MLP in intermediate_size.
        (None, Some(n)) if family_name == Some("qwen") => n / 2,
        (None, Some(n)) => n,
        (None, None) if family_name == Some("mpt") => {
            let ratio = v.get("expansion_ratio").and_then(Value::as_f64).unwrap_or(4.0);
            (f64::from(embedding_dim) * ratio) as u32
        }
        (None, None) if family.is_some_and(|f| f.1.mlp_4x) => 4 * embedding_dim,
        (None, None) => {
            return Err(HfConfigError::new("field 'intermediate_size' is missing or not a whole number"));
        }
    };
    if let Some(m) = &moe {
        // Dense layers among the MoE ones are not modelled: every layer gets the MoE MLP.
        let e = u64::from(embedding_dim);
        let moe_layer = (u64::from(m.num_experts) * u64::from(m.expert_hidden_dim)
            + u64::from(m.shared_expert_hidden_dim))
            * projections
            * e
            + e * u64::from(m.num_experts);
        let dense_layer = projections * e * u64::from(mlp_hidden_dim);
        let dense_layers = get(&["first_k_dense_replace"]).unwrap_or(0)
            + v.get("mlp_only_layers").and_then(Value::as_array).map_or(0, |a| a.len() as u64);
        let step = get(&["decoder_sparse_step", "moe_layer_freq"]).unwrap_or(1);
        let dense_layers = (dense_layers
            + if step > 1 { u64::from(num_layers) - u64::from(num_layers) / step } else { 0 })
        .min(u64::from(num_layers));
        if dense_layers > 0 {
            let extra = dense_layers as f64 * (moe_layer as f64 - dense_layer as f64);
            warnings.push(format!(
                "{dense_layers} of the {num_layers} layers have a dense MLP (first_k_dense_replace, mlp_only_layers or decoder_sparse_step); llmsim gives every layer the MoE MLP, {:+.2} B parameters against the real model",
                extra / 1e9
            ));
        }
    }

    // Architecture fields that change memory or time but are not modelled.
    let sliding = get(&["sliding_window"])
        .filter(|w| *w > 0 && *w < u64::from(max_model_len) && flag("use_sliding_window") != Some(false));
    if let Some(w) = sliding {
        warnings.push(format!(
            "sliding_window = {w} is ignored: every layer is modelled with full attention, keeping KV for the whole context (more KV memory and attention time than sliding-window layers need)"
        ));
    }
    if let Some(q) =
        root.get("quantization_config").or_else(|| v.get("quantization_config")).filter(|q| !q.is_null())
    {
        let method = q.get("quant_method").and_then(Value::as_str).unwrap_or("unnamed");
        warnings.push(format!(
            "quantization_config ({method}) is ignored: weights are sized by --replica_config_weight_dtype"
        ));
    }
    if let Some(n) = get(&["num_nextn_predict_layers"]).filter(|n| *n > 0) {
        warnings.push(format!(
            "num_nextn_predict_layers = {n}: the multi-token-prediction layers are not modelled"
        ));
    }
    if let Some(layers) = v.get("cross_attention_layers").and_then(Value::as_array).filter(|a| !a.is_empty())
    {
        warnings.push(format!(
            "the {} cross_attention_layers are modelled as ordinary self-attention layers",
            layers.len()
        ));
    }

    let fam = family.map(|f| f.1);
    let use_bias = match (flag("bias"), flag("use_bias"), flag("enable_bias"), flag("no_bias")) {
        (Some(b), _, _, _) | (_, Some(b), _, _) | (_, _, Some(b), _) => b,
        (_, _, _, Some(no)) => !no,
        _ => fam.is_some_and(|f| f.bias),
    };
    let use_qkv_bias = flag("attention_bias")
        .or(flag("qkv_bias"))
        .or(flag("add_qkv_bias"))
        .unwrap_or(fam.is_some_and(|f| f.qkv_bias));
    let layer_norm = match fam {
        Some(f) => f.layer_norm,
        None => is_set(v, "layer_norm_epsilon") && !is_set(v, "rms_norm_eps"),
    };
    // Falcon's new decoder architecture has two norms feeding its parallel block.
    let parallel_block =
        fam.is_some_and(|f| f.parallel_block) && !flag("new_decoder_architecture").unwrap_or(false);
    let partial_rotary_factor = v
        .get("partial_rotary_factor")
        .or_else(|| v.get("rotary_pct"))
        .and_then(Value::as_f64)
        .or_else(|| get(&["rotary_dim"]).map(|r| r as f64 / f64::from(head_dim)))
        .unwrap_or(1.0);
    Ok(HfModel {
        arch: ModelArch {
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
            use_bias,
            use_qkv_bias,
            activation,
            norm: if layer_norm { "layer_norm".into() } else { "rms_norm".into() },
            post_attn_norm: !parallel_block,
            partial_rotary_factor,
            no_tensor_parallel: false,
            tie_word_embeddings: flag("tie_word_embeddings").unwrap_or(fam.is_some_and(|f| f.tied)),
            moe,
        },
        name_or_path,
        warnings,
    })
}

#[cfg(test)]
mod hf_tests {
    use super::*;

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
            parallel: ParallelSpec { tensor_parallel_size: 1, num_pipeline_stages: 1 },
            weight_dtype: Dtype::Bf16,
            kv_cache_dtype: Dtype::Bf16,
        };
        let embeddings =
            if m.tie_word_embeddings { 1 } else { 2 } * u64::from(m.vocab_size) * u64::from(m.embedding_dim);
        crate::memory::params_per_layer(&replica) * u64::from(m.num_layers) + embeddings
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
        assert!(
            m.tie_word_embeddings,
            "Gemma ties its embeddings (transformers' default, absent from the file)"
        );
        assert_eq!(
            (m.head_dim(), m.num_q_heads, m.embedding_dim),
            (256, 16, 3584),
            "head_dim × heads = 4096 ≠ hidden 3584"
        );
        // google/gemma-2-9b has 9,241,705,984 parameters; the planner counts two of its four
        // norms per layer (-301,056) and leaves out the final norm (-3,584).
        assert_eq!(params(m), 9_241_705_984 - 42 * 2 * 3584 - 3584);
        assert!(
            hf.warnings.iter().any(|w| w.contains("sliding_window = 4096 is ignored")),
            "{:?}",
            hf.warnings
        );
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
            hf.warnings.iter().any(|w| w.contains("model_type 'brand_new'")
                && w.contains("ungated")
                && w.contains("'gelu'")),
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
    fn deepseek_v2_multi_head_latent_attention_is_refused_with_the_numbers() {
        let e = model_from_hf_config("x", DEEPSEEK_V2_LITE).unwrap_err();
        assert!(
            e.message.contains("multi-head latent attention") && e.message.contains("not supported yet"),
            "{e}"
        );
        // 512 + 64 = 576 elements per token and layer, against 2 × 16 × 128 = 4096: 7.1×.
        assert!(e.message.contains("576") && e.message.contains("4096") && e.message.contains("7.1×"), "{e}");
        assert!(e.hint.is_some());
    }

    #[test]
    fn deepseek_moe_shared_experts_count_and_dense_first_layers_are_warned_about() {
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
        assert!(
            hf.warnings.iter().any(|w| w.starts_with("1 of the 28 layers have a dense MLP")),
            "{:?}",
            hf.warnings
        );
        // 16.4 B parameters published; one MoE layer in place of the dense one adds ~0.5 B.
        let p = params(&hf.arch) as f64;
        assert!((16.3e9..17.2e9).contains(&p), "{p}");
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
        // Qwen2 turns its sliding window off: nothing to say.
        let qwen2 = r#"{"model_type": "qwen2", "hidden_size": 3584, "num_hidden_layers": 28, "num_attention_heads": 28,
            "num_key_value_heads": 4, "intermediate_size": 18944, "vocab_size": 152064,
            "max_position_embeddings": 131072, "sliding_window": 131072, "use_sliding_window": false}"#;
        assert!(read(qwen2).warnings.is_empty());
    }

    #[test]
    fn missing_fields_are_named() {
        let e = model_from_hf_config("x", r#"{"hidden_size": 4096}"#).unwrap_err();
        assert!(e.message.contains("num_hidden_layers"), "{e}");
        assert!(model_from_hf_config("x", "{").unwrap_err().message.contains("JSON"));
        assert!(model_from_hf_config("x", "[1]").unwrap_err().message.contains("JSON object"));
    }

    #[test]
    fn models_resolve_without_their_organisation_and_by_old_ids() {
        assert_eq!(find_model("Meta-Llama-3-8B").unwrap().name, "meta-llama/Meta-Llama-3-8B");
        assert_eq!(find_model("meta-llama-3-8b").unwrap().name, "meta-llama/Meta-Llama-3-8B");
        assert_eq!(find_model("Llama-3.1-8B-Instruct").unwrap().name, "meta-llama/Llama-3.1-8B");
        for size in ["8B", "70B", "405B"] {
            for variant in ["", "-Instruct"] {
                let old = format!("meta-llama/Meta-Llama-3.1-{size}{variant}");
                assert_eq!(
                    find_model(&old).map(|m| m.name.as_str()),
                    Some(format!("meta-llama/Llama-3.1-{size}").as_str()),
                    "{old}"
                );
            }
        }
        assert!(find_model("Llama").is_none());
        assert_eq!(
            suggest_model("Llama-3-8B"),
            Some("meta-llama/Meta-Llama-3-8B"),
            "an exact suffix comes first"
        );
        assert_eq!(suggest_model("meta-llama/Meta-Llama-3-8C"), Some("meta-llama/Meta-Llama-3-8B"));
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
        assert!(
            c.predictor.build.describe().contains("borrowed from h100 for custom"),
            "{}",
            c.predictor.build.describe()
        );
    }

    #[test]
    fn a_custom_device_without_figures_names_each_missing_flag() {
        let e = build(&[("replica_config_device", "custom"), ("custom_device_config_calibration", "h999")])
            .unwrap_err();
        let flags: Vec<&str> = e.0.iter().map(|e| e.flag.as_str()).collect();
        for f in [
            "custom_device_config_fp16_tflops",
            "custom_device_config_memory_gb",
            "custom_device_config_memory_bandwidth_gbps",
            "custom_device_config_calibration",
        ] {
            assert!(flags.contains(&f), "{f} missing from {flags:?}");
        }
        assert!(!flags.contains(&"replica_config_device"), "custom is a known device: {flags:?}");
    }
}
