//! Witnessing across sites: three islets on loopback, A's log witnessed
//! by B and C under a 2-of-2 policy. Every cosignature is checked with the
//! test kit's own `cosignature/v1` verifier (ed25519-dalek, written from
//! the spec), never with islet's note code.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use islet_testkit::cosig::Cosigner;

use crate::support::{Islet, Signer, copy_tree, free_port, http_get};

/// A data directory with its port, origin and keys.
pub(crate) struct Site {
    pub(crate) data: PathBuf,
    pub(crate) port: u16,
    pub(crate) origin: String,
    pub(crate) vkey: String,
}

pub(crate) fn islet_ok(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_islet"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "islet {args:?}: {}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub(crate) fn init(dir: &Path, name: &str) -> Site {
    init_with(dir, name, &["--no-tsa"])
}

fn init_with(dir: &Path, name: &str, extra: &[&str]) -> Site {
    let port = free_port();
    let data = dir.join(name);
    // "--origin-is-host" (not an islet flag) keeps the URL's host as origin, as islet verify reads a
    // trusted root's log (its origin is the host of its baseUrl).
    let origin = if extra.contains(&"--origin-is-host") {
        "127.0.0.1".to_owned()
    } else {
        format!("{name}.example")
    };
    let url = format!("http://127.0.0.1:{port}");
    let mut args = vec![
        "init",
        "--data",
        data.to_str().unwrap(),
        "--public-url",
        &url,
        "--origin",
        &origin,
    ];
    args.extend(extra.iter().filter(|a| **a != "--origin-is-host"));
    let out = islet_ok(&args);
    let vkey = out
        .lines()
        .find_map(|l| l.strip_prefix("verifier key "))
        .expect("islet init prints the verifier key")
        .to_owned();
    Site {
        data,
        port,
        origin,
        vkey,
    }
}

pub(crate) fn append_config(site: &Site, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(site.data.join("islet.toml"))
        .unwrap();
    writeln!(f, "\n{text}").unwrap();
}

/// Makes `site` a witness of `log`'s log; returns its witness vkey.
pub(crate) fn make_witness(site: &Site, log: &Site) -> String {
    append_config(
        site,
        &format!(
            "[witness_service]\n[[witness_service.log]]\nvkey = \"{}\"",
            log.vkey
        ),
    );
    islet_ok(&["witness", "key", "--data", site.data.to_str().unwrap()])
        .trim()
        .to_owned()
}

/// Makes `log` push itself to `mirror`'s mirrors (`[[mirror.push]]` and
/// `[[mirror.accept]]`); returns the mirror's cosigner vkey.
fn pushes_to(log: &Site, mirror: &Site) -> String {
    append_config(
        mirror,
        &format!("[[mirror.accept]]\nvkey = \"{}\"", log.vkey),
    );
    let vkey = islet_ok(&["mirror", "key", "--data", mirror.data.to_str().unwrap()])
        .trim()
        .to_owned();
    append_config(
        log,
        &format!(
            "[[mirror.push]]\nurl = \"http://127.0.0.1:{}/mirror\"\nvkey = \"{vkey}\"",
            mirror.port
        ),
    );
    vkey
}

/// Gives `log` the 2-of-2 policy of witnesses `b` and `c`.
pub(crate) fn witnessed_by(
    log: &Site,
    b: (&Site, &str),
    c: (&Site, &str),
    mode: &str,
    timeout_ms: u64,
) {
    let policy = format!(
        "# A's witnesses\nlog {} http://127.0.0.1:{}\nwitness B {} http://127.0.0.1:{}/witness\nwitness C {} http://127.0.0.1:{}/witness\ngroup both all B C\nquorum both\n",
        log.vkey, log.port, b.1, b.0.port, c.1, c.0.port
    );
    std::fs::write(log.data.join("witness-policy.txt"), policy).unwrap();
    append_config(
        log,
        &format!(
            "[witness]\npolicy = \"witness-policy.txt\"\nmode = \"{mode}\"\ntimeout_ms = {timeout_ms}"
        ),
    );
}

pub(crate) fn start(site: &Site) -> Islet {
    Islet::start_on(&site.data, site.port)
}

/// POSTs one new hashedrekord entry: the status and the body.
pub(crate) fn post_entry(port: u16, signer: &Signer, tag: &str) -> (u16, serde_json::Value) {
    let body = signer.request(tag.as_bytes());
    let (status, _, body) = crate::support::http_request(
        port,
        "POST",
        "/api/v2/log/entries",
        Some("application/json"),
        body.as_bytes(),
    );
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    (status, json)
}

/// The checkpoint of a 201 body.
pub(crate) fn envelope(json: &serde_json::Value) -> String {
    json["inclusionProof"]["checkpoint"]["envelope"]
        .as_str()
        .expect("a checkpoint envelope")
        .to_owned()
}

/// The size a checkpoint note names.
pub(crate) fn size_of(note: &str) -> u64 {
    note.lines().nth(1).unwrap().parse().unwrap()
}

pub(crate) fn checkpoint(port: u16) -> String {
    let (status, body) = http_get(port, "/api/v2/checkpoint");
    assert_eq!(status, 200);
    String::from_utf8(body).unwrap()
}

pub(crate) fn origin_hash(origin: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(origin.as_bytes()))
}

