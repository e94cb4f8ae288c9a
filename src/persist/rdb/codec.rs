//! The RDB format's building blocks, both ways: length and string encodings
//! (integer and LZF-compressed forms), binary doubles, the CRC64 (Jones, as
//! Redis uses), and the blob encodings Redis stores small aggregates in:
//! listpack (written and read), intset (written and read), ziplist (read
//! only: Redis 7.0 no longer writes it but loads it from older files).

use crc::{CRC_64_REDIS, Crc};

pub const RDB_VERSION: u16 = 10;
/// The newest version read: Redis 7.2's 11 only adds the two read-only types
/// above, so migrating from a newer Redis works too.
pub const RDB_READ_VERSION: u16 = 11;

/// Value type bytes.
pub mod ty {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    /// Redis 7.2 (RDB 11), read only: sets as listpacks, and streams whose
    /// consumers also carry an active time.
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;
}

/// Opcodes that are not value types.
pub mod op {
    pub const FUNCTION2: u8 = 0xF5;
    pub const FUNCTION: u8 = 0xF6;
    pub const MODULE_AUX: u8 = 0xF7;
    pub const IDLE: u8 = 0xF8;
    pub const FREQ: u8 = 0xF9;
    pub const AUX: u8 = 0xFA;
    pub const RESIZEDB: u8 = 0xFB;
    pub const EXPIRETIME_MS: u8 = 0xFC;
    pub const EXPIRETIME: u8 = 0xFD;
    pub const SELECTDB: u8 = 0xFE;
    pub const EOF: u8 = 0xFF;
}

/// Quicklist node containers (RDB_TYPE_LIST_QUICKLIST_2).
pub const NODE_PLAIN: u64 = 1;
pub const NODE_PACKED: u64 = 2;

pub static CRC64: Crc<u64> = Crc::<u64>::new(&CRC_64_REDIS);

pub fn crc64(data: &[u8]) -> u64 {
    CRC64.checksum(data)
}

/// Why a payload could not be decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

pub fn bad<T>(what: impl Into<String>) -> Result<T> {
    Err(Error(what.into()))
}

// ---------------------------------------------------------------- writing

pub fn put_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
    } else if n <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// The special integer form of a string, when `s` is the canonical text of an
/// integer that fits in 32 bits (Redis tries this for strings up to 11 bytes).
fn int_form(s: &[u8]) -> Option<i64> {
    if s.len() > 11 {
        return None;
    }
    crate::protocol::parse::parse_i64(s).filter(|n| i32::try_from(*n).is_ok())
}

