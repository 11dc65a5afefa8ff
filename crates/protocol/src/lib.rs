//! The messages between llmsim's page (`web/`) and its Web Worker (`crates/worker`): plain
//! serde types, sent as JSON text, with large payloads (uploaded `File`s, download texts)
//! travelling beside the JSON. Both sides depend on this crate and the engine, not on each
//! other; the conversions from the engine's boundary types (errors, progress, the report's
//! chart data) live here so that both sides read them the same way.

#![warn(missing_docs)]

pub mod check;
pub mod search;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Whether the file uploaded for `flag` is a request trace, which the worker parses on upload
/// and answers with a [`TraceSummary`] in [`FileInfo::trace`], rather than a text the engine
/// reads itself (model config.json, profile CSVs).
pub fn is_trace_flag(flag: &str) -> bool {
    llmsim_engine::find_flag(flag).is_some_and(|f| f.is_trace_file())
}

/// A message from the page to the worker.
///
/// Both message enums are externally tagged (`{"run": {...}}`, `"ready"`): an internally tagged
/// enum (`{"kind": "run", ...}`) is deserialised through serde's buffered `Content`, which
/// instantiates every payload's `Deserialize` a second time: 33 KB of the page's wasm for
/// [`FromWorker`] alone (BENCHMARKS.md, "Page weight under 10^6 B").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToWorker {
    /// Read (and, for trace flags, parse) an uploaded file. The browser `File` travels beside
    /// the JSON; the worker stores the content under `path`, the name the form's flag holds.
    LoadFile {
        /// Echoed in the replies, so the page can match them.
        upload_id: u32,
        /// The flag the file was uploaded for.
        flag: String,
        /// The name the configuration refers to it by (the file's name).
        path: String,
    },
    /// Validate the flat configuration and run it; files the page ships (`data/...`) are
    /// fetched by the worker first if not loaded yet (each between
    /// [`FromWorker::FetchStarted`] and [`FromWorker::FetchEnded`]), uploaded ones must have
    /// been loaded before. Nothing is fetched before a run or a search asks for it: a first
    /// visit downloads no trace (issue 19, page weight).
    Run {
        /// The page's id of this request, never reused; echoed in the replies.
        run_id: u32,
        /// The configuration as a flat JSON object of Vidur flag names (what `llmsim --config` reads).
        config: serde_json::Value,
    },
    /// Stop run `run_id` if it is still running; it then sends nothing more. The loaded files
    /// stay.
    Cancel {
        /// The run's request id.
        run_id: u32,
    },
    /// Run one simulation of a capacity search (the page's plan decides which).
    RunJob(search::RunJob),
    /// Validate a form (cross-field rules, the memory plan) without running it; answered at
    /// once by [`FromWorker::Checked`] with the same id, between a run's chunks too.
    Check(check::CheckRequest),
}

