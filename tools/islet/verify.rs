//! `islet verify`: Sigstore bundles verified completely, offline: who
//! signed (certificate chain and identity, or a key), when (RFC 3161
//! timestamps and Rekor v1 SETs), and that the logs agree.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use islet_reader::local::{LocalLogs, TileLog};
use islet_store::view::DataDirLogs;
use islet_verify::binding::Binding;
use islet_verify::bundle::MAX_BUNDLE_FILE_BYTES;
use islet_verify::identity::IdentityPolicy;
use islet_verify::policy::read_public_key;
use islet_verify::timestamp::TimeSource;
use islet_verify::trusted_root::{MAX_TRUSTED_ROOT_BYTES, TrustedRoot};
use islet_verify::{Artifact, ArtifactDigest, Check, Failure, Policy, Subject, Verified, Verifier};

use crate::{EXIT_USAGE_OR_IO, EXIT_VERIFICATION};

#[derive(Args)]
#[command(group(clap::ArgGroup::new("artifact_group").args(["artifact", "digest"])))]
#[command(group(clap::ArgGroup::new("identity_group").args(["certificate_identity", "certificate_identity_regexp"]).multiple(true)))]
#[command(group(clap::ArgGroup::new("issuer_group").args(["certificate_oidc_issuer", "certificate_oidc_issuer_regexp"]).multiple(true)))]
pub(crate) struct VerifyArgs {
    /// Sigstore bundles (media types v0.1 to v0.3), one verdict each.
    #[arg(long, value_name = "FILE", num_args = 1.., required_unless_present = "tlog_proof")]
    bundle: Vec<PathBuf>,
    /// The trusted root: the logs, certificate authorities, CT logs and
    /// timestamp authorities, with their keys and validity.
    #[arg(long, value_name = "FILE", required_unless_present = "tlog_proof")]
    trusted_root: Option<PathBuf>,
    /// A witness policy (C2SP tlog-policy: `log`, `witness`, `group`,
    /// `quorum`): every checkpoint must be signed by a log it lists and
    /// carry its quorum of witness cosignatures. The verdict names who
    /// cosigned.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Verify a c2sp.org/tlog-proof@v1 file (from `islet proof`) instead of
    /// bundles: the entry's inclusion in a checkpoint signed by the log of
    /// --policy (with its quorum) or of --vkey.
    #[arg(long, value_name = "FILE", requires = "entry", conflicts_with_all = ["bundle", "trusted_root"])]
    tlog_proof: Option<PathBuf>,
    /// The entry the proof is for (the log entry's bytes).
    #[arg(long, value_name = "FILE", requires = "tlog_proof")]
    entry: Option<PathBuf>,
    /// The log's verifier key, for a proof checked without --policy.
    #[arg(
        long,
        value_name = "VKEY",
        requires = "tlog_proof",
        conflicts_with = "policy"
    )]
    vkey: Option<String>,
    /// Also check against a local copy: a data directory (own log or
    /// mirror), a tlog-tiles directory or URL. The entry must be there and
    /// the bundle's checkpoint consistent with it.
    #[arg(long, value_name = "DIR|URL")]
    log: Option<String>,
    /// The artifact the bundles sign: the signed digest, or a subject of
    /// the in-toto statement, must be its digest.
    #[arg(long, value_name = "FILE")]
    artifact: Option<PathBuf>,
    /// The artifact's digest, as sha256:HEX, sha384:HEX or sha512:HEX.
    #[arg(long, value_name = "ALG:HEX")]
    digest: Option<String>,
    /// The signing certificate's identity (its SAN: an email, URI or
    /// Fulcio username), exactly.
    #[arg(long, value_name = "IDENTITY")]
    certificate_identity: Option<String>,
    /// A regular expression the certificate's identity must match
    /// (unanchored, as cosign).
    #[arg(long, value_name = "REGEXP")]
    certificate_identity_regexp: Option<String>,
    /// The OIDC issuer the certificate names, exactly.
    #[arg(long, value_name = "URL")]
    certificate_oidc_issuer: Option<String>,
    /// A regular expression the certificate's OIDC issuer must match.
    #[arg(long, value_name = "REGEXP")]
    certificate_oidc_issuer_regexp: Option<String>,
    /// The public key (PEM) of key-signed bundles, instead of a
    /// certificate identity.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["identity_group", "issuer_group"])]
    key: Option<PathBuf>,
    /// Distinct transparency logs that must verify each bundle.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        conflicts_with = "no_tlog"
    )]
    min_tlog: usize,
    /// Require no transparency-log entry (bundles without one, such as
    /// private GitHub attestations); entries present must still verify.
    #[arg(long)]
    no_tlog: bool,
    /// Verified RFC 3161 timestamps each bundle needs (default: 1 when
    /// every log entry is a Rekor v2 one, which carries no time).
    #[arg(long, value_name = "N")]
    min_tsa: Option<usize>,
    /// Verified times (RFC 3161 timestamps and Rekor v1 SETs) each bundle
    /// needs (default: 1 for certificate bundles).
    #[arg(long, value_name = "N")]
    min_timestamps: Option<usize>,
    /// Do not require an SCT from a CT log of the trusted root (for a site
    /// CA that logs to no CT log).
    #[arg(long)]
    no_sct: bool,
    /// Print the verdicts as JSON: one object per bundle in `results`.
    #[arg(long)]
    json: bool,
}

