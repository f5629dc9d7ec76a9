//! islet as a witness for other logs (C2SP tlog-witness):
//! `POST /witness/add-checkpoint` and the monitoring
//! `GET /witness/<hex SHA-256 of the origin>/checkpoint`.
//!
//! The decision is [`islet_tlog::witness::decide`] (pure, the spec's order
//! of checks). Around it, under one lock per witnessed origin: read the
//! stored state, decide, cosign with the witness's own key at a timestamp
//! never earlier than the last one for that origin, store the new state
//! with a compare-and-swap in one synced write, and only then answer 200.
//! A checkpoint that proves the log signed two histories (a bad
//! consistency proof, or the cosigned size with another root) is kept as
//! evidence, as mirrors keep theirs, and never cosigned.
//!
//! Answers are `text/plain` (the spec's), never the Rekor JSON of the log
//! API: a 409 is exactly `<size>\n` with `Content-Type: text/x.tlog.size`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::body::{BodyError, read_body};
use crate::error::{Error, Result};
use crate::http::AppState;
use crate::mirrors::parse_origin_hash;
use islet_signer::CosignatureV1Signer;
use islet_store::config::WitnessServiceSettings;
use islet_store::witnessed::{EvidenceKept, WitnessState};
use islet_store::{Evidence, Store};
use islet_tlog::checkpoint::Checkpoint;
use islet_tlog::merkle::Hash;
use islet_tlog::note::{Note, NoteSignature, NoteSigner, NoteVerifier};
use islet_tlog::witness::{
    AddCheckpoint, CONFLICT_CONTENT_TYPE, Decision, MAX_BODY_BYTES, conflict_body, decide,
};

/// The clock cosignatures are timestamped with (seconds since the epoch).
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    })
}

/// A witnessed log: its keys and the lock its state changes under.
struct WitnessedLog {
    keys: Vec<NoteVerifier>,
    lock: Mutex<()>,
}

/// The witness: its key, the logs it witnesses, its state in the store.
pub struct WitnessService {
    store: Arc<Store>,
    signer: Arc<CosignatureV1Signer>,
    logs: HashMap<String, WitnessedLog>,
    by_hash: HashMap<Hash, String>,
    clock: Clock,
    /// Answers by (origin, status); origins not witnessed count as "".
    answers: Mutex<BTreeMap<(String, u16), u64>>,
    evidence: Mutex<BTreeMap<String, u64>>,
}

impl std::fmt::Debug for WitnessService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "WitnessService({}, {} logs)",
            self.signer.name(),
            self.logs.len()
        )
    }
}

/// An answer to `add-checkpoint`, before it becomes an HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 200: the cosignature line(s).
    Cosigned(String),
    /// 409: the stored size.
    Conflict(u64),
    /// Any other status, with a one-line reason.
    Refused(u16, String),
    /// 503: the clock is behind the last cosignature of this origin.
    ClockBehind(String),
}

impl Answer {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Answer::Cosigned(_) => 200,
            Answer::Conflict(_) => 409,
            Answer::Refused(status, _) => *status,
            Answer::ClockBehind(_) => 503,
        }
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let text = |status: u16, body: String| {
            (
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                body,
            )
                .into_response()
        };
        match self {
            Answer::Cosigned(lines) => text(200, lines),
            Answer::Conflict(size) => (
                StatusCode::CONFLICT,
                [(header::CONTENT_TYPE, CONFLICT_CONTENT_TYPE)],
                conflict_body(size),
            )
                .into_response(),
            Answer::Refused(status, reason) => text(status, format!("{reason}\n")),
            Answer::ClockBehind(reason) => {
                let mut r = text(503, format!("{reason}\n"));
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(1u32));
                r
            }
        }
    }
}

fn origin_hash(origin: &str) -> Hash {
    use sha2::{Digest, Sha256};
    Sha256::digest(origin.as_bytes()).into()
}

impl WitnessService {
    /// A witness for the logs of `settings`, signing with `signer` at the
    /// times `clock` gives.
    ///
    /// # Errors
    /// [`Error::Config`] for a log key that does not parse (validated
    /// configuration never has one).
    pub fn new(
        store: Arc<Store>,
        signer: Arc<CosignatureV1Signer>,
        settings: &WitnessServiceSettings,
        clock: Clock,
    ) -> Result<WitnessService> {
        let mut logs = HashMap::new();
        let mut by_hash = HashMap::new();
        for log in &settings.logs {
            let key = NoteVerifier::from_vkey(&log.vkey).map_err(|e| Error::Config {
                reason: format!("witness_service.log {}: {e}", log.origin),
            })?;
            by_hash.insert(origin_hash(&log.origin), log.origin.clone());
            logs.insert(
                log.origin.clone(),
                WitnessedLog {
                    keys: vec![key],
                    lock: Mutex::new(()),
                },
            );
        }
        Ok(WitnessService {
            store,
            signer,
            logs,
            by_hash,
            clock,
            answers: Mutex::new(BTreeMap::new()),
            evidence: Mutex::new(BTreeMap::new()),
        })
    }

