//! The `set` value type, in Redis 7.0's two encodings:
//!
//! - `intset`: a sorted array of integers stored at the smallest width (16,
//!   32 or 64 bits) that holds every member, widened when a larger member
//!   arrives and never narrowed. Used while every member is the canonical
//!   text of an `i64` and the set has at most `set-max-intset-entries`
//!   members; iteration is in ascending order, as in Redis.
//! - `hashtable`: a [`Dict`] of members. A set never converts back.
//!
//! Members are bytes at the API; integers are formatted only when a reply
//! needs them.

use std::fmt;

use rand::RngExt;

use super::bytes::Bytes24;
use super::dict::{Dict, hash_key};
use crate::protocol::parse::parse_i64;

/// A set value.
pub struct Set {
    repr: Repr,
}

enum Repr {
    Ints(IntSet),
    /// Members, plus the heap bytes they own beyond the table (kept up to
    /// date so `heap_size` stays O(1)).
    Table {
        dict: Dict<()>,
        member_heap: usize,
    },
}

/// One member, borrowed from a set: integers of an intset stay integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Member<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl<'a> Member<'a> {
    /// The member's bytes; integers are formatted into `scratch`.
    pub fn bytes<'b>(&'b self, scratch: &'b mut itoa::Buffer) -> &'b [u8] {
        match *self {
            Member::Int(n) => scratch.format(n).as_bytes(),
            Member::Bytes(b) => b,
        }
    }

    pub fn to_bytes24(self) -> Bytes24 {
        Bytes24::new(self.bytes(&mut itoa::Buffer::new()))
    }
}

impl Default for Set {
    fn default() -> Self {
        Set::new_intset()
    }
}

impl Clone for Set {
    fn clone(&self) -> Self {
        let repr = match &self.repr {
            Repr::Ints(ints) => Repr::Ints(ints.clone()),
            Repr::Table { dict, member_heap } => {
                let mut copy = Dict::new();
                for (k, _) in dict.iter() {
                    copy.insert(hash_key(k), k.clone(), ());
                }
                Repr::Table {
                    dict: copy,
                    member_heap: *member_heap,
                }
            }
        };
        Set { repr }
    }
}

impl fmt::Debug for Set {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut scratch = itoa::Buffer::new();
        let mut list = f.debug_set();
        for m in self.iter() {
            list.entry(&String::from_utf8_lossy(m.bytes(&mut scratch)));
        }
        list.finish()
    }
}

impl Set {
    /// An empty set in the intset encoding (where every set starts that is
    /// built member by member: the *STORE results).
    pub fn new_intset() -> Self {
        Set {
            repr: Repr::Ints(IntSet::W16(Vec::new())),
        }
    }

    /// An empty set in the encoding Redis picks for a first member: intset
    /// when it is an integer, else hashtable.
    pub fn for_first_member(member: &[u8]) -> Self {
        if parse_i64(member).is_some() {
            Set::new_intset()
        } else {
            Set::new_table()
        }
    }

    /// An empty set in this set's encoding.
    pub fn empty_like(&self) -> Self {
        match self.repr {
            Repr::Ints(_) => Set::new_intset(),
            Repr::Table { .. } => Set::new_table(),
        }
    }

    fn new_table() -> Self {
        Set {
            repr: Repr::Table {
                dict: Dict::new(),
                member_heap: 0,
            },
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Ints(ints) => ints.len(),
            Repr::Table { dict, .. } => dict.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING prints.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Ints(_) => "intset",
            Repr::Table { .. } => "hashtable",
        }
    }

