//! The DER replies: a granted `TimeStampResp` carrying a signed
//! `TimeStampToken` (spec §1.3, the shape of the sigstage replies), or a
//! rejection with a status string and one PKIFailureInfo bit.
//!
//! Granted reply:
//! ```text
//! TimeStampResp { status { 0 }, ContentInfo { id-signedData, [0] SignedData {
//!   3, { digestAlg }, { id-ct-TSTInfo, [0] OCTET STRING TSTInfo },
//!   [0] certificates (only when certReq),
//!   { SignerInfo { 1, { leaf issuer Name, leaf serial }, digestAlg,
//!       [0] { contentType, signingTime, messageDigest, signingCertificateV2 } (DER-sorted),
//!       ecdsa-with-SHAx, OCTET STRING signature } } } } }
//! ```

use std::time::Duration;

use der::asn1::{GeneralizedTime, ObjectIdentifier, UtcTime};

use crate::chain::Chain;
use crate::encode::{
    self, CONTEXT_0, CONTEXT_4, INTEGER, OCTET_STRING, SET, UTF8_STRING, sequence, set_of, tlv,
};
use crate::hash::HashAlg;
use crate::key::TsaKey;
use crate::oids;
use crate::request::Request;
use crate::serial::SerialNumber;

/// What a token is made of besides the request.
pub(crate) struct TokenInput<'a> {
    pub(crate) request: &'a Request,
    pub(crate) policy: &'a ObjectIdentifier,
    pub(crate) serial: &'a SerialNumber,
    /// genTime and signingTime, whole seconds since 1970.
    pub(crate) seconds: u64,
    /// TSTInfo accuracy in seconds; 0 omits the field.
    pub(crate) accuracy_seconds: u32,
    pub(crate) chain: &'a Chain,
    pub(crate) include_chain: bool,
    pub(crate) key: &'a TsaKey,
}

/// Why a granted reply could not be made.
#[derive(Debug)]
pub(crate) enum BuildError {
    /// A time could not be encoded (beyond year 9999).
    Time,
    /// aws-lc-rs failed to sign.
    Signing,
}

/// The DER of a granted `TimeStampResp`.
pub(crate) fn granted(input: &TokenInput<'_>) -> Result<Vec<u8>, BuildError> {
    let tst_info = tst_info(input)?;
    let token = signed_token(input, &tst_info)?;
    let status = sequence(&[&[INTEGER, 1, 0]]);
    Ok(sequence(&[&status, &token]))
}

/// The DER of a rejection `TimeStampResp` (status 2, no token).
pub(crate) fn rejection(status_string: &str, fail_bit: u8) -> Vec<u8> {
    let text = sequence(&[&tlv(UTF8_STRING, &[status_string.as_bytes()])]);
    let failure = encode::single_bit_string(fail_bit);
    let status = sequence(&[&[INTEGER, 1, 2], &text, &failure]);
    sequence(&[&status])
}

/// `TSTInfo` (RFC 3161 §2.4.2), fields in order, defaults omitted.
fn tst_info(input: &TokenInput<'_>) -> Result<Vec<u8>, BuildError> {
    let version = [INTEGER, 1, 1];
    let policy = encode::oid(input.policy);
    let serial = encode::unsigned_integer(input.serial.as_bytes());
    let gen_time = generalized_time(input.seconds)?;
    let accuracy = (input.accuracy_seconds > 0).then(|| {
        sequence(&[&encode::unsigned_integer(
            &input.accuracy_seconds.to_be_bytes(),
        )])
    });
    let nonce = input.request.nonce.as_ref().map(|n| tlv(INTEGER, &[n]));
    let tsa = tlv(CONTEXT_0, &[&tlv(CONTEXT_4, &[&input.chain.leaf.subject])]);
    let mut parts: Vec<&[u8]> = vec![
        &version,
        &policy,
        &input.request.imprint,
        &serial,
        &gen_time,
    ];
    if let Some(a) = &accuracy {
        parts.push(a);
    }
    if let Some(n) = &nonce {
        parts.push(n);
    }
    parts.push(&tsa);
    Ok(sequence(&parts))
}

