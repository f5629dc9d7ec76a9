//! A test PKI for the HTTPS tests: a CA (rcgen, ECDSA P-256), server
//! certificates for 127.0.0.1, client certificates (valid, expired),
//! revocation lists; a data directory set up for `[tls]`; and requests
//! made with the real `curl` and with rustls.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevokedCertParams, SanType, SerialNumber,
};

use crate::support::{free_port, islet};

fn offset(t: SystemTime) -> time::OffsetDateTime {
    let secs = t.duration_since(UNIX_EPOCH).unwrap().as_secs();
    time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap()).unwrap()
}

const DAY: Duration = Duration::from_secs(86_400);

/// A certificate authority and the files it wrote.
pub(crate) struct Pki {
    pub(crate) dir: PathBuf,
    /// The CA certificate, PEM.
    pub(crate) ca_pem: PathBuf,
    issuer: Issuer<'static, KeyPair>,
    next_serial: u64,
}

/// A certificate and its key, as files.
pub(crate) struct Issued {
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
    pub(crate) serial: u64,
    /// The certificate, DER.
    pub(crate) der: Vec<u8>,
}

impl Pki {
    /// A CA named `name`, its files in `dir`.
    pub(crate) fn new(dir: &Path, name: &str) -> Pki {
        std::fs::create_dir_all(dir).unwrap();
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        let now = SystemTime::now();
        params.not_before = offset(now - DAY);
        params.not_after = offset(now + 30 * DAY);
        params.serial_number = Some(SerialNumber::from(1u64));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        let ca_pem = dir.join("ca.pem");
        std::fs::write(&ca_pem, cert.pem()).unwrap();
        Pki {
            dir: dir.to_owned(),
            ca_pem,
            issuer: Issuer::new(params, key),
            next_serial: 100,
        }
    }

    fn issue(
        &mut self,
        file_name: &str,
        common_name: &str,
        server: bool,
        not_after: SystemTime,
    ) -> Issued {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        params.distinguished_name = dn;
        self.next_serial += 1;
        let serial = self.next_serial;
        params.serial_number = Some(SerialNumber::from(serial));
        params.not_before = offset(SystemTime::now() - 2 * DAY);
        params.not_after = offset(not_after);
        params.is_ca = IsCa::NoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if server {
            params.subject_alt_names = vec![
                SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])),
                SanType::DnsName("localhost".try_into().unwrap()),
            ];
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        } else {
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        }
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let cert_path = self.dir.join(format!("{file_name}.pem"));
        let key_path = self.dir.join(format!("{file_name}.key"));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        write_private(&key_path, key.serialize_pem().as_bytes());
        Issued {
            cert: cert_path,
            key: key_path,
            serial,
            der: cert.der().to_vec(),
        }
    }

    /// A server certificate for 127.0.0.1 and localhost, valid 30 days.
    pub(crate) fn server(&mut self, file_name: &str, common_name: &str) -> Issued {
        self.issue(file_name, common_name, true, SystemTime::now() + 30 * DAY)
    }

    /// A client certificate with subject CN=`common_name`, valid 30 days.
    pub(crate) fn client(&mut self, file_name: &str, common_name: &str) -> Issued {
        self.issue(file_name, common_name, false, SystemTime::now() + 30 * DAY)
    }

    /// A client certificate that expired yesterday.
    pub(crate) fn expired_client(&mut self, file_name: &str, common_name: &str) -> Issued {
        self.issue(file_name, common_name, false, SystemTime::now() - DAY)
    }

    /// Writes a CRL revoking `serials` to `path` (PEM).
    pub(crate) fn write_crl(&self, path: &Path, number: u64, serials: &[u64]) {
        let now = SystemTime::now();
        let params = CertificateRevocationListParams {
            this_update: offset(now - DAY),
            next_update: offset(now + 7 * DAY),
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|s| RevokedCertParams {
                    serial_number: SerialNumber::from(*s),
                    revocation_time: offset(now - DAY),
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let crl = params.signed_by(&self.issuer).unwrap();
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, crl.pem().unwrap()).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    }
}

/// Writes a private key file, mode 0600 (islet refuses others).
pub(crate) fn write_private(path: &Path, pem: &[u8]) {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    f.write_all(pem).unwrap();
}

