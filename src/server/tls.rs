//! TLS for client connections: rustls (ring provider) behind `tls-port`,
//! configured by Redis 7.0's `tls-*` directives.
//!
//! The rustls `ServerConfig` is built whole from the configuration, at
//! start-up and again whenever CONFIG SET touches a directive that feeds it;
//! new connections take the current one, connections already open keep
//! theirs. A failed rebuild (missing file, wrong password, bad cipher list)
//! fails the CONFIG SET and leaves the previous certificates in place, with
//! Redis's error text and the reason in the log.
//!
//! After the handshake a TLS connection runs the same loop as a plain one
//! ([`super::conn::serve`] is generic over the stream). A peer that never
//! completes the handshake (a plaintext client, a port scanner) is dropped
//! after [`HANDSHAKE_TIMEOUT`] at the latest, without ever becoming a client.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{
    self, CipherSuite, RootCertStore, ServerConfig, SupportedCipherSuite,
    crypto::CryptoProvider,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::{ServerSessionMemoryCache, StoresServerSessions, WebPkiClientVerifier},
};

use super::Server;
use super::conn::Stream;
use crate::config::Config;

/// How long a peer on the TLS port has to finish its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What Redis answers when CONFIG SET cannot rebuild the TLS context.
const UPDATE_FAILED: &str = "Unable to update TLS configuration. Check server logs.";

/// Bumped by every successful [`check_reload`], so [`Tls::refresh`] rebuilds
/// even when a directive was set to its current value: rotating certificate
/// files in place, then `CONFIG SET tls-cert-file <same path>`, is the usual
/// way to reload them.
static RELOADS: AtomicU64 = AtomicU64::new(0);

/// The TLS side of the server: the acceptor new connections use.
#[derive(Default)]
pub struct Tls {
    acceptor: RwLock<Option<TlsAcceptor>>,
    /// The [`RELOADS`] count the current acceptor was built for.
    built_for: Mutex<u64>,
}

impl Tls {
    /// Builds the acceptor when `tls-port` is set; an error stops start-up.
    pub fn new(config: &Config) -> Result<Tls, String> {
        let tls = Tls::default();
        if tls_wanted(config) {
            let built = build(config).map_err(|why| {
                tracing::warn!("{why}");
                "Failed to configure TLS. Check logs for more info.".to_string()
            })?;
            *tls.acceptor.write() = Some(TlsAcceptor::from(built));
        }
        *tls.built_for.lock() = RELOADS.load(Relaxed);
        Ok(tls)
    }

    /// After a CONFIG SET: rebuilds when a TLS directive was set since the
    /// last build. The hook already proved the files load; should they have
    /// changed in between, the old acceptor stays.
    pub fn refresh(&self, config: &Config) {
        let mut built_for = self.built_for.lock();
        let wanted = RELOADS.load(Relaxed);
        if *built_for == wanted || !tls_wanted(config) {
            return;
        }
        match build(config) {
            Ok(built) => {
                *self.acceptor.write() = Some(TlsAcceptor::from(built));
                *built_for = wanted;
                tracing::info!("TLS configuration reloaded");
            }
            Err(why) => tracing::warn!("{why}"),
        }
    }

    pub fn acceptor(&self) -> Option<TlsAcceptor> {
        self.acceptor.read().clone()
    }
}

/// CONFIG SET hook of every directive that feeds the TLS context: proves the
/// new values build one. As in Redis, nothing is checked while TLS is off.
pub fn check_reload(config: &Config) -> Result<(), String> {
    if !tls_wanted(config) {
        return Ok(());
    }
    if let Err(why) = build(config) {
        tracing::warn!("{why}");
        tracing::warn!("Failed applying new TLS configuration. Restoring previous settings.");
        return Err(UPDATE_FAILED.into());
    }
    RELOADS.fetch_add(1, Relaxed);
    Ok(())
}

