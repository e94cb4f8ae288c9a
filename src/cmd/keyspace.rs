//! Generic keyspace commands: DEL, UNLINK, EXISTS, TOUCH, KEYS, SCAN,
//! RANDOMKEY, TYPE, RENAME(NX), COPY, MOVE and OBJECT. TTL commands live in
//! [`super::expire`].
//!
//! Lookups follow Redis's rules for side effects: TYPE, EXISTS and OBJECT count
//! hits and misses without refreshing the access time; TOUCH and COPY's source
//! do both; RENAME and MOVE look up for writing (access time, no stats).

use super::spec::{CommandSpec, Keys, acl, flag::*, key1, keys_all, keys_range};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::db::value::access;
use crate::db::{StrValue, Value};
use crate::server::notify;
use crate::util::glob::glob_match;

const KEYSPACE: u64 = acl::KEYSPACE;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("del", -2, WRITE, keys_all(1), del)
        .acl(KEYSPACE)
        .doc("generic", "1.0.0", "Deletes one or more keys.")
        .complexity("O(N) where N is the number of keys that will be removed."),
    CommandSpec::new("unlink", -2, WRITE | FAST, keys_all(1), del)
        .acl(KEYSPACE)
        .doc(
            "generic",
            "4.0.0",
            "Deletes one or more keys; the memory is reclaimed without blocking.",
        )
        .complexity("O(1) for each key removed."),
    CommandSpec::new("exists", -2, READONLY | FAST, keys_all(1), exists)
        .acl(KEYSPACE)
        .doc(
            "generic",
            "1.0.0",
            "Counts how many of the given keys exist, repeats included.",
        )
        .complexity("O(N) where N is the number of keys to check."),
    CommandSpec::new("touch", -2, READONLY | FAST, keys_all(1), touch)
        .acl(KEYSPACE)
        .doc(
            "generic",
            "3.2.1",
            "Marks keys as just accessed; returns how many of them exist.",
        )
        .complexity("O(N) where N is the number of keys that will be touched."),
    CommandSpec::new("keys", 2, READONLY | WHOLE_KEYSPACE, Keys::None, keys)
        .acl(KEYSPACE | acl::DANGEROUS)
        .doc(
            "generic",
            "1.0.0",
            "Lists every key that matches a glob-style pattern.",
        )
        .complexity("O(N) with N being the number of keys in the database."),
    CommandSpec::new("scan", -2, READONLY | WHOLE_KEYSPACE, Keys::None, scan)
        .acl(KEYSPACE)
        .doc(
            "generic",
            "2.8.0",
            "Walks the keyspace a few keys at a time with a cursor.",
        )
        .complexity("O(1) for every call. O(N) for a complete iteration."),
    CommandSpec::new("randomkey", 1, READONLY | WHOLE_KEYSPACE, Keys::None, randomkey)
        .acl(KEYSPACE)
        .doc(
            "generic",
            "1.0.0",
            "Returns a random key name from the database.",
        ),
    CommandSpec::new("type", 2, READONLY | FAST, key1(), type_cmd)
        .acl(KEYSPACE)
        .doc(
            "generic",
            "1.0.0",
            "Names the type of the value stored at a key.",
        ),
    CommandSpec::new("rename", 3, WRITE, keys_range(1, 2, 1), rename)
        .acl(KEYSPACE)
        .doc(
            "generic",
            "1.0.0",
            "Renames a key, overwriting the destination.",
        ),
    CommandSpec::new("renamenx", 3, WRITE | FAST, keys_range(1, 2, 1), renamenx)
        .acl(KEYSPACE)
        .doc(
            "generic",
            "1.0.0",
            "Renames a key only when the new name is free.",
        ),
    CommandSpec::new("copy", -3, WRITE | DENYOOM, keys_range(1, 2, 1), copy)
        .acl(KEYSPACE)
        .doc(
            "generic",
            "6.2.0",
            "Copies a key's value (and TTL) to another key, possibly in another database.",
        )
        .complexity(
            "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.",
        ),
    CommandSpec::new("move", 3, WRITE | FAST, key1(), move_cmd)
        .acl(KEYSPACE)
        .doc("generic", "1.0.0", "Moves a key to another database."),
    CommandSpec::container("object", -2, OBJECT_SUBCOMMANDS).doc(
        "generic",
        "2.2.3",
        "A container for object introspection commands.",
    ),
];

