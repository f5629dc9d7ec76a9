//! The witness gate (`--policy FILE`): a checkpoint must come from a log of
//! a C2SP tlog-policy and carry the cosignatures its quorum asks for
//! (`../shared/specs/c2sp.md` §7 and §10).
//!
//! The spec code is `islet_tlog::policy`; this module runs it on one
//! checkpoint and turns its answer into a [`WitnessReport`] or a
//! [`Failure`] that names the step that failed: the note or checkpoint
//! syntax ([`Check::Checkpoint`]), a log the policy does not list or whose
//! policy key did not sign ([`Check::WitnessPolicy`]), a cosignature by a
//! policy witness that does not verify ([`Check::Cosignature`]), or a
//! quorum not met ([`Check::WitnessQuorum`], naming who cosigned and what
//! the quorum still needs).

use std::time::{Duration, UNIX_EPOCH};

use islet_tlog::checkpoint::Checkpoint;
use islet_tlog::note::Note;
use islet_tlog::policy::{Member, Quorum, QuorumReport};
use serde::Serialize;

use crate::failure::{Check, Failure};
use crate::{MAX_TIME_SECONDS, rfc3339};

pub use islet_tlog::policy::{MAX_POLICY_BYTES, Policy as WitnessPolicy};

/// One witness of the policy, and whether it cosigned the checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WitnessStatus {
    /// The witness's name in the policy.
    pub name: String,
    /// Its key name (the name on its signature lines).
    pub key_name: String,
    /// Its key ID, 8 lowercase hex digits.
    pub key_id: String,
    /// It cosigned the checkpoint (`cosignature/v1`, verified).
    pub cosigned: bool,
    /// The cosignature's timestamp (seconds since the epoch), when it
    /// cosigned.
    pub timestamp: Option<u64>,
    /// The same timestamp in RFC 3339.
    pub time: Option<String>,
}

/// What the witness policy made of one checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WitnessReport {
    /// The name on the policy's `quorum` line (`none`: no cosignature
    /// needed).
    pub quorum: String,
    /// The cosignatures meet the quorum. Always true in a verified
    /// bundle's or proof's report: a quorum not met is a failure.
    pub quorum_met: bool,
    /// Every witness of the policy, in policy order.
    pub witnesses: Vec<WitnessStatus>,
    /// Signature lines by keys outside the policy (`name+keyid`): not
    /// verified, they count for nothing.
    pub ignored: Vec<String>,
}

/// A checkpoint the witness policy accepted.
#[derive(Debug, Clone)]
pub(crate) struct Witnessed {
    /// The checkpoint, its log signature verified with the policy's key.
    pub(crate) checkpoint: Checkpoint,
    /// The report.
    pub(crate) report: WitnessReport,
}

/// Parses a tlog-policy file (at most [`MAX_POLICY_BYTES`]).
///
/// # Errors
/// A [`Check::WitnessPolicy`] failure with the line and the rule broken.
pub fn parse_policy(text: &[u8]) -> Result<WitnessPolicy, Failure> {
    WitnessPolicy::parse(text)
        .map_err(|e| Failure::new(Check::WitnessPolicy, format!("the witness policy: {e}")))
}

fn key_id_hex(id: u32) -> String {
    format!("{id:08x}")
}

/// A cosignature timestamp in RFC 3339 (timestamps RFC 3339 cannot
/// write say so).
pub(crate) fn timestamp_time(ts: u64) -> String {
    if ts > MAX_TIME_SECONDS {
        return "a time after 9999-12-31".into();
    }
    rfc3339(UNIX_EPOCH + Duration::from_secs(ts))
}

/// Checks one signed checkpoint note against the witness policy, as the
/// bundle and proof checks do, and reports which policy witnesses
/// cosigned it.
///
/// # Errors
/// [`Check::Checkpoint`], [`Check::WitnessPolicy`], [`Check::Cosignature`]
/// or [`Check::WitnessQuorum`], in that order.
pub fn check_checkpoint(policy: &WitnessPolicy, note: &[u8]) -> Result<WitnessReport, Failure> {
    check(policy, note, "the checkpoint").map(|w| w.report)
}

