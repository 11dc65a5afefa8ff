//! The runs kept in this browser: a table (sortable by any column, exportable as CSV) to show
//! one run, pick two as A and B and compare them, or delete runs.

use std::sync::Arc;

use leptos::prelude::*;

use super::state::AppState;
use crate::browser;
use crate::page::{RunRecord, View};
use crate::runs_table::{self, COLUMNS, Sort};

/// The runs table (`data-testid=runs`), the Compare button, export and delete-all.
#[component]
pub fn RunsList() -> impl IntoView {
    let state = expect_context::<AppState>();
    let sort = RwSignal::new(Sort::default());
    let rows = move || state.runs.with(|r| runs_table::sorted(r, sort.get()));
    let pair = move || match state.picks.get() {
        (Some(a), Some(b)) if a != b => Some((a, b)),
        _ => None,
    };
    let comparing = move || matches!(state.view.get(), View::Compare { .. });
    let export = move |_| {
        let csv = state.runs.with(|r| runs_table::to_csv(&runs_table::sorted(r, sort.get_untracked())));
        browser::download("llmsim_runs.csv", &csv);
    };
    let delete_all = move |_| {
        let n = state.runs.with_untracked(Vec::len);
        if browser::confirm(&format!("Delete all {n} runs from this browser?")) {
            state.delete_all_runs();
        }
    };
    view! {
        <div class="runs" style:display=move || { if state.runs.with(|r| r.len()) > 0 { "" } else { "none" } }>
            <h2>"Runs kept in this browser"</h2>
            <div class="table-scroll">
                <table class="runs-table" data-testid="runs">
                    <thead>
                        <tr>
                            {COLUMNS.iter().enumerate().map(|(i, c)| {
                                let mark = move || {
                                    let s = sort.get();
                                    if s.column != i { "" } else if s.ascending { " ▲" } else { " ▼" }
                                };
                                let aria_sort = move || {
                                    let s = sort.get();
                                    if s.column != i { "none" } else if s.ascending { "ascending" } else { "descending" }
                                };
                                view! {
                                    <th class:wide=c.wide aria-sort=aria_sort>
                                        <button type="button" class="sort" on:click=move |_| sort.update(|s| *s = s.clicked(i))>
                                            {c.title}
                                        </button>
                                        <span aria-hidden="true">{mark}</span>
                                    </th>
                                }
                            }).collect_view()}
                            <th>"A"</th>
                            <th>"B"</th>
                            <th><span class="visually-hidden">"Delete"</span></th>
                        </tr>
                    </thead>
                    <tbody>
                        <For each=rows key=|r| r.id let:record>
                            <RunRow record=record/>
                        </For>
                    </tbody>
                </table>
            </div>
            <div class="runs-actions">
                <button
                    type="button"
                    data-testid="compare"
                    disabled=move || pair().is_none()
                    on:click=move |_| state.compare_picked()
                >
                    {move || match pair() {
                        Some((a, b)) => format!("Compare A (#{a}) with B (#{b})"),
                        None => "Compare A with B (pick two runs)".to_string(),
                    }}
                </button>
                <button type="button" data-testid="export-runs" on:click=export>"Export CSV"</button>
                <button type="button" data-testid="delete-all-runs" on:click=delete_all>"Delete all runs"</button>
            </div>
            <p class="help">
                {move || if comparing() {
                    "Comparing the picked runs; click a run's # to show it alone."
                } else {
                    "Click a run's # to show it; pick A and B, then Compare. Runs stay in this browser until deleted."
                }}
            </p>
        </div>
    }
}

/// One row of the runs table.
#[component]
fn RunRow(
    /// The run.
    record: Arc<RunRecord>,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let id = record.id;
    let shown = move || match state.view.get() {
        View::Run(v) => v == id,
        View::Compare { a, b } => a == id || b == id,
        View::Nothing => false,
    };
    let cells = COLUMNS
        .iter()
        .map(|c| {
            let text = (c.value)(&record).shown();
            match c.title {
                "Run" => view! {
                    <td>
                        <button type="button" class="linkish" aria-label=format!("Show run {id}") on:click=move |_| state.show_run(id)>
                            {format!("#{id}")}
                        </button>
                    </td>
                }
                .into_any(),
                "Scenario" => view! { <td class="label">{text}</td> }.into_any(),
                _ => view! { <td class:wide=c.wide>{text}</td> }.into_any(),
            }
        })
        .collect_view();
    view! {
        <tr class:shown=shown>
            {cells}
            <td>
                <input type="radio" name="compare-a" aria-label=format!("A: run {id}")
                    prop:checked=move || state.picks.get().0 == Some(id)
                    on:change=move |_| state.pick_a(id)/>
            </td>
            <td>
                <input type="radio" name="compare-b" aria-label=format!("B: run {id}")
                    prop:checked=move || state.picks.get().1 == Some(id)
                    on:change=move |_| state.pick_b(id)/>
            </td>
            <td>
                <button type="button" class="delete" aria-label=format!("Delete run {id}") title=format!("Delete run #{id}") on:click=move |_| state.delete_run(id)>
                    "×"
                </button>
            </td>
        </tr>
    }
}
