//! The "Plan capacity" view: a tab beside the single run. Its form builds a search spec over
//! the run form's workload (validated by the engine as you type), a pool of Web Workers
//! ([`workers`]) runs the plan's jobs, and the results grow into a sortable table, a Pareto
//! chart and latency-vs-load curves (every simulated point, the objective's bound drawn); a row
//! opens as a normal run. The state is [`crate::plan`]'s (plain Rust, tested
//! natively); this module only binds it to signals and the browser.

mod workers;

use leptos::html::Canvas;
use leptos::prelude::*;
use llmsim_protocol::FromWorker;
use serde_json::Value;
use wasm_bindgen::JsCast;

use super::state::AppState;
use crate::browser;
use crate::plan::form::{Field, metric_names, node_choices, scheduler_choices};
use crate::plan::run::RunState;
use crate::plan::{PlanForm, SearchRun, SloRow, curves, files, link, pareto, table};
use crate::share::SharedRun;
use crate::worker_client;

/// Most workers a search uses.
const MAX_WORKERS: usize = 4;

/// The plan view's signals; `Copy`, provided through context.
#[derive(Clone, Copy)]
struct PlanState {
    /// Whether the plan view is shown (else the single run).
    planning: RwSignal<bool>,
    form: RwSignal<PlanForm>,
    /// A shared link's base, used instead of the run form's until the user takes that again.
    link_base: RwSignal<Option<Vec<(String, String)>>>,
    search: RwSignal<Option<SearchRun>>,
    /// A problem with the last link or start.
    notice: RwSignal<Option<String>>,
    /// Sort column and direction.
    sort: RwSignal<Option<(usize, bool)>>,
    /// The latency the curves chart shows (index into [`curves::metrics`]).
    curve_metric: RwSignal<usize>,
}

impl PlanState {
    fn base(&self, app: AppState) -> Vec<(String, String)> {
        self.link_base.get().unwrap_or_else(|| app.form.with(|f| f.active_pairs()))
    }

    fn pump(&self) {
        let mut jobs = Vec::new();
        let mut finished = false;
        self.search.update(|s| {
            if let Some(s) = s {
                jobs = s.dispatch();
                finished = s.state() != RunState::Running;
            }
        });
        for (w, job) in jobs {
            workers::send(w, job);
        }
        if finished {
            workers::stop();
            if let Some(line) = self.search.with_untracked(|s| s.as_ref().map(SearchRun::status_line)) {
                web_sys::console::log_1(&format!("llmsim plan: {line}").into());
            }
        }
    }

    fn on_reply(&self, worker: usize, message: FromWorker) {
        let now = browser::now_ms();
        let mut error = None;
        let mut notice = None;
        self.search.update(|s| {
            let Some(s) = s else { return };
            let result = match message {
                FromWorker::JobDone(done) => {
                    s.add_busy_ms(done.elapsed_ms);
                    s.on_done(worker, done.id, done.outcome, now)
                }
                FromWorker::Crashed { message } => s.on_worker_lost(worker, &message, now),
                FromWorker::FileFailed { error, .. } => {
                    // The single run's worker read it; a search worker's failure is said, and
                    // the jobs that needed it are skipped with the engine's reason.
                    notice = Some(format!("a search worker could not read {error}"));
                    Ok(())
                }
                _ => Ok(()),
            };
            error = result.err();
        });
        if let Some(e) = error {
            web_sys::console::error_1(&format!("llmsim plan: {e}").into());
        }
        if notice.is_some() {
            self.notice.set(notice);
        }
        self.pump();
    }

    fn start(&self, app: AppState) {
        let base = self.base(app);
        let Ok((spec, json)) = self.form.with_untracked(|f| f.build(&base)) else { return };
        let mut uploads = Vec::new();
        for (flag, path) in files::uploaded_files(&spec) {
            match worker_client::uploaded_file(&path) {
                Some(file) => uploads.push((flag.to_string(), path, file)),
                None => {
                    self.notice
                        .set(Some(format!("{path} is not uploaded: choose it in the Single run form")));
                    return;
                }
            }
        }
        let size = workers_from_query().unwrap_or_else(|| workers::default_size(MAX_WORKERS));
        self.search.set(Some(SearchRun::new(spec, size, browser::now_ms())));
        self.sort.set(None);
        self.curve_metric.set(0);
        let this = *self;
        if let Err(e) = workers::start(size, uploads, move |w, m| this.on_reply(w, m)) {
            self.notice.set(Some(e));
            self.search.set(None);
            return;
        }
        self.notice.set(None);
        browser::replace_query(&link::to_query(&json));
        self.pump();
    }

