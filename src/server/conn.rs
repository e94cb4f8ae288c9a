//! One task per connection: read whatever arrived, run every complete command
//! in it, write all their replies with one write. A protocol error is answered
//! with Redis's message and closes the connection, after the replies to the
//! commands before it.
//!
//! Besides requests the task waits on: CLIENT KILL (the handle's kill signal),
//! MONITOR lines and pub/sub messages queued for this client, the idle
//! `timeout`, and the end of a CLIENT PAUSE that holds the next command. A
//! held command simply stays in the read buffer while the task awaits, so
//! pausing blocks no thread.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{Client, ClientHandle, ReplyMode, Server};
use crate::cmd::{self, Args, flag};
use crate::protocol::{Limits, Parsed, Reply, Span, parse_request};

/// Read-buffer growth step; also the size below which a buffer is never shrunk.
const READ_CHUNK: usize = 16 * 1024;
/// MONITOR lines, or pub/sub messages, gathered into one write.
const FEED_WRITE_BATCH: usize = 64 * 1024;
/// A batch's replies are written once they pass this, and the rest of the
/// pipeline runs after the write: replies to a huge pipeline never pile up,
/// and a client that stops reading stops being read (TCP backpressure).
const REPLY_FLUSH: usize = 128 * 1024;
/// How often a stalled reply write re-checks `client-output-buffer-limit`.
const STALL_CHECK: Duration = Duration::from_millis(100);

/// A client connection: plain TCP, or TLS over TCP ([`super::tls`]).
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// The socket underneath, for its options and addresses.
    fn tcp(&self) -> &TcpStream;
}

impl Stream for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

