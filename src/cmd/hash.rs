//! Hash commands: HSET and friends, the counters, HRANDFIELD and HSCAN.
//!
//! A hash that loses its last field is deleted, as in Redis. Writes read the
//! listpack thresholds from the config once per command ([`limits`]).

use super::spec::{CommandSpec, flag::*, key1};
use super::string::long_double::{LongDouble, Parsed};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::db::hash::{Hash, HashLimits, TableRef};
use crate::db::{Db, Value};
use crate::protocol::Reply;
use crate::protocol::parse::parse_i64;
use crate::server::{Server, notify};
use crate::util::flat::FlatStrings;
use crate::util::glob::glob_match;

const HASH: &str = "hash";
const ORDER_TIP: &[&str] = &["nondeterministic_output_order"];
const RANDOM_TIP: &[&str] = &["nondeterministic_output"];

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("hset", -4, WRITE | DENYOOM | FAST, key1(), hset)
        .doc(HASH, "2.0.0", "Sets one or more fields of a hash, creating the hash if needed.")
        .complexity("O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs."),
    CommandSpec::new("hmset", -4, WRITE | DENYOOM | FAST, key1(), hmset)
        .doc(HASH, "2.0.0", "Sets several fields of a hash (old form of HSET that replies OK).")
        .complexity("O(N) where N is the number of fields being set."),
    CommandSpec::new("hsetnx", 4, WRITE | DENYOOM | FAST, key1(), hsetnx)
        .doc(HASH, "2.0.0", "Sets a hash field only when it does not exist yet."),
    CommandSpec::new("hget", 3, READONLY | FAST, key1(), hget)
        .doc(HASH, "2.0.0", "Returns the value of one hash field."),
    CommandSpec::new("hmget", -3, READONLY | FAST, key1(), hmget)
        .doc(HASH, "2.0.0", "Returns the values of several hash fields.")
        .complexity("O(N) where N is the number of fields being requested."),
    CommandSpec::new("hdel", -3, WRITE | FAST, key1(), hdel)
        .doc(HASH, "2.0.0", "Deletes fields from a hash, and the hash once it is empty.")
        .complexity("O(N) where N is the number of fields to be removed."),
    CommandSpec::new("hlen", 2, READONLY | FAST, key1(), hlen)
        .doc(HASH, "2.0.0", "Returns the number of fields in a hash."),
    CommandSpec::new("hstrlen", 3, READONLY | FAST, key1(), hstrlen)
        .doc(HASH, "3.2.0", "Returns the length of a hash field's value."),
    CommandSpec::new("hexists", 3, READONLY | FAST, key1(), hexists)
        .doc(HASH, "2.0.0", "Tells whether a hash has a field."),
    CommandSpec::new("hkeys", 2, READONLY, key1(), hkeys)
        .doc(HASH, "2.0.0", "Returns every field name of a hash.")
        .complexity("O(N) where N is the size of the hash.")
        .tips(ORDER_TIP),
    CommandSpec::new("hvals", 2, READONLY, key1(), hvals)
        .doc(HASH, "2.0.0", "Returns every value of a hash.")
        .complexity("O(N) where N is the size of the hash.")
        .tips(ORDER_TIP),
    CommandSpec::new("hgetall", 2, READONLY, key1(), hgetall)
        .doc(HASH, "2.0.0", "Returns every field and value of a hash.")
        .complexity("O(N) where N is the size of the hash.")
        .tips(ORDER_TIP),
    CommandSpec::new("hincrby", 4, WRITE | DENYOOM | FAST, key1(), hincrby)
        .doc(HASH, "2.0.0", "Adds an integer to a hash field's integer value."),
    CommandSpec::new("hincrbyfloat", 4, WRITE | DENYOOM | FAST, key1(), hincrbyfloat)
        .doc(HASH, "2.6.0", "Adds a floating point number to a hash field's numeric value."),
    CommandSpec::new("hrandfield", -2, READONLY, key1(), hrandfield)
        .doc(HASH, "6.2.0", "Returns one or more random fields of a hash, optionally with their values.")
        .complexity("O(N) where N is the number of fields returned")
        .tips(RANDOM_TIP),
    CommandSpec::new("hscan", -3, READONLY, key1(), hscan)
        .doc(HASH, "2.8.0", "Iterates over the fields and values of a hash.")
        .complexity("O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.")
        .tips(RANDOM_TIP),
];

