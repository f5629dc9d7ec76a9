//! This log pushing itself to the tlog-mirrors of `[[mirror.push]]` (C2SP
//! tlog-mirror): for each new served head, `add-checkpoint` (resynced by
//! a 409, as with witnesses), then `add-entries` from the entry the mirror
//! needs next, [`PACKAGES_PER_REQUEST`] packages at a time, until the
//! mirror answers 200 with its cosignature, which is verified with the
//! mirror's key. A mirror that cannot be reached is retried with the
//! newest head after a backoff; one that refuses (4xx) is parked until
//! restart, logged.

use std::sync::Arc;
use std::time::Duration;

use islet_store::SharedLog;
use islet_store::config::RawPushTarget;
use islet_tlog::merkle::subtree_consistency_proof;
use islet_tlog::mirror_push::{
    ADD_ENTRIES_CONTENT_TYPE, MIRROR_INFO_CONTENT_TYPE, MirrorInfo, encode_header, encode_package,
    package_ranges,
};
use islet_tlog::note::{Note, NoteVerifier};
use islet_tlog::witness::{AddCheckpoint, CONFLICT_CONTENT_TYPE, parse_conflict_body};

use crate::sequencer::{Shared, SignedHead};
use crate::witnessing::peer::{MAX_RESYNCS, first_line, proof_between};

/// Packages per `add-entries` request (the spec's SHOULD).
pub const PACKAGES_PER_REQUEST: usize = 32;
/// How often the served head is looked at.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// Longest wait before asking an unreachable mirror again.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Per-request timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A mirror this log pushes to.
#[derive(Debug)]
struct Target {
    base: String,
    cosigner: NoteVerifier,
    /// The pending size the mirror is known to hold.
    pending: u64,
    /// The next entry it is known to need.
    next_entry: u64,
    /// The size it cosigned last.
    cosigned: Option<u64>,
}

/// Why a push stopped.
enum Stop {
    /// Try again later.
    Transient(String),
    /// The mirror refused; do not retry blindly.
    Refused(String),
}

/// Shows each mirror the head this log would sign from, before anything
/// is signed: a mirror holding a pending checkpoint of this log larger
/// than the head means the data directory was restored from an older
/// copy. A mirror that cannot be reached is named and skipped (witnesses,
/// not mirrors, decide whether a start may go on without them).
///
/// # Errors
/// [`crate::Error::Fork`] naming the mirror and the size it holds.
pub async fn probe(
    targets: &[RawPushTarget],
    head: &SignedHead,
    origin: &str,
) -> crate::Result<()> {
    let mut ahead = Vec::new();
    for t in targets {
        let client = client_for(t)?;
        let url = format!("{}/add-checkpoint", t.url.trim_end_matches('/'));
        let body = AddCheckpoint {
            old: 0,
            proof: Vec::new(),
            origin: origin.to_owned(),
            note: head.note.clone(),
        }
        .to_bytes();
        match post(&client, &url, "text/plain", body).await {
            Ok((409, Some(ct), bytes)) if ct == CONFLICT_CONTENT_TYPE => {
                match parse_conflict_body(&bytes) {
                    Some(size) if size > head.size => ahead.push(format!(
                        "mirror {} holds a checkpoint of this log at size {size}, but this data \
                         directory is at size {}: it was restored from an older copy, and \
                         signing now would fork the log",
                        t.url, head.size
                    )),
                    _ => {}
                }
            }
            Ok((200, _, _)) => {}
            Ok((status, _, bytes)) => eprintln!(
                "islet: mirror {} answered the start-up probe with {status} {}",
                t.url,
                first_line(&bytes)
            ),
            Err(Stop::Transient(why) | Stop::Refused(why)) => {
                eprintln!(
                    "islet: mirror {} did not answer the start-up probe: {why}",
                    t.url
                );
            }
        }
    }
    if ahead.is_empty() {
        Ok(())
    } else {
        Err(crate::Error::Fork {
            reason: ahead.join("; "),
        })
    }
}

