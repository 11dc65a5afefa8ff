//! The results: one run's (summary, offered against achieved load, warnings, downloads and
//! share link), or two runs compared (their settings and metrics side by side, both links), or
//! a placeholder before the first run. Each view's heading (`view-title`) names the runs it
//! shows, and takes the focus when a run finishes.

use std::sync::Arc;

use leptos::prelude::*;
use llmsim_protocol::{DOWNLOADS, LoadFigures};

use super::state::AppState;
use crate::browser;
use crate::compare;
use crate::page::{Outcome, RunRecord, RunStatus, View};
use crate::share::SharedRun;
use crate::summary::{self, LATENCIES, PERCENTILES, SCALARS, Unit};

/// Everything below the run bar.
#[component]
pub fn Results() -> impl IntoView {
    let state = expect_context::<AppState>();
    move || {
        match state.view.get() {
        View::Nothing => view! {
            <div class="placeholder">
                <h2 id="view-title" tabindex="-1" data-testid="view-title">"Results"</h2>
                <p>
                    {move || if state.run.with(RunStatus::is_running) {
                        "Simulating… the results appear here when the run finishes (Cancel stops it)."
                    } else {
                        "Pick a scenario (or edit the form), then press Run. The summary, charts, downloads and a share link appear here; every run is kept in this browser, to show again or to compare two."
                    }}
                </p>
            </div>
        }
        .into_any(),
        View::Run(id) => match state.record(id) {
            Some(record) => view! { <RunView record=record/> }.into_any(),
            None => ().into_any(),
        },
        View::Compare { a, b } => match (state.record(a), state.record(b)) {
            (Some(a), Some(b)) => view! { <CompareView a=a b=b/> }.into_any(),
            _ => ().into_any(),
        },
    }
    }
}

/// The share link of a run.
fn share_url(record: &RunRecord) -> String {
    format!("{}?{}", browser::page_url(), record.share_query)
}

/// One run's summary, load, warnings, downloads and share link.
#[component]
fn RunView(
    /// The run shown.
    record: Arc<RunRecord>,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let share_url = share_url(&record);
    let share_href = share_url.clone();
    let id = record.id;
    let summary = record.summary.clone();
    let (predictor, shares) = summary::predictor_shares(&summary);
    let shares_text = if shares.is_empty() {
        "–".to_string()
    } else {
        shares.iter().map(|(k, v)| format!("{k} {:.1} %", v * 100.0)).collect::<Vec<_>>().join(" · ")
    };
    // Results that no longer describe the form say whose they are.
    let stale = move || {
        (!state.form_is_run(id)).then(|| {
            let refused = matches!(state.outcome.get(), Some(Outcome::Refused { .. }))
                .then_some(" The last Run was refused: nothing newer was run.")
                .unwrap_or("");
            view! {
                <p class="stale" data-testid="stale">
                    {format!("These are run #{id}'s results; the form has changed since.{refused}")}
                </p>
            }
        })
    };
    view! {
        <div class="run-view">
            <h2 id="view-title" tabindex="-1" data-testid="view-title">
                {format!("Run #{}", record.id)}<span class="run-label">{record.label.clone()}</span>
            </h2>
            {stale}
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
                                summary::value(&summary, &[key, p]).map_or("–".to_string(), |x| summary::format(Unit::Seconds, x))
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
            <LoadTable load=record.result.load.clone() summary=summary.clone()/>
            <table class="summary scalars" data-testid="scalars">
                <tbody>
                    {SCALARS.iter().map(|m| view! { <tr><th>{m.label}</th><td>{summary::cell(&summary, m)}</td></tr> }).collect_view()}
                    <tr>
                        <th>{format!("Execution time ({predictor})")}</th>
                        <td data-testid="predictor-share">{shares_text}</td>
                    </tr>
                </tbody>
            </table>
            <PoolTables summary=summary.clone()/>
            <Downloads record=record.clone()/>
            <p class="share">
                "Share this run: "
                <a data-testid="share-link" href=share_href>{share_url}</a>
            </p>
        </div>
    }
}

