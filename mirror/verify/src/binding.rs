//! The signature and what it binds (spec §3.9): the message signature over
//! its digest and that digest against the artifact, or the DSSE signature
//! over the envelope and the in-toto statement's subjects against the
//! artifact.

use islet_rekor::entry::pae;
use islet_rekor::keys::{ClientKey, KeyDetails, KeyKind};
use serde::Serialize;
use serde_json::Value;

use crate::bundle::{Bundle, Content, DigestAlgorithm, Dsse};
use crate::failure::{Check, Failure};
use crate::policy::Subject;

/// Most subjects an in-toto statement may list.
pub const MAX_SUBJECTS: usize = 1024;

/// Most digests one subject may list.
pub const MAX_SUBJECT_DIGESTS: usize = 32;

/// The payload type of in-toto statements.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// What the signature was found to bind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Binding {
    /// A message signature over this digest.
    MessageDigest {
        /// `SHA2_256`, …
        algorithm: String,
        /// Lowercase hex.
        digest: String,
        /// Whether the artifact (or `--digest`) was compared with it.
        artifact_checked: bool,
    },
    /// A DSSE in-toto statement one of whose subjects is the artifact.
    Subject {
        /// The subject's name.
        name: String,
        /// The digest algorithm that matched (`sha256`, …).
        algorithm: String,
        /// Lowercase hex.
        digest: String,
        /// How many subjects the statement lists.
        subjects: usize,
    },
    /// A DSSE envelope checked without an artifact: only the envelope's
    /// signature was verified, not what it says.
    EnvelopeOnly {
        /// The envelope's payload type.
        payload_type: String,
    },
}

/// Verifies the signature with `key` and binds it to the artifact.
/// `logged_digest` is the digest a verified log entry recorded, used when a
/// message signature gives none and no artifact is given.
pub(crate) fn check(
    bundle: &Bundle,
    key: &ClientKey,
    artifact: Option<&Subject>,
    logged_digest: Option<(DigestAlgorithm, Vec<u8>)>,
) -> Result<Binding, Failure> {
    match &bundle.content {
        Content::MessageSignature { digest, signature } => {
            message(key, digest.as_ref(), signature, artifact, logged_digest)
        }
        Content::Dsse(env) => dsse(key, env, artifact),
    }
}

/// The algorithm a key signs digests with (its default scheme).
fn key_hash(key: &ClientKey) -> DigestAlgorithm {
    match key.kind() {
        KeyKind::EcdsaP384 => DigestAlgorithm::Sha384,
        KeyKind::EcdsaP521 | KeyKind::Ed25519 => DigestAlgorithm::Sha512,
        KeyKind::EcdsaP256 | KeyKind::Rsa(_) => DigestAlgorithm::Sha256,
    }
}

