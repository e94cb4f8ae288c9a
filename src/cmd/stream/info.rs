//! XINFO STREAM [FULL [COUNT n]], XINFO GROUPS, XINFO CONSUMERS and XINFO
//! HELP, with Redis 7.0's fields (lag, entries-read, seen-time...).

use super::{STREAM, key2, read_stream, reply_entries, reply_entry, reply_id};
use crate::cmd::spec::{CommandSpec, Keys, flag::*};
use crate::cmd::{Args, CmdError, CmdResult, Ctx};
use crate::db::Db;
use crate::db::stream::{ENTRIES_READ_UNKNOWN, Group, Stream, StreamId};
use crate::protocol::Reply;

pub(super) static XINFO_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("stream", -3, READONLY, key2(), xinfo_stream).doc(
        STREAM,
        "5.0.0",
        "Returns information about a stream.",
    ),
    CommandSpec::new("groups", 3, READONLY, key2(), xinfo_groups).doc(
        STREAM,
        "5.0.0",
        "Returns a list of the consumer groups of a stream.",
    ),
    CommandSpec::new("consumers", 4, READONLY, key2(), xinfo_consumers)
        .doc(
            STREAM,
            "5.0.0",
            "Returns a list of the consumers in a consumer group.",
        )
        .tips(&["nondeterministic_output"]),
    CommandSpec::new("help", 2, LOADING | STALE, Keys::None, xinfo_help).doc(
        STREAM,
        "5.0.0",
        "Returns helpful text about the different subcommands.",
    ),
];

const XINFO_HELP: &[&str] = &[
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
];

fn xinfo_help(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    crate::cmd::reply_help(ctx.out, "XINFO", XINFO_HELP);
    Ok(())
}

fn existing_stream<'d>(db: &'d mut Db<'_, '_>, key: &[u8]) -> Result<&'d Stream, CmdError> {
    read_stream(db, key)?
        .map(|s| &**s)
        .ok_or(CmdError::NoSuchKey)
}

fn reply_entries_read(out: &mut Reply, group: &Group) {
    match group.entries_read {
        ENTRIES_READ_UNKNOWN => out.null(),
        n => out.int(n),
    }
}

fn reply_lag(out: &mut Reply, stream: &Stream, group: &Group) {
    match stream.lag(group) {
        Some(lag) => out.int(lag),
        None => out.null(),
    }
}

/// The fields XINFO STREAM starts with in both forms.
fn reply_stream_header(out: &mut Reply, s: &Stream) {
    out.bulk(b"length");
    out.int(s.len() as i64);
    out.bulk(b"radix-tree-keys");
    out.int(s.block_count() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(s.rax_nodes() as i64);
    out.bulk(b"last-generated-id");
    reply_id(out, s.last_id);
    out.bulk(b"max-deleted-entry-id");
    reply_id(out, s.max_deleted_id);
    out.bulk(b"entries-added");
    out.int(s.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    reply_id(out, s.first_id);
}

fn xinfo_stream(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let full = match args.len() {
        3 => None,
        4 if args.is(3, "full") => Some(10),
        6 if args.is(3, "full") && args.is(4, "count") => Some(args.int(5)?.max(0) as usize),
        _ => {
            return Err(CmdError::msg(format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try XINFO HELP.",
                args.str(1)
            )));
        }
    };
    let stream = existing_stream(&mut ctx.db, args.get(2))?;
    let out = &mut *ctx.out;
    match full {
        None => {
            out.map(10);
            reply_stream_header(out, stream);
            out.bulk(b"groups");
            out.int(stream.groups.len() as i64);
            for (label, entry) in [
                (b"first-entry".as_slice(), stream.first_entry()),
                (b"last-entry".as_slice(), stream.last_entry()),
            ] {
                out.bulk(label);
                match entry {
                    Some(e) => reply_entry(out, &e),
                    None => out.null(),
                }
            }
        }
        Some(count) => {
            out.map(9);
            reply_stream_header(out, stream);
            out.bulk(b"entries");
            reply_entries(
                out,
                &stream.collect_range(StreamId::MIN, StreamId::MAX, false, count),
            );
            out.bulk(b"groups");
            out.array(stream.groups.len());
            for (name, group) in &stream.groups {
                reply_group_full(out, stream, name, group, count);
            }
        }
    }
    Ok(())
}

/// `n` items of an iterator, all of them when `n` is 0.
fn limited<T>(items: impl Iterator<Item = T>, n: usize) -> Vec<T> {
    items.take(if n == 0 { usize::MAX } else { n }).collect()
}

fn reply_group_full(out: &mut Reply, stream: &Stream, name: &[u8], group: &Group, count: usize) {
    out.map(7);
    out.bulk(b"name");
    out.bulk(name);
    out.bulk(b"last-delivered-id");
    reply_id(out, group.last_id);
    out.bulk(b"entries-read");
    reply_entries_read(out, group);
    out.bulk(b"lag");
    reply_lag(out, stream, group);
    out.bulk(b"pel-count");
    out.int(group.pending.len() as i64);
    out.bulk(b"pending");
    let pending = limited(group.pending.iter(), count);
    out.array(pending.len());
    for (id, p) in pending {
        out.array(4);
        reply_id(out, *id);
        out.bulk(&p.consumer);
        out.int(p.delivery_ms as i64);
        out.int(p.delivery_count as i64);
    }
    out.bulk(b"consumers");
    out.array(group.consumers.len());
    for (consumer_name, consumer) in &group.consumers {
        out.map(4);
        out.bulk(b"name");
        out.bulk(consumer_name);
        out.bulk(b"seen-time");
        out.int(consumer.seen_ms as i64);
        out.bulk(b"pel-count");
        out.int(consumer.pending.len() as i64);
        out.bulk(b"pending");
        let pending = limited(consumer.pending.iter(), count);
        out.array(pending.len());
        for id in pending {
            let p = &group.pending[id];
            out.array(3);
            reply_id(out, *id);
            out.int(p.delivery_ms as i64);
            out.int(p.delivery_count as i64);
        }
    }
}

fn xinfo_groups(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let stream = existing_stream(&mut ctx.db, args.get(2))?;
    let out = &mut *ctx.out;
    out.array(stream.groups.len());
    for (name, group) in &stream.groups {
        out.map(6);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"consumers");
        out.int(group.consumers.len() as i64);
        out.bulk(b"pending");
        out.int(group.pending.len() as i64);
        out.bulk(b"last-delivered-id");
        reply_id(out, group.last_id);
        out.bulk(b"entries-read");
        reply_entries_read(out, group);
        out.bulk(b"lag");
        reply_lag(out, stream, group);
    }
    Ok(())
}

fn xinfo_consumers(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (key, name) = (args.get(2), args.get(3));
    let now = ctx.db.now_ms;
    let stream = existing_stream(&mut ctx.db, key)?;
    let group = stream.groups.get(name).ok_or_else(|| {
        CmdError::msg(format!(
            "NOGROUP No such consumer group '{}' for key name '{}'",
            String::from_utf8_lossy(name),
            String::from_utf8_lossy(key)
        ))
    })?;
    let out = &mut *ctx.out;
    out.array(group.consumers.len());
    for (consumer_name, consumer) in &group.consumers {
        out.map(3);
        out.bulk(b"name");
        out.bulk(consumer_name);
        out.bulk(b"pending");
        out.int(consumer.pending.len() as i64);
        out.bulk(b"idle");
        out.int(now.saturating_sub(consumer.seen_ms) as i64);
    }
    Ok(())
}
