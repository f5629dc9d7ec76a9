//! One complete, valid site bundle made in-process, and its trusted root,
//! for the negative-class and hostile-input tests.
//!
//! Everything is built here by independent means, never by the verifier:
//! - a certificate authority (rcgen, P-256, valid 2020 to 2030) that
//!   issues a Fulcio-like leaf for [`SIGNER_EMAIL`] with the OIDC-issuer
//!   extension (1.3.6.1.4.1.57264.1.8, a DER UTF8String) and an embedded
//!   SCT: the leaf is first issued without the SCT list (that
//!   TBSCertificate is the precertificate's, RFC 6962 §3.2), a test CT
//!   log (ECDSA P-256) signs it, and the leaf is issued again with the
//!   same fields plus the SCT list as its last extension;
//! - a Rekor v2 log (Ed25519, origin [`LOG_HOST`]) of three entries, ours
//!   at index 1, its body made by islet's entry validation from a
//!   `hashedRekordRequestV002` (as `islet serve` logs it), the proof and
//!   the root computed here with RFC 6962's node hashes, and a checkpoint
//!   signed with the log key;
//! - an RFC 3161 timestamp over the signature from an islet-tsa
//!   `TimestampAuthority` with a chain made here (so the root key is kept
//!   and can re-issue the leaf);
//! - a Rekor v1 log (ECDSA P-256) for the SET classes: a hashedrekord
//!   0.0.1 body written out by hand, a `<host> - <tree ID>` checkpoint and
//!   a signed entry timestamp over the RFC 8785 payload written out by
//!   hand.
//!
//! The timeline: leaf valid 2024-01-01 to 2024-01-02, the TSA's genTime
//! [`GEN_TIME`] (2024-01-01T12:00:00Z), its chain valid 2023-01-01 to
//! 2025-01-01 (expired now: an expired TSA chain still vouches for old
//! timestamps), logs and CT valid from 2023-01-01.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use islet_rekor::entry::{EntryPolicy, pae, validate};
use islet_rekor::request::parse_request;
use islet_signer::{EcdsaP256Signer, Ed25519Signer};
use islet_tlog::checkpoint::Checkpoint;
use islet_tlog::merkle::{Hash, leaf_hash, node_hash};
use islet_tlog::note::NoteSigner;
use islet_tsa::{SerialNumber, TimestampAuthority, TsaConfig};
use islet_verify::identity::IdentityPolicy;
use islet_verify::trusted_root::TrustedRoot;
use islet_verify::{Artifact, Check, Failure, Policy, Subject, Verified, Verifier};
use rcgen::PublicKeyData;
use serde_json::{Value, json};

/// The signer's email (the SAN of every leaf made here).
pub const SIGNER_EMAIL: &str = "signer@example.org";
/// The OIDC issuer every leaf made here names.
pub const ISSUER: &str = "https://oidc.example.org";
/// The Rekor v2 log's host (its checkpoint origin and key name).
pub const LOG_HOST: &str = "log.example.org";
/// The Rekor v1 log's host.
pub const V1_HOST: &str = "rekor.example.org";
/// The Rekor v1 checkpoint origin.
pub const V1_ORIGIN: &str = "rekor.example.org - 1193050959916656506";
/// The TSA's URI in the trusted root.
pub const TSA_URI: &str = "https://tsa.example.org/api/v1/timestamp";
/// The artifact signed.
pub const ARTIFACT: &[u8] = b"an artifact signed at the site";
/// The TSA's genTime: 2024-01-01T12:00:00Z.
pub const GEN_TIME: u64 = 1_704_110_400;
/// The Rekor v1 integrated time: 2024-01-01T06:00:00Z.
pub const INTEGRATED_TIME: u64 = 1_704_088_800;
/// The SCT's time: 2024-01-01T00:00:00Z, in milliseconds.
pub const SCT_MILLIS: u64 = 1_704_067_200_000;
/// The other two leaves of the three-entry logs (ours is at index 1).
pub const OTHER_LEAVES: [&[u8]; 3] = [b"entry 0", b"entry 2", b"entry 3"];

