//! Shared harness for the integration tests: start a ferrokv binary or a
//! reference `redis-server` on a free loopback port, talk raw RESP to either,
//! and know where one reply ends without trusting either side.
//!
//! Every server is a child process killed (by its own PID) when its guard
//! drops, and every socket has read/write timeouts, so no test can hang.

#![allow(dead_code)] // each test crate uses a different part of the harness

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer its first PING.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Default per-read timeout on test connections.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A server process we started; killed and reaped on drop.
pub struct ServerProcess {
    child: Option<Child>,
    pub port: u16,
    /// The server's own `--dir` (removed on drop), so no test writes a
    /// dump.rdb into the repository or shares one with another test.
    scratch: Option<TempDir>,
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("ferrokv-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create test dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn arg(&self) -> String {
        self.0.to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh directory for one server's files (AOF, RDB), so tests never
/// share or leave them behind.
pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ferrokv-{tag}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a temp dir");
    dir
}

/// Persistence off (no save points, no AOF) and files in `dir`, unless
/// `extra` says otherwise (later arguments win).
fn ferrokv_command(port: u16, dir: &TempDir, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrokv"));
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--loglevel", "warning", "--save", "", "--appendonly", "no"])
        .args(["--dir", &dir.arg()])
        .args(extra);
    cmd
}

/// Picks a port the kernel considers free right now. Another process could
/// take it before the server binds, so callers retry on a failed start.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

/// Whether a program is on PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

pub fn redis_available() -> bool {
    on_path("redis-server")
}

impl ServerProcess {
    /// Starts the ferrokv binary built by cargo with `extra` arguments.
    /// No save points and a private `--dir` unless `extra` says otherwise.
    pub fn ferrokv(extra: &[&str]) -> ServerProcess {
        let dir = TempDir::new("ferrokv");
        let mut server = Self::start_with_retries(|port| ferrokv_command(port, &dir, extra));
        server.scratch = Some(dir);
        server
    }

    /// Starts ferrokv on a given port (restart tests need the same port).
    pub fn ferrokv_on(port: u16, extra: &[&str]) -> Result<ServerProcess, String> {
        let dir = TempDir::new("ferrokv");
        let mut server = Self::start(ferrokv_command(port, &dir, extra), port)?;
        server.scratch = Some(dir);
        Ok(server)
    }

    /// Starts a reference redis-server, or `None` when it is not installed.
    pub fn redis() -> Option<ServerProcess> {
        Self::redis_with(&[])
    }

