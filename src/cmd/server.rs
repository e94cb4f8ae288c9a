//! Server commands: DBSIZE, FLUSHDB, FLUSHALL, SHUTDOWN, COMMAND, INFO...

use super::spec::{CommandSpec, Keys, flag::*};
use super::{Args, CmdResult, Ctx};

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "dbsize",
        1,
        READONLY | FAST | WHOLE_KEYSPACE,
        Keys::None,
        dbsize,
    )
    .doc(
        "server",
        "1.0.0",
        "Returns the number of keys in the database.",
    ),
    CommandSpec::new("flushall", -1, WRITE | WHOLE_KEYSPACE, Keys::None, flushall)
        .doc("server", "1.0.0", "Removes all keys from all databases.")
        .acl(super::spec::acl::KEYSPACE | super::spec::acl::DANGEROUS),
    CommandSpec::new(
        "shutdown",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY,
        Keys::None,
        shutdown,
    )
    .doc(
        "server",
        "1.0.0",
        "Synchronously saves the database(s) to disk and shuts down the Redis server.",
    ),
];

fn dbsize(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let n = ctx.db.len();
    ctx.out.int(n as i64);
    Ok(())
}

fn flushall(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    for db in 0..ctx.server.keyspace.databases() {
        ctx.db.flush(db);
    }
    ctx.out.ok();
    Ok(())
}

fn shutdown(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    ctx.server.request_shutdown();
    Ok(())
}
