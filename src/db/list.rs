//! The `list` value type: a deque of packed chunks, as Redis's quicklist is a
//! linked list of listpacks.
//!
//! Each [`Chunk`] holds up to [`CHUNK_BYTES`] of elements laid end to end,
//! each behind a varint length (one byte below 128 bytes), so a small element
//! costs its bytes plus one, against 24+ bytes for a slot of pointers. Queues
//! (Celery, Bull) push at one end and pop at the other: both ends touch only
//! the first or last chunk, so they stay O(chunk), which is bounded. Index
//! access walks chunk counts from the nearer end, then scans one chunk.
//! Redis 7.0 always reports lists as `quicklist` (the `listpack` list encoding
//! arrived in 7.2), so OBJECT ENCODING prints that whatever the size.

use std::collections::VecDeque;

use super::bytes::Bytes24;

/// Payload bytes after which a chunk takes no more elements (one larger
/// element still gets a chunk of its own).
const CHUNK_BYTES: usize = 4096;
/// Elements per chunk at most, which bounds the scan for the last element.
const CHUNK_ITEMS: u32 = 128;
/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

impl End {
    /// LEFT / RIGHT in any case.
    pub fn parse(word: &[u8]) -> Option<End> {
        if word.eq_ignore_ascii_case(b"left") {
            Some(End::Left)
        } else if word.eq_ignore_ascii_case(b"right") {
            Some(End::Right)
        } else {
            None
        }
    }
}

/// A list value.
#[derive(Debug, Clone, Default)]
pub struct List {
    chunks: VecDeque<Chunk>,
    len: usize,
}

/// Elements packed as `varint(len) bytes`, front to back.
#[derive(Debug, Clone, Default)]
struct Chunk {
    data: Vec<u8>,
    count: u32,
}

/// Appends `n` as a LEB128 varint.
fn put_len(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn encoded_len(item: &[u8]) -> usize {
    let mut header = 1;
    let mut n = item.len() >> 7;
    while n > 0 {
        header += 1;
        n >>= 7;
    }
    header + item.len()
}

fn encode(item: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(item));
    put_len(&mut out, item.len());
    out.extend_from_slice(item);
    out
}

impl Chunk {
    /// The element at byte offset `at` and the offset of the next one.
    #[inline]
    fn entry(&self, at: usize) -> (&[u8], usize) {
        let (mut len, mut shift, mut pos) = (0usize, 0, at);
        loop {
            let byte = self.data[pos];
            pos += 1;
            len |= ((byte & 0x7f) as usize) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        (&self.data[pos..pos + len], pos + len)
    }

    /// Byte offset of element `index` of this chunk.
    fn offset_of(&self, index: usize) -> usize {
        let mut at = 0;
        for _ in 0..index {
            at = self.entry(at).1;
        }
        at
    }

    /// Byte offsets of every element.
    fn offsets(&self) -> Vec<u32> {
        let mut offsets = Vec::with_capacity(self.count as usize);
        let mut at = 0;
        while at < self.data.len() {
            offsets.push(at as u32);
            at = self.entry(at).1;
        }
        offsets
    }

    fn has_room(&self, encoded: usize) -> bool {
        self.count < CHUNK_ITEMS && self.data.len() + encoded <= CHUNK_BYTES
    }

    /// Rebuilds the chunk without the elements `doomed` says to drop
    /// (called with each element's index in the chunk and its bytes).
    fn retain(&mut self, mut keep: impl FnMut(usize, &[u8]) -> bool) {
        let mut data = Vec::with_capacity(self.data.len());
        let (mut at, mut count, mut index) = (0, 0, 0);
        while at < self.data.len() {
            let (item, next) = self.entry(at);
            if keep(index, item) {
                data.extend_from_slice(&self.data[at..next]);
                count += 1;
            }
            index += 1;
            at = next;
        }
        data.shrink_to_fit();
        self.data = data;
        self.count = count;
    }
}

impl List {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The name OBJECT ENCODING prints (always `quicklist` in Redis 7.0).
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Heap bytes owned by the value: the chunk slots and their buffers.
    pub fn heap_size(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<Chunk>()
            + self.chunks.iter().map(|c| c.data.capacity()).sum::<usize>()
    }

