//! A listpack: items laid end to end in one byte buffer, as Redis packs small
//! hashes and sorted sets. An item is a byte string or a number (a sorted-set
//! score); each costs its bytes plus a one-byte header when short, and
//! integral scores take one to a few bytes instead of eight.
//!
//! Byte strings are front coded: one may be stored as "the previous byte
//! string (the previous member, in a sorted set) minus its last `d` bytes,
//! then these `s` bytes". Members in score or lexical order share long
//! prefixes (`member:17`, `member:18`), so such an item costs one header byte
//! plus its differing tail. The first byte string never shares; numbers
//! between byte strings are skipped over, so in a sorted set each member
//! refers to the member before it.
//!
//! Access is sequential (small aggregates only: Redis's thresholds keep them
//! at 128 entries by default), which front coding needs anyway: an item's
//! value depends on every shared item before it. Readers walk with a
//! [`Cursor`], which rebuilds shared strings in a small inline scratch
//! buffer and lends them out (no allocation per item, none at all up to 64
//! bytes); writers [`Listpack::splice`] at byte offsets, which re-encodes the
//! one byte string after the edit against its new predecessor.
//!
//! Header byte:
//! - `0xxxxxxx`: a byte string of length 0..=127 follows;
//! - `10xxxxxx yyyyyyyy`: a byte string of length `x << 8 | y` (< 16384);
//! - `110xxxxx`: the small integer `x` (0..=31) as a number;
//! - `0xE0` + LEB128 zigzag: an integral number (|n| < 2^53);
//! - `0xE3` + 4 bytes: a number an `f32` holds exactly (1.5, 0.25...);
//! - `0xE4` / `0xE5` + LEB128 zigzag `m`: the number `m / 10` / `m / 100`
//!   (a score such as 1.5 or 19.99), when that division gives it exactly;
//! - `0xE1` + 8 bytes: any other number, as an `f64`;
//! - `0xE2` + 4-byte length: a longer byte string;
//! - `0xE7 + 5 * d + (s - 1)` (up to `0xFF`), `d` in 0..=4, `s` in 1..=5:
//!   a shared byte string, `s` suffix bytes follow;
//! - `0xE6` + LEB128 `d` + LEB128 `s` + `s` bytes: any other shared string.
//!
//! The shared forms only use header values that were free, so an item that
//! shares nothing is encoded exactly as before and costs nothing extra. A
//! string is stored shared only when that is strictly shorter (the one-byte
//! form always is when anything is shared). The one-byte form's range is
//! symmetric because `d` and `s` are alike in sorted data: a counter's or a
//! fixed-width ID's changed digits (`d == s`), or a lexical successor (`d`
//! often 0); 25 free header values give `d <= 4` and `s <= 5`. Number
//! encodings are unchanged.

use smallvec::SmallVec;

use crate::util::varint;

/// One item.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Item<'a> {
    Bytes(&'a [u8]),
    Number(f64),
}

impl<'a> Item<'a> {
    pub fn bytes(self) -> &'a [u8] {
        match self {
            Item::Bytes(b) => b,
            Item::Number(_) => panic!("listpack item is a number, not bytes"),
        }
    }

    pub fn number(self) -> f64 {
        match self {
            Item::Number(n) => n,
            Item::Bytes(_) => panic!("listpack item is bytes, not a number"),
        }
    }
}

const INT_TAG: u8 = 0xE0;
const F64_TAG: u8 = 0xE1;
const LONG_TAG: u8 = 0xE2;
const F32_TAG: u8 = 0xE3;
/// The decimal encodings: tag and the power of ten the integer is over.
const DECIMALS: [(u8, f64); 2] = [(0xE4, 10.0), (0xE5, 100.0)];
/// A shared string with LEB128 `d` and `s`.
const SHARED_TAG: u8 = 0xE6;
/// First header of the one-byte shared form: `SHORT + 5 * d + (s - 1)`.
const SHORT: u8 = 0xE7;
const SHORT_MAX_DROP: usize = 4;
const SHORT_MAX_SUFFIX: usize = 5;
/// Largest magnitude stored as an integer: every such f64 is exact.
const MAX_EXACT: f64 = 9007199254740992.0;

