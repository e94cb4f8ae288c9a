//! Rewriting the log into a new base file, without fork and without a
//! window where a crash loses data:
//!
//! 1. Under every shard lock (a moment: no command runs), the buffer goes to
//!    the old incremental file, a new incremental file is created and a
//!    manifest naming the old base, the old and the new incremental files
//!    replaces the old one atomically; from then on records go to the new
//!    file. Every shard is marked "to copy".
//! 2. Shards are copied into a temporary base file one at a time, each
//!    *before anything touches it again*: the keyspace calls
//!    [`Capture::take`] whenever it locks a shard still marked (see
//!    `Keyspace::lock_*`), and a walk over all shards takes the rest. So the
//!    base is the dataset exactly as of step 1 while writers keep going
//!    (copy-before-write per shard: a client waits at most for one shard's
//!    serialisation, and no second copy of the dataset is ever held).
//! 3. The base is fsynced and renamed into place, and a manifest naming the
//!    new base and the new incremental file replaces the previous one; the
//!    old files are deleted.
//!
//! A crash before step 3 leaves the manifest of step 1, which replays the
//! old base and both incremental files: nothing is lost.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Instant;

use parking_lot::Mutex;

use super::manifest::{self, Manifest};
use super::propagate::encode;
use super::{Files, locate};
use crate::db::keyspace::Shard;
use crate::db::{StrValue, Value};
use crate::server::Server;

/// Elements per command for big collections, as Redis's
/// `AOF_REWRITE_ITEMS_PER_CMD`.
const ITEMS_PER_CMD: usize = 64;

/// The shards not yet copied into the base file being written.
pub struct Capture {
    pub active: AtomicBool,
    pending: Box<[AtomicBool]>,
    out: Mutex<Option<Sink>>,
}

struct Sink {
    file: BufWriter<File>,
    error: Option<std::io::Error>,
    now_ms: u64,
}

impl Capture {
    pub fn new(shards: usize) -> Self {
        Capture {
            active: AtomicBool::new(false),
            pending: (0..shards).map(|_| AtomicBool::new(false)).collect(),
            out: Mutex::new(None),
        }
    }

    /// Copies the shards among `ids` still marked, whose locks the caller
    /// holds (`guards[i]` is shard `ids[i]`).
    pub fn take<'a>(
        &self,
        ids: impl Iterator<Item = usize>,
        guards: impl Iterator<Item = &'a Shard>,
    ) {
        for (id, shard) in ids.zip(guards) {
            if self.pending[id].swap(false, Relaxed) {
                self.copy(shard);
            }
        }
    }

    fn copy(&self, shard: &Shard) {
        let mut buf = Vec::new();
        let mut sink = self.out.lock();
        let Some(sink) = sink.as_mut() else { return };
        for (db, part) in shard.dbs.iter().enumerate() {
            if part.keys.is_empty() {
                continue;
            }
            let mut itoa = itoa::Buffer::new();
            encode(
                &mut buf,
                [&b"SELECT"[..], itoa.format(db).as_bytes()].into_iter(),
            );
            for (key, entry) in part.keys.iter() {
                let expire = part.expires.of(entry);
                if expire.is_some_and(|at| at <= sink.now_ms) {
                    continue;
                }
                write_value(&mut buf, key, &entry.value);
                if let Some(at) = expire {
                    let mut itoa = itoa::Buffer::new();
                    encode(
                        &mut buf,
                        [&b"PEXPIREAT"[..], key, itoa.format(at).as_bytes()].into_iter(),
                    );
                }
            }
        }
        if sink.error.is_none()
            && let Err(e) = sink.file.write_all(&buf)
        {
            sink.error = Some(e);
        }
    }
}

