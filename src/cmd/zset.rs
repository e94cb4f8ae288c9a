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
    CommandSpec::new("zrandmember", -2, READONLY, key1(), zrandmember)
        .doc(ZSET, "6.2.0", "Returns random members, distinct for a positive count, possibly repeated for a negative one.")
        .complexity("O(N) where N is the number of members returned")
        .tips(&["nondeterministic_output"]),
    CommandSpec::new("zunion", -3, READONLY, Keys::Custom(numkeys_at_1), zunion)
        .doc(ZSET, "6.2.0", "Returns the union of sorted sets (and sets).")
        .complexity("O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set."),
    CommandSpec::new("zunionstore", -4, WRITE | DENYOOM, Keys::Custom(dest_and_numkeys_at_2), zunionstore)
        .doc(ZSET, "2.0.0", "Stores the union of sorted sets (and sets) in a key.")
        .complexity("O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set."),
    CommandSpec::new("zinter", -3, READONLY, Keys::Custom(numkeys_at_1), zinter)
        .doc(ZSET, "6.2.0", "Returns the intersection of sorted sets (and sets).")
        .complexity("O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set."),
    CommandSpec::new("zinterstore", -4, WRITE | DENYOOM, Keys::Custom(dest_and_numkeys_at_2), zinterstore)
        .doc(ZSET, "2.0.0", "Stores the intersection of sorted sets (and sets) in a key.")
        .complexity("O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set."),
    CommandSpec::new("zintercard", -3, READONLY, Keys::Custom(numkeys_at_1), zintercard)
        .doc(ZSET, "7.0.0", "Counts the members of the intersection of sorted sets, optionally stopping at a limit.")
        .complexity("O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets."),
    CommandSpec::new("zdiff", -3, READONLY, Keys::Custom(numkeys_at_1), zdiff)
        .doc(ZSET, "6.2.0", "Returns the members of the first sorted set that are in none of the others.")
        .complexity("O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set."),
    CommandSpec::new("zdiffstore", -4, WRITE | DENYOOM, Keys::Custom(dest_and_numkeys_at_2), zdiffstore)
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

/// The STORE forms: destination at 1, numkeys at 2.
fn dest_and_numkeys_at_2(args: &Args, out: &mut Vec<usize>) {
    out.push(1);
    numkeys_keys(args, 2, out);
}

// ---- shared helpers ----

fn limits(ctx: &Ctx) -> Limits {
    let config = ctx.server.config.read();
    Limits {
        max_entries: config.zset_max_listpack_entries,
        max_value: config.zset_max_listpack_value,
    }
}

fn zset_of(value: &Value) -> Result<&ZSet, CmdError> {
    match value {
        Value::ZSet(z) => Ok(z),
        _ => Err(CmdError::WrongType),
    }
}

fn zset_of_mut(value: &mut Value) -> Result<&mut ZSet, CmdError> {
    match value {
        Value::ZSet(z) => Ok(z),
        _ => Err(CmdError::WrongType),
    }
}

/// Looks a key up for reading (counts a hit or miss); WRONGTYPE for other types.
fn read_zset<'d>(db: &'d mut Db<'_, '_>, key: &[u8]) -> Result<Option<&'d ZSet>, CmdError> {
    db.read(key).map(|e| zset_of(&e.value)).transpose()
}

/// Looks a key up for writing; WRONGTYPE for other types.
fn write_zset<'d>(db: &'d mut Db<'_, '_>, key: &[u8]) -> Result<Option<&'d mut ZSet>, CmdError> {
    db.get(key).map(|e| zset_of_mut(&mut e.value)).transpose()
}

/// After members were removed: records the change and deletes the key if the
/// set emptied.
fn after_removal(db: &mut Db, key: &[u8], removed: usize) {
    if removed == 0 {
        return;
    }
    let empty = db
        .get(key)
        .is_some_and(|e| matches!(&e.value, Value::ZSet(z) if z.is_empty()));
    if empty {
        db.remove(key);
    } else {
        db.modified(key);
    }
}

