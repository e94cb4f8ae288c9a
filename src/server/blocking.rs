//! Blocking commands (BLPOP and friends; later BZPOPMIN, XREAD): clients that
//! wait for a key to receive data, served in the order they blocked.
//!
//! How a command blocks, for a family that adds one:
//!
//! 1. Its handler parses the timeout with [`parse_timeout`], tries the
//!    non-blocking path, and when there is nothing to take and
//!    [`may_block`] allows it, calls [`block`] with the keys it waits on, the
//!    deadline and a [`ServeFn`], and writes **no reply**. (Inside MULTI the
//!    handler replies its timeout reply at once instead.)
//! 2. The gate ([`crate::cmd::call`]), still holding the command's shard
//!    locks, turns that request into a waiter in the [`Registry`] (per
//!    `(db, key)` FIFO queues). Because the locks are held, no push can slip
//!    between "found nothing" and "registered".
//! 3. Every key change goes through `Db::modified`, which, when any client is
//!    blocked (one atomic load otherwise), records the key as *ready* in the
//!    command's [`Locked`] set.
//! 4. After the handler of the command that changed the key returns, the gate
//!    calls [`Registry::serve_ready`] while it still holds the locks: for each
//!    ready key, waiters are taken in FIFO order and their `ServeFn` runs
//!    against the keyspace, writing the reply in the waiter's protocol; the
//!    bytes go to the waiter's connection through a oneshot channel. A waiter
//!    whose `ServeFn` finds nothing stays blocked and the next one is tried
//!    (stream readers wait for different IDs, so one may be served while an
//!    earlier one is not).
//!    A waiter that also writes elsewhere (BLMOVE's destination) names those
//!    keys in `also_locks`; if their shards cannot be taken without waiting,
//!    the key is served again after the gate released its locks
//!    ([`Registry::serve_deferred`]), locking everything in order.
//! 5. The connection ([`super::conn`]) awaits the reply, its deadline, its
//!    socket or CLIENT KILL. On timeout or disconnect it calls
//!    [`Registry::cancel`]; whoever removes the waiter from the registry
//!    first (server or connection) decides the outcome, so an element is
//!    never popped for a client that already gave up.
//!
//! The timeout reply is the null array (`*-1`, RESP3 `_`), as Redis replies
//! for every blocking command of lists, sorted sets and streams.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::client::{ClientHandle, cflag};
use crate::cmd::args::OwnedArgs;
use crate::cmd::{Args, CmdError, Ctx};
use crate::db::{Bytes24, Db, Keyspace, Locked};
use crate::protocol::Reply;

/// Runs a waiter's command again once `key` (one of the keys it waits on)
/// changed: takes what it needs from the keyspace and writes the full reply.
/// Returns false, touching nothing, when there is still nothing to take.
pub type ServeFn = fn(db: &mut Db<'_, '_>, key: &[u8], args: &Args<'_>, out: &mut Reply) -> bool;

/// What a blocking handler leaves in the client for the gate.
pub struct BlockRequest {
    /// Keys waited on, in the command's order.
    pub keys: Vec<Vec<u8>>,
    /// Other keys the serve function may write (BLMOVE's destination).
    pub also_locks: Vec<Vec<u8>>,
    /// None waits forever.
    pub deadline: Option<Instant>,
    pub serve: ServeFn,
    /// Arguments the serve function gets instead of the command's own (XREAD
    /// records `$` as the stream's last ID at the time it blocked).
    pub args: Option<OwnedArgs>,
}

/// What the connection awaits while its client is blocked.
pub struct BlockWait {
    pub reply: oneshot::Receiver<Vec<u8>>,
    pub deadline: Option<Instant>,
}

/// The blocking state of one client: the request a handler left (gate's
/// input) and the wait the gate registered (connection's input).
#[derive(Default)]
pub struct BlockState {
    pub request: Option<BlockRequest>,
    pub wait: Option<BlockWait>,
}

/// Whether the running command may block: not when EXEC or a script runs it
/// (there blocking commands act as their non-blocking form, as in Redis).
pub fn may_block(ctx: &Ctx) -> bool {
    ctx.client.running == super::client::Running::Direct
}

/// Asks the gate to block the client (see the module docs). The handler
/// writes no reply.
pub fn block(
    ctx: &mut Ctx,
    keys: Vec<Vec<u8>>,
    also_locks: Vec<Vec<u8>>,
    timeout: Option<Duration>,
    serve: ServeFn,
) {
    ctx.client.block.request = Some(BlockRequest {
        keys,
        also_locks,
        deadline: timeout.map(|t| Instant::now() + t),
        serve,
        args: None,
    });
}

/// [`block`] with the arguments the serve function will see.
pub fn block_with_args(
    ctx: &mut Ctx,
    keys: Vec<Vec<u8>>,
    timeout: Option<Duration>,
    serve: ServeFn,
    args: OwnedArgs,
) {
    block(ctx, keys, Vec::new(), timeout, serve);
    if let Some(request) = ctx.client.block.request.as_mut() {
        request.args = Some(args);
    }
}

/// A blocking timeout in seconds (fractions allowed; 0 = forever), with
/// Redis 7.0's errors. Like Redis, a value too large for a millisecond count
/// ends up negative rather than out of range.
pub fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let seconds = crate::cmd::parse::parse_f64_or_hex(arg)
        .ok_or(CmdError::Msg("ERR timeout is not a float or out of range"))?;
    let millis = (seconds * 1000.0).ceil();
    if millis < 0.0 || millis >= i64::MAX as f64 {
        return Err(CmdError::Msg("ERR timeout is negative"));
    }
    Ok((millis > 0.0).then(|| Duration::from_millis(millis as u64)))
}

