//! The `list` value type: a deque of packed chunks, as Redis's quicklist is a
//! linked list of listpacks, with front coding (prefix sharing) inside each
//! chunk.
//!
//! # Layout
//!
//! Each [`Chunk`] holds its elements front to back as entries in one byte
//! buffer. An entry starts with a LEB128 varint `head` whose low bit says how
//! the element is stored:
//!
//! - `head = len << 1`, then `len` bytes: the element whole;
//! - `head = suffix_len << 1 | 1`, then a varint `shared`, then `suffix_len`
//!   bytes: the first `shared` bytes of the previous element of the same
//!   chunk, followed by these.
//!
//! Lists are mostly runs of similar elements (`job:1041`, `job:1042`, ids,
//! paths, JSON with the same keys), so sharing with the neighbour pays: the
//! `lists` dataset of `benches/memory.py` (`item:{l}:{j:07}`, 14 bytes) packs
//! to about 4 bytes an element, against 15 for `varint(len) bytes`. An
//! element shares only when that makes its entry strictly smaller (a one-byte
//! prefix would cost the byte it saves in `shared`), so one that shares
//! nothing costs its bytes plus one (two from 64 bytes, three from 8 KiB): a
//! byte more than before between 64 and 127 bytes, the price of the flag.
//!
//! # Choices
//!
//! - **Per chunk, first element whole.** A chunk decodes on its own, so
//!   finding an element still walks chunk counts from the nearer end of the
//!   list and then reads one chunk. LPUSH and LPOP read the first element in
//!   place.
//! - **Previous element, not the chunk's first.** Sharing with the first
//!   would decode any element in one step, but compresses less as elements
//!   drift (`item:0000099` to `item:0000100`), and every LPUSH or LPOP would
//!   re-encode the whole chunk against a new first element. With the
//!   previous element an entry depends only on its predecessor, so an edit
//!   re-encodes at most the element after it: the new first after LPOP or
//!   LTRIM (whole), the old first after LPUSH, the follower of an LSET,
//!   LINSERT or LREM.
//! - **Restart points.** Decoding element `i` needs the elements before it
//!   back to one stored whole, so a chunk of 128 elements that all share
//!   would make RPUSH (which compares with the last element) and RPOP decode
//!   128 entries. Pushes therefore store an element whole at least every
//!   [`RESTART`] entries even when it could share (RPUSH counts the run,
//!   LPUSH keeps the old first whole every `RESTART` pushes), which costs
//!   the dataset above about 0.7 byte an element. Each chunk keeps the
//!   offset of its last whole entry as a hint (`restart`, in what was
//!   padding): RPUSH and RPOP decode from there, at most `RESTART` entries,
//!   which made RPOP cheaper than the header scan from the start it did
//!   before. Index lookups skip headers up to the last whole entry before the
//!   element and decode only from there. Edits in the middle may lengthen a
//!   run (that only costs time) and recompute the hint with a header scan.
//! - **Bounds.** Both ends stay O(chunk), and a chunk is bounded by
//!   [`CHUNK_ITEMS`] entries and [`CHUNK_BYTES`] of *encoded* payload: the
//!   byte bound counts what a scan reads and what the chunk allocates.
//!   Decoded elements can be larger (a run of equal large elements packs to
//!   a few bytes each), but decoding copies only bytes that are stored in
//!   the chunk, plus the element handed out.
//!
//! # Reading
//!
//! Elements are no longer contiguous, so readers get a [`Cursor`], which
//! hands out one element at a time borrowed from itself, decoded
//! sequentially with one scratch buffer per cursor, never an allocation per
//! element. The decoder is lazy (see [`Walker`]): an element is its prefix
//! (in an earlier element stored whole, lent from the chunk, or in the
//! scratch buffer) and its suffix (lent from the chunk), and a step copies
//! only the bytes the next element shares beyond the current prefix. LRANGE
//! takes the two parts ([`Cursor::next_front_parts`]) straight into the
//! reply; [`Cursor::next_front`] joins them when needed, which for an
//! element stored whole (one that shares nothing) is the cheap path: a slice
//! of the chunk, no copy. [`List::get`] returns a `Cow` for the same reason.
//!
//! Redis 7.0 always reports lists as `quicklist` (the `listpack` list encoding
//! arrived in 7.2), so OBJECT ENCODING prints that whatever the size.

use std::borrow::Cow;
use std::collections::VecDeque;

use smallvec::SmallVec;

use super::bytes::Bytes24;
use crate::util::varint;

/// Encoded payload bytes after which a chunk takes no more elements (one
/// larger element still gets a chunk of its own).
const CHUNK_BYTES: usize = 4096;
/// Elements per chunk at most, which bounds a scan of its headers.
const CHUNK_ITEMS: u32 = 128;
/// Pushes store an element whole (a restart point) at least once every this
/// many entries, which bounds what RPUSH, RPOP and an index lookup decode.
const RESTART: u32 = 16;

/// Re-encoded entries of an edit: one or two short entries stay off the heap.
type EntryBuf = SmallVec<[u8; 64]>;

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

/// Entries front to back (see the module doc); never empty inside a list,
/// and its first entry always stores its element whole.
#[derive(Debug, Clone, Default)]
struct Chunk {
    data: Vec<u8>,
    count: u32,
    /// Offset of an entry stored whole, as late in the chunk as the last
    /// operation at the tail left it: RPUSH and RPOP decode from there. Any
    /// whole entry is correct (0, the first, always is), a late one is fast.
    /// It fills what would be padding after `count`.
    restart: u32,
}

// ---- entry encoding ----