/// Writes `entries` to `dest` (or deletes it when there are none); replies
/// with the count, as every STORE command does.
fn store_result(ctx: &mut Ctx, dest: &[u8], entries: Vec<(Vec<u8>, f64)>) {
    let count = entries.len();
    if count == 0 {
        ctx.db.remove(dest);
    } else {
        let value = ZSet::from_entries(entries, limits(ctx));
        ctx.db.set(dest, Value::ZSet(value));
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
    if (flags.gt && flags.nx) || (flags.lt && flags.nx) || (flags.gt && flags.lt) {
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
    after_removal(&mut ctx.db, key, removed);
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
            Bounds::Lex(min, max) => {
                let lo = lex_position(z, min, true);
                let hi = lex_position(z, max, false);
                (lo, hi.max(lo))
            }
        }
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
    if limit.is_some() && by == By::Rank {
        return Err(CmdError::Msg(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
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
    store_result(ctx, args.get(1), entries);
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

fn remove_range_generic(ctx: &mut Ctx, args: &Args, bounds: Bounds) -> CmdResult {
    let key = args.get(1);
    let removed = match write_zset(&mut ctx.db, key)? {
        Some(z) => {
            let (lo, hi) = bounds.resolve(z, false);
            z.remove_ranks(lo, hi)
        }
        None => 0,
    };
    after_removal(&mut ctx.db, key, removed);
    ctx.out.int(removed as i64);
    Ok(())
}

fn zremrangebyrank(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let bounds = Bounds::rank(args.get(2), args.get(3))?;
    remove_range_generic(ctx, args, bounds)
}

fn zremrangebyscore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let bounds = Bounds::score(args.get(2), args.get(3))?;
    remove_range_generic(ctx, args, bounds)
}

fn zremrangebylex(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let bounds = Bounds::lex(args.get(2), args.get(3))?;
    remove_range_generic(ctx, args, bounds)
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
    after_removal(db, key, n);
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

fn zmpop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let numkeys = match parse_i64(args.get(1)) {
        Some(n) if n > 0 => n as usize,
        _ => return Err(CmdError::Msg("ERR numkeys should be greater than 0")),
    };
    let where_at = 2 + numkeys;
    if where_at >= args.len() {
        return Err(CmdError::Syntax);
    }
    let max = if args.is(where_at, "max") {
        true
    } else if args.is(where_at, "min") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let mut count = 1;
    let mut i = where_at + 1;
    let mut count_seen = false;
    while i < args.len() {
        if !count_seen && args.is(i, "count") && i + 1 < args.len() {
            count = match parse_i64(args.get(i + 1)) {
                Some(n) if n > 0 => n as usize,
                _ => return Err(CmdError::Msg("ERR count should be greater than 0")),
            };
            count_seen = true;
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    for key in (2..where_at).map(|k| args.get(k)) {
        if write_zset(&mut ctx.db, key)?.is_none() {
            continue;
        }
        let popped = pop_from(&mut ctx.db, key, count, max);
        ctx.out.array(2);
        ctx.out.bulk(key);
        ctx.out.array(popped.len());
        for (m, s) in &popped {
            ctx.out.array(2);
            ctx.out.bulk(m);
            ctx.out.double(*s);
        }
        return Ok(());
    }
    ctx.out.null_array();
    Ok(())
}

// ---- ZRANDMEMBER ----

fn zrandmember(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() == 2 {
        let z = read_zset(&mut ctx.db, args.get(1))?;
        match z.filter(|z| !z.is_empty()) {
            Some(z) => {
                let rank = ctx.client.rng.random_range(0..z.len());
                ctx.out.bulk(z.at_rank(rank).expect("rank in range").0);
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
    if withscores && (count < -i64::MAX / 2 || count > i64::MAX / 2) {
        return Err(CmdError::Msg("ERR value is out of range"));
    }
    let Some(z) = read_zset(&mut ctx.db, args.get(1))? else {
        ctx.out.array(0);
        return Ok(());
    };
    let rng = &mut ctx.client.rng;
    let len = z.len();
    let ranks: Vec<usize> = if count < 0 {
        let n = count.unsigned_abs() as usize;
        (0..n).map(|_| rng.random_range(0..len)).collect()
    } else if count as usize >= len {
        (0..len).collect()
    } else {
        rand::seq::index::sample(rng, len, count as usize).into_vec()
    };
    let entries: Vec<(Vec<u8>, f64)> = ranks
        .into_iter()
        .map(|r| {
            let (m, s) = z.at_rank(r).expect("rank in range");
            (m.to_vec(), s)
        })
        .collect();
    reply_entries(ctx.out, &entries, withscores);
    Ok(())
}

// ---- union, intersection, difference ----

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
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
    keys: std::ops::Range<usize>,
    weights: Vec<f64>,
    aggregate: Aggregate,
    withscores: bool,
}

/// Parses `numkeys key... [WEIGHTS w...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]`
/// with numkeys at `at`; ZDIFF takes neither WEIGHTS nor AGGREGATE, the STORE
/// forms no WITHSCORES.
fn parse_set_op(
    args: &Args,
    at: usize,
    op: SetOp,
    store: bool,
    command: &str,
) -> Result<SetOpRequest, CmdError> {
    let n = parse_numkeys(args, at, command)?;
    let keys = at + 1..at + 1 + n;
    let mut request = SetOpRequest {
        weights: vec![1.0; n],
        keys,
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

/// A plain set as an input, every member scored 1. The set family's value is
/// still a placeholder that holds no members, so this is the empty input;
/// it becomes an iteration over the set once that family lands.
fn set_input(set: &crate::db::set::Set) -> Input {
    debug_assert!(set.is_empty());
    Vec::new()
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
    result.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    result
}

fn set_op(ctx: &mut Ctx, args: &Args, op: SetOp, store: bool) -> CmdResult {
    let command = args.str(0).to_ascii_lowercase();
    let at = if store { 2 } else { 1 };
    let request = parse_set_op(args, at, op, store, &command)?;
    let inputs = read_inputs(&mut ctx.db, args, request.keys.clone())?;
    let result = compute(op, inputs, &request.weights, request.aggregate);
    if store {
        store_result(ctx, args.get(1), result);
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
    let inputs = read_inputs(&mut ctx.db, args, 2..2 + n)?;
    let weights = vec![1.0; n];
    let mut count = compute(SetOp::Inter, inputs, &weights, Aggregate::Sum).len();
    if limit > 0 {
        count = count.min(limit);
    }
    ctx.out.int(count as i64);
    Ok(())
}

// ---- ZSCAN ----

/// A SCAN cursor as `strtoul` reads it (a leading minus wraps around).
fn parse_cursor(text: &[u8]) -> Option<u64> {
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() && !text.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

fn zscan(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let cursor = parse_cursor(args.get(2)).ok_or(CmdError::Msg("ERR invalid cursor"))?;
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
    use crate::testkit::TestClient;
}
