//! Streaming quantiles with bounded relative error.

use crate::stats::Stats;

/// Log-linear histogram: buckets are the top 7 mantissa bits of each exponent, so any
/// quantile is within 0.4% of a true sample value, in memory logarithmic in the value range.
/// Used where samples are too many to keep (time between tokens, batch metrics). Buckets come
/// from the float's bits — no logarithm — so it is fast and identical natively and in wasm.
#[derive(Clone, Debug)]
pub struct QuantileSketch {
    /// Counts of bucket keys `offset..offset + counts.len()`.
    counts: Vec<u64>,
    offset: i64,
    zeros: u64,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

/// Mantissa bits kept per bucket: 2^-7 relative bucket width.
const MANTISSA_BITS: u32 = 7;
const SHIFT: u32 = 52 - MANTISSA_BITS;

impl Default for QuantileSketch {
    fn default() -> QuantileSketch {
        QuantileSketch::new()
    }
}

impl QuantileSketch {
    /// An empty sketch.
    pub fn new() -> QuantileSketch {
        QuantileSketch {
            counts: Vec::new(),
            offset: 0,
            zeros: 0,
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    /// Adds a non-negative sample (negative, NaN and infinite samples count as zero).
    #[inline]
    pub fn add(&mut self, x: f64) {
        // `x > 0.0` is false for NaN; samples are then finite and ≥ 0, so plain comparisons
        // keep min and max (the first sample sets both, against ±∞).
        let x = if x > 0.0 && x.is_finite() { x } else { 0.0 };
        if x < self.min {
            self.min = x;
        }
        if x > self.max {
            self.max = x;
        }
        self.count += 1;
        self.sum += x;
        if x < f64::MIN_POSITIVE {
            self.zeros += 1;
            return;
        }
        let key = (x.to_bits() >> SHIFT) as i64;
        // A key below the offset wraps to a huge index: both misses take the slow path.
        match self.counts.get_mut(key.wrapping_sub(self.offset) as usize) {
            Some(count) => *count += 1,
            None => self.add_outside(key),
        }
    }

    /// Adds `x` `k` times: the state `k` calls of [`QuantileSketch::add`] leave, the sum
    /// included (it still adds `x` once per sample, in order, so it rounds alike), at the cost
    /// of one bucket look-up. The engine adds a batch's equal token gaps this way.
    #[inline]
    pub fn add_n(&mut self, x: f64, k: u64) {
        if k == 0 {
            return;
        }
        let x = if x > 0.0 && x.is_finite() { x } else { 0.0 };
        if x < self.min {
            self.min = x;
        }
        if x > self.max {
            self.max = x;
        }
        self.count += k;
        for _ in 0..k {
            self.sum += x;
        }
        if x < f64::MIN_POSITIVE {
            self.zeros += k;
            return;
        }
        let key = (x.to_bits() >> SHIFT) as i64;
        match self.counts.get_mut(key.wrapping_sub(self.offset) as usize) {
            Some(count) => *count += k,
            None => {
                self.add_outside(key);
                self.counts[(key - self.offset) as usize] += k - 1;
            }
        }
    }

    /// Counts a key outside the buckets so far, growing them.
    #[cold]
    fn add_outside(&mut self, key: i64) {
        if self.counts.is_empty() {
            self.offset = key;
            self.counts.push(0);
        } else if key < self.offset {
            let grow = (self.offset - key) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = key;
        } else if key >= self.offset + self.counts.len() as i64 {
            self.counts.resize((key - self.offset + 1) as usize, 0);
        }
        self.counts[(key - self.offset) as usize] += 1;
    }

    /// Samples added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The `q`-quantile (0..=1), exact at 0 and 1; 0 when empty.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        if q <= 0.0 {
            return self.min;
        }
        if q >= 1.0 {
            return self.max;
        }
        let rank = (q * (self.count - 1) as f64) as u64;
        if rank < self.zeros {
            return 0.0;
        }
        let mut seen = self.zeros;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen > rank {
                let key = (self.offset + i as i64) as u64;
                let low = f64::from_bits(key << SHIFT);
                let high = f64::from_bits((key + 1) << SHIFT);
                return ((low + high) / 2.0).clamp(self.min, self.max);
            }
        }
        self.max
    }

