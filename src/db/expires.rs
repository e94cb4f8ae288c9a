//! Key deadlines: which keys of one database shard have a TTL, and when.
//!
//! Redis keeps a second dict, `expires`, from key to deadline. Here the
//! deadline lives in a dense list of `(deadline, entry position)` records,
//! 12 bytes each, and the key's [`Entry`] holds its record's index in what
//! was padding. A TTL then costs 12 bytes per key instead of a second table
//! entry with its own copy of the key (44 bytes: 1M keys with a TTL took 155
//! bytes of RSS each against redis-server's 139).
//!
//! The list serves what the second table served:
//! - a key's deadline: one index from its entry, no second hash probe;
//! - active expiry and `volatile-*` eviction sample keys with a TTL
//!   uniformly: pick a record, follow its position into the key table.
//!
//! Both sides point at each other, so both must be fixed up when either
//! moves: removing a record swaps the last one into its place (its entry's
//! `ttl_slot` is repointed), and removing a key swaps the table's last entry
//! into its place (that entry's record is repointed, see
//! [`Dict::remove_tracked`](super::dict::Dict::remove_tracked)). Every
//! change to a key or its TTL therefore goes through the [`DbShard`] methods
//! here; `keys` is read directly but must not be changed directly.

use super::bytes::Bytes24;
use super::dict::Entries;
use super::keyspace::DbShard;
use super::value::{Entry, NO_TTL};

/// One key's deadline and where its entry is in the key table. Packed to 12
/// bytes: at 1M keys with a TTL the 4 bytes of alignment padding would be
/// 4 MB.
#[derive(Clone, Copy)]
#[repr(C, packed(4))]
struct Deadline {
    at_ms: u64,
    entry: u32,
}

/// The deadlines of one database shard's keys that have a TTL.
pub struct Expires {
    records: Entries<Deadline>,
}

impl Default for Expires {
    fn default() -> Self {
        Expires {
            records: Entries::new(),
        }
    }
}

impl Expires {
    /// Keys with a TTL.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// `entry`'s absolute deadline in Unix ms, if it has one.
    #[inline]
    pub fn of(&self, entry: &Entry) -> Option<u64> {
        (entry.ttl_slot != NO_TTL).then(|| self.records[entry.ttl_slot as usize].at_ms)
    }

    /// A uniformly chosen key with a TTL: its deadline and its position in
    /// the key table ([`DbShard::entry_at`]).
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<(u64, usize)> {
        if self.records.is_empty() {
            return None;
        }
        let d = self.records[rand::RngExt::random_range(rng, 0..self.records.len())];
        Some((d.at_ms, d.entry as usize))
    }

    /// Every key with a TTL, as (deadline, position in the key table).
    pub fn iter(&self) -> impl Iterator<Item = (u64, usize)> + '_ {
        self.records.iter().map(|d| (d.at_ms, d.entry as usize))
    }

    /// Heap bytes of the list (MEMORY STATS' `overhead.hashtable.expires`).
    pub fn table_size(&self) -> usize {
        self.records.heap_bytes()
    }
}

impl DbShard {
    /// The deadline of `key`, if it exists and has one (expired or not).
    #[inline]
    pub fn deadline(&self, hash: u64, key: &[u8]) -> Option<u64> {
        if self.expires.is_empty() {
            return None;
        }
        self.expires.of(self.keys.get(hash, key)?)
    }

    /// The key and entry at table position `pos` (from [`Expires::random`]
    /// or [`Expires::iter`]).
    #[inline]
    pub fn entry_at(&self, pos: usize) -> (&Bytes24, &Entry) {
        self.keys.at(pos)
    }

    /// Gives the existing `key` a deadline, replacing any it had.
    pub fn set_deadline(&mut self, hash: u64, key: &[u8], at_ms: u64) {
        let pos = self
            .keys
            .position(hash, key)
            .expect("a deadline for a missing key");
        let entry = self.keys.at_mut(pos);
        if entry.ttl_slot != NO_TTL {
            self.expires.records[entry.ttl_slot as usize].at_ms = at_ms;
            return;
        }
        entry.ttl_slot = u32::try_from(self.expires.len()).expect("TTL list is full");
        self.expires.records.push(Deadline {
            at_ms,
            entry: pos as u32,
        });
    }

    /// Drops `key`'s deadline; true if it had one.
    pub fn clear_deadline(&mut self, hash: u64, key: &[u8]) -> bool {
        if self.expires.is_empty() {
            return false;
        }
        let Some(entry) = self.keys.get_mut(hash, key) else {
            return false;
        };
        let slot = std::mem::replace(&mut entry.ttl_slot, NO_TTL);
        if slot == NO_TTL {
            return false;
        }
        self.forget_record(slot);
        true
    }

    /// Removes record `slot`; the last record takes its place, so its
    /// entry is repointed.
    fn forget_record(&mut self, slot: u32) {
        self.expires.records.swap_remove(slot as usize);
        if (slot as usize) < self.expires.len() {
            let moved = self.expires.records[slot as usize];
            self.keys.at_mut(moved.entry as usize).ttl_slot = slot;
        }
    }