pub async fn serve<S: Stream>(server: Arc<Server>, mut stream: S, addr: SocketAddr) {
    let _ = stream.tcp().set_nodelay(true);
    let local = stream.tcp().local_addr().unwrap_or(addr);
    server.stats.total_connections.fetch_add(1, Relaxed);
    let (maxclients, protected_mode, keepalive) = {
        let config = server.config.read();
        (
            config.maxclients,
            config.protected_mode,
            config.tcp_keepalive,
        )
    };
    if crate::acl::protected_mode_refuses(&server, protected_mode, addr) {
        let _ = stream.write_all(crate::acl::PROTECTED_MODE_DENIED).await;
        return;
    }
    let needs_auth = server.acl.default_needs_auth();
    let Some(handle) = server.clients.try_register(addr, local, maxclients) else {
        server.stats.rejected_connections.fetch_add(1, Relaxed);
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        let _ = stream.flush().await;
        return;
    };
    set_keepalive(stream.tcp(), keepalive);
    handle.fd.store(stream.tcp().as_raw_fd() as i64, Relaxed);
    let mut client = Client::new(handle.clone(), !needs_auth);
    let mut session = Session::default();
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut out = Reply::new(false);
    let mut last_read = Instant::now();
    // Set when CLIENT PAUSE holds the next command in `rbuf`.
    let mut held: Option<Duration> = None;
    // Set when a batch stopped to flush its replies: run the rest before reading.
    let mut resume = false;

    loop {
        let mut served = false;
        if let Some(wait) = client.block.wait.take() {
            // Blocked (BLPOP...): the rest of the pipeline waits in `rbuf`.
            match wait_unblocked(&server, &client, &mut stream, &mut rbuf, wait).await {
                Some(reply) => {
                    out.raw(&reply);
                    served = true;
                }
                None => break,
            }
            // Redis counts the reply as interaction: `timeout` restarts here.
            last_read = Instant::now();
        } else if let Some(remaining) = held.take() {
            tokio::select! {
                biased;
                _ = handle.killed() => break,
                _ = server.clients.pause_ended(remaining) => {}
            }
        } else if std::mem::take(&mut resume) {
            // The rest of a pipeline whose replies were just flushed.
        } else {
            grow_read_buffer(&server, &mut rbuf);
            let deadline = idle_deadline(&server, &handle, last_read);
            let read = tokio::select! {
                biased;
                _ = handle.killed() => break,
                line = next_monitor_line(&mut client.monitor) => {
                    match line {
                        Some(line) => {
                            if write_monitor_lines(&server, &mut client, &mut stream, line).await.is_err() {
                                break;
                            }
                        }
                        None => client.monitor = None,
                    }
                    continue;
                }
                _ = next_push(client.pubsub.mailbox()) => {
                    if !write_pushes(&server, &client, &mut stream).await {
                        break;
                    }
                    continue;
                }
                r = stream.read_buf(&mut rbuf) => r,
                _ = sleep_until_or_never(deadline) => {
                    // CONFIG SET timeout (or a SUBSCRIBE) may have moved it since.
                    match idle_deadline(&server, &handle, last_read) {
                        Some(at) if at <= Instant::now() => break,
                        _ => continue,
                    }
                }
            };
            match read {
                Ok(0) | Err(_) => break,
                Ok(n) => server.stats.net_input_bytes.fetch_add(n as u64, Relaxed),
            };
            if over_query_limit(&server, &handle, &rbuf) {
                break;
            }
            last_read = Instant::now();
            handle.interacted();
        }
        // CLIENT LIST run in this batch sees the request still buffered, as in Redis.
        publish_buffers(&handle, &rbuf);
        let end = session.run_batch(&server, &mut client, &mut out, &rbuf);
        rbuf.advance(end.consumed);
        held = end.held;
        resume = end.flushed;
        // The AOF holds the batch's writes (fsynced under `always`) before
        // any reply says so; a served blocked reply was logged elsewhere.
        if let Some(target) = server.keyspace.aof.after_batch(served) {
            server.keyspace.aof.synced_to(target).await;
        }
        if !out.is_empty() {
            server
                .stats
                .net_output_bytes
                .fetch_add(out.len() as u64, Relaxed);
            if !write_replies(&server, &session, &handle, &mut stream, &out.buf).await {
                break;
            }
            // Replies flushed mid-batch still count against the output limit
            // until the next read, as Redis holds every reply to one read.
            session.flushed = if resume {
                session.flushed + out.len()
            } else {
                0
            };
            out.buf.clear();
            if out.buf.capacity() > 1024 * 1024 {
                out.buf = BytesMut::with_capacity(READ_CHUNK);
            }
        }
        if rbuf.is_empty() && rbuf.capacity() > 1024 * 1024 {
            rbuf = BytesMut::with_capacity(READ_CHUNK);
        }
        publish_buffers(&handle, &rbuf);
        if client.close_after_reply || handle.is_killed() {
            break;
        }
    }
    server.keyspace.blocking.cancel(client.id);
    cmd::multi::reset_client(&server, &mut client);
    server
        .pubsub
        .unsubscribe_all(&mut client.pubsub, &client.handle);
    let _ = stream.shutdown().await;
    server.clients.unregister(client.id);
}

/// Waits for a blocked client's reply: served by a push, CLIENT UNBLOCK, or
/// its deadline. Keeps reading the socket meanwhile, so a client that hangs
/// up is noticed (and removed, losing nothing) and pipelined commands queue
/// up. None when the connection must close.
async fn wait_unblocked(
    server: &Server,
    client: &Client,
    stream: &mut impl Stream,
    rbuf: &mut BytesMut,
    wait: super::blocking::BlockWait,
) -> Option<Vec<u8>> {
    let super::blocking::BlockWait {
        mut reply,
        deadline,
    } = wait;
    let mut deadline = deadline.map(Instant::from_std);
    loop {
        grow_read_buffer(server, rbuf);
        tokio::select! {
            biased;
            _ = client.handle.killed() => return None,
            served = &mut reply => return served.ok(),
            _ = next_push(client.pubsub.mailbox()) => {
                // A RESP3 subscriber still hears its channels while blocked.
                if !write_pushes(server, client, stream).await {
                    return None;
                }
            }
            _ = sleep_until_or_never(deadline) => {
                if server.keyspace.blocking.cancel(client.id) {
                    return Some(super::blocking::timeout_reply(client.handle.resp.load(Relaxed) == 3));
                }
                // Served at the same moment: the reply is already on its way.
                deadline = None;
            }
            read = stream.read_buf(rbuf) => match read {
                Ok(0) | Err(_) => return None,
                Ok(n) => {
                    server.stats.net_input_bytes.fetch_add(n as u64, Relaxed);
                    if over_query_limit(server, &client.handle, rbuf) {
                        return None;
                    }
                }
            },
        }
    }
}

