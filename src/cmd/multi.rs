//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! After MULTI the gate ([`super::execute`]) queues every command except the
//! transaction-control ones (flag `TXN_CONTROL`) and answers `QUEUED`; a
//! command it rejects (unknown, wrong arity...) dooms the transaction, so EXEC
//! answers EXECABORT. EXEC locks every shard (`WHOLE_KEYSPACE`) and runs the
//! queued commands through [`super::call_held`] under that one critical
//! section: no other client on any thread sees a state in between, and the
//! clients blocked on keys it pushed to are served once it ends, like after
//! any command.
//!
//! WATCH records the client in the watched key's shard ([`crate::db::watch`]);
//! any change to the key sets the client's `DIRTY_CAS` flag and EXEC then
//! answers a null array.

use std::sync::atomic::Ordering::Relaxed;

use super::args::OwnedArgs;
use super::spec::{CommandSpec, Keys, flag::*, keys_all};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::db::Locked;
use crate::server::client::{Running, cflag};
use crate::server::{Client, Server};

/// Flags of the commands that control a transaction rather than join it.
const CONTROL: u32 = NOSCRIPT | LOADING | STALE | TXN_CONTROL;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("multi", 1, CONTROL | FAST | ALLOW_BUSY, Keys::None, multi).doc(
        "transactions",
        "1.2.0",
        "Starts a transaction.",
    ),
    CommandSpec::new(
        "exec",
        1,
        CONTROL | SKIP_SLOWLOG | WHOLE_KEYSPACE,
        Keys::None,
        exec,
    )
    .doc(
        "transactions",
        "1.2.0",
        "Executes all commands in a transaction.",
    )
    .complexity("Depends on commands in the transaction"),
    CommandSpec::new(
        "discard",
        1,
        CONTROL | FAST | ALLOW_BUSY,
        Keys::None,
        discard,
    )
    .doc("transactions", "2.0.0", "Discards a transaction."),
    CommandSpec::new("watch", -2, CONTROL | FAST | ALLOW_BUSY, keys_all(1), watch)
        .doc(
            "transactions",
            "2.2.0",
            "Monitors changes to keys to determine the execution of a transaction.",
        )
        .complexity("O(1) for every key."),
    // UNWATCH is queued inside MULTI, as in Redis; run by EXEC it finds
    // every shard held, outside it takes the shards of the watched keys.
    CommandSpec::new(
        "unwatch",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        Keys::None,
        unwatch,
    )
    .doc(
        "transactions",
        "2.2.0",
        "Forgets about watched keys of a transaction.",
    ),
];

/// The commands queued since MULTI.
#[derive(Default)]
pub struct Transaction {
    queued: Vec<(usize, OwnedArgs)>,
    /// A command was rejected while queueing: EXEC must refuse.
    doomed: bool,
}

impl Transaction {
    pub fn queue(&mut self, id: usize, args: &Args<'_>) {
        self.queued.push((id, args.to_owned()));
    }

    pub fn len(&self) -> usize {
        self.queued.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }
}

/// The gate rejected a command: dooms the client's transaction, if any. A
/// rejected EXEC discards the transaction and says why, as Redis does (even
/// outside MULTI); the returned text then replaces the error.
pub fn rejected(
    server: &Server,
    client: &mut Client,
    spec: &CommandSpec,
    error: &str,
) -> Option<String> {
    if spec.name != "exec" {
        flag_error(client);
        return None;
    }
    reset_client(server, client);
    let reason = error.strip_prefix("ERR ").unwrap_or(error);
    Some(format!(
        "EXECABORT Transaction discarded because of: {reason}"
    ))
}

/// True when `spec` is EXEC and the client's transaction queued a command
/// that may grow memory (`denyoom`): refused when memory is over the limit.
pub fn exec_may_grow(server: &Server, client: &Client, spec: &CommandSpec) -> bool {
    let Some(txn) = client.multi.as_ref() else {
        return false;
    };
    spec.name == "exec"
        && txn
            .queued
            .iter()
            .any(|(id, _)| server.commands.spec(*id).flags & DENYOOM != 0)
}

