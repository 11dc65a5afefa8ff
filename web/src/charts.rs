//! Charts drawn with plotters on a `<canvas>`: line charts (CDFs, time series) and grouped bars
//! (per-replica utilisation), each with a title, a legend between the title and the plot (never
//! over the data) and axis titles with units, drawn at the screen's pixel density; a chart with
//! nothing to plot shows a note saying why instead.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters_canvas::CanvasBackend;
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

/// Colours of the series, in order (A/B: first A, then B).
pub const PALETTE: [RGBColor; 4] =
    [RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44), RGBColor(214, 39, 40)];

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

/// A chart's drawing area, in CSS pixels.
type Area = DrawingArea<CanvasBackend, Shift>;

/// Sizes the canvas to its displayed width (CSS pixels) times `devicePixelRatio`, so charts are
/// sharp on high-DPI screens, and returns a drawing area in CSS pixels with the chart's font
/// size: the context scales every coordinate, font and line width by the ratio, so text and
/// lines keep the same apparent size on every screen.
fn area(canvas: &HtmlCanvasElement) -> Result<(Area, u32), String> {
    let width = canvas.client_width().max(280) as u32;
    let height = (width as f64 * 0.6).clamp(220.0, 320.0) as u32;
    let ratio = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio());
    let ratio = if ratio.is_finite() { ratio.clamp(1.0, 4.0) } else { 1.0 };
    let (pixels_w, pixels_h) =
        ((width as f64 * ratio).round() as u32, (height as f64 * ratio).round() as u32);
    if canvas.width() != pixels_w || canvas.height() != pixels_h {
        canvas.set_width(pixels_w);
        canvas.set_height(pixels_h);
    }
    // The displayed height follows from the CSS width and the buffer's aspect ratio.
    let context: CanvasRenderingContext2d = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into().ok())
        .ok_or("the canvas has no 2D context")?;
    context.set_transform(ratio, 0.0, 0.0, ratio, 0.0, 0.0).map_err(|_| "the canvas refused its scale")?;
    let backend = CanvasBackend::with_canvas_object(canvas.clone()).ok_or("the canvas has no 2D context")?;
    // The backend sees the buffer's size in device pixels; the scaled context draws the CSS
    // pixels of this corner over all of it (rounded up, so the white fill covers every pixel).
    let root = backend
        .into_drawing_area()
        .shrink((0, 0), ((pixels_w as f64 / ratio).ceil() as u32, (pixels_h as f64 / ratio).ceil() as u32));
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    Ok((root, font_size(width)))
}

/// The range of `values` with a little headroom; a flat or empty range becomes `[lo, lo + 1]`.
fn span(values: impl Iterator<Item = f64>, from_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
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

/// How a legend entry shows its series.
#[derive(Clone, Copy)]
enum Swatch {
    Line,
    Bar,
}

/// One legend entry.
struct Key<'a> {
    label: &'a str,
    color: RGBColor,
    swatch: Swatch,
}

const MUTED: RGBColor = RGBColor(91, 101, 116);

