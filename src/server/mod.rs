//! The running server: shared state ([`Server`]), the listener, one task per
//! connection ([`conn`]), and the periodic cron (active expiry, stats).

pub mod blocking;
pub mod client;
pub mod conn;
pub mod metrics;
pub mod notify;
pub mod output_limits;
pub mod pubsub;
pub mod stats;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use tokio::net::TcpListener;
use tokio::sync::Notify;

pub use client::{Client, ClientHandle, ClientRegistry, ReplyMode};
pub use stats::Stats;

use crate::cmd::CommandTable;
use crate::config::Config;
use crate::db::Keyspace;

/// State shared by every connection.
pub struct Server {
    pub config: RwLock<Config>,
    pub keyspace: Keyspace,
    pub commands: CommandTable,
    /// Users, their permissions and the ACL LOG.
    pub acl: crate::acl::Acl,
    pub stats: Stats,
    /// `maxmemory` and its policy, the eviction pool (see [`crate::db::evict`]).
    pub eviction: crate::db::evict::Eviction,
    pub clients: ClientRegistry,
    /// Channel, pattern and shard-channel subscribers; message delivery.
    pub pubsub: pubsub::PubSub,
    pub started: Instant,
    pub started_unix_ms: u64,
    /// 40 hex characters, new every start (INFO `run_id`).
    pub run_id: String,
    /// Addresses actually bound (the port may have been 0).
    pub bound: RwLock<Vec<SocketAddr>>,
    /// The Lua interpreter, its script cache and the running script's state.
    pub scripts: crate::script::Scripts,
    /// RDB snapshot and loading state (see [`crate::persist`]).
    pub persist: crate::persist::State,
    /// The acceptor for `tls-port`, rebuilt when CONFIG SET changes it.
    pub tls: tls::Tls,
    shutting_down: AtomicBool,
    shutdown: Notify,
}

impl Server {
    pub fn new(config: Config) -> Result<Arc<Server>, String> {
        let commands = CommandTable::new(&config.renames)
            .map_err(|e| format!("No such command in rename-command: {}", e.0))?;
        let acl = crate::acl::Acl::new(&commands, &config)?;
        let stats = Stats::new(commands.ids());
        stats.apply_config(&config);
        let keyspace = Keyspace::new(config.databases, shard_count());
        keyspace.access.follow_config(&config);
        let eviction = crate::db::evict::Eviction::default();
        eviction.apply(&config);
        let events = config.value("notify-keyspace-events").unwrap_or_default();
        keyspace.notify_flags.store(notify::flags(&events), Relaxed);
        let pubsub = pubsub::PubSub::default();
        apply_output_limits(&pubsub, &config);
        let run_id: String = (0..40)
            .map(|_| format!("{:x}", rand::random::<u8>() & 15))
            .collect();
        let busy_ms = busy_threshold_ms(&config);
        let tls = tls::Tls::new(&config)?;
        let server = Arc::new(Server {
            config: RwLock::new(config),
            keyspace,
            commands,
            acl,
            stats,
            eviction,
            clients: ClientRegistry::default(),
            pubsub,
            started: Instant::now(),
            started_unix_ms: crate::cmd::now_ms(),
            run_id,
            bound: RwLock::new(Vec::new()),
            scripts: crate::script::Scripts::with_busy_threshold(busy_ms),
            persist: Default::default(),
            tls,
            shutting_down: AtomicBool::new(false),
            shutdown: Notify::new(),
        });
        let startup = crate::alloc::used_memory();
        server.eviction.startup.store(startup, Relaxed);
        Ok(server)
    }

    /// Copies settings that hot paths read from atomics (slow-log and latency
    /// thresholds, LRU or LFU stamping) out of the config: at start-up and
    /// after every CONFIG SET, so a change takes effect with the next command.
    pub fn apply_config(&self) {
        let config = self.config.read();
        self.stats.apply_config(&config);
        self.keyspace.access.follow_config(&config);
        self.eviction.apply(&config);
        let events = config.value("notify-keyspace-events").unwrap_or_default();
        self.keyspace
            .notify_flags
            .store(notify::flags(&events), Relaxed);
        apply_output_limits(&self.pubsub, &config);
        self.acl.follow_requirepass(&config, &self.commands);
        self.scripts
            .run
            .set_threshold_ms(busy_threshold_ms(&config));
        self.tls.refresh(&config);
        drop(config);
        crate::aof::follow_config(self);
    }

