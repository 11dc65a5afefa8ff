//! Least-squares fitting of roofline curves in log space (relative error), by Nelder–Mead.
//!
//! Nelder–Mead is a few dozen lines, needs no derivatives and is deterministic; the problems
//! are tiny (two to five coefficients, a few thousand rows), so a general optimisation crate
//! would add far more build time than it saves.

use llmsim_engine::exec::Curve;

/// Which coefficients of a [`Curve`] a fit frees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// Memory efficiency, overhead, per-row-element latency and how sharply the latency of one
    /// row gives way to the transfer (element-wise kernels, with an overlapped overhead).
    Memory,
    /// Memory efficiency and an additive overhead (α-β collectives).
    AlphaBeta,
    /// Compute and memory efficiency, overhead and sharpness (prefill attention).
    Roofline,
    /// [`Form::Roofline`] plus a latency per step of the reduction dimension (GEMMs).
    Gemm,
    /// Memory efficiency, overhead, per-sequence cost and occupancy ramp (decode attention).
    Decode,
}

impl Form {
    fn encode(self, c: &Curve) -> Vec<f64> {
        let ln = |x: f64| x.max(1e-9).ln();
        // Efficiencies live in (0, 1): search them in logit space, so the bound is smooth. (A
        // hard cap at 1 left a flat plateau on which the simplex collapsed far from the optimum.)
        let logit = |e: f64| {
            let e = e.clamp(1e-6, 1.0 - 1e-6);
            (e / (1.0 - e)).ln()
        };
        match self {
            Form::Memory => vec![
                logit(c.memory_eff),
                ln(c.overhead_us),
                ln(c.sharpness - 1.0),
                ln(c.per_item_us.max(1e-6)),
            ],
            Form::AlphaBeta => vec![logit(c.memory_eff), ln(c.overhead_us)],
            Form::Roofline => {
                vec![logit(c.compute_eff), logit(c.memory_eff), ln(c.overhead_us), ln(c.sharpness - 1.0)]
            }
            Form::Gemm => vec![
                logit(c.compute_eff),
                logit(c.memory_eff),
                ln(c.overhead_us),
                ln(c.sharpness - 1.0),
                ln(c.per_item_us.max(1e-7)),
            ],
            Form::Decode => vec![logit(c.memory_eff), ln(c.overhead_us), ln(c.per_item_us), ln(c.ramp_units)],
        }
    }

    fn decode(self, x: &[f64], base: &Curve) -> Curve {
        // Efficiencies above 1 would beat the datasheet.
        let eff = |v: f64| 1.0 / (1.0 + (-v).exp());
        match self {
            Form::Memory => Curve {
                memory_eff: eff(x[0]),
                overhead_us: x[1].exp(),
                sharpness: 1.0 + x[2].exp().min(30.0),
                per_item_us: x[3].exp(),
                overlapped_overhead: true,
                ..*base
            },
            Form::AlphaBeta => Curve { memory_eff: eff(x[0]), overhead_us: x[1].exp(), ..*base },
            Form::Roofline => Curve {
                compute_eff: eff(x[0]),
                memory_eff: eff(x[1]),
                overhead_us: x[2].exp(),
                sharpness: 1.0 + x[3].exp().min(30.0),
                ..*base
            },
            Form::Gemm => Curve {
                compute_eff: eff(x[0]),
                memory_eff: eff(x[1]),
                overhead_us: x[2].exp(),
                sharpness: 1.0 + x[3].exp().min(30.0),
                per_item_us: x[4].exp(),
                ..*base
            },
            Form::Decode => Curve {
                memory_eff: eff(x[0]),
                overhead_us: x[1].exp(),
                per_item_us: x[2].exp(),
                ramp_units: x[3].exp(),
                ..*base
            },
        }
    }
}

/// A fitted curve with its in-sample error.
#[derive(Clone, Copy, Debug)]
pub struct Fitted {
    /// The coefficients.
    pub curve: Curve,
    /// Rows fitted.
    pub rows: usize,
    /// Mean absolute percentage error over those rows, %.
    pub mape_pct: f64,
    /// The minimised (weighted mean squared log-ratio) loss.
    pub loss: f64,
}

/// Fits the `form` coefficients of `start` so `predict(curve, sample)` matches `measured` in
/// relative terms, over `samples`.
pub fn fit<S>(
    form: Form,
    start: Curve,
    samples: &[S],
    predict: impl Fn(&Curve, &S) -> f64,
    measured: impl Fn(&S) -> f64,
) -> Fitted {
    fit_weighted(form, start, samples, predict, measured, |_| 1.0)
}

