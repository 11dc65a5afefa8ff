//! Runs: the Run button's state machine, the session's finished runs, and what the results
//! show.
//!
//! ```text
//!            start_run                       RunFinished (single run, or B)
//!   Idle ───────────────▶ Running(run n) ─────────────────────────────────▶ Idle
//!     ▲                    │   │  RunFinished (A of an A/B pair)
//!     │                    │   └──────────────▶ Running(run n+1, B of the pair)
//!     └────────────────────┘
//!      RunFailed (refused), Cancel: number n is given to the next run
//!      Crashed: the worker is gone
//! ```
//!
//! Runs are numbered 1, 2, ... in the runs table; a refused or cancelled run leaves no record,
//! so its number goes to the next run and the table has no gaps. What goes to the worker is a
//! request with an id that is never reused, so a late reply about a cancelled run is never
//! taken for the next one. The results show one run ([`View::Run`], the one just finished) or,
//! when the user asks for it (or ran an A/B pair), two runs compared ([`View::Compare`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use llmsim_protocol::{FieldError, RunProgress, RunResult, SkippedFile};

use super::{Effect, Page, storage};
use crate::compare;
use crate::presets;
use crate::share::SharedRun;

/// Run B of an A/B pair, waiting for run A to finish.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingRun {
    /// B's configuration: the form's when Run was pressed, with the variant's overrides.
    pub config: serde_json::Value,
    /// B's share link.
    pub share_query: String,
    /// B's label for the runs list.
    pub label: String,
}

/// Which run of an A/B pair a run is.
#[derive(Clone, Debug, PartialEq)]
pub enum PairPart {
    /// Run A (the form); B starts when it finishes.
    A {
        /// Run B.
        b: Box<PendingRun>,
    },
    /// Run B; when it finishes, the results compare it with run `a`.
    B {
        /// Run A's id.
        a: u32,
    },
}

/// What the Run button has started.
#[derive(Clone, Debug, PartialEq)]
pub enum RunStatus {
    /// Nothing running.
    Idle,
    /// A run is in the worker.
    Running {
        /// Its number in the runs table.
        run_id: u32,
        /// The id of its request to the worker (never reused).
        request: u32,
        /// Page clock when it was sent to the worker, ms.
        started_ms: f64,
        /// The latest progress.
        progress: Option<RunProgress>,
        /// The share link of the configuration it runs.
        share_query: String,
        /// Its label for the runs list.
        label: String,
        /// Its part in an A/B pair; `None` for a single run.
        pair: Option<PairPart>,
    },
}

impl RunStatus {
    /// Whether a run is in the worker.
    pub fn is_running(&self) -> bool {
        matches!(self, RunStatus::Running { .. })
    }
}

/// How the last Run ended, for the status line.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Run `run_id` finished.
    Finished {
        /// The run.
        run_id: u32,
    },
    /// The configuration was refused; `fields` errors name a field.
    Refused {
        /// Errors in all.
        errors: usize,
    },
    /// The user cancelled it.
    Cancelled,
    /// The worker stopped.
    Crashed,
}

/// What the results show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// Nothing yet.
    Nothing,
    /// One run: its summary, charts, downloads and share link.
    Run(u32),
    /// Two runs compared: their settings and metrics side by side, the charts overlaid.
    Compare {
        /// Run A.
        a: u32,
        /// Run B.
        b: u32,
    },
}

/// A finished run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRecord {
    /// Run id (1, 2, ...).
    pub id: u32,
    /// Short description for the runs list, unique among the runs.
    pub label: String,
    /// What the worker sent.
    pub result: RunResult,
    /// `summary.json`, parsed.
    pub summary: serde_json::Value,
    /// The share link's query string.
    pub share_query: String,
    /// Page clock from Run to the result, ms.
    pub wall_ms: f64,
    /// GPUs in the cluster (replicas × TP × PP).
    pub gpus: u64,
    /// Restored from the browser's storage (its bigger downloads were not kept).
    pub restored: bool,
}

