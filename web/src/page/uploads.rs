//! Uploads: the files the user gave this session (picked for a field, dropped on the trace
//! zone, pasted as a model's config.json, or asked for by a share link), by the name the
//! configuration refers to them by, with their progress and outcome.
//!
//! An upload that is rejected (not text, a malformed trace) leaves the page as it was: the
//! fields it had pointed at their new file read what they read before, a file it was to
//! replace under the same name stays, and the rejection says why. A file chosen for a share
//! link's run is checked against the link's name, size and SHA-256: one that differs is not used
//! until the user confirms it.

use std::collections::BTreeMap;

use llmsim_protocol::{FileError, FileInfo, is_trace_flag};

use super::{Effect, Page};
use crate::form::FormState;
use crate::presets;
use crate::share::{MAX_LINK_TEXT, SharedFile, format_bytes};

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
    /// Read, but not the file the share link's run read: not used until the user confirms it
    /// ([`Page::use_mismatched`]) or chooses the link's file.
    Mismatch {
        /// What was read.
        info: FileInfo,
        /// Worker time to read, hash and parse, ms.
        elapsed_ms: f64,
        /// The file the link asked for.
        expected: SharedFile,
    },
}

/// A file the user uploaded (or pasted) this session.
#[derive(Clone, Debug, PartialEq)]
pub struct Upload {
    /// Matches the worker's replies; a newer upload under the same name has a new id, so the
    /// replies about the one it replaced are ignored.
    pub upload_id: u32,
    /// The flag it was uploaded for.
    pub flag: String,
    /// The name the configuration refers to it by (the file's own name).
    pub path: String,
    /// Progress or outcome.
    pub status: UploadStatus,
    /// The share link's file it is meant to be, checked when it is read.
    pub for_link: Option<SharedFile>,
    /// The fields the upload changed, `(flag, text before, text after)`: put back if it is
    /// rejected.
    restore: Vec<(&'static str, String, String)>,
    /// The upload it replaces under the same name, kept until this one is read.
    replaced: Option<Box<Upload>>,
}

/// Where an upload's bytes come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    /// The file the user picked or dropped with the action (the browser holds it).
    Given,
    /// A text the page holds (pasted, or carried by a share link).
    Text(String),
}

/// An upload that was rejected, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejection {
    /// The file's name.
    pub name: String,
    /// Why, with the row and column for malformed traces.
    pub error: FileError,
    /// The file the field reads instead (the last good one), if any.
    pub kept: Option<String>,
}

/// The session's uploads and the files a share link asked for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Uploads {
    by_path: BTreeMap<String, Upload>,
    /// The last id handed out.
    last_id: u32,
    /// Files a share link said its run read, to be provided (and checked against the link).
    expected: Vec<SharedFile>,
    /// The trace read last: a trace field that becomes active later (choosing trace replay
    /// after the upload) reads it rather than a file nobody uploaded.
    last_trace: Option<String>,
    /// Texts pasted into the page as files (a model's config.json), by name: small enough to
    /// travel in share links.
    pasted: BTreeMap<String, String>,
    /// The latest rejected upload of each flag.
    rejected: BTreeMap<String, Rejection>,
}

impl Uploads {
    /// The upload under `path`, if any.
    pub fn get(&self, path: &str) -> Option<&Upload> {
        self.by_path.get(path)
    }

    /// Whether `path` can be read by a run: shipped with the page, or uploaded and loaded.
    pub fn is_available(&self, path: &str) -> bool {
        presets::is_shipped(path)
            || self.get(path).is_some_and(|u| matches!(u.status, UploadStatus::Loaded { .. }))
    }

    /// Whether `path` is shipped or was uploaded, whatever became of the upload: live
    /// validation calls only these files present, since an upload still being read or one
    /// waiting for confirmation shows its own status (a second "not provided" would mislead).
    pub fn is_provided(&self, path: &str) -> bool {
        presets::is_shipped(path) || self.by_path.contains_key(path)
    }

    /// The files a share link asked for, provided or not.
    pub fn expected(&self) -> &[SharedFile] {
        &self.expected
    }

    /// The files a share link asked for that no run can read yet.
    pub fn missing_expected(&self) -> Vec<SharedFile> {
        self.expected.iter().filter(|f| !self.is_available(&f.path)).cloned().collect()
    }

    /// The trace read last, if any.
    pub fn last_trace(&self) -> Option<&str> {
        self.last_trace.as_deref()
    }

