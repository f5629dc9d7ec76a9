//! Client keys of Rekor v2 entries: parsing public keys and certificates,
//! the algorithm registry (`../shared/specs/rekor-v2.md` §2.2), and
//! signature verification over a given digest.
//!
//! Stricter than rekor-tiles in one respect, on purpose: the declared
//! `keyDetails` must match the key (rekor-tiles only compares hashes, which
//! admits entries that sigstore-go cannot verify).

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P384_SHA384_ASN1, ECDSA_P521_SHA512_ASN1, ED25519,
    ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, VerificationAlgorithm,
};
use der::{Decode, Encode};

use crate::error::{Error, Result};

/// RSA public exponents above this are refused: large exponents make
/// verification arbitrarily slow (a 3072-bit exponent saturated a core at
/// 15 requests/s). Go's x509 parser caps at 2^31-1 as well.
pub const MAX_RSA_EXPONENT: u64 = (1 << 31) - 1;

/// `PublicKeyDetails` values islet accepts (the rekor-tiles default set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyDetails {
    /// ECDSA P-256 with SHA-256 (5).
    EcdsaP256Sha256,
    /// ECDSA P-384 with SHA-384 (12).
    EcdsaP384Sha384,
    /// ECDSA P-521 with SHA-512 (13).
    EcdsaP521Sha512,
    /// RSA PKCS#1 v1.5, 2048-bit, SHA-256 (9).
    Rsa2048Sha256,
    /// RSA PKCS#1 v1.5, 3072-bit, SHA-256 (10).
    Rsa3072Sha256,
    /// RSA PKCS#1 v1.5, 4096-bit, SHA-256 (11).
    Rsa4096Sha256,
    /// Ed25519ph: Ed25519 over SHA-512 of the message (8).
    Ed25519Ph,
    /// Pure Ed25519 (7): refused for hashedrekord, allowed for historic DSSE.
    Ed25519,
}

/// The hash a key details value implies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlgorithm {
    /// The `HashAlgorithm` enum name in Sigstore protos.
    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "SHA2_256",
            HashAlgorithm::Sha384 => "SHA2_384",
            HashAlgorithm::Sha512 => "SHA2_512",
        }
    }

    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha384 => 48,
            HashAlgorithm::Sha512 => 64,
        }
    }

    fn aws(self) -> &'static digest::Algorithm {
        match self {
            HashAlgorithm::Sha256 => &digest::SHA256,
            HashAlgorithm::Sha384 => &digest::SHA384,
            HashAlgorithm::Sha512 => &digest::SHA512,
        }
    }

    /// Hashes `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        digest::digest(self.aws(), data).as_ref().to_vec()
    }
}

const REGISTRY: [(KeyDetails, &str, u64); 8] = [
    (KeyDetails::EcdsaP256Sha256, "PKIX_ECDSA_P256_SHA_256", 5),
    (KeyDetails::EcdsaP384Sha384, "PKIX_ECDSA_P384_SHA_384", 12),
    (KeyDetails::EcdsaP521Sha512, "PKIX_ECDSA_P521_SHA_512", 13),
    (
        KeyDetails::Rsa2048Sha256,
        "PKIX_RSA_PKCS1V15_2048_SHA256",
        9,
    ),
    (
        KeyDetails::Rsa3072Sha256,
        "PKIX_RSA_PKCS1V15_3072_SHA256",
        10,
    ),
    (
        KeyDetails::Rsa4096Sha256,
        "PKIX_RSA_PKCS1V15_4096_SHA256",
        11,
    ),
    (KeyDetails::Ed25519Ph, "PKIX_ED25519_PH", 8),
    (KeyDetails::Ed25519, "PKIX_ED25519", 7),
];

