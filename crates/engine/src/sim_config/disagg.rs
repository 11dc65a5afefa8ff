//! A disaggregated cluster's decode pool: the `--disaggregation_config_decode_*` flags read
//! into a whole [`SimConfig`] of their own (the user's flags with the decode pool's device,
//! node, parallelism, replica count and cap in place of the replica flags), so that the decode
//! replicas get their own memory plan, execution-time predictor, serving-engine defaults and
//! scheduler, validated by the same code as any replica. Its errors name the decode flag.

use super::SimConfig;
use crate::config::{Config, ConfigError, ConfigErrors, FlagValue, Params};
use crate::disagg::{self, DecodeRouterKind, KvTransferModel, PoolPlacement};
use crate::inputs::Inputs;
use crate::limits::{MAX_REPLICAS, MAX_SIMULATED_BLOCKS, MemoryEstimate};
use crate::scheduler::replica::REPLICA_SCHEDULERS;
use crate::serving_engine;

/// A disaggregated cluster's decode side.
#[derive(Clone, Debug)]
pub struct DisaggSpec {
    /// The decode pool: its replicas, memory, predictor, scheduler and cost.
    pub decode: Box<SimConfig>,
    /// How a prefilled request's decode replica is picked.
    pub router: DecodeRouterKind,
    /// Transfer times.
    pub transfer: KvTransferModel,
    /// TTFT ends when the KV cache reached the decode replica.
    pub first_token_after_transfer: bool,
}

/// The decode pool's batch-size cap, in place of its scheduler's own cap flag.
const DECODE_CAP_FLAG: &str = "disaggregation_config_decode_batch_size_cap";

/// The decode pool's per-iteration token budget, in place of its scheduler's own budget flag.
const DECODE_TOKENS_FLAG: &str = "disaggregation_config_decode_max_num_batched_tokens";

/// Each disaggregation-serving scheduler's per-iteration token budget flag: vLLM's
/// `max_num_batched_tokens`, TensorRT-LLM's `max_num_tokens` (both bound decode iterations as
/// well as prefill ones). SGLang has none for decode batches (its `chunked_prefill_size` and
/// `max_prefill_tokens` bound prefill batches only; `max_running_requests` is the cap).
const DECODE_TOKEN_BUDGETS: &[(&str, &str)] = &[
    ("vllm_v1", "vllm_v1_scheduler_config_chunk_size"),
    ("trtllm", "trtllm_scheduler_config_max_num_tokens"),
];

/// The fixed cost of one transfer (none = the node catalogue's).
const OVERHEAD_FLAG: &str = "disaggregation_config_transfer_overhead_ms";

/// Each decode flag and the replica flag it stands for in the decode pool's configuration.
const OVERRIDES: &[(&str, &str)] = &[
    ("disaggregation_config_decode_num_replicas", "cluster_config_num_replicas"),
    ("disaggregation_config_decode_device", "replica_config_device"),
    ("disaggregation_config_decode_network_device", "replica_config_network_device"),
    ("disaggregation_config_decode_tensor_parallel_size", "replica_config_tensor_parallel_size"),
    ("disaggregation_config_decode_num_pipeline_stages", "replica_config_num_pipeline_stages"),
    ("disaggregation_config_decode_expert_parallel_size", "replica_config_expert_parallel_size"),
    ("disaggregation_config_decode_attention_dp_size", "replica_config_attention_dp_size"),
    ("disaggregation_config_decode_num_blocks", "cache_config_num_blocks"),
];

/// The decode flags whose product (with TP) is a decode replica's GPU count.
const DECODE_WORLD_FLAGS: &[&str] = &[
    "disaggregation_config_decode_tensor_parallel_size",
    "disaggregation_config_decode_num_pipeline_stages",
    "disaggregation_config_decode_attention_dp_size",
];

