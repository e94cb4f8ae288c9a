//! CLIENT and its subcommands: identity (ID, SETNAME, GETNAME, SETINFO),
//! introspection (LIST, INFO), control of other clients (KILL, PAUSE, UNPAUSE,
//! UNBLOCK) and of this one (REPLY, NO-EVICT, NO-TOUCH, TRACKING).

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use super::spec::{CommandSpec, Keys, flag::*};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::server::client::{ClientHandle, ClientKind, ReplyMode, cflag};

/// Registered through `connection::COMMANDS`.
pub const CLIENT: CommandSpec = CommandSpec::container("client", -2, SUBCOMMANDS).doc(
    "connection",
    "2.4.0",
    "A container for client connection commands.",
);

const SELF_FLAGS: u32 = NOSCRIPT | LOADING | STALE;
const ADMIN_FLAGS: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

static SUBCOMMANDS: &[CommandSpec] = &[
    sub(
        "caching",
        3,
        SELF_FLAGS,
        caching,
        "6.0.0",
        "Instructs the server whether to track the keys in the next request.",
    ),
    sub(
        "getname",
        2,
        SELF_FLAGS,
        getname,
        "2.6.9",
        "Returns the name of the connection.",
    ),
    sub(
        "getredir",
        2,
        SELF_FLAGS,
        getredir,
        "6.0.0",
        "Returns the client ID to which the connection's tracking notifications are redirected.",
    ),
    sub(
        "help",
        2,
        LOADING | STALE,
        help,
        "5.0.0",
        "Returns helpful text about the different subcommands.",
    ),
    sub(
        "id",
        2,
        SELF_FLAGS,
        id,
        "5.0.0",
        "Returns the unique client ID of the connection.",
    ),
    sub(
        "info",
        2,
        SELF_FLAGS,
        info,
        "6.2.0",
        "Returns information about the connection.",
    ),
    sub(
        "kill",
        -3,
        ADMIN_FLAGS,
        kill,
        "2.4.0",
        "Terminates open connections.",
    ),
    sub(
        "list",
        -2,
        ADMIN_FLAGS,
        list,
        "2.4.0",
        "Lists open connections.",
    ),
    sub(
        "no-evict",
        3,
        ADMIN_FLAGS,
        no_evict,
        "7.0.0",
        "Sets the client eviction mode of the connection.",
    ),
    sub(
        "no-touch",
        3,
        SELF_FLAGS,
        no_touch,
        "7.2.0",
        "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
    ),
    sub(
        "pause",
        -3,
        ADMIN_FLAGS,
        pause,
        "3.0.0",
        "Suspends commands processing.",
    ),
    sub(
        "reply",
        3,
        SELF_FLAGS,
        reply,
        "3.2.0",
        "Instructs the server whether to reply to commands.",
    ),
    sub(
        "setinfo",
        4,
        SELF_FLAGS,
        setinfo,
        "7.2.0",
        "Sets information specific to the client or connection.",
    ),
    sub(
        "setname",
        3,
        SELF_FLAGS,
        setname,
        "2.6.9",
        "Sets the connection name.",
    ),
    sub(
        "tracking",
        -3,
        SELF_FLAGS,
        tracking,
        "6.0.0",
        "Controls server-assisted client-side caching for the connection.",
    ),
    sub(
        "trackinginfo",
        2,
        SELF_FLAGS,
        trackinginfo,
        "6.2.0",
        "Returns information about server-assisted client-side caching for the connection.",
    ),
    sub(
        "unblock",
        -3,
        ADMIN_FLAGS,
        unblock,
        "5.0.0",
        "Unblocks a client blocked by a blocking command from a different connection.",
    ),
    sub(
        "unpause",
        2,
        ADMIN_FLAGS,
        unpause,
        "6.2.0",
        "Resumes processing commands from paused clients.",
    ),
];

const fn sub(
    name: &'static str,
    arity: i16,
    flags: u32,
    handler: super::spec::Handler,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec::new(name, arity, flags, Keys::None, handler).doc("connection", since, summary)
}

const NAME_ERROR: &str = "ERR Client names cannot contain spaces, newlines or special characters.";

