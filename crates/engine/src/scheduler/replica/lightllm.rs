//! `lightllm`: LightLLM's scheduler. Admitted requests are decoded every iteration; a
//! prefill-only batch of whole prompts is tried when nothing is decoding or after
//! `max_waiting_iters` decode iterations in a row, admitting a request only if LightLLM's
//! future-token estimate (the peak KV of all admitted requests plus it, assuming they finish in
//! order of remaining tokens) stays below the replica's KV.
//!
//! Deliberate differences from Vidur (behaviour.md §5.5):
//! - any block size works: the estimate is converted to blocks by adding each live request's
//!   last partial block (`+ bs − 1` tokens each), an upper bound of its block count, so it is
//!   exact at block size 1 (Vidur's only size) and never optimistic above it;
//! - the estimate counts every admitted request, including those in flight, with a request's
//!   final KV taken as P + D − 1 tokens; this is what lets it run with PP > 1 (Vidur asserts
//!   PP = 1 and block size 1);
//! - a decode that finds no free block preempts the newest admitted request by recompute
//!   (Vidur raises "OOM handling not implemented");
//! - a prompt longer than `max_tokens_in_batch` is prefilled alone (Vidur stalls);
//! - the waiting queue is the configured request queue (FCFS or EDF).

use std::sync::Arc;

use super::legacy::{Legacy, LegacyCore, LegacyPolicy, check_cap_covers_stages, micro_batch_size};
use super::{ReplicaContext, ReplicaScheduler, ReplicaSchedulerFactory};
use crate::batch::BatchPlan;
use crate::config::{FlagDef, Params};
use crate::request::{Request, RequestArena};

pub(super) const FLAGS: &[FlagDef] = &[
    FlagDef::int(
        "lightllm_scheduler_config_max_tokens_in_batch",
        "4096",
        "Most prompt tokens in one prefill batch.",
    ),
    FlagDef::int(
        "lightllm_scheduler_config_max_waiting_iters",
        "10",
        "Decode iterations in a row after which a prefill batch is tried.",
    ),
    FlagDef::int(
        "lightllm_scheduler_config_batch_size_cap",
        "128",
        "Most requests admitted (holding KV) at once; divided among pipeline micro-batches.",
    ),
];

pub(super) fn parse(p: &mut Params) -> Option<ReplicaSchedulerFactory> {
    let max_tokens_in_batch = p.int_in("lightllm_scheduler_config_max_tokens_in_batch", 1, 1 << 30) as u64;
    let max_waiting_iters = p.int_in("lightllm_scheduler_config_max_waiting_iters", 0, 1 << 30) as u32;
    let cap = p.int_in("lightllm_scheduler_config_batch_size_cap", 1, 1 << 20) as u32;
    check_cap_covers_stages(p, "lightllm_scheduler_config_batch_size_cap", cap);
    Some(Arc::new(move |ctx: &ReplicaContext| {
        Box::new(LightLlmScheduler::new(ctx, max_tokens_in_batch, max_waiting_iters, cap))
            as Box<dyn ReplicaScheduler>
    }))
}

/// The lightllm scheduler of one replica.
pub type LightLlmScheduler = Legacy<LightLlm>;

/// LightLLM's rules (see the module): decode batches, prefill batches when idle or after a
/// decode streak, admission by the peak-KV estimate.
#[derive(Clone, Debug)]
pub struct LightLlm {
    max_tokens_in_batch: u64,
    max_waiting_iters: u32,
    cap: usize,
    max_micro_batch_size: usize,
    /// Decode iterations since the last prefill batch.
    num_waiting_iters: u32,
    estimate_scratch: Vec<(u64, u64)>,
}

/// A request's KV tokens once its next step is done (`have`) and those it will still add
/// (`left`): its final KV is P + D − 1 tokens (the last token's KV is never written).
fn have_left(request: &Request) -> (u64, u64) {
    let final_tokens = u64::from(request.total_tokens()) - 1;
    let have = if request.is_prefill_complete {
        u64::from(request.num_processed_tokens)
    } else {
        u64::from(request.num_prefill_tokens) + 1
    };
    (have, final_tokens.saturating_sub(have))
}