/// The reply a waiter gets when its timeout passes.
pub fn timeout_reply(resp3: bool) -> Vec<u8> {
    let mut out = Reply::new(resp3);
    out.null_array();
    out.buf.to_vec()
}

struct Waiter {
    db: usize,
    keys: Vec<Vec<u8>>,
    also_locks: Vec<Vec<u8>>,
    args: OwnedArgs,
    serve: ServeFn,
    resp3: bool,
    handle: Arc<ClientHandle>,
    reply: oneshot::Sender<Vec<u8>>,
}

#[derive(Default)]
struct Waiters {
    /// Client ids per `(db, key)`, in the order they blocked.
    queues: HashMap<(usize, Bytes24), VecDeque<u64>>,
    by_client: HashMap<u64, Waiter>,
}

impl Waiters {
    fn head(&self, db: usize, key: &Bytes24) -> Option<u64> {
        // Tuple keys cannot borrow, so build the owned key (only when waited on).
        self.queues
            .get(&(db, key.clone()))
            .and_then(|q| q.front().copied())
    }

    /// Takes a waiter out of the registry; whoever does this first owns it.
    fn remove(&mut self, client_id: u64) -> Option<Waiter> {
        let waiter = self.by_client.remove(&client_id)?;
        for key in &waiter.keys {
            let slot = (waiter.db, Bytes24::new(key));
            if let Some(queue) = self.queues.get_mut(&slot) {
                queue.retain(|&id| id != client_id);
                if queue.is_empty() {
                    self.queues.remove(&slot);
                }
            }
        }
        waiter.handle.set_flag(cflag::BLOCKED, false);
        Some(waiter)
    }
}

/// Every blocked client, by key. Lives in the [`Keyspace`] so that
/// `Db::modified` can see, with one atomic load, whether anyone waits.
#[derive(Default)]
pub struct Registry {
    waiters: Mutex<Waiters>,
    blocked: AtomicUsize,
}

/// Bound on lock-and-serve rounds after the gate released its locks, so a
/// chain of BLMOVEs cannot keep one command busy forever.
const MAX_DEFERRED_ROUNDS: usize = 10_000;

impl Registry {
    /// True when some client is blocked (the cheap check on every write).
    #[inline]
    pub fn has_waiters(&self) -> bool {
        self.blocked.load(Relaxed) > 0
    }

    /// `blocked_clients` of INFO.
    pub fn blocked_clients(&self) -> usize {
        self.blocked.load(Relaxed)
    }

    /// The keys of database `db` that clients wait on (SWAPDB re-checks them).
    pub fn waited_keys(&self, db: usize) -> Vec<Bytes24> {
        if !self.has_waiters() {
            return Vec::new();
        }
        let waiters = self.waiters.lock();
        waiters
            .queues
            .keys()
            .filter(|(d, _)| *d == db)
            .map(|(_, key)| key.clone())
            .collect()
    }

    /// Registers a client's request; called by the gate under the shard
    /// locks of the blocking command.
    pub fn register(
        &self,
        handle: &Arc<ClientHandle>,
        db: usize,
        request: BlockRequest,
        args: &Args<'_>,
        resp3: bool,
    ) -> BlockWait {
        let (tx, rx) = oneshot::channel();
        let mut waiters = self.waiters.lock();
        // A client blocks once at a time; a stale entry would be a bug.
        waiters.remove(handle.id);
        for key in &request.keys {
            let queue = waiters.queues.entry((db, Bytes24::new(key))).or_default();
            if !queue.contains(&handle.id) {
                queue.push_back(handle.id);
            }
        }
        waiters.by_client.insert(
            handle.id,
            Waiter {
                db,
                keys: request.keys,
                also_locks: request.also_locks,
                args: request.args.unwrap_or_else(|| args.to_owned()),
                serve: request.serve,
                resp3,
                handle: handle.clone(),
                reply: tx,
            },
        );
        self.blocked.store(waiters.by_client.len(), Relaxed);
        handle.set_flag(cflag::BLOCKED, true);
        BlockWait {
            reply: rx,
            deadline: request.deadline,
        }
    }

