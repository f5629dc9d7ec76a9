//! The witnessing tables of `islet.toml`: `[witness]` (this log asks
//! witnesses to cosign its checkpoints), `[witness_service]` (islet cosigns
//! the checkpoints of other logs) and `[guard]` (where the record of the
//! latest published checkpoint lives).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{RawConfig, invalid, limits};
use crate::error::Result;

/// How a write waits for witnesses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WitnessMode {
    /// A write is answered only once its checkpoint carries the quorum's
    /// cosignatures; while the quorum cannot be met, writes get 503.
    #[default]
    FailClosed,
    /// A write is answered at once; cosignatures are added to the served
    /// checkpoint when they arrive.
    FailOpen,
}

/// Which witnesses must answer the start-up probe before the log signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartCheck {
    /// Enough witnesses to meet the policy's quorum.
    #[default]
    Quorum,
    /// Every witness of the policy.
    All,
    /// None need answer (those that answer are still checked): a witness
    /// outage then cannot stop a restart, and a restore is caught only by
    /// the witnesses that answer.
    None,
}

/// `[witness]`: the witnesses this log's checkpoints go to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWitness {
    /// A tlog-policy file (`log`, `witness NAME VKEY URL`, `group`,
    /// `quorum`), relative to the data directory. Unset: no witnessing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PathBuf>,
    /// `fail-closed` (default) or `fail-open`.
    #[serde(default)]
    pub mode: WitnessMode,
    /// Longest wait for one witness's answer, and in fail-closed mode for a
    /// write's quorum, in milliseconds.
    #[serde(default = "default_witness_timeout_ms")]
    pub timeout_ms: u64,
    /// `quorum` (default), `all` or `none`.
    #[serde(default)]
    pub start_check: StartCheck,
    /// Bearer tokens to present to witnesses that close their witness
    /// routes (`[auth] witness` of an islet witness): witness name of the
    /// policy = a file holding the token (mode 0600, relative to the data
    /// directory).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tokens: std::collections::BTreeMap<String, PathBuf>,
}

impl RawWitness {
    /// True when no policy is set (the table is then left out of a written
    /// `islet.toml`).
    pub fn is_unset(&self) -> bool {
        self.policy.is_none()
    }
}

impl Default for RawWitness {
    fn default() -> Self {
        Self {
            policy: None,
            mode: WitnessMode::default(),
            timeout_ms: default_witness_timeout_ms(),
            tokens: std::collections::BTreeMap::new(),
            start_check: StartCheck::default(),
        }
    }
}

fn default_witness_timeout_ms() -> u64 {
    5000
}

/// `[witness_service]`: the logs islet witnesses.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWitnessService {
    /// Cosigner name (default `<origin>/witness`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The witness key, Ed25519 (PKCS#8 PEM, or a note `PRIVATE+KEY+…`
    /// line), relative to the data directory; created on first use. Never
    /// the log or mirror key.
    #[serde(default = "default_witness_key")]
    pub key: PathBuf,
    /// The witnessed logs (`[[witness_service.log]]`).
    #[serde(default, rename = "log", skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<RawWitnessedLog>,
}

impl RawWitnessService {
    /// True when it is all defaults and witnesses nothing.
    pub fn is_unset(&self) -> bool {
        self.name.is_none() && self.key == default_witness_key() && self.logs.is_empty()
    }
}

impl Default for RawWitnessService {
    fn default() -> Self {
        Self {
            name: None,
            key: default_witness_key(),
            logs: Vec::new(),
        }
    }
}

fn default_witness_key() -> PathBuf {
    PathBuf::from("keys/witness.pem")
}

/// `[[witness_service.log]]`: a log islet cosigns.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWitnessedLog {
    /// The log's verifier key.
    pub vkey: String,
    /// Its checkpoint origin (default: the vkey's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

/// `[guard]`: the fork guard.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGuard {
    /// Where the record of the latest published checkpoint lives (default
    /// `checkpoint.published` in the data directory). Keep it on other
    /// storage than the data directory, so that restoring the directory
    /// from a backup does not restore the record with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<PathBuf>,
}

impl RawGuard {
    /// True when the record is in its default place.
    pub fn is_unset(&self) -> bool {
        self.record.is_none()
    }
}

/// The validated `[witness]`, when a policy is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessSettings {
    /// The policy file.
    pub policy: PathBuf,
    /// How writes wait.
    pub mode: WitnessMode,
    /// Per-request timeout (and the fail-closed wait).
    pub timeout: Duration,
    /// The start-up probe's rule.
    pub start_check: StartCheck,
    /// Token files by witness name.
    pub tokens: std::collections::BTreeMap<String, PathBuf>,
}

/// A witnessed log, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessedLog {
    /// Its origin.
    pub origin: String,
    /// Its verifier key.
    pub vkey: String,
}

