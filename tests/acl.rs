//! Users and ACLs through the real binary: each rule kind allowing and
//! denying, the ACL LOG, HELLO AUTH, the aclfile round trip, rename-command,
//! the DEBUG / MODULE / protected-config gates, protected mode's rule, and
//! the hardened profile in conf/ (compared with redis-server where it runs).

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Conn, ServerProcess, free_port, redis_available, repo_path};

const NOPERM_KEY: &str =
    "-NOPERM this user has no permissions to access one of the keys used as arguments\r\n";
const NOPERM_CHANNEL: &str =
    "-NOPERM this user has no permissions to access one of the channels used as arguments\r\n";
const WRONGPASS: &str = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";

fn noperm_cmd(name: &str) -> String {
    format!("-NOPERM this user has no permissions to run the '{name}' command\r\n")
}

fn text(conn: &mut Conn, args: &[&str]) -> String {
    conn.cmd_text(args)
}

/// A connection authenticated as `user`.
fn login(server: &ServerProcess, user: &str, password: &str) -> Conn {
    let mut conn = server.connect();
    assert_eq!(text(&mut conn, &["AUTH", user, password]), "+OK\r\n");
    conn
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferrokv-acl-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn each_rule_kind_allows_and_denies() {
    let server = ServerProcess::ferrokv(&[
        "--user",
        "app",
        "on",
        ">pw",
        "~k:*",
        "%R~ro:*",
        "%W~wo:*",
        "&ch:*",
        "-@all",
        "+get",
        "+set",
        "+publish",
        "+subscribe",
        "+psubscribe",
        "+config|get",
        "+select|0",
        "+@hyperloglog",
    ]);
    let mut admin = server.connect();
    let mut app = login(&server, "app", "pw");
    assert_eq!(text(&mut app, &["ACL", "WHOAMI"]), noperm_cmd("acl|whoami"));
    // Commands: +cmd, -@all, +container|sub, +cmd|firstarg, +@category.
    assert_eq!(text(&mut app, &["SET", "k:1", "v"]), "+OK\r\n");
    assert_eq!(text(&mut app, &["GET", "k:1"]), "$1\r\nv\r\n");
    assert_eq!(text(&mut app, &["DEL", "k:1"]), noperm_cmd("del"));
    assert!(text(&mut app, &["CONFIG", "GET", "port"]).starts_with("*2\r\n"));
    assert_eq!(
        text(&mut app, &["CONFIG", "SET", "hz", "10"]),
        noperm_cmd("config|set")
    );
    assert_eq!(text(&mut app, &["SELECT", "0"]), "+OK\r\n");
    assert_eq!(text(&mut app, &["SELECT", "1"]), noperm_cmd("select"));
    assert_eq!(text(&mut app, &["PFADD", "k:h", "a"]), ":1\r\n");
    // Keys: ~ is read and write, %R~ read only, %W~ write only.
    assert_eq!(text(&mut app, &["GET", "ro:1"]), "$-1\r\n");
    assert_eq!(text(&mut app, &["SET", "ro:1", "v"]), NOPERM_KEY);
    assert_eq!(text(&mut app, &["SET", "wo:1", "v"]), "+OK\r\n");
    assert_eq!(text(&mut app, &["GET", "wo:1"]), NOPERM_KEY);
    assert_eq!(text(&mut app, &["GET", "other"]), NOPERM_KEY);
    assert_eq!(text(&mut app, &["PFCOUNT", "k:h", "other"]), NOPERM_KEY);
    // Channels: a channel matches the patterns, a subscription pattern must
    // equal one of them.
    assert_eq!(text(&mut app, &["PUBLISH", "ch:1", "m"]), ":0\r\n");
    assert_eq!(text(&mut app, &["PUBLISH", "other", "m"]), NOPERM_CHANNEL);
    assert_eq!(
        text(&mut app, &["SUBSCRIBE", "ch:1", "other"]),
        NOPERM_CHANNEL
    );
    assert_eq!(text(&mut app, &["PSUBSCRIBE", "ch:1*"]), NOPERM_CHANNEL);
    let mut sub = login(&server, "app", "pw");
    assert!(text(&mut sub, &["PSUBSCRIBE", "ch:*"]).starts_with("*3\r\n"));
    // Passwords: >, <, #, nopass, resetpass; on/off.
    let mut fresh = server.connect();
    assert_eq!(text(&mut fresh, &["AUTH", "app", "nope"]), WRONGPASS);
    assert_eq!(
        text(&mut admin, &["ACL", "SETUSER", "app", ">pw2", "<pw"]),
        "+OK\r\n"
    );
    assert_eq!(text(&mut fresh, &["AUTH", "app", "pw"]), WRONGPASS);
    assert_eq!(text(&mut fresh, &["AUTH", "app", "pw2"]), "+OK\r\n");
    let hash = "072aa9e9fb9d5162e465d3321530463caecd59b156676fe3071997cdc1017816"; // sha256("pw3")
    assert_eq!(
        text(
            &mut admin,
            &["ACL", "SETUSER", "app", &format!("#{hash}"), "off"]
        ),
        "+OK\r\n"
    );
    assert_eq!(text(&mut fresh, &["AUTH", "app", "pw3"]), WRONGPASS);
    assert_eq!(
        text(&mut app, &["GET", "k:1"]),
        "$1\r\nv\r\n",
        "an open connection outlives `off`"
    );
    assert_eq!(
        text(&mut admin, &["ACL", "SETUSER", "app", "on"]),
        "+OK\r\n"
    );
    assert_eq!(text(&mut fresh, &["AUTH", "app", "pw3"]), "+OK\r\n");
    assert_eq!(
        text(&mut admin, &["ACL", "SETUSER", "app", "nopass"]),
        "+OK\r\n"
    );
    assert_eq!(text(&mut fresh, &["AUTH", "app", "anything"]), "+OK\r\n");
    assert_eq!(
        text(&mut admin, &["ACL", "SETUSER", "app", "resetpass"]),
        "+OK\r\n"
    );
    assert_eq!(text(&mut fresh, &["AUTH", "app", "anything"]), WRONGPASS);
    // allkeys, resetkeys, allchannels, resetchannels, allcommands,
    // nocommands, reset: the running connection sees each change at once.
    let mut set = |rules: &[&str]| {
        let mut args = vec!["ACL", "SETUSER", "app"];
        args.extend_from_slice(rules);
        assert_eq!(text(&mut admin, &args), "+OK\r\n", "{rules:?}");
    };
    set(&["allkeys"]);
    assert_eq!(text(&mut app, &["GET", "other"]), "$-1\r\n");
    set(&["resetkeys", "~x"]);
    assert_eq!(text(&mut app, &["GET", "other"]), NOPERM_KEY);
    set(&["allchannels"]);
    assert_eq!(text(&mut app, &["PUBLISH", "other", "m"]), ":0\r\n");
    set(&["resetchannels"]);
    assert_eq!(text(&mut app, &["PUBLISH", "ch:1", "m"]), NOPERM_CHANNEL);
    set(&["allcommands", "allkeys"]);
    assert_eq!(text(&mut app, &["DEL", "x"]), ":0\r\n");
    set(&["-@keyspace"]);
    assert_eq!(text(&mut app, &["DEL", "x"]), noperm_cmd("del"));
    set(&["nocommands"]);
    assert_eq!(text(&mut app, &["GET", "x"]), noperm_cmd("get"));
    set(&["reset"]);
    assert_eq!(
        text(&mut admin, &["ACL", "LIST"]),
        "*2\r\n$49\r\nuser app off sanitize-payload resetchannels -@all\r\n$34\r\nuser default on nopass ~* &* +@all\r\n"
    );
}

#[test]
fn denials_are_logged_with_redis_fields() {
    let server = ServerProcess::ferrokv(&[
        "--user", "app", "on", ">pw", "~k:*", "&ch:*", "+get", "+multi", "+exec", "+publish",
    ]);
    let mut admin = server.connect();
    let mut app = login(&server, "app", "pw");
    assert_eq!(text(&mut app, &["GET", "zz"]), NOPERM_KEY);
    assert_eq!(text(&mut app, &["GET", "zz"]), NOPERM_KEY);
    assert_eq!(text(&mut app, &["SET", "k:1", "v"]), noperm_cmd("set"));
    assert_eq!(text(&mut app, &["PUBLISH", "news", "m"]), NOPERM_CHANNEL);
    assert_eq!(text(&mut app, &["MULTI"]), "+OK\r\n");
    assert_eq!(text(&mut app, &["GET", "other"]), NOPERM_KEY);
    assert!(text(&mut app, &["EXEC"]).starts_with("-EXECABORT"));
    assert_eq!(text(&mut app, &["AUTH", "ghost", "x"]), WRONGPASS);

    let log = admin.cmd(&["ACL", "LOG"]);
    let (header, entries) = common::split_aggregate(&log).expect("array");
    assert_eq!(header, b"*5\r\n");
    let fields = |entry: &[u8]| -> Vec<String> {
        let (_, parts) = common::split_aggregate(entry).expect("map");
        parts
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect()
    };
    // Newest first: auth, key (multi), channel, command, key x2.
    let expected: [(&str, &str, &str, &str, &str); 5] = [
        (":1", "auth", "toplevel", "AUTH", "ghost"),
        (":1", "key", "multi", "other", "app"),
        (":1", "channel", "toplevel", "news", "app"),
        (":1", "command", "toplevel", "set", "app"),
        (":2", "key", "toplevel", "zz", "app"),
    ];
    for (entry, (count, reason, context, object, user)) in entries.iter().zip(expected) {
        let f = fields(entry);
        let names: Vec<&str> = f.iter().step_by(2).map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "$5\r\ncount\r\n",
                "$6\r\nreason\r\n",
                "$7\r\ncontext\r\n",
                "$6\r\nobject\r\n",
                "$8\r\nusername\r\n",
                "$11\r\nage-seconds\r\n",
                "$11\r\nclient-info\r\n"
            ]
        );
        assert_eq!(f[1], format!("{count}\r\n"));
        assert!(f[3].ends_with(&format!("\r\n{reason}\r\n")), "{f:?}");
        assert!(f[5].ends_with(&format!("\r\n{context}\r\n")), "{f:?}");
        assert!(f[7].ends_with(&format!("\r\n{object}\r\n")), "{f:?}");
        assert!(f[9].ends_with(&format!("\r\n{user}\r\n")), "{f:?}");
        let age: f64 = f[11].split("\r\n").nth(1).unwrap().parse().unwrap();
        assert!((0.0..60.0).contains(&age), "{f:?}");
        assert!(f[13].contains(" user=app "), "{f:?}");
    }
    assert_eq!(
        text(&mut admin, &["ACL", "LOG", "1"])
            .matches("count")
            .count(),
        1
    );
    assert_eq!(text(&mut admin, &["ACL", "LOG", "RESET"]), "+OK\r\n");
    assert_eq!(text(&mut admin, &["ACL", "LOG"]), "*0\r\n");
}

