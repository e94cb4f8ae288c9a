//! BGREWRITEAOF: compacts the append-only file in the background (see
//! [`crate::aof::rewrite`]).

use super::spec::{CommandSpec, Keys, flag::*};
use std::sync::atomic::Ordering::Relaxed;

use super::{Args, CmdError, CmdResult, Ctx};

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new(
    "bgrewriteaof",
    1,
    ADMIN | NOSCRIPT | NO_ASYNC_LOADING,
    Keys::None,
    bgrewriteaof,
)
.doc(
    "server",
    "1.0.0",
    "Asynchronously rewrites the append-only file to disk.",
)
.complexity("O(1)")];

/// Inside EXEC (Redis's `server.in_exec`) or while a BGSAVE runs, Redis 7.0
/// only schedules the rewrite; ours runs on its own thread and waits for the
/// locks EXEC holds, so it starts now and answers as Redis does.
fn bgrewriteaof(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let in_exec = ctx.client.running == crate::server::client::Running::Exec;
    let other_child = ctx.server.persist.bgsave_in_progress.load(Relaxed);
    crate::aof::bgrewrite(ctx.server).map_err(CmdError::Msg)?;
    ctx.out.simple(if in_exec || other_child {
        "Background append only file rewriting scheduled"
    } else {
        "Background append only file rewriting started"
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::cmd::spec::assert_specs_match_redis;

    #[test]
    fn spec_matches_redis() {
        assert_specs_match_redis(
            super::COMMANDS,
            &[(
                "bgrewriteaof",
                1,
                "admin noscript no_async_loading",
                (0, 0, 0),
                "admin slow dangerous",
            )],
        );
    }
}
