//! `islet-snapshot.json`: what a snapshot holds, and which files a snapshot
//! from one size to another must hold (no more, no fewer).
//!
//! Files stand in the archive, and in the manifest's list, in *archive
//! order*: the checkpoint, the manifest, hash tiles by level and index, then
//! entry bundles by index. For logs under 2^28 entries this is the byte
//! order of the names; past that, `x001/x000/000` sorts before `x999/999`
//! as a string, and archive order keeps bundles in index order so import
//! can stream them.

use islet_tlog::tiles::{TilePath, new_tiles};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Name of the manifest inside the archive.
pub const MANIFEST_NAME: &str = "islet-snapshot.json";
/// Name of the signed checkpoint inside the archive.
pub const CHECKPOINT_NAME: &str = "checkpoint";
/// The manifest format this version reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// Most files one snapshot may list: a snapshot of 2^25 entries (33
/// million) lists about 262,000 tiles and bundles. Larger logs are carried
/// as a full snapshot and increments, which keeps import's memory bounded
/// (the manifest is held in memory while the files stream past).
pub const MAX_FILES: usize = 1 << 18;
/// Largest manifest accepted: [`MAX_FILES`] entries of at most about 128
/// bytes of compact JSON.
pub const MAX_MANIFEST_BYTES: u64 = 32 * 1024 * 1024;

/// One file of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Path inside the archive.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the contents, lowercase hex.
    pub sha256: String,
}

/// The manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// The log's checkpoint origin.
    pub origin: String,
    /// The log's verifier keys as the exporter knew them. Informative only:
    /// import verifies with keys given on its command line or pinned.
    pub log_keys: Vec<String>,
    /// Size of the log the snapshot extends (0 for a full snapshot).
    pub from_size: u64,
    /// Size of the log after it; the checkpoint is of this size.
    pub to_size: u64,
    /// Every other file of the archive, in archive order.
    pub files: Vec<FileEntry>,
}

/// What one file of a snapshot is. The order of the variants (and of
/// [`TilePath`]) is archive order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileKind {
    /// The signed checkpoint.
    Checkpoint,
    /// The manifest.
    Manifest,
    /// A hash tile or an entry bundle.
    Tile(TilePath),
}

impl FileKind {
    /// The name inside the archive.
    pub fn name(&self) -> String {
        match self {
            FileKind::Checkpoint => CHECKPOINT_NAME.to_owned(),
            FileKind::Manifest => MANIFEST_NAME.to_owned(),
            FileKind::Tile(p) => p.to_string(),
        }
    }
}

/// The files a snapshot from `from` to `to` entries holds besides the
/// manifest, in archive order: the checkpoint, every hash tile that is new
/// or grown (x/mod `NewTiles`), and the entry bundle of every such level-0
/// tile.
pub fn expected_files(from: u64, to: u64) -> Vec<FileKind> {
    let tiles = new_tiles(from, to);
    let mut out = Vec::with_capacity(1 + tiles.len() * 2);
    out.push(FileKind::Checkpoint);
    out.extend(tiles.iter().map(|t| FileKind::Tile(TilePath::Hash(*t))));
    out.extend(
        tiles
            .iter()
            .filter(|t| t.level == 0)
            .map(|t| FileKind::Tile(TilePath::Entries(t.bundle()))),
    );
    out.sort();
    out
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::Manifest {
        reason: reason.into(),
    }
}

