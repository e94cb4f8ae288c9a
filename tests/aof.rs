//! The append-only file: every type survives a restart, kill -9 loses no
//! acknowledged write under `appendfsync always`, a crash during a rewrite
//! loses nothing, torn tails and corrupted manifests are handled as Redis
//! does, and ferrokv and redis-server 7.0 load each other's appendonlydir.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Conn, ServerProcess, split_aggregate, temp_dir};

fn aof_server(dir: &Path, extra: &[&str]) -> ServerProcess {
    let mut args = vec!["--dir", dir.to_str().unwrap(), "--appendonly", "yes"];
    args.extend_from_slice(extra);
    ServerProcess::ferrokv(&args)
}

/// Starts ferrokv expecting it to refuse; returns what it printed.
fn failed_start(dir: &Path, extra: &[&str]) -> String {
    let port = common::free_port();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ferrokv"))
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--dir", dir.to_str().unwrap(), "--appendonly", "yes"])
        .args(extra)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run ferrokv");
    assert!(!output.status.success(), "ferrokv started anyway");
    String::from_utf8_lossy(&output.stderr).into_owned() + &String::from_utf8_lossy(&output.stdout)
}

/// Compares two exports line by line, naming only the first difference.
fn assert_same(got: &str, want: &str, what: &str) {
    let (g, w): (Vec<_>, Vec<_>) = (got.lines().collect(), want.lines().collect());
    for (a, b) in g.iter().zip(&w) {
        let short = |s: &str| s.chars().take(400).collect::<String>();
        assert!(a == b, "{what}: got\n{}\nwant\n{}", short(a), short(b));
    }
    assert_eq!(g.len(), w.len(), "{what}: number of keys");
}

fn kill9(mut server: ServerProcess) {
    server.signal("KILL");
    server
        .wait_exit(Duration::from_secs(10))
        .expect("server gone after kill -9");
}

fn ok(conn: &mut Conn, args: &[&str]) -> String {
    let reply = conn.cmd_text(args);
    assert!(!reply.starts_with('-'), "{args:?} failed: {reply}");
    reply
}

