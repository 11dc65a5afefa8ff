//! Charts. A [`Chart`] is what one chart shows: its title, its units, and either a plot
//! (lines, lines over two y axes, grouped bars) or a note saying why there is nothing to plot.
//! [`run_charts`] makes the page's charts from a run's data (or two runs' compared); [`draw`]
//! draws any chart with plotters on any `DrawingBackend` (title, a legend between the title
//! and the plot, never over the data, axis titles with units, a log-scale x axis when values
//! span decades) and returns where the data landed ([`Frame`]), which [`readout`] turns back
//! into the values under the pointer; `canvas` (wasm only) puts it on a `<canvas>` at the
//! screen's pixel density. Natively, tests draw charts as SVG and read what they contain.

pub mod draw;
pub mod readout;
pub mod run_charts;

#[cfg(target_arch = "wasm32")]
pub mod canvas;

pub use plotters::style::RGBColor;

/// Colours of the series, in order (A/B: first A, then B).
pub const PALETTE: [RGBColor; 4] =
    [RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44), RGBColor(214, 39, 40)];

/// What one chart shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// The title above the plot (also the canvas's accessible name).
    pub title: String,
    /// The plot, or why there is none.
    pub plot: Plot,
    /// The units of its values, for read-outs.
    pub units: Units,
}

/// The units a chart's values are read out in (`ms`, `s`, `tok/s`, `%`, or empty for a count).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Units {
    /// Of x.
    pub x: &'static str,
    /// Of y (the left axis).
    pub y: &'static str,
    /// Of the right axis' y.
    pub y2: &'static str,
    /// Whether the lines are CDFs (y is the fraction of samples at or below x).
    pub cdf: bool,
}

/// Where a drawn chart's data landed: the plot area in the drawing's pixels and the data
/// ranges it spans, so that a pointer position can be read back as values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Frame {
    /// Left and right pixel of the plot area.
    pub x_px: (i32, i32),
    /// Top and bottom pixel.
    pub y_px: (i32, i32),
    /// The x range.
    pub x: (f64, f64),
    /// Whether x is on a log scale.
    pub x_log: bool,
}

impl Frame {
    /// The x value at pixel column `px` (clamped to the plot area).
    pub fn x_at(&self, px: f64) -> f64 {
        let (l, r) = (f64::from(self.x_px.0), f64::from(self.x_px.1));
        let t = ((px - l) / (r - l).max(1.0)).clamp(0.0, 1.0);
        let (x0, x1) = self.x;
        if self.x_log && x0 > 0.0 && x1 > 0.0 {
            (x0.ln() + t * (x1.ln() - x0.ln())).exp()
        } else {
            x0 + t * (x1 - x0)
        }
    }

    /// Whether pixel `(px, py)` is inside the plot area.
    pub fn contains(&self, px: f64, py: f64) -> bool {
        let inside = |v: f64, (a, b): (i32, i32)| f64::from(a.min(b)) <= v && v <= f64::from(a.max(b));
        inside(px, self.x_px) && inside(py, self.y_px)
    }
}

/// A chart's plot.
#[derive(Clone, Debug, PartialEq)]
pub enum Plot {
    /// Nothing to plot; the note says why (e.g. no request completed), instead of empty axes.
    Empty {
        /// Why.
        note: String,
    },
    /// Lines over one y axis, with a legend when they have labels.
    Lines {
        /// Axis titles.
        axes: Axes,
        /// The lines.
        lines: Vec<Line>,
        /// A fixed y range (e.g. 0..1 for CDFs); `None`: the data's, from zero.
        y_range: Option<(f64, f64)>,
        /// A log-scale x axis (points at x ≤ 0 are left out).
        x_log: bool,
        /// Vertical lines at x values that matter (latency objectives).
        marks: Vec<Mark>,
    },
    /// Lines against a left y axis and lines against a right one with its own title (two
    /// quantities of different scale over the same x).
    DualLines {
        /// The x and the left y axis titles.
        axes: Axes,
        /// The right y axis title.
        right_y: String,
        /// Lines against the left axis.
        left: Vec<Line>,
        /// Lines against the right axis.
        right: Vec<Line>,
    },
    /// Grouped bars (e.g. one group per replica), one bar per series in each group.
    Bars {
        /// Axis titles.
        axes: Axes,
        /// Each series' legend text and colour.
        series: Vec<(String, RGBColor)>,
        /// The groups.
        groups: Vec<BarGroup>,
        /// The top of the y axis; taller bars are cut there.
        y_max: f64,
    },
}

impl Chart {
    /// Why the chart has nothing to plot, if it has not.
    pub fn note(&self) -> Option<&str> {
        match &self.plot {
            Plot::Empty { note } => Some(note),
            _ => None,
        }
    }
}

/// Axis titles with units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Axes {
    /// X axis title.
    pub x: String,
    /// Y axis title.
    pub y: String,
}

/// One line.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// Legend text; empty: not in the legend.
    pub label: String,
    /// Colour.
    pub color: RGBColor,
    /// Points in data units.
    pub points: Vec<(f64, f64)>,
}

/// A dashed vertical line at `x`, labelled at its top (e.g. an SLO's bound on a CDF).
#[derive(Clone, Debug, PartialEq)]
pub struct Mark {
    /// Where, in data units.
    pub x: f64,
    /// What it is.
    pub label: String,
    /// Colour.
    pub color: RGBColor,
}

/// One group of bars (e.g. one replica): its label and one value per series.
#[derive(Clone, Debug, PartialEq)]
pub struct BarGroup {
    /// Label under the group.
    pub label: String,
    /// One value per series.
    pub values: Vec<f64>,
}

/// Whether any line has a point to draw.
pub fn has_points(lines: &[Line]) -> bool {
    lines.iter().any(|l| l.points.iter().any(|(x, y)| x.is_finite() && y.is_finite()))
}
