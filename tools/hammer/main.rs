//! `hammer`: a load generator for Rekor v2 logs.
//!
//! It pre-signs N hashedrekord requests (ECDSA P-256; half with public-key
//! verifiers, half with self-signed X.509 certificates), sends them over C
//! concurrent connections at a target rate (or as fast as the log takes
//! them), checks a sample of the returned inclusion proofs, and reports
//! entries/s, latency percentiles and errors by status. In the same run it
//! measures single-core ECDSA P-256 verification with aws-lc-rs, and, given
//! `--server-pid`, the server's CPU time per entry.
//!
//! With `--tsa` it loads the timestamp authority instead: N RFC 3161
//! queries (SHA-256 imprints of distinct data, a nonce each) to
//! URL/api/v1/timestamp, and in the same run the TSA key's raw signing rate
//! on one core (ECDSA P-384 with SHA-384, what `islet init` issues), so the
//! report gives timestamps/s over HTTP as a ratio of signatures/s.
//!
//! With `--witness` it loads a witness (`POST URL/witness/add-checkpoint`):
//! it takes the current checkpoint of the log at `--log-url` (which the
//! witness must trust), has it cosigned once, then sends N requests that
//! re-cosign it (`old` equal to its size: each one a log-signature
//! verification, a cosignature and a synced compare-and-swap), and in the
//! same run measures the raw Ed25519 signing rate on one core, so the
//! report gives requests/s as a ratio of cosignatures/s.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair, ParsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clap::Parser;
use islet_tlog::merkle::{hash_from_slice, leaf_hash, verify_inclusion};

#[derive(Parser)]
#[command(name = "hammer", version, about = "Load generator for Rekor v2 logs")]
struct Args {
    /// The log's base URL (the entries go to URL/api/v2/log/entries).
    /// Given more than once, the requests go round-robin to each (the
    /// nodes of one log).
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    url: Vec<String>,
    /// Requests to pre-sign and send.
    #[arg(long, default_value_t = 20_000)]
    entries: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Target rate in entries/s; 0 sends as fast as the log answers.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Check the inclusion proof of one response in this many.
    #[arg(long, default_value_t = 20)]
    check_every: usize,
    /// Signing keys to spread the entries over.
    #[arg(long, default_value_t = 64)]
    keys: usize,
    /// PID of the server, to report its CPU time per entry; given more
    /// than once, their CPU time is added up.
    #[arg(long)]
    server_pid: Vec<u32>,
    /// PID of a database's postmaster: its CPU time, its backends' and
    /// that of the backends that ended meanwhile are reported too.
    #[arg(long, value_name = "PID")]
    db_pid: Option<u32>,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
    /// Load the timestamp authority (`POST /api/v1/timestamp`) instead of
    /// the log.
    #[arg(long, conflicts_with = "witness")]
    tsa: bool,
    /// Load a witness (`POST URL/witness/add-checkpoint`) with the
    /// checkpoint of the log at --log-url.
    #[arg(long, requires = "log_url")]
    witness: bool,
    /// The witnessed log's base URL (its checkpoint is at
    /// URL/api/v2/checkpoint).
    #[arg(long, value_name = "URL")]
    log_url: Option<String>,
    /// For an https URL: trust this CA certificate (PEM) alone.
    #[arg(long, value_name = "FILE")]
    ca: Option<std::path::PathBuf>,
    /// Send `Authorization: Bearer TOKEN` (an `islet token add` token).
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// Speak HTTP/1.1 only, also over TLS (by default ALPN picks HTTP/2
    /// there, all requests sharing few connections).
    #[arg(long)]
    http1_only: bool,
}

/// The HTTP client of a run: the CA of --ca, the token of --token.
fn http_client(args: &Args) -> reqwest::Client {
    let mut builder = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency);
    if let Some(ca) = &args.ca {
        let pem = std::fs::read(ca).expect("read --ca");
        let cert = reqwest::Certificate::from_pem(&pem).expect("--ca is a PEM certificate");
        builder = builder.tls_certs_only([cert]);
    }
    if let Some(token) = &args.token {
        let mut headers = reqwest::header::HeaderMap::new();
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
            .expect("--token is printable");
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
        builder = builder.default_headers(headers);
    }
    if args.http1_only {
        builder = builder.http1_only();
    }
    builder.build().expect("client")
}

