//! The report of a run: summary, distributions, time series, per-replica figures and
//! per-request records, and the output files (Vidur's layout) rendered from them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::decimal::{push_fixed6, push_u64};
use crate::stats::Stats;
use crate::time::nanos_to_secs;

/// Requests per second and tokens per second over the simulated time.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Throughput {
    /// Completed requests per second.
    pub requests_per_s: f64,
    /// Prompt tokens of completed requests per second.
    pub input_tokens_per_s: f64,
    /// Output tokens of completed requests per second.
    pub output_tokens_per_s: f64,
}

/// Which predictor produced the batch times, and how much of them is measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PredictorSummary {
    /// Registered name.
    pub name: String,
    /// What it uses.
    pub description: String,
    /// Share of predicted time by provenance (measured, interpolated, extrapolated, roofline).
    pub time_share: BTreeMap<String, f64>,
}

/// The memory plan of each replica.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MemorySummary {
    /// KV blocks per replica.
    pub num_blocks_per_replica: u64,
    /// Tokens per block.
    pub block_size: u32,
    /// KV tokens per replica.
    pub kv_tokens_per_replica: u64,
    /// Parameters per GPU (most loaded stage).
    pub params_per_gpu: u64,
    /// Weight memory per GPU, GB (10^9 bytes).
    pub weight_gb_per_gpu: f64,
    /// KV bytes per token per GPU.
    pub kv_bytes_per_token_per_gpu: u64,
}

/// How well the run met its latency objectives (`--slo_config_*`; rule in `slo.rs`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SloReport {
    /// `and` or `or`: how targets combine per request.
    pub combine: String,
    /// Each target, with the quantile observed.
    pub targets: Vec<SloTargetReport>,
    /// Share of the requests that arrived which met the targets (all of them for `and`, any
    /// for `or`); requests that did not complete never do.
    pub attainment: f64,
    /// With several targets, the share of requests that must meet them (their largest
    /// quantile); `None` with one target, which is judged by its quantile.
    pub required_attainment: Option<f64>,
    /// Whether the objectives hold.
    pub met: bool,
    /// The requests that met the targets, per simulated second.
    pub goodput: Throughput,
}

/// One latency objective and what the run achieved.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SloTargetReport {
    /// The metric (`ttft`, `tbt`, `tpot`, `e2e`, `scheduling_delay`, `e2e_normalized`).
    pub metric: String,
    /// The quantile bounded.
    pub quantile: f64,
    /// The bound, seconds.
    pub max_s: f64,
    /// The run's value at that quantile, seconds; `None` when it falls on requests that did not
    /// complete (they count as infinitely late) or there were no samples.
    pub observed_s: Option<f64>,
    /// Share of the arrived requests within the bound.
    pub attainment: f64,
    /// Whether the observed quantile is within the bound.
    pub met: bool,
}

/// Whether the arrivals outgrew the cluster, with the evidence (rule in
/// `metrics/overload.rs`): a warning in every report, and a failed point in a search.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct OverloadReport {
    /// Whether the cluster fell behind its arrivals: the queue of requests waiting for their
    /// first schedule grew with the arrivals.
    pub overloaded: bool,
    /// Whether the run was stopped there ([`crate::Simulation::stop_when_overloaded`]).
    pub stopped_early: bool,
    /// Simulated second of the checkpoint that made the verdict.
    pub detected_at_s: Option<f64>,
    /// Arrivals by then.
    pub detected_at_request: Option<u64>,
    /// Arrivals per second over the window judged (the verdict's, else the run's last).
    pub offered_per_s: Option<f64>,
    /// First schedules per second over that window.
    pub admitted_per_s: Option<f64>,
    /// Growth of the waiting queue per second over that window.
    pub queue_growth_per_s: Option<f64>,
    /// Requests waiting for their first schedule at the window's end.
    pub waiting: Option<u64>,
    /// Mean scheduling delay of the last quarter of completed requests (in arrival order)
    /// minus that of the first quarter, seconds: rises when the queue grows.
    pub scheduling_delay_trend_s: Option<f64>,
}

/// What the cluster costs (prices in `data/prices.json`, or `--cost_config_usd_per_gpu_hour`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CostReport {
    /// GPUs: replicas × TP × PP.
    pub num_gpus: u64,
    /// US dollars per GPU-hour, when known.
    pub usd_per_gpu_hour: Option<f64>,
    /// Where the price comes from.
    pub price_source: Option<String>,
    /// US dollars per hour for the cluster.
    pub usd_per_hour: Option<f64>,
    /// US dollars per million output tokens at the run's throughput (the cluster's cost over
    /// the simulated time ÷ the output tokens of completed requests).
    pub usd_per_million_output_tokens: Option<f64>,
}

/// The headline numbers of a run (`summary.json`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Requests that arrived.
    pub num_requests: u64,
    /// Of which completed.
    pub num_completed: u64,
    /// Of which refused (see `request_errors.csv`).
    pub num_refused: u64,
    /// Of which still in flight at the end (time limit).
    pub num_unfinished: u64,
    /// Of which completed warm-up requests of a closed-loop benchmark, left out of every
    /// per-request statistic (and of `num_completed`); absent from `summary.json` when none.
    #[serde(skip_serializing_if = "is_zero")]
    pub num_warmup_requests: u64,
    /// Time to first token, seconds.
    pub ttft_s: Stats,
    /// Time between tokens, seconds (streamed: percentiles within 0.4%).
    pub tbt_s: Stats,
    /// Time per output token per request: (e2e − TTFT)/(output tokens − 1), seconds.
    pub tpot_s: Stats,
    /// End-to-end latency, seconds.
    pub e2e_s: Stats,
    /// Arrival to first schedule, seconds.
    pub scheduling_delay_s: Stats,
    /// Throughput.
    pub throughput: Throughput,
    /// Simulated seconds (end of the last event, or the time limit).
    pub simulated_time_s: f64,
    /// Whether the time limit ended the run.
    pub time_limit_reached: bool,
    /// Events handled.
    pub num_events: u64,
    /// Preemptions (restarts by recompute).
    pub num_preemptions: u64,
    /// Batches formed.
    pub num_batches: u64,
    /// Time-weighted mean KV usage over replicas, %.
    pub kv_usage_percent_mean: f64,
    /// Highest KV usage of any replica, %.
    pub kv_usage_percent_max: f64,
    /// Mean busy share over replica stages, %.
    pub busy_percent_mean: f64,
    /// Mean model FLOPs utilisation over replica stages, %.
    pub mfu_percent_mean: f64,
    /// Prompt tokens served from the prefix cache ÷ prompt tokens (completed requests).
    pub prefix_cache_hit_rate: f64,
    /// Prompt tokens served from the prefix cache.
    pub prefix_cached_prompt_tokens: u64,
    /// Prompt tokens of completed requests.
    pub prompt_tokens: u64,
    /// The execution-time predictor.
    pub predictor: PredictorSummary,
    /// The memory plan.
    pub memory: MemorySummary,
    /// The latency objectives and goodput; `None` when no `--slo_config_<metric>_max_s` is set.
    pub slo: Option<SloReport>,
    /// Whether the arrivals outgrew the cluster.
    pub overload: OverloadReport,
    /// GPUs and what they cost.
    pub cost: CostReport,
    /// A disaggregated cluster's pools and KV transfers; absent when aggregated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disaggregation: Option<DisaggSummary>,
}