// ---- shared helpers ----

super::typed::typed_access!(Hash, Hash, hash_of, hash_of_mut, read_hash, write_hash);

/// The hash at `key` for writing, created empty when missing (creating it
/// counts as the command's first change). Callers must leave it non-empty.
fn hash_for_write<'d>(
    db: &'d mut Db<'_, '_>,
    key: &[u8],
) -> Result<(&'d mut Hash, Written), CmdError> {
    let created = !db.contains(key);
    if created {
        db.set(key, Value::Hash(Hash::default()));
    }
    let entry = db.get(key).expect("key exists: just checked or created");
    Ok((hash_of_mut(&mut entry.value)?, Written { created }))
}

/// Whether [`hash_for_write`] created the key, so the change is recorded once.
struct Written {
    created: bool,
}

impl Written {
    /// Records `changes` changes to `key` (Redis counts one per field
    /// written) and, if there were any, the keyspace event `event`.
    fn record(self, db: &mut Db, key: &[u8], changes: u64, event: &'static str) {
        if changes == 0 {
            return;
        }
        if !self.created {
            db.modified(key);
        }
        db.add_dirty(changes - 1);
        db.notify(notify::HASH, event, key);
    }
}

/// The listpack thresholds, read once per command.
fn limits(server: &Server) -> HashLimits {
    HashLimits::from_config(&server.config.read())
}

/// Header of an array of `count` field/value pairs: flat in RESP2, one
/// two-element array per pair in RESP3 (Redis's shape for HRANDFIELD
/// WITHVALUES).
fn pairs_header(out: &mut Reply, count: usize) {
    if out.resp3 {
        out.array(count);
    } else {
        out.array(count * 2);
    }
}

fn reply_pair(out: &mut Reply, field: &[u8], value: &[u8]) {
    if out.resp3 {
        out.array(2);
    }
    out.bulk(field);
    out.bulk(value);
}

// ---- setters ----

/// Sets the field/value pairs from argument 2 on; returns how many were new.
fn set_pairs(ctx: &mut Ctx, args: &Args) -> Result<i64, CmdError> {
    if args.len() % 2 != 0 {
        return Err(CmdError::msg(format!(
            "ERR wrong number of arguments for '{}' command",
            args.str(0).to_ascii_lowercase()
        )));
    }
    let limits = limits(ctx.server);
    let key = args.get(1);
    let (hash, written) = hash_for_write(&mut ctx.db, key)?;
    let mut added = 0;
    for i in (2..args.len()).step_by(2) {
        added += hash.set(args.get(i), args.get(i + 1), limits) as i64;
    }
    written.record(&mut ctx.db, key, (args.len() as u64 - 2) / 2, "hset");
    Ok(added)
}

fn hset(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let added = set_pairs(ctx, args)?;
    ctx.out.int(added);
    Ok(())
}

fn hmset(ctx: &mut Ctx, args: &Args) -> CmdResult {
    set_pairs(ctx, args)?;
    ctx.out.ok();
    Ok(())
}

fn hsetnx(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (key, field) = (args.get(1), args.get(2));
    let limits = limits(ctx.server);
    let (hash, written) = hash_for_write(&mut ctx.db, key)?;
    let added = !hash.contains(field) && hash.set(field, args.get(3), limits);
    written.record(&mut ctx.db, key, added as u64, "hset");
    ctx.out.int(added as i64);
    Ok(())
}

