//! The write path of a node that shares its log with other nodes on
//! PostgreSQL (`../shared/specs/scale-out.md` §3.3–3.6).
//!
//! Every node verifies its submissions (in the HTTP layer, as on RocksDB)
//! and runs three threads here:
//!
//! - **enqueue** (`islet-enqueue`): takes the validated entries in
//!   micro-batches and puts them in the database's `pending` table, unless
//!   the log holds them already or another node's copy is in line; each
//!   entry then waits, by leaf hash, for the answerer.
//! - **answer** (`islet-answer`): on each new head (`LISTEN islet_head`),
//!   on new waiters, or every [`POLL`], reads in one snapshot the head and
//!   where each waiting entry is; then runs the durability barrier on the
//!   same connection, and only once it returned answers: 201 with an
//!   inclusion proof for the submission whose pending row became the
//!   leaf, 409 with the index for every other copy. Only then does the
//!   node serve that checkpoint, publish it and record it in its fork
//!   guard. An entry found neither in the log nor in line (a failover lost
//!   its row) is put in line again; one still waiting after
//!   [`ANSWER_DEADLINE`] gets 503, never a guess.
//! - **lead** (`islet-lead`, only on a node eligible for the lease: one
//!   with `[store] role = "never"` carries no key and never runs it):
//!   waits for the sequencer lease; once held,
//!   loads the right edge of the tree, and integrates the oldest pending
//!   rows in batches: each commit of tiles, bundles, dedup rows, the
//!   deletion of the rows taken and the new signed head is one
//!   transaction guarded by a compare-and-swap on size, root and epoch.
//!   A commit that fails, the swap included, is fatal for the node (it
//!   exits for its supervisor to restart it, as on RocksDB): its tree may
//!   be ahead of the database, and another node may hold the lease.
//!   Once it holds the lease, and before it signs, it shows its head to
//!   the log's witnesses and mirrors ([`ClusterParts::before_sequencing`]);
//!   it alone pushes to the mirrors and asks the witnesses to cosign.
//!
//! **Witnesses.** With `[witness]`, the lease holder's witnessing task
//! records in the database the newest checkpoint the policy's quorum
//! cosigned; every answerer checks it (log key and policy) and, under a
//! fail-closed policy, serves only it and answers a write only once it
//! covers the entry (else 503 after the policy's timeout); fail-open, it
//! serves the head, with the quorum's cosignatures once they cover it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use islet_pgstore::pending::{self, Outcomes, PendingRow, Watched};
use islet_pgstore::{Lease, PgStore, Taken};
use islet_store::config::SequencerConfig;
use islet_store::engine::hash_reader;
use islet_store::{CommitBatch, LogNumber, LogStore, SearchKind, TreeHead};
use islet_tlog::merkle::{Hash, inclusion_proof, leaf_hash, verify_inclusion};
use islet_tlog::note::{NoteSigner, NoteVerifier};
use tokio::sync::mpsc;

use crate::engine::LeaseKeeper;
use crate::error::{Error, Result};
use crate::guard::CheckpointGuard;
use crate::publish::Publisher;
use crate::sequencer::{
    Appended, Job, Outcome, Sequencer, Shared, SignedHead, Tree, check_stored_head, empty_head,
    next_batch, sign_head, store_failed,
};
use crate::witnessing::{WitnessHook, Witnessing};

/// How long a submission waits for its entry to be integrated and
/// confirmed before it is answered 503 (rekor-tiles' server timeout).
pub const ANSWER_DEADLINE: Duration = Duration::from_secs(20);

/// How often the answerer reads the database when nothing woke it.
pub const POLL: Duration = Duration::from_millis(250);

/// How often the lease holder looks for pending rows when no
/// notification came.
pub const INTEGRATE_POLL: Duration = Duration::from_millis(100);

/// How long a broken connection waits before it is opened again.
const RECONNECT_AFTER: Duration = Duration::from_millis(250);

