//! The values under the pointer: a drawn chart's [`Frame`] turns a pixel column back into x,
//! and each series is read there. A CDF says which percentile the latency under the pointer
//! is (`p62 at 183 ms`); a series over time its value at that time; bars their group's values.

use super::{Chart, Frame, Line, Plot};
use crate::summary::{group_thousands, sig3};

/// A value with its unit: `183 ms`, `1,234 tok/s`, `45.2 %`, `12` (no unit).
pub fn with_unit(x: f64, unit: &str) -> String {
    let number = if x.abs() >= 1000.0 { group_thousands(&format!("{x:.0}")) } else { sig3(x) };
    match unit {
        "" => number,
        unit => format!("{number} {unit}"),
    }
}

/// What the chart shows at pixel column `px` of its drawing, or `None` outside its plot area
/// (or for a chart with nothing plotted).
pub fn readout(chart: &Chart, frame: &Frame, px: f64) -> Option<String> {
    if px < f64::from(frame.x_px.0) || px > f64::from(frame.x_px.1) {
        return None;
    }
    let x = frame.x_at(px);
    let u = chart.units;
    let named = |line: &Line, text: String| {
        if line.label.is_empty() { text } else { format!("{}: {text}", line.label) }
    };
    match &chart.plot {
        Plot::Empty { .. } => None,
        Plot::Lines { lines, .. } if u.cdf => {
            let parts: Vec<String> = lines
                .iter()
                .filter_map(|l| Some(named(l, format!("p{:.0}", fraction_at(&l.points, x)? * 100.0))))
                .collect();
            (!parts.is_empty()).then(|| format!("{} at {}", parts.join(" · "), with_unit(x, u.x)))
        }
        Plot::Lines { lines, .. } => {
            let parts: Vec<String> =
                lines.iter().filter_map(|l| Some(named(l, with_unit(nearest(&l.points, x)?, u.y)))).collect();
            (!parts.is_empty()).then(|| format!("{} = {} · {}", "t", with_unit(x, u.x), parts.join(" · ")))
        }
        Plot::DualLines { left, right, .. } => {
            let read = |lines: &[Line], unit: &'static str| -> Vec<String> {
                lines.iter().filter_map(|l| Some(named(l, with_unit(nearest(&l.points, x)?, unit)))).collect()
            };
            let mut parts = read(left, u.y);
            parts.extend(read(right, u.y2));
            (!parts.is_empty()).then(|| format!("t = {} · {}", with_unit(x, u.x), parts.join(" · ")))
        }
        Plot::Bars { series, groups, .. } => {
            let group = groups.get(x.floor().max(0.0) as usize)?;
            let values: Vec<String> = series
                .iter()
                .zip(&group.values)
                .map(|((name, _), v)| format!("{name} {}", with_unit(*v, u.y)))
                .collect();
            Some(format!("{}: {}", group.label, values.join(", ")))
        }
    }
}

/// The fraction of a CDF's samples at or below `x`, interpolated between its points (sorted
/// by x); `None` for a CDF without points.
fn fraction_at(points: &[(f64, f64)], x: f64) -> Option<f64> {
    let first = points.first()?;
    if x < first.0 {
        return Some(0.0);
    }
    // The last point at or below x (quantile functions repeat values: take the highest fraction).
    let i = points.partition_point(|p| p.0 <= x);
    let (x0, y0) = points[i - 1];
    match points.get(i) {
        Some(&(x1, y1)) if x1 > x0 => Some(y0 + (y1 - y0) * (x - x0) / (x1 - x0)),
        _ => Some(y0),
    }
}

