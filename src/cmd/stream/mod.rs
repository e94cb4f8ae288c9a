//! Stream commands: appending and trimming (XADD, XTRIM, XDEL, XSETID),
//! ranges (XRANGE, XREVRANGE, XLEN), reading ([`read`]: XREAD, XREADGROUP,
//! blocking included), consumer groups ([`group`]: XGROUP, XACK, XPENDING,
//! XCLAIM, XAUTOCLAIM) and introspection ([`info`]: XINFO).
//!
//! Arguments are checked in Redis's order, so that a command with several
//! problems reports the same error Redis would. The value type lives in
//! [`crate::db::stream`].

mod group;
mod info;
mod read;

use super::spec::{CommandSpec, Keys, flag::*, key1, keys_range};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::db::stream::{NodeLimits, Stream, StreamEntry, StreamId, Trim};
use crate::db::{Db, Value};
use crate::protocol::Reply;
use crate::server::notify;

const STREAM: &str = "stream";

/// Raises a stream keyspace event (class `t`) on `key`.
fn stream_event(db: &mut Db<'_, '_>, event: &'static str, key: &[u8]) {
    db.notify(notify::STREAM, event, key);
}

/// Whether `consumer` exists in `group` of the stream at `key`: commands that
/// create consumers on the way (XREADGROUP, XCLAIM, XAUTOCLAIM) compare before
/// and after to raise `xgroup-createconsumer` as Redis does.
fn has_consumer(db: &mut Db<'_, '_>, key: &[u8], group: &[u8], consumer: &[u8]) -> bool {
    matches!(db.peek(key).map(|e| &e.value), Some(Value::Stream(s))
        if s.groups.get(group).is_some_and(|g| g.consumers.contains_key(consumer)))
}

/// Raises `xgroup-createconsumer` when `existed` was false and the consumer
/// exists now.
fn consumer_created_event(
    db: &mut Db<'_, '_>,
    existed: bool,
    key: &[u8],
    group: &[u8],
    consumer: &[u8],
) {
    if !existed && has_consumer(db, key, group, consumer) {
        stream_event(db, "xgroup-createconsumer", key);
    }
}

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("xadd", -5, WRITE | DENYOOM | FAST, key1(), xadd)
        .doc(STREAM, "5.0.0", "Appends a new entry to a stream, creating it if needed.")
        .tips(&["nondeterministic_output"]),
    CommandSpec::new("xlen", 2, READONLY | FAST, key1(), xlen)
        .doc(STREAM, "5.0.0", "Returns the number of entries in a stream."),
    CommandSpec::new("xrange", -4, READONLY, key1(), xrange)
        .doc(STREAM, "5.0.0", "Returns the entries of a stream within a range of IDs.")
        .complexity("O(N) with N being the number of elements being returned."),
    CommandSpec::new("xrevrange", -4, READONLY, key1(), xrevrange)
        .doc(STREAM, "5.0.0", "Returns the entries of a stream within a range of IDs, in reverse order.")
        .complexity("O(N) with N being the number of elements returned."),
    CommandSpec::new("xdel", -3, WRITE | FAST, key1(), xdel)
        .doc(STREAM, "5.0.0", "Deletes entries from a stream and returns how many were deleted."),
    CommandSpec::new("xtrim", -4, WRITE, key1(), xtrim)
        .doc(STREAM, "5.0.0", "Deletes entries from the beginning of a stream.")
        .complexity("O(N), with N being the number of evicted entries.")
        .tips(&["nondeterministic_output"]),
    CommandSpec::new("xsetid", -3, WRITE | DENYOOM | FAST, key1(), xsetid)
        .doc(STREAM, "5.0.0", "An internal command for replicating stream values."),
    CommandSpec::new("xread", -4, READONLY | BLOCKING, Keys::Custom(read::xread_keys), read::xread)
        .doc(STREAM, "5.0.0", "Returns entries from several streams with IDs greater than the given ones, optionally waiting for some.")
        .complexity("For each stream mentioned: O(N) with N the number of elements being returned."),
    CommandSpec::new("xreadgroup", -7, WRITE | BLOCKING, Keys::Custom(read::xreadgroup_keys), read::xreadgroup)
        .doc(STREAM, "5.0.0", "Returns new or historical entries for a consumer in a group, optionally waiting for new ones.")
        .complexity("For each stream mentioned: O(M) with M the number of elements returned."),
    CommandSpec::new("xack", -4, WRITE | FAST, key1(), group::xack)
        .doc(STREAM, "5.0.0", "Acknowledges entries of a group's pending entries list.")
        .complexity("O(1) for each message ID processed."),
    CommandSpec::new("xpending", -3, READONLY, key1(), group::xpending)
        .doc(STREAM, "5.0.0", "Returns information about a group's pending entries.")
        .complexity("O(N) with N the number of elements returned.")
        .tips(&["nondeterministic_output"]),
    CommandSpec::new("xclaim", -6, WRITE | FAST, key1(), group::xclaim)
        .doc(STREAM, "5.0.0", "Changes the owner of pending entries to another consumer.")
        .complexity("O(log N) with N being the number of messages in the PEL of the consumer group.")
        .tips(&["nondeterministic_output"]),
    CommandSpec::new("xautoclaim", -6, WRITE | FAST, key1(), group::xautoclaim)
        .doc(STREAM, "6.2.0", "Claims pending entries idle long enough for another consumer.")
        .complexity("O(1) if COUNT is small.")
        .tips(&["nondeterministic_output"]),
    CommandSpec::container("xgroup", -2, group::XGROUP_SUBCOMMANDS)
        .doc("generic", "5.0.0", "A container for consumer groups commands."),
    CommandSpec::container("xinfo", -2, info::XINFO_SUBCOMMANDS)
        .doc("generic", "5.0.0", "A container for stream introspection commands."),
];

