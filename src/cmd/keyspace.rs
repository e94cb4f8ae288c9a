//! Generic keyspace commands: DEL, EXISTS, EXPIRE, SCAN and friends.

use super::spec::{CommandSpec, flag::*, keys_all};
use super::{Args, CmdResult, Ctx};

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("del", -2, WRITE, keys_all(1), del).doc(
        "generic",
        "1.0.0",
        "Deletes one or more keys.",
    ),
    CommandSpec::new("exists", -2, READONLY | FAST, keys_all(1), exists).doc(
        "generic",
        "1.0.0",
        "Determines whether one or more keys exist.",
    ),
];

fn del(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let removed = args
        .iter()
        .skip(1)
        .filter(|k| ctx.db.remove(k).is_some())
        .count();
    ctx.out.int(removed as i64);
    Ok(())
}

fn exists(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let found = args.iter().skip(1).filter(|k| ctx.db.contains(k)).count();
    ctx.out.int(found as i64);
    Ok(())
}
