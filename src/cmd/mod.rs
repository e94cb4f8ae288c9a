//! Commands: the table ([`table`]), the spec each entry follows ([`spec`]), the
//! gate every call passes ([`execute`]), and one module per command family.
//!
//! Handlers are plain synchronous functions over the locked keyspace view
//! ([`Ctx::db`]). They validate first, then write exactly one reply (or return
//! a typed [`CmdError`] that the gate turns into Redis's error text), and never
//! touch the socket. That is what lets EXEC and scripts call them under one
//! critical section.

pub mod acl;
pub mod args;
pub mod parse;
pub mod spec;
pub mod table;
mod typed;

pub mod aof;
pub mod bitmap;
pub mod client;
pub mod config;
pub mod connection;
pub mod expire;
pub mod hash;
pub mod hyperloglog;
pub mod keyspace;
pub mod list;
pub mod module;
pub mod multi;
pub mod persist;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod set;
pub mod sort;
pub mod stream;
pub mod string;
pub mod zset;

use crate::util::clock::Instant;
use std::fmt;
use std::sync::atomic::Ordering::Relaxed;

pub use args::Args;
pub use spec::{CommandSpec, Keys, flag};
pub use table::CommandTable;

use crate::db::Db;
use crate::protocol::Reply;
use crate::server::{Client, Server, notify};

/// What a handler sees.
pub struct Ctx<'c, 's> {
    pub server: &'s Server,
    pub client: &'c mut Client,
    pub out: &'c mut Reply,
    /// The client's selected database over the shards this command locked.
    pub db: Db<'c, 's>,
}

pub type CmdResult = Result<(), CmdError>;

/// Errors shared by many commands, each with Redis's exact text.
#[derive(Debug, Clone, PartialEq)]
pub enum CmdError {
    WrongType,
    NotInteger,
    NotFloat,
    Syntax,
    Overflow,
    NoSuchKey,
    OutOfRange,
    InvalidDb,
    /// Any other message, prefix included (`ERR ...`, `NOPERM ...`).
    Msg(&'static str),
    Owned(String),
}

impl Ctx<'_, '_> {
    /// The running command reaches the AOF as `args` instead of as sent
    /// (absolute TTLs, SPOP as SREM...); call once per command to log.
    pub fn propagate_as(&mut self, args: &[&[u8]]) {
        let db = self.db.index;
        self.db.locked().prop.propagate_as(db, args);
    }

    /// The running command reaches the AOF as nothing.
    pub fn propagate_none(&mut self) {
        self.db.locked().prop.suppress();
    }
}

impl CmdError {
    pub fn msg(text: impl Into<String>) -> Self {
        CmdError::Owned(text.into())
    }
}

impl fmt::Display for CmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CmdError::WrongType => {
                "WRONGTYPE Operation against a key holding the wrong kind of value"
            }
            CmdError::NotInteger => "ERR value is not an integer or out of range",
            CmdError::NotFloat => "ERR value is not a valid float",
            CmdError::Syntax => "ERR syntax error",
            CmdError::Overflow => "ERR increment or decrement would overflow",
            CmdError::NoSuchKey => "ERR no such key",
            CmdError::OutOfRange => "ERR index out of range",
            CmdError::InvalidDb => "ERR DB index is out of range",
            CmdError::Msg(m) => m,
            CmdError::Owned(m) => m,
        })
    }
}

/// Current Unix time in milliseconds, from the command clock
/// ([`crate::util::clock`]), so every reader of the time agrees with the
/// time commands run at.
pub fn now_ms() -> u64 {
    crate::util::clock::unix_ms_at(Instant::now())
}

/// Current Unix time in microseconds (MONITOR timestamps).
pub fn now_us() -> u64 {
    crate::util::clock::unix_us_at(Instant::now())
}

