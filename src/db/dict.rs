//! `Dict`: the hash table under every keyspace shard and every large aggregate.
//!
//! Callers pass the key's hash (computed once with [`hash_key`], also used to
//! pick the shard), so a lookup in the keyspace and then in its expiry table
//! hashes the key once. The hash must be `hash_key(key)`: removal rehashes the
//! entry it moves (see below), and debug builds check it on insert.
//!
//! # Layout
//! Two arrays, as in a "compact dict":
//! - `entries`: a dense array of `(Bytes24, V)` with no holes, stored in
//!   chunks of 128 (`Entries`). Removal swaps the last entry into the gap.
//!   The first chunk grows by 1.25x from 4 entries, so a small dict (most
//!   sets and hashes) carries little spare room; every later chunk is
//!   allocated whole, so a big table's chunks are all one size and reuse each
//!   other's freed blocks. Growing never copies more than one small chunk
//!   (one big array would copy the whole table on realloc: 23ms measured at
//!   340K entries). Growing every chunk by 1.25x, as an earlier version did,
//!   left a trail of odd-sized freed blocks: 1M string keys cost 6 bytes of
//!   RSS more each than now.
//! - `slots`: the index, a power-of-two array of 8-byte `Slot`s (entry
//!   position plus the low 32 bits of the hash), probed linearly in Robin Hood
//!   order, at most 7/8 full.
//!
//! Why this layout rather than one array of key/value slots (std's hashbrown):
//! a slot array's empty slots each cost a full key+value (32-64 bytes here),
//! and at a 7/16..7/8 load that is 14%-128% extra per entry. Here an empty
//! index slot costs 8 bytes, so the overhead per entry is ~9-18 bytes of index
//! plus a few percent spare entry capacity. Boxing each entry
//! instead would cost a pointer plus malloc's header and rounding (~16 bytes)
//! per entry and a cache miss per probe. The dense array also makes
//! [`Dict::random`] exactly uniform in O(1) (pick a position) and iteration a
//! linear walk. Storing 32 hash bits in the slot lets probes skip almost every
//! non-matching key without touching `entries`, and lets a resize rebuild the
//! index without reading a single key.
//!
//! # SCAN
//! [`Dict::scan`] walks *home buckets* (hash & mask) with Redis's reverse-binary
//! cursor, so a table that grows or shrinks between calls never makes it skip a
//! bucket: every element present for a whole iteration is reported at least
//! once. Robin Hood order keeps the elements of one home bucket contiguous, so
//! a bucket is found by a short probe from its home slot.
//!
//! # Deletion and resizing
//! Backward-shift deletion leaves no tombstones. The index doubles when it
//! would pass 7/8 full and shrinks when under 1/10 full, as Redis does. Resizes
//! rebuild the whole index at once rather than incrementally: the keyspace is
//! split into 32+ shards, so each shard's table is small (1M keys make ~31K
//! per shard, so a rebuild is ~30x shorter than below) and only that shard waits. Measured by
//! `benches/keyspace.rs` on a busy 2-core machine: rebuilding the index of a
//! single 1M-entry table took ~70ms (the same run's noise floor was ~16ms).
//! One huge aggregate (a 1M-member set) would pause its shard that long;
//! incremental rehashing is the remedy if that ever matters.
//!
//! # Memory (heap bytes per entry at 1M entries, keys inline in `Bytes24`)
//! `Dict<u64>` 48.8 vs std HashMap 69.2; `Dict<Entry>` 80.8 vs 136.3; the
//! mean over 0.6M-1.9M entries is 45.7 vs 56.6 and 77.8 vs 111.4. The
//! payload (`Bytes24` + value) dominates: with `Entry` at 40 bytes an entry
//! is 64 bytes before any table overhead.

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

/// One index slot: where the entry is in `entries`, and its hash's low bits
/// (the home bucket comes from these, so they must cover the largest mask).
#[derive(Clone, Copy)]
struct Slot {
    entry: u32,
    hash: u32,
}

impl Slot {
    const EMPTY: Slot = Slot {
        entry: u32::MAX,
        hash: 0,
    };

    #[inline]
    fn is_empty(self) -> bool {
        self.entry == u32::MAX
    }
}

