//! C2SP tlog-policy (`../shared/specs/c2sp.md` §10): which logs a verifier
//! trusts, which witnesses it knows, and the quorum of witness cosignatures a
//! checkpoint must carry.
//!
//! ```text
//! log <vkey> [<url>]
//! witness <name> <vkey> [<url>]
//! group <name> all|any|<k> <member>...
//! quorum <name>|none
//! ```
//!
//! Parsing rules as islet applies them:
//! - Bytes allowed: TAB, LF, 0x20–0x7E and 0x80–0xFF. Comment lines are
//!   opaque; every other line must be UTF-8 (names and vkeys are note key
//!   names, which are UTF-8).
//! - Fields are separated by runs of SP or TAB; leading and trailing blanks
//!   are allowed. Blank lines and lines whose first non-blank character is
//!   `#` are ignored. A `#` anywhere else is refused rather than read as an
//!   inline comment, so no file means one thing to islet and another to a
//!   parser that strips `#...` (Tessera's).
//! - A `log` vkey is Ed25519 (0x01) or ECDSA (0x02) and its name is the log's
//!   origin; a `witness` vkey is `cosignature/v1` (0x04). Any other type is
//!   an error, never a silently ignored witness.
//! - Witnesses and groups share one namespace; `none` is reserved. Group
//!   members and the quorum refer to names defined on earlier lines, which
//!   rules out cycles. Each member appears once per group; `1 <= k <= n`.
//! - Two `log` (or two `witness`) lines wrapping the same public key are
//!   duplicates, whatever their names.
//! - Exactly one `quorum` line.
//!
//! No I/O; URLs are kept as strings, not parsed.

use std::collections::{HashMap, HashSet};

use crate::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::error::{Error, Result};
use crate::note::{Note, NoteVerifier, PublicKey};

/// Largest policy file parsed, in bytes.
pub const MAX_POLICY_BYTES: usize = 64 * 1024;
/// Most `log` lines in a policy (the spec asks for at least 32).
pub const MAX_LOGS: usize = 64;
/// Most `witness` lines in a policy (the spec asks for at least 32).
pub const MAX_WITNESSES: usize = 64;
/// Most `group` lines in a policy (the spec asks for at least 32).
pub const MAX_GROUPS: usize = 64;
/// Most members of one group.
pub const MAX_GROUP_MEMBERS: usize = 64;
/// Deepest nesting of groups: a group of witnesses has depth 1, a group
/// with a member group of depth `d` has depth `d + 1`.
pub const MAX_GROUP_DEPTH: usize = 8;

/// The reserved name: as a quorum, "no cosignature needed".
pub const NONE: &str = "none";

/// A log the policy trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyLog {
    /// The log's key; its name is the log's origin.
    pub verifier: NoteVerifier,
    /// The optional URL, as written.
    pub url: Option<String>,
    /// 1-based line of the definition.
    pub line: usize,
}

/// A witness the policy knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyWitness {
    /// The policy name (used by groups and the quorum).
    pub name: String,
    /// The witness's `cosignature/v1` key (its key name is what appears on
    /// signature lines).
    pub verifier: NoteVerifier,
    /// The optional submission prefix URL, as written.
    pub url: Option<String>,
    /// 1-based line of the definition.
    pub line: usize,
}

/// A member of a group: an index into [`Policy::witnesses`] or
/// [`Policy::groups`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    /// A witness.
    Witness(usize),
    /// A group (always one defined earlier).
    Group(usize),
}

/// How many members of a group must be satisfied, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threshold {
    /// Every member.
    All,
    /// At least one member.
    Any,
    /// At least this many members (`1..=n`).
    AtLeast(usize),
}

/// A group of witnesses and groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The policy name.
    pub name: String,
    /// The threshold as written.
    pub threshold: Threshold,
    /// The members, in order.
    pub members: Vec<Member>,
    /// 1-based line of the definition.
    pub line: usize,
}

impl Group {
    /// The number of satisfied members the group needs.
    pub fn needed(&self) -> usize {
        match self.threshold {
            Threshold::All => self.members.len(),
            Threshold::Any => 1,
            Threshold::AtLeast(k) => k,
        }
    }
}

