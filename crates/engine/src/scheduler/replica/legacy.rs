//! Shared state of the legacy schedulers (sarathi, vllm, orca, faster_transformer, lightllm):
//! Vidur's per-request block ledger, the waiting queue and the list of admitted requests, and
//! the one [`ReplicaScheduler`] impl that runs each policy's rules over them.
//!
//! Legacy memory accounting (behaviour.md §5.5) counts blocks per request in an allocation
//! map; there is no block pool and no prefix caching.

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

pub(super) use super::check_cap_covers_stages;
use super::{ReplicaContext, ReplicaScheduler, RequestQueue, blocks_needed, never_fits, release_completed};
use crate::batch::{Batch, BatchPlan};
use crate::kv::KvUsage;
use crate::request::{Request, RequestArena, RequestId, RequestState};
use crate::time::SimTime;

/// A legacy scheduler's own rules: how it forms batches, whom it admits, what it checks.
/// [`Legacy`] runs them over a [`LegacyCore`]; the provided methods are the common batch-end,
/// pending and eviction behaviour, which faster_transformer's groups replace.
pub trait LegacyPolicy {
    /// Refuses a request this policy could never admit, even into an empty replica.
    fn check_admissible(&self, core: &LegacyCore, request: &Request) -> Result<(), String>;

    /// Forms the next batch into `plan`, which is empty.
    fn next_batch(&mut self, core: &mut LegacyCore, requests: &mut RequestArena, plan: &mut BatchPlan);

    /// Free blocks admitting `request` needs (quoted when a blocked request is refused).
    fn admission_blocks(&self, core: &LegacyCore, request: &Request) -> u64;

    /// Checks the core's invariants under this policy's holding rule and cap.
    fn check_invariants(&self, core: &LegacyCore, requests: &RequestArena) -> Result<(), String>;

    /// Releases what the batch's `completed` requests held (see
    /// [`ReplicaScheduler::on_batch_end`]).
    fn on_batch_end(
        &mut self,
        core: &mut LegacyCore,
        _batch: &Batch,
        completed: &[RequestId],
        requests: &mut RequestArena,
    ) {
        core.finish_batch(completed, requests);
    }

    /// Requests routed here and not finished.
    fn num_pending(&self, core: &LegacyCore) -> usize {
        core.num_pending()
    }

    /// Removes the request that blocks the replica, with the reason (see
    /// [`ReplicaScheduler::evict_blocked`]).
    fn evict_blocked(
        &mut self,
        core: &mut LegacyCore,
        requests: &mut RequestArena,
    ) -> Option<(RequestId, String)> {
        core.evict_blocked(requests, |core, r| self.admission_blocks(core, r))
    }

    /// Whether the policy reads requests after they ended (see
    /// [`ReplicaScheduler::reads_ended_requests`]).
    fn reads_ended_requests(&self) -> bool {
        false
    }
}

/// A legacy replica scheduler: policy `P` over the shared block ledger and queues.
#[derive(Clone, Debug)]
pub struct Legacy<P> {
    core: LegacyCore,
    policy: P,
}

impl<P> Legacy<P> {
    /// Empty state for one replica, run by `policy`.
    pub(super) fn with_policy(ctx: &ReplicaContext, policy: P) -> Legacy<P> {
        Legacy { core: LegacyCore::new(ctx), policy }
    }
}

impl<P: LegacyPolicy> ReplicaScheduler for Legacy<P> {
    fn add_request(&mut self, id: RequestId, requests: &mut RequestArena) -> Result<(), String> {
        self.policy.check_admissible(&self.core, requests.get(id))?;
        self.core.enqueue(id, requests);
        Ok(())
    }

    fn next_batch(&mut self, _now: SimTime, requests: &mut RequestArena, plan: &mut BatchPlan) {
        plan.clear();
        self.policy.next_batch(&mut self.core, requests, plan);
    }

    fn on_batch_end(&mut self, batch: &Batch, completed: &[RequestId], requests: &mut RequestArena) {
        self.policy.on_batch_end(&mut self.core, batch, completed, requests);
    }

    fn num_pending(&self) -> usize {
        self.policy.num_pending(&self.core)
    }

    fn evict_blocked(&mut self, requests: &mut RequestArena) -> Option<(RequestId, String)> {
        self.policy.evict_blocked(&mut self.core, requests)
    }

