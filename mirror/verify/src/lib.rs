//! # islet-verify
//!
//! `islet verify`: Sigstore bundles (v0.1 to v0.3) verified entirely
//! offline against a trusted root, and optionally against a local copy of
//! the log read through [`islet_reader::local::LocalLogs`] (a data
//! directory, a tile directory or a URL). This crate never opens a store,
//! never depends on the server and never goes online.
//!
//! [`Verifier::verify`] checks, in this order (spec §3.10, sigstore-go's
//! order; the first failure is the verdict):
//! 1. the bundle's format ([`bundle`]): media type, one content, one kind
//!    of verification material, entry fields, limits;
//! 2. the signer: the certificate, or for a key-signed bundle the key the
//!    caller gives ([`Policy::key`]);
//! 3. every transparency-log entry ([`tlog`]): the log of the trusted root
//!    and its key's validity, the Rekor v1 SET ([`set`]), the checkpoint
//!    and the inclusion proof, the logged body rebuilt from the bundle
//!    (a log entry recording the certificate's public key where the bundle
//!    carries the certificate is refused by name), the integrated time
//!    inside the certificate's validity, and the local log; with a
//!    witness policy ([`Policy::witness_policy`], `--policy`), every
//!    checkpoint must also come from a log of the policy and carry the
//!    cosignatures of its quorum ([`witness`]);
//! 4. the verified times: SET-backed integrated times and RFC 3161
//!    timestamps, against the thresholds of the [`Policy`];
//! 5. the certificate chain to a certificate authority of the trusted root
//!    at every verified time ([`certificate`]) and its SCTs ([`sct`]);
//! 6. the signature over the digest or the DSSE envelope, and the artifact
//!    against the digest or the in-toto subjects ([`binding`]);
//! 7. the certificate's identity against the policy ([`identity`]).
//!
//! [`proof::verify_tlog_proof`] checks a C2SP `tlog-proof@v1` file (an
//! inclusion proof and its cosigned checkpoint) against a witness policy
//! or a single log key, without a bundle.

pub mod binding;
pub mod bundle;
pub mod certificate;
pub mod failure;
pub mod identity;
pub mod local;
mod pki;
pub mod policy;
pub mod proof;
pub mod report;
pub mod sct;
pub mod set;
pub mod timestamp;
pub mod tlog;
pub mod trusted_root;
pub mod witness;

use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

use islet_rekor::keys::ClientKey;
use islet_tlog::checkpoint::SignedCheckpoint;
use islet_tlog::merkle::Hash;

use self::bundle::{Bundle, Signer};
pub use self::failure::{Check, Failure};
pub use self::policy::{Artifact, ArtifactDigest, Policy, Subject};
pub use self::proof::{ProofVerdict, verify_tlog_proof, verify_tlog_proof_with_key};
pub use self::report::Verified;
use self::timestamp::{TimeSource, VerifiedTime};
use self::trusted_root::{TrustedLog, TrustedRoot};
pub use self::witness::{WitnessPolicy, WitnessReport, WitnessStatus};
use islet_reader::local::LocalLogs;

/// Checkpoints verified so far are remembered (many bundles share one);
/// the memory is cleared when it holds this many.
pub const MAX_REMEMBERED_CHECKPOINTS: usize = 1024;

/// The last second RFC 3339 (and X.509) can write: 9999-12-31T23:59:59Z.
pub const MAX_TIME_SECONDS: u64 = 253_402_300_799;

/// A checkpoint that verified: log ID, origin, envelope.
type CheckpointKey = (Vec<u8>, String, String);

/// The key that signed the bundle.
#[derive(Debug)]
pub(crate) enum SignerKey {
    /// The bundle's certificate (DER) and its key.
    Certificate { der: Vec<u8>, key: ClientKey },
    /// The key given for a key-signed bundle.
    Key(ClientKey),
}

impl SignerKey {
    pub(crate) fn certificate(&self) -> Option<&[u8]> {
        match self {
            SignerKey::Certificate { der, .. } => Some(der),
            SignerKey::Key(_) => None,
        }
    }

    pub(crate) fn key(&self) -> &ClientKey {
        match self {
            SignerKey::Certificate { key, .. } | SignerKey::Key(key) => key,
        }
    }
}

/// What bundles are checked against.
#[derive(Debug)]
pub struct Verifier<'a> {
    /// The trusted root.
    pub root: &'a TrustedRoot,
    /// `--log`.
    pub local: Option<&'a dyn LocalLogs>,
    /// What a bundle must show.
    pub policy: Policy,
    /// The time `rekor_age_hours` is counted to (now, unless set).
    pub now: SystemTime,
    /// Checkpoints that verified.
    verified: std::sync::Mutex<std::collections::HashMap<CheckpointKey, (u64, Hash)>>,
}