    /// The text pasted under `path`, if any.
    pub fn pasted(&self, path: &str) -> Option<&str> {
        self.pasted.get(path).map(String::as_str)
    }

    /// The latest rejected upload for `flag`, if any.
    pub fn rejected(&self, flag: &str) -> Option<&Rejection> {
        self.rejected.get(flag)
    }

    /// The latest rejected upload of a trace flag, if any.
    pub fn rejected_trace(&self) -> Option<&Rejection> {
        self.rejected.iter().find(|(flag, _)| is_trace_flag(flag)).map(|(_, r)| r)
    }

    /// Uploads read but waiting for the user to confirm them (they differ from the link's).
    pub fn mismatches(&self) -> Vec<&Upload> {
        self.by_path.values().filter(|u| matches!(u.status, UploadStatus::Mismatch { .. })).collect()
    }

    /// The loaded uploads `form` reads, as a share link records them.
    pub fn shared_files(&self, form: &FormState) -> Vec<SharedFile> {
        form.required_files()
            .iter()
            .filter_map(|(_, path)| match self.get(path).map(|u| &u.status) {
                Some(UploadStatus::Loaded { info, .. }) => {
                    Some(SharedFile { path: info.path.clone(), size: info.size, sha256: info.sha256.clone() })
                }
                _ => None,
            })
            .collect()
    }

    /// The pasted texts `form` reads, as `(name, text)`.
    pub fn shared_texts(&self, form: &FormState) -> Vec<(String, String)> {
        form.required_files()
            .into_iter()
            .filter_map(|(_, path)| self.pasted(&path).map(|text| (path, text.to_string())))
            .collect()
    }

    /// The mean tokens (prompt + output) of a request of the loaded trace at `path`, if known.
    pub fn mean_request_tokens(&self, path: &str) -> Option<f64> {
        match &self.get(path)?.status {
            UploadStatus::Loaded { info, .. } => {
                let t = info.trace.as_ref()?;
                Some(t.input_tokens.as_ref()?.mean + t.output_tokens.as_ref()?.mean)
            }
            _ => None,
        }
    }

    /// Replaces the files a share link asks for.
    pub(super) fn expect(&mut self, files: Vec<SharedFile>) {
        self.expected = files;
    }

    /// The link's file a file called `name` is meant to be: the missing one of that name, else
    /// the only missing one (`accepts` says which the upload can stand for).
    fn link_file_for(&self, name: &str, accepts: impl Fn(&SharedFile) -> bool) -> Option<SharedFile> {
        let missing: Vec<SharedFile> = self.missing_expected().into_iter().filter(accepts).collect();
        missing.iter().find(|f| f.path == name).or((missing.len() == 1).then(|| &missing[0])).cloned()
    }

    /// Records a new upload of `size` bytes under `path`, replacing any earlier one (kept
    /// aside until this one is read; one still being read is dropped); returns its id and
    /// the id of the upload dropped, if any.
    fn begin(
        &mut self,
        flag: &str,
        path: &str,
        size: u64,
        for_link: Option<SharedFile>,
    ) -> (u32, Option<u32>) {
        self.last_id += 1;
        let upload_id = self.last_id;
        let status = UploadStatus::Loading { done: 0, total: 2 * size };
        let (replaced, dropped) = match self.by_path.remove(path) {
            Some(u) if matches!(u.status, UploadStatus::Loading { .. }) => (None, Some(u.upload_id)),
            other => (other, None),
        };
        let upload = Upload {
            upload_id,
            flag: flag.to_string(),
            path: path.to_string(),
            status,
            for_link,
            restore: Vec::new(),
            replaced: replaced.map(|mut u| {
                u.replaced = None;
                Box::new(u)
            }),
        };
        self.by_path.insert(path.to_string(), upload);
        (upload_id, dropped)
    }

    /// The upload with id `upload_id`, if it is current (replies about a replaced one are
    /// ignored).
    fn by_id(&mut self, upload_id: u32) -> Option<&mut Upload> {
        self.by_path.values_mut().find(|u| u.upload_id == upload_id)
    }

    /// Records reading progress. A file being read again by a restarted worker stays as it was.
    pub(super) fn progress(&mut self, upload_id: u32, done: u64, total: u64) {
        if let Some(upload) = self.by_id(upload_id)
            && matches!(upload.status, UploadStatus::Loading { .. })
        {
            upload.status = UploadStatus::Loading { done, total };
        }
    }
}

