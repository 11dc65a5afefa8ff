//! Waiting queues of replica schedulers: FCFS by arrival, or EDF by prefill deadline.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::request::{Request, RequestId};
use crate::time::SimTime;

use crate::config::SloSpec;

/// The order of a waiting queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::RequestArena;
    use crate::scheduler::replica::VllmV1Scheduler;
    use crate::scheduler::replica::testkit::{Harness, ctx};

    fn slo() -> SloSpec {
        // 1 ms per prompt token.
        SloSpec { prefill_e2e_time_normalized: Some(0.001), prefill_e2e_time_min: None }
    }

    fn arena(specs: &[(u64, u32)]) -> RequestArena {
        let mut arena = RequestArena::new();
        for (i, &(at_ms, prefill)) in specs.iter().enumerate() {
            arena.push(Request::new(RequestId(i as u32), SimTime(at_ms * 1_000_000), prefill, 4));
        }
        arena
    }

    fn drain(queue: &mut RequestQueue) -> Vec<u32> {
        std::iter::from_fn(|| queue.pop().map(|id| id.0)).collect()
    }

    #[test]
    fn fcfs_orders_by_arrival_and_edf_by_prefill_deadline() {
        // Deadlines: 0 + 100 ms, 1 + 10 ms, 2 + 50 ms.
        let requests = arena(&[(0, 100), (1, 10), (2, 50)]);
        let mut fcfs = RequestQueue::new(QueueKind::Fcfs, slo());
        let mut edf = RequestQueue::new(QueueKind::Edf, slo());
        for id in [2, 0, 1] {
            fcfs.push(requests.get(RequestId(id)));
            edf.push(requests.get(RequestId(id)));
        }
        assert_eq!(edf.peek(), Some(RequestId(1)), "peek returns the request, not a wrapper (Vidur §12.8)");
        assert_eq!(drain(&mut fcfs), [0, 1, 2]);
        assert_eq!(drain(&mut edf), [1, 2, 0]);
    }

    #[test]
    fn a_restarted_request_keeps_its_deadline() {
        let mut requests = arena(&[(0, 100), (1, 10)]);
        requests.get_mut(RequestId(0)).num_processed_tokens = 102;
        requests.get_mut(RequestId(0)).is_prefill_complete = true;
        requests.get_mut(RequestId(0)).restart(); // prompt grows to 102 tokens
        let mut edf = RequestQueue::new(QueueKind::Edf, slo());
        edf.push(requests.get(RequestId(0)));
        edf.push(requests.get(RequestId(1)));
        // Still 0 + 100 ms (from the original prompt), after 1 + 10 ms.
        assert_eq!(drain(&mut edf), [1, 0]);
    }

    #[test]
    fn vllm_v1_admits_in_deadline_order_under_edf() {
        for (kind, expected) in
            [(QueueKind::Fcfs, vec![(0, 64)]), (QueueKind::Edf, vec![(1, 10), (2, 50), (0, 4)])]
        {
            let mut context = ctx(64, 16, 1);
            context.queue = kind;
            context.slo = slo();
            let mut h = Harness::new(Box::new(VllmV1Scheduler::new(&context, 64, 8)));
            for (at_ms, prefill) in [(0, 100), (1, 10), (2, 50)] {
                h.add_at(at_ms * 1_000_000, prefill, 2).1.unwrap();
            }
            assert_eq!(h.step(), expected, "{kind:?}");
            h.drain(16);
        }
    }
}
