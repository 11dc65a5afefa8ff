//! Output files in Vidur's layout, and the summary table printed at the end of a run.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use llmsim_engine::metrics::Stats;
use llmsim_engine::report::RequestRecord;
use llmsim_engine::{Report, SimConfig, Simulation};

/// Creates `<output_dir>/<timestamp>/` (or `<output_dir>/` with
/// `--metrics_config_no_timestamp`); returns it.
pub fn create_dir(config: &SimConfig) -> std::io::Result<PathBuf> {
    let mut dir = PathBuf::from(&config.metrics.output_dir);
    if !config.metrics.no_timestamp {
        dir.push(timestamp());
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// `request_metrics.csv`, written row by row while the simulation runs.
pub struct RowWriter {
    file: std::io::BufWriter<std::fs::File>,
    records: Vec<RequestRecord>,
    line: String,
}

impl RowWriter {
    /// Creates the file in `dir` and writes its header.
    pub fn create(dir: &Path) -> std::io::Result<RowWriter> {
        let mut file = std::io::BufWriter::new(std::fs::File::create(dir.join("request_metrics.csv"))?);
        file.write_all(RequestRecord::csv_header().as_bytes())?;
        Ok(RowWriter { file, records: Vec::new(), line: String::new() })
    }

    /// Writes the rows the simulation has made final since the last call.
    pub fn write_from(&mut self, sim: &mut Simulation) -> std::io::Result<()> {
        sim.drain_request_records(&mut self.records);
        for record in self.records.drain(..) {
            self.line.clear();
            record.write_csv_row(&mut self.line);
            self.file.write_all(self.line.as_bytes())?;
        }
        Ok(())
    }

    /// Flushes and closes the file.
    pub fn close(mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Writes the report's files into `dir` (request_metrics.csv only if it was not streamed).
pub fn write(dir: &Path, config: &SimConfig, report: &Report) -> std::io::Result<()> {
    for (name, contents) in report.files(config.metrics.store_plots, config.metrics.enable_chrome_trace) {
        let path = dir.join(&name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, contents)?;
    }
    Ok(())
}

/// Writes `text` to stdout. A closed pipe (`llmsim -h | head`) ends the process quietly instead
/// of panicking as `print!` would.
pub fn emit(text: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("llmsim: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}

/// Vidur's directory name format, `YYYY-MM-DD_HH-MM-SS-ffffff` (UTC).
fn timestamp() -> String {
    let now = humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string();
    // 2026-11-28T08:44:00.123456Z → 2026-11-28_08-44-00-123456
    now.trim_end_matches('Z').replace('T', "_").replace([':', '.'], "-")
}

fn row(out: &mut String, name: &str, s: &Stats, unit_scale: f64) {
    // No samples (e.g. no request finished): dashes, not zeros that read as measured.
    let cell = |x: f64| if s.count == 0 { format!("{:>10}", "–") } else { format!("{:>10.4}", x * unit_scale) };
    let _ = writeln!(
        out,
        "  {name:<22}{}{}{}{}{}{}",
        cell(s.mean),
        cell(s.p50),
        cell(s.p90),
        cell(s.p95),
        cell(s.p99),
        cell(s.max)
    );
}

/// The end-of-run summary for stdout.
pub fn summary_table(config: &SimConfig, report: &Report) -> String {
    let s = &report.summary;
    let r = &config.replica;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "llmsim: {} × {} on {} (TP{} PP{}), {} / {}, predictor {}",
        config.cluster.num_replicas,
        r.model.name,
        r.device.name,
        r.parallel.tensor_parallel_size,
        r.parallel.num_pipeline_stages,
        config.replica_scheduler.name,
        config.router.name,
        s.predictor.name
    );
    let _ = writeln!(
        out,
        "requests: {} arrived, {} completed, {} refused, {} unfinished; {} preemptions; {} batches; {} events; {:.3} s simulated{}",
        s.num_requests,
        s.num_completed,
        s.num_refused,
        s.num_unfinished,
        s.num_preemptions,
        s.num_batches,
        s.num_events,
        s.simulated_time_s,
        if s.time_limit_reached { " (time limit)" } else { "" }
    );
    let _ = writeln!(out, "  {:<22}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}", "latency (s)", "mean", "p50", "p90", "p95", "p99", "max");
    row(&mut out, "TTFT", &s.ttft_s, 1.0);
    row(&mut out, "TBT", &s.tbt_s, 1.0);
    row(&mut out, "TPOT", &s.tpot_s, 1.0);
    row(&mut out, "E2E", &s.e2e_s, 1.0);
    row(&mut out, "scheduling delay", &s.scheduling_delay_s, 1.0);
    let _ = writeln!(
        out,
        "throughput: {:.3} req/s, {:.1} input tok/s, {:.1} output tok/s",
        s.throughput.requests_per_s, s.throughput.input_tokens_per_s, s.throughput.output_tokens_per_s
    );
    let _ = writeln!(
        out,
        "KV usage: mean {:.1}%, max {:.1}% of {} blocks × {} tokens per replica; prefix-cache hit rate {:.1}%; busy {:.1}%; MFU {:.1}%",
        s.kv_usage_percent_mean,
        s.kv_usage_percent_max,
        s.memory.num_blocks_per_replica,
        s.memory.block_size,
        s.prefix_cache_hit_rate * 100.0,
        s.busy_percent_mean,
        s.mfu_percent_mean
    );
    let shares: Vec<String> =
        s.predictor.time_share.iter().filter(|(_, v)| **v > 0.0).map(|(k, v)| format!("{k} {:.1}%", v * 100.0)).collect();
    let _ = writeln!(out, "predicted time from: {}", if shares.is_empty() { "-".to_string() } else { shares.join(", ") });
    out
}
