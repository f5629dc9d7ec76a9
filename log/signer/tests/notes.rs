//! Signing and verifying notes round trip, and the note limits hold for
//! signed notes.

use islet_signer::{EcdsaP256Signer, Ed25519Signer};
use islet_tlog::error::Error;
use islet_tlog::note::{
    MAX_NOTE_SIGNATURES, MAX_NOTE_SIZE, Note, NoteSigner, NoteVerifier, open, sign_note,
};

#[test]
fn signed_note_round_trips_through_open() {
    let s = Ed25519Signer::from_seed("example.com/log", &[7; 32]).expect("signer");
    let note = sign_note("hello\n", &[&s]).expect("sign");
    let opened = open(&note, &[s.verifier()]).expect("open");
    assert_eq!(opened.note.text, "hello\n");
    assert_eq!(opened.verified.len(), 1);
}

#[test]
fn ecdsa_signature_verifies_and_vkey_round_trips() {
    let (s, _) = EcdsaP256Signer::generate("ecdsa.example").expect("generate");
    let note = sign_note("hello\n", &[&s]).expect("sign");
    let v = NoteVerifier::from_vkey(&s.verifier().to_vkey()).expect("vkey");
    assert_eq!(v, s.verifier());
    open(&note, &[v]).expect("open");
}

#[test]
fn note_at_the_size_limit_parses_and_one_byte_more_does_not() {
    let s = Ed25519Signer::from_seed("k", &[1; 32]).expect("signer");
    let sig_len = sign_note("x\n", &[&s]).expect("sign").len() - 2;
    let filler = "a".repeat(MAX_NOTE_SIZE - sig_len - 1);
    let at_limit = sign_note(&format!("{filler}\n"), &[&s]).expect("sign");
    assert_eq!(at_limit.len(), MAX_NOTE_SIZE);
    open(&at_limit, &[s.verifier()]).expect("at the limit");
    let over = sign_note(&format!("{filler}a\n"), &[&s]).expect("sign");
    assert!(matches!(
        open(&over, &[s.verifier()]),
        Err(Error::MalformedNote { .. })
    ));
}

#[test]
fn note_with_the_maximum_signature_count_parses_and_one_more_does_not() {
    let signers: Vec<Ed25519Signer> = (0..=MAX_NOTE_SIGNATURES)
        .map(|i| {
            Ed25519Signer::from_seed(&format!("k{i}"), &[i.to_le_bytes()[0]; 32]).expect("signer")
        })
        .collect();
    let refs: Vec<&dyn NoteSigner> = signers.iter().map(|s| s as &dyn NoteSigner).collect();
    let max = sign_note("t\n", &refs[..MAX_NOTE_SIGNATURES]).expect("sign");
    assert!(Note::parse(&max).is_ok());
    let over = sign_note("t\n", &refs).expect("sign");
    assert!(matches!(
        Note::parse(&over),
        Err(Error::MalformedNote { .. })
    ));
}
