//! The `hash` value type, in Redis's two encodings:
//!
//! - `listpack`: every field and value in one byte buffer, pairs in insertion
//!   order, each item front coded (below). Lookups scan, which is cheap while
//!   the hash is small; a pair costs at most 2 header bytes (items under 128
//!   bytes) instead of a table slot and two string headers, and shared
//!   prefixes are not stored twice.
//! - `hashtable`: a [`Dict`] from field to value, once the hash holds more than
//!   `hash-max-listpack-entries` pairs or any field or value longer than
//!   `hash-max-listpack-value` bytes. Like Redis, a hash never converts back.
//!
//! # Front coding
//!
//! Fields and values form two chains: a field may start with the first `p`
//! bytes of the previous pair's field, a value with the first `p` bytes of
//! the previous pair's value (the fields of a hash often share a stem,
//! `field1`/`field2`, and its values a format, `user:12:a`/`user:12:b` or
//! timestamps). The first pair shares nothing. An item is a header, then the
//! bytes it does not share (its suffix):
//!
//! | header                                   | shares           | suffix bytes             |
//! |------------------------------------------|------------------|--------------------------|
//! | `0sssssss`                               | nothing          | `s` (0..=127)            |
//! | `10ppppss`                               | `p + 1` (1..=16) | `s` (0..=3)              |
//! | `110sssss`, varint `n`                   | nothing          | `s + 32 n`               |
//! | `111sssss`, [varint `len`], varint `p`   | `p`              | `s`, or `len` if `s` = 31 |
//!
//! The one-byte shared form is split for what neighbours look like: a stem
//! of up to 16 bytes and a tail of a few bytes (a counter, an index). So
//! `field7` after `field6` takes 2 bytes instead of 7, `value12:7` after
//! `value12:6` 2 instead of 10. Other shares take 2 header bytes while the
//! suffix is under 31 bytes and the prefix under 128. The encoder shares the
//! common prefix only when that makes the item strictly shorter.
//!
//! An item that shares nothing costs what the plain LEB128 length this
//! replaced cost: one header byte up to 127 bytes, two up to 4095; one byte
//! more only from 4096 to 16383 bytes and from 2^19 to 2^21, far past the
//! default 64-byte limit. That byte is what buys the shared forms their
//! codes. Data without shared prefixes is therefore stored as before and
//! decoded without a copy.
//!
//! The encoding is canonical: an item's form depends only on it and the
//! previous item of its chain. An update re-codes the value and the next
//! pair's value (coded against the old one); a delete re-codes the next pair
//! against the pair before the removed one. Later items are untouched, and
//! the buffer always equals the one appending the pairs in order would build
//! (the proptest checks it).
//!
//! Items are no longer slices of the buffer, so a packed hash is read through
//! callbacks ([`Hash::get_with`], [`Hash::for_each`], [`Hash::random_with`]):
//! a shared item is rebuilt in a 64-byte stack buffer (the default item
//! limit), an unshared one is lent in place. A lookup compares fields without
//! rebuilding them at all (it tracks how much of the wanted field the
//! previous field matched) and only rebuilds values. A table still lends
//! slices through [`Hash::table`].

use smallvec::SmallVec;

use crate::util::varint;

use super::bytes::Bytes24;
use super::dict::{Dict, hash_key};

/// The conversion thresholds, read from the config once per command.
#[derive(Clone, Copy, Debug)]
pub struct HashLimits {
    pub max_listpack_entries: usize,
    pub max_listpack_value: usize,
}

impl HashLimits {
    pub fn from_config(config: &crate::config::Config) -> Self {
        HashLimits {
            max_listpack_entries: config.hash_max_listpack_entries,
            max_listpack_value: config.hash_max_listpack_value,
        }
    }
}

/// A hash value.
#[derive(Clone, Default)]
pub struct Hash {
    repr: Repr,
}

/// 32 bytes (the table is boxed, `Packed` lends its `Vec`'s niche for the
/// tag), so `Value` holds a small hash itself rather than behind a pointer.
enum Repr {
    Packed(Packed),
    Table(Box<Dict<Bytes24>>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Packed(Packed::default())
    }
}