/// Checks a signed checkpoint against the witness policy: its syntax, its
/// origin (a `log` of the policy), the policy log's signature, every
/// policy witness's cosignature present (a bad one rejects the
/// checkpoint), then the quorum. `what` names the checkpoint in messages
/// (for instance `the checkpoint of tlog entry 0`).
///
/// # Errors
/// [`Check::Checkpoint`], [`Check::WitnessPolicy`], [`Check::Cosignature`]
/// or [`Check::WitnessQuorum`], in that order.
pub(crate) fn check(policy: &WitnessPolicy, note: &[u8], what: &str) -> Result<Witnessed, Failure> {
    let parsed =
        Note::parse(note).map_err(|e| Failure::new(Check::Checkpoint, format!("{what}: {e}")))?;
    let checkpoint = Checkpoint::parse(&parsed.text)
        .map_err(|e| Failure::new(Check::Checkpoint, format!("{what}: {e}")))?;
    let origin = &checkpoint.origin;
    let Some(log) = policy.log(origin) else {
        let listed: Vec<&str> = policy.logs().iter().map(|l| l.verifier.name()).collect();
        let hint = if origin.contains(char::is_whitespace) {
            " (an origin with spaces, as Rekor v1's, cannot be a key name, so no policy can list it)"
        } else {
            ""
        };
        return Err(Failure::new(
            Check::WitnessPolicy,
            format!(
                "{what}: the log {origin:.128?} is not a log of the witness policy (it lists {}); a log must be listed with a `log <vkey>` line whose key name is its origin{hint}",
                if listed.is_empty() {
                    "no log".to_owned()
                } else {
                    listed.join(", ")
                }
            ),
        ));
    };
    let log_key = (log.verifier.name().to_owned(), log.verifier.key_id());
    let opened = policy
        .check_checkpoint(note)
        .map_err(|e| open_failure(policy, &log_key, what, e))?;
    let report = report(policy, &parsed, &opened, &log_key);
    if !opened.quorum_met {
        return Err(Failure::new(
            Check::WitnessQuorum,
            format!(
                "{what}: the checkpoint of {origin:.128?} at size {} does not meet the witness quorum: {}",
                opened.checkpoint.size,
                shortfall(policy, &report)
            ),
        ));
    }
    Ok(Witnessed {
        checkpoint: opened.checkpoint,
        report,
    })
}

/// The failure for an error of `Policy::check_checkpoint`.
fn open_failure(
    policy: &WitnessPolicy,
    log_key: &(String, u32),
    what: &str,
    e: islet_tlog::Error,
) -> Failure {
    use islet_tlog::Error as E;
    let (name, id) = (&log_key.0, log_key.1);
    match e {
        E::InvalidSignature { name: n, key_id } if (&n, key_id) == (name, id) => Failure::new(
            Check::Checkpoint,
            format!(
                "{what}: the log signature by {n}+{} does not verify",
                key_id_hex(key_id)
            ),
        ),
        E::InvalidSignature { name: n, key_id } => {
            let witness = policy
                .witnesses()
                .iter()
                .find(|w| w.verifier.name() == n && w.verifier.key_id() == key_id)
                .map_or_else(String::new, |w| format!("witness {} ", w.name));
            Failure::new(
                Check::Cosignature,
                format!(
                    "{what}: the cosignature of {witness}({n}+{}) does not verify; a signature by a key of the policy that fails rejects the checkpoint",
                    key_id_hex(key_id)
                ),
            )
        }
        E::NoKnownSignature { .. } => Failure::new(
            Check::WitnessPolicy,
            format!(
                "{what}: the witness policy's key for {name} ({name}+{}) did not sign the checkpoint",
                key_id_hex(id)
            ),
        ),
        E::AmbiguousKey { name: n, key_id } => Failure::new(
            Check::WitnessPolicy,
            format!(
                "{what}: the witness policy has two keys named {n} with key ID {}",
                key_id_hex(key_id)
            ),
        ),
        other => Failure::new(Check::Checkpoint, format!("{what}: {other}")),
    }
}

/// The report of a checkpoint the policy opened.
fn report(
    policy: &WitnessPolicy,
    note: &Note,
    opened: &QuorumReport,
    log_key: &(String, u32),
) -> WitnessReport {
    let witnesses = policy
        .witnesses()
        .iter()
        .map(|w| {
            let found = opened.cosigned.iter().find(|c| c.name == w.name);
            WitnessStatus {
                name: w.name.clone(),
                key_name: w.verifier.name().to_owned(),
                key_id: key_id_hex(w.verifier.key_id()),
                cosigned: found.is_some(),
                timestamp: found.map(|c| c.timestamp),
                time: found.map(|c| timestamp_time(c.timestamp)),
            }
        })
        .collect();
    let mut ignored: Vec<String> = Vec::new();
    for s in &note.signatures {
        let known = (&s.name, s.key_id) == (&log_key.0, log_key.1)
            || policy
                .witnesses()
                .iter()
                .any(|w| w.verifier.name() == s.name && w.verifier.key_id() == s.key_id);
        let id = format!("{}+{}", s.name, key_id_hex(s.key_id));
        if !known && !ignored.contains(&id) {
            ignored.push(id);
        }
    }
    WitnessReport {
        quorum: quorum_name(policy),
        quorum_met: opened.quorum_met,
        witnesses,
        ignored,
    }
}

