//! Server commands through the in-process test client.

use crate::config::Config;
use crate::testkit::TestClient;

fn client_with(edit: impl FnOnce(&mut Config)) -> TestClient {
    let mut config = Config::default();
    edit(&mut config);
    TestClient::with_config(config)
}

#[test]
fn info_default_sections_and_fields() {
    let mut t = TestClient::new();
    t.run(&["SET", "k", "v"]);
    let info = t.run(&["INFO"]);
    for needle in [
        "# Server\r\n",
        "redis_version:7.0.15\r\n",
        "redis_mode:standalone\r\n",
        "ferrokv_version:",
        "run_id:",
        "# Clients\r\nconnected_clients:1\r\n",
        "used_memory:",
        "maxmemory_policy:noeviction\r\n",
        "# Persistence\r\nloading:0\r\n",
        "rdb_changes_since_last_save:1\r\n",
        "total_commands_processed:1\r\n",
        "instantaneous_ops_per_sec:",
        "role:master\r\n",
        "used_cpu_user:",
        "# Modules\r\n",
        "# Errorstats\r\n",
        "cluster_enabled:0\r\n",
        "# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n",
    ] {
        assert!(info.contains(needle), "missing {needle:?} in {info}");
    }
    assert!(!info.contains("# Commandstats"));
}

#[test]
fn info_section_selection() {
    let mut t = TestClient::new();
    let reply = t.run(&["INFO", "KEYSPACE"]);
    assert_eq!(reply, "$12\r\n# Keyspace\r\n\r\n");
    assert_eq!(t.run(&["INFO", "nosuch"]), "$0\r\n\r\n");
    let two = t.run(&["INFO", "cpu", "server"]);
    let server_at = two.find("# Server").unwrap();
    let cpu_at = two.find("# CPU").unwrap();
    assert!(server_at < cpu_at, "sections keep Redis's order");
    assert!(two.contains("\r\n\r\n# CPU\r\n"));
    assert!(t.run(&["INFO", "all"]).contains("# Commandstats"));
    assert!(t.run(&["INFO", "everything"]).contains("# Commandstats"));
    assert!(!t.run(&["INFO", "default"]).contains("# Commandstats"));
}

#[test]
fn info_is_verbatim_in_resp3() {
    let mut t = TestClient::new();
    t.out.resp3 = true;
    assert_eq!(
        t.run(&["INFO", "cluster"]),
        "=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n"
    );
}

#[test]
fn commandstats_count_calls_failures_and_rejections() {
    let mut t = TestClient::new();
    t.run(&["GET", "a"]);
    t.run(&["GET", "a"]);
    t.run(&["GET"]);
    t.run(&["SWAPDB", "x", "0"]);
    let stats = t.run(&["INFO", "commandstats"]);
    assert!(stats.contains("cmdstat_get:calls=2,"), "{stats}");
    assert!(
        stats.contains(",rejected_calls=1,failed_calls=0\r\n"),
        "{stats}"
    );
    assert!(
        stats.contains("cmdstat_swapdb:calls=1,")
            && stats.contains("rejected_calls=0,failed_calls=1"),
        "{stats}"
    );
    let errors = t.run(&["INFO", "errorstats"]);
    assert!(errors.contains("errorstat_ERR:count=2\r\n"), "{errors}");
}

#[test]
fn slowlog_records_everything_at_threshold_zero() {
    let mut t = client_with(|c| c.slowlog_log_slower_than = 0);
    t.run(&["SET", "k", "v"]);
    assert_eq!(t.run(&["SLOWLOG", "LEN"]), ":1\r\n");
    let got = t.run(&["SLOWLOG", "GET", "1"]);
    // The SLOWLOG LEN call itself is the newest entry.
    assert!(got.starts_with("*1\r\n*6\r\n:1\r\n"), "{got}");
    assert!(
        got.contains("*2\r\n$7\r\nSLOWLOG\r\n$3\r\nLEN\r\n$11\r\n127.0.0.1:1\r\n$0\r\n"),
        "{got}"
    );
    let all = t.run(&["SLOWLOG", "GET", "-1"]);
    assert!(all.starts_with("*3\r\n"), "{all}");
    assert!(all.contains("$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"), "{all}");
    assert_eq!(t.run(&["SLOWLOG", "RESET"]), "+OK\r\n");
    // RESET itself was logged after it ran.
    assert_eq!(t.run(&["SLOWLOG", "LEN"]), ":1\r\n");
    assert_eq!(
        t.run(&["SLOWLOG", "GET", "-2"]),
        "-ERR count should be greater than or equal to -1\r\n"
    );
}