/// Makes room for the next read. The buffer grows with what has arrived
/// (doubling), never with what a header announces, and never far past
/// `client-query-buffer-limit`: a peer announcing a 500 MB bulk costs only
/// the bytes it actually sends.
fn grow_read_buffer(server: &Server, rbuf: &mut BytesMut) {
    if rbuf.capacity() - rbuf.len() >= READ_CHUNK / 4 {
        return;
    }
    let limit = server.config.read().client_query_buffer_limit;
    // One byte past the limit is enough to know it was passed.
    let room = limit.saturating_add(1).saturating_sub(rbuf.len());
    rbuf.reserve(rbuf.len().max(READ_CHUNK).min(room.max(READ_CHUNK / 4)));
}

/// `client-query-buffer-limit`: true (and logged, as Redis does) when the
/// unparsed input passed it; the connection is then closed without a reply.
fn over_query_limit(server: &Server, handle: &ClientHandle, rbuf: &BytesMut) -> bool {
    let limit = server.config.read().client_query_buffer_limit;
    if rbuf.len() <= limit {
        return false;
    }
    let head = String::from_utf8_lossy(&rbuf[..rbuf.len().min(64)]).into_owned();
    tracing::warn!(
        "Closing client that reached max query buffer length: id={} addr={} (qbuf initial bytes: {:?})",
        handle.id,
        handle.addr,
        head
    );
    true
}

/// `tcp-keepalive`: probe after that many idle seconds (0 = off), then every
/// third of it, giving up after three probes, as Redis does.
fn set_keepalive(stream: &TcpStream, seconds: u64) {
    if seconds == 0 {
        return;
    }
    let time = Duration::from_secs(seconds);
    let params = socket2::TcpKeepalive::new()
        .with_time(time)
        .with_interval((time / 3).max(Duration::from_secs(1)))
        .with_retries(3);
    let _ = socket2::SockRef::from(stream).set_tcp_keepalive(&params);
}

/// When the `timeout` directive closes this client, if it does: monitors,
/// subscribers and blocked clients are exempt, as in Redis.
fn idle_deadline(server: &Server, handle: &ClientHandle, last_read: Instant) -> Option<Instant> {
    use super::client::cflag;
    let timeout = server.config.read().timeout;
    let exempt = handle.has_flag(cflag::MONITOR | cflag::BLOCKED | cflag::PUBSUB)
        || handle.subscriptions() > 0;
    (timeout > 0 && !exempt).then(|| last_read + Duration::from_secs(timeout))
}

