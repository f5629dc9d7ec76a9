//! C2SP tlog-mirror push (`../shared/specs/c2sp.md` §9): the `add-entries`
//! request codec, the check of each pushed package against the pending
//! checkpoint, the `text/x.tlog.mirror-info` body, and the mirror's
//! `add-checkpoint` decision (which moves the *pending* checkpoint).
//!
//! A push goes in three steps. `add-checkpoint` moves the pending checkpoint
//! ([`decide_pending`]). `add-entries` uploads entries up to a pending size:
//! the server reads the header ([`AddEntries::parse_header`]), checks it
//! against its state ([`check_upload`]), then takes the packages one by one
//! ([`AddEntries::packages`]) and refuses any package whose entries do not
//! hash into a subtree consistent with the pending root
//! ([`verify_package`]) before storing anything of it. Once every entry up
//! to the pending size is stored, the mirror commits and cosigns.
//!
//! The push client builds the same bodies with [`encode_header`],
//! [`package_ranges`] and [`encode_package`].
//!
//! Statuses a mirror answers `add-entries` with, from these results:
//! - [`Error::AddEntriesTooLarge`]: 413; a header [`Error::MalformedAddEntries`]:
//!   400; unknown origin: 404; no pending checkpoint ever received: 422 (the
//!   spec digest; Sunlight answers 404 there); [`Error::UploadConflict`]: 409
//!   with a [`MirrorInfo`] body.
//! - Per package, in order: an `Err` item of [`Packages`] or a
//!   [`PackageCheck::Proof`] refusal stops the upload. A failed proof is
//!   422; a body that ends or breaks the format is 202 when a package was
//!   stored, else 400 (also when the body ends between packages before
//!   [`Packages::is_complete`]).
//! - Complete: commit, cosign, 200 with the cosignature lines.
//!
//! Signing, tickets (which a mirror must authenticate), storage and the
//! clock belong to the caller: this module does no I/O.

use std::fmt;
use std::ops::Range;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::checkpoint::{MAX_TREE_SIZE, parse_tree_size};
use crate::error::{Error, Result};
use crate::merkle::{
    HASH_SIZE, Hash, HashReader, MemoryTree, leaf_hash, stored_hash_index,
    verify_subtree_consistency,
};
use crate::note::{Note, NoteVerifier};
use crate::tiles::TILE_WIDTH;
use crate::witness::{AddCheckpoint, Decision, decide};

/// Longest origin accepted in an `add-entries` header, in bytes. The wire
/// allows 65,535; origins in use are a few dozen bytes, and the bound keeps
/// the lookup key small.
pub const MAX_ORIGIN_LEN: usize = 1024;

/// Longest ticket accepted, in bytes. Tickets are opaque and issued by the
/// mirror; Sunlight's is the pending checkpoint note, encrypted, so the
/// bound leaves room for a checkpoint with several post-quantum signatures.
pub const MAX_TICKET_LEN: usize = 16 * 1024;

/// Entries in one package: one entry bundle (tlog-tiles width 256).
pub const MAX_ENTRIES_PER_PACKAGE: usize = TILE_WIDTH as usize;

/// Largest entry a package carries: the limit of an entry bundle
/// ([`crate::tiles::MAX_ENTRY_SIZE`], a big-endian u16 length prefix).
pub const MAX_ENTRY_SIZE: usize = crate::tiles::MAX_ENTRY_SIZE;

/// Hashes in a package's subtree consistency proof: trees below 2^63
/// leaves need at most 63, and the count is a single byte on the wire.
pub const MAX_PROOF_HASHES: usize = 63;

/// Packages read from one request. Clients SHOULD send at most 32 (the
/// spec); a mirror takes up to twice that and stops reading after it, which
/// the client sees as a partial upload (202) to resume.
pub const MAX_PACKAGES_PER_REQUEST: usize = 64;

