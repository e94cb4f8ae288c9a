//! TLS on `tls-port`: certificates made here with rcgen, clients through the
//! `redis` crate over `rediss://` (rustls), raw sockets, redis-cli and the
//! `--ping` probe.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::free_port;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// A CA and the certificates it signed, as PEM files in a directory of
/// their own, removed on drop.
struct Pki {
    dir: PathBuf,
    ca: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate and its key on disk.
struct Leaf {
    cert: PathBuf,
    key: PathBuf,
}

impl Pki {
    fn new(test: &str, ca_name: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!(
            "ferrokv-tls-{test}-{}-{}",
            ca_name.replace(' ', "_"),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, ca_name);
        let ca = params.self_signed(&key).unwrap().pem();
        std::fs::write(dir.join("ca.crt"), &ca).unwrap();
        Pki {
            dir,
            ca,
            issuer: Issuer::new(params, key),
        }
    }

    fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// A certificate for `localhost` and 127.0.0.1, signed by this CA.
    fn leaf(&self, name: &str) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let leaf = Leaf {
            cert: self.dir.join(format!("{name}.crt")),
            key: self.dir.join(format!("{name}.key")),
        };
        std::fs::write(&leaf.cert, cert.pem()).unwrap();
        std::fs::write(&leaf.key, key.serialize_pem()).unwrap();
        leaf
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A ferrokv with a TLS port, killed (by its PID) on drop.
struct TlsServer {
    child: Child,
    /// The plain port; 0 when disabled.
    port: u16,
    tls_port: u16,
}

impl TlsServer {
    /// Starts ferrokv serving TLS with `server`'s certificate; `plain`
    /// chooses whether the plain port is on too. Waits until the TLS port
    /// answers a handshake signed by `ca`.
    fn start(ca: &Pki, server: &Leaf, plain: bool, extra: &[&str]) -> TlsServer {
        let mut last = String::new();
        for _ in 0..3 {
            let port = if plain { free_port() } else { 0 };
            let tls_port = free_port();
            let child = Command::new(env!("CARGO_BIN_EXE_ferrokv"))
                .args(["--bind", "127.0.0.1", "--loglevel", "warning"])
                // No persistence, and files (if any) in the test's own dir.
                .args(["--save", "", "--appendonly", "no", "--dir", path(&ca.dir)])
                .args([
                    "--port",
                    &port.to_string(),
                    "--tls-port",
                    &tls_port.to_string(),
                ])
                .args(["--tls-cert-file", path(&server.cert)])
                .args(["--tls-key-file", path(&server.key)])
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut s = TlsServer {
                child,
                port,
                tls_port,
            };
            match s.wait_ready(ca) {
                Ok(()) => return s,
                Err(e) => last = e,
            }
        }
        panic!("TLS server did not start: {last}");
    }

    /// Ready when a TLS client gets an answer from our own process (another
    /// test's server could hold the port if ours failed to bind).
    fn wait_ready(&mut self, ca: &Pki) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited early with {status}"));
            }
            // mTLS servers refuse a client without a certificate: the
            // readiness probe presents one whenever the CA has a "probe" leaf.
            let client = probe_leaf(ca);
            match self.client(ca, client.as_ref()).and_then(|c| {
                c.get_connection_with_timeout(Duration::from_secs(2))
                    .map_err(|e| e.to_string())
            }) {
                Ok(mut conn) => {
                    let info: String = redis::cmd("INFO")
                        .arg("server")
                        .query(&mut conn)
                        .map_err(|e| e.to_string())?;
                    if info.contains(&format!("process_id:{}\r\n", self.child.id())) {
                        return Ok(());
                    }
                    return Err("port served by another process".into());
                }
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("no TLS answer on {}: {last}", self.tls_port))
    }

    fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}/", self.tls_port)
    }

    /// A `redis` crate client for the TLS port trusting `ca`, presenting
    /// `leaf` when given.
    fn client(&self, ca: &Pki, leaf: Option<&Leaf>) -> Result<redis::Client, String> {
        let client_tls = leaf.map(|leaf| redis::ClientTlsConfig {
            client_cert: std::fs::read(&leaf.cert).unwrap(),
            client_key: std::fs::read(&leaf.key).unwrap(),
        });
        let certs = redis::TlsCertificates {
            client_tls,
            root_cert: Some(ca.ca.as_bytes().to_vec()),
        };
        redis::Client::build_with_tls(self.url(), certs).map_err(|e| e.to_string())
    }

    /// A connection whose commands run; Err when the handshake or the
    /// first command fails.
    fn connect(&self, ca: &Pki, leaf: Option<&Leaf>) -> Result<redis::Connection, String> {
        let mut conn = self
            .client(ca, leaf)?
            .get_connection_with_timeout(Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        let pong: String = redis::cmd("PING")
            .query(&mut conn)
            .map_err(|e| e.to_string())?;
        assert_eq!(pong, "PONG");
        Ok(conn)
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The "probe" client certificate of a CA, when a test made one.
fn probe_leaf(ca: &Pki) -> Option<Leaf> {
    let leaf = Leaf {
        cert: ca.dir.join("probe.crt"),
        key: ca.dir.join("probe.key"),
    };
    leaf.cert.exists().then_some(leaf)
}

fn no_client_auth() -> [&'static str; 2] {
    ["--tls-auth-clients", "no"]
}

fn query<T: redis::FromRedisValue>(conn: &mut redis::Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query(conn).unwrap()
}

fn query_err(conn: &mut redis::Connection, args: &[&str]) -> String {
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    let err = cmd.query::<redis::Value>(conn).unwrap_err();
    format!(
        "{} {}",
        err.code().unwrap_or(""),
        err.detail().unwrap_or("")
    )
}

#[test]
fn rediss_clients_share_data_with_plain_ones() {
    let ca = Pki::new("share", "Share CA");
    let server = TlsServer::start(&ca, &ca.leaf("server"), true, &no_client_auth());
    let mut tls = server.connect(&ca, None).unwrap();
    let _: () = query(&mut tls, &["SET", "greeting", "over tls"]);
    let mut plain = common::Conn::connect(server.port);
    assert_eq!(plain.cmd(&["GET", "greeting"]), b"$8\r\nover tls\r\n");
    assert_eq!(plain.cmd(&["SET", "big", &"x".repeat(300_000)]), b"+OK\r\n");
    // A reply far larger than one TLS record arrives whole.
    let big: String = query(&mut tls, &["GET", "big"]);
    assert_eq!(big.len(), 300_000);
    // Pipelining over TLS.
    let mut pipe = redis::pipe();
    for i in 0..200 {
        pipe.cmd("INCR").arg("counter").ignore();
        pipe.cmd("RPUSH").arg("list").arg(i);
    }
    let lens: Vec<i64> = pipe.query(&mut tls).unwrap();
    assert_eq!(lens.last(), Some(&200));
    assert_eq!(plain.cmd(&["GET", "counter"]), b"$3\r\n200\r\n");
    let list: String = query(&mut tls, &["CLIENT", "LIST"]);
    for port in [server.port, server.tls_port] {
        assert!(list.contains(&format!("laddr=127.0.0.1:{port} ")), "{list}");
    }
    let port: Vec<String> = query(&mut tls, &["CONFIG", "GET", "tls-port"]);
    assert_eq!(port[1], server.tls_port.to_string());
}

#[tokio::test]
async fn async_rediss_client() {
    let ca = Pki::new("async", "Async CA");
    let server = TlsServer::start(&ca, &ca.leaf("server"), true, &no_client_auth());
    let client = server.client(&ca, None).unwrap();
    let mut conn = tokio::time::timeout(
        Duration::from_secs(10),
        client.get_multiplexed_async_connection(),
    )
    .await
    .unwrap()
    .unwrap();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query_async(&mut conn)
        .await
        .unwrap();
    let v: String = redis::cmd("GET")
        .arg("k")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(v, "v");
}

#[test]
fn mutual_tls_required() {
    let ca = Pki::new("mtls", "Client CA");
    ca.leaf("probe");
    let stranger = Pki::new("mtls", "Stranger CA");
    let server_leaf = ca.leaf("server");
    let ca_file = ca.ca_file();
    let extra = ["--tls-ca-cert-file", path(&ca_file)];
    let mut server = TlsServer::start(&ca, &server_leaf, true, &extra);
    let good = ca.leaf("app");
    let mut conn = server.connect(&ca, Some(&good)).unwrap();
    assert!(server.connect(&ca, None).is_err(), "no certificate");
    let forged = stranger.leaf("app");
    assert!(server.connect(&ca, Some(&forged)).is_err(), "unknown CA");
    // The refused handshakes harmed no one.
    let _: () = query(&mut conn, &["SET", "k", "v"]);
    let v: String = query(&mut conn, &["GET", "k"]);
    assert_eq!(v, "v");
    assert!(server.alive());
}

#[test]
fn optional_client_certificates() {
    let ca = Pki::new("optional", "Optional CA");
    let stranger = Pki::new("optional", "Other CA");
    let extra = [
        "--tls-auth-clients",
        "optional",
        "--tls-ca-cert-dir",
        path(&ca.dir),
    ];
    let server = TlsServer::start(&ca, &ca.leaf("server"), true, &extra);
    server.connect(&ca, None).unwrap();
    server.connect(&ca, Some(&ca.leaf("app"))).unwrap();
    assert!(
        server.connect(&ca, Some(&stranger.leaf("app"))).is_err(),
        "a certificate, when shown, must verify"
    );
}

#[test]
fn plaintext_client_on_tls_port_is_dropped() {
    let ca = Pki::new("plaintext", "Plain CA");
    let mut server = TlsServer::start(&ca, &ca.leaf("server"), true, &no_client_auth());
    let mut tls = server.connect(&ca, None).unwrap();
    // One that says nothing holds no one up while its handshake waits.
    let silent = TcpStream::connect(("127.0.0.1", server.tls_port)).unwrap();
    let mut talker = TcpStream::connect(("127.0.0.1", server.tls_port)).unwrap();
    talker
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    talker.write_all(b"PING\r\nSET k v\r\n").unwrap();
    let mut answer = Vec::new();
    // At most a TLS alert, then the close: never a RESP reply.
    talker
        .read_to_end(&mut answer)
        .expect("closed, not timed out");
    assert!(!answer.starts_with(b"+"), "{answer:?}");
    assert!(answer.len() < 16, "{answer:?}");
    let _: () = query(&mut tls, &["SET", "still", "here"]);
    // Neither became a client.
    let list: String = query(&mut tls, &["CLIENT", "LIST"]);
    for peer in [&silent, &talker] {
        let addr = format!("addr={} ", peer.local_addr().unwrap());
        assert!(!list.contains(&addr), "{list}");
    }
    let exists: i64 = query(&mut tls, &["EXISTS", "k"]);
    assert_eq!(exists, 0);
    assert!(server.alive());
    drop(silent);
}

#[test]
fn port_zero_serves_tls_only() {
    let ca = Pki::new("tlsonly", "Only CA");
    let server = TlsServer::start(&ca, &ca.leaf("server"), false, &no_client_auth());
    let mut conn = server.connect(&ca, None).unwrap();
    let port: Vec<String> = query(&mut conn, &["CONFIG", "GET", "port"]);
    assert_eq!(port[1], "0");
    let probe = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_ferrokv"))
            .arg("--ping")
            .args(args)
            .env_remove("FERROKV_PASSWORD")
            .env_remove("REDIS_PASSWORD")
            .output()
            .unwrap()
    };
    let target = format!("127.0.0.1:{}", server.tls_port);
    let ok = probe(&[&target, "--tls", "--cacert", path(&ca.ca_file())]);
    assert!(ok.status.success(), "{ok:?}");
    assert_eq!(ok.stdout, b"PONG\n");
    let plain = probe(&[&target]);
    assert!(!plain.status.success(), "plaintext probe on the TLS port");
    let missing = probe(&[&target, "--tls"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--cacert"));
}

#[test]
fn config_set_reloads_certificates() {
    let first = Pki::new("reload", "First CA");
    let second = Pki::new("reload", "Second CA");
    let server = TlsServer::start(&first, &first.leaf("server"), true, &no_client_auth());
    let mut before = server.connect(&first, None).unwrap();
    let mut admin = common::Conn::connect(server.port);

    // A bad path fails like Redis and changes nothing.
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "tls-cert-file", "/nonexistent/cert.pem"]),
        b"-ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - \
          Unable to update TLS configuration. Check server logs.\r\n"
    );
    let kept = admin.cmd(&["CONFIG", "GET", "tls-cert-file"]);
    assert!(String::from_utf8_lossy(&kept).contains("server.crt"));
    server.connect(&first, None).unwrap();

    // A new certificate and key, from another CA, in one CONFIG SET.
    let next = second.leaf("server");
    assert_eq!(
        admin.cmd(&[
            "CONFIG",
            "SET",
            "tls-cert-file",
            path(&next.cert),
            "tls-key-file",
            path(&next.key)
        ]),
        b"+OK\r\n"
    );
    server.connect(&second, None).unwrap();
    assert!(server.connect(&first, None).is_err(), "old chain is gone");
    // The connection made before the reload carries on.
    let pong: String = query(&mut before, &["PING"]);
    assert_eq!(pong, "PONG");

    // Rotation in place: same paths, new files, CONFIG SET to the same value.
    let rotated = first.leaf("rotated");
    std::fs::copy(&rotated.cert, &next.cert).unwrap();
    std::fs::copy(&rotated.key, &next.key).unwrap();
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "tls-cert-file", path(&next.cert)]),
        b"+OK\r\n"
    );
    server.connect(&first, None).unwrap();

    // A mismatched key is refused too.
    let other = second.leaf("other");
    let reply = admin.cmd(&["CONFIG", "SET", "tls-key-file", path(&other.key)]);
    assert!(reply.starts_with(b"-ERR CONFIG SET failed"), "{reply:?}");
    server.connect(&first, None).unwrap();

    // Bad TLS values are refused with the same words.
    let reply = query_err(&mut before, &["CONFIG", "SET", "tls-protocols", "SSLv2"]);
    assert!(
        reply.contains("Unable to update TLS configuration"),
        "{reply}"
    );
    let _: () = query(&mut before, &["CONFIG", "SET", "tls-protocols", "TLSv1.3"]);
    server.connect(&first, None).unwrap();
}

