//! Charts drawn with plotters on a `<canvas>`: line charts (CDFs, time series) and grouped bars
//! (per-replica utilisation), each with a title and axis titles with units.

use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use web_sys::HtmlCanvasElement;

/// Colours of the series, in order (A/B: first A, then B).
pub const PALETTE: [RGBColor; 4] = [RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44), RGBColor(214, 39, 40)];

/// One line.
#[derive(Clone, Debug)]
pub struct Line {
    /// Legend text.
    pub label: String,
    /// Colour.
    pub color: RGBColor,
    /// Points in data units.
    pub points: Vec<(f64, f64)>,
}

/// Axis titles with units.
#[derive(Clone, Copy, Debug)]
pub struct Axes<'a> {
    /// Chart title.
    pub title: &'a str,
    /// X axis title.
    pub x: &'a str,
    /// Y axis title.
    pub y: &'a str,
}

/// A CDF's points from 101 quantiles (q = 0.00..1.00) scaled by `scale` (e.g. 1000 for ms).
pub fn cdf_points(quantiles: &[f64], scale: f64) -> Vec<(f64, f64)> {
    let n = quantiles.len().saturating_sub(1).max(1) as f64;
    quantiles.iter().enumerate().map(|(i, v)| (v * scale, i as f64 / n)).collect()
}

/// Sizes the canvas's drawing buffer to its displayed width (so text is not stretched) and
/// returns the plotters drawing area.
fn area(canvas: &HtmlCanvasElement) -> Result<DrawingArea<CanvasBackend, plotters::coord::Shift>, String> {
    let width = canvas.client_width().max(280) as u32;
    let height = (width as f64 * 0.6).clamp(220.0, 320.0) as u32;
    if canvas.width() != width || canvas.height() != height {
        canvas.set_width(width);
        canvas.set_height(height);
    }
    let backend = CanvasBackend::with_canvas_object(canvas.clone()).ok_or("the canvas has no 2D context")?;
    let root = backend.into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    Ok(root)
}

/// The range of `values` with a little headroom; a flat or empty range becomes `[lo, lo + 1]`.
fn span(values: impl Iterator<Item = f64>, from_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if from_zero {
        lo = lo.min(0.0);
    }
    if hi - lo < 1e-12 {
        hi = lo + 1.0;
    }
    (lo, hi + (hi - lo) * 0.05)
}

fn font_size(root_width: u32) -> u32 {
    if root_width < 420 { 12 } else { 14 }
}

