//! The authority's certificate chain (leaf first, root last) and the
//! checks the upstream timestamp-authority runs before it starts
//! (spec §1.4): at least two certificates, each signed by the next, every
//! certificate after the leaf a CA, the leaf not a CA, the leaf's extended
//! key usage critical and exactly timeStamping, its key usage at most
//! digitalSignature/nonRepudiation, the CAs' extended key usage absent or
//! allowing timeStamping, and the signing key equal to the leaf's key.

use std::time::SystemTime;

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA384_ASN1, ECDSA_P384_SHA256_ASN1, ECDSA_P384_SHA384_ASN1,
    EcdsaVerificationAlgorithm, UnparsedPublicKey,
};
use der::Decode;
use der::asn1::ObjectIdentifier;
use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};

use crate::error::Error;
use crate::key::{TsaKey, TsaKeyType};
use crate::oids;
use crate::rawcert::RawCert;

/// The leaf's parts the reply copies, verbatim.
#[derive(Clone, Debug)]
pub(crate) struct LeafParts {
    /// The leaf certificate DER.
    pub(crate) der: Vec<u8>,
    /// The leaf's issuer Name, whole TLV as in the certificate.
    pub(crate) issuer: Vec<u8>,
    /// The leaf's subject Name, whole TLV as in the certificate.
    pub(crate) subject: Vec<u8>,
    /// The leaf's serialNumber INTEGER, whole TLV as in the certificate.
    pub(crate) serial: Vec<u8>,
}

/// A checked chain.
#[derive(Clone, Debug)]
pub(crate) struct Chain {
    /// Every certificate's DER, leaf first.
    pub(crate) ders: Vec<Vec<u8>>,
    /// The chain as PEM, leaf first.
    pub(crate) pem: String,
    /// The leaf's parts.
    pub(crate) leaf: LeafParts,
    /// The latest notBefore of the chain.
    pub(crate) not_before: SystemTime,
    /// The earliest notAfter of the chain.
    pub(crate) not_after: SystemTime,
}

/// Reads the PEM chain and runs every check of spec §1.4 against `key`.
pub(crate) fn load(chain_pem: &[u8], key: &TsaKey) -> Result<Chain, Error> {
    let blocks = pem::parse_many(chain_pem).map_err(|e| Error::ChainPem(e.to_string()))?;
    let mut ders = Vec::with_capacity(blocks.len());
    for block in blocks {
        if block.tag() != "CERTIFICATE" {
            return Err(Error::ChainPem(format!(
                "unexpected PEM block \"{}\" (only CERTIFICATE blocks belong in the chain)",
                block.tag()
            )));
        }
        ders.push(block.into_contents());
    }
    check(ders, key)
}

/// Runs the checks on DER certificates, leaf first.
pub(crate) fn check(ders: Vec<Vec<u8>>, key: &TsaKey) -> Result<Chain, Error> {
    if ders.len() < 2 {
        return Err(Error::ChainTooShort { count: ders.len() });
    }
    let mut certs = Vec::with_capacity(ders.len());
    let mut raws = Vec::with_capacity(ders.len());
    for (index, der) in ders.iter().enumerate() {
        let cert = Certificate::from_der(der).map_err(|e| Error::CertificateParse {
            index,
            detail: e.to_string(),
        })?;
        let raw = RawCert::parse(der).ok_or_else(|| Error::CertificateParse {
            index,
            detail: "not a DER certificate".into(),
        })?;
        certs.push(cert);
        raws.push(raw);
    }
    for index in 0..certs.len() - 1 {
        check_issued_by(
            index,
            &certs[index],
            &raws[index],
            &certs[index + 1],
            &raws[index + 1],
        )?;
    }
    for (index, cert) in certs.iter().enumerate() {
        let ext = Extensions::read(index, cert)?;
        if index == 0 {
            check_leaf(&ext)?;
        } else {
            check_ca(index, &ext)?;
        }
    }
    check_key(&certs[0], key)?;
    let (not_before, not_after) = common_validity(&certs)?;
    let leaf = LeafParts {
        der: ders[0].clone(),
        issuer: raws[0].issuer.to_vec(),
        subject: raws[0].subject.to_vec(),
        serial: raws[0].serial.to_vec(),
    };
    let pem = ders
        .iter()
        .map(|d| pem::encode(&pem::Pem::new("CERTIFICATE", d.clone())))
        .collect::<String>();
    Ok(Chain {
        ders,
        pem,
        leaf,
        not_before,
        not_after,
    })
}

