//! `cjson`: lua-cjson 2.1.0 as Redis ships it.
//!
//! Encoding: numbers as `%.14g` (the precision is configurable), `/`
//! escaped as `\/`, control characters as `\uXXXX`, other bytes verbatim; a
//! table whose keys are all positive integers is an array (holes become
//! `null`, too sparse an array is an error), any other table an object in
//! `next` order, the empty table `{}`. Decoding: `null` becomes `cjson.null`
//! (a NULL light userdata), numbers are read by `strtod` (so hexadecimal,
//! `inf` and `nan` too, unless switched off). Each module table (`cjson`
//! and every `cjson.new()`) has its own settings, shared by its functions
//! through an upvalue, and they persist between scripts as in Redis.
//!
//! Encoder and decoder keep Lua's stack exactly as the C code does, so the
//! depth limits that come from Lua's stack hit at the same depth; both are
//! iterative so that depth never strains the Rust stack.

use std::ffi::{CStr, c_int};

use super::capi::{self, Raise, Ret, State, ffi};
use smallvec::SmallVec;

use super::fpconv;

const FUNCTIONS: &[(&CStr, ffi::lua_CFunction)] = &[
    (c"encode", encode),
    (c"decode", decode),
    (c"encode_sparse_array", encode_sparse_array),
    (c"decode_max_depth", decode_max_depth),
    (c"encode_max_depth", encode_max_depth),
    (c"encode_number_precision", encode_number_precision),
    (c"encode_keep_buffer", encode_keep_buffer),
    (c"encode_invalid_numbers", encode_invalid_numbers),
    (c"decode_invalid_numbers", decode_invalid_numbers),
    (c"new", new),
];

/// One module table's settings (a Lua userdata, upvalue of its functions).
#[derive(Clone, Copy)]
struct Config {
    /// Encode too sparse arrays as objects instead of failing.
    sparse_convert: i32,
    /// An array is too sparse when its largest index exceeds both
    /// `sparse_ratio` times its item count and `sparse_safe`.
    sparse_ratio: i32,
    sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    /// Significant digits of encoded numbers.
    precision: i32,
    /// NaN and infinity: 0 refuse, 1 write `nan`/`inf`, 2 write `null`.
    encode_invalid_numbers: i32,
    /// Accept `inf`, `nan`, hexadecimal and leading zeros when decoding.
    decode_invalid_numbers: i32,
    /// Only reported back: buffers are not kept between calls here.
    keep_buffer: i32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            sparse_convert: 0,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            precision: 14,
            encode_invalid_numbers: 0,
            decode_invalid_numbers: 1,
            keep_buffer: 1,
        }
    }
}

/// Pushes a new `cjson` table with default settings.
pub(super) unsafe extern "C-unwind" fn open(state: State) -> c_int {
    unsafe {
        ffi::lua_createtable(state, 0, FUNCTIONS.len() as c_int + 3);
        let config = ffi::lua_newuserdata(state, size_of::<Config>()).cast::<Config>();
        config.write(Config::default());
        for (name, function) in FUNCTIONS {
            ffi::lua_pushvalue(state, -1);
            ffi::lua_pushcclosure(state, *function, 1);
            capi::set_field(state, -3, name);
        }
        ffi::lua_settop(state, -2);
        ffi::lua_pushlightuserdata(state, std::ptr::null_mut());
        capi::set_field(state, -2, c"null");
        ffi::lua_pushstring(state, c"cjson".as_ptr());
        capi::set_field(state, -2, c"_NAME");
        ffi::lua_pushstring(state, c"2.1.0".as_ptr());
        capi::set_field(state, -2, c"_VERSION");
    }
    1
}

/// `cjson.new()`: an independent module table.
unsafe extern "C-unwind" fn new(state: State) -> c_int {
    unsafe { open(state) }
}

/// The settings of the module table the running function belongs to.
unsafe fn config<'a>(state: State) -> &'a mut Config {
    let config = unsafe { ffi::lua_touserdata(state, ffi::lua_upvalueindex(1)) }.cast::<Config>();
    // SAFETY: every function of the module is created with it as upvalue 1.
    unsafe { &mut *config }
}

// --------------------------------------------------------------- settings

/// "bad argument #n+1 (found too many arguments)" past `max` arguments;
/// missing ones become nil so the values pushed back land above them.
unsafe fn check_arg_count(state: State, max: c_int) -> Result<(), Raise> {
    if unsafe { ffi::lua_gettop(state) } > max {
        return Err(Raise::arg(max + 1, "found too many arguments"));
    }
    unsafe { ffi::lua_settop(state, max) };
    Ok(())
}

const ON_OFF: &[&str] = &["off", "on"];

/// Reads an option given as a boolean or one of `names` into `setting` (if
/// given) and pushes its value: a boolean for off/on, else its name.
unsafe fn enum_option(
    state: State,
    arg: c_int,
    setting: &mut i32,
    names: &[&str],
) -> Result<(), Raise> {
    unsafe {
        if !capi::is_none_or_nil(state, arg) {
            if ffi::lua_type(state, arg) == ffi::LUA_TBOOLEAN {
                *setting = ffi::lua_toboolean(state, arg);
            } else {
                let given = capi::check_bytes(state, arg)?;
                // C compares NUL-terminated strings.
                let given = given.split(|&b| b == 0).next().unwrap_or_default();
                let Some(index) = names.iter().position(|name| name.as_bytes() == given) else {
                    let mut message = b"invalid option '".to_vec();
                    message.extend_from_slice(given);
                    message.push(b'\'');
                    return Err(Raise::arg(arg, message));
                };
                *setting = index as i32;
            }
        }
        if *setting <= 1 {
            ffi::lua_pushboolean(state, *setting);
        } else {
            capi::push_bytes(state, names[*setting as usize].as_bytes());
        }
    }
    Ok(())
}

