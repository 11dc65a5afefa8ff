//! Interval generators: the gaps between synthetic arrivals.

use std::sync::Arc;

use rand_distr::Distribution;

use crate::config::{ConfigError, FlagDef, InputFile, Params, fill_placeholders};
use crate::rng::{StreamRng, unit_f64};
use crate::time::{NANOS_PER_SEC, secs_to_nanos};
use crate::trace::{
    ArrivalClock, ArrivalTimes, TimePoint, TraceFormat, detect_format, format_instant, parse_time_point,
    read_arrival_times, seconds_to_ns,
};

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
    /// Seconds from t = 0 to the n-th arrival (the sum of n gaps): exact for deterministic gaps,
    /// the expectation for random ones. Validation compares it with the simulation horizon.
    pub span_s: Arc<dyn Fn(u64) -> f64 + Send + Sync>,
    /// The flag that sets the pace of arrivals (a rate or a time scale), named when they
    /// would pass the horizon.
    pub pace_flag: &'static str,
    /// Whether [`IntervalPlan::span_s`] is exact (deterministic gaps).
    pub exact_span: bool,
    /// The mean gap by which the arrival clock advances, in nanoseconds: deterministic gaps
    /// as the clock rounds them (0 when they all round to nothing); for random ones the
    /// least the clock can advance on average, their mean less the half nanosecond rounding
    /// to the nearest nanosecond may take from each gap (0 when nothing is left). Validation
    /// bounds the requests a duration holds with it.
    pub mean_gap_ns: f64,
    /// The coefficient of variation of random gaps (0 for deterministic ones): how far the
    /// count a duration holds may run above its mean (variance ≈ mean·cv², and runs of about
    /// cv² near-zero gaps when cv is large).
    pub gap_cv: f64,
    /// The flag that sets [`IntervalPlan::gap_cv`], named when bursts could bring more requests
    /// than a run simulates; `None` when the generator has no such flag.
    pub cv_flag: Option<&'static str>,
    /// Deterministic gaps repeat every this many arrivals (a trace's gaps cycle; constant gaps
    /// every 1): a duration holds at most this many more than its mean count.
    pub cycle_len: u64,
}

impl IntervalPlan {
    /// A plan whose every gap averages (or equals, if `exact`) `mean_gap_s`.
    fn with_mean_gap(
        build: Arc<dyn Fn() -> Box<dyn IntervalGenerator> + Send + Sync>,
        seed: u64,
        mean_gap_s: f64,
        pace_flag: &'static str,
        exact: bool,
    ) -> IntervalPlan {
        let mean_gap_ns =
            if exact { secs_to_nanos(mean_gap_s) as f64 } else { random_clock_gap_ns(mean_gap_s) };
        IntervalPlan {
            build,
            seed,
            span_s: Arc::new(move |n| n as f64 * mean_gap_s),
            pace_flag,
            exact_span: exact,
            mean_gap_ns,
            gap_cv: if exact { 0.0 } else { 1.0 },
            cv_flag: None,
            cycle_len: 1,
        }
    }

    /// The most requests a duration holding `mean_count` arrivals on average will see, but
    /// for a chance below about one in a billion: the mean plus six standard deviations of a
    /// renewal count (√(mean)·cv), plus 20·cv² for the runs of near-zero gaps very bursty
    /// gamma arrivals produce (about cv² of them before each long gap, geometrically
    /// distributed), plus one cycle of deterministic gaps.
    pub fn count_upper_bound(&self, mean_count: f64) -> f64 {
        self.count_upper_bound_at_cv(mean_count, self.gap_cv)
    }

    /// [`IntervalPlan::count_upper_bound`] as if the gaps' coefficient of variation were `cv`.
    pub fn count_upper_bound_at_cv(&self, mean_count: f64, cv: f64) -> f64 {
        // Gaps that round to nothing (an infinite mean count) bound nothing; spelled out so
        // that deterministic gaps (cv = 0) never compute 0 · ∞ = NaN.
        if !mean_count.is_finite() {
            return f64::INFINITY;
        }
        mean_count + 6.0 * cv * mean_count.sqrt() + 20.0 * cv * cv + self.cycle_len as f64
    }
}