struct Client {
    key: EcdsaKeyPair,
    verifier_json: String,
}

fn b64(b: &[u8]) -> String {
    STANDARD.encode(b)
}

fn make_clients(n: usize) -> Vec<Client> {
    (0..n)
        .map(|i| {
            if i % 2 == 0 {
                let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("key");
                let spki = key.public_key().as_der().expect("spki");
                Client {
                    verifier_json: format!(
                        r#"{{"publicKey":{{"rawBytes":"{}"}},"keyDetails":"PKIX_ECDSA_P256_SHA_256"}}"#,
                        b64(spki.as_ref())
                    ),
                    key,
                }
            } else {
                let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
                let params = rcgen::CertificateParams::new(vec![format!("hammer-{i}.invalid")]).expect("params");
                let cert = params.self_signed(&kp).expect("certificate");
                let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &kp.serialize_der()).expect("pkcs8");
                Client {
                    verifier_json: format!(
                        r#"{{"x509Certificate":{{"rawBytes":"{}"}},"keyDetails":"PKIX_ECDSA_P256_SHA_256"}}"#,
                        b64(cert.der())
                    ),
                    key,
                }
            }
        })
        .collect()
}

fn presign(clients: &[Client], n: usize) -> Vec<String> {
    let run = format!("{:?}", Instant::now());
    (0..n)
        .map(|i| {
            let c = &clients[i % clients.len()];
            let d = digest(&SHA256, format!("hammer {run} artifact {i}").as_bytes());
            let sig = c.key.sign_digest(&d).expect("sign");
            format!(
                r#"{{"hashedRekordRequestV002":{{"digest":"{}","signature":{{"content":"{}","verifier":{}}}}}}}"#,
                b64(d.as_ref()),
                b64(sig.as_ref()),
                c.verifier_json
            )
        })
        .collect()
}

/// A DER `TimeStampReq` (RFC 3161 §2.4.1) as sigstore-python sends one:
/// version 1, a SHA-256 imprint, a 64-bit nonce, no policy.
fn timestamp_query(i: usize, run: &str) -> Vec<u8> {
    let d = digest(&SHA256, format!("hammer {run} timestamp {i}").as_bytes());
    let mut nonce = (i as u64 | 1 << 62).to_be_bytes();
    nonce[0] &= 0x7f;
    let mut q = vec![0x30, 0x40, 0x02, 0x01, 0x01, 0x30, 0x31];
    q.extend_from_slice(&[
        0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
    ]);
    q.extend_from_slice(&[0x04, 0x20]);
    q.extend_from_slice(d.as_ref());
    q.extend_from_slice(&[0x02, 0x08]);
    q.extend_from_slice(&nonce);
    q
}

/// True when a reply is a `TimeStampResp` whose status is granted (0).
fn granted(reply: &[u8]) -> bool {
    // SEQUENCE (long form length), then PKIStatusInfo SEQUENCE { INTEGER 0 }.
    let header = match reply.get(1) {
        Some(0x81) => 3,
        Some(0x82) => 4,
        Some(0x83) => 5,
        _ => return false,
    };
    reply.first() == Some(&0x30)
        && reply.get(header..header + 5) == Some(&[0x30, 0x03, 0x02, 0x01, 0x00][..])
}

/// Median time of one ECDSA P-384 (SHA-384) signature on this core, in
/// seconds: the raw cost of a timestamp.
fn ecdsa_p384_sign_seconds() -> f64 {
    use aws_lc_rs::signature::ECDSA_P384_SHA384_ASN1_SIGNING;
    let key = EcdsaKeyPair::generate(&ECDSA_P384_SHA384_ASN1_SIGNING).expect("key");
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let mut rounds = Vec::new();
    for _ in 0..7 {
        let start = Instant::now();
        for i in 0..1000u32 {
            key.sign(&rng, &i.to_be_bytes()).expect("sign");
        }
        rounds.push(start.elapsed().as_secs_f64() / 1000.0);
    }
    rounds.sort_by(f64::total_cmp);
    rounds[rounds.len() / 2]
}

/// `--check-every`, for the judge of log answers (a plain function).
static CHECK_EVERY: AtomicUsize = AtomicUsize::new(1);

