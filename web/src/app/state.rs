//! The page's state as signals. One signal holds the [`Page`] (the state machine, plain Rust);
//! memos hand each part of it to the components that show it, so a run's progress redraws the
//! progress bar and not the charts. Every action goes through [`AppState`]'s methods, which
//! apply it to the page and then perform the [`Effect`]s it returns (talk to the worker, store
//! the runs, rewrite the address bar).

use std::collections::BTreeMap;
use std::sync::Arc;

use leptos::prelude::*;
use llmsim_protocol::{FieldError, FileError, FromWorker};
use web_sys::File;

use crate::browser;
use crate::form::FormState;
use crate::live_check::{self, Checked, LiveCheck};
use crate::page::{
    Content, Effect, Outcome, Page, RunDownloads, RunRecord, RunStatus, TraceMode, Uploads, View,
};
use crate::presets::{self, Variant};
use crate::worker_client::{self, Reply};

/// The page's signals; `Copy`, provided through context.
#[derive(Clone, Copy)]
pub struct AppState {
    /// The whole state; changed only through the methods below.
    page: RwSignal<Page>,
    /// The form's fields.
    pub form: Memo<FormState>,
    /// Live validation: what is asked of the worker, and what it said of the newest form.
    live: RwSignal<LiveCheck>,
    /// What live validation says of the form before a run: errors, warnings, memory per GPU.
    pub check: Memo<Checked>,
    /// The uploads and the files a share link asked for.
    pub uploads: Memo<Uploads>,
    /// What the Run button has started.
    pub run: Memo<RunStatus>,
    /// How the last Run ended.
    pub outcome: Memo<Option<Outcome>>,
    /// Finished runs, oldest first.
    pub runs: Memo<Vec<Arc<RunRecord>>>,
    /// Their downloads by run id, once the worker has rendered them.
    pub downloads: Memo<BTreeMap<u32, Arc<RunDownloads>>>,
    /// What the results show.
    pub view: Memo<View>,
    /// The runs picked as A and B.
    pub picks: Memo<(Option<u32>, Option<u32>)>,
    /// The validation errors of the last run (cleared when the form changes).
    pub run_errors: Memo<Vec<FieldError>>,
    /// A page-level message (worker crash, link problems).
    pub notice: Memo<Option<String>>,
    /// The B run the form's preset offers.
    pub variant: Memo<Option<Variant>>,
    /// Whether Run also runs the variant (the run bar's checkbox).
    pub run_variant: Memo<bool>,
    /// Whether the worker is ready for messages.
    pub worker_ready: Memo<bool>,
    /// The shipped file the worker is fetching for a run, if any.
    pub fetching: Memo<Option<String>>,
    /// The preset whose choice can be undone, if any.
    pub undoable_preset: Memo<Option<&'static str>>,
    /// The share link of the form as it is now.
    pub form_query: Memo<String>,
    /// Window width, so charts redraw when it changes (a view concern, outside the page's state).
    pub width: RwSignal<i32>,
}

/// Whether two lists of shared runs differ (a run's record never changes once made, so
/// comparing pointers is enough and skips comparing their data).
fn records_changed(old: Option<&Vec<Arc<RunRecord>>>, new: Option<&Vec<Arc<RunRecord>>>) -> bool {
    match (old, new) {
        (Some(old), Some(new)) => {
            old.len() != new.len() || old.iter().zip(new).any(|(a, b)| !Arc::ptr_eq(a, b))
        }
        _ => true,
    }
}