/// Draws lines with a legend. `y_range` fixes the y axis (e.g. 0..1 for CDFs).
pub fn draw_lines(canvas: &HtmlCanvasElement, axes: Axes, lines: &[Line], y_range: Option<(f64, f64)>) -> Result<(), String> {
    let root = area(canvas)?;
    let (w, _) = root.dim_in_pixel();
    let fs = font_size(w);
    let (x0, x1) = span(lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)), true);
    let (y0, y1) = y_range.unwrap_or_else(|| span(lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)), true));
    let mut chart = ChartBuilder::on(&root)
        .caption(axes.title, ("sans-serif", fs + 2))
        .margin(8)
        .margin_right(16)
        .x_label_area_size(fs * 3)
        .y_label_area_size(fs * 4 + 8)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(axes.x)
        .y_desc(axes.y)
        .x_labels(6)
        .y_labels(6)
        .label_style(("sans-serif", fs - 1))
        .axis_desc_style(("sans-serif", fs))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(215, 215, 215))
        .x_label_formatter(&|v| short(*v))
        .y_label_formatter(&|v| short(*v))
        .draw()
        .map_err(|e| e.to_string())?;
    for line in lines {
        let color = line.color;
        chart
            .draw_series(LineSeries::new(line.points.iter().copied(), color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(line.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    }
    if lines.len() > 1 || lines.first().is_some_and(|l| !l.label.is_empty()) {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font(("sans-serif", fs - 1))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())
}

/// Draws `left` lines against the left y axis and `right` lines against a right y axis with
/// its own title (two quantities of different scale over the same x).
pub fn draw_lines_dual(canvas: &HtmlCanvasElement, axes: Axes, right_y: &str, left: &[Line], right: &[Line]) -> Result<(), String> {
    let root = area(canvas)?;
    let (w, _) = root.dim_in_pixel();
    let fs = font_size(w);
    let all = || left.iter().chain(right);
    let (x0, x1) = span(all().flat_map(|l| l.points.iter().map(|p| p.0)), true);
    let (y0, y1) = span(left.iter().flat_map(|l| l.points.iter().map(|p| p.1)), true);
    let (z0, z1) = span(right.iter().flat_map(|l| l.points.iter().map(|p| p.1)), true);
    let mut chart = ChartBuilder::on(&root)
        .caption(axes.title, ("sans-serif", fs + 2))
        .margin(8)
        .x_label_area_size(fs * 3)
        .y_label_area_size(fs * 4 + 8)
        .right_y_label_area_size(fs * 4 + 8)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| e.to_string())?
        .set_secondary_coord(x0..x1, z0..z1);
    chart
        .configure_mesh()
        .x_desc(axes.x)
        .y_desc(axes.y)
        .x_labels(6)
        .y_labels(6)
        .label_style(("sans-serif", fs - 1))
        .axis_desc_style(("sans-serif", fs))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(215, 215, 215))
        .x_label_formatter(&|v| short(*v))
        .y_label_formatter(&|v| short(*v))
        .draw()
        .map_err(|e| e.to_string())?;
    chart
        .configure_secondary_axes()
        .y_desc(right_y)
        .y_labels(6)
        .label_style(("sans-serif", fs - 1))
        .axis_desc_style(("sans-serif", fs))
        .y_label_formatter(&|v| short(*v))
        .draw()
        .map_err(|e| e.to_string())?;
    for line in left {
        let color = line.color;
        chart
            .draw_series(LineSeries::new(line.points.iter().copied(), color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(line.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    }
    for line in right {
        let color = line.color;
        chart
            .draw_secondary_series(LineSeries::new(line.points.iter().copied(), color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(line.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", fs - 1))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

/// Centred moving average over `window` points (1 = unchanged).
pub fn moving_average(values: &[f64], window: usize) -> Vec<f64> {
    let half = window.max(1) / 2;
    (0..values.len())
        .map(|i| {
            let (lo, hi) = (i.saturating_sub(half), (i + half + 1).min(values.len()));
            values[lo..hi].iter().sum::<f64>() / (hi - lo) as f64
        })
        .collect()
}

/// One group of bars (e.g. one replica): its label and one value per series.
#[derive(Clone, Debug)]
pub struct BarGroup {
    /// Label under the group.
    pub label: String,
    /// One value per series.
    pub values: Vec<f64>,
}

/// Draws grouped bars; `series` names and colours the bars of every group.
pub fn draw_bars(canvas: &HtmlCanvasElement, axes: Axes, series: &[(&str, RGBColor)], groups: &[BarGroup], y_max: f64) -> Result<(), String> {
    let root = area(canvas)?;
    let (w, _) = root.dim_in_pixel();
    let fs = font_size(w);
    let n = groups.len().max(1);
    let labels: Vec<String> = groups.iter().map(|g| g.label.clone()).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(axes.title, ("sans-serif", fs + 2))
        .margin(8)
        .margin_right(16)
        .x_label_area_size(fs * 3)
        .y_label_area_size(fs * 4 + 8)
        .build_cartesian_2d(0f64..n as f64, 0f64..y_max)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc(axes.x)
        .y_desc(axes.y)
        .x_labels(n.min(16) * 2 + 1)
        .label_style(("sans-serif", fs - 1))
        .axis_desc_style(("sans-serif", fs))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(215, 215, 215))
        .x_label_formatter(&|v| {
            // Label each group at its centre only.
            let i = v.floor() as usize;
            if (v.fract() - 0.5).abs() < 1e-6 { labels.get(i).cloned().unwrap_or_default() } else { String::new() }
        })
        .draw()
        .map_err(|e| e.to_string())?;
    let k = series.len().max(1) as f64;
    for (s, (name, color)) in series.iter().enumerate() {
        let color = *color;
        let bars = groups.iter().enumerate().map(move |(i, g)| {
            let left = i as f64 + 0.1 + 0.8 * s as f64 / k;
            let right = left + 0.8 / k;
            Rectangle::new([(left, 0.0), (right, g.values.get(s).copied().unwrap_or(0.0).min(y_max))], color.filled())
        });
        chart
            .draw_series(bars)
            .map_err(|e| e.to_string())?
            .label(*name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", fs - 1))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

/// Tick text: few digits, no exponent for everyday magnitudes.
fn short(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".to_string()
    } else if a >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}
