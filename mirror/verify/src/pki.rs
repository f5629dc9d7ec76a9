//! X.509 helpers shared by the certificate, timestamp and SCT checks:
//! strict parsing with a size limit, signatures through aws-lc-rs, and the
//! check of a fixed path (leaf, then the chain a trusted root lists) at a
//! given time.

use std::time::SystemTime;

use aws_lc_rs::signature::{self as sig, UnparsedPublicKey, VerificationAlgorithm};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5280::{ANY_EXTENDED_KEY_USAGE, ID_KP_CODE_SIGNING, ID_KP_TIME_STAMPING};
use der::asn1::{AnyRef, BitStringRef};
use der::{Decode, Encode, Sequence};
use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use crate::trusted_root::MAX_CERTIFICATE_BYTES;

pub(crate) use crate::rfc3339;

/// The outer shape of a certificate, to keep the signed bytes as received.
#[derive(Sequence)]
struct RawCertificate<'a> {
    tbs: AnyRef<'a>,
    algorithm: AnyRef<'a>,
    signature: BitStringRef<'a>,
}

/// A certificate decoded strictly, with the bytes its issuer signed.
#[derive(Debug, Clone)]
pub(crate) struct Cert {
    /// The whole DER, as received.
    pub(crate) der: Vec<u8>,
    /// Decoded.
    pub(crate) cert: Certificate,
    /// The TBSCertificate as received (what the signature covers).
    tbs: Vec<u8>,
}

impl Cert {
    /// Decodes one DER certificate (no trailing bytes, at most
    /// [`MAX_CERTIFICATE_BYTES`]).
    pub(crate) fn parse(der: &[u8]) -> Result<Cert, String> {
        if der.len() > MAX_CERTIFICATE_BYTES {
            return Err(format!(
                "the certificate has {} bytes, more than the {MAX_CERTIFICATE_BYTES} allowed",
                der.len()
            ));
        }
        let raw = RawCertificate::from_der(der)
            .map_err(|e| format!("the certificate is not DER: {e}"))?;
        let tbs = raw
            .tbs
            .to_der()
            .map_err(|e| format!("the certificate is not DER: {e}"))?;
        let _ = (raw.algorithm, raw.signature);
        let cert = Certificate::from_der(der)
            .map_err(|e| format!("the certificate does not parse: {e}"))?;
        Ok(Cert {
            der: der.to_vec(),
            cert,
            tbs,
        })
    }

    /// `notBefore` and `notAfter`.
    pub(crate) fn validity(&self) -> (SystemTime, SystemTime) {
        let v = &self.cert.tbs_certificate.validity;
        (v.not_before.to_system_time(), v.not_after.to_system_time())
    }

    /// The subject, for messages.
    pub(crate) fn subject(&self) -> String {
        self.cert.tbs_certificate.subject.to_string()
    }

    /// DER of the issuer Name.
    pub(crate) fn issuer_der(&self) -> Result<Vec<u8>, String> {
        self.cert
            .tbs_certificate
            .issuer
            .to_der()
            .map_err(|e| format!("the issuer name does not encode: {e}"))
    }

    /// DER of the subject Name.
    fn subject_der(&self) -> Result<Vec<u8>, String> {
        self.cert
            .tbs_certificate
            .subject
            .to_der()
            .map_err(|e| format!("the subject name does not encode: {e}"))
    }

    /// The raw octets of the serial number.
    pub(crate) fn serial(&self) -> &[u8] {
        self.cert.tbs_certificate.serial_number.as_bytes()
    }

    /// Whether `t` is within `notBefore..=notAfter`.
    fn valid_at(&self, t: SystemTime) -> bool {
        let (nb, na) = self.validity();
        nb <= t && t <= na
    }

