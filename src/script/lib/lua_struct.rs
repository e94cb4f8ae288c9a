//! `struct`: lua-struct as Redis ships it — `pack`, `unpack` and `size` over
//! a format of `<` `>` (endianness), `!n` (maximum alignment), `x` (a pad
//! byte), `b/B h/H l/L T i/I[n]` (integers of 1, 2, 8, 8 and n bytes,
//! lower case signed), `f` `d` (floats), `c[n]` (n chars; `c0` the whole
//! string, or on unpack the length read just before), `s` (zero-terminated)
//! and spaces. Sizes are those of x86-64: int 4, long and size_t 8.

use std::ffi::{CStr, c_int};

use super::capi::{self, Raise, Ret, State, ffi};

const FUNCTIONS: &[(&CStr, ffi::lua_CFunction)] =
    &[(c"pack", pack), (c"unpack", unpack), (c"size", size)];

/// Pushes the `struct` table.
pub(super) unsafe extern "C-unwind" fn open(state: State) -> c_int {
    unsafe {
        ffi::lua_createtable(state, 0, FUNCTIONS.len() as c_int);
        for (name, function) in FUNCTIONS {
            ffi::lua_pushcclosure(state, *function, 0);
            capi::set_field(state, -2, name);
        }
    }
    1
}

/// Largest `i`/`I` size.
const MAX_INT_SIZE: usize = 32;
/// `!` without a number: the platform's largest alignment.
const MAX_ALIGN: usize = 8;
const DEFAULT_INT_SIZE: usize = 4;

/// The state the control options change as a format is read.
#[derive(Clone, Copy)]
struct Header {
    little_endian: bool,
    align: usize,
}

impl Default for Header {
    fn default() -> Header {
        Header {
            little_endian: cfg!(target_endian = "little"),
            align: 1,
        }
    }
}

/// A format string being read, option by option. Like the C code it ends at
/// the first NUL.
struct Format<'a> {
    text: &'a [u8],
    at: usize,
}

