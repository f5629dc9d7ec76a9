//! A new key and two-certificate chain for `islet init`: a self-signed
//! root CA and a timestamping leaf it signs, shaped as spec §1.4 wants.
//!
//! The root's private key is **discarded** once it has signed the leaf:
//! the authority only needs the leaf key, and a root key that never
//! exists on disk cannot leak. A new leaf (key rotation, expiry) then
//! means a new chain and a new trusted-root entry.

use std::time::{Duration, SystemTime};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, SignatureAlgorithm,
};
use time::OffsetDateTime;

use crate::chain;
use crate::error::Error;
use crate::key::{TsaKey, TsaKeyType};

/// DER of an ExtKeyUsageSyntax holding only id-kp-timeStamping
/// (`SEQUENCE { OID 1.3.6.1.5.5.7.3.8 }`), written as a custom extension
/// because rcgen always marks its own EKU extension non-critical.
const EKU_TIME_STAMPING_DER: [u8; 12] = [
    0x30, 0x0A, 0x06, 0x08, 0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08,
];

/// What to put in a new chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainParams {
    /// `O=` of both certificates (the site).
    pub organization: String,
    /// `CN=` of the leaf; the root is `CN=<common_name> Root`.
    pub common_name: String,
    /// Start of validity of both certificates (whole seconds are kept).
    pub not_before: SystemTime,
    /// Length of validity of both certificates.
    pub validity: Duration,
    /// The kind of both keys (the leaf key signs tokens).
    pub key_type: TsaKeyType,
}

/// A new chain and the leaf's key.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedChain {
    /// The leaf's private key, PKCS#8 PEM (`PRIVATE KEY`): write it 0600.
    pub key_pem: String,
    /// The chain, PEM, leaf then root.
    pub chain_pem: String,
    /// The root certificate, DER.
    pub root_der: Vec<u8>,
    /// The leaf certificate, DER.
    pub leaf_der: Vec<u8>,
}

impl std::fmt::Debug for IssuedChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedChain")
            .field("key_pem", &"<redacted>")
            .field("chain_pem", &self.chain_pem)
            .finish_non_exhaustive()
    }
}

/// Generates a root CA (self-signed; CA:TRUE; key usage keyCertSign and
/// cRLSign, critical) and a leaf it signs (key usage digitalSignature,
/// critical; no basicConstraints; extended key usage timeStamping only,
/// critical), then checks the result as [`crate::TimestampAuthority::new`] does.
pub fn issue_chain(params: &ChainParams) -> Result<IssuedChain, Error> {
    let (start, end) = validity(params)?;
    let alg: &'static SignatureAlgorithm = match params.key_type {
        TsaKeyType::P384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        TsaKeyType::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
    };
    let generate = |e: rcgen::Error| Error::Generate(e.to_string());
    let root_key = KeyPair::generate_for(alg).map_err(generate)?;
    let leaf_key = KeyPair::generate_for(alg).map_err(generate)?;

    let mut root = CertificateParams::default();
    root.distinguished_name = name(
        &params.organization,
        &format!("{} Root", params.common_name),
    );
    root.not_before = start;
    root.not_after = end;
    root.serial_number = Some(random_serial()?);
    root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    root.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let root_cert = root.self_signed(&root_key).map_err(generate)?;

    let mut leaf = CertificateParams::default();
    leaf.distinguished_name = name(&params.organization, &params.common_name);
    leaf.not_before = start;
    leaf.not_after = end;
    leaf.serial_number = Some(random_serial()?);
    leaf.is_ca = IsCa::NoCa;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let mut eku =
        CustomExtension::from_oid_content(&[2, 5, 29, 37], EKU_TIME_STAMPING_DER.to_vec());
    eku.set_criticality(true);
    leaf.custom_extensions = vec![eku];
    let issuer = Issuer::new(root, root_key);
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(generate)?;
    drop(issuer); // the root key ends here

    let key_pem = pem::encode(&pem::Pem::new("PRIVATE KEY", leaf_key.serialize_der()));
    let leaf_der = leaf_cert.der().to_vec();
    let root_der = root_cert.der().to_vec();
    let key = TsaKey::from_pem(key_pem.as_bytes())?;
    let checked = chain::check(vec![leaf_der.clone(), root_der.clone()], &key)?;
    Ok(IssuedChain {
        key_pem,
        chain_pem: checked.pem,
        root_der,
        leaf_der,
    })
}

/// `O=<organization>, CN=<common_name>`.
fn name(organization: &str, common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, organization);
    dn.push(DnType::CommonName, common_name);
    dn
}

/// 16 random octets, top bit clear (a positive serial of at most 16 octets).
fn random_serial() -> Result<rcgen::SerialNumber, Error> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Random)?;
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01; // never a leading zero octet
    Ok(rcgen::SerialNumber::from_slice(&bytes))
}

/// The validity period as rcgen's dates, checked.
fn validity(params: &ChainParams) -> Result<(OffsetDateTime, OffsetDateTime), Error> {
    let start = params
        .not_before
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| Error::Params("not_before is before 1970".into()))?
        .as_secs();
    if params.validity.as_secs() == 0 {
        return Err(Error::Params("validity must be at least one second".into()));
    }
    let end = start
        .checked_add(params.validity.as_secs())
        .ok_or_else(|| Error::Params("not_before + validity overflows".into()))?;
    let date = |secs: u64| {
        i64::try_from(secs)
            .ok()
            .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
            .filter(|d| d.year() <= 9999)
            .ok_or_else(|| Error::Params(format!("{secs} s since 1970 is past year 9999")))
    };
    Ok((date(start)?, date(end)?))
}