/// Runs one command through the gate: lookup, arity, auth, queueing inside
/// MULTI, locking, call, statistics. Writes exactly one reply into `out`
/// (none under CLIENT REPLY OFF).
pub fn execute(server: &Server, client: &mut Client, out: &mut Reply, args: &Args<'_>) {
    let Some(name) = args.first() else { return };
    let Some((id, spec)) = server.commands.lookup(name, args.get_opt(1)) else {
        unknown_command(server, client, out, args);
        return;
    };
    if !spec.arity_ok(args.len()) {
        let msg = format!(
            "ERR wrong number of arguments for '{}' command",
            server.commands.full_name(id)
        );
        reject(server, client, id, out, &msg);
        return;
    }
    if !client.authenticated && spec.flags & flag::NO_AUTH == 0 {
        reject(server, client, id, out, "NOAUTH Authentication required.");
        return;
    }
    if spec.handler.is_none() {
        let msg = format!(
            "ERR unknown subcommand '{:.128}'. Try {} HELP.",
            String::from_utf8_lossy(args.get(1)),
            spec.name.to_ascii_uppercase()
        );
        reject(server, client, id, out, &msg);
        return;
    }
    if let Err(denied) = crate::acl::check(server, client, id, spec, args) {
        let msg = crate::acl::refuse(server, client, id, args, denied);
        reject(server, client, id, out, &msg);
        return;
    }
    // While the dataset loads, only `loading` commands run (one atomic load).
    if server.keyspace.aof.loading() && spec.flags & flag::LOADING == 0 {
        reject(server, client, id, out, crate::aof::LOADING_ERROR);
        return;
    }
    if client.in_resp2_pubsub()
        && let Some(msg) = pubsub::refusal_while_subscribed(spec, server.commands.full_name(id))
    {
        reject(server, client, id, out, &msg);
        return;
    }
    // While a script runs, others wait as in Redis; once it is busy they get
    // BUSY (before any shard lock, which the script holds).
    if !server
        .scripts
        .run
        .wait_turn(spec.flags & flag::ALLOW_BUSY != 0)
    {
        reject(server, client, id, out, scripting::BUSY);
        return;
    }
    // One atomic load when no memory limit is set.
    if server.eviction.maxmemory() != 0 && !evict_or_refuse(server, client, out, id, spec) {
        return;
    }
    // LOADING during the start-up load; MISCONF for writes after a failed BGSAVE.
    if let Some(msg) = crate::persist::refusal(server, spec.flags) {
        reject(server, client, id, out, msg);
        return;
    }
    // SAVE, SHUTDOWN and the like cannot run under EXEC's locks; `reject`
    // also dooms the transaction (EXECABORT), as Redis does.
    if client.multi.is_some() && spec.flags & (flag::NO_MULTI | flag::TXN_CONTROL) == flag::NO_MULTI
    {
        reject(
            server,
            client,
            id,
            out,
            "ERR Command not allowed inside a transaction",
        );
        return;
    }
    if let Some(txn) = client.multi.as_mut()
        && spec.flags & flag::TXN_CONTROL == 0
    {
        txn.queue(id, args);
        client.handle.multi.store(txn.len() as i64, Relaxed);
        out.simple("QUEUED");
        return;
    }
    call(server, client, out, args, id, spec);
}

/// Redis's memory rule, before any lock is taken: evict down to `maxmemory`
/// first; when nothing more can be evicted, refuse what may grow memory:
/// `denyoom` commands, EXEC of a transaction holding one (which discards it),
/// and any command being queued in MULTI. False when the command was refused.
fn evict_or_refuse(
    server: &Server,
    client: &mut Client,
    out: &mut Reply,
    id: usize,
    spec: &CommandSpec,
) -> bool {
    use crate::db::evict::{OOM_ERROR, Outcome, perform_evictions};
    if perform_evictions(server, None) != Outcome::Failed {
        return true;
    }
    let queueing = client.multi.is_some() && spec.flags & flag::TXN_CONTROL == 0;
    if spec.flags & flag::DENYOOM != 0 || queueing {
        reject(server, client, id, out, OOM_ERROR);
        return false;
    }
    if multi::exec_may_grow(server, client, spec) {
        // `reject` turns a refused EXEC into EXECABORT and discards it.
        reject(server, client, id, out, OOM_ERROR);
        return false;
    }
    true
}