/// Appends the commands that rebuild `value` under `key`.
pub fn write_value(buf: &mut Vec<u8>, key: &[u8], value: &Value) {
    let mut batch: Vec<Vec<u8>> = Vec::new();
    let flush = |buf: &mut Vec<u8>, cmd: &[u8], batch: &mut Vec<Vec<u8>>| {
        if batch.is_empty() {
            return;
        }
        let args = [cmd, key]
            .into_iter()
            .chain(batch.iter().map(Vec::as_slice))
            .collect::<Vec<_>>();
        encode(buf, args.into_iter());
        batch.clear();
    };
    match value {
        Value::Str(s) => {
            let mut scratch = itoa::Buffer::new();
            let bytes = match s {
                StrValue::Int(_) | StrValue::Bytes(_) | StrValue::Raw(_) => {
                    s.as_bytes(&mut scratch)
                }
            };
            encode(buf, [&b"SET"[..], key, bytes].into_iter());
        }
        Value::List(list) => {
            let mut items = list.cursor();
            while let Some(item) = items.next_front() {
                batch.push(item.to_vec());
                if batch.len() == ITEMS_PER_CMD {
                    flush(buf, b"RPUSH", &mut batch);
                }
            }
            flush(buf, b"RPUSH", &mut batch);
        }
        Value::Set(set) => {
            let mut scratch = itoa::Buffer::new();
            set.for_each(|member| {
                batch.push(member.bytes(&mut scratch).to_vec());
                if batch.len() == ITEMS_PER_CMD {
                    flush(buf, b"SADD", &mut batch);
                }
            });
            flush(buf, b"SADD", &mut batch);
        }
        Value::Hash(hash) => {
            hash.for_each(|field, value| {
                batch.push(field.to_vec());
                batch.push(value.to_vec());
                if batch.len() == 2 * ITEMS_PER_CMD {
                    flush(buf, b"HSET", &mut batch);
                }
            });
            flush(buf, b"HSET", &mut batch);
        }
        Value::ZSet(zset) => {
            zset.visit_ranks(0, zset.len(), false, |member, score| {
                batch.push(format_score(score).into_bytes());
                batch.push(member.to_vec());
                if batch.len() == 2 * ITEMS_PER_CMD {
                    flush(buf, b"ZADD", &mut batch);
                }
            });
            flush(buf, b"ZADD", &mut batch);
        }
        Value::Stream(stream) => write_stream(buf, key, stream),
    }
}

/// A score that parses back to the same double.
fn format_score(score: f64) -> String {
    if score.is_infinite() {
        if score > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{score:?}")
    }
}

/// Entries, then the stream's counters, then groups, consumers and pending
/// entries, as Redis's rewrite does.
fn write_stream(buf: &mut Vec<u8>, key: &[u8], stream: &crate::db::stream::Stream) {
    use crate::db::stream::StreamId;
    let id = |id: StreamId| id.to_string().into_bytes();
    if stream.is_empty() {
        // Creates the key with its last ID, then trims the entry away.
        encode(
            buf,
            [
                &b"XADD"[..],
                key,
                b"MAXLEN",
                b"0",
                &id(stream.last_id),
                b"x",
                b"y",
            ]
            .into_iter(),
        );
    } else {
        stream.range(StreamId::MIN, StreamId::MAX, false, |entry| {
            let entry_id = id(entry.id);
            let args = [&b"XADD"[..], key, &entry_id]
                .into_iter()
                .chain(entry.fields.iter().copied())
                .collect::<Vec<_>>();
            encode(buf, args.into_iter());
            true
        });
    }
    let added = stream.entries_added.to_string();
    encode(
        buf,
        [
            &b"XSETID"[..],
            key,
            &id(stream.last_id),
            b"ENTRIESADDED",
            added.as_bytes(),
            b"MAXDELETEDID",
            &id(stream.max_deleted_id),
        ]
        .into_iter(),
    );
    for (name, group) in &stream.groups {
        let read = group.entries_read.to_string();
        encode(
            buf,
            [
                &b"XGROUP"[..],
                b"CREATE",
                key,
                name,
                &id(group.last_id),
                b"ENTRIESREAD",
                read.as_bytes(),
            ]
            .into_iter(),
        );
        for (consumer, state) in &group.consumers {
            if state.pending.is_empty() {
                encode(
                    buf,
                    [&b"XGROUP"[..], b"CREATECONSUMER", key, name, consumer].into_iter(),
                );
            }
        }
        for (pending_id, pending) in &group.pending {
            let time = pending.delivery_ms.to_string();
            let count = pending.delivery_count.to_string();
            encode(
                buf,
                [
                    &b"XCLAIM"[..],
                    key,
                    name,
                    &pending.consumer,
                    b"0",
                    &id(*pending_id),
                    b"TIME",
                    time.as_bytes(),
                    b"RETRYCOUNT",
                    count.as_bytes(),
                    b"JUSTID",
                    b"FORCE",
                ]
                .into_iter(),
            );
        }
    }
}

