//! Conversions between Lua values and RESP, following Redis 7.0's rules.
//!
//! Lua → reply ([`lua_to_reply`]): numbers become integers (truncated),
//! strings bulk strings, `true` 1 (or a RESP3 boolean when the script chose
//! RESP3), `false` and `nil` a null, tables arrays up to their first nil, and
//! the single-field tables `{err=}`, `{ok=}`, `{double=}`, `{big_number=}`,
//! `{map=}`, `{set=}` and `{verbatim_string=}` their RESP types. The reply
//! writer lowers everything to the caller's protocol.
//!
//! Reply → Lua ([`resp_to_lua`]): the inverse, reading the RESP a command
//! wrote when `redis.call` ran it (statuses as `{ok=}`, errors as `{err=}`,
//! RESP2 nulls as `false`, RESP3 nulls as `nil`).

use mlua::{Lua, Table, Value};

use crate::protocol::Reply;

/// Nesting at which a reply stops, as Redis stops at the Lua stack limit.
const MAX_DEPTH: usize = 200;

/// Writes `value`, a script's return value, as a reply. `script_resp3` is
/// the protocol the script chose with `redis.setresp` (booleans depend on it).
pub fn lua_to_reply(value: &Value, out: &mut Reply, script_resp3: bool) {
    write_value(value, out, script_resp3, 0);
}

fn write_value(value: &Value, out: &mut Reply, script_resp3: bool, depth: usize) {
    match value {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Integer(i) => out.int(*i),
        Value::Number(n) => out.int(truncate(*n)),
        Value::Boolean(b) if script_resp3 => out.boolean(*b),
        Value::Boolean(true) => out.int(1),
        Value::Table(t) => {
            if depth >= MAX_DEPTH {
                out.error("ERR reached lua stack limit");
            } else {
                write_table(t, out, script_resp3, depth);
            }
        }
        _ => out.null(),
    }
}

/// C's `(long long)` cast as x86 does it: out of range and NaN give the
/// minimum (Rust's `as` would saturate).
fn truncate(n: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    if !(-LIMIT..LIMIT).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

fn field(t: &Table, name: &str) -> Value {
    t.raw_get(name).unwrap_or(Value::Nil)
}

fn write_table(t: &Table, out: &mut Reply, script_resp3: bool, depth: usize) {
    if let Value::String(msg) = field(t, "err") {
        out.error_bytes(&msg.as_bytes());
        return;
    }
    if let Value::String(status) = field(t, "ok") {
        write_status(out, &status.as_bytes());
        return;
    }
    match field(t, "double") {
        Value::Number(d) => return out.double(d),
        Value::Integer(i) => return out.double(i as f64),
        _ => {}
    }
    if let Value::String(digits) = field(t, "big_number") {
        return write_big_number(out, &digits.as_bytes());
    }
    if let Value::Table(map) = field(t, "map") {
        let pairs: Vec<(Value, Value)> = map.pairs().filter_map(Result::ok).collect();
        out.map(pairs.len());
        for (k, v) in &pairs {
            write_value(k, out, script_resp3, depth + 1);
            write_value(v, out, script_resp3, depth + 1);
        }
        return;
    }
    if let Value::Table(set) = field(t, "set") {
        let members: Vec<Value> = set
            .pairs::<Value, Value>()
            .filter_map(|p| p.ok().map(|(k, _)| k))
            .collect();
        out.set(members.len());
        for m in &members {
            write_value(m, out, script_resp3, depth + 1);
        }
        return;
    }
    if let Value::Table(verbatim) = field(t, "verbatim_string")
        && let (Value::String(format), Value::String(text)) =
            (field(&verbatim, "format"), field(&verbatim, "string"))
    {
        return write_verbatim(out, &format.as_bytes(), &text.as_bytes());
    }
    // An array: elements 1, 2, ... up to the first nil.
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(v),
        }
    }
    out.array(items.len());
    for item in &items {
        write_value(item, out, script_resp3, depth + 1);
    }
}

