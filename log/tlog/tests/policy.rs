//! tlog-policy: parsing (every error class, every limit at the limit and one
//! past), quorum evaluation over nested groups, and the check of signed
//! checkpoints whose cosignatures are made here by islet-signer (and one
//! taken from the C2SP cosignature vectors).

use std::collections::HashSet;

use islet_signer::{CosignatureV1Signer, Ed25519Signer};
use islet_tlog::Error;
use islet_tlog::checkpoint::Checkpoint;
use islet_tlog::note::{Note, NoteSignature, NoteSigner};
use islet_tlog::policy::{
    MAX_GROUP_DEPTH, MAX_GROUP_MEMBERS, MAX_GROUPS, MAX_LOGS, MAX_POLICY_BYTES, MAX_WITNESSES,
    Member, Policy, Quorum, Threshold,
};
use serde_json::Value;

const ORIGIN: &str = "example.com/log";
const TS: u64 = 1_700_000_000;

fn log_signer() -> Ed25519Signer {
    Ed25519Signer::from_seed(ORIGIN, &[7; 32]).expect("log key")
}

fn witness(i: usize) -> CosignatureV1Signer {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
    CosignatureV1Signer::from_seed(&format!("witness{i}.example"), &seed).expect("witness key")
}

fn wvkey(i: usize) -> String {
    witness(i).verifier().to_vkey()
}

fn lvkey() -> String {
    log_signer().verifier().to_vkey()
}

fn parse(text: &str) -> Result<Policy, Error> {
    Policy::parse(text.as_bytes())
}

fn names(list: &[&str]) -> HashSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// The policy of the tlog-policy example: X-witnesses (2 of 3), Y-witnesses
/// (any of 3), quorum both groups.
fn nested() -> Policy {
    let text = format!(
        "# two-level quorum\n\
         log {log}\n\
         witness X1 {x1}\n\
         witness X2 {x2}\n\
         witness X3 {x3}\n\
         group X-witnesses 2 X1 X2 X3\n\
         \n\
         witness Y1 {y1}\n\
         witness Y2 {y2}\n\
         witness Y3 {y3}\n\
         group Y-witnesses any Y1 Y2 Y3\n\
         \n\
         group X-and-Y all X-witnesses Y-witnesses\n\
         quorum X-and-Y\n",
        log = lvkey(),
        x1 = wvkey(1),
        x2 = wvkey(2),
        x3 = wvkey(3),
        y1 = wvkey(4),
        y2 = wvkey(5),
        y3 = wvkey(6),
    );
    parse(&text).expect("nested policy")
}

fn checkpoint_text() -> String {
    Checkpoint {
        origin: ORIGIN.into(),
        size: 8,
        root: [0x5a; 32],
        extensions: vec![],
    }
    .to_text()
}

/// The checkpoint signed by the log, then cosigned by each given witness at
/// `TS`.
fn cosigned_note(witnesses: &[usize]) -> Vec<u8> {
    let text = checkpoint_text();
    let log = log_signer();
    let mut note =
        Note::parse(&islet_tlog::note::sign_note(&text, &[&log]).expect("sign")).expect("own note");
    for &i in witnesses {
        let w = witness(i);
        note.signatures.push(NoteSignature {
            name: w.name().to_owned(),
            key_id: w.key_id(),
            signature: w.sign_at(&text, TS + i as u64),
        });
    }
    note.to_bytes()
}

// ---- parsing ---------------------------------------------------------------

#[test]
fn parses_every_line_kind_with_urls_blanks_tabs_and_comments() {
    let text = format!(
        "  # comment with leading blanks\n\
         \t\n\
         log\t{log}   https://log.example/\n\
         witness w1 {w1} https://w1.example/prefix\n\
         \twitness w2   {w2}  \n\
         group g 1 w1 w2\n\
         quorum g",
        log = lvkey(),
        w1 = wvkey(1),
        w2 = wvkey(2),
    );
    let p = parse(&text).expect("policy");
    assert_eq!(p.logs().len(), 1);
    assert_eq!(p.logs()[0].verifier.name(), ORIGIN);
    assert_eq!(p.logs()[0].url.as_deref(), Some("https://log.example/"));
    assert_eq!(p.logs()[0].line, 3);
    assert_eq!(p.witnesses()[0].name, "w1");
    assert_eq!(
        p.witnesses()[0].url.as_deref(),
        Some("https://w1.example/prefix")
    );
    assert_eq!(p.witnesses()[1].url, None);
    assert_eq!(p.witnesses()[1].verifier, witness(2).verifier());
    assert_eq!(p.groups()[0].threshold, Threshold::AtLeast(1));
    assert_eq!(
        p.groups()[0].members,
        vec![Member::Witness(0), Member::Witness(1)]
    );
    assert_eq!(p.quorum(), Quorum::Group(0));
    assert!(p.log(ORIGIN).is_some());
    assert!(p.log("other.example/log").is_none());
}

