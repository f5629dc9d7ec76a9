//! `islet verify` throughput in bundles/s over 10,000 full Sigstore
//! bundles, against single-core ECDSA P-256 verification in the same run.
//!
//! ```text
//! CARGO_TARGET_DIR=/root/target-bench cargo bench --profile bench-server --bench verify_throughput
//! ISLET_BENCH_BUNDLES=2000 CARGO_TARGET_DIR=/root/target-bench cargo bench --profile bench-server --bench verify_throughput
//! ISLET_BENCH_ROUNDS=3 CARGO_TARGET_DIR=/root/target-bench cargo bench --profile bench-server --bench verify_throughput
//! ```
//!
//! (`ISLET_BENCH_BUNDLES`, default 10,000; `ISLET_BENCH_ROUNDS`, default 5.)
//!
//! Each bundle is what a Fulcio + Rekor v2 + TSA signer gets, made with
//! authorities of our own ([`support::sigstore`]):
//! - its own P-256 key and its own leaf certificate from a P-256 test CA
//!   (email SAN, OIDC issuer extensions 1.3.6.1.4.1.57264.1.1 and .1.8,
//!   KU digitalSignature, EKU codeSigning, 10 minutes' validity) carrying
//!   an embedded SCT from a P-256 test CT log over the precertificate;
//! - its own ECDSA P-256 signature over the SHA-256 of its own artifact;
//! - its own RFC 3161 timestamp over that signature, issued by
//!   `islet_tsa::TimestampAuthority` with a **P-256** chain (root and leaf)
//!   from `islet_tsa::issue_chain`, so that every ECDSA check of a bundle
//!   is P-256 (the authority's default is P-384);
//! - its Rekor v2 hashedrekord entry (built by islet's own entry
//!   validation), inclusion proof and the log's signed checkpoint: all
//!   bundles share the one checkpoint of the final tree.
//!
//! The trusted root lists the log (Ed25519), the CA
//! (`certificateAuthorities`), the CT log (`ctlogs`) and the TSA
//! (`timestampAuthorities`, chain leaf first), each valid from an hour
//! before the bundles. The log is also written as a tlog-tiles directory.
//!
//! Then, `ISLET_BENCH_ROUNDS` times: the real `islet verify` of all the
//! bundles in one call with the identity policy (`--certificate-identity`,
//! `--certificate-oidc-issuer`; SCTs required, the default), without and
//! with `--log` (the tile directory); every bundle must verify or the
//! benchmark panics. And, in this process, on one core, aws-lc-rs ECDSA
//! P-256 verification alone of every bundle's message signature over its
//! digest (keys parsed before the clock starts; passes over all of them
//! for at least a second).
//!
//! Signature checks `islet verify` makes per bundle (read from
//! mirror/verify): 5 ECDSA P-256 — the message signature (binding), the
//! TSA token's SignerInfo, the TSA leaf by the TSA root (chain path), the
//! signing certificate by the CA (chain path; one verified time, so one
//! path), the SCT — plus the Ed25519 checkpoint signature, which the
//! verifier checks once per distinct checkpoint and remembers (all bundles
//! here share one, so once per run; with `--log` the local checkpoint is
//! also verified once per run). Anchors' self-signatures are not checked.
//! It prints each round, the medians, bundles/s, verifications/s, the
//! ratio, the ceiling (verifications/s ÷ 5) and a JSON line.

#![allow(missing_docs, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest::{Digest, SHA256};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _,
    ParsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use islet_reader::tiledir::TileDirWriter;
use islet_rekor::entry::{EntryPolicy, validate};
use islet_rekor::request::parse_request;
use islet_signer::Ed25519Signer;
use islet_tlog::merkle::{MemoryTree, inclusion_proof, leaf_hash};
use islet_tlog::note::NoteSigner;
use islet_tsa::{
    ChainParams, SerialNumber, TimestampAuthority, TsaConfig, TsaKeyType, issue_chain,
};

mod support;
use support::fixture::islet_bin;
use support::sigstore::{TestCa, timestamp_request};
use support::{env_u64, median};

const ORIGIN: &str = "127.0.0.1";
const IDENTITY: &str = "signer@bench.example";
const OIDC_ISSUER: &str = "https://oauth2.bench.example";
/// ECDSA P-256 verifications `islet verify` makes per bundle (see above).
const ECDSA_PER_BUNDLE: u64 = 5;

