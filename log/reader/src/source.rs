//! Reading a tlog-tiles log from a directory or over HTTP(S).
//!
//! Resources are named by typed [`TilePath`]s (or the checkpoint), never by
//! strings from outside, so a directory read can only touch files of the
//! layout. Every read is capped at the largest size the resource can have.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use islet_tlog::note::MAX_NOTE_SIZE;
use islet_tlog::tiles::{
    BundleId, MAX_ENTRY_SIZE, TILE_WIDTH, TileFetcher, TileId, TilePath, bundle_prefix_len,
    for_each_bundle_entry,
};

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
    /// [`Error::Transport`] when the HTTP client cannot be built.
    pub fn from_arg(arg: &str) -> Result<LogSource> {
        Self::from_arg_with_token(arg, None)
    }

    /// As [`LogSource::from_arg`], sending `Authorization: Bearer TOKEN`
    /// with every request to an HTTP(S) log (one whose reads are closed);
    /// a directory ignores the token.
    ///
    /// # Errors
    /// [`Error::Transport`] when the HTTP client cannot be built,
    /// [`Error::Backend`] for a token that is not a header value.
    pub fn from_arg_with_token(arg: &str, token: Option<&str>) -> Result<LogSource> {
        if arg.starts_with("http://") || arg.starts_with("https://") {
            let mut builder = reqwest::Client::builder()
                .timeout(HTTP_TIMEOUT)
                .user_agent(concat!("islet/", env!("CARGO_PKG_VERSION")));
            if let Some(token) = token {
                let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
                    .map_err(|e| Error::Backend {
                        source: Box::new(e),
                    })?;
                value.set_sensitive(true);
                let mut headers = reqwest::header::HeaderMap::new();
                headers.insert(reqwest::header::AUTHORIZATION, value);
                builder = builder.default_headers(headers);
            }
            let client = builder.build().map_err(|source| Error::Transport {
                url: arg.to_owned(),
                source,
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
    /// [`Error::Io`], [`Error::Transport`], [`Error::Status`] for failures other than absence;
    /// [`Error::TooLarge`] when it exceeds [`Resource::max_len`].
    pub async fn fetch(&self, r: Resource) -> Result<Option<Vec<u8>>> {
        let limit = r.max_len();
        match self {
            LogSource::Dir(dir) => {
                let dir = dir.clone();
                blocking(move || {
                    let mut buf = Vec::new();
                    Ok(read_in_dir(&dir, r, &mut buf)?.then_some(buf))
                })
                .await
            }
            LogSource::Http { base, client } => {
                let url = format!("{base}/{}", r.path());
                let transport = |source| Error::Transport {
                    url: url.clone(),
                    source,
                };
                let resp = client.get(&url).send().await.map_err(transport)?;
                let status = resp.status();
                if status == reqwest::StatusCode::NOT_FOUND {
                    return Ok(None);
                }
                if !status.is_success() {
                    return Err(Error::Status {
                        url,
                        status: status.as_u16(),
                    });
                }
                let mut resp = resp;
                // Sized once from Content-Length (within the limit), not
                // grown chunk by chunk: growing copied every bundle twice.
                let declared = resp
                    .content_length()
                    .map_or(0, |n| usize::try_from(n).unwrap_or(limit).min(limit));
                let mut body = Vec::with_capacity(declared);
                while let Some(chunk) = resp.chunk().await.map_err(transport)? {
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
    /// [`Error::Missing`] when neither exists; [`islet_tlog::Error::TileLength`] when the
    /// full tile found is not 8192 bytes.
    pub async fn fetch_tile(&self, tile: TileId) -> Result<Vec<u8>> {
        if let LogSource::Dir(dir) = self {
            let dir = dir.clone();
            return blocking(move || {
                let mut buf = Vec::new();
                read_tile_in_dir(&dir, tile, &mut buf).map(|()| buf)
            })
            .await;
        }
        let r = Resource::Tile(TilePath::Hash(tile));
        if let Some(data) = self.fetch(r).await? {
            return Ok(data);
        }
        if !tile.is_full() {
            let full = Resource::Tile(TilePath::Hash(tile.full()));
            if let Some(mut data) = self.fetch(full).await? {
                cut_full_tile(tile, &mut data, || self.locate(full))?;
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
    /// As [`LogSource::fetch_tile`]; [`islet_tlog::Error::BundleMalformed`] for a full
    /// bundle that does not parse.
    pub async fn fetch_bundle(&self, bundle: BundleId) -> Result<Vec<u8>> {
        if let LogSource::Dir(dir) = self {
            let dir = dir.clone();
            return blocking(move || {
                let mut buf = Vec::new();
                read_bundle_in_dir(&dir, bundle, &mut buf).map(|()| buf)
            })
            .await;
        }
        let r = Resource::Tile(TilePath::Entries(bundle));
        if let Some(data) = self.fetch(r).await? {
            return Ok(data);
        }
        if bundle.width < TILE_WIDTH {
            let full = Resource::Tile(TilePath::Entries(full_bundle(bundle)));
            if let Some(mut data) = self.fetch(full).await? {
                cut_full_bundle(bundle, &mut data)?;
                return Ok(data);
            }
        }
        Err(Error::Missing {
            path: self.locate(r),
        })
    }
}

/// Runs blocking file I/O off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|source| Error::Worker {
            task: "blocking reader",
            source,
        })?
}

fn full_bundle(bundle: BundleId) -> BundleId {
    BundleId {
        width: TILE_WIDTH,
        ..bundle
    }
}

/// Keeps the first `tile.width` hashes of a full tile's bytes.
fn cut_full_tile(
    tile: TileId,
    data: &mut Vec<u8>,
    full_path: impl FnOnce() -> String,
) -> Result<()> {
    if data.len() != tile.full().byte_len() {
        return Err(Error::Tlog(islet_tlog::Error::TileLength {
            path: full_path(),
            expected: tile.full().byte_len(),
            found: data.len(),
        }));
    }
    data.truncate(tile.byte_len());
    Ok(())
}

/// Keeps the first `bundle.width` entries of a full bundle's bytes.
fn cut_full_bundle(bundle: BundleId, data: &mut Vec<u8>) -> Result<()> {
    // The full bundle must itself be well formed.
    for_each_bundle_entry(full_bundle(bundle), data, |_| {})?;
    data.truncate(bundle_prefix_len(bundle, data)?);
    Ok(())
}

/// Reads a resource of a directory log into `buf` (replacing its contents,
/// keeping its allocation); `Ok(false)` when the file does not exist.
///
/// # Errors
/// [`Error::Io`]; [`Error::TooLarge`] over [`Resource::max_len`].
pub fn read_in_dir(dir: &Path, r: Resource, buf: &mut Vec<u8>) -> Result<bool> {
    let path = dir.join(r.path());
    let io = Error::io(&path);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io(e)),
    };
    let limit = r.max_len();
    buf.clear();
    // Read at most one byte past the limit, so a file that grows while we
    // read cannot make us allocate without bound.
    file.take(limit as u64 + 1).read_to_end(buf).map_err(io)?;
    if buf.len() > limit {
        return Err(Error::TooLarge {
            path: path.display().to_string(),
            limit,
        });
    }
    Ok(true)
}

/// Reads a hash tile of a directory log, falling back to the prefix of the
/// full tile when a partial tile's file is gone.
///
/// # Errors
/// As [`LogSource::fetch_tile`].
pub fn read_tile_in_dir(dir: &Path, tile: TileId, buf: &mut Vec<u8>) -> Result<()> {
    let r = Resource::Tile(TilePath::Hash(tile));
    if read_in_dir(dir, r, buf)? {
        return Ok(());
    }
    let full = Resource::Tile(TilePath::Hash(tile.full()));
    if !tile.is_full() && read_in_dir(dir, full, buf)? {
        return cut_full_tile(tile, buf, || dir.join(full.path()).display().to_string());
    }
    Err(Error::Missing {
        path: dir.join(r.path()).display().to_string(),
    })
}

/// Reads an entry bundle of a directory log, falling back to the first
/// entries of the full bundle when a partial bundle's file is gone.
///
/// # Errors
/// As [`LogSource::fetch_bundle`].
pub fn read_bundle_in_dir(dir: &Path, bundle: BundleId, buf: &mut Vec<u8>) -> Result<()> {
    let r = Resource::Tile(TilePath::Entries(bundle));
    if read_in_dir(dir, r, buf)? {
        return Ok(());
    }
    let full = Resource::Tile(TilePath::Entries(full_bundle(bundle)));
    if bundle.width < TILE_WIDTH && read_in_dir(dir, full, buf)? {
        return cut_full_bundle(bundle, buf);
    }
    Err(Error::Missing {
        path: dir.join(r.path()).display().to_string(),
    })
}

/// Hash tiles of a tlog-tiles log, fetched on a (multi-thread) runtime
/// from a thread that is not one of its own.
pub struct SourceTiles<'a> {
    /// The log.
    pub source: &'a LogSource,
    /// Where the fetches run.
    pub runtime: &'a tokio::runtime::Handle,
}

impl TileFetcher for SourceTiles<'_> {
    fn fetch_tiles(&self, tiles: &[TileId]) -> islet_tlog::Result<Vec<Vec<u8>>> {
        self.runtime.block_on(async {
            let mut out = Vec::with_capacity(tiles.len());
            for t in tiles {
                out.push(
                    self.source
                        .fetch_tile(*t)
                        .await
                        .map_err(islet_tlog::Error::from)?,
                );
            }
            Ok(out)
        })
    }
}