/// LightLLM's peak-KV estimate in blocks: with requests sorted by tokens left (most first),
/// when the i-th finishes the first i are live, holding Σ have + i × left_i tokens.
/// Requests with equal `left` may come in any order: within such a run `tokens` only grows,
/// so its largest is at the run's end, where Σ have is the same in any order. Hence one
/// unstable sort of `(u64::MAX − left, have)` pairs, shared with the engine's other sorts
/// ([`crate::stats::sort_pairs`]), in place of a stable sort of its own.
fn peak_blocks(live: &mut [(u64, u64)], block_size: u64) -> u64 {
    for x in live.iter_mut() {
        *x = (u64::MAX - x.1, x.0);
    }
    crate::stats::sort_pairs(live);
    let mut have_sum = 0;
    let mut peak = 0;
    for (i, &(not_left, have)) in live.iter().enumerate() {
        let left = u64::MAX - not_left;
        let n = i as u64 + 1;
        have_sum += have;
        let tokens = have_sum + n * left + n * (block_size - 1);
        peak = peak.max(tokens.div_ceil(block_size));
    }
    peak
}

impl LightLlmScheduler {
    /// A scheduler with the given prefill token limit, decode streak and batch-size cap.
    pub fn new(
        ctx: &ReplicaContext,
        max_tokens_in_batch: u64,
        max_waiting_iters: u32,
        cap: u32,
    ) -> LightLlmScheduler {
        Legacy::with_policy(
            ctx,
            LightLlm {
                max_tokens_in_batch,
                max_waiting_iters,
                cap: cap as usize,
                max_micro_batch_size: micro_batch_size(cap, ctx),
                num_waiting_iters: 0,
                estimate_scratch: Vec::new(),
            },
        )
    }
}

impl LightLlm {
    /// Whether admitting `candidate` keeps the estimated peak below the replica's blocks.
    fn estimate_admits(&mut self, core: &LegacyCore, candidate: &Request, requests: &RequestArena) -> bool {
        let mut live = std::mem::take(&mut self.estimate_scratch);
        live.clear();
        live.extend(core.running.iter().map(|id| have_left(requests.get(*id))));
        live.push(have_left(candidate));
        let peak = peak_blocks(&mut live, u64::from(core.block_size));
        self.estimate_scratch = live;
        peak < core.ledger.num_blocks()
    }

    /// A prefill-only batch of whole prompts from the queue head.
    fn prefill_batch(&mut self, core: &mut LegacyCore, requests: &mut RequestArena, plan: &mut BatchPlan) {
        let mut batch_tokens = 0u64;
        while plan.len() < self.max_micro_batch_size && core.ledger.num_requests() < self.cap {
            let Some(id) = core.waiting.peek() else { break };
            let n = requests.get(id).num_prefill_tokens;
            let over_limit = batch_tokens + u64::from(n) > self.max_tokens_in_batch;
            if over_limit && !plan.is_empty() {
                break;
            }
            let blocks = core.prompt_blocks(requests.get(id));
            if !core.ledger.can_allocate(blocks) || !self.estimate_admits(core, requests.get(id), requests) {
                break;
            }
            core.admit_head(id, blocks, n, requests, plan);
            batch_tokens += u64::from(n);
            if over_limit {
                break; // an over-long prompt runs alone
            }
        }
    }
}

impl LegacyPolicy for LightLlm {
    fn check_admissible(&self, core: &LegacyCore, request: &Request) -> Result<(), String> {
        core.check_fits(request)?;
        let alone = peak_blocks(&mut [have_left(request)], u64::from(core.block_size));
        if alone >= core.ledger.num_blocks() {
            return Err(format!(
                "LightLLM's admission estimate for it alone is {alone} KV blocks, not below the replica's {}",
                core.ledger.num_blocks()
            ));
        }
        Ok(())
    }

    fn next_batch(&mut self, core: &mut LegacyCore, requests: &mut RequestArena, plan: &mut BatchPlan) {
        let idle = core.idle_running(requests);
        if idle.is_empty() {
            self.prefill_batch(core, requests, plan);
            if !plan.is_empty() {
                self.num_waiting_iters = 0;
            }
            return;
        }
        if self.num_waiting_iters >= self.max_waiting_iters {
            self.num_waiting_iters = 0;
            self.prefill_batch(core, requests, plan);
            if !plan.is_empty() {
                return;
            }
        }
        self.num_waiting_iters += 1;
        core.decode_batch(idle, self.max_micro_batch_size, requests, plan);
    }

    fn admission_blocks(&self, core: &LegacyCore, request: &Request) -> u64 {
        peak_blocks(&mut [have_left(request)], u64::from(core.block_size)) + 1
    }

