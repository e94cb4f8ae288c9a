//! Lua scripting against the built binary: the scripts queue libraries and
//! rate limiters send, atomic counters under concurrency, BUSY / SCRIPT KILL
//! / SHUTDOWN NOSAVE around a long script, and a script's push serving a
//! client blocked in BLPOP.

mod common;

use common::{Conn, ServerProcess};

use std::time::{Duration, Instant};

/// A server whose scripts count as busy after 100 ms.
fn server() -> ServerProcess {
    ServerProcess::ferrokv(&["--busy-reply-threshold", "100"])
}

fn text(reply: Vec<u8>) -> String {
    String::from_utf8_lossy(&reply).into_owned()
}

/// Sends PING until the reply is BUSY (the script has passed the
/// threshold), within a bounded time.
fn wait_busy(conn: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = conn.cmd_text(&["PING"]);
        if reply.starts_with("-BUSY") {
            assert_eq!(
                reply,
                "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
            );
            return;
        }
        assert!(Instant::now() < deadline, "never busy: {reply}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn rate_limiter_counts_and_expires() {
    let server = server();
    let mut c = server.connect();
    // rate-limit-redis's increment script.
    let script = "local totalHits = redis.call('INCR', KEYS[1]) \
                  local timeToExpire = redis.call('PTTL', KEYS[1]) \
                  if timeToExpire <= 0 or ARGV[1] == '1' then \
                    redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2])) \
                    timeToExpire = tonumber(ARGV[2]) \
                  end \
                  return { totalHits, timeToExpire }";
    let sha = text(c.cmd(&["SCRIPT", "LOAD", script]));
    let sha = sha.lines().nth(1).unwrap().to_string();
    for hit in 1..=3 {
        let reply = text(c.cmd(&["EVALSHA", &sha, "1", "rl:ip", "0", "60000"]));
        assert!(reply.starts_with(&format!("*2\r\n:{hit}\r\n:")), "{reply}");
    }
    let ttl: i64 = text(c.cmd(&["PTTL", "rl:ip"]))[1..].trim().parse().unwrap();
    assert!(ttl > 50_000 && ttl <= 60_000, "{ttl}");
    assert_eq!(text(c.cmd(&["GET", "rl:ip"])), "$1\r\n3\r\n");
}

#[test]
fn queue_scripts_move_jobs_between_lists_sets_and_hashes() {
    let server = server();
    let mut c = server.connect();
    c.cmd(&[
        "HSET",
        "bull:q:1",
        "name",
        "email",
        "data",
        "{\"to\":\"a\"}",
    ]);
    c.cmd(&["LPUSH", "bull:q:wait", "1"]);
    // Like Bull's moveToActive: the job hash and the active list are keys
    // the script was not given.
    let move_to_active = "local jobId = redis.call('RPOPLPUSH', KEYS[1], KEYS[2]) \
                          if jobId then \
                            local jobKey = ARGV[1] .. jobId \
                            redis.call('HSET', jobKey, 'processedOn', ARGV[2]) \
                            redis.call('SET', jobKey .. ':lock', ARGV[3], 'PX', 30000) \
                            return redis.call('HGETALL', jobKey) \
                          end";
    let reply = text(c.cmd(&[
        "EVAL",
        move_to_active,
        "2",
        "bull:q:wait",
        "bull:q:active",
        "bull:q:",
        "1700000000000",
        "token",
    ]));
    assert_eq!(
        reply,
        "*6\r\n$4\r\nname\r\n$5\r\nemail\r\n$4\r\ndata\r\n$10\r\n{\"to\":\"a\"}\r\n$11\r\nprocessedOn\r\n$13\r\n1700000000000\r\n"
    );
    assert_eq!(
        text(c.cmd(&["LRANGE", "bull:q:active", "0", "-1"])),
        "*1\r\n$1\r\n1\r\n"
    );
    assert_eq!(text(c.cmd(&["GET", "bull:q:1:lock"])), "$5\r\ntoken\r\n");
    // Like moveToDelayed: out of the active list into a sorted set.
    let move_to_delayed = "local removed = redis.call('LREM', KEYS[1], 0, ARGV[1]) \
                           redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1]) \
                           redis.call('DEL', KEYS[3]) \
                           return removed";
    let reply = text(c.cmd(&[
        "EVAL",
        move_to_delayed,
        "3",
        "bull:q:active",
        "bull:q:delayed",
        "bull:q:1:lock",
        "1",
        "1700000005000",
    ]));
    assert_eq!(reply, ":1\r\n");
    assert_eq!(text(c.cmd(&["LLEN", "bull:q:active"])), ":0\r\n");
    assert_eq!(
        text(c.cmd(&["ZRANGE", "bull:q:delayed", "0", "-1", "WITHSCORES"])),
        "*2\r\n$1\r\n1\r\n$13\r\n1700000005000\r\n"
    );
    assert_eq!(text(c.cmd(&["EXISTS", "bull:q:1:lock"])), ":0\r\n");
    // An empty wait list: the script returns nil.
    let reply = text(c.cmd(&[
        "EVAL",
        move_to_active,
        "2",
        "bull:q:wait",
        "bull:q:active",
        "bull:q:",
        "1",
        "t",
    ]));
    assert_eq!(reply, "$-1\r\n");
}

#[test]
fn concurrent_counter_scripts_lose_no_increment() {
    let server = server();
    let mut c = server.connect();
    // Read-modify-write in Lua: only atomic if nothing runs in between.
    let script = "local v = tonumber(redis.call('GET', KEYS[1]) or '0') \
                  redis.call('SET', KEYS[1], v + 1) \
                  redis.call('INCR', 'calls') \
                  return v + 1";
    let sha = text(c.cmd(&["SCRIPT", "LOAD", script]));
    let sha = sha.lines().nth(1).unwrap().to_string();
    const CLIENTS: usize = 8;
    const CALLS: usize = 250;
    let threads: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let mut conn = server.connect();
            let sha = sha.clone();
            std::thread::spawn(move || {
                for _ in 0..CALLS {
                    let reply = conn.cmd(&["EVALSHA", sha.as_str(), "1", "total"]);
                    assert_eq!(reply[0], b':');
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let total = (CLIENTS * CALLS).to_string();
    assert_eq!(
        text(c.cmd(&["GET", "total"])),
        format!("${}\r\n{total}\r\n", total.len())
    );
    assert_eq!(
        text(c.cmd(&["GET", "calls"])),
        format!("${}\r\n{total}\r\n", total.len())
    );
}

#[test]
fn a_busy_script_answers_busy_until_script_kill() {
    let server = server();
    let mut runner = server.connect();
    let mut other = server.connect();
    runner.send(&["EVAL", "local i = 0 while true do i = i + 1 end", "0"]);
    wait_busy(&mut other);
    assert!(text(other.cmd(&["GET", "k"])).starts_with("-BUSY"));
    assert!(text(other.cmd(&["SHUTDOWN"])).starts_with("-BUSY"));
    assert_eq!(text(other.cmd(&["SCRIPT", "KILL"])), "+OK\r\n");
    let killed = text(runner.read_reply().expect("the killed script's reply"));
    assert!(
        killed.starts_with("-ERR Script killed by user with SCRIPT KILL... script: "),
        "{killed}"
    );
    assert!(killed.ends_with(", on @user_script:1.\r\n"), "{killed}");
    assert_eq!(text(other.cmd(&["PING"])), "+PONG\r\n");
    assert_eq!(
        text(other.cmd(&["SCRIPT", "KILL"])),
        "-NOTBUSY No scripts in execution right now.\r\n"
    );
    // The runner's connection and the interpreter still work.
    assert_eq!(text(runner.cmd(&["EVAL", "return 7", "0"])), ":7\r\n");
}

#[test]
fn a_script_that_wrote_is_unkillable_but_shutdown_nosave_stops_the_server() {
    let mut server = server();
    let mut runner = server.connect();
    let mut other = server.connect();
    runner.send(&["EVAL", "redis.call('SET', 'x', '1') while true do end", "0"]);
    wait_busy(&mut other);
    assert_eq!(
        text(other.cmd(&["SCRIPT", "KILL"])),
        "-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n"
    );
    other.send(&["SHUTDOWN", "NOSAVE"]);
    let status = server.wait_exit(Duration::from_secs(10));
    assert!(
        status.is_some(),
        "server still running after SHUTDOWN NOSAVE"
    );
}

#[test]
fn a_push_from_a_script_serves_a_blocked_client() {
    let server = server();
    let mut waiter = server.connect();
    let mut pusher = server.connect();
    waiter.send(&["BLPOP", "jobs", "0"]);
    server.wait_blocked(1);
    assert_eq!(
        text(pusher.cmd(&[
            "EVAL",
            "return redis.call('RPUSH', KEYS[1], ARGV[1])",
            "1",
            "jobs",
            "job-1"
        ])),
        ":1\r\n"
    );
    assert_eq!(
        text(waiter.read_reply().expect("BLPOP served")),
        "*2\r\n$4\r\njobs\r\n$5\r\njob-1\r\n"
    );
    assert_eq!(text(pusher.cmd(&["LLEN", "jobs"])), ":0\r\n");
}

#[test]
fn info_counts_cached_scripts() {
    let server = server();
    let mut c = server.connect();
    c.cmd(&["EVAL", "return 1", "0"]);
    c.cmd(&["SCRIPT", "LOAD", "return 2"]);
    let info = text(c.cmd(&["INFO", "memory"]));
    assert!(info.contains("number_of_cached_scripts:2\r\n"), "{info}");
    let lua: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory_lua:"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(lua > 0);
    c.cmd(&["SCRIPT", "FLUSH"]);
    let info = text(c.cmd(&["INFO", "memory"]));
    assert!(info.contains("number_of_cached_scripts:0\r\n"), "{info}");
}
