//! The composition root's second half: [`SimConfig::build`] reads a [`Config`] into everything
//! a [`crate::Simulation`] needs, choosing the router, the replica scheduler, the workload and
//! the predictor from their tables, reading the replica (`replica.rs`), planning memory and
//! checking what crosses policies. It is the single validator the CLI and the web page use.

mod disagg;
mod replica;
mod resources;
mod speculative;
#[cfg(test)]
mod tests;

use crate::catalog;
use crate::config::{
    ActivationMemory, CacheSpec, ClusterSpec, Config, ConfigError, ConfigErrors, CostSpec, FlagValue,
    LinearStatePool, MetricsSpec, Params, ReplicaSpec, SloSpec, SpeculativeSpec, fill_placeholders_with,
};
use crate::exec::{PREDICTORS, SharedPredictor};
use crate::inputs::Inputs;
use crate::limits::{
    DEFAULT_MEMORY_BUDGET_BYTES, MAX_BLOCK_SIZE, MAX_KV_TOKENS_PER_REPLICA, MAX_REPLICAS, MemoryEstimate,
};
use crate::memory::{self, MemoryPlan};
use crate::scheduler::global::{ROUTERS, RouterFactory};
use crate::scheduler::replica::{QueueKind, REPLICA_SCHEDULERS, ReplicaSchedulerFactory};
use crate::serving_engine::{self, Setting};
use crate::slo::ServiceLevels;
use crate::time::{HORIZON_SECS, HORIZON_TEXT, SimTime};
use crate::workload::{REQUEST_GENERATORS, WorkloadFactory};
pub use disagg::DisaggSpec;
pub use speculative::MAX_SPECULATIVE_TOKENS;

/// SGLang's `--mamba-full-memory-ratio` default: its linear-attention state pool gets 0.9 / 1.9
/// of the memory left after the weights (`handle_max_mamba_cache`).
const SGLANG_MAMBA_FULL_MEMORY_RATIO: f64 = 0.9;
/// State slots SGLang budgets a running request with its radix cache on
/// (`MAMBA_CACHE_SIZE_MAX_RUNNING_REQUESTS_RATIO`).
const SGLANG_MAMBA_SLOTS_PER_REQUEST: u64 = 3;

/// Most KV blocks a run may simulate over all replicas (see [`crate::limits`]).
pub use crate::limits::MAX_SIMULATED_BLOCKS;

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
    /// The flags it was built from (written back as config.json): the user's, the serving
    /// engine's defaults where the user set none, and the model's name when a custom config
    /// file named it.
    pub raw: Config,
    /// The flag values the serving engine (`--serving_engine`) set.
    pub engine_settings: Vec<Setting>,
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
    /// The router's own seed (the value of its entry's seed flag), mixed into the routing
    /// stream.
    pub router_seed: u64,
    /// The replica scheduler.
    pub replica_scheduler: Policy<ReplicaSchedulerFactory>,
    /// Waiting-queue order.
    pub request_queue: QueueKind,
    /// Prefill SLO (the EDF queue's deadlines).
    pub slo: SloSpec,
    /// The latency objectives the report evaluates.
    pub service_levels: ServiceLevels,
    /// GPUs and their price.
    pub cost: CostSpec,
    /// The workload.
    pub workload: Policy<WorkloadFactory>,
    /// The execution-time predictor.
    pub predictor: Policy<SharedPredictor>,
    /// Metrics and outputs.
    pub metrics: MetricsSpec,
    /// Non-fatal observations about the configuration (shown in the report).
    pub warnings: Vec<String>,
    /// The memory the run is expected to need, within the budget it was built with.
    pub memory_estimate: MemoryEstimate,
    /// A disaggregated cluster's decode pool (`--disaggregation_config_type prefill_decode`):
    /// then the fields above describe the prefill pool, except `cost`, which counts both.
    pub disagg: Option<DisaggSpec>,
    /// Speculative decoding (`--replica_config_speculative_method`), when on.
    pub speculative: Option<SpeculativeSpec>,
}

