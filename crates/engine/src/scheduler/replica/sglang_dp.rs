//! SGLang under attention DP (`--enable-dp-attention`): one scheduler per rank, in lockstep.
//!
//! Every attention-DP rank runs its own `Scheduler` over its own requests, with its own KV pool
//! (the replica's divided among the ranks), its own share of `--max-running-requests`, its own
//! prefill budgets (`--chunked-prefill-size` divided by the DP size; `--max-prefill-tokens`
//! whole) and the schedule conservativeness scaled by 0.3. The data-parallel controller gives
//! each new request to one rank when it arrives: in turn, or on a prefill server by the
//! request's bootstrap room, which the router draws at random ([`RankDispatch`]). Each
//! iteration every rank forms its own batch, prefill if it can else decode (SGLang's
//! `get_next_batch_to_run` per rank), and the ranks synchronise before the forward
//! (`prepare_mlp_sync_batch`): a rank with nothing runs an idle batch, and ranks in different
//! modes (one prefilling, another decoding) run the same step. The step is one batch of the
//! replica whose time the slowest rank sets (the execution model spreads it over the ranks).
//! With the overlap scheduler the lockstep replica forms each step while the previous one runs
//! (`overlap.rs`), one clock for all ranks. With one rank the plain [`SglangScheduler`] runs.

use super::dp_ranks::{DpRanks, RankDispatch};
use super::overlap::OneStepAhead;
use super::sglang::{SglangOptions, SglangScheduler};
use super::{PoolRole, ReplicaContext, ReplicaScheduler};
use crate::batch::{Batch, BatchPlan};
use crate::kv::{KvUsage, PrefixCacheStats};
use crate::request::{Request, RequestArena, RequestId};
use crate::time::SimTime;

/// What SGLang multiplies `--schedule-conservativeness` by with DP attention
/// (`ServerArgs._handle_data_parallelism`).
const DP_ATTENTION_CONSERVATIVENESS: f64 = 0.3;

/// The sglang scheduler of a replica with attention-DP ranks.
#[derive(Debug)]
pub struct SglangDpScheduler {
    /// One scheduler per rank, each on its share of the replica.
    ranks: Vec<SglangScheduler>,
    /// Which rank serves each request.
    dispatch: DpRanks,
    /// The replica's one-step-ahead clock (the ranks form their batches together).
    ahead: OneStepAhead,
    /// One rank's batch being formed, or its part of an ended batch.
    rank_plan: BatchPlan,
    /// Per rank, its requests of the batch that ended.
    ended: Vec<Batch>,
    /// Per rank, those of them that completed, in plan order.
    ended_completed: Vec<Vec<RequestId>>,
    /// Speculative decoding: a step is all prefill or all decode (see [`Self::form`]).
    speculative: bool,
}

impl SglangDpScheduler {
    /// A replica of `ctx.attention_dp_size` ranks (at least 2) with the engine-wide `options`.
    pub fn new(ctx: &ReplicaContext, options: SglangOptions) -> SglangDpScheduler {
        let dp = ctx.attention_dp_size.max(1);
        let rank_ctx = ReplicaContext {
            num_blocks: (ctx.num_blocks / u64::from(dp)).max(1),
            max_running_sequences: ctx.max_running_sequences.map(|n| (n / u64::from(dp)).max(1)),
            attention_dp_size: 1,
            ..ctx.clone()
        };
        let rank_options = SglangOptions {
            chunked_prefill_size: (options.chunked_prefill_size / dp).max(1),
            // `max_running_requests // dp_size` per rank (`ModelRunner`'s init).
            max_running_requests: options.max_running_requests.map(|n| (n / dp).max(1)),
            schedule_conservativeness: options.schedule_conservativeness * DP_ATTENTION_CONSERVATIVENESS,
            // The replica keeps the one clock.
            overlap: false,
            ..options
        };
        // `--load-balance-method auto`: a prefill server follows the bootstrap room, the
        // others take the ranks in turn (`ServerArgs._handle_load_balance_method`).
        let dispatch = if ctx.pool == PoolRole::Prefill {
            RankDispatch::BootstrapRoom
        } else {
            RankDispatch::RoundRobin
        };
        SglangDpScheduler {
            ranks: (0..dp).map(|_| SglangScheduler::new(&rank_ctx, rank_options)).collect(),
            dispatch: DpRanks::new(dp, dispatch),
            ahead: OneStepAhead::new(options.overlap && ctx.num_pipeline_stages <= 1),
            rank_plan: BatchPlan::default(),
            ended: (0..dp).map(|_| Batch::default()).collect(),
            ended_completed: vec![Vec::new(); dp as usize],
            speculative: ctx.speculative_tree.is_some(),
        }
    }

