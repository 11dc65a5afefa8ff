//! `sarathi`: Sarathi-Serve's chunked prefill. Each iteration serves decodes first, then
//! continues partial prefills, then admits new requests, all prefill chunks sharing one token
//! budget (`chunk_size`); a new request is admitted only if its prompt's blocks leave the
//! watermark free, and when a decode finds no free block the newest admitted request is
//! preempted by recompute.
//!
//! Deliberate differences from Vidur (behaviour.md §5.5, §12):
//! - a decode that needs no new block is never blocked by a full pool (Vidur demands one free
//!   block for every decode, which can preempt a request that fits);
//! - continuing prefills also respect the micro-batch size (Vidur adds them past it);
//! - the waiting queue is the configured request queue (FCFS by arrival, or EDF), where a
//!   preempted request keeps its original key; Vidur pushes it to the front of a plain list;
//! - a request that can never be admitted is refused with the reason instead of stalling.

use std::collections::VecDeque;
use std::sync::Arc;

use super::legacy::{Legacy, LegacyCore, check_cap_covers_stages};
use super::watermark::{WatermarkBatcher, WatermarkLimits, Watermarked};
use super::{ReplicaContext, ReplicaScheduler, ReplicaSchedulerFactory};
use crate::batch::BatchPlan;
use crate::config::{FlagDef, Params};
use crate::request::RequestArena;

pub(super) const FLAGS: &[FlagDef] = &[
    FlagDef::int(
        "sarathi_scheduler_config_chunk_size",
        "512",
        "Token budget of prefill chunks per iteration (decodes come first, one token each).",
    ),
    FlagDef::int(
        "sarathi_scheduler_config_batch_size_cap",
        "128",
        "Most requests admitted (holding KV) at once; divided among pipeline micro-batches.",
    ),
];

pub(super) fn parse(p: &mut Params) -> Option<ReplicaSchedulerFactory> {
    let chunk_size = p.int_in("sarathi_scheduler_config_chunk_size", 1, 1 << 24) as u32;
    let cap = p.int_in("sarathi_scheduler_config_batch_size_cap", 1, 1 << 20) as u32;
    check_cap_covers_stages(p, "sarathi_scheduler_config_batch_size_cap", cap);
    Some(Arc::new(move |ctx: &ReplicaContext| {
        Box::new(SarathiScheduler::new(ctx, chunk_size, cap)) as Box<dyn ReplicaScheduler>
    }))
}

/// The sarathi scheduler of one replica.
pub type SarathiScheduler = Legacy<Watermarked<Sarathi>>;

/// Sarathi's batches (see the module): chunked prefills after decodes, within the chunk budget.
#[derive(Clone, Debug)]
pub struct Sarathi {
    chunk_size: u32,
}

impl SarathiScheduler {
    /// A scheduler with the given chunk budget and batch-size cap.
    pub fn new(ctx: &ReplicaContext, chunk_size: u32, cap: u32) -> SarathiScheduler {
        Legacy::with_policy(ctx, Watermarked::new(ctx, cap, Sarathi { chunk_size }))
    }
}