/// Largest `add-entries` body, after any `Content-Encoding` is undone:
/// 20 MiB, Sunlight's cap. One package of 256 entries of the largest size
/// (about 16 MiB) still fits.
pub const MAX_BODY_BYTES: usize = 20 * 1024 * 1024;

/// Already-stored entries a request may send again (`min(upload_end, next
/// entry) − upload_start`) before it is answered 409: Sunlight's value.
pub const MAX_RESENT_ENTRIES: u64 = 2048;

/// Content type of an `add-entries` request.
pub const ADD_ENTRIES_CONTENT_TYPE: &str = "application/octet-stream";

/// Content type of a 409 or 202 `add-entries` response, whose body is
/// [`MirrorInfo::to_body`].
pub const MIRROR_INFO_CONTENT_TYPE: &str = "text/x.tlog.mirror-info";

/// Longest `text/x.tlog.mirror-info` body accepted: two decimal lines of at
/// most 19 digits and the base64 of a ticket of [`MAX_TICKET_LEN`] bytes.
pub const MAX_MIRROR_INFO_BYTES: usize = 2 * (19 + 1) + MAX_TICKET_LEN.div_ceil(3) * 4 + 1;

const WIDTH: u64 = TILE_WIDTH as u64;

// ---------------------------------------------------------------------------
// The canonical package sequence
// ---------------------------------------------------------------------------

/// Where one package of the canonical sequence sits in the log.
///
/// Package `i` of an upload `[start, end)` carries the entries
/// `[max(start, rs + 256·i), min(end, rs + 256·(i+1)))`, with `rs` the start
/// rounded down to a multiple of 256, and proves the subtree
/// `[rs + 256·i, that end)` in the tree of size `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackageRange {
    /// The package's index in the canonical sequence (0 for the first).
    pub index: u64,
    /// Index of the first entry the package carries.
    pub first: u64,
    /// One past the last entry it carries (also the end of the subtree).
    pub end: u64,
    /// First leaf of the subtree it proves: a multiple of 256, at or below
    /// `first`. Entries `[subtree_start, first)` (the head) come from the
    /// mirror's own storage.
    pub subtree_start: u64,
    /// The size of the tree the proof is into (the upload's end).
    pub tree_size: u64,
}

impl PackageRange {
    /// Entries carried by the package (at most 256).
    pub fn entry_count(&self) -> usize {
        // end - first ≤ 256 by construction.
        usize::try_from(self.end - self.first).unwrap_or(MAX_ENTRIES_PER_PACKAGE)
    }

    /// The entries the mirror supplies from its storage: `[subtree_start,
    /// first)`, empty unless the upload starts off a 256 boundary.
    pub fn head(&self) -> Range<u64> {
        self.subtree_start..self.first
    }

    /// The entries the package carries: `[first, end)`.
    pub fn entries(&self) -> Range<u64> {
        self.first..self.end
    }
}

/// The canonical package sequence of an upload, in order.
#[derive(Debug, Clone)]
pub struct PackageRanges {
    start: u64,
    end: u64,
    /// First leaf of the next package's subtree.
    next: u64,
    index: u64,
}

impl PackageRanges {
    /// The sequence of `[start, end)`, with `start ≤ end` checked by the
    /// caller. An empty upload has no package, even off a 256 boundary.
    fn new(start: u64, end: u64) -> Self {
        let next = if start == end {
            end
        } else {
            start - start % WIDTH
        };
        PackageRanges {
            start,
            end,
            next,
            index: 0,
        }
    }

    /// Packages not yet returned.
    pub fn remaining(&self) -> u64 {
        if self.next >= self.end {
            0
        } else {
            (self.end - self.next).div_ceil(WIDTH)
        }
    }
}

impl Iterator for PackageRanges {
    type Item = PackageRange;

