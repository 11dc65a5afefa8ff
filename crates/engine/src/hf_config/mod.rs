//! The Hugging Face `config.json` reader: a custom dense or MoE decoder
//! (`--replica_config_model_config_file`) as a [`ModelArch`]. The MLP's form and the defaults
//! of absent fields come from the file's `model_type` family (`family.rs`).

mod family;
#[cfg(test)]
mod tests;

use family::{family_of, family_of_architecture};

use serde_json::Value;

use crate::catalog::{MlaSpec, ModelArch, MoeSpec, SlidingWindowSpec, WeightPart};
use crate::limits::{
    MAX_MODEL_DIM, MAX_MODEL_EXPERTS, MAX_MODEL_HEADS, MAX_MODEL_LAYERS, MAX_MODEL_LEN, MAX_MODEL_PARAMS,
    MAX_VOCAB_SIZE,
};
use family::Family;

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

/// Reads a Hugging Face `config.json` of a dense or MoE decoder into a [`ModelArch`] named
/// `name`. The MLP's form (gated or not) and the defaults of absent fields come from the
/// file's `model_type` (or `architectures`); an unknown type falls back to the activation,
/// with a warning. Sliding-window layers named by `layer_types` are read; fields that change the
/// architecture but are not modelled (a sliding window without `layer_types`, quantisation, dense layers among MoE ones other than the first k, ...) are warned about;
/// multi-head latent attention (DeepSeek-V2/V3, Kimi-K2) is read from its ranks and head sizes.
/// Errors name the missing or malformed field.
pub fn model_from_hf_config(name: &str, text: &str) -> Result<HfModel, HfConfigError> {
    // A byte-order mark is skipped, as everywhere else llmsim reads text.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
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
    let f = Fields::of_language_model(&root, &mut warnings);
    let family = f.family();

    let embedding_dim = f.need(&["hidden_size", "n_embd", "d_model"], MAX_MODEL_DIM)?;
    let num_layers = f.need(&["num_hidden_layers", "n_layer", "num_layers", "n_layers"], MAX_MODEL_LAYERS)?;
    let num_q_heads = f.need(&["num_attention_heads", "n_head", "n_heads"], MAX_MODEL_HEADS)?;
    let mla = f.mla()?;
    let vocab_size = f.need(&["vocab_size", "padded_vocab_size"], MAX_VOCAB_SIZE)?;
    let max_model_len = f.max_model_len(&mut warnings);
    let num_kv_heads = f.num_kv_heads(family.name, num_q_heads)?;
    // Latent attention's query/key heads are nope + rope wide, whatever hidden_size / heads is.
    let head_dim = match &mla {
        Some(m) => m.qk_head_dim(),
        None => f.head_dim(embedding_dim, num_q_heads)?,
    };
    let activation = f
        .text_of(&["hidden_activation", "hidden_act", "activation_function", "activation"])
        .unwrap_or_else(|| "silu".to_string());
    let gated = family.gated(&activation, &mut warnings);
    let moe = f.moe()?;
    let mlp_hidden_dim = f.mlp_hidden_dim(&moe, &family, embedding_dim)?;
    if let Some(m) = &moe {
        f.warn_dense_layers(m, gated, embedding_dim, num_layers, mlp_hidden_dim, &mut warnings);
    }
    let (sliding_window, layers_typed) = f.sliding_window(max_model_len, num_layers)?;
    f.warn_unmodelled(max_model_len, layers_typed, &mut warnings);

    let fam = family.table;
    let flag = |k: &str| f.flag(k);
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
        None => f.is_set("layer_norm_epsilon") && !f.is_set("rms_norm_eps"),
    };
    // Falcon's new decoder architecture has two norms feeding its parallel block.
    let parallel_block =
        fam.is_some_and(|f| f.parallel_block) && !flag("new_decoder_architecture").unwrap_or(false);
    let partial_rotary_factor =
        f.v.get("partial_rotary_factor")
            .or_else(|| f.v.get("rotary_pct"))
            .and_then(Value::as_f64)
            .or_else(|| f.get(&["rotary_dim"]).map(|r| r as f64 / f64::from(head_dim)))
            .unwrap_or(1.0);
    let arch = ModelArch {
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
        mla,
        sliding_window,
        linear_attention: None,
        sparse_attention: None,
        architecture: family.architectures.first().cloned(),
        fp4_unquantised: f.fp4_unquantised(num_layers),
        fp8_block_scaled: f.fp8_block_scaled()?,
        qk_norm_across_heads: flag("use_qk_norm").unwrap_or(false)
            && f.v.get("qk_norm_type").and_then(Value::as_str) == Some("per_layer"),
    };
    check_limits(&arch)?;
    Ok(HfModel { arch, name_or_path, warnings })
}

