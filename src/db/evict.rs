//! Eviction: keeping the dataset under `maxmemory`, as Redis's evict.c does.
//!
//! The gate calls [`perform_evictions`] before a command takes its shard locks
//! (Redis's processCommand order). While the counting allocator
//! ([`crate::alloc`]) reports more than `maxmemory`, it deletes the key the
//! policy ranks worst, through [`super::Db::remove_in`] so WATCH and blocked
//! clients see it:
//!
//! - LRU, LFU and TTL policies sample `maxmemory-samples` keys of one shard at
//!   a time (every database in it) into a shared pool of the 16 worst keys
//!   seen, and evict the worst of the pool, checking first that it was not
//!   touched since it was sampled (Redis's approximated LRU, with the pool
//!   kept across calls so the choice improves with every pass);
//! - random policies delete a random key of the next shard.
//!
//! One call does at most `maxmemory-eviction-tenacity`'s time worth of work
//! (500 µs at the default 10), so no client waits long behind an eviction;
//! if memory is still over by then, the background task ([`run_background`])
//! carries on in slices. [`Outcome::Failed`] means nothing is left to evict:
//! the gate then refuses commands that may grow memory with [`OOM_ERROR`].
//!
//! Scripts (which hold every shard) use [`over_maxmemory`] and
//! [`perform_evictions`] with their held locks.

use std::sync::Arc;
use std::sync::atomic::{
    AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed,
};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rand::RngExt;
use tokio::sync::Notify;

use super::bytes::Bytes24;
use super::dict::hash_key;
use super::keyspace::{Locked, Shard};
use super::value::{Entry, access};
use crate::config::Config;
use crate::server::Server;

/// The refusal for commands that may grow memory when nothing can be evicted.
pub const OOM_ERROR: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// Redis's eviction pool size.
const POOL_SIZE: usize = 16;
/// Keys evicted between two looks at the clock, as Redis does.
const KEYS_PER_CLOCK_CHECK: u64 = 16;

/// `maxmemory-policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Policy {
    NoEviction,
    AllkeysLru,
    AllkeysLfu,
    AllkeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

/// How a ranked policy orders keys; a higher score is evicted first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ranking {
    /// Idle time.
    Lru,
    /// Fewest accesses (255 minus the decayed LFU counter).
    Lfu,
    /// Soonest expiry.
    Ttl,
}

impl Policy {
    const ALL: [Policy; 8] = [
        Policy::NoEviction,
        Policy::AllkeysLru,
        Policy::AllkeysLfu,
        Policy::AllkeysRandom,
        Policy::VolatileLru,
        Policy::VolatileLfu,
        Policy::VolatileRandom,
        Policy::VolatileTtl,
    ];

    /// The policy of a validated `maxmemory-policy` value.
    pub fn from_name(name: &str) -> Policy {
        match name {
            "allkeys-lru" => Policy::AllkeysLru,
            "allkeys-lfu" => Policy::AllkeysLfu,
            "allkeys-random" => Policy::AllkeysRandom,
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => Policy::NoEviction,
        }
    }

    /// Only keys with a TTL may be evicted.
    fn volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    /// None for the random policies (and noeviction).
    fn ranking(self) -> Option<Ranking> {
        match self {
            Policy::AllkeysLru | Policy::VolatileLru => Some(Ranking::Lru),
            Policy::AllkeysLfu | Policy::VolatileLfu => Some(Ranking::Lfu),
            Policy::VolatileTtl => Some(Ranking::Ttl),
            _ => None,
        }
    }
}

/// What one eviction pass achieved (Redis's EVICT_OK/RUNNING/FAIL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Memory is within the limit (or there is no limit).
    Ok,
    /// The pass ran out of time; the background task carries on.
    Running,
    /// Over the limit and nothing (more) can be evicted.
    Failed,
}