impl Manifest {
    /// Parses and checks a manifest: known version, sizes in order, files
    /// sorted and unique, and exactly the files a snapshot from `from_size`
    /// to `to_size` must hold, each with a well-formed digest.
    ///
    /// # Errors
    /// [`Error::Manifest`] naming the first problem.
    pub fn parse(bytes: &[u8]) -> Result<Manifest> {
        let m: Manifest = serde_json::from_slice(bytes)
            .map_err(|e| invalid(format!("{MANIFEST_NAME} is not a valid manifest: {e}")))?;
        if m.version != FORMAT_VERSION {
            return Err(invalid(format!(
                "version {} is not {FORMAT_VERSION}, the one this islet reads",
                m.version
            )));
        }
        if m.from_size > m.to_size {
            return Err(invalid(format!(
                "from_size {} is past to_size {}",
                m.from_size, m.to_size
            )));
        }
        if m.files.len() > MAX_FILES {
            return Err(invalid(format!(
                "lists {} files; at most {MAX_FILES} are accepted",
                m.files.len()
            )));
        }
        let expected = expected_files(m.from_size, m.to_size);
        for (i, want) in expected.iter().enumerate() {
            let want = want.name();
            match m.files.get(i) {
                Some(f) if f.name == want => {}
                Some(f) => {
                    return Err(invalid(format!(
                        "lists {:?} where a snapshot from {} to {} holds {want:?}",
                        f.name, m.from_size, m.to_size
                    )));
                }
                None => {
                    return Err(invalid(format!(
                        "does not list {want:?}, which a snapshot from {} to {} holds",
                        m.from_size, m.to_size
                    )));
                }
            }
        }
        if let Some(extra) = m.files.get(expected.len()) {
            return Err(invalid(format!(
                "lists {:?}, which a snapshot from {} to {} does not hold",
                extra.name, m.from_size, m.to_size
            )));
        }
        for f in &m.files {
            if f.sha256.len() != 64
                || !f
                    .sha256
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err(invalid(format!(
                    "the digest of {:?} is not 64 lowercase hex digits",
                    f.name
                )));
            }
        }
        Ok(m)
    }

    /// The manifest's JSON bytes (compact, with a final newline).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_full_snapshot_of_300_holds_the_tiles_of_the_spec_layout() {
        let names: Vec<String> = expected_files(0, 300).iter().map(FileKind::name).collect();
        assert_eq!(
            names,
            [
                "checkpoint",
                "tile/0/000",
                "tile/0/001.p/44",
                "tile/1/000.p/1",
                "tile/entries/000",
                "tile/entries/001.p/44",
            ]
        );
    }

    #[test]
    fn archive_order_keeps_bundles_in_index_order_past_a_million_bundles() {
        let from = 999_999 * 256;
        let names: Vec<String> = expected_files(from, from + 512)
            .iter()
            .map(FileKind::name)
            .collect();
        let bundles: Vec<&String> = names
            .iter()
            .filter(|n| n.starts_with("tile/entries/"))
            .collect();
        assert_eq!(
            bundles,
            ["tile/entries/x999/999", "tile/entries/x001/x000/000"]
        );
    }

    #[test]
    fn an_increment_holds_only_new_and_grown_tiles() {
        let names: Vec<String> = expected_files(300, 600)
            .iter()
            .map(FileKind::name)
            .collect();
        assert_eq!(
            names,
            [
                "checkpoint",
                "tile/0/001",
                "tile/0/002.p/88",
                "tile/1/000.p/2",
                "tile/entries/001",
                "tile/entries/002.p/88",
            ]
        );
        assert_eq!(expected_files(600, 600), [FileKind::Checkpoint]);
    }

    fn manifest(from: u64, to: u64) -> Manifest {
        Manifest {
            version: FORMAT_VERSION,
            origin: "example.org".into(),
            log_keys: vec![],
            from_size: from,
            to_size: to,
            files: expected_files(from, to)
                .iter()
                .map(|k| FileEntry {
                    name: k.name(),
                    size: 1,
                    sha256: "0".repeat(64),
                })
                .collect(),
        }
    }

    #[test]
    fn a_manifest_must_list_exactly_the_expected_files() {
        let good = manifest(300, 600);
        assert_eq!(Manifest::parse(&good.to_bytes()).unwrap(), good);
        let mut extra = good.clone();
        extra.files.push(FileEntry {
            name: "tile/0/003".into(),
            size: 1,
            sha256: "0".repeat(64),
        });
        let e = Manifest::parse(&extra.to_bytes()).unwrap_err().to_string();
        assert!(e.contains("does not hold"), "{e}");
        let mut missing = good.clone();
        missing.files.remove(1);
        let e = Manifest::parse(&missing.to_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains("lists \"tile/0/002.p/88\" where"), "{e}");
        let mut short = good.clone();
        short.files.pop();
        let e = Manifest::parse(&short.to_bytes()).unwrap_err().to_string();
        assert!(e.contains("does not list \"tile/entries/002.p/88\""), "{e}");
        let mut unsorted = good.clone();
        unsorted.files.swap(1, 2);
        let e = Manifest::parse(&unsorted.to_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains("where a snapshot from 300 to 600 holds"), "{e}");
        let mut dup = good.clone();
        dup.files[2] = dup.files[1].clone();
        assert!(Manifest::parse(&dup.to_bytes()).is_err());
        let mut digest = good.clone();
        digest.files[1].sha256 = "A".repeat(64);
        let e = Manifest::parse(&digest.to_bytes()).unwrap_err().to_string();
        assert!(e.contains("lowercase hex"), "{e}");
        let mut sizes = good.clone();
        sizes.from_size = 601;
        assert!(Manifest::parse(&sizes.to_bytes()).is_err());
        let mut version = good;
        version.version = 2;
        let e = Manifest::parse(&version.to_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains("version 2"), "{e}");
        let unknown = br#"{"version":1,"origin":"o","log_keys":[],"from_size":0,"to_size":0,"files":[],"x":1}"#;
        let e = Manifest::parse(unknown).unwrap_err().to_string();
        assert!(e.contains("unknown field"), "{e}");
    }
}
