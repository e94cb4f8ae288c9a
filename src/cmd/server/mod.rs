//! Server commands: INFO, COMMAND, SLOWLOG, LATENCY, MEMORY, DEBUG and the
//! database-wide ones (DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, TIME, LASTSAVE,
//! SHUTDOWN). Each larger command has its own submodule; this file holds the
//! table and the small handlers.

mod command;
mod debug;
mod info;
mod memory;
mod slowlog;

pub use info::info_everything;

use std::sync::atomic::Ordering::Relaxed;

use super::spec::{CommandSpec, Keys, acl, flag::*};
use super::{Args, CmdError, CmdResult, Ctx};

const ADMIN_SUB: u32 = ADMIN | LOADING | STALE;
const LATENCY_SUB: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

// Command tips, as Redis 7.0 declares them.
const NONDETERMINISTIC: &str = "nondeterministic_output";
const NONDETERMINISTIC_ORDER: &str = "nondeterministic_output_order";
const SPECIAL: &str = "response_policy:special";
const ALL_SHARDS_SUCCEED: &[&str] = &["request_policy:all_shards", "response_policy:all_succeeded"];
const ALL_NODES_SPECIAL: &[&str] = &[NONDETERMINISTIC, "request_policy:all_nodes", SPECIAL];
const ALL_SHARDS_SPECIAL: &[&str] = &[NONDETERMINISTIC, "request_policy:all_shards", SPECIAL];

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("info", -1, LOADING | STALE | WHOLE_KEYSPACE | INSPECTS, Keys::None, info::info)
        .doc(
            "server",
            "1.0.0",
            "Returns information and statistics about the server.",
        )
        .acl(acl::DANGEROUS)
        .tips(&[NONDETERMINISTIC, "request_policy:all_shards", SPECIAL]),
    CommandSpec {
        handler: Some(command::command_all),
        ..CommandSpec::container("command", -1, command::SUBCOMMANDS)
    }
    .doc(
        "server",
        "2.8.13",
        "Returns detailed information about all commands.",
    )
    .complexity("O(N) where N is the total number of Redis commands")
    .acl(acl::CONNECTION)
    .tips(&[NONDETERMINISTIC_ORDER]),
    CommandSpec::new("time", 1, LOADING | STALE | FAST, Keys::None, time).doc(
        "server",
        "2.6.0",
        "Returns the server time.",
    )
    .tips(&[NONDETERMINISTIC]),
    CommandSpec::new("lastsave", 1, LOADING | STALE | FAST, Keys::None, lastsave)
        .doc(
            "server",
            "1.0.0",
            "Returns the Unix timestamp of the last successful save to disk.",
        )
        .acl(acl::ADMIN | acl::DANGEROUS)
        .tips(&[NONDETERMINISTIC]),
    CommandSpec::new(
        "dbsize",
        1,
        READONLY | FAST | WHOLE_KEYSPACE,
        Keys::None,
        dbsize,
    )
    .doc("server", "1.0.0", "Returns the number of keys in the database.")
    .acl(acl::KEYSPACE)
    .tips(&["request_policy:all_shards", "response_policy:agg_sum"]),
    CommandSpec::new("flushdb", -1, WRITE | WHOLE_KEYSPACE, Keys::None, flushdb)
        .doc("server", "1.0.0", "Removes all keys from the current database.")
        .complexity("O(N) where N is the number of keys in the selected database")
        .acl(acl::KEYSPACE | acl::DANGEROUS)
        .tips(ALL_SHARDS_SUCCEED),
    CommandSpec::new("flushall", -1, WRITE | WHOLE_KEYSPACE, Keys::None, flushall)
        .doc("server", "1.0.0", "Removes all keys from all databases.")
        .complexity("O(N) where N is the total number of keys in all databases")
        .acl(acl::KEYSPACE | acl::DANGEROUS)
        .tips(ALL_SHARDS_SUCCEED),
    CommandSpec::new("swapdb", 3, WRITE | FAST | WHOLE_KEYSPACE, Keys::None, swapdb)
        .doc("server", "4.0.0", "Swaps two Redis databases.")
        .complexity("O(N) where N is the count of clients watching or blocking on keys from both databases.")
        .acl(acl::KEYSPACE | acl::DANGEROUS),
    CommandSpec::new(
        "shutdown",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY,
        Keys::None,
        shutdown,
    )
    .doc(
        "server",
        "1.0.0",
        "Synchronously saves the database(s) to disk and shuts down the Redis server.",
    )
    .complexity("O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)"),
    CommandSpec::container("slowlog", -2, slowlog::SLOWLOG_SUBCOMMANDS).doc(
        "server",
        "2.2.12",
        "A container for slow log commands.",
    ),
    CommandSpec::container("latency", -2, slowlog::LATENCY_SUBCOMMANDS).doc(
        "server",
        "2.8.13",
        "A container for latency diagnostics commands.",
    ),
    CommandSpec::container("memory", -2, memory::SUBCOMMANDS).doc(
        "server",
        "4.0.0",
        "A container for memory diagnostics commands.",
    ),
    CommandSpec::new(
        "debug",
        -2,
        ADMIN | NOSCRIPT | LOADING | STALE | WHOLE_KEYSPACE,
        Keys::None,
        debug::debug,
    )
    .doc("server", "1.0.0", "A container for debugging commands.")
    .complexity("Depends on subcommand."),
];

