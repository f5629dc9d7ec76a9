//! This log's witnesses (`[witness] policy`, a C2SP tlog-policy file): the
//! start-up probe that refuses to sign below what a witness holds, and the
//! task that asks the policy's witnesses to cosign each new checkpoint.
//!
//! **Rounds.** The task works on one *target* head at a time, the newest
//! committed: it asks every witness that has not cosigned the target, all
//! at once, each with the consistency proof from the size that witness is
//! known to hold (a 409 resyncs it, [`peer::MAX_RESYNCS`] times at most).
//! Heads committed meanwhile are coalesced into the next target, so a
//! witness round trip costs latency, never entries per second.
//!
//! **Answers.** A cosignature is verified with the witness's key before it
//! counts. 422, 403, 404, 400, a 409 without a size, or a 200 without a
//! valid cosignature park the witness (logged, counted, never retried
//! blindly; a restart retries). A witness that holds a larger tree than
//! this log means the data directory is behind what was published: the
//! witness is parked and the message says so. Timeouts, refused
//! connections and 5xx are retried with the newest head after a backoff
//! (1 s doubling to 60 s), per witness.
//!
//! **Publication.** The cosignatures of a head are added to its stored
//! checkpoint (so snapshots, mirrors and proofs carry them). In
//! `fail-closed` mode the sequencer hands its answered writes here: the
//! served checkpoint (`/api/v2/checkpoint`, the publish directory) and
//! every 201 wait for a head with the quorum's cosignatures, and writes
//! waiting longer than `timeout_ms` get 503 (their entries are logged; a
//! retry gets 409 with the index). In `fail-open` mode writes are answered
//! at once and the served checkpoint gains cosignatures as they arrive.

mod metrics;
pub mod peer;

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use self::metrics::WitnessMetrics;
use self::peer::{Peer, Verdict, ask};
use crate::error::{Error, Result};
use crate::publish::Publisher;
use crate::sequencer::{Appended, Outcome, Reply, Shared, SignedHead};
use islet_pgstore::PgStore;
use islet_store::config::{StartCheck, WitnessMode, WitnessSettings};
use islet_store::{LogNumber, SharedLog, Store};
use islet_tlog::merkle::inclusion_proof;
use islet_tlog::note::{Note, NoteSignature, NoteVerifier};
use islet_tlog::policy::Policy;

/// First wait before asking an unreachable witness again.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Longest wait before asking an unreachable witness again.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The witnesses of this log and how to reach them.
pub struct Witnessing {
    client: reqwest::Client,
    policy: Policy,
    peers: Vec<Peer>,
    origin: String,
    log: SharedLog,
    recorder: Recorder,
    settings: WitnessSettings,
    metrics: WitnessMetrics,
}

/// Where the cosignatures of a head are recorded, and who answers.
#[derive(Debug, Clone)]
pub enum Recorder {
    /// The data directory's RocksDB: this task also serves each cosigned
    /// head and, fail-closed, answers the writes it covers.
    Local(Arc<Store>),
    /// PostgreSQL, where the log is shared by several nodes: this task
    /// (run by the lease holder) records the cosignatures and the newest
    /// checkpoint with the quorum's; every node's answerer serves and
    /// answers from there (`crate::cluster`).
    Shared(Arc<PgStore>, LogNumber),
}

impl std::fmt::Debug for Witnessing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.peers.iter().map(|p| p.name.as_str()).collect();
        write!(f, "Witnessing({:?}, {names:?})", self.settings.mode)
    }
}

/// What the start-up probe learnt: per witness (policy order), the size it
/// holds and its cosignature of the head, if it gave one.
#[derive(Debug, Clone)]
pub struct Probed {
    /// The head the witnesses were shown.
    pub head: Arc<SignedHead>,
    known: Vec<u64>,
    cosigs: Vec<Option<NoteSignature>>,
    parked: Vec<Option<String>>,
}

