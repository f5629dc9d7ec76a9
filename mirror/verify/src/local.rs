//! The local copy a bundle is checked against with `--log`, read through
//! [`LocalLogs`]: a data directory (its own log or a mirror), or a
//! tlog-tiles log in a directory or at a URL (its checkpoint verified with
//! the trusted root's key).

use islet_reader::local::{LocalHead, LocalLogs};
use islet_tlog::merkle::Hash;
use islet_tlog::note::NoteVerifier;

use crate::failure::{Check, Failure};

/// A read error of the local copy: a verification failure of the copy's own
/// data (its checkpoint, its tiles) is a consistency failure, anything else
/// means it could not be read.
fn read_failure(e: &islet_reader::Error) -> Failure {
    if e.is_verification_failure() {
        Failure::new(
            Check::LocalConsistency,
            format!("the local log does not verify: {e}"),
        )
    } else {
        Failure::new(Check::LocalLog, format!("reading the local log: {e}"))
    }
}

/// Checks that the local copy of the log `origin` holds `body` at `index`
/// and that the tree `(size, root)` the bundle's checkpoint signs is
/// consistent with it. Returns the local size.
pub(crate) fn check(
    logs: &dyn LocalLogs,
    origin: &str,
    key: &NoteVerifier,
    index: u64,
    body: &[u8],
    size: u64,
    root: Hash,
) -> Result<u64, Failure> {
    let Some(head) = logs.head(origin, key).map_err(|e| read_failure(&e))? else {
        return Err(Failure::new(
            Check::LocalEntry,
            format!("the local data directory holds no log of origin {origin}"),
        ));
    };
    compare(logs, origin, &head, index, body, size, root)
}

fn compare(
    logs: &dyn LocalLogs,
    origin: &str,
    head: &LocalHead,
    index: u64,
    body: &[u8],
    size: u64,
    root: Hash,
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
    match logs
        .entry(origin, head, index)
        .map_err(|e| read_failure(&e))?
    {
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
    let local_root = logs
        .root_at(origin, head, size)
        .map_err(|e| read_failure(&e))?;
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