impl Clone for Repr {
    fn clone(&self) -> Self {
        match self {
            Repr::Packed(p) => Repr::Packed(p.clone()),
            Repr::Table(t) => {
                let mut copy = Dict::new();
                for (k, v) in t.iter() {
                    copy.insert(hash_key(k), k.clone(), v.clone());
                }
                Repr::Table(Box::new(copy))
            }
        }
    }
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut map = f.debug_map();
        self.for_each(|k, v| {
            map.entry(&String::from_utf8_lossy(k), &String::from_utf8_lossy(v));
        });
        map.finish()
    }
}

/// A hash in table form, which lends its fields and values.
#[derive(Clone, Copy)]
pub struct TableRef<'a>(&'a Dict<Bytes24>);

impl<'a> TableRef<'a> {
    /// Every pair, in table order.
    pub fn iter(self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
        self.0.iter().map(|(k, v)| (k.as_slice(), v.as_slice()))
    }

    /// A uniformly chosen pair, or None when empty.
    pub fn random(self, rng: &mut impl rand::Rng) -> Option<(&'a [u8], &'a [u8])> {
        self.0
            .random(rng)
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
    }
}

impl Hash {
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Packed(p) => p.pairs,
            Repr::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING prints.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Packed(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    /// Heap bytes owned by the value.
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Packed(p) => p.buf.capacity(),
            Repr::Table(t) => {
                std::mem::size_of::<Dict<Bytes24>>()
                    + t.table_size()
                    + t.iter()
                        .map(|(k, v)| k.heap_size() + v.heap_size())
                        .sum::<usize>()
            }
        }
    }

    /// Calls `f` with the value of `field`, if present. A packed value may be
    /// rebuilt from shared bytes, hence the callback rather than a slice.
    pub fn get_with<R>(&self, field: &[u8], f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        match &self.repr {
            Repr::Packed(p) => p.get_with(field, f),
            Repr::Table(t) => t.get(hash_key(field), field).map(|v| f(v.as_slice())),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        match &self.repr {
            Repr::Packed(p) => p.find(field, None, None).is_some(),
            Repr::Table(t) => t.get(hash_key(field), field).is_some(),
        }
    }

    /// Sets `field` to `value`, converting to a table first when either is
    /// too long for the packed form, or after the insert when there are too
    /// many pairs. Returns true when the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: HashLimits) -> bool {
        if field.len() > limits.max_listpack_value || value.len() > limits.max_listpack_value {
            self.convert_to_table();
        }
        let added = match &mut self.repr {
            Repr::Packed(p) => p.set(field, value),
            Repr::Table(t) => t
                .insert(hash_key(field), Bytes24::new(field), Bytes24::new(value))
                .is_none(),
        };
        if self.len() > limits.max_listpack_entries {
            self.convert_to_table();
        }
        added
    }

    /// Removes `field`; true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Packed(p) => p.remove(field),
            Repr::Table(t) => t.remove(hash_key(field), field).is_some(),
        }
    }

    /// Calls `f` with every pair: insertion order when packed, table order
    /// otherwise.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], &[u8])) {
        match &self.repr {
            Repr::Packed(p) => p.for_each(f),
            Repr::Table(t) => t.iter().for_each(|(k, v)| f(k.as_slice(), v.as_slice())),
        }
    }

    /// The table form, which lends slices; None while packed.
    pub fn table(&self) -> Option<TableRef<'_>> {
        match &self.repr {
            Repr::Packed(_) => None,
            Repr::Table(t) => Some(TableRef(t)),
        }
    }

    /// One step of HSCAN: visits pairs from `cursor` until about `count` were
    /// seen and returns the next cursor (0 = done). A packed hash is visited
    /// whole in one step, as Redis does.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], &[u8])) -> u64 {
        match &self.repr {
            Repr::Packed(p) => {
                p.for_each(f);
                0
            }
            Repr::Table(t) => {
                let mut seen = 0;
                let mut cursor = cursor;
                // Redis bounds the number of empty buckets it walks per call.
                let mut budget = count.saturating_mul(10);
                loop {
                    cursor = t.scan(cursor, |k, v| {
                        seen += 1;
                        f(k, v)
                    });
                    budget = budget.saturating_sub(1);
                    if cursor == 0 || budget == 0 || seen >= count {
                        return cursor;
                    }
                }
            }
        }
    }

    /// Calls `f` with a uniformly chosen pair; None when empty.
    pub fn random_with<R>(
        &self,
        rng: &mut impl rand::Rng,
        f: impl FnOnce(&[u8], &[u8]) -> R,
    ) -> Option<R> {
        use rand::RngExt;
        match &self.repr {
            Repr::Packed(p) => {
                if p.pairs == 0 {
                    return None;
                }
                Some(p.nth_with(rng.random_range(0..p.pairs), f))
            }
            Repr::Table(t) => t.random(rng).map(|(k, v)| f(k.as_slice(), v.as_slice())),
        }
    }

    /// True while the packed form is used (listpack order is insertion order).
    pub fn is_packed(&self) -> bool {
        matches!(self.repr, Repr::Packed(_))
    }

    fn convert_to_table(&mut self) {
        if let Repr::Packed(p) = &self.repr {
            let mut table = Dict::new();
            p.for_each(|k, v| {
                table.insert(hash_key(k), Bytes24::new(k), Bytes24::new(v));
            });
            self.repr = Repr::Table(Box::new(table));
        }
    }
}