impl WatermarkBatcher for Sarathi {
    fn next_batch(
        &mut self,
        limits: &WatermarkLimits,
        core: &mut LegacyCore,
        requests: &mut RequestArena,
        plan: &mut BatchPlan,
    ) {
        let mut tokens = 0u32;

        // 1. Decodes of idle admitted requests, oldest first; partial prefills are set aside.
        let mut candidates = VecDeque::from(core.idle_running(requests));
        let mut partial_prefills = Vec::new();
        while plan.len() < limits.max_micro_batch_size {
            let Some(id) = candidates.pop_front() else { break };
            if !requests.get(id).is_prefill_complete {
                partial_prefills.push(id);
                continue;
            }
            if core.make_room_for_decode(id, &mut candidates, plan, requests) {
                LegacyCore::schedule(plan, id, 1, requests);
                tokens += 1;
            }
        }

        // 2. Continuing prefills, within the chunk budget (their prompt blocks are held).
        for id in partial_prefills {
            if plan.len() >= limits.max_micro_batch_size {
                break;
            }
            let r = requests.get(id);
            let n =
                (r.num_prefill_tokens - r.num_processed_tokens).min(self.chunk_size.saturating_sub(tokens));
            if n == 0 {
                continue;
            }
            LegacyCore::schedule(plan, id, n, requests);
            tokens += n;
        }

        // 3. New requests in queue order while they pass admission and budget remains.
        while plan.len() < limits.max_micro_batch_size && core.ledger.num_requests() < limits.cap {
            let Some(id) = core.waiting.peek() else { break };
            let r = requests.get(id);
            if !core.fits_with_watermark(r) {
                break;
            }
            let n = r.num_prefill_tokens.min(self.chunk_size.saturating_sub(tokens));
            if n == 0 {
                break;
            }
            let blocks = core.prompt_blocks(r);
            core.admit_head(id, blocks, n, requests, plan);
            tokens += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::replica::testkit::{Harness, ctx};

    #[test]
    fn decodes_first_then_continuing_then_new_prefills_within_the_chunk() {
        // 10 blocks of 4 tokens, chunk 8.
        let mut h = Harness::new(Box::new(SarathiScheduler::new(&ctx(10, 4, 1), 8, 4)));
        let a = h.add(6, 3);
        let b = h.add(10, 2);
        let c = h.add(4, 2);
        // A's whole prompt (6), then B's first chunk (2) fills the budget; C waits.
        assert_eq!(h.step(), [(a.0, 6), (b.0, 2)]);
        // A decodes first, then B continues with the 7 tokens left in the budget.
        assert_eq!(h.step(), [(a.0, 1), (b.0, 7)]);
        // A's last decode, B's last prompt token, then C is admitted with its whole prompt.
        assert_eq!(h.step(), [(a.0, 1), (b.0, 1), (c.0, 4)]);
        assert!(h.requests.get(a).is_completed());
        // C's decode crosses into a new block, which it gets from the free pool.
        assert_eq!(h.step(), [(b.0, 1), (c.0, 1)]);
        assert_eq!(h.scheduler.num_pending(), 0);
        assert_eq!(h.scheduler.kv_usage().allocated_blocks, 0);
    }

    #[test]
    fn a_decode_without_a_free_block_preempts_the_newest_request() {
        // 4 blocks of 4 tokens; two requests of 4 + 6 tokens each need 3 blocks at the end.
        let mut h = Harness::new(Box::new(SarathiScheduler::new(&ctx(4, 4, 1), 16, 4)));
        let a = h.add(4, 6);
        let b = h.add(4, 6);
        assert_eq!(h.step(), [(a.0, 4), (b.0, 4)]);
        for _ in 0..4 {
            assert_eq!(h.step(), [(a.0, 1), (b.0, 1)]);
        }
        assert_eq!(h.scheduler.kv_usage().free_blocks, 0);
        // A needs a third block: B (newest) is preempted; its 9 tokens become its prompt, which
        // cannot be admitted until A finishes.
        assert_eq!(h.step(), [(a.0, 1)]);
        assert_eq!((h.restarts(a), h.restarts(b)), (0, 1));
        assert_eq!(h.requests.get(b).num_prefill_tokens, 9);
        assert_eq!(h.step(), [(b.0, 9)]);
        assert!(h.requests.get(b).is_completed());
        assert_eq!(h.requests.get(b).num_tokens_emitted, 6, "every output token emitted once");
    }

    #[test]
    fn watermark_admission_and_impossible_requests() {
        let mut context = ctx(10, 4, 1);
        context.watermark_blocks_fraction = 0.2; // 2 blocks kept free
        let mut h = Harness::new(Box::new(SarathiScheduler::new(&context, 64, 4)));
        let (_, refused) = h.add_at(0, 36, 1); // 9 prompt blocks + 2 watermark > 10
        assert!(refused.unwrap_err().contains("watermark"));
        let (_, refused) = h.add_at(0, 8, 40); // 12 blocks at the end > 10
        assert!(refused.unwrap_err().contains("needs 12 KV blocks"));
        let a = h.add(24, 1); // 6 blocks
        let b = h.add(12, 1); // 3 blocks: 10 − 6 − 3 = 1 < 2 free after it, so it waits
        assert_eq!(h.step(), [(a.0, 24)]);
        assert_eq!(h.step(), [(b.0, 12)]);
    }

    #[test]
    fn pipeline_stages_get_disjoint_micro_batches() {
        let mut h = Harness::new(Box::new(SarathiScheduler::new(&ctx(64, 4, 2), 8, 4)));
        let ids: Vec<_> = (0..4).map(|_| h.add(4, 3)).collect();
        // Micro-batches of at most 4 / 2 = 2 requests; the second skips those in flight.
        let first = h.form();
        let second = h.form();
        assert_eq!(first.plan.requests, [ids[0], ids[1]]);
        assert_eq!(second.plan.requests, [ids[2], ids[3]]);
        h.end(&first);
        assert_eq!(h.form().plan.requests, [ids[0], ids[1]], "decodes of the first micro-batch");
        h.end(&second);
    }
}
