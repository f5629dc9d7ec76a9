//! `islet verify` throughput in bundles/s over 10,000 bundles, against raw
//! ECDSA P-256 verification of the same signatures in the same run.
//!
//! ```text
//! cargo bench --profile bench-server --bench verify_throughput
//! ISLET_BENCH_BUNDLES=2000 cargo bench --profile bench-server --bench verify_throughput
//! ```
//!
//! It makes a log the way `islet serve` makes one (each hashedrekord body
//! built by islet's own entry validation from a request signed with a
//! P-256 key and a self-signed certificate), writes it as a tlog-tiles
//! directory, and writes one bundle v0.3 per entry with its inclusion
//! proof and the log's signed checkpoint, plus the trusted root. Then,
//! `ISLET_BENCH_ROUNDS` times (default 5): the real `islet verify` of all
//! the bundles in one call, without and with `--log` (the tile directory),
//! and, in this process, ECDSA verification alone of every signature over
//! its digest. It prints each round, the medians, bundles/s and the ratio
//! bundles/s to verifications/s, and a JSON line.

#![allow(missing_docs, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use islet_reader::tiledir::TileDirWriter;
use islet_rekor::entry::{EntryPolicy, validate};
use islet_rekor::keys::{ClientKey, KeyDetails};
use islet_rekor::request::parse_request;
use islet_signer::Ed25519Signer;
use islet_tlog::merkle::{MemoryTree, inclusion_proof, leaf_hash};
use islet_tlog::note::NoteSigner;

mod support;
use support::fixture::islet_bin;
use support::{env_u64, median};

const ORIGIN: &str = "127.0.0.1";

struct Made {
    bundles: Vec<PathBuf>,
    root: PathBuf,
    log_dir: PathBuf,
    /// (certificate, digest, signature) of each bundle.
    signatures: Vec<(Vec<u8>, [u8; 32], Vec<u8>)>,
}

fn make(dir: &Path, n: u64) -> Made {
    let signing = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["signer.example".into()])
        .unwrap()
        .self_signed(&signing)
        .unwrap()
        .der()
        .to_vec();
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &signing.serialize_der())
        .unwrap();
    let log_key = Ed25519Signer::from_seed(ORIGIN, &[5; 32]).unwrap();
    let log_dir = dir.join("log");
    let mut writer = TileDirWriter::new(&log_dir);
    let mut tree = MemoryTree::new();
    let mut entries = Vec::new();
    let mut signatures = Vec::new();
    for i in 0..n {
        let digest = aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            format!("artifact {i}").as_bytes(),
        );
        let sig = key.sign_digest(&digest).unwrap().as_ref().to_vec();
        let request = format!(
            r#"{{"hashedRekordRequestV002":{{"digest":"{}","signature":{{"content":"{}","verifier":{{"x509Certificate":{{"rawBytes":"{}"}},"keyDetails":"PKIX_ECDSA_P256_SHA_256"}}}}}}}}"#,
            STANDARD.encode(digest.as_ref()),
            STANDARD.encode(&sig),
            STANDARD.encode(&cert)
        );
        let body = validate(
            parse_request(request.as_bytes()).unwrap(),
            EntryPolicy::default(),
        )
        .unwrap()
        .body;
        writer.append(&body).unwrap();
        tree.append_leaf_hash(leaf_hash(&body));
        signatures.push((cert.clone(), digest.as_ref().try_into().unwrap(), sig));
        entries.push(body);
    }
    writer.finish(ORIGIN, &[&log_key]).unwrap();
    let note = std::fs::read_to_string(log_dir.join("checkpoint")).unwrap();
    let verifier = log_key.verifier();
    let log_id = STANDARD.encode(verifier.rekor_log_id().unwrap());
    let root_hash = STANDARD.encode(tree.root());
    let bundle_dir = dir.join("bundles");
    std::fs::create_dir_all(&bundle_dir).unwrap();
    let mut bundles = Vec::new();
    for (i, body) in entries.iter().enumerate() {
        let index = i as u64;
        let proof = inclusion_proof(index, n, &tree).unwrap();
        let (_, digest, sig) = &signatures[i];
        let bundle = serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": { "rawBytes": STANDARD.encode(&cert) },
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
                    "canonicalizedBody": STANDARD.encode(body),
                }],
            },
            "messageSignature": {
                "messageDigest": { "algorithm": "SHA2_256", "digest": STANDARD.encode(digest) },
                "signature": STANDARD.encode(sig),
            },
        });
        let path = bundle_dir.join(format!("b{i}.json"));
        std::fs::write(&path, serde_json::to_vec(&bundle).unwrap()).unwrap();
        bundles.push(path);
    }
    let spki = log_key.spki();
    let root = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [{
            "baseUrl": format!("http://{ORIGIN}:3000"),
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": STANDARD.encode(&spki),
                "keyDetails": "PKIX_ED25519",
                "validFor": { "start": "2020-01-01T00:00:00Z" },
            },
            "logId": { "keyId": log_id },
        }],
    });
    let root_path = dir.join("trusted_root.json");
    std::fs::write(&root_path, serde_json::to_vec(&root).unwrap()).unwrap();
    Made {
        bundles,
        root: root_path,
        log_dir,
        signatures,
    }
}

fn verify_all(made: &Made, log: Option<&Path>) -> f64 {
    let mut cmd = Command::new(islet_bin());
    cmd.args(["verify", "--json", "--trusted-root"])
        .arg(&made.root)
        .arg("--bundle")
        .args(&made.bundles);
    if let Some(l) = log {
        cmd.arg("--log").arg(l);
    }
    let start = Instant::now();
    let out = cmd.output().unwrap();
    let secs = start.elapsed().as_secs_f64();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(v["verified"].as_u64(), Some(made.bundles.len() as u64));
    secs
}

fn ecdsa_alone(made: &Made) -> f64 {
    let start = Instant::now();
    for (cert, digest, sig) in &made.signatures {
        let key = ClientKey::from_certificate(cert).unwrap();
        key.verify_digest(KeyDetails::EcdsaP256Sha256, digest, sig)
            .unwrap();
    }
    start.elapsed().as_secs_f64()
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
        let t_ecdsa = ecdsa_alone(&made);
        println!(
            "round {round}: islet verify {:.0} bundles/s ({t_plain:.2} s); with --log {:.0} bundles/s ({t_local:.2} s); ECDSA P-256 alone {:.0} verifications/s",
            n as f64 / t_plain,
            n as f64 / t_local,
            n as f64 / t_ecdsa
        );
        plain.push(n as f64 / t_plain);
        local.push(n as f64 / t_local);
        ecdsa.push(n as f64 / t_ecdsa);
    }
    let (p, l, e) = (median(plain), median(local), median(ecdsa));
    println!(
        "medians over {rounds} rounds, {n} bundles: islet verify {p:.0} bundles/s, with --log {l:.0} bundles/s; ECDSA alone {e:.0}/s; ratio {:.2} (with --log {:.2})",
        p / e,
        l / e
    );
    println!(
        "{}",
        serde_json::json!({
            "bench": "verify_throughput", "bundles": n, "rounds": rounds,
            "bundles_per_s": p, "bundles_per_s_with_log": l, "ecdsa_verifies_per_s": e,
            "ratio": p / e, "ratio_with_log": l / e,
        })
    );
}
