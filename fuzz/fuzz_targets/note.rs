//! Signed notes: parsing and opening never panic; a parsed note re-encodes
//! to the same bytes; opening with a fixed key agrees with parsing.
#![no_main]

use std::sync::OnceLock;

use islet_tlog::note::{Note, NoteSigner, NoteVerifier, open};
use islet_signer::Ed25519Signer;
use libfuzzer_sys::fuzz_target;

fn verifiers() -> &'static [NoteVerifier] {
    static V: OnceLock<Vec<NoteVerifier>> = OnceLock::new();
    V.get_or_init(|| {
        let s = Ed25519Signer::from_seed("fuzz.example", &[7; 32]).expect("signer");
        vec![s.verifier()]
    })
}

fuzz_target!(|data: &[u8]| {
    let parsed = Note::parse(data);
    if let Ok(n) = &parsed {
        assert_eq!(n.to_bytes(), data);
    }
    let opened = open(data, verifiers());
    if opened.is_ok() {
        assert!(parsed.is_ok());
    }
});
