//! Disaggregated prefill and decode (Splitwise, DistServe, Dynamo, llm-d): the cluster's
//! replicas form a prefill pool (`--cluster_config_num_replicas` replicas described by the
//! `--replica_config_*` flags, routed to by the global scheduler) and a decode pool (the
//! `--disaggregation_config_decode_*` flags). A request is prefilled on a prefill replica, its
//! KV cache moves to a decode replica picked by a decode router ([`DecodeRouterKind`]) once that
//! replica has KV room for it (waiting in that replica's admission queues, [`DecodeQueues`]:
//! one per attention-DP rank where each rank pre-allocates for itself), and it is decoded there;
//! where the decode engine reserves before the prefill (SGLang's bootstrap) the request waits in
//! those queues from its arrival and reaches its prefill replica once reserved. The transfer's time comes from its
//! bytes and the link between the two replicas ([`KvTransferModel`]), transfers queue for
//! links ([`Links`]); the engine's side is in `sim.rs`, the decode pool's configuration in
//! `sim_config/disagg.rs`.

mod queue;
mod router;
mod transfer;

pub use queue::{Admission, DecodeQueues};
pub use router::{DecodeRouterKind, DecodeTarget, pick_decode_replica};
pub use transfer::{KvTransferModel, LinkKind, Links, PoolPlacement};

use crate::config::FlagDef;

/// The flag that turns disaggregation on.
pub const TYPE_FLAG: &str = "disaggregation_config_type";
/// Its value for aggregated serving (the default).
pub const AGGREGATED: &str = "none";
/// Its value for separate prefill and decode pools.
pub const PREFILL_DECODE: &str = "prefill_decode";

/// The decode pool's replica scheduler (a second choice of `--replica_scheduler_config_type`:
/// the scheduler-specific flags of either pool's scheduler apply).
pub const SCHEDULER_FLAG: &str = "disaggregation_config_decode_replica_scheduler_type";
/// Its value for the prefill pool's scheduler (the default).
pub const SAME_SCHEDULER: &str = "same";

/// Whether `config` serves disaggregated (separate prefill and decode pools).
pub fn is_disaggregated(config: &crate::config::Config) -> bool {
    config.get(TYPE_FLAG).to_text() == PREFILL_DECODE
}

/// The decode pool's flags (shown when [`TYPE_FLAG`] is `prefill_decode`).
pub const FLAGS: &[FlagDef] = &[
    FlagDef::int(
        "disaggregation_config_decode_num_replicas",
        "1",
        "Decode replicas (instances) of a disaggregated cluster; --cluster_config_num_replicas counts the prefill replicas.",
    ),
    FlagDef::string(
        "disaggregation_config_decode_device",
        "same",
        "GPU SKU of the decode replicas; same = --replica_config_device.",
    )
    .as_second_choice_of("replica_config_device"),
    FlagDef::string(
        "disaggregation_config_decode_network_device",
        "same",
        "Node / interconnect of the decode replicas; same = --replica_config_network_device.",
    ),
    FlagDef::opt_int(
        "disaggregation_config_decode_tensor_parallel_size",
        "none",
        "Tensor-parallel degree of each decode replica; none = --replica_config_tensor_parallel_size.",
    ),
    FlagDef::opt_int(
        "disaggregation_config_decode_num_pipeline_stages",
        "none",
        "Pipeline stages of each decode replica; none = --replica_config_num_pipeline_stages.",
    ),
    FlagDef::opt_int(
        "disaggregation_config_decode_expert_parallel_size",
        "none",
        "Expert-parallel degree of each decode replica (an MoE model's routed experts over EP ranks); none = --replica_config_expert_parallel_size.",
    ),
    FlagDef::opt_int(
        "disaggregation_config_decode_attention_dp_size",
        "none",
        "Attention-DP ranks of each decode replica; none = --replica_config_attention_dp_size.",
    ),
    FlagDef::opt_int(
        "disaggregation_config_decode_num_blocks",
        "none",
        "KV blocks per decode replica, overriding the memory plan; none = --cache_config_num_blocks (itself none = from memory).",
    ),
    FlagDef::opt_int(
        "disaggregation_config_decode_batch_size_cap",
        "none",
        "Most requests running at once on a decode replica (its replica scheduler's batch-size cap); none = the prefill replicas' cap, or the decode scheduler's own default when it differs.",
    ),
    FlagDef::opt_int(
        "disaggregation_config_decode_max_num_batched_tokens",
        "none",
        "Most tokens in one decode-replica iteration (vLLM's max_num_batched_tokens: --vllm_v1_scheduler_config_chunk_size; TensorRT-LLM's max_num_tokens: --trtllm_scheduler_config_max_num_tokens); none = the prefill replicas' budget. SGLang's decode has no token budget.",
    ),
    FlagDef::choice(
        SCHEDULER_FLAG,
        &[SAME_SCHEDULER, "vllm_v1", "sglang", "trtllm"],
        SAME_SCHEDULER,
        "Replica scheduler of the decode replicas; same = the prefill replicas' (--replica_scheduler_config_type, or the serving engine's, which allows only same). Another reads its own flags (e.g. --trtllm_scheduler_config_*).",
    )
    .as_second_choice_of("replica_scheduler_config_type"),
    FlagDef::choice(
        "disaggregation_config_decode_router",
        &["least_loaded", "most_kv_free", "round_robin"],
        "least_loaded",
        "How a prefilled request's decode replica is picked: least_loaded, most_kv_free or round_robin (ties: lowest replica).",
    ),
    FlagDef::bool(
        "disaggregation_config_first_token_after_transfer",
        "false",
        "The first token reaches the client after the KV transfer (from decode); off = from the prefill replica.",
    ),
    FlagDef::bool(
        "disaggregation_config_layerwise_transfer",
        "false",
        "Send the KV cache layer by layer while the prefill runs (a connector with per-layer save hooks, vLLM KVConnectorBase_V1.save_kv_layer); off = after the prefill, as SGLang, TensorRT-LLM and vLLM's NIXL connector send it.",
    ),
    FlagDef::opt_float(
        "disaggregation_config_transfer_overhead_ms",
        "none",
        "Fixed cost of one KV transfer in ms (connector handshake, block-descriptor exchange, completion notice), added to the link's latency; none = the node catalogue's kv_transfer_overhead_us (the larger of the two pools' nodes).",
    ),
];