/// Where entries are written: a chunk's buffer, an [`EntryBuf`], or a slice
/// made room for in a chunk.
trait Sink {
    fn put(&mut self, bytes: &[u8]);
    fn put_byte(&mut self, byte: u8);
}

/// Growable buffers: `Vec` and `SmallVec` spell these the same.
macro_rules! growable_sink {
    ($($buf:ty),*) => {$(
        impl Sink for $buf {
            #[inline]
            fn put(&mut self, bytes: &[u8]) {
                self.extend_from_slice(bytes);
            }
            #[inline]
            fn put_byte(&mut self, byte: u8) {
                self.push(byte);
            }
        }
    )*};
}
growable_sink!(Vec<u8>, EntryBuf);

/// Writes into a slice front to back.
struct SliceSink<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Sink for SliceSink<'_> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.pos..self.pos + bytes.len()].copy_from_slice(bytes);
        self.pos += bytes.len();
    }
    #[inline]
    fn put_byte(&mut self, byte: u8) {
        self.buf[self.pos] = byte;
        self.pos += 1;
    }
}

fn varint_len(n: usize) -> usize {
    varint::len(n as u64)
}

#[inline]
fn put_varint(out: &mut impl Sink, n: usize) {
    if n < 0x80 {
        return out.put_byte(n as u8);
    }
    let mut buf = [0; 10];
    let used = varint::write(&mut buf, n as u64);
    out.put(&buf[..used]);
}

/// The varint at `at` and the offset after it.
#[inline(always)]
fn read_varint(data: &[u8], at: usize) -> (usize, usize) {
    let mut pos = at;
    (varint::read(data, &mut pos) as usize, pos)
}

/// One stored entry: its element is the previous element's first `shared`
/// bytes (none for an element stored whole) followed by `suffix`.
struct Entry<'a> {
    shared: usize,
    suffix: &'a [u8],
    /// Offset of the next entry.
    next: usize,
}

#[inline(always)]
fn entry(data: &[u8], at: usize) -> Entry<'_> {
    let (head, mut pos) = read_varint(data, at);
    let mut shared = 0;
    if head & 1 == 1 {
        (shared, pos) = read_varint(data, pos);
    }
    let next = pos + (head >> 1);
    Entry {
        shared,
        suffix: &data[pos..next],
        next,
    }
}

/// Whether the entry at `at` stores its element whole, and the next offset
/// (headers only).
#[inline(always)]
fn skip_entry(data: &[u8], at: usize) -> (bool, usize) {
    let (head, mut pos) = read_varint(data, at);
    let whole = head & 1 == 0;
    if !whole {
        pos = read_varint(data, pos).1;
    }
    (whole, pos + (head >> 1))
}

/// Encoded size of an element of `len` bytes sharing `shared` of them.
fn entry_len(shared: usize, len: usize) -> usize {
    if shared == 0 {
        varint_len(len << 1) + len
    } else {
        let suffix = len - shared;
        varint_len(suffix << 1 | 1) + varint_len(shared) + suffix
    }
}

/// How much of `common` leading bytes (in common with the previous element)
/// an element of `len` bytes shares: all when that makes its entry smaller.
#[inline]
fn worth_sharing(common: usize, len: usize) -> usize {
    if common > 1 && entry_len(common, len) < entry_len(0, len) {
        common
    } else {
        0
    }
}

#[inline]
fn put_entry(out: &mut impl Sink, shared: usize, item: &[u8]) {
    if shared == 0 {
        put_varint(out, item.len() << 1);
        out.put(item);
    } else {
        let suffix = &item[shared..];
        put_varint(out, suffix.len() << 1 | 1);
        put_varint(out, shared);
        out.put(suffix);
    }
}

/// Encodes `item` after `prev` (None: as a chunk's first element).
fn put_after(out: &mut impl Sink, prev: Option<&[u8]>, item: &[u8]) {
    let shared = prev.map_or(0, |p| worth_sharing(common_prefix(p, item), item.len()));
    put_entry(out, shared, item);
}

