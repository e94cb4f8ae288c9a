//! Every command family's events against what redis-server 7.0.15 published
//! for the same script (`expected/*.txt`), plus the flag parsing.

use super::*;
use crate::protocol::parse::{Span, split_args};
use crate::testkit::TestClient;

/// The messages delivered since the last call, as `<db> <key> <event>` lines,
/// checking that every keyspace message is followed by its keyevent twin.
fn delivered_events() -> Vec<String> {
    let sent = capture::take();
    assert!(sent.len() % 2 == 0, "unpaired messages: {sent:?}");
    sent.chunks(2)
        .map(|pair| {
            let (space, event) = (&pair[0], &pair[1]);
            let rest = space.0.strip_prefix("__keyspace@").expect("keyspace first");
            let (db, key) = rest.split_once("__:").expect("channel shape");
            assert_eq!(event.0, format!("__keyevent@{db}__:{}", space.1));
            assert_eq!(event.1, key);
            format!("{db} {key} {}", space.1)
        })
        .collect()
}

/// Runs a script of commands with every class on (`AKEmn`) and returns it
/// annotated with the events each command published, in the fixture format.
fn annotate(script: &str) -> String {
    let mut t = TestClient::new();
    t.run(&["CONFIG", "SET", "notify-keyspace-events", "AKEmn"]);
    capture::take();
    let mut out = String::new();
    for line in script.lines() {
        if line.starts_with("  ") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(ms) = line.strip_prefix("!sleep ") {
            std::thread::sleep(std::time::Duration::from_millis(ms.parse().unwrap()));
            continue;
        }
        let (mut spans, mut bytes) = (Vec::<Span>::new(), Vec::new());
        split_args(line.as_bytes(), &mut spans, &mut bytes).expect("script line");
        let args: Vec<&[u8]> = spans.iter().map(|s| &bytes[s.start..s.end]).collect();
        t.run(&args);
        for event in delivered_events() {
            out.push_str(&format!("  {event}\n"));
        }
    }
    out
}

fn check(script: &str) {
    let got = annotate(script);
    let (want_lines, got_lines): (Vec<_>, Vec<_>) =
        (script.lines().collect(), got.lines().collect());
    if let Some(n) = (0..want_lines.len()).find(|&n| want_lines.get(n) != got_lines.get(n)) {
        let from = n.saturating_sub(6);
        panic!(
            "first difference at line {}:\nwanted:\n{}\ngot:\n{}",
            n + 1,
            want_lines[from..(n + 3).min(want_lines.len())].join("\n"),
            got_lines[from..(n + 3).min(got_lines.len())].join("\n"),
        );
    }
    assert_eq!(script.lines().count(), got.lines().count(), "got:\n{got}");
}

#[test]
fn string_bitmap_and_hyperloglog_events_match_redis() {
    check(include_str!("expected/strings.txt"));
}

#[test]
fn generic_and_expiry_events_match_redis() {
    check(include_str!("expected/keyspace.txt"));
}

#[test]
fn list_events_match_redis() {
    check(include_str!("expected/lists.txt"));
}

#[test]
fn hash_events_match_redis() {
    check(include_str!("expected/hashes.txt"));
}

#[test]
fn set_events_match_redis() {
    check(include_str!("expected/sets.txt"));
}

#[test]
fn sorted_set_events_match_redis() {
    check(include_str!("expected/zsets.txt"));
}

#[test]
fn sort_events_match_redis() {
    check(include_str!("expected/sort.txt"));
}

#[test]
fn flags_follow_the_letters() {
    assert_eq!(flags(""), 0);
    assert_eq!(flags("g$lshzxetdm"), 0, "no K or E: nothing to publish");
    assert_eq!(flags("KA"), KEYSPACE | ALL);
    assert_eq!(flags("AKE") & (NEW | KEY_MISS), 0, "A leaves out n and m");
    assert_eq!(flags("En"), KEYEVENT | NEW);
    assert_eq!(flags("Kx"), KEYSPACE | EXPIRED);
    assert_eq!(flags("Kg$lshzxetdmn"), flags("KAmn"));
}

#[test]
fn only_the_configured_classes_and_channels_are_published() {
    let mut t = TestClient::new();
    t.run(&["CONFIG", "SET", "notify-keyspace-events", "El"]);
    capture::take();
    t.run(&["SET", "s", "v"]);
    t.run(&["RPUSH", "l", "a"]);
    assert_eq!(
        capture::take(),
        [("__keyevent@0__:rpush".to_string(), "l".to_string())]
    );
    t.run(&["CONFIG", "SET", "notify-keyspace-events", "Kg"]);
    t.run(&["SELECT", "3"]);
    t.run(&["SET", "k", "v"]);
    t.run(&["DEL", "k"]);
    assert_eq!(
        capture::take(),
        [("__keyspace@3__:k".to_string(), "del".to_string())]
    );
    t.run(&["CONFIG", "SET", "notify-keyspace-events", ""]);
    t.run(&["SET", "k", "v"]);
    t.run(&["DEL", "k"]);
    assert!(capture::take().is_empty());
}

