//! Write authorization (`[auth]`) and per-client limits
//! (`[client_limits]`), on the real binary:
//!
//! - bearer tokens (`islet token add|list|revoke`): a write without one,
//!   with a revoked one (revoked while the server runs) or an expired one
//!   is refused with a 401 that says which, one of another scope with a
//!   403; a valid one is accepted; reads stay open; bad tokens of every
//!   shape get 401s, never a 5xx; refusals are counted by group and reason;
//! - client certificates (mutual TLS, with curl): a certificate from the
//!   site's client CA admits writes, none gets a 401, an expired, revoked
//!   (CRL) or foreign one fails the handshake; a CRL updated on disk and
//!   SIGHUP revokes the next connection;
//! - per-client limits: a client far over its rate gets 429s with
//!   `Retry-After` and never more than its bucket allows, while another at
//!   a normal rate gets none.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::pki::{Pki, curl, https_port, init_https, sighup};
use crate::support::{Islet, Signer, free_port, http_get, islet};

/// Prefixes of the metrics served only with `[tls]` or `[auth]`.
pub(crate) const SERVED_WITH_TLS_AND_AUTH: [&str; 3] =
    ["islet_tls_", "islet_auth_", "islet_client_"];

/// `islet token ARGS --data DATA`: its stdout, which must be a success.
fn token(data: &Path, args: &[&str]) -> String {
    let mut all = vec!["token", args[0], "--data", data.to_str().unwrap()];
    all.extend_from_slice(&args[1..]);
    let out = islet(&all);
    assert!(
        out.status.success(),
        "islet {all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A request to 127.0.0.1:`port` with extra raw header lines: status,
/// lowercase head, body.
fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[&[u8]],
    body: &[u8],
) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    )
    .into_bytes();
    for h in headers {
        head.extend_from_slice(h);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    s.write_all(&head).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response");
    let status = std::str::from_utf8(&out[9..12]).unwrap().parse().unwrap();
    (
        status,
        String::from_utf8_lossy(&out[..split]).to_ascii_lowercase(),
        String::from_utf8_lossy(&out[split + 4..]).into_owned(),
    )
}

fn bearer(token: &str) -> Vec<u8> {
    format!("Authorization: Bearer {token}").into_bytes()
}

/// Appends `text` to DATA/islet.toml.
fn append_config(data: &Path, text: &str) {
    let path = data.join("islet.toml");
    let mut toml = std::fs::read_to_string(&path).unwrap();
    toml.push_str(text);
    std::fs::write(path, toml).unwrap();
}