    /// Heap bytes owned by the value.
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Ints(ints) => ints.heap_size(),
            Repr::Table { dict, member_heap } => dict.table_size() + member_heap,
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match &self.repr {
            Repr::Ints(ints) => parse_i64(member).is_some_and(|n| ints.contains(n)),
            Repr::Table { dict, .. } => dict.get(hash_key(member), member).is_some(),
        }
    }

    /// Membership of a member taken from another set, without formatting
    /// integers when both sides are intsets.
    pub fn contains_member(&self, member: Member<'_>) -> bool {
        match (member, &self.repr) {
            (Member::Int(n), Repr::Ints(ints)) => ints.contains(n),
            (m, _) => self.contains(m.bytes(&mut itoa::Buffer::new())),
        }
    }

    /// Adds a member; false when it was already there. `max_intset` is
    /// `set-max-intset-entries`: an intset that would grow past it, or that
    /// receives a non-integer, becomes a hashtable.
    pub fn insert(&mut self, member: &[u8], max_intset: usize) -> bool {
        if let Repr::Ints(ints) = &mut self.repr {
            match parse_i64(member) {
                Some(n) => {
                    if !ints.insert(n) {
                        return false;
                    }
                    if ints.len() > max_intset {
                        self.convert_to_table();
                    }
                    return true;
                }
                None => self.convert_to_table(),
            }
        }
        let Repr::Table { dict, member_heap } = &mut self.repr else {
            unreachable!("converted above")
        };
        let hash = hash_key(member);
        if dict.get(hash, member).is_some() {
            return false;
        }
        let key = Bytes24::new(member);
        *member_heap += key.heap_size();
        dict.insert(hash, key, ());
        true
    }

    /// Adds a member taken from another set (see [`Set::insert`]).
    pub fn insert_member(&mut self, member: Member<'_>, max_intset: usize) -> bool {
        match (member, &mut self.repr) {
            (Member::Int(n), Repr::Ints(ints)) => {
                let added = ints.insert(n);
                if added && ints.len() > max_intset {
                    self.convert_to_table();
                }
                added
            }
            (m, _) => self.insert(m.bytes(&mut itoa::Buffer::new()), max_intset),
        }
    }

    /// Removes a member; false when it was not there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Ints(ints) => parse_i64(member).is_some_and(|n| ints.remove(n)),
            Repr::Table { dict, member_heap } => match dict.remove(hash_key(member), member) {
                Some((key, ())) => {
                    *member_heap -= key.heap_size();
                    true
                }
                None => false,
            },
        }
    }

    /// Every member: ascending for an intset, table order for a hashtable.
    pub fn iter(&self) -> impl Iterator<Item = Member<'_>> + '_ {
        let (ints, table) = match &self.repr {
            Repr::Ints(ints) => (Some(ints.iter()), None),
            Repr::Table { dict, .. } => (None, Some(dict.iter())),
        };
        ints.into_iter()
            .flatten()
            .map(Member::Int)
            .chain(table.into_iter().flatten().map(|(k, _)| Member::Bytes(k)))
    }

    /// A uniformly chosen member, or None when the set is empty.
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<Member<'_>> {
        match &self.repr {
            Repr::Ints(ints) if ints.len() > 0 => {
                Some(Member::Int(ints.get(rng.random_range(0..ints.len()))))
            }
            Repr::Ints(_) => None,
            Repr::Table { dict, .. } => dict.random(rng).map(|(k, _)| Member::Bytes(k)),
        }
    }

    /// Removes and returns a uniformly chosen member.
    pub fn pop_random(&mut self, rng: &mut impl rand::Rng) -> Option<Bytes24> {
        let member = self.random(rng)?.to_bytes24();
        self.remove(&member);
        Some(member)
    }

    /// One SSCAN step from `cursor`, reporting members to `f`; returns the
    /// next cursor. An intset is small by construction and is reported whole
    /// with cursor 0, as Redis does. A hashtable is walked bucket by bucket
    /// until about `count` members were seen (at most `count * 10` steps).
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(Member<'_>)) -> u64 {
        match &self.repr {
            Repr::Ints(ints) => {
                ints.iter().for_each(|n| f(Member::Int(n)));
                0
            }
            Repr::Table { dict, .. } => {
                let mut cursor = cursor;
                let mut steps_left = count.saturating_mul(10);
                let mut seen = 0;
                loop {
                    cursor = dict.scan(cursor, |k, _| {
                        seen += 1;
                        f(Member::Bytes(k));
                    });
                    steps_left -= 1;
                    if cursor == 0 || steps_left == 0 || seen >= count {
                        return cursor;
                    }
                }
            }
        }
    }

    fn convert_to_table(&mut self) {
        let Repr::Ints(ints) = &self.repr else { return };
        let mut dict = Dict::new();
        let mut scratch = itoa::Buffer::new();
        for n in ints.iter() {
            let text = scratch.format(n).as_bytes();
            // Formatted i64s are at most 20 bytes: always inline.
            dict.insert(hash_key(text), Bytes24::new(text), ());
        }
        self.repr = Repr::Table {
            dict,
            member_heap: 0,
        };
    }
}

