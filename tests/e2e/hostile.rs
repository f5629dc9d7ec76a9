//! A corpus of hostile requests: every one gets a 4xx with a message, none a
//! 5xx, and the server stays healthy and keeps accepting valid entries.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::support::{Islet, Signer};

fn b64(b: &[u8]) -> String {
    STANDARD.encode(b)
}

/// DER length prefix.
fn der_len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        vec![u8::try_from(n).unwrap()]
    } else if n < 0x100 {
        vec![0x81, u8::try_from(n).unwrap()]
    } else {
        vec![
            0x82,
            u8::try_from(n >> 8).unwrap(),
            u8::try_from(n & 0xff).unwrap(),
        ]
    }
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend(der_len(content.len()));
    v.extend_from_slice(content);
    v
}

/// An RSA SubjectPublicKeyInfo with a modulus of `bits` bits and exponent
/// bytes `e` (not a real key: parsing must refuse it before any math).
fn rsa_spki(bits: usize, e: &[u8]) -> Vec<u8> {
    let mut modulus = vec![0u8; bits / 8 + 1];
    modulus[1] = 0xc0;
    let last = modulus.len() - 1;
    modulus[last] = 0x01;
    let key = der(0x30, &[der(0x02, &modulus), der(0x02, e)].concat());
    let mut bitstring = vec![0u8];
    bitstring.extend(key);
    let alg = der(
        0x30,
        &[
            der(
                0x06,
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
            ),
            vec![0x05, 0x00],
        ]
        .concat(),
    );
    der(0x30, &[alg, der(0x03, &bitstring)].concat())
}

fn hashedrekord(digest: &str, sig: &str, verifier: &str, details: &str) -> String {
    format!(
        r#"{{"hashedRekordRequestV002":{{"digest":{digest},"signature":{{"content":{sig},"verifier":{{{verifier},"keyDetails":{details}}}}}}}}}"#
    )
}

