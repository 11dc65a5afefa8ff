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
}

impl Dtype {
    /// Bytes per element.
    pub fn bytes(self) -> u64 {
        match self {
            Dtype::Bf16 | Dtype::Fp16 => 2,
            Dtype::Fp8 => 1,
        }
    }

    /// The dtype a `replica_config_*_dtype` choice names.
    pub(crate) fn parse(s: &str) -> Dtype {
        match s {
            "fp16" => Dtype::Fp16,
            "fp8" => Dtype::Fp8,
            _ => Dtype::Bf16,
        }
    }
}

/// Tensor and pipeline parallelism of one replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParallelSpec {
    /// TP degree.
    pub tensor_parallel_size: u32,
    /// PP degree (pipeline stages).
    pub num_pipeline_stages: u32,
}

impl ParallelSpec {
    /// GPUs per replica.
    pub fn world_size(self) -> u32 {
        self.tensor_parallel_size * self.num_pipeline_stages
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
    /// Memory kept back from weights and KV.
    pub memory_margin_fraction: f64,
    /// Prefix caching on.
    pub enable_prefix_caching: bool,
    /// Tokens of blocks allocated ahead (vllm_v1).
    pub num_preallocate_tokens: u32,
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