fn hdel(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let Some(entry) = ctx.db.get(key) else {
        ctx.out.int(0);
        return Ok(());
    };
    let hash = hash_of_mut(&mut entry.value)?;
    let removed = args.iter().skip(2).filter(|f| hash.remove(f)).count();
    let now_empty = hash.is_empty();
    if removed > 0 {
        ctx.db.notify(notify::HASH, "hdel", key);
    }
    if now_empty {
        ctx.db.remove(key);
        ctx.db.notify(notify::GENERIC, "del", key);
    } else if removed > 0 {
        ctx.db.modified(key);
    }
    // One change per deleted field, as Redis counts them.
    ctx.db.add_dirty((removed as u64).saturating_sub(1));
    ctx.out.int(removed as i64);
    Ok(())
}

// ---- getters ----

fn hget(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let hash = read_hash(&mut ctx.db, args.get(1))?;
    let out = &mut *ctx.out;
    if hash
        .and_then(|h| h.get_with(args.get(2), |value| out.bulk(value)))
        .is_none()
    {
        out.null();
    }
    Ok(())
}

fn hmget(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let hash = read_hash(&mut ctx.db, args.get(1))?;
    let out = &mut *ctx.out;
    out.array(args.len() - 2);
    for field in args.iter().skip(2) {
        if hash
            .and_then(|h| h.get_with(field, |value| out.bulk(value)))
            .is_none()
        {
            out.null();
        }
    }
    Ok(())
}

fn hlen(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let len = read_hash(&mut ctx.db, args.get(1))?.map_or(0, Hash::len);
    ctx.out.int(len as i64);
    Ok(())
}

fn hstrlen(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let hash = read_hash(&mut ctx.db, args.get(1))?;
    let len = hash
        .and_then(|h| h.get_with(args.get(2), <[u8]>::len))
        .unwrap_or(0);
    ctx.out.int(len as i64);
    Ok(())
}

fn hexists(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let hash = read_hash(&mut ctx.db, args.get(1))?;
    let found = hash.is_some_and(|h| h.contains(args.get(2)));
    ctx.out.int(found as i64);
    Ok(())
}

/// What HKEYS, HVALS and HGETALL return of each pair.
#[derive(Clone, Copy, PartialEq)]
enum Part {
    Fields,
    Values,
    Both,
}

fn reply_all(ctx: &mut Ctx, args: &Args, part: Part) -> CmdResult {
    let hash = read_hash(&mut ctx.db, args.get(1))?;
    let len = hash.map_or(0, Hash::len);
    if part == Part::Both {
        ctx.out.map(len);
    } else {
        ctx.out.array(len);
    }
    let out = &mut *ctx.out;
    if let Some(hash) = hash {
        hash.for_each(|field, value| {
            if part != Part::Values {
                out.bulk(field);
            }
            if part != Part::Fields {
                out.bulk(value);
            }
        });
    }
    Ok(())
}

fn hkeys(ctx: &mut Ctx, args: &Args) -> CmdResult {
    reply_all(ctx, args, Part::Fields)
}

fn hvals(ctx: &mut Ctx, args: &Args) -> CmdResult {
    reply_all(ctx, args, Part::Values)
}

fn hgetall(ctx: &mut Ctx, args: &Args) -> CmdResult {
    reply_all(ctx, args, Part::Both)
}

// ---- counters ----

fn hincrby(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let incr = args.int(3)?;
    let (key, field) = (args.get(1), args.get(2));
    let current = match ctx.db.get(key).map(|e| hash_of(&e.value)).transpose()? {
        Some(hash) => match hash.get_with(field, parse_i64) {
            Some(n) => n.ok_or(CmdError::Msg("ERR hash value is not an integer"))?,
            None => 0,
        },
        None => 0,
    };
    let sum = current.checked_add(incr).ok_or(CmdError::Overflow)?;
    let limits = limits(ctx.server);
    let (hash, written) = hash_for_write(&mut ctx.db, key)?;
    hash.set(field, itoa::Buffer::new().format(sum).as_bytes(), limits);
    written.record(&mut ctx.db, key, 1, "hincrby");
    ctx.out.int(sum);
    Ok(())
}