/// `islet init` of `data` for 127.0.0.1:`port`, a server certificate from
/// `pki` in `data/tls/`, and `[tls]` plus `more` (TOML) appended to
/// islet.toml. `[http]` values in `http` replace the defaults. Returns
/// the log's verifier key.
pub(crate) fn init_https(
    data: &Path,
    port: u16,
    pki: &mut Pki,
    more: &str,
    http: &[(&str, &str)],
    tsa: bool,
) -> String {
    let url = format!("https://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec![
        "init",
        "--data",
        data.to_str().unwrap(),
        "--public-url",
        &url,
        "--listen",
        &listen,
    ];
    if !tsa {
        args.push("--no-tsa");
    }
    let out = islet(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tls = data.join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let server = pki.server("server", "islet test server");
    std::fs::copy(&server.cert, tls.join("cert.pem")).unwrap();
    write_private(&tls.join("key.pem"), &std::fs::read(&server.key).unwrap());
    let path = data.join("islet.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (key, value) in http {
        let start = text
            .find(&format!("\n{key} = "))
            .unwrap_or_else(|| panic!("{key} in islet.toml"));
        let end = text[start + 1..].find('\n').unwrap() + start + 1;
        text.replace_range(start..end, &format!("\n{key} = {value}"));
    }
    text.push_str("\n[tls]\ncert = \"tls/cert.pem\"\nkey = \"tls/key.pem\"\n");
    text.push_str(more);
    std::fs::write(&path, text).unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("verifier key "))
        .expect("islet init prints the verifier key")
        .to_owned()
}

/// A free port and the https URL on it.
pub(crate) fn https_port() -> (u16, String) {
    let port = free_port();
    (port, format!("https://127.0.0.1:{port}"))
}

/// What `curl` got: the status (0 when there was no HTTP answer), the
/// response headers (lowercase) and body, and curl's exit status.
pub(crate) struct Curled {
    pub(crate) status: u16,
    pub(crate) headers: String,
    pub(crate) body: String,
    pub(crate) exit: Option<i32>,
    pub(crate) stderr: String,
}

/// Runs `curl -s ARGS URL`, with the response head and body captured.
pub(crate) fn curl(args: &[&str], url: &str) -> Curled {
    let dir = tempfile::tempdir().unwrap();
    let head = dir.path().join("head");
    let body = dir.path().join("body");
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "30", "-D"])
        .arg(&head)
        .arg("-o")
        .arg(&body)
        .args(["-w", "%{http_code}"])
        .args(args)
        .arg(url)
        .output()
        .expect("run curl (Debian package curl)");
    Curled {
        status: String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0),
        headers: std::fs::read_to_string(&head)
            .unwrap_or_default()
            .to_ascii_lowercase(),
        body: std::fs::read_to_string(&body).unwrap_or_default(),
        exit: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A rustls client connection to 127.0.0.1:`port` trusting `ca`, with
/// its handshake done.
pub(crate) struct TlsClient {
    stream: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
}

impl TlsClient {
    pub(crate) fn connect(port: u16, ca: &Path) -> TlsClient {
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut stream = rustls::StreamOwned::new(conn, sock);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock).unwrap();
        }
        TlsClient { stream }
    }

    /// The server's certificate, DER.
    pub(crate) fn server_certificate(&self) -> Vec<u8> {
        self.stream.conn.peer_certificates().unwrap()[0].to_vec()
    }

    /// Sends `request` (a whole HTTP/1.1 request) and reads one response
    /// with a Content-Length body: the status and the text.
    pub(crate) fn exchange(&mut self, request: &[u8]) -> (u16, String) {
        self.stream.write_all(request).unwrap();
        self.stream.flush().unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .map_or(0, |v| v.trim().parse().unwrap());
                if got.len() >= end + 4 + length {
                    let status = head[9..12].parse().unwrap();
                    let text = String::from_utf8_lossy(&got[..end + 4 + length]).into_owned();
                    return (status, text);
                }
            }
            let n = self.stream.read(&mut buf).unwrap();
            assert!(n > 0, "the connection closed mid-response: {got:?}");
            got.extend_from_slice(&buf[..n]);
        }
    }

    /// `GET /healthz` on this connection (kept alive).
    pub(crate) fn healthz(&mut self) -> u16 {
        self.exchange(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .0
    }
}

/// The resident memory of process `pid`, in bytes.
pub(crate) fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib * 1024
}

/// Sends SIGHUP to `pid`.
pub(crate) fn sighup(pid: u32) {
    let status = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}
