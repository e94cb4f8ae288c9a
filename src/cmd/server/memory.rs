//! MEMORY: per-key estimates and process-wide figures.
//!
//! Process-wide figures come from the counting allocator ([`crate::alloc`]);
//! per-key figures are estimates from the value's own heap size plus the
//! fixed overheads Redis would pay, rounded to allocator size classes, so
//! they land close to what Redis reports.

use crate::cmd::reply_help;

use super::super::spec::{CommandSpec, Keys, flag::*, keys_range};
use super::super::{Args, CmdError, CmdResult, Ctx};
use super::{ALL_SHARDS_SPECIAL, ALL_SHARDS_SUCCEED};
use std::sync::atomic::Ordering::Relaxed;

use crate::db::Value;
use crate::db::keyspace::DbSizes;
use crate::db::value::StrValue;
use crate::server::Server;

pub static SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("purge", 2, 0, Keys::None, purge)
        .doc("server", "4.0.0", "Asks the allocator to release memory.")
        .tips(ALL_SHARDS_SUCCEED),
    CommandSpec::new("doctor", 2, 0, Keys::None, doctor)
        .doc("server", "4.0.0", "Outputs a memory problems report.")
        .tips(ALL_SHARDS_SPECIAL),
    CommandSpec::new("malloc-stats", 2, 0, Keys::None, malloc_stats)
        .doc("server", "4.0.0", "Returns the allocator statistics.")
        .complexity("Depends on how much memory is allocated, could be slow")
        .tips(ALL_SHARDS_SPECIAL),
    CommandSpec::new("stats", 2, WHOLE_KEYSPACE, Keys::None, stats)
        .doc("server", "4.0.0", "Returns details about memory usage.")
        .tips(ALL_SHARDS_SPECIAL),
    CommandSpec::new("help", 2, LOADING | STALE, Keys::None, help).doc(
        "server",
        "4.0.0",
        "Returns helpful text about the different subcommands.",
    ),
    CommandSpec::new("usage", -3, READONLY, keys_range(2, 2, 1), usage)
        .doc("server", "4.0.0", "Estimates the memory usage of a key.")
        .complexity("O(N) where N is the number of samples."),
];

pub use crate::alloc::used_memory;
pub use crate::server::stats::process_rss;

/// Rounds a request up to the allocator's size class (jemalloc's spacing:
/// 8, 16, then multiples of 16 up to 128, then four classes per doubling).
pub fn alloc_size(n: usize) -> usize {
    match n {
        0 => 0,
        1..=8 => 8,
        9..=128 => n.div_ceil(16) * 16,
        _ => {
            // The largest power of two below n starts the class group.
            let group = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
            let step = group / 4;
            n.div_ceil(step) * step
        }
    }
}

/// Bookkeeping per key: the hash-table entry and the value object header.
const ENTRY_OVERHEAD: usize = 24;
const OBJECT_HEADER: usize = 16;
/// sds header (type, length, capacity) plus the terminating NUL.
const SDS_OVERHEAD: usize = 4;
const EMBSTR_MAX: usize = 44;

/// Estimated bytes a key and its value occupy.
pub fn key_usage(key: &[u8], value: &Value) -> usize {
    let key_part = alloc_size(key.len() + SDS_OVERHEAD - 1);
    let value_part = match value {
        Value::Str(StrValue::Int(_)) => OBJECT_HEADER,
        Value::Str(s) if s.len() <= EMBSTR_MAX => {
            alloc_size(OBJECT_HEADER + s.len() + SDS_OVERHEAD)
        }
        Value::Str(s) => OBJECT_HEADER + alloc_size(s.len() + SDS_OVERHEAD - 1),
        #[allow(unreachable_patterns)]
        other => OBJECT_HEADER + other.heap_size(),
    };
    ENTRY_OVERHEAD + key_part + value_part
}

