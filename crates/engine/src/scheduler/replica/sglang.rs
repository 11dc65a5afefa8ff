//! `sglang`: SGLang's scheduler (`Scheduler.get_next_batch_to_run`, `PrefillAdder`,
//! `ScheduleBatch.retract_decode`; docs/policies.md cites the versions read).
//!
//! Prefill first: every iteration first tries to form a new prefill (extend) batch, and if one
//! can be admitted it runs alone, the decodes waiting that iteration (unless mixed chunking
//! appends them). Admission walks the waiting queue first come first served: the request being
//! chunked continues first, then whole prompts while they fit the chunk budget
//! (`chunked_prefill_size`), the prefill budget (`max_prefill_tokens`) and the KV budget; a
//! prompt longer than the chunk budget left is cut there and continues next time. The KV
//! budget is the free KV minus, for every running request, its remaining output (at most
//! 4096 tokens) times the new-token ratio, and for every admitted one its prompt plus its
//! output (at most 4096); a request that does not fit stops admission and no prefill is tried
//! again until a running request ends. The ratio starts at 0.7 × conservativeness and decays
//! linearly to 14 % of that over 600 decode iterations. Otherwise all running requests decode;
//! when the KV cache cannot hold their next tokens, the request with the fewest output tokens
//! (ties: the longest prompt) is retracted by recompute until they fit, and the ratio is
//! re-estimated from the survivors. With the overlap scheduler each batch is formed while the
//! previous one runs (`overlap.rs`). With `--scheduler-recv-interval N` the scheduler takes in
//! new requests only every N decode iterations (right after a prefill batch, and at once when
//! idle), so requests arriving meanwhile wait, the decodes running on, and join one prefill
//! batch together (`SchedulerRecvSkipper`).

use std::sync::Arc;

use super::check_cap_covers_stages;
use super::overlap::OneStepAhead;
use super::sglang_dp::SglangDpScheduler;
use super::{
    PoolRole, ReplicaContext, ReplicaScheduler, ReplicaSchedulerFactory, RequestQueue, check_fits,
    release_completed,
};
use crate::batch::{Batch, BatchPlan};
use crate::config::{ConfigError, FlagDef, Params};
use crate::exec::{SGLANG_OVERLAP_FLAG, sglang_overlap_schedule};
use crate::kv::{KvCacheManager, KvUsage, PrefixCacheStats};
use crate::request::{Request, RequestArena, RequestId, RequestState};
use crate::time::SimTime;

/// Output tokens a request's KV estimate counts at most (`SGLANG_CLIP_MAX_NEW_TOKENS_ESTIMATION`).
const CLIP_MAX_NEW_TOKENS: u32 = 4096;
/// The new-token ratio at conservativeness 1 (`SGLANG_INIT_NEW_TOKEN_RATIO`).
const INIT_NEW_TOKEN_RATIO: f64 = 0.7;
/// Its floor as a fraction of the initial ratio (`SGLANG_MIN_NEW_TOKEN_RATIO_FACTOR`).
const MIN_NEW_TOKEN_RATIO_FACTOR: f64 = 0.14;
/// Decode iterations over which the ratio decays to its floor (`SGLANG_NEW_TOKEN_RATIO_DECAY_STEPS`).
const NEW_TOKEN_RATIO_DECAY_STEPS: f64 = 600.0;
/// Decode steps a retraction's ratio estimate adds per surviving request (`retract_decode_steps`).
const RETRACT_DECODE_STEPS: u32 = 20;
/// Tokens a decode server keeps free per active request when it pre-allocates a transferred
/// request's KV (`SGLANG_NUM_RESERVED_DECODE_TOKENS`, `DecodePreallocQueue`).
const NUM_RESERVED_DECODE_TOKENS: u64 = 512;
/// What the receive skipper counts for an iteration after a batch that was neither a decode
/// nor idle, i.e. a prefill (`SGLANG_SCHEDULER_RECV_SKIPPER_WEIGHT_DEFAULT`; a decode, a
/// verification and an idle iteration count 1): the next iteration always receives.
const RECV_SKIPPER_WEIGHT_PREFILL: u32 = 1000;

/// SGLang's `max_running_requests` when speculating and not given
/// (`ServerArgs._handle_speculative_decoding`, 0.5.5-0.5.10.post1).
pub(super) const SPECULATIVE_MAX_RUNNING_REQUESTS: u32 = 48;

const MIXED_CHUNK: &str = "sglang_scheduler_config_enable_mixed_chunk";

pub(super) const FLAGS: &[FlagDef] = &[
    FlagDef::int(
        "sglang_scheduler_config_chunked_prefill_size",
        "8192",
        "Prompt tokens per prefill batch (SGLang's --chunked-prefill-size); a longer prompt is chunked.",
    ),
    FlagDef::int(
        "sglang_scheduler_config_max_prefill_tokens",
        "16384",
        "Most prompt tokens one prefill batch admits (--max-prefill-tokens).",
    ),
    FlagDef::opt_int(
        "sglang_scheduler_config_batch_size_cap",
        "none",
        "Most running requests (SGLang's --max-running-requests); none = SGLang's default from the KV cache size.",
    ),
    FlagDef::float(
        "sglang_scheduler_config_schedule_conservativeness",
        "1",
        "Scales the new-token ratio the KV budget reserves for running requests' outputs (--schedule-conservativeness).",
    ),
    FlagDef::bool(
        "sglang_scheduler_config_enable_mixed_chunk",
        "false",
        "Run the decodes with each prefill batch, within its chunk budget (--enable-mixed-chunk).",
    ),
    FlagDef::bool(
        SGLANG_OVERLAP_FLAG,
        "true",
        "Form each batch while the previous one runs (SGLang's overlap scheduler): a request arriving during a batch joins the batch after next unless the replica is idle.",
    ),
    FlagDef::float(
        "sglang_scheduler_config_non_overlap_cpu_overhead_ms",
        "0",
        "Host time each iteration pays in series with the GPU when the overlap scheduler is off (SGLang's event_loop_normal: scheduling, batch preparation, result processing), ms; 0 = none.",
    ),
    FlagDef::float(
        "sglang_scheduler_config_non_overlap_cpu_overhead_per_request_ms",
        "0",
        "With the overlap scheduler off, host time per request in the batch an iteration pays in series (per-request output processing), ms; 0 = none.",
    ),
    FlagDef::int(
        "sglang_scheduler_config_speculative_eagle_topk",
        "1",
        "Speculative decoding: candidates each draft step keeps per request (SGLang's --speculative-eagle-topk; 1 = a chain of --replica_config_num_speculative_tokens drafts, more = a draft tree).",
    ),
    FlagDef::opt_int(
        "sglang_scheduler_config_speculative_num_draft_tokens",
        "none",
        "Speculative decoding: tokens one verification runs per request (SGLang's --speculative-num-draft-tokens); none = num_speculative_tokens + 1, which top-1 always uses; a tree (top-k > 1) must give it.",
    ),
    FlagDef::int(
        "sglang_scheduler_config_scheduler_recv_interval",
        "1",
        "Take in new requests only every N decode iterations (SGLang's --scheduler-recv-interval; 1 = every iteration); the iteration after a prefill, or on an idle replica, always does.",
    ),
];