    /// Removes a client's waiter (timeout, disconnect, kill). True when it
    /// was still waiting; false when it was served (its reply is on the way)
    /// or never blocked.
    pub fn cancel(&self, client_id: u64) -> bool {
        let mut waiters = self.waiters.lock();
        let removed = waiters.remove(client_id).is_some();
        self.blocked.store(waiters.by_client.len(), Relaxed);
        removed
    }

    /// CLIENT UNBLOCK: replies the timeout reply, or the UNBLOCKED error with
    /// `error`. True when the client was blocked.
    pub fn unblock(&self, client_id: u64, error: bool) -> bool {
        let mut waiters = self.waiters.lock();
        let Some(waiter) = waiters.remove(client_id) else {
            return false;
        };
        self.blocked.store(waiters.by_client.len(), Relaxed);
        let reply = if error {
            let mut out = Reply::new(waiter.resp3);
            out.error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
            out.buf.to_vec()
        } else {
            timeout_reply(waiter.resp3)
        };
        let _ = waiter.reply.send(reply);
        true
    }

    /// Serves the waiters of every key `locked` marked ready, in FIFO order
    /// per key. Returns the keys that need shards `locked` does not hold, for
    /// [`Registry::serve_deferred`] once the caller released its locks.
    pub fn serve_ready(&self, locked: &mut Locked<'_>) -> Vec<(usize, Bytes24)> {
        let mut deferred = Vec::new();
        let now = crate::cmd::now_ms();
        let mut waiters = self.waiters.lock();
        // Serving can make more keys ready (BLMOVE pushes), so drain until quiet.
        while let Some((db, key)) = locked.take_ready() {
            let queue: Vec<u64> = match waiters.queues.get(&(db, key.clone())) {
                Some(queue) => queue.iter().copied().collect(),
                None => continue,
            };
            for id in queue {
                let Some(waiter) = waiters.by_client.get(&id) else {
                    continue; // served through another of its keys meanwhile
                };
                if waiter.reply.is_closed() {
                    waiters.remove(id); // its connection is gone: skip, lose nothing
                    continue;
                }
                if !waiter.also_locks.iter().all(|k| locked.try_hold(k)) {
                    deferred.push((db, key.clone()));
                    break;
                }
                let mut out = Reply::new(waiter.resp3);
                let served = {
                    let mut view = locked.db(waiter.db, now);
                    (waiter.serve)(&mut view, &key, &waiter.args.view(), &mut out)
                };
                if !served {
                    continue;
                }
                let waiter = waiters.remove(id).expect("head waiter");
                let _ = waiter.reply.send(out.buf.to_vec());
            }
        }
        self.blocked.store(waiters.by_client.len(), Relaxed);
        deferred
    }

    /// Serves keys [`Registry::serve_ready`] could not, locking each key with
    /// the extra keys its head waiter needs, in shard order. Returns the
    /// keyspace events the served commands recorded, for the caller to publish.
    pub fn serve_deferred(
        &self,
        keyspace: &Keyspace,
        mut pending: Vec<(usize, Bytes24)>,
    ) -> Vec<crate::server::notify::Event> {
        let mut events = Vec::new();
        let mut rounds = 0;
        while let Some((db, key)) = pending.pop() {
            rounds += 1;
            if rounds > MAX_DEFERRED_ROUNDS {
                tracing::warn!("blocked clients left waiting: serving rounds exhausted");
                return events;
            }
            let extra = {
                let waiters = self.waiters.lock();
                match waiters.head(db, &key) {
                    Some(id) => waiters.by_client[&id].also_locks.clone(),
                    None => continue,
                }
            };
            let mut locked = keyspace.lock_keys(
                std::iter::once(key.as_slice()).chain(extra.iter().map(|k| k.as_slice())),
            );
            locked.mark_ready(db, key);
            pending.extend(self.serve_ready(&mut locked));
            events.extend(locked.take_events());
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_follow_redis() {
        assert_eq!(parse_timeout(b"0").unwrap(), None);
        assert_eq!(
            parse_timeout(b"0.1").unwrap(),
            Some(Duration::from_millis(100))
        );
        assert_eq!(
            parse_timeout(b"0.0001").unwrap(),
            Some(Duration::from_millis(1)),
            "rounded up, never to forever"
        );
        for bad in ["abc", " 1", "nan", ""] {
            assert_eq!(
                parse_timeout(bad.as_bytes()).unwrap_err().to_string(),
                "ERR timeout is not a float or out of range"
            );
        }
        for negative in ["-1", "inf", "1e20"] {
            assert_eq!(
                parse_timeout(negative.as_bytes()).unwrap_err().to_string(),
                "ERR timeout is negative"
            );
        }
    }
}
