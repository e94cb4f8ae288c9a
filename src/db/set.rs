//! The `set` value type. Redis 7.0 has two encodings, which `OBJECT
//! ENCODING` names; a set here takes one of three forms:
//!
//! - `intset`: a sorted array of integers stored at the smallest width (16,
//!   32 or 64 bits) that holds every member, widened when a larger member
//!   arrives and never narrowed. Used while every member is the canonical
//!   text of an `i64` and the set has at most `set-max-intset-entries`
//!   members; iteration is in ascending order, as in Redis.
//! - packed: at most [`MAX_PACKED_MEMBERS`] members of at most
//!   [`MAX_PACKED_MEMBER_LEN`] bytes in one [`Listpack`], in insertion
//!   order, each front coded against the member before it. A lookup walks
//!   the buffer, which is cheap at this size; a member costs a header byte
//!   plus the bytes it does not share with its predecessor, where a table
//!   entry costs 24 bytes plus index slots (100K sets of `member:0..9`:
//!   ~650 B/key of RSS as tables, ~190 packed). Redis 7.2 added this as
//!   its `listpack` set encoding; Redis 7.0, which we follow, has neither
//!   the encoding nor its `set-max-listpack-*` directives. So the limits
//!   are constants, and a packed set is a `hashtable` to every observer:
//!   `OBJECT ENCODING`, the RDB type written, its unspecified member order.
//! - `hashtable`: a [`Dict`] of members.
//!
//! A set leaving the intset becomes packed when the packed limits allow,
//! else a table; a packed set past either limit becomes a table. No set
//! converts back, as in Redis.
//!
//! Members are bytes at the API; integers are formatted only when a reply
//! needs them. A packed member is rebuilt by a listpack cursor (in an inline
//! buffer: members are at most 64 bytes), so members are lent to callbacks
//! ([`Set::for_each`], [`Set::random_with`]) rather than by an iterator, and
//! reading allocates nothing. Random access, which the random pickers need,
//! goes through [`Set::indexed`], which copies a packed set once into one
//! buffer.

use std::fmt;

use rand::RngExt;

use super::bytes::Bytes24;
use super::dict::{Dict, hash_key};
use super::listpack::{Item, Listpack};
use crate::protocol::parse::parse_i64;
use crate::util::flat::FlatStrings;

/// Most members of a packed set: Redis 7.2's default
/// `set-max-listpack-entries`. A constant because Redis 7.0 has no such
/// directive (and `CONFIG SET` must refuse it); past this a lookup's walk
/// would cost more than a table probe.
pub const MAX_PACKED_MEMBERS: usize = 128;

/// Longest member of a packed set: Redis 7.2's default
/// `set-max-listpack-value`, a constant for the same reason. It is also the
/// listpack cursor's inline buffer, so a walk never allocates.
pub const MAX_PACKED_MEMBER_LEN: usize = 64;

/// A set value.
pub struct Set {
    repr: Repr,
}

enum Repr {
    Ints(IntSet),
    Packed(Packed),
    /// Boxed so that a `Set` is 40 bytes (a 48-byte block, not 80, for
    /// each of the many small sets).
    Table(Box<Table>),
}

/// Members, plus the heap bytes they own beyond the table (kept up to date
/// so `heap_size` stays O(1)).
struct Table {
    dict: Dict<()>,
    member_heap: usize,
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
            Repr::Packed(p) => Repr::Packed(p.clone()),
            Repr::Table(t) => {
                let mut dict = Dict::new();
                for (k, _) in t.dict.iter() {
                    dict.insert(hash_key(k), k.clone(), ());
                }
                Repr::Table(Box::new(Table {
                    dict,
                    member_heap: t.member_heap,
                }))
            }
        };
        Set { repr }
    }
}

impl fmt::Debug for Set {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut scratch = itoa::Buffer::new();
        let mut list = f.debug_set();
        self.for_each(|m| {
            list.entry(&String::from_utf8_lossy(m.bytes(&mut scratch)));
        });
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

