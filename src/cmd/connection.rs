//! Connection commands: PING, ECHO, SELECT, QUIT, AUTH, HELLO, RESET, CLIENT.

use super::spec::{CommandSpec, Keys, flag::*};
use super::{Args, CmdError, CmdResult, Ctx};

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("ping", -1, FAST, Keys::None, ping).doc(
        "connection",
        "1.0.0",
        "Returns the server's liveliness response.",
    ),
    CommandSpec::new("echo", 2, FAST, Keys::None, echo).doc(
        "connection",
        "1.0.0",
        "Returns the given string.",
    ),
    CommandSpec::new("select", 2, LOADING | STALE | FAST, Keys::None, select).doc(
        "connection",
        "1.0.0",
        "Changes the selected database.",
    ),
    CommandSpec::new(
        "quit",
        -1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY | TXN_CONTROL,
        Keys::None,
        quit,
    )
    .doc("connection", "1.0.0", "Closes the connection."),
];

fn ping(ctx: &mut Ctx, args: &Args) -> CmdResult {
    match args.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(args.get(1)),
        _ => {
            return Err(CmdError::Msg(
                "ERR wrong number of arguments for 'ping' command",
            ));
        }
    }
    Ok(())
}

fn echo(ctx: &mut Ctx, args: &Args) -> CmdResult {
    ctx.out.bulk(args.get(1));
    Ok(())
}

fn select(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let db = args
        .int(1)
        .map_err(|_| CmdError::Msg("ERR value is not an integer or out of range"))?;
    if db < 0 || db as usize >= ctx.server.keyspace.databases() {
        return Err(CmdError::InvalidDb);
    }
    ctx.client.select(db as usize);
    ctx.out.ok();
    Ok(())
}

fn quit(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    ctx.client.close_after_reply = true;
    ctx.out.ok();
    Ok(())
}