/// A disaggregated cluster's figures (`summary.json`'s `disaggregation`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DisaggSummary {
    /// The prefill pool (replicas `0..num_replicas`).
    pub prefill: PoolSummary,
    /// The decode pool (the replicas after the prefill pool's).
    pub decode: PoolSummary,
    /// KV transfers started.
    pub num_kv_transfers: u64,
    /// Of which over NVLink (the rest over RDMA).
    pub num_kv_transfers_nvlink: u64,
    /// Transfer time on the link (latency, overhead and bytes), seconds.
    pub kv_transfer_s: Stats,
    /// Prefill end to transfer start (waiting for KV room on the decode replica, then for the
    /// links), seconds.
    pub kv_transfer_wait_s: Stats,
}

/// One pool's utilisation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PoolSummary {
    /// Replicas.
    pub num_replicas: u64,
    /// GPUs (replicas × TP × PP).
    pub num_gpus: u64,
    /// KV blocks per replica.
    pub num_blocks_per_replica: u64,
    /// Mean busy share over the pool's stages, %.
    pub busy_percent_mean: f64,
    /// Mean MFU over the pool's stages, %.
    pub mfu_percent_mean: f64,
    /// Time-weighted mean KV usage over the pool's replicas, %.
    pub kv_usage_percent_mean: f64,
    /// Highest KV usage of any of its replicas, %.
    pub kv_usage_percent_max: f64,
    /// Queueing before the pool serves a request, seconds: arrival to first prefill schedule
    /// (prefill), prefill end to transfer start (decode).
    pub queueing_s: Stats,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One completed request's timings and counts (a row of `request_metrics.csv`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RequestRecord {
    /// Request id.
    pub id: u32,
    /// Replica that served it.
    pub replica: u32,
    /// Arrival, ns.
    pub arrived_at_ns: u64,
    /// First schedule, ns.
    pub scheduled_at_ns: u64,
    /// First token, ns.
    pub prefill_completed_at_ns: u64,
    /// Last token, ns.
    pub completed_at_ns: u64,
    /// Σ stage times, ns.
    pub execution_ns: u64,
    /// Σ GPU times, ns.
    pub model_execution_ns: u64,
    /// Σ waits between its stages, ns.
    pub preempted_ns: u64,
    /// Gap to the previous completed request's arrival on the same replica, ns.
    pub inter_arrival_ns: u64,
    /// Prompt tokens.
    pub num_prefill_tokens: u32,
    /// Output tokens.
    pub num_decode_tokens: u32,
    /// Prompt tokens served from the prefix cache (latest admission).
    pub num_prefill_tokens_cached: u32,
    /// Preemptions.
    pub num_restarts: u32,
    /// Longest gap between two consecutive output tokens, ns (0 with one output token).
    pub max_token_gap_ns: u64,
}

/// One request's KV transfer (disaggregated) from its prefill replica (its record's
/// `replica`) to its decode replica: `request_metrics.csv`'s last three columns
/// ([`RequestRecord::DISAGG_COLUMNS`]). Kept beside the records, by request id
/// ([`Report::request_transfers`]), so that an aggregated run's records stay as they were.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransferRecord {
    /// The decode replica (numbered after the prefill pool's replicas).
    pub decode_replica: u32,
    /// Prefill end to transfer start: waiting for the decode replica to reserve KV room
    /// (admission; none under an SGLang decode pool, which reserved it before the prefill),
    /// then for the two replicas' links, ns (`kv_transfer_wait_time`).
    pub wait_ns: u64,
    /// The transfer on the link (latency, overhead, bytes), ns (`kv_transfer_time`).
    pub transfer_ns: u64,
}