impl<'a> Format<'a> {
    fn new(text: &'a [u8]) -> Format<'a> {
        let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
        Format {
            text: &text[..end],
            at: 0,
        }
    }

    fn next_option(&mut self) -> Option<u8> {
        let option = *self.text.get(self.at)?;
        self.at += 1;
        Some(option)
    }

    /// The decimal number that follows, or `default` when none does.
    fn number(&mut self, default: usize) -> Result<usize, Raise> {
        if !self.text.get(self.at).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut value: i32 = 0;
        while let Some(&digit @ b'0'..=b'9') = self.text.get(self.at) {
            let digit = i32::from(digit - b'0');
            if value > i32::MAX / 10 || value * 10 > i32::MAX - digit {
                return Err(Raise::error("integral size overflow"));
            }
            value = value * 10 + digit;
            self.at += 1;
        }
        Ok(value as usize)
    }

    /// The size of a data option (reading its count); 0 for the others.
    fn size_of(&mut self, option: u8) -> Result<usize, Raise> {
        Ok(match option {
            b'b' | b'B' | b'x' => 1,
            b'h' | b'H' => 2,
            b'f' => 4,
            b'l' | b'L' | b'T' | b'd' => 8,
            b'c' => self.number(1)?,
            b'i' | b'I' => {
                let size = self.number(DEFAULT_INT_SIZE)?;
                if size > MAX_INT_SIZE {
                    return Err(Raise::error(format!(
                        "integral size {size} is larger than limit of {MAX_INT_SIZE}"
                    )));
                }
                size
            }
            _ => 0,
        })
    }

    /// Applies a control option (or rejects an unknown one).
    fn control(&mut self, option: u8, header: &mut Header) -> Result<(), Raise> {
        match option {
            b' ' => {}
            b'>' => header.little_endian = false,
            b'<' => header.little_endian = true,
            b'!' => {
                let align = self.number(MAX_ALIGN)?;
                if !align.is_power_of_two() {
                    return Err(Raise::error(format!(
                        "alignment {align} is not a power of 2"
                    )));
                }
                header.align = align;
            }
            _ => {
                let mut message = b"invalid format option '".to_vec();
                message.extend([option, b'\'']);
                return Err(Raise::arg(1, message));
            }
        }
        Ok(())
    }
}

/// Padding before an item of `size` at offset `len`. The arithmetic is the
/// C library's, sizes that are not powers of two included.
fn padding(len: usize, header: &Header, option: u8, size: usize) -> usize {
    if size == 0 || option == b'c' {
        return 0;
    }
    let size = size.min(header.align);
    size.wrapping_sub(len & (size - 1)) & (size - 1)
}

fn is_integer_option(option: u8) -> bool {
    matches!(
        option,
        b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I'
    )
}

unsafe extern "C-unwind" fn pack(state: State) -> c_int {
    unsafe { capi::entry(state, pack_body) }
}

unsafe fn pack_body(state: State) -> Ret {
    let mut format = Format::new(unsafe { capi::check_bytes(state, 1) }?);
    // The C code pushes a nil to mark the end of its arguments: a missing
    // argument right after the last one reads as nil, not "no value".
    unsafe { ffi::lua_pushnil(state) };
    let mut header = Header::default();
    let mut arg: c_int = 2;
    let mut out = Vec::new();
    while let Some(option) = format.next_option() {
        let mut size = format.size_of(option)?;
        out.resize(out.len() + padding(out.len(), &header, option, size), 0);
        match option {
            _ if is_integer_option(option) => {
                let number = unsafe { capi::check_number(state, arg) }?;
                arg += 1;
                put_integer(&mut out, number, header.little_endian, size);
            }
            b'x' => out.push(0),
            b'f' => {
                let number = unsafe { capi::check_number(state, arg) }? as f32;
                arg += 1;
                let bytes = if header.little_endian {
                    number.to_le_bytes()
                } else {
                    number.to_be_bytes()
                };
                out.extend(bytes);
            }
            b'd' => {
                let number = unsafe { capi::check_number(state, arg) }?;
                arg += 1;
                let bytes = if header.little_endian {
                    number.to_le_bytes()
                } else {
                    number.to_be_bytes()
                };
                out.extend(bytes);
            }
            b'c' | b's' => {
                let text = unsafe { capi::check_bytes(state, arg) }?;
                arg += 1;
                if size == 0 {
                    size = text.len();
                }
                if text.len() < size {
                    // The C code reports the argument after the string.
                    return Err(Raise::arg(arg, "string too short"));
                }
                out.extend_from_slice(&text[..size]);
                if option == b's' {
                    out.push(0);
                }
            }
            _ => format.control(option, &mut header)?,
        }
    }
    unsafe { capi::push_bytes(state, &out) };
    Ok(1)
}

/// Writes the low `size` bytes of `number` as the C library converts it
/// (through a signed 64-bit integer when negative); bytes past the eighth
/// are zero.
fn put_integer(out: &mut Vec<u8>, number: f64, little_endian: bool, size: usize) {
    let mut value = if number < 0.0 {
        capi::c_double_to_i64(number) as u64
    } else {
        capi::c_double_to_u64(number)
    };
    let start = out.len();
    for _ in 0..size {
        out.push(value as u8);
        value = value.checked_shr(8).unwrap_or(0);
    }
    if !little_endian {
        out[start..].reverse();
    }
}

/// Reads an integer of `bytes.len()` bytes; wider than 8 keeps the low 8.
fn get_integer(bytes: &[u8], little_endian: bool, signed: bool) -> f64 {
    let fold = |acc: u64, &b: &u8| (acc << 8) | u64::from(b);
    let value = if little_endian {
        bytes.iter().rev().fold(0, fold)
    } else {
        bytes.iter().fold(0, fold)
    };
    if !signed {
        return value as f64;
    }
    // x86 takes shift counts modulo 64, which the C code relies on for
    // sizes above 8.
    let sign_mask = u64::MAX.wrapping_shl((bytes.len() * 8).wrapping_sub(1) as u32);
    let value = if value & sign_mask != 0 {
        value | sign_mask
    } else {
        value
    };
    value as i64 as f64
}

unsafe extern "C-unwind" fn unpack(state: State) -> c_int {
    unsafe { capi::entry(state, unpack_body) }
}

unsafe fn unpack_body(state: State) -> Ret {
    let mut format = Format::new(unsafe { capi::check_bytes(state, 1) }?);
    let data = unsafe { capi::check_bytes(state, 2) }?;
    let start = unsafe { capi::opt_integer(state, 3, 1) }? as usize;
    if start == 0 {
        return Err(Raise::arg(3, "offset must be 1 or greater"));
    }
    let too_short = || Raise::arg(2, "data string too short");
    let fits = |pos: usize, size: usize| size <= data.len() && pos <= data.len() - size;
    let mut header = Header::default();
    let mut pos = start - 1;
    let mut results: c_int = 0;
    while let Some(option) = format.next_option() {
        let mut size = format.size_of(option)?;
        pos = pos.wrapping_add(padding(pos, &header, option, size));
        if !fits(pos, size) {
            return Err(too_short());
        }
        unsafe { capi::check_stack(state, 2, "too many results") }?;
        match option {
            _ if is_integer_option(option) => {
                let signed = option.is_ascii_lowercase();
                let number = get_integer(&data[pos..pos + size], header.little_endian, signed);
                unsafe { ffi::lua_pushnumber(state, number) };
                results += 1;
            }
            b'x' => {}
            b'f' => {
                let raw: [u8; 4] = data[pos..pos + 4].try_into().expect("4 bytes");
                let number = if header.little_endian {
                    f32::from_le_bytes(raw)
                } else {
                    f32::from_be_bytes(raw)
                };
                unsafe { ffi::lua_pushnumber(state, f64::from(number)) };
                results += 1;
            }
            b'd' => {
                let raw: [u8; 8] = data[pos..pos + 8].try_into().expect("8 bytes");
                let number = if header.little_endian {
                    f64::from_le_bytes(raw)
                } else {
                    f64::from_be_bytes(raw)
                };
                unsafe { ffi::lua_pushnumber(state, number) };
                results += 1;
            }
            b'c' => {
                if size == 0 {
                    // `c0` takes its length from the previous result.
                    if results == 0 || unsafe { ffi::lua_isnumber(state, -1) } == 0 {
                        return Err(Raise::error("format 'c0' needs a previous size"));
                    }
                    size = capi::c_double_to_u64(unsafe { ffi::lua_tonumber(state, -1) }) as usize;
                    unsafe { ffi::lua_settop(state, -2) };
                    results -= 1;
                    if !fits(pos, size) {
                        return Err(too_short());
                    }
                }
                unsafe { capi::push_bytes(state, &data[pos..pos + size]) };
                results += 1;
            }
            b's' => {
                let Some(len) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err(Raise::error("unfinished string in data"));
                };
                unsafe { capi::push_bytes(state, &data[pos..pos + len]) };
                size = len + 1;
                results += 1;
            }
            _ => format.control(option, &mut header)?,
        }
        pos = pos.wrapping_add(size);
    }
    unsafe { ffi::lua_pushinteger(state, pos.wrapping_add(1) as i64) };
    Ok(results + 1)
}

