//! Feeds arbitrary bytes to the request decoder, as a connection would:
//! request after request until one is incomplete or an error. The decoder is
//! compiled straight from its source file (it depends on nothing else), so
//! the fuzz build does not drag in the whole server.
#![no_main]

#[path = "../../src/protocol/parse.rs"]
#[allow(dead_code)]
mod parse;

use libfuzzer_sys::fuzz_target;
use parse::{Limits, Parsed, Span, parse_request};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the limits, so both auth states and a small
    // proto-max-bulk-len are explored.
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
});

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
    assert_eq!(parsed, Ok(Parsed::Multibulk { consumed: enc.len() }));
    let again: Vec<&[u8]> = spans2.iter().map(|s| &enc[s.start..s.end]).collect();
    assert_eq!(args, again);
    let cut = enc.len() / 2;
    let parsed = parse_request(&enc[..cut], &mut spans2, &mut scratch, limits);
    assert!(matches!(parsed, Ok(Parsed::Incomplete { .. })), "{parsed:?}");
}
