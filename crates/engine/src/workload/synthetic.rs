//! `synthetic`: each request's arrival is the previous one's plus a drawn interval; its lengths
//! come from the length generator. The first request arrives after the first interval.

use std::sync::Arc;

use super::interval::{INTERVAL_GENERATORS, IntervalGenerator, IntervalPlan};
use super::length::{LENGTH_GENERATORS, LengthGenerator, LengthPlan};
use super::{NewRequest, RequestSource, WorkloadPlan};
use crate::config::{ConfigError, FlagDef, Params};
use crate::limits::MAX_REQUESTS;
use crate::rng::{SeedTree, StreamRng, splitmix64};
use crate::time::{HORIZON_SECS, HORIZON_TEXT, NANOS_PER_SEC, SimTime, describe_secs, secs_to_nanos};

pub(super) const FLAGS: &[FlagDef] = &[
    FlagDef::seed(
        "synthetic_request_generator_config_seed",
        "42",
        "Seed of the synthetic workload's streams.",
    ),
    FlagDef::opt_int(
        "synthetic_request_generator_config_num_requests",
        "128",
        "Requests to generate (none = until the duration).",
    ),
    FlagDef::opt_float(
        "synthetic_request_generator_config_duration",
        "none",
        "Generate arrivals before this many seconds, at most 10^9 (the simulation horizon; none = until num_requests).",
    ),
];

/// Reads the length generator selected by `--length_generator_config_type`.
pub(super) fn parse_lengths(p: &mut Params) -> Option<LengthPlan> {
    let chosen = p.string("length_generator_config_type");
    let entry = LENGTH_GENERATORS.iter().find(|e| e.name == chosen)?;
    (entry.parse)(p)
}

fn parse_intervals(p: &mut Params) -> Option<IntervalPlan> {
    let chosen = p.string("interval_generator_config_type");
    let entry = INTERVAL_GENERATORS.iter().find(|e| e.name == chosen)?;
    (entry.parse)(p)
}

pub(super) fn parse(p: &mut Params) -> Option<WorkloadPlan> {
    let seed = p.int("synthetic_request_generator_config_seed") as u64;
    let num_requests = p.opt_request_count("synthetic_request_generator_config_num_requests");
    let duration = p.opt_float("synthetic_request_generator_config_duration");
    if let Some(d) = duration
        && !(d.is_finite() && d > 0.0)
    {
        p.error(ConfigError::new(
            "synthetic_request_generator_config_duration",
            format!("{d} must be a positive number of seconds"),
        ));
    }
    if num_requests.is_none() && duration.is_none() {
        p.error(
            ConfigError::new("synthetic_request_generator_config_num_requests", "the workload would never end: neither num_requests nor duration is set")
                .with_hint("set --synthetic_request_generator_config_num_requests or --synthetic_request_generator_config_duration"),
        );
    }
    let lengths = parse_lengths(p);
    let intervals = parse_intervals(p);
    let (lengths, intervals) = (lengths?, intervals?);
    if duration.is_some() && num_requests.is_none() && p.string("interval_generator_config_type") == "static"
    {
        p.error(
            ConfigError::new(
                "synthetic_request_generator_config_num_requests",
                "static arrivals never pass the duration",
            )
            .with_hint("set num_requests with static intervals"),
        );
        return None;
    }
    check_horizon(p, num_requests, duration, &intervals)?;
    let estimated_requests = check_request_count(p, num_requests, duration, &intervals)?;
    let (has_sessions, has_block_hashes) = (lengths.has_sessions, lengths.has_block_hashes);
    let duration_ns = duration.map(secs_to_nanos);
    Some(WorkloadPlan {
        build: Arc::new(move |seeds: &SeedTree| {
            let mut length_rng = seeds.stream("workload/lengths", splitmix64(seed) ^ lengths.seed);
            let generator = (lengths.build)(&mut length_rng);
            let mut source = Synthetic {
                intervals: (intervals.build)(),
                lengths: generator,
                interval_rng: seeds.stream("workload/intervals", splitmix64(seed) ^ intervals.seed),
                length_rng,
                // A duration alone ends the arrivals; the count bounds them all the same, so
                // that no workload generates without end.
                remaining: Some(num_requests.unwrap_or(MAX_REQUESTS)),
                duration_ns,
                clock: SimTime::ZERO,
                next: None,
            };
            source.advance();
            Box::new(source)
        }),
        has_sessions,
        has_block_hashes,
        expected_requests: if duration.is_none() { num_requests } else { None },
        estimated_requests,
        count_flag: "synthetic_request_generator_config_num_requests",
    })
}