type Column = (&'static str, fn(&RequestRecord) -> f64);

impl RequestRecord {
    /// Time to first token, s.
    pub fn ttft(&self) -> f64 {
        nanos_to_secs(self.prefill_completed_at_ns - self.arrived_at_ns)
    }
    /// End-to-end latency, s.
    pub fn e2e(&self) -> f64 {
        nanos_to_secs(self.completed_at_ns - self.arrived_at_ns)
    }
    /// Time per output token after the first, s (`None` for single-token outputs).
    pub fn tpot(&self) -> Option<f64> {
        (self.num_decode_tokens > 1)
            .then(|| (self.e2e() - self.ttft()) / f64::from(self.num_decode_tokens - 1))
    }
    /// Arrival to first schedule, s.
    pub fn scheduling_delay(&self) -> f64 {
        nanos_to_secs(self.scheduled_at_ns - self.arrived_at_ns)
    }
    fn d(&self) -> f64 {
        f64::from(self.num_decode_tokens.max(1))
    }
    fn p(&self) -> f64 {
        f64::from(self.num_prefill_tokens.max(1))
    }

    /// Vidur's 15 request time metrics, in `request_metrics.csv` column order.
    pub const TIME_COLUMNS: [Column; 15] = [
        ("request_e2e_time", |r| r.e2e()),
        ("request_e2e_time_normalized", |r| r.e2e() / r.d()),
        ("request_execution_time", |r| nanos_to_secs(r.execution_ns)),
        ("request_execution_time_normalized", |r| nanos_to_secs(r.execution_ns) / r.d()),
        ("request_model_execution_time", |r| nanos_to_secs(r.model_execution_ns)),
        ("request_model_execution_time_normalized", |r| nanos_to_secs(r.model_execution_ns) / r.d()),
        ("request_preemption_time", |r| nanos_to_secs(r.preempted_ns)),
        ("request_scheduling_delay", |r| r.scheduling_delay()),
        ("request_execution_plus_preemption_time", |r| nanos_to_secs(r.execution_ns + r.preempted_ns)),
        ("request_execution_plus_preemption_time_normalized", |r| {
            nanos_to_secs(r.execution_ns + r.preempted_ns) / r.d()
        }),
        ("prefill_e2e_time", |r| r.ttft()),
        ("prefill_e2e_time_normalized", |r| r.ttft() / r.p()),
        ("prefill_time_execution_plus_preemption", |r| {
            nanos_to_secs(r.prefill_completed_at_ns - r.scheduled_at_ns)
        }),
        ("prefill_time_execution_plus_preemption_normalized", |r| {
            nanos_to_secs(r.prefill_completed_at_ns - r.scheduled_at_ns) / r.p()
        }),
        ("decode_time_execution_plus_preemption_normalized", |r| {
            nanos_to_secs(r.completed_at_ns - r.prefill_completed_at_ns) / r.d()
        }),
    ];
}

impl RequestRecord {
    /// The columns a disaggregated run's `request_metrics.csv` adds after Vidur's (and
    /// `replica`, which is then the prefill replica), from the request's [`TransferRecord`];
    /// empty for a request without one (one output token: it ends where it was prefilled).
    pub const DISAGG_COLUMNS: [&'static str; 3] =
        ["decode_replica", "kv_transfer_wait_time", "kv_transfer_time"];

    /// The header line of `request_metrics.csv` (with its newline): Vidur's columns and
    /// `replica`, and when `disaggregated` the [`RequestRecord::DISAGG_COLUMNS`].
    pub fn csv_header(disaggregated: bool) -> String {
        let mut out = String::from("Request Id");
        for (name, _) in RequestRecord::TIME_COLUMNS {
            out.push(',');
            out.push_str(name);
        }
        out.push_str(",request_inter_arrival_delay,request_num_tokens,request_num_prefill_tokens,request_num_prefill_tokens_cached,request_num_decode_tokens,request_pd_ratio,request_num_restarts,request_arrived_at,replica");
        if disaggregated {
            for name in RequestRecord::DISAGG_COLUMNS {
                out.push(',');
                out.push_str(name);
            }
        }
        out.push('\n');
        out
    }

    /// Appends this record's `request_metrics.csv` line (streamed output writes the same rows).
    pub fn write_csv_row(&self, out: &mut Vec<u8>) {
        self.write_csv_fields(out);
        out.push(b'\n');
    }

    /// Appends this record's line of a disaggregated run's `request_metrics.csv`: its fields,
    /// then its `transfer`'s ([`RequestRecord::DISAGG_COLUMNS`], empty when `None`).
    pub fn write_disaggregated_csv_row(&self, transfer: Option<&TransferRecord>, out: &mut Vec<u8>) {
        self.write_csv_fields(out);
        match transfer {
            Some(t) => {
                out.push(b',');
                push_u64(out, u64::from(t.decode_replica));
                out.push(b',');
                push_fixed6(out, nanos_to_secs(t.wait_ns));
                out.push(b',');
                push_fixed6(out, nanos_to_secs(t.transfer_ns));
            }
            None => out.extend_from_slice(b",,,"),
        }
        out.push(b'\n');
    }

    /// The line's fields, without its newline.
    fn write_csv_fields(&self, out: &mut Vec<u8>) {
        // The bytes of `{}` and `{:.6}`, without `core::fmt` (`decimal.rs`: a fifth of a
        // million-request run went to formatting these rows).
        let r = self;
        let int = |out: &mut Vec<u8>, n: u32| {
            out.push(b',');
            push_u64(out, u64::from(n));
        };
        let fixed = |out: &mut Vec<u8>, x: f64| {
            out.push(b',');
            push_fixed6(out, x);
        };
        push_u64(out, u64::from(r.id));
        for (_, f) in RequestRecord::TIME_COLUMNS {
            fixed(out, f(r));
        }
        fixed(out, nanos_to_secs(r.inter_arrival_ns));
        int(out, r.num_prefill_tokens + r.num_decode_tokens);
        int(out, r.num_prefill_tokens);
        int(out, r.num_prefill_tokens_cached);
        int(out, r.num_decode_tokens);
        fixed(out, f64::from(r.num_prefill_tokens) / f64::from(r.num_decode_tokens.max(1)));
        int(out, r.num_restarts);
        fixed(out, nanos_to_secs(r.arrived_at_ns));
        int(out, r.replica);
    }
}

/// Why a request did not complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestStatus {
    /// It can never be served (e.g. needs more KV memory than a replica has).
    Refused,
    /// It was still in flight when the run ended.
    Unfinished,
}

/// A request that did not complete (a row of `request_errors.csv`).
#[derive(Clone, Debug, PartialEq)]
pub struct RequestError {
    /// Request id.
    pub id: u32,
    /// Arrival, s.
    pub arrived_at: f64,
    /// Prompt tokens.
    pub num_prefill_tokens: u32,
    /// Output tokens.
    pub num_decode_tokens: u32,
    /// Replica it was routed to.
    pub replica: Option<u32>,
    /// Refused or unfinished.
    pub status: RequestStatus,
    /// When it was refused / when the run ended, s.
    pub at: f64,
    /// The reason.
    pub reason: String,
}

/// One pipeline stage's utilisation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StageUtilization {
    /// Stage index.
    pub stage: u32,
    /// Share of simulated time busy, %.
    pub busy_percent: f64,
    /// Time-weighted model FLOPs utilisation, %.
    pub mfu_percent: f64,
}

