//! The append-only file, Redis 7's multi-part layout: `dir/appenddirname/`
//! holds a base file (`<appendfilename>.<n>.base.aof`, commands in RESP, as
//! Redis writes with `aof-use-rdb-preamble no`), incremental files
//! (`.<n>.incr.aof`) and the manifest naming them ([`manifest`]).
//!
//! Flow of a write: the command's records ([`propagate`]) are fed into the
//! in-memory buffer when its shard locks are released (so commands on one
//! key reach the log in the order they ran). Before a connection sends the
//! replies of a batch it writes the buffer to the file ([`Aof::after_batch`]);
//! under `appendfsync always` it then waits until the background thread has
//! fsynced that far: one fsync serves every connection waiting at that moment
//! (group commit). Under `everysec` the thread fsyncs once a second; under
//! `no` never. The same thread writes what no connection flushed (expired
//! keys) and starts automatic rewrites.
//!
//! Start-up ([`prepare`], [`finish`]) loads the files named by the manifest
//! ([`load`]) while clients get `-LOADING`; rewriting ([`rewrite`]) compacts
//! the log without stopping writers.

pub mod load;
pub mod manifest;
pub mod propagate;
pub mod rewrite;

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::server::Server;
use manifest::Manifest;
pub use propagate::Pending;

/// `appendfsync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Fsync {
    Always = 0,
    EverySec = 1,
    No = 2,
}

impl Fsync {
    fn parse(s: &str) -> Fsync {
        match s {
            "always" => Fsync::Always,
            "no" => Fsync::No,
            _ => Fsync::EverySec,
        }
    }
}

pub const LOADING_ERROR: &str = "LOADING Redis is loading the dataset in memory";

/// The log's shared state (one per keyspace).
pub struct Aof {
    /// Commands are recorded (read once per lock set, see `Locked`).
    recording: AtomicBool,
    loading: AtomicBool,
    inner: Mutex<Inner>,
    /// Held while writing the buffer to the file, so writes keep their order.
    io: Mutex<Io>,
    written: AtomicU64,
    synced: AtomicU64,
    synced_tx: tokio::sync::watch::Sender<u64>,
    wake: Mutex<bool>,
    wake_cv: Condvar,
    policy: AtomicU8,
    /// Shards still to copy into a rewrite's base file.
    pub capture: rewrite::Capture,
    pub status: Status,
    /// Where the files are and what the manifest on disk says.
    files: Mutex<Files>,
    server: OnceLock<Weak<Server>>,
    thread: AtomicBool,
}

#[derive(Default)]
struct Inner {
    buf: Vec<u8>,
    /// The database the log is in (None: the next record selects).
    db: Option<usize>,
}

#[derive(Default)]
struct Io {
    file: Option<Arc<File>>,
    spare: Vec<u8>,
}

#[derive(Default)]
struct Files {
    manifest: Manifest,
}

/// What INFO persistence shows.
#[derive(Default)]
pub struct Status {
    pub rewrite_in_progress: AtomicBool,
    pub rewrite_scheduled: AtomicBool,
    pub last_rewrite_failed: AtomicBool,
    pub last_write_failed: AtomicBool,
    pub rewrites: AtomicU64,
    pub consecutive_failures: AtomicU64,
    pub last_rewrite_secs: AtomicI64,
    pub rewrite_started_ms: AtomicU64,
    /// Bytes of every file in the manifest (`aof_current_size`).
    pub current_size: AtomicU64,
    /// `aof_current_size` after the last rewrite or load (`aof_base_size`).
    pub base_size: AtomicU64,
}