impl KeyDetails {
    /// By protobuf enum name.
    pub fn from_name(name: &str) -> Option<KeyDetails> {
        REGISTRY
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(k, _, _)| *k)
    }

    /// By protobuf enum number.
    pub fn from_number(n: u64) -> Option<KeyDetails> {
        REGISTRY
            .iter()
            .find(|(_, _, v)| *v == n)
            .map(|(k, _, _)| *k)
    }

    /// The protobuf enum name, as protojson writes it.
    pub fn name(self) -> &'static str {
        REGISTRY
            .iter()
            .find(|(k, _, _)| *k == self)
            .map_or("", |(_, n, _)| n)
    }

    /// The hash the signature is over; `None` for pure Ed25519.
    pub fn hash(self) -> Option<HashAlgorithm> {
        match self {
            KeyDetails::EcdsaP256Sha256
            | KeyDetails::Rsa2048Sha256
            | KeyDetails::Rsa3072Sha256
            | KeyDetails::Rsa4096Sha256 => Some(HashAlgorithm::Sha256),
            KeyDetails::EcdsaP384Sha384 => Some(HashAlgorithm::Sha384),
            KeyDetails::EcdsaP521Sha512 | KeyDetails::Ed25519Ph => Some(HashAlgorithm::Sha512),
            KeyDetails::Ed25519 => None,
        }
    }
}

/// The kind of key a verifier carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA on P-256.
    EcdsaP256,
    /// ECDSA on P-384.
    EcdsaP384,
    /// ECDSA on P-521.
    EcdsaP521,
    /// RSA with this many modulus bits.
    Rsa(usize),
    /// Ed25519.
    Ed25519,
}

impl std::fmt::Display for KeyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyKind::EcdsaP256 => f.write_str("an ECDSA P-256 key"),
            KeyKind::EcdsaP384 => f.write_str("an ECDSA P-384 key"),
            KeyKind::EcdsaP521 => f.write_str("an ECDSA P-521 key"),
            KeyKind::Rsa(bits) => write!(f, "a {bits}-bit RSA key"),
            KeyKind::Ed25519 => f.write_str("an Ed25519 key"),
        }
    }
}

/// A parsed client public key.
pub struct ClientKey {
    kind: KeyKind,
    /// DER SubjectPublicKeyInfo, canonical.
    spki: Vec<u8>,
    /// Raw key for Ed25519.
    ed25519: Option<[u8; 32]>,
    /// The key as aws-lc-rs parsed it (ECDSA and RSA), parsed once.
    parsed: Option<ParsedPublicKey>,
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClientKey({})", self.kind)
    }
}

fn bad_key(reason: impl Into<String>) -> Error {
    Error::InvalidEntry {
        reason: reason.into(),
    }
}

const OID_EC: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.3.132.0.35");
const OID_RSA: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_ED25519: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.3.101.112");

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
#[derive(der::Sequence)]
struct RsaPublicKey<'a> {
    modulus: der::asn1::UintRef<'a>,
    public_exponent: der::asn1::UintRef<'a>,
}

