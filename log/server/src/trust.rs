//! `islet trust-root`: the Sigstore trust material clients need to use this
//! site: a `TrustedRoot` (v0.1, the version sigstore-go and sigstore-python
//! load) whose tlog has the log's key and full key ID, whose
//! `timestampAuthorities` has the site's TSA (chain and `validFor`), and
//! whose `certificateAuthorities` and `ctlogs` name the site's CAs and CT
//! logs; and a `SigningConfig` v0.2 that points at the log
//! (`majorApiVersion: 2`), the TSA (`majorApiVersion: 1`, the full POST
//! URL) and the site's Fulcio when there is one. Nothing in it is a
//! placeholder: a service that is not configured is not listed.

use std::path::Path;

use crate::error::{Error, Result};
use serde_json::{Value, json};
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};

use islet_rekor::request::encode_base64;
use islet_tlog::note::{NoteVerifier, PublicKey};

/// The path of the TSA under the public URL (Sigstore's timestamp-authority
/// service, and so every client's default).
pub const TSA_PATH: &str = "/api/v1/timestamp";

/// Largest PEM file of certificates or keys read for the trust material.
pub const MAX_TRUST_FILE_BYTES: u64 = 1024 * 1024;

/// Most certificates in one chain.
pub const MAX_CHAIN_CERTIFICATES: usize = 16;

/// A certificate authority or timestamp authority of the trusted root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    /// Its URL (`uri`).
    pub uri: String,
    /// The chain as listed: for a TSA leaf first and root last; for a CA
    /// intermediates first and the anchor last.
    pub chain: Vec<Vec<u8>>,
    /// Start of `validFor` (RFC 3339): the latest `notBefore` in the
    /// chain, the first moment every certificate of it is valid.
    pub valid_from: String,
    /// `subject.organization` and `subject.commonName` of the anchor.
    pub subject: (String, String),
}

/// A certificate transparency log of the trusted root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtLog {
    /// `baseUrl`.
    pub url: String,
    /// DER SubjectPublicKeyInfo.
    pub spki: Vec<u8>,
    /// `keyDetails`.
    pub key_details: &'static str,
    /// Start of `validFor` (RFC 3339).
    pub valid_from: String,
}

/// What describes the site to clients.
#[derive(Debug)]
pub struct TrustInputs<'a> {
    /// The URL clients reach the log at.
    pub base_url: &'a str,
    /// The log's verifier key.
    pub log_key: NoteVerifier,
    /// Start of validity, RFC 3339.
    pub valid_from: &'a str,
    /// End of validity, RFC 3339, once the log is frozen.
    pub valid_until: Option<&'a str>,
    /// The shards of the log that ended, oldest first.
    pub retired: Vec<RetiredLog>,
    /// The site's timestamp authority, when it serves one.
    pub tsa: Option<Authority>,
    /// The site's certificate authorities.
    pub cas: Vec<Authority>,
    /// The site's CT logs.
    pub ctlogs: Vec<CtLog>,
    /// The site's Fulcio.
    pub ca_url: Option<String>,
}

/// A shard that ended, as the trusted root lists it.
#[derive(Debug, Clone)]
pub struct RetiredLog {
    /// Where it is served.
    pub base_url: String,
    /// Its verifier key.
    pub vkey: String,
    /// Its DER SubjectPublicKeyInfo, base64.
    pub public_key_der: String,
    /// `keyDetails`.
    pub key_details: String,
    /// Start of validity (RFC 3339).
    pub valid_from: String,
    /// Its freeze (RFC 3339).
    pub valid_until: String,
}

/// `validFor`: a start, and an end when there is one.
fn valid_for(start: &str, end: Option<&str>) -> Value {
    match end {
        Some(end) => json!({ "start": start, "end": end }),
        None => json!({ "start": start }),
    }
}

