//! The RocksDB store: the single source of truth of a data directory.
//!
//! Opening it (the schema is in [`crate::schema`]), its options, and the
//! lock that keeps a second writer out. Reads are in [`crate::read`],
//! commits in [`crate::commit`], mirror records and evidence in
//! [`crate::records`], staging in [`crate::stager`].

use std::path::Path;

use rocksdb::{BlockBasedOptions, Cache, ColumnFamilyDescriptor, DB, Options, WriteBufferManager};

use crate::error::{Error, Result, corrupt, db, db_key};
use crate::schema::{CF_META, CF_SEARCH, CF_TILES, FAMILIES, LogNumber, SCHEMA_VERSION};
use crate::stager::{INGEST_DIR, INGEST_LZ4_ACCELERATION};

/// RocksDB's memory, in one budget: the block cache shared by all column
/// families, to which the memtables ([`MEMTABLE_BYTES`]) and the index and
/// filter blocks are charged too. Index and filter blocks are partitioned
/// and cached with high priority (only their top levels stay pinned), so
/// the dedup index's filters, which grow with the log (Ribbon filters,
/// about 45 MB at 50 million entries), compete for this budget instead of
/// adding to it: a server's memory stays flat as the log grows. Bundles are
/// read around it (see `LogStore::bundle` for RocksDB).
pub const BLOCK_CACHE_BYTES: usize = 144 * 1024 * 1024;
/// The memtables of all column families together, charged to
/// [`BLOCK_CACHE_BYTES`]; past it the largest is flushed.
pub const MEMTABLE_BYTES: usize = 32 * 1024 * 1024;
/// The block cache of a store opened read-only. Its readers (export,
/// verify, mirror list) read each block once or twice, so a large cache
/// only costs memory and time: an export of 1M entries peaked at 606 MB
/// with the 256 MiB cache (cached blocks are kept decompressed) and at
/// 63 MB with this one, and ran faster.
pub const READ_ONLY_BLOCK_CACHE_BYTES: usize = 8 * 1024 * 1024;

/// Block-based table options over `cache`: index and filter blocks
/// partitioned and, when `charged`, kept in the cache and charged to it
/// (see [`BLOCK_CACHE_BYTES`]; a read-only open's small cache holds data
/// blocks only, its table readers keep their index blocks), with
/// a Ribbon filter as selective as a Bloom filter of 10 bits per key (1%
/// false positives, in about 30% less memory) when `filtered`.
fn table_options(cache: &Cache, filtered: bool, charged: bool) -> BlockBasedOptions {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    if filtered {
        table.set_ribbon_filter(10.0);
        table.set_partition_filters(true);
    }
    table.set_index_type(rocksdb::BlockBasedIndexType::TwoLevelIndexSearch);
    if charged {
        table.set_cache_index_and_filter_blocks(true);
        table.set_cache_index_and_filter_blocks_with_high_priority(true);
        table.set_pin_top_level_index_and_filter(true);
        table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    }
    table
}

/// Options of column family `name`, sharing the block-based `table`.
pub(crate) fn family_options(name: &str, table: &BlockBasedOptions) -> Options {
    let mut o = Options::default();
    o.set_compression_type(rocksdb::DBCompressionType::Lz4);
    if name == CF_TILES {
        // Fresh tiles and bundles (hashes, base64) barely compress: LZ4 at
        // flush time took a fifth of a mirror sync's CPU. Deeper levels,
        // rewritten by compaction in the background, still compress.
        use rocksdb::DBCompressionType::{Lz4, None as Plain};
        o.set_compression_per_level(&[Plain, Plain, Lz4, Lz4, Lz4, Lz4, Lz4]);
        // A large import or sync flushes many memtables in a row; merging
        // them as they arrive competed with the sync for the CPU (16% of
        // it at 4 files, 10% at 8). Point lookups with bloom filters stay
        // cheap over more level-0 files: compaction starts at 16 (about
        // 1 GB of fresh tiles), and writes slow down only past 24.
        o.set_level_zero_file_num_compaction_trigger(16);
        o.set_level_zero_slowdown_writes_trigger(24);
    }
    if name == CF_TILES {
        o.set_merge_operator_associative(APPEND_OPERATOR, concatenate);
    }
    o.set_block_based_table_factory(table);
    o
}