/// What a rewrite is for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// BGREWRITEAOF, or an automatic rewrite.
    Compact,
    /// `appendonly yes` (start-up without a log, or CONFIG SET): the base
    /// is the whole dataset and logging starts at the switch.
    Enable,
}

/// Starts a rewrite in the background; Err when one is already running.
pub fn start(server: &Arc<Server>, mode: Mode) -> Result<(), &'static str> {
    let status = &server.keyspace.aof.status;
    if status.rewrite_in_progress.swap(true, Relaxed) {
        return Err("ERR Background append only file rewriting already in progress");
    }
    let server = server.clone();
    std::thread::Builder::new()
        .name("aof-rewrite".into())
        .spawn(move || {
            if let Err(e) = run_claimed(&server, mode) {
                tracing::warn!("Background AOF rewrite failed: {e}");
            }
        })
        .map_err(|_| "ERR Can't start the background AOF rewrite")?;
    Ok(())
}

/// Rewrites now, on this thread (start-up).
pub fn run(server: &Arc<Server>, mode: Mode) -> Result<(), String> {
    let status = &server.keyspace.aof.status;
    if status.rewrite_in_progress.swap(true, Relaxed) {
        return Err("a rewrite is already in progress".into());
    }
    run_claimed(server, mode)
}

fn run_claimed(server: &Arc<Server>, mode: Mode) -> Result<(), String> {
    let aof = &server.keyspace.aof;
    aof.status.rewrite_scheduled.store(false, Relaxed);
    aof.status
        .rewrite_started_ms
        .store(crate::cmd::now_ms(), Relaxed);
    let started = Instant::now();
    let result = rewrite(server, mode);
    aof.capture.active.store(false, Relaxed);
    *aof.capture.out.lock() = None;
    aof.status
        .last_rewrite_secs
        .store(started.elapsed().as_secs() as i64, Relaxed);
    aof.status
        .last_rewrite_failed
        .store(result.is_err(), Relaxed);
    aof.status.rewrite_in_progress.store(false, Relaxed);
    match &result {
        Ok(()) => {
            aof.status.rewrites.fetch_add(1, Relaxed);
            aof.status.consecutive_failures.store(0, Relaxed);
            tracing::info!("Background AOF rewrite finished successfully");
        }
        Err(e) => {
            aof.status.consecutive_failures.fetch_add(1, Relaxed);
            tracing::warn!("Background AOF rewrite terminated with error: {e}");
        }
    }
    result
}

