//! One task per connection: read whatever arrived, run every complete command
//! in it, write all their replies with one write. A protocol error is answered
//! with Redis's message and closes the connection, after the replies to the
//! commands before it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Client, ReplyMode, Server};
use crate::cmd::{self, Args};
use crate::protocol::{Limits, Parsed, Reply, Span, parse_request};

/// Read-buffer growth step; also the size below which a buffer is never shrunk.
const READ_CHUNK: usize = 16 * 1024;

pub async fn serve(server: Arc<Server>, mut stream: TcpStream, addr: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().unwrap_or(addr);
    server.stats.total_connections.fetch_add(1, Relaxed);
    let (maxclients, needs_auth) = {
        let config = server.config.read();
        (config.maxclients, config.requirepass.is_some())
    };
    if server.clients.len() >= maxclients {
        server.stats.rejected_connections.fetch_add(1, Relaxed);
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        return;
    }
    let handle = server.clients.register(addr, local);
    let mut client = Client::new(handle.clone(), !needs_auth);
    let mut session = Session::default();
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut out = Reply::new(false);

    loop {
        if rbuf.capacity() - rbuf.len() < READ_CHUNK / 4 {
            // Grow with what has arrived, never with what a header announces.
            rbuf.reserve(rbuf.len().max(READ_CHUNK));
        }
        let read = tokio::select! {
            biased;
            _ = handle.killed() => break,
            r = stream.read_buf(&mut rbuf) => r,
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => server.stats.net_input_bytes.fetch_add(n as u64, Relaxed),
        };
        let consumed = session.run_batch(&server, &mut client, &mut out, &rbuf);
        rbuf.advance(consumed);
        if !out.is_empty() {
            server
                .stats
                .net_output_bytes
                .fetch_add(out.len() as u64, Relaxed);
            if stream.write_all(&out.buf).await.is_err() {
                break;
            }
            out.buf.clear();
            if out.buf.capacity() > 1024 * 1024 {
                out.buf = BytesMut::with_capacity(READ_CHUNK);
            }
        }
        if rbuf.is_empty() && rbuf.capacity() > 1024 * 1024 {
            rbuf = BytesMut::with_capacity(READ_CHUNK);
        }
        handle.query_buffer.store(rbuf.len(), Relaxed);
        if client.close_after_reply || handle.is_killed() {
            break;
        }
    }
    let _ = stream.shutdown().await;
    server.clients.unregister(client.id);
}

/// Parser scratch space reused for every request of a connection.
#[derive(Default)]
pub struct Session {
    spans: Vec<Span>,
    scratch: Vec<u8>,
}

impl Session {
    /// Runs every complete request at the start of `buf`, appending replies to
    /// `out`. Returns the bytes consumed.
    pub fn run_batch(
        &mut self,
        server: &Server,
        client: &mut Client,
        out: &mut Reply,
        buf: &[u8],
    ) -> usize {
        let limits = Limits {
            max_bulk: server.config.read().proto_max_bulk_len,
            unauthenticated: !client.authenticated,
        };
        let mut pos = 0;
        while pos < buf.len() && !client.close_after_reply {
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
            pos += consumed;
            run_one(server, client, out, &args);
        }
        pos
    }
}

/// Runs one command, honouring CLIENT REPLY OFF/SKIP by discarding its reply.
fn run_one(server: &Server, client: &mut Client, out: &mut Reply, args: &Args<'_>) {
    if client.reply_mode == ReplyMode::SkipNext {
        client.reply_mode = ReplyMode::Skip;
    }
    let mark = out.len();
    cmd::execute(server, client, out, args);
    match client.reply_mode {
        ReplyMode::Off => out.buf.truncate(mark),
        ReplyMode::Skip => {
            out.buf.truncate(mark);
            client.reply_mode = ReplyMode::On;
        }
        _ => {}
    }
}