struct Made {
    bundles: Vec<PathBuf>,
    root: PathBuf,
    log_dir: PathBuf,
    /// (public key point, digest, signature) of each bundle.
    signatures: Vec<(Vec<u8>, [u8; 32], Vec<u8>)>,
}

/// What one bundle needs besides the log.
struct Signed {
    cert: Vec<u8>,
    point: Vec<u8>,
    digest: [u8; 32],
    signature: Vec<u8>,
    timestamp: Vec<u8>,
    body: Vec<u8>,
}

/// Bundle `i`: a key, a certificate, a signature, a timestamp, an entry.
fn sign_one(i: u64, ca: &TestCa, tsa: &TimestampAuthority, now: SystemTime) -> Signed {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = ca.issue(
        &key,
        IDENTITY,
        OIDC_ISSUER,
        i,
        now - Duration::from_secs(60),
        now,
    );
    let signer =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &key.serialize_der()).unwrap();
    let digest = aws_lc_rs::digest::digest(&SHA256, format!("artifact {i}").as_bytes());
    let signature = signer.sign_digest(&digest).unwrap().as_ref().to_vec();
    let mut serial = [0u8; 20];
    serial[12..].copy_from_slice(&(i + 1).to_be_bytes());
    let answer = tsa.answer(
        "application/timestamp-query",
        &timestamp_request(&signature),
        now,
        SerialNumber::from_bytes(serial),
    );
    assert_eq!(answer.http_status, 200, "{:?}", answer.outcome);
    let request = format!(
        r#"{{"hashedRekordRequestV002":{{"digest":"{}","signature":{{"content":"{}","verifier":{{"x509Certificate":{{"rawBytes":"{}"}},"keyDetails":"PKIX_ECDSA_P256_SHA_256"}}}}}}}}"#,
        STANDARD.encode(digest.as_ref()),
        STANDARD.encode(&signature),
        STANDARD.encode(&cert)
    );
    let body = validate(
        parse_request(request.as_bytes()).unwrap(),
        EntryPolicy::default(),
    )
    .unwrap()
    .body;
    Signed {
        point: signer.public_key().as_ref().to_vec(),
        cert,
        digest: digest.as_ref().try_into().unwrap(),
        signature,
        timestamp: answer.body,
        body,
    }
}