/// Length of the longest common prefix, eight bytes at a time.
#[inline(always)]
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let x = u64::from_le_bytes(a[i..i + 8].try_into().expect("8 bytes"));
        let y = u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        if x != y {
            return i + ((x ^ y).trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// An offset as a restart hint (0, always correct, if it does not fit).
fn hint(at: usize) -> u32 {
    u32::try_from(at).unwrap_or(0)
}

/// Turns `data[..old]` into `new` bytes (moving what follows) and returns
/// them to be written.
fn resize_front(data: &mut Vec<u8>, old: usize, new: usize) -> &mut [u8] {
    let len = data.len();
    if new > old {
        data.resize(len + new - old, 0);
        data.copy_within(old..len, new);
    } else if new < old {
        data.drain(..old - new);
    }
    &mut data[..new]
}

// ---- decoding ----

/// Decodes a chunk's elements front to back from a whole entry, lazily: the
/// current element is `prefix` (the first `shared` bytes of `base`, an
/// earlier element stored whole and lent from the chunk, or of `scratch`
/// when `base` is None) followed by `suffix` (lent from the chunk). A step
/// copies into `scratch` only the bytes the next element shares beyond the
/// current prefix, so a run sharing the same prefix copies nothing;
/// [`Walker::current`] joins the two parts when a caller needs one slice.
struct Walker<'a> {
    data: &'a [u8],
    /// Offset of the current entry.
    start: usize,
    /// Offset of the next entry.
    next: usize,
    base: Option<&'a [u8]>,
    shared: usize,
    suffix: &'a [u8],
    /// Whether the current entry stores its element whole.
    whole: bool,
    scratch: Vec<u8>,
}

/// Appends a few bytes without a call to `memcpy` (suffixes and the bytes a
/// step keeps are mostly short).
#[inline(always)]
fn append(dst: &mut Vec<u8>, src: &[u8]) {
    if src.len() <= 8 {
        src.iter().for_each(|&b| dst.push(b));
    } else {
        dst.extend_from_slice(src);
    }
}

/// Whether the element in two parts equals `item`.
pub fn parts_eq((head, tail): (&[u8], &[u8]), item: &[u8]) -> bool {
    item.len() == head.len() + tail.len() && item.starts_with(head) && item.ends_with(tail)
}

impl<'a> Walker<'a> {
    /// A walker whose first step decodes the entry at `at`, which must store
    /// its element whole.
    fn at(data: &'a [u8], at: usize) -> Self {
        Walker {
            data,
            start: at,
            next: at,
            base: Some(&[]),
            shared: 0,
            suffix: &[],
            whole: true,
            scratch: Vec::new(),
        }
    }

    /// Starts over at another chunk's first entry, keeping the scratch
    /// buffer.
    fn restart(&mut self, data: &'a [u8]) {
        let scratch = std::mem::take(&mut self.scratch);
        *self = Walker::at(data, 0);
        self.scratch = scratch;
    }

    fn done(&self) -> bool {
        self.next >= self.data.len()
    }

    /// Decodes the next entry (the caller checked there is one).
    #[inline]
    fn step(&mut self) {
        let e = entry(self.data, self.next);
        self.start = self.next;
        self.next = e.next;
        self.whole = e.shared == 0;
        if self.whole {
            self.base = Some(e.suffix);
            (self.shared, self.suffix) = (e.suffix.len(), &[]);
            return;
        }
        if e.shared > self.shared {
            // The next prefix reaches into the current suffix: keep those
            // bytes after the current prefix.
            let kept = &self.suffix[..e.shared - self.shared];
            self.own_prefix();
            append(&mut self.scratch, kept);
        }
        (self.shared, self.suffix) = (e.shared, e.suffix);
    }

    /// Moves the current prefix into `scratch` (no copy when it is there).
    #[inline]
    fn own_prefix(&mut self) {
        match self.base.take() {
            Some(base) => {
                self.scratch.clear();
                self.scratch.extend_from_slice(&base[..self.shared]);
            }
            None => {
                debug_assert!(self.shared <= self.scratch.len());
                self.scratch.truncate(self.shared);
            }
        }
    }

    fn skip(&mut self, entries: usize) {
        for _ in 0..entries {
            self.step();
        }
    }

    /// The element the last step decoded, in two parts.
    #[inline]
    fn parts(&self) -> (&[u8], &[u8]) {
        let base = match self.base {
            Some(base) => base,
            None => &self.scratch,
        };
        (&base[..self.shared], self.suffix)
    }

    /// The element the last step decoded, in one slice: lent from the chunk
    /// when it has no suffix beyond its prefix, else joined in `scratch`.
    #[inline]
    fn current(&mut self) -> &[u8] {
        if !self.suffix.is_empty() {
            let suffix = std::mem::take(&mut self.suffix);
            self.own_prefix();
            append(&mut self.scratch, suffix);
            self.shared = self.scratch.len();
        }
        self.parts().0
    }
}

impl Chunk {
    /// A chunk of one element.
    fn whole(item: &[u8]) -> Chunk {
        let mut data = Vec::with_capacity(entry_len(0, item.len()));
        put_entry(&mut data, 0, item);
        Chunk {
            data,
            count: 1,
            restart: 0,
        }
    }

    /// The first element, stored whole.
    fn first(&self) -> &[u8] {
        entry(&self.data, 0).suffix
    }

    /// A walker whose next step decodes element `index` (< count): the
    /// headers are skipped up to the last whole entry before it, and only
    /// the elements from there are rebuilt.
    fn walker_before(&self, index: usize) -> Walker<'_> {
        let (mut at, mut whole_at, mut whole_index) = (0, 0, 0);
        for i in 0..index {
            let (whole, next) = skip_entry(&self.data, at);
            if whole {
                (whole_at, whole_index) = (at, i);
            }
            at = next;
        }
        if skip_entry(&self.data, at).0 {
            (whole_at, whole_index) = (at, index);
        }
        let mut walker = Walker::at(&self.data, whole_at);
        walker.skip(index - whole_index);
        walker
    }

    /// A walker that has just decoded element `index`.
    fn walk_to(&self, index: usize) -> Walker<'_> {
        let mut walker = self.walker_before(index);
        walker.step();
        walker
    }

    /// Byte offset of entry `index` (headers only).
    fn offset_of(&self, index: usize) -> usize {
        let mut at = 0;
        for _ in 0..index {
            at = skip_entry(&self.data, at).1;
        }
        at
    }

    /// Points the restart hint at the last whole entry (headers only).
    fn refresh_restart(&mut self) {
        let (mut at, mut last) = (0, 0);
        while at < self.data.len() {
            let (whole, next) = skip_entry(&self.data, at);
            if whole {
                last = at;
            }
            at = next;
        }
        self.restart = hint(last);
    }

    /// For a push at the tail: the length of the prefix `item` has in
    /// common with the last element, and how many entries after the last
    /// whole one share a prefix. One pass from the restart hint, rebuilding
    /// no element: with `common` bytes in common with element `j - 1`,
    /// element `j` (the first `shared` bytes of `j - 1`, then a suffix) has
    /// the same `common` when `common < shared` (the mismatch lies in the
    /// shared part), and otherwise `shared` plus what its suffix has in
    /// common with the rest of `item`.
    fn tail_common(&mut self, item: &[u8]) -> (usize, u32) {
        let (mut at, mut common, mut run) = (self.restart as usize, 0, 0);
        let mut last_whole = at;
        while at < self.data.len() {
            let e = entry(&self.data, at);
            if e.shared == 0 {
                (last_whole, run) = (at, 0);
            } else {
                run += 1;
            }
            if common >= e.shared {
                common = e.shared;
                if !e.suffix.is_empty() {
                    common += common_prefix(e.suffix, &item[e.shared..]);
                }
            }
            at = e.next;
        }
        self.restart = hint(last_whole);
        (common, run)
    }

    /// Removes and returns the first element. The second becomes the first,
    /// stored whole: when it shares a prefix, its suffix stays in place and
    /// its new header and the prefix (copied from the first) go just before
    /// it, so the chunk's bytes move once, as for an element stored whole.
    fn pop_first(&mut self) -> Bytes24 {
        let first = entry(&self.data, 0);
        let item = Bytes24::new(first.suffix);
        let prefix_at = first.next - first.suffix.len();
        let second = entry(&self.data, first.next);
        let removed = if second.shared == 0 {
            first.next
        } else {
            let (shared, suffix_at) = (second.shared, second.next - second.suffix.len());
            let head = (shared + second.suffix.len()) << 1;
            // Never underflows: the first element's header, the second's and
            // its `shared` varint take at least as many bytes as the new
            // header.
            let from = suffix_at - shared - varint_len(head);
            self.data
                .copy_within(prefix_at..prefix_at + shared, suffix_at - shared);
            put_varint(
                &mut SliceSink {
                    buf: &mut self.data[from..],
                    pos: 0,
                },
                head,
            );
            from
        };
        self.data.drain(..removed);
        self.count -= 1;
        self.restart = hint((self.restart as usize).saturating_sub(removed));
        item
    }

    /// Removes and returns the last element, decoding from the restart hint.
    fn pop_last(&mut self) -> Bytes24 {
        let mut walker = Walker::at(&self.data, self.restart as usize);
        // The last whole entry before the one decoded last.
        let mut before = None;
        walker.step();
        while !walker.done() {
            if walker.whole {
                before = Some(walker.start);
            }
            walker.step();
        }
        let item = Bytes24::new(walker.current());
        let start = walker.start;
        drop(walker);
        self.data.truncate(start);
        self.count -= 1;
        match before {
            Some(at) => self.restart = hint(at),
            // The hint itself went: look for the last whole entry left.
            None => self.refresh_restart(),
        }
        item
    }

    /// Replaces elements `from..to` with `items` and re-encodes the element
    /// after them against its new predecessor (it stays whole if it was:
    /// it may be a restart point, and it is when it becomes the first).
    fn replace(&mut self, from: usize, to: usize, items: &[&[u8]]) {
        let mut walker = if from > 0 {
            self.walk_to(from - 1)
        } else {
            Walker::at(&self.data, 0)
        };
        let prev = (from > 0).then(|| EntryBuf::from_slice(walker.current()));
        let start = walker.next;
        walker.skip(to - from);
        let mut bytes = EntryBuf::new();
        let mut last = prev.as_deref();
        for &item in items {
            put_after(&mut bytes, last, item);
            last = Some(item);
        }
        let mut end = walker.next;
        if !walker.done() {
            walker.step();
            let whole = walker.whole;
            let following = walker.current();
            match whole {
                true => put_entry(&mut bytes, 0, following),
                false => put_after(&mut bytes, last, following),
            }
            end = walker.next;
        }
        drop(walker);
        self.data.splice(start..end, bytes);
        self.count = self.count - (to - from) as u32 + items.len() as u32;
        self.refresh_restart();
    }

    /// Rebuilds the chunk with only the elements `keep` accepts (called with
    /// each element's index in the chunk), re-encoding each kept element
    /// against the previous kept one, whole at least every [`RESTART`].
    fn retain(&mut self, mut keep: impl FnMut(usize) -> bool) {
        let mut data = Vec::with_capacity(self.data.len());
        let mut prev: Vec<u8> = Vec::new();
        let mut walker = Walker::at(&self.data, 0);
        let (mut count, mut index, mut run, mut restart) = (0, 0, 0, 0);
        while !walker.done() {
            walker.step();
            if keep(index) {
                let item = walker.current();
                let shared = if count == 0 || run + 1 >= RESTART {
                    0
                } else {
                    worth_sharing(common_prefix(&prev, item), item.len())
                };
                if shared == 0 {
                    (restart, run) = (data.len(), 0);
                } else {
                    run += 1;
                }
                put_entry(&mut data, shared, item);
                prev.clear();
                prev.extend_from_slice(item);
                count += 1;
            }
            index += 1;
        }
        drop(walker);
        data.shrink_to_fit();
        self.data = data;
        self.count = count;
        self.restart = hint(restart);
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
        self.extend(end, std::iter::once(item));
    }

    /// Pushes elements one after the other at `end` (LPUSH's order: the
    /// last one pushed left ends up first).
    pub fn extend<'i>(&mut self, end: End, items: impl IntoIterator<Item = &'i [u8]>) {
        match end {
            End::Left => items.into_iter().for_each(|item| self.push_front(item)),
            End::Right => self.push_back(items),
        }
    }

    /// LPUSH: the new element goes first, whole, and the old first one is
    /// re-encoded against it, except once every [`RESTART`] pushes, when it
    /// stays whole as a restart point. Its bytes past the shared prefix stay
    /// where they are; only what goes before them is written.
    fn push_front(&mut self, item: &[u8]) {
        self.len += 1;
        if let Some(chunk) = self.chunks.front_mut() {
            if chunk.count < CHUNK_ITEMS {
                let old = entry(&chunk.data, 0);
                let len = old.suffix.len();
                let shared = if chunk.count % RESTART == 0 {
                    0
                } else {
                    worth_sharing(common_prefix(item, old.suffix), len)
                };
                let (head, shared_len) = match shared {
                    0 => (len << 1, 0),
                    n => ((len - n) << 1 | 1, varint_len(n)),
                };
                let keep_from = old.next - (len - shared);
                let front = entry_len(0, item.len()) + varint_len(head) + shared_len;
                if chunk.data.len() - keep_from + front <= CHUNK_BYTES {
                    let mut out = SliceSink {
                        buf: resize_front(&mut chunk.data, keep_from, front),
                        pos: 0,
                    };
                    put_entry(&mut out, 0, item);
                    put_varint(&mut out, head);
                    if shared > 0 {
                        put_varint(&mut out, shared);
                    }
                    debug_assert_eq!(out.pos, front);
                    chunk.count += 1;
                    chunk.restart = match chunk.restart as usize {
                        // The old first stays whole: the latest restart known.
                        0 if shared == 0 => hint(entry_len(0, item.len())),
                        0 => 0,
                        at => hint(at - keep_from + front),
                    };
                    return;
                }
            }
            // A chunk that filled up keeps no spare capacity.
            chunk.data.shrink_to_fit();
        }
        self.chunks.push_front(Chunk::whole(item));
    }

    /// RPUSH: each element is encoded against the last one, whole after
    /// [`RESTART`] - 1 sharing entries in a row. The first element of a call
    /// learns the last element's prefix from the chunk (see
    /// [`Chunk::tail_common`]); the others compare with their predecessor.
    fn push_back<'i>(&mut self, items: impl IntoIterator<Item = &'i [u8]>) {
        // The back chunk's last element when this call pushed it, and how
        // many entries in a row share a prefix up to it.
        let mut tail: Option<(&[u8], u32)> = None;
        for item in items {
            self.len += 1;
            if let Some(chunk) = self.chunks.back_mut() {
                if chunk.count < CHUNK_ITEMS {
                    let (shared, run) = match tail {
                        Some((_, run)) if run + 1 >= RESTART => (0, run),
                        Some((prev, run)) => {
                            (worth_sharing(common_prefix(prev, item), item.len()), run)
                        }
                        None => match chunk.tail_common(item) {
                            (_, run) if run + 1 >= RESTART => (0, run),
                            (common, run) => (worth_sharing(common, item.len()), run),
                        },
                    };
                    if chunk.data.len() + entry_len(shared, item.len()) <= CHUNK_BYTES {
                        if shared == 0 {
                            chunk.restart = hint(chunk.data.len());
                        }
                        put_entry(&mut chunk.data, shared, item);
                        chunk.count += 1;
                        tail = Some((item, if shared == 0 { 0 } else { run + 1 }));
                        continue;
                    }
                }
                chunk.data.shrink_to_fit();
            }
            self.chunks.push_back(Chunk::whole(item));
            tail = Some((item, 0));
        }
    }

    pub fn pop(&mut self, end: End) -> Option<Bytes24> {
        let chunk = match end {
            End::Left => self.chunks.front_mut()?,
            End::Right => self.chunks.back_mut()?,
        };
        let popped = if chunk.count > 1 {
            match end {
                End::Left => chunk.pop_first(),
                End::Right => chunk.pop_last(),
            }
        } else {
            let item = Bytes24::new(chunk.first());
            match end {
                End::Left => self.chunks.pop_front(),
                End::Right => self.chunks.pop_back(),
            };
            let cap = self.chunks.capacity();
            if cap > 16 && self.chunks.len() < cap / 4 {
                self.chunks.shrink_to(cap / 2);
            }
            item
        };
        self.len -= 1;
        Some(popped)
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

    /// Element `index`: borrowed when it is stored whole, else rebuilt.
    pub fn get(&self, index: usize) -> Option<Cow<'_, [u8]>> {
        let (ci, within) = self.locate(index)?;
        let mut walker = self.chunks[ci].walk_to(within);
        walker.current();
        Some(match walker.base {
            Some(base) => Cow::Borrowed(&base[..walker.shared]),
            None => {
                walker.scratch.truncate(walker.shared);
                Cow::Owned(walker.scratch)
            }
        })
    }

    pub fn set(&mut self, index: usize, item: &[u8]) {
        let (ci, within) = self.locate(index).expect("index resolved by the caller");
        self.chunks[ci].replace(within, within + 1, &[item]);
        self.split_if_oversized(ci);
    }

    /// Every element, front to back (or back to front).
    pub fn cursor(&self) -> Cursor<'_> {
        Cursor::new(self, 0, self.len)
    }

    /// Elements `start..=end` (already clamped by the caller).
    pub fn range(&self, start: usize, end: usize) -> Cursor<'_> {
        Cursor::new(self, start, end + 1 - start)
    }

    /// Inserts `item` next to the first `pivot`; false when there is none.
    pub fn insert(&mut self, pivot: &[u8], item: &[u8], after: bool) -> bool {
        let mut found = None;
        let mut walker = Walker::at(&[], 0);
        'chunks: for (ci, chunk) in self.chunks.iter().enumerate() {
            walker.restart(&chunk.data);
            let mut i = 0;
            while !walker.done() {
                walker.step();
                if parts_eq(walker.parts(), pivot) {
                    found = Some((ci, i));
                    break 'chunks;
                }
                i += 1;
            }
        }
        drop(walker);
        let Some((ci, i)) = found else {
            return false;
        };
        let at = i + after as usize;
        self.chunks[ci].replace(at, at, &[item]);
        self.len += 1;
        self.split_if_oversized(ci);
        true
    }

    /// Splits a chunk that grew past twice the limit in the middle; the
    /// second half's first element is re-encoded whole.
    fn split_if_oversized(&mut self, ci: usize) {
        let chunk = &mut self.chunks[ci];
        if chunk.count < 2
            || (chunk.count <= 2 * CHUNK_ITEMS && chunk.data.len() <= 2 * CHUNK_BYTES)
        {
            return;
        }
        let half = chunk.count as usize / 2;
        let mut walker = chunk.walk_to(half);
        let rest = &chunk.data[walker.next..];
        let first = walker.current();
        let mut data = Vec::with_capacity(entry_len(0, first.len()) + rest.len());
        put_entry(&mut data, 0, first);
        data.extend_from_slice(rest);
        let at = walker.start;
        drop(walker);
        let mut tail = Chunk {
            data,
            count: chunk.count - half as u32,
            restart: 0,
        };
        tail.refresh_restart();
        chunk.data.truncate(at);
        chunk.data.shrink_to_fit();
        chunk.count = half as u32;
        chunk.refresh_restart();
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
        let mut hits = Vec::new();
        for ci in order {
            if removed == limit {
                break;
            }
            let chunk = &mut self.chunks[ci];
            hits.clear();
            let mut walker = Walker::at(&chunk.data, 0);
            let mut i = 0;
            while !walker.done() {
                walker.step();
                if parts_eq(walker.parts(), item) {
                    hits.push(i);
                }
                i += 1;
            }
            drop(walker);
            if count < 0 {
                hits.reverse();
            }
            hits.truncate(limit - removed);
            if hits.is_empty() {
                continue;
            }
            removed += hits.len();
            hits.sort_unstable();
            chunk.retain(|i| hits.binary_search(&i).is_err());
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
            chunk.replace(0, n, &[]);
            chunk.data.shrink_to_fit();
            break;
        }
    }

    /// Removes the last `n` elements (what remains needs no re-encoding).
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
            chunk.refresh_restart();
            break;
        }
    }
}