    /// Checks that `issuer`'s key signed this certificate.
    fn signed_by(&self, issuer: &Cert) -> Result<(), String> {
        let key = Key::from_spki(&issuer.cert.tbs_certificate.subject_public_key_info)?;
        let signature = self
            .cert
            .signature
            .as_bytes()
            .ok_or("the signature is not a whole number of bytes")?;
        key.verify_oid(&self.cert.signature_algorithm.oid, &self.tbs, signature)
    }
}

/// A hash algorithm a signature uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Hash {
    /// The digest algorithm named by `oid` (SHA-256/384/512 only).
    pub(crate) fn from_digest_oid(oid: &ObjectIdentifier) -> Option<Hash> {
        use const_oid::db::rfc5912::{ID_SHA_256, ID_SHA_384, ID_SHA_512};
        match *oid {
            ID_SHA_256 => Some(Hash::Sha256),
            ID_SHA_384 => Some(Hash::Sha384),
            ID_SHA_512 => Some(Hash::Sha512),
            _ => None,
        }
    }

    /// The digest of `data`.
    pub(crate) fn digest(self, data: &[u8]) -> Vec<u8> {
        use sha2::Digest;
        match self {
            Hash::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Hash::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Hash::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// An elliptic curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    P256,
    P384,
    P521,
}

/// A public key that verifies certificate, timestamp and SCT signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Key {
    /// ECDSA: the curve and the uncompressed point.
    Ec(Curve, Vec<u8>),
    /// RSA: the PKCS#1 `RSAPublicKey` DER.
    Rsa(Vec<u8>),
}

