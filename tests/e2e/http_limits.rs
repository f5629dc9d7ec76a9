//! Slow and idle clients (header and body timeouts, the connection cap), and
//! historic DSSE entries on and off, against the real binary.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::{Islet, Signer, free_port, islet};

/// Initialises a data directory for `port` and sets its `[http]` limits.
fn init_with_limits(dir: &Path, port: u16, header_ms: u64, body_ms: u64, max: usize) -> PathBuf {
    let data = dir.join("data");
    let url = format!("http://127.0.0.1:{port}");
    let out = islet(&[
        "init",
        "--data",
        data.to_str().unwrap(),
        "--public-url",
        &url,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = data.join("islet.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let defaults = [
        "header_read_timeout_ms = 10000",
        "body_read_timeout_ms = 30000",
        "max_connections = 2048",
    ];
    for d in defaults {
        assert!(
            text.contains(d),
            "islet.toml lacks the default {d:?}:\n{text}"
        );
    }
    let text = text
        .replace(
            defaults[0],
            &format!("header_read_timeout_ms = {header_ms}"),
        )
        .replace(defaults[1], &format!("body_read_timeout_ms = {body_ms}"))
        .replace(defaults[2], &format!("max_connections = {max}"));
    std::fs::write(&path, text).unwrap();
    data
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// Whether the server has closed `s` (EOF or reset), without blocking.
fn closed_by_server(s: &mut TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break false,
            Err(_) => break true,
        }
    };
    s.set_nonblocking(false).unwrap();
    closed
}

/// Sends a keep-alive GET /healthz and reads exactly its response.
fn healthz_keep_alive(s: &mut TcpStream) {
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(br#"{"status":"SERVING"}"#) {
        let n = s.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "closed before the response: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
}

/// One request on a fresh `Connection: close` connection; the status and
/// the body.
fn request(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = connect(port);
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let answer = read_to_close(&mut s);
    let status = answer
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {answer:?}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    (status, body.to_owned())
}

/// Reads until the server closes the connection.
fn read_to_close(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn slow_and_idle_clients_are_cut_off_at_the_timeouts_while_others_are_served() {
    const SLOW_CLIENTS: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let data = init_with_limits(dir.path(), port, 1000, 1000, 2048);
    let _server = Islet::start_on(&data, port);
    let signer = Signer::new();

    // Slowloris: every client trickles one byte of its request head every
    // 200 ms and never finishes it.
    let mut slow: Vec<Option<TcpStream>> = (0..SLOW_CLIENTS)
        .map(|_| {
            let mut s = connect(port);
            s.write_all(b"POST /api/v2/log/entries HTTP/1.1\r\nHost: t\r\n")
                .unwrap();
            Some(s)
        })
        .collect();
    // A client that sends its head and then trickles the body.
    let mut slow_body = connect(port);
    slow_body
        .write_all(
            b"POST /api/v2/log/entries HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{\"hash",
        )
        .unwrap();
    // A client that finished a request and then stays idle.
    let mut idle = connect(port);
    healthz_keep_alive(&mut idle);

    let start = Instant::now();
    let mut closed_after = Vec::new();
    let mut served_meanwhile = false;
    while closed_after.len() < SLOW_CLIENTS && start.elapsed() < Duration::from_secs(20) {
        for slot in &mut slow {
            if let Some(s) = slot {
                let _ = s.write_all(b"X");
                if closed_by_server(s) {
                    closed_after.push(start.elapsed());
                    *slot = None;
                }
            }
        }
        if !served_meanwhile {
            // An honest client is served while the slow ones hang on.
            let body = signer.request(b"served while slow clients wait");
            let (status, answer) = request(port, "POST", "/api/v2/log/entries", &body);
            assert_eq!(status, 201, "{answer}");
            served_meanwhile = true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        closed_after.len(),
        SLOW_CLIENTS,
        "only {} of {SLOW_CLIENTS} slow clients were cut off within 20 s",
        closed_after.len()
    );
    // Cut off near the 1 s header timeout, not when the test gave up.
    let last = closed_after.iter().max().unwrap();
    assert!(
        *last < Duration::from_secs(6),
        "last slow client cut off after {last:?}"
    );

    let answer = read_to_close(&mut slow_body);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("the request body did not arrive within 1000 ms"),
        "{answer}"
    );
    // The idle keep-alive connection is closed by the same timeout.
    assert_eq!(read_to_close(&mut idle), "");

    let (_, metrics) = request(port, "GET", "/metrics", "");
    assert!(
        metrics.contains("islet_rejections_total{reason=\"too_slow\"} 1"),
        "{metrics}"
    );
}

#[test]
fn the_connection_cap_holds_a_new_connection_until_an_open_one_closes() {
    const MAX: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let data = init_with_limits(dir.path(), port, 2000, 1000, MAX);
    let _server = Islet::start_on(&data, port);

    // At the limit: MAX - 1 connections held open (each accepted: it has
    // been answered), and one more is served while they all stay open.
    let mut held: Vec<TcpStream> = (0..MAX - 1)
        .map(|_| {
            let mut s = connect(port);
            healthz_keep_alive(&mut s);
            s
        })
        .collect();
    let mut last = connect(port);
    healthz_keep_alive(&mut last);
    for s in &mut held {
        assert!(
            !closed_by_server(s),
            "a held connection was closed too early"
        );
    }

    // One past: MAX held, and a new connection is answered only once the
    // server has closed one of them (by the idle timeout).
    held.push(last);
    let waiting = std::thread::spawn(move || {
        let mut s = connect(port);
        healthz_keep_alive(&mut s);
    });
    waiting.join().unwrap();
    let closed = held.iter_mut().map(closed_by_server).filter(|c| *c).count();
    assert!(
        closed >= 1,
        "a connection past the cap of {MAX} was served while {MAX} were open"
    );
}

#[test]
fn historic_dsse_entries_are_logged_unless_turned_off() {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let dir = tempfile::tempdir().unwrap();
    let mut server = Islet::start(dir.path());
    let signer = Signer::new();
    let payload = br#"{"_type":"https://in-toto.io/Statement/v1"}"#;
    let payload_type = "application/vnd.in-toto+json";
    let mut pae = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    pae.extend_from_slice(payload);
    let sig = signer.sign(&pae);
    let body = format!(
        r#"{{"dsseRequestV002":{{"envelope":{{"payload":"{}","payloadType":"{payload_type}","signatures":[{{"sig":"{}","keyid":""}}]}},"verifiers":[{{"publicKey":{{"rawBytes":"{}"}},"keyDetails":"PKIX_ECDSA_P256_SHA_256"}}]}}}}"#,
        b64(payload),
        b64(&sig),
        b64(signer.spki())
    );
    let (status, response) = request(server.port, "POST", "/api/v2/log/entries", &body);
    assert_eq!(status, 201, "{response}");
    let tle: serde_json::Value = serde_json::from_str(&response).unwrap();
    assert_eq!(tle["kindVersion"]["kind"], "dsse");
    assert_eq!(tle["kindVersion"]["version"], "0.0.2");
    let leaf = base64::engine::general_purpose::STANDARD
        .decode(tle["canonicalizedBody"].as_str().unwrap())
        .unwrap();
    let expected = format!(
        r#"{{"apiVersion":"0.0.2","kind":"dsse","spec":{{"dsseV002":{{"payloadHash":{{"algorithm":"SHA2_256","digest":"{}"}},"signatures":[{{"content":"{}","verifier":{{"keyDetails":"PKIX_ECDSA_P256_SHA_256","publicKey":{{"rawBytes":"{}"}}}}}}]}}}}}}"#,
        b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, payload).as_ref()),
        b64(&sig),
        b64(signer.spki())
    );
    assert_eq!(String::from_utf8(leaf).unwrap(), expected);

    // The same request to the same log restarted with --no-dsse.
    drop(server);
    server = Islet::start_with(dir.path(), free_port(), &["--no-dsse"]);
    let (status, response) = request(server.port, "POST", "/api/v2/log/entries", &body);
    assert_eq!(status, 400, "{response}");
    assert!(
        response.contains("dsse is disabled on this log"),
        "{response}"
    );
}

/// Reads one response head and as much body as `Content-Length` says.
fn read_response(s: &mut TcpStream) -> (u16, String) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if body.len() >= len {
                return (text[9..12].parse().unwrap(), body.to_owned());
            }
        }
        let n = s.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "closed before a whole response: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
}