impl AppState {
    /// Fresh state at the default preset.
    pub fn new() -> AppState {
        let page = RwSignal::new(Page::new());
        let form = Memo::new(move |_| page.with(|p| p.form().clone()));
        let uploads = Memo::new(move |_| page.with(|p| p.uploads().clone()));
        let live = RwSignal::new(LiveCheck::new());
        let check = Memo::new(move |_| live.with(|l| l.shown().clone()));
        AppState {
            page,
            form,
            live,
            check,
            uploads,
            run: Memo::new(move |_| page.with(|p| p.runs().status().clone())),
            outcome: Memo::new(move |_| page.with(|p| p.runs().outcome().cloned())),
            runs: Memo::new_with_compare(
                move |_| page.with(|p| p.runs().records().to_vec()),
                records_changed,
            ),
            downloads: Memo::new(move |_| page.with(|p| p.runs().downloads().clone())),
            view: Memo::new(move |_| page.with(|p| p.runs().view())),
            picks: Memo::new(move |_| page.with(|p| p.runs().picks())),
            run_errors: Memo::new(move |_| page.with(|p| p.run_errors().to_vec())),
            notice: Memo::new(move |_| page.with(|p| p.notice().map(str::to_string))),
            variant: Memo::new(move |_| page.with(Page::variant)),
            run_variant: Memo::new(move |_| page.with(Page::run_variant)),
            worker_ready: Memo::new(move |_| page.with(Page::worker_ready)),
            fetching: Memo::new(move |_| page.with(|p| p.fetching().map(str::to_string))),
            undoable_preset: Memo::new(move |_| page.with(|p| p.preset_undo().map(|u| u.preset))),
            form_query: Memo::new(move |_| page.with(Page::share_query)),
            width: RwSignal::new(0),
        }
    }

    /// Applies `change` to the page, then performs its effects; `given` is the file the user
    /// gave with the action, if any.
    fn apply(&self, given: Option<&File>, change: impl FnOnce(&mut Page) -> Vec<Effect>) {
        let mut effects = Vec::new();
        self.page.update(|page| effects = change(page));
        for effect in effects {
            self.perform(effect, given);
        }
    }

    fn perform(&self, effect: Effect, given: Option<&File>) {
        match effect {
            Effect::LoadFile { upload_id, flag, path, content } => {
                let file = match content {
                    Content::Given => given.cloned(),
                    Content::Text(text) => browser::text_file(&path, &text),
                };
                match file {
                    Some(file) => worker_client::load_file(upload_id, &flag, &path, file),
                    None => {
                        let message = "the browser could not make a file of it".to_string();
                        let error = FileError { file: path, line: None, column: None, message };
                        let message = FromWorker::FileFailed { upload_id, error };
                        self.on_reply(Reply { message, files: Vec::new() });
                    }
                }
            }
            Effect::ForgetUpload { upload_id } => worker_client::forget_upload(upload_id),
            Effect::Run { request, config } => worker_client::run(request, config),
            Effect::CancelRun { request } => worker_client::cancel_run(request),
            Effect::StoreRuns(text) => browser::store(crate::page::storage::KEY, &text),
            Effect::ReplaceQuery(query) => browser::replace_query(&query),
        }
    }

    /// Starts live validation (once the worker client is started): every change of the form,
    /// or of the files it can read, shows its parse errors at once or asks the worker.
    pub fn start_live_check(&self) {
        let (form, uploads, live) = (self.form, self.uploads, self.live);
        leptos::prelude::Effect::new(move |_| {
            let draft = form.with(|f| uploads.with(|u| live_check::draft(f, u)));
            let mut send = None;
            live.update(|l| send = l.form_changed(draft));
            if let Some(request) = send {
                worker_client::check(request);
            }
        });
    }

    /// Applies a reply from the worker. A run that finished while the focus had nowhere to be
    /// (the Run button it was on is disabled while running) moves it to the results' heading,
    /// so a keyboard user goes on from there.
    pub fn on_reply(&self, reply: Reply) {
        let mut send = None;
        match &reply.message {
            FromWorker::Checked(answer) => {
                let answer = answer.clone();
                self.live.update(|l| send = l.on_answer(answer));
            }
            FromWorker::Crashed { .. } => self.live.update(|l| send = l.worker_restarted()),
            _ => {}
        }
        if let Some(request) = send {
            worker_client::check(request);
        }
        let now = browser::now_ms();
        let finished = matches!(reply.message, FromWorker::RunFinished { .. });
        self.apply(None, |page| page.on_message(reply.message, reply.files, now));
        if finished {
            browser::focus_if_lost("view-title");
        }
    }

    /// Edits one field.
    pub fn set_field(&self, flag: &str, text: &str) {
        self.page.update(|page| page.set_field(flag, text));
    }

    /// Replaces the form with a preset.
    pub fn apply_preset(&self, id: &str) {
        self.page.update(|page| page.apply_preset(id));
    }