#[test]
fn hello_authenticates_and_switches_protocol() {
    let server = ServerProcess::ferrokv(&[
        "--requirepass",
        "secret",
        "--user",
        "app",
        "on",
        ">pw",
        "~*",
        "+@all",
    ]);
    let mut conn = server.connect();
    assert_eq!(
        text(&mut conn, &["GET", "x"]),
        "-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        text(&mut conn, &["HELLO", "3", "AUTH", "app", "bad"]),
        WRONGPASS
    );
    let hello = text(&mut conn, &["HELLO", "3", "AUTH", "app", "pw"]);
    assert!(
        hello.starts_with("%7\r\n") && hello.contains("proto\r\n:3\r\n"),
        "{hello}"
    );
    assert_eq!(text(&mut conn, &["ACL", "WHOAMI"]), "$3\r\napp\r\n");
    let mut other = server.connect();
    let hello = text(&mut other, &["HELLO", "2", "AUTH", "default", "secret"]);
    assert!(hello.starts_with("*14\r\n"), "{hello}");
    assert_eq!(text(&mut other, &["ACL", "WHOAMI"]), "$7\r\ndefault\r\n");
    // requirepass is the default user's password, and follows CONFIG SET.
    assert!(
        text(&mut other, &["ACL", "GETUSER", "default"])
            .contains("2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b")
    );
    assert_eq!(
        text(&mut other, &["CONFIG", "SET", "requirepass", "next"]),
        "+OK\r\n"
    );
    let mut third = server.connect();
    assert_eq!(text(&mut third, &["AUTH", "secret"]), WRONGPASS);
    assert_eq!(text(&mut third, &["AUTH", "next"]), "+OK\r\n");
    assert_eq!(text(&mut third, &["RESET"]), "+RESET\r\n");
    assert_eq!(
        text(&mut third, &["GET", "x"]),
        "-NOAUTH Authentication required.\r\n"
    );
}