/// A status line; Redis turns CR and LF into spaces so it stays one line.
fn write_status(out: &mut Reply, text: &[u8]) {
    let mut line = Vec::with_capacity(text.len() + 3);
    line.push(b'+');
    line.extend(
        text.iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    line.extend_from_slice(b"\r\n");
    out.raw(&line);
}

fn write_big_number(out: &mut Reply, digits: &[u8]) {
    if out.resp3 {
        let mut line = Vec::with_capacity(digits.len() + 3);
        line.push(b'(');
        line.extend(
            digits
                .iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        line.extend_from_slice(b"\r\n");
        out.raw(&line);
    } else {
        out.bulk(digits);
    }
}

fn write_verbatim(out: &mut Reply, format: &[u8], text: &[u8]) {
    if out.resp3 && format.len() == 3 {
        let mut head = itoa::Buffer::new();
        let len = head.format(text.len() + 4);
        let mut frame = Vec::with_capacity(text.len() + 16);
        frame.push(b'=');
        frame.extend_from_slice(len.as_bytes());
        frame.extend_from_slice(b"\r\n");
        frame.extend_from_slice(format);
        frame.push(b':');
        frame.extend_from_slice(text);
        frame.extend_from_slice(b"\r\n");
        out.raw(&frame);
    } else {
        out.bulk(text);
    }
}

/// What a command's encoded reply says, as `redis.call` hands it to Lua.
pub enum Converted {
    Value(Value),
    /// The reply was an error: the `{err=...}` table.
    Error(Table),
}

/// Reads one complete reply that this server encoded (so well formed).
pub fn resp_to_lua(lua: &Lua, encoded: &[u8]) -> mlua::Result<Converted> {
    if encoded.first() == Some(&b'-') {
        let (line, _) = read_line(encoded, 1);
        return Ok(Converted::Error(error_table(lua, line)?));
    }
    let mut reader = Reader {
        buf: encoded,
        pos: 0,
    };
    Ok(Converted::Value(reader.value(lua)?))
}

/// The `{err=...}` table Lua sees for an error message.
pub fn error_table(lua: &Lua, message: &[u8]) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set("err", lua.create_string(message)?)?;
    Ok(t)
}

fn single_field(lua: &Lua, name: &str, value: impl mlua::IntoLua) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(name, value)?;
    Ok(Value::Table(t))
}

