//! Prometheus metrics over HTTP (`metrics-port`, off by default).
//!
//! `GET /metrics` answers in the Prometheus text format with the metric names
//! redis_exporter gives the same INFO fields (`redis_connected_clients`,
//! `redis_keyspace_hits_total`, `redis_db_keys{db="db0"}`...), so Grafana
//! dashboards built for a Redis behind redis_exporter work unchanged. The
//! values come from `INFO everything`, the same text redis_exporter parses,
//! so the two can never disagree. The endpoint needs no password: it exposes
//! counters, never keys or values; bind it to a private network.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::Server;

/// Longest request head read; a scrape sends a few hundred bytes.
const MAX_REQUEST_HEAD: usize = 8 * 1024;
/// A client that sends no complete request head in this time is dropped.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Gauge,
    Counter,
}

/// INFO field, metric name (after `redis_`), type, help text.
type InfoMetric = (&'static str, &'static str, Kind, &'static str);

/// Plain INFO fields and their redis_exporter names.
const INFO_METRICS: &[InfoMetric] = &[
    (
        "uptime_in_seconds",
        "uptime_in_seconds",
        Kind::Gauge,
        "Seconds since start-up",
    ),
    (
        "connected_clients",
        "connected_clients",
        Kind::Gauge,
        "Client connections",
    ),
    (
        "blocked_clients",
        "blocked_clients",
        Kind::Gauge,
        "Clients in a blocking command",
    ),
    (
        "used_memory",
        "memory_used_bytes",
        Kind::Gauge,
        "Memory used",
    ),
    (
        "used_memory_rss",
        "memory_used_rss_bytes",
        Kind::Gauge,
        "Resident memory",
    ),
    (
        "used_memory_peak",
        "memory_used_peak_bytes",
        Kind::Gauge,
        "Peak memory used",
    ),
    (
        "maxmemory",
        "memory_max_bytes",
        Kind::Gauge,
        "maxmemory (0 = no limit)",
    ),
    (
        "mem_fragmentation_ratio",
        "mem_fragmentation_ratio",
        Kind::Gauge,
        "RSS / used memory",
    ),
    (
        "loading",
        "loading_dump_file",
        Kind::Gauge,
        "1 while loading a dump",
    ),
    (
        "rdb_changes_since_last_save",
        "rdb_changes_since_last_save",
        Kind::Gauge,
        "Writes since the last save",
    ),
    (
        "rdb_bgsave_in_progress",
        "rdb_bgsave_in_progress",
        Kind::Gauge,
        "1 while saving",
    ),
    (
        "rdb_last_save_time",
        "rdb_last_save_timestamp_seconds",
        Kind::Gauge,
        "Unix time of the last save",
    ),
    (
        "rdb_last_bgsave_status",
        "rdb_last_bgsave_status",
        Kind::Gauge,
        "1 if the last save succeeded",
    ),
    (
        "aof_enabled",
        "aof_enabled",
        Kind::Gauge,
        "1 when appendonly is on",
    ),
    (
        "aof_rewrite_in_progress",
        "aof_rewrite_in_progress",
        Kind::Gauge,
        "1 while rewriting the AOF",
    ),
    (
        "aof_last_write_status",
        "aof_last_write_status",
        Kind::Gauge,
        "1 if the last AOF write succeeded",
    ),
    (
        "pubsub_channels",
        "pubsub_channels",
        Kind::Gauge,
        "Channels with subscribers",
    ),
    (
        "pubsub_patterns",
        "pubsub_patterns",
        Kind::Gauge,
        "Pattern subscriptions",
    ),
    (
        "connected_slaves",
        "connected_slaves",
        Kind::Gauge,
        "Connected replicas",
    ),
    (
        "total_connections_received",
        "connections_received_total",
        Kind::Counter,
        "Connections accepted",
    ),
    (
        "rejected_connections",
        "rejected_connections_total",
        Kind::Counter,
        "Connections refused (maxclients)",
    ),
    (
        "total_commands_processed",
        "commands_processed_total",
        Kind::Counter,
        "Commands run",
    ),
    (
        "total_net_input_bytes",
        "net_input_bytes_total",
        Kind::Counter,
        "Bytes read from clients",
    ),
    (
        "total_net_output_bytes",
        "net_output_bytes_total",
        Kind::Counter,
        "Bytes written to clients",
    ),
    (
        "expired_keys",
        "expired_keys_total",
        Kind::Counter,
        "Keys deleted on expiry",
    ),
    (
        "evicted_keys",
        "evicted_keys_total",
        Kind::Counter,
        "Keys evicted by maxmemory",
    ),
    (
        "keyspace_hits",
        "keyspace_hits_total",
        Kind::Counter,
        "Successful key lookups",
    ),
    (
        "keyspace_misses",
        "keyspace_misses_total",
        Kind::Counter,
        "Failed key lookups",
    ),
    (
        "used_cpu_sys",
        "cpu_sys_seconds_total",
        Kind::Counter,
        "System CPU time",
    ),
    (
        "used_cpu_user",
        "cpu_user_seconds_total",
        Kind::Counter,
        "User CPU time",
    ),
];

/// INFO fields copied as labels of `redis_instance_info`.
const INSTANCE_LABELS: &[&str] = &[
    "role",
    "redis_version",
    "redis_mode",
    "os",
    "maxmemory_policy",
    "tcp_port",
    "run_id",
    "process_id",
];

/// Serves `/metrics` on `listener` until the server shuts down.
pub async fn serve(server: Arc<Server>, listener: TcpListener) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(answer(server.clone(), stream));
                }
                Err(e) => {
                    tracing::warn!("Accepting metrics connection: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = server.wait_shutdown() => return,
        }
    }
}