    /// Every rank forms its batch with arrivals up to `cutoff`, appended to `plan`. With
    /// speculative decoding prefill and decode batches are not mixed: if any rank has a prefill
    /// batch, the others run idle and their decodes wait (`get_next_batch_to_run` syncs the new
    /// prefill batches first, `maybe_prepare_mlp_sync_batch`, 0.5.9-0.5.10.post1).
    fn form(&mut self, cutoff: SimTime, requests: &mut RequestArena, plan: &mut BatchPlan) {
        if self.speculative {
            for rank in &mut self.ranks {
                rank.prefill_only(cutoff, requests, &mut self.rank_plan);
                for (&id, &n) in self.rank_plan.requests.iter().zip(&self.rank_plan.num_tokens) {
                    plan.push(id, n);
                }
            }
            if plan.is_empty() {
                for rank in &mut self.ranks {
                    rank.decode_only(requests, &mut self.rank_plan);
                    for (&id, &n) in self.rank_plan.requests.iter().zip(&self.rank_plan.num_tokens) {
                        plan.push(id, n);
                    }
                }
            }
            return;
        }
        for rank in &mut self.ranks {
            rank.next_batch(cutoff, requests, &mut self.rank_plan);
            for (&id, &n) in self.rank_plan.requests.iter().zip(&self.rank_plan.num_tokens) {
                plan.push(id, n);
            }
        }
    }
}

impl ReplicaScheduler for SglangDpScheduler {
    fn add_request(&mut self, id: RequestId, requests: &mut RequestArena) -> Result<(), String> {
        let rank = self.dispatch.assign(id);
        let added = self.ranks[rank].add_request(id, requests);
        if added.is_err() {
            self.dispatch.release(id);
        }
        added
    }

    fn next_batch(&mut self, now: SimTime, requests: &mut RequestArena, plan: &mut BatchPlan) {
        plan.clear();
        self.ahead = self.ahead.form(now, plan, |cutoff, plan| self.form(cutoff, requests, plan));
    }

    fn on_batch_end(&mut self, batch: &Batch, completed: &[RequestId], requests: &mut RequestArena) {
        for part in &mut self.ended {
            part.plan.clear();
        }
        for done in &mut self.ended_completed {
            done.clear();
        }
        for (&id, &n) in batch.plan.requests.iter().zip(&batch.plan.num_tokens) {
            self.ended[self.dispatch.of(id)].plan.push(id, n);
        }
        for &id in completed {
            self.ended_completed[self.dispatch.of(id)].push(id);
        }
        for ((rank, part), done) in self.ranks.iter_mut().zip(&self.ended).zip(&self.ended_completed) {
            if !part.plan.is_empty() {
                rank.on_batch_end(part, done, requests);
            }
        }
        for &id in completed {
            self.dispatch.release(id);
        }
    }

    fn num_pending(&self) -> usize {
        self.ranks.iter().map(SglangScheduler::num_pending).sum()
    }

    fn evict_blocked(&mut self, requests: &mut RequestArena) -> Option<(RequestId, String)> {
        let (id, why) = self.ranks.iter_mut().find_map(|rank| rank.evict_blocked(requests))?;
        self.dispatch.release(id);
        Some((id, why))
    }