    fn cancel(&self) {
        workers::stop();
        self.search.update(|s| {
            if let Some(s) = s {
                s.cancel(browser::now_ms());
            }
        });
    }

    /// Opens a shared plan link: its spec in the form, its base as the workload (and in the run
    /// form's fields, to see).
    fn open_link(&self, app: AppState, query: &str) {
        match link::from_query(query) {
            None => {}
            Some(Err(e)) => {
                self.planning.set(true);
                self.notice.set(Some(e));
            }
            Some(Ok(spec)) => match PlanForm::from_spec_json(&spec) {
                Some((form, base)) => {
                    for (flag, text) in &base {
                        app.set_field(flag, text);
                    }
                    self.form.set(form);
                    self.link_base.set(Some(base));
                    self.planning.set(true);
                }
                None => {
                    self.planning.set(true);
                    self.notice.set(Some("the link's search spec is not a JSON object".into()));
                }
            },
        }
    }
}

/// `?_workers=N` sets the pool's size (for measurements).
fn workers_from_query() -> Option<usize> {
    browser::query().split('&').find_map(|p| p.strip_prefix("_workers=")?.parse().ok()).filter(|n| *n >= 1)
}

/// The tabs (single run / plan capacity) and, when chosen, the plan view. Hides the single
/// run's layout through a class on `<body>`.
#[component]
pub fn PlanCapacity() -> impl IntoView {
    let app = expect_context::<AppState>();
    let plan = PlanState {
        planning: RwSignal::new(false),
        form: RwSignal::new(PlanForm::default()),
        link_base: RwSignal::new(None),
        search: RwSignal::new(None),
        notice: RwSignal::new(None),
        sort: RwSignal::new(None),
        curve_metric: RwSignal::new(0),
    };
    provide_context(plan);
    plan.open_link(app, &browser::query());
    Effect::new(move |_| {
        let planning = plan.planning.get();
        if let Some(body) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.body()) {
            let _ = body.class_list().toggle_with_force("planning", planning);
        }
    });
    view! {
        <nav class="modes" role="tablist">
            <button role="tab" data-testid="run-tab" aria-selected=move || (!plan.planning.get()).to_string()
                on:click=move |_| plan.planning.set(false)>"Single run"</button>
            <button role="tab" data-testid="plan-tab" aria-selected=move || plan.planning.get().to_string()
                on:click=move |_| plan.planning.set(true)>"Plan capacity"</button>
        </nav>
        <Show when=move || plan.planning.get()>
            <section class="plan" data-testid="plan-view">
                <PlanForm/>
                <PlanResults/>
            </section>
        </Show>
    }
}

/// The messages of `field`'s errors.
fn field_errors(errors: Memo<Vec<(Field, String)>>, field: Field, test_id: String) -> impl IntoView {
    move || {
        let messages: Vec<String> =
            errors.with(|e| e.iter().filter(|(f, _)| *f == field).map(|(_, m)| m.clone()).collect());
        (!messages.is_empty()).then(|| {
            view! { <p class="error" data-testid=test_id.clone()>{messages.join("; ")}</p> }
        })
    }
}

/// A text input bound to one of the form's texts.
fn text_input(
    plan: PlanState,
    test_id: &'static str,
    get: fn(&PlanForm) -> String,
    set: fn(&mut PlanForm, String),
) -> impl IntoView {
    view! {
        <input type="text" data-testid=test_id
            prop:value=move || plan.form.with(get)
            on:input=move |ev| plan.form.update(|f| set(f, event_target_value(&ev)))/>
    }
}