fn make(dir: &Path, n: u64) -> Made {
    let start = Instant::now();
    // Whole seconds: what certificates and genTime can say.
    let now = UNIX_EPOCH
        + Duration::from_secs(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        );
    let hour_ago = now - Duration::from_secs(3600);
    let ca = TestCa::new(hour_ago);
    let chain = issue_chain(&ChainParams {
        organization: "islet bench".into(),
        common_name: "islet bench TSA".into(),
        not_before: hour_ago,
        validity: Duration::from_secs(30 * 86_400),
        key_type: TsaKeyType::P256,
    })
    .unwrap();
    let tsa = TimestampAuthority::new(
        chain.key_pem.as_bytes(),
        chain.chain_pem.as_bytes(),
        TsaConfig::default(),
    )
    .unwrap();

    // Keys, certificates, signatures, timestamps and entries on every core.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let signed: Vec<Signed> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (ca, tsa) = (&ca, &tsa);
                s.spawn(move || {
                    (t * n / threads..(t + 1) * n / threads)
                        .map(|i| sign_one(i, ca, tsa, now))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    assert_eq!(signed.len() as u64, n);

    let log_key = Ed25519Signer::from_seed(ORIGIN, &[5; 32]).unwrap();
    let log_dir = dir.join("log");
    let mut writer = TileDirWriter::new(&log_dir);
    let mut tree = MemoryTree::new();
    for s in &signed {
        writer.append(&s.body).unwrap();
        tree.append_leaf_hash(leaf_hash(&s.body));
    }
    writer.finish(ORIGIN, &[&log_key]).unwrap();
    let note = std::fs::read_to_string(log_dir.join("checkpoint")).unwrap();
    let verifier = log_key.verifier();
    let log_id = STANDARD.encode(verifier.rekor_log_id().unwrap());
    let root_hash = STANDARD.encode(tree.root());
    let bundle_dir = dir.join("bundles");
    std::fs::create_dir_all(&bundle_dir).unwrap();
    let mut bundles = Vec::new();
    for (i, s) in signed.iter().enumerate() {
        let index = i as u64;
        let proof = inclusion_proof(index, n, &tree).unwrap();
        let bundle = serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": { "rawBytes": STANDARD.encode(&s.cert) },
                "tlogEntries": [{
                    "logIndex": index.to_string(),
                    "logId": { "keyId": log_id },
                    "kindVersion": { "kind": "hashedrekord", "version": "0.0.2" },
                    "integratedTime": "0",
                    "inclusionProof": {
                        "logIndex": index.to_string(),
                        "rootHash": root_hash,
                        "treeSize": n.to_string(),
                        "hashes": proof.iter().map(|h| STANDARD.encode(h)).collect::<Vec<_>>(),
                        "checkpoint": { "envelope": note },
                    },
                    "canonicalizedBody": STANDARD.encode(&s.body),
                }],
                "timestampVerificationData": {
                    "rfc3161Timestamps": [{ "signedTimestamp": STANDARD.encode(&s.timestamp) }],
                },
            },
            "messageSignature": {
                "messageDigest": { "algorithm": "SHA2_256", "digest": STANDARD.encode(s.digest) },
                "signature": STANDARD.encode(&s.signature),
            },
        });
        let path = bundle_dir.join(format!("b{i}.json"));
        std::fs::write(&path, serde_json::to_vec(&bundle).unwrap()).unwrap();
        bundles.push(path);
    }
    let since = humantime::format_rfc3339_seconds(hour_ago).to_string();
    let b64_chain = |ders: &[Vec<u8>]| {
        ders.iter()
            .map(|c| serde_json::json!({ "rawBytes": STANDARD.encode(c) }))
            .collect::<Vec<_>>()
    };
    let root = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [{
            "baseUrl": format!("http://{ORIGIN}:3000"),
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": STANDARD.encode(log_key.spki()),
                "keyDetails": "PKIX_ED25519",
                "validFor": { "start": since },
            },
            "logId": { "keyId": log_id },
        }],
        "certificateAuthorities": [{
            "subject": { "organization": "islet bench", "commonName": "islet bench Fulcio-like CA" },
            "uri": "https://fulcio.bench.example",
            "certChain": { "certificates": b64_chain(std::slice::from_ref(&ca.ca_der)) },
            "validFor": { "start": since },
        }],
        "ctlogs": [{
            "baseUrl": "https://ctfe.bench.example",
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": STANDARD.encode(&ca.ct_spki),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": { "start": since },
            },
            "logId": { "keyId": STANDARD.encode(ca.ct_log_id) },
        }],
        "timestampAuthorities": [{
            "subject": { "organization": "islet bench", "commonName": "islet bench TSA" },
            "uri": "https://tsa.bench.example",
            "certChain": { "certificates": b64_chain(tsa.chain_der()) },
            "validFor": { "start": since },
        }],
    });
    let root_path = dir.join("trusted_root.json");
    std::fs::write(&root_path, serde_json::to_vec(&root).unwrap()).unwrap();
    println!(
        "made {n} full bundles in {:.1} s on {threads} thread(s) (TSA chain {} certificates, P-256)",
        start.elapsed().as_secs_f64(),
        tsa.chain_der().len()
    );
    Made {
        bundles,
        root: root_path,
        log_dir,
        signatures: signed
            .into_iter()
            .map(|s| (s.point, s.digest, s.signature))
            .collect(),
    }
}