/// The least mean gap (ns) by which the arrival clock advances for random gaps averaging
/// `mean_gap_s`: each gap is rounded to the nearest nanosecond, which takes at most half of one.
fn random_clock_gap_ns(mean_gap_s: f64) -> f64 {
    (mean_gap_s * NANOS_PER_SEC as f64 - 0.5).max(0.0)
}

/// A registered interval generator.
pub struct IntervalEntry {
    /// Its `--interval_generator_config_type` name.
    pub name: &'static str,
    /// What it draws, in one sentence; empty without the engine's `help-texts`
    /// feature ([`crate::config::help_text`]).
    pub summary: &'static str,
    /// Its own flags.
    pub flags: &'static [FlagDef],
    /// Reads its flags; `None` after recording an error.
    pub parse: fn(&mut Params) -> Option<IntervalPlan>,
}

/// Every interval generator, by name.
pub static INTERVAL_GENERATORS: &[IntervalEntry] = &[
    IntervalEntry {
        name: "poisson",
        summary: crate::config::help_text(
            "Exponential gaps at a mean rate of qps (capped at 3/qps, as in Vidur).",
        ),
        flags: POISSON_FLAGS,
        parse: parse_poisson,
    },
    IntervalEntry {
        name: "gamma",
        summary: crate::config::help_text(
            "Gamma-distributed gaps at a mean rate of qps with coefficient of variation cv (burstier when cv > 1).",
        ),
        flags: GAMMA_FLAGS,
        parse: parse_gamma,
    },
    IntervalEntry {
        name: "static",
        summary: crate::config::help_text("Every request arrives at t = 0."),
        flags: STATIC_FLAGS,
        parse: parse_static,
    },
    IntervalEntry {
        name: "uniform",
        summary: crate::config::help_text("A constant gap of 1/qps."),
        flags: UNIFORM_FLAGS,
        parse: parse_uniform,
    },
    IntervalEntry {
        name: "trace",
        summary: crate::config::help_text("Gaps between the arrival times of a trace file, cycling."),
        flags: TRACE_FLAGS,
        parse: parse_trace,
    },
];

const POISSON_FLAGS: &[FlagDef] = &[
    FlagDef::seed(
        "poisson_request_interval_generator_config_seed",
        "42",
        "Seed mixed into the intervals stream.",
    ),
    FlagDef::float(
        "poisson_request_interval_generator_config_qps",
        "0.5",
        "Mean arrival rate, requests per second.",
    ),
];
const GAMMA_FLAGS: &[FlagDef] = &[
    FlagDef::seed(
        "gamma_request_interval_generator_config_seed",
        "42",
        "Seed mixed into the intervals stream.",
    ),
    FlagDef::float(
        "gamma_request_interval_generator_config_qps",
        "0.2",
        "Mean arrival rate, requests per second.",
    ),
    FlagDef::float(
        "gamma_request_interval_generator_config_cv",
        "0.5",
        "Coefficient of variation of the gaps.",
    ),
];
const STATIC_FLAGS: &[FlagDef] = &[FlagDef::seed(
    "static_request_interval_generator_config_seed",
    "42",
    "Seed mixed into the intervals stream (unused).",
)];
const UNIFORM_FLAGS: &[FlagDef] = &[
    FlagDef::seed(
        "uniform_request_interval_generator_config_seed",
        "42",
        "Seed mixed into the intervals stream (unused).",
    ),
    FlagDef::float(
        "uniform_request_interval_generator_config_qps",
        "0.2",
        "Arrival rate, requests per second.",
    ),
];
const TRACE_FLAGS: &[FlagDef] = &[
    FlagDef::seed(
        "trace_request_interval_generator_config_seed",
        "42",
        "Seed mixed into the intervals stream (unused).",
    ),
    FlagDef::input(
        TRACE_FILE_FLAG,
        InputFile::ArrivalTimes,
        "data/processed_traces/AzureFunctionsInvocationTraceForTwoWeeksJan2021Processed.csv",
        "Trace whose arrival times give the gaps: a CSV with arrived_at (seconds or date-times, as Vidur's), an Azure CSV or a Mooncake JSONL.",
    ),
    FlagDef::string(
        START_FLAG,
        "none",
        "Use arrivals strictly after this instant: a date-time (Vidur's default 1970-01-04 12:00:00) or seconds on the trace's clock; none = from the first.",
    ),
    FlagDef::string(
        END_FLAG,
        "none",
        "Use arrivals strictly before this instant (read as the start time); none = to the last.",
    ),
    FlagDef::float(SCALE_FLAG, "1", "Multiply gaps by this (< 1 speeds the trace up)."),
];

