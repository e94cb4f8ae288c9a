//! `ferrokv [/path/to/redis.conf] [--directive value ...] [-]`, as redis-server.
//!
//! Also `ferrokv --ping [host:port]`, the container health probe: the image
//! has no redis-cli, so the binary checks itself.

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
       ferrokv --ping [host:port] (exit 0 if the server answers PONG)
       ferrokv --ping [host:port] --tls --cacert <file> [--cert <file> --key <file>] [--sni <name>]

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
    ferrokv::alloc::tune_malloc();
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--ping") {
        return ping_probe(&argv[2..]);
    }
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
    let mut config = match Config::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let password_from = config.apply_password_env(|name| std::env::var(name).ok());
    if let Err(e) = init_logging(&config) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    if let Some(name) = password_from {
        tracing::info!("requirepass taken from the {name} environment variable");
    }
    warn_ignored(&config);
    warn_open_to_network(&config);
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

/// Listening beyond loopback without a password lets anyone on the network
/// in; say so at start-up, where the operator looks.
fn warn_open_to_network(config: &Config) {
    let loopback_only = config.bind.iter().all(|addr| {
        let addr = addr.trim_start_matches('-');
        addr.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
    });
    if config.requirepass.is_none() && !loopback_only {
        tracing::warn!(
            "Listening on {} without a password: set requirepass, {} or {}",
            config.bind.join(" "),
            config::PASSWORD_ENV_VARS[0],
            config::PASSWORD_ENV_VARS[1]
        );
    }
}

/// How long the health probe waits to connect and for each reply.
const PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// `ferrokv --ping [host:port]`: exit 0 when the server answers PONG, 1
/// otherwise. Authenticates with the same environment variables the server
/// reads its password from, so a container's HEALTHCHECK needs no secret.
fn ping_probe(args: &[String]) -> ExitCode {
    let password = config::PASSWORD_ENV_VARS
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()));
    let (target, tls) = match probe_args(args) {
        Ok(parsed) => parsed,
        Err(why) => {
            eprintln!("ferrokv --ping: {why}");
            return ExitCode::FAILURE;
        }
    };
    let target = probe_address(&target);
    match ping(&target, password.as_deref(), tls.as_ref()) {
        Ok(()) => {
            println!("PONG");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("ferrokv --ping {target}: {why}");
            ExitCode::FAILURE
        }
    }
}

/// `[host:port] [--tls --cacert F [--cert F --key F] [--sni NAME]]`, the
/// TLS options named as redis-cli names them.
fn probe_args(args: &[String]) -> Result<(String, Option<server::tls::ProbeTls>), String> {
    let mut target = String::new();
    let mut tls = false;
    let mut opts = server::tls::ProbeTls::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().cloned().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--tls" => tls = true,
            "--cacert" => opts.cacert = value()?,
            "--cert" => opts.cert = Some(value()?),
            "--key" => opts.key = Some(value()?),
            "--sni" => opts.sni = Some(value()?),
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            other => target = other.to_string(),
        }
    }
    if !tls {
        return Ok((target, None));
    }
    if opts.cacert.is_empty() {
        return Err("--tls needs --cacert <file>".into());
    }
    Ok((target, Some(opts)))
}

/// `host:port`, `:port`, `port`, a bare host or nothing, with 127.0.0.1 and
/// 6379 filled in.
fn probe_address(target: &str) -> String {
    if let Ok(ip) = target.parse::<std::net::IpAddr>() {
        return std::net::SocketAddr::new(ip, 6379).to_string();
    }
    let (host, port) = match target.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') || host.ends_with(']') => (host, port),
        _ if target.bytes().all(|b| b.is_ascii_digit()) => ("", target),
        _ => (target, ""),
    };
    let host = if host.is_empty() { "127.0.0.1" } else { host };
    let port = if port.is_empty() { "6379" } else { port };
    format!("{host}:{port}")
}

fn ping(
    target: &str,
    password: Option<&str>,
    tls: Option<&server::tls::ProbeTls>,
) -> Result<(), String> {
    use std::net::{TcpStream, ToSocketAddrs};

    let addr = target
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("no address")?;
    let stream = TcpStream::connect_timeout(&addr, PING_TIMEOUT).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(PING_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(PING_TIMEOUT)))
        .map_err(|e| e.to_string())?;
    match tls {
        None => exchange(stream, password),
        Some(opts) => {
            let host = target.rsplit_once(':').map_or(target, |(host, _)| host);
            exchange(server::tls::probe_stream(stream, host, opts)?, password)
        }
    }
}

/// Sends PING (after AUTH) and checks the answer.
fn exchange(
    mut stream: impl std::io::Read + std::io::Write,
    password: Option<&str>,
) -> Result<(), String> {
    use std::io::{BufRead, BufReader};
    let mut request = Vec::new();
    if let Some(password) = password {
        request
            .extend_from_slice(format!("*2\r\n$4\r\nAUTH\r\n${}\r\n", password.len()).as_bytes());
        request.extend_from_slice(password.as_bytes());
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
    stream.write_all(&request).map_err(|e| e.to_string())?;
    stream.flush().map_err(|e| e.to_string())?;
    // AUTH answers one line, +OK or an error; only PING's answer decides.
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    for _ in 0..=usize::from(password.is_some()) {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => return Err("connection closed".into()),
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    match line.trim_end() {
        "+PONG" => Ok(()),
        other => Err(format!("unexpected reply {other:?}")),
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

#[cfg(test)]
mod tests {
    use super::probe_address;

    #[test]
    fn probe_address_fills_in_host_and_port() {
        assert_eq!(probe_address(""), "127.0.0.1:6379");
        assert_eq!(probe_address("7000"), "127.0.0.1:7000");
        assert_eq!(probe_address(":7000"), "127.0.0.1:7000");
        assert_eq!(probe_address("ferrokv"), "ferrokv:6379");
        assert_eq!(probe_address("ferrokv:6380"), "ferrokv:6380");
        assert_eq!(probe_address("[::1]:7000"), "[::1]:7000");
        assert_eq!(probe_address("::1"), "[::1]:6379");
    }
}