/// The validated `[witness_service]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessServiceSettings {
    /// Cosigner name.
    pub name: String,
    /// Key file.
    pub key: PathBuf,
    /// The witnessed logs (none: every origin is unknown, 404).
    pub logs: Vec<WitnessedLog>,
}

impl RawConfig {
    /// A list of log keys (`[[witness_service.log]]`, `[[mirror.accept]]`):
    /// at most [`limits::MAX_WITNESSED_LOGS`], log keys only, one per
    /// origin, never this data directory's own log.
    pub(super) fn validate_logs(
        &self,
        table: &str,
        raw: &[RawWitnessedLog],
    ) -> Result<Vec<WitnessedLog>> {
        if raw.len() > limits::MAX_WITNESSED_LOGS {
            return Err(invalid(
                table,
                format!("at most {} logs", limits::MAX_WITNESSED_LOGS),
            ));
        }
        let mut logs: Vec<WitnessedLog> = Vec::new();
        for (i, l) in raw.iter().enumerate() {
            let field = |f: &str| format!("{table}[{i}].{f}");
            let v = islet_tlog::note::NoteVerifier::from_vkey(&l.vkey)
                .map_err(|e| invalid(&field("vkey"), e))?;
            if !matches!(v.key_type(), 0x01 | 0x02) {
                return Err(invalid(
                    &field("vkey"),
                    "a log key is Ed25519 (type 0x01) or ECDSA (0x02)",
                ));
            }
            let origin = l.origin.clone().unwrap_or_else(|| v.name().to_owned());
            if !islet_tlog::note::is_valid_key_name(&origin) {
                return Err(invalid(
                    &field("origin"),
                    format!("{origin:?} is not valid"),
                ));
            }
            if self.is_own_origin(&origin) {
                return Err(invalid(
                    &field("origin"),
                    format!("{origin} is this data directory's own log"),
                ));
            }
            if logs.iter().any(|o| o.origin == origin) {
                return Err(invalid(
                    &field("origin"),
                    format!("{origin} is listed twice"),
                ));
            }
            logs.push(WitnessedLog {
                origin,
                vkey: l.vkey.clone(),
            });
        }
        Ok(logs)
    }

    pub(super) fn validate_push(&self) -> Result<Vec<super::RawPushTarget>> {
        if self.mirror.push.len() > limits::MAX_UPSTREAMS {
            return Err(invalid(
                "mirror.push",
                format!("at most {} mirrors", limits::MAX_UPSTREAMS),
            ));
        }
        for (i, p) in self.mirror.push.iter().enumerate() {
            let url = url::Url::parse(&p.url)
                .map_err(|e| invalid(&format!("mirror.push[{i}].url"), e))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(invalid(&format!("mirror.push[{i}].url"), "must be http(s)"));
            }
            let v = islet_tlog::note::NoteVerifier::from_vkey(&p.vkey)
                .map_err(|e| invalid(&format!("mirror.push[{i}].vkey"), e))?;
            if v.key_type() != islet_tlog::note::TYPE_COSIGNATURE_V1 {
                return Err(invalid(
                    &format!("mirror.push[{i}].vkey"),
                    "a mirror cosigns with a cosignature/v1 key (type 0x04)",
                ));
            }
        }
        Ok(self.mirror.push.clone())
    }

    pub(super) fn validate_witness(&self) -> Result<Option<WitnessSettings>> {
        let w = &self.witness;
        if !(limits::MIN_TIMEOUT_MS..=limits::MAX_TIMEOUT_MS).contains(&w.timeout_ms) {
            return Err(invalid(
                "witness.timeout_ms",
                format!(
                    "must be {}..={}",
                    limits::MIN_TIMEOUT_MS,
                    limits::MAX_TIMEOUT_MS
                ),
            ));
        }
        Ok(w.policy.as_ref().map(|policy| WitnessSettings {
            policy: policy.clone(),
            mode: w.mode,
            timeout: Duration::from_millis(w.timeout_ms),
            start_check: w.start_check,
            tokens: w.tokens.clone(),
        }))
    }

    pub(super) fn validate_witness_service(
        &self,
        site_name: &str,
        mirror_name: &str,
    ) -> Result<WitnessServiceSettings> {
        let s = &self.witness_service;
        let name = s
            .name
            .clone()
            .unwrap_or_else(|| format!("{site_name}/witness"));
        if !islet_tlog::note::is_valid_key_name(&name) {
            return Err(invalid(
                "witness_service.name",
                format!("{name:?} is not a valid key name (no spaces, no '+')"),
            ));
        }
        if self.is_own_origin(&name) || name == mirror_name {
            return Err(invalid(
                "witness_service.name",
                "must differ from the log's origin and the mirror name: a cosignature does not \
                 name its signer's role, so each role has an identity of its own",
            ));
        }
        let logs = self.validate_logs("witness_service.log", &s.logs)?;
        Ok(WitnessServiceSettings {
            name,
            key: s.key.clone(),
            logs,
        })
    }
}