const TRACE_FILE_FLAG: &str = "trace_request_interval_generator_config_trace_file";
const START_FLAG: &str = "trace_request_interval_generator_config_start_time";
const END_FLAG: &str = "trace_request_interval_generator_config_end_time";
const SCALE_FLAG: &str = "trace_request_interval_generator_config_time_scale_factor";

fn parse_poisson(p: &mut Params) -> Option<IntervalPlan> {
    let seed = p.int("poisson_request_interval_generator_config_seed") as u64;
    let flag = "poisson_request_interval_generator_config_qps";
    let qps = p.positive_float(flag);
    let plan = IntervalPlan::with_mean_gap(
        Arc::new(move || Box::new(Poisson { qps })),
        seed,
        1.0 / qps,
        flag,
        false,
    );
    // Gaps are cut at 3/qps (below), so they average (1 − e⁻³)/qps: about 5 % more requests
    // arrive within a duration than qps × duration.
    Some(IntervalPlan { mean_gap_ns: random_clock_gap_ns(POISSON_MEAN_GAP_FRACTION / qps), ..plan })
}

/// The mean of an exponential gap cut at three times its mean, as a fraction of that mean:
/// E[min(X, 3/λ)] = (1 − e⁻³)/λ.
const POISSON_MEAN_GAP_FRACTION: f64 = 1.0 - 0.049_787_068_367_863_944;

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
    // Blame the flag whose value takes the distribution out of range: cv sets the shape,
    // qps (with cv) the scale.
    if !(shape.is_finite() && shape > 0.0) {
        p.error(ConfigError::new(
            "gamma_request_interval_generator_config_cv",
            format!("cv = {} gives a gamma shape 1/cv² = {shape:e}, out of range", short(cv)),
        ));
        return None;
    }
    if !(scale.is_finite() && scale > 0.0) || rand_distr::Gamma::new(shape, scale).is_err() {
        p.error(ConfigError::new(
            "gamma_request_interval_generator_config_qps",
            format!(
                "qps = {} with cv = {cv} gives a gamma scale cv²/qps = {scale:e}, out of range",
                short(qps)
            ),
        ));
        return None;
    }
    let build: Arc<dyn Fn() -> Box<dyn IntervalGenerator> + Send + Sync> =
        Arc::new(move || Box::new(Gamma { dist: rand_distr::Gamma::new(shape, scale).expect("validated") }));
    let plan = IntervalPlan::with_mean_gap(
        build,
        seed,
        1.0 / qps,
        "gamma_request_interval_generator_config_qps",
        false,
    );
    Some(IntervalPlan { gap_cv: cv, cv_flag: Some("gamma_request_interval_generator_config_cv"), ..plan })
}

/// A number for messages: plain when ordinary, in exponent form when huge or tiny (1e308, not
/// 309 digits).
fn short(x: f64) -> String {
    if x == 0.0 || (1e-4..1e9).contains(&x.abs()) { format!("{x}") } else { format!("{x:e}") }
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
    Some(IntervalPlan::with_mean_gap(
        Arc::new(|| Box::new(Constant(0.0))),
        seed,
        0.0,
        "interval_generator_config_type",
        true,
    ))
}

fn parse_uniform(p: &mut Params) -> Option<IntervalPlan> {
    let seed = p.int("uniform_request_interval_generator_config_seed") as u64;
    let flag = "uniform_request_interval_generator_config_qps";
    let qps = p.positive_float(flag);
    Some(IntervalPlan::with_mean_gap(
        Arc::new(move || Box::new(Constant(1.0 / qps))),
        seed,
        1.0 / qps,
        flag,
        true,
    ))
}

