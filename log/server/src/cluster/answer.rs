//! The answerer (`islet-answer`): on each new head, new waiters or every
//! [`super::POLL`], it reads the head and where each waiting entry is,
//! runs the durability barrier, and only then answers and serves (see the
//! module docs of [`crate::cluster`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use islet_pgstore::PgStore;
use islet_pgstore::pending::{self, Outcomes, Watched};
use islet_store::engine::hash_reader;
use islet_store::{LogStore, TreeHead};
use islet_tlog::merkle::{Hash, inclusion_proof, verify_inclusion};

use crate::error::{Error, Result};
use crate::sequencer::{Appended, Outcome, Shared, SignedHead, store_failed};

use super::{ANSWER_DEADLINE, ClusterParts, POLL, RECONNECT_AFTER, Waiter, Waiting, refuse};

/// The answerer's connection: listening for heads, reading and confirming.
pub(super) fn connect_answerer(store: &PgStore) -> Option<Watched> {
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
pub(super) fn wait_for_news(watched: &mut Watched, waiting: &Waiting) {
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

pub(super) fn answer_loop(
    parts: &ClusterParts,
    shared: &Shared,
    waiting: &Waiting,
    start_size: u64,
) {
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
pub(super) fn refuse_overdue(parts: &ClusterParts, waiting: &Waiting) {
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
pub(super) fn witnessed_head(
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
pub(super) fn served_head(
    parts: &ClusterParts,
    outcomes: &Outcomes,
) -> Result<Option<Arc<SignedHead>>> {
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
pub(super) fn answer_round(
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
pub(super) fn publish_confirmed(
    parts: &ClusterParts,
    shared: &Shared,
    signed: &Arc<SignedHead>,
    old_size: u64,
) -> Result<()> {
    let started = std::time::Instant::now();
    parts.guard.record(&signed.note)?;
    shared
        .metrics
        .guard_record
        .observe(started.elapsed().as_secs_f64());
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
pub(super) fn answer_logged(
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
pub(super) fn requeue_lost(
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
