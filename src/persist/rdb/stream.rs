//! Streams in RDB_TYPE_STREAM_LISTPACKS_2 (Redis 7.0), and reading the older
//! RDB_TYPE_STREAM_LISTPACKS. Entries are written as Redis lays out its rax
//! of listpack nodes: each node keyed by its master ID (16 bytes, big
//! endian), its listpack opening with the master entry (live count, deleted
//! count, master field names, 0), then one entry per record (flags, ID
//! deltas, values alone when the names equal the master's, else the count,
//! names and values, then the number of listpack items the entry spans).
//! Then the metadata and the consumer groups with their PELs.

use super::codec::{self, Error, ListpackBuilder, Lzf, Result, bad, put_len, put_string};
use super::read::Input;
use crate::db::stream::{Consumer, Group, NodeLimits, Pending, Stream, StreamId};

const FLAG_DELETED: i64 = 1;
const FLAG_SAME_FIELDS: i64 = 2;
/// Node sizes we write (Redis's `stream-node-max-entries`/`-bytes` defaults).
const NODE_ENTRIES: usize = 100;
const NODE_BYTES: usize = 4096;

fn raw_id(out: &mut Vec<u8>, id: StreamId) {
    out.extend_from_slice(&id.ms.to_be_bytes());
    out.extend_from_slice(&id.seq.to_be_bytes());
}

struct Node {
    master: StreamId,
    master_fields: Vec<Vec<u8>>,
    /// The entries' items after the master entry.
    body: ListpackBuilder,
    count: usize,
}

impl Node {
    fn finish(self) -> (StreamId, Vec<u8>) {
        let mut lp = ListpackBuilder::default();
        lp.push_int(self.count as i64);
        lp.push_int(0);
        lp.push_int(self.master_fields.len() as i64);
        for f in &self.master_fields {
            lp.push(f);
        }
        lp.push_int(0);
        lp.extend(self.body);
        (self.master, lp.finish())
    }
}

pub fn put_stream(out: &mut Vec<u8>, s: &Stream, compress: Lzf) {
    let mut nodes: Vec<(StreamId, Vec<u8>)> = Vec::new();
    let mut node: Option<Node> = None;
    s.range(StreamId::MIN, StreamId::MAX, false, |e| {
        let full = node
            .as_ref()
            .is_some_and(|n| n.count >= NODE_ENTRIES || n.body.byte_len() >= NODE_BYTES);
        if full {
            nodes.push(node.take().expect("node").finish());
        }
        let n = node.get_or_insert_with(|| Node {
            master: e.id,
            master_fields: e.fields.iter().step_by(2).map(|f| f.to_vec()).collect(),
            body: ListpackBuilder::default(),
            count: 0,
        });
        let pairs = e.fields.len() / 2;
        let same = pairs == n.master_fields.len()
            && e.fields
                .iter()
                .step_by(2)
                .zip(&n.master_fields)
                .all(|(a, b)| *a == b.as_slice());
        let b = &mut n.body;
        b.push_int(if same { FLAG_SAME_FIELDS } else { 0 });
        b.push_int(e.id.ms.wrapping_sub(n.master.ms) as i64);
        b.push_int(e.id.seq.wrapping_sub(n.master.seq) as i64);
        if same {
            for v in e.fields.iter().skip(1).step_by(2) {
                b.push(v);
            }
            b.push_int(pairs as i64 + 3);
        } else {
            b.push_int(pairs as i64);
            for f in &e.fields {
                b.push(f);
            }
            b.push_int(2 * pairs as i64 + 4);
        }
        n.count += 1;
        true
    });
    if let Some(n) = node {
        nodes.push(n.finish());
    }
    put_len(out, nodes.len() as u64);
    for (master, lp) in &nodes {
        let mut key = Vec::with_capacity(16);
        raw_id(&mut key, *master);
        put_string(out, &key, Lzf::Off);
        put_string(out, lp, compress);
    }
    put_len(out, s.len());
    put_len(out, s.last_id.ms);
    put_len(out, s.last_id.seq);
    put_len(out, s.first_id.ms);
    put_len(out, s.first_id.seq);
    put_len(out, s.max_deleted_id.ms);
    put_len(out, s.max_deleted_id.seq);
    put_len(out, s.entries_added);
    put_len(out, s.groups.len() as u64);
    for (name, g) in &s.groups {
        put_string(out, name, compress);
        put_len(out, g.last_id.ms);
        put_len(out, g.last_id.seq);
        put_len(out, g.entries_read as u64);
        put_len(out, g.pending.len() as u64);
        for (id, p) in &g.pending {
            raw_id(out, *id);
            out.extend_from_slice(&p.delivery_ms.to_le_bytes());
            put_len(out, p.delivery_count);
        }
        put_len(out, g.consumers.len() as u64);
        for (cname, c) in &g.consumers {
            put_string(out, cname, compress);
            out.extend_from_slice(&c.seen_ms.to_le_bytes());
            put_len(out, c.pending.len() as u64);
            for id in &c.pending {
                raw_id(out, *id);
            }
        }
    }
}

