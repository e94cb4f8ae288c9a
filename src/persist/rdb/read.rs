//! Reading RDB files (versions 1 to 10) and DUMP payloads into ferrokv
//! values, in every encoding Redis 7.0 loads: plain, ziplist, zipmap,
//! intset, listpack, quicklist (ziplist or listpack nodes). Values are built
//! in the encoding ferrokv would pick for them under the current limits.

use super::codec::{self, Error, Result, bad, op, ty};
use super::write::Access;
use crate::db::Value;
use crate::db::hash::{Hash, HashLimits};
use crate::db::list::List;
use crate::db::set::Set;
use crate::db::zset::{self, ZSet};

/// The encoding thresholds values are rebuilt under.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub hash: HashLimits,
    pub zset: zset::Limits,
    pub max_intset: usize,
    pub stream: crate::db::stream::NodeLimits,
}

impl Limits {
    pub fn from_config(config: &crate::config::Config) -> Self {
        Limits {
            hash: HashLimits::from_config(config),
            zset: zset::Limits {
                max_entries: config.zset_max_listpack_entries,
                max_value: config.zset_max_listpack_value,
            },
            max_intset: config.set_max_intset_entries,
            stream: {
                let number = |name: &str, default: usize| {
                    config
                        .value(name)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(default)
                };
                let defaults = crate::db::stream::NodeLimits::default();
                crate::db::stream::NodeLimits {
                    max_bytes: number("stream-node-max-bytes", defaults.max_bytes),
                    max_entries: number("stream-node-max-entries", defaults.max_entries),
                }
            },
        }
    }
}

/// A cursor over a payload.
pub struct Input<'a> {
    data: &'a [u8],
    pub pos: usize,
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Input { data, pos: 0 }
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return bad("Unexpected EOF reading RDB file");
        };
        let slice = &self.data[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    pub fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N]> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }

    /// A length, or the tag of a special string encoding (`Err` side: the tag).
    fn len_or_special(&mut self) -> Result<std::result::Result<u64, u8>> {
        let first = self.byte()?;
        Ok(match first >> 6 {
            0 => Ok((first & 0x3F) as u64),
            1 => Ok((((first & 0x3F) as u64) << 8) | self.byte()? as u64),
            2 => match first {
                0x80 => Ok(u32::from_be_bytes(self.fixed()?) as u64),
                0x81 => Ok(u64::from_be_bytes(self.fixed()?)),
                _ => return bad(format!("Unknown length encoding {first} in rdbLoadLen()")),
            },
            _ => Err(first & 0x3F),
        })
    }

    pub fn length(&mut self) -> Result<u64> {
        match self.len_or_special()? {
            Ok(n) => Ok(n),
            Err(_) => bad("unexpected string encoding where a length was expected"),
        }
    }

    /// A length bounded by what is left of the input (so a corrupt count
    /// cannot make us reserve absurd amounts of memory).
    fn count(&mut self) -> Result<usize> {
        let n = self.length()?;
        if n > (self.data.len() - self.pos) as u64 {
            return bad("length exceeds the payload");
        }
        Ok(n as usize)
    }

    pub fn string(&mut self) -> Result<Vec<u8>> {
        match self.len_or_special()? {
            Ok(n) => {
                let n = usize::try_from(n).map_err(|_| Error("string too long".into()))?;
                Ok(self.take(n)?.to_vec())
            }
            Err(tag) => {
                let mut buf = itoa::Buffer::new();
                match tag {
                    0 => Ok(buf.format(self.byte()? as i8).as_bytes().to_vec()),
                    1 => Ok(buf
                        .format(i16::from_le_bytes(self.fixed()?))
                        .as_bytes()
                        .to_vec()),
                    2 => Ok(buf
                        .format(i32::from_le_bytes(self.fixed()?))
                        .as_bytes()
                        .to_vec()),
                    3 => {
                        let clen = self.count()?;
                        let len = self.length()? as usize;
                        let packed = self.take(clen)?;
                        if len > 1 << 32 {
                            return bad("LZF length");
                        }
                        let out = lzf::decompress(packed, len)
                            .map_err(|_| Error("Invalid LZF compressed string".into()))?;
                        if out.len() != len {
                            return bad("Invalid LZF compressed string");
                        }
                        Ok(out)
                    }
                    _ => bad(format!("Unknown RDB string encoding type {tag}")),
                }
            }
        }
    }

    fn binary_double(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.fixed()?))
    }

    /// The text doubles of RDB_TYPE_ZSET (before version 5's binary ones).
    fn text_double(&mut self) -> Result<f64> {
        let len = self.byte()?;
        match len {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => parse_score(self.take(n as usize)?),
        }
    }
}

