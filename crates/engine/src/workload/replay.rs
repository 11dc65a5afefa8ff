//! `trace`: replays a trace file's requests at their recorded arrival times.

use std::sync::Arc;

use super::length::{LengthFlags, check_scaled_lengths, scaled};
use super::{NewRequest, RequestSource, WorkloadPlan};
use crate::config::{ConfigError, FlagDef, InputFile, Params};
use crate::limits::MAX_REQUESTS;
use crate::time::{HORIZON_SECS, HORIZON_TEXT, SimTime, describe_secs};
use crate::trace::{Trace, TraceError, TraceFormat, TraceRow, epoch_reading};

pub(super) const FLAGS: &[FlagDef] = &[
    FlagDef::seed("trace_request_generator_config_seed", "42", "Seed (unused: replay is not random)."),
    FlagDef::input(
        "trace_request_generator_config_trace_file",
        InputFile::RequestTrace,
        "data/processed_traces/splitwise_conv.csv",
        "Trace to replay (Vidur CSV with arrived_at, Mooncake JSONL or Azure CSV).",
    ),
    FlagDef::float(
        "trace_request_generator_config_prefill_scale_factor",
        "1",
        "Multiply prompt lengths by this.",
    ),
    FlagDef::float(
        "trace_request_generator_config_decode_scale_factor",
        "1",
        "Multiply output lengths by this.",
    ),
    FlagDef::float(
        "trace_request_generator_config_time_scale_factor",
        "1",
        "Multiply arrival times by this (< 1 replays faster: higher load); scaled arrivals must stay within the 10^9 s horizon.",
    ),
    FlagDef::opt_int(
        "trace_request_generator_config_max_tokens",
        "none",
        "Refuse the trace if a request's prompt + output (after scaling) exceeds this.",
    ),
    FlagDef::opt_int(
        "trace_request_generator_config_num_requests",
        "none",
        "Replay only the first this many requests (none = all).",
    ),
];

const FILE_FLAG: &str = "trace_request_generator_config_trace_file";
const TIME_SCALE_FLAG: &str = "trace_request_generator_config_time_scale_factor";

pub(super) fn parse(p: &mut Params) -> Option<WorkloadPlan> {
    let flag = FILE_FLAG;
    let prefill_scale = p.positive_float("trace_request_generator_config_prefill_scale_factor");
    let decode_scale = p.positive_float("trace_request_generator_config_decode_scale_factor");
    let time_scale = p.positive_float("trace_request_generator_config_time_scale_factor");
    let max_tokens = p.opt_u64_at_least("trace_request_generator_config_max_tokens", 2);
    let num_requests = p.opt_u64_at_least("trace_request_generator_config_num_requests", 1);
    let trace = p.trace(flag)?;
    if !trace.has_arrivals() {
        p.error(
            ConfigError::new(flag, format!("{} has no arrival times to replay", trace.name))
                .with_hint("add an arrived_at column, or use --request_generator_config_type synthetic with --length_generator_config_type trace"),
        );
        return None;
    }
    let flags = LengthFlags {
        max_tokens: "trace_request_generator_config_max_tokens",
        prefill_scale: "trace_request_generator_config_prefill_scale_factor",
        decode_scale: "trace_request_generator_config_decode_scale_factor",
    };
    check_scaled_lengths(p, &flags, &trace, prefill_scale, decode_scale, max_tokens)?;
    let count = num_requests.map_or(trace.rows.len(), |n| (n as usize).min(trace.rows.len()));
    if count as u64 > MAX_REQUESTS {
        p.error(
            ConfigError::new(
                "trace_request_generator_config_num_requests",
                format!(
                    "{} has {} rows to replay, more than the {MAX_REQUESTS} requests a run simulates",
                    trace.name,
                    trace.rows.len()
                ),
            )
            .with_hint(format!("replay at most {MAX_REQUESTS} of them")),
        );
        return None;
    }
    check_horizon(p, &trace, &trace.rows[..count], time_scale)?;
    // Replay in arrival order; a stable sort keeps file order among equal times.
    let order = crate::stats::stable_order(
        (0..count as u32).map(|row| crate::stats::total_order_key(arrival(&trace, row))),
    );
    let (has_sessions, has_block_hashes) = (trace.has_sessions(), trace.has_block_hashes());
    let order: Arc<[u32]> = order.into();
    Some(WorkloadPlan {
        build: Arc::new(move |_| {
            Box::new(Replay {
                trace: trace.clone(),
                order: order.clone(),
                next: 0,
                prefill_scale,
                decode_scale,
                time_scale,
            })
        }),
        has_sessions,
        has_block_hashes,
        expected_requests: Some(count as u64),
        estimated_requests: count as u64,
        count_flag: "trace_request_generator_config_num_requests",
    })
}

