//! Output files in Vidur's layout, and the summary table printed at the end of a run.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use llmsim_engine::report::{DisaggSummary, PoolSummary, RequestRecord};
use llmsim_engine::stats::Stats;
use llmsim_engine::{Report, SimConfig, Simulation};

/// The files `llmsim` writes at the top of an output directory (every name [`write`] can
/// produce there; a test holds it to that).
pub const OWN_FILES: &[&str] = &[
    "config.json",
    "summary.json",
    "request_metrics.csv",
    "request_errors.csv",
    "chrome_trace.json",
    "batch_metrics.csv",
];

/// The directory of plot files inside an output directory.
pub const PLOTS_DIR: &str = "plots";

/// Creates `<output_dir>/<timestamp>/` (or `<output_dir>/` with
/// `--metrics_config_no_timestamp`) and returns it; the error names the flag and the path.
///
/// An empty or `none` output directory is refused: it would put the outputs (and, with
/// `--metrics_config_no_timestamp`, the removal of an earlier run's files) in whatever
/// directory llmsim happens to run in.
pub fn create_dir(config: &SimConfig) -> Result<PathBuf, String> {
    let output_dir = &config.metrics.output_dir;
    let flag = format!("--metrics_config_output_dir '{output_dir}'");
    if output_dir.trim().is_empty() || output_dir.trim().eq_ignore_ascii_case("none") {
        return Err(format!(
            "{flag}: an empty or 'none' output directory is ambiguous (it would write into the current directory); name one, such as simulator_output"
        ));
    }
    let base = PathBuf::from(output_dir);
    // create_dir_all says only "File exists" (or "Not a directory") for a file in the way.
    if let Some(file) = base
        .ancestors()
        .find(|p| !p.as_os_str().is_empty() && std::fs::metadata(p).is_ok_and(|m| !m.is_dir()))
    {
        return Err(format!("{flag}: {} is a file, not a directory", file.display()));
    }
    std::fs::create_dir_all(&base)
        .map_err(|e| format!("{flag}: could not create the directory {}: {e}", base.display()))?;
    if config.metrics.no_timestamp {
        return Ok(base);
    }
    // The run's own directory is new: made here, never an existing link.
    let dir = base.join(timestamp());
    std::fs::create_dir(&dir)
        .map_err(|e| format!("{flag}: could not create the directory {}: {e}", dir.display()))?;
    Ok(dir)
}

/// Removes what an earlier run left in `dir` under llmsim's own names ([`OWN_FILES`], and the
/// `.csv` / `.json` files in `plots/`, then `plots/` itself if that empties it), so a reused
/// directory (`--metrics_config_no_timestamp`) holds only this run's files: otherwise a
/// `batch_metrics.csv` or `chrome_trace.json` of a run with other output flags would sit beside
/// this run's `summary.json` as if it were this run's. Nothing else is touched: other files, and
/// a `plots` that is not a plain directory, stay — and since outputs are never written through
/// a link out of the output directory, a `plots` that is a link (or a file) is refused.
pub fn remove_stale(dir: &Path) -> Result<(), String> {
    let remove = |path: &Path| {
        std::fs::remove_file(path)
            .map_err(|e| format!("could not remove the earlier run's {}: {e}", path.display()))
    };
    let is_file = |path: &Path| std::fs::symlink_metadata(path).is_ok_and(|m| !m.is_dir());
    for name in OWN_FILES {
        let path = dir.join(name);
        if is_file(&path) {
            remove(&path)?;
        }
    }
    let plots = dir.join(PLOTS_DIR);
    match std::fs::symlink_metadata(&plots) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(not_a_directory(&plots)),
        Err(_) => return Ok(()),
    }
    let entries = std::fs::read_dir(&plots)
        .map_err(|e| format!("could not read the earlier run's {}: {e}", plots.display()))?;
    for entry in entries {
        let path =
            entry.map_err(|e| format!("could not read the earlier run's {}: {e}", plots.display()))?.path();
        let ours = path.extension().is_some_and(|x| x == "csv" || x == "json");
        if ours && is_file(&path) {
            remove(&path)?;
        }
    }
    // Fails, and is meant to, when other files remain.
    let _ = std::fs::remove_dir(&plots);
    Ok(())
}