/// Reads a run of elements from either end, one at a time, each borrowed
/// from the cursor until the next call (elements sharing a prefix are
/// rebuilt in a buffer the cursor owns, so this is not an `Iterator`).
pub struct Cursor<'a> {
    list: &'a List,
    /// The chunk the front walker is in.
    chunk: usize,
    front: Walker<'a>,
    /// The elements of the chunk the back end is in, up to the next one to
    /// take from the back, laid end to end; `back_ends` marks where each
    /// ends (decoded when the back enters a chunk).
    back_items: Vec<u8>,
    back_ends: Vec<usize>,
    /// Index one past the last element not yet taken from the back.
    back_end: usize,
    remaining: usize,
}

impl<'a> Cursor<'a> {
    fn new(list: &'a List, start: usize, count: usize) -> Self {
        let mut cursor = Cursor {
            list,
            chunk: 0,
            front: Walker::at(&[], 0),
            back_items: Vec::new(),
            back_ends: Vec::new(),
            back_end: start + count,
            remaining: count,
        };
        if count > 0 {
            let (ci, within) = list.locate(start).expect("range inside the list");
            cursor.chunk = ci;
            cursor.front = list.chunks[ci].walker_before(within);
        }
        cursor
    }

    /// Elements not yet taken from either end.
    pub fn remaining(&self) -> usize {
        self.remaining
    }

