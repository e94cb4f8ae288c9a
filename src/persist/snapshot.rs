//! Point-in-time snapshots without fork and without stopping clients.
//!
//! A snapshot starts by taking every shard lock once (so no command is
//! half-way), marking every shard *pending* and noting the time T. From then
//! on, whoever takes a pending shard's lock first serialises that shard as it
//! was at T, before touching it: the saver thread walking the shards in
//! order, or a client command that got there earlier (its copy waits in
//! memory until the saver reaches that shard). The keyspace calls
//! [`Cow::visit`] right after acquiring any shard lock; when no snapshot runs
//! that is one atomic load.
//!
//! So the file holds every key as of T, a client waits at most for one
//! shard's serialisation, and the extra memory is the serialised bytes of the
//! shards clients reached before the saver did (never a copy of the objects).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;

use super::rdb::codec;
use super::rdb::write::{self, Access};
use crate::db::Keyspace;
use crate::db::dict::hash_key;
use crate::db::keyspace::Shard;
use crate::db::value::access;

/// What every shard's serialisation needs to agree on.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    /// T, in Unix ms: keys already expired at T are left out.
    pub now_ms: u64,
    pub compress: codec::Lzf,
    pub access: AccessMode,
}

/// Which access metadata keys carry (Redis writes it under LRU/LFU policies).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AccessMode {
    None,
    Lru,
    Lfu { decay_minutes: u32 },
}

/// The copy-on-write state the keyspace consults on every shard lock.
pub struct Cow {
    active: AtomicBool,
    pending: Box<[AtomicBool]>,
    job: Mutex<Job>,
    /// Serialised bytes held for shards the saver has not reached yet.
    pub buffered: AtomicU64,
    pub buffered_peak: AtomicU64,
}

#[derive(Default)]
struct Job {
    params: Option<Params>,
    buffers: Vec<Option<Vec<u8>>>,
}

impl Cow {
    pub fn new(shards: usize) -> Self {
        Cow {
            active: AtomicBool::new(false),
            pending: (0..shards).map(|_| AtomicBool::new(false)).collect(),
            job: Mutex::new(Job::default()),
            buffered: AtomicU64::new(0),
            buffered_peak: AtomicU64::new(0),
        }
    }

    /// Called with shard `id` locked, before anyone reads or changes it.
    #[inline]
    pub fn visit(&self, id: usize, shard: &Shard) {
        if self.active.load(Ordering::Acquire) {
            self.save_if_pending(id, shard);
        }
    }

    #[cold]
    fn save_if_pending(&self, id: usize, shard: &Shard) {
        // The flag only changes under this shard's lock, which we hold.
        if !self.pending[id].swap(false, Ordering::AcqRel) {
            return;
        }
        let Some(params) = self.job.lock().params else {
            return;
        };
        let mut out = Vec::new();
        serialize_shard(&mut out, shard, &params);
        let size = out.len() as u64;
        let now = self.buffered.fetch_add(size, Ordering::Relaxed) + size;
        self.buffered_peak.fetch_max(now, Ordering::Relaxed);
        self.job.lock().buffers[id] = Some(out);
    }

    fn take(&self, id: usize) -> Vec<u8> {
        let bytes = self.job.lock().buffers[id].take().unwrap_or_default();
        self.buffered
            .fetch_sub(bytes.len() as u64, Ordering::Relaxed);
        bytes
    }

    fn stop(&self) {
        self.active.store(false, Ordering::Release);
        for p in self.pending.iter() {
            p.store(false, Ordering::Relaxed);
        }
        let mut job = self.job.lock();
        job.params = None;
        job.buffers.clear();
        self.buffered.store(0, Ordering::Relaxed);
    }
}

