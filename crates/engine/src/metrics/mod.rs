//! Metric collection during a run, and the report built from it at the end.

mod load;
mod overload;
mod series;
mod sketch;
mod slo;
mod stream;

pub use overload::{OverloadDetector, OverloadWindow};
pub use series::BucketSeries;
pub use sketch::QuantileSketch;
// The statistics a report quotes, also reachable here for callers that read reports.
pub use crate::stats::{Stats, exact_stats};
use load::RequestSpan;
use stream::RecordStream;

use std::collections::BTreeMap;

use crate::batch::Batch;
use crate::config::MetricsSpec;
use crate::exec::cost::causal_pairs;
use crate::exec::{ExecutionTime, Op, Provenance, ProvenanceTotals};
use crate::kv::{KvUsage, PrefixCacheStats};
use crate::report::{
    BatchRecord, ChromeSlice, CostReport, DisaggSummary, Histogram, LoadReport, MemorySummary,
    OverloadReport, Pool, PoolSummary, PredictorSummary, ReplicaReport, Report, RequestError, RequestRecord,
    RequestStatus, StageUtilization, Summary, Throughput, TimeSeries, TransferRecord,
};
use crate::request::{ReplicaId, Request, RequestArena, RequestId};
use crate::sim_config::SimConfig;
use crate::stats::{sorted_cdf, sorted_stats};
use crate::time::{Nanos, SimTime, nanos_to_secs};

/// The name of the KV-transfer time CDF in [`crate::report::Report::cdfs`] (disaggregated runs
/// only).
pub const KV_TRANSFER_CDF: &str = "kv_transfer";

/// Series channels.
const CH_ARRIVALS: usize = 0;
const CH_COMPLETIONS: usize = 1;
const CH_PREFILL_TOKENS: usize = 2;
const CH_DECODE_TOKENS: usize = 3;
const CH_BATCHES: usize = 4;
const CH_BATCH_SIZE: usize = 5;
const CH_KV_FIRST: usize = 6;

/// Per-replica accumulators.
#[derive(Clone, Debug, Default)]
struct ReplicaAcc {
    busy_ns: Vec<Nanos>,
    /// Σ MFU% × stage ns, per stage.
    mfu_weighted: Vec<f64>,
    /// The MFU% of the stage running now, per stage.
    mfu_current: Vec<f64>,
    kv_min: f64,
    kv_max: f64,
    /// ∫ KV% dt (ns).
    kv_area: f64,
    kv_last: f64,
    kv_last_t: SimTime,
    kv_sampled: bool,
    kv_samples: u64,
    kv_sum: f64,
    num_batches: u64,
    num_completed: u64,
    prompt_tokens_completed: u64,
    cached_tokens_completed: u64,
}

/// Collects metrics as the simulation reports what happens.
pub struct Metrics {
    spec: MetricsSpec,
    num_replicas: usize,
    /// Completed requests in completion order: every exact per-request distribution is computed
    /// from these at the end (96 bytes each; the requests themselves are released).
    records: Vec<RequestRecord>,
    /// Request records handed out as they become final, when streaming.
    stream: Option<RecordStream>,
    errors: Vec<RequestError>,
    /// The queue spans of refused and unfinished requests (completed ones are in `records`).
    unserved: Vec<RequestSpan>,
    /// Σ restarts of completed and refused requests.
    num_restarts: u64,
    /// Warm-up requests completed (no record: left out of the statistics).
    num_warmup: u64,
    tbt: QuantileSketch,
    batch_size: QuantileSketch,
    batch_tokens: QuantileSketch,
    batch_prefill_tokens: QuantileSketch,
    batch_decode_tokens: QuantileSketch,
    batch_time: QuantileSketch,
    op_ms: Vec<QuantileSketch>,
    series: BucketSeries,
    replicas: Vec<ReplicaAcc>,
    chrome: Vec<ChromeSlice>,
    /// Slices not kept because of `--metrics_config_chrome_trace_max_slices`.
    chrome_dropped: u64,
    /// Every op, by name: the order of a Chrome slice's op times (and of its JSON keys).
    ops_by_name: [Op; Op::COUNT],
    batch_records: Vec<BatchRecord>,
    /// Predicted milliseconds by `Provenance as usize` (summed in op order, as
    /// `ProvenanceTotals::add` does, without its search per op).
    provenance_ms: [f64; PROVENANCE_SLOTS],
    num_batches: u64,
    /// Whether the arrivals outgrow the cluster.
    overload: OverloadDetector,
    /// Inputs of the MFU formula per pool (the decode pool's second, when disaggregated).
    mfu: Vec<MfuInputs>,
    /// The first decode replica of a disaggregated cluster (else the replica count).
    decode_from: usize,
    /// KV transfers (disaggregated): link time and prefill-end-to-start wait, ns.
    kv_transfer_ns: Vec<Nanos>,
    kv_transfer_wait_ns: Vec<Nanos>,
    num_kv_transfers_nvlink: u64,
    /// Disaggregated: each request's KV transfer, by request id, for its row of
    /// `request_metrics.csv` (moved into the report, or taken as its row is streamed).
    transfers: rustc_hash::FxHashMap<u32, TransferRecord>,
}

/// Inputs of the MFU formula (behaviour.md §7.7) for one pool's replicas.
#[derive(Clone, Copy, Debug)]
struct MfuInputs {
    params_per_device: f64,
    attention_flops_per_token_pair: f64,
    peak_flops: f64,
}

