//! Bitmap commands over string values: SETBIT, GETBIT, BITCOUNT, BITPOS,
//! BITOP, BITFIELD and BITFIELD_RO.
//!
//! Bits are numbered from the most significant bit of the first byte, as in
//! Redis. Writes keep the key's TTL; BITOP replaces its destination.

use super::spec::{CommandSpec, flag::*, key1, keys_range};
use super::string::{read_string, resolve_range, string_of_mut};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::db::{Db, StrValue, Value};
use crate::protocol::parse::parse_i64;
use crate::server::{Server, notify};

const BITMAP: &str = "bitmap";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("setbit", 4, WRITE | DENYOOM, key1(), setbit).doc(
        BITMAP,
        "2.2.0",
        "Sets or clears one bit of a string value, creating the key if needed.",
    ),
    CommandSpec::new("getbit", 3, READONLY | FAST, key1(), getbit).doc(
        BITMAP,
        "2.2.0",
        "Returns one bit of a string value.",
    ),
    CommandSpec::new("bitcount", -2, READONLY, key1(), bitcount)
        .doc(
            BITMAP,
            "2.6.0",
            "Counts the set bits of a string value, optionally within a byte or bit range.",
        )
        .complexity("O(N)"),
    CommandSpec::new("bitpos", -3, READONLY, key1(), bitpos)
        .doc(
            BITMAP,
            "2.8.7",
            "Finds the first set or clear bit of a string value, optionally within a range.",
        )
        .complexity("O(N)"),
    CommandSpec::new("bitop", -4, WRITE | DENYOOM, keys_range(2, -1, 1), bitop)
        .doc(
            BITMAP,
            "2.6.0",
            "Combines string values bit by bit (AND, OR, XOR, NOT) into a destination key.",
        )
        .complexity("O(N)"),
    CommandSpec::new("bitfield", -2, WRITE | DENYOOM, key1(), bitfield)
        .doc(
            BITMAP,
            "3.2.0",
            "Reads, writes and increments integer fields of any width at any bit offset.",
        )
        .complexity("O(1) for each subcommand specified"),
    CommandSpec::new("bitfield_ro", -2, READONLY | FAST, key1(), bitfield_ro)
        .doc(
            BITMAP,
            "6.0.0",
            "Reads integer fields of a string value (the read-only form of BITFIELD).",
        )
        .complexity("O(1) for each subcommand specified"),
];

const BIT_OFFSET_ERR: &str = "ERR bit offset is not an integer or out of range";

/// Parses a bit offset. With `field_bits`, `#n` means the n-th field of that
/// width. Offsets whose byte would reach `proto-max-bulk-len` are refused.
fn bit_offset(server: &Server, arg: &[u8], field_bits: Option<u32>) -> Result<u64, CmdError> {
    let (digits, scale) = match (arg.first(), field_bits) {
        (Some(b'#'), Some(bits)) => (&arg[1..], bits as i64),
        _ => (arg, 1),
    };
    // Redis multiplies without overflow checks; a wrapped result is refused below.
    let offset = parse_i64(digits)
        .ok_or(CmdError::Msg(BIT_OFFSET_ERR))?
        .wrapping_mul(scale);
    let limit = server.config.read().proto_max_bulk_len as i64;
    if offset < 0 || offset >> 3 >= limit {
        return Err(CmdError::Msg(BIT_OFFSET_ERR));
    }
    Ok(offset as u64)
}

fn bit_at(bytes: &[u8], bit: u64) -> bool {
    let byte = (bit >> 3) as usize;
    byte < bytes.len() && bytes[byte] & (0x80 >> (bit & 7)) != 0
}

fn put_bit(bytes: &mut [u8], bit: u64, on: bool) {
    let mask = 0x80 >> (bit & 7);
    let byte = &mut bytes[(bit >> 3) as usize];
    if on {
        *byte |= mask;
    } else {
        *byte &= !mask;
    }
}

