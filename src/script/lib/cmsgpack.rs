//! `cmsgpack`: lua-cmsgpack 0.4.0 as Redis ships it.
//!
//! Packing: numbers that a signed 64-bit integer holds exactly become the
//! smallest MessagePack integer, other numbers float 32 when that is exact
//! and float 64 otherwise; strings are always `str` (never `bin`); a table
//! whose keys are exactly 1..n is an array (the empty table too), any other
//! a map in `next` order; tables nested 16 deep, functions and userdata
//! (`cjson.null` included) become nil. Unpacking knows neither `bin` nor
//! `ext`. Decoding pushes its values on Lua's stack exactly as the C code
//! does, so the same inputs hit the same stack limits with the same errors.

use std::ffi::{CStr, c_int};

use smallvec::SmallVec;

use super::capi::{self, Raise, Ret, State, ffi};

const FUNCTIONS: &[(&CStr, ffi::lua_CFunction)] = &[
    (c"pack", pack),
    (c"unpack", unpack),
    (c"unpack_one", unpack_one),
    (c"unpack_limit", unpack_limit),
];

const FIELDS: &[(&CStr, &CStr)] = &[
    (c"_NAME", c"cmsgpack"),
    (c"_VERSION", c"lua-cmsgpack 0.4.0"),
    (c"_COPYRIGHT", c"Copyright (C) 2012, Salvatore Sanfilippo"),
    (c"_DESCRIPTION", c"MessagePack C implementation for Lua"),
];

/// Pushes the `cmsgpack` table.
pub(super) unsafe extern "C-unwind" fn open(state: State) -> c_int {
    unsafe {
        ffi::lua_createtable(state, 0, (FUNCTIONS.len() + FIELDS.len()) as c_int);
        for (name, function) in FUNCTIONS {
            ffi::lua_pushcclosure(state, *function, 0);
            capi::set_field(state, -2, name);
        }
        for (name, value) in FIELDS {
            ffi::lua_pushstring(state, value.as_ptr());
            capi::set_field(state, -2, name);
        }
    }
    1
}

/// Tables nested this deep are packed as nil (which also stops cycles).
const MAX_NESTING: usize = 16;

// ---------------------------------------------------------------- packing

unsafe extern "C-unwind" fn pack(state: State) -> c_int {
    unsafe { capi::entry(state, pack_body) }
}

/// `cmsgpack.pack(...)`: every argument packed, concatenated.
unsafe fn pack_body(state: State) -> Ret {
    let count = unsafe { ffi::lua_gettop(state) };
    if count == 0 {
        return Err(Raise::arg(0, "MessagePack pack needs input."));
    }
    let mut out = Vec::new();
    for arg in 1..=count {
        unsafe {
            capi::check_stack(state, 1, "in function mp_check")?;
            ffi::lua_pushvalue(state, arg);
            encode_top(state, &mut out, 0)?;
            // One piece per argument on the stack, concatenated at the end,
            // as the C code does.
            capi::push_bytes(state, &out);
        }
        out.clear();
    }
    unsafe { ffi::lua_concat(state, count) };
    Ok(1)
}

/// Packs the value on top of the stack and pops it.
unsafe fn encode_top(state: State, out: &mut Vec<u8>, level: usize) -> Result<(), Raise> {
    let mut kind = unsafe { ffi::lua_type(state, -1) };
    if kind == ffi::LUA_TTABLE && level == MAX_NESTING {
        kind = ffi::LUA_TNIL;
    }
    match kind {
        ffi::LUA_TSTRING => encode_str(
            out,
            unsafe { capi::to_bytes(state, -1) }.unwrap_or_default(),
        ),
        ffi::LUA_TBOOLEAN => out.push(if unsafe { ffi::lua_toboolean(state, -1) } != 0 {
            0xc3
        } else {
            0xc2
        }),
        ffi::LUA_TNUMBER => encode_number(out, unsafe { ffi::lua_tonumber(state, -1) }),
        ffi::LUA_TTABLE => unsafe { encode_table(state, out, level) }?,
        _ => out.push(0xc0),
    }
    unsafe { ffi::lua_settop(state, -2) };
    Ok(())
}