/// Refuses a model beyond llmsim's limits ([`crate::limits`]): a dimension, or a parameter
/// count (counted in floating point, as it may be anything) past [`MAX_MODEL_PARAMS`]. Within
/// them the memory planner's integer counts cannot wrap.
fn check_limits(m: &ModelArch) -> Result<(), HfConfigError> {
    let mut dims = vec![
        ("num_hidden_layers", m.num_layers, MAX_MODEL_LAYERS),
        ("hidden_size", m.embedding_dim, MAX_MODEL_DIM),
        ("num_attention_heads", m.num_q_heads, MAX_MODEL_HEADS),
        ("num_key_value_heads", m.num_kv_heads, MAX_MODEL_HEADS),
        ("head_dim", m.head_dim(), MAX_MODEL_DIM),
        ("intermediate_size", m.mlp_hidden_dim, MAX_MODEL_DIM),
        ("vocab_size", m.vocab_size, MAX_VOCAB_SIZE),
        ("max_position_embeddings", m.max_model_len, MAX_MODEL_LEN),
    ];
    if let Some(mla) = &m.mla {
        dims.extend([
            ("q_lora_rank", mla.q_lora_rank, MAX_MODEL_DIM),
            ("kv_lora_rank", mla.kv_lora_rank, MAX_MODEL_DIM),
            ("qk_nope_head_dim", mla.qk_nope_head_dim, MAX_MODEL_DIM),
            ("qk_rope_head_dim", mla.qk_rope_head_dim, MAX_MODEL_DIM),
            ("v_head_dim", mla.v_head_dim, MAX_MODEL_DIM),
        ]);
    }
    if let Some(moe) = &m.moe {
        dims.extend([
            ("num_experts", moe.num_experts, MAX_MODEL_EXPERTS),
            ("num_experts_per_tok", moe.top_k, moe.num_experts),
            ("moe_intermediate_size", moe.expert_hidden_dim, MAX_MODEL_DIM),
            ("shared_expert_intermediate_size", moe.shared_expert_hidden_dim, MAX_MODEL_DIM),
            ("first_k_dense_replace", moe.first_k_dense_layers, m.num_layers),
        ]);
    }
    if let Some((field, value, max)) = dims.into_iter().find(|(_, value, max)| value > max) {
        let bound = if field == "num_experts_per_tok" {
            format!("more than the model's {max} experts")
        } else if field == "first_k_dense_replace" {
            format!("more than the model's {max} layers")
        } else {
            format!("more than the {max} llmsim models")
        };
        return Err(HfConfigError::new(format!("field '{field}' = {value} is {bound}")));
    }
    if !(m.partial_rotary_factor >= 0.0 && m.partial_rotary_factor <= 1.0) {
        return Err(HfConfigError::new(format!(
            "the rotary share of a head (partial_rotary_factor, rotary_pct or rotary_dim / head_dim) = {} must be between 0 and 1",
            m.partial_rotary_factor
        )));
    }
    let params = approximate_params(m);
    if params > MAX_MODEL_PARAMS as f64 {
        return Err(HfConfigError {
            message: format!(
                "the model would have about {params:.3e} parameters ({} layers, hidden size {}), more than the {MAX_MODEL_PARAMS} (about 1.1e15) llmsim models",
                m.num_layers, m.embedding_dim
            ),
            hint: Some("check num_hidden_layers, hidden_size and the MLP and expert sizes".to_string()),
        });
    }
    Ok(())
}

