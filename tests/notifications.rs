//! Keyspace notifications end to end, over real sockets against the built
//! binary: a pattern subscriber on `__key*__:*` sees exactly what it sees
//! from redis-server for the same commands, expiry (lazy and active)
//! publishes `expired`, the `K`/`E`/`n` classes select what is sent, and
//! turning notifications off at run time stops them.

mod common;

use std::time::{Duration, Instant};

use common::{Conn, ServerProcess, escape, split_aggregate};

/// What `PUBLISH` marks the end of a command's events with.
const MARKER_CHANNEL: &str = "__keyspace@0__:end-of-command";

/// A subscriber to every keyspace and keyevent channel.
fn subscribe(port: u16) -> Conn {
    let mut sub = Conn::connect(port);
    sub.cmd(&["PSUBSCRIBE", "__key*__:*"]);
    sub
}

/// `(channel, message)` of one `pmessage` push.
fn parse_pmessage(frame: &[u8]) -> (String, String) {
    let (_, parts) = split_aggregate(frame).expect("an array");
    let text = |part: &[u8]| {
        let body = &part[part.iter().position(|&b| b == b'\n').unwrap() + 1..part.len() - 2];
        String::from_utf8_lossy(body).into_owned()
    };
    assert_eq!(text(parts[0]), "pmessage", "{}", escape(frame));
    (text(parts[2]), text(parts[3]))
}

/// Reads messages until `last` (a channel) arrives; returns the raw frames
/// before it.
fn read_until(sub: &mut Conn, last: &str) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    loop {
        let frame = sub.read_reply().expect("a keyspace message");
        if parse_pmessage(&frame).0 == last {
            return frames;
        }
        frames.push(frame);
    }
}

/// The events one command published, in order, read up to a marker.
fn events_of(client: &mut Conn, sub: &mut Conn, args: &[&str]) -> Vec<(String, String)> {
    client.cmd(args);
    client.cmd(&["PUBLISH", MARKER_CHANNEL, "x"]);
    read_until(sub, MARKER_CHANNEL)
        .iter()
        .map(|f| parse_pmessage(f))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(c, m)| (c.to_string(), m.to_string()))
        .collect()
}

/// Every `expected/*.txt` script (the commands; the events listed there are
/// for the unit tests) replayed on ferrokv and on redis-server: the
/// subscriber's bytes must be identical, command by command.
#[test]
fn subscriber_sees_the_same_bytes_as_from_redis() {
    // Active expiry off on both sides, so expired keys go when a command
    // meets them, never at a random moment in between.
    let Some(redis) = ServerProcess::redis_with(&["--enable-debug-command", "yes"]) else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    let ours = ServerProcess::ferrokv(&["--enable-debug-command", "yes"]);
    let scripts = [
        include_str!("../src/server/notify/expected/strings.txt"),
        include_str!("../src/server/notify/expected/keyspace.txt"),
        include_str!("../src/server/notify/expected/lists.txt"),
        include_str!("../src/server/notify/expected/hashes.txt"),
        include_str!("../src/server/notify/expected/sets.txt"),
        include_str!("../src/server/notify/expected/zsets.txt"),
        include_str!("../src/server/notify/expected/sort.txt"),
        include_str!("../src/server/notify/expected/reads.txt"),
        include_str!("../src/server/notify/expected/edge.txt"),
    ];
    let mut sides: Vec<(Conn, Conn, &str)> = [(&redis, "redis"), (&ours, "ferrokv")]
        .into_iter()
        .map(|(server, name)| {
            let mut client = server.connect();
            client.cmd(&["CONFIG", "SET", "notify-keyspace-events", "AKEmn"]);
            assert_eq!(
                client.cmd_text(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]),
                "+OK\r\n"
            );
            (client, subscribe(server.port), name)
        })
        .collect();
    let mut commands_with_events = 0;
    for script in scripts {
        for (client, _, _) in sides.iter_mut() {
            client.cmd(&["FLUSHALL"]);
        }
        for line in script.lines() {
            if line.is_empty() || line.starts_with('#') || line.starts_with("  ") {
                continue;
            }
            if let Some(ms) = line.strip_prefix("!sleep ") {
                std::thread::sleep(Duration::from_millis(ms.parse().unwrap()));
                continue;
            }
            let args = shell_words(line);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let streams: Vec<Vec<u8>> = sides
                .iter_mut()
                .map(|(client, sub, _)| {
                    client.cmd(&args);
                    client.cmd(&["PUBLISH", MARKER_CHANNEL, "x"]);
                    read_until(sub, MARKER_CHANNEL).concat()
                })
                .collect();
            assert_eq!(
                escape(&streams[0]),
                escape(&streams[1]),
                "after `{line}`: {} then {}",
                sides[0].2,
                sides[1].2
            );
            commands_with_events += !streams[0].is_empty() as usize;
        }
    }
    assert!(commands_with_events > 150, "only {commands_with_events}");
}

