//! The run bar: preset menu (with undo), the A/B variant's checkbox, Run and Cancel, the
//! progress bar and status line, and page-level messages.

use leptos::prelude::*;

use super::state::AppState;
use crate::browser;
use crate::form;
use crate::page::{Outcome, PairPart, RunStatus};
use crate::presets::{self, PRESETS};

/// Preset menu, the A/B variant's checkbox (when the preset has one), Run / Cancel, progress and
/// the messages that belong to no single field.
#[component]
pub fn RunBar() -> impl IntoView {
    let state = expect_context::<AppState>();
    let running = move || matches!(state.run.get(), RunStatus::Running { .. });
    let selected = move || state.matching_preset().unwrap_or("custom");
    let description = move || presets::find(selected()).map_or("Your own configuration.", |p| p.description);
    view! {
        <div class="runbar">
            <label class="preset">
                <span>"Scenario"</span>
                <select
                    data-testid="preset"
                    prop:value=selected
                    on:change=move |ev| state.apply_preset(&event_target_value(&ev))
                >
                    {PRESETS.iter().map(|p| view! { <option value=p.id>{p.name}</option> }).collect_view()}
                    <option value="custom" disabled=true>"Custom (edited)"</option>
                </select>
            </label>
            {move || state.undoable_preset.get().and_then(presets::find).map(|p| view! {
                <p class="notice undo" role="status">
                    {format!("“{}” replaced your settings. ", p.name.split(':').next().unwrap_or(p.name))}
                    <button type="button" class="linkish" data-testid="undo-preset" on:click=move |_| state.undo_preset()>
                        "Undo"
                    </button>
                </p>
            })}
            <p class="help">{description}</p>
            {move || state.variant.get().map(|variant| view! {
                <label class="variant">
                    <input
                        type="checkbox"
                        data-testid="run-variant"
                        prop:checked=move || state.run_variant.get()
                        on:change=move |ev| state.set_run_variant(event_target_checked(&ev))
                    />
                    {format!("Then run B, the same with {}, and compare A and B", variant.name)}
                </label>
            })}
            <div class="buttons">
                <button
                    class="primary"
                    data-testid="run"
                    disabled=move || running() || !state.worker_ready.get()
                    on:click=move |_| state.start_run()
                >
                    {move || match (state.worker_ready.get() || running(), state.armed_variant().is_some()) {
                        (false, _) => "Starting…",
                        (true, true) => "Run A and B",
                        (true, false) => "Run",
                    }}
                </button>
                <button data-testid="cancel" disabled=move || !running() on:click=move |_| state.cancel_run()>
                    "Cancel"
                </button>
            </div>
            <Progress/>
            <PageMessages/>
        </div>
    }
}