/// Keys of XGROUP and XINFO subcommands: the argument after the subcommand.
const fn key2() -> Keys {
    keys_range(2, 2, 1)
}

const INVALID_ID: CmdError =
    CmdError::Msg("ERR Invalid stream ID specified as stream command argument");

super::typed::typed_access!(
    Stream,
    Box<Stream>,
    stream_of,
    stream_of_mut,
    read_stream,
    write_stream
);

/// Block sizes from `stream-node-max-bytes` / `stream-node-max-entries`.
fn node_limits(ctx: &Ctx) -> NodeLimits {
    let config = ctx.server.config.read();
    let number = |name: &str, default: usize| {
        config
            .other
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let defaults = NodeLimits::default();
    NodeLimits {
        max_bytes: number("stream-node-max-bytes", defaults.max_bytes),
        max_entries: number("stream-node-max-entries", defaults.max_entries),
    }
}

fn parse_u64(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 20 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// `ms-seq` or `ms` (then `missing_seq`); with `special`, `-` and `+` too.
fn parse_id_with(text: &[u8], missing_seq: u64, special: bool) -> Result<StreamId, CmdError> {
    match text {
        b"-" if special => return Ok(StreamId::MIN),
        b"+" if special => return Ok(StreamId::MAX),
        _ => {}
    }
    let parsed = match text.iter().position(|&b| b == b'-') {
        Some(dash) => parse_u64(&text[..dash]).zip(parse_u64(&text[dash + 1..])),
        None => parse_u64(text).map(|ms| (ms, missing_seq)),
    };
    parsed
        .map(|(ms, seq)| StreamId::new(ms, seq))
        .ok_or(INVALID_ID)
}

/// An ID argument where `-` and `+` mean the extremes.
pub(super) fn parse_id(text: &[u8], missing_seq: u64) -> Result<StreamId, CmdError> {
    parse_id_with(text, missing_seq, true)
}

/// An ID argument that must be a real ID (`ms[-seq]`, seq 0 when missing).
pub(super) fn parse_strict_id(text: &[u8]) -> Result<StreamId, CmdError> {
    parse_id_with(text, 0, false)
}

/// A range bound of XRANGE/XPENDING: `-`, `+`, an ID, or `(ID` exclusive.
pub(super) fn parse_bound(text: &[u8], is_start: bool) -> Result<StreamId, CmdError> {
    let missing_seq = if is_start { 0 } else { u64::MAX };
    let Some(excluded) = text.strip_prefix(b"(").filter(|_| text.len() > 1) else {
        return parse_id(text, missing_seq);
    };
    let id = parse_id_with(excluded, missing_seq, false)?;
    if is_start {
        id.next()
            .ok_or(CmdError::Msg("ERR invalid start ID for the interval"))
    } else {
        id.prev()
            .ok_or(CmdError::Msg("ERR invalid end ID for the interval"))
    }
}

/// One entry as `[id, [field, value, ...]]`.
pub(super) fn reply_entry(out: &mut Reply, entry: &StreamEntry) {
    out.array(2);
    out.bulk(entry.id.to_string().as_bytes());
    out.array(entry.fields.len());
    for part in &entry.fields {
        out.bulk(part);
    }
}

pub(super) fn reply_entries(out: &mut Reply, entries: &[StreamEntry]) {
    out.array(entries.len());
    for entry in entries {
        reply_entry(out, entry);
    }
}

pub(super) fn reply_id(out: &mut Reply, id: StreamId) {
    out.bulk(id.to_string().as_bytes());
}

fn non_negative(args: &Args, i: usize, msg: &'static str) -> Result<u64, CmdError> {
    let n = args.int(i)?;
    u64::try_from(n).map_err(|_| CmdError::Msg(msg))
}

// ---- XADD / XTRIM ----

/// What XADD's ID argument asks for.
#[derive(Clone, Copy, Debug, PartialEq)]
enum NewId {
    Auto,
    /// `ms-*`: the sequence is chosen.
    AutoSeq(u64),
    Explicit(StreamId),
}

fn parse_new_id(text: &[u8]) -> Result<NewId, CmdError> {
    if text == b"*" {
        return Ok(NewId::Auto);
    }
    if let Some(ms) = text.strip_suffix(b"-*") {
        return parse_u64(ms).map(NewId::AutoSeq).ok_or(INVALID_ID);
    }
    parse_strict_id(text).map(NewId::Explicit)
}

/// The ID an entry added now gets, or Redis's error when it cannot be used.
fn next_id(last: StreamId, wanted: NewId, now_ms: u64) -> Result<StreamId, CmdError> {
    const TOO_SMALL: CmdError = CmdError::Msg(
        "ERR The ID specified in XADD is equal or smaller than the target stream top item",
    );
    match wanted {
        NewId::Auto if now_ms > last.ms => Ok(StreamId::new(now_ms, 0)),
        NewId::Auto => last.next().ok_or(TOO_SMALL),
        NewId::AutoSeq(ms) if ms > last.ms => Ok(StreamId::new(ms, 0)),
        NewId::AutoSeq(ms) if ms == last.ms => last.next().filter(|n| n.ms == ms).ok_or(TOO_SMALL),
        NewId::AutoSeq(_) => Err(TOO_SMALL),
        NewId::Explicit(id) if id > last => Ok(id),
        NewId::Explicit(_) => Err(TOO_SMALL),
    }
}

/// The options XADD and XTRIM share.
#[derive(Default)]
struct TrimArgs {
    nomkstream: bool,
    trim: Option<Trim>,
    approx: bool,
    limit: Option<u64>,
    /// XADD: where the ID argument is.
    id_at: Option<usize>,
}

impl TrimArgs {
    /// The entry limit of this trim: the given one, or with `~` a hundred
    /// blocks' worth, as Redis does.
    fn effective_limit(&self, limits: NodeLimits) -> u64 {
        match (self.approx, self.limit) {
            (false, _) => 0,
            (true, Some(limit)) => limit,
            (true, None) => 100 * limits.max_entries as u64,
        }
    }
}

fn parse_trim_args(args: &Args, xadd: bool) -> Result<TrimArgs, CmdError> {
    let mut parsed = TrimArgs::default();
    let mut i = 2;
    let last = args.len() - 1;
    let mut has_maxlen = false;
    let mut has_minid = false;
    while i < args.len() {
        let more = i < last;
        let arg = args.get(i);
        if xadd && arg.eq_ignore_ascii_case(b"nomkstream") {
            parsed.nomkstream = true;
        } else if more
            && (arg.eq_ignore_ascii_case(b"maxlen") || arg.eq_ignore_ascii_case(b"minid"))
        {
            let maxlen = arg.eq_ignore_ascii_case(b"maxlen");
            if (maxlen && has_minid) || (!maxlen && has_maxlen) {
                return Err(CmdError::Msg(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            i += 1;
            let op = args.get(i);
            if (op == b"~" || op == b"=") && i < last {
                parsed.approx = op == b"~";
                i += 1;
            }
            parsed.trim = Some(if maxlen {
                has_maxlen = true;
                Trim::MaxLen(non_negative(
                    args,
                    i,
                    "ERR The MAXLEN argument must be >= 0.",
                )?)
            } else {
                has_minid = true;
                Trim::MinId(parse_strict_id(args.get(i))?)
            });
        } else if more && arg.eq_ignore_ascii_case(b"limit") {
            i += 1;
            parsed.limit = Some(non_negative(
                args,
                i,
                "ERR The LIMIT argument must be >= 0.",
            )?);
        } else if xadd {
            parse_new_id(arg)?;
            parsed.id_at = Some(i);
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if parsed.limit.is_some() && !parsed.approx {
        return Err(CmdError::Msg(
            "ERR syntax error, LIMIT cannot be used without the special ~ option",
        ));
    }
    Ok(parsed)
}

fn arity_error(command: &str) -> CmdError {
    CmdError::msg(format!(
        "ERR wrong number of arguments for '{command}' command"
    ))
}

fn xadd(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let options = parse_trim_args(args, true)?;
    let Some(id_at) = options.id_at else {
        return Err(arity_error("xadd"));
    };
    let fields_len = args.len() - id_at - 1;
    if fields_len < 2 || fields_len % 2 == 1 {
        return Err(arity_error("xadd"));
    }
    let wanted = parse_new_id(args.get(id_at))?;
    if wanted == NewId::Explicit(StreamId::MIN) {
        return Err(CmdError::Msg(
            "ERR The ID specified in XADD must be greater than 0-0",
        ));
    }
    let key = args.get(1);
    let limits = node_limits(ctx);
    let now = ctx.db.now_ms;
    let Some(stream) = stream_for_write(&mut ctx.db, key, !options.nomkstream, limits)? else {
        ctx.out.null();
        return Ok(());
    };
    if stream.last_id == StreamId::MAX {
        return Err(CmdError::Msg(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let id = next_id(stream.last_id, wanted, now)?;
    let fields: Vec<&[u8]> = args.iter().skip(id_at + 1).collect();
    stream.append(id, &fields);
    let trimmed = match options.trim {
        Some(trim) => stream.trim(trim, options.approx, options.effective_limit(limits)),
        None => 0,
    };
    ctx.db.modified(key);
    stream_event(&mut ctx.db, "xadd", key);
    if trimmed > 0 {
        stream_event(&mut ctx.db, "xtrim", key);
    }
    // The AOF gets the ID this call chose (`*` depends on the clock).
    let chosen = id.to_string();
    let mut propagated: Vec<&[u8]> = args.iter().collect();
    propagated[id_at] = chosen.as_bytes();
    ctx.propagate_as(&propagated);
    reply_id(ctx.out, id);
    Ok(())
}

/// The stream at `key` for writing, created empty when missing and `create`.
fn stream_for_write<'d>(
    db: &'d mut Db<'_, '_>,
    key: &[u8],
    create: bool,
    limits: NodeLimits,
) -> Result<Option<&'d mut Box<Stream>>, CmdError> {
    if write_stream(db, key)?.is_none() {
        if !create {
            return Ok(None);
        }
        db.set(key, Value::Stream(Box::new(Stream::new(limits))));
    }
    let stream = write_stream(db, key)?.expect("stream just created");
    stream.set_limits(limits);
    Ok(Some(stream))
}

fn xtrim(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let options = parse_trim_args(args, false)?;
    let Some(trim) = options.trim else {
        return Err(CmdError::Syntax);
    };
    let limits = node_limits(ctx);
    let key = args.get(1);
    let removed = match stream_for_write(&mut ctx.db, key, false, limits)? {
        Some(stream) => stream.trim(trim, options.approx, options.effective_limit(limits)),
        None => 0,
    };
    if removed > 0 {
        ctx.db.modified(key);
        stream_event(&mut ctx.db, "xtrim", key);
    }
    ctx.out.int(removed as i64);
    Ok(())
}

// ---- XLEN, XRANGE, XDEL, XSETID ----

fn xlen(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let len = read_stream(&mut ctx.db, args.get(1))?.map_or(0, |s| s.len());
    ctx.out.int(len as i64);
    Ok(())
}

fn xrange(ctx: &mut Ctx, args: &Args) -> CmdResult {
    range_command(ctx, args, false)
}

fn xrevrange(ctx: &mut Ctx, args: &Args) -> CmdResult {
    range_command(ctx, args, true)
}

fn range_command(ctx: &mut Ctx, args: &Args, rev: bool) -> CmdResult {
    let (first, second) = (args.get(2), args.get(3));
    let (start, end) = if rev {
        (parse_bound(second, true)?, parse_bound(first, false)?)
    } else {
        (parse_bound(first, true)?, parse_bound(second, false)?)
    };
    let mut count = None;
    let mut i = 4;
    while i < args.len() {
        if args.is(i, "count") && i + 1 < args.len() {
            count = Some(args.int(i + 1)?);
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let Some(stream) = read_stream(&mut ctx.db, args.get(1))? else {
        ctx.out.array(0);
        return Ok(());
    };
    match count {
        Some(n) if n <= 0 => ctx.out.null_array(),
        _ => {
            let limit = count.unwrap_or(0) as usize;
            reply_entries(ctx.out, &stream.collect_range(start, end, rev, limit));
        }
    }
    Ok(())
}

fn xdel(ctx: &mut Ctx, args: &Args) -> CmdResult {
    // Every ID is checked before anything is deleted.
    let ids = args
        .iter()
        .skip(2)
        .map(parse_strict_id)
        .collect::<Result<Vec<_>, _>>()?;
    let key = args.get(1);
    let Some(stream) = write_stream(&mut ctx.db, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let deleted = ids.into_iter().filter(|&id| stream.delete(id)).count();
    if deleted > 0 {
        ctx.db.modified(key);
        stream_event(&mut ctx.db, "xdel", key);
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

fn xsetid(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let id = parse_strict_id(args.get(2))?;
    let mut entries_added = None;
    let mut max_deleted = None;
    let mut i = 3;
    while i < args.len() {
        if args.is(i, "entriesadded") && i + 1 < args.len() {
            let n = args.int(i + 1)?;
            entries_added = Some(
                u64::try_from(n)
                    .map_err(|_| CmdError::Msg("ERR entries_added must be positive"))?,
            );
        } else if args.is(i, "maxdeletedid") && i + 1 < args.len() {
            let max = parse_strict_id(args.get(i + 1))?;
            if id < max {
                return Err(CmdError::Msg(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            max_deleted = Some(max);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let key = args.get(1);
    let Some(stream) = write_stream(&mut ctx.db, key)? else {
        return Err(CmdError::NoSuchKey);
    };
    // The new last ID may not be below the last entry still in the stream.
    if let Some(last) = stream.last_entry().map(|e| e.id)
        && id < last
    {
        return Err(CmdError::Msg(
            "ERR The ID specified in XSETID is smaller than the target stream top item",
        ));
    }
    if let Some(added) = entries_added
        && stream.len() > added
    {
        return Err(CmdError::Msg(
            "ERR The entries_added specified in XSETID is smaller than the target stream length",
        ));
    }
    stream.last_id = id;
    if let Some(added) = entries_added {
        stream.entries_added = added;
    }
    if let Some(max) = max_deleted {
        stream.max_deleted_id = max;
    }
    ctx.db.modified(key);
    stream_event(&mut ctx.db, "xsetid", key);
    ctx.out.ok();
    Ok(())
}

#[cfg(test)]
mod tests;