/// Draws the title and, under it, the legend in centred rows, above the plot so that it never
/// covers the data; returns the area left for the plot.
fn header(root: &Area, title: &str, keys: &[Key], fs: u32) -> Result<Area, String> {
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    let w = root.dim_in_pixel().0 as i32;
    let title_style =
        TextStyle::from(("sans-serif", fs + 2).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    root.draw(&Text::new(title.to_string(), (w / 2, 6), title_style)).map_err(err)?;
    let mut height = 6 + fs as i32 + 2 + 6;
    let label_style =
        TextStyle::from(("sans-serif", fs - 1).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let sample = |k: &Key| match k.swatch {
        Swatch::Line => 18,
        Swatch::Bar => 12,
    };
    let widths: Vec<i32> = keys
        .iter()
        .map(|k| {
            let text = root
                .estimate_text_size(k.label, &label_style)
                .map_or(k.label.len() as i32 * fs as i32 / 2, |(w, _)| w as i32);
            sample(k) + 5 + text
        })
        .collect();
    // Entries fill rows greedily, 14 px apart.
    let (gap, room) = (14, w - 16);
    let mut rows: Vec<Vec<usize>> = Vec::new();
    let mut used = 0;
    for (i, width) in widths.iter().enumerate() {
        match rows.last_mut() {
            Some(row) if used + gap + width <= room => {
                row.push(i);
                used += gap + width;
            }
            _ => {
                rows.push(vec![i]);
                used = *width;
            }
        }
    }
    let row_h = fs as i32 + 5;
    for row in &rows {
        let total: i32 = row.iter().map(|i| widths[*i]).sum::<i32>() + gap * (row.len() as i32 - 1);
        let (mut x, y) = ((w - total).max(0) / 2, height + row_h / 2);
        for &i in row {
            let key = &keys[i];
            let color = key.color;
            match key.swatch {
                Swatch::Line => {
                    root.draw(&PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)))
                }
                Swatch::Bar => root.draw(&Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())),
            }
            .map_err(err)?;
            root.draw(&Text::new(key.label.to_string(), (x + sample(key) + 5, y), label_style.clone()))
                .map_err(err)?;
            x += widths[i] + gap;
        }
        height += row_h;
    }
    if !rows.is_empty() {
        height += 2;
    }
    Ok(root.split_vertically(height).1)
}

/// Lines of `text` of at most `room` pixels, broken at spaces.
fn wrap(root: &Area, text: &str, style: &TextStyle, room: i32) -> Vec<String> {
    let fits = |s: &str| root.estimate_text_size(s, style).map_or(true, |(w, _)| w as i32 <= room);
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(line) if fits(&format!("{line} {word}")) => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// Draws a chart that has nothing to plot: its title and `note`, which says why (e.g. no
/// request completed), instead of empty axes.
pub fn draw_empty(canvas: &HtmlCanvasElement, title: &str, note: &str) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    let (root, fs) = area(canvas)?;
    let plot = header(&root, title, &[], fs)?;
    let (w, h) = plot.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    plot.draw(&Rectangle::new([(12, 4), (w - 12, h - 12)], RGBColor(215, 215, 215).stroke_width(1)))
        .map_err(err)?;
    let style = TextStyle::from(("sans-serif", fs).into_font())
        .color(&MUTED)
        .pos(Pos::new(HPos::Center, VPos::Center));
    let lines = wrap(&plot, note, &style, w - 48);
    let line_h = fs as i32 + 5;
    let top = (h - 8) / 2 - line_h * (lines.len() as i32 - 1) / 2;
    for (i, line) in lines.into_iter().enumerate() {
        plot.draw(&Text::new(line, (w / 2, top + line_h * i as i32), style.clone())).map_err(err)?;
    }
    root.present().map_err(|e| e.to_string())
}

/// Whether any line has a point to draw.
pub fn has_points(lines: &[Line]) -> bool {
    lines.iter().any(|l| l.points.iter().any(|(x, y)| x.is_finite() && y.is_finite()))
}

/// Legend entries of labelled lines.
fn line_keys(lines: &[Line]) -> Vec<Key<'_>> {
    lines
        .iter()
        .filter(|l| !l.label.is_empty())
        .map(|l| Key { label: &l.label, color: l.color, swatch: Swatch::Line })
        .collect()
}

/// Draws lines, with a legend above the plot when they have labels. `y_range` fixes the y axis
/// (e.g. 0..1 for CDFs).
pub fn draw_lines(
    canvas: &HtmlCanvasElement,
    axes: Axes,
    lines: &[Line],
    y_range: Option<(f64, f64)>,
) -> Result<(), String> {
    let (root, fs) = area(canvas)?;
    let plot = header(&root, axes.title, &line_keys(lines), fs)?;
    let (x0, x1) = span(lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)), true);
    let (y0, y1) =
        y_range.unwrap_or_else(|| span(lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)), true));
    let mut chart = ChartBuilder::on(&plot)
        .margin(8)
        .margin_top(4)
        .margin_right(16)
        .x_label_area_size(fs * 3)
        .y_label_area_size(fs * 4 + 8)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| e.to_string())?;
    draw_xy_mesh(&mut chart, axes, fs)?;
    for line in lines {
        chart
            .draw_series(LineSeries::new(line.points.iter().copied(), line.color.stroke_width(2)))
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())
}

