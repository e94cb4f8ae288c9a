//! String commands: GET, SET and its options, the counters, ranges and LCS.
//!
//! TTL rules follow Redis: commands that replace the value (SET, GETSET,
//! MSET, SETEX) drop the TTL unless told otherwise; commands that edit the
//! value in place (APPEND, INCR*, SETRANGE) keep it.

pub(crate) mod long_double;

use long_double::{LongDouble, Parsed};

use super::parse::{ExpireUnit, OptionsFor, expire_deadline, parse_expiry_options};
use super::spec::{CommandSpec, flag::*, key1, keys_all, keys_range};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::db::{Bytes40, Db, StrValue, Value};
use crate::protocol::Reply;
use crate::protocol::parse::parse_i64;
use crate::server::{Server, notify};

const STRING: &str = "string";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, READONLY | FAST, key1(), get).doc(STRING, "1.0.0", "Returns the string value of a key."),
    CommandSpec::new("set", -3, WRITE | DENYOOM, key1(), set).doc(
        STRING,
        "1.0.0",
        "Sets the string value of a key, optionally with a TTL, conditionally, or returning the old value.",
    ),
    CommandSpec::new("setex", 4, WRITE | DENYOOM, key1(), setex).doc(STRING, "2.0.0", "Sets a key's value and its TTL in seconds."),
    CommandSpec::new("psetex", 4, WRITE | DENYOOM, key1(), psetex).doc(STRING, "2.6.0", "Sets a key's value and its TTL in milliseconds."),
    CommandSpec::new("setnx", 3, WRITE | DENYOOM | FAST, key1(), setnx).doc(STRING, "1.0.0", "Sets a key's value only when the key does not exist."),
    CommandSpec::new("getset", 3, WRITE | DENYOOM | FAST, key1(), getset).doc(STRING, "1.0.0", "Sets a key's value and returns the previous one."),
    CommandSpec::new("getdel", 2, WRITE | FAST, key1(), getdel).doc(STRING, "6.2.0", "Returns a key's string value and deletes the key."),
    CommandSpec::new("getex", -2, WRITE | FAST, key1(), getex).doc(STRING, "6.2.0", "Returns a key's string value and changes or removes its TTL."),
    CommandSpec::new("mget", -2, READONLY | FAST, keys_all(1), mget)
        .doc(STRING, "1.0.0", "Returns the string values of several keys.")
        .complexity("O(N) where N is the number of keys to retrieve."),
    CommandSpec::new("mset", -3, WRITE | DENYOOM, keys_range(1, -1, 2), mset)
        .doc(STRING, "1.0.1", "Sets the string values of several keys at once.")
        .complexity("O(N) where N is the number of keys to set."),
    CommandSpec::new("msetnx", -3, WRITE | DENYOOM, keys_range(1, -1, 2), msetnx)
        .doc(STRING, "1.0.1", "Sets several keys only when none of them exists.")
        .complexity("O(N) where N is the number of keys to set."),
    CommandSpec::new("append", 3, WRITE | DENYOOM | FAST, key1(), append).doc(STRING, "2.0.0", "Appends a string to a key's value, creating the key if needed."),
    CommandSpec::new("strlen", 2, READONLY | FAST, key1(), strlen).doc(STRING, "2.2.0", "Returns the length of a key's string value."),
    CommandSpec::new("incr", 2, WRITE | DENYOOM | FAST, key1(), incr).doc(STRING, "1.0.0", "Adds one to a key's integer value."),
    CommandSpec::new("decr", 2, WRITE | DENYOOM | FAST, key1(), decr).doc(STRING, "1.0.0", "Subtracts one from a key's integer value."),
    CommandSpec::new("incrby", 3, WRITE | DENYOOM | FAST, key1(), incrby).doc(STRING, "1.0.0", "Adds an integer to a key's integer value."),
    CommandSpec::new("decrby", 3, WRITE | DENYOOM | FAST, key1(), decrby).doc(STRING, "1.0.0", "Subtracts an integer from a key's integer value."),
    CommandSpec::new("incrbyfloat", 3, WRITE | DENYOOM | FAST, key1(), incrbyfloat).doc(STRING, "2.6.0", "Adds a floating point number to a key's numeric value."),
    CommandSpec::new("getrange", 4, READONLY, key1(), getrange)
        .doc(STRING, "2.4.0", "Returns a substring of a key's string value.")
        .complexity("O(N) where N is the length of the returned string."),
    CommandSpec::new("setrange", 4, WRITE | DENYOOM, key1(), setrange)
        .doc(STRING, "2.2.0", "Overwrites part of a key's string value from an offset, padding with zero bytes.")
        .complexity("O(1), not counting the time taken to copy the new string in place."),
    CommandSpec::new("substr", 4, READONLY, key1(), getrange)
        .doc(STRING, "1.0.0", "Returns a substring of a key's string value (old name of GETRANGE).")
        .complexity("O(N) where N is the length of the returned string."),
    CommandSpec::new("lcs", -3, READONLY, keys_range(1, 2, 1), lcs)
        .doc(STRING, "7.0.0", "Finds the longest common subsequence of two keys' string values.")
        .complexity("O(N*M) where N and M are the lengths of s1 and s2, respectively"),
];

// ---- shared helpers (the bitmap family uses them too) ----

/// The string inside a value; WRONGTYPE for any other type.
pub(crate) fn string_of(value: &Value) -> Result<&StrValue, CmdError> {
    match value {
        Value::Str(s) => Ok(s),
        #[allow(unreachable_patterns)] // other types are added by other families
        _ => Err(CmdError::WrongType),
    }
}

