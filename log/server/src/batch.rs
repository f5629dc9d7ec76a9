//! Batches: when the sequencer stops taking entries into the batch it
//! commits next.
//!
//! A batch takes the next job, then whatever else arrives, up to
//! `batch_max_size` jobs, until `batch_max_age` after the first or until
//! nothing more is on its way: the queue is empty and no write is being
//! received or validated ([`Arrivals`]). A batch so closes as soon as every
//! write the server holds is in it, rather than always waiting
//! `batch_max_age` for writes that are not coming (64 clients waiting on
//! their answers send nothing more); under a steady stream it fills for up
//! to `batch_max_age`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::sequencer::Job;

/// How long [`next_batch`] sleeps between looks at the queue while writes
/// are on their way to it.
const BATCH_POLL: Duration = Duration::from_micros(200);

/// The count of writes on their way to the sequencer's queue: received,
/// being validated, not yet queued or refused.
#[derive(Debug, Default)]
pub struct Arrivals(AtomicU64);

impl Arrivals {
    /// Counts a write as on its way until the returned guard is dropped:
    /// once the write is queued, refused, or abandoned.
    pub fn arrive(&self) -> Arriving<'_> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Arriving(self)
    }

    /// Writes on their way now.
    pub fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A write on its way to the sequencer's queue (see [`Arrivals::arrive`]).
pub struct Arriving<'a>(&'a Arrivals);

impl std::fmt::Debug for Arriving<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Arriving")
    }
}

impl Drop for Arriving<'_> {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Waits for the next job, then fills the batch as the module docs say.
/// None when the queue closed.
pub(crate) fn next_batch(
    rx: &mut mpsc::Receiver<Job>,
    max: usize,
    max_age: Duration,
    arrivals: &Arrivals,
) -> Option<Vec<Job>> {
    let first = rx.blocking_recv()?;
    let deadline = Instant::now() + max_age;
    let mut jobs = vec![first];
    while jobs.len() < max.max(1) {
        match rx.try_recv() {
            Ok(j) => jobs.push(j),
            Err(mpsc::error::TryRecvError::Empty) => {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                if arrivals.now() == 0 {
                    // A write counted out since the look above is in the
                    // queue already.
                    match rx.try_recv() {
                        Ok(j) => {
                            jobs.push(j);
                            continue;
                        }
                        Err(_) => break,
                    }
                }
                std::thread::sleep((deadline - now).min(BATCH_POLL));
            }
            Err(mpsc::error::TryRecvError::Disconnected) => break,
        }
    }
    Some(jobs)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use islet_rekor::entry::{EntryKind, ValidatedEntry};
    use tokio::sync::oneshot;

    fn job(n: u8) -> Job {
        let (reply, _) = oneshot::channel();
        Job {
            entry: ValidatedEntry {
                kind: EntryKind::HashedRekord,
                body: vec![n],
                artifact_digest: (islet_rekor::keys::HashAlgorithm::Sha256, vec![n]),
                key_fingerprints: Vec::new(),
            },
            reply,
            queued_at: Instant::now(),
        }
    }

    /// A batch closes once nothing is on its way, without waiting for
    /// `max_age`; while a write is on its way it waits for it; and it never
    /// waits past `max_age` for one that does not come.
    #[test]
    fn a_batch_closes_when_nothing_more_is_on_its_way() {
        let arrivals = Arrivals::default();
        let (tx, mut rx) = mpsc::channel(16);
        let long = Duration::from_secs(30);

        // Nothing arriving: the queued jobs, at once (far before max_age).
        tx.try_send(job(1)).unwrap();
        tx.try_send(job(2)).unwrap();
        let started = Instant::now();
        let batch = next_batch(&mut rx, 512, long, &arrivals).unwrap();
        assert_eq!(batch.len(), 2);
        assert!(started.elapsed() < long / 2, "{:?}", started.elapsed());

        // A write on its way joins the batch when it is queued.
        tx.try_send(job(3)).unwrap();
        std::thread::scope(|scope| {
            let on_its_way = arrivals.arrive();
            let sender = tx.clone();
            scope.spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                sender.try_send(job(4)).unwrap();
                drop(on_its_way);
            });
            let batch = next_batch(&mut rx, 512, long, &arrivals).unwrap();
            let bodies: Vec<u8> = batch.iter().map(|j| j.entry.body[0]).collect();
            assert_eq!(bodies, [3, 4]);
        });
        assert_eq!(arrivals.now(), 0);

        // A write that never comes: the batch closes at max_age.
        tx.try_send(job(5)).unwrap();
        let stuck = arrivals.arrive();
        let max_age = Duration::from_millis(100);
        let started = Instant::now();
        let batch = next_batch(&mut rx, 512, max_age, &arrivals).unwrap();
        assert_eq!(batch.len(), 1);
        assert!(started.elapsed() >= max_age);
        drop(stuck);

        // And max jobs closes it however much is on its way.
        let _stuck = arrivals.arrive();
        for n in 0..3 {
            tx.try_send(job(n)).unwrap();
        }
        assert_eq!(next_batch(&mut rx, 2, long, &arrivals).unwrap().len(), 2);
    }
}