/// Sends a chunked body of `total` bytes of spaces, in 64 KiB chunks;
/// `finish` sends the last chunk too.
fn send_chunked(s: &mut TcpStream, total: usize, finish: bool) {
    s.write_all(
        b"POST /api/v2/log/entries HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .unwrap();
    let chunk = vec![b' '; 64 * 1024];
    let mut sent = 0;
    while sent < total {
        let n = chunk.len().min(total - sent);
        write!(s, "{n:x}\r\n").unwrap();
        s.write_all(&chunk[..n]).unwrap();
        s.write_all(b"\r\n").unwrap();
        sent += n;
    }
    if finish {
        s.write_all(b"0\r\n\r\n").unwrap();
    }
}

#[test]
fn the_body_limit_holds_for_declared_and_chunked_bodies_at_and_past_it() {
    const LIMIT: usize = 4 * 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let server = Islet::start(dir.path());
    let port = server.port;

    // A declared length past the limit is refused before any body is sent.
    let mut s = connect(port);
    write!(
        s,
        "POST /api/v2/log/entries HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        LIMIT + 1
    )
    .unwrap();
    let (status, body) = read_response(&mut s);
    assert_eq!(status, 413, "{body}");
    assert!(
        body.contains("larger than the 4194304-byte limit"),
        "{body}"
    );

    // A chunked body of exactly the limit is read whole (and then fails to
    // parse, being only spaces).
    let mut s = connect(port);
    send_chunked(&mut s, LIMIT, true);
    let (status, body) = read_response(&mut s);
    assert_eq!(status, 400, "{body}");

    // One byte more, and the server answers 413 without waiting for the end.
    let mut s = connect(port);
    send_chunked(&mut s, LIMIT + 1, false);
    let (status, body) = read_response(&mut s);
    assert_eq!(status, 413, "{body}");

    let (_, metrics) = request(port, "GET", "/metrics", "");
    assert!(
        metrics.contains("islet_rejections_total{reason=\"too_large\"} 2"),
        "{metrics}"
    );
}