/// The y of the point nearest to `x` (series over time, sorted by x).
fn nearest(points: &[(f64, f64)], x: f64) -> Option<f64> {
    let i = points.partition_point(|p| p.0 < x);
    let candidates = [i.checked_sub(1).and_then(|j| points.get(j)), points.get(i)];
    candidates
        .into_iter()
        .flatten()
        .filter(|p| p.1.is_finite())
        .min_by(|a, b| (a.0 - x).abs().total_cmp(&(b.0 - x).abs()))
        .map(|p| p.1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::{Axes, BarGroup, PALETTE, Units};

    fn frame(x: (f64, f64), x_log: bool) -> Frame {
        Frame { x_px: (100, 300), y_px: (20, 120), x, x_log }
    }

    fn cdf(label: &str, top: f64) -> Line {
        Line {
            label: label.into(),
            color: PALETTE[0],
            points: (0..=100).map(|i| (top * f64::from(i) / 100.0, f64::from(i) / 100.0)).collect(),
        }
    }

    #[test]
    fn a_cdf_reads_the_percentile_of_the_latency_under_the_pointer() {
        let chart = Chart {
            title: "t".into(),
            plot: Plot::Lines {
                axes: Axes { x: "ms".into(), y: "f".into() },
                lines: vec![cdf("", 200.0)],
                y_range: Some((0.0, 1.0)),
                x_log: false,
                marks: Vec::new(),
            },
            units: Units { x: "ms", cdf: true, ..Units::default() },
        };
        let f = frame((0.0, 200.0), false);
        assert_eq!(readout(&chart, &f, 200.0).as_deref(), Some("p50 at 100 ms"));
        assert_eq!(readout(&chart, &f, 300.0).as_deref(), Some("p100 at 200 ms"));
        assert_eq!(readout(&chart, &f, 99.0), None, "left of the plot");
        // Two runs, each named; on a log axis the middle pixel is the geometric mean (100 ms).
        let mut pair = chart.clone();
        if let Plot::Lines { lines, .. } = &mut pair.plot {
            *lines = vec![cdf("A (#1)", 100.0), cdf("B (#2)", 1000.0)];
        }
        let text = readout(&pair, &frame((10.0, 1000.0), true), 200.0).unwrap();
        assert!(text.starts_with("A (#1): p100 · B (#2): p10 at "), "{text}");
    }

    #[test]
    fn series_and_bars_read_their_values() {
        let line = Line {
            label: "A (#1)".into(),
            color: PALETTE[0],
            points: vec![(0.0, 10.0), (1.0, 2500.0), (2.0, 30.0)],
        };
        let chart = Chart {
            title: "t".into(),
            plot: Plot::Lines {
                axes: Axes { x: "s".into(), y: "tok/s".into() },
                lines: vec![line],
                y_range: None,
                x_log: false,
                marks: Vec::new(),
            },
            units: Units { x: "s", y: "tok/s", ..Units::default() },
        };
        assert_eq!(
            readout(&chart, &frame((0.0, 2.0), false), 205.0).as_deref(),
            Some("t = 1.05 s · A (#1): 2,500 tok/s")
        );
        let bars = Chart {
            title: "b".into(),
            plot: Plot::Bars {
                axes: Axes { x: "replica".into(), y: "%".into() },
                series: vec![("busy".into(), PALETTE[0]), ("MFU".into(), PALETTE[1])],
                groups: vec![
                    BarGroup { label: "r0".into(), values: vec![40.0, 5.5] },
                    BarGroup { label: "r1".into(), values: vec![50.0, 6.0] },
                ],
                y_max: 100.0,
            },
            units: Units { y: "%", ..Units::default() },
        };
        assert_eq!(
            readout(&bars, &frame((0.0, 2.0), false), 250.0).as_deref(),
            Some("r1: busy 50.0 %, MFU 6.00 %")
        );
    }

    #[test]
    fn values_read_with_their_units_and_thousands() {
        assert_eq!(with_unit(36_642.4, "tok/s"), "36,642 tok/s");
        assert_eq!(with_unit(0.183, "s"), "0.183 s");
        assert_eq!(with_unit(12.0, ""), "12.0");
        assert_eq!(fraction_at(&[], 1.0), None);
        assert_eq!(nearest(&[(0.0, 1.0), (1.0, f64::NAN)], 0.9), Some(1.0), "gaps are skipped");
    }
}