static OBJECT_SUBCOMMANDS: &[CommandSpec] = &[
    object_sub(
        "encoding",
        "2.2.3",
        "Returns the internal encoding of a key's value.",
        object_encoding,
    ),
    object_sub(
        "freq",
        "4.0.0",
        "Returns the logarithmic access frequency counter of a key's value.",
        object_freq,
    ),
    object_sub(
        "idletime",
        "2.2.3",
        "Returns the seconds since the last access to a key's value.",
        object_idletime,
    ),
    object_sub(
        "refcount",
        "2.2.3",
        "Returns the reference count of a key's value.",
        object_refcount,
    ),
    CommandSpec::new("help", 2, LOADING | STALE, Keys::None, object_help)
        .acl(KEYSPACE)
        .doc("generic", "6.2.0", "Lists the OBJECT subcommands."),
];

const fn object_sub(
    name: &'static str,
    since: &'static str,
    summary: &'static str,
    handler: super::spec::Handler,
) -> CommandSpec {
    CommandSpec::new(name, 3, READONLY, keys_range(2, 2, 1), handler)
        .acl(KEYSPACE)
        .doc("generic", since, summary)
}

fn del(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut removed = 0;
    for key in args.iter().skip(1) {
        if ctx.db.remove(key).is_some() {
            ctx.db.notify(notify::GENERIC, "del", key);
            removed += 1;
        }
    }
    ctx.out.int(removed as i64);
    Ok(())
}

fn exists(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let found = args
        .iter()
        .skip(1)
        .filter(|k| ctx.db.read_untouched(k).is_some())
        .count();
    ctx.out.int(found as i64);
    Ok(())
}

fn touch(ctx: &mut Ctx, args: &Args) -> CmdResult {
    // TOUCH exists to record an access, so it does even under CLIENT NO-TOUCH.
    ctx.db.no_touch = false;
    let found = args
        .iter()
        .skip(1)
        .filter(|k| ctx.db.read(k).is_some())
        .count();
    ctx.out.int(found as i64);
    Ok(())
}

fn keys(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let pattern = args.get(1);
    let all = pattern == b"*";
    let mut found: Vec<Vec<u8>> = Vec::new();
    ctx.db.for_each_key(|key, _| {
        if all || glob_match(pattern, key, false) {
            found.push(key.to_vec());
        }
    });
    ctx.out.array(found.len());
    for key in &found {
        ctx.out.bulk(key);
    }
    Ok(())
}

/// SCAN's options after the cursor.
struct ScanOptions<'a> {
    count: usize,
    pattern: Option<&'a [u8]>,
    type_name: Option<&'a [u8]>,
}

impl<'a> ScanOptions<'a> {
    fn parse(args: &Args<'a>, from: usize) -> Result<Self, CmdError> {
        let mut options = ScanOptions {
            count: 10,
            pattern: None,
            type_name: None,
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
                options.count = usize::try_from(count).unwrap_or(usize::MAX);
            } else if args.is(i, "match") {
                // "*" matches everything: skip the matcher.
                options.pattern = Some(args.get(i + 1)).filter(|p| *p != b"*");
            } else if args.is(i, "type") {
                options.type_name = Some(args.get(i + 1));
            } else {
                return Err(CmdError::Syntax);
            }
            i += 2;
        }
        Ok(options)
    }

    fn accepts(&self, key: &[u8], value: &Value) -> bool {
        self.pattern.is_none_or(|p| glob_match(p, key, false))
            && self
                .type_name
                .is_none_or(|t| t.eq_ignore_ascii_case(value.type_name().as_bytes()))
    }
}

fn scan(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut cursor = crate::cmd::parse::scan_cursor(args.get(1))?;
    let options = ScanOptions::parse(args, 2)?;
    // As in Redis, COUNT bounds the keys visited (before filtering), and empty
    // buckets are bounded too so one call stays short on a sparse table.
    let mut steps_left = options.count.saturating_mul(10);
    let mut visited = 0usize;
    let mut found: Vec<Vec<u8>> = Vec::new();
    loop {
        cursor = ctx.db.scan(cursor, |key, entry| {
            visited += 1;
            if options.accepts(key, &entry.value) {
                found.push(key.to_vec());
            }
        });
        steps_left -= 1;
        if cursor == 0 || steps_left == 0 || visited >= options.count {
            break;
        }
    }
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(cursor).as_bytes());
    ctx.out.array(found.len());
    for key in &found {
        ctx.out.bulk(key);
    }
    Ok(())
}

fn randomkey(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    match ctx.db.random_key(&mut ctx.client.rng) {
        Some(key) => ctx.out.bulk(&key),
        None => ctx.out.null(),
    }
    Ok(())
}

fn type_cmd(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let name = ctx
        .db
        .read_untouched(args.get(1))
        .map_or("none", |e| e.value.type_name());
    ctx.out.simple(name);
    Ok(())
}

fn rename(ctx: &mut Ctx, args: &Args) -> CmdResult {
    rename_generic(ctx, args, false)
}

fn renamenx(ctx: &mut Ctx, args: &Args) -> CmdResult {
    rename_generic(ctx, args, true)
}