fn parse_score(text: &[u8]) -> Result<f64> {
    let s = std::str::from_utf8(text).map_err(|_| Error("bad score".into()))?;
    let v = match s {
        "inf" | "+inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        _ => s.parse().map_err(|_| Error(format!("bad score '{s}'")))?,
    };
    if v.is_nan() {
        return bad("NaN score");
    }
    Ok(v)
}

fn list_from(items: &[Vec<u8>]) -> Result<Value> {
    if items.is_empty() {
        return bad("empty list");
    }
    Ok(Value::List(Box::new(
        items.iter().map(|v| v.as_slice()).collect::<List>(),
    )))
}

fn hash_from(items: Vec<Vec<u8>>, limits: &Limits) -> Result<Value> {
    if items.is_empty() || items.len() % 2 != 0 {
        return bad("hash with an odd or zero item count");
    }
    let mut hash = Hash::default();
    for pair in items.chunks_exact(2) {
        if !hash.set(&pair[0], &pair[1], limits.hash) {
            return bad("duplicate hash field");
        }
    }
    Ok(Value::Hash(hash))
}

fn set_from(members: Vec<Vec<u8>>, limits: &Limits) -> Result<Value> {
    let Some(first) = members.first() else {
        return bad("empty set");
    };
    let mut set = if members.len() > limits.max_intset {
        Set::for_first_member(b"not an integer")
    } else {
        Set::for_first_member(first)
    };
    for m in &members {
        if !set.insert(m, limits.max_intset) {
            return bad("duplicate set member");
        }
    }
    Ok(Value::Set(Box::new(set)))
}

fn zset_from(entries: Vec<(Vec<u8>, f64)>, limits: &Limits) -> Result<Value> {
    if entries.is_empty() {
        return bad("empty sorted set");
    }
    let n = entries.len();
    let z = ZSet::from_entries(entries, limits.zset);
    if z.len() != n {
        return bad("duplicate sorted set member");
    }
    Ok(Value::ZSet(z))
}

fn pairs_to_zset(items: Vec<Vec<u8>>, limits: &Limits) -> Result<Value> {
    if items.len() % 2 != 0 {
        return bad("sorted set with an odd item count");
    }
    let mut entries = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(m), Some(s)) = (it.next(), it.next()) {
        entries.push((m, parse_score(&s)?));
    }
    zset_from(entries, limits)
}