/// `secs` after 1970.
pub fn at_secs(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// An RFC 3339 time.
pub fn at(s: &str) -> SystemTime {
    humantime::parse_rfc3339(s).unwrap()
}

/// A certificate authority whose key is kept.
pub struct Ca {
    pub der: Vec<u8>,
    pub params: rcgen::CertificateParams,
    pub key: rcgen::KeyPair,
}

impl Ca {
    /// A self-signed CA valid from `from` to `until` (years, January 1st).
    pub fn new(cn: &str, from: i32, until: i32) -> Ca {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "example.org");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        params.not_before = rcgen::date_time_ymd(from, 1, 1);
        params.not_after = rcgen::date_time_ymd(until, 1, 1);
        let der = params.self_signed(&key).unwrap().der().to_vec();
        Ca { der, params, key }
    }

    fn issuer(&self) -> rcgen::Issuer<'_, &rcgen::KeyPair> {
        rcgen::Issuer::from_params(&self.params, &self.key)
    }
}

/// A CT log: its key, SPKI and log ID (SHA-256 of the SPKI).
pub struct CtLog {
    pub key: EcdsaKeyPair,
    pub spki: Vec<u8>,
    pub log_id: [u8; 32],
}

impl CtLog {
    pub fn new() -> CtLog {
        let (signer, pkcs8) = EcdsaP256Signer::generate("ct.example.org").unwrap();
        let spki = signer.spki().to_vec();
        CtLog {
            key: EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8).unwrap(),
            log_id: sha256(&spki),
            spki,
        }
    }
}

/// What a leaf made here looks like.
#[derive(Clone)]
pub struct LeafSpec {
    /// notBefore and notAfter (year, month, day).
    pub from: (i32, u8, u8),
    pub until: (i32, u8, u8),
    /// SCT timestamp (ms) and its extensions; `None`: no SCT list.
    pub sct: Option<(u64, Vec<u8>)>,
    pub email: String,
}

impl Default for LeafSpec {
    fn default() -> Self {
        LeafSpec {
            from: (2024, 1, 1),
            until: (2024, 1, 2),
            sct: Some((SCT_MILLIS, Vec::new())),
            email: SIGNER_EMAIL.into(),
        }
    }
}

/// A leaf certificate (DER) and its signing key.
pub struct Leaf {
    pub der: Vec<u8>,
    pub key: EcdsaKeyPair,
    pub spki: Vec<u8>,
}

/// The first element of a DER SEQUENCE (a certificate's TBSCertificate),
/// with its header: read by hand, not by the verifier's parser.
pub fn first_element(der: &[u8]) -> &[u8] {
    fn header(b: &[u8]) -> (usize, usize) {
        assert_eq!(b[0], 0x30, "a SEQUENCE");
        if b[1] < 0x80 {
            (2, usize::from(b[1]))
        } else {
            let n = usize::from(b[1] & 0x7f);
            let len = b[2..2 + n]
                .iter()
                .fold(0usize, |acc, x| (acc << 8) | usize::from(*x));
            (2 + n, len)
        }
    }
    let (h, _) = header(der);
    let inner = &der[h..];
    let (h2, len) = header(inner);
    &inner[..h2 + len]
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .try_into()
        .unwrap()
}

/// A DER length (minimal form).
pub fn der_length(n: usize) -> Vec<u8> {
    match n {
        0..=0x7f => vec![u8::try_from(n).unwrap()],
        0x80..=0xff => vec![0x81, u8::try_from(n).unwrap()],
        _ => {
            let b = u16::try_from(n).unwrap().to_be_bytes();
            vec![0x82, b[0], b[1]]
        }
    }
}

/// DER of a short UTF8String.
fn utf8_string(s: &str) -> Vec<u8> {
    assert!(s.len() < 128);
    let mut v = vec![0x0c, u8::try_from(s.len()).unwrap()];
    v.extend_from_slice(s.as_bytes());
    v
}

