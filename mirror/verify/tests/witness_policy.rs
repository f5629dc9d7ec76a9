//! `--policy FILE` on bundles: the site bundle (`tests/site`, a Rekor v2
//! entry in the site's Ed25519 log) with its checkpoint cosigned by two
//! witnesses passes a 2-of-2 policy and reports them; without the
//! cosignatures, with one, with a forged one, with a policy that does not
//! list the log or lists it with another key, with a Rekor v1 entry, or
//! with no entry at all, it fails at the witness check that catches it.
//!
//! The witness keys, vkeys and cosignature lines are made by hand
//! (`handnote`), independently of the note code under test.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod handnote;
mod site;

use handnote::{HandKey, TYPE_COSIGNATURE, TYPE_ED25519, note_text};
use islet_verify::witness::parse_policy;
use islet_verify::{Check, Policy, Verified, WitnessPolicy};
use serde_json::{Value, json};
use site::{INTEGRATED_TIME, LOG_HOST, Site, V1_ORIGIN, verify_with};

const TS_B: u64 = 1_704_100_000;
const TS_C: u64 = 1_704_100_060;

fn witnesses() -> (HandKey, HandKey) {
    (
        HandKey::new("witness-b.example/w", [0xb0; 32]),
        HandKey::new("witness-c.example/w", [0xc0; 32]),
    )
}