impl Key {
    /// The key of a decoded SubjectPublicKeyInfo.
    pub(crate) fn from_spki(spki: &SubjectPublicKeyInfoOwned) -> Result<Key, String> {
        use const_oid::db::rfc5912::{
            ID_EC_PUBLIC_KEY, RSA_ENCRYPTION, SECP_256_R_1, SECP_384_R_1, SECP_521_R_1,
        };
        let bits = spki
            .subject_public_key
            .as_bytes()
            .ok_or("the public key is not a whole number of bytes")?
            .to_vec();
        match spki.algorithm.oid {
            ID_EC_PUBLIC_KEY => {
                let curve: ObjectIdentifier = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.decode_as().ok())
                    .ok_or("an EC key without a named curve")?;
                let curve = match curve {
                    SECP_256_R_1 => Curve::P256,
                    SECP_384_R_1 => Curve::P384,
                    SECP_521_R_1 => Curve::P521,
                    other => return Err(format!("EC keys on curve {other} are not supported")),
                };
                Ok(Key::Ec(curve, bits))
            }
            RSA_ENCRYPTION => Ok(Key::Rsa(bits)),
            other => Err(format!("keys of algorithm {other} are not supported")),
        }
    }

    /// The key of a SubjectPublicKeyInfo DER.
    pub(crate) fn from_spki_der(der: &[u8]) -> Result<Key, String> {
        let spki = SubjectPublicKeyInfoOwned::from_der(der)
            .map_err(|e| format!("not a SubjectPublicKeyInfo: {e}"))?;
        Key::from_spki(&spki)
    }

    /// Whether this is an ECDSA key.
    pub(crate) fn is_ec(&self) -> bool {
        matches!(self, Key::Ec(..))
    }

    /// Verifies `signature` (DER ECDSA, or PKCS#1 v1.5) over `message`
    /// hashed with `hash`.
    pub(crate) fn verify(
        &self,
        hash: Hash,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), String> {
        let (alg, key): (&'static dyn VerificationAlgorithm, &[u8]) = match (self, hash) {
            (Key::Ec(Curve::P256, k), Hash::Sha256) => (&sig::ECDSA_P256_SHA256_ASN1, k),
            (Key::Ec(Curve::P256, k), Hash::Sha384) => (&sig::ECDSA_P256_SHA384_ASN1, k),
            (Key::Ec(Curve::P256, k), Hash::Sha512) => (&sig::ECDSA_P256_SHA512_ASN1, k),
            (Key::Ec(Curve::P384, k), Hash::Sha256) => (&sig::ECDSA_P384_SHA256_ASN1, k),
            (Key::Ec(Curve::P384, k), Hash::Sha384) => (&sig::ECDSA_P384_SHA384_ASN1, k),
            (Key::Ec(Curve::P384, k), Hash::Sha512) => (&sig::ECDSA_P384_SHA512_ASN1, k),
            (Key::Ec(Curve::P521, k), Hash::Sha256) => (&sig::ECDSA_P521_SHA256_ASN1, k),
            (Key::Ec(Curve::P521, k), Hash::Sha384) => (&sig::ECDSA_P521_SHA384_ASN1, k),
            (Key::Ec(Curve::P521, k), Hash::Sha512) => (&sig::ECDSA_P521_SHA512_ASN1, k),
            (Key::Rsa(k), Hash::Sha256) => (&sig::RSA_PKCS1_2048_8192_SHA256, k),
            (Key::Rsa(k), Hash::Sha384) => (&sig::RSA_PKCS1_2048_8192_SHA384, k),
            (Key::Rsa(k), Hash::Sha512) => (&sig::RSA_PKCS1_2048_8192_SHA512, k),
        };
        UnparsedPublicKey::new(alg, key)
            .verify(message, signature)
            .map_err(|_| "the signature does not verify".to_owned())
    }

    /// Verifies with the signature algorithm named by `oid`
    /// (ecdsa-with-SHA256/384/512, sha256/384/512WithRSAEncryption).
    pub(crate) fn verify_oid(
        &self,
        oid: &ObjectIdentifier,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), String> {
        use const_oid::db::rfc5912::{
            ECDSA_WITH_SHA_256, ECDSA_WITH_SHA_384, ECDSA_WITH_SHA_512,
            SHA_256_WITH_RSA_ENCRYPTION, SHA_384_WITH_RSA_ENCRYPTION, SHA_512_WITH_RSA_ENCRYPTION,
        };
        let (ec, hash) = match *oid {
            ECDSA_WITH_SHA_256 => (true, Hash::Sha256),
            ECDSA_WITH_SHA_384 => (true, Hash::Sha384),
            ECDSA_WITH_SHA_512 => (true, Hash::Sha512),
            SHA_256_WITH_RSA_ENCRYPTION => (false, Hash::Sha256),
            SHA_384_WITH_RSA_ENCRYPTION => (false, Hash::Sha384),
            SHA_512_WITH_RSA_ENCRYPTION => (false, Hash::Sha512),
            other => return Err(format!("signature algorithm {other} is not supported")),
        };
        if ec != self.is_ec() {
            return Err(format!("signature algorithm {oid} does not fit the key"));
        }
        self.verify(hash, message, signature)
    }
}

/// What a leaf certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Fulcio signing certificates.
    CodeSigning,
    /// Timestamp authorities.
    TimeStamping,
}

impl Purpose {
    fn oid(self) -> ObjectIdentifier {
        match self {
            Purpose::CodeSigning => ID_KP_CODE_SIGNING,
            Purpose::TimeStamping => ID_KP_TIME_STAMPING,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Purpose::CodeSigning => "codeSigning",
            Purpose::TimeStamping => "timeStamping",
        }
    }
}

/// The extensions a path check reads.
#[derive(Default)]
struct Extensions {
    basic: Option<BasicConstraints>,
    key_usage: Option<KeyUsage>,
    /// Critical flag and the purposes.
    eku: Option<(bool, Vec<ObjectIdentifier>)>,
}

/// Extensions islet knows; any other one marked critical fails the path.
const KNOWN_EXTENSIONS: [&str; 7] = [
    "2.5.29.19", // basicConstraints
    "2.5.29.15", // keyUsage
    "2.5.29.37", // extKeyUsage
    "2.5.29.17", // subjectAltName
    "2.5.29.14", // subjectKeyIdentifier
    "2.5.29.35", // authorityKeyIdentifier
    "2.5.29.32", // certificatePolicies (not enforced: Sigstore sets none critical)
];