#[component]
fn PlanForm() -> impl IntoView {
    let app = expect_context::<AppState>();
    let plan = expect_context::<PlanState>();
    let errors = Memo::new(move |_| {
        let base = plan.base(app);
        match plan.form.with(|f| f.build(&base)) {
            Err(errors) => errors,
            Ok((spec, _)) => {
                app.uploads.with(|u| files::missing_uploads(&spec, &|path| u.is_available(path)))
            }
        }
    });
    let running = move || plan.search.with(|s| s.as_ref().is_some_and(|s| s.state() == RunState::Running));
    let count = Memo::new(move |_| {
        let base = plan.base(app);
        plan.form.with(|f| f.build(&base)).ok().map(|(s, _)| s.num_configurations())
    });
    let disaggregated = move || {
        plan.base(app).iter().any(|(k, v)| k == "disaggregation_config_type" && v == "prefill_decode")
    };
    let toggle = move |list: fn(&mut PlanForm) -> &mut Vec<String>, item: String, on: bool| {
        plan.form.update(|f| {
            let l = list(f);
            l.retain(|x| *x != item);
            if on {
                l.push(item);
            }
        })
    };
    view! {
        <div class="plan-form">
            <h2>"Plan capacity"</h2>
            <p class="help">
                "Finds, for every configuration of the space, the highest arrival rate that meets the objectives (or the fewest replicas, or the cheapest configuration, for a given rate), with Vidur-Search's doubling and bisection. The workload and every other setting are the Single run form's (synthetic requests with Poisson, gamma or uniform arrivals; lengths from a shipped trace or one uploaded there, whose lengths it then uses); the search sets the rate and the request count."
            </p>
            {move || plan.link_base.get().map(|base| view! {
                <p class="notice" data-testid="plan-link-base">
                    {format!("Workload and settings: the shared link's ({} flags). ", base.len())}
                    <button on:click=move |_| plan.link_base.set(None)>"Use the Single run form's instead"</button>
                </p>
            })}
            {field_errors(errors, Field::Base, "plan-error-base".into())}
            <fieldset>
                <legend>"Space"</legend>
                <div class="choices" data-testid="plan-nodes">
                    <span>"Devices (node)"</span>
                    {node_choices().into_iter().map(|(node, device)| {
                        let n = node.clone();
                        let n2 = node.clone();
                        view! {
                            <label>
                                <input type="checkbox" data-testid=format!("plan-node-{node}")
                                    prop:checked=move || plan.form.with(|f| f.nodes.contains(&n))
                                    on:change=move |ev| toggle(|f| &mut f.nodes, n2.clone(), event_target_checked(&ev))/>
                                {format!("{device} ({node})")}
                            </label>
                        }
                    }).collect_view()}
                </div>
                {field_errors(errors, Field::Nodes, "plan-error-nodes".into())}
                <label>"TP (comma-separated)" {text_input(plan, "plan-tp", |f| f.tp.clone(), |f, v| f.tp = v)}</label>
                {field_errors(errors, Field::Tp, "plan-error-tp".into())}
                <label>"PP stages" {text_input(plan, "plan-pp", |f| f.pp.clone(), |f, v| f.pp = v)}</label>
                {field_errors(errors, Field::Pp, "plan-error-pp".into())}
                <label>"Replicas (empty: searched by min_replicas / min_cost)"
                    {text_input(plan, "plan-replicas", |f| f.replicas.clone(), |f, v| f.replicas = v)}</label>
                {field_errors(errors, Field::Replicas, "plan-error-replicas".into())}
                <div class="choices" data-testid="plan-schedulers">
                    <span>"Replica schedulers (none: the run form's)"</span>
                    {scheduler_choices().into_iter().map(|s| {
                        let s2 = s.to_string();
                        view! {
                            <label>
                                <input type="checkbox" data-testid=format!("plan-scheduler-{s}")
                                    prop:checked=move || plan.form.with(|f| f.schedulers.iter().any(|x| x == s))
                                    on:change=move |ev| toggle(|f| &mut f.schedulers, s2.clone(), event_target_checked(&ev))/>
                                {s}
                            </label>
                        }
                    }).collect_view()}
                </div>
                <label>"Chunk sizes (schedulers with chunks)"
                    {text_input(plan, "plan-chunks", |f| f.chunk_sizes.clone(), |f, v| f.chunk_sizes = v)}</label>
                <label>"Batch size caps (each chosen scheduler × each chunk size × each cap)"
                    {text_input(plan, "plan-batch-caps", |f| f.batch_caps.clone(), |f, v| f.batch_caps = v)}</label>
                {field_errors(errors, Field::Schedulers, "plan-error-schedulers".into())}
            </fieldset>
            // A disaggregated run form: the decode pool's axes. With the replica counts above they
            // give the prefill:decode ratios; min_replicas and min_cost scale both pools together.
            <fieldset data-testid="plan-decode-pool" style:display=move || if disaggregated() { "" } else { "none" }>
                <legend>"Decode pool (disaggregated)"</legend>
                <label>"Decode replicas (with the replicas above: the prefill:decode ratios)"
                    {text_input(plan, "plan-decode-replicas", |f| f.decode_replicas.clone(), |f, v| f.decode_replicas = v)}</label>
                <label>"Decode TP"
                    {text_input(plan, "plan-decode-tp", |f| f.decode_tp.clone(), |f, v| f.decode_tp = v)}</label>
                <label>"Decode PP stages"
                    {text_input(plan, "plan-decode-pp", |f| f.decode_pp.clone(), |f, v| f.decode_pp = v)}</label>
                <label>"Decode attention DP ranks"
                    {text_input(plan, "plan-decode-dp", |f| f.decode_dp.clone(), |f, v| f.decode_dp = v)}</label>
                <label>"Decode EP (expert parallelism)"
                    {text_input(plan, "plan-decode-ep", |f| f.decode_ep.clone(), |f, v| f.decode_ep = v)}</label>
                {field_errors(errors, Field::DecodePool, "plan-error-decode-pool".into())}
            </fieldset>
            <fieldset>
                <legend>"Objectives (SLOs)"</legend>
                {move || (0..plan.form.with(|f| f.slos.len())).map(|i| view! {
                    <div class="slo-row">
                        <select data-testid=format!("plan-slo-metric-{i}")
                            prop:value=move || plan.form.with(|f| f.slos.get(i).map(|r| r.metric.clone()).unwrap_or_default())
                            on:change=move |ev| plan.form.update(|f| if let Some(r) = f.slos.get_mut(i) { r.metric = event_target_value(&ev) })>
                            {metric_names().into_iter().map(|m| view! { <option value=m>{m}</option> }).collect_view()}
                        </select>
                        <label>"quantile"
                            <input type="text" data-testid=format!("plan-slo-quantile-{i}")
                                prop:value=move || plan.form.with(|f| f.slos.get(i).map(|r| r.quantile.clone()).unwrap_or_default())
                                on:input=move |ev| plan.form.update(|f| if let Some(r) = f.slos.get_mut(i) { r.quantile = event_target_value(&ev) })/>
                        </label>
                        <label>"≤ s"
                            <input type="text" data-testid=format!("plan-slo-max-{i}")
                                prop:value=move || plan.form.with(|f| f.slos.get(i).map(|r| r.max_s.clone()).unwrap_or_default())
                                on:input=move |ev| plan.form.update(|f| if let Some(r) = f.slos.get_mut(i) { r.max_s = event_target_value(&ev) })/>
                        </label>
                        <button data-testid=format!("plan-slo-remove-{i}")
                            on:click=move |_| plan.form.update(|f| { if i < f.slos.len() { f.slos.remove(i); } })>"Remove"</button>
                        {field_errors(errors, Field::Slo(i), format!("plan-error-slo-{i}"))}
                    </div>
                }).collect_view()}
                <button data-testid="plan-slo-add" on:click=move |_| plan.form.update(|f| f.slos.push(SloRow {
                    metric: "e2e".into(), quantile: "0.9".into(), max_s: "10".into(),
                }))>"Add an objective"</button>
                <label>"Combine"
                    <select data-testid="plan-combine" prop:value=move || plan.form.with(|f| f.slo_combine.clone())
                        on:change=move |ev| plan.form.update(|f| f.slo_combine = event_target_value(&ev))>
                        <option value="and">"and: a request meets all"</option>
                        <option value="or">"or: a request meets any"</option>
                    </select>
                </label>
                {field_errors(errors, Field::SloCombine, "plan-error-combine".into())}
            </fieldset>
            <fieldset>
                <legend>"Goal"</legend>
                <select data-testid="plan-goal" prop:value=move || plan.form.with(|f| f.goal.clone())
                    on:change=move |ev| plan.form.update(|f| f.goal = event_target_value(&ev))>
                    <option value="max_qps">"max_qps: the highest QPS of each configuration"</option>
                    <option value="min_replicas">"min_replicas: the fewest replicas for the QPS"</option>
                    <option value="min_cost">"min_cost: the cheapest configuration for the QPS"</option>
                </select>
                {field_errors(errors, Field::Goal, "plan-error-goal".into())}
                <label>"QPS (to serve; where max_qps starts)" {text_input(plan, "plan-qps", |f| f.qps.clone(), |f, v| f.qps = v)}</label>
                {field_errors(errors, Field::Qps, "plan-error-qps".into())}
                <label>"Requests per point" {text_input(plan, "plan-num-requests", |f| f.num_requests.clone(), |f, v| f.num_requests = v)}</label>
                {field_errors(errors, Field::NumRequests, "plan-error-num-requests".into())}
                <label>"QPS granularity" {text_input(plan, "plan-granularity", |f| f.qps_granularity.clone(), |f, v| f.qps_granularity = v)}</label>
                {field_errors(errors, Field::QpsGranularity, "plan-error-granularity".into())}
                {field_errors(errors, Field::Other, "plan-error-other".into())}
            </fieldset>
            <div class="buttons">
                <button class="primary" data-testid="plan-start"
                    disabled=move || running() || !errors.with(Vec::is_empty)
                    on:click=move |_| plan.start(app)>
                    {move || match count.get() {
                        Some(n) => format!("Search {n} configurations"),
                        None => "Search".to_string(),
                    }}
                </button>
                <button data-testid="plan-cancel" disabled=move || !running() on:click=move |_| plan.cancel()>"Cancel"</button>
            </div>
            {move || plan.notice.get().map(|n| view! { <p class="error" data-testid="plan-notice">{n}</p> })}
        </div>
    }
}