/// The HTTP client for one mirror: the request timeout, and its bearer
/// token (`token_file`) on every request when it has one.
fn client_for(target: &RawPushTarget) -> crate::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder().timeout(REQUEST_TIMEOUT);
    if let Some(path) = &target.token_file {
        let token = crate::access::read_outgoing_token(path)?;
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|e| crate::Error::Config {
                reason: format!("mirror.push {}: token_file: {e}", target.url),
            })?;
        value.set_sensitive(true);
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::AUTHORIZATION, value);
        builder = builder.default_headers(headers);
    }
    builder.build().map_err(|e| crate::Error::Config {
        reason: format!("mirror.push: HTTP client: {e}"),
    })
}

/// Starts the pushing task for `targets`.
///
/// # Errors
/// [`crate::Error::Config`] for a key that does not parse (validated
/// configuration never has one).
pub fn spawn(
    log: SharedLog,
    origin: String,
    targets: &[RawPushTarget],
    shared: Arc<Shared>,
) -> crate::Result<()> {
    let mut list = Vec::new();
    for t in targets {
        list.push(Target {
            base: t.url.trim_end_matches('/').to_owned(),
            cosigner: NoteVerifier::from_vkey(&t.vkey).map_err(|e| crate::Error::Config {
                reason: format!("mirror.push {}: {e}", t.url),
            })?,
            pending: 0,
            next_entry: 0,
            cosigned: None,
        });
    }
    let clients = targets
        .iter()
        .map(client_for)
        .collect::<crate::Result<Vec<_>>>()?;
    for (mut target, client) in list.into_iter().zip(clients) {
        let (client, log, origin, shared) =
            (client, log.clone(), origin.clone(), Arc::clone(&shared));
        tokio::spawn(async move {
            let mut backoff = Duration::from_secs(1);
            loop {
                let head = shared.latest();
                // Of the nodes of a log on PostgreSQL, only the one that
                // sequences pushes.
                if shared.is_sequencing() && target.cosigned.is_none_or(|c| head.size > c) {
                    match push(&client, &log, &origin, &mut target, &head).await {
                        Ok(()) => backoff = Duration::from_secs(1),
                        Err(Stop::Transient(why)) => {
                            eprintln!(
                                "islet: pushing size {} to {} failed ({why}); retrying in {} s",
                                head.size,
                                target.base,
                                backoff.as_secs()
                            );
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(MAX_BACKOFF);
                            continue;
                        }
                        Err(Stop::Refused(why)) => {
                            eprintln!(
                                "islet: the mirror {} refused this log ({why}); not pushing to it until restart",
                                target.base
                            );
                            return;
                        }
                    }
                }
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        });
    }
    Ok(())
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Result<(u16, Option<String>, Vec<u8>), Stop> {
    let r = client
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .map_err(|e| Stop::Transient(format!("{url}: {e}")))?;
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = r
        .bytes()
        .await
        .map_err(|e| Stop::Transient(format!("{url}: {e}")))?;
    Ok((status, ct, bytes.to_vec()))
}

/// An answer that is neither success nor a resync: 5xx is worth a retry,
/// anything else is the mirror refusing.
fn unexpected(status: u16, bytes: &[u8]) -> Stop {
    let said = format!("{status} {}", first_line(bytes));
    if (500..600).contains(&status) {
        Stop::Transient(said)
    } else {
        Stop::Refused(said)
    }
}

/// Brings one mirror to `head`.
async fn push(
    client: &reqwest::Client,
    log: &SharedLog,
    origin: &str,
    t: &mut Target,
    head: &SignedHead,
) -> Result<(), Stop> {
    add_checkpoint(client, log, origin, t, head).await?;
    let url = format!("{}/add-entries", t.base);
    for _ in 0..(head.size / 256 / PACKAGES_PER_REQUEST as u64 + MAX_RESYNCS as u64 + 2) {
        let body = entries_body(log, origin, t.next_entry.min(head.size), head.size).await?;
        let (status, ct, bytes) = post(client, &url, ADD_ENTRIES_CONTENT_TYPE, body).await?;
        match status {
            200 => {
                let mut note = head.note.clone();
                note.extend_from_slice(&bytes);
                let parsed = Note::parse(&note)
                    .map_err(|e| Stop::Refused(format!("its 200 is not signature lines: {e}")))?;
                let valid = parsed.signatures.iter().any(|s| {
                    s.name == t.cosigner.name()
                        && s.key_id == t.cosigner.key_id()
                        && t.cosigner.verify(&parsed.text, &s.signature).is_some()
                });
                if !valid {
                    return Err(Stop::Refused(format!(
                        "its 200 carries no valid cosignature by {}",
                        t.cosigner.to_vkey()
                    )));
                }
                t.cosigned = Some(head.size);
                t.next_entry = head.size;
                return Ok(());
            }
            202 | 409 if ct.as_deref() == Some(MIRROR_INFO_CONTENT_TYPE) => {
                let info = MirrorInfo::parse(&bytes)
                    .map_err(|e| Stop::Refused(format!("malformed mirror-info: {e}")))?;
                if info.pending_size != head.size {
                    // Its pending checkpoint moved: start again.
                    t.pending = info.pending_size;
                    return Err(Stop::Transient(format!(
                        "its pending checkpoint is of size {}",
                        info.pending_size
                    )));
                }
                t.next_entry = info.next_entry;
            }
            s => return Err(unexpected(s, &bytes)),
        }
    }
    Err(Stop::Transient("add-entries made no progress".into()))
}

async fn add_checkpoint(
    client: &reqwest::Client,
    log: &SharedLog,
    origin: &str,
    t: &mut Target,
    head: &SignedHead,
) -> Result<(), Stop> {
    let url = format!("{}/add-checkpoint", t.base);
    for _ in 0..=MAX_RESYNCS {
        if t.pending > head.size {
            return Err(Stop::Refused(format!(
                "it holds a pending checkpoint of size {}, larger than this log's {}",
                t.pending, head.size
            )));
        }
        let proof = proof_between(log, t.pending, head.size)
            .await
            .map_err(Stop::Transient)?;
        let body = AddCheckpoint {
            old: t.pending,
            proof,
            origin: origin.to_owned(),
            note: head.note.clone(),
        }
        .to_bytes();
        let (status, ct, bytes) = post(client, &url, "text/plain", body).await?;
        match status {
            200 => {
                t.pending = head.size;
                return Ok(());
            }
            409 if ct.as_deref() == Some(CONFLICT_CONTENT_TYPE) => {
                t.pending = parse_conflict_body(&bytes).ok_or_else(|| {
                    Stop::Refused(format!(
                        "409 with a malformed size {:?}",
                        first_line(&bytes)
                    ))
                })?;
            }
            s => return Err(unexpected(s, &bytes)),
        }
    }
    Err(Stop::Transient(
        "the mirror named another size too often".into(),
    ))
}

/// An `add-entries` body from `start` to `size`: the header and at most
/// [`PACKAGES_PER_REQUEST`] packages.
async fn entries_body(
    log: &SharedLog,
    origin: &str,
    start: u64,
    size: u64,
) -> Result<Vec<u8>, Stop> {
    let (log, origin) = (log.clone(), origin.to_owned());
    tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
        let mut body = encode_header(&origin, start, size, &[]).map_err(|e| e.to_string())?;
        let reader = log.hash_reader(size);
        let ranges = package_ranges(start, size).map_err(|e| e.to_string())?;
        for range in ranges.take(PACKAGES_PER_REQUEST) {
            let mut entries = Vec::with_capacity(range.entry_count());
            for i in range.entries() {
                entries.push(
                    log.entry(i, size)
                        .map_err(|e| e.to_string())?
                        .ok_or_else(|| format!("entry {i} is not stored"))?,
                );
            }
            let proof = subtree_consistency_proof(range.subtree_start, range.end, size, &reader)
                .map_err(|e| e.to_string())?;
            encode_package(&mut body, &entries, &proof).map_err(|e| e.to_string())?;
        }
        Ok(body)
    })
    .await
    .map_err(|e| Stop::Transient(e.to_string()))?
    .map_err(Stop::Transient)
}