#[test]
fn slowlog_is_bounded_and_off_when_negative() {
    let mut t = client_with(|c| {
        c.slowlog_log_slower_than = 0;
        c.slowlog_max_len = 2;
    });
    for _ in 0..5 {
        t.run(&["PING"]);
    }
    assert_eq!(t.run(&["SLOWLOG", "LEN"]), ":2\r\n");
    let mut off = client_with(|c| c.slowlog_log_slower_than = -1);
    off.run(&["PING"]);
    assert_eq!(off.run(&["SLOWLOG", "LEN"]), ":0\r\n");
}

#[test]
fn latency_monitor_records_slow_commands() {
    let mut t = client_with(|c| {
        c.latency_monitor_threshold = 1;
        c.enable_debug_command = "yes".into();
    });
    assert_eq!(t.run(&["LATENCY", "LATEST"]), "*0\r\n");
    assert_eq!(t.run(&["DEBUG", "SLEEP", "0.01"]), "+OK\r\n");
    let latest = t.run(&["LATENCY", "LATEST"]);
    assert!(
        latest.starts_with("*1\r\n*4\r\n$7\r\ncommand\r\n"),
        "{latest}"
    );
    assert!(
        t.run(&["LATENCY", "HISTORY", "command"])
            .starts_with("*1\r\n*2\r\n")
    );
    assert_eq!(t.run(&["LATENCY", "RESET", "command", "other"]), ":1\r\n");
    assert_eq!(t.run(&["LATENCY", "HISTORY", "command"]), "*0\r\n");
}

#[test]
fn command_info_of_get() {
    let mut t = TestClient::new();
    let info = t.run(&["COMMAND", "INFO", "get", "nosuch"]);
    assert!(
        info.starts_with(
            "*2\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n"
        ),
        "{info}"
    );
    assert!(info.contains("$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n"));
    assert!(info.ends_with("*0\r\n$-1\r\n"), "{info}");
}

#[test]
fn command_info_of_a_container_lists_subcommands() {
    let mut t = TestClient::new();
    let info = t.run(&["COMMAND", "INFO", "slowlog"]);
    assert!(info.starts_with("*1\r\n*10\r\n$7\r\nslowlog\r\n:-2\r\n*0\r\n:0\r\n:0\r\n:0\r\n*1\r\n+@slow\r\n*0\r\n*0\r\n*4\r\n"), "{info}");
    assert!(info.contains("$11\r\nslowlog|len\r\n:2\r\n*3\r\n+admin\r\n+loading\r\n+stale\r\n"));
    let docs = t.run(&["COMMAND", "DOCS", "slowlog"]);
    assert!(docs.contains("$11\r\nsubcommands\r\n*8\r\n"), "{docs}");
}

#[test]
fn command_getkeys() {
    let mut t = TestClient::new();
    assert_eq!(
        t.run(&["COMMAND", "GETKEYS", "set", "a", "b"]),
        "*1\r\n$1\r\na\r\n"
    );
    assert_eq!(
        t.run(&["COMMAND", "GETKEYSANDFLAGS", "get", "a"]),
        "*1\r\n*2\r\n$1\r\na\r\n*2\r\n+RO\r\n+access\r\n"
    );
    assert_eq!(
        t.run(&["COMMAND", "GETKEYS", "nosuch", "a"]),
        "-ERR Invalid command specified\r\n"
    );
    assert_eq!(
        t.run(&["COMMAND", "GETKEYS", "get", "a", "b"]),
        "-ERR Invalid number of arguments specified for command\r\n"
    );
    assert_eq!(
        t.run(&["COMMAND", "GETKEYS", "echo", "a"]),
        "-ERR The command has no key arguments\r\n"
    );
    assert_eq!(
        t.run(&["COMMAND", "GETKEYS", "get"]),
        "-ERR wrong number of arguments for 'command|getkeys' command\r\n"
    );
}