/// SGLang's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SglangOptions {
    /// Prompt tokens per prefill batch.
    pub chunked_prefill_size: u32,
    /// Most prompt tokens one prefill batch admits.
    pub max_prefill_tokens: u32,
    /// Most running requests (`None`: derived from the KV cache).
    pub max_running_requests: Option<u32>,
    /// Scales the new-token ratio.
    pub schedule_conservativeness: f64,
    /// Decodes ride along with prefill batches.
    pub mixed_chunk: bool,
    /// The overlap scheduler.
    pub overlap: bool,
    /// Decode iterations between two receptions of new requests (1: every iteration).
    pub recv_interval: u32,
}

pub(super) fn parse(p: &mut Params) -> Option<ReplicaSchedulerFactory> {
    // With speculative decoding SGLang turns the overlap scheduler off unless spec v2 is
    // enabled (`SGLANG_ENABLE_SPEC_V2`, off by default in 0.5.5-0.5.10.post1: an explicit
    // `--sglang_scheduler_config_overlap_schedule true` stands for it), and mixed chunks off
    // (`ServerArgs._handle_speculative_decoding`).
    let speculating =
        matches!(p.string("replica_config_speculative_method").as_str(), "mtp" | "eagle" | "draft_model");
    if speculating && p.config().is_set(MIXED_CHUNK) && p.bool(MIXED_CHUNK) {
        p.warn(format!("--{MIXED_CHUNK} is turned off with speculative decoding, as SGLang does"));
    }
    let overlap = sglang_overlap_schedule(p);
    let options = SglangOptions {
        chunked_prefill_size: p.int_in("sglang_scheduler_config_chunked_prefill_size", 1, 1 << 24) as u32,
        max_prefill_tokens: p.int_in("sglang_scheduler_config_max_prefill_tokens", 1, 1 << 24) as u32,
        // SGLang caps a speculating server at 48 running requests unless told otherwise.
        max_running_requests: p
            .opt_int("sglang_scheduler_config_batch_size_cap")
            .map(|n| n.clamp(1, 1 << 20) as u32)
            .or(speculating.then_some(SPECULATIVE_MAX_RUNNING_REQUESTS)),
        schedule_conservativeness: p.float_in(
            "sglang_scheduler_config_schedule_conservativeness",
            0.01,
            100.0,
        ),
        mixed_chunk: p.bool(MIXED_CHUNK) && !speculating,
        overlap,
        recv_interval: p.int_in("sglang_scheduler_config_scheduler_recv_interval", 1, 1 << 20) as u32,
    };
    // SGLang refuses the receive interval with DP attention (`SchedulerRecvSkipper` asserts
    // `not enable_dp_attention`): each rank would need its own counter.
    if options.recv_interval > 1 && p.int("replica_config_attention_dp_size") > 1 {
        p.error(
            ConfigError::new(
                "sglang_scheduler_config_scheduler_recv_interval",
                format!(
                    "{} needs attention DP off: SGLang reads new requests every iteration with DP attention",
                    options.recv_interval
                ),
            )
            .with_hint("use 1 with --replica_config_attention_dp_size above 1"),
        );
    }
    if let Some(n) = p.opt_int("sglang_scheduler_config_batch_size_cap") {
        if n < 1 {
            p.error(ConfigError::new(
                "sglang_scheduler_config_batch_size_cap",
                format!("{n} must be at least 1"),
            ));
        } else {
            check_cap_covers_stages(p, "sglang_scheduler_config_batch_size_cap", n as u32);
        }
    }
    Some(Arc::new(move |ctx: &ReplicaContext| {
        if ctx.attention_dp_size > 1 {
            // Each attention-DP rank schedules its own requests (`sglang_dp.rs`).
            Box::new(SglangDpScheduler::new(ctx, options)) as Box<dyn ReplicaScheduler>
        } else {
            Box::new(SglangScheduler::new(ctx, options)) as Box<dyn ReplicaScheduler>
        }
    }))
}

/// The sglang scheduler of one replica.
#[derive(Clone, Debug)]
pub struct SglangScheduler {
    options: SglangOptions,
    max_running: usize,
    kv: KvCacheManager,
    waiting: RequestQueue,
    /// Requests decoding, in admission order.
    running: Vec<RequestId>,
    /// The request whose prompt is being chunked (holds KV, not running).
    chunked: Option<RequestId>,
    /// Requests of the prefill batch in flight; they join `running` when it ends.
    prefilling: Vec<RequestId>,
    init_ratio: f64,
    min_ratio: f64,
    ratio_decay: f64,
    new_token_ratio: f64,
    /// A prefill found no room: none is tried again until a running request ends.
    batch_is_full: bool,
    ahead: OneStepAhead,
    /// Waiting requests taken out of the queue while a prefill batch is formed.
    taken: Vec<RequestId>,
    hit_blocks: Vec<u32>,
    /// The pool this replica serves.
    role: PoolRole,
    /// Decode side: transferred requests whose KV is pre-allocated and still arriving
    /// (SGLang's transfer queue); they join `running` once landed.
    transferring: Vec<RequestId>,
    /// Decode side: requests whose KV is pre-allocated before their prefill (SGLang's
    /// bootstrap: pre-allocated, in the transfer queue, the prefill not done yet); they move
    /// to `transferring` when their prefill ends ([`ReplicaScheduler::admit_transferred`]).
    reserved: Vec<RequestId>,
    /// The receive skipper: iterations counted since new requests were last taken in, and
    /// the latest arrival the scheduler has taken in.
    recv: RecvSkipper,
    /// Speculative decoding: the KV tokens a decode step needs free per running request
    /// (`ScheduleBatch.new_tokens_required_next_decode`); 0 when not speculating.
    spec_tokens_per_request: u64,
}

/// SGLang's `SchedulerRecvSkipper`: with `--scheduler-recv-interval N > 1`, the scheduler
/// reads its request socket only when the iterations since the last read, weighted by the
/// last batch's mode (decode and idle 1, anything else 1000), reach N.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RecvSkipper {
    interval: u32,
    counter: u32,
    /// The latest reception time of a request that has been taken in.
    received_until: SimTime,
    /// What the last iteration ran.
    last: LastBatch,
}

/// The mode of the last iteration's batch, as the skipper weighs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LastBatch {
    Idle,
    Decode,
    Prefill,
}

impl RecvSkipper {
    fn new(interval: u32) -> RecvSkipper {
        RecvSkipper {
            interval: interval.max(1),
            counter: 0,
            received_until: SimTime::ZERO,
            last: LastBatch::Idle,
        }
    }

    /// The latest arrival an iteration whose requests are read up to `cutoff` sees: `cutoff`
    /// when it reads the socket, else what the last read took in.
    fn receive(&mut self, cutoff: SimTime) -> SimTime {
        if self.interval <= 1 {
            return cutoff;
        }
        let weight = match self.last {
            LastBatch::Idle | LastBatch::Decode => 1,
            LastBatch::Prefill => RECV_SKIPPER_WEIGHT_PREFILL,
        };
        self.counter = self.counter.saturating_add(weight);
        if self.counter >= self.interval {
            self.counter = 0;
            self.received_until = self.received_until.max(cutoff);
        }
        self.received_until.min(cutoff)
    }

    /// An idle scheduler spins on its loop, each empty iteration counting 1: it reads the
    /// socket before any work can arrive unseen.
    fn receive_idle(&mut self, now: SimTime) -> SimTime {
        if self.interval > 1 {
            self.counter = 0;
            self.received_until = self.received_until.max(now);
        }
        now
    }
}