/// The TLS SignedCertificateTimestampList holding one SCT by `ct` over
/// the precertificate `tbs` issued by the key `issuer_spki` (RFC 6962
/// §3.2 and §3.3).
pub fn sct_list(ct: &CtLog, issuer_spki: &[u8], tbs: &[u8], millis: u64, exts: &[u8]) -> Vec<u8> {
    let mut signed = vec![0u8, 0u8];
    signed.extend_from_slice(&millis.to_be_bytes());
    signed.extend_from_slice(&1u16.to_be_bytes());
    signed.extend_from_slice(&sha256(issuer_spki));
    signed.extend_from_slice(&u32::try_from(tbs.len()).unwrap().to_be_bytes()[1..]);
    signed.extend_from_slice(tbs);
    signed.extend_from_slice(&u16::try_from(exts.len()).unwrap().to_be_bytes());
    signed.extend_from_slice(exts);
    let sig = ct.key.sign(&SystemRandom::new(), &signed).unwrap();
    let mut sct = vec![0u8];
    sct.extend_from_slice(&ct.log_id);
    sct.extend_from_slice(&millis.to_be_bytes());
    sct.extend_from_slice(&u16::try_from(exts.len()).unwrap().to_be_bytes());
    sct.extend_from_slice(exts);
    sct.extend_from_slice(&[4, 3]); // sha256, ecdsa
    sct.extend_from_slice(&u16::try_from(sig.as_ref().len()).unwrap().to_be_bytes());
    sct.extend_from_slice(sig.as_ref());
    let mut list = Vec::new();
    list.extend_from_slice(&u16::try_from(sct.len() + 2).unwrap().to_be_bytes());
    list.extend_from_slice(&u16::try_from(sct.len()).unwrap().to_be_bytes());
    list.extend_from_slice(&sct);
    list
}

/// A Fulcio-like leaf issued by `ca`, with an SCT by `ct` when the spec
/// asks for one.
pub fn issue_leaf(ca: &Ca, ct: &CtLog, spec: &LeafSpec) -> Leaf {
    let signing = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x42, 0x17, 0x01]));
    params.subject_alt_names = vec![rcgen::SanType::Rfc822Name(
        spec.email.clone().try_into().unwrap(),
    )];
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::CodeSigning];
    params.not_before = rcgen::date_time_ymd(spec.from.0, spec.from.1, spec.from.2);
    params.not_after = rcgen::date_time_ymd(spec.until.0, spec.until.1, spec.until.2);
    params.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 4, 1, 57264, 1, 8],
        utf8_string(ISSUER),
    )];
    let mut der = params
        .signed_by(&signing, &ca.issuer())
        .unwrap()
        .der()
        .to_vec();
    if let Some((millis, exts)) = &spec.sct {
        let pre = first_element(&der).to_vec();
        let list = sct_list(ct, &ca.key.subject_public_key_info(), &pre, *millis, exts);
        // extnValue holds an OCTET STRING holding the list.
        let mut octets = vec![0x04];
        octets.extend_from_slice(&der_length(list.len()));
        octets.extend_from_slice(&list);
        params
            .custom_extensions
            .push(rcgen::CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2],
                octets,
            ));
        der = params
            .signed_by(&signing, &ca.issuer())
            .unwrap()
            .der()
            .to_vec();
    }
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &signing.serialize_der())
        .unwrap();
    Leaf {
        der,
        key,
        spki: signing.subject_public_key_info(),
    }
}

/// DER of ExtKeyUsageSyntax { id-kp-timeStamping }.
const EKU_TIME_STAMPING: [u8; 12] = [
    0x30, 0x0A, 0x06, 0x08, 0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08,
];

/// A timestamp authority: its root (key kept), its leaf key, and the
/// chain its `TimestampAuthority` runs with.
pub struct Tsa {
    pub root: Ca,
    pub leaf_key: rcgen::KeyPair,
    pub leaf_der: Vec<u8>,
    pub key_pem: String,
    pub chain_pem: String,
}

impl Tsa {
    /// A TSA whose root and leaf are valid from `from` to `until` (years).
    pub fn new(name: &str, from: i32, until: i32) -> Tsa {
        let root = Ca::new(&format!("{name} Root"), from, until);
        let leaf_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let leaf_der = Self::leaf(&root, &leaf_key, name, (from, 1, 1), (until, 1, 1));
        let key_pem = pem::encode(&pem::Pem::new("PRIVATE KEY", leaf_key.serialize_der()));
        let chain_pem = pem::encode_many(&[
            pem::Pem::new("CERTIFICATE", leaf_der.clone()),
            pem::Pem::new("CERTIFICATE", root.der.clone()),
        ]);
        Tsa {
            root,
            leaf_key,
            leaf_der,
            key_pem,
            chain_pem,
        }
    }