#[test]
fn encrypted_private_key_with_password() {
    use pkcs8::der::Decode;
    let ca = Pki::new("encrypted", "Encrypted CA");
    let leaf = ca.leaf("server");
    let pem = std::fs::read_to_string(&leaf.key).unwrap();
    let (_, doc) = pkcs8::der::SecretDocument::from_pem(&pem).unwrap();
    let info = pkcs8::PrivateKeyInfo::from_der(doc.as_bytes()).unwrap();
    let params =
        pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, b"saltsalt", &[7; 16])
            .unwrap();
    let encrypted = info.encrypt_with_params(params, "s3cret").unwrap();
    let encrypted = encrypted
        .to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF)
        .unwrap();
    std::fs::write(&leaf.key, encrypted.as_bytes()).unwrap();

    let mut extra = no_client_auth().to_vec();
    extra.extend(["--tls-key-file-pass", "s3cret"]);
    let server = TlsServer::start(&ca, &leaf, true, &extra);
    server.connect(&ca, None).unwrap();

    // A wrong password stops start-up, as in Redis.
    let status = Command::new(env!("CARGO_BIN_EXE_ferrokv"))
        .args(["--port", "0", "--tls-port", &free_port().to_string()])
        .args(["--tls-cert-file", path(&leaf.cert)])
        .args(["--tls-key-file", path(&leaf.key)])
        .args(["--tls-key-file-pass", "wrong", "--tls-auth-clients", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success());
}