fn extensions(cert: &Cert) -> Result<Extensions, String> {
    use const_oid::AssociatedOid;
    let mut found = Extensions::default();
    let list = cert
        .cert
        .tbs_certificate
        .extensions
        .as_deref()
        .unwrap_or(&[]);
    let mut seen: Vec<ObjectIdentifier> = Vec::with_capacity(list.len());
    for e in list {
        if seen.contains(&e.extn_id) {
            return Err(format!("extension {} appears twice", e.extn_id));
        }
        seen.push(e.extn_id);
        let value = e.extn_value.as_bytes();
        let bad =
            |what: &str, err: der::Error| format!("the {what} extension does not parse: {err}");
        if e.extn_id == BasicConstraints::OID {
            found.basic =
                Some(BasicConstraints::from_der(value).map_err(|x| bad("basicConstraints", x))?);
        } else if e.extn_id == KeyUsage::OID {
            found.key_usage = Some(KeyUsage::from_der(value).map_err(|x| bad("keyUsage", x))?);
        } else if e.extn_id == ExtendedKeyUsage::OID {
            let eku = ExtendedKeyUsage::from_der(value).map_err(|x| bad("extKeyUsage", x))?;
            found.eku = Some((e.critical, eku.0));
        } else if e.critical && !KNOWN_EXTENSIONS.contains(&e.extn_id.to_string().as_str()) {
            return Err(format!("unknown critical extension {}", e.extn_id));
        }
    }
    Ok(found)
}

fn outside(t: SystemTime, what: &str, cert: &Cert) -> String {
    let (nb, na) = cert.validity();
    format!(
        "the timestamp {} is outside the {what}'s validity ({} to {})",
        rfc3339(t),
        rfc3339(nb),
        rfc3339(na)
    )
}

/// Checks only the leaf's validity at `t`, with the precise message.
pub(crate) fn check_leaf_time(leaf: &Cert, t: SystemTime) -> Result<(), String> {
    if leaf.valid_at(t) {
        Ok(())
    } else {
        Err(outside(t, "certificate", leaf))
    }
}

/// Checks a path from `leaf` to `chain[last]` (the trust anchor) through
/// any of the other certificates of `chain` (the authority's
/// intermediates, in any order, as sigstore-go's path building allows) at
/// time `t`: every certificate valid at `t`, each signed by the next with
/// matching names, the issuers CAs within their path length and key
/// usage, no unknown critical extension, and the leaf fit for `purpose`
/// (codeSigning: EKU includes it and KU digitalSignature; timeStamping:
/// EKU critical and only it, KU at most digitalSignature and
/// nonRepudiation). An intermediate's EKU, when present, must allow
/// `purpose` or any purpose.
///
/// Returns the index in `chain` of the certificate that issued the leaf.
pub(crate) fn check_path(
    leaf: &Cert,
    chain: &[Cert],
    t: SystemTime,
    purpose: Purpose,
) -> Result<usize, String> {
    check_leaf_time(leaf, t)?;
    let ext = extensions(leaf).map_err(|e| format!("the certificate: {e}"))?;
    if ext.basic.as_ref().is_some_and(|b| b.ca) {
        return Err("the certificate is a CA certificate".into());
    }
    let want = purpose.oid();
    match purpose {
        Purpose::CodeSigning => {
            if !ext.eku.as_ref().is_some_and(|(_, p)| p.contains(&want)) {
                return Err(
                    "the certificate's extended key usage does not include codeSigning".into(),
                );
            }
            if !ext
                .key_usage
                .as_ref()
                .is_some_and(|k| k.0.contains(KeyUsages::DigitalSignature))
            {
                return Err("the certificate's key usage does not include digitalSignature".into());
            }
        }
        Purpose::TimeStamping => {
            match &ext.eku {
                Some((true, p)) if p.as_slice() == [want] => {}
                Some((false, _)) => {
                    return Err("the TSA certificate's extended key usage is not critical".into());
                }
                _ => {
                    return Err(
                        "the TSA certificate's extended key usage is not timeStamping only".into(),
                    );
                }
            }
            if let Some(k) = &ext.key_usage {
                let allowed = KeyUsages::DigitalSignature | KeyUsages::NonRepudiation;
                if !(k.0 - allowed).is_empty() {
                    return Err(
                        "the TSA certificate's key usage allows more than digitalSignature and nonRepudiation".into(),
                    );
                }
            }
        }
    }
    if chain.is_empty() {
        return Err("the authority has no certificate".into());
    }
    let path = extend(leaf, 0, &mut vec![false; chain.len()], chain, t, purpose)?;
    path.first()
        .copied()
        .ok_or_else(|| "the path is empty".to_owned())
}

