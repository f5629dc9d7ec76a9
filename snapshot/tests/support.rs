//! Helpers: logs built straight into a store, snapshots taken apart and put
//! back together (for hostile variants).

#![allow(dead_code, missing_docs, clippy::unwrap_used)]

use std::io::Read;
use std::path::Path;

use islet_signer::Ed25519Signer;
use islet_snapshot::export::{ExportRequest, export};
use islet_snapshot::import::{ImportReport, ImportRequest, import};
use islet_store::{CommitBatch, LogNumber, OWN_LOG, Store, TreeHead};
use islet_tlog::checkpoint::Checkpoint;
use islet_tlog::grow::{Grown, LogGrower};
use islet_tlog::note::{NoteSigner, NoteVerifier};
use islet_tlog::tiles::{TileId, TilePath, encode_hash_tile, tiles_for_size};

pub(crate) const ORIGIN: &str = "log.example.org";

pub(crate) fn signer() -> Ed25519Signer {
    Ed25519Signer::from_seed(ORIGIN, &[7; 32]).unwrap()
}

pub(crate) fn entry(tag: &str, i: u64) -> Vec<u8> {
    format!(
        r#"{{"apiVersion":"0.0.2","kind":"test","spec":{{"tag":"{tag}","i":{i},"pad":"{}"}}}}"#,
        "p".repeat((i % 97) as usize)
    )
    .into_bytes()
}

/// Appends entries `tag`-`from..to` to the own log in `store`, committing
/// (with a signed checkpoint) at every size in `checkpoints` and at `to`.
pub(crate) fn grow_own_log(
    store: &Store,
    signer: &dyn NoteSigner,
    tag: &str,
    to: u64,
    checkpoints: &[u64],
) {
    let head = store.tree_head(OWN_LOG).unwrap();
    let from = head.as_ref().map_or(0, |h| h.size);
    assert_eq!(from, 0, "grow_own_log starts an empty log");
    let mut log = LogGrower::new();
    let mut batch = CommitBatch::default();
    for i in from..to {
        log.push(&entry(tag, i), &mut |g| match g {
            Grown::Tile(t, h) => batch.tiles.push((t, encode_hash_tile(h))),
            Grown::Bundle(b, d) => batch.bundles.push((b, bytes::Bytes::copy_from_slice(d))),
        })
        .unwrap();
        let size = i + 1;
        if size == to || checkpoints.contains(&size) {
            let edge = log.edge();
            for (t, h) in edge.tiles {
                batch.tiles.push((t, encode_hash_tile(h)));
            }
            if let Some((b, d)) = edge.bundle {
                batch.bundles.push((b, bytes::Bytes::copy_from_slice(d)));
            }
            let root = log.root();
            let note = Checkpoint {
                origin: ORIGIN.into(),
                size,
                root,
                extensions: vec![],
            }
            .sign(&[signer])
            .unwrap();
            store
                .commit(
                    OWN_LOG,
                    &std::mem::take(&mut batch),
                    &TreeHead {
                        size,
                        root,
                        checkpoint: note,
                    },
                )
                .unwrap();
        }
    }
}

/// A store in `dir/db` holding the own log of `n` entries.
pub(crate) fn source_store(dir: &Path, tag: &str, n: u64, checkpoints: &[u64]) -> Store {
    let store = Store::open(&dir.join("db"), true).unwrap();
    grow_own_log(&store, &signer(), tag, n, checkpoints);
    store
}

pub(crate) fn export_own(store: &Store, from: u64, to: Option<u64>, out: &Path) {
    export(
        &ExportRequest {
            store,
            log: OWN_LOG,
            origin: ORIGIN.into(),
            log_keys: vec![signer().verifier().to_vkey()],
            from,
            to,
            zstd_level: 3,
            progress: false,
        },
        out,
    )
    .unwrap();
}

pub(crate) fn import_file(
    store: &Store,
    key: Option<NoteVerifier>,
    file: &Path,
) -> islet_snapshot::Result<ImportReport> {
    import_bytes(store, key, &std::fs::read(file).unwrap())
}

pub(crate) fn import_bytes(
    store: &Store,
    key: Option<NoteVerifier>,
    bytes: &[u8],
) -> islet_snapshot::Result<ImportReport> {
    import(
        &ImportRequest {
            store,
            key,
            origin: ORIGIN.into(),
            own_origin: None,
            source: "test".into(),
            progress: false,
        },
        bytes,
    )
}

pub(crate) fn key() -> Option<NoteVerifier> {
    Some(signer().verifier())
}

/// Every tile and bundle of a log of `size` entries in `store`.
pub(crate) fn all_files(store: &Store, log: LogNumber, size: u64) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let tiles: Vec<TileId> = tiles_for_size(size).collect();
    for t in &tiles {
        out.push((
            TilePath::Hash(*t).to_string(),
            store.tile_at(log, *t, size).unwrap().unwrap(),
        ));
        if t.level == 0 {
            let b = t.bundle();
            out.push((
                TilePath::Entries(b).to_string(),
                store.bundle_at(log, b, size).unwrap().unwrap(),
            ));
        }
    }
    out
}

/// One archive member: its header and contents.
pub(crate) struct Member {
    pub(crate) header: tar::Header,
    pub(crate) data: Vec<u8>,
}

impl Member {
    pub(crate) fn name(&self) -> String {
        String::from_utf8_lossy(&self.header.path_bytes()).into_owned()
    }
}

/// Takes a snapshot apart.
pub(crate) fn unpack(bytes: &[u8]) -> Vec<Member> {
    let mut tar = tar::Archive::new(zstd::stream::read::Decoder::new(bytes).unwrap());
    let mut out = Vec::new();
    for e in tar.entries().unwrap() {
        let mut e = e.unwrap();
        let header = e.header().clone();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.push(Member { header, data });
    }
    out
}

/// Puts members back together (headers as they are, sizes fixed up unless
/// `keep_sizes`).
pub(crate) fn pack(members: &[Member]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for m in members {
        let mut h = m.header.clone();
        if !matches!(
            h.entry_type(),
            tar::EntryType::Symlink | tar::EntryType::Link
        ) {
            h.set_size(m.data.len() as u64);
        }
        h.set_cksum();
        tar.append(&h, m.data.as_slice()).unwrap();
    }
    let raw = tar.into_inner().unwrap();
    zstd::encode_all(raw.as_slice(), 3).unwrap()
}

/// A header with a raw name (bypassing the tar crate's own path checks).
pub(crate) fn raw_header(name: &[u8], size: u64, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_entry_type(kind);
    h.set_cksum();
    h
}
