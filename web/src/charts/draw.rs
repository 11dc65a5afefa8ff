//! Drawing a [`Chart`] with plotters on any `DrawingBackend`: the page's canvas, or SVG in
//! tests. Every chart has its title on top, then its legend in centred rows (never over the
//! data), then the plot with its axis titles; a chart with nothing to plot shows its note in an
//! empty frame instead.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use plotters::coord::ranged1d::ValueFormatter;

use super::{Axes, BarGroup, Chart, Frame, Line, Mark, Plot};

/// A drawing error as text (the page logs it; the chart stays as it was).
fn err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> String {
    e.to_string()
}

/// The font size of a chart `width` CSS pixels wide.
pub fn font_size(width: u32) -> u32 {
    if width < 420 { 12 } else { 14 }
}

/// Draws `chart` over all of `root` (white first) with text of `font_size` pixels, and
/// presents it; returns where the data landed (`None` for a chart with nothing plotted).
pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    font_size: u32,
    chart: &Chart,
) -> Result<Option<Frame>, String> {
    root.fill(&WHITE).map_err(err)?;
    let fs = font_size;
    let title = chart.title.as_str();
    let frame = match &chart.plot {
        Plot::Empty { note } => {
            draw_empty(root, fs, title, note)?;
            None
        }
        Plot::Lines { axes, lines, y_range, x_log, marks } => {
            Some(draw_lines(root, fs, title, axes, lines, *y_range, *x_log, marks)?)
        }
        Plot::DualLines { axes, right_y, left, right } => {
            Some(draw_lines_dual(root, fs, title, axes, right_y, left, right)?)
        }
        Plot::Bars { axes, series, groups, y_max } => {
            Some(draw_bars(root, fs, title, axes, series, groups, *y_max)?)
        }
    };
    root.present().map_err(err)?;
    Ok(frame)
}