impl MfuInputs {
    fn of(config: &SimConfig) -> MfuInputs {
        let m = &config.replica.model;
        // A token's attention runs on one attention-DP rank's TP GPUs: per GPU of the stage,
        // 1 / DP of it on average.
        let tp = f64::from(
            config.replica.parallel.tensor_parallel_size * config.replica.parallel.attention_dp_size,
        );
        let layers = f64::from(config.replica.layers_per_stage());
        MfuInputs {
            // Layer weights a token multiplies by (see `MemoryPlan::active_layer_params_per_device`).
            params_per_device: config.memory.active_layer_params_per_device as f64,
            // QKᵀ and PV: 2 FLOPs per query/key element and per value element of each head
            // (latent attention's keys are nope + rope wide, its values v).
            attention_flops_per_token_pair: 2.0
                * layers
                * (f64::from(m.num_q_heads) / tp)
                * m.mla.as_ref().map_or(2.0 * f64::from(m.head_dim()), |l| {
                    f64::from(l.qk_head_dim()) + f64::from(l.v_head_dim)
                }),
            peak_flops: config.replica.device.fp16_tflops * 1e12,
        }
    }
}

/// Room for every `Provenance` discriminant.
const PROVENANCE_SLOTS: usize = 8;

/// What the simulation hands over when it ends.
pub struct RunEnd<'a> {
    /// The configuration.
    pub config: &'a SimConfig,
    /// The final clock.
    pub now: SimTime,
    /// The requests not released (those in flight); `len()` counts every arrival.
    pub requests: &'a RequestArena,
    /// Requests neither completed nor refused.
    pub unfinished: &'a [RequestId],
    /// Events handled.
    pub events: u64,
    /// Whether `--time_limit` ended the run.
    pub time_limit_reached: bool,
    /// Whether the workload still had requests to send when the run ended (time limit).
    pub arrivals_cut_off: bool,
    /// The predictor's description.
    pub predictor: String,
    /// Prefix-cache lookup statistics per replica.
    pub prefix_stats: Vec<PrefixCacheStats>,
    /// KV usage per replica at the end.
    pub final_kv: Vec<KvUsage>,
    /// Whether the run was stopped because it was overloaded.
    pub stopped_for_overload: bool,
}

impl Metrics {
    /// An empty collector for `config`.
    pub fn new(config: &SimConfig) -> Metrics {
        let pools: Vec<&SimConfig> =
            std::iter::once(config).chain(config.disagg.as_ref().map(|d| &*d.decode)).collect();
        let decode_from = config.cluster.num_replicas as usize;
        let n: usize = pools.iter().map(|c| c.cluster.num_replicas as usize).sum();
        let mut replicas = Vec::with_capacity(n);
        for pool in &pools {
            let stages = pool.replica.parallel.num_pipeline_stages as usize;
            let replica = ReplicaAcc {
                busy_ns: vec![0; stages],
                mfu_weighted: vec![0.0; stages],
                mfu_current: vec![0.0; stages],
                kv_min: f64::INFINITY,
                ..ReplicaAcc::default()
            };
            replicas.extend(std::iter::repeat_n(replica, pool.cluster.num_replicas as usize));
        }
        Metrics {
            spec: config.metrics.clone(),
            num_replicas: n,
            // One allocation of the right size when the workload's size is known.
            records: Vec::with_capacity(
                config.workload.build.expected_requests.unwrap_or(0).min(1 << 20) as usize
            ),
            stream: None,
            errors: Vec::new(),
            unserved: Vec::new(),
            num_restarts: 0,
            num_warmup: 0,
            tbt: QuantileSketch::new(),
            batch_size: QuantileSketch::new(),
            batch_tokens: QuantileSketch::new(),
            batch_prefill_tokens: QuantileSketch::new(),
            batch_decode_tokens: QuantileSketch::new(),
            batch_time: QuantileSketch::new(),
            op_ms: if config.metrics.store_operation_metrics {
                vec![QuantileSketch::new(); Op::COUNT]
            } else {
                Vec::new()
            },
            series: BucketSeries::new(CH_KV_FIRST + 2 * n),
            replicas,
            chrome: Vec::new(),
            chrome_dropped: 0,
            ops_by_name: {
                let mut ops = Op::ALL;
                crate::stats::sort_short_by(&mut ops, |op| op.name());
                ops
            },
            batch_records: Vec::new(),
            provenance_ms: [0.0; PROVENANCE_SLOTS],
            num_batches: 0,
            overload: OverloadDetector::new(config.workload.build.expected_requests),
            mfu: pools.iter().map(|c| MfuInputs::of(c)).collect(),
            decode_from,
            kv_transfer_ns: Vec::new(),
            kv_transfer_wait_ns: Vec::new(),
            num_kv_transfers_nvlink: 0,
            transfers: Default::default(),
        }
    }

    /// Hands request records out while the run goes on ([`Metrics::drain_records`]) instead
    /// of keeping them for the report.
    pub fn stream_records(&mut self) {
        self.stream = Some(RecordStream::new(self.num_replicas));
    }

    /// Moves the request records that are final into `into`, in id order; with `run_over`,
    /// requests still open are unfinished, so every remaining record is final.
    pub fn drain_records(&mut self, into: &mut Vec<RequestRecord>, run_over: bool) {
        if let Some(stream) = &mut self.stream {
            if run_over {
                stream.on_end();
            }
            stream.drain(into);
        }
    }

    /// A request arrived.
    pub fn on_arrival(&mut self, request: &Request) {
        self.series.add(request.arrived_at, CH_ARRIVALS, 1.0);
        self.overload.on_arrival(request.arrived_at);
        if let Some(stream) = &mut self.stream {
            stream.on_arrival(request.id.0);
        }
    }

    /// A request was put in a batch for the first time.
    pub fn on_first_schedule(&mut self, request: &Request) {
        self.overload.on_first_schedule();
        if let (Some(stream), Some(replica), Some(at)) =
            (&mut self.stream, request.replica, request.scheduled_at)
        {
            stream.on_first_schedule(replica.0, at.0, request.id.0);
        }
    }

