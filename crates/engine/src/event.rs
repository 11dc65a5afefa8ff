//! The closed set of events and the one key that orders them.
//!
//! Events are ordered by [`EventKey`] = (time, class, seq). At equal times the class decides,
//! in this order (Vidur's declared priorities, which its heap never applied, behaviour.md §3):
//! every state update at an instant (stage arrivals, request arrivals, stage ends, batch ends,
//! prefill ends, request ends) happens before any scheduling decision at that instant (global
//! routing, then replica scheduling, then stage scheduling). Within a class, events run in the
//! order they were created (`seq`).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

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
///
/// Most events are scheduled at the current instant (a batch end triggers scheduling at the same
/// time); those go to per-class FIFO lanes instead of the heap, which then only holds future
/// events (stage ends, one per busy stage). The order is exactly the key order either way.
#[derive(Clone, Debug, Default)]
pub struct EventQueue {
    heap: BinaryHeap<Reverse<Entry>>,
    /// The time of the last popped event: lanes hold events at exactly this time.
    now: SimTime,
    lanes: [VecDeque<(u64, Event)>; LANES],
    /// Bit c set when lane c is non-empty.
    occupied: u16,
    len: usize,
    next_seq: u64,
}

const LANES: usize = EventClass::ReplicaStageSchedule as usize + 1;

impl EventQueue {
    /// An empty queue.
    pub fn new() -> EventQueue {
        EventQueue::default()
    }

    /// Schedules `event` at `time` (never before the last popped event).
    pub fn push(&mut self, time: SimTime, event: Event) {
        debug_assert!(time >= self.now, "event scheduled in the past");
        let class = event.class();
        let seq = self.next_seq;
        self.next_seq += 1;
        self.len += 1;
        if time == self.now {
            self.lanes[class as usize].push_back((seq, event));
            self.occupied |= 1 << class as u16;
        } else {
            self.heap.push(Reverse(Entry(EventKey { time, class, seq }, event)));
        }
    }

    fn lane_key(&self) -> Option<EventKey> {
        if self.occupied == 0 {
            return None;
        }
        let lane = self.occupied.trailing_zeros() as usize;
        let (seq, event) = self.lanes[lane].front().expect("occupied lane");
        Some(EventKey { time: self.now, class: event.class(), seq: *seq })
    }

    /// The key of the next event.
    pub fn peek_key(&self) -> Option<EventKey> {
        let heap = self.heap.peek().map(|Reverse(Entry(k, _))| *k);
        match (heap, self.lane_key()) {
            (Some(h), Some(l)) => Some(h.min(l)),
            (h, l) => h.or(l),
        }
    }

    /// Removes the next event.
    pub fn pop(&mut self) -> Option<(EventKey, Event)> {
        let heap = self.heap.peek().map(|Reverse(Entry(k, _))| *k);
        let lane = self.lane_key();
        let from_lane = match (heap, lane) {
            (Some(h), Some(l)) => l < h,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        let popped = if from_lane {
            let key = lane.expect("checked");
            let class = key.class as usize;
            let (_, event) = self.lanes[class].pop_front().expect("occupied lane");
            if self.lanes[class].is_empty() {
                self.occupied &= !(1 << class as u16);
            }
            (key, event)
        } else {
            let Reverse(Entry(key, event)) = self.heap.pop()?;
            (key, event)
        };
        self.len -= 1;
        self.now = popped.0.time;
        Some(popped)
    }

    /// Advances the queue's notion of the current time (when the simulation handles an event
    /// that did not come from this queue, such as a lazily drawn arrival).
    pub fn advance_to(&mut self, time: SimTime) {
        debug_assert!(self.occupied == 0 || time == self.now, "lanes must drain before time moves");
        if self.occupied == 0 && time > self.now {
            self.now = time;
        }
    }

    /// Events queued.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no event is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
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
    fn lanes_and_heap_interleave_in_key_order() {
        let mut q = EventQueue::new();
        let r = ReplicaId(0);
        // A future event at t = 5, pushed first (smaller seq).
        q.push(SimTime(5), Event::ReplicaSchedule { replica: r });
        q.push(SimTime(0), Event::GlobalSchedule);
        assert_eq!(q.pop().map(|(k, _)| k.time), Some(SimTime(0)));
        assert_eq!(q.pop().map(|(k, _)| (k.time, k.class)), Some((SimTime(5), EventClass::ReplicaSchedule)));
        // Now at t = 5: same-time events go to lanes; a heap event at t = 5 pushed earlier with
        // the same class runs first (smaller seq), a lower class runs before both.
        q.push(SimTime(7), Event::RequestEnd { request: RequestId(3) });
        q.push(SimTime(5), Event::ReplicaSchedule { replica: ReplicaId(1) });
        q.push(SimTime(5), Event::BatchEnd { replica: r, batch: BatchSlot(0) });
        let order: Vec<(u64, EventClass)> = std::iter::from_fn(|| q.pop().map(|(k, _)| (k.time.0, k.class))).collect();
        assert_eq!(order, [(5, EventClass::BatchEnd), (5, EventClass::ReplicaSchedule), (7, EventClass::RequestEnd)]);
        assert!(q.is_empty());
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