/// A model's parameters, counted as the memory planner counts them (every expert of every
/// MoE layer, both embedding matrices), in floating point.
fn approximate_params(m: &ModelArch) -> f64 {
    let (e, hd) = (f64::from(m.embedding_dim), f64::from(m.head_dim()));
    let (q, kv) = (f64::from(m.num_q_heads), f64::from(m.num_kv_heads));
    let projections = if m.use_gated_mlp { 3.0 } else { 2.0 };
    let dense_mlp = projections * e * f64::from(m.mlp_hidden_dim);
    let (moe_mlp, dense_layers) = match &m.moe {
        None => (dense_mlp, 0.0),
        Some(moe) => (
            projections
                * e
                * (f64::from(moe.num_experts) * f64::from(moe.expert_hidden_dim)
                    + f64::from(moe.shared_expert_hidden_dim))
                + e * f64::from(moe.num_experts),
            f64::from(moe.first_k_dense_layers.min(m.num_layers)),
        ),
    };
    let attention = match &m.mla {
        Some(mla) => {
            let (q_lora, kv_lora) = (f64::from(mla.q_lora_rank), f64::from(mla.kv_lora_rank));
            let (qk, v) = (f64::from(mla.qk_head_dim()), f64::from(mla.v_head_dim));
            let queries = if q_lora > 0.0 { q_lora * q * qk } else { e * q * qk };
            e * (q_lora + kv_lora + f64::from(mla.qk_rope_head_dim))
                + queries
                + kv_lora * q * (f64::from(mla.qk_nope_head_dim) + v)
                + q * v * e
        }
        None => e * hd * (q + 2.0 * kv) + q * hd * e + hd * (q + 2.0 * kv),
    };
    let layers = f64::from(m.num_layers);
    layers * (attention + 2.0 * e)
        + dense_layers * dense_mlp
        + (layers - dense_layers) * moe_mlp
        + 2.0 * f64::from(m.vocab_size) * e
}