/// Splits a script line on spaces; `""` is an empty argument (all the
/// quoting the scripts use).
fn shell_words(line: &str) -> Vec<String> {
    line.split(' ')
        .filter(|w| !w.is_empty())
        .map(|w| {
            if w == "\"\"" {
                String::new()
            } else {
                w.to_string()
            }
        })
        .collect()
}

#[test]
fn lazy_expiry_publishes_expired_before_the_miss() {
    let server = ServerProcess::ferrokv(&["--enable-debug-command", "yes"]);
    let mut client = server.connect();
    client.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KExm"]);
    client.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    let mut sub = subscribe(server.port);
    client.cmd(&["SET", "k", "v", "PX", "1"]);
    std::thread::sleep(Duration::from_millis(10));
    assert_eq!(
        events_of(&mut client, &mut sub, &["GET", "k"]),
        pairs(&[
            ("__keyspace@0__:k", "expired"),
            ("__keyevent@0__:expired", "k"),
            ("__keyspace@0__:k", "keymiss"),
            ("__keyevent@0__:keymiss", "k"),
        ])
    );
}

#[test]
fn active_expiry_publishes_expired() {
    let server = ServerProcess::ferrokv(&["--notify-keyspace-events", "Ex", "--hz", "100"]);
    let mut client = server.connect();
    let mut sub = subscribe(server.port);
    client.cmd(&["SELECT", "5"]);
    client.cmd(&["SET", "soon", "v", "PX", "20"]);
    // Nobody reads the key: only the cron can find it.
    sub.set_timeout(Duration::from_secs(5));
    let started = Instant::now();
    let frame = sub.read_reply().expect("an expired event from the cron");
    assert_eq!(
        parse_pmessage(&frame),
        ("__keyevent@5__:expired".to_string(), "soon".to_string())
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn keyevent_only_config_sends_no_keyspace_messages() {
    let server = ServerProcess::ferrokv(&["--notify-keyspace-events", "E$g"]);
    let mut client = server.connect();
    let mut sub = subscribe(server.port);
    assert_eq!(
        events_of(&mut client, &mut sub, &["MSET", "a", "1", "b", "2"]),
        pairs(&[("__keyevent@0__:set", "a"), ("__keyevent@0__:set", "b")])
    );
    // Lists are not among the classes.
    assert_eq!(events_of(&mut client, &mut sub, &["RPUSH", "l", "x"]), []);
    assert_eq!(
        events_of(&mut client, &mut sub, &["DEL", "a", "l"]),
        pairs(&[("__keyevent@0__:del", "a"), ("__keyevent@0__:del", "l")])
    );
}

#[test]
fn new_key_events_come_first_and_only_for_new_keys() {
    let server = ServerProcess::ferrokv(&["--notify-keyspace-events", "Kn$"]);
    let mut client = server.connect();
    let mut sub = subscribe(server.port);
    assert_eq!(
        events_of(&mut client, &mut sub, &["SET", "fresh", "1"]),
        pairs(&[
            ("__keyspace@0__:fresh", "new"),
            ("__keyspace@0__:fresh", "set")
        ])
    );
    assert_eq!(
        events_of(&mut client, &mut sub, &["INCR", "fresh"]),
        pairs(&[("__keyspace@0__:fresh", "incrby")])
    );
}

#[test]
fn disabling_at_run_time_stops_the_events() {
    let server = ServerProcess::ferrokv(&["--notify-keyspace-events", "KA"]);
    let mut client = server.connect();
    let mut sub = subscribe(server.port);
    assert_eq!(
        events_of(&mut client, &mut sub, &["SET", "k", "1"]),
        pairs(&[("__keyspace@0__:k", "set")])
    );
    client.cmd(&["CONFIG", "SET", "notify-keyspace-events", ""]);
    assert_eq!(events_of(&mut client, &mut sub, &["SET", "k", "2"]), []);
    assert_eq!(events_of(&mut client, &mut sub, &["DEL", "k"]), []);
    client.cmd(&["CONFIG", "SET", "notify-keyspace-events", "Kg"]);
    client.cmd(&["SET", "k", "3"]);
    assert_eq!(
        events_of(&mut client, &mut sub, &["DEL", "k"]),
        pairs(&[("__keyspace@0__:k", "del")])
    );
}
