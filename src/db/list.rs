//! The `list` value type: a ring buffer of [`Bytes24`] elements.
//!
//! Queues (Celery, Bull) push at one end and pop at the other, so both ends
//! must be O(1); `VecDeque` gives that, and `Bytes24` keeps elements of up to
//! 22 bytes inline, so a typical small element costs 24 bytes and no
//! allocation. Redis 7.0 always reports lists as `quicklist` (the `listpack`
//! list encoding arrived in 7.2), so OBJECT ENCODING prints that whatever the
//! size.

use std::collections::VecDeque;

use super::bytes::Bytes24;

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
    items: VecDeque<Bytes24>,
}

impl List {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The name OBJECT ENCODING prints (always `quicklist` in Redis 7.0).
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Heap bytes owned by the value: the ring's slots plus spilled elements.
    pub fn heap_size(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<Bytes24>()
            + self.items.iter().map(Bytes24::heap_size).sum::<usize>()
    }

    pub fn push(&mut self, end: End, item: &[u8]) {
        let item = Bytes24::new(item);
        match end {
            End::Left => self.items.push_front(item),
            End::Right => self.items.push_back(item),
        }
    }

    pub fn pop(&mut self, end: End) -> Option<Bytes24> {
        let popped = match end {
            End::Left => self.items.pop_front(),
            End::Right => self.items.pop_back(),
        };
        self.shrink_if_sparse();
        popped
    }

    /// Releases memory of a queue that was long and is now mostly empty.
    fn shrink_if_sparse(&mut self) {
        let cap = self.items.capacity();
        if cap > 64 && self.items.len() < cap / 4 {
            self.items.shrink_to(cap / 2);
        }
    }

    /// Resolves a Redis index (negative counts from the tail).
    pub fn resolve(&self, index: i64) -> Option<usize> {
        let len = self.items.len() as i64;
        let i = if index < 0 { len + index } else { index };
        (0..len).contains(&i).then_some(i as usize)
    }

    pub fn get(&self, index: usize) -> Option<&[u8]> {
        self.items.get(index).map(|b| b.as_slice())
    }

    pub fn set(&mut self, index: usize, item: &[u8]) {
        self.items[index] = Bytes24::new(item);
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + ExactSizeIterator {
        self.items.iter().map(|b| b.as_slice())
    }

    /// Elements `start..=end` (already clamped by the caller).
    pub fn range(&self, start: usize, end: usize) -> impl Iterator<Item = &[u8]> {
        self.items.range(start..=end).map(|b| b.as_slice())
    }

    /// Inserts `item` next to the first `pivot`; false when there is none.
    pub fn insert(&mut self, pivot: &[u8], item: &[u8], after: bool) -> bool {
        match self.items.iter().position(|e| e.as_slice() == pivot) {
            Some(at) => {
                self.items.insert(at + after as usize, Bytes24::new(item));
                true
            }
            None => false,
        }
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
        if count >= 0 {
            self.items.retain(|e| {
                let hit = removed < limit && e.as_slice() == item;
                removed += hit as usize;
                !hit
            });
        } else {
            // Walk from the tail: mark the positions, then drop them.
            let doomed: Vec<usize> = (0..self.items.len())
                .rev()
                .filter(|&i| self.items[i].as_slice() == item)
                .take(limit)
                .collect();
            removed = doomed.len();
            let mut next = doomed.iter().rev().peekable();
            let mut index = 0;
            self.items.retain(|_| {
                let hit = next.peek() == Some(&&index);
                if hit {
                    next.next();
                }
                index += 1;
                !hit
            });
        }
        self.shrink_if_sparse();
        removed
    }

    /// Keeps only `start..=end`; an empty range (start > end) empties the list.
    pub fn keep(&mut self, start: usize, end: usize) {
        if start > end || start >= self.items.len() {
            self.items.clear();
            return;
        }
        self.items.truncate(end + 1);
        self.items.drain(..start);
        self.shrink_if_sparse();
    }
}

impl<'a> FromIterator<&'a [u8]> for List {
    fn from_iter<I: IntoIterator<Item = &'a [u8]>>(iter: I) -> Self {
        List {
            items: iter.into_iter().map(Bytes24::new).collect(),
        }
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
}