/// Polls `f` until it holds, for at most `secs` seconds.
pub(crate) fn eventually(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "{what} within {secs} s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn three_sites(dir: &Path, mode: &str, timeout_ms: u64) -> (Site, Site, Site, Cosigner, Cosigner) {
    let (a, b, c) = (
        init(dir, "site-a"),
        init(dir, "site-b"),
        init(dir, "site-c"),
    );
    let (wb, wc) = (make_witness(&b, &a), make_witness(&c, &a));
    witnessed_by(&a, (&b, &wb), (&c, &wc), mode, timeout_ms);
    (a, b, c, Cosigner::from_vkey(&wb), Cosigner::from_vkey(&wc))
}

#[test]
fn every_checkpoint_a_serves_carries_both_cosignatures_2_of_2() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c, cb, cc) = three_sites(tmp.path(), "fail-closed", 5000);
    let publish = tmp.path().join("published");
    let toml = std::fs::read_to_string(a.data.join("islet.toml")).unwrap();
    std::fs::write(
        a.data.join("islet.toml"),
        format!("publish_dir = \"{}\"\n{toml}", publish.display()),
    )
    .unwrap();
    let (_b, _c) = (start(&b), start(&c));
    let server = start(&a);
    let signer = Signer::new();
    for i in 0..30 {
        let (status, json) = post_entry(server.port, &signer, &format!("entry {i}"));
        assert_eq!(status, 201, "{json}");
        let note = envelope(&json);
        assert!(size_of(&note) > i, "the checkpoint covers the entry");
        assert!(
            cb.verify_in(&note).is_some(),
            "B cosigned the 201's checkpoint:\n{note}"
        );
        assert!(
            cc.verify_in(&note).is_some(),
            "C cosigned the 201's checkpoint:\n{note}"
        );
    }
    let served = checkpoint(server.port);
    assert_eq!(size_of(&served), 30);
    assert!(
        cb.verify_in(&served).is_some() && cc.verify_in(&served).is_some(),
        "{served}"
    );
    eventually(10, "the publish directory's checkpoint at size 30", || {
        std::fs::read_to_string(publish.join("checkpoint")).is_ok_and(|n| {
            size_of(&n) == 30 && cb.verify_in(&n).is_some() && cc.verify_in(&n).is_some()
        })
    });
    // The witnesses serve what they cosigned (their monitoring GET).
    for (port, who) in [(b.port, &cb), (c.port, &cc)] {
        let (status, body) = http_get(
            port,
            &format!("/witness/{}/checkpoint", origin_hash(&a.origin)),
        );
        assert_eq!(status, 200);
        let note = String::from_utf8(body).unwrap();
        assert_eq!(size_of(&note), 30, "{note}");
        assert!(who.verify_in(&note).is_some(), "{note}");
    }
    // A mirror of A, synced over HTTP, stores the cosigned checkpoint.
    let m = tmp.path().join("mirror");
    islet_ok(&[
        "mirror",
        "sync",
        "--data",
        m.to_str().unwrap(),
        "--upstream",
        &format!("http://127.0.0.1:{}/api/v2", a.port),
        "--vkey",
        &a.vkey,
    ]);
    let mirror = Islet::start(&m);
    let (status, body) = http_get(
        mirror.port,
        &format!("/mirror/{}/checkpoint", origin_hash(&a.origin)),
    );
    assert_eq!(status, 200);
    let note = String::from_utf8(body).unwrap();
    assert!(
        cb.verify_in(&note).is_some() && cc.verify_in(&note).is_some(),
        "{note}"
    );
    // A proof file of A's entry 7 carries both and verifies under the
    // policy with `islet verify`.
    let proof = tmp.path().join("e7.tlog-proof");
    let entry = tmp.path().join("e7.entry");
    drop(server);
    islet_ok(&[
        "proof",
        "--data",
        a.data.to_str().unwrap(),
        "--index",
        "7",
        "--policy",
        a.data.join("witness-policy.txt").to_str().unwrap(),
        "-o",
        proof.to_str().unwrap(),
        "--entry-out",
        entry.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&proof).unwrap();
    let (_, note) = text
        .split_once("\n\n")
        .expect("proof lines, a blank line, the checkpoint");
    assert!(
        cb.verify_in(note).is_some() && cc.verify_in(note).is_some(),
        "{text}"
    );
    let out = islet_ok(&[
        "verify",
        "--tlog-proof",
        proof.to_str().unwrap(),
        "--entry",
        entry.to_str().unwrap(),
        "--policy",
        a.data.join("witness-policy.txt").to_str().unwrap(),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["verified"]["quorum_met"], true, "{v}");
    let policy = a.data.join("witness-policy.txt");
    // Without C's line, or under a policy that needs a witness who never
    // cosigned, the same proof fails.
    let c_name = format!("\u{2014} {} ", cc.name);
    let without_c: String = text
        .lines()
        .filter(|l| !l.starts_with(&c_name))
        .map(|l| format!("{l}\n"))
        .collect();
    let cut = tmp.path().join("e7-without-c.tlog-proof");
    std::fs::write(&cut, without_c).unwrap();
    let (stranger, _) = islet_signer::Ed25519Signer::generate("stranger.example/w").unwrap();
    let stranger = islet_tlog::note::NoteVerifier::new(
        "stranger.example/w",
        islet_tlog::note::PublicKey::CosignatureV1(stranger.public_key()),
    )
    .unwrap()
    .to_vkey();
    let wrong = tmp.path().join("wrong-policy.txt");
    std::fs::write(
        &wrong,
        std::fs::read_to_string(&policy).unwrap().replace(
            "group both all B C\nquorum both\n",
            &format!("witness D {stranger}\ngroup all3 all B C D\nquorum all3\n"),
        ),
    )
    .unwrap();
    for (file, pol, what) in [
        (&cut, &policy, "a missing cosignature"),
        (
            &proof,
            &wrong,
            "a policy needing a witness who did not cosign",
        ),
    ] {
        let out = crate::support::islet(&[
            "verify",
            "--tlog-proof",
            file.to_str().unwrap(),
            "--entry",
            entry.to_str().unwrap(),
            "--policy",
            pol.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(1), "{what}");
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.contains("witness_quorum"), "{what}: {said}");
    }
    // By digest, and from the mirror's copy of A: the same entry, the same
    // cosignatures.
    let digest = format!(
        "sha256:{}",
        hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"entry 7").as_ref())
    );
    let by_digest = islet_ok(&[
        "proof",
        "--data",
        a.data.to_str().unwrap(),
        "--digest",
        &digest,
        "--policy",
        policy.to_str().unwrap(),
    ]);
    assert_eq!(by_digest, text, "--digest finds entry 7");
    let from_mirror = tmp.path().join("m7.tlog-proof");
    islet_ok(&[
        "proof",
        "--data",
        m.to_str().unwrap(),
        "--log",
        &a.origin,
        "--index",
        "7",
        "--policy",
        policy.to_str().unwrap(),
        "-o",
        from_mirror.to_str().unwrap(),
    ]);
    islet_ok(&[
        "verify",
        "--tlog-proof",
        from_mirror.to_str().unwrap(),
        "--entry",
        entry.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
    ]);
    // A snapshot of A carries the cosigned checkpoint.
    let snap = tmp.path().join("a.snapshot");
    islet_ok(&[
        "snapshot",
        "export",
        "--data",
        a.data.to_str().unwrap(),
        "--output",
        snap.to_str().unwrap(),
    ]);
    let out = islet_ok(&["snapshot", "inspect", snap.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let note = v["checkpoint"].as_str().unwrap();
    assert!(
        cb.verify_in(note).is_some() && cc.verify_in(note).is_some(),
        "{note}"
    );
}

#[test]
fn a_forked_log_is_refused_with_422_and_kept_as_evidence() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c, _, _) = three_sites(tmp.path(), "fail-closed", 5000);
    let (_b, _c) = (start(&b), start(&c));
    let mut server = start(&a);
    let signer = Signer::new();
    for i in 0..5 {
        assert_eq!(post_entry(server.port, &signer, &format!("a {i}")).0, 201);
    }
    server.kill();
    // A second log with A's key and origin: A's data at size 5, grown
    // without witnesses by five other entries.
    let fork = Site {
        data: tmp.path().join("site-a-fork"),
        port: free_port(),
        origin: a.origin.clone(),
        vkey: a.vkey.clone(),
    };
    copy_tree(&a.data, &fork.data);
    let config = std::fs::read_to_string(fork.data.join("islet.toml")).unwrap();
    let unwitnessed = config.split("[witness]").next().unwrap().to_owned();
    std::fs::write(fork.data.join("islet.toml"), &unwitnessed).unwrap();
    {
        let f = start(&fork);
        for i in 0..5 {
            assert_eq!(post_entry(f.port, &signer, &format!("fork {i}")).0, 201);
        }
    }
    // Meanwhile A goes on to size 10 with its witnesses.
    server.restart();
    for i in 5..10 {
        assert_eq!(post_entry(server.port, &signer, &format!("a {i}")).0, 201);
    }
    // The fork, now pointed at the witnesses, refuses to start: both
    // witnesses answer 422 (same size, other root).
    std::fs::write(fork.data.join("islet.toml"), &config).unwrap();
    let stderr = refuses(&fork);
    assert!(
        stderr.contains("witness B") && stderr.contains("witness C"),
        "{stderr}"
    );
    assert!(stderr.contains("422"), "{stderr}");
    for (w, port) in [(&b, b.port), (&c, c.port)] {
        let out = islet_ok(&[
            "witness",
            "list",
            "--data",
            w.data.to_str().unwrap(),
            "--json",
        ]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let row = &v["witnessed"][0];
        assert_eq!(row["origin"], a.origin.as_str());
        assert_eq!(row["size"], 10, "the witness still holds A's tree");
        let evidence = row["evidence"].as_array().unwrap();
        assert_eq!(evidence.len(), 1, "{v}");
        assert_eq!(size_of(evidence[0]["offered"].as_str().unwrap()), 10);
        let (_, metrics) = http_get(port, "/metrics");
        let metrics = String::from_utf8(metrics).unwrap();
        assert!(
            metrics.contains(&format!(
                "islet_witness_service_add_checkpoint_total{{origin=\"{}\",status=\"422\"}}",
                a.origin
            )),
            "{metrics}"
        );
    }
}

