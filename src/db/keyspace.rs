//! The keyspace: every database, split into shards by key hash.
//!
//! Each shard is one mutex over that shard's slice of *all* databases, so a key
//! lives in the same shard whichever database it is in. That makes MOVE and
//! COPY between databases single-shard operations and SWAPDB a swap inside
//! each shard.
//!
//! A command locks the shards of its keys (in ascending order, so two commands
//! can never deadlock) for its whole run, which makes every command atomic and
//! isolated. Commands that see the whole keyspace (KEYS, FLUSHDB, DBSIZE), and
//! later EXEC and scripts, lock every shard. Handlers reach keys only through
//! [`Db`], the view over the locked shards.
//!
//! Lookups ([`Db::get_in`], [`Db::read`]) and overwrites stamp the entry's
//! access time (LRU clock or LFU counter, per [`AccessPolicy`]) for OBJECT
//! IDLETIME/FREQ and eviction; [`Db::peek_in`] and [`Db::read_untouched`] do
//! not, for the commands Redis lets look without touching.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};

use parking_lot::{Mutex, MutexGuard};
use smallvec::SmallVec;

use super::bytes::Bytes24;
use super::dict::{Dict, hash_key};
use super::expires::Expires;
use super::value::{Entry, Value, access};
use crate::server::notify::{self, Event};

/// One database's part of one shard.
#[derive(Default)]
pub struct DbShard {
    /// Read freely; change only through the [`DbShard`] methods (see
    /// [`super::expires`]), which keep deadlines linked to their keys.
    pub keys: Dict<Entry>,
    /// Deadlines (absolute Unix ms) of the keys that have one: no cost for
    /// keys without a TTL.
    pub expires: Expires,
}

pub struct Shard {
    pub dbs: Box<[DbShard]>,
    /// WATCHed keys of this shard and who watches them (see [`super::watch`]).
    pub watched: super::watch::Watched,
}

/// Counters the keyspace bumps as a side effect of lookups (INFO stats).
#[derive(Default)]
pub struct KeyspaceStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub expired: AtomicU64,
    /// Writes since the last save (`rdb_changes_since_last_save`).
    pub dirty: AtomicU64,
}

/// What lookups record in [`Entry::access`]: set from `maxmemory-policy`,
/// `lfu-log-factor` and `lfu-decay-time` whenever they change.
pub struct AccessPolicy {
    pub lfu: AtomicBool,
    pub lfu_log_factor: AtomicU32,
    pub lfu_decay_time: AtomicU32,
}

impl AccessPolicy {
    /// Follows `maxmemory-policy` (LFU policies stamp counters),
    /// `lfu-log-factor` and `lfu-decay-time`.
    pub fn follow_config(&self, config: &crate::config::Config) {
        self.lfu
            .store(config.maxmemory_policy.contains("lfu"), Relaxed);
        let number = |name: &str, default: u32| {
            config
                .value(name)
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        self.lfu_log_factor
            .store(number("lfu-log-factor", 10), Relaxed);
        self.lfu_decay_time
            .store(number("lfu-decay-time", 1), Relaxed);
    }
}

impl Default for AccessPolicy {
    fn default() -> Self {
        AccessPolicy {
            lfu: AtomicBool::new(false),
            lfu_log_factor: AtomicU32::new(10),
            lfu_decay_time: AtomicU32::new(1),
        }
    }
}

pub struct Keyspace {
    shards: Box<[Mutex<Shard>]>,
    shard_bits: u32,
    databases: usize,
    pub stats: KeyspaceStats,
    pub access: AccessPolicy,
    /// Clients blocked on keys (BLPOP...): here so `Db::modified` can reach it.
    pub blocking: crate::server::blocking::Registry,
    /// Watched `(client, key)` pairs in all shards: writes look at the
    /// watchers only when this is non-zero.
    pub watching: AtomicUsize,
    /// Keyspace notification classes on (`notify-keyspace-events`, see
    /// [`notify::flags`]); 0 when off, so recording costs nothing then.
    pub notify_flags: AtomicU32,
    /// A running snapshot's copy-on-write hook: every shard lock calls
    /// [`Cow::visit`](crate::persist::snapshot::Cow::visit) (one atomic load
    /// when no snapshot runs), so a shard is saved before anyone touches it.
    pub snapshot: crate::persist::snapshot::Cow,
    /// The append-only file: commands are recorded per lock set and fed to
    /// it as the locks are released (see [`crate::aof`]).
    pub aof: crate::aof::Aof,
}

impl Keyspace {
    /// `shards` is rounded up to a power of two.
    pub fn new(databases: usize, shards: usize) -> Self {
        let shards = shards.max(1).next_power_of_two();
        let make = || {
            Mutex::new(Shard {
                dbs: (0..databases).map(|_| DbShard::default()).collect(),
                watched: Default::default(),
            })
        };
        Keyspace {
            shards: (0..shards).map(|_| make()).collect(),
            shard_bits: shards.trailing_zeros(),
            databases,
            stats: KeyspaceStats::default(),
            access: AccessPolicy::default(),
            blocking: Default::default(),
            watching: AtomicUsize::new(0),
            notify_flags: AtomicU32::new(0),
            snapshot: crate::persist::snapshot::Cow::new(shards),
            aof: crate::aof::Aof::new(shards),
        }
    }