    /// A timestamping leaf for `key` (always the same serial and subject:
    /// a re-issue has the same issuer and serial).
    pub fn leaf(
        root: &Ca,
        key: &rcgen::KeyPair,
        name: &str,
        from: (i32, u8, u8),
        until: (i32, u8, u8),
    ) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "example.org");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x7a, 0x5a, 0x01]));
        params.is_ca = rcgen::IsCa::NoCa;
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        let mut eku =
            rcgen::CustomExtension::from_oid_content(&[2, 5, 29, 37], EKU_TIME_STAMPING.to_vec());
        eku.set_criticality(true);
        params.custom_extensions = vec![eku];
        params.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
        params.not_after = rcgen::date_time_ymd(until.0, until.1, until.2);
        params
            .signed_by(key, &root.issuer())
            .unwrap()
            .der()
            .to_vec()
    }

    /// A DER `TimeStampResp` over `signature` issued at `now`, with the
    /// signer's certificate embedded when `certs`.
    pub fn timestamp(&self, signature: &[u8], now: SystemTime, certs: bool) -> Vec<u8> {
        let authority = TimestampAuthority::new(
            self.key_pem.as_bytes(),
            self.chain_pem.as_bytes(),
            TsaConfig::default(),
        )
        .unwrap();
        let request = json!({
            "artifactHash": STANDARD.encode(sha256(signature)),
            "hashAlgorithm": "sha256",
            "certificates": certs,
        });
        let answer = authority.answer(
            "application/json",
            &serde_json::to_vec(&request).unwrap(),
            now,
            SerialNumber::from_bytes([0x11; 20]),
        );
        assert_eq!(answer.http_status, 200, "{:?}", answer.outcome);
        answer.body
    }

    /// The trusted root's `timestampAuthorities` entry (chain leaf, root).
    pub fn entry(&self, start: &str, end: Option<&str>) -> Value {
        let mut valid = json!({ "start": start });
        if let Some(e) = end {
            valid["end"] = json!(e);
        }
        json!({
            "subject": { "organization": "example.org", "commonName": "site TSA Root" },
            "uri": TSA_URI,
            "certChain": { "certificates": [
                { "rawBytes": STANDARD.encode(&self.leaf_der) },
                { "rawBytes": STANDARD.encode(&self.root.der) },
            ]},
            "validFor": valid,
        })
    }
}

/// The trusted root's `timestampVerificationData` for these tokens.
pub fn timestamp_data(tokens: &[Vec<u8>]) -> Value {
    json!({ "rfc3161Timestamps": tokens
        .iter()
        .map(|t| json!({ "signedTimestamp": STANDARD.encode(t) }))
        .collect::<Vec<_>>() })
}

/// A Rekor v2 `TransparencyLogEntry` for `body` at index 1 of the
/// three-entry log [entry 0, body, entry 2], its checkpoint signed by
/// `signers` (the log key first, unless a test says otherwise).
pub fn v2_entry(log_id: &[u8], kind: &str, body: &[u8], signers: &[&dyn NoteSigner]) -> Value {
    let (l0, l2) = (leaf_hash(OTHER_LEAVES[0]), leaf_hash(OTHER_LEAVES[1]));
    let root = node_hash(&node_hash(&l0, &leaf_hash(body)), &l2);
    json!({
        "logIndex": "1",
        "logId": { "keyId": STANDARD.encode(log_id) },
        "kindVersion": { "kind": kind, "version": "0.0.2" },
        "inclusionProof": {
            "logIndex": "1",
            "rootHash": STANDARD.encode(root),
            "treeSize": "3",
            "hashes": [STANDARD.encode(l0), STANDARD.encode(l2)],
            "checkpoint": { "envelope": checkpoint(LOG_HOST, 3, root, &[], signers) },
        },
        "canonicalizedBody": STANDARD.encode(body),
    })
}

/// A checkpoint note signed by `signers`.
pub fn checkpoint(
    origin: &str,
    size: u64,
    root: Hash,
    extensions: &[&str],
    signers: &[&dyn NoteSigner],
) -> String {
    let note = Checkpoint {
        origin: origin.into(),
        size,
        root,
        extensions: extensions.iter().map(|s| (*s).to_owned()).collect(),
    }
    .sign(signers)
    .unwrap();
    String::from_utf8(note).unwrap()
}

/// A Rekor v2 body as islet's log makes it from `request`.
pub fn logged_body(request: &Value) -> Vec<u8> {
    validate(
        parse_request(&serde_json::to_vec(request).unwrap()).unwrap(),
        EntryPolicy { allow_dsse: true },
    )
    .unwrap()
    .body
}