/// The quorum of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quorum {
    /// `quorum none`: no cosignature is needed.
    None,
    /// A single witness.
    Witness(usize),
    /// A group.
    Group(usize),
}

/// A parsed tlog-policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    logs: Vec<PolicyLog>,
    witnesses: Vec<PolicyWitness>,
    groups: Vec<Group>,
    quorum: Quorum,
}

/// One witness that validly cosigned a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    /// The witness's policy name.
    pub name: String,
    /// Its key name (as on the signature line).
    pub key_name: String,
    /// Its key ID.
    pub key_id: u32,
    /// The cosignature timestamp (seconds since the epoch).
    pub timestamp: u64,
}

/// What a policy makes of a signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumReport {
    /// The checkpoint (its log signature verified).
    pub checkpoint: Checkpoint,
    /// The policy witnesses whose cosignatures verified, in policy order.
    pub cosigned: Vec<Cosigned>,
    /// Whether they satisfy the quorum.
    pub quorum_met: bool,
}

/// A tokenized, non-blank, non-comment line.
struct Line<'a> {
    number: usize,
    fields: Vec<&'a str>,
}

fn syntax(line: usize, reason: impl Into<String>) -> Error {
    Error::PolicySyntax {
        line,
        reason: reason.into(),
    }
}

fn truncated(s: &str) -> String {
    s.chars().take(64).collect()
}

fn tokenize(text: &[u8]) -> Result<Vec<Line<'_>>> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(Error::PolicyTooLarge {
            len: text.len(),
            max: MAX_POLICY_BYTES,
        });
    }
    let mut lines = Vec::new();
    for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
        let number = i + 1;
        if let Some(&b) = raw
            .iter()
            .find(|&&b| !(b == b'\t' || (0x20..=0x7e).contains(&b) || b >= 0x80))
        {
            return Err(syntax(number, format!("byte 0x{b:02x} is not allowed")));
        }
        match raw.iter().find(|&&b| b != b' ' && b != b'\t') {
            None | Some(b'#') => continue,
            Some(_) => {}
        }
        let line =
            std::str::from_utf8(raw).map_err(|_| syntax(number, "line is not valid UTF-8"))?;
        let fields: Vec<&str> = line.split([' ', '\t']).filter(|f| !f.is_empty()).collect();
        if fields.iter().any(|f| f.contains('#')) {
            return Err(syntax(
                number,
                "'#' after the start of a line: inline comments are not part of tlog-policy",
            ));
        }
        lines.push(Line { number, fields });
    }
    Ok(lines)
}

fn parse_vkey(line: usize, vkey: &str) -> Result<NoteVerifier> {
    NoteVerifier::from_vkey(vkey).map_err(|e| Error::PolicyKey {
        line,
        reason: e.to_string(),
    })
}

/// The raw public key bytes, to find two vkeys wrapping the same key.
fn key_bytes(v: &NoteVerifier) -> &[u8] {
    match v.public_key() {
        PublicKey::Ed25519(k) | PublicKey::CosignatureV1(k) => k,
        PublicKey::EcdsaP256 { point, .. } => point,
    }
}

fn parse_threshold(line: usize, t: &str, members: usize) -> Result<Threshold> {
    let bad = || Error::PolicyThreshold {
        line,
        threshold: truncated(t),
        members,
    };
    match t {
        "all" => Ok(Threshold::All),
        "any" => Ok(Threshold::Any),
        _ => {
            let canonical = !t.is_empty()
                && t.len() <= 19
                && t.bytes().all(|b| b.is_ascii_digit())
                && !t.starts_with('0');
            let k: usize = if canonical {
                t.parse().map_err(|_| bad())?
            } else {
                return Err(bad());
            };
            if k > members {
                return Err(bad());
            }
            Ok(Threshold::AtLeast(k))
        }
    }
}

/// Where a name is defined (witness or group) and on which line.
#[derive(Clone, Copy)]
struct Definition {
    member: Member,
    line: usize,
}