fn time(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ctx.out.array(2);
    ctx.out.bulk_int(now.as_secs() as i64);
    ctx.out.bulk_int(now.subsec_micros() as i64);
    Ok(())
}

fn lastsave(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    ctx.out
        .int(ctx.server.stats.last_save_unix.load(Relaxed) as i64);
    Ok(())
}

fn dbsize(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let n = ctx.db.len();
    ctx.out.int(n as i64);
    Ok(())
}

/// Parses the optional `ASYNC`/`SYNC` of FLUSHDB and FLUSHALL; true for ASYNC.
fn flush_mode(args: &Args) -> Result<bool, CmdError> {
    match args.len() {
        1 => Ok(false),
        2 if args.is(1, "async") => Ok(true),
        2 if args.is(1, "sync") => Ok(false),
        _ => Err(CmdError::Syntax),
    }
}

/// Below this many keys, freeing in the background costs more than it saves
/// (Redis's lazyfree threshold).
const LAZYFREE_THRESHOLD: usize = 64;

/// Empties databases `dbs`; with `lazy`, the emptied contents are taken out
/// under the lock and dropped on another thread.
fn flush_databases(ctx: &mut Ctx, dbs: std::ops::Range<usize>, lazy: bool) -> usize {
    let mut removed = 0;
    let mut taken = Vec::new();
    for db in dbs {
        if lazy {
            let parts = ctx.db.take_all(db);
            removed += parts.iter().map(|p| p.keys.len()).sum::<usize>();
            taken.push(parts);
        } else {
            removed += ctx.db.flush(db);
        }
    }
    if removed >= LAZYFREE_THRESHOLD {
        std::thread::spawn(move || drop(taken));
    }
    ctx.db.add_dirty(removed as u64);
    removed
}

fn flushdb(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let lazy = flush_mode(args)?;
    let db = ctx.db.index;
    flush_databases(ctx, db..db + 1, lazy);
    ctx.out.ok();
    Ok(())
}

fn flushall(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let lazy = flush_mode(args)?;
    let databases = ctx.server.keyspace.databases();
    flush_databases(ctx, 0..databases, lazy);
    // Redis counts FLUSHALL itself as one more change.
    ctx.db.add_dirty(1);
    // With save points, the emptied dataset reaches the disk at once.
    crate::persist::after_flushall(ctx.server);
    ctx.out.ok();
    Ok(())
}

fn swapdb(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let first = args
        .int(1)
        .map_err(|_| CmdError::Msg("ERR invalid first DB index"))?;
    let second = args
        .int(2)
        .map_err(|_| CmdError::Msg("ERR invalid second DB index"))?;
    let databases = ctx.server.keyspace.databases() as i64;
    if !(0..databases).contains(&first) || !(0..databases).contains(&second) {
        return Err(CmdError::InvalidDb);
    }
    let (first, second) = (first as usize, second as usize);
    ctx.db.swap(first, second);
    // Clients blocked in either database may now find their key filled.
    for db in [first, second] {
        for key in ctx.server.keyspace.blocking.waited_keys(db) {
            ctx.db.locked().mark_ready(db, key);
        }
    }
    ctx.db.add_dirty(1);
    ctx.out.ok();
    Ok(())
}

fn shutdown(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (mut save, mut nosave, mut abort, mut other) = (false, false, false, false);
    for i in 1..args.len() {
        if args.is(i, "save") {
            save = true;
        } else if args.is(i, "nosave") {
            nosave = true;
        } else if args.is(i, "abort") {
            abort = true;
        } else if args.is(i, "now") || args.is(i, "force") {
            other = true;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if (abort && (save || nosave || other)) || (save && nosave) {
        return Err(CmdError::Syntax);
    }
    if abort {
        // Shutdown is immediate here, so there is never one in progress.
        return Err(CmdError::Msg("ERR No shutdown in progress."));
    }
    // During a busy script only SHUTDOWN NOSAVE may stop the server, and
    // the script is stopped with it.
    if ctx.server.scripts.run.is_busy() {
        if !nosave {
            return Err(CmdError::Msg(crate::cmd::scripting::BUSY));
        }
        ctx.server.scripts.run.force_kill();
    }
    // The final snapshot (SAVE, or save points configured, unless NOSAVE);
    // when it fails Redis stays up unless FORCE.
    let force = (1..args.len()).any(|i| args.is(i, "force"));
    if !crate::persist::save_for_shutdown(ctx.server, save, nosave) && !force {
        return Err(CmdError::Msg("ERR Errors trying to SHUTDOWN. Check logs."));
    }
    // Like Redis, no reply: the connection just closes.
    ctx.client.close_after_reply = true;
    ctx.server.request_shutdown();
    Ok(())
}

#[cfg(test)]
mod tests;
