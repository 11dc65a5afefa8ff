//! The validated settings a run is described by, each read from a few flags: the replica's
//! hardware and model, the cluster, the KV cache, the SLO, the cost and the outputs.

use crate::catalog::{DeviceSpec, ModelArch, NodeSpec, WeightPart};

/// A number format for weights or KV cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    /// bfloat16.
    Bf16,
    /// float16.
    Fp16,
    /// 8-bit float.
    Fp8,
    /// NVFP4: 4-bit floats (E2M1) in blocks of 16 sharing one FP8 (E4M3) scale, as Blackwell's
    /// FP4 tensor cores read them. Weights only.
    Fp4,
    /// INT4 weight-only (W4A16): 4-bit integers in groups of 32 sharing one bf16 scale, as
    /// compressed-tensors' `pack-quantized` symmetric group-32 checkpoints store them
    /// (Kimi-K2-Thinking's and Kimi-K2.5's routed experts). Dequantised inside the GEMM (vLLM's
    /// Marlin kernels) and multiplied at the 16-bit rate, activations staying 16-bit. On an MoE
    /// model only the routed experts are INT4 and every other weight is bf16, as those
    /// checkpoints ship them ([`Dtype::dense_part`]). Weights only.
    Int4,
}

/// Elements per NVFP4 scale block (one FP8 scale byte each; the one FP32 scale per tensor is
/// negligible).
pub const NVFP4_BLOCK: f64 = 16.0;

/// Elements per INT4 weight-only scale group (one bf16 scale, 2 bytes, each; symmetric, so no
/// zero point): compressed-tensors' `group_size` 32 of Kimi-K2.5's `quantization_config`.
pub const INT4_GROUP: f64 = 32.0;

impl Dtype {
    /// Bytes per element, block scales included: NVFP4 stores half a byte per element plus one
    /// scale byte per 16 elements, 0.5625; INT4 weight-only half a byte plus a 2-byte scale per
    /// 32 elements, also 0.5625.
    pub fn bytes_per_element(self) -> f64 {
        match self {
            Dtype::Bf16 | Dtype::Fp16 => 2.0,
            Dtype::Fp8 => 1.0,
            Dtype::Fp4 => 0.5 + 1.0 / NVFP4_BLOCK,
            Dtype::Int4 => 0.5 + 2.0 / INT4_GROUP,
        }
    }

    /// Bytes of `elements` elements of this dtype, rounded up to whole bytes.
    pub fn bytes_of(self, elements: u64) -> u64 {
        match self {
            Dtype::Bf16 | Dtype::Fp16 => 2 * elements,
            Dtype::Fp8 => elements,
            // 4 bits each and one scale byte per started block of 16.
            Dtype::Fp4 => elements.div_ceil(2) + elements.div_ceil(NVFP4_BLOCK as u64),
            // 4 bits each and a 2-byte scale per started group of 32.
            Dtype::Int4 => elements.div_ceil(2) + 2 * elements.div_ceil(INT4_GROUP as u64),
        }
    }

    /// The dtype of an MoE model's weights other than its routed experts (attention, dense and
    /// shared MLPs, router, embedding, LM head) when its weights are `self`: bf16 for INT4
    /// weight-only, whose MoE checkpoints quantise the routed experts only (Kimi-K2.5's
    /// `quantization_config` ignores `self_attn`, `shared_experts`, the dense MLPs and
    /// `lm_head`); `self` otherwise. A dense model's layer weights are all `self`; the
    /// embedding and LM head have their own rule ([`ReplicaSpec::edge_weight_dtype`]), and so
    /// does the attention of a model whose NVFP4 checkpoints keep it in 16 bits
    /// ([`ReplicaSpec::attention_weight_dtype`]).
    pub fn dense_part(self) -> Dtype {
        match self {
            Dtype::Int4 => Dtype::Bf16,
            other => other,
        }
    }