/// DER SubjectPublicKeyInfo and `keyDetails` of the log key.
pub(crate) fn public_key(log_key: &NoteVerifier) -> (Vec<u8>, &'static str) {
    match log_key.public_key() {
        PublicKey::Ed25519(k) | PublicKey::CosignatureV1(k) => {
            (islet_tlog::note::ed25519_spki(k), "PKIX_ED25519")
        }
        PublicKey::EcdsaP256 { spki, .. } => (spki.clone(), "PKIX_ECDSA_P256_SHA_256"),
    }
}

/// The URL of the TSA of a log served at `base_url`.
pub fn tsa_url(base_url: &str) -> String {
    format!("{}{TSA_PATH}", base_url.trim_end_matches('/'))
}

fn authority_json(a: &Authority) -> Value {
    json!({
        "subject": { "organization": a.subject.0, "commonName": a.subject.1 },
        "uri": a.uri,
        "certChain": {
            "certificates": a.chain.iter().map(|c| json!({ "rawBytes": encode_base64(c) })).collect::<Vec<_>>(),
        },
        "validFor": { "start": a.valid_from },
    })
}

/// The `TrustedRoot` JSON.
///
/// # Errors
/// [`Error::Config`] for a log key that has no Rekor log ID (neither
/// Ed25519 nor ECDSA P-256): a trusted root without the log's ID would
/// verify nothing.
pub fn trusted_root(t: &TrustInputs<'_>) -> Result<Value> {
    let (spki, details) = public_key(&t.log_key);
    let log_id = t.log_key.rekor_log_id().ok_or_else(|| Error::Config {
        reason: "the log key must be Ed25519 or ECDSA P-256".into(),
    })?;
    let ctlogs: Vec<Value> = t
        .ctlogs
        .iter()
        .map(|c| {
            use sha2::Digest;
            json!({
                "baseUrl": c.url,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": encode_base64(&c.spki),
                    "keyDetails": c.key_details,
                    "validFor": { "start": c.valid_from },
                },
                "logId": { "keyId": encode_base64(&sha2::Sha256::digest(&c.spki)) },
            })
        })
        .collect();
    let mut tlogs = Vec::new();
    for r in &t.retired {
        let id = NoteVerifier::from_vkey(&r.vkey)
            .ok()
            .and_then(|v| v.rekor_log_id())
            .ok_or_else(|| Error::Config {
                reason: format!("the shard key {} has no log ID", r.vkey),
            })?;
        tlogs.push(json!({
            "baseUrl": r.base_url,
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": r.public_key_der,
                "keyDetails": r.key_details,
                "validFor": valid_for(&r.valid_from, Some(&r.valid_until)),
            },
            "logId": { "keyId": encode_base64(&id) },
        }));
    }
    tlogs.push(json!({
        "baseUrl": t.base_url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {
            "rawBytes": encode_base64(&spki),
            "keyDetails": details,
            "validFor": valid_for(t.valid_from, t.valid_until),
        },
        "logId": { "keyId": encode_base64(&log_id) },
    }));
    Ok(json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": tlogs,
        "certificateAuthorities": t.cas.iter().map(authority_json).collect::<Vec<_>>(),
        "ctlogs": ctlogs,
        "timestampAuthorities": t.tsa.iter().map(authority_json).collect::<Vec<_>>(),
    }))
}

/// The `SigningConfig` v0.2 JSON: the log, the TSA (with the `ANY`
/// selector sigstore-js requires) and the site's Fulcio, each only when
/// the site has it. sigstore-python refuses a signing config without a CA
/// URL: a site that signs with sigstore-python sets `[trust] ca_url`.
pub fn signing_config(t: &TrustInputs<'_>) -> Value {
    let service = |url: &str, version: u32, start: &str| json!({ "url": url, "majorApiVersion": version, "validFor": { "start": start }, "operator": "islet" });
    let ca_urls: Vec<Value> = t
        .ca_url
        .iter()
        .map(|url| service(url, 1, t.valid_from))
        .collect();
    let tsa_urls: Vec<Value> = t
        .tsa
        .iter()
        .map(|a| service(&a.uri, 1, &a.valid_from))
        .collect();
    json!({
        "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
        "caUrls": ca_urls,
        "oidcUrls": [],
        "rekorTlogUrls": [{
            "url": t.base_url,
            "majorApiVersion": 2,
            "validFor": valid_for(t.valid_from, t.valid_until),
            "operator": "islet",
        }],
        "tsaUrls": tsa_urls,
        "rekorTlogConfig": { "selector": "ANY" },
        "tsaConfig": { "selector": "ANY" },
    })
}

