//! Limits against bad clients, one test per limit. Each test provokes the
//! limit on one connection, then checks that the server still answers other
//! clients and that the data written before is intact.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Conn, ServerProcess};

/// Writes a sentinel key the test later expects to find unchanged.
fn seed(server: &ServerProcess) {
    let mut c = server.connect();
    assert_eq!(c.cmd(&["SET", "sentinel", "intact"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["RPUSH", "sentinel:list", "a", "b"]), b":2\r\n");
}

/// Another client still gets answers and the sentinel data is unchanged.
fn assert_healthy(server: &ServerProcess) {
    let mut c = connect_when_free(server);
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(c.cmd(&["GET", "sentinel"]), b"$6\r\nintact\r\n");
    assert_eq!(
        c.cmd(&["LRANGE", "sentinel:list", "0", "-1"]),
        b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
}

/// Sends `bytes` (ignoring a write error: the server may close mid-way) and
/// returns everything the server sent until it closed the connection.
fn send_and_read_to_close(conn: &mut Conn, bytes: &[u8]) -> Vec<u8> {
    let _ = conn.stream.write_all(bytes);
    conn.read_to_close()
        .unwrap_or_else(|partial| panic!("still open, got {:?}", common::escape(&partial)))
}

/// A connection whose kernel receive buffer is tiny, so replies it does not
/// read back up into the server quickly.
fn slow_reader(port: u16) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    socket.connect(&addr.into()).unwrap();
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(common::READ_TIMEOUT)).unwrap();
    stream
}

