//! Arrival times alone, as Vidur's interval trace reads them: one CSV column, `arrived_at` (or
//! the Azure trace's `TIMESTAMP`), of numbers of seconds or of date-times; other columns are
//! ignored, so a file of arrival times only is a valid interval trace.
//!
//! Instants are exact integers on one timeline: nanoseconds since 1970-01-01 00:00:00. A
//! number of seconds counts from there too, so seconds and date-times can be compared (an
//! arrival of `302400` is `1970-01-04 12:00:00`).

use super::csv_table::CsvTable;
use super::datetime::{format_unix_secs, parse_datetime};
use super::values::parse_non_negative;
use super::{Source, Trace, TraceError};

/// How a trace writes its arrival times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArrivalClock {
    /// Numbers of seconds.
    Seconds,
    /// Calendar date-times, `YYYY-MM-DD HH:MM:SS[.fraction]` (a `T` may replace the space).
    DateTimes,
}

/// The arrival instants of a trace, in file order.
#[derive(Clone, Debug, PartialEq)]
pub struct ArrivalTimes {
    /// The file they came from.
    pub name: String,
    /// The column (or field) they were read from.
    pub column: String,
    /// How the column writes them.
    pub clock: ArrivalClock,
    /// Nanoseconds since 1970-01-01 00:00:00, one per row.
    pub instants_ns: Vec<i128>,
    /// The 1-based line of each row, for messages.
    pub lines: Vec<u64>,
}

impl ArrivalTimes {
    /// The arrival times of an already parsed trace (seconds, as its reader computed them);
    /// `None` when a row has none.
    pub fn from_trace(trace: &Trace, column: &str) -> Option<ArrivalTimes> {
        let instants_ns =
            trace.rows.iter().map(|r| r.arrived_at.map(seconds_to_ns)).collect::<Option<Vec<_>>>()?;
        Some(ArrivalTimes {
            name: trace.name.clone(),
            column: column.to_string(),
            clock: ArrivalClock::Seconds,
            instants_ns,
            lines: trace.rows.iter().map(|r| r.line).collect(),
        })
    }
}

/// A point in time given as text (a flag's value): seconds or a date-time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TimePoint {
    /// A number of seconds.
    Seconds(f64),
    /// A date-time, as nanoseconds since 1970-01-01 00:00:00.
    DateTime(i128),
}

/// Parses a number of seconds (`3600`, `1.5`) or a date-time (`1970-01-04 12:00:00`,
/// `2023-11-16T18:15:46.5`).
pub fn parse_time_point(text: &str) -> Result<TimePoint, String> {
    let s = text.trim();
    if let Ok(x) = s.parse::<f64>() {
        return if x.is_finite() {
            Ok(TimePoint::Seconds(x))
        } else {
            Err(format!("'{s}' is not a finite number of seconds"))
        };
    }
    match parse_datetime(s) {
        Ok(t) => Ok(TimePoint::DateTime(t.unix_nanos())),
        Err(e) if looks_like_a_date(s) => Err(e),
        Err(_) => {
            Err(format!("'{s}' is neither a number of seconds nor a date-time like 1970-01-04 12:00:00"))
        }
    }
}

/// Whole seconds to the timeline's nanoseconds, rounded; saturating far beyond any horizon.
pub fn seconds_to_ns(secs: f64) -> i128 {
    // Float-to-integer casts saturate, so even 1e300 s stays an (enormous) valid instant.
    libm::round(secs * 1e9) as i128
}

/// A reading of `secs` seconds as epoch time, for hints: which unit since 1970 would make it a
/// date between 2000 and 2100, and that date (`None` if no unit does).
pub fn epoch_reading(secs: f64) -> Option<String> {
    const UNITS: [(&str, f64); 4] =
        [("seconds", 1.0), ("milliseconds", 1e-3), ("microseconds", 1e-6), ("nanoseconds", 1e-9)];
    // 2000-01-01 and 2100-01-01 in seconds since 1970.
    let (from, to) = (946_684_800.0, 4_102_444_800.0);
    UNITS.iter().find_map(|&(unit, factor)| {
        let s = secs * factor;
        (s >= from && s < to).then(|| format!("{unit} since 1970 ({} as a date)", format_unix_secs(s as i64)))
    })
}