/// KV tokens SGLang requires free per running request before a speculative decode step
/// (`ScheduleBatch.new_tokens_required_next_decode`, 0.5.9-0.5.10.post1): max(num_steps × topk,
/// num_draft_tokens), each rounded up to whole pages with pages of several tokens (a tree's
/// draft branches one page more each), doubled under the overlap scheduler (spec v2
/// over-allocates a step ahead). Up to 0.5.8 it was the pages of the requests at a page
/// boundary × (num_draft_tokens + topk × num_steps) (`decode_mem_cache_buf_multiplier`): not
/// modelled.
fn spec_tokens_per_request(tree: crate::config::SpeculativeTree, page_size: u32, overlap: bool) -> u64 {
    let page = u64::from(page_size.max(1));
    let align = |n: u64| n.div_ceil(page) * page;
    let (steps, topk, draft) =
        (u64::from(tree.num_steps.max(1)), u64::from(tree.topk.max(1)), u64::from(tree.num_draft_tokens));
    let (per_branch, draft) = match (page > 1, topk > 1) {
        (true, true) => (align(steps + page), align(draft)),
        (true, false) => (align(steps), align(draft)),
        (false, _) => (steps, draft),
    };
    (per_branch * topk).max(draft) * if overlap { 2 } else { 1 }
}

impl SglangScheduler {
    /// A scheduler with `options`.
    pub fn new(ctx: &ReplicaContext, options: SglangOptions) -> SglangScheduler {
        let kv_tokens = ctx.num_blocks * u64::from(ctx.block_size);
        // SGLang's req_to_token pool size and its max_running_requests default.
        let pool = (kv_tokens * 512 / u64::from(ctx.max_model_len.max(1))).clamp(2048, 4096);
        let derived = (kv_tokens / 2).min(pool).max(1);
        // A linear-attention model's state pool caps it further (SGLang's `init_memory`).
        let max_running = options
            .max_running_requests
            .map_or(derived, u64::from)
            .min(ctx.max_running_sequences.unwrap_or(u64::MAX))
            .max(1) as usize;
        let init_ratio = (INIT_NEW_TOKEN_RATIO * options.schedule_conservativeness).min(1.0);
        let min_ratio = (init_ratio * MIN_NEW_TOKEN_RATIO_FACTOR).min(1.0);
        SglangScheduler {
            options,
            max_running,
            kv: KvCacheManager::new(ctx.num_blocks as u32, ctx.block_size, ctx.enable_prefix_caching, 0),
            waiting: RequestQueue::new(ctx.queue, ctx.slo),
            running: Vec::new(),
            chunked: None,
            prefilling: Vec::new(),
            init_ratio,
            min_ratio,
            ratio_decay: (init_ratio - min_ratio) / NEW_TOKEN_RATIO_DECAY_STEPS,
            new_token_ratio: init_ratio,
            batch_is_full: false,
            // With pipeline stages, up to PP micro-batches are in flight anyway.
            ahead: OneStepAhead::new(options.overlap && ctx.num_pipeline_stages <= 1),
            taken: Vec::new(),
            hit_blocks: Vec::new(),
            role: ctx.pool,
            transferring: Vec::new(),
            reserved: Vec::new(),
            recv: RecvSkipper::new(options.recv_interval),
            spec_tokens_per_request: ctx
                .speculative_tree
                .map_or(0, |t| spec_tokens_per_request(t, ctx.block_size, options.overlap)),
        }
    }

    /// The most requests that may run at once.
    pub fn max_running_requests(&self) -> usize {
        self.max_running
    }

    /// Output tokens `request` may still produce, as SGLang estimates its KV need.
    fn clipped_remaining(request: &Request) -> f64 {
        f64::from((request.original_decode_tokens - request.num_tokens_emitted).min(CLIP_MAX_NEW_TOKENS))
    }

    /// The output tokens admission reserves for `request`: a prefill server sets every
    /// request's `max_new_tokens` to 1 (`PrefillBootstrapQueue._process_req`), so its budget
    /// counts the prompt alone.
    fn admission_output(&self, request: &Request) -> f64 {
        if self.role == PoolRole::Prefill { 1.0 } else { Self::clipped_remaining(request) }
    }

    /// Decode side: landed transfers join the running batch (SGLang's transfer queue polled,
    /// then its prebuilt batch merged), in admission order.
    fn merge_landed(&mut self, requests: &RequestArena) {
        if self.transferring.is_empty() {
            return;
        }
        let running = &mut self.running;
        self.transferring.retain(|id| {
            let landed = !requests.get(*id).in_flight;
            if landed {
                running.push(*id);
            }
            !landed
        });
    }

    /// Decode side: whether SGLang's pre-allocation admits `request` now
    /// (`DecodePreallocQueue.pop_preallocated`). The free KV less, for every active request
    /// (running or in transfer), 512 reserved tokens — or, if larger, what the largest running
    /// request may still need beyond what the running requests hold — must cover both its
    /// prompt plus 512 tokens and its prompt plus clipped output less what retraction could free.
    /// `prompt`: the tokens whose KV it receives (its prompt and first token).
    fn preallocation_fits(&self, request: &Request, prompt: u64, requests: &RequestArena) -> bool {
        let bs = u64::from(self.kv.block_size());
        let available = u64::from(self.kv.num_free()) * bs;
        let retractable: u64 =
            self.running.iter().map(|id| u64::from(requests.get(*id).num_processed_tokens)).sum();
        let single = self
            .running
            .iter()
            .map(|id| {
                let r = requests.get(*id);
                u64::from(r.original_prefill_tokens) + Self::clipped_remaining(r) as u64
            })
            .max()
            .map_or(0, |need| need.saturating_sub(retractable));
        // Active: running, in transfer, in a (re-)prefill batch or chunked, and waiting for a
        // re-prefill (SGLang's `_allocatable_tokens` counts its waiting queue).
        let active = (self.slots_held() + self.waiting.len()) as u64;
        let reserved = (NUM_RESERVED_DECODE_TOKENS * active).max(single);
        let Some(allocatable) = available.checked_sub(reserved) else { return false };
        let required = prompt + NUM_RESERVED_DECODE_TOKENS;
        let whole = (prompt + Self::clipped_remaining(request) as u64).saturating_sub(retractable);
        required.max(whole) <= allocatable
    }

    /// Request slots a decode replica's admitted transfers compete for: the running requests,
    /// those in transfer, a (re-)prefill batch in flight and a request between chunks.
    fn slots_held(&self) -> usize {
        let chunked_apart = self.chunked.is_some_and(|id| !self.prefilling.contains(&id));
        self.running.len()
            + self.transferring.len()
            + self.reserved.len()
            + self.prefilling.len()
            + usize::from(chunked_apart)
    }

    /// Decode side: pre-allocates `request`'s KV for `prompt` tokens (allocating `new` more)
    /// if SGLang's pre-allocation admits it now; `Err` when it can never fit here.
    fn preallocate(
        &mut self,
        r: &Request,
        prompt: u64,
        new: u32,
        requests: &RequestArena,
    ) -> Result<bool, String> {
        check_fits(r, self.kv.block_size(), u64::from(self.kv.num_blocks()), self.role)?;
        // A re-prefill batch of retracted requests joins `running` when it ends: it holds
        // its slots as the transfers do.
        if self.slots_held() >= self.max_running {
            return Ok(false);
        }
        // An idle replica takes any request whose blocks fit, as it must to make progress.
        let idle = self.slots_held() == 0;
        if !idle && !self.preallocation_fits(r, prompt, requests) {
            return Ok(false);
        }
        Ok(self.kv.allocate_slots(r, new, &[]))
    }