/// Certificate `index` names certificate `index + 1` as issuer and carries
/// its signature.
fn check_issued_by(
    index: usize,
    cert: &Certificate,
    raw: &RawCert<'_>,
    issuer: &Certificate,
    issuer_raw: &RawCert<'_>,
) -> Result<(), Error> {
    if raw.issuer != issuer_raw.subject {
        return Err(Error::NotSignedByNext {
            index,
            detail: "its issuer name differs from the next certificate's subject".into(),
        });
    }
    let sig_oid = cert.signature_algorithm.oid;
    let spki = &issuer.tbs_certificate.subject_public_key_info;
    if spki.algorithm.oid != oids::EC_PUBLIC_KEY {
        return Err(Error::UnsupportedSignatureAlgorithm {
            index,
            oid: format!("{sig_oid} (issuer key {})", spki.algorithm.oid),
        });
    }
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    let alg: &EcdsaVerificationAlgorithm = match (curve, sig_oid) {
        (Some(c), s) if c == oids::P256 && s == oids::ECDSA_SHA256 => &ECDSA_P256_SHA256_ASN1,
        (Some(c), s) if c == oids::P256 && s == oids::ECDSA_SHA384 => &ECDSA_P256_SHA384_ASN1,
        (Some(c), s) if c == oids::P384 && s == oids::ECDSA_SHA256 => &ECDSA_P384_SHA256_ASN1,
        (Some(c), s) if c == oids::P384 && s == oids::ECDSA_SHA384 => &ECDSA_P384_SHA384_ASN1,
        _ => {
            return Err(Error::UnsupportedSignatureAlgorithm {
                index,
                oid: sig_oid.to_string(),
            });
        }
    };
    let Some(signature) = cert.signature.as_bytes() else {
        return Err(Error::NotSignedByNext {
            index,
            detail: "the signature BIT STRING has unused bits".into(),
        });
    };
    let Some(point) = spki.subject_public_key.as_bytes() else {
        return Err(Error::NotSignedByNext {
            index,
            detail: "the issuer's public key BIT STRING has unused bits".into(),
        });
    };
    UnparsedPublicKey::new(alg, point)
        .verify(raw.tbs, signature)
        .map_err(|_| Error::NotSignedByNext {
            index,
            detail: "the signature does not verify with the next certificate's key".into(),
        })
}

/// The extensions the checks look at, decoded.
struct Extensions {
    basic: Option<BasicConstraints>,
    key_usage: Option<KeyUsage>,
    eku: Option<(bool, ExtendedKeyUsage)>,
}

impl Extensions {
    /// Decodes basicConstraints, keyUsage and extKeyUsage; refuses
    /// duplicates, undecodable values and unknown critical extensions.
    fn read(index: usize, cert: &Certificate) -> Result<Extensions, Error> {
        let mut out = Extensions {
            basic: None,
            key_usage: None,
            eku: None,
        };
        let list = cert.tbs_certificate.extensions.as_deref().unwrap_or(&[]);
        let bad = |oid: &ObjectIdentifier, detail: String| Error::BadExtension {
            index,
            oid: oid.to_string(),
            detail,
        };
        for (position, ext) in list.iter().enumerate() {
            let oid = ext.extn_id;
            if list[..position].iter().any(|e| e.extn_id == oid) {
                return Err(bad(&oid, "present twice".into()));
            }
            let value = ext.extn_value.as_bytes();
            if oid == oids::EXT_BASIC_CONSTRAINTS {
                out.basic =
                    Some(BasicConstraints::from_der(value).map_err(|e| bad(&oid, e.to_string()))?);
            } else if oid == oids::EXT_KEY_USAGE {
                out.key_usage =
                    Some(KeyUsage::from_der(value).map_err(|e| bad(&oid, e.to_string()))?);
            } else if oid == oids::EXT_EXTENDED_KEY_USAGE {
                let eku =
                    ExtendedKeyUsage::from_der(value).map_err(|e| bad(&oid, e.to_string()))?;
                out.eku = Some((ext.critical, eku));
            } else if ext.critical && !oids::OTHER_KNOWN_CRITICAL.contains(&oid) {
                return Err(Error::UnknownCriticalExtension {
                    index,
                    oid: oid.to_string(),
                });
            }
        }
        Ok(out)
    }

