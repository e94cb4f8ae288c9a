//! XREAD and XREADGROUP, blocking included.
//!
//! A reader that finds nothing and may block hands the blocking registry a
//! canonical copy of its arguments in which every ID is resolved (`$` becomes
//! the stream's last ID at the time of blocking), so that its serve function
//! reads "entries after what existed when I blocked". XREADGROUP only blocks
//! when every ID is `>`; a history read always answers at once.

use std::time::Duration;

use super::{
    parse_strict_id, read_stream, reply_entries, reply_entry, stream_of_mut, write_stream,
};
use crate::cmd::args::OwnedArgs;
use crate::cmd::{Args, CmdError, CmdResult, Ctx};
use crate::db::Db;
use crate::db::stream::{Stream, StreamEntry, StreamId};
use crate::protocol::Reply;
use crate::server::blocking;

/// Key positions: the first half of the arguments after STREAMS.
fn keys_after_streams(args: &Args, from: usize, out: &mut Vec<usize>) {
    let Some(at) = (from..args.len()).find(|&i| args.is(i, "streams")) else {
        return;
    };
    let n = (args.len() - at - 1) / 2;
    out.extend(at + 1..at + 1 + n);
}

pub(super) fn xread_keys(args: &Args, out: &mut Vec<usize>) {
    keys_after_streams(args, 1, out)
}

pub(super) fn xreadgroup_keys(args: &Args, out: &mut Vec<usize>) {
    keys_after_streams(args, 4, out)
}

struct ReadArgs<'a> {
    /// 0 = no limit.
    count: usize,
    /// `Some(None)`: BLOCK 0 (forever).
    block: Option<Option<Duration>>,
    noack: bool,
    group: Option<(&'a [u8], &'a [u8])>,
    keys: Vec<&'a [u8]>,
    ids: Vec<&'a [u8]>,
}

fn parse_block_ms(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let ms = crate::protocol::parse::parse_i64(arg).ok_or(CmdError::Msg(
        "ERR timeout is not an integer or out of range",
    ))?;
    if ms < 0 {
        return Err(CmdError::Msg("ERR timeout is negative"));
    }
    Ok((ms > 0).then(|| Duration::from_millis(ms as u64)))
}

