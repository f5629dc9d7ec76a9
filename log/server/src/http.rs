//! The HTTP surface (`../shared/DESIGN.md` §4): the Rekor v2 write API, the
//! tlog-tiles read API, health, metrics and islet's extensions.
//!
//! Every request path is parsed into a typed value before any lookup; a
//! path that is not canonical gets 400 and never reaches the store.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::metrics::Rejection;
use super::response::{
    CODE_ALREADY_EXISTS, CODE_DEADLINE_EXCEEDED, CODE_INTERNAL, CODE_INVALID_ARGUMENT,
    CODE_NOT_FOUND, CODE_UNAVAILABLE, EntryResponseParts, StatusBody, TransparencyLogEntry,
};
use super::sequencer::{Outcome, Sequencer};
use crate::error::Error;
use islet_rekor::entry::{EntryPolicy, validate};
use islet_rekor::request::{MAX_REQUEST_BYTES, parse_request};
use islet_store::{LogNumber, OWN_LOG, SearchKind, Store};
use islet_tlog::merkle::{consistency_proof, inclusion_proof};
use islet_tlog::tiles::TilePath;

/// Seconds a client is told to wait after a 503.
pub const RETRY_AFTER_SECONDS: u64 = 1;
/// Bodies up to this size are decoded and verified on the I/O thread (a
/// typical entry is 1 to 3 KiB; decoding 16 KiB of JSON takes tens of
/// microseconds); larger ones on the blocking pool.
pub const INLINE_VALIDATION_MAX_BYTES: usize = 16 * 1024;
/// Most indexes a search returns.
pub const MAX_SEARCH_RESULTS: usize = 100;

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The store.
    pub store: Arc<Store>,
    /// The sequencer.
    pub sequencer: Sequencer,
    /// `logId.keyId` of responses.
    pub log_id: [u8; 32],
    /// Which entry types are accepted.
    pub policy: EntryPolicy,
    /// Largest request body.
    pub max_request_bytes: usize,
    /// Longest time to receive a request body.
    pub body_read_timeout: Duration,
    /// The mirrored logs, by SHA-256 of their origin.
    pub mirrors: Arc<super::mirrors::MirrorIndex>,
    /// Cosigns the checkpoints of mirrored logs as they are served.
    pub mirror_signer: Arc<islet_signer::CosignatureV1Signer>,
}

/// Builds the router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/api/v2/log/entries", post(create_entry))
        .route("/api/v2/checkpoint", get(checkpoint))
        .route("/api/v2/tile/{*path}", get(tile))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/v2/islet/search", get(search))
        .route("/api/v2/islet/proof/inclusion", get(prove_inclusion))
        .route("/api/v2/islet/proof/consistency", get(prove_consistency))
        .route("/api/v2/islet/checkpoint/{size}", get(checkpoint_at))
        .route(
            "/mirror/{origin_hash}/checkpoint",
            get(super::mirrors::checkpoint),
        )
        .route(
            "/mirror/{origin_hash}/tile/{*path}",
            get(super::mirrors::tile),
        )
        .with_state(state)
}

pub(crate) fn status(http: StatusCode, code: u32, message: impl Into<String>) -> Response {
    let body = StatusBody {
        code,
        message: message.into(),
        details: [],
    };
    (
        http,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(&body).unwrap_or_default(),
    )
        .into_response()
}

pub(crate) fn bad_request(message: impl Into<String>) -> Response {
    status(StatusCode::BAD_REQUEST, CODE_INVALID_ARGUMENT, message)
}

pub(crate) fn internal(e: &dyn std::fmt::Display) -> Response {
    eprintln!("islet: internal error: {e}");
    status(
        StatusCode::INTERNAL_SERVER_ERROR,
        CODE_INTERNAL,
        "internal server error",
    )
}

/// Why a request body could not be read.
enum BodyError {
    TooLarge,
    TooSlow,
    Broken(String),
}

