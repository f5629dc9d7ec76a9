//! A Fulcio-like certificate authority, a CT log and a timestamp authority
//! of our own, for benchmarks that need full Sigstore bundles.
//!
//! [`TestCa::issue`] makes what Fulcio hands a signer: a short-lived leaf
//! with an email SAN, the OIDC issuer extensions (1.3.6.1.4.1.57264.1.1,
//! raw bytes; 1.3.6.1.4.1.57264.1.8, a DER UTF8String), key usage
//! digitalSignature, extended key usage codeSigning, and an embedded SCT
//! (extension 1.3.6.1.4.1.11129.2.4.2). The SCT is made the RFC 6962 way:
//! the precertificate's TBSCertificate is the final one without the SCT
//! list. rcgen writes custom extensions last and in order, so issuing the
//! same parameters (same serial, dates and key) first without the SCT list
//! gives exactly that TBSCertificate; the CT key signs it, and the leaf is
//! issued again with the list appended.

#![allow(dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType,
    SerialNumber,
};
use sha2::{Digest, Sha256};

/// OIDC issuer, deprecated form (raw bytes).
const ISSUER_V1: [u64; 9] = [1, 3, 6, 1, 4, 1, 57264, 1, 1];
/// OIDC issuer (DER UTF8String).
const ISSUER_V2: [u64; 9] = [1, 3, 6, 1, 4, 1, 57264, 1, 8];
/// Embedded SCT list (RFC 6962 §3.3).
const SCT_LIST: [u64; 10] = [1, 3, 6, 1, 4, 1, 11129, 2, 4, 2];

/// How long a leaf is valid (Fulcio's 10 minutes).
pub(crate) const LEAF_VALIDITY: Duration = Duration::from_secs(600);

/// A P-256 root CA and a P-256 CT log key.
pub(crate) struct TestCa {
    /// The CA certificate, DER.
    pub(crate) ca_der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
    /// SHA-256 of the CA's SubjectPublicKeyInfo (the SCT's issuer_key_hash).
    issuer_key_hash: [u8; 32],
    ct_key: EcdsaKeyPair,
    /// The CT log's SubjectPublicKeyInfo, DER.
    pub(crate) ct_spki: Vec<u8>,
    /// The CT log's ID: SHA-256 of its SubjectPublicKeyInfo.
    pub(crate) ct_log_id: [u8; 32],
}

fn offset(t: SystemTime) -> time::OffsetDateTime {
    let secs = t.duration_since(UNIX_EPOCH).unwrap().as_secs();
    time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap()).unwrap()
}

impl TestCa {
    /// A CA valid from `not_before` for a year.
    pub(crate) fn new(not_before: SystemTime) -> TestCa {
        let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "islet bench");
        dn.push(DnType::CommonName, "islet bench Fulcio-like CA");
        params.distinguished_name = dn;
        params.not_before = offset(not_before);
        params.not_after = offset(not_before + Duration::from_secs(365 * 86_400));
        params.serial_number = Some(SerialNumber::from(1u64));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_der = params.self_signed(&ca_key).unwrap().der().to_vec();
        let issuer_key_hash = Sha256::digest(ca_key.subject_public_key_info()).into();
        let issuer = Issuer::new(params, ca_key);