    fn kv_usage(&self) -> KvUsage {
        self.core.ledger.usage()
    }

    fn check_invariants(&self, requests: &RequestArena) -> Result<(), String> {
        self.policy.check_invariants(&self.core, requests)
    }

    fn reads_ended_requests(&self) -> bool {
        self.policy.reads_ended_requests()
    }
}

/// Blocks held per request, out of a fixed total.
#[derive(Clone, Debug)]
pub(super) struct BlockLedger {
    num_blocks: u64,
    allocated: u64,
    held: FxHashMap<RequestId, u64>,
}

impl BlockLedger {
    /// `num_blocks` free blocks.
    pub(super) fn new(num_blocks: u64) -> BlockLedger {
        BlockLedger { num_blocks, allocated: 0, held: FxHashMap::default() }
    }

    /// Blocks in total.
    pub(super) fn num_blocks(&self) -> u64 {
        self.num_blocks
    }

    /// Blocks not held by any request.
    pub(super) fn num_free(&self) -> u64 {
        self.num_blocks - self.allocated
    }

    /// Whether `n` more blocks are free.
    pub(super) fn can_allocate(&self, n: u64) -> bool {
        self.num_free() >= n
    }

    /// Gives `n` more blocks to `id`; the caller has checked they are free.
    pub(super) fn allocate(&mut self, id: RequestId, n: u64) {
        debug_assert!(self.can_allocate(n), "allocating {n} blocks with {} free", self.num_free());
        self.allocated += n;
        *self.held.entry(id).or_insert(0) += n;
    }

    /// Releases everything `id` holds; returns how many blocks that was.
    pub(super) fn free(&mut self, id: RequestId) -> u64 {
        let n = self.held.remove(&id).unwrap_or(0);
        self.allocated -= n;
        n
    }

    /// Blocks `id` holds.
    pub(super) fn blocks_of(&self, id: RequestId) -> u64 {
        self.held.get(&id).copied().unwrap_or(0)
    }

    /// Whether `id` holds an entry (possibly of zero blocks).
    pub(super) fn holds(&self, id: RequestId) -> bool {
        self.held.contains_key(&id)
    }

    /// Requests with an entry (Vidur's `len(allocation_map)`).
    pub(super) fn num_requests(&self) -> usize {
        self.held.len()
    }

    /// Usage counters: held blocks are allocated, the rest free.
    pub(super) fn usage(&self) -> KvUsage {
        KvUsage {
            allocated_blocks: self.allocated,
            free_blocks: self.num_free(),
            total_blocks: self.num_blocks,
        }
    }

    /// The entries add up to the allocated count, which never exceeds the total.
    pub(super) fn check(&self) -> Result<(), String> {
        let sum: u64 = self.held.values().sum();
        if sum != self.allocated {
            return Err(format!(
                "ledger entries sum to {sum} blocks but {} are counted allocated",
                self.allocated
            ));
        }
        if self.allocated > self.num_blocks {
            return Err(format!("{} blocks allocated out of {}", self.allocated, self.num_blocks));
        }
        Ok(())
    }
}

/// What every legacy scheduler keeps: the ledger, the waiting queue, and the admitted
/// (block-holding) requests in arrival order.
#[derive(Clone, Debug)]
pub struct LegacyCore {
    pub(super) ledger: BlockLedger,
    pub(super) block_size: u32,
    /// Free blocks kept back when admitting (`int(watermark_blocks_fraction × num_blocks)`).
    pub(super) watermark_blocks: u64,
    pub(super) waiting: RequestQueue,
    /// Admitted requests sorted by id, which is arrival order.
    pub(super) running: Vec<RequestId>,
}

impl LegacyCore {
    /// Empty state for one replica.
    pub(super) fn new(ctx: &ReplicaContext) -> LegacyCore {
        LegacyCore {
            ledger: BlockLedger::new(ctx.num_blocks),
            block_size: ctx.block_size,
            watermark_blocks: (ctx.watermark_blocks_fraction * ctx.num_blocks as f64) as u64,
            waiting: RequestQueue::new(ctx.queue, ctx.slo),
            running: Vec::new(),
        }
    }

