//! HTTPS in the binary (`[tls]` of `islet.toml`): rustls with aws-lc-rs,
//! TLS 1.2 and 1.3 only, HTTP/2 when the client offers it (ALPN), and
//! client certificates from the site's CAs when `[auth] client_ca` is set.
//!
//! The certificate, key, client CAs and revocation lists are read again on
//! SIGHUP ([`TlsState::reload`]): the next handshake uses the new ones,
//! while connections already open keep theirs. A reload that fails keeps
//! the old configuration and says why (stderr, `/metrics`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use rustls::RootCertStore;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use x509_cert::der::Decode;

use crate::error::{Error, Result};

/// Largest certificate, key, CA or CRL file read.
pub const MAX_TLS_FILE_BYTES: u64 = 1024 * 1024;

/// The protocols offered by ALPN, in order of preference.
pub const ALPN_PROTOCOLS: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// The files a TLS configuration is made from (absolute paths).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain, PEM, leaf first.
    pub cert: PathBuf,
    /// Private key, PEM.
    pub key: PathBuf,
    /// Client certificate authorities, PEM.
    pub client_ca: Vec<PathBuf>,
    /// Their revocation lists, PEM or DER.
    pub client_crl: Vec<PathBuf>,
}

/// The TLS configuration in force, and its reloads.
#[derive(Debug)]
pub struct TlsState {
    files: TlsFiles,
    current: RwLock<Arc<ServerConfig>>,
    metrics: TlsMetrics,
}

#[derive(Debug, Default)]
struct TlsMetrics {
    not_after: AtomicU64,
    reloads: AtomicU64,
    reload_failures: AtomicU64,
    handshake_failures: AtomicU64,
    handshakes: AtomicU64,
    client_certificates: AtomicU64,
}

impl TlsState {
    /// Loads the configuration from `files`.
    ///
    /// # Errors
    /// [`Error::Config`] naming the file and what is wrong with it.
    pub fn load(files: TlsFiles) -> Result<TlsState> {
        let (config, not_after) = build(&files)?;
        let metrics = TlsMetrics::default();
        metrics.not_after.store(not_after, Ordering::Relaxed);
        Ok(TlsState {
            files,
            current: RwLock::new(config),
            metrics,
        })
    }

    /// Reads the files again and, when they make a valid configuration,
    /// puts it in force for the next handshake.
    ///
    /// # Errors
    /// [`Error::Config`]; the old configuration stays.
    pub fn reload(&self) -> Result<()> {
        match build(&self.files) {
            Ok((config, not_after)) => {
                if let Ok(mut current) = self.current.write() {
                    *current = config;
                }
                self.metrics.not_after.store(not_after, Ordering::Relaxed);
                self.metrics.reloads.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                self.metrics.reload_failures.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// The configuration for the next handshake.
    pub fn current(&self) -> Arc<ServerConfig> {
        match self.current.read() {
            Ok(c) => Arc::clone(&c),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// The certificate file.
    pub fn cert_path(&self) -> &Path {
        &self.files.cert
    }

    pub(crate) fn count_handshake(&self, ok: bool, client_certificate: bool) {
        let m = &self.metrics;
        if ok {
            m.handshakes.fetch_add(1, Ordering::Relaxed);
        } else {
            m.handshake_failures.fetch_add(1, Ordering::Relaxed);
        }
        if client_certificate {
            m.client_certificates.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The Prometheus text of the TLS figures.
    pub fn render_metrics(&self, out: &mut String) {
        let m = &self.metrics;
        let _ = writeln!(
            out,
            "# HELP islet_tls_certificate_not_after_seconds When the served certificate expires (Unix time).\n\
             # TYPE islet_tls_certificate_not_after_seconds gauge\n\
             islet_tls_certificate_not_after_seconds {}",
            m.not_after.load(Ordering::Relaxed)
        );
        for (name, help, value) in [
            (
                "islet_tls_reloads_total",
                "Certificate reloads (SIGHUP) that took effect.",
                &m.reloads,
            ),
            (
                "islet_tls_reload_failures_total",
                "Certificate reloads that failed; the old certificate stays.",
                &m.reload_failures,
            ),
            (
                "islet_tls_handshakes_total",
                "TLS handshakes completed.",
                &m.handshakes,
            ),
            (
                "islet_tls_handshake_failures_total",
                "TLS handshakes that failed or timed out.",
                &m.handshake_failures,
            ),
            (
                "islet_tls_client_certificates_total",
                "Handshakes in which the client presented a certificate that verified.",
                &m.client_certificates,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
    }
}

fn bad(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::Config {
        reason: format!("tls: {}: {reason}", path.display()),
    }
}

fn read_bounded(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_TLS_FILE_BYTES + 1).read_to_end(&mut out))
        .map_err(Error::io(path))?;
    if out.len() as u64 > MAX_TLS_FILE_BYTES {
        return Err(bad(path, format!("larger than {MAX_TLS_FILE_BYTES} bytes")));
    }
    Ok(out)
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let text = read_bounded(path)?;
    let certs = CertificateDer::pem_slice_iter(&text)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad(path, format!("not a PEM certificate chain: {e}")))?;
    if certs.is_empty() {
        return Err(bad(path, "holds no PEM certificate"));
    }
    Ok(certs)
}

/// The Unix time the certificate `der` expires.
fn not_after(path: &Path, der: &[u8]) -> Result<u64> {
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|e| bad(path, format!("the first certificate does not parse: {e}")))?;
    Ok(cert
        .tbs_certificate
        .validity
        .not_after
        .to_unix_duration()
        .as_secs())
}

/// The subject of a client certificate, as its identity (RFC 4514 text).
pub fn subject_of(der: &[u8]) -> Option<String> {
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    Some(cert.tbs_certificate.subject.to_string())
}

fn build(files: &TlsFiles) -> Result<(Arc<ServerConfig>, u64)> {
    let chain = certificates(&files.cert)?;
    let expires = not_after(&files.cert, &chain[0])?;
    let key_pem = islet_store::datadir::read_private_key(&files.key)?;
    if key_pem.len() as u64 > MAX_TLS_FILE_BYTES {
        return Err(bad(&files.key, "too large for a private key"));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| bad(&files.key, format!("no PEM private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| bad(&files.cert, e))?;
    let builder = if files.client_ca.is_empty() {
        builder.with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        for path in &files.client_ca {
            for cert in certificates(path)? {
                roots
                    .add(cert)
                    .map_err(|e| bad(path, format!("not a usable CA certificate: {e}")))?;
            }
        }
        let mut crls = Vec::new();
        for path in &files.client_crl {
            let bytes = read_bounded(path)?;
            if bytes.starts_with(b"-----BEGIN") {
                for crl in CertificateRevocationListDer::pem_slice_iter(&bytes) {
                    crls.push(crl.map_err(|e| bad(path, format!("not a PEM CRL: {e}")))?);
                }
            } else {
                crls.push(CertificateRevocationListDer::from(bytes));
            }
        }
        // Connections without a certificate are let in: the routes decide
        // (`crate::access`); a certificate that is offered must verify.
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .with_crls(crls)
            .allow_unauthenticated()
            .build()
            .map_err(|e| Error::Config {
                reason: format!("tls: the client CAs and CRLs of [auth]: {e}"),
            })?;
        builder.with_client_cert_verifier(verifier)
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| bad(&files.key, format!("does not go with the certificate: {e}")))?;
    config.alpn_protocols = ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect();
    Ok((Arc::new(config), expires))
}

impl crate::http::MetricsSource for TlsState {
    fn render(&self, out: &mut String) {
        self.render_metrics(out);
    }
}
