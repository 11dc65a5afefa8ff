//! The finished runs as kept in the browser's storage, so that they survive a reload: a JSON
//! object with a schema version, the newest runs first up to a size bound. A run keeps what
//! its results show (summary, charts, warnings, `config.json`) and its share link; its bigger
//! downloads (`request_metrics.csv`, the Chrome trace) are not kept.

use std::sync::Arc;

use llmsim_protocol::RunResult;
use serde::{Deserialize, Serialize};

use super::RunRecord;

/// The storage key.
pub const KEY: &str = "llmsim.runs";

/// The version of the format below; a text of another version is dropped, not misread.
pub const SCHEMA: u32 = 1;

/// Most characters kept (browsers allow about 5 million per site); older runs beyond it are
/// not kept.
pub const MAX_CHARS: usize = 3_000_000;

#[derive(Serialize, Deserialize)]
struct Stored {
    schema: u32,
    /// Oldest first.
    runs: Vec<StoredRun>,
}

#[derive(Serialize, Deserialize)]
struct StoredRun {
    id: u32,
    label: String,
    share_query: String,
    wall_ms: f64,
    result: RunResult,
}

/// The text that keeps `records` (oldest first): the newest runs whose texts fit in
/// [`MAX_CHARS`]; empty when there is none.
pub fn encode(records: &[Arc<RunRecord>]) -> String {
    let mut kept: Vec<(StoredRun, usize)> = Vec::new();
    let mut total = 0;
    for r in records.iter().rev() {
        let run = StoredRun {
            id: r.id,
            label: r.label.clone(),
            share_query: r.share_query.clone(),
            wall_ms: r.wall_ms,
            result: r.result.clone(),
        };
        let size = serde_json::to_string(&run).map_or(usize::MAX, |t| t.len());
        if total + size > MAX_CHARS {
            break;
        }
        total += size;
        kept.push((run, size));
    }
    if kept.is_empty() {
        return String::new();
    }
    let runs = kept.into_iter().rev().map(|(run, _)| run).collect();
    serde_json::to_string(&Stored { schema: SCHEMA, runs }).expect("runs serialise")
}

/// The runs a text of [`encode`] keeps, oldest first, or why it cannot be read.
pub fn decode(text: &str) -> Result<Vec<RunRecord>, String> {
    let version: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let schema = version.get("schema").and_then(serde_json::Value::as_u64);
    if schema != Some(u64::from(SCHEMA)) {
        return Err(format!("format {schema:?}, this page reads format {SCHEMA}"));
    }
    // Read again from the text, not `from_value(version)`: the page then holds one copy of the
    // runs' deserialising code, not a second one for `Value` (BENCHMARKS.md, "Page weight
    // under 10^6 B").
    drop(version);
    let stored: Stored = serde_json::from_str(text).map_err(|e| e.to_string())?;
    Ok(stored
        .runs
        .into_iter()
        .map(|r| RunRecord {
            restored: true,
            ..RunRecord::new(r.id, r.label, r.result, r.share_query, r.wall_ms)
        })
        .collect())
}
