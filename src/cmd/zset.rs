//! Sorted set commands: ZADD and its update rules, the rank/score/lex range
//! family (ZRANGE and its legacy forms, counts, removals, ZRANGESTORE), pops,
//! random members, the union/intersection/difference family and ZSCAN.
//!
//! Every range command is parsed once into a [`RangeRequest`] and resolved to
//! an interval of ascending ranks, which the value answers in O(log n); the
//! reply then walks just that interval. Member/score pairs are flat in RESP2
//! and nested `[member, double]` arrays in RESP3, as in Redis 7.0.

use rand::RngExt;

use super::parse::{float_arg, parse_f64};
use super::spec::{CommandSpec, Keys, flag::*, key1, keys_range};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::db::zset::{Limits, ZSet};
use crate::db::{Db, Value};
use crate::protocol::Reply;
use crate::protocol::parse::parse_i64;
use crate::server::blocking::{self, ServeFn};
use crate::server::notify;
use crate::util::glob::glob_match;

const ZSET: &str = "sorted-set";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("zadd", -4, WRITE | DENYOOM | FAST, key1(), zadd)
        .doc(ZSET, "1.2.0", "Adds members with scores to a sorted set, or updates their scores, under NX/XX/GT/LT rules.")
        .complexity("O(log(N)) for each item added, where N is the number of elements in the sorted set."),
    CommandSpec::new("zincrby", 4, WRITE | DENYOOM | FAST, key1(), zincrby)
        .doc(ZSET, "1.2.0", "Adds an increment to a member's score, creating the member if needed.")
        .complexity("O(log(N)) where N is the number of elements in the sorted set."),
    CommandSpec::new("zrem", -3, WRITE | FAST, key1(), zrem)
        .doc(ZSET, "1.2.0", "Removes members from a sorted set, deleting the key when it empties.")
        .complexity("O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed."),
    CommandSpec::new("zcard", 2, READONLY | FAST, key1(), zcard)
        .doc(ZSET, "1.2.0", "Returns the number of members of a sorted set."),
    CommandSpec::new("zcount", 4, READONLY | FAST, key1(), zcount)
        .doc(ZSET, "2.0.0", "Counts the members whose score lies in a range.")
        .complexity("O(log(N)) with N being the number of elements in the sorted set."),
    CommandSpec::new("zlexcount", 4, READONLY | FAST, key1(), zlexcount)
        .doc(ZSET, "2.8.9", "Counts the members in a lexicographical range.")
        .complexity("O(log(N)) with N being the number of elements in the sorted set."),
    CommandSpec::new("zscore", 3, READONLY | FAST, key1(), zscore)
        .doc(ZSET, "1.2.0", "Returns the score of a member."),
    CommandSpec::new("zmscore", -3, READONLY | FAST, key1(), zmscore)
        .doc(ZSET, "6.2.0", "Returns the scores of several members.")
        .complexity("O(N) where N is the number of members being requested."),
    CommandSpec::new("zrank", 3, READONLY | FAST, key1(), zrank)
        .doc(ZSET, "2.0.0", "Returns a member's position in ascending score order.")
        .complexity("O(log(N))"),
    CommandSpec::new("zrevrank", 3, READONLY | FAST, key1(), zrevrank)
        .doc(ZSET, "2.0.0", "Returns a member's position in descending score order.")
        .complexity("O(log(N))"),
    CommandSpec::new("zrange", -4, READONLY, key1(), zrange)
        .doc(ZSET, "1.2.0", "Returns members in a range of ranks, scores or lexicographical values.")
        .complexity("O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned."),
    CommandSpec::new("zrangestore", -5, WRITE | DENYOOM, keys_range(1, 2, 1), zrangestore)
        .doc(ZSET, "6.2.0", "Stores a range of a sorted set in another key.")
        .complexity("O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key."),
    CommandSpec::new("zrevrange", -4, READONLY, key1(), zrevrange)
        .doc(ZSET, "1.2.0", "Returns members in a range of ranks, highest score first.")
        .complexity("O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned."),
    CommandSpec::new("zrangebyscore", -4, READONLY, key1(), zrangebyscore)
        .doc(ZSET, "1.0.5", "Returns members with scores in a range, lowest first.")
        .complexity("O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N))."),
    CommandSpec::new("zrevrangebyscore", -4, READONLY, key1(), zrevrangebyscore)
        .doc(ZSET, "2.2.0", "Returns members with scores in a range, highest first.")
        .complexity("O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N))."),
    CommandSpec::new("zrangebylex", -4, READONLY, key1(), zrangebylex)
        .doc(ZSET, "2.8.9", "Returns members in a lexicographical range.")
        .complexity("O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N))."),
    CommandSpec::new("zrevrangebylex", -4, READONLY, key1(), zrevrangebylex)
        .doc(ZSET, "2.8.9", "Returns members in a lexicographical range, in reverse order.")
        .complexity("O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N))."),
    CommandSpec::new("zremrangebyrank", 4, WRITE, key1(), zremrangebyrank)
        .doc(ZSET, "2.0.0", "Removes the members in a range of ranks.")
        .complexity("O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation."),
    CommandSpec::new("zremrangebyscore", 4, WRITE, key1(), zremrangebyscore)
        .doc(ZSET, "1.2.0", "Removes the members whose score lies in a range.")
        .complexity("O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation."),
    CommandSpec::new("zremrangebylex", 4, WRITE, key1(), zremrangebylex)
        .doc(ZSET, "2.8.9", "Removes the members in a lexicographical range.")
        .complexity("O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation."),
    CommandSpec::new("zpopmin", -2, WRITE | FAST, key1(), zpopmin)
        .doc(ZSET, "5.0.0", "Removes and returns the members with the lowest scores.")
        .complexity("O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped."),
    CommandSpec::new("zpopmax", -2, WRITE | FAST, key1(), zpopmax)
        .doc(ZSET, "5.0.0", "Removes and returns the members with the highest scores.")
        .complexity("O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped."),
    CommandSpec::new("zmpop", -4, WRITE, Keys::Custom(numkeys_at_1), zmpop)
        .doc(ZSET, "7.0.0", "Pops the lowest or highest scored members of the first non-empty sorted set among several keys.")
        .complexity("O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped."),
    CommandSpec::new("bzpopmin", -3, WRITE | NOSCRIPT | BLOCKING | FAST, keys_range(1, -2, 1), bzpopmin)
        .doc(ZSET, "5.0.0", "Pops the lowest scored member of the first non-empty sorted set, waiting for one if needed.")
        .complexity("O(log(N)) with N being the number of elements in the sorted set."),
    CommandSpec::new("bzpopmax", -3, WRITE | NOSCRIPT | BLOCKING | FAST, keys_range(1, -2, 1), bzpopmax)
        .doc(ZSET, "5.0.0", "Pops the highest scored member of the first non-empty sorted set, waiting for one if needed.")
        .complexity("O(log(N)) with N being the number of elements in the sorted set."),
    CommandSpec::new("bzmpop", -5, WRITE | BLOCKING, Keys::Custom(numkeys_at_2), bzmpop)
        .doc(ZSET, "7.0.0", "Pops members from the first non-empty sorted set of several, waiting for one if needed.")
        .complexity("O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped."),
    CommandSpec::new("zrandmember", -2, READONLY, key1(), zrandmember)
        .doc(ZSET, "6.2.0", "Returns random members, distinct for a positive count, possibly repeated for a negative one.")
        .complexity("O(N) where N is the number of members returned")
        .tips(&["nondeterministic_output"]),
    CommandSpec::new("zunion", -3, READONLY, Keys::Custom(numkeys_at_1), zunion)
        .doc(ZSET, "6.2.0", "Returns the union of sorted sets (and sets).")
        .complexity("O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set."),
    CommandSpec::new("zunionstore", -4, WRITE | DENYOOM, Keys::Custom(dest_and_numkeys_at_2), zunionstore)
        .movable_range(1, 1, 1)
        .doc(ZSET, "2.0.0", "Stores the union of sorted sets (and sets) in a key.")
        .complexity("O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set."),
    CommandSpec::new("zinter", -3, READONLY, Keys::Custom(numkeys_at_1), zinter)
        .doc(ZSET, "6.2.0", "Returns the intersection of sorted sets (and sets).")
        .complexity("O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set."),
    CommandSpec::new("zinterstore", -4, WRITE | DENYOOM, Keys::Custom(dest_and_numkeys_at_2), zinterstore)
        .movable_range(1, 1, 1)
        .doc(ZSET, "2.0.0", "Stores the intersection of sorted sets (and sets) in a key.")
        .complexity("O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set."),
    CommandSpec::new("zintercard", -3, READONLY, Keys::Custom(numkeys_at_1), zintercard)
        .doc(ZSET, "7.0.0", "Counts the members of the intersection of sorted sets, optionally stopping at a limit.")
        .complexity("O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets."),
    CommandSpec::new("zdiff", -3, READONLY, Keys::Custom(numkeys_at_1), zdiff)
        .doc(ZSET, "6.2.0", "Returns the members of the first sorted set that are in none of the others.")
        .complexity("O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set."),
    CommandSpec::new("zdiffstore", -4, WRITE | DENYOOM, Keys::Custom(dest_and_numkeys_at_2), zdiffstore)
        .movable_range(1, 1, 1)
        .doc(ZSET, "6.2.0", "Stores the difference of sorted sets in a key.")
        .complexity("O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set."),
    CommandSpec::new("zscan", -3, READONLY, key1(), zscan)
        .doc(ZSET, "2.8.0", "Iterates over members and scores of a sorted set.")
        .complexity("O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.")
        .tips(&["nondeterministic_output"]),
];