/// The pool of a disaggregated cluster a replica belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pool {
    /// Prefills requests and hands them off (replicas `0..` the prefill pool's count).
    Prefill,
    /// Receives their KV caches and decodes (the replicas after the prefill pool's).
    Decode,
}

/// One replica's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplicaReport {
    /// Replica id.
    pub replica: u32,
    /// Its pool when the cluster is disaggregated (`"pool": "prefill"` / `"decode"` in
    /// `plots/replica_metrics.json`); `None` (no field, so an aggregated run's file is as
    /// before) when aggregated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<Pool>,
    /// KV blocks.
    pub num_blocks: u64,
    /// Batches formed.
    pub num_batches: u64,
    /// Requests completed.
    pub num_completed: u64,
    /// Lowest KV usage sampled, %.
    pub kv_usage_percent_min: f64,
    /// Highest KV usage sampled, %.
    pub kv_usage_percent_max: f64,
    /// Time-weighted mean KV usage, %.
    pub kv_usage_percent_mean: f64,
    /// Mean of the KV samples (Vidur's "weighted_mean"), %.
    pub kv_usage_percent_sample_mean: f64,
    /// Blocks still referenced at the end.
    pub kv_blocks_allocated_at_end: u64,
    /// Per stage busy and MFU.
    pub stages: Vec<StageUtilization>,
    /// Cached ÷ prompt tokens of completed requests.
    pub prefix_cache_hit_rate: f64,
    /// Cached prompt tokens of completed requests.
    pub prefix_cached_prompt_tokens: u64,
    /// Prompt tokens of completed requests.
    pub prompt_tokens: u64,
    /// Prompt blocks looked up in the prefix cache.
    pub prefix_cache_block_lookups: u64,
    /// Of which hit.
    pub prefix_cache_block_hits: u64,
}

/// One batch on one stage, for the Chrome/Perfetto trace.
#[derive(Clone, Debug, PartialEq)]
pub struct ChromeSlice {
    /// Replica.
    pub replica: u32,
    /// Stage.
    pub stage: u32,
    /// Start, ns.
    pub start_ns: u64,
    /// Duration, ns.
    pub duration_ns: u64,
    /// Batch sequence number.
    pub batch: u64,
    /// Prefill tokens.
    pub num_prefill_tokens: u32,
    /// Decode tokens.
    pub num_decode_tokens: u32,
    /// Requests in the batch.
    pub request_ids: Vec<u32>,
    /// Per-op stage times, ms, by op name.
    pub op_ms: Vec<(&'static str, f64)>,
}

/// `chrome_trace.json`'s bytes, written by hand: the bytes `serde_json` gives for the trace
/// as a map with sorted keys (the reference serialisation in the tests below), at a fraction
/// of the cost — serde escapes every key and op name byte by byte, which made the capped
/// trace (200,000 slices, ~175 MB) cost as much as the simulation of a million requests.
/// Numbers go through `serde_json`'s own formatter, strings that need escaping through its
/// escaper, so the text cannot drift from what `serde_json` writes.
mod chrome_json {
    use super::ChromeSlice;
    use crate::decimal::push_prefix;
    use serde_json::ser::{CompactFormatter, Formatter};

    /// The text before the first event.
    const HEAD: &[u8] = b"{\"displayTimeUnit\":\"ms\",\"traceEvents\":[";
    /// The text after the last event.
    const TAIL: &[u8] = b"]}";

    /// Appends `text` as a JSON string.
    fn string(out: &mut Vec<u8>, text: &str) {
        if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
            out.push(b'"');
            out.extend_from_slice(text.as_bytes());
            out.push(b'"');
        } else {
            serde_json::to_writer(&mut *out, text).expect("writes to memory");
        }
    }

    /// Op names (static strings, a dozen or so) already found to need no escaping, by address
    /// and length in a small direct-mapped table: checking each name's bytes again in every
    /// slice was a tenth of the trace's cost.
    struct PlainNames([(usize, usize); PLAIN_NAMES]);

    const PLAIN_NAMES: usize = 64;

    impl Default for PlainNames {
        fn default() -> PlainNames {
            PlainNames([(0, 0); PLAIN_NAMES])
        }
    }

    impl PlainNames {
        fn write(&mut self, out: &mut Vec<u8>, name: &'static str) {
            let key = (name.as_ptr() as usize, name.len());
            let entry = &mut self.0[(key.0 >> 3) % PLAIN_NAMES];
            if *entry == key {
                out.push(b'"');
                out.extend_from_slice(name.as_bytes());
                out.push(b'"');
                return;
            }
            let before = out.len();
            string(out, name);
            // Plain when written as is: quotes and the name's own bytes.
            if out.len() - before == name.len() + 2 {
                *entry = key;
            }
        }
    }

    /// The longest text kept in [`FloatTexts`] (`serde_json`'s shortest round-trip form of a
    /// double is at most 24 bytes).
    const FLOAT_TEXT: usize = 32;
    /// Entries of [`FloatTexts`].
    const FLOAT_TEXTS: usize = 1 << 13;

    /// The text of recently written op times, direct-mapped by (op name, value). Most op
    /// times recur (ops whose time depends only on the batch's token count: 88 % of them in
    /// a 30,000-request run), and formatting a double is the trace's largest cost.
    struct FloatTexts {
        /// (value's bits, text length, text); the bits of a NaN never match a finite value.
        entries: Vec<(u64, u8, [u8; FLOAT_TEXT])>,
    }

    impl Default for FloatTexts {
        fn default() -> FloatTexts {
            FloatTexts { entries: vec![(u64::MAX, 0, [0; FLOAT_TEXT]); FLOAT_TEXTS] }
        }
    }