    fn kv_usage(&self) -> KvUsage {
        self.ranks.iter().map(SglangScheduler::kv_usage).sum()
    }

    fn prefix_cache_stats(&self) -> PrefixCacheStats {
        self.ranks.iter().map(SglangScheduler::prefix_cache_stats).sum()
    }

    fn cached_prefix_tokens(&self, request: &Request) -> u32 {
        // Each rank has its own radix cache: what the rank the request would go to holds.
        self.ranks[self.dispatch.peek(request.id)].cached_prefix_tokens(request)
    }

    fn dp_rank(&self, id: RequestId) -> Option<usize> {
        self.dispatch.get(id)
    }

    fn assigns_dp_ranks(&self) -> bool {
        true
    }

    fn check_invariants(&self, requests: &RequestArena) -> Result<(), String> {
        for (i, rank) in self.ranks.iter().enumerate() {
            rank.check_invariants(requests).map_err(|e| format!("attention-DP rank {i}: {e}"))?;
        }
        Ok(())
    }

    fn hand_off(&mut self, id: RequestId, requests: &mut RequestArena) {
        self.ranks[self.dispatch.of(id)].hand_off(id, requests);
    }

    fn release_handed_off(&mut self, id: RequestId, requests: &RequestArena) {
        // The rank held the KV until the transfer ended; only now does the request leave it.
        self.ranks[self.dispatch.of(id)].release_handed_off(id, requests);
        self.dispatch.release(id);
    }

    fn transfer_capacity_blocks(&self) -> (u64, u32) {
        // A request is admitted on one rank, from that rank's own pool.
        let rank = self.ranks.iter().map(|r| r.kv_usage().total_blocks).min().unwrap_or(0);
        (rank, self.ranks.len() as u32)
    }

    fn transfer_queue(&mut self, id: RequestId) -> usize {
        // A decode server's data-parallel controller gives the request its rank when it
        // arrives (round robin, `--load-balance-method auto` on a decode server); that rank's
        // scheduler pre-allocates its KV from its own pool, first come first served, stopping
        // at the first request that does not fit (`DecodePreallocQueue.pop_preallocated`, one
        // per rank). So a request waits for its own rank only.
        self.dispatch.assign(id)
    }

    fn preallocates_before_prefill(&self) -> bool {
        self.ranks[0].preallocates_before_prefill()
    }

    fn reserve_transfer(&mut self, id: RequestId, requests: &mut RequestArena) -> Result<bool, String> {
        // On the rank given when it reached the replica (`transfer_queue`), as after the prefill.
        let rank = self.dispatch.assign(id);
        let reserved = self.ranks[rank].reserve_transfer(id, requests);
        if reserved.is_err() {
            self.dispatch.release(id);
        }
        reserved
    }

    fn release_reservation(&mut self, id: RequestId, requests: &RequestArena) {
        if let Some(rank) = self.dispatch.get(id) {
            self.ranks[rank].release_reservation(id, requests);
            self.dispatch.release(id);
        }
    }