/// Locks what the command needs, calls its handler, then serves the clients
/// blocked on keys it changed.
pub fn call(
    server: &Server,
    client: &mut Client,
    out: &mut Reply,
    args: &Args<'_>,
    id: usize,
    spec: &CommandSpec,
) {
    let mut locked = if spec.flags & flag::WHOLE_KEYSPACE != 0 {
        if spec.flags & (flag::READONLY | flag::INSPECTS) != 0 {
            server.keyspace.lock_all_to_read()
        } else {
            server.keyspace.lock_all()
        }
    } else {
        let mut positions = std::mem::take(&mut client.scratch_keys);
        spec.key_positions(args, &mut positions);
        let locked = server
            .keyspace
            .lock_keys(positions.iter().map(|&i| args.get(i)));
        client.scratch_keys = positions;
        locked
    };
    call_held(server, client, out, args, id, spec, &mut locked, None);
    let deferred = if locked.has_ready() {
        let deferred = server.keyspace.blocking.serve_ready(&mut locked);
        // Served clients' pops are their commands' events.
        if locked.has_events() {
            notify::publish(server, locked.take_events());
        }
        deferred
    } else {
        Vec::new()
    };
    drop(locked);
    if !deferred.is_empty() {
        let events = server
            .keyspace
            .blocking
            .serve_deferred(&server.keyspace, deferred);
        if !events.is_empty() {
            notify::publish(server, events);
        }
    }
}

/// Calls a command's handler over shards the caller already holds (every
/// shard its keys live in) and does the per-command bookkeeping: blocking
/// registration, statistics, slow log, MONITOR. EXEC and scripts run their
/// commands through here, under the locks their own call took, which is what
/// makes them atomic, and at their frozen time `frozen_ms`; otherwise one
/// clock read gives both the command's start and its Unix time. Keys that
/// became ready for blocked clients stay in `locked` for whoever releases it.
#[allow(clippy::too_many_arguments)]
pub fn call_held<'s>(
    server: &'s Server,
    client: &mut Client,
    out: &mut Reply,
    args: &Args<'_>,
    id: usize,
    spec: &CommandSpec,
    locked: &mut crate::db::Locked<'s>,
    frozen_ms: Option<u64>,
) {
    let started = Instant::now();
    let now_ms = frozen_ms.unwrap_or_else(|| crate::util::clock::unix_ms_at(started));
    let Some(handler) = spec.handler else { return };
    // EXEC and scripts hold their locks across commands that may change
    // `notify-keyspace-events`.
    if locked.holds_all() {
        locked.refresh_notify_flags();
    }
    let frame = locked.prop.begin();
    let db_index = client.db;
    let mut db = locked.db(client.db, now_ms);
    db.no_touch = client
        .handle
        .has_flag(crate::server::client::cflag::NO_TOUCH);
    out.last_error = None;
    client.handle.touch(id);
    let reply_start = out.len();
    let mut ctx = Ctx {
        server,
        client,
        out,
        db,
    };
    let result = handler(&mut ctx, args);
    drop(ctx);
    // The AOF records the command (or the form its handler chose) if it wrote.
    locked
        .prop
        .end(frame, spec.flags & flag::WRITE != 0, db_index, args);
    // Published under the command's locks, so events on one key keep the
    // order of the commands that caused them.
    if locked.has_events() {
        notify::publish(server, locked.take_events());
    }
    match result {
        Ok(()) => {
            // A blocking handler's request becomes a waiter while the locks
            // are still held, so no push can slip in between.
            if let Some(request) = client.block.request.take() {
                let wait = server.keyspace.blocking.register(
                    &client.handle,
                    client.db,
                    request,
                    args,
                    out.resp3,
                );
                client.block.wait = Some(wait);
            }
        }
        Err(e) => {
            client.block.request = None;
            out.error(&e.to_string());
        }
    }
    // Messages this command caused (keyspace notifications) precede its reply
    // for a RESP3 subscriber; the pub/sub commands order their own frames.
    if client.pubsub.mailbox().is_some() && spec.flags & flag::PUBSUB == 0 {
        client.pubsub.splice_pending(&mut out.buf, reply_start);
    }
    // MONITOR: one atomic load when nobody watches; admin commands are not shown.
    if server.clients.has_monitors() && spec.flags & (flag::SKIP_MONITOR | flag::ADMIN) == 0 {
        server
            .clients
            .feed_monitors(client.db, &client.handle.addr, args);
    }
    let failed = out.last_error.take();
    let took = started.elapsed();
    server.stats.record_call(id, took, failed);
    // The one comparison fast commands pay for the slow log and latency monitor.
    if took.as_micros() as i64 >= server.stats.watch_threshold_us() {
        record_slow(server, client, args, spec, took);
    }
}

