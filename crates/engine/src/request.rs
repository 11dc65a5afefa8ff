//! Requests and their lifecycle, kept in one arena indexed by [`RequestId`].

use std::cell::Cell;
use std::sync::Arc;

use crate::time::{Nanos, SimTime};

/// A request's index in the arena (assigned in arrival order, from 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u32);

/// A replica's index, 0..num_replicas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReplicaId(pub u32);

/// Where a request is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestState {
    /// Arrived, waiting for the global scheduler.
    Arrived,
    /// Routed to a replica and queued there (also after a preemption).
    Waiting,
    /// Admitted by its replica scheduler.
    Running,
    /// All its tokens are generated.
    Completed,
    /// Refused: it can never be served (see the report's request errors).
    Refused,
}

/// One inference request.
///
/// `repr(C)`, 128-byte aligned (a pair of cache lines, as the adjacent-line prefetcher fetches
/// them; its 256 bytes are a multiple, so the alignment costs no memory), with the fields that
/// every iteration reads or writes (stage start and end, batch end, batch description) in its
/// first two cache lines and the rest after them: the 1 M-request run is bound by misses on the
/// request arena.
#[derive(Clone, Debug)]
#[repr(C, align(128))]
pub struct Request {
    /// End of the latest pipeline stage that processed it (set when that stage starts, its
    /// end being known then; read when its next stage starts).
    pub latest_stage_end: Option<SimTime>,
    /// First time it was put in a batch.
    pub scheduled_at: Option<SimTime>,
    /// Σ gaps between one of its stages ending and the next starting.
    pub preempted_ns: Nanos,
    /// Σ stage times of the batches it was in (added as each stage starts).
    pub execution_ns: Nanos,
    /// Σ GPU (model) times of those stages.
    pub model_execution_ns: Nanos,
    /// When its latest token was produced (for time between tokens).
    pub last_token_at: SimTime,
    /// The longest gap between two of its consecutive output tokens so far (a TBT objective
    /// counts the request as meeting it when this does).
    pub max_token_gap_ns: Nanos,
    /// Tokens whose KV exists (cached prefix included); the first output token is counted at
    /// prefill end.
    pub num_processed_tokens: u32,
    /// Current prompt length: after a preemption the tokens generated so far join the prompt.
    pub num_prefill_tokens: u32,
    /// Output tokens still counted as decode (P + D is constant across restarts).
    pub num_decode_tokens: u32,
    /// Output tokens emitted so far (conserved: equals the original decode tokens at the end).
    pub num_tokens_emitted: u32,
    /// Tokens of the original prompt served from the prefix cache at the latest admission.
    /// After a restart the recomputed "prompt" also holds generated tokens, whose cached KV
    /// is not prompt reuse: this never exceeds `original_prefill_tokens`.
    pub num_prefill_tokens_cached: u32,
    /// Its slot in the [`RequestArena`] (set by [`RequestArena::push`]; the id itself until
    /// then). Slots are dense among the requests not released, so per-request state of a
    /// component (a replica's KV block tables) can sit in a vector indexed by it instead of a
    /// map by id; a released request's slot goes to a later request.
    pub arena_slot: u32,
    /// Its id.
    pub id: RequestId,
    /// The replica it was routed to.
    pub replica: Option<ReplicaId>,
    /// Output tokens as submitted (here, in what would be padding before `kv_held`, so that
    /// the struct stays 256 bytes).
    pub original_decode_tokens: u32,
    /// The KV blocks it holds as its latest allocating [`crate::kv::KvCacheManager`] left
    /// them: that manager's id in the high 32 bits, the block count in the low ones (0: none).
    /// The common case of `allocate_slots` — a running request's next tokens within its
    /// blocks — reads only this, beside the fields the scheduling pass reads anyway, instead
    /// of the manager's table of the request (a cache miss per request-iteration at 1 M
    /// requests). Written by the manager through `&Request`, hence a `Cell`. A clone copies
    /// it: only the request a manager allocated for may be passed to that manager again.
    pub kv_held: Cell<u64>,
    /// Prefill done (current incarnation).
    pub is_prefill_complete: bool,
    /// A benchmark's warm-up request: left out of the per-request statistics.
    pub warmup: bool,
    /// Lifecycle state.
    pub state: RequestState,
    /// In a batch that is executing now (or, disaggregated, its KV cache is in transfer to
    /// the decode replica that reserved room for it: not schedulable there yet).
    pub in_flight: bool,
    /// Speculative decoding: draft tokens per decode step (k; 0 when off). A decode step then
    /// verifies up to k + 1 tokens ([`Request::next_num_tokens`]).
    pub num_speculative_tokens: u32,
    /// Times preempted and restarted by recompute.
    pub num_restarts: u32,
    /// Prompt tokens as submitted.
    pub original_prefill_tokens: u32,
    /// Arrival instant (a closed-loop client's send: it may reach the scheduler later).
    pub arrived_at: SimTime,
    /// When it reached the router: its arrival, plus a closed-loop client's overhead; under
    /// SGLang's disaggregated bootstrap, when its decode reservation let it into the prefill
    /// scheduler's waiting queue. Waiting queues serve requests in this order.
    pub received_at: SimTime,
    /// Conversation/session id from the trace.
    pub session_id: Option<u64>,
    /// Prefix identities of its KV blocks at the engine's block size (prompt and output).
    pub block_hashes: Option<Arc<[u64]>>,
    /// Closed-loop client that sent it.
    pub client: Option<u32>,
    /// First time its prefill completed (first token).
    pub prefill_completed_at: Option<SimTime>,
    /// When its last token was produced.
    pub completed_at: Option<SimTime>,
    /// Disaggregated serving: the decode replica its KV cache went to (`replica` stays its
    /// prefill replica).
    pub decode_replica: Option<ReplicaId>,
    /// Disaggregated serving with the first token streamed only after the KV transfer: when
    /// that token reached the client (its TTFT ends here instead of at the prefill's end).
    pub first_token_streamed_at: Option<SimTime>,
    /// Speculative decoding's expected-value carry: the fraction of a token the request's steps
    /// have been owed so far (`SpeculativeSpec::emitted`).
    pub speculative_credit: u64,
}

