//! Faults, measured: system calls failed on purpose (strace's fault
//! injection) while the log takes writes, a full disk (the data directory
//! on a small tmpfs), and a second fault during the recovery from the first.
//!
//! The server is crash-only about a failed store: it answers writes with
//! 503 and `/healthz` with NOT_SERVING for `FAILED_STORE_EXIT_AFTER`, then
//! exits with status 75, and the test restarts it as systemd would. After
//! each case, on a clean restart: every acknowledged entry is in the log
//! byte for byte, every checkpoint a client saw (and the fork guard's
//! record) is consistent with the final tree, `islet fsck` passes, and the
//! log takes writes again. The table of the campaign is printed on stderr
//! (`cargo test --test e2e faults -- --nocapture`).
//!
//! Faults during writes are injected by `strace -p` attached to the
//! sequencer thread only (the one thread that writes the log), after
//! start-up, so `when=N` counts the sequencer's calls from the first batch
//! on: per batch it writes and fdatasyncs RocksDB's WAL, then writes the
//! fork guard's record over its older slot and fdatasyncs it (pwrite64,
//! fdatasync). Faults at a restart run the whole process under
//! `strace -f`. Needs strace and root (for the tmpfs); `.ci/run` provides
//! both, and without them the test fails rather than skips.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use islet_tlog::checkpoint::SignedCheckpoint;
use islet_tlog::merkle::{hash_from_slice, verify_consistency};
use islet_tlog::note::NoteVerifier;
use islet_tlog::tiles::{BundleId, parse_bundle, tile_width};

use crate::support::{Signer, free_port, islet};

/// `islet serve`'s exit status after a storage failure (EX_TEMPFAIL).
const EXIT_STORE_FAILED: i32 = 75;
/// Concurrent writers during a fault (enough that batches hold several
/// entries: a batch closes once every write the server holds is in it).
const WRITERS: usize = 16;
/// Longest wait for an injected fault to stop the server.
const FAULT_DEADLINE: Duration = Duration::from_secs(60);
/// Longest wait for a start (refused or healthy).
const START_DEADLINE: Duration = Duration::from_secs(30);
/// The tmpfs of the full-disk case, and its size once the operator grew it.
const TMPFS_SIZE: &str = "8m";
const TMPFS_GROWN: &str = "64m";

/// Which calls of the syscall count (strace `-P`).
#[derive(Clone, Copy)]
enum Only {
    /// Every call of the traced thread(s).
    Any,
    /// Calls on RocksDB's current WAL: `write` is also how the sequencer
    /// wakes the async runtime (an eventfd), which is no disk.
    Wal,
    /// Calls on the store's directory (its fsync).
    DbDir,
}

/// One strace injection: `-e inject=SYSCALL:error=ERRNO:when=WHEN`.
#[derive(Clone, Copy)]
struct Inject {
    syscall: &'static str,
    errno: &'static str,
    when: &'static str,
    only: Only,
}

const fn inject(syscall: &'static str, errno: &'static str, when: &'static str) -> Inject {
    Inject {
        syscall,
        errno,
        when,
        only: Only::Any,
    }
}

impl Inject {
    const fn on(self, only: Only) -> Inject {
        Inject { only, ..self }
    }

    fn strace_args(&self, data: &Path) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "-qq".into(),
            // File descriptors shown with their paths.
            "-y".into(),
            "-e".into(),
            format!("trace={}", self.syscall),
        ];
        let paths = match self.only {
            Only::Any => Vec::new(),
            Only::Wal => vec![current_wal(data)],
            Only::DbDir => vec![data.join("db")],
        };
        for p in paths {
            args.push("-P".into());
            args.push(p.display().to_string());
        }
        args.push("-e".into());
        args.push(format!(
            "inject={}:error={}:when={}",
            self.syscall, self.errno, self.when
        ));
        args
    }

    fn describe(&self) -> String {
        let only = match self.only {
            Only::Any => "",
            Only::Wal => " (WAL)",
            Only::DbDir => " (db dir)",
        };
        format!("{} {} #{}{only}", self.syscall, self.errno, self.when)
    }
}