pub(crate) fn string_of_mut(value: &mut Value) -> Result<&mut StrValue, CmdError> {
    match value {
        Value::Str(s) => Ok(s),
        #[allow(unreachable_patterns)]
        _ => Err(CmdError::WrongType),
    }
}

/// Looks a key up for reading (counts a hit or miss): None when missing,
/// WRONGTYPE when it holds something other than a string.
pub(crate) fn read_string<'d>(
    db: &'d mut Db<'_, '_>,
    key: &[u8],
) -> Result<Option<&'d StrValue>, CmdError> {
    db.read(key).map(|e| string_of(&e.value)).transpose()
}

/// Replies with a string value, or null when there is none.
fn reply_string(out: &mut Reply, value: Option<&StrValue>) {
    match value {
        Some(s) => out.bulk(s.as_bytes(&mut itoa::Buffer::new())),
        None => out.null(),
    }
}

/// Refuses a string that would grow beyond `proto-max-bulk-len`.
pub(crate) fn check_string_length(server: &Server, size: u64, append: u64) -> CmdResult {
    let limit = server.config.read().proto_max_bulk_len as u64;
    match size.checked_add(append) {
        Some(total) if total <= limit => Ok(()),
        _ => Err(CmdError::Msg(
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
        )),
    }
}

/// Resolves a Redis `start end` range (negative values count from the end)
/// against a length; None when it selects nothing. `empty_if_reversed`
/// rejects two negative indexes in the wrong order before clamping, as
/// GETRANGE and BITCOUNT do (BITPOS does not).
pub(crate) fn resolve_range(
    start: i64,
    end: i64,
    len: i64,
    empty_if_reversed: bool,
) -> Option<(i64, i64)> {
    if empty_if_reversed && start < 0 && end < 0 && start > end {
        return None;
    }
    let from_end = |i: i64| if i < 0 { (len + i).max(0) } else { i };
    let (start, end) = (from_end(start), from_end(end).min(len - 1));
    (start <= end && len > 0).then_some((start, end))
}

/// Stores a new string value, dropping or keeping the TTL, then applies a
/// new expiry if one was given.
fn store(db: &mut Db, key: &[u8], value: &[u8], keep_ttl: bool, deadline: Option<u64>) {
    db.set_in(db.index, key, Value::str(value), keep_ttl);
    db.notify(notify::STRING, "set", key);
    if let Some(when) = deadline {
        db.set_expire(key, when);
        db.notify(notify::GENERIC, "expire", key);
    }
}

// ---- GET / SET family ----

fn get(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let value = read_string(&mut ctx.db, args.get(1))?;
    reply_string(ctx.out, value);
    Ok(())
}

fn set(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let opts = parse_expiry_options(args, 3, OptionsFor::Set)?;
    let deadline = opts.deadline(ctx.db.now_ms, "set")?;
    let key = args.get(1);
    if opts.get {
        let old = read_string(&mut ctx.db, key)?;
        reply_string(ctx.out, old);
    }
    if opts.nx || opts.xx {
        let exists = ctx.db.contains(key);
        if exists == opts.nx {
            if !opts.get {
                ctx.out.null();
            }
            return Ok(());
        }
    }
    store(&mut ctx.db, key, args.get(2), opts.keep_ttl, deadline);
    if let Some(when) = deadline {
        propagate_absolute(ctx, key, args.get(2), when);
    }
    if !opts.get {
        ctx.out.ok();
    }
    Ok(())
}

fn setex(ctx: &mut Ctx, args: &Args) -> CmdResult {
    set_with_ttl(ctx, args, ExpireUnit::Seconds, "setex")
}

fn psetex(ctx: &mut Ctx, args: &Args) -> CmdResult {
    set_with_ttl(ctx, args, ExpireUnit::Millis, "psetex")
}

fn set_with_ttl(ctx: &mut Ctx, args: &Args, unit: ExpireUnit, name: &str) -> CmdResult {
    let deadline = expire_deadline(unit, args.get(2), ctx.db.now_ms, name)?;
    store(&mut ctx.db, args.get(1), args.get(3), false, Some(deadline));
    propagate_absolute(ctx, args.get(1), args.get(3), deadline);
    ctx.out.ok();
    Ok(())
}

/// SET with EX/PX/EXAT, SETEX, PSETEX reach the AOF as `SET k v PXAT ms`.
fn propagate_absolute(ctx: &mut Ctx, key: &[u8], value: &[u8], when: u64) {
    let mut itoa = itoa::Buffer::new();
    ctx.propagate_as(&[b"SET", key, value, b"PXAT", itoa.format(when).as_bytes()]);
}

fn setnx(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    if ctx.db.contains(key) {
        ctx.out.int(0);
    } else {
        ctx.db.set(key, Value::str(args.get(2)));
        ctx.db.notify(notify::STRING, "set", key);
        ctx.out.int(1);
    }
    Ok(())
}

fn getset(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let old = read_string(&mut ctx.db, key)?;
    reply_string(ctx.out, old);
    ctx.db.set(key, Value::str(args.get(2)));
    ctx.db.notify(notify::STRING, "set", key);
    Ok(())
}

fn getdel(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let old = read_string(&mut ctx.db, key)?;
    let found = old.is_some();
    reply_string(ctx.out, old);
    if found {
        ctx.db.remove(key);
        ctx.db.notify(notify::GENERIC, "del", key);
    }
    Ok(())
}

