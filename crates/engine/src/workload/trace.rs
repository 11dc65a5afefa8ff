//! Request traces: Vidur's processed CSV, Mooncake JSONL and the Azure LLM inference CSV,
//! detected from content. Parse errors name the file, the row and the column.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

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
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
    fn new(file: &str, line: Option<u64>, column: Option<&str>, message: impl Into<String>) -> TraceError {
        TraceError { file: file.to_string(), line, column: column.map(str::to_string), message: message.into() }
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

/// Parses a trace, detecting its format from its content. `progress` is called now and then
/// with the number of bytes consumed.
pub fn parse_trace(name: &str, text: &str, progress: &mut dyn FnMut(usize)) -> Result<Trace, TraceError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first = text.lines().find(|l| !l.trim().is_empty());
    let Some(first) = first else {
        return Err(TraceError::new(name, None, None, "the file is empty"));
    };
    if first.trim_start().starts_with('{') {
        return parse_mooncake(name, text, progress);
    }
    let header: Vec<&str> = first.split(',').map(|h| h.trim().trim_matches('"')).collect();
    if header.contains(&"ContextTokens") {
        return parse_azure(name, text, progress);
    }
    if header.contains(&"num_prefill_tokens") || header.contains(&"num_decode_tokens") {
        return parse_vidur(name, text, progress);
    }
    Err(TraceError::new(
        name,
        Some(1),
        None,
        "unrecognised trace: expected a Vidur CSV (num_prefill_tokens,num_decode_tokens,...), Mooncake JSONL ({\"timestamp\", \"input_length\", ...}) or an Azure CSV (TIMESTAMP,ContextTokens,GeneratedTokens)",
    ))
}

fn parse_vidur(name: &str, text: &str, progress: &mut dyn FnMut(usize)) -> Result<Trace, TraceError> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| TraceError::new(name, Some(1), None, e.to_string()))?.clone();
    let col = |h: &str| headers.iter().position(|x| x == h);
    let need = |h: &str| col(h).ok_or_else(|| TraceError::new(name, Some(1), Some(h), "required column is missing"));
    let prefill = need("num_prefill_tokens")?;
    let decode = need("num_decode_tokens")?;
    let arrived = col("arrived_at");
    let session = col("session_id");
    let block_size = col("block_size");
    let hashes = col("block_hash_ids");
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|p| p.line());
                return Err(TraceError::new(name, line, None, e.to_string()));
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: usize, h: &str| -> Result<&str, TraceError> {
            record.get(i).filter(|s| !s.is_empty()).ok_or_else(|| TraceError::new(name, Some(line), Some(h), "value is missing"))
        };
        let count = |i: usize, h: &str| -> Result<u32, TraceError> {
            let s = field(i, h)?;
            let x: f64 = s.parse().map_err(|_| TraceError::new(name, Some(line), Some(h), format!("'{s}' is not a number")))?;
            if !(x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= f64::from(u32::MAX)) {
                return Err(TraceError::new(name, Some(line), Some(h), format!("'{s}' is not a non-negative whole number")));
            }
            Ok(x as u32)
        };
        let row_prefill = count(prefill, "num_prefill_tokens")?;
        let row_decode = count(decode, "num_decode_tokens")?;
        let arrived_at = match arrived {
            Some(i) => {
                let s = field(i, "arrived_at")?;
                let x: f64 = s.parse().map_err(|_| TraceError::new(name, Some(line), Some("arrived_at"), format!("'{s}' is not a number")))?;
                if !(x.is_finite() && x >= 0.0) {
                    return Err(TraceError::new(name, Some(line), Some("arrived_at"), format!("'{s}' is not a non-negative time in seconds")));
                }
                Some(x)
            }
            None => None,
        };
        let session_id = match session {
            Some(i) if record.get(i).is_some_and(|s| !s.is_empty()) => Some(u64::from(count(i, "session_id")?)),
            _ => None,
        };
        let block_hashes = match hashes {
            Some(i) if record.get(i).is_some_and(|s| !s.is_empty()) => {
                let tokens_per_id = match block_size {
                    Some(b) => count(b, "block_size")?,
                    None => 16,
                };
                if tokens_per_id == 0 {
                    return Err(TraceError::new(name, Some(line), Some("block_size"), "must be at least 1"));
                }
                let s = field(i, "block_hash_ids")?;
                let ids: Vec<u64> = serde_json::from_str(s)
                    .map_err(|_| TraceError::new(name, Some(line), Some("block_hash_ids"), "is not a JSON list of non-negative integers"))?;
                Some(BlockHashes { tokens_per_id, ids: ids.into() })
            }
            _ => None,
        };
        rows.push(TraceRow { arrived_at, num_prefill_tokens: row_prefill, num_decode_tokens: row_decode, session_id, block_hashes });
        if rows.len() % 4096 == 0 {
            progress(record.position().map_or(0, |p| p.byte() as usize));
        }
    }
    if rows.is_empty() {
        return Err(TraceError::new(name, None, None, "the trace has a header but no requests"));
    }
    progress(text.len());
    Ok(Trace { name: name.to_string(), format: TraceFormat::VidurCsv, rows, warnings: Vec::new() })
}

fn parse_mooncake(name: &str, _text: &str, _progress: &mut dyn FnMut(usize)) -> Result<Trace, TraceError> {
    Err(TraceError::new(name, None, None, "Mooncake JSONL traces are not supported yet"))
}

fn parse_azure(name: &str, _text: &str, _progress: &mut dyn FnMut(usize)) -> Result<Trace, TraceError> {
    Err(TraceError::new(name, None, None, "Azure CSV traces are not supported yet"))
}
