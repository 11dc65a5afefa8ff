//! vLLM V1 under data parallelism (`--data-parallel-size` with an MoE model): one engine core
//! per DP rank, in lockstep.
//!
//! Every DP rank is its own `EngineCore` with its own `Scheduler` over its own requests: the
//! whole `max_num_batched_tokens` and `max_num_seqs` per rank (each engine core gets the same
//! scheduler config) and its rank's own KV cache (the replica's blocks divided among the
//! ranks). The front end gives each new request to one rank when it arrives
//! (`DPLBAsyncMPClient.get_core_engine_for_request`, [`RankDispatch::LoadScore`]): the lowest
//! `4 × waiting + running` over the counts the DP coordinator last published, the lowest index
//! among equals, each pick adding one waiting request to its rank's count until the next
//! counts arrive. Each engine sends its `(waiting, running)` counts whenever they changed from
//! one step to the next (`DPEngineCoreProc._maybe_publish_request_counts`); the coordinator
//! marks its stats changed whenever any engine sends (`DPCoordinatorProc.process_input_socket`)
//! and then publishes every `stats_update_interval_ms` (100), so any interval in which a rank's
//! counts moved (every dispatch moves its rank's) republishes — even counts equal to the last
//! published ones — and clears the front end's local picks; its view is up to 100 ms stale.
//! The MoE layers run in lockstep: while any rank has work every rank steps (an idle one runs
//! a dummy batch, `DPEngineCoreProc.run_busy_loop` → `execute_dummy_batch`), so a step is one
//! batch of the replica whose time the slowest rank sets (the execution model times each rank
//! on the requests stamped with it, and pads every rank to the busiest one's tokens under
//! `dp_padding`). With async scheduling the replica forms each step while the previous one
//! runs (`overlap.rs`), one clock for all ranks. Sources read at v0.10.2 and v0.12.0.

use super::dp_ranks::{DpRanks, RankDispatch};
use super::overlap::OneStepAhead;
use super::vllm_v1::{VllmV1Options, VllmV1Scheduler};
use super::{ReplicaContext, ReplicaScheduler};
use crate::batch::{Batch, BatchPlan};
use crate::kv::{KvUsage, PrefixCacheStats};
use crate::request::{Request, RequestArena, RequestId};
use crate::time::SimTime;

/// The DP coordinator's `stats_update_interval_ms` default (100), in ns.
pub const STATS_UPDATE_INTERVAL_NS: u64 = 100_000_000;

/// The vLLM scheduler of a replica with DP ranks.
#[derive(Debug)]
pub struct VllmDpScheduler {
    /// One scheduler per rank, each on its share of the replica's KV blocks.
    ranks: Vec<VllmV1Scheduler>,
    /// Which rank serves each request.
    dispatch: DpRanks,
    /// The replica's one-step-ahead clock (the ranks step together).
    ahead: OneStepAhead,
    /// One rank's batch being formed.
    rank_plan: BatchPlan,
    /// Per rank, its requests of the batch that ended that completed.
    ended_completed: Vec<Vec<RequestId>>,
    /// The latest instant the scheduler has seen.
    now: SimTime,
    /// The coordinator's next publication instant.
    next_publish: SimTime,
    /// The counts it published last.
    published: Vec<(u32, u32)>,
    /// The ranks' counts at the end of the last call that carried a time (`now`): those of
    /// every instant before the next timed call, whose untimed calls in between (a batch's end,
    /// a hand-off, an eviction) happen at instants the scheduler is not told.
    timed_counts: Vec<(u32, u32)>,
    /// The counts after the scheduler's last call, to notice every change.
    last_counts: Vec<(u32, u32)>,
    /// Some rank's counts changed since the last publication (an engine sent its stats).
    dirty: bool,
    /// How often it publishes, ns (0: at every dispatch).
    interval_ns: u64,
}

