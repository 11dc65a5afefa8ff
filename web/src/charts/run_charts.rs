//! The page's charts of a run, or of two runs compared: latency CDFs, throughput, batch size,
//! KV-cache usage, the queue and first-token latency over time, and per-replica utilisation.
//! Every chart's title names the run it shows (`Run #3 · …`, or `A #1 vs B #2 · …` with each
//! line labelled), and each says why when its run has no data for it.

use super::{Axes, BarGroup, Chart, Line, Mark, PALETTE, Plot, RGBColor, Units, has_points};
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
    /// Requests waiting and time to first token over time: where overload shows.
    Load,
    /// Prompt and output tokens per second over time.
    Throughput,
    /// Mean batch size over time.
    BatchSize,
    /// KV-cache usage over time.
    KvUsage,
    /// Busy share, MFU and KV usage per replica, by pool when disaggregated.
    Replicas,
    /// CDF of the KV transfers' time on their link (disaggregated runs only).
    KvTransfer,
}

/// The runs a chart shows.
#[derive(Clone, Copy, Debug)]
pub enum Subject<'a> {
    /// One run.
    One(&'a RunRecord),
    /// Two runs compared: A, then B.
    Pair(&'a RunRecord, &'a RunRecord),
}

impl<'a> Subject<'a> {
    /// The runs, A first.
    fn runs(self) -> Vec<&'a RunRecord> {
        match self {
            Subject::One(r) => vec![r],
            Subject::Pair(a, b) => vec![a, b],
        }
    }

    /// What a title starts with: `Run #3`, or `A #1 vs B #2`.
    fn prefix(self) -> String {
        match self {
            Subject::One(r) => format!("Run #{}", r.id),
            Subject::Pair(a, b) => format!("A #{} vs B #{}", a.id, b.id),
        }
    }

    /// A line's legend text for run `i` of the subject: none for one run, else `A (#1)`.
    fn name(self, i: usize) -> String {
        match self {
            Subject::One(_) => String::new(),
            Subject::Pair(..) => format!("{} (#{})", ["A", "B"][i], self.runs()[i].id),
        }
    }

    /// A chart title naming the runs.
    fn title(self, what: &str) -> String {
        format!("{} · {what}", self.prefix())
    }
}

/// The note of a chart whose run completed no request.
const NO_COMPLETIONS: &str = "No data: no request completed in this run.";
/// The note of a chart whose run formed no batch.
const NO_BATCH: &str = "No data: no batch ran in this run.";
const TIME_X: &str = "simulated time (s)";

/// How many times its median a CDF's tail (p99) reaches before its x axis is drawn on a log
/// scale: a tail a decade or more above the body would squeeze the body against the axis.
const LOG_TAIL_RATIO: f64 = 10.0;

impl ChartKind {
    /// The charts in page order.
    pub const ALL: [ChartKind; 9] = [
        ChartKind::Ttft,
        ChartKind::Tbt,
        ChartKind::E2e,
        ChartKind::Load,
        ChartKind::Throughput,
        ChartKind::BatchSize,
        ChartKind::KvUsage,
        ChartKind::Replicas,
        ChartKind::KvTransfer,
    ];

    /// Whether the page shows this chart for `subject`: the KV-transfer chart only when a run
    /// shown is disaggregated.
    pub fn applies(self, subject: Subject) -> bool {
        match self {
            ChartKind::KvTransfer => subject.runs().iter().any(|r| prefill_replicas(r).is_some()),
            _ => true,
        }
    }