    /// A request was refused.
    pub fn on_refused(&mut self, request: &Request, now: SimTime, reason: String) {
        self.num_restarts += u64::from(request.num_restarts);
        self.overload.on_refused(request.scheduled_at.is_some());
        if let Some(stream) = &mut self.stream {
            let scheduled = request.replica.zip(request.scheduled_at).map(|(r, t)| (r.0, t.0));
            stream.on_dropped(request.id.0, scheduled);
        }
        self.unserved.push(RequestSpan {
            arrived_ns: request.arrived_at.0,
            started_ns: request.scheduled_at.map(|t| t.0),
            left_queue_ns: Some(request.scheduled_at.unwrap_or(now).0),
            ttft_ns: None,
        });
        self.errors.push(RequestError {
            id: request.id.0,
            arrived_at: request.arrived_at.as_secs_f64(),
            num_prefill_tokens: request.original_prefill_tokens,
            num_decode_tokens: request.original_decode_tokens,
            replica: request.replica.map(|r| r.0),
            status: RequestStatus::Refused,
            at: now.as_secs_f64(),
            reason,
        });
    }

    /// Whether the arrivals outgrow the cluster so far (`overload.rs`).
    pub fn is_overloaded(&self) -> bool {
        self.overload.is_overloaded()
    }

    /// A batch was formed.
    pub fn on_batch_scheduled(&mut self, batch: &Batch, now: SimTime) {
        self.num_batches += 1;
        self.replicas[batch.replica.0 as usize].num_batches += 1;
        self.series.add(now, CH_BATCHES, 1.0);
        self.series.add(now, CH_BATCH_SIZE, batch.size() as f64);
        if self.spec.store_batch_metrics {
            self.batch_size.add(batch.size() as f64);
            self.batch_tokens.add(f64::from(batch.total_tokens()));
            self.batch_prefill_tokens.add(f64::from(batch.num_prefill_tokens));
            self.batch_decode_tokens.add(f64::from(batch.num_decode_tokens));
        }
    }

    /// A batch started a stage with the predicted `time`, `total_ns` long.
    pub fn on_stage_start(
        &mut self,
        batch: &Batch,
        stage: u32,
        now: SimTime,
        time: &ExecutionTime,
        total_ns: u64,
    ) {
        for (ms, provenance) in time.op_ms.iter().zip(&time.provenance) {
            self.provenance_ms[*provenance as usize] += ms;
        }
        let inputs = self.mfu[usize::from(batch.replica.0 as usize >= self.decode_from)];
        let flops: f64 = 2.0 * f64::from(batch.total_tokens()) * inputs.params_per_device
            + batch
                .items
                .iter()
                .map(|i| {
                    // Causal pairs, as the kernels compute them and the execution model times
                    // them (`PrefillWork::add`). Vidur counts n·(n + processed), a full square
                    // for the chunk, which put a long prompt's MFU above 100 %.
                    inputs.attention_flops_per_token_pair
                        * causal_pairs(f64::from(i.num_tokens), f64::from(i.num_processed_tokens))
                })
                .sum::<f64>();
        let mfu = flops / (nanos_to_secs(total_ns) * inputs.peak_flops) * 100.0;
        let acc = &mut self.replicas[batch.replica.0 as usize];
        acc.mfu_current[stage as usize] = mfu;
        for (sketch, ms) in self.op_ms.iter_mut().zip(&time.op_ms) {
            if *ms > 0.0 {
                sketch.add(*ms);
            }
        }
        if self.spec.enable_chrome_trace
            && self.spec.chrome_trace_max_slices.is_some_and(|max| self.chrome.len() as u64 >= max)
        {
            self.chrome_dropped += 1;
        } else if self.spec.enable_chrome_trace {
            self.chrome.push(ChromeSlice {
                replica: batch.replica.0,
                stage,
                start_ns: now.0,
                duration_ns: total_ns,
                batch: batch.seq,
                num_prefill_tokens: batch.num_prefill_tokens,
                num_decode_tokens: batch.num_decode_tokens,
                request_ids: batch.plan.requests.iter().map(|r| r.0).collect(),
                op_ms: {
                    // Sized first: growing the vector by doubling was most of a slice's cost.
                    let ran = |op: &&Op| time.get(**op) > 0.0;
                    let mut op_ms = Vec::with_capacity(self.ops_by_name.iter().filter(ran).count());
                    op_ms.extend(self.ops_by_name.iter().filter(ran).map(|op| (op.name(), time.get(*op))));
                    op_ms
                },
            });
        }
    }

    /// A stage that started at `started` ended now.
    pub fn on_stage_end(&mut self, replica: ReplicaId, stage: u32, started: SimTime, now: SimTime) {
        let acc = &mut self.replicas[replica.0 as usize];
        let ns = now.since(started);
        acc.busy_ns[stage as usize] += ns;
        acc.mfu_weighted[stage as usize] += acc.mfu_current[stage as usize] * ns as f64;
    }

    /// Request `id`'s KV transfer (disaggregated) to `decode_replica` started `wait_ns` after
    /// its prefill ended and holds its link for `transfer_ns`.
    pub fn on_kv_transfer(
        &mut self,
        id: RequestId,
        decode_replica: ReplicaId,
        wait_ns: Nanos,
        transfer_ns: Nanos,
        link: crate::disagg::LinkKind,
    ) {
        self.kv_transfer_wait_ns.push(wait_ns);
        self.kv_transfer_ns.push(transfer_ns);
        self.num_kv_transfers_nvlink += u64::from(link == crate::disagg::LinkKind::NvLink);
        // Kept only for the request rows that are output (streamed rows take theirs).
        if self.spec.store_request_metrics {
            self.transfers
                .insert(id.0, TransferRecord { decode_replica: decode_replica.0, wait_ns, transfer_ns });
        }
    }

    /// Takes request `id`'s KV transfer (disaggregated), as its streamed row is written.
    pub fn take_transfer(&mut self, id: u32) -> Option<TransferRecord> {
        self.transfers.remove(&id)
    }

    /// `k` tokens in a row each came `gap` after their request's previous one: `k` samples,
    /// added with one bucket look-up (a decode batch's requests mostly share their previous
    /// token's time, so their gaps are equal); `k` = 0 adds nothing.
    pub fn on_token_gaps(&mut self, gap: Nanos, k: u64) {
        self.tbt.add_n(nanos_to_secs(gap), k);
    }

