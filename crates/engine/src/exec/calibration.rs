//! Fitted roofline coefficients per device and collective coefficients per node, embedded from
//! `data/calibration.json` (written by `llmsim-calibrate fit` from ../shared/profiles).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::cost::{AlphaBeta, Collective, Curve};
use crate::config::Dtype;

/// The op classes a device calibration holds curves for (JSON keys).
pub mod class {
    /// Token embedding gather.
    pub const EMBEDDING: &str = "embedding";
    /// Pre-attention norm.
    pub const INPUT_LAYERNORM: &str = "input_layernorm";
    /// QKV projection GEMM.
    pub const ATTN_PRE_PROJ: &str = "attn_pre_proj";
    /// Rotary embedding.
    pub const ATTN_ROPE: &str = "attn_rope";
    /// Attention output projection GEMM.
    pub const ATTN_POST_PROJ: &str = "attn_post_proj";
    /// Post-attention norm.
    pub const POST_ATTENTION_LAYERNORM: &str = "post_attention_layernorm";
    /// Gate+up projection GEMM.
    pub const MLP_UP_PROJ: &str = "mlp_up_proj";
    /// SiLU·mul of a gated MLP.
    pub const MLP_ACT: &str = "mlp_act";
    /// The activation of an ungated MLP (GELU): a plain element-wise kernel, unlike the fused
    /// gate kernel, which walks each token's row in one thread block.
    pub const MLP_ACT_UNGATED: &str = "mlp_act_ungated";
    /// Down projection GEMM.
    pub const MLP_DOWN_PROJ: &str = "mlp_down_proj";
    /// Residual add.
    pub const ADD: &str = "add";
    /// Writing new K/V into the paged cache.
    pub const KV_CACHE_SAVE: &str = "attn_kv_cache_save";
    /// Any bf16 GEMM (LM head, MoE experts and router).
    pub const GEMM: &str = "gemm";
    /// Any fp8 GEMM.
    pub const GEMM_FP8: &str = "gemm_fp8";
    /// Any NVFP4 GEMM (fp4 weights and activations, block-scaled; the activations'
    /// quantisation included, as AIC measured the kernel).
    pub const GEMM_FP4: &str = "gemm_fp4";
    /// The grouped GEMMs of a fused MoE layer's experts at bf16 (vLLM's fused-MoE kernels are
    /// less efficient than a dense GEMM of the same FLOPs).
    pub const MOE_EXPERTS: &str = "moe_experts";
    /// The grouped GEMMs of fp8 (block-scaled) experts at prefill sizes: fitted where
    /// AIConfigurator measured fused-MoE kernels (`moe_fp8_block.csv`; H100, H200, B200, B300;
    /// not in [`ALL`]). Blended in from [`crate::exec::cost::MOE_PREFILL_FROM`] routed tokens per
    /// expert; below, and on other devices, fp8 experts take [`GEMM_FP8`].
    pub const MOE_EXPERTS_FP8: &str = "moe_experts_fp8";
    /// fp8 (block-scaled) experts' fused-MoE fit over every size, 1-4096 tokens (H100, H200:
    /// vLLM's Triton fused MoE, a ~35-40 µs floor per layer that the generic curve misses at
    /// decode sizes, 1.4-1.9× it from 1 to 4 tokens; B200, B300: vLLM's FlashInfer TRTLLM-Gen
    /// fp8 block MoE, 1.2-1.6× the generic curve at decode sizes). Read
    /// only where the engine runs that kernel at decode sizes
    /// (`roofline_execution_time_predictor_config_fp8_moe_fit_at_decode`, vLLM's bundle).
    pub const MOE_EXPERTS_FP8_ALL_SIZES: &str = "moe_experts_fp8_all_sizes";
    /// fp8 (block-scaled) experts on TensorRT-LLM's CUTLASS fused MoE (`CutlassMoeFCRunner`
    /// with DeepSeek fp8 block scales), over every size, 1-4096 tokens: H100, H200 only, fitted
    /// on AIC's `moe_fp8_block.csv` rows of FlashInfer's copy of that runner
    /// (`vllm_fp8moe_flashinfer_cutlass_flashinferexperts`, which vLLM runs only with EP > 1, so
    /// the rows are EP 2-256 and the fit is applied to each EP rank's experts; DeepSeek's
    /// experts at EP 8 and 4 tokens: 126 µs a layer, where the Triton kernel at TP 8 takes 78).
    /// Read only under `roofline_execution_time_predictor_config_trtllm_cutlass_fp8_moe`, which
    /// the TensorRT-LLM bundle sets (vLLM's invocation of the kernel may not be TensorRT-LLM's
    /// tuned one; VALIDATION.md, "TensorRT-LLM against SGLang on H200" and "TensorRT-LLM's
    /// Qwen3-MoE and gpt-oss layers fuse their norms").
    pub const MOE_EXPERTS_FP8_CUTLASS: &str = "moe_experts_fp8_cutlass";
    /// The same for fp4 experts: NVFP4 (`moe_nvfp4.csv`) where the device has an fp4 rate
    /// (Blackwell), weight-only MXFP4 with 16-bit activations (`moe_w4a16_mxfp4.csv`) where it
    /// has not (Hopper), as llmsim times fp4 weights there. The weight-only fit covers every
    /// size, as [`MOE_EXPERTS_INT4`] does ([`super::moe_fit_is_whole_range`]).
    pub const MOE_EXPERTS_FP4: &str = "moe_experts_fp4";
    /// NVFP4 experts' fused-MoE fit at decode sizes, below [`crate::exec::cost::MOE_PREFILL_FROM`]
    /// routed tokens per expert (`moe_nvfp4.csv`, Blackwell: vLLM's FlashInfer TRTLLM-Gen NVFP4
    /// MoE, which streams its experts' weights at ~0.8 of the HBM bandwidth where the generic
    /// fp4 GEMM curve reaches 0.7). Read only where the engine runs that kernel at decode sizes
    /// (`roofline_execution_time_predictor_config_fp4_moe_fit_at_decode`, vLLM's bundle).
    pub const MOE_EXPERTS_FP4_DECODE: &str = "moe_experts_fp4_decode";
    /// INT4 weight-only experts' grouped GEMMs: vLLM's compressed-tensors WNA16 Marlin fused
    /// MoE (`moe_int4_wo.csv`; H100, H200, B200, B300), 16-bit activations on every device.
    /// Fitted from 1 token up and used at every size, as [`MOE_EXPERTS`] is for bf16 (the
    /// Marlin MoE takes 1.6-3.8× the generic 16-bit GEMM's time at decode sizes); elsewhere INT4
    /// experts take [`GEMM`].
    pub const MOE_EXPERTS_INT4: &str = "moe_experts_int4";
    /// vLLM's fused Marlin MoE (INT4 and weight-only MXFP4 experts) in the block form of
    /// [`crate::exec::cost::marlin_moe_us`] (a cost per expert block): fitted jointly on
    /// `moe_int4_wo.csv` and the Marlin rows of `moe_w4a16_mxfp4.csv` (384 and 896 experts), so it
    /// carries across expert counts and sizes. Where present it times weight-only MXFP4 experts on
    /// Marlin (`mxfp4_moe_marlin`); INT4 experts keep [`MOE_EXPERTS_INT4`].
    pub const MOE_EXPERTS_MARLIN: &str = "moe_experts_marlin";
    /// Prefill attention, bf16 KV cache.
    pub const PREFILL_ATTENTION: &str = "prefill_attention";
    /// Prefill attention, fp8 KV cache.
    pub const PREFILL_ATTENTION_FP8: &str = "prefill_attention_kv_fp8";
    /// Decode attention, bf16 KV cache.
    pub const DECODE_ATTENTION: &str = "decode_attention";
    /// Decode attention, fp8 KV cache.
    pub const DECODE_ATTENTION_FP8: &str = "decode_attention_kv_fp8";
    /// TensorRT-LLM's own decode attention over an fp8 KV cache (XQA), fitted where
    /// AIConfigurator's TensorRT-LLM table runs it faster than vLLM's kernel
    /// ([`DECODE_ATTENTION_FP8`]'s table): Hopper (H100, H200), where vLLM runs FlashAttention-3,
    /// 30-45 % slower at the GQA shapes. On Blackwell both engines run TRT-LLM-Gen kernels and
    /// the tables agree within a few %, so there is none. Read only under
    /// `roofline_execution_time_predictor_config_trtllm_decode_attention` (TensorRT-LLM's
    /// bundle); not in [`ALL`].
    pub const DECODE_ATTENTION_FP8_TRTLLM: &str = "decode_attention_kv_fp8_trtllm";
    /// Multi-head latent attention's prefill (non-absorbed), bf16 and fp8 KV cache, and its
    /// absorbed decode: fitted where AIConfigurator measured SGLang's MLA kernels (H100, H200,
    /// B200, B300; not in [`ALL`]: other devices fall back to the ordinary attention curves).
    pub const MLA_PREFILL_ATTENTION: &str = "mla_prefill_attention";
    /// See [`MLA_PREFILL_ATTENTION`].
    pub const MLA_PREFILL_ATTENTION_FP8: &str = "mla_prefill_attention_kv_fp8";
    /// See [`MLA_PREFILL_ATTENTION`].
    pub const MLA_DECODE_ATTENTION: &str = "mla_decode_attention";
    /// See [`MLA_PREFILL_ATTENTION`].
    pub const MLA_DECODE_ATTENTION_FP8: &str = "mla_decode_attention_kv_fp8";

