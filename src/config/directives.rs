//! The directive table: one entry per Redis 7.0 configuration name, saying
//! what it accepts, its default, whether CONFIG SET may change it, whether
//! ferrokv acts on it, where its value lives in [`Config`], and what must
//! happen when it changes at run time.
//!
//! Directives ferrokv does not implement still validate and keep their
//! value, so CONFIG GET/SET/REWRITE round-trip them as Redis would.

use super::Config;
use super::value::Kind::{self, *};
use super::value::{NO_YES_LOCAL, SHUTDOWN_FLAGS};

/// Where an implemented directive's value lives in the typed [`Config`].
#[derive(Clone, Copy)]
pub struct Field {
    pub get: fn(&Config) -> String,
    /// Stores an already validated canonical value.
    pub set: fn(&mut Config, &str),
}

/// Run-time effect of a change, after the new value is stored; an error
/// rolls the whole CONFIG SET back.
pub type OnChange = fn(&Config) -> Result<(), String>;

#[derive(Clone, Copy)]
pub struct Directive {
    pub name: &'static str,
    /// The older name that still works (`slaveof` for `replicaof`).
    pub alias: Option<&'static str>,
    pub kind: Kind,
    /// Canonical default value.
    pub default: &'static str,
    /// CONFIG SET refuses it (start-up only).
    pub immutable: bool,
    /// CONFIG SET refuses it unless `enable-protected-configs` allows.
    pub protected: bool,
    /// ferrokv acts on the value; otherwise it is only kept.
    pub implemented: bool,
    /// Left out of CONFIG GET globs (testing knobs); exact names still work.
    pub hidden: bool,
    pub field: Option<Field>,
    pub on_change: Option<OnChange>,
}

impl Directive {
    const fn alias(mut self, alias: &'static str) -> Self {
        self.alias = Some(alias);
        self
    }
    const fn immutable(mut self) -> Self {
        self.immutable = true;
        self
    }
    const fn protected(mut self) -> Self {
        self.protected = true;
        self
    }
    const fn implemented(mut self) -> Self {
        self.implemented = true;
        self
    }
    const fn hidden(mut self) -> Self {
        self.hidden = true;
        self
    }
    const fn field(mut self, field: Field) -> Self {
        self.field = Some(field);
        self
    }
    const fn on_change(mut self, hook: OnChange) -> Self {
        self.on_change = Some(hook);
        self
    }

    /// True for the name or the alias, ignoring case.
    pub fn is_named(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
            || self.alias.is_some_and(|a| a.eq_ignore_ascii_case(name))
    }

    /// The name and the alias.
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.name).chain(self.alias)
    }
}

const fn d(name: &'static str, kind: Kind, default: &'static str) -> Directive {
    Directive {
        name,
        alias: None,
        kind,
        default,
        immutable: false,
        protected: false,
        implemented: false,
        hidden: false,
        field: None,
        on_change: None,
    }
}

/// Accessors between a typed `Config` field and canonical text. The text
/// was validated against the directive's kind, whose bounds fit the field's
/// type, so the conversions cannot fail.
macro_rules! field {
    ($f:ident, num) => {
        Field {
            get: |c| c.$f.to_string(),
            set: |c, v| c.$f = v.parse().unwrap_or_default(),
        }
    };
    ($f:ident, bool) => {
        Field {
            get: |c| if c.$f { "yes" } else { "no" }.to_string(),
            set: |c, v| c.$f = v == "yes",
        }
    };
    ($f:ident, text) => {
        Field {
            get: |c| c.$f.clone(),
            set: |c, v| c.$f = v.to_string(),
        }
    };
    ($f:ident, list) => {
        Field {
            get: |c| c.$f.join(" "),
            set: |c, v| {
                c.$f = v
                    .split(' ')
                    .filter(|w| !w.is_empty())
                    .map(String::from)
                    .collect()
            },
        }
    };
}

/// `requirepass ""` means no password.
const PASSWORD: Field = Field {
    get: |c| {
        c.requirepass
            .as_deref()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_default()
    },
    set: |c, v| c.requirepass = (!v.is_empty()).then(|| v.as_bytes().to_vec()),
};

/// Redis keeps `hz` within 1..=500 whatever was asked.
const HZ: Field = Field {
    get: |c| c.hz.to_string(),
    set: |c, v| c.hz = v.parse::<u32>().unwrap_or(10).clamp(1, 500),
};

fn apply_loglevel(config: &Config) -> Result<(), String> {
    super::apply_log_level(&config.loglevel);
    Ok(())
}