/// The eviction settings hot paths read without the config lock, the
/// candidate pool, and the background pass's wake-up.
pub struct Eviction {
    maxmemory: AtomicU64,
    policy: AtomicU8,
    samples: AtomicUsize,
    tenacity: AtomicU32,
    /// `used_memory` once the server was built (INFO `used_memory_startup`).
    pub startup: AtomicU64,
    /// Shards are sampled in turn, shared by every thread so concurrent
    /// passes spread over different shards.
    next_shard: AtomicUsize,
    pool: Mutex<Pool>,
    background_pending: AtomicBool,
    wake: Notify,
}

impl Default for Eviction {
    fn default() -> Self {
        Eviction {
            maxmemory: AtomicU64::new(0),
            policy: AtomicU8::new(Policy::NoEviction as u8),
            samples: AtomicUsize::new(5),
            tenacity: AtomicU32::new(10),
            startup: AtomicU64::new(0),
            next_shard: AtomicUsize::new(0),
            pool: Mutex::new(Pool::default()),
            background_pending: AtomicBool::new(false),
            wake: Notify::new(),
        }
    }
}

impl Eviction {
    /// Follows `maxmemory`, `maxmemory-policy`, `maxmemory-samples` and
    /// `maxmemory-eviction-tenacity` (start-up and every CONFIG SET).
    pub fn apply(&self, config: &Config) {
        let number = |name: &str, default: u64| {
            config
                .value(name)
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        self.maxmemory.store(config.maxmemory, Relaxed);
        self.policy
            .store(Policy::from_name(&config.maxmemory_policy) as u8, Relaxed);
        self.samples
            .store(number("maxmemory-samples", 5).max(1) as usize, Relaxed);
        self.tenacity
            .store(number("maxmemory-eviction-tenacity", 10) as u32, Relaxed);
    }

    pub fn maxmemory(&self) -> u64 {
        self.maxmemory.load(Relaxed)
    }

    pub fn policy(&self) -> Policy {
        Policy::ALL[self.policy.load(Relaxed) as usize]
    }

    /// How long one pass may evict, from `maxmemory-eviction-tenacity`:
    /// 50 µs per step up to 10, then 15% more per step, unlimited at 100.
    fn time_limit(&self) -> Option<Duration> {
        match self.tenacity.load(Relaxed) {
            t @ 0..=10 => Some(Duration::from_micros(50 * t as u64)),
            t @ 11..=99 => Some(Duration::from_micros(
                (500.0 * 1.15f64.powi(t as i32 - 10)) as u64,
            )),
            _ => None,
        }
    }
}

/// True when a memory limit is set and the process uses more than it.
pub fn over_maxmemory(server: &Server) -> bool {
    let limit = server.eviction.maxmemory();
    limit != 0 && crate::alloc::used_memory() > limit
}

/// Evicts keys until memory is within `maxmemory`, for at most one time
/// slice. `held` is what the caller already locked: every shard (a script, a
/// command run by EXEC) or nothing (the gate); with `None` or nothing held,
/// shards are locked one at a time here. Callers holding only some shards
/// must not evict (waiting for another shard could deadlock): they get the
/// outcome without eviction.
pub fn perform_evictions<'s>(server: &'s Server, held: Option<&mut Locked<'s>>) -> Outcome {
    let eviction = &server.eviction;
    let limit = eviction.maxmemory();
    if limit == 0 || crate::alloc::used_memory() <= limit {
        return Outcome::Ok;
    }
    let policy = eviction.policy();
    let held = held.filter(|l| !l.holds_nothing());
    if policy == Policy::NoEviction || held.as_ref().is_some_and(|l| !l.holds_all()) {
        return Outcome::Failed;
    }
    let mut evictor = Evictor {
        server,
        held,
        policy,
        now_ms: crate::cmd::now_ms(),
        rng: rand::rng(),
    };
    let time_limit = eviction.time_limit();
    let started = Instant::now();
    let mut evicted = 0u64;
    while crate::alloc::used_memory() > limit {
        if !evictor.evict_one() {
            return Outcome::Failed;
        }
        evicted += 1;
        if evicted % KEYS_PER_CLOCK_CHECK == 0
            && time_limit.is_some_and(|limit| started.elapsed() > limit)
        {
            if !eviction.background_pending.swap(true, Relaxed) {
                eviction.wake.notify_one();
            }
            return Outcome::Running;
        }
    }
    Outcome::Ok
}