/// Runs `islet serve` on `site` expecting a refusal; its stderr.
fn refuses(site: &Site) -> String {
    let out = Command::new("timeout")
        .args(["60", env!("CARGO_BIN_EXE_islet"), "serve", "--data"])
        .arg(&site.data)
        .args([
            "--listen",
            &format!("127.0.0.1:{}", site.port),
            "--public-url",
            &format!("http://127.0.0.1:{}", site.port),
        ])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "islet serve started when it must refuse"
    );
    assert_ne!(out.status.code(), Some(124), "it ran until the timeout");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn fail_closed_writes_stop_without_the_quorum_and_fail_open_ones_catch_up() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c, cb, cc) = three_sites(tmp.path(), "fail-closed", 1000);
    let (_b, mut wc) = (start(&b), start(&c));
    let mut server = start(&a);
    let signer = Signer::new();
    assert_eq!(post_entry(server.port, &signer, "before").0, 201);
    wc.kill();
    let (status, json) = post_entry(server.port, &signer, "while C is down");
    assert_eq!(
        status, 503,
        "fail-closed: no 201 without the quorum: {json}"
    );
    assert!(
        json["message"].as_str().unwrap().contains("quorum"),
        "{json}"
    );
    let served = checkpoint(server.port);
    assert_eq!(size_of(&served), 1, "the unwitnessed head is not served");
    // Fail-open: the same log keeps writing while C is down.
    server.kill();
    let config = std::fs::read_to_string(a.data.join("islet.toml")).unwrap();
    std::fs::write(
        a.data.join("islet.toml"),
        config.replace("mode = \"fail-closed\"", "mode = \"fail-open\""),
    )
    .unwrap();
    // C is down at start: the probe needs start_check = "none" to start.
    append_start_check(&a, "none");
    server.restart();
    // With C down, fail-closed answered 503; fail-open answers 201.
    for i in 0..10 {
        let (status, json) = post_entry(server.port, &signer, &format!("open {i}"));
        assert_eq!(status, 201, "{json}");
    }
    let size = size_of(&checkpoint(server.port));
    assert_eq!(size, 12);
    eventually(10, "B's cosignature on the served checkpoint", || {
        cb.verify_in(&checkpoint(server.port)).is_some()
    });
    assert!(
        cc.verify_in(&checkpoint(server.port)).is_none(),
        "C is down"
    );
    wc.restart();
    eventually(70, "C's cosignature once C is back", || {
        let note = checkpoint(server.port);
        size_of(&note) == size && cb.verify_in(&note).is_some() && cc.verify_in(&note).is_some()
    });
}