/// Name of the merge operator of the `tiles` family: a merge operand is
/// appended to the value (see [`crate::BundleAppend`]). Every open of a
/// store registers it; RocksDB records the name in the store's options.
pub(crate) const APPEND_OPERATOR: &str = "islet.append";

/// The `tiles` family's merge: the stored value followed by the operands.
fn concatenate(
    _key: &[u8],
    stored: Option<&[u8]>,
    operands: &rocksdb::MergeOperands,
) -> Option<Vec<u8>> {
    let stored = stored.unwrap_or_default();
    let len = stored.len() + operands.iter().map(<[u8]>::len).sum::<usize>();
    let mut value = Vec::with_capacity(len);
    value.extend_from_slice(stored);
    for operand in operands {
        value.extend_from_slice(operand);
    }
    Some(value)
}

/// Options of SST files written for ingestion into `tiles`: the family's
/// table format, and LZ4 at `lz4_acceleration` or no compression (an SST
/// writer would otherwise use the last level's compression). Ingested
/// files land at the bottom level and are not compacted again, so what
/// they are written with is how they are stored.
pub(crate) fn ingest_options(table: &BlockBasedOptions, lz4_acceleration: Option<i32>) -> Options {
    let mut o = family_options(CF_TILES, table);
    o.set_compression_per_level(&[]);
    match lz4_acceleration {
        Some(acceleration) => {
            o.set_compression_type(rocksdb::DBCompressionType::Lz4);
            // RocksDB reads a negative level as LZ4's acceleration.
            o.set_compression_options(-14, -acceleration, 0, 0);
        }
        None => o.set_compression_type(rocksdb::DBCompressionType::None),
    }
    o
}

/// The RocksDB store of a data directory.
pub struct Store {
    pub(crate) db: DB,
    /// islet's own lock on a store open for writing (see [`LOCK_FILE`]).
    _lock: Option<std::fs::File>,
    /// Serialises changes to the log registry and the evidence sequence.
    pub(crate) registry: std::sync::Mutex<()>,
    /// Logs with staged rows written without the WAL and not yet flushed
    /// (their next commit flushes first).
    pub(crate) unflushed: std::sync::Mutex<std::collections::HashSet<LogNumber>>,
    /// Options of the SST files of hash tiles written for ingestion.
    pub(crate) ingest_tile_options: Options,
    /// Options of the SST files of bundles written for ingestion.
    pub(crate) ingest_bundle_options: Options,
    /// The number of the own log (see [`crate::shards`]), read at open.
    pub(crate) own_log: std::sync::atomic::AtomicU32,
    /// Numbers the SST files written for ingestion.
    pub(crate) ingest_files: std::sync::atomic::AtomicU64,
    /// Ingestions since the store was opened.
    pub(crate) ingestions: std::sync::atomic::AtomicU64,
    /// Bundles are read without filling the block cache (a store open
    /// for writing, as a server's; a read-only open, as an export's,
    /// reads some bundles more than once and keeps them).
    pub(crate) bundles_bypass_cache: bool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.db.path().display())
    }
}

impl Store {
    /// Opens (creating if `create` is set) the store at `path`.
    ///
    /// # Errors
    /// [`Error::Db`] when RocksDB refuses (including a second process
    /// holding the LOCK), or the schema version differs.
    pub fn open(path: &Path, create: bool) -> Result<Store> {
        Self::open_mode(path, create, false)
    }

    /// Opens the store at `path` for reading only, as of the moment it is
    /// opened. It works beside a running `islet serve` (no LOCK is taken),
    /// so snapshots can be exported from a live log.
    ///
    /// # Errors
    /// [`Error::Db`] when there is no store or the schema differs.
    pub fn open_read_only(path: &Path) -> Result<Store> {
        Self::open_mode(path, false, true)
    }

