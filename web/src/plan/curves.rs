//! Latency against load: for each configuration, every point its search simulated (the
//! doubling and bisection rates of `max_qps`, or the replica counts of `min_replicas` /
//! `min_cost`) against one latency, with the objective's bound drawn across. Where the curve
//! crosses the bound is the configuration's capacity; how steeply it rises there says how much
//! headroom a rate below it leaves. Points come from the plan while it runs, so the curves grow
//! live. Drawn with plotters on any backend (the page's canvas; SVG in tests).

use plotters::coord::Shift;
use plotters::prelude::*;

use llmsim_engine::search::{RunOutcome, SearchGoal, SearchPlan};

use super::table::percentile_label;

/// Which latency of a point the chart shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Objective `i`'s observed quantile (what the plan judged).
    Objective(usize),
    /// TTFT p90 (searches without objectives).
    TtftP90,
    /// TPOT p90 (searches without objectives).
    TpotP90,
}

/// A latency the chart can show.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    /// Where its values come from.
    pub source: Source,
    /// Its name, e.g. `TTFT p90`.
    pub label: String,
    /// The objective's bound, s, if one bounds it.
    pub bound_s: Option<f64>,
}

/// The latencies of a plan: each objective's quantile, or TTFT and TPOT p90 without
/// objectives. The first is the chart's default.
pub fn metrics(plan: &SearchPlan) -> Vec<Metric> {
    let slos = &plan.spec().slos;
    if slos.is_empty() {
        return vec![
            Metric { source: Source::TtftP90, label: "TTFT p90".into(), bound_s: None },
            Metric { source: Source::TpotP90, label: "TPOT p90".into(), bound_s: None },
        ];
    }
    slos.iter()
        .enumerate()
        .map(|(i, t)| Metric {
            source: Source::Objective(i),
            label: format!("{} {}", t.metric.label(), percentile_label(t.quantile)),
            bound_s: Some(t.max_s),
        })
        .collect()
}

impl Source {
    fn of(self, o: &RunOutcome) -> Option<f64> {
        match self {
            Source::Objective(i) => o.slo_observed_s.get(i).copied().flatten(),
            Source::TtftP90 => o.ttft_p90_s,
            Source::TpotP90 => o.tpot_p90_s,
        }
        .filter(|x| x.is_finite() && *x > 0.0)
    }
}

/// One simulated point.
#[derive(Clone, Debug, PartialEq)]
pub struct CurvePoint {
    /// Its rate (QPS), or its replica count for the replica goals.
    pub x: f64,
    /// The latency, when the run measured one (an overloaded run's quantile that falls on
    /// unfinished requests has none).
    pub latency_s: Option<f64>,
    /// Whether the point passed (objectives met, not overloaded).
    pub passed: bool,
}

/// One configuration's points, by `x`.
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    /// The configuration's index (its label).
    pub configuration: u32,
    /// The points, `x` ascending.
    pub points: Vec<CurvePoint>,
}

/// What the x axis is: the rate for `max_qps`, the replica count otherwise.
pub fn x_label(plan: &SearchPlan) -> &'static str {
    match plan.spec().goal {
        SearchGoal::MaxQps => "arrival rate (QPS)",
        _ => "replicas",
    }
}

/// Every configuration's points so far (configurations without one are left out), in
/// configuration order.
pub fn curves(plan: &SearchPlan, metric: Source) -> Vec<Curve> {
    let by_rate = plan.spec().goal == SearchGoal::MaxQps;
    (0..plan.spec().num_configurations())
        .filter_map(|c| {
            let mut points: Vec<CurvePoint> = plan
                .points(c)
                .iter()
                .map(|p| CurvePoint {
                    x: if by_rate { p.qps } else { f64::from(p.num_replicas.unwrap_or(1)) },
                    latency_s: metric.of(&p.outcome),
                    passed: p.outcome.passed,
                })
                .collect();
            crate::sort::sort_by(&mut points, |a, b| a.x.total_cmp(&b.x));
            (!points.is_empty()).then_some(Curve { configuration: c as u32, points })
        })
        .collect()
}

/// The colours the curves cycle through (Tableau 10).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> String {
    e.to_string()
}

