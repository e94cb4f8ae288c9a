//! `bit`: LuaBitOp 1.0 as Redis loads it. Every operand is normalised to a
//! 32-bit integer the way LuaBitOp does on doubles (add 2^52 + 2^51 and keep
//! the low word: round to nearest even, wrap modulo 2^32) and every result is
//! a signed 32-bit number.

use std::ffi::{CStr, c_int};

use super::capi::{self, Raise, Ret, State, ffi};

/// The module table: pushed by [`open`].
const FUNCTIONS: &[(&CStr, ffi::lua_CFunction)] = &[
    (c"tobit", tobit),
    (c"bnot", bnot),
    (c"band", band),
    (c"bor", bor),
    (c"bxor", bxor),
    (c"lshift", lshift),
    (c"rshift", rshift),
    (c"arshift", arshift),
    (c"rol", rol),
    (c"ror", ror),
    (c"bswap", bswap),
    (c"tohex", tohex),
];

/// Pushes the `bit` table.
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

/// The 32-bit pattern LuaBitOp takes from a double.
fn normalise(number: f64) -> u32 {
    (number + 6_755_399_441_055_744.0).to_bits() as u32
}

/// Argument `arg` as a bit pattern. LuaBitOp on Lua 5.1 reads it with
/// `lua_tonumber` and complains only when that yields 0 from a non-number.
unsafe fn bit_arg(state: State, arg: c_int) -> Result<u32, Raise> {
    let bits = normalise(unsafe { ffi::lua_tonumber(state, arg) });
    if bits == 0 && unsafe { ffi::lua_isnumber(state, arg) } == 0 {
        return Err(unsafe { capi::type_error(state, arg, "number") });
    }
    Ok(bits)
}

unsafe fn push_bits(state: State, bits: u32) -> Ret {
    unsafe { ffi::lua_pushnumber(state, f64::from(bits as i32)) };
    Ok(1)
}

/// A unary operation over argument 1.
unsafe fn unary(state: State, op: fn(u32) -> u32) -> Ret {
    let bits = unsafe { bit_arg(state, 1) }?;
    unsafe { push_bits(state, op(bits)) }
}

/// A fold over every argument, read from the last to the second as LuaBitOp
/// does (so a bad argument is reported from the right).
unsafe fn fold(state: State, op: fn(u32, u32) -> u32) -> Ret {
    let mut bits = unsafe { bit_arg(state, 1) }?;
    for arg in (2..=unsafe { ffi::lua_gettop(state) }).rev() {
        bits = op(bits, unsafe { bit_arg(state, arg) }?);
    }
    unsafe { push_bits(state, bits) }
}

/// A shift or rotation by argument 2, taken modulo 32.
unsafe fn shift(state: State, op: fn(u32, u32) -> u32) -> Ret {
    let bits = unsafe { bit_arg(state, 1) }?;
    let count = unsafe { bit_arg(state, 2) }? & 31;
    unsafe { push_bits(state, op(bits, count)) }
}

unsafe extern "C-unwind" fn tobit(state: State) -> c_int {
    unsafe { capi::entry(state, |s| unary(s, |b| b)) }
}

unsafe extern "C-unwind" fn bnot(state: State) -> c_int {
    unsafe { capi::entry(state, |s| unary(s, |b| !b)) }
}

unsafe extern "C-unwind" fn bswap(state: State) -> c_int {
    unsafe { capi::entry(state, |s| unary(s, u32::swap_bytes)) }
}

unsafe extern "C-unwind" fn band(state: State) -> c_int {
    unsafe { capi::entry(state, |s| fold(s, |a, b| a & b)) }
}

unsafe extern "C-unwind" fn bor(state: State) -> c_int {
    unsafe { capi::entry(state, |s| fold(s, |a, b| a | b)) }
}

unsafe extern "C-unwind" fn bxor(state: State) -> c_int {
    unsafe { capi::entry(state, |s| fold(s, |a, b| a ^ b)) }
}

unsafe extern "C-unwind" fn lshift(state: State) -> c_int {
    unsafe { capi::entry(state, |s| shift(s, |b, n| b << n)) }
}

unsafe extern "C-unwind" fn rshift(state: State) -> c_int {
    unsafe { capi::entry(state, |s| shift(s, |b, n| b >> n)) }
}

unsafe extern "C-unwind" fn arshift(state: State) -> c_int {
    unsafe { capi::entry(state, |s| shift(s, |b, n| ((b as i32) >> n) as u32)) }
}

unsafe extern "C-unwind" fn rol(state: State) -> c_int {
    unsafe { capi::entry(state, |s| shift(s, u32::rotate_left)) }
}

unsafe extern "C-unwind" fn ror(state: State) -> c_int {
    unsafe { capi::entry(state, |s| shift(s, u32::rotate_right)) }
}

unsafe extern "C-unwind" fn tohex(state: State) -> c_int {
    unsafe { capi::entry(state, tohex_body) }
}

