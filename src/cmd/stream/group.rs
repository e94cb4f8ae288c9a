//! Consumer groups: XGROUP and its subcommands, XACK, XPENDING, XCLAIM and
//! XAUTOCLAIM. A consumer is refreshed (seen now) whenever a command looks it
//! up on its behalf, as Redis 7.0 does.

use super::{
    STREAM, consumer_created_event, has_consumer, key2, parse_bound, parse_strict_id, read_stream,
    reply_entry, reply_id, stream_event, write_stream,
};
use crate::cmd::spec::{CommandSpec, flag::*};
use crate::cmd::{Args, CmdError, CmdResult, Ctx};
use crate::db::Value;
use crate::db::stream::{ENTRIES_READ_UNKNOWN, Group, Stream, StreamId};

pub(super) static XGROUP_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("create", -5, WRITE | DENYOOM, key2(), xgroup_create).doc(
        STREAM,
        "5.0.0",
        "Creates a consumer group.",
    ),
    CommandSpec::new("setid", -5, WRITE, key2(), xgroup_setid).doc(
        STREAM,
        "5.0.0",
        "Sets the last-delivered ID of a consumer group.",
    ),
    CommandSpec::new("destroy", 4, WRITE, key2(), xgroup_destroy)
        .doc(STREAM, "5.0.0", "Destroys a consumer group.")
        .complexity(
            "O(N) where N is the number of entries in the group's pending entries list (PEL).",
        ),
    CommandSpec::new(
        "createconsumer",
        5,
        WRITE | DENYOOM,
        key2(),
        xgroup_createconsumer,
    )
    .doc(STREAM, "6.2.0", "Creates a consumer in a consumer group."),
    CommandSpec::new("delconsumer", 5, WRITE, key2(), xgroup_delconsumer).doc(
        STREAM,
        "5.0.0",
        "Deletes a consumer from a consumer group.",
    ),
    CommandSpec::new(
        "help",
        2,
        LOADING | STALE,
        crate::cmd::Keys::None,
        xgroup_help,
    )
    .doc(
        STREAM,
        "5.0.0",
        "Returns helpful text about the different subcommands.",
    ),
];

const XGROUP_HELP: &[&str] = &[
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
];

fn xgroup_help(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    crate::cmd::reply_help(ctx.out, "XGROUP", XGROUP_HELP);
    Ok(())
}

fn subcommand_syntax(args: &Args) -> CmdError {
    CmdError::msg(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try XGROUP HELP.",
        args.str(1)
    ))
}

const KEY_REQUIRED: CmdError = CmdError::Msg(
    "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
);

fn no_group_for_key(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::msg(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        String::from_utf8_lossy(group),
        String::from_utf8_lossy(key)
    ))
}

/// `NOGROUP` as XPENDING, XCLAIM and XAUTOCLAIM word it.
fn no_key_or_group(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::msg(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

fn entries_read_arg(args: &Args, i: usize) -> Result<i64, CmdError> {
    let n = args.int(i)?;
    if n < 0 && n != ENTRIES_READ_UNKNOWN {
        return Err(CmdError::Msg(
            "ERR value for ENTRIESREAD must be positive or -1",
        ));
    }
    Ok(n)
}

/// An XGROUP ID argument: `$` is the stream's last ID.
fn group_id_arg(text: &[u8], stream: Option<&Stream>) -> Result<StreamId, CmdError> {
    if text == b"$" {
        return Ok(stream.map_or(StreamId::MIN, |s| s.last_id));
    }
    parse_strict_id(text)
}

/// The stream and group an XGROUP subcommand (other than CREATE) works on.
fn existing_group<'d>(ctx: &'d mut Ctx, args: &Args) -> Result<&'d mut Group, CmdError> {
    let (key, name) = (args.get(2), args.get(3));
    let stream = write_stream(&mut ctx.db, key)?.ok_or(KEY_REQUIRED)?;
    stream
        .groups
        .get_mut(name)
        .ok_or_else(|| no_group_for_key(key, name))
}

