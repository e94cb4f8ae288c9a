//! Number text as lua-cjson reads and writes it: C's `%.<n>g` and `strtod`
//! (as glibc implements them), which Redis's scripts see byte for byte.

use std::io::Write;

/// Appends `value` formatted like C's `printf("%.<precision>g", value)`.
pub(super) fn format_g(out: &mut Vec<u8>, value: f64, precision: usize) {
    let precision = precision.max(1);
    if value.is_nan() {
        out.extend_from_slice(if value.is_sign_negative() {
            b"-nan"
        } else {
            b"nan"
        });
        return;
    }
    if value.is_infinite() {
        out.extend_from_slice(if value < 0.0 { b"-inf" } else { b"inf" });
        return;
    }
    if value == 0.0 {
        out.extend_from_slice(if value.is_sign_negative() {
            b"-0"
        } else {
            b"0"
        });
        return;
    }
    // Integers with at most `precision` digits print as themselves.
    if value.fract() == 0.0 && value.abs() < 10f64.powi(precision as i32) {
        out.extend_from_slice(itoa::Buffer::new().format(value as i64).as_bytes());
        return;
    }
    let start = out.len();
    write!(out, "{:.*e}", precision - 1, value).expect("write to a Vec");
    let e_at = start
        + out[start..]
            .iter()
            .position(|&b| b == b'e')
            .expect("exponent");
    let exponent: i32 = std::str::from_utf8(&out[e_at + 1..])
        .expect("ascii")
        .parse()
        .expect("exponent digits");
    if exponent < -4 || exponent >= precision as i32 {
        out.truncate(e_at);
        strip_fraction_zeros(out, start);
        let sign = if exponent < 0 { '-' } else { '+' };
        write!(out, "e{sign}{:02}", exponent.unsigned_abs()).expect("write to a Vec");
    } else {
        out.truncate(start);
        let decimals = (precision as i32 - 1 - exponent) as usize;
        write!(out, "{value:.decimals$}").expect("write to a Vec");
        strip_fraction_zeros(out, start);
    }
}

/// `%g` drops trailing zeros of the fraction, and the point if none is left.
fn strip_fraction_zeros(out: &mut Vec<u8>, start: usize) {
    if !out[start..].contains(&b'.') {
        return;
    }
    while out.last() == Some(&b'0') {
        out.pop();
    }
    if out.last() == Some(&b'.') {
        out.pop();
    }
}

/// The longest prefix of `text` that C's `strtod` reads (without the
/// leading white space it would skip): its value and length, or `None`
/// when it reads nothing. Decimal, hexadecimal (`0x1.8p3`), `inf`,
/// `infinity` and `nan`/`nan(chars)`, any case, optionally signed.
pub(super) fn strtod_prefix(text: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| text.get(i).copied().unwrap_or(0);
    let (negative, mut i) = match at(0) {
        b'-' => (true, 1),
        b'+' => (false, 1),
        _ => (false, 0),
    };
    let signed = |v: f64| if negative { -v } else { v };
    if starts_with_ignore_case(&text[i..], b"inf") {
        i += 3;
        if starts_with_ignore_case(&text[i..], b"inity") {
            i += 5;
        }
        return Some((signed(f64::INFINITY), i));
    }
    if starts_with_ignore_case(&text[i..], b"nan") {
        i += 3;
        if at(i) == b'(' {
            let mut j = i + 1;
            while at(j).is_ascii_alphanumeric() || at(j) == b'_' {
                j += 1;
            }
            if at(j) == b')' {
                i = j + 1;
            }
        }
        return Some((signed(f64::NAN), i));
    }
    if at(i) == b'0' && at(i + 1) | 0x20 == b'x' {
        if let Some((value, len)) = hex_float(&text[i + 2..]) {
            return Some((signed(value), i + 2 + len));
        }
    }
    let start = i;
    let digits = |mut j: usize| {
        while at(j).is_ascii_digit() {
            j += 1;
        }
        j
    };
    let mut end = digits(i);
    let mut mantissa_digits = end - i;
    if at(end) == b'.' {
        let fraction_end = digits(end + 1);
        mantissa_digits += fraction_end - end - 1;
        end = fraction_end;
    }
    if mantissa_digits == 0 {
        return None;
    }
    if at(end) | 0x20 == b'e' {
        let mut j = end + 1;
        if matches!(at(j), b'+' | b'-') {
            j += 1;
        }
        let exponent_end = digits(j);
        if exponent_end > j {
            end = exponent_end;
        }
    }
    let literal = std::str::from_utf8(&text[start..end]).ok()?;
    let value: f64 = normalise_for_rust(literal).parse().ok()?;
    Some((signed(value), end))
}

