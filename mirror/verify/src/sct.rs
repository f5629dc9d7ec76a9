//! Signed certificate timestamps (RFC 6962 §3.2) embedded in the signing
//! certificate, checked against the CT logs of the trusted root.
//!
//! Each SCT of the list in extension 1.3.6.1.4.1.11129.2.4.2 is for a
//! precertificate: the log signed version ‖ type ‖ timestamp ‖ entry type
//! (precert) ‖ SHA-256 of the issuer's SubjectPublicKeyInfo ‖ the
//! TBSCertificate without the SCT extension ‖ the SCT's extensions. An SCT
//! counts when its log is in the trusted root, the key was valid at the
//! SCT's timestamp (`validFor`, both ends included) and the signature
//! verifies; each log counts once.

use std::time::{Duration, UNIX_EPOCH};

use const_oid::ObjectIdentifier;
use der::asn1::OctetString;
use der::{Decode, Encode};
use sha2::{Digest, Sha256};

use crate::failure::{Check, Failure};
use crate::pki::{Cert, Hash, Key, rfc3339};
use crate::trusted_root::{CtLog, TrustedRoot};

/// Most SCTs read from one certificate.
pub const MAX_SCTS: usize = 32;

/// The SCT list extension (RFC 6962 §3.3).
const SCT_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");

/// Verifies the SCTs of `leaf_der`, issued by `issuer_der` (the chain
/// certificate [`crate::certificate::verify_certificate`] returns), and
/// returns how many distinct CT logs of `root` signed one (at least 1).
///
/// # Errors
/// [`Check::Sct`]: the certificate has no SCT list, the list is malformed
/// or longer than [`MAX_SCTS`], or no SCT verifies (each one's reason is
/// given).
pub fn verify_scts(
    root: &TrustedRoot,
    leaf_der: &[u8],
    issuer_der: &[u8],
) -> Result<usize, Failure> {
    let fail = |r: String| Failure::new(Check::Sct, r);
    let leaf = Cert::parse(leaf_der).map_err(|e| fail(format!("the signing certificate: {e}")))?;
    let issuer = Cert::parse(issuer_der).map_err(|e| fail(format!("the issuer: {e}")))?;
    let tbs = &leaf.cert.tbs_certificate;
    let exts = tbs.extensions.as_deref().unwrap_or(&[]);
    let mut lists = exts.iter().filter(|e| e.extn_id == SCT_LIST);
    let ext = match (lists.next(), lists.next()) {
        (Some(e), None) => e,
        (None, _) => return Err(fail("the certificate has no SCT list extension".into())),
        (Some(_), Some(_)) => {
            return Err(fail("the certificate has two SCT list extensions".into()));
        }
    };
    let list = OctetString::from_der(ext.extn_value.as_bytes())
        .map_err(|e| fail(format!("the SCT list is not an OCTET STRING: {e}")))?;
    let scts = parse_list(list.as_bytes()).map_err(fail)?;

    // The precertificate's TBSCertificate: the same without the SCT list.
    let mut pre = tbs.clone();
    pre.extensions = pre.extensions.map(|v| {
        v.into_iter()
            .filter(|e| e.extn_id != SCT_LIST)
            .collect::<Vec<_>>()
    });
    if pre.extensions.as_ref().is_some_and(Vec::is_empty) {
        pre.extensions = None;
    }
    let pre = pre
        .to_der()
        .map_err(|e| fail(format!("the TBSCertificate does not encode: {e}")))?;
    let issuer_spki = issuer
        .cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| fail(format!("the issuer's key does not encode: {e}")))?;
    let issuer_key_hash = Sha256::digest(&issuer_spki);

    let mut logs: Vec<&[u8]> = Vec::new();
    let mut reasons = Vec::new();
    for (i, sct) in scts.iter().enumerate() {
        match check_sct(root, sct, &issuer_key_hash, &pre) {
            Ok(log) => {
                if !logs.contains(&log.log_id.as_slice()) {
                    logs.push(&log.log_id);
                }
            }
            Err(e) => reasons.push(format!("SCT {i}: {e}")),
        }
    }
    if logs.is_empty() {
        return Err(fail(if reasons.is_empty() {
            "the SCT list is empty".into()
        } else {
            format!("no SCT verifies: {}", reasons.join("; "))
        }));
    }
    Ok(logs.len())
}

/// One SCT as the TLS encoding gives it.
struct Sct<'a> {
    version: u8,
    log_id: &'a [u8],
    timestamp: u64,
    extensions: &'a [u8],
    hash: u8,
    signature_algorithm: u8,
    signature: &'a [u8],
}

