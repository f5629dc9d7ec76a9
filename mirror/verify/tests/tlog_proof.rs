//! `c2sp.org/tlog-proof@v1` files checked by `islet_verify::proof`: a
//! proof of an entry of a small tree cosigned by two witnesses under a
//! 2-of-2 policy, every single-bit change of the file and of the entry,
//! wrong policies, a missing and an extra cosignature, a log outside the
//! policy, an index past the size, `quorum none`, the single-key variant,
//! the limits, and the golden file of the C2SP vectors.
//!
//! Every fixture is made by hand (`handnote`): the tree's hashes, the
//! proof path, the checkpoint, the log signature and both cosignatures,
//! so the expected verdicts never come from the code under test.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod handnote;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use handnote::{HandKey, TYPE_COSIGNATURE, TYPE_ED25519, checkpoint_text, leaf, node};
use islet_verify::proof::{
    MAX_ENTRY_BYTES, MAX_PROOF_FILE_BYTES, log_key_from_vkey, verify_tlog_proof,
    verify_tlog_proof_with_key,
};
use islet_verify::witness::parse_policy;
use islet_verify::{Check, Failure, ProofVerdict, WitnessPolicy};
use serde_json::json;

const ORIGIN: &str = "log.example.net/islet";
const ENTRIES: [&[u8]; 5] = [b"entry 0", b"entry 1", b"entry 2", b"entry 3", b"entry 4"];
/// The entry the proof is for.
const INDEX: usize = 2;
const TS_B: u64 = 1_800_000_000;
const TS_C: u64 = 1_800_000_100;

struct Fixture {
    log: HandKey,
    b: HandKey,
    c: HandKey,
    /// The checkpoint text (size 5).
    text: String,
    /// The root of the five-entry tree.
    root: [u8; 32],
    /// The inclusion proof of entry 2, leaf sibling first.
    path: Vec<[u8; 32]>,
}

fn fixture() -> Fixture {
    let l: Vec<[u8; 32]> = ENTRIES.iter().map(|e| leaf(e)).collect();
    let n01 = node(&l[0], &l[1]);
    let n23 = node(&l[2], &l[3]);
    let root = node(&node(&n01, &n23), &l[4]);
    Fixture {
        log: HandKey::new(ORIGIN, [1; 32]),
        b: HandKey::new("witness-b.example/w", [2; 32]),
        c: HandKey::new("witness-c.example/w", [3; 32]),
        text: checkpoint_text(ORIGIN, 5, &root),
        root,
        path: vec![l[3], n01, l[4]],
    }
}

impl Fixture {
    /// The signed checkpoint: the text, a blank line, then `lines`.
    fn note(&self, lines: &[String]) -> String {
        format!("{}\n{}", self.text, lines.concat())
    }

    /// The checkpoint with the log signature and both cosignatures.
    fn cosigned(&self) -> String {
        self.note(&[
            self.log.log_line(&self.text),
            self.b.cosig_line(&self.text, TS_B),
            self.c.cosig_line(&self.text, TS_C),
        ])
    }