    fn admit_transferred(&mut self, id: RequestId, requests: &mut RequestArena) -> Result<bool, String> {
        // The rank given when it reached the replica (`transfer_queue`); while that rank has
        // no room it waits for that rank.
        let rank = self.dispatch.assign(id);
        let admitted = self.ranks[rank].admit_transferred(id, requests);
        if admitted.is_err() {
            self.dispatch.release(id);
        }
        admitted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::replica::testkit::{Harness, ctx};

    fn options() -> SglangOptions {
        SglangOptions {
            chunked_prefill_size: 4096,
            max_prefill_tokens: 100,
            max_running_requests: None,
            schedule_conservativeness: 1.0,
            mixed_chunk: false,
            overlap: false,
            recv_interval: 1,
        }
    }

    /// A replica of `dp` ranks over `num_tokens` one-token blocks, serving `pool`.
    fn replica(dp: u32, num_tokens: u64, pool: PoolRole, options: SglangOptions) -> Harness {
        let context = ReplicaContext { attention_dp_size: dp, pool, ..ctx(num_tokens, 1, 1) };
        Harness::new(Box::new(SglangDpScheduler::new(&context, options)))
    }

    #[test]
    fn dp_many_short_prompts_prefill_in_one_step_each_rank_within_its_own_budget() {
        // max_prefill_tokens (100) holds per rank. Four 60-token prompts, one per rank in
        // turn, all prefill in the first step: 240 tokens.
        let mut h = replica(4, 4000, PoolRole::Aggregated, options());
        for _ in 0..4 {
            h.add(60, 3);
        }
        assert_eq!(h.step(), [(0, 60), (1, 60), (2, 60), (3, 60)]);
        // One scheduler for the replica under the one budget: one prompt per step (the second
        // no longer fits in the 40 tokens left), a quarter of that.
        let mut one = Harness::new(Box::new(SglangScheduler::new(&ctx(4000, 1, 1), options())));
        for _ in 0..4 {
            one.add(60, 3);
        }
        assert_eq!(one.step(), [(0, 60)]);
    }

    #[test]
    fn each_rank_chunks_its_own_prompt_at_the_chunk_size_over_the_dp_size() {
        // --chunked-prefill-size 256 at DP 4: 64 tokens per rank. Four 200-token prompts each
        // advance 64 tokens a step on their own rank, where one scheduler ran one prompt's
        // 256-token chunk on one rank while the others idled.
        let o = SglangOptions { chunked_prefill_size: 256, max_prefill_tokens: 16384, ..options() };
        let mut h = replica(4, 4000, PoolRole::Aggregated, o);
        for _ in 0..4 {
            h.add(200, 2);
        }
        assert_eq!(h.step(), [(0, 64), (1, 64), (2, 64), (3, 64)]);
        assert_eq!(h.step(), [(0, 64), (1, 64), (2, 64), (3, 64)]);
        h.drain(100);
        assert!((0..4).all(|i| h.requests.get(RequestId(i)).is_completed()));
    }

    #[test]
    fn the_scheduler_reports_each_request_s_rank_until_it_leaves() {
        // Round robin (not a prefill server): R0 → rank 0, R1 → rank 1, R2 → rank 0; the
        // engine puts each batch item on that rank for the execution model.
        let mut h = replica(2, 4000, PoolRole::Aggregated, options());
        assert!(h.scheduler.assigns_dp_ranks(), "the engine asks for the ranks");
        let ids: Vec<RequestId> = (0..3).map(|_| h.add(20, 2)).collect();
        let ranks: Vec<Option<usize>> = ids.iter().map(|&id| h.scheduler.dp_rank(id)).collect();
        assert_eq!(ranks, [Some(0), Some(1), Some(0)]);
        h.drain(50);
        assert!(ids.iter().all(|&id| h.scheduler.dp_rank(id).is_none()), "released when done");
    }

    #[test]
    fn one_rank_prefills_while_another_decodes_in_the_same_step() {
        let mut h = replica(2, 4000, PoolRole::Aggregated, options());
        h.add(20, 5);
        assert_eq!(h.step(), [(0, 20)]);
        assert_eq!(h.step(), [(0, 1)]);
        // R1 goes to rank 1: its prefill runs beside rank 0's decode (with one rank the
        // prefill batch runs alone and R0's decode waits).
        h.add(30, 5);
        assert_eq!(h.step(), [(0, 1), (1, 30)]);
        assert_eq!(h.step(), [(0, 1), (1, 1)]);
    }

    #[test]
    fn speculating_a_rank_s_prefill_idles_the_other_ranks_decodes() {
        // As above, speculating (k = 1): prefill and decode batches are not mixed, so rank 0's
        // decode waits while rank 1 prefills, then both verify 2 tokens.
        let tree = crate::config::SpeculativeTree { num_steps: 1, topk: 1, num_draft_tokens: 2 };
        let context =
            ReplicaContext { attention_dp_size: 2, speculative_tree: Some(tree), ..ctx(4000, 1, 1) };
        let mut h = Harness::new(Box::new(SglangDpScheduler::new(&context, options())));
        let a = h.add(20, 9);
        h.requests.get_mut(a).num_speculative_tokens = 1;
        assert_eq!(h.step(), [(0, 20)]);
        assert_eq!(h.step(), [(0, 2)]);
        let b = h.add(30, 9);
        h.requests.get_mut(b).num_speculative_tokens = 1;
        assert_eq!(h.step(), [(1, 30)]);
        assert_eq!(h.step(), [(0, 2), (1, 2)]);
    }

    #[test]
    fn each_rank_runs_its_share_of_max_running_requests() {
        // --max-running-requests 4 at DP 2: two per rank. Five requests in turn: ranks 0 and
        // 1 take two each; the fifth (rank 0) waits for a slot there.
        let o = SglangOptions { max_running_requests: Some(4), max_prefill_tokens: 1000, ..options() };
        let mut h = replica(2, 4000, PoolRole::Aggregated, o);
        for _ in 0..5 {
            h.add(10, 3);
        }
        assert_eq!(h.step(), [(0, 10), (2, 10), (1, 10), (3, 10)]);
        h.drain(50);
        assert!(h.requests.get(RequestId(4)).is_completed());
    }

    #[test]
    fn a_decode_replica_queues_each_transfer_on_the_rank_it_gives_it_on_arrival() {
        // Round robin on a decode server: R0 → rank 0, R1 → rank 1, R2 → rank 0, in the order
        // they reach the replica. --max-running-requests 2 at DP 2: one per rank; R0 and R1
        // are admitted, R2 waits for rank 0 (full), whatever room rank 1 has.
        let o = SglangOptions { max_running_requests: Some(2), ..options() };
        let mut h = replica(2, 100_000, PoolRole::Decode, o);
        let ids: Vec<RequestId> = (0..3)
            .map(|_| {
                let id = h.requests.next_id();
                let mut r = Request::new(id, SimTime::ZERO, 10, 5);
                r.replica = Some(crate::request::ReplicaId(0));
                r.on_iteration_end(10, SimTime::ZERO);
                h.requests.push(r);
                id
            })
            .collect();
        let queues: Vec<usize> = ids.iter().map(|&id| h.scheduler.transfer_queue(id)).collect();
        assert_eq!(queues, [0, 1, 0]);
        assert_eq!(h.scheduler.admit_transferred(ids[0], &mut h.requests), Ok(true));
        assert_eq!(h.scheduler.admit_transferred(ids[2], &mut h.requests), Ok(false), "rank 0 is full");
        assert_eq!(h.scheduler.admit_transferred(ids[1], &mut h.requests), Ok(true), "rank 1 has room");
        assert_eq!(h.scheduler.dp_rank(ids[2]), Some(0), "it keeps its rank while it waits");
    }

    #[test]
    fn a_prefill_rank_holds_a_handed_off_request_until_its_transfer_ends() {
        let mut h = replica(4, 4000, PoolRole::Prefill, options());
        let ids: Vec<RequestId> = (0..8).map(|_| h.add(40, 10)).collect();
        let mut prefilled = Vec::new();
        for _ in 0..8 {
            let batch = h.form();
            h.end(&batch);
            for &id in &batch.plan.requests {
                if h.requests.get(id).is_prefill_complete && !prefilled.contains(&id) {
                    h.scheduler.hand_off(id, &mut h.requests);
                    prefilled.push(id);
                }
            }
        }
        assert_eq!(prefilled.len(), ids.len());
        assert!(h.scheduler.kv_usage().allocated_blocks >= 8 * 40);
        for &id in &ids {
            h.scheduler.release_handed_off(id, &h.requests);
        }
        assert_eq!(h.scheduler.kv_usage().allocated_blocks, 0, "every rank freed its own");
        assert_eq!(h.scheduler.check_invariants(&h.requests), Ok(()));
    }
}