    /// The canvas's `data-testid`.
    pub fn test_id(self) -> &'static str {
        match self {
            ChartKind::Ttft => "chart-ttft",
            ChartKind::Tbt => "chart-tbt",
            ChartKind::E2e => "chart-e2e",
            ChartKind::Load => "chart-load",
            ChartKind::Throughput => "chart-throughput",
            ChartKind::BatchSize => "chart-batch",
            ChartKind::KvUsage => "chart-kv",
            ChartKind::Replicas => "chart-replicas",
            ChartKind::KvTransfer => "chart-kv-transfer",
        }
    }

    /// The canvas's accessible name before anything is drawn.
    pub fn description(self) -> &'static str {
        match self {
            ChartKind::Ttft => "CDF of time to first token",
            ChartKind::Tbt => "CDF of time between tokens",
            ChartKind::E2e => "CDF of end-to-end latency",
            ChartKind::Load => "Requests waiting and time to first token over time",
            ChartKind::Throughput => "Throughput over time",
            ChartKind::BatchSize => "Batch size over time",
            ChartKind::KvUsage => "KV-cache usage over time",
            ChartKind::Replicas => "Per-replica busy, MFU and KV usage",
            ChartKind::KvTransfer => "CDF of KV transfer time",
        }
    }

    /// The chart of `subject`: one run, or two overlaid.
    pub fn chart(self, subject: Subject) -> Chart {
        match self {
            ChartKind::Ttft => {
                cdf(subject, "ttft", "Time to first token", "fraction of requests", NO_COMPLETIONS)
            }
            // TBT is measured per output token, so its CDF counts gaps between tokens, not requests.
            ChartKind::Tbt => cdf(
                subject,
                "tbt",
                "Time between tokens",
                "fraction of token gaps",
                "No data: no request produced a second output token.",
            ),
            ChartKind::E2e => {
                cdf(subject, "e2e", "End-to-end latency", "fraction of requests", NO_COMPLETIONS)
            }
            ChartKind::Load => load(subject),
            ChartKind::Throughput => throughput(subject),
            ChartKind::BatchSize => over_time(
                subject,
                "Batch size over time",
                "requests per batch (mean)",
                |r| r.result.charts.mean_batch_size.clone(),
                None,
                "",
            ),
            ChartKind::KvUsage => over_time(
                subject,
                "KV-cache usage over time",
                "KV blocks in use (%)",
                |r| r.result.charts.kv_usage_percent.clone(),
                Some((0.0, 100.0)),
                "%",
            ),
            ChartKind::Replicas => replicas(subject),
            ChartKind::KvTransfer => cdf(
                subject,
                llmsim_protocol::CHART_CDFS[4],
                "KV transfer time",
                "fraction of transfers",
                "No data: no KV cache was transferred (aggregated serving, or no prefill ended).",
            ),
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

/// The CDF of metric `key` of each run of the subject, in ms when every run's largest value
/// is under a second, and on a log-scale x axis when the tails span decades: the largest p99
/// is [`LOG_TAIL_RATIO`] times the smallest median or more.
fn cdf(subject: Subject, key: &str, name: &str, y: &str, empty: &str) -> Chart {
    let runs = subject.runs();
    let quantiles = |r: &RunRecord| r.result.charts.cdfs.get(key).map_or(&[][..], Vec::as_slice).to_vec();
    let objectives = slo_targets(&runs, key);
    let max = runs
        .iter()
        .filter_map(|r| quantiles(r).last().copied())
        .chain(objectives.iter().map(|o| o.1))
        .fold(0.0, f64::max);
    let (scale, unit) = if max < 1.0 { (1e3, "ms") } else { (1.0, "s") };
    let at = |r: &RunRecord, i: usize| quantiles(r).get(i).copied();
    let median = runs.iter().filter_map(|r| at(r, 50)).fold(f64::INFINITY, f64::min);
    let tail = runs.iter().filter_map(|r| at(r, 99)).fold(0.0, f64::max);
    let x_log = median > 0.0 && median.is_finite() && tail >= LOG_TAIL_RATIO * median;
    let lines: Vec<Line> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let q = quantiles(r);
            let name = subject.name(i);
            let label = if q.is_empty() && !name.is_empty() { format!("{name}: no data") } else { name };
            Line { label, color: PALETTE[i], points: cdf_points(&q, scale) }
        })
        .collect();
    let marks: Vec<Mark> = objectives
        .iter()
        .map(|(quantile, max_s)| Mark {
            x: max_s * scale,
            label: format!(
                "SLO p{} ≤ {} {unit}",
                summary::sig3(quantile * 100.0).trim_end_matches(".0"),
                summary::sig3(max_s * scale)
            ),
            color: SLO_COLOR,
        })
        .collect();
    let labels: Vec<&str> = marks.iter().map(|m| m.label.as_str()).collect();
    let title = match labels.as_slice() {
        [] => subject.title(&format!("{name}: CDF")),
        list => subject.title(&format!("{name}: CDF ({})", list.join(", "))),
    };
    let units = Units { x: unit, cdf: true, ..Units::default() };
    let plot = if has_points(&lines) {
        let scale_note = if x_log { ", log scale" } else { "" };
        Plot::Lines {
            axes: Axes { x: format!("{name} ({unit}{scale_note})"), y: y.to_string() },
            lines,
            y_range: Some((0.0, 1.0)),
            x_log,
            marks,
        }
    } else {
        Plot::Empty { note: empty.to_string() }
    };
    Chart { title, plot, units }
}

