//! The receiving end of C2SP tlog-mirror push: a log sends its new
//! checkpoint (`add-checkpoint`, which becomes the mirror's *pending*
//! checkpoint) and then the entries up to it (`add-entries`, packages of
//! up to 256 entries with a subtree consistency proof each).
//!
//! Verified exactly as [`crate::sync`] verifies a pulled log: the pending
//! checkpoint must verify with the pinned key (the one `[[mirror.accept]]`
//! names) and extend what the mirror holds; every package is proven part
//! of the pending tree before it is staged, and the entries are re-hashed
//! on top of the mirror's tree by the same [`Extension`] a sync uses, whose
//! root must be the signed one before the one synced commit that makes it
//! the mirror. Push and pull therefore store the same tiles and bundles.
//!
//! A request that ends before the pending size stages its entries (a
//! progress marker heading for the pending checkpoint) and is answered
//! 202; the next request resumes there. A package that fails its proof is
//! refused with 422 and everything staged towards that checkpoint is
//! discarded: nothing of a refused push is ever stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use islet_store::extend::{Extension, MirrorTarget, Standing};
use islet_store::pending::PendingCheckpoint;
use islet_store::{Store, TreeHead};
use islet_tlog::merkle::Hash;
use islet_tlog::mirror_push::{
    AddEntries, MirrorInfo, PendingDecision, check_upload, decide_pending, verify_package,
};
use islet_tlog::note::NoteVerifier;
use islet_tlog::witness::{AddCheckpoint, Decision};

/// What a push request is answered with; the server turns it into HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushAnswer {
    /// 200 to `add-checkpoint`: the pending checkpoint moved (empty body).
    PendingMoved,
    /// 200 to `add-entries`: the mirror now holds this checkpoint (the
    /// server answers with its cosignature of it).
    CaughtUp {
        /// The checkpoint the mirror committed (the log's signatures).
        note: Vec<u8>,
    },
    /// 202: entries stored up to `info.next_entry`, more are needed.
    Partial(MirrorInfo),
    /// 409 to `add-checkpoint`: `old` is not the pending size.
    SizeConflict(u64),
    /// 409 to `add-entries`, with where the mirror stands.
    UploadConflict(MirrorInfo, String),
    /// Any other refusal: the status and why.
    Refused(u16, String),
}

impl PushAnswer {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            PushAnswer::PendingMoved | PushAnswer::CaughtUp { .. } => 200,
            PushAnswer::Partial(_) => 202,
            PushAnswer::SizeConflict(_) | PushAnswer::UploadConflict(..) => 409,
            PushAnswer::Refused(status, _) => *status,
        }
    }
}

struct Accepted {
    key: NoteVerifier,
    lock: Mutex<()>,
}

/// The logs that may push to this store's mirrors.
pub struct PushReceiver {
    store: Arc<Store>,
    own_origin: Option<String>,
    logs: HashMap<String, Accepted>,
}

impl std::fmt::Debug for PushReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PushReceiver({} logs)", self.logs.len())
    }
}

fn refused(status: u16, reason: impl Into<String>) -> PushAnswer {
    PushAnswer::Refused(status, reason.into())
}

fn internal(e: &dyn std::fmt::Display) -> PushAnswer {
    eprintln!("islet: mirror push: internal error: {e}");
    refused(500, "internal error")
}

fn parse_root(hex_root: &str) -> Option<Hash> {
    hex::decode(hex_root).ok()?.try_into().ok()
}

impl PushReceiver {
    /// A receiver for `logs` (origin, vkey), refusing the own log.
    ///
    /// # Errors
    /// A vkey that does not parse.
    pub fn new(
        store: Arc<Store>,
        own_origin: Option<&str>,
        logs: &[(String, String)],
    ) -> Result<PushReceiver, islet_tlog::Error> {
        let mut map = HashMap::new();
        for (origin, vkey) in logs {
            map.insert(
                origin.clone(),
                Accepted {
                    key: NoteVerifier::from_vkey(vkey)?,
                    lock: Mutex::new(()),
                },
            );
        }
        Ok(PushReceiver {
            store,
            own_origin: own_origin.map(str::to_owned),
            logs: map,
        })
    }

    /// Whether any log may push here.
    pub fn is_empty(&self) -> bool {
        self.logs.is_empty()
    }