/// RocksDB's current WAL: the highest-numbered `*.log` of the store.
fn current_wal(data: &Path) -> PathBuf {
    std::fs::read_dir(data.join("db"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .max()
        .expect("the store has a WAL")
}

/// A fault during writes and, for a double fault, one at the restart.
struct Case {
    fault: Inject,
    restart: Option<Inject>,
}

const fn case(fault: Inject) -> Case {
    Case {
        fault,
        restart: None,
    }
}

const fn double(fault: Inject, restart: Inject) -> Case {
    Case {
        fault,
        restart: Some(restart),
    }
}

/// The campaign. `when` counts the sequencer thread's calls from the first
/// batch after attaching: per batch 1 or more writes and 1 fdatasync of
/// the WAL, then 1 pwrite64 and 1 fdatasync of the record (its first
/// record in a process also reads the file, and a new file is made by
/// rename, which the cases here do not reach). Restart faults count the
/// start-up's calls: every fdatasync (the MANIFEST and the SSTs of the
/// WAL's recovery), the third rename (CURRENT, after tsa.boot and
/// RocksDB's LOG), the store directory's fsync, the second fdatasync.
const CASES: [Case; 17] = [
    case(inject("fdatasync", "EIO", "1")),
    case(inject("fdatasync", "EIO", "2")),
    case(inject("fdatasync", "EIO", "7")),
    case(inject("fdatasync", "EIO", "12+")),
    case(inject("fdatasync", "ENOSPC", "4")),
    case(inject("fdatasync", "ENOSPC", "9+")),
    case(inject("pwrite64", "EIO", "1")),
    case(inject("pwrite64", "EIO", "5")),
    case(inject("pwrite64", "ENOSPC", "3")),
    case(inject("pwrite64", "ENOSPC", "8+")),
    case(inject("write", "ENOSPC", "2").on(Only::Wal)),
    case(inject("write", "EIO", "6").on(Only::Wal)),
    case(inject("write", "ENOSPC", "9+").on(Only::Wal)),
    double(
        inject("fdatasync", "EIO", "3"),
        inject("fdatasync", "EIO", "1+"),
    ),
    double(inject("pwrite64", "EIO", "2"), inject("rename", "EIO", "3")),
    double(
        inject("write", "ENOSPC", "5").on(Only::Wal),
        inject("fsync", "EIO", "1+").on(Only::DbDir),
    ),
    double(
        inject("fdatasync", "EIO", "6"),
        inject("fdatasync", "ENOSPC", "2"),
    ),
];

/// What clients saw: acknowledged entries (index → canonicalized body),
/// the checkpoints of the 201s, and the statuses.
#[derive(Default)]
struct Observed {
    acked: BTreeMap<u64, Vec<u8>>,
    checkpoints: std::collections::BTreeSet<String>,
    statuses: BTreeMap<u16, u64>,
}

async fn writer(url: String, stop: Arc<AtomicBool>, observed: Arc<Mutex<Observed>>, tag: String) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let signer = Signer::new();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let body = signer.request(format!("{tag} artifact {n}").as_bytes());
        let Ok(resp) = client
            .post(format!("{url}/api/v2/log/entries"))
            .body(body)
            .send()
            .await
        else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let status = resp.status().as_u16();
        *observed.lock().unwrap().statuses.entry(status).or_default() += 1;
        if status != 201 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        // A 201 whose body does not arrive is not an acknowledgement the
        // client holds.
        if let Ok(text) = resp.text().await {
            acknowledged(&observed, &text);
        }
    }
}

/// Records the entry and the checkpoint of a 201's body.
fn acknowledged(observed: &Mutex<Observed>, text: &str) {
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    let index: u64 = v["logIndex"].as_str().unwrap().parse().unwrap();
    let body = STANDARD
        .decode(v["canonicalizedBody"].as_str().unwrap())
        .unwrap();
    let cp = v["inclusionProof"]["checkpoint"]["envelope"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut o = observed.lock().unwrap();
    assert!(
        o.acked.insert(index, body).is_none(),
        "index {index} acknowledged twice"
    );
    o.checkpoints.insert(cp);
}

/// `islet serve` (optionally under `strace -f`), in `timeout` so that it
/// goes whatever happens to the test; its stderr appended to `log`.
struct Serve {
    child: Child,
}

impl Serve {
    fn spawn(data: &Path, port: u16, log: &Path, strace: Option<(&Inject, &Path)>) -> Serve {
        let mut cmd = Command::new("timeout");
        cmd.args(["-s", "KILL", "300"]);
        if let Some((inject, trace)) = strace {
            cmd.arg("strace").arg("-f").arg("-o").arg(trace);
            cmd.args(inject.strace_args(data));
        }
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = cmd
            .arg(env!("CARGO_BIN_EXE_islet"))
            .arg("serve")
            .arg("--data")
            .arg(data)
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--public-url",
                &format!("http://127.0.0.1:{port}"),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start islet serve");
        Serve { child }
    }

    /// The pid of `islet serve` (the child of `timeout`).
    fn islet_pid(&self) -> u32 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(&pid) = children(self.child.id()).first() {
                return pid;
            }
            assert!(Instant::now() < deadline, "islet serve has no pid");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        kill_tree(&mut self.child);
    }
}