    /// The four layer GEMMs of vLLM 0.24's kernels at bf16, fitted to AIConfigurator's tables
    /// at the models' shapes (see [`super::layer_gemm_class`]).
    pub const VLLM_LAYER_GEMMS: [&str; 4] =
        ["vllm_attn_pre_proj", "vllm_attn_post_proj", "vllm_mlp_up_proj", "vllm_mlp_down_proj"];
    /// The same at fp8 weights and activations.
    pub const VLLM_LAYER_GEMMS_FP8: [&str; 4] = [
        "vllm_attn_pre_proj_fp8",
        "vllm_attn_post_proj_fp8",
        "vllm_mlp_up_proj_fp8",
        "vllm_mlp_down_proj_fp8",
    ];
    /// The same at NVFP4 weights and activations.
    pub const VLLM_LAYER_GEMMS_FP4: [&str; 4] = [
        "vllm_attn_pre_proj_fp4",
        "vllm_attn_post_proj_fp4",
        "vllm_mlp_up_proj_fp4",
        "vllm_mlp_down_proj_fp4",
    ];

    /// Every class every device has, in file order.
    pub const ALL: [&str; 32] = [
        EMBEDDING,
        INPUT_LAYERNORM,
        ATTN_PRE_PROJ,
        ATTN_ROPE,
        ATTN_POST_PROJ,
        POST_ATTENTION_LAYERNORM,
        MLP_UP_PROJ,
        MLP_ACT,
        MLP_ACT_UNGATED,
        MLP_DOWN_PROJ,
        ADD,
        KV_CACHE_SAVE,
        GEMM,
        GEMM_FP8,
        GEMM_FP4,
        MOE_EXPERTS,
        PREFILL_ATTENTION,
        PREFILL_ATTENTION_FP8,
        DECODE_ATTENTION,
        DECODE_ATTENTION_FP8,
        VLLM_LAYER_GEMMS[0],
        VLLM_LAYER_GEMMS[1],
        VLLM_LAYER_GEMMS[2],
        VLLM_LAYER_GEMMS[3],
        VLLM_LAYER_GEMMS_FP8[0],
        VLLM_LAYER_GEMMS_FP8[1],
        VLLM_LAYER_GEMMS_FP8[2],
        VLLM_LAYER_GEMMS_FP8[3],
        VLLM_LAYER_GEMMS_FP4[0],
        VLLM_LAYER_GEMMS_FP4[1],
        VLLM_LAYER_GEMMS_FP4[2],
        VLLM_LAYER_GEMMS_FP4[3],
    ];
}

