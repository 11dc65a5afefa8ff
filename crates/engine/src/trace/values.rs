//! Parsers for single trace values (token counts, ids, seconds, id lists), shared by every format.
//!
//! Each returns a message without location; the format readers add the file, line and column.

use crate::limits::MAX_REQUEST_TOKENS;

/// Parses a whole number in `0..=max`, written as digits or as an integral float ("374.0").
pub(super) fn parse_whole(text: &str, max: u64) -> Result<u64, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("value is missing".to_string());
    }
    // Plain digits are by far the common case; parse them exactly, without going through f64.
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return match s.parse::<u64>() {
            Ok(x) if x <= max => Ok(x),
            _ => Err(format!("'{s}' is too large (at most {max})")),
        };
    }
    let x: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if x.is_nan() {
        return Err(format!("'{s}' is not a number"));
    }
    if x < 0.0 {
        return Err(format!("'{s}' is negative"));
    }
    if x.is_infinite() || x > max as f64 {
        return Err(format!("'{s}' is too large (at most {max})"));
    }
    if x.fract() != 0.0 {
        return Err(format!("'{s}' is not a whole number"));
    }
    Ok(x as u64)
}

/// Parses a token count: a whole number no larger than the largest request
/// ([`MAX_REQUEST_TOKENS`]).
pub(super) fn parse_count(text: &str) -> Result<u32, String> {
    let max = u64::from(MAX_REQUEST_TOKENS);
    match parse_whole(text, u64::MAX) {
        Ok(x) if x > max => Err(format!(
            "'{}' tokens is more than the largest request llmsim simulates ({max} tokens)",
            text.trim()
        )),
        Ok(x) => Ok(x as u32),
        Err(e) if e.contains("too large") => Err(format!(
            "'{}' tokens is more than the largest request llmsim simulates ({max} tokens)",
            text.trim()
        )),
        Err(e) => Err(e),
    }
}

/// Parses a non-negative, finite number of seconds (or any other non-negative quantity).
pub(super) fn parse_non_negative(text: &str) -> Result<f64, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("value is missing".to_string());
    }
    let x: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if !x.is_finite() {
        return Err(format!("'{s}' is not a finite number"));
    }
    if x < 0.0 {
        return Err(format!("'{s}' is negative"));
    }
    // "-0" parses as -0.0; normalise so that outputs never show a negative zero.
    Ok(x + 0.0)
}

/// Parses a list of non-negative integers such as `[0, 1, 2]` (JSON syntax, integers only) into
/// `out`, which is cleared first so that one buffer serves every row.
///
/// Hand-written because these lists are most of an 80 MB trace: scanning bytes directly is
/// several times faster than building them through serde_json.
pub(super) fn parse_id_list(text: &str, out: &mut Vec<u64>) -> Result<(), String> {
    out.clear();
    let bytes = text.as_bytes();
    let mut pos = skip_space(bytes, 0);
    if bytes.get(pos) != Some(&b'[') {
        return Err(format!(
            "is not a list of ids: expected '[' at character {}, {}",
            pos + 1,
            found(bytes, pos)
        ));
    }
    pos = skip_space(bytes, pos + 1);
    if bytes.get(pos) == Some(&b']') {
        return expect_end(bytes, pos + 1);
    }
    loop {
        let start = pos;
        let mut id: u64 = 0;
        while let Some(digit) = bytes.get(pos).map(|b| b.wrapping_sub(b'0')).filter(|d| *d <= 9) {
            // 19 digits always fit in u64; only longer ids need the overflow check.
            id = if pos - start < 19 {
                id * 10 + u64::from(digit)
            } else {
                id.checked_mul(10)
                    .and_then(|x| x.checked_add(u64::from(digit)))
                    .ok_or_else(|| format!("id at character {} is larger than {}", start + 1, u64::MAX))?
            };
            pos += 1;
        }
        if pos == start {
            return Err(match bytes.get(pos) {
                Some(b'-') => format!("id at character {} is negative", pos + 1),
                _ => format!("expected an id at character {}, {}", pos + 1, found(bytes, pos)),
            });
        }
        out.push(id);
        pos = skip_space(bytes, pos);
        match bytes.get(pos) {
            Some(b',') => pos = skip_space(bytes, pos + 1),
            Some(b']') => return expect_end(bytes, pos + 1),
            Some(b'.' | b'e' | b'E') => {
                return Err(format!("id at character {} is not a whole number", start + 1));
            }
            _ => return Err(format!("expected ',' or ']' at character {}, {}", pos + 1, found(bytes, pos))),
        }
    }
}

fn skip_space(bytes: &[u8], mut pos: usize) -> usize {
    while bytes.get(pos).is_some_and(u8::is_ascii_whitespace) {
        pos += 1;
    }
    pos
}

