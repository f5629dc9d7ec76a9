//! The record file: two slots of equal size, written in turn in place.
//!
//! Each slot holds one record: a header line, the signed checkpoint, and
//! zeros to the end of the slot. The header names the record's sequence
//! number, the note's length and a SHA-256 of both:
//!
//! ```text
//! islet-guard-1 00000000000000000042 0000000312 <64 hex digits>\n<note>\0\0\0…
//! ```
//!
//! A record is written over the older slot (`pwrite`, then `fdatasync`),
//! so the newer slot stays whole while the other is written: a crash in
//! the middle leaves one intact record, the latest or the one before it,
//! and the torn slot fails its checksum. Reading takes the intact slot with
//! the higher sequence number. Per batch this costs one write and one
//! `fdatasync` of a file whose size does not change, instead of creating,
//! syncing and renaming a file and syncing its directory.
//!
//! The file is created (or grown, when a note outgrows its slots) the slow
//! way: a temporary file, fsync, rename, fsync of the directory. A record
//! from before slots (the whole file one note) is read as such, and
//! replaced by a slotted file at the first write.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// What every slot starts with.
const MAGIC: &[u8] = b"islet-guard-1 ";
/// The header: magic, sequence (20 digits), space, length (10 digits),
/// space, SHA-256 (64 hex digits), newline.
pub(crate) const HEADER_BYTES: usize = MAGIC.len() + 20 + 1 + 10 + 1 + 64 + 1;
/// Slots are whole pages: the smallest is one.
pub(crate) const SLOT_ALIGN: usize = 4096;

/// What the record file holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Recorded<'a> {
    /// A file from before slots: the whole file is the note.
    Whole(&'a [u8]),
    /// The newest intact slot.
    Slot {
        /// Which slot (0 or 1).
        index: usize,
        /// Its sequence number.
        seq: u64,
        /// The signed checkpoint.
        note: &'a [u8],
        /// The size of each slot.
        slot_bytes: usize,
    },
}

/// Reads the record file's bytes.
///
/// # Errors
/// A description of why a slotted file has no intact slot.
pub(crate) fn parse(raw: &[u8]) -> std::result::Result<Recorded<'_>, String> {
    let half = raw.len() / 2;
    let slotted = raw.len().is_multiple_of(2)
        && half >= SLOT_ALIGN
        && (raw.starts_with(MAGIC) || raw[half..].starts_with(MAGIC));
    if !slotted {
        return Ok(Recorded::Whole(raw));
    }
    let slots = [&raw[..half], &raw[half..]];
    let mut newest: Option<(usize, u64, &[u8])> = None;
    let mut problems = Vec::new();
    for (index, slot) in slots.iter().enumerate() {
        match parse_slot(slot) {
            Ok((seq, note)) => {
                if newest.is_none_or(|(_, s, _)| seq > s) {
                    newest = Some((index, seq, note));
                }
            }
            Err(why) => problems.push(format!("slot {index}: {why}")),
        }
    }
    match newest {
        Some((index, seq, note)) => Ok(Recorded::Slot {
            index,
            seq,
            note,
            slot_bytes: half,
        }),
        None => Err(format!(
            "neither slot holds an intact record ({})",
            problems.join("; ")
        )),
    }
}

/// One slot's sequence number and note, if its header and checksum hold.
fn parse_slot(slot: &[u8]) -> std::result::Result<(u64, &[u8]), &'static str> {
    if slot.iter().all(|&b| b == 0) {
        return Err("empty");
    }
    let header = slot
        .get(..HEADER_BYTES)
        .filter(|h| h.starts_with(MAGIC) && h[HEADER_BYTES - 1] == b'\n')
        .ok_or("no header")?;
    let fields = std::str::from_utf8(&header[MAGIC.len()..HEADER_BYTES - 1])
        .map_err(|_| "header is not text")?;
    let mut fields = fields.split(' ');
    let (Some(seq), Some(len), Some(sum), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err("malformed header");
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(seq, 20) || !digits(len, 10) || sum.len() != 64 {
        return Err("malformed header");
    }
    let seq: u64 = seq.parse().map_err(|_| "malformed header")?;
    let len: usize = len.parse().map_err(|_| "malformed header")?;
    let note = slot
        .get(HEADER_BYTES..)
        .and_then(|rest| rest.get(..len))
        .ok_or("the note runs past the slot")?;
    if hex::encode(checksum(seq, note)) != sum {
        return Err("checksum mismatch (a torn write)");
    }
    Ok((seq, note))
}

