//! The libraries Redis loads into every script's interpreter besides Lua's
//! own `string`, `math` and `table`: `cjson`, `cmsgpack`, `bit` and `struct`.
//!
//! Each is written against Lua's C API ([`capi`] says why) and mirrors what
//! Redis 7.0 shows scripts, quirks included: output bytes, error texts and
//! the limits that come from Lua's C stack.
//!
//! For the engine: call [`register_all`] once per interpreter, before
//! protecting `_G`. Library errors are plain Lua strings with Redis's
//! position prefix (`user_script:1: ...` for a chunk named `@user_script`);
//! mlua reports them as `Error::RuntimeError` with a traceback appended
//! after `"\nstack traceback:"`. `cjson`'s settings live in the interpreter
//! and persist between scripts, as in Redis, until it is recreated.

mod bit;
mod capi;
mod cjson;
mod cmsgpack;
mod fpconv;
mod lua_struct;
#[cfg(test)]
mod roundtrip;

use std::ffi::c_int;

use mlua::{Lua, Table};

use capi::{Raise, State, ffi};

/// Each global and the C function that pushes its table.
const LIBRARIES: &[(&str, ffi::lua_CFunction)] = &[
    ("cjson", cjson::open),
    ("cmsgpack", cmsgpack::open),
    ("bit", bit::open),
    ("struct", lua_struct::open),
];

/// Installs every library as a read-only global of `lua`.
pub fn register_all(lua: &Lua) -> mlua::Result<()> {
    for &(name, open) in LIBRARIES {
        // SAFETY: `open` is a Lua C function that only pushes a table.
        let library: Table = unsafe { lua.create_c_function(open) }?.call(())?;
        lua.globals().raw_set(name, read_only_view(lua, library)?)?;
    }
    Ok(())
}

/// A table that reads through to `table` and refuses writes, as Redis makes
/// its library tables. Stock Lua 5.1 has no read-only flag, so this is an
/// empty proxy: `t.x = v` fails like Redis ("Attempt to modify a readonly
/// table"), but `pairs` over it sees nothing and `rawset` can still add keys
/// to the proxy (Redis refuses both). Its metatable is protected.
pub fn read_only_view(lua: &Lua, table: Table) -> mlua::Result<Table> {
    let metatable = lua.create_table()?;
    metatable.raw_set("__index", table)?;
    // SAFETY: `deny_write` is a Lua C function that only raises an error.
    metatable.raw_set("__newindex", unsafe { lua.create_c_function(deny_write) }?)?;
    metatable.raw_set("__metatable", false)?;
    let view = lua.create_table()?;
    view.set_metatable(Some(metatable))?;
    Ok(view)
}

unsafe extern "C-unwind" fn deny_write(state: State) -> c_int {
    unsafe {
        capi::entry(state, |_| {
            Err(Raise::error("Attempt to modify a readonly table"))
        })
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Runs snippets the way Redis runs a script body: chunk `@user_script`,
    //! so positions read `user_script:1:` as in Redis's error replies.

    use mlua::{Lua, Value};

    pub fn lua() -> Lua {
        let lua = Lua::new();
        super::register_all(&lua).expect("register libraries");
        lua
    }

    /// The script's single result as bytes (numbers as Lua prints them).
    pub fn eval_bytes_on(lua: &Lua, code: &str) -> Vec<u8> {
        let value: Value = lua
            .load(code)
            .set_name("@user_script")
            .eval()
            .unwrap_or_else(|e| panic!("{code}: {e}"));
        match value {
            Value::String(s) => s.as_bytes().to_vec(),
            Value::Nil => b"nil".to_vec(),
            other => other.to_string().expect("printable").into_bytes(),
        }
    }

    pub fn eval_bytes(code: &str) -> Vec<u8> {
        eval_bytes_on(&lua(), code)
    }

    pub fn eval(code: &str) -> String {
        String::from_utf8_lossy(&eval_bytes(code)).into_owned()
    }

    /// The error a failing script raises, as its message string (without
    /// the traceback mlua appends).
    pub fn eval_err(code: &str) -> String {
        match lua().load(code).set_name("@user_script").exec() {
            Ok(()) => panic!("{code}: expected an error"),
            Err(mlua::Error::RuntimeError(message)) => {
                match message.split_once("\nstack traceback:") {
                    Some((message, _)) => message.to_string(),
                    None => message,
                }
            }
            Err(other) => panic!("{code}: not a plain Lua error: {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{eval, eval_err};

    // Expected values from redis-server 7.0.15 through EVAL.
    #[test]
    fn library_tables_are_read_only() {
        assert_eq!(
            eval_err("cjson.encode = nil"),
            "user_script:1: Attempt to modify a readonly table"
        );
        assert_eq!(
            eval_err("bit.foo = 1"),
            "user_script:1: Attempt to modify a readonly table"
        );
        assert!(eval_err("setmetatable(struct, {})").contains("protected metatable"));
        assert_eq!(eval("return type(cmsgpack)"), "table");
        assert_eq!(
            eval("return cjson._NAME .. ' ' .. cjson._VERSION"),
            "cjson 2.1.0"
        );
        assert_eq!(eval("return cmsgpack._VERSION"), "lua-cmsgpack 0.4.0");
    }

    #[test]
    fn tables_made_by_cjson_new_are_writable() {
        assert_eq!(eval("local c = cjson.new(); c.x = 1; return c.x"), "1");
    }
}
