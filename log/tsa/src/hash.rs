//! The hash algorithms a request's message imprint may use.

use aws_lc_rs::digest;
use der::asn1::ObjectIdentifier;

use crate::oids;

/// A hash algorithm accepted in message imprints (SHA-1 and everything
/// else is refused as `badAlg`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// SHA-256 (what every Sigstore client sends).
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlg {
    /// All accepted algorithms.
    pub const ALL: [HashAlg; 3] = [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512];

    /// Lower-case name as in the JSON form (`sha256`, …) and in metrics.
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha256 => "sha256",
            HashAlg::Sha384 => "sha384",
            HashAlg::Sha512 => "sha512",
        }
    }

    /// The digest length in octets.
    pub fn digest_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    /// The NIST object identifier.
    pub(crate) fn oid(self) -> ObjectIdentifier {
        match self {
            HashAlg::Sha256 => oids::SHA256,
            HashAlg::Sha384 => oids::SHA384,
            HashAlg::Sha512 => oids::SHA512,
        }
    }

    /// The algorithm of an object identifier, if accepted.
    pub(crate) fn from_oid(oid: &ObjectIdentifier) -> Option<HashAlg> {
        HashAlg::ALL.into_iter().find(|h| h.oid() == *oid)
    }

    /// The algorithm named in the JSON form (case-insensitive).
    pub(crate) fn from_name(name: &str) -> Option<HashAlg> {
        HashAlg::ALL
            .into_iter()
            .find(|h| h.name().eq_ignore_ascii_case(name))
    }

    /// The digest of `data`.
    pub(crate) fn digest(self, data: &[u8]) -> Vec<u8> {
        let alg = match self {
            HashAlg::Sha256 => &digest::SHA256,
            HashAlg::Sha384 => &digest::SHA384,
            HashAlg::Sha512 => &digest::SHA512,
        };
        digest::digest(alg, data).as_ref().to_vec()
    }
}
