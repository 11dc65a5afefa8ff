//! Mooncake JSONL: one object a line with `timestamp` (ms), `input_length`, `output_length` and
//! `hash_ids` (ids of 512-token prompt blocks); sessions are derived from the first two blocks.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::values::{parse_count, parse_id_list, parse_non_negative};
use super::{BlockHashes, Progress, Source, TraceError, TraceRow};

/// Tokens each Mooncake hash id covers.
pub(super) const MOONCAKE_TOKENS_PER_ID: u32 = 512;

/// One line's fields, kept as raw JSON text so that each is checked by the same parsers as the
/// CSV formats and a bad one is named in the error.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow)]
    input_length: Option<&'a RawValue>,
    #[serde(borrow)]
    output_length: Option<&'a RawValue>,
    #[serde(borrow)]
    hash_ids: Option<&'a RawValue>,
}

/// A conversation's identity: its first one or two prompt blocks.
type SessionKey = (u64, Option<u64>);

/// Reads the rows of a Mooncake JSONL trace.
pub(super) fn parse(
    source: &Source,
    text: &str,
    progress: &mut Progress,
) -> Result<(Vec<TraceRow>, Vec<String>), TraceError> {
    let mut rows = Vec::new();
    let mut sessions: FxHashMap<SessionKey, u64> = FxHashMap::default();
    let mut ids = Vec::new();
    let mut mismatched_blocks: Vec<u64> = Vec::new();
    let mut consumed = 0;
    for (index, (raw_line, ending)) in split_lines(text).enumerate() {
        consumed += raw_line.len() + ending;
        let json = raw_line.trim();
        if json.is_empty() {
            continue;
        }
        let line = index as u64 + 1;
        // serde would also read a JSON array into the struct, field by position; refuse it.
        if !json.starts_with('{') {
            return Err(
                source.line_error(line, "is not a JSON object (each line of a Mooncake trace is one {...})")
            );
        }
        let fields: Line =
            serde_json::from_str(json).map_err(|e| source.line_error(line, json_message(&e)))?;
        let timestamp_ms = field(source, line, "timestamp", fields.timestamp, parse_non_negative)?;
        let num_prefill_tokens = field(source, line, "input_length", fields.input_length, parse_count)?;
        let num_decode_tokens = field(source, line, "output_length", fields.output_length, parse_count)?;
        let (session_id, block_hashes) = match fields.hash_ids {
            Some(raw) => {
                parse_id_list(raw.get(), &mut ids).map_err(|m| source.error(line, "hash_ids", m))?;
                if ids.len() as u64
                    != u64::from(num_prefill_tokens).div_ceil(u64::from(MOONCAKE_TOKENS_PER_ID))
                {
                    mismatched_blocks.push(line);
                }
                let session_id = ids.first().map(|&first| {
                    let next = sessions.len() as u64;
                    *sessions.entry((first, ids.get(1).copied())).or_insert(next)
                });
                (
                    session_id,
                    Some(BlockHashes {
                        tokens_per_id: MOONCAKE_TOKENS_PER_ID,
                        ids: Arc::from(ids.as_slice()),
                    }),
                )
            }
            None => (None, None),
        };
        rows.push(TraceRow {
            arrived_at: Some(timestamp_ms / 1000.0),
            num_prefill_tokens,
            num_decode_tokens,
            session_id,
            block_hashes,
            line,
        });
        progress.row_done(consumed.min(text.len()));
    }
    let mut warnings = Vec::new();
    if let Some(first) = mismatched_blocks.first() {
        warnings.push(format!(
            "rows whose hash_ids do not number ceil(input_length / {MOONCAKE_TOKENS_PER_ID}): {} (the first at row {first})",
            mismatched_blocks.len()
        ));
    }
    Ok((rows, warnings))
}

/// The lines of `text` with the length of each one's ending: LF, CRLF or a lone CR.
fn split_lines(text: &str) -> impl Iterator<Item = (&str, usize)> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\n', '\r']) {
            Some(end) => {
                let ending = if current[end..].starts_with("\r\n") { 2 } else { 1 };
                rest = Some(&current[end + ending..]);
                Some((&current[..end], ending))
            }
            None => {
                rest = None;
                Some((current, 1))
            }
        }
    })
}

/// A required field parsed by `parse`, its absence or bad value placed at `line` and `name`.
fn field<T>(
    source: &Source,
    line: u64,
    name: &str,
    value: Option<&RawValue>,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, TraceError> {
    let text = value.ok_or_else(|| source.error(line, name, "required field is missing"))?.get();
    parse(text).map_err(|message| source.error(line, name, message))
}

/// serde_json's message without its "at line 1 column N" suffix (each line is parsed alone),
/// with the column given as a character position instead.
fn json_message(error: &serde_json::Error) -> String {
    let full = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full);
    format!("malformed JSON at character {}: {message}", error.column())
}

#[cfg(test)]
mod tests {
    use super::super::{Trace, TraceFormat, parse_trace};
    use super::*;

    fn parse_ok(text: &str) -> Trace {
        parse_trace("m.jsonl", text, &mut |_| {}).unwrap_or_else(|e| panic!("{e}"))
    }

    fn parse_err(text: &str) -> (Option<u64>, Option<String>, String) {
        let e = parse_trace("m.jsonl", text, &mut |_| {}).expect_err("should fail");
        (e.line, e.column, e.message)
    }