unsafe extern "C-unwind" fn size(state: State) -> c_int {
    unsafe { capi::entry(state, size_body) }
}

unsafe fn size_body(state: State) -> Ret {
    let mut format = Format::new(unsafe { capi::check_bytes(state, 1) }?);
    let mut header = Header::default();
    let mut pos = 0usize;
    while let Some(option) = format.next_option() {
        let size = format.size_of(option)?;
        pos += padding(pos, &header, option, size);
        if option == b's' {
            return Err(Raise::arg(1, "option 's' has no fixed size"));
        }
        if option == b'c' && size == 0 {
            return Err(Raise::arg(1, "option 'c0' has no fixed size"));
        }
        // Unknown letters are skipped here, unlike in pack and unpack.
        if !option.is_ascii_alphanumeric() {
            format.control(option, &mut header)?;
        }
        pos += size;
    }
    unsafe { ffi::lua_pushinteger(state, pos as i64) };
    Ok(1)
}

#[cfg(test)]
mod tests {
    use crate::script::lib::test_support::{eval, eval_err};

    /// Lua that renders every result of `expr` (strings in hex) joined by
    /// spaces.
    fn show(expr: &str) -> String {
        eval(&format!(
            "local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
             local r = {{{expr}}}
             for i = 1, #r do r[i] = type(r[i]) == 'string' and hex(r[i]) or tostring(r[i]) end
             return table.concat(r, ' ')"
        ))
    }

