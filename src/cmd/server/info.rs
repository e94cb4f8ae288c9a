//! INFO: the sections Redis 7.0 prints, with the field names clients and
//! dashboards parse. Section names are case-insensitive; with none given the
//! default set is printed; `all` adds commandstats, `everything` too.

use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

use super::super::{Args, CmdResult, Ctx};
use crate::server::Server;

/// What the section writers read: the server, plus the key counts taken
/// through the command's own lock on the keyspace (INFO may run inside EXEC,
/// which already holds every shard, so it must not lock them again).
struct Source<'a> {
    server: &'a Server,
    db_sizes: Vec<crate::db::keyspace::DbSizes>,
}

impl std::ops::Deref for Source<'_> {
    type Target = Server;
    fn deref(&self) -> &Server {
        self.server
    }
}

type Writer = fn(&Source, &mut String);

struct Section {
    name: &'static str,
    title: &'static str,
    /// Printed by a bare INFO (and `default`).
    default: bool,
    write: Writer,
}

/// Every section, in the order Redis prints them.
const SECTIONS: &[Section] = &[
    Section {
        name: "server",
        title: "Server",
        default: true,
        write: server,
    },
    Section {
        name: "clients",
        title: "Clients",
        default: true,
        write: clients,
    },
    Section {
        name: "memory",
        title: "Memory",
        default: true,
        write: memory,
    },
    Section {
        name: "persistence",
        title: "Persistence",
        default: true,
        write: persistence,
    },
    Section {
        name: "stats",
        title: "Stats",
        default: true,
        write: stats,
    },
    Section {
        name: "replication",
        title: "Replication",
        default: true,
        write: replication,
    },
    Section {
        name: "cpu",
        title: "CPU",
        default: true,
        write: cpu,
    },
    Section {
        name: "modules",
        title: "Modules",
        default: true,
        write: |_, _| {},
    },
    Section {
        name: "commandstats",
        title: "Commandstats",
        default: false,
        write: commandstats,
    },
    Section {
        name: "errorstats",
        title: "Errorstats",
        default: true,
        write: errorstats,
    },
    Section {
        name: "latencystats",
        title: "Latencystats",
        default: false,
        write: latencystats,
    },
    Section {
        name: "cluster",
        title: "Cluster",
        default: true,
        write: cluster,
    },
    Section {
        name: "keyspace",
        title: "Keyspace",
        default: true,
        write: keyspace,
    },
];