/// The key's string as a growable buffer of at least `min_len` bytes, created
/// zero-filled if missing, and whether it was created or grown (a change
/// even if no bit flips). The caller marks the key modified.
fn bitmap_for_write<'d>(
    db: &'d mut Db<'_, '_>,
    key: &[u8],
    min_len: usize,
) -> Result<(&'d mut Vec<u8>, bool), CmdError> {
    let mut grown = false;
    if db.get(key).is_none() {
        db.set(key, Value::Str(StrValue::Raw(vec![0; min_len])));
        grown = true;
    }
    let entry = db.get(key).expect("key exists or was just created");
    let buf = string_of_mut(&mut entry.value)?.make_raw();
    if buf.len() < min_len {
        buf.resize(min_len, 0);
        grown = true;
    }
    Ok((buf, grown))
}

fn setbit(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let offset = bit_offset(ctx.server, args.get(2), None)?;
    let on = match args.get(3) {
        b"0" => false,
        b"1" => true,
        _ => return Err(CmdError::Msg("ERR bit is not an integer or out of range")),
    };
    let key = args.get(1);
    let (buf, grown) = bitmap_for_write(&mut ctx.db, key, (offset >> 3) as usize + 1)?;
    let old = bit_at(buf, offset);
    put_bit(buf, offset, on);
    ctx.db.modified(key);
    if grown || old != on {
        ctx.db.notify(notify::STRING, "setbit", key);
    }
    ctx.out.int(old as i64);
    Ok(())
}

fn getbit(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let offset = bit_offset(ctx.server, args.get(2), None)?;
    let mut scratch = itoa::Buffer::new();
    let bit = read_string(&mut ctx.db, args.get(1))?
        .is_some_and(|s| bit_at(s.as_bytes(&mut scratch), offset));
    ctx.out.int(bit as i64);
    Ok(())
}

