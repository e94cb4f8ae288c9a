//! Differential runner: replays every `tests/diff/*.txt` script against
//! ferrokv and a reference redis-server and compares raw reply bytes.
//!
//! Script format: one command per line, split like redis-cli (quotes, `\xHH`);
//! blank lines and `#` comments are skipped. Directives:
//! `!sleep <ms>`, `!nocompare <cmd...>` (run on both, ignore the replies),
//! `!sorted <cmd...>` (compare with top-level aggregate elements sorted),
//! `!conn <n>` (the following lines use connection `n`; 0 is the first one,
//! others are opened on first use, RESP2, db 0), `!read` (read one more
//! frame on the current connection, such as a pushed pub/sub message, and
//! compare it; a frame missing on one side shows as `<timeout>` after
//! [`READ_FRAME_TIMEOUT`] instead of hanging), `!raw <bytes...>` (send the
//! unescaped, concatenated words as raw protocol on a fresh connection and
//! compare everything sent back until the server closes it, for protocol
//! errors; an open connection shows as `<timeout>`).
//!
//! Each file gets a fresh ferrokv and a fresh redis-server, and a new
//! connection to each that starts with FLUSHALL, in db 0, speaking RESP2.
//! `DIFF_FILTER=name` runs only the files whose name contains `name`.
//! Without redis-server the test passes with a loud SKIPPED, unless `CI=true`.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Conn, ReadError, ServerProcess, escape, escape_short, split_aggregate};
use ferrokv::protocol::parse::{Span, split_args};

/// How long `!read` waits for a frame that should already be on its way.
const READ_FRAME_TIMEOUT: Duration = Duration::from_millis(500);

/// How one script line is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Exact,
    Sorted,
    NoCompare,
}

#[derive(Debug, PartialEq, Eq)]
enum Step {
    Command {
        mode: Mode,
        args: Vec<Vec<u8>>,
    },
    Sleep(Duration),
    /// Switch to connection `n`.
    Conn(usize),
    /// Read one more frame on the current connection.
    Read,
    /// Raw protocol bytes on a fresh connection.
    Raw(Vec<u8>),
}

#[derive(Debug)]
struct Line {
    number: usize,
    text: String,
    step: Step,
}

/// Parses a whole script; a malformed line is an error naming file:line.
fn parse_script(name: &str, text: &str) -> Result<Vec<Line>, String> {
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let number = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let step = parse_line(trimmed).map_err(|e| format!("{name}:{number}: {e}: {raw}"))?;
        lines.push(Line {
            number,
            text: trimmed.to_string(),
            step,
        });
    }
    Ok(lines)
}

fn parse_line(line: &str) -> Result<Step, String> {
    let (mode, rest) = if let Some(rest) = line.strip_prefix("!sleep") {
        let ms: u64 = rest.trim().parse().map_err(|_| "bad !sleep value")?;
        return Ok(Step::Sleep(Duration::from_millis(ms)));
    } else if let Some(rest) = line.strip_prefix("!conn") {
        let n: usize = rest.trim().parse().map_err(|_| "bad !conn number")?;
        return Ok(Step::Conn(n));
    } else if line == "!read" {
        return Ok(Step::Read);
    } else if let Some(rest) = line.strip_prefix("!raw ") {
        return Ok(Step::Raw(split(rest.as_bytes())?.concat()));
    } else if let Some(rest) = line.strip_prefix("!nocompare ") {
        (Mode::NoCompare, rest)
    } else if let Some(rest) = line.strip_prefix("!sorted ") {
        (Mode::Sorted, rest)
    } else if line.starts_with('!') {
        return Err("unknown directive".into());
    } else {
        (Mode::Exact, line)
    };
    let args = split(rest.as_bytes())?;
    if args.is_empty() {
        return Err("directive without a command".into());
    }
    Ok(Step::Command { mode, args })
}

/// Splits like redis-cli, reusing the server's own inline splitter.
fn split(line: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let (mut spans, mut out) = (Vec::<Span>::new(), Vec::new());
    split_args(line, &mut spans, &mut out).map_err(|e| e.to_string())?;
    Ok(spans.iter().map(|s| out[s.start..s.end].to_vec()).collect())
}

