//! List commands, blocking ones included.
//!
//! Argument checks run in Redis's order, which decides which error a client
//! sees when several apply (LRANGE checks its indexes before the key, LINDEX
//! the key before its index). A list that becomes empty is deleted. Blocking
//! commands try their non-blocking form first and otherwise hand a serve
//! function to [`crate::server::blocking`], which reruns it when a key they
//! wait on receives elements.

use super::spec::{CommandSpec, Keys, flag::*, key1, keys_range};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::db::list::{End, List, parts_eq};
use crate::db::{Bytes24, Db, Value};
use crate::protocol::Reply;
use crate::server::blocking::{self, ServeFn};
use crate::server::notify;

const LIST: &str = "list";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("lpush", -3, WRITE | DENYOOM | FAST, key1(), lpush).doc(LIST, "1.0.0", "Prepends elements to a list, creating it if needed."),
    CommandSpec::new("rpush", -3, WRITE | DENYOOM | FAST, key1(), rpush).doc(LIST, "1.0.0", "Appends elements to a list, creating it if needed."),
    CommandSpec::new("lpushx", -3, WRITE | DENYOOM | FAST, key1(), lpushx).doc(LIST, "2.2.0", "Prepends elements to a list only when the list exists."),
    CommandSpec::new("rpushx", -3, WRITE | DENYOOM | FAST, key1(), rpushx).doc(LIST, "2.2.0", "Appends elements to a list only when the list exists."),
    CommandSpec::new("lpop", -2, WRITE | FAST, key1(), lpop).doc(LIST, "1.0.0", "Removes and returns the first elements of a list."),
    CommandSpec::new("rpop", -2, WRITE | FAST, key1(), rpop).doc(LIST, "1.0.0", "Removes and returns the last elements of a list."),
    CommandSpec::new("llen", 2, READONLY | FAST, key1(), llen).doc(LIST, "1.0.0", "Returns the length of a list."),
    CommandSpec::new("lrange", 4, READONLY, key1(), lrange)
        .doc(LIST, "1.0.0", "Returns a range of a list's elements.")
        .complexity("O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range."),
    CommandSpec::new("lindex", 3, READONLY, key1(), lindex)
        .doc(LIST, "1.0.0", "Returns the element at an index of a list.")
        .complexity("O(N) where N is the number of elements to traverse to get to the element at index."),
    CommandSpec::new("lset", 4, WRITE | DENYOOM, key1(), lset)
        .doc(LIST, "1.0.0", "Replaces the element at an index of a list.")
        .complexity("O(N) where N is the length of the list."),
    CommandSpec::new("linsert", 5, WRITE | DENYOOM, key1(), linsert)
        .doc(LIST, "2.2.0", "Inserts an element before or after another one in a list.")
        .complexity("O(N) where N is the number of elements to traverse before seeing the value pivot."),
    CommandSpec::new("lrem", 4, WRITE, key1(), lrem)
        .doc(LIST, "1.0.0", "Removes elements equal to a value from a list.")
        .complexity("O(N+M) where N is the length of the list and M is the number of elements removed."),
    CommandSpec::new("ltrim", 4, WRITE, key1(), ltrim)
        .doc(LIST, "1.0.0", "Keeps only a range of a list's elements, deleting the rest.")
        .complexity("O(N) where N is the number of elements to be removed by the operation."),
    CommandSpec::new("lpos", -3, READONLY, key1(), lpos)
        .doc(LIST, "6.0.6", "Returns the positions of elements equal to a value in a list.")
        .complexity("O(N) where N is the number of elements in the list, for the average case."),
    CommandSpec::new("lmove", 5, WRITE | DENYOOM, keys_range(1, 2, 1), lmove).doc(LIST, "6.2.0", "Pops an element from one end of a list and pushes it onto an end of another list."),
    CommandSpec::new("rpoplpush", 3, WRITE | DENYOOM, keys_range(1, 2, 1), rpoplpush).doc(LIST, "1.2.0", "Pops the last element of a list and pushes it at the head of another list (old form of LMOVE)."),
    CommandSpec::new("lmpop", -4, WRITE, Keys::Custom(lmpop_keys), lmpop)
        .doc(LIST, "7.0.0", "Pops elements from the first non-empty list of several.")
        .complexity("O(N+M) where N is the number of provided keys and M is the number of elements returned."),
    CommandSpec::new("blpop", -3, WRITE | NOSCRIPT | BLOCKING, keys_range(1, -2, 1), blpop)
        .doc(LIST, "2.0.0", "Pops the first element of the first non-empty list, waiting for one if needed.")
        .complexity("O(N) where N is the number of provided keys."),
    CommandSpec::new("brpop", -3, WRITE | NOSCRIPT | BLOCKING, keys_range(1, -2, 1), brpop)
        .doc(LIST, "2.0.0", "Pops the last element of the first non-empty list, waiting for one if needed.")
        .complexity("O(N) where N is the number of provided keys."),
    CommandSpec::new("blmove", 6, WRITE | DENYOOM | NOSCRIPT | BLOCKING, keys_range(1, 2, 1), blmove).doc(LIST, "6.2.0", "Moves an element between lists like LMOVE, waiting for one if the source is empty."),
    CommandSpec::new("brpoplpush", 4, WRITE | DENYOOM | NOSCRIPT | BLOCKING, keys_range(1, 2, 1), brpoplpush).doc(LIST, "2.2.0", "Moves an element like RPOPLPUSH, waiting for one if the source is empty (old form of BLMOVE)."),
    CommandSpec::new("blmpop", -5, WRITE | BLOCKING, Keys::Custom(blmpop_keys), blmpop)
        .doc(LIST, "7.0.0", "Pops elements from the first non-empty list of several, waiting for one if needed.")
        .complexity("O(N+M) where N is the number of provided keys and M is the number of elements returned."),
];

