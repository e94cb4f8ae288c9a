//! Client state. [`Client`] is owned by the connection task and passed to every
//! handler; [`ClientHandle`] is the part other clients may read or act on
//! (CLIENT LIST, CLIENT KILL), shared through the [`ClientRegistry`], which
//! also holds the server-wide client features: MONITOR feeds and CLIENT PAUSE.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed,
};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dashmap::DashMap;
use parking_lot::Mutex;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::sync::{Notify, mpsc};

use crate::cmd::{Args, flag};

/// What CLIENT REPLY chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Suppress only the next command's reply.
    SkipNext,
    /// Suppressing the reply of the command now running (set from SkipNext).
    Skip,
}

/// Client flags shown by CLIENT LIST (`flags=`), as bits of [`ClientHandle::flags`].
pub mod cflag {
    pub const MONITOR: u32 = 1 << 0;
    pub const PUBSUB: u32 = 1 << 1;
    pub const MULTI: u32 = 1 << 2;
    pub const BLOCKED: u32 = 1 << 3;
    pub const DIRTY_CAS: u32 = 1 << 4;
    pub const CLOSE_AFTER_REPLY: u32 = 1 << 5;
    pub const NO_EVICT: u32 = 1 << 6;
    pub const NO_TOUCH: u32 = 1 << 7;

    /// Letters in the order Redis prints them.
    pub const LETTERS: &[(u32, char)] = &[
        (MONITOR, 'O'),
        (PUBSUB, 'P'),
        (MULTI, 'x'),
        (BLOCKED, 'b'),
        (DIRTY_CAS, 'd'),
        (CLOSE_AFTER_REPLY, 'c'),
        (NO_EVICT, 'e'),
        (NO_TOUCH, 'T'),
    ];
}

/// Per-connection state owned by the connection task.
pub struct Client {
    pub id: u64,
    /// Selected database.
    pub db: usize,
    pub authenticated: bool,
    pub user: String,
    /// The ACL user behind `user`, with the registry generation it was read at.
    pub acl_user: Option<(u64, Arc<crate::acl::User>)>,
    pub handle: Arc<ClientHandle>,
    /// Set by QUIT, or after a protocol error: close once replies are written.
    pub close_after_reply: bool,
    pub reply_mode: ReplyMode,
    /// Lines of the MONITOR feed, once this client sent MONITOR.
    pub monitor: Option<mpsc::Receiver<Bytes>>,
    /// Reused buffer for key positions, so locking allocates nothing.
    pub scratch_keys: Vec<usize>,
    pub rng: SmallRng,
    /// Set while a blocking command (BLPOP...) waits; see `server::blocking`.
    pub block: super::blocking::BlockState,
    /// Commands queued since MULTI; see [`crate::cmd::multi`].
    pub multi: Option<crate::cmd::multi::Transaction>,
    /// Keys this client WATCHes, as `(db, key)`.
    pub watched: Vec<(usize, Vec<u8>)>,
    /// Who runs the current command: the client itself, its EXEC or a script.
    pub running: Running,
    /// Channels, patterns and shard channels; see [`super::pubsub`].
    pub pubsub: super::pubsub::Subscriptions,
}

/// Where the running command came from. Commands run by EXEC or by a script
/// may not block (they act as their non-blocking form, as in Redis).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Running {
    #[default]
    Direct,
    Exec,
    Script,
}

impl Client {
    pub fn new(handle: Arc<ClientHandle>, authenticated: bool) -> Self {
        Client {
            id: handle.id,
            db: 0,
            authenticated,
            user: "default".into(),
            acl_user: None,
            handle,
            close_after_reply: false,
            reply_mode: ReplyMode::On,
            monitor: None,
            scratch_keys: Vec::with_capacity(8),
            rng: SmallRng::from_rng(&mut rand::rng()),
            block: Default::default(),
            multi: None,
            watched: Vec::new(),
            running: Running::Direct,
            pubsub: Default::default(),
        }
    }

    /// Selects a database and publishes it for CLIENT LIST.
    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.handle.db.store(db, Relaxed);
    }

    /// RESP2 clients with subscriptions may only run the pub/sub subset, and
    /// PING answers them as a push-style array.
    pub fn in_resp2_pubsub(&self) -> bool {
        self.handle.resp.load(Relaxed) == 2 && self.handle.subscriptions() > 0
    }
}