/// The packed form: front-coded items, `field value` per pair, pairs in
/// insertion order (see the module doc).
#[derive(Clone, Default)]
struct Packed {
    buf: Vec<u8>,
    pairs: usize,
}

/// Decoded items up to the default `hash-max-listpack-value` stay on the stack.
type Scratch = SmallVec<[u8; 64]>;

/// Re-encoded bytes of an edit: up to two items of 64 bytes plus headers
/// and one field copied as is, without touching the heap.
type Patch = SmallVec<[u8; 256]>;

/// One item as stored: it starts with `prefix` bytes of the previous item of
/// its chain, then its own bytes `buf[start..end]`; the next item starts at
/// `end`.
#[derive(Clone, Copy, Debug)]
struct Item {
    prefix: usize,
    start: usize,
    end: usize,
}

/// Longest prefix and suffix of the one-byte shared form `10ppppss`.
const COMPACT_PREFIX: usize = 16;
const COMPACT_SUFFIX: usize = 3;
/// Longest suffix of the one-byte unshared form `0sssssss`.
const SHORT: usize = 0x7f;
/// In `111sssss`, this `sssss` means "suffix length follows as a varint".
const ESCAPE: usize = 31;
/// Longest header: one byte and two varints.
const MAX_HEADER: usize = 1 + 2 * 10;

/// Bytes of the header of an item sharing `prefix` bytes, with `suffix` own bytes.
fn header_len(prefix: usize, suffix: usize) -> usize {
    match prefix {
        0 if suffix <= SHORT => 1,
        0 => 1 + varint::len((suffix >> 5) as u64),
        1..=COMPACT_PREFIX if suffix <= COMPACT_SUFFIX => 1,
        _ => {
            1 + if suffix >= ESCAPE {
                varint::len(suffix as u64)
            } else {
                0
            } + varint::len(prefix as u64)
        }
    }
}

fn header(prefix: usize, suffix: usize) -> ([u8; MAX_HEADER], usize) {
    let mut out = [0; MAX_HEADER];
    let len = match prefix {
        0 if suffix <= SHORT => {
            out[0] = suffix as u8;
            1
        }
        0 => {
            out[0] = 0xc0 | (suffix & 0x1f) as u8;
            1 + varint::write(&mut out[1..], (suffix >> 5) as u64)
        }
        1..=COMPACT_PREFIX if suffix <= COMPACT_SUFFIX => {
            out[0] = 0x80 | ((prefix - 1) << 2) as u8 | suffix as u8;
            1
        }
        _ => {
            out[0] = 0xe0 | suffix.min(ESCAPE) as u8;
            let at = if suffix >= ESCAPE {
                1 + varint::write(&mut out[1..], suffix as u64)
            } else {
                1
            };
            at + varint::write(&mut out[at..], prefix as u64)
        }
    };
    (out, len)
}