    const TWO: &str = "{\"timestamp\": 0, \"input_length\": 600, \"output_length\": 5, \"hash_ids\": [0, 1]}\n\
                       {\"timestamp\": 1500, \"input_length\": 1000, \"output_length\": 7, \"hash_ids\": [0, 2]}\n";

    #[test]
    fn lines_end_at_lf_crlf_or_a_lone_cr() {
        for end in ["\n", "\r\n", "\r"] {
            let text = TWO.replace('\n', end);
            assert_eq!(parse_ok(&text).rows.iter().map(|r| r.line).collect::<Vec<_>>(), [1, 2], "{end:?}");
            let bad =
                format!("{text}{end}{{\"timestamp\": -1, \"input_length\": 1, \"output_length\": 1}}{end}");
            let (line, column, _) = parse_err(&bad);
            assert_eq!((line, column.as_deref()), (Some(4), Some("timestamp")), "{end:?}");
        }
    }

    #[test]
    fn reads_fields_and_converts_milliseconds() {
        let t = parse_ok(TWO);
        assert_eq!(t.format, TraceFormat::MooncakeJsonl);
        assert_eq!(t.rows.len(), 2);
        let r = &t.rows[1];
        assert_eq!(
            (r.arrived_at, r.num_prefill_tokens, r.num_decode_tokens, r.line),
            (Some(1.5), 1000, 7, 2)
        );
        assert_eq!(r.block_hashes, Some(BlockHashes { tokens_per_id: 512, ids: Arc::from(&[0u64, 2][..]) }));
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    }

    #[test]
    fn sessions_number_distinct_first_two_blocks_in_order_of_appearance() {
        let line = |ids: &str| {
            format!("{{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": {ids}}}\n")
        };
        let text: String = ["[0, 1, 2]", "[0, 3]", "[0, 1, 4, 5]", "[7]", "[7, 8]", "[7]", "[]", "[0, 3, 9]"]
            .map(line)
            .concat();
        let t = parse_ok(&text);
        let sessions: Vec<Option<u64>> = t.rows.iter().map(|r| r.session_id).collect();
        assert_eq!(sessions, [Some(0), Some(1), Some(0), Some(2), Some(3), Some(2), None, Some(1)]);
        assert_eq!(t.warnings.len(), 1, "block counts do not match input_length 1: {:?}", t.warnings);
    }

    #[test]
    fn hash_ids_are_optional_and_extra_fields_ignored() {
        let t =
            parse_ok("{\"timestamp\": 2.5, \"input_length\": 3.0, \"output_length\": 4, \"model\": \"x\"}\n");
        let r = &t.rows[0];
        assert_eq!(
            (r.arrived_at, r.num_prefill_tokens, r.session_id, &r.block_hashes),
            (Some(0.0025), 3, None, &None)
        );
    }

    #[test]
    fn accepts_bom_crlf_and_blank_lines() {
        let t = parse_ok(&format!("\u{feff}\r\n{}\r\n\r\n", TWO.replace('\n', "\r\n").trim_end()));
        assert_eq!(t.rows.len(), 2);
        assert_eq!((t.rows[0].line, t.rows[1].line), (2, 3));
    }

    #[test]
    fn missing_and_bad_fields_name_line_and_field() {
        let first = "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [0]}\n";
        let cases = [
            ("{\"input_length\": 1, \"output_length\": 1}", "timestamp", "required field is missing"),
            (
                "{\"timestamp\": 0, \"input_length\": null, \"output_length\": 1}",
                "input_length",
                "required field is missing",
            ),
            ("{\"timestamp\": 0, \"input_length\": 1}", "output_length", "required field is missing"),
            (
                "{\"timestamp\": 0, \"input_length\": \"12\", \"output_length\": 1}",
                "input_length",
                "'\"12\"' is not a number",
            ),
            (
                "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": -4}",
                "output_length",
                "'-4' is negative",
            ),
            (
                "{\"timestamp\": 0, \"input_length\": 1.5, \"output_length\": 1}",
                "input_length",
                "'1.5' is not a whole number",
            ),
            (
                "{\"timestamp\": -1, \"input_length\": 1, \"output_length\": 1}",
                "timestamp",
                "'-1' is negative",
            ),
            (
                "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [0, -1]}",
                "hash_ids",
                "id at character 5 is negative",
            ),
            (
                "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": 5}",
                "hash_ids",
                "is not a list of ids: expected '[' at character 1, found '5'",
            ),
        ];
        for (bad, column, message) in cases {
            assert_eq!(
                parse_err(&format!("{first}{bad}\n")),
                (Some(2), Some(column.into()), message.into()),
                "{bad}"
            );
        }
    }

    #[test]
    fn malformed_json_names_the_line() {
        let (line, column, message) = parse_err(&format!("{TWO}{{\"timestamp\": 0, \"input_length\": 1,\n"));
        assert_eq!((line, column), (Some(3), None));
        assert!(message.starts_with("malformed JSON at character "), "{message}");
        assert!(!message.contains("line 1"), "{message}");
        let (line, _, message) = parse_err(&format!("{TWO}[0, 1, 2, 3]\n"));
        assert_eq!(line, Some(3));
        assert!(message.starts_with("is not a JSON object"), "{message}");
    }
}
