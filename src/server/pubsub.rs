//! Pub/Sub: who listens to which channel, pattern or shard channel, and the
//! delivery of published messages.
//!
//! Each subscribed connection owns a [`Mailbox`]: a queue of encoded frames
//! its task writes whenever the socket is free. [`PubSub::publish`] only
//! appends to those queues (a short mutex each) and wakes their tasks, so it
//! never awaits and never waits on a subscriber: any command handler may call
//! it while holding shard locks (keyspace notifications, scripts). A message
//! is encoded at most once per protocol and per pattern, and the frame is
//! shared by every queue it lands in.
//!
//! Pending bytes are counted per mailbox; a subscriber whose backlog breaks
//! the `pubsub` class of `client-output-buffer-limit` is disconnected instead
//! of being queued more.
//!
//! Lock order: shard locks (held by the publishing command), then one
//! namespace lock, then a mailbox queue. Subscribing takes no shard lock.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use bytes::{Bytes, BytesMut};
use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;

use super::ClientHandle;
use super::client::{ClientKind, cflag};
use super::output_limits::{OutputLimits, SoftTimer};
use crate::protocol::Reply;
use crate::util::glob::glob_match;

/// The three subscription namespaces. Shard channels are separate from plain
/// channels even on a single node, as in Redis 7.0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Channel, Kind::Pattern, Kind::Shard];

    fn index(self) -> usize {
        self as usize
    }

    /// The first element of a confirmation frame.
    pub fn subscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"subscribe",
            Kind::Pattern => b"psubscribe",
            Kind::Shard => b"ssubscribe",
        }
    }

    pub fn unsubscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"unsubscribe",
            Kind::Pattern => b"punsubscribe",
            Kind::Shard => b"sunsubscribe",
        }
    }
}

/// The queue of frames waiting to be written to one subscriber.
pub struct Mailbox {
    handle: Arc<ClientHandle>,
    queue: Mutex<VecDeque<Bytes>>,
    /// Bytes queued or taken but not yet written; mirrored in the handle's
    /// `output_buffer` for CLIENT LIST and INFO.
    pending: AtomicUsize,
    /// Wakes the connection task; a notification sent while it is busy is
    /// kept until it next waits.
    ready: Notify,
    soft: SoftTimer,
}

impl Mailbox {
    fn new(handle: Arc<ClientHandle>) -> Self {
        Mailbox {
            handle,
            queue: Mutex::new(VecDeque::new()),
            pending: AtomicUsize::new(0),
            ready: Notify::new(),
            soft: SoftTimer::default(),
        }
    }

    fn resp3(&self) -> bool {
        self.handle.resp.load(Relaxed) == 3
    }

    /// Queues `frame` unless that would break the client's output limits, in
    /// which case the client is disconnected instead.
    fn deliver(&self, frame: &Bytes, limits: &OutputLimits, now_ms: u64) {
        if self.handle.is_killed() {
            return;
        }
        let pending = self.pending.load(Relaxed) + frame.len();
        if limits.exceeded(ClientKind::Pubsub, pending, &self.soft, now_ms) {
            tracing::warn!(
                "Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.",
                self.handle.id,
                self.handle.addr
            );
            self.handle.kill();
            return;
        }
        let mut queue = self.queue.lock();
        let was_empty = queue.is_empty();
        queue.push_back(frame.clone());
        drop(queue);
        self.add_pending(frame.len() as isize);
        // A non-empty queue already has a wake-up on its way (see `take`).
        if was_empty {
            self.ready.notify_one();
        }
    }

    fn add_pending(&self, delta: isize) {
        let now = if delta >= 0 {
            self.pending.fetch_add(delta as usize, Relaxed) + delta as usize
        } else {
            let n = delta.unsigned_abs();
            self.pending.fetch_sub(n, Relaxed) - n
        };
        self.handle.output_buffer.store(now, Relaxed);
    }

    /// Resolves when frames may be waiting.
    pub async fn ready(&self) {
        self.ready.notified().await
    }

