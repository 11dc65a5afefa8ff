//! Request traces: Vidur's processed CSV, Mooncake JSONL and the Azure LLM inference CSV,
//! detected from content, and arrival times alone for the interval trace
//! ([`read_arrival_times`]). Parse errors name the file, the line and the column.

mod arrivals;
mod azure;
mod csv_table;
mod datetime;
mod mooncake;
mod summary;
mod values;
mod vidur;

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use crate::limits::MAX_REQUEST_TOKENS;

pub use arrivals::{
    ArrivalClock, ArrivalTimes, TimePoint, epoch_reading, format_instant, parse_time_point,
    read_arrival_times, seconds_to_ns,
};
pub use summary::{TraceSummary, summarize};

/// Which format a trace was read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceFormat {
    /// Vidur's processed CSV: `num_prefill_tokens,num_decode_tokens[,arrived_at,session_id,block_size,block_hash_ids]`.
    VidurCsv,
    /// Mooncake JSONL: `timestamp` (ms), `input_length`, `output_length`, `hash_ids`.
    MooncakeJsonl,
    /// Azure LLM inference trace CSV: `TIMESTAMP,ContextTokens,GeneratedTokens`.
    AzureCsv,
}

/// Prefix identities of a request's KV blocks, at the granularity the trace used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockHashes {
    /// Tokens each id covers (16 in Vidur CSVs, 512 in Mooncake).
    pub tokens_per_id: u32,
    /// Ids in block order, from the first prompt token.
    pub ids: Arc<[u64]>,
}

/// One request of a trace.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceRow {
    /// Arrival in seconds from the trace's start (`None` for length-only traces).
    pub arrived_at: Option<f64>,
    /// Prompt tokens.
    pub num_prefill_tokens: u32,
    /// Output tokens.
    pub num_decode_tokens: u32,
    /// Session (conversation) id.
    pub session_id: Option<u64>,
    /// Block hash ids for prefix caching.
    pub block_hashes: Option<BlockHashes>,
    /// The 1-based line of the file where the row starts, for messages about it.
    pub line: u64,
}

/// A parsed trace.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// The file name or path it came from.
    pub name: String,
    /// Its format.
    pub format: TraceFormat,
    /// Its requests in file order.
    pub rows: Vec<TraceRow>,
    /// Non-fatal notes (e.g. rows whose arrivals go backwards).
    pub warnings: Vec<String>,
}

impl Trace {
    /// Whether every row has an arrival time.
    pub fn has_arrivals(&self) -> bool {
        !self.rows.is_empty() && self.rows.iter().all(|r| r.arrived_at.is_some())
    }

    /// Whether any row carries a session id.
    pub fn has_sessions(&self) -> bool {
        self.rows.iter().any(|r| r.session_id.is_some())
    }

    /// Whether any row carries block hashes.
    pub fn has_block_hashes(&self) -> bool {
        self.rows.iter().any(|r| r.block_hashes.is_some())
    }
}

/// A malformed trace: which file, row and column, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceError {
    /// The file.
    pub file: String,
    /// 1-based line in the file, if the error is about one.
    pub line: Option<u64>,
    /// The column (CSV header or JSON field), if the error is about one.
    pub column: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl TraceError {
    /// An error about `file`, at `line` and `column` when known.
    pub fn new(
        file: &str,
        line: Option<u64>,
        column: Option<&str>,
        message: impl Into<String>,
    ) -> TraceError {
        TraceError {
            file: file.to_string(),
            line,
            column: column.map(str::to_string),
            message: message.into(),
        }
    }
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ", row {line}")?;
        }
        if let Some(column) = &self.column {
            write!(f, ", column '{column}'")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for TraceError {}

/// Rows between two progress reports.
const PROGRESS_EVERY_ROWS: usize = 4096;

/// Bytes between two progress reports, for traces with long rows (the Mooncake CSV's average 6 kB).
const PROGRESS_EVERY_BYTES: usize = 2 << 20;

/// The format of a trace, judged from its first non-empty line; `None` when it is none of them.
pub fn detect_format(text: &str) -> Option<TraceFormat> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first = text.lines().find(|l| !l.trim().is_empty())?;
    if first.trim_start().starts_with('{') {
        return Some(TraceFormat::MooncakeJsonl);
    }
    let header: Vec<&str> = first.split(',').map(|h| h.trim().trim_matches('"').trim()).collect();
    if header.iter().any(|h| matches!(*h, "ContextTokens" | "GeneratedTokens")) {
        return Some(TraceFormat::AzureCsv);
    }
    if header.iter().any(|h| matches!(*h, "num_prefill_tokens" | "num_decode_tokens")) {
        return Some(TraceFormat::VidurCsv);
    }
    None
}

