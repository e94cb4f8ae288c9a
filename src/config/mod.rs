//! Configuration in the redis.conf format.
//!
//! [`directives`] describes every Redis 7.0 directive; [`Config`] holds the
//! values, typed fields for those ferrokv acts on and canonical text for the
//! rest; [`file`] reads config files and command-line options; [`rewrite`]
//! implements CONFIG REWRITE. CONFIG SET goes through [`Config::set_pairs`],
//! which validates every pair before changing anything.

pub mod directives;
pub mod file;
pub mod rewrite;
pub mod value;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

pub use directives::{DIRECTIVES, Directive, OnChange};
pub use value::Kind;

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
    /// `client-query-buffer-limit`: a client whose unparsed input passes it is closed.
    pub client_query_buffer_limit: usize,
    pub enable_debug_command: String,
    pub timeout: u64,
    pub tcp_keepalive: u64,
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: usize,
    /// Encoding thresholds of small aggregates (Redis's listpack/intset limits).
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    pub list_max_listpack_size: i64,
    pub set_max_intset_entries: usize,
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    /// Largest sparse HyperLogLog, in bytes, before it turns dense.
    pub hll_sparse_max_bytes: usize,
    pub latency_monitor_threshold: u64,
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    pub appendonly: bool,
    pub dir: String,
    pub dbfilename: String,
    pub daemonize: bool,
    pub pidfile: String,
    pub protected_mode: bool,
    /// Port of the Prometheus `/metrics` listener; 0 disables it.
    pub metrics_port: u16,
    /// `rename-command` pairs in file order.
    pub renames: Vec<(String, String)>,
    /// Absolute path of the file loaded at start-up (CONFIG REWRITE target).
    pub config_file: Option<PathBuf>,
    /// Arguments of each `user` line (name, then ACL rules), for the ACL layer.
    pub users: Vec<Vec<String>>,
    /// Arguments of each `loadmodule` line; ferrokv loads no modules.
    pub modules: Vec<Vec<String>>,
    /// Canonical values of directives without a typed field, when set.
    pub other: BTreeMap<&'static str, String>,
    /// Directives given at start-up that ferrokv accepts but ignores.
    pub ignored: Vec<&'static str>,
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
            client_query_buffer_limit: 1024 * 1024 * 1024,
            enable_debug_command: "no".into(),
            timeout: 0,
            tcp_keepalive: 300,
            slowlog_log_slower_than: 10_000,
            slowlog_max_len: 128,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            list_max_listpack_size: -2,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            hll_sparse_max_bytes: 3000,
            latency_monitor_threshold: 0,
            maxmemory: 0,
            maxmemory_policy: "noeviction".into(),
            appendonly: false,
            dir: ".".into(),
            dbfilename: "dump.rdb".into(),
            daemonize: false,
            pidfile: String::new(),
            protected_mode: true,
            metrics_port: 0,
            renames: Vec::new(),
            config_file: None,
            users: Vec::new(),
            modules: Vec::new(),
            other: BTreeMap::new(),
            ignored: Vec::new(),
        }
    }
}

