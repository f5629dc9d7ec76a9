//! One witness as this log's client sees it: `add-checkpoint` with the
//! consistency proof from the size the witness is known to hold, the
//! resync a 409 allows, and what each answer means.

use std::time::Duration;

use islet_store::SharedLog;
use islet_tlog::merkle::{Hash, consistency_proof};
use islet_tlog::note::{Note, NoteSignature, NoteVerifier};
use islet_tlog::witness::{AddCheckpoint, CONFLICT_CONTENT_TYPE, parse_conflict_body};

use crate::sequencer::SignedHead;

/// How often one request may be resent after a 409 names another size
/// (Tessera's client allows as many).
pub const MAX_RESYNCS: usize = 10;

/// Most bytes read of a witness's answer: cosignature lines are about 130
/// bytes each, error messages a line.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// A cosignature timestamped further than this past the local clock is
/// refused: verifiers may reject timestamps in the future.
pub const MAX_COSIGNATURE_SKEW_SECS: u64 = 600;

/// A witness of the policy.
#[derive(Debug, Clone)]
pub struct Peer {
    /// Its name in the policy.
    pub name: String,
    /// Its cosigner key.
    pub verifier: NoteVerifier,
    /// `<submission prefix>/add-checkpoint`.
    pub url: String,
    /// The bearer token it asks for (`[witness.tokens]`), if any.
    pub token: Option<String>,
}

/// What asking a witness to cosign a head came to.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// It cosigned: its verified signature line (and timestamp).
    Cosigned(NoteSignature, u64),
    /// It holds a larger tree of this log than the head: this log's data
    /// is behind what was published (restored from an older copy).
    Ahead {
        /// The size it holds.
        size: u64,
    },
    /// A hard refusal: 422, 403, 404, 400, a 409 without a size, or a 200
    /// without a valid cosignature. Never retried blindly.
    Refused {
        /// The HTTP status.
        status: u16,
        /// What it said, or what was wrong with the answer.
        reason: String,
    },
    /// Unreachable, timed out, 5xx: worth retrying with the newest head.
    Transient(String),
}

/// Asks `peer` to cosign `head`, starting from the size it is believed to
/// hold (`known`, updated as it answers).
pub async fn ask(
    client: &reqwest::Client,
    log: &SharedLog,
    peer: &Peer,
    head: &SignedHead,
    origin: &str,
    known: &mut u64,
    timeout: Duration,
) -> Verdict {
    for _ in 0..=MAX_RESYNCS {
        if *known > head.size {
            return Verdict::Ahead { size: *known };
        }
        let proof = match proof_between(log, *known, head.size).await {
            Ok(p) => p,
            Err(e) => return Verdict::Transient(format!("consistency proof: {e}")),
        };
        let body = AddCheckpoint {
            old: *known,
            proof,
            origin: origin.to_owned(),
            note: head.note.clone(),
        }
        .to_bytes();
        let mut request = client
            .post(&peer.url)
            .header("content-type", "text/plain")
            .timeout(timeout)
            .body(body);
        if let Some(token) = &peer.token {
            request = request.bearer_auth(token);
        }
        let answer = request.send().await;
        let response = match answer {
            Ok(r) => r,
            Err(e) => return Verdict::Transient(format!("{}: {e}", peer.url)),
        };
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = match read_limited(response).await {
            Ok(b) => b,
            Err(e) => return Verdict::Transient(e),
        };
        match status {
            200 => return cosignature(peer, head, &bytes),
            409 if content_type.as_deref() == Some(CONFLICT_CONTENT_TYPE) => {
                match parse_conflict_body(&bytes) {
                    Some(size) => *known = size,
                    None => {
                        return Verdict::Refused {
                            status,
                            reason: format!("409 with a malformed size {:?}", first_line(&bytes)),
                        };
                    }
                }
            }
            400 | 403 | 404 | 409 | 422 => {
                return Verdict::Refused {
                    status,
                    reason: first_line(&bytes),
                };
            }
            _ => return Verdict::Transient(format!("{status} {}", first_line(&bytes))),
        }
    }
    Verdict::Transient(format!(
        "the witness named another size {} times in a row",
        MAX_RESYNCS + 1
    ))
}

/// The consistency proof from `old` to `size` of this log (empty from 0
/// or to the same size), read on the blocking pool.
pub(crate) async fn proof_between(
    log: &SharedLog,
    old: u64,
    size: u64,
) -> Result<Vec<Hash>, String> {
    if old == 0 || old == size {
        return Ok(Vec::new());
    }
    let log = log.clone();
    tokio::task::spawn_blocking(move || {
        consistency_proof(old, size, &log.hash_reader(size)).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if out.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(format!("answer longer than {MAX_ANSWER_BYTES} bytes"));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The witness's cosignature in a 200 body: the line with its name and key
/// ID that verifies over the head's text. Other lines are ignored.
fn cosignature(peer: &Peer, head: &SignedHead, body: &[u8]) -> Verdict {
    let refused = |reason: String| Verdict::Refused {
        status: 200,
        reason,
    };
    let mut note = head.note.clone();
    note.extend_from_slice(body);
    let parsed = match Note::parse(&note) {
        Ok(n) => n,
        Err(e) => return refused(format!("the 200 body is not signature lines: {e}")),
    };
    let found = parsed.signatures.into_iter().find_map(|sig| {
        if sig.name != peer.verifier.name() || sig.key_id != peer.verifier.key_id() {
            return None;
        }
        match peer.verifier.verify(&parsed.text, &sig.signature) {
            Some(Some(ts)) => Some((sig, ts)),
            _ => None,
        }
    });
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    match found {
        Some((_, ts)) if ts > now.saturating_add(MAX_COSIGNATURE_SKEW_SECS) => refused(format!(
            "the cosignature is timestamped {ts}, more than {MAX_COSIGNATURE_SKEW_SECS} s after this clock's {now}"
        )),
        Some((sig, ts)) => Verdict::Cosigned(sig, ts),
        None => refused(format!(
            "the 200 body has no valid cosignature by {}",
            peer.verifier.name()
        )),
    }
}

/// The first line of an answer, at most 200 characters, for messages.
pub(crate) fn first_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().next().unwrap_or("").trim();
    line.chars().take(200).collect()
}