/// How the run uses a trace: which of its columns the workload takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceMode {
    /// Every request of the trace at its own arrival time (trace replay).
    Replay,
    /// Its request lengths, at the arrival rate the interval generator sets.
    Lengths,
    /// Its arrival times only; lengths come from the length generator.
    Arrivals,
}

/// The flag through which the run replays a trace.
pub const REPLAY_FLAG: &str = "trace_request_generator_config_trace_file";
/// The flag through which the run takes a trace's lengths.
pub const LENGTHS_FLAG: &str = "trace_request_length_generator_config_trace_file";
/// The flag through which the run takes a trace's arrival times.
pub const ARRIVALS_FLAG: &str = "trace_request_interval_generator_config_trace_file";

impl TraceMode {
    /// The modes in the order the page offers them.
    pub const ALL: [TraceMode; 3] = [TraceMode::Replay, TraceMode::Lengths, TraceMode::Arrivals];

    /// The value of its radio button.
    pub fn id(self) -> &'static str {
        match self {
            TraceMode::Replay => "replay",
            TraceMode::Lengths => "lengths",
            TraceMode::Arrivals => "arrivals",
        }
    }

    /// How `form` uses the trace at `path`, if it reads it: replay, else lengths (with or
    /// without its arrival times), else arrival times alone.
    pub fn of(form: &FormState, path: &str) -> Option<TraceMode> {
        let reads: Vec<&str> =
            form.active_trace_fields().into_iter().filter(|(_, text)| text == path).map(|(f, _)| f).collect();
        if reads.contains(&REPLAY_FLAG) {
            Some(TraceMode::Replay)
        } else if reads.contains(&LENGTHS_FLAG) {
            Some(TraceMode::Lengths)
        } else if reads.contains(&ARRIVALS_FLAG) {
            Some(TraceMode::Arrivals)
        } else {
            None
        }
    }
}

impl Page {
    /// Sends `size` bytes of `content` to the worker under `path`, for `flag`.
    pub fn upload(&mut self, flag: &str, path: &str, size: u64, content: Content) -> Vec<Effect> {
        let (upload_id, dropped) = self.uploads.begin(flag, path, size, None);
        self.notice = None;
        let forget = dropped.map(|upload_id| Effect::ForgetUpload { upload_id });
        let load = Effect::LoadFile { upload_id, flag: flag.to_string(), path: path.to_string(), content };
        forget.into_iter().chain([load]).collect()
    }

    /// A file picked with a field's upload button: the field names it, and it is uploaded. A
    /// field that reads a file a share link asks for keeps the link's name until the file is
    /// checked against it.
    pub fn pick_file(&mut self, flag: &str, name: &str, size: u64) -> Vec<Effect> {
        let before = self.form.clone();
        let current = self.field_text(flag);
        let for_link = self.uploads.link_file_for(name, |f| f.path == current);
        if for_link.is_none() {
            self.set_field(flag, name);
        }
        self.begin_upload(flag, name, size, for_link, &before)
    }

