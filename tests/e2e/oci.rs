//! Snapshots as OCI artifacts with real parts: Debian's docker-registry,
//! the PyPI `oras` client, and OCI image layouts on disk.

use std::path::Path;

use crate::snapshot::{export_own, islet_json};
use crate::support::{Islet, Registry, islet, oras_python, write_entries};

fn vkey(data: &Path) -> String {
    crate::snapshot::log_key(data).to_vkey()
}

#[test]
fn a_snapshot_pushed_to_a_registry_is_the_file_oras_pulls_and_imports_again() {
    let oras = oras_python();
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let server = Islet::start(&a);
    write_entries(&server, "oci", 300);
    drop(server);
    let key = vkey(&a);
    let registry = Registry::start(&dir.path().join("registry"));
    let reference = format!("{}/islet/snapshots:log-300", registry.host);

    // Push; then the same export to a file, for comparison (exports are
    // reproducible).
    let pushed = islet_json(&[
        "snapshot",
        "export",
        "--data",
        a.to_str().unwrap(),
        "--push",
        &reference,
        "--plain-http",
        "--json",
    ]);
    assert!(
        pushed["published"].as_str().unwrap().contains("sha256:"),
        "{pushed}"
    );
    let local = dir.path().join("local.tar.zst");
    export_own(&a, &local);

    // Without --plain-http the registry is spoken to over HTTPS: refused.
    let out = islet(&[
        "snapshot",
        "export",
        "--data",
        a.to_str().unwrap(),
        "--push",
        &reference,
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // oras pulls the same file, under its title.
    let pulled_dir = dir.path().join("oras");
    std::fs::create_dir_all(&pulled_dir).unwrap();
    let script = format!(
        "import oras.client, sys\nc = oras.client.OrasClient(hostname='{}', insecure=True)\nfor f in c.pull(target='{reference}', outdir=sys.argv[1]):\n    print(f)\n",
        registry.host
    );
    let out = std::process::Command::new(&oras)
        .args(["-c", &script])
        .arg(&pulled_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "oras pull: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(
        files[0].ends_with("127.0.0.1-0-latest.tar.zst"),
        "{files:?}"
    );
    assert!(
        std::fs::read(&files[0]).unwrap() == std::fs::read(&local).unwrap(),
        "oras got another file than islet exported"
    );

    // islet pulls it and imports it.
    let b = dir.path().join("b");
    let imported = islet_json(&[
        "snapshot",
        "import",
        "--data",
        b.to_str().unwrap(),
        "--vkey",
        &key,
        "--pull",
        &reference,
        "--plain-http",
        "--json",
    ]);
    assert_eq!(imported["outcome"], "applied");
    assert_eq!(imported["to_size"], 300);
    // A reference that does not exist is an error, not a crash.
    let out = islet(&[
        "snapshot",
        "import",
        "--data",
        b.to_str().unwrap(),
        "--vkey",
        &key,
        "--pull",
        &format!("{}/islet/none:x", registry.host),
        "--plain-http",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("registry"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_oci_layout_round_trip_works_and_a_tampered_layer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let server = Islet::start(&a);
    write_entries(&server, "layout", 40);
    drop(server);
    let key = vkey(&a);
    let layout = dir.path().join("layout");
    let l = layout.to_str().unwrap();
    islet_json(&[
        "snapshot",
        "export",
        "--data",
        a.to_str().unwrap(),
        "--oci-layout",
        l,
        "--tag",
        "first",
        "--json",
    ]);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "first"
    );
    assert_eq!(
        std::fs::read_to_string(layout.join("oci-layout")).unwrap(),
        r#"{"imageLayoutVersion":"1.0.0"}"#
    );

    let b = dir.path().join("b");
    let imported = islet_json(&[
        "snapshot",
        "import",
        "--data",
        b.to_str().unwrap(),
        "--vkey",
        &key,
        "--oci-layout",
        l,
        "--tag",
        "first",
        "--json",
    ]);
    assert_eq!(
        (imported["outcome"].as_str(), imported["to_size"].as_u64()),
        (Some("applied"), Some(40))
    );
    let out = islet(&[
        "snapshot",
        "import",
        "--data",
        b.to_str().unwrap(),
        "--vkey",
        &key,
        "--oci-layout",
        l,
        "--tag",
        "second",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no manifest tagged \"second\""));

    // Flip one bit of the layer blob: refused before import reads it.
    let manifest_digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(layout.join("blobs/sha256").join(&manifest_digest)).unwrap(),
    )
    .unwrap();
    assert_eq!(
        manifest["artifactType"],
        "application/vnd.islet.snapshot.v1"
    );
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.islet.snapshot.v1.tar+zstd"
    );
    let layer = layout.join("blobs/sha256").join(
        manifest["layers"][0]["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:"),
    );
    let mut bytes = std::fs::read(&layer).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&layer, bytes).unwrap();
    let c = dir.path().join("c");
    let out = islet(&[
        "snapshot",
        "import",
        "--data",
        c.to_str().unwrap(),
        "--vkey",
        &key,
        "--oci-layout",
        l,
        "--tag",
        "first",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not match its digest"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