fn getex(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let opts = parse_expiry_options(args, 2, OptionsFor::GetEx)?;
    let key = args.get(1);
    // Redis checks the key before the expiry value: a missing key answers
    // null even when the time is invalid.
    if read_string(&mut ctx.db, key)?.is_none() {
        ctx.out.null();
        return Ok(());
    }
    let deadline = opts.deadline(ctx.db.now_ms, "getex")?;
    let value = ctx.db.get(key).map(|e| string_of(&e.value)).transpose()?;
    reply_string(ctx.out, value);
    match deadline {
        // An absolute time already past deletes the key, as Redis does.
        Some(when) if when <= ctx.db.now_ms => {
            ctx.db.remove(key);
            ctx.db.notify(notify::GENERIC, "del", key);
            ctx.propagate_as(&[b"DEL", key]);
        }
        Some(when) => {
            ctx.db.set_expire(key, when);
            ctx.db.notify(notify::GENERIC, "expire", key);
            let mut itoa = itoa::Buffer::new();
            ctx.propagate_as(&[b"PEXPIREAT", key, itoa.format(when).as_bytes()]);
        }
        None if opts.persist && ctx.db.persist(key) => {
            ctx.db.notify(notify::GENERIC, "persist", key);
            ctx.propagate_as(&[b"PERSIST", key]);
        }
        None => {}
    }
    Ok(())
}

fn mget(ctx: &mut Ctx, args: &Args) -> CmdResult {
    ctx.out.array(args.len() - 1);
    for key in args.iter().skip(1) {
        // MGET answers null for keys of another type instead of failing.
        let value = ctx.db.read(key).and_then(|e| string_of(&e.value).ok());
        reply_string(ctx.out, value);
    }
    Ok(())
}

/// MSET and MSETNX take key/value pairs; an odd count is an arity error.
fn check_pairs(args: &Args, name: &str) -> CmdResult {
    if args.len() % 2 == 0 {
        return Err(CmdError::msg(format!(
            "ERR wrong number of arguments for '{name}' command"
        )));
    }
    Ok(())
}

fn set_pairs(db: &mut Db, args: &Args) {
    for i in (1..args.len()).step_by(2) {
        db.set(args.get(i), Value::str(args.get(i + 1)));
        db.notify(notify::STRING, "set", args.get(i));
    }
}

fn mset(ctx: &mut Ctx, args: &Args) -> CmdResult {
    check_pairs(args, "mset")?;
    set_pairs(&mut ctx.db, args);
    ctx.out.ok();
    Ok(())
}

fn msetnx(ctx: &mut Ctx, args: &Args) -> CmdResult {
    check_pairs(args, "msetnx")?;
    let any_exists = (1..args.len())
        .step_by(2)
        .any(|i| ctx.db.contains(args.get(i)));
    if !any_exists {
        set_pairs(&mut ctx.db, args);
    }
    ctx.out.int(!any_exists as i64);
    Ok(())
}