/// Sorts the elements of a top-level aggregate (pairs, for a map) so that
/// unordered replies compare equal.
fn sort_reply(reply: &[u8]) -> Vec<u8> {
    let Some((header, elements)) = split_aggregate(reply) else {
        return reply.to_vec();
    };
    let mut units: Vec<Vec<u8>> = if header[0] == b'%' {
        elements.chunks(2).map(|pair| pair.concat()).collect()
    } else {
        elements.iter().map(|e| e.to_vec()).collect()
    };
    units.sort();
    [header.to_vec(), units.concat()].concat()
}

/// A reply, or a marker for a connection that closed or went silent.
fn describe(result: &Result<Vec<u8>, ReadError>) -> Vec<u8> {
    match result {
        Ok(reply) => reply.clone(),
        Err(ReadError::Closed { partial }) => [partial.as_slice(), b"<connection closed>"].concat(),
        Err(ReadError::Timeout { partial }) => [partial.as_slice(), b"<timeout>"].concat(),
    }
}

/// One side of the comparison: a server and the script's connections to it.
struct Side<'a> {
    server: &'a ServerProcess,
    /// Connection `n` of the script, opened on first use.
    conns: Vec<Option<Conn>>,
    current: usize,
}

impl<'a> Side<'a> {
    fn open(server: &'a ServerProcess) -> Side<'a> {
        let mut conn = server.connect();
        let flushed = conn.cmd(&["FLUSHALL"]);
        assert_eq!(flushed, b"+OK\r\n", "FLUSHALL on port {}", server.port);
        Side {
            server,
            conns: vec![Some(conn)],
            current: 0,
        }
    }

    fn switch(&mut self, n: usize) {
        if self.conns.len() <= n {
            self.conns.resize_with(n + 1, || None);
        }
        self.current = n;
    }

    fn conn(&mut self) -> &mut Conn {
        let server = self.server;
        self.conns[self.current].get_or_insert_with(|| server.connect())
    }

    /// Runs one command; a connection that closed or timed out is replaced
    /// so the rest of the script still runs.
    fn run(&mut self, args: &[Vec<u8>]) -> Result<Vec<u8>, ReadError> {
        let conn = self.conn();
        conn.send(args);
        let result = conn.read_reply();
        if result.is_err() {
            self.conns[self.current] = Some(self.server.connect());
        }
        result
    }

    /// Sends raw bytes on a fresh connection; returns all it got back, and
    /// whether the server closed the connection.
    fn raw(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut conn = self.server.connect();
        conn.set_timeout(READ_FRAME_TIMEOUT);
        conn.send_raw(bytes);
        match conn.read_to_close() {
            Ok(all) => [all.as_slice(), b"<connection closed>"].concat(),
            Err(partial) => [partial.as_slice(), b"<timeout>"].concat(),
        }
    }

    /// Reads one frame nobody asked for (a pushed message), briefly.
    fn read(&mut self) -> Result<Vec<u8>, ReadError> {
        let conn = self.conn();
        conn.set_timeout(READ_FRAME_TIMEOUT);
        let result = conn.read_reply();
        conn.set_timeout(common::READ_TIMEOUT);
        if matches!(result, Err(ReadError::Closed { .. })) {
            self.conns[self.current] = Some(self.server.connect());
        }
        result
    }
}

struct Mismatch {
    location: String,
    command: String,
    ferrokv: Vec<u8>,
    redis: Vec<u8>,
}

fn run_script(
    name: &str,
    lines: &[Line],
    ours: &ServerProcess,
    reference: &ServerProcess,
) -> Vec<Mismatch> {
    let mut ferrokv = Side::open(ours);
    let mut redis = Side::open(reference);
    let mut mismatches = Vec::new();
    for line in lines {
        let (mode, ours, theirs) = match &line.step {
            Step::Sleep(d) => {
                std::thread::sleep(*d);
                continue;
            }
            Step::Conn(n) => {
                ferrokv.switch(*n);
                redis.switch(*n);
                continue;
            }
            Step::Read => (
                Mode::Exact,
                describe(&ferrokv.read()),
                describe(&redis.read()),
            ),
            Step::Raw(bytes) => (Mode::Exact, ferrokv.raw(bytes), redis.raw(bytes)),
            Step::Command { mode, args } => (
                *mode,
                describe(&ferrokv.run(args)),
                describe(&redis.run(args)),
            ),
        };
        let (ours, theirs) = match mode {
            Mode::NoCompare => continue,
            Mode::Sorted => (sort_reply(&ours), sort_reply(&theirs)),
            Mode::Exact => (ours, theirs),
        };
        if ours != theirs {
            mismatches.push(Mismatch {
                location: format!("{name}:{}", line.number),
                command: line.text.clone(),
                ferrokv: ours,
                redis: theirs,
            });
        }
    }
    mismatches
}

fn script_files() -> Vec<PathBuf> {
    let dir = common::repo_path("tests/diff");
    let filter = std::env::var("DIFF_FILTER").unwrap_or_default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "txt"))
        .filter(|p| file_name(p).contains(&filter))
        .collect();
    files.sort();
    files
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn differential_scripts_match_redis() {
    if !common::redis_available() {
        let message = "SKIPPED: redis-server not found; differential tests did not run";
        eprintln!("\n{}\n{message}\n{}\n", "!".repeat(70), "!".repeat(70));
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{message} (CI=true requires it)"
        );
        return;
    }
    let files = script_files();
    assert!(!files.is_empty(), "no tests/diff/*.txt matched DIFF_FILTER");

    let mut failures = Vec::new();
    let mut total_lines = 0;
    for path in &files {
        let name = format!("tests/diff/{}", file_name(path));
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let lines = match parse_script(&name, &text) {
            Ok(lines) => lines,
            Err(e) => {
                failures.push(format!("{e}\n"));
                continue;
            }
        };
        total_lines += lines.len();
        // Fresh servers per file: CONFIG SET, CLIENT SETNAME, stats and the
        // like cannot leak from one script into the next.
        let ours = ServerProcess::ferrokv(&[]);
        let reference = ServerProcess::redis().expect("redis-server is on PATH");
        let mismatches = run_script(&name, &lines, &ours, &reference);
        eprintln!(
            "{name}: {} lines, {} mismatches",
            lines.len(),
            mismatches.len()
        );
        for m in mismatches {
            failures.push(format!(
                "{}: {}\n    ferrokv: \"{}\"\n    redis:   \"{}\"\n",
                m.location,
                m.command,
                escape_short(&m.ferrokv),
                escape_short(&m.redis)
            ));
        }
    }
    eprintln!("{} files, {total_lines} lines replayed", files.len());
    assert!(
        failures.is_empty(),
        "{} differences from redis-server:\n{}",
        failures.len(),
        failures.concat()
    );
}

