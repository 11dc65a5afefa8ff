//! The validated, typed configuration a simulation runs from.

use serde::Serialize;

use super::{Config, ConfigError, ConfigErrors, Params};
use crate::catalog::{self, DeviceSpec, ModelArch, NodeSpec};
use crate::exec::{PREDICTORS, SharedPredictor};
use crate::inputs::Inputs;
use crate::memory::{self, MemoryPlan};
use crate::scheduler::global::{ROUTERS, RouterFactory};
use crate::scheduler::replica::{QueueKind, REPLICA_SCHEDULERS, ReplicaSchedulerFactory};
use crate::time::{HORIZON_SECS, HORIZON_TEXT, SimTime};
use crate::workload::{REQUEST_GENERATORS, WorkloadFactory};

/// Most KV blocks a run may simulate over all replicas (about 2 GB of bookkeeping).
pub const MAX_SIMULATED_BLOCKS: u64 = 50_000_000;

/// A number format for weights or KV cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
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

    fn parse(s: &str) -> Dtype {
        match s {
            "fp16" => Dtype::Fp16,
            "fp8" => Dtype::Fp8,
            _ => Dtype::Bf16,
        }
    }
}

/// Tensor and pipeline parallelism of one replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClusterSpec {
    /// Replicas behind the router.
    pub num_replicas: u32,
}

/// KV cache settings.
#[derive(Clone, Debug, PartialEq, Serialize)]
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
}

/// What the memory planner keeps out of the KV cache for activations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
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

/// What to keep and write.
#[derive(Clone, Debug, PartialEq, Serialize)]
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

/// A chosen policy: its registered name and how to build it.
#[derive(Clone)]
pub struct Policy<F> {
    /// The registered name.
    pub name: &'static str,
    /// Builds an instance.
    pub build: F,
}

impl<F> std::fmt::Debug for Policy<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Policy({})", self.name)
    }
}

/// A validated configuration: everything a [`crate::Simulation`] needs.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The raw flags it was built from (written back as config.json), with the model's name
    /// filled in when a custom config file named it.
    pub raw: Config,
    /// The run's seed.
    pub seed: u64,
    /// Stop after this simulated instant, if set.
    pub time_limit: Option<SimTime>,
    /// The cluster.
    pub cluster: ClusterSpec,
    /// Each replica.
    pub replica: ReplicaSpec,
    /// KV cache settings.
    pub cache: CacheSpec,
    /// Per-replica memory plan (blocks, bytes).
    pub memory: MemoryPlan,
    /// The router.
    pub router: Policy<RouterFactory>,
    /// The replica scheduler.
    pub replica_scheduler: Policy<ReplicaSchedulerFactory>,
    /// Waiting-queue order.
    pub request_queue: QueueKind,
    /// Prefill SLO.
    pub slo: SloSpec,
    /// The workload.
    pub workload: Policy<WorkloadFactory>,
    /// The execution-time predictor.
    pub predictor: Policy<SharedPredictor>,
    /// Metrics and outputs.
    pub metrics: MetricsSpec,
    /// Non-fatal observations about the configuration (shown in the report).
    pub warnings: Vec<String>,
}