/// The index is at most 7/8 full.
const MAX_LOAD_NUM: usize = 7;
const MAX_LOAD_DEN: usize = 8;
/// Smallest non-empty index.
const MIN_SLOTS: usize = 8;
/// Redis shrinks a table when fewer than 1 in 10 buckets are used.
const MIN_FILL_PERCENT: usize = 10;
/// Largest index: slot hashes hold 32 bits and entry positions must stay
/// below `u32::MAX`.
const MAX_SLOTS: usize = 1 << 31;
/// Empty home buckets one `scan` call may walk past before returning.
const SCAN_EMPTY_BUCKETS: usize = 16;

pub struct Dict<V> {
    entries: Entries<(Bytes24, V)>,
    slots: Box<[Slot]>,
}

impl<V> Default for Dict<V> {
    fn default() -> Self {
        Self::new()
    }
}

#[inline]
fn low_bits(hash: u64) -> u32 {
    hash as u32
}

impl<V> Dict<V> {
    /// An empty dict; allocates nothing until the first insert.
    pub fn new() -> Self {
        Dict {
            entries: Entries::new(),
            slots: Box::new([]),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// How far the element in slot `pos` sits from its home bucket.
    #[inline]
    fn displacement(&self, pos: usize, slot: Slot) -> usize {
        pos.wrapping_sub(slot.hash as usize) & self.mask()
    }

    /// The index slot holding `key`, if present.
    fn find(&self, hash: u64, key: &[u8]) -> Option<usize> {
        if self.entries.is_empty() {
            return None;
        }
        let mask = self.mask();
        let h = low_bits(hash);
        let mut pos = h as usize & mask;
        let mut dist = 0;
        loop {
            let slot = self.slots[pos];
            // Robin Hood order: past an element closer to home than we
            // would be, the key cannot be further on.
            if slot.is_empty() || self.displacement(pos, slot) < dist {
                return None;
            }
            if slot.hash == h && &*self.entries[slot.entry as usize].0 == key {
                return Some(pos);
            }
            pos = (pos + 1) & mask;
            dist += 1;
        }
    }

    pub fn get(&self, hash: u64, key: &[u8]) -> Option<&V> {
        self.get_key_value(hash, key).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, hash: u64, key: &[u8]) -> Option<&mut V> {
        let pos = self.find(hash, key)?;
        Some(&mut self.entries[self.slots[pos].entry as usize].1)
    }

    pub fn get_key_value(&self, hash: u64, key: &[u8]) -> Option<(&Bytes24, &V)> {
        let pos = self.find(hash, key)?;
        let (k, v) = &self.entries[self.slots[pos].entry as usize];
        Some((k, v))
    }

    /// Inserts or replaces; returns the previous value (the stored key is kept).
    pub fn insert(&mut self, hash: u64, key: Bytes24, value: V) -> Option<V> {
        debug_assert_eq!(hash, hash_key(&key), "Dict needs hash_key(key)");
        if let Some(pos) = self.find(hash, &key) {
            let entry = &mut self.entries[self.slots[pos].entry as usize];
            return Some(std::mem::replace(&mut entry.1, value));
        }
        self.grow_index_for(self.entries.len() + 1);
        let entry = u32::try_from(self.entries.len()).expect("Dict is full");
        self.entries.push((key, value));
        self.place(Slot {
            entry,
            hash: low_bits(hash),
        });
        None
    }

    /// Puts a slot into the index in Robin Hood order: it takes the place of
    /// the first element closer to its home than it is, which moves on.
    fn place(&mut self, mut carried: Slot) {
        let mask = self.mask();
        let mut pos = carried.hash as usize & mask;
        let mut dist = 0;
        loop {
            let slot = self.slots[pos];
            if slot.is_empty() {
                self.slots[pos] = carried;
                return;
            }
            let theirs = self.displacement(pos, slot);
            if theirs < dist {
                self.slots[pos] = carried;
                carried = slot;
                dist = theirs;
            }
            pos = (pos + 1) & mask;
            dist += 1;
        }
    }

    pub fn remove(&mut self, hash: u64, key: &[u8]) -> Option<(Bytes24, V)> {
        self.remove_tracked(hash, key).map(|(_, k, v)| (k, v))
    }

    /// [`Dict::remove`], also giving the position the entry had. If that is
    /// still below [`Dict::len`], the last entry has moved there (callers that
    /// keep entry positions elsewhere, as the keyspace's TTL list does, fix
    /// theirs).
    pub fn remove_tracked(&mut self, hash: u64, key: &[u8]) -> Option<(usize, Bytes24, V)> {
        let pos = self.find(hash, key)?;
        let entry = self.slots[pos].entry as usize;
        self.unlink_slot(pos);
        let last = self.entries.len() - 1;
        if entry != last {
            // The last entry moves into the gap: repoint its slot.
            let moved = self.slot_of_entry(last);
            self.slots[moved].entry = entry as u32;
        }
        let (k, v) = self.entries.swap_remove(entry);
        self.shrink_if_sparse();
        Some((entry, k, v))
    }

    /// Where `key`'s entry is in the dense entry array (stable until an
    /// entry is removed; see [`Dict::remove_tracked`]).
    pub fn position(&self, hash: u64, key: &[u8]) -> Option<usize> {
        self.find(hash, key)
            .map(|slot| self.slots[slot].entry as usize)
    }

    /// The entry at position `pos` (below [`Dict::len`]).
    #[inline]
    pub fn at(&self, pos: usize) -> (&Bytes24, &V) {
        let (k, v) = &self.entries[pos];
        (k, v)
    }

    #[inline]
    pub fn at_mut(&mut self, pos: usize) -> &mut V {
        &mut self.entries[pos].1
    }

    /// Empties slot `pos` by backward shift: the elements after it that are
    /// not at home move back one place, so no tombstone is left.
    fn unlink_slot(&mut self, mut pos: usize) {
        let mask = self.mask();
        loop {
            let next = (pos + 1) & mask;
            let slot = self.slots[next];
            if slot.is_empty() || self.displacement(next, slot) == 0 {
                self.slots[pos] = Slot::EMPTY;
                return;
            }
            self.slots[pos] = slot;
            pos = next;
        }
    }

    /// The index slot pointing at entry `entry` (which is present).
    fn slot_of_entry(&self, entry: usize) -> usize {
        let mask = self.mask();
        let mut pos = hash_key(&self.entries[entry].0) as u32 as usize & mask;
        while self.slots[pos].entry as usize != entry {
            pos = (pos + 1) & mask;
        }
        pos
    }

    /// Doubles the index (or creates it) when `len` entries would pass the
    /// maximum load.
    fn grow_index_for(&mut self, len: usize) {
        if len * MAX_LOAD_DEN > self.slots.len() * MAX_LOAD_NUM {
            let size = (self.slots.len() * 2).max(MIN_SLOTS);
            assert!(size <= MAX_SLOTS, "Dict index is at its maximum size");
            self.rebuild_index(size);
        }
    }

    /// Shrinks the index when under 10% full (to about half full) and the
    /// entries when more than half their capacity is spare.
    fn shrink_if_sparse(&mut self) {
        let len = self.entries.len();
        if len == 0 {
            self.clear();
            return;
        }
        if self.slots.len() > MIN_SLOTS && len * 100 < self.slots.len() * MIN_FILL_PERCENT {
            self.rebuild_index((len * 2).next_power_of_two().max(MIN_SLOTS));
        }
        self.entries.trim();
    }

    /// Rebuilds the index at `size` slots from the old slots alone (they hold
    /// the hash bits, so no key is read).
    fn rebuild_index(&mut self, size: usize) {
        let old = std::mem::replace(&mut self.slots, vec![Slot::EMPTY; size].into_boxed_slice());
        for slot in old.iter().filter(|s| !s.is_empty()) {
            self.place(*slot);
        }
    }

    /// Removes everything and frees the memory (FLUSHDB gives memory back).
    pub fn clear(&mut self) {
        self.entries = Entries::new();
        self.slots = Box::new([]);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Bytes24, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// One SCAN step: reports every element of the home bucket `cursor`
    /// points at, moving on through at most a few empty buckets, and returns
    /// the next cursor (0 when the iteration is complete).
    ///
    /// The cursor counts through buckets with its bits reversed (Redis's
    /// technique). Doubling the table splits bucket `b` into `b` and
    /// `b | old_size`, which the reversed order visits back to back; halving
    /// merges them. Either way every bucket not yet visited under the old
    /// size maps onto buckets not yet visited under the new one, so nothing
    /// present throughout is missed (merged buckets may repeat elements).
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&Bytes24, &V)) -> u64 {
        if self.entries.is_empty() {
            return 0;
        }
        let mask = self.mask() as u64;
        let mut cursor = cursor;
        for _ in 0..SCAN_EMPTY_BUCKETS {
            let reported = self.scan_bucket((cursor & mask) as usize, &mut f);
            cursor = next_cursor(cursor, mask);
            if reported > 0 || cursor == 0 {
                break;
            }
        }
        cursor
    }

    /// Reports the elements whose home is `bucket`; returns how many. In Robin
    /// Hood order they sit together, after any elements from earlier homes
    /// that spilled into this bucket's slots.
    fn scan_bucket(&self, bucket: usize, f: &mut impl FnMut(&Bytes24, &V)) -> usize {
        let mask = self.mask();
        let mut pos = bucket;
        let mut reported = 0;
        for dist in 0..self.slots.len() {
            let slot = self.slots[pos];
            if slot.is_empty() {
                break;
            }
            let theirs = self.displacement(pos, slot);
            if theirs < dist {
                break; // homed after `bucket`: its elements are all behind us
            }
            if theirs == dist {
                let (k, v) = &self.entries[slot.entry as usize];
                f(k, v);
                reported += 1;
            }
            pos = (pos + 1) & mask;
        }
        reported
    }

    /// A uniformly chosen entry, for eviction and active-expiry sampling.
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<(&Bytes24, &V)> {
        if self.entries.is_empty() {
            return None;
        }
        let (k, v) = &self.entries[rng.random_range(0..self.entries.len())];
        Some((k, v))
    }

    /// Bytes the table itself holds (not counting what keys and values own).
    pub fn table_size(&self) -> usize {
        self.entries.heap_bytes() + self.slots.len() * std::mem::size_of::<Slot>()
    }
}

/// Entries per chunk of [`Entries`]: big enough that the chunk table is small
/// (24 bytes per 128 entries), small enough that a chunk allocated whole
/// leaves little unused (at most 127 entries per dict).
const CHUNK_BITS: u32 = 7;
const CHUNK: usize = 1 << CHUNK_BITS;

/// A dense array in fixed-size chunks: every chunk but the last is full; the
/// first chunk grows (by 1.25x) while it is the only one, later ones are
/// allocated whole. Only the last one shrinks.
pub(super) struct Entries<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Entries<T> {
    pub(super) fn new() -> Self {
        Entries {
            chunks: Vec::new(),
            len: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(super) fn push(&mut self, item: T) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => {
                if last.len() == last.capacity() {
                    let extra = (last.capacity() / 4).max(4).min(CHUNK - last.len());
                    last.reserve_exact(extra);
                }
                last.push(item);
            }
            _ => {
                // Only the first chunk grows from small; later ones are
                // allocated whole, so a big table's chunks are all one size
                // and a freed one fits the next exactly.
                let first = self.chunks.is_empty();
                let mut chunk = Vec::with_capacity(if first { 4 } else { CHUNK });
                chunk.push(item);
                // Most dicts (a set's, a hash's) never need a second chunk:
                // room for one chunk header, not the four `push` reserves.
                if first {
                    self.chunks.reserve_exact(1);
                }
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    /// Removes item `i`, moving the last item into its place.
    pub(super) fn swap_remove(&mut self, i: usize) -> T {
        let last_chunk = self
            .chunks
            .last_mut()
            .expect("swap_remove on empty Entries");
        let last = last_chunk.pop().expect("chunks are never empty");
        if last_chunk.is_empty() {
            self.chunks.pop();
        }
        self.len -= 1;
        if i == self.len {
            last
        } else {
            std::mem::replace(&mut self[i], last)
        }
    }

    /// Gives back the last chunk's spare room once more than half is unused.
    pub(super) fn trim(&mut self) {
        if let Some(last) = self.chunks.last_mut() {
            if last.len() * 2 < last.capacity() {
                last.shrink_to(last.len() + last.len() / 4);
            }
        }
    }

    fn capacity(&self) -> usize {
        self.chunks.iter().map(Vec::capacity).sum()
    }

    /// Heap bytes: the items' room plus the chunk table.
    pub(super) fn heap_bytes(&self) -> usize {
        self.capacity() * std::mem::size_of::<T>()
            + self.chunks.capacity() * std::mem::size_of::<Vec<T>>()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }
}

impl<T> std::ops::Index<usize> for Entries<T> {
    type Output = T;
    #[inline]
    fn index(&self, i: usize) -> &T {
        &self.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)]
    }
}

impl<T> std::ops::IndexMut<usize> for Entries<T> {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut T {
        &mut self.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)]
    }
}