impl Config {
    /// `ferrokv [config-file] [--directive value ...] [-]`: the file first,
    /// then standard input, then the options, so options win.
    pub fn from_args(args: &[String]) -> Result<Config, String> {
        let mut config = Config::default();
        let mut text = String::new();
        let mut rest = args;
        if let Some(path) = args.first().filter(|a| !a.starts_with('-')) {
            text = file::read_file(path)?;
            config.config_file = Some(absolute(path));
            rest = &args[1..];
        }
        let (options, from_stdin) = file::options_text(rest);
        if from_stdin {
            let mut input = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut input)
                .map_err(|e| format!("Failed reading config from stdin: {e}"))?;
            text.push_str(&input);
        }
        if !options.is_empty() {
            text.push('\n');
            text.push_str(&options);
        }
        config.load_text(&text)?;
        Ok(config)
    }

    /// Sets `requirepass` from the first non-empty variable of
    /// [`PASSWORD_ENV_VARS`], so a container's secret never has to be written
    /// into a config file or an image. `lookup` is `std::env::var` in the
    /// binary. Returns the variable used; the value itself is never logged.
    pub fn apply_password_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Option<&'static str> {
        let (name, password) = PASSWORD_ENV_VARS
            .iter()
            .find_map(|&name| lookup(name).filter(|v| !v.is_empty()).map(|v| (name, v)))?;
        self.requirepass = Some(password.into_bytes());
        Some(name)
    }

    /// Applies redis.conf text (tests, `from_args`).
    pub fn load_text(&mut self, text: &str) -> Result<(), String> {
        file::Loader::new(self).load_text(text)
    }

    /// A directive's canonical value.
    pub fn get(&self, directive: &Directive) -> String {
        match directive.field {
            Some(field) => (field.get)(self),
            None => self
                .other
                .get(directive.name)
                .cloned()
                .unwrap_or_else(|| directive.default.to_string()),
        }
    }

    /// What CONFIG GET shows: `dir` as an absolute path, like Redis's cwd.
    pub fn display(&self, directive: &Directive) -> String {
        let value = self.get(directive);
        if directive.name == "dir" {
            return absolute(&value).to_string_lossy().into_owned();
        }
        directive.kind.display(&value)
    }

    /// Stores a canonical value (already validated by the directive's kind).
    pub fn set(&mut self, directive: &'static Directive, canonical: &str) {
        match directive.field {
            Some(field) => (field.set)(self, canonical),
            None => {
                self.other.insert(directive.name, canonical.to_string());
            }
        }
    }

    /// Canonical value by name, for directives without a typed field.
    pub fn value(&self, name: &str) -> Option<String> {
        directives::find(name).map(|d| self.get(d))
    }

    fn note_ignored(&mut self, name: &'static str) {
        if !self.ignored.contains(&name) {
            self.ignored.push(name);
        }
    }

    /// CONFIG SET: checks every name first (unknown, immutable, protected,
    /// duplicate), then validates every value, then applies run-time
    /// effects; any failure leaves the configuration as it was. Returns the
    /// error reply text. `local_client` is for `enable-protected-configs local`.
    pub fn set_pairs(&mut self, pairs: &[(&str, &str)], local_client: bool) -> Result<(), String> {
        let failed = |name: &str, why: &str| {
            format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
        };
        let mut targets: Vec<(&'static Directive, &'static str)> = Vec::with_capacity(pairs.len());
        for (name, _) in pairs {
            let Some(directive) = directives::find(name) else {
                return Err(format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
                ));
            };
            if directive.immutable {
                return Err(failed(name, "can't set immutable config"));
            }
            if directive.protected && !self.protected_allowed(local_client) {
                return Err(failed(name, "can't set protected config"));
            }
            // Which spelling was used: an alias and its name are distinct entries.
            let spelling = directive
                .names()
                .find(|n| n.eq_ignore_ascii_case(name))
                .unwrap_or(directive.name);
            if targets
                .iter()
                .any(|&(d, s)| std::ptr::eq(d, directive) && s == spelling)
            {
                return Err(failed(name, "duplicate parameter"));
            }
            targets.push((directive, spelling));
        }
        let mut updated = self.clone();
        for (&(directive, spelling), (_, value)) in targets.iter().zip(pairs) {
            let canonical = directive
                .kind
                .parse(value, &updated.get(directive))
                .map_err(|why| failed(spelling, &why))?;
            updated.set(directive, &canonical);
        }
        let hooks: Vec<(OnChange, &str)> = targets
            .iter()
            .filter_map(|&(d, spelling)| d.on_change.map(|hook| (hook, spelling)))
            .collect();
        for (ran, &(hook, spelling)) in hooks.iter().enumerate() {
            if let Err(why) = hook(&updated) {
                // Undo the effects already applied, with the old values.
                for &(undo, _) in &hooks[..ran] {
                    let _ = undo(self);
                }
                return Err(failed(spelling, &why));
            }
        }
        *self = updated;
        Ok(())
    }

    fn protected_allowed(&self, local_client: bool) -> bool {
        match self.value("enable-protected-configs").as_deref() {
            Some("yes") => true,
            Some("local") => local_client,
            _ => false,
        }
    }

    /// CONFIG REWRITE.
    pub fn rewrite(&self) -> Result<(), String> {
        let path = self
            .config_file
            .as_ref()
            .ok_or("ERR The server is running without a config file")?;
        rewrite::rewrite_file(self, path)
    }
}

/// Environment variables that set the password, in order of preference; they
/// override `requirepass` from the file and the command line.
pub const PASSWORD_ENV_VARS: [&str; 2] = ["FERROKV_PASSWORD", "REDIS_PASSWORD"];

/// A path made absolute against the working directory, without resolving
/// links (so it stays valid however the file is reached later).
fn absolute(path: &str) -> PathBuf {
    let path = std::path::Path::new(path);
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    // Drop `.` components so `dir .` shows as the plain working directory.
    joined.components().collect()
}

/// Changes the running log level (a tracing reload handle in the binary).
pub type LogLevelHook = Box<dyn Fn(&str) + Send + Sync>;

static LOG_LEVEL_HOOK: OnceLock<LogLevelHook> = OnceLock::new();

/// Lets `CONFIG SET loglevel` reach the logger.
pub fn set_log_level_hook(hook: LogLevelHook) {
    let _ = LOG_LEVEL_HOOK.set(hook);
}

pub(crate) fn apply_log_level(level: &str) {
    if let Some(hook) = LOG_LEVEL_HOOK.get() {
        hook(level);
    }
}

#[cfg(test)]
mod tests;
