//! What the engine tests share: growing a stored log by entries.

use islet_store::engine::{grow_batch, grower_at};
use islet_store::{CommitBatch, LogNumber, LogStore};
use islet_tlog::merkle::{Hash, leaf_hash};

/// The batch (tiles, bundles and dedup rows) that grows `store`'s `log`
/// from `from` to `to` entries, the entry at `i` being `body(i)`, and the
/// root of the grown tree.
pub(crate) fn grow_by(
    store: &dyn LogStore,
    log: LogNumber,
    from: u64,
    to: u64,
    body: impl Fn(u64) -> Vec<u8>,
) -> (CommitBatch, Hash) {
    let mut grower = grower_at(store, log, from).unwrap();
    let bodies: Vec<Vec<u8>> = (from..to).map(body).collect();
    let leaves: Vec<(&[u8], Hash)> = bodies
        .iter()
        .map(|b| (b.as_slice(), leaf_hash(b)))
        .collect();
    let mut batch = CommitBatch::default();
    grow_batch(&mut grower, &leaves, &mut batch).unwrap();
    for (i, (_, leaf)) in leaves.iter().enumerate() {
        batch.dedup.push((*leaf, from + i as u64));
    }
    (batch, grower.root())
}
