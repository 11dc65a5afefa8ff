//! The trace drop zone: file picker and drag-and-drop for request traces (Vidur CSV, Mooncake
//! JSONL, Azure CSV, detected from content), parse progress, errors with row and column, and
//! the trace's summary.

use leptos::prelude::*;
use llmsim_engine::find_flag;
use llmsim_protocol::{FileInfo, Percentiles, is_trace_flag};
use wasm_bindgen::JsCast;
use web_sys::{DragEvent, HtmlInputElement};

use super::state::AppState;
use crate::page::UploadStatus;
use crate::presets;
use crate::share::format_bytes;

/// The drop zone and the summaries of the traces the configuration reads.
#[component]
pub fn TraceDrop() -> impl IntoView {
    let state = expect_context::<AppState>();
    let dragging = RwSignal::new(false);
    let on_pick = move |ev: leptos::ev::Event| {
        let Some(input) = ev.target().and_then(|t| t.dyn_into::<HtmlInputElement>().ok()) else { return };
        if let Some(file) = input.files().and_then(|f| f.get(0)) {
            state.upload_trace(file);
        }
        input.set_value("");
    };
    let on_drop = move |ev: DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        if let Some(file) = ev.data_transfer().and_then(|d| d.files()).and_then(|f| f.get(0)) {
            state.upload_trace(file);
        }
    };
    // Traces the active configuration reads, with their uploads (if any).
    let traces = move || {
        state
            .form
            .with(|f| f.required_files())
            .into_iter()
            .filter(|(flag, _)| is_trace_flag(flag))
            .map(|(_, path)| path)
            .collect::<Vec<_>>()
    };
    let wanted = move || {
        state.uploads.with(|u| {
            u.expected().iter().filter(|f| !u.is_available(&f.path)).map(|f| f.describe()).collect::<Vec<_>>()
        })
    };
    view! {
        <div
            class="dropzone"
            class:dragging=move || dragging.get()
            on:dragover=move |ev: DragEvent| {
                ev.prevent_default();
                dragging.set(true);
            }
            on:dragleave=move |_| dragging.set(false)
            on:drop=on_drop
        >
            <label class="drop-label">
                <strong>"Trace: "</strong>
                "drop a file here or "
                <span class="linkish">"choose one"</span>
                " (Vidur CSV, Mooncake JSONL or Azure CSV). It is read in this browser only."
                <input type="file" class="visually-hidden" data-testid="trace-upload" accept=".csv,.jsonl,.json,.txt" on:change=on_pick/>
            </label>
            {move || {
                let wanted = wanted();
                (!wanted.is_empty()).then(|| view! {
                    <p class="notice" data-testid="needs-file">
                        "This shared run read a file that is not sent with links. To reproduce it, choose: "
                        <strong>{wanted.join(", ")}</strong>
                    </p>
                })
            }}
            <For each=traces key=|p| p.clone() let:path>
                <TraceStatus path=path/>
            </For>
        </div>
    }
}

/// The upload status or summary of one trace the configuration reads.
#[component]
fn TraceStatus(
    /// The trace's name in the configuration.
    path: String,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let shown_path = path.clone();
    let status = move || state.uploads.with(|u| u.get(&path).map(|u| u.status.clone()));
    move || {
        match status() {
        None if presets::is_shipped(&shown_path) => {
            view! { <p class="trace-note">{format!("Using {}, shipped with the page (synthetic multi-turn chats).", shown_path)}</p> }.into_any()
        }
        None => view! { <p class="trace-note">{format!("{shown_path} is not uploaded yet.")}</p> }.into_any(),
        Some(UploadStatus::Loading { done, total }) => view! {
            <div class="trace-note">
                <progress max="1" prop:value=done as f64 / total.max(1) as f64></progress>
                {format!(" Reading {shown_path}: {:.0} %", done as f64 * 100.0 / total.max(1) as f64)}
            </div>
        }
        .into_any(),
        Some(UploadStatus::Failed(e)) => view! { <p class="field-error" data-testid="error" role="alert">{e.to_string()}</p> }.into_any(),
        Some(UploadStatus::Loaded { info, elapsed_ms }) => {
            let has_arrivals = info.trace.as_ref().is_some_and(|t| t.duration_s.is_some());
            view! {
                <TraceSummaryTable info=info elapsed_ms=elapsed_ms/>
                <TraceUse path=shown_path.clone() has_arrivals=has_arrivals/>
            }
            .into_any()
        }
    }
    }
}