    /// Starts an orderly shutdown: listeners stop, connections close.
    pub fn request_shutdown(&self) {
        self.shutting_down.store(true, Relaxed);
        self.shutdown.notify_waiters();
        for client in self.clients.all() {
            client.kill();
        }
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Relaxed)
    }

    pub async fn wait_shutdown(&self) {
        while !self.is_shutting_down() {
            let notified = self.shutdown.notified();
            if self.is_shutting_down() {
                break;
            }
            notified.await;
        }
    }
}

fn apply_output_limits(pubsub: &pubsub::PubSub, config: &Config) {
    if let Some(limits) = config.value("client-output-buffer-limit") {
        pubsub.limits.apply(&limits);
    }
}

/// `busy-reply-threshold` (alias `lua-time-limit`) in milliseconds.
fn busy_threshold_ms(config: &Config) -> u64 {
    config
        .value("busy-reply-threshold")
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000)
}

/// Enough shards that two threads rarely meet on one lock, few enough that
/// locking all of them (KEYS, EXEC) stays cheap. At least 256: a BGSAVE
/// holds one shard's lock while it serialises it, so shards stay small
/// (about 4k keys per million) and a writer waits a few ms at most.
fn shard_count() -> usize {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    (cores * 16).clamp(256, 1024)
}

/// Binds every configured address with SO_REUSEADDR, so a restarted server
/// gets its port back at once. IPv6 sockets are IPv6-only, as in Redis, so
/// `bind * -::*` binds both wildcards instead of the second one colliding
/// with the first. A leading `-` makes an address optional (`bind 127.0.0.1
/// -::1` on a host without IPv6): failing to bind it is only a warning.
fn bind(config: &Config) -> std::io::Result<Vec<TcpListener>> {
    let mut listeners = Vec::new();
    for entry in &config.bind {
        let optional = entry.starts_with('-');
        let host = entry.trim_start_matches('-');
        let ip: std::net::IpAddr = match host {
            "*" => "0.0.0.0".parse().unwrap(),
            "::*" => "::".parse().unwrap(),
            h => h
                .parse()
                .map_err(|_| std::io::Error::other(format!("Invalid bind address '{h}'")))?,
        };
        let addr = SocketAddr::new(ip, config.port);
        match listen_on(addr, config.tcp_backlog) {
            Ok(listener) => listeners.push(listener),
            Err(e) if optional => tracing::warn!("Could not bind {addr}: {e}"),
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("Could not create server TCP listening socket {addr}: {e}"),
                ));
            }
        }
    }
    Ok(listeners)
}

fn listen_on(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog.min(i32::MAX as u32) as i32)?;
    TcpListener::from_std(socket.into())
}