/// Reads the decode pool of `user` (whose prefill pool is `prefill`, already built); `None`
/// when the cluster is aggregated.
pub(super) fn read(
    user: &Config,
    inputs: &Inputs,
    memory_budget: u64,
    prefill: &SimConfig,
) -> Result<Option<DisaggSpec>, ConfigErrors> {
    if !disagg::is_disaggregated(user) {
        return Ok(None);
    }
    let mut p = Params::new(user);
    let num_decode = p.int_in("disaggregation_config_decode_num_replicas", 1, i64::from(MAX_REPLICAS));
    let router = DecodeRouterKind::parse(&p.string("disaggregation_config_decode_router"));
    let first_token_after_transfer = p.bool("disaggregation_config_first_token_after_transfer");
    let layerwise = p.bool("disaggregation_config_layerwise_transfer");
    let overhead_ms = p.opt_float(OVERHEAD_FLAG);
    if let Some(ms) = overhead_ms
        && !(ms.is_finite() && (0.0..=1e6).contains(&ms))
    {
        p.error(ConfigError::new(
            OVERHEAD_FLAG,
            format!("{ms} is out of range: it must be between 0 and 1000000"),
        ));
    }
    let scheduler = decode_scheduler(&mut p, prefill.replica_scheduler.name);
    let cap = p.opt_u64_at_least(DECODE_CAP_FLAG, 1);
    let tokens_flag = DECODE_TOKEN_BUDGETS.iter().find(|(name, _)| *name == scheduler).map(|(_, f)| *f);
    // A scheduler without a decode token budget ignores the flag, so its value is not judged
    // (as any ignored flag's).
    let tokens = match tokens_flag {
        Some(_) => p.opt_u64_at_least(DECODE_TOKENS_FLAG, 1),
        None => {
            if user.get(DECODE_TOKENS_FLAG) != FlagValue::None {
                p.warn(format!(
                    "--{DECODE_TOKENS_FLAG} is ignored: the {scheduler} scheduler's decode batches have no token budget (--{DECODE_CAP_FLAG} bounds them)"
                ));
            }
            None
        }
    };
    // The flag capping the decode scheduler's running requests; `None` for a scheduler without
    // the hand-off (refused: the prefill pool's naming its type flag, the decode pool's its own).
    let serves =
        |name: &str| REPLICA_SCHEDULERS.iter().find(|e| e.name == name).and_then(|e| e.disaggregation);
    let cap_flag = serves(scheduler);
    if scheduler != prefill.replica_scheduler.name && cap_flag.is_none() {
        p.error(ConfigError::new(
            disagg::SCHEDULER_FLAG,
            format!("the {scheduler} scheduler does not serve disaggregated pools"),
        ));
    }
    if serves(prefill.replica_scheduler.name).is_none() {
        p.error(
            ConfigError::new(
                "replica_scheduler_config_type",
                format!(
                    "the {} scheduler does not serve disaggregated pools",
                    prefill.replica_scheduler.name
                ),
            )
            .with_hint(format!(
                "use vllm_v1 (or --serving_engine vllm) with --{} {}",
                disagg::TYPE_FLAG,
                disagg::PREFILL_DECODE
            )),
        );
    }
    // Notes about the decode pool's own flags: reported with its warnings.
    let notes = p.take_warnings();
    let errors = p.into_errors();
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }

    let mut decode_flags = user.clone();
    let set = |config: &mut Config, flag: &str, value: &str, from: &str| {
        config.set(flag, value).map_err(|e| ConfigError::new(from, e.message))
    };
    let mut errors = Vec::new();
    errors.extend(set(&mut decode_flags, disagg::TYPE_FLAG, disagg::AGGREGATED, disagg::TYPE_FLAG).err());
    // Another scheduler than the prefill pool's (`same` sets nothing: the decode pool's flags
    // are then the prefill pool's but for the overrides, as before the flag).
    let own_scheduler = scheduler != prefill.replica_scheduler.name;
    if own_scheduler {
        errors.extend(
            set(&mut decode_flags, "replica_scheduler_config_type", scheduler, disagg::SCHEDULER_FLAG).err(),
        );
    }
    for (from, to) in OVERRIDES {
        let value = user.get(from).to_text();
        if user.is_set(from) && value != "same" && value != "none" || *from == OVERRIDES[0].0 {
            errors.extend(set(&mut decode_flags, to, &value, from).err());
        }
    }
    if let (Some(cap), Some(flag)) = (cap, cap_flag) {
        errors.extend(set(&mut decode_flags, flag, &cap.to_string(), DECODE_CAP_FLAG).err());
    }
    if let (Some(tokens), Some(flag)) = (tokens, tokens_flag) {
        errors.extend(set(&mut decode_flags, flag, &tokens.to_string(), DECODE_TOKENS_FLAG).err());
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    let mut decode = SimConfig::build_pool(&decode_flags, inputs, memory_budget, Some(&prefill.raw))
        .map_err(|ConfigErrors(errors)| {
            ConfigErrors(
                errors
                    .into_iter()
                    .map(|mut e| {
                        let renamed = match e.flag.as_str() {
                            "replica_scheduler_config_type" if own_scheduler => Some(disagg::SCHEDULER_FLAG),
                            "replica_scheduler_config_type" => None,
                            // The decode cap stands in for the scheduler's cap (its range, its
                            // pipeline-depth check).
                            flag if cap.is_some() && Some(flag) == cap_flag => Some(DECODE_CAP_FLAG),
                            flag if tokens.is_some() && Some(flag) == tokens_flag => Some(DECODE_TOKENS_FLAG),
                            flag => OVERRIDES
                                .iter()
                                .find(|(from, to)| *to == flag && user.is_set(from))
                                .map(|(from, _)| *from)
                                // The GPU count against the node: named by whichever of the
                                // decode pool's TP, PP and DP flags the user set.
                                .or_else(|| {
                                    super::replica::is_world_size_error(&e)
                                        .then(|| DECODE_WORLD_FLAGS.iter().find(|f| user.is_set(f)).copied())
                                        .flatten()
                                }),
                        };
                        match renamed {
                            Some(from) => e.flag = from.to_string(),
                            None => {
                                e.message = format!("decode pool: {}", e.message);
                                // A value the decode pool inherited from the prefill pool's
                                // flag: its own flag sets it apart.
                                if let Some((from, _)) = OVERRIDES.iter().find(|(_, to)| *to == e.flag) {
                                    let hint = format!("set the decode pool's own with --{from}");
                                    e.hint = Some(match e.hint.take() {
                                        Some(h) => format!("{h}; or {hint}"),
                                        None => hint,
                                    });
                                }
                            }
                        }
                        e
                    })
                    .collect(),
            )
        })?;
    decode.warnings.extend(notes);
    debug_assert_eq!(decode.cluster.num_replicas as i64, num_decode);
    check_both_pools(user, inputs, memory_budget, prefill, &decode)?;
    let placement = |c: &SimConfig| PoolPlacement {
        num_replicas: c.cluster.num_replicas,
        gpus_per_replica: c.replica.parallel.world_size(),
        attention_dp_size: c.memory.attention_dp_size.max(1),
        node: c.replica.node.name.clone(),
        devices_per_node: c.replica.node.devices_per_node,
        nvlink_gbps: c.replica.node.intra_node_bandwidth_gbps,
        nvlink_latency_us: c.replica.node.intra_node_latency_us,
        rdma_gbps: c.replica.node.inter_node_bandwidth_gbps,
        rdma_latency_us: c.replica.node.inter_node_latency_us,
        kv_bytes_per_token_per_gpu: c.memory.kv_bytes_per_token,
        sliding_bytes_per_token_per_gpu: crate::memory::sliding_kv_bytes_per_token(&c.replica),
    };
    let transfer = KvTransferModel {
        prefill: placement(prefill),
        decode: placement(&decode),
        overhead_ns: match overhead_ms {
            Some(ms) => (ms * 1e6).round() as u64,
            None => catalogue_overhead_ns(
                prefill.replica.node.kv_transfer_overhead_us,
                decode.replica.node.kv_transfer_overhead_us,
            ),
        },
        layers_per_stage: prefill.replica.layers_per_stage(),
        layerwise,
        sliding_window: prefill.replica.model.sliding_window.as_ref().map_or(0, |w| w.window),
        block_size: prefill.cache.block_size,
    };
    Ok(Some(DisaggSpec {
        decode: Box::new(decode),
        router: router.unwrap_or(DecodeRouterKind::LeastLoaded),
        transfer,
        first_token_after_transfer,
    }))
}

