//! The Pareto chart: each feasible configuration's cost ($ per million output tokens) against
//! its TTFT p90 at the chosen point, the configurations no other beats on both joined by a
//! line. Drawn with plotters on any backend (the page's canvas; SVG in tests).

use plotters::coord::Shift;
use plotters::prelude::*;

use llmsim_engine::search::SearchPlan;

/// One feasible configuration on the chart.
#[derive(Clone, Debug, PartialEq)]
pub struct ParetoPoint {
    /// The configuration's index (its label).
    pub configuration: u32,
    /// $ per million output tokens.
    pub cost: f64,
    /// TTFT p90, s.
    pub ttft_p90_s: f64,
    /// Whether no other configuration is cheaper and faster.
    pub on_frontier: bool,
}

/// The feasible, priced configurations, frontier marked, in configuration order.
pub fn points(plan: &SearchPlan) -> Vec<ParetoPoint> {
    let mut points: Vec<ParetoPoint> = plan
        .results()
        .into_iter()
        .filter(|r| r.feasible())
        .filter_map(|r| {
            let o = &r.chosen.as_ref()?.outcome;
            let cost = o.usd_per_million_output_tokens.filter(|x| x.is_finite())?;
            let ttft = o.ttft_p90_s.filter(|x| x.is_finite())?;
            Some(ParetoPoint { configuration: r.configuration, cost, ttft_p90_s: ttft, on_frontier: false })
        })
        .collect();
    let order = crate::sort::stable_order(points.len(), &mut |a, b| {
        let (p, q) = (&points[a], &points[b]);
        p.cost
            .total_cmp(&q.cost)
            .then(p.ttft_p90_s.total_cmp(&q.ttft_p90_s))
            .then(p.configuration.cmp(&q.configuration))
    });
    let mut best = f64::INFINITY;
    for i in order {
        if points[i].ttft_p90_s < best {
            best = points[i].ttft_p90_s;
            points[i].on_frontier = true;
        }
    }
    points
}

fn err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> String {
    e.to_string()
}

/// Draws the chart over `root` with text of `font_size` pixels.
pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    font_size: u32,
    points: &[ParetoPoint],
) -> Result<(), String> {
    let fs = font_size;
    root.fill(&WHITE).map_err(err)?;
    let title = "Cost vs TTFT p90 (feasible configurations; line: Pareto frontier)";
    if points.is_empty() {
        root.titled(title, (FontFamily::SansSerif, fs + 2))
            .map_err(err)?
            .draw_text(
                "no feasible configuration with a price yet",
                &(FontFamily::SansSerif, fs).into_text_style(root),
                (20, 40),
            )
            .map_err(err)?;
        return root.present().map_err(err);
    }
    let max = |f: fn(&ParetoPoint) -> f64| points.iter().map(f).fold(0.0_f64, f64::max) * 1.1 + 1e-9;
    let (x1, y1) = (max(|p| p.cost), max(|p| p.ttft_p90_s));
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FontFamily::SansSerif, fs + 1))
        .margin(10)
        .x_label_area_size(fs * 3)
        .y_label_area_size(fs * 4 + 8)
        .build_cartesian_2d(0.0..x1, 0.0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("$ per million output tokens")
        .y_desc("TTFT p90 (s)")
        .label_style((FontFamily::SansSerif, fs - 1))
        .axis_desc_style((FontFamily::SansSerif, fs))
        .draw()
        .map_err(err)?;
    let blue = RGBColor(31, 119, 180);
    let orange = RGBColor(255, 127, 14);
    let mut frontier: Vec<(f64, f64)> =
        points.iter().filter(|p| p.on_frontier).map(|p| (p.cost, p.ttft_p90_s)).collect();
    crate::sort::sort_by(&mut frontier, |a, b| a.0.total_cmp(&b.0));
    chart.draw_series(LineSeries::new(frontier, orange.stroke_width(2))).map_err(err)?;
    chart
        .draw_series(points.iter().map(|p| {
            let color = if p.on_frontier { orange } else { blue };
            EmptyElement::at((p.cost, p.ttft_p90_s))
                + Circle::new((0, 0), 4, color.filled())
                + Text::new(format!("#{}", p.configuration), (6, -6), (FontFamily::SansSerif, fs - 2))
        }))
        .map_err(err)?;
    root.present().map_err(err)
}