/// The latency objectives on `metric` of the runs (`summary.json`'s `slo.targets`: a bound,
/// in seconds, on a quantile), as `(quantile, bound)`; runs with the same objective share it.
fn slo_targets(runs: &[&RunRecord], metric: &str) -> Vec<(f64, f64)> {
    let mut found: Vec<(f64, f64)> = Vec::new();
    for run in runs {
        let Some(targets) = run.summary.pointer("/slo/targets").and_then(|t| t.as_array()) else { continue };
        for target in targets.iter().filter(|t| t["metric"].as_str() == Some(metric)) {
            if let (Some(quantile), Some(max_s)) = (target["quantile"].as_f64(), target["max_s"].as_f64())
                && !found.contains(&(quantile, max_s))
            {
                found.push((quantile, max_s));
            }
        }
    }
    found
}

/// The colour of objectives' lines: apart from the runs' own.
const SLO_COLOR: RGBColor = RGBColor(148, 103, 189);

/// Whether the run formed no batch: its time series and utilisation are all zeros.
fn no_batch(run: &RunRecord) -> bool {
    summary::value(&run.summary, &["num_batches"]) == Some(0.0) || run.result.charts.time_s.is_empty()
}

/// `values` against the start of each time bucket.
fn series(run: &RunRecord, values: &[f64]) -> Vec<(f64, f64)> {
    run.result.charts.time_s.iter().copied().zip(values.iter().copied()).collect()
}

/// The moving-average window of a run's time series: about a second, or 1/60 of the run.
fn smoothing(run: &RunRecord) -> usize {
    let c = &run.result.charts;
    let n = c.time_s.len();
    ((1.0 / c.bucket_s.max(1e-9)).ceil() as usize).max(n.div_ceil(60)).clamp(1, (n / 4).max(1))
}