    impl FloatTexts {
        fn write(&mut self, out: &mut Vec<u8>, name: &'static str, x: f64) {
            if !x.is_finite() {
                return float(out, x);
            }
            let bits = x.to_bits();
            let hash = (bits ^ (name.as_ptr() as u64).rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let entry = &mut self.entries[(hash >> (64 - FLOAT_TEXTS.trailing_zeros())) as usize];
            if entry.0 != bits {
                let mut text = [0u8; FLOAT_TEXT];
                let mut rest: &mut [u8] = &mut text;
                if CompactFormatter.write_f64(&mut rest, x).is_err() {
                    // Longer than any double's text: not kept.
                    return float(out, x);
                }
                let len = FLOAT_TEXT - rest.len();
                *entry = (bits, len as u8, text);
            }
            push_prefix(out, &entry.2, usize::from(entry.1));
        }
    }

    fn float(out: &mut Vec<u8>, x: f64) {
        if x.is_finite() {
            let mut text = [0u8; FLOAT_TEXT];
            let mut rest: &mut [u8] = &mut text;
            if CompactFormatter.write_f64(&mut rest, x).is_ok() {
                let len = FLOAT_TEXT - rest.len();
                push_prefix(out, &text, len);
            } else {
                CompactFormatter.write_f64(out, x).expect("writes to memory");
            }
        } else {
            out.extend_from_slice(b"null");
        }
    }

    /// Appends `n` in decimal (`serde_json` writes integers with `itoa`: the same digits),
    /// two digits at a time.
    #[inline]
    fn int(out: &mut Vec<u8>, mut n: u64) {
        const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
            2021222324252627282930313233343536373839\
            4041424344454647484950515253545556575859\
            6061626364656667686970717273747576777879\
            8081828384858687888990919293949596979899";
        const POWERS: [u64; 20] = {
            let mut powers = [1u64; 20];
            let mut i = 1;
            while i < 20 {
                powers[i] = powers[i - 1] * 10;
                i += 1;
            }
            powers
        };
        let mut digits = 1;
        while digits < 20 && n >= POWERS[digits] {
            digits += 1;
        }
        let mut text = [0u8; 20];
        let mut end = digits;
        while end >= 2 {
            let pair = (n % 100) as usize * 2;
            n /= 100;
            text[end - 2..end].copy_from_slice(&PAIRS[pair..pair + 2]);
            end -= 2;
        }
        if end == 1 {
            text[0] = b'0' + n as u8;
        }
        push_prefix(out, &text, digits);
    }

    /// Whether a slice's ops are in name order, remembered by their names' addresses for
    /// the few sequences a run produces (comparing the names' text in every slice cost as
    /// much as writing them).
    #[derive(Default)]
    struct SortedOps {
        known: Vec<Vec<(usize, usize)>>,
        scratch: Vec<(usize, usize)>,
    }

    impl SortedOps {
        fn are_sorted(&mut self, ops: &[(&'static str, f64)]) -> bool {
            self.scratch.clear();
            self.scratch.extend(ops.iter().map(|(name, _)| (name.as_ptr() as usize, name.len())));
            if self.known.contains(&self.scratch) {
                return true;
            }
            let sorted = ops.is_sorted_by_key(|(name, _)| *name);
            // A name's address and length identify its text (the bytes at an address do not
            // change); a few sequences at most are kept.
            if sorted && self.known.len() < 16 {
                self.known.push(self.scratch.clone());
            }
            sorted
        }
    }

    /// Per-trace state of the writer: what it has learnt about names and values.
    #[derive(Default)]
    struct Memo {
        names: PlainNames,
        floats: FloatTexts,
        sorted: SortedOps,
    }

    /// Appends one complete ("X") event, keys in sorted order.
    fn event(out: &mut Vec<u8>, s: &ChromeSlice, memo: &mut Memo) {
        out.extend_from_slice(b"{\"args\":{\"batch_id\":");
        int(out, s.batch);
        out.extend_from_slice(b",\"batch_size\":");
        int(out, s.request_ids.len() as u64);
        out.extend_from_slice(b",\"num_decode_tokens\":");
        int(out, u64::from(s.num_decode_tokens));
        out.extend_from_slice(b",\"num_prefill_tokens\":");
        int(out, u64::from(s.num_prefill_tokens));
        out.extend_from_slice(b",\"op_ms\":{");
        let mut sorted = Vec::new();
        let ops: &[(&'static str, f64)] = if memo.sorted.are_sorted(&s.op_ms) {
            &s.op_ms
        } else {
            sorted.extend_from_slice(&s.op_ms);
            sorted.sort_unstable_by_key(|(name, _)| *name);
            &sorted
        };
        for (i, (name, ms)) in ops.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            memo.names.write(out, name);
            out.push(b':');
            memo.floats.write(out, name, *ms);
        }
        out.extend_from_slice(b"},\"request_ids\":[");
        for (i, id) in s.request_ids.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            int(out, u64::from(*id));
        }
        out.extend_from_slice(b"]},\"dur\":");
        float(out, s.duration_ns as f64 / 1e3);
        out.extend_from_slice(b",\"name\":\"batch ");
        int(out, s.batch);
        out.extend_from_slice(b" (");
        int(out, s.request_ids.len() as u64);
        out.extend_from_slice(b" req)\"");
        out.extend_from_slice(b",\"ph\":\"X\",\"pid\":\"replica ");
        int(out, u64::from(s.replica));
        out.extend_from_slice(b"\",\"tid\":\"stage ");
        int(out, u64::from(s.stage));
        out.extend_from_slice(b"\",\"ts\":");
        float(out, s.start_ns as f64 / 1e3);
        out.push(b'}');
    }

    /// The whole trace through `sink`, in pieces of about 64 KiB.
    pub fn write(
        slices: &[ChromeSlice],
        sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(1 << 17);
        let mut memo = Memo::default();
        buf.extend_from_slice(HEAD);
        for (i, s) in slices.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            event(&mut buf, s, &mut memo);
            if buf.len() >= 1 << 16 {
                sink(&buf)?;
                buf.clear();
            }
        }
        buf.extend_from_slice(TAIL);
        sink(&buf)
    }

