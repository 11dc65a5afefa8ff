//! The page's components: the run bar (presets, Run, Cancel, progress), the trace drop zone,
//! the generated configuration form with one GPU's memory, and the results (one run's summary,
//! downloads and share link, or two runs compared; the charts; the runs kept in this browser).
//! They show the [`crate::page::Page`] through the signals of [`AppState`] and change it only
//! through its methods.

mod charts;
mod controls;
mod fields;
mod memory;
mod plan;
mod results;
mod runs_list;
mod state;
mod trace_drop;

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;

pub use state::AppState;

use crate::browser;
use crate::worker_client;

/// The whole page. Starts the worker, puts back the runs kept in this browser, restores a share
/// link from the URL (and runs it once its files are in), otherwise shows the default preset.
/// The shipped trace the default preset reads is not fetched here: the worker fetches it when
/// a run or a search first needs it (the run's progress line says so), so a first visit
/// downloads only the page (issue 19, page weight; BENCHMARKS.md).
#[component]
pub fn App() -> impl IntoView {
    let state = AppState::new();
    provide_context(state);
    worker_client::start(move |reply| state.on_reply(reply));
    state.start_live_check();
    if let Some(kept) = browser::stored(crate::page::storage::KEY) {
        state.restore_runs(&kept);
    }
    state.open_link(&browser::query());
    track_window_width(state);
    view! {
        <header class="top">
            <h1>"llmsim"</h1>
            <p class="tagline">
                "Simulates LLM inference clusters (Vidur's model) entirely in your browser: files you upload never leave this machine."
            </p>
        </header>
        <plan::PlanCapacity/>
        <main class="layout">
            <aside class="config">
                <controls::RunBar/>
                <trace_drop::TraceDrop/>
                <fields::ConfigForm/>
            </aside>
            <section class="results">
                <results::Results/>
                <charts::Charts/>
                <runs_list::RunsList/>
            </section>
        </main>
    }
}

/// Keeps `state.width` equal to the window's width, so charts redraw when it changes.
fn track_window_width(state: AppState) {
    let Some(window) = web_sys::window() else { return };
    let read = move || {
        web_sys::window().and_then(|w| w.inner_width().ok()).and_then(|w| w.as_f64()).unwrap_or(0.0) as i32
    };
    state.width.set(read());
    let on_resize = Closure::<dyn FnMut()>::new(move || state.width.set(read()));
    let _ = window.add_event_listener_with_callback("resize", on_resize.as_ref().unchecked_ref());
    on_resize.forget();
}
