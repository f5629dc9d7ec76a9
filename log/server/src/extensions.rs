//! islet's extensions for offline verifiers, under `/api/v2/islet/`: search
//! by artifact digest, leaf hash or key fingerprint; inclusion and
//! consistency proofs; checkpoints of past sizes.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use islet_store::engine::hash_reader;
use islet_store::{LogStore, SearchKind};
use islet_tlog::merkle::{consistency_proof, inclusion_proof};
use serde::Deserialize;

use crate::api::{ApiError, ApiResult};
use crate::error::Error;
use crate::http::{AppState, MAX_SEARCH_RESULTS};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchQuery {
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

/// `GET /api/v2/islet/search`: entries by artifact digest, leaf hash or
/// key fingerprint, with inclusion proofs against the latest checkpoint.
pub(crate) async fn search(
    State(s): State<Arc<AppState>>,
    q: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Ok(Query(q)) = q else {
        return Err(ApiError::bad_request(
            "give exactly one of digest=sha256:HEX, leaf_hash=HEX, key_fingerprint=HEX",
        ));
    };
    let (kind, key) = match (q.digest, q.leaf_hash, q.key_fingerprint) {
        (Some(d), None, None) => {
            let Some((alg, hexd)) = d.split_once(':') else {
                return Err(ApiError::bad_request("digest must look like sha256:HEX"));
            };
            let len = match alg {
                "sha256" => 32,
                "sha384" => 48,
                "sha512" => 64,
                _ => {
                    return Err(ApiError::bad_request(
                        "digest algorithm must be sha256, sha384 or sha512",
                    ));
                }
            };
            match parse_hex(hexd, "digest", len) {
                Ok(k) => (SearchKind::ArtifactDigest, k),
                Err(m) => return Err(ApiError::bad_request(m)),
            }
        }
        (None, Some(h), None) => match parse_hex(&h, "leaf_hash", 32) {
            Ok(k) => (SearchKind::LeafHash, k),
            Err(m) => return Err(ApiError::bad_request(m)),
        },
        (None, None, Some(f)) => match parse_hex(&f, "key_fingerprint", 32) {
            Ok(k) => (SearchKind::KeyFingerprint, k),
            Err(m) => return Err(ApiError::bad_request(m)),
        },
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of digest=sha256:HEX, leaf_hash=HEX, key_fingerprint=HEX",
            ));
        }
    };
    let own = s.own.as_ref().map(|own| own.sequencer.shared().latest());
    let mirror = match &q.log {
        None => None,
        Some(hash) => match crate::mirrors::parse_origin_hash(hash) {
            Some(h) => Some(h),
            None => {
                return Err(ApiError::bad_request(
                    "log must be the SHA-256 of a mirrored origin in lowercase hex",
                ));
            }
        },
    };
    if mirror.is_none() {
        s.own()?;
    }
    let (store, index, own_store) = (
        Arc::clone(&s.store),
        Arc::clone(&s.mirrors),
        s.own_store.clone(),
    );
    let result =
        tokio::task::spawn_blocking(move || -> crate::Result<Option<serde_json::Value>> {
            // The log searched, its size and root, and how far it is indexed.
            let (engine, log, head, indexed): (Arc<dyn LogStore>, _, _, _) = match mirror {
                None => match own {
                    Some(own) => (
                        Arc::clone(own_store.store()),
                        own_store.log(),
                        own,
                        u64::MAX,
                    ),
                    None => return Ok(None),
                },
                Some(hash) => {
                    let Some(log) = index.find(&store, &hash)? else {
                        return Ok(None);
                    };
                    let Some(h) = store.tree_head(log)? else {
                        return Ok(None);
                    };
                    let head = Arc::new(crate::sequencer::SignedHead {
                        size: h.size,
                        root: h.root,
                        note: h.checkpoint,
                        signed_at: std::time::SystemTime::now(),
                    });
                    let indexed = store.indexed_size(log)?;
                    (store, log, head, indexed)
                }
            };
            let indexes = engine.search(log, kind, &key, MAX_SEARCH_RESULTS)?;
            let reader = hash_reader(engine.as_ref(), log, head.size);
            let mut entries = Vec::new();
            for index in indexes
                .into_iter()
                .filter(|i| *i < head.size && *i < indexed)
            {
                let proof = inclusion_proof(index, head.size, &reader)?;
                // The search index says the entry is there: a store that
                // lacks it is inconsistent, never an empty body.
                let body =
                    engine
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
        Ok(Ok(Some(v))) => Ok(json(&v)),
        Ok(Ok(None)) => Err(ApiError::not_found(
            "this log mirrors no origin with that hash",
        )),
        Ok(Err(e)) => Err(e.into()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InclusionQuery {
    index: u64,
    tree_size: Option<u64>,
}

/// `GET /api/v2/islet/proof/inclusion`.
pub(crate) async fn prove_inclusion(
    State(s): State<Arc<AppState>>,
    q: Result<Query<InclusionQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Ok(Query(q)) = q else {
        return Err(ApiError::bad_request(
            "give index=N and optionally tree_size=M (decimal)",
        ));
    };
    let latest = s.own()?.sequencer.shared().latest().size;
    let size = q.tree_size.unwrap_or(latest);
    if size > latest || q.index >= size {
        return Err(ApiError::bad_request(format!(
            "need index < tree_size <= {latest}"
        )));
    }
    let own_store = s.own_store.clone();
    let r = tokio::task::spawn_blocking(move || {
        inclusion_proof(q.index, size, &own_store.hash_reader(latest))
    })
    .await;
    match r {
        Ok(Ok(proof)) => Ok(json(&serde_json::json!({
            "logIndex": q.index.to_string(),
            "treeSize": size.to_string(),
            "hashes": b64_hashes(&proof),
        }))),
        Ok(Err(e)) => Err(e.into()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsistencyQuery {
    first: u64,
    second: Option<u64>,
}

/// `GET /api/v2/islet/proof/consistency`.
pub(crate) async fn prove_consistency(
    State(s): State<Arc<AppState>>,
    q: Result<Query<ConsistencyQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Ok(Query(q)) = q else {
        return Err(ApiError::bad_request(
            "give first=N and optionally second=M (decimal)",
        ));
    };
    let latest = s.own()?.sequencer.shared().latest().size;
    let second = q.second.unwrap_or(latest);
    if q.first == 0 || q.first > second || second > latest {
        return Err(ApiError::bad_request(format!(
            "need 0 < first <= second <= {latest}"
        )));
    }
    let own_store = s.own_store.clone();
    let r = tokio::task::spawn_blocking(move || {
        consistency_proof(q.first, second, &own_store.hash_reader(latest))
    })
    .await;
    match r {
        Ok(Ok(proof)) => Ok(json(&serde_json::json!({
            "first": q.first.to_string(),
            "second": second.to_string(),
            "hashes": b64_hashes(&proof),
        }))),
        Ok(Err(e)) => Err(e.into()),
        Err(e) => Err(e.into()),
    }
}

/// `GET /api/v2/islet/checkpoint/<size>`: the checkpoint signed at a size.
pub(crate) async fn checkpoint_at(
    State(s): State<Arc<AppState>>,
    Path(size): Path<String>,
) -> ApiResult {
    let Some(size) = size
        .parse::<u64>()
        .ok()
        .filter(|_| size == "0" || !size.starts_with('0'))
    else {
        return Err(ApiError::bad_request("size must be a canonical decimal"));
    };
    s.own()?;
    let own_store = s.own_store.clone();
    match tokio::task::spawn_blocking(move || own_store.checkpoint_at(size)).await {
        Ok(Ok(Some(note))) => {
            Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response())
        }
        Ok(Ok(None)) => Err(ApiError::not_found(format!(
            "no checkpoint was signed at size {size}"
        ))),
        Ok(Err(e)) => Err(e.into()),
        Err(e) => Err(e.into()),
    }
}