    /// Decodes the next element from the front.
    #[inline]
    fn step_front(&mut self) -> bool {
        if self.remaining == 0 {
            return false;
        }
        while self.front.done() {
            self.chunk += 1;
            self.front.restart(&self.list.chunks[self.chunk].data);
        }
        self.front.step();
        self.remaining -= 1;
        true
    }

    /// The next element from the front.
    #[inline]
    pub fn next_front(&mut self) -> Option<&[u8]> {
        self.step_front().then(|| self.front.current())
    }

    /// The next element from the front in two parts, to be read one after
    /// the other (a prefix shared with earlier elements, then the rest):
    /// what a reader that copies the element anyway (a reply) takes, so the
    /// cursor does not join them first.
    #[inline]
    pub fn next_front_parts(&mut self) -> Option<(&[u8], &[u8])> {
        self.step_front().then(|| self.front.parts())
    }

    /// The next element from the back.
    pub fn next_back(&mut self) -> Option<&[u8]> {
        if self.remaining == 0 {
            return None;
        }
        if self.back_ends.is_empty() {
            let (ci, within) = self.list.locate(self.back_end - 1)?;
            let mut walker = Walker::at(&self.list.chunks[ci].data, 0);
            self.back_items.clear();
            for _ in 0..=within {
                walker.step();
                let (prefix, suffix) = walker.parts();
                self.back_items.extend_from_slice(prefix);
                self.back_items.extend_from_slice(suffix);
                self.back_ends.push(self.back_items.len());
            }
        }
        let end = self.back_ends.pop()?;
        let start = self.back_ends.last().copied().unwrap_or(0);
        self.back_end -= 1;
        self.remaining -= 1;
        Some(&self.back_items[start..end])
    }
}

