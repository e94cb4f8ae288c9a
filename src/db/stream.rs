//! The stream value: an append-only log of entries with IDs, plus consumer
//! groups and their pending entries lists (PEL).
//!
//! Storage is compact, in the spirit of Redis's listpacks in a rax: entries
//! live in blocks (a `BTreeMap` keyed by each block's first ID). A block is
//! one byte buffer; each entry in it stores its ID as varint deltas from the
//! block's master ID, and when its field names equal the block's master field
//! names (the common case: every XADD with the same fields) only its values.
//! A value equal to the previous entry's value at the same place is stored
//! as a back-reference to where it is written in full (event logs repeat a
//! few values, `completed`, `active`..., entry after entry), so entries still
//! read as slices of the block.
//! Deleting marks an entry's flag byte; a block whose entries are all deleted
//! goes away. A block closes once it holds `max_entries` entries (deleted
//! ones included) or `max_bytes` bytes, as Redis's `stream-node-max-*` do, so
//! approximate trimming (`~`) removes the same whole blocks Redis would.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::util::varint;

/// An entry ID: milliseconds and a sequence number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> Self {
        StreamId { ms, seq }
    }

    /// The smallest ID above this one, if any.
    pub fn next(self) -> Option<StreamId> {
        match self.seq.checked_add(1) {
            Some(seq) => Some(StreamId::new(self.ms, seq)),
            None => self.ms.checked_add(1).map(|ms| StreamId::new(ms, 0)),
        }
    }

    /// The largest ID below this one, if any.
    pub fn prev(self) -> Option<StreamId> {
        match self.seq.checked_sub(1) {
            Some(seq) => Some(StreamId::new(self.ms, seq)),
            None => self.ms.checked_sub(1).map(|ms| StreamId::new(ms, u64::MAX)),
        }
    }

    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// An entry as read out of a block: its ID and its field/value pairs,
/// flattened (`[f1, v1, f2, v2, ...]`), borrowing from the stream.
#[derive(Debug, PartialEq)]
pub struct StreamEntry<'a> {
    pub id: StreamId,
    pub fields: Vec<&'a [u8]>,
}

/// Block sizes, from `stream-node-max-bytes` / `stream-node-max-entries`
/// (0 = no limit on that measure).
#[derive(Clone, Copy, Debug)]
pub struct NodeLimits {
    pub max_bytes: usize,
    pub max_entries: usize,
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits {
            max_bytes: 4096,
            max_entries: 100,
        }
    }
}

const DELETED: u8 = 1;
const SAME_FIELDS: u8 = 2;

#[derive(Clone, Debug)]
struct Block {
    master: StreamId,
    master_fields: Vec<Vec<u8>>,
    /// Entries: flags, ID deltas, then values (and names unless SAME_FIELDS).
    data: Vec<u8>,
    /// Entries written, deleted ones included.
    count: u32,
    live: u32,
    /// ID of the last entry written (deleted or not).
    last: StreamId,
    /// Byte offset of the last entry written, whose values the next entry
    /// may refer back to.
    last_at: u32,
    /// Size the block would have as a Redis listpack, minus its live/deleted
    /// counters: blocks close at the same entries as Redis's nodes.
    listpack_bytes: u32,
}

/// Sizes of Redis listpack elements, to close blocks where Redis would.
mod listpack {
    /// Header (total bytes, element count) and end marker.
    pub const OVERHEAD: usize = 7;

    fn backlen(encoded: usize) -> usize {
        match encoded {
            0..=127 => 1,
            128..=16382 => 2,
            16383..=2097150 => 3,
            2097151..=268435454 => 4,
            _ => 5,
        }
    }

    pub fn int(v: i64) -> usize {
        let encoded = match v {
            0..=127 => 1,
            -4096..=4095 => 2,
            -32768..=32767 => 3,
            -8388608..=8388607 => 4,
            -2147483648..=2147483647 => 5,
            _ => 9,
        };
        encoded + backlen(encoded)
    }

    /// Strings that are canonical integers are stored as integers.
    pub fn string(s: &[u8]) -> usize {
        if s.len() <= 20
            && let Some(v) = crate::protocol::parse::parse_i64(s)
        {
            return int(v);
        }
        let encoded = match s.len() {
            0..=63 => 1 + s.len(),
            64..=4095 => 2 + s.len(),
            _ => 5 + s.len(),
        };
        encoded + backlen(encoded)
    }
}

