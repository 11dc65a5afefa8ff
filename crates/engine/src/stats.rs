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
    values.sort_by(f64::total_cmp);
    sorted_stats(values)
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