impl<'a> FromIterator<&'a [u8]> for List {
    fn from_iter<I: IntoIterator<Item = &'a [u8]>>(iter: I) -> Self {
        let mut list = List::default();
        list.extend(End::Right, iter);
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> List {
        items.iter().map(|s| s.as_bytes()).collect()
    }

    fn forward(l: &List) -> Vec<Vec<u8>> {
        let mut items = l.cursor();
        let mut out = Vec::new();
        while let Some(item) = items.next_front() {
            out.push(item.to_vec());
        }
        out
    }

    fn backward(l: &List) -> Vec<Vec<u8>> {
        let mut items = l.cursor();
        let mut out = Vec::new();
        while let Some(item) = items.next_back() {
            out.push(item.to_vec());
        }
        out.reverse();
        out
    }

    fn contents(l: &List) -> Vec<String> {
        forward(l)
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect()
    }

    impl List {
        /// Every chunk non-empty, counted right, its first element whole, its
        /// restart hint on a whole entry and every shared prefix no longer
        /// than the previous element.
        fn check(&self) {
            let mut total = 0;
            for chunk in &self.chunks {
                assert!(chunk.count > 0, "empty chunk");
                let (mut at, mut count, mut prev_len) = (0, 0, 0);
                let mut restart_found = false;
                while at < chunk.data.len() {
                    let e = entry(&chunk.data, at);
                    if count == 0 {
                        assert_eq!(e.shared, 0, "a chunk's first element is whole");
                    }
                    if at == chunk.restart as usize {
                        assert_eq!(e.shared, 0, "the restart hint is a whole entry");
                        restart_found = true;
                    }
                    assert!(e.shared <= prev_len, "shares more than its predecessor has");
                    prev_len = e.shared + e.suffix.len();
                    at = e.next;
                    count += 1;
                }
                assert_eq!(at, chunk.data.len());
                assert!(restart_found, "the restart hint is an entry's offset");
                assert_eq!(count, chunk.count);
                total += count as usize;
            }
            assert_eq!(total, self.len);
        }
    }