    /// `add-checkpoint`: moves the pending checkpoint. Blocking (a synced
    /// write).
    pub fn add_checkpoint(&self, body: &[u8]) -> PushAnswer {
        let request = match AddCheckpoint::parse(body) {
            Ok(r) => r,
            Err(e) => return refused(400, e.to_string()),
        };
        let Some(log) = self.logs.get(&request.origin) else {
            return refused(
                404,
                format!("this mirror accepts no pushes of {:?}", request.origin),
            );
        };
        let Ok(_serialised) = log.lock.lock() else {
            return internal(&"the push lock is poisoned");
        };
        let target = match MirrorTarget::find(
            &self.store,
            &request.origin,
            Some(&log.key),
            self.own_origin.as_deref(),
        ) {
            Ok(t) => t,
            Err(e) => return refused(403, e.to_string()),
        };
        let stored = match self.store.mirror_pending(&request.origin) {
            Ok(p) => p,
            Err(e) => return internal(&e),
        };
        // Where the pending tree stands: the last pushed checkpoint, else
        // the mirror's committed tree.
        let pending = match &stored {
            Some(p) => match parse_root(&p.root) {
                Some(root) => Some((p.size, root)),
                None => return internal(&"a stored pending root is not 32 bytes of hex"),
            },
            None => target.head.as_ref().map(|h| (h.size, h.root)),
        };
        match decide_pending(&request, pending, Some(std::slice::from_ref(&log.key))) {
            PendingDecision::MovePending { size, root, note } => {
                let new = PendingCheckpoint {
                    origin: request.origin.clone(),
                    size,
                    root: hex::encode(root),
                    note: String::from_utf8_lossy(&note).into_owned(),
                };
                match self
                    .store
                    .swap_mirror_pending(stored.as_ref().map(|p| p.size), &new)
                {
                    Ok(()) => PushAnswer::PendingMoved,
                    Err(islet_store::Error::WitnessRace { stored, .. }) => {
                        PushAnswer::SizeConflict(stored)
                    }
                    Err(e) => internal(&e),
                }
            }
            PendingDecision::Refuse(Decision::Conflict { stored_size }) => {
                PushAnswer::SizeConflict(stored_size)
            }
            PendingDecision::Refuse(Decision::Inconsistent(reason)) => {
                let kept = target.keep_evidence(
                    &self.store,
                    &request.note,
                    "tlog-mirror add-checkpoint",
                    reason,
                );
                refused(422, kept)
            }
            PendingDecision::Refuse(d) => {
                let status = d.status();
                refused(status, format!("{d:?}"))
            }
        }
    }

    /// `add-entries`: stages or commits the pushed entries. Blocking.
    pub fn add_entries(&self, body: &[u8]) -> PushAnswer {
        let header = match AddEntries::parse_header(body) {
            Ok(h) => h,
            Err(e @ islet_tlog::Error::AddEntriesTooLarge { .. }) => {
                return refused(413, e.to_string());
            }
            Err(e) => return refused(400, e.to_string()),
        };
        let Some(log) = self.logs.get(header.origin) else {
            return refused(
                404,
                format!("this mirror accepts no pushes of {:?}", header.origin),
            );
        };
        let Ok(_serialised) = log.lock.lock() else {
            return internal(&"the push lock is poisoned");
        };
        let pending = match self.store.mirror_pending(header.origin) {
            Ok(Some(p)) => p,
            Ok(None) => {
                // The spec's 422 (Sunlight answers 404 here).
                return refused(422, "no pending checkpoint: send add-checkpoint first");
            }
            Err(e) => return internal(&e),
        };
        let Some(root) = parse_root(&pending.root) else {
            return internal(&"a stored pending root is not 32 bytes of hex");
        };
        let target = match MirrorTarget::find(
            &self.store,
            header.origin,
            Some(&log.key),
            self.own_origin.as_deref(),
        ) {
            Ok(t) => t,
            Err(e) => return refused(403, e.to_string()),
        };
        match target.standing(&self.store, pending.size, root) {
            Ok(Standing::Same) => {
                return PushAnswer::CaughtUp {
                    note: pending.note.into_bytes(),
                };
            }
            Ok(Standing::Ahead) => {}
            Ok(Standing::Behind) => {
                return refused(409, "the pending checkpoint is older than the mirror");
            }
            Ok(Standing::Fork(reason)) => return refused(422, reason),
            Err(e) => return internal(&e),
        }
        self.extend(&header, &target, &pending, root)
    }

