//! The page's state and every change to it, in plain Rust (no signals, no browser), so that it
//! is tested natively. What the user does and what the worker replies go in as method calls on
//! [`Page`]; what the browser must do in consequence (send a file or a run to the worker, stop
//! the worker, rewrite the address bar) comes out as a list of [`Effect`]s, which the Leptos
//! layer (`app::state`) performs. Times are passed in (`now_ms`), never read.
//!
//! The concepts, one module each:
//! - [`uploads`]: the files the user gave (picked, dropped, pasted, or asked for by a share
//!   link) and their progress and outcome;
//! - [`runs`]: the Run button's state machine (idle, running, an A/B pair's A then B), run
//!   numbering, the finished runs, which one is shown and which two are compared;
//! - [`link`]: share links, made from the form and its uploads, and opened into the form;
//! - this module: the form, presets and A/B arming, and dispatching the worker's replies.

pub mod link;
pub mod runs;
pub mod uploads;

#[cfg(test)]
mod tests;

use llmsim_protocol::{FieldError, FromWorker};

use crate::form::FormState;
use crate::presets::{self, PRESETS, Variant};

pub use runs::{PairPart, PendingRun, RunDownloads, RunRecord, RunStatus, Runs};
pub use uploads::{Content, Upload, UploadStatus, Uploads};

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
    /// The worker need not keep (or, once restarted, read again) this failed upload.
    ForgetUpload {
        /// The upload's id.
        upload_id: u32,
    },
    /// Send a run to the worker.
    Run {
        /// The run's number; the worker's replies carry it.
        run_id: u32,
        /// The flat JSON configuration.
        config: serde_json::Value,
    },
    /// Stop the worker (a worker busy in a run reads no messages) and start a fresh one, which
    /// is given the uploads again.
    RestartWorker,
    /// Put this share link's query in the address bar (no reload, no history entry).
    ReplaceQuery(String),
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
    /// The worker's validation errors of the last run (cleared when the form changes).
    run_errors: Vec<FieldError>,
    /// A page-level message (worker crash, link problems, hash mismatch, cancelled run).
    notice: Option<String>,
    worker_ready: bool,
    /// Run as soon as the worker is ready and every file is in (opening a share link).
    autorun: bool,
}

impl Default for Page {
    fn default() -> Page {
        Page::new()
    }
}

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

    /// The runs: what is running, the finished runs, the shown and compared ones.
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

    /// The worker's validation errors of the last run.
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

    /// Whether the page runs by itself once the worker and the files are ready (a share link).
    pub fn autorun(&self) -> bool {
        self.autorun
    }

    /// The id of the preset the form equals, if any.
    pub fn matching_preset(&self) -> Option<&'static str> {
        presets::matching(&self.form).map(|p| p.id)
    }

    /// Edits one field. A trace uploaded earlier feeds the trace fields this edit activates.
    pub fn set_field(&mut self, flag: &str, text: &str) {
        self.form.set(flag, text);
        self.adopt_last_trace(flag);
        self.run_errors.clear();
    }

    /// Points every active trace field (other than `edited`) that names a file nobody provided
    /// at the trace uploaded last, so switching the workload to a trace after the upload uses it.
    fn adopt_last_trace(&mut self, edited: &str) {
        let Some(path) = self.uploads.last_trace() else { return };
        if !self.uploads.get(path).is_some_and(|u| !matches!(u.status, UploadStatus::Failed(_))) {
            return;
        }
        let path = path.to_string();
        let stale: Vec<&'static str> = self
            .form
            .active_trace_fields()
            .into_iter()
            .filter(|(flag, text)| *flag != edited && !self.uploads.is_provided(text))
            .map(|(flag, _)| flag)
            .collect();
        for flag in stale {
            self.form.set(flag, &path);
        }
    }

    /// Replaces the form with a preset (and its A/B variant, armed).
    pub fn apply_preset(&mut self, id: &str) {
        let Some(preset) = presets::find(id) else { return };
        let (form, _) = FormState::from_pairs(preset.pairs.iter().copied());
        self.form = form;
        self.variant = preset.compare_with;
        self.run_variant = true;
        self.uploads.expect(Vec::new());
        self.run_errors.clear();
        self.notice = None;
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
                self.uploads.set_status(upload_id, UploadStatus::Loading { done: bytes, total });
                Vec::new()
            }
            FromWorker::FileLoaded { upload_id, info, elapsed_ms } => {
                self.on_file_loaded(upload_id, info, elapsed_ms);
                self.try_autorun(now_ms)
            }
            FromWorker::FileFailed { upload_id, error } => {
                self.uploads.set_status(upload_id, UploadStatus::Failed(error));
                vec![Effect::ForgetUpload { upload_id }]
            }
            FromWorker::RunProgress { run_id, progress } => {
                self.runs.progress(run_id, progress);
                Vec::new()
            }
            FromWorker::RunFailed { run_id, errors } => {
                self.on_run_refused(run_id, errors);
                Vec::new()
            }
            FromWorker::RunFinished { run_id, result } => self.runs.finish(run_id, result, now_ms),
            FromWorker::RunFiles { run_id, skipped } => {
                self.runs.add_downloads(run_id, RunDownloads { files, skipped });
                Vec::new()
            }
            // Answers to the plan view's pool of workers (`app::plan`), never to this one.
            FromWorker::JobDone(_) => Vec::new(),
            FromWorker::Crashed { message } => {
                self.worker_ready = false;
                self.runs.stop();
                self.notice = Some(format!(
                    "The simulator stopped unexpectedly: {message}. Very long runs can exhaust the browser's memory: turn off the Chrome trace (metrics_config_enable_chrome_trace, under Outputs) or shorten the run."
                ));
                Vec::new()
            }
        }
    }
}
