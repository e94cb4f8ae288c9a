//! Keyspace benchmarks: the `Dict` hash table at 1M entries (get hit/miss,
//! insert, remove) and `Db` get/set through the shard locks.
//!
//! Before the timed runs it prints memory per entry (a counting global
//! allocator, compared with std's HashMap and with Redis's figure for
//! `DEBUG POPULATE 1000000`) and the longest single insert/remove at 1M
//! entries, which is where a whole-table resize would stall a shard.
//!
//! Run: `cargo bench --bench keyspace -- --measurement-time 2`

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use criterion::Criterion;
use ferrokv::db::dict::{Dict, hash_key};
use ferrokv::db::{Bytes24, Entry, Keyspace, Value};

/// Counts live heap bytes, so a structure's footprint is the difference
/// before and after building it.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_sub(layout.size(), Relaxed);
        LIVE.fetch_add(new_size, Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

const N: usize = 1_000_000;
/// Redis 7.0.15 (jemalloc): used_memory growth for `DEBUG POPULATE 1000000`
/// (keys `key:N`, values `value:N`), measured on the reference server.
const REDIS_BYTES_PER_KEY: f64 = 88.4;

fn key(i: usize) -> Vec<u8> {
    format!("key:{i}").into_bytes()
}

fn entry(i: usize) -> Entry {
    Entry::new(Value::str(format!("value:{i}").as_bytes()))
}

/// Keys with their hashes precomputed, so timings measure the table only.
fn hashed_keys(range: std::ops::Range<usize>) -> Vec<(u64, Bytes24)> {
    range
        .map(|i| {
            let k = key(i);
            (hash_key(&k), Bytes24::new(&k))
        })
        .collect()
}

/// Heap bytes per entry of what `build` returns (the value is kept alive
/// until measured, then dropped).
fn bytes_per_entry<T>(n: usize, build: impl FnOnce() -> T) -> f64 {
    let before = LIVE.load(Relaxed);
    let built = build();
    let after = LIVE.load(Relaxed);
    drop(built);
    (after - before) as f64 / n as f64
}

fn dict_of<V>(n: usize, value: impl Fn(usize) -> V) -> Dict<V> {
    let mut d = Dict::new();
    for i in 0..n {
        let k = key(i);
        d.insert(hash_key(&k), Bytes24::new(&k), value(i));
    }
    d
}

fn hashmap_of<V>(n: usize, value: impl Fn(usize) -> V) -> HashMap<Bytes24, V> {
    let mut m = HashMap::new();
    for i in 0..n {
        m.insert(Bytes24::new(&key(i)), value(i));
    }
    m
}

fn report_memory() {
    println!("== memory: heap bytes per entry (keys `key:N`, inline in Bytes24) ==");
    println!(
        "{:>10}  {:>11} {:>11}  {:>11} {:>11}",
        "entries", "Dict<u64>", "std<u64>", "Dict<Entry>", "std<Entry>"
    );
    // 1M is a bad case for any power-of-two table (just past 2^20 * 7/8); the
    // other sizes show the range across the resize sawtooth.
    let sizes = [600_000, 800_000, N, 1_300_000, 1_600_000, 1_900_000];
    let mut sums = [0.0; 4];
    for &n in &sizes {
        let row = [
            bytes_per_entry(n, || dict_of(n, |i| i as u64)),
            bytes_per_entry(n, || hashmap_of(n, |i| i as u64)),
            bytes_per_entry(n, || dict_of(n, entry)),
            bytes_per_entry(n, || hashmap_of(n, entry)),
        ];
        for (sum, x) in sums.iter_mut().zip(row) {
            *sum += x;
        }
        println!(
            "{n:>10}  {:>11.1} {:>11.1}  {:>11.1} {:>11.1}",
            row[0], row[1], row[2], row[3]
        );
    }
    let mean = sums.map(|s| s / sizes.len() as f64);
    println!(
        "{:>10}  {:>11.1} {:>11.1}  {:>11.1} {:>11.1}",
        "mean", mean[0], mean[1], mean[2], mean[3]
    );

    // The whole keyspace as the server builds it: 32 shards, SET key:N value:N.
    let per_key = bytes_per_entry(N, || {
        let ks = Keyspace::new(16, 32);
        for i in 0..N {
            let k = key(i);
            let mut locked = ks.lock_keys([&k]);
            locked
                .db(0, 0)
                .set(&k, Value::str(format!("value:{i}").as_bytes()));
        }
        ks
    });
    println!(
        "Keyspace (32 shards), 1M SET key:N value:N: {per_key:.1} B/key; Redis {REDIS_BYTES_PER_KEY} B/key (ratio {:.2})",
        per_key / REDIS_BYTES_PER_KEY
    );
}

/// The longest single operations while filling one table to 1M entries and
/// emptying it again, split into those that resized the table (index rebuild
/// or entry array realloc: `table_size` changed) and the rest (the noise
/// floor of this machine: preemption, page faults).
fn report_resize_stalls() {
    let keys = hashed_keys(0..N);
    let mut d: Dict<Entry> = Dict::new();
    let mut inserts = Stalls::default();
    for (h, k) in keys.iter() {
        let (len, size) = (d.len(), d.table_size());
        let start = Instant::now();
        d.insert(*h, k.clone(), Entry::new(Value::str(b"v")));
        inserts.record(start.elapsed(), len, size != d.table_size());
    }
    let mut removes = Stalls::default();
    for (h, k) in keys.iter() {
        let (len, size) = (d.len(), d.table_size());
        let start = Instant::now();
        d.remove(*h, k);
        removes.record(start.elapsed(), len, size != d.table_size());
    }
    println!("== longest single operation in one Dict<Entry> growing to 1M, then emptied ==");
    println!("insert: {inserts}");
    println!("remove: {removes}");
}

#[derive(Default)]
struct Stalls {
    /// (duration, table length before) of the slowest resizing operation.
    resizing: (Duration, usize),
    resizes: usize,
    other: Duration,
}

impl Stalls {
    fn record(&mut self, took: Duration, len: usize, resized: bool) {
        if resized {
            self.resizes += 1;
            if took > self.resizing.0 {
                self.resizing = (took, len);
            }
        } else {
            self.other = self.other.max(took);
        }
    }
}

impl std::fmt::Display for Stalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "worst resize {:?} at len {} ({} resizes); worst other {:?}",
            self.resizing.0, self.resizing.1, self.resizes, self.other
        )
    }
}