pub fn info(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut wanted = vec![false; SECTIONS.len()];
    if args.len() == 1 {
        select_default(&mut wanted);
    }
    for arg in args.iter().skip(1) {
        if arg.eq_ignore_ascii_case(b"default") {
            select_default(&mut wanted);
        } else if arg.eq_ignore_ascii_case(b"all") || arg.eq_ignore_ascii_case(b"everything") {
            wanted.iter_mut().for_each(|w| *w = true);
        } else if let Some(i) = SECTIONS
            .iter()
            .position(|s| s.name.as_bytes().eq_ignore_ascii_case(arg))
        {
            wanted[i] = true;
        }
    }
    let source = Source {
        server: ctx.server,
        db_sizes: ctx.db.sizes(),
    };
    let text = render(&source, &wanted);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// Every section, as `INFO everything` prints it, for callers outside a
/// command (the metrics endpoint), which lock the keyspace themselves.
pub fn info_everything(server: &Server) -> String {
    let db_sizes = server
        .keyspace
        .lock_all_to_read()
        .db(0, crate::cmd::now_ms())
        .sizes();
    let source = Source { server, db_sizes };
    render(&source, &vec![true; SECTIONS.len()])
}

fn select_default(wanted: &mut [bool]) {
    for (w, s) in wanted.iter_mut().zip(SECTIONS) {
        *w |= s.default;
    }
}

fn render(server: &Source, wanted: &[bool]) -> String {
    let mut text = String::with_capacity(4096);
    for (section, _) in SECTIONS.iter().zip(wanted).filter(|(_, w)| **w) {
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        let _ = write!(text, "# {}\r\n", section.title);
        (section.write)(server, &mut text);
    }
    text
}

/// Appends one `name:value` line.
fn field(out: &mut String, name: &str, value: impl std::fmt::Display) {
    let _ = write!(out, "{name}:{value}\r\n");
}

/// Redis's human-readable byte counts: `512B`, `1.50K`, `2.00M`...
pub fn bytes_to_human(n: u64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut value = n as f64 / 1024.0;
    for unit in UNITS {
        if value < 1024.0 || unit == "P" {
            return format!("{value:.2}{unit}");
        }
        value /= 1024.0;
    }
    unreachable!()
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn server(server: &Source, out: &mut String) {
    let config = server.config.read();
    let now_ms = crate::cmd::now_ms();
    let uptime = server.started.elapsed().as_secs();
    field(out, "redis_version", crate::REDIS_VERSION);
    field(out, "ferrokv_version", env!("CARGO_PKG_VERSION"));
    field(out, "redis_git_sha1", "00000000");
    field(out, "redis_git_dirty", 0);
    field(out, "redis_mode", "standalone");
    let os = format!(
        "{} {} {}",
        read_trimmed("/proc/sys/kernel/ostype"),
        read_trimmed("/proc/sys/kernel/osrelease"),
        std::env::consts::ARCH
    );
    field(out, "os", os);
    field(out, "arch_bits", usize::BITS);
    field(out, "monotonic_clock", "POSIX clock_gettime");
    field(out, "multiplexing_api", "epoll");
    field(out, "atomicvar_api", "c11-builtin");
    field(out, "process_id", std::process::id());
    field(out, "process_supervised", "no");
    field(out, "run_id", &server.run_id);
    let port = server
        .bound
        .read()
        .first()
        .map_or(config.port, |a| a.port());
    field(out, "tcp_port", port);
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    field(out, "server_time_usec", now_us);
    field(out, "uptime_in_seconds", uptime);
    field(out, "uptime_in_days", uptime / 86400);
    field(out, "hz", config.hz);
    field(out, "configured_hz", config.hz);
    field(out, "lru_clock", (now_ms / 1000) & 0xFF_FFFF);
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    field(out, "executable", exe);
    let config_file = config
        .config_file
        .as_ref()
        .map(|p| {
            std::fs::canonicalize(p)
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string()
        })
        .unwrap_or_default();
    field(out, "config_file", config_file);
    field(out, "io_threads_active", 0);
}

fn clients(server: &Source, out: &mut String) {
    let all = server.clients.all();
    let max_in = all.iter().map(|c| c.query_buffer.load(Relaxed)).max();
    let max_out = all.iter().map(|c| c.output_buffer.load(Relaxed)).max();
    field(out, "connected_clients", all.len());
    field(out, "cluster_connections", 0);
    field(out, "maxclients", server.config.read().maxclients);
    field(out, "client_recent_max_input_buffer", max_in.unwrap_or(0));
    field(out, "client_recent_max_output_buffer", max_out.unwrap_or(0));
    field(
        out,
        "blocked_clients",
        server.keyspace.blocking.blocked_clients(),
    );
    field(out, "tracking_clients", 0);
    field(out, "clients_in_timeout_table", 0);
}

fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}

fn memory(server: &Source, out: &mut String) {
    let m = super::memory::Figures::gather(server, &server.db_sizes);
    let system = total_system_memory();
    let percent = |a: u64, b: u64| {
        let p = if b == 0 {
            0.0
        } else {
            a as f64 * 100.0 / b as f64
        };
        format!("{p:.2}%")
    };
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    field(out, "used_memory", m.used);
    field(out, "used_memory_human", bytes_to_human(m.used));
    field(out, "used_memory_rss", m.rss);
    field(out, "used_memory_rss_human", bytes_to_human(m.rss));
    field(out, "used_memory_peak", m.peak);
    field(out, "used_memory_peak_human", bytes_to_human(m.peak));
    field(out, "used_memory_peak_perc", percent(m.used, m.peak));
    field(out, "used_memory_overhead", m.overhead);
    field(out, "used_memory_startup", m.startup);
    field(out, "used_memory_dataset", m.dataset);
    field(
        out,
        "used_memory_dataset_perc",
        percent(m.dataset, m.used.saturating_sub(m.startup)),
    );
    // The system allocator has no separate active/resident figures.
    field(out, "allocator_allocated", m.used);
    field(out, "allocator_active", m.used);
    field(out, "allocator_resident", m.rss);
    field(out, "total_system_memory", system);
    field(out, "total_system_memory_human", bytes_to_human(system));
    scripting_memory(server, out);
    field(out, "maxmemory", m.maxmemory);
    field(out, "maxmemory_human", bytes_to_human(m.maxmemory));
    field(
        out,
        "maxmemory_policy",
        &server.config.read().maxmemory_policy,
    );
    field(out, "allocator_frag_ratio", "1.00");
    field(out, "allocator_frag_bytes", 0);
    // Without allocator statistics, RSS over used is the only ratio there is.
    let rss_ratio = format!("{:.2}", ratio(m.rss, m.used));
    field(out, "allocator_rss_ratio", &rss_ratio);
    field(out, "allocator_rss_bytes", m.rss as i64 - m.used as i64);
    field(out, "rss_overhead_ratio", "1.00");
    field(out, "rss_overhead_bytes", 0);
    field(out, "mem_fragmentation_ratio", &rss_ratio);
    field(out, "mem_fragmentation_bytes", m.rss as i64 - m.used as i64);
    field(out, "mem_not_counted_for_evict", 0);
    field(out, "mem_replication_backlog", 0);
    field(out, "mem_total_replication_buffers", 0);
    field(out, "mem_clients_slaves", 0);
    field(out, "mem_clients_normal", 0);
    field(out, "mem_cluster_links", 0);
    field(out, "mem_aof_buffer", 0);
    field(out, "mem_allocator", "libc");
    field(out, "active_defrag_running", 0);
    field(out, "lazyfree_pending_objects", 0);
    field(out, "lazyfreed_objects", 0);
}

/// The Lua figures Redis 7.0 prints in INFO memory (no FUNCTION support, so
/// the function counters stay at zero).
fn scripting_memory(server: &Source, out: &mut String) {
    let lua = server.scripts.lua_memory();
    let bodies = server.scripts.cached_bytes();
    field(out, "used_memory_lua", lua);
    field(out, "used_memory_vm_eval", lua);
    field(out, "used_memory_lua_human", bytes_to_human(lua as u64));
    field(out, "used_memory_scripts_eval", bodies);
    field(
        out,
        "number_of_cached_scripts",
        server.scripts.cached_count(),
    );
    field(out, "number_of_functions", 0);
    field(out, "number_of_libraries", 0);
    field(out, "used_memory_vm_functions", 0);
    field(out, "used_memory_vm_total", lua);
    field(
        out,
        "used_memory_vm_total_human",
        bytes_to_human(lua as u64),
    );
    field(out, "used_memory_functions", 0);
    field(out, "used_memory_scripts", bodies);
    field(
        out,
        "used_memory_scripts_human",
        bytes_to_human(bodies as u64),
    );
}

fn persistence(server: &Source, out: &mut String) {
    let state = &server.persist;
    let bgsave = state.bgsave_in_progress.load(Relaxed);
    let now_secs = crate::cmd::now_ms() / 1000;
    let loading = state.loading.load(Relaxed) || server.keyspace.aof.loading();
    field(out, "loading", u8::from(loading));
    field(out, "async_loading", 0);
    field(out, "current_cow_peak", 0);
    field(out, "current_cow_size", 0);
    field(out, "current_cow_size_age", 0);
    field(out, "current_fork_perc", "0.00");
    field(out, "current_save_keys_processed", 0);
    field(out, "current_save_keys_total", 0);
    field(
        out,
        "rdb_changes_since_last_save",
        server.keyspace.stats.dirty.load(Relaxed),
    );
    field(out, "rdb_bgsave_in_progress", u8::from(bgsave));
    field(
        out,
        "rdb_last_save_time",
        server.stats.last_save_unix.load(Relaxed),
    );
    let status = if state.last_bgsave_ok.load(Relaxed) {
        "ok"
    } else {
        "err"
    };
    field(out, "rdb_last_bgsave_status", status);
    field(
        out,
        "rdb_last_bgsave_time_sec",
        state.last_bgsave_secs.load(Relaxed),
    );
    let current = if bgsave {
        now_secs.saturating_sub(state.bgsave_started.load(Relaxed)) as i64
    } else {
        -1
    };
    field(out, "rdb_current_bgsave_time_sec", current);
    field(out, "rdb_saves", state.saves.load(Relaxed));
    // The bytes held for shards clients reached before the saver (no fork).
    field(out, "rdb_last_cow_size", state.last_cow_size.load(Relaxed));
    server
        .keyspace
        .aof
        .info(|name, value| field(out, name, value));
    field(out, "module_fork_in_progress", 0);
    field(out, "module_fork_last_cow_size", 0);
    server
        .keyspace
        .aof
        .info_enabled(|name, value| field(out, name, value));
}

fn stats(server: &Source, out: &mut String) {
    let s = &server.stats;
    let ks = &server.keyspace.stats;
    let (kbps_in, kbps_out) = s.instantaneous_kbps();
    field(
        out,
        "total_connections_received",
        s.total_connections.load(Relaxed),
    );
    field(
        out,
        "total_commands_processed",
        s.total_commands.load(Relaxed),
    );
    field(
        out,
        "instantaneous_ops_per_sec",
        s.instantaneous_ops().round() as u64,
    );
    field(
        out,
        "total_net_input_bytes",
        s.net_input_bytes.load(Relaxed),
    );
    field(
        out,
        "total_net_output_bytes",
        s.net_output_bytes.load(Relaxed),
    );
    field(out, "total_net_repl_input_bytes", 0);
    field(out, "total_net_repl_output_bytes", 0);
    field(out, "instantaneous_input_kbps", format!("{kbps_in:.2}"));
    field(out, "instantaneous_output_kbps", format!("{kbps_out:.2}"));
    field(out, "instantaneous_input_repl_kbps", "0.00");
    field(out, "instantaneous_output_repl_kbps", "0.00");
    field(
        out,
        "rejected_connections",
        s.rejected_connections.load(Relaxed),
    );
    field(out, "sync_full", 0);
    field(out, "sync_partial_ok", 0);
    field(out, "sync_partial_err", 0);
    field(out, "expired_keys", ks.expired.load(Relaxed));
    field(out, "expired_stale_perc", "0.00");
    field(out, "expired_time_cap_reached_count", 0);
    field(out, "evicted_keys", s.evicted_keys.load(Relaxed));
    field(out, "evicted_clients", 0);
    field(out, "keyspace_hits", ks.hits.load(Relaxed));
    field(out, "keyspace_misses", ks.misses.load(Relaxed));
    use crate::server::pubsub::Kind;
    field(out, "pubsub_channels", server.pubsub.len(Kind::Channel));
    field(out, "pubsub_patterns", server.pubsub.len(Kind::Pattern));
    field(out, "pubsubshard_channels", server.pubsub.len(Kind::Shard));
    field(out, "latest_fork_usec", 0);
    field(out, "total_forks", 0);
    field(out, "migrate_cached_sockets", 0);
    field(out, "slave_expires_tracked_keys", 0);
    field(out, "active_defrag_hits", 0);
    field(out, "active_defrag_misses", 0);
    field(out, "active_defrag_key_hits", 0);
    field(out, "active_defrag_key_misses", 0);
    field(out, "tracking_total_keys", 0);
    field(out, "tracking_total_items", 0);
    field(out, "tracking_total_prefixes", 0);
    field(out, "unexpected_error_replies", 0);
    field(
        out,
        "total_error_replies",
        s.total_error_replies.load(Relaxed),
    );
    field(out, "dump_payload_sanitizations", 0);
}

fn replication(server: &Source, out: &mut String) {
    field(out, "role", "master");
    field(out, "connected_slaves", 0);
    field(out, "master_failover_state", "no-failover");
    field(out, "master_replid", &server.stats.master_replid);
    field(out, "master_replid2", "0".repeat(40));
    field(out, "master_repl_offset", 0);
    field(out, "second_repl_offset", -1);
    field(out, "repl_backlog_active", 0);
    field(out, "repl_backlog_size", 1048576);
    field(out, "repl_backlog_first_byte_offset", 0);
    field(out, "repl_backlog_histlen", 0);
}

/// (system, user) CPU seconds from a `/proc/.../stat` file.
fn cpu_seconds(path: &str) -> (f64, f64) {
    // Linux reports in clock ticks, which are 100 a second on every
    // mainstream configuration.
    const TICKS_PER_SEC: f64 = 100.0;
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the parenthesised command name start with the state (3rd).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(12) / TICKS_PER_SEC, ticks(11) / TICKS_PER_SEC)
}

