//! Date-times as the Azure traces and Vidur's interval traces write them
//! (`2023-11-16 18:15:46.6805900`, `1970-01-04 12:00:00`), read exactly.

/// An instant on the proleptic Gregorian calendar, without time zone (the traces give none).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct DateTime {
    /// Whole seconds since 1970-01-01 00:00:00.
    secs: i64,
    /// Nanoseconds within the second.
    nanos: u32,
}

impl DateTime {
    /// Seconds from `earlier` to `self` (negative if `earlier` is later).
    pub(super) fn secs_since(self, earlier: DateTime) -> f64 {
        // Integer differences first, so that nanoseconds survive the conversion to f64.
        (self.secs - earlier.secs) as f64 + (i64::from(self.nanos) - i64::from(earlier.nanos)) as f64 / 1e9
    }

    /// Nanoseconds since 1970-01-01 00:00:00 (negative before it), exactly.
    pub(super) fn unix_nanos(self) -> i128 {
        i128::from(self.secs) * 1_000_000_000 + i128::from(self.nanos)
    }
}

/// `secs` seconds since 1970-01-01 00:00:00 as `YYYY-MM-DD HH:MM:SS`, for messages.
pub(super) fn format_unix_secs(secs: i64) -> String {
    let (days, of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // The inverse of days_since_epoch: shift to 0000-03-01, split into 400-year cycles.
    let z = days + 719_468;
    let cycle = z.div_euclid(146_097);
    let day_of_cycle = z - cycle * 146_097;
    let year_of_cycle =
        (day_of_cycle - day_of_cycle / 1460 + day_of_cycle / 36_524 - day_of_cycle / 146_096) / 365;
    let day_of_year = day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = year_of_cycle + cycle * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}", of_day / 3600, of_day % 3600 / 60, of_day % 60)
}

const EXPECTED: &str = "expected a date-time like 2023-11-16 18:15:46.6805900";