    /// A batch finished its last stage.
    pub fn on_batch_end(&mut self, batch: &Batch, now: SimTime) {
        self.series.add(now, CH_PREFILL_TOKENS, f64::from(batch.num_prefill_tokens));
        self.series.add(now, CH_DECODE_TOKENS, f64::from(batch.num_decode_tokens));
        let seconds = nanos_to_secs(now.since(batch.scheduled_at));
        if self.spec.store_batch_metrics {
            self.batch_time.add(seconds);
        }
        if self.spec.keep_individual_batch_metrics {
            self.batch_records.push(BatchRecord {
                batch: batch.seq,
                replica: batch.replica.0,
                scheduled_at: batch.scheduled_at.as_secs_f64(),
                completed_at: now.as_secs_f64(),
                execution_time: seconds,
                size: batch.size() as u32,
                num_tokens: batch.total_tokens(),
                num_prefill_tokens: batch.num_prefill_tokens,
                num_decode_tokens: batch.num_decode_tokens,
            });
        }
    }

    /// KV usage of `replica` at `now`.
    pub fn sample_kv(&mut self, replica: ReplicaId, now: SimTime, usage: KvUsage) {
        let pct = usage.percent();
        let r = replica.0 as usize;
        let acc = &mut self.replicas[r];
        if acc.kv_sampled {
            acc.kv_area += acc.kv_last * now.since(acc.kv_last_t) as f64;
        }
        acc.kv_sampled = true;
        acc.kv_last = pct;
        acc.kv_last_t = now;
        acc.kv_min = acc.kv_min.min(pct);
        acc.kv_max = acc.kv_max.max(pct);
        acc.kv_samples += 1;
        acc.kv_sum += pct;
        self.series.add(now, CH_KV_FIRST + 2 * r, pct);
        self.series.add(now, CH_KV_FIRST + 2 * r + 1, 1.0);
    }

    /// A request completed.
    pub fn on_request_end(&mut self, request: &Request) {
        let replica = request.replica.map_or(0, |r| r.0);
        self.num_restarts += u64::from(request.num_restarts);
        if request.warmup {
            // No row, so nor its transfer's columns (disaggregated).
            self.transfers.remove(&request.id.0);
            // Simulated like any request, but a benchmark leaves it out of its statistics.
            self.num_warmup += 1;
            if let Some(stream) = &mut self.stream {
                stream.on_dropped(request.id.0, request.scheduled_at.map(|at| (replica, at.0)));
            }
            return;
        }
        // Disaggregated: it completed on its decode replica (if it went there); its prompt and
        // cached tokens stay with the replica that prefilled it (and holds its prefix cache).
        self.replicas[request.decode_replica.map_or(replica, |r| r.0) as usize].num_completed += 1;
        let acc = &mut self.replicas[replica as usize];
        acc.prompt_tokens_completed += u64::from(request.original_prefill_tokens);
        acc.cached_tokens_completed += u64::from(request.num_prefill_tokens_cached);
        let completed_at = request.completed_at.unwrap_or_default();
        self.series.add(completed_at, CH_COMPLETIONS, 1.0);
        let record = RequestRecord {
            id: request.id.0,
            replica,
            arrived_at_ns: request.arrived_at.0,
            scheduled_at_ns: request.scheduled_at.unwrap_or(completed_at).0,
            // The first token reaches the client at the prefill's end, or (disaggregated, first
            // token after the transfer) when the KV cache reached the decode replica.
            prefill_completed_at_ns: request
                .first_token_streamed_at
                .or(request.prefill_completed_at)
                .unwrap_or(completed_at)
                .0,
            completed_at_ns: completed_at.0,
            execution_ns: request.execution_ns,
            model_execution_ns: request.model_execution_ns,
            preempted_ns: request.preempted_ns,
            inter_arrival_ns: 0,
            num_prefill_tokens: request.original_prefill_tokens,
            num_decode_tokens: request.original_decode_tokens,
            num_prefill_tokens_cached: request.num_prefill_tokens_cached,
            num_restarts: request.num_restarts,
            max_token_gap_ns: request.max_token_gap_ns,
        };
        if let Some(stream) = &mut self.stream {
            stream.on_completed(record.clone());
        }
        self.records.push(record);
    }

    /// Builds the report.
    pub fn finish(mut self, end: RunEnd) -> Report {
        let config = end.config;
        self.close_unfinished(&end);
        // Rows for the report are kept only when they are output and were not streamed.
        let keep_records = self.spec.store_request_metrics && self.stream.is_none();
        if keep_records {
            set_inter_arrival_delays(&mut self.records);
        }
        let (cdfs, latency) = self.distributions();
        let operation_cdfs = self.operation_cdfs();
        let replicas = self.replica_reports(&end);
        let time_series = self.time_series();
        let load = self.load(&end);
        let summary = self.summary(&end, &replicas, latency);
        let histograms = histograms(&self.records);
        let warnings = self.warnings(&end);
        Report {
            summary,
            cdfs,
            operation_cdfs,
            histograms,
            time_series,
            load,
            replicas,
            requests: if keep_records { self.records } else { Vec::new() },
            request_transfers: if keep_records { self.transfers } else { Default::default() },
            request_errors: self.errors,
            chrome_trace: self.chrome,
            batches: self.batch_records,
            config: config.raw.to_json(true),
            warnings,
            keep_request_metrics: keep_records,
            keep_utilization_metrics: self.spec.store_utilization_metrics,
        }
    }

    /// The summary alone, equal to [`Metrics::finish`]'s: what a capacity search reads of a
    /// run, without the CDFs, histograms, time series and load report it never reads.
    pub fn finish_summary(mut self, end: RunEnd) -> Summary {
        self.close_unfinished(&end);
        // The same record order as `finish` leaves (some of the summary's sums are over them).
        if self.spec.store_request_metrics && self.stream.is_none() {
            set_inter_arrival_delays(&mut self.records);
        }
        let latency = self.latency();
        let replicas = self.replica_reports(&end);
        self.summary(&end, &replicas, latency)
    }