/// A latency label with two significant digits (`12`, `1.5`, `0.035`).
pub fn two_significant_digits(y: f64) -> String {
    if !(y.is_finite() && y > 0.0) {
        return format!("{y}");
    }
    let digits = (1.0 - y.log10().floor()).max(0.0) as usize;
    format!("{y:.digits$}")
}

/// The chart's title for `metric`.
pub fn title(metric: &Metric, x_label: &str) -> String {
    let what = if x_label == "replicas" { "replicas" } else { "load" };
    format!("{} vs {what} (every simulated point; ● passed, ✕ failed)", metric.label)
}

/// Draws the curves over `root` with text of `font_size` pixels: latency on a log scale
/// against `x_label`, one line per configuration labelled `#c` at its last measured point,
/// passing points as dots, failing ones as crosses (at the top edge when the run measured no
/// latency), and the bound as a dashed red line.
pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    font_size: u32,
    metric: &Metric,
    x_label: &str,
    curves: &[Curve],
) -> Result<(), String> {
    let fs = font_size;
    root.fill(&WHITE).map_err(err)?;
    let title = title(metric, x_label);
    let latencies = || curves.iter().flat_map(|c| c.points.iter().filter_map(|p| p.latency_s));
    if curves.is_empty() {
        root.titled(&title, (FontFamily::SansSerif, fs + 2))
            .map_err(err)?
            .draw_text("no simulated point yet", &(FontFamily::SansSerif, fs).into_text_style(root), (20, 40))
            .map_err(err)?;
        return root.present().map_err(err);
    }
    let low = latencies().chain(metric.bound_s).fold(f64::INFINITY, f64::min);
    let high = latencies().chain(metric.bound_s).fold(0.0_f64, f64::max);
    // With no latency at all (every point unmeasured), a decade around 1 s.
    let (low, high) = if low.is_finite() && high > 0.0 { (low / 1.5, high * 1.5) } else { (0.1, 10.0) };
    let high = high.max(low * 10.0);
    let x1 = curves.iter().flat_map(|c| c.points.iter().map(|p| p.x)).fold(0.0_f64, f64::max) * 1.08 + 1e-9;
    let mut chart = ChartBuilder::on(root)
        .caption(&title, (FontFamily::SansSerif, fs + 1))
        .margin(10)
        .x_label_area_size(fs * 3)
        .y_label_area_size(fs * 4 + 8)
        .build_cartesian_2d(0.0..x1, (low..high).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(format!("{} (s, log scale)", metric.label))
        .y_labels(8)
        .y_label_formatter(&|y| two_significant_digits(*y))
        .light_line_style(WHITE)
        .label_style((FontFamily::SansSerif, fs - 1))
        .axis_desc_style((FontFamily::SansSerif, fs))
        .draw()
        .map_err(err)?;
    let red = RGBColor(200, 0, 0);
    if let Some(bound) = metric.bound_s {
        chart
            .draw_series(DashedLineSeries::new([(0.0, bound), (x1, bound)], 6, 4, red.stroke_width(2)))
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(Text::new(
                format!("SLO: {} ≤ {bound} s", metric.label),
                (x1 * 0.01, bound),
                (FontFamily::SansSerif, fs - 1).into_font().color(&red),
            )))
            .map_err(err)?;
    }
    for curve in curves {
        let color = PALETTE[curve.configuration as usize % PALETTE.len()];
        let measured: Vec<(f64, f64)> =
            curve.points.iter().filter_map(|p| p.latency_s.map(|y| (p.x, y))).collect();
        chart.draw_series(LineSeries::new(measured.iter().copied(), color.stroke_width(1))).map_err(err)?;
        let at = |p: &CurvePoint| (p.x, p.latency_s.unwrap_or(high));
        chart
            .draw_series(
                curve.points.iter().filter(|p| p.passed).map(|p| Circle::new(at(p), 3, color.filled())),
            )
            .map_err(err)?;
        chart
            .draw_series(
                curve
                    .points
                    .iter()
                    .filter(|p| !p.passed)
                    .map(|p| Cross::new(at(p), 4, color.stroke_width(2))),
            )
            .map_err(err)?;
        if let Some(last) = measured.last() {
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at(*last)
                        + Text::new(
                            format!("#{}", curve.configuration),
                            (5, -5),
                            (FontFamily::SansSerif, fs - 2),
                        ),
                ))
                .map_err(err)?;
        }
    }
    root.present().map_err(err)
}