impl SimConfig {
    /// Validates `config`, reading trace and model files from `inputs`; every problem is
    /// reported, each naming its flag. The run may plan to use up to
    /// [`DEFAULT_MEMORY_BUDGET_BYTES`] of memory ([`SimConfig::build_with_budget`]).
    pub fn build(config: &Config, inputs: &Inputs) -> Result<SimConfig, ConfigErrors> {
        SimConfig::build_with_budget(config, inputs, DEFAULT_MEMORY_BUDGET_BYTES)
    }

    /// [`SimConfig::build`], refusing a run whose memory estimate exceeds `memory_budget`
    /// bytes (the web page's worker passes a browser's budget), naming the flag to lower.
    pub fn build_with_budget(
        user: &Config,
        inputs: &Inputs,
        memory_budget: u64,
    ) -> Result<SimConfig, ConfigErrors> {
        SimConfig::build_pool(user, inputs, memory_budget, None)
    }

    /// [`SimConfig::build_with_budget`] for the whole cluster, or for the decode pool of a
    /// disaggregated one (`cluster`: the whole cluster's flags, as its build read them), whose
    /// flags [`disagg::read`] built with the type set to aggregated: a flag the whole cluster
    /// reads (the `--disaggregation_config_*` flags, the prefill pool's scheduler's) was judged
    /// by the whole cluster's build, so the decode pool's does not call it ignored.
    pub(super) fn build_pool(
        user: &Config,
        inputs: &Inputs,
        memory_budget: u64,
        cluster: Option<&Config>,
    ) -> Result<SimConfig, ConfigErrors> {
        // The serving engine's defaults fill in what the user did not set.
        let (effective, engine_settings) = serving_engine::apply(user)?;
        let config = &effective;
        let mut p = Params::with_inputs(config, inputs);
        // Flags of a policy that is not selected are read by nothing: say so (of the flags the
        // user set).
        let mut warnings = config.ignored_flag_warnings_among(&|name| {
            user.is_set(name) && !cluster.is_some_and(|c| c.is_active(name))
        });

        let seed = p.int("seed") as u64;
        let time_limit = read_time_limit(&mut p);
        let num_replicas = p.int_in("cluster_config_num_replicas", 1, i64::from(MAX_REPLICAS)) as u32;
        let replica = replica::read(&mut p, &mut warnings);
        let speculative = speculative::read(&mut p, replica.as_ref());
        let mut cache = read_cache(&mut p);

        let router_entry = pick(&mut p, "global_scheduler_config_type", ROUTERS.iter().map(|e| (e.name, e)));
        let router =
            router_entry.and_then(|(name, entry)| (entry.parse)(&mut p).map(|build| Policy { name, build }));
        let router_seed =
            router_entry.and_then(|(_, entry)| entry.seed_flag).map_or(0, |flag| p.int(flag) as u64);
        let replica_scheduler = pick(
            &mut p,
            "replica_scheduler_config_type",
            REPLICA_SCHEDULERS.iter().map(|e| (e.name, e.parse)),
        )
        .and_then(|(name, parse)| parse(&mut p).map(|build| Policy { name, build }));
        let request_queue = QueueKind::parse(&p.string("request_queue_config_type"));
        let slo = read_slo(&mut p, request_queue);
        let service_levels = ServiceLevels::read(&mut p);
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
            .and_then(|(name, parse)| parse(&mut p, r).map(|build| Policy { name, build }))
            .and_then(|policy| match &speculative {
                Some(spec) => speculative::wrap_predictor(&mut p, spec, r, policy.build)
                    .map(|build| Policy { name: policy.name, build }),
                None => Some(policy),
            }),
            None => None,
        };
        if let Some(r) = &replica {
            replica::check_moe_deployment(&mut p, r);
        }
        let metrics = read_metrics(&mut p);