    // Expected values: EVAL of the same expressions on redis-server 7.0.15,
    // strings rendered in hex by the same helper.
    #[test]
    fn pack_matches_lua_struct() {
        for (expr, expected) in [
            (r#"struct.pack("i", 1)"#, "01000000"),
            (r#"struct.pack(">i", 1)"#, "00000001"),
            (r#"struct.pack("<h>h", 1, 2)"#, "01000002"),
            (
                r#"struct.pack("bBhHlLT", -1, 255, -2, 65535, -3, 4, 5)"#,
                "fffffefffffffdffffffffffffff04000000000000000500000000000000",
            ),
            (r#"struct.pack("i3", -1)"#, "ffffff"),
            (
                r#"struct.pack("i16", -1)"#,
                "ffffffffffffffff0000000000000000",
            ),
            (
                r#"struct.pack("I16", 2^60)"#,
                "00000000000000100000000000000000",
            ),
            (r#"struct.pack("b", 300)"#, "2c"),
            (r#"struct.pack("b", -1.9)"#, "ff"),
            (r#"struct.pack("I", 2^32)"#, "00000000"),
            (r#"struct.pack("L", 2^64)"#, "0000000000000000"),
            (r#"struct.pack("l", 2^63)"#, "0000000000000080"),
            (r#"struct.pack("L", 0/0)"#, "0000000000000080"),
            (r#"struct.pack("l", 1e30)"#, "0000000000000000"),
            (r#"struct.pack("L", -1e30)"#, "0000000000000080"),
            (r#"struct.pack("f", 1.5)"#, "0000c03f"),
            (r#"struct.pack(">d", 1.5)"#, "3ff8000000000000"),
            (r#"struct.pack("c", "abc")"#, "61"),
            (r#"struct.pack("c3", "abcdef")"#, "616263"),
            (r#"struct.pack("c0", "ab\0c")"#, "61620063"),
            (r#"struct.pack("s", "ab\0c")"#, "6162006300"),
            (r#"struct.pack("xi", 1)"#, "0001000000"),
            (r#"struct.pack("!xi", 1)"#, "0000000001000000"),
            (r#"struct.pack("!2xi", 1)"#, "000001000000"),
            (
                r#"struct.pack("!xd", 1)"#,
                "0000000000000000000000000000f03f",
            ),
            (r#"struct.pack("!4xd", 1)"#, "00000000000000000000f03f"),
            (r#"struct.pack("!xc2", "ab")"#, "006162"),
            (r#"struct.pack("!xi3", 1)"#, "000000010000"),
            (r#"struct.pack(" < i ", 1)"#, "01000000"),
            (r#"struct.pack("c", 12)"#, "31"),
        ] {
            assert_eq!(show(expr), expected, "{expr}");
        }
    }

    #[test]
    fn unpack_matches_lua_struct() {
        for (expr, expected) in [
            (r#"struct.unpack("i", struct.pack("i", -5))"#, "-5 5"),
            (r#"struct.unpack(">I", "\255\255\255\255")"#, "4294967295 5"),
            (r#"struct.unpack("i16", string.rep("\255", 16))"#, "-1 17"),
            (
                r#"struct.unpack("I16", string.rep("\255", 16))"#,
                "1.844674407371e+19 17",
            ),
            (r#"struct.unpack("i3", "\255\255\127")"#, "8388607 4"),
            (r#"struct.unpack("i3", "\255\255\255")"#, "-1 4"),
            (r#"struct.unpack("i", "abcde", 2)"#, "1701077858 6"),
            (r#"struct.unpack("i", "abcd", 1.9)"#, "1684234849 5"),
            (r#"struct.unpack("", "abcd", 6)"#, "6"),
            (r#"struct.unpack("s", "ab\0cd")"#, "6162 4"),
            (r#"struct.unpack("ss", "a\0b\0")"#, "61 62 5"),
            (r#"struct.unpack("bc0", "\2abc")"#, "6162 4"),
            (r#"struct.unpack("c1c0", "3abc")"#, "616263 5"),
            (r#"struct.unpack("c", "abc")"#, "61 2"),
            (r#"struct.unpack("x", "abc")"#, "2"),
            (r#"struct.unpack("!xi", "12345678")"#, "943142453 9"),
            (
                r#"struct.unpack("f", struct.pack("f", 1.1))"#,
                "1.1000000238419 5",
            ),
            (r#"struct.unpack("d", struct.pack("d", 1.1))"#, "1.1 9"),
        ] {
            assert_eq!(show(expr), expected, "{expr}");
        }
    }

    #[test]
    fn size_matches_lua_struct() {
        for (expr, expected) in [
            (r#"struct.size("i")"#, "4"),
            (r#"struct.size("bhilxcdfT")"#, "37"),
            (r#"struct.size("!bhilxcdfT")"#, "48"),
            (r#"struct.size("z")"#, "0"),
            (r#"struct.size("c9")"#, "9"),
            (r#"struct.size("!4xd")"#, "12"),
            (r#"struct.size("!xi3")"#, "6"),
            (r#"struct.size("!8xi7")"#, "14"),
        ] {
            assert_eq!(show(expr), expected, "{expr}");
        }
    }

    #[test]
    fn errors_match_lua_struct() {
        for (expr, expected) in [
            (
                r#"struct.pack("i33", 1)"#,
                "integral size 33 is larger than limit of 32",
            ),
            (
                r#"struct.pack("c5", "ab")"#,
                "bad argument #3 to 'pack' (string too short)",
            ),
            (
                r#"struct.pack("s")"#,
                "bad argument #2 to 'pack' (string expected, got nil)",
            ),
            (
                r#"struct.pack("i", "x")"#,
                "bad argument #2 to 'pack' (number expected, got string)",
            ),
            (
                r#"struct.pack("i")"#,
                "bad argument #2 to 'pack' (number expected, got nil)",
            ),
            (
                r#"struct.pack()"#,
                "bad argument #1 to 'pack' (string expected, got no value)",
            ),
            (
                r#"struct.pack("z", 1)"#,
                "bad argument #1 to 'pack' (invalid format option 'z')",
            ),
            (
                r#"struct.pack("!3xi", 1)"#,
                "alignment 3 is not a power of 2",
            ),
            (
                r#"struct.pack("!0xi", 1)"#,
                "alignment 0 is not a power of 2",
            ),
            (
                r#"struct.pack("i99999999999", 1)"#,
                "integral size overflow",
            ),
            (
                r#"struct.pack(12, 1)"#,
                "bad argument #1 to 'pack' (invalid format option '1')",
            ),
            (
                r#"struct.unpack("i", "abc")"#,
                "bad argument #2 to 'unpack' (data string too short)",
            ),
            (
                r#"struct.unpack("i", "abcd", 0)"#,
                "bad argument #3 to 'unpack' (offset must be 1 or greater)",
            ),
            (
                r#"struct.unpack("i", "abcd", -1)"#,
                "bad argument #2 to 'unpack' (data string too short)",
            ),
            (
                r#"struct.unpack("<", "abcd", 6)"#,
                "bad argument #2 to 'unpack' (data string too short)",
            ),
            (r#"struct.unpack("s", "ab")"#, "unfinished string in data"),
            (
                r#"struct.unpack("c0", "ab")"#,
                "format 'c0' needs a previous size",
            ),
            (
                r#"struct.unpack("bc0", "\9abc")"#,
                "bad argument #2 to 'unpack' (data string too short)",
            ),
            (
                r#"struct.unpack("i")"#,
                "bad argument #2 to 'unpack' (string expected, got no value)",
            ),
            (
                r#"struct.unpack("i", "abcd", "x")"#,
                "bad argument #3 to 'unpack' (number expected, got string)",
            ),
            (
                r#"struct.size("s")"#,
                "bad argument #1 to 'size' (option 's' has no fixed size)",
            ),
            (
                r#"struct.size("c0")"#,
                "bad argument #1 to 'size' (option 'c0' has no fixed size)",
            ),
            (
                r#"struct.size("=")"#,
                "bad argument #1 to 'size' (invalid format option '=')",
            ),
        ] {
            assert_eq!(
                eval_err(&format!("return {expr}")),
                format!("user_script:1: {expected}"),
                "{expr}"
            );
        }
    }

    #[test]
    fn round_trips_binary_strings_and_edge_numbers() {
        assert_eq!(
            show(r#"struct.unpack(">dBc0", struct.pack(">dBc0", 2^53, 3, "\0\1\255"))"#),
            "9.007199254741e+15 0001ff 13"
        );
        assert_eq!(
            show(r#"struct.unpack("<d", struct.pack("<d", -0.0))"#),
            "-0 9"
        );
        assert_eq!(
            show(r#"struct.unpack("l", struct.pack("l", -2^63))"#),
            "-9.2233720368548e+18 9"
        );
    }
}
