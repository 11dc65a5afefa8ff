//! `vllm_v1`: vLLM V1's scheduler. One token budget (`chunk_size`) per iteration is shared by
//! decodes and prefill chunks; running requests are served first, in admission order, then
//! waiting requests in queue order; when blocks run out the newest running request is
//! preempted by recompute. Two options of current vLLM versions, off by default (Vidur's
//! rules): async scheduling (each batch is formed while the previous one runs, `overlap.rs`)
//! and admission only when the whole prompt fits in the free KV blocks (vLLM 0.19).

use std::sync::Arc;

use super::check_cap_covers_stages;
use super::overlap::OneStepAhead;
use super::vllm_dp::VllmDpScheduler;
use super::{
    PoolRole, ReplicaContext, ReplicaScheduler, ReplicaSchedulerFactory, RequestQueue, check_fits,
    release_completed,
};
use crate::batch::{Batch, BatchPlan};
use crate::config::{FlagDef, Params};
use crate::kv::{KvCacheManager, KvUsage, PrefixCacheStats};
use crate::request::{Request, RequestArena, RequestId, RequestState};
use crate::time::SimTime;

pub(super) const FLAGS: &[FlagDef] = &[
    FlagDef::int(
        "vllm_v1_scheduler_config_chunk_size",
        "512",
        "Token budget per iteration, shared by decode tokens and prefill chunks.",
    ),
    FlagDef::int(
        "vllm_v1_scheduler_config_batch_size_cap",
        "128",
        "Most requests admitted (running) at once; divided among pipeline micro-batches.",
    ),
    FlagDef::bool(
        "vllm_v1_scheduler_config_async_scheduling",
        "false",
        "Form each batch while the previous one runs (vLLM's --async-scheduling): a request arriving during a batch joins the batch after next unless the replica is idle.",
    ),
    FlagDef::bool(
        "vllm_v1_scheduler_config_admit_full_prompt",
        "false",
        "Admit a waiting request only when KV blocks for its whole prompt are free, not just for its first chunk (vLLM 0.19's scheduler_reserve_full_isl).",
    ),
    FlagDef::bool(
        "vllm_v1_scheduler_config_dp_engine_cores",
        "false",
        "Under attention DP (--replica_config_attention_dp_size above 1), one scheduler per DP rank as vLLM's DP engine cores run: each with the whole token budget and cap and its rank's share of the KV blocks, a new request going to the rank with the lowest 4 × waiting + running of the counts published every --vllm_v1_scheduler_config_dp_stats_interval_ms, the ranks stepping in lockstep. Off: one scheduler for the replica.",
    ),
    FlagDef::int(
        "vllm_v1_scheduler_config_dp_stats_interval_ms",
        "100",
        "With dp_engine_cores, how often the DP coordinator publishes the ranks' request counts to the front end that picks each request's rank (vLLM's stats_update_interval_ms); 0: the counts are always current.",
    ),
];

/// How the scheduler departs from Vidur's rules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VllmV1Options {
    /// Each batch is formed while the previous one runs.
    pub async_scheduling: bool,
    /// Admission needs blocks for the whole prompt.
    pub admit_full_prompt: bool,
}

pub(super) fn parse(p: &mut Params) -> Option<ReplicaSchedulerFactory> {
    let chunk_size = p.int_in("vllm_v1_scheduler_config_chunk_size", 1, 1 << 24) as u32;
    let batch_size_cap = p.int_in("vllm_v1_scheduler_config_batch_size_cap", 1, 1 << 20) as u32;
    let options = VllmV1Options {
        async_scheduling: p.bool("vllm_v1_scheduler_config_async_scheduling"),
        admit_full_prompt: p.bool("vllm_v1_scheduler_config_admit_full_prompt"),
    };
    let dp_engine_cores = p.bool("vllm_v1_scheduler_config_dp_engine_cores");
    let stats_interval_ms = p.int_in("vllm_v1_scheduler_config_dp_stats_interval_ms", 0, 1 << 30) as u64;
    check_cap_covers_stages(p, "vllm_v1_scheduler_config_batch_size_cap", batch_size_cap);
    Some(Arc::new(move |ctx: &ReplicaContext| {
        if dp_engine_cores && ctx.attention_dp_size > 1 {
            return Box::new(
                VllmDpScheduler::new(ctx, chunk_size, batch_size_cap, options)
                    .with_stats_interval_ns(stats_interval_ms * 1_000_000),
            ) as Box<dyn ReplicaScheduler>;
        }
        Box::new(VllmV1Scheduler::new(ctx, chunk_size, batch_size_cap).with_options(options))
            as Box<dyn ReplicaScheduler>
    }))
}

