//! Connection commands: PING, ECHO, SELECT, QUIT, AUTH, HELLO, RESET, MONITOR,
//! and CLIENT (in [`super::client`]).

use std::sync::atomic::Ordering::Relaxed;

use super::client::{CLIENT, set_name};
use super::spec::{CommandSpec, Keys, flag::*};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::server::client::{ReplyMode, cflag};

/// Flags of the commands a client may send before authenticating.
const PRE_AUTH: u32 = NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("ping", -1, FAST, Keys::None, ping).doc(
        "connection",
        "1.0.0",
        "Returns the server's liveliness response.",
    ),
    CommandSpec::new("echo", 2, LOADING | STALE | FAST, Keys::None, echo).doc(
        "connection",
        "1.0.0",
        "Returns the given string.",
    ),
    CommandSpec::new("select", 2, LOADING | STALE | FAST, Keys::None, select).doc(
        "connection",
        "1.0.0",
        "Changes the selected database.",
    ),
    CommandSpec::new("quit", -1, PRE_AUTH | TXN_CONTROL, Keys::None, quit).doc(
        "connection",
        "1.0.0",
        "Closes the connection.",
    ),
    CommandSpec::new("auth", -2, PRE_AUTH, Keys::None, auth).doc(
        "connection",
        "1.0.0",
        "Authenticates the connection.",
    ),
    CommandSpec::new("hello", -1, PRE_AUTH, Keys::None, hello).doc(
        "connection",
        "6.0.0",
        "Handshakes with the server: protocol version, credentials, connection name.",
    ),
    CommandSpec::new("reset", 1, PRE_AUTH | TXN_CONTROL, Keys::None, reset).doc(
        "connection",
        "6.2.0",
        "Resets the connection to the state of a new one.",
    ),
    CommandSpec::new(
        "monitor",
        1,
        ADMIN | NOSCRIPT | LOADING | STALE,
        Keys::None,
        monitor,
    )
    .doc(
        "server",
        "1.0.0",
        "Streams every command the server runs, as it runs.",
    ),
    CLIENT,
];

fn ping(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() > 2 {
        return Err(CmdError::Msg(
            "ERR wrong number of arguments for 'ping' command",
        ));
    }
    let message = args.get_opt(1);
    if ctx.client.in_resp2_pubsub() {
        // A subscribed RESP2 client gets PING's answer shaped like a message.
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(message.unwrap_or_default());
    } else {
        match message {
            Some(m) => ctx.out.bulk(m),
            None => ctx.out.simple("PONG"),
        }
    }
    Ok(())
}

fn echo(ctx: &mut Ctx, args: &Args) -> CmdResult {
    ctx.out.bulk(args.get(1));
    Ok(())
}

fn select(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let db = args.int(1)?;
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

const WRONGPASS: CmdError =
    CmdError::Msg("WRONGPASS invalid username-password pair or user is disabled.");

/// Checks the pair against the ACL users (constant time in the password);
/// a failure is logged in the ACL LOG, as Redis does.
fn authenticate(ctx: &mut Ctx, args: &Args, user: &[u8], password: &[u8]) -> CmdResult {
    let Some(found) = ctx.server.acl.authenticate(user, password) else {
        let context = crate::acl::context(ctx.client);
        crate::acl::log_entry(
            ctx.server,
            ctx.client,
            crate::acl::Reason::Auth,
            context,
            b"AUTH".to_vec(),
            String::from_utf8_lossy(user).into_owned(),
            args,
        );
        return Err(WRONGPASS);
    };
    ctx.client.authenticated = true;
    ctx.client.user = found.name.clone();
    ctx.client.acl_user = None;
    *ctx.client.handle.user.lock() = ctx.client.user.clone();
    Ok(())
}

/// AUTH [username] password.
fn auth(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (user, password) = match args.len() {
        2 => (b"default".as_slice(), args.get(1)),
        3 => (args.get(1), args.get(2)),
        _ => return Err(CmdError::Syntax),
    };
    if args.len() == 2 && ctx.server.acl.default_nopass() {
        return Err(CmdError::Msg(
            "ERR AUTH <password> called without any password configured for the default user. \
             Are you sure your configuration is correct?",
        ));
    }
    authenticate(ctx, args, user, password)?;
    ctx.out.ok();
    Ok(())
}

/// Switches the reply protocol; the reply being written already uses it.
fn set_protocol(ctx: &mut Ctx, version: usize) {
    ctx.out.resp3 = version == 3;
    ctx.client.handle.resp.store(version, Relaxed);
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]].
fn hello(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let version = match args.get_opt(1) {
        None => None,
        Some(_) => {
            let v = args.int(1).map_err(|_| {
                CmdError::Msg("ERR Protocol version is not an integer or out of range")
            })?;
            if !(2..=3).contains(&v) {
                return Err(CmdError::Msg("NOPROTO unsupported protocol version"));
            }
            Some(v as usize)
        }
    };
    let mut credentials = None;
    let mut name = None;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - i - 1;
        if args.is(i, "auth") && more >= 2 {
            credentials = Some((args.get(i + 1), args.get(i + 2)));
            i += 3;
        } else if args.is(i, "setname") && more >= 1 {
            name = Some(args.get(i + 1));
            i += 2;
        } else {
            return Err(CmdError::msg(format!(
                "ERR Syntax error in HELLO option '{}'",
                args.str(i)
            )));
        }
    }
    if let Some((user, password)) = credentials {
        authenticate(ctx, args, user, password)?;
    }
    if !ctx.client.authenticated {
        return Err(CmdError::Msg(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO AUTH <user> <pass> option can be used to authenticate the client and select \
             the RESP protocol version at the same time",
        ));
    }
    if let Some(name) = name {
        set_name(&ctx.client.handle, name)?;
    }
    if let Some(version) = version {
        set_protocol(ctx, version);
    }
    let proto = ctx.client.handle.resp.load(Relaxed);
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(proto as i64);
    out.bulk(b"id");
    out.int(ctx.client.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}