/// The decode pool's replica scheduler: `--disaggregation_config_decode_replica_scheduler_type`,
/// `same` standing for the prefill pool's (`prefill`, after the serving engine's defaults).
/// Under a serving engine both pools run that engine (SGLang's `--disaggregation-mode prefill`
/// and `decode` servers, vLLM's `NixlConnector` between vLLM instances, TensorRT-LLM's
/// `trtllm-serve disaggregated` workers: each connector moves KV between its own engine's
/// instances), so only `same` is accepted there.
fn decode_scheduler(p: &mut Params, prefill: &'static str) -> &'static str {
    let choice = p.string(disagg::SCHEDULER_FLAG);
    if choice == disagg::SAME_SCHEDULER || choice == prefill {
        return prefill;
    }
    let engine = p.string("serving_engine");
    if engine != serving_engine::NO_ENGINE {
        p.error(
            ConfigError::new(
                disagg::SCHEDULER_FLAG,
                format!(
                    "--serving_engine {engine} runs one engine on both pools: its decode pool's scheduler is the prefill pool's ({prefill}), not {choice}"
                ),
            )
            .with_hint("leave it at same, or use --serving_engine none to give each pool its own scheduler"),
        );
        return prefill;
    }
    REPLICA_SCHEDULERS.iter().find(|e| e.name == choice).map_or(prefill, |e| e.name)
}

/// A transfer's fixed cost when the flag leaves it to the node catalogue: the set-up both ends'
/// connectors go through, so the slower of the two pools' nodes (µs in the catalogue, ns here).
fn catalogue_overhead_ns(prefill_us: f64, decode_us: f64) -> u64 {
    (prefill_us.max(decode_us) * 1e3).round() as u64
}

/// The run limits hold for the whole cluster, not each pool alone (each pool was checked
/// alone when it was built): replicas, simulated KV blocks and the memory estimate (whose
/// requests and inputs both pools' estimates count once each, the KV blocks of both).
fn check_both_pools(
    user: &Config,
    inputs: &Inputs,
    memory_budget: u64,
    prefill: &SimConfig,
    decode: &SimConfig,
) -> Result<(), ConfigErrors> {
    let flag = OVERRIDES[0].0;
    let (np, nd) = (prefill.cluster.num_replicas, decode.cluster.num_replicas);
    let mut p = Params::new(user);
    if u64::from(np) + u64::from(nd) > u64::from(MAX_REPLICAS) {
        p.error(
            ConfigError::new(
                flag,
                format!(
                    "{np} prefill + {nd} decode replicas = {} replicas, more than the {MAX_REPLICAS} a cluster may have",
                    u64::from(np) + u64::from(nd)
                ),
            )
            .with_hint(format!("use at most {MAX_REPLICAS} replicas over both pools")),
        );
    }
    let prefill_blocks = prefill.memory.num_blocks.saturating_mul(u64::from(np));
    let decode_blocks = decode.memory.num_blocks.saturating_mul(u64::from(nd));
    if prefill_blocks.saturating_add(decode_blocks) > MAX_SIMULATED_BLOCKS {
        p.error(
            ConfigError::new(
                flag,
                format!(
                    "{prefill_blocks} prefill + {decode_blocks} decode KV blocks to simulate, more than the {MAX_SIMULATED_BLOCKS} this simulator keeps in memory"
                ),
            )
            .with_hint(
                "use fewer replicas in either pool, a larger --cache_config_block_size, or fewer --disaggregation_config_decode_num_blocks",
            ),
        );
    }
    let estimate = combined_estimate(&prefill.memory_estimate, &decode.memory_estimate);
    let input_flag = super::resources::largest_input_flag(user, inputs);
    super::resources::check_budget(&mut p, &estimate, memory_budget, &prefill.workload.build, input_flag);
    let errors = p.into_errors();
    if errors.is_empty() { Ok(()) } else { Err(ConfigErrors(errors)) }
}

/// The memory a disaggregated run needs: its requests and inputs once, both pools' KV blocks.
pub(super) fn combined_estimate(prefill: &MemoryEstimate, decode: &MemoryEstimate) -> MemoryEstimate {
    MemoryEstimate { kv_blocks: prefill.kv_blocks.saturating_add(decode.kv_blocks), ..*prefill }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_overhead_is_the_slower_node_s_in_nanoseconds() {
        assert_eq!(catalogue_overhead_ns(12.5, 30.0), 30_000);
        assert_eq!(catalogue_overhead_ns(30.0, 12.5), 30_000);
        assert_eq!(catalogue_overhead_ns(0.0, 0.0), 0);
        assert_eq!(catalogue_overhead_ns(1.0004, 0.0), 1_000);
    }
}
