//! maxmemory through the real binary: eviction keeps the counted memory and
//! the RSS within the limit, LRU keeps what is used, noeviction refuses
//! writes with Redis's exact error, CONFIG SET evicts at once.

mod common;

use std::time::{Duration, Instant};

use common::{Conn, ServerProcess};

const MB: u64 = 1024 * 1024;
const OOM: &str = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";

/// One `INFO` field as a number.
fn info_field(conn: &mut Conn, section: &str, name: &str) -> u64 {
    let info = conn.cmd_text(&["INFO", section]);
    let prefix = format!("{name}:");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} in INFO {section}"))
}

fn used_memory(conn: &mut Conn) -> u64 {
    info_field(conn, "memory", "used_memory")
}

/// Pipelines `SET key value` for every key, then reads every reply.
fn set_all(conn: &mut Conn, keys: impl Iterator<Item = String>, value: &[u8]) -> Vec<Vec<u8>> {
    let mut sent = 0;
    for key in keys {
        conn.send(&[b"SET".as_slice(), key.as_bytes(), value]);
        sent += 1;
    }
    (0..sent)
        .map(|_| conn.read_reply().expect("SET reply"))
        .collect()
}

/// Pipelines `EXISTS key` for every key and counts the ones present.
fn count_existing(conn: &mut Conn, keys: impl Iterator<Item = String>) -> usize {
    let mut sent = 0;
    for key in keys {
        conn.send(&["EXISTS", &key]);
        sent += 1;
    }
    (0..sent)
        .filter(|_| conn.read_reply().expect("EXISTS reply") == b":1\r\n")
        .count()
}

fn touch_hot(conn: &mut Conn, hot: usize) {
    for i in 0..hot {
        conn.send(&["GET", &format!("hot:{i}")]);
    }
    for _ in 0..hot {
        conn.read_reply().expect("GET reply");
    }
}

/// 100 MB through a 20 MB budget, about 10 MB a second so the LRU clock
/// (one-second resolution, as in Redis) can tell old keys from used ones.
#[test]
fn allkeys_lru_stays_within_maxmemory_and_keeps_used_keys() {
    let limit = 20 * MB;
    let server =
        ServerProcess::ferrokv(&["--maxmemory", "20mb", "--maxmemory-policy", "allkeys-lru"]);
    let mut conn = server.connect();
    const HOT: usize = 200;
    set_all(
        &mut conn,
        (0..HOT).map(|i| format!("hot:{i}")),
        &[b'h'; 1000],
    );
    let value = vec![b'c'; 10_000];
    const BATCH: usize = 100;
    const COLD: usize = 10_000;
    let mut highest = 0;
    for batch in 0..COLD / BATCH {
        let keys = (batch * BATCH..(batch + 1) * BATCH).map(|i| format!("cold:{i}"));
        for reply in set_all(&mut conn, keys, &value) {
            assert_eq!(reply, b"+OK\r\n");
        }
        touch_hot(&mut conn, HOT);
        highest = highest.max(used_memory(&mut conn));
        std::thread::sleep(Duration::from_millis(90));
    }
    // Eviction runs before each command, so one batch in flight is the slack.
    assert!(
        highest <= limit + 2 * MB,
        "used_memory reached {highest} with maxmemory {limit}"
    );
    assert!(info_field(&mut conn, "stats", "evicted_keys") > 0);
    let hot_left = count_existing(&mut conn, (0..HOT).map(|i| format!("hot:{i}")));
    let cold_left = count_existing(&mut conn, (0..COLD).map(|i| format!("cold:{i}")));
    let hot_rate = hot_left as f64 / HOT as f64;
    let cold_rate = cold_left as f64 / COLD as f64;
    assert!(
        hot_rate >= 0.9 && cold_rate <= 0.3,
        "survivors: {hot_left}/{HOT} hot, {cold_left}/{COLD} cold"
    );
}