struct Parser {
    logs: Vec<PolicyLog>,
    witnesses: Vec<PolicyWitness>,
    groups: Vec<Group>,
    depths: Vec<usize>,
    names: HashMap<String, Definition>,
    /// Every name defined anywhere in the file, with its first line: to tell
    /// a forward reference (refused as a potential cycle) from a name that
    /// is not defined at all.
    all_names: HashMap<String, usize>,
    quorum: Option<(Quorum, usize)>,
}

impl Parser {
    fn check_new_name(&self, line: usize, name: &str) -> Result<()> {
        if name == NONE {
            return Err(syntax(line, "\"none\" is reserved and cannot be defined"));
        }
        if let Some(d) = self.names.get(name) {
            return Err(Error::PolicyDuplicateName {
                line,
                name: truncated(name),
                first_line: d.line,
            });
        }
        Ok(())
    }

    fn resolve(&self, line: usize, name: &str) -> Result<Member> {
        if let Some(d) = self.names.get(name) {
            return Ok(d.member);
        }
        match self.all_names.get(name) {
            Some(&defined_at) => Err(Error::PolicyCycle {
                line,
                name: truncated(name),
                defined_at,
            }),
            None => Err(Error::PolicyUndefinedName {
                line,
                name: truncated(name),
            }),
        }
    }

    fn log(&mut self, line: usize, args: &[&str]) -> Result<()> {
        let (vkey, url) = match args {
            [vkey] => (*vkey, None),
            [vkey, url] => (*vkey, Some((*url).to_owned())),
            _ => return Err(syntax(line, "expected: log <vkey> [<url>]")),
        };
        if self.logs.len() >= MAX_LOGS {
            return Err(Error::PolicyLimit {
                line,
                what: "logs",
                max: MAX_LOGS,
            });
        }
        let verifier = parse_vkey(line, vkey)?;
        if matches!(verifier.public_key(), PublicKey::CosignatureV1(_)) {
            return Err(Error::PolicyKey {
                line,
                reason: "a log key must be Ed25519 (0x01) or ECDSA (0x02), not cosignature/v1"
                    .into(),
            });
        }
        if let Some(first) = self
            .logs
            .iter()
            .find(|l| key_bytes(&l.verifier) == key_bytes(&verifier))
        {
            return Err(Error::PolicyDuplicateKey {
                line,
                first_line: first.line,
            });
        }
        self.logs.push(PolicyLog {
            verifier,
            url,
            line,
        });
        Ok(())
    }

    fn witness(&mut self, line: usize, args: &[&str]) -> Result<()> {
        let (name, vkey, url) = match args {
            [name, vkey] => (*name, *vkey, None),
            [name, vkey, url] => (*name, *vkey, Some((*url).to_owned())),
            _ => return Err(syntax(line, "expected: witness <name> <vkey> [<url>]")),
        };
        self.check_new_name(line, name)?;
        if self.witnesses.len() >= MAX_WITNESSES {
            return Err(Error::PolicyLimit {
                line,
                what: "witnesses",
                max: MAX_WITNESSES,
            });
        }
        let verifier = parse_vkey(line, vkey)?;
        if !matches!(verifier.public_key(), PublicKey::CosignatureV1(_)) {
            return Err(Error::PolicyKey {
                line,
                reason: "a witness key must be cosignature/v1 (0x04)".into(),
            });
        }
        if let Some(first) = self
            .witnesses
            .iter()
            .find(|w| key_bytes(&w.verifier) == key_bytes(&verifier))
        {
            return Err(Error::PolicyDuplicateKey {
                line,
                first_line: first.line,
            });
        }
        self.names.insert(
            name.to_owned(),
            Definition {
                member: Member::Witness(self.witnesses.len()),
                line,
            },
        );
        self.witnesses.push(PolicyWitness {
            name: name.to_owned(),
            verifier,
            url,
            line,
        });
        Ok(())
    }