/// Sorted integers at one width for all; the width grows to fit the widest
/// member.
#[derive(Clone, Debug)]
enum IntSet {
    W16(Vec<i16>),
    W32(Vec<i32>),
    W64(Vec<i64>),
}

/// Runs `$body` with `$v` bound to the inner vector, whatever its width.
macro_rules! each_width {
    ($set:expr, $v:ident => $body:expr) => {
        match $set {
            IntSet::W16($v) => $body,
            IntSet::W32($v) => $body,
            IntSet::W64($v) => $body,
        }
    };
}

// The same code serves every width, so for the 64-bit one some conversions
// are to the same type.
#[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
impl IntSet {
    fn len(&self) -> usize {
        each_width!(self, v => v.len())
    }

    fn heap_size(&self) -> usize {
        match self {
            IntSet::W16(v) => v.capacity() * 2,
            IntSet::W32(v) => v.capacity() * 4,
            IntSet::W64(v) => v.capacity() * 8,
        }
    }

    fn get(&self, i: usize) -> i64 {
        each_width!(self, v => v[i] as i64)
    }

    fn contains(&self, n: i64) -> bool {
        each_width!(self, v => match n.try_into() {
            Ok(x) => v.binary_search(&x).is_ok(),
            Err(_) => false, // wider than every member
        })
    }

    fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    fn insert(&mut self, n: i64) -> bool {
        if !self.fits(n) {
            self.widen_for(n);
        }
        each_width!(self, v => {
            let x = n.try_into().expect("widened to fit");
            match v.binary_search(&x) {
                Ok(_) => false,
                Err(at) => {
                    // Exact-size growth, as Redis's intset: compactness is
                    // the point, and an intset is small.
                    v.reserve_exact(1);
                    v.insert(at, x);
                    true
                }
            }
        })
    }

    fn remove(&mut self, n: i64) -> bool {
        each_width!(self, v => {
            let at = match n.try_into() {
                Ok(x) => v.binary_search(&x).ok(),
                Err(_) => None, // wider than every member
            };
            let found = at.map(|at| v.remove(at)).is_some();
            if found {
                v.shrink_to_fit();
            }
            found
        })
    }

    fn fits(&self, n: i64) -> bool {
        match self {
            IntSet::W16(_) => i16::try_from(n).is_ok(),
            IntSet::W32(_) => i32::try_from(n).is_ok(),
            IntSet::W64(_) => true,
        }
    }