/// Reads an integer option within `min..=max` into `setting` (if given) and
/// pushes its value. The C code blames argument 1 whatever the position.
unsafe fn integer_option(
    state: State,
    arg: c_int,
    setting: &mut i32,
    min: i32,
    max: i32,
) -> Result<(), Raise> {
    unsafe {
        if !capi::is_none_or_nil(state, arg) {
            let value = capi::check_integer(state, arg)? as i32;
            if !(min..=max).contains(&value) {
                return Err(Raise::arg(
                    1,
                    format!("expected integer between {min} and {max}"),
                ));
            }
            *setting = value;
        }
        ffi::lua_pushinteger(state, i64::from(*setting));
    }
    Ok(())
}

unsafe extern "C-unwind" fn encode_sparse_array(state: State) -> c_int {
    unsafe { capi::entry(state, encode_sparse_array_body) }
}

/// `cjson.encode_sparse_array([convert [, ratio [, safe]]])`.
unsafe fn encode_sparse_array_body(state: State) -> Ret {
    unsafe {
        check_arg_count(state, 3)?;
        let config = config(state);
        enum_option(state, 1, &mut config.sparse_convert, ON_OFF)?;
        integer_option(state, 2, &mut config.sparse_ratio, 0, i32::MAX)?;
        integer_option(state, 3, &mut config.sparse_safe, 0, i32::MAX)?;
    }
    Ok(3)
}

/// A setting read and written through one integer argument.
unsafe fn integer_setting(
    state: State,
    field: fn(&mut Config) -> &mut i32,
    min: i32,
    max: i32,
) -> Ret {
    unsafe {
        check_arg_count(state, 1)?;
        integer_option(state, 1, field(config(state)), min, max)?;
    }
    Ok(1)
}

/// A setting read and written through one enumerated argument.
unsafe fn enum_setting(state: State, field: fn(&mut Config) -> &mut i32, names: &[&str]) -> Ret {
    unsafe {
        check_arg_count(state, 1)?;
        enum_option(state, 1, field(config(state)), names)?;
    }
    Ok(1)
}

unsafe extern "C-unwind" fn encode_max_depth(state: State) -> c_int {
    unsafe {
        capi::entry(state, |s| {
            integer_setting(s, |c| &mut c.encode_max_depth, 1, i32::MAX)
        })
    }
}

unsafe extern "C-unwind" fn decode_max_depth(state: State) -> c_int {
    unsafe {
        capi::entry(state, |s| {
            integer_setting(s, |c| &mut c.decode_max_depth, 1, i32::MAX)
        })
    }
}

unsafe extern "C-unwind" fn encode_number_precision(state: State) -> c_int {
    unsafe { capi::entry(state, |s| integer_setting(s, |c| &mut c.precision, 1, 14)) }
}

unsafe extern "C-unwind" fn encode_keep_buffer(state: State) -> c_int {
    unsafe { capi::entry(state, |s| enum_setting(s, |c| &mut c.keep_buffer, ON_OFF)) }
}

unsafe extern "C-unwind" fn encode_invalid_numbers(state: State) -> c_int {
    unsafe {
        capi::entry(state, |s| {
            enum_setting(s, |c| &mut c.encode_invalid_numbers, &["off", "on", "null"])
        })
    }
}

unsafe extern "C-unwind" fn decode_invalid_numbers(state: State) -> c_int {
    unsafe {
        capi::entry(state, |s| {
            enum_setting(s, |c| &mut c.decode_invalid_numbers, ON_OFF)
        })
    }
}

// --------------------------------------------------------------- encoding

unsafe extern "C-unwind" fn encode(state: State) -> c_int {
    unsafe { capi::entry(state, encode_body) }
}

unsafe fn encode_body(state: State) -> Ret {
    if unsafe { ffi::lua_gettop(state) } != 1 {
        return Err(Raise::arg(1, "expected 1 argument"));
    }
    let config = *unsafe { config(state) };
    let mut out = Vec::new();
    unsafe { encode_top(state, &config, &mut out) }?;
    unsafe { capi::push_bytes(state, &out) };
    Ok(1)
}

/// A table being written; it sits on the Lua stack below its current
/// element (arrays) or key and value (objects).
enum Open {
    Array { len: i32, next: i32 },
    Object,
}

