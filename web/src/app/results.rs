//! The shown run's results: summary tables, warnings, downloads and share link (a placeholder
//! before the first run), and its charts.

use std::sync::Arc;

use leptos::html::Canvas;
use leptos::prelude::*;
use llmsim_protocol::DOWNLOADS;
use web_sys::HtmlCanvasElement;

use super::state::AppState;
use crate::browser;
use crate::charts::{self, Axes, BarGroup, Line, PALETTE};
use crate::page::{RunRecord, RunStatus};
use crate::summary::{self, LATENCIES, PERCENTILES, SCALARS};

/// Everything below the run bar once a run finished.
#[component]
pub fn Results() -> impl IntoView {
    let state = expect_context::<AppState>();
    let shown = move || state.shown.get().and_then(|id| state.record(id));
    view! {
        {move || match shown() {
            None => view! {
                <div class="placeholder">
                    <h2>"Results"</h2>
                    <p>
                        {move || if state.run.with(RunStatus::is_running) {
                            "Simulating… the results appear here when the run finishes (Cancel stops it)."
                        } else {
                            "Pick a scenario (or edit the form), then press Run. The summary, charts, downloads and a share link appear here; every run of this session is kept for A/B comparison."
                        }}
                    </p>
                </div>
            }
            .into_any(),
            Some(record) => view! { <RunView record=record/> }.into_any(),
        }}
    }
}

