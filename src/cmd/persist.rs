//! Persistence commands: SAVE, BGSAVE, and DUMP/RESTORE, which carry one
//! value in the RDB serialisation (type, payload, RDB version, CRC64).

use std::sync::atomic::Ordering::Relaxed;

use super::spec::{CommandSpec, acl, flag::*, key1};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::db::value::access;
use crate::persist::rdb::codec::Lzf;
use crate::persist::rdb::{read, write};
use crate::server::notify;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("save", 1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI, super::Keys::None, save)
        .doc("server", "1.0.0", "Synchronously saves the database(s) to disk.")
        .complexity("O(N) where N is the total number of keys in all databases")
        .acl(acl::ADMIN | acl::DANGEROUS),
    CommandSpec::new("bgsave", -1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, super::Keys::None, bgsave)
        .doc("server", "1.0.0", "Asynchronously saves the database(s) to disk.")
        .complexity("O(1)")
        .acl(acl::ADMIN | acl::DANGEROUS),
    CommandSpec::new("dump", 2, READONLY, key1(), dump)
        .doc(
            "generic",
            "2.6.0",
            "Returns a serialized representation of the value stored at a key.",
        )
        .complexity("O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).")
        .acl(acl::KEYSPACE)
        .tips(&["nondeterministic_output"]),
    CommandSpec::new("restore", -4, WRITE | DENYOOM, key1(), restore)
        .doc(
            "generic",
            "2.6.0",
            "Creates a key from the serialized representation of a value.",
        )
        .complexity("O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).")
        .acl(acl::KEYSPACE | acl::DANGEROUS),
];

fn save(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    if ctx.server.persist.bgsave_in_progress.load(Relaxed) {
        return Err(CmdError::Msg("ERR Background save already in progress"));
    }
    match crate::persist::save_now(ctx.server) {
        Ok(()) => {
            ctx.out.ok();
            Ok(())
        }
        Err(_) => Err(CmdError::Msg("ERR")),
    }
}

/// Redis 7.0's BGSAVE: inside EXEC (Redis's `server.in_exec`), or while an
/// AOF rewrite runs (Redis's other child), the save is only scheduled, for
/// the persistence cron to start; a running BGSAVE is an error even with SCHEDULE.
fn bgsave(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let schedule = match args.len() {
        1 => false,
        2 if args.is(1, "schedule") => true,
        _ => return Err(CmdError::Syntax),
    };
    let state = &ctx.server.persist;
    if state.bgsave_in_progress.load(Relaxed) {
        return Err(CmdError::Msg("ERR Background save already in progress"));
    }
    let in_exec = ctx.client.running == crate::server::client::Running::Exec;
    let other_child = ctx
        .server
        .keyspace
        .aof
        .status
        .rewrite_in_progress
        .load(Relaxed);
    if in_exec || other_child {
        if !(schedule || in_exec) {
            return Err(CmdError::Msg(
                "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
            ));
        }
        state.bgsave_scheduled.store(true, Relaxed);
        ctx.out.simple("Background saving scheduled");
        return Ok(());
    }
    match crate::persist::start_bgsave(ctx.server) {
        Ok(()) => ctx.out.simple("Background saving started"),
        Err(_) => return Err(CmdError::Msg("ERR Background save already in progress")),
    }
    Ok(())
}

/// DUMP compresses exactly as Redis does, so payloads compare byte for byte.
pub(crate) fn compression(ctx: &Ctx) -> Lzf {
    let on = ctx
        .server
        .config
        .read()
        .value("rdbcompression")
        .is_none_or(|v| v == "yes");
    if on { Lzf::Exact } else { Lzf::Off }
}

fn dump(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let compress = compression(ctx);
    let payload = match ctx.db.get(args.get(1)) {
        None => None,
        Some(entry) => Some(write::dump_payload(&entry.value, compress)),
    };
    match payload {
        Some(p) => ctx.out.bulk(&p),
        None => ctx.out.null(),
    }
    Ok(())
}

fn restore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut i = 4;
    while i < args.len() {
        let more = i + 1 < args.len();
        if args.is(i, "replace") {
            replace = true;
        } else if args.is(i, "absttl") {
            absttl = true;
        } else if args.is(i, "idletime") && more && freq.is_none() {
            let n = args.int(i + 1)?;
            if n < 0 {
                return Err(CmdError::Msg("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(n);
            i += 1;
        } else if args.is(i, "freq") && more && idle.is_none() {
            let n = args.int(i + 1)?;
            if !(0..=255).contains(&n) {
                return Err(CmdError::Msg(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            freq = Some(n);
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let key = args.get(1);
    if !replace && ctx.db.get(key).is_some() {
        return Err(CmdError::Msg("BUSYKEY Target key name already exists."));
    }
    let ttl = args.int(2)?;
    if ttl < 0 {
        return Err(CmdError::Msg("ERR Invalid TTL value, must be >= 0"));
    }
    let Some(body) = read::check_payload(args.get(3)) else {
        return Err(CmdError::Msg(
            "ERR DUMP payload version or checksum are wrong",
        ));
    };
    let limits = read::Limits::from_config(&ctx.server.config.read());
    let value =
        read::read_payload(body, &limits).map_err(|_| CmdError::Msg("ERR Bad data format"))?;
    let deleted = replace && ctx.db.remove(key).is_some();
    let now = ctx.db.now_ms;
    let expire = match ttl {
        0 => None,
        t if absttl => Some(t as u64),
        t => Some(now.saturating_add(t as u64)),
    };
    if expire.is_some_and(|when| when <= now) {
        if deleted {
            ctx.db.notify(notify::GENERIC, "del", key);
            ctx.db.modified(key);
            ctx.propagate_as(&[b"DEL", key]);
        }
        ctx.out.ok();
        return Ok(());
    }
    let mut entry = ctx.db.new_entry(value);
    let lfu = ctx.server.keyspace.access.lfu.load(Relaxed);
    if let (Some(f), true) = (freq, lfu) {
        entry.access = (access::lfu_new(now) & !0xFF) | f as u32;
    }
    if let (Some(secs), false) = (idle, lfu) {
        entry.access = access::lru_clock(now.saturating_sub(secs as u64 * 1000));
    }
    let db = ctx.db.index;
    ctx.db.insert_in(db, key, entry, expire);
    ctx.db.notify(notify::GENERIC, "restore", key);
    // A relative TTL reaches the AOF as an absolute one, as Redis logs it.
    if let (Some(when), false) = (expire, absttl) {
        let when = when.to_string();
        let mut logged: Vec<&[u8]> = vec![b"RESTORE", key, when.as_bytes(), args.get(3)];
        logged.extend((4..args.len()).map(|i| args.get(i)));
        logged.push(b"ABSTTL");
        ctx.propagate_as(&logged);
    }
    ctx.out.ok();
    Ok(())
}