async fn sleep_until_or_never(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn next_monitor_line(feed: &mut Option<mpsc::Receiver<Bytes>>) -> Option<Bytes> {
    match feed {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn next_push(mailbox: Option<&Arc<super::pubsub::Mailbox>>) {
    match mailbox {
        Some(mailbox) => mailbox.ready().await,
        None => std::future::pending().await,
    }
}

/// Writes one batch of queued pub/sub messages; false when the connection
/// must close. The bytes count against the output limit until written, so a
/// peer that stops reading is disconnected by the publishers.
async fn write_pushes(server: &Server, client: &Client, stream: &mut impl Stream) -> bool {
    let Some(mailbox) = client.pubsub.mailbox() else {
        return true;
    };
    let Some(batch) = mailbox.take(FEED_WRITE_BATCH) else {
        return true;
    };
    server
        .stats
        .net_output_bytes
        .fetch_add(batch.len() as u64, Relaxed);
    let written = write_unless_killed(stream, &batch, &client.handle).await;
    mailbox.written(batch.len());
    written
}

/// Writes `first` and whatever else is queued, up to one batch, in one write.
async fn write_monitor_lines(
    server: &Server,
    client: &mut Client,
    stream: &mut impl Stream,
    first: Bytes,
) -> std::io::Result<()> {
    let mut batch = BytesMut::from(&first[..]);
    if let Some(rx) = client.monitor.as_mut() {
        while batch.len() < FEED_WRITE_BATCH {
            match rx.try_recv() {
                Ok(line) => batch.extend_from_slice(&line),
                Err(_) => break,
            }
        }
    }
    server.clients.monitor_drained(client.id, batch.len());
    server
        .stats
        .net_output_bytes
        .fetch_add(batch.len() as u64, Relaxed);
    if write_unless_killed(stream, &batch, &client.handle).await {
        Ok(())
    } else {
        Err(std::io::ErrorKind::BrokenPipe.into())
    }
}

/// Writes a batch of replies; false when the connection must close. When the
/// client's class has a `client-output-buffer-limit`, the unwritten rest of
/// a stalled write counts against it (re-checked every [`STALL_CHECK`]), so a
/// client that stops reading is dropped once over the soft limit for its
/// seconds, as in Redis.
async fn write_replies(
    server: &Server,
    session: &Session,
    handle: &ClientHandle,
    stream: &mut impl Stream,
    data: &[u8],
) -> bool {
    let limits = &server.pubsub.limits;
    let kind = handle.kind();
    if !limits.is_limited(kind) {
        return write_unless_killed(stream, data, handle).await;
    }
    let mut pos = 0;
    while pos < data.len() {
        tokio::select! {
            biased;
            _ = handle.killed() => return false,
            written = stream.write(&data[pos..]) => match written {
                Ok(0) | Err(_) => return false,
                Ok(n) => pos += n,
            },
            _ = tokio::time::sleep(STALL_CHECK) => {}
        }
        let pending = data.len() - pos;
        if pending > 0 && limits.exceeded(kind, pending, &session.soft_limit, cmd::now_ms()) {
            output_limit_close(handle);
            return false;
        }
    }
    // TLS buffers what `write` took until flushed; a no-op on plain TCP.
    stream.flush().await.is_ok()
}

fn output_limit_close(handle: &ClientHandle) {
    tracing::warn!(
        "Client id={} addr={} closed for overcoming of output buffer limits.",
        handle.id,
        handle.addr
    );
    handle.kill();
}

/// Writes `data`; false when the peer is gone or CLIENT KILL came first, so a
/// client that stopped reading can still be killed at once. The flush sends
/// what TLS buffered; on plain TCP it does nothing.
async fn write_unless_killed(stream: &mut impl Stream, data: &[u8], handle: &ClientHandle) -> bool {
    tokio::select! {
        biased;
        _ = handle.killed() => false,
        written = async {
            stream.write_all(data).await?;
            stream.flush().await
        } => written.is_ok(),
    }
}

/// Buffer sizes for CLIENT LIST (`qbuf`, `qbuf-free`, `rbs`, `rbp`).
fn publish_buffers(handle: &ClientHandle, rbuf: &BytesMut) {
    handle.query_buffer.store(rbuf.len(), Relaxed);
    handle
        .query_buffer_free
        .store(rbuf.capacity() - rbuf.len(), Relaxed);
    handle.read_buffer_peak.fetch_max(rbuf.capacity(), Relaxed);
}

/// Parser scratch space reused for every request of a connection.
#[derive(Default)]
pub struct Session {
    spans: Vec<Span>,
    scratch: Vec<u8>,
    /// Since when the replies of this batch are over the soft output limit.
    soft_limit: super::output_limits::SoftTimer,
    /// Reply bytes already written for the requests of the current read.
    flushed: usize,
}

/// How far a batch got.
#[derive(Debug, PartialEq)]
pub struct BatchEnd {
    /// Bytes of the buffer consumed.
    pub consumed: usize,
    /// Set when CLIENT PAUSE holds the next command for up to this long; it is
    /// left unconsumed.
    pub held: Option<Duration>,
    /// The batch stopped because its replies passed [`REPLY_FLUSH`]; more
    /// complete requests may follow in the buffer.
    pub flushed: bool,
}

impl Session {
    /// Runs every complete request at the start of `buf`, appending replies to
    /// `out`, until one must wait for a CLIENT PAUSE to end.
    pub fn run_batch(
        &mut self,
        server: &Server,
        client: &mut Client,
        out: &mut Reply,
        buf: &[u8],
    ) -> BatchEnd {
        let mut limits = Limits {
            max_bulk: server.config.read().proto_max_bulk_len,
            unauthenticated: !client.authenticated,
        };
        let mut pos = 0;
        let mut flushed = false;
        while pos < buf.len() && !client.close_after_reply {
            // AUTH earlier in this batch lifts the pre-AUTH limits at once.
            limits.unauthenticated = !client.authenticated;
            let parsed = parse_request(&buf[pos..], &mut self.spans, &mut self.scratch, limits);
            let (consumed, args) = match parsed {
                Ok(Parsed::Incomplete { .. }) => break,
                Ok(Parsed::Empty { consumed }) => {
                    pos += consumed;
                    continue;
                }
                Ok(Parsed::Multibulk { consumed }) => {
                    (consumed, Args::new(&buf[pos..], &self.spans))
                }
                Ok(Parsed::Inline { consumed }) => {
                    (consumed, Args::new(&self.scratch, &self.spans))
                }
                Err(e) => {
                    // Redis sends protocol errors with the usual ERR prefix.
                    out.error(&format!("ERR {e}"));
                    if let Some(prefix) = out.last_error.take() {
                        server.stats.record_error(prefix);
                    }
                    client.close_after_reply = true;
                    break;
                }
            };
            if let Some(wait) = pause_hold(server, &args) {
                return BatchEnd {
                    consumed: pos,
                    held: Some(wait),
                    flushed: false,
                };
            }
            pos += consumed;
            run_one(server, client, out, &args);
            if self.over_output_limit(server, client, out) {
                break;
            }
            if client.block.wait.is_some() {
                break; // blocked: later commands wait for the reply
            }
            if out.len() >= REPLY_FLUSH {
                flushed = pos < buf.len();
                break;
            }
        }
        BatchEnd {
            consumed: pos,
            held: None,
            flushed,
        }
    }
}

impl Session {
    /// `client-output-buffer-limit` for replies a client has not read yet (a
    /// huge pipelined reply): the client is dropped with its replies, as
    /// Redis frees a client over its limit. Two atomic loads when the
    /// client's class is unlimited, the default for normal clients.
    fn over_output_limit(&self, server: &Server, client: &Client, out: &mut Reply) -> bool {
        let limits = &server.pubsub.limits;
        let kind = client.handle.kind();
        if !limits.is_limited(kind) {
            return false;
        }
        let pending = out.len() + self.flushed + client.handle.output_buffer.load(Relaxed);
        if !limits.exceeded(kind, pending, &self.soft_limit, cmd::now_ms()) {
            return false;
        }
        output_limit_close(&client.handle);
        out.buf.clear();
        true
    }
}

/// How long CLIENT PAUSE still holds this command; one atomic load when no
/// pause was ever set.
fn pause_hold(server: &Server, args: &Args<'_>) -> Option<Duration> {
    if !server.clients.maybe_paused() {
        return None;
    }
    let (_, spec) = server.commands.lookup(args.first()?, args.get_opt(1))?;
    server.clients.pause_wait(spec.flags)
}

/// Runs one command, honouring CLIENT REPLY OFF/SKIP by discarding its reply.
fn run_one(server: &Server, client: &mut Client, out: &mut Reply, args: &Args<'_>) {
    if client.reply_mode == ReplyMode::SkipNext {
        client.reply_mode = ReplyMode::Skip;
    }
    let mark = out.len();
    if client.monitor.is_some() && touches_keyspace(server, args) {
        // A monitor is a replica to Redis, and replicas may not use keys.
        out.error("ERR Replica can't interact with the keyspace");
    } else {
        cmd::execute(server, client, out, args);
    }
    match client.reply_mode {
        ReplyMode::Off => out.buf.truncate(mark),
        ReplyMode::Skip => {
            out.buf.truncate(mark);
            client.reply_mode = ReplyMode::On;
        }
        _ => {}
    }
}

fn touches_keyspace(server: &Server, args: &Args<'_>) -> bool {
    let Some(first) = args.first() else {
        return false;
    };
    server
        .commands
        .lookup(first, args.get_opt(1))
        .is_some_and(|(_, spec)| {
            spec.flags & (flag::WRITE | flag::READONLY | flag::MAY_REPLICATE) != 0
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    struct Harness {
        server: Arc<Server>,
        client: Client,
        out: Reply,
        session: Session,
    }

    impl Harness {
        fn new() -> Self {
            let server = Server::new(Config::default()).unwrap();
            let addr = "127.0.0.1:1".parse().unwrap();
            let client = Client::new(server.clients.register(addr, addr), true);
            Harness {
                server,
                client,
                out: Reply::new(false),
                session: Session::default(),
            }
        }

        /// Runs inline commands; returns the replies and how the batch ended.
        fn batch(&mut self, input: &str) -> (String, BatchEnd) {
            self.out.buf.clear();
            let end = self.session.run_batch(
                &self.server,
                &mut self.client,
                &mut self.out,
                input.as_bytes(),
            );
            (String::from_utf8_lossy(&self.out.buf).into_owned(), end)
        }
    }

    #[test]
    fn client_reply_off_and_skip_drop_replies() {
        let mut h = Harness::new();
        let (replies, _) = h.batch("CLIENT REPLY OFF\r\nPING\r\nCLIENT REPLY ON\r\nPING\r\n");
        assert_eq!(replies, "+OK\r\n+PONG\r\n");
        let (replies, _) = h.batch("CLIENT REPLY SKIP\r\nECHO a\r\nECHO b\r\n");
        assert_eq!(replies, "$1\r\nb\r\n");
    }

    #[test]
    fn pause_write_holds_writes_in_the_buffer() {
        let mut h = Harness::new();
        let input = "CLIENT PAUSE 10000 WRITE\r\nGET k\r\nSET k v\r\nGET k\r\n";
        let (replies, end) = h.batch(input);
        assert_eq!(replies, "+OK\r\n$-1\r\n");
        assert_eq!(end.consumed, input.find("SET").unwrap(), "SET stays unread");
        assert!(end.held.is_some());
        h.server.clients.unpause();
        let (replies, end) = h.batch(&input[end.consumed..]);
        assert_eq!(replies, "+OK\r\n$1\r\nv\r\n");
        assert_eq!(end.held, None);
    }

    #[test]
    fn big_pipeline_stops_to_flush_its_replies() {
        let mut h = Harness::new();
        h.batch(&format!("SET k {}\r\n", "x".repeat(40_000)));
        let pipeline = "GET k\r\n".repeat(10);
        let (replies, end) = h.batch(&pipeline);
        assert!(end.flushed);
        assert!(replies.len() >= REPLY_FLUSH && replies.len() < REPLY_FLUSH + 41_000);
        assert_eq!(end.consumed, 4 * 7, "four GETs passed the flush size");
        let (_, end) = h.batch(&pipeline[end.consumed..]);
        assert!(end.flushed);
        let (_, end) = h.batch(&"GET k\r\n".repeat(2));
        assert!(!end.flushed, "nothing left to run");
    }

    #[test]
    fn monitor_may_not_touch_keys() {
        let mut h = Harness::new();
        let (replies, _) = h.batch("MONITOR\r\nGET k\r\nPING\r\n");
        assert_eq!(
            replies,
            "+OK\r\n-ERR Replica can't interact with the keyspace\r\n+PONG\r\n"
        );
    }
}
