//! Glob matching on arbitrary pattern/subject pairs: never panics and, run
//! with `-timeout=`, never takes long (no backtracking blow-up).
#![no_main]

#[path = "../../src/util/glob.rs"]
#[allow(dead_code)]
mod glob;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Layout: one flags byte, then pattern and subject split at the first 0xFF.
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let split = rest.iter().position(|&b| b == 0xff).unwrap_or(rest.len());
    let pattern = &rest[..split];
    let subject = rest.get(split + 1..).unwrap_or(&[]);
    let _ = glob::glob_match(pattern, subject, flags & 1 != 0);
});
