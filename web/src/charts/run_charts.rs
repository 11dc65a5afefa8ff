//! The page's seven charts of a run: latency CDFs (overlaying the A/B runs when two are
//! compared), throughput, batch size and KV-cache usage over time, and per-replica
//! utilisation; each says why when its run has no data for it.

use super::{Axes, BarGroup, Chart, Line, PALETTE, Plot, has_points};
use crate::page::RunRecord;
use crate::summary;

/// One of the page's charts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartKind {
    /// CDF of time to first token.
    Ttft,
    /// CDF of the time between output tokens.
    Tbt,
    /// CDF of end-to-end latency.
    E2e,
    /// Prompt and output tokens per second over time.
    Throughput,
    /// Mean batch size over time.
    BatchSize,
    /// KV-cache usage over time.
    KvUsage,
    /// Busy share and MFU per replica.
    Replicas,
}

/// The note of a chart whose run completed no request.
const NO_COMPLETIONS: &str = "No data: no request completed in this run.";
/// The note of a chart whose run formed no batch.
const NO_BATCH: &str = "No data: no batch ran in this run.";
const TIME_X: &str = "simulated time (s)";

impl ChartKind {
    /// The charts in page order.
    pub const ALL: [ChartKind; 7] = [
        ChartKind::Ttft,
        ChartKind::Tbt,
        ChartKind::E2e,
        ChartKind::Throughput,
        ChartKind::BatchSize,
        ChartKind::KvUsage,
        ChartKind::Replicas,
    ];

    /// The canvas's `data-testid`.
    pub fn test_id(self) -> &'static str {
        match self {
            ChartKind::Ttft => "chart-ttft",
            ChartKind::Tbt => "chart-tbt",
            ChartKind::E2e => "chart-e2e",
            ChartKind::Throughput => "chart-throughput",
            ChartKind::BatchSize => "chart-batch",
            ChartKind::KvUsage => "chart-kv",
            ChartKind::Replicas => "chart-replicas",
        }
    }

    /// The canvas's accessible name before anything is drawn.
    pub fn description(self) -> &'static str {
        match self {
            ChartKind::Ttft => "CDF of time to first token",
            ChartKind::Tbt => "CDF of time between tokens",
            ChartKind::E2e => "CDF of end-to-end latency",
            ChartKind::Throughput => "Throughput over time",
            ChartKind::BatchSize => "Batch size over time",
            ChartKind::KvUsage => "KV-cache usage over time",
            ChartKind::Replicas => "Per-replica busy and MFU",
        }
    }

    /// Whether the chart overlays the two compared runs when there are two.
    pub fn overlays_ab(self) -> bool {
        matches!(self, ChartKind::Ttft | ChartKind::Tbt | ChartKind::E2e)
    }

    /// The chart of the `shown` run; the CDFs overlay A and B instead when two runs are
    /// `compared`.
    pub fn chart(self, shown: &RunRecord, compared: Option<(&RunRecord, &RunRecord)>) -> Chart {
        let cdf_runs: Vec<&RunRecord> = match compared {
            Some((a, b)) => vec![a, b],
            None => vec![shown],
        };
        match self {
            ChartKind::Ttft => {
                cdf(&cdf_runs, "ttft", "Time to first token", "fraction of requests", NO_COMPLETIONS)
            }
            // TBT is measured per output token, so its CDF counts gaps between tokens, not requests.
            ChartKind::Tbt => cdf(
                &cdf_runs,
                "tbt",
                "Time between tokens",
                "fraction of token gaps",
                "No data: no request produced a second output token.",
            ),
            ChartKind::E2e => {
                cdf(&cdf_runs, "e2e", "End-to-end latency", "fraction of requests", NO_COMPLETIONS)
            }
            ChartKind::Throughput => throughput(shown),
            ChartKind::BatchSize => {
                let c = &shown.result.charts;
                over_time(
                    shown,
                    "Batch size over time",
                    "requests per batch (mean)",
                    &c.mean_batch_size,
                    2,
                    None,
                )
            }
            ChartKind::KvUsage => {
                let c = &shown.result.charts;
                let range = Some((0.0, 100.0));
                over_time(
                    shown,
                    "KV-cache usage over time",
                    "KV blocks in use (%)",
                    &c.kv_usage_percent,
                    3,
                    range,
                )
            }
            ChartKind::Replicas => replicas(shown),
        }
    }
}