/// Prompt and output tokens per second, on two y axes, averaged over about a second (or 1/60
/// of the run): prefill comes in bursts. Two runs compare their total tokens per second.
fn throughput(subject: Subject) -> Chart {
    let runs = subject.runs();
    let first = runs[0];
    let window = smoothing(first);
    let average = format!("{:.1} s average", window as f64 * first.result.charts.bucket_s);
    if let Subject::Pair(..) = subject {
        let title = subject.title(&format!("Tokens per second ({average})"));
        let units = Units { x: "s", y: "tok/s", ..Units::default() };
        if runs.iter().all(|r| no_batch(r)) {
            return Chart { title, plot: Plot::Empty { note: NO_BATCH.to_string() }, units };
        }
        let lines = runs
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let c = &r.result.charts;
                let total: Vec<f64> =
                    c.prefill_tokens_per_s.iter().zip(&c.decode_tokens_per_s).map(|(p, d)| p + d).collect();
                Line {
                    label: subject.name(i),
                    color: PALETTE[i],
                    points: series(r, &moving_average(&total, smoothing(r))),
                }
            })
            .collect();
        let axes = Axes { x: TIME_X.to_string(), y: "tokens per second (prompt + output)".to_string() };
        let plot = Plot::Lines { axes, lines, y_range: None, x_log: false, marks: Vec::new() };
        return Chart { title, plot, units };
    }
    let title = subject.title(&format!("Throughput over time ({average})"));
    let units = Units { x: "s", y: "tok/s", y2: "tok/s", cdf: false };
    if no_batch(first) {
        return Chart { title, plot: Plot::Empty { note: NO_BATCH.to_string() }, units };
    }
    let c = &first.result.charts;
    let line = |label: &str, color, values: &[f64]| Line {
        label: label.to_string(),
        color,
        points: series(first, &moving_average(values, window)),
    };
    Chart {
        title,
        plot: Plot::DualLines {
            axes: Axes { x: TIME_X.to_string(), y: "prompt tokens per second".to_string() },
            right_y: "output tokens per second".to_string(),
            left: vec![line("prompt tokens/s (left)", PALETTE[0], &c.prefill_tokens_per_s)],
            right: vec![line("output tokens/s (right)", PALETTE[1], &c.decode_tokens_per_s)],
        },
        units,
    }
}

/// One quantity over simulated time, a line per run.
fn over_time(
    subject: Subject,
    what: &str,
    y: &str,
    values: impl Fn(&RunRecord) -> Vec<f64>,
    y_range: Option<(f64, f64)>,
    unit: &'static str,
) -> Chart {
    let runs = subject.runs();
    let units = Units { x: "s", y: unit, ..Units::default() };
    let plot = if runs.iter().all(|r| no_batch(r)) {
        Plot::Empty { note: NO_BATCH.to_string() }
    } else {
        let color = |i: usize| if runs.len() == 1 { PALETTE[2] } else { PALETTE[i] };
        let lines = runs
            .iter()
            .enumerate()
            .map(|(i, r)| Line { label: subject.name(i), color: color(i), points: series(r, &values(r)) })
            .collect();
        let axes = Axes { x: TIME_X.to_string(), y: y.to_string() };
        Plot::Lines { axes, lines, y_range, x_log: false, marks: Vec::new() }
    };
    Chart { title: subject.title(what), plot, units }
}

/// Requests waiting for their first schedule (right axis) and the mean time to first token of
/// the requests arriving at each time (left axis): under overload both climb for as long as
/// requests arrive.
fn load(subject: Subject) -> Chart {
    let runs = subject.runs();
    let title = subject.title("Queue and time to first token over time");
    let units = Units { x: "s", y: "s", y2: "", cdf: false };
    if runs.iter().all(|r| no_batch(r)) {
        return Chart { title, plot: Plot::Empty { note: NO_BATCH.to_string() }, units };
    }
    let (ttft_colors, waiting_colors) = match subject {
        Subject::One(_) => ([PALETTE[3], PALETTE[3]], [PALETTE[0], PALETTE[0]]),
        Subject::Pair(..) => ([PALETTE[0], PALETTE[1]], [PALETTE[2], PALETTE[3]]),
    };
    let mut left = Vec::new();
    let mut right = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        let c = &r.result.charts;
        let name = subject.name(i);
        let prefix = if name.is_empty() { String::new() } else { format!("{name} ") };
        // Buckets where no completed request arrived have no TTFT: the line skips them.
        let ttft: Vec<(f64, f64)> =
            c.time_s.iter().zip(&c.ttft_by_arrival_s).filter_map(|(t, v)| v.map(|v| (*t, v))).collect();
        left.push(Line {
            label: format!("{prefix}TTFT by arrival (left)"),
            color: ttft_colors[i],
            points: ttft,
        });
        right.push(Line {
            label: format!("{prefix}requests waiting (right)"),
            color: waiting_colors[i],
            points: series(r, &c.waiting),
        });
    }
    Chart {
        title,
        plot: Plot::DualLines {
            axes: Axes { x: TIME_X.to_string(), y: "time to first token (s, mean)".to_string() },
            right_y: "requests waiting".to_string(),
            left,
            right,
        },
        units,
    }
}