/// Reads a value of type `kind`.
pub fn read_value(inp: &mut Input<'_>, kind: u8, limits: &Limits) -> Result<Value> {
    match kind {
        ty::STRING => Ok(Value::str(&inp.string()?)),
        ty::LIST => {
            let n = inp.count()?;
            let items = (0..n).map(|_| inp.string()).collect::<Result<Vec<_>>>()?;
            list_from(&items)
        }
        ty::LIST_ZIPLIST => list_from(&codec::read_ziplist(&inp.string()?)?),
        ty::LIST_QUICKLIST | ty::LIST_QUICKLIST_2 => {
            let nodes = inp.count()?;
            let mut items = Vec::new();
            for _ in 0..nodes {
                if kind == ty::LIST_QUICKLIST {
                    items.extend(codec::read_ziplist(&inp.string()?)?);
                    continue;
                }
                let container = inp.length()?;
                let blob = inp.string()?;
                match container {
                    codec::NODE_PLAIN => items.push(blob),
                    codec::NODE_PACKED => {
                        let node = codec::read_listpack(&blob)?;
                        if node.is_empty() {
                            return bad("empty quicklist node");
                        }
                        items.extend(node);
                    }
                    _ => return bad(format!("quicklist container {container}")),
                }
            }
            list_from(&items)
        }
        ty::SET => {
            let n = inp.count()?;
            let members = (0..n).map(|_| inp.string()).collect::<Result<Vec<_>>>()?;
            set_from(members, limits)
        }
        ty::SET_LISTPACK => set_from(codec::read_listpack(&inp.string()?)?, limits),
        ty::SET_INTSET => {
            let ints = codec::read_intset(&inp.string()?)?;
            let members = ints
                .iter()
                .map(|n| itoa::Buffer::new().format(*n).as_bytes().to_vec())
                .collect();
            set_from(members, limits)
        }
        ty::ZSET | ty::ZSET_2 => {
            let n = inp.count()?;
            let mut entries = Vec::with_capacity(n);
            for _ in 0..n {
                let member = inp.string()?;
                let score = if kind == ty::ZSET_2 {
                    inp.binary_double()?
                } else {
                    inp.text_double()?
                };
                if score.is_nan() {
                    return bad("NaN score");
                }
                entries.push((member, score));
            }
            zset_from(entries, limits)
        }
        ty::ZSET_ZIPLIST => pairs_to_zset(codec::read_ziplist(&inp.string()?)?, limits),
        ty::ZSET_LISTPACK => pairs_to_zset(codec::read_listpack(&inp.string()?)?, limits),
        ty::HASH => {
            let n = inp.count()?;
            let mut items = Vec::with_capacity(n * 2);
            for _ in 0..n * 2 {
                items.push(inp.string()?);
            }
            hash_from(items, limits)
        }
        ty::HASH_ZIPMAP => hash_from(codec::read_zipmap(&inp.string()?)?, limits),
        ty::HASH_ZIPLIST => hash_from(codec::read_ziplist(&inp.string()?)?, limits),
        ty::HASH_LISTPACK => hash_from(codec::read_listpack(&inp.string()?)?, limits),
        ty::STREAM_LISTPACKS | ty::STREAM_LISTPACKS_2 | ty::STREAM_LISTPACKS_3 => {
            let version = match kind {
                ty::STREAM_LISTPACKS => 1,
                ty::STREAM_LISTPACKS_2 => 2,
                _ => 3,
            };
            let s = super::stream::read_stream(inp, version, limits.stream)?;
            Ok(Value::Stream(Box::new(s)))
        }
        6 | 7 => bad("module values are not supported"),
        other => bad(format!("Unknown RDB encoding type {other}")),
    }
}