        if let (Some(router), Some(workload)) = (&router, &workload) {
            check_sessions(&mut p, router, workload);
        }
        // SGLang budgets a running request 3 state slots with its radix cache on, 1 without.
        let radix_cache = cache.enable_prefix_caching;
        if let Some(r) = &replica
            && r.model.linear_attention.is_some()
            && cache.enable_prefix_caching
        {
            // A linear-attention layer's state summarises the whole prefix; engines keep it only
            // at chosen positions (SGLang's MambaRadixCache), not per block of tokens.
            cache.enable_prefix_caching = false;
            warnings.push(format!(
                "--cache_config_enable_prefix_caching is turned off for {}: its linear-attention layers keep one recurrent state per sequence, not per-token KV blocks, so a block-granular prefix cache cannot reuse them",
                r.model.name
            ));
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
        if let Some(scheduler) = &replica_scheduler {
            let entry = REPLICA_SCHEDULERS.iter().find(|e| e.name == scheduler.name).expect("registered");
            let max_model_len = replica.as_ref().map_or(0, |r| r.model.max_model_len);
            let peak = (entry.peak_batch)(p.config(), max_model_len);
            // vLLM with an engine core per DP rank (`vllm_dp.rs`): each rank runs up to the
            // whole max_num_seqs, so the replica up to DP times it (the memory plan gives each
            // rank its share of `max_sequences` for sliding-window KV and linear state).
            let dp = replica.as_ref().map_or(1, |r| u64::from(r.parallel.attention_dp_size.max(1)));
            let per_rank_cap =
                entry.name == "vllm_v1" && dp > 1 && p.bool("vllm_v1_scheduler_config_dp_engine_cores");
            cache.max_sequences =
                if per_rank_cap { peak.sequences.saturating_mul(dp) } else { peak.sequences };
            cache.max_sequences_flag = format!("{}_scheduler_config_batch_size_cap", entry.name);
            if entry.name == "sglang" {
                cache.linear_state_pool = LinearStatePool::Ratio {
                    ratio: SGLANG_MAMBA_FULL_MEMORY_RATIO,
                    slots_per_request: if radix_cache { SGLANG_MAMBA_SLOTS_PER_REQUEST } else { 1 },
                };
            }
            if p.string("cache_config_activation_memory") == "profile" {
                cache.activation_memory =
                    ActivationMemory::Profile { tokens: peak.tokens, sequences: peak.sequences };
            }
        }
        if let (Some(scheduler), Some(spec)) = (&replica_scheduler, &speculative) {
            let entry = REPLICA_SCHEDULERS.iter().find(|e| e.name == scheduler.name).expect("registered");
            if !entry.speculative_decoding {
                let able: Vec<&str> =
                    REPLICA_SCHEDULERS.iter().filter(|e| e.speculative_decoding).map(|e| e.name).collect();
                p.error(
                    ConfigError::new(
                        "replica_config_speculative_method",
                        format!(
                            "{} needs a replica scheduler that speculates; the {} scheduler does not",
                            spec.method.name(),
                            scheduler.name
                        ),
                    )
                    .with_hint(format!("use --replica_scheduler_config_type {}", able.join(" or "))),
                );
            }
            match scheduler.name {
                "vllm_v1" => speculative::warn_budget(&mut p, spec),
                "trtllm" => speculative::check_trtllm_budget(&mut p, spec),
                _ => {}
            }
        }
        if speculative.is_some() && p.string(crate::disagg::TYPE_FLAG) == crate::disagg::PREFILL_DECODE {
            p.error(
                ConfigError::new(
                    "replica_config_speculative_method",
                    "speculative decoding is not modelled with disaggregated prefill and decode",
                )
                .with_hint(format!(
                    "set --{} none, or --replica_config_speculative_method none",
                    crate::disagg::TYPE_FLAG
                )),
            );
        }
        let draft_memory = match (&speculative, &replica) {
            (Some(spec), Some(r)) => speculative::draft_memory(spec, r),
            _ => memory::DraftMemory::default(),
        };
        let memory = match &replica {
            Some(r) if !p.has_errors() => {
                plan_memory(&mut p, r, &cache, draft_memory, num_replicas, &mut warnings)
            }
            _ => None,
        };
        if let (Some(scheduler), Some(memory), Some(r)) = (&replica_scheduler, &memory, &replica)
            && matches!(scheduler.name, "orca" | "faster_transformer")
        {
            warnings.extend(max_length_reservation_warning(
                p.config(),
                scheduler.name,
                r.model.max_model_len,
                memory,
            ));
        }
        let memory_estimate = match (&workload, &memory) {
            (Some(workload), Some(memory)) => {
                let estimate = resources::estimate(inputs, &workload.build, &metrics, memory, num_replicas);
                let input_flag = resources::largest_input_flag(config, inputs);
                resources::check_budget(&mut p, &estimate, memory_budget, &workload.build, input_flag);
                estimate
            }
            _ => MemoryEstimate::default(),
        };
        let cost = replica.as_ref().map(|r| read_cost(&mut p, r, num_replicas, &mut warnings));

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
            Some(cost),
        ) = (replica, router, replica_scheduler, workload, predictor, memory, cost)
        else {
            return Err(ConfigError::new("", "invalid configuration").into());
        };
        let raw = raw_with_model_name(config, &replica.model.name)?;
        let mut built = SimConfig {
            raw,
            engine_settings,
            seed,
            time_limit,
            cluster: ClusterSpec { num_replicas },
            replica,
            cache,
            memory,
            router,
            router_seed,
            replica_scheduler,
            request_queue,
            slo,
            service_levels,
            cost,
            workload,
            predictor,
            metrics,
            warnings,
            memory_estimate,
            disagg: None,
            speculative,
        };
        built.disagg = disagg::read(user, inputs, memory_budget, &built)?;
        if let Some(decode) = built.disagg.as_ref().map(|d| &d.decode) {
            built.cost = combined_cost(&built.cost, &decode.cost);
            built.memory_estimate =
                disagg::combined_estimate(&built.memory_estimate, &decode.memory_estimate);
            // The decode pool read the user's flags again: what it observed as the prefill
            // pool did (a flag both ignore, a device both lack a price for) is said once.
            let decode_own: Vec<String> = decode
                .warnings
                .iter()
                .filter(|w| !built.warnings.contains(w))
                .map(|w| format!("decode pool: {w}"))
                .collect();
            built.warnings.extend(decode_own);
        }
        Ok(built)
    }

    /// The input files this configuration reads: `(flag, path)` for every active path flag
    /// that is set, with Vidur's `{DEVICE}`, `{MODEL}` and `{NETWORK_DEVICE}` placeholders
    /// filled in.
    pub fn required_files(config: &Config) -> Vec<(&'static str, String)> {
        SimConfig::required_files_with(config, &crate::catalog::Parsed)
    }

    /// [`SimConfig::required_files`], finding the `{MODEL}` placeholder's model in `catalogue`
    /// (the page passes the catalogues' compile-time index: the same entries).
    pub fn required_files_with(
        config: &Config,
        catalogue: &dyn crate::catalog::Lookup,
    ) -> Vec<(&'static str, String)> {
        config
            .table()
            .flags()
            .iter()
            .filter(|f| f.is_input_file())
            .filter(|f| config.is_active(f.name))
            .filter_map(|f| match config.get(f.name) {
                FlagValue::Str(path) => Some((f.name, fill_placeholders_with(config, &path, catalogue))),
                _ => None,
            })
            .collect()
    }
}

