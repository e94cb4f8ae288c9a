//! Server-wide counters for INFO: per-command call statistics
//! (`commandstats`), error counts by prefix (`errorstats`) and totals.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use parking_lot::Mutex;

use crate::protocol::reply::ErrorPrefix;

#[derive(Default)]
pub struct CommandStats {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub rejected_calls: AtomicU64,
    pub failed_calls: AtomicU64,
}

#[derive(Default)]
pub struct Stats {
    /// By command-table id.
    pub commands: Box<[CommandStats]>,
    /// Error replies by prefix (`ERR`, `WRONGTYPE`...).
    pub errors: Mutex<BTreeMap<String, u64>>,
    pub total_commands: AtomicU64,
    pub total_error_replies: AtomicU64,
    pub total_connections: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
}

impl Stats {
    pub fn new(command_ids: usize) -> Self {
        Stats {
            commands: (0..command_ids).map(|_| CommandStats::default()).collect(),
            ..Default::default()
        }
    }

    /// A command ran; `failed` is the prefix of the error it replied, if any.
    pub fn record_call(&self, id: usize, took: Duration, failed: Option<ErrorPrefix>) {
        let s = &self.commands[id];
        s.calls.fetch_add(1, Relaxed);
        s.usec.fetch_add(took.as_micros() as u64, Relaxed);
        self.total_commands.fetch_add(1, Relaxed);
        if let Some(prefix) = failed {
            s.failed_calls.fetch_add(1, Relaxed);
            self.record_error(prefix);
        }
    }

    /// A command was refused before running (arity, auth, unknown...).
    pub fn record_rejected(&self, id: Option<usize>, prefix: ErrorPrefix) {
        if let Some(id) = id {
            self.commands[id].rejected_calls.fetch_add(1, Relaxed);
        }
        self.record_error(prefix);
    }

    pub fn record_error(&self, prefix: ErrorPrefix) {
        self.total_error_replies.fetch_add(1, Relaxed);
        *self
            .errors
            .lock()
            .entry(prefix.as_str().to_string())
            .or_default() += 1;
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for s in self.commands.iter() {
            s.calls.store(0, Relaxed);
            s.usec.store(0, Relaxed);
            s.rejected_calls.store(0, Relaxed);
            s.failed_calls.store(0, Relaxed);
        }
        self.errors.lock().clear();
        for c in [
            &self.total_commands,
            &self.total_error_replies,
            &self.total_connections,
            &self.rejected_connections,
            &self.net_input_bytes,
            &self.net_output_bytes,
        ] {
            c.store(0, Relaxed);
        }
    }
}
