//! Full tiles and bundles kept in memory: they never change once full
//! (the tables' trigger enforces it), so a cached copy is never stale and
//! the cache is never invalidated, only bounded (oldest out first).
//! Partial ones are always read from the database.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use islet_store::LogNumber;

/// The most bytes of full tiles and bundles one store keeps in memory.
pub const CACHE_MAX_BYTES: usize = 64 << 20;

/// Which file: a hash tile (level, index) or a bundle (index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    Tile(LogNumber, u8, u64),
    Bundle(LogNumber, u64),
}

#[derive(Default)]
struct Inner {
    by_key: HashMap<Key, Arc<Vec<u8>>>,
    order: VecDeque<Key>,
    bytes: usize,
}

/// The cache of full tiles and bundles.
#[derive(Default)]
pub(crate) struct FullCache {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for FullCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.lock();
        f.debug_struct("FullCache")
            .field("files", &inner.by_key.len())
            .field("bytes", &inner.bytes)
            .finish()
    }
}

impl FullCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A cached full file.
    pub(crate) fn get(&self, key: Key) -> Option<Vec<u8>> {
        self.lock().by_key.get(&key).map(|d| d.as_ref().clone())
    }

    /// Keeps a full file, dropping the oldest ones past
    /// [`CACHE_MAX_BYTES`] (a file larger than that is not kept).
    pub(crate) fn put(&self, key: Key, data: &[u8]) {
        if data.len() > CACHE_MAX_BYTES {
            return;
        }
        let mut inner = self.lock();
        if inner.by_key.contains_key(&key) {
            return;
        }
        inner.bytes += data.len();
        inner.by_key.insert(key, Arc::new(data.to_vec()));
        inner.order.push_back(key);
        while inner.bytes > CACHE_MAX_BYTES {
            let Some(old) = inner.order.pop_front() else {
                break;
            };
            if let Some(gone) = inner.by_key.remove(&old) {
                inner.bytes -= gone.len();
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_files_go_once_the_cache_is_full_and_an_oversized_one_is_not_kept() {
        let cache = FullCache::default();
        let chunk = vec![7u8; CACHE_MAX_BYTES / 4];
        for i in 0..4 {
            cache.put(Key::Bundle(0, i), &chunk);
        }
        // Exactly at the limit: all four kept.
        assert!((0..4).all(|i| cache.get(Key::Bundle(0, i)).is_some()));
        // One byte past it: the oldest goes.
        cache.put(Key::Tile(0, 0, 0), &[1]);
        assert!(cache.get(Key::Bundle(0, 0)).is_none());
        assert!(cache.get(Key::Bundle(0, 1)).is_some());
        assert_eq!(cache.get(Key::Tile(0, 0, 0)), Some(vec![1]));
        cache.put(Key::Bundle(0, 9), &vec![0u8; CACHE_MAX_BYTES + 1]);
        assert!(cache.get(Key::Bundle(0, 9)).is_none());
    }
}
