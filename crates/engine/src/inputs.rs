//! Input files handed to the engine by its caller: the engine reads no files itself.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::limits::{BYTES_PER_TRACE_ROW, MAX_INPUT_FILE_BYTES, describe_bytes};
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

    /// Adds a file's raw contents under `path`: its text when it is UTF-8 (a byte-order mark is
    /// kept, and skipped by the readers) and within [`MAX_INPUT_FILE_BYTES`]; otherwise the
    /// reason it cannot be read, naming the row and column of the first byte that is not UTF-8.
    pub fn add_bytes(&mut self, path: impl Into<String>, bytes: Vec<u8>) {
        let path = path.into();
        if let Err(reason) = check_file_size(bytes.len() as u64) {
            self.add_unreadable(path, reason);
            return;
        }
        match decode_text(bytes) {
            Ok(text) => self.add_text(path, text),
            Err(e) => self.add_unreadable(path, e.to_string()),
        }
    }

    /// Memory the files take once read and parsed, estimated in bytes: each text twice (the
    /// text, and what is parsed from it, such as block hash ids) plus a trace row per line,
    /// and parsed traces' rows and ids.
    pub fn estimated_bytes(&self) -> u64 {
        let texts: u64 = self
            .texts
            .values()
            .map(|t| {
                let lines = t.as_bytes().iter().filter(|b| **b == b'\n').count() as u64 + 1;
                2 * t.len() as u64 + lines * BYTES_PER_TRACE_ROW
            })
            .sum();
        let traces: u64 = self
            .traces
            .values()
            .map(|t| {
                let ids: usize =
                    t.rows.iter().filter_map(|r| r.block_hashes.as_ref()).map(|h| h.ids.len()).sum();
                t.rows.len() as u64 * BYTES_PER_TRACE_ROW + 8 * ids as u64
            })
            .sum();
        texts.saturating_add(traces)
    }

    /// The text files' paths and sizes in bytes.
    pub fn text_sizes(&self) -> impl Iterator<Item = (&str, u64)> {
        self.texts.iter().map(|(path, text)| (path.as_str(), text.len() as u64))
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

/// Refuses a file larger than [`MAX_INPUT_FILE_BYTES`] (before reading it, when its size is
/// known): the reason, for [`Inputs::add_unreadable`].
pub fn check_file_size(bytes: u64) -> Result<(), String> {
    if bytes > MAX_INPUT_FILE_BYTES {
        return Err(format!(
            "the file is {}, larger than the {} llmsim reads",
            describe_bytes(bytes),
            describe_bytes(MAX_INPUT_FILE_BYTES)
        ));
    }
    Ok(())
}

/// A file that is not UTF-8 text, and where its first byte that is not lies: its row (lines
/// end at LF, CRLF or a lone CR, as the trace readers count them), the CSV column it falls in
/// when the first line is a CSV header, and its byte within the row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotUtf8 {
    /// 1-based row.
    pub row: u64,
    /// The CSV header's name for the column, when there is one.
    pub column: Option<String>,
    /// 1-based byte within the row.
    pub byte: usize,
}

impl std::fmt::Display for NotUtf8 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "row {}", self.row)?;
        if let Some(column) = &self.column {
            write!(f, ", column '{column}'")?;
        }
        write!(f, ", byte {}: the file is not UTF-8 text (save it as UTF-8)", self.byte)
    }
}

/// A file's bytes as text, or where they stop being UTF-8.
pub fn decode_text(bytes: Vec<u8>) -> Result<String, NotUtf8> {
    String::from_utf8(bytes).map_err(|e| not_utf8(e.as_bytes(), e.utf8_error().valid_up_to()))
}

fn not_utf8(bytes: &[u8], at: usize) -> NotUtf8 {
    let before = &bytes[..at];
    let mut row = 1u64;
    let mut line_start = 0;
    let mut i = 0;
    while i < before.len() {
        match before[i] {
            b'\n' => {
                row += 1;
                line_start = i + 1;
            }
            b'\r' if before.get(i + 1) != Some(&b'\n') => {
                row += 1;
                line_start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    NotUtf8 { row, column: csv_column_at(bytes, line_start, at), byte: at - line_start + 1 }
}

/// The header name of the CSV column that byte `at` (on the row starting at `line_start`) falls
/// in, when the file's first line is a comma-separated header of valid text.
fn csv_column_at(bytes: &[u8], line_start: usize, at: usize) -> Option<String> {
    let header_end = bytes.iter().position(|b| matches!(b, b'\n' | b'\r'))?;
    let header = std::str::from_utf8(&bytes[..header_end]).ok()?;
    let header = header.strip_prefix('\u{feff}').unwrap_or(header);
    if line_start == 0 || !header.contains(',') {
        return None;
    }
    let mut quoted = false;
    let mut index = 0;
    for &b in &bytes[line_start..at] {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => index += 1,
            _ => {}
        }
    }
    header.split(',').nth(index).map(|h| h.trim().trim_matches('"').to_string())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn unreadable(bytes: &[u8]) -> String {
        let mut inputs = Inputs::new();
        inputs.add_bytes("t.csv", bytes.to_vec());
        inputs.text("t.csv").unwrap_err()
    }

    #[test]
    fn text_that_is_not_utf8_is_refused_at_its_row_and_column() {
        assert_eq!(
            unreadable(b"num_prefill_tokens,num_decode_tokens\n1,2\n3,4\xff\n"),
            "cannot read t.csv: row 3, column 'num_decode_tokens', byte 4: the file is not UTF-8 text (save it as UTF-8)"
        );
        // CR-only and CRLF line endings count as the trace readers count them.
        assert!(
            unreadable(b"a,b\r1,2\r\n\xc3(,4").starts_with("cannot read t.csv: row 3, column 'a', byte 1:")
        );
        // A JSON line has no CSV columns.
        assert!(
            unreadable(b"{\"a\": 1}\n{\"b\": \"\xe9\"}").starts_with("cannot read t.csv: row 2, byte 8:")
        );
    }

    #[test]
    fn utf8_text_and_a_byte_order_mark_are_read() {
        let mut inputs = Inputs::new();
        inputs.add_bytes("t.csv", "\u{feff}a,b\n1,2\n".as_bytes().to_vec());
        assert_eq!(&*inputs.text("t.csv").unwrap(), "\u{feff}a,b\n1,2\n");
    }

    #[test]
    fn files_past_the_size_limit_are_refused() {
        assert!(check_file_size(MAX_INPUT_FILE_BYTES).is_ok());
        assert_eq!(
            check_file_size(MAX_INPUT_FILE_BYTES + (1 << 29)).unwrap_err(),
            "the file is 1.5 GiB, larger than the 1.0 GiB llmsim reads"
        );
    }
}