/// Extends a path from `child` (with `depth` CA certificates below it,
/// the leaf not counted) to the anchor `chain[last]`; returns the indexes
/// used, nearest first.
fn extend(
    child: &Cert,
    depth: usize,
    used: &mut [bool],
    chain: &[Cert],
    t: SystemTime,
    purpose: Purpose,
) -> Result<Vec<usize>, String> {
    let below = if depth == 0 {
        "the certificate".to_owned()
    } else {
        format!("CA certificate {}", child.subject())
    };
    let name = child.issuer_der()?;
    let last = chain.len().saturating_sub(1);
    let mut first_error = None;
    for (j, issuer) in chain.iter().enumerate() {
        if used.get(j).copied().unwrap_or(true) || issuer.subject_der()? != name {
            continue;
        }
        let step =
            check_issuer(child, issuer, depth, t, purpose).map_err(|e| format!("{below}: {e}"));
        let result = step.and_then(|()| {
            if j == last {
                return Ok(vec![j]);
            }
            set(used, j, true);
            let rest = extend(issuer, depth + 1, used, chain, t, purpose);
            set(used, j, false);
            rest.map(|mut r| {
                r.insert(0, j);
                r
            })
        });
        match result {
            Ok(path) => return Ok(path),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| {
        format!(
            "no certificate of the authority's chain is the issuer of {below} ({})",
            child.cert.tbs_certificate.issuer
        )
    }))
}

fn set(used: &mut [bool], j: usize, value: bool) {
    if let Some(u) = used.get_mut(j) {
        *u = value;
    }
}

/// Checks one step: `issuer` signed `child`, is valid at `t`, is a CA
/// that may have `depth` CA certificates below it, and allows `purpose`.
fn check_issuer(
    child: &Cert,
    issuer: &Cert,
    depth: usize,
    t: SystemTime,
    purpose: Purpose,
) -> Result<(), String> {
    let which = format!("CA certificate {}", issuer.subject());
    child
        .signed_by(issuer)
        .map_err(|e| format!("{which} did not sign it: {e}"))?;
    if !issuer.valid_at(t) {
        return Err(outside(t, &which, issuer));
    }
    let ext = extensions(issuer).map_err(|e| format!("{which}: {e}"))?;
    let Some(basic) = ext.basic.as_ref().filter(|b| b.ca) else {
        return Err(format!("{which} is not a CA"));
    };
    if let Some(max) = basic.path_len_constraint
        && depth > usize::from(max)
    {
        return Err(format!(
            "{which} allows {max} intermediate certificates below it, the path has {depth}"
        ));
    }
    if let Some(k) = &ext.key_usage
        && !k.0.contains(KeyUsages::KeyCertSign)
    {
        return Err(format!("{which} may not sign certificates (key usage)"));
    }
    if let Some((_, p)) = &ext.eku
        && !p.contains(&purpose.oid())
        && !p.contains(&ANY_EXTENDED_KEY_USAGE)
    {
        return Err(format!(
            "{which}'s extended key usage does not allow {}",
            purpose.name()
        ));
    }
    Ok(())
}
