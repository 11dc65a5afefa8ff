//! The page's state and every change to it, in plain Rust (no signals, no browser), so that it
//! is tested natively. What the user does and what the worker replies go in as method calls on
//! [`Page`]; what the browser must do in consequence (send a file or a run to the worker, stop
//! a run, store the runs, rewrite the address bar) comes out as a list of [`Effect`]s, which
//! the Leptos layer (`app::state`) performs. Times are passed in (`now_ms`), never read.
//!
//! The concepts, one module each:
//! - [`uploads`]: the files the user gave (picked, dropped, pasted, or asked for by a share
//!   link), their progress and outcome, and how the workload uses a trace;
//! - [`runs`]: the Run button's state machine (idle, running, an A/B pair's A then B), run
//!   numbering, the finished runs and what the results show (one run, or two compared);
//! - [`storage`]: the finished runs as kept in the browser's storage across reloads;
//! - [`link`]: share links, made from the form and its uploads, and opened into the form;
//! - this module: the form (with the rules that keep it consistent as fields change),
//!   presets (with undo) and A/B arming, and dispatching the worker's replies.

pub mod link;
pub mod runs;
pub mod storage;
pub mod uploads;

#[cfg(test)]
mod tests;

use llmsim_engine::catalog::index;
use llmsim_protocol::{FieldError, FromWorker};

use crate::form::FormState;
use crate::presets::{self, PRESETS, Variant};
use crate::share::SharedFile;

pub use runs::{Outcome, PairPart, PendingRun, RunDownloads, RunRecord, RunStatus, Runs, View};
pub use uploads::{Content, Rejection, TraceMode, Upload, UploadStatus, Uploads};

/// Something the browser must do after a change of state, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Send a file to the worker to be read (and, for traces, parsed) under `path`; its
    /// replies carry `upload_id`.
    LoadFile {
        /// The upload's id.
        upload_id: u32,
        /// The flag it is for.
        flag: String,
        /// The name the configuration refers to it by.
        path: String,
        /// Its bytes: the file given with the action, or a text the page holds.
        content: Content,
    },
    /// The worker need not keep (or, once restarted, read again) this upload: it was rejected,
    /// or replaced by a newer one.
    ForgetUpload {
        /// The upload's id.
        upload_id: u32,
    },
    /// Send a run to the worker.
    Run {
        /// The request's id, never reused: the worker's replies carry it.
        request: u32,
        /// The flat JSON configuration.
        config: serde_json::Value,
    },
    /// Stop a run in the worker (which keeps its files).
    CancelRun {
        /// The request's id.
        request: u32,
    },
    /// Keep this text (the finished runs, [`storage`]) in the browser's storage; an empty text
    /// removes what is kept.
    StoreRuns(String),
    /// Put this share link's query in the address bar (no reload, no history entry).
    ReplaceQuery(String),
}

/// What choosing a preset replaced, so that it can be undone.
#[derive(Clone, Debug, PartialEq)]
pub struct PresetUndo {
    /// The preset chosen.
    pub preset: &'static str,
    form: FormState,
    variant: Option<Variant>,
    run_variant: bool,
    expected: Vec<SharedFile>,
}

/// Everything the page shows and remembers.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    form: FormState,
    uploads: Uploads,
    runs: Runs,
    /// The B run the form's preset asked for; run after the form's own while `run_variant`.
    variant: Option<Variant>,
    run_variant: bool,
    /// The validation errors of the last run (cleared when the form changes).
    run_errors: Vec<FieldError>,
    /// A page-level message (worker crash, link problems, cancelled run).
    notice: Option<String>,
    worker_ready: bool,
    /// Run as soon as the worker is ready and every file is in (opening a share link).
    autorun: bool,
    /// The form before the last preset was chosen, while that can be undone.
    undo: Option<Box<PresetUndo>>,
    /// The shipped file the worker is fetching now (for a run that needs it).
    fetching: Option<String>,
}

impl Default for Page {
    fn default() -> Page {
        Page::new()
    }
}

/// Each device flag with the node flag that follows it: the (prefill) replicas', and a
/// disaggregated cluster's decode pool's, whose `same` means the replicas' own.
const DEVICE_NODE_FLAGS: [(&str, &str); 2] = [
    ("replica_config_device", "replica_config_network_device"),
    ("disaggregation_config_decode_device", "disaggregation_config_decode_network_device"),
];
/// The decode pool's device and node text that means "the prefill replicas' own".
const SAME: &str = "same";

