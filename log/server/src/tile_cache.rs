//! Tiles and entry bundles kept in memory as they are served.
//!
//! A tlog-tiles path names bytes that never change: a partial tile's path
//! carries its width, so `tile/0/001.p/7` is the same seven hashes at every
//! tree size that has it. Once read from the store, a tile or bundle is
//! served from memory to every later request for its path, as a static
//! file server would: the body is shared, not copied ([`Bytes`]), its
//! strong `ETag` (from its SHA-256) is made once, and a bundle's gzip form
//! is made once, the first time a client asks for it. Whether the log has
//! reached a path is still checked on every request, before the cache is
//! asked, so a cached path is never served ahead of the tree size the
//! caller serves.
//!
//! The cache is bounded by bytes ([`TILE_CACHE_MAX_BYTES`] by default),
//! evicting in insertion order with a second chance for what was served
//! since it was last looked at (the CLOCK policy): the top tiles and the
//! recent bundles, which every client reads, stay.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::http::HeaderValue;
use bytes::Bytes;
use islet_store::LogNumber;
use islet_tlog::tiles::TilePath;
use sha2::{Digest, Sha256};

/// Bytes of tiles and bundles `islet serve` keeps in memory: all the top
/// tiles of a log of billions of entries, and a couple of hundred recent
/// full bundles. (Part of the server's memory budget, with the store's
/// `BLOCK_CACHE_BYTES`.)
pub const TILE_CACHE_MAX_BYTES: usize = 32 << 20;

/// A bundle's gzip form is kept only when it is at most this fraction
/// (in tenths) of the plain bytes; otherwise the plain bytes are sent.
const GZIP_WORTH_TENTHS: usize = 9;

/// Memory counted for each cached item beside its bytes (the map entry,
/// the queue slot, the item itself).
const ITEM_OVERHEAD_BYTES: usize = 256;

/// Which store a log number belongs to: the own log may live in another
/// engine (PostgreSQL) whose numbers are its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// The engine that keeps the own log.
    Own,
    /// The data directory's store: mirrors and shards that ended.
    Local,
}

/// A cached resource's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    /// The store.
    pub source: Source,
    /// The log in that store.
    pub log: LogNumber,
    /// The tile or bundle.
    pub path: TilePath,
}

/// One representation of a resource: its bytes and their entity tag.
#[derive(Clone, Debug)]
pub struct Representation {
    /// The body.
    pub body: Bytes,
    /// Its strong `ETag` value, quotes included.
    pub etag: HeaderValue,
}

/// A cached tile or bundle.
#[derive(Debug)]
pub struct Cached {
    /// The bytes as stored.
    pub plain: Representation,
    /// The gzip form, once asked for: `None` when gzip does not pay.
    gzip: OnceLock<Option<Representation>>,
    /// Served since the evictor last passed it.
    referenced: AtomicBool,
    /// Bytes counted against the cache for it.
    charged: AtomicUsize,
}

impl Cached {
    fn new(body: Vec<u8>) -> Cached {
        let digest = Sha256::digest(&body);
        let etag = format!("\"{}\"", hex::encode(&digest[..16]));
        let charged = body.len() + ITEM_OVERHEAD_BYTES;
        Cached {
            plain: Representation {
                body: Bytes::from(body),
                etag: header_value(etag),
            },
            gzip: OnceLock::new(),
            referenced: AtomicBool::new(false),
            charged: AtomicUsize::new(charged),
        }
    }

    /// Whether a client may be sent another representation than the plain
    /// one: entry bundles (JSON and base64 compress), not hash tiles.
    pub fn may_compress(path: &TilePath) -> bool {
        matches!(path, TilePath::Entries(_))
    }
}

/// An entity tag is ASCII by construction (quotes, hex and a suffix).
fn header_value(tag: String) -> HeaderValue {
    HeaderValue::try_from(tag).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// Compresses `plain` with gzip at the fastest level; `None` when it does
/// not shrink enough to pay for the client's decompression.
fn gzip_of(plain: &Representation) -> Option<Representation> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(plain.body.len() / 2),
        flate2::Compression::fast(),
    );
    encoder.write_all(&plain.body).ok()?;
    let gz = encoder.finish().ok()?;
    if gz.len() * 10 > plain.body.len() * GZIP_WORTH_TENTHS {
        return None;
    }
    let tag = plain.etag.to_str().ok()?.trim_end_matches('"').to_owned() + "-gzip\"";
    Some(Representation {
        body: Bytes::from(gz),
        etag: header_value(tag),
    })
}

struct Inner {
    map: rustc_hash::FxHashMap<Key, Arc<Cached>>,
    order: VecDeque<Key>,
    bytes: usize,
}

/// The cache (see the module docs).
pub struct TileCache {
    inner: Mutex<Inner>,
    max_bytes: usize,
}

impl std::fmt::Debug for TileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (items, bytes) = self.usage();
        write!(
            f,
            "TileCache({items} items, {bytes} of {} bytes)",
            self.max_bytes
        )
    }
}