/// One run's summary, warnings, downloads and share link.
#[component]
fn RunView(
    /// The run shown.
    record: Arc<RunRecord>,
) -> impl IntoView {
    let share_url = format!("{}?{}", browser::page_url(), record.share_query);
    let share_href = share_url.clone();
    let state = expect_context::<AppState>();
    let id = record.id;
    let summary_json = record.result.summary_json.clone();
    let summary = record.summary.clone();
    let (predictor, shares) = summary::predictor_shares(&summary);
    let shares_text = if shares.is_empty() {
        "–".to_string()
    } else {
        shares.iter().map(|(k, v)| format!("{k} {:.1} %", v * 100.0)).collect::<Vec<_>>().join(" · ")
    };
    view! {
        <div class="run-view">
            <h2>{format!("Run #{}", record.id)}<span class="run-label">{record.label.clone()}</span></h2>
            {record.result.warnings.iter().map(|w| view! { <p class="warning">{w.clone()}</p> }).collect_view()}
            <div class="table-scroll">
                <table class="summary" data-testid="summary">
                    <thead>
                        <tr>
                            <th>"Latency"</th>
                            {PERCENTILES.iter().map(|p| view! { <th>{*p}</th> }).collect_view()}
                            <th>"mean"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {LATENCIES.iter().map(|(label, key)| {
                            let cells: Vec<String> = PERCENTILES.iter().chain(["mean"].iter()).map(|p| {
                                summary::value(&summary, &[key, p]).map_or("–".to_string(), |x| summary::format(summary::Unit::Seconds, x))
                            }).collect();
                            view! {
                                <tr>
                                    <th>{*label}</th>
                                    {cells.into_iter().map(|c| view! { <td>{c}</td> }).collect_view()}
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <table class="summary scalars">
                <tbody>
                    {SCALARS.iter().map(|m| view! { <tr><th>{m.label}</th><td>{summary::cell(&summary, m)}</td></tr> }).collect_view()}
                    <tr>
                        <th>{format!("Execution time ({predictor})")}</th>
                        <td data-testid="predictor-share">{shares_text}</td>
                    </tr>
                </tbody>
            </table>
            <div class="downloads">
                <span>"Download: "</span>
                {DOWNLOADS.iter().map(|name| {
                    let name = *name;
                    let summary_json = summary_json.clone();
                    // summary.json comes with the result; the other files a moment later.
                    let text = move || {
                        if name == "summary.json" {
                            return Some(summary_json.clone());
                        }
                        state.downloads.with(|f| f.get(&id).and_then(|d| d.files.iter().find(|(n, _)| n == name).map(|(_, t)| t.clone())))
                    };
                    let skipped = move || {
                        state.downloads.with(|f| f.get(&id).and_then(|d| d.skipped.iter().find(|s| s.name == name).map(|s| s.reason.clone())))
                    };
                    let ready = move || name == "summary.json" || state.downloads.with(|f| f.get(&id).is_some_and(|d| d.files.iter().any(|(n, _)| n == name)));
                    let title = move || match skipped() {
                        Some(reason) => format!("Not available: {reason}"),
                        None if ready() => format!("Download {name}"),
                        None => "Being prepared…".to_string(),
                    };
                    view! {
                        <button
                            type="button"
                            data-testid=format!("download-{name}")
                            disabled=move || !ready()
                            title=title
                            on:click=move |_| {
                                if let Some(t) = text() {
                                    browser::download(name, &t);
                                }
                            }
                        >
                            {name}
                        </button>
                    }
                }).collect_view()}
            </div>
            {move || {
                let notes: Vec<String> = state.downloads.with(|f| f.get(&id).map(|d| d.skipped.iter().map(|s| format!("{}: {}", s.name, s.reason)).collect()).unwrap_or_default());
                (!notes.is_empty()).then(|| view! { <p class="help">{format!("Not offered: {}.", notes.join("; "))}</p> })
            }}
            <p class="share">
                "Share this run: "
                <a data-testid="share-link" href=share_href>{share_url}</a>
            </p>
        </div>
    }
}

/// The charts of the shown run; the CDFs overlay the A/B runs when two are picked.
#[component]
pub fn Charts() -> impl IntoView {
    let state = expect_context::<AppState>();
    let refs: [NodeRef<Canvas>; 7] = std::array::from_fn(|_| NodeRef::new());
    let [ttft, tbt, e2e, throughput, batch, kv, replicas] = refs;
    Effect::new(move |_| {
        let _ = state.width.get();
        let Some(shown) = state.shown.get().and_then(|id| state.record(id)) else { return };
        let cdf_runs: Vec<Arc<RunRecord>> = match state.compared() {
            Some((a, b)) => vec![a, b],
            None => vec![shown.clone()],
        };
        let labelled = cdf_runs.len() > 1;
        let cdf = |canvas: NodeRef<Canvas>, key: &str, title: &str, y: &str, empty: &str| {
            let Some(canvas) = canvas.get() else { return };
            let max = cdf_runs
                .iter()
                .filter_map(|r| r.result.charts.cdfs.get(key)?.last().copied())
                .fold(0.0, f64::max);
            let (scale, unit) = if max < 1.0 { (1e3, "ms") } else { (1.0, "s") };
            let lines: Vec<Line> = cdf_runs
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let q = r.result.charts.cdfs.get(key).map_or(&[][..], Vec::as_slice);
                    let label = match (labelled, q.is_empty()) {
                        (false, _) => String::new(),
                        (true, false) => format!("{} #{}", ["A", "B"][i], r.id),
                        (true, true) => format!("{} #{}: no data", ["A", "B"][i], r.id),
                    };
                    Line { label, color: PALETTE[i], points: charts::cdf_points(q, scale) }
                })
                .collect();
            let x = format!("{title} ({unit})");
            let title = format!("{title}: CDF");
            let note = (!charts::has_points(&lines)).then_some(empty);
            draw_or_note(&canvas, &title, note, || {
                charts::draw_lines(&canvas, Axes { title: &title, x: &x, y }, &lines, Some((0.0, 1.0)))
            });
        };
        let no_completions = "No data: no request completed in this run.";
        cdf(ttft, "ttft", "Time to first token", "fraction of requests", no_completions);
        // TBT is measured per output token, so its CDF counts gaps between tokens, not requests.
        cdf(
            tbt,
            "tbt",
            "Time between tokens",
            "fraction of token gaps",
            "No data: no request produced a second output token.",
        );
        cdf(e2e, "e2e", "End-to-end latency", "fraction of requests", no_completions);

        let c = &shown.result.charts;
        // Without a batch the time series and utilisation are all zeros: say so instead.
        let no_batch = summary::value(&shown.summary, &["num_batches"]) == Some(0.0) || c.time_s.is_empty();
        let time_note = no_batch.then_some("No data: no batch ran in this run.");
        let series = |values: &[f64]| -> Vec<(f64, f64)> {
            c.time_s.iter().copied().zip(values.iter().copied()).collect()
        };
        let time_x = "simulated time (s)";
        if let Some(canvas) = throughput.get() {
            // Prefill comes in bursts: average over about a second (or 1/60 of the run).
            let n = c.time_s.len();
            let window =
                ((1.0 / c.bucket_s.max(1e-9)).ceil() as usize).max(n.div_ceil(60)).clamp(1, (n / 4).max(1));
            let title = format!("Throughput over time ({:.1} s average)", window as f64 * c.bucket_s);
            draw_or_note(&canvas, &title, time_note, || {
                let prefill = vec![Line {
                    label: "prompt tokens/s (left)".into(),
                    color: PALETTE[0],
                    points: series(&charts::moving_average(&c.prefill_tokens_per_s, window)),
                }];
                let decode = vec![Line {
                    label: "output tokens/s (right)".into(),
                    color: PALETTE[1],
                    points: series(&charts::moving_average(&c.decode_tokens_per_s, window)),
                }];
                let axes = Axes { title: &title, x: time_x, y: "prompt tokens per second" };
                charts::draw_lines_dual(&canvas, axes, "output tokens per second", &prefill, &decode)
            });
        }
        if let Some(canvas) = batch.get() {
            let title = "Batch size over time";
            draw_or_note(&canvas, title, time_note, || {
                let lines = vec![Line {
                    label: String::new(),
                    color: PALETTE[2],
                    points: series(&c.mean_batch_size),
                }];
                charts::draw_lines(
                    &canvas,
                    Axes { title, x: time_x, y: "requests per batch (mean)" },
                    &lines,
                    None,
                )
            });
        }
        if let Some(canvas) = kv.get() {
            let title = "KV-cache usage over time";
            draw_or_note(&canvas, title, time_note, || {
                let lines = vec![Line {
                    label: String::new(),
                    color: PALETTE[3],
                    points: series(&c.kv_usage_percent),
                }];
                charts::draw_lines(
                    &canvas,
                    Axes { title, x: time_x, y: "KV blocks in use (%)" },
                    &lines,
                    Some((0.0, 100.0)),
                )
            });
        }
        if let Some(canvas) = replicas.get() {
            let title = "Per-replica utilisation";
            draw_or_note(&canvas, title, no_batch.then_some("No data: no batch ran in this run."), || {
                let mean =
                    |v: &[f64]| if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 };
                let groups: Vec<BarGroup> = c
                    .replicas
                    .iter()
                    .map(|r| BarGroup {
                        label: format!("r{}", r.replica),
                        values: vec![mean(&r.busy_percent), mean(&r.mfu_percent)],
                    })
                    .collect();
                let axes = Axes { title, x: "replica", y: "% of simulated time / of peak FLOPs" };
                charts::draw_bars(
                    &canvas,
                    axes,
                    &[("busy %", PALETTE[0]), ("MFU %", PALETTE[1])],
                    &groups,
                    100.0,
                )
            });
        }
    });
    let has_run = move || state.shown.get().is_some();
    view! {
        <div class="charts" style:display=move || { if has_run() { "" } else { "none" } }>
            <canvas node_ref=ttft data-testid="chart-ttft" role="img" aria-label="CDF of time to first token"></canvas>
            <canvas node_ref=tbt data-testid="chart-tbt" role="img" aria-label="CDF of time between tokens"></canvas>
            <canvas node_ref=e2e data-testid="chart-e2e" role="img" aria-label="CDF of end-to-end latency"></canvas>
            <canvas node_ref=throughput data-testid="chart-throughput" role="img" aria-label="Throughput over time"></canvas>
            <canvas node_ref=batch data-testid="chart-batch" role="img" aria-label="Batch size over time"></canvas>
            <canvas node_ref=kv data-testid="chart-kv" role="img" aria-label="KV-cache usage over time"></canvas>
            <canvas node_ref=replicas data-testid="chart-replicas" role="img" aria-label="Per-replica busy and MFU"></canvas>
        </div>
    }
}

/// Draws a chart, or, when `note` says why there is nothing to plot, its title and the note
/// (also in the canvas's `data-note`); the canvas's accessible name follows.
fn draw_or_note(
    canvas: &HtmlCanvasElement,
    title: &str,
    note: Option<&str>,
    draw: impl FnOnce() -> Result<(), String>,
) {
    match note {
        Some(note) => {
            let _ = canvas.set_attribute("data-note", note);
            let _ = canvas.set_attribute("aria-label", &format!("{title}. {note}"));
            report(charts::draw_empty(canvas, title, note));
        }
        None => {
            let _ = canvas.remove_attribute("data-note");
            let _ = canvas.set_attribute("aria-label", title);
            report(draw());
        }
    }
}

fn report(result: Result<(), String>) {
    if let Err(e) = result {
        web_sys::console::warn_1(&format!("llmsim chart: {e}").into());
    }
}