impl SimConfig {
    /// Validates `config`, reading trace and model files from `inputs`; every problem is
    /// reported, each naming its flag.
    pub fn build(config: &Config, inputs: &Inputs) -> Result<SimConfig, ConfigErrors> {
        let mut p = Params::with_inputs(config, inputs);
        // Flags of a policy that is not selected are read by nothing: say so.
        let mut warnings = config.ignored_flag_warnings();

        let seed = p.int("seed") as u64;
        let time_limit_s = p.float("time_limit");
        let time_limit = if time_limit_s == 0.0 {
            None
        } else if let Some(limit) = SimTime::checked_from_secs_f64(time_limit_s) {
            Some(limit)
        } else {
            p.error(
                ConfigError::new(
                    "time_limit",
                    format!(
                        "{time_limit_s} is out of range: it must be between 0 and {HORIZON_SECS} seconds"
                    ),
                )
                .with_hint(format!(
                    "no run simulates past {HORIZON_TEXT}; use 0 to run until every request is done"
                )),
            );
            None
        };
        let num_replicas = p.int_in("cluster_config_num_replicas", 1, 100_000) as u32;

        let replica = build_replica(&mut p, &mut warnings);
        let mut cache = CacheSpec {
            block_size: {
                let b = p.int_in("cache_config_block_size", 1, 1 << 16);
                if !(b as u64).is_power_of_two() {
                    p.error(
                        ConfigError::new("cache_config_block_size", format!("{b} is not a power of two"))
                            .with_hint("use 8, 16, 32, ..."),
                    );
                }
                b as u32
            },
            num_blocks_override: p.opt_u64_at_least("cache_config_num_blocks", 1),
            watermark_blocks_fraction: p.float_in("cache_config_watermark_blocks_fraction", 0.0, 0.99),
            memory_margin_fraction: p.float_in("cache_config_memory_margin_fraction", 0.0, 0.99),
            activation_memory: ActivationMemory::None,
            runtime_memory_bytes: (p.float_in("cache_config_runtime_memory_gb", 0.0, 1e4)
                * (1u64 << 30) as f64) as u64,
            enable_prefix_caching: p.bool("cache_config_enable_prefix_caching"),
            num_preallocate_tokens: p.int_in("cache_config_num_preallocate_tokens", 0, 1 << 20) as u32,
        };

        let router = pick(&mut p, "global_scheduler_config_type", ROUTERS.iter().map(|e| (e.name, e.parse)))
            .and_then(|(name, parse)| parse(&mut p).map(|build| Policy { name, build }));
        let replica_scheduler = pick(
            &mut p,
            "replica_scheduler_config_type",
            REPLICA_SCHEDULERS.iter().map(|e| (e.name, e.parse)),
        )
        .and_then(|(name, parse)| parse(&mut p).map(|build| Policy { name, build }));
        let request_queue = QueueKind::parse(&p.string("request_queue_config_type"));
        let slo = SloSpec {
            prefill_e2e_time_normalized: p.opt_float("slo_config_prefill_e2e_time_normalized"),
            prefill_e2e_time_min: p.opt_float("slo_config_prefill_e2e_time_min"),
        };
        if request_queue == QueueKind::Edf
            && slo.prefill_e2e_time_normalized.is_none()
            && slo.prefill_e2e_time_min.is_none()
        {
            p.error(
                ConfigError::new("request_queue_config_type", "edf needs a prefill SLO to compute deadlines")
                    .with_hint("set --slo_config_prefill_e2e_time_normalized and/or --slo_config_prefill_e2e_time_min"),
            );
        }
        let workload = pick(
            &mut p,
            "request_generator_config_type",
            REQUEST_GENERATORS.iter().map(|e| (e.name, e.parse)),
        )
        .and_then(|(name, parse)| parse(&mut p).map(|build| Policy { name, build }));
        let predictor = match &replica {
            Some(r) => pick(
                &mut p,
                "execution_time_predictor_config_type",
                PREDICTORS.iter().map(|e| (e.name, e.parse)),
            )
            .and_then(|(name, parse)| parse(&mut p, r).map(|build| Policy { name, build })),
            None => None,
        };
        let metrics = MetricsSpec {
            write_metrics: p.bool("metrics_config_write_metrics"),
            enable_chrome_trace: p.bool("metrics_config_enable_chrome_trace"),
            chrome_trace_max_slices: Some(p.u64_at_least("metrics_config_chrome_trace_max_slices", 0))
                .filter(|n| *n > 0),
            store_plots: p.bool("metrics_config_store_plots"),
            store_request_metrics: p.bool("metrics_config_store_request_metrics"),
            store_batch_metrics: p.bool("metrics_config_store_batch_metrics"),
            store_utilization_metrics: p.bool("metrics_config_store_utilization_metrics"),
            store_operation_metrics: p.bool("metrics_config_store_operation_metrics"),
            keep_individual_batch_metrics: p.bool("metrics_config_keep_individual_batch_metrics"),
            output_dir: p.string("metrics_config_output_dir"),
            no_timestamp: p.bool("metrics_config_no_timestamp"),
        };

        if let (Some(router), Some(workload)) = (&router, &workload)
            && ROUTERS.iter().any(|e| e.name == router.name && e.needs_sessions)
            && !workload.build.has_sessions
        {
            p.error(
                ConfigError::new(
                    "global_scheduler_config_type",
                    format!("{} keeps sessions on one replica, but the {} workload's requests carry no session_id", router.name, workload.name),
                )
                .with_hint("use a trace with session ids (a Vidur CSV with a session_id column, or a Mooncake JSONL), or choose a router without sessions such as lop or lor"),
            );
        }
        if let Some(scheduler) = &replica_scheduler
            && cache.enable_prefix_caching
            && REPLICA_SCHEDULERS.iter().any(|e| e.name == scheduler.name && !e.prefix_caching)
        {
            warnings.push(format!(
                "--cache_config_enable_prefix_caching is ignored by the {} scheduler (Vidur's legacy block ledger has no prefix cache); prefix-aware routers see no cached tokens",
                scheduler.name
            ));
        }
        let profile_activations = p.string("cache_config_activation_memory") == "profile";
        if let Some(scheduler) = &replica_scheduler
            && profile_activations
        {
            let entry = REPLICA_SCHEDULERS.iter().find(|e| e.name == scheduler.name).expect("registered");
            let max_model_len = replica.as_ref().map_or(0, |r| r.model.max_model_len);
            let peak = (entry.peak_batch)(p.config(), max_model_len);
            cache.activation_memory =
                ActivationMemory::Profile { tokens: peak.tokens, sequences: peak.sequences };
        }
        let memory = match &replica {
            Some(r) if !p.has_errors() => match memory::plan(r, &cache) {
                Ok(plan) => Some(plan),
                Err(e) => {
                    p.error(e);
                    None
                }
            },
            _ => None,
        };
        // The simulation keeps every KV block of every replica (about 40 bytes each): refuse a
        // cluster whose bookkeeping alone would exhaust memory (wasm tops out at 4 GB).
        if let Some(plan) = &memory
            && plan.num_blocks.saturating_mul(u64::from(num_replicas)) > MAX_SIMULATED_BLOCKS
        {
            p.error(
                ConfigError::new(
                    "cluster_config_num_replicas",
                    format!(
                        "{num_replicas} replicas × {} KV blocks each = {} blocks to simulate, more than the {} this simulator keeps in memory",
                        plan.num_blocks,
                        plan.num_blocks * u64::from(num_replicas),
                        MAX_SIMULATED_BLOCKS
                    ),
                )
                .with_hint(format!(
                    "use at most {} replicas, or a larger --cache_config_block_size",
                    (MAX_SIMULATED_BLOCKS / plan.num_blocks.max(1)).max(1)
                )),
            );
        }
        if let Some(plan) = &memory
            && let Some(r) = &replica
            && plan.num_blocks * u64::from(cache.block_size) < u64::from(r.model.max_model_len)
        {
            warnings.push(format!(
                    "a replica's KV cache holds {} tokens, less than the model's max_model_len of {}: long requests will be refused",
                    plan.num_blocks * u64::from(cache.block_size),
                    r.model.max_model_len
                ));
        }

        warnings.extend(p.take_warnings());
        let errors = p.into_errors();
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        let (
            Some(replica),
            Some(router),
            Some(replica_scheduler),
            Some(workload),
            Some(predictor),
            Some(memory),
        ) = (replica, router, replica_scheduler, workload, predictor, memory)
        else {
            return Err(ConfigError::new("", "invalid configuration").into());
        };
        // config.json names the model simulated: a custom config file's name when the flag
        // was left at its default.
        let mut raw = config.clone();
        let custom_file = matches!(config.get("replica_config_model_config_file"), super::FlagValue::Str(f) if !f.is_empty());
        if custom_file && !config.is_set("replica_config_model_name") {
            raw.set("replica_config_model_name", &replica.model.name).map_err(ConfigErrors::from)?;
        }
        Ok(SimConfig {
            raw,
            seed,
            time_limit,
            cluster: ClusterSpec { num_replicas },
            replica,
            cache,
            memory,
            router,
            replica_scheduler,
            request_queue,
            slo,
            workload,
            predictor,
            metrics,
            warnings,
        })
    }

