//! The thin layer between the libraries and Lua's C API.
//!
//! The libraries are Lua C functions (not mlua callbacks) because scripts see
//! their errors: an mlua callback raises a userdata wrapping a Rust error,
//! while Redis's libraries raise plain strings carrying the caller's position
//! (`user_script:1: ...`) and name the function as called (`bad argument #1
//! to 'band'`), which `pcall` hands back to the script. Lua raises errors by
//! `longjmp`, which must never cross a Rust frame that owns something to
//! drop, so every library function body returns a [`Ret`] and [`entry`]
//! raises the error only after that body has returned and dropped its values.

use std::ffi::{CStr, c_int};

pub(super) use mlua::ffi;

pub(super) type State = *mut ffi::lua_State;

/// How a library call fails; raised in Lua by [`entry`].
#[derive(Debug)]
pub(super) enum Raise {
    /// `luaL_error`: the message after the calling script's position.
    Error(Vec<u8>),
    /// `luaL_argerror`: "bad argument #n to 'name' (message)".
    Arg(c_int, Vec<u8>),
    /// `lua_error` with the bare message, as Lua's own table code raises.
    Bare(Vec<u8>),
}

impl Raise {
    pub(super) fn error(message: impl Into<Vec<u8>>) -> Raise {
        Raise::Error(message.into())
    }

    pub(super) fn arg(arg: c_int, message: impl Into<Vec<u8>>) -> Raise {
        Raise::Arg(arg, message.into())
    }
}

/// The outcome of a library function body: how many results it pushed.
pub(super) type Ret = Result<c_int, Raise>;

/// Runs a library function body and raises its error, if any, once the
/// body's frame is gone. A panic becomes a Lua error instead of unwinding
/// into Lua's C frames.
///
/// # Safety
/// `state` is the running Lua state; `body` follows the stack discipline of
/// a Lua C function.
pub(super) unsafe fn entry(state: State, body: unsafe fn(State) -> Ret) -> c_int {
    let arguments = unsafe { ffi::lua_gettop(state) };
    let raise = match std::panic::catch_unwind(|| unsafe { body(state) }) {
        Ok(Ok(results)) => return results,
        Ok(Err(raise)) => raise,
        Err(payload) => {
            drop(payload);
            Raise::error("internal error in a scripting library")
        }
    };
    // The body may have filled the stack it was given; the message needs
    // room.
    unsafe {
        ffi::lua_settop(state, arguments);
        raise_error(state, raise)
    }
}

/// Pushes the message of `raise` and throws it; owns and drops the message
/// before the `longjmp`.
unsafe fn raise_error(state: State, raise: Raise) -> ! {
    unsafe {
        match raise {
            Raise::Error(message) => {
                ffi::luaL_where(state, 1);
                push_bytes(state, &message);
                drop(message);
                ffi::lua_concat(state, 2);
            }
            Raise::Arg(arg, message) => {
                let text = push_bytes(state, &message);
                drop(message);
                ffi::luaL_argerror(state, arg, text);
            }
            Raise::Bare(message) => {
                push_bytes(state, &message);
                drop(message);
            }
        }
        ffi::lua_error(state)
    }
}

/// Pushes a Lua string; returns Lua's NUL-terminated copy.
pub(super) unsafe fn push_bytes(state: State, bytes: &[u8]) -> *const std::ffi::c_char {
    unsafe { ffi::lua_pushlstring(state, bytes.as_ptr().cast(), bytes.len()) }
}

/// The string (or number, converted in place as Lua does) at `index`.
///
/// # Safety
/// The slice lives in Lua's heap: only while the value stays on the stack.
pub(super) unsafe fn to_bytes<'a>(state: State, index: c_int) -> Option<&'a [u8]> {
    let mut len = 0usize;
    let ptr = unsafe { ffi::lua_tolstring(state, index, &mut len) };
    if ptr.is_null() {
        None
    } else {
        Some(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) })
    }
}

/// `luaL_checklstring`.
///
/// # Safety
/// As [`to_bytes`].
pub(super) unsafe fn check_bytes<'a>(state: State, arg: c_int) -> Result<&'a [u8], Raise> {
    unsafe { to_bytes(state, arg) }.ok_or_else(|| unsafe { type_error(state, arg, "string") })
}

