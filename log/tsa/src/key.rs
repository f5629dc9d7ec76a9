//! The authority's signing key: ECDSA P-384 (default) or P-256, from a
//! PKCS#8 PEM file, signing with aws-lc-rs.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair, KeyPair,
};
use der::asn1::ObjectIdentifier;

use crate::error::Error;
use crate::hash::HashAlg;
use crate::oids;

/// The kind of key the authority signs with. aws-lc-rs signs P-384 only
/// with SHA-384 and P-256 only with SHA-256, so the kind fixes the
/// SignerInfo digest and signature algorithms too.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TsaKeyType {
    /// ECDSA P-384 with SHA-384 (`ecdsa-with-SHA384`), as GitHub's TSA.
    #[default]
    P384,
    /// ECDSA P-256 with SHA-256 (`ecdsa-with-SHA256`), as the upstream
    /// in-memory signer.
    P256,
}

impl TsaKeyType {
    /// The SignerInfo digestAlgorithm (also the messageDigest hash).
    pub fn digest(self) -> HashAlg {
        match self {
            TsaKeyType::P384 => HashAlg::Sha384,
            TsaKeyType::P256 => HashAlg::Sha256,
        }
    }

    /// The SignerInfo signatureAlgorithm.
    pub(crate) fn signature_oid(self) -> ObjectIdentifier {
        match self {
            TsaKeyType::P384 => oids::ECDSA_SHA384,
            TsaKeyType::P256 => oids::ECDSA_SHA256,
        }
    }

    /// The named curve's OID in a SubjectPublicKeyInfo.
    pub(crate) fn curve_oid(self) -> ObjectIdentifier {
        match self {
            TsaKeyType::P384 => oids::P384,
            TsaKeyType::P256 => oids::P256,
        }
    }

    /// A short name (`p384`, `p256`) for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            TsaKeyType::P384 => "p384",
            TsaKeyType::P256 => "p256",
        }
    }
}

/// An ECDSA signing key of the authority.
pub(crate) struct TsaKey {
    pair: EcdsaKeyPair,
    key_type: TsaKeyType,
    rng: SystemRandom,
}

impl TsaKey {
    /// Reads one PEM `PRIVATE KEY` (PKCS#8) block holding a P-384 or
    /// P-256 key.
    pub(crate) fn from_pem(pem_bytes: &[u8]) -> Result<TsaKey, Error> {
        let block = pem::parse(pem_bytes).map_err(|e| Error::KeyPem(e.to_string()))?;
        if block.tag() != "PRIVATE KEY" {
            return Err(Error::KeyPem(format!(
                "expected a PEM \"PRIVATE KEY\" (PKCS#8) block, found \"{}\"",
                block.tag()
            )));
        }
        let der = block.contents();
        for (key_type, alg) in [
            (TsaKeyType::P384, &ECDSA_P384_SHA384_ASN1_SIGNING),
            (TsaKeyType::P256, &ECDSA_P256_SHA256_ASN1_SIGNING),
        ] {
            if let Ok(pair) = EcdsaKeyPair::from_pkcs8(alg, der) {
                return Ok(TsaKey {
                    pair,
                    key_type,
                    rng: SystemRandom::new(),
                });
            }
        }
        Err(Error::KeyType)
    }

    /// The kind of key.
    pub(crate) fn key_type(&self) -> TsaKeyType {
        self.key_type
    }

    /// The uncompressed public point (`04 || X || Y`).
    pub(crate) fn public_point(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// A DER ECDSA signature over `message` (hashed with the key type's
    /// digest); `None` when aws-lc-rs fails.
    pub(crate) fn sign(&self, message: &[u8]) -> Option<Vec<u8>> {
        self.pair
            .sign(&self.rng, message)
            .ok()
            .map(|s| s.as_ref().to_vec())
    }
}