/// A `hashedRekordRequestV002` with `verifier`.
pub fn hashedrekord_request(digest: &[u8], signature: &[u8], verifier: Value) -> Value {
    json!({ "hashedRekordRequestV002": {
        "digest": STANDARD.encode(digest),
        "signature": { "content": STANDARD.encode(signature), "verifier": verifier },
    }})
}

/// The verifier of a certificate.
pub fn cert_verifier(der: &[u8]) -> Value {
    json!({ "x509Certificate": { "rawBytes": STANDARD.encode(der) }, "keyDetails": "PKIX_ECDSA_P256_SHA_256" })
}

/// The verifier of a key.
pub fn key_verifier(spki: &[u8]) -> Value {
    json!({ "publicKey": { "rawBytes": STANDARD.encode(spki) }, "keyDetails": "PKIX_ECDSA_P256_SHA_256" })
}

/// The whole site.
pub struct Site {
    pub ca: Ca,
    pub ct: CtLog,
    pub leaf: Leaf,
    pub tsa: Tsa,
    pub log: Ed25519Signer,
    /// The Ed25519 seed of the log key (random: each site has its own).
    pub log_seed: [u8; 32],
    pub log_id: [u8; 32],
    pub v1_log: EcdsaP256Signer,
    pub v1_key: EcdsaKeyPair,
    pub v1_spki: Vec<u8>,
    pub v1_log_id: [u8; 32],
    pub digest: [u8; 32],
    pub signature: Vec<u8>,
    /// The valid site bundle (v0.3, Rekor v2 hashedrekord, one timestamp
    /// with the TSA's certificate embedded).
    pub bundle: Value,
    /// Its trusted root (CA, CT log, both logs, TSA).
    pub root: Value,
}