/// A saturating `u64` → `u32` for counts read from the file.
fn small(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The decoder's family: from `model_type`, else the `architectures` list, else unknown.
struct FamilyOf {
    /// The family's `model_type` as the table spells it.
    name: Option<&'static str>,
    table: Option<Family>,
    model_type: Option<String>,
    architectures: Vec<String>,
}

impl FamilyOf {
    /// Whether the MLP is gated: the family says; an unknown family falls back to the
    /// activation, with a warning.
    fn gated(&self, activation: &str, warnings: &mut Vec<String>) -> bool {
        if let Some(f) = self.table {
            return f.gated;
        }
        let gated = matches!(activation, "silu" | "swiglu" | "swish" | "geglu");
        let named = match (&self.model_type, self.architectures.first()) {
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
}

/// The fields of a config.json's language model, read under the names different families
/// give them.
struct Fields<'a> {
    /// The whole file.
    root: &'a Value,
    /// The language model's object: the root, or its `text_config`.
    v: &'a Value,
}

impl<'a> Fields<'a> {
    /// The language model of `root`: multimodal and some wrapper configs nest it.
    fn of_language_model(root: &'a Value, warnings: &mut Vec<String>) -> Fields<'a> {
        let v = match root.get("text_config").filter(|t| t.is_object()) {
            Some(text_config) => {
                if is_set(root, "vision_config") {
                    warnings.push("only the language model (text_config) is modelled: the vision encoder's weights and time are not counted".to_string());
                }
                text_config
            }
            None => root,
        };
        Fields { root, v }
    }

    /// The first of `keys` that holds a whole number.
    fn get(&self, keys: &[&str]) -> Option<u64> {
        keys.iter().find_map(|k| self.v.get(*k).and_then(Value::as_u64))
    }

    fn get_in(&self, outer: &str, key: &str) -> Option<u64> {
        self.v.get(outer).and_then(|o| o.get(key)).and_then(Value::as_u64)
    }

    fn flag(&self, key: &str) -> Option<bool> {
        self.v.get(key).and_then(Value::as_bool)
    }

    fn text_of(&self, keys: &[&str]) -> Option<String> {
        keys.iter().find_map(|k| self.v.get(*k).and_then(Value::as_str)).map(str::to_string)
    }

    fn is_set(&self, key: &str) -> bool {
        is_set(self.v, key)
    }

    /// A whole number in `1..=max` under one of `keys`, or an error naming the first: fields
    /// are bounded as they are read, before anything is derived from them.
    fn need(&self, keys: &[&str], max: u32) -> Result<u32, HfConfigError> {
        let n = self.get(keys).ok_or_else(|| {
            HfConfigError::new(format!("field '{}' is missing or not a whole number", keys[0]))
        })?;
        if n > u64::from(max) {
            return Err(HfConfigError::new(format!(
                "field '{}' = {n} is more than the {max} llmsim models",
                keys[0]
            )));
        }
        u32::try_from(n)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| HfConfigError::new(format!("field '{}' = {n} is out of range", keys[0])))
    }

    fn family(&self) -> FamilyOf {
        let model_type = self
            .text_of(&["model_type"])
            .or_else(|| self.root.get("model_type").and_then(Value::as_str).map(str::to_string));
        let architectures: Vec<String> = self
            .root
            .get("architectures")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        let family = model_type
            .as_deref()
            .and_then(family_of)
            .or_else(|| architectures.iter().find_map(|a| family_of_architecture(a)));
        FamilyOf { name: family.map(|f| f.0), table: family.map(|f| f.1), model_type, architectures }
    }

    /// Multi-head latent attention, when the file gives a `kv_lora_rank`: its ranks and head
    /// sizes, each required (a null `q_lora_rank` means queries are not compressed, as in
    /// DeepSeek-V2-Lite).
    fn mla(&self) -> Result<Option<MlaSpec>, HfConfigError> {
        if self.get(&["kv_lora_rank"]).is_none_or(|r| r == 0) {
            return Ok(None);
        }
        let kv_lora_rank = self.need(&["kv_lora_rank"], MAX_MODEL_DIM)?;
        let q_lora_rank = match self.get(&["q_lora_rank"]) {
            Some(_) => self.need(&["q_lora_rank"], MAX_MODEL_DIM)?,
            None => 0,
        };
        Ok(Some(MlaSpec {
            q_lora_rank,
            kv_lora_rank,
            qk_nope_head_dim: self.need(&["qk_nope_head_dim"], MAX_MODEL_DIM)?,
            qk_rope_head_dim: self.need(&["qk_rope_head_dim"], MAX_MODEL_DIM)?,
            v_head_dim: self.need(&["v_head_dim"], MAX_MODEL_DIM)?,
        }))
    }

    /// The longest context; 4096 with a warning when the file gives none.
    fn max_model_len(&self, warnings: &mut Vec<String>) -> u32 {
        match self.get(&[
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
        }
    }

    /// Key/value heads: GQA fields, then the multi-query conventions of Falcon, GPT-BigCode
    /// and ChatGLM, then one per query head.
    fn num_kv_heads(&self, family_name: Option<&str>, num_q_heads: u32) -> Result<u32, HfConfigError> {
        let falcon = matches!(family_name, Some("falcon" | "refinedweb" | "refinedwebmodel" | "rw"));
        // transformers' Falcon and GPT-BigCode default to multi-query.
        let multi_query = self.flag("multi_query").unwrap_or(falcon || family_name == Some("gpt_bigcode"));
        let kv_fields = self
            .get(&["num_key_value_heads", "num_kv_heads", "n_head_kv"])
            .or_else(|| self.get_in("attn_config", "kv_n_heads"))
            .map(small);
        let num_kv_heads = match family_name {
            // Falcon's new decoder architecture reads num_kv_heads; the original one is multi-query
            // or multi-head.
            _ if falcon => match kv_fields {
                Some(n)
                    if self.flag("new_decoder_architecture").unwrap_or(false)
                        || is_set(self.v, "n_head_kv") =>
                {
                    n
                }
                None if self.flag("new_decoder_architecture").unwrap_or(false) => num_q_heads,
                _ if multi_query => 1,
                _ => num_q_heads,
            },
            Some("chatglm" | "glm") if self.flag("multi_query_attention").unwrap_or(false) => {
                self.get(&["multi_query_group_num"]).map_or(num_q_heads, small)
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
        Ok(num_kv_heads)
    }

    /// The per-head size: Gemma and others give head_dim explicitly, and head_dim × heads need
    /// not equal hidden_size.
    fn head_dim(&self, embedding_dim: u32, num_q_heads: u32) -> Result<u32, HfConfigError> {
        match self.get(&["head_dim", "kv_channels"]) {
            Some(n) if n > 0 => Ok(small(n)),
            _ if embedding_dim.is_multiple_of(num_q_heads) => Ok(embedding_dim / num_q_heads),
            _ => Err(HfConfigError::new(format!(
                "hidden_size = {embedding_dim} is not a multiple of num_attention_heads = {num_q_heads} and the file gives no head_dim"
            ))),
        }
    }

    /// The mixture-of-experts layout, if the model has more than one expert.
    fn moe(&self) -> Result<Option<MoeSpec>, HfConfigError> {
        let experts = self
            .get(&["num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts"])
            .unwrap_or(0);
        if experts > 1 {
            let top_k = self.need(&["num_experts_per_tok", "moe_top_k"], MAX_MODEL_EXPERTS)?;
            let expert_hidden_dim =
                self.need(&["moe_intermediate_size", "intermediate_size"], MAX_MODEL_DIM)?;
            let shared = match self.get(&["shared_expert_intermediate_size"]) {
                Some(n) => small(n),
                None => small(
                    self.get(&["n_shared_experts", "num_shared_experts"]).unwrap_or(0)
                        * u64::from(expert_hidden_dim),
                ),
            };
            Ok(Some(MoeSpec {
                num_experts: small(experts),
                top_k,
                expert_hidden_dim,
                shared_expert_hidden_dim: shared,
                first_k_dense_layers: small(self.get(&["first_k_dense_replace"]).unwrap_or(0)),
            }))
        } else {
            Ok(None)
        }
    }

    /// The dense MLP's hidden size (an MoE model's dense size, else its experts').
    fn mlp_hidden_dim(
        &self,
        moe: &Option<MoeSpec>,
        family: &FamilyOf,
        embedding_dim: u32,
    ) -> Result<u32, HfConfigError> {
        let dense_mlp = self.get(&["intermediate_size", "n_inner", "ffn_hidden_size", "ffn_dim"]).map(small);
        let hidden = match (moe, dense_mlp) {
            (Some(m), dense) => dense.unwrap_or(m.expert_hidden_dim),
            // Qwen (v1) counts both halves of its gated MLP in intermediate_size.
            (None, Some(n)) if family.name == Some("qwen") => n / 2,
            (None, Some(n)) => n,
            (None, None) if family.name == Some("mpt") => {
                let ratio = self.v.get("expansion_ratio").and_then(Value::as_f64).unwrap_or(4.0);
                (f64::from(embedding_dim) * ratio) as u32
            }
            (None, None) if family.table.is_some_and(|f| f.mlp_4x) => embedding_dim.saturating_mul(4),
            (None, None) => {
                return Err(HfConfigError::new("field 'intermediate_size' is missing or not a whole number"));
            }
        };
        Ok(hidden)
    }

    /// Warns that dense layers among MoE ones, other than the first k (modelled), are not:
    /// those layers get the MoE MLP.
    fn warn_dense_layers(
        &self,
        m: &MoeSpec,
        gated: bool,
        embedding_dim: u32,
        num_layers: u32,
        mlp_hidden_dim: u32,
        warnings: &mut Vec<String>,
    ) {
        // In floating point: the sizes are not yet checked against the limits.
        let projections = if gated { 3.0 } else { 2.0 };
        let e = f64::from(embedding_dim);
        let moe_layer = (f64::from(m.num_experts) * f64::from(m.expert_hidden_dim)
            + f64::from(m.shared_expert_hidden_dim))
            * projections
            * e
            + e * f64::from(m.num_experts);
        let dense_layer = projections * e * f64::from(mlp_hidden_dim);
        let dense_layers =
            self.v.get("mlp_only_layers").and_then(Value::as_array).map_or(0, |a| a.len() as u64);
        let step = self.get(&["decoder_sparse_step", "moe_layer_freq"]).unwrap_or(1);
        let dense_layers = (dense_layers
            + if step > 1 { u64::from(num_layers) - u64::from(num_layers) / step } else { 0 })
        .min(u64::from(num_layers).saturating_sub(u64::from(m.first_k_dense_layers)));
        if dense_layers > 0 {
            let extra = dense_layers as f64 * (moe_layer - dense_layer);
            warnings.push(format!(
                "{dense_layers} of the {num_layers} layers have a dense MLP (mlp_only_layers or decoder_sparse_step); llmsim gives them the MoE MLP, {:+.2} B parameters against the real model",
                extra / 1e9
            ));
        }
    }

    /// The window of a sliding-window model (`sliding_window`, when shorter than the context
    /// and not turned off by `use_sliding_window`).
    fn window(&self, max_model_len: u32) -> Option<u64> {
        self.get(&["sliding_window"]).filter(|w| {
            *w > 0 && *w < u64::from(max_model_len) && self.flag("use_sliding_window") != Some(false)
        })
    }

    /// Sliding-window layers as `layer_types` lists them (gpt-oss, Gemma 3: `sliding_attention`
    /// against `full_attention`), with the window (`None` without a window or when no layer
    /// slides), and whether `layer_types` said which layers slide (without it, see
    /// [`Self::warn_unmodelled`]). A `layer_types` that is not an array of `num_hidden_layers`
    /// entries, each `sliding_attention` or `full_attention`, is refused.
    fn sliding_window(
        &self,
        max_model_len: u32,
        num_layers: u32,
    ) -> Result<(Option<SlidingWindowSpec>, bool), HfConfigError> {
        let Some(types) = self.v.get("layer_types").filter(|t| !t.is_null()) else {
            return Ok((None, false));
        };
        let Some(types) = types.as_array() else {
            return Err(HfConfigError::new("field 'layer_types' must be an array of layer kinds"));
        };
        if types.len() != num_layers as usize {
            return Err(HfConfigError::new(format!(
                "field 'layer_types' lists {} layers, but num_hidden_layers = {num_layers}",
                types.len()
            )));
        }
        let mut sliding = 0u32;
        for (i, t) in types.iter().enumerate() {
            match t.as_str() {
                Some("sliding_attention") => sliding += 1,
                Some("full_attention") => {}
                _ => {
                    return Err(HfConfigError::new(format!(
                        "field 'layer_types' entry {i} = {t} is not modelled (only sliding_attention and full_attention are)"
                    )));
                }
            }
        }
        let window = self.window(max_model_len).and_then(|w| u32::try_from(w).ok());
        let spec = window.filter(|_| sliding > 0).map(|window| SlidingWindowSpec { window, layers: sliding });
        Ok((spec, true))
    }

    /// The weights the checkpoint's `quantization_config` leaves unquantised beyond the edges
    /// ([`ModelArch::fp4_unquantised`]): the attention where its `modules_to_not_convert`
    /// (gpt-oss's MXFP4), `ignore` (compressed-tensors) or `exclude_modules` (ModelOpt) names
    /// `self_attn` of every layer — by a pattern without a layer index
    /// (`model.layers.*.self_attn`) or one entry per layer (`model.layers.N.self_attn*` for each
    /// of the `num_layers`). A checkpoint that excludes some layers' attention only keeps it
    /// quantised here (a per-layer dtype is not modelled). Read under fp4 weights only.
    fn fp4_unquantised(&self, num_layers: u32) -> Vec<WeightPart> {
        let Some(q) = self.root.get("quantization_config").or_else(|| self.v.get("quantization_config"))
        else {
            return Vec::new();
        };
        let entries: Vec<&str> = ["modules_to_not_convert", "ignore", "exclude_modules"]
            .iter()
            .filter_map(|key| q.get(*key).and_then(Value::as_array))
            .flatten()
            .filter_map(Value::as_str)
            .filter(|m| m.contains("self_attn"))
            .collect();
        // The layer index an entry names (`layers.N.`), if any.
        let layer_of = |m: &str| {
            m.split("layers.")
                .nth(1)
                .and_then(|rest| rest.split('.').next())
                .and_then(|n| n.parse::<u32>().ok())
        };
        let every_layer = entries.iter().any(|m| layer_of(m).is_none()) || {
            let layers: std::collections::BTreeSet<u32> =
                entries.iter().filter_map(|m| layer_of(m)).collect();
            num_layers > 0 && (0..num_layers).all(|l| layers.contains(&l))
        };
        if every_layer { vec![WeightPart::Attention] } else { Vec::new() }
    }

    /// Whether the checkpoint's `quantization_config` scales its weights per block
    /// (`weight_block_size: [rows, cols]`, as DeepSeek's and Qwen3's fp8 checkpoints do, or a
    /// compressed-tensors group with `"strategy": "block"`): [`ModelArch::fp8_block_scaled`].
    /// A `weight_block_size` that is not two positive whole numbers is an error.
    fn fp8_block_scaled(&self) -> Result<bool, HfConfigError> {
        let Some(q) = self.root.get("quantization_config").or_else(|| self.v.get("quantization_config"))
        else {
            return Ok(false);
        };
        match q.get("weight_block_size") {
            None | Some(Value::Null) => {}
            Some(b) => {
                let sizes: Option<Vec<u64>> =
                    b.as_array().map(|a| a.iter().filter_map(Value::as_u64).filter(|&n| n > 0).collect());
                return match sizes {
                    Some(s) if s.len() == 2 && b.as_array().is_some_and(|a| a.len() == 2) => Ok(true),
                    _ => Err(HfConfigError::new(format!(
                        "field 'quantization_config.weight_block_size' = {b} must be [rows, cols], two positive whole numbers"
                    ))),
                };
            }
        }
        let block_group = q.get("config_groups").and_then(Value::as_object).is_some_and(|groups| {
            groups.values().any(|g| g.pointer("/weights/strategy").and_then(Value::as_str) == Some("block"))
        });
        Ok(block_group)
    }

    /// Warns about the architecture fields that change memory or time but are not modelled.
    /// `layers_typed`: `layer_types` said which layers slide, so the window is modelled on them.
    fn warn_unmodelled(&self, max_model_len: u32, layers_typed: bool, warnings: &mut Vec<String>) {
        let sliding = self.window(max_model_len).filter(|_| !layers_typed);
        if let Some(w) = sliding {
            warnings.push(format!(
                "sliding_window = {w} is ignored: every layer is modelled with full attention, keeping KV for the whole context (more KV memory and attention time than sliding-window layers need)"
            ));
        }
        if let Some(q) = self
            .root
            .get("quantization_config")
            .or_else(|| self.v.get("quantization_config"))
            .filter(|q| !q.is_null())
        {
            let method = q.get("quant_method").and_then(Value::as_str).unwrap_or("unnamed");
            let int4 = if int4_weights(q) {
                " (INT4 weight-only here: pass --replica_config_weight_dtype int4, which makes an MoE model's routed experts INT4 and its attention, shared experts, dense MLPs, router, embedding and LM head bf16, and a dense model's layer weights INT4 and its embedding and LM head bf16; a checkpoint's INT4 attention or shared experts on an MoE model are not modelled)"
            } else {
                ""
            };
            warnings.push(format!(
                "quantization_config ({method}) is ignored: weights are sized by --replica_config_weight_dtype{int4}"
            ));
        }
        if let Some(n) = self.get(&["num_nextn_predict_layers"]).filter(|n| *n > 0) {
            warnings.push(format!(
                "num_nextn_predict_layers = {n}: the multi-token-prediction layers are not modelled"
            ));
        }
        if let Some(layers) =
            self.v.get("cross_attention_layers").and_then(Value::as_array).filter(|a| !a.is_empty())
        {
            warnings.push(format!(
                "the {} cross_attention_layers are modelled as ordinary self-attention layers",
                layers.len()
            ));
        }
    }
}

/// Whether a `quantization_config` stores 4-bit integer weights: GPTQ's and AWQ's `bits` (or
/// AWQ's `w_bit`) 4, or a compressed-tensors config group whose `weights` have `num_bits` 4 of
/// type `int` (the default).
fn int4_weights(q: &Value) -> bool {
    let four = |v: Option<&Value>| v.and_then(Value::as_u64) == Some(4);
    let group = |g: &Value| {
        g.get("weights").is_some_and(|w| {
            four(w.get("num_bits")) && w.get("type").and_then(Value::as_str).is_none_or(|t| t == "int")
        })
    };
    four(q.get("bits"))
        || four(q.get("w_bit"))
        || q.get("config_groups").and_then(Value::as_object).is_some_and(|g| g.values().any(group))
}

fn is_set(v: &Value, key: &str) -> bool {
    v.get(key).is_some_and(|x| !x.is_null())
}
