//! Persistence: RDB snapshots ([`rdb`] for the format, [`snapshot`] for the
//! fork-free point-in-time copy), the save points cron, loading at start-up,
//! and the state INFO persistence and the command gate read ([`State`]).

pub mod rdb;
pub mod snapshot;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::server::Server;
use snapshot::{AccessMode, Params};

/// Redis waits this long after a failed BGSAVE before a save point retries.
const BGSAVE_RETRY_SECS: u64 = 5;

pub const LOADING_ERROR: &str = "LOADING Redis is loading the dataset in memory";
pub const MISCONF_ERROR: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// Persistence state shared by the commands, the cron and INFO.
pub struct State {
    /// True while the start-up load runs (commands without `loading` get LOADING).
    pub loading: AtomicBool,
    pub bgsave_in_progress: AtomicBool,
    /// Unix seconds the running BGSAVE started.
    pub bgsave_started: AtomicU64,
    /// `BGSAVE SCHEDULE` asked for one while another ran.
    pub bgsave_scheduled: AtomicBool,
    pub last_bgsave_ok: AtomicBool,
    pub last_bgsave_secs: AtomicI64,
    /// Unix seconds of the last BGSAVE attempt (for the retry delay).
    pub last_bgsave_try: AtomicU64,
    /// Successful saves since start (`rdb_saves`).
    pub saves: AtomicU64,
    /// Bytes the last snapshot held in memory for shards clients reached first.
    pub last_cow_size: AtomicU64,
    /// One snapshot at a time.
    save_lock: Mutex<()>,
    /// Wakes the saver thread for a BGSAVE.
    wake: (Mutex<bool>, parking_lot::Condvar),
}

impl Default for State {
    fn default() -> Self {
        State {
            loading: AtomicBool::new(false),
            bgsave_in_progress: AtomicBool::new(false),
            bgsave_started: AtomicU64::new(0),
            bgsave_scheduled: AtomicBool::new(false),
            last_bgsave_ok: AtomicBool::new(true),
            last_bgsave_secs: AtomicI64::new(-1),
            last_bgsave_try: AtomicU64::new(0),
            saves: AtomicU64::new(0),
            last_cow_size: AtomicU64::new(0),
            save_lock: Mutex::new(()),
            wake: (Mutex::new(false), parking_lot::Condvar::new()),
        }
    }
}

fn unix_secs() -> u64 {
    crate::cmd::now_ms() / 1000
}

/// `dir`/`dbfilename`.
pub fn rdb_path(server: &Server) -> PathBuf {
    let config = server.config.read();
    PathBuf::from(&config.dir).join(&config.dbfilename)
}

/// The `save` points as (seconds, changes).
pub fn save_points(server: &Server) -> Vec<(u64, u64)> {
    let text = server.config.read().value("save").unwrap_or_default();
    let words: Vec<u64> = text
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    words.chunks_exact(2).map(|p| (p[0], p[1])).collect()
}

fn yes(server: &Server, name: &str) -> bool {
    server.config.read().value(name).is_none_or(|v| v == "yes")
}

fn params(server: &Server) -> Params {
    let config = server.config.read();
    let policy = &config.maxmemory_policy;
    let access = if policy.contains("lfu") {
        AccessMode::Lfu {
            decay_minutes: config
                .value("lfu-decay-time")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1),
        }
    } else if policy.contains("lru") {
        AccessMode::Lru
    } else {
        AccessMode::None
    };
    Params {
        now_ms: crate::cmd::now_ms(),
        compress: if config.value("rdbcompression").is_none_or(|v| v == "yes") {
            rdb::codec::Lzf::Fast
        } else {
            rdb::codec::Lzf::Off
        },
        access,
    }
}

/// Writes a snapshot now, in the calling thread (SAVE, SHUTDOWN, BGSAVE's
/// thread). Clients keep running meanwhile.
pub fn save_now(server: &Server) -> std::io::Result<()> {
    let _one = server.persist.save_lock.lock();
    let path = rdb_path(server);
    let started = Instant::now();
    let outcome = snapshot::save(
        &server.keyspace,
        &path,
        params(server),
        yes(server, "rdbchecksum"),
        crate::alloc::used_memory(),
    );
    match outcome {
        Ok(done) => {
            // Changes made while the snapshot ran are still unsaved.
            let dirty = &server.keyspace.stats.dirty;
            let _ = dirty.fetch_update(Relaxed, Relaxed, |d| {
                Some(d.saturating_sub(done.keys_dirty_before))
            });
            server.stats.last_save_unix.store(unix_secs(), Relaxed);
            server.persist.saves.fetch_add(1, Relaxed);
            server
                .persist
                .last_cow_size
                .store(done.buffered_peak, Relaxed);
            tracing::info!(
                "DB saved on disk ({} bytes in {:?}, {} bytes held for early writers)",
                done.bytes,
                started.elapsed(),
                done.buffered_peak
            );
            Ok(())
        }
        Err(e) => {
            tracing::warn!("Failed saving the DB: {e}");
            Err(e)
        }
    }
}

/// Why BGSAVE could not start.
#[derive(Debug)]
pub enum BgsaveRefused {
    InProgress,
}

/// Starts a background save: marks it in progress and wakes the saver
/// thread ([`run_saver`]), which needs no lock the caller may hold.
pub fn start_bgsave(server: &Server) -> Result<(), BgsaveRefused> {
    let state = &server.persist;
    if state
        .bgsave_in_progress
        .compare_exchange(false, true, Relaxed, Relaxed)
        .is_err()
    {
        return Err(BgsaveRefused::InProgress);
    }
    state.bgsave_scheduled.store(false, Relaxed);
    state.bgsave_started.store(unix_secs(), Relaxed);
    state.last_bgsave_try.store(unix_secs(), Relaxed);
    tracing::info!("Background saving started");
    *state.wake.0.lock() = true;
    state.wake.1.notify_one();
    Ok(())
}