    /// Takes queued frames, at least one and about `max` bytes, as one
    /// buffer. They still count as pending until [`Mailbox::written`].
    pub fn take(&self, max: usize) -> Option<BytesMut> {
        let mut queue = self.queue.lock();
        let first = queue.pop_front()?;
        let mut batch = BytesMut::from(&first[..]);
        while batch.len() < max {
            match queue.pop_front() {
                Some(frame) => batch.extend_from_slice(&frame),
                None => break,
            }
        }
        if !queue.is_empty() {
            // Left for the next round; keep the task awake for it.
            self.ready.notify_one();
        }
        Some(batch)
    }

    /// `n` taken bytes reached the socket.
    pub fn written(&self, n: usize) {
        self.add_pending(-(n.min(self.pending.load(Relaxed)) as isize));
    }

    pub fn pending(&self) -> usize {
        self.pending.load(Relaxed)
    }
}

/// One connection's subscriptions, owned by its task.
#[derive(Default)]
pub struct Subscriptions {
    mailbox: Option<Arc<Mailbox>>,
    /// Each name with the order it was subscribed in: unsubscribing from
    /// everything confirms in that order (Redis keeps patterns in a list).
    names: [HashMap<Vec<u8>, u64>; 3],
    next_order: u64,
}

impl Subscriptions {
    /// The count a confirmation frame shows: channels plus patterns, or
    /// shard channels for the sharded commands.
    pub fn count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Shard => self.names[Kind::Shard.index()].len(),
            _ => self.names[0].len() + self.names[1].len(),
        }
    }

    /// Subscribed names in subscription order.
    pub fn names(&self, kind: Kind) -> Vec<Vec<u8>> {
        let mut names: Vec<(&Vec<u8>, &u64)> = self.names[kind.index()].iter().collect();
        names.sort_unstable_by_key(|&(_, order)| *order);
        names.into_iter().map(|(name, _)| name.clone()).collect()
    }

    /// Adds a name; false when it was there already.
    fn insert(&mut self, kind: Kind, name: &[u8]) -> bool {
        let names = &mut self.names[kind.index()];
        if names.contains_key(name) {
            return false;
        }
        self.next_order += 1;
        names.insert(name.to_vec(), self.next_order);
        true
    }

    pub fn mailbox(&self) -> Option<&Arc<Mailbox>> {
        self.mailbox.as_ref()
    }

    /// Moves every queued frame into `buf` at `at`: the messages a command
    /// caused reach a RESP3 client before that command's reply, as in Redis.
    pub fn splice_pending(&self, buf: &mut BytesMut, at: usize) {
        let Some(mailbox) = &self.mailbox else { return };
        if mailbox.pending() == 0 {
            return;
        }
        let Some(frames) = mailbox.take(usize::MAX) else {
            return;
        };
        mailbox.written(frames.len());
        let tail = buf.split_off(at);
        buf.extend_from_slice(&frames);
        buf.extend_from_slice(&tail);
    }

    /// Publishes the counts for CLIENT LIST and the `P` flag.
    fn publish_counts(&self, handle: &ClientHandle) {
        handle.sub.store(self.names[0].len(), Relaxed);
        handle.psub.store(self.names[1].len(), Relaxed);
        handle.ssub.store(self.names[2].len(), Relaxed);
        handle.set_flag(cflag::PUBSUB, self.names.iter().any(|n| !n.is_empty()));
    }
}

type Subscribers = HashMap<u64, Arc<Mailbox>>;

/// Subscribers by name in one namespace.
#[derive(Default)]
struct Namespace {
    map: RwLock<HashMap<Vec<u8>, Subscribers>>,
    /// `map.len()`, so publishing skips an empty namespace without locking.
    names: AtomicUsize,
}

/// The server-wide registry.
#[derive(Default)]
pub struct PubSub {
    spaces: [Namespace; 3],
    /// `client-output-buffer-limit`; delivery is its hottest reader.
    pub limits: OutputLimits,
}

impl PubSub {
    /// Adds a subscription; false when the client already had it.
    pub fn subscribe(
        &self,
        subs: &mut Subscriptions,
        handle: &Arc<ClientHandle>,
        kind: Kind,
        name: &[u8],
    ) -> bool {
        if !subs.insert(kind, name) {
            return false;
        }
        let mailbox = subs
            .mailbox
            .get_or_insert_with(|| Arc::new(Mailbox::new(handle.clone())))
            .clone();
        let space = &self.spaces[kind.index()];
        let mut map = space.map.write();
        map.entry(name.to_vec())
            .or_default()
            .insert(handle.id, mailbox);
        space.names.store(map.len(), Relaxed);
        drop(map);
        subs.publish_counts(handle);
        true
    }