/// Refuses a replay whose arrivals (after `time_scale`) pass the simulation horizon, naming the
/// first such row; arrivals that look like epoch time get a hint to rebase them.
fn check_horizon(p: &mut Params, trace: &Trace, rows: &[TraceRow], time_scale: f64) -> Option<()> {
    let beyond = |t: f64| SimTime::checked_from_secs_f64(t * time_scale).is_none();
    let Some(row) = rows.iter().find(|r| beyond(r.arrived_at.unwrap_or(0.0))) else { return Some(()) };
    let raw = row.arrived_at.unwrap_or(0.0);
    let column = match trace.format {
        TraceFormat::VidurCsv => "arrived_at",
        TraceFormat::MooncakeJsonl => "timestamp",
        TraceFormat::AzureCsv => "TIMESTAMP",
    };
    let scaled = if time_scale == 1.0 {
        String::new()
    } else {
        format!(" × time_scale_factor {time_scale} = {}", describe_secs(raw * time_scale))
    };
    let message = format!("arrival at {}{scaled} is beyond {HORIZON_TEXT}", describe_secs(raw));
    let located = TraceError::new(&trace.name, Some(row.line), Some(column), message).to_string();
    let first = rows.iter().filter_map(|r| r.arrived_at).fold(f64::INFINITY, f64::min);
    let last = rows.iter().filter_map(|r| r.arrived_at).fold(0.0, f64::max);
    let error = match epoch_reading(first) {
        // A trace that starts far from zero at a plausible date is in epoch time.
        Some(reading) if first > 0.5 * last => ConfigError::new(FILE_FLAG, located).with_hint(format!(
            "the arrivals start at {first} — that looks like {reading}: rebase the {column} column so that the trace starts at 0 (subtract the first arrival from every row); if it is in milliseconds, also scale it with --{TIME_SCALE_FLAG} 0.001"
        )),
        // The trace itself fits; its scaling does not.
        _ if time_scale > 1.0 && SimTime::checked_from_secs_f64(last).is_some() => ConfigError::new(TIME_SCALE_FLAG, located).with_hint(format!(
            "the last replayed arrival is at {}: use a time_scale_factor of at most {:.6e}, or replay fewer rows with --trace_request_generator_config_num_requests",
            describe_secs(last),
            HORIZON_SECS as f64 / last
        )),
        _ => ConfigError::new(FILE_FLAG, located).with_hint(format!(
            "arrivals are seconds from the start of the simulation: rebase or scale the {column} column (or --{TIME_SCALE_FLAG}) so that they end within {HORIZON_SECS} s"
        )),
    };
    p.error(error);
    None
}

fn arrival(trace: &Trace, row: u32) -> f64 {
    trace.rows[row as usize].arrived_at.unwrap_or(0.0)
}

struct Replay {
    trace: Arc<Trace>,
    order: Arc<[u32]>,
    next: usize,
    prefill_scale: f64,
    decode_scale: f64,
    time_scale: f64,
}

impl RequestSource for Replay {
    fn peek_time(&self) -> Option<SimTime> {
        let row = *self.order.get(self.next)?;
        Some(SimTime::from_secs_f64(arrival(&self.trace, row) * self.time_scale))
    }

    fn next(&mut self) -> Option<NewRequest> {
        let arrived_at = self.peek_time()?;
        let row = &self.trace.rows[self.order[self.next] as usize];
        self.next += 1;
        Some(NewRequest {
            arrived_at,
            num_prefill_tokens: scaled(row.num_prefill_tokens, self.prefill_scale),
            num_decode_tokens: scaled(row.num_decode_tokens, self.decode_scale),
            session_id: row.session_id,
            block_hashes: row.block_hashes.clone(),
            client: None,
            warmup: false,
        })
    }
}
