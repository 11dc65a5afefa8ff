//! Time series with adaptive bucket width: a bounded number of buckets over any run length
//! (the report's [`crate::report::TimeSeries`] is read from it at the end).

use crate::time::SimTime;

/// Most buckets a series keeps before doubling the width.
const MAX_BUCKETS: usize = 1024;
/// The first bucket width: 100 ms.
const INITIAL_WIDTH_NS: u64 = 100_000_000;

/// Sums of several channels per time bucket; when a sample falls past the last bucket the
/// width doubles and neighbouring buckets merge, so any run fits in [`MAX_BUCKETS`].
#[derive(Clone, Debug)]
pub struct BucketSeries {
    width_ns: u64,
    channels: usize,
    /// Row-major: bucket × channel.
    sums: Vec<f64>,
    /// The bucket of the latest sample — its span `[start, end)` in ns and first index in
    /// `sums` — since samples come in time order and most fall in the bucket of the one before.
    /// An empty span (`end = 0`) caches nothing.
    last_start_ns: u64,
    last_end_ns: u64,
    last_row: usize,
}

impl BucketSeries {
    /// A series with `channels` values per bucket.
    pub fn new(channels: usize) -> BucketSeries {
        BucketSeries {
            width_ns: INITIAL_WIDTH_NS,
            channels,
            sums: Vec::new(),
            last_start_ns: 0,
            last_end_ns: 0,
            last_row: 0,
        }
    }

    /// Adds `value` to `channel` at time `t`.
    #[inline(always)]
    pub fn add(&mut self, t: SimTime, channel: usize, value: f64) {
        let row =
            if self.last_start_ns <= t.0 && t.0 < self.last_end_ns { self.last_row } else { self.locate(t) };
        self.sums[row + channel] += value;
    }

    /// Finds (and allocates) the bucket of `t`, widening buckets as needed; caches it.
    #[cold]
    #[inline(never)]
    fn locate(&mut self, t: SimTime) -> usize {
        let mut bucket = (t.0 / self.width_ns) as usize;
        while bucket >= MAX_BUCKETS {
            self.double_width();
            bucket = (t.0 / self.width_ns) as usize;
        }
        let needed = (bucket + 1) * self.channels;
        if self.sums.len() < needed {
            self.sums.resize(needed, 0.0);
        }
        self.last_start_ns = bucket as u64 * self.width_ns;
        self.last_end_ns = self.last_start_ns.saturating_add(self.width_ns);
        self.last_row = bucket * self.channels;
        self.last_row
    }

    fn double_width(&mut self) {
        let buckets = self.sums.len() / self.channels;
        let mut merged = vec![0.0; buckets.div_ceil(2) * self.channels];
        for b in 0..buckets {
            for c in 0..self.channels {
                merged[(b / 2) * self.channels + c] += self.sums[b * self.channels + c];
            }
        }
        self.sums = merged;
        self.width_ns *= 2;
        self.last_end_ns = 0;
    }

    /// Bucket width in seconds.
    pub fn width_secs(&self) -> f64 {
        self.width_ns as f64 / 1e9
    }

    /// Buckets so far.
    pub fn len(&self) -> usize {
        self.sums.len() / self.channels.max(1)
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.sums.is_empty()
    }

    /// Bucket sums of one channel, padded with zeros to `buckets` buckets.
    pub fn channel(&self, channel: usize, buckets: usize) -> Vec<f64> {
        (0..buckets).map(|b| self.sums.get(b * self.channels + channel).copied().unwrap_or(0.0)).collect()
    }

    /// Re-buckets to at least `width_ns` wide buckets (so series of one run share a width).
    pub fn align_to(&mut self, width_ns: u64) {
        while self.width_ns < width_ns {
            self.double_width();
        }
    }

    /// Width in ns.
    pub fn width_ns(&self) -> u64 {
        self.width_ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_doubles_and_preserves_sums() {
        let mut s = BucketSeries::new(2);
        for i in 0..5000u64 {
            s.add(SimTime(i * 50_000_000), 0, 1.0);
            s.add(SimTime(i * 50_000_000), 1, 2.0);
        }
        assert!(s.len() <= MAX_BUCKETS);
        let n = s.len();
        assert_eq!(s.channel(0, n).iter().sum::<f64>(), 5000.0);
        assert_eq!(s.channel(1, n).iter().sum::<f64>(), 10000.0);
        assert!(s.width_secs() >= 0.2);
    }
}