    /// [`ServerProcess::redis`] with `extra` arguments.
    /// Without redis-server the comparison is skipped, loudly, except under
    /// `CI=true`, where it must run.
    pub fn redis_with(extra: &[&str]) -> Option<ServerProcess> {
        if !redis_available() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but redis-server is not installed"
            );
            eprintln!(
                "SKIPPED: redis-server not installed; this comparison with Redis did not run"
            );
            return None;
        }
        let dir = TempDir::new("redis");
        let mut server = Self::start_with_retries(|port| {
            let mut cmd = Command::new("redis-server");
            cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .args(["--loglevel", "warning", "--dir", &dir.arg()])
                .args(extra);
            cmd
        });
        server.scratch = Some(dir);
        Some(server)
    }

    fn start_with_retries(make: impl Fn(u16) -> Command) -> ServerProcess {
        let mut last_error = String::new();
        for _ in 0..3 {
            let port = free_port();
            match Self::start(make(port), port) {
                Ok(server) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("server did not start: {last_error}");
    }

    fn start(mut cmd: Command, port: u16) -> Result<ServerProcess, String> {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn {:?}: {e}", cmd.get_program()))?;
        let mut server = ServerProcess {
            child: Some(child),
            port,
            scratch: None,
        };
        server.wait_ready()?;
        Ok(server)
    }

    /// Polls with PING until the server answers (PONG, or NOAUTH when it has
    /// a password), it exits, or time runs out.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.try_wait() {
                return Err(format!("exited early with {status}"));
            }
            if let Ok(mut conn) = Conn::try_connect(self.port, Duration::from_millis(500)) {
                // A connection closed under us (a busy machine, a server
                // going away) is "not ready yet", not a failed test.
                let ping = encode_command(&["PING"]);
                let Ok(reply) = conn
                    .stream
                    .write_all(&ping)
                    .map_err(drop)
                    .and_then(|()| conn.read_reply().map_err(drop))
                else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                // A server started with a password is up when it refuses us.
                if reply.starts_with(b"-NOAUTH") {
                    return Ok(());
                }
                // Tests run in parallel: another test's server may hold the
                // port if ours failed to bind, so check whose process answered.
                if reply == b"+PONG\r\n" {
                    let info = encode_command(&["INFO", "server"]);
                    let info = conn
                        .stream
                        .write_all(&info)
                        .ok()
                        .and_then(|()| conn.read_reply().ok())
                        .unwrap_or_default();
                    let ours = format!("process_id:{}\r\n", self.pid());
                    if String::from_utf8_lossy(&info).contains(&ours) {
                        return Ok(());
                    }
                    return Err(format!("port {} is served by another process", self.port));
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "no PONG on port {} within {READY_TIMEOUT:?}",
            self.port
        ))
    }

    /// Waits (at most 5 s) until INFO reports `n` blocked clients, so a test
    /// knows its waiters are registered, and in which order, before pushing.
    pub fn wait_blocked(&self, n: usize) {
        let mut admin = self.connect();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let info = admin.cmd_text(&["INFO", "clients"]);
            if info.contains(&format!("blocked_clients:{n}\r\n")) {
                return;
            }
            assert!(Instant::now() < deadline, "never {n} blocked: {info}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The server's private directory (its `--dir` unless overridden).
    pub fn dir(&self) -> &Path {
        self.scratch
            .as_ref()
            .expect("server has a scratch dir")
            .path()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn connect(&self) -> Conn {
        Conn::connect(self.port)
    }

    /// A line-oriented raw connection (inline commands, exact reply bytes).
    pub fn raw(&self) -> Raw {
        let stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        Raw { stream }
    }

    /// The exit status if the process has ended.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    /// Waits up to `limit` for the process to exit by itself.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Sends a signal to our child only (by its PID).
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{sig} failed");
    }

    /// Resident memory of the process in KiB, from /proc.
    pub fn rss_kib(&self) -> u64 {
        self.proc_status_kib("VmRSS:")
    }

    /// Heap and other private mappings in KiB, resident or not: catches a
    /// buffer reserved for a size a peer merely announced.
    pub fn data_kib(&self) -> u64 {
        self.proc_status_kib("VmData:")
    }

    fn proc_status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{field} line in /proc status"))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A raw RESP connection that reads exactly one reply at a time.
pub struct Conn {
    pub stream: TcpStream,
    /// Bytes read past the last reply (pipelined replies arrive together).
    pending: Vec<u8>,
}

/// What a read produced when it did not produce a whole reply.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadError {
    Closed { partial: Vec<u8> },
    Timeout { partial: Vec<u8> },
}

impl Conn {
    pub fn connect(port: u16) -> Conn {
        Self::try_connect(port, READ_TIMEOUT).expect("connect to test server")
    }

    pub fn try_connect(port: u16, timeout: Duration) -> std::io::Result<Conn> {
        let addr = ("127.0.0.1", port);
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(READ_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            pending: Vec::new(),
        })
    }

    pub fn set_timeout(&self, timeout: Duration) {
        self.stream
            .set_read_timeout(Some(timeout))
            .expect("timeout");
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to server");
    }

    pub fn send<S: AsRef<[u8]>>(&mut self, args: &[S]) {
        self.send_raw(&encode_command(args));
    }

    /// Sends a command and returns its raw reply; panics on close or timeout.
    pub fn cmd<S: AsRef<[u8]>>(&mut self, args: &[S]) -> Vec<u8> {
        self.send(args);
        self.read_reply()
            .unwrap_or_else(|e| panic!("no reply: {e:?}"))
    }

    /// Sends a command and returns its reply, or why none came.
    pub fn try_cmd<S: AsRef<[u8]>>(&mut self, args: &[S]) -> Result<Vec<u8>, ReadError> {
        self.send(args);
        self.read_reply()
    }

    /// Like [`Conn::cmd`] but as (lossy) text, handy in assertions.
    pub fn cmd_text<S: AsRef<[u8]>>(&mut self, args: &[S]) -> String {
        String::from_utf8_lossy(&self.cmd(args)).into_owned()
    }

    /// Reads exactly one complete reply (RESP2 or RESP3).
    pub fn read_reply(&mut self) -> Result<Vec<u8>, ReadError> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match frame_end(&self.pending, 0) {
                Some(Ok(end)) => return Ok(self.pending.drain(..end).collect()),
                Some(Err(())) => {
                    // Not RESP at all: hand back everything as one "reply".
                    return Ok(std::mem::take(&mut self.pending));
                }
                None => {}
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(ReadError::Closed {
                        partial: std::mem::take(&mut self.pending),
                    });
                }
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Err(ReadError::Timeout {
                        partial: std::mem::take(&mut self.pending),
                    });
                }
                Err(_) => {
                    return Err(ReadError::Closed {
                        partial: std::mem::take(&mut self.pending),
                    });
                }
            }
        }
    }

    /// Reads everything until the peer closes (or the timeout hits, which
    /// returns `Err` with what arrived so far).
    pub fn read_to_close(&mut self) -> Result<Vec<u8>, Vec<u8>> {
        let mut all = std::mem::take(&mut self.pending);
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(all),
                Ok(n) => all.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Err(all);
                }
                // A reset after the server closed still means closed.
                Err(_) => return Ok(all),
            }
        }
    }
}