/// Redis builds its TLS context for `tls-port`, and also for TLS
/// replication or cluster links, which ferrokv does not have.
fn tls_wanted(config: &Config) -> bool {
    tls_port(config) != 0
        || value(config, "tls-replication") == "yes"
        || value(config, "tls-cluster") == "yes"
}

fn tls_port(config: &Config) -> u16 {
    value(config, "tls-port").parse().unwrap_or(0)
}

fn value(config: &Config, name: &str) -> String {
    config.value(name).unwrap_or_default()
}

/// Binds `tls-port` on every `bind` address and serves TLS there.
pub fn listen(server: &Arc<Server>) -> std::io::Result<()> {
    let mut config = server.config.read().clone();
    config.port = tls_port(&config);
    if config.port == 0 {
        return Ok(());
    }
    for listener in super::bind(&config)? {
        let addr = listener.local_addr()?;
        server.bound.write().push(addr);
        tracing::info!("Ready to accept connections tls on {addr}");
        tokio::spawn(accept_loop(server.clone(), listener));
    }
    Ok(())
}

async fn accept_loop(server: Arc<Server>, listener: TcpListener) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    tokio::spawn(handshake_then_serve(server.clone(), stream, addr));
                }
                Err(e) => {
                    tracing::warn!("Accepting client connection: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = server.wait_shutdown() => return,
        }
    }
}

async fn handshake_then_serve(server: Arc<Server>, stream: TcpStream, addr: SocketAddr) {
    let Some(acceptor) = server.tls.acceptor() else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let shaken = tokio::select! {
        shaken = handshake(&acceptor, stream, HANDSHAKE_TIMEOUT) => shaken,
        _ = server.wait_shutdown() => return,
    };
    match shaken {
        Ok(tls) => super::conn::serve(server, tls, addr).await,
        Err(why) => tracing::debug!("Error accepting a client connection: {why} (addr={addr})"),
    }
}

/// The server side of a handshake, given up after `limit`.
pub async fn handshake<S>(
    acceptor: &TlsAcceptor,
    stream: S,
    limit: Duration,
) -> Result<tokio_rustls::server::TlsStream<S>, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    match tokio::time::timeout(limit, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Ok(tls),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("TLS handshake timed out".into()),
    }
}

impl Stream for tokio_rustls::server::TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
}