/// Writes `config.json` (the full configuration, every flag), as Vidur does when a run starts,
/// whatever the output flags.
pub fn write_config(dir: &Path, config: &SimConfig) -> Result<(), String> {
    let text = serde_json::to_string_pretty(&config.raw.to_json(true)).expect("config serialises") + "\n";
    write_file(&dir.join("config.json"), &text)
}

/// `request_metrics.csv`, written row by row while the simulation runs.
pub struct RowWriter {
    path: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
    records: Vec<RequestRecord>,
    line: Vec<u8>,
    /// Rows with the KV transfer's columns.
    disaggregated: bool,
}

impl RowWriter {
    /// Creates the file in `dir` and writes its header (with the hand-off columns when the
    /// cluster is `disaggregated`).
    pub fn create(dir: &Path, disaggregated: bool) -> Result<RowWriter, String> {
        let path = dir.join("request_metrics.csv");
        let file = create_new(&path)?;
        let mut writer = RowWriter {
            file: std::io::BufWriter::new(file),
            records: Vec::new(),
            line: Vec::new(),
            path,
            disaggregated,
        };
        writer
            .file
            .write_all(RequestRecord::csv_header(disaggregated).as_bytes())
            .map_err(|e| write_error(&writer.path, &e))?;
        Ok(writer)
    }

    /// Writes the rows the simulation has made final since the last call.
    pub fn write_from(&mut self, sim: &mut Simulation) -> Result<(), String> {
        sim.drain_request_records(&mut self.records);
        for record in self.records.drain(..) {
            self.line.clear();
            if self.disaggregated {
                record.write_disaggregated_csv_row(sim.take_kv_transfer(record.id).as_ref(), &mut self.line);
            } else {
                record.write_csv_row(&mut self.line);
            }
            self.file.write_all(&self.line).map_err(|e| write_error(&self.path, &e))?;
        }
        Ok(())
    }

    /// Flushes and closes the file.
    pub fn close(mut self) -> Result<(), String> {
        self.file.flush().map_err(|e| write_error(&self.path, &e))
    }
}

/// Writes the report's files into `dir`, except `config.json` (written when the run starts,
/// [`write_config`]) and `request_metrics.csv` when it was streamed.
pub fn write(dir: &Path, config: &SimConfig, report: &Report) -> Result<(), String> {
    // The Chrome trace is streamed to its file (hundreds of MB even when capped), the rest
    // rendered in memory.
    if config.metrics.enable_chrome_trace {
        let path = dir.join("chrome_trace.json");
        // Unbuffered: the trace comes in pieces of 64 KiB already (a buffer would only copy them).
        let mut file = create_new(&path)?;
        report.write_chrome_trace(&mut file).map_err(|e| write_error(&path, &e))?;
    }
    for (name, contents) in report.files(config.metrics.store_plots, false) {
        if name == "config.json" {
            continue;
        }
        let path = dir.join(&name);
        if let Some(parent) = path.parent().filter(|p| *p != dir) {
            create_plain_dir(parent)?;
        }
        write_file(&path, &contents)?;
    }
    Ok(())
}

/// Creates the directory `path` inside the output directory, or accepts it if it is already a
/// plain directory; a link (or a file) there is refused, so that no output leaves the
/// output directory.
fn create_plain_dir(path: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(not_a_directory(path)),
        Err(_) => std::fs::create_dir(path)
            .map_err(|e| format!("could not create the directory {}: {e}", path.display())),
    }
}

fn not_a_directory(path: &Path) -> String {
    format!(
        "{} is a symbolic link or a file, not a directory: llmsim writes its outputs only inside the output directory; remove it or choose another --metrics_config_output_dir",
        path.display()
    )
}

/// Creates `path` as a new file: an existing file or link there (which a link could point
/// anywhere) is never opened, written through or truncated.
fn create_new(path: &Path) -> Result<std::fs::File, String> {
    std::fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!("could not write {}: something appeared there while llmsim ran", path.display())
        } else {
            write_error(path, &e)
        }
    })
}

fn write_file(path: &Path, contents: &str) -> Result<(), String> {
    create_new(path)?.write_all(contents.as_bytes()).map_err(|e| write_error(path, &e))
}

