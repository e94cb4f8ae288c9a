//! Pub/Sub against the real binary: fan-out to many subscribers in order,
//! pattern and channel double delivery, a subscriber that never reads being
//! cut off at its output limit without hurting anyone else, CLIENT LIST/KILL
//! for subscribers, and the `redis` crate's pubsub API.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::{Conn, ServerProcess, encode_command};

fn frame(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", parts.len()).into_bytes();
    for part in parts {
        out.extend_from_slice(format!("${}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A (p|s)subscribe confirmation: two bulk strings and the count.
fn confirmation(word: &str, name: &str, count: i64) -> Vec<u8> {
    format!(
        "*3\r\n${}\r\n{word}\r\n${}\r\n{name}\r\n:{count}\r\n",
        word.len(),
        name.len()
    )
    .into_bytes()
}

fn subscriber(server: &ServerProcess, channel: &str) -> Conn {
    let mut conn = server.connect();
    let confirmed = conn.cmd(&["SUBSCRIBE", channel]);
    assert_eq!(confirmed, confirmation("subscribe", channel, 1));
    conn
}

fn numsub(conn: &mut Conn, channel: &str) -> i64 {
    let reply = conn.cmd_text(&["PUBSUB", "NUMSUB", channel]);
    reply
        .rsplit(':')
        .next()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("NUMSUB reply {reply:?}"))
}

#[test]
fn every_subscriber_gets_every_message_in_order() {
    const SUBSCRIBERS: usize = 40;
    const MESSAGES: usize = 200;
    let server = ServerProcess::ferrokv(&[]);
    let mut subs: Vec<Conn> = (0..SUBSCRIBERS)
        .map(|_| subscriber(&server, "hot"))
        .collect();
    let mut publisher = server.connect();
    for i in 0..MESSAGES {
        let reply = publisher.cmd_text(&["PUBLISH", "hot", &format!("m{i}")]);
        assert_eq!(reply, format!(":{SUBSCRIBERS}\r\n"));
    }
    for sub in &mut subs {
        for i in 0..MESSAGES {
            let expected = frame(&[b"message", b"hot", format!("m{i}").as_bytes()]);
            assert_eq!(sub.read_reply().expect("message"), expected);
        }
    }
}

#[test]
fn channel_and_pattern_subscriptions_each_count() {
    let server = ServerProcess::ferrokv(&[]);
    let mut both = subscriber(&server, "news.eu");
    both.cmd(&["PSUBSCRIBE", "news.*"]);
    let mut pattern_only = server.connect();
    pattern_only.cmd(&["PSUBSCRIBE", "news.*"]);
    let mut publisher = server.connect();
    assert_eq!(publisher.cmd_text(&["PUBLISH", "news.eu", "hi"]), ":3\r\n");
    assert_eq!(publisher.cmd_text(&["PUBLISH", "news.us", "yo"]), ":2\r\n");
    assert_eq!(publisher.cmd_text(&["PUBLISH", "sport", "no"]), ":0\r\n");
    assert_eq!(publisher.cmd_text(&["PUBSUB", "NUMPAT"]), ":1\r\n");
    let pmessage = |channel: &[u8], body: &[u8]| frame(&[b"pmessage", b"news.*", channel, body]);
    assert_eq!(
        both.read_reply().unwrap(),
        frame(&[b"message", b"news.eu", b"hi"])
    );
    assert_eq!(both.read_reply().unwrap(), pmessage(b"news.eu", b"hi"));
    assert_eq!(both.read_reply().unwrap(), pmessage(b"news.us", b"yo"));
    assert_eq!(
        pattern_only.read_reply().unwrap(),
        pmessage(b"news.eu", b"hi")
    );
    assert_eq!(
        pattern_only.read_reply().unwrap(),
        pmessage(b"news.us", b"yo")
    );
}

/// A subscriber that never reads is disconnected once its backlog passes the
/// pubsub hard limit; memory stays bounded, and a reading subscriber and
/// other clients carry on.
#[test]
fn slow_subscriber_is_cut_off_at_the_hard_limit() {
    const PAYLOAD: usize = 16 * 1024;
    const MAX_MESSAGES: usize = 20_000; // 320 MB if nothing stopped it
    const BATCH: usize = 64;
    let server = ServerProcess::ferrokv(&["--client-output-buffer-limit", "pubsub 2mb 0 0"]);
    let mut stalled = subscriber(&server, "firehose");
    let reader = subscriber(&server, "firehose");
    let reading = std::thread::spawn(move || {
        let mut reader = reader;
        let mut received = 0usize;
        loop {
            let reply = reader.read_reply().expect("reader keeps its connection");
            if reply.ends_with(b"$4\r\ndone\r\n") {
                return received;
            }
            received += 1;
        }
    });
    let rss_before = server.rss_kib();
    let mut publisher = server.connect();
    let payload = vec![b'x'; PAYLOAD];
    let command = encode_command(&[b"PUBLISH".as_slice(), b"firehose", &payload]);
    let started = Instant::now();
    let mut published = 0;
    let mut peak_rss = rss_before;
    while published < MAX_MESSAGES && started.elapsed() < Duration::from_secs(30) {
        let pipeline = command.repeat(BATCH);
        publisher.stream.write_all(&pipeline).unwrap();
        for _ in 0..BATCH {
            publisher.read_reply().expect("publish reply");
        }
        published += BATCH;
        peak_rss = peak_rss.max(server.rss_kib());
        if numsub(&mut publisher, "firehose") == 1 {
            break;
        }
    }
    eprintln!("cut off after {published} messages; RSS {rss_before} -> {peak_rss} KiB");
    assert_eq!(numsub(&mut publisher, "firehose"), 1, "stalled one dropped");
    assert!(
        published * PAYLOAD < 64 << 20,
        "cut off after {published} messages"
    );
    assert!(
        peak_rss < rss_before + 64 * 1024,
        "RSS grew from {rss_before} to {peak_rss} KiB"
    );
    assert_eq!(publisher.cmd(&["PING"]), b"+PONG\r\n");
    publisher.cmd(&["PUBLISH", "firehose", "done"]);
    assert_eq!(reading.join().unwrap(), published, "reader got everything");
    // The stalled connection is closed after whatever the kernel buffered.
    stalled.set_timeout(Duration::from_secs(5));
    assert!(stalled.read_to_close().is_ok(), "stalled client closed");
}

#[test]
fn client_list_and_kill_know_subscribers() {
    let server = ServerProcess::ferrokv(&[]);
    let mut sub = subscriber(&server, "c");
    sub.cmd(&["PSUBSCRIBE", "p*"]);
    sub.cmd(&["SSUBSCRIBE", "s"]);
    let mut admin = server.connect();
    let list = admin.cmd_text(&["CLIENT", "LIST", "TYPE", "pubsub"]);
    assert!(list.contains("flags=P db=0 sub=1 psub=1 ssub=1"), "{list}");
    assert!(list.contains("omem=0"), "{list}");
    assert_eq!(
        admin.cmd_text(&["CLIENT", "KILL", "TYPE", "pubsub"]),
        ":1\r\n"
    );
    sub.set_timeout(Duration::from_secs(5));
    assert!(sub.read_to_close().is_ok());
    let deadline = Instant::now() + Duration::from_secs(5);
    while numsub(&mut admin, "c") != 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(numsub(&mut admin, "c"), 0);
    assert_eq!(admin.cmd_text(&["PUBSUB", "NUMPAT"]), ":0\r\n");
    let info = admin.cmd_text(&["INFO", "stats"]);
    assert!(info.contains("pubsub_channels:0\r\n"), "{info}");
}

#[test]
fn redis_crate_pubsub_api_works() {
    let server = ServerProcess::ferrokv(&[]);
    let url = format!("redis://127.0.0.1:{}/", server.port);
    let client = redis::Client::open(url).unwrap();
    let mut sub_conn = client.get_connection().unwrap();
    let mut publisher = client.get_connection().unwrap();
    let mut pubsub = sub_conn.as_pubsub();
    pubsub.subscribe("orders").unwrap();
    pubsub.psubscribe("ord*").unwrap();
    pubsub
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let receivers: i64 = redis::cmd("PUBLISH")
        .arg("orders")
        .arg("42")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(receivers, 2);
    let direct = pubsub.get_message().unwrap();
    assert_eq!(direct.get_channel_name(), "orders");
    assert_eq!(direct.get_payload::<i64>().unwrap(), 42);
    let by_pattern = pubsub.get_message().unwrap();
    assert_eq!(by_pattern.get_pattern::<String>().unwrap(), "ord*");
    assert_eq!(by_pattern.get_payload::<String>().unwrap(), "42");
    pubsub.unsubscribe("orders").unwrap();
    pubsub.punsubscribe("ord*").unwrap();
    drop(pubsub);
    // Back to a normal connection once every subscription is gone.
    let pong: String = redis::cmd("PING").query(&mut sub_conn).unwrap();
    assert_eq!(pong, "PONG");
}

/// The `normal` class bounds replies a client pipelines but never reads.
#[test]
fn normal_client_over_its_limit_is_dropped() {
    let server = ServerProcess::ferrokv(&["--client-output-buffer-limit", "normal 1mb 0 0"]);
    let mut setup = server.connect();
    let big = vec![b'v'; 256 * 1024];
    setup.cmd(&[b"SET".as_slice(), b"big", &big]);
    let mut greedy = server.connect();
    greedy
        .stream
        .write_all(&encode_command(&["GET", "big"]).repeat(64))
        .unwrap();
    greedy.set_timeout(Duration::from_secs(5));
    let received = greedy.read_to_close().expect("connection closed");
    assert!(
        received.len() < 64 * big.len(),
        "got {} bytes",
        received.len()
    );
    assert_eq!(setup.cmd(&["STRLEN", "big"]), b":262144\r\n");
    // Within the limit nothing happens.
    assert_eq!(setup.cmd(&["GET", "big"]).len(), big.len() + 11);
}

/// A RESP3 subscriber blocked in BLPOP still receives its messages, as in
/// Redis, and then the BLPOP reply.
#[test]
fn blocked_resp3_subscriber_hears_messages() {
    let server = ServerProcess::ferrokv(&[]);
    let mut sub = server.connect();
    sub.cmd(&["HELLO", "3"]);
    sub.cmd(&["SUBSCRIBE", "c"]);
    sub.send(&["BLPOP", "l", "5"]);
    let mut other = server.connect();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !other.cmd_text(&["CLIENT", "LIST"]).contains("flags=Pb") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(other.cmd_text(&["PUBLISH", "c", "hi"]), ":1\r\n");
    assert_eq!(
        sub.read_reply().unwrap(),
        b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n"
    );
    other.cmd(&["RPUSH", "l", "x"]);
    assert_eq!(sub.read_reply().unwrap(), b"*2\r\n$1\r\nl\r\n$1\r\nx\r\n");
}