#[test]
fn noeviction_refuses_writes_but_serves_reads_and_deletes() {
    let server = ServerProcess::ferrokv(&["--maxmemory", "4mb"]);
    let mut conn = server.connect();
    let value = vec![b'v'; 10_000];
    // One at a time: a pipelined flood would sit in the query buffer, which
    // counts towards used_memory, and make the refusals depend on timing.
    let replies: Vec<Vec<u8>> = (0..1000)
        .map(|i| conn.cmd(&[b"SET".as_slice(), format!("k:{i}").as_bytes(), &value]))
        .collect();
    let stored = replies
        .iter()
        .filter(|r| r.as_slice() == b"+OK\r\n")
        .count();
    assert!(stored > 100 && stored < 1000, "stored {stored} of 1000");
    // Every write past the limit gets exactly Redis's refusal.
    assert!(
        replies
            .iter()
            .all(|r| r.as_slice() == b"+OK\r\n" || r.as_slice() == OOM.as_bytes())
    );
    assert_eq!(conn.cmd_text(&["SET", "another", "1"]), OOM);
    assert_eq!(conn.cmd(&["STRLEN", "k:0"]), b":10000\r\n");
    assert_eq!(conn.cmd(&["GET", "k:0"]).len(), 10_000 + 10);
    assert_eq!(info_field(&mut conn, "stats", "evicted_keys"), 0);
    // Deleting makes room again.
    let kept: Vec<usize> = (0..1000)
        .filter(|&i| replies[i].as_slice() == b"+OK\r\n")
        .collect();
    for i in &kept[..stored / 2] {
        conn.send(&["DEL", &format!("k:{i}")]);
    }
    for _ in 0..stored / 2 {
        assert_eq!(conn.read_reply().unwrap(), b":1\r\n");
    }
    assert_eq!(conn.cmd_text(&["SET", "another", "1"]), "+OK\r\n");
}

#[test]
fn config_set_maxmemory_lower_evicts_before_replying() {
    let server = ServerProcess::ferrokv(&["--maxmemory-policy", "allkeys-random"]);
    let mut conn = server.connect();
    let value = vec![b'v'; 10_000];
    set_all(&mut conn, (0..2000).map(|i| format!("k:{i}")), &value);
    assert!(used_memory(&mut conn) > 16 * MB);
    assert_eq!(
        conn.cmd_text(&["CONFIG", "SET", "maxmemory", "8mb"]),
        "+OK\r\n"
    );
    // INFO's own reply buffers are counted too: a little slack.
    let used = used_memory(&mut conn);
    assert!(
        used <= 8 * MB + 64 * 1024,
        "used_memory {used} after lowering maxmemory to 8mb"
    );
    let evicted = info_field(&mut conn, "stats", "evicted_keys");
    let left = conn.cmd_text(&["DBSIZE"]);
    assert!(evicted > 1000, "evicted {evicted}, DBSIZE {left}");
}

/// Resident memory may exceed maxmemory by the process's own baseline (code,
/// thread stacks, runtime: measured before the flood) plus this share of the
/// limit for allocator fragmentation (glibc's per-thread arenas under eight
/// writers: measured 23–40% with varied value sizes on the debug build, and
/// past 50% in about one run in twelve while other tests ran beside it).
const RSS_FRAGMENTATION_SHARE: f64 = 0.75;

#[test]
fn a_write_flood_from_many_clients_keeps_rss_bounded() {
    let limit = 32 * MB;
    let server =
        ServerProcess::ferrokv(&["--maxmemory", "32mb", "--maxmemory-policy", "allkeys-lru"]);
    let baseline = server.rss_kib() * 1024;
    let port = server.port;
    const CLIENTS: usize = 8;
    const ROUNDS: usize = 40;
    const PIPELINE: usize = 200;
    let started = Instant::now();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|c| {
            std::thread::spawn(move || {
                let mut conn = Conn::connect(port);
                let mut slowest = Duration::ZERO;
                for round in 0..ROUNDS {
                    // Value sizes vary so freed blocks do not fit new ones exactly.
                    let value = vec![b'x'; 200 + (round * 97 + c * 31) % 1800];
                    let keys = (0..PIPELINE).map(|i| format!("c{c}:r{round}:{i}"));
                    let sent = Instant::now();
                    for reply in set_all(&mut conn, keys, &value) {
                        assert_eq!(reply, b"+OK\r\n");
                    }
                    slowest = slowest.max(sent.elapsed());
                }
                slowest
            })
        })
        .collect();
    let slowest = workers
        .into_iter()
        .map(|w| w.join().expect("flood client"))
        .max()
        .unwrap();
    let took = started.elapsed();
    let mut conn = server.connect();
    let used = used_memory(&mut conn);
    let rss = server.rss_kib() * 1024;
    let allowed = baseline + limit + (limit as f64 * RSS_FRAGMENTATION_SHARE) as u64;
    eprintln!(
        "flood: {} SETs in {took:?}, slowest pipeline {slowest:?}, used_memory {used}, rss {rss}, baseline rss {baseline}",
        CLIENTS * ROUNDS * PIPELINE
    );
    assert!(info_field(&mut conn, "stats", "evicted_keys") > 0);
    assert!(used <= limit + 2 * MB, "used_memory {used}");
    assert!(rss <= allowed, "rss {rss} > allowed {allowed}");
    assert!(
        slowest < Duration::from_secs(5),
        "a pipeline waited {slowest:?}"
    );
}