/// Rust's float parser wants a digit before an exponent after the point
/// (`1.e5`); C does not.
fn normalise_for_rust(literal: &str) -> std::borrow::Cow<'_, str> {
    match literal.find(['e', 'E']) {
        Some(e) if literal[..e].ends_with('.') => {
            format!("{}0{}", &literal[..e], &literal[e..]).into()
        }
        _ => literal.into(),
    }
}

fn starts_with_ignore_case(text: &[u8], prefix: &[u8]) -> bool {
    text.len() >= prefix.len() && text[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// The hexadecimal float after `0x`: digits, an optional fraction and an
/// optional binary exponent (`p-3`).
fn hex_float(text: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| text.get(i).copied().unwrap_or(0);
    let (mut mantissa, mut exponent, mut inexact) = (0u64, 0i64, false);
    let mut any_digit = false;
    let mut i = 0;
    let mut seen_point = false;
    loop {
        let c = at(i);
        if c == b'.' && !seen_point {
            seen_point = true;
        } else if let Some(digit) = (c as char).to_digit(16) {
            any_digit = true;
            if mantissa >> 60 == 0 {
                mantissa = mantissa * 16 + u64::from(digit);
                if seen_point {
                    exponent -= 4;
                }
            } else {
                inexact |= digit != 0;
                if !seen_point {
                    exponent += 4;
                }
            }
        } else {
            break;
        }
        i += 1;
    }
    if !any_digit {
        return None;
    }
    if at(i) | 0x20 == b'p' {
        let mut j = i + 1;
        let negative = at(j) == b'-';
        if matches!(at(j), b'+' | b'-') {
            j += 1;
        }
        if at(j).is_ascii_digit() {
            let mut power = 0i64;
            while at(j).is_ascii_digit() {
                power = (power * 10 + i64::from(at(j) - b'0')).min(1 << 20);
                j += 1;
            }
            exponent += if negative { -power } else { power };
            i = j;
        }
    }
    // A dropped non-zero digit only matters as a sticky bit below the 53
    // bits kept.
    let value = (mantissa | u64::from(inexact)) as f64;
    Some((scale_by_power_of_two(value, exponent), i))
}

fn scale_by_power_of_two(mut value: f64, mut exponent: i64) -> f64 {
    while exponent > 1000 {
        value *= 2f64.powi(1000);
        exponent -= 1000;
    }
    while exponent < -1000 {
        value *= 2f64.powi(-1000);
        exponent += 1000;
    }
    value * 2f64.powi(exponent as i32)
}

#[cfg(test)]
mod tests {
    use std::ffi::{CString, c_char, c_int};

    use proptest::prelude::*;

    use super::*;

    // The C library Redis runs on is the reference: compare with it
    // directly (test-only calls into libc).
    unsafe extern "C" {
        fn snprintf(buf: *mut c_char, size: usize, format: *const c_char, ...) -> c_int;
        fn strtod(text: *const c_char, end: *mut *mut c_char) -> f64;
    }

    fn c_format(value: f64, precision: usize) -> String {
        let mut buf = [0 as c_char; 64];
        let format = CString::new(format!("%.{precision}g")).unwrap();
        let len = unsafe { snprintf(buf.as_mut_ptr(), buf.len(), format.as_ptr(), value) };
        let bytes: Vec<u8> = buf[..len as usize].iter().map(|&c| c as u8).collect();
        String::from_utf8(bytes).unwrap()
    }

    fn ours(value: f64, precision: usize) -> String {
        let mut out = Vec::new();
        format_g(&mut out, value, precision);
        String::from_utf8(out).unwrap()
    }

    fn c_strtod(text: &str) -> Option<(f64, usize)> {
        let c_text = CString::new(text).unwrap();
        let mut end: *mut c_char = std::ptr::null_mut();
        let value = unsafe { strtod(c_text.as_ptr(), &mut end) };
        let len = end as usize - c_text.as_ptr() as usize;
        (len > 0).then_some((value, len))
    }

    fn same_parse(a: Option<(f64, usize)>, b: Option<(f64, usize)>) -> bool {
        match (a, b) {
            (Some((x, n)), Some((y, m))) => {
                n == m && (x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
            }
            (None, None) => true,
            _ => false,
        }
    }

    #[test]
    fn formats_like_printf_on_known_values() {
        // Values from `EVAL "return cjson.encode(x)"` on redis-server 7.0.15.
        for (value, expected) in [
            (2f64.powi(53), "9.007199254741e+15"),
            (0.1, "0.1"),
            (1.0 / 3.0, "0.33333333333333"),
            (1e300, "1e+300"),
            (123456789012345.0, "1.2345678901234e+14"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (100000000000000.0, "1e+14"),
            (5e-324, "4.9406564584125e-324"),
            (-1.5e-7, "-1.5e-07"),
            (99999999999999.5, "1e+14"),
            (123456789012344.5, "1.2345678901234e+14"),
            (-0.0, "-0"),
        ] {
            assert_eq!(ours(value, 14), expected, "{value:e}");
        }
        assert_eq!(ours(1234.5, 3), "1.23e+03");
        assert_eq!(ours(0.00012345, 3), "0.000123");
    }

    #[test]
    fn ties_round_to_even_like_glibc() {
        for (value, precision) in [
            (0.125, 2),
            (2.5, 1),
            (0.5, 1),
            (1.5, 1),
            (1234.5, 4),
            (1e23, 17),
        ] {
            assert_eq!(
                ours(value, precision),
                c_format(value, precision),
                "{value} {precision}"
            );
        }
    }

    #[test]
    fn parses_like_strtod_on_edge_inputs() {
        for text in [
            "1",
            "-0",
            "01",
            "1.",
            ".5",
            "1.e5",
            "1e",
            "1e+",
            "1e-3x",
            "0x10",
            "0x",
            "0x.8p1",
            "0x1p-1074",
            "0X1P+3",
            "inf",
            "-Infinity",
            "infinit",
            "nan",
            "-nan",
            "nan(abc)",
            "nan(",
            "1e999",
            "-1e-999",
            "12345678901234567890",
            "0.1e1",
            "-",
            "+1",
            "- 1",
            "e5",
            "x",
        ] {
            assert!(
                same_parse(strtod_prefix(text.as_bytes()), c_strtod(text)),
                "{text}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn format_g_matches_printf(bits in any::<u64>(), precision in 1usize..=17) {
            let value = f64::from_bits(bits);
            prop_assume!(!value.is_nan());
            prop_assert_eq!(ours(value, precision), c_format(value, precision));
        }

        #[test]
        fn format_g_matches_printf_on_short_decimals(mantissa in -10_000_000i64..10_000_000, exponent in -12i32..20) {
            let value = mantissa as f64 * 10f64.powi(exponent);
            prop_assert_eq!(ours(value, 14), c_format(value, 14));
        }

        #[test]
        fn strtod_prefix_matches_strtod(text in "[-+]?[0-9]{0,20}(\\.[0-9]{0,20})?([eE][-+]?[0-9]{0,4})?[a-z]?") {
            prop_assert!(same_parse(strtod_prefix(text.as_bytes()), c_strtod(&text)), "{}", text);
        }
    }
}