// ---- key positions of the numkeys forms ----

/// `numkeys` at `at`, then that many keys (positions past the end are dropped
/// by the gate; an unparsable count declares no keys, and the handler rejects it).
fn numkeys_keys(args: &Args, at: usize, out: &mut Vec<usize>) {
    let Some(n) = args.get_opt(at).and_then(parse_i64) else {
        return;
    };
    let n = n.clamp(0, args.len() as i64) as usize;
    out.extend(at + 1..at + 1 + n);
}

fn numkeys_at_1(args: &Args, out: &mut Vec<usize>) {
    numkeys_keys(args, 1, out);
}

/// BZMPOP: timeout at 1, numkeys at 2.
fn numkeys_at_2(args: &Args, out: &mut Vec<usize>) {
    numkeys_keys(args, 2, out);
}

/// The STORE forms: destination at 1, numkeys at 2.
fn dest_and_numkeys_at_2(args: &Args, out: &mut Vec<usize>) {
    out.push(1);
    numkeys_keys(args, 2, out);
}

// ---- shared helpers ----

super::typed::typed_access!(ZSet, ZSet, zset_of, zset_of_mut, read_zset, write_zset);

fn limits(ctx: &Ctx) -> Limits {
    let config = ctx.server.config.read();
    Limits {
        max_entries: config.zset_max_listpack_entries,
        max_value: config.zset_max_listpack_value,
    }
}

/// After members were removed: records the change (keyspace event `event`)
/// and deletes the key if the set emptied (then `del`).
fn after_removal(db: &mut Db, key: &[u8], removed: usize, event: &'static str) {
    if removed == 0 {
        return;
    }
    db.notify(notify::ZSET, event, key);
    let empty = db
        .get(key)
        .is_some_and(|e| matches!(&e.value, Value::ZSet(z) if z.is_empty()));
    if empty {
        db.remove(key);
        db.notify(notify::GENERIC, "del", key);
    } else {
        db.modified(key);
    }
}

/// Writes `entries` to `dest` (keyspace event `event`), or deletes it when
/// there are none (`del` if it existed); replies with the count, as every
/// STORE command does.
fn store_result(ctx: &mut Ctx, dest: &[u8], entries: Vec<(Vec<u8>, f64)>, event: &'static str) {
    let count = entries.len();
    if count == 0 {
        if ctx.db.remove(dest).is_some() {
            ctx.db.notify(notify::GENERIC, "del", dest);
        }
    } else {
        let value = ZSet::from_entries(entries, limits(ctx));
        ctx.db.set(dest, Value::ZSet(value));
        ctx.db.notify(notify::ZSET, event, dest);
    }
    ctx.out.int(count as i64);
}

/// Header of a list of `n` member/score pairs: nested pairs in RESP3 (so the
/// scores can be doubles), a flat list in RESP2.
fn pairs_header(out: &mut Reply, n: usize) {
    out.array(if out.resp3 { n } else { 2 * n });
}

fn pair(out: &mut Reply, member: &[u8], score: f64) {
    if out.resp3 {
        out.array(2);
    }
    out.bulk(member);
    out.double(score);
}

/// Members, with their scores when asked.
fn reply_entries(out: &mut Reply, entries: &[(Vec<u8>, f64)], withscores: bool) {
    if withscores {
        pairs_header(out, entries.len());
        entries.iter().for_each(|(m, s)| pair(out, m, *s));
    } else {
        out.array(entries.len());
        entries.iter().for_each(|(m, _)| out.bulk(m));
    }
}

// ---- ZADD, ZINCRBY, ZREM and the point lookups ----

#[derive(Default, Clone, Copy)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// What one ZADD pair did; the score is the member's score afterwards.
enum AddOutcome {
    Added(f64),
    Updated(f64),
    Unchanged(f64),
    Skipped,
}

/// Applies one member/score under ZADD's rules.
fn add_one(
    z: &mut ZSet,
    member: &[u8],
    score: f64,
    flags: AddFlags,
    limits: Limits,
) -> Result<AddOutcome, CmdError> {
    let Some(current) = z.score(member) else {
        if flags.xx {
            return Ok(AddOutcome::Skipped);
        }
        z.insert(member, score, limits);
        return Ok(AddOutcome::Added(score));
    };
    if flags.nx {
        return Ok(AddOutcome::Skipped);
    }
    let new = if flags.incr {
        let sum = current + score;
        if sum.is_nan() {
            return Err(CmdError::Msg("ERR resulting score is not a number (NaN)"));
        }
        sum
    } else {
        score
    };
    if (flags.lt && new >= current) || (flags.gt && new <= current) {
        return Ok(AddOutcome::Skipped);
    }
    if new == current {
        return Ok(AddOutcome::Unchanged(current));
    }
    z.insert(member, new, limits);
    Ok(AddOutcome::Updated(new))
}

fn parse_add_flags(args: &Args) -> (AddFlags, usize) {
    let mut flags = AddFlags::default();
    let mut i = 2;
    while i < args.len() {
        let word = args.get(i).to_ascii_lowercase();
        match &word[..] {
            b"nx" => flags.nx = true,
            b"xx" => flags.xx = true,
            b"gt" => flags.gt = true,
            b"lt" => flags.lt = true,
            b"ch" => flags.ch = true,
            b"incr" => flags.incr = true,
            _ => break,
        }
        i += 1;
    }
    (flags, i)
}