/// `luaL_checknumber`: numbers and numeric strings.
pub(super) unsafe fn check_number(state: State, arg: c_int) -> Result<f64, Raise> {
    let number = unsafe { ffi::lua_tonumber(state, arg) };
    if number == 0.0 && unsafe { ffi::lua_isnumber(state, arg) } == 0 {
        return Err(unsafe { type_error(state, arg, "number") });
    }
    Ok(number)
}

/// `luaL_typerror`: "T expected, got U" about argument `arg`.
pub(super) unsafe fn type_error(state: State, arg: c_int, expected: &str) -> Raise {
    let got = unsafe { type_name(state, arg) };
    Raise::arg(arg, format!("{expected} expected, got {got}"))
}

/// `luaL_checkinteger`: the number truncated as C casts it.
pub(super) unsafe fn check_integer(state: State, arg: c_int) -> Result<i64, Raise> {
    unsafe { check_number(state, arg) }.map(c_double_to_i64)
}

/// `luaL_optinteger`.
pub(super) unsafe fn opt_integer(state: State, arg: c_int, default: i64) -> Result<i64, Raise> {
    if (unsafe { ffi::lua_type(state, arg) }) <= ffi::LUA_TNIL {
        Ok(default)
    } else {
        unsafe { check_integer(state, arg) }
    }
}

/// Whether argument `arg` is absent or nil.
pub(super) unsafe fn is_none_or_nil(state: State, arg: c_int) -> bool {
    (unsafe { ffi::lua_type(state, arg) }) <= ffi::LUA_TNIL
}

/// `lua_checkstack` turned into the `luaL_checkstack` error.
pub(super) unsafe fn check_stack(state: State, slots: c_int, what: &str) -> Result<(), Raise> {
    if unsafe { ffi::lua_checkstack(state, slots) } == 0 {
        return Err(Raise::error(format!("stack overflow ({what})")));
    }
    Ok(())
}

/// Lua's name for the type of the value at `index`.
pub(super) unsafe fn type_name(state: State, index: c_int) -> String {
    let name = unsafe { CStr::from_ptr(ffi::lua_typename(state, ffi::lua_type(state, index))) };
    name.to_string_lossy().into_owned()
}

/// Sets `table[name] = value at top` on the table at `table`.
pub(super) unsafe fn set_field(state: State, table: c_int, name: &CStr) {
    unsafe { ffi::lua_setfield(state, table, name.as_ptr()) }
}

/// `(int64_t)d` as x86-64 computes it: truncation, and the "integer
/// indefinite" value for NaN and out-of-range doubles. The C libraries rely
/// on it, so their quirks at the edges show through.
pub(super) fn c_double_to_i64(d: f64) -> i64 {
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&d) {
        d as i64
    } else {
        i64::MIN
    }
}

/// `(int)d` as x86-64 computes it (see [`c_double_to_i64`]).
pub(super) fn c_double_to_i32(d: f64) -> i32 {
    if d > -2_147_483_649.0 && d < 2_147_483_648.0 {
        d as i32
    } else {
        i32::MIN
    }
}

/// `(uint64_t)d` as x86-64 code from gcc computes it: below 2^63 (and for
/// NaN) a signed conversion, above it a conversion of `d - 2^63` with the top
/// bit flipped.
pub(super) fn c_double_to_u64(d: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if d >= TWO_63 {
        (c_double_to_i64(d - TWO_63) as u64) ^ (1 << 63)
    } else {
        c_double_to_i64(d) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_casts_follow_x86_at_the_edges() {
        assert_eq!(c_double_to_i64(-1.9), -1);
        assert_eq!(c_double_to_i64(1e30), i64::MIN);
        assert_eq!(c_double_to_i64(f64::NAN), i64::MIN);
        assert_eq!(c_double_to_i32(2147483648.0), i32::MIN);
        assert_eq!(c_double_to_i32(-2147483648.9), -2147483648);
        assert_eq!(c_double_to_u64(9223372036854775808.0), 1 << 63);
        assert_eq!(c_double_to_u64(18446744073709551616.0), 0);
        assert_eq!(c_double_to_u64(f64::INFINITY), 0);
        assert_eq!(c_double_to_u64(f64::NAN), 1 << 63);
        assert_eq!(c_double_to_u64(-1.0), u64::MAX);
    }
}