impl ClientKey {
    /// Parses a DER SubjectPublicKeyInfo (PEM is not accepted, as in
    /// rekor-tiles).
    ///
    /// # Errors
    /// [`Error::InvalidEntry`] saying what is wrong with the key.
    pub fn from_spki(der: &[u8]) -> Result<ClientKey> {
        let info = spki::SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| bad_key(format!("public key is not a DER SubjectPublicKeyInfo: {e}")))?;
        // Re-encoding must give the same bytes: no BER, no trailing data.
        if info.to_der().ok().as_deref() != Some(der) {
            return Err(bad_key("public key is not canonical DER"));
        }
        let key_bytes = info
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| bad_key("public key bit string is not byte aligned"))?;
        let oid = info.algorithm.oid;
        let (kind, ed25519) = if oid == OID_EC {
            let curve = info
                .algorithm
                .parameters_oid()
                .map_err(|_| bad_key("EC public key without a named curve"))?;
            let kind = match curve {
                c if c == OID_P256 => KeyKind::EcdsaP256,
                c if c == OID_P384 => KeyKind::EcdsaP384,
                c if c == OID_P521 => KeyKind::EcdsaP521,
                c => {
                    return Err(bad_key(format!(
                        "EC curve {c} is not supported (P-256, P-384, P-521 are)"
                    )));
                }
            };
            (kind, None)
        } else if oid == OID_RSA {
            let rsa = RsaPublicKey::from_der(key_bytes)
                .map_err(|e| bad_key(format!("bad RSA public key: {e}")))?;
            let modulus = rsa.modulus.as_bytes();
            let bits =
                modulus.len() * 8 - modulus.first().map_or(8, |b| b.leading_zeros() as usize);
            if ![2048, 3072, 4096].contains(&bits) {
                return Err(bad_key(format!(
                    "RSA key of {bits} bits is not allowed (2048, 3072 and 4096 are)"
                )));
            }
            let e = rsa.public_exponent.as_bytes();
            (e.len() <= 8)
                .then(|| e.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
                .filter(|&e| (3..=MAX_RSA_EXPONENT).contains(&e) && e % 2 == 1)
                .ok_or_else(|| {
                    bad_key(format!(
                        "RSA public exponent must be odd and between 3 and {MAX_RSA_EXPONENT}"
                    ))
                })?;
            (KeyKind::Rsa(bits), None)
        } else if oid == OID_ED25519 {
            let raw: [u8; 32] = key_bytes
                .try_into()
                .map_err(|_| bad_key("Ed25519 public key is not 32 bytes"))?;
            (KeyKind::Ed25519, Some(raw))
        } else {
            return Err(bad_key(format!(
                "public key algorithm {oid} is not supported"
            )));
        };
        // Points off the curve and broken moduli fail here, not later.
        let parsed = if kind == KeyKind::Ed25519 {
            None
        } else {
            Some(
                ParsedPublicKey::new(verification_algorithm(kind), der)
                    .map_err(|e| bad_key(format!("public key rejected: {e}")))?,
            )
        };
        Ok(ClientKey {
            kind,
            spki: der.to_vec(),
            ed25519,
            parsed,
        })
    }

    /// Parses a DER X.509 certificate and takes its public key. Nothing else
    /// about the certificate is checked (no chain, validity or usage), as in
    /// rekor-tiles.
    ///
    /// # Errors
    /// [`Error::InvalidEntry`] for a certificate that does not parse.
    pub fn from_certificate(der: &[u8]) -> Result<ClientKey> {
        let cert = x509_cert::Certificate::from_der(der)
            .map_err(|e| bad_key(format!("certificate is not a DER X.509 certificate: {e}")))?;
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| bad_key(format!("certificate public key: {e}")))?;
        Self::from_spki(&spki)
    }

    /// The kind of key.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki(&self) -> &[u8] {
        &self.spki
    }

    /// The key details that describe this key (and the hash it signs with).
    pub fn key_details(&self) -> KeyDetails {
        match self.kind {
            KeyKind::EcdsaP256 => KeyDetails::EcdsaP256Sha256,
            KeyKind::EcdsaP384 => KeyDetails::EcdsaP384Sha384,
            KeyKind::EcdsaP521 => KeyDetails::EcdsaP521Sha512,
            KeyKind::Rsa(2048) => KeyDetails::Rsa2048Sha256,
            KeyKind::Rsa(3072) => KeyDetails::Rsa3072Sha256,
            KeyKind::Rsa(_) => KeyDetails::Rsa4096Sha256,
            KeyKind::Ed25519 => KeyDetails::Ed25519Ph,
        }
    }

    /// Whether `details` describes this key.
    pub fn matches(&self, details: KeyDetails) -> bool {
        details == self.key_details()
            || (self.kind == KeyKind::Ed25519 && details == KeyDetails::Ed25519)
    }

    /// Verifies `signature` over a `digest` the client computed, with the
    /// algorithm `details` names (which must match the key).
    ///
    /// # Errors
    /// [`Error::InvalidEntry`] when the digest has the wrong length;
    /// [`Error::SignatureInvalid`] when the signature does not verify.
    pub fn verify_digest(
        &self,
        details: KeyDetails,
        digest: &[u8],
        signature: &[u8],
    ) -> Result<()> {
        let hash = details
            .hash()
            .ok_or_else(|| bad_key("pure Ed25519 cannot sign a digest; use PKIX_ED25519_PH"))?;
        if digest.len() != hash.output_len() {
            return Err(bad_key(format!(
                "digest has {} bytes, {} needs {}",
                digest.len(),
                details.name(),
                hash.output_len()
            )));
        }
        let ok = if self.kind == KeyKind::Ed25519 {
            self.verify_ed25519ph(digest, signature)
        } else {
            let d = Digest::import_less_safe(digest, hash.aws())
                .map_err(|_| bad_key("digest length"))?;
            self.parsed
                .as_ref()
                .is_some_and(|k| k.verify_digest_sig(&d, signature).is_ok())
        };
        if ok {
            Ok(())
        } else {
            Err(Error::SignatureInvalid {
                reason: "signature does not verify over the digest".into(),
            })
        }
    }

    /// Verifies `signature` over a whole message (DSSE PAE), hashing it as
    /// `details` says (pure Ed25519 signs the message itself).
    ///
    /// # Errors
    /// [`Error::SignatureInvalid`] when it does not verify.
    pub fn verify_message(
        &self,
        details: KeyDetails,
        message: &[u8],
        signature: &[u8],
    ) -> Result<()> {
        match details.hash() {
            None => {
                let raw = self.ed25519.ok_or_else(|| bad_key("not an Ed25519 key"))?;
                aws_lc_rs::signature::UnparsedPublicKey::new(&ED25519, raw)
                    .verify(message, signature)
                    .map_err(|_| Error::SignatureInvalid {
                        reason: "signature does not verify".into(),
                    })
            }
            Some(hash) => self.verify_digest(details, &hash.digest(message), signature),
        }
    }

    fn verify_ed25519ph(&self, digest: &[u8], signature: &[u8]) -> bool {
        let (Some(raw), Ok(sig)) = (
            self.ed25519,
            ed25519_dalek::Signature::from_slice(signature),
        ) else {
            return false;
        };
        let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&raw) else {
            return false;
        };
        let Ok(prehash) = <[u8; 64]>::try_from(digest) else {
            return false;
        };
        key.verify_prehashed_strict(Sha512Digest(prehash), None, &sig)
            .is_ok()
    }
}