/// Polls CLIENT LIST (bounded) until no client with `id` remains.
fn wait_client_gone(server: &ServerProcess, id: &str, limit: Duration) -> bool {
    let mut admin = server.connect();
    let start = Instant::now();
    while start.elapsed() < limit {
        let list = admin.cmd_text(&["CLIENT", "LIST"]);
        if !list.lines().any(|l| l.starts_with(&format!("id={id} "))) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Connects once a client slot is free (closes are noticed asynchronously).
fn connect_when_free(server: &ServerProcess) -> Conn {
    let start = Instant::now();
    loop {
        let mut c = server.connect();
        if c.try_cmd(&["PING"]) == Ok(b"+PONG\r\n".to_vec()) {
            return c;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "no free slot");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn maxclients_refuses_with_redis_error_and_frees_slots() {
    let server = ServerProcess::ferrokv(&["--maxclients", "3"]);
    seed(&server);
    let mut held: Vec<Conn> = (0..3).map(|_| connect_when_free(&server)).collect();
    let mut extra = server.connect();
    assert_eq!(
        extra.read_to_close().unwrap(),
        b"-ERR max number of clients reached\r\n"
    );
    assert_eq!(held[0].cmd(&["GET", "sentinel"]), b"$6\r\nintact\r\n");
    held.pop();
    // The freed slot is reusable once the server saw the close.
    let mut reused = connect_when_free(&server);
    assert_eq!(reused.cmd(&["GET", "sentinel"]), b"$6\r\nintact\r\n");
    drop((held, reused));
    assert_healthy(&server);
}

#[test]
fn timeout_closes_idle_clients_but_not_subscribers_or_blocked_ones() {
    let server = ServerProcess::ferrokv(&["--timeout", "1"]);
    seed(&server);
    let mut idle = server.connect();
    assert_eq!(idle.cmd(&["PING"]), b"+PONG\r\n");
    let mut subscriber = server.connect();
    subscriber.cmd(&["SUBSCRIBE", "news"]);
    let mut blocked = server.connect();
    blocked.send(&["BLPOP", "queue", "0"]);
    let mut busy = server.connect();

    let start = Instant::now();
    idle.set_timeout(Duration::from_secs(5));
    // Keep `busy` talking while the idle one times out.
    let closed = std::thread::scope(|s| {
        let waiter = s.spawn(|| idle.read_to_close().is_ok());
        while start.elapsed() < Duration::from_millis(2500) {
            assert_eq!(busy.cmd(&["PING"]), b"+PONG\r\n");
            std::thread::sleep(Duration::from_millis(200));
        }
        waiter.join().unwrap()
    });
    assert!(closed, "idle client closed by timeout");
    assert!(start.elapsed() >= Duration::from_secs(1));
    // Exempt clients are still there and still served.
    let mut other = server.connect();
    assert_eq!(other.cmd(&["PUBLISH", "news", "hi"]), b":1\r\n");
    assert_eq!(
        subscriber.read_reply().unwrap(),
        b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
    );
    assert_eq!(other.cmd(&["LPUSH", "queue", "job"]), b":1\r\n");
    assert_eq!(
        blocked.read_reply().unwrap(),
        b"*2\r\n$5\r\nqueue\r\n$3\r\njob\r\n"
    );
    assert_healthy(&server);
}

#[test]
fn timeout_follows_config_set() {
    let server = ServerProcess::ferrokv(&["--timeout", "1"]);
    seed(&server);
    let mut idle = server.connect();
    assert_eq!(idle.cmd(&["PING"]), b"+PONG\r\n");
    let mut admin = server.connect();
    assert_eq!(admin.cmd(&["CONFIG", "SET", "timeout", "100"]), b"+OK\r\n");
    // The deadline armed under `timeout 1` passes; the client stays.
    idle.set_timeout(Duration::from_millis(1600));
    assert!(matches!(
        idle.read_reply(),
        Err(common::ReadError::Timeout { .. })
    ));
    idle.set_timeout(common::READ_TIMEOUT);
    assert_eq!(idle.cmd(&["PING"]), b"+PONG\r\n");
    assert_healthy(&server);
}

/// The server side of the connection whose client end is `local_port`, as
/// /proc/net/tcp shows it: (timer kind, ticks until it fires).
fn server_socket_timer(server_port: u16, client_port: u16) -> Option<(u32, u64)> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let local = format!("0100007F:{server_port:04X}");
    let remote = format!("0100007F:{client_port:04X}");
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.get(1) != Some(&local.as_str()) || f.get(2) != Some(&remote.as_str()) {
            return None;
        }
        let (kind, when) = f.get(5)?.split_once(':')?;
        Some((kind.parse().ok()?, u64::from_str_radix(when, 16).ok()?))
    })
}

#[test]
fn tcp_keepalive_arms_the_socket_timer() {
    let server = ServerProcess::ferrokv(&["--tcp-keepalive", "120"]);
    seed(&server);
    let mut c = server.connect();
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    let port = c.stream.local_addr().unwrap().port();
    // Timer kind 2 is keepalive; ticks are USER_HZ (100 per second).
    let (kind, ticks) = server_socket_timer(server.port, port).expect("socket in /proc/net/tcp");
    assert_eq!(kind, 2, "keepalive timer armed");
    assert!(
        ticks <= 120 * 100 && ticks > 60 * 100,
        "fires within 120 s: {ticks}"
    );

    let mut admin = server.connect();
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "tcp-keepalive", "0"]),
        b"+OK\r\n"
    );
    let mut plain = server.connect();
    assert_eq!(plain.cmd(&["PING"]), b"+PONG\r\n");
    let port = plain.stream.local_addr().unwrap().port();
    let (kind, _) = server_socket_timer(server.port, port).expect("socket in /proc/net/tcp");
    assert_eq!(kind, 0, "no keepalive when tcp-keepalive is 0");
    assert_healthy(&server);
}