    #[cfg(test)]
    mod tests {
        use super::super::ChromeSlice;
        use serde::Serialize;
        use serde::ser::{SerializeMap, SerializeStruct};

        /// The reference: `serde_json`'s serialisation of the trace with sorted keys.
        struct Reference<'a>(&'a [ChromeSlice]);
        struct Event<'a>(&'a ChromeSlice);
        struct Args<'a>(&'a ChromeSlice);
        struct Ops<'a>(&'a [(&'static str, f64)]);

        impl Serialize for Reference<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut top = serializer.serialize_struct("ChromeTrace", 2)?;
                top.serialize_field("displayTimeUnit", "ms")?;
                top.serialize_field("traceEvents", &self.0.iter().map(Event).collect::<Vec<_>>())?;
                top.end()
            }
        }
        impl Serialize for Event<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let s = self.0;
                let mut event = serializer.serialize_struct("ChromeEvent", 7)?;
                event.serialize_field("args", &Args(s))?;
                event.serialize_field("dur", &(s.duration_ns as f64 / 1e3))?;
                event.serialize_field("name", &format!("batch {} ({} req)", s.batch, s.request_ids.len()))?;
                event.serialize_field("ph", "X")?;
                event.serialize_field("pid", &format!("replica {}", s.replica))?;
                event.serialize_field("tid", &format!("stage {}", s.stage))?;
                event.serialize_field("ts", &(s.start_ns as f64 / 1e3))?;
                event.end()
            }
        }
        impl Serialize for Args<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let s = self.0;
                let mut args = serializer.serialize_struct("ChromeArgs", 6)?;
                args.serialize_field("batch_id", &s.batch)?;
                args.serialize_field("batch_size", &s.request_ids.len())?;
                args.serialize_field("num_decode_tokens", &s.num_decode_tokens)?;
                args.serialize_field("num_prefill_tokens", &s.num_prefill_tokens)?;
                args.serialize_field("op_ms", &Ops(&s.op_ms))?;
                args.serialize_field("request_ids", &s.request_ids)?;
                args.end()
            }
        }
        impl Serialize for Ops<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut ops = self.0.to_vec();
                crate::stats::sort_short_by(&mut ops, |(name, _)| *name);
                let mut map = serializer.serialize_map(Some(ops.len()))?;
                for (name, ms) in ops {
                    map.serialize_entry(name, &ms)?;
                }
                map.end()
            }
        }

        fn slice(batch: u64, ops: Vec<(&'static str, f64)>, ids: Vec<u32>) -> ChromeSlice {
            ChromeSlice {
                replica: 3,
                stage: 1,
                start_ns: 123_456_789_012 + batch * 7,
                duration_ns: 9_876_543 * batch + 1,
                batch,
                num_prefill_tokens: 512,
                num_decode_tokens: 17,
                request_ids: ids,
                op_ms: ops,
            }
        }

        fn written(slices: &[ChromeSlice]) -> String {
            let mut out = Vec::new();
            super::write(slices, &mut |piece| {
                out.extend_from_slice(piece);
                Ok(())
            })
            .unwrap();
            String::from_utf8(out).unwrap()
        }

        #[test]
        fn integers_are_itoa_s() {
            for n in [
                0,
                1,
                9,
                10,
                11,
                99,
                100,
                101,
                12_345,
                999_999,
                1_000_000,
                u64::from(u32::MAX),
                u64::MAX - 1,
                u64::MAX,
            ]
            .into_iter()
            .chain((0..2000).map(|i| i * 7919))
            {
                let mut out = b"x".to_vec();
                super::int(&mut out, n);
                assert_eq!(out, format!("x{n}").into_bytes());
            }
        }

        #[test]
        fn hand_written_trace_is_serde_json_s_bytes() {
            let many: Vec<ChromeSlice> = (0..3000)
                .map(|b| {
                    slice(
                        b,
                        vec![("add", 0.1 * b as f64), ("mlp_up_proj", 1e-9), ("zeta", 12345.678)],
                        (0..(b as u32 % 40)).collect(),
                    )
                })
                .collect();
            let odd = [
                // Unsorted ops, names that need escaping, extreme and non-finite times.
                slice(1, vec![("zz", f64::NAN), ("a\"b\\c", f64::INFINITY), ("tab\there", -0.0)], vec![]),
                slice(2, vec![], vec![u32::MAX]),
                slice(3, vec![("x", 1e300), ("y", 5e-324), ("\u{1}ctl", 2.5)], vec![0, 1]),
            ];
            for slices in [&many[..], &odd[..], &[][..]] {
                let expected = serde_json::to_string(&Reference(slices)).unwrap();
                assert_eq!(written(slices), expected);
            }
        }
    }
}

/// One batch (a row of `batch_metrics.csv`).
#[derive(Clone, Debug, PartialEq)]
pub struct BatchRecord {
    /// Batch sequence number.
    pub batch: u64,
    /// Replica.
    pub replica: u32,
    /// Formed at, s.
    pub scheduled_at: f64,
    /// Finished at, s.
    pub completed_at: f64,
    /// Formation to end, s.
    pub execution_time: f64,
    /// Requests.
    pub size: u32,
    /// Tokens.
    pub num_tokens: u32,
    /// Prefill tokens.
    pub num_prefill_tokens: u32,
    /// Decode tokens.
    pub num_decode_tokens: u32,
}

/// Equal-width histogram.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    /// Bin edges (bins + 1).
    pub edges: Vec<f64>,
    /// Counts per bin.
    pub counts: Vec<u64>,
}

impl Histogram {
    /// `bins` equal-width bins over the range of `values`.
    pub fn of(values: &[f64], bins: usize) -> Histogram {
        if values.is_empty() {
            return Histogram::default();
        }
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let width = if hi > lo { (hi - lo) / bins as f64 } else { 1.0 };
        let mut counts = vec![0u64; bins];
        for v in values {
            let b = (((v - lo) / width) as usize).min(bins - 1);
            counts[b] += 1;
        }
        Histogram { edges: (0..=bins).map(|i| lo + width * i as f64).collect(), counts }
    }
}