#[component]
fn PlanResults() -> impl IntoView {
    let app = expect_context::<AppState>();
    let plan = expect_context::<PlanState>();
    let status = move || plan.search.with(|s| s.as_ref().map(SearchRun::status_line));
    let state = move || plan.search.with(|s| s.as_ref().map(SearchRun::state));
    let headers = Memo::new(move |_| {
        plan.search.with(|s| {
            s.as_ref().map_or_else(Vec::new, |s| {
                table::columns(s.plan()).into_iter().map(|c| table::header(s.plan(), c)).collect::<Vec<_>>()
            })
        })
    });
    let rows = Memo::new(move |_| {
        let mut rows = plan.search.with(|s| s.as_ref().map_or_else(Vec::new, |s| table::rows(s.plan())));
        if let Some((column, descending)) = plan.sort.get() {
            table::sort(&mut rows, column, descending);
        }
        rows
    });
    let open = move |configuration: u32, qps: f64, replicas: Option<u32>| {
        let pairs = plan
            .search
            .with_untracked(|s| s.as_ref().map(|s| table::run_pairs(s.plan(), configuration, qps, replicas)));
        if let Some(pairs) = pairs {
            let query = SharedRun { pairs, files: Vec::new(), texts: Vec::new() }.to_query();
            plan.planning.set(false);
            browser::replace_query(&query);
            app.open_link(&query);
            // A link runs once the worker says it is ready; this one already has, so say it
            // again: the page's state machine then starts the run exactly as for a shared link
            // (and clears its pending autorun). A worker still starting says it itself.
            if app.worker_ready.get_untracked() {
                app.on_reply(crate::worker_client::Reply { message: FromWorker::Ready, files: Vec::new() });
            }
        }
    };
    let download = move || {
        if let Some(csv) =
            plan.search.with_untracked(|s| s.as_ref().map(|s| llmsim_engine::search::search_csv(s.plan())))
        {
            browser::download("search.csv", &csv);
        }
    };
    let link = move || {
        let base = plan.base(app);
        let spec: Value = plan.form.with(|f| f.to_spec_json(&base));
        format!("{}?{}", browser::page_url(), link::to_query(&spec))
    };
    let canvas = NodeRef::<Canvas>::new();
    let points = Memo::new(move |_| {
        plan.search.with(|s| s.as_ref().map_or_else(Vec::new, |s| pareto::points(s.plan())))
    });
    Effect::new(move |_| {
        let points = points.get();
        if let Some(canvas) = canvas.get() {
            draw_pareto(&canvas, &points);
        }
    });
    let curves_canvas = NodeRef::<Canvas>::new();
    let metrics = Memo::new(move |_| {
        plan.search.with(|s| s.as_ref().map_or_else(Vec::new, |s| curves::metrics(s.plan())))
    });
    let metric = Memo::new(move |_| {
        let i = plan.curve_metric.get();
        metrics.with(|m| m.get(i).or(m.first()).cloned())
    });
    let curve_data = Memo::new(move |_| {
        let source = metric.with(|m| m.as_ref().map(|m| m.source));
        plan.search.with(|s| match (s, source) {
            (Some(s), Some(source)) => (curves::curves(s.plan(), source), curves::x_label(s.plan())),
            _ => (Vec::new(), "arrival rate (QPS)"),
        })
    });
    Effect::new(move |_| {
        let (data, x_label) = curve_data.get();
        if let (Some(canvas), Some(metric)) = (curves_canvas.get(), metric.get()) {
            draw_curves(&canvas, &metric, x_label, &data);
        }
    });
    view! {
        <div class="plan-results" style:display=move || if state().is_some() { "" } else { "none" }>
            <p class="status" data-testid="plan-status" data-state=move || format!("{:?}", state()).to_ascii_lowercase()>{status}</p>
            <progress data-testid="plan-progress"
                max=move || plan.search.with(|s| s.as_ref().map_or(1, |s| s.plan().progress().1.max(1)))
                value=move || plan.search.with(|s| s.as_ref().map_or(0, |s| s.plan().progress().0))></progress>
            <div class="buttons">
                <button data-testid="plan-csv" on:click=move |_| download()>"Download search.csv"</button>
                <a data-testid="plan-link" href=link>"Share link of this search"</a>
            </div>
            <table class="plan-table" data-testid="plan-table">
                <thead><tr>
                    {move || headers.get().into_iter().enumerate().map(|(i, h)| view! {
                        <th on:click=move |_| plan.sort.update(|s| {
                            *s = Some(match *s { Some((c, d)) if c == i => (i, !d), _ => (i, true) })
                        })>{h}</th>
                    }).collect_view()}
                    <th></th>
                </tr></thead>
                <tbody>
                    {move || rows.get().into_iter().map(|row| {
                        let c = row.configuration;
                        let chosen = row.chosen;
                        view! {
                            <tr data-testid=format!("plan-row-{c}") class:feasible=row.feasible class:best=row.best>
                                {row.cells.into_iter().map(|cell| view! { <td>{cell.text}</td> }).collect_view()}
                                <td>{chosen.map(|(qps, replicas)| view! {
                                    <button data-testid=format!("plan-open-{c}") on:click=move |_| open(c, qps, replicas)>"Open as run"</button>
                                })}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            <div class="plan-charts">
                <canvas node_ref=canvas data-testid="plan-pareto" role="img"
                    data-points=move || points.with(Vec::len).to_string()
                    aria-label="Cost per million output tokens against TTFT p90 of the feasible configurations"></canvas>
                <div class="plan-curves">
                    <label>"Latency vs load: "
                        <select data-testid="plan-curve-metric"
                            prop:value=move || plan.curve_metric.get().to_string()
                            on:change=move |ev| plan.curve_metric.set(event_target_value(&ev).parse().unwrap_or(0))>
                            {move || metrics.get().into_iter().enumerate().map(|(i, m)| {
                                let text = match m.bound_s {
                                    Some(b) => format!("{} (SLO ≤ {b} s)", m.label),
                                    None => m.label.clone(),
                                };
                                view! { <option value=i.to_string()>{text}</option> }
                            }).collect_view()}
                        </select>
                    </label>
                    <canvas node_ref=curves_canvas data-testid="plan-curves" role="img"
                        data-curves=move || curve_data.with(|(c, _)| c.len()).to_string()
                        data-points=move || curve_data.with(|(c, _)| c.iter().map(|c| c.points.len()).sum::<usize>()).to_string()
                        data-bound=move || metric.with(|m| m.as_ref().and_then(|m| m.bound_s).map(|b| b.to_string()).unwrap_or_default())
                        aria-label=move || metric.with(|m| m.as_ref().map(|m| format!("{} of every simulated point of each configuration against its load, with the objective's bound", m.label)).unwrap_or_default())></canvas>
                </div>
            </div>
        </div>
    }
}

fn draw_curves(
    canvas: &web_sys::HtmlCanvasElement,
    metric: &curves::Metric,
    x_label: &str,
    data: &[curves::Curve],
) {
    use plotters::prelude::IntoDrawingArea;
    canvas.set_width(640);
    canvas.set_height(360);
    let Some(backend) = plotters_canvas::CanvasBackend::with_canvas_object(canvas.clone().unchecked_into())
    else {
        return;
    };
    if let Err(e) = curves::draw(&backend.into_drawing_area(), 13, metric, x_label, data) {
        web_sys::console::warn_1(&format!("llmsim plan chart: {e}").into());
    }
}

fn draw_pareto(canvas: &web_sys::HtmlCanvasElement, points: &[pareto::ParetoPoint]) {
    use plotters::prelude::IntoDrawingArea;
    canvas.set_width(640);
    canvas.set_height(360);
    let Some(backend) = plotters_canvas::CanvasBackend::with_canvas_object(canvas.clone().unchecked_into())
    else {
        return;
    };
    if let Err(e) = pareto::draw(&backend.into_drawing_area(), 13, points) {
        web_sys::console::warn_1(&format!("llmsim plan chart: {e}").into());
    }
}
