//! The sequencer: turns validated entries into committed, checkpointed log
//! entries.
//!
//! One thread owns the tree. It takes entries from a bounded queue in
//! batches (up to `batch_max_size`, or whatever arrived within
//! `batch_max_age` of the first), drops duplicates (exact: the dedup index
//! and the batch itself), grows the tiles and bundles in memory, signs the
//! checkpoint of the new size, writes everything in one synced RocksDB
//! `WriteBatch`, records the checkpoint outside the database (the fork
//! guard), and only then answers the waiting clients with an inclusion proof
//! against that checkpoint.
//!
//! A storage or signing failure is fatal: the in-memory tree may be ahead
//! of the store, so the sequencer stops and every later write gets 503
//! until a restart re-verifies the state (the lesson of the Raio incident).
//! The server is crash-only about it: [`Shared::fail`] marks the store
//! failed (writes 503, `/healthz` NOT_SERVING), and [`crate::serve`]
//! returns [`crate::Stopped::StoreFailed`]
//! [`FAILED_STORE_EXIT_AFTER`] later, so that the process exits and its
//! supervisor starts it again: RocksDB's recovery and the fork guard's
//! checks then run on the state the disk really holds. Nothing about one
//! entry can stop it: entries arrive validated, the size limit included
//! (`islet_rekor::entry::validate`), and duplicates are answered, not
//! refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};

use super::batch::{Arrivals, Arriving, next_batch};
use super::guard::CheckpointGuard;
use super::metrics::Metrics;
use super::publish::Publisher;
use super::witnessing::{Waiter, WitnessHook};
use crate::error::{Error, Result};
use islet_rekor::entry::ValidatedEntry;
use islet_store::config::SequencerConfig;
use islet_store::engine::{grow_batch, grow_batch_appending, grower_at, hash_reader};
use islet_store::{CommitBatch, LogNumber, LogStore, SearchKind, TreeHead};
use islet_tlog::checkpoint::Checkpoint;
use islet_tlog::grow::LogGrower;
use islet_tlog::merkle::{Hash, inclusion_proof, leaf_hash};
use islet_tlog::note::NoteSigner;

/// What happened to a submitted entry.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Appended at `index`, covered by `checkpoint`.
    Appended(Appended),
    /// The same entry is already in the log at this index.
    Duplicate {
        /// The original index.
        index: u64,
    },
}

/// An appended entry with its proof.
#[derive(Debug, Clone)]
pub struct Appended {
    /// Its index.
    pub index: u64,
    /// The checkpoint that covers it.
    pub checkpoint: Arc<SignedHead>,
    /// Inclusion proof against that checkpoint.
    pub proof: Vec<Hash>,
}

/// A signed tree head as published.
#[derive(Debug, Clone)]
pub struct SignedHead {
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
    /// The signed checkpoint note.
    pub note: Vec<u8>,
    /// When it was signed.
    pub signed_at: std::time::SystemTime,
}

impl SignedHead {
    /// The committed `head` of `log` as a node starts serving it: its note
    /// as stored, with the cosignatures it gathered when it has any.
    ///
    /// # Errors
    /// The store's failure.
    pub(crate) fn stored(store: &dyn LogStore, log: LogNumber, head: &TreeHead) -> Result<Self> {
        let note = store
            .checkpoint_at(log, head.size)?
            .unwrap_or_else(|| head.checkpoint.clone());
        Ok(Self {
            size: head.size,
            root: head.root,
            note,
            signed_at: std::time::SystemTime::now(),
        })
    }
}

pub(crate) type Reply = oneshot::Sender<Result<Outcome>>;

/// A submission and where its answer goes.
pub(crate) struct Job {
    pub(crate) entry: ValidatedEntry,
    pub(crate) reply: Reply,
    pub(crate) queued_at: Instant,
}

/// The handle the HTTP layer submits through.
#[derive(Clone)]
pub struct Sequencer {
    tx: mpsc::Sender<Job>,
    shared: Arc<Shared>,
}

/// How long a server whose store failed goes on answering writes with 503
/// and `/healthz` with NOT_SERVING before it shuts down (so that load
/// balancers and probes see the failure rather than a refused connection).
pub const FAILED_STORE_EXIT_AFTER: Duration = Duration::from_secs(2);