impl Default for TileCache {
    fn default() -> TileCache {
        TileCache::new(TILE_CACHE_MAX_BYTES)
    }
}

impl TileCache {
    /// An empty cache holding at most `max_bytes`.
    pub fn new(max_bytes: usize) -> TileCache {
        TileCache {
            inner: Mutex::new(Inner {
                map: rustc_hash::FxHashMap::default(),
                order: VecDeque::new(),
                bytes: 0,
            }),
            max_bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Nothing under the lock can panic halfway through an update that
        // matters: a poisoned map is still a valid cache.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Items and bytes held.
    pub fn usage(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.map.len(), inner.bytes)
    }

    /// The cached resource, if it is held.
    pub fn get(&self, key: &Key) -> Option<Arc<Cached>> {
        let found = self.lock().map.get(key).map(Arc::clone)?;
        found.referenced.store(true, Ordering::Relaxed);
        Some(found)
    }

    /// Keeps `body` as the bytes of `key` (unless it alone is larger than
    /// the cache) and returns it for serving.
    pub fn insert(&self, key: Key, body: Vec<u8>) -> Arc<Cached> {
        let cached = Arc::new(Cached::new(body));
        let size = cached.charged.load(Ordering::Relaxed);
        if size > self.max_bytes {
            return cached;
        }
        let mut inner = self.lock();
        if let Some(existing) = inner.map.get(&key) {
            // Another request read it meanwhile; both are the same bytes.
            return Arc::clone(existing);
        }
        inner.map.insert(key, Arc::clone(&cached));
        inner.order.push_back(key);
        inner.bytes += size;
        self.evict(&mut inner);
        cached
    }

    /// The gzip form of a cached resource, made on first use; `None` when
    /// gzip does not pay for it.
    pub fn gzip(&self, key: &Key, cached: &Arc<Cached>) -> Option<Representation> {
        let mut made = None;
        let gzip = cached.gzip.get_or_init(|| {
            let gz = gzip_of(&cached.plain);
            made = gz.as_ref().map(|g| g.body.len());
            gz
        });
        if let Some(extra) = made {
            let mut inner = self.lock();
            // Counted only while the item is still the one held.
            if inner.map.get(key).is_some_and(|c| Arc::ptr_eq(c, cached)) {
                cached.charged.fetch_add(extra, Ordering::Relaxed);
                inner.bytes += extra;
                self.evict(&mut inner);
            }
        }
        gzip.clone()
    }

    /// Drops items, oldest first, sparing once those served since the
    /// last pass, until the cache fits its bound.
    fn evict(&self, inner: &mut Inner) {
        // Every item is spared at most once per pass, so two passes over
        // the queue always free enough.
        let mut budget = inner.order.len().saturating_mul(2);
        while inner.bytes > self.max_bytes && budget > 0 {
            budget -= 1;
            let Some(key) = inner.order.pop_front() else {
                break;
            };
            let Some(item) = inner.map.get(&key) else {
                continue;
            };
            if item.referenced.swap(false, Ordering::Relaxed) {
                inner.order.push_back(key);
                continue;
            }
            let charged = item.charged.load(Ordering::Relaxed);
            inner.map.remove(&key);
            inner.bytes = inner.bytes.saturating_sub(charged);
        }
    }
}

/// Whether a request's `Accept-Encoding` headers admit gzip (RFC 9110
/// §12.5.3): `gzip` (or `x-gzip`) with a non-zero quality, or `*` with a
/// non-zero quality when gzip is not named. Malformed elements are
/// ignored.
pub fn accepts_gzip(headers: &axum::http::HeaderMap) -> bool {
    let mut named = None;
    let mut star = false;
    for value in headers.get_all(axum::http::header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else {
            continue;
        };
        for element in value.split(',') {
            let mut parts = element.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let mut quality_ok = true;
            for param in parts {
                let Some((name, q)) = param.trim().split_once('=') else {
                    continue;
                };
                if name.trim().eq_ignore_ascii_case("q") {
                    quality_ok = q.trim().parse::<f32>().is_ok_and(|q| q > 0.0);
                }
            }
            if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                // An explicit refusal wins over any other mention.
                named = Some(named.unwrap_or(true) && quality_ok);
            } else if coding == "*" {
                star = quality_ok;
            }
        }
    }
    named.unwrap_or(star)
}