    /// Re-encodes every member at the smallest width that also holds `n`.
    fn widen_for(&mut self, n: i64) {
        let all: Vec<i64> = self.iter().collect();
        *self = if i32::try_from(n).is_ok() {
            IntSet::W32(all.into_iter().map(|x| x as i32).collect())
        } else {
            IntSet::W64(all)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(set: &Set) -> Vec<String> {
        let mut scratch = itoa::Buffer::new();
        set.iter()
            .map(|m| String::from_utf8_lossy(m.bytes(&mut scratch)).into_owned())
            .collect()
    }

    #[test]
    fn intset_sorted_and_widens() {
        let mut s = Set::new_intset();
        for m in ["5", "-3", "100", "5"] {
            s.insert(m.as_bytes(), 512);
        }
        assert_eq!(members(&s), ["-3", "5", "100"]);
        assert_eq!(s.encoding(), "intset");
        assert!(matches!(&s.repr, Repr::Ints(IntSet::W16(_))));
        s.insert(b"70000", 512);
        assert!(matches!(&s.repr, Repr::Ints(IntSet::W32(_))));
        s.insert(b"-9223372036854775808", 512);
        assert!(matches!(&s.repr, Repr::Ints(IntSet::W64(_))));
        assert_eq!(
            members(&s),
            ["-9223372036854775808", "-3", "5", "100", "70000"]
        );
        assert!(s.contains(b"70000") && !s.contains(b"070000") && !s.contains(b"x"));
        assert!(s.remove(b"70000") && !s.remove(b"70000"));
        // Never narrowed back, as in Redis.
        assert!(matches!(&s.repr, Repr::Ints(IntSet::W64(_))));
        assert!(!s.contains_member(Member::Int(i64::MAX)));
    }

    #[test]
    fn converts_on_non_integer_or_size() {
        let mut s = Set::new_intset();
        assert!(s.insert(b"1", 2) && s.insert(b"2", 2));
        assert_eq!(s.encoding(), "intset");
        assert!(s.insert(b"3", 2));
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"1") && s.contains(b"3"));
        let mut t = Set::for_first_member(b"1");
        t.insert(b"+1", 512);
        assert_eq!(t.encoding(), "hashtable");
        assert_eq!(t.len(), 1);
        assert_eq!(Set::for_first_member(b"01").encoding(), "hashtable");
    }

    #[test]
    fn table_heap_tracks_long_members() {
        let mut s = Set::for_first_member(b"x");
        let long = [b'a'; 100];
        s.insert(&long, 512);
        let with_long = s.heap_size();
        assert!(s.remove(&long));
        assert!(with_long - s.heap_size() >= 100);
        let copy = s.clone();
        assert_eq!(members(&copy), members(&s));
    }

    /// Heap bytes per member of each encoding, 512 members (the default
    /// intset limit). Run with `--nocapture` to see the numbers.
    #[test]
    fn bytes_per_member() {
        let build = |first: i64, step: i64, max: usize| {
            let mut s = Set::new_intset();
            for i in 0..512 {
                s.insert((first + i * step).to_string().as_bytes(), max);
            }
            s
        };
        let per_member = |s: &Set| s.heap_size() as f64 / s.len() as f64;
        let small = build(0, 1, 512);
        let medium = build(0, 100_000, 512);
        let large = build(0, 1 << 40, 512);
        let table = build(0, 1, 0);
        println!(
            "bytes/member: intset16 {:.1}, intset32 {:.1}, intset64 {:.1}, hashtable {:.1}",
            per_member(&small),
            per_member(&medium),
            per_member(&large),
            per_member(&table),
        );
        assert_eq!(per_member(&small), 2.0);
        assert_eq!(per_member(&medium), 4.0);
        assert_eq!(per_member(&large), 8.0);
        assert!(per_member(&table) > 24.0, "a table entry holds a Bytes24");
    }

    #[test]
    fn pop_random_drains() {
        let mut rng = rand::rng();
        for first in ["1", "a"] {
            let mut s = Set::for_first_member(first.as_bytes());
            for i in 0..50 {
                s.insert(i.to_string().as_bytes(), 512);
            }
            let mut seen = std::collections::HashSet::new();
            while let Some(m) = s.pop_random(&mut rng) {
                assert!(seen.insert(m.to_vec()));
            }
            assert_eq!(seen.len(), 50);
        }
    }

    #[test]
    fn table_scan_covers_everything() {
        let mut s = Set::for_first_member(b"a");
        for i in 0..300 {
            s.insert(format!("m{i}").as_bytes(), 512);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = s.scan(cursor, 10, |m| {
                seen.insert(m.to_bytes24().to_vec());
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 300);
    }
}
