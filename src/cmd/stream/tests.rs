use proptest::prelude::*;

use super::{NewId, next_id, parse_bound, parse_id};
use crate::cmd::spec::assert_specs_match_redis;
use crate::db::stream::StreamId;
use crate::testkit::TestClient;

#[test]
fn specs_match_redis_command_info() {
    let top: Vec<_> = super::COMMANDS
        .iter()
        .filter(|s| s.subcommands.is_empty())
        .collect();
    assert_specs_match_redis(
        top,
        &[
            (
                "xadd",
                -5,
                "write denyoom fast",
                (1, 1, 1),
                "write stream fast",
            ),
            ("xlen", 2, "readonly fast", (1, 1, 1), "read stream fast"),
            ("xrange", -4, "readonly", (1, 1, 1), "read stream slow"),
            ("xrevrange", -4, "readonly", (1, 1, 1), "read stream slow"),
            ("xdel", -3, "write fast", (1, 1, 1), "write stream fast"),
            ("xtrim", -4, "write", (1, 1, 1), "write stream slow"),
            (
                "xsetid",
                -3,
                "write denyoom fast",
                (1, 1, 1),
                "write stream fast",
            ),
            (
                "xread",
                -4,
                "readonly blocking movablekeys",
                (0, 0, 0),
                "read stream slow blocking",
            ),
            (
                "xreadgroup",
                -7,
                "write blocking movablekeys",
                (0, 0, 0),
                "write stream slow blocking",
            ),
            ("xack", -4, "write fast", (1, 1, 1), "write stream fast"),
            ("xpending", -3, "readonly", (1, 1, 1), "read stream slow"),
            ("xclaim", -6, "write fast", (1, 1, 1), "write stream fast"),
            (
                "xautoclaim",
                -6,
                "write fast",
                (1, 1, 1),
                "write stream fast",
            ),
        ],
    );
    let container = |name| super::COMMANDS.iter().find(|s| s.name == name).unwrap();
    for name in ["xgroup", "xinfo"] {
        let spec = container(name);
        assert!(spec.flag_names().is_empty(), "{name}");
        assert_eq!(spec.acl_names(), ["slow"], "{name}");
    }
    assert_specs_match_redis(
        container("xgroup").subcommands,
        &[
            (
                "create",
                -5,
                "write denyoom",
                (2, 2, 1),
                "write stream slow",
            ),
            ("setid", -5, "write", (2, 2, 1), "write stream slow"),
            ("destroy", 4, "write", (2, 2, 1), "write stream slow"),
            (
                "createconsumer",
                5,
                "write denyoom",
                (2, 2, 1),
                "write stream slow",
            ),
            ("delconsumer", 5, "write", (2, 2, 1), "write stream slow"),
            ("help", 2, "loading stale", (0, 0, 0), "stream slow"),
        ],
    );
    assert_specs_match_redis(
        container("xinfo").subcommands,
        &[
            ("stream", -3, "readonly", (2, 2, 1), "read stream slow"),
            ("groups", 3, "readonly", (2, 2, 1), "read stream slow"),
            ("consumers", 4, "readonly", (2, 2, 1), "read stream slow"),
            ("help", 2, "loading stale", (0, 0, 0), "stream slow"),
        ],
    );
}

#[test]
fn xread_keys_are_the_first_half_after_streams() {
    let args: crate::cmd::args::OwnedArgs = ["XREAD", "COUNT", "2", "STREAMS", "a", "b", "0", "$"]
        .iter()
        .collect();
    let mut keys = Vec::new();
    super::read::xread_keys(&args.view(), &mut keys);
    assert_eq!(keys, [4, 5]);
    let args: crate::cmd::args::OwnedArgs =
        ["XREADGROUP", "GROUP", "streams", "c", "STREAMS", "k", ">"]
            .iter()
            .collect();
    keys.clear();
    super::read::xreadgroup_keys(&args.view(), &mut keys);
    assert_eq!(keys, [5], "a group named 'streams' is not the keyword");
}

