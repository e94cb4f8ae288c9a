//! `ferrokv [/path/to/redis.conf] [--directive value ...] [-]`, as redis-server.

use std::process::ExitCode;

use clap::{Arg, ArgAction, Command};
use ferrokv::config::{self, Config};
use ferrokv::server::{self, Server};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;

const USAGE: &str = "Usage: ferrokv [/path/to/redis.conf] [options] [-]
       ferrokv - (read config from stdin)
       ferrokv -v or --version
       ferrokv -h or --help

Examples:
       ferrokv (run the server with default conf)
       echo 'maxmemory 128mb' | ferrokv -
       ferrokv /etc/ferrokv/6379.conf
       ferrokv --port 7777
       ferrokv --port 7777 --maxmemory 256mb --save \"\"
       ferrokv /etc/myferrokv.conf --loglevel verbose -
       ferrokv /etc/myferrokv.conf --loglevel verbose";

/// Counts every allocation, for `used_memory` and `maxmemory`.
#[global_allocator]
static ALLOCATOR: ferrokv::alloc::CountingAlloc = ferrokv::alloc::CountingAlloc;

fn main() -> ExitCode {
    let cli = Command::new("ferrokv")
        .disable_help_flag(true)
        .disable_version_flag(true)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::SetTrue),
        )
        .arg(
            Arg::new("version")
                .short('v')
                .long("version")
                .action(ArgAction::SetTrue),
        )
        .arg(
            Arg::new("args")
                .num_args(0..)
                .allow_hyphen_values(true)
                .trailing_var_arg(true)
                .action(ArgAction::Append),
        )
        .get_matches();
    if cli.get_flag("version") {
        println!(
            "ferrokv v={} bits={} rust-tokio redis-compatible={}",
            env!("CARGO_PKG_VERSION"),
            usize::BITS,
            ferrokv::REDIS_VERSION
        );
        return ExitCode::SUCCESS;
    }
    if cli.get_flag("help") {
        // redis-server prints its usage to stderr and exits with 1.
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    }
    let args: Vec<String> = cli
        .get_many::<String>("args")
        .map(|a| a.cloned().collect())
        .unwrap_or_default();
    let config = match Config::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = init_logging(&config) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    warn_ignored(&config);
    let pidfile = write_pidfile(&config.pidfile);
    let code = run(config);
    if let Some(path) = pidfile {
        let _ = std::fs::remove_file(path);
    }
    code
}

fn run(config: Config) -> ExitCode {
    let server = match Server::new(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(server::run(server)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Directives that were given but do nothing in ferrokv, named once.
fn warn_ignored(config: &Config) {
    if config.daemonize {
        tracing::warn!(
            "daemonize yes ignored: ferrokv stays in the foreground, run it under a supervisor"
        );
    }
    let ignored: Vec<&str> = config
        .ignored
        .iter()
        .copied()
        .filter(|&name| name != "daemonize")
        .collect();
    if !ignored.is_empty() {
        tracing::warn!(
            "Accepted but not implemented (ignored): {}",
            ignored.join(", ")
        );
    }
}

fn write_pidfile(path: &str) -> Option<String> {
    if path.is_empty() {
        return None;
    }
    match std::fs::write(path, format!("{}\n", std::process::id())) {
        Ok(()) => Some(path.to_string()),
        Err(e) => {
            tracing::warn!("Failed to write PID file {path}: {e}");
            None
        }
    }
}

/// `loglevel` as a tracing level; `verbose` has no own level and maps to debug.
fn level_filter(loglevel: &str) -> LevelFilter {
    match loglevel {
        "debug" | "verbose" => LevelFilter::DEBUG,
        "warning" => LevelFilter::WARN,
        _ => LevelFilter::INFO,
    }
}

/// Logs to `logfile` (or standard output when empty) through a level filter
/// that CONFIG SET loglevel changes at run time.
fn init_logging(config: &Config) -> Result<(), String> {
    let (filter, handle) = tracing_subscriber::reload::Layer::new(level_filter(&config.loglevel));
    let output = tracing_subscriber::fmt::layer().with_target(false);
    if config.logfile.is_empty() {
        tracing_subscriber::registry()
            .with(filter)
            .with(output)
            .init();
    } else {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&config.logfile)
            .map_err(|e| format!("Can't open the log file: {e}"))?;
        let output = output
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file));
        tracing_subscriber::registry()
            .with(filter)
            .with(output)
            .init();
    }
    config::set_log_level_hook(Box::new(move |level| {
        let _ = handle.modify(|f| *f = level_filter(level));
    }));
    Ok(())
}
