//! Blocking list commands over real sockets against the built binary: FIFO
//! service of several waiters, timeouts, disconnects that lose nothing,
//! BLMOVE, CLIENT UNBLOCK, pipelining behind a blocked command and INFO's
//! `blocked_clients`.

mod common;

use common::Raw;

use std::io::Read;
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
    fn start() -> Server {
        Server(common::ServerProcess::ferrokv(&[]))
    }

    fn wait_blocked(&self, n: usize) {
        self.0.wait_blocked(n);
    }
}

#[test]
fn waiters_are_served_in_the_order_they_blocked() {
    let server = Server::start();
    let mut waiters: Vec<Raw> = (0..3).map(|_| server.raw()).collect();
    for (i, w) in waiters.iter_mut().enumerate() {
        w.send(if i == 1 {
            "BRPOP other q 0"
        } else {
            "BLPOP q 0"
        });
        server.wait_blocked(i + 1);
    }
    let mut pusher = server.raw();
    pusher.call("RPUSH q a b c", ":3\r\n");
    waiters[0].expect("*2\r\n$1\r\nq\r\n$1\r\na\r\n");
    // BRPOP pops from the tail of what is left, as Redis serves in order.
    waiters[1].expect("*2\r\n$1\r\nq\r\n$1\r\nc\r\n");
    waiters[2].expect("*2\r\n$1\r\nq\r\n$1\r\nb\r\n");
    pusher.call("EXISTS q", ":0\r\n");
    server.wait_blocked(0);
}

#[test]
fn one_element_wakes_only_the_first_waiter() {
    let server = Server::start();
    let mut first = server.raw();
    let mut second = server.raw();
    first.send("BLPOP q 0");
    server.wait_blocked(1);
    second.send("BLPOP q 0");
    server.wait_blocked(2);
    server.raw().call("LPUSH q x", ":1\r\n");
    first.expect("*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
    assert!(
        second.silent_for(Duration::from_millis(100)),
        "second still waits"
    );
    server.wait_blocked(1);
}

#[test]
fn timeouts_reply_nil_in_the_client_protocol() {
    let server = Server::start();
    let mut c = server.raw();
    let started = Instant::now();
    c.call("BLPOP q 0.1", "*-1\r\n");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(100) && took < Duration::from_secs(2),
        "{took:?}"
    );
    c.call("BLMOVE q d LEFT LEFT 0.05", "*-1\r\n");
    c.send("HELLO 3");
    c.line();
    let mut map = vec![0; 0];
    // Drain the rest of the HELLO map.
    while !String::from_utf8_lossy(&map).ends_with("*0\r\n") {
        let mut b = [0];
        c.stream.read_exact(&mut b).unwrap();
        map.push(b[0]);
    }
    c.call("BLMPOP 0.05 1 q LEFT", "_\r\n");
    server.wait_blocked(0);
}

#[test]
fn a_disconnected_waiter_loses_nothing() {
    let server = Server::start();
    let gone = server.raw();
    let mut gone = gone;
    gone.send("BLPOP q 0");
    server.wait_blocked(1);
    let mut next = server.raw();
    next.send("BLPOP q 0");
    server.wait_blocked(2);
    drop(gone);
    server.wait_blocked(1);
    let mut pusher = server.raw();
    pusher.call("RPUSH q a", ":1\r\n");
    next.expect("*2\r\n$1\r\nq\r\n$1\r\na\r\n");

    let mut alone = server.raw();
    alone.send("BRPOP q 0");
    server.wait_blocked(1);
    drop(alone);
    server.wait_blocked(0);
    pusher.call("RPUSH q b", ":1\r\n");
    pusher.call("LRANGE q 0 -1", "*1\r\n$1\r\nb\r\n");
}

#[test]
fn blmove_moves_into_another_key_when_served() {
    let server = Server::start();
    let mut mover = server.raw();
    mover.send("BLMOVE src dst RIGHT LEFT 0");
    server.wait_blocked(1);
    let mut popper = server.raw();
    popper.send("BLPOP dst 0");
    server.wait_blocked(2);
    let mut pusher = server.raw();
    // Many keys so source and destination sit in different shards for some.
    pusher.call("RPUSH src a b", ":2\r\n");
    mover.expect("$1\r\nb\r\n");
    popper.expect("*2\r\n$3\r\ndst\r\n$1\r\nb\r\n");
    pusher.call("LRANGE src 0 -1", "*1\r\n$1\r\na\r\n");
    mover.send("BRPOPLPUSH empty dst2 0");
    server.wait_blocked(1);
    pusher.call("LPUSH empty z", ":1\r\n");
    mover.expect("$1\r\nz\r\n");
    pusher.call("LRANGE dst2 0 -1", "*1\r\n$1\r\nz\r\n");
}

#[test]
fn blmove_across_many_shards_never_loses_elements() {
    let server = Server::start();
    let mut pusher = server.raw();
    for i in 0..20 {
        let mut mover = server.raw();
        mover.send(&format!("BLMOVE s{i} d{i} LEFT RIGHT 0"));
        server.wait_blocked(1);
        pusher.call(&format!("RPUSH s{i} v{i}"), ":1\r\n");
        mover.expect(&format!("${}\r\nv{i}\r\n", format!("v{i}").len()));
        pusher.call(&format!("LLEN d{i}"), ":1\r\n");
        pusher.call(&format!("EXISTS s{i}"), ":0\r\n");
    }
}