impl Site {
    /// The site, made once per test binary.
    pub fn get() -> &'static Site {
        static SITE: OnceLock<Site> = OnceLock::new();
        SITE.get_or_init(Site::new)
    }

    /// A new site (new keys).
    pub fn new() -> Site {
        let ca = Ca::new("site CA", 2020, 2030);
        let ct = CtLog::new();
        let leaf = issue_leaf(&ca, &ct, &LeafSpec::default());
        let tsa = Tsa::new("site TSA", 2023, 2025);
        let mut log_seed = [0u8; 32];
        aws_lc_rs::rand::SecureRandom::fill(&SystemRandom::new(), &mut log_seed).unwrap();
        let log = Ed25519Signer::from_seed(LOG_HOST, &log_seed).unwrap();
        let log_id = log.verifier().rekor_log_id().unwrap();
        let (v1_log, v1_pkcs8) = EcdsaP256Signer::generate(V1_HOST).unwrap();
        let v1_spki = v1_log.spki().to_vec();
        let v1_key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &v1_pkcs8).unwrap();
        let digest = sha256(ARTIFACT);
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, ARTIFACT);
        let signature = leaf.key.sign_digest(&d).unwrap().as_ref().to_vec();
        let body = logged_body(&hashedrekord_request(
            &digest,
            &signature,
            cert_verifier(&leaf.der),
        ));
        let entry = v2_entry(&log_id, "hashedrekord", &body, &[&log]);
        let token = tsa.timestamp(&signature, at_secs(GEN_TIME), true);
        let bundle = json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": { "rawBytes": STANDARD.encode(&leaf.der) },
                "tlogEntries": [entry],
                "timestampVerificationData": timestamp_data(&[token]),
            },
            "messageSignature": {
                "messageDigest": { "algorithm": "SHA2_256", "digest": STANDARD.encode(digest) },
                "signature": STANDARD.encode(&signature),
            },
        });
        let root = json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [
                {
                    "baseUrl": format!("https://{LOG_HOST}"),
                    "hashAlgorithm": "SHA2_256",
                    "publicKey": {
                        "rawBytes": STANDARD.encode(log.spki()),
                        "keyDetails": "PKIX_ED25519",
                        "validFor": { "start": "2023-01-01T00:00:00Z" },
                    },
                    "logId": { "keyId": STANDARD.encode(log_id) },
                },
                {
                    "baseUrl": format!("https://{V1_HOST}"),
                    "hashAlgorithm": "SHA2_256",
                    "publicKey": {
                        "rawBytes": STANDARD.encode(&v1_spki),
                        "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                        "validFor": { "start": "2023-01-01T00:00:00Z" },
                    },
                    "logId": { "keyId": STANDARD.encode(sha256(&v1_spki)) },
                },
            ],
            "certificateAuthorities": [{
                "subject": { "organization": "example.org", "commonName": "site CA" },
                "uri": "https://ca.example.org",
                "certChain": { "certificates": [{ "rawBytes": STANDARD.encode(&ca.der) }] },
                "validFor": { "start": "2020-01-01T00:00:00Z" },
            }],
            "ctlogs": [{
                "baseUrl": "https://ct.example.org",
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": STANDARD.encode(&ct.spki),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": { "start": "2023-01-01T00:00:00Z" },
                },
                "logId": { "keyId": STANDARD.encode(ct.log_id) },
            }],
            "timestampAuthorities": [tsa.entry("2023-01-01T00:00:00Z", None)],
        });
        Site {
            v1_log_id: sha256(&v1_spki),
            ca,
            ct,
            leaf,
            tsa,
            log,
            log_seed,
            log_id,
            v1_log,
            v1_key,
            v1_spki,
            digest,
            signature,
            bundle,
            root,
        }
    }

    /// A timestamp over `signature` from the site's TSA at `secs`.
    pub fn timestamp(&self, signature: &[u8], secs: u64, certs: bool) -> Vec<u8> {
        self.tsa.timestamp(signature, at_secs(secs), certs)
    }

    /// A v0.3 bundle for `leaf` signing `data` (its SHA-256), logged in
    /// the site's Rekor v2 log, timestamped by the site's TSA at
    /// `gen_time`; and the signature.
    pub fn bundle_for(&self, leaf: &Leaf, data: &[u8], gen_time: u64) -> (Value, Vec<u8>) {
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
        let sig = leaf.key.sign_digest(&d).unwrap().as_ref().to_vec();
        let body = logged_body(&hashedrekord_request(
            d.as_ref(),
            &sig,
            cert_verifier(&leaf.der),
        ));
        let token = self.timestamp(&sig, gen_time, true);
        let bundle = json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": { "rawBytes": STANDARD.encode(&leaf.der) },
                "tlogEntries": [self.v2_entry("hashedrekord", &body)],
                "timestampVerificationData": timestamp_data(&[token]),
            },
            "messageSignature": {
                "messageDigest": { "algorithm": "SHA2_256", "digest": STANDARD.encode(d.as_ref()) },
                "signature": STANDARD.encode(&sig),
            },
        });
        (bundle, sig)
    }

    /// A Rekor v2 entry in the site's log for `body`.
    pub fn v2_entry(&self, kind: &str, body: &[u8]) -> Value {
        v2_entry(&self.log_id, kind, body, &[&self.log])
    }

    /// The Rekor v1 hashedrekord 0.0.1 body for a certificate, digest and
    /// signature, as Rekor v1 writes it (the certificate as Go's PEM).
    pub fn v1_body(cert: &[u8], digest: &[u8], signature: &[u8]) -> String {
        let b64_der = STANDARD.encode(cert);
        let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
        for line in b64_der.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap());
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
        format!(
            r#"{{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{{"data":{{"hash":{{"algorithm":"sha256","value":"{}"}}}},"signature":{{"content":"{}","publicKey":{{"content":"{}"}}}}}}}}"#,
            hex::encode(digest),
            STANDARD.encode(signature),
            STANDARD.encode(pem.as_bytes())
        )
    }

    /// A Rekor v1 entry (logIndex 7, shard index 1 of a tree of three)
    /// for `body` with a SET over `integrated_time`.
    pub fn v1_entry(&self, body: &str, integrated_time: u64) -> Value {
        let (l0, l2) = (leaf_hash(OTHER_LEAVES[0]), leaf_hash(OTHER_LEAVES[1]));
        let root = node_hash(&node_hash(&l0, &leaf_hash(body.as_bytes())), &l2);
        let note = checkpoint(
            V1_ORIGIN,
            3,
            root,
            &["Timestamp: 1704088800000000000"],
            &[&self.v1_log],
        );
        let payload = format!(
            r#"{{"body":"{}","integratedTime":{integrated_time},"logID":"{}","logIndex":7}}"#,
            STANDARD.encode(body.as_bytes()),
            hex::encode(self.v1_log_id)
        );
        let set = self
            .v1_key
            .sign(&SystemRandom::new(), payload.as_bytes())
            .unwrap();
        json!({
            "logIndex": "7",
            "logId": { "keyId": STANDARD.encode(self.v1_log_id) },
            "kindVersion": { "kind": "hashedrekord", "version": "0.0.1" },
            "integratedTime": integrated_time.to_string(),
            "inclusionPromise": { "signedEntryTimestamp": STANDARD.encode(set.as_ref()) },
            "inclusionProof": {
                "logIndex": "1",
                "rootHash": STANDARD.encode(root),
                "treeSize": "3",
                "hashes": [STANDARD.encode(l0), STANDARD.encode(l2)],
                "checkpoint": { "envelope": note },
            },
            "canonicalizedBody": STANDARD.encode(body.as_bytes()),
        })
    }

    /// The site bundle as a v0.1 bundle logged in the Rekor v1 log at
    /// `integrated_time` (with a SET; no timestamp: the SET's time is the
    /// verified time).
    pub fn v1_bundle(&self, integrated_time: u64) -> Value {
        let body = Self::v1_body(&self.leaf.der, &self.digest, &self.signature);
        json!({
            "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
            "verificationMaterial": {
                "x509CertificateChain": { "certificates": [{ "rawBytes": STANDARD.encode(&self.leaf.der) }] },
                "tlogEntries": [self.v1_entry(&body, integrated_time)],
            },
            "messageSignature": self.bundle["messageSignature"].clone(),
        })
    }

    /// An in-toto statement for the artifact, a DSSE envelope over it
    /// signed with the leaf key, and its signature.
    pub fn envelope(&self, payload_type: &str, predicate: &str) -> (Value, Vec<u8>) {
        let payload = serde_json::to_vec(&json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{ "name": "artifact", "digest": { "sha256": hex::encode(self.digest) } }],
            "predicateType": "https://example.org/predicate/v1",
            "predicate": { "note": predicate },
        }))
        .unwrap();
        let sig = self
            .leaf
            .key
            .sign(&SystemRandom::new(), &pae(payload_type, &payload))
            .unwrap()
            .as_ref()
            .to_vec();
        let env = json!({
            "payload": STANDARD.encode(&payload),
            "payloadType": payload_type,
            "signatures": [{ "sig": STANDARD.encode(&sig), "keyid": "" }],
        });
        (env, sig)
    }

    /// The site bundle with an in-toto DSSE envelope logged as dsse 0.0.2
    /// (`as_hashedrekord`: logged as a hashedrekord 0.0.2 over the PAE, as
    /// sigstore-python 4.3 and later do).
    pub fn dsse_bundle(&self, as_hashedrekord: bool) -> Value {
        let (env, sig) = self.envelope("application/vnd.in-toto+json", "dsse");
        let (kind, body) = if as_hashedrekord {
            let payload = STANDARD.decode(env["payload"].as_str().unwrap()).unwrap();
            let digest = sha256(&pae("application/vnd.in-toto+json", &payload));
            (
                "hashedrekord",
                logged_body(&hashedrekord_request(
                    &digest,
                    &sig,
                    cert_verifier(&self.leaf.der),
                )),
            )
        } else {
            (
                "dsse",
                logged_body(&json!({ "dsseRequestV002": {
                    "envelope": env,
                    "verifiers": [cert_verifier(&self.leaf.der)],
                }})),
            )
        };
        let token = self.timestamp(&sig, GEN_TIME, true);
        json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": { "rawBytes": STANDARD.encode(&self.leaf.der) },
                "tlogEntries": [self.v2_entry(kind, &body)],
                "timestampVerificationData": timestamp_data(&[token]),
            },
            "dsseEnvelope": env,
        })
    }

    /// Go's PEM of the leaf, as Rekor v1 logs a verifier.
    pub fn leaf_pem(&self) -> String {
        let b64_der = STANDARD.encode(&self.leaf.der);
        let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
        for line in b64_der.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap());
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
        pem
    }

    /// A v0.2 bundle with `env` (signed `sig`) logged in the Rekor v1 log
    /// as a dsse 0.0.1 entry (`intoto`: an intoto 0.0.2 one) recording
    /// `logged_sig`, its body written out by hand as Rekor v1 writes it.
    pub fn v1_dsse_bundle(&self, env: &Value, logged_sig: &[u8], intoto: bool) -> Value {
        let payload = STANDARD.decode(env["payload"].as_str().unwrap()).unwrap();
        let payload_hash = hex::encode(sha256(&payload));
        let pem_b64 = STANDARD.encode(self.leaf_pem().as_bytes());
        let body = if intoto {
            format!(
                r#"{{"apiVersion":"0.0.2","kind":"intoto","spec":{{"content":{{"envelope":{{"payloadType":"{}","signatures":[{{"publicKey":"{pem_b64}","sig":"{}"}}]}},"hash":{{"algorithm":"sha256","value":"{}"}},"payloadHash":{{"algorithm":"sha256","value":"{payload_hash}"}}}}}}}}"#,
                env["payloadType"].as_str().unwrap(),
                STANDARD.encode(STANDARD.encode(logged_sig)),
                hex::encode(sha256(b"the envelope as logged")),
            )
        } else {
            format!(
                r#"{{"apiVersion":"0.0.1","kind":"dsse","spec":{{"envelopeHash":{{"algorithm":"sha256","value":"{}"}},"payloadHash":{{"algorithm":"sha256","value":"{payload_hash}"}},"signatures":[{{"signature":"{}","verifier":"{pem_b64}"}}]}}}}"#,
                hex::encode(sha256(b"the envelope as logged")),
                STANDARD.encode(logged_sig),
            )
        };
        let mut entry = self.v1_entry(&body, INTEGRATED_TIME);
        entry["kindVersion"] = if intoto {
            json!({ "kind": "intoto", "version": "0.0.2" })
        } else {
            json!({ "kind": "dsse", "version": "0.0.1" })
        };
        json!({
            "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.2",
            "verificationMaterial": {
                "x509CertificateChain": { "certificates": [{ "rawBytes": STANDARD.encode(&self.leaf.der) }] },
                "tlogEntries": [entry],
            },
            "dsseEnvelope": env,
        })
    }

    /// A key-signed bundle (a P-256 key, no certificate) for the artifact,
    /// logged with the key as its verifier, with a timestamp; and the key.
    pub fn key_bundle(&self) -> (Value, Vec<u8>) {
        let signing = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let spki = signing.subject_public_key_info();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &signing.serialize_der())
                .unwrap();
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, ARTIFACT);
        let sig = key.sign_digest(&d).unwrap().as_ref().to_vec();
        let body = logged_body(&hashedrekord_request(
            &self.digest,
            &sig,
            key_verifier(&spki),
        ));
        let token = self.timestamp(&sig, GEN_TIME, false);
        let bundle = json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "publicKey": { "hint": "a site key" },
                "tlogEntries": [self.v2_entry("hashedrekord", &body)],
                "timestampVerificationData": timestamp_data(&[token]),
            },
            "messageSignature": {
                "messageDigest": { "algorithm": "SHA2_256", "digest": STANDARD.encode(self.digest) },
                "signature": STANDARD.encode(&sig),
            },
        });
        (bundle, spki)
    }
}

