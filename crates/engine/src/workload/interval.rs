//! Interval generators: the gaps between synthetic arrivals.

use std::sync::Arc;

use rand_distr::Distribution;

use crate::config::{ConfigError, FlagDef, Params};
use crate::rng::{StreamRng, unit_f64};

/// Draws the gap (seconds) before the next arrival.
pub trait IntervalGenerator: Send {
    /// The next gap in seconds (≥ 0).
    fn next_interval(&mut self, rng: &mut StreamRng) -> f64;
}

/// A validated interval generator.
#[derive(Clone)]
pub struct IntervalPlan {
    /// Builds the generator.
    pub build: Arc<dyn Fn() -> Box<dyn IntervalGenerator> + Send + Sync>,
    /// Component seed mixed into the intervals stream.
    pub seed: u64,
}

/// A registered interval generator.
pub struct IntervalEntry {
    /// Its `--interval_generator_config_type` name.
    pub name: &'static str,
    /// What it draws, in one sentence.
    pub summary: &'static str,
    /// Its own flags.
    pub flags: &'static [FlagDef],
    /// Reads its flags; `None` after recording an error.
    pub parse: fn(&mut Params) -> Option<IntervalPlan>,
}

/// Every interval generator, by name.
pub static INTERVAL_GENERATORS: &[IntervalEntry] = &[
    IntervalEntry { name: "poisson", summary: "Exponential gaps at a mean rate of qps (capped at 3/qps, as in Vidur).", flags: POISSON_FLAGS, parse: parse_poisson },
    IntervalEntry { name: "gamma", summary: "Gamma-distributed gaps at a mean rate of qps with coefficient of variation cv (burstier when cv > 1).", flags: GAMMA_FLAGS, parse: parse_gamma },
    IntervalEntry { name: "static", summary: "Every request arrives at t = 0.", flags: STATIC_FLAGS, parse: parse_static },
    IntervalEntry { name: "uniform", summary: "A constant gap of 1/qps.", flags: UNIFORM_FLAGS, parse: parse_uniform },
    IntervalEntry { name: "trace", summary: "Gaps between the arrival times of a trace file, cycling.", flags: TRACE_FLAGS, parse: parse_trace },
];

const POISSON_FLAGS: &[FlagDef] = &[
    FlagDef::int("poisson_request_interval_generator_config_seed", "42", "Seed mixed into the intervals stream."),
    FlagDef::float("poisson_request_interval_generator_config_qps", "0.5", "Mean arrival rate, requests per second."),
];
const GAMMA_FLAGS: &[FlagDef] = &[
    FlagDef::int("gamma_request_interval_generator_config_seed", "42", "Seed mixed into the intervals stream."),
    FlagDef::float("gamma_request_interval_generator_config_qps", "0.2", "Mean arrival rate, requests per second."),
    FlagDef::float("gamma_request_interval_generator_config_cv", "0.5", "Coefficient of variation of the gaps."),
];
const STATIC_FLAGS: &[FlagDef] = &[FlagDef::int("static_request_interval_generator_config_seed", "42", "Seed mixed into the intervals stream (unused).")];
const UNIFORM_FLAGS: &[FlagDef] = &[
    FlagDef::int("uniform_request_interval_generator_config_seed", "42", "Seed mixed into the intervals stream (unused)."),
    FlagDef::float("uniform_request_interval_generator_config_qps", "0.2", "Arrival rate, requests per second."),
];
const TRACE_FLAGS: &[FlagDef] = &[
    FlagDef::int("trace_request_interval_generator_config_seed", "42", "Seed mixed into the intervals stream (unused)."),
    FlagDef::path("trace_request_interval_generator_config_trace_file", "data/processed_traces/AzureFunctionsInvocationTraceForTwoWeeksJan2021Processed.csv", "Trace whose arrival times give the gaps (any format with arrival times)."),
    FlagDef::opt_float("trace_request_interval_generator_config_start_time", "none", "Use arrivals at or after this many seconds from the trace's start."),
    FlagDef::opt_float("trace_request_interval_generator_config_end_time", "none", "Use arrivals before this many seconds from the trace's start."),
    FlagDef::float("trace_request_interval_generator_config_time_scale_factor", "1", "Multiply gaps by this (< 1 speeds the trace up)."),
];

fn parse_poisson(p: &mut Params) -> Option<IntervalPlan> {
    let seed = p.int("poisson_request_interval_generator_config_seed") as u64;
    let qps = p.positive_float("poisson_request_interval_generator_config_qps");
    Some(IntervalPlan { build: Arc::new(move || Box::new(Poisson { qps })), seed })
}

struct Poisson {
    qps: f64,
}

impl IntervalGenerator for Poisson {
    fn next_interval(&mut self, rng: &mut StreamRng) -> f64 {
        let gap = -libm::log(1.0 - unit_f64(rng)) / self.qps;
        gap.min(3.0 / self.qps)
    }
}