    pub fn push(&mut self, end: End, item: &[u8]) {
        let encoded = encoded_len(item);
        let chunk = match end {
            End::Left => self.chunks.front_mut(),
            End::Right => self.chunks.back_mut(),
        };
        let chunk = match chunk {
            Some(c) if c.has_room(encoded) => c,
            full => {
                // A chunk that filled up keeps no spare capacity.
                if let Some(full) = full {
                    full.data.shrink_to_fit();
                }
                match end {
                    End::Left => {
                        self.chunks.push_front(Chunk::default());
                        self.chunks.front_mut()
                    }
                    End::Right => {
                        self.chunks.push_back(Chunk::default());
                        self.chunks.back_mut()
                    }
                }
                .expect("just pushed")
            }
        };
        match end {
            End::Left => {
                chunk.data.splice(0..0, encode(item));
            }
            End::Right => {
                put_len(&mut chunk.data, item.len());
                chunk.data.extend_from_slice(item);
            }
        }
        chunk.count += 1;
        self.len += 1;
    }

    pub fn pop(&mut self, end: End) -> Option<Bytes24> {
        let popped = match end {
            End::Left => {
                let chunk = self.chunks.front_mut()?;
                let (item, next) = chunk.entry(0);
                let item = Bytes24::new(item);
                chunk.data.drain(..next);
                chunk.count -= 1;
                item
            }
            End::Right => {
                let chunk = self.chunks.back_mut()?;
                let last = chunk.offset_of(chunk.count as usize - 1);
                let item = Bytes24::new(chunk.entry(last).0);
                chunk.data.truncate(last);
                chunk.count -= 1;
                item
            }
        };
        self.len -= 1;
        self.drop_empty_ends();
        Some(popped)
    }

    fn drop_empty_ends(&mut self) {
        while self.chunks.front().is_some_and(|c| c.count == 0) {
            self.chunks.pop_front();
        }
        while self.chunks.back().is_some_and(|c| c.count == 0) {
            self.chunks.pop_back();
        }
        let cap = self.chunks.capacity();
        if cap > 16 && self.chunks.len() < cap / 4 {
            self.chunks.shrink_to(cap / 2);
        }
    }

    /// Resolves a Redis index (negative counts from the tail).
    pub fn resolve(&self, index: i64) -> Option<usize> {
        let len = self.len as i64;
        let i = if index < 0 { len + index } else { index };
        (0..len).contains(&i).then_some(i as usize)
    }

    /// The chunk holding element `index`, and the element's index in it,
    /// counting from the nearer end of the list.
    fn locate(&self, index: usize) -> Option<(usize, usize)> {
        if index >= self.len {
            return None;
        }
        if index < self.len / 2 {
            let mut rest = index;
            for (i, chunk) in self.chunks.iter().enumerate() {
                if rest < chunk.count as usize {
                    return Some((i, rest));
                }
                rest -= chunk.count as usize;
            }
        } else {
            let mut from_back = self.len - 1 - index;
            for (i, chunk) in self.chunks.iter().enumerate().rev() {
                if from_back < chunk.count as usize {
                    return Some((i, chunk.count as usize - 1 - from_back));
                }
                from_back -= chunk.count as usize;
            }
        }
        None
    }

    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let (ci, within) = self.locate(index)?;
        let chunk = &self.chunks[ci];
        Some(chunk.entry(chunk.offset_of(within)).0)
    }

    pub fn set(&mut self, index: usize, item: &[u8]) {
        let (ci, within) = self.locate(index).expect("index resolved by the caller");
        let chunk = &mut self.chunks[ci];
        let at = chunk.offset_of(within);
        let next = chunk.entry(at).1;
        chunk.data.splice(at..next, encode(item));
        self.split_if_oversized(ci);
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter::new(self, 0, self.len)
    }