    pub fn databases(&self) -> usize {
        self.databases
    }

    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// The shard of a key hash: its top bits, so the dict's bucket index (low
    /// bits) stays independent of the shard choice.
    #[inline]
    pub fn shard_of(&self, hash: u64) -> usize {
        if self.shard_bits == 0 {
            0
        } else {
            (hash >> (64 - self.shard_bits)) as usize
        }
    }

    /// Locks the shards holding `keys` (any order, duplicates allowed).
    pub fn lock_keys<'a, K: AsRef<[u8]>>(
        &'a self,
        keys: impl IntoIterator<Item = K>,
    ) -> Locked<'a> {
        // While a snapshot runs, the key names go to its copy-on-write hook,
        // which then saves just these keys instead of their whole shards.
        let snapshot = self.snapshot.is_active();
        let mut named: Vec<(u16, Vec<u8>)> = Vec::new();
        let mut ids: SmallVec<[u16; 4]> = keys
            .into_iter()
            .map(|k| {
                let id = self.shard_of(hash_key(k.as_ref())) as u16;
                if snapshot {
                    named.push((id, k.as_ref().to_vec()));
                }
                id
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        self.lock_ids_for(ids, snapshot.then_some(&named))
    }

    /// Locks one shard by index (the active expiry cycle walks them in turn).
    /// Runs `f` on shard `id` under its lock, bypassing the snapshot and AOF
    /// hooks: for the snapshot saver, which only reads and does the
    /// snapshot's bookkeeping itself.
    pub fn read_shard_raw<R>(&self, id: usize, f: impl FnOnce(&Shard) -> R) -> R {
        f(&self.shards[id].lock())
    }

    pub fn lock_shard(&self, shard: usize) -> Locked<'_> {
        self.lock_ids(smallvec::smallvec![shard as u16])
    }

