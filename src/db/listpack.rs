//! A listpack: items laid end to end in one byte buffer, as Redis packs small
//! hashes and sorted sets. An item is a byte string or a number (a sorted-set
//! score); each costs its bytes plus a one-byte header when short, and
//! integral scores take one to a few bytes instead of eight.
//!
//! Access is sequential (small aggregates only: Redis's thresholds keep them
//! at 128 entries by default), so callers walk items with [`Listpack::item`]
//! and splice at byte offsets.
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
//! - `0xE2` + 4-byte length: a longer byte string.

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
/// Largest magnitude stored as an integer: every such f64 is exact.
const MAX_EXACT: f64 = 9007199254740992.0;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Listpack {
    data: Vec<u8>,
}

impl Listpack {
    pub fn byte_len(&self) -> usize {
        self.data.len()
    }

    pub fn heap_size(&self) -> usize {
        self.data.capacity()
    }

    /// The item at byte offset `at` and the offset of the next item.
    #[inline]
    pub fn item(&self, at: usize) -> (Item<'_>, usize) {
        let data = &self.data;
        let header = data[at];
        match header {
            0x00..=0x7F => {
                let end = at + 1 + header as usize;
                (Item::Bytes(&data[at + 1..end]), end)
            }
            0x80..=0xBF => {
                let len = ((header as usize & 0x3F) << 8) | data[at + 1] as usize;
                let end = at + 2 + len;
                (Item::Bytes(&data[at + 2..end]), end)
            }
            0xC0..=0xDF => (Item::Number((header & 0x1F) as f64), at + 1),
            INT_TAG => {
                let (value, pos) = read_zigzag(data, at + 1);
                (Item::Number(value as f64), pos)
            }
            0xE4 | 0xE5 => {
                let (value, pos) = read_zigzag(data, at + 1);
                let scale = DECIMALS[(header - DECIMALS[0].0) as usize].1;
                (Item::Number(value as f64 / scale), pos)
            }
            F64_TAG => {
                let bytes: [u8; 8] = data[at + 1..at + 9].try_into().expect("8 bytes");
                (Item::Number(f64::from_le_bytes(bytes)), at + 9)
            }
            F32_TAG => {
                let bytes: [u8; 4] = data[at + 1..at + 5].try_into().expect("4 bytes");
                (Item::Number(f32::from_le_bytes(bytes) as f64), at + 5)
            }
            LONG_TAG => {
                let len_bytes: [u8; 4] = data[at + 1..at + 5].try_into().expect("4 bytes");
                let end = at + 5 + u32::from_le_bytes(len_bytes) as usize;
                (Item::Bytes(&data[at + 5..end]), end)
            }
            _ => unreachable!("invalid listpack header {header:#x}"),
        }
    }

    /// Offset just past the item at `at`.
    #[inline]
    pub fn skip(&self, at: usize) -> usize {
        self.item(at).1
    }

    /// Inserts the encoded `items` at byte offset `at`, growing the buffer by
    /// exactly what they take, as Redis's listpack does: these buffers are
    /// many and each stays small, so the copy a `realloc` may make is cheap,
    /// while 1/8 of spare room cost 10% of a 100-member sorted set.
    pub fn insert(&mut self, at: usize, items: &[Item<'_>]) {
        let mut encoded = Vec::new();
        for item in items {
            encode(&mut encoded, *item);
        }
        self.data.reserve_exact(encoded.len());
        self.data.splice(at..at, encoded);
    }

    /// Appends items at the end.
    pub fn push(&mut self, items: &[Item<'_>]) {
        self.insert(self.data.len(), items);
    }

    /// Removes the bytes `from..to` (whole items).
    pub fn remove(&mut self, from: usize, to: usize) {
        self.data.drain(from..to);
        if self.data.capacity() > 2 * self.data.len() + 64 {
            self.data.shrink_to(self.data.len() + self.data.len() / 8);
        }
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

fn write_zigzag(out: &mut Vec<u8>, value: i64) {
    let mut raw = ((value << 1) ^ (value >> 63)) as u64;
    while raw >= 0x80 {
        out.push((raw as u8) | 0x80);
        raw >>= 7;
    }
    out.push(raw as u8);
}

/// The zigzag LEB128 integer at `at`, and the offset past it.
fn read_zigzag(data: &[u8], at: usize) -> (i64, usize) {
    let (mut raw, mut shift, mut pos) = (0u64, 0, at);
    loop {
        let byte = data[pos];
        pos += 1;
        raw |= ((byte & 0x7F) as u64) << shift;
        if byte & 0x80 == 0 {
            return (((raw >> 1) as i64) ^ -((raw & 1) as i64), pos);
        }
        shift += 7;
    }
}

fn encode(out: &mut Vec<u8>, item: Item<'_>) {
    match item {
        Item::Bytes(b) if b.len() < 0x80 => {
            out.push(b.len() as u8);
            out.extend_from_slice(b);
        }
        Item::Bytes(b) if b.len() < 0x4000 => {
            out.push(0x80 | (b.len() >> 8) as u8);
            out.push(b.len() as u8);
            out.extend_from_slice(b);
        }
        Item::Bytes(b) => {
            out.push(LONG_TAG);
            out.extend_from_slice(&(b.len() as u32).to_le_bytes());
            out.extend_from_slice(b);
        }
        // -0.0 is stored as 0, as a Redis listpack stores integral scores.
        Item::Number(n) if n.fract() == 0.0 && n.abs() < MAX_EXACT => {
            let value = n as i64;
            if (0..32).contains(&value) {
                out.push(0xC0 | value as u8);
                return;
            }
            out.push(INT_TAG);
            write_zigzag(out, value);
        }
        Item::Number(n) => {
            if let Some((tag, m)) = decimal(n) {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn item_strategy() -> impl Strategy<Value = (Vec<u8>, f64, bool)> {
        (
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..200),
                proptest::collection::vec(any::<u8>(), 16380..16390),
            ],
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
            ],
            any::<bool>(),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn items_read_back_as_written(items in proptest::collection::vec(item_strategy(), 0..40)) {
            let mut lp = Listpack::default();
            for (bytes, number, front) in &items {
                let pair = [Item::Bytes(bytes), Item::Number(*number)];
                if *front { lp.insert(0, &pair) } else { lp.push(&pair) }
            }
            let mut expected: std::collections::VecDeque<(Vec<u8>, f64)> = Default::default();
            for (bytes, number, front) in items {
                let number = if number == 0.0 { 0.0 } else { number };
                if front { expected.push_front((bytes, number)) } else { expected.push_back((bytes, number)) }
            }
            let mut at = 0;
            for (bytes, number) in expected {
                let (b, next) = lp.item(at);
                let (n, next) = lp.item(next);
                prop_assert_eq!(b.bytes(), &bytes[..]);
                prop_assert_eq!(n.number().to_bits(), number.to_bits());
                at = next;
            }
            prop_assert_eq!(at, lp.byte_len());
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
        assert_eq!(lp.item(15).0, Item::Number(0.1));
        assert_eq!(lp.item(17).0, Item::Number(19.99));
        lp.push(&[Item::Number(0.125), Item::Number(0.001)]);
        assert_eq!(lp.byte_len(), 20 + 5 + 9);
        lp.remove(10, 12);
        assert_eq!(lp.item(10).0, Item::Number(-300.0));
    }
}