struct Constant(f64);

impl IntervalGenerator for Constant {
    fn next_interval(&mut self, _: &mut StreamRng) -> f64 {
        self.0
    }
}

fn parse_trace(p: &mut Params) -> Option<IntervalPlan> {
    let seed = p.int("trace_request_interval_generator_config_seed") as u64;
    let start = time_bound(p, START_FLAG);
    let end = time_bound(p, END_FLAG);
    let scale = p.positive_float(SCALE_FLAG);
    let (arrivals, read_as_arrivals) = read_interval_trace(p)?;
    let (start, end) = (start?, end?);
    // A number of seconds counts on the trace's own clock: its values if it writes seconds,
    // from its earliest arrival if it writes date-times. A date-time is an instant on the
    // timeline both share (seconds in the trace count from 1970-01-01 00:00:00).
    let earliest = arrivals.instants_ns.iter().copied().min()?;
    let latest = arrivals.instants_ns.iter().copied().max()?;
    let to_ns = |bound: TimePoint| match (bound, arrivals.clock) {
        (TimePoint::DateTime(ns), _) => ns,
        (TimePoint::Seconds(secs), ArrivalClock::Seconds) => seconds_to_ns(secs),
        // Saturating: a bound of ~1e300 s saturates to i128::MAX and means "no bound".
        (TimePoint::Seconds(secs), ArrivalClock::DateTimes) => earliest.saturating_add(seconds_to_ns(secs)),
    };
    let (after, before) = (start.map(to_ns), end.map(to_ns));
    // Vidur keeps start_time < t < end_time.
    let mut kept: Vec<i128> = arrivals
        .instants_ns
        .iter()
        .copied()
        .filter(|t| after.is_none_or(|a| *t > a) && before.is_none_or(|b| *t < b))
        .collect();
    if !kept.is_sorted() {
        // (A trace parsed as a request trace has said so already.)
        if read_as_arrivals {
            let backwards: Vec<u64> = arrivals
                .instants_ns
                .windows(2)
                .zip(&arrivals.lines[1..])
                .filter(|(w, _)| w[1] < w[0])
                .map(|(_, line)| *line)
                .collect();
            p.warn(format!(
                "{}: rows arriving earlier than the row before them: {} (the first at row {}); the interval trace takes the gaps between sorted arrivals",
                arrivals.name,
                backwards.len(),
                backwards.first().copied().unwrap_or(0)
            ));
        }
        kept.sort_unstable();
    }
    if kept.len() < 2 {
        p.error(
            ConfigError::new(
                TRACE_FILE_FLAG,
                format!(
                    "{} of the {} arrivals of {} fall strictly between the start and end times; the gaps need at least two",
                    kept.len(),
                    arrivals.instants_ns.len(),
                    arrivals.name
                ),
            )
            .with_hint(format!(
                "its arrivals run from {} to {}: widen --{START_FLAG} / --{END_FLAG} (none = no bound)",
                describe_instant(earliest, arrivals.clock),
                describe_instant(latest, arrivals.clock)
            )),
        );
        return None;
    }
    const NANOS: i128 = 1_000_000_000;
    let gaps: Arc<[f64]> = if arrivals.clock == ArrivalClock::DateTimes && arrivals.column == "arrived_at" {
        // Vidur's interval trace: whole seconds (floored) since the first kept arrival.
        let first = kept[0];
        kept.windows(2)
            .map(|w| ((w[1] - first).div_euclid(NANOS) - (w[0] - first).div_euclid(NANOS)) as f64 * scale)
            .collect()
    } else {
        kept.windows(2).map(|w| (w[1] - w[0]) as f64 / 1e9 * scale).collect()
    };
    // More requests than gaps: the gaps repeat from the start (as in Vidur); say so, since a
    // replayed load pattern repeating every few seconds is easy to mistake for the trace's own.
    if let crate::config::FlagValue::Int(requests) =
        p.config().get("synthetic_request_generator_config_num_requests")
        && u64::try_from(requests).is_ok_and(|n| n > gaps.len() as u64)
    {
        p.warn(format!(
            "{}: its {} arrivals give {} gaps, fewer than the {requests} requests: the gaps repeat from the start every {:.1} s",
            arrivals.name,
            kept.len(),
            gaps.len(),
            gaps.iter().sum::<f64>()
        ));
    }
    let cycle_s: f64 = gaps.iter().sum();
    let cycle_ns: f64 = gaps.iter().map(|g| secs_to_nanos(*g) as f64).sum();
    let mean_gap_ns = cycle_ns / gaps.len() as f64;
    let span_gaps = gaps.clone();
    let span_gaps_len = gaps.len() as u64;
    let span_s = Arc::new(move |n: u64| {
        let len = span_gaps.len() as u64;
        (n / len) as f64 * cycle_s + span_gaps[..(n % len) as usize].iter().sum::<f64>()
    });
    Some(IntervalPlan {
        build: Arc::new(move || Box::new(TraceGaps { gaps: gaps.clone(), next: 0 })),
        seed,
        span_s,
        pace_flag: SCALE_FLAG,
        exact_span: true,
        mean_gap_ns,
        gap_cv: 0.0,
        cv_flag: None,
        cycle_len: span_gaps_len,
    })
}

