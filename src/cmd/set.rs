//! Set commands: SADD and friends, the random pickers, the algebra (SINTER,
//! SUNION, SDIFF and their STORE forms, SINTERCARD) and SSCAN.
//!
//! Results that Redis builds as a fresh set (SUNION, SDIFF, every *STORE,
//! SPOP of the whole set) are built the same way here: starting as an intset
//! and converting when needed, so their encoding and, for all-integer
//! results, their order match Redis's.

use rand::RngExt;

use super::spec::{CommandSpec, Keys, flag::*, key1, keys_all, keys_range};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::db::set::{Member, Set};
use crate::db::{Bytes24, Db, Value};
use crate::protocol::Reply;
use crate::protocol::parse::parse_i64;
use crate::server::notify;
use crate::util::glob::glob_match;

const SET: &str = "set";
const ORDER_TIP: &[&str] = &["nondeterministic_output_order"];
const OUTPUT_TIP: &[&str] = &["nondeterministic_output"];

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sadd", -3, WRITE | DENYOOM | FAST, key1(), sadd)
        .doc(SET, "1.0.0", "Adds members to a set, creating it if needed.")
        .complexity("O(1) for each member added."),
    CommandSpec::new("srem", -3, WRITE | FAST, key1(), srem)
        .doc(SET, "1.0.0", "Removes members from a set; the key goes once the set is empty.")
        .complexity("O(N) where N is the number of members to remove."),
    CommandSpec::new("smembers", 2, READONLY, key1(), smembers)
        .doc(SET, "1.0.0", "Returns every member of a set.")
        .complexity("O(N) where N is the set's cardinality.")
        .tips(ORDER_TIP),
    CommandSpec::new("sismember", 3, READONLY | FAST, key1(), sismember)
        .doc(SET, "1.0.0", "Tells whether a value is a member of a set."),
    CommandSpec::new("smismember", -3, READONLY | FAST, key1(), smismember)
        .doc(SET, "6.2.0", "Tells, for each of several values, whether it is a member of a set.")
        .complexity("O(N) where N is the number of values checked."),
    CommandSpec::new("scard", 2, READONLY | FAST, key1(), scard)
        .doc(SET, "1.0.0", "Returns the number of members of a set."),
    CommandSpec::new("spop", -2, WRITE | FAST, key1(), spop)
        .doc(SET, "1.0.0", "Removes and returns one or more random members of a set.")
        .complexity("Without count O(1), otherwise O(N) where N is the count.")
        .tips(OUTPUT_TIP),
    CommandSpec::new("srandmember", -2, READONLY, key1(), srandmember)
        .doc(SET, "1.0.0", "Returns random members of a set, distinct for a positive count, possibly repeated for a negative one.")
        .complexity("Without count O(1), otherwise O(N) where N is the absolute count.")
        .tips(OUTPUT_TIP),
    CommandSpec::new("smove", 4, WRITE | FAST, keys_range(1, 2, 1), smove)
        .doc(SET, "1.0.0", "Moves a member from one set to another."),
    CommandSpec::new("sinter", -2, READONLY, keys_all(1), sinter)
        .doc(SET, "1.0.0", "Returns the intersection of sets.")
        .complexity("O(N*M) worst case, N the smallest set's cardinality and M the number of sets.")
        .tips(ORDER_TIP),
    CommandSpec::new("sintercard", -3, READONLY, Keys::Custom(numkeys_keys), sintercard)
        .doc(SET, "7.0.0", "Returns the cardinality of the intersection of sets, optionally stopping at a limit.")
        .complexity("O(N*M) worst case, N the smallest set's cardinality and M the number of sets."),
    CommandSpec::new("sinterstore", -3, WRITE | DENYOOM, keys_all(1), sinterstore)
        .doc(SET, "1.0.0", "Stores the intersection of sets in a key.")
        .complexity("O(N*M) worst case, N the smallest set's cardinality and M the number of sets."),
    CommandSpec::new("sunion", -2, READONLY, keys_all(1), sunion)
        .doc(SET, "1.0.0", "Returns the union of sets.")
        .complexity("O(N) where N is the total number of members of all the sets.")
        .tips(ORDER_TIP),
    CommandSpec::new("sunionstore", -3, WRITE | DENYOOM, keys_all(1), sunionstore)
        .doc(SET, "1.0.0", "Stores the union of sets in a key.")
        .complexity("O(N) where N is the total number of members of all the sets."),
    CommandSpec::new("sdiff", -2, READONLY, keys_all(1), sdiff)
        .doc(SET, "1.0.0", "Returns the members of the first set that are in none of the others.")
        .complexity("O(N) where N is the total number of members of all the sets.")
        .tips(ORDER_TIP),
    CommandSpec::new("sdiffstore", -3, WRITE | DENYOOM, keys_all(1), sdiffstore)
        .doc(SET, "1.0.0", "Stores the difference of sets in a key.")
        .complexity("O(N) where N is the total number of members of all the sets."),
    CommandSpec::new("sscan", -3, READONLY, key1(), sscan)
        .doc(SET, "2.8.0", "Iterates over the members of a set.")
        .complexity("O(1) per call, O(N) for a complete iteration.")
        .tips(OUTPUT_TIP),
];

// ---- shared helpers ----

super::typed::typed_access!(Set, Set, set_of, set_of_mut, read_set, write_set);

/// Reads several keys at once, as the set algebra needs them. Each key is
/// looked up in turn (counting hits and misses) and the first one holding
/// another type fails the command, as in Redis; missing keys are None.
fn sets_of<'d>(db: &'d mut Db<'_, '_>, keys: &[&[u8]]) -> Result<Vec<Option<&'d Set>>, CmdError> {
    for key in keys {
        if let Some(entry) = db.read(key) {
            set_of(&entry.value)?;
        }
    }
    let db: &'d Db = db;
    Ok(keys
        .iter()
        .map(|key| db.peek(key).and_then(|e| set_of(&e.value).ok()))
        .collect())
}

