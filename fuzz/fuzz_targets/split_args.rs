//! Splits arbitrary lines like an inline request: never panics, every span
//! lies inside the output buffer, and spans come in order without overlap.

#![no_main]

#[path = "../../src/protocol/parse.rs"]
#[allow(dead_code)]
mod parse;

use libfuzzer_sys::fuzz_target;
use parse::{Span, split_args};

fuzz_target!(|line: &[u8]| {
    let (mut spans, mut out) = (Vec::<Span>::new(), Vec::new());
    if split_args(line, &mut spans, &mut out).is_ok() {
        let mut previous_end = 0;
        for span in &spans {
            assert!(previous_end <= span.start && span.start <= span.end);
            previous_end = span.end;
        }
        assert!(previous_end <= out.len());
        // Unescaping only ever shrinks the text.
        assert!(out.len() <= line.len());
    }
});