/// A message from the worker to the page (externally tagged, like [`ToWorker`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FromWorker {
    /// The worker's message handler is installed: messages sent from now on are handled.
    Ready,
    /// Bytes of an upload read or parsed so far.
    FileProgress {
        /// The upload.
        upload_id: u32,
        /// Bytes done.
        bytes: u64,
        /// Bytes in the file.
        total: u64,
    },
    /// An upload was read and, for traces, parsed.
    FileLoaded {
        /// The upload.
        upload_id: u32,
        /// What was loaded.
        info: FileInfo,
        /// Milliseconds the worker spent reading, hashing and parsing it (wall clock).
        elapsed_ms: f64,
    },
    /// An upload could not be read or parsed.
    FileFailed {
        /// The upload.
        upload_id: u32,
        /// Why, with the row and column for malformed traces.
        error: FileError,
    },
    /// A run advanced.
    RunProgress {
        /// The run.
        run_id: u32,
        /// How far it got.
        progress: RunProgress,
    },
    /// The configuration was refused; each error names its flag.
    RunFailed {
        /// The run.
        run_id: u32,
        /// The engine's validation errors (the same messages as the CLI's).
        errors: Vec<FieldError>,
    },
    /// The worker hit a bug and is about to stop; the page respawns it.
    Crashed {
        /// The panic message.
        message: String,
    },
    /// A run finished: what the page shows. Its downloads follow in [`FromWorker::RunFiles`].
    RunFinished {
        /// The run.
        run_id: u32,
        /// What the page shows.
        result: RunResult,
    },
    /// The download texts of a finished run travel beside this message (see [`DOWNLOADS`]);
    /// they are rendered after the results are shown, so a big run's files do not delay them.
    RunFiles {
        /// The run.
        run_id: u32,
        /// Files of [`DOWNLOADS`] not rendered, and why.
        skipped: Vec<SkippedFile>,
    },
    /// The worker started fetching a file the site ships (a preset's trace), which a run or a
    /// search's simulation needs and which it had not loaded yet: the page says so meanwhile.
    FetchStarted {
        /// The file, as the configuration names it (`data/traces/...`).
        path: String,
    },
    /// The fetch of [`FromWorker::FetchStarted`] ended (loaded, or failed: the run's
    /// validation then names the file's flag).
    FetchEnded {
        /// The file.
        path: String,
    },
    /// A capacity search's simulation finished.
    JobDone(search::JobDone),
    /// The answer to a [`ToWorker::Check`].
    Checked(check::CheckAnswer),
}

/// The files a finished run offers for download, in the order the page lists them.
pub const DOWNLOADS: [&str; 4] = ["summary.json", "request_metrics.csv", "chrome_trace.json", "config.json"];

/// A download that was not rendered, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedFile {
    /// The file name.
    pub name: String,
    /// Why (shown next to its button).
    pub reason: String,
}

/// A loaded file: what the share link records, plus a trace's summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileInfo {
    /// The flag it was uploaded for.
    pub flag: String,
    /// The name the configuration refers to it by.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the bytes, lower-case hex (what `sha256sum` prints).
    pub sha256: String,
    /// For traces: what is in it.
    pub trace: Option<TraceSummary>,
}

/// What a trace holds, shown after an upload.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceSummary {
    /// The detected format (`vidur_csv`, `mooncake_jsonl`, `azure_csv`, or `arrival_times` for
    /// an interval trace read for its arrivals only).
    pub format: String,
    /// Requests.
    pub requests: u64,
    /// Last arrival minus first arrival, seconds (`None` for length-only traces).
    pub duration_s: Option<f64>,
    /// Prompt-length percentiles (`None` for a file of arrival times only).
    pub input_tokens: Option<Percentiles>,
    /// Output-length percentiles (`None` for a file of arrival times only).
    pub output_tokens: Option<Percentiles>,
    /// Distinct sessions (`None` when the trace has no session ids).
    pub sessions: Option<u64>,
    /// Share of prompt blocks whose hash id appeared in an earlier request (`None` without
    /// block hashes): an upper bound of the prefix-cache hit rate.
    pub prefix_reuse_share: Option<f64>,
    /// The parser's non-fatal notes.
    pub warnings: Vec<String>,
}