/// A window bound flag: `Some(None)` when unset, `None` after recording an error.
fn time_bound(p: &mut Params, flag: &str) -> Option<Option<TimePoint>> {
    let text = p.string(flag);
    if text.trim().is_empty() {
        return Some(None);
    }
    match parse_time_point(&text) {
        Ok(point) => Some(Some(point)),
        Err(message) => {
            p.error(ConfigError::new(flag, message).with_hint(
                "write a date-time as YYYY-MM-DD HH:MM:SS[.ffffff], or give seconds; none = no bound",
            ));
            None
        }
    }
}

/// The interval trace's arrival times: a CSV's arrival column read directly (seconds or
/// date-times, nothing else needed), or the arrivals of a trace in another format or already
/// parsed by the caller.
///
/// The flag says whether they were read from the text as arrival times (not via a parsed trace).
fn read_interval_trace(p: &mut Params) -> Option<(ArrivalTimes, bool)> {
    let inputs = p.inputs();
    let text = p.opt_string(TRACE_FILE_FLAG).and_then(|path| {
        let path = fill_placeholders(p.config(), &path);
        inputs.text(&path).ok().map(|text| (path, text))
    });
    if let Some((path, text)) = text
        && detect_format(&text) != Some(TraceFormat::MooncakeJsonl)
    {
        return read_arrival_times(&path, &text)
            .map_err(|e| p.error(ConfigError::new(TRACE_FILE_FLAG, e.to_string())))
            .ok()
            .map(|a| (a, true));
    }
    let trace = p.trace(TRACE_FILE_FLAG)?;
    let column = match trace.format {
        TraceFormat::VidurCsv => "arrived_at",
        TraceFormat::MooncakeJsonl => "timestamp",
        TraceFormat::AzureCsv => "TIMESTAMP",
    };
    let arrivals = ArrivalTimes::from_trace(&trace, column);
    if arrivals.is_none() {
        p.error(
            ConfigError::new(TRACE_FILE_FLAG, format!("{} has no arrival times", trace.name))
                .with_hint("use a trace with an arrived_at, timestamp or TIMESTAMP column"),
        );
    }
    arrivals.map(|a| (a, false))
}