/// The shared, read-mostly view of a client.
pub struct ClientHandle {
    pub id: u64,
    pub addr: SocketAddr,
    pub local_addr: SocketAddr,
    pub created: Instant,
    /// The socket's descriptor (-1 for in-process clients).
    pub fd: AtomicI64,
    pub db: AtomicUsize,
    pub name: Mutex<Option<Vec<u8>>>,
    pub lib_name: Mutex<Option<Vec<u8>>>,
    pub lib_ver: Mutex<Option<Vec<u8>>>,
    pub user: Mutex<String>,
    /// [`cflag`] bits.
    pub flags: AtomicU32,
    /// Channel, pattern and shard-channel subscription counts.
    pub sub: AtomicUsize,
    pub psub: AtomicUsize,
    pub ssub: AtomicUsize,
    /// Commands queued in MULTI, -1 outside a transaction.
    pub multi: AtomicI64,
    /// Command-table id of the last command run, for CLIENT LIST `cmd=`.
    pub last_command: AtomicUsize,
    /// Milliseconds since `created` of the last command, for `idle=`.
    pub last_interaction_ms: AtomicU64,
    pub resp: AtomicUsize,
    /// Query buffer bytes pending and free, read buffer capacity and peak.
    pub query_buffer: AtomicUsize,
    pub query_buffer_free: AtomicUsize,
    pub read_buffer_peak: AtomicUsize,
    pub output_buffer: AtomicUsize,
    killed: AtomicBool,
    /// Wakes the connection task on kill. One registered waker and no lock,
    /// so the connection can poll it on every read at the cost of one atomic.
    kill_waker: atomic_waker::AtomicWaker,
}

impl ClientHandle {
    fn new(id: u64, addr: SocketAddr, local_addr: SocketAddr) -> Self {
        ClientHandle {
            id,
            addr,
            local_addr,
            created: Instant::now(),
            fd: AtomicI64::new(-1),
            db: AtomicUsize::new(0),
            name: Mutex::new(None),
            lib_name: Mutex::new(None),
            lib_ver: Mutex::new(None),
            user: Mutex::new("default".into()),
            flags: AtomicU32::new(0),
            sub: AtomicUsize::new(0),
            psub: AtomicUsize::new(0),
            ssub: AtomicUsize::new(0),
            multi: AtomicI64::new(-1),
            last_command: AtomicUsize::new(usize::MAX),
            last_interaction_ms: AtomicU64::new(0),
            resp: AtomicUsize::new(2),
            query_buffer: AtomicUsize::new(0),
            query_buffer_free: AtomicUsize::new(0),
            read_buffer_peak: AtomicUsize::new(0),
            output_buffer: AtomicUsize::new(0),
            killed: AtomicBool::new(false),
            kill_waker: atomic_waker::AtomicWaker::new(),
        }
    }