    /// Elements `start..=end` (already clamped by the caller).
    pub fn range(&self, start: usize, end: usize) -> Iter<'_> {
        Iter::new(self, start, end + 1 - start)
    }

    /// Inserts `item` next to the first `pivot`; false when there is none.
    pub fn insert(&mut self, pivot: &[u8], item: &[u8], after: bool) -> bool {
        for ci in 0..self.chunks.len() {
            let chunk = &mut self.chunks[ci];
            let mut at = 0;
            while at < chunk.data.len() {
                let (element, next) = chunk.entry(at);
                if element == pivot {
                    let position = if after { next } else { at };
                    chunk.data.splice(position..position, encode(item));
                    chunk.count += 1;
                    self.len += 1;
                    self.split_if_oversized(ci);
                    return true;
                }
                at = next;
            }
        }
        false
    }

    /// Splits a chunk that grew past twice the limit in the middle.
    fn split_if_oversized(&mut self, ci: usize) {
        let chunk = &mut self.chunks[ci];
        if chunk.count < 2
            || (chunk.count <= 2 * CHUNK_ITEMS && chunk.data.len() <= 2 * CHUNK_BYTES)
        {
            return;
        }
        let half = chunk.count as usize / 2;
        let at = chunk.offset_of(half);
        let tail = Chunk {
            data: chunk.data.split_off(at),
            count: chunk.count - half as u32,
        };
        chunk.count = half as u32;
        chunk.data.shrink_to_fit();
        self.chunks.insert(ci + 1, tail);
    }

    /// LREM: removes up to `count` elements equal to `item` from the head
    /// (count > 0), the tail (count < 0) or everywhere (0); returns how many.
    pub fn remove(&mut self, item: &[u8], count: i64) -> usize {
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs().min(usize::MAX as u64) as usize
        };
        let mut removed = 0;
        let order: Box<dyn Iterator<Item = usize>> = if count >= 0 {
            Box::new(0..self.chunks.len())
        } else {
            Box::new((0..self.chunks.len()).rev())
        };
        for ci in order {
            if removed == limit {
                break;
            }
            let chunk = &mut self.chunks[ci];
            let offsets = chunk.offsets();
            let mut hits: Vec<usize> = offsets
                .iter()
                .enumerate()
                .filter(|&(_, &at)| chunk.entry(at as usize).0 == item)
                .map(|(i, _)| i)
                .collect();
            if count < 0 {
                hits.reverse();
            }
            hits.truncate(limit - removed);
            if hits.is_empty() {
                continue;
            }
            removed += hits.len();
            chunk.retain(|i, _| !hits.contains(&i));
        }
        self.len -= removed;
        self.chunks.retain(|c| c.count > 0);
        removed
    }

    /// Keeps only `start..=end`; an empty range (start > end) empties the list.
    pub fn keep(&mut self, start: usize, end: usize) {
        if start > end || start >= self.len {
            *self = List::default();
            return;
        }
        let end = end.min(self.len - 1);
        self.drop_back(self.len - 1 - end);
        self.drop_front(start);
    }

    /// Removes the first `n` elements.
    fn drop_front(&mut self, mut n: usize) {
        self.len -= n;
        while let Some(chunk) = self.chunks.front_mut() {
            if n == 0 {
                break;
            }
            if (chunk.count as usize) <= n {
                n -= chunk.count as usize;
                self.chunks.pop_front();
                continue;
            }
            let at = chunk.offset_of(n);
            chunk.data.drain(..at);
            chunk.data.shrink_to_fit();
            chunk.count -= n as u32;
            break;
        }
    }

    /// Removes the last `n` elements.
    fn drop_back(&mut self, mut n: usize) {
        self.len -= n;
        while let Some(chunk) = self.chunks.back_mut() {
            if n == 0 {
                break;
            }
            if (chunk.count as usize) <= n {
                n -= chunk.count as usize;
                self.chunks.pop_back();
                continue;
            }
            let keep = chunk.count as usize - n;
            let at = chunk.offset_of(keep);
            chunk.data.truncate(at);
            chunk.data.shrink_to_fit();
            chunk.count = keep as u32;
            break;
        }
    }
}

