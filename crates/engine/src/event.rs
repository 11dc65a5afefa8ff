//! The closed set of events and the one key that orders them.
//!
//! Events are ordered by [`EventKey`] = (time, class, seq). At equal times the class decides,
//! in this order (Vidur's declared priorities, which its heap never applied, behaviour.md §3):
//! every state update at an instant (stage arrivals, request arrivals, stage ends, batch ends,
//! KV-transfer ends, prefill ends, request ends) happens before any scheduling decision at that instant (global
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
    /// Disaggregated serving: a request's KV cache reached its decode replica (after the batch
    /// ends of the same instant, so blocks they free are free before the next admission).
    KvTransferEnd = 5,
    /// A request's first prefill completed.
    PrefillEnd = 6,
    /// A request completed.
    RequestEnd = 7,
    /// The router assigns queued requests to replicas. Disaggregated with bootstrap (SGLang):
    /// a request's decode reservation is tried here, at its routing, and again at each batch
    /// end of its decode replica (and when a reservation is freed); a reserved request reaches
    /// its prefill replica in that same handling, which schedules it with a `ReplicaSchedule`
    /// of the same instant (after every state update of the instant, as any routed request).
    GlobalSchedule = 8,
    /// A replica forms batches.
    ReplicaSchedule = 9,
    /// A pipeline stage starts its next queued batch.
    ReplicaStageSchedule = 10,
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
    /// A request's KV cache finished its transfer from its prefill to its decode replica.
    KvTransferEnd {
        /// The request.
        request: RequestId,
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
            Event::KvTransferEnd { .. } => EventClass::KvTransferEnd,
            Event::PrefillEnd { .. } => EventClass::PrefillEnd,
            Event::RequestEnd { .. } => EventClass::RequestEnd,
            Event::GlobalSchedule => EventClass::GlobalSchedule,
            Event::ReplicaSchedule { .. } => EventClass::ReplicaSchedule,
            Event::ReplicaStageSchedule { .. } => EventClass::ReplicaStageSchedule,
        }
    }
}

/// A future event in the heap, ordered by its key packed into one integer:
/// time (64 bits) | class (8 bits) | seq (56 bits). One `u128` comparison orders two events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    key: u128,
    event: Event,
}

impl Entry {
    fn new(key: EventKey, event: Event) -> Entry {
        debug_assert!(key.seq < 1 << 56, "sequence numbers fit in 56 bits");
        Entry {
            key: u128::from(key.time.0) << 64 | u128::from(key.class as u8) << 56 | u128::from(key.seq),
            event,
        }
    }

    fn time(&self) -> SimTime {
        SimTime((self.key >> 64) as u64)
    }

    fn class_index(&self) -> usize {
        (self.key >> 56) as u8 as usize
    }