pub(crate) fn append_start_check(site: &Site, check: &str) {
    let path = site.data.join("islet.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        config.replace(
            "[witness]\n",
            &format!("[witness]\nstart_check = \"{check}\"\n"),
        ),
    )
    .unwrap();
}

/// The store's head and every stored checkpoint, read beside no server.
fn store_state(data: &Path) -> (u64, Vec<Vec<u8>>) {
    let store = islet_store::Store::open_read_only(&data.join("db")).unwrap();
    let head = store.tree_head(islet_store::OWN_LOG).unwrap().unwrap();
    let cps = (0..=head.size + 20)
        .filter_map(|n| store.checkpoint_at(islet_store::OWN_LOG, n).unwrap())
        .collect();
    (head.size, cps)
}

#[test]
fn a_data_directory_restored_from_an_older_copy_refuses_to_start() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c, _, _) = three_sites(tmp.path(), "fail-closed", 5000);
    let record = tmp.path().join("elsewhere/a.checkpoint.published");
    std::fs::create_dir_all(record.parent().unwrap()).unwrap();
    append_config(&a, &format!("[guard]\nrecord = \"{}\"", record.display()));
    let (_b, _c) = (start(&b), start(&c));
    let mut server = start(&a);
    let signer = Signer::new();
    for i in 0..5 {
        assert_eq!(post_entry(server.port, &signer, &format!("a {i}")).0, 201);
    }
    server.kill();
    // Yesterday's backup: the whole data directory and the record.
    let backup = tmp.path().join("backup");
    copy_tree(&a.data, &backup);
    let old_record = std::fs::read(&record).unwrap();
    server.restart();
    for i in 5..15 {
        assert_eq!(post_entry(server.port, &signer, &format!("a {i}")).0, 201);
    }
    server.kill();
    let published = std::fs::read(&record).unwrap();
    // Restore the data directory only: the record kept elsewhere refuses.
    std::fs::remove_dir_all(&a.data).unwrap();
    copy_tree(&backup, &a.data);
    let before = store_state(&a.data);
    let stderr = refuses(&a);
    assert!(stderr.contains("restored from an older copy"), "{stderr}");
    assert_eq!(store_state(&a.data), before, "nothing signed");
    // Restore the record too, as a whole-site restore would: the witnesses
    // hold size 15 and say so.
    std::fs::write(&record, &old_record).unwrap();
    let stderr = refuses(&a);
    assert!(
        stderr.contains("witness B") && stderr.contains("witness C"),
        "{stderr}"
    );
    assert!(stderr.contains("size 15"), "{stderr}");
    assert!(stderr.contains("restored from an older copy"), "{stderr}");
    assert_eq!(store_state(&a.data), before, "no checkpoint was signed");
    assert_eq!(
        std::fs::read(&record).unwrap(),
        old_record,
        "the record untouched"
    );
    assert_ne!(published, old_record);
}

