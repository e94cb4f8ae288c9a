//! Command-argument fuzzing: every command and subcommand of the table gets
//! random arities and values (from a vocabulary of numbers at the edges of
//! their ranges, option words, keys of every type, binary and long strings)
//! against a running server. The server must answer every command, never
//! crash or hang, and answer PING afterwards. Seeded and bounded in count and
//! time; `COMMAND_FUZZ_SEED=n` runs another seed, `COMMAND_FUZZ_SECS=n`
//! (with as many rounds as fit) a longer session.

mod common;

use std::time::{Duration, Instant};

use std::process::{Child, Command, Stdio};

use common::{Conn, ReadError};
use ferrokv::cmd::table::CommandTable;

/// Wall-clock budget by default; the loop also stops after `ROUNDS` passes.
const BUDGET: Duration = Duration::from_secs(12);
const ROUNDS: usize = 12;
/// How long one reply may take before the command counts as blocked.
const BLOCKED_AFTER: Duration = Duration::from_millis(300);

/// Commands that would stop the server, freeze every client, talk to other
/// hosts or silence replies on purpose; everything else is fuzzed.
const SKIPPED: &[&str] = &[
    "shutdown",
    "client|pause",
    "client|reply",
    "replicaof",
    "slaveof",
    "failover",
    "sync",
    "psync",
    "migrate",
];

const WORDS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "3",
    "10",
    "100",
    "-100",
    "1000",
    "1.5",
    "-0.5",
    "1e3",
    "inf",
    "+inf",
    "-inf",
    "nan",
    "(1",
    "[a",
    "(a",
    "-",
    "+",
    "*",
    "?",
    "$",
    ">",
    "~",
    "=",
    "0-0",
    "1-1",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "4294967296",
    "2147483648",
    "-2147483649",
    "str",
    "list",
    "hash",
    "set",
    "zset",
    "stream",
    "hll",
    "int",
    "missing",
    "field",
    "member",
    "group",
    "consumer",
    "NX",
    "XX",
    "GT",
    "LT",
    "CH",
    "INCR",
    "EX",
    "PX",
    "EXAT",
    "PXAT",
    "KEEPTTL",
    "GET",
    "COUNT",
    "MATCH",
    "TYPE",
    "LIMIT",
    "WITHSCORES",
    "BYSCORE",
    "BYLEX",
    "REV",
    "STORE",
    "BY",
    "ASC",
    "DESC",
    "ALPHA",
    "MAXLEN",
    "MINID",
    "STREAMS",
    "BLOCK",
    "NOACK",
    "ID",
    "LEFT",
    "RIGHT",
    "BEFORE",
    "AFTER",
    "RANK",
    "MAXLEN",
    "AGGREGATE",
    "SUM",
    "MIN",
    "MAX",
    "WEIGHTS",
    "IDLE",
    "FORCE",
    "JUSTID",
    "RESET",
    "OVERFLOW",
    "FAIL",
    "SAT",
    "WRAP",
    "u8",
    "i64",
    "u63",
    "#1",
    "ON",
    "OFF",
    "YES",
    "NO",
    "DB",
    "REPLACE",
    "ABSTTL",
    "FREQ",
    "SCHEDULE",
    "SYNC",
    "ASYNC",
    "SAMPLES",
    "FULL",
    "LEN",
    "IDX",
    "MINMATCHLEN",
    "WITHMATCHLEN",
    "",
    "\u{0}\u{ff}",
    "é",
    "a b",
    "return 1",
    "return redis.call('ping')",
    "#!lua name=lib\nredis.register_function('f', function() return 1 end)",
];

/// xorshift64*: reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn random_arg(rng: &mut Rng) -> Vec<u8> {
    match rng.below(20) {
        0 => (0..rng.below(64)).map(|_| rng.next() as u8).collect(),
        1 => vec![b'x'; 1 + rng.below(20_000)],
        2 => (rng.next() as i64).to_string().into_bytes(),
        _ => WORDS[rng.below(WORDS.len())].as_bytes().to_vec(),
    }
}

