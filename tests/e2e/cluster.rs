//! One log served by several `islet serve` nodes on one PostgreSQL
//! database (`../shared/specs/scale-out.md` §7): writes through every
//! node at once, exact dedup across nodes, the lease holder killed again
//! and again under load, a paused leader that wakes after a takeover, and
//! a node without the key, which never sequences.
//!
//! After each, the log is checked from the database itself: every
//! acknowledged entry is at its index, every checkpoint any client saw
//! is a checkpoint of the final tree, no leaf is there twice, and
//! `islet fsck` passes.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use islet_pgstore::{PgOptions, PgStore};
use islet_store::{LogNumber, LogStore};
use islet_testkit::pg::PgCluster;
use islet_tlog::merkle::{Hash, MemoryTree, leaf_hash};
use islet_tlog::tiles::{BundleId, TILE_WIDTH, parse_bundle, tile_width};

use crate::pg::{init_on_postgres, set_lease_ttl};
use crate::support::{Islet, Signer, free_port, http_get, islet};
use islet_testkit::cosig::Cosigner;

/// The lease of the nodes in the takeover tests: short, so that takeovers
/// are quick (the shortest a configuration may set is 500 ms).
const LEASE_TTL_MS: u64 = 1000;

/// The lease of the nodes in the other tests: the default, so that a node
/// starved of CPU by the tests running beside it does not lose its lease.
const CALM_LEASE_TTL_MS: u64 = 3000;

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// Several nodes of one log.
struct Nodes {
    _tmp: tempfile::TempDir,
    dirs: Vec<PathBuf>,
    names: Vec<String>,
    nodes: Vec<Islet>,
    urls: Vec<String>,
    pg_url: String,
}

impl Nodes {
    /// `n` nodes on the database at `pg_url`, initialised with one key and
    /// started: the first creates the log, the others join it.
    fn start(pg_url: &str, n: usize, init_extra: &[&str], lease_ttl_ms: u64) -> Nodes {
        Nodes::start_with_keyless(pg_url, n, 0, init_extra, lease_ttl_ms)
    }

    /// As [`Nodes::start`], the last `keyless` of the `n` initialised with
    /// `--role never` and no key.
    fn start_with_keyless(
        pg_url: &str,
        n: usize,
        keyless: usize,
        init_extra: &[&str],
        lease_ttl_ms: u64,
    ) -> Nodes {
        let tmp = tempfile::tempdir().unwrap();
        let mut dirs = Vec::new();
        let mut names = Vec::new();
        let mut ports = Vec::new();
        for i in 0..n {
            let name = format!("node-{}", char::from(b'a' + u8::try_from(i).unwrap()));
            let dir = tmp.path().join(&name);
            let port = free_port();
            let mut extra = vec!["--node", name.as_str()];
            extra.extend_from_slice(init_extra);
            let key = dirs.first().map(|d: &PathBuf| d.join("keys/log.pem"));
            let key_arg = key.as_ref().map(|k| k.to_str().unwrap().to_owned());
            if i + keyless >= n {
                extra.extend_from_slice(&["--role", "never"]);
            } else if let Some(k) = &key_arg {
                extra.extend_from_slice(&["--key", k]);
            }
            let said = init_on_postgres(&dir, port, pg_url, &extra);
            if i + keyless >= n {
                assert!(said.contains("never sequences and holds no key"), "{said}");
                assert!(!dir.join("keys/log.pem").exists());
            }
            set_lease_ttl(&dir, lease_ttl_ms);
            dirs.push(dir);
            names.push(name);
            ports.push(port);
        }
        let nodes: Vec<Islet> = dirs
            .iter()
            .zip(&ports)
            .map(|(d, p)| Islet::start_on(d, *p))
            .collect();
        let urls = nodes.iter().map(|n| n.url.clone()).collect();
        Nodes {
            _tmp: tmp,
            dirs,
            names,
            nodes,
            urls,
            pg_url: pg_url.to_owned(),
        }
    }

    fn store(&self) -> (PgStore, LogNumber) {
        let pg = PgStore::open(&self.pg_url, &PgOptions::default()).unwrap();
        let log = pg.log("127.0.0.1").unwrap().unwrap().number;
        (pg, log)
    }

    /// The node holding the lease, and its epoch.
    fn holder(&self, pg: &PgStore, log: LogNumber) -> (usize, i64) {
        let state = pg.lease_state(log).unwrap();
        let at = self
            .names
            .iter()
            .position(|n| *n == state.holder)
            .unwrap_or_else(|| panic!("the lease is held by {:?}", state.holder));
        (at, state.epoch)
    }

    fn vkey(&self) -> String {
        crate::snapshot::log_key(&self.dirs[0]).to_vkey()
    }
}

/// What clients were told.
#[derive(Default)]
struct Seen {
    /// 201s: index and the body the node said it logged.
    created: Vec<(u64, Vec<u8>)>,
    /// 409s: the index each named.
    conflicts: Vec<u64>,
    /// Checkpoints (size, root) from 201s and from polls.
    checkpoints: Vec<(u64, Hash)>,
    /// Other answers: status and message (connection errors are 0).
    other: Vec<(u16, String)>,
}