/// Whether `If-None-Match` names `etag` (weak comparison, RFC 9110
/// §13.1.2) or is `*`.
pub fn none_match(headers: &axum::http::HeaderMap, etag: &HeaderValue) -> bool {
    let ours = etag.as_bytes();
    headers
        .get_all(axum::http::header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).as_bytes() == ours)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;
    use islet_tlog::tiles::{BundleId, TileId};

    fn key(index: u64) -> Key {
        Key {
            source: Source::Own,
            log: 1,
            path: TilePath::Hash(TileId {
                level: 0,
                index,
                width: 256,
            }),
        }
    }

    fn headers(name: &'static str, values: &[&'static str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(name, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn a_cached_item_is_the_same_bytes_and_tag_every_time() {
        let cache = TileCache::new(1 << 20);
        let first = cache.insert(key(1), vec![7; 8192]);
        let again = cache.get(&key(1)).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(again.plain.body.as_ref(), &[7; 8192][..]);
        let expected = format!("\"{}\"", hex::encode(&Sha256::digest([7u8; 8192])[..16]));
        assert_eq!(again.plain.etag.to_str().unwrap(), expected);
        assert!(cache.get(&key(2)).is_none());
        // The same key inserted twice keeps the first.
        let second = cache.insert(key(1), vec![7; 8192]);
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(cache.usage().0, 1);
    }

    #[test]
    fn the_cache_stays_within_its_bound_and_spares_what_was_served() {
        let item = 1000 + ITEM_OVERHEAD_BYTES;
        // Room for exactly three items.
        let cache = TileCache::new(3 * item);
        for i in 0..3 {
            cache.insert(key(i), vec![0; 1000]);
        }
        assert_eq!(cache.usage(), (3, 3 * item));
        // 0 was served since: the fourth evicts 1, the oldest not served.
        cache.get(&key(0)).unwrap();
        cache.insert(key(3), vec![0; 1000]);
        assert_eq!(cache.usage(), (3, 3 * item));
        assert!(cache.get(&key(0)).is_some());
        assert!(cache.get(&key(1)).is_none());
        assert!(cache.get(&key(2)).is_some());
        assert!(cache.get(&key(3)).is_some());
        // Everything served: eviction still makes room.
        cache.insert(key(4), vec![0; 1000]);
        assert_eq!(cache.usage(), (3, 3 * item));
        // One item larger than the whole cache is served, never kept.
        let big = cache.insert(key(5), vec![0; 3 * item]);
        assert_eq!(big.plain.body.len(), 3 * item);
        assert!(cache.get(&key(5)).is_none());
        assert_eq!(cache.usage(), (3, 3 * item));
    }

    #[test]
    fn a_bundle_is_gzipped_once_and_counted_and_noise_is_not() {
        let cache = TileCache::new(1 << 20);
        let bundle = Key {
            path: TilePath::Entries(BundleId {
                index: 0,
                width: 256,
            }),
            ..key(0)
        };
        let text: Vec<u8> = b"{\"kind\":\"hashedrekord\"}\n".repeat(200);
        let cached = cache.insert(bundle, text.clone());
        let gz = cache.gzip(&bundle, &cached).unwrap();
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz.body[..]), &mut plain)
            .unwrap();
        assert_eq!(plain, text);
        let tag = cached.plain.etag.to_str().unwrap();
        assert_eq!(
            gz.etag.to_str().unwrap(),
            format!("{}-gzip\"", &tag[..tag.len() - 1])
        );
        let counted = text.len() + gz.body.len() + ITEM_OVERHEAD_BYTES;
        assert_eq!(cache.usage(), (1, counted));
        // Asked again: the same bytes, counted once.
        let again = cache.gzip(&bundle, &cached).unwrap();
        assert_eq!(again.body, gz.body);
        assert_eq!(cache.usage(), (1, counted));
        // Bytes that do not compress have no gzip form.
        let noise: Vec<u8> = (0..8192u32)
            .map(|i| Sha256::digest(i.to_be_bytes())[0])
            .collect();
        let cached = cache.insert(key(9), noise);
        assert!(cache.gzip(&key(9), &cached).is_none());
    }

    #[test]
    fn accept_encoding_admits_gzip_as_rfc_9110_says() {
        let name = "accept-encoding";
        for (values, expected) in [
            (&[][..], false),
            (&["gzip"][..], true),
            (&["GZIP"][..], true),
            (&["x-gzip"][..], true),
            (&["br, gzip;q=0.5"][..], true),
            (&["gzip;q=0"][..], false),
            (&["gzip; q=0.000"][..], false),
            (&["*"][..], true),
            (&["*;q=0"][..], false),
            (&["*, gzip;q=0"][..], false),
            (&["gzip;q=0", "*"][..], false),
            (&["identity"][..], false),
            (&["br", "gzip"][..], true),
            (&["gzip;q=nonsense"][..], false),
            (&[";;,,"][..], false),
        ] {
            assert_eq!(accepts_gzip(&headers(name, values)), expected, "{values:?}");
        }
    }

    #[test]
    fn if_none_match_compares_weakly_and_takes_lists_and_star() {
        let etag = HeaderValue::from_static("\"abc\"");
        let name = "if-none-match";
        for (values, expected) in [
            (&[][..], false),
            (&["\"abc\""][..], true),
            (&["W/\"abc\""][..], true),
            (&["\"x\", \"abc\""][..], true),
            (&["\"x\"", "\"abc\""][..], true),
            (&["*"][..], true),
            (&["\"abcd\""][..], false),
            (&["abc"][..], false),
        ] {
            assert_eq!(
                none_match(&headers(name, values), &etag),
                expected,
                "{values:?}"
            );
        }
    }
}