/// Iterates a run of elements from either end.
pub struct Iter<'a> {
    list: &'a List,
    /// Next element from the front: chunk index and byte offset.
    front: (usize, usize),
    /// Next element from the back: chunk index and the offsets of that
    /// chunk's elements not yet taken (filled when the back enters a chunk).
    back: Option<(usize, Vec<u32>)>,
    /// Absolute index one past the last element not yet taken from the back.
    back_end: usize,
    remaining: usize,
}

impl<'a> Iter<'a> {
    fn new(list: &'a List, start: usize, count: usize) -> Self {
        let front = match list.locate(start) {
            Some((ci, within)) => (ci, list.chunks[ci].offset_of(within)),
            None => (list.chunks.len(), 0),
        };
        Iter {
            list,
            front,
            back: None,
            back_end: start + count,
            remaining: count,
        }
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        let chunks = &self.list.chunks;
        while self.front.1 >= chunks[self.front.0].data.len() {
            self.front = (self.front.0 + 1, 0);
        }
        let (item, next) = chunks[self.front.0].entry(self.front.1);
        self.front.1 = next;
        self.remaining -= 1;
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> DoubleEndedIterator for Iter<'a> {
    fn next_back(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        let list = self.list;
        let need_chunk = !matches!(&self.back, Some((_, offsets)) if !offsets.is_empty());
        if need_chunk {
            let (ci, within) = list.locate(self.back_end - 1)?;
            let mut offsets = list.chunks[ci].offsets();
            offsets.truncate(within + 1);
            self.back = Some((ci, offsets));
        }
        let (ci, offsets) = self.back.as_mut()?;
        let at = offsets.pop()? as usize;
        self.back_end -= 1;
        self.remaining -= 1;
        Some(list.chunks[*ci].entry(at).0)
    }
}

impl<'a> FromIterator<&'a [u8]> for List {
    fn from_iter<I: IntoIterator<Item = &'a [u8]>>(iter: I) -> Self {
        let mut list = List::default();
        for item in iter {
            list.push(End::Right, item);
        }
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> List {
        items.iter().map(|s| s.as_bytes()).collect()
    }

    fn contents(l: &List) -> Vec<String> {
        l.iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect()
    }

    #[test]
    fn remove_from_either_end() {
        let mut l = list(&["a", "b", "a", "c", "a"]);
        assert_eq!(l.remove(b"a", -2), 2);
        assert_eq!(contents(&l), ["a", "b", "c"]);
        let mut l = list(&["a", "b", "a", "c", "a"]);
        assert_eq!(l.remove(b"a", 2), 2);
        assert_eq!(contents(&l), ["b", "c", "a"]);
        assert_eq!(l.remove(b"zz", 0), 0);
        assert_eq!(l.remove(b"a", 0), 1);
        assert_eq!(contents(&l), ["b", "c"]);
    }

    #[test]
    fn keep_and_insert() {
        let mut l = list(&["a", "b", "c", "d"]);
        l.keep(1, 2);
        assert_eq!(contents(&l), ["b", "c"]);
        assert!(l.insert(b"b", b"x", true));
        assert!(l.insert(b"b", b"y", false));
        assert!(!l.insert(b"q", b"z", false));
        assert_eq!(contents(&l), ["y", "b", "x", "c"]);
        l.keep(3, 1);
        assert!(l.is_empty());
    }

    #[test]
    fn resolve_negative_indexes() {
        let l = list(&["a", "b"]);
        assert_eq!(l.resolve(-1), Some(1));
        assert_eq!(l.resolve(-3), None);
        assert_eq!(l.resolve(2), None);
    }

    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Push(bool, Vec<u8>),
        Pop(bool),
        Set(usize, Vec<u8>),
        Insert(u8, Vec<u8>, bool),
        Remove(u8, i64),
        Keep(usize, usize),
    }