/// Carries on evicting after a pass ran out of time (Redis's eviction time
/// proc), one time slice at a time so other tasks on this thread get turns.
pub async fn run_background(server: Arc<Server>) {
    loop {
        server.eviction.wake.notified().await;
        if server.is_shutting_down() {
            return;
        }
        while perform_evictions(&server, None) == Outcome::Running {
            tokio::task::yield_now().await;
        }
        server.eviction.background_pending.store(false, Relaxed);
    }
}

/// A key the pool may evict, with the score it had when sampled.
#[derive(Clone, Debug)]
struct Candidate {
    score: u64,
    shard: usize,
    db: usize,
    key: Bytes24,
}

/// The worst keys sampled so far, lowest score first.
#[derive(Default)]
struct Pool {
    ranking: Option<Ranking>,
    candidates: Vec<Candidate>,
}

impl Pool {
    /// Keeps `candidate` if it ranks among the worst [`POOL_SIZE`].
    fn offer(&mut self, candidate: Candidate) {
        let list = &mut self.candidates;
        if list.len() == POOL_SIZE && candidate.score <= list[0].score {
            return;
        }
        if list
            .iter()
            .any(|c| c.db == candidate.db && c.key == candidate.key)
        {
            return;
        }
        let at = list.partition_point(|c| c.score <= candidate.score);
        list.insert(at, candidate);
        if list.len() > POOL_SIZE {
            list.remove(0);
        }
    }

    fn pop_worst(&mut self) -> Option<Candidate> {
        self.candidates.pop()
    }
}

/// One eviction pass's state.
struct Evictor<'h, 's> {
    server: &'s Server,
    held: Option<&'h mut Locked<'s>>,
    policy: Policy,
    now_ms: u64,
    rng: rand::rngs::ThreadRng,
}