/// A CDF's points from 101 quantiles (q = 0.00..1.00) scaled by `scale` (e.g. 1000 for ms).
pub fn cdf_points(quantiles: &[f64], scale: f64) -> Vec<(f64, f64)> {
    let n = quantiles.len().saturating_sub(1).max(1) as f64;
    quantiles.iter().enumerate().map(|(i, v)| (v * scale, i as f64 / n)).collect()
}

/// Centred moving average over `window` points (1 = unchanged).
pub fn moving_average(values: &[f64], window: usize) -> Vec<f64> {
    let half = window.max(1) / 2;
    (0..values.len())
        .map(|i| {
            let (lo, hi) = (i.saturating_sub(half), (i + half + 1).min(values.len()));
            values[lo..hi].iter().sum::<f64>() / (hi - lo) as f64
        })
        .collect()
}

/// The CDF of metric `key` of each run, in ms when every run's largest value is under a
/// second; two runs are labelled A and B.
fn cdf(runs: &[&RunRecord], key: &str, name: &str, y: &str, empty: &str) -> Chart {
    let max = runs.iter().filter_map(|r| r.result.charts.cdfs.get(key)?.last().copied()).fold(0.0, f64::max);
    let (scale, unit) = if max < 1.0 { (1e3, "ms") } else { (1.0, "s") };
    let labelled = runs.len() > 1;
    let lines: Vec<Line> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let q = r.result.charts.cdfs.get(key).map_or(&[][..], Vec::as_slice);
            let label = match (labelled, q.is_empty()) {
                (false, _) => String::new(),
                (true, false) => format!("{} #{}", ["A", "B"][i], r.id),
                (true, true) => format!("{} #{}: no data", ["A", "B"][i], r.id),
            };
            Line { label, color: PALETTE[i], points: cdf_points(q, scale) }
        })
        .collect();
    let title = format!("{name}: CDF");
    let plot = if has_points(&lines) {
        Plot::Lines {
            axes: Axes { x: format!("{name} ({unit})"), y: y.to_string() },
            lines,
            y_range: Some((0.0, 1.0)),
        }
    } else {
        Plot::Empty { note: empty.to_string() }
    };
    Chart { title, plot }
}

/// Whether the run formed no batch: its time series and utilisation are all zeros.
fn no_batch(run: &RunRecord) -> bool {
    summary::value(&run.summary, &["num_batches"]) == Some(0.0) || run.result.charts.time_s.is_empty()
}

/// `values` against the start of each time bucket.
fn series(run: &RunRecord, values: &[f64]) -> Vec<(f64, f64)> {
    run.result.charts.time_s.iter().copied().zip(values.iter().copied()).collect()
}

/// Prompt and output tokens per second, on two y axes, averaged over about a second (or 1/60
/// of the run): prefill comes in bursts.
fn throughput(run: &RunRecord) -> Chart {
    let c = &run.result.charts;
    let n = c.time_s.len();
    let window = ((1.0 / c.bucket_s.max(1e-9)).ceil() as usize).max(n.div_ceil(60)).clamp(1, (n / 4).max(1));
    let title = format!("Throughput over time ({:.1} s average)", window as f64 * c.bucket_s);
    if no_batch(run) {
        return Chart { title, plot: Plot::Empty { note: NO_BATCH.to_string() } };
    }
    let line = |label: &str, color, values: &[f64]| Line {
        label: label.to_string(),
        color,
        points: series(run, &moving_average(values, window)),
    };
    Chart {
        title,
        plot: Plot::DualLines {
            axes: Axes { x: TIME_X.to_string(), y: "prompt tokens per second".to_string() },
            right_y: "output tokens per second".to_string(),
            left: vec![line("prompt tokens/s (left)", PALETTE[0], &c.prefill_tokens_per_s)],
            right: vec![line("output tokens/s (right)", PALETTE[1], &c.decode_tokens_per_s)],
        },
    }
}