    fn lock_ids(&self, ids: SmallVec<[u16; 4]>) -> Locked<'_> {
        self.lock_ids_for(ids, None)
    }

    /// `keys`: the only keys the holder will touch, by shard, when known.
    fn lock_ids_for(&self, ids: SmallVec<[u16; 4]>, keys: Option<&[(u16, Vec<u8>)]>) -> Locked<'_> {
        let guards: SmallVec<[MutexGuard<'_, Shard>; 4]> = ids
            .iter()
            .map(|&i| self.shards[i as usize].lock())
            .collect();
        for (&i, guard) in ids.iter().zip(&guards) {
            match keys {
                Some(keys) => self.snapshot.visit_keys(
                    i as usize,
                    guard,
                    keys.iter()
                        .filter(|(s, _)| *s == i)
                        .map(|(_, k)| k.as_slice()),
                ),
                None => self.snapshot.visit(i as usize, guard),
            }
        }
        self.capture_pending(ids.iter().map(|&i| i as usize), guards.iter());
        Locked {
            keyspace: self,
            ids,
            guards,
            all: false,
            ready: Vec::new(),
            notify_flags: self.notify_flags.load(Relaxed),
            events: Vec::new(),
            prop: crate::aof::Pending::new(self.aof.recording()),
        }
    }

    /// Locks every shard, in order.
    pub fn lock_all(&self) -> Locked<'_> {
        self.lock_all_for(true)
    }

    /// Locks every shard for a command that only reads (KEYS, DBSIZE, INFO):
    /// a running snapshot lets it look without saving the shards first. Lazy
    /// expiry may still delete keys, but only ones past their TTL, which a
    /// load would drop anyway.
    pub fn lock_all_to_read(&self) -> Locked<'_> {
        self.lock_all_for(false)
    }

    fn lock_all_for(&self, may_write: bool) -> Locked<'_> {
        let ids = (0..self.shards.len() as u16).collect();
        let guards: SmallVec<[MutexGuard<'_, Shard>; 4]> =
            self.shards.iter().map(|s| s.lock()).collect();
        if may_write {
            for (i, guard) in guards.iter().enumerate() {
                self.snapshot.visit(i, guard);
            }
        }
        self.capture_pending(0..self.shards.len(), guards.iter());
        Locked {
            keyspace: self,
            ids,
            guards,
            all: true,
            ready: Vec::new(),
            notify_flags: self.notify_flags.load(Relaxed),
            events: Vec::new(),
            prop: crate::aof::Pending::new(self.aof.recording()),
        }
    }

    /// An AOF rewrite copies a shard before anything touches it again (see
    /// [`crate::aof::rewrite`]); one atomic load otherwise.
    #[inline]
    fn capture_pending<'g, 'm: 'g>(
        &self,
        ids: impl Iterator<Item = usize>,
        guards: impl Iterator<Item = &'g MutexGuard<'m, Shard>>,
    ) {
        if self.aof.capture.active.load(Relaxed) {
            self.aof.capture.take(ids, guards.map(|g| &**g));
        }
    }

    /// Keys per database, summed over shards without holding two locks at once
    /// (for INFO keyspace, where a momentary mix is acceptable).
    pub fn db_sizes(&self) -> Vec<(usize, usize)> {
        let mut sizes = vec![(0, 0); self.databases];
        for shard in self.shards.iter() {
            let shard = shard.lock();
            for (db, part) in shard.dbs.iter().enumerate() {
                sizes[db].0 += part.keys.len();
                sizes[db].1 += part.expires.len();
            }
        }
        sizes
    }
}

/// One database's counts, from [`Db::sizes`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DbSizes {
    pub keys: usize,
    pub expires: usize,
    pub avg_ttl_ms: u64,
    /// Bytes of the main and expires hash tables (MEMORY STATS overheads).
    pub main_table_bytes: u64,
    pub expires_table_bytes: u64,
}

impl Keyspace {
    /// The access stamp after one more access at `now_ms`: the LRU clock, or
    /// the LFU counter after decay and a logarithmic increment.
    fn touched(&self, stamp: u32, now_ms: u64) -> u32 {
        let policy = &self.access;
        if !policy.lfu.load(Relaxed) {
            return access::lru_clock(now_ms);
        }
        access::lfu_touch(
            stamp,
            now_ms,
            policy.lfu_log_factor.load(Relaxed),
            policy.lfu_decay_time.load(Relaxed),
            rand::random::<f64>(),
        )
    }

    /// The access stamp of a key created at `now_ms`.
    fn fresh_stamp(&self, now_ms: u64) -> u32 {
        if self.access.lfu.load(Relaxed) {
            access::lfu_new(now_ms)
        } else {
            access::lru_clock(now_ms)
        }
    }
}

/// The shards one command holds.
pub struct Locked<'a> {
    pub(super) keyspace: &'a Keyspace,
    ids: SmallVec<[u16; 4]>,
    pub(super) guards: SmallVec<[MutexGuard<'a, Shard>; 4]>,
    pub(super) all: bool,
    /// Keys changed while clients were blocked, for the gate to serve.
    ready: Vec<(usize, Bytes24)>,
    /// The notification classes on when the locks were taken: one atomic
    /// load per command, none per event.
    notify_flags: u32,
    /// Keyspace events recorded under these locks, in the order Redis emits
    /// them, for whoever holds the locks to publish (see [`notify`]).
    events: Vec<Event>,
    /// Commands for the AOF, fed to it when the locks are released.
    pub prop: crate::aof::Pending,
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        // Still under the locks: records of one key keep their order.
        if !self.prop.is_empty() {
            self.keyspace.aof.feed(&mut self.prop);
        }
    }
}

impl<'a> Locked<'a> {
    /// A view of database `db` at time `now_ms`.
    pub fn db(&mut self, db: usize, now_ms: u64) -> Db<'_, 'a> {
        Db {
            locked: self,
            index: db,
            now_ms,
            no_touch: false,
        }
    }

    pub fn holds_all(&self) -> bool {
        self.all
    }

    /// True for the empty lock set of a keyless command.
    pub fn holds_nothing(&self) -> bool {
        self.ids.is_empty()
    }

