//! Connection behaviour over real sockets against the built binary: HELLO,
//! AUTH, CLIENT KILL/LIST/REPLY/PAUSE, MONITOR, idle timeout, QUIT, maxclients.

mod common;

use std::time::{Duration, Instant};

/// The shared harness's ferrokv process, plus this file's connection helpers.
struct Server(common::ServerProcess);

impl std::ops::Deref for Server {
    type Target = common::ServerProcess;
    fn deref(&self) -> &common::ServerProcess {
        &self.0
    }
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        Server(common::ServerProcess::ferrokv(extra))
    }

    fn redis(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .unwrap()
            .get_connection()
            .unwrap()
    }
}

#[test]
fn hello_3_replies_with_a_resp3_map() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    let id = c.client_id();
    c.call(
        "HELLO 3",
        &format!(
            "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n\
             $5\r\nproto\r\n:3\r\n$2\r\nid\r\n:{id}\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n\
             $4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
        ),
    );
    c.call("CLIENT GETNAME", "_\r\n");
    c.call("HELLO 4", "-NOPROTO unsupported protocol version\r\n");
}

#[test]
fn auth_flow_with_requirepass() {
    let server = Server::start(&["--requirepass", "s3cret"]);
    let mut c = server.raw();
    c.call("PING", "-NOAUTH Authentication required.\r\n");
    c.call(
        "AUTH nope",
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    c.call("AUTH s3cret", "+OK\r\n");
    c.call("PING", "+PONG\r\n");
    let mut h = server.raw();
    h.send("HELLO 3 AUTH default s3cret");
    assert!(h.line().starts_with("%7"));
    let url = format!("redis://:s3cret@127.0.0.1:{}/", server.port);
    let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn client_kill_closes_another_connection_promptly() {
    let server = Server::start(&[]);
    let mut victim = server.raw();
    let id = victim.client_id();
    let mut killer = server.raw();
    killer.call(&format!("CLIENT KILL ID {id}"), ":1\r\n");
    let started = Instant::now();
    assert!(victim.closed());
    assert!(started.elapsed() < Duration::from_secs(2));
    killer.call(&format!("CLIENT KILL ID {id}"), ":0\r\n");
}

#[test]
fn client_list_shows_real_connection_fields() {
    let server = Server::start(&[]);
    let mut con = server.redis();
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("lister")
        .query(&mut con)
        .unwrap();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
    let line = list
        .lines()
        .find(|l| l.contains(" name=lister "))
        .expect("our line");
    let field = |name: &str| {
        line.split(' ')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} in {line}"))
            .to_string()
    };
    assert_eq!(field("laddr"), format!("127.0.0.1:{}", server.port));
    assert!(field("addr").starts_with("127.0.0.1:"));
    assert!(field("fd").parse::<i64>().unwrap() > 2);
    assert_eq!(field("cmd"), "client|list");
    assert_eq!(field("flags"), "N");
    assert_eq!(field("resp"), "2");
}

#[test]
fn client_reply_off_and_skip() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    c.send("CLIENT REPLY OFF");
    c.send("SET a 1");
    c.send("CLIENT REPLY ON");
    c.expect("+OK\r\n");
    c.send("CLIENT REPLY SKIP");
    c.send("GET a");
    c.call("ECHO done", "$4\r\ndone\r\n");
}

#[test]
fn client_pause_write_delays_set_but_not_get() {
    let server = Server::start(&[]);
    let mut admin = server.raw();
    let mut c = server.raw();
    c.call("SET k v1", "+OK\r\n");
    admin.call("CLIENT PAUSE 600 WRITE", "+OK\r\n");
    let started = Instant::now();
    c.call("GET k", "$2\r\nv1\r\n");
    assert!(started.elapsed() < Duration::from_millis(300), "GET runs");
    c.call("SET k v2", "+OK\r\n");
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "SET waited for the pause"
    );
    c.call("GET k", "$2\r\nv2\r\n");
}

#[test]
fn client_unpause_releases_held_commands() {
    let server = Server::start(&[]);
    let mut admin = server.raw();
    let mut c = server.raw();
    admin.call("CLIENT PAUSE 20000 WRITE", "+OK\r\n");
    c.send("SET k v");
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    admin.call("CLIENT UNPAUSE", "+OK\r\n");
    c.expect("+OK\r\n");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn monitor_receives_commands_of_other_clients() {
    let server = Server::start(&[]);
    let mut monitor = server.raw();
    monitor.call("MONITOR", "+OK\r\n");
    let mut other = server.raw();
    let port = other.stream.local_addr().unwrap().port();
    other.call("SET foo \"b r\"", "+OK\r\n");
    let line = monitor.line();
    assert!(line.starts_with('+'), "{line}");
    assert!(
        line.ends_with(&format!(
            " [0 127.0.0.1:{port}] \"SET\" \"foo\" \"b r\"\r\n"
        )),
        "{line}"
    );
    let stamp: f64 = line[1..line.find(' ').unwrap()].parse().unwrap();
    assert!(stamp > 1.6e9);
}

#[test]
fn idle_timeout_closes_idle_connections() {
    let server = Server::start(&["--timeout", "1"]);
    let mut idle = server.raw();
    idle.call("PING", "+PONG\r\n");
    let started = Instant::now();
    assert!(idle.closed());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "closed after {waited:?}"
    );
    assert!(waited < Duration::from_secs(4), "closed after {waited:?}");
}

#[test]
fn quit_replies_then_closes() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    c.call("QUIT", "+OK\r\n");
    assert!(c.closed());
}

#[test]
fn maxclients_refuses_extra_connections() {
    let server = Server::start(&["--maxclients", "1"]);
    // The readiness probe may still be registered for a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut first = loop {
        let mut c = server.raw();
        c.send("PING");
        if c.line() == "+PONG\r\n" {
            break c;
        }
        assert!(Instant::now() < deadline, "first client never accepted");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut second = server.raw();
    second.expect("-ERR max number of clients reached\r\n");
    assert!(second.closed());
    first.call("PING", "+PONG\r\n");
}
