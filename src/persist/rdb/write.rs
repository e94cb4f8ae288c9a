//! Serialising values and files in RDB version 10, in the encodings Redis 7.0
//! writes: listpacks for small hashes and sorted sets, intsets for integer
//! sets, quicklist nodes (listpacks of at most 8 KB) for lists.

use super::codec::{self, ListpackBuilder, Lzf, op, put_double, put_len, put_string, ty};
use crate::db::Value;
use crate::db::set::Member;
use crate::db::value::StrValue;

/// Largest listpack in one quicklist node (`list-max-listpack-size -2`).
const QUICKLIST_NODE_BYTES: usize = 8192;

/// The type byte a value is written with.
pub fn type_of(value: &Value) -> u8 {
    match value {
        Value::Str(_) => ty::STRING,
        Value::List(_) => ty::LIST_QUICKLIST_2,
        Value::Hash(h) if h.is_packed() => ty::HASH_LISTPACK,
        Value::Hash(_) => ty::HASH,
        Value::Set(s) if s.encoding() == "intset" => ty::SET_INTSET,
        Value::Set(_) => ty::SET,
        Value::ZSet(z) if z.encoding() == "listpack" => ty::ZSET_LISTPACK,
        Value::ZSet(_) => ty::ZSET_2,
        Value::Stream(_) => ty::STREAM_LISTPACKS_2,
    }
}

/// Appends the value's payload (without its type byte).
pub fn put_value(out: &mut Vec<u8>, value: &Value, compress: Lzf) {
    match value {
        Value::Str(StrValue::Int(n)) => codec::put_i64_string(out, *n),
        Value::Str(s) => put_string(out, &s.to_vec(), compress),
        Value::List(list) => {
            let mut nodes: Vec<Vec<u8>> = Vec::new();
            let mut node = ListpackBuilder::default();
            let mut items = list.cursor();
            while let Some(item) = items.next_front() {
                if node.count() > 0 && node.byte_len() + item.len() + 11 > QUICKLIST_NODE_BYTES {
                    nodes.push(std::mem::take(&mut node).finish());
                }
                node.push(item);
            }
            if node.count() > 0 {
                nodes.push(node.finish());
            }
            put_len(out, nodes.len() as u64);
            for lp in nodes {
                put_len(out, codec::NODE_PACKED);
                put_string(out, &lp, compress);
            }
        }
        Value::Hash(h) if h.is_packed() => {
            let mut lp = ListpackBuilder::default();
            h.for_each(|f, v| {
                lp.push(f);
                lp.push(v);
            });
            put_string(out, &lp.finish(), compress);
        }
        Value::Hash(h) => {
            put_len(out, h.len() as u64);
            h.for_each(|f, v| {
                put_string(out, f, compress);
                put_string(out, v, compress);
            });
        }
        Value::Set(s) if s.encoding() == "intset" => {
            let mut ints: Vec<i64> = Vec::with_capacity(s.len());
            s.for_each(|m| {
                ints.push(match m {
                    Member::Int(n) => n,
                    Member::Bytes(b) => crate::protocol::parse::parse_i64(b).unwrap_or(0),
                })
            });
            ints.sort_unstable();
            put_string(out, &codec::write_intset(&ints), compress);
        }
        Value::Set(s) => {
            put_len(out, s.len() as u64);
            let mut scratch = itoa::Buffer::new();
            s.for_each(|m| put_string(out, m.bytes(&mut scratch), compress));
        }
        Value::ZSet(z) if z.encoding() == "listpack" => {
            let mut lp = ListpackBuilder::default();
            z.visit_ranks(0, z.len(), false, |m, s| {
                lp.push(m);
                match codec::score_text(s) {
                    Some(n) => lp.push_int(n),
                    None => lp.push_str(crate::protocol::reply::format_double(s).as_bytes()),
                }
            });
            put_string(out, &lp.finish(), compress);
        }
        Value::ZSet(z) => {
            // Highest score first, as Redis walks its skiplist from the tail.
            put_len(out, z.len() as u64);
            z.visit_ranks(0, z.len(), true, |m, s| {
                put_string(out, m, compress);
                put_double(out, s);
            });
        }
        Value::Stream(s) => super::stream::put_stream(out, s, compress),
    }
}

/// DUMP's payload: type, value, RDB version, CRC64 of all that.
pub fn dump_payload(value: &Value, compress: Lzf) -> Vec<u8> {
    let mut out = vec![type_of(value)];
    put_value(&mut out, value, compress);
    out.extend_from_slice(&codec::RDB_VERSION.to_le_bytes());
    let crc = codec::crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// One key with its expiry (absolute Unix ms) and access metadata.
pub fn put_key(
    out: &mut Vec<u8>,
    key: &[u8],
    value: &Value,
    expire_ms: Option<u64>,
    access: Access,
    compress: Lzf,
) {
    if let Some(when) = expire_ms {
        out.push(op::EXPIRETIME_MS);
        out.extend_from_slice(&when.to_le_bytes());
    }
    match access {
        Access::None => {}
        Access::Idle(secs) => {
            out.push(op::IDLE);
            put_len(out, secs);
        }
        Access::Freq(counter) => out.extend_from_slice(&[op::FREQ, counter]),
    }
    out.push(type_of(value));
    put_string(out, key, compress);
    put_value(out, value, compress);
}

/// What Redis records of a key's accesses: idle seconds under an LRU policy,
/// the LFU counter under an LFU policy, nothing otherwise.
#[derive(Clone, Copy, Debug)]
pub enum Access {
    None,
    Idle(u64),
    Freq(u8),
}

pub fn put_aux(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.push(op::AUX);
    put_string(out, name.as_bytes(), Lzf::Off);
    put_string(out, value, Lzf::Off);
}

/// The magic, version and the aux fields Redis 7.0 writes.
pub fn put_header(out: &mut Vec<u8>, used_mem: u64, now_secs: u64) {
    out.extend_from_slice(format!("REDIS{:04}", codec::RDB_VERSION).as_bytes());
    put_aux(out, "redis-ver", crate::REDIS_VERSION.as_bytes());
    put_aux(out, "redis-bits", b"64");
    put_aux(out, "ctime", now_secs.to_string().as_bytes());
    put_aux(out, "used-mem", used_mem.to_string().as_bytes());
    put_aux(out, "aof-base", b"0");
}

pub fn put_select_db(out: &mut Vec<u8>, db: usize, keys: usize, expires: usize) {
    out.push(op::SELECTDB);
    put_len(out, db as u64);
    out.push(op::RESIZEDB);
    put_len(out, keys as u64);
    put_len(out, expires as u64);
}