/// `set-max-intset-entries`, read once per command.
fn max_intset(ctx: &Ctx) -> usize {
    ctx.server.config.read().set_max_intset_entries
}

fn reply_member(out: &mut Reply, member: Member<'_>) {
    match member {
        Member::Int(n) => out.bulk_int(n),
        Member::Bytes(b) => out.bulk(b),
    }
}

/// Every member of `set` as a RESP3 set (an array in RESP2), in set order.
fn reply_set(out: &mut Reply, set: &Set) {
    out.set(set.len());
    set.for_each(|m| reply_member(out, m));
}

/// After members left a set (keyspace event `event`): the key goes when the
/// set is empty, and `del` follows.
fn after_removal(db: &mut Db, key: &[u8], now_empty: bool, event: &'static str) {
    db.notify(notify::SET, event, key);
    if now_empty {
        db.remove(key);
        db.notify(notify::GENERIC, "del", key);
    } else {
        db.modified(key);
    }
}

/// Counts `changes` writes against `key` (Redis's dirty counter moves by the
/// number of members changed).
fn changed(db: &mut Db, key: &[u8], changes: usize) {
    db.modified(key);
    if changes > 1 {
        db.add_dirty(changes as u64 - 1);
    }
}

// ---- single-set commands ----

fn sadd(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let max = max_intset(ctx);
    let key = args.get(1);
    let members = args.iter().skip(2);
    let added = match write_set(&mut ctx.db, key)? {
        Some(set) => {
            let added = members.filter(|m| set.insert(m, max)).count();
            if added > 0 {
                changed(&mut ctx.db, key, added);
            }
            added
        }
        None => {
            let mut set = Set::for_first_member(args.get(2));
            let added = members.filter(|m| set.insert(m, max)).count();
            ctx.db.set(key, Value::Set(set.into()));
            ctx.db.add_dirty(added as u64 - 1);
            added
        }
    };
    if added > 0 {
        ctx.db.notify(notify::SET, "sadd", key);
    }
    ctx.out.int(added as i64);
    Ok(())
}

fn srem(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let Some(set) = write_set(&mut ctx.db, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let mut removed = 0;
    for member in args.iter().skip(2) {
        if set.remove(member) {
            removed += 1;
            if set.is_empty() {
                break;
            }
        }
    }
    let now_empty = set.is_empty();
    if removed > 0 {
        after_removal(&mut ctx.db, key, now_empty, "srem");
        ctx.db.add_dirty(removed as u64 - 1);
    }
    ctx.out.int(removed);
    Ok(())
}

fn smembers(ctx: &mut Ctx, args: &Args) -> CmdResult {
    match read_set(&mut ctx.db, args.get(1))? {
        Some(set) => reply_set(ctx.out, set),
        None => ctx.out.set(0),
    }
    Ok(())
}

fn sismember(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let found = read_set(&mut ctx.db, args.get(1))?.is_some_and(|s| s.contains(args.get(2)));
    ctx.out.int(found as i64);
    Ok(())
}

fn smismember(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let set = read_set(&mut ctx.db, args.get(1))?;
    ctx.out.array(args.len() - 2);
    for member in args.iter().skip(2) {
        ctx.out.int(set.is_some_and(|s| s.contains(member)) as i64);
    }
    Ok(())
}

fn scard(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let len = read_set(&mut ctx.db, args.get(1))?.map_or(0, Set::len);
    ctx.out.int(len as i64);
    Ok(())
}

fn smove(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (src, dst, member) = (args.get(1), args.get(2), args.get(3));
    let max = max_intset(ctx);
    // A missing source answers 0 before the destination's type is checked.
    if write_set(&mut ctx.db, src)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let dst_exists = write_set(&mut ctx.db, dst)?.is_some();
    if src == dst {
        let found = write_set(&mut ctx.db, src)?.is_some_and(|s| s.contains(member));
        ctx.out.int(found as i64);
        return Ok(());
    }
    let set = write_set(&mut ctx.db, src)?.expect("checked above");
    if !set.remove(member) {
        ctx.out.int(0);
        return Ok(());
    }
    let now_empty = set.is_empty();
    after_removal(&mut ctx.db, src, now_empty, "srem");
    if dst_exists {
        let set = write_set(&mut ctx.db, dst)?.expect("checked above");
        if set.insert(member, max) {
            ctx.db.modified(dst);
            ctx.db.notify(notify::SET, "sadd", dst);
        }
    } else {
        let mut set = Set::for_first_member(member);
        set.insert(member, max);
        ctx.db.set(dst, Value::Set(set.into()));
        ctx.db.notify(notify::SET, "sadd", dst);
    }
    ctx.out.int(1);
    Ok(())
}

// ---- random members ----

/// SPOP's count: a non-negative integer (anything else gets one message).
fn positive_count(arg: &[u8]) -> Result<usize, CmdError> {
    parse_i64(arg)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or(CmdError::Msg("ERR value is out of range, must be positive"))
}

fn spop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    match args.len() {
        2 => spop_one(ctx, args.get(1)),
        3 => spop_count(ctx, args.get(1), positive_count(args.get(2))?),
        _ => Err(CmdError::Syntax),
    }
}

fn spop_one(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let Some(set) = write_set(&mut ctx.db, key)? else {
        ctx.out.null();
        return Ok(());
    };
    let popped = set
        .pop_random(&mut ctx.client.rng)
        .expect("stored sets are never empty");
    let now_empty = set.is_empty();
    ctx.out.bulk(&popped);
    after_removal(&mut ctx.db, key, now_empty, "spop");
    // A random pick is replayed as what it picked.
    ctx.propagate_as(&[b"SREM", key, &popped]);
    Ok(())
}

