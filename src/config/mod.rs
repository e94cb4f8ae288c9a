//! Configuration in the redis.conf format.
//!
//! PLACEHOLDER: a minimal reader for the directives the server needs to start;
//! the declarative directive table (every Redis 7.0 name, CONFIG GET/SET/REWRITE)
//! replaces it.

use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct Config {
    pub bind: Vec<String>,
    pub port: u16,
    pub tcp_backlog: u32,
    pub databases: usize,
    pub requirepass: Option<Vec<u8>>,
    pub loglevel: String,
    pub logfile: String,
    pub hz: u32,
    pub maxclients: usize,
    pub proto_max_bulk_len: usize,
    pub enable_debug_command: String,
    pub timeout: u64,
    pub tcp_keepalive: u64,
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: usize,
    pub latency_monitor_threshold: u64,
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    pub appendonly: bool,
    pub dir: String,
    pub dbfilename: String,
    pub daemonize: bool,
    pub pidfile: String,
    pub protected_mode: bool,
    /// `rename-command` pairs in file order.
    pub renames: Vec<(String, String)>,
    pub config_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: vec!["127.0.0.1".into()],
            port: 6379,
            tcp_backlog: 511,
            databases: 16,
            requirepass: None,
            loglevel: "notice".into(),
            logfile: String::new(),
            hz: 10,
            maxclients: 10000,
            proto_max_bulk_len: 512 * 1024 * 1024,
            enable_debug_command: "no".into(),
            timeout: 0,
            tcp_keepalive: 300,
            slowlog_log_slower_than: 10_000,
            slowlog_max_len: 128,
            latency_monitor_threshold: 0,
            maxmemory: 0,
            maxmemory_policy: "noeviction".into(),
            appendonly: false,
            dir: ".".into(),
            dbfilename: "dump.rdb".into(),
            daemonize: false,
            pidfile: String::new(),
            protected_mode: true,
            renames: Vec::new(),
            config_file: None,
        }
    }
}

impl Config {
    /// `ferrokv [config-file] [--directive value ...]`.
    pub fn from_args(args: &[String]) -> Result<Config, String> {
        let mut config = Config::default();
        let mut rest = args;
        if let Some(first) = rest.first().filter(|a| !a.starts_with("--")) {
            let text = std::fs::read_to_string(first)
                .map_err(|e| format!("Fatal error, can't open config file '{first}': {e}"))?;
            config.config_file = Some(PathBuf::from(first));
            config.load_text(&text)?;
            rest = &rest[1..];
        }
        let mut text = String::new();
        for arg in rest {
            if let Some(name) = arg.strip_prefix("--") {
                text.push('\n');
                text.push_str(name);
            } else {
                text.push_str(" \"");
                text.push_str(&arg.replace('"', "\\\""));
                text.push('"');
            }
        }
        config.load_text(&text)?;
        Ok(config)
    }

    fn load_text(&mut self, text: &str) -> Result<(), String> {
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<String> = line
                .split_whitespace()
                .map(|w| w.trim_matches('"').to_string())
                .collect();
            let bad = |why: &str| {
                format!(
                    "*** FATAL CONFIG FILE ERROR ***\nline {}\n>>> '{}'\n{}",
                    n + 1,
                    line,
                    why
                )
            };
            let arg = |i: usize| words.get(i).cloned().unwrap_or_default();
            match words[0].to_ascii_lowercase().as_str() {
                "port" => {
                    self.port = arg(1)
                        .parse()
                        .map_err(|_| bad("argument couldn't be parsed into an integer"))?
                }
                "bind" => self.bind = words[1..].to_vec(),
                "databases" => {
                    self.databases = arg(1)
                        .parse()
                        .map_err(|_| bad("argument couldn't be parsed into an integer"))?
                }
                "requirepass" => {
                    self.requirepass = Some(arg(1).into_bytes()).filter(|p| !p.is_empty())
                }
                "loglevel" => self.loglevel = arg(1),
                "logfile" => self.logfile = arg(1),
                "hz" => {
                    self.hz = arg(1)
                        .parse()
                        .map_err(|_| bad("argument couldn't be parsed into an integer"))?
                }
                "maxclients" => {
                    self.maxclients = arg(1)
                        .parse()
                        .map_err(|_| bad("argument couldn't be parsed into an integer"))?
                }
                "timeout" => {
                    self.timeout = arg(1)
                        .parse()
                        .map_err(|_| bad("argument couldn't be parsed into an integer"))?
                }
                "tcp-keepalive" => {
                    self.tcp_keepalive = arg(1)
                        .parse()
                        .map_err(|_| bad("argument couldn't be parsed into an integer"))?
                }
                "enable-debug-command" => self.enable_debug_command = arg(1),
                "rename-command" => self.renames.push((arg(1), arg(2))),
                _ => {}
            }
        }
        Ok(())
    }
}
