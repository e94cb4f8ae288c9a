//! A bounded soak: many clients connect, pipeline, and hang up — some after
//! reading their replies, some before, some in the middle of a command —
//! for a fixed time. Afterwards every acknowledged write is there, the
//! connections are all gone, and once the data is deleted the server's
//! memory (INFO used_memory) is back near its baseline.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use common::{Conn, ServerProcess};

const CLIENTS: usize = 12;
/// Per round; the test runs two.
const SOAK: Duration = Duration::from_secs(4);

fn info_field(conn: &mut Conn, section: &str, field: &str) -> u64 {
    let info = conn.cmd_text(&["INFO", section]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in INFO {section}"))
}

/// Polls (bounded) until `check` holds; returns whether it did.
fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}

/// What one client thread knows the server acknowledged.
#[derive(Default)]
struct Acked {
    /// key -> value, for SETs whose +OK was read.
    values: HashMap<String, Vec<u8>>,
    /// INCRs acknowledged and INCRs sent on the counter key.
    incr_acked: u64,
    incr_sent: u64,
    connections: u64,
}

fn client(port: u16, thread: usize, deadline: Instant) -> Acked {
    let mut acked = Acked::default();
    let counter = format!("soak:{thread}:counter");
    let mut seq = 0u64;
    let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ thread as u64;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    while Instant::now() < deadline {
        let mut conn = Conn::connect(port);
        acked.connections += 1;
        // A pipeline of unique SETs (some large) and INCRs.
        let mut pipeline = Vec::new();
        let mut sets = Vec::new();
        let commands = 1 + next(200);
        for _ in 0..commands {
            if next(4) == 0 {
                pipeline.extend(common::encode_command(&["INCR", &counter]));
                sets.push(None);
            } else {
                seq += 1;
                let key = format!("soak:{thread}:{seq}");
                let size = if next(50) == 0 {
                    100_000
                } else {
                    1 + next(200) as usize
                };
                let value = vec![b'a' + (seq % 26) as u8; size];
                pipeline.extend(common::encode_command(&[
                    b"SET".as_slice(),
                    key.as_bytes(),
                    &value,
                ]));
                sets.push(Some((key, value)));
            }
        }
        let incrs = sets.iter().filter(|s| s.is_none()).count() as u64;
        acked.incr_sent += incrs;
        match next(4) {
            // Hang up without reading anything.
            0 => {
                let _ = conn.stream.write_all(&pipeline);
            }
            // Hang up in the middle of a command, after the pipeline.
            1 => {
                pipeline.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$100000\r\nabc");
                let _ = conn.stream.write_all(&pipeline);
            }
            // Read every reply, then hang up (half the time mid-pipeline).
            _ => {
                let cut = if next(2) == 0 {
                    pipeline.len()
                } else {
                    next(pipeline.len() as u64) as usize
                };
                if conn.stream.write_all(&pipeline[..cut]).is_err() {
                    continue;
                }
                if cut < pipeline.len() {
                    // Only whole commands before the cut get replies; we
                    // do not know how many, so read none and hang up.
                    continue;
                }
                for set in &sets {
                    let Ok(reply) = conn.read_reply() else { break };
                    match set {
                        Some((key, value)) => {
                            assert_eq!(reply, b"+OK\r\n");
                            acked.values.insert(key.clone(), value.clone());
                        }
                        None => {
                            assert!(reply.starts_with(b":"), "INCR reply");
                            acked.incr_acked += 1;
                        }
                    }
                }
            }
        }
    }
    acked
}

#[test]
fn soak_many_clients_lose_no_acknowledged_data_and_memory_returns() {
    let server = ServerProcess::ferrokv(&[]);
    let mut admin = server.connect();
    // Warm up lazily allocated structures before taking the baseline.
    for _ in 0..20 {
        let mut c = server.connect();
        c.cmd(&["SET", "warm", "x"]);
    }
    admin.cmd(&["DEL", "warm"]);
    assert!(eventually(Duration::from_secs(5), || {
        info_field(&mut admin, "clients", "connected_clients") == 1
    }));
    let baseline = info_field(&mut admin, "memory", "used_memory");

    // Two rounds: the first may leave a little behind (allocator and table
    // capacity); the second must not add to it, or something leaks.
    let after_first = soak_round(&server, &mut admin, baseline, 0);
    let after_second = soak_round(&server, &mut admin, baseline, 1);
    eprintln!(
        "used_memory: baseline {baseline}, after round 1 {after_first}, after round 2 {after_second}"
    );
    assert!(
        after_second < after_first + 256 * 1024,
        "memory grows from round to round: {after_first} -> {after_second}"
    );
}

/// One soak round; returns used_memory once its data is deleted.
fn soak_round(server: &ServerProcess, admin: &mut Conn, baseline: u64, round: usize) -> u64 {
    let deadline = Instant::now() + SOAK;
    let port = server.port;
    let results: Vec<Acked> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|t| s.spawn(move || client(port, round * CLIENTS + t, deadline)))
            .collect();
        // The server keeps answering others throughout.
        while Instant::now() < deadline {
            assert_eq!(admin.cmd(&["PING"]), b"+PONG\r\n");
            std::thread::sleep(Duration::from_millis(100));
        }
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let connections: u64 = results.iter().map(|r| r.connections).sum();
    let acked_values: usize = results.iter().map(|r| r.values.len()).sum();
    eprintln!("{connections} connections, {acked_values} acknowledged SETs");
    assert!(connections > 100, "only {connections} connections");

    // Every acknowledged write is there.
    for (i, acked) in results.iter().enumerate() {
        let t = round * CLIENTS + i;
        let keys: Vec<&String> = acked.values.keys().collect();
        for chunk in keys.chunks(500) {
            let mut get = vec!["MGET".to_string()];
            get.extend(chunk.iter().map(|k| k.to_string()));
            let reply = admin.cmd(&get);
            let mut expected = format!("*{}\r\n", chunk.len()).into_bytes();
            for k in chunk {
                let v = &acked.values[*k];
                expected.extend(format!("${}\r\n", v.len()).as_bytes());
                expected.extend(v);
                expected.extend(b"\r\n");
            }
            assert!(
                reply == expected,
                "thread {t}: an acknowledged value is missing or wrong"
            );
        }
        let counter = admin.cmd_text(&["GET", &format!("soak:{t}:counter")]);
        let value: u64 = counter.lines().nth(1).map_or(0, |v| v.parse().unwrap());
        assert!(
            acked.incr_acked <= value && value <= acked.incr_sent,
            "thread {t}: counter {value}, acked {}, sent {}",
            acked.incr_acked,
            acked.incr_sent
        );
    }
    assert_eq!(admin.cmd(&["EXISTS", "half"]), b":0\r\n");

    // A fresh admin connection: the old one keeps the reply buffer its big
    // MGETs grew (up to 1 MB is kept for reuse, by design).
    *admin = server.connect();
    // Every connection is gone, and with the data deleted the memory is back.
    assert!(
        eventually(Duration::from_secs(5), || {
            info_field(admin, "clients", "connected_clients") == 1
        }),
        "connections linger"
    );
    assert_eq!(admin.cmd(&["FLUSHALL"]), b"+OK\r\n");
    let mut last = 0;
    let returned = eventually(Duration::from_secs(5), || {
        last = info_field(admin, "memory", "used_memory");
        last < baseline + 512 * 1024
    });
    assert!(returned, "used_memory {last} vs baseline {baseline}");
    last
}
