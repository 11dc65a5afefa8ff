//! Decimal text of numbers for the per-request output rows, written without `core::fmt`.
//!
//! `request_metrics.csv` has 17 fixed-point columns per row; at a million rows, `{:.6}`
//! (Grisu's exact mode with a Dragon fallback, behind `core::fmt`'s machinery) was a fifth of
//! a run's time. [`push_fixed6`] gives the same bytes from integer arithmetic: a finite `f64`
//! is exactly `m · 2^e`, so `|x| · 10^6 = m · 10^6 · 2^e` is rounded to an integer exactly
//! (half to even, as `core::fmt` rounds) in 128 bits.

/// Above this magnitude [`push_fixed6`] defers to `core::fmt` (never reached by times in
/// seconds or token ratios; keeps `m · 10^6 · 2^e` within 128 bits).
const FAST_LIMIT: f64 = 1e15;

/// Appends `x` as `format!("{x:.6}")` would write it. Text goes to bytes, not a `String`:
/// checking that each number's digits are UTF-8 was a third of the cost.
pub fn push_fixed6(out: &mut Vec<u8>, x: f64) {
    if !x.is_finite() || x.abs() >= FAST_LIMIT {
        use std::io::Write;
        let _ = write!(out, "{x:.6}");
        return;
    }
    let bits = x.to_bits();
    let exponent_bits = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1u64 << 52) - 1);
    // |x| = mantissa · 2^exponent (subnormals have no implicit bit and the least exponent).
    let (mantissa, exponent) =
        if exponent_bits == 0 { (fraction, -1074) } else { (fraction | 1u64 << 52, exponent_bits - 1075) };
    let scaled = u128::from(mantissa) * 1_000_000;
    let millionths: u128 = if exponent >= 0 {
        // |x| < 1e15 < 2^50 with a 53-bit mantissa: exponent ≤ 0 here, kept for clarity.
        scaled << exponent
    } else {
        let shift = (-exponent) as u32;
        if shift > 100 {
            // scaled < 2^73, so the value is below 2^-27 millionths: it rounds to zero.
            0
        } else {
            let quotient = scaled >> shift;
            let remainder = scaled & ((1u128 << shift) - 1);
            let half = 1u128 << (shift - 1);
            if remainder > half || (remainder == half && quotient & 1 == 1) { quotient + 1 } else { quotient }
        }
    };
    // millionths < 1e21 < 2^70: the integer part fits in a u64. Below 2^64 (|x| < 1.8e13,
    // every time and ratio of a run) the division is a 64-bit one, not a call of the
    // 128-bit routine.
    let (whole, fraction) = match u64::try_from(millionths) {
        Ok(m) => (m / 1_000_000, (m % 1_000_000) as u32),
        Err(_) => ((millionths / 1_000_000) as u64, (millionths % 1_000_000) as u32),
    };
    // Sign, whole part, point and six decimals in one fixed buffer, appended whole and
    // truncated (a copy of the number's own length was a `memcpy` call, and a push per
    // part a capacity check each).
    let mut text = [0u8; 28];
    let sign = usize::from(x.is_sign_negative());
    text[0] = b'-';
    let end = sign + write_u64(&mut text[sign..sign + 20], whole);
    text[end] = b'.';
    let (high, low) = (fraction / 10_000, fraction % 10_000);
    text[end + 1..end + 3].copy_from_slice(pair(high));
    text[end + 3..end + 5].copy_from_slice(pair(low / 100));
    text[end + 5..end + 7].copy_from_slice(pair(low % 100));
    push_prefix(out, &text, end + 7);
}

/// The two decimal digits of `n` < 100.
#[inline(always)]
fn pair(n: u32) -> &'static [u8] {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let at = n as usize * 2;
    &PAIRS[at..at + 2]
}

