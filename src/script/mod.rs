//! Lua scripting (EVAL and friends): the embedded Lua 5.1 interpreter, its
//! sandbox, the conversions between Lua values and RESP, and the libraries
//! Redis gives scripts ([`lib`]).

pub mod lib;
