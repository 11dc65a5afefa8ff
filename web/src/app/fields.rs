//! The configuration form, generated from the engine's flag table: one field per flag, in
//! collapsible sections, each with its help text and its validation errors.

use leptos::prelude::*;
use llmsim_engine::{Config, FlagDef, FlagKind};
use llmsim_protocol::FieldError;
use wasm_bindgen::JsCast;
use web_sys::HtmlInputElement;

use super::state::AppState;
use crate::form::{self, SECTIONS, Section};
use crate::page::{RunStatus, UploadStatus};
use crate::share::format_bytes;

/// Every section of the form.
#[component]
pub fn ConfigForm() -> impl IntoView {
    let state = expect_context::<AppState>();
    // Parsed once per change and shared by every field: visibility and validation.
    let config = Memo::new(move |_| state.form.with(|f| f.parse().0));
    let live_errors = Memo::new(move |_| state.check.with(|c| c.errors.clone()));
    provide_context(FormContext { config, live_errors });
    view! {
        <form class="config-form" on:submit=|ev| ev.prevent_default() on:keydown=move |ev| run_on_enter(state, &ev)>
            {SECTIONS.iter().map(|section| view! { <SectionView section=*section/> }).collect_view()}
        </form>
    }
}

/// Enter in one of the form's text fields runs the form, as the Run button does (a form of
/// many text fields and no submit button has no implicit submission). The field's value is
/// taken first: its `change` event, which Enter also fires, comes after this handler.
fn run_on_enter(state: AppState, ev: &leptos::ev::KeyboardEvent) {
    if ev.key() != "Enter"
        || ev.is_composing()
        || ev.alt_key()
        || ev.ctrl_key()
        || ev.meta_key()
        || ev.shift_key()
    {
        return;
    }
    let Some(input) = ev.target().and_then(|t| t.dyn_into::<HtmlInputElement>().ok()) else { return };
    let Some(def) = llmsim_engine::find_flag(&input.name()) else { return };
    if !matches!(input.type_().as_str(), "text" | "number") {
        return;
    }
    // As the Run button: disabled while the worker starts or a run is in progress.
    if !state.worker_ready.get_untracked() || matches!(state.run.get_untracked(), RunStatus::Running { .. }) {
        return;
    }
    let value = input.value();
    if state.form.with_untracked(|f| f.text(def)) != value {
        state.set_field(def.name, &value);
    }
    state.start_run();
}

/// What every field reads: the parsed configuration and the live validation errors.
#[derive(Clone, Copy)]
struct FormContext {
    config: Memo<Config>,
    live_errors: Memo<Vec<FieldError>>,
}

/// One collapsible section.
#[component]
fn SectionView(
    /// The section to show.
    section: Section,
) -> impl IntoView {
    let flags = form::section_flags(&section);
    // One GPU's memory belongs with the model, device and parallelism it follows from.
    let memory = (section.id == "cluster").then(|| view! { <super::memory::MemoryPanel/> });
    // Disaggregated, the cluster section's device, parallelism, replicas and KV blocks are the
    // prefill pool's: a legend says so, and each such field is tagged.
    let ctx = expect_context::<FormContext>();
    let legend = (section.id == "cluster").then(|| {
        view! {
            <p class="pool-legend" data-testid="prefill-pool-legend"
                style:display=move || if ctx.config.with(form::is_disaggregated) { "" } else { "none" }>
                <span class="pool-tag">"Prefill pool"</span>
                " Disaggregated prefill and decode: the fields tagged so set the prefill pool; the decode pool's are under \"Disaggregated prefill and decode\". The model is both pools'."
            </p>
        }
    });
    view! {
        <details class="section" id=section.id open=section.open>
            <summary>{section.title}</summary>
            {legend}
            <div class="fields">{flags.into_iter().map(|def| view! { <Field def=def/> }).collect_view()}</div>
            {memory}
        </details>
    }
}