/// Checks a DUMP payload's footer; the value bytes and their type on success.
pub fn check_payload(payload: &[u8]) -> Option<&[u8]> {
    if payload.len() < 10 {
        return None;
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > codec::RDB_READ_VERSION {
        return None;
    }
    let crc = u64::from_le_bytes(footer[2..].try_into().unwrap());
    (codec::crc64(&payload[..payload.len() - 8]) == crc).then_some(body)
}

/// Decodes a checked payload body (type byte + value).
pub fn read_payload(body: &[u8], limits: &Limits) -> Result<Value> {
    let mut inp = Input::new(body);
    let kind = inp.byte()?;
    let value = read_value(&mut inp, kind, limits)?;
    if !inp.at_end() {
        return bad("trailing bytes");
    }
    Ok(value)
}

/// One key read from a file.
pub struct LoadedKey {
    pub db: usize,
    pub key: Vec<u8>,
    pub value: Value,
    pub expire_ms: Option<u64>,
    pub access: Access,
}

/// What a load saw besides keys.
#[derive(Default, Debug)]
pub struct LoadInfo {
    pub version: u16,
    pub keys: u64,
    pub expired_skipped: u64,
    pub aux: Vec<(String, String)>,
}

/// Parses a whole RDB file, handing each live key to `sink`; keys whose
/// expiry is at or before `now_ms` are skipped.
pub fn read_file(
    data: &[u8],
    limits: &Limits,
    databases: usize,
    now_ms: u64,
    mut sink: impl FnMut(LoadedKey),
) -> Result<LoadInfo> {
    if data.len() < 9 || &data[..5] != b"REDIS" {
        return bad("Wrong signature trying to load DB from file");
    }
    let version: u16 = std::str::from_utf8(&data[5..9])
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or(Error("Wrong signature trying to load DB from file".into()))?;
    if !(1..=codec::RDB_READ_VERSION).contains(&version) {
        return bad(format!("Can't handle RDB format version {version}"));
    }
    // The checksum first: a torn or corrupted file is refused before any of
    // it is parsed (a zero checksum means the writer had `rdbchecksum no`).
    if version >= 5 {
        if data.len() < 18 {
            return bad("Short read or OOM loading DB. Unrecoverable error, aborting now.");
        }
        let expected = u64::from_le_bytes(data[data.len() - 8..].try_into().unwrap());
        if expected != 0 && codec::crc64(&data[..data.len() - 8]) != expected {
            return bad("Wrong RDB checksum. Aborting now.");
        }
    }
    let mut info = LoadInfo {
        version,
        ..LoadInfo::default()
    };
    let mut inp = Input::new(data);
    inp.pos = 9;
    let mut db = 0;
    let mut expire_ms = None;
    let mut access = Access::None;
    loop {
        let kind = inp.byte()?;
        match kind {
            op::EXPIRETIME_MS => {
                expire_ms = Some(u64::from_le_bytes(inp.fixed()?));
                continue;
            }
            op::EXPIRETIME => {
                expire_ms = Some(u32::from_le_bytes(inp.fixed()?) as u64 * 1000);
                continue;
            }
            op::IDLE => {
                access = Access::Idle(inp.length()?);
                continue;
            }
            op::FREQ => {
                access = Access::Freq(inp.byte()?);
                continue;
            }
            op::SELECTDB => {
                let n = inp.length()? as usize;
                if n >= databases {
                    return bad(format!(
                        "FATAL: Data file was created with a Redis server configured to handle more than {databases} databases. Exiting"
                    ));
                }
                db = n;
                continue;
            }
            op::RESIZEDB => {
                inp.length()?;
                inp.length()?;
                continue;
            }
            op::AUX => {
                let name = inp.string()?;
                let value = inp.string()?;
                info.aux.push((
                    String::from_utf8_lossy(&name).into_owned(),
                    String::from_utf8_lossy(&value).into_owned(),
                ));
                continue;
            }
            op::FUNCTION2 => {
                // Function libraries: ferrokv has no FUNCTION support; their
                // code is skipped so the keys still load.
                inp.string()?;
                tracing::warn!("Skipping a function library stored in the RDB file");
                continue;
            }
            op::FUNCTION | op::MODULE_AUX => {
                return bad("RDB file holds module or old-style function data");
            }
            op::EOF => break,
            _ => {}
        }
        let key = inp.string()?;
        let value = read_value(&mut inp, kind, limits)
            .map_err(|e| Error(format!("{e} (key '{}')", String::from_utf8_lossy(&key))))?;
        let when = expire_ms.take();
        let seen = std::mem::replace(&mut access, Access::None);
        if when.is_some_and(|w| w <= now_ms) {
            info.expired_skipped += 1;
            continue;
        }
        info.keys += 1;
        sink(LoadedKey {
            db,
            key,
            value,
            expire_ms: when,
            access: seen,
        });
    }
    if version >= 5 {
        inp.take(8)?;
    }
    if !inp.at_end() {
        return bad("Trailing bytes after the end of the RDB file");
    }
    Ok(info)
}

#[cfg(test)]
mod newer_versions {
    use super::*;
    use crate::persist::rdb::codec::{ListpackBuilder, Lzf, put_string};

    /// A DUMP payload as Redis 7.2 writes it: type byte, body, RDB 11 footer.
    fn payload_v11(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut payload = vec![kind];
        payload.extend_from_slice(body);
        payload.extend_from_slice(&11u16.to_le_bytes());
        let crc = codec::crc64(&payload);
        payload.extend_from_slice(&crc.to_le_bytes());
        payload
    }

    #[test]
    fn a_redis_7_2_set_listpack_loads() {
        let mut lp = ListpackBuilder::default();
        for member in [b"apple".as_slice(), b"17", b"-3"] {
            lp.push(member);
        }
        let mut body = Vec::new();
        put_string(&mut body, &lp.finish(), Lzf::Off);
        let payload = payload_v11(ty::SET_LISTPACK, &body);
        let checked = check_payload(&payload).expect("RDB 11 is read");
        let limits = Limits::from_config(&crate::config::Config::default());
        let Value::Set(set) = read_payload(checked, &limits).expect("decodes") else {
            panic!("not a set");
        };
        assert_eq!(set.len(), 3);
        assert!(set.contains(b"apple") && set.contains(b"17") && set.contains(b"-3"));
    }

    #[test]
    fn versions_past_11_are_refused() {
        let mut payload = payload_v11(ty::STRING, &[0x01, b'x']);
        let at = payload.len() - 10;
        payload[at..at + 2].copy_from_slice(&12u16.to_le_bytes());
        let crc = codec::crc64(&payload[..payload.len() - 8]);
        let end = payload.len() - 8;
        payload[end..].copy_from_slice(&crc.to_le_bytes());
        assert!(check_payload(&payload).is_none());
    }
}