/// Returns the line starting at `pos` (without CRLF) and the position after it.
fn read_line(buf: &[u8], pos: usize) -> (&[u8], usize) {
    let end = buf[pos..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map_or(buf.len(), |i| pos + i);
    (&buf[pos..end], (end + 2).min(buf.len()))
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn line(&mut self) -> &[u8] {
        let (line, next) = read_line(self.buf, self.pos);
        self.pos = next;
        line
    }

    fn number(&mut self) -> i64 {
        let line = self.line();
        std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    fn bytes(&mut self, len: usize) -> &[u8] {
        let start = self.pos.min(self.buf.len());
        let end = (start + len).min(self.buf.len());
        self.pos = (end + 2).min(self.buf.len());
        &self.buf[start..end]
    }

    fn value(&mut self, lua: &Lua) -> mlua::Result<Value> {
        let Some(&kind) = self.buf.get(self.pos) else {
            return Ok(Value::Nil);
        };
        self.pos += 1;
        Ok(match kind {
            b'+' => {
                let status = lua.create_string(self.line())?;
                single_field(lua, "ok", status)?
            }
            b'-' => {
                let message = self.line().to_vec();
                Value::Table(error_table(lua, &message)?)
            }
            b':' => Value::Number(self.number() as f64),
            b'$' => match self.number() {
                n if n < 0 => Value::Boolean(false),
                n => Value::String(lua.create_string(self.bytes(n as usize))?),
            },
            b'*' | b'>' => match self.number() {
                n if n < 0 => Value::Boolean(false),
                n => {
                    let t = lua.create_table_with_capacity(n as usize, 0)?;
                    for i in 1..=n {
                        t.raw_set(i, self.value(lua)?)?;
                    }
                    Value::Table(t)
                }
            },
            b'%' => {
                let n = self.number();
                let map = lua.create_table_with_capacity(0, n.max(0) as usize)?;
                for _ in 0..n {
                    let k = self.value(lua)?;
                    let v = self.value(lua)?;
                    map.raw_set(k, v)?;
                }
                single_field(lua, "map", map)?
            }
            b'~' => {
                let n = self.number();
                let set = lua.create_table_with_capacity(0, n.max(0) as usize)?;
                for _ in 0..n {
                    let member = self.value(lua)?;
                    set.raw_set(member, true)?;
                }
                single_field(lua, "set", set)?
            }
            b'|' => {
                // Attributes carry no data a script sees: skip them.
                let n = self.number();
                for _ in 0..2 * n {
                    self.value(lua)?;
                }
                self.value(lua)?
            }
            b'_' => {
                self.line();
                Value::Nil
            }
            b',' => {
                let text = String::from_utf8_lossy(self.line()).into_owned();
                let d = match text.as_str() {
                    "inf" => f64::INFINITY,
                    "-inf" => f64::NEG_INFINITY,
                    t => t.parse().unwrap_or(f64::NAN),
                };
                single_field(lua, "double", d)?
            }
            b'#' => Value::Boolean(self.line() == b"t"),
            b'(' => {
                let digits = lua.create_string(self.line())?;
                single_field(lua, "big_number", digits)?
            }
            b'=' => {
                let n = self.number().max(0) as usize;
                let body = self.bytes(n).to_vec();
                let (format, text) = body.split_at(body.len().min(4));
                let verbatim = lua.create_table_with_capacity(0, 2)?;
                verbatim.raw_set("format", lua.create_string(&format[..format.len().min(3)])?)?;
                verbatim.raw_set("string", lua.create_string(text)?)?;
                single_field(lua, "verbatim_string", verbatim)?
            }
            _ => Value::Nil,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply_of(lua: &Lua, code: &str, client_resp3: bool, script_resp3: bool) -> String {
        let value: Value = lua.load(code).eval().unwrap();
        let mut out = Reply::new(client_resp3);
        lua_to_reply(&value, &mut out, script_resp3);
        String::from_utf8_lossy(&out.buf).into_owned()
    }

    #[test]
    fn scalars_follow_redis_rules() {
        let lua = Lua::new();
        assert_eq!(reply_of(&lua, "return 1.9", false, false), ":1\r\n");
        assert_eq!(reply_of(&lua, "return -1.9", false, false), ":-1\r\n");
        assert_eq!(
            reply_of(&lua, "return 1e20", false, false),
            ":-9223372036854775808\r\n"
        );
        assert_eq!(reply_of(&lua, "return 'x'", false, false), "$1\r\nx\r\n");
        assert_eq!(reply_of(&lua, "return true", false, false), ":1\r\n");
        assert_eq!(reply_of(&lua, "return false", false, false), "$-1\r\n");
        assert_eq!(reply_of(&lua, "return nil", true, false), "_\r\n");
        // Booleans are booleans only when the script itself speaks RESP3.
        assert_eq!(reply_of(&lua, "return true", true, false), ":1\r\n");
        assert_eq!(reply_of(&lua, "return false", true, true), "#f\r\n");
        assert_eq!(reply_of(&lua, "return true", false, true), ":1\r\n");
    }

    #[test]
    fn tables_stop_at_the_first_nil_and_special_fields_win() {
        let lua = Lua::new();
        assert_eq!(
            reply_of(&lua, "return {1,2,nil,3}", false, false),
            "*2\r\n:1\r\n:2\r\n"
        );
        assert_eq!(
            reply_of(&lua, "return {err='My Error'}", false, false),
            "-My Error\r\n"
        );
        assert_eq!(
            reply_of(&lua, "return {ok='a\\r\\nb'}", false, false),
            "+a  b\r\n"
        );
        assert_eq!(reply_of(&lua, "return {err=1}", false, false), "*0\r\n");
        assert_eq!(
            reply_of(&lua, "return {double=3.14}", false, false),
            "$18\r\n3.1400000000000001\r\n"
        );
        assert_eq!(
            reply_of(&lua, "return {double=3.14}", true, false),
            ",3.1400000000000001\r\n"
        );
        assert_eq!(
            reply_of(&lua, "return {big_number='123'}", true, false),
            "(123\r\n"
        );
        assert_eq!(
            reply_of(&lua, "return {map={a=1}}", true, false),
            "%1\r\n$1\r\na\r\n:1\r\n"
        );
        assert_eq!(
            reply_of(&lua, "return {set={a=true}}", false, false),
            "*1\r\n$1\r\na\r\n"
        );
        assert_eq!(
            reply_of(
                &lua,
                "return {verbatim_string={format='txt', string='abc'}}",
                true,
                false
            ),
            "=7\r\ntxt:abc\r\n"
        );
    }

    #[test]
    fn self_referencing_tables_end_with_an_error() {
        let lua = Lua::new();
        let reply = reply_of(&lua, "local t = {} t[1] = t return t", false, false);
        assert!(reply.ends_with("*1\r\n-ERR reached lua stack limit\r\n"));
    }

    fn lua_of(lua: &Lua, encoded: &[u8]) -> Value {
        match resp_to_lua(lua, encoded).unwrap() {
            Converted::Value(v) => v,
            Converted::Error(t) => Value::Table(t),
        }
    }

    #[test]
    fn replies_become_lua_values() {
        let lua = Lua::new();
        let check = |encoded: &[u8], probe: &str, expected: &str| {
            let value = lua_of(&lua, encoded);
            let f: mlua::Function = lua.load(probe).eval().unwrap();
            let got: String = f.call(value).unwrap();
            assert_eq!(got, expected, "{}", String::from_utf8_lossy(encoded));
        };
        check(
            b":42\r\n",
            "return function(v) return type(v)..v end",
            "number42",
        );
        check(
            b"$-1\r\n",
            "return function(v) return tostring(v) end",
            "false",
        );
        check(
            b"*-1\r\n",
            "return function(v) return tostring(v) end",
            "false",
        );
        check(b"_\r\n", "return function(v) return tostring(v) end", "nil");
        check(b"+OK\r\n", "return function(v) return v.ok end", "OK");
        check(
            b"-ERR bad\r\n",
            "return function(v) return v.err end",
            "ERR bad",
        );
        check(
            b"*2\r\n$1\r\na\r\n:1\r\n",
            "return function(v) return v[1]..v[2]..#v end",
            "a12",
        );
        check(
            b"%1\r\n$1\r\nk\r\n$1\r\nv\r\n",
            "return function(v) return v.map.k end",
            "v",
        );
        check(
            b"~1\r\n$1\r\nm\r\n",
            "return function(v) return tostring(v.set.m) end",
            "true",
        );
        check(
            b",1.5\r\n",
            "return function(v) return tostring(v.double) end",
            "1.5",
        );
        check(
            b"#t\r\n",
            "return function(v) return tostring(v) end",
            "true",
        );
        check(
            b"(12345678901234567890\r\n",
            "return function(v) return v.big_number end",
            "12345678901234567890",
        );
        check(
            b"=7\r\ntxt:abc\r\n",
            "return function(v) return v.verbatim_string.format..v.verbatim_string.string end",
            "txtabc",
        );
    }

    #[test]
    fn an_error_reply_is_reported_as_such() {
        let lua = Lua::new();
        assert!(matches!(
            resp_to_lua(&lua, b"-WRONGTYPE x\r\n").unwrap(),
            Converted::Error(_)
        ));
    }
}