impl Request {
    /// A new request, arrived at `arrived_at`.
    pub fn new(id: RequestId, arrived_at: SimTime, prefill: u32, decode: u32) -> Request {
        Request {
            id,
            arena_slot: id.0,
            arrived_at,
            received_at: arrived_at,
            original_prefill_tokens: prefill,
            original_decode_tokens: decode,
            num_prefill_tokens: prefill,
            num_decode_tokens: decode,
            num_processed_tokens: 0,
            num_prefill_tokens_cached: 0,
            num_restarts: 0,
            num_tokens_emitted: 0,
            is_prefill_complete: false,
            state: RequestState::Arrived,
            replica: None,
            session_id: None,
            block_hashes: None,
            client: None,
            warmup: false,
            scheduled_at: None,
            prefill_completed_at: None,
            completed_at: None,
            last_token_at: arrived_at,
            max_token_gap_ns: 0,
            latest_stage_end: None,
            execution_ns: 0,
            model_execution_ns: 0,
            preempted_ns: 0,
            in_flight: false,
            decode_replica: None,
            first_token_streamed_at: None,
            num_speculative_tokens: 0,
            speculative_credit: 0,
            kv_held: Cell::new(0),
        }
    }

    /// P + D: the KV tokens the request needs at its end.
    #[inline]
    pub fn total_tokens(&self) -> u32 {
        self.num_prefill_tokens + self.num_decode_tokens
    }

    /// Tokens the next iteration would process for it if unconstrained: the rest of the prompt,
    /// or one decode token (with speculative decoding, the k + 1 tokens a step verifies, never
    /// more than the tokens it has left to produce).
    #[inline]
    pub fn next_num_tokens(&self) -> u32 {
        if self.is_prefill_complete {
            if self.num_speculative_tokens == 0 {
                1
            } else {
                (self.num_speculative_tokens + 1)
                    .min(self.total_tokens().saturating_sub(self.num_processed_tokens))
                    .max(1)
            }
        } else {
            self.num_prefill_tokens.saturating_sub(self.num_processed_tokens)
        }
    }

    /// Whether all tokens are generated.
    #[inline]
    pub fn is_completed(&self) -> bool {
        self.state == RequestState::Completed
    }