/// The frame of a drawn plot: its pixel area and x range.
fn frame_of<DB: DrawingBackend, X: Ranged, Y: Ranged>(
    chart: &ChartContext<'_, DB, Cartesian2d<X, Y>>,
    x: (f64, f64),
    x_log: bool,
) -> Frame {
    let (xs, ys) = chart.plotting_area().get_pixel_range();
    Frame { x_px: (xs.start, xs.end), y_px: (ys.start, ys.end), x, x_log }
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
const LIGHT_GRID: RGBColor = RGBColor(235, 235, 235);
const BOLD_GRID: RGBColor = RGBColor(215, 215, 215);

/// Draws the title and, under it, the legend in centred rows, above the plot so that it never
/// covers the data; returns the area left for the plot.
fn header<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    keys: &[Key],
    fs: u32,
) -> Result<DrawingArea<DB, Shift>, String> {
    let w = root.dim_in_pixel().0 as i32;
    let title_style =
        TextStyle::from((FontFamily::SansSerif, fs + 2).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    root.draw(&Text::new(title.to_string(), (w / 2, 6), title_style)).map_err(err)?;
    let mut height = 6 + fs as i32 + 2 + 6;
    let label_style =
        TextStyle::from((FontFamily::SansSerif, fs - 1).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
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
fn wrap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    room: i32,
) -> Vec<String> {
    let fits = |s: &str| area.estimate_text_size(s, style).map_or(true, |(w, _)| w as i32 <= room);
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

/// A chart that has nothing to plot: its title and `note`, which says why, in an empty frame.
fn draw_empty<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    fs: u32,
    title: &str,
    note: &str,
) -> Result<(), String> {
    let plot = header(root, title, &[], fs)?;
    let (w, h) = plot.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    plot.draw(&Rectangle::new([(12, 4), (w - 12, h - 12)], BOLD_GRID.stroke_width(1))).map_err(err)?;
    let style = TextStyle::from((FontFamily::SansSerif, fs).into_font())
        .color(&MUTED)
        .pos(Pos::new(HPos::Center, VPos::Center));
    let lines = wrap(&plot, note, &style, w - 48);
    let line_h = fs as i32 + 5;
    let top = (h - 8) / 2 - line_h * (lines.len() as i32 - 1) / 2;
    for (i, line) in lines.into_iter().enumerate() {
        plot.draw(&Text::new(line, (w / 2, top + line_h * i as i32), style.clone())).map_err(err)?;
    }
    Ok(())
}

/// Legend entries of labelled lines.
fn line_keys(lines: &[Line]) -> Vec<Key<'_>> {
    lines
        .iter()
        .filter(|l| !l.label.is_empty())
        .map(|l| Key { label: &l.label, color: l.color, swatch: Swatch::Line })
        .collect()
}

/// The chart builder every plot starts from: margins, and label areas sized for the font
/// (on the right too for a second y axis, else a margin there).
fn plot_builder<'a, 'b, DB: DrawingBackend>(
    plot: &'a DrawingArea<DB, Shift>,
    fs: u32,
    right_axis: bool,
) -> ChartBuilder<'a, 'b, DB> {
    let mut builder = ChartBuilder::on(plot);
    builder.margin(8).margin_top(4);
    if right_axis {
        builder.right_y_label_area_size(fs * 4 + 8);
    } else {
        builder.margin_right(16);
    }
    builder.x_label_area_size(fs * 3).y_label_area_size(fs * 4 + 8);
    builder
}

/// Lines, with a legend above the plot when they have labels, and `marks` as dashed
/// vertical lines (the x range reaches them); on a log-scale x axis when `x_log` (points at
/// x ≤ 0 have no place there and are left out).
#[allow(clippy::too_many_arguments)]
fn draw_lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    fs: u32,
    title: &str,
    axes: &Axes,
    lines: &[Line],
    y_range: Option<(f64, f64)>,
    x_log: bool,
    marks: &[Mark],
) -> Result<Frame, String> {
    let plot = header(root, title, &line_keys(lines), fs)?;
    let xs = || lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)).chain(marks.iter().map(|m| m.x));
    let (y0, y1) =
        y_range.unwrap_or_else(|| span(lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)), true));
    if x_log {
        let positive = xs().filter(|x| *x > 0.0);
        let (lo, hi) = positive.fold((f64::INFINITY, 0.0_f64), |(lo, hi), x| (lo.min(x), hi.max(x)));
        let (x0, x1) = if lo.is_finite() && hi > lo { (lo, hi) } else { (1.0, 10.0) };
        let builder = plot_builder(&plot, fs, false).build_cartesian_2d((x0..x1).log_scale(), y0..y1);
        let mut chart = builder.map_err(err)?;
        draw_xy_mesh(&mut chart, axes, fs)?;
        for line in lines {
            let points = line.points.iter().copied().filter(|p| p.0 > 0.0);
            chart.draw_series(LineSeries::new(points, line.color.stroke_width(2))).map_err(err)?;
        }
        draw_marks(&mut chart, marks, (y0, y1), fs)?;
        return Ok(frame_of(&chart, (x0, x1), true));
    }
    let (x0, x1) = span(xs(), true);
    let mut chart = plot_builder(&plot, fs, false).build_cartesian_2d(x0..x1, y0..y1).map_err(err)?;
    draw_xy_mesh(&mut chart, axes, fs)?;
    for line in lines {
        chart
            .draw_series(LineSeries::new(line.points.iter().copied(), line.color.stroke_width(2)))
            .map_err(err)?;
    }
    draw_marks(&mut chart, marks, (y0, y1), fs)?;
    Ok(frame_of(&chart, (x0, x1), false))
}

/// Dashed vertical lines over the whole y range, each labelled just right of its top.
fn draw_marks<DB: DrawingBackend, X>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, RangedCoordf64>>,
    marks: &[Mark],
    (y0, y1): (f64, f64),
    fs: u32,
) -> Result<(), String>
where
    X: Ranged<ValueType = f64>,
{
    let style =
        TextStyle::from((FontFamily::SansSerif, fs - 2).into_font()).pos(Pos::new(HPos::Left, VPos::Top));
    for mark in marks.iter().filter(|m| m.x.is_finite() && m.x > 0.0) {
        let line = vec![(mark.x, y0), (mark.x, y1)];
        chart.draw_series(DashedLineSeries::new(line, 6, 4, mark.color.stroke_width(2))).map_err(err)?;
        let at = chart.backend_coord(&(mark.x, y1));
        chart
            .plotting_area()
            .strip_coord_spec()
            .draw(&Text::new(mark.label.clone(), (at.0 + 4, at.1 + 2), style.clone().color(&mark.color)))
            .map_err(err)?;
    }
    Ok(())
}