    /// Removes a subscription; false when the client did not have it.
    pub fn unsubscribe(
        &self,
        subs: &mut Subscriptions,
        handle: &ClientHandle,
        kind: Kind,
        name: &[u8],
    ) -> bool {
        if subs.names[kind.index()].remove(name).is_none() {
            return false;
        }
        let space = &self.spaces[kind.index()];
        let mut map = space.map.write();
        if let Some(subscribers) = map.get_mut(name) {
            subscribers.remove(&handle.id);
            if subscribers.is_empty() {
                map.remove(name);
            }
        }
        space.names.store(map.len(), Relaxed);
        drop(map);
        subs.publish_counts(handle);
        true
    }

    /// Drops every subscription without confirmations (RESET, disconnect).
    pub fn unsubscribe_all(&self, subs: &mut Subscriptions, handle: &ClientHandle) {
        for kind in Kind::ALL {
            for name in subs.names(kind) {
                self.unsubscribe(subs, handle, kind, &name);
            }
        }
        if let Some(mailbox) = subs.mailbox.take() {
            let queued = mailbox.pending();
            mailbox.queue.lock().clear();
            mailbox.written(queued);
        }
    }

    /// Sends `message` to the subscribers of `channel` and of every pattern
    /// matching it; returns how many deliveries that made (a client
    /// subscribed to the channel and to two matching patterns counts three
    /// times, as in Redis). Never blocks: see the module docs.
    pub fn publish(&self, channel: &[u8], message: &[u8]) -> usize {
        let mut receivers = self.deliver_exact(Kind::Channel, b"message", channel, message);
        let patterns = &self.spaces[Kind::Pattern.index()];
        if patterns.names.load(Relaxed) > 0 {
            let now = crate::cmd::now_ms();
            for (pattern, subscribers) in patterns.map.read().iter() {
                if !glob_match(pattern, channel, false) {
                    continue;
                }
                let parts: [&[u8]; 4] = [b"pmessage", pattern, channel, message];
                let mut frame = LazyFrame::new(&parts);
                for mailbox in subscribers.values() {
                    mailbox.deliver(frame.get(mailbox.resp3()), &self.limits, now);
                }
                receivers += subscribers.len();
            }
        }
        receivers
    }

    /// SPUBLISH: shard-channel subscribers only.
    pub fn publish_shard(&self, channel: &[u8], message: &[u8]) -> usize {
        self.deliver_exact(Kind::Shard, b"smessage", channel, message)
    }

    fn deliver_exact(&self, kind: Kind, word: &[u8], channel: &[u8], message: &[u8]) -> usize {
        let space = &self.spaces[kind.index()];
        if space.names.load(Relaxed) == 0 {
            return 0;
        }
        let map = space.map.read();
        let Some(subscribers) = map.get(channel) else {
            return 0;
        };
        let now = crate::cmd::now_ms();
        let parts = [word, channel, message];
        let mut frame = LazyFrame::new(&parts);
        for mailbox in subscribers.values() {
            mailbox.deliver(frame.get(mailbox.resp3()), &self.limits, now);
        }
        subscribers.len()
    }

    /// Names with at least one subscriber, optionally matching a glob.
    pub fn names(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
        self.spaces[kind.index()]
            .map
            .read()
            .keys()
            .filter(|name| pattern.is_none_or(|p| glob_match(p, name, false)))
            .cloned()
            .collect()
    }

    /// Subscribers of one name (PUBSUB NUMSUB / SHARDNUMSUB).
    pub fn subscribers(&self, kind: Kind, name: &[u8]) -> usize {
        self.spaces[kind.index()]
            .map
            .read()
            .get(name)
            .map_or(0, HashMap::len)
    }

    /// Distinct names with subscribers (INFO, PUBSUB NUMPAT).
    pub fn len(&self, kind: Kind) -> usize {
        self.spaces[kind.index()].names.load(Relaxed)
    }
}

/// A push frame encoded on first use for each protocol.
struct LazyFrame<'a> {
    parts: &'a [&'a [u8]],
    encoded: [Option<Bytes>; 2],
}

