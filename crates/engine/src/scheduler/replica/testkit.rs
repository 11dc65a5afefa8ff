//! Test harness for replica schedulers: drives one scheduler through iterations the way the
//! engine does (form a batch, advance its requests' tokens, end it) without timing.

use crate::batch::{Batch, BatchPlan};
use crate::config::SloSpec;
use crate::request::{ReplicaId, Request, RequestArena, RequestId, RequestState};
use crate::time::SimTime;

use super::{QueueKind, ReplicaContext, ReplicaScheduler};

/// A context of `num_blocks` blocks of `block_size` tokens and `pp` stages, FCFS, no prefix
/// caching, watermark 0, max_model_len 64.
pub(crate) fn ctx(num_blocks: u64, block_size: u32, pp: u32) -> ReplicaContext {
    ReplicaContext {
        replica: ReplicaId(0),
        num_blocks,
        block_size,
        num_pipeline_stages: pp,
        enable_prefix_caching: false,
        num_preallocate_tokens: 0,
        watermark_blocks_fraction: 0.0,
        queue: QueueKind::Fcfs,
        slo: SloSpec::default(),
        max_model_len: 64,
        pool: super::PoolRole::Aggregated,
        attention_dp_size: 1,
        max_running_sequences: None,
        speculative_tree: None,
    }
}

/// One scheduler and its requests.
pub(crate) struct Harness {
    pub(crate) requests: RequestArena,
    pub(crate) scheduler: Box<dyn ReplicaScheduler>,
    /// The instant batches are formed at: the latest arrival so far (time does not pass).
    now: SimTime,
}

impl Harness {
    /// A harness around `scheduler`.
    pub(crate) fn new(scheduler: Box<dyn ReplicaScheduler>) -> Harness {
        Harness { requests: RequestArena::new(), scheduler, now: SimTime::ZERO }
    }

    /// A request of `prefill` + `decode` tokens arriving at `arrived_at_ns`; returns its id
    /// and whether the scheduler accepted it.
    pub(crate) fn add_at(
        &mut self,
        arrived_at_ns: u64,
        prefill: u32,
        decode: u32,
    ) -> (RequestId, Result<(), String>) {
        let id = self.requests.next_id();
        let mut r = Request::new(id, SimTime(arrived_at_ns), prefill, decode);
        self.now = self.now.max(SimTime(arrived_at_ns));
        r.replica = Some(ReplicaId(0));
        self.requests.push(r);
        let accepted = self.scheduler.add_request(id, &mut self.requests);
        if accepted.is_err() {
            self.requests.get_mut(id).state = RequestState::Refused;
        }
        (id, accepted)
    }

    /// A request of `prefill` + `decode` tokens that the scheduler must accept.
    pub(crate) fn add(&mut self, prefill: u32, decode: u32) -> RequestId {
        let at = self.requests.len() as u64;
        let (id, accepted) = self.add_at(at, prefill, decode);
        accepted.expect("request accepted");
        id
    }

    /// Forms the next batch (checking invariants) without ending it.
    pub(crate) fn form(&mut self) -> Batch {
        let mut plan = BatchPlan::default();
        self.scheduler.next_batch(self.now, &mut self.requests, &mut plan);
        self.scheduler.check_invariants(&self.requests).expect("invariants after forming a batch");
        let mut batch = Batch { plan, ..Batch::default() };
        batch.describe(&self.requests);
        batch
    }

    /// Ends `batch` as the engine does: tokens advance, then the scheduler releases what
    /// finished.
    pub(crate) fn end(&mut self, batch: &Batch) {
        let completed = end_iterations(batch, &mut self.requests, SimTime::ZERO);
        self.scheduler.on_batch_end(batch, &completed, &mut self.requests);
        self.scheduler.check_invariants(&self.requests).expect("invariants after a batch end");
    }

    /// Forms and ends one batch; returns its `(request id, tokens)` pairs.
    pub(crate) fn step(&mut self) -> Vec<(u32, u32)> {
        let batch = self.form();
        self.end(&batch);
        pairs(&batch)
    }

    /// Steps until nothing is pending (at most `limit` iterations); returns how many it took.
    pub(crate) fn drain(&mut self, limit: usize) -> usize {
        for i in 0..limit {
            if self.scheduler.num_pending() == 0 {
                return i;
            }
            assert!(
                !self.step().is_empty(),
                "no batch formed with {} requests pending",
                self.scheduler.num_pending()
            );
        }
        panic!("still {} requests pending after {limit} iterations", self.scheduler.num_pending());
    }

    /// Times request `id` was preempted.
    pub(crate) fn restarts(&self, id: RequestId) -> u32 {
        self.requests.get(id).num_restarts
    }
}

/// A batch's `(request id, tokens)` pairs.
pub(crate) fn pairs(batch: &Batch) -> Vec<(u32, u32)> {
    batch.plan.requests.iter().zip(&batch.plan.num_tokens).map(|(id, n)| (id.0, *n)).collect()
}

/// Ends the iterations of `batch`'s requests at `now` as the engine's batch end does; returns
/// those that completed, in plan order (what the engine hands the scheduler's `on_batch_end`).
pub(crate) fn end_iterations(batch: &Batch, requests: &mut RequestArena, now: SimTime) -> Vec<RequestId> {
    let mut completed = Vec::new();
    for (&id, &n) in batch.plan.requests.iter().zip(&batch.plan.num_tokens) {
        if requests.get_mut(id).on_iteration_end(n, now).completed {
            completed.push(id);
        }
    }
    completed
}
