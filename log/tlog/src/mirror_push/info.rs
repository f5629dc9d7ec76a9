//! The `text/x.tlog.mirror-info` body of a 409 or 202 answer.

use super::{MAX_MIRROR_INFO_BYTES, MAX_TICKET_LEN};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::checkpoint::parse_tree_size;
use crate::error::{Error, Result};

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
