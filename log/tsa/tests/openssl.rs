//! OpenSSL as the independent checker: `openssl ts -query` builds the
//! requests, the authority answers, `openssl ts -verify` (chain, purpose
//! timeStamping, signingCertificateV2, imprint, nonce) and
//! `openssl ts -reply -text` judge the replies. A missing openssl fails.

#![allow(clippy::cast_possible_truncation)]

mod common;

use std::fs;
use std::path::Path;
use std::time::SystemTime;

use common::{fresh_chain, openssl, serial, text};
use islet_tsa::{IssuedChain, Outcome, RefusalReason, TsaConfig, TsaKeyType};

/// Writes the chain's PEM files and the data file into `dir`.
fn setup(dir: &Path, chain: &IssuedChain) {
    let leaf = pem::encode(&pem::Pem::new("CERTIFICATE", chain.leaf_der.clone()));
    let root = pem::encode(&pem::Pem::new("CERTIFICATE", chain.root_der.clone()));
    fs::write(dir.join("leaf.pem"), leaf).expect("leaf");
    fs::write(dir.join("root.pem"), root).expect("root");
    fs::write(
        dir.join("data.txt"),
        b"the signature bytes a client timestamps",
    )
    .expect("data");
}

/// `openssl ts -query` with `args`, answered by the authority; the reply
/// is written to `reply.tsr`. Returns the answer.
fn query_and_answer(dir: &Path, chain: &IssuedChain, args: &[&str], n: u8) -> islet_tsa::Answer {
    let mut query = vec!["ts", "-query", "-data", "data.txt", "-out", "q.tsq"];
    query.extend_from_slice(args);
    let out = openssl(dir, &query);
    assert!(out.status.success(), "openssl ts -query: {}", text(&out));
    let tsq = fs::read(dir.join("q.tsq")).expect("q.tsq");
    let tsa = common::authority(chain, TsaConfig::default());
    let answer = tsa.answer(
        "application/timestamp-query",
        &tsq,
        SystemTime::now(),
        serial(n),
    );
    fs::write(dir.join("reply.tsr"), &answer.body).expect("reply");
    answer
}

fn verify(dir: &Path, with_query: bool) -> String {
    let mut args = vec!["ts", "-verify", "-in", "reply.tsr"];
    if with_query {
        args.extend(["-queryfile", "q.tsq"]);
    } else {
        args.extend(["-data", "data.txt"]);
    }
    args.extend(["-CAfile", "root.pem", "-untrusted", "leaf.pem"]);
    text(&openssl(dir, &args))
}

#[test]
fn openssl_verifies_replies_for_every_hash_and_key() {
    for key_type in [TsaKeyType::P384, TsaKeyType::P256] {
        let chain = fresh_chain(key_type);
        for (i, hash) in ["-sha256", "-sha384", "-sha512"].into_iter().enumerate() {
            for cert in [true, false] {
                let dir = tempfile::tempdir().expect("tempdir");
                setup(dir.path(), &chain);
                let mut args = vec![hash];
                if cert {
                    args.push("-cert");
                }
                let answer = query_and_answer(dir.path(), &chain, &args, i as u8);
                assert_eq!(answer.http_status, 200, "{:?}", answer.outcome);
                assert_eq!(answer.content_type, "application/timestamp-reply");
                assert!(matches!(
                    answer.outcome,
                    Outcome::Issued { json: false, .. }
                ));
                let by_data = verify(dir.path(), false);
                assert!(
                    by_data.contains("Verification: OK"),
                    "{key_type:?} {hash} cert={cert}: {by_data}"
                );
                let by_query = verify(dir.path(), true);
                assert!(
                    by_query.contains("Verification: OK"),
                    "{key_type:?} {hash} cert={cert} -queryfile: {by_query}"
                );
            }
        }
    }
}

