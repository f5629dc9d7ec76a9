//! The signing certificate: it must chain to a certificate authority of
//! the trusted root at every verified time (the hybrid model sigstore-go
//! uses), and be fit for code signing.
//!
//! For each time `t`: the leaf is valid at `t`; some
//! `certificateAuthorities` entry is valid at `t` (its `validFor`, both
//! ends included) and a path leads from the leaf to its anchor (the last
//! certificate) through its other certificates, every certificate valid at
//! `t`; the leaf is not a CA,
//! has the codeSigning extended key usage and the digitalSignature key
//! usage; an intermediate's extended key usage, when present, allows code
//! signing; no certificate has an unknown critical extension. Certificates
//! the bundle carries besides the leaf are never used.

use std::time::SystemTime;

use crate::failure::{Check, Failure};
use crate::pki::{Cert, Purpose, check_leaf_time, check_path, rfc3339};
use crate::trusted_root::TrustedRoot;

/// Verifies the signing certificate `leaf_der` at each of `times`.
///
/// Returns the DER of the certificate that issued the leaf (in the path
/// that verified at the first time): the issuer
/// [`crate::sct::verify_scts`] needs.
///
/// # Errors
/// [`Check::Certificate`]: no time to check at, a time outside the leaf's
/// validity, no authority valid at a time, or no authority's chain that
/// completes a valid path then (each authority's reason is given).
pub fn verify_certificate(
    root: &TrustedRoot,
    leaf_der: &[u8],
    times: &[SystemTime],
) -> Result<Vec<u8>, Failure> {
    let fail = |r: String| Failure::new(Check::Certificate, r);
    let leaf = Cert::parse(leaf_der).map_err(|e| fail(format!("the signing certificate: {e}")))?;
    if times.is_empty() {
        return Err(fail(
            "there is no verified time to check the certificate at".into(),
        ));
    }
    for &t in times {
        check_leaf_time(&leaf, t).map_err(fail)?;
    }
    let mut issuer = None;
    for &t in times {
        let mut reasons = Vec::new();
        let mut found = None;
        for ca in root
            .certificate_authorities
            .iter()
            .filter(|ca| ca.valid_at(t))
        {
            let chain = ca
                .chain
                .iter()
                .map(|c| Cert::parse(c))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| fail(format!("the authority {}: {e}", ca.uri)))?;
            match check_path(&leaf, &chain, t, Purpose::CodeSigning) {
                Ok(i) => {
                    found = ca.chain.get(i).cloned();
                    break;
                }
                Err(e) => reasons.push(format!("{}: {e}", ca.uri)),
            }
        }
        match found {
            Some(der) => {
                issuer.get_or_insert(der);
            }
            None if reasons.is_empty() => {
                return Err(fail(format!(
                    "no certificate authority of the trusted root is valid at {}",
                    rfc3339(t)
                )));
            }
            None => {
                return Err(fail(format!(
                    "the certificate does not chain to a certificate authority of the trusted root at {}: {}",
                    rfc3339(t),
                    reasons.join("; ")
                )));
            }
        }
    }
    issuer.ok_or_else(|| fail("no certificate authority verified".into()))
}