/// Whose GEMM kernels the layer GEMMs are timed as: the stacks differ by 10–30 % on identical
/// shapes (../shared/notes/execution-time.md §4.3), so the roofline carries one fit per stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GemmKernels {
    /// PyTorch linear layers as Vidur profiled them (its `mlp.csv`; the default, for parity).
    Vidur,
    /// vLLM 0.24's linear layers as AIConfigurator measured them.
    Vllm,
}

impl GemmKernels {
    /// Flag values, in [`GemmKernels`] order.
    pub const NAMES: [&str; 2] = ["vidur", "vllm"];

    /// The kernels a flag value names.
    pub fn parse(name: &str) -> Option<GemmKernels> {
        match name {
            "vidur" => Some(GemmKernels::Vidur),
            "vllm" => Some(GemmKernels::Vllm),
            _ => None,
        }
    }
}

/// The calibration class of layer GEMM `op` (QKV, O, gate+up or down projection) with
/// `kernels` at weight dtype `weights`. Vidur profiled no fp8 or fp4 GEMM, so quantised layer
/// GEMMs are vLLM's whichever kernels are chosen. INT4 weight-only GEMMs multiply at 16 bits
/// (no INT4 GEMM table): the bf16 curves, with 0.5625-byte weights in the traffic.
pub fn layer_gemm_class(op: super::Op, kernels: GemmKernels, weights: Dtype) -> String {
    match (kernels, weights) {
        (_, Dtype::Fp8) => format!("vllm_{}_fp8", op.name()),
        (_, Dtype::Fp4) => format!("vllm_{}_fp4", op.name()),
        (GemmKernels::Vllm, _) => format!("vllm_{}", op.name()),
        (GemmKernels::Vidur, _) => op.name().to_string(),
    }
}