/// The prefill pool's replica count of a disaggregated run (its replicas come first); `None`
/// for an aggregated run.
fn prefill_replicas(run: &RunRecord) -> Option<u32> {
    summary::value(&run.summary, &["disaggregation", "prefill", "num_replicas"]).map(|n| n as u32)
}

/// A replica's bar label: `r3`, or by pool when disaggregated: `P0`, `P1`, `D0`, ...
fn replica_label(prefill: Option<u32>, replica: u32) -> String {
    match prefill {
        None => format!("r{replica}"),
        Some(p) if replica < p => format!("P{replica}"),
        Some(p) => format!("D{}", replica - p),
    }
}

/// Busy share of simulated time and MFU of each replica, averaged over its pipeline stages,
/// and its mean KV usage; a disaggregated run's prefill replicas (`P0`…) come before its decode
/// replicas (`D0`…). Two runs compare their busy shares.
fn replicas(subject: Subject) -> Chart {
    let runs = subject.runs();
    let title = subject.title("Per-replica utilisation");
    let units = Units { y: "%", ..Units::default() };
    if runs.iter().all(|r| no_batch(r)) {
        return Chart { title, plot: Plot::Empty { note: NO_BATCH.to_string() }, units };
    }
    let mean = |v: &[f64]| if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 };
    let axes = Axes { x: "replica".to_string(), y: "% of simulated time / of peak FLOPs".to_string() };
    let (series, groups) = match subject {
        Subject::One(run) => {
            let groups = run
                .result
                .charts
                .replicas
                .iter()
                .map(|r| BarGroup {
                    label: replica_label(prefill_replicas(run), r.replica),
                    values: vec![mean(&r.busy_percent), mean(&r.mfu_percent), r.kv_usage_percent],
                })
                .collect();
            let series = vec![
                ("busy %".to_string(), PALETTE[0]),
                ("MFU %".to_string(), PALETTE[1]),
                ("KV usage %".to_string(), PALETTE[2]),
            ];
            (series, groups)
        }
        Subject::Pair(a, b) => {
            let n = a.result.charts.replicas.len().max(b.result.charts.replicas.len());
            let busy = |r: &RunRecord, i: usize| {
                r.result.charts.replicas.get(i).map_or(0.0, |x| mean(&x.busy_percent))
            };
            let groups = (0..n)
                .map(|i| {
                    // Labelled by A's pools, or B's where A has no replica i.
                    let run = if i < a.result.charts.replicas.len() { a } else { b };
                    BarGroup {
                        label: replica_label(prefill_replicas(run), i as u32),
                        values: vec![busy(a, i), busy(b, i)],
                    }
                })
                .collect();
            let series = (0..2).map(|i| (format!("{} busy %", subject.name(i)), PALETTE[i])).collect();
            (series, groups)
        }
    };
    Chart { title, plot: Plot::Bars { axes, series, groups, y_max: 100.0 }, units }
}

#[cfg(test)]
mod tests {
    use llmsim_protocol::{ChartData, ReplicaBars, RunResult};

    use super::*;
    use crate::charts::draw::tests::{hex, plotted_lines, svg, texts};