fn verification_algorithm(kind: KeyKind) -> &'static dyn VerificationAlgorithm {
    match kind {
        KeyKind::EcdsaP256 => &ECDSA_P256_SHA256_ASN1,
        KeyKind::EcdsaP384 => &ECDSA_P384_SHA384_ASN1,
        KeyKind::EcdsaP521 => &ECDSA_P521_SHA512_ASN1,
        KeyKind::Rsa(_) => &RSA_PKCS1_2048_8192_SHA256,
        KeyKind::Ed25519 => &ED25519,
    }
}

/// A SHA-512 output the client already computed, in the shape
/// ed25519-dalek's prehashed API takes (a hasher it finalizes).
#[derive(Clone)]
struct Sha512Digest([u8; 64]);

impl Default for Sha512Digest {
    fn default() -> Self {
        Sha512Digest([0; 64])
    }
}

impl sha2::digest::HashMarker for Sha512Digest {}

impl sha2::digest::OutputSizeUser for Sha512Digest {
    type OutputSize = sha2::digest::consts::U64;
}

impl sha2::digest::Update for Sha512Digest {
    fn update(&mut self, _data: &[u8]) {
        // The digest is fixed; nothing is hashed here.
    }
}

impl sha2::digest::FixedOutput for Sha512Digest {
    fn finalize_into(self, out: &mut sha2::digest::Output<Self>) {
        out.copy_from_slice(&self.0);
    }
}