fn read_raw_id(inp: &mut Input<'_>) -> Result<StreamId> {
    let raw = inp.take(16)?;
    Ok(StreamId::new(
        u64::from_be_bytes(raw[..8].try_into().unwrap()),
        u64::from_be_bytes(raw[8..].try_into().unwrap()),
    ))
}

fn read_id(inp: &mut Input<'_>) -> Result<StreamId> {
    Ok(StreamId::new(inp.length()?, inp.length()?))
}

fn int(item: Option<&Vec<u8>>) -> Result<i64> {
    item.and_then(|v| crate::protocol::parse::parse_i64(v))
        .ok_or_else(|| Error("stream listpack: integer expected".into()))
}

/// Reads a stream value of RDB_TYPE_STREAM_LISTPACKS (`version` 1), `_2` (2,
/// Redis 7.0) or `_3` (3, Redis 7.2: consumers add an active time, which
/// ferrokv does not keep).
pub fn read_stream(inp: &mut Input<'_>, version: u8, limits: NodeLimits) -> Result<Stream> {
    let v2 = version >= 2;
    let mut s = Stream::new(limits);
    let nodes = inp.length()?;
    for _ in 0..nodes {
        let key = inp.string()?;
        if key.len() != 16 {
            return bad("stream node key is not 128 bits");
        }
        let master = StreamId::new(
            u64::from_be_bytes(key[..8].try_into().unwrap()),
            u64::from_be_bytes(key[8..].try_into().unwrap()),
        );
        let items = codec::read_listpack(&inp.string()?)?;
        if items.is_empty() {
            return bad("empty stream listpack");
        }
        let mut it = items.iter();
        int(it.next())?; // live count
        int(it.next())?; // deleted count
        let nfields = int(it.next())? as usize;
        let master_fields: Vec<&Vec<u8>> = it.by_ref().take(nfields).collect();
        if master_fields.len() != nfields || int(it.next())? != 0 {
            return bad("stream master entry");
        }
        while let Some(flags) = it.next() {
            let flags = int(Some(flags))?;
            let ms = master.ms.wrapping_add(int(it.next())? as u64);
            let seq = master.seq.wrapping_add(int(it.next())? as u64);
            let mut fields: Vec<&[u8]> = Vec::new();
            if flags & FLAG_SAME_FIELDS != 0 {
                for f in &master_fields {
                    let v = it.next().ok_or(Error("stream entry values".into()))?;
                    fields.push(f);
                    fields.push(v);
                }
            } else {
                let n = int(it.next())? as usize;
                for _ in 0..n * 2 {
                    fields.push(it.next().ok_or(Error("stream entry fields".into()))?);
                }
            }
            int(it.next())?; // lp-count
            let id = StreamId::new(ms, seq);
            if flags & FLAG_DELETED != 0 {
                continue;
            }
            if !(s.is_empty() || id > s.last_id) {
                return bad("stream entries out of order");
            }
            s.append(id, &fields);
        }
    }
    let length = inp.length()?;
    if length != s.len() {
        return bad("stream length mismatch");
    }
    let last_id = read_id(inp)?;
    if last_id < s.last_id {
        return bad("stream last ID below its entries");
    }
    s.last_id = last_id;
    if v2 {
        s.first_id = read_id(inp)?;
        s.max_deleted_id = read_id(inp)?;
        s.entries_added = inp.length()?;
    } else {
        // Older files lack these: as Redis, count what is there.
        s.entries_added = s.len();
    }
    let groups = inp.length()?;
    for _ in 0..groups {
        let name = inp.string()?;
        let last = read_id(inp)?;
        let entries_read = if v2 {
            inp.length()? as i64
        } else {
            s.estimate_entries_read(last)
        };
        let mut group = Group::new(last, entries_read);
        let pel = inp.length()?;
        for _ in 0..pel {
            let id = read_raw_id(inp)?;
            let delivery_ms = u64::from_le_bytes(inp.take(8)?.try_into().unwrap());
            let delivery_count = inp.length()?;
            group.pending.insert(
                id,
                Pending {
                    consumer: Vec::new(),
                    delivery_ms,
                    delivery_count,
                },
            );
        }
        let consumers = inp.length()?;
        for _ in 0..consumers {
            let cname = inp.string()?;
            let seen_ms = u64::from_le_bytes(inp.take(8)?.try_into().unwrap());
            if version >= 3 {
                inp.take(8)?;
            }
            let mut consumer = Consumer {
                seen_ms,
                ..Consumer::default()
            };
            let owned = inp.length()?;
            for _ in 0..owned {
                let id = read_raw_id(inp)?;
                let Some(p) = group.pending.get_mut(&id) else {
                    return bad("consumer PEL entry missing from the group PEL");
                };
                p.consumer = cname.clone();
                consumer.pending.insert(id);
            }
            group.consumers.insert(cname, consumer);
        }
        if group.pending.values().any(|p| p.consumer.is_empty()) {
            return bad("group PEL entry without a consumer");
        }
        if s.groups.insert(name, group).is_some() {
            return bad("duplicate consumer group");
        }
    }
    Ok(s)
}