/// Runs the server until SHUTDOWN, SIGTERM or SIGINT.
pub async fn run(server: Arc<Server>) -> std::io::Result<()> {
    let aof = crate::aof::prepare(&server).map_err(std::io::Error::other)?;
    let listeners = if server.config.read().port == 0 {
        Vec::new()
    } else {
        bind(&server.config.read())?
    };
    for l in &listeners {
        let addr = l.local_addr()?;
        server.bound.write().push(addr);
        tracing::info!("Ready to accept connections tcp on {addr}");
    }
    // Clients connect at once and get LOADING until the snapshot is in.
    server.persist.loading.store(true, Relaxed);
    for listener in listeners {
        tokio::spawn(accept_loop(server.clone(), listener));
    }
    tls::listen(&server)?;
    spawn_metrics(&server)?;
    tokio::spawn(signals(server.clone()));
    // Clients get -LOADING until the dataset is in: the AOF when it takes
    // precedence, else the RDB file (then a new AOF is written from it).
    if !matches!(aof, crate::aof::Startup::Load(_)) {
        let loader = server.clone();
        tokio::task::spawn_blocking(move || crate::persist::load_at_startup(&loader))
            .await
            .unwrap_or_else(|e| Err(format!("loading panicked: {e}")))
            .map_err(std::io::Error::other)?;
    }
    crate::aof::finish(&server, aof)
        .await
        .map_err(std::io::Error::other)?;
    server.persist.loading.store(false, Relaxed);
    tokio::spawn(cron(server.clone()));
    tokio::spawn(crate::persist::cron(server.clone()));
    let saver = server.clone();
    std::thread::Builder::new()
        .name("ferrokv-bgsave".into())
        .spawn(move || crate::persist::run_saver(saver))?;
    tokio::spawn(crate::db::evict::run_background(server.clone()));
    server.wait_shutdown().await;
    crate::aof::shutdown(&server);
    tracing::warn!("Received shutdown request, exiting now.");
    // Give connection tasks a moment to flush their last replies.
    let deadline = Instant::now() + Duration::from_millis(500);
    while !server.clients.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

/// The `/metrics` listener on `metrics-port`, bound to the same addresses as
/// the server, when the port is not 0.
fn spawn_metrics(server: &Arc<Server>) -> std::io::Result<()> {
    let mut config = server.config.read().clone();
    if config.metrics_port == 0 {
        return Ok(());
    }
    config.port = config.metrics_port;
    for listener in bind(&config)? {
        tracing::info!(
            "Serving Prometheus metrics on http://{}/metrics",
            listener.local_addr()?
        );
        tokio::spawn(metrics::serve(server.clone(), listener));
    }
    Ok(())
}

async fn signals(server: Arc<Server>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => tracing::warn!("Received SIGTERM scheduling shutdown..."),
            _ = int.recv() => tracing::warn!("Received SIGINT scheduling shutdown..."),
        }
        // The final snapshot when save points exist; if it fails, Redis
        // keeps running rather than lose the data.
        let saver = server.clone();
        let saved = tokio::task::spawn_blocking(move || {
            crate::persist::save_for_shutdown(&saver, false, false)
        })
        .await
        .unwrap_or(false);
        if saved {
            break;
        }
    }
    server.request_shutdown();
}

async fn accept_loop(server: Arc<Server>, listener: TcpListener) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    tokio::spawn(conn::serve(server.clone(), stream, addr));
                }
                Err(e) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tracing::warn!("Accepting client connection: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = server.wait_shutdown() => return,
        }
    }
}

/// Periodic work, `hz` times a second: the active expiry cycle.
async fn cron(server: Arc<Server>) {
    use rand::SeedableRng;
    let mut rng = rand::rngs::SmallRng::from_rng(&mut rand::rng());
    let mut next_shard = 0;
    loop {
        let hz = server.config.read().hz.clamp(1, 500);
        tokio::time::sleep(Duration::from_millis(1000 / hz as u64)).await;
        if server.is_shutting_down() {
            return;
        }
        server.stats.sample_rates();
        crate::util::clock::resync();
        // A running script holds every shard: skip the cycle rather than
        // hold a worker thread on its locks.
        if !server.stats.active_expire.load(Relaxed) || server.scripts.run.is_running() {
            continue;
        }
        // During a snapshot the cycle would make every shard save itself
        // whole on this thread; lazy expiry covers the meantime.
        if server.keyspace.snapshot.is_active() {
            continue;
        }
        crate::script::blocking(|| {
            active_expire_cycle(
                &server,
                &mut rng,
                &mut next_shard,
                Duration::from_micros(25_000 / hz as u64),
            )
        });
    }
}

/// Redis's active expiry: sample keys with a TTL, delete the expired ones,
/// repeat on a shard while more than a quarter of the sample had expired, and
/// stop when this cycle's time budget (25% of a tick) is spent.
pub fn active_expire_cycle(
    server: &Server,
    rng: &mut impl rand::Rng,
    next_shard: &mut usize,
    budget: Duration,
) {
    const SAMPLES: usize = 20;
    let started = Instant::now();
    let shards = server.keyspace.shard_count();
    let now = crate::cmd::now_ms();
    for _ in 0..shards {
        let shard = *next_shard;
        *next_shard = (*next_shard + 1) % shards;
        let mut locked = server.keyspace.lock_shard(shard);
        for db in 0..server.keyspace.databases() {
            loop {
                let (sampled, expired) = locked.db(db, now).expire_sample(db, SAMPLES, rng);
                if locked.has_events() {
                    notify::publish(server, locked.take_events());
                }
                if sampled == 0 || expired * 4 <= sampled || started.elapsed() > budget {
                    break;
                }
            }
        }
        drop(locked);
        if started.elapsed() > budget {
            return;
        }
    }
}