    /// The dense tensor-core rate, TFLOP/s, of GEMMs with weights in this dtype on `device`.
    /// Without FP8 (FP4) tensor cores the weights are dequantised and multiplied at the 16-bit
    /// rate (vLLM's Marlin kernels run NVFP4 checkpoints so on Hopper); INT4 weight-only is
    /// always dequantised so.
    pub fn gemm_tflops(self, device: &DeviceSpec) -> f64 {
        let rate = match self {
            Dtype::Bf16 | Dtype::Fp16 | Dtype::Int4 => None,
            Dtype::Fp8 => device.fp8_tflops,
            Dtype::Fp4 => device.fp4_tflops,
        };
        rate.unwrap_or(device.fp16_tflops)
    }

    /// The dtype a `replica_config_*_dtype` choice names.
    pub(crate) fn parse(s: &str) -> Dtype {
        match s {
            "fp16" => Dtype::Fp16,
            "fp8" => Dtype::Fp8,
            "fp4" => Dtype::Fp4,
            "int4" => Dtype::Int4,
            _ => Dtype::Bf16,
        }
    }
}

/// Parallelism of one replica: tensor and pipeline parallelism, and for a mixture-of-experts
/// model attention data parallelism and expert parallelism (`docs/policies.md`, "MoE as
/// deployed").
///
/// A pipeline stage has `tensor_parallel_size × attention_dp_size` GPUs. Attention, the dense
/// MLP layers, the embedding and the LM head are split over the `tensor_parallel_size` GPUs of
/// one attention-DP rank and replicated on every rank; an MoE layer's routed experts are
/// sharded over `expert_parallel_size` ranks of the stage and each expert split over the
/// remaining [`ParallelSpec::expert_tensor_parallel_size`] GPUs (SGLang's and AIConfigurator's
/// `moe_tp × moe_ep = tp × dp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParallelSpec {
    /// TP degree of attention (of one attention-DP rank).
    pub tensor_parallel_size: u32,
    /// PP degree (pipeline stages).
    pub num_pipeline_stages: u32,
    /// Expert-parallel degree: routed experts sharded over this many ranks (1 = every GPU of
    /// the stage holds every expert, split by TP).
    pub expert_parallel_size: u32,
    /// Attention data-parallel degree: this many ranks each hold their own requests' KV and
    /// run their own attention; the MoE layers are shared.
    pub attention_dp_size: u32,
}

impl ParallelSpec {
    /// TP and PP only (no expert or attention data parallelism).
    pub fn tp_pp(tensor_parallel_size: u32, num_pipeline_stages: u32) -> ParallelSpec {
        ParallelSpec {
            tensor_parallel_size,
            num_pipeline_stages,
            expert_parallel_size: 1,
            attention_dp_size: 1,
        }
    }

    /// GPUs per pipeline stage.
    pub fn stage_size(self) -> u32 {
        self.tensor_parallel_size * self.attention_dp_size
    }

    /// GPUs per replica.
    pub fn world_size(self) -> u32 {
        self.stage_size() * self.num_pipeline_stages
    }

    /// The TP degree of each expert: the stage's GPUs over the expert-parallel ranks.
    pub fn expert_tensor_parallel_size(self) -> u32 {
        (self.stage_size() / self.expert_parallel_size.max(1)).max(1)
    }
}

/// One replica's hardware and model.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicaSpec {
    /// The model architecture.
    pub model: ModelArch,
    /// The GPU.
    pub device: DeviceSpec,
    /// The node / network.
    pub node: NodeSpec,
    /// TP and PP.
    pub parallel: ParallelSpec,
    /// Weight dtype.
    pub weight_dtype: Dtype,
    /// KV-cache dtype.
    pub kv_cache_dtype: Dtype,
}

/// Architectures whose fp4 checkpoints store the routed experts in MXFP4 rather than NVFP4:
/// gpt-oss (`config.json` `quantization_config.quant_method` "mxfp4"; the experts' `*_blocks`
/// and `*_scales` tensors, one uint8 scale per 32 values; vLLM's `Mxfp4Config`,
/// `vllm/model_executor/layers/quantization/mxfp4.py`).
pub const MXFP4_EXPERT_ARCHITECTURES: [&str; 1] = ["GptOssForCausalLM"];