/// A site whose every checkpoint carries a witness's cosignature, signed
/// for by the real clients: sigstore-python 4.5 and sigstore-js (sign and
/// verify) must accept checkpoints with a cosignature line they do not
/// know, and `islet verify --policy` finds the cosignature in their
/// bundles.
#[test]
fn sigstore_python_and_js_accept_cosigned_checkpoints() {
    use crate::tsa::{EMAIL, ISSUER, TSA_PATH, flow, js_flow, s, site_trust};
    let tmp = tempfile::tempdir().unwrap();
    let a = init_with(tmp.path(), "site-a", &["--origin-is-host"]);
    let b = init(tmp.path(), "site-b");
    let wb = make_witness(&b, &a);
    std::fs::write(
        a.data.join("witness-policy.txt"),
        format!(
            "log {} http://127.0.0.1:{}\nwitness B {wb} http://127.0.0.1:{}/witness\nquorum B\n",
            a.vkey, a.port, b.port
        ),
    )
    .unwrap();
    append_config(&a, "[witness]\npolicy = \"witness-policy.txt\"");
    let _b = start(&b);
    let site = start(&a);
    let other = Islet::start(&tmp.path().join("other"));
    let other_tsa = format!("{}{TSA_PATH}", other.url);
    let cb = Cosigner::from_vkey(&wb);
    let work = tmp.path().join("work");
    flow(&["make-ca", s(&work), "--intermediate"]);
    let (config, root) = site_trust(&site, &work, &work);
    // sigstore-python signs (the 201 carries the cosigned checkpoint) and
    // verifies with its own Verifier.
    let r = flow(&["sign", s(&work), s(&config), &other_tsa]);
    assert_eq!(r["accepted"], serde_json::json!(["email", "uri"]), "{r}");
    let policy = a.data.join("witness-policy.txt");
    let bundle = work.join("bundle-email.sigstore.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    let note =
        json["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]["envelope"]
            .as_str()
            .unwrap();
    assert!(
        cb.verify_in(note).is_some(),
        "the bundle's checkpoint is cosigned: {note}"
    );
    let out = islet_ok(&[
        "verify",
        "--bundle",
        s(&bundle),
        "--trusted-root",
        s(&root),
        "--certificate-identity",
        EMAIL,
        "--certificate-oidc-issuer",
        ISSUER,
        "--artifact",
        s(&work.join("artifact-email")),
        "--policy",
        s(&policy),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let witness = &v["results"][0]["log_entries"][0]["witness"];
    assert_eq!(witness["quorum_met"], true, "{v}");
    assert_eq!(witness["witnesses"][0]["name"], "B", "{v}");
    assert_eq!(witness["witnesses"][0]["cosigned"], true, "{v}");
    // sigstore-js: sign and verify against the same witnessed log.
    let js = tmp.path().join("js");
    flow(&["make-ca", s(&js), "--root-curve", "p256"]);
    flow(&["issue", s(&js), "js", EMAIL, ISSUER]);
    let (js_config, _) = site_trust(&site, &js, &js);
    let out_dir = js.join("out");
    let r = js_flow(&js_config, &js, &out_dir, &other_tsa);
    assert_eq!(r["accepted"], serde_json::json!(["js"]), "{r}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("bundle-js.sigstore.json")).unwrap())
            .unwrap();
    let note =
        json["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]["envelope"]
            .as_str()
            .unwrap();
    assert!(cb.verify_in(note).is_some(), "{note}");
}

/// The paths of every tile and bundle of a tree of `size` entries.
pub(crate) fn tree_paths(size: u64) -> Vec<String> {
    use islet_tlog::tiles::{TilePath, new_tiles};
    let mut out = Vec::new();
    for tile in new_tiles(0, size) {
        out.push(TilePath::Hash(tile).to_string());
        if tile.level == 0 {
            out.push(TilePath::Entries(tile.bundle()).to_string());
        }
    }
    out
}

/// A log that pushes itself to B's mirror (tlog-mirror push), and C that
/// pulls it (`islet mirror sync`): the two mirrors are the same, byte for
/// byte, and the same as the log.
#[test]
fn push_and_pull_give_the_same_mirror_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (init(tmp.path(), "site-a"), init(tmp.path(), "site-b"));
    let b_mirror = pushes_to(&a, &b);
    let _b = start(&b);
    let server = start(&a);
    let signer = Signer::new();
    for i in 0..600 {
        assert_eq!(
            post_entry(server.port, &signer, &format!("push {i}")).0,
            201
        );
    }
    let path = format!("/mirror/{}/checkpoint", origin_hash(&a.origin));
    eventually(60, "B's pushed mirror of A at size 600", || {
        let (status, body) = http_get(b.port, &path);
        status == 200 && size_of(&String::from_utf8_lossy(&body)) == 600
    });
    let (_, pushed) = http_get(b.port, &path);
    let pushed = String::from_utf8(pushed).unwrap();
    assert!(
        Cosigner::from_vkey(&b_mirror).verify_in(&pushed).is_some(),
        "B cosigns what it serves: {pushed}"
    );
    let c = tmp.path().join("site-c");
    islet_ok(&[
        "mirror",
        "sync",
        "--data",
        c.to_str().unwrap(),
        "--upstream",
        &format!("http://127.0.0.1:{}/api/v2", a.port),
        "--vkey",
        &a.vkey,
    ]);
    let pulled = Islet::start(&c);
    let (_, pulled_cp) = http_get(pulled.port, &path);
    let text = |note: &str| note.split("\n\n").next().unwrap().to_owned();
    assert_eq!(text(&String::from_utf8(pulled_cp).unwrap()), text(&pushed));
    let prefix = format!("/mirror/{}/", origin_hash(&a.origin));
    for p in tree_paths(600) {
        let (s1, from_push) = http_get(b.port, &format!("{prefix}{p}"));
        let (s2, from_pull) = http_get(pulled.port, &format!("{prefix}{p}"));
        let (s3, from_log) = http_get(a.port, &format!("/api/v2/{p}"));
        assert_eq!((s1, s2, s3), (200, 200, 200), "{p}");
        assert_eq!(from_push, from_pull, "{p}: pushed and pulled differ");
        assert_eq!(from_push, from_log, "{p}: the mirror and the log differ");
    }
}

/// The mirrors a log pushes to also hold what it published: a data
/// directory restored from an older copy (store and record together)
/// refuses to start when a mirror holds more, with no witness configured.
#[test]
fn a_restored_log_refuses_to_start_below_what_its_mirror_holds() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (init(tmp.path(), "site-a"), init(tmp.path(), "site-b"));
    pushes_to(&a, &b);
    let _b = start(&b);
    let mut server = start(&a);
    let signer = Signer::new();
    for i in 0..10 {
        assert_eq!(post_entry(server.port, &signer, &format!("r {i}")).0, 201);
    }
    server.kill();
    let backup = tmp.path().join("backup");
    copy_tree(&a.data, &backup);
    server.restart();
    for i in 10..20 {
        assert_eq!(post_entry(server.port, &signer, &format!("r {i}")).0, 201);
    }
    let path = format!("/mirror/{}/checkpoint", origin_hash(&a.origin));
    eventually(30, "B's mirror at size 20", || {
        let (status, body) = http_get(b.port, &path);
        status == 200 && size_of(&String::from_utf8_lossy(&body)) == 20
    });
    server.kill();
    std::fs::remove_dir_all(&a.data).unwrap();
    copy_tree(&backup, &a.data);
    let before = store_state(&a.data);
    let stderr = refuses(&a);
    assert!(stderr.contains("mirror http://127.0.0.1:"), "{stderr}");
    assert!(stderr.contains("size 20"), "{stderr}");
    assert_eq!(store_state(&a.data), before, "no checkpoint was signed");
}

/// Every metric the Prometheus alert rules of `packaging/prometheus` name
/// is one islet serves: a site that follows an upstream, is witnessed,
/// exports on a schedule and runs its TSA, and its witness, together
/// expose all of them.
#[test]
fn the_alert_rules_name_only_metrics_islet_serves() {
    let tmp = tempfile::tempdir().unwrap();
    let upstream = init(tmp.path(), "upstream");
    let a = init_with(tmp.path(), "site-a", &[]);
    let b = init(tmp.path(), "site-b");
    let wb = make_witness(&b, &a);
    std::fs::write(
        a.data.join("witness-policy.txt"),
        format!(
            "log {} http://127.0.0.1:{}\nwitness B {wb} http://127.0.0.1:{}/witness\nquorum B\n",
            a.vkey, a.port, b.port
        ),
    )
    .unwrap();
    append_config(&a, "[witness]\npolicy = \"witness-policy.txt\"");
    append_config(
        &a,
        &format!(
            "[[mirror.upstream]]\nurl = \"http://127.0.0.1:{}/api/v2\"\nvkey = \"{}\"\ninterval_secs = 1",
            upstream.port, upstream.vkey
        ),
    );
    append_config(
        &a,
        &format!(
            "[[export]]\ndirectory = \"{}\"\ninterval_secs = 3600",
            tmp.path().join("carry").display()
        ),
    );
    let _u = start(&upstream);
    let _b = start(&b);
    let server = start(&a);
    let signer = Signer::new();
    assert_eq!(post_entry(server.port, &signer, "metrics").0, 201);
    let rules = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/prometheus/islet.rules.yml"),
    )
    .unwrap();
    let names: std::collections::BTreeSet<String> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("islet_"))
        // Served only with [tls] or [auth]: checked by
        // auth::client_certificates_admit_writes_and_...
        .filter(|w| {
            !crate::auth::SERVED_WITH_TLS_AND_AUTH
                .iter()
                .any(|p| w.starts_with(p))
        })
        .map(str::to_owned)
        .collect();
    assert!(names.len() >= 9, "{names:?}");
    eventually(20, "the follower's first sync", || {
        String::from_utf8_lossy(&http_get(server.port, "/metrics").1)
            .contains("islet_mirror_last_success_timestamp_seconds{origin=")
    });
    let served = format!(
        "{}{}",
        String::from_utf8_lossy(&http_get(server.port, "/metrics").1),
        String::from_utf8_lossy(&http_get(b.port, "/metrics").1)
    );
    for name in &names {
        // A histogram's series are named after its family.
        let name = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix)
                    .filter(|family| served.contains(&format!("# TYPE {family} histogram")))
            })
            .unwrap_or(name);
        assert!(
            served.contains(&format!("# TYPE {name} ")),
            "the rules name {name}, which islet does not serve"
        );
    }
}