/// State readers share with the sequencer thread.
pub struct Shared {
    /// The latest published head.
    latest: std::sync::RwLock<Arc<SignedHead>>,
    /// False once the sequencer hit a fatal error.
    healthy: AtomicBool,
    /// True while this node sequences the log: always on RocksDB; on
    /// PostgreSQL while it holds the lease (what pushes to mirrors wait
    /// for).
    sequencing: AtomicBool,
    /// Becomes true, once and for good, when the store failed.
    failed: watch::Sender<bool>,
    /// Entries queued and not answered.
    pending: AtomicU64,
    /// Writes received and on their way to the queue (being validated):
    /// while there are any, a batch waits for them.
    arriving: Arrivals,
    /// Counters.
    pub metrics: Metrics,
}

impl Shared {
    /// The latest published head.
    pub fn latest(&self) -> Arc<SignedHead> {
        self.latest
            .read()
            .map(|g| Arc::clone(&g))
            .unwrap_or_else(|e| Arc::clone(&e.into_inner()))
    }

    /// Whether the sequencer is running.
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Whether this node sequences the log (see the field).
    pub fn is_sequencing(&self) -> bool {
        self.sequencing.load(Ordering::Relaxed)
    }

    /// Records whether this node sequences the log.
    pub fn set_sequencing(&self, yes: bool) {
        self.sequencing.store(yes, Ordering::Relaxed);
    }

    /// Marks the store failed: from now on writes are refused with 503,
    /// `/healthz` answers NOT_SERVING and [`Shared::store_failed`]
    /// completes. `what` goes to stderr; writing it never panics (a full
    /// disk may hold the file stderr goes to).
    pub fn fail(&self, what: &dyn std::fmt::Display) {
        use std::io::Write;
        let first = !self.failed.send_replace(true);
        self.healthy.store(false, Ordering::SeqCst);
        let _ = writeln!(
            std::io::stderr(),
            "islet: the store failed: {what}; writes are refused{}",
            if first {
                format!(
                    ", and the server stops in {} s for its supervisor to restart it",
                    FAILED_STORE_EXIT_AFTER.as_secs_f64()
                )
            } else {
                String::new()
            }
        );
    }

    /// Completes once the store has failed (at once if it already has).
    pub async fn store_failed(&self) {
        let mut rx = self.failed.subscribe();
        // The sender lives in `self`, so waiting cannot end in an error.
        let _ = rx.wait_for(|failed| *failed).await;
    }

    /// Serves `head` from now on unless a larger one is served already
    /// (the same size replaces: a checkpoint that gained cosignatures).
    /// True when it was taken.
    pub(crate) fn offer_latest(&self, head: Arc<SignedHead>) -> bool {
        match self.latest.write() {
            Ok(mut latest) if head.size >= latest.size => {
                *latest = head;
                true
            }
            _ => false,
        }
    }

    /// The writes on their way to the queue (see [`Arrivals`]).
    pub fn arrivals(&self) -> &Arrivals {
        &self.arriving
    }

    /// Entries waiting to be sequenced.
    pub fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }

    /// Counts `n` entries as taken off the queue; never below zero.
    fn take_pending(&self, n: u64) {
        // The closure always returns Some, so the update cannot fail.
        let _always_ok = self
            .pending
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                Some(p.saturating_sub(n))
            });
    }
}

impl std::fmt::Debug for Sequencer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sequencer(size {})", self.shared.latest().size)
    }
}