#[test]
fn command_list_count_and_errors() {
    let mut t = TestClient::new();
    let count = t.run(&["COMMAND", "COUNT"]);
    let all = t.run(&["COMMAND"]);
    let n: usize = count[1..count.len() - 2].parse().unwrap();
    assert!(all.starts_with(&format!("*{n}\r\n")));
    let listed = t.run(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "slowlog*"]);
    assert!(listed.starts_with("*5\r\n"), "{listed}");
    let admin = t.run(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "admin"]);
    assert!(admin.contains("$8\r\nshutdown\r\n") && !admin.contains("$3\r\nget\r\n"));
    assert_eq!(
        t.run(&["COMMAND", "LIST", "FILTERBY", "MODULE", "x"]),
        "*0\r\n"
    );
    assert_eq!(t.run(&["COMMAND", "LIST", "foo"]), "-ERR syntax error\r\n");
    assert_eq!(
        t.run(&["COMMAND", "foo"]),
        "-ERR unknown subcommand 'foo'. Try COMMAND HELP.\r\n"
    );
    assert!(
        t.run(&["COMMAND", "HELP"])
            .starts_with("*21\r\n+COMMAND <subcommand>")
    );
}

#[test]
fn swapdb_moves_keys_and_checks_indexes() {
    let mut t = TestClient::new();
    t.run(&["SET", "k", "v"]);
    assert_eq!(t.run(&["SWAPDB", "0", "1"]), "+OK\r\n");
    assert_eq!(t.run(&["DBSIZE"]), ":0\r\n");
    t.run(&["SELECT", "1"]);
    assert_eq!(t.run(&["GET", "k"]), "$1\r\nv\r\n");
    assert_eq!(
        t.run(&["SWAPDB", "a", "0"]),
        "-ERR invalid first DB index\r\n"
    );
    assert_eq!(
        t.run(&["SWAPDB", "0", "a"]),
        "-ERR invalid second DB index\r\n"
    );
    assert_eq!(
        t.run(&["SWAPDB", "0", "16"]),
        "-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        t.run(&["SWAPDB", "-1", "0"]),
        "-ERR DB index is out of range\r\n"
    );
}

#[test]
fn flushdb_and_flushall() {
    let mut t = TestClient::new();
    for i in 0..100 {
        t.run(&["SET", &format!("k{i}"), "v"]);
    }
    t.run(&["SELECT", "2"]);
    t.run(&["SET", "other", "v"]);
    assert_eq!(t.run(&["FLUSHDB", "x"]), "-ERR syntax error\r\n");
    assert_eq!(t.run(&["FLUSHDB", "ASYNC"]), "+OK\r\n");
    assert_eq!(t.run(&["DBSIZE"]), ":0\r\n");
    t.run(&["SELECT", "0"]);
    assert_eq!(t.run(&["DBSIZE"]), ":100\r\n");
    assert_eq!(t.run(&["FLUSHALL", "ASYNC"]), "+OK\r\n");
    assert_eq!(t.run(&["DBSIZE"]), ":0\r\n");
    assert_eq!(t.run(&["FLUSHALL", "SYNC"]), "+OK\r\n");
}

#[test]
fn time_and_lastsave() {
    let mut t = TestClient::new();
    let time = t.run(&["TIME"]);
    assert!(time.starts_with("*2\r\n$10\r\n"), "{time}");
    let last = t.run(&["LASTSAVE"]);
    let secs: u64 = last[1..last.len() - 2].parse().unwrap();
    assert!(secs > 1_600_000_000);
}