/// Answers one HTTP request and closes the connection.
async fn answer(server: Arc<Server>, mut stream: TcpStream) {
    let Ok(Some(head)) = tokio::time::timeout(REQUEST_TIMEOUT, read_head(&mut stream)).await else {
        return;
    };
    let request_line = head.lines().next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, body) = match (method, path) {
        ("GET", "/metrics") => {
            let info = crate::cmd::server::info_everything(&server);
            ("200 OK", render(&info, server.keyspace.databases()))
        }
        ("GET", _) => ("404 Not Found", "Metrics are at /metrics\n".to_string()),
        _ => ("405 Method Not Allowed", "Only GET is served\n".to_string()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Reads up to the blank line ending the request head; `None` if the peer
/// closes first or sends more than [`MAX_REQUEST_HEAD`].
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || head.len() + n > MAX_REQUEST_HEAD {
            return None;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// The Prometheus text for an `INFO everything` reply of a server with
/// `databases` databases.
pub fn render(info: &str, databases: usize) -> String {
    let fields: Vec<(&str, &str)> = info
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .collect();
    let field = |name: &str| fields.iter().find(|(k, _)| *k == name).map(|&(_, v)| v);
    let mut out = String::with_capacity(8 * 1024);
    family(&mut out, "up", Kind::Gauge, "1 when the server answered");
    out.push_str("redis_up 1\n");
    instance_info(&mut out, &field);
    for &(info_name, metric, kind, help) in INFO_METRICS {
        if let Some(value) = field(info_name).and_then(number) {
            family(&mut out, metric, kind, help);
            let _ = writeln!(out, "redis_{metric} {value}");
        }
    }
    keyspace(&mut out, &fields, databases);
    command_stats(&mut out, &fields);
    error_stats(&mut out, &fields);
    out
}

fn family(out: &mut String, metric: &str, kind: Kind, help: &str) {
    let kind = match kind {
        Kind::Gauge => "gauge",
        Kind::Counter => "counter",
    };
    let _ = writeln!(
        out,
        "# HELP redis_{metric} {help}\n# TYPE redis_{metric} {kind}"
    );
}

/// A numeric INFO value as Prometheus reads it; `ok`/`err` statuses are 1/0,
/// as redis_exporter reports them.
fn number(value: &str) -> Option<String> {
    match value {
        "ok" => Some("1".into()),
        "err" => Some("0".into()),
        v => v.parse::<f64>().is_ok().then(|| v.to_string()),
    }
}

fn instance_info<'a>(out: &mut String, field: &impl Fn(&str) -> Option<&'a str>) {
    family(
        out,
        "instance_info",
        Kind::Gauge,
        "Information about the server",
    );
    let labels: Vec<String> = INSTANCE_LABELS
        .iter()
        .map(|&name| format!("{name}=\"{}\"", escape(field(name).unwrap_or(""))))
        .collect();
    let _ = writeln!(out, "redis_instance_info{{{}}} 1", labels.join(","));
}

/// `db0:keys=1,expires=0,avg_ttl=0` lines; databases without keys report 0,
/// as redis_exporter does, so a dashboard's series do not vanish.
fn keyspace(out: &mut String, fields: &[(&str, &str)], databases: usize) {
    let mut counts = vec![[0u64; 3]; databases];
    for (name, value) in fields {
        let Some(db) = name
            .strip_prefix("db")
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        if let Some(slot) = counts.get_mut(db) {
            for (i, key) in ["keys", "expires", "avg_ttl"].iter().enumerate() {
                slot[i] = attribute(value, key).unwrap_or(0.0) as u64;
            }
        }
    }
    // (metric, help, index into `counts`, divisor to the metric's unit)
    let series = [
        ("db_keys", "Keys per database", 0, 1.0),
        ("db_keys_expiring", "Keys with a TTL per database", 1, 1.0),
        ("db_avg_ttl_seconds", "Average TTL per database", 2, 1000.0),
    ];
    for (metric, help, index, divisor) in series {
        family(out, metric, Kind::Gauge, help);
        for (db, c) in counts.iter().enumerate() {
            let value = c[index] as f64 / divisor;
            let _ = writeln!(out, "redis_{metric}{{db=\"db{db}\"}} {value}");
        }
    }
}

/// `cmdstat_get:calls=2,usec=5,...` lines.
fn command_stats(out: &mut String, fields: &[(&str, &str)]) {
    let stats: Vec<(&str, &str)> = fields
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("cmdstat_").map(|cmd| (cmd, *v)))
        .collect();
    let series: [(&str, &str, Kind, &str, f64); 4] = [
        (
            "commands_total",
            "Calls per command",
            Kind::Counter,
            "calls",
            1.0,
        ),
        (
            "commands_duration_seconds_total",
            "Time spent per command",
            Kind::Counter,
            "usec",
            1e-6,
        ),
        (
            "commands_rejected_calls_total",
            "Rejected calls per command",
            Kind::Counter,
            "rejected_calls",
            1.0,
        ),
        (
            "commands_failed_calls_total",
            "Failed calls per command",
            Kind::Counter,
            "failed_calls",
            1.0,
        ),
    ];
    for (metric, help, kind, key, scale) in series {
        family(out, metric, kind, help);
        for (cmd, value) in &stats {
            let n = attribute(value, key).unwrap_or(0.0) * scale;
            let _ = writeln!(out, "redis_{metric}{{cmd=\"{}\"}} {n}", escape(cmd));
        }
    }
}

/// `errorstat_ERR:count=1` lines.
fn error_stats(out: &mut String, fields: &[(&str, &str)]) {
    family(
        out,
        "errors_total",
        Kind::Counter,
        "Error replies by prefix",
    );
    for (name, value) in fields {
        if let Some(prefix) = name.strip_prefix("errorstat_") {
            let n = attribute(value, "count").unwrap_or(0.0);
            let _ = writeln!(out, "redis_errors_total{{err=\"{}\"}} {n}", escape(prefix));
        }
    }
}

/// `key=value` out of a comma-separated INFO value.
fn attribute(value: &str, key: &str) -> Option<f64> {
    value
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.parse().ok())
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n\
        os:Linux\r\nprocess_id:42\r\nrun_id:abc\r\ntcp_port:6379\r\nuptime_in_seconds:7\r\n\
        \r\n# Clients\r\nconnected_clients:3\r\n\r\n# Memory\r\nused_memory:1024\r\n\
        maxmemory_policy:allkeys-lru\r\nmem_fragmentation_ratio:1.25\r\n\
        \r\n# Persistence\r\nrdb_last_bgsave_status:ok\r\naof_last_write_status:err\r\n\
        \r\n# Stats\r\nkeyspace_hits:5\r\nkeyspace_misses:2\r\nevicted_keys:0\r\n\
        total_commands_processed:9\r\n\r\n# Replication\r\nrole:master\r\n\
        \r\n# Commandstats\r\ncmdstat_get:calls=4,usec=250,usec_per_call=62.50,rejected_calls=1,failed_calls=0\r\n\
        \r\n# Errorstats\r\nerrorstat_WRONGTYPE:count=2\r\n\
        \r\n# Keyspace\r\ndb0:keys=10,expires=4,avg_ttl=1500\r\ndb2:keys=1,expires=0,avg_ttl=0\r\n";

    fn sample(text: &str, line_start: &str) -> String {
        text.lines()
            .find(|l| l.starts_with(line_start))
            .unwrap_or_else(|| panic!("no {line_start} in\n{text}"))
            .to_string()
    }

    #[test]
    fn info_fields_get_redis_exporter_names() {
        let text = render(INFO, 3);
        assert_eq!(sample(&text, "redis_up "), "redis_up 1");
        for (name, value) in [
            ("redis_connected_clients", "3"),
            ("redis_memory_used_bytes", "1024"),
            ("redis_keyspace_hits_total", "5"),
            ("redis_keyspace_misses_total", "2"),
            ("redis_commands_processed_total", "9"),
            ("redis_evicted_keys_total", "0"),
            ("redis_mem_fragmentation_ratio", "1.25"),
            ("redis_rdb_last_bgsave_status", "1"),
            ("redis_aof_last_write_status", "0"),
        ] {
            assert_eq!(
                sample(&text, &format!("{name} ")),
                format!("{name} {value}")
            );
        }
        assert!(text.contains("# TYPE redis_keyspace_hits_total counter\n"));
        assert!(text.contains("# TYPE redis_connected_clients gauge\n"));
        // Text fields are not numbers and must not become samples.
        assert!(!text.contains("redis_redis_version"));
    }

    #[test]
    fn labelled_series() {
        let text = render(INFO, 3);
        assert!(text.contains("redis_db_keys{db=\"db0\"} 10\n"), "{text}");
        assert!(text.contains("redis_db_keys{db=\"db1\"} 0\n"));
        assert!(text.contains("redis_db_keys{db=\"db2\"} 1\n"));
        assert!(text.contains("redis_db_keys_expiring{db=\"db0\"} 4\n"));
        assert!(text.contains("redis_db_avg_ttl_seconds{db=\"db0\"} 1.5\n"));
        assert!(text.contains("redis_commands_total{cmd=\"get\"} 4\n"));
        assert!(text.contains("redis_commands_duration_seconds_total{cmd=\"get\"} 0.00025\n"));
        assert!(text.contains("redis_commands_rejected_calls_total{cmd=\"get\"} 1\n"));
        assert!(text.contains("redis_errors_total{err=\"WRONGTYPE\"} 2\n"));
        let info = sample(&text, "redis_instance_info{");
        assert!(info.contains("redis_version=\"7.0.15\""), "{info}");
        assert!(info.contains("maxmemory_policy=\"allkeys-lru\""), "{info}");
        assert!(info.contains("role=\"master\""), "{info}");
    }

    #[test]
    fn every_sample_line_is_well_formed() {
        for line in render(INFO, 16).lines().filter(|l| !l.starts_with('#')) {
            let (series, value) = line.rsplit_once(' ').expect(line);
            assert!(series.starts_with("redis_"), "{line}");
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn live_server_info_renders() {
        let server = Server::new(crate::config::Config::default()).unwrap();
        let text = render(&crate::cmd::server::info_everything(&server), 16);
        assert!(text.contains("redis_connected_clients 0\n"), "{text}");
        assert!(text.contains("redis_keyspace_hits_total 0\n"));
        assert!(text.contains("redis_db_keys{db=\"db15\"} 0\n"));
    }
}