/// A `ClientTrustConfig` holding both.
///
/// # Errors
/// As [`trusted_root`].
pub fn client_trust_config(t: &TrustInputs<'_>) -> Result<Value> {
    Ok(json!({
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": trusted_root(t)?,
        "signingConfig": signing_config(t),
    }))
}

fn bad(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::Config {
        reason: format!("{}: {reason}", path.display()),
    }
}

fn read_capped(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(Error::io(path))?;
    let mut data = Vec::new();
    file.take(MAX_TRUST_FILE_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(Error::io(path))?;
    if data.len() as u64 > MAX_TRUST_FILE_BYTES {
        return Err(bad(
            path,
            format!("larger than the {MAX_TRUST_FILE_BYTES}-byte limit"),
        ));
    }
    Ok(data)
}

/// The certificates of a PEM file, in file order.
///
/// # Errors
/// [`Error::Config`] naming the file for anything but one or more
/// parseable `CERTIFICATE` blocks.
pub fn chain_from_pem(path: &Path, text: &[u8]) -> Result<Vec<Vec<u8>>> {
    let blocks = pem::parse_many(text).map_err(|e| bad(path, e))?;
    if blocks.is_empty() {
        return Err(bad(path, "holds no PEM certificate"));
    }
    if blocks.len() > MAX_CHAIN_CERTIFICATES {
        return Err(bad(
            path,
            format!("more than {MAX_CHAIN_CERTIFICATES} certificates"),
        ));
    }
    blocks
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            if b.tag() != "CERTIFICATE" {
                return Err(bad(
                    path,
                    format!("block {} is {:?}, not CERTIFICATE", i + 1, b.tag()),
                ));
            }
            Certificate::from_der(b.contents())
                .map_err(|e| bad(path, format!("certificate {}: {e}", i + 1)))?;
            Ok(b.into_contents())
        })
        .collect()
}

/// The organization and common name of a certificate's subject.
fn subject_names(cert: &Certificate) -> (String, String) {
    let (mut o, mut cn) = (String::new(), String::new());
    for rdn in cert.tbs_certificate.subject.0.iter() {
        for atv in rdn.0.iter() {
            let text = x509_cert::der::asn1::Utf8StringRef::try_from(&atv.value)
                .map(|s| s.as_str().to_owned())
                .or_else(|_| {
                    x509_cert::der::asn1::PrintableStringRef::try_from(&atv.value)
                        .map(|s| s.as_str().to_owned())
                })
                .unwrap_or_default();
            match atv.oid.to_string().as_str() {
                "2.5.4.10" => o = text,
                "2.5.4.3" => cn = text,
                _ => {}
            }
        }
    }
    (o, cn)
}

/// An [`Authority`] for a chain read from `path`: `validFor.start` is the
/// latest `notBefore` of the chain, the subject the last certificate's.
///
/// # Errors
/// [`Error::Config`] for an unreadable, empty or unparseable chain.
pub fn authority(path: &Path, uri: String, chain: Vec<Vec<u8>>) -> Result<Authority> {
    let mut latest = std::time::UNIX_EPOCH;
    let mut subject = (String::new(), String::new());
    for der in &chain {
        let cert = Certificate::from_der(der).map_err(|e| bad(path, e))?;
        let nb = cert.tbs_certificate.validity.not_before.to_system_time();
        latest = latest.max(nb);
        subject = subject_names(&cert);
    }
    if chain.is_empty() {
        return Err(bad(path, "holds no certificate"));
    }
    Ok(Authority {
        uri,
        chain,
        valid_from: humantime::format_rfc3339_seconds(latest).to_string(),
        subject,
    })
}

