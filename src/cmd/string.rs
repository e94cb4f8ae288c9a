//! String commands: GET, SET and friends.

use super::spec::{CommandSpec, flag::*, key1};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::db::Value;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, READONLY | FAST, key1(), get).doc("string", "1.0.0", "Returns the string value of a key."),
    CommandSpec::new("set", -3, WRITE | DENYOOM, key1(), set)
        .doc("string", "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.")
        .complexity("O(1)"),
];

fn get(ctx: &mut Ctx, args: &Args) -> CmdResult {
    match ctx.db.read(args.get(1)) {
        None => ctx.out.null(),
        Some(entry) => match &entry.value {
            Value::Str(s) => ctx.out.bulk(s.as_bytes(&mut itoa::Buffer::new())),
            #[allow(unreachable_patterns)]
            _ => return Err(CmdError::WrongType),
        },
    }
    Ok(())
}

fn set(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() != 3 {
        return Err(CmdError::Syntax);
    }
    ctx.db.set(args.get(1), Value::str(args.get(2)));
    ctx.out.ok();
    Ok(())
}
