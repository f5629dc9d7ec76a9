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

use islet_pgstore::{Lease, PgStore};
use islet_store::config::SequencerConfig;
use islet_store::{CommitBatch, LogNumber, LogStore, TreeHead};
use islet_tlog::merkle::{Hash, leaf_hash};
use islet_tlog::note::{NoteSigner, NoteVerifier};
use tokio::sync::mpsc;

use crate::batch::next_batch;
use crate::error::{Error, Result};
use crate::guard::CheckpointGuard;
use crate::publish::Publisher;
use crate::sequencer::{
    Job, Sequencer, Shared, SignedHead, check_stored_head, empty_head, store_failed,
};
use crate::witnessing::{WitnessHook, Witnessing};

mod answer;
mod lead;

use answer::{answer_loop, witnessed_head};
use lead::lead;

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
    let first = SignedHead::stored(parts.store.as_ref(), parts.log, &head)?;
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
    while let Some(jobs) = next_batch(&mut rx, max, max_age, shared.arrivals()) {
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