/// `--time_limit` as an instant; `None` for 0 (run to the end) or after an error.
fn read_time_limit(p: &mut Params) -> Option<SimTime> {
    let time_limit_s = p.float("time_limit");
    if time_limit_s == 0.0 {
        None
    } else if let Some(limit) = SimTime::checked_from_secs_f64(time_limit_s) {
        Some(limit)
    } else {
        p.error(
            ConfigError::new(
                "time_limit",
                format!("{time_limit_s} is out of range: it must be between 0 and {HORIZON_SECS} seconds"),
            )
            .with_hint(format!(
                "no run simulates past {HORIZON_TEXT}; use 0 to run until every request is done"
            )),
        );
        None
    }
}

/// The KV cache settings.
fn read_cache(p: &mut Params) -> CacheSpec {
    CacheSpec {
        block_size: {
            let b = p.int_in("cache_config_block_size", 1, i64::from(MAX_BLOCK_SIZE));
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
        // Set from the replica scheduler's largest pass once that is chosen.
        activation_memory: ActivationMemory::None,
        runtime_memory_bytes: (p.float_in("cache_config_runtime_memory_gb", 0.0, 1e4) * (1u64 << 30) as f64)
            as u64,
        enable_prefix_caching: p.bool("cache_config_enable_prefix_caching"),
        num_preallocate_tokens: p.int_in("cache_config_num_preallocate_tokens", 0, 1 << 20) as u32,
        // Set from the replica scheduler's batch-size cap once that is chosen.
        max_sequences: 0,
        max_sequences_flag: String::new(),
        linear_state_pool: Default::default(),
    }
}

/// The prefill SLO; the EDF queue needs one.
fn read_slo(p: &mut Params, request_queue: QueueKind) -> SloSpec {
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
                .with_hint(
                    "set --slo_config_prefill_e2e_time_normalized and/or --slo_config_prefill_e2e_time_min",
                ),
        );
    }
    slo
}