/// `bit.tohex(x [, n])`: `n` hex digits (8 by default), upper case when `n`
/// is negative, at most 8.
unsafe fn tohex_body(state: State) -> Ret {
    let mut bits = unsafe { bit_arg(state, 1) }?;
    let requested = if unsafe { ffi::lua_isnone(state, 2) } != 0 {
        8
    } else {
        unsafe { bit_arg(state, 2) }? as i32
    };
    let digits: &[u8; 16] = if requested < 0 {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    // LuaBitOp negates and clamps; -2^31 has no positive twin and its C
    // build ends up with 8 digits as well.
    let width = requested.unsigned_abs().min(8) as usize;
    let mut text = [0u8; 8];
    for slot in text[..width].iter_mut().rev() {
        *slot = digits[(bits & 15) as usize];
        bits >>= 4;
    }
    unsafe { capi::push_bytes(state, &text[..width]) };
    Ok(1)
}

#[cfg(test)]
mod tests {
    use crate::script::lib::test_support::{eval, eval_err};

    // Expected values: `redis-cli -p <port> EVAL "return tostring(<expr>)" 0`
    // against redis-server 7.0.15.
    #[test]
    fn normalises_doubles_like_luabitop() {
        for (expr, expected) in [
            ("bit.tobit(0xffffffff)", "-1"),
            ("bit.tobit(2^32+1)", "1"),
            ("bit.tobit(1.5)", "2"),
            ("bit.tobit(2.5)", "2"),
            ("bit.tobit(-1.5)", "-2"),
            ("bit.tobit(-0.5)", "0"),
            ("bit.tobit(2^52)", "0"),
            ("bit.tobit(2^53+3)", "2"),
            ("bit.tobit(1e100)", "630506365"),
            ("bit.tobit(0/0)", "0"),
            ("bit.tobit(1/0)", "0"),
            ("bit.tobit(2^31)", "-2147483648"),
            ("bit.tobit(2^51 + 0.5)", "0"),
            ("bit.tobit(-2^51-0.5)", "-1"),
            ("bit.tobit('0x10')", "16"),
            ("bit.tobit(' 12 ')", "12"),
        ] {
            assert_eq!(
                eval(&format!("return tostring({expr})")),
                expected,
                "{expr}"
            );
        }
    }

    #[test]
    fn operations_match_luabitop() {
        for (expr, expected) in [
            ("bit.bnot(0)", "-1"),
            ("bit.band(0xff, 0x0f, 0x3)", "3"),
            ("bit.band(1)", "1"),
            ("bit.bor(1, 2, 4)", "7"),
            ("bit.bxor(1, 3)", "2"),
            ("bit.band(2^32-1, 2^32-1)", "-1"),
            ("bit.lshift(1, 31)", "-2147483648"),
            ("bit.lshift(1, 32)", "1"),
            ("bit.lshift(1, 33)", "2"),
            ("bit.lshift(1, -1)", "-2147483648"),
            ("bit.rshift(-1, 28)", "15"),
            ("bit.arshift(-256, 4)", "-16"),
            ("bit.arshift(0x80000000, 1)", "-1073741824"),
            ("bit.rol(0x12345678, 8)", "878082066"),
            ("bit.ror(0x12345678, 8)", "2014458966"),
            ("bit.rol(1, 0)", "1"),
            ("bit.ror(1, -1)", "2"),
            ("bit.bswap(0x12345678)", "2018915346"),
            ("bit.bswap(0x80)", "-2147483648"),
        ] {
            assert_eq!(
                eval(&format!("return tostring({expr})")),
                expected,
                "{expr}"
            );
        }
    }

    #[test]
    fn tohex_widths_and_case() {
        for (expr, expected) in [
            ("bit.tohex(255)", "000000ff"),
            ("bit.tohex(-1)", "ffffffff"),
            ("bit.tohex(255, 2)", "ff"),
            ("bit.tohex(255, -2)", "FF"),
            ("bit.tohex(255, 0)", ""),
            ("bit.tohex(255, 10)", "000000ff"),
            ("bit.tohex(255, -10)", "000000FF"),
            ("bit.tohex(0x12345678, 3)", "678"),
            ("bit.tohex(255, -2^31)", "000000FF"),
            ("bit.tohex(255, 2^31)", "000000FF"),
        ] {
            assert_eq!(eval(&format!("return {expr}")), expected, "{expr}");
        }
    }

    #[test]
    fn argument_errors_name_the_function_and_position() {
        for (expr, expected) in [
            (
                "bit.tobit('x')",
                "bad argument #1 to 'tobit' (number expected, got string)",
            ),
            (
                "bit.tobit()",
                "bad argument #1 to 'tobit' (number expected, got no value)",
            ),
            (
                "bit.tobit(nil)",
                "bad argument #1 to 'tobit' (number expected, got nil)",
            ),
            (
                "bit.band()",
                "bad argument #1 to 'band' (number expected, got no value)",
            ),
            (
                "bit.band(1, 'x', {})",
                "bad argument #3 to 'band' (number expected, got table)",
            ),
            (
                "bit.bor(1, nil)",
                "bad argument #2 to 'bor' (number expected, got nil)",
            ),
            (
                "bit.lshift(1)",
                "bad argument #2 to 'lshift' (number expected, got no value)",
            ),
            (
                "bit.tohex(1, nil)",
                "bad argument #2 to 'tohex' (number expected, got nil)",
            ),
        ] {
            assert_eq!(
                eval_err(&format!("return {expr}")),
                format!("user_script:1: {expected}")
            );
        }
        // Called through pcall, the function has no name and no caller line.
        assert_eq!(
            eval("return select(2, pcall(bit.tobit, {}))"),
            "bad argument #1 to '?' (number expected, got table)"
        );
    }
}