/// Keys of every type under the names the vocabulary uses.
fn populate(conn: &mut Conn) {
    let setup: &[&[&str]] = &[
        &["FLUSHALL"],
        &["SET", "str", "hello"],
        &["SET", "int", "42"],
        &["RPUSH", "list", "a", "b", "c", "1", "2"],
        &["HSET", "hash", "field", "1", "f2", "v"],
        &["SADD", "set", "member", "1", "2"],
        &["ZADD", "zset", "1", "member", "2", "a", "2", "b"],
        &["XADD", "stream", "1-1", "field", "v"],
        &["XGROUP", "CREATE", "stream", "group", "0"],
        &["PFADD", "hll", "a", "b"],
    ];
    for cmd in setup {
        conn.cmd(cmd);
    }
}

/// The server, started here rather than through `common` so its stderr
/// goes to a file: a handler that panics only loses its connection (tokio
/// catches it), so the panic message is how the test notices.
struct Server {
    child: Child,
    port: u16,
    stderr: std::path::PathBuf,
}

impl Server {
    fn start(dir: &std::path::Path) -> Server {
        let stderr = dir.join("stderr.log");
        for _ in 0..3 {
            let port = common::free_port();
            let child = Command::new(env!("CARGO_BIN_EXE_ferrokv"))
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--loglevel", "warning", "--dir", dir.to_str().unwrap()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&stderr).unwrap())
                .spawn()
                .expect("spawn ferrokv");
            let mut server = Server {
                child,
                port,
                stderr: stderr.clone(),
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && server.child.try_wait().unwrap().is_none() {
                if let Ok(mut c) = Conn::try_connect(port, Duration::from_millis(500)) {
                    if c.try_cmd(&["PING"]) == Ok(b"+PONG\r\n".to_vec()) {
                        return server;
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = server.child.kill();
        }
        panic!("ferrokv did not start");
    }

    fn connect(&self) -> Conn {
        Conn::connect(self.port)
    }

    /// A panic message the server printed, if any.
    fn panic_message(&self) -> Option<String> {
        let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        text.contains("panicked").then_some(text)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The admin connection, reopened if a fuzzed CLIENT KILL or QUIT took it.
struct Admin<'a> {
    server: &'a Server,
    conn: Conn,
}

impl Admin<'_> {
    fn cmd(&mut self, args: &[&str]) -> Vec<u8> {
        match self.conn.try_cmd(args) {
            Ok(reply) => reply,
            Err(_) => {
                self.conn = self.server.connect();
                self.conn.cmd(args)
            }
        }
    }
}

/// How a fuzzed command is sent.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Resp2,
    /// After HELLO 3, so replies take their RESP3 shapes.
    Resp3,
    /// Queued between MULTI and EXEC, so it runs through EXEC's path.
    Multi,
}

/// Sends one command on a fresh connection and waits for its reply (the
/// EXEC reply in `Multi` mode). A command still unanswered after
/// [`BLOCKED_AFTER`] is released with CLIENT UNBLOCK (pub/sub mode and the
/// like die with the connection).
fn run(
    server: &Server,
    admin: &mut Admin<'_>,
    args: &[Vec<u8>],
    mode: Mode,
) -> Result<Vec<u8>, String> {
    let mut conn = server.connect();
    let id = String::from_utf8_lossy(&conn.cmd(&["CLIENT", "ID"]))
        .trim_start_matches(':')
        .trim()
        .to_string();
    match mode {
        Mode::Resp2 => {}
        Mode::Resp3 => {
            conn.cmd(&["HELLO", "3"]);
        }
        Mode::Multi => {
            conn.cmd(&["MULTI"]);
            // QUEUED, an error, or a close (QUIT): all are answers.
            if conn.try_cmd(args).is_err() {
                return Ok(Vec::new());
            }
            conn.send(&["EXEC"]);
            return match conn.read_reply() {
                Err(ReadError::Timeout { .. }) => Err("EXEC unanswered".into()),
                Ok(reply) | Err(ReadError::Closed { partial: reply }) => Ok(reply),
            };
        }
    }
    conn.set_timeout(BLOCKED_AFTER);
    conn.send(args);
    match conn.read_reply() {
        Ok(reply) => Ok(reply),
        // QUIT, RESET-less closes, CLIENT KILL of itself: closing is an answer.
        Err(ReadError::Closed { partial }) => Ok(partial),
        Err(ReadError::Timeout { .. }) => {
            admin.cmd(&["CLIENT", "UNBLOCK", &id]);
            conn.set_timeout(Duration::from_secs(5));
            conn.read_reply()
                .map_err(|e| format!("no reply even after CLIENT UNBLOCK: {e:?}"))
        }
    }
}

fn describe(args: &[Vec<u8>]) -> String {
    args.iter()
        .map(|a| common::escape_short(a))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn every_command_survives_random_arguments() {
    let seed: u64 = std::env::var("COMMAND_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_f022);
    let dir = std::env::temp_dir().join(format!("ferrokv-command-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let server = Server::start(&dir);
    let mut admin = Admin {
        server: &server,
        conn: server.connect(),
    };
    let table = CommandTable::new(&[]).unwrap();
    // (full name, arity counting the name words, as in the table).
    let names: Vec<(String, i16)> = (0..table.ids())
        .map(|id| (table.full_name(id).to_string(), table.spec(id).arity))
        .filter(|(name, _)| !SKIPPED.contains(&name.as_str()))
        .collect();
    assert!(names.len() > 150, "the table has {} commands", names.len());

    let (budget, rounds) = match std::env::var("COMMAND_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(secs) => (Duration::from_secs(secs), usize::MAX),
        None => (BUDGET, ROUNDS),
    };
    let mut rng = Rng(seed | 1);
    let start = Instant::now();
    let mut sent = 0;
    let (mut arity_errors, mut other_errors) = (0, 0);
    'rounds: for round in 0..rounds {
        populate(&mut admin.conn);
        for (name, arity) in &names {
            if start.elapsed() > budget {
                break 'rounds;
            }
            let mut args: Vec<Vec<u8>> = name.split('|').map(|p| p.as_bytes().to_vec()).collect();
            // Mostly the arity the table declares, so the handler's own
            // parsing runs; otherwise random, sometimes long.
            let needed = (arity.unsigned_abs() as usize).saturating_sub(args.len());
            let extra = match rng.below(10) {
                0 => rng.below(40),
                1..=3 => rng.below(6),
                _ if *arity < 0 => needed + rng.below(5),
                _ => needed,
            };
            args.extend((0..extra).map(|_| random_arg(&mut rng)));
            let mode = match rng.below(6) {
                0 => Mode::Multi,
                1 | 2 => Mode::Resp3,
                _ => Mode::Resp2,
            };
            let reply = run(&server, &mut admin, &args, mode);
            sent += 1;
            match reply {
                _ if server.panic_message().is_some() => panic!(
                    "seed {seed} round {round} {mode:?}: {} made the server panic:\n{}",
                    describe(&args),
                    server.panic_message().unwrap_or_default()
                ),
                Err(e) => panic!(
                    "seed {seed} round {round} {mode:?}: {} -> {e}",
                    describe(&args)
                ),
                Ok(r) if r.starts_with(b"-ERR wrong number") => arity_errors += 1,
                Ok(r) if r.starts_with(b"-") => other_errors += 1,
                Ok(_) => {}
            }
            if sent % 64 == 0 {
                assert_eq!(
                    admin.cmd(&["PING"]),
                    b"+PONG\r\n",
                    "after {}",
                    describe(&args)
                );
            }
        }
    }
    eprintln!(
        "{sent} fuzzed commands in {:?}: {arity_errors} arity errors, {other_errors} other errors",
        start.elapsed()
    );
    assert!(sent >= 500, "only {sent} commands ran");
    // Still alive, still consistent.
    let mut check = server.connect();
    assert_eq!(check.cmd(&["PING"]), b"+PONG\r\n");
    populate(&mut check);
    assert_eq!(check.cmd(&["GET", "str"]), b"$5\r\nhello\r\n");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