/// The vllm_v1 scheduler of one replica.
#[derive(Clone, Debug)]
pub struct VllmV1Scheduler {
    chunk_size: u32,
    /// Most admitted (running) requests.
    batch_size_cap: usize,
    /// Most requests in one batch: the cap split among pipeline micro-batches.
    max_micro_batch_size: usize,
    /// Pipeline stages.
    num_stages: u32,
    kv: KvCacheManager,
    waiting: RequestQueue,
    /// Admitted requests in admission order; the last is the preemption victim.
    running: Vec<RequestId>,
    hit_blocks: Vec<u32>,
    admit_full_prompt: bool,
    ahead: OneStepAhead,
    /// A disaggregated prefill replica holds only a prompt and its first token (vLLM's P/D
    /// proxy sends the prefill side `max_tokens = 1`).
    role: PoolRole,
}

impl VllmV1Scheduler {
    /// A scheduler with the given budget and cap.
    pub fn new(ctx: &ReplicaContext, chunk_size: u32, batch_size_cap: u32) -> VllmV1Scheduler {
        VllmV1Scheduler {
            chunk_size,
            batch_size_cap: batch_size_cap as usize,
            max_micro_batch_size: (batch_size_cap / ctx.num_pipeline_stages.max(1)).max(1) as usize,
            num_stages: ctx.num_pipeline_stages.max(1),
            kv: KvCacheManager::new(
                ctx.num_blocks as u32,
                ctx.block_size,
                ctx.enable_prefix_caching,
                ctx.num_preallocate_tokens,
            ),
            waiting: RequestQueue::new(ctx.queue, ctx.slo),
            running: Vec::new(),
            hit_blocks: Vec::new(),
            admit_full_prompt: false,
            ahead: OneStepAhead::new(false),
            role: ctx.pool,
        }
    }

    /// The scheduler with current vLLM's options.
    pub fn with_options(mut self, options: VllmV1Options) -> VllmV1Scheduler {
        self.admit_full_prompt = options.admit_full_prompt;
        // With pipeline stages, up to PP micro-batches are in flight anyway.
        self.ahead = OneStepAhead::new(options.async_scheduling && self.num_stages == 1);
        self
    }

    /// Preempts the newest running request not in flight; returns it. `None` when that would be
    /// `current` itself while another running request is in a batch already executing (not the
    /// one being formed, `plan`): `current` then waits for that batch, since preempting it
    /// could livelock two requests that each need the other's blocks under pipeline
    /// parallelism.
    fn preempt_newest(
        &mut self,
        current: RequestId,
        plan: &BatchPlan,
        requests: &mut RequestArena,
    ) -> Option<RequestId> {
        let pos = self.running.iter().rposition(|id| !requests.get(*id).in_flight)?;
        if self.running[pos] == current
            && self.running.iter().any(|id| requests.get(*id).in_flight && !plan.requests.contains(id))
        {
            return None;
        }
        let victim = self.running.remove(pos);
        let r = requests.get_mut(victim);
        self.kv.free(r);
        r.restart();
        self.waiting.push(r);
        Some(victim)
    }

    /// Forms a batch of waiting requests received by `cutoff` into `plan` (cleared by the
    /// caller): a pass that only preempted (the victim was the first request it tried) freed
    /// blocks, so it tries again rather than leaving an idle replica with work (Vidur stalls
    /// here, §12.4).
    pub(super) fn form(&mut self, cutoff: SimTime, requests: &mut RequestArena, plan: &mut BatchPlan) {
        while self.schedule_pass(cutoff, requests, plan) && plan.is_empty() {}
        debug_assert!(plan.total_tokens() <= self.chunk_size);
    }

    /// Its (waiting, running) request counts (vLLM's `Scheduler.get_request_counts`).
    pub(super) fn request_counts(&self) -> (u32, u32) {
        (self.waiting.len() as u32, self.running.len() as u32)
    }

