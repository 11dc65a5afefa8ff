//! Waiting queues of replica schedulers: FCFS by arrival, or EDF by prefill deadline.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::request::{Request, RequestId};
use crate::time::SimTime;

use crate::config::SloSpec;

/// The order of a waiting queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueKind {
    /// First come, first served: by (arrival, id).
    Fcfs,
    /// Earliest deadline first: by (arrival + prefill SLO, id).
    Edf,
}

impl QueueKind {
    /// Parses a `--request_queue_config_type` value (validated by the flag table).
    pub fn parse(s: &str) -> QueueKind {
        if s == "edf" { QueueKind::Edf } else { QueueKind::Fcfs }
    }
}

/// A priority queue of waiting requests. A preempted request re-enters with its original key,
/// so it goes ahead of later arrivals.
#[derive(Clone, Debug)]
pub struct RequestQueue {
    kind: QueueKind,
    slo: SloSpec,
    heap: BinaryHeap<Reverse<(SimTime, RequestId)>>,
}

impl RequestQueue {
    /// An empty queue.
    pub fn new(kind: QueueKind, slo: SloSpec) -> RequestQueue {
        RequestQueue { kind, slo, heap: BinaryHeap::new() }
    }

    fn key(&self, request: &Request) -> SimTime {
        match self.kind {
            QueueKind::Fcfs => request.arrived_at,
            QueueKind::Edf => {
                let slo = self.slo.prefill_slo_secs(request.original_prefill_tokens).unwrap_or(0.0);
                request.arrived_at + crate::time::secs_to_nanos(slo)
            }
        }
    }

    /// Adds a request.
    pub fn push(&mut self, request: &Request) {
        let key = self.key(request);
        self.heap.push(Reverse((key, request.id)));
    }

    /// The first request, without removing it.
    pub fn peek(&self) -> Option<RequestId> {
        self.heap.peek().map(|Reverse((_, id))| *id)
    }

    /// Removes and returns the first request.
    pub fn pop(&mut self) -> Option<RequestId> {
        self.heap.pop().map(|Reverse((_, id))| id)
    }

    /// Waiting requests.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}