    /// Waits until RocksDB's background flushes and compactions are done
    /// (memtables flushed first): what a store grown in bulk still owes,
    /// paid before it is measured.
    ///
    /// # Errors
    /// [`Error::Db`].
    pub fn settle(&self) -> Result<()> {
        let mut options = rocksdb::WaitForCompactOptions::default();
        options.set_flush(true);
        self.db
            .wait_for_compact(&options)
            .map_err(db("wait for compactions"))
    }

    /// Flushes every family's memtable and compacts its whole key range:
    /// the store as a server leaves it once its compactions have caught up
    /// (merge operands folded into their values, one sorted run per level).
    ///
    /// # Errors
    /// [`Error::Db`].
    pub fn compact(&self) -> Result<()> {
        for name in FAMILIES {
            let cf = self.cf(name)?;
            self.db.flush_cf(cf).map_err(db("flush"))?;
            self.db.compact_range_cf(cf, None::<&[u8]>, None::<&[u8]>);
        }
        Ok(())
    }

    fn open_mode(path: &Path, create: bool, read_only: bool) -> Result<Store> {
        let mut opts = Options::default();
        opts.create_if_missing(create);
        opts.create_missing_column_families(create);
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        // A process killed while writing a batch's WAL record (RocksDB
        // writes a large record in several system calls) leaves a torn last
        // record. That batch was never synced, so never acknowledged: drop
        // it and open. Corruption anywhere before the tail still refuses to
        // open, and the fork guard refuses a store behind the published
        // checkpoint. (AbsoluteConsistency refused to start after such a
        // crash; the SIGKILL test caught it.)
        opts.set_wal_recovery_mode(rocksdb::DBRecoveryMode::TolerateCorruptedTailRecords);
        opts.set_paranoid_checks(true);
        // Staged rows are written without the WAL and flushed before the
        // commit that makes them the log; column families flush together,
        // so a staged batch's rows and its progress marker (another family)
        // are on disk together or not at all.
        opts.set_atomic_flush(true);
        let cache = Cache::new_lru_cache(if read_only {
            READ_ONLY_BLOCK_CACHE_BYTES
        } else {
            BLOCK_CACHE_BYTES
        });
        if !read_only {
            opts.set_write_buffer_manager(
                &WriteBufferManager::new_write_buffer_manager_with_cache(
                    MEMTABLE_BYTES,
                    false,
                    cache.clone(),
                ),
            );
        }
        let table = table_options(&cache, true, !read_only);
        // The search index is read by prefix (kind and key), never by
        // whole key: a whole-key filter would cost memory for nothing.
        let unfiltered = table_options(&cache, false, !read_only);
        let families = FAMILIES.iter().map(|name| {
            let table = if *name == CF_SEARCH {
                &unfiltered
            } else {
                &table
            };
            ColumnFamilyDescriptor::new(*name, family_options(name, table))
        });
        let lock = if read_only {
            None
        } else {
            Some(take_lock(path, create)?)
        };
        if read_only {
            check_complete(&opts, path)?;
        }
        let opened = if read_only {
            DB::open_cf_descriptors_read_only(&opts, path, families, false)
        } else {
            DB::open_cf_descriptors(&opts, path, families)
        };
        let db = opened.map_err(|source| Error::Open {
            path: path.display().to_string(),
            source,
        })?;
        let ingest_tile_options = ingest_options(&table, None);
        let ingest_bundle_options = ingest_options(&table, Some(INGEST_LZ4_ACCELERATION));
        if !read_only {
            // SST files of a stage that never got ingested (a crash).
            match std::fs::remove_dir_all(path.join(INGEST_DIR)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io(&path.join(INGEST_DIR))(e));
                }
                _ => {}
            }
        }
        let store = Store {
            db,
            _lock: lock,
            registry: std::sync::Mutex::new(()),
            unflushed: std::sync::Mutex::default(),
            ingest_tile_options,
            ingest_bundle_options,
            ingest_files: std::sync::atomic::AtomicU64::new(0),
            ingestions: std::sync::atomic::AtomicU64::new(0),
            own_log: std::sync::atomic::AtomicU32::new(crate::OWN_LOG),
            bundles_bypass_cache: !read_only,
        };
        let meta = store.cf(CF_META)?;
        match store
            .db
            .get_cf(meta, b"schema")
            .map_err(db_key("get", b"schema"))?
        {
            Some(v) if v.as_slice() == SCHEMA_VERSION.to_be_bytes() => {}
            Some(v) => {
                return Err(Error::Schema {
                    found: format!("{v:?}"),
                    expected: SCHEMA_VERSION,
                });
            }
            None if read_only => {
                // Every family exists but the schema was never written: a
                // creation killed after the families and before the schema.
                return Err(Error::NoStore {
                    path: path.display().to_string(),
                    interrupted: true,
                });
            }
            None => {
                store
                    .db
                    .put_cf_opt(
                        meta,
                        b"schema",
                        SCHEMA_VERSION.to_be_bytes(),
                        &Self::synced(),
                    )
                    .map_err(db_key("put", b"schema"))?;
            }
        }
        store.load_own_log()?;
        Ok(store)
    }

    /// Reads `key` from the column family `family`.
    pub(crate) fn get(&self, family: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db
            .get_cf(self.cf(family)?, key)
            .map_err(db_key("get", key))
    }

    /// [`Store::get`] without adding the blocks read to the block cache.
    pub(crate) fn get_uncached(&self, family: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut options = rocksdb::ReadOptions::default();
        options.fill_cache(false);
        self.db
            .get_cf_opt(self.cf(family)?, key, &options)
            .map_err(db_key("get", key))
    }

    /// Every JSON value stored under keys starting with `prefix` in
    /// `family`, in key order; `what` names them in a corruption error.
    pub(crate) fn json_values<T: serde::de::DeserializeOwned>(
        &self,
        family: &str,
        prefix: &[u8],
        what: &'static str,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(
            self.cf(family)?,
            rocksdb::IteratorMode::From(prefix, rocksdb::Direction::Forward),
        ) {
            let (k, v) = item.map_err(crate::error::db("iterate"))?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push(serde_json::from_slice(&v).map_err(|_| corrupt(what))?);
        }
        Ok(out)
    }

    pub(crate) fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| corrupt("missing column family"))
    }
}