fn expect_end(bytes: &[u8], pos: usize) -> Result<(), String> {
    let pos = skip_space(bytes, pos);
    if pos == bytes.len() {
        Ok(())
    } else {
        Err(format!("unexpected text after the list at character {}", pos + 1))
    }
}

/// Describes what stands at `pos`, for error messages.
fn found(bytes: &[u8], pos: usize) -> String {
    match bytes.get(pos) {
        None => "found the end of the value".to_string(),
        // Only ASCII is shown as a character; other bytes may be inside a multi-byte one.
        Some(&b) if b.is_ascii_graphic() => format!("found '{}'", b as char),
        Some(_) => "found another character".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(text: &str) -> Result<Vec<u64>, String> {
        let mut out = vec![99];
        parse_id_list(text, &mut out).map(|()| out)
    }

    #[test]
    fn whole_numbers_accept_digits_and_integral_floats() {
        assert_eq!(parse_count("374"), Ok(374));
        assert_eq!(parse_count(" 374.0 "), Ok(374));
        assert_eq!(parse_count("3.74e2"), Ok(374));
        assert_eq!(parse_count("0"), Ok(0));
        assert_eq!(parse_count("16777216"), Ok(MAX_REQUEST_TOKENS));
        assert_eq!(parse_whole("18446744073709551615", u64::MAX), Ok(u64::MAX));
    }

    #[test]
    fn whole_numbers_reject_with_a_reason() {
        assert_eq!(parse_count(""), Err("value is missing".to_string()));
        assert_eq!(parse_count("374.5"), Err("'374.5' is not a whole number".to_string()));
        assert_eq!(parse_count("-3"), Err("'-3' is negative".to_string()));
        assert_eq!(parse_count("abc"), Err("'abc' is not a number".to_string()));
        assert_eq!(parse_count("NaN"), Err("'NaN' is not a number".to_string()));
        let too_large = |s: &str| {
            Err(format!("'{s}' tokens is more than the largest request llmsim simulates (16777216 tokens)"))
        };
        assert_eq!(parse_count("inf"), too_large("inf"));
        assert_eq!(parse_count("16777217"), too_large("16777217"));
        assert_eq!(parse_count("4294967296"), too_large("4294967296"));
        assert_eq!(parse_count("99999999999999999999999"), too_large("99999999999999999999999"));
        assert_eq!(parse_count("5e9"), too_large("5e9"));
    }

    #[test]
    fn seconds_are_finite_and_not_negative() {
        assert_eq!(parse_non_negative("4.314579"), Ok(4.314579));
        assert_eq!(parse_non_negative("-0").map(f64::to_bits), Ok(0.0f64.to_bits()));
        assert_eq!(parse_non_negative("-0.5"), Err("'-0.5' is negative".to_string()));
        assert_eq!(parse_non_negative("inf"), Err("'inf' is not a finite number".to_string()));
        assert_eq!(parse_non_negative("x"), Err("'x' is not a number".to_string()));
    }

    #[test]
    fn id_lists_parse_with_any_spacing() {
        assert_eq!(ids("[0, 1, 2]"), Ok(vec![0, 1, 2]));
        assert_eq!(ids(" [ 7 ,8,\t9 ] "), Ok(vec![7, 8, 9]));
        assert_eq!(ids("[]"), Ok(vec![]));
        assert_eq!(ids("[ ]"), Ok(vec![]));
        assert_eq!(ids("[18446744073709551615]"), Ok(vec![u64::MAX]));
    }

    #[test]
    fn malformed_id_lists_say_where() {
        assert_eq!(
            ids("0, 1"),
            Err("is not a list of ids: expected '[' at character 1, found '0'".to_string())
        );
        assert_eq!(
            ids(""),
            Err("is not a list of ids: expected '[' at character 1, found the end of the value".to_string())
        );
        assert_eq!(
            ids("[0, 1"),
            Err("expected ',' or ']' at character 6, found the end of the value".to_string())
        );
        assert_eq!(ids("[0,, 1]"), Err("expected an id at character 4, found ','".to_string()));
        assert_eq!(ids("[0, 1,]"), Err("expected an id at character 7, found ']'".to_string()));
        assert_eq!(ids("[0, -1]"), Err("id at character 5 is negative".to_string()));
        assert_eq!(ids("[0, 1.5]"), Err("id at character 5 is not a whole number".to_string()));
        assert_eq!(ids("[0 1]"), Err("expected ',' or ']' at character 4, found '1'".to_string()));
        assert_eq!(ids("[0] x"), Err("unexpected text after the list at character 5".to_string()));
        assert_eq!(
            ids("[18446744073709551616]"),
            Err("id at character 2 is larger than 18446744073709551615".to_string())
        );
        assert_eq!(ids("[\"a\"]"), Err("expected an id at character 2, found '\"'".to_string()));
    }
}
