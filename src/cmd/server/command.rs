//! COMMAND and its subcommands, answered entirely from the command table.

use crate::cmd::reply_help;

use super::super::spec::{CommandSpec, Keys, acl, flag::*};
use super::super::{Args, CmdError, CmdResult, Ctx};
use super::NONDETERMINISTIC_ORDER;
use crate::protocol::Reply;
use crate::server::Server;
use crate::util::glob::glob_match;

const SUB: u32 = LOADING | STALE;

pub static SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("info", -2, SUB, Keys::None, info)
        .doc(
            "server",
            "2.8.13",
            "Returns information about one, multiple or all commands.",
        )
        .complexity("O(N) where N is the number of commands to look up")
        .acl(acl::CONNECTION)
        .tips(&[NONDETERMINISTIC_ORDER]),
    CommandSpec::new("getkeys", -4, SUB, Keys::None, getkeys)
        .doc(
            "server",
            "2.8.13",
            "Extracts the key names from an arbitrary command.",
        )
        .complexity("O(N) where N is the number of arguments to the command")
        .acl(acl::CONNECTION),
    CommandSpec::new("docs", -2, SUB, Keys::None, docs)
        .doc(
            "server",
            "7.0.0",
            "Returns documentary information about one, multiple or all commands.",
        )
        .complexity("O(N) where N is the number of commands to look up")
        .acl(acl::CONNECTION)
        .tips(&[NONDETERMINISTIC_ORDER]),
    CommandSpec::new("count", 2, SUB, Keys::None, count)
        .doc("server", "2.8.13", "Returns a count of commands.")
        .acl(acl::CONNECTION),
    CommandSpec::new("help", 2, SUB, Keys::None, help)
        .doc(
            "server",
            "5.0.0",
            "Returns helpful text about the different subcommands.",
        )
        .acl(acl::CONNECTION),
    CommandSpec::new("getkeysandflags", -4, SUB, Keys::None, getkeysandflags)
        .doc(
            "server",
            "7.0.0",
            "Extracts the key names and access flags for an arbitrary command.",
        )
        .complexity("O(N) where N is the number of arguments to the command")
        .acl(acl::CONNECTION),
    CommandSpec::new("list", -2, SUB, Keys::None, list)
        .doc("server", "7.0.0", "Returns a list of command names.")
        .complexity("O(N) where N is the total number of Redis commands")
        .acl(acl::CONNECTION)
        .tips(&[NONDETERMINISTIC_ORDER]),
];

/// `COMMAND` alone: every command. With an unknown subcommand the table hands
/// the call here too, so that case gets the container's error.
pub fn command_all(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() > 1 {
        return Err(CmdError::msg(format!(
            "ERR unknown subcommand '{:.128}'. Try COMMAND HELP.",
            args.str(1)
        )));
    }
    write_all_info(ctx.server, ctx.out);
    Ok(())
}

fn write_all_info(server: &Server, out: &mut Reply) {
    let all: Vec<usize> = server.commands.top_level().map(|(_, id, _)| id).collect();
    out.array(all.len());
    for id in all {
        write_info(server, out, id);
    }
}