fn append(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (key, tail) = (args.get(1), args.get(2));
    let new_len = match ctx.db.get(key) {
        None => {
            ctx.db.set(key, Value::str(tail));
            tail.len()
        }
        Some(entry) => {
            let s = string_of_mut(&mut entry.value)?;
            check_string_length(ctx.server, s.len() as u64, tail.len() as u64)?;
            let buf = s.make_raw();
            buf.extend_from_slice(tail);
            let len = buf.len();
            ctx.db.modified(key);
            len
        }
    };
    ctx.db.notify(notify::STRING, "append", key);
    ctx.out.int(new_len as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let len = read_string(&mut ctx.db, args.get(1))?.map_or(0, |s| s.len());
    ctx.out.int(len as i64);
    Ok(())
}

// ---- counters ----

fn incr(ctx: &mut Ctx, args: &Args) -> CmdResult {
    incr_by(ctx, args.get(1), 1)
}

fn decr(ctx: &mut Ctx, args: &Args) -> CmdResult {
    incr_by(ctx, args.get(1), -1)
}

fn incrby(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let delta = args.int(2)?;
    incr_by(ctx, args.get(1), delta)
}

fn decrby(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let delta = args.int(2)?;
    if delta == i64::MIN {
        return Err(CmdError::Msg("ERR decrement would overflow"));
    }
    incr_by(ctx, args.get(1), -delta)
}

/// The integer a string holds, without formatting `Int` values.
fn integer_value(s: &StrValue) -> Option<i64> {
    match s {
        StrValue::Int(n) => Some(*n),
        other => parse_i64(other.as_bytes(&mut itoa::Buffer::new())),
    }
}

/// Adds `delta` to the key's integer, creating it at 0; keeps the TTL.
fn incr_by(ctx: &mut Ctx, key: &[u8], delta: i64) -> CmdResult {
    let new = match ctx.db.get(key) {
        None => {
            ctx.db.set(key, Value::Str(StrValue::Int(delta)));
            delta
        }
        Some(entry) => {
            let s = string_of_mut(&mut entry.value)?;
            let current = integer_value(s).ok_or(CmdError::NotInteger)?;
            let new = current.checked_add(delta).ok_or(CmdError::Overflow)?;
            *s = StrValue::Int(new);
            ctx.db.modified(key);
            new
        }
    };
    ctx.db.notify(notify::STRING, "incrby", key);
    ctx.out.int(new);
    Ok(())
}

fn incrbyfloat(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (key, incr) = (args.get(1), args.get(2));
    let text = match ctx.db.get(key) {
        Some(e) => add_floats(string_of(&e.value)?, incr)?,
        None => add_floats(&StrValue::Int(0), incr)?,
    };
    // Stored as text (embstr in Redis), not re-encoded as an integer; the
    // value is edited in place, so the TTL stays.
    let value = Value::Str(StrValue::Bytes(Bytes40::new(text.as_bytes())));
    ctx.db.set_in(ctx.db.index, key, value, true);
    ctx.db.notify(notify::STRING, "incrbyfloat", key);
    // Replayed as the result, not the float arithmetic (as Redis does).
    ctx.propagate_as(&[b"SET", key, text.as_bytes(), b"KEEPTTL"]);
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

/// `current + incr` formatted as INCRBYFLOAT replies, computed in the same
/// 80-bit `long double` arithmetic as Redis (see [`long_double`]).
fn add_floats(current: &StrValue, incr: &[u8]) -> Result<String, CmdError> {
    let finite = |parsed| match parsed {
        Some(Parsed::Finite(v)) => Ok(Some(v)),
        Some(Parsed::Infinite) => Ok(None),
        None => Err(CmdError::NotFloat),
    };
    let a = match current {
        StrValue::Int(n) => Some(LongDouble::from_i64(*n)),
        other => finite(LongDouble::parse(other.as_bytes(&mut itoa::Buffer::new())))?,
    };
    let b = finite(LongDouble::parse(incr))?;
    match (a, b) {
        (Some(a), Some(b)) => a
            .add(b)
            .map(LongDouble::to_redis_string)
            .ok_or(CmdError::Msg("ERR increment would produce NaN or Infinity")),
        _ => Err(CmdError::Msg("ERR increment would produce NaN or Infinity")),
    }
}

// ---- ranges ----

fn getrange(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let start = args.int(2)?;
    let end = args.int(3)?;
    let Some(value) = read_string(&mut ctx.db, args.get(1))? else {
        ctx.out.bulk(b"");
        return Ok(());
    };
    let mut scratch = itoa::Buffer::new();
    let bytes = value.as_bytes(&mut scratch);
    match resolve_range(start, end, bytes.len() as i64, true) {
        Some((from, to)) => ctx.out.bulk(&bytes[from as usize..=to as usize]),
        None => ctx.out.bulk(b""),
    }
    Ok(())
}

fn setrange(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let offset = args.int(2)?;
    if offset < 0 {
        return Err(CmdError::Msg("ERR offset is out of range"));
    }
    let (key, patch) = (args.get(1), args.get(3));
    let offset = offset as usize;
    let new_len = match ctx.db.get(key) {
        None if patch.is_empty() => 0,
        None => {
            check_string_length(ctx.server, offset as u64, patch.len() as u64)?;
            let mut buf = vec![0; offset + patch.len()];
            buf[offset..].copy_from_slice(patch);
            ctx.db.set(key, Value::Str(StrValue::Raw(buf)));
            offset + patch.len()
        }
        Some(entry) => {
            let s = string_of_mut(&mut entry.value)?;
            if patch.is_empty() {
                s.len()
            } else {
                check_string_length(ctx.server, offset as u64, patch.len() as u64)?;
                let buf = s.make_raw();
                let end = offset + patch.len();
                if buf.len() < end {
                    buf.resize(end, 0);
                }
                buf[offset..end].copy_from_slice(patch);
                let len = buf.len();
                ctx.db.modified(key);
                len
            }
        }
    };
    if !patch.is_empty() {
        ctx.db.notify(notify::STRING, "setrange", key);
    }
    ctx.out.int(new_len as i64);
    Ok(())
}

// ---- LCS ----

struct LcsOptions {
    len_only: bool,
    idx: bool,
    min_match_len: u64,
    with_match_len: bool,
}

fn parse_lcs_options(args: &Args) -> Result<LcsOptions, CmdError> {
    let mut opts = LcsOptions {
        len_only: false,
        idx: false,
        min_match_len: 0,
        with_match_len: false,
    };
    let mut i = 3;
    while i < args.len() {
        if args.is(i, "idx") {
            opts.idx = true;
        } else if args.is(i, "len") {
            opts.len_only = true;
        } else if args.is(i, "withmatchlen") {
            opts.with_match_len = true;
        } else if args.is(i, "minmatchlen") && i + 1 < args.len() {
            opts.min_match_len = args.int(i + 1)?.max(0) as u64;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if opts.idx && opts.len_only {
        return Err(CmdError::Msg(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    Ok(opts)
}

/// Reads an LCS operand: a missing key is the empty string.
fn lcs_operand(db: &mut Db, key: &[u8]) -> Result<Vec<u8>, CmdError> {
    match db.read(key) {
        None => Ok(Vec::new()),
        Some(entry) => string_of(&entry.value)
            .map(StrValue::to_vec)
            .map_err(|_| CmdError::Msg("ERR The specified keys must contain string values")),
    }
}

/// One matching run: inclusive ranges in `a` and in `b`.
struct LcsMatch {
    a: (usize, usize),
    b: (usize, usize),
}

/// The LCS dynamic-programming table, `(a.len()+1) * (b.len()+1)` cells where
/// cell (i, j) is the LCS length of `a[..i]` and `b[..j]`.
struct LcsTable {
    width: usize,
    cells: Vec<u32>,
}

impl LcsTable {
    fn build(a: &[u8], b: &[u8]) -> Self {
        let width = b.len() + 1;
        let mut cells = vec![0u32; (a.len() + 1) * width];
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                cells[i * width + j] = if a[i - 1] == b[j - 1] {
                    cells[(i - 1) * width + j - 1] + 1
                } else {
                    cells[(i - 1) * width + j].max(cells[i * width + j - 1])
                };
            }
        }
        LcsTable { width, cells }
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.width + j]
    }

    /// Walks back from the end, collecting the common subsequence and its
    /// contiguous runs (last run first, as Redis reports them). On a tie the
    /// walk moves along `b`, which fixes which of several LCSs is chosen.
    fn walk(&self, a: &[u8], b: &[u8]) -> (Vec<u8>, Vec<LcsMatch>) {
        let (mut i, mut j) = (a.len(), b.len());
        let mut common = Vec::with_capacity(self.at(i, j) as usize);
        let mut runs: Vec<LcsMatch> = Vec::new();
        let mut current: Option<LcsMatch> = None;
        while i > 0 && j > 0 {
            if a[i - 1] == b[j - 1] {
                common.push(a[i - 1]);
                match &mut current {
                    Some(run) => {
                        run.a.0 = i - 1;
                        run.b.0 = j - 1;
                    }
                    None => {
                        current = Some(LcsMatch {
                            a: (i - 1, i - 1),
                            b: (j - 1, j - 1),
                        })
                    }
                }
                i -= 1;
                j -= 1;
            } else {
                if self.at(i - 1, j) > self.at(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                runs.extend(current.take());
            }
        }
        runs.extend(current.take());
        common.reverse();
        (common, runs)
    }
}

fn lcs(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let a = lcs_operand(&mut ctx.db, args.get(1))?;
    let b = lcs_operand(&mut ctx.db, args.get(2))?;
    let opts = parse_lcs_options(args)?;
    let cells = (a.len() as u64 + 1) * (b.len() as u64 + 1);
    if cells.saturating_mul(4) > ctx.server.config.read().proto_max_bulk_len as u64 {
        return Err(CmdError::Msg(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let table = LcsTable::build(&a, &b);
    let len = table.at(a.len(), b.len()) as i64;
    if opts.len_only && !opts.idx {
        ctx.out.int(len);
        return Ok(());
    }
    let (common, runs) = table.walk(&a, &b);
    if !opts.idx {
        ctx.out.bulk(&common);
        return Ok(());
    }
    let shown: Vec<&LcsMatch> = runs
        .iter()
        .filter(|m| (m.a.1 - m.a.0 + 1) as u64 >= opts.min_match_len)
        .collect();
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"matches");
    out.array(shown.len());
    for m in shown {
        out.array(2 + opts.with_match_len as usize);
        for (from, to) in [m.a, m.b] {
            out.array(2);
            out.int(from as i64);
            out.int(to as i64);
        }
        if opts.with_match_len {
            out.int((m.a.1 - m.a.0 + 1) as i64);
        }
    }
    out.bulk(b"len");
    out.int(len);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testkit::TestClient;

    fn client() -> TestClient {
        TestClient::new()
    }

    #[test]
    fn get_set_basics() {
        let mut t = client();
        assert_eq!(t.run(&["GET", "k"]), "$-1\r\n");
        assert_eq!(t.run(&["SET", "k", "hello"]), "+OK\r\n");
        assert_eq!(t.run(&["GET", "k"]), "$5\r\nhello\r\n");
        assert_eq!(t.run(&["SET", "n", "123"]), "+OK\r\n");
        assert_eq!(t.run(&["GET", "n"]), "$3\r\n123\r\n");
        assert_eq!(
            t.run(&["SET", "k"]),
            "-ERR wrong number of arguments for 'set' command\r\n"
        );
    }

    #[test]
    fn set_conditions_and_get_option() {
        let mut t = client();
        assert_eq!(t.run(&["SET", "k", "a", "XX"]), "$-1\r\n");
        assert_eq!(t.run(&["SET", "k", "a", "NX"]), "+OK\r\n");
        assert_eq!(t.run(&["SET", "k", "b", "NX"]), "$-1\r\n");
        assert_eq!(t.run(&["SET", "k", "b", "XX", "GET"]), "$1\r\na\r\n");
        assert_eq!(t.run(&["SET", "k", "c", "NX", "GET"]), "$1\r\nb\r\n");
        assert_eq!(t.run(&["GET", "k"]), "$1\r\nb\r\n");
        assert_eq!(t.run(&["SET", "new", "v", "GET"]), "$-1\r\n");
        assert_eq!(
            t.run(&["SET", "k", "v", "NX", "XX"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            t.run(&["SET", "k", "v", "EX", "1", "PX", "1"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            t.run(&["SET", "k", "v", "KEEPTTL", "EX", "1"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(t.run(&["SET", "k", "v", "EX"]), "-ERR syntax error\r\n");
    }

    #[test]
    fn set_expiry_options() {
        let mut t = client();
        let err = "-ERR invalid expire time in 'set' command\r\n";
        assert_eq!(t.run(&["SET", "k", "v", "EX", "0"]), err);
        assert_eq!(t.run(&["SET", "k", "v", "PX", "-5"]), err);
        assert_eq!(t.run(&["SET", "k", "v", "EX", "9223372036854775"]), err);
        assert_eq!(
            t.run(&["SET", "k", "v", "EX", "x"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(t.run(&["SET", "k", "v", "PXAT", "1"]), "+OK\r\n");
        assert_eq!(
            t.run(&["GET", "k"]),
            "$-1\r\n",
            "a past PXAT expires the key"
        );
        assert_eq!(
            t.run(&["SET", "k", "v", "PXAT", "99999999999999"]),
            "+OK\r\n"
        );
        assert_eq!(t.run(&["SET", "k", "w", "KEEPTTL"]), "+OK\r\n");
        assert_eq!(t.run(&["GET", "k"]), "$1\r\nw\r\n");
        assert!(t.server.keyspace.lock_all().db(0, 0).expire_at(b"k") == Some(99999999999999));
        assert_eq!(t.run(&["SET", "k", "x"]), "+OK\r\n");
        assert!(
            t.server
                .keyspace
                .lock_all()
                .db(0, 0)
                .expire_at(b"k")
                .is_none(),
            "plain SET drops the TTL"
        );
    }

    fn ttl_of(t: &TestClient, key: &str) -> Option<u64> {
        t.server
            .keyspace
            .lock_all()
            .db(0, 0)
            .expire_at(key.as_bytes())
    }

    #[test]
    fn setex_psetex_setnx() {
        let mut t = client();
        assert_eq!(t.run(&["SETEX", "k", "100", "v"]), "+OK\r\n");
        assert!(ttl_of(&t, "k").is_some());
        assert_eq!(
            t.run(&["SETEX", "k", "0", "v"]),
            "-ERR invalid expire time in 'setex' command\r\n"
        );
        assert_eq!(
            t.run(&["PSETEX", "k", "-1", "v"]),
            "-ERR invalid expire time in 'psetex' command\r\n"
        );
        assert_eq!(
            t.run(&["PSETEX", "k", "x", "v"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(t.run(&["SETNX", "k", "w"]), ":0\r\n");
        assert_eq!(t.run(&["SETNX", "j", "w"]), ":1\r\n");
        assert_eq!(t.run(&["GET", "j"]), "$1\r\nw\r\n");
    }

    #[test]
    fn getset_getdel_getex() {
        let mut t = client();
        assert_eq!(t.run(&["GETSET", "k", "a"]), "$-1\r\n");
        assert_eq!(t.run(&["SET", "k", "a", "EX", "100"]), "+OK\r\n");
        assert_eq!(t.run(&["GETSET", "k", "b"]), "$1\r\na\r\n");
        assert!(ttl_of(&t, "k").is_none(), "GETSET drops the TTL");
        assert_eq!(t.run(&["GETEX", "k", "EX", "100"]), "$1\r\nb\r\n");
        assert!(ttl_of(&t, "k").is_some());
        assert_eq!(t.run(&["GETEX", "k", "PERSIST"]), "$1\r\nb\r\n");
        assert!(ttl_of(&t, "k").is_none());
        assert_eq!(
            t.run(&["GETEX", "k", "PERSIST", "EX", "1"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            t.run(&["GETEX", "k", "PX", "0"]),
            "-ERR invalid expire time in 'getex' command\r\n"
        );
        assert_eq!(t.run(&["GETEX", "k", "PXAT", "1"]), "$1\r\nb\r\n");
        assert_eq!(
            t.run(&["GET", "k"]),
            "$-1\r\n",
            "a past PXAT deletes the key"
        );
        assert_eq!(t.run(&["GETEX", "nokey", "EX", "10"]), "$-1\r\n");
        assert_eq!(
            t.run(&["GETEX", "nokey", "EX", "-1"]),
            "$-1\r\n",
            "key checked before the time"
        );
        assert_eq!(t.run(&["SET", "d", "x"]), "+OK\r\n");
        assert_eq!(t.run(&["GETDEL", "d"]), "$1\r\nx\r\n");
        assert_eq!(t.run(&["GETDEL", "d"]), "$-1\r\n");
    }

    #[test]
    fn mget_mset_msetnx() {
        let mut t = client();
        assert_eq!(t.run(&["MSET", "a", "1", "b", "2"]), "+OK\r\n");
        assert_eq!(
            t.run(&["MGET", "a", "x", "b"]),
            "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n"
        );
        assert_eq!(
            t.run(&["MSET", "a", "1", "b"]),
            "-ERR wrong number of arguments for 'mset' command\r\n"
        );
        assert_eq!(t.run(&["MSETNX", "a", "9", "c", "3"]), ":0\r\n");
        assert_eq!(t.run(&["GET", "c"]), "$-1\r\n");
        assert_eq!(t.run(&["MSETNX", "c", "3", "d", "4"]), ":1\r\n");
        assert_eq!(t.run(&["MGET", "c", "d"]), "*2\r\n$1\r\n3\r\n$1\r\n4\r\n");
    }

    #[test]
    fn append_strlen_keep_ttl() {
        let mut t = client();
        assert_eq!(t.run(&["APPEND", "k", "12"]), ":2\r\n");
        assert_eq!(
            t.run(&["SET", "k", "12", "PXAT", "99999999999999", "KEEPTTL"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            t.run(&["SET", "k", "12", "PXAT", "99999999999999"]),
            "+OK\r\n"
        );
        assert_eq!(t.run(&["APPEND", "k", "34"]), ":4\r\n");
        assert_eq!(t.run(&["GET", "k"]), "$4\r\n1234\r\n");
        assert_eq!(ttl_of(&t, "k"), Some(99999999999999));
        assert_eq!(t.run(&["STRLEN", "k"]), ":4\r\n");
        assert_eq!(t.run(&["STRLEN", "nokey"]), ":0\r\n");
        assert_eq!(
            t.run(&["INCR", "k"]),
            ":1235\r\n",
            "appended digits still count as an integer"
        );
    }

    #[test]
    fn counters() {
        let mut t = client();
        assert_eq!(t.run(&["INCR", "n"]), ":1\r\n");
        assert_eq!(t.run(&["INCRBY", "n", "10"]), ":11\r\n");
        assert_eq!(t.run(&["DECR", "n"]), ":10\r\n");
        assert_eq!(t.run(&["DECRBY", "n", "20"]), ":-10\r\n");
        assert_eq!(
            t.run(&["DECRBY", "n", "-9223372036854775808"]),
            "-ERR decrement would overflow\r\n"
        );
        assert_eq!(
            t.run(&["INCRBY", "n", "x"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(t.run(&["SET", "m", "9223372036854775807"]), "+OK\r\n");
        assert_eq!(
            t.run(&["INCR", "m"]),
            "-ERR increment or decrement would overflow\r\n"
        );
        assert_eq!(t.run(&["SET", "s", "abc"]), "+OK\r\n");
        assert_eq!(
            t.run(&["INCR", "s"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(t.run(&["SET", "s", " 1"]), "+OK\r\n");
        assert_eq!(
            t.run(&["INCR", "s"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(
            t.run(&["SET", "t", "5", "PXAT", "99999999999999"]),
            "+OK\r\n"
        );
        assert_eq!(t.run(&["INCR", "t"]), ":6\r\n");
        assert_eq!(ttl_of(&t, "t"), Some(99999999999999), "INCR keeps the TTL");
    }

    #[test]
    fn incrbyfloat_formatting() {
        let mut t = client();
        for (start, incr, want) in [
            ("10.5", "0.1", "10.6"),
            ("1000", "0.1", "1000.09999999999999998"),
            ("5", "0x10", "21"),
            ("0", "0.1", "0.1"),
            ("0.1", "0.2", "0.3"),
            ("5", "3.0e3", "3005"),
            ("1", "-1", "0"),
            ("-0", "0", "0"),
            ("3", "1.5", "4.5"),
            ("9007199254740993", "0", "9007199254740993"),
            ("0", "1e-20", "0"),
            ("1.5", "-2", "-0.5"),
        ] {
            t.run(&["SET", "f", start]);
            let got = t.run(&["INCRBYFLOAT", "f", incr]);
            assert_eq!(
                got,
                format!("${}\r\n{want}\r\n", want.len()),
                "{start} + {incr}"
            );
        }
        assert_eq!(
            t.run(&["INCRBYFLOAT", "f", "inf"]),
            "-ERR increment would produce NaN or Infinity\r\n"
        );
        assert_eq!(
            t.run(&["INCRBYFLOAT", "f", "x"]),
            "-ERR value is not a valid float\r\n"
        );
        assert_eq!(
            t.run(&["INCRBYFLOAT", "f", " 1"]),
            "-ERR value is not a valid float\r\n"
        );
        t.run(&["SET", "f", "abc"]);
        assert_eq!(
            t.run(&["INCRBYFLOAT", "f", "1"]),
            "-ERR value is not a valid float\r\n"
        );
        assert_eq!(t.run(&["INCRBYFLOAT", "new", "2.5"]), "$3\r\n2.5\r\n");
        t.out.resp3 = true;
        assert_eq!(
            t.run(&["INCRBYFLOAT", "new", "1"]),
            "$3\r\n3.5\r\n",
            "a bulk string in RESP3 too"
        );
    }

    #[test]
    fn getrange_and_substr() {
        let mut t = client();
        t.run(&["SET", "k", "Hello World"]);
        assert_eq!(t.run(&["GETRANGE", "k", "0", "4"]), "$5\r\nHello\r\n");
        assert_eq!(t.run(&["GETRANGE", "k", "-5", "-1"]), "$5\r\nWorld\r\n");
        assert_eq!(t.run(&["GETRANGE", "k", "-1", "-5"]), "$0\r\n\r\n");
        assert_eq!(t.run(&["GETRANGE", "k", "5", "100"]), "$6\r\n World\r\n");
        assert_eq!(
            t.run(&["GETRANGE", "k", "-100", "-50"]),
            "$1\r\nH\r\n",
            "both clamp to 0"
        );
        assert_eq!(t.run(&["SUBSTR", "k", "0", "0"]), "$1\r\nH\r\n");
        assert_eq!(t.run(&["GETRANGE", "nokey", "0", "1"]), "$0\r\n\r\n");
        assert_eq!(
            t.run(&["GETRANGE", "k", "a", "1"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        t.run(&["SET", "n", "12345"]);
        assert_eq!(t.run(&["GETRANGE", "n", "1", "2"]), "$2\r\n23\r\n");
    }

    #[test]
    fn setrange_pads_and_limits() {
        let mut t = client();
        assert_eq!(t.run(&["SETRANGE", "k", "3", "ab"]), ":5\r\n");
        assert_eq!(t.run_raw(&["GET", "k"]), b"$5\r\n\0\0\0ab\r\n");
        assert_eq!(t.run(&["SETRANGE", "k", "0", "xyz"]), ":5\r\n");
        assert_eq!(t.run(&["GET", "k"]), "$5\r\nxyzab\r\n");
        assert_eq!(t.run(&["SETRANGE", "k", "1", ""]), ":5\r\n");
        assert_eq!(t.run(&["SETRANGE", "empty", "1", ""]), ":0\r\n");
        assert_eq!(t.run(&["EXISTS", "empty"]), ":0\r\n");
        assert_eq!(
            t.run(&["SETRANGE", "k", "-1", "x"]),
            "-ERR offset is out of range\r\n"
        );
        assert_eq!(
            t.run(&["SETRANGE", "k", "536870912", "x"]),
            "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"
        );
    }

    #[test]
    fn lcs_variants() {
        let mut t = client();
        t.run(&["MSET", "a", "ohmytext", "b", "mynewtext"]);
        assert_eq!(t.run(&["LCS", "a", "b"]), "$6\r\nmytext\r\n");
        assert_eq!(t.run(&["LCS", "a", "b", "LEN"]), ":6\r\n");
        let idx = "*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n";
        assert_eq!(t.run(&["LCS", "a", "b", "IDX"]), idx);
        let min = "*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n";
        assert_eq!(
            t.run(&["LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"]),
            min
        );
        assert_eq!(
            t.run(&["LCS", "a", "b", "IDX", "LEN"]),
            "-ERR If you want both the length and indexes, please just use IDX.\r\n"
        );
        assert_eq!(t.run(&["LCS", "a", "b", "FOO"]), "-ERR syntax error\r\n");
        assert_eq!(t.run(&["LCS", "a", "nokey"]), "$0\r\n\r\n");
        t.out.resp3 = true;
        assert!(
            t.run(&["LCS", "a", "b", "IDX"])
                .starts_with("%2\r\n$7\r\nmatches\r\n")
        );
    }

    #[test]
    fn limits_follow_proto_max_bulk_len() {
        let config = crate::config::Config {
            proto_max_bulk_len: 1 << 20,
            ..Default::default()
        };
        let mut t = TestClient::with_config(config);
        let too_big = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n";
        assert_eq!(t.run(&["SETRANGE", "z", "1048576", "x"]), too_big);
        assert_eq!(t.run(&["SETRANGE", "z", "1048575", "x"]), ":1048576\r\n");
        assert_eq!(t.run(&["APPEND", "z", "x"]), too_big);
        let (a600, a400) = ("a".repeat(600), "a".repeat(400));
        t.run(&["MSET", "x", &a600, "y", &a600]);
        assert_eq!(
            t.run(&["LCS", "x", "y", "LEN"]),
            "-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n"
        );
        t.run(&["MSET", "x", &a400, "y", &a400]);
        assert_eq!(t.run(&["LCS", "x", "y", "LEN"]), ":400\r\n");
    }

    /// Arity, flags, key positions and ACL categories as Redis 7.0.15's
    /// `COMMAND INFO` reports them, for this family and the bitmap one.
    #[test]
    fn specs_match_redis_command_info() {
        let expected = [
            ("get", 2, "readonly fast", (1, 1, 1), "read string fast"),
            ("set", -3, "write denyoom", (1, 1, 1), "write string slow"),
            ("setex", 4, "write denyoom", (1, 1, 1), "write string slow"),
            ("psetex", 4, "write denyoom", (1, 1, 1), "write string slow"),
            (
                "setnx",
                3,
                "write denyoom fast",
                (1, 1, 1),
                "write string fast",
            ),
            (
                "getset",
                3,
                "write denyoom fast",
                (1, 1, 1),
                "write string fast",
            ),
            ("getdel", 2, "write fast", (1, 1, 1), "write string fast"),
            ("getex", -2, "write fast", (1, 1, 1), "write string fast"),
            ("mget", -2, "readonly fast", (1, -1, 1), "read string fast"),
            ("mset", -3, "write denyoom", (1, -1, 2), "write string slow"),
            (
                "msetnx",
                -3,
                "write denyoom",
                (1, -1, 2),
                "write string slow",
            ),
            (
                "append",
                3,
                "write denyoom fast",
                (1, 1, 1),
                "write string fast",
            ),
            ("strlen", 2, "readonly fast", (1, 1, 1), "read string fast"),
            (
                "incr",
                2,
                "write denyoom fast",
                (1, 1, 1),
                "write string fast",
            ),
            (
                "decr",
                2,
                "write denyoom fast",
                (1, 1, 1),
                "write string fast",
            ),
            (
                "incrby",
                3,
                "write denyoom fast",
                (1, 1, 1),
                "write string fast",
            ),
            (
                "decrby",
                3,
                "write denyoom fast",
                (1, 1, 1),
                "write string fast",
            ),
            (
                "incrbyfloat",
                3,
                "write denyoom fast",
                (1, 1, 1),
                "write string fast",
            ),
            ("getrange", 4, "readonly", (1, 1, 1), "read string slow"),
            (
                "setrange",
                4,
                "write denyoom",
                (1, 1, 1),
                "write string slow",
            ),
            ("substr", 4, "readonly", (1, 1, 1), "read string slow"),
            ("lcs", -3, "readonly", (1, 2, 1), "read string slow"),
            ("setbit", 4, "write denyoom", (1, 1, 1), "write bitmap slow"),
            ("getbit", 3, "readonly fast", (1, 1, 1), "read bitmap fast"),
            ("bitcount", -2, "readonly", (1, 1, 1), "read bitmap slow"),
            ("bitpos", -3, "readonly", (1, 1, 1), "read bitmap slow"),
            (
                "bitop",
                -4,
                "write denyoom",
                (2, -1, 1),
                "write bitmap slow",
            ),
            (
                "bitfield",
                -2,
                "write denyoom",
                (1, 1, 1),
                "write bitmap slow",
            ),
            (
                "bitfield_ro",
                -2,
                "readonly fast",
                (1, 1, 1),
                "read bitmap fast",
            ),
        ];
        crate::cmd::spec::assert_specs_match_redis(
            super::COMMANDS.iter().chain(crate::cmd::bitmap::COMMANDS),
            &expected,
        );
    }
}
