//! The overload detector: does the cluster keep up with its arrivals?
//!
//! A cluster that sustains its arrival rate admits requests as fast as they come, so the number
//! of requests waiting for their first schedule stays bounded; one that does not admits them
//! more slowly, and that number grows in proportion to the arrivals. The detector watches it at
//! checkpoints taken every `every` arrivals (deterministic: counted in arrivals, not in events
//! or wall time) and compares each checkpoint `j` with checkpoint `j / 2`:
//!
//! - the **unserved share** is the growth of the waiting count between them divided by the
//!   arrivals between them: 0 when admissions keep pace, 1 − admitted/offered when they lag;
//! - the run is **overloaded** once, at [`STRIKES`] consecutive checkpoints from the
//!   [`MIN_CHECKPOINT`]th on, the unserved share reached [`UNSERVED_SHARE`] and the waiting
//!   count grew by at least [`MIN_GROWTH`] requests (and simulated time advanced between them:
//!   arrivals all at one instant carry no rate).
//!
//! The verdict is sticky: a simulation told to stop on overload stops at that checkpoint, and
//! one run to the end reaches the same verdict there, so stopping early changes nothing but the
//! time spent. The evidence quoted is the firing window's (or, without a verdict, the last
//! window's): offered and admitted rates, the queue's growth per second.

use crate::time::SimTime;

/// The unserved share (arrivals not admitted ÷ arrivals, over the later half of the run so far)
/// at which a checkpoint counts towards overload.
pub const UNSERVED_SHARE: f64 = 0.1;
/// The least growth of the waiting count, in requests, for a checkpoint to count.
pub const MIN_GROWTH: u64 = 16;
/// Consecutive counting checkpoints that make the verdict.
pub const STRIKES: u32 = 2;
/// The first checkpoint (counting from 1) that may count: earlier ones see too few arrivals.
pub const MIN_CHECKPOINT: usize = 6;
/// Checkpoints aimed at over a run whose request count is known.
const CHECKPOINTS_PER_RUN: u64 = 40;
/// Checkpoint spacing when the request count is not known in advance.
const DEFAULT_EVERY: u64 = 32;

/// One checkpoint: counts at the moment its arrival came.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Checkpoint {
    arrivals: u64,
    waiting: u64,
    at: SimTime,
}

/// The detector's state (see the module's documentation).
#[derive(Clone, Debug)]
pub struct OverloadDetector {
    every: u64,
    arrived: u64,
    scheduled: u64,
    refused_unscheduled: u64,
    checkpoints: Vec<Checkpoint>,
    strikes: u32,
    /// The checkpoint that made the verdict.
    fired: Option<usize>,
}

/// What the detector saw over one window (between checkpoint `j / 2` and checkpoint `j`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OverloadWindow {
    /// Arrivals per second in the window.
    pub offered_per_s: f64,
    /// First schedules (and refusals of waiting requests) per second in the window.
    pub admitted_per_s: f64,
    /// Growth of the waiting count per second.
    pub queue_growth_per_s: f64,
    /// Waiting requests at the window's end.
    pub waiting: u64,
    /// Arrivals at the window's end.
    pub arrivals: u64,
    /// The window's end, simulated seconds.
    pub at_s: f64,
}

impl OverloadDetector {
    /// A detector for a workload of `expected_requests` (when known).
    pub fn new(expected_requests: Option<u64>) -> OverloadDetector {
        let every = expected_requests.map_or(DEFAULT_EVERY, |n| (n / CHECKPOINTS_PER_RUN).clamp(8, 4096));
        OverloadDetector {
            every,
            arrived: 0,
            scheduled: 0,
            refused_unscheduled: 0,
            checkpoints: Vec::new(),
            strikes: 0,
            fired: None,
        }
    }

    /// A request arrived at `now`.
    pub fn on_arrival(&mut self, now: SimTime) {
        self.arrived += 1;
        if self.arrived.is_multiple_of(self.every) {
            self.checkpoints.push(Checkpoint { arrivals: self.arrived, waiting: self.waiting(), at: now });
            self.judge_last();
        }
    }

    /// A request was put in a batch for the first time.
    pub fn on_first_schedule(&mut self) {
        self.scheduled += 1;
    }

    /// A request was refused; `was_scheduled` if it had been in a batch.
    pub fn on_refused(&mut self, was_scheduled: bool) {
        if !was_scheduled {
            self.refused_unscheduled += 1;
        }
    }

    /// Requests arrived and not yet scheduled (nor refused).
    pub fn waiting(&self) -> u64 {
        self.arrived.saturating_sub(self.scheduled + self.refused_unscheduled)
    }

    /// Whether the verdict is in: the arrivals outgrow the cluster.
    pub fn is_overloaded(&self) -> bool {
        self.fired.is_some()
    }