#[test]
fn tcp_backlog_sizes_the_listen_queue() {
    let server = ServerProcess::ferrokv(&["--tcp-backlog", "37"]);
    seed(&server);
    // For a listening socket, ss reports the backlog as Send-Q.
    let Ok(out) = std::process::Command::new("ss")
        .args(["-ltnH", &format!("sport = :{}", server.port)])
        .output()
    else {
        eprintln!("SKIPPED: ss not available");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let send_q: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert_eq!(send_q, ["37"], "ss output: {text}");
    assert_healthy(&server);
}

#[test]
fn client_query_buffer_limit_closes_the_client_without_reserving_memory() {
    let server = ServerProcess::ferrokv(&[]);
    seed(&server);
    let mut c = server.connect();
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "client-query-buffer-limit", "1mb"]),
        b"+OK\r\n"
    );
    // A value under the limit is fine.
    let value = vec![b'v'; 900 * 1024];
    assert_eq!(c.cmd(&[&b"SET"[..], b"fits", &value]), b"+OK\r\n");
    let before = server.data_kib();
    // A 20 MB bulk (within proto-max-bulk-len): the client is dropped once
    // its buffered input passes 1 MB, without a reply.
    let mut big = server.connect();
    let mut request = b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$20000000\r\n".to_vec();
    request.extend(std::iter::repeat_n(b'x', 2 * 1024 * 1024));
    assert_eq!(send_and_read_to_close(&mut big, &request), b"");
    assert!(
        server.data_kib() < before + 8 * 1024,
        "no 20 MB reservation: {before} -> {} KiB",
        server.data_kib()
    );
    assert_eq!(c.cmd(&["EXISTS", "big"]), b":0\r\n");
    assert_eq!(c.cmd(&["STRLEN", "fits"]), b":921600\r\n");
    assert_healthy(&server);
}

#[test]
fn proto_max_bulk_len_refuses_longer_bulks() {
    let server = ServerProcess::ferrokv(&[]);
    seed(&server);
    let mut c = server.connect();
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "proto-max-bulk-len", "1mb"]),
        b"+OK\r\n"
    );
    let mut bad = server.connect();
    let reply = send_and_read_to_close(&mut bad, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\nxx");
    assert_eq!(reply, b"-ERR Protocol error: invalid bulk length\r\n");
    // Exactly the limit is accepted.
    let value = vec![b'v'; 1024 * 1024];
    assert_eq!(c.cmd(&[&b"SET"[..], b"k", &value]), b"+OK\r\n");
    assert_healthy(&server);
}

#[test]
fn announced_500_mb_bulk_reserves_nothing_up_front() {
    let server = ServerProcess::ferrokv(&[]);
    seed(&server);
    let before = server.data_kib();
    let mut conns: Vec<Conn> = (0..4).map(|_| server.connect()).collect();
    for c in &mut conns {
        c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$500000000\r\n");
        c.send_raw(&[b'x'; 64 * 1024]);
    }
    // The server has read what was sent (PING on another client proves it is live).
    assert_healthy(&server);
    std::thread::sleep(Duration::from_millis(100));
    let during = server.data_kib();
    eprintln!("4 announced 500 MB bulks: VmData {before} -> {during} KiB");
    assert!(
        during < before + 64 * 1024,
        "4 announced 500 MB bulks cost {} KiB",
        during - before
    );
    drop(conns);
    let mut c = server.connect();
    assert_eq!(c.cmd(&["EXISTS", "k"]), b":0\r\n");
    assert_healthy(&server);
}

#[test]
fn inline_requests_are_limited_to_64_kb() {
    let server = ServerProcess::ferrokv(&[]);
    seed(&server);
    let mut c = server.connect();
    let mut line = b"SET k ".to_vec();
    line.extend(std::iter::repeat_n(b'a', 70 * 1024));
    assert_eq!(
        send_and_read_to_close(&mut c, &line),
        b"-ERR Protocol error: too big inline request\r\n"
    );
    // Just under the limit works.
    let mut ok = server.connect();
    let mut line = b"SET k ".to_vec();
    line.extend(std::iter::repeat_n(b'a', 60 * 1024));
    line.extend_from_slice(b"\r\n");
    ok.send_raw(&line);
    assert_eq!(ok.read_reply().unwrap(), b"+OK\r\n");
    assert_healthy(&server);
}