/// A string in full: header `len << 1`, then its bytes.
fn put_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    varint::put(buf, (bytes.len() as u64) << 1);
    buf.extend_from_slice(bytes);
}

/// A copy of the string written in full at offset `earlier`: header
/// `distance << 1 | 1`, counted back from this header.
fn put_copy(buf: &mut Vec<u8>, earlier: usize) {
    let distance = (buf.len() - earlier) as u64;
    varint::put(buf, distance << 1 | 1);
}

/// The string at `*pos` (in full or a copy) and the offset of its bytes in
/// full, which a later copy refers to.
fn get_string<'a>(buf: &'a [u8], pos: &mut usize) -> (&'a [u8], usize) {
    let header_at = *pos;
    let header = varint::read(buf, pos);
    if header & 1 == 0 {
        let len = (header >> 1) as usize;
        let bytes = &buf[*pos..*pos + len];
        *pos += len;
        return (bytes, header_at);
    }
    let mut full = header_at - (header >> 1) as usize;
    let full_at = full;
    let len = (varint::read(buf, &mut full) >> 1) as usize;
    (&buf[full..full + len], full_at)
}

fn get_bytes<'a>(buf: &'a [u8], pos: &mut usize) -> &'a [u8] {
    get_string(buf, pos).0
}

/// One decoded entry position inside a block.
struct Decoded<'a> {
    flag_at: usize,
    flags: u8,
    entry: StreamEntry<'a>,
}

impl Block {
    fn new(id: StreamId, fields: &[&[u8]]) -> Self {
        let names: Vec<&[u8]> = fields.iter().step_by(2).copied().collect();
        // Master entry: field count, names, zero terminator.
        let master_bytes = listpack::int(names.len() as i64)
            + names.iter().map(|n| listpack::string(n)).sum::<usize>()
            + listpack::int(0);
        Block {
            master: id,
            master_fields: names.iter().map(|f| f.to_vec()).collect(),
            data: Vec::new(),
            count: 0,
            live: 0,
            last: id,
            last_at: 0,
            listpack_bytes: (listpack::OVERHEAD + master_bytes) as u32,
        }
    }

    /// Bytes of the equivalent Redis listpack.
    fn redis_bytes(&self) -> usize {
        let deleted = (self.count - self.live) as i64;
        self.listpack_bytes as usize + listpack::int(self.live as i64) + listpack::int(deleted)
    }

    /// Listpack bytes of one entry: flags, ID deltas, fields, element count.
    fn redis_entry_bytes(&self, id: StreamId, fields: &[&[u8]], same: bool) -> usize {
        let ms_delta = id.ms.wrapping_sub(self.master.ms) as i64;
        let seq_delta = id.seq.wrapping_sub(self.master.seq) as i64;
        let mut bytes = listpack::int(0) + listpack::int(ms_delta) + listpack::int(seq_delta);
        let elements = if same {
            bytes += fields
                .iter()
                .skip(1)
                .step_by(2)
                .map(|v| listpack::string(v))
                .sum::<usize>();
            3 + fields.len() / 2
        } else {
            bytes += listpack::int(fields.len() as i64 / 2);
            bytes += fields.iter().map(|v| listpack::string(v)).sum::<usize>();
            4 + fields.len()
        };
        bytes + listpack::int(elements as i64)
    }

    fn same_fields(&self, fields: &[&[u8]]) -> bool {
        fields.len() == self.master_fields.len() * 2
            && fields
                .iter()
                .step_by(2)
                .zip(&self.master_fields)
                .all(|(a, b)| *a == b.as_slice())
    }

    /// Where the last entry's values are stored in full, in order.
    fn last_values(&self) -> smallvec::SmallVec<[usize; 8]> {
        let mut out = smallvec::SmallVec::new();
        if self.count == 0 {
            return out;
        }
        let mut pos = self.last_at as usize;
        let flags = self.data[pos];
        pos += 1;
        varint::read(&self.data, &mut pos);
        varint::read(&self.data, &mut pos);
        if flags & SAME_FIELDS != 0 {
            for _ in 0..self.master_fields.len() {
                out.push(get_string(&self.data, &mut pos).1);
            }
        } else {
            for _ in 0..varint::read(&self.data, &mut pos) {
                get_string(&self.data, &mut pos);
                out.push(get_string(&self.data, &mut pos).1);
            }
        }
        out
    }

