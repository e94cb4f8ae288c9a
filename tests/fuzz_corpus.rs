//! Replays the fuzz corpus kept in `fuzz/corpus/` through the same checks as
//! the cargo-fuzz targets (`fuzz/fuzz_targets/`), so `cargo test` guards
//! every input the fuzzer found interesting without needing libFuzzer. An
//! input that once crashed a target belongs in the corpus too.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ferrokv::protocol::parse;
use ferrokv::util::glob;
use glob::glob_match;

#[path = "../fuzz/checks.rs"]
mod checks;

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

#[test]
fn parse_request_corpus_replays_cleanly() {
    for (path, data) in corpus("parse_request") {
        let outcome = std::panic::catch_unwind(|| checks::check_parse(&data));
        assert!(outcome.is_ok(), "{} failed", path.display());
    }
}

#[test]
fn split_args_corpus_replays_cleanly() {
    for (path, line) in corpus("split_args") {
        let outcome = std::panic::catch_unwind(|| checks::check_split(&line));
        assert!(outcome.is_ok(), "{} failed", path.display());
    }
}

#[test]
fn glob_corpus_replays_quickly() {
    for (path, data) in corpus("glob") {
        let start = Instant::now();
        checks::check_glob(&data);
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