/// A site certificate authority from a PEM chain file (intermediates
/// first, the anchor last).
///
/// # Errors
/// [`Error::Config`], [`Error::Io`].
pub fn certificate_authority(path: &Path) -> Result<Authority> {
    let chain = chain_from_pem(path, &read_capped(path)?)?;
    let uri = format!("file://{}", path.display());
    authority(path, uri, chain)
}

/// A CT log from a PEM public key file.
///
/// # Errors
/// [`Error::Config`] for a key that is not an ECDSA P-256/P-384 or Ed25519
/// SubjectPublicKeyInfo.
pub fn ct_log(path: &Path, url: String, valid_from: String) -> Result<CtLog> {
    let text = read_capped(path)?;
    let block = pem::parse(&text).map_err(|e| bad(path, e))?;
    if block.tag() != "PUBLIC KEY" {
        return Err(bad(
            path,
            format!("holds {:?}, not a PUBLIC KEY", block.tag()),
        ));
    }
    let spki = block.into_contents();
    let parsed = spki::SubjectPublicKeyInfoRef::from_der(&spki).map_err(|e| bad(path, e))?;
    let alg = parsed.algorithm.oid.to_string();
    let curve = parsed
        .algorithm
        .parameters
        .and_then(|p| p.decode_as::<spki::ObjectIdentifier>().ok())
        .map(|o| o.to_string());
    let key_details = match (alg.as_str(), curve.as_deref()) {
        ("1.2.840.10045.2.1", Some("1.2.840.10045.3.1.7")) => "PKIX_ECDSA_P256_SHA_256",
        ("1.2.840.10045.2.1", Some("1.3.132.0.34")) => "PKIX_ECDSA_P384_SHA_384",
        ("1.3.101.112", _) => "PKIX_ED25519",
        _ => {
            return Err(bad(
                path,
                format!("a CT log key must be ECDSA P-256, P-384 or Ed25519, not {alg}"),
            ));
        }
    };
    let reencoded = parsed.to_der().map_err(|e| bad(path, e))?;
    if reencoded != spki {
        return Err(bad(path, "the key is not in DER's one encoding"));
    }
    Ok(CtLog {
        url,
        spki,
        key_details,
        valid_from,
    })
}

/// The site's trust material beside the log key: its TSA, CAs, CT logs
/// and Fulcio URL.
#[derive(Debug, Clone, Default)]
pub struct SiteTrust {
    /// The TSA.
    pub tsa: Option<Authority>,
    /// The CAs.
    pub cas: Vec<Authority>,
    /// The CT logs.
    pub ctlogs: Vec<CtLog>,
    /// The Fulcio URL.
    pub ca_url: Option<String>,
}