    /// The witness's verifier key (a `cosignature/v1` vkey).
    pub fn vkey(&self) -> String {
        self.signer.verifier().to_vkey()
    }

    /// Answers one `add-checkpoint` body from `peer`. Blocking: it may
    /// write to the store and wait for the sync.
    pub fn add_checkpoint(&self, body: &[u8], peer: &str) -> Answer {
        let (answer, origin) = match AddCheckpoint::parse(body) {
            Err(e) => (Answer::Refused(400, e.to_string()), String::new()),
            Ok(request) => {
                let answer = self.decide_and_store(&request, peer);
                let known = self.logs.contains_key(&request.origin);
                (answer, if known { request.origin } else { String::new() })
            }
        };
        if let Ok(mut m) = self.answers.lock() {
            *m.entry((origin, answer.status())).or_insert(0) += 1;
        }
        answer
    }

    fn decide_and_store(&self, request: &AddCheckpoint, peer: &str) -> Answer {
        let Some(log) = self.logs.get(&request.origin) else {
            return Answer::Refused(404, format!("unknown log origin {:?}", request.origin));
        };
        let Ok(_serialised) = log.lock.lock() else {
            return Answer::Refused(500, "the witness state lock is poisoned".into());
        };
        let stored = match self.store.witness_state(&request.origin) {
            Ok(s) => s,
            Err(e) => return internal(&e),
        };
        let stored_head = match &stored {
            Some(s) => match parse_root(&s.root) {
                Some(root) => Some((s.size, root)),
                None => return internal(&"a stored witness root is not 32 bytes of hex"),
            },
            None => None,
        };
        match decide(request, stored_head, Some(&log.keys)) {
            Decision::Cosign {
                new_size,
                new_root,
                text,
                log_signatures,
            } => self.cosign(
                request,
                stored.as_ref(),
                new_size,
                &new_root,
                text,
                log_signatures,
            ),
            Decision::Conflict { stored_size } => {
                // Same size, another root: the request proves a fork even
                // though `old` is stale (the log signature verified).
                if let (Some(s), Some((_, stored_root))) = (&stored, stored_head)
                    && let Some((size, root)) = offered_head(&request.note)
                    && size == s.size
                    && root != stored_root
                {
                    self.keep_evidence(
                        &request.origin,
                        s,
                        request,
                        peer,
                        "same size, different root",
                    );
                }
                Answer::Conflict(stored_size)
            }
            Decision::Inconsistent(reason) => {
                if let Some(s) = &stored {
                    self.keep_evidence(&request.origin, s, request, peer, &reason);
                }
                Answer::Refused(422, reason)
            }
            Decision::UnknownOrigin => {
                Answer::Refused(404, format!("unknown log origin {:?}", request.origin))
            }
            Decision::NotSigned(reason) => Answer::Refused(403, reason),
            Decision::BadRequest(reason) => Answer::Refused(400, reason),
        }
    }

    fn cosign(
        &self,
        request: &AddCheckpoint,
        stored: Option<&WitnessState>,
        new_size: u64,
        new_root: &Hash,
        text: String,
        mut signatures: Vec<NoteSignature>,
    ) -> Answer {
        let last = stored.map_or(0, |s| s.timestamp);
        let now = (self.clock)();
        if now < last {
            return Answer::ClockBehind(format!(
                "this witness's clock reads {now}, before its last cosignature of {} at {last}; \
                 it will not cosign back in time",
                request.origin
            ));
        }
        let own = NoteSignature {
            name: self.signer.name().to_owned(),
            key_id: self.signer.key_id(),
            signature: self.signer.sign_at(&text, now),
        };
        let line = format!("{}\n", own.to_line());
        signatures.push(own);
        let note = Note { text, signatures }.to_bytes();
        let state = WitnessState {
            origin: request.origin.clone(),
            size: new_size,
            root: hex::encode(new_root),
            note: String::from_utf8_lossy(&note).into_owned(),
            timestamp: now,
        };
        match self
            .store
            .witness_swap(stored.map_or(0, |s| s.size), &state)
        {
            Ok(()) => Answer::Cosigned(line),
            Err(islet_store::Error::WitnessRace { stored, .. }) => Answer::Conflict(stored),
            Err(e) => internal(&e),
        }
    }

