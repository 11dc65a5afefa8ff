//! What a Hugging Face `model_type` implies where its `config.json` leaves a field out.

/// What a Hugging Face `model_type` implies where its `config.json` leaves a field out:
/// transformers' per-class defaults, and the MLP's form, which no field states.
#[derive(Clone, Copy, Debug)]
pub(super) struct Family {
    /// `model_type` values, lower case.
    pub(super) types: &'static [&'static str],
    /// Gated MLP (SwiGLU/GeGLU: gate, up and down projections) rather than up and down only.
    pub(super) gated: bool,
    /// `tie_word_embeddings` when absent.
    pub(super) tied: bool,
    /// LayerNorm rather than RMSNorm.
    pub(super) layer_norm: bool,
    /// Linear layers carry biases.
    pub(super) bias: bool,
    /// The QKV projection carries a bias.
    pub(super) qkv_bias: bool,
    /// Attention and MLP read one shared norm (a parallel block).
    pub(super) parallel_block: bool,
    /// The MLP hidden size defaults to 4 × hidden when the file gives none.
    pub(super) mlp_4x: bool,
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
            "gpt_oss",
            "minimax_m2",
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

pub(super) fn family_of(model_type: &str) -> Option<(&'static str, Family)> {
    let squash = |s: &str| s.to_ascii_lowercase().replace(['_', '-'], "");
    let wanted = squash(model_type);
    FAMILIES.iter().find_map(|f| f.types.iter().find(|t| squash(t) == wanted).map(|t| (*t, *f)))
}

/// The family an `architectures` entry names (`Gemma2ForCausalLM` → `gemma2`).
pub(super) fn family_of_architecture(arch: &str) -> Option<(&'static str, Family)> {
    let stem = ["ForCausalLM", "LMHeadModel", "ForConditionalGeneration", "Model"]
        .iter()
        .find_map(|s| arch.strip_suffix(s))
        .unwrap_or(arch);
    family_of(stem)
}