/// Sends one write and records what came back.
async fn submit(client: &reqwest::Client, url: &str, body: String, seen: &Mutex<Seen>) {
    let answer = client
        .post(format!("{url}/api/v2/log/entries"))
        .body(body)
        .send()
        .await;
    let r = match answer {
        Ok(r) => r,
        Err(e) => {
            seen.lock().unwrap().other.push((0, e.to_string()));
            return;
        }
    };
    let status = r.status().as_u16();
    let index = r
        .headers()
        .get("x-log-index")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let text = r.text().await.unwrap_or_default();
    let mut seen = seen.lock().unwrap();
    match status {
        201 => {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            let index: u64 = v["logIndex"].as_str().unwrap().parse().unwrap();
            let proof = &v["inclusionProof"];
            let size: u64 = proof["treeSize"].as_str().unwrap().parse().unwrap();
            let root: Hash = b64(proof["rootHash"].as_str().unwrap()).try_into().unwrap();
            seen.created
                .push((index, b64(v["canonicalizedBody"].as_str().unwrap())));
            seen.checkpoints.push((size, root));
        }
        409 => seen
            .conflicts
            .push(index.unwrap_or_else(|| panic!("a 409 without x-log-index: {text}"))),
        _ => seen.other.push((status, text)),
    }
}