#[test]
fn multibulk_and_bulk_headers_are_checked() {
    let server = ServerProcess::ferrokv(&[]);
    seed(&server);
    let cases: [(&[u8], &[u8]); 6] = [
        (
            b"*abc\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*3000000000\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n$-5\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n+PING\r\n",
            b"-ERR Protocol error: expected '$', got '+'\r\n",
        ),
        (
            &[&b"*"[..], &[b'1'; 70 * 1024]].concat(),
            b"-ERR Protocol error: too big mbulk count string\r\n",
        ),
        (
            &[&b"*1\r\n$"[..], &[b'1'; 70 * 1024]].concat(),
            b"-ERR Protocol error: too big bulk count string\r\n",
        ),
    ];
    for (input, expected) in cases {
        let mut c = server.connect();
        let reply = send_and_read_to_close(&mut c, &[b"PING\r\n", input].concat());
        assert_eq!(
            common::escape(&reply),
            common::escape(&[b"+PONG\r\n", expected].concat())
        );
    }
    // A huge announced count reserves nothing either.
    let before = server.data_kib();
    let mut c = server.connect();
    c.send_raw(b"*2000000000\r\n$4\r\nPING\r\n");
    assert_healthy(&server);
    assert!(server.data_kib() < before + 16 * 1024);
    assert_healthy(&server);
}

#[test]
fn unauthenticated_clients_may_only_send_small_requests() {
    let server = ServerProcess::ferrokv(&["--requirepass", "secret"]);
    let mut admin = server.connect();
    assert_eq!(admin.cmd(&["AUTH", "secret"]), b"+OK\r\n");
    admin.cmd(&["SET", "sentinel", "intact"]);
    admin.cmd(&["RPUSH", "sentinel:list", "a", "b"]);

    let mut c = server.connect();
    let eleven =
        common::encode_command(&["MSET", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"]);
    assert_eq!(
        send_and_read_to_close(&mut c, &eleven),
        b"-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
    let mut c = server.connect();
    assert_eq!(
        send_and_read_to_close(&mut c, b"*2\r\n$4\r\nAUTH\r\n$16385\r\n"),
        b"-ERR Protocol error: unauthenticated bulk length\r\n"
    );
    // Ten arguments and 16 KB bulks are still fine before AUTH...
    let mut c = server.connect();
    let small = common::encode_command(&["ECHO", &"x".repeat(16384)]);
    c.send_raw(&small);
    assert!(c.read_reply().unwrap().starts_with(b"-NOAUTH"));
    // ...and after AUTH the limits are the normal ones.
    assert_eq!(c.cmd(&["AUTH", "secret"]), b"+OK\r\n");
    c.send_raw(&eleven);
    assert_eq!(c.read_reply().unwrap(), b"+OK\r\n");
    // AUTH lifts the limits for the very next request of the same write.
    let mut c = server.connect();
    c.send_raw(&[common::encode_command(&["AUTH", "secret"]), eleven.clone()].concat());
    assert_eq!(c.read_reply().unwrap(), b"+OK\r\n");
    assert_eq!(c.read_reply().unwrap(), b"+OK\r\n");
    let mut check = server.connect();
    assert_eq!(check.cmd(&["AUTH", "secret"]), b"+OK\r\n");
    assert_eq!(check.cmd(&["GET", "sentinel"]), b"$6\r\nintact\r\n");
    assert_eq!(check.cmd(&["GET", "e"]), b"$1\r\n5\r\n");
}

#[test]
fn output_buffer_hard_limit_drops_a_normal_client() {
    let server = ServerProcess::ferrokv(&[]);
    seed(&server);
    let mut c = server.connect();
    let value = vec![b'v'; 200 * 1024];
    assert_eq!(c.cmd(&[&b"SET"[..], b"big", &value]), b"+OK\r\n");
    assert_eq!(
        c.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 100kb 0 0"
        ]),
        b"+OK\r\n"
    );
    let mut greedy = server.connect();
    assert_eq!(
        send_and_read_to_close(&mut greedy, &common::encode_command(&["GET", "big"])),
        b"",
        "dropped without its reply"
    );
    // Small replies stay under the limit; the data is untouched.
    assert_eq!(c.cmd(&["STRLEN", "big"]), b":204800\r\n");
    assert_healthy(&server);
}

#[test]
fn output_buffer_soft_limit_drops_a_stalled_reader_after_its_seconds() {
    let server = ServerProcess::ferrokv(&[]);
    seed(&server);
    let mut c = server.connect();
    // Far more than the kernel can buffer for the socket, so the write stalls.
    let wmem_max = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|t| t.split_whitespace().nth(2)?.parse::<usize>().ok())
        .unwrap_or(4 << 20);
    let value = vec![b'v'; (3 * wmem_max).clamp(16 << 20, 128 << 20)];
    assert_eq!(c.cmd(&[&b"SET"[..], b"huge", &value]), b"+OK\r\n");
    assert_eq!(
        c.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 0 1mb 1"
        ]),
        b"+OK\r\n"
    );
    let mut stalled = slow_reader(server.port);
    stalled.write_all(b"CLIENT ID\r\n").unwrap();
    let mut buf = [0u8; 64];
    let n = stalled.read(&mut buf).unwrap();
    let id = String::from_utf8_lossy(&buf[1..n]).trim().to_string();
    let start = Instant::now();
    // Asks for the value and never reads it.
    stalled
        .write_all(&common::encode_command(&["GET", "huge"]))
        .unwrap();
    assert!(
        wait_client_gone(&server, &id, Duration::from_secs(10)),
        "stalled reader dropped"
    );
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "not before the soft seconds"
    );
    // A reader that keeps up gets the whole value under the same limit.
    let mut reader = server.connect();
    let reply = reader.cmd(&["GET", "huge"]);
    let header = format!("${}\r\n", value.len());
    assert_eq!(reply.len(), header.len() + value.len() + 2);
    assert_healthy(&server);
}

