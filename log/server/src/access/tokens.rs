//! The tokens file as the server sees it: read again whenever it changed
//! (its inode, size or modification time), checked at each request that
//! needs a token, so `islet token revoke` takes effect at the next request
//! without a restart or a signal.

use std::fmt::Write as _;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use islet_store::tokens::{TokenFile, TokenIndex};

/// What identifies one version of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stamp {
    Missing,
    File {
        dev: u64,
        ino: u64,
        len: u64,
        mtime: i64,
        mtime_nsec: i64,
    },
}

#[derive(Debug)]
struct Loaded {
    stamp: Option<Stamp>,
    index: Arc<TokenIndex>,
}

/// The tokens file, reloaded when it changes.
#[derive(Debug)]
pub struct TokenWatch {
    path: PathBuf,
    loaded: Mutex<Loaded>,
    reloads: AtomicU64,
    failures: AtomicU64,
}

impl TokenWatch {
    /// Watches `path` (the data directory's `tokens.json`).
    pub fn new(path: PathBuf) -> TokenWatch {
        TokenWatch {
            path,
            loaded: Mutex::new(Loaded {
                stamp: None,
                index: Arc::new(TokenIndex::default()),
            }),
            reloads: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    fn stamp(&self) -> Option<Stamp> {
        match std::fs::metadata(&self.path) {
            Ok(m) => Some(Stamp::File {
                dev: m.dev(),
                ino: m.ino(),
                len: m.len(),
                mtime: m.mtime(),
                mtime_nsec: m.mtime_nsec(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(Stamp::Missing),
            Err(_) => None,
        }
    }

    /// The tokens as the file holds them now. A file that cannot be read
    /// or does not parse admits no token (it fails closed), and says why
    /// on stderr once per version.
    pub fn index(&self) -> Arc<TokenIndex> {
        let stamp = self.stamp();
        let Ok(mut loaded) = self.loaded.lock() else {
            return Arc::new(TokenIndex::default());
        };
        if stamp.is_some() && loaded.stamp == stamp {
            return Arc::clone(&loaded.index);
        }
        let index = match TokenFile::load(&self.path) {
            Ok(file) => {
                self.reloads.fetch_add(1, Ordering::Relaxed);
                TokenIndex::new(file)
            }
            Err(e) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                eprintln!("islet: tokens: {e}; no token is accepted until it is fixed");
                TokenIndex::default()
            }
        };
        loaded.stamp = stamp;
        loaded.index = Arc::new(index);
        Arc::clone(&loaded.index)
    }

    pub(super) fn render_metrics(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP islet_auth_token_file_loads_total Times the tokens file was read (at start and after each change).\n\
             # TYPE islet_auth_token_file_loads_total counter\n\
             islet_auth_token_file_loads_total {}\n\
             # HELP islet_auth_token_file_errors_total Times the tokens file could not be read or parsed (no token is then accepted).\n\
             # TYPE islet_auth_token_file_errors_total counter\n\
             islet_auth_token_file_errors_total {}",
            self.reloads.load(Ordering::Relaxed),
            self.failures.load(Ordering::Relaxed)
        );
    }
}