    /// The input files this configuration reads: `(flag, path)` for every active path flag
    /// that is set, with Vidur's `{DEVICE}`, `{MODEL}` and `{NETWORK_DEVICE}` placeholders
    /// filled in.
    pub fn required_files(config: &Config) -> Vec<(&'static str, String)> {
        super::all_flags()
            .iter()
            .filter(|f| f.kind == super::FlagKind::Path && f.name != "metrics_config_output_dir")
            .filter(|f| is_active(config, f.name))
            .filter_map(|f| match config.get(f.name) {
                super::FlagValue::Str(path) => Some((f.name, fill_placeholders(config, &path))),
                _ => None,
            })
            .collect()
    }
}

/// Whether a flag applies under the current selector choices (its `shown_when` chain holds).
pub fn is_active(config: &Config, name: &str) -> bool {
    let mut current = name;
    for _ in 0..8 {
        let Some(def) = super::find_flag(current) else { return false };
        let Some((selector, values)) = &def.shown_when else { return true };
        let chosen = config.get(selector).to_text();
        if !values.iter().any(|v| *v == chosen) {
            return false;
        }
        current = selector;
    }
    true
}

/// Replaces Vidur's path placeholders with this configuration's device, model and node.
/// `{MODEL}` is the model flag's text, except that a catalogue name given without its
/// organisation (`Meta-Llama-3-8B`) is the full id, as in Vidur's directory layout.
pub fn fill_placeholders(config: &Config, path: &str) -> String {
    let model = config.get("replica_config_model_name").to_text();
    let model = match catalog::find_model(&model) {
        Some(m) if !model.contains('/') => m.name.clone(),
        _ => model,
    };
    path.replace("{DEVICE}", &config.get("replica_config_device").to_text())
        .replace("{MODEL}", &model)
        .replace("{NETWORK_DEVICE}", &config.get("replica_config_network_device").to_text())
}