/// Writers spread over the nodes, and a reader of every node's checkpoint.
struct Load {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    writers: Option<std::thread::JoinHandle<()>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Load {
    /// `writers` tasks sending distinct entries round-robin over `urls`,
    /// at most `cap` in all, until stopped; and a reader polling every
    /// node's checkpoint every 100 ms.
    fn start(urls: &[String], writers: usize, cap: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let writer_thread = {
            let (urls, stop, sent, seen) = (
                urls.to_vec(),
                Arc::clone(&stop),
                Arc::clone(&sent),
                Arc::clone(&seen),
            );
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let client = reqwest::Client::builder()
                        .timeout(Duration::from_secs(30))
                        .build()
                        .unwrap();
                    let signer = Arc::new(Signer::new());
                    let mut tasks = Vec::new();
                    for w in 0..writers {
                        let (client, urls, stop, sent, seen, signer) = (
                            client.clone(),
                            urls.clone(),
                            Arc::clone(&stop),
                            Arc::clone(&sent),
                            Arc::clone(&seen),
                            Arc::clone(&signer),
                        );
                        tasks.push(tokio::spawn(async move {
                            while !stop.load(Ordering::SeqCst) {
                                let k = sent.fetch_add(1, Ordering::SeqCst);
                                if k >= cap {
                                    break;
                                }
                                let body = signer.request(format!("load {w} {k}").as_bytes());
                                submit(&client, &urls[k % urls.len()], body, &seen).await;
                            }
                        }));
                    }
                    for t in tasks {
                        t.await.unwrap();
                    }
                });
            })
        };
        let reader_thread = {
            let (urls, stop, seen) = (urls.to_vec(), Arc::clone(&stop), Arc::clone(&seen));
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    for url in &urls {
                        if let Some(cp) = poll_checkpoint(url) {
                            seen.lock().unwrap().checkpoints.push(cp);
                        }
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        Load {
            stop,
            seen,
            writers: Some(writer_thread),
            reader: Some(reader_thread),
        }
    }

    /// Waits for the writers to reach their cap (or stops them), then the
    /// reader; returns what was seen.
    fn finish(mut self, stop_now: bool) -> Seen {
        if stop_now {
            self.stop.store(true, Ordering::SeqCst);
        }
        if let Some(w) = self.writers.take() {
            w.join().unwrap();
        }
        self.stop.store(true, Ordering::SeqCst);
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

/// A node's checkpoint (size, root), if it answers.
fn poll_checkpoint(url: &str) -> Option<(u64, Hash)> {
    let out = std::process::Command::new("curl")
        .args([
            "-sf",
            "--max-time",
            "5",
            &format!("{url}/api/v2/checkpoint"),
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let mut lines = text.lines().skip(1);
    let size = lines.next()?.parse().ok()?;
    let root = b64(lines.next()?).try_into().ok()?;
    Some((size, root))
}

/// Every leaf of the log, from the database's bundles.
fn leaves(pg: &PgStore, log: LogNumber) -> (u64, Vec<Vec<u8>>) {
    let head = pg.tree_head(log).unwrap().unwrap();
    let mut bodies = Vec::new();
    for index in 0..head.size.div_ceil(u64::from(TILE_WIDTH)) {
        let id = BundleId {
            index,
            width: tile_width(head.size, 0, index).unwrap(),
        };
        let data = pg.bundle(log, index).unwrap().unwrap();
        bodies.extend(
            parse_bundle(id, &data)
                .unwrap()
                .into_iter()
                .map(<[u8]>::to_vec),
        );
    }
    assert_eq!(bodies.len() as u64, head.size);
    (head.size, bodies)
}

/// Checks the final log against everything clients were told (see the
/// module docs), `islet fsck` through node `via`; returns the tree size.
fn assert_log_holds(nodes: &Nodes, seen: &Seen, via: usize) -> u64 {
    let (pg, log) = nodes.store();
    let (size, bodies) = leaves(&pg, log);
    let hashes: Vec<Hash> = bodies.iter().map(|b| leaf_hash(b)).collect();
    let distinct: HashSet<&Hash> = hashes.iter().collect();
    assert_eq!(distinct.len(), hashes.len(), "a leaf is in the log twice");
    for (index, body) in &seen.created {
        let at = usize::try_from(*index).unwrap();
        assert!(at < bodies.len(), "acknowledged entry {index} is missing");
        assert_eq!(&bodies[at], body, "acknowledged entry {index} changed");
    }
    for index in &seen.conflicts {
        assert!(
            *index < size,
            "a 409 named index {index} of a log of {size}"
        );
    }
    // Every checkpoint seen is a checkpoint of this tree.
    let mut wanted: BTreeMap<u64, HashSet<Hash>> = BTreeMap::new();
    for (s, root) in &seen.checkpoints {
        assert!(
            *s <= size,
            "a checkpoint of size {s} was seen; the log has {size}"
        );
        wanted.entry(*s).or_default().insert(*root);
    }
    let mut tree = MemoryTree::new();
    let check = |tree: &MemoryTree| {
        if let Some(roots) = wanted.get(&tree.size()) {
            assert_eq!(
                roots.iter().collect::<Vec<_>>(),
                vec![&tree.root()],
                "checkpoints of size {} disagree with the final tree",
                tree.size()
            );
        }
    };
    check(&tree);
    for h in &hashes {
        tree.append_leaf_hash(*h);
        check(&tree);
    }
    let fsck = islet(&[
        "fsck",
        "--vkey",
        &nodes.vkey(),
        &format!("{}/api/v2", nodes.urls[via]),
    ]);
    assert!(
        fsck.status.success(),
        "{}",
        String::from_utf8_lossy(&fsck.stderr)
    );
    size
}

/// Waits until every node serves a checkpoint of at least `size`,
/// restarting (as their supervisor) the nodes that stopped meanwhile.
fn wait_for_size(nodes: &mut Nodes, size: u64) {
    let deadline = Instant::now() + Duration::from_secs(90);
    for at in 0..nodes.nodes.len() {
        while poll_checkpoint(&nodes.urls[at]).is_none_or(|(s, _)| s < size) {
            assert!(
                Instant::now() < deadline,
                "{} never served size {size}; its stderr:\n{}",
                nodes.urls[at],
                nodes.nodes[at].stderr_text()
            );
            std::thread::sleep(Duration::from_millis(50));
            supervise(nodes, deadline);
        }
    }
}

#[test]
fn three_nodes_take_writes_at_once_and_a_thousand_identical_submissions_give_one_leaf() {
    let cluster = PgCluster::start();
    let url = cluster.create_db("islet");
    // The third node carries no key: it verifies, answers, searches and
    // exports like the others, and never sequences.
    let nodes = Nodes::start_with_keyless(&url, 3, 1, &["--no-sync-standby"], CALM_LEASE_TTL_MS);

    // Distinct entries through all three at once.
    let seen = Load::start(&nodes.urls, 24, 600).finish(false);
    assert_eq!(seen.created.len(), 600, "not all created: {:?}", seen.other);
    let size = assert_log_holds(&nodes, &seen, 0);
    assert_eq!(size, 600);

    // One entry, submitted 1,000 times at once, spread over the nodes.
    let body = Signer::new().request(b"submitted a thousand times");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let next = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let (client, urls, body, seen, next) = (
                client.clone(),
                nodes.urls.clone(),
                body.clone(),
                Arc::clone(&seen),
                Arc::clone(&next),
            );
            tasks.push(tokio::spawn(async move {
                loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    if k >= 1000 {
                        break;
                    }
                    submit(&client, &urls[k % urls.len()], body.clone(), &seen).await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(seen.other.is_empty(), "{:?}", seen.other);
    assert_eq!(seen.created.len(), 1);
    assert_eq!(seen.conflicts.len(), 999);
    let index = seen.created[0].0;
    assert_eq!(index, 600);
    assert!(seen.conflicts.iter().all(|i| *i == index));
    assert_eq!(assert_log_holds(&nodes, &seen, 1), 601);
    eprintln!("three nodes: 600 distinct entries, then 1 x 201 and 999 x 409 at index {index}");
    // Search through another node finds it by its artifact digest.
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"submitted a thousand times");
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let found = std::process::Command::new("curl")
        .args([
            "-sf",
            &format!("{}/api/v2/islet/search?digest=sha256:{hex}", nodes.urls[2]),
        ])
        .output()
        .unwrap();
    let found: serde_json::Value = serde_json::from_slice(&found.stdout).unwrap();
    let entries = found["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{found}");
    assert_eq!(entries[0]["logIndex"], "600");

    // Any node's data directory exports the log from the database; the
    // snapshot imports elsewhere, verified end to end.
    let snapshot = nodes.dirs[2].with_extension("tar.zst");
    let out = islet(&[
        "snapshot",
        "export",
        "--data",
        nodes.dirs[2].to_str().unwrap(),
        "-o",
        snapshot.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exported: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(exported["to_size"], 601);
    let site = nodes.dirs[2].with_extension("site");
    let out = islet(&[
        "snapshot",
        "import",
        "--data",
        site.to_str().unwrap(),
        "--vkey",
        &nodes.vkey(),
        snapshot.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A small deterministic generator of pauses (xorshift), seeded from the
/// clock and printed, so that a failing run can be told apart.
struct Pauses(u64);

impl Pauses {
    fn next_ms(&mut self, from: u64, to: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        from + self.0 % (to - from)
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[test]
fn killing_the_lease_holder_twenty_times_under_load_loses_no_acknowledged_entry() {
    const KILLS: usize = 20;
    let cluster = PgCluster::start();
    let url = cluster.create_db("islet");
    let mut nodes = Nodes::start(&url, 3, &["--no-sync-standby"], LEASE_TTL_MS);
    let (pg, log) = nodes.store();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
        .max(1);
    let seed = u64::from(seed);
    eprintln!("pause seed {seed}");
    let mut pauses = Pauses(seed);
    let load = Load::start(&nodes.urls, 16, usize::MAX);
    let mut no_holder = Vec::new();
    let mut no_commit = Vec::new();
    for round in 0..KILLS {
        std::thread::sleep(Duration::from_millis(pauses.next_ms(200, 1500)));
        let (at, epoch) = nodes.holder(&pg, log);
        let size_before = pg.tree_head(log).unwrap().unwrap().size;
        let killed_at = Instant::now();
        assert_eq!(
            nodes.nodes[at].kill(),
            1,
            "{} was not running",
            nodes.names[at]
        );
        // Until another node holds the lease, then until it commits.
        let deadline = killed_at + Duration::from_secs(30);
        let mut taken = None;
        loop {
            assert!(
                Instant::now() < deadline,
                "round {round}: no takeover in 30 s"
            );
            let state = pg.lease_state(log).unwrap();
            if taken.is_none() && state.epoch > epoch && !state.expired {
                taken = Some(killed_at.elapsed());
            }
            let size = pg.tree_head(log).unwrap().unwrap().size;
            if taken.is_some() && size > size_before {
                no_commit.push(killed_at.elapsed());
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        no_holder.push(taken.unwrap());
        // The supervisor starts it again; it joins as a follower.
        nodes.nodes[at].restart();
    }
    let seen = load.finish(true);
    let created = seen.created.len();
    assert!(
        created > 100,
        "only {created} writes acknowledged: {:?}",
        seen.other
    );
    // Whatever is still in line is integrated; every node catches up.
    let size = pg.tree_head(log).unwrap().unwrap().size;
    wait_for_size(&mut nodes, size);
    let size = assert_log_holds(&nodes, &seen, 2);
    let refused = seen.other.iter().filter(|(s, _)| *s == 503).count();
    let (max_holder, max_commit) = (
        *no_holder.iter().max().unwrap(),
        *no_commit.iter().max().unwrap(),
    );
    eprintln!(
        "{KILLS} kills of the lease holder (ttl {LEASE_TTL_MS} ms): {created} acknowledged, \
         {} conflicts, {refused} x 503 and {} connections to a killed node broken, final size {size}; time without a holder median {} ms, \
         max {} ms; from the kill to the next commit median {} ms, max {} ms",
        seen.conflicts.len(),
        seen.other.len() - refused,
        median(no_holder).as_millis(),
        max_holder.as_millis(),
        median(no_commit).as_millis(),
        max_commit.as_millis(),
    );
    // A lease runs out at most ttl after its last renewal, and the others
    // bid every ttl/3 (about 1.1 s here when the machine is quiet); the
    // margin is for two cores shared with the other tests.
    assert!(
        max_holder < Duration::from_millis(3 * LEASE_TTL_MS + 2000),
        "a takeover took {} ms",
        max_holder.as_millis()
    );
}

#[test]
fn a_paused_leader_cannot_commit_once_another_node_took_the_lease() {
    let cluster = PgCluster::start();
    let url = cluster.create_db("islet");
    let mut nodes = Nodes::start(&url, 2, &["--no-sync-standby"], LEASE_TTL_MS);
    let (pg, log) = nodes.store();
    crate::support::write_entries(&nodes.nodes[0], "before the pause", 5);
    let (leader, epoch) = nodes.holder(&pg, log);
    let follower = 1 - leader;

    // The leader stops dead; writes reach its socket while it is stopped.
    let pid = nodes.nodes[leader].server_pid().to_string();
    signal("-STOP", &pid);
    let paused = Load::start(&nodes.urls[leader..=leader], 4, 4);
    // Its lease runs out; the follower takes it and the log goes on there.
    let deadline = Instant::now() + Duration::from_secs(30);
    while pg.lease_state(log).unwrap().epoch == epoch {
        assert!(Instant::now() < deadline, "nobody took the lease over");
        std::thread::sleep(Duration::from_millis(20));
    }
    crate::support::write_entries(&nodes.nodes[follower], "after the takeover", 3);

    // Woken, the old leader's renewal fails: it stops, and its clients get
    // errors, or answers the database confirms, never a 201 for an entry
    // that is not in the log.
    signal("-CONT", &pid);
    let seen = paused.finish(false);
    let deadline = Instant::now() + Duration::from_secs(30);
    while crate::support::process_alive(&pid) {
        assert!(Instant::now() < deadline, "the old leader did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        seen.created.len() + seen.conflicts.len() + seen.other.len(),
        4
    );
    for (status, text) in &seen.other {
        assert!([0, 503].contains(status), "{status} {text}");
    }
    eprintln!(
        "writes sent to the paused leader: {} x 201, {} x 409, others {:?}",
        seen.created.len(),
        seen.conflicts.len(),
        seen.other
    );
    let size = assert_log_holds(&nodes, &seen, follower);
    assert!(size >= 8, "{size}");
    let lease = pg.lease_state(log).unwrap();
    assert_eq!(lease.holder, nodes.names[follower]);
    nodes.nodes[leader].restart();
    crate::support::write_entries(&nodes.nodes[leader], "rejoined", 2);
}

#[test]
fn the_lease_holder_pushes_the_log_to_a_mirror_and_the_next_holder_carries_on() {
    use crate::witness::{append_config, eventually, origin_hash, size_of, tree_paths};
    let cluster = PgCluster::start();
    let url = cluster.create_db("islet");
    let mut nodes = Nodes::start(&url, 2, &["--no-sync-standby"], LEASE_TTL_MS);
    // A site whose tlog-mirror accepts the log, and both nodes configured
    // to push to it (one islet.toml for every node, as a site deploys it).
    let site = crate::witness::init(nodes._tmp.path(), "mirror-site");
    append_config(
        &site,
        &format!("[[mirror.accept]]\nvkey = \"{}\"", nodes.vkey()),
    );
    let mirror_vkey =
        crate::witness::islet_ok(&["mirror", "key", "--data", site.data.to_str().unwrap()])
            .trim()
            .to_owned();
    let _mirror = crate::witness::start(&site);
    for (node, dir) in nodes.nodes.iter_mut().zip(&nodes.dirs) {
        node.kill();
        let mut toml = std::fs::read_to_string(dir.join("islet.toml")).unwrap();
        toml.push_str(&format!(
            "\n[[mirror.push]]\nurl = \"http://127.0.0.1:{}/mirror\"\nvkey = \"{mirror_vkey}\"\n",
            site.port
        ));
        std::fs::write(dir.join("islet.toml"), toml).unwrap();
        node.restart();
    }
    let path = format!("/mirror/{}/checkpoint", origin_hash("127.0.0.1"));
    let mirrored = |size: u64| {
        let (status, body) = http_get(site.port, &path);
        let note = String::from_utf8_lossy(&body).into_owned();
        status == 200
            && size_of(&note) == size
            && Cosigner::from_vkey(&mirror_vkey).verify_in(&note).is_some()
    };
    let seen = Load::start(&nodes.urls, 8, 300).finish(false);
    assert_eq!(seen.created.len(), 300, "{:?}", seen.other);
    eventually(60, "the mirror cosigning size 300", || mirrored(300));

    // The holder dies; the other node takes the lease, shows the mirror
    // its head before it signs, and pushes from where the mirror is.
    let (pg, log) = nodes.store();
    let (leader, epoch) = nodes.holder(&pg, log);
    let follower = 1 - leader;
    nodes.nodes[leader].kill();
    let deadline = Instant::now() + Duration::from_secs(30);
    while pg.lease_state(log).unwrap().epoch == epoch {
        assert!(Instant::now() < deadline, "nobody took the lease over");
        std::thread::sleep(Duration::from_millis(20));
    }
    let more = Load::start(&nodes.urls[follower..=follower], 8, 200).finish(false);
    assert_eq!(more.created.len(), 200, "{:?}", more.other);
    eventually(60, "the mirror cosigning size 500", || mirrored(500));
    // The mirror's tiles and entries are the log's, byte for byte.
    let prefix = format!("/mirror/{}/", origin_hash("127.0.0.1"));
    let follower_port = nodes.nodes[follower].port;
    for p in tree_paths(500) {
        let (s1, from_mirror) = http_get(site.port, &format!("{prefix}{p}"));
        let (s2, from_log) = http_get(follower_port, &format!("/api/v2/{p}"));
        assert_eq!((s1, s2), (200, 200), "{p}");
        assert_eq!(from_mirror, from_log, "{p}: the mirror and the log differ");
    }
    let mut all = seen;
    all.created.extend(more.created);
    all.checkpoints.extend(more.checkpoints);
    assert_eq!(assert_log_holds(&nodes, &all, follower), 500);
}

/// Node `at` of `nodes` as the witness tests' site of a log.
fn log_site(nodes: &Nodes, at: usize) -> crate::witness::Site {
    crate::witness::Site {
        data: nodes.dirs[at].clone(),
        port: nodes.nodes[at].port,
        origin: "127.0.0.1".into(),
        vkey: nodes.vkey(),
    }
}

/// A witness site `name` of the nodes' log: the site and its vkey.
fn witness_of(dir: &std::path::Path, name: &str, nodes: &Nodes) -> (crate::witness::Site, String) {
    let site = crate::witness::init(dir, name);
    let vkey = crate::witness::make_witness(&site, &log_site(nodes, 0));
    (site, vkey)
}

#[test]
fn fail_closed_witnesses_cosign_everything_every_node_serves_and_answers() {
    use crate::witness::{checkpoint, envelope, post_entry, size_of, start, witnessed_by};
    let cluster = PgCluster::start();
    let url = cluster.create_db("islet");
    let mut nodes = Nodes::start_with_keyless(&url, 3, 1, &["--no-sync-standby"], LEASE_TTL_MS);
    // Two witnesses, B and C, under a 2-of-2 fail-closed policy that every
    // node carries (the key-less one too: it answers by the policy).
    let tmp = tempfile::tempdir().unwrap();
    let ((b, wb), (c, wc)) = (
        witness_of(tmp.path(), "site-b", &nodes),
        witness_of(tmp.path(), "site-c", &nodes),
    );
    let (_b, mut c_server) = (start(&b), start(&c));
    for at in 0..3 {
        nodes.nodes[at].kill();
        witnessed_by(
            &log_site(&nodes, at),
            (&b, &wb),
            (&c, &wc),
            "fail-closed",
            3000,
        );
        nodes.nodes[at].restart();
    }
    let (cb, cc) = (Cosigner::from_vkey(&wb), Cosigner::from_vkey(&wc));
    let both = |note: &str| cb.verify_in(note).is_some() && cc.verify_in(note).is_some();

    // Writes through every node: each 201's checkpoint carries both
    // cosignatures, and so does every checkpoint every node serves.
    let signer = Signer::new();
    for i in 0..12 {
        let port = nodes.nodes[i % 3].port;
        let (status, json) = post_entry(port, &signer, &format!("witnessed {i}"));
        assert_eq!(status, 201, "{json}");
        let note = envelope(&json);
        assert!(both(&note), "a 201 without both cosignatures: {note}");
    }
    for node in &nodes.nodes {
        crate::witness::eventually(10, "every node serving the cosigned 12", || {
            let note = checkpoint(node.port);
            size_of(&note) == 12 && both(&note)
        });
    }

    // Without C there is no quorum: a write is logged but answered 503
    // after the policy's timeout, and no node serves the head that covers
    // it.
    c_server.kill();
    let body = Signer::new().request(b"while C is down");
    let seen = submit_once(&nodes.urls[2], &body);
    let (status, text) = seen.other.first().cloned().unwrap_or_default();
    assert_eq!(status, 503, "{text}");
    assert!(
        text.contains("logged at index 12") && text.contains("quorum"),
        "{text}"
    );
    for node in &nodes.nodes {
        let note = checkpoint(node.port);
        assert_eq!(size_of(&note), 12, "an unwitnessed head served: {note}");
    }
    // C back: the quorum covers it again, and the client's retry is told
    // its index.
    c_server.restart();
    let deadline = Instant::now() + Duration::from_secs(90);
    let retried = loop {
        let seen = submit_once(&nodes.urls[2], &body);
        if seen.created.len() + seen.conflicts.len() == 1 {
            break seen;
        }
        assert!(
            Instant::now() < deadline,
            "no quorum again: {:?}",
            seen.other
        );
    };
    assert_eq!(retried.conflicts, vec![12]);

    // The lease holder killed: the other node with the key takes the lease,
    // shows the witnesses its head before it signs, and the log goes on
    // cosigned.
    let (pg, log) = nodes.store();
    let (leader, epoch) = nodes.holder(&pg, log);
    assert!(leader < 2, "the key-less node holds the lease");
    nodes.nodes[leader].kill();
    let deadline = Instant::now() + Duration::from_secs(30);
    while pg.lease_state(log).unwrap().epoch == epoch {
        assert!(Instant::now() < deadline, "nobody took the lease over");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, json) = post_entry(nodes.nodes[2].port, &signer, "after the takeover");
    assert_eq!(status, 201, "{json}");
    assert!(both(&envelope(&json)));
    assert_eq!(json["logIndex"], "13");
    let witnessed = pg.witnessed(log).unwrap().unwrap();
    assert_eq!(witnessed.size, 14);
    assert_eq!(assert_log_holds(&nodes, &Seen::default(), 2), 14);

    // A tlog-proof file made from the key-less node's data directory (the
    // log read from the database) meets the policy offline.
    let (proof, entry) = (
        tmp.path().join("13.tlog-proof"),
        tmp.path().join("13.entry"),
    );
    let policy = nodes.dirs[2].join("witness-policy.txt");
    let policy = policy.to_str().unwrap();
    crate::witness::islet_ok(&[
        "proof",
        "--data",
        nodes.dirs[2].to_str().unwrap(),
        "--index",
        "13",
        "--policy",
        policy,
        "-o",
        proof.to_str().unwrap(),
        "--entry-out",
        entry.to_str().unwrap(),
    ]);
    let out = crate::witness::islet_ok(&[
        "verify",
        "--tlog-proof",
        proof.to_str().unwrap(),
        "--entry",
        entry.to_str().unwrap(),
        "--policy",
        policy,
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verified"]["quorum_met"], true, "{v}");
}

#[test]
fn fail_open_writes_go_on_without_witnesses_and_every_node_serves_their_cosignatures_later() {
    use crate::witness::{
        append_start_check, checkpoint, eventually, post_entry, size_of, start, witnessed_by,
    };
    let cluster = PgCluster::start();
    let url = cluster.create_db("islet");
    let mut nodes = Nodes::start_with_keyless(&url, 2, 1, &["--no-sync-standby"], LEASE_TTL_MS);
    let tmp = tempfile::tempdir().unwrap();
    let ((b, wb), (c, wc)) = (
        witness_of(tmp.path(), "site-b", &nodes),
        witness_of(tmp.path(), "site-c", &nodes),
    );
    // C is down from the start: the lease holder's probe goes on without
    // it (start_check = "none").
    let _b = start(&b);
    for at in 0..2 {
        nodes.nodes[at].kill();
        let site = log_site(&nodes, at);
        witnessed_by(&site, (&b, &wb), (&c, &wc), "fail-open", 1000);
        append_start_check(&site, "none");
        nodes.nodes[at].restart();
    }
    let (cb, cc) = (Cosigner::from_vkey(&wb), Cosigner::from_vkey(&wc));
    let signer = Signer::new();
    for i in 0..6 {
        let (status, json) = post_entry(nodes.nodes[i % 2].port, &signer, &format!("open {i}"));
        assert_eq!(status, 201, "fail-open answers without the quorum: {json}");
    }
    // Each node serves a head once its answerer has read it (a new-head
    // notice, or its poll): the other nodes may be a moment behind the
    // one that answered the last write.
    for node in &nodes.nodes {
        eventually(10, "every node serves the head of size 6", || {
            size_of(&checkpoint(node.port)) == 6
        });
        let note = checkpoint(node.port);
        assert_eq!(size_of(&note), 6);
        assert!(cc.verify_in(&note).is_none(), "C is down: {note}");
    }
    // C back: once the quorum cosigned the head, every node serves it
    // with both cosignatures.
    let _c = start(&c);
    for node in &nodes.nodes {
        eventually(90, "both cosignatures on every node's checkpoint", || {
            let note = checkpoint(node.port);
            size_of(&note) == 6 && cb.verify_in(&note).is_some() && cc.verify_in(&note).is_some()
        });
    }
    assert_eq!(assert_log_holds(&nodes, &Seen::default(), 1), 6);
}

/// Sends `body` once to `url` and returns what came back.
fn submit_once(url: &str, body: &str) -> Seen {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let seen = Mutex::new(Seen::default());
    rt.block_on(submit(&client, url, body.to_owned(), &seen));
    seen.into_inner().unwrap()
}

#[test]
fn a_node_without_the_key_takes_writes_never_the_lease_and_answers_503_at_the_deadline() {
    use islet_server::cluster::{ANSWER_DEADLINE, POLL};
    let cluster = PgCluster::start();
    let url = cluster.create_db("islet");
    // Before a node with the key registered the log, a key-less node has
    // no verifier key to take: its init refuses and writes nothing.
    let early = tempfile::tempdir().unwrap();
    let early_dir = early.path().join("too-early");
    let out = islet(&[
        "init",
        "--data",
        early_dir.to_str().unwrap(),
        "--store",
        &url,
        "--role",
        "never",
        "--no-sync-standby",
    ]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(said.contains("holds no own log 127.0.0.1"), "{said}");
    assert!(!early_dir.join("islet.toml").exists());
    let mut nodes = Nodes::start_with_keyless(&url, 2, 1, &["--no-sync-standby"], LEASE_TTL_MS);
    let (pg, log) = nodes.store();
    // Verified and answered by the key-less node, sequenced by the other.
    crate::support::write_entries(&nodes.nodes[1], "through the key-less node", 3);
    assert_eq!(nodes.holder(&pg, log).0, 0);
    // Its trusted root names the log key the database registered.
    let tlog = |dir: &PathBuf| {
        let out = islet(&["trust-root", "--data", dir.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let root: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        root["tlogs"][0]["publicKey"]["rawBytes"].clone()
    };
    assert_eq!(tlog(&nodes.dirs[1]), tlog(&nodes.dirs[0]));

    // The only node with the key dies, and stays dead.
    let pid = nodes.nodes[0].server_pid().to_string();
    signal("-KILL", &pid);
    while crate::support::process_alive(&pid) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let epoch = pg.lease_state(log).unwrap().epoch;

    // A write through the key-less node waits for its entry to be
    // confirmed, and after ANSWER_DEADLINE is told 503: never a 201 for an
    // entry that is not in the log, never an endless wait.
    let body = Signer::new().request(b"while no node can sequence");
    let started = Instant::now();
    let seen = submit_once(&nodes.urls[1], &body);
    let waited = started.elapsed();
    assert!(seen.created.is_empty() && seen.conflicts.is_empty());
    let (status, text) = &seen.other[0];
    assert_eq!(*status, 503, "{text}");
    assert!(
        text.contains(&format!("within {} s", ANSWER_DEADLINE.as_secs())),
        "{text}"
    );
    // At the deadline, not before it; answered within a few polls of it.
    assert!(waited >= ANSWER_DEADLINE, "answered after {waited:?}");
    assert!(
        waited <= ANSWER_DEADLINE + 8 * POLL,
        "answered only after {waited:?}"
    );
    eprintln!("no node with the key: a write through the key-less node got 503 after {waited:?}");
    // It never bid for the lease, and it still serves its checkpoint.
    let lease = pg.lease_state(log).unwrap();
    assert_eq!(
        (lease.holder.as_str(), lease.epoch),
        (nodes.names[0].as_str(), epoch)
    );
    assert_eq!(poll_checkpoint(&nodes.urls[1]).unwrap().0, 3);
    assert!(nodes.nodes[1].running_pid().is_some());

    // The node with the key back: the entry left in line is logged, and
    // the client's retry through the key-less node is told where.
    nodes.nodes[0].restart();
    let retried = submit_once(&nodes.urls[1], &body);
    assert_eq!(
        retried.created.len() + retried.conflicts.len(),
        1,
        "{:?}",
        retried.other
    );
    let index = retried
        .created
        .first()
        .map(|(i, _)| *i)
        .or(retried.conflicts.first().copied());
    assert_eq!(index, Some(3));
    assert_eq!(assert_log_holds(&nodes, &retried, 1), 4);
    eprintln!(
        "the retry after the restart: {} x 201, {} x 409 at index 3",
        retried.created.len(),
        retried.conflicts.len()
    );
}

fn signal(which: &str, pid: &str) {
    assert!(
        std::process::Command::new("kill")
            .args([which, pid])
            .status()
            .unwrap()
            .success()
    );
}

/// Writes one entry through node `at` as a client would: a 503 or a
/// broken connection is retried (after the supervisor restarted what
/// stopped) until `deadline`; a retry may find its first attempt logged
/// (409). Returns the entry's index.
fn write_as_a_client_would(nodes: &mut Nodes, at: usize, tag: &str, deadline: Instant) -> u64 {
    let body = Signer::new().request(tag.as_bytes());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    loop {
        let seen = Mutex::new(Seen::default());
        rt.block_on(submit(&client, &nodes.urls[at], body.clone(), &seen));
        let seen = seen.into_inner().unwrap();
        if let Some((index, _)) = seen.created.first() {
            return *index;
        }
        if let Some(index) = seen.conflicts.first() {
            return *index;
        }
        let (status, text) = &seen.other[0];
        assert!([0, 503].contains(status), "{status} {text}");
        assert!(
            Instant::now() < deadline,
            "no write through node {at}: {text}"
        );
        std::thread::sleep(Duration::from_millis(500));
        supervise(nodes, deadline);
    }
}

/// Restarts every node whose process has exited (what systemd does with
/// `Restart=always`); a start that fails is tried again until `deadline`.
fn supervise(nodes: &mut Nodes, deadline: Instant) {
    for node in &mut nodes.nodes {
        if node.running_pid().is_some() {
            continue;
        }
        loop {
            let restarted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                node.restart();
            }));
            if restarted.is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "a node does not start again");
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

#[test]
fn the_primary_killed_under_load_and_its_synchronous_standby_promoted_loses_nothing() {
    let primary = PgCluster::start();
    primary.create_db("islet");
    let standby = primary.start_sync_standby("standby1");
    // Both servers in the URL: the nodes follow the one that takes writes.
    let url = format!(
        "postgres://islet@127.0.0.1:{},127.0.0.1:{}/islet?target_session_attrs=read-write",
        primary.port(),
        standby.port()
    );
    let mut nodes = Nodes::start(&url, 2, &[], LEASE_TTL_MS);
    let (pg, log) = nodes.store();
    let load = Load::start(&nodes.urls, 8, usize::MAX);
    std::thread::sleep(Duration::from_secs(3));

    // The crash: every process of the primary at once; then the standby
    // is promoted, and a new synchronous standby cloned from it.
    let before = pg.tree_head(log).unwrap().unwrap().size;
    drop(pg);
    let killed_at = Instant::now();
    primary.kill();
    standby.promote();
    let _standby2 = standby.start_sync_standby("standby2");
    let deadline = Instant::now() + Duration::from_secs(90);
    supervise(&mut nodes, deadline);
    // The log goes on: a commit beyond what the old primary had.
    let (pg, log) = nodes.store();
    let outage = loop {
        let size = pg.tree_head(log).unwrap().unwrap().size;
        if size > before {
            break killed_at.elapsed();
        }
        assert!(Instant::now() < deadline, "no commit after the failover");
        supervise(&mut nodes, deadline);
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_secs(2));
    let seen = load.finish(true);
    for i in 0..nodes.nodes.len() {
        write_as_a_client_would(
            &mut nodes,
            i,
            &format!("after the failover via {i}"),
            deadline,
        );
    }
    let size = pg.tree_head(log).unwrap().unwrap().size;
    wait_for_size(&mut nodes, size);
    let size = assert_log_holds(&nodes, &seen, 0);
    let refused = seen.other.iter().filter(|(s, _)| *s == 503).count();
    eprintln!(
        "primary killed at size {before}, standby promoted: {} acknowledged, all present; \
         {refused} x 503, {} broken connections; first commit on the new primary {} ms after \
         the kill; final size {size}",
        seen.created.len(),
        seen.other.len() - refused,
        outage.as_millis()
    );
    assert!(seen.created.iter().any(|(i, _)| *i >= before));
}

/// `cp -a`: a copy that keeps owners and modes (the server's files belong
/// to the postgres user when the tests run as root).
fn copy_preserving(from: &std::path::Path, to: &std::path::Path) {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_node_refuses_a_database_restored_from_an_older_copy() {
    let cluster = PgCluster::start();
    let url = cluster.create_db("islet");
    let mut nodes = Nodes::start(&url, 1, &["--no-sync-standby"], CALM_LEASE_TTL_MS);
    crate::support::write_entries(&nodes.nodes[0], "before the backup", 5);
    // A copy of the database at size 5.
    nodes.nodes[0].kill();
    cluster.stop();
    let data = cluster.data_dir().to_path_buf();
    let backup = data.with_extension("backup");
    copy_preserving(&data, &backup);
    cluster.restart();
    nodes.nodes[0].restart();
    crate::support::write_entries(&nodes.nodes[0], "after the backup", 5);
    wait_for_size(&mut nodes, 10);
    // The database restored from the copy: the node saw size 10 confirmed.
    nodes.nodes[0].kill();
    cluster.stop();
    std::fs::remove_dir_all(&data).unwrap();
    copy_preserving(&backup, &data);
    cluster.restart();
    let refused = crate::support::islet_serve_refuses(&nodes.dirs[0]);
    assert!(
        refused.contains("the store is at size 5 but a checkpoint of size 10 was published"),
        "{refused}"
    );
}