// ---- shared helpers ----

super::typed::typed_access!(List, List, list_of, list_of_mut, read_list, write_list);

/// Signals a change to a list (keyspace event `event`), deleting it when it
/// became empty (then also `del`, as Redis follows the command's event).
fn after_write(db: &mut Db<'_, '_>, key: &[u8], now_empty: bool, event: &'static str) {
    db.notify(notify::LIST, event, key);
    if now_empty {
        db.remove(key);
        db.notify(notify::GENERIC, "del", key);
    } else {
        db.modified(key);
    }
}

fn pop_event(end: End) -> &'static str {
    match end {
        End::Left => "lpop",
        End::Right => "rpop",
    }
}

fn push_event(end: End) -> &'static str {
    match end {
        End::Left => "lpush",
        End::Right => "rpush",
    }
}

/// Pops up to `count` elements from a list the caller checked exists.
fn pop_some(db: &mut Db<'_, '_>, key: &[u8], end: End, count: usize) -> Vec<Bytes24> {
    let Some(Ok(list)) = write_list(db, key).transpose() else {
        return Vec::new();
    };
    let popped: Vec<Bytes24> = (0..count).map_while(|_| list.pop(end)).collect();
    let empty = list.is_empty();
    if !popped.is_empty() {
        after_write(db, key, empty, pop_event(end));
    }
    popped
}

fn reply_elements(out: &mut Reply, items: &[Bytes24]) {
    out.array(items.len());
    for item in items {
        out.bulk(item);
    }
}

/// A count that must be positive, with the command's own message for both a
/// non-integer and a negative value (as Redis's range check replies).
fn non_negative(arg: &[u8], msg: &'static str) -> Result<u64, CmdError> {
    crate::protocol::parse::parse_i64(arg)
        .and_then(|n| u64::try_from(n).ok())
        .ok_or(CmdError::Msg(msg))
}