fn spop_count(ctx: &mut Ctx, key: &[u8], count: usize) -> CmdResult {
    let max = max_intset(ctx);
    let Some(set) = write_set(&mut ctx.db, key)? else {
        ctx.out.set(0);
        return Ok(());
    };
    if count == 0 {
        ctx.out.set(0);
        return Ok(());
    }
    let size = set.len();
    if count >= size {
        // Redis answers with the union of the set alone: sorted when it fits
        // an intset.
        let whole = union(&[Some(&*set)], max);
        reply_set(ctx.out, &whole);
        after_removal(&mut ctx.db, key, true, "spop");
        ctx.db.add_dirty(size as u64 - 1);
        ctx.propagate_as(&[b"DEL", key]);
        return Ok(());
    }
    let rng = &mut ctx.client.rng;
    let remaining = size - count;
    let mut srem: Vec<Vec<u8>> = vec![b"SREM".to_vec(), key.to_vec()];
    if remaining * 5 > count {
        ctx.out.set(count);
        for _ in 0..count {
            let popped = set.pop_random(rng).expect("count < size");
            ctx.out.bulk(&popped);
            srem.push(popped.to_vec());
        }
    } else {
        // Most of the set goes: cheaper to pick the survivors and hand the
        // rest back whole.
        let mut kept = set.empty_like();
        for _ in 0..remaining {
            let survivor = set.pop_random(rng).expect("remaining < size");
            kept.insert(&survivor, max);
        }
        let popped = std::mem::replace(set, kept);
        reply_set(ctx.out, &popped);
        let mut scratch = itoa::Buffer::new();
        popped.for_each(|m| srem.push(m.bytes(&mut scratch).to_vec()));
    }
    changed(&mut ctx.db, key, count);
    ctx.db.notify(notify::SET, "spop", key);
    let srem: Vec<&[u8]> = srem.iter().map(Vec::as_slice).collect();
    ctx.propagate_as(&srem);
    Ok(())
}

fn srandmember(ctx: &mut Ctx, args: &Args) -> CmdResult {
    match args.len() {
        2 => {
            let set = read_set(&mut ctx.db, args.get(1))?;
            let out = &mut *ctx.out;
            let picked =
                set.and_then(|s| s.random_with(&mut ctx.client.rng, |m| reply_member(out, m)));
            if picked.is_none() {
                out.null();
            }
            Ok(())
        }
        3 => srandmember_count(ctx, args),
        _ => Err(CmdError::Syntax),
    }
}