#[test]
fn ids_and_bounds_parse_as_redis_does() {
    assert_eq!(parse_id(b"5", 0).unwrap(), StreamId::new(5, 0));
    assert_eq!(
        parse_id(b"5", u64::MAX).unwrap(),
        StreamId::new(5, u64::MAX)
    );
    assert_eq!(parse_id(b"-", 0).unwrap(), StreamId::MIN);
    assert_eq!(parse_id(b"+", 0).unwrap(), StreamId::MAX);
    for bad in ["", "x", "1-", "-1", "1-2-3", "18446744073709551616", " 1"] {
        assert!(parse_id(bad.as_bytes(), 0).is_err(), "{bad:?}");
    }
    assert_eq!(parse_bound(b"(5-0", true).unwrap(), StreamId::new(5, 1));
    assert_eq!(
        parse_bound(b"(5-0", false).unwrap(),
        StreamId::new(4, u64::MAX)
    );
    assert!(parse_bound(b"(-", true).is_err());
    assert_eq!(
        parse_bound(b"(0-0", false).unwrap_err().to_string(),
        "ERR invalid end ID for the interval"
    );
}

proptest! {
    /// Every ID XADD hands out is above the last one, and follows the rules
    /// of each form: `*` uses the clock when it is ahead, `ms-*` keeps its
    /// milliseconds, explicit IDs are taken as given.
    #[test]
    fn generated_ids_always_grow(
        last_ms in 0u64..1000, last_seq in prop_oneof![0u64..5, Just(u64::MAX)],
        now in 0u64..1000, ms in 0u64..1000, seq in 0u64..5, form in 0u8..3,
    ) {
        let last = StreamId::new(last_ms, last_seq);
        let wanted = match form {
            0 => NewId::Auto,
            1 => NewId::AutoSeq(ms),
            _ => NewId::Explicit(StreamId::new(ms, seq)),
        };
        match next_id(last, wanted, now) {
            Ok(id) => {
                prop_assert!(id > last);
                match wanted {
                    NewId::Auto if now > last_ms => prop_assert_eq!(id, StreamId::new(now, 0)),
                    NewId::Auto => prop_assert_eq!(Some(id), last.next()),
                    NewId::AutoSeq(ms) => {
                        prop_assert_eq!(id.ms, ms);
                        prop_assert_eq!(id.seq, if ms > last_ms { 0 } else { last_seq + 1 });
                    }
                    NewId::Explicit(given) => prop_assert_eq!(id, given),
                }
            }
            Err(e) => {
                prop_assert!(e.to_string().contains("equal or smaller"));
                let possible = match wanted {
                    NewId::Auto => last.next().is_some(),
                    NewId::AutoSeq(ms) => ms > last_ms || (ms == last_ms && last_seq < u64::MAX),
                    NewId::Explicit(given) => given > last,
                };
                prop_assert!(!possible);
            }
        }
    }
}

#[test]
fn trimming_on_xadd_keeps_the_newest_entries() {
    let mut c = TestClient::new();
    for n in 1..=5 {
        c.run(&["XADD", "s", "MAXLEN", "3", &format!("{n}-0"), "f", "v"]);
    }
    assert_eq!(c.run(&["XLEN", "s"]), ":3\r\n");
    assert!(
        c.run(&["XRANGE", "s", "-", "+", "COUNT", "1"])
            .contains("3-0")
    );
    assert_eq!(
        c.run(&["XADD", "s", "MINID", "5", "6-0", "f", "v"]),
        "$3\r\n6-0\r\n"
    );
    assert_eq!(c.run(&["XLEN", "s"]), ":2\r\n");
}

#[test]
fn generic_commands_see_a_stream() {
    let mut c = TestClient::new();
    c.run(&["XADD", "s", "1-0", "f", "v"]);
    assert_eq!(c.run(&["TYPE", "s"]), "+stream\r\n");
    assert_eq!(c.run(&["OBJECT", "ENCODING", "s"]), "$6\r\nstream\r\n");
    assert!(c.run(&["MEMORY", "USAGE", "s"]).starts_with(':'));
    assert_eq!(
        c.run(&["GET", "s"]),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
}

#[test]
fn watch_sees_stream_writes() {
    let mut a = TestClient::new();
    let mut b = TestClient::on(a.server.clone());
    a.run(&["XADD", "s", "1-0", "f", "v"]);
    a.run(&["WATCH", "s"]);
    b.run(&["XADD", "s", "2-0", "f", "v"]);
    a.run(&["MULTI"]);
    a.run(&["XLEN", "s"]);
    assert_eq!(a.run(&["EXEC"]), "*-1\r\n");
}
