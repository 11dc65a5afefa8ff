//! The error maths: signed relative errors and the percentiles of their magnitudes.

use serde::Serialize;

/// (simulated − measured) / measured: positive when llmsim over-predicts.
pub fn signed_error(simulated: f64, measured: f64) -> f64 {
    (simulated - measured) / measured
}

/// The `q`-quantile (0 ≤ q ≤ 1) of `values` by linear interpolation between the closest ranks
/// (numpy's default); `None` when empty. NaNs must not be present.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let position = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (position.floor() as usize, position.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (position - lo as f64))
}

/// How far one metric is off over a set of points.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ErrorStats {
    /// Median of |error|.
    pub abs_err_median: f64,
    /// 90th percentile of |error|.
    pub abs_err_p90: f64,
    /// Largest |error|.
    pub abs_err_max: f64,
    /// Median of the signed error: the bias (positive = over-predicted).
    pub err_median: f64,
}

impl ErrorStats {
    /// Statistics of signed errors; `None` when there are none.
    pub fn of(errors: &[f64]) -> Option<ErrorStats> {
        let magnitudes: Vec<f64> = errors.iter().map(|e| e.abs()).collect();
        Some(ErrorStats {
            abs_err_median: quantile(&magnitudes, 0.5)?,
            abs_err_p90: quantile(&magnitudes, 0.9)?,
            abs_err_max: quantile(&magnitudes, 1.0)?,
            err_median: quantile(errors, 0.5)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_signed_fractions_of_the_measurement() {
        assert_eq!(signed_error(150.0, 100.0), 0.5);
        assert_eq!(signed_error(50.0, 100.0), -0.5);
        assert_eq!(signed_error(100.0, 100.0), 0.0);
    }

    #[test]
    fn quantiles_interpolate_between_ranks() {
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[3.0], 0.9), Some(3.0));
        assert_eq!(quantile(&[4.0, 1.0, 3.0, 2.0], 0.5), Some(2.5));
        assert_eq!(quantile(&[5.0, 1.0, 3.0], 0.5), Some(3.0));
        // numpy.quantile([1..=10], 0.9) = 9.1
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert!((quantile(&ten, 0.9).unwrap() - 9.1).abs() < 1e-12);
        assert_eq!(quantile(&ten, 1.0), Some(10.0));
        assert_eq!(quantile(&ten, 0.0), Some(1.0));
    }

    #[test]
    fn stats_take_magnitudes_but_keep_the_bias_signed() {
        let s = ErrorStats::of(&[-0.5, 0.1, 0.2, -0.3]).unwrap();
        assert!((s.abs_err_median - 0.25).abs() < 1e-12, "{s:?}");
        assert_eq!(s.abs_err_max, 0.5);
        assert!((s.err_median - (-0.1)).abs() < 1e-12, "{s:?}");
        assert!((s.abs_err_p90 - 0.44).abs() < 1e-12, "{s:?}");
        assert_eq!(ErrorStats::of(&[]), None);
    }
}