/// What `islet.toml` names, read from the data directory: the TSA chain
/// (when the TSA is on and its chain exists), `[trust] ca`, `[trust]
/// ctlog` and `[trust] ca_url`. A CT log without `valid_from` is valid
/// from `first_valid_from` (the start of the first shard of the log, so
/// that certificates of every shard's time verify), or the own log's.
///
/// # Errors
/// [`Error::Config`] and [`Error::Io`] naming the file.
pub fn site_trust(
    data: &islet_store::datadir::DataDir,
    config: &islet_store::config::Config,
    base_url: &str,
    first_valid_from: Option<&str>,
) -> Result<SiteTrust> {
    let root = data.root();
    let tsa = match &config.tsa {
        Some(t) if root.join(&t.chain).exists() => {
            let path = root.join(&t.chain);
            let chain = chain_from_pem(&path, &read_capped(&path)?)?;
            Some(authority(&path, tsa_url(base_url), chain)?)
        }
        _ => None,
    };
    let trust = &config.raw.trust;
    let cas = trust
        .ca
        .iter()
        .map(|p| certificate_authority(&root.join(p)))
        .collect::<Result<Vec<_>>>()?;
    let ctlogs = trust
        .ctlog
        .iter()
        .map(|c| {
            let valid_from = c
                .valid_from
                .clone()
                .or_else(|| first_valid_from.map(str::to_owned))
                .or_else(|| config.own.as_ref().map(|o| o.valid_from.clone()))
                .ok_or_else(|| Error::Config {
                    reason: format!(
                        "trust.ctlog {}: give valid_from (there is no own log's to default to)",
                        c.url
                    ),
                })?;
            ct_log(&root.join(&c.key), c.url.clone(), valid_from)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(SiteTrust {
        tsa,
        cas,
        ctlogs,
        ca_url: trust.ca_url.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use islet_tlog::note::NoteSigner;

    fn inputs(s: &islet_signer::Ed25519Signer) -> TrustInputs<'_> {
        TrustInputs {
            base_url: "http://127.0.0.1:3000",
            log_key: s.verifier(),
            valid_from: "2020-01-01T00:00:00Z",
            valid_until: None,
            retired: Vec::new(),
            tsa: None,
            cas: Vec::new(),
            ctlogs: Vec::new(),
            ca_url: None,
        }
    }

    #[test]
    fn the_trusted_root_carries_the_full_note_key_id_not_the_spki_hash() {
        let s = islet_signer::Ed25519Signer::from_seed("127.0.0.1", &[1; 32]).expect("signer");
        let v = trusted_root(&inputs(&s)).expect("an Ed25519 key has a log ID");
        let id = v["tlogs"][0]["logId"]["keyId"].as_str().expect("id");
        let want = encode_base64(&s.verifier().rekor_log_id().expect("id"));
        assert_eq!(id, want);
        let hint = u32::from_be_bytes(
            s.verifier().rekor_log_id().expect("id")[..4]
                .try_into()
                .expect("4"),
        );
        assert_eq!(hint, s.key_id());
    }

    fn leaf_der() -> Vec<u8> {
        let issued = islet_tsa::issue_chain(&islet_tsa::ChainParams {
            organization: "site.example".into(),
            common_name: "site.example test".into(),
            not_before: std::time::SystemTime::now(),
            validity: std::time::Duration::from_secs(3600),
            key_type: islet_tsa::TsaKeyType::P256,
        })
        .expect("issue");
        issued.leaf_der
    }

    fn pem_of(certs: usize, der: &[u8]) -> Vec<u8> {
        (0..certs)
            .map(|_| pem::encode(&pem::Pem::new("CERTIFICATE", der.to_vec())))
            .collect::<String>()
            .into_bytes()
    }

    #[test]
    fn a_chain_holds_up_to_its_certificate_limit_and_not_one_more() {
        let der = leaf_der();
        let path = Path::new("ca.pem");
        let at = chain_from_pem(path, &pem_of(MAX_CHAIN_CERTIFICATES, &der)).expect("at the limit");
        assert_eq!(at.len(), MAX_CHAIN_CERTIFICATES);
        let e =
            chain_from_pem(path, &pem_of(MAX_CHAIN_CERTIFICATES + 1, &der)).expect_err("refused");
        assert!(e.to_string().contains("more than 16 certificates"), "{e}");
        let e = chain_from_pem(path, b"no pem here").expect_err("refused");
        assert!(e.to_string().contains("no PEM certificate"), "{e}");
        let key = pem::encode(&pem::Pem::new("PUBLIC KEY", vec![0x30, 0x00]));
        let e = chain_from_pem(path, key.as_bytes()).expect_err("refused");
        assert!(e.to_string().contains("not CERTIFICATE"), "{e}");
    }

    #[test]
    fn trust_files_are_read_up_to_their_limit_and_not_one_byte_more() {
        let dir = tempfile::tempdir().expect("tmp");
        let limit = usize::try_from(MAX_TRUST_FILE_BYTES).expect("fits");
        let at = dir.path().join("at.pem");
        std::fs::write(&at, vec![b'\n'; limit]).expect("write");
        assert_eq!(read_capped(&at).expect("at the limit").len(), limit);
        let past = dir.path().join("past.pem");
        std::fs::write(&past, vec![b'\n'; limit + 1]).expect("write");
        let e = read_capped(&past).expect_err("refused");
        assert!(
            e.to_string().contains("larger than the 1048576-byte limit"),
            "{e}"
        );
    }

    #[test]
    fn ct_log_keys_are_ecdsa_or_ed25519_public_keys_in_der() {
        let dir = tempfile::tempdir().expect("tmp");
        let write = |name: &str, tag: &str, der: Vec<u8>| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem::encode(&pem::Pem::new(tag, der))).expect("write");
            path
        };
        let ed = islet_signer::Ed25519Signer::from_seed("ct", &[7; 32]).expect("signer");
        let verifier = ed.verifier();
        let PublicKey::Ed25519(k) = verifier.public_key() else {
            panic!("an Ed25519 key")
        };
        let ed_spki = islet_tlog::note::ed25519_spki(k);
        let ok = ct_log(
            &write("ed.pem", "PUBLIC KEY", ed_spki.clone()),
            "https://ct.example".into(),
            "2020-01-01T00:00:00Z".into(),
        )
        .expect("an Ed25519 key");
        assert_eq!((ok.key_details, ok.spki), ("PKIX_ED25519", ed_spki));
        // The SPKI of a P-256 certificate key.
        let der = leaf_der();
        let cert = Certificate::from_der(&der).expect("cert");
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .expect("spki");
        let ok = ct_log(
            &write("p256.pem", "PUBLIC KEY", spki),
            "https://ct.example".into(),
            "2020-01-01T00:00:00Z".into(),
        )
        .expect("a P-256 key");
        assert_eq!(ok.key_details, "PKIX_ECDSA_P256_SHA_256");
        let e = ct_log(
            &write("cert.pem", "CERTIFICATE", der),
            "https://ct.example".into(),
            "2020-01-01T00:00:00Z".into(),
        )
        .expect_err("refused");
        assert!(e.to_string().contains("not a PUBLIC KEY"), "{e}");
        let e = ct_log(
            &write("junk.pem", "PUBLIC KEY", vec![0x30, 0x03, 0x02, 0x01, 0x00]),
            "https://ct.example".into(),
            "2020-01-01T00:00:00Z".into(),
        )
        .expect_err("refused");
        assert!(e.to_string().contains("junk.pem"), "{e}");
    }

    #[test]
    fn a_signing_config_lists_no_service_the_site_does_not_have() {
        let s = islet_signer::Ed25519Signer::from_seed("127.0.0.1", &[1; 32]).expect("signer");
        let v = signing_config(&inputs(&s));
        assert_eq!(v["caUrls"], json!([]));
        assert_eq!(v["tsaUrls"], json!([]));
        let mut with = inputs(&s);
        with.ca_url = Some("https://fulcio.example.org".into());
        with.tsa = Some(Authority {
            uri: tsa_url("http://127.0.0.1:3000/"),
            chain: vec![vec![1], vec![2]],
            valid_from: "2021-01-01T00:00:00Z".into(),
            subject: ("o".into(), "cn".into()),
        });
        let v = signing_config(&with);
        assert_eq!(v["caUrls"][0]["url"], "https://fulcio.example.org");
        assert_eq!(
            v["tsaUrls"][0]["url"],
            "http://127.0.0.1:3000/api/v1/timestamp"
        );
        assert_eq!(v["tsaUrls"][0]["majorApiVersion"], 1);
        assert_eq!(v["tsaConfig"]["selector"], "ANY");
        let root = trusted_root(&with).expect("root");
        let tsa = &root["timestampAuthorities"][0];
        assert_eq!(tsa["validFor"]["start"], "2021-01-01T00:00:00Z");
        assert_eq!(tsa["certChain"]["certificates"][0]["rawBytes"], "AQ==");
        assert_eq!(tsa["certChain"]["certificates"][1]["rawBytes"], "Ag==");
    }
}