    /// Shard `id`, which must be held (eviction samples shards by index).
    pub(super) fn shard_at(&mut self, id: usize) -> &mut Shard {
        let slot = if self.all {
            id
        } else {
            self.ids
                .iter()
                .position(|&i| i as usize == id)
                .expect("shard not held")
        };
        &mut self.guards[slot]
    }

    /// True when a change may have woken blocked clients.
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    pub fn take_ready(&mut self) -> Option<(usize, Bytes24)> {
        self.ready.pop()
    }

    pub fn mark_ready(&mut self, db: usize, key: Bytes24) {
        self.ready.push((db, key));
    }

    /// Re-reads `notify-keyspace-events`, for a long critical section (EXEC)
    /// whose commands may change it.
    pub fn refresh_notify_flags(&mut self) {
        self.notify_flags = self.keyspace.notify_flags.load(Relaxed);
    }

    /// Records a keyspace event if its class is on.
    #[inline]
    pub fn notify(&mut self, class: u32, event: &'static str, db: usize, key: &[u8]) {
        if self.notify_flags & class != 0 {
            self.events.push(Event::new(event, db, key));
        }
    }

    /// True when events wait to be published.
    #[inline]
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// The recorded events, oldest first, leaving none behind.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Makes sure `key`'s shard is held, taking it only if that needs no
    /// waiting (waiting out of order could deadlock). False when it is busy.
    pub fn try_hold(&mut self, key: &[u8]) -> bool {
        let id = self.keyspace.shard_of(hash_key(key));
        if self.all || self.ids.iter().any(|&i| i as usize == id) {
            return true;
        }
        match self.keyspace.shards[id].try_lock() {
            Some(guard) => {
                self.keyspace.snapshot.visit(id, &guard);
                self.keyspace
                    .capture_pending(std::iter::once(id), std::iter::once(&guard));
                self.ids.push(id as u16);
                self.guards.push(guard);
                true
            }
            None => false,
        }
    }

    /// Index into `guards` of the shard holding `hash`.
    #[inline]
    fn slot(&self, hash: u64) -> usize {
        let id = self.keyspace.shard_of(hash);
        if self.all {
            id
        } else {
            // A handler touching a key it did not declare is a bug in the
            // command table, not a client error.
            self.ids
                .iter()
                .position(|&i| i as usize == id)
                .expect("key's shard is not locked: fix the command's key spec")
        }
    }

    #[inline]
    pub(super) fn shard(&mut self, hash: u64) -> &mut Shard {
        let slot = self.slot(hash);
        &mut self.guards[slot]
    }
}

/// What a handler sees: one database over the locked shards, at a fixed time
/// (Redis freezes the clock for the length of a command, EXEC or script).
pub struct Db<'l, 'a> {
    pub(super) locked: &'l mut Locked<'a>,
    pub index: usize,
    pub now_ms: u64,
    /// CLIENT NO-TOUCH: lookups leave LRU/LFU stamps alone.
    pub no_touch: bool,
}

