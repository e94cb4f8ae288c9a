//! Server-wide counters for INFO: per-command call statistics
//! (`commandstats`), error counts by prefix (`errorstats`) and totals, plus the
//! slow log, the latency monitor and the instantaneous-rate samples.
//!
//! The gate reads one cached threshold ([`Stats::watch_threshold_us`]) after
//! every command, so the slow log and latency monitor cost one comparison for
//! fast commands. The thresholds are copied from the configuration at start
//! and on every cron tick ([`Stats::apply_config`]), so CONFIG SET takes effect
//! within one tick.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::config::Config;
use crate::protocol::reply::ErrorPrefix;

#[derive(Default)]
pub struct CommandStats {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub rejected_calls: AtomicU64,
    pub failed_calls: AtomicU64,
    /// Call durations (LATENCY HISTOGRAM, INFO latencystats).
    pub latency: LatencyHistogram,
}

/// Buckets of [`LatencyHistogram`]: the last one ends near 13 days.
const HISTOGRAM_BUCKETS: usize = 40;

/// Call durations in power-of-two buckets: bucket `k` holds durations up to
/// 1024·2^k ns, the boundaries Redis's LATENCY HISTOGRAM reports at. Coarser
/// than Redis's HDR histogram, so percentiles are bucket upper bounds.
pub struct LatencyHistogram {
    buckets: [AtomicU64; HISTOGRAM_BUCKETS],
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl LatencyHistogram {
    fn bucket_of(nanos: u64) -> usize {
        if nanos <= 1024 {
            return 0;
        }
        let above = (nanos - 1) >> 10;
        ((u64::BITS - above.leading_zeros()) as usize).min(HISTOGRAM_BUCKETS - 1)
    }

    #[inline]
    pub fn record(&self, took: Duration) {
        let nanos = took.as_nanos().min(u64::MAX as u128) as u64;
        self.buckets[Self::bucket_of(nanos)].fetch_add(1, Relaxed);
    }

    /// The label Redis prints for bucket `k`: the highest value its HDR
    /// histogram treats as equal to 1024·2^k ns, in whole microseconds.
    pub fn bucket_label_usec(k: usize) -> u64 {
        ((1032u128 << k) - 1).min(u64::MAX as u128) as u64 / 1000
    }

    /// (label in µs, cumulative count) for every bucket that holds calls.
    pub fn cumulative(&self) -> Vec<(u64, u64)> {
        let mut total = 0;
        let mut out = Vec::new();
        for (k, b) in self.buckets.iter().enumerate() {
            let n = b.load(Relaxed);
            if n > 0 {
                total += n;
                out.push((Self::bucket_label_usec(k), total));
            }
        }
        out
    }

    /// Upper bound in µs of the bucket holding the `p`th percentile.
    pub fn percentile_usec(&self, p: f64) -> f64 {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (k, n) in counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return (1024u128 << k) as f64 / 1000.0;
            }
        }
        (1024u128 << (HISTOGRAM_BUCKETS - 1)) as f64 / 1000.0
    }

    fn reset(&self) {
        for b in &self.buckets {
            b.store(0, Relaxed);
        }
    }
}

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
    pub evicted_keys: AtomicU64,
    /// Unix seconds of the last successful save (start time until one happens).
    pub last_save_unix: AtomicU64,
    /// Highest memory figure INFO or the cron has seen (`used_memory_peak`).
    pub peak_memory: AtomicU64,
    /// Cleared by `DEBUG SET-ACTIVE-EXPIRE 0`; the cron skips active expiry.
    pub active_expire: AtomicBool,
    /// 40 hex characters (INFO `master_replid`).
    pub master_replid: String,
    pub slowlog: Mutex<SlowLog>,
    pub latency: Mutex<LatencyMonitor>,
    instantaneous: Mutex<RateSamples>,
    /// Smallest duration (µs) any recorder wants; `i64::MAX` when all are off.
    watch_threshold_us: AtomicI64,
    slowlog_threshold_us: AtomicI64,
    /// Latency monitor threshold in ms; 0 disables it.
    latency_threshold_ms: AtomicU64,
    slowlog_max_len: AtomicU64,
}