    /// Summary statistics.
    pub fn stats(&self) -> Stats {
        if self.count == 0 {
            return Stats::default();
        }
        Stats {
            count: self.count,
            mean: self.sum / self.count as f64,
            p50: self.quantile(0.5),
            p90: self.quantile(0.9),
            p95: self.quantile(0.95),
            p99: self.quantile(0.99),
            max: self.max,
            min: self.min,
        }
    }

    /// The 101-point CDF (quantiles 0.00, 0.01, ..., 1.00); empty without samples.
    pub fn cdf(&self) -> Vec<f64> {
        if self.count == 0 {
            return Vec::new();
        }
        (0..=100).map(|i| self.quantile(f64::from(i) / 100.0)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_sketch_has_no_curve() {
        assert!(QuantileSketch::new().cdf().is_empty(), "no samples, no curve");
    }

    #[test]
    fn sketch_quantiles_are_within_relative_error() {
        let mut sketch = QuantileSketch::new();
        let mut exact: Vec<f64> = (1..=10_000).map(|i| f64::from(i) * 0.001).collect();
        for x in &exact {
            sketch.add(*x);
        }
        exact.sort_by(f64::total_cmp);
        for q in [0.01, 0.5, 0.9, 0.99] {
            let truth = exact[(q * 9999.0) as usize];
            let got = sketch.quantile(q);
            assert!((got - truth).abs() / truth < 0.005, "q={q}: {got} vs {truth}");
        }
        assert_eq!(sketch.quantile(1.0), 10.0);
        assert_eq!(sketch.stats().count, 10_000);
    }

    #[test]
    fn adding_a_value_k_times_at_once_leaves_the_state_of_k_adds() {
        // Sums that round differently by grouping (0.1 added 3 times is not 0.3), zeros,
        // a NaN and an infinity (both count as zero), keys below and above the buckets so far.
        let runs: [(f64, u64); 9] = [
            (0.1, 10),
            (0.0, 2),
            (1e-9, 1),
            (f64::NAN, 2),
            (7.5, 0),
            (0.1, 5),
            (f64::INFINITY, 1),
            (1e6, 4),
            (3e-12, 3),
        ];
        let (mut one_by_one, mut at_once) = (QuantileSketch::new(), QuantileSketch::new());
        for (x, k) in runs {
            for _ in 0..k {
                one_by_one.add(x);
            }
            at_once.add_n(x, k);
        }
        assert_eq!(at_once.counts, one_by_one.counts);
        assert_eq!(
            (at_once.offset, at_once.zeros, at_once.count),
            (one_by_one.offset, one_by_one.zeros, one_by_one.count)
        );
        assert_eq!(at_once.sum.to_bits(), one_by_one.sum.to_bits());
        assert_eq!((at_once.min, at_once.max), (one_by_one.min, one_by_one.max));
        let bits = |s: &QuantileSketch| s.cdf().iter().map(|q| q.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&at_once), bits(&one_by_one));
        // Not the same as adding the product: the test above would not tell them apart otherwise.
        let mut grouped = QuantileSketch::new();
        grouped.add_n(0.1, 10);
        assert_ne!(grouped.sum, 0.1 * 10.0, "ten adds of 0.1 are 0.9999999999999999");
    }

    #[test]
    fn sketch_handles_zeros_and_empty() {
        let mut s = QuantileSketch::new();
        assert_eq!(s.quantile(0.5), 0.0);
        s.add(0.0);
        s.add(0.0);
        s.add(1.0);
        assert_eq!(s.quantile(0.5), 0.0);
        assert!((s.quantile(1.0) - 1.0).abs() < 1e-12);
    }
}