/// EXEC's commands publish their events as they run, under EXEC's locks.
#[test]
fn commands_run_by_exec_publish_their_events() {
    let mut t = TestClient::new();
    t.run(&["CONFIG", "SET", "notify-keyspace-events", "KA"]);
    t.run(&["MULTI"]);
    t.run(&["SET", "a", "1"]);
    t.run(&["RENAME", "a", "b"]);
    capture::take();
    t.run(&["EXEC"]);
    let events: Vec<_> = delivered_keyspace();
    assert_eq!(events, ["a set", "a rename_from", "b rename_to"]);
}

fn delivered_keyspace() -> Vec<String> {
    capture::take()
        .into_iter()
        .map(|(channel, event)| {
            let key = channel.split_once("__:").unwrap().1.to_string();
            format!("{key} {event}")
        })
        .collect()
}

#[test]
fn a_served_blocked_client_publishes_its_pop() {
    let server = TestClient::new().server;
    let mut waiter = TestClient::on(server.clone());
    let mut pusher = TestClient::on(server);
    pusher.run(&["CONFIG", "SET", "notify-keyspace-events", "KA"]);
    waiter.run(&["BLPOP", "q", "0"]);
    capture::take();
    pusher.run(&["RPUSH", "q", "x"]);
    assert_eq!(delivered_keyspace(), ["q rpush", "q lpop", "q del"]);
}

#[test]
fn read_misses_match_redis() {
    check(include_str!("expected/reads.txt"));
}

#[test]
fn active_expiry_publishes_expired() {
    let mut t = TestClient::new();
    t.run(&["CONFIG", "SET", "notify-keyspace-events", "Ex"]);
    t.run(&["SET", "gone", "v", "PX", "1"]);
    t.run(&["SELECT", "2"]);
    t.run(&["SET", "later", "v", "PX", "1"]);
    t.run(&["SET", "stays", "v", "EX", "100"]);
    std::thread::sleep(std::time::Duration::from_millis(5));
    capture::take();
    // Sampling is random: a few cycles find both keys.
    let (mut next_shard, mut sent) = (0, Vec::new());
    for _ in 0..100 {
        crate::server::active_expire_cycle(
            &t.server,
            &mut rand::rng(),
            &mut next_shard,
            std::time::Duration::from_secs(1),
        );
        sent.extend(capture::take());
        if sent.len() >= 2 {
            break;
        }
    }
    sent.sort();
    assert_eq!(
        sent,
        [
            ("__keyevent@0__:expired".to_string(), "gone".to_string()),
            ("__keyevent@2__:expired".to_string(), "later".to_string()),
        ]
    );
}

#[test]
fn evicted_is_published_only_when_its_class_is_on() {
    let mut t = TestClient::new();
    t.run(&["CONFIG", "SET", "notify-keyspace-events", "KEx"]);
    evicted(&t.server, 1, b"k");
    assert!(capture::take().is_empty());
    t.run(&["CONFIG", "SET", "notify-keyspace-events", "KEe"]);
    evicted(&t.server, 1, b"k");
    assert_eq!(
        capture::take(),
        [
            ("__keyspace@1__:k".to_string(), "evicted".to_string()),
            ("__keyevent@1__:evicted".to_string(), "k".to_string()),
        ]
    );
}

/// CONFIG GET prints Redis's canonical form (values and replies taken from
/// redis-server 7.0.15), and bad letters are refused with its message.
#[test]
fn config_shows_the_canonical_form() {
    let mut t = TestClient::new();
    let cases = [
        ("KEA", "AKE"),
        ("An", "A"),
        ("gn", "gn"),
        ("Kn", "nK"),
        ("AKEmn", "AKEm"),
        ("nKE", "nKE"),
        ("xK", "xK"),
        ("m", "m"),
        ("g$lshzxetd", "A"),
        ("", ""),
    ];
    for (set, shown) in cases {
        assert_eq!(
            t.run(&["CONFIG", "SET", "notify-keyspace-events", set]),
            "+OK\r\n"
        );
        let reply = t.run(&["CONFIG", "GET", "notify-keyspace-events"]);
        assert_eq!(
            reply,
            format!(
                "*2\r\n$22\r\nnotify-keyspace-events\r\n${}\r\n{shown}\r\n",
                shown.len()
            ),
            "after setting {set:?}"
        );
    }
    assert_eq!(
        t.run(&["CONFIG", "SET", "notify-keyspace-events", "KEAa"]),
        "-ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'.\r\n"
    );
}

#[test]
fn edge_cases_match_redis() {
    check(include_str!("expected/edge.txt"));
}