    /// The summary's latency statistics alone ([`Metrics::distributions`] computes the same
    /// from the same sorted columns, with every CDF).
    fn latency(&self) -> Latency {
        let mut values = Vec::with_capacity(self.records.len());
        let mut stats = |f: &dyn Fn(&RequestRecord) -> Option<f64>| -> Stats {
            values.clear();
            values.extend(self.records.iter().filter_map(f));
            radsort::sort(&mut values);
            sorted_stats(&values)
        };
        Latency {
            e2e: stats(&|r| Some(r.e2e())),
            ttft: stats(&|r| Some(r.ttft())),
            scheduling_delay: stats(&|r| Some(r.scheduling_delay())),
            tpot: stats(&|r| r.tpot()),
        }
    }

    /// Lists the requests still in flight at the end as unfinished, and orders the errors by id.
    fn close_unfinished(&mut self, end: &RunEnd) {
        for &id in end.unfinished {
            let r = end.requests.get(id);
            self.num_restarts += u64::from(r.num_restarts);
            self.unserved.push(RequestSpan {
                arrived_ns: r.arrived_at.0,
                started_ns: r.scheduled_at.map(|t| t.0),
                left_queue_ns: r.scheduled_at.map(|t| t.0),
                ttft_ns: None,
            });
            self.errors.push(RequestError {
                id: id.0,
                arrived_at: r.arrived_at.as_secs_f64(),
                num_prefill_tokens: r.original_prefill_tokens,
                num_decode_tokens: r.original_decode_tokens,
                replica: r.replica.map(|x| x.0),
                status: RequestStatus::Unfinished,
                at: end.now.as_secs_f64(),
                reason: if end.stopped_for_overload {
                    "still in flight when the run was stopped for overload".to_string()
                } else if end.time_limit_reached {
                    "still in flight when the time limit ended the run".to_string()
                } else {
                    "not finished when the run ended".to_string()
                },
            });
        }
        crate::stats::sort_stably_by(&mut self.errors, |e| u64::from(e.id));
    }

    /// The 101-point CDFs of the per-request metrics (exact, one sorted column at a time) and
    /// of the streamed TBT and batch sketches, with the summary's latency statistics.
    fn distributions(&self) -> (BTreeMap<String, Vec<f64>>, Latency) {
        // The order of the records does not matter, since each column is sorted by value.
        let mut cdfs = BTreeMap::new();
        let mut column_values = Vec::with_capacity(self.records.len());
        let mut column = |names: &[&str], f: &dyn Fn(&RequestRecord) -> Option<f64>| -> Stats {
            column_values.clear();
            column_values.extend(self.records.iter().filter_map(f));
            // A radix sort orders floats by their bits as `f64::total_cmp` does, and equal keys
            // are equal bits, so the sequence is the one a comparison sort gives.
            radsort::sort(&mut column_values);
            let cdf = sorted_cdf(&column_values);
            for name in names {
                cdfs.insert((*name).to_string(), cdf.clone());
            }
            sorted_stats(&column_values)
        };
        // Three of Vidur's columns are the summary's TTFT, e2e and scheduling delay: sorted once.
        let mut latency = Latency::default();
        for (name, f) in RequestRecord::TIME_COLUMNS {
            match name {
                "request_e2e_time" => latency.e2e = column(&[name, "e2e"], &|r| Some(r.e2e())),
                "prefill_e2e_time" => latency.ttft = column(&[name, "ttft"], &|r| Some(r.ttft())),
                "request_scheduling_delay" => {
                    latency.scheduling_delay =
                        column(&[name, "scheduling_delay"], &|r| Some(r.scheduling_delay()))
                }
                _ => {
                    column(&[name], &|r| Some(f(r)));
                }
            }
        }
        latency.tpot = column(&["tpot"], &|r| r.tpot());
        drop(column_values);
        cdfs.insert("tbt".to_string(), self.tbt.cdf());
        // A disaggregated run's KV transfers: the time each held its link, seconds.
        if !self.kv_transfer_ns.is_empty() {
            let mut transfer_s: Vec<f64> = self.kv_transfer_ns.iter().map(|n| nanos_to_secs(*n)).collect();
            radsort::sort(&mut transfer_s);
            cdfs.insert(KV_TRANSFER_CDF.to_string(), sorted_cdf(&transfer_s));
        }
        if self.spec.store_batch_metrics {
            cdfs.insert("batch_size".to_string(), self.batch_size.cdf());
            cdfs.insert("batch_num_tokens".to_string(), self.batch_tokens.cdf());
            cdfs.insert("batch_num_prefill_tokens".to_string(), self.batch_prefill_tokens.cdf());
            cdfs.insert("batch_num_decode_tokens".to_string(), self.batch_decode_tokens.cdf());
            cdfs.insert("batch_execution_time".to_string(), self.batch_time.cdf());
        }
        (cdfs, latency)
    }

    /// The CDFs of per-op stage times (ms) of the ops that ran.
    fn operation_cdfs(&self) -> BTreeMap<String, Vec<f64>> {
        self.op_ms
            .iter()
            .zip(Op::ALL)
            .filter(|(s, _)| s.count() > 0)
            .map(|(s, op)| (op.name().to_string(), s.cdf()))
            .collect()
    }

