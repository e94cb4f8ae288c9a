//! ACL: CAT, DELUSER, DRYRUN, GENPASS, GETUSER, LIST, LOAD, LOG, SAVE,
//! SETUSER, USERS, WHOAMI, HELP over [`crate::acl`].

use super::args::OwnedArgs;
use super::spec::{CommandSpec, Keys, flag::*};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::acl::{self, User};

const ADMIN_FLAGS: u32 = ADMIN | NOSCRIPT | LOADING | STALE;
const PLAIN: u32 = NOSCRIPT | LOADING | STALE;

const fn sub(
    name: &'static str,
    arity: i16,
    flags: u32,
    handler: super::spec::Handler,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec::new(name, arity, flags, Keys::None, handler).doc("server", "6.0.0", summary)
}

static SUBCOMMANDS: &[CommandSpec] = &[
    sub(
        "cat",
        -2,
        PLAIN,
        cat,
        "Lists the ACL categories, or the commands inside a category.",
    ),
    sub(
        "deluser",
        -3,
        ADMIN_FLAGS,
        deluser,
        "Deletes ACL users, and terminates their connections.",
    ),
    sub(
        "dryrun",
        -4,
        ADMIN_FLAGS,
        dryrun,
        "Simulates the execution of a command by a user, without executing the command.",
    )
    .doc(
        "server",
        "7.0.0",
        "Simulates the execution of a command by a user, without executing the command.",
    ),
    sub(
        "genpass",
        -2,
        PLAIN,
        genpass,
        "Generates a pseudorandom, secure password that can be used to identify ACL users.",
    ),
    sub(
        "getuser",
        3,
        ADMIN_FLAGS,
        getuser,
        "Lists the ACL rules of a user.",
    ),
    sub(
        "list",
        2,
        ADMIN_FLAGS,
        list,
        "Dumps the effective rules in ACL file format.",
    ),
    sub(
        "load",
        2,
        ADMIN_FLAGS,
        load,
        "Reloads the rules from the configured ACL file.",
    ),
    sub(
        "log",
        -2,
        ADMIN_FLAGS,
        log,
        "Lists recent security events generated due to ACL rules.",
    ),
    sub(
        "save",
        2,
        ADMIN_FLAGS,
        save,
        "Saves the effective ACL rules in the configured ACL file.",
    ),
    sub(
        "setuser",
        -3,
        ADMIN_FLAGS,
        setuser,
        "Creates and modifies an ACL user and its rules.",
    ),
    sub("users", 2, ADMIN_FLAGS, users, "Lists all ACL users."),
    sub(
        "whoami",
        2,
        PLAIN,
        whoami,
        "Returns the authenticated username of the current connection.",
    ),
    sub(
        "help",
        2,
        LOADING | STALE,
        help,
        "Returns helpful text about the different subcommands.",
    ),
];

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::container("acl", -2, SUBCOMMANDS).doc(
    "server",
    "6.0.0",
    "A container for Access List Control commands.",
)];

const NO_ACLFILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

fn valid_username(name: &[u8]) -> Result<String, CmdError> {
    if name.iter().any(|&c| c == b' ' || c == 0) {
        return Err(CmdError::Msg(
            "ERR Usernames can't contain spaces or null characters",
        ));
    }
    Ok(String::from_utf8_lossy(name).into_owned())
}

/// Redis's reply to extra arguments of a subcommand with optional ones.
fn syntax_or_arity(args: &Args) -> CmdError {
    CmdError::msg(format!(
        "ERR unknown subcommand or wrong number of arguments for '{:.128}'. Try ACL HELP.",
        args.str(1)
    ))
}

