//! Request decoding: RESP multibulk (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and inline
//! commands (`GET k\n`, as typed into telnet).
//!
//! The parser never allocates for a multibulk request: it records the argument
//! spans inside the read buffer. Inline requests need unescaping, so their
//! arguments are copied into a scratch buffer the caller owns. Limits are checked
//! on the announced lengths before anything is buffered for them, and every error
//! carries the exact text Redis sends before it closes the connection.

use std::fmt;

/// Longest inline request, and longest `*`/`$` header line, Redis accepts.
pub const INLINE_MAX: usize = 64 * 1024;

/// Byte range of one argument inside the buffer the parser was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// Limits the connection applies while parsing.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `proto-max-bulk-len`.
    pub max_bulk: usize,
    /// A client that has not authenticated yet may only send tiny requests,
    /// so an unauthenticated peer cannot make the server buffer much.
    pub unauthenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk: 512 * 1024 * 1024,
            unauthenticated: false,
        }
    }
}

/// The outcome of one parse attempt at the start of the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Not a whole request yet; read more. `need` is a hint of the total bytes
    /// the request is known to take, so the reader can reserve once.
    Incomplete { need: usize },
    /// A request whose argument spans point into the read buffer.
    Multibulk { consumed: usize },
    /// A request whose arguments were unescaped into the scratch buffer.
    Inline { consumed: usize },
    /// Bytes that hold no command (`*0\r\n`, a blank line): skip them.
    Empty { consumed: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    TooBigMultibulkCount,
    InvalidMultibulkLength,
    /// More than 10 arguments before AUTH (Redis 7.0.15's wording).
    UnauthenticatedMultibulkLength,
    TooBigBulkCount,
    InvalidBulkLength,
    /// A bulk over 16 KiB before AUTH.
    UnauthenticatedBulkLength,
    ExpectedDollar(u8),
    TooBigInline,
    UnbalancedQuotes,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Protocol error: ")?;
        match self {
            ProtocolError::TooBigMultibulkCount => f.write_str("too big mbulk count string"),
            ProtocolError::InvalidMultibulkLength => f.write_str("invalid multibulk length"),
            ProtocolError::TooBigBulkCount => f.write_str("too big bulk count string"),
            ProtocolError::InvalidBulkLength => f.write_str("invalid bulk length"),
            ProtocolError::UnauthenticatedMultibulkLength => {
                f.write_str("unauthenticated multibulk length")
            }
            ProtocolError::UnauthenticatedBulkLength => f.write_str("unauthenticated bulk length"),
            ProtocolError::ExpectedDollar(c) => write!(f, "expected '$', got '{}'", *c as char),
            ProtocolError::TooBigInline => f.write_str("too big inline request"),
            ProtocolError::UnbalancedQuotes => f.write_str("unbalanced quotes in request"),
        }
    }
}

/// Parses one request at the start of `buf`. On success `spans` holds the
/// arguments: in `buf` for multibulk, in `scratch` for inline.
pub fn parse_request(
    buf: &[u8],
    spans: &mut Vec<Span>,
    scratch: &mut Vec<u8>,
    limits: Limits,
) -> Result<Parsed, ProtocolError> {
    spans.clear();
    match buf.first() {
        None => Ok(Parsed::Incomplete { need: 0 }),
        Some(b'*') => parse_multibulk(buf, spans, limits),
        Some(_) => parse_inline(buf, spans, scratch),
    }
}