    /// Puts back what the last preset choice replaced.
    pub fn undo_preset(&self) {
        self.page.update(Page::undo_preset);
    }

    /// Ticks or unticks the "then run B" checkbox.
    pub fn set_run_variant(&self, on: bool) {
        self.page.update(|page| page.set_run_variant(on));
    }

    /// Restores a share link's configuration; it runs once its files are uploaded.
    pub fn open_link(&self, query: &str) {
        self.apply(None, |page| page.open_link(query));
    }

    /// Puts back the runs kept in the browser's storage.
    pub fn restore_runs(&self, text: &str) {
        self.apply(None, |page| page.restore_runs(text));
    }

    /// A file picked with a field's upload button.
    pub fn pick_file(&self, flag: &str, file: File) {
        let (name, size) = (file.name(), file.size() as u64);
        self.apply(Some(&file), |page| page.pick_file(flag, &name, size));
    }

    /// A trace dropped on (or picked for) the workload.
    pub fn upload_trace(&self, file: File) {
        let (name, size) = (file.name(), file.size() as u64);
        self.apply(Some(&file), |page| page.upload_trace(&name, size));
    }

    /// Uses the upload under `path` although it differs from the share link's file.
    pub fn use_mismatched(&self, path: &str) {
        let now = browser::now_ms();
        self.apply(None, |page| page.use_mismatched(path, now));
    }

    /// Makes the workload use the trace at `path` as `mode` says.
    pub fn set_trace_mode(&self, path: &str, mode: TraceMode) {
        self.page.update(|page| page.set_trace_mode(path, mode));
    }

    /// Uses a pasted Hugging Face config.json for `flag`; the error says why it was refused.
    pub fn use_pasted_config(&self, flag: &str, text: &str) -> Result<(), String> {
        let mut result = Ok(());
        self.apply(None, |page| match page.use_pasted_config(flag, text) {
            Ok(effects) => effects,
            Err(e) => {
                result = Err(e);
                Vec::new()
            }
        });
        result
    }

    /// Starts a run of the form (and of the armed variant after it).
    pub fn start_run(&self) {
        let now = browser::now_ms();
        self.apply(None, |page| page.start_run(now));
    }

    /// Stops the run (and the rest of its A/B pair).
    pub fn cancel_run(&self) {
        self.apply(None, Page::cancel_run);
    }

    /// Shows run `id`'s results.
    pub fn show_run(&self, id: u32) {
        self.page.update(|page| page.show_run(id));
    }

    /// Picks run `id` as A of the comparison.
    pub fn pick_a(&self, id: u32) {
        self.page.update(|page| page.pick_a(id));
    }

    /// Picks run `id` as B of the comparison.
    pub fn pick_b(&self, id: u32) {
        self.page.update(|page| page.pick_b(id));
    }

    /// Shows the picked runs compared.
    pub fn compare_picked(&self) {
        self.page.update(Page::compare_picked);
    }

    /// Deletes run `id`.
    pub fn delete_run(&self, id: u32) {
        self.apply(None, |page| page.delete_run(id));
    }

    /// Deletes every run.
    pub fn delete_all_runs(&self) {
        self.apply(None, Page::delete_all_runs);
    }

    /// The id of the preset the form equals, if any.
    pub fn matching_preset(&self) -> Option<&'static str> {
        self.form.with(|form| presets::matching(form).map(|p| p.id))
    }

    /// The B run the Run button makes after the form's, if any.
    pub fn armed_variant(&self) -> Option<Variant> {
        self.variant.get().filter(|_| self.run_variant.get())
    }

    /// Whether `path` can be read by a run: shipped with the page, or uploaded and loaded.
    pub fn is_available(&self, path: &str) -> bool {
        self.uploads.with(|u| u.is_available(path))
    }

    /// The record of run `id`.
    pub fn record(&self, id: u32) -> Option<Arc<RunRecord>> {
        self.runs.with(|r| r.iter().find(|r| r.id == id).cloned())
    }

    /// Whether the form is still run `id`'s configuration.
    pub fn form_is_run(&self, id: u32) -> bool {
        self.record(id).is_some_and(|r| self.form_query.with(|q| *q == r.share_query))
    }
}

impl Default for AppState {
    fn default() -> AppState {
        AppState::new()
    }
}