    /// Each replica's KV usage, batches, busy time, MFU and prefix-cache figures.
    fn replica_reports(&self, end: &RunEnd) -> Vec<ReplicaReport> {
        let sim_ns = end.now.0.max(1);
        self.replicas
            .iter()
            .enumerate()
            .map(|(r, acc)| {
                let mut kv_area = acc.kv_area;
                if acc.kv_sampled {
                    kv_area += acc.kv_last * end.now.since(acc.kv_last_t) as f64;
                }
                let stats = end.prefix_stats.get(r).copied().unwrap_or_default();
                ReplicaReport {
                    replica: r as u32,
                    pool: end
                        .config
                        .disagg
                        .as_ref()
                        .map(|_| if r >= self.decode_from { Pool::Decode } else { Pool::Prefill }),
                    num_blocks: match &end.config.disagg {
                        Some(d) if r >= self.decode_from => d.decode.memory.num_blocks,
                        _ => end.config.memory.num_blocks,
                    },
                    num_batches: acc.num_batches,
                    num_completed: acc.num_completed,
                    kv_usage_percent_min: if acc.kv_sampled { acc.kv_min } else { 0.0 },
                    kv_usage_percent_max: acc.kv_max.max(0.0),
                    kv_usage_percent_mean: kv_area / sim_ns as f64,
                    kv_usage_percent_sample_mean: if acc.kv_samples > 0 {
                        acc.kv_sum / acc.kv_samples as f64
                    } else {
                        0.0
                    },
                    kv_blocks_allocated_at_end: end.final_kv.get(r).map_or(0, |k| k.allocated_blocks),
                    stages: (0..acc.busy_ns.len())
                        .map(|s| StageUtilization {
                            stage: s as u32,
                            busy_percent: acc.busy_ns[s] as f64 * 100.0 / sim_ns as f64,
                            mfu_percent: acc.mfu_weighted[s] / sim_ns as f64,
                        })
                        .collect(),
                    prefix_cache_hit_rate: ratio(acc.cached_tokens_completed, acc.prompt_tokens_completed),
                    prefix_cached_prompt_tokens: acc.cached_tokens_completed,
                    prompt_tokens: acc.prompt_tokens_completed,
                    prefix_cache_block_lookups: stats.queried_blocks,
                    prefix_cache_block_hits: stats.hit_blocks,
                }
            })
            .collect()
    }

    /// The time series, every channel on the same buckets.
    fn time_series(&self) -> TimeSeries {
        let buckets = self.series.len().max(1);
        let width = self.series.width_secs();
        let chan = |c: usize| self.series.channel(c, buckets);
        let batches = chan(CH_BATCHES);
        let batch_sizes = chan(CH_BATCH_SIZE);
        let mut kv_total = vec![0.0; buckets];
        let mut kv_count = vec![0.0; buckets];
        let mut kv_per_replica = Vec::with_capacity(self.num_replicas);
        for r in 0..self.num_replicas {
            let sums = chan(CH_KV_FIRST + 2 * r);
            let counts = chan(CH_KV_FIRST + 2 * r + 1);
            for b in 0..buckets {
                kv_total[b] += sums[b];
                kv_count[b] += counts[b];
            }
            kv_per_replica
                .push(sums.iter().zip(&counts).map(|(s, c)| if *c > 0.0 { s / c } else { 0.0 }).collect());
        }
        TimeSeries {
            bucket_s: width,
            time_s: (0..buckets).map(|b| b as f64 * width).collect(),
            arrivals: chan(CH_ARRIVALS),
            completions: chan(CH_COMPLETIONS),
            prefill_tokens_per_s: chan(CH_PREFILL_TOKENS).iter().map(|x| x / width).collect(),
            decode_tokens_per_s: chan(CH_DECODE_TOKENS).iter().map(|x| x / width).collect(),
            mean_batch_size: batches
                .iter()
                .zip(&batch_sizes)
                .map(|(n, s)| if *n > 0.0 { s / n } else { 0.0 })
                .collect(),
            kv_usage_percent: kv_total
                .iter()
                .zip(&kv_count)
                .map(|(s, c)| if *c > 0.0 { s / c } else { 0.0 })
                .collect(),
            kv_usage_percent_per_replica: kv_per_replica,
        }
    }

    /// Offered against achieved rates, and the queue and TTFT over the time series' buckets.
    fn load(&self, end: &RunEnd) -> LoadReport {
        let completed = self.records.iter().map(|r| RequestSpan {
            arrived_ns: r.arrived_at_ns,
            started_ns: Some(r.scheduled_at_ns),
            left_queue_ns: Some(r.scheduled_at_ns),
            ttft_ns: Some(r.prefill_completed_at_ns - r.arrived_at_ns),
        });
        let spans = completed.chain(self.unserved.iter().copied());
        load::load_report(spans, end.now.0, self.series.len(), self.series.width_ns())
    }

