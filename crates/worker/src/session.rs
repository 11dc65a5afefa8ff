//! The worker's state between messages: the files loaded so far, and turning a run request
//! into a validated simulation and its report into what the page shows. No JavaScript here,
//! so it is tested natively.

use std::collections::BTreeMap;
use std::sync::Arc;

use llmsim_engine::inputs::{check_file_size, decode_text};
use llmsim_engine::limits::BROWSER_MEMORY_BUDGET_BYTES;
use llmsim_engine::workload::trace::{ArrivalTimes, TraceFormat, detect_format, read_arrival_times};
use llmsim_engine::{
    Config, ConfigErrors, FlagValue, Inputs, Report, SimConfig, Simulation, Trace, parse_trace,
};
use sha2::{Digest, Sha256};

use llmsim_protocol::{
    ChartData, FieldError, FileError, FileInfo, LoadFigures, Percentiles, RunResult, SkippedFile,
    TraceSummary, is_trace_flag,
};

/// The flag whose file is read for its arrival times only (Vidur's interval trace): a CSV
/// with just an `arrived_at` column of seconds or date-times is enough, so it is kept as text
/// for the engine to read at run time, and checked and summarised on upload.
pub const INTERVAL_TRACE_FLAG: &str = "trace_request_interval_generator_config_trace_file";

/// Whether the page's own site serves `path` (the files under `data/` that Trunk copies into
/// `dist/`), so the worker may fetch it instead of asking for an upload.
pub fn is_shipped_path(path: &str) -> bool {
    path.starts_with("data/") && !path.contains("..")
}

enum Content {
    Text(Arc<str>),
    Trace(Arc<Trace>),
}

struct Loaded {
    info: FileInfo,
    content: Content,
}

/// The files loaded into the worker, keyed by the name the configuration refers to them by.
#[derive(Default)]
pub struct Session {
    files: BTreeMap<String, Loaded>,
}

/// Bytes hashed between two progress reports.
const HASH_CHUNK: usize = 4 << 20;

impl Session {
    /// No files.
    pub fn new() -> Session {
        Session::default()
    }

