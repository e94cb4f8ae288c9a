//! Reply building. Handlers speak in semantic terms (map, set, double, null) and
//! this writer lowers each to RESP2 or RESP3, so no handler branches on the
//! protocol version. Everything lands in one buffer that the connection writes
//! once per batch of pipelined commands.

use bytes::BytesMut;

/// The reply buffer of one connection (or of a nested caller such as EXEC or a
/// script, which reads the encoded reply back).
#[derive(Debug, Default)]
pub struct Reply {
    pub buf: BytesMut,
    /// RESP3 when the client said `HELLO 3`.
    pub resp3: bool,
    /// Prefix of the last error written (`ERR`, `WRONGTYPE`...), for
    /// `INFO errorstats` and failed-call counting. Reset by the dispatcher.
    pub last_error: Option<ErrorPrefix>,
}

/// The first word of an error reply, stored inline to avoid allocating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorPrefix {
    len: u8,
    bytes: [u8; 31],
}

impl ErrorPrefix {
    pub fn from_message(msg: &str) -> Self {
        let word = msg.split(' ').next().unwrap_or("ERR").as_bytes();
        let len = word.len().min(31);
        let mut bytes = [0; 31];
        bytes[..len].copy_from_slice(&word[..len]);
        ErrorPrefix {
            len: len as u8,
            bytes,
        }
    }
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("ERR")
    }
}

impl Reply {
    pub fn new(resp3: bool) -> Self {
        Reply {
            buf: BytesMut::with_capacity(16 * 1024),
            resp3,
            last_error: None,
        }
    }

    #[inline]
    fn line(&mut self, prefix: u8, body: &[u8]) {
        self.buf.reserve(body.len() + 3);
        self.buf.extend_from_slice(&[prefix]);
        self.buf.extend_from_slice(body);
        self.buf.extend_from_slice(b"\r\n");
    }

    #[inline]
    fn header(&mut self, prefix: u8, n: i64) {
        let mut num = itoa::Buffer::new();
        self.line(prefix, num.format(n).as_bytes());
    }

    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// A status reply such as `+PONG`. Must not contain CR or LF.
    pub fn simple(&mut self, s: &str) {
        self.line(b'+', s.as_bytes());
    }

    /// An error reply. `msg` starts with its prefix, as in `ERR syntax error`.
    /// Newlines are replaced so the reply stays one protocol line.
    pub fn error(&mut self, msg: &str) {
        self.error_bytes(msg.as_bytes());
    }

