//! The closed set of events and the one key that orders them.
//!
//! Events are ordered by [`EventKey`] = (time, class, seq). At equal times the class decides,
//! in this order (Vidur's declared priorities, which its heap never applied, behaviour.md §3):
//! every state update at an instant (stage arrivals, request arrivals, stage ends, batch ends,
//! prefill ends, request ends) happens before any scheduling decision at that instant (global
//! routing, then replica scheduling, then stage scheduling). Within a class, events run in the
//! order they were created (`seq`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::batch::BatchSlot;
use crate::request::{ReplicaId, RequestId};
use crate::time::SimTime;

/// Same-time priority of an event: lower runs first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum EventClass {
    /// A batch reaches a pipeline stage's queue.
    BatchStageArrival = 1,
    /// A request arrives at the cluster.
    RequestArrival = 2,
    /// A batch finishes a pipeline stage.
    BatchStageEnd = 3,
    /// A batch finishes its last stage; tokens advance.
    BatchEnd = 4,
    /// A request's first prefill completed.
    PrefillEnd = 5,
    /// A request completed.
    RequestEnd = 6,
    /// The router assigns queued requests to replicas.
    GlobalSchedule = 7,
    /// A replica forms batches.
    ReplicaSchedule = 8,
    /// A pipeline stage starts its next queued batch.
    ReplicaStageSchedule = 9,
}

/// The total order of events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventKey {
    /// When.
    pub time: SimTime,
    /// Same-time priority.
    pub class: EventClass,
    /// Creation order (unique).
    pub seq: u64,
}

/// Everything that can happen. Events carry ids only; state lives in the simulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A batch reaches stage `stage`.
    BatchStageArrival {
        /// The replica.
        replica: ReplicaId,
        /// The stage.
        stage: u32,
        /// The batch.
        batch: BatchSlot,
    },
    /// The workload's next request arrives (the request itself is taken from the source).
    RequestArrival,
    /// A batch finishes stage `stage`.
    BatchStageEnd {
        /// The replica.
        replica: ReplicaId,
        /// The stage.
        stage: u32,
        /// The batch.
        batch: BatchSlot,
    },
    /// A batch finishes its last stage.
    BatchEnd {
        /// The replica.
        replica: ReplicaId,
        /// The batch.
        batch: BatchSlot,
    },
    /// A request's first token was produced.
    PrefillEnd {
        /// The request.
        request: RequestId,
    },
    /// A request's last token was produced.
    RequestEnd {
        /// The request.
        request: RequestId,
    },
    /// Route every queued request.
    GlobalSchedule,
    /// Let a replica form batches.
    ReplicaSchedule {
        /// The replica.
        replica: ReplicaId,
    },
    /// Let a stage start its next batch.
    ReplicaStageSchedule {
        /// The replica.
        replica: ReplicaId,
        /// The stage.
        stage: u32,
    },
}

impl Event {
    /// The event's same-time priority.
    pub fn class(&self) -> EventClass {
        match self {
            Event::BatchStageArrival { .. } => EventClass::BatchStageArrival,
            Event::RequestArrival => EventClass::RequestArrival,
            Event::BatchStageEnd { .. } => EventClass::BatchStageEnd,
            Event::BatchEnd { .. } => EventClass::BatchEnd,
            Event::PrefillEnd { .. } => EventClass::PrefillEnd,
            Event::RequestEnd { .. } => EventClass::RequestEnd,
            Event::GlobalSchedule => EventClass::GlobalSchedule,
            Event::ReplicaSchedule { .. } => EventClass::ReplicaSchedule,
            Event::ReplicaStageSchedule { .. } => EventClass::ReplicaStageSchedule,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry(EventKey, Event);

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}

/// A min-queue of events by [`EventKey`].
#[derive(Clone, Debug, Default)]
pub struct EventQueue {
    heap: BinaryHeap<Reverse<Entry>>,
    next_seq: u64,
}

impl EventQueue {
    /// An empty queue.
    pub fn new() -> EventQueue {
        EventQueue::default()
    }

    /// Schedules `event` at `time`.
    pub fn push(&mut self, time: SimTime, event: Event) {
        let key = EventKey { time, class: event.class(), seq: self.next_seq };
        self.next_seq += 1;
        self.heap.push(Reverse(Entry(key, event)));
    }

    /// The key of the next event.
    pub fn peek_key(&self) -> Option<EventKey> {
        self.heap.peek().map(|Reverse(Entry(k, _))| *k)
    }

    /// Removes the next event.
    pub fn pop(&mut self) -> Option<(EventKey, Event)> {
        self.heap.pop().map(|Reverse(Entry(k, e))| (k, e))
    }

    /// Events queued.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no event is queued.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_time_events_run_state_updates_before_scheduling() {
        let mut q = EventQueue::new();
        let t = SimTime(10);
        let r = ReplicaId(0);
        // Pushed in the "wrong" order on purpose.
        q.push(t, Event::ReplicaStageSchedule { replica: r, stage: 0 });
        q.push(t, Event::ReplicaSchedule { replica: r });
        q.push(t, Event::GlobalSchedule);
        q.push(t, Event::RequestEnd { request: RequestId(1) });
        q.push(t, Event::PrefillEnd { request: RequestId(1) });
        q.push(t, Event::BatchEnd { replica: r, batch: BatchSlot(0) });
        q.push(t, Event::BatchStageEnd { replica: r, stage: 0, batch: BatchSlot(0) });
        q.push(t, Event::RequestArrival);
        q.push(t, Event::BatchStageArrival { replica: r, stage: 1, batch: BatchSlot(0) });
        q.push(SimTime(9), Event::GlobalSchedule);
        let classes: Vec<EventClass> = std::iter::from_fn(|| q.pop().map(|(k, _)| k.class)).collect();
        assert_eq!(
            classes,
            [
                EventClass::GlobalSchedule, // earlier time first
                EventClass::BatchStageArrival,
                EventClass::RequestArrival,
                EventClass::BatchStageEnd,
                EventClass::BatchEnd,
                EventClass::PrefillEnd,
                EventClass::RequestEnd,
                EventClass::GlobalSchedule,
                EventClass::ReplicaSchedule,
                EventClass::ReplicaStageSchedule,
            ]
        );
    }

    #[test]
    fn same_class_same_time_is_fifo() {
        let mut q = EventQueue::new();
        for i in 0..5 {
            q.push(SimTime(1), Event::PrefillEnd { request: RequestId(i) });
        }
        let order: Vec<u32> = std::iter::from_fn(|| match q.pop() {
            Some((_, Event::PrefillEnd { request })) => Some(request.0),
            _ => None,
        })
        .collect();
        assert_eq!(order, [0, 1, 2, 3, 4]);
    }
}