/// Median time of one ECDSA P-256 verification on this core, in seconds.
fn ecdsa_verify_seconds() -> f64 {
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("key");
    let spki = key.public_key().as_der().expect("spki");
    let parsed = ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, spki.as_ref()).expect("parse");
    let d = digest(&SHA256, b"x");
    let sig = key.sign_digest(&d).expect("sign");
    let mut rounds = Vec::new();
    for _ in 0..7 {
        let start = Instant::now();
        for _ in 0..2000 {
            parsed.verify_digest_sig(&d, sig.as_ref()).expect("verify");
        }
        rounds.push(start.elapsed().as_secs_f64() / 2000.0);
    }
    rounds.sort_by(f64::total_cmp);
    rounds[rounds.len() / 2]
}

/// `path` under each `--url`.
fn endpoints(args: &Args, path: &str) -> Vec<String> {
    args.url
        .iter()
        .map(|u| format!("{}/{path}", u.trim_end_matches('/')))
        .collect()
}

/// The CPU time of all `pids` together, in seconds (None without any).
fn servers_cpu(pids: &[u32]) -> Option<f64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|p| cpu_seconds(*p)).sum()
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> Option<f64> {
    proc_times(pid, false)
}

/// A database server's CPU time: its postmaster's, with the children it
/// reaped (cutime, cstime: the backends that ended), and every live
/// child's (backends, walsender, checkpointer...).
fn database_cpu_seconds(postmaster: u32) -> Option<f64> {
    let mut total = proc_times(postmaster, true)?;
    let children =
        std::fs::read_to_string(format!("/proc/{postmaster}/task/{postmaster}/children")).ok()?;
    for child in children.split_whitespace() {
        if let Ok(pid) = child.parse() {
            total += proc_times(pid, false).unwrap_or(0.0);
        }
    }
    Some(total)
}

/// utime + stime (and, with `reaped`, cutime + cstime) of a process.
fn proc_times(pid: u32, reaped: bool) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let mut ticks_used: f64 =
        fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    if reaped {
        ticks_used += fields.get(13)?.parse::<f64>().ok()? + fields.get(14)?.parse::<f64>().ok()?;
    }
    let ticks = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .unwrap_or(100.0);
    Some(ticks_used / ticks)
}

struct Sample {
    latency: Duration,
    status: u16,
    /// The answer is what a success looks like.
    ok: bool,
    checked: Option<Result<(), String>>,
}

/// What a request's answer showed: success, and a check's verdict when
/// this request was checked.
type Judge = fn(usize, u16, &[u8]) -> (bool, Option<Result<(), String>>);

/// Sends every body over `args.concurrency` connections (at `args.rate`
/// when set) and judges each answer.
fn send_all(
    args: &Args,
    urls: &[String],
    content_type: &'static str,
    bodies: Arc<Vec<Vec<u8>>>,
    judge: Judge,
) -> (Vec<Sample>, f64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let samples = rt.block_on(async {
        let client = http_client(args);
        let mut tasks = Vec::new();
        for _ in 0..args.concurrency.max(1) {
            let (client, urls, bodies, next) = (
                client.clone(),
                urls.to_vec(),
                Arc::clone(&bodies),
                Arc::clone(&next),
            );
            let rate = args.rate;
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    if rate > 0.0 {
                        let due = started + Duration::from_secs_f64(i as f64 / rate);
                        tokio::time::sleep_until(due.into()).await;
                    }
                    let t = Instant::now();
                    let resp = client
                        .post(&urls[i % urls.len()])
                        .header("content-type", content_type)
                        .body(body.clone())
                        .send()
                        .await;
                    let (status, bytes) = match resp {
                        Ok(r) => {
                            let s = r.status().as_u16();
                            (s, r.bytes().await.unwrap_or_default())
                        }
                        Err(_) => (0, Default::default()),
                    };
                    let latency = t.elapsed();
                    let (ok, checked) = judge(i, status, &bytes);
                    out.push(Sample {
                        latency,
                        status,
                        ok,
                        checked,
                    });
                }
                out
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap_or_default());
        }
        all
    });
    (samples, started.elapsed().as_secs_f64())
}