    /// A new prefill batch with arrivals up to `cutoff` (`get_new_batch_prefill`); false when
    /// none can be formed.
    fn prefill_batch(&mut self, cutoff: SimTime, requests: &mut RequestArena, plan: &mut BatchPlan) -> bool {
        let any_waiting = self.waiting.peek().is_some_and(|id| requests.get(id).received_at <= cutoff);
        if (self.batch_is_full || !any_waiting) && self.chunked.is_none() {
            return false;
        }
        let running = self.running.len();
        // Transfers a decode replica admitted hold request slots too.
        let holding = running + self.transferring.len() + self.reserved.len();
        if holding >= self.max_running {
            self.batch_is_full = true;
            return false;
        }
        let bs = self.kv.block_size();
        let mixed = if self.options.mixed_chunk { running as i64 } else { 0 };
        let mut rem_chunk = i64::from(self.options.chunked_prefill_size) - mixed;
        let mut rem_input = i64::from(self.options.max_prefill_tokens) - mixed;
        let reserved: f64 = self
            .running
            .iter()
            .map(|id| Self::clipped_remaining(requests.get(*id)) * self.new_token_ratio)
            .sum();
        let mut rem_total = f64::from(self.kv.num_free()) * f64::from(bs) - reserved;

        // The request being chunked continues first (once its previous chunk is done).
        if let Some(id) = self.chunked.filter(|id| !requests.get(*id).in_flight) {
            let request = requests.get(id);
            let remaining = i64::from(request.num_prefill_tokens - request.num_processed_tokens);
            // Room counts the free pages and what is left of the pages the prompt already
            // holds: with pages of several tokens, its last chunk may fit in its last page
            // while no page is free (without that slack it waited forever).
            let held_slack = (self.kv.blocks_of(request) as i64 * i64::from(self.kv.block_size()))
                .saturating_sub(i64::from(request.num_processed_tokens))
                .max(0);
            let room = rem_chunk.min(rem_total as i64 + held_slack);
            let n = remaining.min(room);
            if n > 0 && self.kv.allocate_slots(request, n as u32, &[]) {
                let finishes = n == remaining;
                plan.push(id, n as u32);
                requests.get_mut(id).in_flight = true;
                self.prefilling.push(id);
                let output = if finishes { self.admission_output(requests.get(id)) } else { 0.0 };
                rem_total -= n as f64 + output;
                rem_chunk -= n;
                rem_input -= n;
                if finishes {
                    self.chunked = None;
                }
            }
        }
        // Then waiting requests, first come first served.
        self.taken.clear();
        if self.chunked.is_none() || !plan.is_empty() {
            while rem_chunk > 0 && rem_input > 0 && rem_total > 0.0 && self.chunked.is_none() {
                let Some(id) = self.waiting.peek() else { break };
                if requests.get(id).received_at > cutoff {
                    break;
                }
                if holding + self.prefilling.len() >= self.max_running {
                    self.batch_is_full = true;
                    break;
                }
                let cached = self.kv.computed_blocks(requests.get(id), &mut self.hit_blocks);
                let request = requests.get(id);
                let extend = i64::from(request.num_prefill_tokens - cached);
                let output = self.admission_output(request);
                if extend as f64 + output >= rem_total {
                    self.batch_is_full = true;
                    break;
                }
                if extend >= rem_input && !plan.is_empty() {
                    break;
                }
                let (n, chunked) = if extend <= rem_chunk {
                    (extend, false)
                } else {
                    // At least one page stays for the next chunk; a batch with nothing else
                    // takes one page even when the chunk budget is smaller than a page.
                    let mut truncated = rem_chunk - i64::from(bs) + 1;
                    if truncated <= 0 && plan.is_empty() {
                        truncated = i64::from(bs).min(extend);
                    }
                    if truncated <= 0 {
                        break;
                    }
                    (truncated, truncated < extend)
                };
                if !self.kv.allocate_slots(request, n as u32, &self.hit_blocks) {
                    self.batch_is_full = true;
                    break;
                }
                self.waiting.pop();
                let r = requests.get_mut(id);
                r.on_cache_hit(cached);
                r.state = RequestState::Running;
                r.in_flight = true;
                plan.push(id, n as u32);
                self.prefilling.push(id);
                rem_total -= n as f64 + if chunked { 0.0 } else { output };
                rem_chunk -= n;
                rem_input -= n;
                if chunked {
                    self.chunked = Some(id);
                }
            }
        }
        if plan.is_empty() {
            return false;
        }
        if self.options.mixed_chunk {
            self.decode_into(requests, plan);
        }
        true
    }

    /// Every running request decodes one token (`update_running_batch`), after retracting
    /// requests if the KV cache cannot hold the next tokens.
    fn decode_batch(&mut self, requests: &mut RequestArena, plan: &mut BatchPlan) {
        if self.running.is_empty() {
            return;
        }
        if self.fits_next_tokens(requests) {
            self.new_token_ratio = (self.new_token_ratio - self.ratio_decay).max(self.min_ratio);
        } else {
            self.retract(requests);
            // The last running request still cannot grow while a chunked prompt holds the
            // rest: that prompt is retracted too (SGLang over-commits here; a simulation
            // must not stall).
            if !self.fits_next_tokens(requests)
                && let Some(id) = self.chunked.take_if(|id| !requests.get(*id).in_flight)
            {
                let r = requests.get_mut(id);
                self.kv.free(r);
                r.restart();
                self.waiting.push(r);
            }
        }
        self.decode_into(requests, plan);
    }

    /// Appends a decode step of every running request to `plan`: one token, or when
    /// speculating the accepted drafts' tokens it may keep (`Request::next_num_tokens`; the
    /// tree's other candidates are transient, covered by [`Self::fits_next_tokens`]).
    fn decode_into(&mut self, requests: &mut RequestArena, plan: &mut BatchPlan) {
        for &id in &self.running {
            let request = requests.get(id);
            if request.in_flight {
                continue;
            }
            let n = request.next_num_tokens();
            if self.kv.allocate_slots(request, n, &[]) {
                plan.push(id, n);
                requests.get_mut(id).in_flight = true;
            }
        }
    }

    /// Whether the KV cache holds the next token of every running request; when speculating,
    /// whether its free tokens cover every running request's draft and verification tokens
    /// (`check_decode_mem`: SGLang's draft steps and verification allocate them, then free the
    /// rejected ones).
    fn fits_next_tokens(&self, requests: &RequestArena) -> bool {
        let bs = u64::from(self.kv.block_size());
        if self.spec_tokens_per_request > 0 {
            return self.spec_tokens_per_request * self.running.len() as u64
                <= u64::from(self.kv.num_free()) * bs;
        }
        let needed: u64 = self
            .running
            .iter()
            .map(|id| {
                let r = requests.get(*id);
                let tokens = u64::from(r.num_processed_tokens) + 1;
                tokens.div_ceil(bs).saturating_sub(self.kv.blocks_of(r) as u64)
            })
            .sum();
        needed <= u64::from(self.kv.num_free())
    }