impl RunRecord {
    /// A record of a run the worker finished.
    pub fn new(id: u32, label: String, result: RunResult, share_query: String, wall_ms: f64) -> RunRecord {
        let summary = serde_json::from_str(&result.summary_json).unwrap_or_default();
        // The report counts both pools of a disaggregated cluster; the link only the first.
        let gpus = crate::summary::value(&summary, &["cost", "num_gpus"])
            .filter(|n| *n >= 1.0)
            .map_or_else(|| gpus_of(&share_query), |n| n as u64);
        RunRecord { id, label, result, summary, share_query, wall_ms, gpus, restored: false }
    }
}

/// GPUs of the cluster a share link describes: replicas × TP × attention DP × PP (a fallback
/// for a summary without a cost: a disaggregated link's decode pool is not counted).
fn gpus_of(share_query: &str) -> u64 {
    let pairs = SharedRun::from_query(share_query).pairs;
    let config = llmsim_engine::Config::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .unwrap_or_default();
    let int = |flag: &str| match config.get(flag) {
        llmsim_engine::FlagValue::Int(n) => n.max(1) as u64,
        _ => 1,
    };
    int("cluster_config_num_replicas")
        * int("replica_config_tensor_parallel_size")
        * int("replica_config_attention_dp_size")
        * int("replica_config_num_pipeline_stages")
}

/// A run's downloads, once the worker has rendered them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunDownloads {
    /// `(file name, text)`.
    pub files: Vec<(String, String)>,
    /// Files not rendered, and why.
    pub skipped: Vec<SkippedFile>,
}

/// The Run button's state, the finished runs and what the results show.
#[derive(Clone, Debug, PartialEq)]
pub struct Runs {
    status: RunStatus,
    /// The number the next run gets.
    next_id: u32,
    /// The id of the last request sent to the worker.
    last_request: u32,
    /// Finished runs, oldest first.
    records: Vec<Arc<RunRecord>>,
    /// Their downloads by run id, once the worker has rendered them (after the result).
    downloads: BTreeMap<u32, Arc<RunDownloads>>,
    /// The run each finished request made (its downloads follow the result).
    finished_requests: BTreeMap<u32, u32>,
    /// What the results show.
    view: View,
    /// The runs picked as A and B in the runs table.
    picks: (Option<u32>, Option<u32>),
    /// How the last Run ended.
    outcome: Option<Outcome>,
}

impl Default for Runs {
    fn default() -> Runs {
        Runs {
            status: RunStatus::Idle,
            next_id: 1,
            last_request: 0,
            records: Vec::new(),
            downloads: BTreeMap::new(),
            finished_requests: BTreeMap::new(),
            view: View::Nothing,
            picks: (None, None),
            outcome: None,
        }
    }
}

impl Runs {
    /// What is running.
    pub fn status(&self) -> &RunStatus {
        &self.status
    }

    /// Finished runs, oldest first.
    pub fn records(&self) -> &[Arc<RunRecord>] {
        &self.records
    }

    /// The record of run `id`.
    pub fn record(&self, id: u32) -> Option<&Arc<RunRecord>> {
        self.records.iter().find(|r| r.id == id)
    }

    /// The downloads of each finished run whose files have arrived.
    pub fn downloads(&self) -> &BTreeMap<u32, Arc<RunDownloads>> {
        &self.downloads
    }

    /// What the results show.
    pub fn view(&self) -> View {
        self.view
    }

    /// The runs picked as A and B.
    pub fn picks(&self) -> (Option<u32>, Option<u32>) {
        self.picks
    }

    /// How the last Run ended.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// The two picked runs, when they are two different finished runs (they can be compared).
    pub fn picked_pair(&self) -> Option<(u32, u32)> {
        match self.picks {
            (Some(a), Some(b)) if a != b && self.record(a).is_some() && self.record(b).is_some() => {
                Some((a, b))
            }
            _ => None,
        }
    }

    /// Numbers a run, marks it running and asks for it to be sent to the worker.
    fn start(
        &mut self,
        config: serde_json::Value,
        share_query: String,
        label: String,
        pair: Option<PairPart>,
        now_ms: f64,
    ) -> Effect {
        let run_id = self.next_id;
        self.next_id += 1;
        self.last_request += 1;
        let request = self.last_request;
        self.status = RunStatus::Running {
            run_id,
            request,
            started_ms: now_ms,
            progress: None,
            share_query,
            label,
            pair,
        };
        Effect::Run { request, config }
    }