thread_local! {
    /// This thread fed the log since its connection last flushed.
    static FED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl Aof {
    pub fn new(shards: usize) -> Self {
        let status = Status::default();
        status.last_rewrite_secs.store(-1, Relaxed);
        Aof {
            recording: AtomicBool::new(false),
            loading: AtomicBool::new(false),
            inner: Mutex::default(),
            io: Mutex::default(),
            written: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            synced_tx: tokio::sync::watch::Sender::new(0),
            wake: Mutex::new(false),
            wake_cv: Condvar::new(),
            policy: AtomicU8::new(Fsync::EverySec as u8),
            capture: rewrite::Capture::new(shards),
            status,
            files: Mutex::default(),
            server: OnceLock::new(),
            thread: AtomicBool::new(false),
        }
    }

    #[inline]
    pub fn recording(&self) -> bool {
        self.recording.load(Relaxed)
    }

    #[inline]
    pub fn loading(&self) -> bool {
        self.loading.load(Relaxed)
    }

    pub fn enabled(&self) -> bool {
        self.recording()
    }

    fn policy(&self) -> Fsync {
        match self.policy.load(Relaxed) {
            0 => Fsync::Always,
            2 => Fsync::No,
            _ => Fsync::EverySec,
        }
    }

    /// Takes a lock holder's records (called as its locks are released).
    pub fn feed(&self, pending: &mut Pending) {
        let mut inner = self.inner.lock();
        if !self.recording() {
            drop(inner);
            let mut sink = Vec::new();
            pending.drain_into(&mut sink, &mut None);
            return;
        }
        let Inner { buf, db } = &mut *inner;
        pending.drain_into(buf, db);
        FED.with(|f| f.set(true));
    }

    /// Writes the buffer to the current incremental file. Returns the
    /// total bytes written so far.
    fn write_out(&self) -> u64 {
        let mut io = self.io.lock();
        let mut data = std::mem::take(&mut io.spare);
        std::mem::swap(&mut data, &mut self.inner.lock().buf);
        if !data.is_empty()
            && let Some(file) = io.file.clone()
        {
            match (&*file).write_all(&data) {
                Ok(()) => {
                    self.written.fetch_add(data.len() as u64, Relaxed);
                    self.status
                        .current_size
                        .fetch_add(data.len() as u64, Relaxed);
                    self.status.last_write_failed.store(false, Relaxed);
                }
                Err(e) => {
                    tracing::error!("Error writing to the AOF file: {e}");
                    self.status.last_write_failed.store(true, Relaxed);
                    if self.policy() == Fsync::Always {
                        tracing::error!(
                            "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting..."
                        );
                        std::process::exit(1);
                    }
                }
            }
        }
        data.clear();
        if data.capacity() <= 4 << 20 {
            io.spare = data;
        }
        self.written.load(Relaxed)
    }

    /// fsyncs what was written so far, unless already done.
    fn sync(&self) {
        let (file, target) = {
            let io = self.io.lock();
            (io.file.clone(), self.written.load(Relaxed))
        };
        if self.synced.load(Relaxed) >= target {
            return;
        }
        if let Some(file) = file
            && let Err(e) = file.sync_data()
        {
            tracing::error!("Error fsyncing the AOF file: {e}");
            self.status.last_write_failed.store(true, Relaxed);
            if self.policy() == Fsync::Always {
                std::process::exit(1);
            }
            return;
        }
        self.synced.fetch_max(target, Relaxed);
        self.synced_tx.send_replace(target);
    }

    /// Called by a connection after a batch, before its replies go out:
    /// writes what this thread fed (or everything, with `force`, for a reply
    /// another command produced). Returns how far the log must be fsynced
    /// before the replies may be sent (`appendfsync always`).
    pub fn after_batch(&self, force: bool) -> Option<u64> {
        if !FED.with(|f| f.replace(false)) && !force {
            return None;
        }
        if !self.recording() {
            return None;
        }
        let written = self.write_out();
        if self.policy() != Fsync::Always || self.synced.load(Relaxed) >= written {
            return None;
        }
        *self.wake.lock() = true;
        self.wake_cv.notify_one();
        Some(written)
    }

    /// Waits until the log is fsynced up to `target`.
    pub async fn synced_to(&self, target: u64) {
        let mut rx = self.synced_tx.subscribe();
        let _ = rx.wait_for(|&synced| synced >= target).await;
    }

    /// Points the log at a new incremental file: what is buffered goes to
    /// the old one first, fsynced. The next record selects its database.
    fn switch_file(&self, file: Option<File>) {
        self.write_out();
        self.sync();
        let mut io = self.io.lock();
        let mut inner = self.inner.lock();
        inner.db = None;
        io.file = file.map(Arc::new);
    }

    /// Writes and fsyncs everything (SHUTDOWN, appendonly turned off).
    pub fn flush_all(&self) {
        self.write_out();
        self.sync();
    }

    /// INFO persistence's `aof_*` fields.
    pub fn info(&self, mut field: impl FnMut(&str, String)) {
        let s = &self.status;
        let in_progress = s.rewrite_in_progress.load(Relaxed);
        field("aof_enabled", u8::from(self.recording()).to_string());
        field("aof_rewrite_in_progress", u8::from(in_progress).to_string());
        field(
            "aof_rewrite_scheduled",
            u8::from(s.rewrite_scheduled.load(Relaxed)).to_string(),
        );
        field(
            "aof_last_rewrite_time_sec",
            s.last_rewrite_secs.load(Relaxed).to_string(),
        );
        let current = if in_progress {
            ((crate::cmd::now_ms().saturating_sub(s.rewrite_started_ms.load(Relaxed))) / 1000)
                as i64
        } else {
            -1
        };
        field("aof_current_rewrite_time_sec", current.to_string());
        let status = |failed: &AtomicBool| if failed.load(Relaxed) { "err" } else { "ok" };
        field(
            "aof_last_bgrewrite_status",
            status(&s.last_rewrite_failed).into(),
        );
        field("aof_rewrites", s.rewrites.load(Relaxed).to_string());
        field(
            "aof_rewrites_consecutive_failures",
            s.consecutive_failures.load(Relaxed).to_string(),
        );
        field("aof_last_write_status", status(&s.last_write_failed).into());
        // No fork, so no copy-on-write.
        field("aof_last_cow_size", "0".into());
    }

    /// The fields Redis adds when the AOF is on.
    pub fn info_enabled(&self, mut field: impl FnMut(&str, String)) {
        if !self.recording() {
            return;
        }
        let s = &self.status;
        field("aof_current_size", s.current_size.load(Relaxed).to_string());
        field("aof_base_size", s.base_size.load(Relaxed).to_string());
        field(
            "aof_pending_rewrite",
            u8::from(s.rewrite_scheduled.load(Relaxed)).to_string(),
        );
        field("aof_buffer_length", self.inner.lock().buf.len().to_string());
        field("aof_pending_bio_fsync", "0".into());
        field("aof_delayed_fsync", "0".into());
    }
}

/// Where the AOF lives, from the config.
fn locate(server: &Server) -> (PathBuf, String) {
    let config = server.config.read();
    let dirname = config
        .value("appenddirname")
        .unwrap_or_else(|| "appendonlydir".into());
    let prefix = config
        .value("appendfilename")
        .unwrap_or_else(|| "appendonly.aof".into());
    (PathBuf::from(&config.dir).join(dirname), prefix)
}

/// Whether start-up loads the AOF (and not the RDB file): `appendonly yes`
/// and a manifest on disk, as Redis decides.
pub fn takes_precedence(server: &Server) -> bool {
    let (dir, prefix) = locate(server);
    server.config.read().appendonly && dir.join(format!("{prefix}.manifest")).exists()
}

/// What start-up has to do, decided before the listeners open.
pub enum Startup {
    Off,
    Load(Manifest),
    Create,
}

/// Reads the manifest (a corrupt one stops start-up here, before any client
/// connects) and marks the server as loading when there is a log to load.
pub fn prepare(server: &Arc<Server>) -> Result<Startup, String> {
    let aof = &server.keyspace.aof;
    let _ = aof.server.set(Arc::downgrade(server));
    aof.policy.store(
        Fsync::parse(
            &server
                .config
                .read()
                .value("appendfsync")
                .unwrap_or_default(),
        ) as u8,
        Relaxed,
    );
    if !server.config.read().appendonly {
        return Ok(Startup::Off);
    }
    let (dir, prefix) = locate(server);
    let path = dir.join(format!("{prefix}.manifest"));
    let text = match std::fs::read(&path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map_err(|_| format!("Invalid AOF manifest file format: {}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // `Create` is done by `finish`, after the RDB file (if any) is in.
            return upgrade_or_create(server);
        }
        Err(e) => {
            return Err(format!(
                "Can't open the AOF manifest {}: {e}",
                path.display()
            ));
        }
    };
    let manifest = Manifest::parse(&text).map_err(|e| format!("{e}: {}", path.display()))?;
    for name in manifest.replay_order().map(|f| &f.name) {
        if !dir.join(name).exists() {
            return Err(format!(
                "The AOF file {} doesn't exist (named in {})",
                dir.join(name).display(),
                path.display()
            ));
        }
    }
    aof.loading.store(true, Relaxed);
    Ok(Startup::Load(manifest))
}

/// No manifest: a single-file AOF of Redis 6 (`dir/appendfilename`) becomes
/// the base of a new directory, as Redis 7 upgrades it; otherwise the log is
/// created from the dataset.
fn upgrade_or_create(server: &Server) -> Result<Startup, String> {
    let (dir, prefix) = locate(server);
    let old = PathBuf::from(&server.config.read().dir).join(&prefix);
    if !old.is_file() {
        return Ok(Startup::Create);
    }
    let fail =
        |e: std::io::Error| format!("Can't upgrade {} to a multi-part AOF: {e}", old.display());
    std::fs::create_dir_all(&dir).map_err(fail)?;
    let manifest = Manifest {
        base: Some(manifest::FileEntry {
            name: prefix.clone(),
            seq: 1,
            kind: manifest::Kind::Base,
        }),
        ..Manifest::default()
    };
    std::fs::rename(&old, dir.join(&prefix)).map_err(fail)?;
    manifest::write_atomically(
        &dir,
        &format!("{prefix}.manifest"),
        manifest.to_text().as_bytes(),
    )
    .map_err(fail)?;
    tracing::warn!(
        "Upgraded the single-file AOF {} into {}",
        old.display(),
        dir.display()
    );
    server.keyspace.aof.loading.store(true, Relaxed);
    Ok(Startup::Load(manifest))
}

/// Loads the log (or creates it) while the listeners already answer
/// `-LOADING`, then starts recording and the fsync thread.
/// `Create` writes the new log from the dataset loaded so far (the RDB file,
/// as Redis does when the AOF is first turned on); clients are still kept
/// out with LOADING, so no write can precede the log.
pub async fn finish(server: &Arc<Server>, startup: Startup) -> Result<(), String> {
    if let Startup::Off = startup {
        return Ok(());
    }
    let server = server.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let aof = &server.keyspace.aof;
        let result = match startup {
            Startup::Off => Ok(()),
            Startup::Create => rewrite::run(&server, rewrite::Mode::Enable),
            Startup::Load(manifest) => open_loaded(&server, manifest),
        };
        aof.loading.store(false, Relaxed);
        result
    })
    .await;
    outcome.map_err(|e| e.to_string())?
}

