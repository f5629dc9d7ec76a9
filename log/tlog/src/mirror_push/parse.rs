//! Reading an `add-entries` body: the header, then the packages one by one.

use super::{
    MAX_BODY_BYTES, MAX_ORIGIN_LEN, MAX_PACKAGES_PER_REQUEST, MAX_PROOF_HASHES, MAX_TICKET_LEN,
    PackageRange, PackageRanges,
};

use crate::checkpoint::MAX_TREE_SIZE;
use crate::error::{Error, Result};
use crate::merkle::{HASH_SIZE, Hash};

/// Reads fields off a body, keeping the absolute offset for errors.
#[derive(Debug, Clone, Copy)]
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    fn u64(&mut self) -> Option<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Some(u64::from_be_bytes(a))
    }
}

fn malformed(offset: usize, package: Option<u64>, reason: impl Into<String>) -> Error {
    Error::MalformedAddEntries {
        offset,
        package,
        reason: reason.into(),
    }
}

/// Reads a big-endian u64 tree size of at most [`MAX_TREE_SIZE`].
fn size_field(c: &mut Cursor<'_>, name: &str) -> Result<u64> {
    let at = c.pos;
    let v = c
        .u64()
        .ok_or_else(|| malformed(at, None, format!("truncated {name}")))?;
    if v > MAX_TREE_SIZE {
        return Err(malformed(at, None, format!("{name} {v} is over 2^63-1")));
    }
    Ok(v)
}

/// A parsed `add-entries` header, with the packages that follow it still
/// unread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddEntries<'a> {
    /// The log's origin (non-empty UTF-8 without control bytes, at most
    /// [`MAX_ORIGIN_LEN`] bytes).
    pub origin: &'a str,
    /// First entry of the upload.
    pub upload_start: u64,
    /// End of the upload: the size of a pending checkpoint.
    pub upload_end: u64,
    /// The opaque ticket from an earlier 409 or 202 (empty at first).
    pub ticket: &'a [u8],
    body: &'a [u8],
    packages_at: usize,
}

impl<'a> AddEntries<'a> {
    /// Parses the header of an `add-entries` body:
    /// `u16 origin_len, origin, u64 upload_start, u64 upload_end, u16
    /// ticket_len, ticket` (big-endian). Nothing after the header is read.
    ///
    /// # Errors
    /// [`Error::AddEntriesTooLarge`] over [`MAX_BODY_BYTES`];
    /// [`Error::MalformedAddEntries`] at the first bad byte: a truncated
    /// field, an empty origin or one over [`MAX_ORIGIN_LEN`], an origin that
    /// is not UTF-8 or has a control byte, a start or end over 2^63−1, a
    /// start past the end, a ticket over [`MAX_TICKET_LEN`].
    pub fn parse_header(body: &'a [u8]) -> Result<AddEntries<'a>> {
        if body.len() > MAX_BODY_BYTES {
            return Err(Error::AddEntriesTooLarge {
                len: body.len(),
                max: MAX_BODY_BYTES,
            });
        }
        let mut c = Cursor { data: body, pos: 0 };
        let origin_len = usize::from(
            c.u16()
                .ok_or_else(|| malformed(0, None, "truncated origin length"))?,
        );
        if origin_len == 0 {
            return Err(malformed(0, None, "origin is empty"));
        }
        if origin_len > MAX_ORIGIN_LEN {
            return Err(malformed(
                0,
                None,
                format!("origin of {origin_len} bytes is over the {MAX_ORIGIN_LEN}-byte limit"),
            ));
        }
        let origin = c.take(origin_len).ok_or_else(|| {
            malformed(
                2,
                None,
                format!(
                    "origin declares {origin_len} bytes but only {} remain",
                    body.len() - 2
                ),
            )
        })?;
        let origin = std::str::from_utf8(origin)
            .map_err(|e| malformed(2 + e.valid_up_to(), None, "origin is not valid UTF-8"))?;
        if let Some(i) = origin.bytes().position(|b| b < 0x20 || b == 0x7f) {
            return Err(malformed(
                2 + i,
                None,
                "origin contains a control byte (it can never be a checkpoint's first line)",
            ));
        }
        let upload_start = size_field(&mut c, "upload_start")?;
        let end_at = c.pos;
        let upload_end = size_field(&mut c, "upload_end")?;
        if upload_start > upload_end {
            return Err(malformed(
                end_at,
                None,
                format!("upload_end {upload_end} is below upload_start {upload_start}"),
            ));
        }
        let ticket_at = c.pos;
        let ticket_len = usize::from(
            c.u16()
                .ok_or_else(|| malformed(ticket_at, None, "truncated ticket length"))?,
        );
        if ticket_len > MAX_TICKET_LEN {
            return Err(malformed(
                ticket_at,
                None,
                format!("ticket of {ticket_len} bytes is over the {MAX_TICKET_LEN}-byte limit"),
            ));
        }
        let ticket = c.take(ticket_len).ok_or_else(|| {
            malformed(
                ticket_at + 2,
                None,
                format!(
                    "ticket declares {ticket_len} bytes but only {} remain",
                    body.len() - (ticket_at + 2)
                ),
            )
        })?;
        Ok(AddEntries {
            origin,
            upload_start,
            upload_end,
            ticket,
            body,
            packages_at: c.pos,
        })
    }

    /// Packages in the complete canonical sequence of this upload (the
    /// body may carry only a prefix of it).
    pub fn package_count(&self) -> u64 {
        self.ranges().remaining()
    }

    /// Offset in the body where the packages begin (the header's length).
    pub fn header_len(&self) -> usize {
        self.packages_at
    }

    fn ranges(&self) -> PackageRanges {
        PackageRanges::new(self.upload_start, self.upload_end)
    }

    /// The packages after the header, read one at a time.
    pub fn packages(&self) -> Packages<'a> {
        Packages {
            cursor: Cursor {
                data: self.body,
                pos: self.packages_at,
            },
            ranges: self.ranges(),
            read: 0,
            state: PackagesState::Reading,
        }
    }
}

