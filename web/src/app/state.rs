//! The app's state (signals shared through context) and the actions that change it: presets,
//! uploads, runs, replies from the worker.

use std::collections::BTreeMap;
use std::sync::Arc;

use leptos::prelude::*;
use llmsim_protocol::{FieldError, FileError, FileInfo, FromWorker, RunProgress, RunResult, SkippedFile};
use web_sys::File;

use crate::browser;
use crate::compare;
use crate::form::FormState;
use crate::presets::{self, PRESETS, Variant};
use crate::share::{MAX_LINK_TEXT, SharedFile, SharedRun};
use crate::worker_client::{self, Reply};

/// Where an upload is.
#[derive(Clone, Debug, PartialEq)]
pub enum UploadStatus {
    /// Being read and parsed: bytes done of total (hashing and parsing count once each).
    Loading {
        /// Work done.
        done: u64,
        /// Work in all.
        total: u64,
    },
    /// Ready for runs.
    Loaded {
        /// Name, size, hash and (for traces) the summary.
        info: FileInfo,
        /// Worker time to read, hash and parse, ms.
        elapsed_ms: f64,
    },
    /// Refused, with the row and column for malformed traces.
    Failed(FileError),
}

/// A file the user uploaded (or pasted) this session.
#[derive(Clone, Debug, PartialEq)]
pub struct Upload {
    /// Matches the worker's replies.
    pub upload_id: u32,
    /// The flag it was uploaded for.
    pub flag: String,
    /// The name the configuration refers to it by.
    pub path: String,
    /// Progress or outcome.
    pub status: UploadStatus,
}

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
#[derive(Clone, Debug, PartialEq)]
pub struct RunDownloads {
    /// `(file name, text)`.
    pub files: Vec<(String, String)>,
    /// Files not rendered, and why.
    pub skipped: Vec<SkippedFile>,
}

/// Shared downloads of one run.
pub type RunFiles = Arc<RunDownloads>;

/// Every signal of the app; `Copy`, provided through context.
#[derive(Clone, Copy)]
pub struct AppState {
    /// The form's fields.
    pub form: RwSignal<FormState>,
    /// Uploads by path.
    pub uploads: RwSignal<BTreeMap<String, Upload>>,
    /// Files a share link said the run read, still to be provided or checked.
    pub expected: RwSignal<Vec<SharedFile>>,
    /// The trace dropped or picked last: a trace field that becomes active later (choosing
    /// trace replay after the upload) reads it rather than a file nobody uploaded.
    pub last_trace: RwSignal<Option<String>>,
    /// Texts pasted into the page as files (a model's config.json), by name: small enough to
    /// travel in share links.
    pub pasted: RwSignal<BTreeMap<String, String>>,
    /// The Run button's state.
    pub run: RwSignal<RunStatus>,
    /// The worker's validation errors of the last run (cleared when the form changes).
    pub run_errors: RwSignal<Vec<FieldError>>,
    /// A page-level message (worker crash, link problems, hash mismatch).
    pub notice: RwSignal<Option<String>>,
    /// Finished runs of this session, oldest first.
    pub runs: RwSignal<Vec<Arc<RunRecord>>>,
    /// Their downloads, `(file name, text)` by run id, once the worker has rendered them.
    pub files: RwSignal<BTreeMap<u32, RunFiles>>,
    /// The run whose results are shown.
    pub shown: RwSignal<Option<u32>>,
    /// A/B: the two runs compared.
    pub compare: RwSignal<(Option<u32>, Option<u32>)>,
    /// The B run a preset asked for (its variant), made after the form's own run while
    /// `run_variant` is on; choosing another preset or opening a link replaces it.
    pub variant: RwSignal<Option<Variant>>,
    /// Whether Run also runs [`AppState::variant`] and compares the pair (the run bar's checkbox).
    pub run_variant: RwSignal<bool>,
    /// Whether the worker is ready for messages.
    pub worker_ready: RwSignal<bool>,
    /// Run as soon as the files are in (opening a share link).
    pub autorun: RwSignal<bool>,
    /// Window width, so charts redraw on resize.
    pub width: RwSignal<i32>,
    next_id: StoredValue<u32>,
    next_run: StoredValue<u32>,
}