/// Time series of a run, all on the same buckets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TimeSeries {
    /// Bucket width, seconds.
    pub bucket_s: f64,
    /// Start of each bucket, seconds.
    pub time_s: Vec<f64>,
    /// Requests arrived per bucket.
    pub arrivals: Vec<f64>,
    /// Requests completed per bucket.
    pub completions: Vec<f64>,
    /// Prompt tokens processed per second.
    pub prefill_tokens_per_s: Vec<f64>,
    /// Output (decode) tokens processed per second.
    pub decode_tokens_per_s: Vec<f64>,
    /// Mean batch size of batches formed in the bucket.
    pub mean_batch_size: Vec<f64>,
    /// Mean KV usage (%) over replicas and samples in the bucket.
    pub kv_usage_percent: Vec<f64>,
    /// Mean KV usage (%) per replica.
    pub kv_usage_percent_per_replica: Vec<Vec<f64>>,
}

/// The load a run was offered against what it achieved (`metrics::load` defines the rates),
/// and the queue and first-token latency over simulated time, per bucket of
/// [`Report::time_series`]. Not part of `summary.json`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadReport {
    /// Requests that arrived.
    pub arrivals: u64,
    /// First to last arrival (or to the end of a run cut short), s.
    pub arrival_window_s: f64,
    /// Arrivals in the window, less one, over it, req/s; `None` with fewer than two.
    pub offered_rps: Option<f64>,
    /// Requests first scheduled in the window, less one, over it, req/s: the rate at which
    /// the cluster took requests on; `None` with fewer than two.
    pub achieved_rps: Option<f64>,
    /// Requests waiting for their first schedule at each bucket's end.
    pub waiting: Vec<f64>,
    /// Mean time to first token of the requests that arrived in each bucket and completed,
    /// s; `None` where none did.
    pub ttft_by_arrival_s: Vec<Option<f64>>,
}

/// Everything a run produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Headline numbers.
    pub summary: Summary,
    /// 101-point CDFs (quantiles 0.00..1.00) by metric, empty where there were no samples:
    /// Vidur's request time metrics, `ttft`, `tbt`, `tpot`, `e2e`, `scheduling_delay`, and the
    /// batch metrics.
    pub cdfs: BTreeMap<String, Vec<f64>>,
    /// 101-point CDFs of per-op stage times (ms), if operation metrics are on.
    pub operation_cdfs: BTreeMap<String, Vec<f64>>,
    /// Histograms of per-request token counts.
    pub histograms: BTreeMap<String, Histogram>,
    /// Time series.
    pub time_series: TimeSeries,
    /// Offered against achieved load, the queue and TTFT over time.
    pub load: LoadReport,
    /// Per-replica figures.
    pub replicas: Vec<ReplicaReport>,
    /// Completed requests by id, when `request_metrics.csv` is kept
    /// (`--metrics_config_store_request_metrics`) and was not streamed during the run
    /// ([`crate::Simulation::stream_request_records`]); empty otherwise.
    pub requests: Vec<RequestRecord>,
    /// Disaggregated: the KV transfers of the requests in `requests` that had one, by request
    /// id (the last columns of their rows); empty when aggregated or when `requests` is.
    /// Looked up by id, never iterated: a hash map, whose code the worker links anyway for
    /// other key types, where a B-tree of this type added ~8 KB to its wasm (BENCHMARKS.md,
    /// "Page weight at stop 36").
    pub request_transfers: rustc_hash::FxHashMap<u32, TransferRecord>,
    /// Refused and unfinished requests.
    pub request_errors: Vec<RequestError>,
    /// Batch-stage slices, if the Chrome trace is on.
    pub chrome_trace: Vec<ChromeSlice>,
    /// Batches, if individual batch metrics are on.
    pub batches: Vec<BatchRecord>,
    /// The full configuration, flat, with Vidur's flag names.
    pub config: serde_json::Value,
    /// Non-fatal observations.
    pub warnings: Vec<String>,
    /// Whether `request_metrics.csv` is written from [`Report::requests`] (false when it is
    /// off, or when its rows were streamed).
    pub keep_request_metrics: bool,
    /// Whether `plots/replica_metrics.json` is written
    /// (`--metrics_config_store_utilization_metrics`). The figures stay in [`Report::replicas`]
    /// either way: the summary's means and the page's charts are computed from them.
    pub keep_utilization_metrics: bool,
}

fn f6(x: f64) -> String {
    format!("{x:.6}")
}

impl Report {
    /// `summary.json`.
    pub fn summary_json(&self) -> String {
        let mut value = serde_json::to_value(&self.summary).expect("summary serialises");
        if let serde_json::Value::Object(map) = &mut value {
            map.insert("warnings".into(), self.warnings.clone().into());
        }
        serde_json::to_string_pretty(&value).expect("summary serialises") + "\n"
    }

    /// `request_metrics.csv`: Vidur's 25 columns, one row per completed request, by id.
    pub fn request_metrics_csv(&self) -> String {
        let disaggregated = self.summary.disaggregation.is_some();
        let mut out = RequestRecord::csv_header(disaggregated).into_bytes();
        for r in &self.requests {
            if disaggregated {
                r.write_disaggregated_csv_row(self.request_transfers.get(&r.id), &mut out);
            } else {
                r.write_csv_row(&mut out);
            }
        }
        String::from_utf8(out).expect("ASCII rows")
    }

    /// `request_errors.csv`: refused and unfinished requests with the reason.
    pub fn request_errors_csv(&self) -> String {
        let mut out = String::from(
            "Request Id,status,arrived_at,num_prefill_tokens,num_decode_tokens,replica,at,reason\n",
        );
        for e in &self.request_errors {
            let status = match e.status {
                RequestStatus::Refused => "refused",
                RequestStatus::Unfinished => "unfinished",
            };
            let _ = writeln!(
                out,
                "{},{status},{},{},{},{},{},\"{}\"",
                e.id,
                f6(e.arrived_at),
                e.num_prefill_tokens,
                e.num_decode_tokens,
                e.replica.map_or(String::new(), |r| r.to_string()),
                f6(e.at),
                e.reason.replace('"', "\"\"")
            );
        }
        out
    }