    /// One scheduling pass admitting waiting requests received by `cutoff`; returns whether it
    /// preempted anything.
    fn schedule_pass(&mut self, cutoff: SimTime, requests: &mut RequestArena, plan: &mut BatchPlan) -> bool {
        let mut budget = self.chunk_size;
        let mut preempted = false;
        // Out of blocks this pass (preempted, or waiting for an executing batch): admit no one.
        let mut starved = false;

        // Running requests first, in admission order.
        let mut i = 0;
        'running: while i < self.running.len() && budget > 0 && plan.len() < self.max_micro_batch_size {
            let id = self.running[i];
            let request = requests.get_mut(id);
            if request.in_flight {
                i += 1;
                continue;
            }
            let n = request.next_num_tokens().min(budget);
            // The common case, room for its tokens, with one look-up of the request.
            if self.kv.allocate_slots(request, n, &[]) {
                // Running: it was in a batch before.
                plan.push_described_scheduled(request, n);
                request.in_flight = true;
                budget -= n;
                i += 1;
                continue;
            }
            // Out of blocks: preempt until it fits (or it is the victim itself).
            starved = true;
            loop {
                match self.preempt_newest(id, plan, requests) {
                    Some(victim) => {
                        preempted = true;
                        if victim == id {
                            break 'running;
                        }
                    }
                    None => break 'running,
                }
                if self.kv.allocate_slots(requests.get(id), n, &[]) {
                    let request = requests.get_mut(id);
                    plan.push_described_scheduled(request, n);
                    request.in_flight = true;
                    budget -= n;
                    break;
                }
            }
            i += 1;
        }

        // Then waiting requests, strictly in queue order (no skipping), unless blocks ran out.
        if !starved {
            while budget > 0
                && self.running.len() < self.batch_size_cap
                && plan.len() < self.max_micro_batch_size
            {
                let Some(id) = self.waiting.peek() else { break };
                if requests.get(id).received_at > cutoff {
                    break;
                }
                let cached = self.kv.computed_blocks(requests.get(id), &mut self.hit_blocks);
                let request = requests.get(id);
                debug_assert_eq!(request.num_processed_tokens, 0, "waiting requests hold no KV");
                let uncached = request.num_prefill_tokens - cached;
                if self.admit_full_prompt && !self.kv.can_fit(request, uncached, &self.hit_blocks) {
                    break;
                }
                let n = uncached.min(budget);
                if !self.kv.allocate_slots(request, n, &self.hit_blocks) {
                    break;
                }
                self.waiting.pop();
                self.running.push(id);
                let r = requests.get_mut(id);
                r.on_cache_hit(cached);
                r.state = RequestState::Running;
                r.in_flight = true;
                plan.push_described(r, n);
                budget -= n;
            }
        }
        preempted
    }
}

impl ReplicaScheduler for VllmV1Scheduler {
    fn add_request(&mut self, id: RequestId, requests: &mut RequestArena) -> Result<(), String> {
        let r = requests.get_mut(id);
        check_fits(r, self.kv.block_size(), u64::from(self.kv.num_blocks()), self.role)?;
        r.state = RequestState::Waiting;
        self.waiting.push(r);
        Ok(())
    }

    fn next_batch(&mut self, now: SimTime, requests: &mut RequestArena, plan: &mut BatchPlan) {
        plan.clear();
        let mut ahead = self.ahead;
        ahead = ahead.form(now, plan, |cutoff, plan| self.form(cutoff, requests, plan));
        self.ahead = ahead;
    }

    fn on_batch_end(&mut self, _batch: &Batch, completed: &[RequestId], requests: &mut RequestArena) {
        release_completed(completed, requests, &mut self.running, |r| self.kv.free(r));
    }

    fn num_pending(&self) -> usize {
        self.waiting.len() + self.running.len()
    }

    fn evict_blocked(&mut self, requests: &mut RequestArena) -> Option<(RequestId, String)> {
        // With nothing running every block is free, and add_request refused what can never
        // fit, so this is unreachable; kept as the engine's last line against a stall.
        let id = self.waiting.pop()?;
        Some(super::refuse_unschedulable(id, requests, &self.kv))
    }