/// A line chart's plot area on the canvas, in data coordinates.
type XyChart<'a> = ChartContext<'a, CanvasBackend, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The grid, ticks and axis titles every line chart shares.
fn draw_xy_mesh(chart: &mut XyChart<'_>, axes: Axes, fs: u32) -> Result<(), String> {
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
        .map_err(|e| e.to_string())
}

/// Draws `left` lines against the left y axis and `right` lines against a right y axis with
/// its own title (two quantities of different scale over the same x).
pub fn draw_lines_dual(
    canvas: &HtmlCanvasElement,
    axes: Axes,
    right_y: &str,
    left: &[Line],
    right: &[Line],
) -> Result<(), String> {
    let (root, fs) = area(canvas)?;
    let keys: Vec<Key> = line_keys(left).into_iter().chain(line_keys(right)).collect();
    let plot = header(&root, axes.title, &keys, fs)?;
    let all = || left.iter().chain(right);
    let (x0, x1) = span(all().flat_map(|l| l.points.iter().map(|p| p.0)), true);
    let (y0, y1) = span(left.iter().flat_map(|l| l.points.iter().map(|p| p.1)), true);
    let (z0, z1) = span(right.iter().flat_map(|l| l.points.iter().map(|p| p.1)), true);
    let mut chart = ChartBuilder::on(&plot)
        .margin(8)
        .margin_top(4)
        .x_label_area_size(fs * 3)
        .y_label_area_size(fs * 4 + 8)
        .right_y_label_area_size(fs * 4 + 8)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| e.to_string())?
        .set_secondary_coord(x0..x1, z0..z1);
    draw_xy_mesh(&mut chart, axes, fs)?;
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
        chart
            .draw_series(LineSeries::new(line.points.iter().copied(), line.color.stroke_width(2)))
            .map_err(|e| e.to_string())?;
    }
    for line in right {
        chart
            .draw_secondary_series(LineSeries::new(line.points.iter().copied(), line.color.stroke_width(2)))
            .map_err(|e| e.to_string())?;
    }
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

/// Draws grouped bars; `series` names and colours the bars of every group (legend above the
/// plot).
pub fn draw_bars(
    canvas: &HtmlCanvasElement,
    axes: Axes,
    series: &[(&str, RGBColor)],
    groups: &[BarGroup],
    y_max: f64,
) -> Result<(), String> {
    let (root, fs) = area(canvas)?;
    let keys: Vec<Key> =
        series.iter().map(|(label, color)| Key { label, color: *color, swatch: Swatch::Bar }).collect();
    let plot = header(&root, axes.title, &keys, fs)?;
    let n = groups.len().max(1);
    let labels: Vec<String> = groups.iter().map(|g| g.label.clone()).collect();
    let mut chart = ChartBuilder::on(&plot)
        .margin(8)
        .margin_top(4)
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
            if (v.fract() - 0.5).abs() < 1e-6 {
                labels.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .draw()
        .map_err(|e| e.to_string())?;
    let k = series.len().max(1) as f64;
    for (s, (_, color)) in series.iter().enumerate() {
        let color = *color;
        let bars = groups.iter().enumerate().map(move |(i, g)| {
            let left = i as f64 + 0.1 + 0.8 * s as f64 / k;
            let right = left + 0.8 / k;
            Rectangle::new(
                [(left, 0.0), (right, g.values.get(s).copied().unwrap_or(0.0).min(y_max))],
                color.filled(),
            )
        });
        chart.draw_series(bars).map_err(|e| e.to_string())?;
    }
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
