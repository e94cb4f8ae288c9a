//! BullMQ acceptance: runs `tests/clients/bullmq/test.mjs` (the real BullMQ
//! package, pinned by its lockfile) against redis-server, to prove the test
//! itself, and then against ferrokv.
//!
//! Needs Node and npm; `npm ci` installs the pinned packages on first run.
//! Without them the test passes with a loud SKIPPED, unless `CI=true`.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{ServerProcess, node_clients, on_path, run_limited};

/// test.mjs has its own 60 s watchdog; this one catches a hung `node`.
const RUN_LIMIT: Duration = Duration::from_secs(120);

fn run_acceptance(dir: &Path, server: &ServerProcess, label: &str) -> Result<String, String> {
    let mut node = Command::new("node");
    node.arg("test.mjs")
        .current_dir(dir)
        .env("REDIS_PORT", server.port.to_string());
    run_limited(node, &format!("bullmq against {label}"), RUN_LIMIT)
}

#[test]
fn bullmq_runs_unmodified_against_ferrokv() {
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if !on_path("node") || !on_path("npm") {
        assert!(
            !in_ci,
            "CI=true but node/npm are missing: .ci/run must install them"
        );
        eprintln!("SKIPPED bullmq acceptance: node or npm not installed");
        return;
    }
    let dir = node_clients().unwrap_or_else(|e| panic!("{e}"));

    // The same script must pass against Redis first, or it proves nothing.
    match ServerProcess::redis() {
        Some(redis) => {
            let out =
                run_acceptance(&dir, &redis, "redis-server").unwrap_or_else(|e| panic!("{e}"));
            assert!(
                out.contains("bullmq: all passed"),
                "redis-server run:\n{out}"
            );
        }
        None => {
            assert!(!in_ci, "CI=true but redis-server is missing");
            eprintln!("SKIPPED bullmq against redis-server: redis-server not installed");
        }
    }

    let ferrokv = ServerProcess::ferrokv(&["--maxmemory-policy", "noeviction"]);
    let out = run_acceptance(&dir, &ferrokv, "ferrokv").unwrap_or_else(|e| panic!("{e}"));
    for step in [
        "a job completes and waitUntilFinished returns its value",
        "a delayed job runs after its delay",
        "a failing job retries with backoff, ends failed, and QueueEvents sees it",
        "a repeatable job runs on schedule",
        "all passed",
    ] {
        assert!(
            out.contains(&format!("bullmq: {step}")),
            "missing step `{step}`:\n{out}"
        );
    }
}