/// The generic GEMM class (LM head, MoE experts and router) at weight dtype `weights`.
pub fn gemm_class(weights: Dtype) -> &'static str {
    match weights {
        Dtype::Fp8 => class::GEMM_FP8,
        Dtype::Fp4 => class::GEMM_FP4,
        Dtype::Bf16 | Dtype::Fp16 | Dtype::Int4 => class::GEMM,
    }
}

/// One fitted curve and where it came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FittedCurve {
    /// The coefficients.
    #[serde(flatten)]
    pub curve: Curve,
    /// The table it was fitted to, or the device it was transferred from.
    pub source: String,
    /// Rows fitted (0 for a transferred curve).
    #[serde(default)]
    pub rows: usize,
    /// In-sample MAPE of the fit, % (0 for a transferred curve).
    #[serde(default)]
    pub mape_pct: f64,
}

/// Every op class's curve on one device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceCalibration {
    /// The device id (`h100`).
    pub device: String,
    /// Curves by op class (see [`class`]).
    pub curves: BTreeMap<String, FittedCurve>,
}

impl DeviceCalibration {
    /// The curve of `class`; `None` if the file lacks it.
    pub fn curve(&self, class: &str) -> Option<Curve> {
        self.curves.get(class).map(|c| c.curve)
    }
}

/// An all-reduce over `tp` GPUs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TpAlphaBeta {
    /// GPUs in the collective.
    pub tp: u32,
    /// The fit.
    #[serde(flatten)]
    pub collective: Collective,
    /// In-sample MAPE, %.
    #[serde(default)]
    pub mape_pct: f64,
}

/// Collective coefficients of one node type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeCalibration {
    /// The node id (`h100_dgx`).
    pub node: String,
    /// The tables fitted.
    pub source: String,
    /// NCCL all-reduce per TP degree inside a node.
    #[serde(default)]
    pub all_reduce: Vec<TpAlphaBeta>,
    /// The serving engines' own all-reduce kernels per TP degree inside a node, by engine
    /// (`vllm`, `sglang`, `trtllm`; see [`AllReduceKernel`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_all_reduce: BTreeMap<String, Vec<TpAlphaBeta>>,
    /// Point-to-point between two GPUs of one node.
    #[serde(default)]
    pub send_recv_intra_node: Option<AlphaBeta>,
    /// Point-to-point between nodes.
    #[serde(default)]
    pub send_recv_inter_node: Option<AlphaBeta>,
}

impl NodeCalibration {
    /// The NCCL all-reduce fit for exactly `tp` GPUs.
    pub fn all_reduce(&self, tp: u32) -> Option<Collective> {
        self.all_reduce.iter().find(|a| a.tp == tp).map(|a| a.collective)
    }

    /// The all-reduce of `kernel` for exactly `tp` GPUs, if measured on this node.
    pub fn all_reduce_with(&self, kernel: AllReduceKernel, tp: u32) -> Option<Collective> {
        match kernel.custom_key() {
            None => self.all_reduce(tp),
            Some(key) => self.custom_all_reduce.get(key)?.iter().find(|a| a.tp == tp).map(|a| a.collective),
        }
    }
}