impl VllmDpScheduler {
    /// A replica of `ctx.attention_dp_size` ranks (at least 2), each with the token budget
    /// `chunk_size` and the cap `batch_size_cap`.
    pub fn new(
        ctx: &ReplicaContext,
        chunk_size: u32,
        batch_size_cap: u32,
        options: VllmV1Options,
    ) -> VllmDpScheduler {
        let dp = ctx.attention_dp_size.max(1);
        let rank_ctx = ReplicaContext {
            num_blocks: (ctx.num_blocks / u64::from(dp)).max(1),
            attention_dp_size: 1,
            ..ctx.clone()
        };
        // The replica keeps the one clock.
        let rank_options = VllmV1Options { async_scheduling: false, ..options };
        VllmDpScheduler {
            ranks: (0..dp)
                .map(|_| {
                    VllmV1Scheduler::new(&rank_ctx, chunk_size, batch_size_cap).with_options(rank_options)
                })
                .collect(),
            dispatch: DpRanks::new(dp, RankDispatch::LoadScore),
            ahead: OneStepAhead::new(options.async_scheduling && ctx.num_pipeline_stages <= 1),
            rank_plan: BatchPlan::default(),
            ended_completed: vec![Vec::new(); dp as usize],
            now: SimTime::ZERO,
            next_publish: SimTime::ZERO,
            published: vec![(0, 0); dp as usize],
            timed_counts: vec![(0, 0); dp as usize],
            last_counts: vec![(0, 0); dp as usize],
            dirty: false,
            interval_ns: STATS_UPDATE_INTERVAL_NS,
        }
    }

    /// The scheduler with the coordinator publishing every `interval_ns` (0: the front end
    /// always sees the current counts).
    pub fn with_stats_interval_ns(mut self, interval_ns: u64) -> VllmDpScheduler {
        self.interval_ns = interval_ns;
        self
    }

    /// Notes a change of any rank's counts since the scheduler's last call (the engine sends
    /// its stats), and with `timed` keeps the counts as those of the instant `self.now`.
    fn settle(&mut self, timed: bool) {
        for (slot, rank) in self.last_counts.iter_mut().zip(&self.ranks) {
            let counts = rank.request_counts();
            if *slot != counts {
                *slot = counts;
                self.dirty = true;
            }
        }
        if timed {
            self.timed_counts.clone_from(&self.last_counts);
        }
    }

    /// Time reaches `now`: the coordinator's publications due by then replace the front end's
    /// view when some engine sent stats since the last one. A publication at an instant before
    /// `now` carries the counts of the last timed call (`timed_counts`; what changed since, in
    /// untimed calls, is left for the next publication); one at `now` the current counts.
    fn advance(&mut self, now: SimTime) {
        self.settle(false);
        self.now = self.now.max(now);
        if self.now < self.next_publish {
            return;
        }
        let interval = self.interval_ns;
        // The last publication instant due (interval 0: every call publishes, at `now`).
        let last = match self.now.0.checked_div(interval) {
            Some(ticks) => SimTime(ticks.saturating_mul(interval)),
            None => self.now,
        };
        self.next_publish = match self.now.0.checked_div(interval) {
            Some(ticks) => SimTime((ticks + 1).saturating_mul(interval)),
            None => self.now,
        };
        let counts = if last < self.now { &self.timed_counts } else { &self.last_counts };
        let changed = counts != &self.published;
        if self.dirty || changed {
            self.published.clone_from(counts);
            self.dispatch.publish(self.published.iter().copied());
            // What changed after the published instant is sent again for the next one.
            self.dirty = self.last_counts != self.published;
        }
    }

    /// `id`'s rank, assigning one by the front end's view at the latest instant seen (the
    /// pick reaches its engine, whose counts change: the next publication is due).
    fn assign(&mut self, id: RequestId, at: SimTime) -> usize {
        if self.dispatch.get(id).is_none() {
            self.advance(at);
            self.dirty = true;
        }
        self.dispatch.assign(id)
    }
}

impl ReplicaScheduler for VllmDpScheduler {
    fn add_request(&mut self, id: RequestId, requests: &mut RequestArena) -> Result<(), String> {
        let rank = self.assign(id, requests.get(id).received_at);
        let added = self.ranks[rank].add_request(id, requests);
        if added.is_err() {
            // Refused: the front end's own +1 for it goes too, unless counts came since.
            self.dispatch.unassign(id);
        }
        self.settle(true);
        added
    }

    fn next_batch(&mut self, now: SimTime, requests: &mut RequestArena, plan: &mut BatchPlan) {
        plan.clear();
        self.advance(now);
        let (ranks, rank_plan) = (&mut self.ranks, &mut self.rank_plan);
        self.ahead = self.ahead.form(now, plan, |cutoff, plan| {
            for rank in ranks.iter_mut() {
                rank_plan.clear();
                rank.form(cutoff, requests, rank_plan);
                for (&id, &n) in rank_plan.requests.iter().zip(&rank_plan.num_tokens) {
                    plan.push(id, n);
                }
            }
        });
        self.settle(true);
    }