/// The name on the policy's `quorum` line.
fn quorum_name(policy: &WitnessPolicy) -> String {
    match policy.quorum() {
        Quorum::None => islet_tlog::policy::NONE.to_owned(),
        Quorum::Witness(w) => policy
            .witnesses()
            .get(w)
            .map_or_else(String::new, |w| w.name.clone()),
        Quorum::Group(g) => policy
            .groups()
            .get(g)
            .map_or_else(String::new, |g| g.name.clone()),
    }
}

/// Which witnesses cosigned and what the quorum still needs, in words.
fn shortfall(policy: &WitnessPolicy, report: &WitnessReport) -> String {
    let ok: Vec<bool> = report.witnesses.iter().map(|w| w.cosigned).collect();
    let cosigned: Vec<String> = report
        .witnesses
        .iter()
        .filter(|w| w.cosigned)
        .map(|w| {
            format!(
                "{} ({}+{} at {})",
                w.name,
                w.key_name,
                w.key_id,
                w.time.as_deref().unwrap_or("?")
            )
        })
        .collect();
    let cosigned = if cosigned.is_empty() {
        "no witness of the policy cosigned it".to_owned()
    } else {
        format!("cosigned by {}", cosigned.join(", "))
    };
    let groups = group_satisfaction(policy, &ok);
    let needs = match policy.quorum() {
        Quorum::None => "the quorum is none".to_owned(),
        Quorum::Witness(w) => format!(
            "the quorum is witness {}, which still needs to cosign",
            member_name(policy, Member::Witness(w))
        ),
        Quorum::Group(g) => format!(
            "the quorum is group {}, which {}",
            member_name(policy, Member::Group(g)),
            group_needs(policy, g, &ok, &groups)
        ),
    };
    format!("{cosigned}; {needs}")
}

/// Whether each group (file order) is satisfied, given which witnesses
/// cosigned. Groups refer to earlier groups only, so one pass settles all.
fn group_satisfaction(policy: &WitnessPolicy, ok: &[bool]) -> Vec<bool> {
    let mut done: Vec<bool> = Vec::with_capacity(policy.groups().len());
    for g in policy.groups() {
        let count = g
            .members
            .iter()
            .filter(|m| member_ok(**m, ok, &done))
            .count();
        done.push(count >= g.needed());
    }
    done
}

fn member_ok(m: Member, ok: &[bool], groups: &[bool]) -> bool {
    match m {
        Member::Witness(w) => ok.get(w).copied().unwrap_or(false),
        Member::Group(g) => groups.get(g).copied().unwrap_or(false),
    }
}

fn member_name(policy: &WitnessPolicy, m: Member) -> String {
    match m {
        Member::Witness(w) => policy.witnesses().get(w).map(|w| w.name.clone()),
        Member::Group(g) => policy.groups().get(g).map(|g| g.name.clone()),
    }
    .unwrap_or_default()
}

/// What group `g` still needs: "has s of the k it needs: still k - s of
/// [unsatisfied members, groups described the same way]".
fn group_needs(policy: &WitnessPolicy, g: usize, ok: &[bool], groups: &[bool]) -> String {
    let Some(group) = policy.groups().get(g) else {
        return String::new();
    };
    let has = group
        .members
        .iter()
        .filter(|m| member_ok(**m, ok, groups))
        .count();
    let needed = group.needed();
    let missing: Vec<String> = group
        .members
        .iter()
        .filter(|m| !member_ok(**m, ok, groups))
        .map(|m| match *m {
            Member::Witness(_) => member_name(policy, *m),
            Member::Group(sub) => format!(
                "group {} (which {})",
                member_name(policy, *m),
                group_needs(policy, sub, ok, groups)
            ),
        })
        .collect();
    format!(
        "has {has} of the {needed} member(s) it needs: still needed {} more of [{}]",
        needed.saturating_sub(has),
        missing.join(", ")
    )
}
