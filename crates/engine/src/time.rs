//! Integer simulated time: nanoseconds since the start of the run, up to the simulation
//! horizon ([`HORIZON_SECS`]).

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// An instant of simulated time, in whole nanoseconds since the run began.
///
/// Integer time makes event order exact and identical on every platform; floats enter only at
/// the edges (trace seconds in, reported seconds out) through [`SimTime::from_secs_f64`] and
/// [`SimTime::as_secs_f64`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

/// A span of simulated time in nanoseconds.
pub type Nanos = u64;

/// Nanoseconds per second.
pub const NANOS_PER_SEC: u64 = 1_000_000_000;

/// The simulation horizon in seconds: 10^9 simulated seconds, about 31.7 years.
///
/// No run simulates past it. Validation refuses workloads whose arrivals would pass it (trace
/// arrivals after scaling, synthetic and closed-loop workloads whose length can be computed up
/// front); a run that reaches it anyway stops there, like a time limit, with a warning. It keeps
/// every instant a run reaches (and every sum of an instant and a batch time) far below the
/// `u64` limit of about 1.8 · 10^10 s, so integer time never saturates unnoticed.
pub const HORIZON_SECS: u64 = 1_000_000_000;

/// The horizon in words, for messages.
pub const HORIZON_TEXT: &str = "the simulation horizon of 1000000000 s (about 31.7 years)";

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// Later than any instant a run can reach.
    pub const MAX: SimTime = SimTime(u64::MAX);
    /// The simulation horizon ([`HORIZON_SECS`]): no event at or before it is ever cut off,
    /// and no event after it is ever handled.
    pub const HORIZON: SimTime = SimTime(HORIZON_SECS * NANOS_PER_SEC);

    /// Converts seconds to the nearest nanosecond, saturating: negatives and NaN become zero,
    /// +∞ and anything past the `u64` range become [`SimTime::MAX`] (which lies beyond the
    /// horizon, so the event loop stops rather than running on at a saturated clock). Use
    /// [`SimTime::checked_from_secs_f64`] to refuse such values instead.
    pub fn from_secs_f64(secs: f64) -> SimTime {
        SimTime(secs_to_nanos(secs))
    }

    /// Converts seconds to the nearest nanosecond if they are finite, not negative and within
    /// the horizon; `None` otherwise.
    pub fn checked_from_secs_f64(secs: f64) -> Option<SimTime> {
        (secs.is_finite() && secs >= 0.0 && secs <= HORIZON_SECS as f64).then(|| SimTime(secs_to_nanos(secs)))
    }

    /// Converts milliseconds (non-negative, finite) to the nearest nanosecond.
    pub fn from_millis_f64(ms: f64) -> SimTime {
        SimTime(secs_to_nanos(ms / 1e3))
    }

    /// This instant in seconds.
    #[inline]
    pub fn as_secs_f64(self) -> f64 {
        nanos_to_secs(self.0)
    }

    /// Nanoseconds from `earlier` to `self`, zero if `earlier` is later.
    #[inline]
    pub fn since(self, earlier: SimTime) -> Nanos {
        self.0.saturating_sub(earlier.0)
    }
}

/// Rounds seconds to whole nanoseconds, clamping negatives and NaN to zero and +∞ or values past
/// the `u64` range to `u64::MAX`.
pub fn secs_to_nanos(secs: f64) -> Nanos {
    if secs.is_nan() || secs <= 0.0 {
        return 0;
    }
    let nanos = secs * NANOS_PER_SEC as f64;
    if nanos >= u64::MAX as f64 { u64::MAX } else { libm::round(nanos) as u64 }
}

/// A span of seconds for messages: `1.280e11 s (about 4056 years)` when long, `12.5 s` otherwise.
pub fn describe_secs(secs: f64) -> String {
    const SECS_PER_YEAR: f64 = 365.25 * 86_400.0;
    if secs.is_finite() && secs < 1e6 {
        format!("{secs} s")
    } else if secs.is_finite() {
        format!("{secs:.3e} s (about {:.0} years)", secs / SECS_PER_YEAR)
    } else {
        format!("{secs} s")
    }
}

/// Nanoseconds as seconds.
#[inline]
pub fn nanos_to_secs(nanos: Nanos) -> f64 {
    nanos as f64 / NANOS_PER_SEC as f64
}

impl Add<Nanos> for SimTime {
    type Output = SimTime;
    #[inline]
    fn add(self, rhs: Nanos) -> SimTime {
        SimTime(self.0.saturating_add(rhs))
    }
}

impl AddAssign<Nanos> for SimTime {
    fn add_assign(&mut self, rhs: Nanos) {
        self.0 = self.0.saturating_add(rhs);
    }
}

impl Sub for SimTime {
    type Output = Nanos;
    fn sub(self, rhs: SimTime) -> Nanos {
        self.since(rhs)
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.6}s", self.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_trip_to_the_nanosecond() {
        assert_eq!(SimTime::from_secs_f64(0.371756455800413).0, 371_756_456);
        assert_eq!(SimTime::from_secs_f64(-1.0), SimTime::ZERO);
        assert_eq!(SimTime::from_secs_f64(f64::NAN), SimTime::ZERO);
        assert_eq!(SimTime::from_millis_f64(1.5).0, 1_500_000);
        assert_eq!(SimTime(2_500_000_000).as_secs_f64(), 2.5);
    }

    #[test]
    fn non_finite_and_huge_seconds_saturate_past_the_horizon() {
        assert_eq!(SimTime::from_secs_f64(f64::INFINITY), SimTime::MAX);
        assert_eq!(SimTime::from_secs_f64(f64::NEG_INFINITY), SimTime::ZERO);
        assert_eq!(SimTime::from_secs_f64(1.7e12), SimTime::MAX, "epoch milliseconds read as seconds");
        assert_eq!(SimTime::from_millis_f64(f64::MAX), SimTime::MAX);
        assert!(SimTime::HORIZON < SimTime::MAX);
        // A batch time added at the horizon stays far from saturation.
        assert!(SimTime::HORIZON + 1_000_000 * NANOS_PER_SEC < SimTime::MAX);
    }

    #[test]
    fn checked_conversion_refuses_what_would_saturate_or_pass_the_horizon() {
        assert_eq!(SimTime::checked_from_secs_f64(2.5), Some(SimTime(2_500_000_000)));
        assert_eq!(SimTime::checked_from_secs_f64(HORIZON_SECS as f64), Some(SimTime::HORIZON));
        for bad in [f64::NAN, f64::INFINITY, -1.0, 1.000_000_1e9, 1.7e12] {
            assert_eq!(SimTime::checked_from_secs_f64(bad), None, "{bad}");
        }
    }

    #[test]
    fn long_spans_read_in_years() {
        assert_eq!(describe_secs(12.5), "12.5 s");
        assert_eq!(describe_secs(1.28e11), "1.280e11 s (about 4056 years)");
        assert_eq!(describe_secs(f64::INFINITY), "inf s");
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(SimTime::MAX + 5, SimTime::MAX);
        assert_eq!(SimTime(3) - SimTime(5), 0);
    }
}
