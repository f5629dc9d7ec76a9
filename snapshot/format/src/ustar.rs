//! A strict reader of the tar stream inside a snapshot: one header at a
//! time, each file handed out as a shared slice of the decompressed frames
//! (copied only when it straddles two of them).
//!
//! It reads the headers islet writes (ustar, as POSIX.1-1988 defines them)
//! and the older forms other tools write (GNU, v7), and understands no
//! extension: a GNU long name or a pax header is an entry of its own kind,
//! which the archive reader refuses like a link or a device. Each header's
//! checksum must hold, and sizes must be octal. Nothing is ever written to
//! disk; names are checked by the caller.
//!
//! Every byte consumed counts against a cap that the caller raises once
//! the manifest has said how large the archive is: one byte past it is
//! refused as a zstd bomb, whatever the frames declare.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::{Bytes, BytesMut};

use crate::archive::{Counters, archive};
use crate::error::{Error, Result};
use crate::frames::{FrameReader, refusal};

/// Bytes of a tar block: headers are one block, file data is padded to
/// whole blocks.
pub(crate) const BLOCK: usize = 512;

/// The kind of a tar entry, from its type flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    /// `0` or NUL: a regular file.
    Regular,
    /// Anything else, with what to call it in a refusal.
    Other(&'static str),
}

impl EntryKind {
    fn from_flag(flag: u8) -> EntryKind {
        EntryKind::Other(match flag {
            b'0' | 0 => return EntryKind::Regular,
            b'1' => "hard link",
            b'2' => "symbolic link",
            b'3' => "character device",
            b'4' => "block device",
            b'5' => "directory",
            b'6' => "FIFO",
            b'7' => "contiguous file",
            b'x' | b'g' => "pax extended header",
            b'L' | b'K' => "GNU long name (an extended header)",
            b'S' => "sparse file",
            _ => "special entry",
        })
    }
}

/// One tar header, parsed.
#[derive(Debug)]
pub(crate) struct Header {
    /// The entry's name (the ustar prefix joined to it).
    pub(crate) name: String,
    pub(crate) kind: EntryKind,
    /// Bytes of data that follow.
    pub(crate) size: u64,
}

/// The tar stream of a snapshot, read from its zstd frames.
pub(crate) struct TarStream<R: Read> {
    frames: FrameReader<R>,
    /// What is left of the current chunk.
    chunk: Bytes,
    counters: Arc<Counters>,
}

impl<R: Read> TarStream<R> {
    pub(crate) fn new(input: R, counters: Arc<Counters>) -> Result<Self> {
        Ok(TarStream {
            frames: FrameReader::new(input)
                .map_err(|e| archive(format!("cannot start zstd: {e}")))?,
            chunk: Bytes::new(),
            counters,
        })
    }

    /// Counts `n` bytes as consumed; one past the cap is a bomb.
    fn consume(&self, n: usize) -> Result<()> {
        let c = &self.counters;
        let read = c.read.load(Ordering::Relaxed) + n as u64;
        let limit = c.limit.load(Ordering::Relaxed);
        if read > limit {
            return Err(archive(format!(
                "decompresses past {limit} bytes, more than its files declare (a zstd bomb?)"
            )));
        }
        c.read.store(read, Ordering::Relaxed);
        Ok(())
    }

    /// Makes the current chunk non-empty; false at the end of the stream.
    fn fill(&mut self) -> Result<bool> {
        while self.chunk.is_empty() {
            match self.frames.next_chunk() {
                Ok(Some(chunk)) => self.chunk = chunk,
                Ok(None) => return Ok(false),
                Err(e) => return Err(unreadable(&e)),
            }
        }
        Ok(true)
    }

    /// The next `n` bytes, or `None` if the stream ends first (with
    /// `Some` of what there was).
    fn take(&mut self, n: usize) -> Result<std::result::Result<Bytes, usize>> {
        self.consume(n)?;
        if !self.fill()? {
            return Ok(Err(0));
        }
        if self.chunk.len() >= n {
            return Ok(Ok(self.chunk.split_to(n)));
        }
        let mut joined = BytesMut::with_capacity(n);
        while joined.len() < n {
            if !self.fill()? {
                return Ok(Err(joined.len()));
            }
            let part = self.chunk.len().min(n - joined.len());
            joined.extend_from_slice(&self.chunk.split_to(part));
        }
        Ok(Ok(joined.freeze()))
    }

    /// The next header; `None` at the end-of-archive block (a block of
    /// zeros) or when the stream ends where a header would start.
    pub(crate) fn next_header(&mut self) -> Result<Option<Header>> {
        if !self.fill()? {
            return Ok(None);
        }
        let block = match self.take(BLOCK)? {
            Ok(b) => b,
            Err(got) => {
                return Err(archive(format!(
                    "cannot be read: it ends inside a tar header ({got} of {BLOCK} bytes)"
                )));
            }
        };
        if block.iter().all(|b| *b == 0) {
            return Ok(None);
        }
        parse_header(&block).map(Some)
    }

    /// The `size` bytes of the entry `name`, and the padding after them.
    pub(crate) fn data(&mut self, name: &str, size: u64) -> Result<Bytes> {
        let n = usize::try_from(size)
            .map_err(|_| archive(format!("{name:?} is larger than fits in memory")))?;
        let data = match self.take(n)? {
            Ok(d) => d,
            Err(got) => {
                return Err(archive(format!(
                    "cannot be read: {name} ends after {got} of {size} bytes"
                )));
            }
        };
        let padding = n.div_ceil(BLOCK) * BLOCK - n;
        if padding > 0 && self.take(padding)?.is_err() {
            return Err(archive(format!(
                "cannot be read: {name} ends inside its padding"
            )));
        }
        Ok(data)
    }