fn info(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() == 2 {
        write_all_info(ctx.server, ctx.out);
        return Ok(());
    }
    ctx.out.array(args.len() - 2);
    for name in args.iter().skip(2) {
        match find(ctx.server, name) {
            Some(id) => write_info(ctx.server, ctx.out, id),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// A top-level command, or `parent|sub`.
pub(super) fn find(server: &Server, name: &[u8]) -> Option<usize> {
    match name.iter().position(|&b| b == b'|') {
        None => server.commands.get(name).map(|(id, _)| id),
        Some(bar) => {
            let (parent, _) = server.commands.get(&name[..bar])?;
            let sub = &name[bar + 1..];
            server
                .commands
                .subcommand_ids(parent)
                .into_iter()
                .find(|&id| {
                    server
                        .commands
                        .spec(id)
                        .name
                        .as_bytes()
                        .eq_ignore_ascii_case(sub)
                })
        }
    }
}

/// Key-spec flags in our simplified model: read-only commands read, others update.
fn key_flags(spec: &CommandSpec) -> &'static [&'static str] {
    if spec.flags & WRITE != 0 {
        &["RW", "update"]
    } else {
        &["RO", "access"]
    }
}

/// One COMMAND INFO entry (Redis 7.0 shape, ten fields).
fn write_info(server: &Server, out: &mut Reply, id: usize) {
    let spec = server.commands.spec(id);
    out.array(10);
    out.bulk(server.commands.full_name(id).as_bytes());
    out.int(spec.arity as i64);
    let flags = spec.flag_names();
    out.set(flags.len());
    for f in flags {
        out.simple(f);
    }
    let (first, last, step) = spec.key_range();
    out.int(first);
    out.int(last);
    out.int(step);
    let names = spec.acl_names();
    out.set(names.len());
    for n in names {
        out.simple(&format!("@{n}"));
    }
    out.set(spec.tips.len());
    for tip in spec.tips {
        out.bulk(tip.as_bytes());
    }
    write_key_specs(out, spec);
    let subs = server.commands.subcommand_ids(id);
    // Redis sends "no subcommands" as an empty set but a list as an array.
    if subs.is_empty() {
        out.set(0);
    } else {
        out.array(subs.len());
    }
    for sub in subs {
        write_info(server, out, sub);
    }
}

/// Key specs reduced to the legacy range (or "unknown" for computed keys).
fn write_key_specs(out: &mut Reply, spec: &CommandSpec) {
    let (begin, find): (Option<i64>, Option<(i64, i64)>) = match spec.keys {
        Keys::None => {
            out.set(0);
            return;
        }
        Keys::Range { first, last, step } => {
            let lastkey = if last < 0 { last } else { last - first };
            (Some(first as i64), Some((lastkey as i64, step as i64)))
        }
        Keys::Custom(_) => (None, None),
    };
    out.set(1);
    out.map(3);
    out.bulk(b"flags");
    let flags = key_flags(spec);
    out.set(flags.len());
    for f in flags {
        out.simple(f);
    }
    out.bulk(b"begin_search");
    out.map(2);
    out.bulk(b"type");
    match begin {
        Some(index) => {
            out.bulk(b"index");
            out.bulk(b"spec");
            out.map(1);
            out.bulk(b"index");
            out.int(index);
        }
        None => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map(0);
        }
    }
    out.bulk(b"find_keys");
    out.map(2);
    out.bulk(b"type");
    match find {
        Some((lastkey, step)) => {
            out.bulk(b"range");
            out.bulk(b"spec");
            out.map(3);
            out.bulk(b"lastkey");
            out.int(lastkey);
            out.bulk(b"keystep");
            out.int(step);
            out.bulk(b"limit");
            out.int(0);
        }
        None => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map(0);
        }
    }
}

fn count(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let n = ctx.server.commands.top_level().count();
    ctx.out.int(n as i64);
    Ok(())
}

fn docs(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let server = ctx.server;
    let ids: Vec<usize> = if args.len() == 2 {
        server.commands.top_level().map(|(_, id, _)| id).collect()
    } else {
        // Unknown names are left out, as Redis does.
        args.iter()
            .skip(2)
            .filter_map(|n| find(server, n))
            .collect()
    };
    ctx.out.map(ids.len());
    for id in ids {
        ctx.out.bulk(server.commands.full_name(id).as_bytes());
        write_doc(server, ctx.out, id);
    }
    Ok(())
}

