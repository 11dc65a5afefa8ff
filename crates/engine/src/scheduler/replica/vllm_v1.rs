//! `vllm_v1`: vLLM V1's scheduler. One token budget (`chunk_size`) per iteration is shared by
//! decodes and prefill chunks; running requests are served first, in admission order, then
//! waiting requests in queue order; when blocks run out the newest running request is
//! preempted by recompute.

use std::sync::Arc;

use super::{ReplicaContext, ReplicaScheduler, ReplicaSchedulerFactory, RequestQueue, blocks_needed, never_fits};
use crate::batch::{Batch, BatchPlan};
use crate::config::{FlagDef, Params};
use crate::kv::{KvCacheManager, KvUsage, PrefixCacheStats};
use crate::request::{Request, RequestArena, RequestId, RequestState};
use crate::time::SimTime;

pub(super) const FLAGS: &[FlagDef] = &[
    FlagDef::int("vllm_v1_scheduler_config_chunk_size", "512", "Token budget per iteration, shared by decode tokens and prefill chunks."),
    FlagDef::int("vllm_v1_scheduler_config_batch_size_cap", "128", "Most requests admitted (running) at once; divided among pipeline micro-batches."),
];

pub(super) fn parse(p: &mut Params) -> Option<ReplicaSchedulerFactory> {
    let chunk_size = p.int_in("vllm_v1_scheduler_config_chunk_size", 1, 1 << 24) as u32;
    let batch_size_cap = p.int_in("vllm_v1_scheduler_config_batch_size_cap", 1, 1 << 20) as u32;
    let pp = p.config().get("replica_config_num_pipeline_stages");
    if let crate::config::FlagValue::Int(pp) = pp
        && i64::from(batch_size_cap) < pp
    {
        p.error(
            crate::config::ConfigError::new(
                "vllm_v1_scheduler_config_batch_size_cap",
                format!("{batch_size_cap} is smaller than the {pp} pipeline stages: some micro-batches could hold no request"),
            )
            .with_hint(format!("use at least {pp}")),
        );
    }
    Some(Arc::new(move |ctx: &ReplicaContext| Box::new(VllmV1Scheduler::new(ctx, chunk_size, batch_size_cap)) as Box<dyn ReplicaScheduler>))
}

/// The vllm_v1 scheduler of one replica.
#[derive(Clone, Debug)]
pub struct VllmV1Scheduler {
    chunk_size: u32,
    /// Most admitted (running) requests.
    batch_size_cap: usize,
    /// Most requests in one batch: the cap split among pipeline micro-batches.
    max_micro_batch_size: usize,
    kv: KvCacheManager,
    waiting: RequestQueue,
    /// Admitted requests in admission order; the last is the preemption victim.
    running: Vec<RequestId>,
    hit_blocks: Vec<u32>,
}

impl VllmV1Scheduler {
    /// A scheduler with the given budget and cap.
    pub fn new(ctx: &ReplicaContext, chunk_size: u32, batch_size_cap: u32) -> VllmV1Scheduler {
        VllmV1Scheduler {
            chunk_size,
            batch_size_cap: batch_size_cap as usize,
            max_micro_batch_size: (batch_size_cap / ctx.num_pipeline_stages.max(1)).max(1) as usize,
            kv: KvCacheManager::new(ctx.num_blocks as u32, ctx.block_size, ctx.enable_prefix_caching, ctx.num_preallocate_tokens),
            waiting: RequestQueue::new(ctx.queue, ctx.slo),
            running: Vec::new(),
            hit_blocks: Vec::new(),
        }
    }

    /// Preempts the newest running request not in flight; returns it. `None` when that would be
    /// `current` itself while another running request is in a batch: `current` then waits for
    /// that batch (preempting it could livelock two requests that each need the other's
    /// blocks under pipeline parallelism).
    fn preempt_newest(&mut self, current: RequestId, requests: &mut RequestArena) -> Option<RequestId> {
        let pos = self.running.iter().rposition(|id| !requests.get(*id).in_flight)?;
        if self.running[pos] == current && self.running.iter().any(|id| requests.get(*id).in_flight) {
            return None;
        }
        let victim = self.running.remove(pos);
        self.kv.free(victim);
        let r = requests.get_mut(victim);
        r.restart();
        self.waiting.push(r);
        Some(victim)
    }

