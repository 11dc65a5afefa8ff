//! `trtllm`: TensorRT-LLM's in-flight batching (the PyTorch backend's `PyExecutor` over the
//! C++ capacity and micro-batch schedulers; docs/policies.md cites the sources).
//!
//! Every iteration, the capacity scheduler decides which requests may hold KV cache: under
//! `guaranteed_no_evict` (the default) the started requests keep what they need to finish and
//! a waiting request is admitted, in arrival order, only when blocks for its whole prompt and
//! all its output tokens are free besides those; the first that does not fit stops admission.
//! Under `max_utilization` a waiting request needs only the blocks of its next step, and when a
//! started request cannot get its next block the most recently started one is paused (its KV
//! freed, recomputed later). The micro-batch scheduler then walks the admitted requests in
//! order (started ones first) up to `max_batch_size`, charging one token per generation
//! request and, without chunked context, a context request's whole prompt, and stops at the
//! first that does not fit in `max_num_tokens`; with chunked context the contexts share what
//! the generation tokens leave, first come first served, in whole KV blocks. Optional batch
//! waiting holds new contexts back (the batch runs generation only) until enough context
//! tokens wait or a number of iterations passed. With the overlap scheduler (on by default)
//! each batch is formed while the previous one runs (`overlap.rs`).

use std::sync::Arc;

use super::check_cap_covers_stages;
use super::overlap::OneStepAhead;
use super::{
    PoolRole, ReplicaContext, ReplicaScheduler, ReplicaSchedulerFactory, RequestQueue, blocks_needed,
    check_fits, release_completed,
};
use crate::batch::{Batch, BatchPlan};
use crate::config::{FlagDef, Params};
use crate::kv::{KvCacheManager, KvUsage, PrefixCacheStats};
use crate::request::{Request, RequestArena, RequestId, RequestState};
use crate::time::SimTime;

pub(super) const FLAGS: &[FlagDef] = &[
    FlagDef::int(
        "trtllm_scheduler_config_max_num_tokens",
        "8192",
        "Tokens per iteration (TensorRT-LLM's max_num_tokens): generation tokens and context tokens together.",
    ),
    FlagDef::int(
        "trtllm_scheduler_config_batch_size_cap",
        "2048",
        "Requests admitted at once and per iteration (TensorRT-LLM's max_batch_size); divided among pipeline micro-batches.",
    ),
    FlagDef::choice(
        "trtllm_scheduler_config_capacity_scheduler_policy",
        &["guaranteed_no_evict", "max_utilization"],
        "guaranteed_no_evict",
        "guaranteed_no_evict: admit a request only when KV for its whole prompt and output is free besides what started requests still need; max_utilization: admit what fits the next step and pause the newest request when KV runs out.",
    ),
    FlagDef::bool(
        "trtllm_scheduler_config_enable_chunked_context",
        "false",
        "Split prompts into chunks that share each iteration's token budget with generation (enable_chunked_prefill); off: a prompt runs whole, and waits until it fits.",
    ),
    FlagDef::bool(
        "trtllm_scheduler_config_overlap_scheduler",
        "true",
        "Form each batch while the previous one runs (TensorRT-LLM's overlap scheduler, on unless disable_overlap_scheduler): a request arriving during a batch joins the batch after next unless the replica is idle. With pipeline stages the micro-batches overlap already and this changes nothing.",
    ),
    FlagDef::int(
        "trtllm_scheduler_config_batch_wait_timeout_iters",
        "0",
        "Batch waiting: hold new contexts back for up to this many iterations while generation runs (batch_wait_timeout_iters; 0 with a 0 ratio = off).",
    ),
    FlagDef::float(
        "trtllm_scheduler_config_batch_wait_max_tokens_ratio",
        "0",
        "Batch waiting: stop holding contexts back once the iteration's tokens reach this fraction of max_num_tokens (batch_wait_max_tokens_ratio).",
    ),
];

/// The capacity scheduler's policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapacityPolicy {
    /// Reserve every admitted request's whole KV need; never evict.
    GuaranteedNoEvict,
    /// Admit what fits the next step; pause the newest request when KV runs out.
    MaxUtilization,
}