fn xgroup_create(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() > 8 {
        return Err(subcommand_syntax(args));
    }
    let (mut mkstream, mut entries_read) = (false, ENTRIES_READ_UNKNOWN);
    let mut i = 5;
    while i < args.len() {
        if args.is(i, "mkstream") {
            mkstream = true;
        } else if args.is(i, "entriesread") && i + 1 < args.len() {
            entries_read = entries_read_arg(args, i + 1)?;
            i += 1;
        } else {
            return Err(subcommand_syntax(args));
        }
        i += 1;
    }
    let (key, name) = (args.get(2), args.get(3));
    let exists = write_stream(&mut ctx.db, key)?.is_some();
    if !exists && !mkstream {
        return Err(KEY_REQUIRED);
    }
    let id = group_id_arg(args.get(4), write_stream(&mut ctx.db, key)?.map(|s| &**s))?;
    if !exists {
        let limits = super::node_limits(ctx);
        ctx.db
            .set(key, Value::Stream(Box::new(Stream::new(limits))));
    }
    let stream = write_stream(&mut ctx.db, key)?.expect("stream exists");
    if stream.groups.contains_key(name) {
        return Err(CmdError::Msg(
            "BUSYGROUP Consumer Group name already exists",
        ));
    }
    stream
        .groups
        .insert(name.to_vec(), Group::new(id, entries_read));
    ctx.db.modified(key);
    stream_event(&mut ctx.db, "xgroup-create", key);
    ctx.out.ok();
    Ok(())
}

fn xgroup_setid(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut entries_read = ENTRIES_READ_UNKNOWN;
    match args.len() {
        5 => {}
        7 if args.is(5, "entriesread") => entries_read = entries_read_arg(args, 6)?,
        _ => return Err(subcommand_syntax(args)),
    }
    let key = args.get(2);
    existing_group(ctx, args)?;
    let stream = write_stream(&mut ctx.db, key)?.expect("checked");
    let id = group_id_arg(args.get(4), Some(stream))?;
    let group = stream.groups.get_mut(args.get(3)).expect("checked");
    group.last_id = id;
    group.entries_read = entries_read;
    ctx.db.modified(key);
    stream_event(&mut ctx.db, "xgroup-setid", key);
    ctx.out.ok();
    Ok(())
}

fn xgroup_destroy(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(2);
    let stream = write_stream(&mut ctx.db, key)?.ok_or(KEY_REQUIRED)?;
    let removed = stream.groups.remove(args.get(3)).is_some();
    if removed {
        // Clients blocked on the group learn it is gone.
        ctx.db.modified(key);
        stream_event(&mut ctx.db, "xgroup-destroy", key);
    }
    ctx.out.int(removed as i64);
    Ok(())
}

fn xgroup_createconsumer(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let now = ctx.db.now_ms;
    let created = existing_group(ctx, args)?.consumer(args.get(4), now).1;
    if created {
        ctx.db.modified(args.get(2));
        stream_event(&mut ctx.db, "xgroup-createconsumer", args.get(2));
    }
    ctx.out.int(created as i64);
    Ok(())
}

fn xgroup_delconsumer(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let pending = existing_group(ctx, args)?.remove_consumer(args.get(4));
    if pending.is_some() {
        ctx.db.modified(args.get(2));
        stream_event(&mut ctx.db, "xgroup-delconsumer", args.get(2));
    }
    ctx.out.int(pending.unwrap_or(0) as i64);
    Ok(())
}

// ---- XACK ----

pub(super) fn xack(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let ids = args
        .iter()
        .skip(3)
        .map(parse_strict_id)
        .collect::<Result<Vec<_>, _>>()?;
    let key = args.get(1);
    let acked = match write_stream(&mut ctx.db, key)?.and_then(|s| s.groups.get_mut(args.get(2))) {
        Some(group) => ids.into_iter().filter(|&id| group.ack(id)).count(),
        None => 0,
    };
    if acked > 0 {
        ctx.db.modified(key);
    }
    ctx.out.int(acked as i64);
    Ok(())
}

// ---- XPENDING ----

struct PendingRange<'a> {
    min_idle: u64,
    start: StreamId,
    end: StreamId,
    count: usize,
    consumer: Option<&'a [u8]>,
}

fn parse_pending_range<'a>(args: &Args<'a>) -> Result<Option<PendingRange<'a>>, CmdError> {
    if args.len() == 3 {
        return Ok(None);
    }
    let mut i = 3;
    let mut min_idle = 0;
    if args.is(i, "idle") && args.len() > 4 {
        min_idle = args.int(4)?.max(0) as u64;
        i += 2;
    }
    if args.len() < i + 3 {
        return Err(CmdError::Syntax);
    }
    let start = parse_bound(args.get(i), true)?;
    let end = parse_bound(args.get(i + 1), false)?;
    let count = args.int(i + 2)?.max(0) as usize;
    let consumer = args.get_opt(i + 3);
    Ok(Some(PendingRange {
        min_idle,
        start,
        end,
        count,
        consumer,
    }))
}