/// Parses a trace, detecting its format from its content (see [`detect_format`]).
///
/// `progress` is called every few thousand rows and once at the end with the number of bytes of
/// `text` consumed so far. A UTF-8 byte-order mark, CRLF line endings and blank lines are
/// accepted. Non-fatal findings (arrivals going backwards, zero-token rows) go to
/// [`Trace::warnings`].
pub fn parse_trace(name: &str, text: &str, progress: &mut dyn FnMut(usize)) -> Result<Trace, TraceError> {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let source = Source { name, offset: text.len() - body.len() };
    if body.trim().is_empty() {
        return Err(TraceError::new(name, None, None, "the file is empty"));
    }
    let mut progress = Progress::new(progress, source.offset);
    let format = detect_format(body).ok_or_else(|| {
        let line = body.lines().position(|l| !l.trim().is_empty()).map_or(1, |i| i as u64 + 1);
        let header = body.lines().nth(line as usize - 1).unwrap_or_default();
        let mut message = "unrecognised trace: expected a Vidur CSV (num_prefill_tokens,num_decode_tokens,...), Mooncake JSONL ({\"timestamp\", \"input_length\", ...}) or an Azure CSV (TIMESTAMP,ContextTokens,GeneratedTokens)".to_string();
        if header.split(',').any(|h| h.trim().trim_matches('"') == "arrived_at") {
            message.push_str(
                "; a CSV of arrival times alone only sets when requests arrive: use it as the interval generator's trace (--interval_generator_config_type trace --trace_request_interval_generator_config_trace_file)",
            );
        }
        TraceError::new(name, Some(line), None, message)
    })?;
    let (rows, mut warnings) = match format {
        TraceFormat::VidurCsv => vidur::parse(&source, body, &mut progress)?,
        TraceFormat::MooncakeJsonl => mooncake::parse(&source, body, &mut progress)?,
        TraceFormat::AzureCsv => azure::parse(&source, body, &mut progress)?,
    };
    if rows.is_empty() {
        return Err(TraceError::new(name, None, None, "the file has a header but no requests"));
    }
    check_request_sizes(&source, format, &rows)?;
    warnings.extend(arrival_and_length_warnings(&rows));
    progress.finish(text.len());
    Ok(Trace { name: name.to_string(), format, rows, warnings })
}

/// Refuses the first row whose prompt + output is larger than the largest request llmsim
/// simulates ([`MAX_REQUEST_TOKENS`]; each count alone was checked as it was read).
fn check_request_sizes(source: &Source, format: TraceFormat, rows: &[TraceRow]) -> Result<(), TraceError> {
    let max = u64::from(MAX_REQUEST_TOKENS);
    let Some(row) =
        rows.iter().find(|r| u64::from(r.num_prefill_tokens) + u64::from(r.num_decode_tokens) > max)
    else {
        return Ok(());
    };
    let (prompt, output) = match format {
        TraceFormat::VidurCsv => ("num_prefill_tokens", "num_decode_tokens"),
        TraceFormat::MooncakeJsonl => ("input_length", "output_length"),
        TraceFormat::AzureCsv => ("ContextTokens", "GeneratedTokens"),
    };
    Err(source.error(
        row.line,
        output,
        format!(
            "{prompt} {} + {output} {} = {} tokens is more than the largest request llmsim simulates ({max} tokens)",
            row.num_prefill_tokens,
            row.num_decode_tokens,
            u64::from(row.num_prefill_tokens) + u64::from(row.num_decode_tokens)
        ),
    ))
}

/// The file being read, for error messages.
struct Source<'a> {
    /// Its name.
    name: &'a str,
    /// Bytes before the parsed text (a byte-order mark), so progress counts the whole file.
    offset: usize,
}

impl Source<'_> {
    /// An error at `line` about `column`.
    fn error(&self, line: u64, column: &str, message: impl Into<String>) -> TraceError {
        TraceError::new(self.name, Some(line), Some(column), message)
    }

    /// An error at `line` about the line as a whole.
    fn line_error(&self, line: u64, message: impl Into<String>) -> TraceError {
        TraceError::new(self.name, Some(line), None, message)
    }
}

/// Reports progress every [`PROGRESS_EVERY_ROWS`] rows or [`PROGRESS_EVERY_BYTES`] bytes,
/// whichever comes first.
struct Progress<'p> {
    callback: &'p mut dyn FnMut(usize),
    offset: usize,
    rows_since_report: usize,
    reported: usize,
}