/// An instant of the timeline as a date-time (`YYYY-MM-DD HH:MM:SS[.fraction]`), for messages.
pub fn format_instant(ns: i128) -> String {
    let (secs, nanos) = (ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000));
    let date = format_unix_secs(secs.clamp(i128::from(i64::MIN / 2), i128::from(i64::MAX / 2)) as i64);
    if nanos == 0 { date } else { format!("{date}.{}", format!("{nanos:09}").trim_end_matches('0')) }
}

fn looks_like_a_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-'
}

/// Reads the arrival times of a CSV trace from the `arrived_at` column, or `TIMESTAMP` (the
/// Azure trace's) when there is none. Each cell is a number of seconds or a date-time, as the
/// first row's is; blank lines, a byte-order mark and CRLF endings are accepted. Errors name the
/// file, row and column.
pub fn read_arrival_times(name: &str, text: &str) -> Result<ArrivalTimes, TraceError> {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    if body.trim().is_empty() {
        return Err(TraceError::new(name, None, None, "the file is empty"));
    }
    let source = Source { name, offset: text.len() - body.len() };
    let mut table = CsvTable::new(&source, body)?;
    let column = match table.optional("arrived_at")? {
        Some(c) => ("arrived_at", c),
        None => match table.optional("TIMESTAMP")? {
            Some(c) => ("TIMESTAMP", c),
            None => (
                "arrived_at",
                table.required("arrived_at").map_err(|mut e| {
                    e.message
                        .push_str("; an interval trace needs an arrived_at column of seconds or date-times");
                    e
                })?,
            ),
        },
    };
    let mut clock = None;
    let (mut instants_ns, mut lines) = (Vec::new(), Vec::new());
    while let Some(row) = table.next_row()? {
        let (kind, ns) = row.parse(column.1, |cell| parse_arrival(cell, clock))?;
        clock = Some(kind);
        instants_ns.push(ns);
        lines.push(row.line());
    }
    let Some(clock) = clock else {
        return Err(TraceError::new(name, None, None, "the file has a header but no arrival times"));
    };
    Ok(ArrivalTimes { name: name.to_string(), column: column.0.to_string(), clock, instants_ns, lines })
}

