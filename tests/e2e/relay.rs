//! The relay as operators run it: an upstream islet, a DMZ data directory
//! that is only a mirror (never `init`ed), the carry of full and
//! incremental snapshots, and an isolated site that imports them and
//! verifies sigstore-python bundles offline.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::{Islet, free_port, http_get, islet, write_entries};
use crate::verify::{SITE_POLICY, run, sigstore_bundles};

fn ok(args: &[&str]) -> String {
    let out = islet(args);
    assert!(
        out.status.success(),
        "islet {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(args)).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The upstream's verifier key, from its trusted root.
fn vkey_of(data: &Path) -> String {
    crate::snapshot::log_key(data).to_vkey()
}

/// The trusted root of the upstream with the site CA and CT log that
/// sigstore-python's certificates chain to.
fn trusted_root(upstream: &Path, ca_dir: &Path, out: &Path) -> PathBuf {
    let ctlog = format!(
        "https://ct.islet.test={}",
        ca_dir.join("ct.pub.pem").display()
    );
    let text = ok(&[
        "trust-root",
        "--data",
        s(upstream),
        "--ca",
        s(&ca_dir.join("ca.pem")),
        "--ctlog",
        &ctlog,
    ]);
    std::fs::write(out, text).unwrap();
    out.to_owned()
}

/// `islet verify` of `bundles` against the local log `log`: the exit code
/// and the output.
fn verify(root: &Path, bundles: &[PathBuf], log: &Path) -> (Option<i32>, String) {
    let mut args = vec!["verify", "--trusted-root", s(root), "--bundle"];
    args.extend(bundles.iter().map(|b| s(b)));
    args.extend_from_slice(&SITE_POLICY);
    args.extend_from_slice(&["--log", s(log)]);
    let (code, out, err) = run(&args);
    (code, format!("{out}{err}"))
}

fn mirror_size(data: &Path, origin: &str) -> u64 {
    let list = json(&["mirror", "list", "--data", s(data), "--json"]);
    list["mirrors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["origin"] == origin)
        .map_or(0, |m| m["size"].as_u64().unwrap())
}

#[test]
fn a_dmz_mirror_never_initialised_carries_full_and_incremental_snapshots_to_an_isolated_site() {
    let tmp = tempfile::tempdir().unwrap();
    let upstream = Islet::start(&tmp.path().join("upstream"));
    let origin = "127.0.0.1";
    let vkey = vkey_of(&upstream.data);
    write_entries(&upstream, "first", 5);
    let bundles_dir = tmp.path().join("bundles");
    std::fs::create_dir_all(&bundles_dir).unwrap();
    let first = sigstore_bundles(&upstream.data, &bundles_dir, 3, &bundles_dir);

    // The DMZ: sync over HTTP into a directory nobody initialised, then
    // export a full snapshot.
    let dmz = tmp.path().join("dmz");
    let api = format!("{}/api/v2", upstream.url);
    let sync = || {
        ok(&[
            "mirror",
            "sync",
            "--data",
            s(&dmz),
            "--upstream",
            &api,
            "--vkey",
            &vkey,
        ]);
    };
    sync();
    assert!(
        !dmz.join("islet.toml").exists(),
        "the DMZ was never initialised"
    );
    let carry = tmp.path().join("carry");
    std::fs::create_dir_all(&carry).unwrap();
    let n1 = mirror_size(&dmz, origin);
    assert_eq!(n1, 8, "5 entries and 3 bundles");
    let full = carry.join(format!("{origin}-0-{n1}.tar.zst"));
    let report = json(&[
        "snapshot",
        "export",
        "--data",
        s(&dmz),
        "--origin",
        origin,
        "-o",
        s(&full),
        "--json",
    ]);
    assert_eq!(report["to_size"], n1);

    // The upstream grows; the DMZ syncs and exports the increment.
    write_entries(&upstream, "second", 4);
    let later_dir = tmp.path().join("later");
    std::fs::create_dir_all(&later_dir).unwrap();
    let second = sigstore_bundles(&upstream.data, &later_dir, 2, &bundles_dir);
    sync();
    let n2 = mirror_size(&dmz, origin);
    assert_eq!(n2, n1 + 6);
    let inc = carry.join(format!("{origin}-{n1}-{n2}.tar.zst"));
    let report = json(&[
        "snapshot",
        "export",
        "--data",
        s(&dmz),
        "--origin",
        origin,
        "--from",
        &n1.to_string(),
        "-o",
        s(&inc),
        "--json",
    ]);
    assert_eq!(
        (report["from_size"].as_u64(), report["to_size"].as_u64()),
        (Some(n1), Some(n2))
    );

    // The DMZ lists, verifies and serves its mirror without an own log.
    let listed = json(&["mirror", "list", "--data", s(&dmz), "--json"]);
    assert_eq!(listed["mirrors"].as_array().unwrap().len(), 1, "{listed}");
    let root = trusted_root(&upstream.data, &bundles_dir, &tmp.path().join("root.json"));
    let all: Vec<PathBuf> = first.iter().chain(&second).cloned().collect();
    let (code, out) = verify(&root, &all, &dmz);
    assert_eq!(code, Some(0), "{out}");
    let served = Islet::start(&dmz);
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(origin.as_bytes()));
    let (status, body) = http_get(served.port, &format!("/mirror/{hash}/checkpoint"));
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).starts_with(&format!("{origin}\n{n2}\n")));
    let (status, body) = http_get(served.port, "/api/v2/checkpoint");
    assert_eq!(status, 404, "no own log");
    assert!(String::from_utf8_lossy(&body).contains("keeps no log of its own"));
    let (status, _) = http_get(served.port, "/healthz");
    assert_eq!(status, 200);
    drop(served);
    assert!(!dmz.join("islet.toml").exists(), "serving wrote no config");

    // The isolated site: both snapshots from one directory, in order.
    let site = tmp.path().join("site");
    let imported = json(&[
        "snapshot",
        "import",
        "--data",
        s(&site),
        "--vkey",
        &vkey,
        s(&carry),
        "--json",
    ]);
    let steps = imported["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{imported}");
    assert!(
        steps.iter().all(|st| st["step"] == "imported"),
        "{imported}"
    );
    assert_eq!(steps[0]["report"]["to_size"], n1);
    assert_eq!(steps[1]["report"]["to_size"], n2);
    let (code, out) = verify(&root, &all, &site);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out.matches("present in the local log").count(), 5, "{out}");
    // A second import of the same directory changes nothing.
    let again = json(&[
        "snapshot",
        "import",
        "--data",
        s(&site),
        "--vkey",
        &vkey,
        s(&carry),
        "--json",
    ]);
    assert!(
        again["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|st| st["step"] == "already_held"),
        "{again}"
    );
    // A site that only got the increment is told which range is missing,
    // and imports nothing.
    let gap_dir = tmp.path().join("gap");
    std::fs::create_dir_all(&gap_dir).unwrap();
    std::fs::copy(&inc, gap_dir.join(inc.file_name().unwrap())).unwrap();
    let other = tmp.path().join("other-site");
    let out = islet(&[
        "snapshot",
        "import",
        "--data",
        s(&other),
        "--vkey",
        &vkey,
        s(&gap_dir),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("holds 0 entries") && err.contains(&format!("starts at {n1}")),
        "{err}"
    );
    assert_eq!(mirror_size(&other, origin), 0);
}

/// Waits until `dir` holds a file named `name`.
fn wait_for_file(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} did not appear",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    path
}

