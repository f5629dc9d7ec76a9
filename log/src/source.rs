//! Reading a tlog-tiles log from a directory or over HTTP(S).
//!
//! Resources are named by typed [`TilePath`]s (or the checkpoint), never by
//! strings from outside, so a directory read can only touch files of the
//! layout. Every read is capped at the largest size the resource can have.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::note::MAX_NOTE_SIZE;
use crate::tiles::{BundleId, MAX_ENTRY_SIZE, TILE_WIDTH, TileId, TilePath, for_each_bundle_entry};

/// Largest entry bundle: 256 entries of at most 65,535 bytes, each with a
/// 2-byte length prefix.
pub const MAX_BUNDLE_BYTES: usize = TILE_WIDTH as usize * (2 + MAX_ENTRY_SIZE);
/// How long one HTTP request may take before it is abandoned.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(60);

/// Where a tlog-tiles log is read from.
#[derive(Debug, Clone)]
pub enum LogSource {
    /// A directory holding `checkpoint` and `tile/…`.
    Dir(PathBuf),
    /// A URL prefix (for example `https://log2025-1.rekor.sigstore.dev/api/v2`).
    Http {
        /// The prefix, without a trailing slash.
        base: String,
        /// Shared connection pool.
        client: reqwest::Client,
    },
}

/// A resource of a tlog-tiles log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// `checkpoint`.
    Checkpoint,
    /// A tile or bundle.
    Tile(TilePath),
}

impl Resource {
    /// Path relative to the log prefix.
    pub fn path(&self) -> String {
        match self {
            Resource::Checkpoint => "checkpoint".to_owned(),
            Resource::Tile(t) => t.to_string(),
        }
    }

    /// The largest size this resource can legitimately have.
    pub fn max_len(&self) -> usize {
        match self {
            Resource::Checkpoint => MAX_NOTE_SIZE,
            Resource::Tile(TilePath::Hash(t)) => t.byte_len(),
            Resource::Tile(TilePath::Entries(_)) => MAX_BUNDLE_BYTES,
        }
    }
}

impl LogSource {
    /// A source from a command-line argument: `http://` or `https://` URLs
    /// are fetched over HTTP, anything else is a directory.
    ///
    /// # Errors
    /// [`Error::Http`] when the HTTP client cannot be built.
    pub fn from_arg(arg: &str) -> Result<LogSource> {
        if arg.starts_with("http://") || arg.starts_with("https://") {
            let client = reqwest::Client::builder()
                .timeout(HTTP_TIMEOUT)
                .user_agent(concat!("islet/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| Error::Http {
                    url: arg.to_owned(),
                    reason: e.to_string(),
                })?;
            Ok(LogSource::Http {
                base: arg.trim_end_matches('/').to_owned(),
                client,
            })
        } else {
            Ok(LogSource::Dir(PathBuf::from(arg)))
        }
    }

    /// Where a resource lives, for messages.
    pub fn locate(&self, r: Resource) -> String {
        match self {
            LogSource::Dir(d) => d.join(r.path()).display().to_string(),
            LogSource::Http { base, .. } => format!("{base}/{}", r.path()),
        }
    }

    /// Fetches a resource; `Ok(None)` when it does not exist (404, no file).
    ///
    /// # Errors
    /// [`Error::Io`] / [`Error::Http`] for failures other than absence;
    /// [`Error::TooLarge`] when it exceeds [`Resource::max_len`].
    pub async fn fetch(&self, r: Resource) -> Result<Option<Vec<u8>>> {
        let limit = r.max_len();
        match self {
            LogSource::Dir(dir) => {
                let path = dir.join(r.path());
                let io = |source| Error::Io {
                    path: path.display().to_string(),
                    source,
                };
                let meta = match tokio::fs::metadata(&path).await {
                    Ok(m) => m,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(io(e)),
                };
                if meta.len() > limit as u64 {
                    return Err(Error::TooLarge {
                        path: path.display().to_string(),
                        limit,
                    });
                }
                tokio::fs::read(&path).await.map(Some).map_err(io)
            }
            LogSource::Http { base, client } => {
                let url = format!("{base}/{}", r.path());
                let http = |reason: String| Error::Http {
                    url: url.clone(),
                    reason,
                };
                let resp = client
                    .get(&url)
                    .send()
                    .await
                    .map_err(|e| http(e.to_string()))?;
                let status = resp.status();
                if status == reqwest::StatusCode::NOT_FOUND {
                    return Ok(None);
                }
                if !status.is_success() {
                    return Err(http(format!("HTTP status {status}")));
                }
                let mut resp = resp;
                let mut body = Vec::new();
                while let Some(chunk) = resp.chunk().await.map_err(|e| http(e.to_string()))? {
                    if body.len() + chunk.len() > limit {
                        return Err(Error::TooLarge { path: url, limit });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(Some(body))
            }
        }
    }

    /// Fetches a resource that must exist.
    ///
    /// # Errors
    /// [`Error::Missing`] when it does not; as [`LogSource::fetch`].
    pub async fn fetch_required(&self, r: Resource) -> Result<Vec<u8>> {
        self.fetch(r).await?.ok_or_else(|| Error::Missing {
            path: self.locate(r),
        })
    }

    /// Fetches a hash tile; a missing partial tile is served from the prefix
    /// of the full tile (logs may delete partials once the full tile exists).
    ///
    /// # Errors
    /// [`Error::Missing`] when neither exists; [`Error::TileLength`] when the
    /// bytes found are not the tile's length.
    pub async fn fetch_tile(&self, tile: TileId) -> Result<Vec<u8>> {
        let r = Resource::Tile(TilePath::Hash(tile));
        if let Some(data) = self.fetch(r).await? {
            return Ok(data);
        }
        if !tile.is_full() {
            let full = Resource::Tile(TilePath::Hash(tile.full()));
            if let Some(mut data) = self.fetch(full).await? {
                if data.len() != tile.full().byte_len() {
                    return Err(Error::TileLength {
                        path: self.locate(full),
                        expected: tile.full().byte_len(),
                        found: data.len(),
                    });
                }
                data.truncate(tile.byte_len());
                return Ok(data);
            }
        }
        Err(Error::Missing {
            path: self.locate(r),
        })
    }

    /// Fetches an entry bundle, falling back from a missing partial bundle
    /// to the first entries of the full one.
    ///
    /// # Errors
    /// As [`LogSource::fetch_tile`]; [`Error::BundleMalformed`] for a full
    /// bundle that does not parse.
    pub async fn fetch_bundle(&self, bundle: BundleId) -> Result<Vec<u8>> {
        let r = Resource::Tile(TilePath::Entries(bundle));
        if let Some(data) = self.fetch(r).await? {
            return Ok(data);
        }
        if bundle.width < TILE_WIDTH {
            let full = BundleId {
                width: TILE_WIDTH,
                ..bundle
            };
            if let Some(data) = self.fetch(Resource::Tile(TilePath::Entries(full))).await? {
                let mut end = 0usize;
                let mut seen = 0u16;
                for_each_bundle_entry(full, &data, |e| {
                    if seen < bundle.width {
                        end += 2 + e.len();
                        seen += 1;
                    }
                })?;
                let mut data = data;
                data.truncate(end);
                return Ok(data);
            }
        }
        Err(Error::Missing {
            path: self.locate(r),
        })
    }
}