    /// `chrome_trace.json` (Chrome / Perfetto): one complete event per batch and stage; the
    /// process is the replica, the thread the stage. Serialised straight from the slices, with
    /// keys in sorted order (as a `serde_json::Value` would write them).
    pub fn chrome_trace_json(&self) -> String {
        let mut out = Vec::new();
        chrome_json::write(&self.chrome_trace, &mut |piece| {
            out.extend_from_slice(piece);
            Ok(())
        })
        .expect("writes to memory");
        String::from_utf8(out).expect("JSON text is UTF-8")
    }

    /// [`Report::chrome_trace_json`]'s bytes, written to `out` in pieces as they are made: a
    /// capped trace is still ~175 MB (200,000 slices with their per-op times), which the CLI
    /// streams to its file instead of building in memory.
    pub fn write_chrome_trace(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        chrome_json::write(&self.chrome_trace, &mut |piece| out.write_all(piece))
    }

    /// `batch_metrics.csv`.
    pub fn batch_metrics_csv(&self) -> String {
        let mut out = String::from(
            "Batch Id,replica,scheduled_at,completed_at,batch_execution_time,batch_size,batch_num_tokens,batch_num_prefill_tokens,batch_num_decode_tokens\n",
        );
        for b in &self.batches {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{}",
                b.batch,
                b.replica,
                f6(b.scheduled_at),
                f6(b.completed_at),
                f6(b.execution_time),
                b.size,
                b.num_tokens,
                b.num_prefill_tokens,
                b.num_decode_tokens
            );
        }
        out
    }

    /// Every output file as (relative path, contents), following Vidur's layout.
    pub fn files(&self, store_plots: bool, chrome_trace: bool) -> Vec<(String, String)> {
        let mut files = vec![
            (
                "config.json".to_string(),
                serde_json::to_string_pretty(&self.config).expect("config serialises") + "\n",
            ),
            ("summary.json".to_string(), self.summary_json()),
        ];
        if self.keep_request_metrics {
            files.push(("request_metrics.csv".to_string(), self.request_metrics_csv()));
        }
        files.push(("request_errors.csv".to_string(), self.request_errors_csv()));
        if chrome_trace {
            files.push(("chrome_trace.json".to_string(), self.chrome_trace_json()));
        }
        if !self.batches.is_empty() {
            files.push(("batch_metrics.csv".to_string(), self.batch_metrics_csv()));
        }
        if store_plots {
            for (name, cdf) in self.cdfs.iter().chain(&self.operation_cdfs) {
                let mut csv = format!("cdf,{name}\n");
                for (i, v) in cdf.iter().enumerate() {
                    let _ = writeln!(csv, "{:.2},{}", i as f64 / 100.0, v);
                }
                files.push((format!("plots/{name}.csv"), csv));
            }
            for (name, h) in &self.histograms {
                let mut csv = format!("bin_start,bin_end,{name}_count\n");
                for (i, c) in h.counts.iter().enumerate() {
                    let _ = writeln!(csv, "{},{},{c}", h.edges[i], h.edges[i + 1]);
                }
                files.push((format!("plots/{name}_histogram.csv"), csv));
            }
            let ts = &self.time_series;
            let mut csv = String::from(
                "Time (sec),arrivals,completions,cumulative_arrivals,cumulative_completions,prefill_tokens_per_s,decode_tokens_per_s,mean_batch_size,kv_usage_percent\n",
            );
            let (mut ca, mut cc) = (0.0, 0.0);
            for i in 0..ts.time_s.len() {
                ca += ts.arrivals[i];
                cc += ts.completions[i];
                let _ = writeln!(
                    csv,
                    "{},{},{},{ca},{cc},{},{},{},{}",
                    ts.time_s[i],
                    ts.arrivals[i],
                    ts.completions[i],
                    ts.prefill_tokens_per_s[i],
                    ts.decode_tokens_per_s[i],
                    ts.mean_batch_size[i],
                    ts.kv_usage_percent[i]
                );
            }
            files.push(("plots/time_series.csv".to_string(), csv));
            if self.keep_utilization_metrics {
                let replicas = serde_json::to_string_pretty(&self.replicas).expect("replicas serialise");
                files.push(("plots/replica_metrics.json".to_string(), replicas + "\n"));
            }
        }
        files
    }
}

#[cfg(test)]
mod record_tests {
    use super::*;

    #[test]
    fn a_record_stays_compact_and_a_disaggregated_row_adds_the_transfers_columns() {
        // An aggregated run's records are as before (the transfers are kept apart).
        assert_eq!(std::mem::size_of::<RequestRecord>(), 96);
        let record = RequestRecord { id: 3, replica: 1, num_decode_tokens: 2, ..RequestRecord::default() };
        let mut row = Vec::new();
        record.write_csv_row(&mut row);
        let row = String::from_utf8(row).unwrap();
        let columns = |text: &str| text.trim_end().split(',').count();
        let header = RequestRecord::csv_header(false);
        assert!(header.ends_with(",request_arrived_at,replica\n"), "{header}");
        assert!(row.ends_with(",1\n"), "{row}");
        assert_eq!(columns(&row), columns(&header));
        // Disaggregated: three more columns, empty without a transfer.
        let header = RequestRecord::csv_header(true);
        assert!(header.ends_with(",replica,decode_replica,kv_transfer_wait_time,kv_transfer_time\n"));
        let transfer = TransferRecord { decode_replica: 4, wait_ns: 1_500_000, transfer_ns: 250 };
        for (transfer, tail) in [(None, ",1,,,\n"), (Some(&transfer), ",1,4,0.001500,0.000000\n")] {
            let mut with = Vec::new();
            record.write_disaggregated_csv_row(transfer, &mut with);
            let with = String::from_utf8(with).unwrap();
            assert!(with.ends_with(tail), "{with}");
            assert_eq!(with[..row.len() - 1], row[..row.len() - 1]);
            assert_eq!(columns(&with), columns(&header));
        }
    }
}
