//! The validated settings a run is described by, each read from a few flags: the replica's
//! hardware and model, the cluster, the KV cache, the SLO, the cost and the outputs.

use crate::catalog::{DeviceSpec, ModelArch, NodeSpec};

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
}

/// Elements per NVFP4 scale block (one FP8 scale byte each; the one FP32 scale per tensor is
/// negligible).
pub const NVFP4_BLOCK: f64 = 16.0;

impl Dtype {
    /// Bytes per element, block scales included: NVFP4 stores half a byte per element plus one
    /// scale byte per 16 elements, 0.5625.
    pub fn bytes_per_element(self) -> f64 {
        match self {
            Dtype::Bf16 | Dtype::Fp16 => 2.0,
            Dtype::Fp8 => 1.0,
            Dtype::Fp4 => 0.5 + 1.0 / NVFP4_BLOCK,
        }
    }

    /// Bytes of `elements` elements of this dtype, rounded up to whole bytes.
    pub fn bytes_of(self, elements: u64) -> u64 {
        match self {
            Dtype::Bf16 | Dtype::Fp16 => 2 * elements,
            Dtype::Fp8 => elements,
            // 4 bits each and one scale byte per started block of 16.
            Dtype::Fp4 => elements.div_ceil(2) + elements.div_ceil(NVFP4_BLOCK as u64),
        }
    }

    /// The dense tensor-core rate, TFLOP/s, of GEMMs with weights in this dtype on `device`.
    /// Without FP8 (FP4) tensor cores the weights are dequantised and multiplied at the 16-bit
    /// rate (vLLM's Marlin kernels run NVFP4 checkpoints so on Hopper).
    pub fn gemm_tflops(self, device: &DeviceSpec) -> f64 {
        let rate = match self {
            Dtype::Bf16 | Dtype::Fp16 => None,
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

impl ReplicaSpec {
    /// Transformer layers on each pipeline stage.
    pub fn layers_per_stage(&self) -> u32 {
        self.model.num_layers / self.parallel.num_pipeline_stages.max(1)
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