    /// Elements of every header size: tiny, past one varint byte, past a chunk.
    fn element() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            8 => (0u8..4).prop_map(|b| vec![b; 1 + b as usize]),
            2 => (0u8..4, 100usize..300).prop_map(|(b, n)| vec![b; n]),
            1 => (0u8..4, 4000usize..5000).prop_map(|(b, n)| vec![b; n]),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            20 => (any::<bool>(), element()).prop_map(|(l, e)| Op::Push(l, e)),
            6 => any::<bool>().prop_map(Op::Pop),
            2 => (0usize..600, element()).prop_map(|(i, e)| Op::Set(i, e)),
            2 => (0u8..4, element(), any::<bool>()).prop_map(|(p, e, a)| Op::Insert(p, e, a)),
            1 => (0u8..4, -3i64..3).prop_map(|(b, c)| Op::Remove(b, c)),
            1 => (0usize..700, 0usize..700).prop_map(|(a, b)| Op::Keep(a, b)),
        ]
    }

    fn end(left: bool) -> End {
        if left { End::Left } else { End::Right }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn packed_list_behaves_like_a_deque(ops in proptest::collection::vec(op(), 1..600)) {
            let mut list = List::default();
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            for op in ops {
                match op {
                    Op::Push(left, e) => {
                        list.push(end(left), &e);
                        if left { model.push_front(e) } else { model.push_back(e) }
                    }
                    Op::Pop(left) => {
                        let got = list.pop(end(left)).map(|b| b.as_slice().to_vec());
                        let want = if left { model.pop_front() } else { model.pop_back() };
                        prop_assert_eq!(got, want);
                    }
                    Op::Set(i, e) => {
                        if i < model.len() {
                            list.set(i, &e);
                            model[i] = e;
                        }
                    }
                    Op::Insert(pivot_byte, e, after) => {
                        let pivot = vec![pivot_byte; 1 + pivot_byte as usize];
                        let at = model.iter().position(|x| *x == pivot);
                        prop_assert_eq!(list.insert(&pivot, &e, after), at.is_some());
                        if let Some(at) = at {
                            model.insert(at + after as usize, e);
                        }
                    }
                    Op::Remove(b, count) => {
                        let item = vec![b; 1 + b as usize];
                        let removed = list.remove(&item, count);
                        let limit = if count == 0 { usize::MAX } else { count.unsigned_abs() as usize };
                        let mut hits: Vec<usize> = (0..model.len()).filter(|&i| model[i] == item).collect();
                        if count < 0 { hits.reverse(); }
                        hits.truncate(limit);
                        hits.sort_unstable();
                        for &i in hits.iter().rev() { model.remove(i); }
                        prop_assert_eq!(removed, hits.len());
                    }
                    Op::Keep(a, b) => {
                        list.keep(a, b);
                        if a > b || a >= model.len() {
                            model.clear();
                        } else {
                            let b = b.min(model.len() - 1);
                            model = model.range(a..=b).cloned().collect();
                        }
                    }
                }
                prop_assert_eq!(list.len(), model.len());
            }
            let forward: Vec<&[u8]> = list.iter().collect();
            let expected: Vec<&[u8]> = model.iter().map(|v| v.as_slice()).collect();
            prop_assert_eq!(&forward, &expected);
            let mut backward: Vec<&[u8]> = list.iter().rev().collect();
            backward.reverse();
            prop_assert_eq!(&backward, &expected);
            for i in 0..model.len() {
                prop_assert_eq!(list.get(i), Some(model[i].as_slice()));
            }
            if model.len() > 2 {
                let (a, b) = (model.len() / 3, model.len() - 2);
                let ranged: Vec<&[u8]> = list.range(a, b).collect();
                prop_assert_eq!(&ranged[..], &expected[a..=b]);
            }
        }
    }

    #[test]
    fn small_elements_cost_a_byte_over_their_size() {
        let list: List = (0..100_000u32)
            .map(|i| format!("{i:010}"))
            .collect::<Vec<_>>()
            .iter()
            .map(|s| s.as_bytes())
            .collect();
        let per_element = list.heap_size() as f64 / 100_000.0;
        assert!(
            per_element < 11.5,
            "{per_element} bytes per 10-byte element"
        );
    }
}