/// Reads a whole request body, at most `limit` bytes, within `timeout`.
/// The limit is enforced while reading (a chunked body is cut off at the
/// limit), and a declared `Content-Length` over it is refused before
/// anything is read. A refused body is drained in the background (see
/// [`drain`]) so the client, still sending, can read the 413.
async fn read_body(
    headers: &HeaderMap,
    mut body: Body,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, BodyError> {
    use http_body_util::BodyExt;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        tokio::spawn(drain(body, timeout));
        return Err(BodyError::TooLarge);
    }
    let mut buf = Vec::with_capacity(declared.and_then(|n| usize::try_from(n).ok()).unwrap_or(0));
    let read = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| BodyError::Broken(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > limit {
                    return Err(BodyError::TooLarge);
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(())
    };
    match tokio::time::timeout(timeout, read).await {
        Err(_) => Err(BodyError::TooSlow),
        Ok(Ok(())) => Ok(Bytes::from(buf)),
        Ok(Err(BodyError::TooLarge)) => {
            tokio::spawn(drain(body, timeout));
            Err(BodyError::TooLarge)
        }
        Ok(Err(e)) => Err(e),
    }
}

/// Most bytes of a refused body read and thrown away, so that a client
/// that sends its whole body before reading the answer gets the 413
/// rather than a reset connection; past this the connection is closed.
pub const MAX_DRAIN_BYTES: u64 = 16 * 1024 * 1024;

/// Reads and discards the rest of a refused body, at most
/// [`MAX_DRAIN_BYTES`] within `timeout`.
async fn drain(mut body: Body, timeout: Duration) {
    use http_body_util::BodyExt;
    let _ = tokio::time::timeout(timeout, async {
        let mut seen = 0u64;
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                seen += data.len() as u64;
                if seen > MAX_DRAIN_BYTES {
                    return;
                }
            }
        }
    })
    .await;
}

async fn create_entry(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let metrics = &s.sequencer.shared().metrics;
    let body = match read_body(&headers, body, s.max_request_bytes, s.body_read_timeout).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            metrics.reject(Rejection::TooLarge);
            return status(
                StatusCode::PAYLOAD_TOO_LARGE,
                CODE_INVALID_ARGUMENT,
                format!(
                    "request body is larger than the {}-byte limit",
                    s.max_request_bytes
                ),
            );
        }
        Err(BodyError::TooSlow) => {
            metrics.reject(Rejection::TooSlow);
            return status(
                StatusCode::REQUEST_TIMEOUT,
                CODE_DEADLINE_EXCEEDED,
                format!(
                    "the request body did not arrive within {} ms",
                    s.body_read_timeout.as_millis()
                ),
            );
        }
        Err(BodyError::Broken(reason)) => {
            metrics.reject(Rejection::Malformed);
            return bad_request(format!("the request body could not be read: {reason}"));
        }
    };
    // Decoding and signature verification are CPU work. A small
    // hashedrekord (one verification, well under a millisecond) is checked
    // right here: handing it to the blocking pool costs two thread
    // switches, which on two cores is a fifth of an entry's CPU. Anything
    // larger, and DSSE (up to 100 verifications), goes to the blocking
    // pool so it never stalls the I/O threads.
    let policy = s.policy;
    let validated = if body.len() <= INLINE_VALIDATION_MAX_BYTES {
        match parse_request(&body) {
            Ok(req) if req.dsse.is_none() => Ok(validate(req, policy)),
            Ok(req) => tokio::task::spawn_blocking(move || validate(req, policy)).await,
            Err(e) => Ok(Err(e)),
        }
    } else {
        tokio::task::spawn_blocking(move || {
            parse_request(&body).and_then(|req| validate(req, policy))
        })
        .await
    };
    let entry = match validated {
        Ok(Ok(entry)) => entry,
        Ok(Err(e @ islet_rekor::Error::BadRequest { .. })) => {
            metrics.reject(Rejection::Malformed);
            return bad_request(e.to_string());
        }
        Ok(Err(e @ islet_rekor::Error::EntryTooLarge { .. })) => {
            metrics.reject(Rejection::EntryTooLarge);
            return bad_request(e.to_string());
        }
        Ok(Err(e)) => {
            metrics.reject(Rejection::Invalid);
            return bad_request(e.to_string());
        }
        Err(e) => {
            return internal(&Error::Unavailable {
                reason: e.to_string(),
            });
        }
    };
    let kind = entry.kind;
    let body = entry.body.clone();
    match s.sequencer.submit(entry).await {
        Ok(Outcome::Appended(a)) => {
            let tle = TransparencyLogEntry::new(&EntryResponseParts {
                index: a.index,
                log_id: &s.log_id,
                kind,
                body: &body,
                tree_size: a.checkpoint.size,
                root: &a.checkpoint.root,
                proof: &a.proof,
                checkpoint: &a.checkpoint.note,
            });
            match serde_json::to_vec(&tle) {
                Ok(json) => (
                    StatusCode::CREATED,
                    [(header::CONTENT_TYPE, "application/json")],
                    json,
                )
                    .into_response(),
                Err(e) => internal(&Error::Inconsistent {
                    what: format!("the response for entry {} does not encode: {e}", a.index),
                }),
            }
        }
        Ok(Outcome::Duplicate { index }) => {
            let mut r = status(
                StatusCode::CONFLICT,
                CODE_ALREADY_EXISTS,
                format!(
                    "an equivalent entry already exists in the transparency log with index {index}"
                ),
            );
            if let Ok(v) = HeaderValue::from_str(&index.to_string()) {
                r.headers_mut().insert("x-log-index", v);
            }
            r
        }
        Err(Error::Overloaded) => {
            metrics.reject(Rejection::Overloaded);
            let mut r = status(
                StatusCode::SERVICE_UNAVAILABLE,
                CODE_UNAVAILABLE,
                Error::Overloaded.to_string(),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
            r
        }
        Err(e @ Error::Unavailable { .. }) => {
            metrics.reject(Rejection::Unavailable);
            let mut r = status(
                StatusCode::SERVICE_UNAVAILABLE,
                CODE_UNAVAILABLE,
                e.to_string(),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
            r
        }
        Err(e) => internal(&e),
    }
}

async fn checkpoint(State(s): State<AppState>) -> Response {
    let head = s.sequencer.shared().latest();
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        head.note.clone(),
    )
        .into_response()
}