fn write_error(path: &Path, e: &std::io::Error) -> String {
    format!("could not write {}: {e}", path.display())
}

/// Writes `text` to stdout. A closed pipe (`llmsim -h | head`) ends the process quietly instead
/// of panicking as `print!` would.
pub fn emit(text: &str) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        note(&format!("llmsim: cannot write to stdout: {e}"));
        std::process::exit(1);
    }
}

/// Writes `line` and a newline to stderr, ignoring errors: a closed or full stderr (`llmsim 2>&1
/// | head`) must not turn a finished run into a panic, as `eprintln!` would, and there is nowhere
/// left to report it.
pub fn note(line: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(line.as_bytes()).and_then(|()| stderr.write_all(b"\n"));
}

/// Vidur's directory name format, `YYYY-MM-DD_HH-MM-SS-ffffff` (UTC).
fn timestamp() -> String {
    let now = humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string();
    // 2026-11-28T08:44:00.123456Z → 2026-11-28_08-44-00-123456
    now.trim_end_matches('Z').replace('T', "_").replace([':', '.'], "-")
}

fn row(out: &mut String, name: &str, s: &Stats, unit_scale: f64) {
    // No samples (e.g. no request finished): dashes, not zeros that read as measured.
    let cell =
        |x: f64| if s.count == 0 { format!("{:>10}", "–") } else { format!("{:>10.4}", x * unit_scale) };
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
    let mut out = String::new();
    // Replicas, device and parallelism of a pool (the whole cluster when aggregated).
    let pool = |c: &SimConfig| {
        let r = &c.replica;
        format!(
            "{} × {} on {} (TP{} PP{}{})",
            c.cluster.num_replicas,
            r.model.name,
            r.device.name,
            r.parallel.tensor_parallel_size,
            r.parallel.num_pipeline_stages,
            match (r.parallel.attention_dp_size, r.parallel.expert_parallel_size) {
                (1, 1) => String::new(),
                (dp, ep) => format!(" DP{dp} EP{ep}"),
            }
        )
    };
    let cluster = match &config.disagg {
        Some(d) => format!("prefill {}, decode {}", pool(config), pool(&d.decode)),
        None => pool(config),
    };
    // A decode pool with its own scheduler (`--disaggregation_config_decode_replica_scheduler_type`).
    let scheduler = match &config.disagg {
        Some(d) if d.decode.replica_scheduler.name != config.replica_scheduler.name => {
            format!("{} prefill + {} decode", config.replica_scheduler.name, d.decode.replica_scheduler.name)
        }
        _ => config.replica_scheduler.name.to_string(),
    };
    let _ = writeln!(
        out,
        "llmsim: {cluster}, {scheduler} / {}, predictor {}",
        config.router.name, s.predictor.name
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
    let _ = writeln!(
        out,
        "  {:<22}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
        "latency (s)", "mean", "p50", "p90", "p95", "p99", "max"
    );
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
    // Blocks per replica: each pool's in a disaggregated cluster.
    let blocks = match &config.disagg {
        Some(d) => {
            format!("{} (prefill) / {} (decode)", s.memory.num_blocks_per_replica, d.decode.memory.num_blocks)
        }
        None => s.memory.num_blocks_per_replica.to_string(),
    };
    let _ = writeln!(
        out,
        "KV usage: mean {:.1}%, max {:.1}% of {blocks} blocks × {} tokens per replica; prefix-cache hit rate {:.1}%; busy {:.1}%; MFU {:.1}%",
        s.kv_usage_percent_mean,
        s.kv_usage_percent_max,
        s.memory.block_size,
        s.prefix_cache_hit_rate * 100.0,
        s.busy_percent_mean,
        s.mfu_percent_mean
    );
    if let Some(d) = &s.disaggregation {
        out.push_str(&pool_lines(d));
    }
    out.push_str(&slo_cost_lines(s));
    let shares: Vec<String> = s
        .predictor
        .time_share
        .iter()
        .filter(|(_, v)| **v > 0.0)
        .map(|(k, v)| format!("{k} {:.1}%", v * 100.0))
        .collect();
    let _ = writeln!(
        out,
        "predicted time from: {}",
        if shares.is_empty() { "-".to_string() } else { shares.join(", ") }
    );
    out
}

/// A disaggregated run's pools side by side and its KV transfers (`summary.json`'s
/// `disaggregation`); a distribution without samples (a pool no request reached) shows a dash,
/// as `summary.json` gives null.
fn pool_lines(d: &DisaggSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "  {:<22}{:>10}{:>10}", "pools", "prefill", "decode");
    let (p, q) = (&d.prefill, &d.decode);
    let mut line = |name: &str, f: &dyn Fn(&PoolSummary) -> String| {
        let _ = writeln!(out, "  {name:<22}{:>10}{:>10}", f(p), f(q));
    };
    line("replicas", &|p| p.num_replicas.to_string());
    line("GPUs", &|p| p.num_gpus.to_string());
    line("busy, mean %", &|p| format!("{:.1}", p.busy_percent_mean));
    line("MFU, mean %", &|p| format!("{:.1}", p.mfu_percent_mean));
    line("KV usage, mean %", &|p| format!("{:.1}", p.kv_usage_percent_mean));
    line("KV usage, max %", &|p| format!("{:.1}", p.kv_usage_percent_max));
    line("queueing p50 (s)", &|p| figure(&p.queueing_s, p.queueing_s.p50));
    line("queueing p90 (s)", &|p| figure(&p.queueing_s, p.queueing_s.p90));
    line("queueing p99 (s)", &|p| figure(&p.queueing_s, p.queueing_s.p99));
    let spread = |s: &Stats| {
        format!(
            "p50 {} p90 {} p99 {} max {}",
            figure(s, s.p50),
            figure(s, s.p90),
            figure(s, s.p99),
            figure(s, s.max)
        )
    };
    let _ = writeln!(
        out,
        "KV transfers: {} ({} over NVLink, {} over RDMA); on the link (s): {}; waiting before (s): {}",
        d.num_kv_transfers,
        d.num_kv_transfers_nvlink,
        d.num_kv_transfers - d.num_kv_transfers_nvlink,
        spread(&d.kv_transfer_s),
        spread(&d.kv_transfer_wait_s)
    );
    out
}

