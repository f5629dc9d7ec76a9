//! The local copy a bundle is checked against with `--log`: a data
//! directory (its own log or a mirror, read from the store) or a
//! tlog-tiles log (a directory or a URL, its checkpoint verified with the
//! trusted root's key).

use std::path::Path;

use islet_log::checkpoint::SignedCheckpoint;
use islet_log::merkle::{Hash, HashReader, tree_hash};
use islet_log::note::NoteVerifier;
use islet_log::server::datadir::DataDir;
use islet_log::source::{LogSource, Resource};
use islet_log::store::{LogNumber, OWN_LOG, Store};
use islet_log::tiles::{BundleId, TILE_WIDTH, TileHashReader, parse_bundle, tile_width};

use super::{Check, Failure};
use crate::sync::SourceTiles;

/// Where `--log` points.
pub enum LocalLog {
    /// A data directory, read-only (it may be served at the same time).
    Store {
        /// The store.
        store: Store,
        /// The own log's origin, when it has one.
        own_origin: Option<String>,
    },
    /// A tlog-tiles log.
    Source {
        /// Where it is read from.
        source: LogSource,
        /// Fetches run here.
        runtime: tokio::runtime::Runtime,
        /// Its checkpoint, fetched and verified once per run: the origin
        /// and key it verified for, its size and root.
        head: std::sync::OnceLock<(String, u32, u64, Hash)>,
    },
}

impl std::fmt::Debug for LocalLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LocalLog::Store { own_origin, .. } => write!(f, "LocalLog::Store({own_origin:?})"),
            LocalLog::Source { source, head, .. } => {
                write!(
                    f,
                    "LocalLog::Source({source:?}, {:?})",
                    head.get().map(|h| h.2)
                )
            }
        }
    }
}

/// What the local copy holds of the bundle's log.
struct LocalHead {
    size: u64,
    root: Hash,
}

impl LocalLog {
    /// Opens `arg`: a data directory (it has `db/`), another directory (a
    /// tlog-tiles tree) or an `http(s)://` prefix.
    ///
    /// # Errors
    /// A message saying why it cannot be read.
    pub fn open(arg: &str) -> Result<LocalLog, String> {
        let data = DataDir::new(arg);
        if Path::new(arg).is_dir() && data.db_path().is_dir() {
            let store =
                Store::open_read_only(&data.db_path()).map_err(|e| format!("{arg}: {e}"))?;
            let own_origin = if data.is_initialised() {
                Some(
                    data.load_config()
                        .map_err(|e| format!("{arg}: {e}"))?
                        .origin,
                )
            } else {
                None
            };
            return Ok(LocalLog::Store { store, own_origin });
        }
        if !(arg.starts_with("http://") || arg.starts_with("https://") || Path::new(arg).is_dir()) {
            return Err(format!(
                "{arg}: not a data directory, a tlog-tiles directory or an http(s):// URL"
            ));
        }
        let source = LogSource::from_arg(arg).map_err(|e| e.to_string())?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the runtime: {e}"))?;
        Ok(LocalLog::Source {
            source,
            runtime,
            head: std::sync::OnceLock::new(),
        })
    }

