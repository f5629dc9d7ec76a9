//! What a bundle must show to be valid: the artifact it must sign, the key
//! of a key-signed bundle, the thresholds of logs, timestamps and verified
//! times (spec §3.10), and the witness policy its log checkpoints must
//! meet.

use std::io::Read;

use islet_rekor::keys::ClientKey;

use crate::bundle::DigestAlgorithm;
use crate::identity::IdentityPolicy;
use crate::witness::WitnessPolicy;

/// The artifact's digests in the three algorithms bundles name, computed
/// in one pass over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// SHA-256.
    pub sha256: [u8; 32],
    /// SHA-384.
    pub sha384: [u8; 48],
    /// SHA-512.
    pub sha512: [u8; 64],
}

impl Artifact {
    /// The digests of `data`.
    pub fn of(data: &[u8]) -> Artifact {
        use sha2::Digest;
        Artifact {
            sha256: sha2::Sha256::digest(data).into(),
            sha384: sha2::Sha384::digest(data).into(),
            sha512: sha2::Sha512::digest(data).into(),
        }
    }

    /// The digests of everything `reader` gives, read once.
    ///
    /// # Errors
    /// A read error.
    pub fn read(mut reader: impl Read) -> std::io::Result<Artifact> {
        use sha2::Digest;
        let (mut a, mut b, mut c) = (
            sha2::Sha256::new(),
            sha2::Sha384::new(),
            sha2::Sha512::new(),
        );
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = reader.read(&mut buf)?;
            let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
                break;
            };
            a.update(chunk);
            b.update(chunk);
            c.update(chunk);
        }
        Ok(Artifact {
            sha256: a.finalize().into(),
            sha384: b.finalize().into(),
            sha512: c.finalize().into(),
        })
    }
}

/// A digest given instead of the artifact (`--digest ALG:HEX`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactDigest {
    /// Its algorithm.
    pub algorithm: DigestAlgorithm,
    /// Its value.
    pub digest: Vec<u8>,
}

impl ArtifactDigest {
    /// Parses `sha256:HEX`, `sha384:HEX` or `sha512:HEX` (lowercase or
    /// uppercase hex of the right length).
    ///
    /// # Errors
    /// A message saying what is wrong.
    pub fn parse(s: &str) -> Result<ArtifactDigest, String> {
        let (name, hex_part) = s
            .split_once(':')
            .ok_or_else(|| format!("{s:.80}: give ALG:HEX (sha256, sha384 or sha512)"))?;
        let algorithm = [
            DigestAlgorithm::Sha256,
            DigestAlgorithm::Sha384,
            DigestAlgorithm::Sha512,
        ]
        .into_iter()
        .find(|a| a.intoto_name() == name)
        .ok_or_else(|| format!("{name:.20}: the algorithm is sha256, sha384 or sha512"))?;
        let digest = hex::decode(hex_part).map_err(|_| format!("{s:.80}: not hex"))?;
        if digest.len() != algorithm.output_len() {
            return Err(format!(
                "{s:.80}: a {name} digest has {} bytes",
                algorithm.output_len()
            ));
        }
        Ok(ArtifactDigest { algorithm, digest })
    }
}

/// What the bundle must sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// The artifact itself (all three digests known).
    Artifact(Artifact),
    /// Only one digest of it.
    Digest(ArtifactDigest),
}

impl Subject {
    /// The artifact's digest with `algorithm`, when known.
    pub fn digest(&self, algorithm: DigestAlgorithm) -> Option<&[u8]> {
        match (self, algorithm) {
            (Subject::Artifact(a), DigestAlgorithm::Sha256) => Some(&a.sha256),
            (Subject::Artifact(a), DigestAlgorithm::Sha384) => Some(&a.sha384),
            (Subject::Artifact(a), DigestAlgorithm::Sha512) => Some(&a.sha512),
            (Subject::Digest(d), alg) if d.algorithm == alg => Some(&d.digest),
            (Subject::Digest(_), _) => None,
        }
    }

    /// The algorithms whose digest is known.
    pub fn algorithms(&self) -> Vec<DigestAlgorithm> {
        match self {
            Subject::Artifact(_) => vec![
                DigestAlgorithm::Sha256,
                DigestAlgorithm::Sha384,
                DigestAlgorithm::Sha512,
            ],
            Subject::Digest(d) => vec![d.algorithm],
        }
    }
}

/// The verification policy. [`Policy::default`] is islet's default: at
/// least one log, one verified time for certificate bundles, one RFC 3161
/// timestamp when every entry is a Rekor v2 one, SCTs required for
/// certificate bundles. A certificate bundle also needs an identity
/// policy ([`Policy::identity`]); without one it fails.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The identity a signing certificate must have (cosign's
    /// `--certificate-identity[-regexp]` and
    /// `--certificate-oidc-issuer[-regexp]`); required for certificate
    /// bundles, unused for key bundles.
    pub identity: Option<IdentityPolicy>,
    /// The key of key-signed bundles (`--key`): a DER SubjectPublicKeyInfo.
    pub key: Option<Vec<u8>>,
    /// The artifact (`--artifact`) or its digest (`--digest`).
    pub artifact: Option<Subject>,
    /// Distinct logs that must verify the bundle (`--min-tlog`; 0 is
    /// `--no-tlog`). Every entry present must verify regardless.
    pub min_tlog: usize,
    /// Verified RFC 3161 timestamps required (`--min-tsa`); `None`: 1 when
    /// the bundle has log entries and all are Rekor v2 ones, else 0.
    pub min_tsa: Option<usize>,
    /// Verified times required (`--min-timestamps`); `None`: 1 for
    /// certificate bundles, 0 for key bundles.
    pub min_timestamps: Option<usize>,
    /// Whether certificate bundles need a verified SCT (`--no-sct` clears
    /// it). Key bundles have no certificate and no SCT.
    pub require_sct: bool,
    /// The witness policy (`--policy FILE`, a C2SP tlog-policy): when set,
    /// the bundle must have transparency-log entries, and the checkpoint of
    /// every one must come from a `log` of the policy and carry the
    /// cosignatures its quorum asks for. An extra gate: the trusted root's
    /// log-key check is made all the same.
    pub witness_policy: Option<WitnessPolicy>,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            identity: None,
            key: None,
            artifact: None,
            min_tlog: 1,
            min_tsa: None,
            min_timestamps: None,
            require_sct: true,
            witness_policy: None,
        }
    }
}

/// Reads a public key as `--key` gives it: PEM `PUBLIC KEY` (or DER), an
/// ECDSA P-256/384/521, RSA or Ed25519 SubjectPublicKeyInfo. Returns the
/// DER.
///
/// # Errors
/// A message saying what is wrong.
pub fn read_public_key(data: &[u8]) -> Result<Vec<u8>, String> {
    let der = match pem::parse(data) {
        Ok(p) if p.tag() == "PUBLIC KEY" => p.into_contents(),
        Ok(p) => {
            return Err(format!("a PEM {:.40} block, not a PUBLIC KEY", p.tag()));
        }
        Err(_) if data.first() == Some(&0x30) => data.to_vec(),
        Err(e) => return Err(format!("not a PEM public key: {e}")),
    };
    ClientKey::from_spki(&der).map_err(|e| e.to_string())?;
    Ok(der)
}
