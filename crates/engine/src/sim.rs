//! The simulation: world state and the event loop. Every event is handled in one `match` in
//! [`Simulation::handle`].

use std::sync::Arc;

use crate::batch::{Batch, BatchPlan, BatchSlot};
use crate::disagg::{
    Admission, DecodeQueues, DecodeRouterKind, DecodeTarget, KvTransferModel, Links, pick_decode_replica,
};
use crate::event::{Event, EventClass, EventQueue};
use crate::exec::{BatchItem, SharedPredictor, StagePosition};
use crate::metrics::Metrics;
use crate::report::Report;
use crate::report::RequestStatus;
use crate::request::{ReplicaId, Request, RequestArena, RequestId, RequestState};
use crate::rng::{SeedTree, StreamRng};
use crate::scheduler::global::{ClusterProbe, Router};
use crate::scheduler::replica::{PoolRole, ReplicaContext, ReplicaScheduler};
use crate::sim_config::SimConfig;
use crate::time::{HORIZON_TEXT, Nanos, SimTime};
use crate::workload::{RequestSource, hashes_for_block_size};

/// One pipeline stage of a replica.
#[derive(Debug, Default)]
struct Stage {
    /// When the batch-stage executing now started.
    running: Option<SimTime>,
    queue: std::collections::VecDeque<BatchSlot>,
}

/// One replica: its scheduler, its pipeline stages and its pool's execution-time predictor.
struct Replica {
    scheduler: Box<dyn ReplicaScheduler>,
    stages: Vec<Stage>,
    batches_in_flight: u32,
    predictor: SharedPredictor,
}

/// Every replica; the router sees the first `routed` (all of them, or a disaggregated
/// cluster's prefill pool, which comes first).
struct Replicas(Vec<Replica>, u32);

impl ClusterProbe for Replicas {
    fn num_replicas(&self) -> u32 {
        self.1
    }
    fn cached_prefix_tokens(&self, replica: ReplicaId, request: &Request) -> u32 {
        self.0[replica.0 as usize].scheduler.cached_prefix_tokens(request)
    }
}

/// Progress of a run, for progress bars.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Progress {
    /// Simulated seconds so far.
    pub sim_time_s: f64,
    /// Requests completed or refused.
    pub requests_done: u64,
    /// Requests arrived.
    pub requests_arrived: u64,
    /// Requests the workload will produce, when known.
    pub requests_expected: Option<u64>,
    /// Events handled.
    pub events: u64,
    /// Whether the run is over.
    pub finished: bool,
}

/// A running simulation. Build it from a [`SimConfig`], advance it with
/// [`Simulation::run_for_events`] (in chunks, for progress and cancellation) or
/// [`Simulation::run`], then take the [`Report`] with [`Simulation::finish`].
pub struct Simulation {
    config: SimConfig,
    now: SimTime,
    queue: EventQueue,
    source: Box<dyn RequestSource>,
    /// The source's next arrival time, cached: it changes only when a request is taken or one
    /// is done (closed loops), and is read before every event.
    next_arrival: Option<SimTime>,
    requests: RequestArena,
    global_queue: Vec<RequestId>,
    router: Box<dyn Router>,
    routing_rng: StreamRng,
    replicas: Replicas,
    /// Batches by slot; a slot and its buffers are reused once its batch ends.
    batches: Vec<Batch>,
    free_batch_slots: Vec<BatchSlot>,
    batch_seq: u64,
    predictor: SharedPredictor,
    metrics: Metrics,
    plan: BatchPlan,
    touched: Vec<bool>,
    events: u64,
    requests_done: u64,
    finished: bool,
    time_limit_reached: bool,
    /// The next event lay past [`SimTime::HORIZON`], which ended the run.
    horizon_reached: bool,
    check_invariants: bool,
    /// Stop once the overload detector's verdict is in.
    stop_on_overload: bool,
    /// The run stopped because it was overloaded.
    stopped_for_overload: bool,
    /// A disaggregated cluster's decode side.
    disagg: Option<DisaggRuntime>,
    /// Requests whose prefill a batch just finished on a prefill replica (reused buffer).
    handoffs: Vec<RequestId>,
    /// Scratch: the requests that completed in the batch ending now, in plan order (handed to
    /// its scheduler's `on_batch_end`, which then need not walk the batch again).
    completed: Vec<RequestId>,
}

/// A disaggregated cluster's state (`crate::disagg`): replicas `0..num_prefill` are the
/// prefill pool, the rest the decode pool.
///
/// A request whose prefill ends on a prefill replica (and has tokens left) leaves it at that
/// batch's end (`ReplicaScheduler::hand_off`, its KV blocks still held) and is routed to a
/// decode replica, where it queues until that replica's scheduler reserves KV blocks for it
/// (`admit_transferred`) — first come, first served within the queue its scheduler names
/// (`transfer_queue`: one per replica, or one per attention-DP rank, [`DecodeQueues`]); then its transfer is booked on the two replicas' links and a
/// `KvTransferEnd` event lands it: the prefill replica frees its blocks and the request becomes
/// schedulable on the decode replica. Queued transfers are retried whenever the decode replica
/// frees blocks (its batch ends). Same-instant order: batch ends (hand-offs, admissions), then
/// transfer ends, then prefill and request ends, then scheduling (`event.rs`).
///
/// Bootstrap (SGLang: the decode server pre-allocates before the prefill server runs the
/// request): a request with tokens left after its prefill is routed to its decode replica when
/// it is routed to its prefill replica, and queues there at once for a reservation of its
/// prompt and first token (`reserve_transfer`); once reserved it is added to its prefill
/// replica, and at its prefill's end its transfer starts on the reservation. A refusal before
/// the hand-off frees the reservation and retries the queue.
struct DisaggRuntime {
    num_prefill: u32,
    router: DecodeRouterKind,
    /// Requests routed to the decode pool so far (round robin's turn).
    turn: u64,
    transfer: KvTransferModel,
    first_token_after_transfer: bool,
    decode_block_size: u32,
    /// The most KV blocks one request can be given on a decode replica: the replica's, or one
    /// attention-DP rank's where each rank admits from its own pool
    /// (`ReplicaScheduler::transfer_capacity_blocks`).
    decode_num_blocks: u64,
    /// The ranks sharing a decode replica's blocks that way (1: the whole replica).
    decode_ranks: u32,
    /// Per decode replica (index within the pool): requests waiting for KV room.
    waiting: DecodeQueues,
    /// What the last admission pass decided for the requests that left a queue (reused).
    admitted: Vec<(RequestId, Admission)>,
    links: Links,
    targets: Vec<DecodeTarget>,
    /// Per replica (all of them): requests whose KV blocks it holds for a transfer not landed
    /// yet — handed off and not released (prefill side), or admitted (or pre-allocated before
    /// the prefill) and in transfer (decode side). Such a replica may run nothing and have
    /// nothing schedulable while requests wait, yet it is not stalled: the transfers' ends free
    /// its blocks or make its requests schedulable, and schedule it again.
    awaiting_transfers: Vec<u32>,
    /// The decode pool's engine pre-allocates before the prefill (SGLang's bootstrap,
    /// `ReplicaScheduler::preallocates_before_prefill`): a request with tokens left after its
    /// prefill queues for its decode replica's reservation when it arrives, and reaches its
    /// prefill replica only once reserved.
    bootstrap: bool,
    /// Bootstrap: an admission pass is under way (a refusal inside it frees a reservation and
    /// asks for another pass instead of nesting one).
    admitting: bool,
    /// Bootstrap: a reservation was freed during an admission pass.
    readmit: bool,
    /// Per-request state of the runtime, by the request's arena slot
    /// ([`Request::arena_slot`]: dense among the live requests, so this stays as long as the
    /// most requests live at once), cleared when the request is released. A vector rather
    /// than maps by id: the same lookups, without a B-tree per field in the worker's wasm
    /// (BENCHMARKS.md, "Page weight at stop 36").
    slots: Vec<SlotState>,
}