#[test]
fn deleting_a_user_closes_its_connections() {
    let server = ServerProcess::ferrokv(&["--user", "app", "on", ">pw", "~*", "+@all"]);
    let mut admin = server.connect();
    let mut app = login(&server, "app", "pw");
    assert_eq!(
        text(&mut admin, &["ACL", "DELUSER", "app", "ghost"]),
        ":1\r\n"
    );
    assert!(app.read_to_close().is_ok(), "the connection is closed");
    assert_eq!(
        text(&mut admin, &["ACL", "USERS"]),
        "*1\r\n$7\r\ndefault\r\n"
    );
}

#[test]
fn aclfile_loads_saves_and_reloads() {
    let dir = temp_dir("file");
    let path = dir.join("users.acl");
    std::fs::write(
        &path,
        "user app on #072aa9e9fb9d5162e465d3321530463caecd59b156676fe3071997cdc1017816 ~app:* resetchannels -@all +get\n",
    )
    .unwrap();
    let server = ServerProcess::ferrokv(&["--aclfile", path.to_str().unwrap()]);
    let mut admin = server.connect();
    let mut app = login(&server, "app", "pw3");
    assert_eq!(text(&mut app, &["GET", "app:1"]), "$-1\r\n");
    assert_eq!(
        text(
            &mut admin,
            &[
                "ACL",
                "SETUSER",
                "ops",
                "on",
                ">x",
                "~*",
                "&*",
                "+@all",
                "-@dangerous"
            ]
        ),
        "+OK\r\n"
    );
    assert_eq!(text(&mut admin, &["ACL", "SAVE"]), "+OK\r\n");
    let saved = std::fs::read_to_string(&path).unwrap();
    let list = admin.cmd(&["ACL", "LIST"]);
    let (_, lines) = common::split_aggregate(&list).unwrap();
    let listed: String = lines
        .iter()
        .map(|l| {
            let l = String::from_utf8_lossy(l);
            l.split("\r\n").nth(1).unwrap().to_string() + "\n"
        })
        .collect();
    assert_eq!(saved, listed, "ACL SAVE writes ACL LIST's lines");
    assert!(saved.contains("user ops on #2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881 ~* &* +@all -@dangerous\n"), "{saved}");

    // Edit the file: app disappears, viewer appears; ACL LOAD applies it
    // and closes app's connection.
    let edited = saved
        .lines()
        .filter(|l| !l.starts_with("user app "))
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        + "user viewer on nopass ~* resetchannels -@all +@read\n";
    std::fs::write(&path, edited).unwrap();
    assert_eq!(text(&mut admin, &["ACL", "LOAD"]), "+OK\r\n");
    assert_eq!(
        text(&mut admin, &["ACL", "USERS"]),
        "*3\r\n$7\r\ndefault\r\n$3\r\nops\r\n$6\r\nviewer\r\n"
    );
    assert!(app.read_to_close().is_ok());
    let mut viewer = login(&server, "viewer", "any");
    assert_eq!(text(&mut viewer, &["GET", "x"]), "$-1\r\n");
    assert_eq!(text(&mut viewer, &["SET", "x", "1"]), noperm_cmd("set"));

    // A bad file changes nothing.
    std::fs::write(&path, "user broken on +nosuch\nnot a user line\n").unwrap();
    let err = text(&mut admin, &["ACL", "LOAD"]);
    assert!(err.starts_with("-ERR "), "{err}");
    assert!(
        err.contains("Unknown command or category name in ACL"),
        "{err}"
    );
    assert!(err.contains("should start with user keyword"), "{err}");
    assert_eq!(
        text(&mut admin, &["ACL", "USERS"]).matches("\r\n$").count(),
        3
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn acl_load_errors_match_redis() {
    let dir = temp_dir("load-errors");
    let path = dir.join("users.acl");
    let file = path.to_str().unwrap();
    std::fs::write(&path, "user eve on nopass +get\n").unwrap();
    let ours = ServerProcess::ferrokv(&["--aclfile", file]);
    let Some(redis) = ServerProcess::redis_with(&["--aclfile", file]) else {
        return;
    };
    let (mut a, mut b) = (ours.connect(), redis.connect());
    let list: &[&[&str]] = &[&["ACL", "LIST"]];
    let load: &[&[&str]] = &[&["ACL", "LOAD"], &["ACL", "LIST"]];
    same_replies(&mut a, &mut b, list);
    for content in [
        "user a on #abc\nuser b allkeys ~x\nuser c on foo\nuser d on <nopw\nuser e on +get|x|y\n",
        "bogus\nuser x\n",
        "user a on\nuser a off\n",
        "user default on nopass ~* &* +@all\nuser eve on nopass resetchannels -@all +get\n",
    ] {
        std::fs::write(&path, content).unwrap();
        same_replies(&mut a, &mut b, load);
    }
    std::fs::remove_file(&path).unwrap();
    same_replies(&mut a, &mut b, load);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Runs the binary with `args` until it exits (bounded), returning its
/// status and standard error.
fn run_to_exit(args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrokv"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ferrokv did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status, err)
}

#[test]
fn aclfile_and_user_lines_together_refuse_to_start() {
    let dir = temp_dir("both");
    let path = dir.join("users.acl");
    std::fs::write(&path, "").unwrap();
    let port = free_port().to_string();
    let (status, err) = run_to_exit(&[
        "--port",
        &port,
        "--aclfile",
        path.to_str().unwrap(),
        "--user",
        "app",
        "on",
    ]);
    assert!(!status.success());
    assert!(
        err.contains("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid."),
        "{err}"
    );
    let missing = dir.join("missing.acl");
    let (status, err) = run_to_exit(&["--port", &port, "--aclfile", missing.to_str().unwrap()]);
    assert!(!status.success());
    assert!(
        err.contains(
            "Aborting Redis startup because of ACL errors: Error loading ACLs, opening file"
        ),
        "{err}"
    );
    let (status, err) = run_to_exit(&["--port", &port, "--user", "app", "+nosuch"]);
    assert!(!status.success());
    assert!(
        err.contains("Error loading ACL rule '+nosuch' for the user named 'app': Unknown command or category name in ACL"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// Sends each command to both servers and asserts equal replies.
fn same_replies(ours: &mut Conn, redis: &mut Conn, commands: &[&[&str]]) {
    for args in commands {
        let (a, b) = (ours.cmd_text(args), redis.cmd_text(args));
        assert_eq!(a, b, "{args:?}");
    }
}

#[test]
fn rename_command_moves_and_removes_commands_like_redis() {
    let args = [
        "--rename-command",
        "FLUSHALL",
        "",
        "--rename-command",
        "CONFIG",
        "cfg",
    ];
    let ours = ServerProcess::ferrokv(&args);
    let mut conn = ours.connect();
    let commands: &[&[&str]] = &[
        &["FLUSHALL"],
        &["CONFIG", "GET", "port"],
        &["cfg", "GET", "maxmemory"],
        &["COMMAND", "INFO", "flushall", "config"],
        &["ACL", "SETUSER", "u", "+cfg"],
        &["ACL", "SETUSER", "u", "+flushall"],
        &["ACL", "SETUSER", "u", "+config"],
        &["ACL", "SETUSER", "u", "+cfg|get"],
        &["ACL", "SETUSER", "u2", "+@all", "-flushall"],
        // (ACL LIST of `u` would list two single commands in Redis's hash order.)
        &["ACL", "GETUSER", "u2"],
        &["ACL", "DRYRUN", "u", "config", "get", "x"],
        &["ACL", "DRYRUN", "u", "cfg", "get", "x"],
        &["ACL", "DRYRUN", "u", "flushall"],
    ];
    assert_eq!(
        text(&mut conn, &["FLUSHALL"]).get(..22),
        Some("-ERR unknown command '")
    );
    // ACL rules and categories keep the original names, as in Redis.
    let cat = text(&mut conn, &["ACL", "CAT", "dangerous"]);
    assert!(
        cat.contains("\r\nflushall\r\n") && cat.contains("\r\nconfig|set\r\n"),
        "{cat}"
    );
    let count_without = text(&mut conn, &["COMMAND", "COUNT"]);
    let plain = ServerProcess::ferrokv(&[]);
    let count_with = plain.connect().cmd_text(&["COMMAND", "COUNT"]);
    let n = |s: &str| s.trim_start_matches(':').trim().parse::<i64>().unwrap();
    assert_eq!(
        n(&count_without) + 1,
        n(&count_with),
        "COMMAND COUNT drops the removed one"
    );
    if let Some(redis) = ServerProcess::redis_with(&args) {
        same_replies(&mut conn, &mut redis.connect(), commands);
    }
}

#[test]
fn debug_module_and_protected_config_gates_like_redis() {
    let commands: &[&[&str]] = &[
        &["DEBUG", "SLEEP", "0"],
        &["MODULE", "LOAD", "/nonexistent.so"],
        &["MODULE", "UNLOAD", "nosuch"],
        &["MODULE", "LIST"],
        &["CONFIG", "SET", "dir", "/tmp"],
        &["CONFIG", "SET", "dbfilename", "x.rdb"],
        &["CONFIG", "SET", "enable-debug-command", "yes"],
    ];
    for extra in [
        &[][..],
        &[
            "--enable-module-command",
            "yes",
            "--enable-debug-command",
            "local",
        ][..],
        &["--enable-module-command", "local"][..],
    ] {
        let ours = ServerProcess::ferrokv(extra);
        let mut conn = ours.connect();
        if extra.is_empty() {
            assert_eq!(
                text(&mut conn, &["MODULE", "LOAD", "/x.so"]),
                "-ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.\r\n"
            );
        }
        if let Some(redis) = ServerProcess::redis_with(extra) {
            same_replies(&mut conn, &mut redis.connect(), commands);
        }
    }
}

#[test]
fn protected_mode_refuses_remote_clients_without_a_password() {
    use ferrokv::acl::protected_mode_refuses;
    use ferrokv::config::Config;
    use ferrokv::server::Server;
    let remote = "10.1.2.3:5000".parse().unwrap();
    let locals = ["127.0.0.1:5000", "[::1]:5000", "[::ffff:127.0.0.1]:5000"];
    let open = Server::new(Config::default()).unwrap();
    assert!(protected_mode_refuses(&open, true, remote));
    assert!(
        !protected_mode_refuses(&open, false, remote),
        "protected-mode no"
    );
    for local in locals {
        assert!(
            !protected_mode_refuses(&open, true, local.parse().unwrap()),
            "{local}"
        );
    }
    let locked = Server::new(Config {
        requirepass: Some(b"secret".to_vec()),
        ..Config::default()
    })
    .unwrap();
    assert!(!protected_mode_refuses(&locked, true, remote));
    assert!(
        std::str::from_utf8(ferrokv::acl::PROTECTED_MODE_DENIED)
            .unwrap()
            .starts_with("-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user.")
    );
}

/// A server started from a config file, killed by its PID on drop.
struct FromFile {
    child: Child,
    port: u16,
}

impl Drop for FromFile {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl FromFile {
    /// Starts `program file` and waits (bounded) until it answers (NOAUTH counts).
    fn start(program: &str, file: &Path, port: u16, env: &[(&str, &str)]) -> FromFile {
        let child = Command::new(program)
            .arg(file)
            // A `dir .` config keeps its files beside it, not in the repository.
            .current_dir(file.parent().expect("config in a temp dir"))
            .env_remove("FERROKV_PASSWORD")
            .env_remove("REDIS_PASSWORD")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut server = FromFile { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            assert!(
                server.child.try_wait().unwrap().is_none(),
                "{program} exited"
            );
            if let Ok(mut conn) = Conn::try_connect(port, Duration::from_millis(500)) {
                let reply = conn.cmd_text(&["PING"]);
                if reply.starts_with("-NOAUTH") || reply == "+PONG\r\n" {
                    return server;
                }
            }
            assert!(Instant::now() < deadline, "{program} did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn connect(&self) -> Conn {
        Conn::connect(self.port)
    }
}

/// conf/hardened.conf with its port replaced (paths: none to adjust besides
/// a scratch `dir`).
fn localized_hardened(dir: &Path, port: u16) -> PathBuf {
    let text = std::fs::read_to_string(repo_path("conf/hardened.conf")).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("port ") {
            out.push_str(&format!("port {port}\n"));
        } else if line.starts_with("bind ") {
            out.push_str("bind 127.0.0.1\n");
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str(&format!(
        "dir {}\nsave \"\"\nappendonly no\n",
        dir.display()
    ));
    let path = dir.join(format!("hardened-{port}.conf"));
    std::fs::write(&path, out).unwrap();
    path
}

const PLACEHOLDER: &str = "CHANGE-ME-set-FERROKV_PASSWORD";

#[test]
fn hardened_profile_disables_dangerous_commands_and_limits_the_app() {
    let dir = temp_dir("hardened");
    let port = free_port();
    let conf = localized_hardened(&dir, port);
    let ours = FromFile::start(env!("CARGO_BIN_EXE_ferrokv"), &conf, port, &[]);
    let mut admin = ours.connect();
    assert_eq!(text(&mut admin, &["AUTH", PLACEHOLDER]), "+OK\r\n");
    for removed in ["FLUSHDB", "FLUSHALL", "KEYS", "DEBUG", "CONFIG"] {
        let reply = text(&mut admin, &[removed, "x"]);
        assert!(
            reply.starts_with("-ERR unknown command"),
            "{removed}: {reply}"
        );
    }
    assert_eq!(
        text(&mut admin, &["ops-config-7f3a9c", "GET", "maxmemory"]),
        "*2\r\n$9\r\nmaxmemory\r\n$9\r\n268435456\r\n"
    );
    let mut app = ours.connect();
    assert_eq!(
        text(&mut app, &["AUTH", "app", "app-secret-change-me"]),
        "+OK\r\n"
    );
    let app_script: &[&[&str]] = &[
        &["SET", "app:1", "v"],
        &["GET", "app:1"],
        &["INCR", "app:n"],
        &["GET", "other"],
        &["DEL", "app:1"],
        &["MULTI"],
        &["INCR", "app:n"],
        &["EXEC"],
        &["PUBLISH", "app:events", "m"],
        &["PUBLISH", "other", "m"],
        &["SORT", "app:1"],
        &["ops-config-7f3a9c", "GET", "port"],
        &["SHUTDOWN"],
        &["ACL", "LIST"],
        &["FLUSHALL"],
        &["PING"],
    ];
    let redis_side = if redis_available() {
        let redis_port = free_port();
        let redis_conf = localized_hardened(&dir, redis_port);
        Some(FromFile::start(
            "redis-server",
            &redis_conf,
            redis_port,
            &[],
        ))
    } else {
        None
    };
    if let Some(redis) = &redis_side {
        let mut theirs = redis.connect();
        assert_eq!(
            theirs.cmd_text(&["AUTH", "app", "app-secret-change-me"]),
            "+OK\r\n"
        );
        same_replies(&mut app, &mut theirs, app_script);
    } else {
        for args in app_script {
            app.cmd_text(args);
        }
    }
    assert_eq!(text(&mut app, &["GET", "app:n"]), "$1\r\n2\r\n");
    assert_eq!(text(&mut app, &["SHUTDOWN"]), noperm_cmd("shutdown"));
    drop(redis_side);
    drop(ours);

    // FERROKV_PASSWORD replaces the placeholder.
    let port = free_port();
    let conf = localized_hardened(&dir, port);
    let ours = FromFile::start(
        env!("CARGO_BIN_EXE_ferrokv"),
        &conf,
        port,
        &[("FERROKV_PASSWORD", "real-secret")],
    );
    let mut conn = ours.connect();
    assert_eq!(text(&mut conn, &["AUTH", PLACEHOLDER]), WRONGPASS);
    assert_eq!(text(&mut conn, &["AUTH", "real-secret"]), "+OK\r\n");
    drop(ours);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn config_rewrite_writes_the_live_users_like_redis() {
    let dir = temp_dir("rewrite");
    let mut user_lines = Vec::new();
    let programs: Vec<&str> = if redis_available() {
        vec![env!("CARGO_BIN_EXE_ferrokv"), "redis-server"]
    } else {
        vec![env!("CARGO_BIN_EXE_ferrokv")]
    };
    for program in programs {
        let port = free_port();
        let path = dir.join(format!("{port}.conf"));
        std::fs::write(
            &path,
            format!("port {port}\nbind 127.0.0.1\nsave \"\"\nuser app on >pw ~app:* +@all\nuser old on nopass\n"),
        )
        .unwrap();
        let server = FromFile::start(program, &path, port, &[]);
        let mut conn = server.connect();
        for (args, expected) in [
            (
                &["ACL", "SETUSER", "bob", "on", ">x", "~b:*", "-@all", "+get"][..],
                "+OK\r\n",
            ),
            (&["ACL", "DELUSER", "old"][..], ":1\r\n"),
            (&["CONFIG", "REWRITE"][..], "+OK\r\n"),
        ] {
            assert_eq!(text(&mut conn, args), expected, "{program} {args:?}");
        }
        let written = std::fs::read_to_string(&path).unwrap();
        let users: Vec<String> = written
            .lines()
            .filter(|l| l.starts_with("user "))
            .map(String::from)
            .collect();
        user_lines.push(users);
    }
    assert_eq!(
        user_lines[0],
        [
            "user app on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~app:* resetchannels +@all",
            "user bob on #2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881 ~b:* resetchannels -@all +get",
            "user default on nopass ~* &* +@all",
        ]
    );
    if let [ours, redis] = &user_lines[..] {
        assert_eq!(ours, redis);
    }
    std::fs::remove_dir_all(dir).unwrap();
}
