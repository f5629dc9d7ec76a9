//! Who may call what (`[auth]`), and how often (`[client_limits]`): a
//! layer in front of every route.
//!
//! Each request falls in a route group ([`group_of`]). A closed group
//! admits a bearer token whose scope holds it (`islet token add`), a
//! client certificate from the site's CAs (verified in the TLS handshake,
//! `crate::tls`), or either; a refusal is a 401 (no credentials that hold)
//! or a 403 (credentials that hold, but not for this group), with a
//! message saying which and a count on `/metrics` by group and reason.
//!
//! Then the client, known by its certificate subject, its token's name or
//! its source address, takes a token from its bucket for the group; an
//! empty bucket is a 429 with `Retry-After`, before the body is parsed or
//! any signature checked, so a runaway pipeline costs the server little
//! and the other clients nothing. A refused request's body is read (up to
//! [`MAX_DRAINED_BODY_BYTES`]) and dropped before the answer, so that the
//! client sees it rather than a reset connection.
//!
//! With every group open and no limits the layer is not installed at all.

mod limiter;
mod tokens;

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use islet_store::config::{AccessMode, AccessSettings};
use islet_store::tokens::{RouteGroup, TOKEN_PREFIX, TokenCheck, TokenShape, check_shape};

use crate::api::ApiError;
pub use limiter::{ClientId, ClientLimiter, MAX_TRACKED_CLIENTS};
pub use tokens::TokenWatch;

/// Longest `Authorization` header value looked at; anything longer is not
/// a bearer token of islet's and is refused without being copied.
pub const MAX_AUTHORIZATION_BYTES: usize = 256;

/// Reads a bearer token islet presents to another server (a witness or a
/// mirror that closed its routes): [`islet_store::tokens::read_token_file`].
///
/// # Errors
/// [`crate::Error::Store`] naming the file and the rule.
pub fn read_outgoing_token(path: &std::path::Path) -> crate::Result<String> {
    Ok(islet_store::tokens::read_token_file(path)?)
}

