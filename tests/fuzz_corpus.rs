//! Replays the fuzz corpus kept in `fuzz/corpus/` through the same checks as
//! the cargo-fuzz targets (`fuzz/fuzz_targets/`), so `cargo test` guards
//! every input the fuzzer found interesting without needing libFuzzer. An
//! input that once crashed a target belongs in the corpus too.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ferrokv::protocol::parse::{Limits, Parsed, Span, parse_request, split_args};
use ferrokv::util::glob::glob_match;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = common::repo_path(&format!("fuzz/corpus/{target}"));
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            (path, data)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files
}

/// The `parse_request` target: decode request after request like a
/// connection; spans stay in bounds, every step consumes, and a decoded
/// multibulk re-encodes to the same arguments.
fn check_parse(data: &[u8]) {
    let Some((&mode, buf)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_bulk: if mode & 1 == 0 { 512 * 1024 * 1024 } else { 64 },
        unauthenticated: mode & 2 != 0,
    };
    let (mut spans, mut scratch) = (Vec::<Span>::new(), Vec::new());
    let mut pos = 0;
    while pos < buf.len() {
        let rest = &buf[pos..];
        let consumed = match parse_request(rest, &mut spans, &mut scratch, limits) {
            Ok(Parsed::Incomplete { .. }) | Err(_) => break,
            Ok(Parsed::Empty { consumed }) => consumed,
            Ok(Parsed::Multibulk { consumed }) => {
                let args: Vec<Vec<u8>> = spans
                    .iter()
                    .map(|s| {
                        assert!(s.start <= s.end && s.end <= consumed);
                        rest[s.start..s.end].to_vec()
                    })
                    .collect();
                let encoded = common::encode_command(&args);
                let (mut again, mut scratch2) = (Vec::new(), Vec::new());
                assert_eq!(
                    parse_request(&encoded, &mut again, &mut scratch2, limits),
                    Ok(Parsed::Multibulk {
                        consumed: encoded.len()
                    })
                );
                let reparsed: Vec<&[u8]> = again.iter().map(|s| &encoded[s.start..s.end]).collect();
                assert_eq!(args, reparsed);
                consumed
            }
            Ok(Parsed::Inline { consumed }) => {
                assert!(!spans.is_empty());
                assert!(
                    spans
                        .iter()
                        .all(|s| s.start <= s.end && s.end <= scratch.len())
                );
                consumed
            }
        };
        assert!(consumed > 0 && consumed <= rest.len());
        pos += consumed;
    }
}

#[test]
fn parse_request_corpus_replays_cleanly() {
    for (path, data) in corpus("parse_request") {
        let outcome = std::panic::catch_unwind(|| check_parse(&data));
        assert!(outcome.is_ok(), "{} failed", path.display());
    }
}

#[test]
fn split_args_corpus_replays_cleanly() {
    for (path, line) in corpus("split_args") {
        let (mut spans, mut out) = (Vec::<Span>::new(), Vec::new());
        if split_args(&line, &mut spans, &mut out).is_ok() {
            let mut previous_end = 0;
            for span in &spans {
                assert!(previous_end <= span.start && span.start <= span.end);
                previous_end = span.end;
            }
            assert!(out.len() <= line.len(), "{}", path.display());
        }
    }
}

#[test]
fn glob_corpus_replays_quickly() {
    for (path, data) in corpus("glob") {
        let Some((&flags, rest)) = data.split_first() else {
            continue;
        };
        let split = rest.iter().position(|&b| b == 0xff).unwrap_or(rest.len());
        let (pattern, subject) = (&rest[..split], rest.get(split + 1..).unwrap_or(&[]));
        let start = Instant::now();
        glob_match(pattern, subject, flags & 1 != 0);
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{} is slow",
            path.display()
        );
    }
}

/// Known answers for the seeds, so the corpus also pins behaviour.
#[test]
fn glob_seeds_match_as_redis() {
    let cases: [(&str, &str, bool); 8] = [
        ("h*llo", "heeeello", true),
        ("h[ae]llo", "hallo", true),
        ("[^a-z]*", "Xyz", true),
        ("[z-a]", "m", true),
        ("a\\*b", "a*b", true),
        ("a\\*b", "axb", false),
        ("???", "abc", true),
        ("a*a*a*a*a*a*a*a*b", &"a".repeat(200), false),
    ];
    for (pattern, subject, expected) in cases {
        assert_eq!(
            glob_match(pattern.as_bytes(), subject.as_bytes(), false),
            expected,
            "{pattern} vs {subject}"
        );
    }
}
