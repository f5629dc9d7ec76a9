//! What stops `islet serve` from starting its timestamp authority: a TSA
//! key that is the log key, a chain that is not the key's; and what it
//! writes for clients when it starts.

#![allow(missing_docs, clippy::unwrap_used)]

use islet_server::{Error, prepare};
use islet_store::config::KeyType;
use islet_store::datadir::{DataDir, InitOptions};

fn issue(key_type: islet_tsa::TsaKeyType) -> islet_tsa::IssuedChain {
    islet_tsa::issue_chain(&islet_tsa::ChainParams {
        organization: "tsa.example".into(),
        common_name: "tsa.example timestamp authority".into(),
        not_before: std::time::SystemTime::now(),
        validity: std::time::Duration::from_secs(86_400),
        key_type,
    })
    .unwrap()
}

fn replace(path: &std::path::Path, data: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, data).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn a_tsa_whose_key_is_the_log_key_is_refused_before_the_store_opens() {
    let tmp = tempfile::tempdir().unwrap();
    // An ECDSA P-256 chain whose key then becomes the log key too.
    let issued = issue(islet_tsa::TsaKeyType::P256);
    let key_file = tmp.path().join("shared.pem");
    replace(&key_file, issued.key_pem.as_bytes());
    let data = DataDir::new(tmp.path().join("d"));
    data.init(&InitOptions {
        key_type: KeyType::EcdsaP256,
        key_file: Some(key_file),
        ..InitOptions::default()
    })
    .unwrap();
    replace(&data.root().join("keys/tsa.pem"), issued.key_pem.as_bytes());
    replace(
        &data.root().join("keys/tsa-chain.pem"),
        issued.chain_pem.as_bytes(),
    );
    let config = data.load_config().unwrap().validate().unwrap();
    let e = prepare(&data, config).unwrap_err();
    assert!(
        matches!(&e, Error::Config { reason } if reason.contains("is the log key")),
        "{e:?}"
    );
    assert!(!data.db_path().exists(), "refused before the store is made");
}

#[test]
fn a_chain_that_is_not_the_keys_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::new(tmp.path().join("d"));
    data.init(&InitOptions::default()).unwrap();
    let other = issue(islet_tsa::TsaKeyType::P384);
    replace(
        &data.root().join("keys/tsa-chain.pem"),
        other.chain_pem.as_bytes(),
    );
    let config = data.load_config().unwrap().validate().unwrap();
    let e = prepare(&data, config).unwrap_err();
    assert!(
        matches!(&e, Error::Config { reason } if reason.starts_with("tsa: ")),
        "{e:?}"
    );
}

#[test]
fn a_started_tsa_is_in_the_trust_material_it_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::new(tmp.path().join("d"));
    data.init(&InitOptions::default()).unwrap();
    let config = data.load_config().unwrap().validate().unwrap();
    let prepared = prepare(&data, config).unwrap();
    let root: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.trusted_root_path()).unwrap()).unwrap();
    let tsa = &root["timestampAuthorities"][0];
    assert_eq!(tsa["uri"], "http://127.0.0.1:3000/api/v1/timestamp");
    assert_eq!(
        tsa["certChain"]["certificates"].as_array().unwrap().len(),
        2
    );
    let chain = std::fs::read_to_string(data.root().join("keys/tsa-chain.pem")).unwrap();
    let first = pem::parse(chain.as_bytes()).unwrap();
    assert_eq!(
        tsa["certChain"]["certificates"][0]["rawBytes"],
        islet_rekor::request::encode_base64(first.contents()),
        "the leaf first, as in the chain file"
    );
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.client_trust_config_path()).unwrap()).unwrap();
    assert_eq!(
        config["signingConfig"]["tsaUrls"][0]["url"],
        "http://127.0.0.1:3000/api/v1/timestamp"
    );
    assert!(prepared.state.tsa.is_some());
    drop(prepared);
}