/// Appends every live key of one shard, database by database.
pub fn serialize_shard(out: &mut Vec<u8>, shard: &Shard, params: &Params) {
    for (db, part) in shard.dbs.iter().enumerate() {
        if part.keys.is_empty() {
            continue;
        }
        write::put_select_db(out, db, part.keys.len(), part.expires.len());
        for (key, entry) in part.keys.iter() {
            let expire = if part.expires.is_empty() {
                None
            } else {
                part.expires.get(hash_key(key), key).copied()
            };
            if expire.is_some_and(|when| when <= params.now_ms) {
                continue;
            }
            let meta = match params.access {
                AccessMode::None => Access::None,
                AccessMode::Lru => Access::Idle(access::idle_seconds(params.now_ms, entry.access)),
                AccessMode::Lfu { decay_minutes } => {
                    Access::Freq(
                        access::lfu_decayed(entry.access, params.now_ms, decay_minutes) as u8,
                    )
                }
            };
            write::put_key(out, key, &entry.value, expire, meta, params.compress);
        }
    }
}

/// How a finished snapshot went.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub keys_dirty_before: u64,
    pub bytes: u64,
    pub buffered_peak: u64,
}

/// Writes a point-in-time snapshot of `keyspace` to `path`: into a temp file
/// beside it, fsynced, then renamed over `path` (and the directory fsynced),
/// so a crash at any moment leaves either the old file or the new one.
pub fn save(
    keyspace: &Keyspace,
    path: &Path,
    params: Params,
    checksum: bool,
    used_mem: u64,
) -> std::io::Result<Outcome> {
    let cow = &keyspace.snapshot;
    let dirty_before;
    {
        // No command is running while we hold every lock: T is well defined.
        let all = keyspace.lock_all();
        dirty_before = keyspace.stats.dirty.load(Ordering::Relaxed);
        let mut job = cow.job.lock();
        job.params = Some(params);
        job.buffers = (0..keyspace.shard_count()).map(|_| None).collect();
        drop(job);
        for p in cow.pending.iter() {
            p.store(true, Ordering::Relaxed);
        }
        cow.buffered_peak.store(0, Ordering::Relaxed);
        cow.active.store(true, Ordering::Release);
        drop(all);
    }
    let result = write_file(keyspace, path, params, checksum, used_mem);
    let peak = cow.buffered_peak.load(Ordering::Relaxed);
    cow.stop();
    let bytes = result?;
    Ok(Outcome {
        keys_dirty_before: dirty_before,
        bytes,
        buffered_peak: peak,
    })
}

fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = format!("temp-{}-{n}.rdb", std::process::id());
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(name)
}

fn write_file(
    keyspace: &Keyspace,
    path: &Path,
    params: Params,
    checksum: bool,
    used_mem: u64,
) -> std::io::Result<u64> {
    let temp = temp_path(path);
    let result = (|| {
        let file = File::create(&temp)?;
        let mut sink = Sink {
            out: BufWriter::with_capacity(1 << 16, file),
            digest: codec::CRC64.digest(),
            checksum,
            bytes: 0,
        };
        let mut header = Vec::new();
        write::put_header(&mut header, used_mem, params.now_ms / 1000);
        sink.write(&header)?;
        for id in 0..keyspace.shard_count() {
            // Taking the lock serialises the shard if no client did already.
            drop(keyspace.lock_shard(id));
            let bytes = keyspace.snapshot.take(id);
            sink.write(&bytes)?;
        }
        sink.write(&[codec::op::EOF])?;
        let crc = if checksum { sink.digest.finalize() } else { 0 };
        sink.out.write_all(&crc.to_le_bytes())?;
        let file = sink.out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(sink.bytes + 8)
    })();
    match result {
        Ok(bytes) => {
            std::fs::rename(&temp, path)?;
            if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                if let Ok(d) = File::open(dir) {
                    let _ = d.sync_all();
                }
            }
            Ok(bytes)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
    }
}

struct Sink<W: Write> {
    out: W,
    digest: crc::Digest<'static, u64>,
    checksum: bool,
    bytes: u64,
}

impl<W: Write> Sink<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        if self.checksum {
            self.digest.update(data);
        }
        self.bytes += data.len() as u64;
        self.out.write_all(data)
    }
}
