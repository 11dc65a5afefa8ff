//! Piecewise-linear interpolation of measured tables in one and two keys; outside the measured
//! range the boundary *utilisation* is held: the roofline carries the growth, scaled by how far
//! the boundary measurement was from the roofline there.

use super::Provenance;

/// `points` stably sorted by `x` in `f64::total_cmp`'s order (as `sort_by` on `x` would leave
/// them), through the engine's one shared stable sort ([`crate::stats::stable_order`]).
fn by_x<P: Copy>(points: &[P], x: impl Fn(&P) -> f64) -> Vec<P> {
    let order = crate::stats::stable_order(points.iter().map(|p| crate::stats::total_order_key(x(p))));
    order.into_iter().map(|i| points[i as usize]).collect()
}

/// A measured curve `y(x)`, x strictly increasing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table1 {
    xs: Vec<f64>,
    ys: Vec<f64>,
}

impl Table1 {
    /// Builds from `(x, y)` points in any order; repeated x values are averaged.
    pub fn new(points: Vec<(f64, f64)>) -> Table1 {
        // Stable: repeated x values are averaged in their given order.
        let points: Vec<(f64, f64)> = by_x(&points, |p| p.0);
        let mut t = Table1::default();
        let mut i = 0;
        while i < points.len() {
            let x = points[i].0;
            let mut sum = 0.0;
            let mut n = 0.0;
            while i < points.len() && points[i].0 == x {
                sum += points[i].1;
                n += 1.0;
                i += 1;
            }
            t.xs.push(x);
            t.ys.push(sum / n);
        }
        t
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.xs.is_empty()
    }

    /// Smallest and largest x.
    pub fn range(&self) -> Option<(f64, f64)> {
        Some((*self.xs.first()?, *self.xs.last()?))
    }

    /// The value at `x`: measured on a point, interpolated between points, and outside the
    /// range the boundary value × `roofline(x) / roofline(boundary)`.
    pub fn eval(&self, x: f64, roofline: impl Fn(f64) -> f64) -> (f64, Provenance) {
        let n = self.xs.len();
        if n == 0 {
            return (roofline(x), Provenance::Roofline);
        }
        let i = self.xs.partition_point(|v| *v < x);
        if i < n && self.xs[i] == x {
            return (self.ys[i], Provenance::Measured);
        }
        if i == 0 || i == n {
            let b = if i == 0 { 0 } else { n - 1 };
            return (
                hold_utilisation(self.ys[b], roofline(self.xs[b]), roofline(x)),
                Provenance::Extrapolated,
            );
        }
        let (x0, x1, y0, y1) = (self.xs[i - 1], self.xs[i], self.ys[i - 1], self.ys[i]);
        (y0 + (y1 - y0) * (x - x0) / (x1 - x0), Provenance::Interpolated)
    }
}

fn hold_utilisation(measured_at_boundary: f64, roofline_at_boundary: f64, roofline_at_query: f64) -> f64 {
    if roofline_at_boundary > 0.0 {
        measured_at_boundary * roofline_at_query / roofline_at_boundary
    } else {
        measured_at_boundary
    }
}

/// A measured surface `z(x, y)`: one [`Table1`] along y per distinct x, so incomplete grids
/// still interpolate.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table2 {
    xs: Vec<f64>,
    rows: Vec<Table1>,
}

impl Table2 {
    /// Builds from `(x, y, z)` points in any order.
    pub fn new(points: Vec<(f64, f64, f64)>) -> Table2 {
        let points: Vec<(f64, f64, f64)> = by_x(&points, |p| p.0);
        let mut t = Table2::default();
        let mut i = 0;
        while i < points.len() {
            let x = points[i].0;
            let start = i;
            while i < points.len() && points[i].0 == x {
                i += 1;
            }
            t.xs.push(x);
            t.rows.push(Table1::new(points[start..i].iter().map(|p| (p.1, p.2)).collect()));
        }
        t
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.xs.is_empty()
    }

    /// The value at `(x, y)`, interpolating linearly in x between the rows' values at y; outside
    /// the x range, the boundary row's value × `roofline(x, y) / roofline(boundary, y)`.
    pub fn eval(&self, x: f64, y: f64, roofline: impl Fn(f64, f64) -> f64) -> (f64, Provenance) {
        let n = self.xs.len();
        if n == 0 {
            return (roofline(x, y), Provenance::Roofline);
        }
        let at_row = |j: usize| self.rows[j].eval(y, |yy| roofline(self.xs[j], yy));
        let i = self.xs.partition_point(|v| *v < x);
        if i < n && self.xs[i] == x {
            return at_row(i);
        }
        if i == 0 || i == n {
            let b = if i == 0 { 0 } else { n - 1 };
            let (z, _) = at_row(b);
            return (hold_utilisation(z, roofline(self.xs[b], y), roofline(x, y)), Provenance::Extrapolated);
        }
        let ((z0, p0), (z1, p1)) = (at_row(i - 1), at_row(i));
        let (x0, x1) = (self.xs[i - 1], self.xs[i]);
        let provenance = if p0 == Provenance::Extrapolated || p1 == Provenance::Extrapolated {
            Provenance::Extrapolated
        } else {
            Provenance::Interpolated
        };
        (z0 + (z1 - z0) * (x - x0) / (x1 - x0), provenance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_key_measures_interpolates_and_holds_utilisation_outside() {
        let t = Table1::new(vec![(4.0, 40.0), (1.0, 10.0), (2.0, 30.0), (2.0, 10.0)]);
        let roof = |x: f64| 5.0 * x;
        assert_eq!(t.eval(2.0, roof), (20.0, Provenance::Measured));
        assert_eq!(t.eval(3.0, roof), (30.0, Provenance::Interpolated));
        // At x=4 the table is 2× the roofline; at x=8 it stays 2×.
        assert_eq!(t.eval(8.0, roof), (80.0, Provenance::Extrapolated));
        assert_eq!(t.eval(0.5, roof), (5.0, Provenance::Extrapolated));
        assert_eq!(Table1::default().eval(3.0, roof), (15.0, Provenance::Roofline));
    }

    #[test]
    fn two_keys_interpolate_rows_of_different_lengths() {
        let t = Table2::new(vec![
            (1.0, 10.0, 1.0),
            (1.0, 20.0, 2.0),
            (3.0, 10.0, 3.0),
            (3.0, 20.0, 4.0),
            (3.0, 40.0, 8.0),
        ]);
        let roof = |x: f64, y: f64| x * y;
        assert_eq!(t.eval(1.0, 10.0, roof), (1.0, Provenance::Measured));
        assert_eq!(t.eval(2.0, 15.0, roof), (2.5, Provenance::Interpolated));
        // Row x=1 stops at y=20: y=40 extrapolates there (2 × 40/20 = 4), row 3 measures 8.
        assert_eq!(t.eval(2.0, 40.0, roof), (6.0, Provenance::Extrapolated));
        // Beyond x=3: hold row 3's utilisation (3 at roofline 30 → ×2 at roofline 60).
        assert_eq!(t.eval(6.0, 10.0, roof), (6.0, Provenance::Extrapolated));
    }
}