fn zadd(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (flags, first) = parse_add_flags(args);
    let rest = args.len() - first;
    if rest == 0 || rest % 2 == 1 {
        return Err(CmdError::Syntax);
    }
    if flags.nx && flags.xx {
        return Err(CmdError::Msg(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (flags.nx && (flags.gt || flags.lt)) || (flags.gt && flags.lt) {
        return Err(CmdError::Msg(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if flags.incr && rest > 2 {
        return Err(CmdError::Msg(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let scores = (first..args.len())
        .step_by(2)
        .map(|i| float_arg(args, i))
        .collect::<Result<Vec<_>, _>>()?;
    let members = (first + 1..args.len()).step_by(2).map(|i| args.get(i));
    let pairs: Vec<(&[u8], f64)> = members.zip(scores).collect();
    let outcomes = add_pairs(ctx, args.get(1), &pairs, flags)?;
    if flags.incr {
        match outcomes.last_score {
            Some(score) => ctx.out.double(score),
            None => ctx.out.null(),
        }
    } else {
        let changed = outcomes.added + if flags.ch { outcomes.updated } else { 0 };
        ctx.out.int(changed as i64);
    }
    Ok(())
}

#[derive(Default)]
struct AddTotals {
    added: usize,
    updated: usize,
    /// Score of the last pair that was not skipped (ZADD INCR, ZINCRBY).
    last_score: Option<f64>,
}

/// ZADD and ZINCRBY: creates the key when something will be added.
fn add_pairs(
    ctx: &mut Ctx,
    key: &[u8],
    pairs: &[(&[u8], f64)],
    flags: AddFlags,
) -> Result<AddTotals, CmdError> {
    let limits = limits(ctx);
    let mut totals = AddTotals::default();
    if write_zset(&mut ctx.db, key)?.is_none() {
        if flags.xx {
            return Ok(totals);
        }
        let value = ZSet::new_for(pairs[0].0.len(), limits);
        ctx.db.set(key, Value::ZSet(value));
    }
    let z = write_zset(&mut ctx.db, key)?.expect("present");
    for &(member, score) in pairs {
        match add_one(z, member, score, flags, limits)? {
            AddOutcome::Added(s) => {
                totals.added += 1;
                totals.last_score = Some(s);
            }
            AddOutcome::Updated(s) => {
                totals.updated += 1;
                totals.last_score = Some(s);
            }
            AddOutcome::Unchanged(s) => totals.last_score = Some(s),
            AddOutcome::Skipped => {}
        }
    }
    if totals.added + totals.updated > 0 {
        ctx.db.modified(key);
        let event = if flags.incr { "zincr" } else { "zadd" };
        ctx.db.notify(notify::ZSET, event, key);
    }
    Ok(totals)
}

fn zincrby(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let increment = float_arg(args, 2)?;
    let flags = AddFlags {
        incr: true,
        ..AddFlags::default()
    };
    let totals = add_pairs(ctx, args.get(1), &[(args.get(3), increment)], flags)?;
    ctx.out
        .double(totals.last_score.expect("ZINCRBY always applies"));
    Ok(())
}

fn zrem(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let Some(z) = write_zset(&mut ctx.db, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let removed = args
        .iter()
        .skip(2)
        .filter(|m| z.remove(m).is_some())
        .count();
    after_removal(&mut ctx.db, key, removed, "zrem");
    ctx.out.int(removed as i64);
    Ok(())
}

fn zcard(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let len = read_zset(&mut ctx.db, args.get(1))?.map_or(0, |z| z.len());
    ctx.out.int(len as i64);
    Ok(())
}

fn zscore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let score = read_zset(&mut ctx.db, args.get(1))?.and_then(|z| z.score(args.get(2)));
    match score {
        Some(s) => ctx.out.double(s),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zmscore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let z = read_zset(&mut ctx.db, args.get(1))?;
    ctx.out.array(args.len() - 2);
    for member in args.iter().skip(2) {
        match z.and_then(|z| z.score(member)) {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn rank_generic(ctx: &mut Ctx, args: &Args, rev: bool) -> CmdResult {
    let z = read_zset(&mut ctx.db, args.get(1))?;
    let rank = z.and_then(|z| {
        let rank = z.rank(args.get(2))?;
        Some(if rev { z.len() - 1 - rank } else { rank })
    });
    match rank {
        Some(r) => ctx.out.int(r as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zrank(ctx: &mut Ctx, args: &Args) -> CmdResult {
    rank_generic(ctx, args, false)
}

fn zrevrank(ctx: &mut Ctx, args: &Args) -> CmdResult {
    rank_generic(ctx, args, true)
}

// ---- range bounds ----

#[derive(Clone, Copy, Debug, PartialEq)]
struct ScoreBound {
    value: f64,
    exclusive: bool,
}

/// A score bound as ZRANGEBYSCORE reads it: `(` for exclusive, then what C's
/// `strtod` accepts in full (leading spaces, overflow to infinity, the empty
/// string as 0), but never NaN.
fn parse_score_bound(text: &[u8]) -> Option<ScoreBound> {
    let (exclusive, number) = match text.first() {
        Some(b'(') => (true, &text[1..]),
        _ => (false, text),
    };
    let value = if number.is_empty() {
        0.0
    } else {
        let trimmed = number.trim_ascii_start();
        parse_f64(trimmed).or_else(|| lenient_float(trimmed))?
    };
    Some(ScoreBound { value, exclusive })
}

/// What `strtod` reads that [`parse_f64`] refuses: out-of-range values and
/// hexadecimal integers.
fn lenient_float(text: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(text).ok()?;
    let (negative, unsigned) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let value = if let Some(hex) = unsigned
        .strip_prefix("0x")
        .or_else(|| unsigned.strip_prefix("0X"))
    {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        hex.bytes().fold(0.0, |acc, b| {
            acc * 16.0 + (b as char).to_digit(16).unwrap() as f64
        })
    } else {
        let v: f64 = unsigned.parse().ok()?;
        if v.is_nan() || unsigned.starts_with(['+', '-']) {
            return None;
        }
        v
    };
    Some(if negative { -value } else { value })
}

#[derive(Clone, Debug, PartialEq)]
enum LexBound<'a> {
    Min,
    Max,
    Inclusive(&'a [u8]),
    Exclusive(&'a [u8]),
}

fn parse_lex_bound(text: &[u8]) -> Option<LexBound<'_>> {
    match text {
        b"-" => Some(LexBound::Min),
        b"+" => Some(LexBound::Max),
        [b'[', rest @ ..] => Some(LexBound::Inclusive(rest)),
        [b'(', rest @ ..] => Some(LexBound::Exclusive(rest)),
        _ => None,
    }
}

const SCORE_RANGE_ERROR: CmdError = CmdError::Msg("ERR min or max is not a float");
const LEX_RANGE_ERROR: CmdError = CmdError::Msg("ERR min or max not valid string range item");

#[derive(Clone, Debug, PartialEq)]
enum Bounds<'a> {
    /// Start and stop positions, negative from the end.
    Rank(i64, i64),
    Score(ScoreBound, ScoreBound),
    Lex(LexBound<'a>, LexBound<'a>),
}

impl<'a> Bounds<'a> {
    fn score(min: &[u8], max: &[u8]) -> Result<Self, CmdError> {
        match (parse_score_bound(min), parse_score_bound(max)) {
            (Some(a), Some(b)) => Ok(Bounds::Score(a, b)),
            _ => Err(SCORE_RANGE_ERROR),
        }
    }

    fn lex(min: &'a [u8], max: &'a [u8]) -> Result<Self, CmdError> {
        match (parse_lex_bound(min), parse_lex_bound(max)) {
            (Some(a), Some(b)) => Ok(Bounds::Lex(a, b)),
            _ => Err(LEX_RANGE_ERROR),
        }
    }

    fn rank(start: &[u8], stop: &[u8]) -> Result<Self, CmdError> {
        let start = parse_i64(start).ok_or(CmdError::NotInteger)?;
        let stop = parse_i64(stop).ok_or(CmdError::NotInteger)?;
        Ok(Bounds::Rank(start, stop))
    }

    /// The ascending ranks `lo..hi` the bounds select in `z`. Rank bounds
    /// count from the top when `rev`; score and lex bounds do not depend on it.
    fn resolve(&self, z: &ZSet, rev: bool) -> (usize, usize) {
        let len = z.len();
        match self {
            Bounds::Rank(start, stop) => {
                let Some((first, last)) = clamp_ranks(*start, *stop, len) else {
                    return (0, 0);
                };
                if rev {
                    (len - 1 - last, len - first)
                } else {
                    (first, last + 1)
                }
            }
            Bounds::Score(min, max) => {
                let lo = z.count_before(|_, s| {
                    if min.exclusive {
                        s <= min.value
                    } else {
                        s < min.value
                    }
                });
                let hi = z.count_before(|_, s| {
                    if max.exclusive {
                        s < max.value
                    } else {
                        s <= max.value
                    }
                });
                (lo, hi.max(lo))
            }
            Bounds::Lex(min, max) => lex_ranks(z, min, max, rev),
        }
    }
}

fn lex_gte_min(m: &[u8], min: &LexBound) -> bool {
    match min {
        LexBound::Min => true,
        LexBound::Max => false,
        LexBound::Inclusive(b) => m >= *b,
        LexBound::Exclusive(b) => m > *b,
    }
}

fn lex_lte_max(m: &[u8], max: &LexBound) -> bool {
    match max {
        LexBound::Min => false,
        LexBound::Max => true,
        LexBound::Inclusive(b) => m <= *b,
        LexBound::Exclusive(b) => m < *b,
    }
}

/// The ascending ranks a lex range selects. On members of equal score this
/// is a plain bound search. With mixed scores Redis's answer is unspecified
/// but deterministic for its listpack, which it walks: empty unless the last
/// member is >= min and the first <= max; forward from the first member
/// >= min while <= max (backward from the last <= max when `rev`). The
/// listpack form follows that walk; the large form keeps the bound search
/// after the same emptiness check (Redis's skiplist answer there depends
/// on random node levels).
fn lex_ranks(z: &ZSet, min: &LexBound, max: &LexBound, rev: bool) -> (usize, usize) {
    let len = z.len();
    let last_ok = z.at_rank(len.wrapping_sub(1), |last, _| lex_gte_min(last, min));
    let first_ok = z.at_rank(0, |first, _| lex_lte_max(first, max));
    if last_ok != Some(true) || first_ok != Some(true) {
        return (0, 0);
    }
    if z.encoding() != "listpack" {
        let lo = lex_position(z, min, true);
        let hi = lex_position(z, max, false);
        return (lo, hi.max(lo));
    }
    let mut members: Vec<Vec<u8>> = Vec::with_capacity(len);
    z.visit_ranks(0, len, false, |m, _| members.push(m.to_vec()));
    if rev {
        let Some(end) = members.iter().rposition(|m| lex_lte_max(m, max)) else {
            return (0, 0);
        };
        let run = members[..=end]
            .iter()
            .rev()
            .take_while(|m| lex_gte_min(m, min))
            .count();
        (end + 1 - run, end + 1)
    } else {
        let Some(start) = members.iter().position(|m| lex_gte_min(m, min)) else {
            return (0, 0);
        };
        let run = members[start..]
            .iter()
            .take_while(|m| lex_lte_max(m, max))
            .count();
        (start, start + run)
    }
}

/// Redis's rank sanitising: negative positions count from the end; None when
/// the range is empty.
fn clamp_ranks(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let stop = if stop < 0 { len + stop } else { stop };
    if start > stop || start >= len {
        return None;
    }
    Some((start as usize, stop.min(len - 1) as usize))
}

/// How many members precede a lex bound used as the lower (`is_min`) or upper end.
fn lex_position(z: &ZSet, bound: &LexBound, is_min: bool) -> usize {
    match bound {
        LexBound::Min => 0,
        LexBound::Max => z.len(),
        // A lower inclusive or upper exclusive bound starts at the bound itself.
        LexBound::Inclusive(b) if is_min => z.count_before(|m, _| m < *b),
        LexBound::Exclusive(b) if !is_min => z.count_before(|m, _| m < *b),
        LexBound::Inclusive(b) | LexBound::Exclusive(b) => z.count_before(|m, _| m <= *b),
    }
}

// ---- ZRANGE and its forms ----

#[derive(Clone, Copy, PartialEq)]
enum By {
    Rank,
    Score,
    Lex,
}

/// A parsed range command.
struct RangeRequest<'a> {
    bounds: Bounds<'a>,
    rev: bool,
    /// LIMIT offset count; a negative count means no limit.
    limit: Option<(i64, i64)>,
    withscores: bool,
}

/// Parses `<key> <min> <max> [options]` with the key at `key_at`. `by` and
/// `rev` are fixed by the legacy commands and chosen by options in
/// ZRANGE/ZRANGESTORE (`None`).
fn parse_range<'a>(
    args: &Args<'a>,
    key_at: usize,
    by: Option<By>,
    rev: Option<bool>,
    store: bool,
) -> Result<RangeRequest<'a>, CmdError> {
    let (mut chosen_by, mut chosen_rev) = (by, rev);
    let mut limit = None;
    let mut withscores = false;
    let mut i = key_at + 3;
    while i < args.len() {
        let left = args.len() - i - 1;
        if args.is(i, "withscores") && !store {
            withscores = true;
        } else if args.is(i, "limit") && left >= 2 {
            limit = Some((args.int(i + 1)?, args.int(i + 2)?));
            i += 2;
        } else if chosen_rev.is_none() && args.is(i, "rev") {
            chosen_rev = Some(true);
        } else if chosen_by.is_none() && args.is(i, "bylex") {
            chosen_by = Some(By::Lex);
        } else if chosen_by.is_none() && args.is(i, "byscore") {
            chosen_by = Some(By::Score);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let by = chosen_by.unwrap_or(By::Rank);
    let rev = chosen_rev.unwrap_or(false);
    if by == By::Rank {
        // Redis only rejects a LIMIT that limits: `LIMIT <any> -1` is
        // accepted on a rank range and ignored, offset included.
        if limit.is_some_and(|(_, count)| count != -1) {
            return Err(CmdError::Msg(
                "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
            ));
        }
        limit = None;
    }
    if withscores && by == By::Lex {
        return Err(CmdError::Msg(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (mut min, mut max) = (args.get(key_at + 1), args.get(key_at + 2));
    // Reversed score and lex ranges are written max first.
    if rev && by != By::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    let bounds = match by {
        By::Rank => Bounds::rank(min, max)?,
        By::Score => Bounds::score(min, max)?,
        By::Lex => Bounds::lex(min, max)?,
    };
    Ok(RangeRequest {
        bounds,
        rev,
        limit,
        withscores,
    })
}

impl RangeRequest<'_> {
    /// The selected entries, in reply order.
    fn select(&self, z: &ZSet) -> Vec<(Vec<u8>, f64)> {
        let (mut lo, mut hi) = self.bounds.resolve(z, self.rev);
        if let Some((offset, count)) = self.limit {
            if offset < 0 {
                return Vec::new();
            }
            let offset = offset as usize;
            let count = if count < 0 {
                usize::MAX
            } else {
                count as usize
            };
            if self.rev {
                hi = hi.saturating_sub(offset).max(lo);
                lo = lo.max(hi.saturating_sub(count));
            } else {
                lo = lo.saturating_add(offset).min(hi);
                hi = hi.min(lo.saturating_add(count));
            }
        }
        let mut out = Vec::with_capacity(hi.saturating_sub(lo));
        z.visit_ranks(lo, hi, self.rev, |m, s| out.push((m.to_vec(), s)));
        out
    }
}

fn range_reply(ctx: &mut Ctx, args: &Args, by: Option<By>, rev: Option<bool>) -> CmdResult {
    let request = parse_range(args, 1, by, rev, false)?;
    let entries = match read_zset(&mut ctx.db, args.get(1))? {
        Some(z) => request.select(z),
        None => Vec::new(),
    };
    reply_entries(ctx.out, &entries, request.withscores);
    Ok(())
}

fn zrange(ctx: &mut Ctx, args: &Args) -> CmdResult {
    range_reply(ctx, args, None, None)
}

fn zrevrange(ctx: &mut Ctx, args: &Args) -> CmdResult {
    range_reply(ctx, args, Some(By::Rank), Some(true))
}

fn zrangebyscore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    range_reply(ctx, args, Some(By::Score), Some(false))
}

fn zrevrangebyscore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    range_reply(ctx, args, Some(By::Score), Some(true))
}

fn zrangebylex(ctx: &mut Ctx, args: &Args) -> CmdResult {
    range_reply(ctx, args, Some(By::Lex), Some(false))
}

fn zrevrangebylex(ctx: &mut Ctx, args: &Args) -> CmdResult {
    range_reply(ctx, args, Some(By::Lex), Some(true))
}

fn zrangestore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let request = parse_range(args, 2, None, None, true)?;
    let entries = match read_zset(&mut ctx.db, args.get(2))? {
        Some(z) => request.select(z),
        None => Vec::new(),
    };
    store_result(ctx, args.get(1), entries, "zrangestore");
    Ok(())
}

fn count_generic(ctx: &mut Ctx, args: &Args, bounds: Bounds) -> CmdResult {
    let count = read_zset(&mut ctx.db, args.get(1))?.map_or(0, |z| {
        let (lo, hi) = bounds.resolve(z, false);
        hi - lo
    });
    ctx.out.int(count as i64);
    Ok(())
}

fn zcount(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let bounds = Bounds::score(args.get(2), args.get(3))?;
    count_generic(ctx, args, bounds)
}

fn zlexcount(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let bounds = Bounds::lex(args.get(2), args.get(3))?;
    count_generic(ctx, args, bounds)
}

fn remove_range_generic(
    ctx: &mut Ctx,
    args: &Args,
    bounds: Bounds,
    event: &'static str,
) -> CmdResult {
    let key = args.get(1);
    let removed = match write_zset(&mut ctx.db, key)? {
        Some(z) => {
            let (lo, hi) = bounds.resolve(z, false);
            z.remove_ranks(lo, hi)
        }
        None => 0,
    };
    after_removal(&mut ctx.db, key, removed, event);
    ctx.out.int(removed as i64);
    Ok(())
}

fn zremrangebyrank(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let bounds = Bounds::rank(args.get(2), args.get(3))?;
    remove_range_generic(ctx, args, bounds, "zremrangebyrank")
}

fn zremrangebyscore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let bounds = Bounds::score(args.get(2), args.get(3))?;
    remove_range_generic(ctx, args, bounds, "zremrangebyscore")
}

fn zremrangebylex(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let bounds = Bounds::lex(args.get(2), args.get(3))?;
    remove_range_generic(ctx, args, bounds, "zremrangebylex")
}

// ---- pops ----

/// Removes up to `count` members from the low (or high) end, in pop order.
fn pop_from(db: &mut Db, key: &[u8], count: usize, max: bool) -> Vec<(Vec<u8>, f64)> {
    let Some(Ok(z)) = db.get(key).map(|e| zset_of_mut(&mut e.value)) else {
        return Vec::new();
    };
    let len = z.len();
    let n = count.min(len);
    let (lo, hi) = if max { (len - n, len) } else { (0, n) };
    let mut popped = Vec::with_capacity(n);
    z.visit_ranks(lo, hi, max, |m, s| popped.push((m.to_vec(), s)));
    z.remove_ranks(lo, hi);
    after_removal(db, key, n, if max { "zpopmax" } else { "zpopmin" });
    popped
}

fn pop_generic(ctx: &mut Ctx, args: &Args, max: bool) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match args.get_opt(2) {
        Some(text) => match parse_i64(text) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => {
                return Err(CmdError::Msg("ERR value is out of range, must be positive"));
            }
        },
        None => None,
    };
    let key = args.get(1);
    if write_zset(&mut ctx.db, key)?.is_none() || count == Some(0) {
        ctx.out.array(0);
        return Ok(());
    }
    let popped = pop_from(&mut ctx.db, key, count.unwrap_or(1), max);
    if count.is_some() {
        reply_entries(ctx.out, &popped, true);
    } else {
        // Without a count the one pair is flat even in RESP3.
        ctx.out.array(2 * popped.len());
        for (m, s) in &popped {
            ctx.out.bulk(m);
            ctx.out.double(*s);
        }
    }
    Ok(())
}

fn zpopmin(ctx: &mut Ctx, args: &Args) -> CmdResult {
    pop_generic(ctx, args, false)
}

fn zpopmax(ctx: &mut Ctx, args: &Args) -> CmdResult {
    pop_generic(ctx, args, true)
}

/// The `numkeys` of the numkeys forms, with Redis's messages.
fn parse_numkeys(args: &Args, at: usize, command: &str) -> Result<usize, CmdError> {
    let n = args.int(at)?;
    if n < 1 {
        return Err(CmdError::msg(format!(
            "ERR at least 1 input key is needed for '{command}' command"
        )));
    }
    if n as u64 > (args.len() - at - 1) as u64 {
        return Err(CmdError::Syntax);
    }
    Ok(n as usize)
}

/// A parsed `numkeys key... MIN|MAX [COUNT count]` tail (ZMPOP, BZMPOP).
struct Mpop<'a> {
    keys: Vec<&'a [u8]>,
    max: bool,
    count: usize,
}

fn parse_mpop<'a>(args: &Args<'a>, numkeys_at: usize) -> Result<Mpop<'a>, CmdError> {
    let numkeys = match parse_i64(args.get(numkeys_at)) {
        Some(n) if n > 0 => n as u64,
        _ => return Err(CmdError::Msg("ERR numkeys should be greater than 0")),
    };
    let where_at = numkeys.saturating_add(numkeys_at as u64 + 1);
    if where_at >= args.len() as u64 {
        return Err(CmdError::Syntax);
    }
    let where_at = where_at as usize;
    let max = if args.is(where_at, "max") {
        true
    } else if args.is(where_at, "min") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let mut count = None;
    let mut i = where_at + 1;
    while i < args.len() {
        if count.is_none() && args.is(i, "count") && i + 1 < args.len() {
            count = match parse_i64(args.get(i + 1)) {
                Some(n) if n > 0 => Some(n as usize),
                _ => return Err(CmdError::Msg("ERR count should be greater than 0")),
            };
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(Mpop {
        keys: (numkeys_at + 1..where_at).map(|k| args.get(k)).collect(),
        max,
        count: count.unwrap_or(1),
    })
}

/// Pops from `key` if it holds a sorted set, replying `[key, [[member, score]...]]`.
fn mpop_from(
    db: &mut Db,
    key: &[u8],
    max: bool,
    count: usize,
    out: &mut Reply,
) -> Result<bool, CmdError> {
    if write_zset(db, key)?.is_none() {
        return Ok(false);
    }
    let popped = pop_from(db, key, count, max);
    out.array(2);
    out.bulk(key);
    out.array(popped.len());
    for (m, s) in &popped {
        out.array(2);
        out.bulk(m);
        out.double(*s);
    }
    // Served waiters and BZMPOP reach the AOF in ZMPOP's form.
    let mut itoa = itoa::Buffer::new();
    let side: &[u8] = if max { b"MAX" } else { b"MIN" };
    db.propagate(&[
        b"ZMPOP",
        b"1",
        key,
        side,
        b"COUNT",
        itoa.format(count).as_bytes(),
    ]);
    Ok(true)
}

/// Pops from the first non-empty key; false when every key is empty.
fn mpop_first(ctx: &mut Ctx, mpop: &Mpop) -> Result<bool, CmdError> {
    for key in &mpop.keys {
        if mpop_from(&mut ctx.db, key, mpop.max, mpop.count, ctx.out)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn zmpop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mpop = parse_mpop(args, 1)?;
    if !mpop_first(ctx, &mpop)? {
        ctx.out.null_array();
    }
    Ok(())
}

// ---- blocking pops ----

/// Blocks the client on `keys`, or inside MULTI replies the timeout reply at once.
fn block_or_null(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    timeout: Option<std::time::Duration>,
    serve: ServeFn,
) {
    if !blocking::may_block(ctx) {
        ctx.out.null_array();
        return;
    }
    let keys = keys.iter().map(|k| k.to_vec()).collect();
    blocking::block(ctx, keys, Vec::new(), timeout, serve);
}

/// Pops one member into `[key, member, score]`; false when `key` holds no sorted set.
fn bpop_from(db: &mut Db, key: &[u8], max: bool, out: &mut Reply) -> Result<bool, CmdError> {
    if write_zset(db, key)?.is_none() {
        return Ok(false);
    }
    let popped = pop_from(db, key, 1, max);
    db.propagate(&[if max { b"ZPOPMAX" } else { b"ZPOPMIN" }, key]);
    out.array(3);
    out.bulk(key);
    out.bulk(&popped[0].0);
    out.double(popped[0].1);
    Ok(true)
}

fn bpop_generic(ctx: &mut Ctx, args: &Args, max: bool, serve: ServeFn) -> CmdResult {
    let timeout = blocking::parse_timeout(args.get(args.len() - 1))?;
    let keys: Vec<&[u8]> = args.iter().skip(1).take(args.len() - 2).collect();
    for key in &keys {
        if bpop_from(&mut ctx.db, key, max, ctx.out)? {
            return Ok(());
        }
    }
    block_or_null(ctx, &keys, timeout, serve);
    Ok(())
}

fn bzpopmin(ctx: &mut Ctx, args: &Args) -> CmdResult {
    bpop_generic(ctx, args, false, serve_bzpopmin)
}

fn bzpopmax(ctx: &mut Ctx, args: &Args) -> CmdResult {
    bpop_generic(ctx, args, true, serve_bzpopmax)
}

fn bzmpop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let timeout = blocking::parse_timeout(args.get(1))?;
    let mpop = parse_mpop(args, 2)?;
    if !mpop_first(ctx, &mpop)? {
        block_or_null(ctx, &mpop.keys, timeout, serve_bzmpop);
    }
    Ok(())
}

/// Serve functions: run when a key a waiter blocks on changed. Argument
/// errors were ruled out when the command blocked; a key that now holds
/// another type leaves the waiter blocked.
fn serve_bzpopmin(db: &mut Db, key: &[u8], _args: &Args, out: &mut Reply) -> bool {
    bpop_from(db, key, false, out).unwrap_or(false)
}

fn serve_bzpopmax(db: &mut Db, key: &[u8], _args: &Args, out: &mut Reply) -> bool {
    bpop_from(db, key, true, out).unwrap_or(false)
}

fn serve_bzmpop(db: &mut Db, key: &[u8], args: &Args, out: &mut Reply) -> bool {
    let Ok(mpop) = parse_mpop(args, 2) else {
        return false;
    };
    mpop_from(db, key, mpop.max, mpop.count, out).unwrap_or(false)
}

// ---- ZRANDMEMBER ----

fn zrandmember(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() == 2 {
        let z = read_zset(&mut ctx.db, args.get(1))?;
        match z.filter(|z| !z.is_empty()) {
            Some(z) => {
                let rank = ctx.client.rng.random_range(0..z.len());
                z.at_rank(rank, |m, _| ctx.out.bulk(m))
                    .expect("rank in range");
            }
            None => ctx.out.null(),
        }
        return Ok(());
    }
    let count = args.int(2)?;
    if count == i64::MIN {
        return Err(CmdError::Msg(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let withscores = match args.len() {
        3 => false,
        4 if args.is(3, "withscores") => true,
        _ => return Err(CmdError::Syntax),
    };
    if withscores && !(-i64::MAX / 2..=i64::MAX / 2).contains(&count) {
        return Err(CmdError::Msg("ERR value is out of range"));
    }
    let Some(z) = read_zset(&mut ctx.db, args.get(1))? else {
        ctx.out.array(0);
        return Ok(());
    };
    let rng = &mut ctx.client.rng;
    let len = z.len();
    // Negative counts allow repeats and are written as drawn, so a huge
    // count needs no buffer; positive ones pick distinct ranks.
    let distinct: Vec<usize> = match count {
        c if c < 0 => Vec::new(),
        c if c as usize >= len => (0..len).collect(),
        c => rand::seq::index::sample(rng, len, c as usize).into_vec(),
    };
    let n = if count < 0 {
        count.unsigned_abs() as usize
    } else {
        distinct.len()
    };
    let out = &mut *ctx.out;
    if withscores {
        pairs_header(out, n);
    } else {
        out.array(n);
    }
    let mut emit = |rank: usize| {
        z.at_rank(rank, |m, s| {
            if withscores {
                pair(out, m, s);
            } else {
                out.bulk(m);
            }
        })
        .expect("rank in range");
    };
    if count < 0 {
        (0..n).for_each(|_| emit(rng.random_range(0..len)));
    } else {
        distinct.into_iter().for_each(emit);
    }
    Ok(())
}

// ---- union, intersection, difference ----

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

impl SetOp {
    /// The keyspace event of the *STORE form.
    fn store_event(self) -> &'static str {
        match self {
            SetOp::Union => "zunionstore",
            SetOp::Inter => "zinterstore",
            SetOp::Diff => "zdiffstore",
        }
    }
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    fn combine(self, acc: f64, value: f64) -> f64 {
        match self {
            // inf + -inf is NaN; Redis counts it as 0.
            Aggregate::Sum => {
                let sum = acc + value;
                if sum.is_nan() { 0.0 } else { sum }
            }
            Aggregate::Min => acc.min(value),
            Aggregate::Max => acc.max(value),
        }
    }
}

struct SetOpRequest {
    weights: Vec<f64>,
    aggregate: Aggregate,
    withscores: bool,
}

/// Parses the options after `numkeys key...` (numkeys `n` at `at`):
/// `[WEIGHTS w...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]`; ZDIFF takes neither
/// WEIGHTS nor AGGREGATE, the STORE forms no WITHSCORES.
fn parse_set_op(
    args: &Args,
    at: usize,
    n: usize,
    op: SetOp,
    store: bool,
) -> Result<SetOpRequest, CmdError> {
    let mut request = SetOpRequest {
        weights: vec![1.0; n],
        aggregate: Aggregate::Sum,
        withscores: false,
    };
    let mut i = at + 1 + n;
    while i < args.len() {
        let left = args.len() - i;
        if op != SetOp::Diff && left > n && args.is(i, "weights") {
            for (w, j) in request.weights.iter_mut().zip(i + 1..) {
                *w = parse_f64(args.get(j))
                    .ok_or(CmdError::Msg("ERR weight value is not a float"))?;
            }
            i += n + 1;
        } else if op != SetOp::Diff && left >= 2 && args.is(i, "aggregate") {
            request.aggregate = if args.is(i + 1, "sum") {
                Aggregate::Sum
            } else if args.is(i + 1, "min") {
                Aggregate::Min
            } else if args.is(i + 1, "max") {
                Aggregate::Max
            } else {
                return Err(CmdError::Syntax);
            };
            i += 2;
        } else if !store && args.is(i, "withscores") {
            request.withscores = true;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(request)
}

/// One input of a set operation: members with scores, in any order.
type Input = Vec<(Vec<u8>, f64)>;

/// Reads the inputs: sorted sets, plain sets (every score 1), missing keys
/// as empty; any other type is WRONGTYPE.
fn read_inputs(
    db: &mut Db,
    args: &Args,
    keys: std::ops::Range<usize>,
) -> Result<Vec<Input>, CmdError> {
    let mut inputs = Vec::with_capacity(keys.len());
    for k in keys {
        let input = match db.read(args.get(k)).map(|e| &e.value) {
            None => Vec::new(),
            Some(Value::ZSet(z)) => z.entries(),
            Some(Value::Set(s)) => set_input(s),
            Some(_) => return Err(CmdError::WrongType),
        };
        inputs.push(input);
    }
    Ok(inputs)
}

/// A plain set as an input, every member scored 1.
fn set_input(set: &crate::db::set::Set) -> Input {
    let mut scratch = itoa::Buffer::new();
    let mut input = Input::with_capacity(set.len());
    set.for_each(|m| input.push((m.bytes(&mut scratch).to_vec(), 1.0)));
    input
}

/// The weighted score, with NaN (0 × inf) counted as 0 as Redis does.
fn weighted(score: f64, weight: f64) -> f64 {
    let v = score * weight;
    if v.is_nan() { 0.0 } else { v }
}

/// Computes the operation; the result is sorted by (score, member).
fn compute(op: SetOp, inputs: Vec<Input>, weights: &[f64], aggregate: Aggregate) -> Input {
    use std::collections::HashMap;
    let mut result: Input = match op {
        SetOp::Union => {
            let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
            for (input, &w) in inputs.into_iter().zip(weights) {
                for (m, s) in input {
                    let v = weighted(s, w);
                    acc.entry(m)
                        .and_modify(|cur| *cur = aggregate.combine(*cur, v))
                        .or_insert(v);
                }
            }
            acc.into_iter().collect()
        }
        SetOp::Inter => {
            // Walk the smallest input and probe the others, as Redis does
            // (inputs ordered by size; ties keep their key order).
            let mut order: Vec<(Input, f64)> =
                inputs.into_iter().zip(weights.iter().copied()).collect();
            order.sort_by_key(|(input, _)| input.len());
            let mut iter = order.into_iter();
            let Some((first, first_weight)) = iter.next() else {
                return Vec::new();
            };
            let others: Vec<(HashMap<Vec<u8>, f64>, f64)> = iter
                .map(|(input, w)| (input.into_iter().collect(), w))
                .collect();
            first
                .into_iter()
                .filter_map(|(m, s)| {
                    let mut score = weighted(s, first_weight);
                    for (other, w) in &others {
                        score = aggregate.combine(score, weighted(*other.get(&m)?, *w));
                    }
                    Some((m, score))
                })
                .collect()
        }
        SetOp::Diff => {
            let mut iter = inputs.into_iter();
            let first = iter.next().unwrap_or_default();
            let others: Vec<std::collections::HashSet<Vec<u8>>> = iter
                .map(|input| input.into_iter().map(|(m, _)| m).collect())
                .collect();
            first
                .into_iter()
                .filter(|(m, _)| !others.iter().any(|o| o.contains(m)))
                .collect()
        }
    };
    // -0 and 0 tie (ordered by member), as Redis compares scores with `<`.
    result.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
    result
}

fn set_op(ctx: &mut Ctx, args: &Args, op: SetOp, store: bool) -> CmdResult {
    let command = args.str(0).to_ascii_lowercase();
    let at = if store { 2 } else { 1 };
    let n = parse_numkeys(args, at, &command)?;
    // Redis checks the keys' types before it parses the options, so
    // WRONGTYPE wins over a bad weight or AGGREGATE.
    let inputs = read_inputs(&mut ctx.db, args, at + 1..at + 1 + n)?;
    let request = parse_set_op(args, at, n, op, store)?;
    let result = compute(op, inputs, &request.weights, request.aggregate);
    if store {
        store_result(ctx, args.get(1), result, op.store_event());
    } else {
        reply_entries(ctx.out, &result, request.withscores);
    }
    Ok(())
}

fn zunion(ctx: &mut Ctx, args: &Args) -> CmdResult {
    set_op(ctx, args, SetOp::Union, false)
}

fn zunionstore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    set_op(ctx, args, SetOp::Union, true)
}

fn zinter(ctx: &mut Ctx, args: &Args) -> CmdResult {
    set_op(ctx, args, SetOp::Inter, false)
}

fn zinterstore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    set_op(ctx, args, SetOp::Inter, true)
}

fn zdiff(ctx: &mut Ctx, args: &Args) -> CmdResult {
    set_op(ctx, args, SetOp::Diff, false)
}

fn zdiffstore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    set_op(ctx, args, SetOp::Diff, true)
}

fn zintercard(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let n = parse_numkeys(args, 1, "zintercard")?;
    // As for ZINTER, key types are checked before LIMIT is parsed.
    let inputs = read_inputs(&mut ctx.db, args, 2..2 + n)?;
    let mut limit = 0usize;
    let mut i = 2 + n;
    while i < args.len() {
        if args.is(i, "limit") && i + 1 < args.len() {
            limit = match parse_i64(args.get(i + 1)) {
                Some(l) if l >= 0 => l as usize,
                _ => return Err(CmdError::Msg("ERR LIMIT can't be negative")),
            };
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let weights = vec![1.0; n];
    let mut count = compute(SetOp::Inter, inputs, &weights, Aggregate::Sum).len();
    if limit > 0 {
        count = count.min(limit);
    }
    ctx.out.int(count as i64);
    Ok(())
}

// ---- ZSCAN ----

fn zscan(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let cursor = crate::cmd::parse::scan_cursor(args.get(2))?;
    let Some(z) = read_zset(&mut ctx.db, args.get(1))? else {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    };
    let mut pattern: Option<&[u8]> = None;
    let mut count = 10usize;
    let mut i = 3;
    while i < args.len() {
        if args.is(i, "count") && i + 1 < args.len() {
            let n = args.int(i + 1)?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            count = n as usize;
        } else if args.is(i, "match") && i + 1 < args.len() {
            pattern = Some(args.get(i + 1));
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let compact = z.scans_at_once();
    let mut found: Vec<(Vec<u8>, f64)> = Vec::new();
    let mut next = cursor;
    // As Redis: COUNT bounds the entries visited, with a cap on empty steps.
    let mut steps = count.saturating_mul(10);
    loop {
        next = z.scan(next, |m, s| found.push((m.to_vec(), s)));
        steps -= 1;
        if next == 0 || steps == 0 || found.len() >= count || compact {
            break;
        }
    }
    if let Some(p) = pattern {
        found.retain(|(m, _)| glob_match(p, m, false));
    }
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(found.len() * 2);
    for (m, s) in &found {
        ctx.out.bulk(m);
        ctx.out.bulk(scan_score_text(*s, compact).as_bytes());
    }
    Ok(())
}

/// ZSCAN prints scores as stored: a listpack keeps integral scores below
/// 2^62 as integers, everything else is `%.17g`.
fn scan_score_text(score: f64, compact: bool) -> String {
    const LIMIT: f64 = (i64::MAX / 2) as f64;
    if compact && score.fract() == 0.0 && (-LIMIT..=LIMIT).contains(&score) {
        itoa::Buffer::new().format(score as i64).to_string()
    } else {
        crate::protocol::reply::format_double(score)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::testkit::TestClient;

    fn client_with_limits(entries: usize, value: usize) -> TestClient {
        let config = Config {
            zset_max_listpack_entries: entries,
            zset_max_listpack_value: value,
            enable_debug_command: "yes".into(),
            ..Config::default()
        };
        TestClient::with_config(config)
    }

    fn encoding(t: &mut TestClient, key: &str) -> String {
        let reply = t.run(&["DEBUG", "OBJECT", key]);
        let at = reply.find("encoding:").expect("DEBUG OBJECT reply") + 9;
        reply[at..].split(' ').next().unwrap().to_string()
    }

    /// Flat bulk strings of an array reply (RESP2), for compact assertions.
    fn bulks(reply: &str) -> Vec<String> {
        let lines: Vec<&str> = reply.split("\r\n").collect();
        lines
            .windows(2)
            .filter(|w| w[0].starts_with('$') && w[0] != "$-1")
            .map(|w| w[1].to_string())
            .collect()
    }

    #[test]
    fn zadd_flags_and_replies() {
        let mut t = TestClient::new();
        assert_eq!(t.run(&["ZADD", "z", "1", "a", "2", "b"]), ":2\r\n");
        assert_eq!(
            t.run(&["ZADD", "z", "CH", "5", "a", "2", "b", "3", "c"]),
            ":2\r\n"
        );
        assert_eq!(t.run(&["ZADD", "z", "NX", "9", "a", "4", "d"]), ":1\r\n");
        assert_eq!(
            t.run(&["ZADD", "z", "XX", "CH", "9", "a", "1", "e"]),
            ":1\r\n"
        );
        assert_eq!(
            t.run(&["ZADD", "z", "GT", "CH", "1", "a", "10", "b"]),
            ":1\r\n"
        );
        assert_eq!(
            t.run(&["ZADD", "z", "LT", "CH", "20", "b", "0", "c"]),
            ":1\r\n"
        );
        assert_eq!(t.run(&["ZADD", "z", "INCR", "1.5", "c"]), "$3\r\n1.5\r\n");
        assert_eq!(t.run(&["ZADD", "z", "XX", "INCR", "1", "nope"]), "$-1\r\n");
        assert_eq!(t.run(&["ZADD", "z", "GT", "INCR", "-1", "c"]), "$-1\r\n");
        assert_eq!(
            bulks(&t.run(&["ZRANGE", "z", "0", "-1", "WITHSCORES"])),
            ["c", "1.5", "d", "4", "a", "9", "b", "10"]
        );
        assert_eq!(t.run(&["ZADD", "missing", "XX", "1", "a"]), ":0\r\n");
        assert_eq!(t.run(&["EXISTS", "missing"]), ":0\r\n");
    }

    #[test]
    fn zadd_errors() {
        let mut t = TestClient::new();
        for (args, err) in [
            (
                &["ZADD", "z", "NX", "XX", "1", "a"][..],
                "-ERR XX and NX options at the same time are not compatible\r\n",
            ),
            (
                &["ZADD", "z", "GT", "LT", "1", "a"],
                "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n",
            ),
            (
                &["ZADD", "z", "INCR", "1", "a", "2", "b"],
                "-ERR INCR option supports a single increment-element pair\r\n",
            ),
            (&["ZADD", "z", "1", "a", "2"], "-ERR syntax error\r\n"),
            (
                &["ZADD", "z", "nan", "a"],
                "-ERR value is not a valid float\r\n",
            ),
            (
                &["ZINCRBY", "z", "x", "a"],
                "-ERR value is not a valid float\r\n",
            ),
        ] {
            assert_eq!(t.run(args), err, "{args:?}");
        }
        t.run(&["ZADD", "z", "inf", "a"]);
        assert_eq!(
            t.run(&["ZINCRBY", "z", "-inf", "a"]),
            "-ERR resulting score is not a number (NaN)\r\n"
        );
        t.run(&["SET", "s", "x"]);
        assert!(t.run(&["ZADD", "s", "1", "a"]).starts_with("-WRONGTYPE"));
        assert!(t.run(&["ZRANGE", "s", "0", "-1"]).starts_with("-WRONGTYPE"));
    }

    #[test]
    fn ranges_by_rank_score_and_lex() {
        let mut t = TestClient::new();
        t.run(&[
            "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
        ]);
        assert_eq!(bulks(&t.run(&["ZRANGE", "z", "-2", "-1"])), ["d", "e"]);
        assert_eq!(bulks(&t.run(&["ZRANGE", "z", "0", "1", "REV"])), ["e", "d"]);
        assert_eq!(
            bulks(&t.run(&["ZRANGE", "z", "(1", "3", "BYSCORE"])),
            ["b", "c"]
        );
        assert_eq!(
            bulks(&t.run(&[
                "ZRANGE", "z", "+inf", "(2", "BYSCORE", "REV", "LIMIT", "1", "2"
            ])),
            ["d", "c"]
        );
        assert_eq!(
            bulks(&t.run(&["ZREVRANGEBYSCORE", "z", "4", "2"])),
            ["d", "c", "b"]
        );
        assert_eq!(t.run(&["ZCOUNT", "z", "(1", "(5"]), ":3\r\n");
        assert_eq!(
            t.run(&["ZRANGEBYSCORE", "z", "x", "1"]),
            "-ERR min or max is not a float\r\n"
        );
        t.run(&["ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d"]);
        assert_eq!(bulks(&t.run(&["ZRANGEBYLEX", "l", "(a", "[c"])), ["b", "c"]);
        assert_eq!(
            bulks(&t.run(&["ZREVRANGEBYLEX", "l", "+", "(b"])),
            ["d", "c"]
        );
        assert_eq!(t.run(&["ZLEXCOUNT", "l", "-", "+"]), ":4\r\n");
        assert_eq!(
            t.run(&["ZLEXCOUNT", "l", "a", "+"]),
            "-ERR min or max not valid string range item\r\n"
        );
        assert_eq!(t.run(&["ZRANGESTORE", "d", "z", "1", "2"]), ":2\r\n");
        assert_eq!(bulks(&t.run(&["ZRANGE", "d", "0", "-1"])), ["b", "c"]);
        assert_eq!(t.run(&["ZRANGESTORE", "d", "z", "9", "10"]), ":0\r\n");
        assert_eq!(t.run(&["EXISTS", "d"]), ":0\r\n");
    }

    #[test]
    fn removals_delete_emptied_keys() {
        let mut t = TestClient::new();
        t.run(&["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
        assert_eq!(t.run(&["ZREMRANGEBYSCORE", "z", "(1", "2"]), ":1\r\n");
        assert_eq!(t.run(&["ZREMRANGEBYRANK", "z", "-1", "-1"]), ":1\r\n");
        assert_eq!(t.run(&["ZREM", "z", "a", "x"]), ":1\r\n");
        assert_eq!(t.run(&["EXISTS", "z"]), ":0\r\n");
        t.run(&["ZADD", "p", "1", "a", "2", "b"]);
        assert_eq!(bulks(&t.run(&["ZPOPMAX", "p", "5"])), ["b", "2", "a", "1"]);
        assert_eq!(t.run(&["EXISTS", "p"]), ":0\r\n");
        t.run(&["ZADD", "q", "1", "a"]);
        assert_eq!(
            t.run(&["ZMPOP", "2", "p", "q", "MIN"]),
            "*2\r\n$1\r\nq\r\n*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
        );
        assert_eq!(t.run(&["ZMPOP", "2", "p", "q", "MIN"]), "*-1\r\n");
    }

    #[test]
    fn resp3_shapes_follow_redis_7_0() {
        let mut t = TestClient::new();
        t.run(&["HELLO", "3"]);
        t.run(&["ZADD", "z", "1", "a", "2", "b"]);
        assert_eq!(t.run(&["ZSCORE", "z", "a"]), ",1\r\n");
        assert_eq!(t.run(&["ZSCORE", "z", "x"]), "_\r\n");
        assert_eq!(
            t.run(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
            "*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2\r\n"
        );
        assert_eq!(t.run(&["ZPOPMIN", "z"]), "*2\r\n$1\r\na\r\n,1\r\n");
        assert_eq!(
            t.run(&["ZPOPMIN", "z", "1"]),
            "*1\r\n*2\r\n$1\r\nb\r\n,2\r\n"
        );
        assert_eq!(t.run(&["ZMPOP", "1", "z", "MIN"]), "_\r\n");
    }

    #[test]
    fn set_operations() {
        let mut t = TestClient::new();
        t.run(&["ZADD", "a", "1", "x", "2", "y"]);
        t.run(&["ZADD", "b", "10", "y", "20", "z"]);
        assert_eq!(
            bulks(&t.run(&["ZUNION", "2", "a", "b", "WEIGHTS", "2", "1", "WITHSCORES"])),
            ["x", "2", "y", "14", "z", "20"]
        );
        assert_eq!(
            bulks(&t.run(&["ZINTER", "2", "a", "b", "AGGREGATE", "MIN", "WITHSCORES"])),
            ["y", "2"]
        );
        assert_eq!(bulks(&t.run(&["ZDIFF", "2", "b", "a"])), ["z"]);
        assert_eq!(
            t.run(&["ZINTERCARD", "2", "a", "b", "LIMIT", "5"]),
            ":1\r\n"
        );
        assert_eq!(t.run(&["ZUNIONSTORE", "d", "2", "a", "b"]), ":3\r\n");
        assert_eq!(t.run(&["ZDIFFSTORE", "d", "2", "a", "a"]), ":0\r\n");
        assert_eq!(t.run(&["EXISTS", "d"]), ":0\r\n");
        assert_eq!(
            t.run(&["ZUNION", "0", "a"]),
            "-ERR at least 1 input key is needed for 'zunion' command\r\n"
        );
        assert_eq!(
            t.run(&["ZDIFF", "1", "a", "WEIGHTS", "1"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            t.run(&["ZUNION", "1", "a", "WEIGHTS", "x"]),
            "-ERR weight value is not a float\r\n"
        );
    }

    #[test]
    fn plain_sets_are_inputs_scored_one() {
        let mut t = TestClient::new();
        t.run(&["SADD", "s", "1", "x"]);
        t.run(&["ZADD", "z", "5", "x", "7", "y"]);
        assert_eq!(
            bulks(&t.run(&["ZUNION", "2", "s", "z", "WITHSCORES"])),
            ["1", "1", "x", "6", "y", "7"]
        );
        assert_eq!(bulks(&t.run(&["ZINTER", "2", "z", "s"])), ["x"]);
        assert_eq!(bulks(&t.run(&["ZDIFF", "2", "s", "z"])), ["1"]);
    }

    #[test]
    fn encodings_convert_at_the_thresholds() {
        let mut t = client_with_limits(3, 5);
        t.run(&["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
        assert_eq!(encoding(&mut t, "z"), "listpack");
        t.run(&["ZADD", "z", "4", "d"]);
        assert_eq!(encoding(&mut t, "z"), "skiplist");
        t.run(&["ZREM", "z", "d"]);
        assert_eq!(encoding(&mut t, "z"), "skiplist");
        t.run(&["ZRANGESTORE", "s", "z", "0", "1"]);
        assert_eq!(encoding(&mut t, "s"), "listpack");
        t.run(&["ZADD", "s", "1", "longer"]);
        assert_eq!(encoding(&mut t, "s"), "skiplist");
        t.run(&["ZADD", "long", "1", "longer"]);
        assert_eq!(encoding(&mut t, "long"), "skiplist");
        assert_eq!(t.run(&["ZRANK", "z", "c"]), ":2\r\n");
        assert_eq!(t.run(&["ZREVRANK", "z", "c"]), ":0\r\n");
    }

    #[test]
    fn zscan_visits_every_member_of_a_large_set() {
        let mut t = client_with_limits(4, 64);
        for i in 0..300 {
            t.run(&["ZADD", "z", &i.to_string(), &format!("m{i}")]);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = "0".to_string();
        loop {
            let reply = t.run(&["ZSCAN", "z", &cursor, "COUNT", "20"]);
            let items = bulks(&reply);
            cursor = items[0].clone();
            for pair in items[1..].chunks(2) {
                assert_eq!(pair[0], format!("m{}", pair[1]));
                seen.insert(pair[0].clone());
            }
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen.len(), 300);
        assert_eq!(t.run(&["ZSCAN", "z", "x"]), "-ERR invalid cursor\r\n");
        assert_eq!(t.run(&["ZSCAN", "nope", "0"]), "*2\r\n$1\r\n0\r\n*0\r\n");
    }

    #[test]
    fn zrandmember_counts() {
        let mut t = TestClient::new();
        t.run(&["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
        let distinct = bulks(&t.run(&["ZRANDMEMBER", "z", "2"]));
        assert_eq!(distinct.len(), 2);
        assert_ne!(distinct[0], distinct[1]);
        assert_eq!(bulks(&t.run(&["ZRANDMEMBER", "z", "-7"])).len(), 7);
        assert_eq!(
            bulks(&t.run(&["ZRANDMEMBER", "z", "9", "WITHSCORES"])).len(),
            6
        );
        assert_eq!(t.run(&["ZRANDMEMBER", "nope"]), "$-1\r\n");
        assert_eq!(
            t.run(&["ZRANDMEMBER", "z", "1", "x"]),
            "-ERR syntax error\r\n"
        );
    }

    #[test]
    fn numkeys_key_positions() {
        let owned: crate::cmd::args::OwnedArgs =
            ["ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"]
                .iter()
                .collect();
        let mut out = Vec::new();
        dest_and_numkeys_at_2(&owned.view(), &mut out);
        assert_eq!(out, [1, 3, 4]);
        let owned: crate::cmd::args::OwnedArgs = ["ZMPOP", "x", "a"].iter().collect();
        out.clear();
        numkeys_at_1(&owned.view(), &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn score_bounds_read_like_strtod() {
        let b = |t: &str| parse_score_bound(t.as_bytes()).map(|b| (b.value, b.exclusive));
        assert_eq!(b("(1.5"), Some((1.5, true)));
        assert_eq!(b(""), Some((0.0, false)));
        assert_eq!(b(" 2"), Some((2.0, false)));
        assert_eq!(b("1e400"), Some((f64::INFINITY, false)));
        assert_eq!(b("0x10"), Some((16.0, false)));
        assert_eq!(b("nan"), None);
        assert_eq!(b("1x"), None);
    }

    mod model {
        //! Random command sequences against a `BTreeMap` model of a sorted set.
        use super::*;
        use proptest::prelude::*;
        use std::collections::BTreeMap;

        #[derive(Debug, Clone)]
        enum Op {
            Add(u8, i8),
            Incr(u8, i8),
            Rem(u8),
            RemRank(i8, i8),
            PopMin(u8),
            RangeByScore(i8, i8),
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                4 => (0..24u8, -5..5i8).prop_map(|(m, s)| Op::Add(m, s)),
                1 => (0..24u8, -3..3i8).prop_map(|(m, s)| Op::Incr(m, s)),
                2 => (0..24u8).prop_map(Op::Rem),
                1 => (-6..6i8, -6..6i8).prop_map(|(a, b)| Op::RemRank(a, b)),
                1 => (0..3u8).prop_map(Op::PopMin),
                1 => (-5..5i8, -5..5i8).prop_map(|(a, b)| Op::RangeByScore(a, b)),
            ]
        }

        /// Model order: (score, member) ascending.
        fn ordered(model: &BTreeMap<String, i64>) -> Vec<(String, i64)> {
            let mut v: Vec<_> = model.iter().map(|(m, s)| (m.clone(), *s)).collect();
            v.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
            v
        }

        fn name(m: u8) -> String {
            format!("m{m:02}")
        }

        fn apply(t: &mut TestClient, model: &mut BTreeMap<String, i64>, op: &Op) {
            match op {
                Op::Add(m, s) => {
                    let fresh = !model.contains_key(&name(*m));
                    let reply = t.run(&["ZADD", "z", &s.to_string(), &name(*m)]);
                    assert_eq!(reply, format!(":{}\r\n", fresh as i32));
                    model.insert(name(*m), *s as i64);
                }
                Op::Incr(m, s) => {
                    let v = model.entry(name(*m)).or_insert(0);
                    *v += *s as i64;
                    let reply = t.run(&["ZINCRBY", "z", &s.to_string(), &name(*m)]);
                    assert_eq!(bulks(&reply), [v.to_string()]);
                }
                Op::Rem(m) => {
                    let had = model.remove(&name(*m)).is_some();
                    assert_eq!(
                        t.run(&["ZREM", "z", &name(*m)]),
                        format!(":{}\r\n", had as i32)
                    );
                }
                Op::RemRank(a, b) => {
                    let all = ordered(model);
                    let removed = match clamp_ranks(*a as i64, *b as i64, all.len()) {
                        Some((lo, hi)) => &all[lo..=hi],
                        None => &all[0..0],
                    };
                    removed.iter().for_each(|(m, _)| {
                        model.remove(m);
                    });
                    let reply = t.run(&["ZREMRANGEBYRANK", "z", &a.to_string(), &b.to_string()]);
                    assert_eq!(reply, format!(":{}\r\n", removed.len()));
                }
                Op::PopMin(n) => {
                    let all = ordered(model);
                    let popped: Vec<String> = all
                        .iter()
                        .take(*n as usize)
                        .flat_map(|(m, s)| [m.clone(), s.to_string()])
                        .collect();
                    all.iter().take(*n as usize).for_each(|(m, _)| {
                        model.remove(m);
                    });
                    assert_eq!(bulks(&t.run(&["ZPOPMIN", "z", &n.to_string()])), popped);
                }
                Op::RangeByScore(a, b) => {
                    let want: Vec<String> = ordered(model)
                        .into_iter()
                        .filter(|(_, s)| *s >= *a as i64 && *s <= *b as i64)
                        .map(|(m, _)| m)
                        .collect();
                    let reply = t.run(&["ZRANGEBYSCORE", "z", &a.to_string(), &b.to_string()]);
                    assert_eq!(bulks(&reply), want);
                }
            }
        }

        fn check(t: &mut TestClient, model: &BTreeMap<String, i64>) {
            let want: Vec<String> = ordered(model)
                .into_iter()
                .flat_map(|(m, s)| [m, s.to_string()])
                .collect();
            assert_eq!(
                bulks(&t.run(&["ZRANGE", "z", "0", "-1", "WITHSCORES"])),
                want
            );
            assert_eq!(t.run(&["ZCARD", "z"]), format!(":{}\r\n", model.len()));
            assert_eq!(
                t.run(&["EXISTS", "z"]),
                format!(":{}\r\n", !model.is_empty() as i32)
            );
            for (rank, (m, _)) in ordered(model).iter().enumerate() {
                assert_eq!(t.run(&["ZRANK", "z", m]), format!(":{rank}\r\n"));
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(48))]
            #[test]
            fn zset_matches_model(ops in proptest::collection::vec(op(), 1..80), entries in 0usize..12) {
                let mut t = client_with_limits(entries, 64);
                let mut model = BTreeMap::new();
                for op in &ops {
                    apply(&mut t, &mut model, op);
                    check(&mut t, &model);
                }
            }
        }
    }
}