/// One `islet verify` of all bundles; its seconds. Panics unless every
/// bundle verified.
fn verify_all(made: &Made, log: Option<&Path>) -> f64 {
    let mut cmd = Command::new(islet_bin());
    cmd.args(["verify", "--json", "--trusted-root"])
        .arg(&made.root)
        .args(["--certificate-identity", IDENTITY])
        .args(["--certificate-oidc-issuer", OIDC_ISSUER])
        .arg("--bundle")
        .args(&made.bundles);
    if let Some(l) = log {
        cmd.arg("--log").arg(l);
    }
    let start = Instant::now();
    let out = cmd.output().unwrap();
    let secs = start.elapsed().as_secs_f64();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "islet verify printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let results = v["results"].as_array().expect("results");
    if let Some(bad) = results.iter().find(|r| r["ok"] != true) {
        panic!(
            "{} of {} bundles did not verify; first: {} ({}: {})",
            v["failed"],
            made.bundles.len(),
            bad["bundle"],
            bad["check"],
            bad["reason"]
        );
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let n = made.bundles.len() as u64;
    assert_eq!(v["ok"], true);
    assert_eq!(v["failed"].as_u64(), Some(0));
    assert_eq!(v["verified"].as_u64(), Some(n));
    assert_eq!(results.len() as u64, n);
    for r in results {
        assert_eq!(r["identity"], IDENTITY, "{r}");
        assert_eq!(r["issuer"], OIDC_ISSUER, "{r}");
        assert_eq!(
            r["times"][0]["source"]["type"], "timestamp_authority",
            "{r}"
        );
        assert_eq!(r["log_entries"].as_array().map(Vec::len), Some(1), "{r}");
        assert_eq!(r["verified"]["warnings"], serde_json::json!([]), "{r}");
        if log.is_some() {
            assert!(
                r["verified"]["entries"][0]["local_size"].as_u64() == Some(n),
                "{r}"
            );
        }
    }
    secs
}

/// ECDSA P-256 over each bundle's digest alone, on this thread, in
/// passes over all bundles until a second has gone by: verifications/s.
fn ecdsa_alone(made: &Made) -> f64 {
    let keys: Vec<(ParsedPublicKey, Digest, &[u8])> = made
        .signatures
        .iter()
        .map(|(point, digest, sig)| {
            (
                ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point).unwrap(),
                Digest::import_less_safe(digest, &SHA256).unwrap(),
                sig.as_slice(),
            )
        })
        .collect();
    let start = Instant::now();
    let mut done = 0u64;
    while done == 0 || start.elapsed() < Duration::from_secs(1) {
        for (key, digest, sig) in &keys {
            key.verify_digest_sig(digest, sig).unwrap();
        }
        done += keys.len() as u64;
    }
    done as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n = env_u64("ISLET_BENCH_BUNDLES", 10_000);
    let rounds = env_u64("ISLET_BENCH_ROUNDS", 5).max(1);
    let scratch = tempfile::tempdir().unwrap();
    let made = make(scratch.path(), n);
    let (mut plain, mut local, mut ecdsa) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let t_plain = verify_all(&made, None);
        let t_local = verify_all(&made, Some(&made.log_dir));
        let v_ecdsa = ecdsa_alone(&made);
        println!(
            "round {round}: islet verify {:.0} bundles/s ({t_plain:.2} s); with --log {:.0} bundles/s ({t_local:.2} s); ECDSA P-256 alone {:.0} verifications/s",
            n as f64 / t_plain,
            n as f64 / t_local,
            v_ecdsa
        );
        plain.push(n as f64 / t_plain);
        local.push(n as f64 / t_local);
        ecdsa.push(v_ecdsa);
    }
    let (p, l, e) = (median(plain), median(local), median(ecdsa));
    let per = ECDSA_PER_BUNDLE as f64;
    println!(
        "medians over {rounds} rounds, {n} full bundles: islet verify {p:.0} bundles/s, with --log {l:.0} bundles/s; ECDSA P-256 alone {e:.0} verifications/s; ratio bundles/s to verifications/s {:.3} (with --log {:.3})",
        p / e,
        l / e
    );
    println!(
        "signature checks per bundle: {ECDSA_PER_BUNDLE} ECDSA P-256 (message signature, TSA token, TSA leaf by TSA root, certificate by CA, SCT) + the Ed25519 checkpoint, verified once per run (all bundles share it; cached); ceiling {:.0} bundles/s, islet verify at {:.0}% of it ({:.0}% with --log)",
        e / per,
        100.0 * p * per / e,
        100.0 * l * per / e
    );
    println!(
        "{}",
        serde_json::json!({
            "bench": "verify_throughput", "bundles": n, "rounds": rounds,
            "bundles_per_s": p, "bundles_per_s_with_log": l, "ecdsa_verifies_per_s": e,
            "ratio": p / e, "ratio_with_log": l / e,
            "ecdsa_p256_per_bundle": ECDSA_PER_BUNDLE, "checkpoint_verifications_per_run": 1,
            "tsa_key": "p256", "sct": true,
        })
    );
}
