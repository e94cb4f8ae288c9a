//! The values a key can hold. Each family adds its variant here and its
//! operations in its own module; generic commands (TYPE, OBJECT ENCODING,
//! MEMORY USAGE) ask the value itself.

use super::bytes::Bytes40;
use super::hash::Hash;
use super::list::List;
use super::set::Set;
use super::stream::Stream;
use super::zset::ZSet;

/// One key's value plus the access metadata eviction reads.
#[derive(Debug, Clone)]
pub struct Entry {
    pub value: Value,
    /// LRU clock or LFU stamp, per `maxmemory-policy` (see [`access`]).
    pub access: u32,
    /// Where the key's deadline is in its database's [`Expires`] list, or
    /// [`NO_TTL`]. It fills what would be padding, so a TTL costs the list's
    /// 12 bytes and no second copy of the key (see [`super::expires`]).
    ///
    /// [`Expires`]: super::expires::Expires
    pub(super) ttl_slot: u32,
}

/// [`Entry::ttl_slot`] of a key without a TTL.
pub(super) const NO_TTL: u32 = u32::MAX;

impl Entry {
    pub fn new(value: Value) -> Self {
        Entry::stamped(value, 0)
    }

    pub(super) fn stamped(value: Value, access: u32) -> Self {
        Entry {
            value,
            access,
            ttl_slot: NO_TTL,
        }
    }
}

/// Lists, sets and streams are boxed: their structs are the largest, and
/// keeping `Value` at 40 bytes saves 8-16 bytes on every key (most keys are
/// strings, and a `Value` holds a string of up to 38 bytes itself).
/// A hash is not: its packed form fits, which saves a 48-byte block per small
/// hash (its large form boxes its own table).
#[derive(Debug, Clone)]
pub enum Value {
    Str(StrValue),
    List(Box<List>),
    Hash(Hash),
    Set(Box<Set>),
    ZSet(ZSet),
    Stream(Box<Stream>),
}

/// A string value in the cheapest form that holds it: integers as integers
/// (INCR needs no parsing), strings of up to 38 bytes inline, strings that
/// grew by APPEND or SETRANGE in a growable buffer. `Bytes40`'s tag byte
/// leaves room for this enum's and `Value`'s tags, so `Value` stays at 40
/// bytes (checked by a test below).
#[derive(Debug, Clone)]
pub enum StrValue {
    Int(i64),
    Bytes(Bytes40),
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
        StrValue::Bytes(Bytes40::new(data))
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
            Value::Stream(_) => "stream",
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
            Value::Stream(_) => "stream",
        }
    }

    /// Heap bytes owned by the value, for MEMORY USAGE and accounting.
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(s) => s.heap_size(),
            Value::List(v) => std::mem::size_of::<List>() + v.heap_size(),
            Value::Hash(v) => v.heap_size(),
            Value::Set(v) => std::mem::size_of::<Set>() + v.heap_size(),
            Value::ZSet(v) => v.heap_size(),
            Value::Stream(v) => std::mem::size_of::<Stream>() + v.heap_size(),
        }
    }
}

/// Access metadata in Redis's 24-bit layout, so OBJECT IDLETIME/FREQ and
/// eviction read the same numbers Redis would: under LRU policies the clock in
/// seconds at the last access; under LFU policies the minutes of the last
/// decay (high 16 bits) over a logarithmic access counter (low 8 bits).
pub mod access {
    pub const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;
    /// Counter of a new key, so it is not evicted before it had a chance.
    pub const LFU_INIT: u32 = 5;

    pub fn lru_clock(now_ms: u64) -> u32 {
        (now_ms / 1000) as u32 & LRU_CLOCK_MAX
    }

    /// Seconds since `stamp`, allowing for one wrap of the 24-bit clock.
    pub fn idle_seconds(now_ms: u64, stamp: u32) -> u64 {
        let clock = lru_clock(now_ms);
        let idle = if clock >= stamp {
            clock - stamp
        } else {
            clock + (LRU_CLOCK_MAX - stamp)
        };
        idle as u64
    }

    fn minutes(now_ms: u64) -> u32 {
        (now_ms / 60_000) as u32 & 0xFFFF
    }

    pub fn lfu_new(now_ms: u64) -> u32 {
        (minutes(now_ms) << 8) | LFU_INIT
    }

    /// The counter after one decrement per `decay_minutes` elapsed.
    pub fn lfu_decayed(stamp: u32, now_ms: u64, decay_minutes: u32) -> u32 {
        let (last, counter) = (stamp >> 8, stamp & 0xFF);
        let now = minutes(now_ms);
        let elapsed = if now >= last {
            now - last
        } else {
            0xFFFF - last + now
        };
        let periods = elapsed.checked_div(decay_minutes).unwrap_or(0);
        counter.saturating_sub(periods)
    }

    /// One access: decay, then a logarithmic increment (the higher the counter,
    /// the less likely another hit raises it). `chance` is uniform in [0, 1).
    pub fn lfu_touch(stamp: u32, now_ms: u64, log_factor: u32, decay: u32, chance: f64) -> u32 {
        let mut counter = lfu_decayed(stamp, now_ms, decay);
        if counter < 255 {
            let base = counter.saturating_sub(LFU_INIT) as f64;
            if chance < 1.0 / (base * log_factor as f64 + 1.0) {
                counter += 1;
            }
        }
        (minutes(now_ms) << 8) | counter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_idle_time_wraps_with_the_clock() {
        let stamp = access::lru_clock(10_000);
        assert_eq!(access::idle_seconds(15_999, stamp), 5);
        let wrapped_ms = (access::LRU_CLOCK_MAX as u64 + 3) * 1000;
        assert_eq!(
            access::idle_seconds(wrapped_ms, access::LRU_CLOCK_MAX - 1),
            3
        );
    }

    #[test]
    fn lfu_counter_grows_logarithmically_and_decays() {
        let t0 = 600_000;
        let fresh = access::lfu_new(t0);
        assert_eq!(access::lfu_decayed(fresh, t0, 1), access::LFU_INIT);
        // A sure hit raises the counter; at 255 it stays.
        assert_eq!(access::lfu_touch(fresh, t0, 10, 1, 0.0) & 0xFF, 6);
        // Above the initial value a hit with chance 0.5 is rarer than 1/(1*10+1).
        let six = access::lfu_touch(fresh, t0, 10, 1, 0.0);
        assert_eq!(access::lfu_touch(six, t0, 10, 1, 0.5) & 0xFF, 6);
        let full = (access::lfu_new(t0) & !0xFF) | 255;
        assert_eq!(access::lfu_touch(full, t0, 10, 1, 0.0) & 0xFF, 255);
        // Three minutes later with one-minute decay: three less.
        assert_eq!(access::lfu_decayed(six, t0 + 180_000, 1), 3);
        assert_eq!(access::lfu_decayed(six, t0 + 180_000, 0), 6);
    }

    #[test]
    fn values_stay_at_forty_bytes() {
        assert_eq!(std::mem::size_of::<StrValue>(), 40);
        assert_eq!(std::mem::size_of::<Value>(), 40);
        assert_eq!(std::mem::size_of::<Hash>(), 32);
        // The TTL slot sits in what was padding: an entry stays at 48 bytes.
        assert_eq!(std::mem::size_of::<Entry>(), 48);
        assert_eq!(StrValue::from_bytes(&[b'v'; 38]).heap_size(), 0);
        assert!(StrValue::from_bytes(&[b'v'; 39]).heap_size() > 0);
    }

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