/// One package of an `add-entries` body: entries not yet hashed, proof not
/// yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package<'a> {
    /// Where it sits in the log.
    pub range: PackageRange,
    /// The entries `[range.first, range.end)`, borrowed from the body.
    pub entries: Vec<&'a [u8]>,
    /// The subtree consistency proof from `[range.subtree_start, range.end)`
    /// to the tree of size `range.tree_size`.
    pub proof: Vec<Hash>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PackagesState {
    Reading,
    /// Every package of the canonical sequence was read.
    Complete,
    /// The body ended early or broke a rule: nothing more is read.
    Stopped,
}

/// The packages of an `add-entries` body, in order: each item is a whole
/// package or the error at the first bad byte, after which the iterator
/// ends.
///
/// A body may carry only a prefix of the canonical sequence: when it ends
/// exactly between two packages the iterator ends without an error, and
/// [`Packages::is_complete`] says whether every package was there. Bytes
/// after the last package of the sequence are ignored, as the spec says.
#[derive(Debug, Clone)]
pub struct Packages<'a> {
    cursor: Cursor<'a>,
    ranges: PackageRanges,
    read: usize,
    state: PackagesState,
}

impl Packages<'_> {
    /// True once every package of the canonical sequence has been read
    /// (at once for an empty upload).
    pub fn is_complete(&self) -> bool {
        self.state == PackagesState::Complete
            || (self.state == PackagesState::Reading && self.ranges.remaining() == 0)
    }

    /// Offset in the body of the next unread byte.
    pub fn offset(&self) -> usize {
        self.cursor.pos
    }
}

impl<'a> Iterator for Packages<'a> {
    type Item = Result<Package<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.state != PackagesState::Reading {
            return None;
        }
        let Some(range) = self.ranges.clone().next() else {
            self.state = PackagesState::Complete;
            return None;
        };
        if self.cursor.remaining() == 0 {
            // A prefix of the sequence, cut between two packages.
            self.state = PackagesState::Stopped;
            return None;
        }
        self.state = PackagesState::Stopped;
        let pkg = Some(range.index);
        if self.read == MAX_PACKAGES_PER_REQUEST {
            return Some(Err(malformed(
                self.cursor.pos,
                pkg,
                format!("more than {MAX_PACKAGES_PER_REQUEST} packages in one request"),
            )));
        }
        let c = &mut self.cursor;
        let mut entries = Vec::with_capacity(range.entry_count());
        for i in range.entries() {
            let at = c.pos;
            let Some(len) = c.u16() else {
                return Some(Err(malformed(
                    at,
                    pkg,
                    format!("truncated length of entry {i}"),
                )));
            };
            let Some(entry) = c.take(usize::from(len)) else {
                return Some(Err(malformed(
                    at,
                    pkg,
                    format!(
                        "entry {i} declares {len} bytes but only {} remain",
                        c.remaining()
                    ),
                )));
            };
            entries.push(entry);
        }
        let at = c.pos;
        let Some(n) = c.u8() else {
            return Some(Err(malformed(at, pkg, "truncated proof hash count")));
        };
        let n = usize::from(n);
        if n > MAX_PROOF_HASHES {
            return Some(Err(malformed(
                at,
                pkg,
                format!("{n} proof hashes is over the limit of {MAX_PROOF_HASHES}"),
            )));
        }
        let Some(raw) = c.take(n * HASH_SIZE) else {
            return Some(Err(malformed(
                at + 1,
                pkg,
                format!(
                    "proof declares {n} hashes ({} bytes) but only {} bytes remain",
                    n * HASH_SIZE,
                    c.remaining()
                ),
            )));
        };
        let proof = raw
            .chunks_exact(HASH_SIZE)
            .map(|h| {
                let mut a = [0u8; HASH_SIZE];
                a.copy_from_slice(h);
                a
            })
            .collect();
        self.ranges.next();
        self.read += 1;
        self.state = PackagesState::Reading;
        Some(Ok(Package {
            range,
            entries,
            proof,
        }))
    }
}