impl<'s> Evictor<'_, 's> {
    /// Runs `f` on shard `id`: through the held locks, or locking it alone.
    fn with_shard<R>(&mut self, id: usize, f: impl FnOnce(&mut Locked<'s>, &mut Self) -> R) -> R {
        match self.held.take() {
            Some(locked) => {
                let result = f(locked, self);
                self.held = Some(locked);
                result
            }
            None => {
                let mut own = self.server.keyspace.lock_shard(id);
                f(&mut own, self)
            }
        }
    }

    fn next_shard(&self) -> usize {
        let eviction = &self.server.eviction;
        eviction.next_shard.fetch_add(1, Relaxed) % self.server.keyspace.shard_count()
    }

    /// Deletes one key chosen by the policy; false when none is left.
    fn evict_one(&mut self) -> bool {
        match self.policy.ranking() {
            Some(ranking) => self.evict_ranked(ranking),
            None => self.evict_random(),
        }
    }

    fn evict_random(&mut self) -> bool {
        let volatile = self.policy.volatile();
        let databases = self.server.keyspace.databases();
        for _ in 0..self.server.keyspace.shard_count() {
            let shard = self.next_shard();
            let evicted = self.with_shard(shard, |locked, me| {
                let first_db = me.rng.random_range(0..databases);
                let pick = (0..databases).find_map(|i| {
                    let db = (first_db + i) % databases;
                    let part = &locked.shard_at(shard).dbs[db];
                    let key = if volatile {
                        part.expires
                            .random(&mut me.rng)
                            .map(|(_, pos)| part.entry_at(pos).0)
                    } else {
                        part.keys.random(&mut me.rng).map(|(k, _)| k)
                    };
                    key.map(|k| (db, k.clone()))
                });
                pick.is_some_and(|(db, key)| me.delete(locked, db, &key))
            });
            if evicted {
                return true;
            }
        }
        false
    }

    fn evict_ranked(&mut self, ranking: Ranking) -> bool {
        let samples = self.server.eviction.samples.load(Relaxed);
        let shards = self.server.keyspace.shard_count();
        // Every shard may be sampled once before giving up.
        let mut tried = 0;
        while tried < shards {
            // Like Redis, each step adds at least `samples` keys to the pool,
            // however thinly the keys spread over the shards.
            let mut sampled = Vec::with_capacity(samples);
            while sampled.len() < samples && tried < shards {
                let shard = self.next_shard();
                tried += 1;
                self.with_shard(shard, |locked, me| {
                    me.sample(
                        locked.shard_at(shard),
                        shard,
                        ranking,
                        samples,
                        &mut sampled,
                    )
                });
            }
            if self.evict_from_pool(ranking, sampled) {
                return true;
            }
        }
        false
    }

    /// Adds `sampled` to the shared pool, then evicts its worst live key.
    fn evict_from_pool(&mut self, ranking: Ranking, sampled: Vec<Candidate>) -> bool {
        let mut pool = self.server.eviction.pool.lock();
        if pool.ranking != Some(ranking) {
            *pool = Pool {
                ranking: Some(ranking),
                candidates: Vec::new(),
            };
        }
        for candidate in sampled {
            pool.offer(candidate);
        }
        while let Some(candidate) = pool.pop_worst() {
            drop(pool);
            if self.evict_candidate(ranking, &candidate) {
                return true;
            }
            pool = self.server.eviction.pool.lock();
        }
        false
    }

    /// Scores up to `samples` keys of every database in one shard into `out`:
    /// all of them when there are no more than that, else random picks.
    fn sample(
        &mut self,
        shard: &Shard,
        id: usize,
        ranking: Ranking,
        samples: usize,
        out: &mut Vec<Candidate>,
    ) {
        let volatile = self.policy.volatile();
        let (now, decay) = (self.now_ms, self.lfu_decay());
        for (db, part) in shard.dbs.iter().enumerate() {
            // Every pick comes with its entry: no second lookup by key.
            let mut offer = |(key, entry): (&Bytes24, &Entry)| {
                let when = match ranking {
                    Ranking::Ttl => part.expires.of(entry),
                    _ => None,
                };
                out.push(Candidate {
                    score: score(ranking, entry.access, when, now, decay),
                    shard: id,
                    db,
                    key: key.clone(),
                });
            };
            // Volatile policies pick among keys with a TTL only.
            match (volatile, part.keys.len(), part.expires.len()) {
                (true, _, n) if n <= samples => part
                    .expires
                    .iter()
                    .for_each(|(_, pos)| offer(part.entry_at(pos))),
                (true, _, _) => (0..samples)
                    .filter_map(|_| part.expires.random(&mut self.rng))
                    .for_each(|(_, pos)| offer(part.entry_at(pos))),
                (false, n, _) if n <= samples => part.keys.iter().for_each(offer),
                (false, _, _) => (0..samples)
                    .filter_map(|_| part.keys.random(&mut self.rng))
                    .for_each(offer),
            }
        }
    }

    fn lfu_decay(&self) -> u32 {
        self.server.keyspace.access.lfu_decay_time.load(Relaxed)
    }

    /// Evicts a pooled key unless it is gone, lost its TTL under a volatile
    /// policy, or was used since it was sampled.
    fn evict_candidate(&mut self, ranking: Ranking, candidate: &Candidate) -> bool {
        let volatile = self.policy.volatile();
        let decay = self.lfu_decay();
        self.with_shard(candidate.shard, |locked, me| {
            let part = &locked.shard_at(candidate.shard).dbs[candidate.db];
            let hash = hash_key(&candidate.key);
            let Some(entry) = part.keys.get(hash, &candidate.key) else {
                return false;
            };
            let when = part.expires.of(entry);
            if volatile && when.is_none() {
                return false;
            }
            if score(ranking, entry.access, when, me.now_ms, decay) < candidate.score {
                return false;
            }
            me.delete(locked, candidate.db, &candidate.key)
        })
    }

    /// Deletes an evicted key and counts it.
    fn delete(&mut self, locked: &mut Locked<'s>, db: usize, key: &[u8]) -> bool {
        // A deletion readies no blocked client (there is nothing to pop), so
        // what it marks ready needs no serving.
        if locked.db(db, self.now_ms).remove_in(db, key).is_none() {
            return false;
        }
        self.server.stats.evicted_keys.fetch_add(1, Relaxed);
        locked.prop.push(db, [&b"DEL"[..], key].into_iter());
        // Publishing never waits, so it may happen under the shard lock.
        crate::server::notify::evicted(self.server, db, key);
        true
    }
}