    /// Asks the connection to close (CLIENT KILL, SHUTDOWN).
    pub fn kill(&self) {
        self.killed
            .store(true, std::sync::atomic::Ordering::Release);
        self.kill_waker.wake();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Relaxed)
    }

    /// Resolves once `kill` was called. Only the connection task awaits it
    /// (a second waiter would replace the first one's waker).
    pub fn killed(&self) -> impl std::future::Future<Output = ()> + '_ {
        std::future::poll_fn(|cx| {
            // Register before checking, so a kill between the two still wakes us.
            self.kill_waker.register(cx.waker());
            if self.killed.load(std::sync::atomic::Ordering::Acquire) {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
    }

    /// Records the command about to run (CLIENT LIST `cmd=`).
    pub fn touch(&self, command_id: usize) {
        self.last_command.store(command_id, Relaxed);
    }

    /// Records that a request arrived (CLIENT LIST `idle=`).
    pub fn interacted(&self) {
        self.last_interaction_ms
            .store(self.created.elapsed().as_millis() as u64, Relaxed);
    }

    pub fn idle_secs(&self) -> u64 {
        (self.created.elapsed().as_millis() as u64)
            .saturating_sub(self.last_interaction_ms.load(Relaxed))
            / 1000
    }

    pub fn has_flag(&self, f: u32) -> bool {
        self.flags.load(Relaxed) & f != 0
    }

    pub fn set_flag(&self, f: u32, on: bool) {
        if on {
            self.flags.fetch_or(f, Relaxed);
        } else {
            self.flags.fetch_and(!f, Relaxed);
        }
    }

    pub fn subscriptions(&self) -> usize {
        self.sub.load(Relaxed) + self.psub.load(Relaxed) + self.ssub.load(Relaxed)
    }

    /// CLIENT LIST / KILL `TYPE`: normal, pubsub, or replica (monitors count as
    /// replicas, as in Redis); we never have a master link.
    pub fn kind(&self) -> ClientKind {
        if self.has_flag(cflag::MONITOR) {
            ClientKind::Replica
        } else if self.has_flag(cflag::PUBSUB) || self.subscriptions() > 0 {
            ClientKind::Pubsub
        } else {
            ClientKind::Normal
        }
    }

    /// The `flags=` field.
    pub fn flag_letters(&self) -> String {
        let bits = self.flags.load(Relaxed);
        let letters: String = cflag::LETTERS
            .iter()
            .filter(|(b, _)| bits & b != 0)
            .map(|&(_, c)| c)
            .collect();
        if letters.is_empty() {
            "N".into()
        } else {
            letters
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    Normal,
    Master,
    Replica,
    Pubsub,
}

impl ClientKind {
    /// The names CLIENT LIST/KILL TYPE accept.
    pub fn parse(name: &[u8]) -> Option<ClientKind> {
        Some(match name.to_ascii_lowercase().as_slice() {
            b"normal" => ClientKind::Normal,
            b"master" => ClientKind::Master,
            b"replica" | b"slave" => ClientKind::Replica,
            b"pubsub" => ClientKind::Pubsub,
            _ => return None,
        })
    }
}

/// Lines a monitor may have queued before it counts as too slow and is dropped.
const MONITOR_QUEUE_LINES: usize = 16 * 1024;
/// Bytes a monitor may have queued before it is dropped.
const MONITOR_QUEUE_BYTES: usize = 64 * 1024 * 1024;

struct Monitor {
    handle: Arc<ClientHandle>,
    lines: mpsc::Sender<Bytes>,
    queued_bytes: Arc<AtomicUsize>,
}

/// The CLIENT PAUSE state.
#[derive(Default)]
struct Pause {
    /// Unix milliseconds when the pause ends; 0 = not paused.
    until_ms: AtomicU64,
    /// ALL rather than WRITE.
    all: AtomicBool,
    ended: Notify,
}

/// Every connected client, by id.
#[derive(Default)]
pub struct ClientRegistry {
    clients: DashMap<u64, Arc<ClientHandle>>,
    next_id: AtomicU64,
    /// Connected clients, counted apart from the map so `maxclients` is exact
    /// under concurrent accepts.
    connected: AtomicUsize,
    monitors: Mutex<Vec<Monitor>>,
    /// `monitors.len()`, read by the gate on every command without locking.
    monitor_count: AtomicUsize,
    pause: Pause,
}

impl ClientRegistry {
    pub fn register(&self, addr: SocketAddr, local_addr: SocketAddr) -> Arc<ClientHandle> {
        self.connected.fetch_add(1, Relaxed);
        self.insert(addr, local_addr)
    }

    /// Registers a client unless `max` are already connected.
    pub fn try_register(
        &self,
        addr: SocketAddr,
        local_addr: SocketAddr,
        max: usize,
    ) -> Option<Arc<ClientHandle>> {
        if self.connected.fetch_add(1, Relaxed) >= max {
            self.connected.fetch_sub(1, Relaxed);
            return None;
        }
        Some(self.insert(addr, local_addr))
    }

    fn insert(&self, addr: SocketAddr, local_addr: SocketAddr) -> Arc<ClientHandle> {
        let id = self.next_id.fetch_add(1, Relaxed) + 1;
        let handle = Arc::new(ClientHandle::new(id, addr, local_addr));
        self.clients.insert(id, handle.clone());
        handle
    }

    pub fn unregister(&self, id: u64) {
        if self.clients.remove(&id).is_some() {
            self.connected.fetch_sub(1, Relaxed);
        }
        self.remove_monitor(id);
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.clients.get(&id).map(|c| c.clone())
    }

    pub fn len(&self) -> usize {
        self.clients.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// A snapshot of every client, ordered by id.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        let mut all: Vec<_> = self.clients.iter().map(|c| c.clone()).collect();
        all.sort_by_key(|c| c.id);
        all
    }

    /// Makes `handle` a monitor; the connection writes what the receiver yields.
    pub fn add_monitor(&self, handle: Arc<ClientHandle>) -> mpsc::Receiver<Bytes> {
        let (lines, receiver) = mpsc::channel(MONITOR_QUEUE_LINES);
        handle.set_flag(cflag::MONITOR, true);
        let mut monitors = self.monitors.lock();
        monitors.push(Monitor {
            handle,
            lines,
            queued_bytes: Arc::new(AtomicUsize::new(0)),
        });
        self.monitor_count.store(monitors.len(), Relaxed);
        receiver
    }

    pub fn remove_monitor(&self, id: u64) {
        if self.monitor_count.load(Relaxed) == 0 {
            return;
        }
        let mut monitors = self.monitors.lock();
        monitors.retain(|m| {
            if m.handle.id == id {
                m.handle.set_flag(cflag::MONITOR, false);
            }
            m.handle.id != id
        });
        self.monitor_count.store(monitors.len(), Relaxed);
    }

    /// The gate's cheap test before formatting a MONITOR line.
    #[inline]
    pub fn has_monitors(&self) -> bool {
        self.monitor_count.load(Relaxed) > 0
    }

    /// Bytes queued for monitor `id` but not yet written (for tests and
    /// CLIENT LIST `omem=`).
    pub fn monitor_backlog(&self, id: u64) -> usize {
        self.monitors
            .lock()
            .iter()
            .find(|m| m.handle.id == id)
            .map_or(0, |m| m.queued_bytes.load(Relaxed))
    }

    /// Sends a command to every monitor. A monitor whose queue is full is
    /// disconnected rather than allowed to grow memory without bound.
    pub fn feed_monitors(&self, db: usize, addr: &SocketAddr, args: &Args<'_>) {
        let line = Bytes::from(monitor_line(crate::cmd::now_us(), db, addr, args));
        let mut monitors = self.monitors.lock();
        monitors.retain(|m| {
            let queued = m.queued_bytes.load(Relaxed);
            let sent = queued + line.len() <= MONITOR_QUEUE_BYTES
                && m.lines.try_send(line.clone()).is_ok();
            if sent {
                m.queued_bytes.fetch_add(line.len(), Relaxed);
            } else {
                m.handle.set_flag(cflag::MONITOR, false);
                m.handle.kill();
            }
            sent
        });
        self.monitor_count.store(monitors.len(), Relaxed);
    }

    /// A monitor's connection wrote `n` queued bytes.
    pub fn monitor_drained(&self, id: u64, n: usize) {
        if let Some(m) = self.monitors.lock().iter().find(|m| m.handle.id == id) {
            m.queued_bytes
                .fetch_sub(n.min(m.queued_bytes.load(Relaxed)), Relaxed);
        }
    }

    /// CLIENT PAUSE: the longer deadline wins, and ALL wins over WRITE while
    /// an earlier pause is still running.
    pub fn pause(&self, duration: Duration, all: bool) {
        let until = crate::cmd::now_ms() + duration.as_millis() as u64;
        let still_all = self.pause_remaining().is_some() && self.pause.all.load(Relaxed);
        self.pause.all.store(all || still_all, Relaxed);
        self.pause.until_ms.fetch_max(until, Relaxed);
    }

    pub fn unpause(&self) {
        self.pause.until_ms.store(0, Relaxed);
        self.pause.all.store(false, Relaxed);
        self.pause.ended.notify_waiters();
    }

    fn pause_remaining(&self) -> Option<Duration> {
        let until = self.pause.until_ms.load(Relaxed);
        if until == 0 {
            return None;
        }
        let now = crate::cmd::now_ms();
        (until > now).then(|| Duration::from_millis(until - now))
    }

    /// True while some pause may be active (one atomic load).
    #[inline]
    pub fn maybe_paused(&self) -> bool {
        self.pause.until_ms.load(Relaxed) != 0
    }

    /// How long a command with these spec flags must still wait, if at all:
    /// ALL holds every command, WRITE those that write or may replicate.
    pub fn pause_wait(&self, command_flags: u32) -> Option<Duration> {
        let remaining = self.pause_remaining()?;
        let holds = self.pause.all.load(Relaxed)
            || command_flags & (flag::WRITE | flag::MAY_REPLICATE) != 0;
        holds.then_some(remaining)
    }

    /// Resolves when the current pause ends (deadline or CLIENT UNPAUSE).
    pub async fn pause_ended(&self, remaining: Duration) {
        let ended = self.pause.ended.notified();
        tokio::select! {
            _ = ended => {}
            _ = tokio::time::sleep(remaining) => {}
        }
    }
}

/// `+<secs>.<micros> [<db> <addr>] "arg" ...` with each argument quoted and
/// escaped as Redis does (`\"`, `\\`, `\n`, `\r`, `\t`, `\a`, `\b`, `\xHH`).
pub fn monitor_line(unix_us: u64, db: usize, addr: &SocketAddr, args: &Args<'_>) -> Vec<u8> {
    let mut line = format!(
        "+{}.{:06} [{} {}]",
        unix_us / 1_000_000,
        unix_us % 1_000_000,
        db,
        addr
    )
    .into_bytes();
    let secret = secret_arguments(args);
    for (i, arg) in args.iter().enumerate() {
        line.push(b' ');
        if secret.contains(&i) {
            line.extend_from_slice(b"\"(redacted)\"");
        } else {
            quote_into(&mut line, arg);
        }
    }
    line.extend_from_slice(b"\r\n");
    line
}

/// Positions of passwords that must not reach monitors: every AUTH argument,
/// HELLO's `AUTH user pass`.
fn secret_arguments(args: &Args<'_>) -> Vec<usize> {
    if args.is(0, "auth") {
        return (1..args.len()).collect();
    }
    if args.is(0, "hello") {
        return (2..args.len())
            .find(|&i| args.is(i, "auth"))
            .map(|i| vec![i + 1, i + 2])
            .unwrap_or_default();
    }
    Vec::new()
}

/// Redis's `sdscatrepr`: a double-quoted, escaped rendering of bytes.
pub fn quote_into(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    for &b in bytes {
        match b {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', b]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::args::OwnedArgs;

    fn line(args: &[&[u8]]) -> String {
        let owned: OwnedArgs = args.iter().collect();
        let addr = "127.0.0.1:5000".parse().unwrap();
        String::from_utf8(monitor_line(1_700_000_000_000_042, 3, &addr, &owned.view())).unwrap()
    }

    #[test]
    fn monitor_line_quotes_like_redis() {
        assert_eq!(
            line(&[b"SET", b"k", b"a\"b\\c\n\x01 \xff"]),
            "+1700000000.000042 [3 127.0.0.1:5000] \"SET\" \"k\" \"a\\\"b\\\\c\\n\\x01 \\xff\"\r\n"
        );
    }

    #[test]
    fn monitor_line_redacts_passwords() {
        assert!(line(&[b"auth", b"pw"]).ends_with("\"auth\" \"(redacted)\"\r\n"));
        assert!(
            line(&[b"HELLO", b"3", b"AUTH", b"u", b"p", b"SETNAME", b"n"]).ends_with(
                "\"HELLO\" \"3\" \"AUTH\" \"(redacted)\" \"(redacted)\" \"SETNAME\" \"n\"\r\n"
            )
        );
    }

    #[test]
    fn maxclients_is_exact() {
        let registry = ClientRegistry::default();
        let addr = "127.0.0.1:1".parse().unwrap();
        let first = registry.try_register(addr, addr, 1).unwrap();
        assert!(registry.try_register(addr, addr, 1).is_none());
        registry.unregister(first.id);
        assert!(registry.try_register(addr, addr, 1).is_some());
    }

    #[test]
    fn slow_monitor_is_dropped() {
        let registry = ClientRegistry::default();
        let addr = "127.0.0.1:1".parse().unwrap();
        let handle = registry.register(addr, addr);
        let _rx = registry.add_monitor(handle.clone());
        let owned: OwnedArgs = [b"ping".as_slice()].iter().collect();
        for _ in 0..=MONITOR_QUEUE_LINES {
            registry.feed_monitors(0, &addr, &owned.view());
        }
        assert!(!registry.has_monitors());
        assert!(handle.is_killed());
    }

    #[test]
    fn pause_write_holds_only_writes() {
        let registry = ClientRegistry::default();
        registry.pause(Duration::from_secs(10), false);
        assert!(registry.pause_wait(flag::WRITE).is_some());
        assert!(registry.pause_wait(flag::READONLY).is_none());
        registry.pause(Duration::from_millis(1), true);
        assert!(registry.pause_wait(flag::READONLY).is_some(), "ALL wins");
        registry.unpause();
        assert!(registry.pause_wait(flag::WRITE).is_none());
    }
}