fn info_field(conn: &mut Conn, name: &str) -> String {
    let info = conn.cmd_text(&["INFO", "persistence"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("{name} missing in {info}"))
        .trim()
        .to_string()
}

/// Waits (bounded) until no rewrite is in progress and `aof_rewrites` > `before`.
fn wait_rewrite(conn: &mut Conn, before: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if info_field(conn, "aof_rewrite_in_progress") == "0"
            && info_field(conn, "aof_rewrites").parse::<u64>().unwrap() > before
        {
            assert_eq!(info_field(conn, "aof_last_bgrewrite_status"), "ok");
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("rewrite did not finish");
}

/// Writes every type, through the commands whose propagation is rewritten
/// (relative TTLs, INCRBYFLOAT, SPOP, XADD *, MULTI, EVAL, SELECT...).
fn populate(conn: &mut Conn) {
    let big = "x".repeat(1000);
    let script = "redis.call('set', KEYS[1], 'v'); redis.call('incr', KEYS[2]); return 1";
    let many: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    let commands: Vec<Vec<String>> = vec![
        vec!["SET", "s", "hello"],
        vec!["APPEND", "s", " world"],
        vec!["SET", "n", "12345"],
        vec!["INCR", "n"],
        vec!["SET", "big", &big],
        vec!["INCRBYFLOAT", "f", "3.5"],
        vec!["INCRBYFLOAT", "f", "0.1"],
        vec!["SET", "ttl", "v", "EX", "1000"],
        vec!["SETEX", "ttl2", "500", "v"],
        vec!["EXPIRE", "s", "10000"],
        vec!["SET", "gone", "x"],
        vec!["EXPIRE", "gone", "-1"],
        vec!["RPUSH", "l", "a", "b", "c", "d", "e"],
        vec!["LPUSH", "l", "z"],
        vec!["LPOP", "l"],
        vec!["LMOVE", "l", "l2", "LEFT", "RIGHT"],
        vec!["HSET", "h", "f1", "v1", "f2", "v2"],
        vec!["HINCRBYFLOAT", "h", "fl", "1.25"],
        vec!["HDEL", "h", "f1"],
        vec!["SADD", "st", "a", "b", "c", "1", "2", "3"],
        vec!["SPOP", "st"],
        vec!["SPOP", "st", "2"],
        vec!["SADD", "ints", "1", "2", "3"],
        vec![
            "ZADD", "z", "1", "a", "2.5", "b", "-3", "c", "inf", "d", "0.1", "e",
        ],
        vec!["ZINCRBY", "z", "1.5", "a"],
        vec!["ZPOPMIN", "z"],
        vec!["XADD", "x", "*", "f", "v"],
        vec!["XADD", "x", "*", "f", "w"],
        vec!["XADD", "x", "*", "g", "1"],
        vec!["XGROUP", "CREATE", "x", "g", "0"],
        vec![
            "XREADGROUP",
            "GROUP",
            "g",
            "c1",
            "COUNT",
            "2",
            "STREAMS",
            "x",
            ">",
        ],
        vec!["XGROUP", "CREATECONSUMER", "x", "g", "idle"],
        vec!["PFADD", "hll", "a", "b", "c"],
        vec!["SETBIT", "bits", "100", "1"],
        vec!["SELECT", "3"],
        vec!["SET", "other", "db3"],
        vec!["RPUSH", "l3", "q"],
        vec!["SELECT", "0"],
        vec!["MULTI"],
        vec!["INCR", "m"],
        vec!["RPUSH", "ml", "1"],
        vec!["EXEC"],
        vec!["EVAL", script, "2", "ev", "evn"],
        vec!["BLPOP", "l2", "0"],
    ]
    .into_iter()
    .map(|c| c.into_iter().map(String::from).collect())
    .collect();
    for c in &commands {
        let args: Vec<&str> = c.iter().map(String::as_str).collect();
        ok(conn, &args);
    }
    let mut sadd = vec!["SADD", "bigset"];
    sadd.extend(many.iter().map(String::as_str));
    ok(conn, &sadd);
    let mut hset = vec!["HSET".to_string(), "bighash".into()];
    let mut zadd = vec!["ZADD".to_string(), "bigz".into()];
    for (i, m) in many.iter().enumerate() {
        hset.extend([m.clone(), format!("v{i}")]);
        zadd.extend([format!("{}", i as f64 / 7.0), m.clone()]);
    }
    ok(conn, &hset.iter().map(String::as_str).collect::<Vec<_>>());
    ok(conn, &zadd.iter().map(String::as_str).collect::<Vec<_>>());
    let mut rpush = vec!["RPUSH", "biglist"];
    rpush.extend(many.iter().map(String::as_str));
    ok(conn, &rpush);
}

fn bulk(frame: &[u8]) -> Vec<u8> {
    let start = frame.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    frame[start..frame.len() - 2].to_vec()
}

fn elements(reply: &[u8]) -> Vec<Vec<u8>> {
    split_aggregate(reply)
        .map(|(_, e)| e.into_iter().map(<[u8]>::to_vec).collect())
        .unwrap_or_default()
}

/// Everything in databases 0-15, as comparable text: per key its type, a
/// canonical form of its contents and whether it has a TTL.
fn export(conn: &mut Conn) -> String {
    let mut out = String::new();
    for db in 0..16 {
        ok(conn, &["SELECT", &db.to_string()]);
        let mut keys: Vec<Vec<u8>> = elements(&conn.cmd(&["KEYS", "*"]))
            .iter()
            .map(|f| bulk(f))
            .collect();
        keys.sort();
        for key in keys {
            let k = String::from_utf8_lossy(&key).into_owned();
            let kind = conn.cmd_text(&["TYPE", &k]);
            let content = match kind.trim() {
                "+string" => common::escape(&conn.cmd(&["GET", &k])),
                "+list" => common::escape(&conn.cmd(&["LRANGE", &k, "0", "-1"])),
                "+set" => {
                    let mut m = elements(&conn.cmd(&["SMEMBERS", &k]));
                    m.sort();
                    common::escape(&m.concat())
                }
                "+hash" => {
                    let flat = elements(&conn.cmd(&["HGETALL", &k]));
                    let mut pairs: Vec<Vec<u8>> = flat.chunks(2).map(|p| p.concat()).collect();
                    pairs.sort();
                    common::escape(&pairs.concat())
                }
                "+zset" => common::escape(&conn.cmd(&["ZRANGE", &k, "0", "-1", "WITHSCORES"])),
                "+stream" => {
                    let mut s = common::escape(&conn.cmd(&["XRANGE", &k, "-", "+"]));
                    s += &common::escape(&conn.cmd(&["XINFO", "GROUPS", &k]));
                    s += &common::escape(&conn.cmd(&["XPENDING", &k, "g"]));
                    let info = elements(&conn.cmd(&["XINFO", "STREAM", &k]));
                    for pair in info.chunks(2) {
                        let name = bulk(&pair[0]);
                        if [
                            &b"length"[..],
                            b"last-generated-id",
                            b"max-deleted-entry-id",
                            b"entries-added",
                        ]
                        .contains(&name.as_slice())
                        {
                            s += &common::escape(&pair.concat());
                        }
                    }
                    s
                }
                other => panic!("unexpected type {other}"),
            };
            let ttl = conn.cmd_text(&["PTTL", &k]);
            let has_ttl = !ttl.starts_with(":-1");
            out.push_str(&format!(
                "db{db} {k} {} ttl={has_ttl} {content}\n",
                kind.trim()
            ));
        }
    }
    ok(conn, &["SELECT", "0"]);
    out
}

#[test]
fn every_type_survives_restart_and_rewrite() {
    let dir = temp_dir("aof-types");
    let server = aof_server(&dir, &[]);
    let mut conn = server.connect();
    populate(&mut conn);
    let before = export(&mut conn);
    assert!(before.contains("db3 other"), "{before}");
    kill9(server);

    let server = aof_server(&dir, &[]);
    let mut conn = server.connect();
    assert_same(&export(&mut conn), &before, "after replaying the incr file");
    let rewrites: u64 = info_field(&mut conn, "aof_rewrites").parse().unwrap();
    assert_eq!(
        conn.cmd_text(&["BGREWRITEAOF"]),
        "+Background append only file rewriting started\r\n"
    );
    wait_rewrite(&mut conn, rewrites);
    ok(&mut conn, &["SET", "after", "rewrite"]);
    let after = export(&mut conn);
    assert_eq!(info_field(&mut conn, "aof_enabled"), "1");
    kill9(server);

    let server = aof_server(&dir, &[]);
    let mut conn = server.connect();
    assert_same(
        &export(&mut conn),
        &after,
        "from the new base plus the new incr",
    );
    let manifest =
        std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap();
    assert_eq!(manifest.lines().count(), 2, "{manifest}");
    assert!(manifest.contains("type b") && manifest.contains("type i"));
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn kill9_under_always_loses_no_acknowledged_write() {
    let dir = temp_dir("aof-always");
    let server = aof_server(&dir, &["--appendfsync", "always"]);
    let mut conn = server.connect();
    const N: usize = 500;
    for i in 0..N {
        assert_eq!(
            conn.cmd_text(&["INCR", "counter"]),
            format!(":{}\r\n", i + 1)
        );
        ok(&mut conn, &["RPUSH", "log", &i.to_string()]);
    }
    // Pipelined: one batch, one fsync, every reply acknowledged.
    let mut batch = Vec::new();
    for i in 0..N {
        batch.extend(common::encode_command(&["SET", &format!("p{i}"), "v"]));
    }
    conn.send_raw(&batch);
    for _ in 0..N {
        assert_eq!(conn.read_reply().unwrap(), b"+OK\r\n");
    }
    kill9(server);
    let server = aof_server(&dir, &[]);
    let mut conn = server.connect();
    assert_eq!(
        conn.cmd_text(&["GET", "counter"]),
        format!("${}\r\n{N}\r\n", N.to_string().len())
    );
    assert_eq!(conn.cmd_text(&["LLEN", "log"]), format!(":{N}\r\n"));
    assert_eq!(conn.cmd_text(&["DBSIZE"]), format!(":{}\r\n", N + 2));
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn kill9_during_rewrite_keeps_everything() {
    let dir = temp_dir("aof-crash-rewrite");
    let server = aof_server(&dir, &[]);
    let mut conn = server.connect();
    const KEYS: usize = 50_000;
    let mut batch = Vec::new();
    for i in 0..KEYS {
        batch.extend(common::encode_command(&[
            "SET",
            &format!("k{i}"),
            &format!("v{i}"),
        ]));
    }
    conn.send_raw(&batch);
    for _ in 0..KEYS {
        assert_eq!(conn.read_reply().unwrap(), b"+OK\r\n");
    }
    // Writes before, during and after the rewrite starts; the kill lands
    // while the base is still being written (or just after).
    assert!(conn.cmd_text(&["BGREWRITEAOF"]).starts_with("+Background"));
    for i in 0..200 {
        ok(&mut conn, &["INCR", "during"]);
        ok(&mut conn, &["SET", &format!("k{i}"), "changed"]);
    }
    kill9(server);

    let server = aof_server(&dir, &[]);
    let mut conn = server.connect();
    assert_eq!(conn.cmd_text(&["DBSIZE"]), format!(":{}\r\n", KEYS + 1));
    assert_eq!(conn.cmd_text(&["GET", "during"]), "$3\r\n200\r\n");
    assert_eq!(conn.cmd_text(&["GET", "k0"]), "$7\r\nchanged\r\n");
    assert_eq!(conn.cmd_text(&["GET", "k199"]), "$7\r\nchanged\r\n");
    assert_eq!(conn.cmd_text(&["GET", "k200"]), "$4\r\nv200\r\n");
    assert_eq!(
        conn.cmd_text(&["GET", &format!("k{}", KEYS - 1)]),
        format!("$6\r\nv{}\r\n", KEYS - 1)
    );
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

fn incr_file(dir: &Path) -> PathBuf {
    let manifest =
        std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap();
    let name = manifest
        .lines()
        .rfind(|l| l.ends_with("type i"))
        .and_then(|l| l.split(' ').nth(1))
        .expect("an incr file")
        .to_string();
    dir.join("appendonlydir").join(name)
}

#[test]
fn truncated_tail_follows_aof_load_truncated() {
    let dir = temp_dir("aof-truncated");
    let server = aof_server(&dir, &[]);
    let mut conn = server.connect();
    ok(&mut conn, &["SET", "a", "1"]);
    ok(&mut conn, &["RPUSH", "l", "x", "y"]);
    kill9(server);
    let incr = incr_file(&dir);
    let whole = std::fs::metadata(&incr).unwrap().len();
    // A torn write: half a command at the end.
    let mut data = std::fs::read(&incr).unwrap();
    data.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$2\r\n4");
    std::fs::write(&incr, &data).unwrap();

    let refused = failed_start(&dir, &["--aof-load-truncated", "no"]);
    assert!(refused.contains("Unexpected end of file"), "{refused}");

    let server = aof_server(&dir, &["--aof-load-truncated", "yes"]);
    let mut conn = server.connect();
    assert_eq!(conn.cmd_text(&["GET", "a"]), "$1\r\n1\r\n");
    assert_eq!(conn.cmd_text(&["LLEN", "l"]), ":2\r\n");
    assert_eq!(conn.cmd_text(&["EXISTS", "b"]), ":0\r\n");
    assert_eq!(
        std::fs::metadata(&incr).unwrap().len(),
        whole,
        "torn tail cut off"
    );
    // Appending goes on after the cut.
    ok(&mut conn, &["SET", "c", "3"]);
    kill9(server);
    let server = aof_server(&dir, &[]);
    let mut conn = server.connect();
    assert_eq!(conn.cmd_text(&["GET", "c"]), "$1\r\n3\r\n");
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn corrupted_files_are_refused() {
    let dir = temp_dir("aof-corrupt");
    let server = aof_server(&dir, &[]);
    let mut conn = server.connect();
    ok(&mut conn, &["SET", "a", "1"]);
    kill9(server);
    let manifest = dir.join("appendonlydir/appendonly.aof.manifest");
    let good = std::fs::read(&manifest).unwrap();
    std::fs::write(&manifest, b"this is not a manifest\n").unwrap();
    let refused = failed_start(&dir, &[]);
    assert!(refused.contains("Invalid AOF manifest"), "{refused}");
    assert_eq!(
        std::fs::read(&manifest).unwrap(),
        b"this is not a manifest\n",
        "left as it was"
    );

    // Garbage in the middle of a file is not a torn tail.
    std::fs::write(&manifest, &good).unwrap();
    let incr = incr_file(&dir);
    let mut data = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n!!garbage\r\n".to_vec();
    data.extend(std::fs::read(&incr).unwrap());
    std::fs::write(&incr, data).unwrap();
    let refused = failed_start(&dir, &[]);
    assert!(refused.contains("Bad file format"), "{refused}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn config_set_appendonly_creates_the_log() {
    let dir = temp_dir("aof-config");
    let server = ServerProcess::ferrokv(&["--dir", dir.to_str().unwrap()]);
    let mut conn = server.connect();
    ok(&mut conn, &["SET", "before", "1"]);
    assert_eq!(info_field(&mut conn, "aof_enabled"), "0");
    ok(&mut conn, &["CONFIG", "SET", "appendonly", "yes"]);
    wait_rewrite(&mut conn, 0);
    ok(&mut conn, &["SET", "after", "2"]);
    assert_eq!(info_field(&mut conn, "aof_enabled"), "1");
    kill9(server);
    let server = aof_server(&dir, &[]);
    let mut conn = server.connect();
    assert_eq!(
        conn.cmd_text(&["MGET", "before", "after"]),
        "*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// redis-server with the AOF on and no RDB preamble, files in `dir`.
fn redis_aof(dir: &Path) -> ServerProcess {
    let dir = dir.to_str().unwrap();
    ServerProcess::redis_with(&[
        "--dir",
        dir,
        "--appendonly",
        "yes",
        "--aof-use-rdb-preamble",
        "no",
    ])
    .expect("redis-server")
}

/// One server writes every type into its appendonlydir (a rewritten base
/// plus an incr file), then the other loads a copy and must export the same.
fn cross_load(
    start_writer: impl Fn(&Path) -> ServerProcess,
    start_reader: impl Fn(&Path) -> ServerProcess,
    what: &str,
) {
    if !common::redis_available() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but redis-server is missing"
        );
        eprintln!("SKIPPED {what}: redis-server not installed");
        return;
    }
    let dir = temp_dir("aof-cross");
    let writer = start_writer(&dir);
    let mut conn = writer.connect();
    populate(&mut conn);
    let rewrites: u64 = info_field(&mut conn, "aof_rewrites").parse().unwrap();
    ok(&mut conn, &["BGREWRITEAOF"]);
    wait_rewrite(&mut conn, rewrites);
    // Something in the incr file too.
    ok(&mut conn, &["RPUSH", "l", "tail"]);
    ok(&mut conn, &["XADD", "x", "*", "after", "rewrite"]);
    let written = export(&mut conn);
    kill9(writer);

    let copy = temp_dir("aof-cross-copy");
    copy_dir(&dir.join("appendonlydir"), &copy.join("appendonlydir"));
    let reader = start_reader(&copy);
    let mut conn = reader.connect();
    assert_same(&export(&mut conn), &written, what);
    drop(reader);
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(copy);
}

#[test]
fn redis_server_loads_ferrokv_appendonlydir() {
    let ferrokv = |dir: &Path| aof_server(dir, &[]);
    cross_load(ferrokv, redis_aof, "redis-server loading ferrokv's files");
}

#[test]
fn ferrokv_loads_redis_server_appendonlydir() {
    let ferrokv = |dir: &Path| aof_server(dir, &[]);
    cross_load(redis_aof, ferrokv, "ferrokv loading redis-server's files");
}

#[test]
fn served_blocked_clients_are_logged_as_their_plain_form() {
    let dir = temp_dir("aof-blocked");
    let server = aof_server(&dir, &["--appendfsync", "always"]);
    let mut waiter = server.connect();
    let mut group_waiter = server.connect();
    let mut conn = server.connect();
    ok(&mut conn, &["XGROUP", "CREATE", "x", "g", "$", "MKSTREAM"]);
    waiter.send(&["BLPOP", "q", "0"]);
    group_waiter.send(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "BLOCK",
        "0",
        "STREAMS",
        "x",
        ">",
    ]);
    // Both wait before the pushes.
    server.wait_blocked(2);
    ok(&mut conn, &["RPUSH", "q", "a", "b"]);
    ok(&mut conn, &["XADD", "x", "1-1", "f", "v"]);
    assert!(waiter.read_reply().is_ok());
    assert!(group_waiter.read_reply().is_ok());
    kill9(server);

    let server = aof_server(&dir, &[]);
    let mut conn = server.connect();
    assert_eq!(
        conn.cmd_text(&["LRANGE", "q", "0", "-1"]),
        "*1\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        conn.cmd_text(&["XPENDING", "x", "g"]),
        "*4\r\n:1\r\n$3\r\n1-1\r\n$3\r\n1-1\r\n*1\r\n*2\r\n$1\r\nc\r\n$1\r\n1\r\n"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn single_file_aof_of_redis_6_is_upgraded() {
    let dir = temp_dir("aof-upgrade");
    let mut old = common::encode_command(&["SELECT", "0"]);
    old.extend(common::encode_command(&["SET", "legacy", "yes"]));
    old.extend(common::encode_command(&["RPUSH", "l", "1", "2"]));
    std::fs::write(dir.join("appendonly.aof"), old).unwrap();
    let server = aof_server(&dir, &[]);
    let mut conn = server.connect();
    assert_eq!(conn.cmd_text(&["GET", "legacy"]), "$3\r\nyes\r\n");
    ok(&mut conn, &["RPUSH", "l", "3"]);
    kill9(server);
    assert!(
        !dir.join("appendonly.aof").exists(),
        "moved into appendonlydir"
    );
    let server = aof_server(&dir, &[]);
    let mut conn = server.connect();
    assert_eq!(conn.cmd_text(&["LLEN", "l"]), ":3\r\n");
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn clients_get_loading_while_the_log_replays() {
    let dir = temp_dir("aof-loading");
    let aof_dir = dir.join("appendonlydir");
    std::fs::create_dir_all(&aof_dir).unwrap();
    const KEYS: usize = 300_000;
    let mut base = common::encode_command(&["SELECT", "0"]);
    for i in 0..KEYS {
        base.extend(common::encode_command(&["SET", &format!("k{i}"), "v"]));
    }
    std::fs::write(aof_dir.join("appendonly.aof.1.base.aof"), base).unwrap();
    std::fs::write(
        aof_dir.join("appendonly.aof.manifest"),
        "file appendonly.aof.1.base.aof seq 1 type b\n",
    )
    .unwrap();
    let port = common::free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ferrokv"))
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--loglevel",
            "warning",
        ])
        .args(["--dir", dir.to_str().unwrap(), "--appendonly", "yes"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn ferrokv");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut saw_loading = false;
    let mut loaded = false;
    while Instant::now() < deadline && !loaded {
        if let Ok(mut conn) = Conn::try_connect(port, Duration::from_secs(5)) {
            loop {
                let reply = conn.cmd_text(&["DBSIZE"]);
                if reply.starts_with("-LOADING Redis is loading the dataset in memory") {
                    saw_loading = true;
                    assert!(Instant::now() < deadline, "still loading");
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                assert_eq!(reply, format!(":{KEYS}\r\n"));
                loaded = true;
                break;
            }
        } else {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(dir);
    assert!(loaded, "never loaded");
    assert!(saw_loading, "the listener only opened after loading");
}

#[test]
fn appendonly_off_then_on_rewrites_and_leaves_no_stale_files() {
    let dir = temp_dir("aof-off-on");
    let server = aof_server(&dir, &[]);
    let mut conn = server.connect();
    ok(&mut conn, &["SET", "a", "1"]);
    ok(&mut conn, &["CONFIG", "SET", "appendonly", "no"]);
    ok(&mut conn, &["SET", "b", "2"]);
    let rewrites: u64 = info_field(&mut conn, "aof_rewrites").parse().unwrap();
    ok(&mut conn, &["CONFIG", "SET", "appendonly", "yes"]);
    wait_rewrite(&mut conn, rewrites);
    ok(&mut conn, &["SET", "c", "3"]);
    kill9(server);
    let mut files: Vec<String> = std::fs::read_dir(dir.join("appendonlydir"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "appendonly.aof.2.base.aof",
            "appendonly.aof.2.incr.aof",
            "appendonly.aof.manifest"
        ]
    );
    let server = aof_server(&dir, &[]);
    let mut conn = server.connect();
    assert_eq!(
        conn.cmd_text(&["MGET", "a", "b", "c"]),
        "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// A user migrating with a `dump.rdb` and `appendonly yes`: with no AOF yet,
/// start-up loads the RDB file and writes the new log from it (as Redis
/// does), so the next start, which reads the AOF instead, has the data too.
/// RESTORE with a relative TTL is logged with an absolute one.
#[test]
fn first_start_with_aof_on_loads_the_rdb_file_into_the_new_log() {
    let dir = temp_dir("aof-from-rdb");
    let d = dir.to_str().unwrap();
    let plain = ServerProcess::ferrokv(&["--dir", d]);
    let mut conn = plain.connect();
    ok(&mut conn, &["SET", "migrated", "yes"]);
    ok(&mut conn, &["RPUSH", "queue", "a", "b"]);
    let dump = conn.cmd(&["DUMP", "migrated"]);
    assert!(dump.starts_with(b"$"), "{}", String::from_utf8_lossy(&dump));
    ok(&mut conn, &["SAVE"]);
    drop(plain);
    assert!(dir.join("dump.rdb").exists());

    let server = aof_server(&dir, &[]);
    let mut conn = server.connect();
    assert_eq!(conn.cmd_text(&["GET", "migrated"]), "$3\r\nyes\r\n");
    assert_eq!(conn.cmd_text(&["LLEN", "queue"]), ":2\r\n");
    let payload = &dump[dump.iter().position(|&b| b == b'\n').unwrap() + 1..dump.len() - 2];
    let restored = conn.cmd(&[b"RESTORE".as_slice(), b"copy", b"100000", payload]);
    assert_eq!(restored, b"+OK\r\n");
    kill9(server);
    // The RDB file goes, so what comes back can only come from the log.
    std::fs::remove_file(dir.join("dump.rdb")).unwrap();

    let server = aof_server(&dir, &[]);
    let mut conn = server.connect();
    assert_eq!(conn.cmd_text(&["GET", "migrated"]), "$3\r\nyes\r\n");
    assert_eq!(
        conn.cmd_text(&["LRANGE", "queue", "0", "-1"]),
        "*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    assert_eq!(conn.cmd_text(&["GET", "copy"]), "$3\r\nyes\r\n");
    let ttl: i64 = conn
        .cmd_text(&["PTTL", "copy"])
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    assert!(ttl > 0 && ttl <= 100_000, "PTTL {ttl}");
    let incr = std::fs::read_dir(dir.join("appendonlydir"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .expect("an incr file");
    let logged = std::fs::read(incr).unwrap();
    assert!(
        logged.windows(6).any(|w| w == b"ABSTTL"),
        "RESTORE logged without ABSTTL: {}",
        String::from_utf8_lossy(&logged)
    );
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}