/// TensorRT-LLM's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrtllmOptions {
    /// Tokens per iteration.
    pub max_num_tokens: u32,
    /// Requests admitted at once (and per iteration with one pipeline stage).
    pub max_batch_size: u32,
    /// The capacity scheduler's policy.
    pub policy: CapacityPolicy,
    /// Chunked context.
    pub chunked_context: bool,
    /// The overlap scheduler.
    pub overlap: bool,
    /// Batch waiting: most iterations new contexts are held back.
    pub batch_wait_timeout_iters: u32,
    /// Batch waiting: the share of `max_num_tokens` that ends the wait.
    pub batch_wait_max_tokens_ratio: f64,
}

pub(super) fn parse(p: &mut Params) -> Option<ReplicaSchedulerFactory> {
    let options = TrtllmOptions {
        max_num_tokens: p.int_in("trtllm_scheduler_config_max_num_tokens", 1, 1 << 24) as u32,
        max_batch_size: p.int_in("trtllm_scheduler_config_batch_size_cap", 1, 1 << 20) as u32,
        policy: match p.string("trtllm_scheduler_config_capacity_scheduler_policy").as_str() {
            "max_utilization" => CapacityPolicy::MaxUtilization,
            _ => CapacityPolicy::GuaranteedNoEvict,
        },
        chunked_context: p.bool("trtllm_scheduler_config_enable_chunked_context"),
        overlap: p.bool("trtllm_scheduler_config_overlap_scheduler"),
        batch_wait_timeout_iters: p.int_in("trtllm_scheduler_config_batch_wait_timeout_iters", 0, 1 << 20)
            as u32,
        batch_wait_max_tokens_ratio: p.float_in(
            "trtllm_scheduler_config_batch_wait_max_tokens_ratio",
            0.0,
            1.0,
        ),
    };
    check_cap_covers_stages(p, "trtllm_scheduler_config_batch_size_cap", options.max_batch_size);
    Some(Arc::new(move |ctx: &ReplicaContext| {
        Box::new(TrtllmScheduler::new(ctx, options)) as Box<dyn ReplicaScheduler>
    }))
}

/// The trtllm scheduler of one replica.
#[derive(Clone, Debug)]
pub struct TrtllmScheduler {
    options: TrtllmOptions,
    /// Most requests in one batch: the cap split among pipeline micro-batches.
    max_micro_batch_size: usize,
    kv: KvCacheManager,
    waiting: RequestQueue,
    /// Started requests (holding KV), in admission order; the last is the one paused first.
    active: Vec<RequestId>,
    ahead: OneStepAhead,
    /// Iterations new contexts have been held back by batch waiting.
    waited_iters: u32,
    /// Waiting requests taken out of the queue while a batch is formed.
    candidates: Vec<RequestId>,
    /// Context requests of the batch being formed that the micro-batch scheduler chunks.
    contexts: Vec<RequestId>,
    hit_blocks: Vec<u32>,
    /// The pool this replica serves.
    role: PoolRole,
}

impl TrtllmScheduler {
    /// A scheduler with `options`.
    pub fn new(ctx: &ReplicaContext, options: TrtllmOptions) -> TrtllmScheduler {
        let stages = ctx.num_pipeline_stages.max(1);
        TrtllmScheduler {
            options,
            max_micro_batch_size: (options.max_batch_size / stages).max(1) as usize,
            kv: KvCacheManager::new(ctx.num_blocks as u32, ctx.block_size, ctx.enable_prefix_caching, 0),
            waiting: RequestQueue::new(ctx.queue, ctx.slo),
            active: Vec::new(),
            // With pipeline stages, up to PP micro-batches are in flight anyway.
            ahead: OneStepAhead::new(options.overlap && stages == 1),
            waited_iters: 0,
            candidates: Vec::new(),
            contexts: Vec::new(),
            hit_blocks: Vec::new(),
            role: ctx.pool,
        }
    }

    /// Blocks the capacity scheduler reserves for a new request under guaranteed_no_evict:
    /// its prompt and output, or on a context server its prompt and the one token a
    /// context-only request produces (the disaggregated server sends it with `max_tokens` 1).
    fn reservation(&self, request: &Request) -> u64 {
        super::blocks_held(request, self.kv.block_size(), self.role)
    }

    /// Blocks `request` still needs to finish, beyond those it holds.
    fn remaining_blocks(&self, request: &Request) -> u64 {
        self.reservation(request).saturating_sub(self.kv.blocks_of(request) as u64)
    }