/// Elements per MXFP4 scale block (one E8M0 scale byte each).
const MXFP4_BLOCK: u64 = 32;

impl ReplicaSpec {
    /// Transformer layers on each pipeline stage.
    pub fn layers_per_stage(&self) -> u32 {
        self.model.num_layers / self.parallel.num_pipeline_stages.max(1)
    }

    /// The dtype of the routed experts' weights: the weight dtype.
    pub fn expert_weight_dtype(&self) -> Dtype {
        self.weight_dtype
    }

    /// Whether the routed experts are MXFP4 (the OCP microscaling format: 4-bit E2M1 values in
    /// blocks of 32 sharing one E8M0 scale byte) rather than NVFP4: fp4 weights of an
    /// [`MXFP4_EXPERT_ARCHITECTURES`] model.
    pub fn mxfp4_experts(&self) -> bool {
        self.weight_dtype == Dtype::Fp4
            && self.model.architecture.as_deref().is_some_and(|a| MXFP4_EXPERT_ARCHITECTURES.contains(&a))
    }

    /// Bytes per routed-expert weight: an MXFP4 checkpoint's 0.5 + 1/32 ([`Self::mxfp4_experts`]),
    /// else the expert dtype's own ([`Dtype::bytes_per_element`]).
    pub fn expert_bytes_per_element(&self) -> f64 {
        if self.mxfp4_experts() {
            0.5 + 1.0 / MXFP4_BLOCK as f64
        } else {
            self.expert_weight_dtype().bytes_per_element()
        }
    }

    /// Bytes of `elements` routed-expert weights, rounded up to whole bytes: 4 bits each and
    /// one scale byte per started block of 32 for MXFP4 experts, else [`Dtype::bytes_of`].
    pub fn expert_bytes_of(&self, elements: u64) -> u64 {
        if self.mxfp4_experts() {
            elements.div_ceil(2) + elements.div_ceil(MXFP4_BLOCK)
        } else {
            self.expert_weight_dtype().bytes_of(elements)
        }
    }

    /// The dtype of every other weight: [`Dtype::dense_part`] of the weight dtype on an MoE
    /// model, the weight dtype on a dense one.
    pub fn dense_weight_dtype(&self) -> Dtype {
        if self.model.moe.is_some() { self.weight_dtype.dense_part() } else { self.weight_dtype }
    }

    /// The dtype of the attention projections: bf16 for fp4 weights of a model whose fp4
    /// checkpoints leave `self_attn` unquantised ([`ModelArch::fp4_unquantised`]: ModelOpt's
    /// DeepSeek recipe, `examples/deepseek/ptq.py`, disables `*attn*`; gpt-oss's MXFP4 config
    /// does not convert `model.layers.*.self_attn`), else the dtype of the
    /// other non-expert weights ([`ReplicaSpec::dense_weight_dtype`]).
    pub fn attention_weight_dtype(&self) -> Dtype {
        if self.weight_dtype == Dtype::Fp4 && self.model.fp4_unquantised.contains(&WeightPart::Attention) {
            Dtype::Bf16
        } else {
            self.dense_weight_dtype()
        }
    }

    /// The dtype of the embedding and the LM head (the edge weights): 16 bits (bf16) under
    /// INT4 weight-only and fp4 weights, whose checkpoints keep `embed_tokens` and `lm_head`
    /// unquantised (GPTQ, AWQ, compressed-tensors W4A16; ModelOpt's NVFP4 exports list
    /// `lm_head` and `model.embed_tokens` in `exclude_modules`, gpt-oss's MXFP4 config converts
    /// the experts only); the weight dtype otherwise.
    pub fn edge_weight_dtype(&self) -> Dtype {
        match self.weight_dtype {
            Dtype::Int4 | Dtype::Fp4 => Dtype::Bf16,
            other => other,
        }
    }
}

