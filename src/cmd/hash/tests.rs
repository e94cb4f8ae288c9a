//! Hash command tests: replies as raw RESP, encodings, and a model check.

use crate::config::Config;
use crate::db::Value;
use crate::testkit::TestClient;

fn client() -> TestClient {
    TestClient::new()
}

/// A client whose hashes convert to a table past 4 pairs or 8-byte strings.
fn small_limits() -> TestClient {
    TestClient::with_config(Config {
        hash_max_listpack_entries: 4,
        hash_max_listpack_value: 8,
        ..Config::default()
    })
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

fn array(items: &[&str]) -> String {
    let mut out = format!("*{}\r\n", items.len());
    for item in items {
        out += &bulk(item);
    }
    out
}

/// OBJECT ENCODING of `key`, read straight from the keyspace.
fn encoding(t: &mut TestClient, key: &str) -> String {
    let mut locked = t.server.keyspace.lock_all();
    let mut db = locked.db(0, crate::cmd::now_ms());
    let entry = db.get(key.as_bytes()).expect("key exists");
    assert!(matches!(entry.value, Value::Hash(_)));
    entry.value.encoding().to_string()
}

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

#[test]
fn hset_counts_new_fields_and_keeps_insertion_order() {
    let mut t = client();
    assert_eq!(t.run(&["HSET", "h", "b", "1", "a", "2"]), ":2\r\n");
    assert_eq!(
        t.run(&["HSET", "h", "b", "3", "c", "4", "c", "5"]),
        ":1\r\n"
    );
    assert_eq!(
        t.run(&["HGETALL", "h"]),
        array(&["b", "3", "a", "2", "c", "5"])
    );
    assert_eq!(t.run(&["HKEYS", "h"]), array(&["b", "a", "c"]));
    assert_eq!(t.run(&["HVALS", "h"]), array(&["3", "2", "5"]));
    assert_eq!(t.run(&["HMSET", "h", "d", "6"]), "+OK\r\n");
    assert_eq!(t.run(&["HLEN", "h"]), ":4\r\n");
    assert_eq!(
        t.run(&["HSET", "h", "x"]),
        "-ERR wrong number of arguments for 'hset' command\r\n"
    );
    assert_eq!(
        t.run(&["HMSET", "h", "x", "1", "y"]),
        "-ERR wrong number of arguments for 'hmset' command\r\n"
    );
    assert_eq!(encoding(&mut t, "h"), "listpack");
}

#[test]
fn writes_keep_the_ttl() {
    let mut t = client();
    t.run(&["HSET", "h", "f", "1"]);
    let far = crate::cmd::now_ms() + 1_000_000;
    let ttl = |t: &mut TestClient| {
        let mut locked = t.server.keyspace.lock_all();
        locked.db(0, crate::cmd::now_ms()).expire_at(b"h")
    };
    {
        let mut locked = t.server.keyspace.lock_all();
        locked.db(0, crate::cmd::now_ms()).set_expire(b"h", far);
    }
    t.run(&["HSET", "h", "g", "2"]);
    t.run(&["HINCRBY", "h", "f", "1"]);
    t.run(&["HINCRBYFLOAT", "h", "f", "1"]);
    t.run(&["HDEL", "h", "g"]);
    assert_eq!(ttl(&mut t), Some(far));
}

#[test]
fn changes_are_counted_per_field_as_redis_does() {
    use std::sync::atomic::Ordering::Relaxed;
    let mut t = client();
    let dirty = |t: &TestClient| t.server.keyspace.stats.dirty.load(Relaxed);
    let start = dirty(&t);
    t.run(&["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(dirty(&t) - start, 3);
    t.run(&["HDEL", "h", "a", "b", "zz"]);
    assert_eq!(dirty(&t) - start, 5);
    t.run(&["HDEL", "h", "c"]);
    assert_eq!(dirty(&t) - start, 6);
    t.run(&["HDEL", "h", "c"]);
    assert_eq!(dirty(&t) - start, 6);
}

#[test]
fn getters_on_missing_keys_and_fields() {
    let mut t = client();
    assert_eq!(t.run(&["HGET", "h", "f"]), "$-1\r\n");
    assert_eq!(t.run(&["HMGET", "h", "f", "g"]), "*2\r\n$-1\r\n$-1\r\n");
    assert_eq!(t.run(&["HLEN", "h"]), ":0\r\n");
    assert_eq!(t.run(&["HSTRLEN", "h", "f"]), ":0\r\n");
    assert_eq!(t.run(&["HEXISTS", "h", "f"]), ":0\r\n");
    assert_eq!(t.run(&["HGETALL", "h"]), "*0\r\n");
    t.run(&["HSET", "h", "f", "hello"]);
    assert_eq!(t.run(&["HGET", "h", "f"]), bulk("hello"));
    assert_eq!(
        t.run(&["HMGET", "h", "x", "f"]),
        "*2\r\n$-1\r\n$5\r\nhello\r\n"
    );
    assert_eq!(t.run(&["HSTRLEN", "h", "f"]), ":5\r\n");
    assert_eq!(t.run(&["HEXISTS", "h", "f"]), ":1\r\n");
}

#[test]
fn wrong_type_everywhere() {
    let mut t = client();
    t.run(&["SET", "s", "v"]);
    for cmd in [
        &["HSET", "s", "f", "v"][..],
        &["HMSET", "s", "f", "v"],
        &["HSETNX", "s", "f", "v"],
        &["HGET", "s", "f"],
        &["HMGET", "s", "f"],
        &["HDEL", "s", "f"],
        &["HLEN", "s"],
        &["HSTRLEN", "s", "f"],
        &["HEXISTS", "s", "f"],
        &["HKEYS", "s"],
        &["HVALS", "s"],
        &["HGETALL", "s"],
        &["HINCRBY", "s", "f", "1"],
        &["HINCRBYFLOAT", "s", "f", "1"],
        &["HRANDFIELD", "s"],
        &["HRANDFIELD", "s", "1"],
        &["HSCAN", "s", "0"],
    ] {
        assert_eq!(t.run(cmd), WRONGTYPE, "{cmd:?}");
    }
    // Argument errors come before the type check.
    assert_eq!(
        t.run(&["HINCRBY", "s", "f", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(t.run(&["HSCAN", "s", "x"]), "-ERR invalid cursor\r\n");
    assert_eq!(
        t.run(&["HRANDFIELD", "s", "1", "x"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(t.run(&["GET", "s"]), bulk("v"));
}

#[test]
fn hsetnx_and_hdel_delete_empty_hash() {
    let mut t = client();
    assert_eq!(t.run(&["HSETNX", "h", "f", "1"]), ":1\r\n");
    assert_eq!(t.run(&["HSETNX", "h", "f", "2"]), ":0\r\n");
    assert_eq!(t.run(&["HGET", "h", "f"]), bulk("1"));
    t.run(&["HSET", "h", "g", "2"]);
    assert_eq!(t.run(&["HDEL", "h", "f", "f", "zz"]), ":1\r\n");
    assert_eq!(t.run(&["HDEL", "nokey", "f"]), ":0\r\n");
    assert_eq!(t.run(&["HDEL", "h", "g"]), ":1\r\n");
    assert_eq!(t.run(&["EXISTS", "h"]), ":0\r\n");
}

#[test]
fn hsetnx_on_existing_field_does_not_convert() {
    let mut t = small_limits();
    t.run(&["HSET", "h", "f", "v"]);
    assert_eq!(t.run(&["HSETNX", "h", "f", "much too long"]), ":0\r\n");
    assert_eq!(encoding(&mut t, "h"), "listpack");
    assert_eq!(t.run(&["HSETNX", "h", "g", "much too long"]), ":1\r\n");
    assert_eq!(encoding(&mut t, "h"), "hashtable");
}

#[test]
fn conversion_thresholds() {
    let mut t = small_limits();
    t.run(&["HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4"]);
    assert_eq!(encoding(&mut t, "h"), "listpack");
    t.run(&["HSET", "h", "e", "5"]);
    assert_eq!(encoding(&mut t, "h"), "hashtable");
    t.run(&["HDEL", "h", "a", "b", "c", "d"]);
    assert_eq!(encoding(&mut t, "h"), "hashtable", "never converts back");

    t.run(&["HSET", "v", "f", "12345678"]);
    assert_eq!(encoding(&mut t, "v"), "listpack");
    t.run(&["HSET", "v", "f", "123456789"]);
    assert_eq!(encoding(&mut t, "v"), "hashtable");

    // HINCRBY converts on a long field name too.
    t.run(&["HSET", "i", "f", "1"]);
    t.run(&["HINCRBY", "i", "a-long-field", "1"]);
    assert_eq!(encoding(&mut t, "i"), "hashtable");
    assert_eq!(t.run(&["HGET", "i", "a-long-field"]), bulk("1"));
}

#[test]
fn hincrby_errors_and_overflow() {
    let mut t = client();
    assert_eq!(t.run(&["HINCRBY", "h", "n", "5"]), ":5\r\n");
    assert_eq!(t.run(&["HINCRBY", "h", "n", "-7"]), ":-2\r\n");
    t.run(&[
        "HSET",
        "h",
        "s",
        "abc",
        "big",
        "9223372036854775807",
        "sp",
        " 1",
    ]);
    let not_int = "-ERR hash value is not an integer\r\n";
    assert_eq!(t.run(&["HINCRBY", "h", "s", "1"]), not_int);
    assert_eq!(t.run(&["HINCRBY", "h", "sp", "1"]), not_int);
    assert_eq!(
        t.run(&["HINCRBY", "h", "big", "1"]),
        "-ERR increment or decrement would overflow\r\n"
    );
    assert_eq!(
        t.run(&["HINCRBY", "h", "n", "1.5"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        t.run(&["HINCRBY", "h", "big", "-1"]),
        ":9223372036854775806\r\n"
    );
}

#[test]
fn hincrbyfloat_formats_like_incrbyfloat() {
    let mut t = client();
    assert_eq!(t.run(&["HINCRBYFLOAT", "h", "f", "1.5e3"]), bulk("1500"));
    assert_eq!(
        t.run(&["HINCRBYFLOAT", "h", "f", "0.1"]),
        bulk("1500.09999999999999998")
    );
    assert_eq!(t.run(&["HINCRBYFLOAT", "h", "f", "-1500.1"]), bulk("0"));
    t.run(&["HSET", "h", "hex", "0x10", "txt", "abc", "inf", "inf"]);
    assert_eq!(t.run(&["HINCRBYFLOAT", "h", "hex", "1"]), bulk("17"));
    assert_eq!(
        t.run(&["HINCRBYFLOAT", "h", "txt", "1"]),
        "-ERR hash value is not a float\r\n"
    );
    assert_eq!(
        t.run(&["HINCRBYFLOAT", "h", "inf", "1"]),
        "-ERR increment would produce NaN or Infinity\r\n"
    );
    assert_eq!(
        t.run(&["HINCRBYFLOAT", "h", "f", "inf"]),
        "-ERR value is NaN or Infinity\r\n"
    );
    assert_eq!(
        t.run(&["HINCRBYFLOAT", "h", "f", "nan"]),
        "-ERR value is not a valid float\r\n"
    );
    assert_eq!(t.run(&["HGET", "h", "f"]), bulk("0"));
}

#[test]
fn hrandfield_shapes() {
    let mut t = client();
    assert_eq!(t.run(&["HRANDFIELD", "h"]), "$-1\r\n");
    assert_eq!(t.run(&["HRANDFIELD", "h", "3"]), "*0\r\n");
    assert_eq!(t.run(&["HRANDFIELD", "h", "-3", "WITHVALUES"]), "*0\r\n");
    t.run(&["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(t.run(&["HRANDFIELD", "h", "0"]), "*0\r\n");
    assert_eq!(t.run(&["HRANDFIELD", "h", "5"]), array(&["a", "b", "c"]));
    assert_eq!(
        t.run(&["HRANDFIELD", "h", "3", "withvalues"]),
        array(&["a", "1", "b", "2", "c", "3"])
    );
    let reply = t.run(&["HRANDFIELD", "h", "-10", "WITHVALUES"]);
    assert!(reply.starts_with("*20\r\n"), "{reply}");
    let stripped = [
        "$1\r\na\r\n$1\r\n1\r\n",
        "$1\r\nb\r\n$1\r\n2\r\n",
        "$1\r\nc\r\n$1\r\n3\r\n",
    ]
    .iter()
    .fold(reply["*20\r\n".len()..].to_string(), |acc, pair| {
        acc.replace(pair, "")
    });
    assert_eq!(stripped, "", "every pair keeps its value");
    // Distinct picks from a listpack keep its order.
    for _ in 0..20 {
        let two = t.run(&["HRANDFIELD", "h", "2"]);
        assert!(
            [array(&["a", "b"]), array(&["a", "c"]), array(&["b", "c"])].contains(&two),
            "{two}"
        );
    }
    let one = t.run(&["HRANDFIELD", "h"]);
    assert!([bulk("a"), bulk("b"), bulk("c")].contains(&one));
    assert_eq!(
        t.run(&["HRANDFIELD", "h", "1", "WITHVALUE"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        t.run(&["HRANDFIELD", "h", "1", "WITHVALUES", "x"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        t.run(&["HRANDFIELD", "h", "-9223372036854775808"]),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
    );
    assert_eq!(
        t.run(&["HRANDFIELD", "h", "4611686018427387904", "WITHVALUES"]),
        "-ERR value is out of range\r\n"
    );
}

/// Reads of a packed hash whose fields and values share prefixes with their
/// predecessors, so most items are rebuilt rather than lent in place.
#[test]
fn reads_of_front_coded_pairs() {
    let mut t = client();
    let pairs: Vec<(String, String)> = (0..12)
        .map(|f| (format!("field{f}"), format!("value123:{f}")))
        .collect();
    let mut args = vec!["HSET".to_string(), "h".into()];
    for (k, v) in &pairs {
        args.extend([k.clone(), v.clone()]);
    }
    t.run(&args);
    assert_eq!(encoding(&mut t, "h"), "listpack");
    let flat: Vec<&str> = pairs
        .iter()
        .flat_map(|(k, v)| [k.as_str(), v.as_str()])
        .collect();
    assert_eq!(t.run(&["HGETALL", "h"]), array(&flat));
    assert_eq!(
        t.run(&["HMGET", "h", "field11", "field1", "field", "field10"]),
        format!(
            "*4\r\n{}{}$-1\r\n{}",
            bulk("value123:11"),
            bulk("value123:1"),
            bulk("value123:10")
        )
    );
    assert_eq!(t.run(&["HSTRLEN", "h", "field10"]), ":11\r\n");
    let scan = t.run(&["HSCAN", "h", "0", "MATCH", "field1*"]);
    let want = [
        "field1",
        "value123:1",
        "field10",
        "value123:10",
        "field11",
        "value123:11",
    ];
    assert_eq!(scan, format!("*2\r\n{}{}", bulk("0"), array(&want)));
    // Every pick is a real pair, in hash order for distinct picks.
    let pair = |field: &str| {
        let f: usize = field["field".len()..].parse().unwrap();
        format!("value123:{f}")
    };
    for count in ["3", "-30", "12"] {
        let reply = t.run(&["HRANDFIELD", "h", count, "WITHVALUES"]);
        let lines: Vec<&str> = reply
            .split("\r\n")
            .filter(|l| !l.starts_with(['*', '$']))
            .collect();
        let n: i64 = count.parse().unwrap();
        assert_eq!(lines.len() - 1, 2 * n.unsigned_abs() as usize, "{reply}");
        let mut last = None;
        for p in lines[..lines.len() - 1].chunks(2) {
            assert_eq!(p[1], pair(p[0]), "{reply}");
            let index: usize = p[0]["field".len()..].parse().unwrap();
            if n > 0 {
                assert!(last < Some(index), "{reply}");
                last = Some(index);
            }
        }
    }
    // SORT BY and GET read hash fields.
    t.run(&["RPUSH", "ids", "3", "1", "2"]);
    t.run(&["HSET", "w_1", "weight", "30", "name", "one"]);
    t.run(&["HSET", "w_2", "weight", "10", "name", "two"]);
    t.run(&["HSET", "w_3", "weight", "20", "name", "three"]);
    assert_eq!(
        t.run(&["SORT", "ids", "BY", "w_*->weight", "GET", "w_*->name"]),
        array(&["two", "three", "one"])
    );
    // Deleting and updating in the middle keeps the neighbours intact.
    t.run(&["HDEL", "h", "field5"]);
    t.run(&["HSET", "h", "field6", "other", "field2", "value123:2x"]);
    assert_eq!(t.run(&["HGET", "h", "field7"]), bulk("value123:7"));
    assert_eq!(t.run(&["HGET", "h", "field6"]), bulk("other"));
    assert_eq!(t.run(&["HGET", "h", "field3"]), bulk("value123:3"));
    assert_eq!(t.run(&["HGET", "h", "field4"]), bulk("value123:4"));
}

#[test]
fn hrandfield_distinct_from_a_table() {
    let mut t = small_limits();
    for i in 0..40 {
        t.run(&["HSET", "h", &format!("f{i}"), &i.to_string()]);
    }
    for count in ["5", "20", "39"] {
        let reply = t.run(&["HRANDFIELD", "h", count]);
        let fields: Vec<&str> = reply.split("\r\n").filter(|l| l.starts_with('f')).collect();
        let distinct: std::collections::HashSet<_> = fields.iter().collect();
        assert_eq!(fields.len().to_string(), count);
        assert_eq!(distinct.len(), fields.len());
    }
}

#[test]
fn resp3_shapes() {
    let mut t = client();
    t.out.resp3 = true;
    t.run(&["HSET", "h", "a", "1", "b", "2"]);
    assert_eq!(
        t.run(&["HGETALL", "h"]),
        "%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    assert_eq!(t.run(&["HGETALL", "nokey"]), "%0\r\n");
    assert_eq!(
        t.run(&["HRANDFIELD", "h", "2", "WITHVALUES"]),
        "*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    assert_eq!(t.run(&["HMGET", "h", "a", "z"]), "*2\r\n$1\r\n1\r\n_\r\n");
    assert_eq!(t.run(&["HGET", "h", "z"]), "_\r\n");
    assert_eq!(t.run(&["HRANDFIELD", "nokey"]), "_\r\n");
}

#[test]
fn hscan_listpack_returns_everything() {
    let mut t = client();
    assert_eq!(
        t.run(&["HSCAN", "h", "0", "bogus"]),
        "*2\r\n$1\r\n0\r\n*0\r\n"
    );
    t.run(&["HSET", "h", "a", "1", "sa", "2", "sb", "3"]);
    let all = "*2\r\n$1\r\n0\r\n*6\r\n$1\r\na\r\n$1\r\n1\r\n$2\r\nsa\r\n$1\r\n2\r\n$2\r\nsb\r\n$1\r\n3\r\n";
    assert_eq!(t.run(&["HSCAN", "h", "0"]), all);
    assert_eq!(t.run(&["HSCAN", "h", "-1", "COUNT", "1"]), all);
    assert_eq!(t.run(&["HSCAN", "h", "+0", "MATCH", "*"]), all);
    assert_eq!(
        t.run(&["HSCAN", "h", "0", "MATCH", "s*", "MATCH", "*b"]),
        "*2\r\n$1\r\n0\r\n*2\r\n$2\r\nsb\r\n$1\r\n3\r\n"
    );
    for (args, err) in [
        (&["HSCAN", "h", " 0"][..], "-ERR invalid cursor\r\n"),
        (
            &["HSCAN", "h", "18446744073709551616"],
            "-ERR invalid cursor\r\n",
        ),
        (&["HSCAN", "h", "0", "COUNT", "0"], "-ERR syntax error\r\n"),
        (&["HSCAN", "h", "0", "MATCH"], "-ERR syntax error\r\n"),
        (
            &["HSCAN", "h", "0", "TYPE", "string"],
            "-ERR syntax error\r\n",
        ),
        (
            &["HSCAN", "h", "0", "COUNT", "x"],
            "-ERR value is not an integer or out of range\r\n",
        ),
    ] {
        assert_eq!(t.run(args), err, "{args:?}");
    }
}

#[test]
fn hscan_table_iterates_to_completion() {
    let mut t = small_limits();
    for i in 0..50 {
        t.run(&["HSET", "h", &format!("f{i}"), "v"]);
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    for _ in 0..1000 {
        let reply = t.run(&["HSCAN", "h", &cursor, "MATCH", "f1*"]);
        let lines: Vec<&str> = reply.split("\r\n").collect();
        cursor = lines[2].to_string();
        seen.extend(
            lines
                .iter()
                .filter(|l| l.starts_with('f'))
                .map(|l| l.to_string()),
        );
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(cursor, "0");
    let want: std::collections::HashSet<String> = (0..50)
        .map(|i| format!("f{i}"))
        .filter(|f| f.starts_with("f1"))
        .collect();
    assert_eq!(seen, want);
}

#[test]
fn memory_per_field_in_each_encoding() {
    use crate::db::hash::{Hash, HashLimits};
    let fill = |limits: HashLimits| {
        let mut h = Hash::default();
        for i in 0..500 {
            h.set(
                format!("field:{i}").as_bytes(),
                format!("value:{i}").as_bytes(),
                limits,
            );
        }
        h
    };
    let packed = fill(HashLimits {
        max_listpack_entries: 512,
        max_listpack_value: 64,
    });
    let table = fill(HashLimits {
        max_listpack_entries: 0,
        max_listpack_value: 64,
    });
    assert_eq!(packed.encoding(), "listpack");
    assert_eq!(table.encoding(), "hashtable");
    let (p, h) = (packed.heap_size() / 500, table.heap_size() / 500);
    eprintln!("bytes per field: listpack {p}, hashtable {h}");
    // Fields and values of ~9 bytes: about 20 bytes packed, a table slot of
    // two 24-byte strings plus a control byte otherwise.
    assert!(p <= 24, "packed {p} bytes per field");
    assert!(h >= 49, "table {h} bytes per field");
}

#[test]
fn specs_match_redis_command_info() {
    use crate::cmd::spec::{acl, flag};
    let expected = [
        ("hset", -4, "write denyoom fast", "write hash fast"),
        ("hmset", -4, "write denyoom fast", "write hash fast"),
        ("hsetnx", 4, "write denyoom fast", "write hash fast"),
        ("hget", 3, "readonly fast", "read hash fast"),
        ("hmget", -3, "readonly fast", "read hash fast"),
        ("hdel", -3, "write fast", "write hash fast"),
        ("hlen", 2, "readonly fast", "read hash fast"),
        ("hstrlen", 3, "readonly fast", "read hash fast"),
        ("hexists", 3, "readonly fast", "read hash fast"),
        ("hkeys", 2, "readonly", "read hash slow"),
        ("hvals", 2, "readonly", "read hash slow"),
        ("hgetall", 2, "readonly", "read hash slow"),
        ("hincrby", 4, "write denyoom fast", "write hash fast"),
        ("hincrbyfloat", 4, "write denyoom fast", "write hash fast"),
        ("hrandfield", -2, "readonly", "read hash slow"),
        ("hscan", -3, "readonly", "read hash slow"),
    ];
    assert_eq!(super::COMMANDS.len(), expected.len());
    let names = |bits: u64, table: &[(u64, &str)]| {
        let mut v: Vec<String> = table
            .iter()
            .filter(|(b, _)| bits & b != 0)
            .map(|(_, n)| n.to_string())
            .collect();
        v.sort();
        v.join(" ")
    };
    let sorted = |s: &str| {
        let mut v: Vec<&str> = s.split(' ').collect();
        v.sort();
        v.join(" ")
    };
    let flag_names: Vec<(u64, &str)> = flag::NAMES.iter().map(|&(f, n)| (f as u64, n)).collect();
    for (name, arity, flags, categories) in expected {
        let spec = super::COMMANDS
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(spec.arity, arity, "{name} arity");
        assert_eq!(
            names(spec.flags as u64, &flag_names),
            sorted(flags),
            "{name} flags"
        );
        assert_eq!(spec.key_range(), (1, 1, 1), "{name} keys");
        assert_eq!(
            names(spec.acl_categories(), acl::NAMES),
            sorted(categories),
            "{name} ACL"
        );
    }
}

mod model {
    //! Random command sequences against a `Vec` of pairs in insertion order
    //! (the listpack order Redis replies in), with thresholds small enough
    //! that some hashes convert mid-sequence.
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Set(Vec<(u8, u8)>),
        SetNx(u8, u8),
        Del(Vec<u8>),
        Incr(u8, i8),
        Get(u8),
        Len,
        Exists(u8),
        Strlen(u8),
    }

    fn field(i: u8) -> String {
        // A few long names push hashes past the 8-byte value limit.
        if i % 7 == 6 {
            format!("long-field-{i}")
        } else {
            format!("f{i}")
        }
    }

    fn op() -> impl Strategy<Value = Op> {
        let f = || 0u8..10;
        prop_oneof![
            prop::collection::vec((f(), 0u8..100), 1..4).prop_map(Op::Set),
            (f(), 0u8..100).prop_map(|(a, b)| Op::SetNx(a, b)),
            prop::collection::vec(f(), 1..4).prop_map(Op::Del),
            (f(), any::<i8>()).prop_map(|(a, b)| Op::Incr(a, b)),
            f().prop_map(Op::Get),
            Just(Op::Len),
            f().prop_map(Op::Exists),
            f().prop_map(Op::Strlen),
        ]
    }

    fn apply(t: &mut TestClient, model: &mut Vec<(String, String)>, op: &Op) {
        let pos = |model: &Vec<(String, String)>, f: &str| model.iter().position(|(k, _)| k == f);
        match op {
            Op::Set(pairs) => {
                let mut args = vec!["HSET".to_string(), "h".into()];
                let mut added = 0;
                for (f, v) in pairs {
                    let (f, v) = (field(*f), v.to_string());
                    args.push(f.clone());
                    args.push(v.clone());
                    match pos(model, &f) {
                        Some(i) => model[i].1 = v,
                        None => {
                            model.push((f, v));
                            added += 1;
                        }
                    }
                }
                assert_eq!(t.run(&args), format!(":{added}\r\n"));
            }
            Op::SetNx(f, v) => {
                let f = field(*f);
                let new = pos(model, &f).is_none();
                if new {
                    model.push((f.clone(), v.to_string()));
                }
                assert_eq!(
                    t.run(&["HSETNX", "h", &f, &v.to_string()]),
                    format!(":{}\r\n", new as u8)
                );
            }
            Op::Del(fields) => {
                let mut args = vec!["HDEL".to_string(), "h".into()];
                let mut removed = 0;
                for f in fields {
                    let f = field(*f);
                    if let Some(i) = pos(model, &f) {
                        model.remove(i);
                        removed += 1;
                    }
                    args.push(f);
                }
                assert_eq!(t.run(&args), format!(":{removed}\r\n"));
            }
            Op::Incr(f, by) => {
                let f = field(*f);
                let i = pos(model, &f).unwrap_or_else(|| {
                    model.push((f.clone(), "0".into()));
                    model.len() - 1
                });
                let sum = model[i].1.parse::<i64>().unwrap() + *by as i64;
                model[i].1 = sum.to_string();
                assert_eq!(
                    t.run(&["HINCRBY", "h", &f, &by.to_string()]),
                    format!(":{sum}\r\n")
                );
            }
            Op::Get(f) => {
                let f = field(*f);
                let want = pos(model, &f).map_or("$-1\r\n".to_string(), |i| bulk(&model[i].1));
                assert_eq!(t.run(&["HGET", "h", &f]), want);
            }
            Op::Len => assert_eq!(t.run(&["HLEN", "h"]), format!(":{}\r\n", model.len())),
            Op::Exists(f) => {
                let f = field(*f);
                let want = pos(model, &f).is_some() as u8;
                assert_eq!(t.run(&["HEXISTS", "h", &f]), format!(":{want}\r\n"));
            }
            Op::Strlen(f) => {
                let f = field(*f);
                let want = pos(model, &f).map_or(0, |i| model[i].1.len());
                assert_eq!(t.run(&["HSTRLEN", "h", &f]), format!(":{want}\r\n"));
            }
        }
    }

    /// Compares the whole hash: exactly (order included) while it is a
    /// listpack, as a sorted set of pairs once it is a table.
    fn check_contents(t: &mut TestClient, model: &[(String, String)], packed_so_far: bool) {
        let reply = t.run(&["HGETALL", "h"]);
        if packed_so_far {
            let flat: Vec<&str> = model
                .iter()
                .flat_map(|(k, v)| [k.as_str(), v.as_str()])
                .collect();
            assert_eq!(reply, array(&flat));
        } else {
            let lines: Vec<&str> = reply
                .split("\r\n")
                .skip(1)
                .filter(|l| !l.starts_with('$'))
                .collect();
            let mut got: Vec<(String, String)> = lines
                .chunks(2)
                .filter(|c| c.len() == 2)
                .map(|c| (c[0].to_string(), c[1].to_string()))
                .collect();
            let mut want = model.to_vec();
            got.sort();
            want.sort();
            assert_eq!(got, want);
        }
        let exists = t.run(&["EXISTS", "h"]);
        assert_eq!(
            exists,
            format!(":{}\r\n", !model.is_empty() as u8),
            "empty hashes are deleted"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        #[test]
        fn hash_matches_model(ops in prop::collection::vec(op(), 1..40)) {
            let mut t = small_limits();
            let mut model = Vec::new();
            let mut packed = true;
            for op in &ops {
                apply(&mut t, &mut model, op);
                if !model.is_empty() {
                    packed = packed && encoding(&mut t, "h") == "listpack";
                } else {
                    packed = true; // the key was deleted: a new hash starts packed
                }
                check_contents(&mut t, &model, packed);
            }
        }
    }
}
