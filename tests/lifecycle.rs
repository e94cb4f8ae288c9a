//! Process lifecycle: command-line flags, restart on a port with connections
//! in TIME_WAIT, clean exits on SIGTERM and SHUTDOWN, and prompt answers to
//! commands that do not exist (yet).

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{ServerProcess, escape};

/// Runs the binary with `args` and returns (exit code, stdout + stderr), failing the
/// test instead of hanging if it does not exit.
fn run_binary(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrokv"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ferrokv");
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ferrokv {args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let output = child.wait_with_output().expect("output");
    (
        output.status.code(),
        String::from_utf8_lossy(&[output.stdout, output.stderr].concat()).into_owned(),
    )
}

#[test]
fn help_and_version_behave_like_redis_server() {
    // redis-server prints its usage to stderr and exits 1 for --help.
    let (code, out) = run_binary(&["--help"]);
    assert_eq!(code, Some(1));
    assert!(out.contains("Usage"), "help text: {out}");
    let (code, out) = run_binary(&["--version"]);
    assert_eq!(code, Some(0));
    assert!(out.contains(env!("CARGO_PKG_VERSION")), "version: {out}");
}

/// Whether the kernel holds a TIME_WAIT socket on `port` (state 06 in
/// /proc/net/tcp, local address column).
fn has_time_wait(port: u16) -> bool {
    let needle = format!(":{port:04X} ");
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .any(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.len() > 3 && format!("{} ", cols[1]).ends_with(&needle) && cols[3] == "06"
        })
}

#[test]
fn restart_rebinds_port_in_time_wait() {
    let first = ServerProcess::ferrokv(&[]);
    let port = first.port;
    let mut conn = first.connect();
    assert_eq!(conn.cmd(&["PING"]), b"+PONG\r\n");
    // The server side closes first (it dies), so TIME_WAIT sits on its port.
    drop(first);
    let _ = conn.read_to_close();
    drop(conn);
    let saw_time_wait = has_time_wait(port);

    let second = ServerProcess::ferrokv_on(port, &[])
        .unwrap_or_else(|e| panic!("restart on port {port} (TIME_WAIT: {saw_time_wait}): {e}"));
    assert_eq!(second.connect().cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn sigterm_exits_zero_promptly() {
    let mut server = ServerProcess::ferrokv(&[]);
    let mut idle = server.connect();
    assert_eq!(idle.cmd(&["PING"]), b"+PONG\r\n");
    server.signal("TERM");
    let status = server
        .wait_exit(Duration::from_secs(5))
        .expect("no exit within 5 s of SIGTERM");
    assert_eq!(status.code(), Some(0), "{status}");
    // The open connection was closed, not left hanging.
    assert!(idle.read_to_close().is_ok());
}

#[test]
fn shutdown_nosave_closes_and_exits_zero() {
    let mut server = ServerProcess::ferrokv(&[]);
    let mut conn = server.connect();
    conn.send(&["SHUTDOWN", "NOSAVE"]);
    // Like Redis, a successful SHUTDOWN sends no reply: the connection closes.
    let after = conn.read_to_close().expect("connection left open");
    assert_eq!(escape(&after), "");
    let status = server
        .wait_exit(Duration::from_secs(5))
        .expect("no exit within 5 s of SHUTDOWN");
    assert_eq!(status.code(), Some(0), "{status}");
}

#[test]
fn unknown_commands_answer_at_once() {
    let server = ServerProcess::ferrokv(&[]);
    let mut conn = server.connect();
    conn.set_timeout(Duration::from_secs(3));
    assert_eq!(
        conn.cmd_text(&["FERROKV-NO-SUCH-COMMAND", "a", "b"]),
        "-ERR unknown command 'FERROKV-NO-SUCH-COMMAND', with args beginning with: 'a' 'b' \r\n"
    );
    // Commands of features that may not exist yet: whatever the answer, it
    // must come promptly and leave the connection usable.
    let later_features: &[&[&str]] = &[
        &["XADD", "s", "*", "f", "v"],
        &["GEOADD", "g", "0", "0", "m"],
        &["PFADD", "h", "a"],
        &["CLUSTER", "INFO"],
        &["MODULE", "LIST"],
        &["FUNCTION", "LIST"],
    ];
    for args in later_features {
        let reply = conn
            .try_cmd(args)
            .unwrap_or_else(|e| panic!("{args:?}: {e:?}"));
        let text = String::from_utf8_lossy(&reply);
        if text.starts_with("-ERR unknown command") {
            let expected = format!(
                "-ERR unknown command '{}', with args beginning with: ",
                args[0]
            );
            assert!(text.starts_with(&expected), "{args:?}: {text}");
        }
        assert_eq!(conn.cmd(&["PING"]), b"+PONG\r\n", "after {args:?}");
    }
}

/// `bind` as Redis reads it: IPv6 sockets are IPv6-only, so an IPv4 and an
/// IPv6 address on one port do not collide, and a `-` prefix makes an
/// address optional (a missing one is only a warning).
#[test]
fn bind_serves_ipv4_and_ipv6_and_skips_optional_addresses() {
    let ipv6 = std::net::TcpListener::bind("[::1]:0").is_ok();
    let bind = if ipv6 {
        "127.0.0.1 -::1 -192.0.2.1"
    } else {
        "127.0.0.1 -192.0.2.1"
    };
    let server = ServerProcess::ferrokv(&["--bind", bind]);
    assert_eq!(server.connect().cmd(&["PING"]), b"+PONG\r\n");
    if ipv6 {
        let mut v6 = std::net::TcpStream::connect(("::1", server.port)).expect("IPv6 listener");
        use std::io::{Read, Write};
        v6.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        v6.write_all(b"PING\r\n").unwrap();
        let mut reply = [0u8; 7];
        v6.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"+PONG\r\n");
    } else {
        eprintln!("SKIPPED the IPv6 half: this host has no ::1");
    }
    // Without the `-`, an address the host does not have stops start-up.
    let port = common::free_port().to_string();
    let (code, output) = run_binary(&["--port", &port, "--bind", "127.0.0.1 192.0.2.1"]);
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("Could not create server TCP listening socket 192.0.2.1"),
        "{output}"
    );
}
