//! Scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT.
//!
//! EVAL locks every shard (`WHOLE_KEYSPACE`): scripts may touch keys they did
//! not declare, as Bull's do, and nothing else runs in between. Each
//! `redis.call` goes through [`super::call_held`] over those held shards at
//! the script's frozen time, with `client.running = Running::Script` (so
//! blocking commands do not block), after Redis's checks for scripts: known
//! command, arity, no `noscript` commands, no writes from read-only scripts.
//! The interpreter itself lives in [`crate::script`].

use mlua::{Lua, Value, Variadic};

use super::args::OwnedArgs;
use super::spec::{CommandSpec, Keys, acl, flag::*};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::db::Locked;
use crate::protocol::Reply;
use crate::protocol::reply::format_double;
use crate::script::convert::{self, Converted};
use crate::script::{KILLED, KillOutcome, Mode, Outcome, RunState, shebang};
use crate::server::client::Running;
use crate::server::{Client, Server};

/// The reply other clients get while a script is busy.
pub const BUSY: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

const EVAL_FLAGS: u32 = NOSCRIPT | STALE | SKIP_MONITOR | NO_MANDATORY_KEYS | WHOLE_KEYSPACE;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("eval", -3, EVAL_FLAGS, Keys::Custom(eval_keys), eval)
        .doc("scripting", "2.6.0", "Executes a server-side Lua script.")
        .complexity("Depends on the script that is executed."),
    CommandSpec::new("evalsha", -3, EVAL_FLAGS, Keys::Custom(eval_keys), evalsha)
        .doc(
            "scripting",
            "2.6.0",
            "Executes a server-side Lua script by SHA1 digest.",
        )
        .complexity("Depends on the script that is executed."),
    CommandSpec::new(
        "eval_ro",
        -3,
        EVAL_FLAGS | READONLY,
        Keys::Custom(eval_keys),
        eval_ro,
    )
    .doc(
        "scripting",
        "7.0.0",
        "Executes a read-only server-side Lua script.",
    )
    // Explicit: a read-only script is not in @read.
    .acl(acl::SCRIPTING)
    .complexity("Depends on the script that is executed."),
    CommandSpec::new(
        "evalsha_ro",
        -3,
        EVAL_FLAGS | READONLY,
        Keys::Custom(eval_keys),
        evalsha_ro,
    )
    .doc(
        "scripting",
        "7.0.0",
        "Executes a read-only server-side Lua script by SHA1 digest.",
    )
    .acl(acl::SCRIPTING)
    .complexity("Depends on the script that is executed."),
    CommandSpec::container("script", -2, SCRIPT_SUBCOMMANDS).doc(
        "scripting",
        "2.6.0",
        "A container for Lua scripts management commands.",
    ),
];

pub(crate) static SCRIPT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("load", 3, NOSCRIPT | STALE, Keys::None, script_load)
        .doc(
            "scripting",
            "2.6.0",
            "Loads a server-side Lua script to the script cache.",
        )
        .complexity("O(N) with N being the length in bytes of the script body.")
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
    CommandSpec::new("exists", -3, NOSCRIPT, Keys::None, script_exists)
        .doc(
            "scripting",
            "2.6.0",
            "Determines whether server-side Lua scripts exist in the script cache.",
        )
        .complexity("O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).")
        .tips(&["request_policy:all_shards", "response_policy:agg_logical_and"]),
    CommandSpec::new("flush", -2, NOSCRIPT, Keys::None, script_flush)
        .doc(
            "scripting",
            "2.6.0",
            "Removes all server-side Lua scripts from the script cache.",
        )
        .complexity("O(N) with N being the number of scripts in cache")
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
    CommandSpec::new("kill", 2, NOSCRIPT | ALLOW_BUSY, Keys::None, script_kill)
        .doc(
            "scripting",
            "2.6.0",
            "Terminates a server-side Lua script during execution.",
        )
        .tips(&["request_policy:all_shards", "response_policy:one_succeeded"]),
    CommandSpec::new("help", 2, LOADING | STALE, Keys::None, script_help).doc(
        "scripting",
        "5.0.0",
        "Returns helpful text about the different subcommands.",
    ),
];

/// Key positions of EVAL-like commands: `numkeys` arguments after it.
fn eval_keys(args: &Args<'_>, out: &mut Vec<usize>) {
    if let Some(n) = args
        .get_opt(2)
        .and_then(crate::protocol::parse::parse_i64)
        .filter(|&n| n > 0)
    {
        out.extend((3..).take(n as usize).take_while(|&i| i < args.len()));
    }
}

fn eval(ctx: &mut Ctx, args: &Args) -> CmdResult {
    run_script(ctx, args, Source::Body, false)
}

fn evalsha(ctx: &mut Ctx, args: &Args) -> CmdResult {
    run_script(ctx, args, Source::Sha, false)
}

fn eval_ro(ctx: &mut Ctx, args: &Args) -> CmdResult {
    run_script(ctx, args, Source::Body, true)
}