/// A byte string being rebuilt: inline up to the default
/// zset-max-listpack-value, so walking a packed set never allocates.
type Scratch = SmallVec<[u8; 64]>;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Listpack {
    data: Vec<u8>,
}

/// A forward walk over a [`Listpack`]'s items.
pub struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
    /// Where the last byte string read is: stored whole at `data[a..b]`
    /// (borrowed, not copied), or rebuilt in `scratch` when `None`.
    plain: Option<(usize, usize)>,
    scratch: Scratch,
}

impl<'a> Cursor<'a> {
    /// Byte offset of the next item (the buffer's length at the end).
    #[inline]
    pub fn at(&self) -> usize {
        self.at
    }

    /// The last byte string read (empty before the first).
    #[inline]
    pub fn last_bytes(&self) -> &[u8] {
        match self.plain {
            Some((a, b)) => &self.data[a..b],
            None => &self.scratch,
        }
    }

    /// The next item, or `None` at the end.
    #[inline]
    pub fn next_item(&mut self) -> Option<Item<'_>> {
        let data = self.data;
        let at = self.at;
        let header = *data.get(at)?;
        let (start, len) = match header {
            0x00..=0x7F => (at + 1, header as usize),
            0x80..=0xBF => (
                at + 2,
                ((header as usize & 0x3F) << 8) | data[at + 1] as usize,
            ),
            LONG_TAG => {
                let len_bytes: [u8; 4] = data[at + 1..at + 5].try_into().expect("4 bytes");
                (at + 5, u32::from_le_bytes(len_bytes) as usize)
            }
            SHARED_TAG => {
                let mut pos = at + 1;
                let drop = varint::read(data, &mut pos);
                let suffix = varint::read(data, &mut pos);
                return Some(Item::Bytes(self.shared(
                    drop as usize,
                    pos,
                    suffix as usize,
                )));
            }
            SHORT..=0xFF => {
                let v = (header - SHORT) as usize;
                return Some(Item::Bytes(self.shared(v / 5, at + 1, v % 5 + 1)));
            }
            _ => {
                let (n, next) = read_number(data, at);
                self.at = next;
                return Some(Item::Number(n));
            }
        };
        self.at = start + len;
        self.plain = Some((start, start + len));
        Some(Item::Bytes(&data[start..start + len]))
    }

    /// Rebuilds a shared string: the last one minus `drop` bytes, then the
    /// `len` bytes at `start`.
    #[inline]
    fn shared(&mut self, drop: usize, start: usize, len: usize) -> &[u8] {
        let suffix = &self.data[start..start + len];
        match self.plain.take() {
            Some((a, b)) => {
                self.scratch.clear();
                self.scratch.extend_from_slice(&self.data[a..b - drop]);
            }
            None => {
                let keep = self.scratch.len() - drop;
                self.scratch.truncate(keep);
            }
        }
        self.scratch.extend_from_slice(suffix);
        self.at = start + len;
        &self.scratch
    }
}

impl Listpack {
    pub fn byte_len(&self) -> usize {
        self.data.len()
    }

    pub fn heap_size(&self) -> usize {
        self.data.capacity()
    }