/// A request's own state in [`DisaggRuntime`] (the default: none).
#[derive(Clone, Copy, Debug, Default)]
struct SlotState {
    /// Bootstrap: it holds a decode reservation and its prefill has not ended (it leaves at
    /// its hand-off, or when refused, which frees the reservation).
    reserved: bool,
    /// Layer-wise transfer: for a prefill-pool request restarted by recompute (only those),
    /// its restart count and the start of its latest prefill attempt, whose span is the one
    /// the layers can be sent in (`scheduled_at` is the first attempt's start; the KV
    /// computed before a restart was dropped). Set by `new_batch`, read and removed at the
    /// transfer's admission.
    attempt_start: Option<(u32, SimTime)>,
}

impl DisaggRuntime {
    /// The state of the request in arena slot `slot`.
    fn slot(&mut self, slot: u32) -> &mut SlotState {
        let i = slot as usize;
        if i >= self.slots.len() {
            self.slots.resize(i + 1, SlotState::default());
        }
        &mut self.slots[i]
    }

    /// The refusal of a request that has tokens left after its prefill (so it goes to the
    /// decode pool) but needs more KV blocks than a decode replica can ever give it: the
    /// replica's, or one attention-DP rank's share where each rank admits from its own pool.
    fn never_fits(&self, request: &Request) -> Option<String> {
        let needed = crate::scheduler::replica::blocks_needed(request, self.decode_block_size);
        (request.original_decode_tokens > 1 && needed > self.decode_num_blocks).then(|| {
            let reason =
                crate::scheduler::replica::never_fits(request, self.decode_block_size, self.decode_num_blocks);
            if self.decode_ranks > 1 {
                format!(
                    "decode pool: {reason}: one attention-DP rank's share of its KV blocks, {} ranks each admitting from its own pool (--disaggregation_config_decode_num_blocks, --disaggregation_config_decode_attention_dp_size)",
                    self.decode_ranks
                )
            } else {
                format!("decode pool: {reason} (--disaggregation_config_decode_num_blocks)")
            }
        })
    }
}