    /// Whether request `request` is the one running (replies about another are stale).
    fn running(&self, request: u32) -> bool {
        matches!(self.status, RunStatus::Running { request: current, .. } if current == request)
    }

    /// Ends the running run without a record: its number goes to the next run. Returns what
    /// was running.
    fn drop_running(&mut self) -> RunStatus {
        let status = std::mem::replace(&mut self.status, RunStatus::Idle);
        if let RunStatus::Running { run_id, .. } = status {
            self.next_id = run_id;
        }
        status
    }

    /// The worker stopped: nothing runs any more.
    pub(super) fn stop(&mut self, outcome: Outcome) {
        if self.status.is_running() {
            self.drop_running();
            self.outcome = Some(outcome);
        }
    }

    /// Records the progress of the running run.
    pub(super) fn progress(&mut self, request: u32, progress: RunProgress) {
        if let RunStatus::Running { request: current, progress: p, .. } = &mut self.status
            && *current == request
        {
            *p = Some(progress);
        }
    }

    /// Records a finished run and shows it; starts B when it was A of a pair. Replies about a
    /// run that is no longer running (cancelled) are ignored.
    fn finish(&mut self, request: u32, result: RunResult, now_ms: f64) -> Vec<Effect> {
        if !self.running(request) {
            return Vec::new();
        }
        let RunStatus::Running { run_id, started_ms, share_query, label, pair, .. } =
            std::mem::replace(&mut self.status, RunStatus::Idle)
        else {
            return Vec::new();
        };
        let label = self.unique_label(label, &share_query);
        let record = RunRecord::new(run_id, label, result, share_query.clone(), now_ms - started_ms);
        self.records.push(Arc::new(record));
        self.outcome = Some(Outcome::Finished { run_id });
        self.view = View::Run(run_id);
        let store = self.store();
        match pair {
            None => vec![Effect::ReplaceQuery(share_query), store],
            Some(PairPart::A { b }) => {
                // The address bar holds the form's link, which is A's.
                let PendingRun { config, share_query: b_query, label } = *b;
                let run_b = self.start(config, b_query, label, Some(PairPart::B { a: run_id }), now_ms);
                vec![Effect::ReplaceQuery(share_query), store, run_b]
            }
            Some(PairPart::B { a }) => {
                // The pair was asked for as a comparison.
                self.picks = (Some(a), Some(run_id));
                self.view = View::Compare { a, b: run_id };
                vec![store]
            }
        }
    }

    /// `label`, or, when another run has it, `label` with the setting this run differs in
    /// (`… · network_device=h100_pairwise_nvlink`), so that no two runs read alike.
    fn unique_label(&self, label: String, share_query: &str) -> String {
        // The latest run labelled alike (its label may carry a difference of its own).
        let alike = |r: &&Arc<RunRecord>| r.label == label || r.label.starts_with(&format!("{label} · "));
        let Some(twin) = self.records.iter().rev().find(alike) else { return label };
        let pairs = |query: &str| SharedRun::from_query(query).pairs;
        let diff = compare::settings_diff(&pairs(&twin.share_query), &pairs(share_query));
        let mut label = match diff.first() {
            Some(d) => format!("{label} · {}={}", short_flag(d.flag), d.b),
            None => format!("{label} · again"),
        };
        while self.records.iter().any(|r| r.label == label) {
            label.push('′');
        }
        label
    }

    /// Keeps the downloads of the run request `request` finished.
    pub(super) fn add_downloads(&mut self, request: u32, downloads: RunDownloads) {
        if let Some(&id) = self.finished_requests.get(&request)
            && self.record(id).is_some()
        {
            self.downloads.insert(id, Arc::new(downloads));
        }
    }

    /// The effect that keeps the finished runs in the browser's storage.
    fn store(&self) -> Effect {
        Effect::StoreRuns(storage::encode(&self.records))
    }

    /// After runs are deleted, the address bar holds the link of the run shown, or none: a
    /// reload opens that link, and a deleted run's link would run it again.
    fn address_after_delete(&self) -> Effect {
        let shown = match self.view {
            View::Run(id) | View::Compare { a: id, .. } => self.record(id).map(|r| r.share_query.clone()),
            View::Nothing => None,
        };
        Effect::ReplaceQuery(shown.unwrap_or_default())
    }
}