/// ACL CAT [category]: the categories, or the commands (and subcommands) in one.
fn cat(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() > 3 {
        return Err(syntax_or_arity(args));
    }
    let Some(name) = args.get_opt(2) else {
        let names = super::spec::acl::NAMES;
        ctx.out.array(names.len());
        for (_, n) in names {
            ctx.out.bulk(n.as_bytes());
        }
        return Ok(());
    };
    let bit = acl::user::category_bit(name).ok_or_else(|| {
        CmdError::msg(format!(
            "ERR Unknown category '{}'",
            String::from_utf8_lossy(name)
        ))
    })?;
    let table = &ctx.server.commands;
    let mut names = Vec::new();
    for (_, id, spec) in acl::user::original_commands(table) {
        if spec.acl_categories() & bit != 0 {
            names.push(table.full_name(id).to_string());
        }
        for sub in table.subcommand_ids(id) {
            if table.spec(sub).acl_categories() & bit != 0 {
                names.push(table.full_name(sub).to_string());
            }
        }
    }
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

/// ACL SETUSER name rules...: applied to a copy, stored only if every rule
/// was valid.
fn setuser(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let name = valid_username(args.get(2))?;
    let table = &ctx.server.commands;
    let all_channels = acl::pubsub_default_all(&ctx.server.config.read());
    ctx.server.acl.modify(
        &name,
        || User::new(&name, table, all_channels),
        |user| {
            for rule in args.iter().skip(3) {
                user.apply(rule, table, all_channels).map_err(|why| {
                    CmdError::msg(format!(
                        "ERR Error in ACL SETUSER modifier '{}': {why}",
                        String::from_utf8_lossy(rule)
                    ))
                })?;
            }
            Ok::<(), CmdError>(())
        },
    )?;
    ctx.out.ok();
    Ok(())
}

/// Closes the connections authenticated as users that no longer exist; the
/// caller's own connection closes after this reply.
fn disconnect_missing(ctx: &mut Ctx) {
    for handle in ctx.server.clients.all() {
        let name = handle.user.lock().clone();
        if ctx.server.acl.get(&name).is_none() {
            if handle.id == ctx.client.id {
                ctx.client.close_after_reply = true;
            } else {
                handle.kill();
            }
        }
    }
}

fn deluser(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let names: Vec<String> = args
        .iter()
        .skip(2)
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    if names.iter().any(|n| n == "default") {
        return Err(CmdError::Msg("ERR The 'default' user cannot be removed"));
    }
    let deleted = ctx.server.acl.delete(&names);
    disconnect_missing(ctx);
    ctx.out.int(deleted as i64);
    Ok(())
}

/// ACL DRYRUN user command args...: OK, or the reason as a bulk string.
fn dryrun(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let name = String::from_utf8_lossy(args.get(2)).into_owned();
    let user = ctx
        .server
        .acl
        .get(&name)
        .ok_or_else(|| CmdError::msg(format!("ERR User '{name}' not found")))?;
    let command: OwnedArgs = args.iter().skip(3).collect();
    let command = command.view();
    let table = &ctx.server.commands;
    let Some((id, spec)) = table
        .lookup(command.get(0), command.get_opt(1))
        .filter(|(_, s)| s.handler.is_some())
    else {
        return Err(CmdError::msg(format!(
            "ERR Command '{}' not found",
            String::from_utf8_lossy(command.get(0))
        )));
    };
    if !spec.arity_ok(command.len()) {
        return Err(CmdError::msg(format!(
            "ERR wrong number of arguments for '{}' command",
            table.full_name(id)
        )));
    }
    match acl::check_user(&user, id, spec, &command) {
        Ok(()) => ctx.out.ok(),
        Err(denied) => ctx
            .out
            .bulk(denied.dryrun_message(table, id, &command).as_bytes()),
    }
    Ok(())
}

/// ACL GENPASS [bits]: random hex, 256 bits unless told.
fn genpass(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() > 3 {
        return Err(syntax_or_arity(args));
    }
    let bits = match args.get_opt(2) {
        Some(_) => args.int(2)?,
        None => 256,
    };
    if bits <= 0 || bits > 4096 {
        return Err(CmdError::Msg(
            "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
        ));
    }
    let chars = (bits as usize).div_ceil(4);
    let text: String = (0..chars)
        .map(|_| char::from_digit(rand::random::<u32>() % 16, 16).expect("hex digit"))
        .collect();
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

/// ACL GETUSER name: Redis 7.0's map (flags, passwords, commands, keys,
/// channels, selectors), or null.
fn getuser(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let name = String::from_utf8_lossy(args.get(2)).into_owned();
    let Some(user) = ctx.server.acl.get(&name) else {
        ctx.out.null();
        return Ok(());
    };
    let out = &mut *ctx.out;
    out.map(6);
    out.bulk(b"flags");
    let flags = user.flag_names();
    out.set(flags.len());
    for f in flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"passwords");
    out.array(user.passwords.len());
    for p in &user.passwords {
        out.bulk(acl::user::hex(p).as_bytes());
    }
    out.bulk(b"commands");
    out.bulk(user.commands_text(&ctx.server.commands).as_bytes());
    out.bulk(b"keys");
    out.bulk(user.keys_text().as_bytes());
    out.bulk(b"channels");
    out.bulk(user.channels_text().as_bytes());
    out.bulk(b"selectors");
    out.array(0);
    Ok(())
}

fn list(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let users = ctx.server.acl.all();
    ctx.out.array(users.len());
    for u in users {
        ctx.out.bulk(u.describe(&ctx.server.commands).as_bytes());
    }
    Ok(())
}

fn users(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let users = ctx.server.acl.all();
    ctx.out.array(users.len());
    for u in users {
        ctx.out.bulk(u.name.as_bytes());
    }
    Ok(())
}

fn whoami(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    ctx.out.bulk(ctx.client.user.as_bytes());
    Ok(())
}

fn aclfile(ctx: &Ctx) -> Result<String, CmdError> {
    let path = ctx
        .server
        .config
        .read()
        .value("aclfile")
        .unwrap_or_default();
    if path.is_empty() {
        return Err(CmdError::Msg(NO_ACLFILE));
    }
    Ok(path)
}

/// ACL LOAD: all or nothing; clients of users that disappeared are closed.
fn load(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let path = aclfile(ctx)?;
    let table = &ctx.server.commands;
    let all_channels = acl::pubsub_default_all(&ctx.server.config.read());
    let current = ctx
        .server
        .acl
        .all()
        .into_iter()
        .map(|u| (u.name.clone(), (*u).clone()))
        .collect();
    let users = acl::file::load(&path, current, table, all_channels)
        .map_err(|e| CmdError::msg(format!("ERR {e}")))?;
    ctx.server.acl.replace(users);
    disconnect_missing(ctx);
    ctx.out.ok();
    Ok(())
}

fn save(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let path = aclfile(ctx)?;
    acl::file::save(&path, &ctx.server.acl.all(), &ctx.server.commands).map_err(|e| {
        tracing::warn!("{e}");
        CmdError::Msg("ERR There was an error trying to save the ACLs. Please check the server logs for more information")
    })?;
    ctx.out.ok();
    Ok(())
}

/// ACL LOG [count | RESET].
fn log(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() > 3 {
        return Err(syntax_or_arity(args));
    }
    let mut count = 10;
    if args.get_opt(2).is_some() {
        if args.is(2, "reset") {
            ctx.server.acl.log.lock().reset();
            ctx.out.ok();
            return Ok(());
        }
        // A negative count lists everything, as Redis's countdown does.
        count = usize::try_from(args.int(2)?).unwrap_or(usize::MAX);
    }
    ctx.server.acl.log.lock().reply(ctx.out, count);
    Ok(())
}

const HELP: &[&str] = &[
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
];

fn help(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    super::reply_help(ctx.out, "ACL", HELP);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testkit::TestClient;

    /// lookup → arity → NOAUTH → ACL, as Redis orders them.
    #[test]
    fn gate_order() {
        let mut t = TestClient::new();
        t.run(&["ACL", "SETUSER", "u", "on", ">pw", "+get"]);
        t.run(&["CONFIG", "SET", "requirepass", "root"]);
        let mut u = TestClient::on(t.server.clone());
        assert!(
            u.run(&["NOSUCH"])
                .starts_with("-ERR unknown command 'NOSUCH'")
        );
        assert_eq!(
            u.run(&["SET", "k"]),
            "-ERR wrong number of arguments for 'set' command\r\n"
        );
        assert_eq!(
            u.run(&["SET", "k", "v"]),
            "-NOAUTH Authentication required.\r\n"
        );
        assert_eq!(u.run(&["AUTH", "u", "pw"]), "+OK\r\n");
        assert_eq!(
            u.run(&["SET", "k", "v"]),
            "-NOPERM this user has no permissions to run the 'set' command\r\n"
        );
        assert_eq!(
            u.run(&["GET", "k"]),
            "-NOPERM this user has no permissions to access one of the keys used as arguments\r\n"
        );
        assert_eq!(
            u.run(&["PING"]),
            "-NOPERM this user has no permissions to run the 'ping' command\r\n"
        );
        // NO_AUTH commands stay allowed whatever the rules.
        assert_eq!(u.run(&["AUTH", "u", "pw"]), "+OK\r\n");
    }

    #[test]
    fn setuser_getuser_and_denials() {
        let mut t = TestClient::new();
        assert_eq!(
            t.run(&[
                "ACL", "SETUSER", "app", "on", ">pw", "~cache:*", "+get", "+set"
            ]),
            "+OK\r\n"
        );
        assert_eq!(
            t.run(&["ACL", "LIST"]),
            "*2\r\n$116\r\nuser app on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~cache:* resetchannels -@all +get +set\r\n$34\r\nuser default on nopass ~* &* +@all\r\n"
        );
        assert_eq!(t.run(&["AUTH", "app", "pw"]), "+OK\r\n");
        assert_eq!(
            t.run(&["ACL", "WHOAMI"]),
            "-NOPERM this user has no permissions to run the 'acl|whoami' command\r\n"
        );
        assert_eq!(t.run(&["SET", "cache:1", "v"]), "+OK\r\n");
        assert_eq!(
            t.run(&["GET", "other"]),
            "-NOPERM this user has no permissions to access one of the keys used as arguments\r\n"
        );
        assert_eq!(t.run(&["AUTH", "default", "x"]), "+OK\r\n");
        let log = t.run(&["ACL", "LOG"]);
        assert!(log.starts_with("*2\r\n"), "{log}");
        assert!(
            log.contains("$3\r\nkey\r\n") && log.contains("$5\r\nother\r\n"),
            "{log}"
        );
    }
}