impl Stats {
    pub fn new(command_ids: usize) -> Self {
        Stats {
            commands: (0..command_ids).map(|_| CommandStats::default()).collect(),
            errors: Mutex::default(),
            total_commands: AtomicU64::new(0),
            total_error_replies: AtomicU64::new(0),
            total_connections: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            net_input_bytes: AtomicU64::new(0),
            net_output_bytes: AtomicU64::new(0),
            evicted_keys: AtomicU64::new(0),
            last_save_unix: AtomicU64::new(crate::cmd::now_ms() / 1000),
            peak_memory: AtomicU64::new(0),
            active_expire: AtomicBool::new(true),
            master_replid: (0..40)
                .map(|_| char::from_digit(rand::random::<u32>() % 16, 16).unwrap_or('0'))
                .collect(),
            slowlog: Mutex::default(),
            latency: Mutex::default(),
            instantaneous: Mutex::default(),
            watch_threshold_us: AtomicI64::new(i64::MAX),
            slowlog_threshold_us: AtomicI64::new(-1),
            latency_threshold_ms: AtomicU64::new(0),
            slowlog_max_len: AtomicU64::new(128),
        }
    }

    /// Copies the recording thresholds out of the configuration.
    pub fn apply_config(&self, config: &Config) {
        let slow = config.slowlog_log_slower_than;
        let latency_ms = config.latency_monitor_threshold;
        self.slowlog_threshold_us.store(slow, Relaxed);
        self.latency_threshold_ms.store(latency_ms, Relaxed);
        self.slowlog_max_len
            .store(config.slowlog_max_len as u64, Relaxed);
        let mut watch = if slow >= 0 { slow } else { i64::MAX };
        if latency_ms > 0 {
            watch = watch.min(latency_ms.saturating_mul(1000).min(i64::MAX as u64) as i64);
        }
        self.watch_threshold_us.store(watch, Relaxed);
    }

    /// Commands at least this slow (µs) go to [`Stats::record_slow`].
    #[inline]
    pub fn watch_threshold_us(&self) -> i64 {
        self.watch_threshold_us.load(Relaxed)
    }

    /// Called by the gate for a command that took at least the watch
    /// threshold: files it in the slow log and the latency monitor as each
    /// one's own threshold says. `entry` builds the slow-log entry lazily.
    pub fn record_slow(
        &self,
        took: Duration,
        fast_command: bool,
        skip_slowlog: bool,
        entry: impl FnOnce(u64, u64) -> SlowLogEntry,
    ) {
        let usec = took.as_micros().min(i64::MAX as u128) as i64;
        let slow = self.slowlog_threshold_us.load(Relaxed);
        let now_s = crate::cmd::now_ms() / 1000;
        if !skip_slowlog && slow >= 0 && usec >= slow {
            let max_len = self.slowlog_max_len.load(Relaxed) as usize;
            let mut log = self.slowlog.lock();
            let id = log.next_id;
            log.next_id += 1;
            log.push(entry(id, now_s), max_len);
        }
        let threshold_ms = self.latency_threshold_ms.load(Relaxed);
        let ms = (usec / 1000) as u64;
        if threshold_ms > 0 && ms >= threshold_ms {
            let event = if fast_command {
                "fast-command"
            } else {
                "command"
            };
            self.latency.lock().add_sample(event, now_s, ms);
        }
    }

