//! Writing an `add-entries` body (the push client).

use super::{
    MAX_ENTRIES_PER_PACKAGE, MAX_ENTRY_SIZE, MAX_ORIGIN_LEN, MAX_PROOF_HASHES, MAX_TICKET_LEN,
    package_ranges,
};

use crate::error::{Error, Result};
use crate::merkle::Hash;

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
/// [`PackageRange`](super::PackageRange): entries `[first, end)` and
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