/// One flag's field: label, input, help and errors; hidden while its selector chain does not
/// hold.
#[component]
fn Field(
    /// The flag this field edits.
    def: &'static FlagDef,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let ctx = expect_context::<FormContext>();
    let visible = move || ctx.config.with(|c| llmsim_engine::config::is_active(c, def.name));
    // The live check's errors; a refused run's only where the live check sees none (the two
    // say the same thing in other words, e.g. a file nobody gave).
    let errors = Memo::new(move |_| {
        let add = |out: &mut Vec<String>, e: &FieldError| {
            let text = e.to_string();
            if e.flag == def.name && !out.contains(&text) {
                out.push(text);
            }
        };
        let mut out: Vec<String> = Vec::new();
        ctx.live_errors.with(|errors| errors.iter().for_each(|e| add(&mut out, e)));
        if out.is_empty() {
            state.run_errors.with(|errors| errors.iter().for_each(|e| add(&mut out, e)));
        }
        out
    });
    let invalid = Signal::derive(move || errors.with(|e| !e.is_empty()));
    // The input names its errors (and its help) for assistive technology.
    let a11y = Aria {
        invalid,
        described_by: Signal::derive(move || {
            if invalid.get() {
                format!("errors-{} help-{}", def.name, def.name)
            } else {
                format!("help-{}", def.name)
            }
        }),
    };
    let input = match &def.kind {
        FlagKind::Bool => bool_input(state, def, a11y).into_any(),
        FlagKind::Choice(choices) => choice_input(state, def, choices.to_vec(), a11y).into_any(),
        FlagKind::Path if form::is_file_flag(def) => file_input(state, def, a11y).into_any(),
        _ => text_input(state, def, a11y).into_any(),
    };
    view! {
        <div class="field" id=format!("field-{}", def.name) class:invalid=invalid style:display=move || { if visible() { "" } else { "none" } }>
            <label for=format!("in-{}", def.name)>
                <span class="label">{form::label(def)}</span>
                {form::is_prefill_pool_flag(def).then(|| view! {
                    <span class="pool-tag" data-testid="prefill-pool-tag"
                        style:display=move || if ctx.config.with(form::is_disaggregated) { "" } else { "none" }>"Prefill pool"</span>
                })}
                <code class="flag">{def.name}</code>
            </label>
            {input}
            <p class="help" id=format!("help-{}", def.name)>{def.help}</p>
            <div id=format!("errors-{}", def.name)>
                <For each=move || errors.get() key=|e| e.clone() let:error>
                    <p class="field-error" data-testid="error" role="alert">{error}</p>
                </For>
            </div>
        </div>
    }
}

/// What an input says about its field's errors: `aria-invalid` and the ids in
/// `aria-describedby` (the errors, when there are any, and the help).
#[derive(Clone, Copy)]
struct Aria {
    invalid: Signal<bool>,
    described_by: Signal<String>,
}

impl Aria {
    fn invalid(self) -> impl Fn() -> &'static str + Copy {
        move || if self.invalid.get() { "true" } else { "false" }
    }
}

fn text_of(state: AppState, def: &'static FlagDef) -> impl Fn() -> String + Copy {
    move || state.form.with(|f| f.text(def))
}

fn bool_input(state: AppState, def: &'static FlagDef, aria: Aria) -> impl IntoView {
    let text = text_of(state, def);
    view! {
        <input
            type="checkbox"
            id=format!("in-{}", def.name)
            name=def.name
            aria-invalid=aria.invalid()
            aria-describedby=aria.described_by
            prop:checked=move || text() == "true"
            on:change=move |ev| state.set_field(def.name, if event_target_checked(&ev) { "true" } else { "false" })
        />
    }
}

fn choice_input(
    state: AppState,
    def: &'static FlagDef,
    choices: Vec<&'static str>,
    aria: Aria,
) -> impl IntoView {
    let text = text_of(state, def);
    view! {
        <select
            id=format!("in-{}", def.name)
            name=def.name
            aria-invalid=aria.invalid()
            aria-describedby=aria.described_by
            prop:value=text
            on:change=move |ev| state.set_field(def.name, &event_target_value(&ev))
        >
            {choices.into_iter().map(|c| view! { <option value=c>{c}</option> }).collect_view()}
        </select>
    }
}

