//! `Dict`: the hash table under every keyspace and every large aggregate.
//!
//! Callers pass the key's hash (computed once with [`hash_key`], also used to
//! pick the shard), so a lookup in the keyspace and then in its expiry table
//! hashes the key once.
//!
//! PLACEHOLDER: backed by std's HashMap until the open-addressing table lands;
//! `scan` here does not yet give Redis's guarantee.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::OnceLock;

use rand::RngExt;

use super::bytes::Bytes24;

static SEED: OnceLock<foldhash::fast::FixedState> = OnceLock::new();

fn state() -> &'static foldhash::fast::FixedState {
    SEED.get_or_init(|| foldhash::fast::FixedState::with_seed(rand::random()))
}

/// The hash of a key, seeded once per process so clients cannot aim at a bucket.
#[inline]
pub fn hash_key(key: &[u8]) -> u64 {
    state().hash_one(key)
}

pub struct Dict<V> {
    map: HashMap<Bytes24, V, foldhash::fast::FixedState>,
}

impl<V> Default for Dict<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V> Dict<V> {
    pub fn new() -> Self {
        Dict {
            map: HashMap::with_hasher(state().clone()),
        }
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    pub fn get(&self, _hash: u64, key: &[u8]) -> Option<&V> {
        self.map.get(key)
    }
    pub fn get_mut(&mut self, _hash: u64, key: &[u8]) -> Option<&mut V> {
        self.map.get_mut(key)
    }
    pub fn get_key_value(&self, _hash: u64, key: &[u8]) -> Option<(&Bytes24, &V)> {
        self.map.get_key_value(key)
    }
    /// Inserts or replaces; returns the previous value (the stored key is kept).
    pub fn insert(&mut self, _hash: u64, key: Bytes24, value: V) -> Option<V> {
        self.map.insert(key, value)
    }
    pub fn remove(&mut self, _hash: u64, key: &[u8]) -> Option<(Bytes24, V)> {
        self.map.remove_entry(key)
    }
    pub fn clear(&mut self) {
        self.map.clear()
    }
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes24, &V)> {
        self.map.iter()
    }
    /// Visits some entries from `cursor` and returns the next cursor (0 = done).
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&Bytes24, &V)) -> u64 {
        let start = cursor as usize;
        let mut n = 0;
        for (k, v) in self.map.iter().skip(start).take(10) {
            f(k, v);
            n += 1;
        }
        if start + n >= self.map.len() {
            0
        } else {
            (start + n) as u64
        }
    }
    /// A uniformly chosen entry, for eviction and active-expiry sampling.
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<(&Bytes24, &V)> {
        if self.map.is_empty() {
            return None;
        }
        let i = rng.random_range(0..self.map.len());
        self.map.iter().nth(i)
    }
    /// Bytes the table itself holds (not counting what keys and values own).
    pub fn table_size(&self) -> usize {
        self.map.capacity() * (std::mem::size_of::<(Bytes24, V)>() + 1)
    }
}