    fn extend(
        &self,
        header: &AddEntries<'_>,
        target: &MirrorTarget,
        pending: &PendingCheckpoint,
        root: Hash,
    ) -> PushAnswer {
        let store = &*self.store;
        let (log, committed) = (target.log, target.size());
        let note = pending.note.as_bytes().to_vec();
        let extension = match self.resume_or_start(target, &note) {
            Ok(e) => e,
            Err(e) => return internal(&e),
        };
        let info = |next_entry| MirrorInfo {
            pending_size: pending.size,
            next_entry,
            ticket: Vec::new(),
        };
        let next_entry = extension.size();
        if let Err(e) = check_upload(
            header,
            committed,
            next_entry,
            header.upload_end == pending.size,
        ) {
            return PushAnswer::UploadConflict(info(next_entry), e.to_string());
        }
        let reader = store.hash_reader(log, committed);
        let outcome = extension.with_stage_writer(|ext| -> Result<PushAnswer, PushFailure> {
            let mut stored_any = false;
            let mut packages = header.packages();
            for package in packages.by_ref() {
                let package = match package {
                    Ok(p) => p,
                    Err(e) if stored_any => {
                        ext.stage_now().map_err(PushFailure::Store)?;
                        eprintln!("islet: mirror push: a package after the stored ones: {e}");
                        return Ok(PushAnswer::Partial(info(ext.size())));
                    }
                    Err(e) => return Err(PushFailure::Refused(400, e.to_string())),
                };
                let verified = verify_package(&package, pending.size, &root, &reader).map_err(
                    |e| match e {
                        islet_tlog::Error::PackageRefused { .. } => {
                            PushFailure::Refused(422, e.to_string())
                        }
                        other => PushFailure::Refused(400, other.to_string()),
                    },
                )?;
                for (i, entry) in package.entries.iter().enumerate() {
                    let index = verified.range.first + i as u64;
                    if index < ext.size() {
                        continue;
                    }
                    ext.push(entry).map_err(PushFailure::Store)?;
                }
                stored_any = true;
            }
            if ext.size() == pending.size {
                ext.finish(pending.size, root).map_err(PushFailure::Store)?;
                return Ok(PushAnswer::CaughtUp { note: note.clone() });
            }
            ext.stage_now().map_err(PushFailure::Store)?;
            Ok(PushAnswer::Partial(info(ext.size())))
        });
        match outcome {
            Ok(PushAnswer::CaughtUp { note }) => {
                let new_head = TreeHead {
                    size: pending.size,
                    root,
                    checkpoint: note.clone(),
                };
                match store.commit(log, &target.commit_batch(&pending.origin), &new_head) {
                    Ok(()) => PushAnswer::CaughtUp { note },
                    Err(e) => {
                        let _ = store.discard_staged(log, committed);
                        internal(&e)
                    }
                }
            }
            Ok(other) => other,
            Err(failure) => {
                // Nothing of a refused push stays: what this checkpoint's
                // pushes staged goes with it.
                let _ = store.discard_staged(log, committed);
                match failure {
                    PushFailure::Refused(status, reason) => refused(status, reason),
                    PushFailure::Store(e @ islet_store::Error::RootMismatch { .. }) => {
                        refused(422, e.to_string())
                    }
                    PushFailure::Store(e) => internal(&e),
                }
            }
        }
    }

    /// Resumes what earlier pushes of this checkpoint staged, or starts
    /// from the committed tree (discarding stages of anything else).
    fn resume_or_start<'s>(
        &'s self,
        target: &MirrorTarget,
        note: &[u8],
    ) -> Result<Extension<'s>, islet_store::Error> {
        let store = &*self.store;
        let (log, head) = (target.log, target.head.as_ref());
        if let Some(progress) = store.staged_progress(log)?
            && progress.target == note
            && let Some(ext) = Extension::resume_staged(store, log, head, &progress)?
        {
            return Ok(ext.resumable(note.to_vec()));
        }
        store.discard_staged(log, target.size())?;
        Ok(Extension::start(store, log, head, target.size())?.resumable(note.to_vec()))
    }
}

/// Why a push's extension stopped.
enum PushFailure {
    Refused(u16, String),
    Store(islet_store::Error),
}

impl From<islet_store::Error> for PushFailure {
    fn from(e: islet_store::Error) -> Self {
        PushFailure::Store(e)
    }
}
