//! Client state. [`Client`] is owned by the connection task and passed to every
//! handler; [`ClientHandle`] is the part other clients may read or act on
//! (CLIENT LIST, CLIENT KILL), shared through the [`ClientRegistry`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use dashmap::DashMap;
use parking_lot::Mutex;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::sync::Notify;

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

/// Per-connection state owned by the connection task.
pub struct Client {
    pub id: u64,
    /// Selected database.
    pub db: usize,
    pub authenticated: bool,
    pub user: String,
    pub handle: Arc<ClientHandle>,
    /// Set by QUIT, or after a protocol error: close once replies are written.
    pub close_after_reply: bool,
    pub reply_mode: ReplyMode,
    /// Reused buffer for key positions, so locking allocates nothing.
    pub scratch_keys: Vec<usize>,
    pub rng: SmallRng,
}

impl Client {
    pub fn new(handle: Arc<ClientHandle>, authenticated: bool) -> Self {
        Client {
            id: handle.id,
            db: 0,
            authenticated,
            user: "default".into(),
            handle,
            close_after_reply: false,
            reply_mode: ReplyMode::On,
            scratch_keys: Vec::with_capacity(8),
            rng: SmallRng::from_rng(&mut rand::rng()),
        }
    }

    /// Selects a database and publishes it for CLIENT LIST.
    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.handle.db.store(db, Relaxed);
    }
}

/// The shared, read-mostly view of a client.
pub struct ClientHandle {
    pub id: u64,
    pub addr: SocketAddr,
    pub local_addr: SocketAddr,
    pub created: Instant,
    pub db: AtomicUsize,
    pub name: Mutex<Option<Vec<u8>>>,
    pub lib_name: Mutex<Option<Vec<u8>>>,
    pub lib_ver: Mutex<Option<Vec<u8>>>,
    /// Command-table id of the last command run, for CLIENT LIST `cmd=`.
    pub last_command: AtomicUsize,
    /// Milliseconds since `created` of the last command, for `idle=`.
    pub last_interaction_ms: AtomicU64,
    pub resp: AtomicUsize,
    /// Bytes waiting in the query and reply buffers at the last batch.
    pub query_buffer: AtomicUsize,
    pub output_buffer: AtomicUsize,
    killed: AtomicBool,
    kill: Notify,
}

impl ClientHandle {
    /// Asks the connection to close (CLIENT KILL, SHUTDOWN).
    pub fn kill(&self) {
        self.killed.store(true, Relaxed);
        self.kill.notify_one();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Relaxed)
    }

    /// Resolves once `kill` was called.
    pub async fn killed(&self) {
        while !self.is_killed() {
            self.kill.notified().await;
        }
    }

    pub fn touch(&self, command_id: usize) {
        self.last_command.store(command_id, Relaxed);
        self.last_interaction_ms
            .store(self.created.elapsed().as_millis() as u64, Relaxed);
    }

    pub fn idle_secs(&self) -> u64 {
        (self.created.elapsed().as_millis() as u64)
            .saturating_sub(self.last_interaction_ms.load(Relaxed))
            / 1000
    }
}

/// Every connected client, by id.
#[derive(Default)]
pub struct ClientRegistry {
    clients: DashMap<u64, Arc<ClientHandle>>,
    next_id: AtomicU64,
}

impl ClientRegistry {
    pub fn register(&self, addr: SocketAddr, local_addr: SocketAddr) -> Arc<ClientHandle> {
        let id = self.next_id.fetch_add(1, Relaxed) + 1;
        let handle = Arc::new(ClientHandle {
            id,
            addr,
            local_addr,
            created: Instant::now(),
            db: AtomicUsize::new(0),
            name: Mutex::new(None),
            lib_name: Mutex::new(None),
            lib_ver: Mutex::new(None),
            last_command: AtomicUsize::new(usize::MAX),
            last_interaction_ms: AtomicU64::new(0),
            resp: AtomicUsize::new(2),
            query_buffer: AtomicUsize::new(0),
            output_buffer: AtomicUsize::new(0),
            killed: AtomicBool::new(false),
            kill: Notify::new(),
        });
        self.clients.insert(id, handle.clone());
        handle
    }

    pub fn unregister(&self, id: u64) {
        self.clients.remove(&id);
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
}
