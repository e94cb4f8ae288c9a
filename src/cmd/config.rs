//! CONFIG GET, SET, RESETSTAT, REWRITE and HELP over [`crate::config`].

use std::sync::atomic::Ordering::Relaxed;

use super::spec::{CommandSpec, Keys, flag::*};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::config::DIRECTIVES;
use crate::util::glob::glob_match;

const ADMIN_FLAGS: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

static SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", -3, ADMIN_FLAGS, Keys::None, get)
        .doc(
            "server",
            "2.0.0",
            "Returns the effective values of configuration parameters.",
        )
        .complexity("O(N) when N is the number of configuration parameters provided"),
    CommandSpec::new("set", -4, ADMIN_FLAGS, Keys::None, set)
        .doc(
            "server",
            "2.0.0",
            "Sets configuration parameters in-flight.",
        )
        .complexity("O(N) when N is the number of configuration parameters provided"),
    CommandSpec::new("resetstat", 2, ADMIN_FLAGS, Keys::None, resetstat).doc(
        "server",
        "2.0.0",
        "Resets the server's statistics.",
    ),
    CommandSpec::new("rewrite", 2, ADMIN_FLAGS, Keys::None, rewrite).doc(
        "server",
        "2.8.0",
        "Persists the effective configuration to file.",
    ),
    CommandSpec::new("help", 2, LOADING | STALE, Keys::None, help).doc(
        "server",
        "5.0.0",
        "Returns helpful text about the different subcommands.",
    ),
];

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::container("config", -2, SUBCOMMANDS).doc(
    "server",
    "2.0.0",
    "A container for server configuration commands.",
)];

/// One reply entry per matching name: an exact name is answered under the
/// spelling asked for, a glob under each matching name (aliases included);
/// a name already answered is not repeated.
fn get(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let config = ctx.server.config.read();
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut push = |name: String, value: String| {
        if !pairs.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
            pairs.push((name, value));
        }
    };
    for pattern in args.iter().skip(2) {
        let text = String::from_utf8_lossy(pattern);
        if !pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
            if let Some(directive) = crate::config::directives::find(&text) {
                push(text.into_owned(), config.display(directive));
            }
            continue;
        }
        for directive in DIRECTIVES.iter().filter(|d| !d.hidden) {
            for name in directive.names() {
                if glob_match(pattern, name.as_bytes(), true) {
                    push(name.to_string(), config.display(directive));
                }
            }
        }
    }
    drop(config);
    ctx.out.map(pairs.len());
    for (name, value) in &pairs {
        ctx.out.bulk(name.as_bytes());
        ctx.out.bulk(value.as_bytes());
    }
    Ok(())
}

fn set(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() % 2 != 0 {
        return Err(CmdError::Syntax);
    }
    let texts: Vec<String> = args
        .iter()
        .skip(2)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let pairs: Vec<(&str, &str)> = texts
        .chunks(2)
        .map(|pair| (pair[0].as_str(), pair[1].as_str()))
        .collect();
    let local = ctx.client.handle.addr.ip().is_loopback();
    ctx.server
        .config
        .write()
        .set_pairs(&pairs, local)
        .map_err(CmdError::Owned)?;
    ctx.server.apply_config();
    // A lowered maxmemory is evicted down to before the reply.
    use crate::db::evict::{Outcome, perform_evictions};
    while perform_evictions(ctx.server, Some(ctx.db.locked())) == Outcome::Running {}
    ctx.out.ok();
    Ok(())
}

fn resetstat(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    ctx.server.stats.reset();
    let keyspace = &ctx.server.keyspace.stats;
    for counter in [&keyspace.hits, &keyspace.misses, &keyspace.expired] {
        counter.store(0, Relaxed);
    }
    ctx.out.ok();
    Ok(())
}