fn metric(port: u16, line_start: &str) -> Option<u64> {
    let (_, body) = http_get(port, "/metrics");
    String::from_utf8_lossy(&body)
        .lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn a_mirror_only_host_follows_and_exports_on_its_schedule_and_the_site_imports_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let upstream = Islet::start(&tmp.path().join("upstream"));
    let origin = "127.0.0.1";
    let vkey = vkey_of(&upstream.data);
    write_entries(&upstream, "first", 7);

    let dmz = tmp.path().join("dmz");
    let port = free_port();
    ok(&[
        "init",
        "--data",
        s(&dmz),
        "--mirror-only",
        "--public-url",
        &format!("http://127.0.0.1:{port}"),
    ]);
    let config = std::fs::read_to_string(dmz.join("islet.toml")).unwrap();
    for own in ["origin =", "key =", "key_type =", "valid_from ="] {
        let top = config.split("\n[").next().unwrap();
        assert!(
            !top.lines().any(|l| l.starts_with(own)),
            "{own} in {config}"
        );
    }
    let carry = tmp.path().join("carry");
    let mut config = config;
    config.push_str(&format!(
        "\n[[mirror.upstream]]\nurl = \"{}/api/v2\"\nvkey = \"{vkey}\"\ninterval_secs = 1\n\n\
         [[export]]\norigin = \"{origin}\"\ndirectory = \"{}\"\ninterval_secs = 86400\nkeep = 2\n",
        upstream.url,
        carry.display()
    ));
    std::fs::write(dmz.join("islet.toml"), config).unwrap();
    // The first export runs at start; the mirror is synced first so that
    // it has something to export.
    ok(&[
        "mirror",
        "sync",
        "--data",
        s(&dmz),
        "--upstream",
        &format!("{}/api/v2", upstream.url),
        "--vkey",
        &vkey,
    ]);
    let mut dmz_server = Islet::start_on(&dmz, port);
    let full = wait_for_file(&carry, &format!("{origin}-0-7.tar.zst"));
    // The site takes this one now; the later ones come in the next carry.
    let site = tmp.path().join("site");
    ok(&[
        "snapshot",
        "import",
        "--data",
        s(&site),
        "--vkey",
        &vkey,
        s(&full),
    ]);
    let size_label = format!("islet_export_size{{origin=\"{origin}\"");
    let deadline = Instant::now() + Duration::from_secs(30);
    while metric(port, &size_label) != Some(7) {
        assert!(
            Instant::now() < deadline,
            "islet_export_size never reached 7"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        metric(
            port,
            &format!("islet_export_failures_total{{origin=\"{origin}\"")
        ),
        Some(0)
    );

    // The upstream grows; the follower catches up; at the next start the
    // export is the increment from where the last one ended.
    for (round, to) in [(1u64, 11u64), (2, 14)] {
        write_entries(
            &upstream,
            &format!("round {round}"),
            if round == 1 { 4 } else { 3 },
        );
        let mirror_label = format!("islet_mirror_size{{origin=\"{origin}\"}}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while metric(port, &mirror_label) != Some(to) {
            assert!(Instant::now() < deadline, "the follower never reached {to}");
            std::thread::sleep(Duration::from_millis(100));
        }
        dmz_server.restart();
        let from = if round == 1 { 7 } else { 11 };
        wait_for_file(&carry, &format!("{origin}-{from}-{to}.tar.zst"));
    }
    // keep = 2: the full snapshot made way for the two increments.
    let deadline = Instant::now() + Duration::from_secs(10);
    while carry.join(format!("{origin}-0-7.tar.zst")).exists() {
        assert!(Instant::now() < deadline, "keep = 2 was not applied");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(dmz_server);

    // The site, which imported the full snapshot, takes the directory.
    let imported = json(&[
        "snapshot",
        "import",
        "--data",
        s(&site),
        "--vkey",
        &vkey,
        s(&carry),
        "--json",
    ]);
    let steps = imported["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{imported}");
    assert_eq!(steps[1]["report"]["to_size"], 14, "{imported}");
    assert_eq!(mirror_size(&site, origin), 14);
    // The site serves what it imported (it never ran `init` either), and
    // the served copy checks out entry for entry.
    let served = Islet::start(&site);
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(origin.as_bytes()));
    let prefix = format!("{}/mirror/{hash}", served.url);
    let fsck = json(&["fsck", &prefix, "--vkey", &vkey, "--json"]);
    assert_eq!(fsck["size"], 14, "{fsck}");
}

#[test]
fn a_scheduled_export_to_a_registry_is_pulled_and_imported_at_the_site() {
    let tmp = tempfile::tempdir().unwrap();
    let upstream = Islet::start(&tmp.path().join("upstream"));
    let origin = "127.0.0.1";
    let vkey = vkey_of(&upstream.data);
    write_entries(&upstream, "oci", 9);
    let registry = crate::support::Registry::start(&tmp.path().join("registry"));
    let repository = format!("{}/carry/rekor", registry.host);

    // A DMZ that never ran init: the mirror synced, then islet.toml
    // written by hand with only the export.
    let dmz = tmp.path().join("dmz");
    let api = format!("{}/api/v2", upstream.url);
    ok(&[
        "mirror",
        "sync",
        "--data",
        s(&dmz),
        "--upstream",
        &api,
        "--vkey",
        &vkey,
    ]);
    let port = free_port();
    std::fs::write(
        dmz.join("islet.toml"),
        format!(
            "public_url = \"http://127.0.0.1:{port}\"\nlisten = \"127.0.0.1:{port}\"\n\n\
             [[export]]\norigin = \"{origin}\"\noci = \"{repository}\"\nplain_http = true\n\
             interval_secs = 3600\nmode = \"full\"\n"
        ),
    )
    .unwrap();
    let server = Islet::start_on(&dmz, port);
    let label = format!("islet_export_size{{origin=\"{origin}\"");
    let deadline = Instant::now() + Duration::from_secs(60);
    while metric(port, &label) != Some(9) {
        assert!(
            Instant::now() < deadline,
            "the scheduled export never reached the registry"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(server);

    // The site pulls the tag the export named <from>-<to>.
    let site = tmp.path().join("site");
    let imported = json(&[
        "snapshot",
        "import",
        "--data",
        s(&site),
        "--vkey",
        &vkey,
        "--pull",
        &format!("{repository}:0-9"),
        "--plain-http",
        "--json",
    ]);
    assert_eq!(imported["to_size"], 9, "{imported}");
    assert_eq!(mirror_size(&site, origin), 9);
}