/// Refuses a workload whose arrivals would pass the simulation horizon: a duration beyond it,
/// or `num_requests` gaps that add up (exactly, or on average for random gaps) to more.
fn check_horizon(
    p: &mut Params,
    num_requests: Option<u64>,
    duration: Option<f64>,
    intervals: &IntervalPlan,
) -> Option<()> {
    let horizon = HORIZON_SECS as f64;
    let span = num_requests.map(|n| (n, (intervals.span_s)(n)));
    match (span, duration) {
        // The arrivals end with num_requests, or at a duration within the horizon.
        (Some((_, s)), _) if s <= horizon => Some(()),
        (_, Some(d)) if d <= horizon => Some(()),
        (None, Some(d)) => {
            p.error(
                ConfigError::new(
                    "synthetic_request_generator_config_duration",
                    format!("{} is beyond {HORIZON_TEXT}", describe_secs(d)),
                )
                .with_hint(format!("use a duration of at most {HORIZON_SECS} s")),
            );
            None
        }
        (Some((n, s)), _) => {
            let how =
                if intervals.exact_span { "would arrive over" } else { "would arrive, on average, over" };
            p.error(
                ConfigError::new(intervals.pace_flag, format!("{n} requests at this pace {how} {}, beyond {HORIZON_TEXT}", describe_secs(s))).with_hint(
                    format!(
                        "speed arrivals up with --{}, lower --synthetic_request_generator_config_num_requests, or stop them with --synthetic_request_generator_config_duration (at most {HORIZON_SECS} s)",
                        intervals.pace_flag
                    ),
                ),
            );
            None
        }
        (None, None) => Some(()),
    }
}

/// Refuses a duration-bounded workload whose arrivals would never pass the duration (gaps
/// that the nanosecond clock rounds to nothing) or that could hold more requests than a run
/// simulates ([`MAX_REQUESTS`]); returns the most requests expected (the count, or what the
/// duration holds at the mean pace plus the room random gaps need,
/// [`IntervalPlan::count_upper_bound`], whichever ends the arrivals first): the memory
/// estimate's figure, so that bursty arrivals cannot outgrow the budget they were accepted on.
fn check_request_count(
    p: &mut Params,
    num_requests: Option<u64>,
    duration: Option<f64>,
    intervals: &IntervalPlan,
) -> Option<u64> {
    let Some(duration) = duration else { return Some(num_requests.unwrap_or(0)) };
    let within = if intervals.mean_gap_ns > 0.0 {
        duration * NANOS_PER_SEC as f64 / intervals.mean_gap_ns
    } else {
        f64::INFINITY
    };
    let upper = intervals.count_upper_bound(within);
    match num_requests {
        Some(n) => Some(if (n as f64) <= upper { n } else { libm::ceil(upper) as u64 }),
        None if upper <= MAX_REQUESTS as f64 => Some(libm::ceil(upper) as u64),
        None if within.is_infinite() => {
            p.error(
                ConfigError::new(
                    intervals.pace_flag,
                    format!("the gaps between arrivals round to 0 ns: arrivals would never pass the duration of {duration} s"),
                )
                .with_hint(format!("slow arrivals down with --{}, or set --synthetic_request_generator_config_num_requests", intervals.pace_flag)),
            );
            None
        }
        // Blame the spread only where gaps as regular as Poisson's (cv = 1) would fit.
        None if intervals.gap_cv > 1.0
            && intervals.count_upper_bound_at_cv(within, 1.0) <= MAX_REQUESTS as f64
            && intervals.cv_flag.is_some() =>
        {
            let cv_flag = intervals.cv_flag.unwrap_or(intervals.pace_flag);
            p.error(
                ConfigError::new(
                    cv_flag,
                    format!(
                        "arrivals this bursty (cv = {}) could bring up to {upper:.3e} requests within a duration of {duration} s (about {within:.3e} on average), more than the {MAX_REQUESTS} a run simulates",
                        intervals.gap_cv
                    ),
                )
                .with_hint(format!(
                    "lower --{cv_flag}, or bound the arrivals with --synthetic_request_generator_config_num_requests"
                )),
            );
            None
        }
        None => {
            p.error(
                ConfigError::new(
                    intervals.pace_flag,
                    format!(
                        "a duration of {duration} s holds about {within:.3e} requests at this pace (up to {upper:.3e} by chance), more than the {MAX_REQUESTS} a run simulates"
                    ),
                )
                .with_hint(format!(
                    "slow arrivals down with --{}, shorten --synthetic_request_generator_config_duration, or set --synthetic_request_generator_config_num_requests",
                    intervals.pace_flag
                )),
            );
            None
        }
    }
}

struct Synthetic {
    intervals: Box<dyn IntervalGenerator>,
    lengths: Box<dyn LengthGenerator>,
    interval_rng: StreamRng,
    length_rng: StreamRng,
    remaining: Option<u64>,
    duration_ns: Option<u64>,
    clock: SimTime,
    next: Option<NewRequest>,
}

impl Synthetic {
    /// Draws the next request (interval first, then lengths, as Vidur does).
    fn advance(&mut self) {
        self.next = None;
        if self.remaining == Some(0) {
            return;
        }
        self.clock += secs_to_nanos(self.intervals.next_interval(&mut self.interval_rng));
        if self.duration_ns.is_some_and(|d| self.clock.0 >= d) {
            return;
        }
        let s = self.lengths.next(&mut self.length_rng);
        if let Some(r) = &mut self.remaining {
            *r -= 1;
        }
        self.next = Some(NewRequest {
            arrived_at: self.clock,
            num_prefill_tokens: s.num_prefill_tokens,
            num_decode_tokens: s.num_decode_tokens,
            session_id: s.session_id,
            block_hashes: s.block_hashes,
            client: None,
            warmup: false,
        });
    }
}

impl RequestSource for Synthetic {
    fn peek_time(&self) -> Option<SimTime> {
        self.next.as_ref().map(|r| r.arrived_at)
    }

    fn next(&mut self) -> Option<NewRequest> {
        let out = self.next.take();
        if out.is_some() {
            self.advance();
        }
        out
    }
}
