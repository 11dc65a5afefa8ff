//! `vllm`: vLLM v0's prefill-prioritising scheduler. Whenever waiting requests can be
//! admitted, an iteration is a prefill-only batch of whole prompts (watermark admission, at most
//! `max_tokens_in_batch` padded tokens: batch size × longest prompt); otherwise it decodes the
//! admitted requests, preempting the newest by recompute when a block is missing.
//!
//! Deliberate differences from Vidur (behaviour.md §5.5, §12):
//! - a prompt longer than `max_tokens_in_batch` is prefilled alone in its own batch (Vidur
//!   never schedules it and the replica stalls; vLLM v0 would reject it);
//! - a decode that needs no new block is never blocked by a full pool;
//! - the waiting queue is the configured request queue (FCFS or EDF), a preempted request
//!   keeping its original key;
//! - a request that can never be admitted is refused with the reason instead of stalling.

use std::sync::Arc;

use super::legacy::{Legacy, LegacyCore, check_cap_covers_stages};
use super::watermark::{WatermarkBatcher, WatermarkLimits, Watermarked};
use super::{ReplicaContext, ReplicaScheduler, ReplicaSchedulerFactory};
use crate::batch::BatchPlan;
use crate::config::{FlagDef, Params};
use crate::request::RequestArena;

pub(super) const FLAGS: &[FlagDef] = &[
    FlagDef::int(
        "vllm_scheduler_config_max_tokens_in_batch",
        "4096",
        "Most padded tokens (requests × longest prompt) in a prefill batch (vLLM's max_num_batched_tokens).",
    ),
    FlagDef::int(
        "vllm_scheduler_config_batch_size_cap",
        "128",
        "Most requests admitted (holding KV) at once; divided among pipeline micro-batches.",
    ),
];

pub(super) fn parse(p: &mut Params) -> Option<ReplicaSchedulerFactory> {
    let max_tokens_in_batch = p.int_in("vllm_scheduler_config_max_tokens_in_batch", 1, 1 << 30) as u64;
    let cap = p.int_in("vllm_scheduler_config_batch_size_cap", 1, 1 << 20) as u32;
    check_cap_covers_stages(p, "vllm_scheduler_config_batch_size_cap", cap);
    Some(Arc::new(move |ctx: &ReplicaContext| {
        Box::new(VllmV0Scheduler::new(ctx, max_tokens_in_batch, cap)) as Box<dyn ReplicaScheduler>
    }))
}

/// The vllm (v0) scheduler of one replica.
pub type VllmV0Scheduler = Legacy<Watermarked<VllmV0>>;

/// vLLM v0's batches (see the module): prefill-only batches first, then decodes.
#[derive(Clone, Debug)]
pub struct VllmV0 {
    max_tokens_in_batch: u64,
}

impl VllmV0Scheduler {
    /// A scheduler with the given padded-token limit and batch-size cap.
    pub fn new(ctx: &ReplicaContext, max_tokens_in_batch: u64, cap: u32) -> VllmV0Scheduler {
        Legacy::with_policy(ctx, Watermarked::new(ctx, cap, VllmV0 { max_tokens_in_batch }))
    }
}

impl VllmV0 {
    /// A prefill-only batch of whole prompts from the queue head.
    fn prefill_batch(
        &self,
        limits: &WatermarkLimits,
        core: &mut LegacyCore,
        requests: &mut RequestArena,
        plan: &mut BatchPlan,
    ) {
        let mut longest = 0u64;
        while plan.len() < limits.max_micro_batch_size && core.ledger.num_requests() < limits.cap {
            let Some(id) = core.waiting.peek() else { break };
            let r = requests.get(id);
            if !core.fits_with_watermark(r) {
                break;
            }
            let n = r.num_prefill_tokens;
            let padded = (plan.len() as u64 + 1) * longest.max(u64::from(n));
            let over_limit = padded > self.max_tokens_in_batch;
            if over_limit && !plan.is_empty() {
                break;
            }
            let blocks = core.prompt_blocks(r);
            core.admit_head(id, blocks, n, requests, plan);
            longest = longest.max(u64::from(n));
            if over_limit {
                break; // an over-long prompt runs alone
            }
        }
    }
}

impl WatermarkBatcher for VllmV0 {
    fn next_batch(
        &mut self,
        limits: &WatermarkLimits,
        core: &mut LegacyCore,
        requests: &mut RequestArena,
        plan: &mut BatchPlan,
    ) {
        self.prefill_batch(limits, core, requests, plan);
        if plan.is_empty() {
            let idle = core.idle_running(requests);
            core.decode_batch(idle, limits.max_micro_batch_size, requests, plan);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::replica::testkit::{Harness, ctx};

    #[test]
    fn prefills_come_first_under_the_padded_token_limit() {
        // 12 blocks of 4 tokens; at most 16 padded tokens per prefill batch.
        let mut h = Harness::new(Box::new(VllmV0Scheduler::new(&ctx(12, 4, 1), 16, 4)));
        let a = h.add(8, 2);
        let b = h.add(6, 3);
        let c = h.add(12, 1);
        let d = h.add(20, 2);
        // 2 × 8 = 16 padded tokens fit; adding C would make 3 × 12 = 36.
        assert_eq!(h.step(), [(a.0, 8), (b.0, 6)]);
        // C's prefill goes before A's and B's decodes; D (2 × 20 = 40) does not join it.
        assert_eq!(h.step(), [(c.0, 12)]);
        // D alone exceeds the limit: it is prefilled by itself rather than never.
        assert_eq!(h.step(), [(d.0, 20)]);
        // Nothing left to admit: decode every admitted request, oldest first.
        assert_eq!(h.step(), [(a.0, 1), (b.0, 1), (d.0, 1)]);
        assert_eq!(h.step(), [(b.0, 1)]);
        assert_eq!(h.scheduler.num_pending(), 0);
        assert_eq!(h.scheduler.kv_usage().allocated_blocks, 0);
    }

    #[test]
    fn a_decode_without_a_free_block_preempts_the_newest_request() {
        let mut h = Harness::new(Box::new(VllmV0Scheduler::new(&ctx(4, 4, 1), 4096, 4)));
        let a = h.add(4, 6);
        let b = h.add(4, 6);
        assert_eq!(h.step(), [(a.0, 4), (b.0, 4)]);
        for _ in 0..4 {
            assert_eq!(h.step(), [(a.0, 1), (b.0, 1)]);
        }
        // A needs a third block: B is preempted and re-queued with a 9-token prompt, which is
        // admitted only once A is done (prefills first then, as soon as it fits).
        assert_eq!(h.step(), [(a.0, 1)]);
        assert_eq!(h.restarts(b), 1);
        assert_eq!(h.step(), [(b.0, 9)]);
        assert_eq!(h.requests.get(b).num_tokens_emitted, 6);
    }
}