    fn keep_evidence(
        &self,
        origin: &str,
        stored: &WitnessState,
        request: &AddCheckpoint,
        peer: &str,
        reason: &str,
    ) {
        let evidence = Evidence {
            reason: reason.to_owned(),
            local: stored.note.clone(),
            offered: String::from_utf8_lossy(&request.note).into_owned(),
            source: format!("add-checkpoint from {peer} (old {})", request.old),
            recorded_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                .to_string(),
        };
        match self.store.witness_record_evidence(origin, &evidence) {
            Ok(EvidenceKept::Recorded) => {
                eprintln!(
                    "islet: witness: {origin} signed a checkpoint that conflicts with the one \
                     cosigned at size {} ({reason}); kept as evidence",
                    stored.size
                );
                if let Ok(mut m) = self.evidence.lock() {
                    *m.entry(origin.to_owned()).or_insert(0) += 1;
                }
            }
            Ok(EvidenceKept::Duplicate | EvidenceKept::Full) => {}
            Err(e) => eprintln!("islet: witness: evidence of {origin} not kept: {e}"),
        }
    }

    /// The latest checkpoint this witness cosigned for the origin whose
    /// SHA-256 is `hash`: the verified log signatures and its own.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn latest(&self, hash: &Hash) -> Result<Option<String>> {
        let Some(origin) = self.by_hash.get(hash) else {
            return Ok(None);
        };
        Ok(self.store.witness_state(origin)?.map(|s| s.note))
    }

    /// The Prometheus text of the witness's counters.
    pub fn render_metrics(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP islet_witness_service_add_checkpoint_total add-checkpoint answers, by origin and status.\n# TYPE islet_witness_service_add_checkpoint_total counter"
        );
        if let Ok(m) = self.answers.lock() {
            for ((origin, status), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "islet_witness_service_add_checkpoint_total{{origin=\"{}\",status=\"{status}\"}} {n}",
                    label(origin)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP islet_witness_service_evidence_total Conflicting checkpoints kept as evidence since start, by origin.\n# TYPE islet_witness_service_evidence_total counter"
        );
        if let Ok(m) = self.evidence.lock() {
            for (origin, n) in m.iter() {
                let _ = writeln!(
                    out,
                    "islet_witness_service_evidence_total{{origin=\"{}\"}} {n}",
                    label(origin)
                );
            }
        }
    }
}

/// A Prometheus label value: origins are key names (no spaces, no `+`),
/// but quotes and backslashes are escaped all the same.
fn label(origin: &str) -> String {
    origin.replace('\\', "\\\\").replace('"', "\\\"")
}

fn parse_root(hex_root: &str) -> Option<Hash> {
    hex::decode(hex_root).ok()?.try_into().ok()
}

/// The size and root a request's note claims (only used after its log
/// signature verified).
fn offered_head(note: &[u8]) -> Option<(u64, Hash)> {
    let parsed = Note::parse(note).ok()?;
    let cp = Checkpoint::parse(&parsed.text).ok()?;
    Some((cp.size, cp.root))
}

fn internal(cause: &dyn std::fmt::Display) -> Answer {
    eprintln!("islet: witness: internal error: {cause}");
    Answer::Refused(500, "internal error".into())
}

/// `POST /witness/add-checkpoint`.
pub(crate) async fn add_checkpoint(
    State(s): State<Arc<AppState>>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(witness) = s.witness.clone() else {
        return Answer::Refused(404, "this islet witnesses no logs".into()).into_response();
    };
    let body = match read_body(&headers, body, MAX_BODY_BYTES, s.body_read_timeout).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            return Answer::Refused(
                413,
                format!("an add-checkpoint body is at most {MAX_BODY_BYTES} bytes"),
            )
            .into_response();
        }
        Err(BodyError::TooSlow) => {
            return Answer::Refused(408, "the request body did not arrive in time".into())
                .into_response();
        }
        Err(BodyError::Broken(reason)) => {
            return Answer::Refused(400, format!("the request body could not be read: {reason}"))
                .into_response();
        }
    };
    let peer = extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(|| "an unknown peer".to_owned(), |c| c.0.to_string());
    match tokio::task::spawn_blocking(move || witness.add_checkpoint(&body, &peer)).await {
        Ok(answer) => answer.into_response(),
        Err(e) => internal(&e).into_response(),
    }
}

/// `GET /witness/<hash>/checkpoint`: the latest checkpoint this witness
/// cosigned for that origin (404 when it never cosigned one).
pub(crate) async fn checkpoint(
    State(s): State<Arc<AppState>>,
    Path(origin_hash): Path<String>,
) -> Response {
    let Some(witness) = s.witness.clone() else {
        return Answer::Refused(404, "this islet witnesses no logs".into()).into_response();
    };
    let Some(hash) = parse_origin_hash(&origin_hash) else {
        return Answer::Refused(
            400,
            "a witnessed log is named by the SHA-256 of its origin in lowercase hex".into(),
        )
        .into_response();
    };
    match tokio::task::spawn_blocking(move || witness.latest(&hash)).await {
        Ok(Ok(Some(note))) => (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            note,
        )
            .into_response(),
        Ok(Ok(None)) => Answer::Refused(
            404,
            format!(
                "this witness has cosigned no checkpoint of the log with origin hash {origin_hash}"
            ),
        )
        .into_response(),
        Ok(Err(e)) => internal(&e).into_response(),
        Err(e) => internal(&e).into_response(),
    }
}