fn usage(json: bool, reason: &str) -> ExitCode {
    if json {
        println!(
            "{}",
            serde_json::json!({ "ok": false, "failure": "error", "error": reason })
        );
    }
    eprintln!("islet verify: error: {reason}");
    ExitCode::from(EXIT_USAGE_OR_IO)
}

/// Reads at most `max` bytes of a file, refusing a larger one.
fn read_capped(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut data = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut data)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if data.len() as u64 > max {
        return Err(format!(
            "{}: larger than the {max}-byte limit",
            path.display()
        ));
    }
    Ok(data)
}

/// Largest `--key` file read.
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// The policy the flags give.
fn policy(a: &VerifyArgs) -> Result<Policy, String> {
    let artifact = if let Some(path) = &a.artifact {
        let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Some(Subject::Artifact(
            Artifact::read(file).map_err(|e| format!("{}: {e}", path.display()))?,
        ))
    } else if let Some(d) = &a.digest {
        Some(Subject::Digest(
            ArtifactDigest::parse(d).map_err(|e| format!("--digest {e}"))?,
        ))
    } else {
        None
    };
    let key = a
        .key
        .as_ref()
        .map(|path| {
            read_capped(path, MAX_KEY_FILE_BYTES)
                .and_then(|b| read_public_key(&b))
                .map_err(|e| format!("--key {}: {e}", path.display()))
        })
        .transpose()?;
    let wants_identity = a.certificate_identity.is_some()
        || a.certificate_identity_regexp.is_some()
        || a.certificate_oidc_issuer.is_some()
        || a.certificate_oidc_issuer_regexp.is_some();
    let identity = if wants_identity {
        Some(
            IdentityPolicy::new(
                a.certificate_identity.clone(),
                a.certificate_identity_regexp.as_deref(),
                a.certificate_oidc_issuer.clone(),
                a.certificate_oidc_issuer_regexp.as_deref(),
            )
            .map_err(|f| f.reason)?,
        )
    } else {
        None
    };
    let witness_policy = a.policy.as_deref().map(read_witness_policy).transpose()?;
    Ok(Policy {
        identity,
        key,
        artifact,
        min_tlog: if a.no_tlog { 0 } else { a.min_tlog },
        min_tsa: a.min_tsa,
        min_timestamps: a.min_timestamps,
        require_sct: !a.no_sct,
        witness_policy,
    })
}

fn read_witness_policy(path: &Path) -> Result<islet_verify::WitnessPolicy, String> {
    let text = read_capped(path, islet_verify::witness::MAX_POLICY_BYTES as u64)
        .map_err(|e| format!("--policy {e}"))?;
    islet_verify::witness::parse_policy(&text)
        .map_err(|f| format!("--policy {}: {}", path.display(), f.reason))
}