fn end_arg(args: &Args, i: usize) -> Result<End, CmdError> {
    End::parse(args.get(i)).ok_or(CmdError::Syntax)
}

/// Resolves LRANGE/LTRIM style indexes against a length: Some(start, end)
/// inclusive, None for an empty range.
fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let end = if end < 0 { len + end } else { end.min(len - 1) };
    (start <= end && start < len).then_some((start as usize, end as usize))
}

// ---- push ----

fn lpush(ctx: &mut Ctx, args: &Args) -> CmdResult {
    push(ctx, args, End::Left, false)
}

fn rpush(ctx: &mut Ctx, args: &Args) -> CmdResult {
    push(ctx, args, End::Right, false)
}

fn lpushx(ctx: &mut Ctx, args: &Args) -> CmdResult {
    push(ctx, args, End::Left, true)
}

fn rpushx(ctx: &mut Ctx, args: &Args) -> CmdResult {
    push(ctx, args, End::Right, true)
}

fn push(ctx: &mut Ctx, args: &Args, end: End, only_existing: bool) -> CmdResult {
    let key = args.get(1);
    let elements = args.iter().skip(2);
    let len = match write_list(&mut ctx.db, key)? {
        Some(list) => {
            list.extend(end, elements);
            let len = list.len();
            ctx.db.modified(key);
            len
        }
        None if only_existing => 0,
        None => {
            let mut list = List::default();
            list.extend(end, elements);
            let len = list.len();
            ctx.db.set(key, Value::List(Box::new(list)));
            len
        }
    };
    if len > 0 {
        ctx.db.notify(notify::LIST, push_event(end), key);
    }
    ctx.out.int(len as i64);
    Ok(())
}

// ---- pop ----

fn lpop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    pop(ctx, args, End::Left)
}

fn rpop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    pop(ctx, args, End::Right)
}

fn pop(ctx: &mut Ctx, args: &Args, end: End) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::msg(format!(
            "ERR wrong number of arguments for '{}' command",
            String::from_utf8_lossy(args.get(0)).to_ascii_lowercase()
        )));
    }
    let count = match args.get_opt(2) {
        Some(arg) => Some(non_negative(
            arg,
            "ERR value is out of range, must be positive",
        )?),
        None => None,
    };
    let key = args.get(1);
    if write_list(&mut ctx.db, key)?.is_none() {
        match count {
            Some(_) => ctx.out.null_array(),
            None => ctx.out.null(),
        }
        return Ok(());
    }
    match count {
        None => {
            let popped = pop_some(&mut ctx.db, key, end, 1);
            ctx.out.bulk(&popped[0]);
        }
        Some(n) => {
            let popped = pop_some(&mut ctx.db, key, end, n.min(usize::MAX as u64) as usize);
            reply_elements(ctx.out, &popped);
        }
    }
    Ok(())
}

// ---- reads ----

fn llen(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let len = read_list(&mut ctx.db, args.get(1))?.map_or(0, List::len);
    ctx.out.int(len as i64);
    Ok(())
}

fn lrange(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (start, end) = (args.int(2)?, args.int(3)?);
    let Some(list) = read_list(&mut ctx.db, args.get(1))? else {
        ctx.out.array(0);
        return Ok(());
    };
    match clamp_range(start, end, list.len()) {
        Some((start, end)) => {
            ctx.out.array(end - start + 1);
            let mut items = list.range(start, end);
            while let Some((prefix, suffix)) = items.next_front_parts() {
                ctx.out.bulk_parts(prefix, suffix);
            }
        }
        None => ctx.out.array(0),
    }
    Ok(())
}

fn lindex(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let Some(list) = read_list(&mut ctx.db, args.get(1))? else {
        ctx.out.null();
        return Ok(());
    };
    let index = args.int(2)?;
    match list.resolve(index).and_then(|i| list.get(i)) {
        Some(item) => ctx.out.bulk(&item),
        None => ctx.out.null(),
    }
    Ok(())
}

