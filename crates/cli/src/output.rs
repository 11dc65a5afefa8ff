//! Output files in Vidur's layout, and the summary table printed at the end of a run.

use std::fmt::Write as _;
use std::path::PathBuf;

use llmsim_engine::metrics::Stats;
use llmsim_engine::{Report, SimConfig};

/// Writes the report's files into `<output_dir>/<timestamp>/` (or `<output_dir>/` with
/// `--metrics_config_no_timestamp`); returns the directory.
pub fn write(config: &SimConfig, report: &Report) -> std::io::Result<PathBuf> {
    let mut dir = PathBuf::from(&config.metrics.output_dir);
    if !config.metrics.no_timestamp {
        dir.push(timestamp());
    }
    std::fs::create_dir_all(&dir)?;
    for (name, contents) in report.files(config.metrics.store_plots, config.metrics.enable_chrome_trace) {
        let path = dir.join(&name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, contents)?;
    }
    Ok(dir)
}

/// Vidur's directory name format, `YYYY-MM-DD_HH-MM-SS-ffffff` (UTC).
fn timestamp() -> String {
    let now = humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string();
    // 2026-11-28T08:44:00.123456Z → 2026-11-28_08-44-00-123456
    now.trim_end_matches('Z').replace('T', "_").replace([':', '.'], "-")
}

fn row(out: &mut String, name: &str, s: &Stats, unit_scale: f64) {
    let _ = writeln!(
        out,
        "  {name:<22}{:>10.4}{:>10.4}{:>10.4}{:>10.4}{:>10.4}{:>10.4}",
        s.mean * unit_scale,
        s.p50 * unit_scale,
        s.p90 * unit_scale,
        s.p95 * unit_scale,
        s.p99 * unit_scale,
        s.max * unit_scale
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