pub fn put_int_string(out: &mut Vec<u8>, n: i64) -> bool {
    if let Ok(b) = i8::try_from(n) {
        out.extend_from_slice(&[0xC0, b as u8]);
    } else if let Ok(h) = i16::try_from(n) {
        out.push(0xC1);
        out.extend_from_slice(&h.to_le_bytes());
    } else if let Ok(w) = i32::try_from(n) {
        out.push(0xC2);
        out.extend_from_slice(&w.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// Whether and how strings longer than 20 bytes are LZF-compressed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Lzf {
    Off,
    /// Our compressor: cheap per call, for snapshots of many values.
    Fast,
    /// The reference liblzf algorithm, byte for byte what Redis writes (DUMP),
    /// at a fixed cost of tens of microseconds per string.
    Exact,
}

/// A string: as a small integer when it is one, LZF-compressed when asked
/// and it shrinks by more than 4 bytes, else as length + bytes.
pub fn put_string(out: &mut Vec<u8>, s: &[u8], compress: Lzf) {
    if let Some(n) = int_form(s) {
        put_int_string(out, n);
        return;
    }
    if compress != Lzf::Off && s.len() > 20 {
        let start = out.len();
        out.push(0xC3);
        let mut packed = Vec::new();
        let fits = match compress {
            Lzf::Exact => match lzf::compress(s) {
                // liblzf gives up when its output comes within a few bytes
                // of the limit (it checks for room before each token).
                Ok(p) => {
                    packed = p;
                    packed.len() + 4 <= s.len() - 4
                }
                Err(_) => false,
            },
            _ => lzf_compress(s, &mut packed, s.len() - 4),
        };
        if fits {
            put_len(out, packed.len() as u64);
            put_len(out, s.len() as u64);
            out.extend_from_slice(&packed);
            return;
        }
        out.truncate(start);
    }
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// An integer value (a string with the `int` encoding).
pub fn put_i64_string(out: &mut Vec<u8>, n: i64) {
    if !put_int_string(out, n) {
        let mut buf = itoa::Buffer::new();
        let text = buf.format(n).as_bytes();
        put_len(out, text.len() as u64);
        out.extend_from_slice(text);
    }
}

pub fn put_double(out: &mut Vec<u8>, d: f64) {
    out.extend_from_slice(&d.to_le_bytes());
}

/// LZF compression (the liblzf format Redis reads) into `out`; false when the
/// result would exceed `max` bytes. Greedy matching over a small hash table of
/// 3-byte prefixes; the table is sized to the input so short strings stay cheap.
pub fn lzf_compress(input: &[u8], out: &mut Vec<u8>, max: usize) -> bool {
    const MAX_OFF: usize = 1 << 13;
    const MAX_REF: usize = (1 << 8) + (1 << 3);
    const MAX_LIT: usize = 32;
    let n = input.len();
    if n < 4 {
        return false;
    }
    let bits = (n.next_power_of_two().trailing_zeros()).clamp(8, 14);
    let mut table = vec![0u32; 1 << bits];
    let hash = |p: usize| {
        let v = u32::from_le_bytes([input[p], input[p + 1], input[p + 2], 0]);
        (v.wrapping_mul(2654435761) >> (32 - bits)) as usize
    };
    out.clear();
    out.reserve(max + 1);
    // Index of the control byte of the literal run being built, if any.
    let mut lit_start: Option<usize> = None;
    let mut ip = 0;
    while ip < n {
        if out.len() > max {
            return false;
        }
        if ip + 2 < n {
            let h = hash(ip);
            let cand = table[h] as usize;
            table[h] = ip as u32 + 1;
            if cand > 0 {
                let r = cand - 1;
                let off = ip - r - 1;
                if off < MAX_OFF && input[r..r + 3] == input[ip..ip + 3] {
                    let mut len = 3;
                    let limit = (n - ip).min(MAX_REF);
                    while len < limit && input[r + len] == input[ip + len] {
                        len += 1;
                    }
                    let l = len - 2;
                    if l < 7 {
                        out.push(((l as u8) << 5) | (off >> 8) as u8);
                    } else {
                        out.push((7 << 5) | (off >> 8) as u8);
                        out.push((l - 7) as u8);
                    }
                    out.push(off as u8);
                    lit_start = None;
                    // Index the positions the match covered (cheaply: the last two).
                    for p in (ip + len).saturating_sub(2)..ip + len {
                        if p + 2 < n {
                            table[hash(p)] = p as u32 + 1;
                        }
                    }
                    ip += len;
                    continue;
                }
            }
        }
        match lit_start {
            Some(at) if out[at] < (MAX_LIT - 1) as u8 => out[at] += 1,
            _ => {
                lit_start = Some(out.len());
                out.push(0);
            }
        }
        out.push(input[ip]);
        ip += 1;
    }
    out.len() <= max
}

// ---------------------------------------------------------------- listpack

/// Builds a Redis listpack from string items, each stored as an integer when
/// it is the canonical text of one (as Redis's `lpAppend` does).
#[derive(Default)]
pub struct ListpackBuilder {
    body: Vec<u8>,
    count: usize,
}

impl ListpackBuilder {
    pub fn push(&mut self, item: &[u8]) {
        match crate::protocol::parse::parse_i64(item) {
            Some(n) => self.push_int(n),
            None => self.push_str(item),
        }
    }

    pub fn push_int(&mut self, n: i64) {
        let start = self.body.len();
        let b = &mut self.body;
        if (0..=127).contains(&n) {
            b.push(n as u8);
        } else if (-4096..=4095).contains(&n) {
            let u = (n as u64) & 0x1FFF;
            b.extend_from_slice(&[0xC0 | (u >> 8) as u8, u as u8]);
        } else if let Ok(v) = i16::try_from(n) {
            b.push(0xF1);
            b.extend_from_slice(&v.to_le_bytes());
        } else if (-(1 << 23)..(1 << 23)).contains(&n) {
            b.push(0xF2);
            b.extend_from_slice(&(n as i32).to_le_bytes()[..3]);
        } else if let Ok(v) = i32::try_from(n) {
            b.push(0xF3);
            b.extend_from_slice(&v.to_le_bytes());
        } else {
            b.push(0xF4);
            b.extend_from_slice(&n.to_le_bytes());
        }
        self.finish_entry(start);
    }

    pub fn push_str(&mut self, s: &[u8]) {
        let start = self.body.len();
        let b = &mut self.body;
        let len = s.len();
        if len < 64 {
            b.push(0x80 | len as u8);
        } else if len < 4096 {
            b.extend_from_slice(&[0xE0 | (len >> 8) as u8, len as u8]);
        } else {
            b.push(0xF0);
            b.extend_from_slice(&(len as u32).to_le_bytes());
        }
        b.extend_from_slice(s);
        self.finish_entry(start);
    }

    /// Appends the back-length of the entry that began at `start`.
    fn finish_entry(&mut self, start: usize) {
        let l = (self.body.len() - start) as u64;
        let b = &mut self.body;
        if l <= 127 {
            b.push(l as u8);
        } else if l < 16383 {
            b.extend_from_slice(&[(l >> 7) as u8, (l & 127) as u8 | 128]);
        } else if l < 2097151 {
            b.extend_from_slice(&[
                (l >> 14) as u8,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]);
        } else if l < 268435455 {
            b.extend_from_slice(&[
                (l >> 21) as u8,
                ((l >> 14) & 127) as u8 | 128,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]);
        } else {
            b.extend_from_slice(&[
                (l >> 28) as u8,
                ((l >> 21) & 127) as u8 | 128,
                ((l >> 14) & 127) as u8 | 128,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]);
        }
        self.count += 1;
    }

    /// Appends another builder's entries after this one's.
    pub fn extend(&mut self, other: ListpackBuilder) {
        self.body.extend_from_slice(&other.body);
        self.count += other.count;
    }

    /// Bytes the finished listpack would take.
    pub fn byte_len(&self) -> usize {
        self.body.len() + 7
    }

    pub fn count(&self) -> usize {
        self.count
    }

    pub fn finish(self) -> Vec<u8> {
        let total = self.body.len() + 7;
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend_from_slice(&(self.count.min(65535) as u16).to_le_bytes());
        out.extend_from_slice(&self.body);
        out.push(0xFF);
        out
    }
}

/// A listpack's items as strings (integers in decimal).
pub fn read_listpack(lp: &[u8]) -> Result<Vec<Vec<u8>>> {
    if lp.len() < 7 || u32::from_le_bytes(lp[0..4].try_into().unwrap()) as usize != lp.len() {
        return bad("listpack header");
    }
    let mut items = Vec::new();
    let mut p = 6;
    let get = |from: usize, n: usize| lp.get(from..from + n).ok_or(Error("listpack entry".into()));
    loop {
        let Some(&h) = lp.get(p) else {
            return bad("listpack not terminated");
        };
        if h == 0xFF {
            break;
        }
        let start = p;
        let mut int = |v: i64, size: usize| {
            items.push(itoa::Buffer::new().format(v).as_bytes().to_vec());
            size
        };
        let size = if h & 0x80 == 0 {
            int(h as i64, 1)
        } else if h & 0xC0 == 0x80 {
            let len = (h & 0x3F) as usize;
            items.push(get(p + 1, len)?.to_vec());
            1 + len
        } else if h & 0xE0 == 0xC0 {
            let raw = (((h & 0x1F) as u64) << 8) | *get(p + 1, 1)?.first().unwrap() as u64;
            let v = if raw >= 1 << 12 {
                raw as i64 - (1 << 13)
            } else {
                raw as i64
            };
            int(v, 2)
        } else if h & 0xF0 == 0xE0 {
            let len = (((h & 0x0F) as usize) << 8) | get(p + 1, 1)?[0] as usize;
            items.push(get(p + 2, len)?.to_vec());
            2 + len
        } else {
            match h {
                0xF0 => {
                    let len = u32::from_le_bytes(get(p + 1, 4)?.try_into().unwrap()) as usize;
                    items.push(get(p + 5, len)?.to_vec());
                    5 + len
                }
                0xF1 => int(
                    i16::from_le_bytes(get(p + 1, 2)?.try_into().unwrap()) as i64,
                    3,
                ),
                0xF2 => {
                    let b = get(p + 1, 3)?;
                    let v = i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8;
                    int(v as i64, 4)
                }
                0xF3 => int(
                    i32::from_le_bytes(get(p + 1, 4)?.try_into().unwrap()) as i64,
                    5,
                ),
                0xF4 => int(i64::from_le_bytes(get(p + 1, 8)?.try_into().unwrap()), 9),
                _ => return bad("listpack entry encoding"),
            }
        };
        p = start + size;
        // Skip the back-length: 1 to 5 bytes.
        let back = match size {
            0..=127 => 1,
            128..=16382 => 2,
            16383..=2097150 => 3,
            2097151..=268435454 => 4,
            _ => 5,
        };
        p += back;
        if p > lp.len() {
            return bad("listpack entry overflows");
        }
    }
    if p + 1 != lp.len() {
        return bad("listpack trailing bytes");
    }
    Ok(items)
}

// ---------------------------------------------------------------- intset

/// An intset of sorted, unique values in the narrowest width that holds them.
pub fn write_intset(values: &[i64]) -> Vec<u8> {
    let width: usize = if values.iter().all(|v| i16::try_from(*v).is_ok()) {
        2
    } else if values.iter().all(|v| i32::try_from(*v).is_ok()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * values.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

pub fn read_intset(blob: &[u8]) -> Result<Vec<i64>> {
    if blob.len() < 8 {
        return bad("intset header");
    }
    let width = u32::from_le_bytes(blob[0..4].try_into().unwrap()) as usize;
    let count = u32::from_le_bytes(blob[4..8].try_into().unwrap()) as usize;
    if ![2, 4, 8].contains(&width) || blob.len() != 8 + width * count {
        return bad("intset size");
    }
    Ok(blob[8..]
        .chunks_exact(width)
        .map(|c| match width {
            2 => i16::from_le_bytes([c[0], c[1]]) as i64,
            4 => i32::from_le_bytes(c.try_into().unwrap()) as i64,
            _ => i64::from_le_bytes(c.try_into().unwrap()),
        })
        .collect())
}

// ---------------------------------------------------------------- ziplist

/// A ziplist's items as strings (integers in decimal).
pub fn read_ziplist(zl: &[u8]) -> Result<Vec<Vec<u8>>> {
    if zl.len() < 11 || u32::from_le_bytes(zl[0..4].try_into().unwrap()) as usize != zl.len() {
        return bad("ziplist header");
    }
    let get = |from: usize, n: usize| zl.get(from..from + n).ok_or(Error("ziplist entry".into()));
    let mut items = Vec::new();
    let mut p = 10;
    loop {
        let Some(&first) = zl.get(p) else {
            return bad("ziplist not terminated");
        };
        if first == 0xFF {
            break;
        }
        p += if first < 254 { 1 } else { 5 };
        let enc = *get(p, 1)?.first().unwrap();
        let mut int = |v: i64| items.push(itoa::Buffer::new().format(v).as_bytes().to_vec());
        match enc >> 6 {
            0 => {
                let len = (enc & 0x3F) as usize;
                items.push(get(p + 1, len)?.to_vec());
                p += 1 + len;
            }
            1 => {
                let len = (((enc & 0x3F) as usize) << 8) | get(p + 1, 1)?[0] as usize;
                items.push(get(p + 2, len)?.to_vec());
                p += 2 + len;
            }
            2 => {
                let len = u32::from_be_bytes(get(p + 1, 4)?.try_into().unwrap()) as usize;
                items.push(get(p + 5, len)?.to_vec());
                p += 5 + len;
            }
            _ => match enc {
                0xC0 => {
                    int(i16::from_le_bytes(get(p + 1, 2)?.try_into().unwrap()) as i64);
                    p += 3;
                }
                0xD0 => {
                    int(i32::from_le_bytes(get(p + 1, 4)?.try_into().unwrap()) as i64);
                    p += 5;
                }
                0xE0 => {
                    int(i64::from_le_bytes(get(p + 1, 8)?.try_into().unwrap()));
                    p += 9;
                }
                0xF0 => {
                    let b = get(p + 1, 3)?;
                    int((i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) as i64);
                    p += 4;
                }
                0xFE => {
                    int(get(p + 1, 1)?[0] as i8 as i64);
                    p += 2;
                }
                0xF1..=0xFD => {
                    int((enc & 0x0F) as i64 - 1);
                    p += 1;
                }
                _ => return bad("ziplist entry encoding"),
            },
        }
    }
    Ok(items)
}

/// A zipmap (hashes of Redis before 2.6) as alternating fields and values.
pub fn read_zipmap(zm: &[u8]) -> Result<Vec<Vec<u8>>> {
    let get = |from: usize, n: usize| zm.get(from..from + n).ok_or(Error("zipmap entry".into()));
    let mut items = Vec::new();
    let mut p = 1;
    let read_len = |p: &mut usize| -> Result<Option<usize>> {
        let b = get(*p, 1)?[0];
        match b {
            0xFF => Ok(None),
            254 => {
                let len = u32::from_le_bytes(get(*p + 1, 4)?.try_into().unwrap()) as usize;
                *p += 5;
                Ok(Some(len))
            }
            n => {
                *p += 1;
                Ok(Some(n as usize))
            }
        }
    };
    while let Some(len) = read_len(&mut p)? {
        items.push(get(p, len)?.to_vec());
        p += len;
        let Some(len) = read_len(&mut p)? else {
            return bad("zipmap field without value");
        };
        let free = get(p, 1)?[0] as usize;
        items.push(get(p + 1, len)?.to_vec());
        p += 1 + len + free;
    }
    Ok(items)
}

/// The text a listpack holds for a sorted-set score: integral scores within
/// ±2^62 as integers, others as `%.17g` (what Redis 7.0 stores).
pub fn score_text(score: f64) -> Option<i64> {
    const LIMIT: f64 = (i64::MAX / 2) as f64;
    (score.fract() == 0.0 && (-LIMIT..=LIMIT).contains(&score)).then_some(score as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_int_strings() {
        let mut out = Vec::new();
        put_len(&mut out, 10);
        put_len(&mut out, 700);
        put_len(&mut out, 70000);
        assert_eq!(out, [10, 0x42, 0xBC, 0x80, 0, 1, 0x11, 0x70]);
        out.clear();
        put_string(&mut out, b"-129", Lzf::Off);
        assert_eq!(out, [0xC1, 0x7F, 0xFF]);
        out.clear();
        put_string(&mut out, b"012", Lzf::Off);
        assert_eq!(out, [3, b'0', b'1', b'2']);
    }

    #[test]
    fn lzf_round_trips_through_the_reference_decoder() {
        let inputs: Vec<Vec<u8>> = vec![
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
            b"hello world hello world hello world, hello there world!".repeat(20),
            (0..5000u32).map(|i| (i * 7 % 13) as u8).collect(),
        ];
        for input in inputs {
            let mut packed = Vec::new();
            assert!(lzf_compress(&input, &mut packed, input.len() - 4));
            assert_eq!(lzf::decompress(&packed, input.len()).unwrap(), input);
        }
        let random: Vec<u8> = (0..100).map(|_| rand::random()).collect();
        assert!(!lzf_compress(&random, &mut Vec::new(), 96));
    }

    #[test]
    fn listpack_round_trip() {
        let items: Vec<&[u8]> = vec![
            b"0",
            b"127",
            b"128",
            b"-1",
            b"-4096",
            b"4095",
            b"30000",
            b"-8388608",
            b"2147483647",
            b"9223372036854775807",
            b"-9223372036854775808",
            b"",
            b"abc",
            b"01",
        ];
        let long = vec![b'x'; 5000];
        let mid = vec![b'y'; 300];
        let mut b = ListpackBuilder::default();
        for i in &items {
            b.push(i);
        }
        b.push(&long);
        b.push(&mid);
        let lp = b.finish();
        let back = read_listpack(&lp).unwrap();
        assert_eq!(back.len(), items.len() + 2);
        for (a, b) in items.iter().zip(&back) {
            assert_eq!(a, &b.as_slice());
        }
        assert_eq!(back[items.len()], long);
        assert_eq!(back[items.len() + 1], mid);
        // What Redis writes for HSET h a 1: one string entry, one 7-bit int.
        let mut b = ListpackBuilder::default();
        b.push(b"a");
        b.push(b"1");
        assert_eq!(b.finish(), [12, 0, 0, 0, 2, 0, 0x81, b'a', 2, 1, 1, 0xFF]);
    }

    #[test]
    fn intset_round_trip() {
        for values in [vec![1, 2, 3], vec![-70000, 5], vec![i64::MIN, 0, i64::MAX]] {
            assert_eq!(read_intset(&write_intset(&values)).unwrap(), values);
        }
        assert_eq!(write_intset(&[1])[0], 2);
    }

    #[test]
    fn ziplist_and_zipmap_items() {
        let mut zl = vec![28, 0, 0, 0, 22, 0, 0, 0, 5, 0];
        zl.extend_from_slice(&[0, 0x01, b'a']); // "a"
        zl.extend_from_slice(&[3, 0xF6]); // 5, immediate
        zl.extend_from_slice(&[2, 0xFE, 0xFE]); // -2, int8
        zl.extend_from_slice(&[3, 0xC0, 0x2C, 0x01]); // 300, int16
        zl.extend_from_slice(&[4, 0xF0, 0x70, 0x11, 0x01]); // 70000, int24
        zl.push(0xFF);
        let items = read_ziplist(&zl).unwrap();
        let want: Vec<&[u8]> = vec![b"a", b"5", b"-2", b"300", b"70000"];
        assert_eq!(items, want);
        assert!(read_ziplist(&zl[..zl.len() - 1]).is_err());
        // zipmap: count, then len field, len value, free byte, value.
        let zm = [2, 1, b'f', 2, 0, b'v', b'1', 1, b'g', 1, 1, b'x', 0, 0xFF];
        let items = read_zipmap(&zm).unwrap();
        let want: Vec<&[u8]> = vec![b"f", b"v1", b"g", b"x"];
        assert_eq!(items, want);
    }

    #[test]
    fn crc64_matches_redis() {
        // Redis's crc64 test vector.
        assert_eq!(crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
    }
}
