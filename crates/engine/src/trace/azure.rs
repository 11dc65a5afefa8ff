//! The Azure LLM inference trace CSV: `TIMESTAMP` (a date-time), `ContextTokens`,
//! `GeneratedTokens`; arrivals become seconds since the earliest request.

use super::csv_table::CsvTable;
use super::datetime::{DateTime, parse_datetime};
use super::values::parse_count;
use super::{Progress, Source, TraceError, TraceRow};

/// Reads the rows of an Azure trace.
pub(super) fn parse(
    source: &Source,
    text: &str,
    progress: &mut Progress,
) -> Result<(Vec<TraceRow>, Vec<String>), TraceError> {
    let mut table = CsvTable::new(source, text)?;
    let timestamp = table.required("TIMESTAMP")?;
    let context = table.required("ContextTokens")?;
    let generated = table.required("GeneratedTokens")?;
    let mut rows = Vec::new();
    let mut instants: Vec<DateTime> = Vec::new();
    while let Some(row) = table.next_row()? {
        instants.push(row.parse(timestamp, parse_datetime)?);
        let num_prefill_tokens = row.parse(context, parse_count)?;
        let num_decode_tokens = row.parse(generated, parse_count)?;
        rows.push(TraceRow {
            arrived_at: None,
            num_prefill_tokens,
            num_decode_tokens,
            session_id: None,
            block_hashes: None,
            line: row.line(),
        });
        progress.row_done(row.end_byte());
    }
    // Counting from the earliest request (the first, in a sorted trace) keeps every arrival
    // non-negative even when a trace is out of order.
    if let Some(&start) = instants.iter().min() {
        for (row, instant) in rows.iter_mut().zip(&instants) {
            row.arrived_at = Some(instant.secs_since(start));
        }
    }
    Ok((rows, Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::super::{Trace, TraceFormat, parse_trace};

    fn parse_ok(text: &str) -> Trace {
        parse_trace("azure.csv", text, &mut |_| {}).unwrap_or_else(|e| panic!("{e}"))
    }

    fn parse_err(text: &str) -> (Option<u64>, Option<String>, String) {
        let e = parse_trace("azure.csv", text, &mut |_| {}).expect_err("should fail");
        (e.line, e.column, e.message)
    }

    const HEADER: &str = "TIMESTAMP,ContextTokens,GeneratedTokens\n";

    #[test]
    fn arrivals_are_seconds_since_the_first_request() {
        let t = parse_ok(&format!(
            "{HEADER}2023-11-16 18:15:46.6805900,4808,10\n2023-11-16 18:15:46.7325900,3180,8\n2023-11-16 18:16:47.0000000,110,27\n"
        ));
        assert_eq!(t.format, TraceFormat::AzureCsv);
        let arrivals: Vec<f64> = t.rows.iter().map(|r| r.arrived_at.unwrap()).collect();
        assert_eq!(arrivals[0], 0.0);
        assert!((arrivals[1] - 0.052).abs() < 1e-9, "{arrivals:?}");
        assert!((arrivals[2] - 60.31941).abs() < 1e-9, "{arrivals:?}");
        assert_eq!((t.rows[2].num_prefill_tokens, t.rows[2].num_decode_tokens, t.rows[2].line), (110, 27, 4));
        assert!(!t.has_sessions() && !t.has_block_hashes());
    }

    #[test]
    fn an_earlier_later_row_is_kept_with_a_warning_and_nothing_is_negative() {
        let t = parse_ok(&format!("{HEADER}2023-11-16 18:00:01,1,1\n2023-11-16 18:00:00,2,2\n\n"));
        assert_eq!(t.rows.iter().map(|r| r.arrived_at).collect::<Vec<_>>(), [Some(1.0), Some(0.0)]);
        assert_eq!(t.warnings.len(), 1);
        assert!(t.warnings[0].contains("the first at row 3"), "{:?}", t.warnings);
    }

    #[test]
    fn accepts_crlf_bom_and_extra_columns() {
        let t = parse_ok(
            "\u{feff}TIMESTAMP,ContextTokens,GeneratedTokens,Model\r\n2024-05-10 00:00:00.0095640,12,3,gpt\r\n",
        );
        assert_eq!((t.rows.len(), t.rows[0].arrived_at, t.rows[0].num_prefill_tokens), (1, Some(0.0), 12));
    }

    #[test]
    fn errors_name_line_and_column() {
        assert_eq!(
            parse_err("TIMESTAMP,ContextTokens\n2023-11-16 18:15:46,1\n"),
            (
                Some(1),
                Some("GeneratedTokens".into()),
                "required column is missing (columns: TIMESTAMP, ContextTokens)".into()
            )
        );
        let good = "2023-11-16 18:15:46.6805900,1,1\n";
        let cases = [
            (
                "2023-11-16,1,1",
                "TIMESTAMP",
                "'2023-11-16' is not a date-time: expected a date-time like 2023-11-16 18:15:46.6805900",
            ),
            (
                "2023-02-30 00:00:00,1,1",
                "TIMESTAMP",
                "'2023-02-30 00:00:00' has day 30, which month 2 of 2023 does not have",
            ),
            ("2023-11-16 18:15:47,x,1", "ContextTokens", "'x' is not a number"),
            ("2023-11-16 18:15:47,1,-1", "GeneratedTokens", "'-1' is negative"),
            ("2023-11-16 18:15:47,1.5,1", "ContextTokens", "'1.5' is not a whole number"),
            ("2023-11-16 18:15:47,,1", "ContextTokens", "value is missing"),
        ];
        for (row, column, message) in cases {
            assert_eq!(
                parse_err(&format!("{HEADER}{good}{row}\n")),
                (Some(3), Some(column.into()), message.into()),
                "{row}"
            );
        }
        assert_eq!(parse_err(HEADER), (None, None, "the file has a header but no requests".into()));
    }
}