    /// The longest run of entries sharing a prefix, over every chunk.
    fn longest_run(l: &List) -> u32 {
        let mut longest = 0;
        for chunk in &l.chunks {
            let (mut at, mut run) = (0, 0);
            while at < chunk.data.len() {
                let (whole, next) = skip_entry(&chunk.data, at);
                run = if whole { 0 } else { run + 1 };
                longest = longest.max(run);
                at = next;
            }
        }
        longest
    }

    #[test]
    fn varints_and_entry_sizes() {
        for n in [0usize, 1, 127, 128, 16383, 16384, 1 << 21, usize::MAX >> 1] {
            let mut out = Vec::new();
            put_varint(&mut out, n);
            assert_eq!(out.len(), varint_len(n), "{n}");
            assert_eq!(read_varint(&out, 0), (n, out.len()));
        }
        for (shared, len) in [(0, 0), (0, 63), (0, 64), (3, 3), (200, 300), (2, 9000)] {
            let item = vec![7u8; len];
            let mut out = Vec::new();
            put_entry(&mut out, shared, &item);
            assert_eq!(out.len(), entry_len(shared, len));
            let e = entry(&out, 0);
            assert_eq!(
                (e.shared, e.suffix.len(), e.next),
                (shared, len - shared, out.len())
            );
        }
        assert_eq!(worth_sharing(1, 10), 0, "a one-byte prefix saves nothing");
        assert_eq!(worth_sharing(2, 10), 2);
        assert_eq!(common_prefix(b"item:0:0000017", b"item:0:0000018"), 13);
        assert_eq!(common_prefix(b"abc", b"abcdef"), 3);
        assert_eq!(common_prefix(b"", b"x"), 0);
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

    #[test]
    fn edits_reencode_the_neighbours() {
        let names = ["user:1000", "user:1001", "user:1002", "user:1003"];
        let mut l = list(&names);
        l.check();
        assert!(matches!(l.get(0), Some(Cow::Borrowed(b"user:1000"))));
        assert_eq!(l.get(2).as_deref(), Some(&b"user:1002"[..]));
        assert!(
            matches!(l.get(2), Some(Cow::Owned(_))),
            "rebuilt from a prefix"
        );
        l.set(1, b"zzz");
        l.check();
        assert_eq!(contents(&l), ["user:1000", "zzz", "user:1002", "user:1003"]);
        assert!(l.insert(b"zzz", b"user:10025", true));
        l.check();
        assert_eq!(l.remove(b"zzz", 0), 1);
        l.check();
        assert_eq!(
            contents(&l),
            ["user:1000", "user:10025", "user:1002", "user:1003"]
        );
        assert_eq!(l.pop(End::Left).as_deref(), Some(&b"user:1000"[..]));
        l.check();
        assert_eq!(l.get(0).as_deref(), Some(&b"user:10025"[..]));
        l.push(End::Left, b"user:1");
        l.push(End::Left, b"user:");
        l.check();
        l.keep(2, 3);
        l.check();
        assert_eq!(contents(&l), ["user:10025", "user:1002"]);
        assert_eq!(l.pop(End::Right).as_deref(), Some(&b"user:1002"[..]));
        assert_eq!(backward(&l), forward(&l));
    }

    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Push(bool, Vec<Vec<u8>>),
        Pop(bool),
        Set(usize, Vec<u8>),
        Insert(u8, Vec<u8>, bool),
        Remove(u8, i64),
        Keep(usize, usize),
    }