impl Simulation {
    /// A simulation at t = 0 with no event handled yet.
    pub fn new(config: &SimConfig) -> Simulation {
        let seeds = SeedTree::new(config.seed);
        let n = config.cluster.num_replicas;
        fn pool(pool: &SimConfig, first: u32, role: PoolRole) -> impl Iterator<Item = Replica> + '_ {
            let pp = pool.replica.parallel.num_pipeline_stages;
            (0..pool.cluster.num_replicas).map(move |r| {
                let ctx = ReplicaContext {
                    replica: ReplicaId(first + r),
                    num_blocks: pool.memory.num_blocks,
                    block_size: pool.cache.block_size,
                    num_pipeline_stages: pp,
                    enable_prefix_caching: pool.cache.enable_prefix_caching,
                    num_preallocate_tokens: pool.cache.num_preallocate_tokens,
                    watermark_blocks_fraction: pool.cache.watermark_blocks_fraction,
                    queue: pool.request_queue,
                    slo: pool.slo,
                    max_model_len: pool.replica.model.max_model_len,
                    pool: role,
                    attention_dp_size: pool.replica.parallel.attention_dp_size.max(1),
                    max_running_sequences: pool.memory.max_running_sequences,
                    speculative_tree: pool.speculative.as_ref().and_then(|s| s.tree),
                };
                Replica {
                    scheduler: (pool.replica_scheduler.build)(&ctx),
                    stages: (0..pp).map(|_| Stage::default()).collect(),
                    batches_in_flight: 0,
                    predictor: Arc::clone(&pool.predictor.build),
                }
            })
        }
        let role = if config.disagg.is_some() { PoolRole::Prefill } else { PoolRole::Aggregated };
        let mut replicas: Vec<Replica> = pool(config, 0, role).collect();
        let disagg = config.disagg.as_ref().map(|d| {
            replicas.extend(pool(&d.decode, n, PoolRole::Decode));
            let num_decode = d.decode.cluster.num_replicas;
            // Every decode replica is built alike: the first one's admission capacity is each one's.
            let (capacity, decode_ranks) = replicas[n as usize].scheduler.transfer_capacity_blocks();
            let bootstrap = replicas[n as usize].scheduler.preallocates_before_prefill();
            DisaggRuntime {
                num_prefill: n,
                router: d.router,
                turn: 0,
                transfer: d.transfer.clone(),
                first_token_after_transfer: d.first_token_after_transfer,
                decode_block_size: d.decode.cache.block_size,
                decode_num_blocks: d.decode.memory.num_blocks.min(capacity),
                decode_ranks,
                waiting: DecodeQueues::new(num_decode as usize),
                admitted: Vec::new(),
                links: d.transfer.links(n, num_decode),
                targets: Vec::with_capacity(num_decode as usize),
                awaiting_transfers: vec![0; (n + num_decode) as usize],
                bootstrap,
                admitting: false,
                readmit: false,
                slots: Vec::new(),
            }
        });
        let num_all = replicas.len();
        let source = (config.workload.build.build)(&seeds);
        Simulation {
            now: SimTime::ZERO,
            queue: EventQueue::new(),
            next_arrival: source.peek_time(),
            source,
            requests: RequestArena::new(),
            global_queue: Vec::new(),
            router: (config.router.build)(n),
            routing_rng: seeds.stream("routing", config.router_seed),
            replicas: Replicas(replicas, n),
            batches: Vec::new(),
            free_batch_slots: Vec::new(),
            batch_seq: 0,
            predictor: Arc::clone(&config.predictor.build),
            metrics: Metrics::new(config),
            plan: BatchPlan::default(),
            touched: vec![false; num_all],
            events: 0,
            requests_done: 0,
            finished: false,
            time_limit_reached: false,
            horizon_reached: false,
            check_invariants: false,
            stop_on_overload: false,
            stopped_for_overload: false,
            disagg,
            handoffs: Vec::new(),
            completed: Vec::new(),
            config: config.clone(),
        }
    }

    /// Checks every invariant after every event (slow; for tests). A violation panics with
    /// the event and the broken rule.
    pub fn with_invariant_checks(mut self) -> Simulation {
        self.check_invariants = true;
        self
    }

    /// Stops the run at the arrival where the overload detector's verdict comes in
    /// (`metrics/overload.rs`; the capacity search's failing points): requests in flight are
    /// reported as unfinished, later arrivals are not simulated, and the report says so. The
    /// verdict is the one a run to the end reaches, at the same arrival.
    pub fn stop_when_overloaded(mut self) -> Simulation {
        self.stop_on_overload = true;
        self
    }

    /// Whether the run stopped because it was overloaded.
    pub fn stopped_for_overload(&self) -> bool {
        self.stopped_for_overload
    }

    /// Streams per-request records: rows of completed requests are handed out by
    /// [`Simulation::drain_request_records`] during the run, instead of being kept for the
    /// report (whose `requests` then stays empty). Exact distributions are unaffected.
    pub fn stream_request_records(mut self) -> Simulation {
        self.metrics.stream_records();
        self
    }

    /// Moves the request records that became final into `into`, in id order, with their
    /// inter-arrival delays: appended across calls, they are exactly the rows the report would
    /// have held. Once the run is over, every remaining record is final. Needs
    /// [`Simulation::stream_request_records`]; otherwise it adds nothing.
    pub fn drain_request_records(&mut self, into: &mut Vec<crate::report::RequestRecord>) {
        self.metrics.drain_records(into, self.finished);
    }

    /// Disaggregated: takes the KV transfer of request `id` (`None` if it had none), for its
    /// streamed row ([`crate::report::RequestRecord::write_disaggregated_csv_row`]).
    pub fn take_kv_transfer(&mut self, id: u32) -> Option<crate::report::TransferRecord> {
        self.metrics.take_transfer(id)
    }

    /// Current simulated time.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Whether the run is over.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Progress so far.
    pub fn progress(&self) -> Progress {
        Progress {
            sim_time_s: self.now.as_secs_f64(),
            requests_done: self.requests_done,
            requests_arrived: self.requests.len() as u64,
            requests_expected: self.config.workload.build.expected_requests,
            events: self.events,
            finished: self.finished,
        }
    }

    /// Handles up to `max_events` events; returns the progress after them.
    pub fn run_for_events(&mut self, max_events: u64) -> Progress {
        for _ in 0..max_events {
            if !self.step() {
                break;
            }
        }
        self.progress()
    }

    /// Runs to the end.
    pub fn run(&mut self) {
        while self.step() {}
    }

    /// Runs to the end and returns the report.
    pub fn run_to_report(mut self) -> Report {
        self.run();
        self.finish()
    }

    /// Handles the next event; false once the run is over.
    pub fn step(&mut self) -> bool {
        if self.finished {
            return false;
        }
        // Arrivals are drawn lazily from the workload: the next one is handled unless the
        // queue's head precedes its key (time, RequestArrival).
        let next = match self.next_arrival {
            Some(arrival) => Some(
                self.queue
                    .pop_before(arrival, EventClass::RequestArrival)
                    .unwrap_or((arrival, Event::RequestArrival)),
            ),
            None => self.queue.pop().map(|(key, event)| (key.time, event)),
        };
        let Some((time, event)) = next else {
            self.finished = true;
            return false;
        };
        // One comparison per event for both ends: the time limit (validated to lie within the
        // horizon), else the horizon itself — the safety net behind validation, so a clock that
        // would saturate (an epoch-time trace, an extreme random gap) ends the run there,
        // reported like a time limit, instead of running on at a meaningless time.
        let stop = self.config.time_limit.unwrap_or(SimTime::HORIZON);
        if time > stop {
            if self.config.time_limit.is_some() {
                self.time_limit_reached = true;
            } else {
                self.horizon_reached = true;
            }
            self.now = stop;
            self.finished = true;
            return false;
        }
        debug_assert!(time >= self.now, "time went backwards");
        self.now = time;
        self.queue.advance_to(time);
        self.events += 1;
        self.handle(event);
        if self.check_invariants {
            self.assert_invariants(&event);
        }
        if self.stop_on_overload && matches!(event, Event::RequestArrival) && self.metrics.is_overloaded() {
            self.stopped_for_overload = true;
            self.finished = true;
            return false;
        }
        true
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::RequestArrival => self.on_request_arrival(),
            Event::GlobalSchedule => self.on_global_schedule(),
            Event::ReplicaSchedule { replica } => self.on_replica_schedule(replica),
            Event::BatchStageArrival { replica, stage, batch } => {
                self.replicas.0[replica.0 as usize].stages[stage as usize].queue.push_back(batch);
                self.queue.push(self.now, Event::ReplicaStageSchedule { replica, stage });
            }
            Event::ReplicaStageSchedule { replica, stage } => self.on_stage_schedule(replica, stage),
            Event::BatchStageEnd { replica, stage, batch } => self.on_stage_end(replica, stage, batch),
            Event::BatchEnd { replica, batch } => self.on_batch_end(replica, batch),
            Event::KvTransferEnd { request } => self.on_kv_transfer_end(request),
            // A request refused in the instant its prefill ended (its KV could not be admitted
            // on its decode replica) may be released already.
            Event::PrefillEnd { request } => {
                if self.requests.contains(request) {
                    self.router.on_prefill_end(self.requests.get(request));
                }
            }
            Event::RequestEnd { request } => self.on_request_end(request),
        }
    }

    fn on_request_arrival(&mut self) {
        let new = self.source.next();
        self.next_arrival = self.source.peek_time();
        let Some(new) = new else { return };
        let id = self.requests.next_id();
        let mut request =
            Request::new(id, new.arrived_at, new.num_prefill_tokens.max(1), new.num_decode_tokens.max(1));
        request.session_id = new.session_id;
        request.client = new.client;
        request.warmup = new.warmup;
        request.received_at = self.now;
        request.num_speculative_tokens =
            self.config.speculative.as_ref().map_or(0, |s| s.max_accepted_drafts());
        if self.config.cache.enable_prefix_caching {
            request.block_hashes = new.block_hashes.as_ref().and_then(|h| {
                let full_blocks = request.total_tokens() / self.config.cache.block_size;
                hashes_for_block_size(h, self.config.cache.block_size, full_blocks as usize)
            });
        }
        self.metrics.on_arrival(&request);
        self.requests.push(request);
        self.global_queue.push(id);
        self.queue.push(self.now, Event::GlobalSchedule);
    }

    fn on_global_schedule(&mut self) {
        if self.global_queue.is_empty() {
            return;
        }
        let queued = std::mem::take(&mut self.global_queue);
        for &id in &queued {
            let replica = self.router.route(self.requests.get(id), &self.replicas, &mut self.routing_rng);
            self.requests.get_mut(id).replica = Some(replica);
            // Disaggregated: what its decode replica could never hold is refused before it is
            // prefilled (not at its hand-off, after holding prefill blocks for nothing).
            if let Some(reason) = self.disagg.as_ref().and_then(|d| d.never_fits(self.requests.get(id))) {
                self.refuse(id, reason);
                continue;
            }
            // Bootstrap: it reaches the prefill replica once its decode replica reserved its KV.
            if self.disagg.as_ref().is_some_and(|d| d.bootstrap)
                && self.requests.get(id).original_decode_tokens > 1
            {
                let decode = self.route_to_decode(id);
                self.admit_transfers(decode);
                continue;
            }
            match self.replicas.0[replica.0 as usize].scheduler.add_request(id, &mut self.requests) {
                Ok(()) => self.touched[replica.0 as usize] = true,
                Err(reason) => self.refuse(id, reason),
            }
        }
        self.global_queue = queued;
        self.global_queue.clear();
        for r in 0..self.touched.len() {
            if std::mem::take(&mut self.touched[r]) {
                self.queue.push(self.now, Event::ReplicaSchedule { replica: ReplicaId(r as u32) });
            }
        }
    }

    fn refuse(&mut self, id: RequestId, reason: String) {
        let request = self.requests.get_mut(id);
        request.state = RequestState::Refused;
        request.in_flight = false;
        let request = self.requests.get(id);
        if request.prefill_completed_at.is_none() {
            self.router.on_prefill_end(request);
        }
        // A request that left the prefill pool (its prefill done and routed to decode) ended
        // there for the router already.
        if request.decode_replica.is_none() || request.prefill_completed_at.is_none() {
            self.router.on_request_end(request);
        }
        // Bootstrap: a request refused with a decode reservation (by its prefill replica)
        // frees it, which may admit the requests queued behind it.
        let mut freed = None;
        if let Some(disagg) = self.disagg.as_mut()
            && std::mem::take(&mut disagg.slot(request.arena_slot).reserved)
        {
            let decode = request.decode_replica.expect("reserved on a decode replica");
            disagg.awaiting_transfers[decode.0 as usize] -= 1;
            self.replicas.0[decode.0 as usize].scheduler.release_reservation(id, &self.requests);
            if disagg.admitting {
                disagg.readmit = true;
            } else {
                freed = Some(decode);
            }
        }
        let request = self.requests.get(id);
        self.metrics.on_refused(request, self.now, reason);
        self.requests_done += 1;
        self.source.on_request_done(request.client, self.now);
        self.next_arrival = self.source.peek_time();
        self.release(id);
        if let Some(decode) = freed {
            self.admit_transfers(decode);
        }
    }

    /// Reuses an ended request's memory unless its replica's scheduler still reads it.
    fn release(&mut self, id: RequestId) {
        // A restarted request that ended without a transfer (one output token, or refused)
        // leaves no attempt start (nor any other state) behind for the next request in its slot.
        if let Some(disagg) = self.disagg.as_mut() {
            *disagg.slot(self.requests.get(id).arena_slot) = SlotState::default();
        }
        let replica = self.requests.get(id).replica;
        if replica.is_none_or(|r| !self.replicas.0[r.0 as usize].scheduler.reads_ended_requests()) {
            self.requests.release(id);
        }
    }

    fn on_replica_schedule(&mut self, replica: ReplicaId) {
        let r = replica.0 as usize;
        let pp = self.replicas.0[r].stages.len() as u32;
        while self.replicas.0[r].batches_in_flight < pp {
            self.replicas.0[r].scheduler.next_batch(self.now, &mut self.requests, &mut self.plan);
            if self.plan.is_empty() {
                // Nothing in flight and nothing schedulable while requests wait would stall the
                // replica forever (Vidur §12.4): refuse what blocks the queue, then retry.
                // Disaggregated: a replica whose blocks wait on transfers is not stalled.
                let awaiting_transfers = self.disagg.as_ref().map_or(0, |d| d.awaiting_transfers[r]);
                let replica_state = &mut self.replicas.0[r];
                if replica_state.batches_in_flight == 0
                    && awaiting_transfers == 0
                    && replica_state.scheduler.num_pending() > 0
                {
                    match replica_state.scheduler.evict_blocked(&mut self.requests) {
                        Some((id, reason)) => {
                            self.refuse(id, reason);
                            continue;
                        }
                        None => break,
                    }
                }
                break;
            }
            let slot = self.new_batch(replica);
            self.replicas.0[r].batches_in_flight += 1;
            self.queue.push(self.now, Event::BatchStageArrival { replica, stage: 0, batch: slot });
        }
        self.metrics.sample_kv(replica, self.now, self.replicas.0[r].scheduler.kv_usage());
    }

    /// Turns the scheduler's plan into a batch in a free slot; the slot's previous buffers
    /// become the next plan's, so forming a batch allocates nothing in steady state.
    fn new_batch(&mut self, replica: ReplicaId) -> BatchSlot {
        let slot = self.free_batch_slots.pop().unwrap_or_else(|| {
            self.batches.push(Batch::default());
            BatchSlot(self.batches.len() as u32 - 1)
        });
        let batch = &mut self.batches[slot.0 as usize];
        std::mem::swap(&mut batch.plan, &mut self.plan);
        self.plan.clear();
        batch.seq = self.batch_seq;
        batch.replica = replica;
        batch.scheduled_at = self.now;
        self.batch_seq += 1;
        // One walk of the batch: its shape, and the first schedule of requests new to it.
        let (now, metrics) = (self.now, &mut self.metrics);
        batch.describe_scheduling(&mut self.requests, |request| {
            if request.scheduled_at.is_none() {
                request.scheduled_at = Some(now);
                metrics.on_first_schedule(request);
            }
        });
        // Disaggregated with layer-wise transfer: a restarted prefill's new attempt starts in
        // the first batch that has it after its restart.
        if let Some(d) = self.disagg.as_mut().filter(|d| d.transfer.layerwise && replica.0 < d.num_prefill) {
            for &id in &batch.plan.requests {
                let request = self.requests.get(id);
                let restarts = request.num_restarts;
                if restarts == 0 {
                    continue;
                }
                let slot = d.slot(request.arena_slot);
                if slot.attempt_start.is_none_or(|(seen, _)| seen != restarts) {
                    slot.attempt_start = Some((restarts, now));
                }
            }
        }
        // Under attention DP, each item on the rank its scheduler gave it (the predictor times
        // the slowest rank's own requests).
        let scheduler = &self.replicas.0[replica.0 as usize].scheduler;
        if scheduler.assigns_dp_ranks() {
            // Ranks are below MAX_PARALLEL_DEGREE (asserted below u16::MAX at compile time).
            const _: () = assert!(crate::limits::MAX_PARALLEL_DEGREE < BatchItem::NO_RANK as u32);
            for (item, &id) in batch.items.iter_mut().zip(&batch.plan.requests) {
                if let Some(rank) = scheduler.dp_rank(id) {
                    item.dp_rank = u16::try_from(rank).unwrap_or(BatchItem::NO_RANK);
                }
            }
        }
        self.metrics.on_batch_scheduled(batch, self.now);
        slot
    }

    fn on_stage_schedule(&mut self, replica: ReplicaId, stage: u32) {
        let replica_state = &mut self.replicas.0[replica.0 as usize];
        let num_stages = replica_state.stages.len() as u32;
        let state = &mut replica_state.stages[stage as usize];
        if state.running.is_some() {
            return;
        }
        let Some(slot) = state.queue.pop_front() else { return };
        let position = StagePosition { stage, num_stages };
        let batch = &self.batches[slot.0 as usize];
        let time = replica_state.predictor.predict(&batch.items, position);
        let (duration, model_ns) = time.total_and_model_ns();
        let model_ns = model_ns.min(duration);
        state.running = Some(self.now);
        let end = self.now + duration;
        // The stage's end is known now, so its requests' stage accounting is done in this one
        // walk rather than a second one at the end: nothing reads these fields before then
        // (the next stage's start reads `latest_stage_end`, the request's end the sums), and
        // a request is in one batch at a time.
        for &id in &batch.plan.requests {
            let request = self.requests.get_mut(id);
            debug_assert!(
                request.latest_stage_end.is_none_or(|t| t <= self.now),
                "request {} started a stage before its previous one ended",
                id.0
            );
            // Time between stages counts as preemption. Unlike Vidur, the wait of a request's
            // very first batch in the stage-0 queue (PP > 1) counts too, so that
            // e2e = scheduling delay + execution + preemption for every request.
            if let Some(since) = request.latest_stage_end.or(request.scheduled_at) {
                request.preempted_ns += self.now.since(since);
            }
            // Wrapping: the sums of stages that end stay within the horizon, but a stage that
            // would end past it (a prediction of u64::MAX ns) is added here and never ends; the
            // run stops there and nothing reads the sum (no overflow panic for it either).
            request.execution_ns = request.execution_ns.wrapping_add(duration);
            request.model_execution_ns = request.model_execution_ns.wrapping_add(model_ns);
            request.latest_stage_end = Some(end);
        }
        self.metrics.on_stage_start(batch, stage, self.now, &time, duration);
        self.queue.push(end, Event::BatchStageEnd { replica, stage, batch: slot });
    }

    fn on_stage_end(&mut self, replica: ReplicaId, stage: u32, slot: BatchSlot) {
        let started = self.replicas.0[replica.0 as usize].stages[stage as usize]
            .running
            .take()
            .expect("stage was running");
        self.metrics.on_stage_end(replica, stage, started, self.now);
        // The batch's requests were accounted for at the stage's start (`on_stage_schedule`).
        self.queue.push(self.now, Event::ReplicaStageSchedule { replica, stage });
        if stage + 1 == self.replicas.0[replica.0 as usize].stages.len() as u32 {
            self.queue.push(self.now, Event::BatchEnd { replica, batch: slot });
        } else {
            self.queue.push(self.now, Event::BatchStageArrival { replica, stage: stage + 1, batch: slot });
        }
    }

    fn on_batch_end(&mut self, replica: ReplicaId, slot: BatchSlot) {
        // Out of its slot while the requests and scheduler are updated; back in for reuse.
        let batch = std::mem::take(&mut self.batches[slot.0 as usize]);
        let now = self.now;
        let r = replica.0 as usize;
        let prefill_pool = self.disagg.as_ref().is_some_and(|d| replica.0 < d.num_prefill);
        // Events of one class run in push order and classes in class order, so pushing the
        // prefill and request ends here, before the replica's next schedule, keeps the order.
        self.queue.push(now, Event::ReplicaSchedule { replica });
        // Equal gaps in a row (requests that were in the previous batch together) are counted
        // together, in the same order; nothing else samples the TBT sketch in this loop.
        let mut gaps: (Nanos, u64) = (0, 0);
        for (&id, &n) in batch.plan.requests.iter().zip(&batch.plan.num_tokens) {
            let request = self.requests.get_mut(id);
            let previous_token_at = request.last_token_at;
            let first_token = request.num_tokens_emitted == 0;
            // A speculative decode step verified n − 1 drafts: it keeps the accepted ones and
            // the target's own next token.
            let n = match &self.config.speculative {
                Some(spec) if request.is_prefill_complete => {
                    spec.emitted(n.saturating_sub(1), &mut request.speculative_credit)
                }
                _ => n,
            };
            let outcome = request.on_iteration_end(n, now);
            if outcome.produced_token && !first_token && !request.warmup {
                // The step's tokens arrive together, in one streamed chunk: one gap sample of
                // the whole wait (vLLM's benchmark records one inter-token latency per chunk),
                // so a stall is not hidden by the tokens that came with it. TPOT still
                // averages: (E2E − TTFT) / (D − 1).
                let gap = now.since(previous_token_at);
                request.max_token_gap_ns = request.max_token_gap_ns.max(gap);
                if gap == gaps.0 {
                    gaps.1 += 1;
                } else {
                    self.metrics.on_token_gaps(gaps.0, gaps.1);
                    gaps = (gap, 1);
                }
            }
            if outcome.first_prefill_done {
                self.queue.push(now, Event::PrefillEnd { request: id });
                if prefill_pool && !outcome.completed {
                    self.handoffs.push(id);
                }
            }
            if outcome.completed {
                self.queue.push(now, Event::RequestEnd { request: id });
                self.completed.push(id);
            }
        }
        self.metrics.on_token_gaps(gaps.0, gaps.1);
        if replica.0 < self.replicas.1 {
            self.router.on_batch_end(replica, &batch, &self.requests);
        }
        self.replicas.0[r].scheduler.on_batch_end(&batch, &self.completed, &mut self.requests);
        self.completed.clear();
        self.replicas.0[r].batches_in_flight -= 1;
        self.metrics.on_batch_end(&batch, now);
        self.metrics.sample_kv(replica, now, self.replicas.0[r].scheduler.kv_usage());
        self.batches[slot.0 as usize] = batch;
        self.free_batch_slots.push(slot);
        if self.disagg.is_some() {
            if prefill_pool {
                let handoffs = std::mem::take(&mut self.handoffs);
                for &id in &handoffs {
                    self.hand_off(replica, id);
                }
                self.handoffs = handoffs;
                self.handoffs.clear();
            } else {
                // Blocks freed here may admit queued transfers.
                self.admit_transfers(replica);
            }
        }
    }

    /// Disaggregated: `id` leaves prefill replica `replica` (its KV blocks stay held). Without
    /// bootstrap it is routed to a decode replica by the decode router and queues there for KV
    /// room; with it (reserved before its prefill) its transfer starts now.
    fn hand_off(&mut self, replica: ReplicaId, id: RequestId) {
        self.replicas.0[replica.0 as usize].scheduler.hand_off(id, &mut self.requests);
        self.router.on_request_end(self.requests.get(id));
        let disagg = self.disagg.as_mut().expect("disaggregated");
        disagg.awaiting_transfers[replica.0 as usize] += 1;
        if disagg.bootstrap {
            let reserved = std::mem::take(&mut disagg.slot(self.requests.get(id).arena_slot).reserved);
            if self.check_invariants {
                assert!(
                    reserved,
                    "INV-13 (disaggregated conservation): request {} left the prefill pool without a decode reservation, or twice",
                    id.0
                );
            }
            let decode = self.requests.get(id).decode_replica.expect("reserved on a decode replica");
            let admitted =
                self.replicas.0[decode.0 as usize].scheduler.admit_transferred(id, &mut self.requests);
            // Always checked: a reserved request the decode scheduler did not take would never decode.
            assert_eq!(admitted, Ok(true), "a reserved request is admitted on its reservation");
            self.start_transfer(id, decode);
            return;
        }
        if self.check_invariants {
            assert!(
                self.requests.get(id).decode_replica.is_none(),
                "INV-13 (disaggregated conservation): request {} left the prefill pool twice",
                id.0
            );
        }
        let decode = self.route_to_decode(id);
        self.admit_transfers(decode);
    }

    /// Disaggregated: the decode router picks `id`'s decode replica, where it queues for KV
    /// room (in the queue the replica's scheduler names); returns that replica.
    fn route_to_decode(&mut self, id: RequestId) -> ReplicaId {
        let disagg = self.disagg.as_mut().expect("disaggregated");
        let first = disagg.num_prefill as usize;
        disagg.targets.clear();
        for (d, decode) in self.replicas.0[first..].iter().enumerate() {
            disagg.targets.push(DecodeTarget {
                pending: decode.scheduler.num_pending() as u64,
                queued: disagg.waiting.len(d) as u64,
                free_blocks: decode.scheduler.kv_usage().free_blocks,
                queued_blocks: disagg.waiting.blocks(d),
            });
        }
        let d = pick_decode_replica(disagg.router, &disagg.targets, disagg.turn);
        disagg.turn += 1;
        let decode = ReplicaId(disagg.num_prefill + d as u32);
        let request = self.requests.get_mut(id);
        request.decode_replica = Some(decode);
        // Its prompt and first token (bootstrap: as they will be after its prefill).
        let tokens = if request.is_prefill_complete {
            request.num_processed_tokens
        } else {
            request.num_prefill_tokens + 1
        };
        let blocks = u64::from(tokens.div_ceil(disagg.decode_block_size));
        let queue = self.replicas.0[decode.0 as usize].scheduler.transfer_queue(id);
        disagg.waiting.push(d, queue, id, blocks);
        decode
    }

    /// Disaggregated: tries the requests queued for decode replica `replica` while its
    /// scheduler has room for them: each queue first come first served, a queue whose head
    /// has no room waiting while the others go on (`DecodeQueues::admit`). Without bootstrap
    /// each admitted request's transfer is booked, in the order admitted; with it each
    /// admitted (reserved) request goes to its prefill replica, in that order.
    fn admit_transfers(&mut self, replica: ReplicaId) {
        let disagg = self.disagg.as_mut().expect("disaggregated");
        if disagg.admitting {
            disagg.readmit = true;
            return;
        }
        disagg.admitting = true;
        loop {
            self.admission_pass(replica);
            let disagg = self.disagg.as_mut().expect("disaggregated");
            if !std::mem::take(&mut disagg.readmit) {
                break;
            }
        }
        self.disagg.as_mut().expect("disaggregated").admitting = false;
        let r = replica.0 as usize;
        self.metrics.sample_kv(replica, self.now, self.replicas.0[r].scheduler.kv_usage());
    }

    /// One pass of [`Simulation::admit_transfers`].
    fn admission_pass(&mut self, replica: ReplicaId) {
        let disagg = self.disagg.as_mut().expect("disaggregated");
        let d = (replica.0 - disagg.num_prefill) as usize;
        let bootstrap = disagg.bootstrap;
        let scheduler = &mut self.replicas.0[replica.0 as usize].scheduler;
        let requests = &mut self.requests;
        let mut admitted = std::mem::take(&mut disagg.admitted);
        disagg.waiting.admit(
            d,
            |id| {
                let answer = if bootstrap {
                    scheduler.reserve_transfer(id, requests)
                } else {
                    scheduler.admit_transferred(id, requests)
                };
                match answer {
                    Ok(true) => Admission::Admitted,
                    Ok(false) => Admission::Wait,
                    Err(reason) => Admission::Refused(reason),
                }
            },
            &mut admitted,
        );
        for (id, answer) in admitted.drain(..) {
            let disagg = self.disagg.as_mut().expect("disaggregated");
            let prefill = self.requests.get(id).replica.expect("routed");
            match answer {
                Admission::Refused(reason) if bootstrap => {
                    // Refused before its prefill: its prefill replica never saw it.
                    self.refuse(id, reason);
                }
                Admission::Refused(reason) => {
                    disagg.awaiting_transfers[prefill.0 as usize] -= 1;
                    self.replicas.0[prefill.0 as usize].scheduler.release_handed_off(id, &self.requests);
                    self.queue.push(self.now, Event::ReplicaSchedule { replica: prefill });
                    self.refuse(id, reason);
                }
                Admission::Admitted if bootstrap => {
                    // Reserved: the prefill server's bootstrap is done and the request joins
                    // its waiting queue.
                    disagg.awaiting_transfers[replica.0 as usize] += 1;
                    disagg.slot(self.requests.get(id).arena_slot).reserved = true;
                    // It reaches the prefill scheduler's waiting queue now (SGLang moves it from
                    // the bootstrap queue when polled), so a batch formed before now (the overlap
                    // or receive cutoff) must not see it, and the queue orders it from now.
                    let request = self.requests.get_mut(id);
                    request.received_at = request.received_at.max(self.now);
                    match self.replicas.0[prefill.0 as usize].scheduler.add_request(id, &mut self.requests) {
                        Ok(()) => self.queue.push(self.now, Event::ReplicaSchedule { replica: prefill }),
                        Err(reason) => self.refuse(id, reason),
                    }
                }
                Admission::Admitted => {
                    disagg.awaiting_transfers[replica.0 as usize] += 1;
                    self.start_transfer(id, replica);
                }
                Admission::Wait => unreachable!("a waiting request stays in its queue"),
            }
        }
        if let Some(disagg) = self.disagg.as_mut() {
            disagg.admitted = admitted;
        }
    }

    /// Disaggregated: books the transfer of `id`'s KV (prefilled, its decode blocks reserved)
    /// to decode replica `replica` on the two replicas' links; `KvTransferEnd` lands it.
    fn start_transfer(&mut self, id: RequestId, replica: ReplicaId) {
        let disagg = self.disagg.as_mut().expect("disaggregated");
        let d = replica.0 - disagg.num_prefill;
        let request = self.requests.get(id);
        let prefill = request.replica.expect("routed");
        let prefill_end = request.prefill_completed_at.expect("prefilled");
        // The start of its last uninterrupted prefill attempt (its first schedule unless
        // it was restarted: the KV of an earlier attempt was dropped, never sent).
        let attempt_start =
            disagg.slot(request.arena_slot).attempt_start.take().map(|(_, at)| at).or(request.scheduled_at);
        // Layer-wise sending overlaps the prefill only if room was there at its end, and
        // only while the link was free during it.
        let overlapped = if prefill_end == self.now {
            let link_free = disagg.links.free_at(prefill, ReplicaId(d));
            let sending_from = attempt_start.unwrap_or(prefill_end).max(link_free).min(prefill_end);
            prefill_end.since(sending_from)
        } else {
            0
        };
        let link = disagg.transfer.link(prefill.0, d);
        let duration = disagg.transfer.duration_ns(request.num_prefill_tokens, link, overlapped);
        let (start, end) = disagg.links.book(prefill, ReplicaId(d), self.now, duration);
        if self.check_invariants {
            // The reservation was made now or before, and the prefill ended.
            assert!(
                start >= prefill_end && start >= self.now,
                "INV-13 (disaggregated causality): request {}'s transfer starts at {start} before its prefill's end {prefill_end} or its KV reservation {}",
                id.0,
                self.now
            );
        }
        self.metrics.on_kv_transfer(id, replica, start.since(prefill_end), end.since(start), link);
        self.queue.push(end, Event::KvTransferEnd { request: id });
    }

    /// Disaggregated: `id`'s KV cache reached its decode replica; its prefill replica frees
    /// the blocks, and both replicas schedule.
    fn on_kv_transfer_end(&mut self, id: RequestId) {
        let disagg = self.disagg.as_mut().expect("disaggregated");
        let first_token_after_transfer = disagg.first_token_after_transfer;
        let now = self.now;
        let request = self.requests.get_mut(id);
        request.in_flight = false;
        if first_token_after_transfer && !request.warmup {
            request.first_token_streamed_at = Some(now);
            request.last_token_at = now;
        }
        let (prefill, decode) =
            (request.replica.expect("routed"), request.decode_replica.expect("handed off"));
        disagg.awaiting_transfers[prefill.0 as usize] -= 1;
        disagg.awaiting_transfers[decode.0 as usize] -= 1;
        let p = prefill.0 as usize;
        self.replicas.0[p].scheduler.release_handed_off(id, &self.requests);
        self.metrics.sample_kv(prefill, now, self.replicas.0[p].scheduler.kv_usage());
        self.queue.push(now, Event::ReplicaSchedule { replica: prefill });
        self.queue.push(now, Event::ReplicaSchedule { replica: decode });
    }

    fn on_request_end(&mut self, id: RequestId) {
        let request = self.requests.get(id);
        if self.check_invariants {
            assert_eq!(
                request.num_tokens_emitted, request.original_decode_tokens,
                "INV-2 (token conservation) for request {}",
                id.0
            );
            if let Some(disagg) = &self.disagg {
                // INV-13: a request with tokens left after its prefill ends on a decode replica,
                // after its transfer landed; one without ends where it was prefilled.
                let ended_on = request.decode_replica.unwrap_or(request.replica.expect("routed"));
                assert_eq!(
                    ended_on.0 >= disagg.num_prefill,
                    request.original_decode_tokens > 1,
                    "INV-13 (disaggregated conservation): request {} ended on replica {}",
                    id.0,
                    ended_on.0
                );
                assert!(!request.in_flight, "INV-13: request {} ended with its KV in transfer", id.0);
            }
        }
        if request.decode_replica.is_none() {
            self.router.on_request_end(request);
        }
        self.metrics.on_request_end(request);
        self.requests_done += 1;
        self.source.on_request_done(request.client, self.now);
        self.next_arrival = self.source.peek_time();
        self.release(id);
    }

    /// Panics with a description if an invariant is broken after `event`.
    fn assert_invariants(&self, event: &Event) {
        for (r, replica) in self.replicas.0.iter().enumerate() {
            if let Err(e) = replica.scheduler.check_invariants(&self.requests) {
                panic!("INV-4 (KV conservation) broken on replica {r} after {event:?} at {}: {e}", self.now);
            }
            let usage = replica.scheduler.kv_usage();
            assert_eq!(
                usage.allocated_blocks + usage.free_blocks,
                usage.total_blocks,
                "INV-4 after {event:?}"
            );
        }
    }

    /// Whether the run stopped at the simulation horizon ([`SimTime::HORIZON`]) because its
    /// next event lay beyond it.
    pub fn horizon_reached(&self) -> bool {
        self.horizon_reached
    }

    /// Whether the run stopped at its time limit (`--time_limit`-style flags) with events left.
    pub fn time_limit_reached(&self) -> bool {
        self.time_limit_reached
    }

    /// Ends the run and builds its report. Requests still in flight are reported as
    /// unfinished; every arrived request is accounted for. A run stopped by the horizon says
    /// so in a warning and in each unfinished request's reason.
    pub fn finish(self) -> Report {
        let horizon_reached = self.horizon_reached;
        let arrivals_cut_off = self.next_arrival.is_some();
        let (mut report, unfinished) = self.end_metrics(|metrics, end| {
            let unfinished = end.unfinished.len();
            (metrics.finish(end), unfinished)
        });
        if horizon_reached {
            let reason = format!("still in flight when {HORIZON_TEXT} ended the run");
            for e in report.request_errors.iter_mut().filter(|e| e.status == RequestStatus::Unfinished) {
                e.reason.clone_from(&reason);
            }
            let mut warning = format!(
                "the run stopped at {HORIZON_TEXT}: its next event lay beyond it and was not simulated"
            );
            if unfinished > 0 {
                warning
                    .push_str(&format!("; {unfinished} requests still in flight are reported as unfinished"));
            }
            if arrivals_cut_off {
                warning.push_str(
                    "; the workload's later requests never arrived and are not counted (is the trace in epoch time or milliseconds, or the arrival rate or time scale extreme?)",
                );
            }
            report.warnings.push(warning);
        }
        report
    }

    /// Ends the run and returns its summary alone, equal to [`Simulation::finish`]'s, without
    /// building the rest of the report (a capacity search reads only the summary).
    pub fn finish_summary(self) -> crate::report::Summary {
        self.end_metrics(|metrics, end| metrics.finish_summary(end))
    }

    /// Hands the metrics and the run's end state (requests still in flight listed as
    /// unfinished) to `f`.
    fn end_metrics<T>(self, f: impl FnOnce(Metrics, crate::metrics::RunEnd<'_>) -> T) -> T {
        let mut unfinished = Vec::new();
        for request in self.requests.iter() {
            if !matches!(request.state, RequestState::Completed | RequestState::Refused) {
                unfinished.push(request.id);
            }
        }
        let end = crate::metrics::RunEnd {
            config: &self.config,
            now: self.now,
            requests: &self.requests,
            unfinished: &unfinished,
            events: self.events,
            time_limit_reached: self.time_limit_reached,
            arrivals_cut_off: self.time_limit_reached && self.next_arrival.is_some(),
            predictor: self.predictor.describe(),
            prefix_stats: self.replicas.0.iter().map(|r| r.scheduler.prefix_cache_stats()).collect(),
            final_kv: self.replicas.0.iter().map(|r| r.scheduler.kv_usage()).collect(),
            stopped_for_overload: self.stopped_for_overload,
        };
        f(self.metrics, end)
    }
}