    /// The capacity scheduler: takes the waiting requests (received by `cutoff`) that may start
    /// this iteration out of the queue, into `candidates`, in order.
    fn admit(&mut self, cutoff: SimTime, requests: &RequestArena) {
        self.candidates.clear();
        let max = self.options.max_batch_size as usize;
        // Free blocks beyond what the started requests still need (guaranteed_no_evict).
        let mut available: u64 = u64::from(self.kv.num_free());
        if self.options.policy == CapacityPolicy::GuaranteedNoEvict {
            let reserved: u64 = self.active.iter().map(|id| self.remaining_blocks(requests.get(*id))).sum();
            available = available.saturating_sub(reserved);
        }
        while self.active.len() + self.candidates.len() < max {
            let Some(id) = self.waiting.peek() else { break };
            let request = requests.get(id);
            if request.received_at > cutoff {
                break;
            }
            let need = match self.options.policy {
                CapacityPolicy::GuaranteedNoEvict => self.reservation(request),
                // The blocks of its first step; the allocation below is the real check.
                CapacityPolicy::MaxUtilization => 0,
            };
            if need > available {
                break;
            }
            available -= need;
            self.waiting.pop();
            self.candidates.push(id);
        }
    }

    /// Pauses the most recently started request not in flight (max_utilization), freeing its
    /// KV; it restarts by recompute. Returns it.
    fn pause_newest(&mut self, requests: &mut RequestArena) -> Option<RequestId> {
        let pos = self.active.iter().rposition(|id| !requests.get(*id).in_flight)?;
        let victim = self.active.remove(pos);
        let r = requests.get_mut(victim);
        self.kv.free(r);
        r.restart();
        self.waiting.push(r);
        Some(victim)
    }

    /// One pass of the capacity and micro-batch schedulers with arrivals up to `cutoff`.
    fn form(&mut self, cutoff: SimTime, requests: &mut RequestArena, plan: &mut BatchPlan) {
        self.admit(cutoff, requests);
        let max_tokens = self.options.max_num_tokens;
        let max_batch = self.max_micro_batch_size;
        let mut tokens = 0u32;
        let mut num_generation = 0usize;
        self.contexts.clear();
        // 1. Generation requests, and (without chunking) whole contexts, in order.
        let order: Vec<RequestId> = self.active.iter().chain(&self.candidates).copied().collect();
        let mut scheduled = 0usize;
        for id in order {
            let request = requests.get(id);
            if request.in_flight {
                continue;
            }
            if request.is_prefill_complete {
                if tokens + 1 > max_tokens {
                    break;
                }
                plan.push(id, 1);
                tokens += 1;
                num_generation += 1;
            } else if self.options.chunked_context {
                self.contexts.push(id);
            } else {
                let prompt = request.num_prefill_tokens - request.num_processed_tokens;
                if tokens + prompt > max_tokens {
                    break;
                }
                plan.push(id, prompt);
                tokens += prompt;
            }
            scheduled += 1;
            if scheduled >= max_batch {
                break;
            }
        }
        // 2. With chunking, the contexts share what is left, first come first served; a
        // truncated chunk is a whole number of KV blocks when the budget allows one.
        if self.options.chunked_context {
            let unit = self.kv.block_size();
            let mut capacity = max_tokens - tokens;
            for &id in &self.contexts {
                let request = requests.get(id);
                let remaining = request.num_prefill_tokens - request.num_processed_tokens;
                // A budget smaller than a block still makes progress (TensorRT-LLM would not
                // start with max_num_tokens below tokens_per_block).
                let aligned = capacity / unit * unit;
                let chunk = if remaining <= capacity {
                    remaining
                } else if aligned > 0 {
                    aligned
                } else {
                    capacity
                };
                if chunk > 0 {
                    plan.push(id, chunk);
                    capacity -= chunk;
                }
            }
        }
        // 3. Batch waiting: while generation runs, new contexts wait for company.
        let num_contexts = plan.len() - num_generation;
        if self.batch_waiting() && num_contexts > 0 && num_generation > 0 {
            let context_tokens: u32 = plan
                .requests
                .iter()
                .filter(|id| !requests.get(**id).is_prefill_complete)
                .map(|id| requests.get(*id).num_prefill_tokens)
                .sum();
            let scheduled_tokens = f64::from(context_tokens) + num_generation as f64;
            let stop_waiting = self.waited_iters >= self.options.batch_wait_timeout_iters
                || scheduled_tokens >= self.options.batch_wait_max_tokens_ratio * f64::from(max_tokens);
            if stop_waiting {
                self.waited_iters = 0;
            } else {
                self.waited_iters += 1;
                retain_generation(plan, requests);
            }
        }
        self.allocate(requests, plan);
        // Admitted requests the micro-batch scheduler did not start wait on (unchanged).
        for &id in &self.candidates {
            if requests.get(id).state == RequestState::Waiting {
                self.waiting.push(requests.get(id));
            }
        }
        self.candidates.clear();
    }

