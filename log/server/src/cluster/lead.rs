//! The leader (`islet-lead`): waits for the sequencer lease and, once it
//! holds it, integrates the pending rows in batches, each commit guarded
//! by a compare-and-swap on size, root and epoch (see the module docs of
//! [`crate::cluster`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use islet_pgstore::pending::{self, PendingRow};
use islet_pgstore::{Lease, Taken};
use islet_store::{CommitBatch, LogStore, SearchKind, TreeHead};
use islet_tlog::merkle::{Hash, leaf_hash};
use islet_tlog::note::NoteSigner;

use crate::engine::LeaseKeeper;
use crate::error::{Error, Result};
use crate::sequencer::{Shared, SignedHead, Tree, check_stored_head, sign_head};

use super::{BeforeSequencing, ClusterParts, INTEGRATE_POLL, take_lease};

/// Waits for the lease (unless `lease` holds it already), then integrates
/// until the node stops; any failure to commit stops the node.
pub(super) fn lead(
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
pub(super) fn integrate(
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
        let signed = SignedHead::stored(parts.store.as_ref(), parts.log, &head)?;
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
pub(super) fn integrate_batch(
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
    // PostgreSQL takes bundles whole.
    tree.append(false, &leaves, &mut batch)?;
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
    let started = std::time::Instant::now();
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
    shared
        .metrics
        .store_commit
        .observe(started.elapsed().as_secs_f64());
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
    tree.committed(head);
    let m = &shared.metrics;
    m.appended.fetch_add(fresh.len() as u64, Ordering::Relaxed);
    m.batches.fetch_add(1, Ordering::Relaxed);
    m.batch_entries.observe(fresh.len() as f64);
    Ok(())
}