    /// An error reply whose text may hold any bytes (Redis echoes raw
    /// argument bytes in some messages).
    pub fn error_bytes(&mut self, msg: &[u8]) {
        self.last_error = Some(ErrorPrefix::from_message(&String::from_utf8_lossy(
            msg.split(|&b| b == b' ').next().unwrap_or_default(),
        )));
        self.buf.reserve(msg.len() + 3);
        self.buf.extend_from_slice(b"-");
        let start = self.buf.len();
        self.buf.extend_from_slice(msg);
        for b in &mut self.buf[start..] {
            if *b == b'\r' || *b == b'\n' {
                *b = b' ';
            }
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    #[inline]
    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }

    #[inline]
    pub fn bulk(&mut self, data: &[u8]) {
        self.header(b'$', data.len() as i64);
        self.buf.reserve(data.len() + 2);
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string given in two parts (a packed list element: its prefix
    /// shared with the previous element, then the rest).
    #[inline]
    pub fn bulk_parts(&mut self, head: &[u8], tail: &[u8]) {
        self.header(b'$', (head.len() + tail.len()) as i64);
        self.buf.reserve(head.len() + tail.len() + 2);
        self.buf.extend_from_slice(head);
        // Empty for an element stored whole or equal to its neighbour.
        if !tail.is_empty() {
            self.buf.extend_from_slice(tail);
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn bulk_int(&mut self, n: i64) {
        let mut num = itoa::Buffer::new();
        self.bulk(num.format(n).as_bytes());
    }

    /// The absent value: `$-1` in RESP2, `_` in RESP3.
    #[inline]
    pub fn null(&mut self) {
        self.buf
            .extend_from_slice(if self.resp3 { b"_\r\n" } else { b"$-1\r\n" });
    }

    /// The absent aggregate: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        self.buf
            .extend_from_slice(if self.resp3 { b"_\r\n" } else { b"*-1\r\n" });
    }

    #[inline]
    pub fn array(&mut self, len: usize) {
        self.header(b'*', len as i64);
    }

    /// A map of `pairs` key/value pairs: a flat array of twice the length in RESP2.
    pub fn map(&mut self, pairs: usize) {
        if self.resp3 {
            self.header(b'%', pairs as i64);
        } else {
            self.header(b'*', 2 * pairs as i64);
        }
    }

    pub fn set(&mut self, len: usize) {
        self.header(if self.resp3 { b'~' } else { b'*' }, len as i64);
    }

    /// An out-of-band message (pub/sub): a plain array in RESP2.
    pub fn push(&mut self, len: usize) {
        self.header(if self.resp3 { b'>' } else { b'*' }, len as i64);
    }

    pub fn boolean(&mut self, b: bool) {
        if self.resp3 {
            self.buf
                .extend_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(b as i64);
        }
    }

    /// A double, formatted as Redis 7.0 does (`%.17g`, `inf`, `-inf`).
    pub fn double(&mut self, d: f64) {
        let text = format_double(d);
        if self.resp3 {
            self.line(b',', text.as_bytes());
        } else {
            self.bulk(text.as_bytes());
        }
    }

    /// Human-readable text (INFO, CLIENT LIST): a verbatim string in RESP3.
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.resp3 {
            self.header(b'=', text.len() as i64 + 4);
            self.buf.extend_from_slice(b"txt:");
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// Appends bytes that are already encoded RESP (a nested reply).
    pub fn raw(&mut self, encoded: &[u8]) {
        self.buf.extend_from_slice(encoded);
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// Formats like C's `printf("%.17g", d)`, with Redis's spelling of infinities.
pub fn format_double(d: f64) -> String {
    format_g(d, 17)
}

/// C's `%.<precision>g`: fixed or scientific notation, whichever `%g` would
/// pick, with trailing zeros removed.
pub fn format_g(d: f64, precision: usize) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let p = precision.max(1);
    // Rust rounds `{:e}` correctly, as glibc's printf does.
    let sci = format!("{:.*e}", p - 1, d);
    let (mantissa, exp) = sci.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent digits");
    if exp < -4 || exp >= p as i32 {
        let mantissa = trim_fraction(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        trim_fraction(&format!("{:.*}", decimals, d)).to_string()
    }
}

fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g17_matches_printf() {
        assert_eq!(format_double(1.0), "1");
        assert_eq!(format_double(1.1), "1.1000000000000001");
        assert_eq!(format_double(-2.5), "-2.5");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(
            format_double(123456789012345680.0),
            "1.2345678901234568e+17"
        );
        assert_eq!(format_double(0.0001), "0.0001");
        assert_eq!(format_double(0.00001), "1.0000000000000001e-05");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn resp2_and_resp3_lowering() {
        let mut r2 = Reply::new(false);
        r2.map(1);
        r2.null();
        r2.double(1.5);
        r2.boolean(true);
        assert_eq!(&r2.buf[..], b"*2\r\n$-1\r\n$3\r\n1.5\r\n:1\r\n");
        let mut r3 = Reply::new(true);
        r3.map(1);
        r3.null();
        r3.double(1.5);
        r3.boolean(true);
        assert_eq!(&r3.buf[..], b"%1\r\n_\r\n,1.5\r\n#t\r\n");
    }

    #[test]
    fn error_records_prefix_and_stays_one_line() {
        let mut r = Reply::new(false);
        r.error("WRONGTYPE Operation\nagainst");
        assert_eq!(&r.buf[..], b"-WRONGTYPE Operation against\r\n");
        assert_eq!(r.last_error.unwrap().as_str(), "WRONGTYPE");
    }
}