#[test]
fn quorum_none_allows_an_empty_witness_set() {
    let p = parse("quorum none\n").expect("policy");
    assert_eq!(p.quorum(), Quorum::None);
    assert!(p.satisfied_by(&HashSet::new()));
}

#[test]
fn unknown_keyword_is_refused_with_its_line() {
    let err = parse("\n# c\nquorum none\nwitnes w1 x\n").expect_err("keyword");
    assert!(
        matches!(err, Error::PolicyUnknownKeyword { line: 4, ref keyword } if keyword == "witnes"),
        "{err}"
    );
}

#[test]
fn wrong_field_counts_are_syntax_errors() {
    let w = wvkey(1);
    for (text, line) in [
        ("log\nquorum none\n".to_owned(), 1),
        (format!("log {} url extra\nquorum none\n", lvkey()), 1),
        ("witness w1\nquorum none\n".to_owned(), 1),
        (format!("witness w1 {w} url extra\nquorum none\n"), 1),
        (format!("witness w1 {w}\ngroup g any\nquorum none\n"), 2),
        (format!("witness w1 {w}\ngroup g\nquorum none\n"), 2),
        ("quorum\n".to_owned(), 1),
        (format!("witness w1 {w}\nquorum w1 w1\n"), 2),
    ] {
        let err = parse(&text).expect_err(&text);
        assert!(
            matches!(err, Error::PolicySyntax { line: l, .. } if l == line),
            "{text:?}: {err}"
        );
    }
}

#[test]
fn forbidden_bytes_non_utf8_and_inline_comments_are_syntax_errors() {
    for (bytes, line) in [
        (b"quorum none\r\n".to_vec(), 1),
        (b"quorum none\n\x00\n".to_vec(), 2),
        (b"quorum none\n\x7f\n".to_vec(), 2),
        (b"quorum none\nwitness w\xff x\n".to_vec(), 2),
        (b"quorum none # inline\n".to_vec(), 1),
        (b"quorum none\nlog a#b\n".to_vec(), 2),
    ] {
        let err = Policy::parse(&bytes).expect_err("byte rule");
        assert!(
            matches!(err, Error::PolicySyntax { line: l, .. } if l == line),
            "{bytes:?}: {err}"
        );
    }
    // High-bit bytes in a comment are opaque; a UTF-8 name is fine.
    Policy::parse(b"# caf\xe9 (Latin-1)\nquorum none\n").expect("opaque comment");
    let p = parse(&format!("witness wé {}\nquorum wé\n", wvkey(1))).expect("utf-8 name");
    assert!(p.satisfied_by(&names(&["wé"])));
}

#[test]
fn none_is_reserved_as_a_name_and_as_a_member() {
    let err = parse(&format!("witness none {}\nquorum none\n", wvkey(1))).expect_err("name");
    assert!(matches!(err, Error::PolicySyntax { line: 1, .. }), "{err}");
    let err = parse(&format!(
        "witness w1 {}\ngroup g any w1 none\nquorum g\n",
        wvkey(1)
    ))
    .expect_err("member");
    assert!(matches!(err, Error::PolicySyntax { line: 2, .. }), "{err}");
}

#[test]
fn bad_keys_and_wrong_key_types_are_key_errors() {
    let log = lvkey();
    let w = wvkey(1);
    let mut tampered_id = w.clone();
    // Flip the first hex digit of the key ID.
    let at = tampered_id.find('+').expect("plus") + 1;
    let c = if tampered_id.as_bytes()[at] == b'0' {
        "1"
    } else {
        "0"
    };
    tampered_id.replace_range(at..=at, c);
    for (text, line) in [
        ("log not-a-vkey\nquorum none\n".to_owned(), 1),
        (format!("log {w}\nquorum none\n"), 1),
        (format!("witness w1 {log}\nquorum none\n"), 1),
        (format!("quorum none\nwitness w1 {tampered_id}\n"), 2),
    ] {
        let err = parse(&text).expect_err(&text);
        assert!(
            matches!(err, Error::PolicyKey { line: l, .. } if l == line),
            "{text:?}: {err}"
        );
    }
}

