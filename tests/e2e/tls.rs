//! HTTPS in the binary (`[tls]`), with real clients and checkers:
//!
//! - sigstore-python 4.5 and sigstore-js (@sigstore/sign 5.1.0) sign
//!   (log entry and timestamp) and verify over HTTPS against a test CA,
//!   their own trust settings pointed at it (`REQUESTS_CA_BUNDLE`,
//!   `NODE_EXTRA_CA_CERTS`); `islet trust-root` names the https URL;
//! - `openssl s_client` completes TLS 1.2 and 1.3 and fails TLS 1.0 and
//!   1.1 (the client offering them at security level 0); ALPN gives h2,
//!   and curl speaks HTTP/2 and HTTP/1.1; the plain loopback listener;
//! - a certificate replaced on disk and SIGHUP is served to the next
//!   connection while an open one continues; a broken one is refused and
//!   the old one stays;
//! - hostile input: malformed ClientHellos, stalled handshakes, oversized
//!   heads over TLS: no crash, no 5xx, bounded memory.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::pki::{Pki, TlsClient, curl, https_port, init_https, rss_bytes, sighup, write_private};
use crate::support::{Islet, free_port, http_get, islet_trust_root};
use crate::tsa::{
    EMAIL, ISSUER, TSA_PATH, flow, flow_with_env, islet_verify, js_flow_with_env, s, site_trust,
};

#[test]
fn sigstore_python_and_sigstore_js_sign_and_verify_over_https_against_a_site_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let mut pki = Pki::new(&tmp.path().join("pki"), "islet test TLS CA");
    let (port, url) = https_port();
    let data = tmp.path().join("site");
    init_https(&data, port, &mut pki, "", &[], true);
    let site = Islet::start_https(&data, port);
    assert_eq!(site.url, url);
    let other = Islet::start(&tmp.path().join("other"));
    let other_tsa = format!("{}{TSA_PATH}", other.url);

    // The trust material names https.
    let root = islet_trust_root(&data, &[]);
    let root: serde_json::Value = serde_json::from_str(&root).unwrap();
    assert_eq!(root["tlogs"][0]["baseUrl"], url, "{root}");

    let work = tmp.path().join("work");
    let made = flow(&["make-ca", s(&work), "--root-curve", "p256"]);
    assert_eq!(made["chain"], 1, "{made}");
    flow(&["issue", s(&work), "js", EMAIL, ISSUER]);
    let (config, trusted_root) = site_trust(&site, &work, &work);
    let config_text = std::fs::read_to_string(&config).unwrap();
    assert!(
        config_text.contains(&format!("{url}/api/v1/timestamp")),
        "{config_text}"
    );

    // Without the CA, sigstore-python cannot reach the log.
    let out = Command::new(crate::support::sigstore_python())
        .arg(crate::tsa::script("python/sigstore_tsa_flow.py"))
        .args(["sign", s(&work), s(&config), &other_tsa])
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("SSL_CERT_FILE")
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "sigstore-python trusted a CA it was not given"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("CERTIFICATE_VERIFY_FAILED") || err.contains("SSL"),
        "{err}"
    );

    let ca = pki.ca_pem.clone();
    let env = [
        ("REQUESTS_CA_BUNDLE", ca.as_path()),
        ("SSL_CERT_FILE", ca.as_path()),
    ];
    let r = flow_with_env(&["sign", s(&work), s(&config), &other_tsa], &env);
    eprintln!("sigstore-python over https: {r}");
    assert_eq!(r["tsa_url"], format!("{url}{TSA_PATH}"), "{r}");
    assert_eq!(r["accepted"], serde_json::json!(["email", "uri"]), "{r}");
    for name in ["email", "uri"] {
        let bundle = work.join(format!("bundle-{name}.sigstore.json"));
        let identity = if name == "email" {
            EMAIL
        } else {
            crate::tsa::URI
        };
        let (code, out) = islet_verify(
            &bundle,
            &trusted_root,
            &work.join(format!("artifact-{name}")),
            identity,
        );
        assert_eq!(code, Some(0), "{name}: {out}");
    }

    let out_dir = work.join("js-out");
    let r = js_flow_with_env(
        &config,
        &work,
        &out_dir,
        &other_tsa,
        &[("NODE_EXTRA_CA_CERTS", ca.as_path())],
    );
    assert_eq!(r["tsa_url"], format!("{url}{TSA_PATH}"), "{r}");
    assert_eq!(r["accepted"], serde_json::json!(["js"]), "{r}");
    let (code, out) = islet_verify(
        &out_dir.join("bundle-js.sigstore.json"),
        &trusted_root,
        &out_dir.join("artifact-js"),
        EMAIL,
    );
    assert_eq!(code, Some(0), "{out}");
    // Both clients' entries are in the log: 2 from python, 1 from js, and
    // the foreign-TSA ones logged before they were refused.
    let c = curl(&["--cacert", s(&ca)], &format!("{url}/api/v2/checkpoint"));
    assert_eq!(c.status, 200, "{}", c.stderr);
    let size: u64 = c.body.lines().nth(1).unwrap().parse().unwrap();
    assert!(size >= 3, "{}", c.body);
}

