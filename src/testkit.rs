//! In-process command runner for unit tests and benchmarks: a server with no
//! sockets and one client, returning each command's raw RESP reply.
//!
//! ```
//! let mut t = ferrokv::testkit::TestClient::new();
//! assert_eq!(t.run(&["SET", "k", "v"]), "+OK\r\n");
//! assert_eq!(t.run(&["GET", "k"]), "$1\r\nv\r\n");
//! ```

use std::sync::Arc;

use crate::cmd::{self, args::OwnedArgs};
use crate::config::Config;
use crate::protocol::Reply;
use crate::server::{Client, Server};

pub struct TestClient {
    pub server: Arc<Server>,
    pub client: Client,
    pub out: Reply,
}

impl Default for TestClient {
    fn default() -> Self {
        Self::new()
    }
}

impl TestClient {
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    pub fn with_config(config: Config) -> Self {
        let server = Server::new(config).expect("server");
        Self::on(server)
    }

    /// Another client of the same server.
    pub fn on(server: Arc<Server>) -> Self {
        let addr = "127.0.0.1:1".parse().unwrap();
        let handle = server.clients.register(addr, addr);
        let authenticated = !server.acl.default_needs_auth();
        TestClient {
            client: Client::new(handle, authenticated),
            out: Reply::new(false),
            server,
        }
    }

    /// Runs one command and returns its reply as text (lossy UTF-8).
    pub fn run<S: AsRef<[u8]>>(&mut self, args: &[S]) -> String {
        String::from_utf8_lossy(&self.run_raw(args)).into_owned()
    }

    /// Runs one command and returns its raw reply bytes.
    pub fn run_raw<S: AsRef<[u8]>>(&mut self, args: &[S]) -> Vec<u8> {
        let owned: OwnedArgs = args.iter().collect();
        self.out.buf.clear();
        cmd::execute(&self.server, &mut self.client, &mut self.out, &owned.view());
        self.out.buf.to_vec()
    }
}