    /// Loads `bytes` under `path` for `flag`: hashes them, checks they are text and, for trace
    /// flags, parses them. `progress(done, total)` is called now and then; hashing counts for
    /// the first half of `total`, parsing for the second.
    pub fn load(
        &mut self,
        flag: &str,
        path: &str,
        bytes: Vec<u8>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<FileInfo, FileError> {
        let size = bytes.len() as u64;
        check_file_size(size).map_err(|message| FileError {
            file: path.to_string(),
            line: None,
            column: None,
            message,
        })?;
        let total = 2 * size;
        let mut hasher = Sha256::new();
        for (i, chunk) in bytes.chunks(HASH_CHUNK).enumerate() {
            hasher.update(chunk);
            progress(((i * HASH_CHUNK + chunk.len()) as u64).min(size), total);
        }
        let sha256: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        let text = decode_text(bytes).map_err(|e| FileError {
            file: path.to_string(),
            line: Some(e.row),
            column: e.column,
            message: format!(
                "is not UTF-8 text (byte {} of the row): traces and configs are CSV, JSON or JSONL text",
                e.byte
            ),
        })?;
        let (content, trace) =
            if flag == INTERVAL_TRACE_FLAG && detect_format(&text) != Some(TraceFormat::MooncakeJsonl) {
                let arrivals = read_arrival_times(path, &text).map_err(FileError::from)?;
                let summary = summarize_arrivals(&arrivals);
                (Content::Text(text.into()), Some(summary))
            } else if is_trace_flag(flag) {
                let trace = parse_trace(path, &text, &mut |done| progress(size + done as u64, total))
                    .map_err(FileError::from)?;
                let summary = summarize(&trace);
                (Content::Trace(Arc::new(trace)), Some(summary))
            } else {
                (Content::Text(text.into()), None)
            };
        progress(total, total);
        let info = FileInfo { flag: flag.to_string(), path: path.to_string(), size, sha256, trace };
        self.files.insert(path.to_string(), Loaded { info: info.clone(), content });
        Ok(info)
    }

    /// What was loaded under `path`, if anything.
    pub fn file(&self, path: &str) -> Option<&FileInfo> {
        self.files.get(path).map(|f| &f.info)
    }

    /// The files `config` needs that are not loaded: `(flag, path)`.
    pub fn missing_files(&self, config: &Config) -> Vec<(&'static str, String)> {
        SimConfig::required_files(config)
            .into_iter()
            .filter(|(_, path)| !self.files.contains_key(path))
            .collect()
    }

    /// The loaded files as the engine's inputs; missing ones are explained as not uploaded.
    pub fn inputs(&self, config: &Config) -> Inputs {
        let mut inputs = Inputs::new();
        for (path, file) in &self.files {
            match &file.content {
                Content::Text(text) => inputs.add_text(path.clone(), text.clone()),
                Content::Trace(trace) => inputs.add_trace(path.clone(), trace.clone()),
            }
        }
        for (_, path) in self.missing_files(config) {
            let reason = if is_shipped_path(&path) {
                "the page does not ship this file: upload it with the field's file button"
            } else {
                "it is not uploaded: choose it with the field's file button (files never leave this machine)"
            };
            inputs.add_unreadable(path, reason);
        }
        inputs
    }

    /// Validates a flat JSON configuration against the loaded files and builds the simulation,
    /// with the Chrome trace capped at what the page can offer for download
    /// ([`cap_chrome_slices`]).
    pub fn prepare(&self, config: &serde_json::Value) -> Result<Simulation, Vec<FieldError>> {
        let to_fields = |e: ConfigErrors| e.0.iter().map(FieldError::from).collect::<Vec<_>>();
        let mut config = Config::from_json_value(config).map_err(to_fields)?;
        cap_chrome_slices(&mut config);
        let inputs = self.inputs(&config);
        let sim_config =
            SimConfig::build_with_budget(&config, &inputs, BROWSER_MEMORY_BUDGET_BYTES).map_err(to_fields)?;
        Ok(Simulation::new(&sim_config))
    }
}

/// Most batch-stage slices a run in the browser keeps for `chrome_trace.json`. The file is
/// about 0.7–3 kB of text per slice (more with bigger batches), and it exists three times at
/// once: in the worker's memory, in the message to the page, and in the page's memory (every run
/// of the session keeps its downloads); a wasm instance has 4 GB at most.
pub const MAX_CHROME_SLICES: u64 = 100_000;

const CHROME_SLICES_FLAG: &str = "metrics_config_chrome_trace_max_slices";

const CHROME_TRACE_FLAG: &str = "metrics_config_enable_chrome_trace";

/// Lowers `--metrics_config_chrome_trace_max_slices` to [`MAX_CHROME_SLICES`] (0, no limit,
/// included), so the engine stops collecting slices the page could not offer for download;
/// the engine's report then says how many it left out.
pub fn cap_chrome_slices(config: &mut Config) {
    let asked = match config.get(CHROME_SLICES_FLAG) {
        FlagValue::Int(n) => u64::try_from(n).unwrap_or(0),
        _ => 0,
    };
    if asked == 0 || asked > MAX_CHROME_SLICES {
        config
            .set(CHROME_SLICES_FLAG, &MAX_CHROME_SLICES.to_string())
            .expect("the limit is a valid value of its flag");
    }
}

/// The page's view of a finished run.
pub fn run_result(report: &Report, elapsed_ms: f64) -> RunResult {
    let mut warnings = report.warnings.clone();
    if report.chrome_trace.len() as u64 >= MAX_CHROME_SLICES {
        // One warning about the Chrome trace: the engine's (how many slices it kept), saying
        // why the browser keeps fewer than the CLI.
        let why = format!(
            "in the browser it keeps at most {MAX_CHROME_SLICES} (memory); the CLI keeps up to --{CHROME_SLICES_FLAG}"
        );
        match warnings.iter_mut().find(|w| w.starts_with("chrome_trace.json holds the first")) {
            Some(w) => *w = format!("{w}; {why}"),
            None => warnings.push(format!("chrome_trace.json: {why}.")),
        }
    }
    RunResult {
        summary_json: report.summary_json(),
        config_json: config_json(report),
        load: LoadFigures::from_report(report),
        charts: ChartData::from_report(report),
        warnings,
        elapsed_ms,
    }
}

/// `config.json` of a run, as the CLI writes it.
fn config_json(report: &Report) -> String {
    serde_json::to_string_pretty(&report.config).expect("config serialises") + "\n"
}

/// A finished run's downloads as `(file name, text)`, in [`llmsim_protocol::DOWNLOADS`] order,
/// and the files left out with the reason.
pub fn downloads(report: &Report) -> (Vec<(&'static str, String)>, Vec<SkippedFile>) {
    let mut files = vec![("summary.json", report.summary_json())];
    let mut skipped = Vec::new();
    let mut skip = |name: &str, reason: String| skipped.push(SkippedFile { name: name.to_string(), reason });
    if report.keep_request_metrics {
        files.push(("request_metrics.csv", report.request_metrics_csv()));
    } else {
        skip(
            "request_metrics.csv",
            "per-request metrics are off (metrics_config_store_request_metrics)".to_string(),
        );
    }
    // Runs prepared here hold at most MAX_CHROME_SLICES slices (`cap_chrome_slices`). With the
    // trace on, an empty one means no batch ran (e.g. the time limit came first).
    if report.chrome_trace.is_empty() {
        let off = report.config.get(CHROME_TRACE_FLAG).and_then(serde_json::Value::as_bool) == Some(false);
        let reason = if off {
            format!("the Chrome trace is off ({CHROME_TRACE_FLAG})")
        } else {
            "the Chrome trace is empty: no batch ran in this run".to_string()
        };
        skip("chrome_trace.json", reason);
    } else {
        files.push(("chrome_trace.json", report.chrome_trace_json()));
    }
    files.push(("config.json", config_json(report)));
    (files, skipped)
}

/// The page's view of the engine's trace summary.
pub fn summarize(trace: &Trace) -> TraceSummary {
    let s = llmsim_engine::workload::trace::summarize(trace);
    let percentiles = |t: &llmsim_engine::metrics::Stats| Percentiles {
        mean: t.mean,
        p50: t.p50,
        p90: t.p90,
        p99: t.p99,
        max: t.max,
    };
    let format =
        serde_json::to_value(s.format).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    TraceSummary {
        format,
        requests: s.num_requests,
        duration_s: s.duration_s,
        input_tokens: Some(percentiles(&s.input_tokens)),
        output_tokens: Some(percentiles(&s.output_tokens)),
        sessions: s.num_sessions,
        prefix_reuse_share: s.prefix_reuse_share,
        warnings: s.warnings,
    }
}

/// What the page shows of a file of arrival times: how many and over how long.
pub fn summarize_arrivals(arrivals: &ArrivalTimes) -> TraceSummary {
    let (first, last) = (arrivals.instants_ns.iter().min(), arrivals.instants_ns.iter().max());
    TraceSummary {
        format: "arrival_times".to_string(),
        requests: arrivals.instants_ns.len() as u64,
        duration_s: first.zip(last).map(|(a, b)| (b - a) as f64 / 1e9),
        input_tokens: None,
        output_tokens: None,
        sessions: None,
        prefix_reuse_share: None,
        warnings: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "arrived_at,num_prefill_tokens,num_decode_tokens,session_id,block_size,block_hash_ids\n\
        0.0,32,4,0,16,\"[1, 2, 3]\"\n\
        1.5,48,4,0,16,\"[1, 2, 4, 5]\"\n\
        3.0,16,8,1,16,\"[9, 10]\"\n";

    fn load(session: &mut Session, flag: &str, path: &str, text: &str) -> Result<FileInfo, FileError> {
        let mut calls = 0;
        let r = session.load(flag, path, text.as_bytes().to_vec(), &mut |done, total| {
            assert!(done <= total);
            calls += 1;
        });
        assert!(calls >= 1, "progress is reported");
        r
    }

    #[test]
    fn traces_are_hashed_parsed_and_summarised() {
        let mut s = Session::new();
        let info = load(&mut s, "trace_request_generator_config_trace_file", "t.csv", TRACE).unwrap();
        assert_eq!(info.size, TRACE.len() as u64);
        assert_eq!(info.sha256.len(), 64);
        let t = info.trace.unwrap();
        assert_eq!((t.requests, t.sessions, t.duration_s), (3, Some(2), Some(3.0)));
        assert_eq!(t.input_tokens.as_ref().unwrap().p50, 32.0);
        // Prompt blocks: 2 + 3 + 1 = 6, of which 1 and 2 of the second request were seen.
        assert_eq!(t.prefix_reuse_share, Some(2.0 / 6.0));
        assert_eq!(t.format, "vidur_csv");
    }

    #[test]
    fn sha256_matches_a_known_digest() {
        let mut s = Session::new();
        let info =
            s.load("replica_config_model_config_file", "abc.json", b"abc".to_vec(), &mut |_, _| {}).unwrap();
        assert_eq!(info.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(info.trace.is_none());
    }

    #[test]
    fn malformed_traces_name_the_row_and_column() {
        let mut s = Session::new();
        let bad = "arrived_at,num_prefill_tokens,num_decode_tokens\n0,10,2\n1,ten,2\n";
        let e = load(&mut s, "trace_request_generator_config_trace_file", "bad.csv", bad).unwrap_err();
        assert_eq!((e.line, e.column.as_deref()), (Some(3), Some("num_prefill_tokens")), "{e}");
        let e = s
            .load(
                "trace_request_generator_config_trace_file",
                "bin.csv",
                b"a,b\n\xff\xfe".to_vec(),
                &mut |_, _| {},
            )
            .unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        assert!(s.file("bad.csv").is_none(), "failed uploads are not kept");
    }

    #[test]
    fn runs_validate_against_loaded_files_and_report() {
        let mut s = Session::new();
        let config = serde_json::json!({
            "request_generator_config_type": "trace",
            "trace_request_generator_config_trace_file": "t.csv",
            "cache_config_enable_prefix_caching": true,
        });
        let errors = s.prepare(&config).err().expect("the trace is not loaded yet");
        assert_eq!(errors[0].flag, "trace_request_generator_config_trace_file");
        assert!(errors[0].message.contains("not uploaded"), "{}", errors[0].message);
        load(&mut s, "trace_request_generator_config_trace_file", "t.csv", TRACE).unwrap();
        let mut sim = s.prepare(&config).unwrap();
        while !sim.run_for_events(7).finished {}
        let report = sim.finish();
        let (result, (downloads, skipped)) = (run_result(&report, 1.0), downloads(&report));
        assert_eq!(result.summary_json, downloads[0].1);
        assert!(skipped.is_empty(), "{skipped:?}");
        let summary: serde_json::Value = serde_json::from_str(&result.summary_json).unwrap();
        assert_eq!(summary["num_completed"], 3);
        assert_eq!(downloads.iter().map(|d| d.0).collect::<Vec<_>>(), llmsim_protocol::DOWNLOADS);
        assert_eq!(result.charts.cdfs["ttft"].len(), 101);
        let back = Config::from_json_str(&downloads[3].1).expect("config.json is accepted back");
        assert_eq!(back.get("trace_request_generator_config_trace_file").to_text(), "t.csv");
    }

    #[test]
    fn an_interval_trace_of_arrival_times_alone_loads_and_runs() {
        let mut s = Session::new();
        let arrivals = "arrived_at\n2024-01-01 10:00:00\n2024-01-01 10:00:02\n2024-01-01 10:00:05\n";
        let info = load(&mut s, INTERVAL_TRACE_FLAG, "gaps.csv", arrivals).unwrap();
        let t = info.trace.expect("summarised");
        assert_eq!((t.format.as_str(), t.requests, t.duration_s), ("arrival_times", 3, Some(5.0)));
        assert!(t.input_tokens.is_none() && t.output_tokens.is_none());
        let config = serde_json::json!({
            "interval_generator_config_type": "trace",
            INTERVAL_TRACE_FLAG: "gaps.csv",
            "synthetic_request_generator_config_num_requests": 4,
        });
        let report = s.prepare(&config).expect("valid").run_to_report();
        assert_eq!(report.summary.num_completed, 4);
        // A bad cell is refused on upload, naming its row and column.
        let e = load(&mut s, INTERVAL_TRACE_FLAG, "bad.csv", "arrived_at\n1.0\nsoon\n").unwrap_err();
        assert_eq!((e.line, e.column.as_deref()), (Some(3), Some("arrived_at")), "{e}");
    }

    #[test]
    fn files_that_are_off_are_skipped_with_the_reason() {
        let s = Session::new();
        let config = serde_json::json!({
            "synthetic_request_generator_config_num_requests": 4,
            "metrics_config_enable_chrome_trace": false,
            "metrics_config_store_request_metrics": false,
        });
        let report = s.prepare(&config).expect("valid").run_to_report();
        let (files, skipped) = downloads(&report);
        assert_eq!(files.iter().map(|f| f.0).collect::<Vec<_>>(), ["summary.json", "config.json"]);
        assert_eq!(skipped.len(), 2);
        assert!(skipped[1].reason.contains("metrics_config_enable_chrome_trace"), "{skipped:?}");
    }

    #[test]
    fn an_empty_chrome_trace_says_no_batch_ran() {
        // The time limit ends the run before the first arrival: the trace is on but empty.
        let config =
            serde_json::json!({"synthetic_request_generator_config_num_requests": 4, "time_limit": 1e-9});
        let report = Session::new().prepare(&config).expect("valid").run_to_report();
        assert_eq!(report.summary.num_batches, 0);
        let (files, skipped) = downloads(&report);
        assert!(!files.iter().any(|f| f.0 == "chrome_trace.json"));
        let reason = &skipped.iter().find(|s| s.name == "chrome_trace.json").expect("skipped").reason;
        assert!(reason.contains("no batch ran") && !reason.contains("off"), "{reason}");
    }

    #[test]
    fn the_chrome_trace_is_capped_at_what_the_page_can_offer() {
        let s = Session::new();
        let capped = |asked: Option<u64>| {
            let mut config = serde_json::json!({"synthetic_request_generator_config_num_requests": 4});
            if let Some(n) = asked {
                config[CHROME_SLICES_FLAG] = n.into();
            }
            s.prepare(&config).expect("valid").run_to_report()
        };
        for asked in [None, Some(0), Some(MAX_CHROME_SLICES + 1)] {
            assert_eq!(capped(asked).config[CHROME_SLICES_FLAG], MAX_CHROME_SLICES, "asked for {asked:?}");
        }
        let report = capped(Some(5));
        assert_eq!(report.config[CHROME_SLICES_FLAG], 5, "lower limits are kept");
        assert_eq!(report.chrome_trace.len(), 5);
        assert!(
            report.warnings.iter().any(|w| w.contains(CHROME_SLICES_FLAG)),
            "the engine says it left slices out: {:?}",
            report.warnings
        );
        let (files, skipped) = downloads(&report);
        assert!(files.iter().any(|f| f.0 == "chrome_trace.json") && skipped.is_empty(), "{skipped:?}");
    }

    #[test]
    fn a_trace_cut_by_the_browsers_cap_is_one_warning() {
        // One request whose 100,010 output tokens make more batches than the browser keeps.
        let config = serde_json::json!({
            "replica_config_model_name": "meta-llama/Llama-3.1-8B",
            "request_generator_config_type": "closed_loop",
            "closed_loop_request_generator_config_concurrency": 1,
            "closed_loop_request_generator_config_num_requests": 1,
            "length_generator_config_type": "fixed",
            "fixed_request_length_generator_config_prefill_tokens": 16,
            "fixed_request_length_generator_config_decode_tokens": 100_010,
        });
        let report = Session::new().prepare(&config).expect("valid").run_to_report();
        assert_eq!(report.chrome_trace.len() as u64, MAX_CHROME_SLICES);
        let result = run_result(&report, 1.0);
        let about_trace: Vec<&String> =
            result.warnings.iter().filter(|w| w.contains("chrome_trace.json")).collect();
        assert_eq!(about_trace.len(), 1, "{:?}", result.warnings);
        assert!(
            about_trace[0].contains("of 100010 batch-stage slices")
                && about_trace[0].contains("in the browser it keeps at most 100000"),
            "{}",
            about_trace[0]
        );
    }

    #[test]
    fn a_result_carries_its_config_and_offered_against_achieved_load() {
        let config = serde_json::json!({"synthetic_request_generator_config_num_requests": 40, "seed": 3});
        let report = Session::new().prepare(&config).expect("valid").run_to_report();
        let result = run_result(&report, 1.0);
        let (files, _) = downloads(&report);
        assert_eq!(result.config_json, files.iter().find(|f| f.0 == "config.json").unwrap().1);
        let load = &result.load;
        assert_eq!((load.arrivals, load.closed_loop), (40, false));
        let (offered, achieved) = (load.offered_rps.unwrap(), load.achieved_rps.unwrap());
        assert!(offered > 0.0 && achieved > 0.0, "{load:?}");
        assert_eq!(result.charts.waiting.len(), result.charts.time_s.len());
        assert_eq!(result.charts.ttft_by_arrival_s.len(), result.charts.time_s.len());
    }

    #[test]
    fn bad_values_are_refused_at_their_flag() {
        let s = Session::new();
        let errors = s
            .prepare(&serde_json::json!({"cluster_config_num_replicas": 0, "seed": "x"}))
            .err()
            .expect("refused");
        assert_eq!(errors[0].flag, "seed");
        let errors =
            s.prepare(&serde_json::json!({"cluster_config_num_replicas": 0})).err().expect("refused");
        assert_eq!(errors[0].flag, "cluster_config_num_replicas");
    }
}