    /// An empty set in the form Redis's choice of encoding for a first
    /// member maps to: intset when it is an integer, else packed (a
    /// hashtable in Redis 7.0) when it fits, else a table.
    pub fn for_first_member(member: &[u8]) -> Self {
        if parse_i64(member).is_some() {
            Set::new_intset()
        } else if member.len() <= MAX_PACKED_MEMBER_LEN {
            Set::new_packed()
        } else {
            Set::new_table()
        }
    }

    /// An empty set in this set's form.
    pub fn empty_like(&self) -> Self {
        match self.repr {
            Repr::Ints(_) => Set::new_intset(),
            Repr::Packed(_) => Set::new_packed(),
            Repr::Table(_) => Set::new_table(),
        }
    }

    fn new_packed() -> Self {
        Set {
            repr: Repr::Packed(Packed::default()),
        }
    }

    fn new_table() -> Self {
        Set {
            repr: Repr::Table(Box::new(Table {
                dict: Dict::new(),
                member_heap: 0,
            })),
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Ints(ints) => ints.len(),
            Repr::Packed(p) => p.len,
            Repr::Table(t) => t.dict.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING prints: Redis 7.0's, so a packed set is a
    /// `hashtable` (7.0 has no listpack sets).
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Ints(_) => "intset",
            Repr::Packed(_) | Repr::Table(_) => "hashtable",
        }
    }

    /// True while the set is packed (which `encoding` does not tell).
    pub fn is_packed(&self) -> bool {
        matches!(self.repr, Repr::Packed(_))
    }

    /// Heap bytes owned by the value.
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Ints(ints) => ints.heap_size(),
            Repr::Packed(p) => p.lp.heap_size(),
            Repr::Table(t) => std::mem::size_of::<Table>() + t.dict.table_size() + t.member_heap,
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match &self.repr {
            Repr::Ints(ints) => parse_i64(member).is_some_and(|n| ints.contains(n)),
            Repr::Packed(p) => p.find(member).is_some(),
            Repr::Table(t) => t.dict.get(hash_key(member), member).is_some(),
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
    /// receives a non-integer, converts (see the module doc).
    pub fn insert(&mut self, member: &[u8], max_intset: usize) -> bool {
        if let Repr::Ints(ints) = &mut self.repr {
            match parse_i64(member) {
                Some(n) => {
                    if !ints.insert(n) {
                        return false;
                    }
                    if ints.len() > max_intset {
                        self.leave_intset(None);
                    }
                    return true;
                }
                None => self.leave_intset(Some(member)),
            }
        }
        if let Repr::Packed(p) = &mut self.repr {
            if p.find(member).is_some() {
                return false;
            }
            if p.len < MAX_PACKED_MEMBERS && member.len() <= MAX_PACKED_MEMBER_LEN {
                p.push(&[member]);
                return true;
            }
            self.convert_packed_to_table();
        }
        let Repr::Table(t) = &mut self.repr else {
            unreachable!("converted above")
        };
        let Table { dict, member_heap } = &mut **t;
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
                    self.leave_intset(None);
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
            Repr::Packed(p) => match p.find(member) {
                Some((from, to)) => {
                    p.remove(from, to);
                    true
                }
                None => false,
            },
            Repr::Table(t) => match t.dict.remove(hash_key(member), member) {
                Some((key, ())) => {
                    t.member_heap -= key.heap_size();
                    true
                }
                None => false,
            },
        }
    }