/// How the sequencer hands committed heads to the witnessing task.
#[derive(Debug, Clone)]
pub struct WitnessHook {
    tx: mpsc::UnboundedSender<Committed>,
    /// Writes are answered by the task once the quorum cosigned.
    pub fail_closed: bool,
}

/// The task's end of a [`WitnessHook`].
#[derive(Debug)]
pub struct HookReceiver(mpsc::UnboundedReceiver<Committed>);

/// A committed head, with the writes it answers in `fail-closed` mode.
#[derive(Debug)]
pub(crate) struct Committed {
    pub(crate) head: Arc<SignedHead>,
    pub(crate) waiters: Vec<Waiter>,
}

/// A write whose entry is committed, waiting for a cosigned checkpoint.
#[derive(Debug)]
pub(crate) struct Waiter {
    pub(crate) index: u64,
    pub(crate) reply: Reply,
    pub(crate) queued_at: Instant,
}

impl WitnessHook {
    /// Hands a committed head (and its waiting writes) to the task. When
    /// the task is gone the writes are answered 503 by their dropped
    /// senders.
    pub(crate) fn committed(&self, head: Arc<SignedHead>, waiters: Vec<Waiter>) {
        let _ = self.tx.send(Committed { head, waiters });
    }
}

impl Witnessing {
    /// The witnesses of `policy_text`, for the log `origin` signed by
    /// `log_key`.
    ///
    /// # Errors
    /// [`Error::Config`] when the policy does not parse, does not list
    /// this log with its key, or names a witness without a URL.
    pub fn new(
        policy_text: &[u8],
        log_key: &NoteVerifier,
        origin: &str,
        settings: WitnessSettings,
        log: SharedLog,
        recorder: Recorder,
    ) -> Result<Witnessing> {
        let file = settings.policy.display().to_string();
        let config = |reason: String| Error::Config {
            reason: format!("witness.policy {file}: {reason}"),
        };
        let policy = Policy::parse(policy_text).map_err(|e| config(e.to_string()))?;
        let listed = policy.log(origin).ok_or_else(|| {
            config(format!(
                "no `log` line for this log ({origin}); add `log {}`",
                log_key.to_vkey()
            ))
        })?;
        if listed.verifier.public_key() != log_key.public_key() {
            return Err(config(format!(
                "the `log` line of {origin} names another key than this log's ({})",
                log_key.to_vkey()
            )));
        }
        let mut peers = Vec::new();
        for w in policy.witnesses() {
            let url = w.url.as_ref().ok_or_else(|| {
                config(format!(
                    "witness {} (line {}) has no URL; give its submission prefix",
                    w.name, w.line
                ))
            })?;
            let parsed = url::Url::parse(url)
                .map_err(|e| config(format!("witness {} URL {url:?}: {e}", w.name)))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(config(format!(
                    "witness {} URL {url:?} is not http(s)",
                    w.name
                )));
            }
            let token = settings
                .tokens
                .get(&w.name)
                .map(|path| crate::access::read_outgoing_token(path))
                .transpose()?;
            peers.push(Peer {
                name: w.name.clone(),
                verifier: w.verifier.clone(),
                url: format!("{}/add-checkpoint", url.trim_end_matches('/')),
                token,
            });
        }
        if let Some(name) = settings
            .tokens
            .keys()
            .find(|name| !peers.iter().any(|p| &p.name == *name))
        {
            return Err(config(format!(
                "[witness.tokens] names {name}, which is not a witness of the policy"
            )));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(settings.timeout)
            .build()
            .map_err(|e| config(format!("HTTP client: {e}")))?;
        let metrics = WitnessMetrics::new(peers.len());
        Ok(Witnessing {
            client,
            policy,
            peers,
            origin: origin.to_owned(),
            log,
            recorder,
            settings,
            metrics,
        })
    }

    /// Whether writes wait for the quorum.
    pub fn fail_closed(&self) -> bool {
        self.settings.mode == WitnessMode::FailClosed
    }

    /// How long a write waits for a checkpoint with the quorum's
    /// cosignatures (fail-closed) before it is answered 503.
    pub fn timeout(&self) -> Duration {
        self.settings.timeout
    }