    /// Applies a prefix-cache hit of `cached_tokens` at admission.
    #[inline]
    pub fn on_cache_hit(&mut self, cached_tokens: u32) {
        debug_assert!(cached_tokens < self.num_prefill_tokens || cached_tokens == 0);
        self.num_processed_tokens = cached_tokens;
        self.num_prefill_tokens_cached = cached_tokens.min(self.original_prefill_tokens);
    }

    /// Preempt by recompute: the tokens generated so far become part of the prompt, KV state is
    /// dropped, and the request waits to be admitted again.
    ///
    /// Vidur sets the new prompt to the processed count even mid-prefill, which shortens the
    /// prompt (behaviour.md §12.3); here a mid-prefill restart keeps the whole prompt.
    pub fn restart(&mut self) {
        let total = self.total_tokens();
        if self.is_prefill_complete {
            // Processed = prompt + generated tokens, at most P + D − 1 while unfinished.
            self.num_prefill_tokens = self.num_processed_tokens;
        }
        self.num_decode_tokens = total - self.num_prefill_tokens;
        self.num_processed_tokens = 0;
        self.num_prefill_tokens_cached = 0;
        self.is_prefill_complete = false;
        self.num_restarts += 1;
        self.state = RequestState::Waiting;
    }
}

/// What one iteration did for a request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IterationOutcome {
    /// An output token was produced (a decode step, or the end of a prefill).
    pub produced_token: bool,
    /// The request's first prefill completed in this iteration (its first token).
    pub first_prefill_done: bool,
    /// The request produced its last token.
    pub completed: bool,
    /// Output tokens produced: 1 for a decode step or a prefill's end, up to k + 1 for a
    /// speculative decode step, 0 for a prefill chunk that is not the last.
    pub num_produced: u32,
}

impl Request {
    /// Advances the request by `n` processed tokens at the end of an iteration at `now`.
    ///
    /// The end of a prefill yields the first output token for free (`processed += 1`), so a
    /// request needs ⌈P / chunk⌉ prefill iterations and D − 1 decode iterations. A decode step
    /// produces `n` tokens: 1, or with speculative decoding the accepted drafts plus the
    /// target's own token (the KV of those tokens is kept; a rejected draft's is not).
    ///
    /// The iteration's batch is over, so the request is no longer `in_flight` (schedulable
    /// again): every scheduler's batch end used to clear it in a walk of its own.
    #[inline]
    pub fn on_iteration_end(&mut self, n: u32, now: SimTime) -> IterationOutcome {
        let mut outcome = IterationOutcome::default();
        self.in_flight = false;
        if self.is_prefill_complete {
            // Never past the request's output: a step verifies at most the tokens left.
            debug_assert!(n >= 1 && self.num_processed_tokens + n <= self.total_tokens());
            let n = n.min(self.total_tokens() - self.num_processed_tokens).max(1);
            self.num_processed_tokens += n;
            outcome.produced_token = true;
            outcome.num_produced = n;
        } else {
            self.num_processed_tokens += n;
            if self.num_processed_tokens >= self.num_prefill_tokens {
                self.num_processed_tokens += 1;
                self.is_prefill_complete = true;
                outcome.produced_token = true;
                outcome.num_produced = 1;
                if self.prefill_completed_at.is_none() {
                    self.prefill_completed_at = Some(now);
                    outcome.first_prefill_done = true;
                }
            }
        }
        if outcome.produced_token {
            self.num_tokens_emitted += outcome.num_produced;
            self.last_token_at = now;
        }
        if self.num_processed_tokens >= self.total_tokens() {
            self.state = RequestState::Completed;
            self.completed_at = Some(now);
            outcome.completed = true;
        }
        outcome
    }
}

/// The requests of a run, by id. Ids are dense and stable (arrival order); the memory of a
/// request that is over is reused by later ones ([`RequestArena::release`]), so the arena holds
/// the requests in flight plus 4 bytes per request ever added.
#[derive(Clone, Debug, Default)]
pub struct RequestArena {
    /// Live requests and released slots awaiting reuse.
    slots: Vec<Request>,
    /// Released slots.
    free: Vec<u32>,
    /// Slot of each id; [`RELEASED`] once released.
    slot_of: Vec<u32>,
}

/// The slot of a released id.
const RELEASED: u32 = u32::MAX;