/// A flag's name without its `…_config_` prefix, for labels.
fn short_flag(flag: &str) -> &str {
    flag.split_once("_config_").map_or(flag, |(_, tail)| tail)
}

impl Page {
    /// Shows run `id`'s results.
    pub fn show_run(&mut self, id: u32) {
        if self.runs.record(id).is_some() {
            self.runs.view = View::Run(id);
        }
    }

    /// Picks run `id` as A of the comparison.
    pub fn pick_a(&mut self, id: u32) {
        self.runs.picks.0 = Some(id);
    }

    /// Picks run `id` as B of the comparison.
    pub fn pick_b(&mut self, id: u32) {
        self.runs.picks.1 = Some(id);
    }

    /// Shows the picked runs compared, when two different runs are picked.
    pub fn compare_picked(&mut self) {
        if let Some((a, b)) = self.runs.picked_pair() {
            self.runs.view = View::Compare { a, b };
        }
    }

    /// Deletes run `id` from the session and the browser's storage.
    pub fn delete_run(&mut self, id: u32) -> Vec<Effect> {
        self.runs.records.retain(|r| r.id != id);
        self.runs.downloads.remove(&id);
        let runs = &mut self.runs;
        if runs.picks.0 == Some(id) {
            runs.picks.0 = None;
        }
        if runs.picks.1 == Some(id) {
            runs.picks.1 = None;
        }
        let gone = |v: u32| runs.records.iter().all(|r| r.id != v);
        runs.view = match runs.view {
            View::Run(v) if gone(v) => runs.records.last().map_or(View::Nothing, |r| View::Run(r.id)),
            View::Compare { a, b } if gone(a) || gone(b) => {
                runs.records.last().map_or(View::Nothing, |r| View::Run(r.id))
            }
            view => view,
        };
        vec![self.runs.store(), self.runs.address_after_delete()]
    }

    /// Deletes every finished run, here and in the browser's storage. Numbering starts again.
    pub fn delete_all_runs(&mut self) -> Vec<Effect> {
        let runs = &mut self.runs;
        runs.records.clear();
        runs.downloads.clear();
        runs.picks = (None, None);
        runs.view = View::Nothing;
        if !runs.status.is_running() {
            runs.next_id = 1;
        }
        vec![Effect::StoreRuns(String::new()), runs.address_after_delete()]
    }

    /// Puts back the runs kept in the browser's storage (`text`, as [`Effect::StoreRuns`]
    /// wrote it) before this session's, showing the latest. A text of another schema, or
    /// unreadable, is dropped (the returned effect clears it) with a notice.
    pub fn restore_runs(&mut self, text: &str) -> Vec<Effect> {
        if text.is_empty() || !self.runs.records.is_empty() {
            return Vec::new();
        }
        match storage::decode(text) {
            Ok(records) => {
                let runs = &mut self.runs;
                runs.next_id = records.iter().map(|r| r.id + 1).max().unwrap_or(1).max(runs.next_id);
                runs.records = records.into_iter().map(Arc::new).collect();
                if runs.view == View::Nothing
                    && let Some(last) = runs.records.last()
                {
                    runs.view = View::Run(last.id);
                }
                Vec::new()
            }
            Err(why) => {
                self.notice = Some(format!(
                    "The runs kept from an earlier visit could not be read ({why}); they were dropped."
                ));
                vec![Effect::StoreRuns(String::new())]
            }
        }
    }

    /// Starts a run of the form, and after it the variant's run when one is armed: the pair then
    /// shows compared. Ignored while a run is in progress. A form with fields whose text is
    /// not a value (a word in a number field) is refused here, at those fields: a run never
    /// silently drops a field.
    pub fn start_run(&mut self, now_ms: f64) -> Vec<Effect> {
        if self.runs.status.is_running() {
            return Vec::new();
        }
        self.run_errors.clear();
        self.notice = None;
        let (_, errors) = self.form.parse();
        if !errors.is_empty() {
            self.runs.outcome = Some(Outcome::Refused { errors: errors.len() });
            self.run_errors = errors;
            return Vec::new();
        }
        let form = self.form.clone();
        let (share_query, label) = (self.share_query_of(&form), self.run_label());
        let Some(variant) = self.armed_variant() else {
            return vec![self.runs.start(form.to_json(), share_query, label, None, now_ms)];
        };
        // B is fixed now, so edits made while A runs do not change what B runs.
        let b_form = compare::variant_form(&form, &variant);
        let diff = compare::settings_diff(&form.active_pairs(), &b_form.active_pairs());
        let (a_label, b_label) = compare::pair_labels(&label, &diff);
        let b = PendingRun {
            config: b_form.to_json(),
            share_query: self.share_query_of(&b_form),
            label: b_label,
        };
        let pair = Some(PairPart::A { b: Box::new(b) });
        vec![self.runs.start(form.to_json(), share_query, a_label, pair, now_ms)]
    }

