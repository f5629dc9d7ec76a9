//! What stops `islet serve` from starting its witness: a witness key that
//! is the mirror or the log key, a note key file of another name.

#![allow(missing_docs, clippy::unwrap_used)]

use islet_server::{Error, prepare};
use islet_store::datadir::{DataDir, InitOptions};

fn replace(path: &std::path::Path, data: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, data).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A witness cosigns as an identity of its own: its key may be neither the
/// mirror key nor the log key, and a note key file must name the witness.
#[test]
fn a_witness_key_shared_with_another_role_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::new(tmp.path().join("d"));
    data.init(&InitOptions {
        tsa: false,
        ..InitOptions::default()
    })
    .unwrap();
    let (log_signer, _) = islet_signer::Ed25519Signer::generate("a.example").unwrap();
    let log_vkey = islet_tlog::note::NoteSigner::verifier(&log_signer).to_vkey();
    let configure = |key: &str| {
        let mut raw = data.load_config().unwrap();
        raw.witness_service.key = key.into();
        raw.witness_service.logs = vec![islet_store::config::RawWitnessedLog {
            vkey: log_vkey.clone(),
            origin: None,
        }];
        raw.validate().unwrap()
    };
    for (key, role) in [("keys/mirror.pem", "mirror"), ("keys/log.pem", "log")] {
        // The mirror key exists once the mirror signer was loaded.
        let cfg = configure("keys/mirror.pem");
        data.load_mirror_signer(&cfg).unwrap();
        let e = prepare(&data, configure(key)).unwrap_err();
        assert!(
            matches!(&e, Error::Store(islet_store::Error::Config { reason }) | Error::Config { reason }
                if reason.contains(&format!("is the {role} key"))),
            "{role}: {e:?}"
        );
    }
    // A note key of another name.
    let skey =
        "PRIVATE+KEY+witness.example/w1+0f6ff760+BDFp9+JRuwV5bsRQJ0AGcoo9Gegm92zugJNx4++A3Ec0";
    replace(&data.root().join("keys/other.key"), skey.as_bytes());
    let e = prepare(&data, configure("keys/other.key")).unwrap_err();
    assert!(format!("{e}").contains("but the witness name is"), "{e}");
}