#[cold]
#[inline(never)]
fn released(id: RequestId) -> ! {
    panic!(
        "request {} ended and its memory was reused; a replica scheduler that reads requests after they end must say so (ReplicaScheduler::reads_ended_requests)",
        id.0
    )
}

impl RequestArena {
    /// An empty arena.
    pub fn new() -> RequestArena {
        RequestArena::default()
    }

    /// Adds a request; its id is the number of requests added before it.
    pub fn push(&mut self, mut request: Request) -> RequestId {
        let id = self.next_id();
        debug_assert_eq!(request.id, id);
        request.arena_slot = self.free.last().copied().unwrap_or(self.slots.len() as u32);
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = request;
                slot
            }
            None => {
                self.slots.push(request);
                self.slots.len() as u32 - 1
            }
        };
        self.slot_of.push(slot);
        id
    }

    /// The id the next request will get.
    #[inline]
    pub fn next_id(&self) -> RequestId {
        RequestId(self.slot_of.len() as u32)
    }

    /// A request (panics if it was released: see [`RequestArena::release`]).
    #[inline]
    pub fn get(&self, id: RequestId) -> &Request {
        // A released id's slot, `RELEASED`, is past the end of `slots` (which never holds
        // 2^32 − 1 requests): one bounds check finds both a bad id and a released one.
        match self.slots.get(self.slot_of[id.0 as usize] as usize) {
            Some(request) => request,
            None => released(id),
        }
    }

    /// A request, mutably (panics if it was released).
    #[inline]
    pub fn get_mut(&mut self, id: RequestId) -> &mut Request {
        match self.slots.get_mut(self.slot_of[id.0 as usize] as usize) {
            Some(request) => request,
            None => released(id),
        }
    }

    /// Whether `id` was added and not released.
    pub fn contains(&self, id: RequestId) -> bool {
        self.slot_of.get(id.0 as usize).is_some_and(|s| *s != RELEASED)
    }

    /// Forgets a request that is over (completed or refused, every event about it handled);
    /// its memory goes to a later request. Its id is never reused.
    pub fn release(&mut self, id: RequestId) {
        let slot = std::mem::replace(&mut self.slot_of[id.0 as usize], RELEASED);
        assert_ne!(slot, RELEASED, "request {} released twice", id.0);
        self.free.push(slot);
    }

    /// Number of requests added (released ones included).
    pub fn len(&self) -> usize {
        self.slot_of.len()
    }

    /// Whether no request was added.
    pub fn is_empty(&self) -> bool {
        self.slot_of.is_empty()
    }

    /// Requests not released, in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Request> {
        self.slot_of.iter().filter(|s| **s != RELEASED).map(|s| &self.slots[*s as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fields_of_every_iteration_share_the_first_two_cache_lines() {
        use std::mem::{align_of, offset_of, size_of};
        assert_eq!(align_of::<Request>(), 128);
        assert_eq!(size_of::<Request>(), 256);
        // Each field ends within the first 128 bytes.
        let r = Request::new(RequestId(0), SimTime::ZERO, 1, 1);
        macro_rules! end {
            ($field:ident) => {
                offset_of!(Request, $field) + std::mem::size_of_val(&r.$field)
            };
        }
        for (name, end) in [
            ("latest_stage_end", end!(latest_stage_end)),
            ("scheduled_at", end!(scheduled_at)),
            ("preempted_ns", end!(preempted_ns)),
            ("execution_ns", end!(execution_ns)),
            ("model_execution_ns", end!(model_execution_ns)),
            ("last_token_at", end!(last_token_at)),
            ("max_token_gap_ns", end!(max_token_gap_ns)),
            ("num_processed_tokens", end!(num_processed_tokens)),
            ("num_tokens_emitted", end!(num_tokens_emitted)),
            ("is_prefill_complete", end!(is_prefill_complete)),
            ("warmup", end!(warmup)),
            ("in_flight", end!(in_flight)),
            ("num_prefill_tokens", end!(num_prefill_tokens)),
            ("num_decode_tokens", end!(num_decode_tokens)),
            ("state", end!(state)),
            ("num_speculative_tokens", end!(num_speculative_tokens)),
            ("arena_slot", end!(arena_slot)),
            ("id", end!(id)),
            ("kv_held", end!(kv_held)),
        ] {
            assert!(end <= 128, "{name} ends at byte {end}");
        }
    }

    #[test]
    fn an_iteration_end_leaves_the_request_out_of_flight() {
        // Schedulers no longer clear `in_flight` at a batch's end: the engine's advance does.
        let mut r = Request::new(RequestId(0), SimTime::ZERO, 10, 2);
        for (n, completed) in [(4, false), (6, false), (1, true)] {
            r.in_flight = true;
            assert_eq!(r.on_iteration_end(n, SimTime(1)).completed, completed);
            assert!(!r.in_flight);
        }
    }

    #[test]
    fn a_speculating_request_verifies_k_plus_one_tokens_and_never_passes_its_output() {
        let mut r = Request::new(RequestId(0), SimTime::ZERO, 100, 6);
        r.num_speculative_tokens = 3;
        assert_eq!(r.next_num_tokens(), 100, "a prefill is not speculative");
        let o = r.on_iteration_end(100, SimTime(1));
        assert_eq!((o.num_produced, r.num_processed_tokens), (1, 101));
        assert_eq!(r.next_num_tokens(), 4);
        let o = r.on_iteration_end(3, SimTime(2));
        assert_eq!((o.num_produced, r.num_tokens_emitted, r.num_processed_tokens), (3, 4, 104));
        // Two tokens left: the step verifies 2 (one draft), whatever k.
        assert_eq!(r.next_num_tokens(), 2);
        let o = r.on_iteration_end(2, SimTime(3));
        assert!(o.completed);
        assert_eq!((r.num_tokens_emitted, r.num_processed_tokens), (6, 106));
    }

    #[test]
    fn restart_after_decoding_moves_generated_tokens_into_the_prompt() {
        let mut r = Request::new(RequestId(0), SimTime::ZERO, 100, 10);
        r.num_processed_tokens = 105; // prefill (100) + first token + 4 decodes
        r.is_prefill_complete = true;
        r.restart();
        assert_eq!((r.num_prefill_tokens, r.num_decode_tokens, r.num_processed_tokens), (105, 5, 0));
        assert_eq!(r.total_tokens(), 110);
        // Readmitted with its old KV still cached (prompt and generated tokens): all of it is
        // reused, but only the 100 prompt tokens count as cached prompt.
        r.on_cache_hit(96);
        assert_eq!((r.num_processed_tokens, r.num_prefill_tokens_cached), (96, 96));
        r.restart();
        r.on_cache_hit(104);
        assert_eq!((r.num_processed_tokens, r.num_prefill_tokens_cached), (104, 100));
    }

    #[test]
    fn released_slots_are_reused_and_ids_stay_stable() {
        let mut arena = RequestArena::new();
        for i in 0..3 {
            arena.push(Request::new(RequestId(i), SimTime(u64::from(i)), 10, 5));
        }
        arena.release(RequestId(1));
        assert!(!arena.contains(RequestId(1)) && arena.contains(RequestId(2)));
        let id = arena.push(Request::new(RequestId(3), SimTime(3), 20, 5));
        assert_eq!(id, RequestId(3));
        assert_eq!(arena.slots.len(), 3, "request 3 took request 1's slot");
        assert_eq!(arena.get(RequestId(3)).arena_slot, 1, "and knows it");
        assert_eq!(arena.get(RequestId(2)).arena_slot, 2);
        assert_eq!(arena.get(RequestId(3)).original_prefill_tokens, 20);
        assert_eq!(arena.get(RequestId(2)).arrived_at, SimTime(2));
        assert_eq!(arena.len(), 4);
        assert_eq!(arena.iter().map(|r| r.id.0).collect::<Vec<_>>(), [0, 2, 3]);
    }

    #[test]
    fn restart_mid_prefill_keeps_the_whole_prompt() {
        // Vidur would shorten the prompt to 50 here (behaviour.md §12.3).
        let mut r = Request::new(RequestId(0), SimTime::ZERO, 100, 10);
        r.num_processed_tokens = 50;
        r.restart();
        assert_eq!((r.num_prefill_tokens, r.num_decode_tokens), (100, 10));
        assert_eq!(r.num_restarts, 1);
    }
}
