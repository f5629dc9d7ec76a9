//! Token serial numbers that never repeat, across restarts too.
//!
//! A serial is 20 octets: the **boot second** of this run (8 octets,
//! big-endian) ‖ a per-run **counter** (8 octets, big-endian) ‖ 4 random
//! octets. Why two serials never collide, for every run that uses the same
//! state file:
//!
//! - Within a run, the counter is an atomic that only moves forward and
//!   refuses to wrap, so no two serials of the run share a counter value.
//! - Between runs, the boot seconds differ: [`Serials::open`] reads the
//!   boot second the previous run recorded, refuses unless the clock is
//!   *strictly later*, and durably records the new one (temporary file,
//!   fsync, rename, fsync of the directory) before it hands out any
//!   serial. Opens of the same state file are serialized by a lock file,
//!   so two runs starting in the same second cannot both pass. Recorded
//!   boot seconds therefore strictly increase from run to run, and every
//!   run's first 8 octets are its own.
//!
//! So (boot second, counter) is unique; the random octets only make
//! serials unpredictable. The argument needs one state file per
//! authority (per signing key); it does not need the clock to be right,
//! only never to go back across a restart, which `open` enforces.
//!
//! The boot second is far below 2^63, so the first octet is 0 and the
//! INTEGER is positive and at most 20 octets long.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::error::Error;

/// How long [`Serials::open_now`] waits for the clock to leave the
/// previous run's boot second, at most.
pub const MAX_BOOT_WAIT: Duration = Duration::from_secs(2);

/// A token serial number: 20 octets, read as a non-negative big-endian
/// INTEGER.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SerialNumber([u8; 20]);

impl SerialNumber {
    /// A serial number from its 20 octets (for tests or callers with
    /// their own unique scheme; the authority encodes it as a positive
    /// INTEGER, with a leading zero octet when the top bit is set).
    pub fn from_bytes(bytes: [u8; 20]) -> SerialNumber {
        SerialNumber(bytes)
    }

    /// The 20 octets.
    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }
}

/// The serial numbers of one run (see the module documentation).
pub struct Serials {
    boot: u64,
    counter: AtomicU64,
    rng: SystemRandom,
}

impl std::fmt::Debug for Serials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serials")
            .field("boot", &self.boot)
            .field("issued", &self.counter.load(Ordering::Relaxed))
            .finish()
    }
}

impl Serials {
    /// Starts a run at `now`: reads the previous boot second from
    /// `state_file` (absent: first run), refuses with
    /// [`Error::ClockBehindState`] if `now` is earlier and with
    /// [`Error::SameBootSecond`] if it is the same second, and records
    /// `now`'s second durably.
    pub fn open(state_file: &Path, now: SystemTime) -> Result<Serials, Error> {
        let now = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_err(|_| Error::ClockBeforeEpoch)?
            .as_secs();
        let io = |source| Error::StateIo {
            path: state_file.to_path_buf(),
            source,
        };
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(suffixed(state_file, ".lock"))
            .map_err(io)?;
        lock.lock().map_err(io)?;
        let previous = read_state(state_file)?;
        match previous {
            Some(previous) if now < previous => {
                return Err(Error::ClockBehindState { previous, now });
            }
            Some(previous) if now == previous => {
                return Err(Error::SameBootSecond { second: now });
            }
            _ => {}
        }
        write_state(state_file, now)?;
        drop(lock);
        Ok(Serials {
            boot: now,
            counter: AtomicU64::new(0),
            rng: SystemRandom::new(),
        })
    }

    /// [`Serials::open`] with the system clock, waiting (up to
    /// [`MAX_BOOT_WAIT`]) when the previous run started in this same
    /// second.
    pub fn open_now(state_file: &Path) -> Result<Serials, Error> {
        let deadline = SystemTime::now() + MAX_BOOT_WAIT;
        loop {
            match Serials::open(state_file, SystemTime::now()) {
                Err(Error::SameBootSecond { .. }) if SystemTime::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                other => return other,
            }
        }
    }

    /// The next serial number; [`Error::SerialsExhausted`] after 2^64 − 1
    /// of them, [`Error::Random`] if the system generator fails.
    pub fn next(&self) -> Result<SerialNumber, Error> {
        let count = self
            .counter
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| c.checked_add(1))
            .map_err(|_| Error::SerialsExhausted)?;
        let mut bytes = [0u8; 20];
        bytes[..8].copy_from_slice(&self.boot.to_be_bytes());
        bytes[8..16].copy_from_slice(&count.to_be_bytes());
        self.rng.fill(&mut bytes[16..]).map_err(|_| Error::Random)?;
        Ok(SerialNumber(bytes))
    }

    /// This run's boot second (seconds since 1970): no genTime of this
    /// run can be earlier, so it is a floor for the authority's clock
    /// check ([`crate::TimestampAuthority::raise_clock_floor`]).
    pub fn boot_time(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(self.boot)
    }
}

/// `path` with `suffix` appended to its file name.
fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// The recorded boot second, `None` when the file does not exist.
fn read_state(path: &Path) -> Result<Option<u64>, Error> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::StateIo {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let value = text.strip_suffix('\n').unwrap_or(&text);
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::StateCorrupt {
            path: path.to_path_buf(),
            detail: format!("expected decimal seconds, found {value:?}"),
        });
    }
    value
        .parse::<u64>()
        .map(Some)
        .map_err(|e| Error::StateCorrupt {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })
}

/// Records `second` durably: temporary file, fsync, rename, fsync of
/// the directory.
fn write_state(path: &Path, second: u64) -> Result<(), Error> {
    let io = |source| Error::StateIo {
        path: path.to_path_buf(),
        source,
    };
    let tmp = suffixed(path, ".tmp");
    let mut file = File::create(&tmp).map_err(io)?;
    file.write_all(format!("{second}\n").as_bytes())
        .map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    fs::rename(&tmp, path).map_err(io)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    Ok(())
}
