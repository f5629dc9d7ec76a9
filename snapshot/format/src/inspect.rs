//! Inspect: what a snapshot holds, read from its first two files (the
//! checkpoint and the manifest) without unpacking the rest. With a key,
//! the checkpoint's signature is checked too; nothing else is (import
//! checks everything).

use std::io::Read;

use islet_tlog::checkpoint::{Checkpoint, SignedCheckpoint};
use islet_tlog::note::{MAX_NOTE_SIZE, NoteVerifier};

use crate::PRE_MANIFEST_CAP;
use crate::archive::{Counters, archive};
use crate::error::{Error, Result};
use crate::manifest::{CHECKPOINT_NAME, MANIFEST_NAME, MAX_MANIFEST_BYTES, Manifest};
use crate::ustar::{EntryKind, TarStream};

/// The checkpoint's signature, as far as inspect can tell.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "detail")]
pub enum Signature {
    /// No key was given.
    NotChecked,
    /// It verifies with the key given.
    Verified,
    /// It does not verify with the key given; why.
    Invalid(String),
}

/// What inspect reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Inspection {
    /// The log's origin.
    pub origin: String,
    /// The snapshot's sizes.
    pub from_size: u64,
    /// See `from_size`.
    pub to_size: u64,
    /// The root hash the checkpoint signs, hex.
    pub root: String,
    /// The checkpoint note as it stands in the archive.
    pub checkpoint: String,
    /// The signature check.
    pub signature: Signature,
    /// The log keys the manifest names (informative).
    pub log_keys: Vec<String>,
    /// Files the manifest lists (the manifest itself not counted).
    pub files: usize,
    /// Their bytes in all.
    pub content_bytes: u64,
}

fn read_named<R: Read>(tar: &mut TarStream<R>, name: &str, cap: u64) -> Result<Vec<u8>> {
    let header = tar
        .next_header()?
        .ok_or_else(|| archive(format!("ends before {name:?}")))?;
    if header.kind != EntryKind::Regular || header.name != name {
        return Err(archive(format!(
            "does not start with {CHECKPOINT_NAME:?} and {MANIFEST_NAME:?}"
        )));
    }
    if header.size > cap {
        return Err(archive(format!("{name} is larger than {cap} bytes")));
    }
    Ok(tar.data(name, header.size)?.to_vec())
}

/// Reads the checkpoint and manifest of the snapshot in `reader`.
///
/// # Errors
/// [`Error::Archive`], [`Error::Manifest`], [`Error::Checkpoint`] for a
/// checkpoint that does not parse.
pub fn inspect(reader: impl Read, key: Option<&NoteVerifier>) -> Result<Inspection> {
    let mut tar = TarStream::new(reader, Counters::new(PRE_MANIFEST_CAP))?;
    let cp = read_named(&mut tar, CHECKPOINT_NAME, MAX_NOTE_SIZE as u64)?;
    let manifest = Manifest::parse(&read_named(&mut tar, MANIFEST_NAME, MAX_MANIFEST_BYTES)?)?;
    let text = String::from_utf8_lossy(&cp).into_owned();
    let body = text.split("\n\n").next().unwrap_or_default();
    let checkpoint = Checkpoint::parse(&format!("{body}\n")).map_err(|e| Error::Checkpoint {
        reason: e.to_string(),
    })?;
    let signature = match key {
        None => Signature::NotChecked,
        Some(k) => match SignedCheckpoint::open(&cp, k, &[], Some(&manifest.origin)) {
            Ok(_) => Signature::Verified,
            Err(e) => Signature::Invalid(e.to_string()),
        },
    };
    Ok(Inspection {
        origin: manifest.origin.clone(),
        from_size: manifest.from_size,
        to_size: manifest.to_size,
        root: hex::encode(checkpoint.root),
        checkpoint: text,
        signature,
        log_keys: manifest.log_keys.clone(),
        files: manifest.files.len(),
        content_bytes: manifest.files.iter().map(|f| f.size).sum(),
    })
}