/// [`fit`] with a weight per sample in the squared-log loss (the reported MAPE is unweighted).
pub fn fit_weighted<S>(
    form: Form,
    start: Curve,
    samples: &[S],
    predict: impl Fn(&Curve, &S) -> f64,
    measured: impl Fn(&S) -> f64,
    weight: impl Fn(&S) -> f64,
) -> Fitted {
    let weights: Vec<f64> = samples.iter().map(&weight).collect();
    let total: f64 = weights.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    let loss = |x: &[f64]| {
        let c = form.decode(x, &start);
        let mut sum = 0.0;
        for (s, w) in samples.iter().zip(&weights) {
            let r = (predict(&c, s) / measured(s)).ln();
            sum += w * r * r;
        }
        if sum.is_finite() { sum / total } else { f64::MAX }
    };
    let mut x = form.encode(&start);
    // Restarting from the best point with a fresh simplex escapes early collapse.
    for _ in 0..3 {
        x = nelder_mead(&loss, &x, 0.5, 400);
    }
    let curve = form.decode(&x, &start);
    Fitted {
        curve,
        rows: samples.len(),
        mape_pct: mape(samples.iter().map(|s| (predict(&curve, s), measured(s)))),
        loss: loss(&x),
    }
}

/// Fits a GEMM curve at each row tile of [`GEMM_TILES`] and keeps the one `score` (lower is
/// better) prefers: the tile is discrete, so it is searched rather than optimised.
pub fn fit_gemm_tiles<S>(
    start: Curve,
    samples: &[S],
    predict: impl Fn(&Curve, &S) -> f64,
    measured: impl Fn(&S) -> f64,
    weight: impl Fn(&S) -> f64,
    score: impl Fn(&Fitted) -> f64,
) -> Fitted {
    GEMM_TILES
        .iter()
        .map(|&m_tile| {
            let f =
                fit_weighted(Form::Gemm, Curve { m_tile, ..start }, samples, &predict, &measured, &weight);
            (score(&f), f)
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .expect("at least one tile")
        .1
}

/// Row tiles a GEMM fit tries (0 = no rounding).
pub const GEMM_TILES: [f64; 5] = [0.0, 32.0, 64.0, 128.0, 256.0];

/// Mean absolute percentage error of `(predicted, measured)` pairs, %.
pub fn mape(pairs: impl Iterator<Item = (f64, f64)>) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for (p, m) in pairs {
        sum += ((p - m) / m).abs();
        n += 1;
    }
    if n == 0 { 0.0 } else { 100.0 * sum / n as f64 }
}

/// Minimises `f` from `x0` (simplex edges `step`) for at most `iterations` steps.
pub fn nelder_mead(f: &impl Fn(&[f64]) -> f64, x0: &[f64], step: f64, iterations: usize) -> Vec<f64> {
    let n = x0.len();
    let mut simplex: Vec<(Vec<f64>, f64)> = (0..=n)
        .map(|i| {
            let mut x = x0.to_vec();
            if i > 0 {
                x[i - 1] += step;
            }
            let fx = f(&x);
            (x, fx)
        })
        .collect();
    for _ in 0..iterations {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        if (simplex[n].1 - simplex[0].1).abs() <= 1e-12 * (1.0 + simplex[0].1.abs()) {
            break;
        }
        let centroid: Vec<f64> =
            (0..n).map(|j| simplex[..n].iter().map(|(x, _)| x[j]).sum::<f64>() / n as f64).collect();
        let toward = |t: f64| -> Vec<f64> {
            centroid.iter().zip(&simplex[n].0).map(|(c, w)| c + t * (w - c)).collect()
        };
        let reflected = toward(-1.0);
        let fr = f(&reflected);
        if fr < simplex[0].1 {
            let expanded = toward(-2.0);
            let fe = f(&expanded);
            simplex[n] = if fe < fr { (expanded, fe) } else { (reflected, fr) };
        } else if fr < simplex[n - 1].1 {
            simplex[n] = (reflected, fr);
        } else {
            let contracted = if fr < simplex[n].1 { toward(-0.5) } else { toward(0.5) };
            let fc = f(&contracted);
            if fc < fr.min(simplex[n].1) {
                simplex[n] = (contracted, fc);
            } else {
                let best = simplex[0].0.clone();
                for (x, fx) in simplex.iter_mut().skip(1) {
                    for (xi, bi) in x.iter_mut().zip(&best) {
                        *xi = bi + 0.5 * (*xi - bi);
                    }
                    *fx = f(x);
                }
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    simplex.swap_remove(0).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nelder_mead_finds_a_quadratic_minimum() {
        let f = |x: &[f64]| (x[0] - 3.0).powi(2) + 2.0 * (x[1] + 1.0).powi(2);
        let x = nelder_mead(&f, &[0.0, 0.0], 1.0, 500);
        assert!((x[0] - 3.0).abs() < 1e-4 && (x[1] + 1.0).abs() < 1e-4, "{x:?}");
    }

    #[test]
    fn fit_recovers_the_coefficients_that_made_the_data() {
        let truth = Curve::memory(0.4, 2.5);
        let samples: Vec<f64> = (0..60).map(|i| 1e3 * 1.25f64.powi(i)).collect();
        let time = |c: &Curve, bytes: &f64| c.overhead_us + bytes / (3.35e12 * c.memory_eff) * 1e6;
        let fitted = fit(Form::AlphaBeta, Curve::memory(0.8, 10.0), &samples, time, |b| time(&truth, b));
        assert!(
            (fitted.curve.memory_eff - 0.4).abs() < 1e-3 && (fitted.curve.overhead_us - 2.5).abs() < 1e-2,
            "{fitted:?}"
        );
        assert!(fitted.mape_pct < 0.1);
    }
}