    /// Checks that the local copy of the log `origin` holds `body` at
    /// `index` and that the tree `(size, root)` the bundle's checkpoint
    /// signs is consistent with it. Returns the local size.
    pub(crate) fn check(
        &self,
        origin: &str,
        key: &NoteVerifier,
        index: u64,
        body: &[u8],
        size: u64,
        root: Hash,
    ) -> Result<u64, Failure> {
        match self {
            LocalLog::Store { store, own_origin } => {
                let log = store_log(store, own_origin.as_deref(), origin)?;
                let head = store
                    .tree_head(log)
                    .map_err(|e| io(&e))?
                    .map(|h| LocalHead {
                        size: h.size,
                        root: h.root,
                    })
                    .unwrap_or(LocalHead {
                        size: 0,
                        root: [0; 32],
                    });
                let entry = |i| store.entry(log, i, head.size).map_err(|e| io(&e));
                let reader = store.hash_reader(log, head.size);
                compare(origin, &head, index, body, size, root, entry, &reader)
            }
            LocalLog::Source {
                source,
                runtime,
                head,
            } => {
                let cached = head
                    .get()
                    .filter(|h| h.0 == origin && h.1 == key.key_id())
                    .map(|h| (h.2, h.3));
                let (size_now, root_now) = match cached {
                    Some(h) => h,
                    None => {
                        let note = runtime
                            .block_on(source.fetch_required(Resource::Checkpoint))
                            .map_err(|e| io(&e))?;
                        let signed = SignedCheckpoint::open(&note, key, &[], Some(origin))
                            .map_err(|e| {
                                Failure::new(
                                    Check::LocalConsistency,
                                    format!("the local log's checkpoint does not verify: {e}"),
                                )
                            })?;
                        let (size, root) = (signed.checkpoint.size, signed.checkpoint.root);
                        let _ = head.set((origin.to_owned(), key.key_id(), size, root));
                        (size, root)
                    }
                };
                let head = LocalHead {
                    size: size_now,
                    root: root_now,
                };
                let fetcher = SourceTiles {
                    source,
                    runtime: runtime.handle(),
                };
                let reader = TileHashReader::new(head.size, head.root, &fetcher);
                let entry = |i: u64| {
                    let b = i / u64::from(TILE_WIDTH);
                    let id = BundleId {
                        index: b,
                        width: tile_width(head.size, 0, b).unwrap_or(TILE_WIDTH),
                    };
                    let data = runtime
                        .block_on(source.fetch_bundle(id))
                        .map_err(|e| io(&e))?;
                    let entries = parse_bundle(id, &data).map_err(|e| io(&e))?;
                    Ok(entries
                        .get(usize::try_from(i % u64::from(TILE_WIDTH)).unwrap_or(usize::MAX))
                        .map(|e| e.to_vec()))
                };
                compare(origin, &head, index, body, size, root, entry, &reader)
            }
        }
    }
}

fn io(e: &islet_log::Error) -> Failure {
    Failure::new(Check::LocalLog, format!("reading the local log: {e}"))
}

fn store_log(store: &Store, own: Option<&str>, origin: &str) -> Result<LogNumber, Failure> {
    if own == Some(origin) {
        return Ok(OWN_LOG);
    }
    match store.mirror(origin).map_err(|e| io(&e))? {
        Some(r) => Ok(r.number),
        None => Err(Failure::new(
            Check::LocalEntry,
            format!("the local data directory holds no log of origin {origin}"),
        )),
    }
}

#[allow(clippy::too_many_arguments)]
fn compare(
    origin: &str,
    head: &LocalHead,
    index: u64,
    body: &[u8],
    size: u64,
    root: Hash,
    entry: impl Fn(u64) -> Result<Option<Vec<u8>>, Failure>,
    reader: &dyn HashReader,
) -> Result<u64, Failure> {
    if index >= head.size {
        return Err(Failure::new(
            Check::LocalBehind,
            format!(
                "the local copy of {origin} holds {} entries; the entry is at index {index} (sync the mirror first)",
                head.size
            ),
        ));
    }
    match entry(index)? {
        Some(local) if local == body => {}
        Some(_) => {
            return Err(Failure::new(
                Check::LocalEntry,
                format!("the local log holds another entry at index {index}"),
            ));
        }
        None => {
            return Err(Failure::new(
                Check::LocalEntry,
                format!("the local log has no entry at index {index}"),
            ));
        }
    }
    if size > head.size {
        return Err(Failure::new(
            Check::LocalBehind,
            format!(
                "the local copy of {origin} (size {}) is older than the bundle's checkpoint (size {size}): consistency cannot be checked (sync the mirror first)",
                head.size
            ),
        ));
    }
    let local_root = if size == head.size {
        head.root
    } else {
        tree_hash(size, reader).map_err(|e| io(&e))?
    };
    if local_root != root {
        return Err(Failure::new(
            Check::LocalConsistency,
            format!(
                "the bundle's checkpoint (size {size}, root {}) is not consistent with the local log, whose tree at {size} has root {}",
                hex::encode(root),
                hex::encode(local_root)
            ),
        ));
    }
    Ok(head.size)
}