/// The cluster's GPU count and price: `--cost_config_usd_per_gpu_hour`, else the device's
/// listed price. A device without one (a custom GPU) leaves the cost figures out, with a warning.
fn read_cost(
    p: &mut Params,
    replica: &ReplicaSpec,
    num_replicas: u32,
    warnings: &mut Vec<String>,
) -> CostSpec {
    let num_gpus = u64::from(num_replicas) * u64::from(replica.parallel.world_size());
    let flag = "cost_config_usd_per_gpu_hour";
    let (usd_per_gpu_hour, price_source) = match p.opt_float(flag) {
        Some(price) if price >= 0.0 && price.is_finite() => (Some(price), Some(format!("--{flag}"))),
        Some(price) => {
            p.error(ConfigError::new(flag, format!("{price} must be a price of zero or more US dollars")));
            (None, None)
        }
        None => match catalog::find_price(&replica.device.name) {
            Some(listed) => (Some(listed.usd_per_gpu_hour), Some(listed.provenance())),
            None => {
                warnings.push(format!(
                    "no listed price for the {} device: the cost figures are left out (set --{flag})",
                    replica.device.name
                ));
                (None, None)
            }
        },
    };
    CostSpec { num_gpus, usd_per_gpu_hour, price_source }
}

/// Both pools' GPUs, at their GPU-count-weighted mean price (known only when both are).
fn combined_cost(prefill: &CostSpec, decode: &CostSpec) -> CostSpec {
    let num_gpus = prefill.num_gpus + decode.num_gpus;
    let usd_per_gpu_hour = match (prefill.usd_per_hour(), decode.usd_per_hour()) {
        (Some(a), Some(b)) => Some((a + b) / num_gpus.max(1) as f64),
        _ => None,
    };
    let price_source = match (&prefill.price_source, &decode.price_source) {
        (Some(a), Some(b)) if a == b => Some(a.clone()),
        (Some(a), Some(b)) => Some(format!("prefill: {a}; decode: {b}")),
        _ => None,
    };
    CostSpec { num_gpus, usd_per_gpu_hour, price_source }
}

/// What to keep and write.
fn read_metrics(p: &mut Params) -> MetricsSpec {
    MetricsSpec {
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
    }
}

/// Refuses a router that keeps sessions on one replica with a workload that has none.
fn check_sessions(p: &mut Params, router: &Policy<RouterFactory>, workload: &Policy<WorkloadFactory>) {
    if ROUTERS.iter().any(|e| e.name == router.name && e.needs_sessions) && !workload.build.has_sessions {
        p.error(
            ConfigError::new(
                "global_scheduler_config_type",
                format!("{} keeps sessions on one replica, but the {} workload's requests carry no session_id", router.name, workload.name),
            )
            .with_hint("use a trace with session ids (a Vidur CSV with a session_id column, or a Mooncake JSONL), or choose a router without sessions such as lop or lor"),
        );
    }
}