impl AppState {
    /// Fresh state at the default preset.
    pub fn new() -> AppState {
        let (form, _) = FormState::from_pairs(PRESETS[0].pairs.iter().copied());
        AppState {
            form: RwSignal::new(form),
            uploads: RwSignal::new(BTreeMap::new()),
            expected: RwSignal::new(Vec::new()),
            last_trace: RwSignal::new(None),
            pasted: RwSignal::new(BTreeMap::new()),
            run: RwSignal::new(RunStatus::Idle),
            run_errors: RwSignal::new(Vec::new()),
            notice: RwSignal::new(None),
            runs: RwSignal::new(Vec::new()),
            files: RwSignal::new(BTreeMap::new()),
            shown: RwSignal::new(None),
            compare: RwSignal::new((None, None)),
            variant: RwSignal::new(PRESETS[0].compare_with),
            run_variant: RwSignal::new(true),
            worker_ready: RwSignal::new(false),
            autorun: RwSignal::new(false),
            width: RwSignal::new(0),
            next_id: StoredValue::new(1),
            next_run: StoredValue::new(1),
        }
    }

    /// A fresh upload id.
    fn next_id(&self) -> u32 {
        let id = self.next_id.get_value();
        self.next_id.set_value(id + 1);
        id
    }

    /// Edits one field.
    pub fn set_field(&self, flag: &str, text: &str) {
        self.form.update(|f| f.set(flag, text));
        self.adopt_last_trace(flag);
        self.run_errors.set(Vec::new());
    }