    /// The window that made the verdict, else the latest one; `None` before a window exists.
    pub fn evidence(&self) -> Option<OverloadWindow> {
        let j = self.fired.or_else(|| self.checkpoints.len().checked_sub(1))?;
        self.window(j)
    }

    fn window(&self, j: usize) -> Option<OverloadWindow> {
        let end = self.checkpoints.get(j)?;
        let start = if j == 0 { Checkpoint::default() } else { self.checkpoints[j / 2] };
        let seconds = end.at.since(start.at) as f64 / 1e9;
        if seconds <= 0.0 {
            return None;
        }
        let arrivals = (end.arrivals - start.arrivals) as f64;
        let growth = end.waiting as f64 - start.waiting as f64;
        Some(OverloadWindow {
            offered_per_s: arrivals / seconds,
            admitted_per_s: (arrivals - growth) / seconds,
            queue_growth_per_s: growth / seconds,
            waiting: end.waiting,
            arrivals: end.arrivals,
            at_s: end.at.as_secs_f64(),
        })
    }

    /// Judges the newest checkpoint (see the module's documentation).
    fn judge_last(&mut self) {
        if self.fired.is_some() {
            return;
        }
        let j = self.checkpoints.len() - 1;
        let counts = j + 1 >= MIN_CHECKPOINT && {
            let (end, start) = (self.checkpoints[j], self.checkpoints[j / 2]);
            let growth = end.waiting.saturating_sub(start.waiting);
            let arrivals = end.arrivals - start.arrivals;
            end.at > start.at && growth >= MIN_GROWTH && growth as f64 >= UNSERVED_SHARE * arrivals as f64
        };
        self.strikes = if counts { self.strikes + 1 } else { 0 };
        if self.strikes >= STRIKES {
            self.fired = Some(j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `n` arrivals one `gap_ns` apart, admitting `admit` of every 10 of them at once.
    fn feed(detector: &mut OverloadDetector, n: u64, gap_ns: u64, admit: u64) {
        for i in 0..n {
            detector.on_arrival(SimTime((i + 1) * gap_ns));
            if i % 10 < admit {
                detector.on_first_schedule();
            }
        }
    }

    #[test]
    fn a_cluster_admitting_every_arrival_is_not_overloaded() {
        let mut d = OverloadDetector::new(Some(4000));
        feed(&mut d, 4000, 1_000_000, 10);
        assert!(!d.is_overloaded());
        let w = d.evidence().unwrap();
        assert_eq!(w.waiting, 1, "only the arrival that made the checkpoint, not yet scheduled");
        assert!((w.offered_per_s - 1000.0).abs() < 1e-6 && (w.admitted_per_s - 1000.0).abs() < 1e-6, "{w:?}");
    }

    #[test]
    fn a_cluster_admitting_half_the_arrivals_is_overloaded_with_the_rates_as_evidence() {
        let mut d = OverloadDetector::new(Some(4000));
        feed(&mut d, 4000, 1_000_000, 5);
        assert!(d.is_overloaded());
        let w = d.evidence().unwrap();
        // Checkpoints every 100 arrivals; the MIN_CHECKPOINT-th is the first strike, the next
        // the second.
        assert_eq!(w.arrivals, 100 * (MIN_CHECKPOINT as u64 + 1));
        assert!((w.offered_per_s - 1000.0).abs() < 1e-6, "{w:?}");
        assert!((w.admitted_per_s - 500.0).abs() < 1e-6, "{w:?}");
        assert!((w.queue_growth_per_s - 500.0).abs() < 1e-6, "{w:?}");
    }

    #[test]
    fn a_slight_lag_below_the_share_is_not_overload_and_arrivals_at_one_instant_carry_no_rate() {
        let mut d = OverloadDetector::new(Some(4000));
        feed(&mut d, 4000, 1_000_000, 10);
        let mut slight = OverloadDetector::new(Some(10_000));
        // 95% admitted: an unserved share of 0.05 < UNSERVED_SHARE.
        for i in 0..10_000u64 {
            slight.on_arrival(SimTime((i + 1) * 1000));
            if i % 20 != 0 {
                slight.on_first_schedule();
            }
        }
        assert!(!slight.is_overloaded());
        let mut burst = OverloadDetector::new(Some(1000));
        for _ in 0..1000 {
            burst.on_arrival(SimTime(0));
        }
        assert!(!burst.is_overloaded(), "a static workload has no arrival rate to exceed");
        assert!(burst.evidence().is_none());
    }

    #[test]
    fn refused_requests_that_never_ran_leave_the_waiting_count() {
        let mut d = OverloadDetector::new(None);
        d.on_arrival(SimTime(1));
        d.on_arrival(SimTime(2));
        d.on_refused(false);
        d.on_first_schedule();
        d.on_refused(true);
        assert_eq!(d.waiting(), 0);
    }
}
