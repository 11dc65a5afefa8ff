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
//! tokens wait or a number of iterations passed (not under attention DP, as in the engine).
//! Under attention DP with balancing on (`attention_dp_config.enable_balance`), each new
//! request goes to the rank with the fewest active requests, and new contexts are held back
//! until every rank has one to run, for up to `timeout_iters` iterations (`AdpBalance`). With
//! the overlap scheduler (on by default) each batch is formed while the previous one runs
//! (`overlap.rs`).

use std::sync::Arc;

use super::check_cap_covers_stages;
use super::dp_ranks::{DpRanks, RankDispatch};
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
        "guaranteed_no_evict (admit when KV for the whole request is free) or max_utilization (admit what fits the next step; pause the newest when KV runs out).",
    ),
    FlagDef::bool(
        "trtllm_scheduler_config_enable_chunked_context",
        "false",
        "Split prompts into chunks sharing each iteration's token budget with generation; off: whole prompts.",
    ),
    FlagDef::bool(
        "trtllm_scheduler_config_overlap_scheduler",
        "true",
        "Form each batch while the previous one runs (TensorRT-LLM's overlap scheduler): a request arriving during a batch joins the batch after next unless the replica is idle.",
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
    FlagDef::bool(
        "trtllm_scheduler_config_attention_dp_enable_balance",
        "false",
        "Attention-DP balancing (attention_dp_config.enable_balance): with attention DP, hold new contexts back until every rank has one, for up to the timeout.",
    ),
    FlagDef::int(
        "trtllm_scheduler_config_attention_dp_timeout_iters",
        "50",
        "Attention-DP balancing: iterations after which waiting contexts run anyway (attention_dp_config.timeout_iters).",
    ),
    FlagDef::int(
        "trtllm_scheduler_config_attention_dp_batching_wait_iters",
        "10",
        "Attention-DP balancing: iterations to hold contexts back for more company once every rank has one (attention_dp_config.batching_wait_iters).",
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
    /// Attention-DP balancing on.
    pub attention_dp_enable_balance: bool,
    /// Attention-DP balancing: iterations after which held contexts run.
    pub attention_dp_timeout_iters: u32,
    /// Attention-DP balancing: iterations contexts wait for company once every rank has one.
    pub attention_dp_batching_wait_iters: u32,
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
        attention_dp_enable_balance: p.bool("trtllm_scheduler_config_attention_dp_enable_balance"),
        attention_dp_timeout_iters: p.int_in("trtllm_scheduler_config_attention_dp_timeout_iters", 0, 1 << 20)
            as u32,
        attention_dp_batching_wait_iters: p.int_in(
            "trtllm_scheduler_config_attention_dp_batching_wait_iters",
            0,
            1 << 20,
        ) as u32,
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
    /// The attention-DP ranks, with more than one: each schedules its own requests within
    /// its own `max_num_tokens` and `max_batch_size`, and the engine skips batch waiting.
    ranks: Option<DpRanks>,
    /// Attention-DP balancing, with attention DP and `enable_balance`.
    balance: Option<AdpBalance>,
    /// Per rank, the batch being formed: tokens, requests, and whether its walk stopped.
    rank_tokens: Vec<u32>,
    rank_scheduled: Vec<usize>,
    rank_stopped: Vec<bool>,
}

/// TensorRT-LLM's attention-DP balancing (`PyExecutor._balance_adp_requests`): each
/// iteration the ranks compare what they scheduled. Unless every rank has a context to run (and a free slot), the
/// contexts of all ranks are held back, the wait counter grows, and they run when it reaches
/// `timeout_iters` (the counter then restarts) or when some rank has no generation request.
/// The counter also grows in iterations with no context at all, so a lone new context waits
/// for the rest of the current cycle. Once every rank has a context, they may wait
/// `batching_wait_iters` more iterations for company while every rank generates.
#[derive(Clone, Debug)]
struct AdpBalance {
    timeout_iters: u32,
    batching_wait_iters: u32,
    waiting_iters: u32,
    batching_iters: u32,
    /// Per rank, this iteration: a context scheduled, generation requests scheduled.
    has_context: Vec<bool>,
    generation: Vec<u32>,
}

impl AdpBalance {
    fn new(ranks: u32, options: &TrtllmOptions) -> AdpBalance {
        let ranks = ranks.max(1) as usize;
        AdpBalance {
            timeout_iters: options.attention_dp_timeout_iters,
            batching_wait_iters: options.attention_dp_batching_wait_iters,
            waiting_iters: 0,
            batching_iters: 0,
            has_context: vec![false; ranks],
            generation: vec![0; ranks],
        }
    }

    /// Whether this iteration's contexts are held back, given the batch planned so far and
    /// each rank's request cap; advances the counters as the engine does.
    fn hold_contexts(
        &mut self,
        plan: &BatchPlan,
        requests: &RequestArena,
        ranks: &DpRanks,
        max_batch_size: u32,
    ) -> bool {
        self.has_context.fill(false);
        self.generation.fill(0);
        for &id in &plan.requests {
            let rank = ranks.of(id);
            if requests.get(id).is_prefill_complete {
                self.generation[rank] += 1;
            } else {
                self.has_context[rank] = true;
            }
        }
        let every_rank_has_context = self.has_context.iter().all(|&c| c);
        let every_rank_generates = self.generation.iter().all(|&g| g > 0);
        let every_rank_has_room = self.generation.iter().all(|&g| g < max_batch_size);
        if every_rank_has_room && every_rank_has_context {
            self.waiting_iters = 0;
            // The batching-wait count moves only while every rank generates.
            if every_rank_generates {
                if self.batching_iters < self.batching_wait_iters {
                    self.batching_iters += 1;
                    return true;
                }
                self.batching_iters = 0;
            }
            false
        } else {
            self.waiting_iters += 1;
            if self.waiting_iters >= self.timeout_iters || !every_rank_generates {
                self.waiting_iters = 0;
                return false;
            }
            true
        }
    }
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
            // A new request goes to the rank with the fewest active requests.
            ranks: (ctx.attention_dp_size > 1)
                .then(|| DpRanks::new(ctx.attention_dp_size, RankDispatch::FewestActive)),
            balance: (options.attention_dp_enable_balance && ctx.attention_dp_size > 1)
                .then(|| AdpBalance::new(ctx.attention_dp_size, &options)),
            rank_tokens: Vec::new(),
            rank_scheduled: Vec::new(),
            rank_stopped: Vec::new(),
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
        let max = self.max_active();
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
            if self.ranks.as_ref().is_some_and(|r| !r.has_room_for(id, self.options.max_batch_size)) {
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
            if let Some(ranks) = self.ranks.as_mut() {
                ranks.assign(id);
            }
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
        let num_ranks = self.num_ranks();
        // Each attention-DP rank walks its own requests within its own budgets (one rank
        // without attention DP); a rank's walk stops at its first request that does not fit.
        self.rank_tokens.clear();
        self.rank_tokens.resize(num_ranks, 0);
        self.rank_scheduled.clear();
        self.rank_scheduled.resize(num_ranks, 0);
        self.rank_stopped.clear();
        self.rank_stopped.resize(num_ranks, false);
        let rank_of = |id: RequestId| self.ranks.as_ref().map_or(0, |r| r.of(id));
        let mut num_generation = 0usize;
        let mut generation_tokens = 0u32;
        self.contexts.clear();
        // 1. Generation requests, and (without chunking) whole contexts, in order.
        let order: Vec<RequestId> = self.active.iter().chain(&self.candidates).copied().collect();
        for id in order {
            let request = requests.get(id);
            let rank = rank_of(id);
            if request.in_flight || self.rank_stopped[rank] {
                continue;
            }
            let tokens = &mut self.rank_tokens[rank];
            if request.is_prefill_complete {
                // One token, or with speculative decoding the k + 1 a step verifies: TensorRT-LLM
                // counts a generation request's draft tokens against max_num_tokens.
                let n = request.next_num_tokens();
                if *tokens + n > max_tokens {
                    self.rank_stopped[rank] = true;
                    continue;
                }
                plan.push(id, n);
                *tokens += n;
                num_generation += 1;
                generation_tokens += n;
            } else if self.options.chunked_context {
                self.contexts.push(id);
            } else {
                let prompt = request.num_prefill_tokens - request.num_processed_tokens;
                if *tokens + prompt > max_tokens {
                    self.rank_stopped[rank] = true;
                    continue;
                }
                plan.push(id, prompt);
                *tokens += prompt;
            }
            self.rank_scheduled[rank] += 1;
            if self.rank_scheduled[rank] >= max_batch {
                self.rank_stopped[rank] = true;
            }
        }
        // 2. With chunking, each rank's contexts share what its generation left, first come
        // first served; a truncated chunk is a whole number of KV blocks when the budget
        // allows one.
        if self.options.chunked_context {
            let unit = self.kv.block_size();
            for &id in &self.contexts {
                let rank = rank_of(id);
                let capacity = max_tokens - self.rank_tokens[rank];
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
                    self.rank_tokens[rank] += chunk;
                }
            }
        }
        // 3. Attention-DP balancing: contexts wait until every rank has one.
        if let (Some(balance), Some(ranks)) = (self.balance.as_mut(), self.ranks.as_ref())
            && balance.hold_contexts(plan, requests, ranks, self.options.max_batch_size)
        {
            retain_generation(plan, requests);
        }
        // 4. Batch waiting (without attention DP, `PyExecutor._schedule`): while generation runs, new contexts wait for company.
        let num_contexts = plan.len() - num_generation;
        if self.ranks.is_none() && self.batch_waiting() && num_contexts > 0 && num_generation > 0 {
            let context_tokens: u32 = plan
                .requests
                .iter()
                .filter(|id| !requests.get(**id).is_prefill_complete)
                .map(|id| requests.get(*id).num_prefill_tokens)
                .sum();
            let scheduled_tokens = f64::from(context_tokens) + f64::from(generation_tokens);
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

    /// Attention-DP ranks (1 without attention DP).
    fn num_ranks(&self) -> usize {
        self.ranks.as_ref().map_or(1, DpRanks::num_ranks)
    }

    /// Most started requests of the replica: `max_batch_size` per attention-DP rank.
    fn max_active(&self) -> usize {
        (self.options.max_batch_size as usize).saturating_mul(self.num_ranks())
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
        self.ahead = self.ahead.form(now, plan, |cutoff, plan| self.form(cutoff, requests, plan));
        let num_ranks = self.num_ranks() as u64;
        debug_assert!(u64::from(plan.total_tokens()) <= u64::from(self.options.max_num_tokens) * num_ranks);
    }

    fn on_batch_end(&mut self, _batch: &Batch, completed: &[RequestId], requests: &mut RequestArena) {
        let ranks = &mut self.ranks;
        release_completed(completed, requests, &mut self.active, |r| {
            self.kv.free(r);
            if let Some(ranks) = ranks.as_mut() {
                ranks.release(r.id);
            }
        });
    }

    fn num_pending(&self) -> usize {
        self.waiting.len() + self.active.len()
    }

    fn evict_blocked(&mut self, requests: &mut RequestArena) -> Option<(RequestId, String)> {
        // With nothing running every block is free and add_request refused what can never
        // fit; kept as the engine's last line against a stall.
        let id = self.waiting.pop()?;
        if let Some(ranks) = self.ranks.as_mut() {
            ranks.release(id);
        }
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
        if let Some(ranks) = self.ranks.as_mut() {
            ranks.release(id);
        }
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
        if self.active.len() >= self.max_active()
            || self.ranks.as_ref().is_some_and(|r| !r.has_room_for(id, self.options.max_batch_size))
        {
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
        if let Some(ranks) = self.ranks.as_mut() {
            ranks.assign(id);
        }
        self.active.push(id);
        let r = requests.get_mut(id);
        r.state = RequestState::Running;
        r.in_flight = true;
        Ok(true)
    }

    fn dp_rank(&self, id: RequestId) -> Option<usize> {
        self.ranks.as_ref().and_then(|ranks| ranks.get(id))
    }

    fn assigns_dp_ranks(&self) -> bool {
        self.ranks.is_some()
    }

    fn check_invariants(&self, requests: &RequestArena) -> Result<(), String> {
        self.kv.check()?;
        for id in &self.active {
            if requests.get(*id).state != RequestState::Running {
                return Err(format!("request {} is active but {:?}", id.0, requests.get(*id).state));
            }
        }
        if self.active.len() > self.max_active() {
            return Err(format!(
                "{} active requests exceed max_batch_size {} per rank",
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
            attention_dp_enable_balance: false,
            attention_dp_timeout_iters: 50,
            attention_dp_batching_wait_iters: 10,
        }
    }

    /// A replica of `ranks` attention-DP ranks with balancing on.
    fn balanced(ranks: u32, timeout_iters: u32, batching_wait_iters: u32) -> Harness {
        let options = TrtllmOptions {
            attention_dp_enable_balance: true,
            attention_dp_timeout_iters: timeout_iters,
            attention_dp_batching_wait_iters: batching_wait_iters,
            ..options()
        };
        let context = ReplicaContext { attention_dp_size: ranks, ..ctx(100, 16, 1) };
        Harness::new(Box::new(TrtllmScheduler::new(&context, options)))
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
    fn a_speculating_generation_request_verifies_its_drafts_within_the_token_budget() {
        // MTP with k = 3: after its prompt, R0 verifies 4 tokens a step, counted against the
        // 64-token budget, so R1's 60-token prompt waits beside them (4 + 60 = 64 fits, R2's
        // 1 more does not: the walk stops there) and the last step verifies only what is left.
        let mut h = harness(100, options());
        h.add(24, 6);
        h.add(60, 4);
        h.add(1, 4);
        h.requests.get_mut(RequestId(0)).num_speculative_tokens = 3;
        assert_eq!(h.step(), [(0, 24)]);
        assert_eq!(h.step(), [(0, 4), (1, 60)]);
        assert_eq!(h.step(), [(0, 1), (1, 1), (2, 1)], "5 of R0's 6 outputs done: one left");
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
            let completed =
                crate::scheduler::replica::testkit::end_iterations(&batch, &mut h.requests, SimTime(now));
            h.scheduler.on_batch_end(&batch, &completed, &mut h.requests);
            crate::scheduler::replica::testkit::pairs(&batch)
        };
        assert_eq!(run(&mut h, 0), [(0, 16)]);
        h.add_at(5, 16, 8).1.unwrap();
        assert_eq!(run(&mut h, 10), [(0, 1)], "formed when the batch of t = 0 started");
        assert_eq!(run(&mut h, 20), [(0, 1), (1, 16)]);
    }

    #[test]
    fn attention_dp_balancing_holds_a_lone_context_until_the_wait_cycle_ends() {
        // Two ranks, timeout 3 iterations, no batching wait.
        let mut h = balanced(2, 3, 0);
        h.add(8, 20);
        h.add(8, 20);
        // R0 goes to rank 0, R1 to rank 1: every rank has a context, both run.
        assert_eq!(h.step(), [(0, 8), (1, 8)]);
        // No context: the wait counter still counts (1).
        assert_eq!(h.step(), [(0, 1), (1, 1)]);
        // R2 goes to rank 0 (one request each, the lower index); rank 1 has no context: held (2).
        h.add(8, 4);
        assert_eq!(h.step(), [(0, 1), (1, 1)]);
        // The counter reaches 3: every held context runs, and the counter restarts.
        assert_eq!(h.step(), [(0, 1), (1, 1), (2, 8)]);
        // R3 goes to rank 1 (rank 0 has two), R4 to rank 0: both ranks have one, no wait.
        h.add(8, 4);
        h.add(8, 4);
        assert_eq!(h.step(), [(0, 1), (1, 1), (2, 1), (3, 8), (4, 8)]);
    }

    #[test]
    fn attention_dp_balancing_waits_for_company_then_runs_when_a_rank_is_idle() {
        // Batching wait of 1 iteration once every rank has a context and generates.
        let mut h = balanced(2, 50, 1);
        h.add(8, 20);
        h.add(8, 20);
        assert_eq!(h.step(), [(0, 8), (1, 8)], "no rank generates yet: no wait");
        h.add(8, 4);
        h.add(8, 4);
        assert_eq!(h.step(), [(0, 1), (1, 1)], "one iteration of batching wait");
        assert_eq!(h.step(), [(0, 1), (1, 1), (2, 8), (3, 8)]);
        // A rank with no generation request never holds contexts back.
        let mut h = balanced(2, 50, 0);
        h.add(8, 2);
        assert_eq!(h.step(), [(0, 8)]);
        h.add(8, 2);
        assert_eq!(h.step(), [(0, 1), (1, 8)], "R1 is rank 1's only request: it runs at once");
    }

    #[test]
    fn balancing_needs_attention_dp_and_replaces_batch_waiting() {
        // One rank: balancing is off and batch waiting applies as without it.
        let options = TrtllmOptions {
            attention_dp_enable_balance: true,
            batch_wait_timeout_iters: 2,
            batch_wait_max_tokens_ratio: 0.5,
            ..options()
        };
        let mut h = Harness::new(Box::new(TrtllmScheduler::new(&ctx(100, 16, 1), options)));
        h.add(8, 10);
        assert_eq!(h.step(), [(0, 8)]);
        h.add(8, 4);
        assert_eq!(h.step(), [(0, 1)], "batch waiting holds R1");
        // Two ranks with batch waiting set: the engine skips batch waiting under attention DP.
        let context = ReplicaContext { attention_dp_size: 2, ..ctx(100, 16, 1) };
        let options = TrtllmOptions { attention_dp_enable_balance: false, ..options };
        let mut h = Harness::new(Box::new(TrtllmScheduler::new(&context, options)));
        h.add(8, 10);
        assert_eq!(h.step(), [(0, 8)]);
        h.add(8, 4);
        assert_eq!(h.step(), [(0, 1), (1, 8)], "no batch waiting under attention DP");
    }

    #[test]
    fn each_attention_dp_rank_has_its_own_token_budget_and_walk() {
        // Budget 64 tokens per rank. One rank: two 40-token prompts run one after the other.
        let mut h = harness(100, options());
        assert!(!h.scheduler.assigns_dp_ranks(), "one rank: nothing to ask the scheduler");
        h.add(40, 4);
        h.add(40, 4);
        assert_eq!(h.step(), [(0, 40)]);
        // Two ranks (no balancing): R0 on rank 0, R1 on rank 1, both at once (80 tokens).
        let context = ReplicaContext { attention_dp_size: 2, ..ctx(100, 16, 1) };
        let mut h = Harness::new(Box::new(TrtllmScheduler::new(&context, options())));
        assert!(h.scheduler.assigns_dp_ranks(), "the engine asks for each request's rank");
        h.add(40, 4);
        h.add(40, 4);
        assert_eq!(h.step(), [(0, 40), (1, 40)]);
        // R2 and R4 go to rank 0, R3 to rank 1 (the least-loaded rank, the lower index among
        // equals). R2's 64 tokens do not fit beside rank 0's generation token and stop rank
        // 0's walk, so R4 waits behind it while rank 1 starts R3.
        h.add(64, 4);
        h.add(8, 4);
        h.add(8, 4);
        assert_eq!(h.step(), [(0, 1), (1, 1), (3, 8)]);
    }

    #[test]
    fn each_attention_dp_rank_admits_at_most_max_batch_size_requests() {
        // Cap 1 request per rank, two ranks: R0 and R1 start together, R2 waits for a slot.
        let context = ReplicaContext { attention_dp_size: 2, ..ctx(100, 16, 1) };
        let options = TrtllmOptions { max_batch_size: 1, ..options() };
        let mut h = Harness::new(Box::new(TrtllmScheduler::new(&context, options)));
        h.add(8, 2);
        h.add(8, 2);
        h.add(8, 2);
        assert_eq!(h.step(), [(0, 8), (1, 8)]);
        assert_eq!(h.step(), [(0, 1), (1, 1)]);
        assert_eq!(h.step(), [(2, 8)], "R0 and R1 finished: R2 takes a free rank");
    }
}