fn evalsha_ro(ctx: &mut Ctx, args: &Args) -> CmdResult {
    run_script(ctx, args, Source::Sha, true)
}

/// Whether argument 1 is the script's body or its SHA1.
#[derive(Clone, Copy)]
enum Source {
    Body,
    Sha,
}

fn numkeys(args: &Args) -> Result<usize, CmdError> {
    let n = args.int(2)?;
    if n < 0 {
        return Err(CmdError::Msg("ERR Number of keys can't be negative"));
    }
    if n as usize > args.len() - 3 {
        return Err(CmdError::Msg(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    Ok(n as usize)
}

fn run_script(ctx: &mut Ctx, args: &Args, source: Source, read_only: bool) -> CmdResult {
    let numkeys = numkeys(args)?;
    let scripts = &ctx.server.scripts;
    let mut engine = scripts.engine().map_err(CmdError::Owned)?;
    let sha = match source {
        Source::Sha => args.str(1).to_ascii_lowercase(),
        Source::Body => engine.load(args.get(1)).map_err(CmdError::Owned)?,
    };
    let Some(function) = engine.get(&sha) else {
        return Err(CmdError::Msg(
            "NOSCRIPT No matching script. Please use EVAL.",
        ));
    };
    let now_ms = ctx.db.now_ms;
    let Ctx {
        server,
        client,
        out,
        db,
    } = ctx;
    let caller_db = client.db;
    // Redis's pre_command_oom_state: out of memory with nothing left to evict
    // when the script starts (never while replaying the AOF).
    let mut oom_at_start = !server.keyspace.aof.loading()
        && crate::db::evict::perform_evictions(server, Some(db.locked()))
            == crate::db::evict::Outcome::Failed;
    let mut read_only = read_only;
    if let Some(flags) = engine.flags(&sha) {
        // A script declaring flags is judged by them before it runs.
        let no_writes = flags & shebang::NO_WRITES != 0;
        let allow_oom = flags & shebang::ALLOW_OOM != 0;
        if oom_at_start && !no_writes && !allow_oom {
            return Err(CmdError::Msg(crate::db::evict::OOM_ERROR));
        }
        if read_only && !no_writes {
            return Err(CmdError::Msg(
                "ERR Can not execute a script with write flag using *_ro command.",
            ));
        }
        read_only |= no_writes;
        oom_at_start &= !allow_oom;
    }
    let previous = std::mem::replace(&mut client.running, Running::Script);
    let mut caller = ScriptCaller {
        server,
        client,
        locked: db.locked(),
        now_ms,
        read_only,
        oom_at_start,
        run: &scripts.run,
        reply: Reply::new(false),
    };
    let keys = (3..3 + numkeys).map(|i| args.get(i));
    let argv = (3 + numkeys..args.len()).map(|i| args.get(i));
    let outcome = engine.run(&scripts.run, &function, keys, argv, |lua, mode, values| {
        caller.dispatch(lua, mode, values)
    });
    drop(caller);
    client.running = previous;
    if client.db != caller_db {
        // SELECT inside a script does not change the caller's database.
        client.select(caller_db);
    }
    match outcome {
        Ok(Outcome::Returned { value, resp3 }) => convert::lua_to_reply(&value, out, resp3),
        Ok(Outcome::Raised(error)) => {
            let message = raised_message(&error, &sha, scripts.run.was_killed());
            out.error_bytes(message.as_bytes());
        }
        Err(e) => out.error(&format!("ERR Error running script {sha}, {e}")),
    }
    Ok(())
}

/// Redis's text for a script that raised `error`: its `err` field, and where
/// it failed when the error handler recorded it.
fn raised_message(error: &Value, sha: &str, killed: bool) -> String {
    let Value::Table(t) = error else {
        return format!("ERR Error running script {sha}, execution failure");
    };
    let mut message = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => s.to_string_lossy(),
        _ => String::new(),
    };
    if killed {
        message = KILLED.to_string();
    }
    let source = t.raw_get::<Option<String>>("source").ok().flatten();
    let line = t.raw_get::<Option<i64>>("line").ok().flatten();
    if let (Some(source), Some(line)) = (source, line) {
        message.push_str(&format!(" script: {sha}, on {source}:{line}."));
    }
    message
}

/// Runs the commands of one script: `redis.call` lands in [`Self::dispatch`].
struct ScriptCaller<'a, 's> {
    server: &'s Server,
    client: &'a mut Client,
    locked: &'a mut Locked<'s>,
    now_ms: u64,
    read_only: bool,
    /// Memory was over `maxmemory` with nothing to evict at the start.
    oom_at_start: bool,
    run: &'s RunState,
    /// The inner command's reply, read back into Lua.
    reply: Reply,
}

impl ScriptCaller<'_, '_> {
    /// Returns (true, result) or (false, `{err=...}`).
    fn dispatch(
        &mut self,
        lua: &Lua,
        mode: Mode,
        values: Variadic<Value>,
    ) -> mlua::Result<(bool, Value)> {
        let args = match command_args(&values) {
            Ok(args) => args,
            Err(message) => return failure(lua, message),
        };
        let view = args.view();
        let (id, spec) = match self.check(&view, mode == Mode::AclCheck) {
            Ok(found) => found,
            Err(message) => return failure(lua, message),
        };
        let Mode::Call { resp3 } = mode else {
            let allowed = crate::acl::check(self.server, self.client, id, spec, &view).is_ok();
            return Ok((true, Value::Boolean(allowed)));
        };
        if spec.flags & WRITE != 0 {
            self.run.note_write();
        }
        self.reply.buf.clear();
        self.reply.resp3 = resp3;
        super::call_held(
            self.server,
            self.client,
            &mut self.reply,
            &view,
            id,
            spec,
            self.locked,
            Some(self.now_ms),
        );
        Ok(match convert::resp_to_lua(lua, &self.reply.buf)? {
            Converted::Value(v) => (true, v),
            Converted::Error(t) => (false, Value::Table(t)),
        })
    }

    /// Redis's checks before a script's command runs.
    fn check(
        &mut self,
        args: &Args<'_>,
        acl_check: bool,
    ) -> Result<(usize, &'static CommandSpec), &'static str> {
        let name = args.get(0);
        let found = self
            .server
            .commands
            .lookup(name, args.get_opt(1))
            .filter(|(_, spec)| spec.handler.is_some());
        let Some((id, spec)) = found else {
            return Err(if acl_check {
                "ERR Invalid command passed to redis.acl_check_cmd()"
            } else {
                "ERR Unknown Redis command called from script"
            });
        };
        if acl_check {
            return Ok((id, spec));
        }
        if !spec.arity_ok(args.len()) {
            return Err("ERR Wrong number of args calling Redis command from script");
        }
        if spec.flags & NOSCRIPT != 0 {
            return Err("ERR This Redis command is not allowed from script");
        }
        if let Err(denied) = crate::acl::check(self.server, self.client, id, spec, args) {
            crate::acl::log_denial(self.server, self.client, id, args, denied, "lua");
            return Err(denied.script_message());
        }
        if self.read_only && spec.flags & WRITE != 0 {
            return Err("ERR Write commands are not allowed from read-only scripts.");
        }
        // As Redis: `denyoom` commands are refused until the script's first
        // write; after it, stopping half-way would break atomicity.
        if self.oom_at_start && spec.flags & DENYOOM != 0 && !self.run.wrote() {
            return Err(crate::db::evict::OOM_ERROR);
        }
        Ok((id, spec))
    }
}

fn failure(lua: &Lua, message: &str) -> mlua::Result<(bool, Value)> {
    Ok((
        false,
        Value::Table(convert::error_table(lua, message.as_bytes())?),
    ))
}

/// The arguments of `redis.call`: strings, or numbers in Lua's own spelling.
fn command_args(values: &[Value]) -> Result<OwnedArgs, &'static str> {
    if values.is_empty() {
        return Err("ERR Please specify at least one argument for this redis lib call");
    }
    let mut args = OwnedArgs::default();
    for value in values {
        match value {
            Value::String(s) => args.push(&s.as_bytes()),
            // Redis spells numbers with %.17g (not Lua's lossy %.14g).
            Value::Integer(i) if i.unsigned_abs() < 100_000_000_000_000_000 => {
                args.push(itoa::Buffer::new().format(*i).as_bytes())
            }
            Value::Integer(i) => args.push(format_double(*i as f64).as_bytes()),
            Value::Number(n) => args.push(format_double(*n).as_bytes()),
            _ => return Err(ARGS_TYPE),
        }
    }
    Ok(args)
}

const ARGS_TYPE: &str = "ERR Lua redis lib command arguments must be strings or integers";

fn script_load(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let sha = ctx
        .server
        .scripts
        .engine()
        .map_err(CmdError::Owned)?
        .load(args.get(2))
        .map_err(CmdError::Owned)?;
    ctx.out.bulk(sha.as_bytes());
    Ok(())
}

fn script_exists(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let engine = ctx.server.scripts.engine().map_err(CmdError::Owned)?;
    ctx.out.array(args.len() - 2);
    for sha in args.iter().skip(2) {
        let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
        ctx.out.int(engine.exists(&sha) as i64);
    }
    Ok(())
}

fn script_flush(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() > 3 || (args.len() == 3 && !args.is(2, "sync") && !args.is(2, "async")) {
        return Err(CmdError::Msg(
            "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
        ));
    }
    ctx.server.scripts.flush();
    ctx.out.ok();
    Ok(())
}

fn script_kill(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    match ctx.server.scripts.run.kill() {
        KillOutcome::Killed => {
            ctx.out.ok();
            Ok(())
        }
        KillOutcome::NotBusy => Err(CmdError::Msg("NOTBUSY No scripts in execution right now.")),
        KillOutcome::Unkillable => Err(CmdError::Msg(
            "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
        )),
    }
}

fn script_help(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    super::reply_help(
        ctx.out,
        "SCRIPT",
        &[
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests;
