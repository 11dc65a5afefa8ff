//! Request records handed out while a run goes on, in id order, each as soon as its
//! inter-arrival delay is final, so per-request output streams instead of piling up.

use std::collections::{BTreeSet, VecDeque};

use crate::report::RequestRecord;

/// What is known of a request's row in the output.
#[derive(Debug)]
enum Row {
    /// Still in flight.
    Open,
    /// Over without a row (refused, or unfinished at the end).
    None,
    /// Completed: final once its inter-arrival delay is (`is_final`).
    Record { record: RequestRecord, is_final: bool },
}

/// The streaming state.
///
/// A row's inter-arrival delay is the gap to the arrival of the previous *completed* request in
/// its replica's (first schedule, id) order — the order `Metrics::finish` sorts by. A completed
/// request's predecessor is known once every request its replica scheduled before it is over:
/// requests scheduled later cannot come before it (it was scheduled strictly before it
/// completed). Rows then leave in id order, as `request_metrics.csv` lists them.
#[derive(Debug)]
pub(crate) struct RecordStream {
    /// Per replica: (first schedule ns, id) of requests scheduled there and not over.
    scheduled: Vec<BTreeSet<(u64, u32)>>,
    /// Per replica: the same keys of completed requests until their predecessor is known
    /// (their records wait in `rows`, so only the keys move in the tree).
    completed: Vec<BTreeSet<(u64, u32)>>,
    /// Per replica: arrival of the last completed request placed in its order.
    last_arrival: Vec<Option<u64>>,
    /// Rows of ids `next_id..`, in id order.
    rows: VecDeque<Row>,
    next_id: u32,
    /// Rows ready to hand out, in id order.
    out: Vec<RequestRecord>,
}

impl RecordStream {
    /// Streaming state for `num_replicas` replicas.
    pub(crate) fn new(num_replicas: usize) -> RecordStream {
        RecordStream {
            scheduled: vec![BTreeSet::new(); num_replicas],
            completed: vec![BTreeSet::new(); num_replicas],
            last_arrival: vec![None; num_replicas],
            rows: VecDeque::new(),
            next_id: 0,
            out: Vec::new(),
        }
    }

    fn row(&mut self, id: u32) -> &mut Row {
        let index = (id - self.next_id) as usize;
        while self.rows.len() <= index {
            self.rows.push_back(Row::Open);
        }
        &mut self.rows[index]
    }

    /// Request `id` arrived.
    pub(crate) fn on_arrival(&mut self, id: u32) {
        self.row(id);
    }

    /// Request `id` was scheduled for the first time, on `replica` at `at_ns`.
    pub(crate) fn on_first_schedule(&mut self, replica: u32, at_ns: u64, id: u32) {
        self.scheduled[replica as usize].insert((at_ns, id));
    }

    /// Request `id` is over without a row (refused, or a warm-up request); `scheduled` is its
    /// replica and first schedule, if it had one.
    pub(crate) fn on_dropped(&mut self, id: u32, scheduled: Option<(u32, u64)>) {
        *self.row(id) = Row::None;
        if let Some((replica, at_ns)) = scheduled {
            self.scheduled[replica as usize].remove(&(at_ns, id));
            self.place(replica as usize);
        }
        self.advance();
    }

    /// A request completed with `record`.
    pub(crate) fn on_completed(&mut self, record: RequestRecord) {
        let replica = record.replica as usize;
        let key = (record.scheduled_at_ns, record.id);
        self.scheduled[replica].remove(&key);
        self.completed[replica].insert(key);
        let id = record.id;
        *self.row(id) = Row::Record { record, is_final: false };
        self.place(replica);
        self.advance();
    }

    /// The run is over: requests still open are unfinished and get no row.
    pub(crate) fn on_end(&mut self) {
        for replica in 0..self.scheduled.len() {
            self.scheduled[replica].clear();
            self.place(replica);
        }
        for row in &mut self.rows {
            if matches!(row, Row::Open) {
                *row = Row::None;
            }
        }
        self.advance();
    }