/// A key's eviction score under `ranking`; higher goes first.
fn score(ranking: Ranking, stamp: u32, expire_at: Option<u64>, now_ms: u64, decay: u32) -> u64 {
    match ranking {
        Ranking::Lru => access::idle_seconds(now_ms, stamp) * 1000,
        Ranking::Lfu => 255 - access::lfu_decayed(stamp, now_ms, decay) as u64,
        Ranking::Ttl => u64::MAX - expire_at.unwrap_or(u64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::TestClient;

    /// A server under `policy` that samples every key at each step, so the
    /// choice is exact and the tests deterministic.
    fn client(policy: &str) -> TestClient {
        let mut config = Config::default();
        config
            .load_text(&format!(
                "maxmemory-policy {policy}\nmaxmemory-samples 1000\n"
            ))
            .unwrap();
        TestClient::with_config(config)
    }

    /// Evicts up to `n` keys by the policy, whatever the memory figures say.
    fn evict(t: &TestClient, n: usize) -> usize {
        let server = &*t.server;
        let mut evictor = Evictor {
            server,
            held: None,
            policy: server.eviction.policy(),
            now_ms: crate::cmd::now_ms(),
            rng: rand::rng(),
        };
        (0..n).take_while(|_| evictor.evict_one()).count()
    }

    fn set_stamp(t: &TestClient, key: &str, stamp: u32) {
        let mut locked = t.server.keyspace.lock_keys([key]);
        let mut db = locked.db(0, crate::cmd::now_ms());
        db.peek_in(0, key.as_bytes()).unwrap().access = stamp;
    }

    fn exists(t: &mut TestClient, key: &str) -> bool {
        t.run(&["EXISTS", key]) == ":1\r\n"
    }

    #[test]
    fn allkeys_lru_evicts_the_idlest_keys() {
        let mut t = client("allkeys-lru");
        let now = crate::cmd::now_ms();
        for i in 0..60 {
            t.run(&["SET", &format!("k{i}"), "v"]);
        }
        for i in 0..10 {
            let stamp = access::lru_clock(now - (100 + i as u64) * 1000);
            set_stamp(&t, &format!("k{i}"), stamp);
        }
        assert_eq!(evict(&t, 10), 10);
        assert!((0..10).all(|i| !exists(&mut t, &format!("k{i}"))));
        assert!((10..60).all(|i| exists(&mut t, &format!("k{i}"))));
        assert_eq!(t.server.stats.evicted_keys.load(Relaxed), 10);
    }

    #[test]
    fn allkeys_lfu_keeps_hot_keys() {
        let mut t = client("allkeys-lfu");
        for i in 0..40 {
            t.run(&["SET", &format!("k{i}"), "v"]);
        }
        let hot = access::lfu_new(crate::cmd::now_ms()) | 200;
        for i in 0..10 {
            set_stamp(&t, &format!("k{i}"), hot);
        }
        assert_eq!(evict(&t, 30), 30);
        assert!((0..10).all(|i| exists(&mut t, &format!("k{i}"))));
        assert_eq!(t.run(&["DBSIZE"]), ":10\r\n");
    }

    #[test]
    fn volatile_ttl_evicts_the_soonest_expiring_first() {
        let mut t = client("volatile-ttl");
        for i in 0..20 {
            t.run(&["SET", &format!("k{i}"), "v", "EX", &(1000 + i).to_string()]);
        }
        assert_eq!(evict(&t, 5), 5);
        assert!((0..5).all(|i| !exists(&mut t, &format!("k{i}"))));
        assert!((5..20).all(|i| exists(&mut t, &format!("k{i}"))));
    }

    #[test]
    fn volatile_policies_never_evict_keys_without_ttl() {
        for policy in [
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
        ] {
            let mut t = client(policy);
            for i in 0..30 {
                t.run(&["SET", &format!("plain{i}"), "v"]);
            }
            for i in 0..5 {
                t.run(&["SET", &format!("ttl{i}"), "v", "EX", "100"]);
            }
            assert_eq!(evict(&t, 100), 5, "{policy}");
            assert_eq!(t.run(&["DBSIZE"]), ":30\r\n", "{policy}");
        }
    }

    #[test]
    fn allkeys_random_empties_every_database() {
        let mut t = client("allkeys-random");
        for db in ["0", "3"] {
            t.run(&["SELECT", db]);
            for i in 0..20 {
                t.run(&["SET", &format!("k{i}"), "v"]);
            }
        }
        assert_eq!(evict(&t, 100), 40);
        assert_eq!(t.run(&["DBSIZE"]), ":0\r\n");
    }

    #[test]
    fn a_key_used_after_sampling_is_spared() {
        let mut t = client("allkeys-lru");
        let server = t.server.clone();
        let pool_entry = |key: &str| Candidate {
            score: 500_000,
            shard: server.keyspace.shard_of(hash_key(key.as_bytes())),
            db: 0,
            key: Bytes24::new(key.as_bytes()),
        };
        t.run(&["SET", "fresh", "v"]);
        let mut evictor = Evictor {
            server: &t.server,
            held: None,
            policy: Policy::AllkeysLru,
            now_ms: crate::cmd::now_ms(),
            rng: rand::rng(),
        };
        assert!(!evictor.evict_candidate(Ranking::Lru, &pool_entry("fresh")));
        assert!(!evictor.evict_candidate(Ranking::Lru, &pool_entry("missing")));
        drop(evictor);
        assert!(exists(&mut t, "fresh"));
    }

    #[test]
    fn over_the_limit_noeviction_fails_and_other_policies_evict_all_they_can() {
        let mut t = client("noeviction");
        t.run(&["SET", "k", "v"]);
        // One byte: always over the limit.
        t.run(&["CONFIG", "SET", "maxmemory", "1"]);
        assert!(over_maxmemory(&t.server));
        assert_eq!(perform_evictions(&t.server, None), Outcome::Failed);
        assert_eq!(t.run(&["DBSIZE"]), ":1\r\n");
        t.run(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
        assert_eq!(perform_evictions(&t.server, None), Outcome::Failed);
        assert_eq!(t.run(&["DBSIZE"]), ":0\r\n");
        t.run(&["CONFIG", "SET", "maxmemory", "0"]);
        assert_eq!(perform_evictions(&t.server, None), Outcome::Ok);
    }

    #[test]
    fn tenacity_bounds_one_pass() {
        let eviction = Eviction::default();
        let limit_at = |tenacity: &str| {
            let mut config = Config::default();
            config
                .load_text(&format!("maxmemory-eviction-tenacity {tenacity}"))
                .unwrap();
            eviction.apply(&config);
            eviction.time_limit()
        };
        assert_eq!(limit_at("0"), Some(Duration::ZERO));
        assert_eq!(limit_at("10"), Some(Duration::from_micros(500)));
        assert_eq!(limit_at("11"), Some(Duration::from_micros(575)));
        assert_eq!(limit_at("100"), None);
    }

    #[test]
    fn pool_keeps_the_worst_sixteen_without_duplicates() {
        let mut pool = Pool::default();
        for score in (0..40).rev() {
            let key = Bytes24::new(format!("k{score}").as_bytes());
            let candidate = Candidate {
                score,
                shard: 0,
                db: 0,
                key,
            };
            pool.offer(candidate.clone());
            pool.offer(candidate);
        }
        assert_eq!(pool.candidates.len(), POOL_SIZE);
        assert_eq!(pool.pop_worst().map(|c| c.score), Some(39));
        assert_eq!(pool.candidates[0].score, 24);
    }
}

/// The gate's memory rule (`cmd::execute`), through whole commands.
#[cfg(test)]
mod gate_tests {
    use crate::testkit::TestClient;

    const OOM: &str = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";

    #[test]
    fn when_nothing_can_be_evicted_only_growing_commands_are_refused() {
        let mut t = TestClient::new();
        t.run(&["SET", "k", "v"]);
        t.run(&["CONFIG", "SET", "maxmemory", "1"]);
        assert_eq!(t.run(&["SET", "y", "1"]), OOM);
        assert_eq!(t.run(&["INCR", "n"]), OOM);
        assert_eq!(t.run(&["GET", "k"]), "$1\r\nv\r\n");
        assert_eq!(t.run(&["PING"]), "+PONG\r\n");
        assert_eq!(t.run(&["DEL", "k"]), ":1\r\n");
        assert_eq!(t.run(&["CONFIG", "SET", "maxmemory", "0"]), "+OK\r\n");
        assert_eq!(t.run(&["SET", "y", "1"]), "+OK\r\n");
    }

    #[test]
    fn inside_multi_every_queued_command_is_refused_and_dooms_exec() {
        let mut t = TestClient::new();
        t.run(&["CONFIG", "SET", "maxmemory", "1"]);
        assert_eq!(t.run(&["MULTI"]), "+OK\r\n");
        assert_eq!(t.run(&["GET", "k"]), OOM);
        assert_eq!(
            t.run(&["EXEC"]),
            "-EXECABORT Transaction discarded because of previous errors.\r\n"
        );
        t.run(&["MULTI"]);
        assert_eq!(t.run(&["EXEC"]), "*0\r\n", "an empty EXEC still runs");
    }

    #[test]
    fn exec_of_a_growing_transaction_is_refused_once_memory_is_over() {
        let mut t = TestClient::new();
        let mut admin = TestClient::on(t.server.clone());
        t.run(&["MULTI"]);
        assert_eq!(t.run(&["SET", "x", "1"]), "+QUEUED\r\n");
        admin.run(&["CONFIG", "SET", "maxmemory", "1"]);
        assert_eq!(
            t.run(&["EXEC"]),
            "-EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.\r\n"
        );
        assert_eq!(t.run(&["EXEC"]), "-ERR EXEC without MULTI\r\n");
        // A transaction of reads still runs.
        admin.run(&["CONFIG", "SET", "maxmemory", "0"]);
        t.run(&["MULTI"]);
        t.run(&["GET", "x"]);
        admin.run(&["CONFIG", "SET", "maxmemory", "1"]);
        assert_eq!(t.run(&["EXEC"]), "*1\r\n$-1\r\n");
    }

    #[test]
    fn config_set_maxmemory_evicts_before_replying() {
        let mut t = TestClient::new();
        t.run(&["CONFIG", "SET", "maxmemory-policy", "allkeys-random"]);
        for i in 0..100 {
            t.run(&["SET", &format!("k{i}"), "v"]);
        }
        assert_eq!(t.run(&["CONFIG", "SET", "maxmemory", "1"]), "+OK\r\n");
        assert_eq!(t.run(&["DBSIZE"]), ":0\r\n");
        assert!(t.run(&["INFO", "stats"]).contains("evicted_keys:100\r\n"));
    }

    #[test]
    fn commands_run_by_exec_may_evict_under_its_locks() {
        let mut t = TestClient::new();
        t.run(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
        t.run(&["SET", "k", "v"]);
        t.run(&["MULTI"]);
        t.run(&["CONFIG", "SET", "maxmemory", "1"]);
        t.run(&["DBSIZE"]);
        assert_eq!(t.run(&["EXEC"]), "*2\r\n+OK\r\n:0\r\n");
    }
}