/// The saver thread: runs each requested background save.
pub fn run_saver(server: std::sync::Arc<Server>) {
    loop {
        {
            let mut requested = server.persist.wake.0.lock();
            while !*requested {
                server.persist.wake.1.wait(&mut requested);
            }
            *requested = false;
        }
        let started = Instant::now();
        let ok = save_now(&server).is_ok();
        let state = &server.persist;
        state.last_bgsave_ok.store(ok, Relaxed);
        state
            .last_bgsave_secs
            .store(started.elapsed().as_secs() as i64, Relaxed);
        state.bgsave_in_progress.store(false, Relaxed);
        if ok {
            tracing::info!("Background saving terminated with success");
        } else {
            tracing::warn!("Background saving error");
        }
    }
}

/// FLUSHALL with save points: Redis saves the empty dataset right away, so
/// a restart cannot bring the data back. The caller holds every shard, so
/// the save runs on the saver thread once it lets go (or after the running one).
pub fn after_flushall(server: &Server) {
    if save_points(server).is_empty() {
        return;
    }
    if start_bgsave(server).is_err() {
        server.persist.bgsave_scheduled.store(true, Relaxed);
    }
}

/// The refusal a command gets from persistence, if any: LOADING while the
/// start-up load runs, MISCONF for writes after a failed background save with `stop-writes-on-bgsave-error yes`.
pub fn refusal(server: &Server, flags: u32) -> Option<&'static str> {
    use crate::cmd::flag;
    let state = &server.persist;
    if state.loading.load(Relaxed) && flags & flag::LOADING == 0 {
        return Some(LOADING_ERROR);
    }
    if !state.last_bgsave_ok.load(Relaxed)
        && flags & flag::WRITE != 0
        && yes(server, "stop-writes-on-bgsave-error")
        && !save_points(server).is_empty()
    {
        return Some(MISCONF_ERROR);
    }
    None
}

/// The save points cron: starts a BGSAVE when one is due, or was scheduled.
pub async fn cron(server: std::sync::Arc<Server>) {
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if server.is_shutting_down() {
            return;
        }
        let state = &server.persist;
        if state.loading.load(Relaxed) || state.bgsave_in_progress.load(Relaxed) {
            continue;
        }
        // Redis starts a scheduled save once no other child (AOF rewrite) runs.
        if state.bgsave_scheduled.load(Relaxed) {
            if !server.keyspace.aof.status.rewrite_in_progress.load(Relaxed) {
                let _ = start_bgsave(&server);
            }
            continue;
        }
        let now = unix_secs();
        let dirty = server.keyspace.stats.dirty.load(Relaxed);
        let last = server.stats.last_save_unix.load(Relaxed);
        let retry_ok = state.last_bgsave_ok.load(Relaxed)
            || now.saturating_sub(state.last_bgsave_try.load(Relaxed)) >= BGSAVE_RETRY_SECS;
        let due = save_points(&server)
            .iter()
            .any(|&(secs, changes)| dirty >= changes && now.saturating_sub(last) >= secs);
        if due && retry_ok {
            tracing::info!("Save point reached: {dirty} changes. Saving...");
            let _ = start_bgsave(&server);
        }
    }
}

/// The synchronous save a shutdown makes (SHUTDOWN, SIGTERM): when forced by
/// SAVE, or when save points are configured, unless NOSAVE. Waits for a
/// running BGSAVE first (the snapshot lock). False when saving failed.
pub fn save_for_shutdown(server: &Server, save: bool, nosave: bool) -> bool {
    if server.persist.loading.load(Relaxed) || nosave {
        return true;
    }
    if !save && save_points(server).is_empty() {
        return true;
    }
    tracing::warn!("Saving the final RDB snapshot before exiting.");
    match save_now(server) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("Error trying to save the DB, can't exit: {e}");
            false
        }
    }
}

/// Loads `dir`/`dbfilename` if it exists. An unreadable, corrupt or
/// truncated file is an error: start-up stops and the file stays as it is.
pub fn load_at_startup(server: &Server) -> Result<(), String> {
    let path = rdb_path(server);
    let data = match std::fs::read(&path) {
        Ok(data) => data,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("Can't read {}: {e}", path.display())),
    };
    let started = Instant::now();
    let limits = rdb::read::Limits::from_config(&server.config.read());
    let now = crate::cmd::now_ms();
    let keyspace = &server.keyspace;
    let lfu = keyspace.access.lfu.load(Relaxed);
    let info = rdb::read::read_file(&data, &limits, keyspace.databases(), now, |k| {
        let mut locked = keyspace.lock_keys([&k.key]);
        let mut db = locked.db(k.db, now);
        let mut entry = db.new_entry(k.value);
        entry.access = match (k.access, lfu) {
            (rdb::write::Access::Freq(counter), true) => {
                (crate::db::value::access::lfu_new(now) & !0xFF) | counter as u32
            }
            (rdb::write::Access::Idle(secs), false) => {
                crate::db::value::access::lru_clock(now.saturating_sub(secs * 1000))
            }
            _ => entry.access,
        };
        db.insert_in(k.db, &k.key, entry, k.expire_ms);
    })
    .map_err(|e| {
        format!(
            "Failed loading the RDB file {}: {e}. The file was left untouched.",
            path.display()
        )
    })?;
    keyspace.stats.dirty.store(0, Relaxed);
    tracing::info!(
        "DB loaded from disk: {} keys ({} expired skipped) in {:?}, RDB version {}",
        info.keys,
        info.expired_skipped,
        started.elapsed(),
        info.version
    );
    Ok(())
}