fn bench_dict(c: &mut Criterion) {
    let keys = hashed_keys(0..N);
    let spare = hashed_keys(N..2 * N);
    let mut d: Dict<u64> = Dict::new();
    for (i, (h, k)) in keys.iter().enumerate() {
        d.insert(*h, k.clone(), i as u64);
    }
    let mut group = c.benchmark_group("dict_1M");
    let mut i = 0;
    group.bench_function("get_hit", |b| {
        b.iter(|| {
            i = (i + 7919) % N;
            let (h, k) = &keys[i];
            black_box(d.get(*h, k));
        })
    });
    group.bench_function("get_miss", |b| {
        b.iter(|| {
            i = (i + 7919) % N;
            let (h, k) = &spare[i];
            black_box(d.get(*h, k));
        })
    });
    // The same lookups in std's HashMap, as a baseline for this machine.
    let std_map: HashMap<&[u8], u64> = keys.iter().map(|(_, k)| (&k[..], 0)).collect();
    group.bench_function("std_get_hit", |b| {
        b.iter(|| {
            i = (i + 7919) % N;
            black_box(std_map.get(&keys[i].1[..]));
        })
    });
    // Timed inserts of fresh keys, then the same keys removed untimed (and
    // the reverse for remove), so the table stays at ~1M across samples.
    group.bench_function("insert", |b| {
        b.iter_custom(|iters| {
            let batch = &spare[..(iters as usize).min(N)];
            let start = Instant::now();
            for (h, k) in batch {
                d.insert(*h, k.clone(), 0);
            }
            let took = start.elapsed();
            for (h, k) in batch {
                d.remove(*h, k);
            }
            took * (iters as u32) / batch.len().max(1) as u32
        })
    });
    group.bench_function("remove", |b| {
        b.iter_custom(|iters| {
            let batch = &keys[..(iters as usize).min(N)];
            let start = Instant::now();
            for (h, k) in batch {
                black_box(d.remove(*h, k));
            }
            let took = start.elapsed();
            for (h, k) in batch {
                d.insert(*h, k.clone(), 0);
            }
            took * (iters as u32) / batch.len().max(1) as u32
        })
    });
    group.finish();
}

fn bench_db(c: &mut Criterion) {
    let ks = Keyspace::new(16, 32);
    let keys: Vec<Vec<u8>> = (0..N).map(key).collect();
    for k in &keys {
        ks.lock_keys([k]).db(0, 0).set(k, Value::str(b"value"));
    }
    let mut group = c.benchmark_group("db_1M");
    let mut i = 0;
    group.bench_function("get", |b| {
        b.iter(|| {
            i = (i + 7919) % N;
            let k = &keys[i];
            let mut locked = ks.lock_keys([k]);
            black_box(locked.db(0, 0).read(k).is_some());
        })
    });
    group.bench_function("set", |b| {
        b.iter(|| {
            i = (i + 7919) % N;
            let k = &keys[i];
            let mut locked = ks.lock_keys([k]);
            locked.db(0, 0).set(k, Value::str(b"other"));
        })
    });
    group.finish();
}

fn main() {
    report_memory();
    report_resize_stalls();
    let mut c = Criterion::default().configure_from_args();
    bench_dict(&mut c);
    bench_db(&mut c);
    c.final_summary();
}