fn immutable(data: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, "public, max-age=604800, immutable"),
        ],
        Body::from(data),
    )
        .into_response()
}

async fn tile(State(s): State<AppState>, Path(rest): Path<String>) -> Response {
    let size = s.sequencer.shared().latest().size;
    serve_tile(&s.store, OWN_LOG, size, &rest).await
}

/// Answers `tile/<rest>` of log `log` as of `size` entries.
pub(crate) async fn serve_tile(
    store: &Arc<Store>,
    log: LogNumber,
    size: u64,
    rest: &str,
) -> Response {
    let path = format!("tile/{rest}");
    let parsed = match TilePath::parse(&path) {
        Ok(p) => p,
        Err(e) => return bad_request(e.to_string()),
    };
    let store = Arc::clone(store);
    let found = tokio::task::spawn_blocking(move || match parsed {
        TilePath::Hash(t) => store.tile_at(log, t, size),
        TilePath::Entries(b) => store.bundle_at(log, b, size),
    })
    .await;
    match found {
        Ok(Ok(Some(data))) => immutable(data),
        Ok(Ok(None)) => status(
            StatusCode::NOT_FOUND,
            CODE_NOT_FOUND,
            format!("{path} is not part of the log"),
        ),
        Ok(Err(e)) => internal(&e),
        Err(e) => internal(&Error::Unavailable {
            reason: e.to_string(),
        }),
    }
}

async fn healthz(State(s): State<AppState>) -> Response {
    if s.sequencer.shared().healthy() {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"status":"SERVING"}"#,
        )
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"status":"NOT_SERVING"}"#,
        )
            .into_response()
    }
}

async fn metrics(State(s): State<AppState>) -> Response {
    let shared = s.sequencer.shared();
    let age = shared
        .latest()
        .signed_at
        .elapsed()
        .unwrap_or(Duration::ZERO)
        .as_secs_f64();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        shared
            .metrics
            .render(age, shared.pending(), shared.healthy()),
    )
        .into_response()
}