/// Latencies of the successful samples, sorted, and the count per status
/// (0 for a transport error).
fn summarise(samples: &[Sample]) -> (Vec<f64>, BTreeMap<String, usize>) {
    let mut latencies: Vec<f64> = samples
        .iter()
        .filter(|s| s.ok)
        .map(|s| s.latency.as_secs_f64())
        .collect();
    latencies.sort_by(f64::total_cmp);
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for s in samples {
        let key = if s.status == 0 {
            "transport".to_owned()
        } else {
            s.status.to_string()
        };
        *by_status.entry(key).or_default() += 1;
    }
    (latencies, by_status)
}

fn check_proof(body: &str) -> Result<(), String> {
    let v: serde_json::Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    let p = &v["inclusionProof"];
    let dec = |s: &serde_json::Value| {
        STANDARD
            .decode(s.as_str().unwrap_or_default())
            .map_err(|e| e.to_string())
    };
    let index: u64 = p["logIndex"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .map_err(|_| "logIndex")?;
    let size: u64 = p["treeSize"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .map_err(|_| "treeSize")?;
    let root = hash_from_slice(&dec(&p["rootHash"])?).map_err(|e| e.to_string())?;
    let hashes = p["hashes"]
        .as_array()
        .ok_or("hashes")?
        .iter()
        .map(|h| dec(h).and_then(|b| hash_from_slice(&b).map_err(|e| e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let leaf = leaf_hash(&dec(&v["canonicalizedBody"])?);
    verify_inclusion(index, size, &leaf, &hashes, &root).map_err(|e| e.to_string())?;
    let note = p["checkpoint"]["envelope"].as_str().unwrap_or_default();
    let text = note.split("\n\n").next().unwrap_or_default();
    let cp = islet_tlog::checkpoint::Checkpoint::parse(&format!("{text}\n"))
        .map_err(|e| e.to_string())?;
    if cp.size != size || cp.root != root {
        return Err("checkpoint does not match the proof's tree".into());
    }
    Ok(())
}

/// The `per_mille`-th value of sorted samples (nearest rank).
fn percentile(sorted: &[f64], per_mille: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) * per_mille / 1000).min(sorted.len() - 1)]
}

fn main() {
    let args = Args::parse();
    if args.tsa {
        return hammer_tsa(&args);
    }
    if args.witness {
        return hammer_witness(&args);
    }
    let verify = ecdsa_verify_seconds();
    eprintln!(
        "hammer: pre-signing {} requests with {} keys",
        args.entries, args.keys
    );
    let clients = make_clients(args.keys.max(1));
    let requests = Arc::new(presign(&clients, args.entries));
    let cpu_before = servers_cpu(&args.server_pid);
    let db_before = args.db_pid.and_then(database_cpu_seconds);
    let urls = endpoints(&args, "api/v2/log/entries");
    let check_every = args.check_every.max(1);
    CHECK_EVERY.store(check_every, Ordering::Relaxed);
    let bodies = Arc::new(requests.iter().map(|r| r.as_bytes().to_vec()).collect());
    let (samples, elapsed) = send_all(
        &args,
        &urls,
        "application/json",
        bodies,
        |i, status, body| {
            let checked = (status == 201 && i % CHECK_EVERY.load(Ordering::Relaxed) == 0)
                .then(|| check_proof(&String::from_utf8_lossy(body)));
            (status == 201, checked)
        },
    );
    let cpu_after = servers_cpu(&args.server_pid);
    let db_after = args.db_pid.and_then(database_cpu_seconds);
    let ok = samples.iter().filter(|s| s.ok).count();
    let (latencies, by_status) = summarise(&samples);
    let checked = samples.iter().filter(|s| s.checked.is_some()).count();
    let bad_proofs: Vec<String> = samples
        .iter()
        .filter_map(|s| s.checked.clone()?.err())
        .collect();
    let cpu_per_entry = match (cpu_before, cpu_after) {
        (Some(a), Some(b)) if ok > 0 => Some((b - a) / ok as f64),
        _ => None,
    };
    let db_per_entry = match (db_before, db_after) {
        (Some(a), Some(b)) if ok > 0 => Some((b - a) / ok as f64),
        _ => None,
    };
    let total_per_entry = cpu_per_entry.map(|c| c + db_per_entry.unwrap_or(0.0));
    let report = serde_json::json!({
        "entries_sent": samples.len(),
        "entries_ok": ok,
        "elapsed_s": elapsed,
        "entries_per_s": ok as f64 / elapsed,
        "target_rate": args.rate,
        "concurrency": args.concurrency,
        "latency_s": { "p50": percentile(&latencies, 500), "p90": percentile(&latencies, 900), "p99": percentile(&latencies, 990) },
        "status_counts": by_status,
        "proofs_checked": checked,
        "proofs_failed": bad_proofs.len(),
        "ecdsa_p256_verify_s": verify,
        "server_cpu_s_per_entry": cpu_per_entry,
        "server_cpu_per_entry_in_verifications": cpu_per_entry.map(|c| c / verify),
        "db_cpu_s_per_entry": db_per_entry,
        "total_cpu_s_per_entry": total_per_entry,
        "total_cpu_per_entry_in_verifications": total_per_entry.map(|c| c / verify),
    });
    if args.json {
        println!("{report}");
    } else {
        println!(
            "{ok} of {} entries in {elapsed:.2} s: {:.0} entries/s; latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms",
            samples.len(),
            ok as f64 / elapsed,
            percentile(&latencies, 500) * 1e3,
            percentile(&latencies, 900) * 1e3,
            percentile(&latencies, 990) * 1e3
        );
        println!(
            "statuses: {by_status:?}; proofs checked {checked}, failed {}",
            bad_proofs.len()
        );
        println!(
            "ECDSA P-256 verify (aws-lc-rs, one core): {:.1} µs",
            verify * 1e6
        );
        if let Some(c) = cpu_per_entry {
            println!(
                "server CPU per entry: {:.1} µs = {:.2} verifications",
                c * 1e6,
                c / verify
            );
        }
        if let Some(d) = db_per_entry {
            println!(
                "database CPU per entry: {:.1} µs = {:.2} verifications",
                d * 1e6,
                d / verify
            );
        }
    }
    if let Some(e) = bad_proofs.first() {
        eprintln!("hammer: an inclusion proof failed: {e}");
        std::process::exit(1);
    }
}

/// `--tsa`: timestamps/s over HTTP against raw P-384 signatures/s.
fn hammer_tsa(args: &Args) {
    let sign = ecdsa_p384_sign_seconds();
    let run = format!("{:?}", Instant::now());
    let queries: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..args.entries)
            .map(|i| timestamp_query(i, &run))
            .collect(),
    );
    let cpu_before = servers_cpu(&args.server_pid);
    let url = endpoints(args, "api/v1/timestamp");
    let (samples, elapsed) = send_all(
        args,
        &url,
        "application/timestamp-query",
        queries,
        |_, status, body| (status == 200 && granted(body), None),
    );
    let cpu_after = servers_cpu(&args.server_pid);
    let ok = samples.iter().filter(|s| s.ok).count();
    let (latencies, by_status) = summarise(&samples);
    let rate = ok as f64 / elapsed;
    let cpu_per = match (cpu_before, cpu_after) {
        (Some(a), Some(b)) if ok > 0 => Some((b - a) / ok as f64),
        _ => None,
    };
    let report = serde_json::json!({
        "timestamps_sent": samples.len(),
        "timestamps_ok": ok,
        "elapsed_s": elapsed,
        "timestamps_per_s": rate,
        "concurrency": args.concurrency,
        "latency_s": { "p50": percentile(&latencies, 500), "p90": percentile(&latencies, 900), "p99": percentile(&latencies, 990) },
        "status_counts": by_status,
        "ecdsa_p384_sign_s": sign,
        "raw_signatures_per_s": 1.0 / sign,
        "ratio_to_raw_signing": rate * sign,
        "server_cpu_s_per_timestamp": cpu_per,
    });
    if args.json {
        println!("{report}");
    } else {
        println!(
            "{ok} of {} timestamps in {elapsed:.2} s: {rate:.0}/s; latency p50 {:.1} ms, p99 {:.1} ms; statuses {by_status:?}",
            samples.len(),
            percentile(&latencies, 500) * 1e3,
            percentile(&latencies, 990) * 1e3,
        );
        println!(
            "ECDSA P-384 sign (aws-lc-rs, one core): {:.1} µs = {:.0}/s; ratio {:.2}",
            sign * 1e6,
            1.0 / sign,
            rate * sign
        );
    }
    if ok < samples.len() {
        eprintln!(
            "hammer: {} timestamp requests were not granted",
            samples.len() - ok
        );
        std::process::exit(1);
    }
}

