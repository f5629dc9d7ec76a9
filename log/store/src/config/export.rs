//! `[[export]]`: the snapshots `islet serve` writes on a schedule.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{OwnLog, RawConfig, invalid, limits};
use crate::error::Result;

/// `[[export]]`: snapshots of one log written on a schedule, so a relay
/// host produces its daily carry without cron.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExport {
    /// The log: a mirrored origin, or the own log when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Write snapshot files into this directory (absolute, or relative to
    /// the data directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<PathBuf>,
    /// Or push them to this OCI repository (`registry/repository`, no
    /// tag): each snapshot is tagged `<from>-<to>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci: Option<String>,
    /// Talk to the registry over plain HTTP.
    #[serde(default)]
    pub plain_http: bool,
    /// Seconds between exports.
    #[serde(default = "default_export_interval")]
    pub interval_secs: u64,
    /// Full snapshots each time, or increments from the last export (the
    /// first is full).
    #[serde(default)]
    pub mode: ExportMode,
    /// Snapshot files the directory keeps, newest first (0 keeps all).
    /// Increments need every earlier file on the importing side; keep
    /// enough to cover the longest the other side may fall behind.
    #[serde(default)]
    pub keep: usize,
}

fn default_export_interval() -> u64 {
    86_400
}

/// What each scheduled export holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExportMode {
    /// From the size the last export reached (the first is full).
    #[default]
    Incremental,
    /// The whole log each time.
    Full,
}

/// Where a scheduled export goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportTarget {
    /// Files in a directory, with how many to keep (0: all).
    Directory {
        /// The directory, as configured.
        path: PathBuf,
        /// Files kept.
        keep: usize,
    },
    /// An OCI repository.
    Oci {
        /// `registry/repository`.
        repository: String,
        /// Plain HTTP.
        plain_http: bool,
    },
}

/// A validated `[[export]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportJob {
    /// The log's origin.
    pub origin: String,
    /// Where the snapshots go.
    pub target: ExportTarget,
    /// Time between exports.
    pub interval: Duration,
    /// Full or incremental.
    pub mode: ExportMode,
}

impl RawConfig {
    pub(super) fn validate_exports(&self, own: Option<&OwnLog>) -> Result<Vec<ExportJob>> {
        if self.export.len() > limits::MAX_EXPORTS {
            return Err(invalid(
                "export",
                format!("at most {} exports", limits::MAX_EXPORTS),
            ));
        }
        let mut jobs: Vec<ExportJob> = Vec::new();
        for (i, e) in self.export.iter().enumerate() {
            let field = |f: &str| format!("export[{i}].{f}");
            let origin = match (&e.origin, own) {
                (Some(o), _) => o.clone(),
                (None, Some(own)) => own.origin.clone(),
                (None, None) => {
                    return Err(invalid(
                        &field("origin"),
                        "give the mirrored log to export (this data directory has no log of its own)",
                    ));
                }
            };
            if !islet_tlog::note::is_valid_key_name(&origin) {
                return Err(invalid(
                    &field("origin"),
                    format!("{origin:?} is not valid"),
                ));
            }
            if !(limits::MIN_EXPORT_INTERVAL_SECS..=limits::MAX_EXPORT_INTERVAL_SECS)
                .contains(&e.interval_secs)
            {
                return Err(invalid(
                    &field("interval_secs"),
                    format!(
                        "must be {}..={}",
                        limits::MIN_EXPORT_INTERVAL_SECS,
                        limits::MAX_EXPORT_INTERVAL_SECS
                    ),
                ));
            }
            if e.keep > limits::MAX_EXPORT_KEEP {
                return Err(invalid(
                    &field("keep"),
                    format!("must be 0..={}", limits::MAX_EXPORT_KEEP),
                ));
            }
            let target = match (&e.directory, &e.oci) {
                (Some(path), None) => {
                    if path.as_os_str().is_empty() {
                        return Err(invalid(&field("directory"), "is empty"));
                    }
                    ExportTarget::Directory {
                        path: path.clone(),
                        keep: e.keep,
                    }
                }
                (None, Some(repository)) => {
                    if repository.is_empty() || repository.contains(['@', ' ']) {
                        return Err(invalid(
                            &field("oci"),
                            "give registry/repository without tag or digest",
                        ));
                    }
                    if e.keep != 0 {
                        return Err(invalid(
                            &field("keep"),
                            "applies to a directory; a registry keeps tags by its own policy",
                        ));
                    }
                    ExportTarget::Oci {
                        repository: repository.clone(),
                        plain_http: e.plain_http,
                    }
                }
                _ => {
                    return Err(invalid(
                        &field("directory"),
                        "give directory or oci, not both",
                    ));
                }
            };
            let job = ExportJob {
                origin,
                target,
                interval: Duration::from_secs(e.interval_secs),
                mode: e.mode,
            };
            if jobs
                .iter()
                .any(|j| j.origin == job.origin && j.target == job.target)
            {
                return Err(invalid(&field("origin"), "the same export is listed twice"));
            }
            jobs.push(job);
        }
        Ok(jobs)
    }
}