/// The cursor after `cursor` for a table of `mask + 1` buckets: increments
/// the bucket bits in reversed order; wraps to 0 after the last bucket.
#[inline]
fn next_cursor(cursor: u64, mask: u64) -> u64 {
    // Setting the unmasked high bits makes the carry run past them.
    let reversed = (cursor | !mask).reverse_bits();
    reversed.wrapping_add(1).reverse_bits()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use std::collections::{HashMap, HashSet};

    fn key(i: u64) -> Vec<u8> {
        format!("key:{i}").into_bytes()
    }

    fn insert(d: &mut Dict<u64>, i: u64) -> Option<u64> {
        let k = key(i);
        d.insert(hash_key(&k), Bytes24::new(&k), i)
    }

    fn remove(d: &mut Dict<u64>, i: u64) -> Option<u64> {
        let k = key(i);
        d.remove(hash_key(&k), &k).map(|(_, v)| v)
    }

    /// Checks every structural invariant: slots and entries match one to
    /// one, hashes are right, the load is bounded and Robin Hood order holds
    /// (each slot's displacement is at most one more than the previous one's).
    fn check_invariants<V>(d: &Dict<V>) {
        let mut seen = vec![false; d.entries.len()];
        let mut used = 0;
        for (pos, slot) in d.slots.iter().enumerate() {
            if slot.is_empty() {
                continue;
            }
            used += 1;
            let entry = slot.entry as usize;
            assert!(
                !std::mem::replace(&mut seen[entry], true),
                "entry indexed twice"
            );
            assert_eq!(slot.hash, hash_key(&d.entries[entry].0) as u32);
            let prev = (pos + d.slots.len() - 1) & d.mask();
            let before = d.slots[prev];
            let limit = if before.is_empty() {
                0
            } else {
                d.displacement(prev, before) + 1
            };
            assert!(
                d.displacement(pos, *slot) <= limit,
                "Robin Hood order broken"
            );
        }
        assert_eq!(used, d.entries.len());
        assert!(d.entries.len() * MAX_LOAD_DEN <= d.slots.len() * MAX_LOAD_NUM);
    }

    fn full_scan<V>(d: &Dict<V>) -> Vec<Bytes24> {
        let mut out = Vec::new();
        let mut cursor = 0;
        loop {
            cursor = d.scan(cursor, |k, _| out.push(k.clone()));
            if cursor == 0 {
                return out;
            }
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16, u64),
        Remove(u16),
        Get(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        // A small key space so removes and replaces hit often; inserts are
        // weighted up so tables grow well past several resizes.
        prop_oneof![
            3 => (0u16..600, any::<u64>()).prop_map(|(k, v)| Op::Insert(k, v)),
            2 => (0u16..600).prop_map(Op::Remove),
            1 => (0u16..600).prop_map(Op::Get),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_hashmap(ops in proptest::collection::vec(op(), 1..2000)) {
            let mut dict = Dict::new();
            let mut model = HashMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        let k = key(k as u64);
                        prop_assert_eq!(
                            dict.insert(hash_key(&k), Bytes24::new(&k), v),
                            model.insert(k, v)
                        );
                    }
                    Op::Remove(k) => {
                        let k = key(k as u64);
                        let got = dict.remove(hash_key(&k), &k);
                        prop_assert_eq!(got.as_ref().map(|(gk, _)| &gk[..]), model.get(&k).map(|_| &k[..]));
                        prop_assert_eq!(got.map(|(_, v)| v), model.remove(&k));
                    }
                    Op::Get(k) => {
                        let k = key(k as u64);
                        prop_assert_eq!(dict.get(hash_key(&k), &k), model.get(&k));
                    }
                }
                prop_assert_eq!(dict.len(), model.len());
            }
            check_invariants(&dict);
            let mut listed: Vec<_> = dict.iter().map(|(k, &v)| (k.to_vec(), v)).collect();
            let mut expected: Vec<_> = model.into_iter().collect();
            listed.sort();
            expected.sort();
            prop_assert_eq!(listed, expected);
        }
    }

    #[test]
    fn get_mut_replace_and_stored_key() {
        let mut d = Dict::new();
        assert_eq!(insert(&mut d, 1), None);
        let k = key(1);
        *d.get_mut(hash_key(&k), &k).unwrap() = 10;
        assert_eq!(d.insert(hash_key(&k), Bytes24::new(&k), 11), Some(10));
        assert_eq!(
            d.get_key_value(hash_key(&k), &k)
                .map(|(k, v)| (k.to_vec(), *v)),
            Some((k, 11))
        );
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn grows_and_shrinks_and_clear_frees() {
        let mut d = Dict::new();
        assert_eq!(d.table_size(), 0, "an empty dict allocates nothing");
        for i in 0..10_000 {
            insert(&mut d, i);
        }
        check_invariants(&d);
        let big = d.slots.len();
        assert_eq!(big, 16_384);
        for i in 0..9_900 {
            assert_eq!(remove(&mut d, i), Some(i));
        }
        check_invariants(&d);
        assert!(
            d.slots.len() <= 256,
            "sparse index shrinks: {}",
            d.slots.len()
        );
        assert!(
            d.entries.capacity() <= 200,
            "spare entries freed: {}",
            d.entries.capacity()
        );
        for i in 9_900..10_000 {
            assert_eq!(d.get(hash_key(&key(i)), &key(i)), Some(&i));
        }
        d.clear();
        assert_eq!((d.len(), d.table_size()), (0, 0));
        assert_eq!(d.get(hash_key(&key(9_999)), &key(9_999)), None);
    }

    #[test]
    fn removing_everything_frees_memory() {
        let mut d = Dict::new();
        for i in 0..100 {
            insert(&mut d, i);
        }
        for i in 0..100 {
            remove(&mut d, i);
        }
        assert_eq!(d.table_size(), 0);
    }

    #[test]
    fn scan_of_empty_table_ends_at_once() {
        let d: Dict<u64> = Dict::new();
        assert_eq!(d.scan(0, |_, _| panic!("nothing to report")), 0);
        assert_eq!(d.scan(12345, |_, _| panic!("nothing to report")), 0);
        let mut d = Dict::new();
        insert(&mut d, 1);
        remove(&mut d, 1);
        assert_eq!(d.scan(0, |_, _| panic!("nothing to report")), 0);
    }

    #[test]
    fn scan_of_stable_table_reports_each_once() {
        for n in [1, 7, 8, 100, 5_000] {
            let mut d = Dict::new();
            for i in 0..n {
                insert(&mut d, i);
            }
            let mut listed = full_scan(&d);
            listed.sort();
            let mut expected: Vec<_> = (0..n).map(|i| Bytes24::new(&key(i))).collect();
            expected.sort();
            assert_eq!(listed, expected, "n={n}");
        }
    }

    #[test]
    fn scan_step_does_bounded_work() {
        let mut d = Dict::new();
        for i in 0..5_000 {
            insert(&mut d, i);
        }
        let mut cursor = 0;
        let mut steps = 0;
        loop {
            let mut n = 0;
            cursor = d.scan(cursor, |_, _| n += 1);
            assert!(n <= 16, "one step reported {n}");
            steps += 1;
            if cursor == 0 {
                break;
            }
        }
        assert!(steps > 1_000, "steps are small batches: {steps}");
    }

    /// Redis's guarantee: elements present for the whole iteration are all
    /// reported, while other elements come and go between every step and
    /// the table grows and shrinks several times.
    #[test]
    fn scan_guarantee_across_grow_and_shrink_cycles() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let stable: Vec<u64> = (0..300).collect();
        for round in 0..4 {
            let mut d = Dict::new();
            for &i in &stable {
                insert(&mut d, i);
            }
            let mut churn: Vec<u64> = Vec::new();
            let mut next_churn = 1_000_000;
            let (mut grows, mut shrinks) = (0, 0);
            let mut growing = true;
            let mut seen = HashSet::new();
            let mut cursor = 0;
            loop {
                let before = d.slots.len();
                // Churn hard enough that each cycle spans a few steps.
                let batch = rng.random_range(1..400);
                for _ in 0..batch {
                    if growing {
                        insert(&mut d, next_churn);
                        churn.push(next_churn);
                        next_churn += 1;
                    } else if let Some(pos) =
                        (!churn.is_empty()).then(|| rng.random_range(0..churn.len()))
                    {
                        let gone = churn.swap_remove(pos);
                        assert_eq!(remove(&mut d, gone), Some(gone));
                    }
                }
                if churn.len() > 8_000 + round * 3_000 {
                    growing = false;
                } else if churn.is_empty() {
                    growing = true;
                }
                match d.slots.len().cmp(&before) {
                    std::cmp::Ordering::Greater => grows += 1,
                    std::cmp::Ordering::Less => shrinks += 1,
                    _ => {}
                }
                cursor = d.scan(cursor, |k, _| {
                    seen.insert(k.to_vec());
                });
                if cursor == 0 {
                    break;
                }
            }
            check_invariants(&d);
            for &i in &stable {
                assert!(seen.contains(&key(i)), "round {round}: missed key {i}");
            }
            assert!(
                grows >= 3 && shrinks >= 3,
                "grows {grows}, shrinks {shrinks}"
            );
        }
    }

    #[test]
    fn entries_chunks_stay_dense_and_tight() {
        let mut e = Entries::new();
        for i in 0..10 {
            e.push(i);
        }
        // A small dict: one chunk grown a little at a time, one chunk header.
        assert!(e.capacity() <= 12, "{}", e.capacity());
        assert_eq!(e.chunks.capacity(), 1);
        for i in 10..3 * CHUNK + 10 {
            e.push(i);
        }
        assert_eq!(e.len(), 3 * CHUNK + 10);
        assert_eq!(e.chunks.len(), 4);
        assert!(
            e.chunks[..3]
                .iter()
                .all(|c| c.len() == CHUNK && c.capacity() == CHUNK)
        );
        assert!(
            e.capacity() - e.len() < CHUNK,
            "spare room only in the last chunk"
        );
        assert!(e.iter().copied().eq(0..3 * CHUNK + 10));
        // Removing from the middle pulls the last item in; the emptied
        // last chunk goes away.
        assert_eq!(e.swap_remove(5), 5);
        assert_eq!(e[5], 3 * CHUNK + 9);
        for _ in 0..9 {
            let last = e.len() - 1;
            e.swap_remove(last);
        }
        assert_eq!((e.len(), e.chunks.len()), (3 * CHUNK, 3));
        assert_eq!(e.swap_remove(3 * CHUNK - 1), 3 * CHUNK - 1);
        for _ in 0..CHUNK - 10 {
            e.swap_remove(0);
            e.trim();
        }
        assert!(e.chunks[2].capacity() < CHUNK / 2, "last chunk trimmed");
    }

    #[test]
    fn cursor_visits_every_bucket_once() {
        for bits in 0..8 {
            let mask = (1u64 << bits) - 1;
            let mut seen = HashSet::new();
            let mut cursor = 0;
            loop {
                assert!(seen.insert(cursor & mask));
                cursor = next_cursor(cursor, mask);
                if cursor == 0 {
                    break;
                }
            }
            assert_eq!(seen.len() as u64, mask + 1);
        }
    }

    #[test]
    fn random_samples_only_present_and_reaches_all() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut d = Dict::new();
        assert!(d.random(&mut rng).is_none());
        for i in 0..200 {
            insert(&mut d, i);
        }
        for i in 0..100 {
            remove(&mut d, i * 2);
        }
        let mut hits: HashMap<u64, usize> = HashMap::new();
        for _ in 0..20_000 {
            let (k, &v) = d.random(&mut rng).unwrap();
            assert_eq!(&k[..], &key(v)[..]);
            assert!(v % 2 == 1, "sampled removed key {v}");
            *hits.entry(v).or_default() += 1;
        }
        assert_eq!(hits.len(), 100, "every present key is sampled");
        // Uniform: each key expects 200 draws; allow wide random slack.
        assert!(hits.values().all(|&n| (100..320).contains(&n)), "{hits:?}");
    }

    #[test]
    fn table_size_counts_both_arrays() {
        let mut d = Dict::new();
        for i in 0..1_000 {
            insert(&mut d, i);
        }
        assert_eq!(
            d.table_size(),
            d.entries.capacity() * 32 + d.entries.chunks.capacity() * 24 + d.slots.len() * 8
        );
        assert!(d.entries.capacity() <= 1_250);
    }
}