impl Sequencer {
    /// Submits an entry and waits until it is committed and covered by a
    /// signed checkpoint (or found to be a duplicate). `arriving`, the
    /// write's count among those on their way, ends once the entry is
    /// queued (or refused).
    ///
    /// # Errors
    /// [`Error::Overloaded`] when the queue is full; [`Error::Unavailable`]
    /// when the sequencer has stopped.
    pub async fn submit(
        &self,
        entry: ValidatedEntry,
        arriving: Option<Arriving<'_>>,
    ) -> Result<Outcome> {
        if !self.shared.healthy() {
            return Err(store_failed());
        }
        let (reply, rx) = oneshot::channel();
        let job = Job {
            entry,
            reply,
            queued_at: Instant::now(),
        };
        // Counted before the sequencer can take the job, so its decrement
        // never comes first; taken back if the job is not queued.
        self.shared.pending.fetch_add(1, Ordering::Relaxed);
        let queued = self.tx.try_send(job);
        // Queued (or refused): no longer on its way. Dropped after the
        // job is in the queue, so a batch never sees neither.
        drop(arriving);
        queued.map_err(|e| {
            self.shared.take_pending(1);
            match e {
                mpsc::error::TrySendError::Full(_) => Error::Overloaded,
                // The receiver goes only when the sequencer stops.
                mpsc::error::TrySendError::Closed(_) => store_failed(),
            }
        })?;
        rx.await.unwrap_or_else(|_| {
            // The batch failed (the store failed) or the server is
            // stopping.
            Err(Error::Unavailable {
                reason: "the server stopped before this entry was answered, so it may or may not \
                         be in the log; retry once the server is back: a retry gets 201, or 409 \
                         with the entry's index"
                    .into(),
            })
        })
    }

    /// State shared with readers.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

impl Sequencer {
    /// A handle whose jobs go to `tx`, for another engine's write path
    /// (`crate::cluster`).
    pub(crate) fn with_queue(tx: mpsc::Sender<Job>, shared: Arc<Shared>) -> Sequencer {
        Sequencer { tx, shared }
    }
}

impl Shared {
    /// The state of a sequencer starting from `head`, serving it.
    pub(crate) fn new(head: SignedHead) -> Shared {
        let size = head.size;
        let shared = Shared {
            latest: std::sync::RwLock::new(Arc::new(head)),
            healthy: AtomicBool::new(true),
            sequencing: AtomicBool::new(true),
            failed: watch::Sender::new(false),
            pending: AtomicU64::new(0),
            arriving: Arrivals::default(),
            metrics: Metrics::default(),
        };
        shared.metrics.tree_size.store(size, Ordering::Relaxed);
        shared
    }

    /// Counts `n` jobs as taken off the queue.
    pub(crate) fn took(&self, n: u64) {
        self.take_pending(n);
    }
}

/// The answer to writes once the store failed.
pub(crate) fn store_failed() -> Error {
    Error::Unavailable {
        reason: format!(
            "the log's store failed; the server stops within {} s for its supervisor to restart it \
             and recover the store",
            FAILED_STORE_EXIT_AFTER.as_secs_f64()
        ),
    }
}

/// The tree as the sequencer holds it in memory, and the committed head
/// it grew from (what the next commit must find stored).
pub(crate) struct Tree {
    pub(crate) log: LogGrower,
    pub(crate) committed: TreeHead,
    /// The store holds the edge bundle exactly as `log` has it, because
    /// this tree committed it: the next batch may append to it. (Loaded
    /// from a store, the stored bundle may be longer than the head, after
    /// an unfinished staging: the first batch writes it whole.)
    pub(crate) edge_committed: bool,
}

impl Tree {
    /// Loads the right edge of the tree from the store and checks it against
    /// the committed root.
    pub(crate) fn load(store: &dyn LogStore, log: LogNumber, head: &TreeHead) -> Result<Tree> {
        let grower = grower_at(store, log, head.size)?;
        if grower.root() != head.root {
            return Err(Error::Inconsistent {
                what: format!(
                    "the right-edge tiles of size {} do not hash to the committed root",
                    head.size
                ),
            });
        }
        Ok(Tree {
            log: grower,
            committed: head.clone(),
            edge_committed: false,
        })
    }

    pub(crate) fn size(&self) -> u64 {
        self.log.size()
    }

    /// Appends entries (with their leaf hashes); adds the tiles and
    /// bundles to write to `batch`: the edge bundle as an append when the
    /// store takes them (`store_appends`, see
    /// [`LogStore::appends_bundles`]) and holds what this tree committed.
    pub(crate) fn append(
        &mut self,
        store_appends: bool,
        entries: &[(&[u8], Hash)],
        batch: &mut CommitBatch,
    ) -> Result<()> {
        if self.edge_committed && store_appends {
            Ok(grow_batch_appending(&mut self.log, entries, batch)?)
        } else {
            Ok(grow_batch(&mut self.log, entries, batch)?)
        }
    }