fn rewrite(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let mut config = ctx.server.config.read().clone();
    // As Redis: `user` lines become the live users, unless an aclfile has them.
    config.users = if config.value("aclfile").unwrap_or_default().is_empty() {
        let table = &ctx.server.commands;
        let users = ctx.server.acl.all();
        users
            .iter()
            .map(|u| {
                u.describe(table)[5..]
                    .split(' ')
                    .map(String::from)
                    .collect()
            })
            .collect()
    } else {
        Vec::new()
    };
    config.rewrite().map_err(CmdError::Owned)?;
    tracing::info!("CONFIG REWRITE executed with success.");
    ctx.out.ok();
    Ok(())
}

const HELP: &[&str] = &[
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
];

fn help(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    crate::cmd::reply_help(ctx.out, "CONFIG", HELP);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testkit::TestClient;

    #[test]
    fn get_exact_glob_and_aliases() {
        let mut t = TestClient::new();
        assert_eq!(
            t.run(&["CONFIG", "GET", "Hz"]),
            "*2\r\n$2\r\nHz\r\n$2\r\n10\r\n"
        );
        assert_eq!(
            t.run(&["CONFIG", "GET", "hz", "maxclients", "hz"]),
            "*4\r\n$2\r\nhz\r\n$2\r\n10\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n"
        );
        assert_eq!(t.run(&["CONFIG", "GET", "nomatch"]), "*0\r\n");
        // Hidden testing knobs answer to their exact name only.
        assert_eq!(
            t.run(&["CONFIG", "GET", "key-load-delay"]),
            "*2\r\n$14\r\nkey-load-delay\r\n$1\r\n0\r\n"
        );
        assert_eq!(t.run(&["CONFIG", "GET", "key-load-*"]), "*0\r\n");
        assert_eq!(
            t.run(&["CONFIG", "GET", "h[z]"]),
            "*2\r\n$2\r\nhz\r\n$2\r\n10\r\n"
        );
        let slaves = t.run(&["CONFIG", "GET", "SLAVE*"]);
        assert!(slaves.starts_with("*16\r\n"), "{slaves}");
        assert!(slaves.contains("slaveof"));
        let all = t.run(&["CONFIG", "GET", "*"]);
        assert!(all.starts_with("*384\r\n"), "{}", &all[..10]);
        assert_eq!(
            t.run(&["CONFIG", "GET"]),
            "-ERR wrong number of arguments for 'config|get' command\r\n"
        );
    }

    #[test]
    fn get_is_a_map_in_resp3() {
        let mut t = TestClient::new();
        t.out = crate::protocol::Reply::new(true);
        assert_eq!(
            t.run(&["CONFIG", "GET", "hz"]),
            "%1\r\n$2\r\nhz\r\n$2\r\n10\r\n"
        );
    }

    #[test]
    fn set_applies_atomically() {
        let mut t = TestClient::new();
        assert_eq!(
            t.run(&["CONFIG", "SET", "hz", "20", "maxmemory", "1gb"]),
            "+OK\r\n"
        );
        assert_eq!(t.server.config.read().hz, 20);
        assert_eq!(t.server.config.read().maxmemory, 1 << 30);
        assert_eq!(
            t.run(&["CONFIG", "SET", "hz", "30", "maxclients", "0"]),
            "-ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive\r\n"
        );
        assert_eq!(t.server.config.read().hz, 20, "nothing changed");
        assert_eq!(t.run(&["CONFIG", "SET", "hz", "0"]), "+OK\r\n");
        assert_eq!(
            t.run(&["CONFIG", "GET", "hz"]),
            "*2\r\n$2\r\nhz\r\n$1\r\n1\r\n"
        );
    }

    #[test]
    fn set_errors() {
        let mut t = TestClient::new();
        let cases: &[(&[&str], &str)] = &[
            (
                &["CONFIG", "SET", "foo", "bar"],
                "-ERR Unknown option or number of arguments for CONFIG SET - 'foo'",
            ),
            (
                &["CONFIG", "SET", "hz", "1", "maxclients"],
                "-ERR syntax error",
            ),
            (
                &["CONFIG", "SET", "hz"],
                "-ERR wrong number of arguments for 'config|set' command",
            ),
            (
                &["CONFIG", "SET", "port", "6380", "databases", "2"],
                "-ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config",
            ),
            (
                &["CONFIG", "SET", "hz", "abc", "daemonize", "no"],
                "-ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config",
            ),
            (
                &["CONFIG", "SET", "hz", "5", "HZ", "6"],
                "-ERR CONFIG SET failed (possibly related to argument 'HZ') - duplicate parameter",
            ),
            (
                &["CONFIG", "SET", "dir", "/tmp"],
                "-ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config",
            ),
            (
                &["CONFIG", "SET", "MAXCLIENTS", "x"],
                "-ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer",
            ),
            (
                &["CONFIG", "SET", "slave-priority", "x"],
                "-ERR CONFIG SET failed (possibly related to argument 'slave-priority') - argument couldn't be parsed into an integer",
            ),
            (
                &["CONFIG", "SET", "loglevel", "nothing"],
                "-ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one of the following: debug, verbose, notice, warning",
            ),
            (
                &["CONFIG", "SET", "maxmemory", "1.5gb"],
                "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value",
            ),
            (
                &["CONFIG", "SET", "appendonly", "maybe"],
                "-ERR CONFIG SET failed (possibly related to argument 'appendonly') - argument must be 'yes' or 'no'",
            ),
            (
                &["CONFIG", "FOO"],
                "-ERR unknown subcommand 'FOO'. Try CONFIG HELP.",
            ),
            (
                &["CONFIG", "REWRITE"],
                "-ERR The server is running without a config file",
            ),
        ];
        for (args, reply) in cases {
            assert_eq!(t.run(args), format!("{reply}\r\n"), "{args:?}");
        }
        // Aliases are distinct entries: no duplicate error.
        assert_eq!(
            t.run(&[
                "CONFIG",
                "SET",
                "slave-priority",
                "5",
                "replica-priority",
                "6"
            ]),
            "+OK\r\n"
        );
    }

    #[test]
    fn requirepass_applies_to_new_connections() {
        let mut t = TestClient::new();
        assert_eq!(
            t.run(&["CONFIG", "SET", "requirepass", "secret"]),
            "+OK\r\n"
        );
        assert_eq!(
            t.run(&["PING"]),
            "+PONG\r\n",
            "existing client stays authenticated"
        );
        let mut other = TestClient::on(t.server.clone());
        assert_eq!(other.run(&["PING"]), "-NOAUTH Authentication required.\r\n");
        assert_eq!(t.run(&["CONFIG", "SET", "requirepass", ""]), "+OK\r\n");
        assert!(t.server.config.read().requirepass.is_none());
    }

    #[test]
    fn resetstat_clears_counters() {
        let mut t = TestClient::new();
        t.run(&["GET", "missing"]);
        t.run(&["NOSUCHCOMMAND"]);
        assert!(
            t.server
                .keyspace
                .stats
                .misses
                .load(std::sync::atomic::Ordering::Relaxed)
                > 0
        );
        assert_eq!(t.run(&["CONFIG", "RESETSTAT"]), "+OK\r\n");
        let stats = &t.server.stats;
        assert_eq!(
            stats
                .total_error_replies
                .load(std::sync::atomic::Ordering::Relaxed),
            0
        );
        assert_eq!(
            t.server
                .keyspace
                .stats
                .misses
                .load(std::sync::atomic::Ordering::Relaxed),
            0
        );
    }

    #[test]
    fn help_lists_subcommands() {
        let mut t = TestClient::new();
        let help = t.run(&["CONFIG", "HELP"]);
        assert!(help.starts_with(
            "*11\r\n+CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
        ));
        assert!(help.ends_with("+    Prints this help.\r\n"));
    }
}