/// The cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterSpec {
    /// Replicas behind the router.
    pub num_replicas: u32,
}

/// KV cache settings.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheSpec {
    /// Tokens per block (a power of two).
    pub block_size: u32,
    /// Blocks per replica as set by the user, if set.
    pub num_blocks_override: Option<u64>,
    /// Free-block reserve used by admission in legacy schedulers.
    pub watermark_blocks_fraction: f64,
    /// Memory kept back from weights and KV (1 − vLLM's `gpu_memory_utilization`).
    pub memory_margin_fraction: f64,
    /// Whether the peak activation of a forward pass is kept out of the KV cache.
    pub activation_memory: ActivationMemory,
    /// Bytes per GPU kept out of the KV cache for CUDA graphs, NCCL and the runtime.
    pub runtime_memory_bytes: u64,
    /// Prefix caching on.
    pub enable_prefix_caching: bool,
    /// Tokens of blocks allocated ahead (vllm_v1).
    pub num_preallocate_tokens: u32,
    /// Sequences one replica runs at most (the replica scheduler's batch-size cap): the planner
    /// keeps each one's sliding-window KV out of the block pool (0: none reserved).
    pub max_sequences: u64,
    /// The flag that sets [`CacheSpec::max_sequences`], named when that reservation leaves no
    /// room for the KV cache (empty: none).
    pub max_sequences_flag: String,
    /// How the linear-attention layers' per-sequence state is pooled (models without them
    /// ignore it).
    pub linear_state_pool: LinearStatePool,
}

/// How a replica's memory holds the recurrent state of linear-attention layers
/// (docs/policies.md, "Linear attention").
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum LinearStatePool {
    /// One state per sequence of the scheduler's batch-size cap
    /// ([`CacheSpec::max_sequences`]), kept out of the KV pool (vLLM, TensorRT-LLM).
    #[default]
    PerSequence,
    /// SGLang's: the state pool takes `ratio / (1 + ratio)` of the memory left after the
    /// weights (`--mamba-full-memory-ratio`), and at most its slots ÷ `slots_per_request`
    /// requests run at once (its radix cache keeps extra states).
    Ratio {
        /// State memory per KV memory.
        ratio: f64,
        /// State slots a running request is budgeted.
        slots_per_request: u64,
    },
}

/// What the memory planner keeps out of the KV cache for activations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActivationMemory {
    /// Nothing (Vidur).
    None,
    /// vLLM's profile run: the peak of a forward pass over the scheduler's largest batch.
    Profile {
        /// Tokens of the largest forward pass (the scheduler's token budget).
        tokens: u64,
        /// Sequences sampled at once (the scheduler's batch-size cap).
        sequences: u64,
    },
}

/// Prefill SLO used by the EDF queue.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SloSpec {
    /// Seconds per prompt token.
    pub prefill_e2e_time_normalized: Option<f64>,
    /// Lower bound in seconds.
    pub prefill_e2e_time_min: Option<f64>,
}

impl SloSpec {
    /// The prefill deadline offset for a prompt of `prompt_tokens`, if an SLO is set.
    pub fn prefill_slo_secs(&self, prompt_tokens: u32) -> Option<f64> {
        let per_token = self.prefill_e2e_time_normalized.map(|x| x * prompt_tokens as f64);
        match (per_token, self.prefill_e2e_time_min) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }
}

/// What the cluster costs to rent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CostSpec {
    /// GPUs of the cluster: replicas × TP × PP.
    pub num_gpus: u64,
    /// US dollars per GPU-hour, when known.
    pub usd_per_gpu_hour: Option<f64>,
    /// Where the price comes from: the flag, or the price list's offer, page and date.
    pub price_source: Option<String>,
}

impl CostSpec {
    /// US dollars per hour for the whole cluster, when the price is known.
    pub fn usd_per_hour(&self) -> Option<f64> {
        self.usd_per_gpu_hour.map(|p| p * self.num_gpus as f64)
    }
}