/// A cursor over TLS-encoded bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.0.len() {
            return Err("the SCT list is truncated".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, String> {
        let [b] = <[u8; 1]>::try_from(self.take(1)?).map_err(|_| "truncated")?;
        Ok(b)
    }

    fn u16(&mut self) -> Result<usize, String> {
        let b = <[u8; 2]>::try_from(self.take(2)?).map_err(|_| "truncated")?;
        Ok(usize::from(u16::from_be_bytes(b)))
    }

    fn u64(&mut self) -> Result<u64, String> {
        let b = <[u8; 8]>::try_from(self.take(8)?).map_err(|_| "truncated")?;
        Ok(u64::from_be_bytes(b))
    }

    fn vec16(&mut self) -> Result<&'a [u8], String> {
        let n = self.u16()?;
        self.take(n)
    }
}

fn parse_list(bytes: &[u8]) -> Result<Vec<Sct<'_>>, String> {
    let mut outer = Reader(bytes);
    let mut list = Reader(outer.vec16()?);
    if !outer.0.is_empty() {
        return Err("the SCT list has trailing bytes".into());
    }
    let mut scts = Vec::new();
    while !list.0.is_empty() {
        if scts.len() == MAX_SCTS {
            return Err(format!("the SCT list has more than {MAX_SCTS} SCTs"));
        }
        let mut r = Reader(list.vec16()?);
        let sct = Sct {
            version: r.u8()?,
            log_id: r.take(32)?,
            timestamp: r.u64()?,
            extensions: r.vec16()?,
            hash: r.u8()?,
            signature_algorithm: r.u8()?,
            signature: r.vec16()?,
        };
        if !r.0.is_empty() {
            return Err("an SCT has trailing bytes".into());
        }
        scts.push(sct);
    }
    Ok(scts)
}

/// The key of a CT log: SPKI, or PKCS#1 for `PKCS1_RSA_PKCS1V5`.
fn log_key(log: &CtLog) -> Result<Key, String> {
    if log.key_details.starts_with("PKCS1_RSA") {
        Ok(Key::Rsa(log.key.clone()))
    } else {
        Key::from_spki_der(&log.key)
    }
}

fn check_sct<'r>(
    root: &'r TrustedRoot,
    sct: &Sct<'_>,
    issuer_key_hash: &[u8],
    pre: &[u8],
) -> Result<&'r CtLog, String> {
    if sct.version != 0 {
        return Err(format!("version {} (only v1)", sct.version));
    }
    let log = root
        .ct_logs
        .iter()
        .find(|l| l.log_id == sct.log_id)
        .ok_or_else(|| {
            format!(
                "no CT log of the trusted root has log ID {}",
                hex::encode(sct.log_id)
            )
        })?;
    let time = UNIX_EPOCH
        .checked_add(Duration::from_millis(sct.timestamp))
        .ok_or("its timestamp is out of range")?;
    if !log.valid_at(time) {
        return Err(format!(
            "its timestamp {} is outside the validity of {}'s key ({} to {})",
            rfc3339(time),
            log.base_url,
            rfc3339(log.valid_from),
            log.valid_until.map_or("(no end)".into(), rfc3339)
        ));
    }
    let hash = match sct.hash {
        4 => Hash::Sha256,
        5 => Hash::Sha384,
        6 => Hash::Sha512,
        h => return Err(format!("hash algorithm {h} is not supported")),
    };
    let key = log_key(log).map_err(|e| format!("the key of {}: {e}", log.base_url))?;
    match (sct.signature_algorithm, key.is_ec()) {
        (3, true) | (1, false) => {}
        (a, _) => {
            return Err(format!(
                "signature algorithm {a} does not fit the log's key"
            ));
        }
    }
    let tbs_len = u32::try_from(pre.len())
        .ok()
        .filter(|n| *n < 1 << 24)
        .ok_or("the TBSCertificate is too long for an SCT")?;
    let ext_len = u16::try_from(sct.extensions.len()).map_err(|_| "extensions too long")?;
    let mut signed = Vec::with_capacity(pre.len() + 64 + sct.extensions.len());
    signed.push(0); // sct_version v1
    signed.push(0); // signature_type certificate_timestamp
    signed.extend_from_slice(&sct.timestamp.to_be_bytes());
    signed.extend_from_slice(&1u16.to_be_bytes()); // entry_type precert_entry
    signed.extend_from_slice(issuer_key_hash);
    signed.extend_from_slice(&tbs_len.to_be_bytes()[1..]);
    signed.extend_from_slice(pre);
    signed.extend_from_slice(&ext_len.to_be_bytes());
    signed.extend_from_slice(sct.extensions);
    key.verify(hash, &signed, sct.signature)
        .map_err(|e| format!("{}: {e}", log.base_url))?;
    Ok(log)
}