    fn next(&mut self) -> Option<PackageRange> {
        if self.next >= self.end {
            return None;
        }
        let subtree_start = self.next;
        let end = self.end.min(subtree_start.saturating_add(WIDTH));
        let range = PackageRange {
            index: self.index,
            first: self.start.max(subtree_start),
            end,
            subtree_start,
            tree_size: self.end,
        };
        self.next = end;
        self.index += 1;
        Some(range)
    }
}

/// The canonical package sequence of the upload `[upload_start,
/// upload_end)` (empty when they are equal).
///
/// # Errors
/// [`Error::InvalidAddEntries`] when `upload_start > upload_end` or
/// `upload_end` is over [`MAX_TREE_SIZE`].
pub fn package_ranges(upload_start: u64, upload_end: u64) -> Result<PackageRanges> {
    if upload_start > upload_end {
        return Err(Error::InvalidAddEntries {
            reason: format!("upload start {upload_start} is past upload end {upload_end}"),
        });
    }
    if upload_end > MAX_TREE_SIZE {
        return Err(Error::InvalidAddEntries {
            reason: format!("upload end {upload_end} is over 2^63-1"),
        });
    }
    Ok(PackageRanges::new(upload_start, upload_end))
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------

/// Which check refused a pushed package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageCheck {
    /// The package was cut for another tree than the pending checkpoint it
    /// is checked against (a caller error: the pending checkpoint must be
    /// the one of size `upload_end`).
    PendingSize {
        /// The size the package's proof is into (`upload_end`).
        upload_end: u64,
        /// The size of the pending checkpoint given.
        pending_size: u64,
    },
    /// The package does not carry the number of entries its range needs.
    EntryCount {
        /// Entries the range needs.
        expected: usize,
        /// Entries found.
        found: usize,
    },
    /// The mirror's storage returned the wrong number of head hashes.
    Head {
        /// Head leaves needed.
        expected: usize,
        /// Hashes returned.
        found: usize,
    },
    /// The subtree consistency proof does not verify: the entries (with the
    /// stored head) do not hash into a subtree of the pending tree. This is
    /// the 422 of the spec.
    Proof(&'static str),
}

impl fmt::Display for PackageCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PackageCheck::PendingSize {
                upload_end,
                pending_size,
            } => write!(
                f,
                "its proof is into a tree of size {upload_end}, the pending checkpoint has size {pending_size}"
            ),
            PackageCheck::EntryCount { expected, found } => {
                write!(f, "it carries {found} entries, its range needs {expected}")
            }
            PackageCheck::Head { expected, found } => write!(
                f,
                "the mirror's storage gave {found} hashes for the {expected} stored head entries"
            ),
            PackageCheck::Proof(reason) => {
                write!(f, "subtree consistency proof does not verify: {reason}")
            }
        }
    }
}

/// A package whose entries are proven part of the pending tree: what the
/// mirror stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPackage {
    /// Where it sits in the log.
    pub range: PackageRange,
    /// The hash of the subtree `[range.subtree_start, range.end)`.
    pub subtree_hash: Hash,
    /// The leaf hashes of the package's entries `[range.first, range.end)`,
    /// in order (for `LogGrower::push_hashed`). Entries below the mirror's
    /// next entry are already stored and are skipped by the caller.
    pub leaf_hashes: Vec<Hash>,
}