    /// Stops the run (and the rest of its A/B pair). The worker keeps its files.
    pub fn cancel_run(&mut self) -> Vec<Effect> {
        let RunStatus::Running { request, .. } = self.runs.status else { return Vec::new() };
        // The cancelled run's number goes to the next run: the table numbers finished runs
        // without gaps (a late reply about it carries its request id, never used again).
        self.runs.drop_running();
        self.runs.outcome = Some(Outcome::Cancelled);
        self.notice = Some("Run cancelled.".into());
        vec![Effect::CancelRun { request }]
    }

    /// Runs a share link once the worker is ready and every file it needs is in.
    pub(super) fn try_autorun(&mut self, now_ms: f64) -> Vec<Effect> {
        if !self.autorun || !self.worker_ready {
            return Vec::new();
        }
        if self.form.required_files().iter().all(|(_, path)| self.uploads.is_available(path)) {
            self.autorun = false;
            return self.start_run(now_ms);
        }
        Vec::new()
    }

    /// A run finished: recorded and shown (and B started after A).
    pub(super) fn on_run_finished(&mut self, request: u32, result: RunResult, now_ms: f64) -> Vec<Effect> {
        let run_id = match self.runs.status {
            RunStatus::Running { run_id, request: current, .. } if current == request => run_id,
            _ => return Vec::new(),
        };
        self.runs.finished_requests.insert(request, run_id);
        self.runs.finish(request, result, now_ms)
    }

    /// The worker refused the running run's configuration: it leaves no record. A's errors
    /// mark the form's fields; B's go to the page's notice, since the form shows A's settings.
    pub(super) fn on_run_refused(&mut self, request: u32, errors: Vec<FieldError>) {
        if !self.runs.running(request) {
            return;
        }
        let RunStatus::Running { label, pair, .. } = self.runs.drop_running() else { return };
        self.runs.outcome = Some(Outcome::Refused { errors: errors.len() });
        if matches!(pair, Some(PairPart::B { .. })) {
            let errors: Vec<String> = errors
                .iter()
                .map(|e| if e.flag.is_empty() { e.to_string() } else { format!("--{}: {e}", e.flag) })
                .collect();
            self.notice = Some(format!("Run B ({label}) was refused: {}", errors.join("; ")));
        } else {
            self.run_errors = errors;
        }
    }

    /// Whether the form is still the configuration of run `id` (its results describe the form).
    pub fn form_is_run(&self, id: u32) -> bool {
        self.runs.record(id).is_some_and(|r| r.share_query == self.share_query())
    }

    /// A run's label in the runs list: the preset (or "custom") and the cluster's shape.
    pub fn run_label(&self) -> String {
        let preset =
            presets::matching(&self.form).map(|p| p.name.split(':').next().unwrap_or(p.name).to_string());
        let form = &self.form;
        let text = |name: &str| llmsim_engine::find_flag(name).map(|d| form.text(d)).unwrap_or_default();
        // A custom config.json names the model unless the name field was set (as the engine does).
        let config_file = text("replica_config_model_config_file");
        let model = if !config_file.is_empty() && !form.parse().0.is_set("replica_config_model_name") {
            config_file
        } else {
            text("replica_config_model_name")
        };
        let shape = format!(
            "{} × {} {} TP{} PP{}, {}",
            text("cluster_config_num_replicas"),
            model.rsplit('/').next().unwrap_or_default().trim_end_matches(".json"),
            text("replica_config_device"),
            text("replica_config_tensor_parallel_size"),
            text("replica_config_num_pipeline_stages"),
            text("request_generator_config_type"),
        );
        match preset {
            Some(p) => format!("{p}: {shape}"),
            None => format!("custom: {shape}"),
        }
    }
}