    /// A proof file for `index` with `path` and `note`.
    fn file_with(&self, index: u64, path: &[[u8; 32]], note: &str) -> Vec<u8> {
        let mut s = format!("c2sp.org/tlog-proof@v1\nindex {index}\n");
        for h in path {
            s.push_str(&STANDARD.encode(h));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(note);
        s.into_bytes()
    }

    /// The proof file of entry 2 with both cosignatures.
    fn file(&self) -> Vec<u8> {
        self.file_with(INDEX as u64, &self.path, &self.cosigned())
    }

    fn policy_text(&self, c_vkey: &str, rest: &str) -> String {
        format!(
            "# a 2-of-2 policy\nlog {}\nwitness B {} https://b.example/witness\nwitness C {c_vkey}\n{rest}",
            self.log.vkey(TYPE_ED25519),
            self.b.vkey(TYPE_COSIGNATURE),
        )
    }

    /// `group both all B C`, `quorum both`.
    fn policy(&self) -> WitnessPolicy {
        policy(&self.policy_text(
            &self.c.vkey(TYPE_COSIGNATURE),
            "group both all B C\nquorum both\n",
        ))
    }
}

fn policy(text: &str) -> WitnessPolicy {
    parse_policy(text.as_bytes()).expect("policy")
}

fn fails(r: Result<ProofVerdict, Failure>, check: Check, needles: &[&str]) -> String {
    let f = r.expect_err("must fail");
    assert_eq!(f.check, check, "{}", f.reason);
    for n in needles {
        assert!(f.reason.contains(n), "{:?} lacks {n:?}", f.reason);
    }
    f.reason
}

#[test]
fn the_fixture_agrees_with_islet_signer_and_the_memory_tree() {
    // Not the code under test, but the fixture's own check: the hand-made
    // lines are the ones islet's signers make (Ed25519 is deterministic),
    // and the hand-made proof is the one islet-tlog's tree gives.
    let f = fixture();
    let b = islet_signer::CosignatureV1Signer::from_seed(&f.b.name, &[2; 32]).unwrap();
    let raw = b.sign_at(&f.text, TS_B);
    let mut line = f.b.key_id(TYPE_COSIGNATURE).to_vec();
    line.extend_from_slice(&raw);
    assert_eq!(
        f.b.cosig_line(&f.text, TS_B),
        format!("\u{2014} {} {}\n", f.b.name, STANDARD.encode(line))
    );
    let mut tree = islet_tlog::merkle::MemoryTree::new();
    for e in ENTRIES {
        tree.append(e);
    }
    assert_eq!(tree.root(), f.root);
    let proof = islet_tlog::merkle::inclusion_proof(INDEX as u64, 5, &tree).unwrap();
    assert_eq!(proof, f.path);
}

#[test]
fn a_proof_cosigned_by_both_witnesses_passes_a_two_of_two_policy() {
    let f = fixture();
    let v = verify_tlog_proof(&f.file(), ENTRIES[INDEX], &f.policy()).expect("verifies");
    let expected = json!({
        "origin": ORIGIN,
        "index": 2,
        "size": 5,
        "root": hex::encode(f.root),
        "leaf_hash": hex::encode(leaf(ENTRIES[INDEX])),
        "log_key": format!("{ORIGIN}+{}", f.log.key_id_hex(TYPE_ED25519)),
        "quorum": "both",
        "quorum_met": true,
        "witnesses": [
            {
                "name": "B",
                "key_name": "witness-b.example/w",
                "key_id": f.b.key_id_hex(TYPE_COSIGNATURE),
                "cosigned": true,
                "timestamp": TS_B,
                "time": "2027-01-15T08:00:00Z",
            },
            {
                "name": "C",
                "key_name": "witness-c.example/w",
                "key_id": f.c.key_id_hex(TYPE_COSIGNATURE),
                "cosigned": true,
                "timestamp": TS_C,
                "time": "2027-01-15T08:01:40Z",
            },
        ],
        "ignored": [],
    });
    assert_eq!(serde_json::to_value(&v).unwrap(), expected);
}

#[test]
fn every_single_bit_change_of_the_proof_file_fails() {
    // No flip can matter-and-pass here: the header, the index and every
    // proof hash feed the inclusion check (canonical base64 leaves no
    // spare bits), the checkpoint text is signed, a changed name, key ID
    // or signature line drops or breaks a signature the 2-of-2 quorum or
    // the log needs, and the file carries no `extra` line and no
    // signature line the policy ignores. So none may pass.
    let f = fixture();
    let file = f.file();
    let policy = f.policy();
    let mut passed = Vec::new();
    let mut by_check = std::collections::BTreeMap::new();
    for i in 0..file.len() {
        for bit in 0..8 {
            let mut b = file.clone();
            b[i] ^= 1 << bit;
            match verify_tlog_proof(&b, ENTRIES[INDEX], &policy) {
                Ok(_) => passed.push((i, bit)),
                Err(e) => *by_check.entry(format!("{:?}", e.check)).or_insert(0) += 1,
            }
        }
    }
    eprintln!(
        "{} flips of a {}-byte file: {by_check:?}",
        file.len() * 8,
        file.len()
    );
    assert!(passed.is_empty(), "flips that passed: {passed:?}");
    // Every step of the verification caught some flip.
    for check in [
        "ProofFile",
        "Checkpoint",
        "WitnessPolicy",
        "Cosignature",
        "WitnessQuorum",
        "InclusionProof",
    ] {
        assert!(by_check.contains_key(check), "{check}: {by_check:?}");
    }
    assert_eq!(by_check.values().sum::<usize>(), file.len() * 8);
}

#[test]
fn every_single_bit_change_of_the_entry_fails_the_inclusion_proof() {
    let f = fixture();
    let (file, policy) = (f.file(), f.policy());
    let entry = ENTRIES[INDEX];
    for i in 0..entry.len() {
        for bit in 0..8 {
            let mut e = entry.to_vec();
            e[i] ^= 1 << bit;
            fails(
                verify_tlog_proof(&file, &e, &policy),
                Check::InclusionProof,
                &["index 2"],
            );
        }
    }
    // Another entry of the same tree, and the right entry with a shorter
    // or longer body, fail the same way.
    fails(
        verify_tlog_proof(&file, ENTRIES[3], &policy),
        Check::InclusionProof,
        &[],
    );
    fails(
        verify_tlog_proof(&file, b"entry 2\n", &policy),
        Check::InclusionProof,
        &[],
    );
}

#[test]
fn a_policy_with_another_key_for_a_witness_fails_the_quorum() {
    let f = fixture();
    // C under the same name with another key: C's line is then a line of
    // an unknown key (another key ID), ignored, and the quorum lacks C.
    let other = HandKey::new(&f.c.name, [9; 32]);
    let p = policy(&f.policy_text(
        &other.vkey(TYPE_COSIGNATURE),
        "group both all B C\nquorum both\n",
    ));
    let reason = fails(
        verify_tlog_proof(&f.file(), ENTRIES[INDEX], &p),
        Check::WitnessQuorum,
        &[
            "cosigned by B (witness-b.example/w+",
            "2027-01-15T08:00:00Z",
            "the quorum is group both, which has 1 of the 2 member(s) it needs: still needed 1 more of [C]",
        ],
    );
    assert!(!reason.contains("cosigned by B, C"), "{reason}");
}

#[test]
fn a_group_needing_a_witness_that_did_not_sign_fails() {
    let f = fixture();
    let d = HandKey::new("witness-d.example/w", [4; 32]);
    let rest = format!(
        "witness D {}\ngroup three all B C D\nquorum three\n",
        d.vkey(TYPE_COSIGNATURE)
    );
    let p = policy(&f.policy_text(&f.c.vkey(TYPE_COSIGNATURE), &rest));
    fails(
        verify_tlog_proof(&f.file(), ENTRIES[INDEX], &p),
        Check::WitnessQuorum,
        &["cosigned by B (", "C (", "still needed 1 more of [D]"],
    );
    // A nested group: "two of (B, any of (D, E))" with only B and C: the
    // inner group is described with what it still needs.
    let e = HandKey::new("witness-e.example/w", [5; 32]);
    let rest = format!(
        "witness D {}\nwitness E {}\ngroup de any D E\ngroup q 2 B de\nquorum q\n",
        d.vkey(TYPE_COSIGNATURE),
        e.vkey(TYPE_COSIGNATURE)
    );
    let p = policy(&f.policy_text(&f.c.vkey(TYPE_COSIGNATURE), &rest));
    fails(
        verify_tlog_proof(&f.file(), ENTRIES[INDEX], &p),
        Check::WitnessQuorum,
        &[
            "the quorum is group q, which has 1 of the 2 member(s) it needs: still needed 1 more of [group de (which has 0 of the 1 member(s) it needs: still needed 1 more of [D, E])]",
        ],
    );
    // The quorum a single witness that did not sign.
    let rest = format!("witness D {}\nquorum D\n", d.vkey(TYPE_COSIGNATURE));
    let p = policy(&f.policy_text(&f.c.vkey(TYPE_COSIGNATURE), &rest));
    fails(
        verify_tlog_proof(&f.file(), ENTRIES[INDEX], &p),
        Check::WitnessQuorum,
        &["the quorum is witness D, which still needs to cosign"],
    );
}

#[test]
fn a_missing_cosignature_fails_and_says_which() {
    let f = fixture();
    let note = f.note(&[f.log.log_line(&f.text), f.b.cosig_line(&f.text, TS_B)]);
    let file = f.file_with(2, &f.path, &note);
    fails(
        verify_tlog_proof(&file, ENTRIES[INDEX], &f.policy()),
        Check::WitnessQuorum,
        &["cosigned by B (", "still needed 1 more of [C]"],
    );
    // Both deleted.
    let file = f.file_with(2, &f.path, &f.note(&[f.log.log_line(&f.text)]));
    fails(
        verify_tlog_proof(&file, ENTRIES[INDEX], &f.policy()),
        Check::WitnessQuorum,
        &[
            "no witness of the policy cosigned it",
            "still needed 2 more of [B, C]",
        ],
    );
}

#[test]
fn an_extra_cosignature_from_an_unknown_witness_still_passes() {
    let f = fixture();
    let stranger = HandKey::new("stranger.example/w", [7; 32]);
    let note = f.note(&[
        f.log.log_line(&f.text),
        stranger.cosig_line(&f.text, 1),
        f.b.cosig_line(&f.text, TS_B),
        f.c.cosig_line(&f.text, TS_C),
    ]);
    let file = f.file_with(2, &f.path, &note);
    let v = verify_tlog_proof(&file, ENTRIES[INDEX], &f.policy()).expect("passes");
    assert!(v.quorum_met);
    assert_eq!(
        v.ignored,
        vec![format!(
            "stranger.example/w+{}",
            stranger.key_id_hex(TYPE_COSIGNATURE)
        )]
    );
    assert!(v.witnesses.iter().all(|w| w.cosigned));
    // Even a garbage signature under an unknown key is ignored.
    let mut raw = stranger.key_id(TYPE_COSIGNATURE).to_vec();
    raw.extend_from_slice(&[0u8; 72]);
    let junk = format!("\u{2014} stranger.example/w {}\n", STANDARD.encode(raw));
    let note = f.note(&[
        f.log.log_line(&f.text),
        f.b.cosig_line(&f.text, TS_B),
        junk,
        f.c.cosig_line(&f.text, TS_C),
    ]);
    verify_tlog_proof(&f.file_with(2, &f.path, &note), ENTRIES[INDEX], &f.policy())
        .expect("passes");
}

#[test]
fn a_forged_cosignature_by_a_policy_witness_rejects_the_checkpoint() {
    let f = fixture();
    // C's line with C's key ID and a signature by another key.
    let forger = HandKey::new(&f.c.name, [8; 32]);
    let forged = forger.cosig_line(&f.text, TS_C);
    let (prefix, b64) = forged.trim_end().rsplit_once(' ').unwrap();
    let mut raw = STANDARD.decode(b64).unwrap();
    raw[..4].copy_from_slice(&f.c.key_id(TYPE_COSIGNATURE));
    let line = format!("{prefix} {}\n", STANDARD.encode(raw));
    let note = f.note(&[f.log.log_line(&f.text), f.b.cosig_line(&f.text, TS_B), line]);
    // Even under `quorum B` (C's cosignature not needed), a bad line by a
    // policy key rejects the checkpoint.
    let p = policy(&f.policy_text(&f.c.vkey(TYPE_COSIGNATURE), "quorum B\n"));
    fails(
        verify_tlog_proof(&f.file_with(2, &f.path, &note), ENTRIES[INDEX], &p),
        Check::Cosignature,
        &["witness C (witness-c.example/w+", "does not verify"],
    );
}

#[test]
fn a_log_not_in_the_policy_fails() {
    let f = fixture();
    let other = HandKey::new("other.example/log", [6; 32]);
    let text = format!(
        "log {}\nwitness B {}\nwitness C {}\ngroup both all B C\nquorum both\n",
        other.vkey(TYPE_ED25519),
        f.b.vkey(TYPE_COSIGNATURE),
        f.c.vkey(TYPE_COSIGNATURE)
    );
    fails(
        verify_tlog_proof(&f.file(), ENTRIES[INDEX], &policy(&text)),
        Check::WitnessPolicy,
        &[
            "\"log.example.net/islet\" is not a log of the witness policy",
            "it lists other.example/log",
        ],
    );
    // The origin listed, but with another key: that key did not sign.
    let impostor = HandKey::new(ORIGIN, [6; 32]);
    let text = text.replace(&other.vkey(TYPE_ED25519), &impostor.vkey(TYPE_ED25519));
    fails(
        verify_tlog_proof(&f.file(), ENTRIES[INDEX], &policy(&text)),
        Check::WitnessPolicy,
        &[&format!(
            "key for {ORIGIN} ({ORIGIN}+{}) did not sign",
            impostor.key_id_hex(TYPE_ED25519)
        )],
    );
}

#[test]
fn an_index_at_or_past_the_size_fails() {
    let f = fixture();
    for index in [5u64, 6, 7, (1 << 62) - 1] {
        let file = f.file_with(index, &f.path, &f.cosigned());
        fails(
            verify_tlog_proof(&file, ENTRIES[INDEX], &f.policy()),
            Check::InclusionProof,
            &[&format!(
                "index {index} is not below the checkpoint's tree size 5"
            )],
        );
    }
    // Below the size but another index: the path does not lead to the root.
    let file = f.file_with(4, &f.path, &f.cosigned());
    fails(
        verify_tlog_proof(&file, ENTRIES[INDEX], &f.policy()),
        Check::InclusionProof,
        &["not at index 4"],
    );
}

#[test]
fn quorum_none_needs_no_cosignature_but_still_reports_them() {
    let f = fixture();
    let none = policy(&f.policy_text(&f.c.vkey(TYPE_COSIGNATURE), "quorum none\n"));
    let bare = f.file_with(2, &f.path, &f.note(&[f.log.log_line(&f.text)]));
    let v = verify_tlog_proof(&bare, ENTRIES[INDEX], &none).expect("no cosignature needed");
    assert_eq!((v.quorum.as_str(), v.quorum_met), ("none", true));
    assert!(
        v.witnesses
            .iter()
            .all(|w| !w.cosigned && w.timestamp.is_none())
    );
    let v = verify_tlog_proof(&f.file(), ENTRIES[INDEX], &none).expect("cosigned");
    assert_eq!(
        v.witnesses
            .iter()
            .map(|w| (w.name.as_str(), w.timestamp))
            .collect::<Vec<_>>(),
        vec![("B", Some(TS_B)), ("C", Some(TS_C))]
    );
    // A policy of one log and `quorum none`, with no witness at all.
    let only_log = policy(&format!("log {}\nquorum none\n", f.log.vkey(TYPE_ED25519)));
    let v = verify_tlog_proof(&f.file(), ENTRIES[INDEX], &only_log).expect("log only");
    assert!(v.witnesses.is_empty());
    assert_eq!(v.ignored.len(), 2);
    // `quorum none` does not excuse the log signature.
    let unsigned = f.file_with(2, &f.path, &f.note(&[f.b.cosig_line(&f.text, TS_B)]));
    fails(
        verify_tlog_proof(&unsigned, ENTRIES[INDEX], &none),
        Check::WitnessPolicy,
        &["did not sign"],
    );
}

#[test]
fn the_single_key_variant_checks_the_log_signature_only() {
    let f = fixture();
    let key = log_key_from_vkey(&f.log.vkey(TYPE_ED25519)).expect("log vkey");
    let v = verify_tlog_proof_with_key(&f.file(), ENTRIES[INDEX], &key).expect("verifies");
    assert_eq!(
        (
            v.origin.as_str(),
            v.index,
            v.size,
            v.quorum.as_str(),
            v.quorum_met
        ),
        (ORIGIN, 2, 5, "none", true)
    );
    assert!(v.witnesses.is_empty());
    assert_eq!(
        v.ignored,
        vec![
            format!("{}+{}", f.b.name, f.b.key_id_hex(TYPE_COSIGNATURE)),
            format!("{}+{}", f.c.name, f.c.key_id_hex(TYPE_COSIGNATURE)),
        ]
    );
    // Another log key.
    let other = log_key_from_vkey(&HandKey::new(ORIGIN, [6; 32]).vkey(TYPE_ED25519)).unwrap();
    fails(
        verify_tlog_proof_with_key(&f.file(), ENTRIES[INDEX], &other),
        Check::WitnessPolicy,
        &["did not sign"],
    );
    // A key with another name: the origin is not its log.
    let renamed =
        log_key_from_vkey(&HandKey::new("x.example/log", [1; 32]).vkey(TYPE_ED25519)).unwrap();
    fails(
        verify_tlog_proof_with_key(&f.file(), ENTRIES[INDEX], &renamed),
        Check::WitnessPolicy,
        &["not a log of the witness policy"],
    );
    // A witness key is not a log key; a malformed vkey says why.
    fails(
        log_key_from_vkey(&f.b.vkey(TYPE_COSIGNATURE)).map(|_| unreachable!()),
        Check::WitnessPolicy,
        &["cosignature/v1 (witness) key, not a log key"],
    );
    fails(
        log_key_from_vkey("log.example+0000+AQ==").map(|_| unreachable!()),
        Check::WitnessPolicy,
        &["the log vkey: malformed verifier key"],
    );
}

#[test]
fn malformed_files_and_policies_name_their_step() {
    let f = fixture();
    let p = f.policy();
    for (file, needle) in [
        (b"".to_vec(), "no empty line"),
        (
            b"c2sp.org/tlog-proof@v2\nindex 2\n\nx".to_vec(),
            "first line",
        ),
        (
            f.file_with(2, &f.path, &f.cosigned())
                .iter()
                .map(|&b| if b == b'\n' { b'\r' } else { b })
                .collect(),
            "no empty line",
        ),
    ] {
        fails(
            verify_tlog_proof(&file, ENTRIES[INDEX], &p),
            Check::ProofFile,
            &[needle],
        );
    }
    // A checkpoint that is not a signed note.
    let file = f.file_with(2, &f.path, &f.text);
    fails(
        verify_tlog_proof(&file, ENTRIES[INDEX], &p),
        Check::Checkpoint,
        &["the proof's checkpoint: malformed note"],
    );
    // A bad log signature.
    let mut bad = f.log.log_line(&f.text).into_bytes();
    let at = bad.len() - 10;
    bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
    let note = f.note(&[
        String::from_utf8(bad).unwrap(),
        f.b.cosig_line(&f.text, TS_B),
        f.c.cosig_line(&f.text, TS_C),
    ]);
    fails(
        verify_tlog_proof(&f.file_with(2, &f.path, &note), ENTRIES[INDEX], &p),
        Check::Checkpoint,
        &[
            "the log signature by log.example.net/islet+",
            "does not verify",
        ],
    );
    // Policies that do not parse.
    let e = parse_policy(b"log x\nquorum none\n").expect_err("bad vkey");
    assert_eq!(e.check, Check::WitnessPolicy, "{}", e.reason);
    assert!(e.reason.contains("policy line 1"), "{}", e.reason);
    let e = parse_policy(b"").expect_err("no quorum");
    assert!(e.reason.contains("no quorum line"), "{}", e.reason);
}

#[test]
fn the_entry_limit_at_and_one_past() {
    let f = fixture();
    let at = vec![b'x'; MAX_ENTRY_BYTES];
    // At the limit the entry is hashed and checked (and is not entry 2).
    fails(
        verify_tlog_proof(&f.file(), &at, &f.policy()),
        Check::InclusionProof,
        &[],
    );
    let past = vec![b'x'; MAX_ENTRY_BYTES + 1];
    fails(
        verify_tlog_proof(&f.file(), &past, &f.policy()),
        Check::ProofEntry,
        &[&format!(
            "{} bytes, over the {MAX_ENTRY_BYTES}-byte limit",
            MAX_ENTRY_BYTES + 1
        )],
    );
    assert_eq!(MAX_ENTRY_BYTES, 65_535);
}

#[test]
fn the_file_limit_at_and_one_past() {
    let f = fixture();
    // Padded with LFs after the note to exactly the limit, the file
    // passes the file's size check and is refused further on (the note is
    // then over its own limit); one byte more and the file's limit speaks.
    let mut at = f.file();
    at.resize(MAX_PROOF_FILE_BYTES, b'\n');
    let reason = fails(
        verify_tlog_proof(&at, ENTRIES[INDEX], &f.policy()),
        Check::Checkpoint,
        &[],
    );
    assert!(
        !reason.contains(&format!("{MAX_PROOF_FILE_BYTES}-byte")),
        "{reason}"
    );
    let mut past = f.file();
    past.resize(MAX_PROOF_FILE_BYTES + 1, b'\n');
    fails(
        verify_tlog_proof(&past, ENTRIES[INDEX], &f.policy()),
        Check::ProofFile,
        &[&format!("{MAX_PROOF_FILE_BYTES}-byte limit")],
    );
}

#[test]
fn the_policy_limit_at_and_one_past() {
    use islet_verify::witness::MAX_POLICY_BYTES;
    let f = fixture();
    let base = f.policy_text(
        &f.c.vkey(TYPE_COSIGNATURE),
        "group both all B C\nquorum both\n",
    );
    // Padded to exactly the limit with a comment line.
    let pad = MAX_POLICY_BYTES - base.len() - 2;
    let at = format!("{base}#{}\n", "x".repeat(pad));
    assert_eq!(at.len(), MAX_POLICY_BYTES);
    let p = parse_policy(at.as_bytes()).expect("at the limit");
    verify_tlog_proof(&f.file(), ENTRIES[INDEX], &p).expect("verifies");
    let past = format!("{base}#{}\n", "x".repeat(pad + 1));
    let e = parse_policy(past.as_bytes()).expect_err("one past");
    assert_eq!(e.check, Check::WitnessPolicy, "{}", e.reason);
    assert!(
        e.reason.contains(&format!(
            "{} bytes, over the {MAX_POLICY_BYTES}-byte limit",
            MAX_POLICY_BYTES + 1
        )),
        "{}",
        e.reason
    );
}
