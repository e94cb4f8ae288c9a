//! BGREWRITEAOF: compacts the append-only file in the background (see
//! [`crate::aof::rewrite`]).

use super::spec::{CommandSpec, Keys, flag::*};
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

fn bgrewriteaof(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    crate::aof::bgrewrite(ctx.server).map_err(CmdError::Msg)?;
    ctx.out
        .simple("Background append only file rewriting started");
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
