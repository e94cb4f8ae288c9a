//! Feeds arbitrary bytes to the request decoder, the way a connection does:
//! decode request after request until it needs more input or reports a
//! protocol error. It must never panic, never consume more than it was given,
//! and every span must lie inside the buffer it refers to. The first input
//! byte picks the authenticated/unauthenticated limits.

#![no_main]

use ferrokv::protocol::parse::{Limits, Parsed, Span, parse_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, stream)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        unauthenticated: mode & 1 == 1,
        ..Limits::default()
    };
    let (mut spans, mut scratch) = (Vec::<Span>::new(), Vec::new());
    let mut pos = 0;
    while pos < stream.len() {
        let rest = &stream[pos..];
        let consumed = match parse_request(rest, &mut spans, &mut scratch, limits) {
            Ok(Parsed::Incomplete { .. }) | Err(_) => return,
            Ok(Parsed::Empty { consumed }) => consumed,
            Ok(Parsed::Multibulk { consumed }) => {
                assert!(spans.iter().all(|s| s.start <= s.end && s.end <= consumed));
                consumed
            }
            Ok(Parsed::Inline { consumed }) => {
                assert!(spans.iter().all(|s| s.start <= s.end && s.end <= scratch.len()));
                consumed
            }
        };
        assert!(consumed > 0 && consumed <= rest.len());
        pos += consumed;
    }
});
