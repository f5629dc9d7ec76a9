//! Who may reach the server and how: `[tls]` (the certificate the server
//! presents, and an optional plain-HTTP listener for loopback),
//! `[auth]` (which route groups need a bearer token or a client
//! certificate) and `[client_limits]` (a token bucket per client identity).
//!
//! All of it is off by default: a data directory without these tables
//! serves plain HTTP and takes writes from anyone, as the public Rekor does.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::invalid;
use crate::error::Result;

/// Limits of these tables, with the reason for each.
pub mod limits {
    /// Sustained requests per second of one client: above this the bucket
    /// is no limit (one entry costs a signature verification, ~50 µs).
    pub const MAX_CLIENT_RATE: u32 = 1_000_000;
    /// Client CA files (`[auth] client_ca`).
    pub const MAX_CLIENT_CA_FILES: usize = 16;
    /// Certificate revocation lists (`[auth] client_crl`).
    pub const MAX_CLIENT_CRL_FILES: usize = 16;
}

/// `[tls]`: HTTPS on `listen`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    /// The certificate chain, PEM, leaf first, relative to the data
    /// directory. Reloaded on SIGHUP.
    pub cert: PathBuf,
    /// Its private key, PEM (PKCS#8, SEC1 or PKCS#1), mode 0600. Reloaded
    /// on SIGHUP.
    pub key: PathBuf,
    /// A second listener serving plain HTTP, for a proxy or agents on the
    /// same host: a loopback address only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plain_listen: Option<String>,
}

/// How a route group admits requests (`[auth]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccessMode {
    /// Anyone (the default: public-log behaviour).
    #[default]
    Open,
    /// A bearer token of `islet token add` whose scope holds the group.
    Token,
    /// A client certificate from `[auth] client_ca` (mutual TLS).
    ClientCert,
    /// Either of the two.
    TokenOrClientCert,
}

impl AccessMode {
    /// True unless [`AccessMode::Open`].
    pub fn is_closed(self) -> bool {
        self != AccessMode::Open
    }

    /// True when a client certificate admits.
    pub fn admits_certificates(self) -> bool {
        matches!(self, AccessMode::ClientCert | AccessMode::TokenOrClientCert)
    }

    /// True when a token admits.
    pub fn admits_tokens(self) -> bool {
        matches!(self, AccessMode::Token | AccessMode::TokenOrClientCert)
    }
}

/// `[auth]`: per route group, who may call it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    /// Log writes: `POST /api/v2/log/entries` (and the frozen shards').
    #[serde(default)]
    pub write: AccessMode,
    /// Timestamps: `POST /api/v1/timestamp`.
    #[serde(default)]
    pub timestamp: AccessMode,
    /// The witness and mirror push: `POST /witness/add-checkpoint`,
    /// `/mirror/add-checkpoint`, `/mirror/add-entries`.
    #[serde(default)]
    pub witness: AccessMode,
    /// Every read (`GET`), `/metrics` included; `/healthz` stays open.
    #[serde(default)]
    pub read: AccessMode,
    /// Certificate authorities whose client certificates identify clients
    /// (PEM files, relative to the data directory). Needs `[tls]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_ca: Vec<PathBuf>,
    /// Certificate revocation lists of those authorities (PEM or DER),
    /// reloaded on SIGHUP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_crl: Vec<PathBuf>,
}

impl RawAuth {
    /// True when nothing is set.
    pub fn is_unset(&self) -> bool {
        self == &RawAuth::default()
    }
}

/// `[client_limits]`: per client identity (certificate subject, token
/// name, or source address), a token bucket for each route group; a rate
/// of 0 sets no limit.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RawClientLimits {
    /// Log writes per second of one client.
    #[serde(default)]
    pub write_per_second: u32,
    /// Log writes one client may send at once above its rate (default
    /// twice the rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_burst: Option<u32>,
    /// Timestamps per second of one client.
    #[serde(default)]
    pub timestamp_per_second: u32,
    /// Burst of timestamps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_burst: Option<u32>,
    /// Witness and mirror-push calls per second of one client.
    #[serde(default)]
    pub witness_per_second: u32,
    /// Burst of witness calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness_burst: Option<u32>,
}

impl RawClientLimits {
    /// True when nothing is set.
    pub fn is_unset(&self) -> bool {
        self == &RawClientLimits::default()
    }
}

/// Validated `[tls]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// Certificate chain file.
    pub cert: PathBuf,
    /// Key file.
    pub key: PathBuf,
    /// The plain-HTTP listener, when there is one.
    pub plain_listen: Option<SocketAddr>,
}

/// One group's bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Sustained requests per second.
    pub per_second: u32,
    /// Requests at once above it.
    pub burst: u32,
}