/// A server with `client-output-buffer-limit pubsub <limit>` and a
/// subscriber to `feed` that never reads: the server, an admin connection,
/// the subscriber's socket (kept open) and its client id.
fn stalled_subscriber(limit: &str) -> (ServerProcess, Conn, TcpStream, String) {
    let server = ServerProcess::ferrokv(&[]);
    seed(&server);
    let mut c = server.connect();
    let set = c.cmd(&[
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        &format!("pubsub {limit}"),
    ]);
    assert_eq!(set, b"+OK\r\n");
    let mut sub = slow_reader(server.port);
    sub.write_all(b"CLIENT ID\r\n").unwrap();
    let mut buf = [0u8; 64];
    let n = sub.read(&mut buf).unwrap();
    let id = String::from_utf8_lossy(&buf[1..n]).trim().to_string();
    sub.write_all(b"SUBSCRIBE feed\r\n").unwrap();
    let n = sub.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"*3\r\n$9\r\nsubscribe"));
    (server, c, sub, id)
}

#[test]
fn output_buffer_pubsub_limit_drops_a_subscriber_that_does_not_read() {
    let (server, _admin, _sub, id) = stalled_subscriber("256kb 128kb 1");
    let mut healthy_sub = server.connect();
    healthy_sub.cmd(&["SUBSCRIBE", "feed"]);

    let message = "m".repeat(1024);
    let mut publisher = server.connect();
    let mut dropped = false;
    let start = Instant::now();
    // Up to 64 MB of messages in rounds the healthy subscriber can keep up
    // with, stopping once the slow subscriber is gone.
    for round in 0..1024 {
        let batch: Vec<u8> = (0..64)
            .flat_map(|_| common::encode_command(&["PUBLISH", "feed", &message]))
            .collect();
        publisher.send_raw(&batch);
        for _ in 0..64 {
            let reply = publisher.read_reply().unwrap();
            assert!(reply.starts_with(b":"), "PUBLISH reply {reply:?}");
            // The healthy subscriber reads everything.
            let pushed = healthy_sub.read_reply().unwrap();
            assert!(pushed.ends_with(format!("{message}\r\n").as_bytes()));
        }
        if round % 16 == 15 && wait_client_gone(&server, &id, Duration::from_millis(1)) {
            dropped = true;
            break;
        }
    }
    assert!(
        dropped,
        "slow subscriber dropped after {:?}",
        start.elapsed()
    );
    assert_eq!(publisher.cmd(&["PUBLISH", "feed", "x"]), b":1\r\n");
    assert_healthy(&server);
}

