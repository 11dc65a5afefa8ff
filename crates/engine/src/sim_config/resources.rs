//! The memory a run will need, estimated before it starts and held to a budget (INV-10): a run
//! that would exhaust memory is refused with the flag to lower instead of aborting midway.

use crate::config::{Config, ConfigError, MetricsSpec, Params};
use crate::inputs::Inputs;
use crate::limits::{
    BYTES_PER_KV_BLOCK, BYTES_PER_REQUEST, BYTES_PER_REQUEST_ROW, MemoryEstimate, describe_bytes,
};
use crate::memory::MemoryPlan;
use crate::workload::WorkloadPlan;

/// What the run will hold: its requests until the report, every replica's KV blocks, and the
/// input files.
pub(super) fn estimate(
    inputs: &Inputs,
    workload: &WorkloadPlan,
    metrics: &MetricsSpec,
    memory: &MemoryPlan,
    num_replicas: u32,
) -> MemoryEstimate {
    let per_request =
        BYTES_PER_REQUEST + if metrics.store_request_metrics { BYTES_PER_REQUEST_ROW } else { 0 };
    MemoryEstimate {
        requests: workload.estimated_requests.saturating_mul(per_request),
        kv_blocks: memory
            .num_blocks
            .saturating_mul(u64::from(num_replicas))
            .saturating_mul(BYTES_PER_KV_BLOCK),
        inputs: inputs.estimated_bytes(),
    }
}

/// Refuses an estimate beyond `budget` bytes, naming the flag behind its largest part.
pub(super) fn check_budget(
    p: &mut Params,
    estimate: &MemoryEstimate,
    budget: u64,
    workload: &WorkloadPlan,
    largest_input_flag: Option<&'static str>,
) {
    if estimate.total() <= budget {
        return;
    }
    let parts = [
        (
            estimate.requests,
            workload.count_flag,
            "simulate fewer requests (a lower count, or a shorter duration or slower pace), or turn off --metrics_config_store_request_metrics",
        ),
        (
            estimate.kv_blocks,
            "cluster_config_num_replicas",
            "use fewer replicas, a larger --cache_config_block_size, or fewer --cache_config_num_blocks",
        ),
        (estimate.inputs, largest_input_flag.unwrap_or(""), "use a smaller input file"),
    ];
    let (_, flag, hint) = parts.iter().max_by_key(|(bytes, _, _)| *bytes).copied().unwrap_or(parts[0]);
    p.error(
        ConfigError::new(
            flag,
            format!(
                "the run would need about {estimate} of memory, more than its budget of {}",
                describe_bytes(budget)
            ),
        )
        .with_hint(format!(
            "{hint}; `llmsim --memory-budget-gib` raises the budget where the machine has the memory"
        )),
    );
}

/// The input-file flag whose file is the largest, for a budget error about inputs.
pub(super) fn largest_input_flag(config: &Config, inputs: &Inputs) -> Option<&'static str> {
    let files = super::SimConfig::required_files(config);
    inputs
        .text_sizes()
        .filter_map(|(path, bytes)| files.iter().find(|(_, p)| p == path).map(|(flag, _)| (*flag, bytes)))
        .max_by_key(|(_, bytes)| *bytes)
        .map(|(flag, _)| flag)
}