fn parse_read_args<'a>(args: &Args<'a>, xreadgroup: bool) -> Result<ReadArgs<'a>, CmdError> {
    let mut parsed = ReadArgs {
        count: 0,
        block: None,
        noack: false,
        group: None,
        keys: Vec::new(),
        ids: Vec::new(),
    };
    let mut streams_at = None;
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if args.is(i, "count") && more > 0 {
            parsed.count = args.int(i + 1)?.max(0) as usize;
            i += 1;
        } else if args.is(i, "block") && more > 0 {
            parsed.block = Some(parse_block_ms(args.get(i + 1))?);
            i += 1;
        } else if args.is(i, "streams") && more > 0 {
            streams_at = Some(i + 1);
            break;
        } else if args.is(i, "group") && more >= 2 {
            if !xreadgroup {
                return Err(CmdError::Msg(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            parsed.group = Some((args.get(i + 1), args.get(i + 2)));
            i += 2;
        } else if args.is(i, "noack") {
            if !xreadgroup {
                return Err(CmdError::Msg(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            parsed.noack = true;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let Some(at) = streams_at else {
        return Err(CmdError::Syntax);
    };
    let listed = args.len() - at;
    if listed % 2 != 0 {
        // Redis names XREAD here for both commands.
        return Err(CmdError::Msg(
            "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
        ));
    }
    if xreadgroup && parsed.group.is_none() {
        return Err(CmdError::Msg("ERR Missing GROUP option for XREADGROUP"));
    }
    parsed.keys = (at..at + listed / 2).map(|i| args.get(i)).collect();
    parsed.ids = (at + listed / 2..args.len()).map(|i| args.get(i)).collect();
    Ok(parsed)
}

/// Writes `[[key, entries], ...]` (RESP3: a map of key to entries).
fn reply_streams(out: &mut Reply, found: &[(&[u8], Vec<u8>)]) {
    if out.resp3 {
        out.map(found.len());
    } else {
        out.array(found.len());
    }
    for (key, entries) in found {
        if !out.resp3 {
            out.array(2);
        }
        out.bulk(key);
        out.raw(entries);
    }
}

/// Entries after `after`, up to `count` (0 = all).
fn entries_after(stream: &Stream, after: StreamId, count: usize) -> Vec<StreamEntry<'_>> {
    match after.next() {
        Some(start) => stream.collect_range(start, StreamId::MAX, false, count),
        None => Vec::new(),
    }
}

pub(super) fn xread(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let parsed = parse_read_args(args, false)?;
    let mut after = Vec::with_capacity(parsed.keys.len());
    for (key, id) in parsed.keys.iter().zip(&parsed.ids) {
        let stream = read_stream(&mut ctx.db, key)?;
        after.push(match *id {
            b"$" => stream.map_or(StreamId::MIN, |s| s.last_id),
            b">" => {
                return Err(CmdError::Msg(
                    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ));
            }
            _ => parse_strict_id(id)?,
        });
    }
    let mut found = Vec::new();
    for (key, &id) in parsed.keys.iter().zip(&after) {
        if let Some(stream) = ctx
            .db
            .peek(key)
            .and_then(|e| super::stream_of(&e.value).ok())
        {
            let entries = entries_after(stream, id, parsed.count);
            if !entries.is_empty() {
                let mut body = Reply::new(ctx.out.resp3);
                reply_entries(&mut body, &entries);
                found.push((*key, body.buf.to_vec()));
            }
        }
    }
    if !found.is_empty() {
        reply_streams(ctx.out, &found);
        return Ok(());
    }
    match parsed.block {
        Some(timeout) if blocking::may_block(ctx) => {
            let mut owned: OwnedArgs = ["xread".as_bytes()].into_iter().collect();
            owned.push(parsed.count.to_string().as_bytes());
            owned.push(parsed.keys.len().to_string().as_bytes());
            for key in &parsed.keys {
                owned.push(key);
            }
            for id in &after {
                owned.push(id.to_string().as_bytes());
            }
            let keys = parsed.keys.iter().map(|k| k.to_vec()).collect();
            blocking::block_with_args(ctx, keys, timeout, serve_xread, owned);
        }
        _ => ctx.out.null_array(),
    }
    Ok(())
}

/// The index of `key` among a canonical waiter's keys (see [`xread`]).
fn waiter_key(args: &Args, keys_at: usize, key: &[u8]) -> Option<(usize, usize)> {
    let n: usize = args.str(keys_at - 1).parse().ok()?;
    let i = (keys_at..keys_at + n).find(|&i| args.get(i) == key)?;
    Some((i, n))
}

/// Serves a blocked XREAD: `[xread, count, n, keys..., ids...]`.
fn serve_xread(db: &mut Db<'_, '_>, key: &[u8], args: &Args, out: &mut Reply) -> bool {
    let Some((i, n)) = waiter_key(args, 3, key) else {
        return false;
    };
    let (Ok(after), Ok(count)) = (parse_strict_id(args.get(i + n)), args.str(1).parse()) else {
        return false;
    };
    let Ok(Some(stream)) = write_stream(db, key) else {
        return false;
    };
    let entries = entries_after(stream, after, count);
    if entries.is_empty() {
        return false;
    }
    let mut body = Reply::new(out.resp3);
    reply_entries(&mut body, &entries);
    reply_streams(out, &[(key, body.buf.to_vec())]);
    true
}

fn nogroup(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::msg(format!(
        "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

/// What XREADGROUP reads from one stream.
enum GroupRead {
    New,
    /// The consumer's pending entries after this ID.
    History(StreamId),
}

pub(super) fn xreadgroup(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let parsed = parse_read_args(args, true)?;
    let (group, consumer) = parsed.group.expect("checked by the parser");
    let mut reads = Vec::with_capacity(parsed.keys.len());
    for (key, id) in parsed.keys.iter().zip(&parsed.ids) {
        let stream = read_stream(&mut ctx.db, key)?;
        if !stream.is_some_and(|s| s.groups.contains_key(group)) {
            return Err(nogroup(key, group));
        }
        reads.push(match *id {
            b">" => GroupRead::New,
            b"$" => {
                return Err(CmdError::Msg(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ));
            }
            _ => GroupRead::History(parse_strict_id(id)?),
        });
    }
    let now = ctx.db.now_ms;
    let mut found = Vec::new();
    for (key, read) in parsed.keys.iter().zip(&reads) {
        let existed = super::has_consumer(&mut ctx.db, key, group, consumer);
        let stream = write_stream(&mut ctx.db, key)?.expect("checked above");
        let mut body = Reply::new(ctx.out.resp3);
        let emitted = match *read {
            GroupRead::New => deliver_new(
                stream,
                group,
                consumer,
                parsed.count,
                parsed.noack,
                now,
                &mut body,
            ),
            GroupRead::History(after) => {
                deliver_history(stream, group, consumer, after, parsed.count, now, &mut body);
                true
            }
        };
        super::consumer_created_event(&mut ctx.db, existed, key, group, consumer);
        if emitted {
            found.push((*key, body.buf.to_vec()));
        }
    }
    if !found.is_empty() {
        for (key, _) in &found {
            ctx.db.modified(key);
        }
        reply_streams(ctx.out, &found);
        return Ok(());
    }
    match parsed.block {
        Some(timeout) if blocking::may_block(ctx) => {
            let mut owned: OwnedArgs = ["xreadgroup".as_bytes()].into_iter().collect();
            owned.push(parsed.count.to_string().as_bytes());
            owned.push(if parsed.noack { b"1" } else { b"0" });
            owned.push(group);
            owned.push(consumer);
            owned.push(parsed.keys.len().to_string().as_bytes());
            for key in &parsed.keys {
                owned.push(key);
            }
            let keys = parsed.keys.iter().map(|k| k.to_vec()).collect();
            blocking::block_with_args(ctx, keys, timeout, serve_xreadgroup, owned);
        }
        _ => ctx.out.null_array(),
    }
    Ok(())
}

/// Delivers entries the group has not seen to `consumer` (recording them as
/// pending unless `noack`), writing them to `out`. False when there were none.
fn deliver_new(
    stream: &mut Stream,
    group: &[u8],
    consumer: &[u8],
    count: usize,
    noack: bool,
    now: u64,
    out: &mut Reply,
) -> bool {
    let Some(last) = stream.groups.get(group).map(|g| g.last_id) else {
        return false;
    };
    let ids: Vec<StreamId> = {
        let entries = entries_after(stream, last, count);
        if entries.is_empty() {
            return false;
        }
        reply_entries(out, &entries);
        entries.iter().map(|e| e.id).collect()
    };
    // Redis creates (or touches) the consumer only when there is something
    // new to deliver, so an idle poll leaves XINFO CONSUMERS unchanged.
    let g = stream.groups.get_mut(group).expect("group");
    g.consumer(consumer, now).0.seen_ms = now;
    for id in ids {
        stream.advance_group(group, id);
        if !noack {
            let g = stream.groups.get_mut(group).expect("group");
            g.deliver(id, consumer, now);
        }
    }
    true
}

/// Replies the consumer's pending entries after `after` (deleted ones as
/// `[id, nil]`), counting one more delivery for each entry still there.
fn deliver_history(
    stream: &mut Stream,
    group: &[u8],
    consumer: &[u8],
    after: StreamId,
    count: usize,
    now: u64,
    out: &mut Reply,
) {
    let ids: Vec<StreamId> = {
        let g = stream.groups.get_mut(group).expect("group exists");
        let c = g.consumer(consumer, now).0;
        c.seen_ms = now;
        let pending = match after.next() {
            Some(start) => c.pending.range(start..),
            None => c.pending.range(StreamId::MAX..StreamId::MAX),
        };
        let limit = if count == 0 { usize::MAX } else { count };
        pending.take(limit).copied().collect()
    };
    let mut delivered = Vec::new();
    out.array(ids.len());
    for &id in &ids {
        match stream.get(id) {
            Some(entry) => {
                reply_entry(out, &entry);
                delivered.push(id);
            }
            None => {
                out.array(2);
                super::reply_id(out, id);
                out.null_array();
            }
        }
    }
    let g = stream.groups.get_mut(group).expect("group exists");
    for id in delivered {
        if let Some(p) = g.pending.get_mut(&id) {
            p.delivery_ms = now;
            p.delivery_count += 1;
        }
    }
}

/// Serves a blocked XREADGROUP: `[xreadgroup, count, noack, group, consumer,
/// n, keys...]`. A stream that disappeared or lost the group ends the wait
/// with Redis's errors.
fn serve_xreadgroup(db: &mut Db<'_, '_>, key: &[u8], args: &Args, out: &mut Reply) -> bool {
    if waiter_key(args, 6, key).is_none() {
        return false;
    }
    let Ok(count) = args.str(1).parse() else {
        return false;
    };
    let (noack, group, consumer) = (args.get(2) == b"1", args.get(3), args.get(4));
    let now = db.now_ms;
    let stream = match db.get(key).map(|e| stream_of_mut(&mut e.value)) {
        Some(Ok(stream)) => stream,
        _ => {
            out.error("UNBLOCKED the stream key no longer exists");
            return true;
        }
    };
    if !stream.groups.contains_key(group) {
        out.error("NOGROUP the consumer group this client was blocked on no longer exists");
        return true;
    }
    let mut body = Reply::new(out.resp3);
    if !deliver_new(stream, group, consumer, count, noack, now, &mut body) {
        return false;
    }
    reply_streams(out, &[(key, body.buf.to_vec())]);
    db.modified(key);
    // The AOF replays the read that served it, without BLOCK.
    let mut logged: Vec<&[u8]> = vec![b"XREADGROUP", b"GROUP", group, consumer];
    if args.get(1) != b"0" {
        logged.extend([&b"COUNT"[..], args.get(1)]);
    }
    if noack {
        logged.push(b"NOACK");
    }
    logged.extend([&b"STREAMS"[..], key, b">"]);
    db.propagate(&logged);
    true
}
