//! The values a key can hold. Each family adds its variant here and its
//! operations in its own module; generic commands (TYPE, OBJECT ENCODING,
//! MEMORY USAGE) ask the value itself.

use super::bytes::Bytes24;
use super::hash::Hash;
use super::list::List;
use super::set::Set;
use super::zset::ZSet;

/// One key's value plus the access metadata eviction reads.
#[derive(Debug, Clone)]
pub struct Entry {
    pub value: Value,
    /// LRU clock (seconds, 24 bits in Redis) or LFU counter, per `maxmemory-policy`.
    pub access: u32,
}

impl Entry {
    pub fn new(value: Value) -> Self {
        Entry { value, access: 0 }
    }
}

#[derive(Debug, Clone)]
pub enum Value {
    Str(StrValue),
    List(List),
    Hash(Hash),
    Set(Set),
    ZSet(ZSet),
}

/// A string value in the cheapest form that holds it: integers as integers
/// (INCR needs no parsing), short strings inline, strings that grew by APPEND
/// or SETRANGE in a growable buffer.
#[derive(Debug, Clone)]
pub enum StrValue {
    Int(i64),
    Bytes(Bytes24),
    Raw(Vec<u8>),
}

/// Longest string Redis stores as `embstr`.
const EMBSTR_MAX: usize = 44;

impl StrValue {
    /// Stores `data` the way Redis's SET would: as an integer when it is the
    /// canonical text of one, else as bytes.
    pub fn from_bytes(data: &[u8]) -> Self {
        if data.len() <= 20 {
            if let Some(n) = crate::protocol::parse::parse_i64(data) {
                return StrValue::Int(n);
            }
        }
        StrValue::Bytes(Bytes24::new(data))
    }

    /// The value's bytes; integers are formatted into `scratch`.
    pub fn as_bytes<'a>(&'a self, scratch: &'a mut itoa::Buffer) -> &'a [u8] {
        match self {
            StrValue::Int(n) => scratch.format(*n).as_bytes(),
            StrValue::Bytes(b) => b,
            StrValue::Raw(v) => v,
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.as_bytes(&mut itoa::Buffer::new()).to_vec()
    }

    pub fn len(&self) -> usize {
        self.as_bytes(&mut itoa::Buffer::new()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Turns the value into a growable buffer (APPEND, SETRANGE, SETBIT) and
    /// returns it.
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, StrValue::Raw(_)) {
            *self = StrValue::Raw(self.to_vec());
        }
        match self {
            StrValue::Raw(v) => v,
            _ => unreachable!(),
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            StrValue::Int(_) => "int",
            StrValue::Bytes(b) if b.len() <= EMBSTR_MAX => "embstr",
            _ => "raw",
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            StrValue::Int(_) => 0,
            StrValue::Bytes(b) => b.heap_size(),
            StrValue::Raw(v) => v.capacity(),
        }
    }
}

impl Value {
    pub fn str(data: &[u8]) -> Self {
        Value::Str(StrValue::from_bytes(data))
    }

    /// The name TYPE prints.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    /// The name OBJECT ENCODING prints.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            Value::List(v) => v.encoding(),
            Value::Hash(v) => v.encoding(),
            Value::Set(v) => v.encoding(),
            Value::ZSet(v) => v.encoding(),
        }
    }

    /// Heap bytes owned by the value, for MEMORY USAGE and accounting.
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(s) => s.heap_size(),
            Value::List(v) => v.heap_size(),
            Value::Hash(v) => v.heap_size(),
            Value::Set(v) => v.heap_size(),
            Value::ZSet(v) => v.heap_size(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_encodings_follow_redis() {
        assert_eq!(StrValue::from_bytes(b"12345").encoding(), "int");
        assert_eq!(StrValue::from_bytes(b"012").encoding(), "embstr");
        assert_eq!(StrValue::from_bytes(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(StrValue::from_bytes(&[b'a'; 45]).encoding(), "raw");
        let mut v = StrValue::from_bytes(b"1");
        v.make_raw().push(b'2');
        assert_eq!(v.encoding(), "raw");
        assert_eq!(v.to_vec(), b"12");
    }
}
