//! The declarative description of a command. One `CommandSpec` per command
//! (and per subcommand) drives dispatch, arity errors, `COMMAND` replies, ACL
//! categories, renames, OOM refusal and key extraction.

use super::{Args, CmdResult, Ctx};

pub type Handler = fn(&mut Ctx<'_, '_>, &Args<'_>) -> CmdResult;

/// Command flags, as `COMMAND INFO` names them, plus two internal ones that
/// choose how much of the keyspace the dispatcher locks.
pub mod flag {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const SKIP_SLOWLOG: u32 = 1 << 10;
    pub const ASKING: u32 = 1 << 11;
    pub const FAST: u32 = 1 << 12;
    pub const NO_AUTH: u32 = 1 << 13;
    pub const MAY_REPLICATE: u32 = 1 << 14;
    pub const NO_MANDATORY_KEYS: u32 = 1 << 15;
    pub const NO_ASYNC_LOADING: u32 = 1 << 16;
    pub const NO_MULTI: u32 = 1 << 17;
    pub const MOVABLE_KEYS: u32 = 1 << 18;
    pub const ALLOW_BUSY: u32 = 1 << 19;
    /// Internal: the command sees the whole keyspace (KEYS, FLUSHDB, SWAPDB),
    /// so every shard is locked for it.
    pub const WHOLE_KEYSPACE: u32 = 1 << 30;
    /// Internal: with WHOLE_KEYSPACE, the command only reads (INFO), so a
    /// running snapshot need not save the shards before it looks.
    pub const INSPECTS: u32 = 1 << 29;
    /// Internal: EXEC, DISCARD, MULTI, WATCH, QUIT, RESET run at once even
    /// inside MULTI instead of being queued.
    pub const TXN_CONTROL: u32 = 1 << 31;

    /// Names in `COMMAND INFO` order.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (ASKING, "asking"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLE_KEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// ACL categories. Some follow from flags (write, read, admin, fast...), the
/// rest are given per command.
pub mod acl {
    pub const KEYSPACE: u64 = 1 << 0;
    pub const READ: u64 = 1 << 1;
    pub const WRITE: u64 = 1 << 2;
    pub const SET: u64 = 1 << 3;
    pub const SORTEDSET: u64 = 1 << 4;
    pub const LIST: u64 = 1 << 5;
    pub const HASH: u64 = 1 << 6;
    pub const STRING: u64 = 1 << 7;
    pub const BITMAP: u64 = 1 << 8;
    pub const HYPERLOGLOG: u64 = 1 << 9;
    pub const GEO: u64 = 1 << 10;
    pub const STREAM: u64 = 1 << 11;
    pub const PUBSUB: u64 = 1 << 12;
    pub const ADMIN: u64 = 1 << 13;
    pub const FAST: u64 = 1 << 14;
    pub const SLOW: u64 = 1 << 15;
    pub const BLOCKING: u64 = 1 << 16;
    pub const DANGEROUS: u64 = 1 << 17;
    pub const CONNECTION: u64 = 1 << 18;
    pub const TRANSACTION: u64 = 1 << 19;
    pub const SCRIPTING: u64 = 1 << 20;

    /// Names in the order `ACL CAT` lists them.
    pub const NAMES: &[(u64, &str)] = &[
        (KEYSPACE, "keyspace"),
        (READ, "read"),
        (WRITE, "write"),
        (SET, "set"),
        (SORTEDSET, "sortedset"),
        (LIST, "list"),
        (HASH, "hash"),
        (STRING, "string"),
        (BITMAP, "bitmap"),
        (HYPERLOGLOG, "hyperloglog"),
        (GEO, "geo"),
        (STREAM, "stream"),
        (PUBSUB, "pubsub"),
        (ADMIN, "admin"),
        (FAST, "fast"),
        (SLOW, "slow"),
        (BLOCKING, "blocking"),
        (DANGEROUS, "dangerous"),
        (CONNECTION, "connection"),
        (TRANSACTION, "transaction"),
        (SCRIPTING, "scripting"),
    ];
}

/// Where a command's keys are in its arguments (0 is the command name).
#[derive(Clone, Copy)]
pub enum Keys {
    None,
    /// `first..=last` stepping by `step`; a negative `last` counts from the end
    /// (-1 = last argument), as in `COMMAND INFO`.
    Range {
        first: i16,
        last: i16,
        step: i16,
    },
    /// Argument positions computed from the arguments (numkeys forms, STREAMS,
    /// STORE...). Positions outside the arguments are ignored.
    Custom(fn(&Args<'_>, &mut Vec<usize>)),
}

/// Which arguments are pub/sub channels, for ACL channel rules (`&pattern`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Channels {
    None,
    /// The first argument is a channel (PUBLISH, SPUBLISH).
    First,
    /// Every argument is a channel (SUBSCRIBE, SSUBSCRIBE).
    All,
    /// Every argument is a pattern, matched literally against the user's
    /// channel rules (PSUBSCRIBE).
    Patterns,
}

pub struct CommandSpec {
    /// Lower-case name; `parent|sub` names are built by the table.
    pub name: &'static str,
    /// Exact argument count including the name, or at least `-arity`.
    pub arity: i16,
    pub flags: u32,
    /// Categories beyond those implied by the flags and the group.
    pub acl: u64,
    pub keys: Keys,
    pub handler: Option<Handler>,
    pub subcommands: &'static [CommandSpec],
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    pub complexity: &'static str,
    /// Hints for clients and proxies (`nondeterministic_output`,
    /// `request_policy:all_shards`...), shown by `COMMAND INFO`.
    pub tips: &'static [&'static str],
    /// The (first, last, step) `COMMAND INFO` shows for computed keys whose
    /// leading key sits at a fixed place (SORT, ZUNIONSTORE: 1 1 1).
    pub movable_range: Option<(i16, i16, i16)>,
    /// Channel arguments checked against the user's ACL channel rules.
    pub channels: Channels,
}

impl CommandSpec {
    pub const fn new(
        name: &'static str,
        arity: i16,
        flags: u32,
        keys: Keys,
        handler: Handler,
    ) -> Self {
        CommandSpec {
            name,
            arity,
            flags,
            acl: 0,
            keys,
            handler: Some(handler),
            subcommands: &[],
            group: "generic",
            since: "1.0.0",
            summary: "",
            complexity: "O(1)",
            tips: &[],
            movable_range: None,
            channels: Channels::None,
        }
    }

    /// A container command (CONFIG, CLIENT...) dispatching on its first argument.
    pub const fn container(
        name: &'static str,
        arity: i16,
        subcommands: &'static [CommandSpec],
    ) -> Self {
        CommandSpec {
            name,
            arity,
            flags: 0,
            acl: 0,
            keys: Keys::None,
            handler: None,
            subcommands,
            group: "server",
            since: "1.0.0",
            summary: "",
            complexity: "Depends on subcommand.",
            tips: &[],
            movable_range: None,
            channels: Channels::None,
        }
    }

    pub const fn acl(mut self, categories: u64) -> Self {
        self.acl = categories;
        self
    }

    pub const fn doc(
        mut self,
        group: &'static str,
        since: &'static str,
        summary: &'static str,
    ) -> Self {
        self.group = group;
        self.since = since;
        self.summary = summary;
        self
    }

    pub const fn channels(mut self, channels: Channels) -> Self {
        self.channels = channels;
        self
    }

    pub const fn tips(mut self, tips: &'static [&'static str]) -> Self {
        self.tips = tips;
        self
    }

    /// The legacy key range `COMMAND INFO` shows for [`Keys::Custom`] keys.
    pub const fn movable_range(mut self, first: i16, last: i16, step: i16) -> Self {
        self.movable_range = Some((first, last, step));
        self
    }

    pub const fn complexity(mut self, complexity: &'static str) -> Self {
        self.complexity = complexity;
        self
    }

    /// Every ACL category: explicit ones plus those implied by flags and group.
    pub fn acl_categories(&self) -> u64 {
        let mut cats = self.acl;
        let f = self.flags;
        if f & flag::WRITE != 0 {
            cats |= acl::WRITE;
        }
        if f & flag::READONLY != 0 && cats & acl::SCRIPTING == 0 {
            cats |= acl::READ;
        }
        if f & flag::ADMIN != 0 {
            cats |= acl::ADMIN | acl::DANGEROUS;
        }
        if f & flag::PUBSUB != 0 {
            cats |= acl::PUBSUB;
        }
        if f & flag::FAST != 0 {
            cats |= acl::FAST;
        }
        if f & flag::BLOCKING != 0 {
            cats |= acl::BLOCKING;
        }
        if f & flag::FAST == 0 {
            cats |= acl::SLOW;
        }
        cats |= match self.group {
            "string" => acl::STRING,
            "bitmap" => acl::BITMAP,
            "list" => acl::LIST,
            "hash" => acl::HASH,
            "set" => acl::SET,
            "sorted-set" => acl::SORTEDSET,
            "hyperloglog" => acl::HYPERLOGLOG,
            "geo" => acl::GEO,
            "stream" => acl::STREAM,
            // @pubsub follows the PUBSUB flag: PUBSUB HELP is in the group without it.
            "connection" => acl::CONNECTION,
            "transactions" => acl::TRANSACTION,
            "scripting" => acl::SCRIPTING,
            _ => 0,
        };
        cats
    }

    /// Flag names as `COMMAND INFO` prints them; `movablekeys` when the key
    /// positions are computed from the arguments.
    pub fn flag_names(&self) -> Vec<&'static str> {
        let mut flags = self.flags;
        if matches!(self.keys, Keys::Custom(_)) {
            flags |= flag::MOVABLE_KEYS;
        }
        flag::NAMES
            .iter()
            .filter(|(bit, _)| flags & bit != 0)
            .map(|&(_, n)| n)
            .collect()
    }

    /// ACL category names (without `@`), in `ACL CAT` order.
    pub fn acl_names(&self) -> Vec<&'static str> {
        let cats = self.acl_categories();
        acl::NAMES
            .iter()
            .filter(|(bit, _)| cats & bit != 0)
            .map(|&(_, n)| n)
            .collect()
    }

    /// Argument count check, as Redis does it before anything else.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity as isize;
        (a >= 0 && argc as isize == a) || (a < 0 && argc as isize >= -a)
    }

    /// (first, last, step) for `COMMAND INFO`; movable keys report their
    /// `movable_range`, or 0, 0, 0.
    pub fn key_range(&self) -> (i64, i64, i64) {
        let widen = |(first, last, step): (i16, i16, i16)| (first as i64, last as i64, step as i64);
        match self.keys {
            Keys::Range { first, last, step } => widen((first, last, step)),
            Keys::Custom(_) => self.movable_range.map(widen).unwrap_or((0, 0, 0)),
            Keys::None => (0, 0, 0),
        }
    }

    /// Positions of the keys in `args`.
    pub fn key_positions(&self, args: &Args<'_>, out: &mut Vec<usize>) {
        out.clear();
        match self.keys {
            Keys::None => {}
            Keys::Range { first, last, step } => {
                let argc = args.len() as isize;
                let last = if last < 0 {
                    argc + last as isize
                } else {
                    last as isize
                };
                let mut i = first as isize;
                while i <= last && i < argc {
                    out.push(i as usize);
                    i += step.max(1) as isize;
                }
            }
            Keys::Custom(f) => {
                f(args, out);
                out.retain(|&i| i < args.len());
            }
        }
    }
}

