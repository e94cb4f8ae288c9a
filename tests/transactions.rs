//! MULTI/EXEC/WATCH over real sockets against the built binary: optimistic
//! increments from many clients end with exact totals, EXEC is isolated from
//! every other client, and a push inside EXEC serves a blocked client.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{Conn, ServerProcess};

/// A bulk-string reply's value as an integer (`$-1` counts as 0).
fn bulk_int(reply: &[u8]) -> i64 {
    let text = String::from_utf8_lossy(reply);
    if text == "$-1\r\n" {
        return 0;
    }
    let value = text.split("\r\n").nth(1).expect("bulk reply");
    value.parse().expect("integer value")
}

/// WATCH, read, MULTI, write, EXEC: retried until EXEC succeeds. Returns how
/// many attempts were aborted by another client's write.
fn optimistic_increment(conn: &mut Conn, key: &str, deadline: Instant) -> u64 {
    let mut aborted = 0;
    loop {
        assert!(Instant::now() < deadline, "increment never went through");
        assert_eq!(conn.cmd(&["WATCH", key]), b"+OK\r\n");
        let value = bulk_int(&conn.cmd(&["GET", key]));
        assert_eq!(conn.cmd(&["MULTI"]), b"+OK\r\n");
        let next = (value + 1).to_string();
        assert_eq!(conn.cmd(&["SET", key, &next]), b"+QUEUED\r\n");
        match conn.cmd(&["EXEC"]).as_slice() {
            b"*1\r\n+OK\r\n" => return aborted,
            b"*-1\r\n" => aborted += 1,
            other => panic!("EXEC: {}", String::from_utf8_lossy(other)),
        }
    }
}

#[test]
fn watched_increments_from_many_clients_lose_nothing() {
    const CLIENTS: usize = 6;
    const EACH: usize = 150;
    let server = ServerProcess::ferrokv(&[]);
    let port = server.port;
    let deadline = Instant::now() + Duration::from_secs(60);
    let workers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            thread::spawn(move || {
                let mut conn = Conn::connect(port);
                (0..EACH)
                    .map(|_| optimistic_increment(&mut conn, "counter", deadline))
                    .sum::<u64>()
            })
        })
        .collect();
    let aborted: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let mut conn = server.connect();
    assert_eq!(
        bulk_int(&conn.cmd(&["GET", "counter"])),
        (CLIENTS * EACH) as i64
    );
    // With six clients racing, some attempts must have been refused; if none
    // were, WATCH detected nothing and the total above proves little.
    assert!(aborted > 0, "no EXEC was ever aborted");
}

#[test]
fn exec_is_isolated_from_concurrent_readers() {
    let server = ServerProcess::ferrokv(&[]);
    let port = server.port;
    let stop = Instant::now() + Duration::from_secs(3);
    let writer = thread::spawn(move || {
        let mut conn = Conn::connect(port);
        let mut rounds = 0;
        while Instant::now() < stop && rounds < 20_000 {
            // Keys chosen to land in different shards.
            conn.send_raw(b"MULTI\r\nINCR a\r\nINCR b:other\r\nINCR c{x}\r\nEXEC\r\n");
            for _ in 0..5 {
                conn.read_reply().expect("transaction reply");
            }
            rounds += 1;
        }
        rounds
    });
    let mut reader = Conn::connect(port);
    let mut checked = 0;
    while Instant::now() < stop && checked < 20_000 {
        let reply = reader.cmd(&["MGET", "a", "b:other", "c{x}"]);
        let text = String::from_utf8_lossy(&reply);
        let values: Vec<&str> = text
            .split("\r\n")
            .filter(|l| !l.starts_with('*') && !l.starts_with('$') && !l.is_empty())
            .collect();
        let nulls = text.matches("$-1").count();
        assert!(
            nulls == 3 || (nulls == 0 && values.iter().all(|v| *v == values[0])),
            "saw a transaction half done: {text}"
        );
        checked += 1;
    }
    assert!(writer.join().unwrap() > 0);
    assert!(checked > 0);
}

#[test]
fn a_push_inside_exec_serves_a_blocked_client() {
    let server = ServerProcess::ferrokv(&[]);
    let mut waiter = server.connect();
    waiter.send(&["BLPOP", "jobs", "5"]);
    server.wait_blocked(1);
    let mut pusher = server.connect();
    pusher.send_raw(b"MULTI\r\nRPUSH jobs j1 j2\r\nLLEN jobs\r\nEXEC\r\n");
    for expected in ["+OK\r\n", "+QUEUED\r\n", "+QUEUED\r\n"] {
        assert_eq!(pusher.read_reply().unwrap(), expected.as_bytes());
    }
    // Inside EXEC the list still holds both: the waiter is served after it.
    assert_eq!(pusher.read_reply().unwrap(), b"*2\r\n:2\r\n:2\r\n");
    assert_eq!(
        waiter.read_reply().unwrap(),
        b"*2\r\n$4\r\njobs\r\n$2\r\nj1\r\n"
    );
    assert_eq!(
        pusher.cmd(&["LRANGE", "jobs", "0", "-1"]),
        b"*1\r\n$2\r\nj2\r\n"
    );
}

#[test]
fn a_client_that_disconnects_stops_watching() {
    let server = ServerProcess::ferrokv(&[]);
    {
        let mut conn = server.connect();
        conn.cmd(&["WATCH", "k1", "k2"]);
        conn.cmd(&["MULTI"]);
        conn.cmd(&["SET", "k1", "v"]);
    }
    // The queued SET never ran, and a new client's transaction is unaffected.
    let mut conn = server.connect();
    let deadline = Instant::now() + Duration::from_secs(5);
    while String::from_utf8_lossy(&conn.cmd(&["CLIENT", "LIST"]))
        .matches("id=")
        .count()
        > 1
    {
        assert!(Instant::now() < deadline, "old client never went away");
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(conn.cmd(&["EXISTS", "k1"]), b":0\r\n");
    conn.cmd(&["WATCH", "k1"]);
    conn.cmd(&["MULTI"]);
    conn.cmd(&["SET", "k1", "v"]);
    assert_eq!(conn.cmd(&["EXEC"]), b"*1\r\n+OK\r\n");
}