    /// Blocks holding the current prompt.
    pub(super) fn prompt_blocks(&self, request: &Request) -> u64 {
        u64::from(request.num_prefill_tokens).div_ceil(u64::from(self.block_size))
    }

    /// Free blocks Vidur's admission rule wants for a new request: its prompt's, plus the
    /// watermark.
    pub(super) fn blocks_with_watermark(&self, request: &Request) -> u64 {
        self.prompt_blocks(request) + self.watermark_blocks
    }

    /// Vidur's admission rule for a new request: its prompt's blocks leave at least the
    /// watermark free.
    pub(super) fn fits_with_watermark(&self, request: &Request) -> bool {
        self.ledger.num_free() >= self.blocks_with_watermark(request)
    }

    /// Refuses a request that could never run: its final KV exceeds the replica, or its prompt
    /// alone leaves less than the watermark free in an empty replica.
    pub(super) fn check_fits_with_watermark(&self, request: &Request) -> Result<(), String> {
        self.check_fits(request)?;
        let prompt = self.prompt_blocks(request);
        if prompt + self.watermark_blocks > self.ledger.num_blocks() {
            return Err(format!(
                "its prompt needs {prompt} KV blocks and admission keeps {} free (the watermark), but the replica has only {}",
                self.watermark_blocks,
                self.ledger.num_blocks()
            ));
        }
        Ok(())
    }

    /// Refuses a request whose final KV (P + D tokens) exceeds the replica.
    pub(super) fn check_fits(&self, request: &Request) -> Result<(), String> {
        if blocks_needed(request, self.block_size) > self.ledger.num_blocks() {
            return Err(never_fits(request, self.block_size, self.ledger.num_blocks()));
        }
        Ok(())
    }

    /// Queues a routed request.
    pub(super) fn enqueue(&mut self, id: RequestId, requests: &mut RequestArena) {
        let r = requests.get_mut(id);
        r.state = RequestState::Waiting;
        self.waiting.push(r);
    }

    /// Admits `id`, the waiting head, holding `blocks` blocks, and schedules its first `n`
    /// prompt tokens.
    pub(super) fn admit_head(
        &mut self,
        id: RequestId,
        blocks: u64,
        n: u32,
        requests: &mut RequestArena,
        plan: &mut BatchPlan,
    ) {
        let head = self.waiting.pop();
        debug_assert_eq!(head, Some(id), "admitting a request that is not the waiting head");
        self.ledger.allocate(id, blocks);
        let pos = self.running.binary_search(&id).unwrap_or_else(|p| p);
        self.running.insert(pos, id);
        requests.get_mut(id).state = RequestState::Running;
        Self::schedule(plan, id, n, requests);
    }

    /// Adds `id` with `n` tokens to the batch.
    pub(super) fn schedule(plan: &mut BatchPlan, id: RequestId, n: u32, requests: &mut RequestArena) {
        plan.push(id, n);
        requests.get_mut(id).in_flight = true;
    }

    /// Admitted requests not in a batch now, oldest first.
    pub(super) fn idle_running(&self, requests: &RequestArena) -> Vec<RequestId> {
        self.running.iter().copied().filter(|id| !requests.get(*id).in_flight).collect()
    }

    /// Whether the next decode of `request` writes past the blocks it holds (Vidur: processed
    /// tokens exceed the reserved ones).
    pub(super) fn decode_needs_block(&self, request: &Request) -> bool {
        u64::from(request.num_processed_tokens)
            > self.ledger.blocks_of(request.id) * u64::from(self.block_size)
    }

    /// Makes room for the next decode of `id`: nothing if its blocks suffice, else one more
    /// block if one is free. False if it needs a block and none is free.
    pub(super) fn grow_for_decode(&mut self, id: RequestId, requests: &RequestArena) -> bool {
        if !self.decode_needs_block(requests.get(id)) {
            return true;
        }
        if !self.ledger.can_allocate(1) {
            return false;
        }
        self.ledger.allocate(id, 1);
        true
    }

    /// Adds decodes of the admitted requests `idle` (oldest first) to `plan` until it holds
    /// `max` requests, making room for each by preemption where needed.
    pub(super) fn decode_batch(
        &mut self,
        idle: Vec<RequestId>,
        max: usize,
        requests: &mut RequestArena,
        plan: &mut BatchPlan,
    ) {
        let mut candidates = VecDeque::from(idle);
        while plan.len() < max {
            let Some(id) = candidates.pop_front() else { break };
            if self.make_room_for_decode(id, &mut candidates, plan, requests) {
                Self::schedule(plan, id, 1, requests);
            }
        }
    }