/// `openssl s_client` to 127.0.0.1:`port` with `args`: whether the
/// handshake completed, and what it printed.
fn s_client(port: u16, ca: &Path, args: &[&str]) -> (bool, String) {
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-CAfile",
            s(ca),
        ])
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run openssl (Debian package openssl)");
    // Closing stdin ends the session once the handshake is over.
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let done = out.status.success() && text.contains("Verify return code: 0 (ok)");
    (done, text)
}

#[test]
fn only_tls_1_2_and_1_3_are_spoken_http2_is_offered_and_plain_http_stays_on_loopback() {
    let tmp = tempfile::tempdir().unwrap();
    let mut pki = Pki::new(&tmp.path().join("pki"), "islet test TLS CA");
    let (port, url) = https_port();
    let plain = free_port();
    let data = tmp.path().join("site");
    let vkey = init_https(
        &data,
        port,
        &mut pki,
        &format!("plain_listen = \"127.0.0.1:{plain}\"\n"),
        &[],
        false,
    );
    let _site = Islet::start_https(&data, port);
    let ca = pki.ca_pem.clone();

    for (flag, protocol) in [("-tls1_3", "TLSv1.3"), ("-tls1_2", "TLSv1.2")] {
        let (done, text) = s_client(port, &ca, &[flag]);
        assert!(done, "{flag}: {text}");
        assert!(
            text.contains(&format!("Protocol  : {protocol}"))
                || text.contains(&format!(", {protocol},")),
            "{flag}: {text}"
        );
    }
    // The client offers the old versions (security level 0 lets OpenSSL
    // send them); the server must refuse.
    for flag in ["-tls1_1", "-tls1"] {
        let (done, text) = s_client(port, &ca, &[flag, "-cipher", "DEFAULT:@SECLEVEL=0"]);
        assert!(!done, "{flag} completed a handshake: {text}");
        // The server answers the old version's ClientHello with an alert
        // (7 bytes read); no cipher is agreed.
        assert!(
            text.contains("Cipher is (NONE)")
                && (text.contains("alert handshake failure")
                    || text.contains("alert protocol version")),
            "{flag}: {text}"
        );
    }
    let (done, text) = s_client(port, &ca, &["-alpn", "h2,http/1.1"]);
    assert!(done && text.contains("ALPN protocol: h2"), "{text}");

    let h2 = curl(
        &["--cacert", s(&ca), "--http2"],
        &format!("{url}/api/v2/checkpoint"),
    );
    assert_eq!(h2.status, 200, "{}", h2.stderr);
    assert!(h2.headers.starts_with("http/2 200"), "{}", h2.headers);
    let h1 = curl(
        &["--cacert", s(&ca), "--http1.1"],
        &format!("{url}/api/v2/checkpoint"),
    );
    assert_eq!(h1.status, 200, "{}", h1.stderr);
    assert!(h1.headers.starts_with("http/1.1 200"), "{}", h1.headers);
    assert_eq!(h1.body, h2.body);

    // The plain listener serves the same log over HTTP on loopback.
    let (status, body) = http_get(plain, "/api/v2/checkpoint");
    assert_eq!(status, 200);
    assert_eq!(String::from_utf8(body).unwrap(), h1.body);
    // Plain HTTP on the TLS port gets no HTTP answer, and no crash.
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    sock.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let _ = sock.read_to_end(&mut got);
    assert!(!got.starts_with(b"HTTP/"), "{got:?}");
    let again = curl(&["--cacert", s(&ca)], &format!("{url}/healthz"));
    assert_eq!(again.status, 200);

    // islet's own clients (fsck here; mirror sync, witnessing and pushes
    // alike) trust the system store, or SSL_CERT_FILE.
    let fsck = |ca: Option<&Path>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_islet"));
        cmd.args(["fsck", &format!("{url}/api/v2"), "--vkey", &vkey]);
        match ca {
            Some(ca) => cmd.env("SSL_CERT_FILE", ca),
            None => cmd.env_remove("SSL_CERT_FILE"),
        };
        cmd.output().unwrap()
    };
    let out = fsck(Some(&ca));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = fsck(None);
    assert!(!out.status.success(), "fsck trusted a CA it was not given");

    // A plain listener off loopback is refused at start.
    let bad = tmp.path().join("bad");
    init_https(
        &bad,
        free_port(),
        &mut pki,
        "plain_listen = \"0.0.0.0:1\"\n",
        &[],
        false,
    );
    let err = crate::support::islet_serve_refuses(&bad);
    assert!(
        err.contains("tls.plain_listen") && err.contains("not a loopback address"),
        "{err}"
    );
}

