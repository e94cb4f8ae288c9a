//! The properties the fuzz targets check, shared with `tests/fuzz_corpus.rs`
//! (which replays the corpus under `cargo test`): both include this file and
//! provide `parse` and `glob` beside it, the fuzz targets by compiling the
//! source files directly, the test through the ferrokv crate.

use super::glob::glob_match;
use super::parse::{Limits, Parsed, Span, parse_request, split_args};

/// `parse_request`: decode request after request as a connection would. The
/// first byte picks the limits, so both auth states and a small
/// proto-max-bulk-len are explored. Spans stay in bounds, every step
/// consumes, and a decoded multibulk round-trips.
pub fn check_parse(data: &[u8]) {
    let Some((&mode, buf)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_bulk: if mode & 1 == 0 { 512 * 1024 * 1024 } else { 64 },
        unauthenticated: mode & 2 != 0,
    };
    let (mut spans, mut scratch) = (Vec::<Span>::new(), Vec::new());
    let mut pos = 0;
    // Each successful step consumes at least one byte, so this ends.
    while pos < buf.len() {
        let rest = &buf[pos..];
        let consumed = match parse_request(rest, &mut spans, &mut scratch, limits) {
            Ok(Parsed::Incomplete { .. }) | Err(_) => break,
            Ok(Parsed::Empty { consumed }) => consumed,
            Ok(Parsed::Multibulk { consumed }) => {
                for s in &spans {
                    assert!(s.start <= s.end && s.end <= consumed);
                    assert!(s.end - s.start <= limits.max_bulk);
                }
                roundtrip(rest, &spans, limits);
                consumed
            }
            Ok(Parsed::Inline { consumed }) => {
                for s in &spans {
                    assert!(s.start <= s.end && s.end <= scratch.len());
                }
                assert!(!spans.is_empty());
                consumed
            }
        };
        assert!(consumed > 0 && consumed <= rest.len());
        pos += consumed;
    }
}

/// A decoded multibulk re-encodes canonically and decodes to the same
/// arguments; every strict prefix of the canonical form is incomplete.
fn roundtrip(src: &[u8], spans: &[Span], limits: Limits) {
    let args: Vec<&[u8]> = spans.iter().map(|s| &src[s.start..s.end]).collect();
    let mut enc = format!("*{}\r\n", args.len()).into_bytes();
    for a in &args {
        enc.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        enc.extend_from_slice(a);
        enc.extend_from_slice(b"\r\n");
    }
    let (mut spans2, mut scratch) = (Vec::new(), Vec::new());
    let parsed = parse_request(&enc, &mut spans2, &mut scratch, limits);
    assert_eq!(
        parsed,
        Ok(Parsed::Multibulk {
            consumed: enc.len()
        })
    );
    let again: Vec<&[u8]> = spans2.iter().map(|s| &enc[s.start..s.end]).collect();
    assert_eq!(args, again);
    let cut = enc.len() / 2;
    let parsed = parse_request(&enc[..cut], &mut spans2, &mut scratch, limits);
    assert!(
        matches!(parsed, Ok(Parsed::Incomplete { .. })),
        "{parsed:?}"
    );
}

/// `split_args`: an inline line splits without panicking, spans come in
/// order without overlap inside the output, and unescaping only shrinks.
pub fn check_split(line: &[u8]) {
    let (mut spans, mut out) = (Vec::<Span>::new(), Vec::new());
    if split_args(line, &mut spans, &mut out).is_ok() {
        let mut previous_end = 0;
        for span in &spans {
            assert!(previous_end <= span.start && span.start <= span.end);
            previous_end = span.end;
        }
        assert!(previous_end <= out.len());
        assert!(out.len() <= line.len());
    }
}

/// `glob`: one flags byte (bit 0: nocase), then pattern and subject split at
/// the first 0xFF. Must not panic; the caller bounds the time.
pub fn check_glob(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let split = rest.iter().position(|&b| b == 0xff).unwrap_or(rest.len());
    let pattern = &rest[..split];
    let subject = rest.get(split + 1..).unwrap_or(&[]);
    let _ = glob_match(pattern, subject, flags & 1 != 0);
}