/// A loaded trace's summary: size, requests, duration, length percentiles, sessions, reuse.
#[component]
fn TraceSummaryTable(
    /// The loaded file.
    info: FileInfo,
    /// Worker time to read, hash and parse it, ms.
    elapsed_ms: f64,
) -> impl IntoView {
    let Some(t) = info.trace.clone() else { return ().into_any() };
    let lengths = |p: &Percentiles| {
        format!("{:.0} / {:.0} / {:.0} (mean {:.0}, max {:.0})", p.p50, p.p90, p.p99, p.mean, p.max)
    };
    let rows = vec![
        ("File", format!("{} · {} · {}", info.path, format_bytes(info.size), t.format)),
        ("SHA-256", info.sha256.clone()),
        ("Requests", t.requests.to_string()),
        ("Duration", t.duration_s.map_or("no arrival times".into(), |d| format!("{d:.1} s"))),
        (
            "Prompt tokens p50 / p90 / p99",
            t.input_tokens.as_ref().map_or("arrival times only".into(), lengths),
        ),
        (
            "Output tokens p50 / p90 / p99",
            t.output_tokens.as_ref().map_or("arrival times only".into(), lengths),
        ),
        ("Sessions", t.sessions.map_or("–".into(), |s| s.to_string())),
        (
            "Prefix-reuse share",
            t.prefix_reuse_share.map_or("no block hashes".into(), |s| {
                format!("{:.1} % of prompt blocks seen before", s * 100.0)
            }),
        ),
        ("Parsed in", format!("{:.2} s", elapsed_ms / 1e3)),
    ];
    view! {
        <table class="trace-summary" data-testid="trace-summary">
            <tbody>
                {rows.into_iter().map(|(k, v)| view! { <tr><th>{k}</th><td>{v}</td></tr> }).collect_view()}
            </tbody>
        </table>
        {t.warnings.into_iter().map(|w| view! { <p class="warning">{w}</p> }).collect_view()}
    }
    .into_any()
}

/// Flags that read a trace, by what the run takes from it.
const REPLAY_FLAG: &str = "trace_request_generator_config_trace_file";
const LENGTHS_FLAG: &str = "trace_request_length_generator_config_trace_file";
const GAPS_FLAG: &str = "trace_request_interval_generator_config_trace_file";

/// What the configured run takes from the trace at `path` (replay, lengths only, arrival
/// gaps), so a summary of 19,366 requests is not mistaken for a run of them; a trace used only
/// for lengths offers to be replayed instead.
#[component]
fn TraceUse(
    /// The trace's name in the configuration.
    path: String,
    /// Whether it has arrival times (can be replayed).
    has_arrivals: bool,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let target = StoredValue::new(path.clone());
    let uses = move || {
        state.form.with(|form| {
            form.active_trace_fields()
                .into_iter()
                .filter(|(_, text)| *text == path)
                .map(|(flag, _)| flag)
                .collect::<Vec<_>>()
        })
    };
    let replay = move |_| {
        state.set_field("request_generator_config_type", "trace");
        state.set_field(REPLAY_FLAG, &target.get_value());
    };
    move || {
        let uses = uses();
        let text = |what: &str| {
            view! { <p class="trace-note" data-testid="trace-use">{what.to_string()}</p> }.into_any()
        };
        if uses.contains(&REPLAY_FLAG) {
            text(
                "Replayed: every request of the trace (up to the replay's request limit) at its own arrival time.",
            )
        } else if uses.contains(&LENGTHS_FLAG) {
            let requests = state.form.with(|form| {
                find_flag("synthetic_request_generator_config_num_requests")
                    .map(|f| form.text(f))
                    .unwrap_or_default()
            });
            let note = format!(
                "Only its request lengths are used: the synthetic workload sends {} requests at the interval generator's arrival times{}",
                if requests.is_empty() { "its".to_string() } else { requests },
                if uses.contains(&GAPS_FLAG) { " (read from this trace)." } else { "." }
            );
            view! {
                <p class="trace-note" data-testid="trace-use">
                    {note}
                    {has_arrivals.then(|| view! {
                        " "
                        <button type="button" class="linkish" data-testid="replay-trace" on:click=replay>"Replay the whole trace instead"</button>
                    })}
                </p>
            }
            .into_any()
        } else if uses.contains(&GAPS_FLAG) {
            text(
                "Only its arrival gaps are used, by the interval generator; request lengths come from the length generator.",
            )
        } else {
            ().into_any()
        }
    }
}