    /// Calls `f` with every member: ascending for an intset, insertion order
    /// for a packed set, table order for a table.
    pub fn for_each(&self, mut f: impl FnMut(Member<'_>)) {
        self.for_each_while(|m| {
            f(m);
            true
        });
    }

    /// [`Set::for_each`] until `f` returns false.
    pub fn for_each_while(&self, mut f: impl FnMut(Member<'_>) -> bool) {
        match &self.repr {
            Repr::Ints(ints) => {
                for n in ints.iter() {
                    if !f(Member::Int(n)) {
                        return;
                    }
                }
            }
            Repr::Packed(p) => p.for_each_while(|b| f(Member::Bytes(b))),
            Repr::Table(t) => {
                for (k, _) in t.dict.iter() {
                    if !f(Member::Bytes(k)) {
                        return;
                    }
                }
            }
        }
    }

    /// Calls `f` with a uniformly chosen member; None when the set is empty.
    pub fn random_with<R>(
        &self,
        rng: &mut impl rand::Rng,
        f: impl FnOnce(Member<'_>) -> R,
    ) -> Option<R> {
        if self.is_empty() {
            return None;
        }
        let i = rng.random_range(0..self.len());
        Some(match &self.repr {
            Repr::Ints(ints) => f(Member::Int(ints.get(i))),
            Repr::Packed(p) => p.nth_with(i, |b, _| f(Member::Bytes(b))),
            // Table entries are dense: position `i` is a member.
            Repr::Table(t) => f(Member::Bytes(t.dict.at(i).0)),
        })
    }

    /// Removes and returns a uniformly chosen member.
    pub fn pop_random(&mut self, rng: &mut impl rand::Rng) -> Option<Bytes24> {
        if let Repr::Packed(p) = &mut self.repr {
            if p.len == 0 {
                return None;
            }
            let i = rng.random_range(0..p.len);
            let (member, (from, to)) = p.nth_with(i, |b, range| (Bytes24::new(b), range));
            p.remove(from, to);
            return Some(member);
        }
        let member = self.random_with(rng, |m| m.to_bytes24())?;
        self.remove(&member);
        Some(member)
    }

    /// The members by position, for picking many at random: an intset or a
    /// table is read in place, a packed set is copied once.
    pub fn indexed(&self) -> Indexed<'_> {
        Indexed(match &self.repr {
            Repr::Ints(ints) => IndexedRepr::Ints(ints),
            Repr::Packed(p) => {
                let mut flat = FlatStrings::with_capacity(p.len);
                p.for_each_while(|b| {
                    flat.push(b);
                    true
                });
                IndexedRepr::Flat(flat)
            }
            Repr::Table(t) => IndexedRepr::Table(&t.dict),
        })
    }

    /// One SSCAN step from `cursor`, reporting members to `f`; returns the
    /// next cursor. An intset or packed set is small by construction and is
    /// reported whole with cursor 0, as Redis does for its small encodings.
    /// A table is walked bucket by bucket until about `count` members were
    /// seen (at most `count * 10` steps).
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(Member<'_>)) -> u64 {
        match &self.repr {
            Repr::Ints(_) | Repr::Packed(_) => {
                self.for_each(f);
                0
            }
            Repr::Table(t) => {
                let dict = &t.dict;
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

    /// Converts an intset that grew past `set-max-intset-entries` or is
    /// about to receive the non-integer `incoming`: packed when every member
    /// and `incoming` fit, else a table.
    fn leave_intset(&mut self, incoming: Option<&[u8]>) {
        let Repr::Ints(ints) = &self.repr else { return };
        let fits = ints.len() + incoming.is_some() as usize <= MAX_PACKED_MEMBERS
            && incoming.is_none_or(|m| m.len() <= MAX_PACKED_MEMBER_LEN);
        // Formatted i64s are at most 20 bytes: inline in a Bytes24.
        let texts: Vec<Bytes24> = ints
            .iter()
            .map(|n| Bytes24::new(itoa::Buffer::new().format(n).as_bytes()))
            .collect();
        if fits {
            let mut p = Packed::default();
            p.push(&texts.iter().map(|t| t.as_slice()).collect::<Vec<_>>());
            self.repr = Repr::Packed(p);
        } else {
            let mut dict = Dict::new();
            for text in texts {
                dict.insert(hash_key(&text), text, ());
            }
            self.repr = Repr::Table(Box::new(Table {
                dict,
                member_heap: 0,
            }));
        }
    }

    fn convert_packed_to_table(&mut self) {
        let Repr::Packed(p) = &self.repr else { return };
        let mut dict = Dict::new();
        let mut member_heap = 0;
        p.for_each_while(|m| {
            let key = Bytes24::new(m);
            member_heap += key.heap_size();
            dict.insert(hash_key(m), key, ());
            true
        });
        self.repr = Repr::Table(Box::new(Table { dict, member_heap }));
    }
}

/// A packed set: its members, one byte-string item each, and their count.
#[derive(Clone, Default)]
struct Packed {
    lp: Listpack,
    len: usize,
}

impl Packed {
    /// The byte range of `member`'s item, when present.
    fn find(&self, member: &[u8]) -> Option<(usize, usize)> {
        let mut cursor = self.lp.cursor();
        loop {
            let from = cursor.at();
            if cursor.next_item()?.bytes() == member {
                return Some((from, cursor.at()));
            }
        }
    }

    fn for_each_while(&self, mut f: impl FnMut(&[u8]) -> bool) {
        let mut cursor = self.lp.cursor();
        while let Some(item) = cursor.next_item() {
            if !f(item.bytes()) {
                return;
            }
        }
    }

    /// Calls `f` with member `i` (below `len`) and its item's byte range.
    fn nth_with<R>(&self, i: usize, f: impl FnOnce(&[u8], (usize, usize)) -> R) -> R {
        let mut cursor = self.lp.cursor();
        for _ in 0..i {
            cursor.next_item();
        }
        let from = cursor.at();
        cursor.next_item().expect("index below len");
        let to = cursor.at();
        f(cursor.last_bytes(), (from, to))
    }

    /// Appends members (which are not present).
    fn push(&mut self, members: &[&[u8]]) {
        let items: smallvec::SmallVec<[Item<'_>; 1]> =
            members.iter().map(|m| Item::Bytes(m)).collect();
        self.lp.push(&items);
        self.len += members.len();
    }

    /// Removes the member whose item is at `from..to`.
    fn remove(&mut self, from: usize, to: usize) {
        self.lp.remove(from, to);
        self.len -= 1;
    }
}

/// A set's members by position (see [`Set::indexed`]).
pub struct Indexed<'a>(IndexedRepr<'a>);

enum IndexedRepr<'a> {
    Ints(&'a IntSet),
    /// A packed set's members, copied.
    Flat(FlatStrings),
    Table(&'a Dict<()>),
}

impl Indexed<'_> {
    pub fn len(&self) -> usize {
        match &self.0 {
            IndexedRepr::Ints(ints) => ints.len(),
            IndexedRepr::Flat(flat) => flat.len(),
            IndexedRepr::Table(dict) => dict.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Member `i`, below `len`.
    pub fn get(&self, i: usize) -> Member<'_> {
        match &self.0 {
            IndexedRepr::Ints(ints) => Member::Int(ints.get(i)),
            IndexedRepr::Flat(flat) => Member::Bytes(flat.get(i)),
            IndexedRepr::Table(dict) => Member::Bytes(dict.at(i).0),
        }
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
    use std::collections::BTreeSet;

    fn members(set: &Set) -> Vec<String> {
        let mut scratch = itoa::Buffer::new();
        let mut out = Vec::new();
        set.for_each(|m| out.push(String::from_utf8_lossy(m.bytes(&mut scratch)).into_owned()));
        out
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

    /// Every member a whole SCAN iteration reports, `count` at a time.
    fn scan_all(s: &Set, count: usize) -> BTreeSet<Vec<u8>> {
        let mut seen = BTreeSet::new();
        let mut cursor = 0;
        loop {
            cursor = s.scan(cursor, count, |m| {
                seen.insert(m.to_bytes24().to_vec());
            });
            if cursor == 0 {
                return seen;
            }
        }
    }

    #[test]
    fn table_scan_covers_everything() {
        let mut s = Set::for_first_member(b"a");
        for i in 0..300 {
            s.insert(format!("m{i}").as_bytes(), 512);
        }
        assert_eq!(scan_all(&s, 10).len(), 300);
    }

    /// The form of a set, ranked in the only direction conversions go.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
    enum Form {
        Ints,
        Packed,
        Table,
    }

    fn form(s: &Set) -> Form {
        match s.repr {
            Repr::Ints(_) => Form::Ints,
            Repr::Packed(_) => Form::Packed,
            Repr::Table(_) => Form::Table,
        }
    }

    fn filled(first: &[u8], members: impl IntoIterator<Item = Vec<u8>>, max: usize) -> Set {
        let mut s = Set::for_first_member(first);
        s.insert(first, max);
        for m in members {
            s.insert(&m, max);
        }
        s
    }

    #[test]
    fn a_set_is_forty_bytes() {
        assert_eq!(std::mem::size_of::<Set>(), 40);
    }

    #[test]
    fn strings_are_packed_in_insertion_order_but_print_hashtable() {
        let mut s = Set::for_first_member(b"b");
        for m in ["b", "a", "", "10", "b", "member:1", "member:2"] {
            s.insert(m.as_bytes(), 512);
        }
        assert_eq!(form(&s), Form::Packed);
        assert_eq!(s.encoding(), "hashtable", "Redis 7.0 has no listpack sets");
        assert_eq!(members(&s), ["b", "a", "", "10", "member:1", "member:2"]);
        assert!(s.contains(b"") && s.contains(b"10") && !s.contains(b"member:"));
        assert!(s.contains_member(Member::Int(10)) && !s.contains_member(Member::Int(1)));
        assert!(s.remove(b"member:1") && !s.remove(b"member:1"));
        // The member after a removed one is read back whole.
        assert_eq!(members(&s), ["b", "a", "", "10", "member:2"]);
        assert!(s.remove(b"b") && s.remove(b"") && s.remove(b"a"));
        assert_eq!(members(&s), ["10", "member:2"]);
        assert_eq!(s.len(), 2);
        assert_eq!(members(&s.clone()), members(&s));
        assert_eq!(form(&s.empty_like()), Form::Packed);
        let mut all = Vec::new();
        assert_eq!(s.scan(77, 1, |m| all.push(m.to_bytes24().to_vec())), 0);
        assert_eq!(all, [b"10".to_vec(), b"member:2".to_vec()]);
    }

    #[test]
    fn packed_converts_at_its_limits_and_never_back() {
        let numbered = |n: usize| (0..n).map(|i| format!("m{i}").into_bytes());
        // 128 members stay packed; the 129th makes a table.
        let mut s = filled(b"m0", numbered(MAX_PACKED_MEMBERS), 512);
        assert_eq!((form(&s), s.len()), (Form::Packed, MAX_PACKED_MEMBERS));
        assert!(!s.insert(b"m127", 512), "a duplicate is no 129th member");
        assert_eq!(form(&s), Form::Packed);
        assert!(s.insert(b"m128", 512));
        assert_eq!((form(&s), s.len()), (Form::Table, MAX_PACKED_MEMBERS + 1));
        assert_eq!(members(&s).len(), MAX_PACKED_MEMBERS + 1);
        for i in 0..MAX_PACKED_MEMBERS {
            assert!(s.remove(format!("m{i}").as_bytes()));
        }
        assert_eq!(
            (form(&s), members(&s)),
            (Form::Table, vec!["m128".to_string()])
        );

        // 64 bytes fit, 65 do not, whether first or later.
        let at_limit = vec![b'x'; MAX_PACKED_MEMBER_LEN];
        let past = vec![b'y'; MAX_PACKED_MEMBER_LEN + 1];
        assert_eq!(form(&Set::for_first_member(&at_limit)), Form::Packed);
        assert_eq!(form(&Set::for_first_member(&past)), Form::Table);
        let mut s = filled(&at_limit, [], 512);
        assert_eq!(form(&s), Form::Packed);
        assert!(s.insert(&past, 512));
        assert_eq!(form(&s), Form::Table);
        assert!(s.contains(&at_limit) && s.contains(&past));
        // The table owns the long member's bytes.
        assert!(s.heap_size() > MAX_PACKED_MEMBER_LEN);
        assert!(s.remove(&past));
        assert_eq!(form(&s), Form::Table);
    }

    #[test]
    fn intsets_leave_for_packed_when_it_fits() {
        let ints = |n: i64| (0..n).map(|i| (i * 1000 - 5).to_string().into_bytes());
        // A string joins 127 integers: packed, integers ascending first.
        let mut s = filled(b"-5", ints(127), 512);
        assert_eq!(form(&s), Form::Ints);
        assert!(s.insert(b"x", 512));
        assert_eq!((form(&s), s.len()), (Form::Packed, 128));
        let listed = members(&s);
        assert_eq!(listed[..3], ["-5", "995", "1995"]);
        assert_eq!(listed[127], "x");
        assert!(s.contains(b"125995") && s.contains_member(Member::Int(995)));
        // A string joins 128 integers: 129 members, a table at once.
        let mut s = filled(b"-5", ints(128), 512);
        assert!(s.insert(b"x", 512));
        assert_eq!((form(&s), s.len()), (Form::Table, 129));
        // A long string joins a few integers: a table at once.
        let mut s = filled(b"1", ints(3), 512);
        assert!(s.insert(&[b'z'; MAX_PACKED_MEMBER_LEN + 1], 512));
        assert_eq!(form(&s), Form::Table);
        // Past set-max-intset-entries: packed while at most 128 members...
        let mut s = filled(b"1", ints(2), 3);
        assert_eq!(form(&s), Form::Ints);
        assert!(s.insert(b"7", 3));
        assert_eq!((form(&s), s.len()), (Form::Packed, 4));
        assert_eq!(s.encoding(), "hashtable");
        // ...and integers added to a packed set stay packed, as bytes.
        assert!(s.insert(b"8", 3) && !s.insert(b"7", 3));
        assert_eq!(members(&s), ["-5", "1", "7", "995", "8"]);
        // ...else a table.
        let s = filled(b"1", ints(200), 130);
        assert_eq!(form(&s), Form::Table);
        assert_eq!(s.len(), 201);
        // Through insert_member, too.
        let mut s = Set::new_intset();
        for n in 0..5 {
            s.insert_member(Member::Int(n), 4);
        }
        assert_eq!((form(&s), s.len()), (Form::Packed, 5));
    }

    /// `member:0`..`member:9` (benches/memory.py's sets) share their stem:
    /// the first member is stored whole, the others as a header byte and
    /// their last digit.
    #[test]
    fn packed_members_share_prefixes() {
        let s = filled(
            b"member:0",
            (1..10).map(|i| format!("member:{i}").into_bytes()),
            512,
        );
        assert_eq!(form(&s), Form::Packed);
        let Repr::Packed(p) = &s.repr else {
            unreachable!()
        };
        assert_eq!(p.lp.byte_len(), 9 + 9 * 2);
        assert_eq!(s.heap_size(), p.lp.byte_len(), "grown exactly");
    }

    #[test]
    fn packed_random_picks_are_uniform() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let s = filled(b"a", (0..9).map(|i| format!("a{i}").into_bytes()), 512);
        assert_eq!(form(&s), Form::Packed);
        let mut counts = std::collections::HashMap::new();
        for _ in 0..20_000 {
            let m = s
                .random_with(&mut rng, |m| m.to_bytes24().to_vec())
                .unwrap();
            *counts.entry(m).or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 10);
        // 2000 expected each; a fair pick is within 1700..2300 (6.7 sigma).
        assert!(
            counts.values().all(|&c| (1700..2300).contains(&c)),
            "{counts:?}"
        );
        // The first member of a pop is as likely as any other.
        let mut first_popped = 0;
        for _ in 0..2000 {
            let mut copy = s.clone();
            let popped = copy.pop_random(&mut rng).unwrap();
            if &*popped == b"a" {
                first_popped += 1;
            }
            assert_eq!(copy.len(), 9);
            assert!(!copy.contains(&popped));
        }
        assert!((120..280).contains(&first_popped), "{first_popped}");
    }

    #[test]
    fn indexed_lists_every_member_once() {
        for first in ["1", "a"] {
            for n in [5, 100, 300] {
                let s = filled(
                    first.as_bytes(),
                    (0..n).map(|i| format!("{i}").into_bytes()),
                    512,
                );
                let idx = s.indexed();
                assert_eq!(idx.len(), s.len());
                let mut scratch = itoa::Buffer::new();
                let listed: Vec<String> = (0..idx.len())
                    .map(|i| String::from_utf8_lossy(idx.get(i).bytes(&mut scratch)).into_owned())
                    .collect();
                assert_eq!(listed, members(&s), "{first} {n}");
            }
        }
    }

    mod model {
        use std::collections::BTreeSet;

        use proptest::prelude::*;

        use super::*;

        #[derive(Debug, Clone)]
        enum Op {
            Add(Vec<Vec<u8>>),
            Rem(Vec<Vec<u8>>),
            Pop,
            IsMember(Vec<u8>),
        }

        fn int_member() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                4 => (-3i64..200).prop_map(|n| n.to_string().into_bytes()),
                1 => any::<i64>().prop_map(|n| n.to_string().into_bytes()),
            ]
        }

        fn member() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                3 => int_member(),
                // Shared prefixes, of several lengths.
                3 => (0usize..200).prop_map(|i| format!("member:{i}").into_bytes()),
                1 => (0usize..40).prop_map(|i| format!("m{i}").into_bytes()),
                // Short and arbitrary: mostly nothing shared.
                1 => prop::collection::vec(any::<u8>(), 0..6),
                1 => prop::sample::select(vec![&b""[..], b"01", b"+1", b"-0", b" 1"])
                    .prop_map(<[u8]>::to_vec),
            ]
        }

        /// Near the 64-byte limit, sharing all but the tail.
        fn long_member() -> impl Strategy<Value = Vec<u8>> {
            (60usize..68, 0u8..3).prop_map(|(len, c)| {
                let mut m = vec![b'x'; len - 1];
                m.push(b'a' + c);
                m
            })
        }

        fn op() -> impl Strategy<Value = Op> {
            let any_member = || prop_oneof![4 => member(), 1 => long_member()];
            prop_oneof![
                // Adds of one kind, so all-integer runs keep an intset and
                // sets grow past 128 members before a long one comes.
                2 => prop::collection::vec(int_member(), 1..60).prop_map(Op::Add),
                3 => prop::collection::vec(member(), 1..60).prop_map(Op::Add),
                1 => prop::collection::vec(long_member(), 1..3).prop_map(Op::Add),
                2 => prop::collection::vec(any_member(), 1..20).prop_map(Op::Rem),
                1 => Just(Op::Pop),
                1 => any_member().prop_map(Op::IsMember),
            ]
        }

        /// The form a set takes after `member` joined it (now `model`).
        fn next_form(current: Form, model: &BTreeSet<Vec<u8>>, member: &[u8], max: usize) -> Form {
            let packs = model.len() <= MAX_PACKED_MEMBERS
                && model.iter().all(|m| m.len() <= MAX_PACKED_MEMBER_LEN);
            match current {
                Form::Ints if parse_i64(member).is_some() && model.len() <= max => Form::Ints,
                Form::Ints | Form::Packed if packs => Form::Packed,
                _ => Form::Table,
            }
        }

        fn check(s: &Set, model: &BTreeSet<Vec<u8>>, want: Form, max: usize) {
            assert_eq!(form(s), want);
            assert_eq!(
                s.encoding(),
                if want == Form::Ints {
                    "intset"
                } else {
                    "hashtable"
                }
            );
            assert_eq!(s.len(), model.len());
            let mut seen = Vec::new();
            s.for_each(|m| seen.push(m.to_bytes24().to_vec()));
            let listed: BTreeSet<Vec<u8>> = seen.iter().cloned().collect();
            assert_eq!(listed.len(), seen.len(), "a member listed twice");
            assert_eq!(&listed, model);
            match want {
                Form::Ints => assert!(model.len() <= max),
                Form::Packed => {
                    assert!(model.len() <= MAX_PACKED_MEMBERS);
                    assert!(model.iter().all(|m| m.len() <= MAX_PACKED_MEMBER_LEN));
                }
                Form::Table => {}
            }
            // The heap count follows edits: a packed set owns its buffer, a
            // table the long members' bytes beyond the table.
            match &s.repr {
                Repr::Packed(p) => assert!(s.heap_size() >= p.lp.byte_len()),
                Repr::Table(t) => {
                    let owned: usize = model.iter().map(|m| Bytes24::new(m).heap_size()).sum();
                    assert_eq!(t.member_heap, owned);
                    let table = std::mem::size_of::<Table>() + t.dict.table_size();
                    assert_eq!(s.heap_size(), table + owned);
                }
                Repr::Ints(_) => {}
            }
            let idx = s.indexed();
            let by_position: BTreeSet<Vec<u8>> = (0..idx.len())
                .map(|i| idx.get(i).to_bytes24().to_vec())
                .collect();
            assert_eq!(&by_position, model);
            assert_eq!(&scan_all(s, 3), model);
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]

            #[test]
            fn sets_behave_like_a_btreeset(
                max in prop::sample::select(vec![3usize, 130, 512]),
                ops in prop::collection::vec(op(), 1..30),
            ) {
                let mut rng = rand::rng();
                let mut set: Option<(Set, Form)> = None;
                let mut model = BTreeSet::new();
                for op in ops {
                    match op {
                        Op::Add(members) => {
                            let (s, f) = set.get_or_insert_with(|| {
                                let s = Set::for_first_member(&members[0]);
                                let f = form(&s);
                                (s, f)
                            });
                            for m in members {
                                let added = model.insert(m.clone());
                                prop_assert_eq!(s.insert(&m, max), added);
                                if added {
                                    *f = next_form(*f, &model, &m, max);
                                }
                            }
                        }
                        Op::Rem(members) => {
                            let Some((s, _)) = &mut set else { continue };
                            for m in members {
                                prop_assert_eq!(s.remove(&m), model.remove(&m));
                            }
                        }
                        Op::Pop => {
                            let Some((s, _)) = &mut set else { continue };
                            match s.pop_random(&mut rng) {
                                Some(m) => prop_assert!(model.remove(m.as_slice())),
                                None => prop_assert!(model.is_empty()),
                            }
                        }
                        Op::IsMember(m) => {
                            let Some((s, _)) = &set else { continue };
                            prop_assert_eq!(s.contains(&m), model.contains(&m));
                            if let Some(n) = parse_i64(&m) {
                                prop_assert_eq!(s.contains_member(Member::Int(n)), model.contains(&m));
                            }
                        }
                    }
                    if let Some((s, f)) = &set {
                        check(s, &model, *f, max);
                        let copy = s.clone();
                        check(&copy, &model, *f, max);
                    }
                }
            }
        }
    }
}