    /// Stores `entry` under `key` with deadline `ttl` (None: no TTL),
    /// replacing any value and TTL the key had.
    pub fn insert(&mut self, hash: u64, key: &[u8], mut entry: Entry, ttl: Option<u64>) {
        entry.ttl_slot = NO_TTL;
        if let Some(old) = self.keys.insert(hash, Bytes24::new(key), entry) {
            // The record still points at this position: keep it linked.
            if let Some(entry) = self.keys.get_mut(hash, key) {
                entry.ttl_slot = old.ttl_slot;
            }
        }
        match ttl {
            Some(at_ms) => self.set_deadline(hash, key, at_ms),
            None => {
                self.clear_deadline(hash, key);
            }
        }
    }

    /// Removes `key` and its deadline; returns the key and its entry.
    pub fn remove(&mut self, hash: u64, key: &[u8]) -> Option<(Bytes24, Entry)> {
        let (pos, stored, mut entry) = self.keys.remove_tracked(hash, key)?;
        // The table's last entry moved into `pos`: repoint its record first,
        // so the records are all right before one of them is removed.
        if pos < self.keys.len() {
            let slot = self.keys.at(pos).1.ttl_slot;
            if slot != NO_TTL {
                self.expires.records[slot as usize].entry = pos as u32;
            }
        }
        let slot = std::mem::replace(&mut entry.ttl_slot, NO_TTL);
        if slot != NO_TTL {
            self.forget_record(slot);
        }
        Some((stored, entry))
    }

    /// Removes every key and deadline and frees the memory.
    pub fn clear(&mut self) {
        self.keys.clear();
        self.expires = Expires::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::dict::hash_key;
    use crate::db::value::Value;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// Both directions of the link hold: every record's entry points back at
    /// it, and the entries with a TTL are exactly the records.
    fn check_links(part: &DbShard) {
        let keys = &part.keys;
        for (slot, (at, pos)) in part.expires.iter().enumerate() {
            let (_, entry) = keys.at(pos);
            assert_eq!(
                entry.ttl_slot as usize, slot,
                "record {slot} not linked back"
            );
            assert_eq!(part.expires.of(entry), Some(at));
        }
        let with_ttl = keys.iter().filter(|(_, e)| e.ttl_slot != NO_TTL).count();
        assert_eq!(with_ttl, part.expires.len());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, Option<u64>),
        SetDeadline(u8, u64),
        Clear(u8),
        Remove(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (any::<u8>(), proptest::option::of(0..1000u64)).prop_map(|(k, t)| Op::Insert(k, t)),
            (any::<u8>(), 0..1000u64).prop_map(|(k, t)| Op::SetDeadline(k, t)),
            any::<u8>().prop_map(Op::Clear),
            any::<u8>().prop_map(Op::Remove),
        ]
    }

    proptest! {
        /// Against a map of key -> deadline: every deadline reads back, and
        /// the links survive any order of inserts, TTL changes and removals
        /// (each of which swaps entries or records around).
        #[test]
        fn deadlines_follow_their_keys(ops in proptest::collection::vec(op(), 1..400)) {
            let mut part = DbShard::default();
            let mut model: HashMap<Vec<u8>, Option<u64>> = HashMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, ttl) => {
                        let key = format!("key:{k}").into_bytes();
                        part.insert(hash_key(&key), &key, Entry::new(Value::str(b"v")), ttl);
                        model.insert(key, ttl);
                    }
                    Op::SetDeadline(k, at) => {
                        let key = format!("key:{k}").into_bytes();
                        if let Some(ttl) = model.get_mut(&key) {
                            part.set_deadline(hash_key(&key), &key, at);
                            *ttl = Some(at);
                        }
                    }
                    Op::Clear(k) => {
                        let key = format!("key:{k}").into_bytes();
                        let had = model.get_mut(&key).and_then(|t| t.take()).is_some();
                        prop_assert_eq!(part.clear_deadline(hash_key(&key), &key), had);
                    }
                    Op::Remove(k) => {
                        let key = format!("key:{k}").into_bytes();
                        let removed = part.remove(hash_key(&key), &key);
                        prop_assert_eq!(removed.is_some(), model.remove(&key).is_some());
                        if let Some((stored, entry)) = removed {
                            prop_assert_eq!(&stored[..], &key[..]);
                            prop_assert_eq!(entry.ttl_slot, NO_TTL);
                        }
                    }
                }
                check_links(&part);
            }
            for (key, ttl) in &model {
                prop_assert_eq!(part.deadline(hash_key(key), key), *ttl);
            }
            prop_assert_eq!(part.keys.len(), model.len());
            prop_assert_eq!(part.expires.len(), model.values().filter(|t| t.is_some()).count());
        }
    }

    #[test]
    fn a_ttl_costs_twelve_bytes() {
        assert_eq!(std::mem::size_of::<Deadline>(), 12);
    }

    #[test]
    fn random_picks_only_keys_with_a_ttl_and_reaches_all() {
        let mut part = DbShard::default();
        for i in 0..100u32 {
            let key = format!("k{i}").into_bytes();
            let ttl = (i % 10 == 0).then_some(i as u64);
            part.insert(hash_key(&key), &key, Entry::new(Value::str(b"v")), ttl);
        }
        let mut rng = rand::rng();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let (at, pos) = part.expires.random(&mut rng).unwrap();
            let key = part.entry_at(pos).0.to_vec();
            assert_eq!(part.deadline(hash_key(&key), &key), Some(at));
            seen.insert(key);
        }
        assert_eq!(seen.len(), 10);
        part.clear();
        assert!(part.expires.random(&mut rng).is_none());
        assert_eq!(part.expires.table_size(), 0);
    }
}