/// A disaggregated run's two pools side by side (`data-testid=pools`) and its KV transfers
/// (`data-testid=transfers`); nothing for an aggregated run.
#[component]
fn PoolTables(
    /// The run's `summary.json`.
    summary: serde_json::Value,
) -> impl IntoView {
    let pools = summary::pool_table(&summary);
    let transfers = summary::transfer_rows(&summary);
    (!pools.is_empty()).then(|| {
        view! {
            <div class="table-scroll">
                <table class="summary" data-testid="pools">
                    <thead>
                        <tr><th>"Pool"</th><th>"prefill"</th><th>"decode"</th></tr>
                    </thead>
                    <tbody>
                        {pools.into_iter().map(|(label, prefill, decode)| view! {
                            <tr><th>{label}</th><td>{prefill}</td><td>{decode}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <table class="summary scalars" data-testid="transfers">
                <tbody>
                    {transfers.into_iter().map(|(label, text)| view! { <tr><th>{label}</th><td>{text}</td></tr> }).collect_view()}
                </tbody>
            </table>
        }
    })
}

/// Offered against achieved request rate, with what they mean (`data-testid=load`).
#[component]
fn LoadTable(
    /// The run's figures.
    load: LoadFigures,
    /// Its `summary.json` (the engine's overload verdict, where it has one).
    summary: serde_json::Value,
) -> impl IntoView {
    let rate = |x: Option<f64>| x.map_or("–".to_string(), |x| summary::format(Unit::RequestsPerSecond, x));
    let verdict = summary::load_sentence(&load, &summary);
    view! {
        <div class="load" data-testid="load">
            <table class="summary scalars">
                <tbody>
                    <tr>
                        <th>"Offered rate"</th>
                        <td>{format!("{} ({} requests over {})", rate(load.offered_rps), load.arrivals, summary::format(Unit::Seconds, load.arrival_window_s))}</td>
                    </tr>
                    <tr>
                        <th>"Achieved rate"</th>
                        <td>{rate(load.achieved_rps)}</td>
                    </tr>
                </tbody>
            </table>
            {verdict.map(|(text, overloaded)| view! { <p class:warning=overloaded class:help=!overloaded>{text}</p> })}
            <details class="help">
                <summary>"How these rates are measured"</summary>
                <p>
                    "Offered: the requests that arrived, less one, over the time from the first arrival to the last (the arrival window). "
                    "Achieved: the requests the cluster started (scheduled for the first time) within that window, less one, over it. "
                    "A cluster that keeps up starts requests as they arrive, so it achieves the offered rate; an overloaded one starts them at its capacity while its queue grows. "
                    "Neither rate counts the drain after the last arrival, which the throughput below includes; and completions are not counted, since over a short window the longest requests would finish after it."
                </p>
            </details>
        </div>
    }
}

/// A run's download buttons: `summary.json` and `config.json` come with the result; the other
/// files a moment later (and not after a reload, which keeps only what the results show).
#[component]
fn Downloads(
    /// The run.
    record: Arc<RunRecord>,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let id = record.id;
    let restored = record.restored;
    view! {
        <div class="downloads">
            <span>"Download: "</span>
            {DOWNLOADS.iter().map(|name| {
                let name = *name;
                let record = record.clone();
                let with_result = match name {
                    "summary.json" => Some(record.result.summary_json.clone()),
                    "config.json" if !record.result.config_json.is_empty() => Some(record.result.config_json.clone()),
                    _ => None,
                };
                let in_result = with_result.is_some();
                let text = move || {
                    with_result.clone().or_else(|| {
                        state.downloads.with(|f| f.get(&id).and_then(|d| d.files.iter().find(|(n, _)| n == name).map(|(_, t)| t.clone())))
                    })
                };
                let skipped = move || {
                    state.downloads.with(|f| f.get(&id).and_then(|d| d.skipped.iter().find(|s| s.name == name).map(|s| s.reason.clone())))
                };
                let ready = move || in_result || state.downloads.with(|f| f.get(&id).is_some_and(|d| d.files.iter().any(|(n, _)| n == name)));
                let title = move || match skipped() {
                    Some(reason) => format!("Not available: {reason}"),
                    None if ready() => format!("Download {name}"),
                    None if restored => "Not kept after a reload: open this run's share link to run it again.".to_string(),
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
        {restored.then(|| view! {
            <p class="help">"Kept from an earlier visit: request_metrics.csv and the Chrome trace are not kept; the share link runs it again."</p>
        })}
    }
}

/// Two runs compared: the settings they differ in, then their metrics, and both share links.
#[component]
fn CompareView(
    /// Run A.
    a: Arc<RunRecord>,
    /// Run B.
    b: Arc<RunRecord>,
) -> impl IntoView {
    let settings = compare::settings_diff(
        &SharedRun::from_query(&a.share_query).pairs,
        &SharedRun::from_query(&b.share_query).pairs,
    );
    let mut rows = summary::diff(&a.summary, &b.summary);
    rows.extend(summary::load_diff(&a.result.load, &b.result.load));
    let warnings: Vec<String> = [("A", &a), ("B", &b)]
        .iter()
        .flat_map(|(side, r)| r.result.warnings.iter().map(move |w| format!("{side} (#{}): {w}", r.id)))
        .collect();
    view! {
        <div class="compare-view">
            <h2 id="view-title" tabindex="-1" data-testid="view-title">{format!("A/B: run #{} vs run #{}", a.id, b.id)}</h2>
            {warnings.into_iter().map(|w| view! { <p class="warning">{w}</p> }).collect_view()}
            <div class="table-scroll">
                <table class="diff" data-testid="ab-diff">
                    <thead><tr><th>"Metric"</th><th>{format!("A (#{})", a.id)}</th><th>{format!("B (#{})", b.id)}</th><th>"B vs A"</th></tr></thead>
                    <tbody>
                        <tr class="setting"><th>"Run"</th><td>{a.label.clone()}</td><td>{b.label.clone()}</td><td></td></tr>
                        {if settings.is_empty() {
                            view! { <tr class="setting"><th>"Settings"</th><td colspan="3">"identical"</td></tr> }.into_any()
                        } else {
                            settings.into_iter().map(|d| view! {
                                <tr class="setting"><th><code>{breakable(d.flag)}</code></th><td>{d.a}</td><td>{d.b}</td><td></td></tr>
                            }).collect_view().into_any()
                        }}
                        {rows.into_iter().map(|r| {
                            let class = match r.b_better { Some(true) => "better", Some(false) => "worse", None => "" };
                            view! { <tr><th>{r.label}</th><td>{r.a}</td><td>{r.b}</td><td class=class>{r.change}</td></tr> }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <p class="help">"The charts below overlay A and B. Show one run (its # in the runs table) for its downloads."</p>
            {[("A", &a), ("B", &b)].map(|(side, r)| {
                let url = share_url(r);
                view! {
                    <p class="share">
                        {format!("Share {side} (run #{}): ", r.id)}
                        <a data-testid="share-link" href=url.clone()>{url.clone()}</a>
                    </p>
                }
            }).into_iter().collect_view()}
        </div>
    }
}

/// A flag name that may wrap after each underscore (a phone's narrow table has no room for
/// `vllm_v1_scheduler_config_batch_size_cap` on one line).
fn breakable(flag: &str) -> impl IntoView + use<> {
    flag.split_inclusive('_').map(|part| view! { {part.to_string()}<wbr/> }).collect_view()
}