impl<'a> Verifier<'a> {
    /// A verifier for the trusted root `root`, with `policy`.
    pub fn new(root: &'a TrustedRoot, local: Option<&'a dyn LocalLogs>, policy: Policy) -> Self {
        Self {
            root,
            local,
            policy,
            now: SystemTime::now(),
            verified: std::sync::Mutex::default(),
        }
    }

    /// The artifact's SHA-256, when known (what log bodies record for a
    /// message signature that gives no digest).
    pub(crate) fn artifact_sha256(&self) -> Option<[u8; 32]> {
        self.policy
            .artifact
            .as_ref()
            .and_then(|s| s.digest(bundle::DigestAlgorithm::Sha256))
            .and_then(|d| d.try_into().ok())
    }

    /// Opens a checkpoint with the log's key, or finds it opened before.
    pub(crate) fn open_checkpoint(
        &self,
        log: &TrustedLog,
        origin: &str,
        envelope: &str,
    ) -> Result<(u64, Hash), Failure> {
        let key = (log.log_id.clone(), origin.to_owned(), envelope.to_owned());
        if let Some(found) = self.verified.lock().ok().and_then(|m| m.get(&key).copied()) {
            return Ok(found);
        }
        let signed = SignedCheckpoint::open(envelope.as_bytes(), &log.key, &[], Some(origin))
            .map_err(|e| Failure::new(Check::Checkpoint, e.to_string()))?;
        let opened = (signed.checkpoint.size, signed.checkpoint.root);
        if let Ok(mut m) = self.verified.lock() {
            if m.len() >= MAX_REMEMBERED_CHECKPOINTS {
                m.clear();
            }
            m.insert(key, opened);
        }
        Ok(opened)
    }

    /// The signer of the bundle: its certificate, or the key of the policy.
    fn signer(&self, bundle: &Bundle) -> Result<SignerKey, Failure> {
        match (&bundle.signer, &self.policy.key) {
            (Signer::Certificate(der), None) => {
                let key = ClientKey::from_certificate(der).map_err(|e| {
                    Failure::new(Check::Bundle, format!("the signing certificate: {e}"))
                })?;
                Ok(SignerKey::Certificate {
                    der: der.clone(),
                    key,
                })
            }
            (Signer::Certificate(_), Some(_)) => Err(Failure::new(
                Check::Key,
                "the bundle is signed by a certificate, not a key: verify it without --key",
            )),
            (Signer::PublicKey { .. }, None) => Err(Failure::new(
                Check::Key,
                "the bundle is signed by a key: give it with --key",
            )),
            (Signer::PublicKey { .. }, Some(spki)) => ClientKey::from_spki(spki)
                .map(SignerKey::Key)
                .map_err(|e| Failure::new(Check::Key, format!("--key: {e}"))),
        }
    }