    /// The headline numbers.
    fn summary(&self, end: &RunEnd, replicas: &[ReplicaReport], latency: Latency) -> Summary {
        let config = end.config;
        let sim_s = nanos_to_secs(end.now.0.max(1));
        let completed = self.records.len() as u64;
        let input_tokens: u64 = self.records.iter().map(|r| u64::from(r.num_prefill_tokens)).sum();
        let output_tokens: u64 = self.records.iter().map(|r| u64::from(r.num_decode_tokens)).sum();
        let cached: u64 = self.replicas.iter().map(|r| r.cached_tokens_completed).sum();
        let prompt: u64 = self.replicas.iter().map(|r| r.prompt_tokens_completed).sum();
        let refused = self.errors.iter().filter(|e| e.status == RequestStatus::Refused).count() as u64;
        let unfinished = self.errors.iter().filter(|e| e.status == RequestStatus::Unfinished).count() as u64;
        let stage_count = replicas.iter().map(|r| r.stages.len()).sum::<usize>().max(1) as f64;
        let busy_mean =
            replicas.iter().flat_map(|r| r.stages.iter().map(|s| s.busy_percent)).sum::<f64>() / stage_count;
        let mfu_mean =
            replicas.iter().flat_map(|r| r.stages.iter().map(|s| s.mfu_percent)).sum::<f64>() / stage_count;
        let kv_mean =
            replicas.iter().map(|r| r.kv_usage_percent_mean).sum::<f64>() / replicas.len().max(1) as f64;
        let kv_max = replicas.iter().map(|r| r.kv_usage_percent_max).fold(0.0, f64::max);
        Summary {
            num_requests: end.requests.len() as u64,
            num_completed: completed,
            num_refused: refused,
            num_unfinished: unfinished,
            num_warmup_requests: self.num_warmup,
            ttft_s: latency.ttft,
            tbt_s: self.tbt.stats(),
            tpot_s: latency.tpot,
            e2e_s: latency.e2e,
            scheduling_delay_s: latency.scheduling_delay,
            throughput: Throughput {
                requests_per_s: completed as f64 / sim_s,
                input_tokens_per_s: input_tokens as f64 / sim_s,
                output_tokens_per_s: output_tokens as f64 / sim_s,
            },
            simulated_time_s: end.now.as_secs_f64(),
            time_limit_reached: end.time_limit_reached,
            num_events: end.events,
            num_preemptions: self.num_restarts,
            num_batches: self.num_batches,
            kv_usage_percent_mean: kv_mean,
            kv_usage_percent_max: kv_max,
            busy_percent_mean: busy_mean,
            mfu_percent_mean: mfu_mean,
            prefix_cache_hit_rate: ratio(cached, prompt),
            prefix_cached_prompt_tokens: cached,
            prompt_tokens: prompt,
            predictor: PredictorSummary {
                name: config.predictor.name.to_string(),
                description: end.predictor.clone(),
                time_share: provenance_totals(&self.provenance_ms)
                    .shares()
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
            },
            memory: MemorySummary {
                num_blocks_per_replica: config.memory.num_blocks,
                block_size: config.cache.block_size,
                kv_tokens_per_replica: config.memory.num_blocks * u64::from(config.cache.block_size),
                params_per_gpu: config.memory.params_per_device,
                weight_gb_per_gpu: config.memory.weight_bytes_per_device as f64 / 1e9,
                kv_bytes_per_token_per_gpu: config.memory.kv_bytes_per_token,
            },
            slo: slo::evaluate(
                &config.service_levels,
                &slo::SloInputs {
                    records: &self.records,
                    not_completed: refused + unfinished,
                    tbt: &self.tbt,
                    simulated_s: sim_s,
                },
            ),
            overload: self.overload_report(end),
            cost: cost_report(config, output_tokens, sim_s),
            disaggregation: config
                .disagg
                .as_ref()
                .map(|d| self.disagg_summary(config, d, replicas, &latency)),
        }
    }

    /// Each pool's utilisation and queueing, and the KV transfers.
    fn disagg_summary(
        &self,
        config: &SimConfig,
        disagg: &crate::sim_config::DisaggSpec,
        replicas: &[ReplicaReport],
        latency: &Latency,
    ) -> DisaggSummary {
        let secs = |ns: &[Nanos]| {
            let mut v: Vec<f64> = ns.iter().map(|n| nanos_to_secs(*n)).collect();
            exact_stats(&mut v)
        };
        let pool = |pool: &SimConfig, replicas: &[ReplicaReport], queueing_s: Stats| {
            let stages = replicas.iter().map(|r| r.stages.len()).sum::<usize>().max(1) as f64;
            let stage_mean = |f: fn(&StageUtilization) -> f64| {
                replicas.iter().flat_map(|r| r.stages.iter().map(f)).sum::<f64>() / stages
            };
            PoolSummary {
                num_replicas: replicas.len() as u64,
                num_gpus: replicas.len() as u64 * u64::from(pool.replica.parallel.world_size()),
                num_blocks_per_replica: pool.memory.num_blocks,
                busy_percent_mean: stage_mean(|s| s.busy_percent),
                mfu_percent_mean: stage_mean(|s| s.mfu_percent),
                kv_usage_percent_mean: replicas.iter().map(|r| r.kv_usage_percent_mean).sum::<f64>()
                    / replicas.len().max(1) as f64,
                kv_usage_percent_max: replicas.iter().map(|r| r.kv_usage_percent_max).fold(0.0, f64::max),
                queueing_s,
            }
        };
        let (prefill, decode) = replicas.split_at(self.decode_from.min(replicas.len()));
        DisaggSummary {
            prefill: pool(config, prefill, latency.scheduling_delay),
            decode: pool(&disagg.decode, decode, secs(&self.kv_transfer_wait_ns)),
            num_kv_transfers: self.kv_transfer_ns.len() as u64,
            num_kv_transfers_nvlink: self.num_kv_transfers_nvlink,
            kv_transfer_s: secs(&self.kv_transfer_ns),
            kv_transfer_wait_s: secs(&self.kv_transfer_wait_ns),
        }
    }

    /// The overload verdict and its evidence.
    fn overload_report(&self, end: &RunEnd) -> OverloadReport {
        let window = self.overload.evidence();
        let overloaded = self.overload.is_overloaded();
        OverloadReport {
            overloaded,
            stopped_early: end.stopped_for_overload,
            detected_at_s: window.filter(|_| overloaded).map(|w| w.at_s),
            detected_at_request: window.filter(|_| overloaded).map(|w| w.arrivals),
            offered_per_s: window.map(|w| w.offered_per_s),
            admitted_per_s: window.map(|w| w.admitted_per_s),
            queue_growth_per_s: window.map(|w| w.queue_growth_per_s),
            waiting: window.map(|w| w.waiting),
            scheduling_delay_trend_s: scheduling_delay_trend(&self.records),
        }
    }