#[cold]
fn record_slow(
    server: &Server,
    client: &Client,
    args: &Args<'_>,
    spec: &CommandSpec,
    took: std::time::Duration,
) {
    server.stats.record_slow(
        took,
        spec.flags & flag::FAST != 0,
        spec.flags & flag::SKIP_SLOWLOG != 0,
        |id, unix_secs| {
            crate::server::stats::SlowLogEntry::new(
                id,
                unix_secs,
                took,
                args.iter(),
                client.handle.addr.to_string(),
                client.handle.name.lock().clone().unwrap_or_default(),
            )
        },
    );
}

/// Refuses a command before it runs; inside MULTI this also dooms the
/// transaction (EXECABORT), as every rejection does in Redis.
fn reject(server: &Server, client: &mut Client, id: usize, out: &mut Reply, msg: &str) {
    match multi::rejected(server, client, server.commands.spec(id), msg) {
        Some(abort) => out.error(&abort),
        None => out.error(msg),
    }
    server
        .stats
        .record_rejected(Some(id), out.last_error.take().expect("error just written"));
}

fn unknown_command(server: &Server, client: &mut Client, out: &mut Reply, args: &Args<'_>) {
    multi::flag_error(client);
    // Redis formats these with `%s`, so each one ends at its first NUL byte.
    let until_nul =
        |arg: &'_ [u8]| -> usize { arg.iter().position(|&b| b == 0).unwrap_or(arg.len()) };
    let first = args.first().unwrap_or_default();
    let name = &first[..until_nul(first).min(128)];
    // Each quoted argument is cut so the list stays near 128 bytes, as Redis does.
    let mut msg = b"ERR unknown command '".to_vec();
    msg.extend_from_slice(name);
    msg.extend_from_slice(b"', with args beginning with: ");
    let quoted_start = msg.len();
    for arg in args.iter().skip(1) {
        let quoted = msg.len() - quoted_start;
        if quoted >= 128 {
            break;
        }
        msg.push(b'\'');
        msg.extend_from_slice(&arg[..until_nul(arg).min(128 - quoted)]);
        msg.extend_from_slice(b"' ");
    }
    out.error_bytes(&msg);
    server
        .stats
        .record_rejected(None, out.last_error.take().expect("error just written"));
}

/// Writes a HELP reply in Redis's layout: a header line, the given lines,
/// then the HELP entry every container ends with.
pub(crate) fn reply_help(out: &mut Reply, command: &str, lines: &[&str]) {
    out.array(lines.len() + 3);
    out.simple(&format!(
        "{command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for line in lines {
        out.simple(line);
    }
    out.simple("HELP");
    out.simple("    Prints this help.");
}