/// An instant for messages: seconds, or a date-time.
fn describe_instant(ns: i128, clock: ArrivalClock) -> String {
    match clock {
        ArrivalClock::Seconds => format!("{} s", ns as f64 / 1e9),
        ArrivalClock::DateTimes => format_instant(ns),
    }
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
    use crate::config::Config;
    use crate::inputs::Inputs;
    use crate::rng::SeedTree;

    /// The first `n` gaps of the trace interval generator over `file` (as text) with `flags`,
    /// or the errors, each as `--flag: message`.
    fn trace_gaps(file: &str, flags: &[(&str, &str)], n: usize) -> Result<Vec<f64>, Vec<String>> {
        let mut inputs = Inputs::new();
        inputs.add_text("t.csv", file);
        trace_gaps_with(&inputs, flags, n)
    }

    fn trace_gaps_with(inputs: &Inputs, flags: &[(&str, &str)], n: usize) -> Result<Vec<f64>, Vec<String>> {
        let mut pairs = vec![(TRACE_FILE_FLAG, "t.csv")];
        pairs.extend_from_slice(flags);
        let config = Config::from_pairs(pairs).unwrap();
        let mut p = Params::with_inputs(&config, inputs);
        let plan = parse_trace(&mut p);
        let errors: Vec<String> = p.into_errors().iter().map(ToString::to_string).collect();
        if !errors.is_empty() {
            return Err(errors);
        }
        let plan = plan.expect("no error, so a plan");
        let mut generator = (plan.build)();
        let mut rng = SeedTree::new(1).stream("t", 0);
        Ok((0..n).map(|_| generator.next_interval(&mut rng)).collect())
    }

    #[test]
    fn arrivals_out_of_order_are_sorted_with_a_warning() {
        let mut inputs = Inputs::new();
        inputs.add_text("t.csv", "arrived_at\n0\n3.0\n1.0\n2.0\n");
        let config = Config::from_pairs([(TRACE_FILE_FLAG, "t.csv")]).unwrap();
        let mut p = Params::with_inputs(&config, &inputs);
        assert!(parse_trace(&mut p).is_some());
        let warnings = p.take_warnings();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].contains("rows arriving earlier than the row before them: 1 (the first at row 4)"),
            "{}",
            warnings[0]
        );
        // The default 128 requests need more than the trace's 3 gaps.
        assert!(warnings[1].contains("4 arrivals give 3 gaps, fewer than the 128 requests: the gaps repeat from the start every 3.0 s"), "{}", warnings[1]);
    }

    #[test]
    fn a_csv_of_arrival_times_only_gives_cycling_gaps() {
        assert_eq!(trace_gaps("arrived_at\n0.5\n1.5\n3.0\n", &[], 5), Ok(vec![1.0, 1.5, 1.0, 1.5, 1.0]));
        assert_eq!(
            trace_gaps("arrived_at\r\n3.0\r\n0.5\r\n1.5\r\n", &[(SCALE_FLAG, "2")], 2),
            Ok(vec![2.0, 3.0]),
            "sorted, then scaled"
        );
    }

    #[test]
    fn vidur_date_times_in_a_window_count_whole_seconds_since_the_first_kept_arrival() {
        let file = "arrived_at\n1970-01-04 11:59:59\n1970-01-04 12:00:00\n1970-01-04 12:00:00.5\n1970-01-04T12:00:02.9\n\
                    1970-01-04 12:00:03.1\n1970-01-04 12:00:10\n1970-01-04 15:00:00\n";
        let window =
            [(START_FLAG, "1970-01-04 12:00:00"), (END_FLAG, "1970-01-04 15:00:00"), (SCALE_FLAG, "0.5")];
        // Kept (strictly inside): 0.5, 2.9, 3.1, 10 s past noon → whole seconds 0, 2, 2, 9.
        assert_eq!(trace_gaps(file, &window, 4), Ok(vec![1.0, 0.0, 3.5, 1.0]));
        // A number of seconds counts from the earliest arrival (11:59:59) of a date-time trace.
        assert_eq!(trace_gaps(file, &[(START_FLAG, "1.5"), (END_FLAG, "12")], 3), Ok(vec![0.0, 7.0, 0.0]));
    }

    #[test]
    fn seconds_traces_keep_their_precision_and_read_date_time_bounds_as_epoch_seconds() {
        let file = "arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,1,1\n0.25,1,1\n1.0,1,1\n4.5,1,1\n";
        assert_eq!(
            trace_gaps(file, &[(START_FLAG, "0"), (END_FLAG, "4.5")], 2),
            Ok(vec![0.75, 0.75]),
            "start < t < end"
        );
        assert_eq!(trace_gaps(file, &[(START_FLAG, "1970-01-01 00:00:00.1")], 3), Ok(vec![0.75, 3.5, 0.75]));
        // Bounds given as JSON numbers (configs written before date-times were accepted).
        let config =
            Config::from_json_str(&format!(r#"{{"{TRACE_FILE_FLAG}": "t.csv", "{START_FLAG}": 0.1}}"#))
                .unwrap();
        assert_eq!(config.get(START_FLAG), crate::config::FlagValue::Str("0.1".into()));
    }

    #[test]
    fn other_formats_and_pre_parsed_traces_still_give_gaps() {
        let azure = "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.5,1,1\n2023-11-16 18:15:46.75,1,1\n2023-11-16 18:15:48,1,1\n";
        assert_eq!(trace_gaps(azure, &[], 2), Ok(vec![0.25, 1.25]), "Azure timestamps keep their fractions");
        assert_eq!(
            trace_gaps(azure, &[(START_FLAG, "2023-11-16 18:15:46.6"), (END_FLAG, "1.4")], 1),
            Err(vec![format!(
                "--{TRACE_FILE_FLAG}: 1 of the 3 arrivals of t.csv fall strictly between the start and end times; the gaps need at least two (hint: its arrivals run from 2023-11-16 18:15:46.5 to 2023-11-16 18:15:48: widen --{START_FLAG} / --{END_FLAG} (none = no bound))"
            )])
        );
        let mooncake = "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1}\n{\"timestamp\": 500, \"input_length\": 1, \"output_length\": 1}\n";
        assert_eq!(trace_gaps(mooncake, &[], 1), Ok(vec![0.5]));
        let mut inputs = Inputs::new();
        let trace = crate::trace::parse_trace(
            "t.csv",
            "arrived_at,num_prefill_tokens,num_decode_tokens\n1,1,1\n3,1,1\n",
            &mut |_| {},
        )
        .unwrap();
        inputs.add_trace("t.csv", Arc::new(trace));
        assert_eq!(trace_gaps_with(&inputs, &[], 1), Ok(vec![2.0]), "a trace the web page parsed on upload");
    }

    #[test]
    fn errors_name_the_flag_and_the_file_row_and_column() {
        assert_eq!(
            trace_gaps("arrived_at\n1\n2\n", &[(START_FLAG, "noon")], 1),
            Err(vec![format!(
                "--{START_FLAG}: 'noon' is neither a number of seconds nor a date-time like 1970-01-04 12:00:00 (hint: write a date-time as YYYY-MM-DD HH:MM:SS[.ffffff], or give seconds; none = no bound)"
            )])
        );
        assert_eq!(
            trace_gaps("arrived_at\n1970-01-04 12:00:00\n1970-01-04 25:00:00\n", &[], 1),
            Err(vec![format!(
                "--{TRACE_FILE_FLAG}: t.csv, row 3, column 'arrived_at': '1970-01-04 25:00:00' is not a time of day (00:00:00 to 23:59:59)"
            )])
        );
        assert_eq!(
            trace_gaps("when\n1\n", &[], 1),
            Err(vec![format!(
                "--{TRACE_FILE_FLAG}: t.csv, row 1, column 'arrived_at': required column is missing (columns: when); an interval trace needs an arrived_at column of seconds or date-times"
            )])
        );
        assert_eq!(
            trace_gaps_with(&Inputs::new(), &[], 1),
            Err(vec![format!("--{TRACE_FILE_FLAG}: file t.csv was not provided")])
        );
    }

    #[test]
    fn the_span_of_trace_gaps_is_exact_over_cycles() {
        let mut inputs = Inputs::new();
        inputs.add_text("t.csv", "arrived_at\n0\n1\n4\n");
        let config = Config::from_pairs([(TRACE_FILE_FLAG, "t.csv"), (SCALE_FLAG, "2")]).unwrap();
        let plan = parse_trace(&mut Params::with_inputs(&config, &inputs)).unwrap();
        // Gaps 2, 6, 2, 6, 2: five arrivals end at 18 s.
        assert_eq!(
            ((plan.span_s)(5), (plan.span_s)(4), (plan.span_s)(0), plan.pace_flag, plan.exact_span),
            (18.0, 16.0, 0.0, SCALE_FLAG, true)
        );
    }

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