/// `islet init` for 127.0.0.1:`port`; the verifier key.
fn init_plain(data: &Path, port: u16) -> String {
    let out = islet(&[
        "init",
        "--data",
        data.to_str().unwrap(),
        "--public-url",
        &format!("http://127.0.0.1:{port}"),
        "--listen",
        &format!("127.0.0.1:{port}"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("verifier key "))
        .unwrap()
        .to_owned()
}

fn metric(port: u16, line_start: &str) -> u64 {
    let (status, body) = http_get(port, "/metrics");
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .unwrap_or_else(|| panic!("{line_start} in {text}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn tokens_admit_writes_and_a_revoked_or_expired_one_is_refused_without_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("site");
    let port = free_port();
    init_plain(&data, port);
    append_config(
        &data,
        "\n[auth]\nwrite = \"token\"\ntimestamp = \"token\"\n",
    );
    let ci = token(
        &data,
        &["add", "ci", "--scope", "write", "--scope", "timestamp"],
    );
    let reader = token(&data, &["add", "auditor", "--scope", "read"]);
    let brief = token(
        &data,
        &["add", "brief", "--scope", "write", "--expires-in", "3s"],
    );
    let made = Instant::now();
    assert!(ci.starts_with("islet_") && ci.len() == 49, "{ci}");
    let stored = std::fs::read_to_string(data.join("tokens.json")).unwrap();
    assert!(!stored.contains(&ci[6..]), "the token itself is stored");
    let site = Islet::start_on(&data, port);
    let signer = Signer::new();
    let entry = |n: u32| {
        signer
            .request(format!("artifact {n}").as_bytes())
            .into_bytes()
    };

    // No token: 401, saying what is needed, with WWW-Authenticate.
    let (status, head, body) = request(port, "POST", "/api/v2/log/entries", &[], &entry(1));
    assert_eq!(status, 401, "{body}");
    assert!(
        head.contains("www-authenticate: bearer realm=\"islet\""),
        "{head}"
    );
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["code"], 16, "{body}");
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("need a bearer token"),
        "{body}"
    );
    // Another scope: 403.
    let (status, _, body) = request(
        port,
        "POST",
        "/api/v2/log/entries",
        &[&bearer(&reader)],
        &entry(1),
    );
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("may not make write requests (its scopes: read)"),
        "{body}"
    );
    // A valid token: 201.
    let (status, _, body) = request(
        port,
        "POST",
        "/api/v2/log/entries",
        &[&bearer(&ci)],
        &entry(1),
    );
    assert_eq!(status, 201, "{body}");
    let (status, _, body) = request(
        port,
        "POST",
        "/api/v2/log/entries",
        &[&bearer(&brief)],
        &entry(2),
    );
    assert_eq!(status, 201, "{body}");
    // Reads stay open.
    let (status, _) = http_get(port, "/api/v2/checkpoint");
    assert_eq!(status, 200);
    let (status, _) = http_get(port, "/api/v2/tile/0/000.p/2");
    assert_eq!(status, 200);
    // Timestamps are closed too.
    let (status, _, body) = request(port, "POST", "/api/v1/timestamp", &[], b"0");
    assert_eq!(status, 401, "{body}");

    // Bad tokens of every shape: 401, never a 5xx.
    let long = format!("Authorization: Bearer {}", "A".repeat(10_000));
    let shapes: Vec<Vec<u8>> = vec![
        b"Authorization: Bearer".to_vec(),
        b"Authorization: Basic Y2k6Y2k=".to_vec(),
        bearer("islet_"),
        bearer(&format!("{ci}A")),
        bearer(&ci.replace("islet_", "ISLET_")),
        bearer(&format!("islet_{}", "A".repeat(43))),
        long.into_bytes(),
        b"Authorization: Bearer islet_\xff\xfe\xfd".to_vec(),
        b"Authorization: Bearer  \t".to_vec(),
        b"Authorization:".to_vec(),
    ];
    for h in &shapes {
        let (status, _, body) = request(port, "POST", "/api/v2/log/entries", &[h], &entry(3));
        assert_eq!(status, 401, "{}: {body}", String::from_utf8_lossy(h));
    }
    let (status, _, body) = request(
        port,
        "POST",
        "/api/v2/log/entries",
        &[&bearer(&ci), &bearer(&ci)],
        &entry(3),
    );
    assert_eq!(status, 401, "{body}");
    assert!(
        body.contains("more than one Authorization header"),
        "{body}"
    );

    // Revoked while the server runs: refused at the next request.
    let revoked = token(&data, &["revoke", "ci"]);
    assert!(revoked.starts_with("revoked token \"ci\" at "), "{revoked}");
    let (status, _, body) = request(
        port,
        "POST",
        "/api/v2/log/entries",
        &[&bearer(&ci)],
        &entry(4),
    );
    assert_eq!(status, 401, "{body}");
    assert!(
        body.contains("the token \\\"ci\\\" was revoked at"),
        "{body}"
    );
    // Expired: refused once its time has come.
    std::thread::sleep(
        Duration::from_secs(3).saturating_sub(made.elapsed()) + Duration::from_millis(1100),
    );
    let (status, _, body) = request(
        port,
        "POST",
        "/api/v2/log/entries",
        &[&bearer(&brief)],
        &entry(5),
    );
    assert_eq!(status, 401, "{body}");
    assert!(
        body.contains("the token \\\"brief\\\" expired at"),
        "{body}"
    );

    let list: serde_json::Value = serde_json::from_str(&token(&data, &["list", "--json"])).unwrap();
    let states: Vec<(String, String)> = list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().into(),
                t["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [("ci", "revoked"), ("auditor", "live"), ("brief", "expired")]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    assert!(!list.to_string().contains("sha256"), "{list}");

    // The refusals, by group and reason.
    let r = |group: &str, reason: &str| {
        metric(
            port,
            &format!("islet_auth_refusals_total{{group=\"{group}\",reason=\"{reason}\"}} "),
        )
    };
    assert_eq!(r("write", "missing"), 1);
    assert_eq!(r("write", "scope"), 1);
    assert_eq!(r("write", "revoked"), 1);
    assert_eq!(r("write", "expired"), 1);
    assert_eq!(r("write", "unknown"), 1);
    assert_eq!(r("write", "malformed"), shapes.len() as u64);
    assert_eq!(r("timestamp", "missing"), 1);
    assert_eq!(
        metric(port, "islet_auth_admitted_total{credential=\"token\"} "),
        2
    );
    drop(site);
}

#[test]
fn client_certificates_admit_writes_and_an_expired_revoked_or_foreign_one_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut tls_pki = Pki::new(&tmp.path().join("tls-pki"), "islet test TLS CA");
    let mut clients = Pki::new(&tmp.path().join("client-pki"), "islet test client CA");
    let mut foreign = Pki::new(&tmp.path().join("foreign-pki"), "someone else's CA");
    let good = clients.client("good", "signing-service");
    let second = clients.client("second", "release-bot");
    let expired = clients.expired_client("expired", "old-service");
    let revoked = clients.client("revoked", "stolen-service");
    let alien = foreign.client("alien", "signing-service");
    let (port, url) = https_port();
    let data = tmp.path().join("site");
    let auth = "\n[auth]\nwrite = \"client-cert\"\nclient_ca = [\"tls/clients.pem\"]\nclient_crl = [\"tls/clients.crl\"]\n";
    init_https(&data, port, &mut tls_pki, auth, &[], false);
    std::fs::copy(&clients.ca_pem, data.join("tls/clients.pem")).unwrap();
    clients.write_crl(&data.join("tls/clients.crl"), 1, &[revoked.serial]);
    let site = Islet::start_https(&data, port);
    let ca = tls_pki.ca_pem.to_str().unwrap().to_owned();
    let signer = Signer::new();
    let body_file = tmp.path().join("entry.json");
    let write = |cert: Option<&crate::pki::Issued>, n: u32, extra: &[&str]| {
        std::fs::write(&body_file, signer.request(format!("mtls {n}").as_bytes())).unwrap();
        let data_arg = format!("@{}", body_file.display());
        let mut args = vec![
            "--cacert",
            &ca,
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &data_arg,
        ];
        let (c, k);
        if let Some(i) = cert {
            c = i.cert.to_str().unwrap().to_owned();
            k = i.key.to_str().unwrap().to_owned();
            args.extend(["--cert", &c, "--key", &k]);
        }
        args.extend(extra);
        curl(&args, &format!("{url}/api/v2/log/entries"))
    };

    let ok = write(Some(&good), 1, &[]);
    assert_eq!(ok.status, 201, "{} {}", ok.body, ok.stderr);
    // Refused before its body is read, the request still gets its 401,
    // not a reset connection (the body is drained first), every time.
    for _ in 0..20 {
        let none = write(None, 2, &[]);
        assert_eq!(none.status, 401, "{} {}", none.body, none.stderr);
    }
    let none = write(None, 2, &[]);
    assert_eq!(none.status, 401, "{}", none.body);
    assert!(
        none.body
            .contains("need a client certificate issued by the site's client CA"),
        "{}",
        none.body
    );
    for (name, cert) in [
        ("expired", &expired),
        ("revoked", &revoked),
        ("foreign", &alien),
    ] {
        // TLS 1.3 (curl's default): the server checks the certificate after
        // its Finished, so the refusal comes as the request is sent.
        let c = write(Some(cert), 3, &[]);
        assert_eq!(
            c.status, 0,
            "{name}: a certificate that must not verify got HTTP {}",
            c.status
        );
        assert_ne!(c.exit, Some(0), "{name}");
        // TLS 1.2: the alert comes in the handshake, and curl names it.
        let c = write(Some(cert), 3, &["--tls-max", "1.2", "-v"]);
        assert_eq!(c.status, 0, "{name}: TLS 1.2 got HTTP {}", c.status);
        let why = c.stderr.to_ascii_lowercase();
        let want = match name {
            "expired" => "tls alert, certificate expired",
            "revoked" => "tls alert, certificate revoked",
            _ => "tls alert, unknown ca",
        };
        assert!(why.contains(want), "{name}: {}", c.stderr);
    }
    // Reads need nothing.
    let read = curl(&["--cacert", &ca], &format!("{url}/api/v2/checkpoint"));
    assert_eq!(read.status, 200);

    // Revoke the good certificate in a new CRL, SIGHUP: the next
    // connection with it fails; another certificate still works.
    clients.write_crl(
        &data.join("tls/clients.crl"),
        2,
        &[revoked.serial, good.serial],
    );
    sighup(site.server_pid());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let c = write(Some(&good), 4, &["--tls-max", "1.2", "-v"]);
        if c.status == 0
            && c.stderr
                .to_ascii_lowercase()
                .contains("tls alert, certificate revoked")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new CRL was not applied: {} {}",
            c.status,
            c.stderr
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let c = write(Some(&second), 5, &[]);
    assert_eq!(c.status, 201, "{} {}", c.body, c.stderr);
    let m = curl(&["--cacert", &ca], &format!("{url}/metrics"));
    assert!(
        m.body
            .contains("islet_auth_admitted_total{credential=\"client_certificate\"} 2"),
        "{}",
        m.body
    );
    // The alert rules name only TLS and access metrics islet serves.
    let rules = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/prometheus/islet.rules.yml"),
    )
    .unwrap();
    let names: std::collections::BTreeSet<&str> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| SERVED_WITH_TLS_AND_AUTH.iter().any(|p| w.starts_with(p)))
        .collect();
    assert!(names.len() >= 4, "{names:?}");
    for name in names {
        assert!(
            m.body.contains(&format!("# TYPE {name} ")),
            "the rules name {name}, which islet does not serve"
        );
    }
    assert!(
        m.body
            .contains("islet_auth_refusals_total{group=\"write\",reason=\"missing\"} 21"),
        "{}",
        m.body
    );
}