const NAN_OR_INFINITY: CmdError = CmdError::Msg("ERR increment would produce NaN or Infinity");

fn hincrbyfloat(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let incr = match LongDouble::parse(args.get(3)) {
        Some(Parsed::Finite(v)) => v,
        Some(Parsed::Infinite) => return Err(CmdError::Msg("ERR value is NaN or Infinity")),
        None => return Err(CmdError::NotFloat),
    };
    let (key, field) = (args.get(1), args.get(2));
    let current = match ctx.db.get(key).map(|e| hash_of(&e.value)).transpose()? {
        Some(hash) => match hash.get_with(field, LongDouble::parse) {
            Some(Some(Parsed::Finite(v))) => v,
            // An infinite stored value parses, then makes the sum infinite.
            Some(Some(Parsed::Infinite)) => return Err(NAN_OR_INFINITY),
            Some(None) => return Err(CmdError::Msg("ERR hash value is not a float")),
            None => LongDouble::from_i64(0),
        },
        None => LongDouble::from_i64(0),
    };
    let text = current
        .add(incr)
        .map(LongDouble::to_redis_string)
        .ok_or(NAN_OR_INFINITY)?;
    let limits = limits(ctx.server);
    let (hash, written) = hash_for_write(&mut ctx.db, key)?;
    hash.set(field, text.as_bytes(), limits);
    written.record(&mut ctx.db, key, 1, "hincrbyfloat");
    ctx.propagate_as(&[b"HSET", key, field, text.as_bytes()]);
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

// ---- HRANDFIELD ----

fn hrandfield(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() == 2 {
        let hash = read_hash(&mut ctx.db, args.get(1))?;
        let out = &mut *ctx.out;
        let picked = hash.and_then(|h| h.random_with(&mut ctx.client.rng, |f, _| out.bulk(f)));
        if picked.is_none() {
            out.null();
        }
        return Ok(());
    }
    let count = args.int(2)?;
    if count == i64::MIN {
        return Err(CmdError::Msg(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let with_values = match args.len() {
        3 => false,
        4 if args.is(3, "withvalues") => true,
        _ => return Err(CmdError::Syntax),
    };
    // Twice the count must still fit: RESP2 replies count*2 elements.
    if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(CmdError::Msg("ERR value is out of range"));
    }
    let Some(hash) = read_hash(&mut ctx.db, args.get(1))? else {
        ctx.out.array(0);
        return Ok(());
    };
    use rand::RngExt;
    let rng = &mut ctx.client.rng;
    let out = &mut *ctx.out;
    let header = |out: &mut Reply, count: usize| {
        if with_values {
            pairs_header(out, count);
        } else {
            out.array(count);
        }
    };
    let emit = |out: &mut Reply, field: &[u8], value: &[u8]| {
        if with_values {
            reply_pair(out, field, value);
        } else {
            out.bulk(field);
        }
    };
    if count < 0 {
        // Independent picks, written as they are drawn (a huge count must not
        // allocate up front).
        let count = count.unsigned_abs() as usize;
        header(out, count);
        match hash.table() {
            Some(table) => {
                for _ in 0..count {
                    let Some((field, value)) = table.random(rng) else {
                        return Ok(());
                    };
                    emit(out, field, value);
                }
            }
            None => {
                // A packed hash has no random access: index a copy of its pairs.
                // (A stored hash is never empty.)
                let pairs = FlatPairs::of(hash);
                for _ in 0..count {
                    let (field, value) = pairs.get(rng.random_range(0..pairs.len()));
                    emit(out, field, value);
                }
            }
        }
        return Ok(());
    }
    let wanted = count as usize;
    match hash.table() {
        Some(table) => {
            let picked = pick_distinct(table, hash.len(), wanted, rng);
            header(out, picked.len());
            for (field, value) in picked {
                emit(out, field, value);
            }
        }
        None => {
            // Selection sampling: each pair is kept with probability
            // still-needed / still-left, which keeps the hash's order, as
            // Redis's listpack sampling does.
            let mut needed = wanted.min(hash.len());
            let mut left = hash.len();
            header(out, needed);
            hash.for_each(|field, value| {
                let keep = needed >= left || rng.random_range(0..left) < needed;
                left -= 1;
                if keep {
                    needed -= 1;
                    emit(out, field, value);
                }
            });
        }
    }
    Ok(())
}

/// Copies of a packed hash's pairs in one buffer (field, value, field...):
/// random access for HRANDFIELD, a reply buffer for HSCAN, without an
/// allocation per pair.
#[derive(Default)]
struct FlatPairs(FlatStrings);

impl FlatPairs {
    fn of(hash: &Hash) -> Self {
        let mut pairs = FlatPairs(FlatStrings::with_capacity(hash.len() * 2));
        hash.for_each(|field, value| pairs.push(field, value));
        pairs
    }

    fn push(&mut self, field: &[u8], value: &[u8]) {
        self.0.push(field);
        self.0.push(value);
    }

    fn len(&self) -> usize {
        self.0.len() / 2
    }

    fn get(&self, i: usize) -> (&[u8], &[u8]) {
        (self.0.get(2 * i), self.0.get(2 * i + 1))
    }
}

/// Up to `wanted` distinct pairs of a table of `size` pairs.
fn pick_distinct<'h>(
    table: TableRef<'h>,
    size: usize,
    wanted: usize,
    rng: &mut impl rand::Rng,
) -> Vec<(&'h [u8], &'h [u8])> {
    use rand::RngExt;
    if wanted >= size {
        return table.iter().collect();
    }
    if wanted * 3 > size {
        // Most of the hash: shuffle a copy and keep a prefix.
        let mut all: Vec<_> = table.iter().collect();
        for i in 0..wanted {
            let j = rng.random_range(i..size);
            all.swap(i, j);
        }
        all.truncate(wanted);
        return all;
    }
    let mut seen = std::collections::HashSet::with_capacity(wanted);
    let mut picked = Vec::with_capacity(wanted);
    while picked.len() < wanted {
        if let Some(pair) = table.random(rng) {
            if seen.insert(pair.0) {
                picked.push(pair);
            }
        }
    }
    picked
}

// ---- HSCAN ----

/// The MATCH and COUNT options of HSCAN.
struct ScanOptions<'a> {
    pattern: Option<&'a [u8]>,
    count: usize,
}

fn parse_scan_options<'a>(args: &Args<'a>, from: usize) -> Result<ScanOptions<'a>, CmdError> {
    let mut opts = ScanOptions {
        pattern: None,
        count: 10,
    };
    let mut i = from;
    while i < args.len() {
        if i + 1 >= args.len() {
            return Err(CmdError::Syntax);
        }
        if args.is(i, "count") {
            let count = args.int(i + 1)?;
            if count < 1 {
                return Err(CmdError::Syntax);
            }
            opts.count = count as usize;
        } else if args.is(i, "match") {
            let pattern = args.get(i + 1);
            // `*` matches everything: skip the matching altogether.
            opts.pattern = (pattern != b"*").then_some(pattern);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    Ok(opts)
}

fn hscan(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let cursor = crate::cmd::parse::scan_cursor(args.get(2))?;
    let Some(hash) = read_hash(&mut ctx.db, args.get(1))? else {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    };
    let opts = parse_scan_options(args, 3)?;
    let mut found = FlatPairs::default();
    let next = hash.scan(cursor, opts.count, |field, value| {
        if opts.pattern.is_none_or(|p| glob_match(p, field, false)) {
            found.push(field, value);
        }
    });
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(found.len() * 2);
    for i in 0..found.len() {
        let (field, value) = found.get(i);
        ctx.out.bulk(field);
        ctx.out.bulk(value);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