fn checksum(seq: u64, note: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(seq.to_le_bytes());
    h.update(note);
    h.finalize().into()
}

/// The bytes of one slot holding `note` at sequence `seq`.
fn slot_bytes_of(seq: u64, note: &[u8], slot_bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(slot_bytes);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(
        format!(
            "{seq:020} {:010} {}\n",
            note.len(),
            hex::encode(checksum(seq, note))
        )
        .as_bytes(),
    );
    out.extend_from_slice(note);
    out.resize(slot_bytes, 0);
    out
}

/// The slot size a file made for `note` gets: whole pages.
fn slot_size_for(note: &[u8]) -> usize {
    (HEADER_BYTES + note.len()).div_ceil(SLOT_ALIGN) * SLOT_ALIGN
}

/// The open record file, ready for the next record.
#[derive(Debug)]
pub(crate) struct Writer {
    file: File,
    slot_bytes: usize,
    next_slot: usize,
    next_seq: u64,
}

impl Writer {
    /// Opens an existing slotted file for writing after its newest record,
    /// or `None` when there is no file, no slots or no intact slot (the
    /// caller then creates one).
    ///
    /// # Errors
    /// [`Error::Io`] other than the file missing.
    pub(crate) fn open(path: &Path) -> Result<Option<Writer>> {
        let file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(path)(e)),
        };
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut &file, &mut raw).map_err(Error::io(path))?;
        Ok(match parse(&raw) {
            Ok(Recorded::Slot {
                index,
                seq,
                slot_bytes,
                ..
            }) => Some(Writer {
                file,
                slot_bytes,
                next_slot: 1 - index,
                next_seq: seq + 1,
            }),
            Ok(Recorded::Whole(_)) | Err(_) => None,
        })
    }

    /// Creates the file at `path` holding `note` in slot 0 (sequence
    /// `seq`) and an empty slot 1: temporary file, fsync, rename, fsync of
    /// the directory.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub(crate) fn create(path: &Path, note: &[u8], seq: u64) -> Result<Writer> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let tmp = path.with_extension("tmp");
        let slot_bytes = slot_size_for(note);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(Error::io(&tmp))?;
        let mut bytes = slot_bytes_of(seq, note, slot_bytes);
        bytes.resize(2 * slot_bytes, 0);
        file.write_all_at(&bytes, 0).map_err(Error::io(&tmp))?;
        file.sync_all().map_err(Error::io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(Error::io(path))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(Error::io(dir))?;
        Ok(Writer {
            file,
            slot_bytes,
            next_slot: 1,
            next_seq: seq + 1,
        })
    }

    /// The sequence number the next record gets.
    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Whether `note` fits in a slot of this file.
    pub(crate) fn fits(&self, note: &[u8]) -> bool {
        HEADER_BYTES + note.len() <= self.slot_bytes
    }

    /// Writes `note` over the older slot and syncs it. The caller checked
    /// [`Writer::fits`].
    ///
    /// # Errors
    /// [`Error::Io`]; the writer must not be used after one (the slot it
    /// wrote may be torn, and the next record must go to the same slot).
    pub(crate) fn write(&mut self, path: &Path, note: &[u8]) -> Result<()> {
        let bytes = slot_bytes_of(self.next_seq, note, self.slot_bytes);
        let offset = (self.next_slot * self.slot_bytes) as u64;
        self.file
            .write_all_at(&bytes, offset)
            .map_err(Error::io(path))?;
        self.file.sync_data().map_err(Error::io(path))?;
        self.next_slot = 1 - self.next_slot;
        self.next_seq += 1;
        Ok(())
    }
}