/// What to keep and write.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsSpec {
    /// Write any files at all.
    pub write_metrics: bool,
    /// Collect batch slices for chrome_trace.json.
    pub enable_chrome_trace: bool,
    /// Most slices kept for the Chrome trace (`None` = no limit).
    pub chrome_trace_max_slices: Option<u64>,
    /// Write plots/.
    pub store_plots: bool,
    /// Keep per-request records (request_metrics.csv).
    pub store_request_metrics: bool,
    /// Keep batch distributions.
    pub store_batch_metrics: bool,
    /// Keep utilisation metrics.
    pub store_utilization_metrics: bool,
    /// Keep per-op time distributions.
    pub store_operation_metrics: bool,
    /// Keep one row per batch.
    pub keep_individual_batch_metrics: bool,
    /// Output directory.
    pub output_dir: String,
    /// Write straight into `output_dir`.
    pub no_timestamp: bool,
}

/// How a speculating engine drafts tokens (`--replica_config_speculative_method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpeculativeMethod {
    /// DeepSeek-style multi-token prediction: one extra decoder layer of the target's shape
    /// (the MTP module), sharing the target's embedding and LM head, run once per draft token.
    Mtp,
    /// An EAGLE-style draft head: one dense decoder layer at the target's hidden size, sharing
    /// its embedding and LM head, run once per draft token.
    Eagle,
    /// A separate (smaller) catalogue model, run once per draft token.
    DraftModel,
}

impl SpeculativeMethod {
    /// The flag's value.
    pub fn name(self) -> &'static str {
        match self {
            SpeculativeMethod::Mtp => "mtp",
            SpeculativeMethod::Eagle => "eagle",
            SpeculativeMethod::DraftModel => "draft_model",
        }
    }
}

/// Fixed-point unit of [`SpeculativeSpec::expected_tokens_fp`]: one token.
pub const SPECULATIVE_TOKEN_UNIT: u64 = 1 << 32;

/// Speculative decoding: k draft tokens per decode step, verified by the target in one pass of
/// k + 1 tokens; the accepted prefix plus the target's own next token are emitted.
#[derive(Clone, Debug, PartialEq)]
pub struct SpeculativeSpec {
    /// How the drafts are made.
    pub method: SpeculativeMethod,
    /// Draft tokens per step (k).
    pub num_tokens: u32,
    /// Conditional acceptance rate of each draft position: position i is accepted with
    /// probability `rates[i]` given that positions before it were (length k).
    pub rates: Vec<f64>,
    /// The draft's architecture: the MTP layer or EAGLE head as a one-layer model, or the
    /// draft model.
    pub draft: ModelArch,
    /// `expected_tokens_fp[j]`: the expected tokens a step emits when it verifies j drafts,
    /// 1 + Σ_{i ≤ j} Π_{l ≤ i} rates[l], in units of [`SPECULATIVE_TOKEN_UNIT`] (j = 0..=k).
    pub expected_tokens_fp: Vec<u64>,
    /// SGLang's EAGLE worker (`None`: the chain vLLM and TensorRT-LLM run, k + 1 tokens
    /// verified up to the tokens a request has left): k = `--speculative-num-steps` draft
    /// forwards of `topk` candidates per request, one verification of `num_draft_tokens` per
    /// request whatever it has left.
    pub tree: Option<SpeculativeTree>,
}

/// SGLang's draft tree (`--speculative-eagle-topk`, `--speculative-num-draft-tokens`); topk 1
/// is the chain, with num_steps + 1 tokens verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpeculativeTree {
    /// Draft forwards per step (`--speculative-num-steps`, the spec's k): the tree's depth.
    pub num_steps: u32,
    /// Candidates each draft forward keeps per request (the tree's branching).
    pub topk: u32,
    /// Tokens one verification runs per request: the root plus the tree's best
    /// `num_draft_tokens − 1` nodes.
    pub num_draft_tokens: u32,
}

