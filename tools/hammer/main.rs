//! `hammer`: a load generator for Rekor v2 logs.
//!
//! It pre-signs N hashedrekord requests (ECDSA P-256; half with public-key
//! verifiers, half with self-signed X.509 certificates), sends them over C
//! concurrent connections at a target rate (or as fast as the log takes
//! them), checks a sample of the returned inclusion proofs, and reports
//! entries/s, latency percentiles and errors by status. In the same run it
//! measures single-core ECDSA P-256 verification with aws-lc-rs, and, given
//! `--server-pid`, the server's CPU time per entry.

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
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    url: String,
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
    /// PID of the server, to report its CPU time per entry.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
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

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let ticks = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .unwrap_or(100.0);
    Some((utime + stime) / ticks)
}

struct Sample {
    latency: Duration,
    status: u16,
    checked: Option<Result<(), String>>,
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
    let verify = ecdsa_verify_seconds();
    eprintln!(
        "hammer: pre-signing {} requests with {} keys",
        args.entries, args.keys
    );
    let clients = make_clients(args.keys.max(1));
    let requests = Arc::new(presign(&clients, args.entries));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cpu_before = args.server_pid.and_then(cpu_seconds);
    let url = format!("{}/api/v2/log/entries", args.url.trim_end_matches('/'));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let samples: Vec<Sample> = rt.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(args.concurrency)
            .build()
            .expect("client");
        let mut tasks = Vec::new();
        for _ in 0..args.concurrency.max(1) {
            let (client, url, requests, next) = (
                client.clone(),
                url.clone(),
                Arc::clone(&requests),
                Arc::clone(&next),
            );
            let (rate, check_every) = (args.rate, args.check_every.max(1));
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = requests.get(i) else { break };
                    if rate > 0.0 {
                        let due = started + Duration::from_secs_f64(i as f64 / rate);
                        tokio::time::sleep_until(due.into()).await;
                    }
                    let t = Instant::now();
                    let resp = client.post(&url).body(body.clone()).send().await;
                    let (status, text) = match resp {
                        Ok(r) => {
                            let s = r.status().as_u16();
                            (s, r.text().await.unwrap_or_default())
                        }
                        Err(_) => (0, String::new()),
                    };
                    let latency = t.elapsed();
                    let checked =
                        (status == 201 && i % check_every == 0).then(|| check_proof(&text));
                    out.push(Sample {
                        latency,
                        status,
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
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_after = args.server_pid.and_then(cpu_seconds);
    let ok = samples.iter().filter(|s| s.status == 201).count();
    let mut latencies: Vec<f64> = samples
        .iter()
        .filter(|s| s.status == 201)
        .map(|s| s.latency.as_secs_f64())
        .collect();
    latencies.sort_by(f64::total_cmp);
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for s in &samples {
        *by_status.entry(s.status).or_default() += 1;
    }
    let checked = samples.iter().filter(|s| s.checked.is_some()).count();
    let bad_proofs: Vec<String> = samples
        .iter()
        .filter_map(|s| s.checked.clone()?.err())
        .collect();
    let cpu_per_entry = match (cpu_before, cpu_after) {
        (Some(a), Some(b)) if ok > 0 => Some((b - a) / ok as f64),
        _ => None,
    };
    let report = serde_json::json!({
        "entries_sent": samples.len(),
        "entries_ok": ok,
        "elapsed_s": elapsed,
        "entries_per_s": ok as f64 / elapsed,
        "target_rate": args.rate,
        "concurrency": args.concurrency,
        "latency_s": { "p50": percentile(&latencies, 500), "p90": percentile(&latencies, 900), "p99": percentile(&latencies, 990) },
        "status_counts": by_status.iter().map(|(k, v)| (if *k == 0 { "transport".to_owned() } else { k.to_string() }, *v)).collect::<BTreeMap<_, _>>(),
        "proofs_checked": checked,
        "proofs_failed": bad_proofs.len(),
        "ecdsa_p256_verify_s": verify,
        "server_cpu_s_per_entry": cpu_per_entry,
        "server_cpu_per_entry_in_verifications": cpu_per_entry.map(|c| c / verify),
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
    }
    if let Some(e) = bad_proofs.first() {
        eprintln!("hammer: an inclusion proof failed: {e}");
        std::process::exit(1);
    }
}
