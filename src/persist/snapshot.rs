//! Point-in-time snapshots without fork and without stopping clients.
//!
//! A snapshot starts by taking every shard lock once (so no command is
//! half-way), marking every shard *pending* and noting the time T. The
//! saver thread then walks the shards, serialising each under its lock. The
//! keyspace calls the hook right after acquiring any shard lock (one atomic
//! load when no snapshot runs):
//!
//! - a command that named its keys ([`Cow::visit_keys`]) and reaches a
//!   pending shard first serialises just those keys as they were at T (in
//!   every database, for MOVE and COPY), and marks them handled; the saver
//!   later skips handled keys and writes these copies instead;
//! - any other holder of a pending shard ([`Cow::visit`]: EXEC, scripts,
//!   active expiry, the saver itself) serialises the whole shard, less the
//!   handled keys, before touching it.
//!
//! So the file holds every key as of T and a client pays only for the keys
//! it touches. The saver itself holds a shard's lock only to copy its live
//! entries (no encoding, no compression) and encodes the copy after letting
//! go, so writers to that shard wait microseconds per thousand keys rather
//! than the time LZF and listpack encoding take. The extra memory is the
//! serialised bytes of the keys clients touched early, plus one shard's copy.

use std::collections::HashSet;
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
use crate::db::{Bytes24, Entry};

/// The saver's pause after each shard (see `write_file`).
const SHARD_PAUSE: std::time::Duration = std::time::Duration::from_micros(100);

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
    /// Finished shards waiting for the saver to write them.
    buffers: Vec<Option<Vec<u8>>>,
    /// By shard: keys clients saved (or found absent) ahead of the saver.
    handled: Vec<HashSet<Vec<u8>>>,
    /// By shard: those keys' serialised entries.
    side: Vec<Vec<u8>>,
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

    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Called with shard `id` locked by a command that will touch only `keys`.
    #[inline]
    pub fn visit_keys<'k>(&self, id: usize, shard: &Shard, keys: impl Iterator<Item = &'k [u8]>) {
        if self.active.load(Ordering::Acquire) && self.pending[id].load(Ordering::Acquire) {
            self.save_keys(id, shard, keys);
        }
    }

    #[cold]
    fn save_keys<'k>(&self, id: usize, shard: &Shard, keys: impl Iterator<Item = &'k [u8]>) {
        let Some(params) = self.job.lock().params else {
            return;
        };
        for key in keys {
            // We hold the shard lock: nobody else handles this shard's keys now.
            if self.job.lock().handled[id].contains(key) {
                continue;
            }
            let mut out = Vec::new();
            let hash = hash_key(key);
            for (db, part) in shard.dbs.iter().enumerate() {
                let Some(entry) = part.keys.get(hash, key) else {
                    continue;
                };
                let expire = part.expires.of(entry);
                if expire.is_some_and(|when| when <= params.now_ms) {
                    continue;
                }
                out.push(codec::op::SELECTDB);
                codec::put_len(&mut out, db as u64);
                write::put_key(
                    &mut out,
                    key,
                    &entry.value,
                    expire,
                    meta(&params, entry.access),
                    params.compress,
                );
            }
            self.account(out.len());
            let mut job = self.job.lock();
            job.side[id].extend_from_slice(&out);
            job.handled[id].insert(key.to_vec());
        }
    }

    fn account(&self, size: usize) {
        let size = size as u64;
        let now = self.buffered.fetch_add(size, Ordering::Relaxed) + size;
        self.buffered_peak.fetch_max(now, Ordering::Relaxed);
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
        let (params, skip, side) = {
            let mut job = self.job.lock();
            let Some(params) = job.params else {
                return;
            };
            let skip = std::mem::take(&mut job.handled[id]);
            let side = std::mem::take(&mut job.side[id]);
            (params, skip, side)
        };
        let mut out = Vec::new();
        serialize_shard(&mut out, shard, &params, &skip);
        // The side copies were counted when made.
        self.account(out.len());
        out.extend_from_slice(&side);
        self.job.lock().buffers[id] = Some(out);
    }

    /// The saver's turn at shard `id`, which it holds: unless a client
    /// already saved the whole shard, copy its entries not saved yet (the
    /// caller encodes them off the lock) and take the clients' side copies.
    fn copy_if_pending(&self, id: usize, shard: &Shard) -> Option<(Params, ShardCopy, Vec<u8>)> {
        if !self.pending[id].swap(false, Ordering::AcqRel) {
            return None;
        }
        let (params, skip, side) = {
            let mut job = self.job.lock();
            let params = job.params?;
            let skip = std::mem::take(&mut job.handled[id]);
            let side = std::mem::take(&mut job.side[id]);
            (params, skip, side)
        };
        // The side copies were counted when made; they leave the buffer now.
        self.buffered
            .fetch_sub(side.len() as u64, Ordering::Relaxed);
        Some((params, ShardCopy::take(shard, &params, &skip), side))
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
        job.handled.clear();
        job.side.clear();
        self.buffered.store(0, Ordering::Relaxed);
    }
}