    /// Writes `value`, the `i`th of the entry, as a copy when the last
    /// entry's `i`th value is the same: event logs repeat a few values
    /// (`completed`, `active`...) entry after entry, and a copy costs a one-
    /// or two-byte header. Copies point at a value in full in this block,
    /// whose bytes never move (deletion only flags entries), so entries still
    /// read as borrowed slices.
    fn put_value(&mut self, i: usize, value: &[u8], previous: &[usize]) {
        if let Some(&full) = previous.get(i) {
            let mut at = full;
            let copy_header = varint::len(((self.data.len() - full) as u64) << 1 | 1);
            // A long way back, a copy's header could outgrow a short value.
            if get_string(&self.data, &mut at).0 == value
                && copy_header <= varint::len((value.len() as u64) << 1) + value.len()
            {
                return put_copy(&mut self.data, full);
            }
        }
        put_bytes(&mut self.data, value);
    }

    fn append(&mut self, id: StreamId, fields: &[&[u8]]) {
        let same = self.same_fields(fields);
        let previous = self.last_values();
        self.last_at = self.data.len() as u32;
        self.data.push(if same { SAME_FIELDS } else { 0 });
        let ms_delta = id.ms - self.master.ms;
        varint::put(&mut self.data, ms_delta);
        varint::put(
            &mut self.data,
            if ms_delta == 0 {
                id.seq - self.master.seq
            } else {
                id.seq
            },
        );
        if same {
            for (i, value) in fields.iter().skip(1).step_by(2).enumerate() {
                self.put_value(i, value, &previous);
            }
        } else {
            varint::put(&mut self.data, fields.len() as u64 / 2);
            for (i, pair) in fields.chunks(2).enumerate() {
                put_bytes(&mut self.data, pair[0]);
                self.put_value(i, pair[1], &previous);
            }
        }
        self.listpack_bytes += self.redis_entry_bytes(id, fields, same) as u32;
        self.count += 1;
        self.live += 1;
        self.last = id;
    }

    fn decode_at<'a>(&'a self, pos: &mut usize) -> Decoded<'a> {
        let flag_at = *pos;
        let flags = self.data[*pos];
        *pos += 1;
        let ms_delta = varint::read(&self.data, pos);
        let seq = varint::read(&self.data, pos);
        let id = if ms_delta == 0 {
            StreamId::new(self.master.ms, self.master.seq + seq)
        } else {
            StreamId::new(self.master.ms + ms_delta, seq)
        };
        let mut fields = Vec::new();
        if flags & SAME_FIELDS != 0 {
            fields.reserve(self.master_fields.len() * 2);
            for name in &self.master_fields {
                fields.push(name.as_slice());
                fields.push(get_bytes(&self.data, pos));
            }
        } else {
            let pairs = varint::read(&self.data, pos) as usize;
            fields.reserve(pairs * 2);
            for _ in 0..pairs * 2 {
                fields.push(get_bytes(&self.data, pos));
            }
        }
        Decoded {
            flag_at,
            flags,
            entry: StreamEntry { id, fields },
        }
    }

    /// Every entry, deleted ones included, in ID order.
    fn decode_all(&self) -> Vec<Decoded<'_>> {
        let mut out = Vec::with_capacity(self.count as usize);
        let mut pos = 0;
        while pos < self.data.len() {
            out.push(self.decode_at(&mut pos));
        }
        out
    }

    fn live_entries(&self) -> impl Iterator<Item = StreamEntry<'_>> {
        self.decode_all()
            .into_iter()
            .filter(|d| d.flags & DELETED == 0)
            .map(|d| d.entry)
    }

    /// Marks the entry `id` deleted; true when it was live.
    fn delete(&mut self, id: StreamId) -> bool {
        let found = self
            .decode_all()
            .iter()
            .find(|d| d.entry.id == id && d.flags & DELETED == 0)
            .map(|d| d.flag_at);
        match found {
            Some(at) => {
                self.data[at] |= DELETED;
                self.live -= 1;
                true
            }
            None => false,
        }
    }

    fn heap_size(&self) -> usize {
        self.data.capacity()
            + self.master_fields.capacity() * std::mem::size_of::<Vec<u8>>()
            + self.master_fields.iter().map(Vec::capacity).sum::<usize>()
    }
}

