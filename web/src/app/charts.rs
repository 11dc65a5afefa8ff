//! The charts of the shown run, one component per chart: each redraws when its own chart
//! changes (the CDFs overlay the A/B runs when two are picked) or the window is resized.

use leptos::html::Canvas;
use leptos::prelude::*;
use web_sys::HtmlCanvasElement;

use super::state::AppState;
use crate::charts::run_charts::ChartKind;
use crate::charts::{Chart, canvas};

/// The seven charts, hidden until a run is shown.
#[component]
pub fn Charts() -> impl IntoView {
    let state = expect_context::<AppState>();
    let has_run = move || state.shown.get().is_some();
    view! {
        <div class="charts" style:display=move || { if has_run() { "" } else { "none" } }>
            {ChartKind::ALL.map(|kind| view! { <ChartCanvas kind=kind/> }).collect_view()}
        </div>
    }
}

/// One chart's canvas.
#[component]
fn ChartCanvas(
    /// Which chart.
    kind: ChartKind,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let canvas = NodeRef::<Canvas>::new();
    let chart = Memo::new(move |_| {
        let shown = state.shown.get().and_then(|id| state.record(id))?;
        let compared = if kind.overlays_ab() { state.compared() } else { None };
        Some(kind.chart(&shown, compared.as_ref().map(|(a, b)| (&**a, &**b))))
    });
    Effect::new(move |_| {
        let _ = state.width.get();
        if let (Some(chart), Some(canvas)) = (chart.get(), canvas.get()) {
            draw_or_note(&canvas, &chart);
        }
    });
    view! {
        <canvas node_ref=canvas data-testid=kind.test_id() role="img" aria-label=kind.description()></canvas>
    }
}

/// Draws a chart; the canvas's accessible name is its title, and, when there is nothing to plot,
/// the note that says why (also in the canvas's `data-note`).
fn draw_or_note(element: &HtmlCanvasElement, chart: &Chart) {
    match chart.note() {
        Some(note) => {
            let _ = element.set_attribute("data-note", note);
            let _ = element.set_attribute("aria-label", &format!("{}. {note}", chart.title));
        }
        None => {
            let _ = element.remove_attribute("data-note");
            let _ = element.set_attribute("aria-label", &chart.title);
        }
    }
    if let Err(e) = canvas::draw_on(element, chart) {
        web_sys::console::warn_1(&format!("llmsim chart: {e}").into());
    }
}