fn rewrite(server: &Arc<Server>, mode: Mode) -> Result<(), String> {
    let aof = &server.keyspace.aof;
    let (dir, prefix) = locate(server);
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("Can't create the AOF directory {}: {e}", dir.display()))?;
    let io = |what: &str| {
        let what = what.to_string();
        move |e: std::io::Error| format!("{what}: {e}")
    };
    let manifest_name = format!("{prefix}.manifest");
    let temp = dir.join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
    let temp_file = File::create(&temp).map_err(io("Can't create the temporary AOF base"))?;

    // Step 1: switch to a new incremental file while no command runs.
    let (previous, new_incr, logging) = {
        let all = server.keyspace.lock_all();
        let mut files = aof.files.lock();
        let logging = aof.recording() || mode == Mode::Enable;
        // Not logging: whatever an earlier run left is stale, but numbering
        // goes on after it (no file is reused) and it is deleted at the end.
        let previous = if aof.recording() {
            files.manifest.clone()
        } else {
            std::fs::read_to_string(dir.join(&manifest_name))
                .ok()
                .and_then(|text| Manifest::parse(&text).ok())
                .unwrap_or_default()
        };
        let mut next = if aof.recording() {
            previous.clone()
        } else {
            Manifest::default()
        };
        let new_incr = if logging {
            let incr = previous.next_incr(&prefix);
            let file = std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(dir.join(&incr.name))
                .map_err(io("Can't create the new AOF incr file"))?;
            next.incrs.push(incr.clone());
            if aof.recording() {
                // The old base and incr files plus the new one: complete.
                manifest::write_atomically(&dir, &manifest_name, next.to_text().as_bytes())
                    .map_err(io("Can't persist the AOF manifest"))?;
            } else {
                manifest::sync_dir(&dir).map_err(io("Can't sync the AOF directory"))?;
            }
            aof.switch_file(Some(file));
            Some(incr)
        } else {
            None
        };
        *files = Files { manifest: next };
        *aof.capture.out.lock() = Some(Sink {
            file: BufWriter::with_capacity(1 << 20, temp_file),
            error: None,
            now_ms: crate::cmd::now_ms(),
        });
        for flag in aof.capture.pending.iter() {
            flag.store(true, Relaxed);
        }
        aof.capture.active.store(true, Relaxed);
        if logging && !aof.recording() {
            aof.recording.store(true, Relaxed);
            super::start_thread(server);
        }
        drop(all);
        (previous, new_incr, logging)
    };

    // Step 2: copy every shard not copied yet.
    for shard in 0..server.keyspace.shard_count() {
        drop(server.keyspace.lock_shard(shard));
    }
    aof.capture.active.store(false, Relaxed);
    let sink = aof
        .capture
        .out
        .lock()
        .take()
        .ok_or("the rewrite was cancelled")?;
    if let Some(e) = sink.error {
        return Err(format!("Error writing the AOF base: {e}"));
    }
    let file = sink
        .file
        .into_inner()
        .map_err(|e| format!("Error writing the AOF base: {}", e.error()))?;
    file.sync_all().map_err(io("Error fsyncing the AOF base"))?;
    let base_size = file.metadata().map(|m| m.len()).unwrap_or(0);
    drop(file);

    // Step 3: the new base and the new incr file replace the old ones.
    let mut files = aof.files.lock();
    let base = previous.next_base(&prefix);
    std::fs::rename(&temp, dir.join(&base.name)).map_err(io("Can't rename the AOF base"))?;
    let mut next = Manifest {
        base: Some(base),
        history: Vec::new(),
        incrs: Vec::new(),
    };
    // Incr files created after ours (none today) stay.
    if let Some(ours) = &new_incr {
        next.incrs = files
            .manifest
            .incrs
            .iter()
            .filter(|i| i.seq >= ours.seq)
            .cloned()
            .collect();
    }
    manifest::write_atomically(&dir, &manifest_name, next.to_text().as_bytes())
        .map_err(io("Can't persist the AOF manifest"))?;
    let keep: Vec<String> = next.names().map(str::to_string).collect();
    for old in previous.names().filter(|n| !keep.iter().any(|k| k == n)) {
        let _ = std::fs::remove_file(dir.join(old));
    }
    files.manifest = next;
    drop(files);
    if logging {
        let incr_bytes = new_incr
            .as_ref()
            .and_then(|i| std::fs::metadata(dir.join(&i.name)).ok())
            .map_or(0, |m| m.len());
        aof.status
            .current_size
            .store(base_size + incr_bytes, Relaxed);
        aof.status.base_size.store(base_size + incr_bytes, Relaxed);
    }
    Ok(())
}

/// `auto-aof-rewrite-percentage` / `auto-aof-rewrite-min-size`.
pub fn maybe_auto(server: &Arc<Server>) {
    let aof = &server.keyspace.aof;
    if !aof.recording() || aof.status.rewrite_in_progress.load(Relaxed) {
        return;
    }
    let (percentage, min_size) = {
        let config = server.config.read();
        let number =
            |name: &str| -> u64 { config.value(name).and_then(|v| v.parse().ok()).unwrap_or(0) };
        (
            number("auto-aof-rewrite-percentage"),
            number("auto-aof-rewrite-min-size"),
        )
    };
    if aof.status.rewrite_scheduled.load(Relaxed) {
        let _ = start(server, Mode::Compact);
        return;
    }
    let current = aof.status.current_size.load(Relaxed);
    let base = aof.status.base_size.load(Relaxed).max(1);
    if percentage == 0 || current < min_size {
        return;
    }
    let growth = (current.saturating_sub(base)) * 100 / base;
    if growth >= percentage {
        tracing::info!("Starting automatic rewriting of AOF on {growth}% growth");
        let _ = start(server, Mode::Compact);
    }
}