#[test]
fn glob_matching_is_bounded_on_pathological_patterns() {
    let server = ServerProcess::ferrokv(&[]);
    seed(&server);
    let mut c = server.connect();
    let long = "a".repeat(20_000);
    c.cmd(&["SET", &long, "1"]);
    for i in 0..200 {
        c.cmd(&["SET", &format!("{}{i}", "a".repeat(500)), "1"]);
    }
    let pattern = format!("{}b", "a*".repeat(40));
    let start = Instant::now();
    assert_eq!(c.cmd(&["KEYS", &pattern]), b"*0\r\n");
    eprintln!("KEYS {pattern} over 201 long keys: {:?}", start.elapsed());
    let scan = c.cmd_text(&["SCAN", "0", "MATCH", &pattern, "COUNT", "1000"]);
    assert!(scan.ends_with("*0\r\n"), "{scan}");
    // Classes and escapes take the same bounded path.
    let tricky = format!("{}[^a0-9]", "*[a-z]\\a".repeat(30));
    assert_eq!(c.cmd(&["KEYS", &tricky]), b"*0\r\n");
    let mut sub = server.connect();
    sub.cmd(&["PSUBSCRIBE", &pattern]);
    assert_eq!(c.cmd(&["PUBLISH", &long, "x"]), b":0\r\n");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "took {:?}",
        start.elapsed()
    );
    // And the matcher still finds what it should.
    assert_eq!(
        c.cmd(&["KEYS", "sentinel:l[h-j]s?"]),
        b"*1\r\n$13\r\nsentinel:list\r\n"
    );
    assert_eq!(
        c.cmd(&["KEYS", "sentinel:[^a-k]*"]),
        b"*1\r\n$13\r\nsentinel:list\r\n"
    );
    assert_healthy(&server);
}

/// The pubsub class's soft limit alone: a subscriber over it is kept for
/// the soft seconds, then dropped at the next message (Redis checks limits
/// when output is added).
#[test]
fn output_buffer_pubsub_soft_limit_drops_a_subscriber_after_its_seconds() {
    let (server, mut c, _sub, id) = stalled_subscriber("0 256kb 1");

    // 16 MB at once: far over the soft limit, more than the kernel buffers.
    let message = "m".repeat(1024);
    let mut publisher = server.connect();
    let start = Instant::now();
    let batch: Vec<u8> = (0..1024)
        .flat_map(|_| common::encode_command(&["PUBLISH", "feed", &message]))
        .collect();
    for _ in 0..16 {
        publisher.send_raw(&batch);
        for _ in 0..1024 {
            assert!(publisher.read_reply().unwrap().starts_with(b":"));
        }
    }
    let burst = start.elapsed();
    if burst < Duration::from_millis(800) {
        let list = c.cmd_text(&["CLIENT", "LIST"]);
        assert!(
            list.lines().any(|l| l.starts_with(&format!("id={id} "))),
            "dropped before the soft seconds"
        );
    }
    // Small messages, one every 50 ms, until it is gone (bounded).
    let mut dropped = false;
    while start.elapsed() < Duration::from_secs(10) {
        publisher.cmd(&["PUBLISH", "feed", "tick"]);
        if wait_client_gone(&server, &id, Duration::from_millis(50)) {
            dropped = true;
            break;
        }
    }
    assert!(dropped, "subscriber over the soft limit dropped");
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "not before the soft seconds"
    );
    assert_eq!(publisher.cmd(&["PUBLISH", "feed", "x"]), b":0\r\n");
    assert_healthy(&server);
}