/// Encodes the value on top of the stack (and pops it).
unsafe fn encode_top(state: State, config: &Config, out: &mut Vec<u8>) -> Result<(), Raise> {
    // Inline for ordinary nesting: no allocation per call.
    let mut open: SmallVec<[Open; 16]> = SmallVec::new();
    loop {
        match unsafe { ffi::lua_type(state, -1) } {
            ffi::LUA_TSTRING => escape_string(
                out,
                unsafe { capi::to_bytes(state, -1) }.unwrap_or_default(),
            ),
            ffi::LUA_TNUMBER => {
                append_number(out, config, unsafe { ffi::lua_tonumber(state, -1) })?
            }
            ffi::LUA_TBOOLEAN => {
                let value = unsafe { ffi::lua_toboolean(state, -1) } != 0;
                out.extend_from_slice(if value { b"true" } else { b"false" });
            }
            ffi::LUA_TNIL => out.extend_from_slice(b"null"),
            ffi::LUA_TLIGHTUSERDATA if unsafe { ffi::lua_touserdata(state, -1) }.is_null() => {
                out.extend_from_slice(b"null")
            }
            ffi::LUA_TTABLE => {
                let depth = open.len() + 1;
                if depth > config.encode_max_depth as usize
                    || unsafe { ffi::lua_checkstack(state, 3) } == 0
                {
                    return Err(Raise::error(format!(
                        "Cannot serialise, excessive nesting ({depth})"
                    )));
                }
                let len = unsafe { array_length(state, config) }?;
                if len > 0 {
                    out.push(b'[');
                    unsafe { ffi::lua_rawgeti(state, -1, 1) };
                    open.push(Open::Array { len, next: 2 });
                    continue;
                }
                out.push(b'{');
                unsafe { ffi::lua_pushnil(state) };
                if unsafe { ffi::lua_next(state, -2) } != 0 {
                    unsafe { append_key(state, config, out) }?;
                    open.push(Open::Object);
                    continue;
                }
                out.push(b'}');
            }
            _ => {
                let kind = unsafe { capi::type_name(state, -1) };
                return Err(Raise::error(format!(
                    "Cannot serialise {kind}: type not supported"
                )));
            }
        }
        unsafe { ffi::lua_settop(state, -2) };
        // The value is written: move on to the next element of the tables
        // it completes.
        loop {
            match open.last_mut() {
                None => return Ok(()),
                Some(Open::Array { len, next }) => {
                    if *next <= *len {
                        out.push(b',');
                        unsafe { ffi::lua_rawgeti(state, -1, i64::from(*next)) };
                        *next += 1;
                        break;
                    }
                    out.push(b']');
                }
                Some(Open::Object) => {
                    if unsafe { ffi::lua_next(state, -2) } != 0 {
                        out.push(b',');
                        unsafe { append_key(state, config, out) }?;
                        break;
                    }
                    out.push(b'}');
                }
            }
            open.pop();
            unsafe { ffi::lua_settop(state, -2) };
        }
    }
}

/// Writes the key below the value on top, and the colon.
unsafe fn append_key(state: State, config: &Config, out: &mut Vec<u8>) -> Result<(), Raise> {
    match unsafe { ffi::lua_type(state, -2) } {
        ffi::LUA_TNUMBER => {
            out.push(b'"');
            append_number(out, config, unsafe { ffi::lua_tonumber(state, -2) })?;
            out.extend_from_slice(b"\":");
        }
        ffi::LUA_TSTRING => {
            escape_string(
                out,
                unsafe { capi::to_bytes(state, -2) }.unwrap_or_default(),
            );
            out.push(b':');
        }
        _ => {
            let kind = unsafe { capi::type_name(state, -2) };
            return Err(Raise::error(format!(
                "Cannot serialise {kind}: table key must be a number or string"
            )));
        }
    }
    Ok(())
}

/// The length of the table on top if it encodes as an array, else -1.
/// Keys are checked in `next` order with C's `int` arithmetic: an index
/// beyond `int` makes the running maximum negative, which can turn the
/// table into an object.
unsafe fn array_length(state: State, config: &Config) -> Result<i32, Raise> {
    let (mut max, mut items) = (0i32, 0i32);
    unsafe {
        ffi::lua_pushnil(state);
        while ffi::lua_next(state, -2) != 0 {
            let key = ffi::lua_tonumber(state, -2);
            let is_index = ffi::lua_type(state, -2) == ffi::LUA_TNUMBER
                && key != 0.0
                && key.floor() == key
                && key >= 1.0;
            if !is_index {
                ffi::lua_settop(state, -3);
                return Ok(-1);
            }
            if key > f64::from(max) {
                max = capi::c_double_to_i32(key);
            }
            items += 1;
            ffi::lua_settop(state, -2);
        }
    }
    let sparse = config.sparse_ratio > 0
        && max > items.wrapping_mul(config.sparse_ratio)
        && max > config.sparse_safe;
    if sparse {
        if config.sparse_convert == 0 {
            return Err(Raise::error(
                "Cannot serialise table: excessively sparse array",
            ));
        }
        return Ok(-1);
    }
    Ok(max)
}

fn append_number(out: &mut Vec<u8>, config: &Config, number: f64) -> Result<(), Raise> {
    if !number.is_finite() {
        match config.encode_invalid_numbers {
            0 => {
                return Err(Raise::error(
                    "Cannot serialise number: must not be NaN or Inf",
                ));
            }
            1 if number.is_nan() => {
                out.extend_from_slice(b"nan");
                return Ok(());
            }
            1 => {}
            _ => {
                out.extend_from_slice(b"null");
                return Ok(());
            }
        }
    }
    fpconv::format_g(out, number, config.precision as usize);
    Ok(())
}

/// A JSON string: quotes, backslash and `/` escaped, control characters
/// (and DEL) as escapes, every other byte verbatim.
fn escape_string(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut clean_from = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let short = match byte {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            0x08 => b'b',
            0x0c => b'f',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0..=0x1f | 0x7f => 0,
            _ => continue,
        };
        out.extend_from_slice(&bytes[clean_from..i]);
        clean_from = i + 1;
        if short != 0 {
            out.extend([b'\\', short]);
        } else {
            out.extend_from_slice(b"\\u00");
            out.extend([HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 15)]]);
        }
    }
    out.extend_from_slice(&bytes[clean_from..]);
    out.push(b'"');
}

// --------------------------------------------------------------- decoding

unsafe extern "C-unwind" fn decode(state: State) -> c_int {
    unsafe { capi::entry(state, decode_body) }
}

