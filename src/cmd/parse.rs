//! Argument parsing shared by command families: Redis's float rules and the
//! expiry options of SET and GETEX.

use super::{Args, CmdError};
use crate::protocol::parse::parse_i64;

/// Parses a float the way Redis's `strtod`-based check does: optional sign,
/// decimal digits with an optional fraction and exponent, or `inf`/`infinity`
/// in any case; no spaces, no trailing bytes, no NaN, no value that
/// overflows to infinity or underflows to zero. (`strtod` also reads C's
/// hexadecimal floats such as `0x1p3`; this does not. INCRBYFLOAT, which
/// needs `long double` anyway, has its own parser that does.)
pub fn parse_f64(text: &[u8]) -> Option<f64> {
    let first = *text.first()?;
    if first.is_ascii_whitespace() {
        return None;
    }
    let s = std::str::from_utf8(text).ok()?;
    // Rust also accepts "nan"; strtod does too, but Redis then rejects it.
    let value: f64 = s.parse().ok()?;
    if value.is_nan() {
        return None;
    }
    let unsigned = s.trim_start_matches(['+', '-']);
    let is_inf_literal =
        unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity");
    if value.is_infinite() && !is_inf_literal {
        return None; // overflow: strtod reports ERANGE with HUGE_VAL
    }
    if value == 0.0 && has_nonzero_mantissa(unsigned) {
        return None; // underflow: ERANGE with a zero result
    }
    Some(value)
}

/// Like [`parse_f64`], but also reads C99 hexadecimal floats (`0x1.8p3`),
/// as `strtod`/`strtold` do for SORT weights and blocking timeouts.
pub fn parse_f64_or_hex(text: &[u8]) -> Option<f64> {
    parse_f64(text).or_else(|| parse_hex_float(text))
}

fn parse_hex_float(text: &[u8]) -> Option<f64> {
    let (negative, rest) = match text.first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let rest = rest
        .strip_prefix(b"0x")
        .or_else(|| rest.strip_prefix(b"0X"))?;
    let (mantissa, exponent) = match rest.iter().position(|&b| b == b'p' || b == b'P') {
        Some(p) => (&rest[..p], Some(&rest[p + 1..])),
        None => (rest, None),
    };
    let (int_digits, frac_digits) = match mantissa.iter().position(|&b| b == b'.') {
        Some(dot) => (&mantissa[..dot], &mantissa[dot + 1..]),
        None => (mantissa, &[][..]),
    };
    if int_digits.is_empty() && frac_digits.is_empty() {
        return None;
    }
    let digit = |b: &u8| (*b as char).to_digit(16).map(f64::from);
    let mut value = 0.0;
    for b in int_digits {
        value = value * 16.0 + digit(b)?;
    }
    let mut scale = 1.0 / 16.0;
    for b in frac_digits {
        value += digit(b)? * scale;
        scale /= 16.0;
    }
    if let Some(exponent) = exponent {
        let exponent: i32 = std::str::from_utf8(exponent).ok()?.parse().ok()?;
        value *= 2f64.powi(exponent);
    }
    value
        .is_finite()
        .then_some(if negative { -value } else { value })
}

/// True when the digits before any exponent are not all zero.
fn has_nonzero_mantissa(s: &str) -> bool {
    s.bytes()
        .take_while(|b| !matches!(b, b'e' | b'E'))
        .any(|b| matches!(b, b'1'..=b'9'))
}

/// Argument `i` as a float, with Redis's error when it is not one.
pub fn float_arg(args: &Args, i: usize) -> Result<f64, CmdError> {
    parse_f64(args.get(i)).ok_or(CmdError::NotFloat)
}

/// How an expiry argument is to be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpireUnit {
    /// EX: seconds from now.
    Seconds,
    /// PX: milliseconds from now.
    Millis,
    /// EXAT: Unix time in seconds.
    UnixSeconds,
    /// PXAT: Unix time in milliseconds.
    UnixMillis,
}

/// Which command is parsing: SET takes NX/XX/GET/KEEPTTL, GETEX takes PERSIST.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum OptionsFor {
    Set,
    GetEx,
}