/// The children of process `pid`.
fn children(pid: u32) -> Vec<u32> {
    Command::new("pgrep")
        .args(["-P", &pid.to_string()])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// SIGKILLs a wrapper and every process under it, and waits until they
/// are gone (they hold the store's LOCK, and the tmpfs, until then).
fn kill_tree(child: &mut Child) {
    let mut all = Vec::new();
    let mut next = vec![child.id()];
    while let Some(pid) = next.pop() {
        next.extend(children(pid));
        all.push(pid);
    }
    for pid in all.iter().skip(1) {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
    let deadline = Instant::now() + Duration::from_secs(60);
    for pid in all.iter().skip(1) {
        while alive(*pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Whether a thread of process `pid` still runs (a zombie does not).
fn alive(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|t| {
        std::fs::read_to_string(t.path().join("stat")).is_ok_and(|stat| {
            !stat
                .rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X'))
        })
    })
}

/// The thread id of the sequencer of process `pid`.
fn sequencer_tid(pid: u32) -> u32 {
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() == "islet-sequencer" {
            return task.file_name().to_str().unwrap().parse().unwrap();
        }
    }
    panic!("islet serve {pid} has no islet-sequencer thread");
}

/// Whether thread `tid` of `pid` is traced.
fn traced(pid: u32, tid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("TracerPid:"))
            .is_some_and(|t| t.trim() != "0")
    })
}

/// The `(INJECTED)` lines of a strace output file.
fn injected(trace: &Path) -> Vec<String> {
    std::fs::read_to_string(trace)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("(INJECTED)"))
        .map(str::to_owned)
        .collect()
}

/// What watching a server showed.
#[derive(Default)]
struct Watched {
    exit: Option<ExitStatus>,
    healthy: bool,
    /// When `/healthz` first answered 503 NOT_SERVING.
    not_serving: Option<Instant>,
    /// When the process was seen gone.
    exited: Option<Instant>,
    /// The answer to a write sent while NOT_SERVING.
    refused: Option<(u16, String)>,
}