/// An entry delivered to a consumer and not yet acknowledged.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    pub consumer: Vec<u8>,
    /// Unix ms of the last delivery.
    pub delivery_ms: u64,
    pub delivery_count: u64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Consumer {
    /// Unix ms of the consumer's last read or claim.
    pub seen_ms: u64,
    pub pending: BTreeSet<StreamId>,
}

/// "The group's read counter is unknown" (after arbitrary SETIDs or XDELs).
pub const ENTRIES_READ_UNKNOWN: i64 = -1;

#[derive(Clone, Debug, Default)]
pub struct Group {
    pub last_id: StreamId,
    /// Logical count of entries the group read, or [`ENTRIES_READ_UNKNOWN`].
    pub entries_read: i64,
    pub pending: BTreeMap<StreamId, Pending>,
    /// By name; sorted, as XINFO CONSUMERS lists them.
    pub consumers: BTreeMap<Vec<u8>, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: i64) -> Self {
        Group {
            last_id,
            entries_read,
            ..Group::default()
        }
    }

    /// The consumer, created (seen now) if missing; the flag says whether it was.
    pub fn consumer(&mut self, name: &[u8], now_ms: u64) -> (&mut Consumer, bool) {
        let created = !self.consumers.contains_key(name);
        let consumer = self.consumers.entry(name.to_vec()).or_insert(Consumer {
            seen_ms: now_ms,
            pending: BTreeSet::new(),
        });
        (consumer, created)
    }

    /// Records a delivery of `id` to `consumer` now (a new PEL entry, or a
    /// pending one moving to this consumer).
    pub fn deliver(&mut self, id: StreamId, consumer: &[u8], now_ms: u64) {
        let previous = self.pending.insert(
            id,
            Pending {
                consumer: consumer.to_vec(),
                delivery_ms: now_ms,
                delivery_count: 1,
            },
        );
        if let Some(old) = previous
            && old.consumer != consumer
            && let Some(c) = self.consumers.get_mut(&old.consumer)
        {
            c.pending.remove(&id);
        }
        self.consumer(consumer, now_ms).0.pending.insert(id);
    }

    /// Acknowledges `id`; true when it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        let Some(pending) = self.pending.remove(&id) else {
            return false;
        };
        if let Some(c) = self.consumers.get_mut(&pending.consumer) {
            c.pending.remove(&id);
        }
        true
    }

    /// Removes a consumer and its pending entries; returns how many it had.
    pub fn remove_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let consumer = self.consumers.remove(name)?;
        for id in &consumer.pending {
            self.pending.remove(id);
        }
        Some(consumer.pending.len())
    }

    fn heap_size(&self) -> usize {
        // Rough per-node costs of the B-trees, like Redis's rax estimates.
        self.pending
            .values()
            .map(|p| 64 + p.consumer.capacity())
            .sum::<usize>()
            + self
                .consumers
                .iter()
                .map(|(name, c)| 64 + name.capacity() + c.pending.len() * 24)
                .sum::<usize>()
    }
}

/// How XADD/XTRIM trim.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

#[derive(Clone, Debug, Default)]
pub struct Stream {
    blocks: BTreeMap<StreamId, Block>,
    len: u64,
    pub last_id: StreamId,
    /// First live entry's ID, 0-0 when empty (XINFO's recorded-first-entry-id).
    pub first_id: StreamId,
    pub max_deleted_id: StreamId,
    /// Entries ever added (XINFO's entries-added).
    pub entries_added: u64,
    /// By name; sorted, as XINFO GROUPS lists them.
    pub groups: BTreeMap<Vec<u8>, Group>,
    limits: NodeLimits,
}