pub(super) fn xpending(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let range = parse_pending_range(args)?;
    let (key, name) = (args.get(1), args.get(2));
    let now = ctx.db.now_ms;
    let group = read_stream(&mut ctx.db, key)?
        .and_then(|s| s.groups.get(name))
        .ok_or_else(|| no_key_or_group(key, name))?;
    let out = &mut *ctx.out;
    let Some(range) = range else {
        reply_pending_summary(out, group);
        return Ok(());
    };
    let ids: Vec<StreamId> = match range.consumer {
        Some(consumer) => match group.consumers.get(consumer) {
            Some(c) if range.start <= range.end => {
                c.pending.range(range.start..=range.end).copied().collect()
            }
            _ => Vec::new(),
        },
        None if range.start <= range.end => group
            .pending
            .range(range.start..=range.end)
            .map(|(id, _)| *id)
            .collect(),
        None => Vec::new(),
    };
    let rows: Vec<_> = ids
        .into_iter()
        .map(|id| (id, &group.pending[&id]))
        .filter(|(_, p)| now.saturating_sub(p.delivery_ms) >= range.min_idle)
        .take(range.count)
        .collect();
    out.array(rows.len());
    for (id, p) in rows {
        out.array(4);
        reply_id(out, id);
        out.bulk(&p.consumer);
        out.int(now.saturating_sub(p.delivery_ms) as i64);
        out.int(p.delivery_count as i64);
    }
    Ok(())
}

fn reply_pending_summary(out: &mut crate::protocol::Reply, group: &Group) {
    out.array(4);
    out.int(group.pending.len() as i64);
    let (Some(first), Some(last)) = (
        group.pending.keys().next(),
        group.pending.keys().next_back(),
    ) else {
        out.null();
        out.null();
        out.null_array();
        return;
    };
    reply_id(out, *first);
    reply_id(out, *last);
    let owners: Vec<_> = group
        .consumers
        .iter()
        .filter(|(_, c)| !c.pending.is_empty())
        .collect();
    out.array(owners.len());
    for (name, c) in owners {
        out.array(2);
        out.bulk(name);
        out.bulk(c.pending.len().to_string().as_bytes());
    }
}

// ---- XCLAIM / XAUTOCLAIM ----

#[derive(Default)]
struct ClaimOptions {
    /// Unix ms to record as the last delivery.
    delivery_ms: Option<i64>,
    retry_count: Option<i64>,
    force: bool,
    justid: bool,
    last_id: Option<StreamId>,
}

fn parse_claim_options(args: &Args, from: usize, now: u64) -> Result<ClaimOptions, CmdError> {
    let mut options = ClaimOptions::default();
    let mut i = from;
    while i < args.len() {
        let more = i + 1 < args.len();
        let number = |msg: &'static str| args.int(i + 1).map_err(|_| CmdError::Msg(msg));
        if args.is(i, "force") {
            options.force = true;
        } else if args.is(i, "justid") {
            options.justid = true;
        } else if args.is(i, "idle") && more {
            let idle = number("ERR Invalid IDLE option argument for XCLAIM")?;
            options.delivery_ms = Some((now as i64).saturating_sub(idle));
            i += 1;
        } else if args.is(i, "time") && more {
            options.delivery_ms = Some(number("ERR Invalid TIME option argument for XCLAIM")?);
            i += 1;
        } else if args.is(i, "retrycount") && more {
            options.retry_count =
                Some(number("ERR Invalid RETRYCOUNT option argument for XCLAIM")?);
            i += 1;
        } else if args.is(i, "lastid") && more {
            options.last_id = Some(parse_strict_id(args.get(i + 1))?);
            i += 1;
        } else {
            return Err(CmdError::msg(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                args.str(i)
            )));
        }
        i += 1;
    }
    Ok(options)
}

/// The min-idle-time argument: negative counts as 0.
fn min_idle_arg(args: &Args, command: &str) -> Result<u64, CmdError> {
    args.int(4)
        .map(|n| n.max(0) as u64)
        .map_err(|_| CmdError::msg(format!("ERR Invalid min-idle-time argument for {command}")))
}

