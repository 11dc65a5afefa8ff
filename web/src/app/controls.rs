//! The run bar: preset menu, the A/B variant's checkbox, Run and Cancel, the progress bar, and
//! page-level messages.

use leptos::prelude::*;

use super::state::AppState;
use crate::page::{PairPart, RunStatus};
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

/// The progress bar: simulated time and requests done while running, the last outcome after.
#[component]
fn Progress() -> impl IntoView {
    let state = expect_context::<AppState>();
    let fraction = move || match state.run.get() {
        RunStatus::Running { progress: Some(p), .. } => {
            p.requests_expected.filter(|n| *n > 0).map(|n| p.requests_done as f64 / n as f64)
        }
        RunStatus::Running { progress: None, .. } => None,
        RunStatus::Idle => state.runs.with(|r| !r.is_empty()).then_some(1.0),
    };
    let text = move || match state.run.get() {
        RunStatus::Running { progress: None, pair, .. } => {
            format!("{}Starting the run…", pair_prefix(pair.as_ref()))
        }
        RunStatus::Running { progress: Some(p), pair, .. } => {
            let of = p.requests_expected.map(|n| format!(" of {n}")).unwrap_or_default();
            let prefix = pair_prefix(pair.as_ref());
            format!(
                "{prefix}Simulated {:.1} s · {} requests done{of} · {} events",
                p.sim_time_s, p.requests_done, p.events
            )
        }
        RunStatus::Idle => {
            match state.runs.with(|r| r.last().map(|r| (r.id, r.wall_ms, r.result.elapsed_ms))) {
                Some((id, wall, engine)) => format!(
                    "Run #{id} finished in {:.2} s ({:.2} s in the simulator).",
                    wall / 1e3,
                    engine / 1e3
                ),
                None if state.worker_ready.get() => "Ready.".to_string(),
                None => "Loading the simulator…".to_string(),
            }
        }
    };
    view! {
        <div class="progress" data-testid="progress" aria-live="polite" class:active=move || matches!(state.run.get(), RunStatus::Running { .. })>
            <progress max="1" aria-label="Run progress" prop:value=move || fraction().unwrap_or(0.0)></progress>
            <span>{text}</span>
        </div>
    }
}

/// Which run of an A/B pair is running, as the start of the progress text.
fn pair_prefix(pair: Option<&PairPart>) -> &'static str {
    match pair {
        None => "",
        Some(PairPart::A { .. }) => "Run A (1 of 2) · ",
        Some(PairPart::B { .. }) => "Run B (2 of 2) · ",
    }
}

/// Messages about the whole page, and validation errors of fields that are not shown.
#[component]
fn PageMessages() -> impl IntoView {
    let state = expect_context::<AppState>();
    let config = Memo::new(move |_| state.form.with(|f| f.parse().0));
    let homeless_errors = move || {
        let config = config.get();
        state
            .run_errors
            .get()
            .into_iter()
            .filter(|e| {
                e.flag.is_empty()
                    || !llmsim_engine::config::is_active(&config, &e.flag)
                    || llmsim_engine::find_flag(&e.flag).is_none()
            })
            .map(|e| if e.flag.is_empty() { e.to_string() } else { format!("--{}: {e}", e.flag) })
            .collect::<Vec<_>>()
    };
    let field_errors = move || state.run_errors.with(|e| e.iter().filter(|e| !e.flag.is_empty()).count());
    view! {
        {move || state.notice.get().map(|n| view! { <p class="notice" data-testid="error" role="alert">{n}</p> })}
        {move || {
            let n = field_errors();
            (n > 0).then(|| view! {
                <p class="notice error" data-testid="error" role="alert">
                    {format!("The simulator refused this configuration: {n} field(s) need attention (marked below).")}
                </p>
            })
        }}
        <For each=homeless_errors key=|e| e.clone() let:error>
            <p class="notice error" data-testid="error" role="alert">{error}</p>
        </For>
    }
}