fn usage(ctx: &mut Ctx, args: &Args) -> CmdResult {
    // SAMPLES only matters for aggregates, which are measured whole here.
    let mut i = 3;
    while i < args.len() {
        if args.is(i, "samples") && i + 1 < args.len() {
            args.int(i + 1)?;
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let key = args.get(2);
    match ctx.db.get(key) {
        Some(entry) => {
            let bytes = key_usage(key, &entry.value);
            ctx.out.int(bytes as i64);
        }
        None => ctx.out.null(),
    }
    Ok(())
}

/// The process-wide figures INFO memory and MEMORY STATS share.
pub struct Figures {
    pub used: u64,
    pub rss: u64,
    pub peak: u64,
    /// `used` right after start-up.
    pub startup: u64,
    /// Start-up memory plus the keyspace's hash tables.
    pub overhead: u64,
    /// What is left for keys and values: `used - overhead`.
    pub dataset: u64,
    pub maxmemory: u64,
}

impl Figures {
    /// `sizes` comes from the command's own lock on the keyspace.
    pub fn gather(server: &Server, sizes: &[DbSizes]) -> Figures {
        let used = used_memory();
        let startup = server.eviction.startup.load(Relaxed);
        let tables: u64 = sizes
            .iter()
            .map(|d| d.main_table_bytes + d.expires_table_bytes)
            .sum();
        let overhead = startup + tables;
        Figures {
            used,
            rss: process_rss(),
            peak: server.stats.note_memory(used),
            startup,
            overhead,
            dataset: used.saturating_sub(overhead),
            maxmemory: server.eviction.maxmemory(),
        }
    }
}

/// One MEMORY STATS figure.
enum Stat {
    Int(u64),
    Ratio(f64),
    /// Per-database hash-table overheads.
    Db(u64, u64),
}

fn stats(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let sizes = ctx.db.sizes();
    let m = Figures::gather(ctx.server, &sizes);
    let keys: usize = sizes.iter().map(|d| d.keys).sum();
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let named = |list: Vec<(&'static str, Stat)>| {
        list.into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<Vec<_>>()
    };
    let mut fields: Vec<(String, Stat)> = named(vec![
        ("peak.allocated", Stat::Int(m.peak)),
        ("total.allocated", Stat::Int(m.used)),
        ("startup.allocated", Stat::Int(m.startup)),
        ("replication.backlog", Stat::Int(0)),
        ("clients.slaves", Stat::Int(0)),
        ("clients.normal", Stat::Int(0)),
        ("cluster.links", Stat::Int(0)),
        ("aof.buffer", Stat::Int(0)),
        ("lua.caches", Stat::Int(0)),
        ("functions.caches", Stat::Int(0)),
    ]);
    for (db, size) in sizes.iter().enumerate() {
        if size.keys > 0 {
            fields.push((
                format!("db.{db}"),
                Stat::Db(size.main_table_bytes, size.expires_table_bytes),
            ));
        }
    }
    let per_key = (m.used.saturating_sub(m.startup))
        .checked_div(keys as u64)
        .unwrap_or(0);
    fields.extend(named(vec![
        ("overhead.total", Stat::Int(m.overhead)),
        ("keys.count", Stat::Int(keys as u64)),
        ("keys.bytes-per-key", Stat::Int(per_key)),
        ("dataset.bytes", Stat::Int(m.dataset)),
        (
            "dataset.percentage",
            Stat::Ratio(100.0 * ratio(m.dataset, m.used.saturating_sub(m.startup))),
        ),
        (
            "peak.percentage",
            Stat::Ratio(100.0 * ratio(m.used, m.peak)),
        ),
        ("allocator.allocated", Stat::Int(m.used)),
        ("allocator.active", Stat::Int(m.used)),
        ("allocator.resident", Stat::Int(m.rss)),
        ("allocator-fragmentation.ratio", Stat::Ratio(1.0)),
        ("allocator-fragmentation.bytes", Stat::Int(0)),
        ("allocator-rss.ratio", Stat::Ratio(ratio(m.rss, m.used))),
        (
            "allocator-rss.bytes",
            Stat::Int(m.rss.saturating_sub(m.used)),
        ),
        ("rss-overhead.ratio", Stat::Ratio(1.0)),
        ("rss-overhead.bytes", Stat::Int(0)),
        ("fragmentation", Stat::Ratio(ratio(m.rss, m.used))),
        (
            "fragmentation.bytes",
            Stat::Int(m.rss.saturating_sub(m.used)),
        ),
    ]));
    let out = &mut *ctx.out;
    out.map(fields.len());
    for (name, value) in fields {
        out.bulk(name.as_bytes());
        match value {
            Stat::Int(n) => out.int(n as i64),
            Stat::Ratio(r) => out.double(r),
            Stat::Db(main, expires) => {
                out.map(3);
                out.bulk(b"overhead.hashtable.main");
                out.int(main as i64);
                out.bulk(b"overhead.hashtable.expires");
                out.int(expires as i64);
                out.bulk(b"overhead.hashtable.slot-to-keys");
                out.int(0);
            }
        }
    }
    Ok(())
}

/// Below this, Redis declines to diagnose anything.
const DOCTOR_MIN_MEMORY: u64 = 5 * 1024 * 1024;

fn doctor(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let used = used_memory();
    let peak = ctx.server.stats.note_memory(used);
    let text = if used < DOCTOR_MIN_MEMORY {
        "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n".to_string()
    } else if peak > used.saturating_mul(3) / 2 {
        format!(
            "Sam, I detected a few issues in this Redis instance memory implants:\n\n * Peak memory: In the past this instance used more than 150% the memory that is currently using ({peak} vs {used} bytes). The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data.\n\nI'm here to keep you safe, Sam. I want to help you.\n"
        )
    } else {
        "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n".to_string()
    };
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

fn malloc_stats(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    // Redis's answer when built with an allocator that has no report.
    ctx.out
        .verbatim(b"Stats not supported for the current allocator");
    Ok(())
}

fn purge(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    // The system allocator returns freed pages by itself; nothing to ask for.
    ctx.out.ok();
    Ok(())
}

fn help(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    reply_help(
        ctx.out,
        "MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_follow_jemalloc() {
        assert_eq!(alloc_size(5), 8);
        assert_eq!(alloc_size(17), 32);
        assert_eq!(alloc_size(129), 160);
        assert_eq!(alloc_size(197), 224);
        assert_eq!(alloc_size(256), 256);
        assert_eq!(alloc_size(257), 320);
    }

    #[test]
    fn key_usage_matches_redis_for_strings() {
        assert_eq!(key_usage(b"a", &Value::str(b"1")), 48);
        assert_eq!(key_usage(b"b", &Value::str(&[b'a'; 193])), 272);
    }
}