    fn kv_usage(&self) -> KvUsage {
        self.kv.usage()
    }

    fn prefix_cache_stats(&self) -> PrefixCacheStats {
        self.kv.stats()
    }

    fn cached_prefix_tokens(&self, request: &Request) -> u32 {
        self.kv.probe_cached_tokens(request)
    }

    fn hand_off(&mut self, id: RequestId, requests: &mut RequestArena) {
        self.running.retain(|r| *r != id);
        // Out of this replica's lists: no longer Running here (its decode replica admits it).
        requests.get_mut(id).state = RequestState::Waiting;
    }

    fn release_handed_off(&mut self, id: RequestId, requests: &RequestArena) {
        self.kv.free(requests.get(id));
    }

    fn admit_transferred(&mut self, id: RequestId, requests: &mut RequestArena) -> Result<bool, String> {
        let r = requests.get(id);
        check_fits(r, self.kv.block_size(), u64::from(self.kv.num_blocks()), self.role)?;
        if self.running.len() >= self.batch_size_cap || !self.kv.allocate_slots(r, 0, &[]) {
            return Ok(false);
        }
        self.running.push(id);
        let r = requests.get_mut(id);
        r.state = RequestState::Running;
        r.in_flight = true;
        Ok(true)
    }

    fn check_invariants(&self, requests: &RequestArena) -> Result<(), String> {
        self.kv.check()?;
        for id in &self.running {
            if requests.get(*id).state != RequestState::Running {
                return Err(format!(
                    "request {} is in the running list but {:?}",
                    id.0,
                    requests.get(*id).state
                ));
            }
        }
        if self.running.len() > self.batch_size_cap {
            return Err(format!(
                "{} running requests exceed the cap of {}",
                self.running.len(),
                self.batch_size_cap
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SloSpec;
    use crate::request::{ReplicaId, Request};
    use crate::scheduler::replica::QueueKind;
    use std::sync::Arc;

    fn ctx(num_blocks: u64, prefix_caching: bool) -> ReplicaContext {
        ReplicaContext {
            replica: ReplicaId(0),
            num_blocks,
            block_size: 16,
            num_pipeline_stages: 1,
            enable_prefix_caching: prefix_caching,
            num_preallocate_tokens: 0,
            watermark_blocks_fraction: 0.01,
            queue: QueueKind::Fcfs,
            slo: SloSpec::default(),
            max_model_len: 4096,
            pool: crate::scheduler::replica::PoolRole::Aggregated,
            attention_dp_size: 1,
            max_running_sequences: None,
            speculative_tree: None,
        }
    }

    /// Adds requests (prefill, decode, hashes) arriving at t = id ns.
    fn arena(specs: &[(u32, u32, &[u64])]) -> RequestArena {
        let mut requests = RequestArena::new();
        for (i, (p, d, hashes)) in specs.iter().enumerate() {
            let mut r = Request::new(RequestId(i as u32), SimTime(i as u64), *p, *d);
            if !hashes.is_empty() {
                r.block_hashes = Some(Arc::from(*hashes));
            }
            requests.push(r);
        }
        requests
    }

    /// Forms a batch and ends it at once, as the engine does; returns (request, tokens) pairs.
    fn step(s: &mut VllmV1Scheduler, requests: &mut RequestArena) -> Vec<(u32, u32)> {
        let mut plan = BatchPlan::default();
        s.next_batch(SimTime(100), requests, &mut plan);
        let mut batch = Batch { plan: plan.clone(), ..Batch::default() };
        batch.describe(requests);
        let completed = super::super::testkit::end_iterations(&batch, requests, SimTime(100));
        s.on_batch_end(&batch, &completed, requests);
        s.check_invariants(requests).unwrap();
        plan.requests.iter().zip(&plan.num_tokens).map(|(r, n)| (r.0, *n)).collect()
    }

    #[test]
    fn chunked_prefill_shares_the_token_budget_with_running_requests() {
        let mut requests = arena(&[(600, 2, &[]), (300, 2, &[])]);
        let mut s = VllmV1Scheduler::new(&ctx(1000, false), 512, 128);
        s.add_request(RequestId(0), &mut requests).unwrap();
        s.add_request(RequestId(1), &mut requests).unwrap();
        // The first chunk takes the whole budget; the second request waits.
        assert_eq!(step(&mut s, &mut requests), [(0, 512)]);
        // Running first: R0's last 88 prompt tokens, then R1's whole 300-token prompt.
        assert_eq!(step(&mut s, &mut requests), [(0, 88), (1, 300)]);
        // Both prefills ended with their first token; one decode each finishes them (D = 2).
        assert_eq!(step(&mut s, &mut requests), [(0, 1), (1, 1)]);
        assert!(requests.get(RequestId(0)).is_completed() && requests.get(RequestId(1)).is_completed());
        assert_eq!(s.kv_usage().allocated_blocks, 0);
        assert_eq!(step(&mut s, &mut requests), []);
    }

    #[test]
    fn out_of_blocks_preempts_the_newest_running_request_by_recompute() {
        // 8 blocks of 16 tokens: R0 (64 + 40) and R1 (48 + 40) fit alone but not together.
        let mut requests = arena(&[(64, 40, &[]), (48, 40, &[])]);
        let mut s = VllmV1Scheduler::new(&ctx(8, false), 512, 128);
        s.add_request(RequestId(0), &mut requests).unwrap();
        s.add_request(RequestId(1), &mut requests).unwrap();
        assert_eq!(step(&mut s, &mut requests), [(0, 64), (1, 48)]); // 4 + 3 blocks
        // R0's decode takes the last free block; R1 then needs one more and is the newest: it
        // preempts itself, keeping its first token as prompt (P' = 49, D' = 39).
        assert_eq!(step(&mut s, &mut requests), [(0, 1)]);
        let r1 = requests.get(RequestId(1));
        assert_eq!(
            (r1.num_restarts, r1.num_prefill_tokens, r1.num_decode_tokens, r1.num_processed_tokens),
            (1, 49, 39, 0)
        );
        // R1 needs 4 blocks but only 3 are free: it waits (head of line) while R0 decodes.
        assert_eq!(step(&mut s, &mut requests), [(0, 1)]);
        while !requests.get(RequestId(0)).is_completed() {
            let batch = step(&mut s, &mut requests);
            assert_eq!(batch[0].0, 0);
        }
        // With R0 gone, R1 recomputes its 49-token prompt and finishes.
        assert_eq!(step(&mut s, &mut requests), [(1, 49)]);
        while !requests.get(RequestId(1)).is_completed() {
            assert_eq!(step(&mut s, &mut requests), [(1, 1)]);
        }
        assert_eq!(
            requests.get(RequestId(1)).num_tokens_emitted,
            40,
            "every output token emitted exactly once"
        );
    }

    #[test]
    fn a_preempted_request_without_hashes_re_hits_its_own_surviving_blocks() {
        // As above, with prefix caching on and no block hashes in the workload: vLLM hashes
        // every full block, so the victim finds what of its KV was not yet reused.
        let mut requests = arena(&[(64, 40, &[]), (48, 40, &[])]);
        let mut s = VllmV1Scheduler::new(&ctx(8, true), 512, 128);
        s.add_request(RequestId(0), &mut requests).unwrap();
        s.add_request(RequestId(1), &mut requests).unwrap();
        assert_eq!(step(&mut s, &mut requests), [(0, 64), (1, 48)]);
        assert_eq!(step(&mut s, &mut requests), [(0, 1)]); // R1 preempted: P' = 49
        // R1's three blocks were freed last block first; R0 grows into two of them (the
        // least recently freed, R1's last two), so R1's first block survives.
        while !requests.get(RequestId(0)).is_completed() {
            assert_eq!(step(&mut s, &mut requests)[0].0, 0);
        }
        assert_eq!(step(&mut s, &mut requests), [(1, 49 - 16)], "one block re-hit, 33 tokens recomputed");
        // The re-hit block holds original prompt tokens: a cache hit, as vLLM counts it.
        assert_eq!(requests.get(RequestId(1)).num_prefill_tokens_cached, 16);
        while !requests.get(RequestId(1)).is_completed() {
            assert_eq!(step(&mut s, &mut requests), [(1, 1)]);
        }
        assert_eq!(requests.get(RequestId(1)).num_tokens_emitted, 40);
    }

    #[test]
    fn preallocating_blocks_starves_the_next_request_into_a_preemption() {
        // 6 blocks; two requests of 16 + 20 tokens need 3 blocks each at their end: they fit
        // together exactly. Early vLLM V1 (and Vidur) take 64 tokens (4 blocks) ahead with each
        // allocation: R0 grabs 5 blocks, R1's second block is not there, and R1 is preempted.
        let run = |preallocate: u32| {
            let mut requests = arena(&[(16, 20, &[]), (16, 20, &[])]);
            let context = ReplicaContext { num_preallocate_tokens: preallocate, ..ctx(6, false) };
            let mut s = VllmV1Scheduler::new(&context, 512, 128);
            s.add_request(RequestId(0), &mut requests).unwrap();
            s.add_request(RequestId(1), &mut requests).unwrap();
            while !(requests.get(RequestId(0)).is_completed() && requests.get(RequestId(1)).is_completed()) {
                step(&mut s, &mut requests);
            }
            requests.get(RequestId(0)).num_restarts + requests.get(RequestId(1)).num_restarts
        };
        assert!(run(64) > 0, "Vidur's default preallocation preempts");
        assert_eq!(run(0), 0, "current vLLM V1 preallocates nothing and preempts nobody");
    }

    #[test]
    fn requests_without_hashes_share_no_blocks_with_each_other() {
        let mut requests = arena(&[(48, 4, &[]), (48, 4, &[])]);
        let mut s = VllmV1Scheduler::new(&ctx(100, true), 512, 128);
        s.add_request(RequestId(0), &mut requests).unwrap();
        assert_eq!(step(&mut s, &mut requests), [(0, 48)]);
        s.add_request(RequestId(1), &mut requests).unwrap();
        assert_eq!(step(&mut s, &mut requests), [(0, 1), (1, 48)], "same length, no shared prefix");
        assert_eq!(s.prefix_cache_stats().hit_blocks, 0);
    }

    #[test]
    fn prefix_hits_skip_cached_blocks_and_always_compute_one_block() {
        let mut requests = arena(&[(48, 4, &[1, 2, 3, 4]), (48, 4, &[1, 2, 9, 10]), (48, 4, &[1, 2, 3, 4])]);
        let mut s = VllmV1Scheduler::new(&ctx(100, true), 512, 128);
        s.add_request(RequestId(0), &mut requests).unwrap();
        assert_eq!(step(&mut s, &mut requests), [(0, 48)]);
        s.add_request(RequestId(1), &mut requests).unwrap();
        s.add_request(RequestId(2), &mut requests).unwrap();
        // R1 shares two blocks: 32 tokens cached, 16 computed. R2 repeats R0's prompt exactly:
        // the hit is capped so its last block is recomputed (Vidur: c −= 16).
        assert_eq!(step(&mut s, &mut requests), [(0, 1), (1, 16), (2, 16)]);
        assert_eq!(requests.get(RequestId(1)).num_prefill_tokens_cached, 32);
        assert_eq!(requests.get(RequestId(2)).num_prefill_tokens_cached, 32);
        assert_eq!(s.prefix_cache_stats().hit_blocks, 4);
    }

    #[test]
    fn requests_that_can_never_fit_are_refused() {
        let mut requests = arena(&[(200, 100, &[])]);
        let mut s = VllmV1Scheduler::new(&ctx(10, false), 512, 128);
        let reason = s.add_request(RequestId(0), &mut requests).unwrap_err();
        assert!(reason.contains("needs 19 KV blocks"), "{reason}");
        assert_eq!(s.num_pending(), 0);
    }

    #[test]
    fn async_scheduling_admits_a_request_arriving_during_a_batch_into_the_batch_after_next() {
        let mut requests = RequestArena::new();
        let mut s = VllmV1Scheduler::new(&ctx(100, false), 512, 128)
            .with_options(VllmV1Options { async_scheduling: true, admit_full_prompt: false });
        let add = |requests: &mut RequestArena, s: &mut VllmV1Scheduler, at: u64, p: u32, d: u32| {
            let id = requests.next_id();
            requests.push(Request::new(id, SimTime(at), p, d));
            s.add_request(id, requests).unwrap();
            id
        };
        let run = |requests: &mut RequestArena, s: &mut VllmV1Scheduler, now: u64| {
            let mut plan = BatchPlan::default();
            s.next_batch(SimTime(now), requests, &mut plan);
            let batch = Batch { plan: plan.clone(), ..Batch::default() };
            let completed = super::super::testkit::end_iterations(&batch, requests, SimTime(now));
            s.on_batch_end(&batch, &completed, requests);
            plan.requests.iter().zip(&plan.num_tokens).map(|(r, n)| (r.0, *n)).collect::<Vec<_>>()
        };
        // R0 arrives at an idle replica at t = 0: scheduled at once.
        add(&mut requests, &mut s, 0, 32, 5);
        assert_eq!(run(&mut requests, &mut s, 0), [(0, 32)]);
        // R1 arrives at t = 5, while the batch formed at 0 runs. The batch formed at 10 was
        // decided when the one of t = 0 started: R1 is not in it.
        add(&mut requests, &mut s, 5, 16, 5);
        assert_eq!(run(&mut requests, &mut s, 10), [(0, 1)]);
        // The batch formed at 20 was decided at 10, after R1 had arrived.
        assert_eq!(run(&mut requests, &mut s, 20), [(0, 1), (1, 16)]);
        // Without async scheduling R1 would have joined at 10.
        let mut requests = RequestArena::new();
        let mut sync = VllmV1Scheduler::new(&ctx(100, false), 512, 128);
        add(&mut requests, &mut sync, 0, 32, 5);
        run(&mut requests, &mut sync, 0);
        add(&mut requests, &mut sync, 5, 16, 5);
        assert_eq!(run(&mut requests, &mut sync, 10), [(0, 1), (1, 16)]);
    }

    #[test]
    fn async_scheduling_on_an_idle_replica_admits_the_arrival_at_once() {
        let mut requests = arena(&[(32, 1, &[])]);
        let mut s = VllmV1Scheduler::new(&ctx(100, false), 512, 128)
            .with_options(VllmV1Options { async_scheduling: true, admit_full_prompt: false });
        s.add_request(RequestId(0), &mut requests).unwrap();
        // R0 completes in its prefill; the replica has formed a batch at 100 (step) and then
        // nothing: a request received after that batch was formed is still taken at once.
        assert_eq!(step(&mut s, &mut requests), [(0, 32)]);
        assert_eq!(step(&mut s, &mut requests), []);
        let id = requests.next_id();
        requests.push(Request::new(id, SimTime(150), 16, 1));
        s.add_request(id, &mut requests).unwrap();
        let mut plan = BatchPlan::default();
        s.next_batch(SimTime(200), &mut requests, &mut plan);
        assert_eq!(plan.requests, [id]);
    }

    #[test]
    fn full_prompt_admission_waits_for_blocks_for_the_whole_prompt() {
        // 6 blocks of 16 tokens, a budget of 33 tokens: R0 (32 + 50) decodes into its third
        // block; R1's 64-token prompt needs 4 blocks, its first 32-token chunk only 2.
        let run_with = |admit_full_prompt: bool| {
            let mut requests = arena(&[(32, 50, &[]), (64, 4, &[])]);
            let mut s = VllmV1Scheduler::new(&ctx(6, false), 33, 128)
                .with_options(VllmV1Options { async_scheduling: false, admit_full_prompt });
            s.add_request(RequestId(0), &mut requests).unwrap();
            assert_eq!(step(&mut s, &mut requests), [(0, 32)]);
            s.add_request(RequestId(1), &mut requests).unwrap();
            step(&mut s, &mut requests)
        };
        // With R0's third block taken, 3 are free: R1's first chunk fits...
        assert_eq!(run_with(false), [(0, 1), (1, 32)]);
        // ...but not its whole prompt: with vLLM 0.19's rule it waits.
        assert_eq!(run_with(true), [(0, 1)]);
    }

    #[test]
    fn batch_size_cap_limits_admitted_requests() {
        let mut requests = arena(&[(10, 5, &[]), (10, 5, &[]), (10, 5, &[])]);
        let mut s = VllmV1Scheduler::new(&ctx(100, false), 512, 2);
        for i in 0..3 {
            s.add_request(RequestId(i), &mut requests).unwrap();
        }
        assert_eq!(step(&mut s, &mut requests), [(0, 10), (1, 10)]);
    }
}