impl Stream {
    pub fn new(limits: NodeLimits) -> Self {
        Stream {
            limits,
            ..Stream::default()
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of blocks (XINFO's radix-tree-keys).
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }

    /// Nodes of a rax holding the block keys as 16-byte big-endian IDs
    /// (XINFO's radix-tree-nodes): the root, each key, each branching point
    /// and each child of one.
    pub fn rax_nodes(&self) -> usize {
        let keys: Vec<[u8; 16]> = self
            .blocks
            .keys()
            .map(|id| {
                let mut k = [0u8; 16];
                k[..8].copy_from_slice(&id.ms.to_be_bytes());
                k[8..].copy_from_slice(&id.seq.to_be_bytes());
                k
            })
            .collect();
        let mut nodes: BTreeSet<&[u8]> = BTreeSet::new();
        nodes.insert(&[]);
        for (i, key) in keys.iter().enumerate() {
            nodes.insert(key);
            if let Some(next) = keys.get(i + 1) {
                let common = key.iter().zip(next).take_while(|(a, b)| a == b).count();
                nodes.insert(&key[..common]);
                nodes.insert(&key[..common + 1]);
                nodes.insert(&next[..common + 1]);
            }
        }
        nodes.len()
    }

    pub fn set_limits(&mut self, limits: NodeLimits) {
        self.limits = limits;
    }

    /// Appends an entry; `id` must be above `last_id` (the caller checked).
    pub fn append(&mut self, id: StreamId, fields: &[&[u8]]) {
        debug_assert!(id > self.last_id || (self.last_id.is_zero() && self.len == 0));
        let limits = self.limits;
        // Redis's rule: the new entry's raw field and value bytes plus the
        // node's size must stay under the byte limit (0 means 1 GB).
        let raw_len: usize = fields.iter().map(|f| f.len()).sum();
        let max_bytes = match limits.max_bytes {
            0 => 1 << 30,
            n => n.min(1 << 30),
        };
        let room = self.blocks.values().next_back().is_some_and(|b| {
            b.redis_bytes() + raw_len < max_bytes
                && (limits.max_entries == 0 || (b.count as usize) < limits.max_entries)
        });
        if room {
            let block = self.blocks.values_mut().next_back().expect("last block");
            block.append(id, fields);
        } else {
            // The full block takes no more entries: give back its spare room
            // (up to half of it, as its buffer grew by doubling).
            if let Some(full) = self.blocks.values_mut().next_back() {
                full.data.shrink_to_fit();
            }
            let mut block = Block::new(id, fields);
            block.append(id, fields);
            self.blocks.insert(id, block);
        }
        if self.len == 0 {
            self.first_id = id;
        }
        self.len += 1;
        self.last_id = id;
        self.entries_added += 1;
    }

    /// Entries with `start <= id <= end`, in order (reversed with `rev`),
    /// until `f` returns false.
    pub fn range<'a>(
        &'a self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        mut f: impl FnMut(StreamEntry<'a>) -> bool,
    ) {
        if start > end {
            return;
        }
        // The block holding `start` begins at or before it.
        let first_key = self
            .blocks
            .range(..=start)
            .next_back()
            .map_or(start, |(k, _)| *k);
        let blocks = self.blocks.range(first_key..=end).map(|(_, b)| b);
        let in_range = |e: &StreamEntry| e.id >= start && e.id <= end;
        if rev {
            for block in blocks.rev() {
                let entries: Vec<_> = block.live_entries().collect();
                for entry in entries.into_iter().rev().filter(in_range) {
                    if !f(entry) {
                        return;
                    }
                }
            }
        } else {
            for block in blocks {
                for entry in block.live_entries() {
                    if entry.id > end {
                        return;
                    }
                    if entry.id >= start && !f(entry) {
                        return;
                    }
                }
            }
        }
    }