#[test]
fn redis_cli_tls() {
    let cli_has_tls = Command::new("redis-cli")
        .arg("--help")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--tls"));
    if !cli_has_tls {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("redis-cli with TLS is required in CI");
        }
        eprintln!("SKIPPED: no redis-cli built with TLS");
        return;
    }
    let ca = Pki::new("cli", "Cli CA");
    ca.leaf("probe");
    let ca_file = ca.ca_file();
    let extra = ["--tls-ca-cert-file", path(&ca_file)];
    let server = TlsServer::start(&ca, &ca.leaf("server"), false, &extra);
    let app = ca.leaf("app");
    let cli = |args: &[&str]| {
        Command::new("redis-cli")
            .args(["-p", &server.tls_port.to_string(), "--tls"])
            .args(["--cacert", path(&ca.ca_file())])
            .args(args)
            .output()
            .unwrap()
    };
    let cert_args = ["--cert", path(&app.cert), "--key", path(&app.key)];
    let out = cli(&[&cert_args[..], &["SET", "from", "cli"]].concat());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "OK\n");
    let out = cli(&[&cert_args[..], &["GET", "from"]].concat());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "cli\n");
    // Without a client certificate the handshake is refused.
    let out = cli(&["PING"]);
    assert_ne!(String::from_utf8_lossy(&out.stdout), "PONG\n");
}

/// Node apps connect with ioredis (Bull, BullMQ) over `rediss://`, with the
/// CA and, under mutual TLS, a client certificate.
#[test]
fn ioredis_over_rediss() {
    if !common::on_path("node") || !common::on_path("npm") {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but node/npm are missing: .ci/run must install them"
        );
        eprintln!("SKIPPED ioredis over TLS: node or npm not installed");
        return;
    }
    let dir = common::node_clients().unwrap_or_else(|e| panic!("{e}"));
    let ca = Pki::new("ioredis", "Node CA");
    ca.leaf("probe");
    let ca_file = ca.ca_file();
    let server = TlsServer::start(
        &ca,
        &ca.leaf("server"),
        false,
        &["--tls-ca-cert-file", path(&ca_file)],
    );
    let app = ca.leaf("app");
    let script = r#"
        const fs = require('fs');
        const Redis = require('ioredis');
        const e = process.env;
        const tls = {
          ca: fs.readFileSync(e.CA), cert: fs.readFileSync(e.CERT),
          key: fs.readFileSync(e.KEY), servername: 'localhost',
        };
        const redis = new Redis(`rediss://127.0.0.1:${e.PORT}`, { tls, maxRetriesPerRequest: 1 });
        (async () => {
          await redis.set('from', 'ioredis');
          console.log(`${await redis.get('from')} ${await redis.incr('hits')}`);
          redis.disconnect();
        })().catch((err) => { console.error(err); process.exit(1); });
    "#;
    let mut node = Command::new("node");
    node.args(["-e", script])
        .current_dir(&dir)
        .env("PORT", server.tls_port.to_string())
        .env("CA", path(&ca_file))
        .env("CERT", path(&app.cert))
        .env("KEY", path(&app.key));
    let out = common::run_limited(node, "ioredis over TLS", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.trim(), "ioredis 1");
}