    /// Elements LINSERT pivots and LREM targets are drawn from: runs of one
    /// byte and keys that share prefixes (one is a prefix of the others).
    fn pooled(k: u8) -> Vec<u8> {
        match k % 8 {
            0..4 => vec![k; 1 + k as usize],
            4 => b"job:".to_vec(),
            5 => b"job:0001".to_vec(),
            6 => b"job:0002".to_vec(),
            _ => b"job:00010".to_vec(),
        }
    }

    /// Elements of every header size (tiny, past one varint byte, past a
    /// chunk), ones sharing short and long (over 127 bytes) prefixes with
    /// their likely neighbours, and ones sharing nothing.
    fn element() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            6 => (0u8..8).prop_map(pooled),
            6 => (0u32..300).prop_map(|n| format!("job:{n:04}").into_bytes()),
            2 => proptest::collection::vec(any::<u8>(), 0..6),
            2 => (0u8..4, 100usize..300).prop_map(|(b, n)| vec![b; n]),
            2 => (0u32..50).prop_map(|n| {
                let mut v = vec![b'p'; 150];
                v.extend_from_slice(n.to_string().as_bytes());
                v
            }),
            1 => (0u8..4, 4000usize..5000).prop_map(|(b, n)| vec![b; n]),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            20 => (any::<bool>(), proptest::collection::vec(element(), 1..4))
                .prop_map(|(l, e)| Op::Push(l, e)),
            6 => any::<bool>().prop_map(Op::Pop),
            2 => (0usize..600, element()).prop_map(|(i, e)| Op::Set(i, e)),
            2 => (0u8..8, element(), any::<bool>()).prop_map(|(p, e, a)| Op::Insert(p, e, a)),
            1 => (0u8..8, -3i64..3).prop_map(|(b, c)| Op::Remove(b, c)),
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
                    Op::Push(left, items) => {
                        list.extend(end(left), items.iter().map(|e| e.as_slice()));
                        for e in items {
                            if left { model.push_front(e) } else { model.push_back(e) }
                        }
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
                    Op::Insert(k, e, after) => {
                        let pivot = pooled(k);
                        let at = model.iter().position(|x| *x == pivot);
                        prop_assert_eq!(list.insert(&pivot, &e, after), at.is_some());
                        if let Some(at) = at {
                            model.insert(at + after as usize, e);
                        }
                    }
                    Op::Remove(k, count) => {
                        let item = pooled(k);
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
                list.check();
                prop_assert_eq!(list.len(), model.len());
            }
            let expected: Vec<Vec<u8>> = model.iter().cloned().collect();
            prop_assert_eq!(&forward(&list), &expected);
            prop_assert_eq!(&backward(&list), &expected);
            for (i, want) in model.iter().enumerate() {
                let got = list.get(i);
                prop_assert_eq!(got.as_deref(), Some(want.as_slice()));
            }
            let mut parts = list.cursor();
            for want in &expected {
                let (prefix, suffix) = parts.next_front_parts().expect("as many as the model");
                prop_assert!(parts_eq((prefix, suffix), want));
                prop_assert_eq!([prefix, suffix].concat(), want.clone());
            }
            prop_assert!(parts.next_front_parts().is_none());
            if model.len() > 2 {
                let (a, b) = (model.len() / 3, model.len() - 2);
                let mut ranged = list.range(a, b);
                // Both ends of one cursor, alternating, meet in the middle.
                let (mut front, mut back) = (Vec::new(), Vec::new());
                while let Some(item) = ranged.next_front() {
                    front.push(item.to_vec());
                    match ranged.next_back() {
                        Some(item) => back.push(item.to_vec()),
                        None => break,
                    }
                }
                prop_assert_eq!(ranged.remaining(), 0);
                back.reverse();
                front.extend(back);
                prop_assert_eq!(&front[..], &expected[a..=b]);
            }
        }
    }

    #[test]
    fn elements_sharing_nothing_cost_a_byte_over_their_size() {
        // Reversed counters: neighbours differ in their first byte.
        let items: Vec<Vec<u8>> = (0..100_000u32)
            .map(|i| format!("{i:010}").bytes().rev().collect())
            .collect();
        let list: List = items.iter().map(|s| s.as_slice()).collect();
        let per_element = list.heap_size() as f64 / 100_000.0;
        assert!(
            per_element < 11.5,
            "{per_element} bytes per 10-byte element"
        );
    }

    #[test]
    fn sequential_elements_share_their_prefix() {
        // The `lists` dataset of benches/memory.py: 14-byte elements.
        let items: Vec<String> = (0..100_000).map(|j| format!("item:3:{j:07}")).collect();
        let list: List = items.iter().map(|s| s.as_bytes()).collect();
        let per_element = list.heap_size() as f64 / 100_000.0;
        assert!(per_element < 4.5, "{per_element} bytes per 14-byte element");
        // The same built from the left, one element at a time.
        let mut left = List::default();
        for item in items.iter().rev() {
            left.push(End::Left, item.as_bytes());
        }
        let per_element = left.heap_size() as f64 / 100_000.0;
        assert!(
            per_element < 4.5,
            "{per_element} bytes per element pushed left"
        );
        assert_eq!(forward(&left), forward(&list));
        let mut rebuilt = List::default();
        for item in &items {
            rebuilt.push(End::Right, item.as_bytes());
        }
        assert_eq!(
            rebuilt.heap_size(),
            list.heap_size(),
            "RPUSH one by one packs the same"
        );
        // Restart points bound what the tail decodes, however it was built.
        for l in [&list, &left, &rebuilt] {
            assert_eq!(longest_run(l), RESTART - 1);
            l.check();
        }
    }
}