#[test]
fn a_certificate_replaced_and_sighup_reaches_the_next_connection_while_an_open_one_continues() {
    let tmp = tempfile::tempdir().unwrap();
    let mut pki = Pki::new(&tmp.path().join("pki"), "islet test TLS CA");
    let (port, url) = https_port();
    let data = tmp.path().join("site");
    init_https(&data, port, &mut pki, "", &[], false);
    let site = Islet::start_https(&data, port);
    let ca = pki.ca_pem.clone();
    let first_der = std::fs::read(data.join("tls/cert.pem")).unwrap();
    let first_der = pem_der(&first_der);

    let mut open = TlsClient::connect(port, &ca);
    assert_eq!(open.server_certificate(), first_der);
    assert_eq!(open.healthz(), 200);

    // Replace the certificate and key on disk, then SIGHUP.
    let next = pki.server("server-2", "islet test server, renewed");
    let tls = data.join("tls");
    std::fs::copy(&next.cert, tls.join("cert.pem.new")).unwrap();
    std::fs::rename(tls.join("cert.pem.new"), tls.join("cert.pem")).unwrap();
    write_private(&tls.join("key.pem"), &std::fs::read(&next.key).unwrap());
    sighup(site.server_pid());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let fresh = TlsClient::connect(port, &ca);
        if fresh.server_certificate() == next.der {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was not served after SIGHUP"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The open connection carries on, with the certificate it began with.
    assert_eq!(open.healthz(), 200);
    assert_eq!(open.server_certificate(), first_der);

    // A broken replacement is refused; the served certificate stays.
    std::fs::write(
        tls.join("cert.pem"),
        b"-----BEGIN CERTIFICATE-----\nnot base64\n",
    )
    .unwrap();
    sighup(site.server_pid());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let m = curl(&["--cacert", s(&ca)], &format!("{url}/metrics"));
        if m.body.contains("islet_tls_reload_failures_total 1") {
            assert!(m.body.contains("islet_tls_reloads_total 1"), "{}", m.body);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the failed reload was not counted: {}",
            m.body
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let fresh = TlsClient::connect(port, &ca);
    assert_eq!(fresh.server_certificate(), next.der);
    assert_eq!(open.healthz(), 200);
}

/// The DER of the first PEM certificate in `pem`.
fn pem_der(pem: &[u8]) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_slice(pem)
        .unwrap()
        .to_vec()
}

/// A TLS record: `content_type`, version 3.1, `body`.
fn record(content_type: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![content_type, 3, 1];
    r.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// Hostile first flights for the TLS port.
fn hostile_hellos() -> Vec<(&'static str, Vec<u8>)> {
    let mut seed = 0x1234_5678_u64;
    let mut random = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed.to_le_bytes()[0]
            })
            .collect()
    };
    let mut cases = vec![
        ("random 1 KiB", random(1024)),
        ("random 70 KiB", random(70 * 1024)),
        // A record that claims 65535 bytes (over the 16 KiB + 2048 limit).
        ("oversized record", {
            let mut r = vec![22, 3, 1, 0xff, 0xff];
            r.extend(random(2000));
            r
        }),
        // A ClientHello whose handshake length is larger than its record.
        (
            "handshake longer than its record",
            record(22, &[1, 0xff, 0xff, 0xff, 3, 3, 0, 0]),
        ),
        // A ClientHello with an absurd session id and cipher list lengths.
        ("absurd inner lengths", {
            let mut hello = vec![3, 3];
            hello.extend(random(32));
            hello.push(0xff);
            hello.extend([0xff, 0xfe]);
            let mut hs = vec![1, 0, 0, u8::try_from(hello.len()).unwrap()];
            hs.extend(hello);
            record(22, &hs)
        }),
        // An SSLv2-compatible ClientHello.
        (
            "SSLv2 hello",
            vec![
                0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10,
            ],
        ),
        // Application data before any handshake.
        ("data before handshake", record(23, &random(100))),
        // An alert, then nothing.
        ("alert first", record(21, &[2, 40])),
        // Zero-length handshake records, many.
        (
            "empty records",
            (0..500).flat_map(|_| record(22, &[])).collect(),
        ),
    ];
    // A valid-looking ClientHello with garbage extensions.
    let mut hello = vec![3, 3];
    hello.extend(random(32));
    hello.push(0);
    hello.extend([0, 2, 0x13, 0x01, 1, 0]);
    let ext = random(300);
    hello.extend(u16::try_from(ext.len()).unwrap().to_be_bytes());
    hello.extend(ext);
    let mut hs = vec![1, 0];
    hs.extend(u16::try_from(hello.len()).unwrap().to_be_bytes());
    hs.extend(hello);
    cases.push(("garbage extensions", record(22, &hs)));
    cases
}