/// Dooms the client's transaction, if it has one (the gate rejected a command).
pub fn flag_error(client: &mut Client) {
    if let Some(txn) = client.multi.as_mut() {
        txn.doomed = true;
    }
}

fn multi(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::Msg("ERR MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(Transaction::default());
    ctx.client.handle.set_flag(cflag::MULTI, true);
    ctx.client.handle.multi.store(0, Relaxed);
    ctx.out.ok();
    Ok(())
}

fn exec(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let Some(txn) = ctx.client.multi.take() else {
        return Err(CmdError::Msg("ERR EXEC without MULTI"));
    };
    leave_multi(ctx.client);
    let watch_failed = ctx.client.handle.has_flag(cflag::DIRTY_CAS) || watched_key_expired(ctx);
    forget_watches(ctx.server, ctx.client, ctx.db.locked());
    if txn.doomed {
        return Err(CmdError::Msg(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    if watch_failed {
        ctx.out.null_array();
        return Ok(());
    }
    ctx.out.array(txn.queued.len());
    let now = ctx.db.now_ms;
    let Ctx {
        server,
        client,
        out,
        db,
    } = ctx;
    let previous = std::mem::replace(&mut client.running, Running::Exec);
    for (id, args) in &txn.queued {
        let spec = server.commands.spec(*id);
        // The user's rules may have changed since the command was queued.
        if let Err(denied) = crate::acl::check(server, client, *id, spec, &args.view()) {
            crate::acl::log_denial(server, client, *id, &args.view(), denied, "multi");
            out.error(&denied.exec_message());
            continue;
        }
        super::call_held(
            server,
            client,
            out,
            &args.view(),
            *id,
            spec,
            db.locked(),
            Some(now),
        );
    }
    client.running = previous;
    Ok(())
}

fn discard(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    if ctx.client.multi.take().is_none() {
        return Err(CmdError::Msg("ERR DISCARD without MULTI"));
    }
    leave_multi(ctx.client);
    forget_watches(ctx.server, ctx.client, ctx.db.locked());
    ctx.out.ok();
    Ok(())
}

fn watch(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::Msg("ERR WATCH inside MULTI is not allowed"));
    }
    for key in args.iter().skip(1) {
        if ctx.db.watch(key, &ctx.client.handle) {
            ctx.client.watched.push((ctx.db.index, key.to_vec()));
        }
    }
    ctx.out.ok();
    Ok(())
}

fn unwatch(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    forget_watches(ctx.server, ctx.client, ctx.db.locked());
    ctx.out.ok();
    Ok(())
}

/// RESET and disconnects: drops the transaction and every watch.
pub fn reset_client(server: &Server, client: &mut Client) {
    if client.multi.take().is_some() {
        leave_multi(client);
    }
    let mut nothing_held = server.keyspace.lock_keys(std::iter::empty::<&[u8]>());
    forget_watches(server, client, &mut nothing_held);
}

fn leave_multi(client: &mut Client) {
    client.handle.set_flag(cflag::MULTI, false);
    client.handle.multi.store(-1, Relaxed);
}

/// A watched key that was live at WATCH time has expired since.
fn watched_key_expired(ctx: &mut Ctx) -> bool {
    let id = ctx.client.id;
    ctx.client
        .watched
        .iter()
        .any(|(db, key)| ctx.db.watched_key_expired(*db, key, id))
}

/// Unwatches every key of `client`. `held` is what the running command holds:
/// every shard (EXEC, or UNWATCH run by EXEC), or none (DISCARD, UNWATCH,
/// RESET, disconnect), in which case the watched keys' shards are taken here.
fn forget_watches<'s>(server: &'s Server, client: &mut Client, held: &mut Locked<'s>) {
    client.handle.set_flag(cflag::DIRTY_CAS, false);
    if client.watched.is_empty() {
        return;
    }
    let watched = std::mem::take(&mut client.watched);
    let mut own;
    let locked = if held.holds_all() {
        held
    } else {
        own = server
            .keyspace
            .lock_keys(watched.iter().map(|(_, key)| key.as_slice()));
        &mut own
    };
    let mut db = locked.db(0, 0);
    for (index, key) in &watched {
        db.unwatch(*index, key, client.id);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering::Relaxed;

    use crate::testkit::TestClient;

    #[test]
    fn specs_match_redis() {
        let expected = [
            (
                "multi",
                1,
                "noscript loading stale fast allow_busy",
                (0, 0, 0),
                "fast transaction",
            ),
            (
                "exec",
                1,
                "noscript loading stale skip_slowlog",
                (0, 0, 0),
                "slow transaction",
            ),
            (
                "discard",
                1,
                "noscript loading stale fast allow_busy",
                (0, 0, 0),
                "fast transaction",
            ),
            (
                "watch",
                -2,
                "noscript loading stale fast allow_busy",
                (1, -1, 1),
                "fast transaction",
            ),
            (
                "unwatch",
                1,
                "noscript loading stale fast allow_busy",
                (0, 0, 0),
                "fast transaction",
            ),
        ];
        crate::cmd::spec::assert_specs_match_redis(super::COMMANDS, &expected);
    }

    #[test]
    fn queued_commands_run_at_exec_and_errors_do_not_stop_the_rest() {
        let mut t = TestClient::new();
        assert_eq!(t.run(&["MULTI"]), "+OK\r\n");
        assert_eq!(t.run(&["SET", "k", "1"]), "+QUEUED\r\n");
        assert_eq!(t.run(&["LPUSH", "k", "x"]), "+QUEUED\r\n");
        assert_eq!(t.run(&["INCR", "k"]), "+QUEUED\r\n");
        assert_eq!(t.client.handle.multi.load(Relaxed), 3);
        assert_eq!(
            t.run(&["EXEC"]),
            "*3\r\n+OK\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n:2\r\n"
        );
        assert_eq!(t.client.handle.multi.load(Relaxed), -1);
        assert_eq!(t.run(&["EXEC"]), "-ERR EXEC without MULTI\r\n");
    }

    #[test]
    fn a_rejected_command_aborts_the_transaction() {
        let mut t = TestClient::new();
        t.run(&["MULTI"]);
        assert!(
            t.run(&["NOSUCH"])
                .starts_with("-ERR unknown command 'NOSUCH'")
        );
        assert!(
            t.run(&["GET"])
                .starts_with("-ERR wrong number of arguments")
        );
        assert_eq!(t.run(&["SET", "a", "1"]), "+QUEUED\r\n");
        assert_eq!(
            t.run(&["EXEC"]),
            "-EXECABORT Transaction discarded because of previous errors.\r\n"
        );
        assert_eq!(t.run(&["GET", "a"]), "$-1\r\n");
    }

    #[test]
    fn watch_fails_exec_after_any_change_and_is_then_forgotten() {
        let mut t = TestClient::new();
        let mut other = TestClient::on(t.server.clone());
        assert_eq!(t.run(&["WATCH", "k", "k2"]), "+OK\r\n");
        assert_eq!(t.server.keyspace.watching.load(Relaxed), 2);
        other.run(&["SET", "k", "theirs"]);
        t.run(&["MULTI"]);
        t.run(&["SET", "k", "mine"]);
        assert_eq!(t.run(&["EXEC"]), "*-1\r\n");
        assert_eq!(t.run(&["GET", "k"]), "$6\r\ntheirs\r\n");
        assert_eq!(t.server.keyspace.watching.load(Relaxed), 0);
        // Nothing watched any more: the next transaction runs.
        t.run(&["MULTI"]);
        t.run(&["SET", "k", "mine"]);
        assert_eq!(t.run(&["EXEC"]), "*1\r\n+OK\r\n");
    }

    #[test]
    fn untouched_watch_lets_exec_run_and_discard_unwatches() {
        let mut t = TestClient::new();
        let mut other = TestClient::on(t.server.clone());
        t.run(&["WATCH", "k"]);
        other.run(&["SET", "unrelated", "1"]);
        other.run(&["GET", "k"]);
        t.run(&["MULTI"]);
        t.run(&["INCR", "k"]);
        assert_eq!(t.run(&["EXEC"]), "*1\r\n:1\r\n");
        t.run(&["WATCH", "k"]);
        t.run(&["MULTI"]);
        assert_eq!(t.run(&["DISCARD"]), "+OK\r\n");
        assert_eq!(t.server.keyspace.watching.load(Relaxed), 0);
        assert_eq!(t.run(&["DISCARD"]), "-ERR DISCARD without MULTI\r\n");
    }

    #[test]
    fn expiry_of_a_watched_key_fails_exec() {
        let mut t = TestClient::new();
        // Long enough that WATCH sees the key alive even on a loaded machine.
        t.run(&["SET", "k", "v", "PX", "200"]);
        t.run(&["WATCH", "k"]);
        std::thread::sleep(std::time::Duration::from_millis(250));
        t.run(&["MULTI"]);
        t.run(&["PING"]);
        assert_eq!(t.run(&["EXEC"]), "*-1\r\n");
    }

    #[test]
    fn flushall_and_swapdb_touch_only_keys_that_exist() {
        let mut t = TestClient::new();
        t.run(&["WATCH", "missing"]);
        t.run(&["FLUSHALL"]);
        t.run(&["MULTI"]);
        assert_eq!(t.run(&["EXEC"]), "*0\r\n");
        t.run(&["SET", "k", "v"]);
        t.run(&["WATCH", "k"]);
        t.run(&["FLUSHDB"]);
        t.run(&["MULTI"]);
        assert_eq!(t.run(&["EXEC"]), "*-1\r\n");
        // SWAPDB brings a key into the watched database.
        t.run(&["SELECT", "1"]);
        t.run(&["SET", "k", "v"]);
        t.run(&["SELECT", "0"]);
        t.run(&["WATCH", "k"]);
        t.run(&["SWAPDB", "0", "1"]);
        t.run(&["MULTI"]);
        assert_eq!(t.run(&["EXEC"]), "*-1\r\n");
    }

    #[test]
    fn control_commands_inside_multi() {
        let mut t = TestClient::new();
        t.run(&["MULTI"]);
        assert_eq!(t.run(&["MULTI"]), "-ERR MULTI calls can not be nested\r\n");
        assert_eq!(
            t.run(&["WATCH", "x"]),
            "-ERR WATCH inside MULTI is not allowed\r\n"
        );
        assert_eq!(t.run(&["UNWATCH"]), "+QUEUED\r\n");
        assert_eq!(t.run(&["EXEC"]), "*1\r\n+OK\r\n");
    }

    #[test]
    fn blocking_commands_inside_exec_do_not_block() {
        let mut t = TestClient::new();
        t.run(&["MULTI"]);
        t.run(&["BLPOP", "empty", "0"]);
        assert_eq!(t.run(&["EXEC"]), "*1\r\n*-1\r\n");
        assert!(t.client.block.wait.is_none());
    }

    #[test]
    fn reset_and_disconnect_drop_the_transaction_and_the_watches() {
        let mut t = TestClient::new();
        t.run(&["WATCH", "a", "b"]);
        t.run(&["MULTI"]);
        assert_eq!(t.run(&["RESET"]), "+RESET\r\n");
        assert_eq!(t.server.keyspace.watching.load(Relaxed), 0);
        assert_eq!(t.run(&["EXEC"]), "-ERR EXEC without MULTI\r\n");
        t.run(&["WATCH", "a"]);
        super::reset_client(&t.server.clone(), &mut t.client);
        assert_eq!(t.server.keyspace.watching.load(Relaxed), 0);
    }

    #[test]
    fn a_rejected_exec_discards_even_outside_multi() {
        let mut t = TestClient::new();
        t.run(&["MULTI"]);
        assert_eq!(
            t.run(&["EXEC", "x"]),
            "-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n"
        );
        assert_eq!(t.run(&["EXEC"]), "-ERR EXEC without MULTI\r\n");
    }
}