#[test]
fn openssl_reads_the_token_fields() {
    let chain = fresh_chain(TsaKeyType::P384);
    let dir = tempfile::tempdir().expect("tempdir");
    setup(dir.path(), &chain);
    query_and_answer(dir.path(), &chain, &["-sha256", "-cert"], 1);
    let out = openssl(dir.path(), &["ts", "-reply", "-in", "reply.tsr", "-text"]);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("Status: Granted."), "{shown}");
    assert!(shown.contains("Policy OID: 1.3.6.1.4.1.57264.2"), "{shown}");
    assert!(shown.contains("Accuracy: 0x01 seconds"), "{shown}");
    assert!(shown.contains("Ordering: no"), "{shown}");
    assert!(
        shown.contains("TSA: DirName:/O=islet test/CN=islet test TSA"),
        "{shown}"
    );
    let query = text(&openssl(
        dir.path(),
        &["ts", "-query", "-in", "q.tsq", "-text"],
    ));
    let nonce_line = |s: &str| {
        s.lines()
            .find(|l| l.trim_start().starts_with("Nonce:"))
            .map(str::trim)
            .map(String::from)
    };
    assert!(nonce_line(&query).is_some(), "{query}");
    assert_eq!(nonce_line(&query), nonce_line(&shown), "nonce echoed");
}

#[test]
fn a_tampered_reply_fails_openssl_verification() {
    let chain = fresh_chain(TsaKeyType::P384);
    let dir = tempfile::tempdir().expect("tempdir");
    setup(dir.path(), &chain);
    let answer = query_and_answer(dir.path(), &chain, &["-sha256", "-cert"], 2);
    assert!(verify(dir.path(), false).contains("Verification: OK"));
    // Flip one bit of the genTime inside the signed TSTInfo: its digest
    // no longer matches the signed messageDigest.
    let mut body = answer.body.clone();
    let at = body
        .windows(2)
        .position(|w| w == [0x18, 0x0f])
        .expect("GeneralizedTime of 15 characters");
    body[at + 2 + 13] ^= 0x01;
    fs::write(dir.path().join("reply.tsr"), &body).expect("reply");
    let out = verify(dir.path(), false);
    assert!(out.contains("Verification: FAILED"), "{out}");
    // Data other than what was timestamped fails too.
    fs::write(dir.path().join("reply.tsr"), &answer.body).expect("reply");
    fs::write(dir.path().join("data.txt"), b"other bytes").expect("data");
    let out = verify(dir.path(), false);
    assert!(out.contains("Verification: FAILED"), "{out}");
}

#[test]
fn sha1_query_is_rejected_with_bad_algorithm() {
    let chain = fresh_chain(TsaKeyType::P384);
    let dir = tempfile::tempdir().expect("tempdir");
    setup(dir.path(), &chain);
    let answer = query_and_answer(dir.path(), &chain, &["-sha1", "-cert"], 3);
    assert_eq!(answer.http_status, 400);
    assert_eq!(answer.content_type, "application/timestamp-reply");
    assert!(matches!(
        answer.outcome,
        Outcome::Refused {
            reason: RefusalReason::WeakAlgorithm,
            json: false,
            ..
        }
    ));
    let out = openssl(dir.path(), &["ts", "-reply", "-in", "reply.tsr", "-text"]);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("Status: Rejected."), "{shown}");
    assert!(shown.contains("Failure info:"), "{shown}");
    assert!(
        shown.contains("unrecognized or unsupported algorithm identifier"),
        "{shown}"
    );
    assert!(
        shown.contains("TST info:\nNot included."),
        "no token: {shown}"
    );
}