fn write_doc(server: &Server, out: &mut Reply, id: usize) {
    let spec = server.commands.spec(id);
    let subs = server.commands.subcommand_ids(id);
    out.map(4 + usize::from(!subs.is_empty()));
    for (field, value) in [
        ("summary", spec.summary),
        ("since", spec.since),
        ("group", spec.group),
        ("complexity", spec.complexity),
    ] {
        out.bulk(field.as_bytes());
        out.bulk(value.as_bytes());
    }
    if !subs.is_empty() {
        out.bulk(b"subcommands");
        out.map(subs.len());
        for sub in subs {
            out.bulk(server.commands.full_name(sub).as_bytes());
            write_doc(server, out, sub);
        }
    }
}

/// The keys of the command in `args[2..]`, with Redis's errors.
fn target_keys(
    server: &Server,
    args: &Args,
) -> Result<(&'static CommandSpec, Vec<usize>), CmdError> {
    let target = args.get(2);
    let (_, spec) = server
        .commands
        .lookup(target, args.get_opt(3))
        .ok_or(CmdError::Msg("ERR Invalid command specified"))?;
    if !spec.subcommands.is_empty() {
        // The container itself came back: the subcommand is missing or unknown.
        return Err(CmdError::Msg("ERR Invalid command specified"));
    }
    let argc = args.len() - 2;
    if !spec.arity_ok(argc) {
        return Err(CmdError::Msg(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    if matches!(spec.keys, Keys::None) {
        return Err(CmdError::Msg("ERR The command has no key arguments"));
    }
    // Positions are relative to the target command, which starts at argument 2.
    let spans: Vec<&[u8]> = args.iter().skip(2).collect();
    let owned: super::super::args::OwnedArgs = spans.iter().collect();
    let mut positions = Vec::new();
    spec.key_positions(&owned.view(), &mut positions);
    if positions.is_empty() && spec.flags & NO_MANDATORY_KEYS == 0 {
        return Err(CmdError::Msg("ERR Invalid arguments specified for command"));
    }
    Ok((spec, positions.into_iter().map(|p| p + 2).collect()))
}

fn getkeys(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (_, positions) = target_keys(ctx.server, args)?;
    ctx.out.array(positions.len());
    for p in positions {
        ctx.out.bulk(args.get(p));
    }
    Ok(())
}

fn getkeysandflags(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (spec, positions) = target_keys(ctx.server, args)?;
    let flags = key_flags(spec);
    ctx.out.array(positions.len());
    for p in positions {
        ctx.out.array(2);
        ctx.out.bulk(args.get(p));
        ctx.out.set(flags.len());
        for f in flags {
            ctx.out.simple(f);
        }
    }
    Ok(())
}

/// Which commands COMMAND LIST keeps.
enum ListFilter<'a> {
    All,
    None,
    AclCategory(u64),
    Pattern(&'a [u8]),
}

fn list(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let filter = match args.len() {
        2 => ListFilter::All,
        5 if args.is(2, "filterby") => {
            let value = args.get(4);
            if args.is(3, "module") {
                ListFilter::None
            } else if args.is(3, "aclcat") {
                acl::NAMES
                    .iter()
                    .find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(value))
                    .map_or(ListFilter::None, |&(bit, _)| ListFilter::AclCategory(bit))
            } else if args.is(3, "pattern") {
                ListFilter::Pattern(value)
            } else {
                return Err(CmdError::Syntax);
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    let commands = &ctx.server.commands;
    let mut names = Vec::new();
    for (_, id, _) in commands.top_level() {
        for id in std::iter::once(id).chain(commands.subcommand_ids(id)) {
            let name = commands.full_name(id);
            let keep = match filter {
                ListFilter::All => true,
                ListFilter::None => false,
                ListFilter::AclCategory(bit) => commands.spec(id).acl_categories() & bit != 0,
                ListFilter::Pattern(p) => glob_match(p, name.as_bytes(), true),
            };
            if keep {
                names.push(name);
            }
        }
    }
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

fn help(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    reply_help(
        ctx.out,
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    );
    Ok(())
}