    fn on_batch_end(&mut self, batch: &Batch, completed: &[RequestId], requests: &mut RequestArena) {
        for done in &mut self.ended_completed {
            done.clear();
        }
        for &id in completed {
            self.ended_completed[self.dispatch.of(id)].push(id);
        }
        // vLLM's scheduler reads only the completed requests of an ended batch.
        for (rank, done) in self.ranks.iter_mut().zip(&self.ended_completed) {
            if !done.is_empty() {
                rank.on_batch_end(batch, done, requests);
            }
        }
        for &id in completed {
            self.dispatch.release(id);
        }
        self.settle(false);
    }

    fn num_pending(&self) -> usize {
        self.ranks.iter().map(VllmV1Scheduler::num_pending).sum()
    }

    fn evict_blocked(&mut self, requests: &mut RequestArena) -> Option<(RequestId, String)> {
        let (id, why) = self.ranks.iter_mut().find_map(|rank| rank.evict_blocked(requests))?;
        self.dispatch.unassign(id);
        self.settle(false);
        Some((id, why))
    }

    fn kv_usage(&self) -> KvUsage {
        self.ranks.iter().map(VllmV1Scheduler::kv_usage).sum()
    }

    fn prefix_cache_stats(&self) -> PrefixCacheStats {
        self.ranks.iter().map(VllmV1Scheduler::prefix_cache_stats).sum()
    }