        let ct = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let ct_spki = ct.subject_public_key_info();
        let ct_key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &ct.serialize_der()).unwrap();
        TestCa {
            ca_der,
            issuer,
            issuer_key_hash,
            ct_log_id: Sha256::digest(&ct_spki).into(),
            ct_key,
            ct_spki,
        }
    }

    /// A leaf for `key` naming `email` and the OIDC `oidc_issuer`, valid
    /// [`LEAF_VALIDITY`] from `not_before`, with serial `serial` and an
    /// SCT of this CA's CT log dated `sct_time`.
    pub(crate) fn issue(
        &self,
        key: &KeyPair,
        email: &str,
        oidc_issuer: &str,
        serial: u64,
        not_before: SystemTime,
        sct_time: SystemTime,
    ) -> Vec<u8> {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.subject_alt_names = vec![SanType::Rfc822Name(email.try_into().unwrap())];
        params.not_before = offset(not_before);
        params.not_after = offset(not_before + LEAF_VALIDITY);
        params.serial_number = Some(SerialNumber::from(serial.wrapping_add(2)));
        params.is_ca = IsCa::NoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        params.custom_extensions = vec![
            CustomExtension::from_oid_content(&ISSUER_V1, oidc_issuer.as_bytes().to_vec()),
            CustomExtension::from_oid_content(&ISSUER_V2, der_tlv(0x0c, oidc_issuer.as_bytes())),
        ];
        let pre = params.signed_by(key, &self.issuer).unwrap();
        let tbs = first_element(pre.der());
        let millis =
            u64::try_from(sct_time.duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap();
        let sct = self.sct(tbs, millis);
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                &SCT_LIST,
                der_tlv(0x04, &sct),
            ));
        params.signed_by(key, &self.issuer).unwrap().der().to_vec()
    }

    /// A SignedCertificateTimestampList holding one v1 SCT over the
    /// precertificate `tbs` (RFC 6962 §3.2), no SCT extensions.
    fn sct(&self, tbs: &[u8], millis: u64) -> Vec<u8> {
        let mut signed = vec![0u8, 0u8]; // v1, certificate_timestamp
        signed.extend_from_slice(&millis.to_be_bytes());
        signed.extend_from_slice(&1u16.to_be_bytes()); // precert_entry
        signed.extend_from_slice(&self.issuer_key_hash);
        signed.extend_from_slice(&u32::try_from(tbs.len()).unwrap().to_be_bytes()[1..]);
        signed.extend_from_slice(tbs);
        signed.extend_from_slice(&0u16.to_be_bytes()); // no extensions
        let signature = self.ct_key.sign(&SystemRandom::new(), &signed).unwrap();
        let signature = signature.as_ref();
        let mut sct = vec![0u8]; // v1
        sct.extend_from_slice(&self.ct_log_id);
        sct.extend_from_slice(&millis.to_be_bytes());
        sct.extend_from_slice(&0u16.to_be_bytes()); // extensions
        sct.push(4); // sha256
        sct.push(3); // ecdsa
        sct.extend_from_slice(&u16::try_from(signature.len()).unwrap().to_be_bytes());
        sct.extend_from_slice(signature);
        let mut list = u16::try_from(sct.len() + 2).unwrap().to_be_bytes().to_vec();
        list.extend_from_slice(&u16::try_from(sct.len()).unwrap().to_be_bytes());
        list.extend_from_slice(&sct);
        list
    }
}

/// A DER element of tag `tag` holding `content`.
pub(crate) fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(u8::try_from(n).unwrap());
    } else {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | u8::try_from(bytes.len() - skip).unwrap());
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// Header length and content length of the DER element at the start of
/// `der`.
fn header(der: &[u8]) -> (usize, usize) {
    let first = der[1];
    if first < 0x80 {
        return (2, usize::from(first));
    }
    let n = usize::from(first & 0x7f);
    let len = der[2..2 + n]
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    (2 + n, len)
}

/// The first element inside the SEQUENCE `der` (a certificate's
/// TBSCertificate), with its header.
pub(crate) fn first_element(der: &[u8]) -> &[u8] {
    let (outer, _) = header(der);
    let inner = &der[outer..];
    let (h, len) = header(inner);
    &inner[..h + len]
}

/// A DER TimeStampReq (RFC 3161 §2.4.1) for the SHA-256 of `data`, with
/// certReq set, as Sigstore clients send.
pub(crate) fn timestamp_request(data: &[u8]) -> Vec<u8> {
    const SHA256_ALG: [u8; 15] = [
        0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
    ];
    let mut imprint = SHA256_ALG.to_vec();
    imprint.extend(der_tlv(0x04, &Sha256::digest(data)));
    let mut body = vec![0x02, 0x01, 0x01]; // version 1
    body.extend(der_tlv(0x30, &imprint));
    body.extend_from_slice(&[0x01, 0x01, 0xff]); // certReq TRUE
    der_tlv(0x30, &body)
}