    /// The configuration's warnings, with what the run itself found worth saying.
    fn warnings(&self, end: &RunEnd) -> Vec<String> {
        let config = end.config;
        let mut warnings = config.warnings.clone();
        if self.chrome_dropped > 0 {
            warnings.push(format!(
                "chrome_trace.json holds the first {} of {} batch-stage slices (--metrics_config_chrome_trace_max_slices)",
                self.chrome.len(),
                self.chrome.len() as u64 + self.chrome_dropped
            ));
        }
        if self.overload.is_overloaded() {
            warnings.push(overload_warning(&self.overload, end.stopped_for_overload));
        }
        if end.arrivals_cut_off {
            warnings.push(format!(
                "the time limit of {:.3} s ended the run before the workload's last arrival: later requests never entered the simulation and are not counted",
                end.now.as_secs_f64()
            ));
        }
        if config.cache.enable_prefix_caching && !config.workload.build.has_block_hashes {
            warnings.push(
                "prefix caching is on but the workload carries no block_hash_ids: requests share no prefix (a preempted request still re-hits its own cached blocks)"
                    .to_string(),
            );
        }
        let too_long = self
            .records
            .iter()
            .filter(|r| r.num_prefill_tokens + r.num_decode_tokens > config.replica.model.max_model_len)
            .count()
            + self
                .errors
                .iter()
                .filter(|e| e.num_prefill_tokens + e.num_decode_tokens > config.replica.model.max_model_len)
                .count();
        if too_long > 0 {
            warnings.push(format!(
                "{too_long} requests are longer than {}'s max_model_len of {} tokens (simulated anyway, as Vidur does)",
                config.replica.model.name, config.replica.model.max_model_len
            ));
        }
        warnings
    }
}

/// The per-request latency statistics the summary quotes.
#[derive(Default)]
struct Latency {
    ttft: Stats,
    e2e: Stats,
    scheduling_delay: Stats,
    tpot: Stats,
}

/// Vidur's inter-arrival delay of each record: the gap between a request's arrival and the
/// arrival of the request its replica scheduled before it (the first one's gap is its
/// arrival). Leaves the records in id order.
fn set_inter_arrival_delays(records: &mut [RequestRecord]) {
    // Keys are unique, so unstable sorts give the one order.
    records.sort_unstable_by_key(|r| (r.replica, r.scheduled_at_ns, r.id));
    let mut previous: Option<(u32, u64)> = None;
    for r in records.iter_mut() {
        r.inter_arrival_ns = match previous {
            Some((replica, arrived)) if replica == r.replica => r.arrived_at_ns.saturating_sub(arrived),
            _ => r.arrived_at_ns,
        };
        previous = Some((r.replica, r.arrived_at_ns));
    }
    records.sort_unstable_by_key(|r| r.id);
}

/// The mean scheduling delay of the last quarter of completed requests, in arrival (id) order,
/// minus that of the first quarter; `None` with fewer than 8 completed requests.
fn scheduling_delay_trend(records: &[RequestRecord]) -> Option<f64> {
    if records.len() < 8 {
        return None;
    }
    // Ids are unique: the one order (the shared sort of `stable_order`, not one of its own).
    let by_arrival = crate::stats::stable_order(records.iter().map(|r| u64::from(r.id)));
    let quarter = by_arrival.len() / 4;
    let mean = |part: &[u32]| {
        part.iter().map(|&i| records[i as usize].scheduling_delay()).sum::<f64>() / part.len() as f64
    };
    Some(mean(&by_arrival[by_arrival.len() - quarter..]) - mean(&by_arrival[..quarter]))
}

/// The warning an overloaded run carries.
fn overload_warning(detector: &OverloadDetector, stopped: bool) -> String {
    let mut text = String::from("overloaded: the arrival rate exceeds what the cluster sustains");
    if let Some(w) = detector.evidence() {
        text.push_str(&format!(
            " (by {:.1} s, after {} arrivals: {:.3} requests/s arrived but {:.3}/s were admitted, and {} waited for their first schedule, a queue growing by {:.3}/s)",
            w.at_s, w.arrivals, w.offered_per_s, w.admitted_per_s, w.waiting, w.queue_growth_per_s
        ));
    }
    if stopped {
        text.push_str("; the run was stopped there, so its latencies describe only its start");
    } else {
        text.push_str("; latencies grow with the run's length, so its percentiles describe no steady state");
    }
    text
}

/// The cluster's cost, and per million output tokens at the run's throughput.
fn cost_report(config: &SimConfig, output_tokens: u64, simulated_s: f64) -> CostReport {
    let cost = &config.cost;
    let usd_per_hour = cost.usd_per_hour();
    let usd_per_million_output_tokens = usd_per_hour
        .filter(|_| output_tokens > 0 && simulated_s > 0.0)
        .map(|usd| usd * simulated_s / 3600.0 / output_tokens as f64 * 1e6);
    CostReport {
        num_gpus: cost.num_gpus,
        usd_per_gpu_hour: cost.usd_per_gpu_hour,
        price_source: cost.price_source.clone(),
        usd_per_hour,
        usd_per_million_output_tokens,
    }
}

/// The run's totals in `ProvenanceTotals`' layout (the untimed `None` slot dropped).
fn provenance_totals(by_discriminant: &[f64; PROVENANCE_SLOTS]) -> ProvenanceTotals {
    let mut totals = ProvenanceTotals::default();
    for (ms, provenance) in totals.ms.iter_mut().zip(Provenance::TIMED) {
        *ms = by_discriminant[provenance as usize];
    }
    totals
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// A histogram's name and the per-request value it counts.
type HistogramColumn = (&'static str, fn(&RequestRecord) -> f64);

/// Histograms of per-request token counts (20 equal-width bins).
fn histograms(records: &[RequestRecord]) -> BTreeMap<String, Histogram> {
    let mut out = BTreeMap::new();
    let columns: [HistogramColumn; 6] = [
        ("request_num_tokens", |r| f64::from(r.num_prefill_tokens + r.num_decode_tokens)),
        ("request_num_prefill_tokens", |r| f64::from(r.num_prefill_tokens)),
        ("request_num_prefill_tokens_cached", |r| f64::from(r.num_prefill_tokens_cached)),
        ("request_num_decode_tokens", |r| f64::from(r.num_decode_tokens)),
        ("request_pd_ratio", |r| f64::from(r.num_prefill_tokens) / f64::from(r.num_decode_tokens.max(1))),
        ("request_num_restarts", |r| f64::from(r.num_restarts)),
    ];
    for (name, f) in columns {
        let values: Vec<f64> = records.iter().map(f).collect();
        out.insert(name.to_string(), Histogram::of(&values, 20));
    }
    out
}