#[test]
fn a_client_over_its_rate_gets_429s_while_another_at_a_normal_rate_gets_none() {
    const RATE: u32 = 20;
    const BURST: u32 = 20;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("site");
    let port = free_port();
    init_plain(&data, port);
    append_config(
        &data,
        &format!(
            "\n[auth]\nwrite = \"token\"\n\n[client_limits]\nwrite_per_second = {RATE}\nwrite_burst = {BURST}\n"
        ),
    );
    let flood = token(&data, &["add", "runaway-pipeline", "--scope", "write"]);
    let steady = token(&data, &["add", "release", "--scope", "write"]);
    let _site = Islet::start_on(&data, port);

    let started = Instant::now();
    let flooder = std::thread::spawn(move || {
        let signer = Signer::new();
        let mut threads = Vec::new();
        let bodies: Vec<Vec<u8>> = (0..400)
            .map(|i| signer.request(format!("flood {i}").as_bytes()).into_bytes())
            .collect();
        let bodies = std::sync::Arc::new(bodies);
        for t in 0..8 {
            let (flood, bodies) = (flood.clone(), std::sync::Arc::clone(&bodies));
            threads.push(std::thread::spawn(move || {
                let mut out = Vec::new();
                for body in bodies.iter().skip(t).step_by(8) {
                    let (status, head, _) = request(
                        port,
                        "POST",
                        "/api/v2/log/entries",
                        &[&bearer(&flood)],
                        body,
                    );
                    out.push((status, head));
                }
                out
            }));
        }
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect::<Vec<_>>()
    });
    // The steady client: 15 writes, one every 200 ms (5/s, under 20/s).
    let signer = Signer::new();
    for i in 0..15 {
        let (status, _, body) = request(
            port,
            "POST",
            "/api/v2/log/entries",
            &[&bearer(&steady)],
            signer.request(format!("steady {i}").as_bytes()).as_bytes(),
        );
        assert_eq!(status, 201, "the steady client was refused: {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let results = flooder.join().unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    let accepted = results.iter().filter(|(s, _)| *s == 201).count();
    let limited: Vec<&String> = results
        .iter()
        .filter(|(s, _)| *s == 429)
        .map(|(_, h)| h)
        .collect();
    assert_eq!(accepted + limited.len(), results.len(), "only 201 and 429");
    assert!(!limited.is_empty());
    for head in &limited {
        assert!(head.contains("\r\nretry-after: 1"), "{head}");
    }
    // Never more than the bucket holds: its burst and its rate over the
    // time the flood ran.
    let allowed = f64::from(BURST) + f64::from(RATE) * elapsed + 1.0;
    assert!(
        (accepted as f64) <= allowed,
        "{accepted} accepted in {elapsed:.1} s, the bucket allows {allowed:.0}"
    );
    assert_eq!(
        metric(port, "islet_client_rate_limited_total{group=\"write\"} "),
        limited.len() as u64
    );
    assert_eq!(
        metric(port, "islet_client_limit_tracked_clients{group=\"write\"} "),
        2
    );
}

#[test]
fn closed_reads_and_witness_calls_need_a_token_of_their_scope_and_healthz_stays_open() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("site");
    let port = free_port();
    init_plain(&data, port);
    append_config(
        &data,
        "\n[auth]\nread = \"token\"\nwitness = \"token\"\n\n[client_limits]\nwitness_per_second = 1\nwitness_burst = 1\n",
    );
    let auditor = token(&data, &["add", "auditor", "--scope", "read"]);
    let peer = token(&data, &["add", "peer-log", "--scope", "witness"]);
    let _site = Islet::start_on(&data, port);

    // Probes need nothing.
    let (status, _) = http_get(port, "/healthz");
    assert_eq!(status, 200);
    // Reads, /metrics among them, need a token with the read scope.
    for path in ["/api/v2/checkpoint", "/metrics", "/api/v2/tile/0/000.p/1"] {
        let (status, _, body) = request(port, "GET", path, &[], b"");
        assert_eq!(status, 401, "{path}: {body}");
        let (status, _, body) = request(port, "GET", path, &[&bearer(&peer)], b"");
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body.contains("may not make read requests"), "{body}");
    }
    let (status, _, body) = request(port, "GET", "/api/v2/checkpoint", &[&bearer(&auditor)], b"");
    assert_eq!(status, 200, "{body}");
    // Writes stay open.
    let signer = Signer::new();
    let (status, _, body) = request(
        port,
        "POST",
        "/api/v2/log/entries",
        &[],
        signer.request(b"open write").as_bytes(),
    );
    assert_eq!(status, 201, "{body}");
    // Witness calls: without a token 401; with one, the witness answers
    // (this islet witnesses no log: 404), and the second within the
    // second is over the client's rate.
    let (status, _, body) = request(port, "POST", "/witness/add-checkpoint", &[], b"old 0\n");
    assert_eq!(status, 401, "{body}");
    let (status, _, body) = request(
        port,
        "POST",
        "/witness/add-checkpoint",
        &[&bearer(&peer)],
        b"old 0\n",
    );
    assert!(status == 404 || status == 400, "{status}: {body}");
    let (status, head, body) = request(
        port,
        "POST",
        "/witness/add-checkpoint",
        &[&bearer(&peer)],
        b"old 0\n",
    );
    assert_eq!(status, 429, "{body}");
    assert!(head.contains("\r\nretry-after: 1"), "{head}");
    assert!(
        body.contains("token peer-log is over its rate of 1 witness requests per second"),
        "{body}"
    );
}

