//! `ferrokv [path/to/redis.conf] [--directive value ...]`, as redis-server.

use std::process::ExitCode;

use clap::{Arg, ArgAction, Command};
use ferrokv::config::Config;
use ferrokv::server::{self, Server};

fn main() -> ExitCode {
    let cli = Command::new("ferrokv")
        .about("A Redis 7.0 compatible cache server")
        .version(env!("CARGO_PKG_VERSION"))
        .override_usage("ferrokv [/path/to/redis.conf] [options] [-]\n       ferrokv --port 7777 --maxmemory 256mb --save \"\"")
        .arg(Arg::new("args").num_args(0..).allow_hyphen_values(true).trailing_var_arg(true).action(ArgAction::Append))
        .get_matches();
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
    init_logging(&config);
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

/// `loglevel` maps onto tracing levels; `logfile ""` means standard output.
fn init_logging(config: &Config) {
    let level = match config.loglevel.as_str() {
        "debug" => tracing::Level::DEBUG,
        "verbose" => tracing::Level::DEBUG,
        "warning" => tracing::Level::WARN,
        "nothing" => tracing::Level::ERROR,
        _ => tracing::Level::INFO,
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false);
    if config.logfile.is_empty() {
        builder.init();
    } else {
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&config.logfile)
        {
            Ok(file) => builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .init(),
            Err(e) => {
                eprintln!("Can't open the log file: {e}");
                std::process::exit(1);
            }
        }
    }
}