impl Page {
    /// A fresh page at the default preset, its worker still starting.
    pub fn new() -> Page {
        let (form, _) = FormState::from_pairs(PRESETS[0].pairs.iter().copied());
        Page {
            form,
            uploads: Uploads::default(),
            runs: Runs::default(),
            variant: PRESETS[0].compare_with,
            run_variant: true,
            run_errors: Vec::new(),
            notice: None,
            worker_ready: false,
            autorun: false,
            undo: None,
            fetching: None,
        }
    }

    /// The form's fields.
    pub fn form(&self) -> &FormState {
        &self.form
    }

    /// The uploads.
    pub fn uploads(&self) -> &Uploads {
        &self.uploads
    }

    /// The runs: what is running, the finished runs, what the results show.
    pub fn runs(&self) -> &Runs {
        &self.runs
    }

    /// The B run the form's preset offers, whether or not it is armed.
    pub fn variant(&self) -> Option<Variant> {
        self.variant
    }

    /// Whether Run also runs [`Page::variant`] and compares the pair (the run bar's checkbox).
    pub fn run_variant(&self) -> bool {
        self.run_variant
    }

    /// The B run the Run button makes after the form's, if any.
    pub fn armed_variant(&self) -> Option<Variant> {
        self.variant.filter(|_| self.run_variant)
    }

    /// The validation errors of the last run.
    pub fn run_errors(&self) -> &[FieldError] {
        &self.run_errors
    }

    /// The page-level message, if any.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// Whether the worker is ready for messages.
    pub fn worker_ready(&self) -> bool {
        self.worker_ready
    }

    /// The shipped file the worker is fetching now, if any (a run waits for it).
    pub fn fetching(&self) -> Option<&str> {
        self.fetching.as_deref()
    }

    /// Whether the page runs by itself once the worker and the files are ready (a share link).
    pub fn autorun(&self) -> bool {
        self.autorun
    }

    /// What the last preset choice replaced, while it can be undone.
    pub fn preset_undo(&self) -> Option<&PresetUndo> {
        self.undo.as_deref()
    }