    /// Whether `note` carries valid cosignatures of enough of the policy's
    /// witnesses to satisfy its quorum.
    pub fn has_quorum(&self, note: &[u8]) -> bool {
        let Ok(parsed) = Note::parse(note) else {
            return false;
        };
        let cosigners: HashSet<String> = self
            .peers
            .iter()
            .filter(|p| {
                parsed.signatures.iter().any(|s| {
                    s.name == p.verifier.name()
                        && s.key_id == p.verifier.key_id()
                        && p.verifier.verify(&parsed.text, &s.signature).is_some()
                })
            })
            .map(|p| p.name.clone())
            .collect();
        self.policy.satisfied_by(&cosigners)
    }

    /// Shows every witness the head this log is about to sign from, before
    /// anything is signed, and refuses to start when one holds a larger
    /// tree (the data directory was restored from an older copy) or
    /// another tree (422), or when fewer witnesses answered than
    /// `start_check` asks.
    ///
    /// # Errors
    /// [`Error::Fork`] naming who holds what; [`Error::WitnessStart`] when
    /// too few witnesses answered.
    pub async fn probe(&self, head: Arc<SignedHead>) -> Result<Probed> {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, peer) in self.peers.iter().enumerate() {
            let (client, log, peer, head) = (
                self.client.clone(),
                self.log.clone(),
                peer.clone(),
                Arc::clone(&head),
            );
            let (origin, timeout) = (self.origin.clone(), self.settings.timeout);
            tasks.spawn(async move {
                let mut known = 0;
                let verdict = ask(&client, &log, &peer, &head, &origin, &mut known, timeout).await;
                (i, verdict, known)
            });
        }
        let n = self.peers.len();
        let mut probed = Probed {
            head: Arc::clone(&head),
            known: vec![0; n],
            cosigs: vec![None; n],
            parked: vec![None; n],
        };
        let mut forks = Vec::new();
        let mut silent = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let Ok((i, verdict, known)) = joined else {
                continue;
            };
            let peer = &self.peers[i];
            probed.known[i] = known;
            self.metrics.count(i, &verdict);
            match verdict {
                Verdict::Cosigned(sig, _) => {
                    self.metrics.cosigned(i, head.size);
                    probed.cosigs[i] = Some(sig);
                }
                Verdict::Ahead { size } => forks.push(format!(
                    "witness {} ({}) holds a checkpoint of this log at size {size}, but this data \
                     directory is at size {}: it was restored from an older copy, and signing now \
                     would fork the log",
                    peer.name, peer.url, head.size
                )),
                Verdict::Refused { status, reason } if matches!(status, 409 | 422) => {
                    forks.push(format!(
                        "witness {} ({}) refuses this log's checkpoint of size {} as inconsistent \
                         with what it cosigned ({status}: {reason}): it holds another tree of this log",
                        peer.name, peer.url, head.size
                    ));
                }
                Verdict::Refused { status, reason } => {
                    let why = format!("{status}: {reason}");
                    silent.push(format!("{} ({why})", peer.name));
                    probed.parked[i] = Some(why);
                }
                Verdict::Transient(reason) => silent.push(format!("{} ({reason})", peer.name)),
            }
        }
        if !forks.is_empty() {
            return Err(Error::Fork {
                reason: forks.join("; "),
            });
        }
        let answered: HashSet<String> = self
            .peers
            .iter()
            .zip(&probed.cosigs)
            .filter(|(_, c)| c.is_some())
            .map(|(p, _)| p.name.clone())
            .collect();
        let enough = match self.settings.start_check {
            StartCheck::Quorum => self.policy.satisfied_by(&answered),
            StartCheck::All => answered.len() == n,
            StartCheck::None => true,
        };
        if !enough {
            silent.sort();
            return Err(Error::WitnessStart {
                reason: format!(
                    "start_check = {:?} needs more witnesses to vouch that this data directory is \
                     current; did not answer: {}. Bring them back, or set [witness] start_check = \
                     \"none\" to start without them",
                    self.settings.start_check,
                    silent.join(", ")
                ),
            });
        }
        for s in &silent {
            eprintln!("islet: witness {s} did not answer the start-up probe");
        }
        Ok(probed)
    }

    /// The hook the sequencer hands heads through, and its other end for
    /// [`Witnessing::spawn`].
    pub fn channel(&self) -> (WitnessHook, HookReceiver) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            WitnessHook {
                tx,
                fail_closed: self.fail_closed(),
            },
            HookReceiver(rx),
        )
    }

    /// Starts the task that asks the witnesses to cosign each new head,
    /// beginning with the probed head's cosignatures. `latest` is the head
    /// the sequencer serves: when it is the probed one (the same tree), the
    /// cosignatures are attached to its stored note.
    pub fn spawn(
        self: &Arc<Self>,
        rx: HookReceiver,
        mut probed: Probed,
        shared: Arc<Shared>,
        publisher: Option<Publisher>,
    ) {
        let latest = shared.latest();
        if latest.size == probed.head.size && latest.root == probed.head.root {
            probed.head = latest;
        }
        let n = self.peers.len();
        let mut run = Run {
            known: probed.known,
            parked: probed.parked,
            retry_at: vec![None; n],
            backoff: vec![FIRST_BACKOFF; n],
            target: Arc::clone(&probed.head),
            cosigs: probed.cosigs,
            published_size: 0,
            waiters: VecDeque::new(),
            shared,
            publisher,
        };
        for (i, reason) in run.parked.iter().enumerate() {
            if let Some(reason) = reason {
                eprintln!(
                    "islet: witness {} is parked until restart: {reason}",
                    self.peers[i].name
                );
            }
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let head = Arc::clone(&run.target);
            this.publish(&mut run, &head).await;
            this.run(rx.0, run).await;
        });
    }

    async fn run(&self, mut rx: mpsc::UnboundedReceiver<Committed>, mut run: Run) {
        loop {
            let now = Instant::now();
            let due: Vec<usize> = (0..self.peers.len())
                .filter(|&i| {
                    run.parked[i].is_none()
                        && run.cosigs[i].is_none()
                        && run.retry_at[i].is_none_or(|t| t <= now)
                })
                .collect();
            if due.is_empty() {
                let wake = self.next_wake(&run);
                tokio::select! {
                    msg = rx.recv() => match msg {
                        Some(c) => run.take(c),
                        None => break,
                    },
                    () = sleep_until(wake) => {}
                }
            } else {
                self.round(&mut run, &due).await;
            }
            while let Ok(c) = rx.try_recv() {
                run.take(c);
            }
            self.expire(&mut run);
        }
        // The sequencer is gone: nothing will be cosigned any more.
        for w in run.waiters.drain(..) {
            let _ = w.reply.send(Err(Error::Unavailable {
                reason: "the server is stopping".into(),
            }));
        }
    }

    /// When the loop must look again: the earliest retry of a witness
    /// that still owes the target a cosignature, or the first deadline of a
    /// waiting write.
    fn next_wake(&self, run: &Run) -> Option<Instant> {
        let retry = (0..self.peers.len())
            .filter(|&i| run.parked[i].is_none() && run.cosigs[i].is_none())
            .filter_map(|i| run.retry_at[i])
            .min();
        let deadline = run
            .waiters
            .front()
            .map(|w| w.queued_at + self.settings.timeout);
        match (retry, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    async fn round(&self, run: &mut Run, due: &[usize]) {
        let head = Arc::clone(&run.target);
        let mut tasks = tokio::task::JoinSet::new();
        for &i in due {
            let (client, log, peer, head) = (
                self.client.clone(),
                self.log.clone(),
                self.peers[i].clone(),
                Arc::clone(&head),
            );
            let (origin, timeout, mut known) =
                (self.origin.clone(), self.settings.timeout, run.known[i]);
            tasks.spawn(async move {
                let verdict = ask(&client, &log, &peer, &head, &origin, &mut known, timeout).await;
                (i, verdict, known)
            });
        }
        let mut new_cosignature = false;
        while let Some(joined) = tasks.join_next().await {
            let Ok((i, verdict, known)) = joined else {
                continue;
            };
            run.known[i] = known;
            self.metrics.count(i, &verdict);
            let name = &self.peers[i].name;
            match verdict {
                Verdict::Cosigned(sig, _) => {
                    self.metrics.cosigned(i, head.size);
                    run.cosigs[i] = Some(sig);
                    run.retry_at[i] = None;
                    run.backoff[i] = FIRST_BACKOFF;
                    new_cosignature = true;
                }
                Verdict::Ahead { size } => {
                    self.metrics.inconsistent(i);
                    let why = format!(
                        "it holds this log at size {size}, ahead of this server's {}: the data \
                         directory is behind what was published; stop this server",
                        head.size
                    );
                    eprintln!("islet: witness {name}: {why}");
                    run.parked[i] = Some(why);
                }
                Verdict::Refused { status, reason } => {
                    self.metrics.inconsistent(i);
                    let why = format!("{status}: {reason}");
                    eprintln!(
                        "islet: witness {name} refused the checkpoint of size {} ({why}); parked \
                         until restart",
                        head.size
                    );
                    run.parked[i] = Some(why);
                }
                Verdict::Transient(reason) => {
                    let wait = run.backoff[i];
                    eprintln!(
                        "islet: witness {name} did not cosign size {} ({reason}); retrying in {} s",
                        head.size,
                        wait.as_secs()
                    );
                    run.retry_at[i] = Some(Instant::now() + wait);
                    run.backoff[i] = (wait * 2).min(MAX_BACKOFF);
                }
            }
        }
        if new_cosignature && Arc::ptr_eq(&head, &run.target) {
            self.publish(run, &head).await;
        }
    }

    /// Adds the target's cosignatures to its stored checkpoint and, when the
    /// mode allows, serves it and answers the writes it covers.
    async fn publish(&self, run: &mut Run, head: &Arc<SignedHead>) {
        let cosigners: HashSet<String> = self
            .peers
            .iter()
            .zip(&run.cosigs)
            .filter(|(_, c)| c.is_some())
            .map(|(p, _)| p.name.clone())
            .collect();
        let lines: Vec<NoteSignature> = run.cosigs.iter().flatten().cloned().collect();
        if lines.is_empty() && self.fail_closed() && !self.policy.satisfied_by(&cosigners) {
            return;
        }
        let note = match with_cosignatures(&head.note, lines) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("islet: witnessing: {e}");
                return;
            }
        };
        let cosigned = Arc::new(SignedHead {
            size: head.size,
            root: head.root,
            note,
            signed_at: head.signed_at,
        });
        let quorum = self.policy.satisfied_by(&cosigners);
        let store = match &self.recorder {
            Recorder::Local(store) => Arc::clone(store),
            Recorder::Shared(pg, log) => {
                // Every node's answerer serves it and answers from there.
                let (pg, log, kept) = (Arc::clone(pg), *log, Arc::clone(&cosigned));
                let recorded = tokio::task::spawn_blocking(move || {
                    pg.record_cosignatures(log, kept.size, &kept.note, quorum)
                })
                .await;
                match recorded {
                    Ok(Ok(())) if quorum => {
                        self.metrics
                            .quorum_size
                            .fetch_max(head.size, Ordering::Relaxed);
                    }
                    Ok(Ok(())) => {}
                    other => eprintln!(
                        "islet: witnessing: the cosignatures of size {} were not recorded \
                         (asked again with the next checkpoint): {other:?}",
                        head.size
                    ),
                }
                return;
            }
        };
        let kept = Arc::clone(&cosigned);
        let attached = tokio::task::spawn_blocking(move || {
            store.attach_cosignatures(store.own_log(), kept.size, &kept.note)
        })
        .await;
        match attached {
            Ok(Ok(())) => {}
            // RocksDB refused a write: the store is failing, and the
            // server takes the failed-store path (the head itself, and
            // the entries it covers, were committed synced before).
            Ok(Err(e @ islet_store::Error::Db { .. })) => run.shared.fail(&format_args!(
                "witnessing: the cosignatures of size {} were not stored: {e}",
                head.size
            )),
            other => eprintln!(
                "islet: witnessing: the cosignatures of size {} were not stored: {other:?}",
                head.size
            ),
        }
        if quorum {
            self.metrics
                .quorum_size
                .fetch_max(head.size, Ordering::Relaxed);
        }
        if self.fail_closed() && !quorum {
            return;
        }
        if run.shared.offer_latest(Arc::clone(&cosigned))
            && let Some(p) = &run.publisher
        {
            p.send(run.published_size, cosigned.size, cosigned.note.clone());
        }
        run.published_size = run.published_size.max(cosigned.size);
        if self.fail_closed() {
            self.answer(run, &cosigned).await;
        }
    }

    /// Answers every waiting write that `head` covers.
    async fn answer(&self, run: &mut Run, head: &Arc<SignedHead>) {
        let (covered, rest): (Vec<Waiter>, Vec<Waiter>) =
            run.waiters.drain(..).partition(|w| w.index < head.size);
        run.waiters = rest.into();
        self.metrics
            .waiting
            .store(run.waiters.len() as u64, Ordering::Relaxed);
        if covered.is_empty() {
            return;
        }
        let (log, head) = (self.log.clone(), Arc::clone(head));
        let answered = tokio::task::spawn_blocking(move || {
            let reader = log.hash_reader(head.size);
            for w in covered {
                let outcome = inclusion_proof(w.index, head.size, &reader)
                    .map_err(Error::Tlog)
                    .map(|proof| {
                        Outcome::Appended(Appended {
                            index: w.index,
                            checkpoint: Arc::clone(&head),
                            proof,
                        })
                    });
                let _ = w.reply.send(outcome);
            }
        })
        .await;
        if let Err(e) = answered {
            eprintln!("islet: witnessing: answering writes failed: {e}");
        }
    }

    /// Answers 503 to writes that waited longer than the timeout.
    fn expire(&self, run: &mut Run) {
        let timeout = self.settings.timeout;
        while run
            .waiters
            .front()
            .is_some_and(|w| w.queued_at.elapsed() >= timeout)
        {
            if let Some(w) = run.waiters.pop_front() {
                let _ = w.reply.send(Err(Error::Unavailable {
                    reason: format!(
                        "the entry is logged at index {}, but no checkpoint covering it got the \
                         witnesses' quorum within {} ms; a retry answers 409 with its index",
                        w.index,
                        timeout.as_millis()
                    ),
                }));
            }
        }
        self.metrics
            .waiting
            .store(run.waiters.len() as u64, Ordering::Relaxed);
    }

    /// The Prometheus text of the witnessing counters.
    pub fn render_metrics(&self, out: &mut String) {
        self.metrics.render(&self.peers, out);
    }
}

/// The task's state.
struct Run {
    known: Vec<u64>,
    parked: Vec<Option<String>>,
    retry_at: Vec<Option<Instant>>,
    backoff: Vec<Duration>,
    target: Arc<SignedHead>,
    cosigs: Vec<Option<NoteSignature>>,
    published_size: u64,
    waiters: VecDeque<Waiter>,
    shared: Arc<Shared>,
    publisher: Option<Publisher>,
}

impl Run {
    fn take(&mut self, c: Committed) {
        self.waiters.extend(c.waiters);
        if c.head.size > self.target.size {
            self.target = c.head;
            self.cosigs.iter_mut().for_each(|c| *c = None);
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// `note` with `lines` added, replacing any line of the same key.
fn with_cosignatures(note: &[u8], lines: Vec<NoteSignature>) -> Result<Vec<u8>> {
    let mut parsed = Note::parse(note)?;
    for line in lines {
        parsed
            .signatures
            .retain(|s| !(s.name == line.name && s.key_id == line.key_id));
        parsed.signatures.push(line);
    }
    Ok(parsed.to_bytes())
}
