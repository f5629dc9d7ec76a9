//! A Sigstore trusted root (`dev.sigstore.trustroot.v1.TrustedRoot`,
//! protojson): its transparency logs, certificate authorities, timestamp
//! authorities and certificate-transparency logs.

use std::time::{SystemTime, UNIX_EPOCH};

use islet_tlog::note::NoteVerifier;
use serde::Deserialize;

use super::bundle::b64;

/// Largest trusted root read.
pub const MAX_TRUSTED_ROOT_BYTES: u64 = 16 * 1024 * 1024;

/// The trusted-root media types read (the first is the one go and py
/// accept; the second is read too).
pub const MEDIA_TYPES: [&str; 2] = [
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    "application/vnd.dev.sigstore.trustedroot.v0.2+json",
];

/// Most entries in each list of a trusted root (`tlogs`, `ctlogs`,
/// `certificateAuthorities`, `timestampAuthorities`).
pub const MAX_ROOT_ENTRIES: usize = 256;

/// Most certificates in one authority's chain.
pub const MAX_CHAIN_LENGTH: usize = 10;

/// Largest certificate read (trusted roots, bundles, timestamps).
pub const MAX_CERTIFICATE_BYTES: usize = 32 * 1024;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRoot {
    media_type: String,
    #[serde(default)]
    tlogs: Vec<RawTlog>,
    #[serde(default)]
    certificate_authorities: Vec<RawAuthority>,
    #[serde(default)]
    timestamp_authorities: Vec<RawAuthority>,
    #[serde(default)]
    ctlogs: Vec<RawTlog>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAuthority {
    #[serde(default)]
    uri: String,
    cert_chain: RawChain,
    #[serde(default)]
    valid_for: Option<RawValidity>,
}

#[derive(Debug, Deserialize)]
struct RawChain {
    #[serde(default)]
    certificates: Vec<RawCert>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCert {
    raw_bytes: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTlog {
    base_url: String,
    #[serde(default)]
    hash_algorithm: Option<String>,
    public_key: RawKey,
    log_id: RawLogId,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawKey {
    raw_bytes: String,
    #[serde(default)]
    key_details: String,
    #[serde(default)]
    valid_for: Option<RawValidity>,
}

#[derive(Debug, Deserialize)]
struct RawValidity {
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    end: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    key_id: String,
}

/// One transparency log of the trusted root.
#[derive(Debug, Clone)]
pub struct TrustedLog {
    /// `baseUrl`.
    pub base_url: String,
    /// Its host: the checkpoint origin of a Rekor v2 log, the key name of
    /// a Rekor v1 one.
    pub host: String,
    /// `logId.keyId`: how entries name the log.
    pub log_id: Vec<u8>,
    /// The key as a note verifier named by the host.
    pub key: NoteVerifier,
    /// `validFor.start`.
    pub valid_from: Option<SystemTime>,
    /// `validFor.end`.
    pub valid_until: Option<SystemTime>,
}

/// A certificate authority or a timestamp authority of the trusted root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateAuthority {
    /// `uri`: the authority's URL (go counts one timestamp per TSA URI).
    pub uri: String,
    /// `certChain.certificates`, DER, in the order listed. For a
    /// certificate authority: intermediates …, trust anchor last; for a
    /// timestamp authority: its leaf first, trust anchor last.
    pub chain: Vec<Vec<u8>>,
    /// `validFor.start` (the Unix epoch when absent: unbounded).
    pub valid_from: SystemTime,
    /// `validFor.end`, when bounded.
    pub valid_until: Option<SystemTime>,
}

impl CertificateAuthority {
    /// Whether `t` is within `validFor` (both ends included).
    pub fn valid_at(&self, t: SystemTime) -> bool {
        self.valid_from <= t && self.valid_until.is_none_or(|e| t <= e)
    }
}

/// A certificate-transparency log of the trusted root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtLog {
    /// `baseUrl`, for messages.
    pub base_url: String,
    /// `logId.keyId`: how SCTs name the log.
    pub log_id: Vec<u8>,
    /// `publicKey.rawBytes`: a SubjectPublicKeyInfo DER (or, for
    /// `PKCS1_RSA_PKCS1V5`, a PKCS#1 RSAPublicKey DER).
    pub key: Vec<u8>,
    /// `publicKey.keyDetails`.
    pub key_details: String,
    /// `publicKey.validFor.start` (required).
    pub valid_from: SystemTime,
    /// `publicKey.validFor.end`.
    pub valid_until: Option<SystemTime>,
}

impl CtLog {
    /// Whether `t` is within the key's `validFor` (both ends included).
    pub fn valid_at(&self, t: SystemTime) -> bool {
        self.valid_from <= t && self.valid_until.is_none_or(|e| t <= e)
    }
}

/// The logs and authorities of a trusted root.
#[derive(Debug, Clone)]
pub struct TrustedRoot {
    /// Every log whose key islet can use.
    pub logs: Vec<TrustedLog>,
    /// Logs left out, with the reason (an RSA key, a bad URL).
    pub skipped: Vec<String>,
    /// `certificateAuthorities`: the CAs that issue signing certificates.
    pub certificate_authorities: Vec<CertificateAuthority>,
    /// `timestampAuthorities`.
    pub timestamp_authorities: Vec<CertificateAuthority>,
    /// `ctlogs`.
    pub ct_logs: Vec<CtLog>,
}

impl TrustedRoot {
    /// Parses a trusted root (one of [`MEDIA_TYPES`]). Every tlog and
    /// ctlog key needs `validFor.start`; every authority a chain of 1 to
    /// [`MAX_CHAIN_LENGTH`] DER certificates. Tlogs whose key islet cannot
    /// use are listed in `skipped`.
    ///
    /// # Errors
    /// A message naming the entry and what is wrong with it.
    pub fn parse(bytes: &[u8]) -> Result<TrustedRoot, String> {
        let raw: RawRoot =
            serde_json::from_slice(bytes).map_err(|e| format!("not a trusted root: {e}"))?;
        if !MEDIA_TYPES.contains(&raw.media_type.as_str()) {
            return Err(format!(
                "media type {:.80?} is not a Sigstore trusted root v0.1",
                raw.media_type
            ));
        }
        for (name, len) in [
            ("tlogs", raw.tlogs.len()),
            ("ctlogs", raw.ctlogs.len()),
            ("certificateAuthorities", raw.certificate_authorities.len()),
            ("timestampAuthorities", raw.timestamp_authorities.len()),
        ] {
            if len > MAX_ROOT_ENTRIES {
                return Err(format!(
                    "{name} has {len} entries, more than the {MAX_ROOT_ENTRIES} allowed"
                ));
            }
        }
        let mut logs = Vec::new();
        let mut skipped = Vec::new();
        for (i, t) in raw.tlogs.iter().enumerate() {
            required_start(t, &format!("tlogs[{i}]"))?;
            match TrustedLog::from_raw(t) {
                Ok(l) => logs.push(l),
                Err(e) => skipped.push(format!("{}: {e}", t.base_url)),
            }
        }
        let ct_logs = raw
            .ctlogs
            .iter()
            .enumerate()
            .map(|(i, t)| CtLog::from_raw(t, &format!("ctlogs[{i}] ({})", t.base_url)))
            .collect::<Result<_, _>>()?;
        let authorities = |list: &[RawAuthority], name: &str| {
            list.iter()
                .enumerate()
                .map(|(i, a)| {
                    CertificateAuthority::from_raw(a, &format!("{name}[{i}] ({})", a.uri))
                })
                .collect::<Result<Vec<_>, String>>()
        };
        Ok(TrustedRoot {
            logs,
            skipped,
            certificate_authorities: authorities(
                &raw.certificate_authorities,
                "certificateAuthorities",
            )?,
            timestamp_authorities: authorities(&raw.timestamp_authorities, "timestampAuthorities")?,
            ct_logs,
        })
    }

    /// The log whose `logId.keyId` is `log_id` (sigstore-go's lookup).
    pub fn find(&self, log_id: &[u8]) -> Option<&TrustedLog> {
        self.logs.iter().find(|l| l.log_id == log_id)
    }
}

fn time(s: &Option<String>, field: &str) -> Result<Option<SystemTime>, String> {
    s.as_deref()
        .map(|t| humantime::parse_rfc3339_weak(t).map_err(|e| format!("{field} {t:?}: {e}")))
        .transpose()
}

/// `publicKey.validFor.start` of a tlog or ctlog entry, required (go and
/// py refuse a root without it).
fn required_start(t: &RawTlog, entry: &str) -> Result<SystemTime, String> {
    let start = t
        .public_key
        .valid_for
        .as_ref()
        .and_then(|v| v.start.clone());
    match time(&start, "publicKey.validFor.start") {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(format!("{entry}: publicKey.validFor.start is missing")),
        Err(e) => Err(format!("{entry}: {e}")),
    }
}

impl CtLog {
    fn from_raw(t: &RawTlog, entry: &str) -> Result<CtLog, String> {
        let valid_from = required_start(t, entry)?;
        if let Some(h) = &t.hash_algorithm
            && h != "SHA2_256"
        {
            return Err(format!("{entry}: hashAlgorithm {h} (only SHA2_256 logs)"));
        }
        let end = t.public_key.valid_for.as_ref().and_then(|v| v.end.clone());
        Ok(CtLog {
            base_url: t.base_url.clone(),
            log_id: b64(&t.log_id.key_id, "logId.keyId").map_err(|e| format!("{entry}: {e}"))?,
            key: b64(&t.public_key.raw_bytes, "publicKey.rawBytes")
                .map_err(|e| format!("{entry}: {e}"))?,
            key_details: t.public_key.key_details.clone(),
            valid_from,
            valid_until: time(&end, "publicKey.validFor.end")
                .map_err(|e| format!("{entry}: {e}"))?,
        })
    }
}

impl CertificateAuthority {
    fn from_raw(a: &RawAuthority, entry: &str) -> Result<CertificateAuthority, String> {
        let certs = &a.cert_chain.certificates;
        if certs.is_empty() || certs.len() > MAX_CHAIN_LENGTH {
            return Err(format!(
                "{entry}: the chain has {} certificates (1 to {MAX_CHAIN_LENGTH} allowed)",
                certs.len()
            ));
        }
        let mut chain = Vec::with_capacity(certs.len());
        for (j, c) in certs.iter().enumerate() {
            let der = b64(&c.raw_bytes, "certChain.certificates.rawBytes")
                .map_err(|e| format!("{entry}: {e}"))?;
            crate::pki::Cert::parse(&der).map_err(|e| format!("{entry}: certificate {j}: {e}"))?;
            chain.push(der);
        }
        let validity = a.valid_for.as_ref();
        let start = time(&validity.and_then(|v| v.start.clone()), "validFor.start")
            .map_err(|e| format!("{entry}: {e}"))?;
        let end = time(&validity.and_then(|v| v.end.clone()), "validFor.end")
            .map_err(|e| format!("{entry}: {e}"))?;
        Ok(CertificateAuthority {
            uri: a.uri.clone(),
            chain,
            valid_from: start.unwrap_or(UNIX_EPOCH),
            valid_until: end,
        })
    }
}

impl TrustedLog {
    fn from_raw(t: &RawTlog) -> Result<TrustedLog, String> {
        if let Some(h) = &t.hash_algorithm
            && h != "SHA2_256"
        {
            return Err(format!("hashAlgorithm {h} (only SHA2_256 logs)"));
        }
        let url = url::Url::parse(&t.base_url).map_err(|e| format!("baseUrl: {e}"))?;
        let host = url
            .host_str()
            .ok_or("baseUrl has no host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let spki = b64(&t.public_key.raw_bytes, "publicKey.rawBytes")?;
        let key = NoteVerifier::from_public_key(&host, &spki)
            .map_err(|e| format!("publicKey ({}): {e}", t.public_key.key_details))?;
        let validity = t.public_key.valid_for.as_ref();
        Ok(TrustedLog {
            base_url: t.base_url.clone(),
            host,
            log_id: b64(&t.log_id.key_id, "logId.keyId")?,
            key,
            valid_from: time(&validity.and_then(|v| v.start.clone()), "validFor.start")?,
            valid_until: time(&validity.and_then(|v| v.end.clone()), "validFor.end")?,
        })
    }

    /// Whether the key was valid at some time in `[from, until]`.
    pub fn valid_during(&self, from: SystemTime, until: SystemTime) -> bool {
        self.valid_from.is_none_or(|s| s <= until) && self.valid_until.is_none_or(|e| from <= e)
    }
}