    /// Records that `head`, grown by this tree, is committed.
    pub(crate) fn committed(&mut self, head: TreeHead) {
        self.committed = head;
        self.edge_committed = true;
    }
}

/// Everything the sequencer thread owns.
pub struct SequencerParts {
    /// The store (either engine).
    pub store: Arc<dyn LogStore>,
    /// The log it sequences in that store.
    pub log: LogNumber,
    /// The log key.
    pub signer: Arc<dyn NoteSigner>,
    /// The checkpoint origin.
    pub origin: String,
    /// The record of the latest checkpoint outside the database.
    pub guard: CheckpointGuard,
    /// Tuning.
    pub config: SequencerConfig,
    /// Told of each new head once it is durable (`--publish-dir`).
    pub publisher: Option<Publisher>,
    /// Told of each new head for this log's witnesses; in fail-closed
    /// mode it also answers the writes.
    pub witness: Option<WitnessHook>,
}

/// Signs the checkpoint of a tree head with the log key.
pub(crate) fn sign_head(
    origin: &str,
    size: u64,
    root: Hash,
    signer: &dyn NoteSigner,
) -> Result<Vec<u8>> {
    Checkpoint {
        origin: origin.to_owned(),
        size,
        root,
        extensions: Vec::new(),
    }
    .sign(&[signer])
    .map_err(Error::Tlog)
}

/// The head of a new log: the empty tree, its checkpoint signed.
pub(crate) fn empty_head(origin: &str, signer: &dyn NoteSigner) -> Result<TreeHead> {
    let root = islet_tlog::merkle::EMPTY_ROOT;
    Ok(TreeHead {
        size: 0,
        root,
        checkpoint: sign_head(origin, 0, root, signer)?,
    })
}

/// Checks that a stored head's checkpoint is signed by the log key and
/// names that head.
///
/// # Errors
/// [`Error::Inconsistent`].
pub(crate) fn check_stored_head(
    head: &TreeHead,
    verifier: &islet_tlog::note::NoteVerifier,
    origin: &str,
) -> Result<()> {
    let signed = islet_tlog::checkpoint::SignedCheckpoint::open(
        &head.checkpoint,
        verifier,
        &[],
        Some(origin),
    )
    .map_err(|e| Error::Inconsistent {
        what: format!("the stored checkpoint does not verify with the log key: {e}"),
    })?;
    if signed.checkpoint.size != head.size || signed.checkpoint.root != head.root {
        return Err(Error::Inconsistent {
            what: "the stored checkpoint does not match the stored tree head".into(),
        });
    }
    Ok(())
}

/// Checks the store against the fork guard and starts the sequencer thread.
///
/// # Errors
/// [`Error::Fork`] when the store is behind or disagrees with the last
/// published checkpoint; [`Error::Store`] when the store is inconsistent.
pub fn start(parts: SequencerParts) -> Result<Sequencer> {
    let store = Arc::clone(&parts.store);
    let log = parts.log;
    let verifier = parts.signer.verifier();
    let head = match store.tree_head(log)? {
        Some(h) => h,
        None => {
            // A new log: its first checkpoint is the empty tree.
            let head = empty_head(&parts.origin, parts.signer.as_ref())?;
            parts.guard.check_new_log()?;
            store.append(log, None, &CommitBatch::default(), &head)?;
            parts.guard.record(&head.checkpoint)?;
            head
        }
    };
    check_stored_head(&head, &verifier, &parts.origin)?;
    parts
        .guard
        .check(store.as_ref(), log, &head, &verifier, &parts.origin)?;
    let tree = Tree::load(store.as_ref(), log, &head)?;
    let (tx, rx) = mpsc::channel(parts.config.max_pending.max(1));
    let shared = Arc::new(Shared::new(SignedHead::stored(store.as_ref(), log, &head)?));
    let thread_shared = Arc::clone(&shared);
    std::thread::Builder::new()
        .name("islet-sequencer".into())
        .spawn(move || run(parts, tree, rx, &thread_shared))
        .map_err(|e| Error::Thread {
            thread: "sequencer",
            reason: format!("cannot start: {e}"),
        })?;
    Ok(Sequencer { tx, shared })
}

/// Marks the store failed when the sequencer thread unwinds from a panic:
/// its tree may be ahead of the store, as after an error.
struct FailOnPanic<'a>(&'a Shared);