/// One cell: a number of seconds or a date-time, whichever `clock` (the first row's) is.
fn parse_arrival(cell: &str, clock: Option<ArrivalClock>) -> Result<(ArrivalClock, i128), String> {
    let s = cell.trim();
    if s.is_empty() {
        return Err("value is missing".to_string());
    }
    if s.parse::<f64>().is_ok() {
        let secs = parse_non_negative(s)?;
        if clock == Some(ArrivalClock::DateTimes) {
            return Err(format!(
                "'{s}' is a number, but the first row's arrival is a date-time: write every arrival the same way"
            ));
        }
        return Ok((ArrivalClock::Seconds, seconds_to_ns(secs)));
    }
    match (parse_datetime(s), clock) {
        (Ok(_), Some(ArrivalClock::Seconds)) => Err(format!(
            "'{s}' is a date-time, but the first row's arrival is a number of seconds: write every arrival the same way"
        )),
        (Ok(t), _) => Ok((ArrivalClock::DateTimes, t.unix_nanos())),
        (Err(_), Some(ArrivalClock::Seconds)) => Err(format!("'{s}' is not a number")),
        (Err(e), _) if looks_like_a_date(s) => Err(e),
        (Err(_), _) => {
            Err(format!("'{s}' is neither a number of seconds nor a date-time like 2023-11-16 18:15:46"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NANOS_PER_SEC: i128 = 1_000_000_000;

    fn read(text: &str) -> ArrivalTimes {
        read_arrival_times("a.csv", text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn read_err(text: &str) -> String {
        read_arrival_times("a.csv", text).expect_err("should fail").to_string()
    }

    #[test]
    fn reads_arrival_times_only_in_seconds() {
        let a = read("arrived_at\n0.5\n1.5\n\n3.0\n");
        assert_eq!((a.clock, a.column.as_str()), (ArrivalClock::Seconds, "arrived_at"));
        assert_eq!(a.instants_ns, [500_000_000, 1_500_000_000, 3_000_000_000]);
        assert_eq!(a.lines, [2, 3, 5]);
    }

    #[test]
    fn reads_date_times_with_either_separator_and_ignores_other_columns() {
        let a = read("\u{feff}id,arrived_at\r\n7,1970-01-04 12:00:00\r\n8,1970-01-04T12:00:01.25\r\n");
        assert_eq!(a.clock, ArrivalClock::DateTimes);
        let start = 3 * 86_400 * NANOS_PER_SEC + 12 * 3600 * NANOS_PER_SEC;
        assert_eq!(a.instants_ns, [start, start + 1_250_000_000]);
    }

    #[test]
    fn reads_the_azure_timestamp_column_and_vidur_csvs() {
        let a = read("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.5,1,1\n");
        assert_eq!((a.column.as_str(), a.instants_ns[0]), ("TIMESTAMP", 1_700_158_546_500_000_000));
        let v = read("arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,374,44\n4.314579,396,109\n");
        assert_eq!(v.instants_ns, [0, 4_314_579_000]);
    }

    #[test]
    fn errors_name_file_row_and_column() {
        assert_eq!(
            read_err("t\n1\n"),
            "a.csv, row 1, column 'arrived_at': required column is missing (columns: t); an interval trace needs an arrived_at column of seconds or date-times"
        );
        assert_eq!(read_err("arrived_at\n1\n-2\n"), "a.csv, row 3, column 'arrived_at': '-2' is negative");
        assert_eq!(
            read_err("arrived_at\n1\nsoon\n"),
            "a.csv, row 3, column 'arrived_at': 'soon' is not a number"
        );
        assert_eq!(
            read_err("arrived_at\nsoon\n"),
            "a.csv, row 2, column 'arrived_at': 'soon' is neither a number of seconds nor a date-time like 2023-11-16 18:15:46"
        );
        assert_eq!(
            read_err("arrived_at\n2023-02-30 00:00:00\n"),
            "a.csv, row 2, column 'arrived_at': '2023-02-30 00:00:00' has day 30, which month 2 of 2023 does not have"
        );
        assert!(read_err("arrived_at\n2023-01-01 00:00:00\n5\n").contains(
            "row 3, column 'arrived_at': '5' is a number, but the first row's arrival is a date-time"
        ));
        assert!(
            read_err("arrived_at\n5\n2023-01-01 00:00:00\n")
                .contains("row 3, column 'arrived_at': '2023-01-01 00:00:00' is a date-time")
        );
        assert_eq!(
            read_err("arrived_at,x\n1,2\n,3\n"),
            "a.csv, row 3, column 'arrived_at': value is missing"
        );
        assert_eq!(read_err("arrived_at\n"), "a.csv: the file has a header but no arrival times");
        assert_eq!(read_err(" \n"), "a.csv: the file is empty");
        assert_eq!(
            read_err("arrived_at,x\n1,2\n3\n"),
            "a.csv, row 3: the row has 1 fields but the header has 2"
        );
    }

    #[test]
    fn time_points_are_seconds_or_date_times() {
        assert_eq!(parse_time_point(" 3600 "), Ok(TimePoint::Seconds(3600.0)));
        assert_eq!(parse_time_point("1970-01-04 12:00:00"), Ok(TimePoint::DateTime(302_400 * NANOS_PER_SEC)));
        assert_eq!(parse_time_point("1970-01-01T00:00:00.5Z"), Ok(TimePoint::DateTime(500_000_000)));
        assert_eq!(parse_time_point("inf"), Err("'inf' is not a finite number of seconds".to_string()));
        assert_eq!(
            parse_time_point("noon"),
            Err("'noon' is neither a number of seconds nor a date-time like 1970-01-04 12:00:00".to_string())
        );
        assert!(parse_time_point("1970-13-01 00:00:00").unwrap_err().contains("month 13"));
    }

    #[test]
    fn instants_format_as_date_times() {
        assert_eq!(format_instant(302_400 * NANOS_PER_SEC), "1970-01-04 12:00:00");
        assert_eq!(format_instant(1_700_158_546_680_590_000), "2023-11-16 18:15:46.68059");
    }

    #[test]
    fn epoch_readings_name_the_unit_and_date() {
        assert_eq!(
            epoch_reading(1_700_000_000_000.0).as_deref(),
            Some("milliseconds since 1970 (2023-11-14 22:13:20 as a date)")
        );
        assert_eq!(
            epoch_reading(1_700_000_000.0).as_deref(),
            Some("seconds since 1970 (2023-11-14 22:13:20 as a date)")
        );
        assert_eq!(epoch_reading(3600.0), None);
        assert_eq!(epoch_reading(5e15), None);
    }
}