fn parse_gamma(p: &mut Params) -> Option<IntervalPlan> {
    let seed = p.int("gamma_request_interval_generator_config_seed") as u64;
    let qps = p.positive_float("gamma_request_interval_generator_config_qps");
    let cv = p.positive_float("gamma_request_interval_generator_config_cv");
    let shape = 1.0 / (cv * cv);
    let scale = 1.0 / (qps * shape);
    if rand_distr::Gamma::new(shape, scale).is_err() {
        p.error(ConfigError::new("gamma_request_interval_generator_config_cv", format!("cv = {cv} gives an invalid gamma shape")));
        return None;
    }
    Some(IntervalPlan { build: Arc::new(move || Box::new(Gamma { dist: rand_distr::Gamma::new(shape, scale).expect("validated") })), seed })
}

struct Gamma {
    dist: rand_distr::Gamma<f64>,
}

impl IntervalGenerator for Gamma {
    fn next_interval(&mut self, rng: &mut StreamRng) -> f64 {
        self.dist.sample(rng)
    }
}

fn parse_static(p: &mut Params) -> Option<IntervalPlan> {
    let seed = p.int("static_request_interval_generator_config_seed") as u64;
    Some(IntervalPlan { build: Arc::new(|| Box::new(Constant(0.0))), seed })
}

fn parse_uniform(p: &mut Params) -> Option<IntervalPlan> {
    let seed = p.int("uniform_request_interval_generator_config_seed") as u64;
    let qps = p.positive_float("uniform_request_interval_generator_config_qps");
    Some(IntervalPlan { build: Arc::new(move || Box::new(Constant(1.0 / qps))), seed })
}

struct Constant(f64);

impl IntervalGenerator for Constant {
    fn next_interval(&mut self, _: &mut StreamRng) -> f64 {
        self.0
    }
}

fn parse_trace(p: &mut Params) -> Option<IntervalPlan> {
    let seed = p.int("trace_request_interval_generator_config_seed") as u64;
    let start = p.opt_float("trace_request_interval_generator_config_start_time").unwrap_or(0.0);
    let end = p.opt_float("trace_request_interval_generator_config_end_time").unwrap_or(f64::INFINITY);
    let scale = p.positive_float("trace_request_interval_generator_config_time_scale_factor");
    let flag = "trace_request_interval_generator_config_trace_file";
    let trace = p.trace(flag)?;
    if !trace.has_arrivals() {
        p.error(ConfigError::new(flag, format!("{} has no arrival times", trace.name)).with_hint("use a trace with an arrived_at, timestamp or TIMESTAMP column"));
        return None;
    }
    let mut arrivals: Vec<f64> = trace.rows.iter().filter_map(|r| r.arrived_at).filter(|t| *t >= start && *t < end).collect();
    arrivals.sort_by(f64::total_cmp);
    if arrivals.len() < 2 {
        p.error(ConfigError::new(flag, format!("fewer than two arrivals of {} fall in the start/end window", trace.name)));
        return None;
    }
    let gaps: Arc<[f64]> = arrivals.windows(2).map(|w| (w[1] - w[0]) * scale).collect();
    Some(IntervalPlan { build: Arc::new(move || Box::new(TraceGaps { gaps: gaps.clone(), next: 0 })), seed })
}

struct TraceGaps {
    gaps: Arc<[f64]>,
    next: usize,
}

impl IntervalGenerator for TraceGaps {
    fn next_interval(&mut self, _: &mut StreamRng) -> f64 {
        let gap = self.gaps[self.next];
        self.next = (self.next + 1) % self.gaps.len();
        gap
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeedTree;

    #[test]
    fn poisson_mean_is_close_to_one_over_qps_and_capped() {
        let mut rng = SeedTree::new(3).stream("t", 0);
        let mut g = Poisson { qps: 4.0 };
        let gaps: Vec<f64> = (0..20000).map(|_| g.next_interval(&mut rng)).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        // Capping at 3/qps lowers the mean by e^-3 / qps.
        assert!((mean - (1.0 - libm::exp(-3.0)) / 4.0).abs() < 0.01, "{mean}");
        assert!(gaps.iter().all(|g| *g <= 0.75));
    }

    #[test]
    fn gamma_mean_and_cv() {
        let mut rng = SeedTree::new(3).stream("t", 0);
        let mut g = Gamma { dist: rand_distr::Gamma::new(0.25, 1.0 / (2.0 * 0.25)).unwrap() };
        let gaps: Vec<f64> = (0..40000).map(|_| g.next_interval(&mut rng)).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / gaps.len() as f64;
        assert!((mean - 0.5).abs() < 0.03, "{mean}");
        assert!((libm::sqrt(var) / mean - 2.0).abs() < 0.15);
    }
}