/// Writes `n` in decimal at the start of `text` (20 bytes hold any u64), two digits at a
/// time; returns the number of digits.
#[inline(always)]
fn write_u64(text: &mut [u8], mut n: u64) -> usize {
    let mut digits = 1;
    let mut bound = 10u64;
    while digits < 20 && n >= bound {
        digits += 1;
        bound = bound.wrapping_mul(10);
    }
    let mut end = digits;
    while end >= 2 {
        text[end - 2..end].copy_from_slice(pair((n % 100) as u32));
        n /= 100;
        end -= 2;
    }
    if end == 1 {
        text[0] = b'0' + n as u8;
    }
    digits
}

/// Appends the first `len` bytes of `text`: the whole array is appended and the rest
/// truncated, which compiles to a few vector moves instead of a `memcpy` call per number (the
/// request CSV's numbers here, the Chrome trace's in `report`).
#[inline(always)]
pub(crate) fn push_prefix<const N: usize>(out: &mut Vec<u8>, text: &[u8; N], len: usize) {
    debug_assert!(len <= N);
    let at = out.len();
    out.extend_from_slice(text);
    out.truncate(at + len);
}

/// Appends `n` in decimal, as `format!("{n}")` would.
pub fn push_u64(out: &mut Vec<u8>, n: u64) {
    let mut text = [0u8; 20];
    let len = write_u64(&mut text, n);
    push_prefix(out, &text, len);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fixed6(x: f64) -> String {
        let mut s = Vec::new();
        push_fixed6(&mut s, x);
        String::from_utf8(s).expect("ASCII")
    }

    #[test]
    fn ties_round_half_to_even_as_core_fmt_does() {
        // Odd multiples of 1/128 end in a 5 at the seventh decimal: exact ties.
        for k in (1..4000).step_by(2) {
            let x = f64::from(k) / 128.0;
            assert_eq!(fixed6(x), format!("{x:.6}"), "{x}");
            assert_eq!(fixed6(-x), format!("{:.6}", -x), "{x}");
        }
    }

    #[test]
    fn edge_values_match_core_fmt() {
        let values = [
            0.0,
            -0.0,
            1e-9,
            -1e-9,
            5e-7,
            f64::from_bits(5e-7f64.to_bits() - 1),
            2.5e-6,
            0.9999995,
            0.99999949999999,
            999_999.999_999_5,
            1.0,
            123.456,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            // Around 2^64 millionths, where the 64-bit division gives way to the 128-bit one.
            18_446_744_073_709.55,
            f64::from_bits(18_446_744_073_709.55f64.to_bits() + 1),
            f64::from_bits(18_446_744_073_709.55f64.to_bits() + 2),
            18_446_744_073_709.56,
            5e14 + 0.375,
            1e15,
            1e15 - 0.125,
            -1e15,
            1e300,
            f64::MAX,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for x in values {
            assert_eq!(fixed6(x), format!("{x:.6}"), "{x:e}");
        }
        for n in [0u64, 7, 10, 99, 100, 4_294_967_295, u64::MAX] {
            let mut s = Vec::new();
            push_u64(&mut s, n);
            assert_eq!(s, n.to_string().as_bytes());
        }
    }

    proptest! {
        #[test]
        fn any_bit_pattern_matches_core_fmt(bits in any::<u64>()) {
            let x = f64::from_bits(bits);
            prop_assert_eq!(fixed6(x), format!("{x:.6}"));
        }

        #[test]
        fn seconds_from_nanoseconds_match_core_fmt(ns in 0u64..10_000_000_000_000) {
            let x = ns as f64 / 1e9;
            prop_assert_eq!(fixed6(x), format!("{x:.6}"));
        }

        #[test]
        fn moderate_values_match_core_fmt(x in -1e7f64..1e7) {
            prop_assert_eq!(fixed6(x), format!("{x:.6}"));
        }

        #[test]
        fn integers_match_core_fmt(n in any::<u64>()) {
            let mut s = Vec::new();
            push_u64(&mut s, n);
            prop_assert_eq!(s, n.to_string().into_bytes());
        }
    }
}
