//! MODULE: ferrokv loads no modules, but answers as Redis 7.0 does, including
//! the `enable-module-command` gate on LOAD, LOADEX and UNLOAD.

use super::spec::{CommandSpec, Keys, flag::*};
use super::{Args, CmdError, CmdResult, Ctx};

const PROTECTED: u32 = ADMIN | NOSCRIPT | NO_ASYNC_LOADING;

static SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("list", 2, ADMIN | NOSCRIPT, Keys::None, list)
        .doc("server", "4.0.0", "Returns all loaded modules.")
        .tips(&["nondeterministic_output_order"]),
    CommandSpec::new("load", -3, PROTECTED, Keys::None, load).doc(
        "server",
        "4.0.0",
        "Loads a module.",
    ),
    CommandSpec::new("loadex", -3, PROTECTED, Keys::None, load).doc(
        "server",
        "7.0.0",
        "Loads a module using extended parameters.",
    ),
    CommandSpec::new("unload", 3, PROTECTED, Keys::None, unload).doc(
        "server",
        "4.0.0",
        "Unloads a module.",
    ),
    CommandSpec::new("help", 2, LOADING | STALE, Keys::None, help).doc(
        "server",
        "5.0.0",
        "Returns helpful text about the different subcommands.",
    ),
];

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::container("module", -2, SUBCOMMANDS).doc(
    "server",
    "4.0.0",
    "A container for module commands.",
)];

const NOT_ALLOWED: &str = "ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

/// `enable-module-command`: yes, no, or local (loopback clients only).
fn allowed(ctx: &Ctx) -> CmdResult {
    let setting = ctx
        .server
        .config
        .read()
        .value("enable-module-command")
        .unwrap_or_default();
    let ok = match setting.as_str() {
        "yes" => true,
        "local" => ctx.client.handle.addr.ip().to_canonical().is_loopback(),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(CmdError::Msg(NOT_ALLOWED))
    }
}

fn list(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    ctx.out.array(0);
    Ok(())
}

fn load(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    allowed(ctx)?;
    Err(CmdError::Msg(
        "ERR Error loading the extension. Please check the server logs.",
    ))
}

fn unload(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    allowed(ctx)?;
    Err(CmdError::Msg(
        "ERR Error unloading module: no such module with that name",
    ))
}

const HELP: &[&str] = &[
    "LIST",
    "    Return a list of loaded modules.",
    "LOAD <path> [<arg> ...]",
    "    Load a module library from <path>, passing to it any optional arguments.",
    "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
    "    Load a module library from <path>, while passing it module configurations and optional arguments.",
    "UNLOAD <name>",
    "    Unload a module.",
];

fn help(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    super::reply_help(ctx.out, "MODULE", HELP);
    Ok(())
}