    fn group(&mut self, line: usize, args: &[&str]) -> Result<()> {
        let [name, threshold, members @ ..] = args else {
            return Err(syntax(
                line,
                "expected: group <name> all|any|<k> <member>...",
            ));
        };
        if members.is_empty() {
            return Err(syntax(line, "a group needs at least one member"));
        }
        self.check_new_name(line, name)?;
        if self.groups.len() >= MAX_GROUPS {
            return Err(Error::PolicyLimit {
                line,
                what: "groups",
                max: MAX_GROUPS,
            });
        }
        if members.len() > MAX_GROUP_MEMBERS {
            return Err(Error::PolicyLimit {
                line,
                what: "group members",
                max: MAX_GROUP_MEMBERS,
            });
        }
        let threshold = parse_threshold(line, threshold, members.len())?;
        let mut resolved = Vec::with_capacity(members.len());
        let mut seen = HashSet::new();
        let mut depth = 1;
        for m in members {
            if *m == NONE {
                return Err(syntax(line, "\"none\" cannot be a group member"));
            }
            if !seen.insert(*m) {
                return Err(Error::PolicyDuplicateMember {
                    line,
                    name: truncated(m),
                });
            }
            let member = self.resolve(line, m)?;
            if let Member::Group(g) = member {
                let d = self.depths.get(g).copied().unwrap_or(0);
                depth = depth.max(d.saturating_add(1));
            }
            resolved.push(member);
        }
        if depth > MAX_GROUP_DEPTH {
            return Err(Error::PolicyLimit {
                line,
                what: "levels of group nesting",
                max: MAX_GROUP_DEPTH,
            });
        }
        self.names.insert(
            (*name).to_owned(),
            Definition {
                member: Member::Group(self.groups.len()),
                line,
            },
        );
        self.depths.push(depth);
        self.groups.push(Group {
            name: (*name).to_owned(),
            threshold,
            members: resolved,
            line,
        });
        Ok(())
    }

    fn quorum(&mut self, line: usize, args: &[&str]) -> Result<()> {
        let [name] = args else {
            return Err(syntax(line, "expected: quorum <name>|none"));
        };
        if let Some((_, first_line)) = self.quorum {
            return Err(Error::PolicyDuplicateQuorum { line, first_line });
        }
        let quorum = if *name == NONE {
            Quorum::None
        } else {
            match self.resolve(line, name)? {
                Member::Witness(w) => Quorum::Witness(w),
                Member::Group(g) => Quorum::Group(g),
            }
        };
        self.quorum = Some((quorum, line));
        Ok(())
    }
}

impl Policy {
    /// Parses a tlog-policy file.
    ///
    /// # Errors
    /// [`Error::PolicyTooLarge`], [`Error::PolicySyntax`],
    /// [`Error::PolicyUnknownKeyword`], [`Error::PolicyKey`],
    /// [`Error::PolicyDuplicateName`], [`Error::PolicyDuplicateKey`],
    /// [`Error::PolicyDuplicateMember`], [`Error::PolicyUndefinedName`],
    /// [`Error::PolicyCycle`], [`Error::PolicyThreshold`],
    /// [`Error::PolicyLimit`], [`Error::PolicyDuplicateQuorum`] or
    /// [`Error::PolicyMissingQuorum`], each with the line it concerns.
    pub fn parse(text: &[u8]) -> Result<Policy> {
        let lines = tokenize(text)?;
        let mut all_names = HashMap::new();
        for l in &lines {
            if let ["witness" | "group", name, ..] = l.fields.as_slice() {
                all_names.entry((*name).to_owned()).or_insert(l.number);
            }
        }
        let mut p = Parser {
            logs: Vec::new(),
            witnesses: Vec::new(),
            groups: Vec::new(),
            depths: Vec::new(),
            names: HashMap::new(),
            all_names,
            quorum: None,
        };
        for l in &lines {
            let Some((keyword, args)) = l.fields.split_first() else {
                continue;
            };
            match *keyword {
                "log" => p.log(l.number, args)?,
                "witness" => p.witness(l.number, args)?,
                "group" => p.group(l.number, args)?,
                "quorum" => p.quorum(l.number, args)?,
                other => {
                    return Err(Error::PolicyUnknownKeyword {
                        line: l.number,
                        keyword: truncated(other),
                    });
                }
            }
        }
        let (quorum, _) = p.quorum.ok_or(Error::PolicyMissingQuorum)?;
        Ok(Policy {
            logs: p.logs,
            witnesses: p.witnesses,
            groups: p.groups,
            quorum,
        })
    }