/// Encodes arguments as a RESP multibulk request.
pub fn encode_command<S: AsRef<[u8]>>(args: &[S]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        let arg = arg.as_ref();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Where the reply starting at `pos` ends: `None` if more bytes are needed,
/// `Some(Err)` if the bytes are not RESP.
pub fn frame_end(buf: &[u8], pos: usize) -> Option<Result<usize, ()>> {
    let kind = *buf.get(pos)?;
    let line_end = pos + 1 + buf[pos + 1..].windows(2).position(|w| w == b"\r\n")?;
    let header = &buf[pos + 1..line_end];
    let after = line_end + 2;
    let number = || std::str::from_utf8(header).ok()?.parse::<i64>().ok();
    match kind {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(Ok(after)),
        b'$' | b'!' | b'=' => {
            let Some(len) = number() else {
                return Some(Err(()));
            };
            if len < 0 {
                return Some(Ok(after));
            }
            let end = after + len as usize + 2;
            (buf.len() >= end).then_some(Ok(end))
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let Some(count) = number() else {
                return Some(Err(()));
            };
            let elements = match kind {
                b'%' | b'|' => count.max(0) * 2,
                _ => count.max(0),
            };
            let mut p = after;
            for _ in 0..elements {
                p = match frame_end(buf, p)? {
                    Ok(next) => next,
                    Err(()) => return Some(Err(())),
                };
            }
            // An attribute annotates the reply that follows it.
            if kind == b'|' {
                return frame_end(buf, p);
            }
            Some(Ok(p))
        }
        _ => Some(Err(())),
    }
}

/// Splits an aggregate reply into its header line and its element frames.
pub fn split_aggregate(reply: &[u8]) -> Option<(&[u8], Vec<&[u8]>)> {
    if !matches!(reply.first(), Some(b'*' | b'~' | b'>' | b'%')) {
        return None;
    }
    let header_end = reply.windows(2).position(|w| w == b"\r\n")? + 2;
    let mut elements = Vec::new();
    let mut p = header_end;
    while p < reply.len() {
        let end = frame_end(reply, p)?.ok()?;
        elements.push(&reply[p..end]);
        p = end;
    }
    Some((&reply[..header_end], elements))
}

/// Escapes bytes for a readable failure message (`\r\n` shown as `\r\n`).
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// Truncates an escaped reply so one giant mismatch cannot flood the log.
pub fn escape_short(bytes: &[u8]) -> String {
    let s = escape(bytes);
    if s.len() > 600 {
        format!("{}... ({} bytes)", &s[..600], bytes.len())
    } else {
        s
    }
}

/// The repository root (for test data files).
pub fn repo_path(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_resp2_and_resp3() {
        let cases: &[&[u8]] = &[
            b"+OK\r\n",
            b"$-1\r\n",
            b"$3\r\na\r\n\r\n",
            b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n",
            b"%1\r\n+k\r\n~2\r\n,1.5\r\n#t\r\n",
            b"=7\r\ntxt:abc\r\n",
            b"|1\r\n+a\r\n+b\r\n:5\r\n",
            b">2\r\n+x\r\n_\r\n",
        ];
        for case in cases {
            assert_eq!(frame_end(case, 0), Some(Ok(case.len())), "{}", escape(case));
            for cut in 0..case.len() {
                assert_eq!(
                    frame_end(&case[..cut], 0),
                    None,
                    "{} cut {cut}",
                    escape(case)
                );
            }
        }
        assert_eq!(frame_end(b"hello\r\n", 0), Some(Err(())));
    }
}

/// A raw connection for tests that speak inline commands and check exact
/// reply bytes, one line or one known length at a time.
pub struct Raw {
    pub stream: std::net::TcpStream,
}

impl Raw {
    pub fn send(&mut self, line: &str) {
        self.stream.write_all(line.as_bytes()).unwrap();
        self.stream.write_all(b"\r\n").unwrap();
    }

    /// Reads until `expected.len()` bytes arrived and compares them.
    pub fn expect(&mut self, expected: &str) {
        let mut got = vec![0; expected.len()];
        self.stream.read_exact(&mut got).unwrap();
        assert_eq!(String::from_utf8_lossy(&got), expected);
    }

    pub fn call(&mut self, line: &str, expected: &str) {
        self.send(line);
        self.expect(expected);
    }

    /// Reads one CRLF-terminated line.
    pub fn line(&mut self) -> String {
        let mut line = Vec::new();
        let mut byte = [0];
        while !line.ends_with(b"\r\n") {
            self.stream.read_exact(&mut byte).unwrap();
            line.push(byte[0]);
        }
        String::from_utf8_lossy(&line).into_owned()
    }

    /// True when the server closed the connection (EOF or reset); false when
    /// data arrived or the read timed out with the connection still open.
    pub fn closed(&mut self) -> bool {
        use std::io::ErrorKind::{TimedOut, WouldBlock};
        let mut buf = [0; 64];
        match self.stream.read(&mut buf) {
            Ok(n) => n == 0,
            Err(e) => !matches!(e.kind(), WouldBlock | TimedOut),
        }
    }

    pub fn client_id(&mut self) -> u64 {
        self.send("CLIENT ID");
        self.line()[1..].trim_end().parse().unwrap()
    }

    pub fn info_clients(&mut self) -> String {
        self.send("INFO clients");
        let header = self.line();
        let len: usize = header[1..].trim_end().parse().unwrap();
        let mut body = vec![0; len + 2];
        self.stream.read_exact(&mut body).unwrap();
        String::from_utf8_lossy(&body).into_owned()
    }

    /// True when nothing arrives within `wait`.
    pub fn silent_for(&mut self, wait: Duration) -> bool {
        self.stream.set_read_timeout(Some(wait)).unwrap();
        let mut buf = [0; 64];
        let silent = self.stream.read(&mut buf).is_err();
        self.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        silent
    }
}

/// `npm ci` may download the packages.
const NPM_CI_LIMIT: Duration = Duration::from_secs(600);

/// Runs `cmd` to completion within `limit`, returning its combined output,
/// or an error naming what failed. A child past its limit is killed.
pub fn run_limited(mut cmd: Command, what: &str, limit: Duration) -> Result<String, String> {
    let log = tempfile_path(what);
    let file = std::fs::File::create(&log).map_err(|e| format!("{what}: log: {e}"))?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("clone log handle"))
        .stderr(file)
        .spawn()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break Some(status);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    match status {
        Some(s) if s.success() => Ok(output),
        Some(s) => Err(format!("{what} failed ({s}):\n{output}")),
        None => Err(format!("{what} timed out after {limit:?}:\n{output}")),
    }
}

fn tempfile_path(what: &str) -> std::path::PathBuf {
    let name: String = what.chars().filter(char::is_ascii_alphanumeric).collect();
    std::env::temp_dir().join(format!("ferrokv-node-{}-{name}.log", std::process::id()))
}

/// The Node packages the client tests drive (BullMQ, ioredis), pinned by
/// `tests/clients/bullmq/package-lock.json` and installed with `npm ci` on
/// first use; the directory to run `node` in.
pub fn node_clients() -> Result<std::path::PathBuf, String> {
    let dir = repo_path("tests/clients/bullmq");
    install(&dir)?;
    Ok(dir)
}

fn install(dir: &Path) -> Result<(), String> {
    if dir.join("node_modules/bullmq/package.json").is_file() {
        return Ok(());
    }
    let mut npm = Command::new("npm");
    npm.args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir);
    run_limited(npm, "npm ci", NPM_CI_LIMIT).map(drop)
}