/// The grid, ticks and axis titles every line chart shares, over any x coordinate (linear or
/// log).
fn draw_xy_mesh<DB: DrawingBackend, X>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, RangedCoordf64>>,
    axes: &Axes,
    fs: u32,
) -> Result<(), String>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(&axes.x)
        .y_desc(&axes.y)
        .x_labels(6)
        .y_labels(6)
        .label_style((FontFamily::SansSerif, fs - 1))
        .axis_desc_style((FontFamily::SansSerif, fs))
        .light_line_style(LIGHT_GRID)
        .bold_line_style(BOLD_GRID)
        .x_label_formatter(&|v| short(*v))
        .y_label_formatter(&|v| short(*v))
        .draw()
        .map_err(err)
}

/// `left` lines against the left y axis and `right` lines against a right y axis titled
/// `right_y`.
fn draw_lines_dual<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    fs: u32,
    title: &str,
    axes: &Axes,
    right_y: &str,
    left: &[Line],
    right: &[Line],
) -> Result<Frame, String> {
    let keys: Vec<Key> = line_keys(left).into_iter().chain(line_keys(right)).collect();
    let plot = header(root, title, &keys, fs)?;
    let all = || left.iter().chain(right);
    let (x0, x1) = span(all().flat_map(|l| l.points.iter().map(|p| p.0)), true);
    let (y0, y1) = span(left.iter().flat_map(|l| l.points.iter().map(|p| p.1)), true);
    let (z0, z1) = span(right.iter().flat_map(|l| l.points.iter().map(|p| p.1)), true);
    let mut chart = plot_builder(&plot, fs, true)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?
        .set_secondary_coord(x0..x1, z0..z1);
    draw_xy_mesh::<DB, RangedCoordf64>(&mut chart, axes, fs)?;
    chart
        .configure_secondary_axes()
        .y_desc(right_y)
        .y_labels(6)
        .label_style((FontFamily::SansSerif, fs - 1))
        .axis_desc_style((FontFamily::SansSerif, fs))
        .y_label_formatter(&|v| short(*v))
        .draw()
        .map_err(err)?;
    for line in left {
        chart
            .draw_series(LineSeries::new(line.points.iter().copied(), line.color.stroke_width(2)))
            .map_err(err)?;
    }
    for line in right {
        chart
            .draw_secondary_series(LineSeries::new(line.points.iter().copied(), line.color.stroke_width(2)))
            .map_err(err)?;
    }
    Ok(frame_of::<DB, RangedCoordf64, RangedCoordf64>(&chart, (x0, x1), false))
}

/// Grouped bars; `series` names and colours the bars of every group (legend above the plot).
fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    fs: u32,
    title: &str,
    axes: &Axes,
    series: &[(String, RGBColor)],
    groups: &[BarGroup],
    y_max: f64,
) -> Result<Frame, String> {
    let keys: Vec<Key> =
        series.iter().map(|(label, color)| Key { label, color: *color, swatch: Swatch::Bar }).collect();
    let plot = header(root, title, &keys, fs)?;
    let n = groups.len().max(1);
    let labels: Vec<String> = groups.iter().map(|g| g.label.clone()).collect();
    let mut chart =
        plot_builder(&plot, fs, false).build_cartesian_2d(0f64..n as f64, 0f64..y_max).map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc(&axes.x)
        .y_desc(&axes.y)
        .x_labels(n.min(16) * 2 + 1)
        .label_style((FontFamily::SansSerif, fs - 1))
        .axis_desc_style((FontFamily::SansSerif, fs))
        .light_line_style(LIGHT_GRID)
        .bold_line_style(BOLD_GRID)
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
        .map_err(err)?;
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
        chart.draw_series(bars).map_err(err)?;
    }
    Ok(frame_of(&chart, (0.0, n as f64), false))
}