/// Names and library fields are printable ASCII without spaces, so CLIENT
/// LIST stays parseable.
fn printable_word(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

/// Sets (or, when empty, clears) the connection name; shared with HELLO SETNAME.
pub fn set_name(handle: &ClientHandle, name: &[u8]) -> CmdResult {
    if !printable_word(name) {
        return Err(CmdError::Msg(NAME_ERROR));
    }
    *handle.name.lock() = (!name.is_empty()).then(|| name.to_vec());
    Ok(())
}

fn id(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    ctx.out.int(ctx.client.id as i64);
    Ok(())
}

fn setname(ctx: &mut Ctx, args: &Args) -> CmdResult {
    set_name(&ctx.client.handle, args.get(2))?;
    ctx.out.ok();
    Ok(())
}

fn getname(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    match ctx.client.handle.name.lock().as_deref() {
        Some(name) => ctx.out.bulk(name),
        None => ctx.out.null(),
    }
    Ok(())
}

/// CLIENT SETINFO LIB-NAME|LIB-VER value (Redis 7.2; client libraries send it
/// on connect).
fn setinfo(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (field, what) = if args.is(2, "lib-name") {
        (&ctx.client.handle.lib_name, "lib-name")
    } else if args.is(2, "lib-ver") {
        (&ctx.client.handle.lib_ver, "lib-ver")
    } else {
        return Err(CmdError::msg(format!(
            "ERR Unrecognized option '{}'",
            args.str(2)
        )));
    };
    let value = args.get(3);
    if !printable_word(value) {
        return Err(CmdError::msg(format!(
            "ERR {what} cannot contain spaces, newlines or special characters."
        )));
    }
    *field.lock() = (!value.is_empty()).then(|| value.to_vec());
    ctx.out.ok();
    Ok(())
}

fn info(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut text = String::new();
    describe(ctx, &ctx.client.handle, args, &mut text);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// Which clients CLIENT LIST shows.
enum ListFilter {
    All,
    Kind(ClientKind),
    Ids(Vec<i64>),
}

fn list(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let filter = if args.len() == 2 {
        ListFilter::All
    } else if args.len() == 4 && args.is(2, "type") {
        ListFilter::Kind(parse_kind(args.get(3))?)
    } else if args.len() >= 4 && args.is(2, "id") {
        let ids = (3..args.len())
            .map(|i| {
                args.int(i)
                    .map_err(|_| CmdError::Msg("ERR Invalid client ID"))
            })
            .collect::<Result<_, _>>()?;
        ListFilter::Ids(ids)
    } else {
        return Err(CmdError::Syntax);
    };
    let mut text = String::new();
    for handle in ctx.server.clients.all() {
        let shown = match &filter {
            ListFilter::All => true,
            ListFilter::Kind(kind) => handle.kind() == *kind,
            ListFilter::Ids(ids) => ids.contains(&(handle.id as i64)),
        };
        if shown {
            describe(ctx, &handle, args, &mut text);
        }
    }
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

fn parse_kind(name: &[u8]) -> Result<ClientKind, CmdError> {
    ClientKind::parse(name).ok_or_else(|| {
        CmdError::msg(format!(
            "ERR Unknown client type '{}'",
            String::from_utf8_lossy(name)
        ))
    })
}

/// Memory a connection costs besides its buffers (structures, task), an
/// estimate for `tot-mem`.
const CLIENT_OVERHEAD: usize = 2048;

/// One CLIENT LIST line, in Redis 7.0's field order, plus 7.2's library fields.
fn describe(ctx: &Ctx, handle: &ClientHandle, args: &Args, out: &mut String) {
    describe_client(ctx.server, ctx.client.id, handle, args, out)
}

/// [`describe`] for callers without a `Ctx` (the ACL log, at the gate).
pub(crate) fn describe_client(
    server: &crate::server::Server,
    caller: u64,
    handle: &ClientHandle,
    args: &Args,
    out: &mut String,
) {
    let is_self = handle.id == caller;
    // Only the caller is running a command now: its arguments are this one's.
    let argv_mem: usize = if is_self {
        args.iter().map(<[u8]>::len).sum()
    } else {
        0
    };
    let qbuf = handle.query_buffer.load(Relaxed);
    let qbuf_free = handle.query_buffer_free.load(Relaxed);
    let rbs = qbuf + qbuf_free;
    let omem = server.clients.monitor_backlog(handle.id) + handle.output_buffer.load(Relaxed);
    let cmd = match handle.last_command.load(Relaxed) {
        usize::MAX => "NULL",
        id => server.commands.full_name(id),
    };
    let text = |field: &parking_lot::Mutex<Option<Vec<u8>>>| {
        field
            .lock()
            .as_deref()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default()
    };
    let _ = writeln!(
        out,
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} \
         multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem=0 rbs={} rbp={} obl=0 oll=0 omem={} \
         tot-mem={} events=r cmd={} user={} redir=-1 resp={} lib-name={} lib-ver={}",
        handle.id,
        handle.addr,
        handle.local_addr,
        handle.fd.load(Relaxed),
        text(&handle.name),
        handle.created.elapsed().as_secs(),
        handle.idle_secs(),
        handle.flag_letters(),
        handle.db.load(Relaxed),
        handle.sub.load(Relaxed),
        handle.psub.load(Relaxed),
        handle.ssub.load(Relaxed),
        handle.multi.load(Relaxed),
        qbuf,
        qbuf_free,
        argv_mem,
        rbs,
        handle.read_buffer_peak.load(Relaxed),
        omem,
        rbs + argv_mem + omem + CLIENT_OVERHEAD,
        cmd,
        handle.user.lock(),
        handle.resp.load(Relaxed),
        text(&handle.lib_name),
        text(&handle.lib_ver),
    );
}

/// The new-style CLIENT KILL filters; every given one must match.
#[derive(Default)]
struct KillFilter {
    id: Option<u64>,
    kind: Option<ClientKind>,
    user: Option<Vec<u8>>,
    addr: Option<Vec<u8>>,
    laddr: Option<Vec<u8>>,
    skip_me: bool,
}

impl KillFilter {
    fn parse(args: &Args, acl: &crate::acl::Acl) -> Result<Self, CmdError> {
        if args.len() % 2 != 0 {
            return Err(CmdError::Syntax);
        }
        let mut filter = KillFilter {
            skip_me: true,
            ..Default::default()
        };
        for i in (2..args.len()).step_by(2) {
            let value = args.get(i + 1);
            if args.is(i, "id") {
                match args.int(i + 1) {
                    Ok(id) if id > 0 => filter.id = Some(id as u64),
                    _ => return Err(CmdError::Msg("ERR client-id should be greater than 0")),
                }
            } else if args.is(i, "type") {
                filter.kind = Some(parse_kind(value)?);
            } else if args.is(i, "user") {
                if acl.get(&String::from_utf8_lossy(value)).is_none() {
                    return Err(CmdError::msg(format!(
                        "ERR No such user '{}'",
                        String::from_utf8_lossy(value)
                    )));
                }
                filter.user = Some(value.to_vec());
            } else if args.is(i, "addr") {
                filter.addr = Some(value.to_vec());
            } else if args.is(i, "laddr") {
                filter.laddr = Some(value.to_vec());
            } else if args.is(i, "skipme") {
                filter.skip_me = match value.to_ascii_lowercase().as_slice() {
                    b"yes" => true,
                    b"no" => false,
                    _ => return Err(CmdError::Syntax),
                };
            } else {
                return Err(CmdError::Syntax);
            }
        }
        Ok(filter)
    }

    fn matches(&self, handle: &ClientHandle, caller: u64) -> bool {
        let same = |want: &Option<Vec<u8>>, have: String| {
            want.as_ref()
                .is_none_or(|w| w.as_slice() == have.as_bytes())
        };
        !(self.skip_me && handle.id == caller)
            && self.id.is_none_or(|id| id == handle.id)
            && self.kind.is_none_or(|k| k == handle.kind())
            && same(&self.user, handle.user.lock().clone())
            && same(&self.addr, handle.addr.to_string())
            && same(&self.laddr, handle.local_addr.to_string())
    }
}

/// CLIENT KILL ip:port (replies +OK) or CLIENT KILL <filter> <value> ...
/// (replies the number killed). Killing oneself closes after the reply.
fn kill(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let caller = ctx.client.id;
    if args.len() == 3 {
        let addr = args.get(2);
        let target = ctx
            .server
            .clients
            .all()
            .into_iter()
            .find(|h| h.addr.to_string().as_bytes() == addr)
            .ok_or(CmdError::Msg("ERR No such client"))?;
        kill_one(ctx, &target);
        ctx.out.ok();
        return Ok(());
    }
    let filter = KillFilter::parse(args, &ctx.server.acl)?;
    let mut killed = 0;
    for handle in ctx.server.clients.all() {
        if filter.matches(&handle, caller) {
            kill_one(ctx, &handle);
            killed += 1;
        }
    }
    ctx.out.int(killed);
    Ok(())
}

fn kill_one(ctx: &mut Ctx, target: &ClientHandle) {
    if target.id == ctx.client.id {
        ctx.client.close_after_reply = true;
    } else {
        target.kill();
    }
}

fn reply(ctx: &mut Ctx, args: &Args) -> CmdResult {
    // OFF and SKIP are not answered; the connection drops replies by mode.
    if args.is(2, "on") {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.out.ok();
    } else if args.is(2, "off") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if args.is(2, "skip") {
        if ctx.client.reply_mode != ReplyMode::Off {
            ctx.client.reply_mode = ReplyMode::SkipNext;
        }
    } else {
        return Err(CmdError::Syntax);
    }
    Ok(())
}

fn on_off(args: &Args, i: usize) -> Result<bool, CmdError> {
    if args.is(i, "on") {
        Ok(true)
    } else if args.is(i, "off") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

fn no_evict(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let on = on_off(args, 2)?;
    ctx.client.handle.set_flag(cflag::NO_EVICT, on);
    ctx.out.ok();
    Ok(())
}

fn no_touch(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let on = on_off(args, 2)?;
    ctx.client.handle.set_flag(cflag::NO_TOUCH, on);
    ctx.out.ok();
    Ok(())
}

fn wrong_subcommand_args(args: &Args) -> CmdError {
    CmdError::msg(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
        args.str(1)
    ))
}

/// CLIENT PAUSE milliseconds [WRITE|ALL]; connections hold the commands
/// concerned until it ends (see `server::conn`).
fn pause(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() > 4 {
        return Err(wrong_subcommand_args(args));
    }
    let millis = args
        .int(2)
        .map_err(|_| CmdError::Msg("ERR timeout is not an integer or out of range"))?;
    if millis < 0 {
        return Err(CmdError::Msg("ERR timeout is negative"));
    }
    let all = match args.get_opt(3) {
        None => true,
        Some(m) if m.eq_ignore_ascii_case(b"all") => true,
        Some(m) if m.eq_ignore_ascii_case(b"write") => false,
        Some(_) => return Err(CmdError::Msg("ERR CLIENT PAUSE mode must be WRITE or ALL")),
    };
    ctx.server
        .clients
        .pause(Duration::from_millis(millis as u64), all);
    ctx.out.ok();
    Ok(())
}

fn unpause(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    ctx.server.clients.unpause();
    ctx.out.ok();
    Ok(())
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: wakes a blocked client with its timeout
/// reply or the UNBLOCKED error; replies 1 when it was blocked.
fn unblock(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() > 4 {
        return Err(wrong_subcommand_args(args));
    }
    let id = args.int(2)?;
    if let Some(reason) = args.get_opt(3)
        && !reason.eq_ignore_ascii_case(b"timeout")
        && !reason.eq_ignore_ascii_case(b"error")
    {
        return Err(CmdError::Msg(
            "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
        ));
    }
    let error = args
        .get_opt(3)
        .is_some_and(|r| r.eq_ignore_ascii_case(b"error"));
    let unblocked =
        u64::try_from(id).is_ok_and(|id| ctx.server.keyspace.blocking.unblock(id, error));
    ctx.out.int(unblocked as i64);
    Ok(())
}

fn getredir(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    // Tracking is never on, so there is no redirection.
    ctx.out.int(-1);
    Ok(())
}

/// Client-side caching is not supported: OFF is accepted (it is the state we
/// are always in), ON is refused after its options are checked.
fn tracking(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let on = on_off(args, 2)?;
    let mut i = 3;
    while i < args.len() {
        if args.is(i, "redirect") || args.is(i, "prefix") {
            if i + 1 >= args.len() {
                return Err(CmdError::Syntax);
            }
            i += 2;
        } else if args.is(i, "bcast")
            || args.is(i, "optin")
            || args.is(i, "optout")
            || args.is(i, "noloop")
        {
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if on {
        return Err(CmdError::Msg(
            "ERR client-side caching (CLIENT TRACKING ON) is not supported by this server",
        ));
    }
    ctx.out.ok();
    Ok(())
}

fn trackinginfo(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    ctx.out.map(3);
    ctx.out.bulk(b"flags");
    ctx.out.set(1);
    ctx.out.bulk(b"off");
    ctx.out.bulk(b"redirect");
    ctx.out.int(-1);
    ctx.out.bulk(b"prefixes");
    ctx.out.array(0);
    Ok(())
}

fn caching(_ctx: &mut Ctx, _args: &Args) -> CmdResult {
    Err(CmdError::Msg(
        "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
    ))
}

const HELP: &[&str] = &[
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
];

fn help(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    crate::cmd::reply_help(ctx.out, "CLIENT", HELP);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testkit::TestClient;

    #[test]
    fn id_setname_getname() {
        let mut t = TestClient::new();
        assert_eq!(t.run(&["CLIENT", "ID"]), format!(":{}\r\n", t.client.id));
        assert_eq!(t.run(&["CLIENT", "GETNAME"]), "$-1\r\n");
        assert_eq!(t.run(&["CLIENT", "SETNAME", "worker-1"]), "+OK\r\n");
        assert_eq!(t.run(&["CLIENT", "GETNAME"]), "$8\r\nworker-1\r\n");
        for bad in ["a b", "a\nb", "\u{1}"] {
            assert_eq!(
                t.run(&["CLIENT", "SETNAME", bad]),
                "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
            );
        }
        assert_eq!(t.run(&["CLIENT", "SETNAME", ""]), "+OK\r\n");
        assert_eq!(t.run(&["CLIENT", "GETNAME"]), "$-1\r\n");
        assert_eq!(
            t.run(&["CLIENT", "FOO"]),
            "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n"
        );
    }

    #[test]
    fn list_line_has_every_field_in_order() {
        let mut t = TestClient::new();
        t.run(&["CLIENT", "SETNAME", "me"]);
        t.run(&["CLIENT", "SETINFO", "LIB-NAME", "redis-py"]);
        t.run(&["CLIENT", "SETINFO", "lib-ver", "5.0"]);
        t.run(&["SELECT", "4"]);
        let reply = t.run(&["CLIENT", "LIST"]);
        let line = reply.split("\r\n").nth(1).unwrap().trim_end_matches('\n');
        let keys: Vec<&str> = line
            .split(' ')
            .map(|kv| kv.split_once('=').unwrap().0)
            .collect();
        assert_eq!(
            keys.join(" "),
            "id addr laddr fd name age idle flags db sub psub ssub multi qbuf qbuf-free \
             argv-mem multi-mem rbs rbp obl oll omem tot-mem events cmd user redir resp \
             lib-name lib-ver"
        );
        for field in [
            "name=me",
            "db=4",
            "flags=N",
            "cmd=client|list",
            "argv-mem=10",
            "user=default",
            "resp=2",
            "lib-name=redis-py",
            "lib-ver=5.0",
            "multi=-1",
        ] {
            assert!(line.split(' ').any(|kv| kv == field), "{field} in {line}");
        }
        assert!(reply.ends_with("\n\r\n"));
        let info = t.run(&["CLIENT", "INFO"]);
        assert!(info.contains("cmd=client|info "));
    }

    #[test]
    fn list_filters_and_errors() {
        let mut a = TestClient::new();
        let b = TestClient::on(a.server.clone());
        let only_b = a.run(&["CLIENT", "LIST", "ID", &b.client.id.to_string(), "999"]);
        assert_eq!(only_b.matches("id=").count(), 1);
        assert!(only_b.contains(&format!("id={} ", b.client.id)));
        assert_eq!(
            a.run(&["CLIENT", "LIST", "TYPE", "normal"])
                .matches("id=")
                .count(),
            2
        );
        assert_eq!(a.run(&["CLIENT", "LIST", "TYPE", "pubsub"]), "$0\r\n\r\n");
        assert_eq!(
            a.run(&["CLIENT", "LIST", "TYPE", "foo"]),
            "-ERR Unknown client type 'foo'\r\n"
        );
        assert_eq!(
            a.run(&["CLIENT", "LIST", "ID", "x"]),
            "-ERR Invalid client ID\r\n"
        );
        assert_eq!(a.run(&["CLIENT", "LIST", "ID"]), "-ERR syntax error\r\n");
        assert_eq!(a.run(&["CLIENT", "LIST", "foo"]), "-ERR syntax error\r\n");
    }

    #[test]
    fn kill_forms_and_filters() {
        let mut a = TestClient::new();
        let b = TestClient::on(a.server.clone());
        let c = TestClient::on(a.server.clone());
        assert_eq!(
            a.run(&["CLIENT", "KILL", "1.2.3.4:5"]),
            "-ERR No such client\r\n"
        );
        assert_eq!(
            a.run(&["CLIENT", "KILL", "ID", "0"]),
            "-ERR client-id should be greater than 0\r\n"
        );
        assert_eq!(
            a.run(&["CLIENT", "KILL", "TYPE", "x"]),
            "-ERR Unknown client type 'x'\r\n"
        );
        assert_eq!(
            a.run(&["CLIENT", "KILL", "USER", "bob"]),
            "-ERR No such user 'bob'\r\n"
        );
        assert_eq!(
            a.run(&["CLIENT", "KILL", "SKIPME", "maybe"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            a.run(&["CLIENT", "KILL", "ID", "1", "TYPE"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            a.run(&["CLIENT", "KILL", "ID", &b.client.id.to_string()]),
            ":1\r\n"
        );
        assert!(b.client.handle.is_killed());
        assert!(!c.client.handle.is_killed());
        // Every in-process client shares one address; SKIPME spares the caller.
        assert_eq!(a.run(&["CLIENT", "KILL", "ADDR", "127.0.0.1:1"]), ":2\r\n");
        assert!(c.client.handle.is_killed());
        assert!(!a.client.close_after_reply);
        assert_eq!(a.run(&["CLIENT", "KILL", "127.0.0.1:1"]), "+OK\r\n");
        assert!(a.client.close_after_reply || a.server.clients.all().len() > 1);
    }

    #[test]
    fn kill_self_with_skipme_no_closes_after_reply() {
        let mut a = TestClient::new();
        let id = a.client.id.to_string();
        assert_eq!(
            a.run(&["CLIENT", "KILL", "ID", &id, "SKIPME", "no"]),
            ":1\r\n"
        );
        assert!(a.client.close_after_reply);
    }

    #[test]
    fn modes_and_flags() {
        let mut t = TestClient::new();
        assert_eq!(t.run(&["CLIENT", "NO-EVICT", "on"]), "+OK\r\n");
        assert_eq!(t.run(&["CLIENT", "NO-TOUCH", "ON"]), "+OK\r\n");
        assert!(t.run(&["CLIENT", "INFO"]).contains(" flags=eT "));
        assert_eq!(
            t.run(&["CLIENT", "NO-EVICT", "maybe"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            t.run(&["CLIENT", "REPLY", "maybe"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(t.run(&["CLIENT", "REPLY", "ON"]), "+OK\r\n");
        assert_eq!(t.run(&["CLIENT", "GETREDIR"]), ":-1\r\n");
        assert_eq!(t.run(&["CLIENT", "TRACKING", "off"]), "+OK\r\n");
        assert_eq!(
            t.run(&["CLIENT", "TRACKING", "on", "foo"]),
            "-ERR syntax error\r\n"
        );
        assert!(t.run(&["CLIENT", "TRACKING", "on"]).starts_with("-ERR"));
        assert_eq!(
            t.run(&["CLIENT", "TRACKINGINFO"]),
            "*6\r\n$5\r\nflags\r\n*1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n$8\r\nprefixes\r\n*0\r\n"
        );
        assert_eq!(t.run(&["CLIENT", "UNBLOCK", "99"]), ":0\r\n");
        assert_eq!(
            t.run(&["CLIENT", "UNBLOCK", "1", "foo"]),
            "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n"
        );
        assert!(
            t.run(&["CLIENT", "HELP"])
                .starts_with("*48\r\n+CLIENT <subcommand>")
        );
        assert_eq!(
            t.run(&["CLIENT", "SETINFO", "foo", "x"]),
            "-ERR Unrecognized option 'foo'\r\n"
        );
    }

    #[test]
    fn pause_arguments() {
        let mut t = TestClient::new();
        assert_eq!(
            t.run(&["CLIENT", "PAUSE", "x"]),
            "-ERR timeout is not an integer or out of range\r\n"
        );
        assert_eq!(
            t.run(&["CLIENT", "PAUSE", "-1"]),
            "-ERR timeout is negative\r\n"
        );
        assert_eq!(
            t.run(&["CLIENT", "PAUSE", "0", "foo"]),
            "-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n"
        );
        assert_eq!(
            t.run(&["CLIENT", "PAUSE", "1", "write", "x"]),
            "-ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP.\r\n"
        );
        assert_eq!(t.run(&["CLIENT", "PAUSE", "10000", "WRITE"]), "+OK\r\n");
        assert!(
            t.server
                .clients
                .pause_wait(crate::cmd::flag::WRITE)
                .is_some()
        );
        assert_eq!(t.run(&["CLIENT", "UNPAUSE"]), "+OK\r\n");
        assert!(
            t.server
                .clients
                .pause_wait(crate::cmd::flag::WRITE)
                .is_none()
        );
    }
}