#[test]
fn script_lines_parse_into_steps() {
    let lines = parse_script(
        "t",
        "# comment\n\nSET k \"a\\x41\\n\" 'b c'\n!sleep 5\n!sorted KEYS *\n!nocompare TIME\n!conn 2\n!read\n!raw \"*1\\r\\n\" x\n",
    )
    .unwrap();
    let steps: Vec<&Step> = lines.iter().map(|l| &l.step).collect();
    assert_eq!(
        steps,
        [
            &Step::Command {
                mode: Mode::Exact,
                args: vec![
                    b"SET".to_vec(),
                    b"k".to_vec(),
                    b"aA\n".to_vec(),
                    b"b c".to_vec()
                ]
            },
            &Step::Sleep(Duration::from_millis(5)),
            &Step::Command {
                mode: Mode::Sorted,
                args: vec![b"KEYS".to_vec(), b"*".to_vec()]
            },
            &Step::Command {
                mode: Mode::NoCompare,
                args: vec![b"TIME".to_vec()]
            },
            &Step::Conn(2),
            &Step::Read,
            &Step::Raw(b"*1\r\nx".to_vec()),
        ]
    );
    assert_eq!(lines[0].number, 3);
    assert!(parse_script("t", "!bogus x\n").unwrap_err().contains("t:1"));
    assert!(parse_script("t", "GET \"open\n").is_err());
    assert!(parse_script("t", "!conn x\n").is_err());
}

#[test]
fn sorted_mode_ignores_element_order_only() {
    let a = b"*3\r\n$1\r\nb\r\n$1\r\na\r\n:1\r\n";
    let b = b"*3\r\n:1\r\n$1\r\na\r\n$1\r\nb\r\n";
    assert_eq!(sort_reply(a), sort_reply(b));
    assert_ne!(sort_reply(a), sort_reply(b"*2\r\n$1\r\na\r\n:1\r\n"));
    let map1 = b"%2\r\n+x\r\n:1\r\n+a\r\n:2\r\n";
    let map2 = b"%2\r\n+a\r\n:2\r\n+x\r\n:1\r\n";
    assert_eq!(sort_reply(map1), sort_reply(map2));
    assert_eq!(sort_reply(b"+OK\r\n"), b"+OK\r\n");
    assert_eq!(escape(&sort_reply(b"*0\r\n")), "*0\\r\\n");
}