/// The progress bar: simulated time and requests done while running, then how the last Run
/// ended (finished, refused, cancelled).
#[component]
fn Progress() -> impl IntoView {
    let state = expect_context::<AppState>();
    let fraction = move || match state.run.get() {
        RunStatus::Running { progress: Some(p), .. } => {
            p.requests_expected.filter(|n| *n > 0).map(|n| p.requests_done as f64 / n as f64)
        }
        RunStatus::Running { progress: None, .. } => None,
        RunStatus::Idle => matches!(state.outcome.get(), Some(Outcome::Finished { .. })).then_some(1.0),
    };
    let text = move || match state.run.get() {
        RunStatus::Running { progress: None, pair, run_id, .. } => match state.fetching.get() {
            Some(path) => format!("{}: fetching {path} (first use)…", run_name(run_id, pair.as_ref())),
            None => format!("{}: starting…", run_name(run_id, pair.as_ref())),
        },
        RunStatus::Running { progress: Some(p), pair, run_id, .. } => {
            let of = p.requests_expected.map(|n| format!(" of {n}")).unwrap_or_default();
            format!(
                "{}: simulated {:.1} s · {} requests done{of} · {} events",
                run_name(run_id, pair.as_ref()),
                p.sim_time_s,
                p.requests_done,
                p.events
            )
        }
        RunStatus::Idle => match state.outcome.get() {
            Some(Outcome::Finished { run_id }) => match state.record(run_id) {
                Some(r) => format!(
                    "Run #{run_id} finished in {:.2} s ({:.2} s in the simulator).",
                    r.wall_ms / 1e3,
                    r.result.elapsed_ms / 1e3
                ),
                None => format!("Run #{run_id} finished."),
            },
            Some(Outcome::Refused { errors }) => format!(
                "Run refused: the configuration has {errors} error{} (listed below); nothing was run.",
                if errors == 1 { "" } else { "s" }
            ),
            Some(Outcome::Cancelled) => "Run cancelled.".to_string(),
            Some(Outcome::Crashed) => "The simulator stopped (see below).".to_string(),
            None if state.worker_ready.get() => "Ready.".to_string(),
            None => "Loading the simulator…".to_string(),
        },
    };
    view! {
        <div class="progress" data-testid="progress" aria-live="polite" class:active=move || matches!(state.run.get(), RunStatus::Running { .. })>
            <progress max="1" aria-label="Run progress" prop:value=move || fraction().unwrap_or(0.0)></progress>
            <span>{text}</span>
        </div>
    }
}

/// The running run as the progress text names it: `Run #3`, or `Run A (1 of 2), #3`.
fn run_name(run_id: u32, pair: Option<&PairPart>) -> String {
    match pair {
        None => format!("Run #{run_id}"),
        Some(PairPart::A { .. }) => format!("Run A (1 of 2), #{run_id}"),
        Some(PairPart::B { .. }) => format!("Run B (2 of 2), #{run_id}"),
    }
}

/// Messages about the whole page: a refused run's errors, each a link to its field (or in
/// full, for a field that is not shown), and notices.
#[component]
fn PageMessages() -> impl IntoView {
    let state = expect_context::<AppState>();
    let config = Memo::new(move |_| state.form.with(|f| f.parse().0));
    let has_field = move |flag: &str| {
        !flag.is_empty()
            && llmsim_engine::find_flag(flag).is_some()
            && config.with(|c| llmsim_engine::config::is_active(c, flag))
    };
    // Errors of shown fields: a link each, to the field (which shows the message).
    let linked = move || {
        state.run_errors.with(|errors| {
            let mut flags: Vec<String> = Vec::new();
            for e in errors.iter().filter(|e| has_field(&e.flag)) {
                if !flags.contains(&e.flag) {
                    flags.push(e.flag.clone());
                }
            }
            flags
        })
    };
    let homeless = move || {
        state
            .run_errors
            .get()
            .into_iter()
            .filter(|e| !has_field(&e.flag))
            .map(|e| if e.flag.is_empty() { e.to_string() } else { format!("--{}: {e}", e.flag) })
            .collect::<Vec<_>>()
    };
    view! {
        {move || state.notice.get().map(|n| view! { <p class="notice" data-testid="error" role="alert">{n}</p> })}
        {move || {
            let flags = linked();
            (!flags.is_empty()).then(|| view! {
                <div class="notice error" data-testid="error" role="alert">
                    "The simulator refused this configuration. Fix: "
                    {flags.into_iter().enumerate().map(|(i, flag)| {
                        let def = llmsim_engine::find_flag(&flag);
                        let label = def.map_or(flag.clone(), form::label);
                        let target = format!("in-{flag}");
                        let href = format!("#{target}");
                        view! {
                            {(i > 0).then_some(", ")}
                            <a
                                href=href
                                data-testid="error-link"
                                on:click=move |ev| {
                                    ev.prevent_default();
                                    browser::focus_later(target.clone());
                                }
                            >
                                {label}
                            </a>
                        }
                    }).collect_view()}
                </div>
            })
        }}
        <For each=homeless key=|e| e.clone() let:error>
            <p class="notice error" data-testid="error" role="alert">{error}</p>
        </For>
    }
}
