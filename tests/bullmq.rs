//! BullMQ acceptance: runs `tests/clients/bullmq/test.mjs` (the real BullMQ
//! package, pinned by its lockfile) against redis-server, to prove the test
//! itself, and then against ferrokv.
//!
//! Needs Node and npm; `npm ci` installs the pinned packages on first run.
//! Without them the test passes with a loud SKIPPED, unless `CI=true`.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{ServerProcess, on_path, repo_path};

/// test.mjs has its own 60 s watchdog; this one catches a hung `node`.
const RUN_LIMIT: Duration = Duration::from_secs(120);
const INSTALL_LIMIT: Duration = Duration::from_secs(600);

/// Runs `cmd` to completion within `limit`, returning its combined output,
/// or an error naming what failed. A child past its limit is killed.
fn run(mut cmd: Command, what: &str, limit: Duration) -> Result<String, String> {
    let log = tempfile_path(what);
    let file = std::fs::File::create(&log).map_err(|e| format!("{what}: log: {e}"))?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("clone log handle"))
        .stderr(file)
        .spawn()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break Some(status);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    match status {
        Some(s) if s.success() => Ok(output),
        Some(s) => Err(format!("{what} failed ({s}):\n{output}")),
        None => Err(format!("{what} timed out after {limit:?}:\n{output}")),
    }
}

fn tempfile_path(what: &str) -> std::path::PathBuf {
    let name: String = what.chars().filter(char::is_ascii_alphanumeric).collect();
    std::env::temp_dir().join(format!("ferrokv-bullmq-{}-{name}.log", std::process::id()))
}

/// Installs the locked packages unless they are already there.
fn install(dir: &Path) -> Result<(), String> {
    if dir.join("node_modules/bullmq/package.json").is_file() {
        return Ok(());
    }
    let mut npm = Command::new("npm");
    npm.args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir);
    run(npm, "npm ci", INSTALL_LIMIT).map(drop)
}

fn run_acceptance(dir: &Path, server: &ServerProcess, label: &str) -> Result<String, String> {
    let mut node = Command::new("node");
    node.arg("test.mjs")
        .current_dir(dir)
        .env("REDIS_PORT", server.port.to_string());
    run(node, &format!("bullmq against {label}"), RUN_LIMIT)
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
    let dir = repo_path("tests/clients/bullmq");
    install(&dir).unwrap_or_else(|e| panic!("{e}"));

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