    /// A command ran; `failed` is the prefix of the error it replied, if any.
    pub fn record_call(&self, id: usize, took: Duration, failed: Option<ErrorPrefix>) {
        let s = &self.commands[id];
        s.calls.fetch_add(1, Relaxed);
        s.usec.fetch_add(took.as_micros() as u64, Relaxed);
        s.latency.record(took);
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

    /// One cron tick: samples the counters behind the `instantaneous_*` fields
    /// and the memory peak.
    pub fn sample_rates(&self) {
        self.note_memory(crate::alloc::used_memory());
        self.instantaneous.lock().sample(
            Instant::now(),
            [
                self.total_commands.load(Relaxed),
                self.net_input_bytes.load(Relaxed),
                self.net_output_bytes.load(Relaxed),
            ],
        );
    }

    /// Operations per second averaged over the recent samples.
    pub fn instantaneous_ops(&self) -> f64 {
        self.instantaneous.lock().rate(0)
    }

    /// Input and output kilobytes per second averaged over the recent samples.
    pub fn instantaneous_kbps(&self) -> (f64, f64) {
        let r = self.instantaneous.lock();
        (r.rate(1) / 1024.0, r.rate(2) / 1024.0)
    }

    /// Raises the recorded peak to `now_bytes` if higher; returns the peak.
    pub fn note_memory(&self, now_bytes: u64) -> u64 {
        self.peak_memory
            .fetch_max(now_bytes, Relaxed)
            .max(now_bytes)
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for s in self.commands.iter() {
            s.calls.store(0, Relaxed);
            s.usec.store(0, Relaxed);
            s.rejected_calls.store(0, Relaxed);
            s.failed_calls.store(0, Relaxed);
            s.latency.reset();
        }
        self.errors.lock().clear();
        for c in [
            &self.total_commands,
            &self.total_error_replies,
            &self.total_connections,
            &self.rejected_connections,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.evicted_keys,
        ] {
            c.store(0, Relaxed);
        }
    }
}

/// Resident set size of this process in bytes, from `/proc/self/statm`.
pub fn process_rss() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0);
    // 4 KiB pages on every platform we build for (x86-64, aarch64 Linux defaults).
    pages * 4096
}

/// Counter samples taken each cron tick; rates are the mean of the per-tick
/// rates over the last [`RateSamples::LEN`] ticks, as Redis computes them.
#[derive(Default)]
struct RateSamples {
    last: Option<(Instant, [u64; 3])>,
    /// Per-tick rates per second for each counter.
    rates: VecDeque<[f64; 3]>,
}

impl RateSamples {
    const LEN: usize = 16;

    fn sample(&mut self, now: Instant, counters: [u64; 3]) {
        if let Some((then, before)) = self.last {
            let secs = now.duration_since(then).as_secs_f64();
            if secs > 0.0 {
                let rate = |i: usize| counters[i].saturating_sub(before[i]) as f64 / secs;
                if self.rates.len() == Self::LEN {
                    self.rates.pop_front();
                }
                self.rates.push_back([rate(0), rate(1), rate(2)]);
            }
        }
        self.last = Some((now, counters));
    }

    fn rate(&self, which: usize) -> f64 {
        if self.rates.is_empty() {
            return 0.0;
        }
        self.rates.iter().map(|r| r[which]).sum::<f64>() / self.rates.len() as f64
    }
}

/// Longest argument list and argument a slow-log entry keeps, as in Redis.
pub const SLOWLOG_MAX_ARGC: usize = 32;
pub const SLOWLOG_MAX_ARGLEN: usize = 128;

pub struct SlowLogEntry {
    pub id: u64,
    pub unix_secs: u64,
    pub usec: u64,
    pub args: Vec<Vec<u8>>,
    pub client_addr: String,
    pub client_name: Vec<u8>,
}

impl SlowLogEntry {
    /// Copies the arguments, shortened as Redis does: at most 32 arguments
    /// (the last saying how many more there were), each at most 128 bytes.
    pub fn new<'a>(
        id: u64,
        unix_secs: u64,
        took: Duration,
        args: impl ExactSizeIterator<Item = &'a [u8]>,
        client_addr: String,
        client_name: Vec<u8>,
    ) -> Self {
        let argc = args.len();
        let kept = if argc > SLOWLOG_MAX_ARGC {
            SLOWLOG_MAX_ARGC - 1
        } else {
            argc
        };
        let mut copied: Vec<Vec<u8>> = args
            .take(kept)
            .map(|a| {
                if a.len() > SLOWLOG_MAX_ARGLEN {
                    let mut s = a[..SLOWLOG_MAX_ARGLEN].to_vec();
                    s.extend_from_slice(
                        format!("... ({} more bytes)", a.len() - SLOWLOG_MAX_ARGLEN).as_bytes(),
                    );
                    s
                } else {
                    a.to_vec()
                }
            })
            .collect();
        if argc > kept {
            copied.push(format!("... ({} more arguments)", argc - kept).into_bytes());
        }
        SlowLogEntry {
            id,
            unix_secs,
            usec: took.as_micros() as u64,
            args: copied,
            client_addr,
            client_name,
        }
    }
}