impl Progress<'_> {
    fn new(callback: &mut dyn FnMut(usize), offset: usize) -> Progress<'_> {
        Progress { callback, offset, rows_since_report: 0, reported: offset }
    }

    /// One more row was read; `consumed` bytes of the parsed text are behind it.
    fn row_done(&mut self, consumed: usize) {
        self.rows_since_report += 1;
        let position = self.offset + consumed;
        if self.rows_since_report == PROGRESS_EVERY_ROWS || position - self.reported >= PROGRESS_EVERY_BYTES {
            (self.callback)(position);
            self.rows_since_report = 0;
            self.reported = position;
        }
    }

    /// Parsing ended at `total` bytes: the last report, unless the last row already made it.
    fn finish(&mut self, total: usize) {
        if self.reported != total {
            (self.callback)(total);
        }
    }
}

/// Warnings every format shares: rows arriving before their predecessor, and zero-token rows.
fn arrival_and_length_warnings(rows: &[TraceRow]) -> Vec<String> {
    let mut warnings = Vec::new();
    let backwards: Vec<u64> = rows
        .windows(2)
        .filter(|pair| matches!((pair[0].arrived_at, pair[1].arrived_at), (Some(a), Some(b)) if b < a))
        .map(|pair| pair[1].line)
        .collect();
    if let Some(first) = backwards.first() {
        warnings.push(format!(
            "rows arriving earlier than the row before them: {} (the first at row {first}); replay sorts requests by arrival time",
            backwards.len()
        ));
    }
    let zero: Vec<u64> = rows
        .iter()
        .filter(|r| r.num_prefill_tokens == 0 || r.num_decode_tokens == 0)
        .map(|r| r.line)
        .collect();
    if let Some(first) = zero.first() {
        warnings.push(format!("rows with 0 prompt or 0 output tokens: {} (the first at row {first}); workloads raise them to 1 token", zero.len()));
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrival_times_alone_are_pointed_at_the_interval_generator() {
        let e = parse_trace("gaps.csv", "arrived_at\n0.5\n1.0\n", &mut |_| {}).unwrap_err();
        assert_eq!(e.line, Some(1));
        assert!(e.message.contains("--interval_generator_config_type trace"), "{e}");
        let e = parse_trace("x.csv", "prompt,output\n1,2\n", &mut |_| {}).unwrap_err();
        assert!(!e.message.contains("interval"), "{e}");
    }

    #[test]
    fn detects_each_format_from_its_first_non_empty_line() {
        assert_eq!(detect_format("\u{feff}\n\r\n  {\"timestamp\": 0}"), Some(TraceFormat::MooncakeJsonl));
        assert_eq!(
            detect_format("\"TIMESTAMP\",\"ContextTokens\",\"GeneratedTokens\"\r\n"),
            Some(TraceFormat::AzureCsv)
        );
        assert_eq!(detect_format("arrived_at, num_prefill_tokens\n"), Some(TraceFormat::VidurCsv));
        assert_eq!(detect_format("prompt,output\n"), None);
        assert_eq!(detect_format(" \n"), None);
    }

    #[test]
    fn a_request_larger_than_the_limit_is_refused_at_its_row() {
        // 2^32 - 1 + 1 tokens wrapped to 0 in u32 sums before the limit.
        let e =
            parse_trace("t.csv", "num_prefill_tokens,num_decode_tokens\n1,1\n4294967295,1\n", &mut |_| {})
                .unwrap_err();
        assert_eq!((e.line, e.column.as_deref()), (Some(3), Some("num_prefill_tokens")));
        assert!(
            e.message.contains("more than the largest request llmsim simulates (16777216 tokens)"),
            "{e}"
        );
        let e = parse_trace(
            "t.jsonl",
            "{\"timestamp\": 0, \"input_length\": 16777000, \"output_length\": 1000}\n",
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.jsonl, row 1, column 'output_length': input_length 16777000 + output_length 1000 = 16778000 tokens is more than the largest request llmsim simulates (16777216 tokens)"
        );
    }

    #[test]
    fn errors_read_as_file_row_column_message() {
        let e = TraceError::new("a.csv", Some(3), Some("num_decode_tokens"), "'-1' is negative");
        assert_eq!(e.to_string(), "a.csv, row 3, column 'num_decode_tokens': '-1' is negative");
        assert_eq!(
            TraceError::new("a.csv", None, None, "the file is empty").to_string(),
            "a.csv: the file is empty"
        );
    }
}