fn read_item(buf: &[u8], at: usize) -> Item {
    let head = buf[at] as usize;
    let mut at = at + 1;
    let (prefix, len) = match head {
        0x00..=0x7f => (0, head),
        0x80..=0xbf => (((head >> 2) & 0xf) + 1, head & 3),
        0xc0..=0xdf => (0, head & 0x1f | (varint::read(buf, &mut at) as usize) << 5),
        _ => {
            let len = match head & 0x1f {
                ESCAPE => varint::read(buf, &mut at) as usize,
                len => len,
            };
            (varint::read(buf, &mut at) as usize, len)
        }
    };
    Item {
        prefix,
        start: at,
        end: at + len,
    }
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// How many bytes of `prev` `item` takes: its common prefix when sharing it
/// makes the item strictly shorter, else 0 (an unshared item decodes
/// without a copy).
fn shared_prefix(prev: &[u8], item: &[u8]) -> usize {
    let p = common_prefix(prev, item);
    let shared = header_len(p, item.len() - p) + item.len() - p;
    if p > 0 && shared < header_len(0, item.len()) + item.len() {
        p
    } else {
        0
    }
}

/// Appends `item` coded against `prev`, the previous item of its chain.
fn encode(out: &mut Patch, prev: &[u8], item: &[u8]) {
    let p = shared_prefix(prev, item);
    let (head, len) = header(p, item.len() - p);
    out.extend_from_slice(&head[..len]);
    out.extend_from_slice(&item[p..]);
}

/// Replaces `buf[start..end]` with `with`, growing the buffer exactly (a
/// packed hash is about compactness, as Redis's listpack).
fn splice_exact(buf: &mut Vec<u8>, start: usize, end: usize, with: &[u8]) {
    let old_len = buf.len();
    let new_len = old_len - (end - start) + with.len();
    if new_len > old_len {
        buf.reserve_exact(new_len - old_len);
        buf.resize(new_len, 0);
    }
    buf.copy_within(end..old_len, start + with.len());
    buf.truncate(new_len);
    buf[start..start + with.len()].copy_from_slice(with);
}

/// The current item of one chain (the fields or the values): a range of the
/// buffer while it shares nothing, else rebuilt in `scratch`.
#[derive(Default)]
struct Chain {
    scratch: Scratch,
    in_buf: Option<(usize, usize)>,
}

impl Chain {
    fn advance(&mut self, buf: &[u8], item: Item) {
        if item.prefix == 0 {
            self.in_buf = Some((item.start, item.end));
            return;
        }
        match self.in_buf.take() {
            Some((start, _)) => {
                self.scratch.clear();
                self.scratch
                    .extend_from_slice(&buf[start..start + item.prefix]);
            }
            None => self.scratch.truncate(item.prefix),
        }
        self.scratch.extend_from_slice(&buf[item.start..item.end]);
    }

    fn get<'a>(&'a self, buf: &'a [u8]) -> &'a [u8] {
        match self.in_buf {
            Some((start, end)) => &buf[start..end],
            None => &self.scratch,
        }
    }
}

/// Sequential decoder: after `n` calls to `advance`, `field` and `value`
/// hold pair `n - 1` (empty before the first pair) and `at` is where pair
/// `n` starts.
#[derive(Default)]
struct Cursor {
    at: usize,
    field: Chain,
    value: Chain,
}

impl Cursor {
    fn advance(&mut self, buf: &[u8]) -> Option<(Item, Item)> {
        if self.at >= buf.len() {
            return None;
        }
        let f = read_item(buf, self.at);
        let v = read_item(buf, f.end);
        self.field.advance(buf, f);
        self.value.advance(buf, v);
        self.at = v.end;
        Some((f, v))
    }

    fn skip(buf: &[u8], pairs: usize) -> Self {
        let mut c = Cursor::default();
        for _ in 0..pairs {
            c.advance(buf);
        }
        c
    }
}

impl Packed {
    /// Index of the pair of `field`, advancing the chains given through the
    /// pairs up to it (or all of them). Fields are compared without being
    /// rebuilt:
    /// `matched` is how much of `field` the previous field starts with, so a
    /// field sharing more than that cannot be it, and one sharing at most
    /// that is it when its own bytes are the rest of `field`.
    fn find(
        &self,
        field: &[u8],
        mut fields: Option<&mut Chain>,
        mut values: Option<&mut Chain>,
    ) -> Option<usize> {
        let buf = &self.buf[..];
        let (mut at, mut matched, mut index) = (0, 0, 0);
        while at < buf.len() {
            let f = read_item(buf, at);
            let v = read_item(buf, f.end);
            if let Some(chain) = fields.as_deref_mut() {
                chain.advance(buf, f);
            }
            if let Some(chain) = values.as_deref_mut() {
                chain.advance(buf, v);
            }
            if f.prefix <= matched {
                let (own, rest) = (&buf[f.start..f.end], &field[f.prefix..]);
                if own == rest {
                    return Some(index);
                }
                matched = f.prefix + common_prefix(own, rest);
            }
            at = v.end;
            index += 1;
        }
        None
    }

    fn get_with<R>(&self, field: &[u8], f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        let mut value = Chain::default();
        self.find(field, None, Some(&mut value))
            .map(|_| f(value.get(&self.buf)))
    }

    fn for_each(&self, mut f: impl FnMut(&[u8], &[u8])) {
        let mut c = Cursor::default();
        while c.advance(&self.buf).is_some() {
            f(c.field.get(&self.buf), c.value.get(&self.buf));
        }
    }

    /// Calls `f` with pair `index` (which must exist).
    fn nth_with<R>(&self, index: usize, f: impl FnOnce(&[u8], &[u8]) -> R) -> R {
        let c = Cursor::skip(&self.buf, index + 1);
        f(c.field.get(&self.buf), c.value.get(&self.buf))
    }

    /// Replaces the value in place (keeping the field's position) or appends.
    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        // The walk that finds no `field` leaves the last pair in `c`.
        let mut c = Cursor::default();
        match self.find(field, Some(&mut c.field), Some(&mut c.value)) {
            Some(index) => {
                self.replace_value(index, value);
                false
            }
            None => {
                let mut patch = Patch::new();
                encode(&mut patch, c.field.get(&self.buf), field);
                encode(&mut patch, c.value.get(&self.buf), value);
                self.buf.reserve_exact(patch.len());
                self.buf.extend_from_slice(&patch);
                self.pairs += 1;
                true
            }
        }
    }

    /// Re-codes value `index` against the previous value, and the next value,
    /// which was coded against the old one, against the new one.
    fn replace_value(&mut self, index: usize, value: &[u8]) {
        let buf = &self.buf[..];
        let mut c = Cursor::skip(buf, index);
        let prev = Scratch::from_slice(c.value.get(buf));
        let (field, old) = c.advance(buf).expect("the pair was found");
        if c.value.get(buf) == value {
            return;
        }
        let mut patch = Patch::new();
        encode(&mut patch, &prev, value);
        let mut end = old.end;
        if let Some((next_field, next_value)) = c.advance(buf) {
            patch.extend_from_slice(&buf[end..next_field.end]);
            encode(&mut patch, value, c.value.get(buf));
            end = next_value.end;
        }
        splice_exact(&mut self.buf, field.end, end, &patch);
    }

    /// Removes the pair of `field`, re-coding the next pair against the one
    /// before the removed pair.
    fn remove(&mut self, field: &[u8]) -> bool {
        let Some(index) = self.find(field, None, None) else {
            return false;
        };
        let buf = &self.buf[..];
        let mut c = Cursor::skip(buf, index);
        let start = c.at;
        let prev_field = Scratch::from_slice(c.field.get(buf));
        let prev_value = Scratch::from_slice(c.value.get(buf));
        c.advance(buf);
        let mut patch = Patch::new();
        let end = match c.advance(buf) {
            Some((_, next_value)) => {
                encode(&mut patch, &prev_field, c.field.get(buf));
                encode(&mut patch, &prev_value, c.value.get(buf));
                next_value.end
            }
            None => buf.len(),
        };
        splice_exact(&mut self.buf, start, end, &patch);
        self.pairs -= 1;
        if self.pairs == 0 {
            self.buf = Vec::new();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: HashLimits = HashLimits {
        max_listpack_entries: 4,
        max_listpack_value: 8,
    };

    /// Roomy limits that keep every hash of these tests packed.
    const PACKED: HashLimits = HashLimits {
        max_listpack_entries: 10_000,
        max_listpack_value: 100_000,
    };

    type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

    fn pairs(h: &Hash) -> Pairs {
        let mut out = Vec::new();
        h.for_each(|k, v| out.push((k.to_vec(), v.to_vec())));
        out
    }

    fn get(h: &Hash, field: &[u8]) -> Option<Vec<u8>> {
        h.get_with(field, <[u8]>::to_vec)
    }

    fn packed_buf(h: &Hash) -> &[u8] {
        match &h.repr {
            Repr::Packed(p) => &p.buf,
            Repr::Table(_) => panic!("not packed"),
        }
    }

    /// The buffer appending `pairs` in order builds.
    fn canonical(pairs: &Pairs) -> Vec<u8> {
        let mut out = Patch::new();
        let (mut prev_field, mut prev_value): (&[u8], &[u8]) = (b"", b"");
        for (k, v) in pairs {
            encode(&mut out, prev_field, k);
            encode(&mut out, prev_value, v);
            (prev_field, prev_value) = (k, v);
        }
        out.to_vec()
    }

    #[test]
    fn headers_round_trip_and_match_their_length() {
        let lens = [
            0, 1, 2, 3, 4, 30, 31, 32, 127, 128, 300, 4095, 4096, 16383, 16384, 70_000,
        ];
        for prefix in [0, 1, 2, 15, 16, 17, 127, 128, 20_000] {
            for suffix in lens {
                let (head, len) = header(prefix, suffix);
                assert_eq!(len, header_len(prefix, suffix), "{prefix} {suffix}");
                let mut buf = head[..len].to_vec();
                buf.resize(len + suffix, b'x');
                let item = read_item(&buf, 0);
                assert_eq!(
                    (item.prefix, item.start, item.end),
                    (prefix, len, len + suffix)
                );
            }
        }
    }

    #[test]
    fn unshared_items_cost_what_a_leb128_length_did() {
        let leb128 = |len: usize| varint::len(len as u64);
        for len in [0, 1, 127, 128, 4095, 16384, (1 << 19) - 1] {
            assert_eq!(header_len(0, len), leb128(len), "{len}");
        }
        // One byte more only between 4096 and 16383 bytes and from 2^19.
        for len in [4096, 16383, 1 << 19] {
            assert_eq!(header_len(0, len), leb128(len) + 1, "{len}");
        }
    }

    #[test]
    fn shared_prefixes_shrink_the_buffer() {
        // benches/memory.py's `hashes` dataset: 10 pairs `field{f}` ->
        // `value{i}:{f}`.
        let mut h = Hash::default();
        for f in 0..10 {
            h.set(
                format!("field{f}").as_bytes(),
                format!("value123:{f}").as_bytes(),
                PACKED,
            );
        }
        // The first pair as before (7 + 11 bytes), then 2 + 2 per pair
        // instead of 7 + 11.
        assert_eq!(packed_buf(&h).len(), 18 + 9 * 4);
        assert_eq!(get(&h, b"field7").as_deref(), Some(&b"value123:7"[..]));
        // Nothing in common: stored as plain lengths and bytes.
        let mut plain = Hash::default();
        plain.set(b"abc", b"xyz", PACKED);
        plain.set(b"def", b"uvw", PACKED);
        assert_eq!(packed_buf(&plain), b"\x03abc\x03xyz\x03def\x03uvw");
        // One shared byte pays in the one-byte form, not in the longer one.
        let coded = |prev: &[u8], item: &[u8]| {
            let mut out = Patch::new();
            encode(&mut out, prev, item);
            out.to_vec()
        };
        assert_eq!(coded(b"def", b"dz"), b"\x81z");
        assert_eq!(coded(b"def", b"dzzzz"), b"\x05dzzzz");
        assert_eq!(coded(b"def", b"def"), b"\x88");
        assert_eq!(
            coded(b"user:1000:name", b"user:1000:email"),
            b"\xe5\x0aemail"
        );
    }

    #[test]
    fn packed_keeps_insertion_order_and_updates_in_place() {
        let mut h = Hash::default();
        assert!(h.set(b"a", b"1", LIMITS));
        assert!(h.set(b"b", b"2", LIMITS));
        assert!(!h.set(b"a", b"longer", LIMITS));
        assert_eq!(
            pairs(&h),
            vec![
                (b"a".to_vec(), b"longer".to_vec()),
                (b"b".to_vec(), b"2".to_vec())
            ]
        );
        assert_eq!(h.encoding(), "listpack");
        assert!(h.remove(b"a"));
        assert!(!h.remove(b"a"));
        assert_eq!(get(&h, b"b").as_deref(), Some(&b"2"[..]));
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn long_lengths_round_trip() {
        let big = vec![b'x'; 20_000];
        let mut bigger = big.clone();
        bigger.extend_from_slice(b"yz");
        let mut h = Hash::default();
        h.set(&big, b"v", PACKED);
        h.set(b"k", &big, PACKED);
        h.set(&bigger, &bigger, PACKED);
        assert_eq!(h.encoding(), "listpack");
        assert_eq!(get(&h, &big).as_deref(), Some(&b"v"[..]));
        assert_eq!(get(&h, b"k"), Some(big.clone()));
        assert_eq!(get(&h, &bigger), Some(bigger.clone()));
        // `bigger` shares 20,000 bytes with both predecessors.
        assert!(packed_buf(&h).len() < 3 * 20_000 + 100);
    }

    #[test]
    fn converts_past_thresholds_and_never_back() {
        let mut h = Hash::default();
        for i in 0..4 {
            h.set(format!("f{i}").as_bytes(), b"v", LIMITS);
        }
        assert_eq!(h.encoding(), "listpack");
        h.set(b"f4", b"v", LIMITS);
        assert_eq!(h.encoding(), "hashtable");
        let mut all = pairs(&h);
        all.sort();
        let want: Pairs = (0..5)
            .map(|i| (format!("f{i}").into_bytes(), b"v".to_vec()))
            .collect();
        assert_eq!(all, want);
        for i in 0..5 {
            h.remove(format!("f{i}").as_bytes());
        }
        h.set(b"x", b"y", LIMITS);
        assert_eq!(h.encoding(), "hashtable");

        let mut long = Hash::default();
        long.set(b"f", b"123456789", LIMITS);
        assert_eq!(long.encoding(), "hashtable");
        assert_eq!(get(&long, b"f").as_deref(), Some(&b"123456789"[..]));
    }

    #[test]
    fn clones_are_independent_in_both_encodings() {
        for entries in [4, 0] {
            let limits = HashLimits {
                max_listpack_entries: entries,
                ..LIMITS
            };
            let mut h = Hash::default();
            h.set(b"a", b"1", limits);
            let copy = h.clone();
            h.set(b"a", b"2", limits);
            h.set(b"b", b"3", limits);
            assert_eq!(get(&copy, b"a").as_deref(), Some(&b"1"[..]));
            assert_eq!(copy.len(), 1);
            assert_eq!(copy.encoding(), h.encoding());
        }
    }

    #[test]
    fn table_scan_visits_everything() {
        let mut h = Hash::default();
        for i in 0..100 {
            h.set(format!("f{i}").as_bytes(), b"v", LIMITS);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = h.scan(cursor, 10, |k, _| {
                seen.insert(k.to_vec());
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 100);
    }

    mod model {
        use super::*;
        use proptest::prelude::*;

        /// Items built from a few stems and short tails, so neighbours share
        /// prefixes of every length, share nothing, are empty, or are long
        /// (past 127 and 16383 bytes).
        fn item() -> impl Strategy<Value = Vec<u8>> {
            let stem = prop_oneof![
                4 => Just(Vec::new()),
                4 => Just(b"field".to_vec()),
                4 => Just(b"value12:".to_vec()),
                2 => Just(vec![b'a'; 20]),
                1 => Just(vec![b'b'; 130]),
                1 => Just(vec![b'c'; 16_390]),
            ];
            let tail = proptest::collection::vec(
                proptest::sample::select(b"ab01:\x80\xff".to_vec()),
                0..5,
            );
            (stem, tail).prop_map(|(mut s, t)| {
                s.extend(t);
                s
            })
        }

        #[derive(Debug, Clone)]
        enum Op {
            Set(Vec<u8>, Vec<u8>),
            /// Removes the field at this index of the model (mod its length).
            RemoveAt(usize),
            /// Sets the field at this index to a new value.
            UpdateAt(usize, Vec<u8>),
            Remove(Vec<u8>),
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                4 => (item(), item()).prop_map(|(f, v)| Op::Set(f, v)),
                2 => any::<usize>().prop_map(Op::RemoveAt),
                2 => (any::<usize>(), item()).prop_map(|(i, v)| Op::UpdateAt(i, v)),
                1 => item().prop_map(Op::Remove),
            ]
        }

        fn set(h: &mut Hash, model: &mut Pairs, f: Vec<u8>, v: Vec<u8>) {
            let at = model.iter().position(|(k, _)| *k == f);
            assert_eq!(h.set(&f, &v, PACKED), at.is_none());
            match at {
                Some(i) => model[i].1 = v,
                None => model.push((f, v)),
            }
        }

        fn remove(h: &mut Hash, model: &mut Pairs, f: &[u8]) {
            let at = model.iter().position(|(k, _)| k == f);
            assert_eq!(h.remove(f), at.is_some());
            if let Some(i) = at {
                model.remove(i);
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]
            #[test]
            fn packed_hash_behaves_like_an_ordered_map(
                ops in proptest::collection::vec(op(), 1..120),
                probe in item(),
            ) {
                let mut h = Hash::default();
                let mut model: Pairs = Vec::new();
                let mut rng = <rand::rngs::SmallRng as rand::SeedableRng>::seed_from_u64(7);
                for op in ops {
                    match op {
                        Op::Set(f, v) => set(&mut h, &mut model, f, v),
                        Op::UpdateAt(i, v) if !model.is_empty() => {
                            let f = model[i % model.len()].0.clone();
                            set(&mut h, &mut model, f, v);
                        }
                        Op::RemoveAt(i) if !model.is_empty() => {
                            let f = model[i % model.len()].0.clone();
                            remove(&mut h, &mut model, &f);
                        }
                        Op::Remove(f) => remove(&mut h, &mut model, &f),
                        Op::UpdateAt(..) | Op::RemoveAt(_) => {}
                    }
                    prop_assert_eq!(h.len(), model.len());
                    prop_assert_eq!(&pairs(&h), &model);
                    // Edits leave exactly what appending the pairs builds.
                    prop_assert_eq!(packed_buf(&h), &canonical(&model)[..]);
                    for (k, v) in &model {
                        prop_assert_eq!(get(&h, k), Some(v.clone()));
                        prop_assert!(h.contains(k));
                    }
                    let want = model.iter().find(|(k, _)| *k == probe).map(|(_, v)| v.clone());
                    prop_assert_eq!(get(&h, &probe), want);
                    let picked = h.random_with(&mut rng, |k, v| (k.to_vec(), v.to_vec()));
                    prop_assert_eq!(picked.is_some(), !model.is_empty());
                    if let Some(pair) = picked {
                        prop_assert!(model.contains(&pair));
                    }
                }
                // Converting keeps every pair.
                let mut table = h.clone();
                table.convert_to_table();
                let (mut got, mut want) = (pairs(&table), model.clone());
                got.sort();
                want.sort();
                prop_assert_eq!(got, want);
            }
        }
    }
}