/// Polls `/healthz` until the process exits, or (with `until_healthy`)
/// until it serves, or `deadline`. The first time it says NOT_SERVING, a
/// write is sent, and its answer kept.
async fn watch(server: &mut Serve, url: &str, until_healthy: bool, deadline: Duration) -> Watched {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let signer = Signer::new();
    let start = Instant::now();
    let mut w = Watched::default();
    loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            w.exit = Some(status);
            w.exited = Some(Instant::now());
            return w;
        }
        if let Ok(r) = client.get(format!("{url}/healthz")).send().await {
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            if status == 200 && body.contains(r#""SERVING""#) {
                w.healthy = true;
                if until_healthy {
                    return w;
                }
            }
            if status == 503 && body.contains("NOT_SERVING") {
                w.not_serving.get_or_insert_with(Instant::now);
                if w.refused.is_none() {
                    let probe = signer.request(b"a write while the store is failed");
                    if let Ok(r) = client
                        .post(format!("{url}/api/v2/log/entries"))
                        .body(probe)
                        .send()
                        .await
                    {
                        let status = r.status().as_u16();
                        w.refused = Some((status, r.text().await.unwrap_or_default()));
                    }
                }
            }
        }
        if start.elapsed() > deadline {
            return w;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The log's note verifier, from the trusted root.
fn log_key(data: &Path) -> NoteVerifier {
    let out = islet(&["trust-root", "--data", data.to_str().unwrap()]);
    assert!(out.status.success());
    let root: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let der = STANDARD
        .decode(root["tlogs"][0]["publicKey"]["rawBytes"].as_str().unwrap())
        .unwrap();
    NoteVerifier::from_public_key("127.0.0.1", &der).unwrap()
}

/// The clean restart's verdict on everything clients were told.
struct Verdict {
    size: u64,
    lost: usize,
    forks: usize,
    problems: Vec<String>,
}

async fn get(client: &reqwest::Client, url: String) -> Result<(u16, Vec<u8>), String> {
    let r = client
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let status = r.status().as_u16();
    let body = r.bytes().await.map_err(|e| format!("{url}: {e}"))?;
    Ok((status, body.to_vec()))
}

/// Checks the served log against what clients saw, and the fork guard's
/// record; runs `islet fsck` on it. Counts instead of panicking, so the
/// table is printed whatever it finds.
async fn verify(url: &str, key: &NoteVerifier, data: &Path, observed: &Observed) -> Verdict {
    let client = reqwest::Client::new();
    let mut v = Verdict {
        size: 0,
        lost: 0,
        forks: 0,
        problems: Vec::new(),
    };
    let final_cp = match get(&client, format!("{url}/api/v2/checkpoint")).await {
        Ok((200, b)) => SignedCheckpoint::open(&b, key, &[], None).map(|c| c.checkpoint),
        other => {
            v.problems.push(format!("no final checkpoint: {other:?}"));
            v.lost = observed.acked.len();
            return v;
        }
    };
    let final_cp = match final_cp {
        Ok(c) => c,
        Err(e) => {
            v.problems
                .push(format!("the final checkpoint does not verify: {e}"));
            v.forks += 1;
            return v;
        }
    };
    v.size = final_cp.size;
    // Every acknowledged entry, byte for byte, from the entry bundles.
    let mut bundles: BTreeMap<u64, Option<Vec<Vec<u8>>>> = BTreeMap::new();
    for (index, body) in &observed.acked {
        if *index >= final_cp.size {
            v.lost += 1;
            v.problems.push(format!(
                "acknowledged index {index} is beyond the final size {}",
                final_cp.size
            ));
            continue;
        }
        let b = index / 256;
        if let std::collections::btree_map::Entry::Vacant(slot) = bundles.entry(b) {
            let width = tile_width(final_cp.size, 0, b).unwrap();
            let id = BundleId { index: b, width };
            let entries = match get(&client, format!("{url}/api/v2/{id}")).await {
                Ok((200, bytes)) => parse_bundle(id, &bytes)
                    .ok()
                    .map(|e| e.into_iter().map(<[u8]>::to_vec).collect()),
                other => {
                    v.problems.push(format!("bundle {id}: {other:?}"));
                    None
                }
            };
            slot.insert(entries);
        }
        let slot = usize::try_from(index % 256).unwrap();
        let found = bundles[&b].as_ref().and_then(|e| e.get(slot));
        if found != Some(body) {
            v.lost += 1;
            v.problems
                .push(format!("entry {index} is missing or changed"));
        }
    }
    // Every checkpoint a client saw, and the fork guard's record: signed
    // by the log, one root per size, consistent with the final tree.
    let mut notes: Vec<(String, Vec<u8>)> = observed
        .checkpoints
        .iter()
        .map(|n| ("a 201's checkpoint".to_owned(), n.as_bytes().to_vec()))
        .collect();
    match std::fs::read(data.join("checkpoint.published")) {
        Ok(record) => notes.push((
            "checkpoint.published".to_owned(),
            crate::support::guard_record_note(&record),
        )),
        Err(e) => v.problems.push(format!("checkpoint.published: {e}")),
    }
    let mut roots: BTreeMap<u64, [u8; 32]> = BTreeMap::new();
    roots.insert(final_cp.size, final_cp.root);
    for (what, note) in &notes {
        let cp = match SignedCheckpoint::open(note, key, &[], None) {
            Ok(s) => s.checkpoint,
            Err(e) => {
                v.forks += 1;
                v.problems.push(format!("{what} does not verify: {e}"));
                continue;
            }
        };
        if let Some(root) = roots.insert(cp.size, cp.root)
            && root != cp.root
        {
            v.forks += 1;
            v.problems
                .push(format!("{what}: two roots at size {}", cp.size));
            continue;
        }
        if cp.size > final_cp.size {
            v.forks += 1;
            v.problems.push(format!(
                "{what} of size {} is beyond the final size {}",
                cp.size, final_cp.size
            ));
            continue;
        }
        if cp.size == 0 || cp.size == final_cp.size {
            // The empty tree is consistent with every tree (its root was
            // checked with its signature); the final size's root was just
            // compared.
            if cp.size == 0 && cp.root != islet_tlog::merkle::EMPTY_ROOT {
                v.forks += 1;
                v.problems
                    .push(format!("{what}: an empty tree with a root"));
            }
            continue;
        }
        let proof = get(
            &client,
            format!(
                "{url}/api/v2/islet/proof/consistency?first={}&second={}",
                cp.size, final_cp.size
            ),
        )
        .await;
        let hashes: Option<Vec<[u8; 32]>> = proof.ok().and_then(|(_, body)| {
            let p: serde_json::Value = serde_json::from_slice(&body).ok()?;
            p["hashes"]
                .as_array()?
                .iter()
                .map(|h| hash_from_slice(&STANDARD.decode(h.as_str()?).ok()?).ok())
                .collect()
        });
        let consistent = hashes.is_some_and(|h| {
            verify_consistency(cp.size, final_cp.size, &cp.root, &final_cp.root, &h).is_ok()
        });
        if !consistent {
            v.forks += 1;
            v.problems.push(format!(
                "{what} of size {} is not consistent with the final tree of size {}",
                cp.size, final_cp.size
            ));
        }
    }
    let out = islet(&["fsck", &format!("{url}/api/v2"), "--vkey", &key.to_vkey()]);
    if !out.status.success() {
        v.problems.push(format!(
            "islet fsck failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    v
}

/// One row of the campaign's table.
struct Row {
    case: String,
    injected: Vec<String>,
    acked: usize,
    lost: usize,
    forks: usize,
    refused_503: u64,
    not_serving: bool,
    grace: Option<Duration>,
    path: String,
    size: u64,
    problems: Vec<String>,
    /// Why a restart was refused (its last words).
    refusal: Option<String>,
}

impl Row {
    fn new(case: String) -> Row {
        Row {
            case,
            injected: Vec::new(),
            acked: 0,
            lost: 0,
            forks: 0,
            refused_503: 0,
            not_serving: false,
            grace: None,
            path: String::new(),
            size: 0,
            problems: Vec::new(),
            refusal: None,
        }
    }
}

/// The campaign's state between cases.
struct Campaign {
    rt: tokio::runtime::Runtime,
    dir: PathBuf,
    observed: Arc<Mutex<Observed>>,
}

impl Campaign {
    /// Starts `islet serve` without faults and waits until it serves.
    fn start_clean(&self, data: &Path, port: u16, log: &Path) -> Result<Serve, String> {
        let mut server = Serve::spawn(data, port, log, None);
        let w = self.rt.block_on(watch(
            &mut server,
            &format!("http://127.0.0.1:{port}"),
            true,
            START_DEADLINE,
        ));
        if w.healthy {
            Ok(server)
        } else {
            Err(format!(
                "the clean start did not serve (exit {:?}): {}",
                w.exit,
                tail(log)
            ))
        }
    }

    /// Runs writers until the server exits (or the deadline), watching it.
    fn under_load(
        &self,
        observed: &Arc<Mutex<Observed>>,
        server: &mut Serve,
        port: u16,
        tag: &str,
    ) -> (Watched, u64) {
        let url = format!("http://127.0.0.1:{port}");
        let stop = Arc::new(AtomicBool::new(false));
        let before = observed.lock().unwrap().statuses.get(&503).copied();
        let writers: Vec<_> = (0..WRITERS)
            .map(|i| {
                self.rt.spawn(writer(
                    url.clone(),
                    Arc::clone(&stop),
                    Arc::clone(observed),
                    format!("{tag} writer {i}"),
                ))
            })
            .collect();
        let w = self.rt.block_on(watch(server, &url, false, FAULT_DEADLINE));
        stop.store(true, Ordering::Relaxed);
        self.rt.block_on(async {
            for h in writers {
                h.await.unwrap();
            }
        });
        let after = observed.lock().unwrap().statuses.get(&503).copied();
        (w, after.unwrap_or(0) - before.unwrap_or(0))
    }

    /// After a fault: the clean start, the checks, one more write.
    fn recover(
        &self,
        observed: &Mutex<Observed>,
        data: &Path,
        port: u16,
        log: &Path,
        key: Option<&NoteVerifier>,
        row: &mut Row,
    ) -> Option<Serve> {
        let server = match self.start_clean(data, port, log) {
            Ok(s) => s,
            Err(e) => {
                row.problems.push(e);
                return None;
            }
        };
        let url = format!("http://127.0.0.1:{port}");
        let owned;
        let key = match key {
            Some(k) => k,
            None => {
                owned = log_key(data);
                &owned
            }
        };
        let verdict = {
            let o = observed.lock().unwrap();
            self.rt.block_on(verify(&url, key, data, &o))
        };
        row.size = verdict.size;
        row.lost = verdict.lost;
        row.forks = verdict.forks;
        row.problems.extend(verdict.problems);
        // The log takes writes again.
        let answer = self.rt.block_on(async {
            let body = Signer::new().request(format!("after {}", row.case).as_bytes());
            let r = reqwest::Client::new()
                .post(format!("{url}/api/v2/log/entries"))
                .body(body)
                .send()
                .await?;
            let status = r.status().as_u16();
            r.text().await.map(|text| (status, text))
        });
        match answer {
            Ok((201, text)) => acknowledged(observed, &text),
            other => row
                .problems
                .push(format!("a write after the recovery got {other:?}")),
        }
        Some(server)
    }

    /// One strace case on the running `server`; returns the clean server
    /// of its recovery.
    fn strace_case(
        &self,
        n: usize,
        case: &Case,
        server: &mut Serve,
        data: &Path,
        port: u16,
        key: &NoteVerifier,
    ) -> (Row, Option<Serve>) {
        let log = self.dir.join(format!("case-{n}.stderr"));
        let mut row = Row::new(match &case.restart {
            None => case.fault.describe(),
            Some(r) => format!("{}; restart: {}", case.fault.describe(), r.describe()),
        });
        let acked_before = self.observed.lock().unwrap().acked.len();
        // Attach to the sequencer thread, then load.
        let pid = server.islet_pid();
        let tid = sequencer_tid(pid);
        let trace = self.dir.join(format!("case-{n}.strace"));
        let mut tracer = Command::new("timeout")
            .args(["-s", "KILL", "120", "strace", "-o"])
            .arg(&trace)
            .args(["-p", &tid.to_string()])
            .args(case.fault.strace_args(data))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run strace");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !traced(pid, tid) {
            assert!(
                Instant::now() < deadline,
                "strace -p {tid} did not attach (is ptrace allowed here?)"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let (w, refused) = self.under_load(&self.observed, server, port, &format!("case {n}"));
        row.acked = self.observed.lock().unwrap().acked.len() - acked_before;
        let _ = tracer.wait();
        row.injected = injected(&trace);
        row.refused_503 = refused;
        row.not_serving = w.not_serving.is_some();
        row.grace = w.not_serving.zip(w.exited).map(|(a, b)| b - a);
        match &w.refused {
            Some((503, body)) if body.contains("store failed") => {}
            other => row.problems.push(format!(
                "a write while NOT_SERVING was not refused with 503 and the reason: {other:?}"
            )),
        }
        let code = w.exit.and_then(|s| s.code());
        row.path = match code {
            Some(c) => format!("exit {c}"),
            None if w.exit.is_some() => format!("killed ({:?})", w.exit),
            None => "still running".into(),
        };
        if code != Some(EXIT_STORE_FAILED) {
            row.problems.push(format!(
                "the server did not exit with {EXIT_STORE_FAILED}: {}; {}",
                row.path,
                tail(&log)
            ));
        }
        drop(tracer);
        if let Some(restart) = &case.restart {
            // The supervisor's restart meets a second fault.
            let trace2 = self.dir.join(format!("case-{n}-restart.strace"));
            let mut again = Serve::spawn(data, port, &log, Some((restart, &trace2)));
            let w2 = self.rt.block_on(watch(
                &mut again,
                &format!("http://127.0.0.1:{port}"),
                true,
                START_DEADLINE,
            ));
            drop(again);
            row.injected.extend(injected(&trace2));
            match w2.exit.and_then(|s| s.code()) {
                Some(c) if c != 0 && !w2.healthy => {
                    row.path.push_str(&format!(", start refused (exit {c})"));
                    row.refusal = last_words(&log);
                }
                _ => row.problems.push(format!(
                    "the restart under {} was not refused (healthy {}, exit {:?})",
                    restart.describe(),
                    w2.healthy,
                    w2.exit
                )),
            }
        }
        let recovered = self.recover(&self.observed, data, port, &log, Some(key), &mut row);
        if recovered.is_some() {
            row.path.push_str(", clean start");
        }
        (row, recovered)
    }

    /// The data directory on a small tmpfs that fills up; the restart on
    /// the full disk; the disk grown; the clean start.
    fn full_disk_case(&self) -> Row {
        let mnt = self.dir.join("tmpfs");
        let tmpfs = Tmpfs::mount(&mnt, TMPFS_SIZE);
        let data = mnt.join("data");
        let port = free_port();
        let log = self.dir.join("full-disk.stderr");
        let mut row = Row::new(format!("full disk (tmpfs of {TMPFS_SIZE})"));
        // Another log: what its clients saw is kept apart.
        let observed = Arc::new(Mutex::new(Observed::default()));
        let mut server = match self.start_clean(&data, port, &log) {
            Ok(s) => s,
            Err(e) => panic!("islet serve does not start on a tmpfs of {TMPFS_SIZE}: {e}"),
        };
        let (w, refused) = self.under_load(&observed, &mut server, port, "full disk");
        row.acked = observed.lock().unwrap().acked.len();
        drop(server);
        row.refused_503 = refused;
        row.not_serving = w.not_serving.is_some();
        row.grace = w.not_serving.zip(w.exited).map(|(a, b)| b - a);
        match &w.refused {
            Some((503, body)) if body.contains("store failed") => {}
            other => row.problems.push(format!(
                "a write while NOT_SERVING was not refused with 503 and the reason: {other:?}"
            )),
        }
        let code = w.exit.and_then(|s| s.code());
        row.path = code.map_or_else(|| format!("{:?}", w.exit), |c| format!("exit {c}"));
        if code != Some(EXIT_STORE_FAILED) {
            row.problems.push(format!(
                "the server did not exit with {EXIT_STORE_FAILED}: {:?}; {}",
                w.exit,
                tail(&log)
            ));
        }
        // No strace here: the server's own account shows the fault.
        let stderr = std::fs::read_to_string(&log).unwrap_or_default();
        row.injected.extend(
            stderr
                .lines()
                .filter(|l| l.contains("the store failed") && l.contains("No space left"))
                .take(1)
                .map(str::to_owned),
        );
        // The supervisor restarts it on the disk that is still full.
        let mut again = Serve::spawn(&data, port, &log, None);
        let w2 = self.rt.block_on(watch(
            &mut again,
            &format!("http://127.0.0.1:{port}"),
            true,
            START_DEADLINE,
        ));
        if w2.healthy {
            // It started: the next writes must fail it again.
            let (w3, _) = self.under_load(&observed, &mut again, port, "full disk, again");
            row.path.push_str(&format!(
                ", restarted on the full disk, exit {:?}",
                w3.exit.and_then(|s| s.code())
            ));
            if w3.exit.and_then(|s| s.code()) != Some(EXIT_STORE_FAILED) {
                row.problems
                    .push("the restart on the full disk did not fail with 75".into());
            }
        } else {
            match w2.exit.and_then(|s| s.code()) {
                Some(c) if c != 0 => {
                    row.path
                        .push_str(&format!(", start refused while full (exit {c})"));
                    row.refusal = last_words(&log);
                }
                other => row.problems.push(format!(
                    "the restart on the full disk neither served nor exited: {other:?}"
                )),
            }
        }
        drop(again);
        // The operator makes room.
        tmpfs.resize(TMPFS_GROWN);
        row.path.push_str(&format!(", disk grown to {TMPFS_GROWN}"));
        if let Some(server) = self.recover(&observed, &data, port, &log, None, &mut row) {
            row.path.push_str(", clean start");
            drop(server);
        }
        drop(tmpfs);
        row
    }
}

/// The last line of a server's stderr.
fn last_words(log: &Path) -> Option<String> {
    std::fs::read_to_string(log)
        .ok()?
        .lines()
        .last()
        .map(str::to_owned)
}

/// The last lines of a server's stderr.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(6)..].join("\n")
}

/// A tmpfs mounted for the test, unmounted on drop (a panic included).
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mounting a tmpfs on {} failed; the full-disk case needs root (CI runs .ci/run as \
             root): {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs {
            dir: dir.to_owned(),
        }
    }

    fn resize(&self, size: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "growing the tmpfs failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

#[test]
fn storage_faults_under_load_lose_nothing_acknowledged_never_fork_and_exit_75() {
    let version = Command::new("strace").arg("-V").output();
    assert!(
        version.is_ok_and(|o| o.status.success()),
        "strace is needed (Debian package strace; .ci/run installs it)"
    );
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let campaign = Campaign {
        rt: tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap(),
        dir: dir.path().to_owned(),
        observed: Arc::default(),
    };
    // The strace cases share one data directory: each case's clean
    // restart is the server the next case faults, and every case checks
    // everything acknowledged since the first.
    let data = dir.path().join("data");
    let port = free_port();
    let mut server = campaign
        .start_clean(&data, port, &dir.path().join("first.stderr"))
        .unwrap();
    let key = log_key(&data);
    let mut rows = Vec::new();
    for (n, case) in CASES.iter().enumerate() {
        let (row, next) = campaign.strace_case(n, case, &mut server, &data, port, &key);
        rows.push(row);
        match next {
            Some(s) => server = s,
            None => break,
        }
    }
    drop(server);
    rows.push(campaign.full_disk_case());
    let elapsed = started.elapsed();

    let mut table = String::from(
        "\nfault campaign (strace -e inject on the sequencer thread; a restart under strace -f; a full tmpfs)\n",
    );
    table.push_str(&format!(
        "{:<3} {:<64} {:>3} {:>6} {:>4} {:>5} {:>4} {:>7} {:>6}  {}\n",
        "#", "case", "hit", "acked", "lost", "forks", "503s", "healthz", "grace", "recovery path"
    ));
    for (n, r) in rows.iter().enumerate() {
        table.push_str(&format!(
            "{:<3} {:<64} {:>3} {:>6} {:>4} {:>5} {:>4} {:>7} {:>6}  {}\n",
            n + 1,
            r.case,
            r.injected.len(),
            r.acked,
            r.lost,
            r.forks,
            r.refused_503,
            if r.not_serving { "503" } else { "-" },
            r.grace
                .map_or("-".into(), |g| format!("{:.1}s", g.as_secs_f64())),
            r.path
        ));
    }
    let total_acked: usize = rows.iter().map(|r| r.acked).sum();
    let total_lost: usize = rows.iter().map(|r| r.lost).sum();
    let total_forks: usize = rows.iter().map(|r| r.forks).sum();
    table.push_str(&format!(
        "{} cases, {total_acked} entries acknowledged, {total_lost} lost, {total_forks} forks, final size {}, {:.0} s\n",
        rows.len(),
        rows.iter()
            .take(CASES.len())
            .map(|r| r.size)
            .max()
            .unwrap_or(0),
        elapsed.as_secs_f64()
    ));
    table.push_str(
        "where the faults landed (strace's INJECTED lines), and why restarts were refused:\n",
    );
    let tmp = dir.path().display().to_string();
    for (n, r) in rows.iter().enumerate() {
        for line in r.injected.iter().chain(&r.refusal) {
            let mut line = line.replace(&tmp, "$TMP");
            // strace -f's pid, and the working directory of AT_FDCWD.
            if let Some((pid, rest)) = line.split_once(' ')
                && pid.bytes().all(|b| b.is_ascii_digit())
            {
                line = rest.trim_start().to_owned();
            }
            if let Some(at) = line.find("AT_FDCWD<")
                && let Some(end) = line[at..].find('>')
            {
                line.replace_range(at + "AT_FDCWD".len()..=at + end, "");
            }
            let short: String = line.chars().take(150).collect();
            table.push_str(&format!("{:<3} {short}\n", n + 1));
        }
    }
    eprintln!("{table}");

    assert_eq!(
        rows.len(),
        CASES.len() + 1,
        "a case left no server to go on with: {:?}",
        rows.last().map(|r| &r.problems)
    );
    assert!(
        total_acked > 500,
        "only {total_acked} entries were acknowledged in the whole campaign"
    );
    for (n, r) in rows.iter().enumerate() {
        assert!(
            !r.injected.is_empty(),
            "case {} ({}): the fault never fired, so the case proves nothing",
            n + 1,
            r.case
        );
        assert!(
            r.not_serving && r.refused_503 > 0,
            "case {} ({}): /healthz NOT_SERVING and 503s to writes were not both seen",
            n + 1,
            r.case
        );
        assert!(
            r.problems.is_empty() && r.lost == 0 && r.forks == 0,
            "case {} ({}): {} lost, {} forks: {:#?}",
            n + 1,
            r.case,
            r.lost,
            r.forks,
            r.problems
        );
    }
}