fn cpu(_server: &Source, out: &mut String) {
    let (sys, user) = cpu_seconds("/proc/self/stat");
    let (main_sys, main_user) = cpu_seconds("/proc/thread-self/stat");
    field(out, "used_cpu_sys", format!("{sys:.6}"));
    field(out, "used_cpu_user", format!("{user:.6}"));
    field(out, "used_cpu_sys_children", "0.000000");
    field(out, "used_cpu_user_children", "0.000000");
    field(out, "used_cpu_sys_main_thread", format!("{main_sys:.6}"));
    field(out, "used_cpu_user_main_thread", format!("{main_user:.6}"));
}

fn commandstats(server: &Source, out: &mut String) {
    for id in 0..server.commands.ids() {
        let s = &server.stats.commands[id];
        let calls = s.calls.load(Relaxed);
        let rejected = s.rejected_calls.load(Relaxed);
        let failed = s.failed_calls.load(Relaxed);
        if calls == 0 && rejected == 0 && failed == 0 {
            continue;
        }
        let usec = s.usec.load(Relaxed);
        let per_call = if calls == 0 {
            0.0
        } else {
            usec as f64 / calls as f64
        };
        let _ = write!(
            out,
            "cmdstat_{}:calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={failed}\r\n",
            server.commands.full_name(id)
        );
    }
}

