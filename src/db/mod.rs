//! Storage: the sharded keyspace ([`keyspace`]), its hash table ([`dict`])
//! and TTL list ([`expires`]), the value types ([`value`]) and the compact
//! byte string keys use ([`bytes`]).

pub mod bytes;
pub mod dict;
pub mod evict;
pub mod expires;
pub mod hash;
pub mod hll;
pub mod keyspace;
pub mod list;
pub mod listpack;
pub mod set;
pub mod stream;
pub mod value;
pub mod watch;
pub mod zset;

pub use bytes::{Bytes24, Bytes40};
pub use keyspace::{Db, Keyspace, Locked};
pub use value::{Entry, StrValue, Value};