/// Percentiles of a token count.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// Why an upload failed: the file and, for malformed traces, the row and column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileError {
    /// The file.
    pub file: String,
    /// 1-based line, if the error is about one.
    pub line: Option<u64>,
    /// The column (CSV header or JSON field), if the error is about one.
    pub column: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ", row {line}")?;
        }
        if let Some(column) = &self.column {
            write!(f, ", column '{column}'")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl From<llmsim_engine::workload::trace::TraceError> for FileError {
    fn from(e: llmsim_engine::workload::trace::TraceError) -> FileError {
        FileError { file: e.file, line: e.line, column: e.column, message: e.message }
    }
}

/// A configuration error at a form field (the engine's `ConfigError`, deserialisable).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The flag, or empty for errors about the whole configuration.
    pub flag: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl From<&llmsim_engine::ConfigError> for FieldError {
    fn from(e: &llmsim_engine::ConfigError) -> FieldError {
        FieldError { flag: e.flag.clone(), message: e.message.clone(), hint: e.hint.clone() }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

/// A run's progress (the engine's `Progress`, deserialisable).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunProgress {
    /// Simulated seconds so far.
    pub sim_time_s: f64,
    /// Requests completed or refused.
    pub requests_done: u64,
    /// Requests arrived.
    pub requests_arrived: u64,
    /// Requests the workload will produce, when known.
    pub requests_expected: Option<u64>,
    /// Events handled.
    pub events: u64,
}

impl From<llmsim_engine::Progress> for RunProgress {
    fn from(p: llmsim_engine::Progress) -> RunProgress {
        RunProgress {
            sim_time_s: p.sim_time_s,
            requests_done: p.requests_done,
            requests_arrived: p.requests_arrived,
            requests_expected: p.requests_expected,
            events: p.events,
        }
    }
}

/// What the page shows of a finished run: the summary (exactly `summary.json`), its
/// `config.json`, the load it was offered against what it achieved, and the data of its charts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// `summary.json`, byte for byte as the CLI writes it.
    pub summary_json: String,
    /// `config.json`, as the CLI writes it (accepted by `llmsim --config`).
    #[serde(default)]
    pub config_json: String,
    /// Offered against achieved request rate.
    #[serde(default)]
    pub load: LoadFigures,
    /// Chart data.
    pub charts: ChartData,
    /// The engine's non-fatal observations.
    pub warnings: Vec<String>,
    /// Milliseconds from receiving the run to the report (wall clock, for the status line).
    pub elapsed_ms: f64,
}

/// The load a run was offered against what it achieved (the engine's `LoadReport` defines
/// the rates: both are taken over the arrival window, so the drain does not dilute them).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadFigures {
    /// Requests that arrived.
    pub arrivals: u64,
    /// First to last arrival (or to the end of a run cut short), s.
    pub arrival_window_s: f64,
    /// Arrival rate over the arrival window, req/s.
    pub offered_rps: Option<f64>,
    /// Rate at which requests were first scheduled over the arrival window, req/s.
    pub achieved_rps: Option<f64>,
    /// Whether arrivals follow completions (a closed loop): the offered rate is then what
    /// the clients achieve, not a load set beforehand.
    pub closed_loop: bool,
}

impl LoadFigures {
    /// The page's figures of a report.
    pub fn from_report(report: &llmsim_engine::Report) -> LoadFigures {
        let l = &report.load;
        let closed_loop =
            report.config.get("request_generator_config_type").and_then(serde_json::Value::as_str)
                == Some("closed_loop");
        LoadFigures {
            arrivals: l.arrivals,
            arrival_window_s: l.arrival_window_s,
            offered_rps: l.offered_rps,
            achieved_rps: l.achieved_rps,
            closed_loop,
        }
    }
}

/// The series the page draws.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChartData {
    /// 101-point quantile functions by metric (`ttft`, `tbt`, `tpot`, `e2e`), seconds.
    pub cdfs: BTreeMap<String, Vec<f64>>,
    /// Width of the time-series buckets, seconds.
    pub bucket_s: f64,
    /// Start of each bucket, seconds.
    pub time_s: Vec<f64>,
    /// Requests completed per second, per bucket.
    pub completions_per_s: Vec<f64>,
    /// Prompt tokens processed per second.
    pub prefill_tokens_per_s: Vec<f64>,
    /// Output tokens processed per second.
    pub decode_tokens_per_s: Vec<f64>,
    /// Mean batch size of the batches formed in each bucket.
    pub mean_batch_size: Vec<f64>,
    /// Mean KV-cache usage over replicas, %.
    pub kv_usage_percent: Vec<f64>,
    /// Per replica: busy % and MFU % of each pipeline stage.
    pub replicas: Vec<ReplicaBars>,
    /// Requests waiting for their first schedule at each bucket's end.
    #[serde(default)]
    pub waiting: Vec<f64>,
    /// Mean time to first token of the requests that arrived in each bucket, s (`None`: no
    /// completed request arrived in it).
    #[serde(default)]
    pub ttft_by_arrival_s: Vec<Option<f64>>,
}