/// The file a writable open locks (`flock`), so a second writer is told the
/// store is in use, by a typed error, before RocksDB looks at the store.
pub const LOCK_FILE: &str = "islet.lock";

/// Takes islet's lock on the store at `path`, creating the directory when
/// `create` is set.
fn take_lock(path: &Path, create: bool) -> Result<std::fs::File> {
    if create {
        std::fs::create_dir_all(path).map_err(Error::io(path))?;
    } else if !path.is_dir() {
        return Err(Error::NoStore {
            path: path.display().to_string(),
            interrupted: false,
        });
    }
    let lock_path = path.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(Error::io(&lock_path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked {
            path: path.display().to_string(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&lock_path)(e)),
    }
}

/// Refuses, before a read-only open, a store that was never completed: no
/// directory, a directory without `CURRENT` (RocksDB writes it last), or
/// some of the column families missing (they are created one by one). The
/// next writable open completes such a store.
fn check_complete(opts: &Options, path: &Path) -> Result<()> {
    let no_store = |interrupted| Error::NoStore {
        path: path.display().to_string(),
        interrupted,
    };
    if !path.is_dir() {
        return Err(no_store(false));
    }
    if !path.join("CURRENT").exists() {
        return Err(no_store(true));
    }
    let present = DB::list_cf(opts, path).map_err(|source| Error::Open {
        path: path.display().to_string(),
        source,
    })?;
    if FAMILIES.iter().any(|f| !present.iter().any(|p| p == f)) {
        return Err(no_store(true));
    }
    Ok(())
}