unsafe fn decode_body(state: State) -> Ret {
    if unsafe { ffi::lua_gettop(state) } != 1 {
        return Err(Raise::arg(1, "expected 1 argument"));
    }
    let config = *unsafe { config(state) };
    let text = unsafe { capi::check_bytes(state, 1) }?;
    if text.len() >= 2 && (text[0] == 0 || text[1] == 0) {
        return Err(Raise::error(
            "JSON parser does not support UTF-16 or UTF-32",
        ));
    }
    let mut parser = Parser {
        text,
        pos: 0,
        depth: 0,
        config,
        unescaped: Vec::new(),
    };
    unsafe { parser.parse(state) }?;
    Ok(1)
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    /// `text[start..end]`, or the parser's unescaped buffer when `escaped`.
    Str {
        start: usize,
        end: usize,
        escaped: bool,
    },
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

#[derive(Clone, Copy, Debug)]
struct Token {
    kind: Kind,
    /// Byte offset where the token starts (or where its error is).
    index: usize,
}

impl Token {
    /// How the C code names the token in errors.
    fn name(&self) -> &'static str {
        match self.kind {
            Kind::ObjBegin => "T_OBJ_BEGIN",
            Kind::ObjEnd => "T_OBJ_END",
            Kind::ArrBegin => "T_ARR_BEGIN",
            Kind::ArrEnd => "T_ARR_END",
            Kind::Str { .. } => "T_STRING",
            Kind::Number(_) => "T_NUMBER",
            Kind::Boolean(_) => "T_BOOLEAN",
            Kind::Null => "T_NULL",
            Kind::Colon => "T_COLON",
            Kind::Comma => "T_COMMA",
            Kind::End => "T_END",
            Kind::Error(message) => message,
        }
    }
}

/// A container being filled on the Lua stack.
enum Filling {
    /// Stack: table, value; the value goes to this index.
    Array(i64),
    /// Stack: table, key, value.
    Object,
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
    depth: i32,
    config: Config,
    unescaped: Vec<u8>,
}