fn open_loaded(server: &Arc<Server>, mut manifest: Manifest) -> Result<(), String> {
    let aof = &server.keyspace.aof;
    let (dir, prefix) = locate(server);
    let started = Instant::now();
    let total = load::load_all(server, &dir, &manifest)?;
    tracing::info!(
        "DB loaded from append only file: {:.3} seconds",
        started.elapsed().as_secs_f64()
    );
    if manifest.incrs.is_empty() {
        let incr = manifest.next_incr(&prefix);
        File::create(dir.join(&incr.name)).map_err(|e| e.to_string())?;
        manifest.incrs.push(incr);
        manifest::write_atomically(
            &dir,
            &format!("{prefix}.manifest"),
            manifest.to_text().as_bytes(),
        )
        .map_err(|e| format!("Can't persist the AOF manifest: {e}"))?;
    }
    let last = dir.join(&manifest.incrs.last().expect("an incr file").name);
    let file = std::fs::OpenOptions::new()
        .append(true)
        .open(&last)
        .map_err(|e| format!("Can't open the append-only file {}: {e}", last.display()))?;
    aof.status.current_size.store(total, Relaxed);
    aof.status.base_size.store(total, Relaxed);
    *aof.files.lock() = Files { manifest };
    aof.switch_file(Some(file));
    aof.recording.store(true, Relaxed);
    start_thread(server);
    Ok(())
}