    /// Verifies one bundle (its bytes).
    ///
    /// # Errors
    /// The first check that fails.
    pub fn verify(&self, bytes: &[u8]) -> Result<Verified, Failure> {
        // 3.1 The bundle.
        let bundle = Bundle::parse(bytes).map_err(|e| Failure::new(Check::Bundle, e))?;
        let signer = self.signer(&bundle)?;

        // 3.3 The log entries.
        let mut entries = Vec::new();
        let mut times = Vec::new();
        let mut logs = HashSet::new();
        let mut logged_digest = None;
        let mut set_logs = HashSet::new();
        for entry in &bundle.tlog_entries {
            let outcome = tlog::verify_entry(self, &bundle, entry, &signer)?;
            logs.insert(entry.log_id.as_slice());
            // One integrated time per log.
            if let Some(t) = outcome.set_time
                && set_logs.insert(entry.log_id.as_slice())
            {
                times.push(VerifiedTime {
                    time: t,
                    source: TimeSource::Tlog {
                        log: outcome.report.log.clone(),
                        log_index: entry.log_index,
                    },
                });
            }
            if logged_digest.is_none() {
                logged_digest = outcome.logged_digest;
            }
            entries.push((outcome.report, outcome.rekor_v2));
        }
        if self.policy.witness_policy.is_some() && bundle.tlog_entries.is_empty() {
            return Err(Failure::new(
                Check::WitnessQuorum,
                "a witness policy is given, but the bundle has no transparency-log entry whose checkpoint it could check",
            ));
        }
        if logs.len() < self.policy.min_tlog {
            return Err(Failure::new(
                Check::TlogThreshold,
                format!(
                    "{} transparency log(s) verified the bundle; the policy needs {}",
                    logs.len(),
                    self.policy.min_tlog
                ),
            ));
        }

        // 3.4 and 3.5 The verified times.
        let (tsa_times, warnings) = self.timestamps(&bundle)?;
        let all_v2 = !entries.is_empty() && entries.iter().all(|(_, v2)| *v2);
        let min_tsa = self.policy.min_tsa.unwrap_or(usize::from(all_v2));
        if tsa_times.len() < min_tsa {
            let why = if self.policy.min_tsa.is_none() {
                "; a Rekor v2 entry has no integrated time, so its bundle needs a timestamp"
            } else {
                ""
            };
            return Err(Failure::new(
                Check::TimeThreshold,
                format!(
                    "{} RFC 3161 timestamp(s) verified; the policy needs {min_tsa}{why}",
                    tsa_times.len()
                ),
            ));
        }
        times.extend(tsa_times);
        let min_times = self
            .policy
            .min_timestamps
            .unwrap_or(usize::from(signer.certificate().is_some()));
        if times.len() < min_times {
            return Err(Failure::new(
                Check::TimeThreshold,
                format!(
                    "{} verified time(s) (RFC 3161 timestamps, integrated times with a verified SET); the policy needs {min_times}",
                    times.len()
                ),
            ));
        }
        times.sort_by_key(|t| t.time);

        // 3.6, 3.7 The certificate at every verified time, its SCTs.
        self.certificate(&signer, &times)?;

        // 3.9 The signature and the artifact.
        let binding = binding::check(
            &bundle,
            signer.key(),
            self.policy.artifact.as_ref(),
            logged_digest,
        )?;

        // 3.8 The identity.
        let id = self.identity(&signer)?;

        let rekor_age_hours = times.first().map(|t| report::age_hours(t.time, self.now));
        Ok(Verified {
            bundle_version: bundle.version,
            signed_by_key: signer.certificate().is_none(),
            identity: id.as_ref().map(|i| i.san.clone()),
            issuer: id.and_then(|i| i.issuer),
            rekor_verified: !entries.is_empty(),
            entries: entries.into_iter().map(|(r, _)| r).collect(),
            times,
            rekor_age_hours,
            binding,
            warnings,
        })
    }

    /// The RFC 3161 timestamps that verify (spec §3.4), and warnings for
    /// those that do not.
    fn timestamps(&self, bundle: &Bundle) -> Result<(Vec<VerifiedTime>, Vec<String>), Failure> {
        let outcome = timestamp::verify_timestamps(
            self.root,
            bundle.content.signature(),
            &bundle.timestamps,
        )?;
        Ok((outcome.verified, outcome.warnings))
    }

    /// The certificate chain at every verified time (spec §3.6) and its
    /// SCTs (§3.7), for a certificate bundle.
    fn certificate(&self, signer: &SignerKey, times: &[VerifiedTime]) -> Result<(), Failure> {
        let Some(leaf) = signer.certificate() else {
            return Ok(());
        };
        let at: Vec<SystemTime> = times.iter().map(|t| t.time).collect();
        let issuer = certificate::verify_certificate(self.root, leaf, &at)?;
        if self.policy.require_sct {
            sct::verify_scts(self.root, leaf, &issuer)?;
        }
        Ok(())
    }

    /// The certificate's identity against the policy (spec §3.8).
    fn identity(&self, signer: &SignerKey) -> Result<Option<identity::Identity>, Failure> {
        let Some(leaf) = signer.certificate() else {
            return Ok(None);
        };
        let id = identity::identity(leaf)?;
        match &self.policy.identity {
            Some(policy) => policy.check(&id)?,
            None => {
                return Err(Failure::new(
                    Check::Policy,
                    "a certificate bundle needs an identity policy: --certificate-identity or --certificate-identity-regexp, and --certificate-oidc-issuer or --certificate-oidc-issuer-regexp",
                ));
            }
        }
        Ok(Some(id))
    }
}

/// `t` in RFC 3339, for messages; times RFC 3339 cannot write say so.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) if d.as_secs() <= MAX_TIME_SECONDS => {
            humantime::format_rfc3339_seconds(t).to_string()
        }
        Ok(_) => "a time after 9999-12-31".into(),
        Err(_) => "a time before 1970".into(),
    }
}
