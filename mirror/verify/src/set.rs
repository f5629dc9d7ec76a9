//! Rekor v1 signed entry timestamps (`inclusionPromise.signedEntryTimestamp`,
//! spec §3.3 step 2): the log's ECDSA signature over the RFC 8785 JSON of
//! `{body, integratedTime, logID, logIndex}`. A verified SET makes the
//! entry's integrated time a verified time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use islet_tlog::note::PublicKey;

use crate::MAX_TIME_SECONDS;
use crate::bundle::TlogEntry;
use crate::failure::{Check, Failure};
use crate::trusted_root::TrustedLog;

/// The bytes a SET signs: RFC 8785 JSON of the entry's body (standard
/// base64), integrated time, log ID (lowercase hex) and global log index.
///
/// # Errors
/// When the JSON cannot be canonicalized (never for these values).
pub fn payload(entry: &TlogEntry) -> Result<Vec<u8>, Failure> {
    let value = serde_json::json!({
        "body": STANDARD.encode(&entry.body),
        "integratedTime": entry.integrated_time,
        "logID": hex::encode(&entry.log_id),
        "logIndex": entry.log_index,
    });
    serde_json_canonicalizer::to_vec(&value).map_err(|e| {
        Failure::new(
            Check::InclusionPromise,
            format!("the SET payload does not canonicalize: {e}"),
        )
    })
}

/// Verifies the entry's SET with the log's key and returns the integrated
/// time it vouches for; `Ok(None)` when the entry has no SET.
///
/// # Errors
/// [`Check::InclusionPromise`]: an integrated time of 0 or past
/// 9999-12-31, a key that is not ECDSA P-256, a signature that does not
/// verify, or an integrated time outside the key's `validFor`.
pub fn verify(log: &TrustedLog, entry: &TlogEntry) -> Result<Option<SystemTime>, Failure> {
    let Some(set) = &entry.inclusion_promise else {
        return Ok(None);
    };
    let fail = |r: String| Failure::new(Check::InclusionPromise, r);
    if entry.integrated_time == 0 {
        return Err(fail("the entry has a SET but no integrated time".into()));
    }
    let time = Some(entry.integrated_time)
        .filter(|t| *t <= MAX_TIME_SECONDS)
        .and_then(|t| UNIX_EPOCH.checked_add(Duration::from_secs(t)))
        .ok_or_else(|| {
            Failure::new(
                Check::Bundle,
                format!(
                    "integratedTime {} is past 9999-12-31",
                    entry.integrated_time
                ),
            )
        })?;
    let PublicKey::EcdsaP256 { point, .. } = log.key.public_key() else {
        return Err(fail(format!(
            "the key of {} is not ECDSA P-256: its SETs cannot be verified",
            log.base_url
        )));
    };
    let message = payload(entry)?;
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point)
        .verify(&message, set)
        .map_err(|_| {
            fail(format!(
                "the signed entry timestamp does not verify with the key of {}",
                log.base_url
            ))
        })?;
    if !log.valid_during(time, time) {
        return Err(Failure::new(
            Check::KeyValidity,
            format!(
                "the key of {} was not valid at the SET's integrated time {}",
                log.base_url,
                crate::rfc3339(time)
            ),
        ));
    }
    Ok(Some(time))
}