fn message(
    key: &ClientKey,
    digest: Option<&(DigestAlgorithm, Vec<u8>)>,
    signature: &[u8],
    artifact: Option<&Subject>,
    logged_digest: Option<(DigestAlgorithm, Vec<u8>)>,
) -> Result<Binding, Failure> {
    let (algorithm, value, artifact_checked) = match (digest, artifact) {
        (Some((alg, d)), Some(subject)) => {
            let Some(have) = subject.digest(*alg) else {
                return Err(Failure::new(
                    Check::Artifact,
                    format!(
                        "the bundle signs a {} digest; the digest given is {}",
                        alg.proto_name(),
                        subject
                            .algorithms()
                            .iter()
                            .map(|a| a.intoto_name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            };
            if have != d.as_slice() {
                return Err(Failure::new(
                    Check::Artifact,
                    format!(
                        "the artifact has {} {}, the bundle signs {}",
                        alg.proto_name(),
                        hex::encode(have),
                        hex::encode(d)
                    ),
                ));
            }
            (*alg, d.clone(), true)
        }
        (Some((alg, d)), None) => (*alg, d.clone(), false),
        (None, Some(subject)) => {
            let alg = key_hash(key);
            let d = subject.digest(alg).ok_or_else(|| {
                Failure::new(
                    Check::Artifact,
                    format!(
                        "the bundle gives no digest and its key signs {} digests; give the artifact or its {} digest",
                        alg.proto_name(),
                        alg.intoto_name()
                    ),
                )
            })?;
            (alg, d.to_vec(), true)
        }
        (None, None) => {
            let (alg, d) = logged_digest.ok_or_else(|| {
                Failure::new(
                    Check::Signature,
                    "the bundle gives no messageDigest, no artifact is given and no log entry records the digest",
                )
            })?;
            (alg, d, false)
        }
    };
    let want = key_hash(key);
    if want != algorithm {
        return Err(Failure::new(
            Check::Signature,
            format!(
                "a {} key signs {} digests; the bundle's is {}",
                key.kind(),
                want.proto_name(),
                algorithm.proto_name()
            ),
        ));
    }
    key.verify_digest(key.key_details(), &value, signature)
        .map_err(|e| Failure::new(Check::Signature, e.to_string()))?;
    Ok(Binding::MessageDigest {
        algorithm: algorithm.proto_name().into(),
        digest: hex::encode(&value),
        artifact_checked,
    })
}

fn dsse(key: &ClientKey, env: &Dsse, artifact: Option<&Subject>) -> Result<Binding, Failure> {
    let details = if key.kind() == KeyKind::Ed25519 {
        KeyDetails::Ed25519
    } else {
        key.key_details()
    };
    key.verify_message(
        details,
        &pae(&env.payload_type, &env.payload),
        &env.signature,
    )
    .map_err(|e| {
        Failure::new(
            Check::Signature,
            format!("the DSSE envelope's signature: {e}"),
        )
    })?;
    let Some(subject) = artifact else {
        return Ok(Binding::EnvelopeOnly {
            payload_type: env.payload_type.clone(),
        });
    };
    if env.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(Failure::new(
            Check::Artifact,
            format!(
                "the envelope's payload type is {:.80?}; an artifact is matched against an in-toto statement ({IN_TOTO_PAYLOAD_TYPE})",
                env.payload_type
            ),
        ));
    }
    let statement: Value = serde_json::from_slice(&env.payload).map_err(|e| {
        Failure::new(
            Check::Artifact,
            format!("the in-toto statement is not JSON: {e}"),
        )
    })?;
    let subjects = statement
        .get("subject")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            Failure::new(Check::Artifact, "the in-toto statement has no subject list")
        })?;
    if subjects.len() > MAX_SUBJECTS {
        return Err(Failure::new(
            Check::Artifact,
            format!(
                "the in-toto statement lists {} subjects; at most {MAX_SUBJECTS} are read",
                subjects.len()
            ),
        ));
    }
    for s in subjects {
        let digests = s
            .get("digest")
            .and_then(Value::as_object)
            .ok_or_else(|| Failure::new(Check::Artifact, "an in-toto subject has no digest set"))?;
        if digests.len() > MAX_SUBJECT_DIGESTS {
            return Err(Failure::new(
                Check::Artifact,
                format!(
                    "an in-toto subject lists {} digests; at most {MAX_SUBJECT_DIGESTS} are read",
                    digests.len()
                ),
            ));
        }
    }
    for alg in subject.algorithms() {
        let Some(want) = subject.digest(alg).map(hex::encode) else {
            continue;
        };
        let found = subjects.iter().find(|s| {
            s["digest"][alg.intoto_name()]
                .as_str()
                .is_some_and(|d| d.eq_ignore_ascii_case(&want))
        });
        if let Some(s) = found {
            return Ok(Binding::Subject {
                name: s["name"].as_str().unwrap_or_default().to_owned(),
                algorithm: alg.intoto_name().into(),
                digest: want,
                subjects: subjects.len(),
            });
        }
    }
    let given = subject
        .algorithms()
        .iter()
        .filter_map(|a| {
            subject
                .digest(*a)
                .map(|d| format!("{}:{}", a.intoto_name(), hex::encode(d)))
        })
        .collect::<Vec<_>>()
        .join(", ");
    Err(Failure::new(
        Check::Artifact,
        format!(
            "no subject of the in-toto statement ({} listed) has the artifact's digest ({given})",
            subjects.len()
        ),
    ))
}