/// Checks one pushed package against the pending checkpoint `(pending_size,
/// pending_root)` of size `upload_end`, before anything of it is stored.
///
/// The subtree `[range.subtree_start, range.end)` is hashed from the stored
/// head entries (their leaf hashes, read from `mirror`: only when the
/// upload starts off a 256 boundary) and the package's entries, and its
/// subtree consistency proof must lead to `pending_root`.
///
/// # Errors
/// [`Error::PackageRefused`] naming the failed [`PackageCheck`] (the
/// server answers 422 for [`PackageCheck::Proof`]); errors of `mirror`
/// reading the head.
pub fn verify_package(
    package: &Package<'_>,
    pending_size: u64,
    pending_root: &Hash,
    mirror: &dyn HashReader,
) -> Result<VerifiedPackage> {
    let range = package.range;
    let refuse = |check| Error::PackageRefused {
        package: range.index,
        start: range.subtree_start,
        end: range.end,
        size: range.tree_size,
        check,
    };
    if range.tree_size != pending_size {
        return Err(refuse(PackageCheck::PendingSize {
            upload_end: range.tree_size,
            pending_size,
        }));
    }
    if package.entries.len() != range.entry_count() {
        return Err(refuse(PackageCheck::EntryCount {
            expected: range.entry_count(),
            found: package.entries.len(),
        }));
    }
    let head_indexes: Vec<u64> = range.head().map(|i| stored_hash_index(0, i)).collect();
    let head = if head_indexes.is_empty() {
        Vec::new()
    } else {
        mirror.read_hashes(&head_indexes)?
    };
    if head.len() != head_indexes.len() {
        return Err(refuse(PackageCheck::Head {
            expected: head_indexes.len(),
            found: head.len(),
        }));
    }
    let leaf_hashes: Vec<Hash> = package.entries.iter().map(|e| leaf_hash(e)).collect();
    let mut subtree = MemoryTree::new();
    for leaf in head.iter().chain(&leaf_hashes) {
        subtree.append_leaf_hash(*leaf);
    }
    let subtree_hash = subtree.root();
    match verify_subtree_consistency(
        range.subtree_start,
        range.end,
        pending_size,
        &subtree_hash,
        pending_root,
        &package.proof,
    ) {
        Ok(()) => Ok(VerifiedPackage {
            range,
            subtree_hash,
            leaf_hashes,
        }),
        Err(Error::ProofMismatch { reason, .. }) => Err(refuse(PackageCheck::Proof(reason))),
        Err(e) => Err(e),
    }
}

