//! The transparency logs of a Sigstore trusted root
//! (`dev.sigstore.trustroot.v1.TrustedRoot`, protojson).

use std::time::SystemTime;

use islet_tlog::note::NoteVerifier;
use serde::Deserialize;

use super::bundle::b64;

/// Largest trusted root read.
pub const MAX_TRUSTED_ROOT_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRoot {
    media_type: String,
    #[serde(default)]
    tlogs: Vec<RawTlog>,
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

/// The logs of a trusted root.
#[derive(Debug, Clone)]
pub struct TrustedRoot {
    /// Every log whose key islet can use.
    pub logs: Vec<TrustedLog>,
    /// Logs left out, with the reason (an RSA key, a bad URL).
    pub skipped: Vec<String>,
}

impl TrustedRoot {
    /// Parses a trusted root (media type
    /// `application/vnd.dev.sigstore.trustedroot+json;version=0.1` or 0.2).
    ///
    /// # Errors
    /// A message naming what is wrong.
    pub fn parse(bytes: &[u8]) -> Result<TrustedRoot, String> {
        let raw: RawRoot =
            serde_json::from_slice(bytes).map_err(|e| format!("not a trusted root: {e}"))?;
        if !raw
            .media_type
            .starts_with("application/vnd.dev.sigstore.trustedroot")
        {
            return Err(format!(
                "media type {:.80?} is not a Sigstore trusted root",
                raw.media_type
            ));
        }
        let mut logs = Vec::new();
        let mut skipped = Vec::new();
        for t in raw.tlogs {
            match TrustedLog::from_raw(&t) {
                Ok(l) => logs.push(l),
                Err(e) => skipped.push(format!("{}: {e}", t.base_url)),
            }
        }
        Ok(TrustedRoot { logs, skipped })
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
