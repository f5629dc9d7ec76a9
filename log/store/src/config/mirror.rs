//! `[mirror]`: the mirror key, the upstreams `islet serve` follows, and
//! the mirrors this log pushes to.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::RawWitnessedLog;

/// `[mirror]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMirror {
    /// Cosigner name of the mirror key (default `<origin>/mirror`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The mirror key, PKCS#8 Ed25519 PEM, relative to the data directory;
    /// created on first use. Never the log key (C2SP tlog-cosignature: one
    /// key, one identity).
    #[serde(default = "default_mirror_key")]
    pub key: PathBuf,
    /// Upstreams followed by `islet serve` (`[[mirror.upstream]]`).
    #[serde(default, rename = "upstream", skip_serializing_if = "Vec::is_empty")]
    pub upstreams: Vec<RawUpstream>,
    /// Logs that may push to this islet's mirrors (`[[mirror.accept]]`,
    /// C2SP tlog-mirror `add-checkpoint` and `add-entries`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accept: Vec<RawWitnessedLog>,
    /// Mirrors this islet's own log pushes to (`[[mirror.push]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub push: Vec<RawPushTarget>,
}

/// `[[mirror.push]]`: a tlog-mirror this log pushes its checkpoints and
/// entries to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPushTarget {
    /// The mirror's submission prefix (`add-checkpoint` and `add-entries`
    /// are below it), such as `https://mirror.example/mirror`.
    pub url: String,
    /// The mirror's cosigner key: its 200 answers must carry a valid
    /// cosignature by it.
    pub vkey: String,
    /// A file holding the bearer token to present, when the mirror closes
    /// its push routes (mode 0600, relative to the data directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
}

impl Default for RawMirror {
    fn default() -> Self {
        Self {
            name: None,
            key: default_mirror_key(),
            upstreams: Vec::new(),
            accept: Vec::new(),
            push: Vec::new(),
        }
    }
}

fn default_mirror_key() -> PathBuf {
    PathBuf::from("keys/mirror.pem")
}

/// `[[mirror.upstream]]`: a log `islet serve` keeps a mirror of.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpstream {
    /// A tlog-tiles URL prefix (`https://…/api/v2`) or a directory.
    pub url: String,
    /// The log's verifier key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vkey: Option<String>,
    /// Or its public key (PEM, relative to the data directory) with
    /// `origin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_key: Option<PathBuf>,
    /// The log's origin (default: the vkey's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Seconds between syncs.
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    /// A file holding the bearer token to present, when the log closes its
    /// reads (mode 0600, relative to the data directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
}

fn default_interval() -> u64 {
    60
}

/// A validated upstream. The key is checked when the server starts (a
/// `log_key` file is read then).
#[derive(Debug, Clone)]
pub struct Upstream {
    /// URL or directory.
    pub url: String,
    /// The log's origin.
    pub origin: String,
    /// The key, as the file gives it.
    pub vkey: Option<String>,
    /// Or the public key file (absolute or relative to the data directory).
    pub log_key: Option<PathBuf>,
    /// Time between syncs.
    pub interval: Duration,
    /// The bearer token file, relative to the data directory.
    pub token_file: Option<PathBuf>,
}
