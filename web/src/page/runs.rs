//! Runs: the Run button's state machine and the session's finished runs.
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
//! so its number goes to the next run and the table has no gaps. A finished run is shown at
//! once; a single run is compared with the run before it, B of a pair with its A.

use std::collections::BTreeMap;
use std::sync::Arc;

use llmsim_protocol::{FieldError, RunProgress, RunResult, SkippedFile};

use super::{Effect, Page};
use crate::compare;
use crate::presets;

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
    /// Run B; when it finishes, the A/B view compares it with run `a`.
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
        /// Its id.
        run_id: u32,
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

/// A finished run of this session.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRecord {
    /// Run id (1, 2, ...).
    pub id: u32,
    /// Short description for the runs list.
    pub label: String,
    /// What the worker sent.
    pub result: RunResult,
    /// `summary.json`, parsed.
    pub summary: serde_json::Value,
    /// The share link's query string.
    pub share_query: String,
    /// Page clock from Run to the result, ms.
    pub wall_ms: f64,
}

/// A run's downloads, once the worker has rendered them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunDownloads {
    /// `(file name, text)`.
    pub files: Vec<(String, String)>,
    /// Files not rendered, and why.
    pub skipped: Vec<SkippedFile>,
}

/// The Run button's state and the session's finished runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Runs {
    status: RunStatus,
    /// The number the next run gets.
    next_id: u32,
    /// Finished runs, oldest first.
    records: Vec<Arc<RunRecord>>,
    /// Their downloads by run id, once the worker has rendered them (after the result).
    downloads: BTreeMap<u32, Arc<RunDownloads>>,
    /// The run whose results are shown.
    shown: Option<u32>,
    /// A/B: the two runs compared.
    compare: (Option<u32>, Option<u32>),
}

impl Default for Runs {
    fn default() -> Runs {
        Runs {
            status: RunStatus::Idle,
            next_id: 1,
            records: Vec::new(),
            downloads: BTreeMap::new(),
            shown: None,
            compare: (None, None),
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

    /// The run shown.
    pub fn shown(&self) -> Option<u32> {
        self.shown
    }

    /// The runs picked as A and B.
    pub fn compare(&self) -> (Option<u32>, Option<u32>) {
        self.compare
    }

    /// The runs compared, when two different finished ones are picked.
    pub fn compared(&self) -> Option<(&Arc<RunRecord>, &Arc<RunRecord>)> {
        let (a, b) = self.compare;
        match (a.and_then(|id| self.record(id)), b.and_then(|id| self.record(id))) {
            (Some(a), Some(b)) if a.id != b.id => Some((a, b)),
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
        self.status =
            RunStatus::Running { run_id, started_ms: now_ms, progress: None, share_query, label, pair };
        Effect::Run { run_id, config }
    }

    /// The running run, if it is `run_id` (replies about another run are stale).
    fn running(&self, run_id: u32) -> bool {
        matches!(self.status, RunStatus::Running { run_id: current, .. } if current == run_id)
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
    pub(super) fn stop(&mut self) {
        self.status = RunStatus::Idle;
    }

    /// Records the progress of the running run.
    pub(super) fn progress(&mut self, run_id: u32, progress: RunProgress) {
        if let RunStatus::Running { run_id: current, progress: p, .. } = &mut self.status
            && *current == run_id
        {
            *p = Some(progress);
        }
    }

    /// Records a finished run and shows it; starts B when it was A of a pair. Replies about a
    /// run that is no longer running (cancelled) are ignored.
    pub(super) fn finish(&mut self, run_id: u32, result: RunResult, now_ms: f64) -> Vec<Effect> {
        if !self.running(run_id) {
            return Vec::new();
        }
        let RunStatus::Running { started_ms, share_query, label, pair, .. } =
            std::mem::replace(&mut self.status, RunStatus::Idle)
        else {
            return Vec::new();
        };
        let summary = serde_json::from_str(&result.summary_json).unwrap_or_default();
        let record = RunRecord {
            id: run_id,
            label,
            result,
            summary,
            share_query: share_query.clone(),
            wall_ms: now_ms - started_ms,
        };
        self.records.push(Arc::new(record));
        self.shown = Some(run_id);
        match pair {
            None => {
                // The two latest runs are compared until the user picks others.
                self.compare = (self.compare.1.or(self.compare.0), Some(run_id));
                vec![Effect::ReplaceQuery(share_query)]
            }
            Some(PairPart::A { b }) => {
                // The address bar holds the form's link, which is A's.
                let PendingRun { config, share_query: b_query, label } = *b;
                let run_b = self.start(config, b_query, label, Some(PairPart::B { a: run_id }), now_ms);
                vec![Effect::ReplaceQuery(share_query), run_b]
            }
            Some(PairPart::B { a }) => {
                self.compare = (Some(a), Some(run_id));
                Vec::new()
            }
        }
    }

    /// Keeps a finished run's downloads.
    pub(super) fn add_downloads(&mut self, run_id: u32, downloads: RunDownloads) {
        self.downloads.insert(run_id, Arc::new(downloads));
    }
}

impl Page {
    /// Shows run `id`'s results.
    pub fn show_run(&mut self, id: u32) {
        self.runs.shown = Some(id);
    }

    /// Picks run `id` as A of the comparison.
    pub fn pick_a(&mut self, id: u32) {
        self.runs.compare.0 = Some(id);
    }

    /// Picks run `id` as B of the comparison.
    pub fn pick_b(&mut self, id: u32) {
        self.runs.compare.1 = Some(id);
    }

    /// Starts a run of the form, and after it the variant's run when one is armed: the pair then
    /// shows as A and B. Ignored while a run is in progress.
    pub fn start_run(&mut self, now_ms: f64) -> Vec<Effect> {
        if self.runs.status.is_running() {
            return Vec::new();
        }
        self.run_errors.clear();
        self.notice = None;
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

    /// Stops the run (and the rest of its A/B pair) by restarting the worker.
    pub fn cancel_run(&mut self) -> Vec<Effect> {
        if !self.runs.status.is_running() {
            return Vec::new();
        }
        // The cancelled run's number goes to the next run: the table numbers finished runs
        // without gaps (the old worker, and any late reply of its, is gone).
        self.runs.drop_running();
        self.worker_ready = false;
        self.notice = Some("Run cancelled.".into());
        vec![Effect::RestartWorker]
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

    /// The worker refused the running run's configuration: it leaves no record. A's errors
    /// mark the form's fields; B's go to the page's notice, since the form shows A's settings.
    pub(super) fn on_run_refused(&mut self, run_id: u32, errors: Vec<FieldError>) {
        if !self.runs.running(run_id) {
            return;
        }
        let RunStatus::Running { label, pair, .. } = self.runs.drop_running() else { return };
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