    fn key(&self) -> EventKey {
        EventKey { time: self.time(), class: self.event.class(), seq: (self.key as u64) & ((1 << 56) - 1) }
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

/// A min-queue of events by [`EventKey`].
///
/// Most events are scheduled at the current instant (a batch end triggers scheduling at the same
/// time); those go to per-class FIFO lanes instead of the heap, which then only holds future
/// events (stage ends, one per busy stage). The order is exactly the key order either way: a
/// heap event at the current instant was pushed before time reached it, so it precedes every
/// lane event of its class, and lanes are FIFO.
#[derive(Clone, Debug, Default)]
pub struct EventQueue {
    heap: BinaryHeap<Reverse<Entry>>,
    /// The time of the last popped event: lanes hold events at exactly this time.
    now: SimTime,
    lanes: [Lane; LANES],
    /// Bit c set when lane c is non-empty.
    occupied: u16,
    len: usize,
    next_seq: u64,
}

const LANES: usize = EventClass::ReplicaStageSchedule as usize + 1;

/// A FIFO of same-time events of one class: a vector read from `head`. Lanes empty before
/// time moves on, so it is reset then instead of wrapping around like a ring buffer.
#[derive(Clone, Debug, Default)]
struct Lane {
    events: Vec<(u64, Event)>,
    head: usize,
}

impl Lane {
    fn front(&self) -> Option<&(u64, Event)> {
        self.events.get(self.head)
    }

    /// Takes the front (the lane must not be empty); true if that emptied the lane.
    #[inline]
    fn pop_front(&mut self) -> ((u64, Event), bool) {
        let front = self.events[self.head];
        self.head += 1;
        let emptied = self.head == self.events.len();
        if emptied {
            self.events.clear();
            self.head = 0;
        }
        (front, emptied)
    }
}

impl EventQueue {
    /// An empty queue.
    pub fn new() -> EventQueue {
        EventQueue::default()
    }

    /// Schedules `event` at `time` (never before the last popped event).
    #[inline]
    pub fn push(&mut self, time: SimTime, event: Event) {
        debug_assert!(time >= self.now, "event scheduled in the past");
        let class = event.class();
        let seq = self.next_seq;
        self.next_seq += 1;
        self.len += 1;
        if time == self.now {
            self.lanes[class as usize].events.push((seq, event));
            self.occupied |= 1 << class as u16;
        } else {
            self.heap.push(Reverse(Entry::new(EventKey { time, class, seq }, event)));
        }
    }

    /// Where the next event is: `Some(lane)` for a lane, `None` for the heap's top (or nothing).
    #[inline]
    fn next_lane(&self) -> Option<usize> {
        if self.occupied == 0 {
            return None;
        }
        let lane = self.occupied.trailing_zeros() as usize;
        match self.heap.peek() {
            // Heap events are never earlier than `now`; at `now`, one of the same or a lower
            // class comes first (it was pushed earlier).
            Some(Reverse(top)) if top.time() == self.now && top.class_index() <= lane => None,
            _ => Some(lane),
        }
    }

    /// The key of the next event.
    pub fn peek_key(&self) -> Option<EventKey> {
        match self.next_lane() {
            Some(lane) => {
                let (seq, event) = self.lanes[lane].front().expect("occupied lane");
                Some(EventKey { time: self.now, class: event.class(), seq: *seq })
            }
            None => self.heap.peek().map(|Reverse(top)| top.key()),
        }
    }

    /// Removes the next event.
    pub fn pop(&mut self) -> Option<(EventKey, Event)> {
        let (seq, event) = self.take(self.next_lane())?;
        Some((EventKey { time: self.now, class: event.class(), seq }, event))
    }

    /// Removes the next event if it precedes (`time`, `class`) — the key of an event held
    /// outside the queue (the next arrival); ties go to the outside event.
    #[inline]
    pub fn pop_before(&mut self, time: SimTime, class: EventClass) -> Option<(SimTime, Event)> {
        let lane = self.next_lane();
        let head = match lane {
            Some(lane) => (self.now, lane),
            None => {
                let Reverse(top) = self.heap.peek()?;
                (top.time(), top.class_index())
            }
        };
        if head >= (time, class as usize) {
            return None;
        }
        self.take(lane).map(|(_, event)| (self.now, event))
    }

    /// Takes the head of `lane`, or of the heap for `None`; returns (seq, event) and moves
    /// `now` to its time.
    #[inline]
    fn take(&mut self, lane: Option<usize>) -> Option<(u64, Event)> {
        let taken = match lane {
            Some(lane) => {
                let (taken, emptied) = self.lanes[lane].pop_front();
                if emptied {
                    self.occupied &= !(1 << lane);
                }
                taken
            }
            None => {
                let Reverse(top) = self.heap.pop()?;
                self.now = top.time();
                (top.key().seq, top.event)
            }
        };
        self.len -= 1;
        Some(taken)
    }

    /// Advances the queue's notion of the current time (when the simulation handles an event
    /// that did not come from this queue, such as a lazily drawn arrival).
    #[inline]
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
        let order: Vec<(u64, EventClass)> =
            std::iter::from_fn(|| q.pop().map(|(k, _)| (k.time.0, k.class))).collect();
        assert_eq!(
            order,
            [(5, EventClass::BatchEnd), (5, EventClass::ReplicaSchedule), (7, EventClass::RequestEnd)]
        );
        assert!(q.is_empty());
    }

    #[test]
    fn pop_before_yields_to_an_outside_event_at_the_same_key_or_earlier() {
        let mut q = EventQueue::new();
        let r = ReplicaId(0);
        q.push(SimTime(0), Event::BatchStageArrival { replica: r, stage: 0, batch: BatchSlot(0) });
        q.push(SimTime(0), Event::GlobalSchedule);
        q.push(SimTime(4), Event::BatchEnd { replica: r, batch: BatchSlot(0) });
        // An arrival at t = 0 goes after the stage arrival (class 1) but before routing (7).
        assert!(matches!(
            q.pop_before(SimTime(0), EventClass::RequestArrival),
            Some((SimTime(0), Event::BatchStageArrival { .. }))
        ));
        assert_eq!(q.pop_before(SimTime(0), EventClass::RequestArrival), None);
        q.advance_to(SimTime(0));
        assert!(matches!(
            q.pop_before(SimTime(3), EventClass::RequestArrival),
            Some((SimTime(0), Event::GlobalSchedule))
        ));
        // The heap's t = 4 event waits for an arrival at t = 3, then runs before one at t = 5.
        assert_eq!(q.pop_before(SimTime(3), EventClass::RequestArrival), None);
        q.advance_to(SimTime(3));
        assert!(matches!(
            q.pop_before(SimTime(5), EventClass::RequestArrival),
            Some((SimTime(4), Event::BatchEnd { .. }))
        ));
        assert!(q.is_empty());
        assert_eq!(q.pop_before(SimTime(5), EventClass::RequestArrival), None);
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