/// Follows CONFIG SET: `appendfsync` at once; `appendonly yes` starts a
/// rewrite that creates the log, `appendonly no` stops logging.
pub fn follow_config(server: &Server) {
    let aof = &server.keyspace.aof;
    let (wanted, policy) = {
        let config = server.config.read();
        (
            config.appendonly,
            config.value("appendfsync").unwrap_or_default(),
        )
    };
    aof.policy.store(Fsync::parse(&policy) as u8, Relaxed);
    let Some(server) = aof.server.get().and_then(Weak::upgrade) else {
        return; // not started (unit tests)
    };
    if aof.loading() {
        return;
    }
    if wanted && !aof.recording() {
        if rewrite::start(&server, rewrite::Mode::Enable).is_err() {
            aof.status.rewrite_scheduled.store(true, Relaxed);
        }
    } else if !wanted && aof.recording() {
        stop(&server);
    }
}

fn stop(server: &Server) {
    let aof = &server.keyspace.aof;
    // No lock_all here: CONFIG SET may run inside EXEC, which holds them.
    // Records fed from now on are dropped by `feed`.
    aof.recording.store(false, Relaxed);
    aof.switch_file(None);
    aof.status.current_size.store(0, Relaxed);
}

/// BGREWRITEAOF.
pub fn bgrewrite(server: &Server) -> Result<(), &'static str> {
    let Some(server) = server.keyspace.aof.server.get().and_then(Weak::upgrade) else {
        return Err("ERR Background append only file rewriting is not available");
    };
    rewrite::start(&server, rewrite::Mode::Compact)
}