#[test]
fn hostile_tls_and_oversized_heads_get_no_crash_no_5xx_and_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let mut pki = Pki::new(&tmp.path().join("pki"), "islet test TLS CA");
    let (port, url) = https_port();
    let data = tmp.path().join("site");
    init_https(
        &data,
        port,
        &mut pki,
        "",
        &[("header_read_timeout_ms", "1000")],
        false,
    );
    let site = Islet::start_https(&data, port);
    let ca = pki.ca_pem.clone();
    let pid = site.server_pid();
    let rss_before = rss_bytes(pid);

    for round in 0..20 {
        for (name, bytes) in hostile_hellos() {
            let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let _ = sock.write_all(&bytes);
            let mut got = Vec::new();
            let _ = sock.read_to_end(&mut got);
            // At most an alert record (type 21); never HTTP.
            assert!(
                got.is_empty() || got[0] == 21,
                "round {round}, {name}: {got:?}"
            );
        }
    }
    // Stalled handshakes: held at once, each cut off after the timeout.
    let stalled: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.write_all(&[22, 3, 1]).unwrap();
            s
        })
        .collect();
    let mut healthy = TlsClient::connect(port, &ca);
    assert_eq!(healthy.healthz(), 200, "served while 200 handshakes stall");
    for mut s in stalled {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        let started = Instant::now();
        let _ = s.read_to_end(&mut got);
        assert!(
            started.elapsed() < Duration::from_secs(9),
            "a stalled handshake was held"
        );
    }

    // Heads over TLS (HTTP/1.1), counted as written: at the limit served,
    // one byte past it 431.
    let limit = islet_server::listener::MAX_REQUEST_HEAD_BYTES;
    let head = |filler: usize| {
        format!(
            "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: {}\r\n\r\n",
            "a".repeat(filler)
        )
    };
    let at_limit = limit - head(0).len();
    for (filler, want) in [(at_limit, 200), (at_limit + 1, 431)] {
        let request = head(filler);
        let mut c = TlsClient::connect(port, &ca);
        let (status, text) = c.exchange(request.as_bytes());
        assert_eq!(
            status,
            want,
            "a head of {} bytes: {}",
            request.len(),
            &text[..text.len().min(300)]
        );
    }
    // HTTP/2: the same limit (curl adds headers of its own, so the
    // exact edge is the HTTP/1.1 case's): half of it served, past it 431.
    let half = format!("X-Filler: {}", "a".repeat(limit / 2));
    let h2 = curl(
        &["--cacert", s(&ca), "--http2", "-H", &half],
        &format!("{url}/healthz"),
    );
    assert_eq!(h2.status, 200, "{} {}", h2.headers, h2.stderr);
    let big = format!("X-Filler: {}", "a".repeat(limit));
    let h2 = curl(
        &["--cacert", s(&ca), "--http2", "-H", &big],
        &format!("{url}/healthz"),
    );
    assert_eq!(h2.status, 431, "{} {}", h2.headers, h2.stderr);
    assert!(h2.headers.starts_with("http/2 431"), "{}", h2.headers);
    assert!(h2.body.contains("the request head is"), "{}", h2.body);
    // Far past the limit, the transports stop reading: no 5xx.
    let huge = tmp.path().join("huge-header");
    std::fs::write(&huge, format!("X-Filler: {}\n", "a".repeat(4 * limit))).unwrap();
    let huge_arg = format!("@{}", huge.display());
    for version in ["--http2", "--http1.1"] {
        let c = curl(
            &["--cacert", s(&ca), version, "-H", &huge_arg],
            &format!("{url}/healthz"),
        );
        assert!(c.status < 500, "{version}: {} {}", c.status, c.stderr);
        assert_ne!(c.status, 200, "{version}: {}", c.headers);
    }

    // Still serving; the failures were counted; memory is bounded.
    let m = curl(&["--cacert", s(&ca)], &format!("{url}/metrics"));
    assert_eq!(m.status, 200);
    let failures: u64 = m
        .body
        .lines()
        .find_map(|l| l.strip_prefix("islet_tls_handshake_failures_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(failures >= 200, "{failures}");
    let rss_after = rss_bytes(pid);
    assert!(
        rss_after < rss_before + 64 * 1024 * 1024,
        "resident memory grew from {rss_before} to {rss_after} bytes"
    );
}