/// Percentiles from the per-command histograms; being power-of-two buckets,
/// each figure is the upper bound of the bucket holding that percentile.
fn latencystats(server: &Source, out: &mut String) {
    for id in 0..server.commands.ids() {
        let s = &server.stats.commands[id];
        if s.calls.load(Relaxed) == 0 {
            continue;
        }
        let [p50, p99, p999] = [50.0, 99.0, 99.9].map(|p| s.latency.percentile_usec(p));
        let _ = write!(
            out,
            "latency_percentiles_usec_{}:p50={p50:.3},p99={p99:.3},p99.9={p999:.3}\r\n",
            server.commands.full_name(id)
        );
    }
}

fn errorstats(server: &Source, out: &mut String) {
    for (prefix, count) in server.stats.errors.lock().iter() {
        let _ = write!(out, "errorstat_{prefix}:count={count}\r\n");
    }
}

fn cluster(_server: &Source, out: &mut String) {
    field(out, "cluster_enabled", 0);
}

fn keyspace(server: &Source, out: &mut String) {
    for (db, size) in server.db_sizes.iter().enumerate() {
        if size.keys > 0 {
            let _ = write!(
                out,
                "db{db}:keys={},expires={},avg_ttl={}\r\n",
                size.keys, size.expires, size.avg_ttl_ms
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_like_redis() {
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(1385312), "1.32M");
        assert_eq!(bytes_to_human(25276502016), "23.54G");
    }
}