fn meta(params: &Params, stamp: u32) -> Access {
    match params.access {
        AccessMode::None => Access::None,
        AccessMode::Lru => Access::Idle(access::idle_seconds(params.now_ms, stamp)),
        AccessMode::Lfu { decay_minutes } => {
            Access::Freq(access::lfu_decayed(stamp, params.now_ms, decay_minutes) as u8)
        }
    }
}

/// What [`walk_shard`] visits, in order.
enum Visit<'s> {
    /// A non-empty database starts; its table sizes (RESIZEDB's hint).
    Db {
        db: usize,
        keys: usize,
        expires: usize,
    },
    /// One of its keys, live at T.
    Key(&'s Bytes24, &'s Entry, Option<u64>),
}

/// Every key of one shard live at T and not in `skip`, database by database.
fn walk_shard<'s>(
    shard: &'s Shard,
    params: &Params,
    skip: &HashSet<Vec<u8>>,
    mut visit: impl FnMut(Visit<'s>),
) {
    for (db, part) in shard.dbs.iter().enumerate() {
        if part.keys.is_empty() {
            continue;
        }
        visit(Visit::Db {
            db,
            keys: part.keys.len(),
            expires: part.expires.len(),
        });
        for (key, entry) in part.keys.iter() {
            let expire = part.expires.of(entry);
            if expire.is_some_and(|when| when <= params.now_ms) {
                continue;
            }
            if !skip.is_empty() && skip.contains(&key[..]) {
                continue;
            }
            visit(Visit::Key(key, entry, expire));
        }
    }
}

/// Appends one visited item in RDB form.
fn encode_visit(out: &mut Vec<u8>, params: &Params, item: Visit<'_>) {
    match item {
        Visit::Db { db, keys, expires } => write::put_select_db(out, db, keys, expires),
        Visit::Key(key, entry, expire) => {
            let meta = meta(params, entry.access);
            write::put_key(out, key, &entry.value, expire, meta, params.compress);
        }
    }
}

/// Appends every live key of one shard, database by database, except `skip`.
pub fn serialize_shard(out: &mut Vec<u8>, shard: &Shard, params: &Params, skip: &HashSet<Vec<u8>>) {
    walk_shard(shard, params, skip, |item| encode_visit(out, params, item));
}

/// One shard's live entries as of T, copied under its lock by the saver, in
/// visiting order: a database's table sizes, then its entries.
#[derive(Default)]
struct ShardCopy {
    items: Vec<CopiedItem>,
}

enum CopiedItem {
    Db {
        db: usize,
        keys: usize,
        expires: usize,
    },
    Key(Bytes24, Entry, Option<u64>),
}

impl ShardCopy {
    fn take(shard: &Shard, params: &Params, skip: &HashSet<Vec<u8>>) -> ShardCopy {
        let mut items = Vec::new();
        walk_shard(shard, params, skip, |item| {
            items.push(match item {
                Visit::Db { db, keys, expires } => CopiedItem::Db { db, keys, expires },
                Visit::Key(key, entry, expire) => {
                    CopiedItem::Key(key.clone(), entry.clone(), expire)
                }
            })
        });
        ShardCopy { items }
    }

    fn encode(&self, out: &mut Vec<u8>, params: &Params) {
        for item in &self.items {
            let visit = match item {
                CopiedItem::Db { db, keys, expires } => Visit::Db {
                    db: *db,
                    keys: *keys,
                    expires: *expires,
                },
                CopiedItem::Key(key, entry, expire) => Visit::Key(key, entry, *expire),
            };
            encode_visit(out, params, visit);
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
        let shards = keyspace.shard_count();
        job.buffers = (0..shards).map(|_| None).collect();
        job.handled = (0..shards).map(|_| HashSet::new()).collect();
        job.side = (0..shards).map(|_| Vec::new()).collect();
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
        let mut encoded = Vec::new();
        for id in 0..keyspace.shard_count() {
            let cow = &keyspace.snapshot;
            match keyspace.read_shard_raw(id, |shard| cow.copy_if_pending(id, shard)) {
                Some((params, copy, side)) => {
                    encoded.clear();
                    copy.encode(&mut encoded, &params);
                    drop(copy);
                    sink.write(&encoded)?;
                    sink.write(&side)?;
                }
                // A client reached the shard first and serialised it.
                None => sink.write(&cow.take(id))?,
            }
            // Give the core back between shards: on a small machine the
            // saver otherwise keeps one busy for the whole snapshot, and
            // clients' replies queue behind it (measured: the slowest PING
            // during BGSAVE of 1M keys on 2 cores halved, for ~30 ms more).
            std::thread::sleep(SHARD_PAUSE);
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