/// One replica's utilisation, per pipeline stage.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplicaBars {
    /// Replica id.
    pub replica: u32,
    /// Busy share of simulated time per stage, %.
    pub busy_percent: Vec<f64>,
    /// Model FLOPs utilisation per stage, %.
    pub mfu_percent: Vec<f64>,
    /// Time-weighted mean KV-cache usage, % (absent in runs kept before it was recorded).
    #[serde(default)]
    pub kv_usage_percent: f64,
}

/// The CDFs the page keeps per run (the others stay in the downloads); a disaggregated run
/// also has the KV-transfer times' (`kv_transfer`).
pub const CHART_CDFS: [&str; 5] = ["ttft", "tbt", "tpot", "e2e", llmsim_engine::metrics::KV_TRANSFER_CDF];

impl ChartData {
    /// The page's chart data of a report.
    pub fn from_report(report: &llmsim_engine::Report) -> ChartData {
        let ts = &report.time_series;
        let per_s = |v: &[f64]| v.iter().map(|x| x / ts.bucket_s.max(f64::MIN_POSITIVE)).collect();
        ChartData {
            cdfs: CHART_CDFS
                .iter()
                .filter_map(|name| report.cdfs.get(*name).map(|v| ((*name).to_string(), v.clone())))
                .collect(),
            bucket_s: ts.bucket_s,
            time_s: ts.time_s.clone(),
            completions_per_s: per_s(&ts.completions),
            prefill_tokens_per_s: ts.prefill_tokens_per_s.clone(),
            decode_tokens_per_s: ts.decode_tokens_per_s.clone(),
            mean_batch_size: ts.mean_batch_size.clone(),
            kv_usage_percent: ts.kv_usage_percent.clone(),
            replicas: report
                .replicas
                .iter()
                .map(|r| ReplicaBars {
                    replica: r.replica,
                    busy_percent: r.stages.iter().map(|s| s.busy_percent).collect(),
                    mfu_percent: r.stages.iter().map(|s| s.mfu_percent).collect(),
                    kv_usage_percent: r.kv_usage_percent_mean,
                })
                .collect(),
            waiting: report.load.waiting.clone(),
            ttft_by_arrival_s: report.load.ttft_by_arrival_s.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_through_json() {
        let messages = [
            FromWorker::Ready,
            FromWorker::FileFailed {
                upload_id: 3,
                error: FileError {
                    file: "t.csv".into(),
                    line: Some(7),
                    column: Some("arrived_at".into()),
                    message: "bad".into(),
                },
            },
            FromWorker::RunFailed {
                run_id: 1,
                errors: vec![FieldError { flag: "seed".into(), message: "m".into(), hint: None }],
            },
        ];
        for m in messages {
            let text = serde_json::to_string(&m).unwrap();
            assert_eq!(serde_json::from_str::<FromWorker>(&text).unwrap(), m);
        }
        let run = ToWorker::Run { run_id: 9, config: serde_json::json!({"seed": 1}) };
        let text = serde_json::to_string(&run).unwrap();
        assert!(text.starts_with("{\"run\":{"), "{text}");
        assert_eq!(serde_json::from_str::<ToWorker>(&text).unwrap(), run);
    }

    #[test]
    fn file_errors_read_like_the_engines() {
        let e = FileError {
            file: "t.csv".into(),
            line: Some(3),
            column: Some("num_prefill_tokens".into()),
            message: "'x' is not a number".into(),
        };
        assert_eq!(e.to_string(), "t.csv, row 3, column 'num_prefill_tokens': 'x' is not a number");
    }
}