/// LPOS options, parsed before the key is looked at.
struct LposOptions {
    rank: i64,
    count: Option<u64>,
    maxlen: u64,
}

fn lpos_options(args: &Args) -> Result<LposOptions, CmdError> {
    let mut options = LposOptions {
        rank: 1,
        count: None,
        maxlen: 0,
    };
    let mut i = 3;
    while i < args.len() {
        if i + 1 >= args.len() {
            return Err(CmdError::Syntax);
        }
        if args.is(i, "rank") {
            options.rank = args.int(i + 1)?;
            if options.rank == 0 {
                return Err(CmdError::Msg(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
        } else if args.is(i, "count") {
            options.count = Some(non_negative(
                args.get(i + 1),
                "ERR COUNT can't be negative",
            )?);
        } else if args.is(i, "maxlen") {
            options.maxlen = non_negative(args.get(i + 1), "ERR MAXLEN can't be negative")?;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    Ok(options)
}

fn lpos(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let options = lpos_options(args)?;
    let wanted = args.get(2);
    let Some(list) = read_list(&mut ctx.db, args.get(1))? else {
        match options.count {
            Some(_) => ctx.out.array(0),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let len = list.len();
    let scan_limit = match options.maxlen {
        0 => len,
        n => (n.min(len as u64)) as usize,
    };
    // Redis negates the rank in a C long: LONG_MIN stays negative and every
    // match from the tail qualifies.
    let skip = match options.rank {
        i64::MIN => 0,
        rank => usize::try_from(rank.unsigned_abs() - 1).unwrap_or(usize::MAX),
    };
    let want = match options.count {
        Some(0) => usize::MAX,
        Some(n) => n.min(usize::MAX as u64) as usize,
        None => 1,
    };
    // Scans from the head for a positive rank, from the tail otherwise.
    let from_head = options.rank > 0;
    let mut items = list.cursor();
    let (mut positions, mut matched) = (Vec::new(), 0usize);
    for scanned in 0..scan_limit {
        let hit = if from_head {
            items
                .next_front_parts()
                .is_some_and(|item| parts_eq(item, wanted))
        } else {
            items.next_back().is_some_and(|item| item == wanted)
        };
        if !hit {
            continue;
        }
        matched += 1;
        if matched > skip {
            positions.push(if from_head {
                scanned
            } else {
                len - 1 - scanned
            });
            if positions.len() == want {
                break;
            }
        }
    }
    match (options.count, positions.first()) {
        (Some(_), _) => {
            ctx.out.array(positions.len());
            for p in positions {
                ctx.out.int(p as i64);
            }
        }
        (None, Some(&p)) => ctx.out.int(p as i64),
        (None, None) => ctx.out.null(),
    }
    Ok(())
}

// ---- in-place edits ----

fn lset(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let list = write_list(&mut ctx.db, key)?.ok_or(CmdError::NoSuchKey)?;
    let index = args.int(2)?;
    let at = list.resolve(index).ok_or(CmdError::OutOfRange)?;
    list.set(at, args.get(3));
    ctx.db.modified(key);
    ctx.db.notify(notify::LIST, "lset", key);
    ctx.out.ok();
    Ok(())
}

fn linsert(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let after = if args.is(2, "after") {
        true
    } else if args.is(2, "before") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let key = args.get(1);
    let Some(list) = write_list(&mut ctx.db, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    if !list.insert(args.get(3), args.get(4), after) {
        ctx.out.int(-1);
        return Ok(());
    }
    let len = list.len();
    ctx.db.modified(key);
    ctx.db.notify(notify::LIST, "linsert", key);
    ctx.out.int(len as i64);
    Ok(())
}

fn lrem(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let count = args.int(2)?;
    let key = args.get(1);
    let Some(list) = write_list(&mut ctx.db, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let removed = list.remove(args.get(3), count);
    let empty = list.is_empty();
    if removed > 0 {
        after_write(&mut ctx.db, key, empty, "lrem");
    }
    ctx.out.int(removed as i64);
    Ok(())
}

fn ltrim(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (start, end) = (args.int(2)?, args.int(3)?);
    let key = args.get(1);
    if let Some(list) = write_list(&mut ctx.db, key)? {
        match clamp_range(start, end, list.len()) {
            Some((start, end)) => list.keep(start, end),
            None => list.keep(1, 0),
        }
        let empty = list.is_empty();
        after_write(&mut ctx.db, key, empty, "ltrim");
    }
    ctx.out.ok();
    Ok(())
}

// ---- moves ----

/// LMOVE's core: pops from `src` and pushes onto `dst` (the same list
/// rotates). None when `src` is missing; WRONGTYPE when either is not a list
/// (the destination is checked only when there is something to move).
/// As in Redis, the push is signalled before the pop, and an emptied source
/// is deleted last (a one-element list rotating onto itself never empties).
fn move_one(
    db: &mut Db<'_, '_>,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> Result<Option<Bytes24>, CmdError> {
    if write_list(db, src)?.is_none() {
        return Ok(None);
    }
    write_list(db, dst)?;
    let source = write_list(db, src)?.expect("looked up above");
    let item = source.pop(from).expect("stored lists are never empty");
    match write_list(db, dst)? {
        Some(list) => {
            list.push(to, &item);
            db.modified(dst);
        }
        None => {
            let mut list = List::default();
            list.push(to, &item);
            db.set(dst, Value::List(Box::new(list)));
        }
    }
    db.notify(notify::LIST, push_event(to), dst);
    let emptied = write_list(db, src)?.is_some_and(|list| list.is_empty());
    after_write(db, src, emptied, pop_event(from));
    Ok(Some(item))
}

fn reply_moved(out: &mut Reply, moved: Option<Bytes24>) {
    match moved {
        Some(item) => out.bulk(&item),
        None => out.null(),
    }
}

fn lmove(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (from, to) = (end_arg(args, 3)?, end_arg(args, 4)?);
    let moved = move_one(&mut ctx.db, args.get(1), args.get(2), from, to)?;
    reply_moved(ctx.out, moved);
    Ok(())
}

fn rpoplpush(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let moved = move_one(&mut ctx.db, args.get(1), args.get(2), End::Right, End::Left)?;
    reply_moved(ctx.out, moved);
    Ok(())
}

// ---- LMPOP ----

/// Where LMPOP/BLMPOP's numkeys sits.
const LMPOP_NUMKEYS: usize = 1;
const BLMPOP_NUMKEYS: usize = 2;

fn numkeys_keys(args: &Args, at: usize, out: &mut Vec<usize>) {
    let Some(n) = args
        .get_opt(at)
        .and_then(crate::protocol::parse::parse_i64)
        .filter(|&n| n > 0)
    else {
        return;
    };
    let n = (n as u64).min(args.len() as u64) as usize;
    out.extend(at + 1..at + 1 + n);
}

fn lmpop_keys(args: &Args, out: &mut Vec<usize>) {
    numkeys_keys(args, LMPOP_NUMKEYS, out)
}

fn blmpop_keys(args: &Args, out: &mut Vec<usize>) {
    numkeys_keys(args, BLMPOP_NUMKEYS, out)
}

/// A parsed `numkeys key... LEFT|RIGHT [COUNT count]` tail.
struct Mpop<'a> {
    keys: Vec<&'a [u8]>,
    end: End,
    count: usize,
}

fn parse_mpop<'a>(args: &Args<'a>, numkeys_at: usize) -> Result<Mpop<'a>, CmdError> {
    let numkeys = crate::protocol::parse::parse_i64(args.get(numkeys_at))
        .filter(|&n| n > 0)
        .ok_or(CmdError::Msg("ERR numkeys should be greater than 0"))?;
    let where_at = (numkeys as u64).saturating_add(numkeys_at as u64 + 1);
    if where_at >= args.len() as u64 {
        return Err(CmdError::Syntax);
    }
    let where_at = where_at as usize;
    let end = end_arg(args, where_at)?;
    let mut count = None;
    let mut i = where_at + 1;
    while i < args.len() {
        if args.is(i, "count") && i + 1 < args.len() && count.is_none() {
            let n = crate::protocol::parse::parse_i64(args.get(i + 1))
                .filter(|&n| n > 0)
                .ok_or(CmdError::Msg("ERR count should be greater than 0"))?;
            count = Some(usize::try_from(n).unwrap_or(usize::MAX));
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(Mpop {
        keys: (numkeys_at + 1..where_at).map(|i| args.get(i)).collect(),
        end,
        count: count.unwrap_or(1),
    })
}

/// Pops from `key` if it is a non-empty list, replying `[key, [elements]]`.
fn mpop_from(
    db: &mut Db<'_, '_>,
    key: &[u8],
    end: End,
    count: usize,
    out: &mut Reply,
) -> Result<bool, CmdError> {
    if write_list(db, key)?.is_none() {
        return Ok(false);
    }
    let popped = pop_some(db, key, end, count);
    out.array(2);
    out.bulk(key);
    reply_elements(out, &popped);
    // Served waiters and BLMPOP reach the AOF in LMPOP's form.
    let mut itoa = itoa::Buffer::new();
    db.propagate(&[
        b"LMPOP",
        b"1",
        key,
        end_word(end),
        b"COUNT",
        itoa.format(count).as_bytes(),
    ]);
    Ok(true)
}

fn end_word(end: End) -> &'static [u8] {
    match end {
        End::Left => b"LEFT",
        End::Right => b"RIGHT",
    }
}

/// Tries each key in turn; true when one was served.
fn mpop_first(ctx: &mut Ctx, mpop: &Mpop) -> Result<bool, CmdError> {
    for key in &mpop.keys {
        if mpop_from(&mut ctx.db, key, mpop.end, mpop.count, ctx.out)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lmpop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mpop = parse_mpop(args, LMPOP_NUMKEYS)?;
    if !mpop_first(ctx, &mpop)? {
        ctx.out.null_array();
    }
    Ok(())
}

// ---- blocking ----

fn blpop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    bpop(ctx, args, End::Left, serve_blpop)
}

fn brpop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    bpop(ctx, args, End::Right, serve_brpop)
}

/// Pops one element into `[key, element]`; false when `key` holds no list.
fn pop_with_key(
    db: &mut Db<'_, '_>,
    key: &[u8],
    end: End,
    out: &mut Reply,
) -> Result<bool, CmdError> {
    if write_list(db, key)?.is_none() {
        return Ok(false);
    }
    let popped = pop_some(db, key, end, 1);
    out.array(2);
    out.bulk(key);
    out.bulk(&popped[0]);
    // BLPOP/BRPOP reach the AOF as the pop they did.
    db.propagate(&[if end == End::Left { b"LPOP" } else { b"RPOP" }, key]);
    Ok(true)
}

fn bpop(ctx: &mut Ctx, args: &Args, end: End, serve: ServeFn) -> CmdResult {
    let timeout = blocking::parse_timeout(args.get(args.len() - 1))?;
    let keys: Vec<&[u8]> = args.iter().skip(1).take(args.len() - 2).collect();
    for key in &keys {
        if pop_with_key(&mut ctx.db, key, end, ctx.out)? {
            return Ok(());
        }
    }
    block_or_reply(ctx, keys, Vec::new(), timeout, serve, Reply::null_array);
    Ok(())
}

/// Blocks the client, or inside MULTI replies `empty` at once.
fn block_or_reply(
    ctx: &mut Ctx,
    keys: Vec<&[u8]>,
    also_locks: Vec<&[u8]>,
    timeout: Option<std::time::Duration>,
    serve: ServeFn,
    empty: fn(&mut Reply),
) {
    if !blocking::may_block(ctx) {
        empty(ctx.out);
        return;
    }
    let owned = |v: Vec<&[u8]>| v.into_iter().map(<[u8]>::to_vec).collect();
    blocking::block(ctx, owned(keys), owned(also_locks), timeout, serve);
}

/// Serve functions: run when a key the waiter blocks on changed. Argument
/// errors were ruled out when the command blocked; a key that now holds
/// another type leaves the waiter blocked.
fn serve_blpop(db: &mut Db<'_, '_>, key: &[u8], _args: &Args, out: &mut Reply) -> bool {
    pop_with_key(db, key, End::Left, out).unwrap_or(false)
}

fn serve_brpop(db: &mut Db<'_, '_>, key: &[u8], _args: &Args, out: &mut Reply) -> bool {
    pop_with_key(db, key, End::Right, out).unwrap_or(false)
}

fn blmove(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (from, to) = (end_arg(args, 3)?, end_arg(args, 4)?);
    let timeout = blocking::parse_timeout(args.get(5))?;
    bmove(ctx, args, from, to, timeout, serve_blmove)
}

fn brpoplpush(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let timeout = blocking::parse_timeout(args.get(3))?;
    bmove(ctx, args, End::Right, End::Left, timeout, serve_brpoplpush)
}

fn bmove(
    ctx: &mut Ctx,
    args: &Args,
    from: End,
    to: End,
    timeout: Option<std::time::Duration>,
    serve: ServeFn,
) -> CmdResult {
    let (src, dst) = (args.get(1), args.get(2));
    if let Some(item) = move_one(&mut ctx.db, src, dst, from, to)? {
        ctx.out.bulk(&item);
        return Ok(());
    }
    block_or_reply(ctx, vec![src], vec![dst], timeout, serve, Reply::null);
    Ok(())
}

fn serve_move(db: &mut Db<'_, '_>, args: &Args, from: End, to: End, out: &mut Reply) -> bool {
    match move_one(db, args.get(1), args.get(2), from, to) {
        Ok(Some(item)) => {
            out.bulk(&item);
            db.propagate(&[
                b"LMOVE",
                args.get(1),
                args.get(2),
                end_word(from),
                end_word(to),
            ]);
        }
        Ok(None) => return false,
        // The destination became another type: the waiter gets the error.
        Err(e) => out.error(&e.to_string()),
    }
    true
}

fn serve_blmove(db: &mut Db<'_, '_>, _key: &[u8], args: &Args, out: &mut Reply) -> bool {
    let (Ok(from), Ok(to)) = (end_arg(args, 3), end_arg(args, 4)) else {
        return false;
    };
    serve_move(db, args, from, to, out)
}

fn serve_brpoplpush(db: &mut Db<'_, '_>, _key: &[u8], args: &Args, out: &mut Reply) -> bool {
    serve_move(db, args, End::Right, End::Left, out)
}

fn blmpop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let timeout = blocking::parse_timeout(args.get(1))?;
    let mpop = parse_mpop(args, BLMPOP_NUMKEYS)?;
    if mpop_first(ctx, &mpop)? {
        return Ok(());
    }
    block_or_reply(
        ctx,
        mpop.keys,
        Vec::new(),
        timeout,
        serve_blmpop,
        Reply::null_array,
    );
    Ok(())
}

fn serve_blmpop(db: &mut Db<'_, '_>, key: &[u8], args: &Args, out: &mut Reply) -> bool {
    let Ok(mpop) = parse_mpop(args, BLMPOP_NUMKEYS) else {
        return false;
    };
    mpop_from(db, key, mpop.end, mpop.count, out).unwrap_or(false)
}

#[cfg(test)]
mod tests;