/// Which all-reduce implementation tensor parallelism uses. vLLM, SGLang and TensorRT-LLM run
/// their own kernels (one-shot/two-shot over NVLink peer memory) for the message sizes of
/// decode and small prefills, 2–3× faster than NCCL there; larger messages converge on NCCL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AllReduceKernel {
    /// NCCL (Vidur's profiles; the default).
    Nccl,
    /// vLLM's custom all-reduce.
    VllmCustom,
    /// SGLang's custom all-reduce.
    SglangCustom,
    /// TensorRT-LLM's `AllReduce` op (strategy AUTO).
    TrtllmCustom,
}

impl AllReduceKernel {
    /// Flag values, in enum order.
    pub const NAMES: [&str; 4] = ["nccl", "vllm_custom", "sglang_custom", "trtllm_custom"];
    /// Every kernel, in enum order.
    pub const ALL: [AllReduceKernel; 4] = [
        AllReduceKernel::Nccl,
        AllReduceKernel::VllmCustom,
        AllReduceKernel::SglangCustom,
        AllReduceKernel::TrtllmCustom,
    ];

    /// The kernel a flag value names.
    pub fn parse(name: &str) -> Option<AllReduceKernel> {
        Self::NAMES.iter().position(|n| *n == name).map(|i| Self::ALL[i])
    }

    /// Its flag value.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// Its key in [`NodeCalibration::custom_all_reduce`]; `None` for NCCL.
    pub fn custom_key(self) -> Option<&'static str> {
        match self {
            AllReduceKernel::Nccl => None,
            AllReduceKernel::VllmCustom => Some("vllm"),
            AllReduceKernel::SglangCustom => Some("sglang"),
            AllReduceKernel::TrtllmCustom => Some("trtllm"),
        }
    }
}

/// The whole calibration file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// How the file was made.
    pub generated_by: String,
    /// Per-device curves.
    pub devices: Vec<DeviceCalibration>,
    /// Per-node collectives.
    pub nodes: Vec<NodeCalibration>,
}

impl Calibration {
    /// The embedded calibration shipped in `data/calibration.json`.
    pub fn embedded() -> &'static Calibration {
        static CALIBRATION: OnceLock<Calibration> = OnceLock::new();
        CALIBRATION.get_or_init(|| {
            serde_json::from_str(include_str!(concat!(env!("OUT_DIR"), "/calibration.json")))
                .expect("data/calibration.json is valid")
        })
    }

    /// The calibration of device `name`.
    pub fn device(&self, name: &str) -> Option<&DeviceCalibration> {
        self.devices.iter().find(|d| d.device == name)
    }

    /// The collectives of node `name`.
    pub fn node(&self, name: &str) -> Option<&NodeCalibration> {
        self.nodes.iter().find(|n| n.node == name)
    }
}

/// Whether the fused-MoE fit of `weights` experts is fitted from one token up and times them
/// at every size (as the bf16 fit does), rather than blended in at prefill sizes over the
/// dtype's generic GEMM curve. True for the weight-only kernels, whose 16-bit grouped GEMMs
/// dequantise the weights in the main loop and sit far above a memory roofline at decode
/// sizes: INT4 (Marlin, 1.6-3.8× the generic 16-bit curve from 1 token up) and fp4 on a device
/// without an fp4 rate (`fp4_rate` false: Hopper's weight-only MXFP4, AIC
/// `moe_w4a16_mxfp4.csv`: 2.1-3.5× the generic curve from 1 to 8 tokens, a ~38 µs floor per
/// layer at any TP). fp8 and NVFP4 experts keep the generic curve at decode sizes (fp8: unless
/// the engine sets `fp8_moe_fit_at_decode`, [`class::MOE_EXPERTS_FP8_ALL_SIZES`]).
pub fn moe_fit_is_whole_range(weights: Dtype, fp4_rate: bool) -> bool {
    match weights {
        Dtype::Int4 => true,
        Dtype::Fp4 => !fp4_rate,
        Dtype::Bf16 | Dtype::Fp16 | Dtype::Fp8 => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_calibration_covers_every_catalogued_gpu_class() {
        let c = Calibration::embedded();
        for d in crate::catalog::devices() {
            let source = d.calibration.as_deref().unwrap_or(&d.name);
            let cal = c
                .device(source)
                .unwrap_or_else(|| panic!("{} borrows {source}, which has no calibration", d.name));
            for class in class::ALL {
                let curve = cal.curve(class).unwrap_or_else(|| panic!("{source} lacks {class}"));
                assert!(curve.is_valid(), "{source} {class}: {curve:?}");
            }
        }
    }
}