    /// Allocates the planned tokens; new contexts start. Under guaranteed_no_evict the
    /// reservation guarantees every allocation; under max_utilization a request that cannot
    /// grow pauses the newest started request, and a new context that does not fit waits.
    fn allocate(&mut self, requests: &mut RequestArena, plan: &mut BatchPlan) {
        let mut i = 0;
        while i < plan.len() {
            let (id, n) = (plan.requests[i], plan.num_tokens[i]);
            let starting = requests.get(id).state == RequestState::Waiting;
            let cached =
                if starting { self.kv.computed_blocks(requests.get(id), &mut self.hit_blocks) } else { 0 };
            if !starting {
                self.hit_blocks.clear();
            }
            let n = n.saturating_sub(cached).max(1).min(n);
            loop {
                if self.kv.allocate_slots(requests.get(id), n, &self.hit_blocks) {
                    plan.num_tokens[i] = n;
                    let r = requests.get_mut(id);
                    r.in_flight = true;
                    if starting {
                        r.on_cache_hit(cached);
                        r.state = RequestState::Running;
                        self.active.push(id);
                    }
                    i += 1;
                    break;
                }
                debug_assert_eq!(self.options.policy, CapacityPolicy::MaxUtilization, "reserved blocks");
                // A new context that does not fit waits; a started request makes room.
                let victim = if starting { None } else { self.pause_newest(requests) };
                match victim {
                    Some(v) if v != id => {
                        if let Some(pos) = plan.requests.iter().position(|r| *r == v) {
                            // Paused before it ran: it leaves this batch too.
                            requests.get_mut(v).in_flight = false;
                            remove_at(plan, pos);
                            if pos < i {
                                i -= 1;
                            }
                        }
                    }
                    _ => {
                        remove_at(plan, i);
                        break;
                    }
                }
            }
        }
    }

    fn batch_waiting(&self) -> bool {
        self.options.batch_wait_timeout_iters > 0 || self.options.batch_wait_max_tokens_ratio > 0.0
    }
}

/// Drops the context requests from `plan` (batch waiting holds them back).
fn retain_generation(plan: &mut BatchPlan, requests: &RequestArena) {
    let mut i = 0;
    while i < plan.len() {
        if requests.get(plan.requests[i]).is_prefill_complete {
            i += 1;
        } else {
            remove_at(plan, i);
        }
    }
}

fn remove_at(plan: &mut BatchPlan, i: usize) {
    plan.requests.remove(i);
    plan.num_tokens.remove(i);
}

impl ReplicaScheduler for TrtllmScheduler {
    fn add_request(&mut self, id: RequestId, requests: &mut RequestArena) -> Result<(), String> {
        let r = requests.get_mut(id);
        check_fits(r, self.kv.block_size(), u64::from(self.kv.num_blocks()), self.role)?;
        if !self.options.chunked_context && r.num_prefill_tokens > self.options.max_num_tokens {
            return Err(format!(
                "its {}-token prompt exceeds max_num_tokens ({}) and chunked context is off",
                r.num_prefill_tokens, self.options.max_num_tokens
            ));
        }
        r.state = RequestState::Waiting;
        self.waiting.push(r);
        Ok(())
    }

    fn next_batch(&mut self, now: SimTime, requests: &mut RequestArena, plan: &mut BatchPlan) {
        plan.clear();
        let cutoff = self.ahead.cutoff(now);
        self.form(cutoff, requests, plan);
        if plan.is_empty() && cutoff < now {
            // Nothing was formed ahead: the engine is idle now and sees every arrival.
            self.form(now, requests, plan);
        }
        self.ahead.formed(now, !plan.is_empty());
        debug_assert!(plan.total_tokens() <= self.options.max_num_tokens);
    }

    fn on_batch_end(&mut self, batch: &Batch, requests: &mut RequestArena) {
        release_completed(batch, requests, &mut self.active, |r| self.kv.free(r));
    }

    fn num_pending(&self) -> usize {
        self.waiting.len() + self.active.len()
    }