pub(super) fn xclaim(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (key, name, consumer) = (args.get(1), args.get(2), args.get(3));
    let has_group = read_stream(&mut ctx.db, key)?.is_some_and(|s| s.groups.contains_key(name));
    if !has_group {
        return Err(no_key_or_group(key, name));
    }
    let min_idle = min_idle_arg(args, "XCLAIM")?;
    let ids_end = (5..args.len())
        .find(|&i| parse_strict_id(args.get(i)).is_err())
        .unwrap_or(args.len());
    let ids: Vec<StreamId> = (5..ids_end)
        .map(|i| parse_strict_id(args.get(i)).expect("checked"))
        .collect();
    let now = ctx.db.now_ms;
    let options = parse_claim_options(args, ids_end, now)?;
    let delivery_ms = match options.delivery_ms {
        Some(t) if t >= 0 && (t as u64) <= now => t as u64,
        _ => now,
    };
    let existed = has_consumer(&mut ctx.db, key, name, consumer);
    let stream = write_stream(&mut ctx.db, key)?.expect("checked");
    let mut claimed = Vec::new();
    {
        let exists: Vec<bool> = ids.iter().map(|&id| stream.get(id).is_some()).collect();
        let group = stream.groups.get_mut(name).expect("checked");
        if let Some(last) = options.last_id
            && last > group.last_id
        {
            group.last_id = last;
        }
        for (&id, exists) in ids.iter().zip(exists) {
            if !exists {
                // The entry is gone: drop it from the PEL too.
                group.ack(id);
                continue;
            }
            let pending = group.pending.get(&id);
            let forced = pending.is_none();
            if forced && !options.force {
                continue;
            }
            if let Some(p) = pending
                && min_idle > 0
                && now.saturating_sub(p.delivery_ms) < min_idle
            {
                continue;
            }
            let previous_count = pending.map_or(0, |p| p.delivery_count);
            group.deliver(id, consumer, now);
            let p = group.pending.get_mut(&id).expect("just delivered");
            p.delivery_ms = delivery_ms;
            p.delivery_count = match options.retry_count {
                Some(n) if n >= 0 => n as u64,
                _ if options.justid => previous_count,
                _ => previous_count + 1,
            };
            claimed.push(id);
        }
        if !claimed.is_empty() {
            group.consumer(consumer, now).0.seen_ms = now;
        }
    }
    reply_claimed(ctx.out, stream, &claimed, options.justid);
    ctx.db.modified(key);
    consumer_created_event(&mut ctx.db, existed, key, name, consumer);
    Ok(())
}

/// Claimed entries, or just their IDs.
fn reply_claimed(
    out: &mut crate::protocol::Reply,
    stream: &Stream,
    ids: &[StreamId],
    justid: bool,
) {
    out.array(ids.len());
    for &id in ids {
        if justid {
            reply_id(out, id);
        } else {
            match stream.get(id) {
                Some(entry) => reply_entry(out, &entry),
                None => out.null(),
            }
        }
    }
}

pub(super) fn xautoclaim(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (key, name, consumer) = (args.get(1), args.get(2), args.get(3));
    let has_group = read_stream(&mut ctx.db, key)?.map(|s| s.groups.contains_key(name));
    let min_idle = min_idle_arg(args, "XAUTOCLAIM")?;
    let start = parse_bound(args.get(5), true)?;
    let (mut count, mut justid) = (100usize, false);
    let mut i = 6;
    while i < args.len() {
        if args.is(i, "count") && i + 1 < args.len() {
            let n = args
                .int(i + 1)
                .ok()
                .filter(|n| (1..=i64::MAX / 10).contains(n));
            count = n.ok_or(CmdError::Msg("ERR COUNT must be > 0"))? as usize;
            i += 2;
        } else if args.is(i, "justid") {
            justid = true;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if has_group != Some(true) {
        return Err(no_key_or_group(key, name));
    }
    let now = ctx.db.now_ms;
    let existed = has_consumer(&mut ctx.db, key, name, consumer);
    let stream = write_stream(&mut ctx.db, key)?.expect("checked");
    let candidates: Vec<(StreamId, bool)> = {
        let group = &stream.groups[name];
        group
            .pending
            .range(start..)
            .map(|(&id, _)| (id, stream.get(id).is_some()))
            .collect()
    };
    let group = stream.groups.get_mut(name).expect("checked");
    let (mut claimed, mut deleted) = (Vec::new(), Vec::new());
    let mut attempts = count * 10;
    let mut next = StreamId::MIN;
    for &(id, exists) in &candidates {
        if attempts == 0 || claimed.len() >= count {
            next = id;
            break;
        }
        attempts -= 1;
        if !exists {
            group.ack(id);
            deleted.push(id);
            continue;
        }
        let p = &group.pending[&id];
        if min_idle > 0 && now.saturating_sub(p.delivery_ms) < min_idle {
            continue;
        }
        let delivery_count = p.delivery_count + u64::from(!justid);
        group.deliver(id, consumer, now);
        group
            .pending
            .get_mut(&id)
            .expect("delivered")
            .delivery_count = delivery_count;
        claimed.push(id);
    }
    // As XCLAIM: the consumer exists once it owns something.
    if !claimed.is_empty() {
        group.consumer(consumer, now).0.seen_ms = now;
    }
    let out = &mut *ctx.out;
    out.array(3);
    reply_id(out, next);
    reply_claimed(out, stream, &claimed, justid);
    out.array(deleted.len());
    for id in deleted {
        reply_id(out, id);
    }
    ctx.db.modified(key);
    consumer_created_event(&mut ctx.db, existed, key, name, consumer);
    Ok(())
}