/// One unlabelled quantity over simulated time, in colour `PALETTE[color]`.
fn over_time(
    run: &RunRecord,
    title: &str,
    y: &str,
    values: &[f64],
    color: usize,
    y_range: Option<(f64, f64)>,
) -> Chart {
    let plot = if no_batch(run) {
        Plot::Empty { note: NO_BATCH.to_string() }
    } else {
        let lines = vec![Line { label: String::new(), color: PALETTE[color], points: series(run, values) }];
        Plot::Lines { axes: Axes { x: TIME_X.to_string(), y: y.to_string() }, lines, y_range }
    };
    Chart { title: title.to_string(), plot }
}

/// Busy share of simulated time and MFU of each replica, averaged over its pipeline stages.
fn replicas(run: &RunRecord) -> Chart {
    let title = "Per-replica utilisation".to_string();
    if no_batch(run) {
        return Chart { title, plot: Plot::Empty { note: NO_BATCH.to_string() } };
    }
    let mean = |v: &[f64]| if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 };
    let groups = run
        .result
        .charts
        .replicas
        .iter()
        .map(|r| BarGroup {
            label: format!("r{}", r.replica),
            values: vec![mean(&r.busy_percent), mean(&r.mfu_percent)],
        })
        .collect();
    Chart {
        title,
        plot: Plot::Bars {
            axes: Axes { x: "replica".to_string(), y: "% of simulated time / of peak FLOPs".to_string() },
            series: vec![("busy %".to_string(), PALETTE[0]), ("MFU %".to_string(), PALETTE[1])],
            groups,
            y_max: 100.0,
        },
    }
}

#[cfg(test)]
mod tests {
    use llmsim_protocol::{ChartData, ReplicaBars, RunResult};

    use super::*;
    use crate::charts::draw::tests::{hex, plotted_lines, svg, texts};

    /// A run `id` whose latencies reach `top_s` seconds, over `buckets` one-second buckets.
    fn run(id: u32, top_s: f64, buckets: usize) -> RunRecord {
        let quantiles: Vec<f64> = (0..=100).map(|i| top_s * f64::from(i) / 100.0).collect();
        let ramp: Vec<f64> = (0..buckets).map(|i| i as f64).collect();
        let charts = ChartData {
            cdfs: ["ttft", "tbt", "e2e"].iter().map(|k| (k.to_string(), quantiles.clone())).collect(),
            bucket_s: 1.0,
            time_s: ramp.clone(),
            completions_per_s: ramp.clone(),
            prefill_tokens_per_s: ramp.clone(),
            decode_tokens_per_s: ramp.clone(),
            mean_batch_size: ramp.clone(),
            kv_usage_percent: ramp,
            replicas: (0..2)
                .map(|r| ReplicaBars { replica: r, busy_percent: vec![40.0, 60.0], mfu_percent: vec![5.0] })
                .collect(),
        };
        let batches = if buckets == 0 { 0 } else { 10 };
        let summary_json = format!("{{\"num_batches\": {batches}}}");
        RunRecord {
            id,
            label: format!("run {id}"),
            summary: serde_json::from_str(&summary_json).unwrap(),
            result: RunResult { summary_json, charts, warnings: Vec::new(), elapsed_ms: 1.0 },
            share_query: String::new(),
            wall_ms: 1.0,
        }
    }