fn text_input(state: AppState, def: &'static FlagDef, aria: Aria) -> impl IntoView {
    let text = text_of(state, def);
    let suggestions = form::suggestions(def.name);
    let list_id = format!("list-{}", def.name);
    let numeric = matches!(def.kind, FlagKind::Int | FlagKind::OptInt | FlagKind::Float | FlagKind::OptFloat);
    let placeholder = form::placeholder(def);
    view! {
        <input
            type="text"
            id=format!("in-{}", def.name)
            name=def.name
            inputmode=if numeric { "decimal" } else { "text" }
            autocomplete="off"
            spellcheck="false"
            placeholder=placeholder
            list=(!suggestions.is_empty()).then(|| list_id.clone())
            aria-invalid=aria.invalid()
            aria-describedby=aria.described_by
            prop:value=text
            on:change=move |ev| state.set_field(def.name, &event_target_value(&ev))
        />
        {(!suggestions.is_empty()).then(|| view! {
            <datalist id=list_id>
                {suggestions.into_iter().map(|(value, label)| view! { <option value=value>{label}</option> }).collect_view()}
            </datalist>
        })}
    }
}

/// A file flag: the name the configuration refers to, an upload button, the upload's status;
/// for the model's config.json also a box to paste it into.
fn file_input(state: AppState, def: &'static FlagDef, aria: Aria) -> impl IntoView {
    let text = text_of(state, def);
    let on_pick = move |ev: leptos::ev::Event| {
        let Some(input) = ev.target().and_then(|t| t.dyn_into::<HtmlInputElement>().ok()) else { return };
        if let Some(file) = input.files().and_then(|files| files.get(0)) {
            state.pick_file(def.name, file);
        }
        // Picking the same file again must fire `change` again.
        input.set_value("");
    };
    let rejected = move || state.uploads.with(|u| u.rejected(def.name).cloned());
    let upload_failed = move || rejected().is_some();
    let status = move || {
        let path = text();
        state.uploads.with(|u| u.get(&path).map(|u| u.status.clone())).map(|status| match status {
            UploadStatus::Loading { done, total } => view! {
                <p class="upload-status">{format!("Reading… {:.0} %", done as f64 * 100.0 / total.max(1) as f64)}</p>
            }
            .into_any(),
            UploadStatus::Loaded { info, .. } => view! {
                <p class="upload-status ok">{format!("Uploaded: {} · sha256 {}…", format_bytes(info.size), &info.sha256[..12])}</p>
            }
            .into_any(),
            UploadStatus::Mismatch { .. } => view! {
                <p class="upload-status">"Read, but not the share link's file: see the trace box above."</p>
            }
            .into_any(),
        })
    };
    let rejection = move || {
        rejected().map(|r| {
            let kept = r.kept.map_or(String::new(), |k| format!(" The field reads {k} again."));
            view! {
                <p class="field-error" data-testid="error" role="alert" id=format!("upload-error-{}", def.name)>
                    {format!("Rejected: {}.{kept}", r.error)}
                </p>
            }
        })
    };
    let paste = (def.name == "replica_config_model_config_file").then(|| {
        let pasted = RwSignal::new(String::new());
        let paste_error = RwSignal::new(None::<String>);
        let use_pasted = move |_| paste_error.set(state.use_pasted_config(def.name, &pasted.get_untracked()).err());
        view! {
            <details class="paste">
                <summary>"Paste a Hugging Face config.json"</summary>
                <textarea rows="6" aria-label="Paste a Hugging Face config.json" placeholder="{ \"num_hidden_layers\": 32, ... }" on:input=move |ev| pasted.set(event_target_value(&ev))></textarea>
                <button type="button" on:click=use_pasted>"Use this config"</button>
                {move || paste_error.get().map(|e| view! { <p class="field-error" data-testid="error" role="alert">{format!("Pasted config.json: {e}")}</p> })}
            </details>
        }
    });
    view! {
        <div class="file-field">
            <input
                type="text"
                id=format!("in-{}", def.name)
                name=def.name
                placeholder="none"
                autocomplete="off"
                spellcheck="false"
                aria-invalid=move || if aria.invalid.get() || upload_failed() { "true" } else { "false" }
                aria-describedby=move || {
                    let ids = aria.described_by.get();
                    if upload_failed() { format!("upload-error-{} {ids}", def.name) } else { ids }
                }
                prop:value=text
                on:change=move |ev| state.set_field(def.name, &event_target_value(&ev))
            />
            <label class="upload-button">
                "Upload…"
                <input type="file" class="visually-hidden" on:change=on_pick/>
            </label>
        </div>
        {status}
        {rejection}
        {paste}
    }
}