    /// The id of the preset the form equals, if any.
    pub fn matching_preset(&self) -> Option<&'static str> {
        presets::matching(&self.form).map(|p| p.id)
    }

    /// The text of a field (its default when unset).
    pub fn field_text(&self, flag: &str) -> String {
        llmsim_engine::find_flag(flag).map(|def| self.form.text(def)).unwrap_or_default()
    }

    /// Edits one field, keeping the form consistent: a new device brings its node along
    /// (unless the node was chosen apart from the device), and a trace field this edit
    /// activates reads the trace uploaded last, or the page's own.
    pub fn set_field(&mut self, flag: &str, text: &str) {
        let pair = DEVICE_NODE_FLAGS.into_iter().find(|(device, _)| *device == flag);
        let old_device = pair.map(|(device, _)| self.field_text(device));
        self.form.set(flag, text);
        if let (Some((_, node_flag)), Some(old)) = (pair, old_device) {
            self.follow_device(node_flag, &old, text);
        }
        self.adopt_trace_files(flag);
        self.run_errors.clear();
        self.undo = None;
    }

    /// The device changed from `old` to `new`: its network device (`node_flag`) follows it
    /// when it was the old device's node (or none), so an H200 does not run on an H100 board's
    /// figures; a node of another device was chosen on purpose and stays. A decode pool's
    /// device set back to `same` takes its node back to `same` too.
    fn follow_device(&mut self, node_flag: &str, old: &str, new: &str) {
        let node = self.field_text(node_flag);
        let old_device = index::find_device(old).map(|d| d.name);
        let follows = match index::find_node(&node) {
            Some(n) => Some(n.device) == old_device,
            None => true,
        };
        if !follows {
            return;
        }
        if new.eq_ignore_ascii_case(SAME) && node != SAME {
            self.form.set(node_flag, SAME);
        } else if let Some(matching) = index::matching_node(new) {
            self.form.set(node_flag, matching.name);
        }
    }

    /// Points every active trace field (other than `edited`) left at its default, which names
    /// a file nobody provided, at the trace uploaded last, else at the trace the page ships:
    /// choosing a trace workload after an upload uses it, and never a path the page lacks.
    fn adopt_trace_files(&mut self, edited: &str) {
        let upload = self.uploads.last_trace().filter(|p| self.uploads.is_available(p)).map(str::to_string);
        let path = upload.unwrap_or_else(|| presets::SHIPPED_TRACE.to_string());
        let stale: Vec<&'static str> = self
            .form
            .active_trace_fields()
            .into_iter()
            .filter(|(flag, text)| {
                *flag != edited && !self.form.is_set(flag) && !self.uploads.is_provided(text)
            })
            .map(|(flag, _)| flag)
            .collect();
        for flag in stale {
            self.form.set(flag, &path);
        }
    }

    /// Replaces the form with a preset (and its A/B variant, armed). What it replaces can be
    /// undone ([`Page::undo_preset`]) when it was more than an untouched preset.
    pub fn apply_preset(&mut self, id: &str) {
        let Some(preset) = presets::find(id) else { return };
        let reads_upload = self.form.required_files().iter().any(|(_, p)| self.uploads.get(p).is_some())
            || !self.uploads.expected().is_empty();
        let edited = presets::matching(&self.form).is_none();
        let undo = (edited || reads_upload).then(|| {
            Box::new(PresetUndo {
                preset: preset.id,
                form: self.form.clone(),
                variant: self.variant,
                run_variant: self.run_variant,
                expected: self.uploads.expected().to_vec(),
            })
        });
        let (form, _) = FormState::from_pairs(preset.pairs.iter().copied());
        self.form = form;
        self.variant = preset.compare_with;
        self.run_variant = true;
        self.uploads.expect(Vec::new());
        self.run_errors.clear();
        self.notice = None;
        self.undo = undo;
    }

    /// Puts back the form the last preset choice replaced.
    pub fn undo_preset(&mut self) {
        let Some(undo) = self.undo.take() else { return };
        self.form = undo.form;
        self.variant = undo.variant;
        self.run_variant = undo.run_variant;
        self.uploads.expect(undo.expected);
        self.run_errors.clear();
    }

    /// Ticks or unticks the run bar's "then run B" checkbox.
    pub fn set_run_variant(&mut self, on: bool) {
        self.run_variant = on;
    }

    /// Applies a message from the worker; `files` are the download texts that travel beside a
    /// `RunFiles` message.
    pub fn on_message(
        &mut self,
        message: FromWorker,
        files: Vec<(String, String)>,
        now_ms: f64,
    ) -> Vec<Effect> {
        match message {
            FromWorker::Ready => {
                self.worker_ready = true;
                self.try_autorun(now_ms)
            }
            FromWorker::FileProgress { upload_id, bytes, total } => {
                self.uploads.progress(upload_id, bytes, total);
                Vec::new()
            }
            FromWorker::FileLoaded { upload_id, info, elapsed_ms } => {
                let mut effects = self.on_file_loaded(upload_id, info, elapsed_ms);
                effects.extend(self.try_autorun(now_ms));
                effects
            }
            FromWorker::FileFailed { upload_id, error } => self.on_file_failed(upload_id, error),
            FromWorker::RunProgress { run_id, progress } => {
                self.runs.progress(run_id, progress);
                Vec::new()
            }
            FromWorker::RunFailed { run_id, errors } => {
                self.on_run_refused(run_id, errors);
                Vec::new()
            }
            FromWorker::RunFinished { run_id, result } => self.on_run_finished(run_id, result, now_ms),
            FromWorker::RunFiles { run_id, skipped } => {
                self.runs.add_downloads(run_id, RunDownloads { files, skipped });
                Vec::new()
            }
            // Answers to the plan view's pool of workers (`app::plan`), never to this one.
            FromWorker::JobDone(_) => Vec::new(),
            FromWorker::FetchStarted { path } => {
                self.fetching = Some(path);
                Vec::new()
            }
            FromWorker::FetchEnded { path } => {
                if self.fetching.as_ref() == Some(&path) {
                    self.fetching = None;
                }
                Vec::new()
            }
            // Live validation's answers go to `app::state`'s `LiveCheck`, not to the page.
            FromWorker::Checked(_) => Vec::new(),
            FromWorker::Crashed { message } => {
                self.worker_ready = false;
                self.fetching = None;
                self.runs.stop(Outcome::Crashed);
                self.notice = Some(format!(
                    "The simulator stopped unexpectedly: {message}. Very long runs can exhaust the browser's memory: turn off the Chrome trace (metrics_config_enable_chrome_trace, under Outputs) or shorten the run."
                ));
                Vec::new()
            }
        }
    }
}