    /// One scheduling pass; returns whether it preempted anything.
    fn schedule_pass(&mut self, requests: &mut RequestArena, plan: &mut BatchPlan) -> bool {
        let mut budget = self.chunk_size;
        let mut preempted = false;
        // Out of blocks this pass (preempted, or waiting for a batch in flight): admit no one.
        let mut starved = false;

        // Running requests first, in admission order.
        let mut i = 0;
        'running: while i < self.running.len() && budget > 0 && plan.len() < self.max_micro_batch_size {
            let id = self.running[i];
            let request = requests.get(id);
            if request.in_flight {
                i += 1;
                continue;
            }
            let n = request.next_num_tokens().min(budget);
            loop {
                if self.kv.allocate_slots(requests.get(id), n, &[]) {
                    plan.push(id, n);
                    requests.get_mut(id).in_flight = true;
                    budget -= n;
                    break;
                }
                starved = true;
                match self.preempt_newest(id, requests) {
                    Some(victim) => {
                        preempted = true;
                        if victim == id {
                            break 'running;
                        }
                    }
                    None => break 'running,
                }
            }
            i += 1;
        }

        // Then waiting requests, strictly in queue order (no skipping), unless blocks ran out.
        if !starved {
            while budget > 0 && self.running.len() < self.batch_size_cap && plan.len() < self.max_micro_batch_size {
                let Some(id) = self.waiting.peek() else { break };
                let cached = self.kv.computed_blocks(requests.get(id), &mut self.hit_blocks);
                let request = requests.get(id);
                debug_assert_eq!(request.num_processed_tokens, 0, "waiting requests hold no KV");
                let n = (request.num_prefill_tokens - cached).min(budget);
                if !self.kv.allocate_slots(request, n, &self.hit_blocks) {
                    break;
                }
                self.waiting.pop();
                self.running.push(id);
                let r = requests.get_mut(id);
                r.on_cache_hit(cached);
                r.state = RequestState::Running;
                r.in_flight = true;
                plan.push(id, n);
                budget -= n;
            }
        }
        preempted
    }
}

impl ReplicaScheduler for VllmV1Scheduler {
    fn add_request(&mut self, id: RequestId, requests: &mut RequestArena) -> Result<(), String> {
        let r = requests.get_mut(id);
        if blocks_needed(r, self.kv.block_size()) > u64::from(self.kv.num_blocks()) {
            return Err(never_fits(r, self.kv.block_size(), u64::from(self.kv.num_blocks())));
        }
        r.state = RequestState::Waiting;
        self.waiting.push(r);
        Ok(())
    }

    fn next_batch(&mut self, _now: SimTime, requests: &mut RequestArena, plan: &mut BatchPlan) {
        plan.clear();
        // A pass that only preempted (the victim was the first request it tried) freed blocks;
        // try again rather than leaving an idle replica with work (Vidur stalls here, §12.4).
        while self.schedule_pass(requests, plan) && plan.is_empty() {}
        debug_assert!(plan.total_tokens() <= self.chunk_size);
    }

    fn on_batch_end(&mut self, batch: &Batch, requests: &mut RequestArena) {
        let mut any_completed = false;
        for &id in &batch.plan.requests {
            let r = requests.get_mut(id);
            r.in_flight = false;
            if r.is_completed() {
                self.kv.free(id);
                any_completed = true;
            }
        }
        if any_completed {
            self.running.retain(|id| !requests.get(*id).is_completed());
        }
    }

    fn num_pending(&self) -> usize {
        self.waiting.len() + self.running.len()
    }

    fn evict_blocked(&mut self, requests: &mut RequestArena) -> Option<(RequestId, String)> {
        // With nothing running every block is free, and add_request refused what can never
        // fit, so this is unreachable; kept as the engine's last line against a stall.
        let id = self.waiting.pop()?;
        let tokens = requests.get(id).total_tokens();
        Some((id, format!("could not be scheduled ({tokens} tokens) with {} free of {} KV blocks and nothing running", self.kv.num_free(), self.kv.num_blocks())))
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

    fn check_invariants(&self, requests: &RequestArena) -> Result<(), String> {
        self.kv.check()?;
        for id in &self.running {
            if requests.get(*id).state != RequestState::Running {
                return Err(format!("request {} is in the running list but {:?}", id.0, requests.get(*id).state));
            }
        }
        if self.running.len() > self.batch_size_cap {
            return Err(format!("{} running requests exceed the cap of {}", self.running.len(), self.batch_size_cap));
        }
        Ok(())
    }
}