impl Parser<'_> {
    /// The byte at `i`; the text ends with a NUL as C strings do (and an
    /// embedded NUL ends it too, as far as the tokenizer is concerned).
    fn byte(&self, i: usize) -> u8 {
        self.text.get(i).copied().unwrap_or(0)
    }

    fn error(&self, expected: &str, token: &Token) -> Raise {
        Raise::error(format!(
            "Expected {expected} but found {} at character {}",
            token.name(),
            token.index + 1
        ))
    }

    unsafe fn parse(&mut self, state: State) -> Result<(), Raise> {
        let mut filling: SmallVec<[Filling; 16]> = SmallVec::new();
        let mut token = self.next_token();
        loop {
            match token.kind {
                Kind::Str { .. } => unsafe { self.push_string(state, &token) },
                Kind::Number(number) => unsafe { ffi::lua_pushnumber(state, number) },
                Kind::Boolean(value) => unsafe { ffi::lua_pushboolean(state, c_int::from(value)) },
                Kind::Null => unsafe { ffi::lua_pushlightuserdata(state, std::ptr::null_mut()) },
                Kind::ObjBegin => {
                    unsafe { self.descend(state, 3) }?;
                    unsafe { ffi::lua_createtable(state, 0, 0) };
                    token = self.next_token();
                    if token.kind == Kind::ObjEnd {
                        self.depth -= 1;
                    } else {
                        token = unsafe { self.object_key(state, token) }?;
                        filling.push(Filling::Object);
                        continue;
                    }
                }
                Kind::ArrBegin => {
                    unsafe { self.descend(state, 2) }?;
                    unsafe { ffi::lua_createtable(state, 0, 0) };
                    token = self.next_token();
                    if token.kind == Kind::ArrEnd {
                        self.depth -= 1;
                    } else {
                        filling.push(Filling::Array(1));
                        continue;
                    }
                }
                _ => return Err(self.error("value", &token)),
            }
            // A value is on top: store it in the containers it completes.
            loop {
                match filling.last_mut() {
                    None => {
                        let end = self.next_token();
                        if end.kind != Kind::End {
                            return Err(self.error("the end", &end));
                        }
                        return Ok(());
                    }
                    Some(Filling::Array(index)) => {
                        unsafe { ffi::lua_rawseti(state, -2, *index) };
                        token = self.next_token();
                        if token.kind != Kind::ArrEnd {
                            if token.kind != Kind::Comma {
                                return Err(self.error("comma or array end", &token));
                            }
                            *index += 1;
                            token = self.next_token();
                            break;
                        }
                    }
                    Some(Filling::Object) => {
                        unsafe { ffi::lua_rawset(state, -3) };
                        token = self.next_token();
                        if token.kind != Kind::ObjEnd {
                            if token.kind != Kind::Comma {
                                return Err(self.error("comma or object end", &token));
                            }
                            let key = self.next_token();
                            token = unsafe { self.object_key(state, key) }?;
                            break;
                        }
                    }
                }
                filling.pop();
                self.depth -= 1;
            }
        }
    }

    /// Enters a container needing `slots` of Lua stack.
    unsafe fn descend(&mut self, state: State, slots: c_int) -> Result<(), Raise> {
        self.depth += 1;
        if self.depth > self.config.decode_max_depth
            || unsafe { ffi::lua_checkstack(state, slots) } == 0
        {
            return Err(Raise::error(format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth, self.pos
            )));
        }
        Ok(())
    }

    /// Pushes the key `token` and reads its colon; returns the value's
    /// first token.
    unsafe fn object_key(&mut self, state: State, token: Token) -> Result<Token, Raise> {
        if !matches!(token.kind, Kind::Str { .. }) {
            return Err(self.error("object key string", &token));
        }
        unsafe { self.push_string(state, &token) };
        let colon = self.next_token();
        if colon.kind != Kind::Colon {
            return Err(self.error("colon", &colon));
        }
        Ok(self.next_token())
    }

    unsafe fn push_string(&self, state: State, token: &Token) {
        if let Kind::Str {
            start,
            end,
            escaped,
        } = token.kind
        {
            let bytes = if escaped {
                &self.unescaped[..]
            } else {
                &self.text[start..end]
            };
            unsafe { capi::push_bytes(state, bytes) };
        }
    }

    fn next_token(&mut self) -> Token {
        while matches!(self.byte(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let index = self.pos;
        let token = |kind| Token { kind, index };
        let single = |parser: &mut Self, kind| {
            parser.pos += 1;
            token(kind)
        };
        let rest = &self.text[self.pos.min(self.text.len())..];
        match self.byte(index) {
            b'{' => single(self, Kind::ObjBegin),
            b'}' => single(self, Kind::ObjEnd),
            b'[' => single(self, Kind::ArrBegin),
            b']' => single(self, Kind::ArrEnd),
            b':' => single(self, Kind::Colon),
            b',' => single(self, Kind::Comma),
            0 => token(Kind::End),
            b'"' => self.string_token(),
            b'-' | b'0'..=b'9' => {
                if self.config.decode_invalid_numbers == 0 && self.is_invalid_number() {
                    return token(Kind::Error("invalid number"));
                }
                self.number_token()
            }
            _ if rest.starts_with(b"true") => {
                self.pos += 4;
                token(Kind::Boolean(true))
            }
            _ if rest.starts_with(b"false") => {
                self.pos += 5;
                token(Kind::Boolean(false))
            }
            _ if rest.starts_with(b"null") => {
                self.pos += 4;
                token(Kind::Null)
            }
            _ if self.config.decode_invalid_numbers != 0 && self.is_invalid_number() => {
                self.number_token()
            }
            _ => token(Kind::Error("invalid token")),
        }
    }

    /// Whether the number starting here is one JSON forbids: leading zero,
    /// hexadecimal, `inf` or `nan`.
    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        if self.byte(p) == b'-' {
            p += 1;
        }
        let first = self.byte(p);
        if first == b'0' {
            let second = self.byte(p + 1);
            return second | 0x20 == b'x' || second.is_ascii_digit();
        }
        if first <= b'9' {
            return false;
        }
        let rest = &self.text[p.min(self.text.len())..];
        let starts = |word: &[u8]| rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(word);
        starts(b"inf") || starts(b"nan")
    }

    fn number_token(&mut self) -> Token {
        let index = self.pos;
        match fpconv::strtod_prefix(&self.text[index..]) {
            Some((number, len)) => {
                self.pos += len;
                Token {
                    kind: Kind::Number(number),
                    index,
                }
            }
            None => Token {
                kind: Kind::Error("invalid number"),
                index,
            },
        }
    }

    fn string_token(&mut self) -> Token {
        let index = self.pos;
        self.pos += 1;
        let start = self.pos;
        let mut escaped = false;
        self.unescaped.clear();
        loop {
            let byte = self.byte(self.pos);
            match byte {
                b'"' => break,
                0 => {
                    return Token {
                        kind: Kind::Error("unexpected end of string"),
                        index: self.pos,
                    };
                }
                b'\\' => {
                    if !escaped {
                        escaped = true;
                        self.unescaped
                            .extend_from_slice(&self.text[start..self.pos]);
                    }
                    if let Err(message) = self.unescape() {
                        return Token {
                            kind: Kind::Error(message),
                            index: self.pos,
                        };
                    }
                }
                _ => {
                    if escaped {
                        self.unescaped.push(byte);
                    }
                    self.pos += 1;
                }
            }
        }
        let end = self.pos;
        self.pos += 1;
        Token {
            kind: Kind::Str {
                start,
                end,
                escaped,
            },
            index,
        }
    }

    /// Decodes the escape at `pos` (a backslash) into the unescaped buffer;
    /// on error `pos` stays at the backslash.
    fn unescape(&mut self) -> Result<(), &'static str> {
        let plain = match self.byte(self.pos + 1) {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => return self.unescape_unicode().ok_or("invalid unicode escape code"),
            _ => return Err("invalid escape code"),
        };
        self.unescaped.push(plain);
        self.pos += 2;
        Ok(())
    }

    /// `\uXXXX`, or a surrogate pair `\uD8XX\uDCXX`, appended as UTF-8.
    fn unescape_unicode(&mut self) -> Option<()> {
        let mut code = self.hex4(self.pos + 2)?;
        let mut len = 6;
        if code & 0xf800 == 0xd800 {
            if code & 0x400 != 0
                || self.byte(self.pos + 6) != b'\\'
                || self.byte(self.pos + 7) != b'u'
            {
                return None;
            }
            let low = self.hex4(self.pos + 8)?;
            if low & 0xfc00 != 0xdc00 {
                return None;
            }
            code = (((code & 0x3ff) << 10) | (low & 0x3ff)) + 0x10000;
            len = 12;
        }
        let character = char::from_u32(code)?;
        let mut utf8 = [0u8; 4];
        self.unescaped
            .extend_from_slice(character.encode_utf8(&mut utf8).as_bytes());
        self.pos += len;
        Some(())
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        (0..4).try_fold(0u32, |acc, i| {
            Some(acc << 4 | (self.byte(at + i) as char).to_digit(16)?)
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::script::lib::test_support::{eval, eval_bytes, eval_err};

    fn encoded(expr: &str) -> String {
        eval(&format!("return cjson.encode({expr})"))
    }

    /// Decodes `json` (a Lua string literal) and shows the result's type and
    /// re-encoding, or the error.
    fn decoded(json: &str) -> String {
        eval(&format!(
            "local ok, v = pcall(cjson.decode, {json})
             if not ok then return 'error: ' .. v end
             return type(v) .. ' ' .. cjson.encode(v)"
        ))
    }

    // Expected values in this module: the same Lua run through EVAL on
    // redis-server 7.0.15 (error replies there read "ERR user_script:1:
    // <message> script: <sha>, on @user_script:1.").
    #[test]
    fn encodes_like_lua_cjson() {
        for (expr, expected) in [
            ("{1,2,{a=1}}", r#"[1,2,{"a":1}]"#),
            ("{}", "{}"),
            ("{a={}}", r#"{"a":{}}"#),
            ("{{},{}}", "[{},{}]"),
            ("2^53", "9.007199254741e+15"),
            ("-0", "-0"),
            ("1/3", "0.33333333333333"),
            ("1e-5", "1e-05"),
            ("123456789012345", "1.2345678901234e+14"),
            ("nil", "null"),
            ("cjson.null", "null"),
            ("true", "true"),
            ("{cjson.null, nil, 3}", "[null,null,3]"),
            ("{[1]=1,[3]=3}", "[1,null,3]"),
            (
                "{[10]=1}",
                "[null,null,null,null,null,null,null,null,null,1]",
            ),
            ("{[0]=1}", r#"{"0":1}"#),
            ("{[1.5]=1}", r#"{"1.5":1}"#),
            ("{[-1]=1}", r#"{"-1":1}"#),
            ("{[2^40]=1}", r#"{"1099511627776":1}"#),
            ("{[2^31]=1}", r#"{"2147483648":1}"#),
            ("{['\\1']=1}", r#"{"\u0001":1}"#),
        ] {
            assert_eq!(encoded(expr), expected, "encode({expr})");
        }
        assert_eq!(
            eval_bytes(r#"return cjson.encode("a/b\"c\\d\n\r\t\b\f\0\1\31\127\128\255")"#),
            b"\"a\\/b\\\"c\\\\d\\n\\r\\t\\b\\f\\u0000\\u0001\\u001f\\u007f\x80\xff\""
        );
    }

    #[test]
    fn encode_errors_match_lua_cjson() {
        for (expr, expected) in [
            ("1/0", "Cannot serialise number: must not be NaN or Inf"),
            ("0/0", "Cannot serialise number: must not be NaN or Inf"),
            (
                "{[math.huge]=1}",
                "Cannot serialise number: must not be NaN or Inf",
            ),
            (
                "{[1]=1,[20]=3}",
                "Cannot serialise table: excessively sparse array",
            ),
            (
                "{[11]=1}",
                "Cannot serialise table: excessively sparse array",
            ),
            (
                "{[2^31-1]=1}",
                "Cannot serialise table: excessively sparse array",
            ),
            (
                "{[true]=1}",
                "Cannot serialise boolean: table key must be a number or string",
            ),
            (
                "function() end",
                "Cannot serialise function: type not supported",
            ),
            (
                "coroutine.create(function() end)",
                "Cannot serialise thread: type not supported",
            ),
            ("", "bad argument #1 to 'encode' (expected 1 argument)"),
            ("1, 2", "bad argument #1 to 'encode' (expected 1 argument)"),
        ] {
            assert_eq!(
                eval_err(&format!("return cjson.encode({expr})")),
                format!("user_script:1: {expected}"),
                "encode({expr})"
            );
        }
        assert_eq!(
            eval_err("local t = {} t.t = t return cjson.encode(t)"),
            "user_script:1: Cannot serialise, excessive nesting (1001)"
        );
        assert_eq!(
            eval("return select(2, pcall(cjson.encode, {[true]=1}))"),
            "Cannot serialise boolean: table key must be a number or string"
        );
    }

    #[test]
    fn decodes_like_lua_cjson() {
        for (json, expected) in [
            (r#""[1,2,3]""#, "table [1,2,3]"),
            (r#""[]""#, "table {}"),
            (r#""{}""#, "table {}"),
            (r#""null""#, "userdata null"),
            (r#""[null]""#, "table [null]"),
            (r#""true""#, "boolean true"),
            (r#""01""#, "number 1"),
            (r#""0x10""#, "number 16"),
            (r#""-0""#, "number -0"),
            (r#""1E2""#, "number 100"),
            (r#""0x1p3""#, "number 8"),
            (r#""\t\r\n 1""#, "number 1"),
            (r#""[1] ""#, "table [1]"),
            (r#""[1]\0zz""#, "table [1]"),
            (r#""{\"a\":1,\"a\":2}""#, r#"table {"a":2}"#),
            (r#""{\"a\":{\"b\":null}}""#, r#"table {"a":{"b":null}}"#),
            (r#""[[[[1]]]]""#, "table [[[[1]]]]"),
            (r#""\"\\u00e9\"""#, "string \"\u{e9}\""),
            (r#""\"\\ud83d\\ude00\"""#, "string \"\u{1f600}\""),
            (r#""\"\\/\\b\\f\\n\\r\\t\"""#, r#"string "\/\b\f\n\r\t""#),
            (r#""\"\\u0000\"""#, r#"string "\u0000""#),
            (r#""[\"\1\"]""#, r#"table ["\u0001"]"#),
            ("12", "number 12"),
        ] {
            assert_eq!(decoded(json), expected, "decode({json})");
        }
        assert_eq!(eval("return tostring(cjson.decode('1e999'))"), "inf");
        assert_eq!(eval("return tostring(cjson.decode('-Infinity'))"), "-inf");
        assert_eq!(
            eval("return tostring(cjson.decode('nan') ~= cjson.decode('nan'))"),
            "true"
        );
        assert_eq!(
            eval("return tostring(cjson.decode('null') == cjson.null)"),
            "true"
        );
        assert_eq!(eval("return tostring(cjson.null)"), "userdata: (nil)");
    }

    #[test]
    fn decode_errors_match_lua_cjson() {
        for (json, expected) in [
            (r#""""#, "Expected value but found T_END at character 1"),
            (r#"" ""#, "Expected value but found T_END at character 2"),
            (
                r#""x""#,
                "Expected value but found invalid token at character 1",
            ),
            (
                r#""{""#,
                "Expected object key string but found T_END at character 2",
            ),
            (
                r#""[1,]""#,
                "Expected value but found T_ARR_END at character 4",
            ),
            (
                r#""[1 2]""#,
                "Expected comma or array end but found T_NUMBER at character 4",
            ),
            (
                r#""{\"a\" 1}""#,
                "Expected colon but found T_NUMBER at character 6",
            ),
            (
                r#""{\"a\":1,}""#,
                "Expected object key string but found T_OBJ_END at character 8",
            ),
            (
                r#""{1:2}""#,
                "Expected object key string but found T_NUMBER at character 2",
            ),
            (
                r#""[1]x""#,
                "Expected the end but found invalid token at character 4",
            ),
            (
                r#""1 2""#,
                "Expected the end but found T_NUMBER at character 3",
            ),
            (
                r#""tru""#,
                "Expected value but found invalid token at character 1",
            ),
            (
                r#""-""#,
                "Expected value but found invalid number at character 1",
            ),
            (
                r#""-x""#,
                "Expected value but found invalid number at character 1",
            ),
            (
                r#""1.5.3""#,
                "Expected the end but found invalid token at character 4",
            ),
            (
                r#"".5""#,
                "Expected value but found invalid token at character 1",
            ),
            (
                r#""1e""#,
                "Expected the end but found invalid token at character 2",
            ),
            (
                r#""\f1""#,
                "Expected value but found invalid token at character 1",
            ),
            (
                r#""\"\\ud83d\"""#,
                "Expected value but found invalid unicode escape code at character 2",
            ),
            (
                r#""\"\\ude00\"""#,
                "Expected value but found invalid unicode escape code at character 2",
            ),
            (
                r#""\"\\uD800\\u0041\"""#,
                "Expected value but found invalid unicode escape code at character 2",
            ),
            (
                r#""\"\\u12\"""#,
                "Expected value but found invalid unicode escape code at character 2",
            ),
            (
                r#""\"\\x\"""#,
                "Expected value but found invalid escape code at character 2",
            ),
            (
                r#"" [1,\"\\q\"]""#,
                "Expected value but found invalid escape code at character 6",
            ),
            (
                r#""\"abc""#,
                "Expected value but found unexpected end of string at character 5",
            ),
            (
                r#""\"a\0b\"""#,
                "Expected value but found unexpected end of string at character 3",
            ),
            (
                r#""[ 1 , tx ]""#,
                "Expected value but found invalid token at character 7",
            ),
            (
                r#""[1,2""#,
                "Expected comma or array end but found T_END at character 5",
            ),
            (
                r#""{\"a\"""#,
                "Expected colon but found T_END at character 5",
            ),
            (
                r#""{\"a\":""#,
                "Expected value but found T_END at character 6",
            ),
            (r#""\0""#, "Expected value but found T_END at character 1"),
            (r#""\0\0""#, "JSON parser does not support UTF-16 or UTF-32"),
            (r#""a\0""#, "JSON parser does not support UTF-16 or UTF-32"),
            ("nil", "bad argument #1 to '?' (string expected, got nil)"),
            ("{}", "bad argument #1 to '?' (string expected, got table)"),
        ] {
            assert_eq!(
                decoded(json),
                format!("error: {expected}"),
                "decode({json})"
            );
        }
        assert_eq!(
            eval_err("return cjson.decode()"),
            "user_script:1: bad argument #1 to 'decode' (expected 1 argument)"
        );
        assert_eq!(
            eval_err("return cjson.decode('x')"),
            "user_script:1: Expected value but found invalid token at character 1"
        );
    }

    #[test]
    fn depth_limits_match_lua_cjson() {
        assert_eq!(
            decoded("string.rep('[', 1001)"),
            "error: Found too many nested data structures (1001) at character 1001"
        );
        assert_eq!(
            decoded("string.rep('[', 1000)"),
            "error: Expected value but found T_END at character 1001"
        );
        // Past the configured limits, Lua's C stack (8000 slots) decides.
        let stack_bound = "cjson.decode_max_depth(100000)
             local _, arrays = pcall(cjson.decode, string.rep('[', 10000))
             local _, objects = pcall(cjson.decode, string.rep('{\"a\":', 10000))
             cjson.encode_max_depth(100000)
             local t = {} for i = 1, 30000 do t = {t} end
             local _, nested = pcall(cjson.encode, t)
             return arrays .. ' | ' .. objects .. ' | ' .. nested";
        assert_eq!(
            eval(stack_bound),
            "Found too many nested data structures (7999) at character 7999 | \
             Found too many nested data structures (4000) at character 19996 | \
             Cannot serialise, excessive nesting (7998)"
        );
        let configured = "cjson.decode_max_depth(2) cjson.encode_max_depth(2)
             local _, a = pcall(cjson.decode, '  [ [ [ 1]]]')
             local _, b = pcall(cjson.decode, '{\"a\": {\"b\" :  {}}}')
             local ok = pcall(cjson.encode, {{1}})
             local _, c = pcall(cjson.encode, {{{1}}})
             return a .. ' | ' .. b .. ' | ' .. tostring(ok) .. ' | ' .. c";
        assert_eq!(
            eval(configured),
            "Found too many nested data structures (3) at character 7 | \
             Found too many nested data structures (3) at character 15 | true | \
             Cannot serialise, excessive nesting (3)"
        );
    }

    #[test]
    fn settings_read_write_and_validate_like_lua_cjson() {
        let show = |expr: &str| {
            eval(&format!(
                "local r = {{pcall(function() return {expr} end)}}
                 for i = 1, #r do r[i] = tostring(r[i]) end
                 return table.concat(r, ' ')"
            ))
        };
        for (expr, expected) in [
            ("cjson.encode_sparse_array()", "true false 2 10"),
            ("cjson.encode_sparse_array(true)", "true true 2 10"),
            ("cjson.encode_sparse_array('off', 2, 10)", "true false 2 10"),
            ("cjson.encode_sparse_array(nil, nil, '3')", "true false 2 3"),
            ("cjson.encode_sparse_array(nil, 2.7)", "true false 2 10"),
            ("cjson.encode_max_depth()", "true 1000"),
            ("cjson.encode_number_precision()", "true 14"),
            ("cjson.encode_keep_buffer('on')", "true true"),
            ("cjson.encode_invalid_numbers()", "true false"),
            ("cjson.encode_invalid_numbers('null')", "true null"),
            ("cjson.decode_invalid_numbers()", "true true"),
            (
                "cjson.new() ~= cjson, cjson.new().null == cjson.null",
                "true true true",
            ),
        ] {
            assert_eq!(show(expr), expected, "{expr}");
        }
        for (expr, expected) in [
            (
                "cjson.encode_sparse_array('bad')",
                "bad argument #1 to 'encode_sparse_array' (invalid option 'bad')",
            ),
            (
                "cjson.encode_sparse_array(1)",
                "bad argument #1 to 'encode_sparse_array' (invalid option '1')",
            ),
            (
                "cjson.encode_sparse_array(nil, -1)",
                "bad argument #1 to 'encode_sparse_array' (expected integer between 0 and 2147483647)",
            ),
            (
                "cjson.encode_sparse_array(1,2,3,4)",
                "bad argument #4 to 'encode_sparse_array' (found too many arguments)",
            ),
            (
                "cjson.encode_sparse_array(nil, 'x')",
                "bad argument #2 to 'encode_sparse_array' (number expected, got string)",
            ),
            (
                "cjson.encode_max_depth(0)",
                "bad argument #1 to 'encode_max_depth' (expected integer between 1 and 2147483647)",
            ),
            (
                "cjson.decode_max_depth(2^31)",
                "bad argument #1 to 'decode_max_depth' (expected integer between 1 and 2147483647)",
            ),
            (
                "cjson.encode_number_precision(15)",
                "bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)",
            ),
            (
                "cjson.encode_invalid_numbers('maybe')",
                "bad argument #1 to 'encode_invalid_numbers' (invalid option 'maybe')",
            ),
            (
                "cjson.encode_max_depth(1,2)",
                "bad argument #2 to 'encode_max_depth' (found too many arguments)",
            ),
        ] {
            assert_eq!(
                show(expr),
                format!("false user_script:1: {expected}"),
                "{expr}"
            );
        }
    }

    #[test]
    fn settings_change_encoding_and_decoding() {
        let script = "cjson.encode_invalid_numbers(true)
             local on = cjson.encode({1/0, -1/0, 0/0, -(0/0)})
             cjson.encode_invalid_numbers('null')
             local null = cjson.encode({1/0, 0/0}) .. cjson.encode({[1/0]=1})
             cjson.encode_number_precision(3)
             local short = cjson.encode(1234.5) .. ' ' .. cjson.encode(0.00012345) .. ' ' .. cjson.encode({[1234.5]=1})
             local other = cjson.new().encode(1/3)
             cjson.encode_sparse_array(true)
             local converted = cjson.encode({[20]=1})
             cjson.encode_sparse_array(false, 0)
             local unlimited = #cjson.encode({[200]=1})
             cjson.decode_invalid_numbers(false)
             local strict = {}
             for _, s in ipairs({'inf', '01', '0x10', '-0', '-nan', '0', '-I'}) do strict[#strict + 1] = tostring((pcall(cjson.decode, s))) end
             local _, why = pcall(cjson.decode, 'inf')
             return table.concat({on, null, short, other, converted, unlimited, table.concat(strict, ','), why}, ' | ')";
        assert_eq!(
            eval(script),
            r#"[inf,-inf,nan,nan] | [null,null]{"null":1} | 1.23e+03 0.000123 {"1.23e+03":1} | 0.33333333333333 | {"20":1} | 998 | false,false,false,true,false,true,false | Expected value but found invalid token at character 1"#
        );
    }
}