    fn evict_blocked(&mut self, requests: &mut RequestArena) -> Option<(RequestId, String)> {
        // With nothing running every block is free and add_request refused what can never
        // fit; kept as the engine's last line against a stall.
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
        // The context phase is done: the request leaves the active set for the transmission
        // list (`DISAGG_CONTEXT_TRANS_IN_PROGRESS`), its blocks held until the KV is sent.
        self.active.retain(|r| *r != id);
        requests.get_mut(id).state = RequestState::Waiting;
    }

    fn release_handed_off(&mut self, id: RequestId, requests: &RequestArena) {
        self.kv.free(requests.get(id));
    }

    fn admit_transferred(&mut self, id: RequestId, requests: &mut RequestArena) -> Result<bool, String> {
        // A generation server's capacity scheduler takes a `DISAGG_GENERATION_INIT` request
        // like a new one (its whole prompt and output under guaranteed_no_evict), allocates
        // its context blocks, and receives the KV into them
        // (`DISAGG_GENERATION_TRANS_IN_PROGRESS`) before it joins generation.
        let r = requests.get(id);
        check_fits(r, self.kv.block_size(), u64::from(self.kv.num_blocks()), self.role)?;
        if self.active.len() >= self.options.max_batch_size as usize {
            return Ok(false);
        }
        if self.options.policy == CapacityPolicy::GuaranteedNoEvict {
            let reserved: u64 = self.active.iter().map(|id| self.remaining_blocks(requests.get(*id))).sum();
            let available = u64::from(self.kv.num_free()).saturating_sub(reserved);
            if blocks_needed(r, self.kv.block_size()) > available {
                return Ok(false);
            }
        }
        if !self.kv.allocate_slots(r, 0, &[]) {
            return Ok(false);
        }
        self.active.push(id);
        let r = requests.get_mut(id);
        r.state = RequestState::Running;
        r.in_flight = true;
        Ok(true)
    }