/// `--tlog-proof FILE --entry FILE`: one proof, one verdict.
fn run_proof(a: &VerifyArgs, proof_path: &Path) -> ExitCode {
    let Some(entry_path) = &a.entry else {
        return usage(a.json, "--tlog-proof needs --entry");
    };
    let read = read_capped(proof_path, islet_verify::proof::MAX_PROOF_FILE_BYTES as u64)
        .map_err(|e| format!("--tlog-proof {e}"))
        .and_then(|proof| {
            read_capped(entry_path, islet_verify::proof::MAX_ENTRY_BYTES as u64 + 1)
                .map(|entry| (proof, entry))
                .map_err(|e| format!("--entry {e}"))
        });
    let (proof, entry) = match read {
        Ok(r) => r,
        Err(e) => return usage(a.json, &e),
    };
    let verdict = match (&a.policy, &a.vkey) {
        (Some(path), _) => match read_witness_policy(path) {
            Ok(policy) => islet_verify::verify_tlog_proof(&proof, &entry, &policy),
            Err(e) => return usage(a.json, &e),
        },
        (None, Some(vkey)) => match islet_verify::proof::log_key_from_vkey(vkey) {
            Ok(key) => islet_verify::verify_tlog_proof_with_key(&proof, &entry, &key),
            Err(f) => return usage(a.json, &format!("--vkey: {}", f.reason)),
        },
        (None, None) => return usage(a.json, "--tlog-proof needs --policy or --vkey"),
    };
    let name = proof_path.display().to_string();
    match verdict {
        Ok(v) => {
            if a.json {
                println!(
                    "{}",
                    serde_json::json!({ "ok": true, "proof": name, "verdict": "valid", "verified": v })
                );
            } else {
                let cosigned: Vec<&str> = v
                    .witnesses
                    .iter()
                    .filter(|w| w.cosigned)
                    .map(|w| w.name.as_str())
                    .collect();
                println!(
                    "OK {name}: entry {} of {} in its checkpoint of size {}; quorum {} met{}",
                    v.index,
                    v.origin,
                    v.size,
                    v.quorum,
                    if cosigned.is_empty() {
                        String::new()
                    } else {
                        format!(", cosigned by {}", cosigned.join(", "))
                    }
                );
            }
            ExitCode::SUCCESS
        }
        Err(f) => {
            if a.json {
                println!(
                    "{}",
                    serde_json::json!({ "ok": false, "proof": name, "verdict": "invalid", "check": f.check, "reason": f.reason })
                );
            } else {
                println!("FAIL {name}: {}: {}", check_name(f.check), f.reason);
            }
            ExitCode::from(EXIT_VERIFICATION)
        }
    }
}

fn check_name(check: Check) -> String {
    serde_json::to_value(check)
        .ok()
        .and_then(|c| c.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// One line saying what a verified bundle showed.
fn ok_line(name: &str, v: &Verified) -> String {
    let signer = if v.signed_by_key {
        "signed by the given key".to_owned()
    } else {
        format!(
            "signed by {} (issuer {})",
            v.identity.as_deref().unwrap_or("?"),
            v.issuer.as_deref().unwrap_or("none")
        )
    };
    let times: Vec<String> = v
        .times
        .iter()
        .map(|t| {
            let when = humantime::format_rfc3339_seconds(t.time);
            match &t.source {
                TimeSource::TimestampAuthority { uri } => format!("{when} (timestamp of {uri})"),
                TimeSource::Tlog { log, log_index } => {
                    format!("{when} (SET of {log} entry {log_index})")
                }
            }
        })
        .collect();
    let entries: Vec<String> = v
        .entries
        .iter()
        .map(|e| {
            let local = e
                .local_size
                .map(|n| format!(", present in the local log (size {n}) and consistent with it"))
                .unwrap_or_default();
            format!(
                "{} {} entry {} of {} in its checkpoint of size {}{local}",
                e.kind, e.version, e.log_index, e.origin, e.tree_size
            )
        })
        .collect();
    let binding = match &v.binding {
        Binding::MessageDigest {
            artifact_checked: true,
            ..
        } => "over the artifact's digest".to_owned(),
        Binding::MessageDigest { digest, .. } => {
            format!("over digest {digest} (no artifact given)")
        }
        Binding::Subject { name, .. } => format!("attesting subject {name:?}, the artifact"),
        Binding::EnvelopeOnly { payload_type } => format!(
            "a {payload_type} envelope (no artifact given: only the envelope's signature was checked)"
        ),
    };
    format!(
        "OK {name}: {signer}, {binding}; at {}; {}",
        if times.is_empty() {
            "no verified time".to_owned()
        } else {
            times.join(", ")
        },
        if entries.is_empty() {
            "no log entry".to_owned()
        } else {
            entries.join("; ")
        }
    )
}

pub(crate) fn run(a: &VerifyArgs) -> ExitCode {
    if let Some(proof) = &a.tlog_proof {
        return run_proof(a, proof);
    }
    let Some(trusted_root) = &a.trusted_root else {
        return usage(a.json, "give --trusted-root (or --tlog-proof)");
    };
    let root_bytes = match read_capped(trusted_root, MAX_TRUSTED_ROOT_BYTES) {
        Ok(b) => b,
        Err(e) => return usage(a.json, &format!("--trusted-root {e}")),
    };
    let policy = match policy(a) {
        Ok(p) => p,
        Err(e) => return usage(a.json, &e),
    };
    let local = match a.log.as_deref().map(open_local).transpose() {
        Ok(l) => l,
        Err(e) => return usage(a.json, &format!("--log {e}")),
    };
    // A readable trusted root that does not conform (a log without
    // validFor.start, say) is a verdict on every bundle, not a usage error.
    let root = TrustedRoot::parse(&root_bytes).map_err(|e| Failure {
        check: Check::TrustedRoot,
        reason: format!("{}: {e}", trusted_root.display()),
    });
    let verifier = root
        .as_ref()
        .map(|r| Verifier::new(r, local.as_deref(), policy));
    let results = verify_all(&a.bundle, verifier.as_ref().map_err(|f| *f));
    let (mut failed, mut unreadable) = (0usize, 0usize);
    let mut verdicts = Vec::new();
    for (path, (result, readable)) in a.bundle.iter().zip(results) {
        if !readable {
            unreadable += 1;
        }
        let name = path.display().to_string();
        match &result {
            Ok(v) if !a.json => println!("{}", ok_line(&name, v)),
            Ok(_) => {}
            Err(f) => {
                failed += 1;
                if !a.json {
                    println!("FAIL {name}: {}: {}", check_name(f.check), f.reason);
                }
            }
        }
        if a.json {
            verdicts.push(match result {
                Ok(v) => serde_json::json!({
                    "bundle": name,
                    "ok": true,
                    "verdict": "valid",
                    "identity": v.identity,
                    "issuer": v.issuer,
                    "times": v.times,
                    "log_entries": v.entries.iter().map(|e| serde_json::json!({ "origin": e.origin, "log_index": e.log_index, "witness": e.witness })).collect::<Vec<_>>(),
                    "rekor_verified": v.rekor_verified,
                    "rekor_age_hours": v.rekor_age_hours,
                    "verified": v,
                }),
                Err(f) => serde_json::json!({
                    "bundle": name,
                    "ok": false,
                    "verdict": "invalid",
                    "check": f.check,
                    "reason": f.reason,
                    "rekor_verified": false,
                    "rekor_age_hours": null,
                }),
            });
        }
    }
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "ok": failed == 0,
                "verified": a.bundle.len() - failed,
                "failed": failed,
                "results": verdicts,
            })
        );
    }
    if unreadable > 0 {
        ExitCode::from(EXIT_USAGE_OR_IO)
    } else if failed > 0 {
        ExitCode::from(EXIT_VERIFICATION)
    } else {
        ExitCode::SUCCESS
    }
}