/// Validated `[auth]` and `[client_limits]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessSettings {
    /// Log writes.
    pub write: AccessMode,
    /// Timestamps.
    pub timestamp: AccessMode,
    /// Witness and mirror push.
    pub witness: AccessMode,
    /// Reads.
    pub read: AccessMode,
    /// Client CA files.
    pub client_ca: Vec<PathBuf>,
    /// CRL files.
    pub client_crl: Vec<PathBuf>,
    /// Per-client rate of writes.
    pub write_rate: Option<Rate>,
    /// Per-client rate of timestamps.
    pub timestamp_rate: Option<Rate>,
    /// Per-client rate of witness calls.
    pub witness_rate: Option<Rate>,
}

impl AccessSettings {
    /// The modes of the four groups.
    pub fn modes(&self) -> [AccessMode; 4] {
        [self.write, self.timestamp, self.witness, self.read]
    }
}

pub(super) fn validate_tls(tls: Option<&RawTls>) -> Result<Option<TlsSettings>> {
    let Some(t) = tls else { return Ok(None) };
    if t.cert.as_os_str().is_empty() {
        return Err(invalid("tls.cert", "is empty"));
    }
    if t.key.as_os_str().is_empty() {
        return Err(invalid("tls.key", "is empty"));
    }
    let plain_listen = match &t.plain_listen {
        None => None,
        Some(text) => {
            let addr: SocketAddr = text
                .parse()
                .map_err(|e| invalid("tls.plain_listen", format!("{text:?}: {e}")))?;
            if !addr.ip().is_loopback() {
                return Err(invalid(
                    "tls.plain_listen",
                    format!(
                        "{addr} is not a loopback address; plain HTTP is for the same host only \
                         (a proxy or an agent there). Without [tls], listen serves plain HTTP"
                    ),
                ));
            }
            Some(addr)
        }
    };
    Ok(Some(TlsSettings {
        cert: t.cert.clone(),
        key: t.key.clone(),
        plain_listen,
    }))
}

pub(super) fn validate_access(
    auth: &RawAuth,
    limits_table: &RawClientLimits,
    tls: Option<&TlsSettings>,
) -> Result<AccessSettings> {
    let modes = [
        ("auth.write", auth.write),
        ("auth.timestamp", auth.timestamp),
        ("auth.witness", auth.witness),
        ("auth.read", auth.read),
    ];
    for (field, mode) in modes {
        if mode.admits_certificates() && auth.client_ca.is_empty() {
            return Err(invalid(
                field,
                "admits client certificates, but [auth] client_ca names no certificate authority",
            ));
        }
    }
    if !auth.client_ca.is_empty() && tls.is_none() {
        return Err(invalid(
            "auth.client_ca",
            "client certificates need TLS: set [tls] cert and key",
        ));
    }
    if auth.client_ca.len() > limits::MAX_CLIENT_CA_FILES {
        return Err(invalid(
            "auth.client_ca",
            format!("at most {} files", limits::MAX_CLIENT_CA_FILES),
        ));
    }
    if auth.client_crl.len() > limits::MAX_CLIENT_CRL_FILES {
        return Err(invalid(
            "auth.client_crl",
            format!("at most {} files", limits::MAX_CLIENT_CRL_FILES),
        ));
    }
    if !auth.client_crl.is_empty() && auth.client_ca.is_empty() {
        return Err(invalid(
            "auth.client_crl",
            "revocation lists need [auth] client_ca",
        ));
    }
    let l = limits_table;
    Ok(AccessSettings {
        write: auth.write,
        timestamp: auth.timestamp,
        witness: auth.witness,
        read: auth.read,
        client_ca: auth.client_ca.clone(),
        client_crl: auth.client_crl.clone(),
        write_rate: rate("client_limits.write", l.write_per_second, l.write_burst)?,
        timestamp_rate: rate(
            "client_limits.timestamp",
            l.timestamp_per_second,
            l.timestamp_burst,
        )?,
        witness_rate: rate(
            "client_limits.witness",
            l.witness_per_second,
            l.witness_burst,
        )?,
    })
}

fn rate(field: &str, per_second: u32, burst: Option<u32>) -> Result<Option<Rate>> {
    let max = limits::MAX_CLIENT_RATE;
    if per_second > max {
        return Err(invalid(
            &format!("{field}_per_second"),
            format!("must be 0..={max} (0: no limit)"),
        ));
    }
    if per_second == 0 {
        if burst.is_some() {
            return Err(invalid(
                &format!("{field}_burst"),
                format!("is set, but {field}_per_second is 0 (no limit)"),
            ));
        }
        return Ok(None);
    }
    let burst = burst.unwrap_or(per_second.saturating_mul(2));
    if !(1..=max.saturating_mul(2)).contains(&burst) {
        return Err(invalid(
            &format!("{field}_burst"),
            format!("must be 1..={}", max.saturating_mul(2)),
        ));
    }
    Ok(Some(Rate { per_second, burst }))
}