/// Finds the `\r` that ends a header line starting at `from`. Like Redis, the
/// byte after `\r` is taken to be `\n` without looking at it.
fn header_end(buf: &[u8], from: usize) -> Option<usize> {
    let cr = memchr(b'\r', &buf[from..])? + from;
    (cr + 1 < buf.len()).then_some(cr)
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

fn parse_multibulk(
    buf: &[u8],
    spans: &mut Vec<Span>,
    limits: Limits,
) -> Result<Parsed, ProtocolError> {
    let Some(cr) = header_end(buf, 1) else {
        if buf.len() > INLINE_MAX {
            return Err(ProtocolError::TooBigMultibulkCount);
        }
        return Ok(Parsed::Incomplete { need: 0 });
    };
    let count = parse_i64(&buf[1..cr]).ok_or(ProtocolError::InvalidMultibulkLength)?;
    if count > i32::MAX as i64 {
        return Err(ProtocolError::InvalidMultibulkLength);
    }
    if limits.unauthenticated && count > 10 {
        return Err(ProtocolError::UnauthenticatedMultibulkLength);
    }
    let mut pos = cr + 2;
    if count <= 0 {
        return Ok(Parsed::Empty { consumed: pos });
    }
    let count = count as usize;
    // Reserve for what is plausible, not for what the peer claims.
    spans.reserve(count.min(1024));
    for _ in 0..count {
        if pos >= buf.len() {
            return Ok(Parsed::Incomplete { need: 0 });
        }
        let Some(cr) = header_end(buf, pos) else {
            if buf.len() - pos > INLINE_MAX {
                return Err(ProtocolError::TooBigBulkCount);
            }
            return Ok(Parsed::Incomplete { need: 0 });
        };
        if buf[pos] != b'$' {
            return Err(ProtocolError::ExpectedDollar(buf[pos]));
        }
        let len = parse_i64(&buf[pos + 1..cr]).ok_or(ProtocolError::InvalidBulkLength)?;
        if len < 0 || len as u64 > limits.max_bulk as u64 {
            return Err(ProtocolError::InvalidBulkLength);
        }
        if limits.unauthenticated && len > 16384 {
            return Err(ProtocolError::UnauthenticatedBulkLength);
        }
        let start = cr + 2;
        let end = start + len as usize;
        if end + 2 > buf.len() {
            return Ok(Parsed::Incomplete { need: end + 2 });
        }
        spans.push(Span { start, end });
        pos = end + 2;
    }
    Ok(Parsed::Multibulk { consumed: pos })
}

fn parse_inline(
    buf: &[u8],
    spans: &mut Vec<Span>,
    scratch: &mut Vec<u8>,
) -> Result<Parsed, ProtocolError> {
    let Some(nl) = memchr(b'\n', buf) else {
        if buf.len() > INLINE_MAX {
            return Err(ProtocolError::TooBigInline);
        }
        return Ok(Parsed::Incomplete { need: 0 });
    };
    let mut line = &buf[..nl];
    if let Some(stripped) = line.strip_suffix(b"\r") {
        line = stripped;
    }
    scratch.clear();
    split_args(line, spans, scratch)?;
    if spans.is_empty() {
        return Ok(Parsed::Empty { consumed: nl + 1 });
    }
    Ok(Parsed::Inline { consumed: nl + 1 })
}

/// Splits an inline line into arguments the way redis-cli and Redis's inline
/// parser do: whitespace separates, `"..."` understands `\n \r \t \b \a \\ \"`
/// and `\xHH`, `'...'` understands only `\'`, and a closing quote must be
/// followed by whitespace. A NUL byte ends the line, as in a C string.
pub fn split_args(
    line: &[u8],
    spans: &mut Vec<Span>,
    out: &mut Vec<u8>,
) -> Result<(), ProtocolError> {
    let line = match memchr(0, line) {
        Some(nul) => &line[..nul],
        None => line,
    };
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let mut p = 0;
    loop {
        while p < line.len() && is_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Ok(());
        }
        let start = out.len();
        let (mut in_dq, mut in_sq) = (false, false);
        loop {
            let Some(&c) = line.get(p) else {
                if in_dq || in_sq {
                    return Err(ProtocolError::UnbalancedQuotes);
                }
                break;
            };
            if in_dq {
                if c == b'\\' && p + 3 < line.len() && line[p + 1] == b'x' {
                    if let (Some(h), Some(l)) = (hex(line[p + 2]), hex(line[p + 3])) {
                        out.push(h * 16 + l);
                        p += 4;
                        continue;
                    }
                }
                if c == b'\\' && p + 1 < line.len() {
                    out.push(match line[p + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                    p += 2;
                    continue;
                }
                if c == b'"' {
                    if line.get(p + 1).is_some_and(|&n| !is_space(n)) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    p += 1;
                    break;
                }
                out.push(c);
            } else if in_sq {
                if c == b'\\' && line.get(p + 1) == Some(&b'\'') {
                    out.push(b'\'');
                    p += 2;
                    continue;
                }
                if c == b'\'' {
                    if line.get(p + 1).is_some_and(|&n| !is_space(n)) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    p += 1;
                    break;
                }
                out.push(c);
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' => break,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    _ => out.push(c),
                }
            }
            p += 1;
        }
        spans.push(Span {
            start,
            end: out.len(),
        });
    }
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Strict decimal parse with Redis's `string2ll` rules: optional `-`, no `+`,
/// no leading zeros, no spaces, fits in i64.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(buf: &[u8]) -> Result<(Parsed, Vec<Vec<u8>>), ProtocolError> {
        let (mut spans, mut scratch) = (Vec::new(), Vec::new());
        let parsed = parse_request(buf, &mut spans, &mut scratch, Limits::default())?;
        let src: &[u8] = if matches!(parsed, Parsed::Inline { .. }) {
            &scratch
        } else {
            buf
        };
        let a = spans.iter().map(|s| src[s.start..s.end].to_vec()).collect();
        Ok((parsed, a))
    }

    #[test]
    fn multibulk_whole_and_partial() {
        let req = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
        let (p, a) = args(req).unwrap();
        assert_eq!(
            p,
            Parsed::Multibulk {
                consumed: req.len()
            }
        );
        assert_eq!(a, vec![b"GET".to_vec(), b"k".to_vec()]);
        for cut in 0..req.len() {
            assert!(
                matches!(args(&req[..cut]).unwrap().0, Parsed::Incomplete { .. }),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn binary_safe_bulk() {
        let (_, a) = args(b"*1\r\n$4\r\na\r\n\0\r\n").unwrap();
        assert_eq!(a, vec![b"a\r\n\0".to_vec()]);
    }

    #[test]
    fn multibulk_errors_match_redis() {
        assert_eq!(
            args(b"*x\r\n").unwrap_err().to_string(),
            "Protocol error: invalid multibulk length"
        );
        assert_eq!(
            args(b"*3000000000\r\n").unwrap_err(),
            ProtocolError::InvalidMultibulkLength
        );
        assert_eq!(
            args(b"*1\r\n+GET\r\n").unwrap_err().to_string(),
            "Protocol error: expected '$', got '+'"
        );
        assert_eq!(
            args(b"*1\r\n$-1\r\n").unwrap_err(),
            ProtocolError::InvalidBulkLength
        );
        assert_eq!(
            args(b"*1\r\n$600000000\r\n").unwrap_err(),
            ProtocolError::InvalidBulkLength
        );
        let long = [b"*1".as_slice(), &[b'1'; INLINE_MAX + 1]].concat();
        assert_eq!(
            args(&long).unwrap_err(),
            ProtocolError::TooBigMultibulkCount
        );
    }

    #[test]
    fn unauthenticated_limits_have_their_own_words() {
        let (mut spans, mut scratch) = (Vec::new(), Vec::new());
        let limits = Limits {
            unauthenticated: true,
            ..Limits::default()
        };
        let mut parse = |buf: &[u8]| parse_request(buf, &mut spans, &mut scratch, limits);
        assert_eq!(
            parse(b"*11\r\n").unwrap_err().to_string(),
            "Protocol error: unauthenticated multibulk length"
        );
        assert_eq!(
            parse(b"*1\r\n$16385\r\n").unwrap_err().to_string(),
            "Protocol error: unauthenticated bulk length"
        );
        assert!(parse(b"*10\r\n$16384\r\n").is_ok());
    }

    #[test]
    fn empty_multibulk_is_skipped() {
        assert_eq!(args(b"*0\r\n").unwrap().0, Parsed::Empty { consumed: 4 });
        assert_eq!(args(b"*-1\r\n").unwrap().0, Parsed::Empty { consumed: 5 });
    }

    #[test]
    fn inline_quoting() {
        let (p, a) = args(b"set \"a b\" 'c\\'d' \"\\x41\\n\"\r\n").unwrap();
        assert!(matches!(p, Parsed::Inline { .. }));
        assert_eq!(
            a,
            vec![
                b"set".to_vec(),
                b"a b".to_vec(),
                b"c'd".to_vec(),
                b"A\n".to_vec()
            ]
        );
        assert_eq!(
            args(b"get \"abc\n").unwrap_err(),
            ProtocolError::UnbalancedQuotes
        );
        assert_eq!(
            args(b"get \"a\"b\n").unwrap_err(),
            ProtocolError::UnbalancedQuotes
        );
        assert_eq!(args(b"   \r\n").unwrap().0, Parsed::Empty { consumed: 5 });
    }

    #[test]
    fn inline_too_big() {
        assert_eq!(
            args(&vec![b'a'; INLINE_MAX + 1]).unwrap_err(),
            ProtocolError::TooBigInline
        );
    }

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        for bad in [&b"01"[..], b"+1", b" 1", b"-0", b"", b"-"] {
            assert_eq!(parse_i64(bad), None, "{:?}", bad);
        }
    }
}