#[test]
fn shutdown_options() {
    let mut t = TestClient::new();
    assert_eq!(t.run(&["SHUTDOWN", "bogus"]), "-ERR syntax error\r\n");
    assert_eq!(
        t.run(&["SHUTDOWN", "SAVE", "NOSAVE"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        t.run(&["SHUTDOWN", "ABORT", "NOW"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        t.run(&["SHUTDOWN", "ABORT"]),
        "-ERR No shutdown in progress.\r\n"
    );
    assert!(!t.server.is_shutting_down());
    assert_eq!(t.run(&["SHUTDOWN", "NOSAVE", "NOW", "FORCE"]), "");
    assert!(t.server.is_shutting_down());
    assert!(t.client.close_after_reply);
}

#[test]
fn memory_usage_and_friends() {
    let mut t = TestClient::new();
    t.run(&["SET", "a", "1"]);
    assert_eq!(t.run(&["MEMORY", "USAGE", "a"]), ":48\r\n");
    assert_eq!(t.run(&["MEMORY", "USAGE", "a", "SAMPLES", "0"]), ":48\r\n");
    assert_eq!(t.run(&["MEMORY", "USAGE", "nokey"]), "$-1\r\n");
    assert_eq!(
        t.run(&["MEMORY", "USAGE", "a", "SAMPLES"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        t.run(&["MEMORY", "USAGE", "a", "SAMPLES", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(t.run(&["MEMORY", "PURGE"]), "+OK\r\n");
    assert!(
        t.run(&["MEMORY", "STATS"])
            .contains("$10\r\nkeys.count\r\n:1\r\n")
    );
    assert!(t.run(&["MEMORY", "DOCTOR"]).contains("Sam"));
    assert!(t.run(&["MEMORY", "HELP"]).starts_with("*14\r\n"));
}

#[test]
fn debug_is_refused_unless_enabled() {
    let mut t = TestClient::new();
    assert!(
        t.run(&["DEBUG", "HELP"])
            .starts_with("-ERR DEBUG command not allowed.")
    );
    let mut t = client_with(|c| c.enable_debug_command = "local".into());
    t.run(&["SET", "a", "1"]);
    let obj = t.run(&["DEBUG", "OBJECT", "a"]);
    assert!(
        obj.starts_with("+Value at:0x") && obj.contains(" encoding:int serializedlength:2 "),
        "{obj}"
    );
    assert_eq!(t.run(&["DEBUG", "OBJECT", "nokey"]), "-ERR no such key\r\n");
    // serializedlength is the RDB payload's size; Redis 7.0.15 prints these.
    let big = "abcdefgh".repeat(20);
    for cmd in [
        vec!["RPUSH", "l", "a", "b", "c"],
        vec!["HSET", "h", "a", "1"],
        vec!["SADD", "s", "1"],
        vec!["SADD", "s2", "a", "b"],
        vec!["ZADD", "z", "1", "a", "2.5", "b"],
        vec!["PFADD", "p", "a"],
        vec!["SET", "i", "12345"],
        vec!["SET", "big", &big],
        vec!["RPUSH", "lbig", &big, &big],
    ] {
        t.run(&cmd);
    }
    for (key, expected) in [
        ("l", "encoding:quicklist serializedlength:19 "),
        ("h", "encoding:listpack serializedlength:13 "),
        ("s", "encoding:intset serializedlength:11 "),
        ("s2", "encoding:hashtable serializedlength:5 "),
        ("z", "encoding:listpack serializedlength:21 "),
        ("p", "encoding:raw serializedlength:22 "),
        ("i", "encoding:int serializedlength:3 "),
        ("big", "encoding:raw serializedlength:20 "),
        ("lbig", "encoding:quicklist serializedlength:35 "),
    ] {
        let obj = t.run(&["DEBUG", "OBJECT", key]);
        assert!(obj.contains(expected), "{key}: {obj}");
    }
    assert_eq!(t.run(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), "+OK\r\n");
    assert!(
        !t.server
            .stats
            .active_expire
            .load(std::sync::atomic::Ordering::Relaxed)
    );
    assert_eq!(
        t.run(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1kb"]),
        "+OK\r\n"
    );
    assert_eq!(
        t.run(&["DEBUG", "nosuch"]),
        "-ERR unknown subcommand or wrong number of arguments for 'nosuch'. Try DEBUG HELP.\r\n"
    );
}

#[test]
fn command_info_resp3_matches_redis_bytes() {
    let mut t = TestClient::new();
    t.out.resp3 = true;
    let expected = "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~3\r\n+@read\r\n+@string\r\n+@fast\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n~0\r\n";
    assert_eq!(t.run(&["COMMAND", "INFO", "get"]), expected);
    let docs = t.run(&["COMMAND", "DOCS", "dbsize"]);
    assert!(
        docs.starts_with("%1\r\n$6\r\ndbsize\r\n%4\r\n$7\r\nsummary\r\n"),
        "{docs}"
    );
}

#[test]
fn command_info_tips_follow_redis() {
    let mut t = TestClient::new();
    let info = t.run(&["COMMAND", "INFO", "dbsize"]);
    assert!(
        info.contains(
            "*2\r\n$25\r\nrequest_policy:all_shards\r\n$23\r\nresponse_policy:agg_sum\r\n"
        ),
        "{info}"
    );
}

#[test]
fn latency_histogram_and_latencystats() {
    let mut t = TestClient::new();
    t.run(&["GET", "a"]);
    t.run(&["GET", "a"]);
    let hist = t.run(&["LATENCY", "HISTOGRAM", "get", "nosuch"]);
    assert!(
        hist.starts_with(
            "*2\r\n$3\r\nget\r\n*4\r\n$5\r\ncalls\r\n:2\r\n$14\r\nhistogram_usec\r\n*"
        ),
        "{hist}"
    );
    // Never-called commands are left out.
    assert_eq!(t.run(&["LATENCY", "HISTOGRAM", "set"]), "*0\r\n");
    let stats = t.run(&["INFO", "latencystats"]);
    assert!(
        stats.contains("latency_percentiles_usec_get:p50="),
        "{stats}"
    );
    assert!(!t.run(&["INFO"]).contains("# Latencystats"));
    let all = t.run(&["INFO", "all"]);
    let order: Vec<usize> = [
        "# Commandstats",
        "# Errorstats",
        "# Latencystats",
        "# Cluster",
    ]
    .iter()
    .map(|h| all.find(h).unwrap())
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn latency_graph_draws_samples_or_refuses() {
    let mut t = client_with(|c| {
        c.latency_monitor_threshold = 1;
        c.enable_debug_command = "yes".into();
    });
    assert_eq!(
        t.run(&["LATENCY", "GRAPH", "command"]),
        "-ERR No samples available for event 'command'\r\n"
    );
    t.run(&["DEBUG", "SLEEP", "0.005"]);
    let graph = t.run(&["LATENCY", "GRAPH", "command"]);
    assert!(graph.contains("command - high "), "{graph}");
    assert!(graph.contains("\n#\n"), "{graph}");
}

#[test]
fn latency_doctor_reports_state() {
    let mut off = TestClient::new();
    assert!(
        off.run(&["LATENCY", "DOCTOR"])
            .contains("Latency monitoring is disabled")
    );
    let mut t = client_with(|c| {
        c.latency_monitor_threshold = 1;
        c.enable_debug_command = "yes".into();
    });
    assert!(
        t.run(&["LATENCY", "DOCTOR"])
            .contains("no latency spike was observed")
    );
    t.run(&["DEBUG", "SLEEP", "0.005"]);
    let report = t.run(&["LATENCY", "DOCTOR"]);
    assert!(
        report.contains("1. command: 1 latency spikes (average "),
        "{report}"
    );
}

#[test]
fn keyspace_info_estimates_avg_ttl() {
    let mut t = TestClient::new();
    {
        let now = crate::cmd::now_ms();
        let mut locked = t.server.keyspace.lock_all();
        let mut db = locked.db(0, now);
        db.set(b"plain", crate::db::Value::str(b"v"));
        db.set(b"ttl", crate::db::Value::str(b"v"));
        db.set_expire(b"ttl", now + 100_000);
    }
    let info = t.run(&["INFO", "keyspace"]);
    let avg: u64 = info
        .split("avg_ttl=")
        .nth(1)
        .and_then(|rest| rest.split("\r\n").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no avg_ttl in {info}"));
    assert!(info.contains("db0:keys=2,expires=1,"), "{info}");
    assert!((90_000..=100_000).contains(&avg), "{info}");
}
