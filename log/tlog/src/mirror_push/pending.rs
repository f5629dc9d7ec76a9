//! A mirror's `add-checkpoint`: the pending checkpoint.

use crate::merkle::Hash;
use crate::note::{Note, NoteVerifier};
use crate::witness::{AddCheckpoint, Decision, decide};

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