/// The slow log, newest entry first.
#[derive(Default)]
pub struct SlowLog {
    pub entries: VecDeque<SlowLogEntry>,
    /// Ids keep growing across SLOWLOG RESET, as in Redis.
    next_id: u64,
}

impl SlowLog {
    fn push(&mut self, entry: SlowLogEntry, max_len: usize) {
        self.entries.push_front(entry);
        self.entries.truncate(max_len);
    }
}

/// Samples kept per latency event, as in Redis.
pub const LATENCY_HISTORY_LEN: usize = 160;

#[derive(Default)]
pub struct LatencyEvent {
    /// (unix seconds, ms), oldest first, at most one per second.
    pub samples: VecDeque<(u64, u64)>,
    pub max_ms: u64,
}

/// `LATENCY` data: per event, the worst latency seen in each second.
#[derive(Default)]
pub struct LatencyMonitor {
    pub events: BTreeMap<&'static str, LatencyEvent>,
}

impl LatencyMonitor {
    pub fn add_sample(&mut self, event: &'static str, unix_secs: u64, ms: u64) {
        let e = self.events.entry(event).or_default();
        e.max_ms = e.max_ms.max(ms);
        match e.samples.back_mut() {
            Some(last) if last.0 == unix_secs => last.1 = last.1.max(ms),
            _ => {
                if e.samples.len() == LATENCY_HISTORY_LEN {
                    e.samples.pop_front();
                }
                e.samples.push_back((unix_secs, ms));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slowlog_entry_truncates_like_redis() {
        let long = vec![b'a'; 193];
        let args: Vec<&[u8]> = vec![b"set", b"k", &long];
        let e = SlowLogEntry::new(
            1,
            0,
            Duration::ZERO,
            args.into_iter(),
            String::new(),
            vec![],
        );
        assert_eq!(e.args[2].len(), 128 + "... (65 more bytes)".len());
        assert!(e.args[2].ends_with(b"... (65 more bytes)"));

        let many: Vec<Vec<u8>> = (0..37).map(|i| i.to_string().into_bytes()).collect();
        let e = SlowLogEntry::new(
            1,
            0,
            Duration::ZERO,
            many.iter().map(|a| a.as_slice()),
            String::new(),
            vec![],
        );
        assert_eq!(e.args.len(), 32);
        assert_eq!(e.args[31], b"... (6 more arguments)");
    }

    #[test]
    fn histogram_buckets_and_labels_match_redis() {
        let h = LatencyHistogram::default();
        for us in [0u64, 1, 1, 2, 3, 40] {
            h.record(Duration::from_micros(us));
        }
        // 0 and 1 µs in the first bucket, 2 µs in the second, 3 µs up to 4,
        // 40 µs up to 66 (Redis's label for 65536 ns).
        assert_eq!(h.cumulative(), vec![(1, 3), (2, 4), (4, 5), (66, 6)]);
        assert_eq!(LatencyHistogram::bucket_label_usec(5), 33);
        assert_eq!(LatencyHistogram::bucket_label_usec(9), 528);
        assert_eq!(h.percentile_usec(50.0), 1.024);
        assert_eq!(h.percentile_usec(99.0), 65.536);
    }

    #[test]
    fn latency_keeps_worst_sample_per_second() {
        let mut m = LatencyMonitor::default();
        m.add_sample("command", 10, 5);
        m.add_sample("command", 10, 7);
        m.add_sample("command", 11, 3);
        let e = &m.events["command"];
        assert_eq!(e.samples, VecDeque::from(vec![(10, 7), (11, 3)]));
        assert_eq!(e.max_ms, 7);
    }

    #[test]
    fn thresholds_choose_the_smaller_watch() {
        let stats = Stats::new(1);
        let mut config = Config {
            slowlog_log_slower_than: -1,
            latency_monitor_threshold: 0,
            ..Config::default()
        };
        stats.apply_config(&config);
        assert_eq!(stats.watch_threshold_us(), i64::MAX);
        config.latency_monitor_threshold = 2;
        stats.apply_config(&config);
        assert_eq!(stats.watch_threshold_us(), 2000);
        config.slowlog_log_slower_than = 0;
        stats.apply_config(&config);
        assert_eq!(stats.watch_threshold_us(), 0);
    }
}
