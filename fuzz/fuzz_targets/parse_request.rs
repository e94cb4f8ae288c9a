//! The `parse_request` target: see `check_parse` in `fuzz/checks.rs`, which
//! `tests/fuzz_corpus.rs` also runs over the corpus. The decoder and the
//! glob matcher are compiled straight from their source files (they depend on
//! nothing else), so a fuzz build does not drag in the whole server.
#![no_main]

#[path = "../../src/util/glob.rs"]
#[allow(dead_code)]
mod glob;
#[path = "../../src/protocol/parse.rs"]
#[allow(dead_code)]
mod parse;
#[path = "../checks.rs"]
#[allow(dead_code)]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_parse(data));