    /// The logs, in file order.
    pub fn logs(&self) -> &[PolicyLog] {
        &self.logs
    }

    /// The witnesses, in file order.
    pub fn witnesses(&self) -> &[PolicyWitness] {
        &self.witnesses
    }

    /// The groups, in file order.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The quorum.
    pub fn quorum(&self) -> Quorum {
        self.quorum
    }

    /// The log whose origin (vkey name) is `origin`.
    pub fn log(&self, origin: &str) -> Option<&PolicyLog> {
        self.logs.iter().find(|l| l.verifier.name() == origin)
    }

    /// Whether the quorum holds when exactly the witnesses with these policy
    /// names cosigned. Names that are not policy witnesses count for
    /// nothing (a group name in the set does not satisfy the group).
    pub fn satisfied_by(&self, cosigners: &HashSet<String>) -> bool {
        let witness_ok: Vec<bool> = self
            .witnesses
            .iter()
            .map(|w| cosigners.contains(&w.name))
            .collect();
        self.evaluate(&witness_ok)
    }

    /// Evaluates the quorum given which witnesses (by index) cosigned.
    /// Groups only refer to earlier groups, so one pass in file order
    /// settles them all.
    fn evaluate(&self, witness_ok: &[bool]) -> bool {
        let mut group_ok: Vec<bool> = Vec::with_capacity(self.groups.len());
        for g in &self.groups {
            let satisfied = g
                .members
                .iter()
                .filter(|m| match m {
                    Member::Witness(w) => witness_ok.get(*w).copied().unwrap_or(false),
                    Member::Group(i) => group_ok.get(*i).copied().unwrap_or(false),
                })
                .count();
            group_ok.push(satisfied >= g.needed());
        }
        match self.quorum {
            Quorum::None => true,
            Quorum::Witness(w) => witness_ok.get(w).copied().unwrap_or(false),
            Quorum::Group(g) => group_ok.get(g).copied().unwrap_or(false),
        }
    }

    /// Checks a signed checkpoint note against the policy: its origin must
    /// be a policy log and that log's signature must verify; then reports
    /// which policy witnesses validly cosigned it (`cosignature/v1`) and
    /// whether the quorum holds.
    ///
    /// Signed-note rules apply (`c2sp.md` §6.2): lines by keys outside the
    /// policy (another name, or a policy name with another key ID) are
    /// ignored and count for nothing; a line by a policy log or witness key
    /// that does not verify rejects the whole checkpoint.
    ///
    /// # Errors
    /// [`Error::MalformedNote`], [`Error::MalformedCheckpoint`],
    /// [`Error::PolicyUnknownLog`], [`Error::NoKnownSignature`] (the log did
    /// not sign), [`Error::InvalidSignature`] (a bad log signature or a
    /// forged cosignature).
    pub fn check_checkpoint(&self, note: &[u8]) -> Result<QuorumReport> {
        let parsed = Note::parse(note)?;
        let origin = Checkpoint::parse(&parsed.text)?.origin;
        let log = self.log(&origin).ok_or_else(|| Error::PolicyUnknownLog {
            origin: truncated(&origin),
        })?;
        let cosigners: Vec<NoteVerifier> =
            self.witnesses.iter().map(|w| w.verifier.clone()).collect();
        let signed = SignedCheckpoint::open(note, &log.verifier, &cosigners, Some(&origin))?;
        let mut witness_ok = vec![false; self.witnesses.len()];
        let mut cosigned = Vec::new();
        for (i, w) in self.witnesses.iter().enumerate() {
            let found = signed
                .note
                .verified
                .iter()
                .find(|v| v.name == w.verifier.name() && v.key_id == w.verifier.key_id());
            if let Some(v) = found
                && let Some(timestamp) = v.timestamp
            {
                witness_ok[i] = true;
                cosigned.push(Cosigned {
                    name: w.name.clone(),
                    key_name: v.name.clone(),
                    key_id: v.key_id,
                    timestamp,
                });
            }
        }
        Ok(QuorumReport {
            quorum_met: self.evaluate(&witness_ok),
            checkpoint: signed.checkpoint,
            cosigned,
        })
    }
}
