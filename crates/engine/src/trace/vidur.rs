//! Vidur's processed CSV: `num_prefill_tokens`, `num_decode_tokens` and optional `arrived_at`,
//! `session_id`, `block_size`, `block_hash_ids`; other columns are ignored.

use std::sync::Arc;

use super::csv_table::CsvTable;
use super::values::{parse_count, parse_id_list, parse_non_negative, parse_whole};
use super::{BlockHashes, Progress, Source, TraceError, TraceRow};
use crate::limits::MAX_BLOCK_SIZE;

/// Tokens per block hash id when a trace has `block_hash_ids` but no `block_size` (Vidur's default).
const DEFAULT_BLOCK_SIZE: u32 = 16;

/// Reads the rows of a Vidur CSV.
pub(super) fn parse(
    source: &Source,
    text: &str,
    progress: &mut Progress,
) -> Result<(Vec<TraceRow>, Vec<String>), TraceError> {
    let mut table = CsvTable::new(source, text)?;
    let prefill = table.required("num_prefill_tokens")?;
    let decode = table.required("num_decode_tokens")?;
    let arrived = table.optional("arrived_at")?;
    let session = table.optional("session_id")?;
    let block_size = table.optional("block_size")?;
    let hashes = table.optional("block_hash_ids")?;
    let mut rows = Vec::new();
    // One buffer for every row's ids; each row then gets an exactly sized shared copy.
    let mut ids = Vec::new();
    while let Some(row) = table.next_row()? {
        let line = row.line();
        let num_prefill_tokens = row.parse(prefill, parse_count)?;
        let num_decode_tokens = row.parse(decode, parse_count)?;
        let arrived_at = arrived.map(|c| row.parse(c, parse_non_negative)).transpose()?;
        let session_id = session
            .filter(|&c| !row.is_blank(c))
            .map(|c| row.parse(c, |s| parse_whole(s, u64::MAX)))
            .transpose()?;
        let tokens_per_id = block_size
            .filter(|&c| !row.is_blank(c))
            .map(|c| row.parse(c, |s| parse_whole(s, u64::from(u32::MAX)).map(|x| x as u32)))
            .transpose()?;
        if tokens_per_id == Some(0) {
            return Err(source.error(line, "block_size", "'0' is not a block size (at least 1 token)"));
        }
        if let Some(size) = tokens_per_id.filter(|s| *s > MAX_BLOCK_SIZE) {
            return Err(source.error(
                line,
                "block_size",
                format!("{size} tokens is more than the largest block size llmsim simulates ({MAX_BLOCK_SIZE} tokens)"),
            ));
        }
        let block_hashes = match hashes.filter(|&c| !row.is_blank(c)) {
            Some(c) => {
                row.parse(c, |s| parse_id_list(s, &mut ids))?;
                Some(BlockHashes {
                    tokens_per_id: tokens_per_id.unwrap_or(DEFAULT_BLOCK_SIZE),
                    ids: Arc::from(ids.as_slice()),
                })
            }
            None => None,
        };
        rows.push(TraceRow {
            arrived_at,
            num_prefill_tokens,
            num_decode_tokens,
            session_id,
            block_hashes,
            line,
        });
        progress.row_done(row.end_byte());
    }
    Ok((rows, Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::super::{TraceFormat, parse_trace};
    use super::*;

    fn parse_ok(text: &str) -> super::super::Trace {
        parse_trace("t.csv", text, &mut |_| {}).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The error's (line, column, message).
    fn parse_err(text: &str) -> (Option<u64>, Option<String>, String) {
        let e = parse_trace("t.csv", text, &mut |_| {}).expect_err("should fail");
        assert_eq!(e.file, "t.csv");
        (e.line, e.column, e.message)
    }

    #[test]
    fn reads_lengths_only_traces_and_ignores_extra_columns() {
        let t = parse_ok(
            "num_prefill_tokens,num_decode_tokens,num_total_tokens,pd_ratio\n3772,54,3826,69.85\n2015.0,156,2171,12.9\n",
        );
        assert_eq!(t.format, TraceFormat::VidurCsv);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(
            (t.rows[1].num_prefill_tokens, t.rows[1].num_decode_tokens, t.rows[1].line),
            (2015, 156, 3)
        );
        assert!(!t.has_arrivals() && !t.has_sessions() && !t.has_block_hashes());
        assert!(t.warnings.is_empty());
    }

    #[test]
    fn reads_every_optional_column() {
        let t = parse_ok(
            "arrived_at,num_prefill_tokens,num_decode_tokens,session_id,block_size,block_hash_ids\n\
             0.000,40,5,0,16,\"[0, 1, 2]\"\n\
             1.5,20,3,7.0,32,[9]\n\
             2.5,20,3,,,\n",
        );
        let r = &t.rows;
        assert_eq!(r[0].arrived_at, Some(0.0));
        assert_eq!(r[0].session_id, Some(0));
        assert_eq!(
            r[0].block_hashes,
            Some(BlockHashes { tokens_per_id: 16, ids: Arc::from(&[0u64, 1, 2][..]) })
        );
        assert_eq!(r[1].session_id, Some(7));
        assert_eq!(r[1].block_hashes, Some(BlockHashes { tokens_per_id: 32, ids: Arc::from(&[9u64][..]) }));
        assert_eq!(
            (r[2].session_id, &r[2].block_hashes),
            (None, &None),
            "blank optional cells are absent values"
        );
    }

    #[test]
    fn hashes_without_block_size_use_vidur_default() {
        let t = parse_ok("num_prefill_tokens,num_decode_tokens,block_hash_ids\n16,1,[4]\n");
        assert_eq!(t.rows[0].block_hashes.as_ref().map(|h| h.tokens_per_id), Some(16));
    }

    #[test]
    fn accepts_bom_crlf_quoted_headers_spaces_and_blank_lines() {
        let t = parse_ok(
            "\u{feff}\"arrived_at\", num_prefill_tokens ,num_decode_tokens\r\n0.5, 10 ,2\r\n\r\n1.0,11,3\r\n\r\n  \r\n",
        );
        assert_eq!(t.rows.len(), 2);
        assert_eq!((t.rows[1].arrived_at, t.rows[1].num_prefill_tokens, t.rows[1].line), (Some(1.0), 11, 4));
    }

    #[test]
    fn line_numbers_count_blank_lines_with_any_line_ending() {
        // A lone CR (old Mac files) ends a line too: every error was at row 1 before.
        for end in ["\n", "\r\n", "\r"] {
            let text =
                ["", "num_prefill_tokens,num_decode_tokens", "1,1", "", "", "2,2", "3,x", ""].join(end);
            assert_eq!(
                parse_err(&text),
                (Some(7), Some("num_decode_tokens".into()), "'x' is not a number".into()),
                "{end:?}"
            );
            let good = parse_ok(&text.replace('x', "3"));
            assert_eq!(good.rows.iter().map(|r| r.line).collect::<Vec<_>>(), [3, 6, 7], "{end:?}");
        }
    }

    #[test]
    fn missing_required_column_names_it() {
        assert_eq!(
            parse_err("arrived_at,num_prefill_tokens\n0,1\n"),
            (
                Some(1),
                Some("num_decode_tokens".into()),
                "required column is missing (columns: arrived_at, num_prefill_tokens)".into()
            )
        );
    }

    #[test]
    fn duplicate_column_is_ambiguous() {
        let (line, column, message) =
            parse_err("num_prefill_tokens,num_decode_tokens,num_decode_tokens\n1,2,3\n");
        assert_eq!((line, column.as_deref()), (Some(1), Some("num_decode_tokens")));
        assert_eq!(message, "column appears more than once");
    }

    #[test]
    fn bad_counts_name_line_and_column() {
        let header = "arrived_at,num_prefill_tokens,num_decode_tokens\n";
        let cases = [
            ("0,abc,1", "num_prefill_tokens", "'abc' is not a number"),
            ("0,10,-1", "num_decode_tokens", "'-1' is negative"),
            ("0,374.5,1", "num_prefill_tokens", "'374.5' is not a whole number"),
            ("0,,1", "num_prefill_tokens", "value is missing"),
            ("-1,1,1", "arrived_at", "'-1' is negative"),
            ("soon,1,1", "arrived_at", "'soon' is not a number"),
        ];
        for (row, column, message) in cases {
            let text = format!("{header}0,1,1\n{row}\n");
            assert_eq!(parse_err(&text), (Some(3), Some(column.into()), message.into()), "{row}");
        }
    }

    #[test]
    fn bad_optional_values_name_line_and_column() {
        let header = "num_prefill_tokens,num_decode_tokens,session_id,block_size,block_hash_ids\n";
        let (line, column, message) = parse_err(&format!("{header}1,1,0,16,[0]\n1,1,-2,16,[0]\n"));
        assert_eq!(
            (line, column.as_deref(), message.as_str()),
            (Some(3), Some("session_id"), "'-2' is negative")
        );
        let (line, column, message) = parse_err(&format!("{header}1,1,0,0,[0]\n"));
        assert_eq!(
            (line, column.as_deref(), message.as_str()),
            (Some(2), Some("block_size"), "'0' is not a block size (at least 1 token)")
        );
        let (line, column, message) = parse_err(&format!("{header}1,1,0,131072,[0]\n"));
        assert_eq!(
            (line, column.as_deref(), message.as_str()),
            (
                Some(2),
                Some("block_size"),
                "131072 tokens is more than the largest block size llmsim simulates (65536 tokens)"
            )
        );
        let (line, column, message) = parse_err(&format!("{header}1,1,0,16,[0]\n1,1,0,16,\"[0, x]\"\n"));
        assert_eq!((line, column.as_deref()), (Some(3), Some("block_hash_ids")));
        assert_eq!(message, "expected an id at character 5, found 'x'");
        let (line, column, _) = parse_err(&format!("{header}1,1,0,16,\"[0, 1\"\n"));
        assert_eq!((line, column.as_deref()), (Some(2), Some("block_hash_ids")));
    }

    #[test]
    fn rows_with_the_wrong_number_of_fields_are_refused() {
        let (line, column, message) = parse_err("num_prefill_tokens,num_decode_tokens\n1,2\n3,4,5\n");
        assert_eq!((line, column), (Some(3), None));
        assert_eq!(message, "the row has 3 fields but the header has 2");
        let (line, _, _) = parse_err("num_prefill_tokens,num_decode_tokens,arrived_at\n1,2\n");
        assert_eq!(line, Some(2));
    }

    #[test]
    fn a_quoted_list_spanning_lines_reports_its_first_line() {
        let t = parse_ok("num_prefill_tokens,num_decode_tokens,block_hash_ids\n1,1,\"[1,\n2]\"\n3,3,[4]\n");
        assert_eq!(t.rows[0].block_hashes.as_ref().map(|h| h.ids.to_vec()), Some(vec![1, 2]));
        assert_eq!((t.rows[0].line, t.rows[1].line), (2, 4));
    }

    #[test]
    fn empty_file_and_header_without_rows_are_errors() {
        assert_eq!(parse_err(""), (None, None, "the file is empty".into()));
        assert_eq!(parse_err("\u{feff}\r\n  \n"), (None, None, "the file is empty".into()));
        assert_eq!(
            parse_err("num_prefill_tokens,num_decode_tokens\r\n\r\n"),
            (None, None, "the file has a header but no requests".into())
        );
    }

    #[test]
    fn unrecognised_header_is_an_error_at_its_line() {
        let (line, column, message) = parse_err("\nprompt,output\n1,2\n");
        assert_eq!((line, column), (Some(2), None));
        assert!(message.starts_with("unrecognised trace"), "{message}");
    }

    #[test]
    fn warns_about_backward_arrivals_and_zero_token_rows() {
        let t =
            parse_ok("arrived_at,num_prefill_tokens,num_decode_tokens\n1.0,5,0\n0.5,5,5\n0.7,0,5\n0.1,5,5\n");
        assert_eq!(t.rows.len(), 4, "rows are kept");
        assert_eq!(
            t.warnings,
            [
                "rows arriving earlier than the row before them: 2 (the first at row 3); replay sorts requests by arrival time",
                "rows with 0 prompt or 0 output tokens: 2 (the first at row 2); workloads raise them to 1 token",
            ]
        );
    }

    #[test]
    fn progress_reports_bytes_and_ends_at_the_file_length() {
        let mut text = String::from("\u{feff}num_prefill_tokens,num_decode_tokens\n");
        for i in 0..10_000 {
            text.push_str(&format!("{},{}\n", i % 100, i % 7));
        }
        let mut seen = Vec::new();
        parse_trace("t.csv", &text, &mut |b| seen.push(b)).unwrap();
        assert_eq!(seen.len(), 3, "two reports at 4096 and 8192 rows, one at the end: {seen:?}");
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
        assert_eq!(*seen.last().unwrap(), text.len());
    }

    #[test]
    fn progress_also_reports_every_few_megabytes_of_long_rows() {
        let header = "num_prefill_tokens,num_decode_tokens,block_hash_ids\n";
        let row =
            format!("1,1,\"[{}]\"\n", (0..100_000).map(|i| i.to_string()).collect::<Vec<_>>().join(", "));
        let text = format!("{header}{}", row.repeat(8));
        let mut seen = Vec::new();
        parse_trace("t.csv", &text, &mut |b| seen.push(b)).unwrap();
        // Rows of ~690 kB: the fourth passes 2 MiB, the eighth ends the file (reported once).
        assert_eq!(seen, [header.len() + 4 * row.len(), text.len()]);
    }
}
