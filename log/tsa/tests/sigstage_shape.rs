//! Our reply has the shape of a real reply of Sigstore's staging TSA
//! (tests/vectors/sigstore/rfc3161-client/sigstage/response-sha256.tsr):
//! the same tree of tags, the same OIDs in the same places, the same
//! small INTEGERs (versions, status, accuracy), with the TSTInfo inside
//! the eContent OCTET STRING walked too and the embedded certificates
//! (different CAs) and string values left out. With a P-256 key our
//! algorithms are the sigstage ones exactly; with P-384 the hash and
//! signature OIDs are SHA-384 where sigstage has SHA-256.

mod common;

use std::fs;
use std::time::SystemTime;

use common::{SHA256, fresh_chain, hash, openssl, serial};
use der::Encode;
use der::asn1::{Any, Int, ObjectIdentifier, OctetString};
use islet_tsa::{TsaConfig, TsaKeyType};
use x509_cert::spki::AlgorithmIdentifier;
use x509_tsp::{MessageImprint, TimeStampReq, TspVersion};

const VECTOR: &str = "sigstore/rfc3161-client/sigstage/response-sha256.tsr";

/// One line per element: depth, tag, and the OID or small INTEGER value.
fn shape(der: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut last_oid = None;
    walk(der, 0, &mut out, &mut last_oid);
    out
}

/// Splits one TLV (definite lengths only): (tag, content, rest).
fn split(input: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = input[0];
    let (len, header) = match input[1] {
        n if n < 0x80 => (usize::from(n), 2),
        n => {
            let count = usize::from(n & 0x7f);
            let len = input[2..2 + count]
                .iter()
                .fold(0usize, |a, b| (a << 8) | usize::from(*b));
            (len, 2 + count)
        }
    };
    (tag, &input[header..header + len], &input[header + len..])
}

fn walk(
    mut input: &[u8],
    depth: usize,
    out: &mut Vec<String>,
    last_oid: &mut Option<ObjectIdentifier>,
) {
    let tst_info = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
    while !input.is_empty() {
        let (tag, content, rest) = split(input);
        input = rest;
        let line = match tag {
            0x06 => {
                let oid = ObjectIdentifier::from_bytes(content).expect("OID");
                *last_oid = Some(oid);
                format!("{depth} OID {oid}")
            }
            0x02 if content.len() == 1 => format!("{depth} INTEGER {}", content[0]),
            0x02 => format!("{depth} INTEGER (long)"),
            0x0c | 0x13 => format!("{depth} string"),
            _ => format!("{depth} tag {tag:02x}"),
        };
        out.push(line);
        if tag == 0xa0 && depth == 4 {
            out.push(format!("{} (certificates)", depth + 1));
            continue;
        }
        // The eContent OCTET STRING holds the TSTInfo: walk it too.
        if tag == 0x04 && *last_oid == Some(tst_info) && depth == 6 {
            walk(content, depth + 1, out, last_oid);
            continue;
        }
        if tag & 0x20 != 0 && !matches!(tag, 0x0c | 0x13) {
            walk(content, depth + 1, out, last_oid);
        }
    }
}

fn our_reply(key_type: TsaKeyType) -> Vec<u8> {
    let chain = fresh_chain(key_type);
    let tsa = common::authority(&chain, TsaConfig::default());
    // As sigstore-python asks: SHA-256 with NULL parameters, nonce, certReq.
    let request = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            hash_algorithm: AlgorithmIdentifier {
                oid: SHA256,
                parameters: Some(Any::null()),
            },
            hashed_message: OctetString::new(hash(&SHA256, b"hello")).expect("digest"),
        },
        req_policy: None,
        nonce: Some(Int::new(&[0x36, 0xa4, 0x4f, 0x9f, 0x4a, 0x39, 0x1f, 0xd3]).expect("nonce")),
        cert_req: true,
        extensions: None,
    }
    .to_der()
    .expect("request");
    let answer = tsa.answer(
        "application/timestamp-query",
        &request,
        SystemTime::now(),
        serial(9),
    );
    assert_eq!(answer.http_status, 200);
    answer.body
}