impl SpeculativeSpec {
    /// The per-step expected token counts of `rates`, in fixed point.
    pub fn expected_tokens(rates: &[f64]) -> Vec<u64> {
        let mut out = Vec::with_capacity(rates.len() + 1);
        let (mut expected, mut reach) = (1.0f64, 1.0f64);
        out.push(SPECULATIVE_TOKEN_UNIT);
        for &r in rates {
            reach *= r;
            expected += reach;
            out.push((expected * SPECULATIVE_TOKEN_UNIT as f64).round() as u64);
        }
        out
    }

    /// Tokens a step that verified `drafts` draft tokens emits, by expected-value accounting
    /// with a per-request carry (`credit`, fixed point, always below one token): the step adds
    /// its expected count to the carry and emits the whole tokens in it. Deterministic,
    /// between 1 and `drafts + 1`, and the mean over a request's steps is the expectation.
    pub fn emitted(&self, drafts: u32, credit: &mut u64) -> u32 {
        let j = (drafts as usize).min(self.expected_tokens_fp.len() - 1);
        let total = *credit + self.expected_tokens_fp[j];
        let whole = total / SPECULATIVE_TOKEN_UNIT;
        *credit = total - whole * SPECULATIVE_TOKEN_UNIT;
        (whole as u32).clamp(1, drafts + 1)
    }

    /// The mean tokens a full step emits (its [`SpeculativeSpec::max_accepted_drafts`] drafts).
    pub fn mean_tokens_per_step(&self) -> f64 {
        self.expected_tokens_fp[self.max_accepted_drafts() as usize] as f64 / SPECULATIVE_TOKEN_UNIT as f64
    }

    /// The most drafts one step can accept: k, or in SGLang's tree the depth its
    /// `num_draft_tokens − 1` nodes reach, min(k, num_draft_tokens − 1).
    pub fn max_accepted_drafts(&self) -> u32 {
        self.tree
            .map_or(self.num_tokens, |t| self.num_tokens.min(t.num_draft_tokens.saturating_sub(1)).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(rates: &[f64]) -> SpeculativeSpec {
        SpeculativeSpec {
            method: SpeculativeMethod::Mtp,
            num_tokens: rates.len() as u32,
            rates: rates.to_vec(),
            draft: crate::catalog::find_model("meta-llama/Llama-2-7b-hf").unwrap().clone(),
            expected_tokens_fp: SpeculativeSpec::expected_tokens(rates),
            tree: None,
        }
    }

    #[test]
    fn a_step_emits_the_expected_tokens_by_carry_within_one_and_k_plus_one() {
        // r = 0.7, k = 3: 1 + 0.7 + 0.49 + 0.343 = 2.533 tokens a full step.
        let s = spec(&[0.7; 3]);
        assert!((s.mean_tokens_per_step() - 2.533).abs() < 1e-9);
        let mut credit = 0;
        let steps: Vec<u32> = (0..1000).map(|_| s.emitted(3, &mut credit)).collect();
        assert!(steps.iter().all(|n| (1..=4).contains(n)));
        // Within a token of the expectation (the fixed point rounds each step's share).
        assert!((2532..=2533).contains(&steps.iter().sum::<u32>()));
        // Fewer drafts verified (the request's end): their own expectation, 1 + 0.7.
        let mut credit = 0;
        assert!((16..=17).contains(&(0..10).map(|_| s.emitted(1, &mut credit)).sum::<u32>()));
        assert_eq!(s.emitted(0, &mut credit), 1);
        // Acceptance 1 and 0 are exact.
        let mut credit = 0;
        assert!((0..50).all(|_| spec(&[1.0; 2]).emitted(2, &mut credit) == 3));
        assert!((0..50).all(|_| spec(&[0.0; 2]).emitted(2, &mut credit) == 1));
        // Per-position rates: 0.8 then 0.5: 1 + 0.8 + 0.4.
        assert!((spec(&[0.8, 0.5]).mean_tokens_per_step() - 2.2).abs() < 1e-9);
    }
}
