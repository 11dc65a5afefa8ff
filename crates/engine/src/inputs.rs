//! Input files handed to the engine by its caller: the engine reads no files itself.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::trace::{Trace, TraceError, parse_trace};

/// Files a run reads (traces, profile tables, model configs), keyed by the path the
/// configuration names. The CLI reads them from disk; the web page from uploads.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    texts: BTreeMap<String, Arc<str>>,
    traces: BTreeMap<String, Arc<Trace>>,
    unreadable: BTreeMap<String, String>,
}

impl Inputs {
    /// No files.
    pub fn new() -> Inputs {
        Inputs::default()
    }

    /// Adds a file's text under `path`.
    pub fn add_text(&mut self, path: impl Into<String>, text: impl Into<Arc<str>>) {
        self.texts.insert(path.into(), text.into());
    }

    /// Adds an already parsed trace under `path` (the web page parses uploads with progress).
    pub fn add_trace(&mut self, path: impl Into<String>, trace: Arc<Trace>) {
        self.traces.insert(path.into(), trace);
    }

    /// Records that `path` could not be read, so errors can say why.
    pub fn add_unreadable(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        self.unreadable.insert(path.into(), reason.into());
    }

    /// The text of `path`, or why it is not available.
    pub fn text(&self, path: &str) -> Result<Arc<str>, String> {
        if let Some(t) = self.texts.get(path) {
            return Ok(t.clone());
        }
        Err(self.missing(path))
    }

    /// Whether `path` was provided (as text or as a parsed trace).
    pub fn has(&self, path: &str) -> bool {
        self.texts.contains_key(path) || self.traces.contains_key(path)
    }

    /// The trace at `path`, parsing its text on first use.
    pub fn trace(&self, path: &str) -> Result<Arc<Trace>, TraceLoadError> {
        if let Some(t) = self.traces.get(path) {
            return Ok(t.clone());
        }
        let text = self.text(path).map_err(TraceLoadError::Missing)?;
        parse_trace(path, &text, &mut |_| {}).map(Arc::new).map_err(TraceLoadError::Invalid)
    }

    fn missing(&self, path: &str) -> String {
        match self.unreadable.get(path) {
            Some(reason) => format!("cannot read {path}: {reason}"),
            None => format!("file {path} was not provided"),
        }
    }
}

/// Why a trace could not be loaded.
#[derive(Clone, Debug)]
pub enum TraceLoadError {
    /// The file was not provided or could not be read.
    Missing(String),
    /// The file was read but is malformed.
    Invalid(TraceError),
}

impl std::fmt::Display for TraceLoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TraceLoadError::Missing(m) => write!(f, "{m}"),
            TraceLoadError::Invalid(e) => write!(f, "{e}"),
        }
    }
}