/// One bundle's verdict, and whether its file could be read.
fn verdict(
    path: &Path,
    verifier: Result<&Verifier<'_>, &Failure>,
) -> (Result<Verified, Failure>, bool) {
    match (read_capped(path, MAX_BUNDLE_FILE_BYTES), verifier) {
        (Err(e), _) => (
            Err(Failure {
                check: Check::Bundle,
                reason: e,
            }),
            false,
        ),
        (Ok(bytes), Ok(verifier)) => (verifier.verify(&bytes), true),
        (Ok(_), Err(f)) => (Err(f.clone()), true),
    }
}

/// Every bundle's verdict, in the order given, verified on as many threads
/// as the machine has cores (each holds one bundle file at a time).
fn verify_all(
    paths: &[PathBuf],
    verifier: Result<&Verifier<'_>, &Failure>,
) -> Vec<(Result<Verified, Failure>, bool)> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(paths.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let mut out: Vec<Option<(Result<Verified, Failure>, bool)>> =
        (0..paths.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = paths.get(i) else { break };
                        mine.push((i, verdict(path, verifier)));
                    }
                    mine
                })
            })
            .collect();
        for handle in handles {
            for (i, r) in handle.join().unwrap_or_default() {
                if let Some(slot) = out.get_mut(i) {
                    *slot = Some(r);
                }
            }
        }
    });
    out.into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                (
                    Err(Failure {
                        check: Check::Bundle,
                        reason: "the verifying thread stopped before this bundle's verdict".into(),
                    }),
                    true,
                )
            })
        })
        .collect()
}

/// Opens `--log`: a data directory (it has a store), another directory (a
/// tlog-tiles tree) or an `http(s)://` prefix.
fn open_local(arg: &str) -> Result<Box<dyn LocalLogs>, String> {
    let path = Path::new(arg);
    if DataDirLogs::is_data_dir(path) {
        let logs = DataDirLogs::open(path).map_err(|e| format!("{arg}: {e}"))?;
        return Ok(Box::new(logs));
    }
    if !(arg.starts_with("http://") || arg.starts_with("https://") || path.is_dir()) {
        return Err(format!(
            "{arg}: not a data directory, a tlog-tiles directory or an http(s):// URL"
        ));
    }
    let log = TileLog::open(arg).map_err(|e| e.to_string())?;
    Ok(Box::new(log))
}