    #[test]
    fn a_cdf_is_in_ms_under_a_second_and_overlays_a_and_b() {
        let (fast, slow) = (run(1, 0.25, 10), run(2, 3.0, 10));
        let chart = ChartKind::Ttft.chart(&fast, None);
        assert_eq!(chart.title, "Time to first token: CDF");
        let Plot::Lines { axes, lines, y_range } = &chart.plot else { panic!("{chart:?}") };
        assert_eq!((axes.x.as_str(), axes.y.as_str()), ("Time to first token (ms)", "fraction of requests"));
        assert_eq!((lines.len(), lines[0].label.as_str(), *y_range), (1, "", Some((0.0, 1.0))));
        assert_eq!(lines[0].points.last(), Some(&(250.0, 1.0)));

        // Compared: both runs, labelled, in seconds since B reaches 3 s.
        let chart = ChartKind::Tbt.chart(&fast, Some((&fast, &slow)));
        let drawn = svg(&chart, 480);
        let texts = texts(&drawn);
        for expected in
            ["Time between tokens: CDF", "Time between tokens (s)", "fraction of token gaps", "A #1", "B #2"]
        {
            assert!(texts.iter().any(|t| t == expected), "{expected} in {texts:?}");
        }
        assert_eq!(plotted_lines(&drawn), [(hex(PALETTE[0]), 101), (hex(PALETTE[1]), 101)]);
        // The time series show the shown run only.
        assert!(!ChartKind::Throughput.overlays_ab());
        assert_eq!(
            ChartKind::KvUsage.chart(&fast, Some((&fast, &slow))),
            ChartKind::KvUsage.chart(&fast, None)
        );
    }

    #[test]
    fn a_run_without_completions_or_batches_explains_its_empty_charts() {
        let mut empty = run(1, 1.0, 0);
        empty.result.charts.cdfs.clear();
        for kind in ChartKind::ALL {
            let chart = kind.chart(&empty, None);
            let note = chart.note().unwrap_or_else(|| panic!("{kind:?} has a note: {chart:?}"));
            assert!(note.starts_with("No data: "), "{note}");
            let drawn = svg(&chart, 480);
            assert!(plotted_lines(&drawn).is_empty(), "{kind:?}");
            assert_eq!(texts(&drawn)[0], chart.title);
        }
        // With B compared and A empty, A's line says so.
        let b = run(2, 0.5, 10);
        let chart = ChartKind::E2e.chart(&b, Some((&empty, &b)));
        let Plot::Lines { lines, .. } = &chart.plot else { panic!("{chart:?}") };
        assert_eq!(lines.iter().map(|l| l.label.as_str()).collect::<Vec<_>>(), ["A #1: no data", "B #2"]);
    }

    #[test]
    fn the_time_series_and_replica_bars_have_their_axes_and_series() {
        let shown = run(1, 1.0, 240);
        let throughput = ChartKind::Throughput.chart(&shown, None);
        assert_eq!(
            throughput.title, "Throughput over time (4.0 s average)",
            "1/60 of 240 one-second buckets"
        );
        let drawn = svg(&throughput, 640);
        let labels = texts(&drawn);
        for expected in ["simulated time (s)", "prompt tokens per second", "output tokens per second"] {
            assert!(labels.iter().any(|t| t == expected), "{expected} in {labels:?}");
        }
        assert_eq!(plotted_lines(&drawn).len(), 2, "prompt and output tokens");
        for (kind, y) in [
            (ChartKind::BatchSize, "requests per batch (mean)"),
            (ChartKind::KvUsage, "KV blocks in use (%)"),
        ] {
            let drawn = svg(&kind.chart(&shown, None), 480);
            assert!(texts(&drawn).iter().any(|t| t == y), "{kind:?}");
            assert_eq!(plotted_lines(&drawn).len(), 1, "{kind:?}");
        }
        let replicas = ChartKind::Replicas.chart(&shown, None);
        let Plot::Bars { groups, .. } = &replicas.plot else { panic!("{replicas:?}") };
        assert_eq!(groups[1], BarGroup { label: "r1".into(), values: vec![50.0, 5.0] }, "stage means");
    }

    #[test]
    fn every_chart_has_its_own_canvas_id() {
        let ids: std::collections::BTreeSet<&str> = ChartKind::ALL.iter().map(|k| k.test_id()).collect();
        assert_eq!(ids.len(), ChartKind::ALL.len());
        assert_eq!(moving_average(&[0.0, 3.0, 6.0], 3), [1.5, 3.0, 4.5]);
        assert_eq!(cdf_points(&[1.0, 2.0], 1e3), [(1000.0, 0.0), (2000.0, 1.0)]);
    }
}