/// Redis moves into `dir`, so it must be a directory that exists.
fn check_dir(config: &Config) -> Result<(), String> {
    match std::fs::metadata(&config.dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err("Not a directory".into()),
        Err(e) => Err(super::file::strerror(&e)),
    }
}

/// The listeners are bound once at start-up.
fn warn_restart_needed(config: &Config) -> Result<(), String> {
    tracing::warn!(
        "bind/port changed to {} port {}: takes effect at the next start",
        config.bind.join(" "),
        config.port
    );
    Ok(())
}

/// Directives feeding the TLS context: CONFIG SET rebuilds it, or fails.
const TLS: OnChange = crate::server::tls::check_reload;

/// The TLS listeners are bound once at start-up, like the plain ones.
fn warn_tls_restart_needed(config: &Config) -> Result<(), String> {
    let port = config.value("tls-port").unwrap_or_default();
    tracing::warn!("tls-port changed to {port}: takes effect at the next start");
    Ok(())
}

const I64: i64 = i64::MAX;
const I32: i64 = i32::MAX as i64;
const I32_MIN: i64 = i32::MIN as i64;
const U32: i64 = u32::MAX as i64;

/// Every Redis 7.0 directive, by name.
pub static DIRECTIVES: &[Directive] = &[
    d(
        "acl-pubsub-default",
        Enum(&["allchannels", "resetchannels"]),
        "resetchannels",
    )
    .implemented(),
    d("aclfile", Str, "").immutable().implemented(),
    d("acllog-max-len", Int(0, I64), "128").implemented(),
    d("active-defrag-cycle-max", Int(1, 99), "25"),
    d("active-defrag-cycle-min", Int(1, 99), "1"),
    d("active-defrag-ignore-bytes", Memory(1, I64), "104857600"),
    d("active-defrag-max-scan-fields", Int(1, I64), "1000"),
    d("active-defrag-threshold-lower", Int(0, 1000), "10"),
    d("active-defrag-threshold-upper", Int(0, 1000), "100"),
    d("active-expire-effort", Int(1, 10), "1"),
    d("activedefrag", Bool, "no"),
    d("activerehashing", Bool, "yes"),
    d("always-show-logo", Bool, "no").immutable(),
    d("aof-disable-auto-gc", Bool, "no"),
    d("aof-load-truncated", Bool, "yes").implemented(),
    d("aof-rewrite-incremental-fsync", Bool, "yes"),
    d("aof-timestamp-enabled", Bool, "no"),
    d("aof-use-rdb-preamble", Bool, "yes"),
    d("aof_rewrite_cpulist", Str, "").immutable(),
    d("appenddirname", Str, "appendonlydir")
        .immutable()
        .implemented(),
    d("appendfilename", Str, "appendonly.aof")
        .immutable()
        .implemented(),
    d(
        "appendfsync",
        Enum(&["everysec", "always", "no"]),
        "everysec",
    )
    .implemented(),
    d("appendonly", Bool, "no")
        .field(field!(appendonly, bool))
        .implemented(),
    d("auto-aof-rewrite-min-size", Memory(0, I64), "67108864").implemented(),
    d("auto-aof-rewrite-percentage", Int(0, I32), "100").implemented(),
    d("bgsave_cpulist", Str, "").immutable(),
    d("bind", Bind, "127.0.0.1")
        .field(field!(bind, list))
        .implemented()
        .on_change(warn_restart_needed),
    d("bind-source-addr", Str, ""),
    d("bio_cpulist", Str, "").immutable(),
    d("busy-reply-threshold", Int(0, I64), "5000").alias("lua-time-limit"),
    d(
        "client-output-buffer-limit",
        ClientOutputBufferLimit,
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
    ),
    d(
        "client-query-buffer-limit",
        Memory(1048576, I64),
        "1073741824",
    )
    .field(field!(client_query_buffer_limit, num))
    .implemented(),
    d("cluster-allow-pubsubshard-when-down", Bool, "yes"),
    d("cluster-allow-reads-when-down", Bool, "no"),
    d("cluster-allow-replica-migration", Bool, "yes"),
    d("cluster-announce-bus-port", Int(0, 65535), "0"),
    d("cluster-announce-hostname", Str, ""),
    d("cluster-announce-ip", Str, ""),
    d("cluster-announce-port", Int(0, 65535), "0"),
    d("cluster-announce-tls-port", Int(0, 65535), "0"),
    d("cluster-config-file", Str, "nodes.conf").immutable(),
    d("cluster-enabled", Bool, "no").immutable(),
    d("cluster-link-sendbuf-limit", UMemory, "0"),
    d("cluster-migration-barrier", Int(0, I32), "1"),
    d("cluster-node-timeout", Int(0, I64), "15000"),
    d("cluster-port", Int(0, 65535), "0").immutable(),
    d(
        "cluster-preferred-endpoint-type",
        Enum(&["ip", "hostname", "unknown-endpoint"]),
        "ip",
    ),
    d("cluster-replica-no-failover", Bool, "no").alias("cluster-slave-no-failover"),
    d("cluster-replica-validity-factor", Int(0, I32), "10").alias("cluster-slave-validity-factor"),
    d("cluster-require-full-coverage", Bool, "yes"),
    d("crash-log-enabled", Bool, "yes"),
    d("crash-memcheck-enabled", Bool, "yes"),
    d("daemonize", Bool, "no")
        .immutable()
        .field(field!(daemonize, bool)),
    d("databases", Int(1, I32), "16")
        .immutable()
        .field(field!(databases, num))
        .implemented(),
    d("dbfilename", Str, "dump.rdb")
        .protected()
        .field(field!(dbfilename, text))
        .implemented(),
    d("dir", Str, ".")
        .protected()
        .field(field!(dir, text))
        .on_change(check_dir)
        .implemented(),
    d("disable-thp", Bool, "yes").immutable(),
    d("dynamic-hz", Bool, "yes"),
    d("enable-debug-command", Enum(NO_YES_LOCAL), "no")
        .immutable()
        .field(field!(enable_debug_command, text))
        .implemented(),
    d("enable-module-command", Enum(NO_YES_LOCAL), "no")
        .immutable()
        .implemented(),
    d("enable-protected-configs", Enum(NO_YES_LOCAL), "no")
        .immutable()
        .implemented(),
    d("hash-max-listpack-entries", Int(0, I64), "512")
        .alias("hash-max-ziplist-entries")
        .field(field!(hash_max_listpack_entries, num))
        .implemented(),
    d("hash-max-listpack-value", Memory(0, I64), "64")
        .alias("hash-max-ziplist-value")
        .field(field!(hash_max_listpack_value, num))
        .implemented(),
    d("hll-sparse-max-bytes", Memory(0, I64), "3000")
        .field(field!(hll_sparse_max_bytes, num))
        .implemented(),
    d("hz", Int(0, I32), "10").field(HZ).implemented(),
    d("ignore-warnings", Str, ""),
    d("io-threads", Int(1, 128), "1").immutable(),
    d("io-threads-do-reads", Bool, "no").immutable(),
    d("jemalloc-bg-thread", Bool, "yes"),
    d("latency-monitor-threshold", Int(0, I64), "0")
        .field(field!(latency_monitor_threshold, num))
        .implemented(),
    d("latency-tracking", Bool, "yes"),
    d(
        "latency-tracking-info-percentiles",
        Percentiles,
        "50 99 99.9",
    ),
    d("key-load-delay", Int(I32_MIN, I32), "0").hidden(),
    d("lazyfree-lazy-eviction", Bool, "no"),
    d("lazyfree-lazy-expire", Bool, "no"),
    d("lazyfree-lazy-server-del", Bool, "no"),
    d("lazyfree-lazy-user-del", Bool, "no"),
    d("lazyfree-lazy-user-flush", Bool, "no"),
    d("lfu-decay-time", Int(0, I32), "1").implemented(),
    d("lfu-log-factor", Int(0, I32), "10").implemented(),
    d("list-compress-depth", Int(0, I32), "0"),
    d("list-max-listpack-size", Int(I32_MIN, I32), "-2")
        .alias("list-max-ziplist-size")
        .field(field!(list_max_listpack_size, num))
        .implemented(),
    d(
        "loading-process-events-interval-bytes",
        Int(1024, I32),
        "2097152",
    )
    .hidden(),
    d("logfile", Str, "")
        .immutable()
        .field(field!(logfile, text))
        .implemented(),
    d(
        "loglevel",
        Enum(&["debug", "verbose", "notice", "warning"]),
        "notice",
    )
    .field(field!(loglevel, text))
    .implemented()
    .on_change(apply_loglevel),
    d("masterauth", Str, ""),
    d("masteruser", Str, ""),
    d("maxclients", Int(1, U32), "10000")
        .field(field!(maxclients, num))
        .implemented(),
    d("maxmemory", UMemory, "0")
        .field(field!(maxmemory, num))
        .implemented(),
    d("maxmemory-clients", MaxmemoryClients, "0"),
    d("maxmemory-eviction-tenacity", Int(0, 100), "10").implemented(),
    d(
        "maxmemory-policy",
        Enum(&[
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "noeviction",
        ]),
        "noeviction",
    )
    .field(field!(maxmemory_policy, text))
    .implemented(),
    d("maxmemory-samples", Int(1, I32), "5").implemented(),
    // ferrokv's own: Prometheus `/metrics` over HTTP on this port (0 = off).
    // Hidden so `CONFIG GET *` lists exactly Redis 7.0's directives.
    d("metrics-port", Int(0, 65535), "0")
        .immutable()
        .hidden()
        .field(field!(metrics_port, num))
        .implemented(),
    d("min-replicas-max-lag", Int(0, I32), "10").alias("min-slaves-max-lag"),
    d("min-replicas-to-write", Int(0, I32), "0").alias("min-slaves-to-write"),
    d("no-appendfsync-on-rewrite", Bool, "no"),
    d("notify-keyspace-events", NotifyEvents, "").implemented(),
    d(
        "oom-score-adj",
        Enum(&["no", "yes", "relative", "absolute"]),
        "no",
    ),
    d("oom-score-adj-values", OomScoreAdjValues, "0 200 800"),
    d("pidfile", Str, "")
        .immutable()
        .field(field!(pidfile, text))
        .implemented(),
    d("port", Int(0, 65535), "6379")
        .field(field!(port, num))
        .implemented()
        .on_change(warn_restart_needed),
    d(
        "proc-title-template",
        Str,
        "{title} {listen-addr} {server-mode}",
    ),
    d(
        "propagation-error-behavior",
        Enum(&["ignore", "panic", "panic-on-replicas"]),
        "ignore",
    ),
    d("protected-mode", Bool, "yes")
        .field(field!(protected_mode, bool))
        .implemented(),
    d("proto-max-bulk-len", Memory(1048576, I64), "536870912")
        .field(field!(proto_max_bulk_len, num))
        .implemented(),
    // No replication, so never a sync-only RDB to delete: honoured trivially.
    d("rdb-del-sync-files", Bool, "no").implemented(),
    d("rdb-save-incremental-fsync", Bool, "yes"),
    d("rdb-key-save-delay", Int(I32_MIN, I32), "0").hidden(),
    d("rdbchecksum", Bool, "yes").immutable().implemented(),
    d("rdbcompression", Bool, "yes").implemented(),
    d("repl-backlog-size", Memory(1, I64), "1048576"),
    d("repl-backlog-ttl", Int(0, I64), "3600"),
    d("repl-disable-tcp-nodelay", Bool, "no"),
    d(
        "repl-diskless-load",
        Enum(&["disabled", "on-empty-db", "swapdb"]),
        "disabled",
    ),
    d("repl-diskless-sync", Bool, "yes"),
    d("repl-diskless-sync-delay", Int(0, I32), "5"),
    d("repl-diskless-sync-max-replicas", Int(0, I32), "0"),
    d("repl-ping-replica-period", Int(1, I32), "10").alias("repl-ping-slave-period"),
    d("repl-timeout", Int(1, I32), "60"),
    d("replica-announce-ip", Str, "").alias("slave-announce-ip"),
    d("replica-announce-port", Int(0, 65535), "0").alias("slave-announce-port"),
    d("replica-announced", Bool, "yes"),
    d("replica-ignore-disk-write-errors", Bool, "no"),
    d("replica-ignore-maxmemory", Bool, "yes").alias("slave-ignore-maxmemory"),
    d("replica-lazy-flush", Bool, "no").alias("slave-lazy-flush"),
    d("replica-priority", Int(0, I32), "100").alias("slave-priority"),
    d("replica-read-only", Bool, "yes").alias("slave-read-only"),
    d("replica-serve-stale-data", Bool, "yes").alias("slave-serve-stale-data"),
    d("replicaof", ReplicaOf, "").alias("slaveof").immutable(),
    d("requirepass", Str, "").field(PASSWORD).implemented(),
    d(
        "sanitize-dump-payload",
        Enum(&["no", "yes", "clients"]),
        "no",
    ),
    d("save", Save, "3600 1 300 100 60 10000").implemented(),
    d("server_cpulist", Str, "").immutable(),
    d("set-max-intset-entries", Int(0, I64), "512")
        .field(field!(set_max_intset_entries, num))
        .implemented(),
    d("set-proc-title", Bool, "yes").immutable(),
    d("shutdown-on-sigint", Flags(SHUTDOWN_FLAGS), "default"),
    d("shutdown-on-sigterm", Flags(SHUTDOWN_FLAGS), "default"),
    d("shutdown-timeout", Int(0, I32), "10"),
    d("slowlog-log-slower-than", Int(-1, I64), "10000")
        .field(field!(slowlog_log_slower_than, num))
        .implemented(),
    d("slowlog-max-len", Int(0, I64), "128")
        .field(field!(slowlog_max_len, num))
        .implemented(),
    d("socket-mark-id", Int(0, U32), "0").immutable(),
    d("stop-writes-on-bgsave-error", Bool, "yes").implemented(),
    d("stream-node-max-bytes", Memory(0, I64), "4096"),
    d("stream-node-max-entries", Int(0, I64), "100"),
    d(
        "supervised",
        Enum(&["upstart", "systemd", "auto", "no"]),
        "no",
    )
    .immutable(),
    d("syslog-enabled", Bool, "no").immutable(),
    d(
        "syslog-facility",
        Enum(&[
            "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
        ]),
        "local0",
    )
    .immutable(),
    d("syslog-ident", Str, "redis").immutable(),
    d("tcp-backlog", Int(0, I32), "511")
        .immutable()
        .field(field!(tcp_backlog, num))
        .implemented(),
    d("tcp-keepalive", Int(0, I32), "300")
        .field(field!(tcp_keepalive, num))
        .implemented(),
    d("timeout", Int(0, I32), "0")
        .field(field!(timeout, num))
        .implemented(),
    d("tls-auth-clients", Enum(&["no", "yes", "optional"]), "yes")
        .on_change(TLS)
        .implemented(),
    d("tls-ca-cert-dir", Str, "").on_change(TLS).implemented(),
    d("tls-ca-cert-file", Str, "").on_change(TLS).implemented(),
    d("tls-cert-file", Str, "").on_change(TLS).implemented(),
    d("tls-ciphers", Str, "").on_change(TLS).implemented(),
    d("tls-ciphersuites", Str, "").on_change(TLS).implemented(),
    d("tls-client-cert-file", Str, "").on_change(TLS),
    d("tls-client-key-file", Str, "").on_change(TLS),
    d("tls-client-key-file-pass", Str, "").on_change(TLS),
    d("tls-cluster", Bool, "no").on_change(TLS),
    d("tls-dh-params-file", Str, "").on_change(TLS),
    d("tls-key-file", Str, "").on_change(TLS).implemented(),
    d("tls-key-file-pass", Str, "").on_change(TLS).implemented(),
    d("tls-port", Int(0, 65535), "0")
        .on_change(warn_tls_restart_needed)
        .implemented(),
    d("tls-prefer-server-ciphers", Bool, "no")
        .on_change(TLS)
        .implemented(),
    d("tls-protocols", Str, "").on_change(TLS).implemented(),
    d("tls-replication", Bool, "no").on_change(TLS),
    d("tls-session-cache-size", Int(0, I32), "20480")
        .on_change(TLS)
        .implemented(),
    d("tls-session-cache-timeout", Int(0, I32), "300")
        .on_change(TLS)
        .implemented(),
    d("tls-session-caching", Bool, "yes")
        .on_change(TLS)
        .implemented(),
    d("tracking-table-max-keys", Int(0, I64), "1000000"),
    d("unixsocket", Str, "").immutable(),
    d("unixsocketperm", Octal(0o777), "0").immutable(),
    d("zset-max-listpack-entries", Int(0, I64), "128")
        .alias("zset-max-ziplist-entries")
        .field(field!(zset_max_listpack_entries, num))
        .implemented(),
    d("zset-max-listpack-value", Memory(0, I64), "64")
        .alias("zset-max-ziplist-value")
        .field(field!(zset_max_listpack_value, num))
        .implemented(),
];

/// Names Redis 7.0 still accepts in files but no longer uses.
pub const DEPRECATED: &[&str] = &[
    "list-max-ziplist-entries",
    "list-max-ziplist-value",
    "lua-replicate-commands",
];

/// The directive with this name or alias, ignoring case.
pub fn find(name: &str) -> Option<&'static Directive> {
    DIRECTIVES.iter().find(|d| d.is_named(name))
}