    /// Retracts running requests, fewest output tokens first (ties: the longest prompt), until
    /// the rest fit; one always stays. Re-estimates the new-token ratio from the survivors.
    fn retract(&mut self, requests: &mut RequestArena) {
        loop {
            if self.running.len() <= 1 {
                break;
            }
            // With speculative decoding SGLang retracts from the back of the batch, the
            // latest joined first (its batch filter keeps a prefix; `retract_decode`).
            let victim_pos = if self.spec_tokens_per_request > 0 {
                self.running.len() - 1
            } else {
                (0..self.running.len())
                    .min_by_key(|&i| {
                        let r = requests.get(self.running[i]);
                        (
                            r.num_tokens_emitted,
                            std::cmp::Reverse(r.original_prefill_tokens),
                            std::cmp::Reverse(i),
                        )
                    })
                    .expect("running is not empty")
            };
            let victim = self.running.remove(victim_pos);
            let r = requests.get_mut(victim);
            self.kv.free(r);
            r.restart();
            self.waiting.push(r);
            self.batch_is_full = false;
            if self.fits_next_tokens(requests) {
                break;
            }
        }
        let decoded: u64 =
            self.running.iter().map(|id| u64::from(requests.get(*id).num_tokens_emitted)).sum();
        let max_new: u64 =
            self.running.iter().map(|id| u64::from(requests.get(*id).original_decode_tokens)).sum();
        let estimate = (decoded + u64::from(RETRACT_DECODE_STEPS) * self.running.len() as u64) as f64
            / max_new.max(1) as f64;
        self.new_token_ratio = estimate.min(1.0);
    }

    /// Under attention DP with speculative decoding (`sglang_dp.rs`): this rank's prefill
    /// batch of arrivals up to `cutoff` into `plan` (cleared first), if it can form one.
    pub(super) fn prefill_only(
        &mut self,
        cutoff: SimTime,
        requests: &mut RequestArena,
        plan: &mut BatchPlan,
    ) -> bool {
        plan.clear();
        let formed = self.prefill_batch(cutoff, requests, plan);
        self.reset_ratio_if_idle(plan);
        formed
    }

    /// Under attention DP with speculative decoding: this rank's decode batch into `plan`
    /// (cleared first), no rank having a prefill to run.
    pub(super) fn decode_only(&mut self, requests: &mut RequestArena, plan: &mut BatchPlan) {
        plan.clear();
        self.decode_batch(requests, plan);
        self.reset_ratio_if_idle(plan);
    }

    /// An idle server starts over with the initial ratio (`Scheduler.on_idle`).
    fn reset_ratio_if_idle(&mut self, plan: &BatchPlan) {
        if plan.is_empty()
            && self.running.is_empty()
            && self.chunked.is_none()
            && self.transferring.is_empty()
            && self.reserved.is_empty()
        {
            self.new_token_ratio = self.init_ratio;
        }
    }

    /// One scheduling decision with arrivals up to `cutoff`: a prefill batch if one can be
    /// formed, else a decode batch.
    fn form(&mut self, cutoff: SimTime, requests: &mut RequestArena, plan: &mut BatchPlan) {
        if !self.prefill_batch(cutoff, requests, plan) {
            self.decode_batch(requests, plan);
        }
    }
}

impl ReplicaScheduler for SglangScheduler {
    fn add_request(&mut self, id: RequestId, requests: &mut RequestArena) -> Result<(), String> {
        let r = requests.get_mut(id);
        // A prefill server holds the prompt and one token; the decode pool the whole request.
        check_fits(r, self.kv.block_size(), u64::from(self.kv.num_blocks()), self.role)?;
        r.state = RequestState::Waiting;
        self.waiting.push(r);
        Ok(())
    }

    fn next_batch(&mut self, now: SimTime, requests: &mut RequestArena, plan: &mut BatchPlan) {
        plan.clear();
        match self.role {
            // A prefill server never runs `update_running_batch`, which clears the flag; it
            // clears it every iteration (`get_next_disagg_prefill_batch_to_run`).
            PoolRole::Prefill => self.batch_is_full = false,
            PoolRole::Decode => self.merge_landed(requests),
            PoolRole::Aggregated => {}
        }
        let ahead = self.ahead.cutoff(now);
        let cutoff = self.recv.receive(ahead);
        self.form(cutoff, requests, plan);
        if plan.is_empty() && cutoff < now {
            // Nothing was formed: the engine is idle now, spins on its loop and sees every
            // arrival.
            let now = self.recv.receive_idle(now);
            self.form(now, requests, plan);
        }
        self.recv.last = if self.recv.interval <= 1 {
            // Every iteration reads anyway: no need to classify the batch.
            LastBatch::Idle
        } else if plan.is_empty() {
            LastBatch::Idle
        } else if plan.requests.iter().any(|id| !requests.get(*id).is_prefill_complete) {
            LastBatch::Prefill
        } else {
            LastBatch::Decode
        };
        self.reset_ratio_if_idle(plan);
        self.ahead.formed(now, !plan.is_empty());
    }

    fn on_batch_end(&mut self, batch: &Batch, completed: &[RequestId], requests: &mut RequestArena) {
        let before = self.running.len();
        release_completed(completed, requests, &mut self.running, |r| self.kv.free(r));
        if self.running.len() < before {
            self.batch_is_full = false;
        }
        // The prefill batch's requests join the decodes, but for the one still being chunked.
        for &id in &batch.plan.requests {
            let Some(pos) = self.prefilling.iter().position(|p| *p == id) else { continue };
            self.prefilling.swap_remove(pos);
            let r = requests.get(id);
            if r.is_completed() {
                self.kv.free(r);
                self.batch_is_full = false;
            } else if r.is_prefill_complete {
                self.running.push(id);
            }
        }
    }

    fn num_pending(&self) -> usize {
        self.waiting.len()
            + self.running.len()
            + self.transferring.len()
            + self.reserved.len()
            + usize::from(self.chunked.is_some())
    }

    fn evict_blocked(&mut self, requests: &mut RequestArena) -> Option<(RequestId, String)> {
        // With nothing running every block is free and add_request refused what can never
        // fit; kept as the engine's last line against a stall.
        self.batch_is_full = false;
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
        // The prefill batch's end moved it to `running`; it leaves for the inflight queue,
        // its KV held until the transfer is done.
        self.running.retain(|r| *r != id);
        requests.get_mut(id).state = RequestState::Waiting;
    }

    fn release_handed_off(&mut self, id: RequestId, requests: &RequestArena) {
        self.kv.free(requests.get(id));
        self.batch_is_full = false;
    }

    fn admit_transferred(&mut self, id: RequestId, requests: &mut RequestArena) -> Result<bool, String> {
        if let Some(pos) = self.reserved.iter().position(|r| *r == id) {
            // Pre-allocated before its prefill (`reserve_transfer`): its transfer starts now.
            self.reserved.remove(pos);
        } else {
            let r = requests.get(id);
            if !self.preallocate(r, u64::from(r.num_processed_tokens), 0, requests)? {
                return Ok(false);
            }
        }
        self.transferring.push(id);
        let r = requests.get_mut(id);
        r.state = RequestState::Running;
        r.in_flight = true;
        Ok(true)
    }

    fn preallocates_before_prefill(&self) -> bool {
        // SGLang's prefill server keeps a request in its bootstrap queue until the decode
        // server has pre-allocated its KV and sent the destination indices
        // (`PrefillBootstrapQueue.pop_bootstrapped` waits for `KVPoll.WaitingForInput`;
        // `DecodePreallocQueue.pop_preallocated` allocates, then `send_metadata`).
        self.role == PoolRole::Decode
    }