impl Drop for FailOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.fail(&"the sequencer panicked");
        }
    }
}

fn run(mut parts: SequencerParts, mut tree: Tree, mut rx: mpsc::Receiver<Job>, shared: &Shared) {
    let _fail_on_panic = FailOnPanic(shared);
    let (max, max_age) = (parts.config.batch_max_size, parts.config.batch_max_age);
    while let Some(jobs) = next_batch(&mut rx, max, max_age, shared.arrivals()) {
        shared.take_pending(jobs.len() as u64);
        if let Err(e) = sequence(&mut parts, &mut tree, jobs, shared) {
            // The batch's own writes are answered 503 by their dropped
            // senders; refuse everything still queued.
            shared.fail(&format_args!("the sequencer stopped: {e}"));
            rx.close();
            while let Ok(job) = rx.try_recv() {
                let _ = job.reply.send(Err(store_failed()));
            }
            return;
        }
    }
}

/// Sequences one batch. An error here is fatal (see the module docs).
fn sequence(
    parts: &mut SequencerParts,
    tree: &mut Tree,
    jobs: Vec<Job>,
    shared: &Shared,
) -> Result<()> {
    let store = Arc::clone(&parts.store);
    let log = parts.log;
    let old_size = tree.size();
    let mut batch = CommitBatch::default();
    let mut fresh: Vec<(Job, u64, Hash)> = Vec::new();
    let mut duplicates: Vec<(Job, u64)> = Vec::new();
    let mut in_batch: rustc_hash::FxHashMap<Hash, u64> = rustc_hash::FxHashMap::default();
    for job in jobs {
        // The leaf hash is the dedup key (and, there, the leaf-hash search
        // index): computed once, used for the tree too.
        let key: Hash = leaf_hash(&job.entry.body);
        let existing = match in_batch.get(&key) {
            Some(&i) => Some(i),
            None => store.dedup_lookup(log, &key)?,
        };
        if let Some(index) = existing {
            duplicates.push((job, index));
            continue;
        }
        let index = old_size + fresh.len() as u64;
        in_batch.insert(key, index);
        batch.dedup.push((key, index));
        let (_, digest) = &job.entry.artifact_digest;
        batch
            .search
            .push((SearchKind::ArtifactDigest, digest.clone(), index));
        for fp in &job.entry.key_fingerprints {
            batch
                .search
                .push((SearchKind::KeyFingerprint, fp.to_vec(), index));
        }
        fresh.push((job, index, key));
    }
    // Duplicates of entries committed earlier can be answered now; those of
    // entries in this batch once it commits.
    let (answer_now, answer_later): (Vec<_>, Vec<_>) =
        duplicates.into_iter().partition(|(_, i)| *i < old_size);
    for (job, index) in answer_now {
        shared.metrics.duplicates.fetch_add(1, Ordering::Relaxed);
        let _ = job.reply.send(Ok(Outcome::Duplicate { index }));
    }
    if fresh.is_empty() {
        for (job, index) in answer_later {
            let _ = job.reply.send(Ok(Outcome::Duplicate { index }));
        }
        return Ok(());
    }
    let leaves: Vec<(&[u8], Hash)> = fresh
        .iter()
        .map(|(j, _, leaf)| (j.entry.body.as_slice(), *leaf))
        .collect();
    tree.append(store.appends_bundles(), &leaves, &mut batch)?;
    let root = tree.log.root();
    let note = sign_head(&parts.origin, tree.size(), root, parts.signer.as_ref())?;
    let head = TreeHead {
        size: tree.size(),
        root,
        checkpoint: note,
    };
    let started = Instant::now();
    store.append(log, Some(&tree.committed), &batch, &head)?;
    let committed = Instant::now();
    parts.guard.record(&head.checkpoint)?;
    shared
        .metrics
        .store_commit
        .observe(committed.duration_since(started).as_secs_f64());
    shared
        .metrics
        .guard_record
        .observe(committed.elapsed().as_secs_f64());
    let signed = Arc::new(SignedHead {
        size: head.size,
        root,
        note: head.checkpoint.clone(),
        signed_at: std::time::SystemTime::now(),
    });
    tree.committed(head);
    let fail_closed = parts.witness.as_ref().is_some_and(|w| w.fail_closed);
    if !fail_closed {
        shared.offer_latest(Arc::clone(&signed));
        if let Some(publisher) = &parts.publisher {
            publisher.send(old_size, signed.size, signed.note.clone());
        }
    }
    let m = &shared.metrics;
    m.appended.fetch_add(fresh.len() as u64, Ordering::Relaxed);
    m.batches.fetch_add(1, Ordering::Relaxed);
    m.batch_entries.observe(fresh.len() as f64);
    m.tree_size.store(signed.size, Ordering::Relaxed);
    if let Some(hook) = parts.witness.as_ref().filter(|w| w.fail_closed) {
        // The witnessing task answers once a cosigned checkpoint covers them.
        let waiters = fresh
            .into_iter()
            .map(|(job, index, _)| Waiter {
                index,
                reply: job.reply,
                queued_at: job.queued_at,
            })
            .collect();
        hook.committed(Arc::clone(&signed), waiters);
        for (job, index) in answer_later {
            m.duplicates.fetch_add(1, Ordering::Relaxed);
            let _ = job.reply.send(Ok(Outcome::Duplicate { index }));
        }
        return Ok(());
    }
    if let Some(hook) = &parts.witness {
        hook.committed(Arc::clone(&signed), Vec::new());
    }
    let reader = hash_reader(store.as_ref(), log, signed.size);
    for (job, index, _) in fresh {
        let outcome = inclusion_proof(index, signed.size, &reader)
            .map_err(Error::Tlog)
            .map(|proof| {
                Outcome::Appended(Appended {
                    index,
                    checkpoint: Arc::clone(&signed),
                    proof,
                })
            });
        m.time_to_checkpoint
            .observe(job.queued_at.elapsed().as_secs_f64());
        let _ = job.reply.send(outcome);
    }
    for (job, index) in answer_later {
        m.duplicates.fetch_add(1, Ordering::Relaxed);
        let _ = job.reply.send(Ok(Outcome::Duplicate { index }));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn shared() -> Shared {
        Shared {
            latest: std::sync::RwLock::new(Arc::new(SignedHead {
                size: 0,
                root: islet_tlog::merkle::EMPTY_ROOT,
                note: Vec::new(),
                signed_at: std::time::SystemTime::now(),
            })),
            healthy: AtomicBool::new(true),
            sequencing: AtomicBool::new(true),
            failed: watch::Sender::new(false),
            pending: AtomicU64::new(0),
            arriving: Arrivals::default(),
            metrics: Metrics::default(),
        }
    }

    #[tokio::test]
    async fn a_failed_store_is_unhealthy_and_wakes_whoever_waits_for_it() {
        let shared = Arc::new(shared());
        let waiting = tokio::spawn({
            let shared = Arc::clone(&shared);
            async move { shared.store_failed().await }
        });
        tokio::task::yield_now().await;
        assert!(shared.healthy());
        assert!(!waiting.is_finished());
        shared.fail(&"a test");
        tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("store_failed completes once the store failed")
            .expect("the waiting task ends");
        assert!(!shared.healthy());
        // Later waiters complete at once; a second failure changes nothing.
        shared.fail(&"again");
        tokio::time::timeout(Duration::from_secs(10), shared.store_failed())
            .await
            .expect("store_failed completes at once after a failure");
    }

    #[test]
    fn a_panicking_sequencer_marks_the_store_failed() {
        let shared = Arc::new(shared());
        let inner = Arc::clone(&shared);
        let joined = std::thread::spawn(move || {
            let _guard = FailOnPanic(&inner);
            panic!("a test panic");
        })
        .join();
        assert!(joined.is_err());
        assert!(!shared.healthy());
    }
}