/// The policy of these tests: the signer's email and issuer, exactly,
/// the artifact, and islet's defaults (SCT required, one log, one
/// timestamp for a Rekor v2 entry).
pub fn policy() -> Policy {
    Policy {
        identity: Some(
            IdentityPolicy::new(Some(SIGNER_EMAIL.into()), None, Some(ISSUER.into()), None)
                .unwrap(),
        ),
        artifact: Some(Subject::Artifact(Artifact::of(ARTIFACT))),
        ..Policy::default()
    }
}

/// Verifies as `islet verify` does: a trusted root that does not parse is
/// a [`Check::TrustedRoot`] verdict.
pub fn verify_bytes(bundle: &[u8], root: &[u8], policy: Policy) -> Result<Verified, Failure> {
    let root = TrustedRoot::parse(root).map_err(|reason| Failure {
        check: Check::TrustedRoot,
        reason,
    })?;
    Verifier::new(&root, None, policy).verify(bundle)
}

/// [`verify_bytes`] on JSON values.
pub fn verify_with(bundle: &Value, root: &Value, policy: Policy) -> Result<Verified, Failure> {
    verify_bytes(
        &serde_json::to_vec(bundle).unwrap(),
        &serde_json::to_vec(root).unwrap(),
        policy,
    )
}