#[test]
fn the_vector_key_as_an_ed25519_vkey_is_not_a_witness_key() {
    let v = cosignature_vectors();
    let vkey = v["ed25519_negative"][0]["vkey"].as_str().expect("vkey");
    let err = parse(&format!("witness w1 {vkey}\nquorum w1\n")).expect_err("type 0x01");
    assert!(matches!(err, Error::PolicyKey { line: 1, .. }), "{err}");
}

#[test]
fn duplicate_names_are_refused_across_witnesses_and_groups() {
    let err = parse(&format!(
        "witness w1 {}\nwitness w1 {}\nquorum none\n",
        wvkey(1),
        wvkey(2)
    ))
    .expect_err("dup witness");
    assert!(
        matches!(err, Error::PolicyDuplicateName { line: 2, first_line: 1, ref name } if name == "w1"),
        "{err}"
    );
    let err = parse(&format!(
        "witness w1 {}\ngroup w1 any w1\nquorum none\n",
        wvkey(1)
    ))
    .expect_err("group named like a witness");
    assert!(
        matches!(
            err,
            Error::PolicyDuplicateName {
                line: 2,
                first_line: 1,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn the_same_public_key_twice_is_refused_whatever_its_name() {
    let w = witness(1);
    let PublicKeyBytes(raw) = public_key_bytes(&w);
    let renamed = islet_tlog::note::NoteVerifier::new(
        "another.name/w",
        islet_tlog::note::PublicKey::CosignatureV1(raw),
    )
    .expect("verifier")
    .to_vkey();
    let err = parse(&format!(
        "witness a {}\nwitness b {renamed}\nquorum none\n",
        w.verifier().to_vkey()
    ))
    .expect_err("dup witness key");
    assert!(
        matches!(
            err,
            Error::PolicyDuplicateKey {
                line: 2,
                first_line: 1
            }
        ),
        "{err}"
    );
    let err = parse(&format!(
        "log {}\n\nlog {}\nquorum none\n",
        lvkey(),
        lvkey()
    ))
    .expect_err("dup log");
    assert!(
        matches!(
            err,
            Error::PolicyDuplicateKey {
                line: 3,
                first_line: 1
            }
        ),
        "{err}"
    );
}

struct PublicKeyBytes([u8; 32]);

fn public_key_bytes(w: &CosignatureV1Signer) -> PublicKeyBytes {
    match w.verifier().public_key() {
        islet_tlog::note::PublicKey::CosignatureV1(k) => PublicKeyBytes(*k),
        other => panic!("not a cosigner key: {other:?}"),
    }
}

#[test]
fn duplicate_members_are_refused() {
    let err = parse(&format!(
        "witness w1 {}\ngroup g any w1 w1\nquorum g\n",
        wvkey(1)
    ))
    .expect_err("dup member");
    assert!(
        matches!(err, Error::PolicyDuplicateMember { line: 2, ref name } if name == "w1"),
        "{err}"
    );
}

#[test]
fn undefined_members_and_quorums_are_refused() {
    let err = parse(&format!(
        "witness w1 {}\ngroup g all w1 w9\nquorum g\n",
        wvkey(1)
    ))
    .expect_err("member");
    assert!(
        matches!(err, Error::PolicyUndefinedName { line: 2, ref name } if name == "w9"),
        "{err}"
    );
    let err = parse("quorum nobody\n").expect_err("quorum");
    assert!(
        matches!(err, Error::PolicyUndefinedName { line: 1, .. }),
        "{err}"
    );
}

#[test]
fn self_and_forward_references_are_refused_as_cycles() {
    let w = wvkey(1);
    // A group that contains itself.
    let err = parse(&format!("witness w1 {w}\ngroup g any w1 g\nquorum g\n")).expect_err("self");
    assert!(
        matches!(
            err,
            Error::PolicyCycle {
                line: 2,
                defined_at: 2,
                ..
            }
        ),
        "{err}"
    );
    // Two groups that contain each other: the first one points forward.
    let err = parse(&format!(
        "witness w1 {w}\ngroup a any w1 b\ngroup b any w1 a\nquorum a\n"
    ))
    .expect_err("mutual");
    assert!(
        matches!(err, Error::PolicyCycle { line: 2, defined_at: 3, ref name } if name == "b"),
        "{err}"
    );
    // A quorum naming a witness defined after it.
    let err = parse(&format!("quorum w1\nwitness w1 {w}\n")).expect_err("forward quorum");
    assert!(
        matches!(
            err,
            Error::PolicyCycle {
                line: 1,
                defined_at: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn thresholds_outside_one_to_n_or_not_canonical_are_refused() {
    let head = format!("witness w1 {}\nwitness w2 {}\n", wvkey(1), wvkey(2));
    for t in [
        "0",
        "3",
        "01",
        "+1",
        "-1",
        "two",
        "ALL",
        "99999999999999999999",
    ] {
        let err = parse(&format!("{head}group g {t} w1 w2\nquorum g\n")).expect_err(t);
        assert!(
            matches!(
                err,
                Error::PolicyThreshold {
                    line: 3,
                    members: 2,
                    ..
                }
            ),
            "{t}: {err}"
        );
    }
    for (t, want) in [
        ("1", Threshold::AtLeast(1)),
        ("2", Threshold::AtLeast(2)),
        ("all", Threshold::All),
        ("any", Threshold::Any),
    ] {
        let p = parse(&format!("{head}group g {t} w1 w2\nquorum g\n")).expect(t);
        assert_eq!(p.groups()[0].threshold, want);
    }
}

#[test]
fn a_missing_or_second_quorum_is_refused() {
    let err = parse(&format!("log {}\n", lvkey())).expect_err("missing");
    assert!(matches!(err, Error::PolicyMissingQuorum), "{err}");
    let err = parse("").expect_err("empty file");
    assert!(matches!(err, Error::PolicyMissingQuorum), "{err}");
    let err = parse("quorum none\n\nquorum none\n").expect_err("second");
    assert!(
        matches!(
            err,
            Error::PolicyDuplicateQuorum {
                line: 3,
                first_line: 1
            }
        ),
        "{err}"
    );
}

// ---- limits ----------------------------------------------------------------

#[test]
fn size_limit_holds_at_the_limit_and_refuses_one_past() {
    let mut text = b"quorum none\n".to_vec();
    while text.len() < MAX_POLICY_BYTES {
        text.push(b'\n');
    }
    assert_eq!(text.len(), MAX_POLICY_BYTES);
    Policy::parse(&text).expect("at the limit");
    text.push(b'\n');
    let err = Policy::parse(&text).expect_err("one past");
    assert!(
        matches!(err, Error::PolicyTooLarge { len, max } if len == MAX_POLICY_BYTES + 1 && max == MAX_POLICY_BYTES),
        "{err}"
    );
}

fn witnesses_text(n: usize) -> String {
    (0..n)
        .map(|i| format!("witness w{i} {}\n", wvkey(i)))
        .collect()
}

#[test]
fn witness_count_limit_holds_at_the_limit_and_refuses_one_past() {
    let p = parse(&format!("{}quorum none\n", witnesses_text(MAX_WITNESSES))).expect("at limit");
    assert_eq!(p.witnesses().len(), MAX_WITNESSES);
    let err = parse(&format!(
        "{}quorum none\n",
        witnesses_text(MAX_WITNESSES + 1)
    ))
    .expect_err("one past");
    assert!(
        matches!(err, Error::PolicyLimit { line, what: "witnesses", max } if line == MAX_WITNESSES + 1 && max == MAX_WITNESSES),
        "{err}"
    );
}

#[test]
fn log_count_limit_holds_at_the_limit_and_refuses_one_past() {
    let logs = |n: usize| -> String {
        (0..n)
            .map(|i| {
                let name = format!("log{i}.example");
                let mut seed = [0xaa; 32];
                seed[..8].copy_from_slice(&(i as u64).to_be_bytes());
                let s = Ed25519Signer::from_seed(&name, &seed).expect("log key");
                format!("log {}\n", s.verifier().to_vkey())
            })
            .collect()
    };
    let p = parse(&format!("{}quorum none\n", logs(MAX_LOGS))).expect("at limit");
    assert_eq!(p.logs().len(), MAX_LOGS);
    let err = parse(&format!("{}quorum none\n", logs(MAX_LOGS + 1))).expect_err("one past");
    assert!(
        matches!(err, Error::PolicyLimit { what: "logs", max, .. } if max == MAX_LOGS),
        "{err}"
    );
}

#[test]
fn group_member_limit_holds_at_the_limit_and_refuses_one_past() {
    let mut text = witnesses_text(MAX_GROUP_MEMBERS);
    text.push_str("group extra any w0\n");
    let members: Vec<String> = (0..MAX_GROUP_MEMBERS).map(|i| format!("w{i}")).collect();
    let at = format!("{text}group g all {}\nquorum g\n", members.join(" "));
    let p = parse(&at).expect("at limit");
    assert_eq!(p.groups()[1].members.len(), MAX_GROUP_MEMBERS);
    let past = format!("{text}group g all {} extra\nquorum g\n", members.join(" "));
    let err = parse(&past).expect_err("one past");
    assert!(
        matches!(err, Error::PolicyLimit { what: "group members", max, .. } if max == MAX_GROUP_MEMBERS),
        "{err}"
    );
}

#[test]
fn group_count_limit_holds_at_the_limit_and_refuses_one_past() {
    let groups = |n: usize| -> String {
        let mut t = witnesses_text(1);
        for i in 0..n {
            t.push_str(&format!("group g{i} any w0\n"));
        }
        t
    };
    let p = parse(&format!("{}quorum none\n", groups(MAX_GROUPS))).expect("at limit");
    assert_eq!(p.groups().len(), MAX_GROUPS);
    let err = parse(&format!("{}quorum none\n", groups(MAX_GROUPS + 1))).expect_err("one past");
    assert!(
        matches!(err, Error::PolicyLimit { what: "groups", max, .. } if max == MAX_GROUPS),
        "{err}"
    );
}

#[test]
fn nesting_depth_limit_holds_at_the_limit_and_refuses_one_past() {
    // g1 = any(w0) has depth 1; g(k) = any(g(k-1)) has depth k.
    let chain = |depth: usize| -> String {
        let mut t = witnesses_text(1);
        t.push_str("group g1 any w0\n");
        for k in 2..=depth {
            t.push_str(&format!("group g{k} any g{}\n", k - 1));
        }
        t.push_str(&format!("quorum g{depth}\n"));
        t
    };
    let p = parse(&chain(MAX_GROUP_DEPTH)).expect("at limit");
    assert!(p.satisfied_by(&names(&["w0"])));
    assert!(!p.satisfied_by(&HashSet::new()));
    let err = parse(&chain(MAX_GROUP_DEPTH + 1)).expect_err("one past");
    assert!(
        matches!(err, Error::PolicyLimit { line, what: "levels of group nesting", max } if line == MAX_GROUP_DEPTH + 2 && max == MAX_GROUP_DEPTH),
        "{err}"
    );
}

// ---- quorum evaluation -----------------------------------------------------

#[test]
fn nested_groups_need_two_of_x_and_any_of_y() {
    let p = nested();
    // Truth table written by hand: X needs 2 of {X1,X2,X3}, Y any of
    // {Y1,Y2,Y3}, the quorum both.
    for (set, want) in [
        (vec![], false),
        (vec!["X1", "X2", "X3"], false),
        (vec!["Y1", "Y2", "Y3"], false),
        (vec!["X1", "Y1"], false),
        (vec!["X1", "X2", "Y3"], true),
        (vec!["X2", "X3", "Y2"], true),
        (vec!["X1", "X3", "Y1", "Y2", "Y3"], true),
        (vec!["X1", "X2"], false),
        // Group names and unknown names count for nothing.
        (vec!["X-witnesses", "Y-witnesses"], false),
        (vec!["X-and-Y"], false),
        (vec!["X1", "x2", "Y1"], false),
    ] {
        assert_eq!(p.satisfied_by(&names(&set)), want, "{set:?}");
    }
}

#[test]
fn a_single_witness_quorum_needs_exactly_that_witness() {
    let p = parse(&format!(
        "witness a {}\nwitness b {}\nquorum b\n",
        wvkey(1),
        wvkey(2)
    ))
    .expect("policy");
    assert_eq!(p.quorum(), Quorum::Witness(1));
    assert!(p.satisfied_by(&names(&["b"])));
    assert!(!p.satisfied_by(&names(&["a"])));
}

// ---- checking signed checkpoints -------------------------------------------

#[test]
fn checkpoint_cosigned_by_a_quorum_reports_the_witnesses_and_meets_it() {
    let p = nested();
    // X1 = witness(1), X3 = witness(3), Y2 = witness(5).
    let report = p
        .check_checkpoint(&cosigned_note(&[1, 3, 5]))
        .expect("valid note");
    assert!(report.quorum_met);
    assert_eq!(report.checkpoint.origin, ORIGIN);
    assert_eq!(report.checkpoint.size, 8);
    let got: Vec<(&str, &str, u64)> = report
        .cosigned
        .iter()
        .map(|c| (c.name.as_str(), c.key_name.as_str(), c.timestamp))
        .collect();
    assert_eq!(
        got,
        vec![
            ("X1", "witness1.example", TS + 1),
            ("X3", "witness3.example", TS + 3),
            ("Y2", "witness5.example", TS + 5),
        ]
    );
    assert_eq!(report.cosigned[0].key_id, witness(1).key_id());
}

#[test]
fn checkpoint_short_of_the_quorum_is_reported_as_not_met() {
    let p = nested();
    // Two X witnesses but no Y witness; then one X and one Y.
    for set in [vec![1, 2], vec![1, 4], vec![]] {
        let report = p
            .check_checkpoint(&cosigned_note(&set))
            .expect("valid note");
        assert!(!report.quorum_met, "{set:?}");
        assert_eq!(report.cosigned.len(), set.len());
    }
}

#[test]
fn cosignature_by_a_key_outside_the_policy_does_not_count() {
    let p = nested();
    // witness(9) is in no policy line: ignored, quorum still short.
    let report = p
        .check_checkpoint(&cosigned_note(&[1, 2, 9]))
        .expect("unknown lines are ignored");
    assert!(!report.quorum_met);
    assert_eq!(report.cosigned.len(), 2);
    // A line with a policy witness's key name but another key (so another
    // key ID) is an unknown key, and counts for nothing either.
    let text = checkpoint_text();
    let impostor = CosignatureV1Signer::from_seed("witness4.example", &[0xee; 32]).expect("key");
    assert_ne!(impostor.key_id(), witness(4).key_id());
    let mut note = Note::parse(&cosigned_note(&[1, 2])).expect("note");
    note.signatures.push(NoteSignature {
        name: impostor.name().to_owned(),
        key_id: impostor.key_id(),
        signature: impostor.sign_at(&text, TS),
    });
    let report = p.check_checkpoint(&note.to_bytes()).expect("ignored");
    assert!(!report.quorum_met);
    assert!(report.cosigned.iter().all(|c| c.name != "Y1"));
}

#[test]
fn forged_cosignature_by_a_policy_witness_rejects_the_checkpoint() {
    let p = nested();
    // Y1's line, signed over another checkpoint's text: it carries Y1's
    // name and key ID but does not verify over this one.
    let other = Checkpoint {
        origin: ORIGIN.into(),
        size: 9,
        root: [0x5a; 32],
        extensions: vec![],
    }
    .to_text();
    let y1 = witness(4);
    let mut note = Note::parse(&cosigned_note(&[1, 2])).expect("note");
    note.signatures.push(NoteSignature {
        name: y1.name().to_owned(),
        key_id: y1.key_id(),
        signature: y1.sign_at(&other, TS),
    });
    let err = p.check_checkpoint(&note.to_bytes()).expect_err("forged");
    assert!(
        matches!(err, Error::InvalidSignature { ref name, key_id } if name == "witness4.example" && key_id == y1.key_id()),
        "{err}"
    );
    // One flipped bit in a genuine cosignature: rejected the same way.
    let mut note = Note::parse(&cosigned_note(&[1, 2, 4])).expect("note");
    let last = note.signatures.last_mut().expect("line");
    last.signature[20] ^= 1;
    let err = p.check_checkpoint(&note.to_bytes()).expect_err("bit flip");
    assert!(matches!(err, Error::InvalidSignature { .. }), "{err}");
}

#[test]
fn checkpoint_without_the_log_signature_or_of_another_log_is_refused() {
    let p = nested();
    // Only witness lines: the log did not sign.
    let mut note = Note::parse(&cosigned_note(&[1, 2, 4])).expect("note");
    note.signatures.remove(0);
    let err = p
        .check_checkpoint(&note.to_bytes())
        .expect_err("no log sig");
    assert!(matches!(err, Error::NoKnownSignature { .. }), "{err}");
    // A checkpoint of an origin the policy does not list.
    let other = Ed25519Signer::from_seed("other.example/log", &[8; 32]).expect("key");
    let cp = Checkpoint {
        origin: "other.example/log".into(),
        size: 1,
        root: [1; 32],
        extensions: vec![],
    }
    .sign(&[&other])
    .expect("sign");
    let err = p.check_checkpoint(&cp).expect_err("unknown log");
    assert!(
        matches!(err, Error::PolicyUnknownLog { ref origin } if origin == "other.example/log"),
        "{err}"
    );
    // Not a note at all.
    let err = p.check_checkpoint(b"garbage").expect_err("garbage");
    assert!(matches!(err, Error::MalformedNote { .. }), "{err}");
}

#[test]
fn quorum_none_is_met_by_the_log_signature_alone() {
    let p = parse(&format!("log {}\nquorum none\n", lvkey())).expect("policy");
    let report = p.check_checkpoint(&cosigned_note(&[])).expect("valid");
    assert!(report.quorum_met);
    assert!(report.cosigned.is_empty());
}

// ---- the C2SP cosignature vectors ------------------------------------------

fn cosignature_vectors() -> Value {
    let dir = islet_testkit::vectors_dir(&["c2sp/cosignature.json"]);
    let text = std::fs::read_to_string(dir.join("c2sp/cosignature.json")).expect("vector file");
    serde_json::from_str(&text).expect("json")
}

/// The vector's note with a log signature added by this test's key for the
/// vector's origin (the vector cosignature signs only the text, so it stays
/// valid), and the policy that trusts that log and the vector witness.
fn vector_case(note: &str, vkey: &str) -> (Policy, Vec<u8>) {
    let mut parsed = Note::parse(note.as_bytes()).expect("vector note");
    let origin = parsed.text.lines().next().expect("origin").to_owned();
    let log = Ed25519Signer::from_seed(&origin, &[3; 32]).expect("log key");
    parsed.signatures.insert(
        0,
        NoteSignature {
            name: log.name().to_owned(),
            key_id: log.key_id(),
            signature: log.sign(&parsed.text).expect("sign"),
        },
    );
    let policy = Policy::parse(
        format!(
            "log {}\nwitness w1 {vkey} https://witness.example/\nquorum w1\n",
            log.verifier().to_vkey()
        )
        .as_bytes(),
    )
    .expect("policy");
    (policy, parsed.to_bytes())
}

#[test]
fn vector_cosignature_satisfies_a_policy_naming_its_witness() {
    let v = cosignature_vectors();
    let cases = v["ed25519"].as_array().expect("cases");
    let mut checked = 0;
    for c in cases {
        let note = c["note"].as_str().expect("note");
        if !note.starts_with("example.com/behind-the-sofa\n") {
            continue;
        }
        let vkey = c["vkey"].as_str().expect("vkey");
        let (policy, signed) = vector_case(note, vkey);
        let report = policy.check_checkpoint(&signed).expect("vector verifies");
        assert!(report.quorum_met);
        assert_eq!(report.cosigned.len(), 1);
        assert_eq!(report.cosigned[0].name, "w1");
        assert_eq!(
            format!("{:08x}", report.cosigned[0].key_id),
            c["key_id"].as_str().expect("key id")
        );
        assert_eq!(Some(report.cosigned[0].timestamp), c["timestamp"].as_u64());
        checked += 1;
    }
    assert_eq!(checked, 2, "the two behind-the-sofa vectors");
}

#[test]
fn vector_cosignature_with_an_altered_timestamp_rejects_the_checkpoint() {
    let v = cosignature_vectors();
    let c = &v["ed25519_negative"][1];
    assert_eq!(c["expect"]["error"].as_str(), Some("invalid signature"));
    let (policy, signed) = vector_case(
        c["note"].as_str().expect("note"),
        c["vkey"].as_str().expect("vkey"),
    );
    let err = policy.check_checkpoint(&signed).expect_err("altered");
    assert!(matches!(err, Error::InvalidSignature { .. }), "{err}");
}
