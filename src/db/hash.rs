//! The `hash` value type, in Redis's two encodings:
//!
//! - `listpack`: every field and value packed into one byte buffer, each as a
//!   LEB128 length followed by its bytes, pairs in insertion order. Lookups
//!   scan, which is cheap while the hash is small; it costs 2 to 4 bytes of
//!   overhead per pair instead of a table slot and two string headers.
//! - `hashtable`: a [`Dict`] from field to value, once the hash holds more than
//!   `hash-max-listpack-entries` pairs or any field or value longer than
//!   `hash-max-listpack-value` bytes. Like Redis, a hash never converts back.

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
        f.debug_map()
            .entries(
                self.iter()
                    .map(|(k, v)| (String::from_utf8_lossy(k), String::from_utf8_lossy(v))),
            )
            .finish()
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

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            Repr::Packed(p) => p.find(field).map(|at| p.value_at(at)),
            Repr::Table(t) => t.get(hash_key(field), field).map(|v| v.as_slice()),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
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

    /// Every pair: insertion order when packed, table order otherwise.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let (packed, table) = match &self.repr {
            Repr::Packed(p) => (Some(p.iter()), None),
            Repr::Table(t) => (
                None,
                Some(t.iter().map(|(k, v)| (k.as_slice(), v.as_slice()))),
            ),
        };
        packed
            .into_iter()
            .flatten()
            .chain(table.into_iter().flatten())
    }

    /// One step of HSCAN: visits pairs from `cursor` until about `count` were
    /// seen and returns the next cursor (0 = done). A packed hash is visited
    /// whole in one step, as Redis does.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], &[u8])) -> u64 {
        match &self.repr {
            Repr::Packed(p) => {
                p.iter().for_each(|(k, v)| f(k, v));
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

    /// A uniformly chosen pair, or None when empty.
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<(&[u8], &[u8])> {
        use rand::RngExt;
        match &self.repr {
            Repr::Packed(p) => {
                if p.pairs == 0 {
                    return None;
                }
                p.iter().nth(rng.random_range(0..p.pairs))
            }
            Repr::Table(t) => t.random(rng).map(|(k, v)| (k.as_slice(), v.as_slice())),
        }
    }

    /// True while the packed form is used (listpack order is insertion order).
    pub fn is_packed(&self) -> bool {
        matches!(self.repr, Repr::Packed(_))
    }

    fn convert_to_table(&mut self) {
        if let Repr::Packed(p) = &self.repr {
            let mut table = Dict::new();
            for (k, v) in p.iter() {
                table.insert(hash_key(k), Bytes24::new(k), Bytes24::new(v));
            }
            self.repr = Repr::Table(Box::new(table));
        }
    }
}

/// The packed form: `len field len value ...` with LEB128 lengths.
#[derive(Clone, Default)]
struct Packed {
    buf: Vec<u8>,
    pairs: usize,
}

/// Reads the length-prefixed string at `at`: (start of bytes, end of bytes).
fn read_string(buf: &[u8], at: usize) -> (usize, usize) {
    let (mut len, mut shift, mut i) = (0usize, 0, at);
    loop {
        let b = buf[i];
        len |= ((b & 0x7f) as usize) << shift;
        i += 1;
        if b & 0x80 == 0 {
            return (i, i + len);
        }
        shift += 7;
    }
}

/// Bytes `write_string` takes for a string of `len` bytes. A packed hash
/// grows by exactly that, as Redis's listpack does: it is about compactness
/// (1/8 of slack cost 30 bytes on a hash of ten short pairs) and it is small,
/// so the copy a `realloc` may make is cheap.
fn encoded_len(len: usize) -> usize {
    len + (usize::BITS - (len | 1).leading_zeros()).div_ceil(7) as usize
}

fn write_string(out: &mut Vec<u8>, data: &[u8]) {
    let mut len = data.len();
    while len >= 0x80 {
        out.push((len as u8 & 0x7f) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    out.extend_from_slice(data);
}

impl Packed {
    /// Offsets of each pair: (field start, field end, value start, value end,
    /// pair end), with `field start` after the length prefix.
    fn pairs(&self) -> impl Iterator<Item = (usize, [usize; 4])> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            if at >= self.buf.len() {
                return None;
            }
            let pair_start = at;
            let (fs, fe) = read_string(&self.buf, at);
            let (vs, ve) = read_string(&self.buf, fe);
            at = ve;
            Some((pair_start, [fs, fe, vs, ve]))
        })
    }

    fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.pairs()
            .map(|(_, [fs, fe, vs, ve])| (&self.buf[fs..fe], &self.buf[vs..ve]))
    }

    /// Where the pair of `field` starts, and its offsets.
    fn find(&self, field: &[u8]) -> Option<(usize, [usize; 4])> {
        self.pairs()
            .find(|(_, [fs, fe, _, _])| &self.buf[*fs..*fe] == field)
    }

    fn value_at(&self, (_, [_, _, vs, ve]): (usize, [usize; 4])) -> &[u8] {
        &self.buf[vs..ve]
    }

    /// Replaces the value in place (keeping the field's position) or appends.
    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        match self.find(field) {
            Some((_, [_, fe, _, ve])) => {
                let mut encoded = Vec::with_capacity(value.len() + 4);
                write_string(&mut encoded, value);
                self.buf.splice(fe..ve, encoded);
                false
            }
            None => {
                self.buf
                    .reserve_exact(encoded_len(field.len()) + encoded_len(value.len()));
                write_string(&mut self.buf, field);
                write_string(&mut self.buf, value);
                self.pairs += 1;
                true
            }
        }
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        match self.find(field) {
            Some((start, [_, _, _, end])) => {
                self.buf.drain(start..end);
                self.pairs -= 1;
                if self.pairs == 0 {
                    self.buf = Vec::new();
                }
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: HashLimits = HashLimits {
        max_listpack_entries: 4,
        max_listpack_value: 8,
    };

    #[test]
    fn encoded_len_matches_write_string() {
        for len in [0, 1, 127, 128, 300, 16383, 16384, 70000] {
            let mut out = Vec::new();
            write_string(&mut out, &vec![b'x'; len]);
            assert_eq!(encoded_len(len), out.len(), "{len}");
        }
    }

    #[test]
    fn packed_keeps_insertion_order_and_updates_in_place() {
        let mut h = Hash::default();
        assert!(h.set(b"a", b"1", LIMITS));
        assert!(h.set(b"b", b"2", LIMITS));
        assert!(!h.set(b"a", b"longer", LIMITS));
        let pairs: Vec<_> = h.iter().collect();
        assert_eq!(pairs, vec![(&b"a"[..], &b"longer"[..]), (b"b", b"2")]);
        assert_eq!(h.encoding(), "listpack");
        assert!(h.remove(b"a"));
        assert!(!h.remove(b"a"));
        assert_eq!(h.get(b"b"), Some(&b"2"[..]));
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn long_lengths_round_trip() {
        let big = vec![b'x'; 20_000];
        let mut h = Hash::default();
        let limits = HashLimits {
            max_listpack_entries: 10,
            max_listpack_value: 100_000,
        };
        h.set(&big, b"v", limits);
        h.set(b"k", &big, limits);
        assert_eq!(h.encoding(), "listpack");
        assert_eq!(h.get(&big), Some(&b"v"[..]));
        assert_eq!(h.get(b"k").map(|v| v.len()), Some(20_000));
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
        for i in 0..5 {
            h.remove(format!("f{i}").as_bytes());
        }
        h.set(b"x", b"y", LIMITS);
        assert_eq!(h.encoding(), "hashtable");

        let mut long = Hash::default();
        long.set(b"f", b"123456789", LIMITS);
        assert_eq!(long.encoding(), "hashtable");
        assert_eq!(long.get(b"f"), Some(&b"123456789"[..]));
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
            assert_eq!(copy.get(b"a"), Some(&b"1"[..]));
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
}