    /// Makes room for the next decode of `id`, preempting the newest of `candidates` (idle
    /// requests not yet visited this iteration) while it lacks a block. Returns whether `id`
    /// can decode now.
    ///
    /// With no candidate left, `id` itself is preempted, unless another admitted request is in
    /// a batch already executing (not `plan`, the one being formed): then `id` waits for that
    /// batch to end. (Vidur preempts it, which with pipeline parallelism can livelock two
    /// requests that each need the other's blocks.)
    pub(super) fn make_room_for_decode(
        &mut self,
        id: RequestId,
        candidates: &mut VecDeque<RequestId>,
        plan: &BatchPlan,
        requests: &mut RequestArena,
    ) -> bool {
        loop {
            if self.grow_for_decode(id, requests) {
                return true;
            }
            match candidates.pop_back() {
                Some(victim) => self.preempt(victim, requests),
                None => {
                    if !self
                        .running
                        .iter()
                        .any(|r| *r != id && requests.get(*r).in_flight && !plan.requests.contains(r))
                    {
                        self.preempt(id, requests);
                    }
                    return false;
                }
            }
        }
    }

    /// Preempts an admitted request by recompute: frees its blocks, restarts it and queues it
    /// again with its original queue key (ahead of later arrivals).
    pub(super) fn preempt(&mut self, id: RequestId, requests: &mut RequestArena) {
        debug_assert!(!requests.get(id).in_flight, "preempting a request in flight");
        if let Ok(pos) = self.running.binary_search(&id) {
            self.running.remove(pos);
        }
        self.ledger.free(id);
        let r = requests.get_mut(id);
        r.restart();
        self.waiting.push(r);
    }

    /// Marks the batch's requests idle and releases the blocks of those that completed.
    pub(super) fn finish_batch(&mut self, completed: &[RequestId], requests: &RequestArena) {
        release_completed(completed, requests, &mut self.running, |r| {
            self.ledger.free(r.id);
        });
    }

    /// Requests waiting or admitted.
    pub(super) fn num_pending(&self) -> usize {
        self.waiting.len() + self.running.len()
    }

    /// The engine's last resort when nothing is in flight and no batch can be formed: refuse
    /// the waiting head (typically a restarted request whose grown prompt no longer passes
    /// admission, which needs `admission_blocks` free), or else the newest admitted request.
    pub(super) fn evict_blocked(
        &mut self,
        requests: &mut RequestArena,
        admission_blocks: impl Fn(&LegacyCore, &Request) -> u64,
    ) -> Option<(RequestId, String)> {
        if let Some(id) = self.waiting.pop() {
            let r = requests.get(id);
            let reason = format!(
                "could not be admitted: its {}-token prompt needs {} free KV blocks to be admitted, and only {} of {} are free with nothing running",
                r.num_prefill_tokens,
                admission_blocks(self, r),
                self.ledger.num_free(),
                self.ledger.num_blocks(),
            );
            return Some((id, reason));
        }
        let id = self.running.pop()?;
        self.ledger.free(id);
        Some((
            id,
            format!(
                "could not continue with {} free of {} KV blocks and nothing else running",
                self.ledger.num_free(),
                self.ledger.num_blocks()
            ),
        ))
    }

    /// The ledger balances, and its entries are exactly the admitted requests, each in the
    /// running state and holding at most `max_blocks(request)`.
    pub(super) fn check(
        &self,
        requests: &RequestArena,
        max_blocks: impl Fn(&Request) -> u64,
    ) -> Result<(), String> {
        self.ledger.check()?;
        if self.ledger.num_requests() != self.running.len() {
            return Err(format!(
                "{} ledger entries but {} admitted requests",
                self.ledger.num_requests(),
                self.running.len()
            ));
        }
        for &id in &self.running {
            let r = requests.get(id);
            if !self.ledger.holds(id) {
                return Err(format!("admitted request {} has no ledger entry", id.0));
            }
            if r.state != RequestState::Running {
                return Err(format!("request {} is admitted but {:?}", id.0, r.state));
            }
            let held = self.ledger.blocks_of(id);
            if held > max_blocks(r) {
                return Err(format!(
                    "request {} holds {held} blocks, more than the {} it can need",
                    id.0,
                    max_blocks(r)
                ));
            }
        }
        if !self.running.windows(2).all(|w| w[0] < w[1]) {
            return Err("admitted list is not in arrival order".into());
        }
        Ok(())
    }

