//! Serving mirrored logs: each at `/mirror/<hex SHA-256 of its origin>/`
//! with the tlog-tiles routes (the C2SP tlog-mirror monitoring prefix), as
//! of the mirror's committed size.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use sha2::{Digest, Sha256};

use crate::api::{ApiError, ApiResult};
use crate::error::{Error, Result};
use crate::http::AppState;
use crate::read::{TileSource, serve_tile};
use islet_store::{LogNumber, Store};
use islet_tlog::merkle::Hash;

/// The mirrors a store holds, by SHA-256 of their origin. A hash it does
/// not know makes it read the store's list again, so mirrors created while
/// serving (by an import or a sync) are found.
#[derive(Debug, Default)]
pub struct MirrorIndex {
    by_hash: RwLock<HashMap<Hash, LogNumber>>,
}

impl MirrorIndex {
    /// Reads the store's list of mirrors.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn load(store: &Store) -> Result<MirrorIndex> {
        let index = MirrorIndex::default();
        index.reload(store)?;
        Ok(index)
    }

    fn reload(&self, store: &Store) -> Result<()> {
        let fresh: HashMap<Hash, LogNumber> = store
            .mirrors()?
            .into_iter()
            .map(|r| (Sha256::digest(r.origin.as_bytes()).into(), r.number))
            .collect();
        if let Ok(mut map) = self.by_hash.write() {
            *map = fresh;
        }
        Ok(())
    }

    /// The log of the origin whose hash is `hash`.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn find(&self, store: &Store, hash: &Hash) -> Result<Option<LogNumber>> {
        let known = self.by_hash.read().ok().and_then(|m| m.get(hash).copied());
        if known.is_some() {
            return Ok(known);
        }
        self.reload(store)?;
        Ok(self.by_hash.read().ok().and_then(|m| m.get(hash).copied()))
    }
}

/// The `<origin hash>` path segment of a mirrored log: lowercase hex of
/// SHA-256 of its origin (C2SP tlog-mirror).
pub fn origin_hash_hex(origin: &str) -> String {
    hex::encode(origin_hash(origin))
}

/// SHA-256 of an origin.
pub(crate) fn origin_hash(origin: &str) -> Hash {
    Sha256::digest(origin.as_bytes()).into()
}

/// Parses the `<origin hash>` path segment: 64 lowercase hex digits.
pub(crate) fn parse_origin_hash(s: &str) -> Option<Hash> {
    if s.len() != 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    hex::decode(s).ok()?.try_into().ok()
}

/// The mirror named by the path and its committed size and checkpoint,
/// or the response that says why there is none.
async fn find(s: &AppState, origin_hash: &str) -> Result<(LogNumber, u64, Vec<u8>), ApiError> {
    let Some(hash) = parse_origin_hash(origin_hash) else {
        return Err(ApiError::bad_request(
            "a mirror is named by the SHA-256 of its origin in lowercase hex",
        ));
    };
    let (store, index) = (Arc::clone(&s.store), Arc::clone(&s.mirrors));
    let found = tokio::task::spawn_blocking(move || -> Result<_> {
        let Some(log) = index.find(&store, &hash)? else {
            return Ok(None);
        };
        Ok(store.tree_head(log)?.map(|h| (log, h.size, h.checkpoint)))
    })
    .await?
    .map_err(|e| ApiError::internal(&e))?;
    found.ok_or_else(|| {
        ApiError::not_found(format!(
            "this log mirrors no origin with hash {origin_hash}"
        ))
    })
}

/// `GET /mirror/<hash>/checkpoint`: the log's checkpoint with the mirror's
/// `cosignature/v1` line added (C2SP tlog-mirror: "durably stored and
/// served up to this size"; the tree head is committed before it is ever
/// served).
pub(crate) async fn checkpoint(
    State(s): State<Arc<AppState>>,
    Path(origin_hash): Path<String>,
) -> ApiResult {
    let (_, _, note) = find(&s, &origin_hash).await?;
    let cosigned = s.mirror_signer.cosign(&note)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        cosigned,
    )
        .into_response())
}

/// `GET /mirror/<hash>/tile/…`.
pub(crate) async fn tile(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((origin_hash, rest)): Path<(String, String)>,
) -> ApiResult {
    let (log, size, _) = find(&s, &origin_hash).await?;
    serve_tile(&s.tiles, TileSource::local(&s, log, size), &rest, &headers).await
}

/// Entries indexed per store batch.
pub const INDEX_BATCH_ENTRIES: u64 = 4096;
/// How often `islet serve` looks for mirror entries to index.
pub const INDEX_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Brings the search index of every mirror up to its committed size;
/// returns the entries indexed. Leaf hashes are indexed for every entry,
/// artifact digests and key fingerprints for Rekor v2 bodies.
///
/// # Errors
/// [`Error::Store`].
pub fn index_mirrors(store: &Store) -> Result<u64> {
    use islet_rekor::index::entry_keys;
    use islet_store::SearchKind;
    use islet_tlog::merkle::leaf_hash;
    use islet_tlog::tiles::{BundleId, TILE_WIDTH, for_each_bundle_entry, tile_width};
    let mut done = 0;
    for record in store.mirrors()? {
        let Some(head) = store.tree_head(record.number)? else {
            continue;
        };
        let mut next = store.indexed_size(record.number)?;
        while next < head.size {
            let end = (next + INDEX_BATCH_ENTRIES).min(head.size);
            let mut rows = Vec::new();
            let mut index = next;
            while index < end {
                let b = index / u64::from(TILE_WIDTH);
                let id = BundleId {
                    index: b,
                    width: tile_width(head.size, 0, b).unwrap_or(TILE_WIDTH),
                };
                let data = store
                    .bundle_at(record.number, id, head.size)?
                    .ok_or_else(|| Error::Inconsistent {
                        what: format!("{id} of {} is missing", record.origin),
                    })?;
                let first = b * u64::from(TILE_WIDTH);
                let mut position = first;
                for_each_bundle_entry(id, &data, |e| {
                    if position >= index && position < end {
                        rows.push((SearchKind::LeafHash, leaf_hash(e).to_vec(), position));
                        let keys = entry_keys(e);
                        if let Some(d) = keys.artifact_digest {
                            rows.push((SearchKind::ArtifactDigest, d, position));
                        }
                        for fp in keys.key_fingerprints {
                            rows.push((SearchKind::KeyFingerprint, fp.to_vec(), position));
                        }
                    }
                    position += 1;
                })?;
                index = position.min(end);
            }
            store.add_to_index(record.number, &rows, end)?;
            done += end - next;
            next = end;
        }
    }
    Ok(done)
}

/// Runs [`index_mirrors`] every [`INDEX_INTERVAL`] on a thread of its own,
/// so mirrors imported or synced while serving become searchable.
///
/// # Errors
/// [`Error::Thread`] when the thread cannot start.
pub fn spawn_indexer(store: Arc<Store>) -> Result<()> {
    std::thread::Builder::new()
        .name("islet-mirror-index".into())
        .spawn(move || {
            loop {
                if let Err(e) = index_mirrors(&store) {
                    eprintln!("islet: indexing mirrors failed: {e}");
                }
                std::thread::sleep(INDEX_INTERVAL);
            }
        })
        .map(drop)
        .map_err(|e| Error::Thread {
            thread: "mirror indexer",
            reason: format!("cannot start: {e}"),
        })
}
