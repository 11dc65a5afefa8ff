//! The charts of what the results show (one run, or two compared), one component per chart:
//! each redraws when its own chart changes or the window is resized, and reads its values out
//! under the pointer.

use leptos::html::Canvas;
use leptos::prelude::*;
use web_sys::HtmlCanvasElement;

use super::state::AppState;
use crate::charts::readout::readout;
use crate::charts::run_charts::{ChartKind, Subject};
use crate::charts::{Chart, Frame, canvas};
use crate::page::View;

/// The charts, hidden until a run is shown.
#[component]
pub fn Charts() -> impl IntoView {
    let state = expect_context::<AppState>();
    let has_run = move || state.view.get() != View::Nothing;
    view! {
        <div class="charts" style:display=move || { if has_run() { "" } else { "none" } }>
            {ChartKind::ALL.map(|kind| view! { <ChartCanvas kind=kind/> }).collect_view()}
        </div>
    }
}

/// One chart's canvas, and the read-out of the values under the pointer.
#[component]
fn ChartCanvas(
    /// Which chart.
    kind: ChartKind,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let canvas = NodeRef::<Canvas>::new();
    // A chart that does not apply to the runs shown (the KV transfers of aggregated runs) is
    // neither drawn nor shown.
    let chart_of = move |subject: Subject| kind.applies(subject).then(|| kind.chart(subject));
    let chart = Memo::new(move |_| match state.view.get() {
        View::Nothing => None,
        View::Run(id) => state.record(id).and_then(|r| chart_of(Subject::One(&r))),
        View::Compare { a, b } => match (state.record(a), state.record(b)) {
            (Some(a), Some(b)) => chart_of(Subject::Pair(&a, &b)),
            _ => None,
        },
    });
    let frame = StoredValue::new(None::<Frame>);
    let hover = RwSignal::new(None::<(String, f64)>);
    Effect::new(move |_| {
        let _ = state.width.get();
        if let (Some(chart), Some(canvas)) = (chart.get(), canvas.get()) {
            frame.set_value(draw_or_note(&canvas, &chart));
            hover.set(None);
        }
    });
    let on_move = move |ev: leptos::ev::PointerEvent| {
        let (x, y) = (f64::from(ev.offset_x()), f64::from(ev.offset_y()));
        let text = frame
            .get_value()
            .filter(|f| f.contains(x, y))
            .and_then(|f| chart.with_untracked(|c| c.as_ref().and_then(|c| readout(c, &f, x))));
        hover.set(text.map(|t| (t, x)));
    };
    view! {
        <div class="chart" style:display=move || if chart.with(Option::is_some) { "" } else { "none" }>
            <canvas
                node_ref=canvas
                data-testid=kind.test_id()
                role="img"
                aria-label=kind.description()
                on:pointermove=on_move
                on:pointerleave=move |_| hover.set(None)
            ></canvas>
            {move || hover.get().map(|(text, x)| {
                let width = canvas.get().map_or(300.0, |c| f64::from(c.client_width()));
                // Right of the pointer in the chart's left half, left of it in the right half.
                let (side, offset) = if x < width / 2.0 { ("left", x + 12.0) } else { ("right", width - x + 12.0) };
                view! {
                    <div class="readout" data-testid="chart-readout" role="status" style=format!("{side}: {offset:.0}px")>{text}</div>
                }
            })}
        </div>
    }
}

/// Draws a chart; the canvas's accessible name is its title, and, when there is nothing to plot,
/// the note that says why (also in the canvas's `data-note`). Returns where the data landed.
fn draw_or_note(element: &HtmlCanvasElement, chart: &Chart) -> Option<Frame> {
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
    match canvas::draw_on(element, chart) {
        Ok(frame) => frame,
        Err(e) => {
            web_sys::console::warn_1(&format!("llmsim chart: {e}").into());
            None
        }
    }
}