/// A positive count asks for distinct members (at most the whole set), a
/// negative one for that many independent picks.
fn srandmember_count(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let n = args.int(2)?;
    if n == i64::MIN {
        return Err(CmdError::Msg(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let (count, distinct) = (n.unsigned_abs() as usize, n >= 0);
    let rng = &mut ctx.client.rng;
    let set = match read_set(&mut ctx.db, args.get(1))? {
        Some(set) if count > 0 => set,
        _ => {
            ctx.out.array(0);
            return Ok(());
        }
    };
    let out = &mut *ctx.out;
    if count == 1 {
        out.array(1);
        set.random_with(rng, |m| reply_member(out, m));
    } else if !distinct {
        // Independent picks, written as they are drawn (a huge count must
        // not allocate up front).
        out.array(count);
        let members = set.indexed();
        for _ in 0..count {
            reply_member(out, members.get(rng.random_range(0..members.len())));
        }
    } else if count >= set.len() {
        out.array(set.len());
        set.for_each(|m| reply_member(out, m));
    } else {
        let members = set.indexed();
        let picked = distinct_sample(members.len(), count, rng);
        out.array(picked.len());
        picked
            .into_iter()
            .for_each(|i| reply_member(out, members.get(i)));
    }
    Ok(())
}

/// `count` distinct random positions below `len`, `count` < `len`.
fn distinct_sample(len: usize, count: usize, rng: &mut impl rand::Rng) -> Vec<usize> {
    if count * 3 > len {
        // A large share: shuffle the front of the whole list.
        let mut all: Vec<usize> = (0..len).collect();
        for i in 0..count {
            let j = rng.random_range(i..len);
            all.swap(i, j);
        }
        all.truncate(count);
        all
    } else {
        // A small share: draw until enough distinct members came up.
        let mut seen = std::collections::HashSet::with_capacity(count);
        let mut picked = Vec::with_capacity(count);
        while picked.len() < count {
            let i = rng.random_range(0..len);
            if seen.insert(i) {
                picked.push(i);
            }
        }
        picked
    }
}

// ---- algebra ----

/// Members in every set, in the order of the smallest one (the first of
/// equal sizes, as Redis's sort leaves them), stopping after `limit` when
/// it is not 0. Any missing set makes the result empty.
fn intersect(sets: &[Option<&Set>], limit: usize, mut emit: impl FnMut(Member<'_>)) {
    let Some(mut sets) = sets.iter().copied().collect::<Option<Vec<&Set>>>() else {
        return;
    };
    sets.sort_by_key(|s| s.len());
    let (first, others) = sets.split_first().expect("at least one key");
    let mut found = 0;
    first.for_each_while(|member| {
        let everywhere = others
            .iter()
            .all(|s| std::ptr::eq(*s, *first) || s.contains_member(member));
        if everywhere {
            emit(member);
            found += 1;
        }
        limit == 0 || found < limit
    });
}

/// The union as a fresh set (intset first, as Redis builds it).
fn union(sets: &[Option<&Set>], max: usize) -> Set {
    let mut out = Set::new_intset();
    for set in sets.iter().flatten() {
        set.for_each(|member| {
            out.insert_member(member, max);
        });
    }
    out
}

/// The first set minus the others, with Redis's choice of algorithm (it
/// decides whether the result passes through a hashtable): test each member
/// of the first set against the others, or copy the first set and remove
/// the others' members.
fn difference(sets: &[Option<&Set>], max: usize) -> Set {
    let mut out = Set::new_intset();
    let Some(Some(first)) = sets.first() else {
        return out;
    };
    let present: Vec<&Set> = sets.iter().flatten().copied().collect();
    let per_member_work = first.len() * present.len() / 2;
    let copy_work: usize = present.iter().map(|s| s.len()).sum();
    if per_member_work <= copy_work {
        first.for_each(|member| {
            if !present[1..].iter().any(|s| s.contains_member(member)) {
                out.insert_member(member, max);
            }
        });
    } else {
        first.for_each(|m| {
            out.insert_member(m, max);
        });
        let mut scratch = itoa::Buffer::new();
        for set in &present[1..] {
            if out.is_empty() {
                break;
            }
            set.for_each(|member| {
                out.remove(member.bytes(&mut scratch));
            });
        }
    }
    out
}

#[derive(Clone, Copy)]
enum SetOp {
    Inter,
    Union,
    Diff,
}

impl SetOp {
    /// The keyspace event of the *STORE form.
    fn store_event(self) -> &'static str {
        match self {
            SetOp::Inter => "sinterstore",
            SetOp::Union => "sunionstore",
            SetOp::Diff => "sdiffstore",
        }
    }
}

/// The result of `op` over `keys` as a fresh set.
fn compute(db: &mut Db, keys: &[&[u8]], op: SetOp, max: usize) -> Result<Set, CmdError> {
    let sets = sets_of(db, keys)?;
    Ok(match op {
        SetOp::Inter => {
            let mut out = Set::new_intset();
            intersect(&sets, 0, |m| {
                out.insert_member(m, max);
            });
            out
        }
        SetOp::Union => union(&sets, max),
        SetOp::Diff => difference(&sets, max),
    })
}

fn keys_from<'a>(args: &Args<'a>, from: usize) -> Vec<&'a [u8]> {
    args.iter().skip(from).collect()
}

/// SUNION / SDIFF: the result set, in its own order.
fn reply_op(ctx: &mut Ctx, args: &Args, op: SetOp) -> CmdResult {
    let max = max_intset(ctx);
    let result = compute(&mut ctx.db, &keys_from(args, 1), op, max)?;
    reply_set(ctx.out, &result);
    Ok(())
}

/// The *STORE forms: the destination is replaced (TTL dropped) or deleted
/// when the result is empty; the reply is the result's size.
fn store_op(ctx: &mut Ctx, args: &Args, op: SetOp) -> CmdResult {
    let max = max_intset(ctx);
    let result = compute(&mut ctx.db, &keys_from(args, 2), op, max)?;
    let dst = args.get(1);
    let len = result.len();
    if len == 0 {
        if ctx.db.remove(dst).is_some() {
            ctx.db.notify(notify::GENERIC, "del", dst);
        }
    } else {
        ctx.db.set(dst, Value::Set(result.into()));
        ctx.db.notify(notify::SET, op.store_event(), dst);
    }
    ctx.out.int(len as i64);
    Ok(())
}

fn sinter(ctx: &mut Ctx, args: &Args) -> CmdResult {
    // Members come straight from the smallest set, in its order.
    let keys = keys_from(args, 1);
    let sets = sets_of(&mut ctx.db, &keys)?;
    // The count comes first: members are encoded aside, then copied.
    let mut members = Reply {
        resp3: ctx.out.resp3,
        ..Reply::default()
    };
    let mut count = 0;
    intersect(&sets, 0, |m| {
        reply_member(&mut members, m);
        count += 1;
    });
    ctx.out.set(count);
    ctx.out.raw(&members.buf);
    Ok(())
}

fn sinterstore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    store_op(ctx, args, SetOp::Inter)
}

fn sunion(ctx: &mut Ctx, args: &Args) -> CmdResult {
    reply_op(ctx, args, SetOp::Union)
}

fn sunionstore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    store_op(ctx, args, SetOp::Union)
}

fn sdiff(ctx: &mut Ctx, args: &Args) -> CmdResult {
    reply_op(ctx, args, SetOp::Diff)
}

fn sdiffstore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    store_op(ctx, args, SetOp::Diff)
}

/// SINTERCARD's numkeys, when it is a valid count.
fn parse_numkeys(args: &Args) -> Option<usize> {
    parse_i64(args.get(1))
        .filter(|&n| n > 0)
        .and_then(|n| usize::try_from(n).ok())
}

/// Key positions of `SINTERCARD numkeys key...`.
fn numkeys_keys(args: &Args, out: &mut Vec<usize>) {
    if args.len() < 2 {
        return;
    }
    if let Some(n) = parse_numkeys(args) {
        out.extend((2..args.len()).take(n));
    }
}