    /// Up to `count` entries (0 = all) in a range.
    pub fn collect_range(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        count: usize,
    ) -> Vec<StreamEntry<'_>> {
        let mut out = Vec::new();
        self.range(start, end, rev, |e| {
            out.push(e);
            count == 0 || out.len() < count
        });
        out
    }

    /// The live entry with this ID.
    pub fn get(&self, id: StreamId) -> Option<StreamEntry<'_>> {
        self.collect_range(id, id, false, 1).pop()
    }

    pub fn first_entry(&self) -> Option<StreamEntry<'_>> {
        self.collect_range(StreamId::MIN, StreamId::MAX, false, 1)
            .pop()
    }

    pub fn last_entry(&self) -> Option<StreamEntry<'_>> {
        self.collect_range(StreamId::MIN, StreamId::MAX, true, 1)
            .pop()
    }

    /// Deletes one entry; true when it existed.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((&key, block)) = self.blocks.range_mut(..=id).next_back() else {
            return false;
        };
        if !block.delete(id) {
            return false;
        }
        if block.live == 0 {
            self.blocks.remove(&key);
        }
        self.len -= 1;
        if id > self.max_deleted_id {
            self.max_deleted_id = id;
        }
        if id == self.first_id {
            self.first_id = self.first_entry().map_or(StreamId::MIN, |e| e.id);
        }
        true
    }

    /// Trims as XADD/XTRIM do; `approx` removes whole blocks only, and at
    /// most `limit` entries when `limit` is not 0. Returns entries removed.
    pub fn trim(&mut self, trim: Trim, approx: bool, limit: u64) -> u64 {
        let mut removed = 0u64;
        while let Some((&key, block)) = self.blocks.iter().next() {
            let whole_block_goes = match trim {
                Trim::MaxLen(max) => self.len - block.live as u64 >= max,
                Trim::MinId(min) => block.last < min,
            };
            if whole_block_goes {
                if limit != 0 && removed + block.live as u64 > limit {
                    break;
                }
                removed += block.live as u64;
                self.len -= block.live as u64;
                self.blocks.remove(&key);
                continue;
            }
            if approx {
                break;
            }
            // Exact: delete entries from the front of this block.
            let doomed: Vec<StreamId> = {
                let mut ids = Vec::new();
                let mut len = self.len;
                for entry in block.live_entries() {
                    let goes = match trim {
                        Trim::MaxLen(max) => len > max,
                        Trim::MinId(min) => entry.id < min,
                    };
                    if !goes {
                        break;
                    }
                    ids.push(entry.id);
                    len -= 1;
                }
                ids
            };
            let block = self.blocks.get_mut(&key).expect("front block");
            for id in &doomed {
                block.delete(*id);
            }
            removed += doomed.len() as u64;
            self.len -= doomed.len() as u64;
            if block.live == 0 {
                self.blocks.remove(&key);
            }
            break;
        }
        if removed > 0 {
            self.first_id = self.first_entry().map_or(StreamId::MIN, |e| e.id);
        }
        removed
    }

    /// Whether a deleted entry may lie in `start..=end` (the group read
    /// counters can no longer be trusted across it).
    pub fn range_has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.len == 0 || self.max_deleted_id.is_zero() || self.first_id > self.max_deleted_id {
            return false;
        }
        start <= self.max_deleted_id && self.max_deleted_id <= end
    }

    /// The logical position (1-based count of entries ever added) of `id`, or
    /// [`ENTRIES_READ_UNKNOWN`] when deletions make it unknowable.
    pub fn estimate_entries_read(&self, id: StreamId) -> i64 {
        let added = self.entries_added as i64;
        if self.entries_added == 0 {
            return 0;
        }
        if self.len == 0 && id <= self.last_id {
            return added;
        }
        if id == self.last_id {
            return added;
        }
        if id > self.last_id {
            return ENTRIES_READ_UNKNOWN;
        }
        let no_holes_ahead = self.max_deleted_id.is_zero() || self.max_deleted_id < self.first_id;
        if no_holes_ahead {
            if id < self.first_id {
                return added - self.len as i64;
            }
            if id == self.first_id {
                return added - self.len as i64 + 1;
            }
        }
        ENTRIES_READ_UNKNOWN
    }

    /// The group's lag (entries not yet delivered), if it can be known.
    pub fn lag(&self, group: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if group.entries_read != ENTRIES_READ_UNKNOWN
            && !self.range_has_tombstones(group.last_id, StreamId::MAX)
        {
            return Some(self.entries_added as i64 - group.entries_read);
        }
        let read = self.estimate_entries_read(group.last_id);
        (read != ENTRIES_READ_UNKNOWN).then(|| self.entries_added as i64 - read)
    }

    /// Moves a group's last-delivered ID forward to `id` (an entry it just
    /// delivered), keeping its read counter when it can.
    pub fn advance_group(&mut self, group_name: &[u8], id: StreamId) {
        let counter_valid = self
            .groups
            .get(group_name)
            .is_some_and(|g| g.entries_read != ENTRIES_READ_UNKNOWN)
            && !self.range_has_tombstones(id, StreamId::MAX);
        let estimate = self.estimate_entries_read(id);
        let entries_added = self.entries_added;
        let Some(group) = self.groups.get_mut(group_name) else {
            return;
        };
        if id <= group.last_id {
            return;
        }
        if counter_valid {
            group.entries_read += 1;
        } else if entries_added > 0 {
            group.entries_read = estimate;
        }
        group.last_id = id;
    }

    /// Heap bytes, for MEMORY USAGE and accounting.
    pub fn heap_size(&self) -> usize {
        // A B-tree node per ~11 blocks; count a key, a value and a share of it.
        let per_block = std::mem::size_of::<StreamId>() + std::mem::size_of::<Block>() + 8;
        self.blocks
            .values()
            .map(|b| b.heap_size() + per_block)
            .sum::<usize>()
            + self
                .groups
                .iter()
                .map(|(name, g)| 96 + name.capacity() + g.heap_size())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId::new(ms, seq)
    }

    fn ids(s: &Stream) -> Vec<StreamId> {
        s.collect_range(StreamId::MIN, StreamId::MAX, false, 0)
            .iter()
            .map(|e| e.id)
            .collect()
    }

    fn small() -> NodeLimits {
        NodeLimits {
            max_bytes: 0,
            max_entries: 3,
        }
    }

    #[test]
    fn entries_round_trip_with_shared_and_own_fields() {
        let mut s = Stream::new(small());
        s.append(id(1, 0), &[b"f", b"v1"]);
        s.append(id(1, 5), &[b"f", b"v2"]);
        s.append(id(300, 0), &[b"g", b"x", b"h", b"y"]);
        s.append(id(301, 0), &[]);
        let all = s.collect_range(StreamId::MIN, StreamId::MAX, false, 0);
        assert_eq!(all.len(), 4);
        assert_eq!(all[1].fields, vec![b"f".as_slice(), b"v2"]);
        assert_eq!(all[2].id, id(300, 0));
        assert_eq!(all[2].fields, vec![b"g".as_slice(), b"x", b"h", b"y"]);
        assert!(all[3].fields.is_empty());
        assert_eq!(s.block_count(), 2);
        let rev = s.collect_range(id(1, 1), id(300, 0), true, 0);
        assert_eq!(
            rev.iter().map(|e| e.id).collect::<Vec<_>>(),
            [id(300, 0), id(1, 5)]
        );
    }

    /// Values repeated from the previous entry are stored as copies, and
    /// every entry still reads back exactly, deleted neighbours or not.
    #[test]
    fn repeated_values_are_stored_once_per_block() {
        let limits = NodeLimits {
            max_bytes: 0,
            max_entries: 100,
        };
        let (mut repeated, mut distinct) = (Stream::new(limits), Stream::new(limits));
        for i in 0..100u64 {
            let n = i.to_string();
            repeated.append(id(1, i), &[b"event", b"completed", b"jobId", n.as_bytes()]);
            let v = format!("complet{i:02}");
            distinct.append(id(1, i), &[b"event", v.as_bytes(), b"jobId", n.as_bytes()]);
        }
        let bytes = |s: &Stream| s.blocks.values().map(|b| b.data.len()).sum::<usize>();
        // "completed" once in full, then a two-byte copy instead of ten bytes.
        assert!(bytes(&repeated) + 99 * 8 <= bytes(&distinct));
        repeated.delete(id(1, 0));
        repeated.delete(id(1, 50));
        let all = repeated.collect_range(StreamId::MIN, StreamId::MAX, false, 0);
        assert_eq!(all.len(), 98);
        for e in &all {
            let n = e.id.seq.to_string();
            assert_eq!(
                e.fields,
                vec![&b"event"[..], b"completed", b"jobId", n.as_bytes()]
            );
        }
    }

    proptest! {
        /// Entries with values drawn from a few (so runs repeat and copies
        /// chain) and field layouts that change between entries read back
        /// exactly as written.
        #[test]
        fn entries_read_back_as_written(
            entries in proptest::collection::vec(
                proptest::collection::vec((0..3u8, 0..4u8), 0..4), 1..300),
            block in 1..20usize,
        ) {
            let mut s = Stream::new(NodeLimits { max_bytes: 0, max_entries: block });
            let values: [&[u8]; 4] = [b"", b"a", b"completed", &[b'x'; 200]];
            let mut written = Vec::new();
            for (i, pairs) in entries.iter().enumerate() {
                let mut fields: Vec<Vec<u8>> = Vec::new();
                for &(f, v) in pairs {
                    fields.push(format!("f{f}").into_bytes());
                    fields.push(values[v as usize].to_vec());
                }
                let refs: Vec<&[u8]> = fields.iter().map(|f| f.as_slice()).collect();
                s.append(id(i as u64 / 3, i as u64 % 3), &refs);
                written.push(fields);
            }
            let all = s.collect_range(StreamId::MIN, StreamId::MAX, false, 0);
            prop_assert_eq!(all.len(), written.len());
            for (e, fields) in all.iter().zip(&written) {
                let want: Vec<&[u8]> = fields.iter().map(|f| f.as_slice()).collect();
                prop_assert_eq!(&e.fields, &want);
            }
        }
    }

    #[test]
    fn deleting_every_entry_of_a_block_drops_it() {
        let mut s = Stream::new(small());
        for ms in 1..=4 {
            s.append(id(ms, 0), &[b"f", b"v"]);
        }
        assert!(s.delete(id(1, 0)));
        assert!(!s.delete(id(1, 0)));
        assert_eq!(s.first_id, id(2, 0));
        assert!(s.delete(id(2, 0)) && s.delete(id(3, 0)));
        assert_eq!(s.block_count(), 1);
        assert_eq!(ids(&s), [id(4, 0)]);
        assert_eq!(s.max_deleted_id, id(3, 0));
    }

    #[test]
    fn approximate_trim_removes_whole_blocks_only() {
        let mut s = Stream::new(small());
        for ms in 1..=7 {
            s.append(id(ms, 0), &[b"f", b"v"]);
        }
        assert_eq!(s.trim(Trim::MaxLen(2), true, 0), 3);
        assert_eq!(s.len(), 4);
        assert_eq!(s.trim(Trim::MaxLen(2), false, 0), 2);
        assert_eq!(ids(&s), [id(6, 0), id(7, 0)]);
    }

    #[test]
    fn rax_node_counts_match_redis_for_small_streams() {
        let mut s = Stream::new(small());
        assert_eq!(s.rax_nodes(), 1);
        s.append(id(1, 1), &[b"a", b"1"]);
        assert_eq!(s.rax_nodes(), 2);
    }

    /// A plain model: the sorted list of live IDs.
    fn model_trim(model: &mut Vec<StreamId>, trim: Trim) {
        match trim {
            Trim::MaxLen(max) => {
                let excess = model.len().saturating_sub(max as usize);
                model.drain(..excess);
            }
            Trim::MinId(min) => model.retain(|&i| i >= min),
        }
    }

    proptest! {
        #[test]
        fn exact_trim_matches_a_model(
            gaps in proptest::collection::vec((0u64..3, 0u64..3), 1..60),
            deletions in proptest::collection::vec(0usize..60, 0..10),
            maxlen in 0u64..70,
            min_ms in 0u64..100,
            by_minid in any::<bool>(),
            block in 1usize..6,
        ) {
            let mut s = Stream::new(NodeLimits { max_bytes: 0, max_entries: block });
            let mut model = Vec::new();
            let mut last = id(0, 0);
            for (ms_gap, seq_gap) in gaps {
                let next = if ms_gap == 0 { id(last.ms, last.seq + seq_gap + 1) } else { id(last.ms + ms_gap, seq_gap) };
                s.append(next, &[b"f", b"v"]);
                model.push(next);
                last = next;
            }
            for d in deletions {
                if let Some(&victim) = model.get(d) {
                    prop_assert!(s.delete(victim));
                    model.remove(d);
                }
            }
            let trim = if by_minid { Trim::MinId(id(min_ms, 0)) } else { Trim::MaxLen(maxlen) };
            let before = model.len();
            model_trim(&mut model, trim);
            prop_assert_eq!(s.trim(trim, false, 0), (before - model.len()) as u64);
            prop_assert_eq!(ids(&s), model.clone());
            prop_assert_eq!(s.len(), model.len() as u64);
            prop_assert_eq!(s.first_id, model.first().copied().unwrap_or(StreamId::MIN));
            // Approximate trimming never removes more than the exact one would.
            let before = model.len() as u64;
            let removed = s.trim(trim, true, 0);
            prop_assert_eq!(removed, 0, "{} entries left", before);
        }
    }
}