    fn check_invariants(&self, core: &LegacyCore, requests: &RequestArena) -> Result<(), String> {
        core.check_within_cap(requests, self.cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_estimate_matches_lightllm_at_block_size_one() {
        // Two requests: (have 10, left 5) and (have 4, left 20). Sorted by left: (4,20), (10,5).
        // i=0: 4 + 1×20 = 24; i=1: 14 + 2×5 = 24. Peak 24 tokens = 24 blocks.
        assert_eq!(peak_blocks(&mut [(10, 5), (4, 20)], 1), 24);
        // A third short one (have 30, left 0): i=2 adds 44 + 0 → peak 44.
        assert_eq!(peak_blocks(&mut [(10, 5), (4, 20), (30, 0)], 1), 44);
    }

    #[test]
    fn peak_estimate_in_blocks_adds_a_partial_block_per_live_request() {
        // Block size 16: i=0: (4 + 20 + 15)/16 → 3 blocks; i=1: (14 + 10 + 30)/16 → 4 blocks.
        assert_eq!(peak_blocks(&mut [(10, 5), (4, 20)], 16), 4);
    }

    #[test]
    fn peak_estimate_is_the_one_a_stable_sort_by_tokens_left_gives() {
        // The estimate as first written: a stable sort by tokens left, most first.
        let stable = |live: &[(u64, u64)], block_size: u64| {
            let mut live = live.to_vec();
            live.sort_by_key(|&(_, left)| std::cmp::Reverse(left));
            let (mut have_sum, mut peak) = (0, 0);
            for (i, &(have, left)) in live.iter().enumerate() {
                let n = i as u64 + 1;
                have_sum += have;
                peak = peak.max((have_sum + n * left + n * (block_size - 1)).div_ceil(block_size));
            }
            peak
        };
        let mut state = 35;
        for case in 0..500 {
            let mut draw = |m: u64| {
                state = crate::rng::splitmix64(state);
                state % m
            };
            // Few distinct `left` values, so that many requests tie.
            let live: Vec<(u64, u64)> = (0..1 + draw(12)).map(|_| (draw(5000), draw(4) * 300)).collect();
            let block_size = [1, 16, 64][case % 3];
            assert_eq!(peak_blocks(&mut live.clone(), block_size), stable(&live, block_size), "{live:?}");
        }
    }
}

#[cfg(test)]
mod scenario {
    use super::*;
    use crate::scheduler::replica::testkit::{Harness, ctx};

    #[test]
    fn prefills_when_idle_or_after_a_decode_streak_if_the_estimate_fits() {
        // Block size 1, 30 blocks, prefill batches of at most 16 tokens, a prefill try after
        // 2 decode iterations.
        let mut h = Harness::new(Box::new(LightLlmScheduler::new(&ctx(30, 1, 1), 16, 2, 8)));
        let a = h.add(8, 4); // final KV 11 tokens
        let b = h.add(6, 10); // final KV 15 tokens
        let c = h.add(10, 2); // final KV 11 tokens
        // Nothing decodes: prefill A and B (estimate 20 < 30); C would exceed 16 tokens.
        assert_eq!(h.step(), [(a.0, 8), (b.0, 6)]);
        assert_eq!(h.step(), [(a.0, 1), (b.0, 1)]);
        assert_eq!(h.step(), [(a.0, 1), (b.0, 1)]);
        // Streak of 2: try a prefill. With C the estimate is B (9 held, 6 left) → 15, then A
        // (11, 0) → 20, then C (11, 0) → 31 ≥ 30: refused, so decode instead.
        assert_eq!(h.step(), [(a.0, 1), (b.0, 1)]);
        assert!(h.requests.get(a).is_completed());
        assert_eq!(h.step(), [(b.0, 1)]);
        // Streak of 2 again: B (11, 4) → 15, C (11, 0) → 22 < 30: C's prefill runs.
        assert_eq!(h.step(), [(c.0, 10)]);
        assert_eq!(h.step(), [(b.0, 1), (c.0, 1)]);
        h.drain(8);
        assert_eq!(h.scheduler.kv_usage().allocated_blocks, 0);
    }

    #[test]
    fn a_request_whose_estimate_alone_exceeds_the_replica_is_refused() {
        // 30 blocks of 4 tokens. 100 + 20 tokens fit exactly (30 blocks), but the estimate
        // (119 tokens + a 3-token partial block = 31 blocks) is not below 30.
        let mut h = Harness::new(Box::new(LightLlmScheduler::new(&ctx(30, 4, 1), 256, 2, 8)));
        let (_, refused) = h.add_at(0, 100, 20);
        assert!(refused.unwrap_err().contains("estimate"));
        let ok = h.add(90, 20); // 109 + 3 tokens: 28 blocks
        assert_eq!(h.step(), [(ok.0, 90)]);
    }
}
