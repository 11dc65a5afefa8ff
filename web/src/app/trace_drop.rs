//! The trace drop zone: file picker and drag-and-drop for request traces (Vidur CSV, Mooncake
//! JSONL, Azure CSV, detected from content), parse progress, a rejected file with its row and
//! column (the last good trace stays), a file that differs from a share link's (used only when
//! confirmed), and each trace's summary with the choice of what the run takes from it.

use leptos::prelude::*;
use llmsim_engine::find_flag;
use llmsim_protocol::{FileInfo, Percentiles, is_trace_flag};
use wasm_bindgen::JsCast;
use web_sys::{DragEvent, HtmlInputElement};

use super::state::AppState;
use crate::page::uploads::mismatch_text;
use crate::page::{TraceMode, UploadStatus};
use crate::presets;
use crate::share::format_bytes;
use crate::summary::group_thousands;

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
    // Each trace once, though the run may read it for its lengths and its arrivals both.
    let traces = move || {
        let mut paths: Vec<String> = Vec::new();
        for (flag, path) in state.form.with(|f| f.required_files()) {
            if is_trace_flag(flag) && !paths.contains(&path) {
                paths.push(path);
            }
        }
        paths
    };
    let wanted = move || {
        state.uploads.with(|u| {
            u.expected().iter().filter(|f| !u.is_available(&f.path)).map(|f| f.describe()).collect::<Vec<_>>()
        })
    };
    let mismatches = move || {
        state.uploads.with(|u| {
            u.mismatches()
                .into_iter()
                .filter_map(|upload| match &upload.status {
                    UploadStatus::Mismatch { info, expected, .. } => {
                        Some((upload.path.clone(), mismatch_text(info, expected), expected.path.clone()))
                    }
                    _ => None,
                })
                .collect::<Vec<_>>()
        })
    };
    let rejected = move || state.uploads.with(|u| u.rejected_trace().cloned());
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
            <For each=mismatches key=|m| m.clone() let:mismatch>
                <div class="notice" data-testid="link-mismatch" role="alert">
                    {format!("{} It is not used unless you choose so. ", mismatch.1)}
                    <button type="button" class="linkish" data-testid="use-mismatched" on:click={
                        let path = mismatch.0.clone();
                        move |_| state.use_mismatched(&path)
                    }>
                        {format!("Use {} instead", mismatch.0)}
                    </button>
                    {format!(", or choose {}.", mismatch.2)}
                </div>
            </For>
            {move || rejected().map(|r| {
                let kept = r.kept.map_or(" Nothing else was uploaded, so the run reads what it read before.".to_string(), |k| format!(" The run still reads {k}."));
                view! {
                    <div data-testid="upload-rejected">
                        <p class="field-error" data-testid="error" role="alert">
                            {format!("{} was rejected: {}.{kept}", r.name, r.error)}
                        </p>
                    </div>
                }
            })}
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
        Some(UploadStatus::Mismatch { .. }) => view! { <p class="trace-note">{format!("{shown_path} is read but waits for your choice (above).")}</p> }.into_any(),
        Some(UploadStatus::Loaded { info, elapsed_ms }) => {
            let has_arrivals = info.trace.as_ref().is_some_and(|t| t.duration_s.is_some());
            let has_lengths = info.trace.as_ref().is_some_and(|t| t.input_tokens.is_some());
            view! {
                <TraceSummaryTable info=info elapsed_ms=elapsed_ms/>
                <TraceModeChoice path=shown_path.clone() has_arrivals=has_arrivals has_lengths=has_lengths/>
                <TraceUse path=shown_path.clone()/>
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
        ("Requests", group_thousands(&t.requests.to_string())),
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

/// What the run takes from the trace at `path`, as a choice (replay it, take its lengths at
/// the interval generator's rate, or take its arrival times): the choice that an upload made
/// (its lengths on a synthetic workload, else a replay) is shown, not left to guess. Choices
/// the trace cannot serve (no arrival times, or nothing but them) are disabled.
#[component]
fn TraceModeChoice(
    /// The trace's name in the configuration.
    path: String,
    /// Whether it has arrival times.
    has_arrivals: bool,
    /// Whether it has request lengths.
    has_lengths: bool,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let target = StoredValue::new(path.clone());
    let mode = move || state.form.with(|form| TraceMode::of(form, &target.get_value()));
    let group = format!("trace-mode-{path}");
    let options = TraceMode::ALL.map(|m| {
        let (label, possible) = match m {
            TraceMode::Replay => {
                ("Replay it: every request at its own arrival time", has_arrivals && has_lengths)
            }
            TraceMode::Lengths => {
                ("Its request lengths, at the rate I set (interval generator)", has_lengths)
            }
            TraceMode::Arrivals => {
                ("Its arrival times only; lengths from the length generator", has_arrivals)
            }
        };
        let group = group.clone();
        view! {
            <label class="mode" class:disabled=!possible>
                <input
                    type="radio"
                    name=group
                    value=m.id()
                    disabled=!possible
                    prop:checked=move || mode() == Some(m)
                    on:change=move |_| state.set_trace_mode(&target.get_value(), m)
                />
                {label}
            </label>
        }
    });
    view! {
        <fieldset class="trace-mode" data-testid="trace-mode">
            <legend>{format!("What the run takes from {path}")}</legend>
            {options.into_iter().collect_view()}
        </fieldset>
    }
}

/// What the configured run takes from the trace at `path`, in words, so a summary of 19,366
/// requests is not mistaken for a run of them.
#[component]
fn TraceUse(
    /// The trace's name in the configuration.
    path: String,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let text = move || {
        let mode = state.form.with(|form| TraceMode::of(form, &path))?;
        let field =
            |flag: &str| state.form.with(|form| find_flag(flag).map(|f| form.text(f)).unwrap_or_default());
        let requests = field("synthetic_request_generator_config_num_requests");
        let sends = if requests.is_empty() {
            "requests until its duration".to_string()
        } else {
            format!("{requests} requests")
        };
        Some(match mode {
            TraceMode::Replay => "Replayed: every request of the trace (up to the replay's request limit) at its own arrival time.".to_string(),
            TraceMode::Lengths => {
                let rate = if field("interval_generator_config_type") == "trace" { " read from this trace" } else { "" };
                format!("Only its request lengths are used: the synthetic workload sends {sends} at the interval generator's arrival times{rate}.")
            }
            TraceMode::Arrivals => format!("Only its arrival gaps are used: the synthetic workload sends {sends}, with lengths from the length generator."),
        })
    };
    move || text().map(|t| view! { <p class="trace-note" data-testid="trace-use">{t}</p> })
}