#[test]
fn p256_reply_has_the_sigstage_shape() {
    let dir = islet_testkit::vectors_dir(&[VECTOR]);
    let sigstage = fs::read(dir.join(VECTOR)).expect("vector");
    let expected = shape(&sigstage);
    // Sanity of the walker on the vector itself.
    assert!(
        expected
            .iter()
            .any(|l| l.ends_with("OID 1.2.840.113549.1.9.16.2.47"))
    );
    assert!(
        expected
            .iter()
            .any(|l| l.ends_with("OID 1.3.6.1.4.1.57264.2"))
    );
    let ours = shape(&our_reply(TsaKeyType::P256));
    assert_eq!(ours, expected);
}

#[test]
fn p384_reply_has_the_sigstage_shape_with_sha384() {
    let dir = islet_testkit::vectors_dir(&[VECTOR]);
    let sigstage = fs::read(dir.join(VECTOR)).expect("vector");
    // Where sigstage signs with SHA-256 on its P-384 key, we use SHA-384:
    // the SignedData/SignerInfo digest algorithms and the signature
    // algorithm. The imprint (TSTInfo) and ESSCertIDv2 stay SHA-256.
    let mut expected = shape(&sigstage);
    for line in expected.iter_mut() {
        let depth: usize = line
            .split(' ')
            .next()
            .expect("depth")
            .parse()
            .expect("number");
        let in_signed_data_algs = depth == 6 && line.ends_with("OID 2.16.840.1.101.3.4.2.1");
        let in_signer_info = depth == 7 && line.ends_with("OID 2.16.840.1.101.3.4.2.1");
        if in_signed_data_algs || in_signer_info {
            *line = line.replace("2.16.840.1.101.3.4.2.1", "2.16.840.1.101.3.4.2.2");
        }
        *line = line.replace("OID 1.2.840.10045.4.3.2", "OID 1.2.840.10045.4.3.3");
    }
    let ours = shape(&our_reply(TsaKeyType::P384));
    assert_eq!(ours, expected);
}

#[test]
fn openssl_asn1parse_reads_ours_like_the_vector() {
    // OpenSSL's own structure dump: same element count and kinds, offsets
    // and values aside.
    let dir = islet_testkit::vectors_dir(&[VECTOR]);
    let tmp = tempfile::tempdir().expect("tempdir");
    fs::write(tmp.path().join("ours.tsr"), our_reply(TsaKeyType::P256)).expect("write");
    let kinds = |path: &std::path::Path| {
        let out = openssl(
            tmp.path(),
            &[
                "asn1parse",
                "-inform",
                "DER",
                "-in",
                path.to_str().expect("utf-8"),
            ],
        );
        assert!(out.status.success(), "{}", common::text(&out));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                // "  off:d=N  hl=H l=L prim: TYPE :value" → "d=N prim: TYPE"
                let after = l.split_once(":d=").map_or(l, |(_, r)| r);
                let depth = after.split_whitespace().next().unwrap_or("").to_string();
                let kind = after
                    .split_once("prim:")
                    .map(|(_, r)| format!("prim {}", r.split_whitespace().next().unwrap_or("")))
                    .or_else(|| {
                        after.split_once("cons:").map(|(_, r)| {
                            format!("cons {}", r.split_whitespace().next().unwrap_or(""))
                        })
                    })
                    .unwrap_or_default();
                // Name strings: ours UTF8String (rcgen), sigstage PrintableString.
                let kind = kind
                    .replace("UTF8STRING", "string")
                    .replace("PRINTABLESTRING", "string");
                format!("{depth} {kind}")
            })
            .collect::<Vec<_>>()
    };
    let theirs = kinds(&dir.join(VECTOR));
    let ours = kinds(&tmp.path().join("ours.tsr"));
    // The embedded certificates differ (other CA, other extensions):
    // compare everything before them and everything from the SignerInfos on.
    let cert_start = |v: &[String]| {
        v.iter()
            .position(|l| l == "4 cons cont")
            .expect("certificates [0] at depth 4")
    };
    let signer_infos = |v: &[String]| {
        v.iter()
            .rposition(|l| l == "4 cons SET")
            .expect("signerInfos SET at depth 4")
    };
    assert_eq!(ours[..cert_start(&ours)], theirs[..cert_start(&theirs)]);
    assert_eq!(ours[signer_infos(&ours)..], theirs[signer_infos(&theirs)..]);
}