/// Plans a replica's KV memory, refusing a cluster whose block bookkeeping would not fit in
/// memory and warning when a replica's cache is shorter than the model's context.
fn plan_memory(
    p: &mut Params,
    replica: &ReplicaSpec,
    cache: &CacheSpec,
    draft: memory::DraftMemory,
    num_replicas: u32,
    warnings: &mut Vec<String>,
) -> Option<MemoryPlan> {
    let mut plan = match memory::plan_with_draft(replica, cache, draft) {
        Ok(plan) => plan,
        Err(e) => {
            p.error(e);
            return None;
        }
    };
    // A batch's tokens are resident in the cache and summed in u32: bound a replica's cache.
    let max_blocks = MAX_KV_TOKENS_PER_REPLICA / u64::from(cache.block_size);
    if plan.num_blocks > max_blocks {
        if cache.num_blocks_override.is_some() {
            p.error(
                ConfigError::new(
                    "cache_config_num_blocks",
                    format!(
                        "{} blocks × {} tokens = {} tokens per replica, more than the {MAX_KV_TOKENS_PER_REPLICA} a replica's KV cache may hold in this simulator",
                        plan.num_blocks,
                        cache.block_size,
                        u128::from(plan.num_blocks) * u128::from(cache.block_size)
                    ),
                )
                .with_hint(format!("use at most {max_blocks} blocks")),
            );
            return None;
        }
        warnings.push(format!(
            "a replica's memory would hold {} KV blocks of {} tokens; the simulator keeps at most {MAX_KV_TOKENS_PER_REPLICA} tokens ({max_blocks} blocks) per replica",
            plan.num_blocks, cache.block_size
        ));
        plan.num_blocks = max_blocks;
    }
    // The simulation keeps every KV block of every replica (about 40 bytes each): refuse a
    // cluster whose bookkeeping alone would exhaust memory (wasm tops out at 4 GB).
    if plan.num_blocks.saturating_mul(u64::from(num_replicas)) > MAX_SIMULATED_BLOCKS {
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
    if plan.num_blocks * u64::from(cache.block_size) < u64::from(replica.model.max_model_len) {
        warnings.push(format!(
                "a replica's KV cache holds {} tokens, less than the model's max_model_len of {}: long requests will be refused",
                plan.num_blocks * u64::from(cache.block_size),
                replica.model.max_model_len
            ));
    }
    Some(plan)
}

/// The raw flags written back as config.json, naming the model simulated (`model_name`): a
/// custom config file's name when the model flag was left at its default.
fn raw_with_model_name(config: &Config, model_name: &str) -> Result<Config, ConfigErrors> {
    let mut raw = config.clone();
    let custom_file =
        matches!(config.get("replica_config_model_config_file"), FlagValue::Str(f) if !f.is_empty());
    if custom_file && !config.is_set("replica_config_model_name") {
        raw.set("replica_config_model_name", model_name).map_err(ConfigErrors::from)?;
    }
    Ok(raw)
}

/// The last component of a path (`models/qwen2_7b.json` → `qwen2_7b.json`).
pub(super) fn file_name(path: &str) -> &str {
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

/// Orca and FasterTransformer reserve KV for `max_model_len` tokens per request (Vidur's rule):
/// with a long-context model (131k tokens) only a handful of requests fit, far below the batch
/// cap, which a user would not expect from the cap alone.
fn max_length_reservation_warning(
    config: &Config,
    scheduler: &str,
    max_model_len: u32,
    memory: &crate::memory::MemoryPlan,
) -> Option<String> {
    let cap_flag = format!("{scheduler}_scheduler_config_batch_size_cap");
    let FlagValue::Int(cap) = config.get(&cap_flag) else { return None };
    let blocks_per_request = u64::from(max_model_len.max(1)).div_ceil(u64::from(memory.block_size.max(1)));
    let fit = memory.num_blocks / blocks_per_request.max(1);
    (fit < cap.max(1) as u64).then(|| {
        format!(
            "the {scheduler} scheduler reserves KV for the model's max_model_len ({max_model_len} tokens) per request: {fit} requests fit at once, below --{cap_flag} {cap} (vllm_v1 or sarathi allocate as tokens arrive)"
        )
    })
}