/// Most bytes of a refused request's body read and dropped before the
/// answer, so that the client sees the 401, 403 or 429 instead of a reset
/// connection (closing a socket with unread data makes the kernel reset
/// it, and the answer can be lost with it). Larger bodies are not read.
pub const MAX_DRAINED_BODY_BYTES: usize = 64 * 1024;
/// Longest time spent reading a refused request's body.
pub const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Reads and drops up to [`MAX_DRAINED_BODY_BYTES`] of `body`, for at
/// most [`DRAIN_TIMEOUT`].
async fn drain(mut body: axum::body::Body) {
    use http_body_util::BodyExt;
    let read = async {
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(data) = frame.data_ref() {
                seen = seen.saturating_add(data.len());
                if seen > MAX_DRAINED_BODY_BYTES {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, read).await;
}

/// What the connection knows of its client: the subject of the client
/// certificate that verified in the TLS handshake, if any. The listener
/// puts it in every request's extensions.
#[derive(Debug, Clone, Default)]
pub struct PeerIdentity {
    /// RFC 4514 subject of the verified client certificate.
    pub certificate_subject: Option<Arc<str>>,
    /// True on a TLS connection.
    pub tls: bool,
}

/// The route group of a request; `None` for `/healthz`, which stays open
/// and unlimited for probes.
pub fn group_of(method: &Method, path: &str) -> Option<RouteGroup> {
    if path == "/healthz" {
        return None;
    }
    if method == Method::POST {
        if path == "/api/v2/log/entries"
            || (path.starts_with("/shards/") && path.ends_with("/api/v2/log/entries"))
        {
            return Some(RouteGroup::Write);
        }
        if path == "/api/v1/timestamp" {
            return Some(RouteGroup::Timestamp);
        }
        if matches!(
            path,
            "/witness/add-checkpoint" | "/mirror/add-checkpoint" | "/mirror/add-entries"
        ) {
            return Some(RouteGroup::Witness);
        }
    }
    Some(RouteGroup::Read)
}

/// Why a request was refused: the label of `islet_auth_refusals_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No credentials.
    Missing,
    /// An `Authorization` header that is not `Bearer <islet token>`.
    Malformed,
    /// A token of the right shape that is not recorded.
    Unknown,
    /// A revoked token.
    Revoked,
    /// An expired token.
    Expired,
    /// A token whose scope does not hold the group.
    Scope,
}

impl Refusal {
    const ALL: [Refusal; 6] = [
        Refusal::Missing,
        Refusal::Malformed,
        Refusal::Unknown,
        Refusal::Revoked,
        Refusal::Expired,
        Refusal::Scope,
    ];

    fn label(self) -> &'static str {
        match self {
            Refusal::Missing => "missing",
            Refusal::Malformed => "malformed",
            Refusal::Unknown => "unknown",
            Refusal::Revoked => "revoked",
            Refusal::Expired => "expired",
            Refusal::Scope => "scope",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The access rules and limits in force.
#[derive(Debug)]
pub struct Access {
    settings: AccessSettings,
    tokens: TokenWatch,
    limiter: ClientLimiter,
    refusals: [[AtomicU64; Refusal::ALL.len()]; RouteGroup::ALL.len()],
    admitted_by_token: AtomicU64,
    admitted_by_certificate: AtomicU64,
}

fn group_index(group: RouteGroup) -> usize {
    group as usize
}

impl Access {
    /// Rules from `settings`, tokens from `tokens`. `None` when nothing is
    /// closed or limited (the layer is then left out).
    pub fn new(settings: &AccessSettings, tokens: TokenWatch) -> Option<Arc<Access>> {
        let closed = settings.modes().iter().any(|m| m.is_closed());
        let limited = settings.write_rate.is_some()
            || settings.timestamp_rate.is_some()
            || settings.witness_rate.is_some();
        (closed || limited).then(|| {
            Arc::new(Access {
                limiter: ClientLimiter::new(settings),
                settings: settings.clone(),
                tokens,
                refusals: Default::default(),
                admitted_by_token: AtomicU64::new(0),
                admitted_by_certificate: AtomicU64::new(0),
            })
        })
    }

    fn mode(&self, group: RouteGroup) -> AccessMode {
        match group {
            RouteGroup::Write => self.settings.write,
            RouteGroup::Timestamp => self.settings.timestamp,
            RouteGroup::Witness => self.settings.witness,
            RouteGroup::Read => self.settings.read,
        }
    }

    fn refuse(&self, group: RouteGroup, refusal: Refusal, message: String) -> ApiError {
        self.refusals[group_index(group)][refusal.index()].fetch_add(1, Ordering::Relaxed);
        if refusal == Refusal::Scope {
            ApiError::Forbidden(message)
        } else {
            ApiError::Unauthenticated(message)
        }
    }

    /// Decides on a request of `group`: the client it is from, or the
    /// refusal.
    ///
    /// # Errors
    /// [`ApiError::Unauthenticated`] or [`ApiError::Forbidden`].
    pub fn authenticate(
        &self,
        group: RouteGroup,
        headers: &HeaderMap,
        peer: &PeerIdentity,
        address: Option<IpAddr>,
        now: SystemTime,
    ) -> Result<ClientId, ApiError> {
        let mode = self.mode(group);
        let anonymous = || address.map_or(ClientId::Unknown, ClientId::Address);
        if let Some(subject) = &peer.certificate_subject
            && (mode == AccessMode::Open || mode.admits_certificates())
        {
            if mode.is_closed() {
                self.admitted_by_certificate.fetch_add(1, Ordering::Relaxed);
            }
            return Ok(ClientId::Certificate(Arc::clone(subject)));
        }
        let presented = bearer(headers);
        if mode == AccessMode::Open {
            // Credentials are not needed here; a live token still names
            // the client for its limits, anything else is ignored.
            if let Ok(Some(secret)) = presented
                && let TokenCheck::Live(record) = self.tokens.index().check(secret, now)
            {
                return Ok(ClientId::Token(record.name.as_str().into()));
            }
            return Ok(anonymous());
        }
        let g = group.as_str();
        if !mode.admits_tokens() {
            let how = if peer.tls {
                "present one in the TLS handshake"
            } else {
                "connect over TLS and present one"
            };
            return Err(self.refuse(
                group,
                Refusal::Missing,
                format!(
                    "{g} requests need a client certificate issued by the site's client CA; {how}"
                ),
            ));
        }
        let needs = if mode.admits_certificates() {
            "a bearer token (Authorization: Bearer islet_...) or a client certificate"
        } else {
            "a bearer token (Authorization: Bearer islet_...)"
        };
        let secret = match presented {
            Ok(Some(secret)) => secret,
            Ok(None) => {
                return Err(self.refuse(
                    group,
                    Refusal::Missing,
                    format!("{g} requests need {needs}"),
                ));
            }
            Err(why) => {
                return Err(self.refuse(
                    group,
                    Refusal::Malformed,
                    format!("{g} requests need {needs}; {why}"),
                ));
            }
        };
        let index = self.tokens.index();
        match index.check(secret, now) {
            TokenCheck::Unknown => Err(self.refuse(
                group,
                Refusal::Unknown,
                "the bearer token is not one of this islet's (never issued here, or mistyped)"
                    .into(),
            )),
            TokenCheck::Revoked(t) => Err(self.refuse(
                group,
                Refusal::Revoked,
                format!(
                    "the token {:?} was revoked at {}",
                    t.name,
                    t.revoked.as_deref().unwrap_or("?")
                ),
            )),
            TokenCheck::Expired(t) => Err(self.refuse(
                group,
                Refusal::Expired,
                format!(
                    "the token {:?} expired at {}",
                    t.name,
                    t.expires.as_deref().unwrap_or("?")
                ),
            )),
            TokenCheck::Live(t) if !t.scopes.contains(&group) => {
                let scopes: Vec<&str> = t.scopes.iter().map(|s| s.as_str()).collect();
                Err(self.refuse(
                    group,
                    Refusal::Scope,
                    format!(
                        "the token {:?} may not make {g} requests (its scopes: {})",
                        t.name,
                        scopes.join(", ")
                    ),
                ))
            }
            TokenCheck::Live(t) => {
                self.admitted_by_token.fetch_add(1, Ordering::Relaxed);
                Ok(ClientId::Token(t.name.as_str().into()))
            }
        }
    }

    /// The Prometheus text of refusals and limits.
    pub fn render_metrics(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP islet_auth_refusals_total Requests refused for their credentials (401, 403), by route group and reason.\n\
             # TYPE islet_auth_refusals_total counter"
        );
        for group in RouteGroup::ALL {
            for refusal in Refusal::ALL {
                let _ = writeln!(
                    out,
                    "islet_auth_refusals_total{{group=\"{}\",reason=\"{}\"}} {}",
                    group.as_str(),
                    refusal.label(),
                    self.refusals[group_index(group)][refusal.index()].load(Ordering::Relaxed)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP islet_auth_admitted_total Requests to closed route groups admitted, by credential.\n\
             # TYPE islet_auth_admitted_total counter\n\
             islet_auth_admitted_total{{credential=\"token\"}} {}\n\
             islet_auth_admitted_total{{credential=\"client_certificate\"}} {}",
            self.admitted_by_token.load(Ordering::Relaxed),
            self.admitted_by_certificate.load(Ordering::Relaxed)
        );
        self.tokens.render_metrics(out);
        self.limiter.render_metrics(out);
    }
}

impl crate::http::MetricsSource for Access {
    fn render(&self, out: &mut String) {
        self.render_metrics(out);
    }
}

/// The bearer token of `headers`: `Ok(None)` without an `Authorization`
/// header, the token when it is `Bearer <token of islet's shape>`.
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, String> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err("the request has more than one Authorization header".into());
    }
    let bytes = value.as_bytes();
    if bytes.len() > MAX_AUTHORIZATION_BYTES {
        return Err(format!(
            "the Authorization header is longer than {MAX_AUTHORIZATION_BYTES} bytes"
        ));
    }
    let Some((scheme, rest)) = split_scheme(bytes) else {
        return Err("the Authorization header is not \"Bearer <token>\"".into());
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Err(format!(
            "the Authorization scheme is {:?}, not Bearer",
            String::from_utf8_lossy(scheme)
        ));
    }
    check_shape(rest).map(Some).map_err(|shape| match shape {
        TokenShape::Length => format!(
            "the bearer token has {} characters; islet's have {}",
            rest.len(),
            islet_store::tokens::TOKEN_CHARS
        ),
        TokenShape::Prefix => format!("islet's bearer tokens start with {TOKEN_PREFIX}"),
        TokenShape::Characters => "the bearer token holds characters outside base64url".into(),
    })
}

/// `<scheme> SP+ <credentials>`.
fn split_scheme(value: &[u8]) -> Option<(&[u8], &[u8])> {
    let space = value.iter().position(|b| *b == b' ')?;
    let (scheme, rest) = value.split_at(space);
    let rest = rest.trim_ascii_start();
    (!scheme.is_empty() && !rest.is_empty()).then_some((scheme, rest))
}

/// The layer: authenticates, then takes from the client's bucket.
pub async fn check(State(access): State<Arc<Access>>, request: Request, next: Next) -> Response {
    let Some(group) = group_of(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    let address = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let peer = request
        .extensions()
        .get::<PeerIdentity>()
        .cloned()
        .unwrap_or_default();
    let decided = access
        .authenticate(group, request.headers(), &peer, address, SystemTime::now())
        .and_then(|client| access.limiter.take(group, &client, Instant::now()));
    match decided {
        Ok(()) => next.run(request).await,
        Err(e) => {
            drain(request.into_body()).await;
            e.into_response()
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
