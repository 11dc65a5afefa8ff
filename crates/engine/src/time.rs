//! Integer simulated time: nanoseconds since the start of the run.

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

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// Later than any instant a run can reach.
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// Converts seconds (non-negative, finite) to the nearest nanosecond.
    pub fn from_secs_f64(secs: f64) -> SimTime {
        SimTime(secs_to_nanos(secs))
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

/// Rounds seconds to whole nanoseconds, clamping negatives and NaN to zero.
pub fn secs_to_nanos(secs: f64) -> Nanos {
    if secs.is_nan() || secs <= 0.0 {
        return 0;
    }
    let nanos = secs * NANOS_PER_SEC as f64;
    if nanos >= u64::MAX as f64 { u64::MAX } else { libm::round(nanos) as u64 }
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
    fn arithmetic_saturates() {
        assert_eq!(SimTime::MAX + 5, SimTime::MAX);
        assert_eq!(SimTime(3) - SimTime(5), 0);
    }
}