/// RENAME and RENAMENX: the value, its access stamp and its TTL move together.
fn rename_generic(ctx: &mut Ctx, args: &Args, only_if_free: bool) -> CmdResult {
    let (src, dst) = (args.get(1), args.get(2));
    if ctx.db.get(src).is_none() {
        return Err(CmdError::NoSuchKey);
    }
    let renamed = if src == dst {
        !only_if_free
    } else if only_if_free && ctx.db.get(dst).is_some() {
        false
    } else {
        let db = ctx.db.index;
        let ttl = ctx.db.expire_at(src);
        let entry = ctx.db.remove(src).expect("looked up above");
        ctx.db.insert_in(db, dst, entry, ttl);
        ctx.db.notify(notify::GENERIC, "rename_from", src);
        ctx.db.notify(notify::GENERIC, "rename_to", dst);
        true
    };
    if only_if_free {
        ctx.out.int(renamed as i64);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

/// A database number argument, with Redis's two-step errors: it must fit a
/// C `int`, then name a configured database.
fn parse_db_index(ctx: &Ctx, args: &Args, i: usize) -> Result<usize, CmdError> {
    let n = args.int(i)?;
    if i32::try_from(n).is_err() {
        return Err(CmdError::Msg(
            "ERR value is out of range, value must between -2147483648 and 2147483647",
        ));
    }
    usize::try_from(n)
        .ok()
        .filter(|&db| db < ctx.server.keyspace.databases())
        .ok_or(CmdError::InvalidDb)
}

const SAME_OBJECT: CmdError = CmdError::Msg("ERR source and destination objects are the same");

fn copy(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (src, dst) = (args.get(1), args.get(2));
    let src_db = ctx.db.index;
    let mut dst_db = src_db;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if args.is(i, "replace") {
            replace = true;
        } else if args.is(i, "db") && i + 1 < args.len() {
            dst_db = parse_db_index(ctx, args, i + 1)?;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if src == dst && src_db == dst_db {
        return Err(SAME_OBJECT);
    }
    let Some(value) = ctx.db.read(src).map(|e| e.value.clone()) else {
        ctx.out.int(0);
        return Ok(());
    };
    if !replace && ctx.db.get_in(dst_db, dst).is_some() {
        ctx.out.int(0);
        return Ok(());
    }
    let ttl = ctx.db.expire_at(src);
    let entry = ctx.db.new_entry(value);
    ctx.db.insert_in(dst_db, dst, entry, ttl);
    ctx.db.notify_in(dst_db, notify::GENERIC, "copy_to", dst);
    ctx.out.int(1);
    Ok(())
}

fn move_cmd(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let dst_db = parse_db_index(ctx, args, 2)?;
    if dst_db == ctx.db.index {
        return Err(SAME_OBJECT);
    }
    let moved = ctx.db.get(key).is_some() && ctx.db.get_in(dst_db, key).is_none();
    if moved {
        let ttl = ctx.db.expire_at(key);
        let entry = ctx.db.remove(key).expect("looked up above");
        ctx.db.insert_in(dst_db, key, entry, ttl);
        ctx.db.notify(notify::GENERIC, "move_from", key);
        ctx.db.notify_in(dst_db, notify::GENERIC, "move_to", key);
    }
    ctx.out.int(moved as i64);
    Ok(())
}

fn lfu_policy(ctx: &Ctx) -> bool {
    ctx.server.config.read().maxmemory_policy.contains("lfu")
}

fn object_encoding(ctx: &mut Ctx, args: &Args) -> CmdResult {
    match ctx.db.read_unnotified(args.get(2)) {
        Some(entry) => ctx.out.bulk(entry.value.encoding().as_bytes()),
        None => ctx.out.null(),
    }
    Ok(())
}

/// Redis shares the objects for 0..10000 unless an LRU/LFU policy with a
/// memory limit needs per-key access data; shared objects report INT_MAX.
fn refcount(ctx: &Ctx, value: &Value) -> i64 {
    const SHARED_INTEGERS: i64 = 10_000;
    let shared_allowed = {
        let config = ctx.server.config.read();
        let policy = &config.maxmemory_policy;
        config.maxmemory == 0 || !(policy.contains("lru") || policy.contains("lfu"))
    };
    match value {
        Value::Str(StrValue::Int(n)) if shared_allowed && (0..SHARED_INTEGERS).contains(n) => {
            i32::MAX as i64
        }
        _ => 1,
    }
}

fn object_refcount(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let Some(value) = ctx.db.read_unnotified(args.get(2)).map(|e| e.value.clone()) else {
        ctx.out.null();
        return Ok(());
    };
    let n = refcount(ctx, &value);
    ctx.out.int(n);
    Ok(())
}

fn object_idletime(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let Some(stamp) = ctx.db.read_unnotified(args.get(2)).map(|e| e.access) else {
        ctx.out.null();
        return Ok(());
    };
    if lfu_policy(ctx) {
        return Err(CmdError::Msg(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ));
    }
    let idle = access::idle_seconds(ctx.db.now_ms, stamp);
    ctx.out.int(idle as i64);
    Ok(())
}

fn object_freq(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let Some(stamp) = ctx.db.read_unnotified(args.get(2)).map(|e| e.access) else {
        ctx.out.null();
        return Ok(());
    };
    if !lfu_policy(ctx) {
        return Err(CmdError::Msg(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ));
    }
    let decay = ctx
        .server
        .keyspace
        .access
        .lfu_decay_time
        .load(std::sync::atomic::Ordering::Relaxed);
    let freq = access::lfu_decayed(stamp, ctx.db.now_ms, decay);
    ctx.out.int(freq as i64);
    Ok(())
}

const OBJECT_HELP: &[&str] = &[
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
];

fn object_help(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    crate::cmd::reply_help(ctx.out, "OBJECT", OBJECT_HELP);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::atomic::Ordering::Relaxed;

    use crate::config::Config;
    use crate::db::value::access;
    use crate::testkit::TestClient;

    fn client_with(keys: &[&str]) -> TestClient {
        let mut t = TestClient::new();
        for k in keys {
            assert_eq!(t.run(&["SET", k, "v"]), "+OK\r\n");
        }
        t
    }

    /// Parses `*2 $n cursor *m keys...` into (cursor, keys).
    fn scan_reply(reply: &str) -> (String, Vec<String>) {
        let lines: Vec<&str> = reply.split("\r\n").collect();
        assert_eq!(lines[0], "*2", "{reply}");
        let cursor = lines[2].to_string();
        let n: usize = lines[3][1..].parse().unwrap();
        let keys = (0..n).map(|i| lines[5 + 2 * i].to_string()).collect();
        (cursor, keys)
    }

    /// Arity, flags, key range and ACL categories as Redis 7.0.15's
    /// `COMMAND INFO` reports them (categories sorted).
    type InfoRow = (
        &'static str,
        i16,
        &'static str,
        (i64, i64, i64),
        &'static str,
    );
    const REDIS_COMMAND_INFO: &[InfoRow] = &[
        (
            "copy",
            -3,
            "write denyoom",
            (1, 2, 1),
            "keyspace slow write",
        ),
        ("del", -2, "write", (1, -1, 1), "keyspace slow write"),
        (
            "exists",
            -2,
            "readonly fast",
            (1, -1, 1),
            "fast keyspace read",
        ),
        ("expire", -3, "write fast", (1, 1, 1), "fast keyspace write"),
        (
            "expireat",
            -3,
            "write fast",
            (1, 1, 1),
            "fast keyspace write",
        ),
        (
            "expiretime",
            2,
            "readonly fast",
            (1, 1, 1),
            "fast keyspace read",
        ),
        (
            "keys",
            2,
            "readonly",
            (0, 0, 0),
            "dangerous keyspace read slow",
        ),
        ("move", 3, "write fast", (1, 1, 1), "fast keyspace write"),
        ("object", -2, "", (0, 0, 0), "slow"),
        (
            "object|idletime",
            3,
            "readonly",
            (2, 2, 1),
            "keyspace read slow",
        ),
        (
            "object|freq",
            3,
            "readonly",
            (2, 2, 1),
            "keyspace read slow",
        ),
        (
            "object|help",
            2,
            "loading stale",
            (0, 0, 0),
            "keyspace slow",
        ),
        (
            "object|refcount",
            3,
            "readonly",
            (2, 2, 1),
            "keyspace read slow",
        ),
        (
            "object|encoding",
            3,
            "readonly",
            (2, 2, 1),
            "keyspace read slow",
        ),
        ("persist", 2, "write fast", (1, 1, 1), "fast keyspace write"),
        (
            "pexpire",
            -3,
            "write fast",
            (1, 1, 1),
            "fast keyspace write",
        ),
        (
            "pexpireat",
            -3,
            "write fast",
            (1, 1, 1),
            "fast keyspace write",
        ),
        (
            "pexpiretime",
            2,
            "readonly fast",
            (1, 1, 1),
            "fast keyspace read",
        ),
        ("pttl", 2, "readonly fast", (1, 1, 1), "fast keyspace read"),
        ("randomkey", 1, "readonly", (0, 0, 0), "keyspace read slow"),
        ("rename", 3, "write", (1, 2, 1), "keyspace slow write"),
        (
            "renamenx",
            3,
            "write fast",
            (1, 2, 1),
            "fast keyspace write",
        ),
        ("scan", -2, "readonly", (0, 0, 0), "keyspace read slow"),
        (
            "touch",
            -2,
            "readonly fast",
            (1, -1, 1),
            "fast keyspace read",
        ),
        ("ttl", 2, "readonly fast", (1, 1, 1), "fast keyspace read"),
        ("type", 2, "readonly fast", (1, 1, 1), "fast keyspace read"),
        (
            "unlink",
            -2,
            "write fast",
            (1, -1, 1),
            "fast keyspace write",
        ),
    ];

    #[test]
    fn specs_match_redis_command_info() {
        let table = crate::cmd::CommandTable::new(&[]).unwrap();
        for &(name, arity, flags, range, categories) in REDIS_COMMAND_INFO {
            let (parent, sub) = match name.split_once('|') {
                Some((p, s)) => (p, Some(s.as_bytes())),
                None => (name, None),
            };
            let (_, spec) = table.lookup(parent.as_bytes(), sub).unwrap();
            let spec_flags = spec.flag_names();
            let mut spec_acl = spec.acl_names();
            spec_acl.sort_unstable();
            assert_eq!(spec.arity, arity, "{name} arity");
            assert_eq!(spec_flags.join(" "), flags, "{name} flags");
            assert_eq!(spec.key_range(), range, "{name} keys");
            assert_eq!(spec_acl.join(" "), categories, "{name} ACL categories");
        }
    }

    #[test]
    fn del_unlink_exists_touch_count_keys() {
        let mut t = client_with(&["a", "b", "c"]);
        assert_eq!(t.run(&["EXISTS", "a", "a", "b", "nokey"]), ":3\r\n");
        assert_eq!(t.run(&["TOUCH", "a", "b", "a", "nokey"]), ":3\r\n");
        assert_eq!(t.run(&["DEL", "a", "a", "nokey"]), ":1\r\n");
        assert_eq!(t.run(&["UNLINK", "b", "c", "b"]), ":2\r\n");
        assert_eq!(t.run(&["EXISTS", "a", "b", "c"]), ":0\r\n");
        assert_eq!(
            t.run(&["DEL"]),
            "-ERR wrong number of arguments for 'del' command\r\n"
        );
    }

    #[test]
    fn introspection_counts_hits_and_misses() {
        let mut t = client_with(&["a"]);
        let stats = &t.server.keyspace.stats;
        let before = (stats.hits.load(Relaxed), stats.misses.load(Relaxed));
        t.run(&["EXISTS", "a", "nokey"]);
        t.run(&["TYPE", "a"]);
        t.run(&["OBJECT", "ENCODING", "nokey"]);
        let stats = &t.server.keyspace.stats;
        let after = (stats.hits.load(Relaxed), stats.misses.load(Relaxed));
        assert_eq!((after.0 - before.0, after.1 - before.1), (2, 2));
    }

    #[test]
    fn keys_matches_glob_patterns() {
        let mut t = client_with(&["user:1", "user:2", "order:1", "h*llo"]);
        let sorted = |reply: String| {
            let mut v: Vec<String> = reply
                .split("\r\n")
                .filter(|l| !l.is_empty() && !l.starts_with(['*', '$']))
                .map(String::from)
                .collect();
            v.sort();
            v
        };
        assert_eq!(sorted(t.run(&["KEYS", "user:*"])), ["user:1", "user:2"]);
        assert_eq!(sorted(t.run(&["KEYS", "*:1"])), ["order:1", "user:1"]);
        assert_eq!(sorted(t.run(&["KEYS", "h\\*llo"])), ["h*llo"]);
        assert_eq!(sorted(t.run(&["KEYS", "*"])).len(), 4);
        assert_eq!(t.run(&["KEYS", "nomatch*"]), "*0\r\n");
    }

    #[test]
    fn scan_cursor_parsing_follows_strtoul() {
        let parse_cursor = |t: &[u8]| crate::cmd::parse::scan_cursor(t).ok();
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"+7"), Some(7));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551616"), None);
        for bad in [&b" 1"[..], b"abc", b"1x", b"+", b"-"] {
            assert_eq!(parse_cursor(bad), None);
        }
    }

    #[test]
    fn scan_errors() {
        let mut t = client_with(&["a"]);
        assert_eq!(t.run(&["SCAN", "abc"]), "-ERR invalid cursor\r\n");
        assert_eq!(t.run(&["SCAN", "0", "COUNT", "0"]), "-ERR syntax error\r\n");
        assert_eq!(
            t.run(&["SCAN", "0", "COUNT", "-1"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            t.run(&["SCAN", "0", "COUNT", "x"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(t.run(&["SCAN", "0", "MATCH"]), "-ERR syntax error\r\n");
        assert_eq!(t.run(&["SCAN", "0", "FOO", "bar"]), "-ERR syntax error\r\n");
    }

    /// Runs a full SCAN iteration, calling `between` after every call.
    fn full_scan(
        t: &mut TestClient,
        extra: &[&str],
        mut between: impl FnMut(&mut TestClient, usize),
    ) -> Vec<String> {
        let mut cursor = "0".to_string();
        let mut all = Vec::new();
        for call in 0.. {
            let mut cmd = vec!["SCAN", cursor.as_str()];
            cmd.extend_from_slice(extra);
            let (next, keys) = scan_reply(&t.run(&cmd));
            all.extend(keys);
            if next == "0" {
                break;
            }
            assert!(call < 100_000, "scan does not terminate");
            cursor = next;
            between(t, call);
        }
        all
    }

    #[test]
    fn scan_full_iteration_with_match_count_and_type() {
        let names: Vec<String> = (0..300).map(|i| format!("key:{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut t = client_with(&refs);
        let seen: HashSet<String> = full_scan(&mut t, &["COUNT", "7"], |_, _| {})
            .into_iter()
            .collect();
        assert_eq!(seen.len(), 300);
        let matched = full_scan(&mut t, &["MATCH", "key:1?", "COUNT", "1000"], |_, _| {});
        let mut matched: Vec<String> = matched;
        matched.sort();
        let mut want: Vec<String> = (10..20).map(|i| format!("key:{i}")).collect();
        want.sort();
        assert_eq!(matched, want);
        assert_eq!(
            full_scan(&mut t, &["TYPE", "STRING", "MATCH", "key:299"], |_, _| {}),
            ["key:299"]
        );
        assert!(full_scan(&mut t, &["TYPE", "list"], |_, _| {}).is_empty());
    }

    /// `n` names with `prefix` whose keys all land in `shard`, so a test can
    /// make one dict grow and shrink under a running SCAN.
    fn names_in_shard(t: &TestClient, prefix: &str, shard: usize, n: usize) -> Vec<String> {
        let keyspace = &t.server.keyspace;
        (0..)
            .map(|i| format!("{prefix}:{i}"))
            .filter(|k| keyspace.shard_of(crate::db::dict::hash_key(k.as_bytes())) == shard)
            .take(n)
            .collect()
    }

    #[test]
    fn scan_returns_every_key_present_for_the_whole_iteration() {
        let mut t = TestClient::new();
        // Everything in one shard: the guarantee must hold inside one dict
        // while it grows and shrinks, not only across shards.
        let stable = names_in_shard(&t, "stable", 0, 200);
        let doomed = names_in_shard(&t, "doomed", 0, 400);
        let added = names_in_shard(&t, "new", 0, 1200);
        for key in stable.iter().chain(&doomed) {
            t.run(&["SET", key, "v"]);
        }
        let seen: HashSet<String> = full_scan(&mut t, &["COUNT", "5"], |t, call| {
            for key in doomed.iter().skip(call * 4).take(4) {
                t.run(&["DEL", key]);
            }
            for key in added.iter().skip(call * 6).take(6) {
                t.run(&["SET", key, "v"]);
            }
        })
        .into_iter()
        .collect();
        for key in &stable {
            assert!(seen.contains(key), "{key} missed by SCAN");
        }
    }

    #[test]
    fn scan_never_returns_expired_keys() {
        let mut t = client_with(&["live"]);
        t.run(&["SET", "gone", "v"]);
        t.run(&["PEXPIREAT", "gone", "1000"]);
        // PEXPIREAT in the past deleted it; make one that expires via the clock.
        t.run(&["SET", "soon", "v"]);
        t.run(&["PEXPIRE", "soon", "1"]);
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(full_scan(&mut t, &[], |_, _| {}), ["live"]);
        assert_eq!(t.run(&["KEYS", "*"]), "*1\r\n$4\r\nlive\r\n");
    }

    #[test]
    fn randomkey_and_type() {
        let mut t = TestClient::new();
        assert_eq!(t.run(&["RANDOMKEY"]), "$-1\r\n");
        t.run(&["SET", "only", "v"]);
        assert_eq!(t.run(&["RANDOMKEY"]), "$4\r\nonly\r\n");
        assert_eq!(t.run(&["TYPE", "only"]), "+string\r\n");
        assert_eq!(t.run(&["TYPE", "nokey"]), "+none\r\n");
    }

    #[test]
    fn rename_moves_value_and_ttl() {
        let mut t = client_with(&["src", "dst"]);
        assert_eq!(t.run(&["RENAME", "nokey", "x"]), "-ERR no such key\r\n");
        assert_eq!(t.run(&["RENAMENX", "nokey", "x"]), "-ERR no such key\r\n");
        assert_eq!(t.run(&["RENAME", "src", "src"]), "+OK\r\n");
        assert_eq!(t.run(&["RENAMENX", "src", "src"]), ":0\r\n");
        assert_eq!(t.run(&["RENAMENX", "src", "dst"]), ":0\r\n");
        t.run(&["EXPIRE", "src", "100"]);
        t.run(&["EXPIRE", "dst", "50"]);
        t.run(&["SET", "src", "moved"]);
        t.run(&["EXPIRE", "src", "100"]);
        assert_eq!(t.run(&["RENAME", "src", "dst"]), "+OK\r\n");
        assert_eq!(t.run(&["GET", "dst"]), "$5\r\nmoved\r\n");
        assert_eq!(t.run(&["TTL", "dst"]), ":100\r\n");
        assert_eq!(t.run(&["EXISTS", "src"]), ":0\r\n");
        // A key without TTL renamed over one with a TTL leaves none.
        t.run(&["SET", "plain", "p"]);
        assert_eq!(t.run(&["RENAME", "plain", "dst"]), "+OK\r\n");
        assert_eq!(t.run(&["TTL", "dst"]), ":-1\r\n");
        assert_eq!(t.run(&["RENAMENX", "dst", "fresh"]), ":1\r\n");
        assert_eq!(t.run(&["GET", "fresh"]), "$1\r\np\r\n");
    }

    #[test]
    fn copy_with_db_and_replace() {
        let mut t = client_with(&["src", "taken"]);
        t.run(&["EXPIRE", "src", "100"]);
        assert_eq!(
            t.run(&["COPY", "src", "src"]),
            "-ERR source and destination objects are the same\r\n"
        );
        assert_eq!(
            t.run(&["COPY", "src", "x", "DB", "16"]),
            "-ERR DB index is out of range\r\n"
        );
        assert_eq!(
            t.run(&["COPY", "src", "x", "DB", "-1"]),
            "-ERR DB index is out of range\r\n"
        );
        assert_eq!(
            t.run(&["COPY", "src", "x", "DB", "2147483648"]),
            "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"
        );
        assert_eq!(t.run(&["COPY", "src", "x", "DB"]), "-ERR syntax error\r\n");
        assert_eq!(
            t.run(&["COPY", "src", "x", "BOGUS"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(t.run(&["COPY", "nokey", "x"]), ":0\r\n");
        assert_eq!(t.run(&["COPY", "src", "taken"]), ":0\r\n");
        assert_eq!(t.run(&["COPY", "src", "taken", "REPLACE"]), ":1\r\n");
        assert_eq!(t.run(&["TTL", "taken"]), ":100\r\n");
        assert_eq!(t.run(&["COPY", "src", "src", "DB", "3"]), ":1\r\n");
        assert_eq!(t.run(&["EXISTS", "src"]), ":1\r\n");
        t.run(&["SELECT", "3"]);
        assert_eq!(t.run(&["TTL", "src"]), ":100\r\n");
        assert_eq!(t.run(&["GET", "src"]), "$1\r\nv\r\n");
    }

    #[test]
    fn move_between_databases() {
        let mut t = client_with(&["k"]);
        t.run(&["PEXPIRE", "k", "100000"]);
        assert_eq!(
            t.run(&["MOVE", "k", "0"]),
            "-ERR source and destination objects are the same\r\n"
        );
        assert_eq!(
            t.run(&["MOVE", "k", "16"]),
            "-ERR DB index is out of range\r\n"
        );
        assert_eq!(
            t.run(&["MOVE", "k", "x"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(t.run(&["MOVE", "nokey", "1"]), ":0\r\n");
        assert_eq!(t.run(&["MOVE", "k", "1"]), ":1\r\n");
        assert_eq!(t.run(&["EXISTS", "k"]), ":0\r\n");
        t.run(&["SET", "k", "again"]);
        assert_eq!(t.run(&["MOVE", "k", "1"]), ":0\r\n", "target key exists");
        t.run(&["SELECT", "1"]);
        assert_eq!(t.run(&["GET", "k"]), "$1\r\nv\r\n");
        let pttl: u64 = t.run(&["PTTL", "k"])[1..].trim_end().parse().unwrap();
        assert!(
            (90_000..=100_000).contains(&pttl),
            "TTL moved with the key: {pttl}"
        );
    }

    #[test]
    fn object_encoding_refcount_and_help() {
        let mut t = TestClient::new();
        t.run(&["SET", "int", "12"]);
        t.run(&["SET", "bigint", "123456"]);
        t.run(&["SET", "str", "hello"]);
        t.run(&["SET", "long", &"x".repeat(45)]);
        assert_eq!(t.run(&["OBJECT", "ENCODING", "int"]), "$3\r\nint\r\n");
        assert_eq!(t.run(&["OBJECT", "ENCODING", "str"]), "$6\r\nembstr\r\n");
        assert_eq!(t.run(&["OBJECT", "ENCODING", "long"]), "$3\r\nraw\r\n");
        assert_eq!(t.run(&["OBJECT", "ENCODING", "nokey"]), "$-1\r\n");
        assert_eq!(t.run(&["OBJECT", "REFCOUNT", "int"]), ":2147483647\r\n");
        assert_eq!(t.run(&["OBJECT", "REFCOUNT", "bigint"]), ":1\r\n");
        assert_eq!(t.run(&["OBJECT", "REFCOUNT", "str"]), ":1\r\n");
        assert_eq!(t.run(&["OBJECT", "REFCOUNT", "nokey"]), "$-1\r\n");
        let help = t.run(&["OBJECT", "HELP"]);
        assert!(help.starts_with(
            "*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
        ));
        assert!(help.ends_with("+HELP\r\n+    Prints this help.\r\n"));
        assert_eq!(
            t.run(&["OBJECT", "NOPE"]),
            "-ERR unknown subcommand 'NOPE'. Try OBJECT HELP.\r\n"
        );
        assert_eq!(
            t.run(&["OBJECT", "ENCODING"]),
            "-ERR wrong number of arguments for 'object|encoding' command\r\n"
        );
    }

    /// Pretends `key` was last accessed `seconds` ago.
    fn age_key(t: &TestClient, key: &str, seconds: u32) {
        let mut locked = t.server.keyspace.lock_keys([key]);
        let mut db = locked.db(0, crate::cmd::now_ms());
        let entry = db.peek_in(0, key.as_bytes()).unwrap();
        entry.access = entry.access.wrapping_sub(seconds) & access::LRU_CLOCK_MAX;
    }

    #[test]
    fn object_idletime_tracks_last_access() {
        let mut t = client_with(&["k"]);
        let idle = t.run(&["OBJECT", "IDLETIME", "k"]);
        assert!(idle == ":0\r\n" || idle == ":1\r\n", "{idle}");
        age_key(&t, "k", 100);
        // Introspection leaves the access time alone...
        t.run(&["TYPE", "k"]);
        t.run(&["EXISTS", "k"]);
        t.run(&["TTL", "k"]);
        let idle = t.run(&["OBJECT", "IDLETIME", "k"]);
        assert!(idle == ":100\r\n" || idle == ":101\r\n", "{idle}");
        // ...a read refreshes it.
        t.run(&["GET", "k"]);
        let idle = t.run(&["OBJECT", "IDLETIME", "k"]);
        assert!(idle == ":0\r\n" || idle == ":1\r\n", "{idle}");
        age_key(&t, "k", 50);
        t.run(&["TOUCH", "k"]);
        let idle = t.run(&["OBJECT", "IDLETIME", "k"]);
        assert!(idle == ":0\r\n" || idle == ":1\r\n", "{idle}");
        assert_eq!(t.run(&["OBJECT", "IDLETIME", "nokey"]), "$-1\r\n");
        assert_eq!(
            t.run(&["OBJECT", "FREQ", "k"]),
            "-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n"
        );
        assert_eq!(t.run(&["OBJECT", "FREQ", "nokey"]), "$-1\r\n");
    }

    #[test]
    fn object_freq_under_lfu_policy() {
        let config = Config {
            maxmemory_policy: "allkeys-lfu".into(),
            ..Config::default()
        };
        let mut t = TestClient::with_config(config);
        t.run(&["SET", "k", "v"]);
        assert_eq!(t.run(&["OBJECT", "FREQ", "k"]), ":5\r\n");
        // From the initial value the first hit always counts.
        t.run(&["GET", "k"]);
        assert_eq!(t.run(&["OBJECT", "FREQ", "k"]), ":6\r\n");
        // Overwriting keeps the key's access history, as Redis does under LFU.
        t.run(&["SET", "k", "w"]);
        let freq = t.run(&["OBJECT", "FREQ", "k"]);
        assert!(freq == ":6\r\n" || freq == ":7\r\n", "{freq}");
        assert!(
            t.run(&["OBJECT", "IDLETIME", "k"])
                .starts_with("-ERR An LFU maxmemory policy is selected, idle time not tracked.")
        );
    }

    #[test]
    fn client_no_touch_leaves_access_stamps_alone_except_for_touch() {
        let mut t = TestClient::new();
        assert_eq!(
            t.run(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]),
            "+OK\r\n"
        );
        t.run(&["SET", "k", "v"]);
        let freq = |t: &mut TestClient| t.run(&["OBJECT", "FREQ", "k"]);
        let created = freq(&mut t);
        assert_eq!(t.run(&["CLIENT", "NO-TOUCH", "ON"]), "+OK\r\n");
        for _ in 0..20 {
            t.run(&["GET", "k"]);
        }
        assert_eq!(freq(&mut t), created, "reads under NO-TOUCH must not count");
        t.run(&["TOUCH", "k"]);
        assert_ne!(freq(&mut t), created, "TOUCH still records the access");
    }
}