/// Reads the optional BYTE|BIT unit argument; true for BIT.
fn range_unit(args: &Args, i: usize) -> Result<bool, CmdError> {
    if args.is(i, "bit") {
        Ok(true)
    } else if args.is(i, "byte") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

/// A bit range `[first, last]` from a start/end pair in bytes or bits.
fn bit_range(range: Option<(i64, i64)>, in_bits: bool) -> Option<(u64, u64)> {
    let (start, end) = range?;
    Some(if in_bits {
        (start as u64, end as u64)
    } else {
        (start as u64 * 8, end as u64 * 8 + 7)
    })
}

fn count_ones(bytes: &[u8], first: u64, last: u64) -> u64 {
    let (first_byte, last_byte) = ((first >> 3) as usize, (last >> 3) as usize);
    let whole: u64 = bytes[first_byte..=last_byte]
        .iter()
        .map(|b| b.count_ones() as u64)
        .sum();
    // Subtract the bits of the edge bytes that lie outside the range.
    let before = bytes[first_byte] & !(0xffu8 >> (first & 7));
    let after = bytes[last_byte] & (0x7fu8 >> (last & 7));
    whole - before.count_ones() as u64 - after.count_ones() as u64
}

fn bitcount(ctx: &mut Ctx, args: &Args) -> CmdResult {
    // Redis 7.0 looks the key up before reading the range, so a missing key
    // answers 0 even when the range arguments are wrong.
    let Some(value) = read_string(&mut ctx.db, args.get(1))? else {
        ctx.out.int(0);
        return Ok(());
    };
    let mut scratch = itoa::Buffer::new();
    let bytes = value.as_bytes(&mut scratch);
    let len = bytes.len() as i64;
    let range = match args.len() {
        2 => bit_range(resolve_range(0, -1, len, false), false),
        4 | 5 => {
            let (start, end) = (args.int(2)?, args.int(3)?);
            let in_bits = args.len() == 5 && range_unit(args, 4)?;
            let total = if in_bits { len * 8 } else { len };
            bit_range(resolve_range(start, end, total, true), in_bits)
        }
        _ => return Err(CmdError::Syntax),
    };
    let count = range.map_or(0, |(first, last)| count_ones(bytes, first, last));
    ctx.out.int(count as i64);
    Ok(())
}

/// The first bit equal to `wanted` in `[first, last]`.
fn find_bit(bytes: &[u8], wanted: bool, first: u64, last: u64) -> Option<u64> {
    let skip = if wanted { 0x00 } else { 0xff };
    let mut bit = first;
    while bit <= last {
        if bit & 7 == 0 && bit + 7 <= last && bytes[(bit >> 3) as usize] == skip {
            bit += 8;
            continue;
        }
        if bit_at(bytes, bit) == wanted {
            return Some(bit);
        }
        bit += 1;
    }
    None
}

fn bitpos(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let wanted = match args.int(2)? {
        0 => false,
        1 => true,
        _ => return Err(CmdError::Msg("ERR The bit argument must be 1 or 0.")),
    };
    // A missing key is an endless run of zero bits.
    let Some(value) = read_string(&mut ctx.db, args.get(1))? else {
        ctx.out.int(if wanted { -1 } else { 0 });
        return Ok(());
    };
    let mut scratch = itoa::Buffer::new();
    let bytes = value.as_bytes(&mut scratch);
    let len = bytes.len() as i64;
    let (range, end_given) = match args.len() {
        3 => (bit_range(resolve_range(0, -1, len, false), false), false),
        4..=6 => {
            let start = args.int(3)?;
            let in_bits = args.len() == 6 && range_unit(args, 5)?;
            let end = if args.len() >= 5 {
                args.int(4)?
            } else {
                len - 1
            };
            let total = if in_bits { len * 8 } else { len };
            (
                bit_range(resolve_range(start, end, total, false), in_bits),
                args.len() >= 5,
            )
        }
        _ => return Err(CmdError::Syntax),
    };
    let pos = match range {
        None => -1,
        Some((first, last)) => match find_bit(bytes, wanted, first, last) {
            Some(bit) => bit as i64,
            // Without an explicit end the string counts as zero-padded, so
            // the first clear bit is the one just past it.
            None if !wanted && !end_given => last as i64 + 1,
            None => -1,
        },
    };
    ctx.out.int(pos);
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

fn bitop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let op = match args.get(1).to_ascii_lowercase().as_slice() {
        b"and" => BitOp::And,
        b"or" => BitOp::Or,
        b"xor" => BitOp::Xor,
        b"not" => BitOp::Not,
        _ => return Err(CmdError::Syntax),
    };
    if op == BitOp::Not && args.len() != 4 {
        return Err(CmdError::Msg(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    // Missing sources are empty strings.
    let mut sources = Vec::with_capacity(args.len() - 3);
    for key in args.iter().skip(3) {
        sources.push(
            read_string(&mut ctx.db, key)?
                .map(StrValue::to_vec)
                .unwrap_or_default(),
        );
    }
    let max_len = sources.iter().map(Vec::len).max().unwrap_or(0);
    let byte_of = |src: &Vec<u8>, i: usize| src.get(i).copied().unwrap_or(0);
    let result: Vec<u8> = (0..max_len)
        .map(|i| {
            let first = byte_of(&sources[0], i);
            let rest = sources[1..].iter().map(|s| byte_of(s, i));
            match op {
                BitOp::Not => !first,
                BitOp::And => rest.fold(first, |acc, b| acc & b),
                BitOp::Or => rest.fold(first, |acc, b| acc | b),
                BitOp::Xor => rest.fold(first, |acc, b| acc ^ b),
            }
        })
        .collect();
    let dest = args.get(2);
    if result.is_empty() {
        if ctx.db.remove(dest).is_some() {
            ctx.db.notify(notify::GENERIC, "del", dest);
        }
    } else {
        ctx.db.set(dest, Value::Str(StrValue::Raw(result)));
        ctx.db.notify(notify::STRING, "set", dest);
    }
    ctx.out.int(max_len as i64);
    Ok(())
}

// ---- BITFIELD ----

#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq)]
enum FieldAction {
    Get,
    Set(i64),
    IncrBy(i64),
}

#[derive(Clone, Copy)]
struct FieldOp {
    action: FieldAction,
    signed: bool,
    bits: u32,
    offset: u64,
    overflow: Overflow,
}

const FIELD_TYPE_ERR: &str = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

/// `i1`..`i64` or `u1`..`u63` (lower-case letter only, as in Redis).
fn field_type(arg: &[u8]) -> Result<(bool, u32), CmdError> {
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(CmdError::Msg(FIELD_TYPE_ERR)),
    };
    let max = if signed { 64 } else { 63 };
    match parse_i64(&arg[1..]) {
        Some(bits) if (1..=max).contains(&bits) => Ok((signed, bits as u32)),
        _ => Err(CmdError::Msg(FIELD_TYPE_ERR)),
    }
}

fn parse_field_ops(server: &Server, args: &Args) -> Result<Vec<FieldOp>, CmdError> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut i = 2;
    while i < args.len() {
        let remaining = args.len() - i - 1;
        let action = if args.is(i, "get") && remaining >= 2 {
            FieldAction::Get
        } else if args.is(i, "set") && remaining >= 3 {
            FieldAction::Set(0)
        } else if args.is(i, "incrby") && remaining >= 3 {
            FieldAction::IncrBy(0)
        } else if args.is(i, "overflow") && remaining >= 1 {
            overflow = match args.get(i + 1).to_ascii_lowercase().as_slice() {
                b"wrap" => Overflow::Wrap,
                b"sat" => Overflow::Sat,
                b"fail" => Overflow::Fail,
                _ => return Err(CmdError::Msg("ERR Invalid OVERFLOW type specified")),
            };
            i += 2;
            continue;
        } else {
            return Err(CmdError::Syntax);
        };
        let (signed, bits) = field_type(args.get(i + 1))?;
        let offset = bit_offset(server, args.get(i + 2), Some(bits))?;
        let action = match action {
            FieldAction::Get => FieldAction::Get,
            FieldAction::Set(_) => FieldAction::Set(args.int(i + 3)?),
            FieldAction::IncrBy(_) => FieldAction::IncrBy(args.int(i + 3)?),
        };
        ops.push(FieldOp {
            action,
            signed,
            bits,
            offset,
            overflow,
        });
        i += if action == FieldAction::Get { 3 } else { 4 };
    }
    Ok(ops)
}

/// Reads `bits` bits from `offset`, zero past the end, as an unsigned number.
fn read_field(bytes: &[u8], offset: u64, bits: u32) -> u64 {
    (0..bits as u64).fold(0, |acc, i| acc << 1 | bit_at(bytes, offset + i) as u64)
}

fn write_field(bytes: &mut [u8], offset: u64, bits: u32, value: u64) {
    for i in 0..bits as u64 {
        put_bit(bytes, offset + i, value >> (bits as u64 - 1 - i) & 1 != 0);
    }
}

impl FieldOp {
    fn range(&self) -> (i128, i128) {
        if self.signed {
            (-(1i128 << (self.bits - 1)), (1i128 << (self.bits - 1)) - 1)
        } else {
            (0, (1i128 << self.bits) - 1)
        }
    }

    /// The field's value read with this op's signedness.
    fn value(&self, bytes: &[u8]) -> i128 {
        let raw = read_field(bytes, self.offset, self.bits) as i128;
        self.wrap(raw)
    }

    /// Reduces any value modulo 2^bits into the field's range.
    fn wrap(&self, n: i128) -> i128 {
        let modulus = 1i128 << self.bits;
        let low = n.rem_euclid(modulus);
        if self.signed && low > self.range().1 {
            low - modulus
        } else {
            low
        }
    }

    /// Runs SET or INCRBY; None when OVERFLOW FAIL refused the write.
    fn write(&self, buf: &mut [u8]) -> Option<i64> {
        let old = self.value(buf);
        let (target, reply_old) = match self.action {
            // An unsigned SET of a negative number reads it as a huge
            // unsigned one, so SAT saturates it to the maximum, as Redis does.
            FieldAction::Set(v) if !self.signed => (v as u64 as i128, true),
            FieldAction::Set(v) => (v as i128, true),
            FieldAction::IncrBy(d) => (old + d as i128, false),
            FieldAction::Get => unreachable!("GET does not write"),
        };
        let (min, max) = self.range();
        let new = if target < min || target > max {
            match self.overflow {
                Overflow::Wrap => self.wrap(target),
                Overflow::Sat if target > max => max,
                Overflow::Sat => min,
                Overflow::Fail => return None,
            }
        } else {
            target
        };
        write_field(buf, self.offset, self.bits, new as u64);
        Some(if reply_old { old } else { new } as i64)
    }
}

fn bitfield(ctx: &mut Ctx, args: &Args) -> CmdResult {
    bitfield_generic(ctx, args, false)
}

fn bitfield_ro(ctx: &mut Ctx, args: &Args) -> CmdResult {
    bitfield_generic(ctx, args, true)
}

fn bitfield_generic(ctx: &mut Ctx, args: &Args, read_only_command: bool) -> CmdResult {
    let ops = parse_field_ops(ctx.server, args)?;
    let key = args.get(1);
    let highest_written = ops
        .iter()
        .filter(|op| op.action != FieldAction::Get)
        .map(|op| op.offset + op.bits as u64 - 1)
        .max();
    let Some(highest) = highest_written else {
        // Only reads: a missing key reads as zeros.
        let mut scratch = itoa::Buffer::new();
        let bytes = read_string(&mut ctx.db, key)?.map_or(&[][..], |s| s.as_bytes(&mut scratch));
        ctx.out.array(ops.len());
        for op in &ops {
            ctx.out.int(op.value(bytes) as i64);
        }
        return Ok(());
    };
    if read_only_command {
        return Err(CmdError::Msg(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    let (buf, _) = bitmap_for_write(&mut ctx.db, key, (highest >> 3) as usize + 1)?;
    ctx.out.array(ops.len());
    let mut changes = 0;
    for op in &ops {
        match op.action {
            FieldAction::Get => ctx.out.int(op.value(buf) as i64),
            _ => match op.write(buf) {
                Some(reply) => {
                    changes += 1;
                    ctx.out.int(reply)
                }
                None => ctx.out.null(),
            },
        }
    }
    ctx.db.modified(key);
    // Only writes that happened count: an overflow FAIL changes nothing.
    if changes > 0 {
        ctx.db.notify(notify::STRING, "setbit", key);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testkit::TestClient;

    #[test]
    fn setbit_getbit() {
        let mut t = TestClient::new();
        assert_eq!(t.run(&["SETBIT", "k", "7", "1"]), ":0\r\n");
        assert_eq!(t.run(&["SETBIT", "k", "7", "1"]), ":1\r\n");
        assert_eq!(t.run(&["GET", "k"]), "$1\r\n\x01\r\n");
        assert_eq!(t.run(&["SETBIT", "k", "9", "1"]), ":0\r\n");
        assert_eq!(t.run(&["STRLEN", "k"]), ":2\r\n");
        assert_eq!(t.run(&["GETBIT", "k", "9"]), ":1\r\n");
        assert_eq!(t.run(&["GETBIT", "k", "1000"]), ":0\r\n");
        assert_eq!(t.run(&["GETBIT", "nokey", "0"]), ":0\r\n");
        assert_eq!(
            t.run(&["SETBIT", "k", "1", "2"]),
            "-ERR bit is not an integer or out of range\r\n"
        );
        assert_eq!(
            t.run(&["SETBIT", "k", "-1", "1"]),
            "-ERR bit offset is not an integer or out of range\r\n"
        );
        assert_eq!(
            t.run(&["SETBIT", "k", "4294967296", "1"]),
            "-ERR bit offset is not an integer or out of range\r\n"
        );
        assert_eq!(
            t.run(&["GETBIT", "k", "x"]),
            "-ERR bit offset is not an integer or out of range\r\n"
        );
        t.run(&["SET", "n", "1"]); // "1" = 0x31 = 00110001
        assert_eq!(t.run(&["GETBIT", "n", "2"]), ":1\r\n");
        assert_eq!(t.run(&["SETBIT", "n", "6", "1"]), ":0\r\n");
        assert_eq!(t.run(&["GET", "n"]), "$1\r\n3\r\n");
    }

    #[test]
    fn offsets_follow_proto_max_bulk_len() {
        let config = crate::config::Config {
            proto_max_bulk_len: 1 << 20,
            ..Default::default()
        };
        let mut t = TestClient::with_config(config);
        assert_eq!(
            t.run(&["SETBIT", "z", "8388608", "1"]),
            "-ERR bit offset is not an integer or out of range\r\n"
        );
        assert_eq!(t.run(&["SETBIT", "z", "8388607", "1"]), ":0\r\n");
        assert_eq!(t.run(&["STRLEN", "z"]), ":1048576\r\n");
        assert_eq!(
            t.run(&["BITFIELD", "z", "GET", "u8", "#1048576"]),
            "-ERR bit offset is not an integer or out of range\r\n"
        );
        assert_eq!(
            t.run(&["BITFIELD", "z", "GET", "u8", "#1048575"]),
            "*1\r\n:1\r\n"
        );
    }

    #[test]
    fn bitcount_ranges() {
        let mut t = TestClient::new();
        t.run(&["SET", "k", "foobar"]);
        assert_eq!(t.run(&["BITCOUNT", "k"]), ":26\r\n");
        assert_eq!(t.run(&["BITCOUNT", "k", "0", "0"]), ":4\r\n");
        assert_eq!(t.run(&["BITCOUNT", "k", "1", "1"]), ":6\r\n");
        assert_eq!(t.run(&["BITCOUNT", "k", "1", "1", "BYTE"]), ":6\r\n");
        assert_eq!(t.run(&["BITCOUNT", "k", "5", "30", "BIT"]), ":17\r\n");
        assert_eq!(t.run(&["BITCOUNT", "k", "-2", "-1"]), ":7\r\n");
        assert_eq!(t.run(&["BITCOUNT", "k", "-1", "-2"]), ":0\r\n");
        assert_eq!(t.run(&["BITCOUNT", "k", "0"]), "-ERR syntax error\r\n");
        assert_eq!(
            t.run(&["BITCOUNT", "k", "0", "1", "BAD"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            t.run(&["BITCOUNT", "k", "a", "1"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(t.run(&["BITCOUNT", "nokey", "0"]), ":0\r\n");
    }

    #[test]
    fn bitpos_cases() {
        let mut t = TestClient::new();
        for bit in 8..24 {
            t.run(&["SETBIT", "k", &bit.to_string(), "1"]);
        }
        // k = 00 ff ff
        assert_eq!(t.run(&["BITPOS", "k", "1"]), ":8\r\n");
        assert_eq!(t.run(&["BITPOS", "k", "0"]), ":0\r\n");
        assert_eq!(t.run(&["BITPOS", "k", "0", "1"]), ":24\r\n");
        assert_eq!(t.run(&["BITPOS", "k", "0", "1", "-1"]), ":-1\r\n");
        assert_eq!(t.run(&["BITPOS", "k", "1", "2", "-1", "BYTE"]), ":16\r\n");
        assert_eq!(t.run(&["BITPOS", "k", "1", "3", "20", "BIT"]), ":8\r\n");
        assert_eq!(t.run(&["BITPOS", "k", "0", "9", "20", "BIT"]), ":-1\r\n");
        assert_eq!(t.run(&["BITPOS", "k", "1", "5", "6"]), ":-1\r\n");
        assert_eq!(t.run(&["BITPOS", "nokey", "1"]), ":-1\r\n");
        assert_eq!(t.run(&["BITPOS", "nokey", "0"]), ":0\r\n");
        assert_eq!(
            t.run(&["BITPOS", "k", "2"]),
            "-ERR The bit argument must be 1 or 0.\r\n"
        );
        assert_eq!(
            t.run(&["BITPOS", "k", "1", "0", "1", "X"]),
            "-ERR syntax error\r\n"
        );
    }

    #[test]
    fn bitop_all_ops() {
        let mut t = TestClient::new();
        t.run(&["SET", "a", "abc"]);
        t.run(&["SET", "b", "a"]);
        assert_eq!(t.run(&["BITOP", "AND", "d", "a", "b"]), ":3\r\n");
        assert_eq!(t.run_raw(&["GET", "d"]), b"$3\r\na\0\0\r\n");
        assert_eq!(t.run(&["BITOP", "or", "d", "a", "b"]), ":3\r\n");
        assert_eq!(t.run(&["GET", "d"]), "$3\r\nabc\r\n");
        assert_eq!(t.run(&["BITOP", "XOR", "d", "a", "b"]), ":3\r\n");
        assert_eq!(t.run_raw(&["GET", "d"]), b"$3\r\n\0bc\r\n");
        assert_eq!(t.run(&["BITOP", "NOT", "d", "b"]), ":1\r\n");
        assert_eq!(t.run_raw(&["GET", "d"]), b"$1\r\n\x9e\r\n");
        assert_eq!(
            t.run(&["BITOP", "NOT", "d", "a", "b"]),
            "-ERR BITOP NOT must be called with a single source key.\r\n"
        );
        assert_eq!(t.run(&["BITOP", "NAND", "d", "a"]), "-ERR syntax error\r\n");
        assert_eq!(t.run(&["BITOP", "AND", "d", "x", "y"]), ":0\r\n");
        assert_eq!(
            t.run(&["EXISTS", "d"]),
            ":0\r\n",
            "an empty result deletes the destination"
        );
    }

    #[test]
    fn bitfield_ops_and_overflow() {
        let mut t = TestClient::new();
        assert_eq!(
            t.run(&["BITFIELD", "k", "SET", "i8", "0", "-100", "GET", "i8", "0"]),
            "*2\r\n:0\r\n:-100\r\n"
        );
        assert_eq!(
            t.run(&["BITFIELD", "k", "GET", "u8", "0"]),
            "*1\r\n:156\r\n"
        );
        assert_eq!(
            t.run(&["BITFIELD", "k", "INCRBY", "i8", "0", "-100"]),
            "*1\r\n:56\r\n"
        );
        assert_eq!(
            t.run(&[
                "BITFIELD", "k", "OVERFLOW", "SAT", "INCRBY", "i8", "0", "-300"
            ]),
            "*1\r\n:-128\r\n"
        );
        assert_eq!(
            t.run(&[
                "BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "i8", "0", "-1"
            ]),
            "*1\r\n$-1\r\n"
        );
        assert_eq!(
            t.run(&["BITFIELD", "k", "OVERFLOW", "SAT", "SET", "u8", "0", "-5"]),
            "*1\r\n:128\r\n"
        );
        assert_eq!(
            t.run(&["BITFIELD", "k", "GET", "u8", "0"]),
            "*1\r\n:255\r\n"
        );
        assert_eq!(
            t.run(&["BITFIELD", "k", "SET", "u4", "#1", "17", "GET", "u8", "0"]),
            "*2\r\n:15\r\n:241\r\n"
        );
        assert_eq!(
            t.run(&["BITFIELD", "k", "INCRBY", "u2", "100", "1"]),
            "*1\r\n:1\r\n"
        );
        assert_eq!(t.run(&["STRLEN", "k"]), ":13\r\n");
        assert_eq!(
            t.run(&["BITFIELD", "k", "SET", "i64", "0", "-1", "GET", "i64", "0"]),
            "*2\r\n:-1080863910568919040\r\n:-1\r\n"
        );
        assert_eq!(
            t.run(&["BITFIELD", "k", "INCRBY", "i64", "0", "1"]),
            "*1\r\n:0\r\n"
        );
        assert_eq!(
            t.run(&["BITFIELD", "k", "GET", "u64", "0"]),
            "-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.\r\n"
        );
        assert_eq!(
            t.run(&["BITFIELD", "k", "GET", "I8", "0"]),
            "-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.\r\n"
        );
        assert_eq!(
            t.run(&["BITFIELD", "k", "OVERFLOW", "X"]),
            "-ERR Invalid OVERFLOW type specified\r\n"
        );
        assert_eq!(
            t.run(&["BITFIELD", "k", "GET", "i8"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            t.run(&["BITFIELD", "k", "SET", "i8", "0", "x"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(
            t.run(&["BITFIELD", "k", "GET", "i8", "-1"]),
            "-ERR bit offset is not an integer or out of range\r\n"
        );
        assert_eq!(t.run(&["BITFIELD", "k"]), "*0\r\n");
        assert_eq!(
            t.run(&["BITFIELD_RO", "k", "GET", "u4", "0"]),
            "*1\r\n:0\r\n"
        );
        assert_eq!(
            t.run(&["BITFIELD_RO", "k", "SET", "u4", "0", "1"]),
            "-ERR BITFIELD_RO only supports the GET subcommand\r\n"
        );
        assert_eq!(
            t.run(&["BITFIELD", "nokey", "GET", "u4", "0"]),
            "*1\r\n:0\r\n"
        );
        assert_eq!(t.run(&["EXISTS", "nokey"]), ":0\r\n");
    }
}