/// The options after `SET key value` or `GETEX key`.
#[derive(Default, Debug, PartialEq)]
pub struct ExpiryOptions<'a> {
    pub nx: bool,
    pub xx: bool,
    pub get: bool,
    pub keep_ttl: bool,
    pub persist: bool,
    pub expire: Option<(ExpireUnit, &'a [u8])>,
}

impl ExpiryOptions<'_> {
    /// The absolute expiry the options ask for, if any (see [`expire_deadline`]).
    pub fn deadline(&self, now_ms: u64, command: &str) -> Result<Option<u64>, CmdError> {
        self.expire
            .map(|(unit, arg)| expire_deadline(unit, arg, now_ms, command))
            .transpose()
    }
}

/// Parses SET/GETEX options from argument `from` on. Conflicting or unknown
/// options, and an expiry keyword without its value, are `ERR syntax error`;
/// repeating the same option is allowed (the last expiry wins), as in Redis.
pub fn parse_expiry_options<'a>(
    args: &Args<'a>,
    from: usize,
    command: OptionsFor,
) -> Result<ExpiryOptions<'a>, CmdError> {
    let mut opts = ExpiryOptions::default();
    let is_set = command == OptionsFor::Set;
    let mut i = from;
    while i < args.len() {
        let word = args.get(i);
        let has_value = i + 1 < args.len();
        let unit = expire_unit(word);
        let other_expiry = |unit: ExpireUnit, o: &ExpiryOptions| {
            o.keep_ttl || o.persist || o.expire.is_some_and(|(u, _)| u != unit)
        };
        if is_set && word.eq_ignore_ascii_case(b"nx") && !opts.xx {
            opts.nx = true;
        } else if is_set && word.eq_ignore_ascii_case(b"xx") && !opts.nx {
            opts.xx = true;
        } else if is_set && word.eq_ignore_ascii_case(b"get") {
            opts.get = true;
        } else if is_set && word.eq_ignore_ascii_case(b"keepttl") && opts.expire.is_none() {
            opts.keep_ttl = true;
        } else if !is_set && word.eq_ignore_ascii_case(b"persist") && opts.expire.is_none() {
            opts.persist = true;
        } else if let Some(unit) = unit.filter(|&u| has_value && !other_expiry(u, &opts)) {
            opts.expire = Some((unit, args.get(i + 1)));
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok(opts)
}

fn expire_unit(word: &[u8]) -> Option<ExpireUnit> {
    [
        (&b"ex"[..], ExpireUnit::Seconds),
        (b"px", ExpireUnit::Millis),
        (b"exat", ExpireUnit::UnixSeconds),
        (b"pxat", ExpireUnit::UnixMillis),
    ]
    .into_iter()
    .find(|(name, _)| word.eq_ignore_ascii_case(name))
    .map(|(_, unit)| unit)
}

/// Turns an expiry argument into an absolute Unix time in milliseconds.
/// Non-positive times and times that overflow once converted are
/// `ERR invalid expire time in '<command>' command`.
pub fn expire_deadline(
    unit: ExpireUnit,
    arg: &[u8],
    now_ms: u64,
    command: &str,
) -> Result<u64, CmdError> {
    let n = parse_i64(arg).ok_or(CmdError::NotInteger)?;
    let invalid = || CmdError::msg(format!("ERR invalid expire time in '{command}' command"));
    if n <= 0 {
        return Err(invalid());
    }
    let ms = match unit {
        ExpireUnit::Seconds | ExpireUnit::UnixSeconds => n.checked_mul(1000).ok_or_else(invalid)?,
        ExpireUnit::Millis | ExpireUnit::UnixMillis => n,
    };
    let deadline = match unit {
        ExpireUnit::Seconds | ExpireUnit::Millis => {
            ms.checked_add(now_ms as i64).ok_or_else(invalid)?
        }
        ExpireUnit::UnixSeconds | ExpireUnit::UnixMillis => ms,
    };
    Ok(deadline as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_floats_parse_as_strtold_reads_them() {
        for (text, value) in [
            ("0x1", 1.0),
            ("0x1.8", 1.5),
            ("0X2", 2.0),
            ("-0x0", 0.0),
            ("0x1p1", 2.0),
            ("0x.8", 0.5),
            ("1e1", 10.0),
        ] {
            assert_eq!(parse_f64_or_hex(text.as_bytes()), Some(value), "{text}");
        }
        for text in ["0x", "0x.", "0xg", "0x1p", " 0x1", "nan"] {
            assert_eq!(parse_f64_or_hex(text.as_bytes()), None, "{text}");
        }
    }
    use crate::cmd::args::OwnedArgs;

    #[test]
    fn floats_follow_strtod_rules() {
        for (text, want) in [
            ("1.5", Some(1.5)),
            ("-2", Some(-2.0)),
            ("+3", Some(3.0)),
            (".5", Some(0.5)),
            ("5.", Some(5.0)),
            ("3.0e3", Some(3000.0)),
            ("1E-2", Some(0.01)),
            ("inf", Some(f64::INFINITY)),
            ("-Infinity", Some(f64::NEG_INFINITY)),
            ("+inf", Some(f64::INFINITY)),
            ("0", Some(0.0)),
            ("0e500", Some(0.0)),
        ] {
            assert_eq!(parse_f64(text.as_bytes()), want, "{text}");
        }
        for bad in [
            "", " 1", "1 ", "nan", "-nan", "1e", "abc", "1.5x", "1e400", "1e-400", "--1",
        ] {
            assert_eq!(parse_f64(bad.as_bytes()), None, "{bad:?}");
        }
    }

    fn opts(words: &[&str], command: OptionsFor) -> Result<ExpiryOptions<'static>, CmdError> {
        let owned: OwnedArgs = words.iter().collect();
        let owned = Box::leak(Box::new(owned));
        parse_expiry_options(&owned.view(), 0, command)
    }

    #[test]
    fn expiry_options_conflicts() {
        let o = opts(&["nx", "GET", "ex", "10", "EX", "20"], OptionsFor::Set).unwrap();
        assert!(o.nx && o.get);
        assert_eq!(o.expire, Some((ExpireUnit::Seconds, &b"20"[..])));
        for bad in [
            &["nx", "xx"][..],
            &["keepttl", "ex", "1"],
            &["px", "1", "ex", "1"],
            &["ex"],
            &["persist"],
            &["bogus"],
        ] {
            assert_eq!(opts(bad, OptionsFor::Set), Err(CmdError::Syntax), "{bad:?}");
        }
        assert!(opts(&["persist"], OptionsFor::GetEx).unwrap().persist);
        assert_eq!(
            opts(&["persist", "ex", "1"], OptionsFor::GetEx),
            Err(CmdError::Syntax)
        );
        assert_eq!(opts(&["nx"], OptionsFor::GetEx), Err(CmdError::Syntax));
    }

    #[test]
    fn deadlines_and_their_errors() {
        use ExpireUnit::*;
        assert_eq!(expire_deadline(Seconds, b"2", 1000, "set"), Ok(3000));
        assert_eq!(expire_deadline(UnixMillis, b"5", 1000, "set"), Ok(5));
        assert_eq!(
            expire_deadline(Millis, b"x", 0, "set"),
            Err(CmdError::NotInteger)
        );
        let invalid = Err(CmdError::msg("ERR invalid expire time in 'getex' command"));
        assert_eq!(expire_deadline(Millis, b"0", 0, "getex"), invalid);
        assert_eq!(
            expire_deadline(Seconds, b"9223372036854775", 1_700_000_000_000, "getex"),
            invalid
        );
        assert_eq!(
            expire_deadline(Millis, b"9223372036854775807", 1, "getex"),
            invalid
        );
        assert!(expire_deadline(UnixSeconds, b"9223372036854775", 1, "getex").is_ok());
    }
}

/// A SCAN cursor as Redis reads it with `strtoul`: an optional sign (a minus
/// wraps around), decimal digits, nothing else; the empty string is 0.
fn cursor_value(text: &[u8]) -> Option<u64> {
    if text.is_empty() {
        return Some(0);
    }
    let (negative, digits) = match text[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// A SCAN/SSCAN/HSCAN/ZSCAN cursor, with Redis's error for anything else.
pub fn scan_cursor(text: &[u8]) -> Result<u64, CmdError> {
    cursor_value(text).ok_or(CmdError::Msg("ERR invalid cursor"))
}
