//! WATCH bookkeeping: which clients watch which keys, kept in the shard that
//! holds the key, so marking watchers costs nothing beyond the shard lock the
//! writing command already holds.
//!
//! A change to a watched key sets the watchers' `DIRTY_CAS` flag, which makes
//! their EXEC fail. Changes are every write that goes through
//! [`Db::modified_in`], lazy and active expiry, FLUSHDB/FLUSHALL and SWAPDB
//! (for keys that exist on either side), as in Redis 7.0.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use super::bytes::Bytes24;
use super::dict::hash_key;
use super::keyspace::{Db, DbShard};
use crate::server::client::{ClientHandle, cflag};

/// One client watching one key.
struct Watcher {
    client: Arc<ClientHandle>,
    /// The key had already expired (but was not yet deleted) at WATCH time;
    /// deleting it then is not a change, as Redis 7.0 decides.
    expired_at_watch: bool,
}

/// The watched keys of one shard, by `(db, key)`.
#[derive(Default)]
pub struct Watched(HashMap<(usize, Bytes24), Vec<Watcher>>);

impl Watched {
    /// Flags the watchers of `key`; `still_there` says whether the key exists
    /// in the dict after the change (for the expired-at-watch exception).
    fn touch(&mut self, db: usize, key: &[u8], still_there: bool) {
        let Some(watchers) = self.0.get_mut(&(db, Bytes24::new(key))) else {
            return;
        };
        for w in watchers {
            if w.expired_at_watch && !still_there {
                w.expired_at_watch = false;
                continue;
            }
            w.client.set_flag(cflag::DIRTY_CAS, true);
        }
    }

    /// Flags every watcher of a key in `db` that exists in `emptied` or in
    /// `replaced_with` (the database about to take its place).
    fn touch_existing(&mut self, db: usize, emptied: &DbShard, replaced_with: Option<&DbShard>) {
        for ((watched_db, key), watchers) in self.0.iter() {
            if *watched_db != db {
                continue;
            }
            let hash = hash_key(key);
            let exists = |part: &DbShard| part.keys.get(hash, key).is_some();
            if exists(emptied) || replaced_with.is_some_and(exists) {
                for w in watchers {
                    w.client.set_flag(cflag::DIRTY_CAS, true);
                }
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Called from active expiry, which walks shards without a [`Db`].
pub(super) fn touch_expired(watched: &mut Watched, db: usize, key: &[u8]) {
    watched.touch(db, key, false);
}

impl Db<'_, '_> {
    /// WATCH: records `client` as a watcher of `key` in the selected database.
    /// Returns false when it already watched it.
    pub fn watch(&mut self, key: &[u8], client: &Arc<ClientHandle>) -> bool {
        let (db, now) = (self.index, self.now_ms);
        let hash = hash_key(key);
        let shard = self.locked.shard(hash);
        let part = &shard.dbs[db];
        let expired_at_watch = part.keys.get(hash, key).is_some()
            && part.deadline(hash, key).is_some_and(|t| t <= now);
        let watchers = shard.watched.0.entry((db, Bytes24::new(key))).or_default();
        if watchers.iter().any(|w| w.client.id == client.id) {
            return false;
        }
        watchers.push(Watcher {
            client: client.clone(),
            expired_at_watch,
        });
        self.locked.keyspace.watching.fetch_add(1, Relaxed);
        true
    }

    /// Removes `client_id` from the watchers of `key` in database `db`.
    pub fn unwatch(&mut self, db: usize, key: &[u8], client_id: u64) {
        let shard = self.locked.shard(hash_key(key));
        let slot = (db, Bytes24::new(key));
        let Some(watchers) = shard.watched.0.get_mut(&slot) else {
            return;
        };
        let before = watchers.len();
        watchers.retain(|w| w.client.id != client_id);
        let removed = before - watchers.len();
        if watchers.is_empty() {
            shard.watched.0.remove(&slot);
        }
        self.locked.keyspace.watching.fetch_sub(removed, Relaxed);
    }

    /// EXEC's second check: a key that was live at WATCH time and whose TTL
    /// has passed since counts as changed, even if nobody deleted it yet.
    pub fn watched_key_expired(&mut self, db: usize, key: &[u8], client_id: u64) -> bool {
        let now = self.now_ms;
        let hash = hash_key(key);
        let shard = self.locked.shard(hash);
        let part = &shard.dbs[db];
        let expired_now = part.keys.get(hash, key).is_some()
            && part.deadline(hash, key).is_some_and(|t| t <= now);
        expired_now
            && shard
                .watched
                .0
                .get(&(db, Bytes24::new(key)))
                .is_some_and(|ws| {
                    ws.iter()
                        .any(|w| w.client.id == client_id && !w.expired_at_watch)
                })
    }

    pub(super) fn touch_watched(&mut self, db: usize, key: &[u8]) {
        let hash = hash_key(key);
        let shard = self.locked.shard(hash);
        if shard.watched.is_empty() {
            return;
        }
        let still_there = shard.dbs[db].keys.get(hash, key).is_some();
        shard.watched.touch(db, key, still_there);
    }

    /// FLUSHDB/FLUSHALL (`replaced_with` None) and SWAPDB: flags watchers of
    /// keys in `db` that exist there now or in the database replacing it.
    pub(super) fn touch_all_watched(&mut self, db: usize, replaced_with: Option<usize>) {
        if self.locked.keyspace.watching.load(Relaxed) == 0 {
            return;
        }
        assert!(self.locked.all, "whole-database change without every shard");
        for guard in self.locked.guards.iter_mut() {
            let shard = &mut **guard;
            if shard.watched.is_empty() {
                continue;
            }
            let replacement = replaced_with.map(|other| &shard.dbs[other]);
            shard
                .watched
                .touch_existing(db, &shard.dbs[db], replacement);
        }
    }
}
