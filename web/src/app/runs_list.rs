//! The session's runs: a table to show one and pick A and B, and the A/B differences (the
//! runs' labels, the settings they differ in, then the metrics).

use std::sync::Arc;

use leptos::prelude::*;

use super::state::AppState;
use crate::compare;
use crate::page::RunRecord;
use crate::share::SharedRun;
use crate::summary;

/// The session's runs: show one, pick A and B, and the A/B differences (the runs' labels and
/// the settings they differ in, then the metrics).
#[component]
pub fn RunsList() -> impl IntoView {
    let state = expect_context::<AppState>();
    let rows = move || state.runs.get();
    let diff = move || {
        state.compared().map(|(a, b)| {
            let settings = compare::settings_diff(
                &SharedRun::from_query(&a.share_query).pairs,
                &SharedRun::from_query(&b.share_query).pairs,
            );
            let metrics = summary::diff(&a.summary, &b.summary);
            (a, b, settings, metrics)
        })
    };
    view! {
        <div class="runs" style:display=move || { if state.runs.with(|r| r.len()) > 0 { "" } else { "none" } }>
            <h2>"Runs of this session"</h2>
            <div class="table-scroll">
                <table class="runs-table" data-testid="runs">
                    <thead>
                        <tr><th>"Run"</th><th>"Scenario"</th><th>"TTFT p50"</th><th>"E2E p50"</th><th>"Throughput"</th><th>"A"</th><th>"B"</th></tr>
                    </thead>
                    <tbody>
                        <For each=rows key=|r| r.id let:record>
                            <RunRow record=record/>
                        </For>
                    </tbody>
                </table>
            </div>
            {move || diff().map(|(a, b, settings, rows)| view! {
                <h3>{format!("A/B: run #{} → run #{}", a.id, b.id)}</h3>
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
                <p class="help">"The CDF charts above overlay A and B."</p>
            })}
        </div>
    }
}

/// A flag name that may wrap after each underscore (a phone's narrow table has no room for
/// `vllm_v1_scheduler_config_batch_size_cap` on one line).
fn breakable(flag: &str) -> impl IntoView + use<> {
    flag.split_inclusive('_').map(|part| view! { {part.to_string()}<wbr/> }).collect_view()
}

/// One row of the runs table.
#[component]
fn RunRow(
    /// The run.
    record: Arc<RunRecord>,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let id = record.id;
    let cell = |path: &[&str], unit| {
        summary::value(&record.summary, path).map_or("–".into(), |x| summary::format(unit, x))
    };
    let ttft = cell(&["ttft_s", "p50"], summary::Unit::Seconds);
    let e2e = cell(&["e2e_s", "p50"], summary::Unit::Seconds);
    let tput = cell(&["throughput", "requests_per_s"], summary::Unit::RequestsPerSecond);
    view! {
        <tr class:shown=move || state.shown.get() == Some(id)>
            <td><button type="button" class="linkish" on:click=move |_| state.show_run(id)>{format!("#{id}")}</button></td>
            <td>{record.label.clone()}</td>
            <td>{ttft}</td>
            <td>{e2e}</td>
            <td>{tput}</td>
            <td>
                <input type="radio" name="compare-a" aria-label=format!("A: run {id}")
                    prop:checked=move || state.compare.get().0 == Some(id)
                    on:change=move |_| state.pick_a(id)/>
            </td>
            <td>
                <input type="radio" name="compare-b" aria-label=format!("B: run {id}")
                    prop:checked=move || state.compare.get().1 == Some(id)
                    on:change=move |_| state.pick_b(id)/>
            </td>
        </tr>
    }
}
