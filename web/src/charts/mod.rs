//! Charts. A [`Chart`] is what one chart shows: its title and either a plot (lines, lines over
//! two y axes, grouped bars) or a note saying why there is nothing to plot. [`run_charts`] makes
//! the page's seven charts from a run's data; [`draw`] draws any chart with plotters on any
//! `DrawingBackend` (title, a legend between the title and the plot, never over the data, and
//! axis titles with units); `canvas` (wasm only) puts it on a `<canvas>` at the screen's pixel
//! density. Natively, tests draw charts as SVG and read what they contain.

pub mod draw;
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