fn encode_str(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = bytes.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend([0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend((len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend((len as u32).to_be_bytes());
    }
    out.extend_from_slice(bytes);
}

fn encode_number(out: &mut Vec<u8>, number: f64) {
    let integer = capi::c_double_to_i64(number);
    if !number.is_infinite() && integer as f64 == number {
        encode_integer(out, integer);
    } else if f64::from(number as f32) == number {
        out.push(0xca);
        out.extend((number as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend(number.to_be_bytes());
    }
}

fn encode_integer(out: &mut Vec<u8>, n: i64) {
    match n {
        0..=127 => out.push(n as u8),
        128..=0xff => out.extend([0xcc, n as u8]),
        0x100..=0xffff => {
            out.push(0xcd);
            out.extend((n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xce);
            out.extend((n as u32).to_be_bytes());
        }
        0x1_0000_0000.. => {
            out.push(0xcf);
            out.extend((n as u64).to_be_bytes());
        }
        -32..=-1 => out.push(n as u8),
        -128..=-33 => out.extend([0xd0, n as u8]),
        -32768..=-129 => {
            out.push(0xd1);
            out.extend((n as i16).to_be_bytes());
        }
        -2_147_483_648..=-32769 => {
            out.push(0xd2);
            out.extend((n as i32).to_be_bytes());
        }
        _ => {
            out.push(0xd3);
            out.extend(n.to_be_bytes());
        }
    }
}

/// Packs the table on top of the stack (left there) as an array or a map.
unsafe fn encode_table(state: State, out: &mut Vec<u8>, level: usize) -> Result<(), Raise> {
    unsafe {
        capi::check_stack(state, 3, "in function mp_encode_lua_table")?;
        if table_is_an_array(state) {
            let len = ffi::lua_objlen(state, -1);
            encode_container_header(out, len, 0x90, 0xdc);
            for index in 1..=len {
                ffi::lua_rawgeti(state, -1, index as ffi::lua_Integer);
                encode_top(state, out, level + 1)?;
            }
        } else {
            let mut len = 0usize;
            ffi::lua_pushnil(state);
            while ffi::lua_next(state, -2) != 0 {
                ffi::lua_settop(state, -2);
                len += 1;
            }
            encode_container_header(out, len, 0x80, 0xde);
            ffi::lua_pushnil(state);
            while ffi::lua_next(state, -2) != 0 {
                ffi::lua_pushvalue(state, -2);
                encode_top(state, out, level + 1)?;
                encode_top(state, out, level + 1)?;
            }
        }
    }
    Ok(())
}

/// Whether the table on top has exactly the keys 1..n (none counts).
unsafe fn table_is_an_array(state: State) -> bool {
    let (mut count, mut max) = (0i64, 0i64);
    unsafe {
        let top = ffi::lua_gettop(state);
        ffi::lua_pushnil(state);
        while ffi::lua_next(state, -2) != 0 {
            ffi::lua_settop(state, -2);
            let key = ffi::lua_tonumber(state, -1);
            let is_index = ffi::lua_type(state, -1) == ffi::LUA_TNUMBER
                && key > 0.0
                && f64::from(capi::c_double_to_i32(key)) == key;
            if !is_index {
                ffi::lua_settop(state, top);
                return false;
            }
            max = max.max(key as i64);
            count += 1;
        }
    }
    max == count
}

/// The header of an array (`fix` 0x90, `wide` 0xdc) or a map (0x80, 0xde).
fn encode_container_header(out: &mut Vec<u8>, len: usize, fix: u8, wide: u8) {
    if len <= 15 {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(wide);
        out.extend((len as u16).to_be_bytes());
    } else {
        out.push(wide + 1);
        out.extend((len as u32).to_be_bytes());
    }
}

// -------------------------------------------------------------- unpacking

unsafe extern "C-unwind" fn unpack(state: State) -> c_int {
    unsafe { capi::entry(state, |s| unpack_full(s, 0, 0)) }
}

unsafe extern "C-unwind" fn unpack_one(state: State) -> c_int {
    unsafe { capi::entry(state, unpack_one_body) }
}

/// `cmsgpack.unpack_one(s [, offset])`: next offset (-1 at the end), value.
unsafe fn unpack_one_body(state: State) -> Ret {
    let offset = unsafe { capi::opt_integer(state, 2, 0) }? as i32;
    unsafe { ffi::lua_settop(state, 1.min(ffi::lua_gettop(state))) };
    unsafe { unpack_full(state, 1, offset) }
}

unsafe extern "C-unwind" fn unpack_limit(state: State) -> c_int {
    unsafe { capi::entry(state, unpack_limit_body) }
}

/// `cmsgpack.unpack_limit(s, limit [, offset])`: next offset, values.
unsafe fn unpack_limit_body(state: State) -> Ret {
    let limit = unsafe { capi::check_integer(state, 2) }? as i32;
    let offset = unsafe { capi::opt_integer(state, 3, 0) }? as i32;
    unsafe { ffi::lua_settop(state, 1.min(ffi::lua_gettop(state))) };
    unsafe { unpack_full(state, limit, offset) }
}

/// Decodes up to `limit` values from `offset` of argument 1. With neither
/// (plain `unpack`) it decodes everything and returns only the values;
/// otherwise the next offset comes first. `unpack_limit(s, 0)` counts as
/// "neither", as in the C code.
unsafe fn unpack_full(state: State, limit: i32, offset: i32) -> Ret {
    let data = unsafe { capi::check_bytes(state, 1) }?;
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        // The C code prints the input length where it means the limit.
        return Err(Raise::error(format!(
            "Invalid request to unpack with offset of {offset} and limit of {}.",
            data.len() as i32
        )));
    }
    if offset as usize > data.len() {
        return Err(Raise::error(format!(
            "Start offset {offset} greater than input length {}.",
            data.len() as i32
        )));
    }
    let limit = if decode_all { i32::MAX } else { limit };
    let mut cursor = Cursor {
        rest: &data[offset as usize..],
    };
    let mut count: c_int = 0;
    while !cursor.rest.is_empty() && count < limit {
        match unsafe { decode_value(state, &mut cursor) } {
            Ok(()) => {}
            Err(Fault::Eof) => return Err(Raise::error("Missing bytes in input.")),
            Err(Fault::BadFormat) => return Err(Raise::error("Bad data format in input.")),
            Err(Fault::Lua(raise)) => return Err(raise),
        }
        count += 1;
    }
    if !decode_all {
        let next = if cursor.rest.is_empty() {
            -1
        } else {
            (data.len() - cursor.rest.len()) as i64
        };
        unsafe {
            capi::check_stack(state, 1, "in function mp_unpack_full")?;
            ffi::lua_pushinteger(state, next);
            ffi::lua_insert(state, 2);
        }
        count += 1;
    }
    Ok(count)
}

/// Why decoding stopped.
enum Fault {
    Eof,
    BadFormat,
    Lua(Raise),
}

impl From<Raise> for Fault {
    fn from(raise: Raise) -> Fault {
        Fault::Lua(raise)
    }
}

/// The unread input.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    /// The next `len` bytes, consumed.
    fn take(&mut self, len: usize) -> Result<&'a [u8], Fault> {
        if self.rest.len() < len {
            return Err(Fault::Eof);
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        Ok(head)
    }

    /// The next `N` bytes after a header byte already peeked, consuming both
    /// (the C code checks for header and body together).
    fn take_after_header<const N: usize>(&mut self) -> Result<[u8; N], Fault> {
        let bytes = self.take(1 + N)?;
        Ok(bytes[1..].try_into().expect("N bytes"))
    }
}

/// A container being filled on the Lua stack.
enum Frame {
    /// Stack: table, index (the next element follows).
    Array { remaining: u64, next_index: f64 },
    /// Stack: table, then the key while its value is decoded.
    Map { remaining: u64, has_key: bool },
}

/// What one header byte starts.
enum Item {
    /// A scalar, already pushed.
    Pushed,
    Array(u64),
    Map(u64),
}

/// Decodes one value onto the stack. Iterative (an explicit stack of
/// containers) so deep nesting stops at Lua's stack limit, with the C
/// code's error, rather than at the Rust stack's.
unsafe fn decode_value(state: State, cursor: &mut Cursor) -> Result<(), Fault> {
    // Inline for ordinary nesting: no allocation per value.
    let mut frames: SmallVec<[Frame; 16]> = SmallVec::new();
    loop {
        match unsafe { decode_item(state, cursor) }? {
            Item::Pushed => {}
            Item::Array(len) => unsafe {
                ffi::lua_createtable(state, 0, 0);
                capi::check_stack(state, 1, "in function mp_decode_to_lua_array")?;
                if len > 0 {
                    ffi::lua_pushnumber(state, 1.0);
                    frames.push(Frame::Array {
                        remaining: len,
                        next_index: 2.0,
                    });
                    continue;
                }
            },
            Item::Map(len) => {
                unsafe { ffi::lua_createtable(state, 0, 0) };
                if len > 0 {
                    frames.push(Frame::Map {
                        remaining: len,
                        has_key: false,
                    });
                    continue;
                }
            }
        }
        // A value is complete on top of the stack: store it in the
        // containers it completes, up to one that wants more.
        loop {
            match frames.last_mut() {
                None => return Ok(()),
                Some(Frame::Array {
                    remaining,
                    next_index,
                }) => {
                    unsafe { ffi::lua_rawset(state, -3) };
                    *remaining -= 1;
                    if *remaining > 0 {
                        unsafe { ffi::lua_pushnumber(state, *next_index) };
                        *next_index += 1.0;
                        break;
                    }
                }
                Some(Frame::Map { remaining, has_key }) => {
                    if !*has_key {
                        *has_key = true;
                        break;
                    }
                    unsafe { store_pair(state) }?;
                    *has_key = false;
                    *remaining -= 1;
                    if *remaining > 0 {
                        break;
                    }
                }
            }
            frames.pop();
        }
    }
}

/// `t[k] = v` for table, key, value on top, with Lua's own refusals.
unsafe fn store_pair(state: State) -> Result<(), Raise> {
    unsafe {
        match ffi::lua_type(state, -2) {
            ffi::LUA_TNIL => return Err(Raise::Bare(b"table index is nil".to_vec())),
            ffi::LUA_TNUMBER if ffi::lua_tonumber(state, -2).is_nan() => {
                return Err(Raise::Bare(b"table index is NaN".to_vec()));
            }
            _ => {}
        }
        ffi::lua_rawset(state, -3);
    }
    Ok(())
}

/// Reads one header (and a scalar's body, which it pushes).
unsafe fn decode_item(state: State, cursor: &mut Cursor) -> Result<Item, Fault> {
    let Some(&header) = cursor.rest.first() else {
        return Err(Fault::Eof);
    };
    unsafe {
        capi::check_stack(
            state,
            1,
            "too many return values at once; use unpack_one or unpack_limit instead.",
        )?;
    }
    let push_number = |n: f64| unsafe { ffi::lua_pushnumber(state, n) };
    match header {
        0xc0 => {
            cursor.take(1)?;
            unsafe { ffi::lua_pushnil(state) };
        }
        0xc2 | 0xc3 => {
            cursor.take(1)?;
            unsafe { ffi::lua_pushboolean(state, c_int::from(header == 0xc3)) };
        }
        0xcc => push_number(f64::from(cursor.take_after_header::<1>()?[0])),
        0xcd => push_number(f64::from(u16::from_be_bytes(cursor.take_after_header()?))),
        0xce => push_number(f64::from(u32::from_be_bytes(cursor.take_after_header()?))),
        // Pushed through a signed Lua integer by the C code.
        0xcf => push_number(u64::from_be_bytes(cursor.take_after_header()?) as i64 as f64),
        0xd0 => push_number(f64::from(cursor.take_after_header::<1>()?[0] as i8)),
        0xd1 => push_number(f64::from(i16::from_be_bytes(cursor.take_after_header()?))),
        0xd2 => push_number(f64::from(i32::from_be_bytes(cursor.take_after_header()?))),
        0xd3 => push_number(i64::from_be_bytes(cursor.take_after_header()?) as f64),
        0xca => push_number(f64::from(f32::from_be_bytes(cursor.take_after_header()?))),
        0xcb => push_number(f64::from_be_bytes(cursor.take_after_header()?)),
        0xd9 => {
            let len = cursor.rest.get(1).copied().ok_or(Fault::Eof)?;
            unsafe { push_str(state, cursor, 2, usize::from(len)) }?;
        }
        0xda => {
            let len = u16::from_be_bytes(peek_len(cursor)?);
            unsafe { push_str(state, cursor, 3, usize::from(len)) }?;
        }
        0xdb => {
            let len = u32::from_be_bytes(peek_len(cursor)?);
            unsafe { push_str(state, cursor, 5, len as usize) }?;
        }
        0xdc => {
            return Ok(Item::Array(
                u16::from_be_bytes(cursor.take_after_header()?).into(),
            ));
        }
        0xdd => {
            return Ok(Item::Array(
                u32::from_be_bytes(cursor.take_after_header()?).into(),
            ));
        }
        0xde => {
            return Ok(Item::Map(
                u16::from_be_bytes(cursor.take_after_header()?).into(),
            ));
        }
        0xdf => {
            return Ok(Item::Map(
                u32::from_be_bytes(cursor.take_after_header()?).into(),
            ));
        }
        _ if header & 0x80 == 0 => {
            cursor.take(1)?;
            push_number(f64::from(header));
        }
        _ if header & 0xe0 == 0xe0 => {
            cursor.take(1)?;
            push_number(f64::from(header as i8));
        }
        _ if header & 0xe0 == 0xa0 => {
            unsafe { push_str(state, cursor, 1, usize::from(header & 0x1f)) }?
        }
        _ if header & 0xf0 == 0x90 => {
            cursor.take(1)?;
            return Ok(Item::Array(u64::from(header & 0x0f)));
        }
        _ if header & 0xf0 == 0x80 => {
            cursor.take(1)?;
            return Ok(Item::Map(u64::from(header & 0x0f)));
        }
        _ => return Err(Fault::BadFormat),
    }
    Ok(Item::Pushed)
}

/// The length field after a `str` header, not consumed.
fn peek_len<const N: usize>(cursor: &Cursor) -> Result<[u8; N], Fault> {
    let field = cursor.rest.get(1..1 + N).ok_or(Fault::Eof)?;
    Ok(field.try_into().expect("N bytes"))
}

/// Pushes a string of `len` bytes after a header of `header_len` bytes.
unsafe fn push_str(
    state: State,
    cursor: &mut Cursor,
    header_len: usize,
    len: usize,
) -> Result<(), Fault> {
    let bytes = cursor.take(header_len + len)?;
    unsafe { capi::push_bytes(state, &bytes[header_len..]) };
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::script::lib::test_support::{eval, eval_err};

    // One line, so that errors still point at line 1.
    const HEX: &str = "local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end \
        local function unhex(h) return (h:gsub('..', function(x) return string.char(tonumber(x, 16)) end)) end ";

    fn packed(args: &str) -> String {
        eval(&format!("{HEX} return hex(cmsgpack.pack({args}))"))
    }

    /// Every result of `expr` (tables as JSON, others through tostring).
    fn results(expr: &str) -> String {
        eval(&format!(
            "{HEX} local r = {{n = select('#', {expr}), {expr}}}
             local out = {{}}
             for i = 1, r.n do
               local v = r[i]
               out[i] = type(v) == 'table' and cjson.encode(v) or tostring(v)
             end
             return table.concat(out, ' ')"
        ))
    }

    // Expected bytes: `EVAL "return cmsgpack.pack(...)"` on redis-server
    // 7.0.15, shown in hex by the same helper.
    #[test]
    fn packs_numbers_like_lua_cmsgpack() {
        for (args, expected) in [
            ("0", "00"),
            ("-1", "ff"),
            ("127", "7f"),
            ("128", "cc80"),
            ("256", "cd0100"),
            ("65536", "ce00010000"),
            ("4294967296", "cf0000000100000000"),
            ("-32", "e0"),
            ("-33", "d0df"),
            ("-129", "d1ff7f"),
            ("-32769", "d2ffff7fff"),
            ("-2147483649", "d3ffffffff7fffffff"),
            ("2^53", "cf0020000000000000"),
            ("2^63", "ca5f000000"),
            ("-2^63", "d38000000000000000"),
            ("1.5", "ca3fc00000"),
            ("0.1", "cb3fb999999999999a"),
            ("-0.0", "00"),
            ("1/0", "ca7f800000"),
            ("-1/0", "caff800000"),
            ("0/0", "cbfff8000000000000"),
            ("-(0/0)", "cb7ff8000000000000"),
            ("1e20", "cb4415af1d78b58c40"),
        ] {
            assert_eq!(packed(args), expected, "pack({args})");
        }
    }

    #[test]
    fn packs_strings_tables_and_others_like_lua_cmsgpack() {
        for (args, expected) in [
            ("nil, true, false", "c0c3c2"),
            ("'abc'", "a3616263"),
            ("'\\0'", "a100"),
            ("{}", "90"),
            ("{1,2,3}", "93010203"),
            ("{a=1}", "81a16101"),
            ("{1,nil,3}", "8201010303"),
            ("{[2]=1}", "810201"),
            ("{[0]=1}", "810001"),
            ("{[1.5]=1}", "81ca3fc0000001"),
            ("{[2^31]=1}", "81ce8000000001"),
            ("function() end, cjson.null", "c0c0"),
            ("1, 2, 'x'", "0102a178"),
            (
                "{1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16}",
                "dc00100102030405060708090a0b0c0d0e0f10",
            ),
            (
                "{{{{{{{{{{{{{{{{1}}}}}}}}}}}}}}}}",
                "9191919191919191919191919191919101",
            ),
            (
                "{{{{{{{{{{{{{{{{{1}}}}}}}}}}}}}}}}}",
                "91919191919191919191919191919191c0",
            ),
        ] {
            assert_eq!(packed(args), expected, "pack({args})");
        }
        assert_eq!(eval("return #cmsgpack.pack(string.rep('a', 31))"), "32");
        assert_eq!(
            eval(&format!(
                "{HEX} return hex(cmsgpack.pack(string.rep('a', 32))):sub(1, 6)"
            )),
            "d92061"
        );
        assert_eq!(
            eval(&format!(
                "{HEX} return hex(cmsgpack.pack(string.rep('a', 256))):sub(1, 8)"
            )),
            "da010061"
        );
        assert_eq!(
            eval(&format!(
                "{HEX} return hex(cmsgpack.pack(string.rep('x', 65536))):sub(1, 12)"
            )),
            "db0001000078"
        );
        let self_referencing = "local t = {} t[1] = t return #cmsgpack.pack(t)";
        assert_eq!(eval(self_referencing), "17");
    }

    #[test]
    fn unpacks_like_lua_cmsgpack() {
        for (expr, expected) in [
            ("cmsgpack.unpack(unhex('010203'))", "1 2 3"),
            ("cmsgpack.unpack('')", ""),
            ("cmsgpack.unpack(unhex('c0c0'))", "nil nil"),
            ("cmsgpack.unpack(unhex('cfffffffffffffffff'))", "-1"),
            ("cmsgpack.unpack(unhex('ceffffffff'))", "4294967295"),
            (
                "cmsgpack.unpack(unhex('d080d1ff7fd2ffff7fffd3ffffffff7fffffff'))",
                "-128 -129 -32769 -2147483649",
            ),
            ("cmsgpack.unpack(unhex('e0ff'))", "-32 -1"),
            ("cmsgpack.unpack(unhex('ca3fc00000'))", "1.5"),
            ("cmsgpack.unpack(unhex('ca7fc00000'))", "nan"),
            ("cmsgpack.unpack(unhex('93010203'))", "[1,2,3]"),
            (
                "cmsgpack.unpack(unhex('82a16101a16202'))",
                "{\"a\":1,\"b\":2}",
            ),
            ("cmsgpack.unpack(unhex('8101c0'))", "{}"),
            ("cmsgpack.unpack(unhex('dc0002c3c2'))", "[true,false]"),
            ("cmsgpack.unpack(unhex('df0000000101c3'))", "[true]"),
            ("cmsgpack.unpack(12)", "49 50"),
            ("cmsgpack.unpack_one(unhex('010203'))", "1 1"),
            ("cmsgpack.unpack_one(unhex('010203'), 1)", "2 2"),
            ("cmsgpack.unpack_one(unhex('010203'), 2)", "-1 3"),
            ("cmsgpack.unpack_one(unhex('010203'), 3)", "-1"),
            ("cmsgpack.unpack_one('')", "-1"),
            ("cmsgpack.unpack_limit(unhex('010203'), 2)", "2 1 2"),
            ("cmsgpack.unpack_limit(unhex('010203'), 0)", "1 2 3"),
            ("cmsgpack.unpack_limit(unhex('010203'), 0, 1)", "1"),
            ("cmsgpack.unpack_limit(unhex('010203'), 5)", "-1 1 2 3"),
            ("cmsgpack.unpack_limit(unhex('010203'), 2.9)", "2 1 2"),
            (
                "cmsgpack.unpack(cmsgpack.pack({1,{a={true,false}},'s'}))",
                "[1,{\"a\":[true,false]},\"s\"]",
            ),
        ] {
            assert_eq!(results(expr), expected, "{expr}");
        }
    }

    #[test]
    fn unpack_errors_match_lua_cmsgpack() {
        for (expr, expected) in [
            (
                "cmsgpack.unpack(unhex('cc'))",
                "user_script:1: Missing bytes in input.",
            ),
            (
                "cmsgpack.unpack(unhex('9301'))",
                "user_script:1: Missing bytes in input.",
            ),
            (
                "cmsgpack.unpack(unhex('d90361'))",
                "user_script:1: Missing bytes in input.",
            ),
            (
                "cmsgpack.unpack(unhex('c1'))",
                "user_script:1: Bad data format in input.",
            ),
            (
                "cmsgpack.unpack(unhex('c4026162'))",
                "user_script:1: Bad data format in input.",
            ),
            (
                "cmsgpack.unpack(unhex('92c4'))",
                "user_script:1: Bad data format in input.",
            ),
            ("cmsgpack.unpack(unhex('81c001'))", "table index is nil"),
            (
                "cmsgpack.unpack(unhex('81cbfff800000000000001'))",
                "table index is NaN",
            ),
            (
                "cmsgpack.unpack_one(unhex('010203'), 4)",
                "user_script:1: Start offset 4 greater than input length 3.",
            ),
            (
                "cmsgpack.unpack_one(unhex('010203'), -1)",
                "user_script:1: Invalid request to unpack with offset of -1 and limit of 3.",
            ),
            (
                "cmsgpack.unpack_limit(unhex('010203'), -1)",
                "user_script:1: Invalid request to unpack with offset of 0 and limit of 3.",
            ),
            (
                "cmsgpack.unpack_limit(unhex('010203'))",
                "user_script:1: bad argument #2 to 'unpack_limit' (number expected, got no value)",
            ),
            (
                "cmsgpack.unpack_limit(unhex('010203'), 'x')",
                "user_script:1: bad argument #2 to 'unpack_limit' (number expected, got string)",
            ),
            (
                "cmsgpack.unpack()",
                "user_script:1: bad argument #1 to 'unpack' (string expected, got no value)",
            ),
            (
                "cmsgpack.unpack({})",
                "user_script:1: bad argument #1 to 'unpack' (string expected, got table)",
            ),
            (
                "cmsgpack.pack()",
                "user_script:1: bad argument #0 to 'pack' (MessagePack pack needs input.)",
            ),
            (
                "cmsgpack.unpack_one(unhex('01'), 'x')",
                "user_script:1: bad argument #2 to 'unpack_one' (number expected, got string)",
            ),
        ] {
            assert_eq!(
                eval_err(&format!("{HEX} return {expr}")),
                expected,
                "{expr}"
            );
        }
    }

    #[test]
    fn lua_stack_limits_match_lua_cmsgpack() {
        let too_many = "user_script:1: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)";
        assert_eq!(
            eval("return #{cmsgpack.unpack(string.rep('\\1', 7999))}"),
            "7999"
        );
        assert_eq!(
            eval_err("return cmsgpack.unpack(string.rep('\\1', 8000))"),
            too_many
        );
        assert_eq!(
            eval_err("return cmsgpack.unpack(string.rep('\\129\\1', 10000) .. '\\1')"),
            too_many
        );
        assert_eq!(
            eval_err("return cmsgpack.unpack(string.rep('\\145', 4000) .. '\\1')"),
            "user_script:1: stack overflow (in function mp_decode_to_lua_array)"
        );
        assert_eq!(
            eval("return type(cmsgpack.unpack(string.rep('\\145', 100) .. '\\1'))"),
            "table"
        );
    }
}