/// The rustls server configuration the `tls-*` directives describe; the
/// error is the line Redis would log.
pub fn build(config: &Config) -> Result<Arc<ServerConfig>, String> {
    let provider = Arc::new(provider(config)?);
    let versions = protocol_versions(&value(config, "tls-protocols"))?;
    let cert_file = value(config, "tls-cert-file");
    let key_file = value(config, "tls-key-file");
    if cert_file.is_empty() || key_file.is_empty() {
        return Err("TLS needs tls-cert-file and tls-key-file".into());
    }
    let chain = load_certs(&cert_file)
        .map_err(|e| format!("Failed to load certificate: {cert_file}: {e}"))?;
    let key = load_key(&key_file, &value(config, "tls-key-file-pass"))
        .map_err(|e| format!("Failed to load private key: {key_file}: {e}"))?;
    check_unused_files(config)?;

    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("Failed to configure TLS protocols: {e}"))?;
    let auth = value(config, "tls-auth-clients");
    let roots = load_roots(config)?;
    let builder = match (auth.as_str(), roots) {
        ("no", _) => builder.with_no_client_auth(),
        (_, None) => {
            return Err(
                "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when \
                        tls-cluster, tls-replication or tls-auth-clients are enabled!"
                    .into(),
            );
        }
        (mode, Some(roots)) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if mode == "optional" {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|e| format!("Failed to configure client verification: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut server = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("Failed to load private key: {key_file}: {e}"))?;
    server.ignore_client_order = value(config, "tls-prefer-server-ciphers") == "yes";
    if value(config, "tls-session-caching") == "yes" {
        let size: usize = value(config, "tls-session-cache-size")
            .parse()
            .unwrap_or(20480);
        let timeout: u64 = value(config, "tls-session-cache-timeout")
            .parse()
            .unwrap_or(300);
        // OpenSSL reads a size of 0 as unlimited; keep some bound all the same.
        let size = if size == 0 { 1 << 20 } else { size };
        server.session_storage = Arc::new(SessionCache::new(size, timeout));
    } else {
        server.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        server.send_tls13_tickets = 0;
    }
    Ok(Arc::new(server))
}

/// Files Redis loads for links ferrokv does not make (replication, cluster)
/// or for ciphers rustls lacks (finite-field DH): still checked, so a
/// configuration that starts here starts on Redis too.
fn check_unused_files(config: &Config) -> Result<(), String> {
    let client_cert = value(config, "tls-client-cert-file");
    if !client_cert.is_empty() {
        load_certs(&client_cert)
            .map_err(|e| format!("Failed to load certificate: {client_cert}: {e}"))?;
        let key = value(config, "tls-client-key-file");
        load_key(&key, &value(config, "tls-client-key-file-pass"))
            .map_err(|e| format!("Failed to load private key: {key}: {e}"))?;
    }
    let dh = value(config, "tls-dh-params-file");
    if !dh.is_empty() {
        std::fs::metadata(&dh).map_err(|e| format!("Failed to load {dh}: {e}"))?;
    }
    Ok(())
}

/// ring's cipher suites, narrowed by `tls-ciphersuites` (TLS 1.3, OpenSSL
/// names) and `tls-ciphers` (TLS 1.2, an OpenSSL cipher string).
fn provider(config: &Config) -> Result<CryptoProvider, String> {
    let mut provider = rustls::crypto::ring::default_provider();
    let v13 = value(config, "tls-ciphersuites");
    if !v13.is_empty() {
        let wanted = select_suites(&v13, &provider.cipher_suites, true)
            .ok_or_else(|| format!("Failed to configure ciphersuites: {v13}"))?;
        provider
            .cipher_suites
            .retain(|s| !is_tls13(s) || wanted.contains(&s.suite()));
    }
    let v12 = value(config, "tls-ciphers");
    if !v12.is_empty() {
        let wanted = select_suites(&v12, &provider.cipher_suites, false)
            .ok_or_else(|| format!("Failed to configure ciphers: {v12}"))?;
        // Only OpenSSL keywords (HIGH, DEFAULT, !aNULL...): keep ring's set,
        // which holds nothing those keywords exclude.
        if !wanted.is_empty() {
            provider
                .cipher_suites
                .retain(|s| is_tls13(s) || wanted.contains(&s.suite()));
        }
    }
    Ok(provider)
}

fn is_tls13(suite: &SupportedCipherSuite) -> bool {
    matches!(suite, SupportedCipherSuite::Tls13(_))
}

/// OpenSSL's names for the TLS 1.2 suites ring implements.
const OPENSSL_TLS12: &[(&str, CipherSuite)] = &[
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "ECDHE-RSA-CHACHA20-POLY1305",
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// OpenSSL cipher-string words that select groups rather than one suite.
const OPENSSL_KEYWORDS: &[&str] = &[
    "DEFAULT",
    "ALL",
    "HIGH",
    "MEDIUM",
    "LOW",
    "COMPLEMENTOFDEFAULT",
    "COMPLEMENTOFALL",
    "ECDHE",
    "EECDH",
    "ECDH",
    "kECDHE",
    "aRSA",
    "aECDSA",
    "RSA",
    "ECDSA",
    "AESGCM",
    "AES",
    "AES128",
    "AES256",
    "CHACHA20",
    "SHA256",
    "SHA384",
    "SHA",
    "aNULL",
    "eNULL",
    "NULL",
    "MD5",
    "RC4",
    "DES",
    "3DES",
    "EXPORT",
    "PSK",
    "SRP",
    "DSS",
    "kRSA",
    "DHE",
    "EDH",
    "CAMELLIA",
    "ARIA",
    "CCM",
    "SEED",
    "IDEA",
    "TLSv1.2",
    "TLSv1",
    "SSLv3",
];

/// The suites a list names. None when it names nothing OpenSSL would
/// accept either; for TLS 1.2, an empty set when it only uses keywords.
fn select_suites(
    list: &str,
    available: &[SupportedCipherSuite],
    tls13: bool,
) -> Option<Vec<CipherSuite>> {
    let mut wanted = Vec::new();
    let mut understood = false;
    for item in list.split([':', ',', ' ']).filter(|w| !w.is_empty()) {
        if tls13 {
            // OpenSSL's TLS_AES_128_GCM_SHA256 is rustls's TLS13_AES_128_GCM_SHA256.
            let Some(rest) = item.strip_prefix("TLS_") else {
                continue;
            };
            understood = true;
            wanted.extend(
                available
                    .iter()
                    .map(|s| s.suite())
                    .filter(|s| format!("{s:?}") == format!("TLS13_{rest}")),
            );
            continue;
        }
        let excluded = item.starts_with(['!', '-']);
        let name = item.trim_start_matches(['!', '-', '+']);
        if let Some(&(_, suite)) = OPENSSL_TLS12.iter().find(|(n, _)| *n == name) {
            understood = true;
            if !excluded {
                wanted.push(suite);
            }
        } else if name.starts_with('@')
            || name.split('+').all(|w| OPENSSL_KEYWORDS.contains(&w))
            // A real OpenSSL suite ring lacks (AES128-SHA...): accepted, unused.
            || (name.contains('-') && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        {
            understood = true;
        }
    }
    if tls13 && wanted.is_empty() {
        return None;
    }
    understood.then_some(wanted)
}

/// `tls-protocols`: empty means TLS 1.2 and 1.3. rustls has neither TLS 1.0
/// nor 1.1, so those are accepted and left out.
fn protocol_versions(list: &str) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    if list.trim().is_empty() {
        return Ok(vec![&rustls::version::TLS13, &rustls::version::TLS12]);
    }
    let mut versions = Vec::new();
    for word in list.split_whitespace() {
        match word.to_ascii_lowercase().as_str() {
            "tlsv1.3" => versions.push(&rustls::version::TLS13),
            "tlsv1.2" => versions.push(&rustls::version::TLS12),
            "tlsv1" | "tlsv1.1" => tracing::warn!("{word} is not supported by ferrokv, ignored"),
            _ => {
                return Err(
                    "Invalid tls-protocols specified. Use a combination of 'TLSv1', \
                            'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'."
                        .into(),
                );
            }
        }
    }
    if versions.is_empty() {
        return Err("tls-protocols: ferrokv supports TLSv1.2 and TLSv1.3 only".into());
    }
    Ok(versions)
}

fn load_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = std::fs::read(path).map_err(|e| e.to_string())?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no certificate found".into());
    }
    Ok(certs)
}

/// A PEM private key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC); an `ENCRYPTED
/// PRIVATE KEY` (PKCS#8 with PBES2, as `openssl pkcs8 -topk8` writes) is
/// decrypted with `tls-key-file-pass`.
pub fn load_key(path: &str, pass: &str) -> Result<PrivateKeyDer<'static>, String> {
    const BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
    const END: &str = "-----END ENCRYPTED PRIVATE KEY-----";
    let pem = std::fs::read(path).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&pem);
    if let Some(start) = text.find(BEGIN) {
        let end = text[start..]
            .find(END)
            .map(|at| start + at + END.len())
            .ok_or("truncated encrypted key")?;
        if pass.is_empty() {
            return Err("the key is encrypted: set tls-key-file-pass".into());
        }
        let (_, doc) =
            pkcs8::der::Document::from_pem(&text[start..end]).map_err(|e| e.to_string())?;
        let info =
            pkcs8::EncryptedPrivateKeyInfo::try_from(doc.as_bytes()).map_err(|e| e.to_string())?;
        let plain = info
            .decrypt(pass)
            .map_err(|_| "bad decrypt (wrong tls-key-file-pass?)".to_string())?;
        return Ok(PrivateKeyDer::Pkcs8(plain.as_bytes().to_vec().into()));
    }
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err("legacy encrypted PEM key: convert it with `openssl pkcs8 -topk8`".into());
    }
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| e.to_string())
}