/// At SHUTDOWN: everything logged reaches the disk.
pub fn shutdown(server: &Server) {
    let aof = &server.keyspace.aof;
    if aof.recording() {
        aof.flush_all();
    }
}

fn start_thread(server: &Arc<Server>) {
    let aof = &server.keyspace.aof;
    if aof.thread.swap(true, Relaxed) {
        return;
    }
    let weak = Arc::downgrade(server);
    std::thread::Builder::new()
        .name("aof-fsync".into())
        .spawn(move || background(weak))
        .expect("spawn the AOF thread");
}

/// The fsync thread: group commits under `always`, the once-a-second fsync
/// under `everysec`, stray records, automatic rewrites.
fn background(weak: Weak<Server>) {
    let mut last_fsync = Instant::now();
    let mut last_cron = Instant::now();
    loop {
        let Some(server) = weak.upgrade() else { return };
        let aof = &server.keyspace.aof;
        {
            let mut woken = aof.wake.lock();
            if !*woken {
                aof.wake_cv.wait_for(&mut woken, Duration::from_millis(100));
            }
            *woken = false;
        }
        if !aof.recording() {
            continue;
        }
        aof.write_out();
        match aof.policy() {
            Fsync::Always => aof.sync(),
            Fsync::EverySec if last_fsync.elapsed() >= Duration::from_secs(1) => {
                aof.sync();
                last_fsync = Instant::now();
            }
            _ => {}
        }
        if last_cron.elapsed() >= Duration::from_millis(100) {
            last_cron = Instant::now();
            rewrite::maybe_auto(&server);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering::Relaxed;

    use crate::testkit::TestClient;

    /// A client whose server records into the AOF buffer (no files).
    fn recording() -> TestClient {
        let t = TestClient::new();
        t.server.keyspace.aof.recording.store(true, Relaxed);
        t
    }

    /// What was logged since the last call, one command per line.
    fn logged(t: &TestClient) -> Vec<String> {
        let buf = std::mem::take(&mut t.server.keyspace.aof.inner.lock().buf);
        let mut lines = Vec::new();
        let mut spans = Vec::new();
        let mut scratch = Vec::new();
        let mut pos = 0;
        while pos < buf.len() {
            let parsed = crate::protocol::parse_request(
                &buf[pos..],
                &mut spans,
                &mut scratch,
                Default::default(),
            );
            let Ok(crate::protocol::Parsed::Multibulk { consumed }) = parsed else {
                panic!("bad log at {pos}");
            };
            let args = crate::cmd::Args::new(&buf[pos..], &spans);
            let words: Vec<String> = args
                .iter()
                .map(|a| String::from_utf8_lossy(a).into())
                .collect();
            lines.push(words.join(" "));
            pos += consumed;
        }
        lines
    }

    #[test]
    fn relative_times_become_absolute() {
        let mut t = recording();
        t.run(&["SET", "k", "v", "EX", "100"]);
        t.run(&["EXPIRE", "k", "50"]);
        t.run(&["SETEX", "s", "10", "v"]);
        t.run(&["GETEX", "s", "PERSIST"]);
        let log = logged(&t);
        assert_eq!(log[0], "SELECT 0");
        assert!(log[1].starts_with("SET k v PXAT "), "{log:?}");
        assert!(log[2].starts_with("PEXPIREAT k "), "{log:?}");
        assert!(log[3].starts_with("SET s v PXAT "), "{log:?}");
        assert_eq!(log[4], "PERSIST s");
        // A time in the past deletes: logged as DEL.
        t.run(&["EXPIRE", "k", "-1"]);
        assert_eq!(logged(&t), ["DEL k"]);
    }

    #[test]
    fn nondeterministic_commands_log_their_outcome() {
        let mut t = recording();
        t.run(&["SADD", "s", "a"]);
        t.run(&["SPOP", "s"]);
        t.run(&["INCRBYFLOAT", "f", "1.5"]);
        t.run(&["XADD", "x", "*", "f", "v"]);
        let log = logged(&t);
        assert_eq!(log[1..4], ["SADD s a", "SREM s a", "SET f 1.5 KEEPTTL"]);
        assert!(
            log[4].starts_with("XADD x ") && !log[4].contains('*'),
            "{log:?}"
        );
        // Writes that changed nothing, and reads, are not logged.
        t.run(&["DEL", "missing"]);
        t.run(&["GET", "f"]);
        assert!(logged(&t).is_empty());
    }

    #[test]
    fn transactions_and_scripts_log_their_effects() {
        let mut t = recording();
        t.run(&["MULTI"]);
        t.run(&["INCR", "a"]);
        t.run(&["SELECT", "2"]);
        t.run(&["INCR", "b"]);
        t.run(&["EXEC"]);
        assert_eq!(
            logged(&t),
            ["SELECT 0", "MULTI", "INCR a", "SELECT 2", "INCR b", "EXEC"]
        );
        t.run(&[
            "EVAL",
            "redis.call('set','x','1') redis.call('rpush','l','2')",
            "2",
            "x",
            "l",
        ]);
        assert_eq!(logged(&t), ["MULTI", "set x 1", "rpush l 2", "EXEC"]);
        t.run(&["BLPOP", "l", "0"]);
        assert_eq!(logged(&t), ["LPOP l"]);
    }

    #[test]
    fn expired_keys_are_logged_as_del() {
        let mut t = recording();
        t.run(&["SET", "k", "v", "PX", "1"]);
        std::thread::sleep(std::time::Duration::from_millis(5));
        logged(&t);
        assert_eq!(t.run(&["GET", "k"]), "$-1\r\n");
        assert_eq!(logged(&t), ["DEL k"]);
    }

    #[test]
    fn loading_refuses_commands_without_the_loading_flag() {
        let mut t = TestClient::new();
        t.server.keyspace.aof.loading.store(true, Relaxed);
        assert_eq!(
            t.run(&["GET", "k"]),
            format!("-{}\r\n", super::LOADING_ERROR)
        );
        assert!(t.run(&["INFO", "persistence"]).contains("loading:1"));
    }
}