/// Everything a node of a shared log starts from.
pub struct ClusterParts {
    /// The database.
    pub store: Arc<PgStore>,
    /// The log in it.
    pub log: LogNumber,
    /// This node's name (the lease holder's, and `pending.node`).
    pub node: String,
    /// How long a lease lasts unless renewed.
    pub lease_ttl: Duration,
    /// The log key, used only while this node holds the lease; `None` on
    /// a node that never sequences (`[store] role = "never"`), which
    /// never bids for the lease.
    pub signer: Option<Arc<dyn NoteSigner>>,
    /// The log's verifier key, which every checkpoint read is checked
    /// against.
    pub verifier: NoteVerifier,
    /// The checkpoint origin.
    pub origin: String,
    /// The record of the latest confirmed checkpoint this node saw.
    pub guard: CheckpointGuard,
    /// Batch sizes and the queue's bound.
    pub config: SequencerConfig,
    /// Told of each confirmed head (`--publish-dir`).
    pub publisher: Option<Publisher>,
    /// Run once the lease is held, before anything is signed, with the
    /// head the node will sign from: shows it to the witnesses and the
    /// tlog-mirrors of this log, refusing (a fork) when one holds more,
    /// and starts asking the witnesses to cosign.
    pub before_sequencing: Option<BeforeSequencing>,
    /// Where the lease holder hands each committed head to be witnessed.
    pub witness_hook: Option<WitnessHook>,
    /// The log's witness policy (`[witness]`): the answerer serves, and
    /// fail-closed answers against, the newest checkpoint its quorum
    /// cosigned (checked here, not taken on trust).
    pub witnesses: Option<Arc<Witnessing>>,
}

/// The step [`ClusterParts::before_sequencing`] names: given the head
/// this node signs from and the node's state, once.
pub type BeforeSequencing = Box<dyn FnOnce(&SignedHead, &Arc<Shared>) -> Result<()> + Send + Sync>;

/// A submitted entry waiting for its outcome, with every copy of it this
/// node received meanwhile.
struct Waiter {
    /// The pending row this node inserted for it, if its copy was the one
    /// put in line.
    mine: Option<i64>,
    /// The entry's body (to put it in line again if a failover lost it).
    body: Vec<u8>,
    /// Every submission of it, the first one first.
    jobs: Vec<Job>,
    /// When the first arrived.
    since: Instant,
    /// Its index once the log holds it but no checkpoint this node may
    /// serve covers it yet (a fail-closed witness policy's quorum).
    logged_at: Option<u64>,
}

/// The entries this node waits for, shared by the enqueue and answer
/// threads.
#[derive(Default)]
struct Waiting {
    by_hash: Mutex<HashMap<Hash, Waiter>>,
    /// Set when waiters arrived; the answerer looks at once.
    arrived: AtomicBool,
}