/// RESET: back to a fresh connection's state. Transactions, subscriptions and
/// tracking are owned by their modules, which clear them on RESET too.
fn reset(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    leave_monitor(ctx);
    super::multi::reset_client(ctx.server, ctx.client);
    let client = &mut *ctx.client;
    ctx.server
        .pubsub
        .unsubscribe_all(&mut client.pubsub, &client.handle);
    ctx.client.select(0);
    set_protocol(ctx, 2);
    ctx.client.reply_mode = ReplyMode::On;
    let handle = &ctx.client.handle;
    *handle.name.lock() = None;
    handle.set_flag(cflag::NO_EVICT | cflag::NO_TOUCH, false);
    ctx.client.authenticated = !ctx.server.acl.default_needs_auth();
    ctx.client.user = "default".into();
    ctx.client.acl_user = None;
    *handle.user.lock() = "default".into();
    ctx.out.simple("RESET");
    Ok(())
}

fn leave_monitor(ctx: &mut Ctx) {
    if ctx.client.monitor.take().is_some() {
        ctx.server.clients.remove_monitor(ctx.client.id);
    }
}

/// MONITOR: from now on the connection also streams every command run.
/// Asking again while monitoring is silently ignored, as in Redis.
fn monitor(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    if ctx.client.monitor.is_some() {
        return Ok(());
    }
    let feed = ctx.server.clients.add_monitor(ctx.client.handle.clone());
    ctx.client.monitor = Some(feed);
    ctx.out.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::testkit::TestClient;

    fn with_password() -> TestClient {
        TestClient::with_config(Config {
            requirepass: Some(b"secret".to_vec()),
            ..Config::default()
        })
    }

    #[test]
    fn ping_echo_select() {
        let mut t = TestClient::new();
        assert_eq!(t.run(&["PING"]), "+PONG\r\n");
        assert_eq!(t.run(&["PING", "hi"]), "$2\r\nhi\r\n");
        assert_eq!(
            t.run(&["PING", "a", "b"]),
            "-ERR wrong number of arguments for 'ping' command\r\n"
        );
        assert_eq!(t.run(&["ECHO", ""]), "$0\r\n\r\n");
        assert_eq!(t.run(&["SELECT", "15"]), "+OK\r\n");
        assert_eq!(t.client.db, 15);
        assert_eq!(
            t.run(&["SELECT", "16"]),
            "-ERR DB index is out of range\r\n"
        );
        assert_eq!(
            t.run(&["SELECT", "-1"]),
            "-ERR DB index is out of range\r\n"
        );
        assert_eq!(
            t.run(&["SELECT", "1.5"]),
            "-ERR value is not an integer or out of range\r\n"
        );
    }

    #[test]
    fn ping_in_resp2_pubsub_is_an_array() {
        let mut t = TestClient::new();
        t.run(&["SUBSCRIBE", "c"]);
        assert_eq!(t.run(&["PING"]), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
        assert!(
            t.run(&["HELLO", "3"])
                .starts_with("-ERR Can't execute 'hello'")
        );
        let mut resp3 = TestClient::on(t.server.clone());
        assert!(resp3.run(&["HELLO", "3"]).starts_with("%7\r\n"));
        resp3.run(&["SUBSCRIBE", "c"]);
        assert_eq!(resp3.run(&["PING"]), "+PONG\r\n");
    }

    #[test]
    fn hello_switches_protocol_in_its_own_reply() {
        let mut t = TestClient::new();
        let id = t.client.id;
        assert_eq!(
            t.run(&["HELLO", "3"]),
            format!(
                "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n\
                 $5\r\nproto\r\n:3\r\n$2\r\nid\r\n:{id}\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n\
                 $4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
            )
        );
        assert!(t.out.resp3);
        assert!(t.run(&["HELLO"]).contains("proto\r\n:3\r\n"), "keeps RESP3");
        assert!(t.run(&["HELLO", "2"]).starts_with("*14\r\n"));
        assert!(!t.out.resp3);
    }

    #[test]
    fn hello_errors() {
        let mut t = TestClient::new();
        assert_eq!(
            t.run(&["HELLO", "4"]),
            "-NOPROTO unsupported protocol version\r\n"
        );
        assert_eq!(
            t.run(&["HELLO", "1"]),
            "-NOPROTO unsupported protocol version\r\n"
        );
        assert_eq!(
            t.run(&["HELLO", "x"]),
            "-ERR Protocol version is not an integer or out of range\r\n"
        );
        assert_eq!(
            t.run(&["HELLO", "3", "auth"]),
            "-ERR Syntax error in HELLO option 'auth'\r\n"
        );
        assert_eq!(
            t.run(&["HELLO", "3", "SETNAME", "a b"]),
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
        );
        assert!(!t.out.resp3, "a failed HELLO keeps the protocol");
        assert!(
            t.run(&["HELLO", "2", "SETNAME", "x", "SETNAME", "y"])
                .starts_with("*14")
        );
        assert_eq!(t.run(&["CLIENT", "GETNAME"]), "$1\r\ny\r\n");
    }

    #[test]
    fn auth_without_password_configured() {
        let mut t = TestClient::new();
        assert_eq!(
            t.run(&["AUTH", "x"]),
            "-ERR AUTH <password> called without any password configured for the default user. \
             Are you sure your configuration is correct?\r\n"
        );
        assert_eq!(t.run(&["AUTH", "default", "anything"]), "+OK\r\n");
        assert_eq!(
            t.run(&["AUTH", "bob", "x"]),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
        );
        assert_eq!(t.run(&["AUTH", "a", "b", "c"]), "-ERR syntax error\r\n");
    }

    #[test]
    fn auth_flow_with_requirepass() {
        let mut t = with_password();
        assert_eq!(t.run(&["PING"]), "-NOAUTH Authentication required.\r\n");
        assert!(
            t.run(&["HELLO", "3"])
                .starts_with("-NOAUTH HELLO must be called")
        );
        assert_eq!(
            t.run(&["AUTH", "wrong"]),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
        );
        assert_eq!(t.run(&["AUTH", "secre"]).as_bytes()[0], b'-');
        assert_eq!(t.run(&["AUTH", "secret"]), "+OK\r\n");
        assert_eq!(t.run(&["PING"]), "+PONG\r\n");
        assert_eq!(t.run(&["RESET"]), "+RESET\r\n");
        assert_eq!(t.run(&["PING"]), "-NOAUTH Authentication required.\r\n");
        assert_eq!(t.run(&["AUTH", "default", "secret"]), "+OK\r\n");
    }

    #[test]
    fn hello_auth_authenticates_even_if_setname_fails() {
        let mut t = with_password();
        assert_eq!(
            t.run(&["HELLO", "3", "AUTH", "default", "bad"]),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
        );
        assert_eq!(
            t.run(&["HELLO", "3", "AUTH", "default", "secret", "SETNAME", "a b"]),
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
        );
        assert_eq!(t.run(&["PING"]), "+PONG\r\n");
        assert!(
            t.run(&["HELLO", "3", "AUTH", "default", "secret"])
                .starts_with("%7")
        );
    }

    #[test]
    fn reset_restores_a_fresh_connection() {
        let mut t = TestClient::new();
        t.run(&["HELLO", "3", "SETNAME", "n"]);
        t.run(&["SELECT", "3"]);
        t.run(&["CLIENT", "NO-EVICT", "on"]);
        t.run(&["MONITOR"]);
        assert!(t.server.clients.has_monitors());
        assert_eq!(t.run(&["RESET"]), "+RESET\r\n");
        assert!(!t.out.resp3);
        assert_eq!(t.client.db, 0);
        assert!(!t.server.clients.has_monitors());
        assert!(t.client.monitor.is_none());
        assert_eq!(t.run(&["CLIENT", "GETNAME"]), "$-1\r\n");
        assert!(t.run(&["CLIENT", "INFO"]).contains(" flags=N "));
    }

    #[test]
    fn monitor_receives_other_clients_commands() {
        let mut watcher = TestClient::new();
        let mut other = TestClient::on(watcher.server.clone());
        assert_eq!(watcher.run(&["MONITOR"]), "+OK\r\n");
        assert_eq!(watcher.run(&["MONITOR"]), "", "a second MONITOR is ignored");
        other.run(&["SELECT", "2"]);
        other.run(&["SET", "k", "v w"]);
        other.run(&["CLIENT", "LIST"]);
        other.run(&["AUTH", "default", "pw"]);
        let feed = watcher.client.monitor.as_mut().unwrap();
        let mut lines = Vec::new();
        while let Ok(line) = feed.try_recv() {
            lines.push(String::from_utf8(line.to_vec()).unwrap());
        }
        assert_eq!(lines.len(), 3, "admin commands are not shown: {lines:?}");
        assert!(lines[0].ends_with(" [2 127.0.0.1:1] \"SELECT\" \"2\"\r\n"));
        assert!(lines[1].ends_with(" [2 127.0.0.1:1] \"SET\" \"k\" \"v w\"\r\n"));
        assert!(lines[2].ends_with("\"AUTH\" \"(redacted)\" \"(redacted)\"\r\n"));
        assert!(lines[0].starts_with('+'));
    }

    #[test]
    fn quit_closes_after_reply() {
        let mut t = TestClient::new();
        assert_eq!(t.run(&["QUIT"]), "+OK\r\n");
        assert!(t.client.close_after_reply);
    }
}

#[cfg(test)]
mod spec_tests {
    use crate::cmd::CommandTable;
    use crate::cmd::spec::flag::*;

    /// Arity and the public flags, as Redis 7.0.15's COMMAND INFO shows them.
    #[test]
    fn specs_match_redis() {
        let table = CommandTable::new(&[]).unwrap();
        let admin = ADMIN | NOSCRIPT | LOADING | STALE;
        let own = NOSCRIPT | LOADING | STALE;
        let pre_auth = NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY;
        let expected: &[(&str, Option<&str>, i16, u32)] = &[
            ("ping", None, -1, FAST),
            ("echo", None, 2, LOADING | STALE | FAST),
            ("select", None, 2, LOADING | STALE | FAST),
            ("quit", None, -1, pre_auth),
            ("reset", None, 1, pre_auth),
            ("hello", None, -1, pre_auth),
            ("auth", None, -2, pre_auth),
            ("monitor", None, 1, admin),
            ("client", Some("kill"), -3, admin),
            ("client", Some("list"), -2, admin),
            ("client", Some("pause"), -3, admin),
            ("client", Some("unpause"), 2, admin),
            ("client", Some("no-evict"), 3, admin),
            ("client", Some("unblock"), -3, admin),
            ("client", Some("id"), 2, own),
            ("client", Some("info"), 2, own),
            ("client", Some("setname"), 3, own),
            ("client", Some("getname"), 2, own),
            ("client", Some("reply"), 3, own),
            ("client", Some("tracking"), -3, own),
            ("client", Some("help"), 2, LOADING | STALE),
        ];
        for &(name, sub, arity, flags) in expected {
            let (_, spec) = table
                .lookup(name.as_bytes(), sub.map(str::as_bytes))
                .unwrap();
            assert_eq!(spec.arity, arity, "{name} {sub:?}");
            let public = spec.flags & !(WHOLE_KEYSPACE | TXN_CONTROL);
            assert_eq!(public, flags, "{name} {sub:?}");
        }
    }
}