    fn check_invariants(&self, requests: &RequestArena) -> Result<(), String> {
        self.kv.check()?;
        for id in &self.active {
            if requests.get(*id).state != RequestState::Running {
                return Err(format!("request {} is active but {:?}", id.0, requests.get(*id).state));
            }
        }
        if self.active.len() > self.options.max_batch_size as usize {
            return Err(format!(
                "{} active requests exceed max_batch_size {}",
                self.active.len(),
                self.options.max_batch_size
            ));
        }
        if self.options.policy == CapacityPolicy::GuaranteedNoEvict {
            let reserved: u64 = self.active.iter().map(|id| self.remaining_blocks(requests.get(*id))).sum();
            if reserved > u64::from(self.kv.num_free()) {
                return Err(format!(
                    "started requests still need {reserved} blocks but only {} are free",
                    self.kv.num_free()
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::replica::testkit::{Harness, ctx};

    fn options() -> TrtllmOptions {
        TrtllmOptions {
            max_num_tokens: 64,
            max_batch_size: 8,
            policy: CapacityPolicy::GuaranteedNoEvict,
            chunked_context: false,
            overlap: false,
            batch_wait_timeout_iters: 0,
            batch_wait_max_tokens_ratio: 0.0,
        }
    }

    fn harness(num_blocks: u64, options: TrtllmOptions) -> Harness {
        Harness::new(Box::new(TrtllmScheduler::new(&ctx(num_blocks, 16, 1), options)))
    }

    #[test]
    fn guaranteed_no_evict_reserves_prompt_and_output_before_admitting() {
        // 10 blocks of 16 tokens. R0 needs (32 + 48) / 16 = 5 blocks, R1 (32 + 64) / 16 = 6: R1
        // waits for R0 to finish although R0 holds only 2 blocks after its prompt.
        let mut h = harness(10, options());
        h.add(32, 48);
        h.add(32, 64);
        assert_eq!(h.step(), [(0, 32)]);
        for _ in 0..47 {
            assert_eq!(h.step(), [(0, 1)]);
        }
        assert!(h.requests.get(RequestId(0)).is_completed());
        assert_eq!(h.step(), [(1, 32)]);
        assert_eq!(h.restarts(RequestId(1)), 0, "nothing is ever evicted");
    }

    #[test]
    fn max_utilization_admits_what_fits_now_and_pauses_the_newest_when_blocks_run_out() {
        // 10 blocks: R0 (48 + 48, 6 blocks at its end) and R1 (32 + 100, 9) each fit alone.
        // Both start (their prompts take 5 blocks; R1 waits a step for the token budget), and
        // when the blocks run out the newest (R1) is paused and recomputed later.
        let mut h = harness(10, TrtllmOptions { policy: CapacityPolicy::MaxUtilization, ..options() });
        h.add(48, 48);
        h.add(32, 100);
        assert_eq!(h.step(), [(0, 48)]);
        assert_eq!(h.step(), [(0, 1), (1, 32)]);
        h.drain(500);
        assert_eq!(h.restarts(RequestId(0)), 0);
        assert!(h.restarts(RequestId(1)) >= 1);
    }

    #[test]
    fn without_chunking_a_prompt_runs_whole_and_stops_the_walk_when_it_does_not_fit() {
        // Budget 64 tokens: R0 and R1 (24-token prompts) fit together; R2's 40-token prompt
        // does not fit beside them, and R3 (8 tokens), behind it, waits too.
        let mut h = harness(100, options());
        h.add(24, 4);
        h.add(24, 4);
        h.add(40, 4);
        h.add(8, 4);
        assert_eq!(h.step(), [(0, 24), (1, 24)]);
        // Two generation tokens, then R2's whole prompt (42 ≤ 64), then R3 (50 ≤ 64).
        assert_eq!(h.step(), [(0, 1), (1, 1), (2, 40), (3, 8)]);
    }

    #[test]
    fn chunked_context_fills_the_budget_left_by_generation_in_whole_blocks() {
        let mut h = harness(100, TrtllmOptions { chunked_context: true, ..options() });
        h.add(16, 4);
        h.add(100, 4);
        assert_eq!(h.step(), [(0, 16), (1, 48)], "R1's chunk: 48 of the 48 tokens left");
        // One generation token leaves 63: R1's remaining 52 tokens fit whole.
        assert_eq!(h.step(), [(0, 1), (1, 52)]);
    }

    #[test]
    fn batch_waiting_holds_contexts_back_while_generation_runs() {
        // Wait up to 2 iterations, or until the scheduled tokens reach 0.5 × 64 = 32.
        let mut h = harness(
            100,
            TrtllmOptions { batch_wait_timeout_iters: 2, batch_wait_max_tokens_ratio: 0.5, ..options() },
        );
        h.add(8, 10);
        assert_eq!(h.step(), [(0, 8)], "no generation yet: no waiting");
        h.add(8, 4);
        assert_eq!(h.step(), [(0, 1)], "9 tokens < 32: R1 waits");
        assert_eq!(h.step(), [(0, 1)]);
        assert_eq!(h.step(), [(0, 1), (1, 8)], "timed out after 2 iterations");
        // Enough context tokens end the wait at once.
        h.add(40, 4);
        assert_eq!(h.step(), [(0, 1), (1, 1), (2, 40)]);
    }

    #[test]
    fn prompts_beyond_the_token_budget_without_chunking_are_refused() {
        let mut h = harness(100, options());
        let (_, accepted) = h.add_at(0, 65, 1);
        assert!(accepted.unwrap_err().contains("exceeds max_num_tokens (64)"));
        let mut chunked = harness(100, TrtllmOptions { chunked_context: true, ..options() });
        assert!(chunked.add_at(0, 65, 1).1.is_ok());
    }

    #[test]
    fn the_overlap_scheduler_admits_arrivals_into_the_batch_after_next() {
        let mut h = harness(100, TrtllmOptions { overlap: true, ..options() });
        h.add_at(0, 16, 8).1.unwrap();
        let mut plan = BatchPlan::default();
        let mut run = |h: &mut Harness, now: u64| {
            h.scheduler.next_batch(SimTime(now), &mut h.requests, &mut plan);
            let batch = Batch { plan: plan.clone(), ..Batch::default() };
            for (&id, &n) in plan.requests.iter().zip(&plan.num_tokens) {
                h.requests.get_mut(id).on_iteration_end(n, SimTime(now));
            }
            h.scheduler.on_batch_end(&batch, &mut h.requests);
            crate::scheduler::replica::testkit::pairs(&batch)
        };
        assert_eq!(run(&mut h, 0), [(0, 16)]);
        h.add_at(5, 16, 8).1.unwrap();
        assert_eq!(run(&mut h, 10), [(0, 1)], "formed when the batch of t = 0 started");
        assert_eq!(run(&mut h, 20), [(0, 1), (1, 16)]);
    }
}