impl Waiting {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Hash, Waiter>> {
        self.by_hash.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Starts a node of a shared log: reads (or, holding the lease, creates)
/// the head, checks it against the key and the fork guard, and starts the
/// enqueue, answer and lead threads.
///
/// # Errors
/// [`Error::Fork`], [`Error::Inconsistent`], [`Error::Store`],
/// [`Error::Thread`].
pub fn start(mut parts: ClusterParts) -> Result<Sequencer> {
    let verifier = parts.verifier.clone();
    let before_sequencing = parts.before_sequencing.take();
    let (head, lease) = first_head(&parts)?;
    check_stored_head(&head, &verifier, &parts.origin)?;
    parts.guard.check(
        parts.store.as_ref(),
        parts.log,
        &head,
        &verifier,
        &parts.origin,
    )?;
    let note = parts
        .store
        .checkpoint_at(parts.log, head.size)?
        .unwrap_or_else(|| head.checkpoint.clone());
    let first = SignedHead {
        size: head.size,
        root: head.root,
        note,
        signed_at: std::time::SystemTime::now(),
    };
    // Fail-closed, a node serves from the start only what the witnesses'
    // quorum cosigned, once there is such a checkpoint.
    let first = match parts.witnesses.as_ref().filter(|w| w.fail_closed()) {
        Some(_) => {
            let witnessed = parts
                .store
                .witnessed(parts.log)
                .map_err(islet_store::Error::from)?;
            match witnessed_head(&parts, &head, witnessed.as_ref())? {
                Some(cosigned) => Arc::unwrap_or_clone(cosigned),
                None => first,
            }
        }
        None => first,
    };
    let start_size = first.size;
    let shared = Arc::new(Shared::new(first));
    // It sequences only once it holds the lease.
    shared.set_sequencing(false);
    let (tx, rx) = mpsc::channel(parts.config.max_pending.max(1));
    let waiting = Arc::new(Waiting::default());
    let parts = Arc::new(parts);
    spawn("islet-enqueue", {
        let (parts, shared, waiting) = (
            Arc::clone(&parts),
            Arc::clone(&shared),
            Arc::clone(&waiting),
        );
        move || enqueue_loop(&parts, rx, &shared, &waiting)
    })?;
    spawn("islet-answer", {
        let (parts, shared, waiting) = (
            Arc::clone(&parts),
            Arc::clone(&shared),
            Arc::clone(&waiting),
        );
        move || answer_loop(&parts, &shared, &waiting, start_size)
    })?;
    if let Some(signer) = parts.signer.clone() {
        spawn("islet-lead", {
            let (parts, shared) = (Arc::clone(&parts), Arc::clone(&shared));
            move || lead(&parts, signer.as_ref(), &shared, lease, before_sequencing)
        })?;
    } else {
        eprintln!(
            "islet: {} never takes the sequencer lease of {} (role = \"never\"): it carries no key",
            parts.node, parts.origin
        );
    }
    Ok(Sequencer::with_queue(tx, shared))
}

fn spawn(name: &'static str, f: impl FnOnce() + Send + 'static) -> Result<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map(drop)
        .map_err(|e| Error::Thread {
            thread: name,
            reason: format!("cannot start: {e}"),
        })
}

/// The stored head; for a log without one, whichever eligible node takes
/// the lease first writes the empty tree's, and the others wait for it.
fn first_head(parts: &ClusterParts) -> Result<(TreeHead, Option<Lease>)> {
    let mut told = false;
    loop {
        if let Some(head) = parts.store.tree_head(parts.log)? {
            return Ok((head, None));
        }
        if let Some(signer) = parts.signer.as_deref()
            && let Some(lease) = take_lease(parts)?
        {
            // Written only under the lease (the statement checks its
            // epoch), so two nodes cannot both create the log.
            let head = empty_head(&parts.origin, signer)?;
            parts.guard.check_new_log()?;
            let mut client = parts.store.pool().get().map_err(islet_store::Error::from)?;
            islet_pgstore::append::append(
                &mut client,
                parts.log,
                &lease,
                None,
                &CommitBatch::default(),
                &head,
                None,
            )
            .map_err(islet_store::Error::from)?;
            drop(client);
            // Another node may have been first after all (its lease
            // expired meanwhile): the stored head is the one.
            if let Some(stored) = parts.store.tree_head(parts.log)? {
                return Ok((stored, Some(lease)));
            }
        }
        if !told {
            eprintln!("islet: waiting for the node holding the sequencer lease to create the log");
            told = true;
        }
        std::thread::sleep(parts.lease_ttl / 3);
    }
}

fn take_lease(parts: &ClusterParts) -> Result<Option<Lease>> {
    Ok(parts
        .store
        .take_lease(parts.log, &parts.node, parts.lease_ttl)
        .map_err(islet_store::Error::from)?)
}

/// Answers `job` 503 with `reason`.
fn refuse(job: Job, reason: String) {
    let _ = job.reply.send(Err(Error::Unavailable { reason }));
}

fn enqueue_loop(
    parts: &ClusterParts,
    mut rx: mpsc::Receiver<Job>,
    shared: &Shared,
    waiting: &Waiting,
) {
    let (max, max_age) = (parts.config.batch_max_size, parts.config.batch_max_age);
    while let Some(jobs) = next_batch(&mut rx, max, max_age, shared) {
        shared.took(jobs.len() as u64);
        if !shared.healthy() {
            for job in jobs {
                let _ = job.reply.send(Err(store_failed()));
            }
            continue;
        }
        // Copies of entries already waiting join them; the rest are put
        // in line, one row per leaf hash.
        let mut fresh: Vec<(Hash, Vec<Job>)> = Vec::new();
        {
            let mut by_hash = waiting.lock();
            for job in jobs {
                let hash = leaf_hash(&job.entry.body);
                if let Some(w) = by_hash.get_mut(&hash) {
                    w.jobs.push(job);
                } else if let Some((_, copies)) = fresh.iter_mut().find(|(h, _)| *h == hash) {
                    copies.push(job);
                } else {
                    fresh.push((hash, vec![job]));
                }
            }
        }
        if fresh.is_empty() {
            continue;
        }
        let items: Vec<(Hash, &[u8])> = fresh
            .iter()
            .map(|(h, jobs)| (*h, jobs[0].entry.body.as_slice()))
            .collect();
        match parts.store.enqueue(parts.log, &parts.node, &items) {
            Ok(mine) => {
                let mine: HashMap<Hash, i64> = mine.into_iter().collect();
                let mut by_hash = waiting.lock();
                for (hash, jobs) in fresh {
                    let since = jobs[0].queued_at;
                    let body = jobs[0].entry.body.clone();
                    by_hash.insert(
                        hash,
                        Waiter {
                            mine: mine.get(&hash).copied(),
                            body,
                            jobs,
                            since,
                            logged_at: None,
                        },
                    );
                }
                drop(by_hash);
                waiting.arrived.store(true, Ordering::SeqCst);
            }
            Err(e) => {
                let reason = format!(
                    "the entry could not be put in line in the database ({e}); it may or may not \
                     be in the log: retry, a retry gets 201 or 409 with the entry's index"
                );
                for job in fresh.into_iter().flat_map(|(_, jobs)| jobs) {
                    refuse(job, reason.clone());
                }
            }
        }
    }
}

/// The answerer's connection: listening for heads, reading and confirming.
fn connect_answerer(store: &PgStore) -> Option<Watched> {
    let mut watched = match store.connect_watched() {
        Ok(w) => w,
        Err(e) => {
            eprintln!("islet: cannot reach the database to answer writes (will retry): {e}");
            return None;
        }
    };
    match watched
        .client
        .batch_execute(&format!("LISTEN {}", islet_pgstore::append::HEAD_CHANNEL))
    {
        Ok(()) => Some(watched),
        Err(e) => {
            eprintln!("islet: cannot listen for new heads (will retry): {e}");
            None
        }
    }
}

/// Waits until a head notification, new waiters, or `POLL`, whichever
/// comes first.
fn wait_for_news(watched: &mut Watched, waiting: &Waiting) {
    let deadline = Instant::now() + POLL;
    let slice = Duration::from_millis(5);
    loop {
        if waiting.arrived.swap(false, Ordering::SeqCst) {
            return;
        }
        // A broken connection shows in the read that follows.
        let heard = pending::wait_notification(&mut watched.client, slice).unwrap_or(true);
        if heard || Instant::now() >= deadline {
            return;
        }
    }
}

fn answer_loop(parts: &ClusterParts, shared: &Shared, waiting: &Waiting, start_size: u64) {
    let mut confirmed = start_size;
    let mut connection: Option<Watched> = None;
    while shared.healthy() {
        let Some(watched) = connection.as_mut() else {
            connection = connect_answerer(&parts.store);
            if connection.is_none() {
                std::thread::sleep(RECONNECT_AFTER);
            }
            refuse_overdue(parts, waiting);
            continue;
        };
        wait_for_news(watched, waiting);
        match answer_round(parts, shared, waiting, watched, &mut confirmed) {
            Ok(()) => {}
            Err(e) => {
                eprintln!("islet: reading the outcome of waiting writes failed (will retry): {e}");
                if watched.client.is_closed() {
                    connection = None;
                }
            }
        }
        refuse_overdue(parts, waiting);
    }
    // The node stopped: nobody will answer what still waits.
    for waiter in waiting.lock().drain().map(|(_, w)| w) {
        for job in waiter.jobs {
            let _ = job.reply.send(Err(store_failed()));
        }
    }
}

/// Answers 503 to waiters older than [`ANSWER_DEADLINE`], and to those
/// the log holds but no checkpoint with the witnesses' quorum covered
/// within the policy's timeout (fail-closed).
fn refuse_overdue(parts: &ClusterParts, waiting: &Waiting) {
    let witness_timeout = parts.witnesses.as_ref().map(|w| w.timeout());
    let deadline = |w: &Waiter| match (w.logged_at, witness_timeout) {
        (Some(_), Some(timeout)) => timeout,
        _ => ANSWER_DEADLINE,
    };
    let overdue: Vec<Waiter> = {
        let mut by_hash = waiting.lock();
        let late: Vec<Hash> = by_hash
            .iter()
            .filter(|(_, w)| w.since.elapsed() >= deadline(w))
            .map(|(h, _)| *h)
            .collect();
        late.iter().filter_map(|h| by_hash.remove(h)).collect()
    };
    for waiter in overdue {
        let reason = match waiter.logged_at {
            Some(index) => format!(
                "the entry is logged at index {index}, but no checkpoint covering it got the \
                 witnesses' quorum within {} ms; a retry answers 409 with its index",
                deadline(&waiter).as_millis()
            ),
            None => format!(
                "the entry was not confirmed in the log within {} s (no node holds the \
                 sequencer lease, or the database's standby does not confirm); it may or \
                 may not be in the log: retry, a retry gets 201 or 409 with its index",
                ANSWER_DEADLINE.as_secs()
            ),
        };
        for job in waiter.jobs {
            refuse(job, reason.clone());
        }
    }
}

/// The newest checkpoint the witnesses' quorum cosigned, as recorded in
/// the database, checked with the log key and the policy; `None` when
/// there is none (or no policy).
///
/// # Errors
/// [`Error::Inconsistent`] for a record that is not a checkpoint of this
/// log, larger than its head, or without the quorum.
fn witnessed_head(
    parts: &ClusterParts,
    head: &TreeHead,
    witnessed: Option<&islet_pgstore::Witnessed>,
) -> Result<Option<Arc<SignedHead>>> {
    let (Some(policy), Some(cosigned)) = (&parts.witnesses, witnessed) else {
        return Ok(None);
    };
    let bad = |why: String| Error::Inconsistent {
        what: format!(
            "the witnessed checkpoint of size {} in the database {why}",
            cosigned.size
        ),
    };
    let signed = islet_tlog::checkpoint::SignedCheckpoint::open(
        &cosigned.checkpoint,
        &parts.verifier,
        &[],
        Some(&parts.origin),
    )
    .map_err(|e| bad(format!("does not verify with the log key: {e}")))?;
    if signed.checkpoint.size != cosigned.size || cosigned.size > head.size {
        return Err(bad(format!("does not fit the head of size {}", head.size)));
    }
    if !policy.has_quorum(&cosigned.checkpoint) {
        return Err(bad("lacks the witness policy's quorum".into()));
    }
    Ok(Some(Arc::new(SignedHead {
        size: cosigned.size,
        root: signed.checkpoint.root,
        note: cosigned.checkpoint.clone(),
        signed_at: std::time::SystemTime::now(),
    })))
}

/// What this node may serve and answer against, given a snapshot: the
/// head; with a fail-closed witness policy, the newest checkpoint its
/// quorum cosigned (`None` before there is one); fail-open, the head,
/// with the quorum's cosignatures once they cover it.
fn served_head(parts: &ClusterParts, outcomes: &Outcomes) -> Result<Option<Arc<SignedHead>>> {
    let Some(head) = &outcomes.head else {
        return Ok(None);
    };
    let cosigned = witnessed_head(parts, head, outcomes.witnessed.as_ref())?;
    if parts.witnesses.as_ref().is_some_and(|w| w.fail_closed()) {
        return Ok(cosigned);
    }
    Ok(Some(match cosigned {
        Some(c) if c.size == head.size && c.root == head.root => c,
        _ => Arc::new(SignedHead {
            size: head.size,
            root: head.root,
            note: head.checkpoint.clone(),
            signed_at: std::time::SystemTime::now(),
        }),
    }))
}

/// One read, one barrier, and the answers they allow.
fn answer_round(
    parts: &ClusterParts,
    shared: &Shared,
    waiting: &Waiting,
    watched: &mut Watched,
    confirmed: &mut u64,
) -> Result<()> {
    let hashes: Vec<Hash> = waiting.lock().keys().copied().collect();
    let outcomes =
        pending::read_outcomes(watched, parts.log, &hashes).map_err(islet_store::Error::from)?;
    let served = served_head(parts, &outcomes)?;
    // A larger checkpoint, or the same one with the quorum's cosignatures.
    let fresh = served.as_ref().is_some_and(|s| {
        s.size > *confirmed || (s.size == *confirmed && s.note != shared.latest().note)
    });
    if outcomes.logged.is_empty() && !fresh {
        return requeue_lost(parts, waiting, &hashes, &outcomes);
    }
    // Nothing read above is answered or served before this returns.
    pending::barrier(watched).map_err(islet_store::Error::from)?;
    if let Some(signed) = served.as_ref().filter(|_| fresh) {
        publish_confirmed(parts, shared, signed, *confirmed)?;
        *confirmed = signed.size;
    }
    answer_logged(parts, shared, waiting, served.as_ref(), &outcomes)?;
    requeue_lost(parts, waiting, &hashes, &outcomes)
}

/// Serves, publishes and records a head the barrier confirmed.
fn publish_confirmed(
    parts: &ClusterParts,
    shared: &Shared,
    signed: &Arc<SignedHead>,
    old_size: u64,
) -> Result<()> {
    parts.guard.record(&signed.note)?;
    shared.offer_latest(Arc::clone(signed));
    shared
        .metrics
        .tree_size
        .fetch_max(signed.size, Ordering::Relaxed);
    if let Some(publisher) = &parts.publisher {
        publisher.send(old_size, signed.size, signed.note.clone());
    }
    Ok(())
}

/// Answers every waiter whose entry the confirmed snapshot holds.
fn answer_logged(
    parts: &ClusterParts,
    shared: &Shared,
    waiting: &Waiting,
    served: Option<&Arc<SignedHead>>,
    outcomes: &Outcomes,
) -> Result<()> {
    let covered_below = served.map_or(0, |s| s.size);
    let done: Vec<(Hash, Waiter)> = {
        let mut by_hash = waiting.lock();
        let mut done = Vec::new();
        for (hash, logged) in &outcomes.logged {
            if logged.index < covered_below {
                done.extend(by_hash.remove(hash).map(|w| (*hash, w)));
            } else if let Some(w) = by_hash.get_mut(hash) {
                // Logged, but not yet under a checkpoint this node may
                // serve: it waits for the witnesses' quorum.
                w.logged_at = Some(logged.index);
            }
        }
        done
    };
    let Some(signed) = served.filter(|_| !done.is_empty()) else {
        return Ok(());
    };
    let store: &dyn LogStore = parts.store.as_ref();
    let reader = hash_reader(store, parts.log, signed.size);
    let m = &shared.metrics;
    for (hash, waiter) in done {
        let logged = outcomes.logged[&hash];
        let mut jobs = waiter.jobs.into_iter();
        let first = jobs.next();
        let appended = waiter.mine.is_some() && waiter.mine == logged.pseq;
        if let Some(job) = first {
            if appended {
                // The proof comes from the database's tiles; it is checked
                // against the confirmed root before it goes out.
                let outcome = inclusion_proof(logged.index, signed.size, &reader)
                    .and_then(|proof| {
                        verify_inclusion(logged.index, signed.size, &hash, &proof, &signed.root)
                            .map(|()| proof)
                    })
                    .map_err(Error::Tlog)
                    .map(|proof| {
                        Outcome::Appended(Appended {
                            index: logged.index,
                            checkpoint: Arc::clone(signed),
                            proof,
                        })
                    });
                m.time_to_checkpoint
                    .observe(job.queued_at.elapsed().as_secs_f64());
                let _ = job.reply.send(outcome);
            } else {
                m.duplicates.fetch_add(1, Ordering::Relaxed);
                let _ = job.reply.send(Ok(Outcome::Duplicate {
                    index: logged.index,
                }));
            }
        }
        for job in jobs {
            m.duplicates.fetch_add(1, Ordering::Relaxed);
            let _ = job.reply.send(Ok(Outcome::Duplicate {
                index: logged.index,
            }));
        }
    }
    Ok(())
}

/// Puts in line again the waiting entries the snapshot found neither in
/// the log nor in line (a failover of the database lost their rows).
fn requeue_lost(
    parts: &ClusterParts,
    waiting: &Waiting,
    hashes: &[Hash],
    outcomes: &Outcomes,
) -> Result<()> {
    let lost: Vec<(Hash, Vec<u8>)> = {
        let by_hash = waiting.lock();
        hashes
            .iter()
            .filter(|h| !outcomes.logged.contains_key(*h) && !outcomes.pending.contains(*h))
            .filter_map(|h| by_hash.get(h).map(|w| (*h, w.body.clone())))
            .collect()
    };
    if lost.is_empty() {
        return Ok(());
    }
    let items: Vec<(Hash, &[u8])> = lost.iter().map(|(h, b)| (*h, b.as_slice())).collect();
    let mine = parts
        .store
        .enqueue(parts.log, &parts.node, &items)
        .map_err(islet_store::Error::from)?;
    let mut by_hash = waiting.lock();
    for (hash, pseq) in mine {
        if let Some(w) = by_hash.get_mut(&hash) {
            w.mine = Some(pseq);
        }
    }
    Ok(())
}

/// Waits for the lease (unless `lease` holds it already), then integrates
/// until the node stops; any failure to commit stops the node.
fn lead(
    parts: &ClusterParts,
    signer: &dyn NoteSigner,
    shared: &Arc<Shared>,
    lease: Option<Lease>,
    before_sequencing: Option<BeforeSequencing>,
) {
    let lease = match lease {
        Some(l) => l,
        None => loop {
            if !shared.healthy() {
                return;
            }
            match take_lease(parts) {
                Ok(Some(l)) => break l,
                Ok(None) => {}
                Err(e) => eprintln!("islet: taking the sequencer lease failed (will retry): {e}"),
            }
            std::thread::sleep(parts.lease_ttl / 3);
        },
    };
    eprintln!(
        "islet: {} holds the sequencer lease of {} (epoch {})",
        parts.node, parts.origin, lease.epoch
    );
    let keeper = LeaseKeeper::new(Arc::clone(&parts.store), lease.clone(), parts.lease_ttl);
    if let Err(e) = keeper.keep(Arc::clone(shared)) {
        shared.fail(&e);
        return;
    }
    if let Err(e) = integrate(parts, signer, shared, &lease, before_sequencing) {
        shared.fail(&format_args!("the sequencer stopped: {e}"));
    }
}

/// The lease holder's loop: the oldest pending rows, integrated batch by
/// batch, until the node stops or a commit fails.
fn integrate(
    parts: &ClusterParts,
    signer: &dyn NoteSigner,
    shared: &Arc<Shared>,
    lease: &Lease,
    before_sequencing: Option<BeforeSequencing>,
) -> Result<()> {
    let db = |e: islet_pgstore::Error| Error::Store(islet_store::Error::from(e));
    let mut client = parts.store.pool().connect().map_err(db)?;
    client
        .batch_execute(&format!("LISTEN {}", pending::PENDING_CHANNEL))
        .map_err(|e| {
            db(islet_pgstore::Error::Statement {
                op: "listen for pending rows",
                source: e,
            })
        })?;
    // The head after the takeover fenced it: the tree grows from here.
    let head = parts
        .store
        .tree_head(parts.log)?
        .ok_or_else(|| Error::Inconsistent {
            what: "the log has no head under a held lease".into(),
        })?;
    check_stored_head(&head, &parts.verifier, &parts.origin)?;
    parts.guard.check(
        parts.store.as_ref(),
        parts.log,
        &head,
        &parts.verifier,
        &parts.origin,
    )?;
    if let Some(step) = before_sequencing {
        let note = parts
            .store
            .checkpoint_at(parts.log, head.size)?
            .unwrap_or_else(|| head.checkpoint.clone());
        let signed = SignedHead {
            size: head.size,
            root: head.root,
            note,
            signed_at: std::time::SystemTime::now(),
        };
        step(&signed, shared)?;
    }
    let mut tree = Tree::load(parts.store.as_ref(), parts.log, &head)?;
    shared.set_sequencing(true);
    let max = parts.config.batch_max_size.max(1);
    while shared.healthy() {
        let rows = pending::take_pending(&mut client, parts.log, max).map_err(db)?;
        if rows.is_empty() {
            pending::wait_notification(&mut client, INTEGRATE_POLL).map_err(db)?;
            continue;
        }
        integrate_batch(parts, signer, shared, lease, &mut client, &mut tree, rows)?;
    }
    Ok(())
}

/// Integrates one batch of pending rows (see the module docs).
fn integrate_batch(
    parts: &ClusterParts,
    signer: &dyn NoteSigner,
    shared: &Shared,
    lease: &Lease,
    client: &mut islet_pgstore::Conn,
    tree: &mut Tree,
    rows: Vec<PendingRow>,
) -> Result<()> {
    let db = |e: islet_pgstore::Error| Error::Store(islet_store::Error::from(e));
    for row in &rows {
        if leaf_hash(&row.body) != row.hash {
            return Err(Error::Inconsistent {
                what: format!(
                    "pending row {} holds a body whose leaf hash is not its own",
                    row.pseq
                ),
            });
        }
    }
    let hashes: Vec<Hash> = rows.iter().map(|r| r.hash).collect();
    let logged = pending::logged(client, parts.log, &hashes).map_err(db)?;
    let taken_rows: Vec<i64> = rows.iter().map(|r| r.pseq).collect();
    let fresh: Vec<&PendingRow> = rows
        .iter()
        .filter(|r| !logged.contains_key(&r.hash))
        .collect();
    if fresh.is_empty() {
        // Copies of entries the log took meanwhile: only the rows go.
        pending::drop_rows(client, parts.log, &taken_rows).map_err(db)?;
        return Ok(());
    }
    let start = tree.size();
    let mut batch = CommitBatch::default();
    let mut leaf_rows = Vec::with_capacity(fresh.len());
    for (offset, row) in fresh.iter().enumerate() {
        let index = start + offset as u64;
        batch.dedup.push((row.hash, index));
        leaf_rows.push(row.pseq);
        let keys = islet_rekor::index::entry_keys(&row.body);
        if let Some(digest) = keys.artifact_digest {
            batch
                .search
                .push((SearchKind::ArtifactDigest, digest, index));
        }
        for fp in keys.key_fingerprints {
            batch
                .search
                .push((SearchKind::KeyFingerprint, fp.to_vec(), index));
        }
    }
    let leaves: Vec<(&[u8], Hash)> = fresh.iter().map(|r| (r.body.as_slice(), r.hash)).collect();
    tree.append(&leaves, &mut batch)?;
    let root = tree.log.root();
    let note = sign_head(&parts.origin, tree.size(), root, signer)?;
    let head = TreeHead {
        size: tree.size(),
        root,
        checkpoint: note,
    };
    let taken = Taken {
        leaf_rows,
        rows: taken_rows,
    };
    islet_pgstore::append::append(
        client,
        parts.log,
        lease,
        Some(&tree.committed),
        &batch,
        &head,
        Some(&taken),
    )
    .map_err(db)?;
    if let Some(hook) = &parts.witness_hook {
        hook.committed(
            Arc::new(SignedHead {
                size: head.size,
                root: head.root,
                note: head.checkpoint.clone(),
                signed_at: std::time::SystemTime::now(),
            }),
            Vec::new(),
        );
    }
    tree.committed = head;
    let m = &shared.metrics;
    m.appended.fetch_add(fresh.len() as u64, Ordering::Relaxed);
    m.batches.fetch_add(1, Ordering::Relaxed);
    m.batch_entries.observe(fresh.len() as f64);
    Ok(())
}