/// The last component of a path (`models/qwen2_7b.json` → `qwen2_7b.json`).
fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).find(|s| !s.is_empty()).unwrap_or(path)
}

/// Reads a selector flag and returns the chosen registry entry's parts.
fn pick<T>(
    p: &mut Params,
    selector: &str,
    entries: impl Iterator<Item = (&'static str, T)>,
) -> Option<(&'static str, T)> {
    let chosen = p.string(selector);
    let found = entries.into_iter().find(|(name, _)| *name == chosen);
    if found.is_none() {
        p.error(ConfigError::new(selector, format!("'{chosen}' is not implemented")));
    }
    found
}

fn build_replica(p: &mut Params, warnings: &mut Vec<String>) -> Option<ReplicaSpec> {
    let model_name = p.string("replica_config_model_name");
    let model = match p.opt_string("replica_config_model_config_file") {
        Some(path) => match p.inputs().text(&path) {
            Ok(text) => match crate::catalog::model_from_hf_config(&model_name, &text) {
                Ok(hf) => {
                    let mut arch = hf.arch;
                    // Without an explicit --replica_config_model_name, the model is named by
                    // its file, not by the flag's default.
                    if !p.config().is_set("replica_config_model_name") {
                        arch.name = hf.name_or_path.unwrap_or_else(|| file_name(&path).to_string());
                    }
                    warnings.extend(hf.warnings.iter().map(|w| format!("{path}: {w}")));
                    Some(arch)
                }
                Err(e) => {
                    let mut error = ConfigError::new(
                        "replica_config_model_config_file",
                        format!("{path}: {}", e.message),
                    );
                    if let Some(hint) = e.hint {
                        error = error.with_hint(hint);
                    }
                    p.error(error);
                    None
                }
            },
            Err(message) => {
                p.error(ConfigError::new("replica_config_model_config_file", message));
                None
            }
        },
        None => match catalog::find_model(&model_name) {
            Some(m) => Some(m.clone()),
            None => {
                let mut e =
                    ConfigError::new("replica_config_model_name", format!("unknown model '{model_name}'"));
                e = match catalog::suggest_model(&model_name) {
                    Some(best) => e.with_hint(format!("did you mean '{best}'? Or give a Hugging Face config.json with --replica_config_model_config_file")),
                    None => e.with_hint("`llmsim --list-models` lists the catalogue; or give a config.json with --replica_config_model_config_file"),
                };
                p.error(e);
                None
            }
        },
    };
    let device_name = p.string("replica_config_device");
    let device = if device_name == catalog::CUSTOM_DEVICE {
        catalog::custom_device(p)
    } else {
        catalog::find_device(&device_name).cloned()
    };
    if device.is_none() && device_name != catalog::CUSTOM_DEVICE {
        let names: Vec<&str> = catalog::devices().iter().map(|d| d.name.as_str()).collect();
        let mut e = ConfigError::new(
            "replica_config_device",
            format!("unknown device '{device_name}'; known: {}", names.join(", ")),
        );
        if let Some(best) = super::flags::closest(&device_name, names.iter().copied()) {
            e = e.with_hint(format!("did you mean '{best}'?"));
        }
        p.error(e);
    }
    let node_name = p.string("replica_config_network_device");
    let node = catalog::find_node(&node_name).cloned();
    if node.is_none() {
        let names: Vec<&str> = catalog::nodes().iter().map(|n| n.name.as_str()).collect();
        let mut e = ConfigError::new(
            "replica_config_network_device",
            format!("unknown network device '{node_name}'; known: {}", names.join(", ")),
        );
        if let Some(best) = super::flags::closest(&node_name, names.iter().copied()) {
            e = e.with_hint(format!("did you mean '{best}'?"));
        }
        p.error(e);
    }
    let tp = p.int_in("replica_config_tensor_parallel_size", 1, 1024) as u32;
    let pp = p.int_in("replica_config_num_pipeline_stages", 1, 1024) as u32;
    let weight_dtype = Dtype::parse(&p.string("replica_config_weight_dtype"));
    let kv_cache_dtype = Dtype::parse(&p.string("replica_config_kv_cache_dtype"));
    let (model, device, node) = (model?, device?, node?);

    let divisors = |n: u32| -> String {
        (1..=n.min(64)).filter(|d| n.is_multiple_of(*d)).map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
    };
    if model.num_layers % pp != 0 {
        p.error(
            ConfigError::new(
                "replica_config_num_pipeline_stages",
                format!("PP={pp} does not divide {}'s {} layers", model.name, model.num_layers),
            )
            .with_hint(format!("choose PP from {}", divisors(model.num_layers))),
        );
    }
    if model.num_q_heads % tp != 0 || model.embedding_dim % tp != 0 {
        let common = (1..=model.num_q_heads.min(64))
            .filter(|d| model.num_q_heads % d == 0 && model.embedding_dim % d == 0);
        p.error(
            ConfigError::new(
                "replica_config_tensor_parallel_size",
                format!(
                    "TP={tp} does not divide {}'s {} attention heads and hidden size {}",
                    model.name, model.num_q_heads, model.embedding_dim
                ),
            )
            .with_hint(format!(
                "choose TP from {}",
                common.map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
            )),
        );
    }
    if model.no_tensor_parallel && tp > 1 {
        p.error(
            ConfigError::new(
                "replica_config_tensor_parallel_size",
                format!("{} does not support tensor parallelism", model.name),
            )
            .with_hint("use TP=1"),
        );
    }
    let world = tp * pp;
    if world > node.devices_per_node && !world.is_multiple_of(node.devices_per_node) {
        p.error(
            ConfigError::new(
                "replica_config_tensor_parallel_size",
                format!(
                    "TP×PP = {world} GPUs neither fits in one {} node ({} GPUs) nor fills whole nodes",
                    node.name, node.devices_per_node
                ),
            )
            .with_hint(format!("make TP×PP at most {} or a multiple of it", node.devices_per_node)),
        );
    }
    if node.device != device.name {
        warnings.push(format!(
            "network device {} is a node of {} GPUs, but the replica device is {}: interconnect figures come from {}",
            node.name, node.device, device.name, node.name
        ));
    }
    if weight_dtype == Dtype::Fp8 && device.fp8_tflops.is_none() {
        warnings.push(format!(
            "{} has no FP8 tensor cores: fp8 weights save memory but GEMMs run at the FP16 rate",
            device.name
        ));
    }
    Some(ReplicaSpec {
        model,
        device,
        node,
        parallel: ParallelSpec { tensor_parallel_size: tp, num_pipeline_stages: pp },
        weight_dtype,
        kv_cache_dtype,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let reserved = memory::activation_bytes(&r, 8192, 1024);
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
        let e =
            build_with(&[("replica_config_model_config_file", "ds.json")], &[("ds.json", mla)]).unwrap_err();
        let e =
            e.0.iter().find(|e| e.flag == "replica_config_model_config_file").expect("names the file flag");
        assert!(e.message.starts_with("ds.json: multi-head latent attention"), "{e}");
        assert!(e.hint.is_some(), "{e}");
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
    }

    #[test]
    fn placeholders_are_filled() {
        let config = Config::from_pairs([("replica_config_device", "h100")]).unwrap();
        assert_eq!(
            fill_placeholders(&config, "p/{DEVICE}/{MODEL}/mlp.csv"),
            "p/h100/meta-llama/Llama-2-7b-hf/mlp.csv"
        );
    }
}