    fn reserve_transfer(&mut self, id: RequestId, requests: &mut RequestArena) -> Result<bool, String> {
        // The prompt's KV and the first token's, as after the prefill (SGLang's `_pre_alloc`
        // of the prompt, before the prefill server runs it).
        let r = requests.get(id);
        let tokens = r.num_prefill_tokens + 1;
        if !self.preallocate(r, u64::from(tokens), tokens.saturating_sub(r.num_processed_tokens), requests)? {
            return Ok(false);
        }
        self.reserved.push(id);
        Ok(true)
    }

    fn release_reservation(&mut self, id: RequestId, requests: &RequestArena) {
        if let Some(pos) = self.reserved.iter().position(|r| *r == id) {
            self.reserved.remove(pos);
            self.kv.free(requests.get(id));
            self.batch_is_full = false;
        }
    }

    fn check_invariants(&self, requests: &RequestArena) -> Result<(), String> {
        self.kv.check()?;
        if self.running.len() + self.transferring.len() + self.reserved.len() > self.max_running {
            return Err(format!(
                "{} running, {} transferring and {} pre-allocated requests exceed {}",
                self.running.len(),
                self.transferring.len(),
                self.reserved.len(),
                self.max_running
            ));
        }
        for id in self.running.iter().chain(&self.chunked).chain(&self.transferring) {
            if requests.get(*id).state != RequestState::Running {
                return Err(format!("request {} is running but {:?}", id.0, requests.get(*id).state));
            }
        }
        if self.running.len() > self.max_running {
            return Err(format!("{} running requests exceed {}", self.running.len(), self.max_running));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::replica::testkit::{Harness, ctx, end_iterations, pairs};

    fn options() -> SglangOptions {
        SglangOptions {
            chunked_prefill_size: 64,
            max_prefill_tokens: 128,
            max_running_requests: None,
            schedule_conservativeness: 1.0,
            mixed_chunk: false,
            overlap: false,
            recv_interval: 1,
        }
    }

    /// Blocks of one token (SGLang's page size 1).
    fn harness(num_tokens: u64, options: SglangOptions) -> Harness {
        Harness::new(Box::new(SglangScheduler::new(&ctx(num_tokens, 1, 1), options)))
    }

    /// A prefilled request (prompt processed, first token out) arriving by KV transfer.
    fn transferred(h: &mut Harness, prefill: u32, decode: u32) -> RequestId {
        let id = h.requests.next_id();
        let mut r = Request::new(id, SimTime::ZERO, prefill, decode);
        r.replica = Some(crate::request::ReplicaId(0));
        r.on_iteration_end(prefill, SimTime::ZERO);
        h.requests.push(r);
        id
    }

    #[test]
    fn a_decode_replica_counts_transfers_against_its_cap_and_decodes_them_once_landed() {
        let mut context = ctx(100_000, 1, 1);
        context.pool = PoolRole::Decode;
        let mut o = options();
        o.max_running_requests = Some(2);
        let mut h = Harness::new(Box::new(SglangScheduler::new(&context, o)));
        let (a, b, c) = (transferred(&mut h, 10, 5), transferred(&mut h, 10, 5), transferred(&mut h, 10, 5));
        assert_eq!(h.scheduler.admit_transferred(a, &mut h.requests), Ok(true));
        assert_eq!(h.scheduler.admit_transferred(b, &mut h.requests), Ok(true));
        // Two in transfer hold both request slots.
        assert_eq!(h.scheduler.admit_transferred(c, &mut h.requests), Ok(false));
        assert_eq!(h.scheduler.num_pending(), 2);
        // Nothing to run while the KV is on its way; a landed request decodes.
        assert!(h.step().is_empty());
        h.requests.get_mut(a).in_flight = false;
        assert_eq!(h.step(), [(a.0, 1)]);
        h.requests.get_mut(b).in_flight = false;
        assert_eq!(h.step(), [(a.0, 1), (b.0, 1)]);
    }

    #[test]
    fn a_reservation_before_the_prefill_holds_its_blocks_and_slot_until_its_transfer() {
        // Cap 2, one-token blocks. A and B are reserved before their prefill (SGLang's
        // bootstrap): each holds its prompt + first token (11 blocks) and a request slot, so C
        // waits; nothing decodes while they are prefilled elsewhere. A's prefill ends: it is
        // admitted on its reservation (no new blocks) and decodes once landed. B is refused by
        // its prefill replica: releasing its reservation frees its blocks and slot for C.
        let mut context = ctx(100_000, 1, 1);
        context.pool = PoolRole::Decode;
        let mut o = options();
        o.max_running_requests = Some(2);
        let mut h = Harness::new(Box::new(SglangScheduler::new(&context, o)));
        assert!(h.scheduler.preallocates_before_prefill());
        let fresh = |h: &mut Harness| {
            let id = h.requests.next_id();
            h.requests.push(Request::new(id, SimTime::ZERO, 10, 5));
            id
        };
        let (a, b, c) = (fresh(&mut h), fresh(&mut h), fresh(&mut h));
        assert_eq!(h.scheduler.reserve_transfer(a, &mut h.requests), Ok(true));
        assert_eq!(h.scheduler.reserve_transfer(b, &mut h.requests), Ok(true));
        assert_eq!(h.scheduler.reserve_transfer(c, &mut h.requests), Ok(false));
        assert_eq!(h.scheduler.kv_usage().allocated_blocks, 22);
        assert_eq!(h.scheduler.num_pending(), 2);
        assert!(h.step().is_empty());
        assert_eq!(h.scheduler.check_invariants(&h.requests), Ok(()));
        // A's prefill ends elsewhere (prompt and first token), then its transfer starts.
        h.requests.get_mut(a).on_iteration_end(10, SimTime::ZERO);
        assert_eq!(h.scheduler.admit_transferred(a, &mut h.requests), Ok(true));
        assert_eq!(h.scheduler.kv_usage().allocated_blocks, 22);
        assert!(h.step().is_empty(), "in transfer");
        h.requests.get_mut(a).in_flight = false;
        assert_eq!(h.step(), [(a.0, 1)]);
        h.scheduler.release_reservation(b, &h.requests);
        assert_eq!(h.scheduler.reserve_transfer(c, &mut h.requests), Ok(true));
        assert_eq!(h.scheduler.check_invariants(&h.requests), Ok(()));
    }

    #[test]
    fn a_re_prefill_in_flight_holds_its_request_slot_against_hand_offs() {
        // Cap 2. R0 waits on the decode replica as a retracted request does and its re-prefill
        // batch is formed; while it runs one hand-off may take the one slot left, not two:
        // once the re-prefill ends, R0 runs beside A within the cap.
        let mut context = ctx(100_000, 1, 1);
        context.pool = PoolRole::Decode;
        let mut o = options();
        o.max_running_requests = Some(2);
        let mut h = Harness::new(Box::new(SglangScheduler::new(&context, o)));
        let r0 = h.add(10, 5);
        let prefill = h.form();
        assert_eq!(pairs(&prefill), [(r0.0, 10)]);
        let (a, b) = (transferred(&mut h, 10, 5), transferred(&mut h, 10, 5));
        assert_eq!(h.scheduler.admit_transferred(a, &mut h.requests), Ok(true));
        assert_eq!(h.scheduler.admit_transferred(b, &mut h.requests), Ok(false));
        h.end(&prefill);
        assert_eq!(h.scheduler.check_invariants(&h.requests), Ok(()));
    }

    #[test]
    fn a_request_waiting_for_its_re_prefill_reserves_512_tokens_against_hand_offs() {
        // 1,300 one-token pages; A (100-token prompt) lands on the idle replica: 1,200 free.
        // With R0 waiting (as a retracted request does), 2 × 512 are reserved: B's 100 + 512
        // exceeds the 176 left. Without R0, 688 would be left and B admitted.
        let mut context = ctx(1_300, 1, 1);
        context.pool = PoolRole::Decode;
        let mut h = Harness::new(Box::new(SglangScheduler::new(&context, options())));
        let (a, b) = (transferred(&mut h, 100, 5), transferred(&mut h, 100, 5));
        assert_eq!(h.scheduler.admit_transferred(a, &mut h.requests), Ok(true));
        h.add(10, 5);
        assert_eq!(h.scheduler.admit_transferred(b, &mut h.requests), Ok(false));
    }

    #[test]
    fn an_idle_decode_replica_admits_a_transfer_inside_the_512_token_reserve() {
        // 2,000 one-token pages: an 1,800-token prompt + 512 reserved exceeds them, but an idle
        // replica takes any request whose pages fit, or it would wait forever; it finishes.
        let mut context = ctx(2_000, 1, 1);
        context.pool = PoolRole::Decode;
        let mut h = Harness::new(Box::new(SglangScheduler::new(&context, options())));
        let a = transferred(&mut h, 1_800, 5);
        assert_eq!(h.scheduler.admit_transferred(a, &mut h.requests), Ok(true));
        h.requests.get_mut(a).in_flight = false;
        h.drain(20);
        assert!(h.requests.get(a).is_completed());
        assert_eq!(h.requests.get(a).num_tokens_emitted, 5);
    }

    #[test]
    fn sglang_pre_allocation_keeps_512_tokens_per_active_request() {
        // 2,000 one-token pages. A lands on an idle replica (1,000-token prompt); B's prompt
        // (500) + 512 needs 1,012 of the 1,000 free less 512 reserved for A: it waits.
        let mut context = ctx(2_000, 1, 1);
        context.pool = PoolRole::Decode;
        let mut h = Harness::new(Box::new(SglangScheduler::new(&context, options())));
        let (a, b) = (transferred(&mut h, 1_000, 5), transferred(&mut h, 500, 5));
        assert_eq!(h.scheduler.admit_transferred(a, &mut h.requests), Ok(true));
        assert_eq!(h.scheduler.admit_transferred(b, &mut h.requests), Ok(false));
        // Even a 10-token prompt needs 10 + 512 = 522 > 1,000 − 512 = 488 free tokens: while A
        // is active nothing else is pre-allocated here.
        let d = transferred(&mut h, 10, 5);
        assert_eq!(h.scheduler.admit_transferred(d, &mut h.requests), Ok(false));
    }

    #[test]
    fn a_prefill_batch_runs_alone_before_the_decodes() {
        let mut h = harness(1000, options());
        h.add(20, 3);
        assert_eq!(h.step(), [(0, 20)]);
        assert_eq!(h.step(), [(0, 1)]);
        h.add(10, 3);
        // R1 can be admitted: its prefill runs alone, R0's decode waits.
        assert_eq!(h.step(), [(1, 10)]);
        assert_eq!(h.step(), [(0, 1), (1, 1)]);
    }

    #[test]
    fn with_a_receive_interval_arrivals_wait_for_the_next_read_and_prefill_together() {
        let mut o = options();
        o.recv_interval = 3;
        let mut h = harness(1000, o);
        // Idle: R0 is read at once; the iteration after its prefill reads again.
        h.add_at(0, 20, 10).1.unwrap();
        assert_eq!(h.step(), [(0, 20)]);
        assert_eq!(h.step(), [(0, 1)]);
        // R1 and R2 arrive while R0 decodes: unseen for two decode iterations, then read
        // at the third and prefilled together, R0's decode waiting that iteration.
        h.add_at(5, 10, 3).1.unwrap();
        assert_eq!(h.step(), [(0, 1)]);
        h.add_at(6, 10, 3).1.unwrap();
        assert_eq!(h.step(), [(0, 1)]);
        assert_eq!(h.step(), [(1, 10), (2, 10)]);
        // The iteration after a prefill always reads (nothing new here): all decode.
        assert_eq!(h.step(), [(0, 1), (1, 1), (2, 1)]);
        // Interval 1 (the default): an arrival is prefilled at the next iteration.
        let mut h = harness(1000, options());
        h.add_at(0, 20, 10).1.unwrap();
        assert_eq!(h.step(), [(0, 20)]);
        assert_eq!(h.step(), [(0, 1)]);
        h.add_at(5, 10, 3).1.unwrap();
        assert_eq!(h.step(), [(1, 10)]);
    }

    #[test]
    fn prompts_share_the_chunk_budget_and_a_longer_one_is_chunked() {
        // Chunk budget 64: R0 (30) and R1 (20) whole, R2 (50) cut at the 14 tokens left;
        // R2 continues first in the next prefill batch, with R3 behind it.
        let mut h = harness(1000, options());
        h.add(30, 2);
        h.add(20, 2);
        h.add(50, 2);
        h.add(10, 2);
        assert_eq!(h.step(), [(0, 30), (1, 20), (2, 14)]);
        assert_eq!(h.step(), [(2, 36), (3, 10)]);
        assert_eq!(h.step(), [(0, 1), (1, 1), (2, 1), (3, 1)]);
    }

    #[test]
    fn the_kv_budget_reserves_running_outputs_by_the_new_token_ratio() {
        // 320 tokens of KV. R0 (100 + 200) runs; R1 (50 + 50) counts 100 tokens. After R0's
        // prefill 220 tokens are free and R0 reserves its 199 remaining outputs × 0.7 =
        // 139.3: 80.7 are left, R1 waits. At conservativeness 0.1 (ratio 0.07) R0 reserves
        // 13.9 and R1 is admitted.
        let run = |conservativeness: f64| {
            let options = SglangOptions {
                schedule_conservativeness: conservativeness,
                chunked_prefill_size: 256,
                ..options()
            };
            let mut h = harness(320, options);
            h.add(100, 200);
            assert_eq!(h.step(), [(0, 100)]);
            h.add(50, 50);
            h.step()
        };
        assert_eq!(run(1.0), [(0, 1)]);
        assert_eq!(run(0.1), [(1, 50)]);
    }

    #[test]
    fn out_of_kv_in_decode_the_request_with_the_fewest_outputs_is_retracted() {
        // 100 tokens. R0 (40 + 40) is admitted on an empty cache (80 < 100); R1 (40 + 15)
        // fits beside it while R0's outputs count at a ratio of 0.007. Their decodes then
        // outgrow the cache: R1, with no more outputs than R0 and admitted later, is retracted
        // and recomputed once R0 is done.
        let mut h = harness(100, SglangOptions { schedule_conservativeness: 0.01, ..options() });
        h.add(40, 40);
        assert_eq!(h.step(), [(0, 40)]);
        h.add(40, 15);
        assert_eq!(h.step(), [(1, 40)]);
        assert_eq!(h.step(), [(0, 1), (1, 1)]);
        h.drain(500);
        assert_eq!((h.restarts(RequestId(0)), h.restarts(RequestId(1))), (0, 1));
        assert_eq!(h.requests.get(RequestId(1)).num_tokens_emitted, 15, "every output token once");
    }

    /// A speculating replica of `num_tokens` one-token pages: SGLang's `tree`.
    fn speculating(num_tokens: u64, tree: crate::config::SpeculativeTree, options: SglangOptions) -> Harness {
        let context = ReplicaContext { speculative_tree: Some(tree), ..ctx(num_tokens, 1, 1) };
        Harness::new(Box::new(SglangScheduler::new(&context, options)))
    }

    const CHAIN3: crate::config::SpeculativeTree =
        crate::config::SpeculativeTree { num_steps: 3, topk: 1, num_draft_tokens: 4 };

    #[test]
    fn a_speculating_decode_verifies_k_plus_one_tokens_and_its_kv_grows_by_the_accepted_ones() {
        let mut h = speculating(1000, CHAIN3, options());
        let id = h.add(10, 13);
        h.requests.get_mut(id).num_speculative_tokens = 3;
        assert_eq!(h.step(), [(0, 10)]);
        // Processed 11 (the prompt and the first token); a step verifies k + 1 = 4 tokens,
        // whose KV slots are held for it.
        let batch = h.form();
        assert_eq!(pairs(&batch), [(0, 4)]);
        assert_eq!(h.scheduler.kv_usage().allocated_blocks, 15);
        // Only 1 of the 3 drafts is accepted: 2 tokens kept. The next step's 4 reuse the 2
        // rejected slots: the KV grows by the accepted tokens only.
        let completed = end_iterations(
            &Batch { plan: batch.plan.clone(), ..Batch::default() },
            &mut h.requests,
            SimTime::ZERO,
        );
        assert!(completed.is_empty());
        h.requests.get_mut(id).num_processed_tokens -= 2;
        h.scheduler.on_batch_end(&batch, &completed, &mut h.requests);
        assert_eq!(h.requests.get(id).num_processed_tokens, 13);
        assert_eq!(h.step(), [(0, 4)]);
        assert_eq!(h.scheduler.kv_usage().allocated_blocks, 17, "13 kept + 4 verified");
        // The last step verifies only what is left (23 − 17 = 6 → 4, then 2).
        assert_eq!(h.step(), [(0, 4)]);
        assert_eq!(h.step(), [(0, 2)]);
        assert_eq!(h.scheduler.num_pending(), 0);
        assert_eq!(h.scheduler.kv_usage().allocated_blocks, 0);
    }

    #[test]
    fn sglang_reserves_every_draft_and_verification_token_before_a_speculative_step() {
        // `new_tokens_required_next_decode`: max(steps × topk, draft tokens) per request.
        let chain = CHAIN3;
        assert_eq!(spec_tokens_per_request(chain, 1, false), 4);
        assert_eq!(spec_tokens_per_request(chain, 1, true), 8, "spec v2 over-allocates a step ahead");
        let tree = crate::config::SpeculativeTree { num_steps: 5, topk: 4, num_draft_tokens: 8 };
        assert_eq!(spec_tokens_per_request(tree, 1, false), 20);
        // Pages of 16: the chain's 3 and 4 round to a page; a tree branch takes a page more.
        assert_eq!(spec_tokens_per_request(chain, 16, false), 16);
        assert_eq!(spec_tokens_per_request(tree, 16, false), 4 * 32);
        // Two running requests need 8 free tokens: with 7 the latest joined is retracted,
        // not the one with the fewest outputs (SGLang's speculative batches filter from the back).
        let mut h = speculating(31, CHAIN3, SglangOptions { schedule_conservativeness: 0.01, ..options() });
        let a = h.add(10, 20);
        h.requests.get_mut(a).num_speculative_tokens = 3;
        assert_eq!(h.step(), [(0, 10)]);
        let b = h.add(8, 2);
        h.requests.get_mut(b).num_speculative_tokens = 3;
        assert_eq!(h.step(), [(1, 8)]);
        // 31 − 11 − 9 = 11 free: both step (4 + 4 slots; b has 1 output left).
        assert_eq!(h.step(), [(0, 4), (1, 1)]);
        h.drain(100);
        assert_eq!(h.restarts(a), 0);
        // 30 tokens: a (10 + 6) and b (8 + 6) are admitted one after the other, then step
        // together once (4 + 4 slots, 2 left free). Each has 5 outputs: without speculation the
        // tie would retract a (the longer prompt); speculating, 2 free < 2 × 4 retracts b, the
        // latest joined (SGLang's speculative batches filter from the back).
        let mut h = speculating(30, CHAIN3, SglangOptions { schedule_conservativeness: 0.01, ..options() });
        let a = h.add(10, 6);
        h.requests.get_mut(a).num_speculative_tokens = 3;
        assert_eq!(h.step(), [(0, 10)]);
        let b = h.add(8, 6);
        h.requests.get_mut(b).num_speculative_tokens = 3;
        assert_eq!(h.step(), [(1, 8)]);
        assert_eq!(h.step(), [(0, 4), (1, 4)]);
        assert_eq!(h.scheduler.kv_usage().free_blocks, 2);
        assert_eq!(h.step(), [(0, 1)]);
        assert_eq!((h.restarts(a), h.restarts(b)), (0, 1));
        h.drain(100);
        assert_eq!(h.requests.get(b).num_tokens_emitted, 6, "every output token once");
    }

    #[test]
    fn a_linear_attention_state_pool_caps_the_running_requests() {
        let pooled = ReplicaContext { max_running_sequences: Some(3), ..ctx(1_000_000, 1, 1) };
        assert_eq!(SglangScheduler::new(&pooled, options()).max_running_requests(), 3);
        let set = SglangOptions { max_running_requests: Some(2), ..options() };
        assert_eq!(SglangScheduler::new(&pooled, set).max_running_requests(), 2, "the smaller of the two");
        let mut h = Harness::new(Box::new(SglangScheduler::new(&pooled, options())));
        for _ in 0..4 {
            h.add(10, 2);
        }
        assert_eq!(h.step(), [(0, 10), (1, 10), (2, 10)], "the fourth waits for a state slot");
    }

    #[test]
    fn max_running_requests_defaults_from_the_kv_cache() {
        let s = SglangScheduler::new(&ctx(1_000_000, 1, 1), options());
        // 1M tokens at a 64-token context: 512 × 1M / 64 clamps to 4096; min(1M / 2, 4096).
        assert_eq!(s.max_running_requests(), 4096);
        let small = SglangScheduler::new(&ctx(3000, 1, 1), options());
        assert_eq!(small.max_running_requests(), 1500, "half the KV tokens");
        let set = SglangScheduler::new(
            &ctx(3000, 1, 1),
            SglangOptions { max_running_requests: Some(2), ..options() },
        );
        assert_eq!(set.max_running_requests(), 2);
        let mut h = Harness::new(Box::new(set));
        for _ in 0..3 {
            h.add(10, 2);
        }
        assert_eq!(h.step(), [(0, 10), (1, 10)]);
    }

    #[test]
    fn mixed_chunking_runs_the_decodes_with_the_prefill() {
        let mut h = harness(1000, SglangOptions { mixed_chunk: true, ..options() });
        h.add(20, 3);
        assert_eq!(h.step(), [(0, 20)]);
        h.add(70, 3);
        // One running decode takes one token of the 64-token chunk budget: R1's chunk is 63.
        assert_eq!(h.step(), [(1, 63), (0, 1)]);
    }
}