#[test]
fn a_log_with_closed_reads_is_mirrored_followed_and_checked_with_a_read_token() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("site");
    let port = free_port();
    let vkey = init_plain(&data, port);
    append_config(&data, "\n[auth]\nread = \"token\"\n");
    let relay_token = token(&data, &["add", "relay", "--scope", "read"]);
    let site = Islet::start_on(&data, port);
    crate::support::write_entries(&site, "closed reads", 20);
    let token_path = tmp.path().join("relay.token");
    crate::pki::write_private(&token_path, format!("{relay_token}\n").as_bytes());
    let url = format!("http://127.0.0.1:{port}/api/v2");
    let relay = tmp.path().join("relay");
    let sync = |token: Option<&Path>| {
        let mut args = vec![
            "mirror",
            "sync",
            "--data",
            relay.to_str().unwrap(),
            "--upstream",
            &url,
            "--vkey",
            &vkey,
        ];
        if let Some(t) = token {
            args.extend(["--token-file", t.to_str().unwrap()]);
        }
        islet(&args)
    };
    let out = sync(None);
    assert!(
        !out.status.success(),
        "synced a log with closed reads without a token"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("401"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = sync(Some(&token_path));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fsck = |token: Option<&Path>| {
        let mut args = vec!["fsck", &url, "--vkey", &vkey];
        if let Some(t) = token {
            args.extend(["--token-file", t.to_str().unwrap()]);
        }
        islet(&args)
    };
    assert!(!fsck(None).status.success());
    let out = fsck(Some(&token_path));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A token file others can read is refused.
    let loose = tmp.path().join("loose.token");
    std::fs::write(&loose, &relay_token).unwrap();
    let out = fsck(Some(&loose));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("chmod 600"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // islet serve follows it with [[mirror.upstream]] token_file.
    let follower = tmp.path().join("follower");
    let fport = free_port();
    let out = islet(&[
        "init",
        "--data",
        follower.to_str().unwrap(),
        "--mirror-only",
        "--public-url",
        &format!("http://127.0.0.1:{fport}"),
        "--listen",
        &format!("127.0.0.1:{fport}"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    crate::pki::write_private(&follower.join("upstream.token"), relay_token.as_bytes());
    append_config(
        &follower,
        &format!(
            "\n[[mirror.upstream]]\nurl = \"{url}\"\nvkey = \"{vkey}\"\ninterval_secs = 1\ntoken_file = \"upstream.token\"\n"
        ),
    );
    let follower_server = Islet::start_on(&follower, fport);
    let origin = vkey.split('+').next().unwrap();
    let path = format!(
        "/mirror/{}/checkpoint",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(origin.as_bytes()))
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = http_get(follower_server.port, &path);
        if status == 200 && String::from_utf8_lossy(&body).lines().nth(1) == Some("20") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the follower did not mirror the log: {status}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
