//! The timestamp authority's files in a data directory: issued by `islet
//! init`, issued on the first start of a data directory made without them,
//! never half there.

#![allow(missing_docs, clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;

use islet_store::Error;
use islet_store::datadir::{DataDir, InitOptions};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_issues_a_tsa_key_and_a_chain_that_openssl_reads_as_a_timestamping_leaf() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::new(tmp.path().join("d"));
    data.init(&InitOptions::default()).unwrap();
    let key = data.root().join("keys/tsa.pem");
    let chain = data.root().join("keys/tsa-chain.pem");
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(&chain), 0o644);
    let cfg = data.load_config().unwrap().validate().unwrap();
    let (key_pem, chain_pem) = data.load_tsa(&cfg).unwrap().expect("the TSA is on");
    assert!(String::from_utf8(key_pem).unwrap().contains("PRIVATE KEY"));
    assert_eq!(
        String::from_utf8_lossy(&chain_pem)
            .matches("BEGIN CERTIFICATE")
            .count(),
        2
    );
    // The leaf, read by OpenSSL: a critical timeStamping EKU and no CA.
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(&chain)
        .output()
        .expect("openssl is installed (.ci/run installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("X509v3 Extended Key Usage: critical") && text.contains("Time Stamping"),
        "{text}"
    );
    assert!(text.contains("ASN1 OID: secp384r1"), "a P-384 key: {text}");
}

#[test]
fn init_without_a_tsa_issues_nothing_and_the_config_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::new(tmp.path().join("d"));
    data.init(&InitOptions {
        tsa: false,
        ..InitOptions::default()
    })
    .unwrap();
    assert!(!data.root().join("keys/tsa.pem").exists());
    let cfg = data.load_config().unwrap().validate().unwrap();
    assert!(cfg.tsa.is_none());
    assert!(data.load_tsa(&cfg).unwrap().is_none());
}

#[test]
fn a_data_directory_without_tsa_files_gets_them_and_half_a_pair_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::new(tmp.path().join("d"));
    data.init(&InitOptions::default()).unwrap();
    let key = data.root().join("keys/tsa.pem");
    let chain = data.root().join("keys/tsa-chain.pem");
    // As a data directory made before islet had a TSA.
    std::fs::remove_file(&key).unwrap();
    std::fs::remove_file(&chain).unwrap();
    let cfg = data.load_config().unwrap().validate().unwrap();
    assert!(data.load_tsa(&cfg).unwrap().is_some());
    assert!(key.exists() && chain.exists());
    // A key whose chain went missing is not silently replaced.
    std::fs::remove_file(&chain).unwrap();
    let e = data.load_tsa(&cfg).unwrap_err();
    assert!(
        matches!(&e, Error::Config { reason } if reason.contains("tsa-chain.pem") && reason.contains("does not")),
        "{e:?}"
    );
    // A key readable by others is refused, as the log key is.
    std::fs::remove_file(&key).unwrap();
    data.load_tsa(&cfg).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = data.load_tsa(&cfg).unwrap_err();
    assert!(
        matches!(&e, Error::Config { reason } if reason.contains("chmod 600")),
        "{e:?}"
    );
}