/// Median time of one Ed25519 signature of a cosignature/v1 message (a
/// checkpoint's size) on this core, in seconds: the raw cost of a
/// cosignature.
fn ed25519_sign_seconds() -> f64 {
    use aws_lc_rs::signature::Ed25519KeyPair;
    let key = Ed25519KeyPair::generate().expect("key");
    let message = b"cosignature/v1\ntime 1700000000\nlog.example\n123456\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    let mut rounds = Vec::new();
    for _ in 0..7 {
        let start = Instant::now();
        for _ in 0..2000 {
            std::hint::black_box(key.sign(std::hint::black_box(message)));
        }
        rounds.push(start.elapsed().as_secs_f64() / 2000.0);
    }
    rounds.sort_by(f64::total_cmp);
    rounds[rounds.len() / 2]
}

/// POSTs one add-checkpoint body; the status and the body.
fn add_checkpoint_once(url: &str, body: &str) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let r = reqwest::Client::new()
            .post(url)
            .body(body.to_owned())
            .send()
            .await
            .expect("the witness answers");
        let status = r.status().as_u16();
        (status, r.text().await.unwrap_or_default())
    })
}

/// `--witness`: add-checkpoint requests/s against raw Ed25519 signatures/s.
fn hammer_witness(args: &Args) {
    let sign = ed25519_sign_seconds();
    let log = args
        .log_url
        .as_deref()
        .unwrap_or_default()
        .trim_end_matches('/');
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let note = rt
        .block_on(async {
            reqwest::get(format!("{log}/api/v2/checkpoint"))
                .await?
                .text()
                .await
        })
        .expect("the log's checkpoint");
    let size: u64 = note
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .expect("a checkpoint");
    let url = endpoints(args, "witness/add-checkpoint");
    // Bring the witness to this size: from what it holds (its 409 says),
    // with no proof only if it holds nothing or this very size.
    let (status, body) = add_checkpoint_once(&url[0], &format!("old 0\n\n{note}"));
    let held: u64 = match status {
        200 => size,
        409 => body.trim().parse().expect("a 409 size"),
        other => panic!("the witness refused the checkpoint: {other} {body}"),
    };
    assert_eq!(
        held, size,
        "the witness must hold nothing or this checkpoint's size"
    );
    let request = format!("old {size}\n\n{note}");
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(vec![request.into_bytes(); args.entries]);
    let cpu_before = servers_cpu(&args.server_pid);
    let (samples, elapsed) = send_all(args, &url, "text/plain", bodies, |_, status, body| {
        (
            status == 200 && body.starts_with("\u{2014} ".as_bytes()),
            None,
        )
    });
    let cpu_after = servers_cpu(&args.server_pid);
    let ok = samples.iter().filter(|s| s.ok).count();
    let (latencies, by_status) = summarise(&samples);
    let rate = ok as f64 / elapsed;
    let cpu_per = match (cpu_before, cpu_after) {
        (Some(a), Some(b)) if ok > 0 => Some((b - a) / ok as f64),
        _ => None,
    };
    let report = serde_json::json!({
        "requests_sent": samples.len(),
        "requests_ok": ok,
        "elapsed_s": elapsed,
        "requests_per_s": rate,
        "concurrency": args.concurrency,
        "latency_s": { "p50": percentile(&latencies, 500), "p90": percentile(&latencies, 900), "p99": percentile(&latencies, 990) },
        "status_counts": by_status,
        "ed25519_sign_s": sign,
        "raw_signatures_per_s": 1.0 / sign,
        "ratio_to_raw_signing": rate * sign,
        "server_cpu_s_per_request": cpu_per,
    });
    if args.json {
        println!("{report}");
    } else {
        println!(
            "{ok} of {} add-checkpoint requests in {elapsed:.2} s: {rate:.0}/s; latency p50 {:.1} ms, p99 {:.1} ms; statuses {by_status:?}",
            samples.len(),
            percentile(&latencies, 500) * 1e3,
            percentile(&latencies, 990) * 1e3,
        );
        println!(
            "Ed25519 sign (aws-lc-rs, one core): {:.1} µs = {:.0}/s; ratio {:.3}",
            sign * 1e6,
            1.0 / sign,
            rate * sign
        );
    }
    if ok < samples.len() {
        eprintln!("hammer: {} requests were not cosigned", samples.len() - ok);
        std::process::exit(1);
    }
}