/// The client CAs from `tls-ca-cert-file` and every certificate file in
/// `tls-ca-cert-dir`; None when neither is set.
fn load_roots(config: &Config) -> Result<Option<RootCertStore>, String> {
    let file = value(config, "tls-ca-cert-file");
    let dir = value(config, "tls-ca-cert-dir");
    if file.is_empty() && dir.is_empty() {
        return Ok(None);
    }
    let failed = |e: String| format!("Failed to configure CA certificate(s) file/directory: {e}");
    let mut certs = Vec::new();
    if !file.is_empty() {
        certs.extend(load_certs(&file).map_err(|e| failed(format!("{file}: {e}")))?);
    }
    if !dir.is_empty() {
        let entries = std::fs::read_dir(&dir).map_err(|e| failed(format!("{dir}: {e}")))?;
        for entry in entries.flatten() {
            // Hash links, keys and other files sit beside the certificates.
            if let Ok(found) = load_certs(&entry.path().to_string_lossy()) {
                certs.extend(found);
            }
        }
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| failed(format!("bad CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(failed("no CA certificate found".into()));
    }
    Ok(Some(roots))
}

/// rustls's session cache with `tls-session-cache-timeout`: every value is
/// stored behind the second it was stored at, and older ones are misses.
#[derive(Debug)]
struct SessionCache {
    inner: Arc<ServerSessionMemoryCache>,
    timeout_s: u64,
}

impl SessionCache {
    fn new(size: usize, timeout_s: u64) -> SessionCache {
        SessionCache {
            inner: ServerSessionMemoryCache::new(size),
            timeout_s,
        }
    }

    fn fresh(&self, stored: Vec<u8>) -> Option<Vec<u8>> {
        let (stamp, value) = stored.split_at_checked(8)?;
        let at = u64::from_le_bytes(stamp.try_into().ok()?);
        (now_s().saturating_sub(at) <= self.timeout_s).then(|| value.to_vec())
    }
}

fn now_s() -> u64 {
    crate::cmd::now_ms() / 1000
}

impl StoresServerSessions for SessionCache {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        let mut stamped = now_s().to_le_bytes().to_vec();
        stamped.extend_from_slice(&value);
        self.inner.put(key, stamped)
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.fresh(self.inner.get(key)?)
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.fresh(self.inner.take(key)?)
    }

    fn can_cache(&self) -> bool {
        true
    }
}

/// Client options of the `ferrokv --ping --tls` health probe, named like
/// redis-cli's.
#[derive(Debug, Default, PartialEq)]
pub struct ProbeTls {
    /// `--cacert`: the CA that signed the server's certificate.
    pub cacert: String,
    /// `--cert` and `--key`: a client certificate, for `tls-auth-clients yes`.
    pub cert: Option<String>,
    pub key: Option<String>,
    /// `--sni`: the name to verify; the probe's host by default.
    pub sni: Option<String>,
}

/// Wraps the probe's connected socket in a TLS client session; the
/// handshake happens on the first write.
pub fn probe_stream(
    tcp: std::net::TcpStream,
    host: &str,
    opts: &ProbeTls,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for cert in load_certs(&opts.cacert).map_err(|e| format!("{}: {e}", opts.cacert))? {
        roots.add(cert).map_err(|e| e.to_string())?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let config = match (&opts.cert, &opts.key) {
        (Some(cert), Some(key)) => {
            let chain = load_certs(cert).map_err(|e| format!("{cert}: {e}"))?;
            let key = load_key(key, "").map_err(|e| format!("{key}: {e}"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| e.to_string())?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err("--cert and --key go together".into()),
    };
    let name = opts.sni.as_deref().unwrap_or(host);
    let name = name.trim_start_matches('[').trim_end_matches(']');
    let name = rustls::pki_types::ServerName::try_from(name.to_string())
        .map_err(|e| format!("{name}: {e}"))?;
    let session =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    Ok(rustls::StreamOwned::new(session, tcp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring_suites() -> Vec<SupportedCipherSuite> {
        rustls::crypto::ring::default_provider().cipher_suites
    }

    #[test]
    fn protocols_follow_redis_words() {
        assert_eq!(protocol_versions("").unwrap().len(), 2);
        assert_eq!(protocol_versions("TLSv1.2").unwrap().len(), 1);
        assert_eq!(protocol_versions("tlsv1.2 TLSv1.3").unwrap().len(), 2);
        assert_eq!(protocol_versions("TLSv1.1 TLSv1.3").unwrap().len(), 1);
        assert!(
            protocol_versions("foo")
                .unwrap_err()
                .contains("Invalid tls-protocols")
        );
        assert!(protocol_versions("TLSv1").is_err());
    }

    #[test]
    fn cipher_lists_use_openssl_names() {
        let all = ring_suites();
        let v13 = select_suites(
            "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256",
            &all,
            true,
        );
        assert_eq!(
            v13.unwrap(),
            [
                CipherSuite::TLS13_AES_256_GCM_SHA384,
                CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
            ]
        );
        assert_eq!(select_suites("bogus", &all, true), None);
        let v12 = select_suites("ECDHE-RSA-AES128-GCM-SHA256:!aNULL", &all, false);
        assert_eq!(
            v12.unwrap(),
            [CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]
        );
        assert_eq!(select_suites("HIGH:!aNULL:!MD5", &all, false), Some(vec![]));
        assert_eq!(
            select_suites("DEFAULT:@SECLEVEL=1", &all, false),
            Some(vec![])
        );
        assert_eq!(select_suites("AES256-SHA", &all, false), Some(vec![]));
        assert_eq!(select_suites("bogus", &all, false), None);
    }

    #[test]
    fn session_cache_forgets_after_timeout() {
        let cache = SessionCache::new(8, 300);
        assert!(cache.put(b"k".to_vec(), b"v".to_vec()));
        assert_eq!(cache.get(b"k").as_deref(), Some(&b"v"[..]));
        let old = (now_s() - 301).to_le_bytes().to_vec();
        cache
            .inner
            .put(b"old".to_vec(), [old, b"v".to_vec()].concat());
        assert_eq!(cache.get(b"old"), None);
        assert_eq!(cache.take(b"k").as_deref(), Some(&b"v"[..]));
        assert_eq!(cache.get(b"k"), None);
    }

    #[tokio::test]
    async fn silent_peer_is_dropped_after_the_handshake_timeout() {
        let dir = std::env::temp_dir().join(format!("ferrokv-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (cert_file, key_file) = (dir.join("c.pem"), dir.join("k.pem"));
        std::fs::write(&cert_file, cert.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        let mut config = Config::default();
        let text = format!(
            "tls-port 1\ntls-auth-clients no\ntls-cert-file {}\ntls-key-file {}\n",
            cert_file.display(),
            key_file.display()
        );
        config.load_text(&text).unwrap();
        let acceptor = TlsAcceptor::from(build(&config).unwrap());
        let (_client, server_side) = tokio::io::duplex(1024);
        let started = std::time::Instant::now();
        let err = handshake(&acceptor, server_side, Duration::from_millis(50))
            .await
            .err()
            .unwrap();
        assert_eq!(err, "TLS handshake timed out");
        assert!(started.elapsed() < Duration::from_secs(5));
        // Plaintext instead of a ClientHello fails at once, not at the timeout.
        let (mut client, server_side) = tokio::io::duplex(1024);
        tokio::io::AsyncWriteExt::write_all(&mut client, b"PING\r\n")
            .await
            .unwrap();
        let err = handshake(&acceptor, server_side, Duration::from_secs(30))
            .await
            .err()
            .unwrap();
        assert_ne!(err, "TLS handshake timed out");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