    fn cached_prefix_tokens(&self, request: &Request) -> u32 {
        // Each engine core has its own prefix cache: what the rank the request would go to holds.
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
            rank.check_invariants(requests).map_err(|e| format!("DP rank {i}: {e}"))?;
        }
        Ok(())
    }

    fn hand_off(&mut self, id: RequestId, requests: &mut RequestArena) {
        self.ranks[self.dispatch.of(id)].hand_off(id, requests);
        self.settle(false);
    }

    fn release_handed_off(&mut self, id: RequestId, requests: &RequestArena) {
        // The rank held the KV until the transfer ended; only now does the request leave it.
        self.ranks[self.dispatch.of(id)].release_handed_off(id, requests);
        self.dispatch.release(id);
        self.settle(false);
    }

    fn transfer_capacity_blocks(&self) -> (u64, u32) {
        // A request is admitted on one rank, from that rank's own blocks.
        let rank = self.ranks.iter().map(|r| r.kv_usage().total_blocks).min().unwrap_or(0);
        (rank, self.ranks.len() as u32)
    }

    fn transfer_queue(&mut self, id: RequestId) -> usize {
        // The decode server's front end picks the rank when the request reaches it, by the
        // same load score; that rank's scheduler admits it from its own blocks. The trait
        // gives no instant here: the pick uses the view at the latest instant this replica
        // saw (`self.now`), which lags while an idle decode replica forms no batch; its next
        // timed call catches the publications up.
        let now = self.now;
        self.assign(id, now)
    }

    fn admit_transferred(&mut self, id: RequestId, requests: &mut RequestArena) -> Result<bool, String> {
        let now = self.now;
        let rank = self.assign(id, now);
        let admitted = self.ranks[rank].admit_transferred(id, requests);
        if admitted.is_err() {
            self.dispatch.unassign(id);
        }
        self.settle(false);
        admitted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::replica::PoolRole;
    use crate::scheduler::replica::testkit::{Harness, ctx};

    /// A replica of `dp` ranks over `num_tokens` one-token blocks.
    fn replica(dp: u32, num_tokens: u64, chunk: u32, cap: u32) -> Harness {
        let context = ReplicaContext { attention_dp_size: dp, ..ctx(num_tokens, 1, 1) };
        Harness::new(Box::new(VllmDpScheduler::new(&context, chunk, cap, VllmV1Options::default())))
    }

    #[test]
    fn each_rank_has_the_whole_token_budget() {
        // max_num_batched_tokens 100 per engine core: two 100-token prompts, one per rank,
        // prefill in the same step (one scheduler for the replica ran one of them).
        let mut h = replica(2, 4000, 100, 64);
        h.add(100, 3);
        h.add(100, 3);
        assert_eq!(h.step(), [(0, 100), (1, 100)]);
        let context = ctx(4000, 1, 1);
        let mut one = Harness::new(Box::new(VllmV1Scheduler::new(&context, 100, 64)));
        one.add(100, 3);
        one.add(100, 3);
        assert_eq!(one.step(), [(0, 100)]);
    }

    #[test]
    fn each_rank_has_the_whole_cap_and_its_share_of_the_blocks() {
        // max_num_seqs 1 per engine core: two requests run at once on two ranks.
        let mut h = replica(2, 4000, 1000, 1);
        for _ in 0..3 {
            h.add(10, 3);
        }
        assert_eq!(h.step(), [(0, 10), (1, 10)]);
        assert_eq!(h.scheduler.kv_usage().total_blocks, 4000);
        assert_eq!(h.scheduler.transfer_capacity_blocks(), (2000, 2), "one rank's blocks");
        h.drain(50);
        assert!(h.requests.get(RequestId(2)).is_completed());
        // A prompt larger than one rank's blocks is refused, though the replica's would hold it.
        let (_, added) = h.add_at(0, 2500, 1);
        assert!(added.is_err());
    }

    #[test]
    fn requests_go_to_the_lowest_four_waiting_plus_running_of_the_published_counts() {
        let mut h = replica(2, 4000, 1000, 64);
        // At t = 0 nothing is published: each pick counts one waiting on its rank, so R0 → 0,
        // R1 → 1, R2 → 0.
        let ids: Vec<RequestId> = (0..3).map(|_| h.add(10, 50)).collect();
        let ranks: Vec<Option<usize>> = ids.iter().map(|&id| h.scheduler.dp_rank(id)).collect();
        assert_eq!(ranks, [Some(0), Some(1), Some(0)]);
        h.step();
        // Still within the first 100 ms: the front end's own counts (rank 0 two, rank 1 one
        // waiting), though both ranks run their requests now: R3 → 1.
        let (r3, _) = h.add_at(50_000_000, 10, 50);
        assert_eq!(h.scheduler.dp_rank(r3), Some(1));
        // At 100 ms the coordinator publishes what the engines had: rank 0 2 running (2), rank 1
        // 1 running + R3 waiting (5). R4 → 0 (2 + its own 4 = 6), R5 → 1 (5 < 6).
        let (r4, _) = h.add_at(100_000_000, 10, 50);
        let (r5, _) = h.add_at(100_000_001, 10, 50);
        assert_eq!((h.scheduler.dp_rank(r4), h.scheduler.dp_rank(r5)), (Some(0), Some(1)));
    }

    #[test]
    fn a_pick_whose_counts_return_to_the_published_ones_is_still_republished_and_cleared() {
        // R0 goes to rank 0 (the front end counts it waiting there) and finishes in its first
        // step: the engines' counts are back to the published (0, 0)s, but rank 0 sent its
        // changed counts, so the coordinator publishes at 100 ms and the pick is cleared.
        let mut h = replica(2, 4000, 1000, 64);
        let r0 = h.add(10, 1);
        h.step();
        assert!(h.requests.get(r0).is_completed());
        let (r1, _) = h.add_at(100_000_000, 10, 50);
        assert_eq!(h.scheduler.dp_rank(r1), Some(0), "both ranks score 0 again");
    }

    #[test]
    fn a_publication_before_now_carries_the_counts_of_the_last_timed_call() {
        // Ranks 0 and 1 run two and one requests from the step formed at 0; the batch end
        // (which carries no instant) finishes R0. The publication at 100 ms, before R3's
        // arrival at 150 ms, carries the counts the step was formed with: (0, 2) and (0, 1).
        let mut h = replica(2, 4000, 1000, 64);
        let r0 = h.add(10, 1);
        let ids = [r0, h.add(10, 50), h.add(10, 50)];
        assert_eq!(ids.map(|id| h.scheduler.dp_rank(id)), [Some(0), Some(1), Some(0)]);
        h.step();
        assert!(h.requests.get(r0).is_completed());
        let (r3, _) = h.add_at(150_000_000, 10, 50);
        assert_eq!(h.scheduler.dp_rank(r3), Some(1));
    }

    #[test]
    fn a_refused_request_takes_its_pick_back() {
        // R0 is too large for one rank's blocks: refused on rank 0, whose +1 waiting goes with
        // it, so R1 goes to rank 0 too.
        let mut h = replica(2, 4000, 1000, 64);
        let (r0, added) = h.add_at(0, 2500, 1);
        assert!(added.is_err());
        assert_eq!(h.scheduler.dp_rank(r0), None);
        let r1 = h.add(10, 5);
        assert_eq!(h.scheduler.dp_rank(r1), Some(0));
    }

    #[test]
    fn with_no_publication_interval_the_front_end_sees_the_current_counts() {
        let picks = |interval_ns: u64| {
            let context = ReplicaContext { attention_dp_size: 2, ..ctx(4000, 1, 1) };
            let scheduler = VllmDpScheduler::new(&context, 1000, 64, VllmV1Options::default())
                .with_stats_interval_ns(interval_ns);
            let mut h = Harness::new(Box::new(scheduler));
            let r0 = h.add(10, 50);
            let r1 = h.add(10, 1);
            h.step();
            assert!(h.requests.get(r1).is_completed());
            let r2 = h.add(10, 50);
            [r0, r1, r2].map(|id| h.scheduler.dp_rank(id))
        };
        // Current counts: rank 0 runs R0 (1), rank 1 is empty (0): R2 → 1.
        assert_eq!(picks(0), [Some(0), None, Some(1)]);
        // Nothing published within the first 100 ms: the front end's own counts, one waiting
        // each (4 and 4), send R2 to rank 0.
        assert_eq!(picks(STATS_UPDATE_INTERVAL_NS), [Some(0), None, Some(0)]);
    }

    #[test]
    fn the_ranks_step_together_one_prefilling_while_another_decodes() {
        // Lockstep: each step is one batch of the replica with every rank's part (the engine
        // stamps each item with its rank and the predictor times the slowest rank, an idle one
        // running a dummy batch). R0 decodes on rank 0 while R1's prompt prefills on rank 1.
        let mut h = replica(2, 4000, 1000, 64);
        let r0 = h.add(20, 5);
        assert_eq!(h.step(), [(0, 20)]);
        assert_eq!(h.scheduler.dp_rank(r0), Some(0));
        let r1 = h.add(30, 5);
        assert_eq!(h.scheduler.dp_rank(r1), Some(1), "rank 0 counts R0 as waiting (4)");
        assert_eq!(h.step(), [(0, 1), (1, 30)]);
        assert_eq!(h.step(), [(0, 1), (1, 1)]);
    }

    #[test]
    fn only_the_engine_bundle_s_flag_runs_a_scheduler_per_rank() {
        use crate::config::{Config, Params};
        let build = |cores: &str| {
            let mut config = Config::new();
            config.set("vllm_v1_scheduler_config_dp_engine_cores", cores).unwrap();
            let factory = super::super::vllm_v1::parse(&mut Params::new(&config)).unwrap();
            let context = ReplicaContext { attention_dp_size: 2, ..ctx(4000, 1, 1) };
            factory(&context).assigns_dp_ranks()
        };
        assert!(build("true"));
        assert!(!build("false"), "without it (Vidur's runs) one scheduler serves the replica");
    }

    #[test]
    fn the_scheduler_reports_each_request_s_rank_until_it_leaves() {
        let mut h = replica(2, 4000, 1000, 64);
        assert!(h.scheduler.assigns_dp_ranks(), "the engine stamps each item with its rank");
        let ids: Vec<RequestId> = (0..4).map(|_| h.add(20, 2)).collect();
        h.drain(50);
        assert!(ids.iter().all(|&id| h.scheduler.dp_rank(id).is_none()), "released when done");
        assert_eq!(h.scheduler.kv_usage().allocated_blocks, 0);
        assert_eq!(h.scheduler.check_invariants(&h.requests), Ok(()));
    }

    #[test]
    fn a_prefill_rank_holds_a_handed_off_request_until_its_transfer_ends() {
        let context = ReplicaContext { attention_dp_size: 4, pool: PoolRole::Prefill, ..ctx(4000, 1, 1) };
        let mut h =
            Harness::new(Box::new(VllmDpScheduler::new(&context, 1000, 64, VllmV1Options::default())));
        let ids: Vec<RequestId> = (0..8).map(|_| h.add(40, 10)).collect();
        let batch = h.form();
        assert_eq!(batch.plan.requests.len(), 8, "every rank prefills its two prompts");
        h.end(&batch);
        for &id in &ids {
            h.scheduler.hand_off(id, &mut h.requests);
        }
        assert!(h.scheduler.kv_usage().allocated_blocks >= 8 * 40);
        for &id in &ids {
            h.scheduler.release_handed_off(id, &h.requests);
        }
        assert_eq!(h.scheduler.kv_usage().allocated_blocks, 0, "every rank freed its own");
        assert_eq!(h.scheduler.check_invariants(&h.requests), Ok(()));
    }
}