    /// [`LegacyCore::check`] with each request holding at most its final KV, and at most `cap`
    /// requests admitted.
    pub(super) fn check_within_cap(&self, requests: &RequestArena, cap: usize) -> Result<(), String> {
        self.check(requests, |r| blocks_needed(r, self.block_size))?;
        if self.running.len() > cap {
            return Err(format!("{} admitted requests exceed the cap of {cap}", self.running.len()));
        }
        Ok(())
    }
}

/// Worst-case reservations of orca and faster_transformer: each admitted request holds the KV of
/// a maximum-length sequence from admission to completion, so decodes never need a block.
///
/// Vidur derived the maximum length from the workload's `max_tokens` (4096); here it is the
/// model's `max_model_len`. A request longer than that reserves its own full length.
#[derive(Clone, Copy, Debug)]
pub(super) struct Reservations {
    max_blocks_per_sequence: u64,
    num_blocks: u64,
    block_size: u32,
    /// Vidur's `max_batch_size`: requests per batch, the cap or the number of maximum-length
    /// sequences one micro-batch's share of the KV holds, whichever is smaller.
    pub(super) max_batch_size: usize,
}

impl Reservations {
    /// Reservations for one replica with batch-size cap `cap`.
    pub(super) fn new(ctx: &ReplicaContext, cap: u32) -> Reservations {
        let max_blocks_per_sequence =
            u64::from(ctx.max_model_len.max(1)).div_ceil(u64::from(ctx.block_size)).max(1);
        let slots_per_stage =
            ctx.num_blocks / max_blocks_per_sequence / u64::from(ctx.num_pipeline_stages.max(1));
        let max_batch_size = (slots_per_stage.max(1)).min(u64::from(cap)) as usize;
        Reservations {
            max_blocks_per_sequence,
            num_blocks: ctx.num_blocks,
            block_size: ctx.block_size,
            max_batch_size,
        }
    }

    /// Blocks `request` reserves: a maximum-length sequence (at most the whole replica), or
    /// its own P + D tokens if longer.
    pub(super) fn blocks_for(&self, request: &Request) -> u64 {
        blocks_needed(request, self.block_size).max(self.max_blocks_per_sequence.min(self.num_blocks))
    }

    /// Admits waiting requests in queue order, each with its whole prompt and its reservation,
    /// while the reservation fits and `plan` holds fewer than `max_batch_size`.
    pub(super) fn admit_whole_prompts(
        &self,
        core: &mut LegacyCore,
        requests: &mut RequestArena,
        plan: &mut BatchPlan,
    ) {
        while plan.len() < self.max_batch_size {
            let Some(id) = core.waiting.peek() else { break };
            let blocks = self.blocks_for(requests.get(id));
            if !core.ledger.can_allocate(blocks) {
                break;
            }
            let n = requests.get(id).num_prefill_tokens;
            core.admit_head(id, blocks, n, requests, plan);
        }
    }
}

/// The most requests in one micro-batch: the cap split among pipeline stages.
pub(super) fn micro_batch_size(cap: u32, ctx: &ReplicaContext) -> usize {
    (cap / ctx.num_pipeline_stages.max(1)).max(1) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_counts_blocks_per_request() {
        let mut ledger = BlockLedger::new(10);
        ledger.allocate(RequestId(1), 3);
        ledger.allocate(RequestId(2), 4);
        ledger.allocate(RequestId(1), 1);
        assert_eq!((ledger.blocks_of(RequestId(1)), ledger.num_free(), ledger.num_requests()), (4, 2, 2));
        assert!(ledger.can_allocate(2) && !ledger.can_allocate(3));
        assert_eq!(ledger.free(RequestId(1)), 4);
        assert_eq!(ledger.usage(), KvUsage { allocated_blocks: 4, free_blocks: 6, total_blocks: 10 });
        ledger.check().unwrap();
    }
}