    /// Points every active trace field (other than `edited`) that names a file nobody provided
    /// at the trace uploaded last, so switching the workload to a trace after the upload uses it.
    fn adopt_last_trace(&self, edited: &str) {
        let Some(path) = self.last_trace.get_untracked() else { return };
        if !self
            .uploads
            .with_untracked(|u| u.get(&path).is_some_and(|u| !matches!(u.status, UploadStatus::Failed(_))))
        {
            return;
        }
        let stale: Vec<&'static str> = self.form.with_untracked(|form| {
            form.active_trace_fields()
                .into_iter()
                .filter(|(flag, text)| *flag != edited && !self.is_provided(text))
                .map(|(flag, _)| flag)
                .collect()
        });
        for flag in stale {
            self.form.update(|f| f.set(flag, &path));
        }
    }

    /// Replaces the form with a preset.
    pub fn apply_preset(&self, id: &str) {
        let Some(preset) = presets::find(id) else { return };
        let (form, _) = FormState::from_pairs(preset.pairs.iter().copied());
        self.form.set(form);
        self.variant.set(preset.compare_with);
        self.run_variant.set(true);
        self.expected.set(Vec::new());
        self.run_errors.set(Vec::new());
        self.notice.set(None);
    }

    /// The id of the preset the form equals, if any.
    pub fn matching_preset(&self) -> Option<&'static str> {
        self.form.with(|form| {
            PRESETS.iter().find(|p| FormState::from_pairs(p.pairs.iter().copied()).0 == *form).map(|p| p.id)
        })
    }

    /// Restores a share link's configuration; it runs once its files are uploaded.
    pub fn open_link(&self, query: &str) {
        let shared = SharedRun::from_query(query);
        if shared.is_empty() {
            return;
        }
        let (form, errors) =
            FormState::from_pairs(shared.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        self.form.set(form);
        // Pasted texts travel in the link: load them as the page that made it did.
        let required = self.form.with_untracked(FormState::required_files);
        for (path, text) in &shared.texts {
            let flag = required
                .iter()
                .find(|(_, p)| p == path)
                .map_or("replica_config_model_config_file", |(flag, _)| *flag);
            if let Some(file) = browser::text_file(path, text) {
                self.pasted.update(|p| {
                    p.insert(path.clone(), text.clone());
                });
                self.upload(flag, path, file);
            }
        }
        // A link holds one configuration: it runs alone. When that is a preset with an A/B
        // variant, the variant's checkbox comes back unticked, so one click reruns the pair.
        self.variant.set(self.matching_preset().and_then(presets::find).and_then(|p| p.compare_with));
        self.run_variant.set(false);
        self.expected.set(shared.files);
        if errors.is_empty() {
            self.autorun.set(true);
        } else {
            self.run_errors.set(errors);
            self.notice.set(Some("This link holds settings this version of llmsim does not know; fix or remove them, then press Run.".into()));
        }
    }

    /// Whether `path` can be read by a run: shipped with the page, or uploaded and loaded.
    pub fn is_available(&self, path: &str) -> bool {
        presets::is_shipped(path)
            || self
                .uploads
                .with(|u| u.get(path).is_some_and(|u| matches!(u.status, UploadStatus::Loaded { .. })))
    }

    /// Whether `path` is shipped or was uploaded, whatever became of the upload: live
    /// validation calls only these files present, since an upload still being read or one that
    /// failed shows its own status at the field (a second "not provided" would mislead).
    pub fn is_provided(&self, path: &str) -> bool {
        presets::is_shipped(path) || self.uploads.with(|u| u.contains_key(path))
    }

    /// Sends a file to the worker under `path`, for `flag`.
    pub fn upload(&self, flag: &str, path: &str, file: File) {
        let upload_id = self.next_id();
        let total = 2 * file.size() as u64;
        self.uploads.update(|u| {
            u.insert(
                path.to_string(),
                Upload {
                    upload_id,
                    flag: flag.to_string(),
                    path: path.to_string(),
                    status: UploadStatus::Loading { done: 0, total },
                },
            );
        });
        self.notice.set(None);
        worker_client::load_file(upload_id, flag, path, file);
    }

    /// Uses a pasted Hugging Face config.json for `flag`: refused at once unless it is a JSON
    /// object; named after its `_name_or_path` (else its `model_type`), so the run says which
    /// model it is; kept, so share links can carry it.
    pub fn use_pasted_config(&self, flag: &str, text: &str) -> Result<(), String> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| format!("not valid JSON: {e} (line {}, column {})", e.line(), e.column()))?;
        let object =
            value.as_object().ok_or("a config.json is a JSON object: { \"num_hidden_layers\": 32, ... }")?;
        if text.len() > MAX_LINK_TEXT {
            return Err(format!(
                "{} bytes is more than a config.json ({} at most): upload the file instead",
                text.len(),
                MAX_LINK_TEXT
            ));
        }
        let model = [object.get("_name_or_path"), object.get("model_type")]
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .map(str::trim)
            .find(|name| !name.is_empty())
            .unwrap_or("pasted-config");
        let stem = model.rsplit('/').next().unwrap_or(model);
        let name: String = stem
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' })
            .collect();
        let path = format!("{name}.json");
        let file = browser::text_file(&path, text).ok_or("the browser could not make a file of the text")?;
        self.pasted.update(|p| {
            p.insert(path.clone(), text.to_string());
        });
        self.set_field(flag, &path);
        // The model name field names the model in the report; a preset's catalogue name would
        // mislabel the pasted architecture.
        self.set_field("replica_config_model_name", model);
        self.upload(flag, &path, file);
        Ok(())
    }

    /// A trace dropped on (or picked for) the workload: it feeds every active trace field;
    /// with none active the workload switches to replaying it. A share link's missing file
    /// keeps the link's name, so the restored configuration finds it.
    pub fn upload_trace(&self, file: File) {
        let missing: Vec<String> = self
            .expected
            .with(|e| e.iter().filter(|f| !self.is_available(&f.path)).map(|f| f.path.clone()).collect());
        let path = if missing.len() == 1 { missing[0].clone() } else { file.name() };
        let active = |form: &FormState| -> Vec<&'static str> {
            form.active_trace_fields().into_iter().map(|(flag, _)| flag).collect()
        };
        let mut targets = self.form.with(active);
        if targets.is_empty() {
            self.form.update(|f| f.set("request_generator_config_type", "trace"));
            targets = self.form.with(active);
        }
        if missing.len() != 1 {
            for flag in &targets {
                self.form.update(|f| f.set(flag, &path));
            }
        }
        self.run_errors.set(Vec::new());
        if let Some(flag) = targets.first() {
            self.upload(flag, &path, file);
            self.last_trace.set(Some(path));
        }
    }

    /// The share link's query for the current form.
    pub fn share_query(&self) -> String {
        self.form.with(|form| self.share_query_of(form))
    }

    /// The share link's query for `form`, with the uploads it reads.
    fn share_query_of(&self, form: &FormState) -> String {
        let pairs = form.active_pairs();
        let files = form.required_files();
        let files = self.uploads.with(|u| {
            files
                .iter()
                .filter_map(|(_, path)| match u.get(path).map(|u| &u.status) {
                    Some(UploadStatus::Loaded { info, .. }) => Some(SharedFile {
                        path: info.path.clone(),
                        size: info.size,
                        sha256: info.sha256.clone(),
                    }),
                    _ => None,
                })
                .collect()
        });
        let texts = self.pasted.with(|pasted| {
            form.required_files()
                .into_iter()
                .filter_map(|(_, path)| pasted.get(&path).map(|text| (path, text.clone())))
                .collect()
        });
        SharedRun { pairs, files, texts }.to_query()
    }

    /// The B run the Run button makes after the form's, if any.
    pub fn armed_variant(&self) -> Option<Variant> {
        self.variant.get().filter(|_| self.run_variant.get())
    }

    /// Starts a run of the form, and after it the variant's run when one is armed: the pair then
    /// shows as A and B.
    pub fn start_run(&self) {
        if matches!(self.run.get_untracked(), RunStatus::Running { .. }) {
            return;
        }
        self.run_errors.set(Vec::new());
        self.notice.set(None);
        let form = self.form.get_untracked();
        let (share_query, label) = (self.share_query_of(&form), self.run_label());
        let variant = self.variant.get_untracked().filter(|_| self.run_variant.get_untracked());
        let Some(variant) = variant else {
            self.send_run(form.to_json(), share_query, label, None);
            return;
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
        self.send_run(form.to_json(), share_query, a_label, Some(PairPart::A { b: Box::new(b) }));
    }

    /// Numbers a run, marks it running and sends it to the worker.
    fn send_run(
        &self,
        config: serde_json::Value,
        share_query: String,
        label: String,
        pair: Option<PairPart>,
    ) {
        // Runs are numbered 1, 2, ... for the runs table (uploads have their own ids).
        let run_id = self.next_run.get_value();
        self.next_run.set_value(run_id + 1);
        self.run.set(RunStatus::Running {
            run_id,
            started_ms: browser::now_ms(),
            progress: None,
            share_query,
            label,
            pair,
        });
        worker_client::run(run_id, config);
    }

    /// Stops the run (and the rest of its A/B pair) by replacing the worker.
    pub fn cancel_run(&self) {
        if let RunStatus::Running { run_id, .. } = self.run.get_untracked() {
            // The cancelled run's number goes to the next run: the table numbers finished runs
            // without gaps (the old worker, and any late reply of its, is gone).
            self.next_run.set_value(run_id);
            self.worker_ready.set(false);
            self.run.set(RunStatus::Idle);
            self.notice.set(Some("Run cancelled.".into()));
            worker_client::cancel();
        }
    }

    /// Runs a share link once the worker is ready and every file it needs is in.
    pub fn try_autorun(&self) {
        if !self.autorun.get_untracked() || !self.worker_ready.get_untracked() {
            return;
        }
        let files = self.form.with_untracked(FormState::required_files);
        if files.iter().all(|(_, path)| self.is_available(path)) {
            self.autorun.set(false);
            self.start_run();
        }
    }

    fn set_upload_status(&self, upload_id: u32, status: UploadStatus) {
        self.uploads.update(|u| {
            if let Some(upload) = u.values_mut().find(|u| u.upload_id == upload_id) {
                upload.status = status;
            }
        });
    }

    /// Applies a reply from the worker.
    pub fn on_reply(&self, reply: Reply) {
        match reply.message {
            FromWorker::Ready => {
                self.worker_ready.set(true);
                self.try_autorun();
            }
            FromWorker::FileProgress { upload_id, bytes, total } => {
                self.set_upload_status(upload_id, UploadStatus::Loading { done: bytes, total });
            }
            FromWorker::FileLoaded { upload_id, info, elapsed_ms } => {
                let mismatch = self.expected.with_untracked(|e| {
                    e.iter()
                        .find(|f| f.path == info.path && (f.sha256 != info.sha256 || f.size != info.size))
                        .cloned()
                });
                if let Some(shared) = mismatch {
                    self.notice.set(Some(format!(
                        "{} differs from the file the link was made with ({}): results may differ.",
                        info.path,
                        shared.describe()
                    )));
                }
                self.set_upload_status(upload_id, UploadStatus::Loaded { info, elapsed_ms });
                self.try_autorun();
            }
            FromWorker::FileFailed { upload_id, error } => {
                worker_client::forget_upload(upload_id);
                self.set_upload_status(upload_id, UploadStatus::Failed(error));
            }
            FromWorker::RunProgress { run_id, progress } => {
                self.run.update(|r| {
                    if let RunStatus::Running { run_id: current, progress: p, .. } = r
                        && *current == run_id
                    {
                        *p = Some(progress);
                    }
                });
            }
            FromWorker::RunFailed { run_id, errors } => {
                let RunStatus::Running { run_id: current, label, pair, .. } = self.run.get_untracked() else {
                    return;
                };
                if current != run_id {
                    return;
                }
                // A refused run leaves no record: its number goes to the next run.
                self.next_run.set_value(run_id);
                self.run.set(RunStatus::Idle);
                if matches!(pair, Some(PairPart::B { .. })) {
                    // The form shows A's settings: B's errors would mark the wrong fields.
                    let errors: Vec<String> = errors
                        .iter()
                        .map(|e| if e.flag.is_empty() { e.to_string() } else { format!("--{}: {e}", e.flag) })
                        .collect();
                    self.notice.set(Some(format!("Run B ({label}) was refused: {}", errors.join("; "))));
                } else {
                    self.run_errors.set(errors);
                }
            }
            FromWorker::RunFinished { run_id, result } => {
                let RunStatus::Running { run_id: current, started_ms, share_query, label, pair, .. } =
                    self.run.get_untracked()
                else {
                    return;
                };
                if current != run_id {
                    return;
                }
                let summary = serde_json::from_str(&result.summary_json).unwrap_or_default();
                let record = RunRecord {
                    id: run_id,
                    label,
                    result,
                    summary,
                    share_query: share_query.clone(),
                    wall_ms: browser::now_ms() - started_ms,
                };
                self.runs.update(|r| r.push(Arc::new(record)));
                self.shown.set(Some(run_id));
                match pair {
                    None => {
                        self.compare.update(|(a, b)| {
                            // The two latest runs are compared until the user picks others.
                            *a = b.or(*a);
                            *b = Some(run_id);
                        });
                        self.run.set(RunStatus::Idle);
                        browser::replace_query(&share_query);
                    }
                    Some(PairPart::A { b }) => {
                        // The address bar holds the form's link, which is A's.
                        browser::replace_query(&share_query);
                        let PendingRun { config, share_query, label } = *b;
                        self.send_run(config, share_query, label, Some(PairPart::B { a: run_id }));
                    }
                    Some(PairPart::B { a }) => {
                        self.compare.set((Some(a), Some(run_id)));
                        self.run.set(RunStatus::Idle);
                    }
                }
            }
            FromWorker::RunFiles { run_id, skipped } => {
                self.files.update(|f| {
                    f.insert(run_id, Arc::new(RunDownloads { files: reply.files, skipped }));
                });
            }
            FromWorker::Crashed { message } => {
                self.worker_ready.set(false);
                self.run.set(RunStatus::Idle);
                self.notice.set(Some(format!(
                    "The simulator stopped unexpectedly: {message}. Very long runs can exhaust the browser's memory: turn off the Chrome trace (metrics_config_enable_chrome_trace, under Outputs) or shorten the run."
                )));
            }
        }
    }

    fn run_label(&self) -> String {
        let preset = self
            .matching_preset()
            .and_then(presets::find)
            .map(|p| p.name.split(':').next().unwrap_or(p.name).to_string());
        let form = self.form.get_untracked();
        let text =
            |name: &str| llmsim_engine::config::find_flag(name).map(|d| form.text(d)).unwrap_or_default();
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

    /// The record of run `id`.
    pub fn record(&self, id: u32) -> Option<Arc<RunRecord>> {
        self.runs.with(|r| r.iter().find(|r| r.id == id).cloned())
    }
}

impl Default for AppState {
    fn default() -> AppState {
        AppState::new()
    }
}
