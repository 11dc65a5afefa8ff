//! Uploads: the files the user gave this session (picked for a field, dropped on the trace
//! zone, pasted as a model's config.json, or named by a share link), by the name the
//! configuration refers to them by, with their progress and outcome.

use std::collections::BTreeMap;

use llmsim_protocol::{FileError, FileInfo};

use super::{Effect, Page};
use crate::form::FormState;
use crate::presets;
use crate::share::{MAX_LINK_TEXT, SharedFile};

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
    /// Matches the worker's replies; a newer upload under the same name has a new id, so the
    /// replies about the one it replaced are ignored.
    pub upload_id: u32,
    /// The flag it was uploaded for.
    pub flag: String,
    /// The name the configuration refers to it by.
    pub path: String,
    /// Progress or outcome.
    pub status: UploadStatus,
}

/// Where an upload's bytes come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    /// The file the user picked or dropped with the action (the browser holds it).
    Given,
    /// A text the page holds (pasted, or carried by a share link).
    Text(String),
}

/// The session's uploads and the files a share link asked for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Uploads {
    by_path: BTreeMap<String, Upload>,
    /// The last id handed out.
    last_id: u32,
    /// Files a share link said its run read, to be provided (and checked against the link).
    expected: Vec<SharedFile>,
    /// The trace dropped or picked last: a trace field that becomes active later (choosing
    /// trace replay after the upload) reads it rather than a file nobody uploaded.
    last_trace: Option<String>,
    /// Texts pasted into the page as files (a model's config.json), by name: small enough to
    /// travel in share links.
    pasted: BTreeMap<String, String>,
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
    /// validation calls only these files present, since an upload still being read or one that
    /// failed shows its own status at the field (a second "not provided" would mislead).
    pub fn is_provided(&self, path: &str) -> bool {
        presets::is_shipped(path) || self.by_path.contains_key(path)
    }

    /// The files a share link asked for, provided or not.
    pub fn expected(&self) -> &[SharedFile] {
        &self.expected
    }

    /// The paths of the files a share link asked for that no run can read yet.
    pub fn missing_expected(&self) -> Vec<String> {
        self.expected.iter().filter(|f| !self.is_available(&f.path)).map(|f| f.path.clone()).collect()
    }

    /// The trace uploaded last, if any.
    pub fn last_trace(&self) -> Option<&str> {
        self.last_trace.as_deref()
    }

    /// The text pasted under `path`, if any.
    pub fn pasted(&self, path: &str) -> Option<&str> {
        self.pasted.get(path).map(String::as_str)
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

    /// Replaces the files a share link asks for.
    pub(super) fn expect(&mut self, files: Vec<SharedFile>) {
        self.expected = files;
    }

    /// The first file of the link with `info`'s name whose size or hash differ from it.
    fn differs_from_link(&self, info: &FileInfo) -> Option<&SharedFile> {
        self.expected.iter().find(|f| f.path == info.path && (f.sha256 != info.sha256 || f.size != info.size))
    }

    /// Records a new upload of `size` bytes under `path`, replacing any earlier one; returns
    /// its id.
    fn begin(&mut self, flag: &str, path: &str, size: u64) -> u32 {
        self.last_id += 1;
        let upload_id = self.last_id;
        let status = UploadStatus::Loading { done: 0, total: 2 * size };
        let upload = Upload { upload_id, flag: flag.to_string(), path: path.to_string(), status };
        self.by_path.insert(path.to_string(), upload);
        upload_id
    }

    /// Sets the status of upload `upload_id`; replies about a replaced upload are ignored.
    pub(super) fn set_status(&mut self, upload_id: u32, status: UploadStatus) {
        if let Some(upload) = self.by_path.values_mut().find(|u| u.upload_id == upload_id) {
            upload.status = status;
        }
    }
}

impl Page {
    /// Sends `size` bytes of `content` to the worker under `path`, for `flag`.
    pub fn upload(&mut self, flag: &str, path: &str, size: u64, content: Content) -> Vec<Effect> {
        let upload_id = self.uploads.begin(flag, path, size);
        self.notice = None;
        vec![Effect::LoadFile { upload_id, flag: flag.to_string(), path: path.to_string(), content }]
    }

    /// A file picked with a field's upload button: the field names it, and it is uploaded.
    pub fn pick_file(&mut self, flag: &str, name: &str, size: u64) -> Vec<Effect> {
        self.set_field(flag, name);
        self.upload(flag, name, size, Content::Given)
    }

    /// A trace dropped on (or picked for) the workload: it feeds every active trace field;
    /// with none active the workload switches to replaying it. A share link's missing file
    /// keeps the link's name, so the restored configuration finds it.
    pub fn upload_trace(&mut self, name: &str, size: u64) -> Vec<Effect> {
        let missing = self.uploads.missing_expected();
        let path = if missing.len() == 1 { missing[0].clone() } else { name.to_string() };
        let active = |form: &FormState| -> Vec<&'static str> {
            form.active_trace_fields().into_iter().map(|(f, _)| f).collect()
        };
        let mut targets = active(&self.form);
        if targets.is_empty() {
            self.form.set("request_generator_config_type", "trace");
            targets = active(&self.form);
        }
        if missing.len() != 1 {
            for flag in &targets {
                self.form.set(flag, &path);
            }
        }
        self.run_errors.clear();
        let Some(flag) = targets.first() else { return Vec::new() };
        let effects = self.upload(flag, &path, size, Content::Given);
        self.uploads.last_trace = Some(path);
        effects
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

    /// Records a loaded upload, warning when it is not the file the share link was made with.
    pub(super) fn on_file_loaded(&mut self, upload_id: u32, info: FileInfo, elapsed_ms: f64) {
        if let Some(shared) = self.uploads.differs_from_link(&info) {
            self.notice = Some(format!(
                "{} differs from the file the link was made with ({}): results may differ.",
                info.path,
                shared.describe()
            ));
        }
        self.uploads.set_status(upload_id, UploadStatus::Loaded { info, elapsed_ms });
    }
}

/// A file name for a model id: its last `/` part, with characters other than ASCII letters,
/// digits and `._-` replaced by `-`.
fn file_stem(model: &str) -> String {
    let stem = model.rsplit('/').next().unwrap_or(model);
    stem.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' }).collect()
}