/// Tick text: few digits, no exponent for everyday magnitudes, no trailing zeros (`0.2`, not
/// `0.200`).
fn short(v: f64) -> String {
    let a = v.abs();
    let text = if a == 0.0 {
        return "0".to_string();
    } else if a >= 10_000.0 {
        return format!("{:.0}k", v / 1000.0);
    } else if a >= 100.0 {
        return format!("{v:.0}");
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else if a >= 0.001 {
        format!("{v:.3}")
    } else {
        format!("{v:.1e}")
    };
    if text.contains('e') { text } else { text.trim_end_matches('0').trim_end_matches('.').to_string() }
}

#[cfg(test)]
pub(crate) mod tests {
    use plotters_svg::SVGBackend;

    use super::*;
    use crate::charts::{PALETTE, Units};

    /// `chart` drawn as SVG, `width` × `0.6 width` pixels.
    pub(crate) fn svg(chart: &Chart, width: u32) -> String {
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, (width, width * 3 / 5)).into_drawing_area();
            draw(&root, font_size(width), chart).expect("drawn");
        }
        out
    }

    /// The texts of an SVG's `<text>` elements.
    pub(crate) fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| Some(t.split_once('>')?.1.split_once("</text>")?.0.trim().to_string()))
            .collect()
    }

    /// The value of attribute `name` in one SVG tag.
    fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
        tag.split_once(&format!(" {name}=\""))?.1.split_once('"').map(|(v, _)| v)
    }

    /// `(stroke colour, number of points)` of each polyline of an SVG (grid lines included).
    fn polylines(svg: &str) -> Vec<(String, usize)> {
        svg.split("<polyline")
            .skip(1)
            .filter_map(|tag| {
                let tag = tag.split_once("/>")?.0;
                let points = attribute(tag, "points")?.split_whitespace().count();
                Some((attribute(tag, "stroke")?.to_string(), points))
            })
            .collect()
    }

    /// The series an SVG plots: the polylines of more than two points in a series colour (grid
    /// lines are grey, legend swatches have two points).
    pub(crate) fn plotted_lines(svg: &str) -> Vec<(String, usize)> {
        let series: Vec<String> = PALETTE.iter().map(|c| hex(*c)).collect();
        polylines(svg).into_iter().filter(|(color, points)| *points > 2 && series.contains(color)).collect()
    }

    /// The legend's line swatches: two-point polylines in a series colour.
    fn line_swatches(svg: &str) -> Vec<String> {
        let series: Vec<String> = PALETTE.iter().map(|c| hex(*c)).collect();
        polylines(svg)
            .into_iter()
            .filter(|(c, points)| *points == 2 && series.contains(c))
            .map(|(c, _)| c)
            .collect()
    }

    /// Filled rectangles of `color`, as `#RRGGBB`.
    pub(crate) fn filled_rects(svg: &str, color: &str) -> usize {
        svg.split("<rect").skip(1).filter(|tag| attribute(tag, "fill") == Some(color)).count()
    }

    pub(crate) fn hex(color: RGBColor) -> String {
        format!("#{:02X}{:02X}{:02X}", color.0, color.1, color.2)
    }

    fn axes(x: &str, y: &str) -> Axes {
        Axes { x: x.into(), y: y.into() }
    }

    #[test]
    fn a_line_chart_has_its_title_axis_titles_legend_and_one_polyline_per_series() {
        let line = |label: &str, color, n: usize| Line {
            label: label.into(),
            color,
            points: (0..n).map(|i| (i as f64, (i * i) as f64)).collect(),
        };
        let chart = Chart {
            title: "Latency: CDF".into(),
            plot: Plot::Lines {
                axes: axes("latency (ms)", "fraction of requests"),
                lines: vec![line("A #1", PALETTE[0], 101), line("B #2", PALETTE[1], 50)],
                y_range: Some((0.0, 1.0)),
                x_log: false,
                marks: Vec::new(),
            },
            units: Units::default(),
        };
        let drawn = svg(&chart, 480);
        let texts = texts(&drawn);
        for expected in ["Latency: CDF", "latency (ms)", "fraction of requests", "A #1", "B #2"] {
            assert!(texts.iter().any(|t| t == expected), "{expected} in {texts:?}");
        }
        assert_eq!(plotted_lines(&drawn), [(hex(PALETTE[0]), 101), (hex(PALETTE[1]), 50)]);
        // Unlabelled lines have no legend.
        let chart = Chart {
            title: "t".into(),
            plot: Plot::Lines {
                axes: axes("x", "y"),
                lines: vec![line("", PALETTE[2], 3)],
                y_range: None,
                x_log: false,
                marks: Vec::new(),
            },
            units: Units::default(),
        };
        assert_eq!(line_swatches(&drawn), [hex(PALETTE[0]), hex(PALETTE[1])]);
        let drawn = svg(&chart, 300);
        assert_eq!(plotted_lines(&drawn).len(), 1);
        assert!(line_swatches(&drawn).is_empty(), "no legend: {drawn}");
    }

    #[test]
    fn a_dual_axis_chart_titles_both_y_axes() {
        let chart = Chart {
            title: "Throughput".into(),
            plot: Plot::DualLines {
                axes: axes("time (s)", "left per second"),
                right_y: "right per second".into(),
                left: vec![Line {
                    label: "left".into(),
                    color: PALETTE[0],
                    points: vec![(0.0, 1.0), (1.0, 5.0), (2.0, 3.0)],
                }],
                right: vec![Line {
                    label: "right".into(),
                    color: PALETTE[1],
                    points: vec![(0.0, 100.0), (1.0, 90.0), (2.0, 80.0)],
                }],
            },
            units: Units::default(),
        };
        let drawn = svg(&chart, 640);
        let texts = texts(&drawn);
        for expected in ["time (s)", "left per second", "right per second", "left", "right"] {
            assert!(texts.iter().any(|t| t == expected), "{expected} in {texts:?}");
        }
        assert_eq!(plotted_lines(&drawn).len(), 2);
    }

    #[test]
    fn grouped_bars_draw_one_bar_per_series_and_group() {
        let chart = Chart {
            title: "Utilisation".into(),
            plot: Plot::Bars {
                axes: axes("replica", "%"),
                series: vec![("busy %".into(), PALETTE[0]), ("MFU %".into(), PALETTE[1])],
                groups: (0..3)
                    .map(|i| BarGroup { label: format!("r{i}"), values: vec![50.0, 150.0] })
                    .collect(),
                y_max: 100.0,
            },
            units: Units::default(),
        };
        let drawn = svg(&chart, 480);
        // One bar per group, plus the legend's swatch.
        assert_eq!(filled_rects(&drawn, &hex(PALETTE[0])), 3 + 1);
        assert_eq!(filled_rects(&drawn, &hex(PALETTE[1])), 3 + 1);
        let texts = texts(&drawn);
        for expected in ["Utilisation", "replica", "%", "busy %", "MFU %", "r0", "r1", "r2"] {
            assert!(texts.iter().any(|t| t == expected), "{expected} in {texts:?}");
        }
    }

    #[test]
    fn an_empty_chart_shows_its_note_wrapped_and_no_axes() {
        let note = "No data: no request completed in this run, so there is nothing to plot here at all.";
        let chart =
            Chart { title: "Empty".into(), plot: Plot::Empty { note: note.into() }, units: Units::default() };
        let drawn = svg(&chart, 300);
        let texts = texts(&drawn);
        assert_eq!(texts[0], "Empty");
        assert!(texts.len() > 2, "the note is wrapped onto several lines: {texts:?}");
        assert_eq!(texts[1..].join(" "), note);
        assert!(plotted_lines(&drawn).is_empty() && !drawn.contains("<line"), "no axes: {drawn}");
    }

    #[test]
    fn ticks_are_short() {
        assert_eq!(
            [0.0, 12_345.0, 123.4, 12.34, 1.234, 0.1234].map(short),
            ["0", "12k", "123", "12.3", "1.23", "0.123"]
        );
        // CDF ticks read 0.2, 0.4, ... (not 0.200).
        assert_eq!([0.2, 0.4, 1.0, 2.5, 10.0].map(short), ["0.2", "0.4", "1", "2.5", "10"]);
        assert_eq!(span(std::iter::empty(), true), (0.0, 1.0));
        assert_eq!(span([2.0, 2.0].into_iter(), false), (2.0, 3.05));
    }
}