    fn is_ca(&self) -> bool {
        self.basic.as_ref().is_some_and(|b| b.ca)
    }
}

/// The leaf: not a CA, EKU critical and exactly timeStamping, KU at most
/// digitalSignature and nonRepudiation.
fn check_leaf(ext: &Extensions) -> Result<(), Error> {
    if ext.is_ca() {
        return Err(Error::LeafIsCa);
    }
    let Some((critical, eku)) = &ext.eku else {
        return Err(Error::LeafEkuMissing);
    };
    if eku.0.as_slice() != [oids::KP_TIME_STAMPING] {
        return Err(Error::LeafEkuNotTimeStampingOnly {
            found: eku
                .0
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    if !critical {
        return Err(Error::LeafEkuNotCritical);
    }
    if let Some(ku) = &ext.key_usage {
        let allowed =
            ku.0.into_iter()
                .all(|u| matches!(u, KeyUsages::DigitalSignature | KeyUsages::NonRepudiation));
        if !allowed {
            return Err(Error::LeafKeyUsage);
        }
    }
    Ok(())
}

/// Certificates after the leaf: CAs, allowed to sign certificates, and
/// not restricted to purposes without timeStamping.
fn check_ca(index: usize, ext: &Extensions) -> Result<(), Error> {
    if !ext.is_ca() {
        return Err(Error::IssuerNotCa { index });
    }
    if let Some(ku) = &ext.key_usage
        && !ku.key_cert_sign()
    {
        return Err(Error::IssuerKeyUsage { index });
    }
    if let Some((_, eku)) = &ext.eku
        && !eku
            .0
            .iter()
            .any(|p| *p == oids::KP_TIME_STAMPING || *p == oids::ANY_EKU)
    {
        return Err(Error::IssuerEku { index });
    }
    Ok(())
}

/// The leaf's public key is the signing key's (same curve, same point).
fn check_key(leaf: &Certificate, key: &TsaKey) -> Result<(), Error> {
    let spki = &leaf.tbs_certificate.subject_public_key_info;
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    let leaf_type = match curve {
        Some(c)
            if spki.algorithm.oid == oids::EC_PUBLIC_KEY && c == TsaKeyType::P384.curve_oid() =>
        {
            TsaKeyType::P384
        }
        Some(c)
            if spki.algorithm.oid == oids::EC_PUBLIC_KEY && c == TsaKeyType::P256.curve_oid() =>
        {
            TsaKeyType::P256
        }
        _ => return Err(Error::LeafKeyType),
    };
    if leaf_type != key.key_type() || spki.subject_public_key.as_bytes() != Some(key.public_point())
    {
        return Err(Error::KeyMismatch);
    }
    Ok(())
}

/// The period in which every certificate of the chain is valid.
fn common_validity(certs: &[Certificate]) -> Result<(SystemTime, SystemTime), Error> {
    let mut not_before = SystemTime::UNIX_EPOCH;
    let mut not_after: Option<SystemTime> = None;
    for cert in certs {
        let validity = &cert.tbs_certificate.validity;
        not_before = not_before.max(validity.not_before.to_system_time());
        let end = validity.not_after.to_system_time();
        not_after = Some(not_after.map_or(end, |a| a.min(end)));
    }
    match not_after {
        Some(end) if end >= not_before => Ok((not_before, end)),
        _ => Err(Error::NoCommonValidity),
    }
}