/// The site log's vkey, written out by hand from its public key.
fn site_log_vkey(s: &Site) -> String {
    use base64::Engine;
    use sha2::Digest;
    let key = s.log.public_key();
    let mut h = sha2::Sha256::new();
    h.update(LOG_HOST.as_bytes());
    h.update([b'\n', TYPE_ED25519]);
    h.update(key);
    let mut raw = vec![TYPE_ED25519];
    raw.extend_from_slice(&key);
    format!(
        "{LOG_HOST}+{}+{}",
        hex::encode(&h.finalize()[..4]),
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// The 2-of-2 policy over the site log, with `log_line` in place of the
/// site log's line when given.
fn policy_text(s: &Site, log_line: Option<&str>, quorum: &str) -> String {
    let (b, c) = witnesses();
    format!(
        "{}\nwitness B {}\nwitness C {}\ngroup both all B C\nquorum {quorum}\n",
        log_line.map_or_else(|| format!("log {}", site_log_vkey(s)), str::to_owned),
        b.vkey(TYPE_COSIGNATURE),
        c.vkey(TYPE_COSIGNATURE),
    )
}

fn witness_policy(text: &str) -> WitnessPolicy {
    parse_policy(text.as_bytes()).expect("policy")
}

fn with_policy(p: WitnessPolicy) -> Policy {
    Policy {
        witness_policy: Some(p),
        ..site::policy()
    }
}

fn envelope(b: &mut Value, entry: usize) -> &mut Value {
    &mut b["verificationMaterial"]["tlogEntries"][entry]["inclusionProof"]["checkpoint"]["envelope"]
}

/// `bundle` with `lines(text)` appended to the checkpoint of entry
/// `entry`.
fn cosigned(bundle: &Value, entry: usize, lines: impl Fn(&str) -> Vec<String>) -> Value {
    let mut b = bundle.clone();
    let env = envelope(&mut b, entry).as_str().unwrap().to_owned();
    let added = lines(note_text(&env)).concat();
    *envelope(&mut b, entry) = Value::String(format!("{env}{added}"));
    b
}

fn both(text: &str) -> Vec<String> {
    let (b, c) = witnesses();
    vec![b.cosig_line(text, TS_B), c.cosig_line(text, TS_C)]
}

fn fails(bundle: &Value, root: &Value, policy: Policy, check: Check, needles: &[&str]) {
    let f = verify_with(bundle, root, policy).expect_err("must fail");
    assert_eq!(f.check, check, "{}", f.reason);
    for n in needles {
        assert!(f.reason.contains(n), "{:?} lacks {n:?}", f.reason);
    }
}

#[test]
fn a_cosigned_bundle_passes_and_reports_its_witnesses() {
    let s = Site::get();
    let b = cosigned(&s.bundle, 0, both);
    let p = witness_policy(&policy_text(s, None, "both"));
    let v: Verified = verify_with(&b, &s.root, with_policy(p)).expect("passes");
    let (wb, wc) = witnesses();
    let report = serde_json::to_value(&v).unwrap();
    assert_eq!(
        report["entries"][0]["witness"],
        json!({
            "quorum": "both",
            "quorum_met": true,
            "witnesses": [
                {
                    "name": "B",
                    "key_name": "witness-b.example/w",
                    "key_id": wb.key_id_hex(TYPE_COSIGNATURE),
                    "cosigned": true,
                    "timestamp": TS_B,
                    "time": "2024-01-01T09:06:40Z",
                },
                {
                    "name": "C",
                    "key_name": "witness-c.example/w",
                    "key_id": wc.key_id_hex(TYPE_COSIGNATURE),
                    "cosigned": true,
                    "timestamp": TS_C,
                    "time": "2024-01-01T09:07:40Z",
                },
            ],
            "ignored": [],
        })
    );
    // The rest of the verdict is the one without a policy.
    let plain = verify_with(&b, &s.root, site::policy()).expect("passes without a policy");
    assert_eq!(plain.entries[0].witness, None);
    let mut with = v.clone();
    with.entries[0].witness = None;
    with.rekor_age_hours = plain.rekor_age_hours;
    assert_eq!(with, plain);
}

#[test]
fn the_same_bundle_without_cosignatures_fails_the_quorum() {
    let s = Site::get();
    let p = witness_policy(&policy_text(s, None, "both"));
    // The site bundle as the log signed it: valid without a policy.
    verify_with(&s.bundle, &s.root, site::policy()).expect("valid without a policy");
    fails(
        &s.bundle,
        &s.root,
        with_policy(p.clone()),
        Check::WitnessQuorum,
        &[
            "the checkpoint of the entry at log index 1 of https://log.example.org",
            "size 3 does not meet the witness quorum",
            "no witness of the policy cosigned it",
            "the quorum is group both, which has 0 of the 2 member(s) it needs: still needed 2 more of [B, C]",
        ],
    );
    // Only B.
    let (wb, _) = witnesses();
    let only_b = cosigned(&s.bundle, 0, |t| vec![wb.cosig_line(t, TS_B)]);
    fails(
        &only_b,
        &s.root,
        with_policy(p),
        Check::WitnessQuorum,
        &[
            &format!(
                "cosigned by B (witness-b.example/w+{} at 2024-01-01T09:06:40Z)",
                wb.key_id_hex(TYPE_COSIGNATURE)
            ),
            "still needed 1 more of [C]",
        ],
    );
}

#[test]
fn an_extra_cosignature_is_ignored_and_a_forged_one_rejects() {
    let s = Site::get();
    let p = witness_policy(&policy_text(s, None, "both"));
    let stranger = HandKey::new("stranger.example/w", [0x55; 32]);
    let b = cosigned(&s.bundle, 0, |t| {
        let mut l = both(t);
        l.insert(1, stranger.cosig_line(t, 5));
        l
    });
    let v = verify_with(&b, &s.root, with_policy(p.clone())).expect("passes");
    let w = v.entries[0].witness.as_ref().unwrap();
    assert_eq!(
        w.ignored,
        vec![format!(
            "stranger.example/w+{}",
            stranger.key_id_hex(TYPE_COSIGNATURE)
        )]
    );
    // C's key ID on a signature C did not make.
    let (_, wc) = witnesses();
    let forged = cosigned(&s.bundle, 0, |t| {
        let mut l = both(t);
        // Same key ID and timestamp, signature over another timestamp.
        let good = wc.cosig_line(t, TS_C);
        let other = wc.cosig_line(t, TS_C + 1);
        let (head, _) = good.trim_end().rsplit_once(' ').unwrap();
        let (_, sig) = other.trim_end().rsplit_once(' ').unwrap();
        use base64::Engine;
        let e = &base64::engine::general_purpose::STANDARD;
        let mut raw = e.decode(sig).unwrap();
        raw[4..12].copy_from_slice(&TS_C.to_be_bytes());
        l[1] = format!("{head} {}\n", e.encode(raw));
        l
    });
    fails(
        &forged,
        &s.root,
        with_policy(p),
        Check::Cosignature,
        &["witness C (witness-c.example/w+", "does not verify"],
    );
}

#[test]
fn a_log_of_the_trusted_root_missing_from_the_policy_fails() {
    let s = Site::get();
    let b = cosigned(&s.bundle, 0, both);
    let other = HandKey::new("other.example/log", [0x11; 32]);
    let p = witness_policy(&policy_text(
        s,
        Some(&format!("log {}", other.vkey(TYPE_ED25519))),
        "both",
    ));
    fails(
        &b,
        &s.root,
        with_policy(p),
        Check::WitnessPolicy,
        &[
            "the log \"log.example.org\" is not a log of the witness policy (it lists other.example/log)",
        ],
    );
    // Listed under its origin but with another key: the trusted root's key
    // signed, the policy's did not, and the policy wins (an extra gate).
    let impostor = HandKey::new(LOG_HOST, [0x11; 32]);
    let p = witness_policy(&policy_text(
        s,
        Some(&format!("log {}", impostor.vkey(TYPE_ED25519))),
        "both",
    ));
    fails(
        &b,
        &s.root,
        with_policy(p),
        Check::WitnessPolicy,
        &[&format!(
            "the witness policy's key for {LOG_HOST} ({LOG_HOST}+{}) did not sign the checkpoint",
            impostor.key_id_hex(TYPE_ED25519)
        )],
    );
}

#[test]
fn the_trusted_root_check_still_comes_first() {
    // A checkpoint signed only by a key the policy trusts but the trusted
    // root does not: the trusted root's check refuses it.
    let s = Site::get();
    let mut b = s.bundle.clone();
    let env = envelope(&mut b, 0).as_str().unwrap().to_owned();
    let text = note_text(&env).to_owned();
    let impostor = HandKey::new(LOG_HOST, [0x11; 32]);
    let mut lines = vec![impostor.log_line(&text)];
    lines.extend(both(&text));
    *envelope(&mut b, 0) = Value::String(format!("{text}\n{}", lines.concat()));
    let p = witness_policy(&policy_text(
        s,
        Some(&format!("log {}", impostor.vkey(TYPE_ED25519))),
        "both",
    ));
    fails(
        &b,
        &s.root,
        with_policy(p),
        Check::Checkpoint,
        &["no signature by a known key"],
    );
}

#[test]
fn quorum_none_lists_the_log_only() {
    let s = Site::get();
    let p = witness_policy(&policy_text(s, None, "none"));
    let v = verify_with(&s.bundle, &s.root, with_policy(p)).expect("passes");
    let w = v.entries[0].witness.as_ref().unwrap();
    assert_eq!((w.quorum.as_str(), w.quorum_met), ("none", true));
    assert!(w.witnesses.iter().all(|w| !w.cosigned));
}

#[test]
fn every_entry_is_checked_and_a_rekor_v1_entry_cannot_be_listed() {
    let s = Site::get();
    // The site bundle with a second entry, in the Rekor v1 log, for the
    // same signature; both pass without a witness policy.
    let mut b = cosigned(&s.bundle, 0, both);
    let body = Site::v1_body(&s.leaf.der, &s.digest, &s.signature);
    let v1 = s.v1_entry(&body, INTEGRATED_TIME);
    b["verificationMaterial"]["tlogEntries"]
        .as_array_mut()
        .unwrap()
        .push(v1);
    let plain = verify_with(&b, &s.root, site::policy()).expect("two entries pass");
    assert_eq!(plain.entries.len(), 2);
    let p = witness_policy(&policy_text(s, None, "both"));
    fails(
        &b,
        &s.root,
        with_policy(p),
        Check::WitnessPolicy,
        &[
            "the checkpoint of the entry at log index 7 of https://rekor.example.org",
            &format!("the log {V1_ORIGIN:?} is not a log of the witness policy"),
            "an origin with spaces, as Rekor v1's, cannot be a key name",
        ],
    );
    // The Rekor v1 bundle alone.
    let p = witness_policy(&policy_text(s, None, "none"));
    fails(
        &s.v1_bundle(INTEGRATED_TIME),
        &s.root,
        with_policy(p),
        Check::WitnessPolicy,
        &["cannot be a key name"],
    );
}

#[test]
fn a_policy_with_no_log_entry_to_check_fails() {
    let s = Site::get();
    let mut b = s.bundle.clone();
    b["verificationMaterial"]["tlogEntries"] = json!([]);
    let policy = Policy {
        min_tlog: 0,
        ..site::policy()
    };
    verify_with(&b, &s.root, policy.clone()).expect("no entry needed without a witness policy");
    let p = witness_policy(&policy_text(s, None, "none"));
    fails(
        &b,
        &s.root,
        Policy {
            witness_policy: Some(p),
            ..policy
        },
        Check::WitnessQuorum,
        &["the bundle has no transparency-log entry"],
    );
}