/// Checks an `add-entries` header against the mirror's state, after the
/// server has found the origin (else 404) and a pending checkpoint (else
/// 422), and before any package is read.
///
/// `mirror_size` is the size of the mirror checkpoint, `next_entry` the
/// first entry not yet stored, and `upload_end_is_pending` whether
/// `upload_end` is the size of a pending checkpoint the mirror knows (from
/// its state or an authenticated ticket).
///
/// # Errors
/// [`Error::UploadConflict`] (409, with a [`MirrorInfo`] body) when
/// `upload_end` is not a known pending size or is below the mirror
/// checkpoint, when `upload_start` is past the next entry, or when more
/// than [`MAX_RESENT_ENTRIES`] already-stored entries would be sent again.
pub fn check_upload(
    header: &AddEntries<'_>,
    mirror_size: u64,
    next_entry: u64,
    upload_end_is_pending: bool,
) -> Result<()> {
    let (start, end) = (header.upload_start, header.upload_end);
    let conflict = |reason: String| Err(Error::UploadConflict { reason });
    if !upload_end_is_pending {
        return conflict(format!(
            "upload end {end} is not the size of a pending checkpoint"
        ));
    }
    if end < mirror_size {
        return conflict(format!(
            "upload end {end} is below the mirror checkpoint size {mirror_size}"
        ));
    }
    if start > next_entry {
        return conflict(format!(
            "upload start {start} is past the next entry {next_entry}"
        ));
    }
    let resent = end.min(next_entry) - start;
    if resent > MAX_RESENT_ENTRIES {
        return conflict(format!(
            "{resent} entries are already stored, over the limit of {MAX_RESENT_ENTRIES} sent again"
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Encoding (the push client)
// ---------------------------------------------------------------------------

fn invalid(reason: String) -> Error {
    Error::InvalidAddEntries { reason }
}

/// The header of an `add-entries` body; packages follow it
/// ([`encode_package`]).
///
/// # Errors
/// [`Error::InvalidAddEntries`] for an empty origin or one over
/// [`MAX_ORIGIN_LEN`], a ticket over [`MAX_TICKET_LEN`], `upload_start >
/// upload_end` or an end over 2^63−1.
pub fn encode_header(
    origin: &str,
    upload_start: u64,
    upload_end: u64,
    ticket: &[u8],
) -> Result<Vec<u8>> {
    if origin.is_empty() || origin.len() > MAX_ORIGIN_LEN {
        return Err(invalid(format!(
            "origin of {} bytes is not within 1..={MAX_ORIGIN_LEN}",
            origin.len()
        )));
    }
    if ticket.len() > MAX_TICKET_LEN {
        return Err(invalid(format!(
            "ticket of {} bytes is over the {MAX_TICKET_LEN}-byte limit",
            ticket.len()
        )));
    }
    package_ranges(upload_start, upload_end)?;
    let mut out = Vec::with_capacity(2 + origin.len() + 16 + 2 + ticket.len());
    // Both lengths were checked to fit in a u16 above.
    out.extend_from_slice(&u16::try_from(origin.len()).unwrap_or(0).to_be_bytes());
    out.extend_from_slice(origin.as_bytes());
    out.extend_from_slice(&upload_start.to_be_bytes());
    out.extend_from_slice(&upload_end.to_be_bytes());
    out.extend_from_slice(&u16::try_from(ticket.len()).unwrap_or(0).to_be_bytes());
    out.extend_from_slice(ticket);
    Ok(out)
}

/// Appends one package to `out`: each entry with its u16 length, the proof
/// hash count and the proof. The entries and proof are those of one
/// [`PackageRange`]: entries `[first, end)` and
/// `merkle::subtree_consistency_proof(subtree_start, end, tree_size, …)`.
///
/// # Errors
/// [`Error::InvalidAddEntries`] for more than [`MAX_ENTRIES_PER_PACKAGE`]
/// entries or more than [`MAX_PROOF_HASHES`] hashes; [`Error::EntryTooLarge`]
/// for an entry over [`MAX_ENTRY_SIZE`]. `out` is left unchanged then.
pub fn encode_package<E: AsRef<[u8]>>(
    out: &mut Vec<u8>,
    entries: &[E],
    proof: &[Hash],
) -> Result<()> {
    if entries.len() > MAX_ENTRIES_PER_PACKAGE {
        return Err(invalid(format!(
            "{} entries is over the limit of {MAX_ENTRIES_PER_PACKAGE} per package",
            entries.len()
        )));
    }
    let count = u8::try_from(proof.len())
        .ok()
        .filter(|&n| usize::from(n) <= MAX_PROOF_HASHES)
        .ok_or_else(|| {
            invalid(format!(
                "{} proof hashes is over the limit of {MAX_PROOF_HASHES}",
                proof.len()
            ))
        })?;
    let mut lens = Vec::with_capacity(entries.len());
    for e in entries {
        let len = e.as_ref().len();
        lens.push(u16::try_from(len).map_err(|_| Error::EntryTooLarge {
            len,
            max: MAX_ENTRY_SIZE,
        })?);
    }
    for (e, len) in entries.iter().zip(lens) {
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e.as_ref());
    }
    out.push(count);
    for h in proof {
        out.extend_from_slice(h);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// text/x.tlog.mirror-info
// ---------------------------------------------------------------------------

/// The body of a 409 or 202 `add-entries` response: where the client
/// resumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorInfo {
    /// The pending size to upload to (preferably the client's
    /// `upload_end` when it was valid).
    pub pending_size: u64,
    /// The first entry the mirror has not stored.
    pub next_entry: u64,
    /// The ticket to send back (may be empty).
    pub ticket: Vec<u8>,
}

fn bad_info(reason: impl Into<String>) -> Error {
    Error::MalformedMirrorInfo {
        reason: reason.into(),
    }
}

impl MirrorInfo {
    /// The body: `"<pending size>\n<next entry>\n<base64 ticket>\n"`
    /// (standard padded base64; an empty ticket is an empty line).
    pub fn to_body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.pending_size,
            self.next_entry,
            B64.encode(&self.ticket)
        )
    }

    /// Parses a `text/x.tlog.mirror-info` body strictly: exactly three
    /// lines, each ending in LF; two canonical decimals below 2^63; then
    /// canonical padded base64 (possibly empty) of at most
    /// [`MAX_TICKET_LEN`] bytes.
    ///
    /// # Errors
    /// [`Error::MalformedMirrorInfo`] naming the broken rule.
    pub fn parse(body: &[u8]) -> Result<MirrorInfo> {
        if body.len() > MAX_MIRROR_INFO_BYTES {
            return Err(bad_info(format!(
                "{} bytes is over the {MAX_MIRROR_INFO_BYTES}-byte limit",
                body.len()
            )));
        }
        let text = std::str::from_utf8(body).map_err(|_| bad_info("not valid UTF-8"))?;
        let text = text
            .strip_suffix('\n')
            .ok_or_else(|| bad_info("does not end with a newline"))?;
        let lines: Vec<&str> = text.split('\n').collect();
        let [pending, next, ticket] = lines.as_slice() else {
            return Err(bad_info(format!("{} lines, expected 3", lines.len())));
        };
        let size = |name: &str, s: &str| {
            parse_tree_size(s).ok_or_else(|| {
                bad_info(format!(
                    "{name} {s:.24?} is not a canonical decimal below 2^63"
                ))
            })
        };
        let pending_size = size("pending size", pending)?;
        let next_entry = size("next entry", next)?;
        let ticket = B64
            .decode(ticket)
            .map_err(|_| bad_info("ticket is not canonical padded base64"))?;
        if ticket.len() > MAX_TICKET_LEN {
            return Err(bad_info(format!(
                "ticket of {} bytes is over the {MAX_TICKET_LEN}-byte limit",
                ticket.len()
            )));
        }
        Ok(MirrorInfo {
            pending_size,
            next_entry,
            ticket,
        })
    }
}

// ---------------------------------------------------------------------------
// add-checkpoint on a mirror
// ---------------------------------------------------------------------------

/// What a mirror does with an `add-checkpoint` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PendingDecision {
    /// 200, with an empty body (the mirror key does not sign at this
    /// stage): store `note` as the new pending checkpoint, with a
    /// compare-and-swap on the old pending size, then answer.
    MovePending {
        /// The checkpoint's tree size.
        size: u64,
        /// Its root hash.
        root: Hash,
        /// The checkpoint text with the log signatures that verified, and
        /// only those: the log-signed note the mirror keeps.
        note: Vec<u8>,
    },
    /// Anything else, exactly as a witness decides it (400, 403, 404, 409
    /// whose body is `witness::conflict_body(pending size)`, 422). Never
    /// [`Decision::Cosign`].
    Refuse(Decision),
}

impl PendingDecision {
    /// The HTTP status of this decision.
    pub fn status(&self) -> u16 {
        match self {
            PendingDecision::MovePending { .. } => 200,
            PendingDecision::Refuse(d) => d.status(),
        }
    }
}

/// Decides an `add-checkpoint` request on a mirror: the witness's checks
/// and order ([`crate::witness::decide`]), against the *pending* checkpoint
/// `pending` (`None` if the mirror never received one). A 409 carries the
/// pending size.
pub fn decide_pending(
    request: &AddCheckpoint,
    pending: Option<(u64, Hash)>,
    log_keys: Option<&[NoteVerifier]>,
) -> PendingDecision {
    match decide(request, pending, log_keys) {
        Decision::Cosign {
            new_size,
            new_root,
            text,
            log_signatures,
        } => PendingDecision::MovePending {
            size: new_size,
            root: new_root,
            note: Note {
                text,
                signatures: log_signatures,
            }
            .to_bytes(),
        },
        other => PendingDecision::Refuse(other),
    }
}

#[cfg(test)]
mod tests;