// ---- islet extensions ---------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    /// `sha256:HEX` (or sha384/sha512) artifact digest.
    digest: Option<String>,
    /// Hex leaf hash.
    leaf_hash: Option<String>,
    /// Hex SHA-256 of a signer's SubjectPublicKeyInfo.
    key_fingerprint: Option<String>,
    /// Search the mirror of the origin with this hex SHA-256 instead of
    /// the own log.
    log: Option<String>,
}

fn parse_hex(s: &str, what: &str, len: usize) -> Result<Vec<u8>, String> {
    hex::decode(s)
        .ok()
        .filter(|b| b.len() == len)
        .ok_or_else(|| format!("{what} must be {len} bytes in hex"))
}

/// Proof hashes as protojson writes them.
fn b64_hashes(hashes: &[islet_tlog::merkle::Hash]) -> Vec<String> {
    hashes
        .iter()
        .map(|h| islet_rekor::request::encode_base64(h))
        .collect()
}

fn json(v: &serde_json::Value) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
}

async fn search(
    State(s): State<AppState>,
    q: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return bad_request(
            "give exactly one of digest=sha256:HEX, leaf_hash=HEX, key_fingerprint=HEX",
        );
    };
    let (kind, key) = match (q.digest, q.leaf_hash, q.key_fingerprint) {
        (Some(d), None, None) => {
            let Some((alg, hexd)) = d.split_once(':') else {
                return bad_request("digest must look like sha256:HEX");
            };
            let len = match alg {
                "sha256" => 32,
                "sha384" => 48,
                "sha512" => 64,
                _ => return bad_request("digest algorithm must be sha256, sha384 or sha512"),
            };
            match parse_hex(hexd, "digest", len) {
                Ok(k) => (SearchKind::ArtifactDigest, k),
                Err(m) => return bad_request(m),
            }
        }
        (None, Some(h), None) => match parse_hex(&h, "leaf_hash", 32) {
            Ok(k) => (SearchKind::LeafHash, k),
            Err(m) => return bad_request(m),
        },
        (None, None, Some(f)) => match parse_hex(&f, "key_fingerprint", 32) {
            Ok(k) => (SearchKind::KeyFingerprint, k),
            Err(m) => return bad_request(m),
        },
        _ => {
            return bad_request(
                "give exactly one of digest=sha256:HEX, leaf_hash=HEX, key_fingerprint=HEX",
            );
        }
    };
    let own = s.sequencer.shared().latest();
    let mirror = match &q.log {
        None => None,
        Some(hash) => match super::mirrors::parse_origin_hash(hash) {
            Some(h) => Some(h),
            None => {
                return bad_request(
                    "log must be the SHA-256 of a mirrored origin in lowercase hex",
                );
            }
        },
    };
    let (store, index) = (Arc::clone(&s.store), Arc::clone(&s.mirrors));
    let result =
        tokio::task::spawn_blocking(move || -> crate::Result<Option<serde_json::Value>> {
            // The log searched, its size and root, and how far it is indexed.
            let (log, head, indexed) = match mirror {
                None => (OWN_LOG, own, u64::MAX),
                Some(hash) => {
                    let Some(log) = index.find(&store, &hash)? else {
                        return Ok(None);
                    };
                    let Some(h) = store.tree_head(log)? else {
                        return Ok(None);
                    };
                    let head = Arc::new(super::sequencer::SignedHead {
                        size: h.size,
                        root: h.root,
                        note: h.checkpoint,
                        signed_at: std::time::SystemTime::now(),
                    });
                    (log, head, store.indexed_size(log)?)
                }
            };
            let indexes = store.search(log, kind, &key, MAX_SEARCH_RESULTS)?;
            let reader = store.hash_reader(log, head.size);
            let mut entries = Vec::new();
            for index in indexes
                .into_iter()
                .filter(|i| *i < head.size && *i < indexed)
            {
                let proof = inclusion_proof(index, head.size, &reader)?;
                // The search index says the entry is there: a store that
                // lacks it is inconsistent, never an empty body.
                let body =
                    store
                        .entry(log, index, head.size)?
                        .ok_or_else(|| Error::Inconsistent {
                            what: format!("entry {index} of a tree of {} is missing", head.size),
                        })?;
                entries.push(serde_json::json!({
                    "logIndex": index.to_string(),
                    "canonicalizedBody": islet_rekor::request::encode_base64(&body),
                    "inclusionProof": {
                        "logIndex": index.to_string(),
                        "treeSize": head.size.to_string(),
                        "rootHash": islet_rekor::request::encode_base64(&head.root),
                        "hashes": b64_hashes(&proof),
                        "checkpoint": { "envelope": String::from_utf8_lossy(&head.note) },
                    },
                }));
            }
            Ok(Some(serde_json::json!({ "entries": entries })))
        })
        .await;
    match result {
        Ok(Ok(Some(v))) => json(&v),
        Ok(Ok(None)) => status(
            StatusCode::NOT_FOUND,
            CODE_NOT_FOUND,
            "this log mirrors no origin with that hash",
        ),
        Ok(Err(e)) => internal(&e),
        Err(e) => internal(&Error::Unavailable {
            reason: e.to_string(),
        }),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InclusionQuery {
    index: u64,
    tree_size: Option<u64>,
}

async fn prove_inclusion(
    State(s): State<AppState>,
    q: Result<Query<InclusionQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return bad_request("give index=N and optionally tree_size=M (decimal)");
    };
    let latest = s.sequencer.shared().latest().size;
    let size = q.tree_size.unwrap_or(latest);
    if size > latest || q.index >= size {
        return bad_request(format!("need index < tree_size <= {latest}"));
    }
    let store = Arc::clone(&s.store);
    let r = tokio::task::spawn_blocking(move || {
        inclusion_proof(q.index, size, &store.hash_reader(OWN_LOG, latest))
    })
    .await;
    match r {
        Ok(Ok(proof)) => json(&serde_json::json!({
            "logIndex": q.index.to_string(),
            "treeSize": size.to_string(),
            "hashes": b64_hashes(&proof),
        })),
        Ok(Err(e)) => internal(&e),
        Err(e) => internal(&Error::Unavailable {
            reason: e.to_string(),
        }),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyQuery {
    first: u64,
    second: Option<u64>,
}

async fn prove_consistency(
    State(s): State<AppState>,
    q: Result<Query<ConsistencyQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return bad_request("give first=N and optionally second=M (decimal)");
    };
    let latest = s.sequencer.shared().latest().size;
    let second = q.second.unwrap_or(latest);
    if q.first == 0 || q.first > second || second > latest {
        return bad_request(format!("need 0 < first <= second <= {latest}"));
    }
    let store = Arc::clone(&s.store);
    let r = tokio::task::spawn_blocking(move || {
        consistency_proof(q.first, second, &store.hash_reader(OWN_LOG, latest))
    })
    .await;
    match r {
        Ok(Ok(proof)) => json(&serde_json::json!({
            "first": q.first.to_string(),
            "second": second.to_string(),
            "hashes": b64_hashes(&proof),
        })),
        Ok(Err(e)) => internal(&e),
        Err(e) => internal(&Error::Unavailable {
            reason: e.to_string(),
        }),
    }
}

async fn checkpoint_at(
    State(s): State<AppState>,
    Path(size): Path<String>,
    _h: HeaderMap,
) -> Response {
    let Some(size) = size
        .parse::<u64>()
        .ok()
        .filter(|_| size == "0" || !size.starts_with('0'))
    else {
        return bad_request("size must be a canonical decimal");
    };
    let store = Arc::clone(&s.store);
    match tokio::task::spawn_blocking(move || store.checkpoint_at(OWN_LOG, size)).await {
        Ok(Ok(Some(note))) => {
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response()
        }
        Ok(Ok(None)) => status(
            StatusCode::NOT_FOUND,
            CODE_NOT_FOUND,
            format!("no checkpoint was signed at size {size}"),
        ),
        Ok(Err(e)) => internal(&e),
        Err(e) => internal(&Error::Unavailable {
            reason: e.to_string(),
        }),
    }
}

/// Default for [`AppState::max_request_bytes`].
pub const DEFAULT_MAX_REQUEST_BYTES: usize = MAX_REQUEST_BYTES;
