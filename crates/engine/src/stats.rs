//! Exact statistics of a sample: the mean and percentiles every report, trace summary and
//! output table quotes, interpolated as pandas does.

use serde::Serialize;

/// Mean and percentiles of a metric. With no samples (`count` 0) every figure serialises as
/// `null`, so an empty distribution never reads as a measured zero.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    /// Samples.
    pub count: u64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// Smallest.
    pub min: f64,
}

impl Serialize for Stats {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let figure = |x: f64| (self.count > 0).then_some(x);
        let mut out = serializer.serialize_struct("Stats", 8)?;
        out.serialize_field("count", &self.count)?;
        out.serialize_field("mean", &figure(self.mean))?;
        out.serialize_field("p50", &figure(self.p50))?;
        out.serialize_field("p90", &figure(self.p90))?;
        out.serialize_field("p95", &figure(self.p95))?;
        out.serialize_field("p99", &figure(self.p99))?;
        out.serialize_field("max", &figure(self.max))?;
        out.serialize_field("min", &figure(self.min))?;
        out.end()
    }
}

/// Exact statistics of `values` (sorted in place); percentiles interpolate linearly between
/// order statistics, as pandas' `quantile` does.
pub fn exact_stats(values: &mut [f64]) -> Stats {
    sort_floats(values);
    sorted_stats(values)
}

/// Sorts `values` in `f64::total_cmp`'s order. A radix sort orders floats by their bits as
/// `f64::total_cmp` does, and equal keys are equal bits, so the sequence is the one
/// `sort_by(f64::total_cmp)` gives; the radix sort of `f64` is linked anyway (the report's
/// columns), where a comparison sort would add one of its own to the worker's wasm
/// (BENCHMARKS.md, "Page weight at stop 36").
pub fn sort_floats(values: &mut [f64]) {
    radsort::sort(values);
}

/// The order that sorts `keys` stably: the indices of `keys` by key, equal keys in their given
/// order (the order `sort_by_key` leaves the items in). For cold callers (parsing, the end of
/// a run): one sort of `(key, index)` pairs serves them all, where a `sort_by` of each element
/// type would link a stable sort of its own, 5-10 KB of the worker's wasm each (BENCHMARKS.md,
/// "Page weight at stop 36"). Sorting the pairs is stable by key since no two pairs are equal.
pub fn stable_order(keys: impl Iterator<Item = u64>) -> Vec<u32> {
    let mut pairs: Vec<(u64, u64)> = keys.zip(0u64..).collect();
    sort_pairs(&mut pairs);
    pairs.into_iter().map(|(_, i)| i as u32).collect()
}

/// Sorts `items` stably by `key` (as `sort_by_key` would) through [`stable_order`].
pub fn sort_stably_by<T>(items: &mut Vec<T>, key: impl Fn(&T) -> u64) {
    let order = stable_order(items.iter().map(key));
    let mut taken: Vec<Option<T>> = std::mem::take(items).into_iter().map(Some).collect();
    items.extend(order.into_iter().filter_map(|i| taken[i as usize].take()));
}

/// Sorts a short slice stably by `key` (insertion sort: as `sort_by_key` would, for a few
/// tens of items, without linking a stable sort of the element type).
pub fn sort_short_by<T, K: Ord>(items: &mut [T], key: impl Fn(&T) -> K) {
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && key(&items[j - 1]) > key(&items[j]) {
            items.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// Sorts pairs in their natural order (unstable: equal pairs are alike). The one instantiation
/// of a sort of pairs that [`stable_order`] and other callers share.
#[inline(never)]
pub fn sort_pairs(pairs: &mut [(u64, u64)]) {
    pairs.sort_unstable();
}

/// A key for [`stable_order`] whose unsigned order is `f64::total_cmp`'s order of `x`
/// (negatives by reversed bits below the positives; -0 before +0; NaNs at the ends by sign).
pub fn total_order_key(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 { !bits } else { bits | (1 << 63) }
}

/// Exact statistics of `values` sorted by `f64::total_cmp`; the mean sums them in that order.
pub fn sorted_stats(values: &[f64]) -> Stats {
    if values.is_empty() {
        return Stats::default();
    }
    let sum: f64 = values.iter().sum();
    Stats {
        count: values.len() as u64,
        mean: sum / values.len() as f64,
        p50: sorted_quantile(values, 0.5),
        p90: sorted_quantile(values, 0.9),
        p95: sorted_quantile(values, 0.95),
        p99: sorted_quantile(values, 0.99),
        max: values[values.len() - 1],
        min: values[0],
    }
}

/// The `q`-quantile of sorted `values` with linear interpolation.
pub fn sorted_quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let pos = q.clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let lo = libm::floor(pos) as usize;
    let hi = (lo + 1).min(values.len() - 1);
    let frac = pos - lo as f64;
    values[lo] + (values[hi] - values[lo]) * frac
}

/// The 101-point CDF of sorted `values`; empty without values (no curve rather than a false
/// one at zero).
pub fn sorted_cdf(values: &[f64]) -> Vec<f64> {
    if values.is_empty() {
        return Vec::new();
    }
    (0..=100).map(|i| sorted_quantile(values, f64::from(i) / 100.0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_order_is_sort_by_keys_order_and_float_keys_are_total_cmps() {
        let xs = [
            2.5,
            -0.0,
            f64::NAN,
            0.0,
            -1.0,
            2.5,
            f64::NEG_INFINITY,
            -f64::NAN,
            1e-300,
            -2.5,
            0.0,
            f64::INFINITY,
            -1e-300,
            2.5,
        ];
        let mut expected: Vec<u32> = (0..xs.len() as u32).collect();
        expected.sort_by(|a, b| xs[*a as usize].total_cmp(&xs[*b as usize]));
        assert_eq!(stable_order(xs.iter().map(|&x| total_order_key(x))), expected);
        let mut by_radix = xs;
        sort_floats(&mut by_radix);
        let mut by_cmp = xs;
        by_cmp.sort_by(f64::total_cmp);
        assert_eq!(by_radix.map(f64::to_bits), by_cmp.map(f64::to_bits));
        let ids = [5u64, 1, 5, 0, 1, 5];
        let mut expected: Vec<u32> = (0..ids.len() as u32).collect();
        expected.sort_by_key(|&i| ids[i as usize]);
        assert_eq!(stable_order(ids.iter().copied()), expected);
    }

    #[test]
    fn exact_quantiles_interpolate_like_pandas() {
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        let s = exact_stats(&mut v);
        assert_eq!(s.p50, 2.5);
        assert!((s.p90 - 3.7).abs() < 1e-12);
        assert_eq!((s.min, s.max, s.mean), (1.0, 4.0, 2.5));
    }

    #[test]
    fn empty_stats_serialise_as_null_not_zero() {
        let empty = serde_json::to_value(exact_stats(&mut [])).unwrap();
        assert_eq!(empty["count"], 0);
        assert!(empty["p99"].is_null() && empty["mean"].is_null(), "{empty}");
        let one = serde_json::to_value(exact_stats(&mut [2.0])).unwrap();
        assert_eq!(one["p99"], 2.0);
        assert!(sorted_cdf(&[]).is_empty(), "no samples, no curve");
        assert_eq!(sorted_cdf(&[2.0]).len(), 101);
    }
}