/// Writes `token` to `site`'s data directory as `name` (mode 0600).
fn token_file(site: &Site, name: &str, token: &str) {
    crate::pki::write_private(&site.data.join(name), format!("{token}\n").as_bytes());
}

/// A witness and a mirror that close their routes (`[auth] witness =
/// "token"`): a log without the token cannot start (its witness refuses
/// the probe with 401); with `[witness.tokens]` and `token_file` it is
/// cosigned and pushed as before, and a revoked token stops it again.
#[test]
fn a_witness_and_a_mirror_with_closed_routes_take_the_logs_token() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (init(tmp.path(), "site-a"), init(tmp.path(), "site-b"));
    let wb = make_witness(&b, &a);
    let b_mirror = pushes_to(&a, &b);
    append_config(&b, "[auth]\nwitness = \"token\"");
    let made = islet_ok(&[
        "token",
        "add",
        "--data",
        b.data.to_str().unwrap(),
        "site-a",
        "--scope",
        "witness",
    ]);
    let token = made.trim();
    std::fs::write(
        a.data.join("witness-policy.txt"),
        format!(
            "log {} http://127.0.0.1:{}\nwitness B {wb} http://127.0.0.1:{}/witness\nquorum B\n",
            a.vkey, a.port, b.port
        ),
    )
    .unwrap();
    append_config(
        &a,
        "[witness]\npolicy = \"witness-policy.txt\"\nmode = \"fail-closed\"",
    );
    let _b = start(&b);

    // No token: B answers 401, so A cannot show B its head and refuses.
    let err = refuses(&a);
    assert!(err.contains("401"), "{err}");

    // With the tokens: cosigned and pushed.
    token_file(&a, "b.token", token);
    let text = std::fs::read_to_string(a.data.join("islet.toml")).unwrap();
    let text = text.replacen(
        &format!("vkey = \"{b_mirror}\""),
        &format!("vkey = \"{b_mirror}\"\ntoken_file = \"b.token\""),
        1,
    );
    std::fs::write(a.data.join("islet.toml"), text).unwrap();
    append_config(&a, "[witness.tokens]\nB = \"b.token\"");
    let server = start(&a);
    let signer = Signer::new();
    let (status, json) = post_entry(server.port, &signer, "witnessed with a token");
    assert_eq!(status, 201, "{json}");
    assert!(
        Cosigner::from_vkey(&wb)
            .verify_in(&envelope(&json))
            .is_some(),
        "the 201's checkpoint carries B's cosignature: {json}"
    );
    let path = format!("/mirror/{}/checkpoint", origin_hash(&a.origin));
    eventually(30, "B's pushed mirror of A", || {
        let (status, body) = http_get(b.port, &path);
        status == 200 && size_of(&String::from_utf8_lossy(&body)) >= 1
    });

    // Revoked: the next checkpoint finds no quorum (fail-closed: 503).
    islet_ok(&[
        "token",
        "revoke",
        "--data",
        b.data.to_str().unwrap(),
        "site-a",
    ]);
    let (status, json) = post_entry(server.port, &signer, "after the revocation");
    assert_eq!(status, 503, "{json}");
    let (_, metrics) = http_get(b.port, "/metrics");
    assert!(
        String::from_utf8_lossy(&metrics)
            .contains("islet_auth_refusals_total{group=\"witness\",reason=\"revoked\"}"),
    );
}