fn corpus(valid: &str) -> Vec<(String, Vec<u8>)> {
    let v: serde_json::Value = serde_json::from_str(valid).unwrap();
    let h = &v["hashedRekordRequestV002"];
    let digest = h["digest"].to_string();
    let sig = h["signature"]["content"].to_string();
    let key = h["signature"]["verifier"]["publicKey"]["rawBytes"].to_string();
    let pk = format!(r#""publicKey":{{"rawBytes":{key}}}"#);
    let p256 = r#""PKIX_ECDSA_P256_SHA_256""#;
    let mut c: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |name: String, body: String| c.push((name, body.into_bytes()));
    // Broken JSON: every 7th truncation point, and garbage.
    for cut in (0..valid.len()).step_by(7) {
        add(format!("truncated at {cut}"), valid[..cut].to_owned());
    }
    for g in [
        "",
        "null",
        "[]",
        "42",
        "\"x\"",
        "{",
        "}",
        "{}",
        "{{}}",
        "{\"a\":}",
        "\u{0}",
        "{\"hashedRekordRequestV002\":null}",
    ] {
        add(format!("garbage {g:?}"), g.to_owned());
    }
    // Wrong types for each field.
    for bad in ["1", "true", "[]", "{}", "\"not base64!\"", "\"AAA\""] {
        add(format!("digest {bad}"), hashedrekord(bad, &sig, &pk, p256));
        add(
            format!("content {bad}"),
            hashedrekord(&digest, bad, &pk, p256),
        );
        add(
            format!("rawBytes {bad}"),
            hashedrekord(
                &digest,
                &sig,
                &format!(r#""publicKey":{{"rawBytes":{bad}}}"#),
                p256,
            ),
        );
    }
    for bad in [
        "true",
        "[]",
        "{}",
        "\"\"",
        "\"PKIX_NOPE\"",
        "-1",
        "99",
        "1.5",
        "\"pkix_ecdsa_p256_sha_256\"",
    ] {
        add(
            format!("keyDetails {bad}"),
            hashedrekord(&digest, &sig, &pk, bad),
        );
    }
    add(
        "signature is a string".into(),
        format!(r#"{{"hashedRekordRequestV002":{{"digest":{digest},"signature":"x"}}}}"#),
    );
    add("request is an array".into(), format!("[{valid}]"));
    // Unknown fields at every level.
    for field in ["extra", "Digest", "hashedRekordRequestV0_0_2", "logIndex"] {
        add(
            format!("unknown top {field}"),
            valid.replacen('{', &format!(r#"{{"{field}":1,"#), 1),
        );
        add(
            format!("unknown in request {field}"),
            valid.replacen(r#""digest""#, &format!(r#""{field}":1,"digest""#), 1),
        );
        add(
            format!("unknown in signature {field}"),
            valid.replacen(r#""content""#, &format!(r#""{field}":1,"content""#), 1),
        );
        add(
            format!("unknown in verifier {field}"),
            valid.replacen(r#""publicKey""#, &format!(r#""{field}":1,"publicKey""#), 1),
        );
        add(
            format!("unknown in publicKey {field}"),
            valid.replacen(r#""rawBytes""#, &format!(r#""{field}":1,"rawBytes""#), 1),
        );
    }
    // Both oneof members, duplicate keys, both verifier kinds.
    add(
        "both oneof members".into(),
        valid.replacen('{', r#"{"dsseRequestV002":{},"#, 1),
    );
    add(
        "duplicate digest".into(),
        valid.replacen(r#""digest""#, &format!(r#""digest":{digest},"digest""#), 1),
    );
    add(
        "snake and camel names together".into(),
        valid.replacen(
            r#""keyDetails""#,
            r#""key_details":"PKIX_ECDSA_P256_SHA_256","keyDetails""#,
            1,
        ),
    );
    add(
        "publicKey and certificate".into(),
        hashedrekord(
            &digest,
            &sig,
            &format!(r#"{pk},"x509Certificate":{{"rawBytes":{key}}}"#),
            p256,
        ),
    );
    add(
        "no verifier key".into(),
        hashedrekord(&digest, &sig, r#""publicKey":null"#, p256),
    );
    // Wrong digest lengths.
    for len in [0usize, 1, 16, 31, 33, 48, 64, 1000] {
        add(
            format!("digest of {len} bytes"),
            hashedrekord(&format!("\"{}\"", b64(&vec![7u8; len])), &sig, &pk, p256),
        );
    }
    // Bad signatures: flipped bytes, truncated, empty, random.
    let sig_bytes = STANDARD
        .decode(h["signature"]["content"].as_str().unwrap())
        .unwrap();
    for i in (0..sig_bytes.len()).step_by(5) {
        let mut s = sig_bytes.clone();
        s[i] ^= 0x10;
        add(
            format!("signature byte {i} flipped"),
            hashedrekord(&digest, &format!("\"{}\"", b64(&s)), &pk, p256),
        );
    }
    for s in [
        vec![],
        sig_bytes[..10].to_vec(),
        vec![0x30; 72],
        vec![0xff; 4096],
    ] {
        add(
            format!("signature of {} bytes", s.len()),
            hashedrekord(&digest, &format!("\"{}\"", b64(&s)), &pk, p256),
        );
    }
    // Mismatched keyDetails for a P-256 key.
    for d in [
        "PKIX_ECDSA_P384_SHA_384",
        "PKIX_ECDSA_P521_SHA_512",
        "PKIX_RSA_PKCS1V15_2048_SHA256",
        "PKIX_RSA_PKCS1V15_3072_SHA256",
        "PKIX_RSA_PKCS1V15_4096_SHA256",
        "PKIX_ED25519",
        "PKIX_ED25519_PH",
        "PKIX_RSA_PSS_2048_SHA256",
        "PKIX_ECDSA_P384_SHA_256",
        "LMS_SHA256",
        "ML_DSA_65",
        "PUBLIC_KEY_DETAILS_UNSPECIFIED",
    ] {
        add(
            format!("keyDetails {d} for P-256"),
            hashedrekord(&digest, &sig, &pk, &format!("\"{d}\"")),
        );
    }
    // RSA keys of forbidden sizes and exponents.
    for (bits, e, name) in [
        (1024, vec![1, 0, 1], "RSA 1024"),
        (8192, vec![1, 0, 1], "RSA 8192"),
        (2048, vec![1, 0, 0, 0, 0, 0, 0, 0, 1], "RSA e = 2^64+1"),
        (2048, vec![0xff; 384], "RSA 3072-bit exponent"),
        (2048, vec![2], "RSA even exponent"),
        (2048, vec![1], "RSA e = 1"),
    ] {
        let spki = format!(
            r#""publicKey":{{"rawBytes":"{}"}}"#,
            b64(&rsa_spki(bits, &e))
        );
        add(
            name.into(),
            hashedrekord(&digest, &sig, &spki, r#""PKIX_RSA_PKCS1V15_2048_SHA256""#),
        );
    }
    // Invalid keys and certificates.
    let key_bytes = STANDARD
        .decode(
            h["signature"]["verifier"]["publicKey"]["rawBytes"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    for (name, bytes) in [
        ("key truncated", key_bytes[..40].to_vec()),
        (
            "key with trailing byte",
            [key_bytes.clone(), vec![0]].concat(),
        ),
        ("key random", vec![0x30, 0x82, 0xff, 0xff, 1, 2, 3]),
        ("key is PEM", b"-----BEGIN PUBLIC KEY-----".to_vec()),
    ] {
        add(
            name.into(),
            hashedrekord(
                &digest,
                &sig,
                &format!(r#""publicKey":{{"rawBytes":"{}"}}"#, b64(&bytes)),
                p256,
            ),
        );
    }
    for (name, bytes) in [
        ("certificate random", vec![1u8, 2, 3, 4]),
        ("certificate is a key", key_bytes.clone()),
        ("certificate empty sequence", vec![0x30, 0x00]),
        (
            "certificate huge length",
            vec![0x30, 0x84, 0x7f, 0xff, 0xff, 0xff],
        ),
    ] {
        add(
            name.into(),
            hashedrekord(
                &digest,
                &sig,
                &format!(r#""x509Certificate":{{"rawBytes":"{}"}}"#, b64(&bytes)),
                p256,
            ),
        );
    }
    // Deep nesting and big arrays.
    add(
        "nesting 200".into(),
        format!(
            r#"{{"hashedRekordRequestV002":{}{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        ),
    );
    add("nesting 100000".into(), "[".repeat(100_000));
    add(
        "array of 100000".into(),
        format!(
            r#"{{"dsseRequestV002":{{"verifiers":[{}]}}}}"#,
            vec!["{}"; 100_000].join(",")
        ),
    );
    // DSSE oddities.
    add("dsse empty".into(), r#"{"dsseRequestV002":{}}"#.into());
    add(
        "dsse no signatures".into(),
        r#"{"dsseRequestV002":{"envelope":{"payload":"AAAA","payloadType":"x"}}}"#.into(),
    );
    add(
        "dsse 11 verifiers".into(),
        format!(
            r#"{{"dsseRequestV002":{{"envelope":{{"payload":"AAAA","payloadType":"x","signatures":[{{"sig":"AAAA"}}]}},"verifiers":[{}]}}}}"#,
            vec![format!(r#"{{{pk},"keyDetails":{p256}}}"#); 11].join(",")
        ),
    );
    c
}

#[test]
fn every_hostile_request_gets_a_4xx_with_a_message_and_the_server_stays_healthy() {
    let dir = tempfile::tempdir().unwrap();
    let server = Islet::start(dir.path());
    let signer = Signer::new();
    let valid = signer.request(b"the valid one");
    let cases = corpus(&valid);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut failures = Vec::new();
    let mut count = 0;
    rt.block_on(async {
        for (name, body) in &cases {
            count += 1;
            let r = client
                .post(format!("{}/api/v2/log/entries", server.url))
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            let message = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_owned))
                .unwrap_or_default();
            if !(400..500).contains(&status) || message.is_empty() {
                failures.push(format!("{name}: {status} {text:.200}"));
            }
        }
        // Over the body limit: 413.
        let big = vec![b' '; 4 * 1024 * 1024 + 1];
        let r = client
            .post(format!("{}/api/v2/log/entries", server.url))
            .body(big)
            .send()
            .await
            .unwrap();
        count += 1;
        if r.status().as_u16() != 413 {
            failures.push(format!("4 MiB + 1: {}", r.status()));
        }
        // Paths: traversal, non-canonical, wrong kinds.
        for path in [
            "tile/../../etc/passwd",
            "tile/%2e%2e/%2e%2e/etc/passwd",
            "tile/0/..%2f..%2fetc",
            "tile/0/x000/001",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/007",
            "tile/entries/1",
            "tile/0/1",
            "tile/00/000",
            "tile/0\\000",
            "tile/0/000%00",
            "tile/64/000",
            "tile/-1/000",
            "tile/0/x1/000",
            "tile/data/000",
            "tile/8/0/000",
            "tile/0/000/",
            "tile//0/000",
            "tile/entries/000.p/300",
        ] {
            count += 1;
            let r = client
                .get(format!("{}/api/v2/{path}", server.url))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            if !(400..500).contains(&status) {
                failures.push(format!("GET {path}: {status}"));
            }
        }
        for (method, path) in [
            ("GET", "/api/v2/log/entries"),
            ("DELETE", "/api/v2/checkpoint"),
            ("PUT", "/api/v2/log/entries"),
        ] {
            count += 1;
            let r = client
                .request(method.parse().unwrap(), format!("{}{path}", server.url))
                .send()
                .await
                .unwrap();
            if !(400..500).contains(&r.status().as_u16()) {
                failures.push(format!("{method} {path}: {}", r.status()));
            }
        }
        // Still healthy, still writing.
        let h = client
            .get(format!("{}/healthz", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(h.text().await.unwrap(), r#"{"status":"SERVING"}"#);
        let r = client
            .post(format!("{}/api/v2/log/entries", server.url))
            .body(valid.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
    });
    assert!(count >= 200, "the corpus has only {count} requests");
    assert!(
        failures.is_empty(),
        "{} of {count} hostile requests were not refused with a 4xx and a message:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