    /// After the end-of-archive block: nothing but zeros, at most `slack`
    /// bytes of them, and zstd frames that end cleanly.
    pub(crate) fn expect_only_padding(&mut self, slack: u64) -> Result<()> {
        let mut trailing = 0u64;
        while self.fill()? {
            let chunk = std::mem::take(&mut self.chunk);
            self.consume(chunk.len())?;
            trailing += chunk.len() as u64;
            if trailing > slack {
                return Err(archive(format!(
                    "decompresses past {} bytes, more than its files declare (a zstd bomb?)",
                    self.counters.read.load(Ordering::Relaxed)
                )));
            }
            if chunk.iter().any(|b| *b != 0) {
                return Err(archive("data follows the end of the archive"));
            }
        }
        Ok(())
    }
}

/// The refusal a frame error carries, or the I/O error as it is.
pub(crate) fn unreadable(e: &std::io::Error) -> Error {
    archive(refusal(e).unwrap_or_else(|| format!("cannot be read: {e}")))
}

/// Parses one 512-byte header block.
fn parse_header(block: &[u8]) -> Result<Header> {
    let stored = octal(&block[148..156])
        .ok_or_else(|| archive("cannot be read: a tar header's checksum field is not octal"))?;
    let computed: u64 = block
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                u64::from(b' ')
            } else {
                u64::from(*b)
            }
        })
        .sum();
    if stored != computed {
        return Err(archive(format!(
            "cannot be read: a tar header's checksum is {stored}, its bytes sum to {computed}"
        )));
    }
    let name = field(&block[..100]);
    let ustar = &block[257..263] == b"ustar\0";
    let prefix = if ustar { field(&block[345..500]) } else { &[] };
    let mut full = Vec::with_capacity(prefix.len() + 1 + name.len());
    if !prefix.is_empty() {
        full.extend_from_slice(prefix);
        full.push(b'/');
    }
    full.extend_from_slice(name);
    let name = String::from_utf8(full).map_err(|_| archive("an entry name is not UTF-8"))?;
    let size = octal(&block[124..136])
        .ok_or_else(|| archive(format!("{name:?} has a size field that is not octal")))?;
    Ok(Header {
        kind: EntryKind::from_flag(block[156]),
        name,
        size,
    })
}

/// A NUL-terminated header field.
fn field(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    &bytes[..end]
}

/// An octal header number: optional leading spaces, octal digits, then
/// spaces or NULs to the end of the field. `None` otherwise (base-256
/// numbers included: no size islet accepts needs them).
fn octal(bytes: &[u8]) -> Option<u64> {
    let start = bytes.iter().position(|b| *b != b' ')?;
    let digits = &bytes[start..];
    let end = digits
        .iter()
        .position(|b| *b == 0 || *b == b' ')
        .unwrap_or(digits.len());
    if end == 0 || digits[end..].iter().any(|b| *b != 0 && *b != b' ') {
        return None;
    }
    digits[..end].iter().try_fold(0u64, |n, d| {
        if (b'0'..=b'7').contains(d) {
            n.checked_mul(8)?.checked_add(u64::from(d - b'0'))
        } else {
            None
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{EntryKind, octal, parse_header};

    fn header(name: &str, size: u64, kind: tar::EntryType) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_path(name).unwrap();
        h.set_size(size);
        h.set_entry_type(kind);
        h.set_cksum();
        h
    }

    #[test]
    fn octal_fields_parse_strictly() {
        assert_eq!(octal(b"0000644\0"), Some(0o644));
        assert_eq!(octal(b"  644 \0\0"), Some(0o644));
        assert_eq!(octal(b"00000000017\0"), Some(15));
        assert_eq!(octal(b"0008\0"), None);
        assert_eq!(octal(b"12 3\0"), None);
        assert_eq!(octal(b"\0\0\0\0"), None);
        assert_eq!(octal(b"        "), None);
        assert_eq!(octal(&[0x80, 0, 0, 0, 0, 0, 0, 1]), None);
        assert_eq!(octal(b"7777777777777777777777"), None);
    }

    #[test]
    fn headers_written_by_tar_read_back() {
        for (kind, expected) in [
            (tar::EntryType::Regular, EntryKind::Regular),
            (tar::EntryType::Symlink, EntryKind::Other("symbolic link")),
            (
                tar::EntryType::XHeader,
                EntryKind::Other("pax extended header"),
            ),
        ] {
            let h = header("tile/entries/x001/002.p/9", 12345, kind);
            let parsed = parse_header(h.as_bytes()).unwrap();
            assert_eq!(parsed.name, "tile/entries/x001/002.p/9");
            assert_eq!(parsed.size, 12345);
            assert_eq!(parsed.kind, expected);
        }
        let mut gnu = tar::Header::new_gnu();
        gnu.set_path("checkpoint").unwrap();
        gnu.set_size(7);
        gnu.set_cksum();
        assert_eq!(parse_header(gnu.as_bytes()).unwrap().name, "checkpoint");
    }

    #[test]
    fn a_ustar_prefix_is_joined_to_the_name() {
        let long = format!("tile/{}/000", "x".repeat(120));
        let h = header(&long, 1, tar::EntryType::Regular);
        assert_eq!(parse_header(h.as_bytes()).unwrap().name, long);
    }

    #[test]
    fn a_header_with_a_wrong_checksum_is_refused() {
        let mut h = header("checkpoint", 3, tar::EntryType::Regular);
        h.as_mut_bytes()[0] = b'C';
        let e = parse_header(h.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("checksum"), "{e}");
    }
}
