//! ferrokv: a Redis 7.0 compatible cache server.
//!
//! A request travels through the modules in this order:
//!
//! ```text
//! server::run          listener (SO_REUSEADDR), one tokio task per connection
//!   server::conn       read what arrived → run every complete request → one write
//!     protocol::parse  RESP multibulk / inline → argument spans, Redis's protocol errors
//!     cmd::execute     the gate: table lookup → arity → auth → ACL → lock keys → handler → stats
//!       cmd::table     one declarative CommandSpec per command (flags, keys, ACL, docs)
//!       cmd::<family>  string, keyspace, connection, server... plain sync handlers
//!         db::Db       the locked view of the sharded keyspace (expiry, stats)
//!       aof            writes recorded under the locks, logged as they are released;
//!                      the batch's replies wait for the log (fsync under `always`)
//!     protocol::reply  semantic replies lowered to RESP2 or RESP3
//! ```
//!
//! Threading: tokio's multi-threaded runtime runs connections on every core.
//! The keyspace is split into shards, each behind one mutex; a command locks
//! the shards of its keys in ascending order for its whole run, so every
//! command, multi-key ones included, is atomic and isolated, and independent
//! keys proceed in parallel. Whole-keyspace commands lock every shard.

pub mod acl;
pub mod alloc;
pub mod aof;
pub mod cmd;
pub mod config;
pub mod db;
pub mod persist;
pub mod protocol;
pub mod script;
pub mod server;
pub mod testkit;
pub mod util;

/// The Redis version we answer as, for clients that check it.
pub const REDIS_VERSION: &str = "7.0.15";