impl<'a> LazyFrame<'a> {
    fn new(parts: &'a [&'a [u8]]) -> Self {
        LazyFrame {
            parts,
            encoded: [None, None],
        }
    }

    fn get(&mut self, resp3: bool) -> &Bytes {
        let parts = self.parts;
        self.encoded[resp3 as usize].get_or_insert_with(|| encode_push(resp3, parts))
    }
}

fn encode_push(resp3: bool, parts: &[&[u8]]) -> Bytes {
    let size: usize = parts.iter().map(|p| p.len() + 16).sum();
    let mut out = Reply {
        buf: BytesMut::with_capacity(size + 8),
        resp3,
        last_error: None,
    };
    out.push(parts.len());
    for part in parts {
        out.bulk(part);
    }
    out.buf.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::ClientRegistry;

    fn client(registry: &ClientRegistry) -> (Arc<ClientHandle>, Subscriptions) {
        let addr = "127.0.0.1:1".parse().unwrap();
        (registry.register(addr, addr), Subscriptions::default())
    }

    fn drain(subs: &Subscriptions) -> String {
        let mut buf = BytesMut::new();
        subs.splice_pending(&mut buf, 0);
        String::from_utf8_lossy(&buf).into_owned()
    }

    #[test]
    fn channel_and_pattern_deliveries_are_counted_each() {
        let (registry, pubsub) = (ClientRegistry::default(), PubSub::default());
        let (a, mut subs) = client(&registry);
        assert!(pubsub.subscribe(&mut subs, &a, Kind::Channel, b"news"));
        assert!(!pubsub.subscribe(&mut subs, &a, Kind::Channel, b"news"));
        pubsub.subscribe(&mut subs, &a, Kind::Pattern, b"n*");
        pubsub.subscribe(&mut subs, &a, Kind::Pattern, b"news");
        assert_eq!(subs.count(Kind::Channel), 3);
        assert_eq!(pubsub.publish(b"news", b"hi"), 3);
        assert_eq!(pubsub.publish(b"nope", b"x"), 1);
        assert_eq!(pubsub.publish_shard(b"news", b"x"), 0);
        let text = drain(&subs);
        assert!(text.starts_with("*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"));
        assert_eq!(text.matches("pmessage").count(), 3);
        assert_eq!(a.output_buffer.load(Relaxed), 0);
    }

    #[test]
    fn frames_follow_the_subscriber_protocol() {
        let (registry, pubsub) = (ClientRegistry::default(), PubSub::default());
        let (a, mut subs) = client(&registry);
        a.resp.store(3, Relaxed);
        pubsub.subscribe(&mut subs, &a, Kind::Shard, b"s");
        assert_eq!(pubsub.publish_shard(b"s", b"m"), 1);
        assert_eq!(
            drain(&subs),
            ">3\r\n$8\r\nsmessage\r\n$1\r\ns\r\n$1\r\nm\r\n"
        );
    }

    #[test]
    fn unsubscribe_all_clears_registry_and_counts() {
        let (registry, pubsub) = (ClientRegistry::default(), PubSub::default());
        let (a, mut subs) = client(&registry);
        pubsub.subscribe(&mut subs, &a, Kind::Channel, b"c");
        pubsub.subscribe(&mut subs, &a, Kind::Pattern, b"p*");
        assert!(a.has_flag(cflag::PUBSUB));
        pubsub.publish(b"c", b"queued");
        pubsub.unsubscribe_all(&mut subs, &a);
        assert_eq!(pubsub.len(Kind::Channel) + pubsub.len(Kind::Pattern), 0);
        assert_eq!(pubsub.publish(b"c", b"x"), 0);
        assert_eq!(a.subscriptions(), 0);
        assert!(!a.has_flag(cflag::PUBSUB));
        assert_eq!(a.output_buffer.load(Relaxed), 0);
    }

    #[test]
    fn backlog_over_the_hard_limit_disconnects() {
        let (registry, pubsub) = (ClientRegistry::default(), PubSub::default());
        pubsub.limits.apply("pubsub 1000 0 0");
        let (a, mut subs) = client(&registry);
        pubsub.subscribe(&mut subs, &a, Kind::Channel, b"c");
        let payload = [b'x'; 100];
        for _ in 0..20 {
            pubsub.publish(b"c", &payload);
        }
        assert!(a.is_killed());
        assert!(subs.mailbox().unwrap().pending() < 1000);
    }
}