impl<'l, 'a> Db<'l, 'a> {
    /// The shards under this view, for running further commands in the same
    /// critical section (EXEC, scripts: see `cmd::call_held`).
    pub fn locked(&mut self) -> &mut Locked<'a> {
        self.locked
    }

    pub fn stats(&self) -> &'a KeyspaceStats {
        &self.locked.keyspace.stats
    }

    fn part(&mut self, db: usize, hash: u64) -> &mut DbShard {
        &mut self.locked.shard(hash).dbs[db]
    }

    /// Deletes `key` from `db` if its TTL has passed; true when it did.
    fn expire_if_needed(&mut self, db: usize, hash: u64, key: &[u8]) -> bool {
        let now = self.now_ms;
        let part = self.part(db, hash);
        match part.deadline(hash, key) {
            Some(when) if when <= now => {
                part.remove(hash, key);
                let keyspace = self.locked.keyspace;
                keyspace.stats.expired.fetch_add(1, Relaxed);
                if keyspace.watching.load(Relaxed) > 0 {
                    self.touch_watched(db, key);
                }
                self.locked.notify(notify::EXPIRED, "expired", db, key);
                self.locked.prop.push(db, [&b"DEL"[..], key].into_iter());
                true
            }
            _ => false,
        }
    }

    /// Looks a key up for a read: counts a hit or a miss, as Redis's
    /// `keyspace_hits`/`keyspace_misses` do.
    pub fn read(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let keyspace: &'a Keyspace = self.locked.keyspace;
        self.notify_if_missing(key);
        let found = self.get_in(self.index, key);
        let stats = &keyspace.stats;
        if found.is_some() {
            stats.hits.fetch_add(1, Relaxed)
        } else {
            stats.misses.fetch_add(1, Relaxed)
        };
        found
    }

    /// Records `keymiss` for a read of a missing key, when that class is on
    /// (one more lookup then; none otherwise).
    fn notify_if_missing(&mut self, key: &[u8]) {
        if self.locked.notify_flags & notify::KEY_MISS != 0
            && self.peek_in(self.index, key).is_none()
        {
            self.notify(notify::KEY_MISS, "keymiss", key);
        }
    }

    /// Looks a key up for a write or an existence check: no hit/miss counting.
    pub fn get(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.get_in(self.index, key)
    }

    /// Looks a key up and records the access (LRU clock or LFU counter).
    pub fn get_in(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        let (keyspace, now): (&'a Keyspace, u64) = (self.locked.keyspace, self.now_ms);
        let no_touch = self.no_touch;
        let entry = self.peek_in(db, key)?;
        if !no_touch {
            entry.access = keyspace.touched(entry.access, now);
        }
        Some(entry)
    }

    /// Counts a hit or a miss like [`Db::read`] but leaves the access time
    /// alone, as Redis's introspection commands (TYPE, TTL, OBJECT) do.
    pub fn read_untouched(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.notify_if_missing(key);
        self.read_unnotified(key)
    }

    /// [`Db::read_untouched`] without the `keymiss` event (OBJECT).
    pub fn read_unnotified(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let keyspace: &'a Keyspace = self.locked.keyspace;
        let found = self.peek_in(self.index, key);
        let counter = if found.is_some() {
            &keyspace.stats.hits
        } else {
            &keyspace.stats.misses
        };
        counter.fetch_add(1, Relaxed);
        found
    }

    /// Looks a live key up without recording an access or counting stats.
    pub fn peek_in(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        let hash = hash_key(key);
        self.expire_if_needed(db, hash, key);
        self.part(db, hash).keys.get_mut(hash, key)
    }

    /// A new entry for `value`, stamped as created now (COPY's duplicate).
    pub fn new_entry(&self, value: Value) -> Entry {
        Entry::stamped(value, self.locked.keyspace.fresh_stamp(self.now_ms))
    }

    /// A shared view of a live key, so a command can hold several values at
    /// once (SINTER, SUNION...). Neither expires nor counts: look each key up
    /// with [`Db::read`] first; a key past its TTL reads as missing.
    pub fn peek(&self, key: &[u8]) -> Option<&Entry> {
        let hash = hash_key(key);
        let part = &self.locked.guards[self.locked.slot(hash)].dbs[self.index];
        let expired = part.deadline(hash, key).is_some_and(|t| t <= self.now_ms);
        if expired {
            return None;
        }
        part.keys.get(hash, key)
    }

    pub fn contains(&mut self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key` to `value`, dropping any TTL (plain SET semantics).
    pub fn set(&mut self, key: &[u8], value: Value) {
        self.set_in(self.index, key, value, false)
    }

    /// Sets `key` to `value`; `keep_ttl` keeps an existing TTL (SET KEEPTTL).
    pub fn set_in(&mut self, db: usize, key: &[u8], value: Value, keep_ttl: bool) {
        let hash = hash_key(key);
        self.expire_if_needed(db, hash, key);
        let (keyspace, now): (&'a Keyspace, u64) = (self.locked.keyspace, self.now_ms);
        let part = self.part(db, hash);
        let created = match part.keys.get_mut(hash, key) {
            // An overwrite counts as an access; LFU keeps the key's history.
            Some(entry) => {
                entry.value = value;
                entry.access = keyspace.touched(entry.access, now);
                false
            }
            None => {
                let entry = Entry::stamped(value, keyspace.fresh_stamp(now));
                part.keys.insert(hash, Bytes24::new(key), entry);
                true
            }
        };
        if !keep_ttl {
            part.clear_deadline(hash, key);
        }
        if created {
            self.locked.notify(notify::NEW, "new", db, key);
        }
        self.modified_in(db, key);
    }

    /// Removes a key and its TTL; returns the entry if it was live.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.remove_in(self.index, key)
    }

    pub fn remove_in(&mut self, db: usize, key: &[u8]) -> Option<Entry> {
        let hash = hash_key(key);
        if self.expire_if_needed(db, hash, key) {
            return None;
        }
        let part = self.part(db, hash);
        let (_, entry) = part.remove(hash, key)?;
        self.modified_in(db, key);
        Some(entry)
    }

    /// Stores a whole entry (value and access stamp, as RENAME and MOVE carry
    /// them) under `key` in `db`, replacing any value there; `expire_ms` is the
    /// entry's TTL (None drops any TTL the old value had).
    pub fn insert_in(&mut self, db: usize, key: &[u8], entry: Entry, expire_ms: Option<u64>) {
        let hash = hash_key(key);
        self.expire_if_needed(db, hash, key);
        self.part(db, hash).insert(hash, key, entry, expire_ms);
        // Redis deletes the old value first, so the key is always new here.
        self.locked.notify(notify::NEW, "new", db, key);
        self.modified_in(db, key);
    }

    /// The key's absolute expiry in Unix ms, if it is live and has one.
    pub fn expire_at(&mut self, key: &[u8]) -> Option<u64> {
        self.expire_at_in(self.index, key)
    }

    pub fn expire_at_in(&mut self, db: usize, key: &[u8]) -> Option<u64> {
        let hash = hash_key(key);
        self.expire_if_needed(db, hash, key);
        self.part(db, hash).deadline(hash, key)
    }

    /// Sets the TTL of an existing key. The caller has checked it exists.
    pub fn set_expire(&mut self, key: &[u8], when_ms: u64) {
        self.set_expire_in(self.index, key, when_ms)
    }

    pub fn set_expire_in(&mut self, db: usize, key: &[u8], when_ms: u64) {
        let hash = hash_key(key);
        self.part(db, hash).set_deadline(hash, key, when_ms);
        self.modified_in(db, key);
    }

    /// Drops the TTL; true if there was one.
    pub fn persist(&mut self, key: &[u8]) -> bool {
        let hash = hash_key(key);
        let db = self.index;
        self.expire_if_needed(db, hash, key);
        let removed = self.part(db, hash).clear_deadline(hash, key);
        if removed {
            self.modified(key);
        }
        removed
    }

    /// Records that a key of the selected database changed. WATCH, blocked
    /// clients and keyspace notifications hang off this one point.
    pub fn modified(&mut self, key: &[u8]) {
        self.modified_in(self.index, key)
    }

    pub fn modified_in(&mut self, db: usize, key: &[u8]) {
        let keyspace = self.locked.keyspace;
        keyspace.stats.dirty.fetch_add(1, Relaxed);
        self.locked.prop.changed();
        // One atomic load each when nobody is blocked or watching.
        if keyspace.blocking.has_waiters() {
            self.locked.ready.push((db, Bytes24::new(key)));
        }
        if keyspace.watching.load(Relaxed) > 0 {
            self.touch_watched(db, key);
        }
    }

    /// Records keyspace event `event` of `class` (a [`notify`] constant) on
    /// `key` of the selected database; the gate publishes it after the command.
    #[inline]
    pub fn notify(&mut self, class: u32, event: &'static str, key: &[u8]) {
        self.locked.notify(class, event, self.index, key)
    }

    /// [`Db::notify`] in database `db` (MOVE, COPY ... DB).
    #[inline]
    pub fn notify_in(&mut self, db: usize, class: u32, event: &'static str, key: &[u8]) {
        self.locked.notify(class, event, db, key)
    }

    /// What a served blocked client's command reaches the AOF as (its
    /// non-blocking form), in the selected database.
    pub fn propagate(&mut self, args: &[&[u8]]) {
        let db = self.index;
        self.locked.prop.propagate_as(db, args);
    }

    /// Counts a change that is not tied to one key (FLUSHDB, SWAPDB).
    pub fn add_dirty(&self, n: u64) {
        self.locked.keyspace.stats.dirty.fetch_add(n, Relaxed);
        self.locked.prop.changed();
    }

    // ---- whole-database operations: the caller holds every shard ----

    fn all_parts(&mut self, db: usize) -> impl Iterator<Item = &mut DbShard> {
        assert!(
            self.locked.all,
            "whole-database operation without every shard locked"
        );
        self.locked.guards.iter_mut().map(move |g| &mut g.dbs[db])
    }

    /// Number of keys (DBSIZE; may include expired keys not yet collected, as in Redis).
    pub fn len(&mut self) -> usize {
        self.all_parts(self.index).map(|p| p.keys.len()).sum()
    }

    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }

    /// Empties database `db`; returns how many keys it held.
    pub fn flush(&mut self, db: usize) -> usize {
        self.touch_all_watched(db, None);
        let mut removed = 0;
        for part in self.all_parts(db) {
            removed += part.keys.len();
            part.clear();
        }
        removed
    }

    /// Per database: keys, keys with a TTL and an estimate of the average
    /// remaining TTL from a few TTLs per shard (INFO keyspace, MEMORY STATS).
    pub fn sizes(&mut self) -> Vec<DbSizes> {
        const TTL_SAMPLES_PER_SHARD: usize = 4;
        assert!(self.locked.all, "sizes without every shard locked");
        let now = self.now_ms;
        let mut sizes = vec![DbSizes::default(); self.locked.keyspace.databases];
        let mut ttl_sums = vec![(0u128, 0u64); sizes.len()];
        for guard in self.locked.guards.iter() {
            for (db, part) in guard.dbs.iter().enumerate() {
                sizes[db].keys += part.keys.len();
                sizes[db].expires += part.expires.len();
                sizes[db].main_table_bytes += part.keys.table_size() as u64;
                sizes[db].expires_table_bytes += part.expires.table_size() as u64;
                for (when, _) in part.expires.iter().take(TTL_SAMPLES_PER_SHARD) {
                    ttl_sums[db].0 += when.saturating_sub(now) as u128;
                    ttl_sums[db].1 += 1;
                }
            }
        }
        for (size, (sum, n)) in sizes.iter_mut().zip(ttl_sums) {
            if n > 0 {
                size.avg_ttl_ms = (sum / n as u128) as u64;
            }
        }
        sizes
    }

    /// Takes database `db`'s contents out of every shard, leaving it empty, so
    /// the caller can free them after the locks are released (FLUSHDB ASYNC).
    pub fn take_all(&mut self, db: usize) -> Vec<DbShard> {
        self.touch_all_watched(db, None);
        self.all_parts(db).map(std::mem::take).collect()
    }

    /// Swaps two databases in every shard.
    pub fn swap(&mut self, a: usize, b: usize) {
        assert!(self.locked.all);
        self.touch_all_watched(a, Some(b));
        self.touch_all_watched(b, Some(a));
        for guard in self.locked.guards.iter_mut() {
            guard.dbs.swap(a, b);
        }
    }

    /// Calls `f` with every live key of this database (KEYS).
    pub fn for_each_key(&mut self, mut f: impl FnMut(&[u8], &Entry)) {
        let now = self.now_ms;
        let db = self.index;
        for part in self.all_parts(db) {
            for (k, v) in part.keys.iter() {
                let expired = part.expires.of(v).is_some_and(|t| t <= now);
                if !expired {
                    f(k, v);
                }
            }
        }
    }

    /// One SCAN step. The cursor packs the shard in its low bits and the dict
    /// cursor above them; returns the next cursor (0 when done).
    pub fn scan(&mut self, cursor: u64, mut f: impl FnMut(&[u8], &Entry)) -> u64 {
        let bits = self.locked.keyspace.shard_bits;
        let shards = self.locked.keyspace.shards.len() as u64;
        let (mut shard, mut inner) = (cursor & (shards - 1), cursor >> bits);
        let db = self.index;
        let now = self.now_ms;
        assert!(self.locked.all);
        loop {
            let part = &self.locked.guards[shard as usize].dbs[db];
            inner = part.keys.scan(inner, |k, v| {
                let expired = part.expires.of(v).is_some_and(|t| t <= now);
                if !expired {
                    f(k, v);
                }
            });
            if inner != 0 {
                return (inner << bits) | shard;
            }
            shard += 1;
            if shard == shards {
                return 0;
            }
            // Return between shards too, so one call does bounded work.
            if !part.keys.is_empty() {
                return shard;
            }
        }
    }

    /// A random live key (RANDOMKEY), or None when the database is empty.
    pub fn random_key(&mut self, rng: &mut impl rand::Rng) -> Option<Bytes24> {
        assert!(self.locked.all);
        let db = self.index;
        let now = self.now_ms;
        let total: usize = self
            .locked
            .guards
            .iter()
            .map(|g| g.dbs[db].keys.len())
            .sum();
        // Bounded tries, as Redis does, so a database of only expired keys ends.
        for _ in 0..100.min(total.max(1) * 4) {
            let mut pick = rand::RngExt::random_range(rng, 0..total.max(1));
            for guard in self.locked.guards.iter() {
                let part = &guard.dbs[db];
                if pick < part.keys.len() {
                    let (k, entry) = part.keys.random(rng)?;
                    let expired = part.expires.of(entry).is_some_and(|t| t <= now);
                    if !expired {
                        return Some(k.clone());
                    }
                    break;
                }
                pick -= part.keys.len();
            }
        }
        None
    }

    /// Active expiry for the shards this view holds: samples keys with a TTL
    /// and deletes the expired ones. Returns (sampled, expired).
    pub fn expire_sample(
        &mut self,
        db: usize,
        samples: usize,
        rng: &mut impl rand::Rng,
    ) -> (usize, usize) {
        let now = self.now_ms;
        let mut expired = 0;
        let mut sampled = 0;
        let watching = self.locked.keyspace.watching.load(Relaxed) > 0;
        for guard in self.locked.guards.iter_mut() {
            let shard = &mut **guard;
            let part = &mut shard.dbs[db];
            for _ in 0..samples.min(part.expires.len()) {
                sampled += 1;
                let Some((when, pos)) = part.expires.random(rng) else {
                    break;
                };
                if when <= now {
                    let k = part.entry_at(pos).0.clone();
                    part.remove(hash_key(&k), &k);
                    expired += 1;
                    if watching {
                        super::watch::touch_expired(&mut shard.watched, db, &k);
                    }
                    if self.locked.notify_flags & notify::EXPIRED != 0 {
                        self.locked.events.push(Event::new("expired", db, &k));
                    }
                    self.locked.prop.push(db, [&b"DEL"[..], &k[..]].into_iter());
                }
            }
        }
        self.locked
            .keyspace
            .stats
            .expired
            .fetch_add(expired as u64, Relaxed);
        (sampled, expired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_expire_and_remove() {
        let ks = Keyspace::new(2, 4);
        let mut locked = ks.lock_all();
        let mut db = locked.db(0, 1_000);
        db.set(b"a", Value::str(b"1"));
        assert!(db.read(b"a").is_some());
        db.set_expire(b"a", 2_000);
        assert_eq!(db.expire_at(b"a"), Some(2_000));
        drop(db);
        let mut later = locked.db(0, 2_000);
        assert!(later.read(b"a").is_none(), "expired keys are never visible");
        assert_eq!(ks.stats.expired.load(Relaxed), 1);
        assert_eq!(ks.stats.misses.load(Relaxed), 1);
    }

    #[test]
    fn databases_are_separate_and_swap() {
        let ks = Keyspace::new(2, 4);
        let mut locked = ks.lock_all();
        let mut db = locked.db(0, 0);
        db.set(b"k", Value::str(b"v"));
        assert!(db.get_in(1, b"k").is_none());
        db.swap(0, 1);
        assert!(db.get(b"k").is_none());
        assert!(db.get_in(1, b"k").is_some());
    }

    /// SCAN's guarantee through the shard-packed cursor: keys present all
    /// along are reported while other keys come and go (resizing the shards'
    /// tables) between steps.
    #[test]
    fn scan_reports_stable_keys_under_churn() {
        let ks = Keyspace::new(1, 8);
        let mut locked = ks.lock_all();
        let mut db = locked.db(0, 0);
        for i in 0..200 {
            db.set(format!("stable:{i}").as_bytes(), Value::str(b"x"));
        }
        let mut seen = std::collections::HashSet::new();
        let (mut cursor, mut step) = (0, 0u64);
        loop {
            // Grow to ~3000 churn keys, then delete them all, repeatedly.
            let phase = (step / 15) % 2;
            for j in 0..200 {
                let churn = format!("churn:{}", (step % 15) * 200 + j);
                if phase == 0 {
                    db.set(churn.as_bytes(), Value::str(b"y"));
                } else {
                    db.remove(churn.as_bytes());
                }
            }
            step += 1;
            cursor = db.scan(cursor, |k, _| {
                seen.insert(k.to_vec());
            });
            if cursor == 0 {
                break;
            }
        }
        for i in 0..200 {
            assert!(
                seen.contains(format!("stable:{i}").as_bytes()),
                "missed stable:{i}"
            );
        }
    }

    #[test]
    fn scan_visits_every_key_once() {
        let ks = Keyspace::new(1, 8);
        let mut locked = ks.lock_all();
        let mut db = locked.db(0, 0);
        for i in 0..500 {
            db.set(format!("key:{i}").as_bytes(), Value::str(b"x"));
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = db.scan(cursor, |k, _| {
                seen.insert(k.to_vec());
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 500);
    }
}