/// One figure of a distribution, seconds, or a dash without samples.
fn figure(s: &Stats, x: f64) -> String {
    if s.count == 0 { "–".to_string() } else { format!("{x:.4}") }
}

/// The summary's SLO, goodput and cost lines (the overload verdict is among the warnings).
fn slo_cost_lines(s: &llmsim_engine::Summary) -> String {
    let mut out = String::new();
    if let Some(slo) = &s.slo {
        let targets: Vec<String> = slo
            .targets
            .iter()
            .map(|t| {
                let observed =
                    t.observed_s.map_or_else(|| "not reached".to_string(), |v| format!("{v:.4} s"));
                format!(
                    "{} p{} ≤ {} s: {observed} {}",
                    t.metric,
                    t.quantile * 100.0,
                    t.max_s,
                    if t.met { "(met)" } else { "(missed)" }
                )
            })
            .collect();
        let rule = match slo.required_attainment {
            Some(required) => format!(" (needs {:.1}%)", required * 100.0),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "SLOs {}: {}; {}; attainment {:.1}%{rule}; goodput {:.3} req/s, {:.1} output tok/s",
            if slo.met { "met" } else { "NOT met" },
            targets.join(&format!(" {} ", slo.combine)),
            slo.combine,
            slo.attainment * 100.0,
            slo.goodput.requests_per_s,
            slo.goodput.output_tokens_per_s
        );
    }
    let c = &s.cost;
    match (c.usd_per_gpu_hour, c.usd_per_hour) {
        (Some(per_gpu), Some(per_hour)) => {
            let per_token = c
                .usd_per_million_output_tokens
                .map_or_else(String::new, |x| format!("; ${x:.3} per million output tokens"));
            let _ = writeln!(
                out,
                "cost: {} GPUs × ${per_gpu:.3}/GPU-hour = ${per_hour:.2}/hour{per_token} (price: {})",
                c.num_gpus,
                c.price_source.as_deref().unwrap_or("-")
            );
        }
        _ => {
            let _ = writeln!(out, "cost: {} GPUs (no price: set --cost_config_usd_per_gpu_hour)", c.num_gpus);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmsim_engine::{Config, Inputs};

    /// `remove_stale` removes only what `write` can produce: [`OWN_FILES`] at the top and
    /// `.csv` / `.json` files directly in `plots/`. Every output switched on must stay inside that.
    #[test]
    fn every_file_written_has_a_name_remove_stale_knows() {
        let config = Config::from_pairs([
            ("synthetic_request_generator_config_num_requests", "4"),
            ("metrics_config_keep_individual_batch_metrics", "true"),
            ("metrics_config_store_operation_metrics", "true"),
            ("cluster_config_num_replicas", "2"),
        ])
        .unwrap();
        let sim_config = SimConfig::build(&config, &Inputs::new()).unwrap();
        let report = Simulation::new(&sim_config).run_to_report();
        let files = report.files(true, true);
        for (name, _) in &files {
            let known = OWN_FILES.contains(&name.as_str())
                || name
                    .strip_prefix("plots/")
                    .is_some_and(|f| !f.contains('/') && (f.ends_with(".csv") || f.ends_with(".json")));
            assert!(known, "{name} is written but not removed from a reused directory");
        }
        for own in OWN_FILES {
            assert!(files.iter().any(|(name, _)| name == own), "{own} is in OWN_FILES but never written");
        }
    }

    #[test]
    fn a_disaggregated_summary_shows_both_pools_with_dashes_for_distributions_without_samples() {
        // One-token outputs end where they are prefilled: the decode pool queues nothing and
        // no KV is transferred. Its figures are dashes (null in summary.json), not zeros.
        let config = Config::from_pairs([
            ("synthetic_request_generator_config_num_requests", "4"),
            ("length_generator_config_type", "fixed"),
            ("fixed_request_length_generator_config_decode_tokens", "1"),
            ("disaggregation_config_type", "prefill_decode"),
            ("disaggregation_config_decode_num_replicas", "3"),
        ])
        .unwrap();
        let sim_config = SimConfig::build(&config, &Inputs::new()).unwrap();
        let report = Simulation::new(&sim_config).run_to_report();
        let table = summary_table(&sim_config, &report);
        let row = |name: &str| -> Vec<String> {
            let line =
                table.lines().find(|l| l.trim_start().starts_with(name)).unwrap_or_else(|| panic!("{table}"));
            line[2 + 22..].split_whitespace().map(str::to_string).collect()
        };
        assert_eq!(row("replicas"), ["1", "3"], "{table}");
        // The header and the blocks line name both pools.
        let decode_blocks = sim_config.disagg.as_ref().unwrap().decode.memory.num_blocks;
        assert!(table.lines().next().unwrap().contains(", decode 3 × "), "{table}");
        assert!(table.contains(&format!(" (prefill) / {decode_blocks} (decode) blocks × ")), "{table}");
        let queueing = row("queueing p90 (s)");
        assert!(queueing[0].parse::<f64>().is_ok(), "the prefill pool queued its requests: {table}");
        assert_eq!(queueing[1], "–", "{table}");
        assert!(
            table.contains(
                "KV transfers: 0 (0 over NVLink, 0 over RDMA); on the link (s): p50 – p90 – p99 – max –"
            ),
            "{table}"
        );
        let json = serde_json::to_value(&report.summary).unwrap();
        assert!(json["disaggregation"]["decode"]["queueing_s"]["p90"].is_null(), "as summary.json");
        // One scheduler for both pools: named once; a decode pool's own: both, by pool.
        assert!(table.lines().next().unwrap().contains(", vllm_v1 / round_robin, "), "{table}");
        let mut own = config.clone();
        own.set("disaggregation_config_decode_replica_scheduler_type", "trtllm").unwrap();
        let sim_config = SimConfig::build(&own, &Inputs::new()).unwrap();
        let report = Simulation::new(&sim_config).run_to_report();
        let header = summary_table(&sim_config, &report).lines().next().unwrap().to_string();
        assert!(header.contains(", vllm_v1 prefill + trtllm decode / round_robin, "), "{header}");
    }
}