/// Parses `YYYY-MM-DD HH:MM:SS[.fraction]` (a `T` may replace the space, a trailing `Z` is
/// allowed, the fraction has 1 to 9 digits).
pub(super) fn parse_datetime(text: &str) -> Result<DateTime, String> {
    let s = text.trim();
    let bad = || format!("'{s}' is not a date-time: {EXPECTED}");
    let b = s.as_bytes();
    let s_body = b.strip_suffix(b"Z").unwrap_or(b);
    if s_body.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b' ' | b'T')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let digits = |from: usize, to: usize| -> Result<i64, String> {
        let part = &b[from..to];
        if !part.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        Ok(part.iter().fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')))
    };
    let (year, month, day) = (digits(0, 4)?, digits(5, 7)?, digits(8, 10)?);
    let (hour, minute, second) = (digits(11, 13)?, digits(14, 16)?, digits(17, 19)?);
    let nanos = match &s_body[19..] {
        [] => 0,
        [b'.', fraction @ ..]
            if (1..=9).contains(&fraction.len()) && fraction.iter().all(u8::is_ascii_digit) =>
        {
            let value = fraction.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
            value * 10u32.pow(9 - fraction.len() as u32)
        }
        _ => return Err(bad()),
    };
    if !(1..=12).contains(&month) {
        return Err(format!("'{s}' has month {month}, not 1 to 12"));
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err(format!("'{s}' has day {day}, which month {month} of {year} does not have"));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(format!("'{s}' is not a time of day (00:00:00 to 23:59:59)"));
    }
    let secs = days_since_epoch(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Ok(DateTime { secs, nanos })
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given date.
fn days_since_epoch(year: i64, month: i64, day: i64) -> i64 {
    // Count years from March so that the leap day ends a year; every 400 years repeat exactly
    // (146,097 days), which reduces the year to 0..400 within its cycle.
    let march_year = if month <= 2 { year - 1 } else { year };
    let cycle = march_year.div_euclid(400);
    let year_of_cycle = march_year - cycle * 400;
    let month_from_march = (month + 9) % 12;
    // Months from March have 31,30,31,30,31 days repeating: (153·m + 2) / 5 counts them.
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_cycle = year_of_cycle * 365 + year_of_cycle / 4 - year_of_cycle / 100 + day_of_year;
    // 719,468 days separate 0000-03-01 from 1970-01-01.
    cycle * 146_097 + day_of_cycle - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime {
        parse_datetime(text).unwrap()
    }

    #[test]
    fn days_match_known_dates() {
        assert_eq!(days_since_epoch(1970, 1, 1), 0);
        assert_eq!(days_since_epoch(1969, 12, 31), -1);
        assert_eq!(days_since_epoch(2000, 3, 1), 11_017);
        assert_eq!(days_since_epoch(2023, 11, 16), 19_677);
        assert_eq!(days_since_epoch(2024, 2, 29), 19_782);
        assert_eq!(days_since_epoch(1600, 1, 1), -135_140);
    }

    #[test]
    fn formats_unix_seconds_as_the_dates_it_parses() {
        assert_eq!(format_unix_secs(0), "1970-01-01 00:00:00");
        assert_eq!(format_unix_secs(-1), "1969-12-31 23:59:59");
        assert_eq!(format_unix_secs(1_700_000_000), "2023-11-14 22:13:20");
        for text in [
            "2024-02-29 12:34:56",
            "2000-03-01 00:00:00",
            "1600-01-01 00:00:00",
            "1970-01-04 12:00:00",
            "9999-12-31 23:59:59",
        ] {
            let t = at(text);
            assert_eq!(format_unix_secs(t.secs), text);
            assert_eq!(t.unix_nanos(), i128::from(t.secs) * 1_000_000_000);
        }
    }

    #[test]
    fn parses_the_azure_format_exactly() {
        assert_eq!(at("2023-11-16 18:15:46.6805900"), DateTime { secs: 1_700_158_546, nanos: 680_590_000 });
        assert_eq!(at("2023-11-16T18:15:46Z"), DateTime { secs: 1_700_158_546, nanos: 0 });
        assert_eq!(at(" 2023-11-16 18:15:46.5 "), DateTime { secs: 1_700_158_546, nanos: 500_000_000 });
        assert_eq!(at("2023-11-16 18:15:46.123456789").nanos, 123_456_789);
        let gap = at("2023-11-17 00:00:00.0000001").secs_since(at("2023-11-16 23:59:59.9999999"));
        assert!((gap - 2e-7).abs() < 1e-12, "{gap}");
        assert_eq!(at("2024-03-01 00:00:00").secs_since(at("2024-02-28 00:00:00")), 2.0 * 86_400.0);
    }

    #[test]
    fn rejects_malformed_or_impossible_dates() {
        let err = |s: &str| parse_datetime(s).unwrap_err();
        assert_eq!(err("2023-11-16"), format!("'2023-11-16' is not a date-time: {EXPECTED}"));
        assert_eq!(
            err("16/11/2023 18:15:46"),
            format!("'16/11/2023 18:15:46' is not a date-time: {EXPECTED}")
        );
        assert!(err("2023-11-16 18:15:46.").contains("is not a date-time"));
        assert!(err("2023-11-16 18:15:46.1234567890").contains("is not a date-time"));
        assert!(err("2023-11-16 18:15:4x").contains("is not a date-time"));
        assert!(err("2023-11-16 18:15:46 extra").contains("is not a date-time"));
        assert_eq!(err("2023-13-01 00:00:00"), "'2023-13-01 00:00:00' has month 13, not 1 to 12");
        assert_eq!(
            err("2023-02-29 00:00:00"),
            "'2023-02-29 00:00:00' has day 29, which month 2 of 2023 does not have"
        );
        assert_eq!(
            err("2023-11-16 24:00:00"),
            "'2023-11-16 24:00:00' is not a time of day (00:00:00 to 23:59:59)"
        );
        assert!(parse_datetime("2000-02-29 00:00:00").is_ok(), "2000 is a leap year");
        assert!(parse_datetime("1900-02-29 00:00:00").is_err(), "1900 is not");
    }
}