    /// A run `id` whose latencies rise evenly to `top_s` seconds, over `buckets` one-second
    /// buckets.
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
            kv_usage_percent: ramp.clone(),
            replicas: (0..2)
                .map(|r| ReplicaBars {
                    replica: r,
                    busy_percent: vec![40.0, 60.0],
                    mfu_percent: vec![5.0],
                    kv_usage_percent: 25.0,
                })
                .collect(),
            waiting: ramp.clone(),
            ttft_by_arrival_s: ramp.iter().map(|t| (*t > 0.0).then_some(t / 10.0)).collect(),
        };
        let batches = if buckets == 0 { 0 } else { 10 };
        let summary_json = format!("{{\"num_batches\": {batches}}}");
        let result = RunResult {
            summary_json,
            config_json: String::new(),
            load: Default::default(),
            charts,
            warnings: Vec::new(),
            elapsed_ms: 1.0,
        };
        RunRecord::new(id, format!("run {id}"), result, String::new(), 1.0)
    }

    #[test]
    fn a_cdf_names_its_run_is_in_ms_under_a_second_and_overlays_a_and_b() {
        let (fast, slow) = (run(1, 0.25, 10), run(2, 3.0, 10));
        let chart = ChartKind::Ttft.chart(Subject::One(&fast));
        assert_eq!(chart.title, "Run #1 · Time to first token: CDF");
        let Plot::Lines { axes, lines, y_range, x_log, .. } = &chart.plot else { panic!("{chart:?}") };
        assert_eq!((axes.x.as_str(), axes.y.as_str()), ("Time to first token (ms)", "fraction of requests"));
        assert_eq!(
            (lines.len(), lines[0].label.as_str(), *y_range, *x_log),
            (1, "", Some((0.0, 1.0)), false)
        );
        assert_eq!(lines[0].points.last(), Some(&(250.0, 1.0)));
        assert_eq!(chart.units, Units { x: "ms", cdf: true, ..Units::default() });

        // Compared: both runs, labelled, in seconds since B reaches 3 s, and on a log scale
        // since B's tail is more than ten times A's median.
        let chart = ChartKind::Tbt.chart(Subject::Pair(&fast, &slow));
        let drawn = svg(&chart, 480);
        let texts = texts(&drawn);
        for expected in [
            "A #1 vs B #2 · Time between tokens: CDF",
            "Time between tokens (s, log scale)",
            "fraction of token gaps",
            "A (#1)",
            "B (#2)",
        ] {
            assert!(texts.iter().any(|t| t == expected), "{expected} in {texts:?}");
        }
        // The log axis has no place for the zero quantile.
        assert_eq!(plotted_lines(&drawn), [(hex(PALETTE[0]), 100), (hex(PALETTE[1]), 100)]);
    }

    #[test]
    fn every_chart_names_its_runs_and_compared_charts_show_both() {
        let (mut a, mut b) = (run(1, 0.5, 20), run(2, 0.8, 30));
        // Disaggregated, so that every chart applies.
        for r in [&mut a, &mut b] {
            r.summary =
                serde_json::json!({"num_batches": 10, "disaggregation": {"prefill": {"num_replicas": 1}}});
            let ttft = r.result.charts.cdfs["ttft"].clone();
            r.result.charts.cdfs.insert("kv_transfer".to_string(), ttft);
        }
        for kind in ChartKind::ALL {
            assert!(kind.applies(Subject::Pair(&a, &b)), "{kind:?}");
            let one = kind.chart(Subject::One(&b));
            assert!(one.title.starts_with("Run #2 · "), "{kind:?}: {}", one.title);
            let pair = kind.chart(Subject::Pair(&a, &b));
            assert!(pair.title.starts_with("A #1 vs B #2 · "), "{kind:?}: {}", pair.title);
            let drawn = svg(&pair, 640);
            let labels = texts(&drawn);
            for side in ["A (#1)", "B (#2)"] {
                assert!(labels.iter().any(|t| t.contains(side)), "{kind:?}: {side} in {labels:?}");
            }
        }
        // The time series of a pair: one line per run.
        let drawn = svg(&ChartKind::KvUsage.chart(Subject::Pair(&a, &b)), 480);
        assert_eq!(plotted_lines(&drawn), [(hex(PALETTE[0]), 20), (hex(PALETTE[1]), 30)]);
    }

    #[test]
    fn a_cdf_marks_its_latency_objective() {
        let mut r = run(1, 0.5, 10);
        let summary = r#"{"num_batches": 10, "slo": {"targets": [
            {"metric": "ttft", "quantile": 0.9, "max_s": 0.2},
            {"metric": "e2e", "quantile": 0.99, "max_s": 2.0}]}}"#;
        r.summary = serde_json::from_str(summary).unwrap();
        let chart = ChartKind::Ttft.chart(Subject::One(&r));
        assert_eq!(chart.title, "Run #1 · Time to first token: CDF (SLO p90 ≤ 200 ms)");
        let Plot::Lines { marks, .. } = &chart.plot else { panic!("{chart:?}") };
        assert_eq!((marks.len(), marks[0].x), (1, 200.0));
        let drawn = svg(&chart, 480);
        assert!(texts(&drawn).iter().any(|t| t == "SLO p90 ≤ 200 ms"), "{:?}", texts(&drawn));
        // The same objective on both runs of a pair is one line; none on a metric without one.
        let pair = ChartKind::Ttft.chart(Subject::Pair(&r, &r));
        assert!(matches!(&pair.plot, Plot::Lines { marks, .. } if marks.len() == 1));
        assert!(
            matches!(&ChartKind::Tbt.chart(Subject::One(&r)).plot, Plot::Lines { marks, .. } if marks.is_empty())
        );
        // An objective beyond every sample still shows: the axis reaches it.
        let e2e = ChartKind::E2e.chart(Subject::One(&r));
        assert!(e2e.title.ends_with("(SLO p99 ≤ 2.00 s)"), "{}", e2e.title);
    }

    #[test]
    fn latencies_spanning_decades_are_drawn_on_a_log_axis() {
        // Quantiles rising tenfold every 25 points: p99 is about 100 times the median.
        let mut tail = run(1, 1.0, 10);
        let geometric: Vec<f64> = (0..=100).map(|i| 0.01 * 10f64.powf(f64::from(i) / 25.0)).collect();
        tail.result.charts.cdfs.insert("e2e".into(), geometric);
        let chart = ChartKind::E2e.chart(Subject::One(&tail));
        let Plot::Lines { axes, x_log, .. } = &chart.plot else { panic!("{chart:?}") };
        assert!(*x_log && axes.x.ends_with("(s, log scale)"), "{axes:?}");
        let drawn = svg(&chart, 480);
        assert_eq!(plotted_lines(&drawn).len(), 1);
        let narrow = ChartKind::E2e.chart(Subject::One(&run(2, 4.0, 10)));
        assert!(matches!(narrow.plot, Plot::Lines { x_log: false, .. }));
    }

    #[test]
    fn the_load_chart_plots_the_queue_and_the_ttft_of_each_arrival_time() {
        let r = run(1, 1.0, 12);
        let chart = ChartKind::Load.chart(Subject::One(&r));
        let Plot::DualLines { left, right, right_y, .. } = &chart.plot else { panic!("{chart:?}") };
        assert_eq!(right_y, "requests waiting");
        assert_eq!(left[0].points.len(), 11, "the bucket with no TTFT is skipped");
        assert_eq!(right[0].points.len(), 12);
        assert_eq!(plotted_lines(&svg(&chart, 640)).len(), 2);
    }

    #[test]
    fn a_run_without_completions_or_batches_explains_its_empty_charts() {
        let mut empty = run(1, 1.0, 0);
        empty.result.charts.cdfs.clear();
        for kind in ChartKind::ALL {
            let chart = kind.chart(Subject::One(&empty));
            let note = chart.note().unwrap_or_else(|| panic!("{kind:?} has a note: {chart:?}"));
            assert!(note.starts_with("No data: "), "{note}");
            let drawn = svg(&chart, 480);
            assert!(plotted_lines(&drawn).is_empty(), "{kind:?}");
            assert_eq!(texts(&drawn)[0], chart.title);
        }
        // With B compared and A empty, A's line says so.
        let b = run(2, 0.5, 10);
        let chart = ChartKind::E2e.chart(Subject::Pair(&empty, &b));
        let Plot::Lines { lines, .. } = &chart.plot else { panic!("{chart:?}") };
        assert_eq!(lines.iter().map(|l| l.label.as_str()).collect::<Vec<_>>(), ["A (#1): no data", "B (#2)"]);
    }

    #[test]
    fn the_time_series_and_replica_bars_have_their_axes_and_series() {
        let shown = run(1, 1.0, 240);
        let throughput = ChartKind::Throughput.chart(Subject::One(&shown));
        assert_eq!(
            throughput.title, "Run #1 · Throughput over time (4.0 s average)",
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
            let drawn = svg(&kind.chart(Subject::One(&shown)), 480);
            assert!(texts(&drawn).iter().any(|t| t == y), "{kind:?}");
            assert_eq!(plotted_lines(&drawn).len(), 1, "{kind:?}");
        }
        let replicas = ChartKind::Replicas.chart(Subject::One(&shown));
        let Plot::Bars { groups, .. } = &replicas.plot else { panic!("{replicas:?}") };
        assert_eq!(groups[1], BarGroup { label: "r1".into(), values: vec![50.0, 5.0, 25.0] }, "stage means");
        assert!(!ChartKind::KvTransfer.applies(Subject::One(&shown)), "aggregated: no transfer chart");
    }

    #[test]
    fn a_disaggregated_run_shows_its_pools_and_its_transfer_times() {
        let mut shown = run(1, 1.0, 10);
        shown.summary =
            serde_json::json!({"num_batches": 10, "disaggregation": {"prefill": {"num_replicas": 1}}});
        let transfers: Vec<f64> = (0..=100).map(|i| 0.001 + f64::from(i) * 1e-5).collect();
        shown.result.charts.cdfs.insert("kv_transfer".to_string(), transfers);
        let replicas = ChartKind::Replicas.chart(Subject::One(&shown));
        let Plot::Bars { groups, series, .. } = &replicas.plot else { panic!("{replicas:?}") };
        let labels: Vec<&str> = groups.iter().map(|g| g.label.as_str()).collect();
        assert_eq!(labels, ["P0", "D0"], "the prefill pool first");
        assert_eq!(
            series.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(),
            ["busy %", "MFU %", "KV usage %"]
        );
        assert!(ChartKind::KvTransfer.applies(Subject::One(&shown)));
        let chart = ChartKind::KvTransfer.chart(Subject::One(&shown));
        assert_eq!(chart.title, "Run #1 · KV transfer time: CDF");
        let Plot::Lines { axes, lines, .. } = &chart.plot else { panic!("{chart:?}") };
        assert_eq!(axes.y, "fraction of transfers");
        assert_eq!(lines[0].points.first(), Some(&(1.0, 0.0)), "in ms: 1 ms at q = 0");
        // Compared with an aggregated run, the chart stays and says B has no data.
        let aggregated = run(2, 1.0, 10);
        assert!(ChartKind::KvTransfer.applies(Subject::Pair(&shown, &aggregated)));
        let pair = ChartKind::KvTransfer.chart(Subject::Pair(&shown, &aggregated));
        let Plot::Lines { lines, .. } = &pair.plot else { panic!("{pair:?}") };
        assert_eq!(lines[1].label, "B (#2): no data");
    }

    #[test]
    fn every_chart_has_its_own_canvas_id() {
        let ids: std::collections::BTreeSet<&str> = ChartKind::ALL.iter().map(|k| k.test_id()).collect();
        assert_eq!(ids.len(), ChartKind::ALL.len());
        assert_eq!(moving_average(&[0.0, 3.0, 6.0], 3), [1.5, 3.0, 4.5]);
        assert_eq!(cdf_points(&[1.0, 2.0], 1e3), [(1000.0, 0.0), (2000.0, 1.0)]);
    }
}