/// The `ContentInfo` holding the SignedData over `tst_info`.
fn signed_token(input: &TokenInput<'_>, tst_info: &[u8]) -> Result<Vec<u8>, BuildError> {
    let key_type = input.key.key_type();
    let digest_alg = encode::algorithm(&key_type.digest().oid());
    let attrs = signed_attributes(input, tst_info)?;
    let signature = input.key.sign(&attrs).ok_or(BuildError::Signing)?;
    // Stored as [0] IMPLICIT: the same content under tag A0.
    let mut stored_attrs = attrs;
    stored_attrs[0] = CONTEXT_0;
    let leaf = &input.chain.leaf;
    let sid = sequence(&[&leaf.issuer, &leaf.serial]);
    let signer_info = sequence(&[
        &[INTEGER, 1, 1],
        &sid,
        &digest_alg,
        &stored_attrs,
        &encode::algorithm(&key_type.signature_oid()),
        &tlv(OCTET_STRING, &[&signature]),
    ]);
    let encap = sequence(&[
        &encode::oid(&oids::TST_INFO),
        &tlv(CONTEXT_0, &[&tlv(OCTET_STRING, &[tst_info])]),
    ]);
    let certificates = input.request.cert_req.then(|| {
        let certs = if input.include_chain {
            input.chain.ders.clone()
        } else {
            vec![leaf.der.clone()]
        };
        set_of(CONTEXT_0, certs)
    });
    let digest_algs = set_of(SET, vec![digest_alg.clone()]);
    let signer_infos = set_of(SET, vec![signer_info]);
    let mut parts: Vec<&[u8]> = vec![&[INTEGER, 1, 3], &digest_algs, &encap];
    if let Some(c) = &certificates {
        parts.push(c);
    }
    parts.push(&signer_infos);
    let signed_data = sequence(&parts);
    Ok(sequence(&[
        &encode::oid(&oids::SIGNED_DATA),
        &tlv(CONTEXT_0, &[&signed_data]),
    ]))
}

/// The signed attributes as a DER SET (tag 0x31, the form that is
/// signed), sorted by encoding: contentType, signingTime, messageDigest,
/// signingCertificateV2.
fn signed_attributes(input: &TokenInput<'_>, tst_info: &[u8]) -> Result<Vec<u8>, BuildError> {
    let digest = input.key.key_type().digest().digest(tst_info);
    let attribute = |oid: &ObjectIdentifier, value: &[u8]| {
        sequence(&[&encode::oid(oid), &set_of(SET, vec![value.to_vec()])])
    };
    let leaf = &input.chain.leaf;
    // ESSCertIDv2: hashAlgorithm omitted (DER default SHA-256).
    let cert_hash = HashAlg::Sha256.digest(&leaf.der);
    let issuer_serial = sequence(&[&sequence(&[&tlv(CONTEXT_4, &[&leaf.issuer])]), &leaf.serial]);
    let ess_cert_id = sequence(&[&tlv(OCTET_STRING, &[&cert_hash]), &issuer_serial]);
    let signing_certificate = sequence(&[&sequence(&[&ess_cert_id])]);
    let attrs = vec![
        attribute(&oids::ATTR_CONTENT_TYPE, &encode::oid(&oids::TST_INFO)),
        attribute(&oids::ATTR_SIGNING_TIME, &signing_time(input.seconds)?),
        attribute(&oids::ATTR_MESSAGE_DIGEST, &tlv(OCTET_STRING, &[&digest])),
        attribute(&oids::ATTR_SIGNING_CERTIFICATE_V2, &signing_certificate),
    ];
    Ok(set_of(SET, attrs))
}

/// GeneralizedTime `YYYYMMDDHHMMSSZ`.
fn generalized_time(seconds: u64) -> Result<Vec<u8>, BuildError> {
    GeneralizedTime::from_unix_duration(Duration::from_secs(seconds))
        .ok()
        .and_then(|t| encode::der_of(&t))
        .ok_or(BuildError::Time)
}

/// signingTime as RFC 5652 §11.3 wants it: UTCTime for 1950–2049,
/// GeneralizedTime otherwise.
fn signing_time(seconds: u64) -> Result<Vec<u8>, BuildError> {
    match UtcTime::from_unix_duration(Duration::from_secs(seconds)) {
        Ok(t) => encode::der_of(&t).ok_or(BuildError::Time),
        Err(_) => generalized_time(seconds),
    }
}