#[test]
fn client_unblock_timeout_and_error() {
    let server = Server::start();
    let mut waiter = server.raw();
    let id = waiter.client_id();
    let mut admin = server.raw();
    waiter.send("BLPOP q 0");
    server.wait_blocked(1);
    admin.call(&format!("CLIENT UNBLOCK {id} TIMEOUT"), ":1\r\n");
    waiter.expect("*-1\r\n");
    waiter.send("BLMPOP 0 1 q LEFT");
    server.wait_blocked(1);
    admin.call(&format!("CLIENT UNBLOCK {id} ERROR"), ":1\r\n");
    waiter.expect("-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
    admin.call(&format!("CLIENT UNBLOCK {id}"), ":0\r\n");
    waiter.call("PING", "+PONG\r\n");
}

#[test]
fn pipelined_commands_wait_behind_a_blocked_one() {
    let server = Server::start();
    let mut c = server.raw();
    c.send("BLPOP q 0\r\nPING");
    server.wait_blocked(1);
    assert!(c.silent_for(Duration::from_millis(50)), "PING must wait");
    server.raw().call("RPUSH q a", ":1\r\n");
    c.expect("*2\r\n$1\r\nq\r\n$1\r\na\r\n+PONG\r\n");
}

#[test]
fn blocked_clients_shows_in_info_and_client_list() {
    let server = Server::start();
    let mut waiter = server.raw();
    waiter.send("BRPOP q 0");
    server.wait_blocked(1);
    let mut admin = server.raw();
    admin.send("CLIENT LIST");
    let header = admin.line();
    let len: usize = header[1..].trim_end().parse().unwrap();
    let mut body = vec![0; len + 2];
    admin.stream.read_exact(&mut body).unwrap();
    assert!(
        String::from_utf8_lossy(&body).contains("flags=b "),
        "the blocked client carries the b flag"
    );
    admin.call("RPUSH q x", ":1\r\n");
    waiter.expect("*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
    server.wait_blocked(0);
}

#[test]
fn client_kill_removes_a_blocked_client() {
    let server = Server::start();
    let mut waiter = server.raw();
    let id = waiter.client_id();
    waiter.send("BLPOP q 0");
    server.wait_blocked(1);
    let mut admin = server.raw();
    admin.call(&format!("CLIENT KILL ID {id}"), ":1\r\n");
    server.wait_blocked(0);
    admin.call("RPUSH q a", ":1\r\n");
    admin.call("LLEN q", ":1\r\n");
}

#[test]
fn swapdb_and_move_serve_clients_blocked_in_the_target_database() {
    let server = Server::start();
    let mut waiter = server.raw();
    waiter.call("SELECT 1", "+OK\r\n");
    waiter.send("BLPOP q 0");
    server.wait_blocked(1);
    let mut admin = server.raw();
    // A list in db 0 becomes db 1's on SWAPDB: the waiter in db 1 gets it.
    admin.call("RPUSH q from-swap", ":1\r\n");
    admin.call("SWAPDB 0 1", "+OK\r\n");
    waiter.expect("*2\r\n$1\r\nq\r\n$9\r\nfrom-swap\r\n");
    server.wait_blocked(0);
    // MOVE into the waiter's database serves it too.
    waiter.send("BLPOP q 0");
    server.wait_blocked(1);
    admin.call("RPUSH q from-move", ":1\r\n");
    admin.call("MOVE q 1", ":1\r\n");
    waiter.expect("*2\r\n$1\r\nq\r\n$9\r\nfrom-move\r\n");
}

/// Redis 7.0: a waiter whose key is deleted or replaced by another type
/// keeps waiting (and is served once the right type comes back); a BLMOVE
/// whose destination has the wrong type gets WRONGTYPE and the source
/// element stays where it was.
#[test]
fn a_waiter_whose_key_changes_type_keeps_waiting_or_gets_wrongtype() {
    let server = Server::start();
    let mut list_waiter = server.raw();
    list_waiter.send("BLPOP k 0");
    server.wait_blocked(1);
    let mut zset_waiter = server.raw();
    zset_waiter.send("BZPOPMIN z 0");
    server.wait_blocked(2);
    let mut admin = server.raw();
    admin.call("SET k str", "+OK\r\n");
    admin.call("SET z str", "+OK\r\n");
    admin.call("DEL z", ":1\r\n");
    assert!(list_waiter.silent_for(Duration::from_millis(100)));
    assert!(zset_waiter.silent_for(Duration::from_millis(1)));
    server.wait_blocked(2);
    admin.call("ZADD z 1 m", ":1\r\n");
    zset_waiter.expect("*3\r\n$1\r\nz\r\n$1\r\nm\r\n$1\r\n1\r\n");
    admin.call("DEL k", ":1\r\n");
    admin.call("RPUSH k v", ":1\r\n");
    list_waiter.expect("*2\r\n$1\r\nk\r\n$1\r\nv\r\n");

    let mut mover = server.raw();
    mover.send("BLMOVE src dst LEFT LEFT 0");
    server.wait_blocked(1);
    admin.call("SET dst str", "+OK\r\n");
    admin.call("RPUSH src a", ":1\r\n");
    mover.expect("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    admin.call("LRANGE src 0 -1", "*1\r\n$1\r\na\r\n");
    server.wait_blocked(0);
}