    /// A trace dropped on (or picked for) the workload: it feeds every active trace field;
    /// with none active the workload switches to replaying it. A file chosen for a share link's
    /// run is read under its own name and checked against the link's before the run uses it.
    pub fn upload_trace(&mut self, name: &str, size: u64) -> Vec<Effect> {
        let before = self.form.clone();
        let trace_fields: Vec<String> =
            self.form.active_trace_fields().into_iter().map(|(_, text)| text).collect();
        let for_link = self.uploads.link_file_for(name, |f| trace_fields.contains(&f.path));
        let active = |form: &FormState| -> Vec<&'static str> {
            form.active_trace_fields().into_iter().map(|(f, _)| f).collect()
        };
        let targets = match &for_link {
            Some(link) => self
                .form
                .active_trace_fields()
                .into_iter()
                .filter(|(_, t)| *t == link.path)
                .map(|(f, _)| f)
                .collect(),
            None => {
                let mut targets = active(&self.form);
                if targets.is_empty() {
                    self.form.set("request_generator_config_type", "trace");
                    targets = active(&self.form);
                }
                for flag in &targets {
                    self.form.set(flag, name);
                }
                targets
            }
        };
        self.run_errors.clear();
        let Some(flag) = targets.first() else { return Vec::new() };
        self.begin_upload(flag, name, size, for_link, &before)
    }

    /// Starts an upload whose action changed the form from `before`.
    fn begin_upload(
        &mut self,
        flag: &str,
        name: &str,
        size: u64,
        for_link: Option<SharedFile>,
        before: &FormState,
    ) -> Vec<Effect> {
        let restore = self.form.changes_since(before);
        let (upload_id, dropped) = self.uploads.begin(flag, name, size, for_link);
        if let Some(upload) = self.uploads.by_id(upload_id) {
            upload.restore = restore;
        }
        self.notice = None;
        let forget = dropped.map(|upload_id| Effect::ForgetUpload { upload_id });
        let load = Effect::LoadFile {
            upload_id,
            flag: flag.to_string(),
            path: name.to_string(),
            content: Content::Given,
        };
        forget.into_iter().chain([load]).collect()
    }

    /// Uses a pasted Hugging Face config.json for `flag`: refused at once unless it is a JSON
    /// object; named after its `_name_or_path` (else its `model_type`), so the run says which
    /// model it is; kept, so share links can carry it.
    pub fn use_pasted_config(&mut self, flag: &str, text: &str) -> Result<Vec<Effect>, String> {
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
        let path = format!("{}.json", file_stem(model));
        self.uploads.pasted.insert(path.clone(), text.to_string());
        self.set_field(flag, &path);
        // The model name field names the model in the report; a preset's catalogue name would
        // mislabel the pasted architecture.
        self.set_field("replica_config_model_name", model);
        Ok(self.upload(flag, &path, text.len() as u64, Content::Text(text.to_string())))
    }

    /// Loads a text a share link carries under `path`, for the flag of the form that reads it.
    pub(super) fn upload_link_text(&mut self, path: &str, text: &str) -> Vec<Effect> {
        let flag = self
            .form
            .required_files()
            .into_iter()
            .find(|(_, p)| p == path)
            .map_or("replica_config_model_config_file", |(flag, _)| flag);
        self.uploads.pasted.insert(path.to_string(), text.to_string());
        self.upload(flag, path, text.len() as u64, Content::Text(text.to_string()))
    }

    /// Records a read upload. One meant for a share link's file is used only if its size and
    /// hash are the link's (under its own name when only the name differs); otherwise it waits
    /// for the user's confirmation. The upload it replaced is forgotten.
    pub(super) fn on_file_loaded(&mut self, upload_id: u32, info: FileInfo, elapsed_ms: f64) -> Vec<Effect> {
        let Some(upload) = self.uploads.by_id(upload_id) else { return Vec::new() };
        let mut effects = Vec::new();
        if let Some(old) = upload.replaced.take() {
            effects.push(Effect::ForgetUpload { upload_id: old.upload_id });
        }
        let (path, flag, for_link) = (upload.path.clone(), upload.flag.clone(), upload.for_link.clone());
        match for_link {
            Some(link) if link.size == info.size && link.sha256 == info.sha256 => {
                upload.status = UploadStatus::Loaded { info, elapsed_ms };
                upload.for_link = None;
                if link.path != path {
                    self.notice = Some(format!(
                        "{path} has the size and SHA-256 of the link's {}: it is used under its own name.",
                        link.path
                    ));
                }
                effects.extend(self.satisfy_link_file(&link, &path));
            }
            Some(expected) => {
                upload.status = UploadStatus::Mismatch { info, elapsed_ms, expected };
                return effects;
            }
            None => upload.status = UploadStatus::Loaded { info, elapsed_ms },
        }
        self.uploads.rejected.remove(&flag);
        if is_trace_flag(&flag) {
            self.uploads.last_trace = Some(path);
        }
        effects
    }

    /// The link's file `link` is now `path` (checked, or confirmed by the user): the fields
    /// that read the link's name read it, the link asks for it no more, and uploads that were
    /// waiting to stand for it are dropped.
    fn satisfy_link_file(&mut self, link: &SharedFile, path: &str) -> Vec<Effect> {
        if link.path != path {
            let readers: Vec<&'static str> = self
                .form
                .required_files()
                .into_iter()
                .filter(|(_, p)| *p == link.path)
                .map(|(f, _)| f)
                .collect();
            for flag in readers {
                self.form.set(flag, path);
            }
        }
        self.uploads.expected.retain(|f| f != link);
        let stale: Vec<String> = self
            .uploads
            .by_path
            .values()
            .filter(|u| u.path != path)
            .filter(|u| matches!(&u.status, UploadStatus::Mismatch { expected, .. } if expected == link))
            .map(|u| u.path.clone())
            .collect();
        stale
            .into_iter()
            .filter_map(|p| self.uploads.by_path.remove(&p))
            .map(|u| Effect::ForgetUpload { upload_id: u.upload_id })
            .collect()
    }

    /// Uses the upload under `path` although it differs from the share link's file: the link's
    /// run then reads it under its own name (a share link of the run says so), and runs if
    /// everything else is in.
    pub fn use_mismatched(&mut self, path: &str, now_ms: f64) -> Vec<Effect> {
        let Some(upload) = self.uploads.by_path.get_mut(path) else { return Vec::new() };
        let UploadStatus::Mismatch { info, elapsed_ms, expected } = upload.status.clone() else {
            return Vec::new();
        };
        upload.status = UploadStatus::Loaded { info, elapsed_ms };
        upload.for_link = None;
        let flag = upload.flag.clone();
        let mut effects = self.satisfy_link_file(&expected, path);
        if is_trace_flag(&flag) {
            self.uploads.last_trace = Some(path.to_string());
        }
        effects.extend(self.try_autorun(now_ms));
        effects
    }

    /// The worker could not read or parse an upload: the page goes back to what it read
    /// before (the fields the upload had pointed at their new file, and a file it was to
    /// replace), and keeps the rejection to say why.
    pub(super) fn on_file_failed(&mut self, upload_id: u32, error: FileError) -> Vec<Effect> {
        let Some(path) =
            self.uploads.by_path.values().find(|u| u.upload_id == upload_id).map(|u| u.path.clone())
        else {
            return Vec::new();
        };
        let Some(upload) = self.uploads.by_path.remove(&path) else { return Vec::new() };
        if let Some(old) = upload.replaced {
            self.uploads.by_path.insert(path.clone(), *old);
        }
        for (flag, before, after) in &upload.restore {
            if self.field_text(flag) == *after {
                self.form.set(flag, before);
            }
        }
        let now_reads = self.field_text(&upload.flag);
        let kept = (now_reads != path && self.uploads.is_provided(&now_reads)).then_some(now_reads);
        let kept = kept.or_else(|| self.uploads.is_available(&path).then(|| path.clone()));
        self.uploads.rejected.insert(upload.flag.clone(), Rejection { name: path, error, kept });
        vec![Effect::ForgetUpload { upload_id }]
    }

    /// Makes the workload use the trace at `path` as `mode` says: replay it, take its lengths
    /// at the interval generator's rate, or take its arrival times with the length generator's
    /// lengths.
    pub fn set_trace_mode(&mut self, path: &str, mode: TraceMode) {
        let reads = |page: &Page, flag: &str| page.field_text(flag) == path;
        match mode {
            TraceMode::Replay => {
                self.set_field("request_generator_config_type", "trace");
                self.set_field(REPLAY_FLAG, path);
            }
            TraceMode::Lengths => {
                self.set_field("request_generator_config_type", "synthetic");
                self.set_field("length_generator_config_type", "trace");
                self.set_field(LENGTHS_FLAG, path);
                if self.field_text("interval_generator_config_type") == "trace" && reads(self, ARRIVALS_FLAG)
                {
                    self.set_field("interval_generator_config_type", "poisson");
                }
            }
            TraceMode::Arrivals => {
                self.set_field("request_generator_config_type", "synthetic");
                self.set_field("interval_generator_config_type", "trace");
                self.set_field(ARRIVALS_FLAG, path);
                if self.field_text("length_generator_config_type") == "trace" && reads(self, LENGTHS_FLAG) {
                    self.set_field("length_generator_config_type", "fixed");
                }
            }
        }
    }
}

/// What differs between a file read for a share link and the link's file, in words:
/// `name, size and SHA-256 differ`.
pub fn mismatch_text(info: &FileInfo, expected: &SharedFile) -> String {
    let mut parts = Vec::new();
    if info.path != expected.path {
        parts.push("name");
    }
    if info.size != expected.size {
        parts.push("size");
    }
    if info.sha256 != expected.sha256 {
        parts.push("SHA-256");
    }
    let what = match parts.as_slice() {
        [] => "nothing differs".to_string(),
        [one] => format!("its {one} differs"),
        [init @ .., last] => format!("its {} and {last} differ", init.join(", ")),
    };
    format!(
        "The link's run read {}; you chose {} ({}, sha256 {}…): {what}.",
        expected.describe(),
        info.path,
        format_bytes(info.size),
        &info.sha256[..info.sha256.len().min(12)]
    )
}

/// A file name for a model id: its last `/` part, with characters other than ASCII letters,
/// digits and `._-` replaced by `-`.
fn file_stem(model: &str) -> String {
    let stem = model.rsplit('/').next().unwrap_or(model);
    stem.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' }).collect()
}