    /// Moves the rows ready so far into `into`, in id order.
    pub(crate) fn drain(&mut self, into: &mut Vec<RequestRecord>) {
        into.append(&mut self.out);
    }

    /// Gives `replica`'s completed records whose predecessor is known their delay.
    fn place(&mut self, replica: usize) {
        let first_open = self.scheduled[replica].first().copied();
        while let Some(&key) = self.completed[replica].first() {
            if first_open.is_some_and(|open| open < key) {
                break;
            }
            self.completed[replica].pop_first();
            let last_arrival = self.last_arrival[replica];
            let Row::Record { record, is_final } = self.row(key.1) else {
                unreachable!("a completed request's row holds its record")
            };
            record.inter_arrival_ns = match last_arrival {
                Some(previous) => record.arrived_at_ns.saturating_sub(previous),
                None => record.arrived_at_ns,
            };
            *is_final = true;
            self.last_arrival[replica] = Some(record.arrived_at_ns);
        }
    }

    /// Hands out the leading rows that are final.
    fn advance(&mut self) {
        while let Some(row) = self.rows.front() {
            if matches!(row, Row::Open | Row::Record { is_final: false, .. }) {
                break;
            }
            if let Some(Row::Record { record, .. }) = self.rows.pop_front() {
                self.out.push(record);
            }
            self.next_id += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: u32, replica: u32, arrived: u64, scheduled: u64) -> RequestRecord {
        RequestRecord {
            id,
            replica,
            arrived_at_ns: arrived,
            scheduled_at_ns: scheduled,
            ..RequestRecord::default()
        }
    }

    fn drain(stream: &mut RecordStream) -> Vec<(u32, u64)> {
        let mut out = Vec::new();
        stream.drain(&mut out);
        out.iter().map(|r| (r.id, r.inter_arrival_ns)).collect()
    }

    #[test]
    fn rows_wait_for_earlier_ids_and_earlier_schedules_on_their_replica() {
        let mut s = RecordStream::new(2);
        for id in 0..4 {
            s.on_arrival(id);
        }
        // Replica 0 schedules 1 (t=10) before 0 (t=20); replica 1 schedules 2 and 3.
        s.on_first_schedule(0, 10, 1);
        s.on_first_schedule(0, 20, 0);
        s.on_first_schedule(1, 15, 2);
        s.on_first_schedule(1, 16, 3);
        // 0 completes first: its predecessor (1) is still running, so nothing is final.
        s.on_completed(record(0, 0, 5, 20));
        assert_eq!(drain(&mut s), []);
        // 3 completes: 2 was scheduled before it on replica 1 and is still open.
        s.on_completed(record(3, 1, 9, 16));
        assert_eq!(drain(&mut s), []);
        // 1 completes: it is first on replica 0 (gap = its arrival, 3); then 0 follows it
        // (5 - 3 = 2); ids 0 and 1 are out, 2 still blocks 3.
        s.on_completed(record(1, 0, 3, 10));
        assert_eq!(drain(&mut s), [(0, 2), (1, 3)]);
        // 2 is refused after being scheduled: 3 becomes the first completed on replica 1.
        s.on_dropped(2, Some((1, 15)));
        assert_eq!(drain(&mut s), [(3, 9)]);
    }

    #[test]
    fn the_end_of_the_run_closes_unfinished_requests() {
        let mut s = RecordStream::new(1);
        for id in 0..3 {
            s.on_arrival(id);
        }
        s.on_first_schedule(0, 1, 0);
        s.on_first_schedule(0, 2, 1);
        s.on_completed(record(1, 0, 7, 2));
        assert_eq!(drain(&mut s), []);
        s.on_end();
        assert_eq!(drain(&mut s), [(1, 7)], "0 and 2 are unfinished: 1 is first on its replica");
    }
}