/// Shorthand for the common key layouts.
pub const fn key1() -> Keys {
    Keys::Range {
        first: 1,
        last: 1,
        step: 1,
    }
}
pub const fn keys_all(first: i16) -> Keys {
    Keys::Range {
        first,
        last: -1,
        step: 1,
    }
}
pub const fn keys_range(first: i16, last: i16, step: i16) -> Keys {
    Keys::Range { first, last, step }
}

/// One row of Redis 7.0.15's `COMMAND INFO`: name, arity, flags, (first, last,
/// step) and ACL categories, the word lists in any order.
#[cfg(test)]
pub type RedisInfo = (
    &'static str,
    i16,
    &'static str,
    (i64, i64, i64),
    &'static str,
);

/// Asserts that `specs` hold exactly the `expected` commands with Redis's
/// arity, flags, key range and ACL categories (family tests call this).
#[cfg(test)]
pub fn assert_specs_match_redis<'a>(
    specs: impl IntoIterator<Item = &'a CommandSpec>,
    expected: &[RedisInfo],
) {
    let specs: Vec<&CommandSpec> = specs.into_iter().collect();
    assert_eq!(specs.len(), expected.len(), "number of commands");
    fn sorted(mut words: Vec<&str>) -> Vec<&str> {
        words.sort_unstable();
        words
    }
    for &(name, arity, flags, keys, categories) in expected {
        let spec = specs
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(spec.arity, arity, "{name} arity");
        assert_eq!(
            sorted(spec.flag_names()),
            sorted(flags.split(' ').collect()),
            "{name} flags"
        );
        assert_eq!(spec.key_range(), keys, "{name} keys");
        assert_eq!(
            sorted(spec.acl_names()),
            sorted(categories.split(' ').collect()),
            "{name} ACL categories"
        );
    }
}
