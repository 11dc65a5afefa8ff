//! The shown run's results: summary tables, warnings, downloads and share link (a placeholder
//! before the first run).

use std::sync::Arc;

use leptos::prelude::*;
use llmsim_protocol::DOWNLOADS;

use super::state::AppState;
use crate::browser;
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