#[test]
fn openssl_shows_every_failure_bit() {
    // One DER rejection per reason, each read back by OpenSSL.
    let chain = fresh_chain(TsaKeyType::P256);
    let dir = tempfile::tempdir().expect("tempdir");
    setup(dir.path(), &chain);
    let tsa = common::authority(&chain, TsaConfig::default());
    let sha256_imprint = |digest_len: usize| {
        let mut v = vec![
            0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
            0x00,
        ];
        v.push(0x04);
        v.push(digest_len as u8);
        v.extend(std::iter::repeat_n(0xab, digest_len));
        let mut seq = vec![0x30, v.len() as u8];
        seq.extend(v);
        seq
    };
    let request = |extra: &[u8], version: u8, digest_len: usize| {
        let mut body = vec![0x02, 0x01, version];
        body.extend(sha256_imprint(digest_len));
        body.extend_from_slice(extra);
        let mut req = vec![0x30, body.len() as u8];
        req.extend(body);
        req
    };
    // reqPolicy 1.2.3.4 (not accepted); extensions [0] with one Extension.
    let policy = [0x06, 0x03, 0x2a, 0x03, 0x04];
    let extension = [
        0xa0, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x2a, 0x03, 0x05, 0x04, 0x02, 0x05, 0x00,
    ];
    let cases: [(Vec<u8>, &str); 5] = [
        (
            request(&[], 1, 31),
            "the data submitted has the wrong format",
        ),
        (
            b"not DER".to_vec(),
            "the data submitted has the wrong format",
        ),
        (
            request(&[], 2, 32),
            "transaction not permitted or supported",
        ),
        (
            request(&policy, 1, 32),
            "the requested TSA policy is not supported by the TSA",
        ),
        (
            request(&extension, 1, 32),
            "the requested extension is not supported by the TSA",
        ),
    ];
    for (i, (req, expected)) in cases.into_iter().enumerate() {
        let answer = tsa.answer(
            "application/timestamp-query",
            &req,
            SystemTime::now(),
            serial(i as u8),
        );
        assert_eq!(answer.http_status, 400, "{:?}", answer.outcome);
        let path = dir.path().join("reply.tsr");
        fs::write(&path, &answer.body).expect("reply");
        let shown = text(&openssl(
            dir.path(),
            &["ts", "-reply", "-in", "reply.tsr", "-text"],
        ));
        assert!(shown.contains("Status: Rejected."), "{shown}");
        assert!(shown.contains(expected), "case {i}: {expected}: {shown}");
    }
}

#[test]
fn the_issued_chain_as_openssl_reads_it() {
    let chain = fresh_chain(TsaKeyType::P384);
    let dir = tempfile::tempdir().expect("tempdir");
    setup(dir.path(), &chain);
    let leaf = text(&openssl(
        dir.path(),
        &["x509", "-in", "leaf.pem", "-noout", "-text"],
    ));
    assert!(
        leaf.contains("Subject: O = islet test, CN = islet test TSA\n"),
        "{leaf}"
    );
    assert!(
        leaf.contains("Issuer: O = islet test, CN = islet test TSA Root"),
        "{leaf}"
    );
    assert!(
        leaf.contains("X509v3 Key Usage: critical\n                Digital Signature\n"),
        "{leaf}"
    );
    assert!(
        leaf.contains("X509v3 Extended Key Usage: critical\n                Time Stamping\n"),
        "{leaf}"
    );
    assert!(!leaf.contains("Basic Constraints"), "{leaf}");
    assert!(leaf.contains("NIST CURVE: P-384"), "{leaf}");
    assert!(
        leaf.contains("Signature Algorithm: ecdsa-with-SHA384"),
        "{leaf}"
    );
    let root = text(&openssl(
        dir.path(),
        &["x509", "-in", "root.pem", "-noout", "-text"],
    ));
    assert!(root.contains("CA:TRUE"), "{root}");
    assert!(
        root.contains("X509v3 Key Usage: critical\n                Certificate Sign, CRL Sign\n"),
        "{root}"
    );
    // OpenSSL's own purpose check: the leaf is a timestamp signer under the root.
    let purpose = text(&openssl(
        dir.path(),
        &[
            "verify",
            "-purpose",
            "timestampsign",
            "-CAfile",
            "root.pem",
            "leaf.pem",
        ],
    ));
    assert!(purpose.contains("leaf.pem: OK"), "{purpose}");
    // The key file is PKCS#8 for the leaf's key.
    fs::write(dir.path().join("key.pem"), &chain.key_pem).expect("key");
    let from_key = openssl(dir.path(), &["pkey", "-in", "key.pem", "-pubout"]);
    let from_cert = openssl(
        dir.path(),
        &["x509", "-in", "leaf.pem", "-noout", "-pubkey"],
    );
    assert!(from_key.status.success() && from_cert.status.success());
    assert_eq!(from_key.stdout, from_cert.stdout);
    assert!(chain.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
}