fn sintercard(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let numkeys =
        parse_numkeys(args).ok_or(CmdError::Msg("ERR numkeys should be greater than 0"))?;
    if numkeys > args.len() - 2 {
        return Err(CmdError::Msg(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let mut limit = 0;
    let mut i = 2 + numkeys;
    while i < args.len() {
        if args.is(i, "limit") && i + 1 < args.len() {
            limit = parse_i64(args.get(i + 1))
                .and_then(|n| usize::try_from(n).ok())
                .ok_or(CmdError::Msg("ERR LIMIT can't be negative"))?;
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let keys: Vec<&[u8]> = args.iter().skip(2).take(numkeys).collect();
    let sets = sets_of(&mut ctx.db, &keys)?;
    let mut count = 0;
    intersect(&sets, limit, |_| count += 1);
    ctx.out.int(count);
    Ok(())
}

// ---- SSCAN ----

/// MATCH and COUNT, as every *SCAN takes them after the cursor.
struct ScanOptions<'a> {
    pattern: Option<&'a [u8]>,
    count: usize,
}

impl<'a> ScanOptions<'a> {
    fn parse(args: &Args<'a>, from: usize) -> Result<Self, CmdError> {
        let mut opts = ScanOptions {
            pattern: None,
            count: 10,
        };
        let mut i = from;
        while i < args.len() {
            let has_value = i + 1 < args.len();
            if args.is(i, "count") && has_value {
                let n = args.int(i + 1)?;
                opts.count = usize::try_from(n)
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or(CmdError::Syntax)?;
            } else if args.is(i, "match") && has_value {
                let pattern = args.get(i + 1);
                opts.pattern = (pattern != b"*").then_some(pattern);
            } else {
                return Err(CmdError::Syntax);
            }
            i += 2;
        }
        Ok(opts)
    }

    fn accepts(&self, member: &[u8]) -> bool {
        self.pattern.is_none_or(|p| glob_match(p, member, false))
    }
}

fn sscan(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let cursor = crate::cmd::parse::scan_cursor(args.get(2))?;
    let Some(set) = read_set(&mut ctx.db, args.get(1))? else {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    };
    let opts = ScanOptions::parse(args, 3)?;
    let mut found = Vec::new();
    let mut scratch = itoa::Buffer::new();
    let next = set.scan(cursor, opts.count, |m| {
        let member = m.bytes(&mut scratch);
        if opts.accepts(member) {
            found.push(Bytes24::new(member));
        }
    });
    ctx.out.array(2);
    ctx.out.bulk(scratch.format(next).as_bytes());
    ctx.out.array(found.len());
    found.iter().for_each(|m| ctx.out.bulk(m));
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use crate::db::Value;
    use crate::testkit::TestClient;

    /// The bulk strings of a flat array reply (`*N` or `~N`), in order.
    fn bulks(reply: &str) -> Vec<String> {
        let mut lines = reply.split("\r\n");
        let head = lines.next().unwrap_or_default();
        assert!(
            head.starts_with('*') || head.starts_with('~'),
            "not an array: {reply:?}"
        );
        let mut out = Vec::new();
        while let Some(line) = lines.next() {
            if line.starts_with('$') {
                out.push(lines.next().unwrap().to_string());
            }
        }
        out
    }

    fn sorted(reply: &str) -> Vec<String> {
        let mut v = bulks(reply);
        v.sort();
        v
    }

    fn encoding(t: &TestClient, key: &str) -> &'static str {
        let mut locked = t.server.keyspace.lock_all();
        let mut db = locked.db(0, 0);
        match db.get(key.as_bytes()).map(|e| &e.value) {
            Some(Value::Set(s)) => s.encoding(),
            Some(_) => "other",
            None => "none",
        }
    }

    fn run(t: &mut TestClient, cmd: &str) -> String {
        t.run(&cmd.split(' ').collect::<Vec<_>>())
    }

    #[test]
    fn add_remove_and_membership() {
        let mut t = TestClient::new();
        assert_eq!(run(&mut t, "SADD s 3 1 2 2"), ":3\r\n");
        assert_eq!(run(&mut t, "SADD s 1 4"), ":1\r\n");
        assert_eq!(
            run(&mut t, "SMEMBERS s"),
            "*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n"
        );
        assert_eq!(run(&mut t, "SISMEMBER s 01"), ":0\r\n");
        assert_eq!(
            run(&mut t, "SMISMEMBER s 1 x 4"),
            "*3\r\n:1\r\n:0\r\n:1\r\n"
        );
        assert_eq!(run(&mut t, "SCARD s"), ":4\r\n");
        assert_eq!(run(&mut t, "SREM s 1 2 3 9"), ":3\r\n");
        assert_eq!(run(&mut t, "SREM s 4"), ":1\r\n");
        assert_eq!(run(&mut t, "EXISTS s"), ":0\r\n", "empty sets are deleted");
        assert_eq!(run(&mut t, "SMEMBERS s"), "*0\r\n");
        run(&mut t, "SET str v");
        for cmd in [
            "SADD str a",
            "SREM str a",
            "SCARD str",
            "SMEMBERS str",
            "SPOP str",
            "SRANDMEMBER str 2",
            "SSCAN str 0",
            "SINTER str",
            "SUNIONSTORE d str",
        ] {
            assert!(run(&mut t, cmd).starts_with("-WRONGTYPE"), "{cmd}");
        }
    }

    #[test]
    fn encodings_follow_redis() {
        let mut t = TestClient::new();
        run(&mut t, "CONFIG SET set-max-intset-entries 3");
        run(&mut t, "SADD i 1 2 3");
        assert_eq!(encoding(&t, "i"), "intset");
        run(&mut t, "SADD i 4");
        assert_eq!(encoding(&t, "i"), "hashtable");
        run(&mut t, "SREM i 4");
        assert_eq!(encoding(&t, "i"), "hashtable", "never converted back");
        run(&mut t, "SUNIONSTORE u i");
        assert_eq!(encoding(&t, "u"), "intset", "results start as intsets");
        assert_eq!(
            run(&mut t, "SMEMBERS u"),
            "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
        );
        run(&mut t, "SADD s x");
        assert_eq!(encoding(&t, "s"), "hashtable");
        run(&mut t, "SMOVE i fresh 1");
        assert_eq!(encoding(&t, "fresh"), "intset");
        // SDIFF that copies the first set passes through a hashtable.
        run(&mut t, "SADD big 1 2 3 4 5 6");
        run(&mut t, "SADD small 1 2 3 4 5");
        run(&mut t, "SDIFFSTORE d big small");
        assert_eq!(encoding(&t, "d"), "intset");
        run(&mut t, "DEL small");
        run(&mut t, "SADD small 1");
        run(&mut t, "SDIFFSTORE d big small");
        assert_eq!(encoding(&t, "d"), "hashtable");
    }

    fn packed(t: &TestClient, key: &str) -> bool {
        let mut locked = t.server.keyspace.lock_all();
        let mut db = locked.db(0, 0);
        matches!(db.get(key.as_bytes()).map(|e| &e.value), Some(Value::Set(s)) if s.is_packed())
    }

    /// Small string sets are packed, but read as Redis 7.0's hashtables.
    #[test]
    fn packed_sets_look_like_hashtables() {
        let mut t = TestClient::new();
        let mut sadd = vec!["SADD".to_string(), "s".into()];
        sadd.extend((0..128).map(|i| format!("member:{i}")));
        assert_eq!(t.run(&sadd), ":128\r\n");
        assert!(packed(&t, "s"));
        assert_eq!(run(&mut t, "OBJECT ENCODING s"), "$9\r\nhashtable\r\n");
        // Everything in one SSCAN call, cursor 0, whatever the cursor given.
        for cursor in ["0", "12345"] {
            let reply = t.run(&["SSCAN", "s", cursor, "MATCH", "member:12*", "COUNT", "2"]);
            assert!(reply.starts_with("*2\r\n$1\r\n0\r\n*9\r\n"), "{reply}");
        }
        assert_eq!(run(&mut t, "SISMEMBER s member:127"), ":1\r\n");
        assert_eq!(run(&mut t, "SISMEMBER s member:128"), ":0\r\n");
        assert_eq!(
            run(&mut t, "SMISMEMBER s member:0 member: member:99"),
            "*3\r\n:1\r\n:0\r\n:1\r\n"
        );
        // The 129th member makes a table, for good.
        assert_eq!(run(&mut t, "SADD s member:128"), ":1\r\n");
        assert!(!packed(&t, "s"));
        assert_eq!(run(&mut t, "SREM s member:128 member:127"), ":2\r\n");
        assert!(!packed(&t, "s"));
        // A 65-byte member makes a table; 64 bytes do not.
        let at_limit = "y".repeat(64);
        run(&mut t, &format!("SADD p a {at_limit}"));
        assert!(packed(&t, "p"));
        run(&mut t, &format!("SADD p {at_limit}z"));
        assert!(!packed(&t, "p"));
        assert_eq!(run(&mut t, "OBJECT ENCODING p"), "$9\r\nhashtable\r\n");
        // Integers stay an intset until a string comes.
        run(&mut t, "SADD i 3 1 2");
        assert_eq!(run(&mut t, "OBJECT ENCODING i"), "$6\r\nintset\r\n");
        run(&mut t, "SADD i x");
        assert!(packed(&t, "i"));
        assert_eq!(
            run(&mut t, "SMEMBERS i"),
            "*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\nx\r\n"
        );
        // The algebra over packed sets; results start as intsets.
        run(&mut t, "SADD j 2 x y");
        assert_eq!(sorted(&run(&mut t, "SINTER i j")), ["2", "x"]);
        assert_eq!(run(&mut t, "SINTERCARD 2 i j LIMIT 1"), ":1\r\n");
        assert_eq!(sorted(&run(&mut t, "SDIFF i j")), ["1", "3"]);
        assert_eq!(run(&mut t, "SDIFFSTORE d i j"), ":2\r\n");
        assert_eq!(run(&mut t, "OBJECT ENCODING d"), "$6\r\nintset\r\n");
        assert_eq!(run(&mut t, "SUNIONSTORE u i j"), ":5\r\n");
        assert!(packed(&t, "u"));
        assert_eq!(run(&mut t, "SMOVE u fresh y"), ":1\r\n");
        assert!(packed(&t, "fresh"));
        assert_eq!(
            run(&mut t, "SORT u ALPHA"),
            "*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\nx\r\n"
        );
    }

    #[test]
    fn store_replaces_or_deletes_destination() {
        let mut t = TestClient::new();
        run(&mut t, "SADD a 1 2 3");
        run(&mut t, "SADD b 2 3 4");
        run(&mut t, "SET dst old");
        assert_eq!(run(&mut t, "SINTERSTORE dst a b"), ":2\r\n");
        assert_eq!(run(&mut t, "SMEMBERS dst"), "*2\r\n$1\r\n2\r\n$1\r\n3\r\n");
        assert_eq!(run(&mut t, "SDIFFSTORE dst a a"), ":0\r\n");
        assert_eq!(run(&mut t, "EXISTS dst"), ":0\r\n");
        assert_eq!(run(&mut t, "SUNIONSTORE a a b"), ":4\r\n");
        assert_eq!(sorted(&run(&mut t, "SMEMBERS a")), ["1", "2", "3", "4"]);
        assert_eq!(run(&mut t, "SINTERSTORE dst a missing"), ":0\r\n");
        assert_eq!(run(&mut t, "SINTERCARD 2 a b LIMIT 2"), ":2\r\n");
        assert_eq!(run(&mut t, "SINTERCARD 2 a b"), ":3\r\n");
    }

    #[test]
    fn spop_and_srandmember_counts() {
        let mut t = TestClient::new();
        let members: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
        let mut sadd = vec!["SADD".to_string(), "s".into()];
        sadd.extend(members.iter().cloned());
        t.run(&sadd);
        let all: BTreeSet<String> = members.into_iter().collect();
        for count in [1, 5, 13, 39, 40, 100] {
            let picked = bulks(&run(&mut t, &format!("SRANDMEMBER s {count}")));
            let distinct: BTreeSet<_> = picked.iter().cloned().collect();
            assert_eq!(picked.len(), count.min(40));
            assert_eq!(distinct.len(), picked.len(), "distinct for {count}");
            assert!(distinct.is_subset(&all));
        }
        let repeated = bulks(&run(&mut t, "SRANDMEMBER s -100"));
        assert_eq!(repeated.len(), 100);
        assert!(repeated.iter().all(|m| all.contains(m)));
        // Pops of both strategies (few, and most of the set).
        let mut left = all.clone();
        for count in [3, 30] {
            for m in bulks(&run(&mut t, &format!("SPOP s {count}"))) {
                assert!(left.remove(&m), "{m} popped twice");
            }
            assert_eq!(run(&mut t, "SCARD s"), format!(":{}\r\n", left.len()));
        }
        let rest = bulks(&run(&mut t, "SPOP s 100"));
        assert_eq!(rest.into_iter().collect::<BTreeSet<_>>(), left);
        assert_eq!(run(&mut t, "EXISTS s"), ":0\r\n");
    }

    #[test]
    fn sscan_walks_a_large_set() {
        let mut t = TestClient::new();
        let mut sadd = vec!["SADD".to_string(), "s".into()];
        sadd.extend((0..1000).map(|i| format!("member:{i}")));
        t.run(&sadd);
        let mut seen = BTreeSet::new();
        let mut cursor = "0".to_string();
        for _ in 0..10_000 {
            let reply = t.run(&["SSCAN", "s", &cursor, "COUNT", "50"]);
            let mut parts = reply.split("\r\n");
            parts.next(); // *2
            parts.next(); // $len
            cursor = parts.next().unwrap().to_string();
            let rest: Vec<&str> = parts.collect();
            seen.extend(bulks(&rest.join("\r\n")));
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(cursor, "0");
        assert_eq!(seen.len(), 1000);
        let matched = t.run(&["SSCAN", "s", "0", "MATCH", "member:99*", "COUNT", "100000"]);
        assert_eq!(
            sorted(&matched[matched.find("\r\n*").unwrap() + 2..]).len(),
            11
        );
    }

    #[test]
    fn resp3_types() {
        let mut t = TestClient::new();
        t.out.resp3 = true;
        run(&mut t, "SADD s 1");
        assert_eq!(run(&mut t, "SMEMBERS s"), "~1\r\n$1\r\n1\r\n");
        assert_eq!(run(&mut t, "SUNION s"), "~1\r\n$1\r\n1\r\n");
        assert_eq!(run(&mut t, "SRANDMEMBER s 2"), "*1\r\n$1\r\n1\r\n");
        assert_eq!(run(&mut t, "SPOP missing"), "_\r\n");
        assert_eq!(run(&mut t, "SPOP s 1"), "~1\r\n$1\r\n1\r\n");
    }

    #[test]
    fn scan_cursor_parsing() {
        let p = |t: &[u8]| crate::cmd::parse::scan_cursor(t).ok();
        assert_eq!(p(b""), Some(0));
        assert_eq!(p(b"+7"), Some(7));
        assert_eq!(p(b"-1"), Some(u64::MAX));
        assert_eq!(p(b"18446744073709551615"), Some(u64::MAX));
        for bad in [
            &b"18446744073709551616"[..],
            b" 1",
            b"1 ",
            b"-",
            b"x",
            b"0x1",
        ] {
            assert_eq!(p(bad), None, "{bad:?}");
        }
    }

    /// Arity, flags, key positions and ACL categories as Redis 7.0.15's
    /// `COMMAND INFO` reports them.
    #[test]
    fn specs_match_redis_command_info() {
        let expected = [
            (
                "sadd",
                -3,
                "write denyoom fast",
                (1, 1, 1),
                "write set fast",
            ),
            ("srem", -3, "write fast", (1, 1, 1), "write set fast"),
            ("smembers", 2, "readonly", (1, 1, 1), "read set slow"),
            ("sismember", 3, "readonly fast", (1, 1, 1), "read set fast"),
            (
                "smismember",
                -3,
                "readonly fast",
                (1, 1, 1),
                "read set fast",
            ),
            ("scard", 2, "readonly fast", (1, 1, 1), "read set fast"),
            ("spop", -2, "write fast", (1, 1, 1), "write set fast"),
            ("srandmember", -2, "readonly", (1, 1, 1), "read set slow"),
            ("smove", 4, "write fast", (1, 2, 1), "write set fast"),
            ("sinter", -2, "readonly", (1, -1, 1), "read set slow"),
            (
                "sintercard",
                -3,
                "readonly movablekeys",
                (0, 0, 0),
                "read set slow",
            ),
            (
                "sinterstore",
                -3,
                "write denyoom",
                (1, -1, 1),
                "write set slow",
            ),
            ("sunion", -2, "readonly", (1, -1, 1), "read set slow"),
            (
                "sunionstore",
                -3,
                "write denyoom",
                (1, -1, 1),
                "write set slow",
            ),
            ("sdiff", -2, "readonly", (1, -1, 1), "read set slow"),
            (
                "sdiffstore",
                -3,
                "write denyoom",
                (1, -1, 1),
                "write set slow",
            ),
            ("sscan", -3, "readonly", (1, 1, 1), "read set slow"),
        ];
        assert_eq!(super::COMMANDS.len(), expected.len());
        crate::cmd::spec::assert_specs_match_redis(super::COMMANDS, &expected);
        // SINTERCARD locks exactly its numkeys keys.
        let args: crate::cmd::args::OwnedArgs =
            ["SINTERCARD", "2", "a", "b", "LIMIT", "1"].iter().collect();
        let spec = super::COMMANDS
            .iter()
            .find(|s| s.name == "sintercard")
            .unwrap();
        let mut positions = Vec::new();
        spec.key_positions(&args.view(), &mut positions);
        assert_eq!(positions, [2, 3]);
    }

    /// One step of the model test; members come from a small pool of
    /// integers and strings so sets collide, convert and empty out.
    #[derive(Debug, Clone)]
    enum Op {
        Add(usize, Vec<usize>),
        Rem(usize, Vec<usize>),
        IsMember(usize, usize),
        Move(usize, usize, usize),
        Pop(usize, usize),
        Store(&'static str, usize, Vec<usize>),
        Read(&'static str, Vec<usize>),
    }

    /// Integers, short strings (packed sets) and one string past the packed
    /// member limit (65 bytes: a table).
    const POOL: &[&str] = &[
        "1",
        "2",
        "3",
        "-7",
        "40000",
        "5000000000",
        "a",
        "b",
        "01",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    ];
    const KEYS: &[&str] = &["k0", "k1", "k2"];

    fn op() -> impl Strategy<Value = Op> {
        let key = 0..KEYS.len();
        let member = 0..POOL.len();
        let members = prop::collection::vec(0..POOL.len(), 1..5);
        let keys = prop::collection::vec(0..KEYS.len(), 1..4);
        prop_oneof![
            3 => (key.clone(), members.clone()).prop_map(|(k, m)| Op::Add(k, m)),
            2 => (key.clone(), members).prop_map(|(k, m)| Op::Rem(k, m)),
            1 => (key.clone(), member.clone()).prop_map(|(k, m)| Op::IsMember(k, m)),
            1 => (key.clone(), key.clone(), member).prop_map(|(a, b, m)| Op::Move(a, b, m)),
            1 => (key.clone(), 0..4usize).prop_map(|(k, n)| Op::Pop(k, n)),
            1 => (
                prop::sample::select(&["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"][..]),
                key,
                keys.clone()
            )
                .prop_map(|(c, d, k)| Op::Store(c, d, k)),
            1 => (prop::sample::select(&["SINTER", "SUNION", "SDIFF"][..]), keys)
                .prop_map(|(c, k)| Op::Read(c, k)),
        ]
    }

    type Model = Vec<BTreeSet<String>>;

    fn combine(cmd: &str, model: &Model, keys: &[usize]) -> BTreeSet<String> {
        let mut sets = keys.iter().map(|&k| model[k].clone());
        let first = sets.next().unwrap_or_default();
        sets.fold(first, |acc, s| match cmd {
            "SINTER" | "SINTERSTORE" => &acc & &s,
            "SUNION" | "SUNIONSTORE" => &acc | &s,
            _ => &acc - &s,
        })
    }

    fn check(t: &mut TestClient, model: &mut Model, op: &Op) {
        let names = |ks: &[usize]| ks.iter().map(|&k| KEYS[k]).collect::<Vec<_>>();
        match op {
            Op::Add(k, ms) => {
                let mut args = vec!["SADD", KEYS[*k]];
                args.extend(ms.iter().map(|&m| POOL[m]));
                let added = ms
                    .iter()
                    .filter(|&&m| model[*k].insert(POOL[m].into()))
                    .count();
                assert_eq!(t.run(&args), format!(":{added}\r\n"));
            }
            Op::Rem(k, ms) => {
                let mut args = vec!["SREM", KEYS[*k]];
                args.extend(ms.iter().map(|&m| POOL[m]));
                let removed = ms.iter().filter(|&&m| model[*k].remove(POOL[m])).count();
                assert_eq!(t.run(&args), format!(":{removed}\r\n"));
            }
            Op::IsMember(k, m) => {
                let want = model[*k].contains(POOL[*m]) as i64;
                assert_eq!(
                    t.run(&["SISMEMBER", KEYS[*k], POOL[*m]]),
                    format!(":{want}\r\n")
                );
            }
            Op::Move(a, b, m) => {
                let member = POOL[*m];
                let moved = model[*a].contains(member);
                if moved && a != b {
                    model[*a].remove(member);
                    model[*b].insert(member.into());
                }
                let got = t.run(&["SMOVE", KEYS[*a], KEYS[*b], member]);
                assert_eq!(got, format!(":{}\r\n", moved as i64));
            }
            Op::Pop(k, n) => {
                let popped = bulks(&t.run(&["SPOP", KEYS[*k], &n.to_string()]));
                assert_eq!(popped.len(), (*n).min(model[*k].len()));
                for m in popped {
                    assert!(model[*k].remove(&m), "popped {m} not in the set");
                }
            }
            Op::Store(cmd, dst, ks) => {
                let result = combine(cmd, model, ks);
                let mut args = vec![*cmd, KEYS[*dst]];
                args.extend(names(ks));
                assert_eq!(t.run(&args), format!(":{}\r\n", result.len()));
                model[*dst] = result;
            }
            Op::Read(cmd, ks) => {
                let mut args = vec![*cmd];
                args.extend(names(ks));
                let want: Vec<String> = combine(cmd, model, ks).into_iter().collect();
                assert_eq!(sorted(&t.run(&args)), want, "{args:?}");
            }
        }
        for (k, set) in model.iter().enumerate() {
            let got = sorted(&t.run(&["SMEMBERS", KEYS[k]]));
            assert_eq!(got, set.iter().cloned().collect::<Vec<_>>(), "{}", KEYS[k]);
            assert_eq!(
                t.run(&["EXISTS", KEYS[k]]),
                format!(":{}\r\n", !set.is_empty() as i64)
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn sets_behave_like_a_model(ops in prop::collection::vec(op(), 1..40)) {
            let mut t = TestClient::new();
            // A small intset limit so conversions happen often.
            t.run(&["CONFIG", "SET", "set-max-intset-entries", "3"]);
            let mut model: Model = vec![BTreeSet::new(); KEYS.len()];
            for op in &ops {
                check(&mut t, &mut model, op);
            }
        }
    }
}