    /// A walk from the first item.
    pub fn cursor(&self) -> Cursor<'_> {
        Cursor {
            data: &self.data,
            at: 0,
            plain: Some((0, 0)),
            scratch: Scratch::new(),
        }
    }

    /// Replaces the items at bytes `from..to` (whole items) with `items`.
    /// The first byte string after `to` is re-encoded against the last one
    /// before it now (it may have shared a prefix with a removed item, or
    /// share more with an inserted one).
    ///
    /// The buffer grows by exactly what the edit adds, as Redis's listpack
    /// does: these buffers are many and each stays small, so the copy a
    /// `realloc` may make is cheap, while 1/8 of spare room cost 10% of a
    /// 100-member sorted set.
    pub fn splice(&mut self, from: usize, to: usize, items: &[Item<'_>]) {
        let mut cursor = self.cursor();
        while cursor.at < from {
            cursor.next_item();
        }
        assert_eq!(cursor.at, from, "listpack splice inside an item");
        let mut prev = Scratch::from_slice(cursor.last_bytes());
        while cursor.at < to {
            cursor.next_item();
        }
        assert_eq!(cursor.at, to, "listpack splice inside an item");
        let mut encoded: SmallVec<[u8; 128]> = SmallVec::new();
        for item in items {
            match *item {
                Item::Bytes(b) => {
                    encode_bytes(&mut encoded, &prev, b);
                    prev.clear();
                    prev.extend_from_slice(b);
                }
                Item::Number(n) => encode_number(&mut encoded, n),
            }
        }
        // Numbers up to the next byte string are kept as they are.
        let mut end = to;
        loop {
            let start = cursor.at;
            match cursor.next_item() {
                None => break,
                Some(Item::Number(_)) => continue,
                Some(Item::Bytes(next)) => {
                    encoded.extend_from_slice(&self.data[to..start]);
                    encode_bytes(&mut encoded, &prev, next);
                    end = cursor.at;
                    break;
                }
            }
        }
        self.replace(from, end, &encoded);
    }

    /// Inserts the encoded `items` at byte offset `at`.
    pub fn insert(&mut self, at: usize, items: &[Item<'_>]) {
        self.splice(at, at, items);
    }

    /// Appends items at the end.
    pub fn push(&mut self, items: &[Item<'_>]) {
        self.splice(self.data.len(), self.data.len(), items);
    }

    /// Removes the bytes `from..to` (whole items).
    pub fn remove(&mut self, from: usize, to: usize) {
        self.splice(from, to, &[]);
    }

    /// Overwrites bytes `from..to` with `bytes`, moving the tail.
    fn replace(&mut self, from: usize, to: usize, bytes: &[u8]) {
        let len = self.data.len();
        let (removed, added) = (to - from, bytes.len());
        if added > removed {
            let grow = added - removed;
            self.data.reserve_exact(grow);
            self.data.resize(len + grow, 0);
            self.data.copy_within(to..len, to + grow);
        } else if added < removed {
            self.data.copy_within(to..len, from + added);
            self.data.truncate(len - (removed - added));
            if self.data.capacity() > 2 * self.data.len() + 64 {
                self.data.shrink_to(self.data.len() + self.data.len() / 8);
            }
        }
        self.data[from..from + added].copy_from_slice(bytes);
    }
}

/// The number at `at` (whose header is a number's) and the offset past it.
#[inline]
fn read_number(data: &[u8], at: usize) -> (f64, usize) {
    let header = data[at];
    match header {
        0xC0..=0xDF => ((header & 0x1F) as f64, at + 1),
        INT_TAG => {
            let (value, pos) = read_zigzag(data, at + 1);
            (value as f64, pos)
        }
        0xE4 | 0xE5 => {
            let (value, pos) = read_zigzag(data, at + 1);
            let scale = DECIMALS[(header - DECIMALS[0].0) as usize].1;
            (value as f64 / scale, pos)
        }
        F64_TAG => {
            let bytes: [u8; 8] = data[at + 1..at + 9].try_into().expect("8 bytes");
            (f64::from_le_bytes(bytes), at + 9)
        }
        F32_TAG => {
            let bytes: [u8; 4] = data[at + 1..at + 5].try_into().expect("4 bytes");
            (f32::from_le_bytes(bytes) as f64, at + 5)
        }
        _ => unreachable!("invalid listpack header {header:#x}"),
    }
}

/// The tag and integer `m` when `n` is exactly the double nearest
/// `m / 10` or `m / 100`, which is what parsing a score with one or two
/// decimals (`1.5`, `19.99`) gives: it is then stored as that integer, in
/// two or three bytes instead of five or nine, and decoded by the same
/// division, bit for bit.
fn decimal(n: f64) -> Option<(u8, i64)> {
    DECIMALS.iter().find_map(|&(tag, scale)| {
        let scaled = (n * scale).round();
        (scaled.abs() < MAX_EXACT && scaled / scale == n).then_some((tag, scaled as i64))
    })
}

fn write_zigzag(out: &mut SmallVec<[u8; 128]>, value: i64) {
    varint::put(out, ((value << 1) ^ (value >> 63)) as u64);
}

#[inline]
fn read_zigzag(data: &[u8], at: usize) -> (i64, usize) {
    let mut pos = at;
    let raw = varint::read(data, &mut pos);
    (((raw >> 1) as i64) ^ -((raw & 1) as i64), pos)
}

/// Header bytes of `len` bytes stored whole.
fn plain_header(len: usize) -> usize {
    match len {
        0..0x80 => 1,
        0x80..0x4000 => 2,
        _ => 5,
    }
}

/// Encodes `b`, sharing a prefix with `prev` (the byte string before it)
/// when that is shorter.
fn encode_bytes(out: &mut SmallVec<[u8; 128]>, prev: &[u8], b: &[u8]) {
    let common = prev.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (drop, suffix) = (prev.len() - common, &b[common..]);
    if common > 0 {
        if drop <= SHORT_MAX_DROP && (1..=SHORT_MAX_SUFFIX).contains(&suffix.len()) {
            out.push(SHORT + (5 * drop + suffix.len() - 1) as u8);
            out.extend_from_slice(suffix);
            return;
        }
        let shared = 1 + varint::len(drop as u64) + varint::len(suffix.len() as u64) + suffix.len();
        if shared < plain_header(b.len()) + b.len() {
            out.push(SHARED_TAG);
            varint::put(out, drop as u64);
            varint::put(out, suffix.len() as u64);
            out.extend_from_slice(suffix);
            return;
        }
    }
    match b.len() {
        0..0x80 => out.push(b.len() as u8),
        0x80..0x4000 => {
            out.push(0x80 | (b.len() >> 8) as u8);
            out.push(b.len() as u8);
        }
        _ => {
            out.push(LONG_TAG);
            out.extend_from_slice(&(b.len() as u32).to_le_bytes());
        }
    }
    out.extend_from_slice(b);
}

fn encode_number(out: &mut SmallVec<[u8; 128]>, n: f64) {
    // -0.0 is stored as 0, as a Redis listpack stores integral scores.
    if n.fract() == 0.0 && n.abs() < MAX_EXACT {
        let value = n as i64;
        if (0..32).contains(&value) {
            out.push(0xC0 | value as u8);
        } else {
            out.push(INT_TAG);
            write_zigzag(out, value);
        }
    } else if let Some((tag, m)) = decimal(n) {
        out.push(tag);
        write_zigzag(out, m);
    } else if (n as f32) as f64 == n {
        out.push(F32_TAG);
        out.extend_from_slice(&(n as f32).to_le_bytes());
    } else {
        out.push(F64_TAG);
        out.extend_from_slice(&n.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug, PartialEq)]
    enum Owned {
        Bytes(Vec<u8>),
        Number(f64),
    }

    impl Owned {
        fn item(&self) -> Item<'_> {
            match self {
                Owned::Bytes(b) => Item::Bytes(b),
                Owned::Number(n) => Item::Number(*n),
            }
        }
    }

    fn decode(lp: &Listpack) -> (Vec<Owned>, Vec<usize>) {
        let (mut items, mut offsets) = (Vec::new(), Vec::new());
        let mut c = lp.cursor();
        loop {
            offsets.push(c.at());
            match c.next_item() {
                None => break,
                Some(Item::Bytes(b)) => items.push(Owned::Bytes(b.to_vec())),
                Some(Item::Number(n)) => items.push(Owned::Number(n)),
            }
        }
        (items, offsets)
    }

    fn bytes_strategy() -> impl Strategy<Value = Vec<u8>> {
        // Few distinct bytes and common stems, so neighbours share prefixes.
        let stem = prop_oneof![
            Just(b"".to_vec()),
            Just(b"member:".to_vec()),
            Just(b"member:1".to_vec()),
            Just(vec![b'x'; 130]),
            Just(vec![b'y'; 16390]),
        ];
        let tail = prop_oneof![
            proptest::collection::vec(b'0'..b'3', 0..8),
            proptest::collection::vec(any::<u8>(), 0..200),
            proptest::collection::vec(b'a'..b'c', 16380..16390),
        ];
        (stem, tail).prop_map(|(mut s, t)| {
            s.extend(t);
            s
        })
    }

    fn number_strategy() -> impl Strategy<Value = f64> {
        prop_oneof![
            (-40i64..40).prop_map(|n| n as f64),
            any::<i64>().prop_map(|n| n as f64),
            any::<i32>().prop_map(|m| m as f64 / 10.0),
            any::<i64>().prop_map(|m| m as f64 / 100.0),
            any::<i32>().prop_map(|m| m as f64 / 1000.0),
            any::<f64>().prop_filter("no NaN", |f| !f.is_nan()),
            Just(f64::INFINITY),
            Just(-0.0),
            Just(MAX_EXACT),
        ]
    }

    fn owned_strategy() -> impl Strategy<Value = Owned> {
        prop_oneof![
            3 => bytes_strategy().prop_map(Owned::Bytes),
            1 => number_strategy().prop_map(Owned::Number),
        ]
    }

    #[derive(Clone, Debug)]
    enum Op {
        /// Inserts before the item at this fraction of the length.
        Insert(f64, Vec<Owned>),
        /// Removes `n` items from this fraction of the length.
        Remove(f64, usize),
        Push(Vec<Owned>),
    }

    fn op_strategy() -> impl Strategy<Value = Op> {
        let at = prop_oneof![Just(0.0), Just(1.0), 0.0..1.0];
        let items = || proptest::collection::vec(owned_strategy(), 0..4);
        prop_oneof![
            (at.clone(), items()).prop_map(|(a, i)| Op::Insert(a, i)),
            (at, 0usize..4).prop_map(|(a, n)| Op::Remove(a, n)),
            items().prop_map(Op::Push),
        ]
    }

    fn normalized(o: Owned) -> Owned {
        match o {
            Owned::Number(n) if n == 0.0 => Owned::Number(0.0),
            o => o,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        /// Edits anywhere read back as a Vec model, and leave the buffer
        /// byte for byte as if the model's items had been pushed at once
        /// (the item after an edit is re-encoded as a fresh encoder would).
        #[test]
        fn edits_match_a_vec_model(ops in proptest::collection::vec(op_strategy(), 1..24)) {
            let mut lp = Listpack::default();
            let mut model: Vec<Owned> = Vec::new();
            for op in ops {
                let offsets = decode(&lp).1;
                let index = |f: f64| ((model.len() as f64 * f) as usize).min(model.len());
                match op {
                    Op::Insert(f, items) => {
                        let i = index(f);
                        let encoded: Vec<Item> = items.iter().map(Owned::item).collect();
                        lp.insert(offsets[i], &encoded);
                        model.splice(i..i, items.into_iter().map(normalized));
                    }
                    Op::Remove(f, n) => {
                        let i = index(f);
                        let j = (i + n).min(model.len());
                        lp.remove(offsets[i], offsets[j]);
                        model.drain(i..j);
                    }
                    Op::Push(items) => {
                        let encoded: Vec<Item> = items.iter().map(Owned::item).collect();
                        lp.push(&encoded);
                        model.extend(items.into_iter().map(normalized));
                    }
                }
                let (got, offsets) = decode(&lp);
                prop_assert_eq!(*offsets.last().unwrap(), lp.byte_len());
                prop_assert_eq!(got.len(), model.len());
                for (g, m) in got.iter().zip(&model) {
                    match (g, m) {
                        (Owned::Number(a), Owned::Number(b)) => prop_assert_eq!(a.to_bits(), b.to_bits()),
                        _ => prop_assert_eq!(g, m),
                    }
                }
                let mut fresh = Listpack::default();
                fresh.push(&model.iter().map(Owned::item).collect::<Vec<_>>());
                prop_assert!(fresh.data == lp.data, "edited buffer differs from a fresh encoding");
            }
        }

        /// A byte string that shares nothing with its predecessor costs what
        /// it did before front coding: its bytes plus a 1, 2 or 5 byte header;
        /// a shared one never costs more.
        #[test]
        fn sharing_never_costs_more(prev in bytes_strategy(), b in bytes_strategy()) {
            let mut lp = Listpack::default();
            lp.push(&[Item::Bytes(&prev)]);
            let before = lp.byte_len();
            lp.push(&[Item::Bytes(&b)]);
            let cost = lp.byte_len() - before;
            let plain = plain_header(b.len()) + b.len();
            if prev.first().is_none() || prev.first() != b.first() {
                prop_assert_eq!(cost, plain);
            } else {
                prop_assert!(cost <= plain);
            }
        }
    }

    #[test]
    fn small_items_cost_one_header_byte() {
        let mut lp = Listpack::default();
        lp.push(&[Item::Bytes(b"member:1"), Item::Number(7.0)]);
        assert_eq!(lp.byte_len(), 1 + 8 + 1);
        lp.push(&[Item::Number(1.5), Item::Number(-300.0)]);
        assert_eq!(lp.byte_len(), 10 + 2 + 3);
        // One or two decimals: a tag and the scaled integer.
        lp.push(&[Item::Number(0.1), Item::Number(19.99)]);
        assert_eq!(lp.byte_len(), 15 + 2 + 3);
        lp.push(&[Item::Number(0.125), Item::Number(0.001)]);
        assert_eq!(lp.byte_len(), 20 + 5 + 9);
        lp.remove(10, 12);
        let (items, _) = decode(&lp);
        assert_eq!(items[1..4], [7.0, -300.0, 0.1].map(Owned::Number));
        assert_eq!(items[4], Owned::Number(19.99));
    }

    #[test]
    fn shared_members_cost_a_header_and_their_tail() {
        let mut lp = Listpack::default();
        lp.push(&[Item::Bytes(b"member:9"), Item::Number(1.0)]);
        assert_eq!(lp.byte_len(), 10);
        // Drops "9", adds "10": one header byte, two suffix bytes.
        lp.push(&[Item::Bytes(b"member:10"), Item::Number(2.0)]);
        assert_eq!(lp.byte_len(), 10 + 3 + 1);
        // Lexical successor: drops nothing.
        lp.push(&[Item::Bytes(b"member:100")]);
        assert_eq!(lp.byte_len(), 14 + 2);
        // Drop 5 is past the one-byte form: tag, d, s, suffix.
        lp.push(&[Item::Bytes(b"membe:")]);
        assert_eq!(lp.byte_len(), 16 + 1 + 1 + 1 + 1);
        // Nothing shared: stored whole.
        lp.push(&[Item::Bytes(b"other")]);
        assert_eq!(lp.byte_len(), 20 + 6);
        let strings: Vec<Owned> = ["member:9", "member:10", "member:100", "membe:", "other"]
            .iter()
            .map(|s| Owned::Bytes(s.as_bytes().to_vec()))
            .collect();
        let (items, offsets) = decode(&lp);
        let read: Vec<Owned> = items
            .into_iter()
            .filter(|i| matches!(i, Owned::Bytes(_)))
            .collect();
        assert_eq!(read, strings);
        // Removing the first member stores the next one whole again.
        lp.remove(0, offsets[2]);
        assert_eq!(lp.byte_len(), 26 - 10 - 3 + 10);
        assert_eq!(decode(&lp).0[0], Owned::Bytes(b"member:10".to_vec()));
    }
}
