//! `islet verify`: the transparency-log part of Sigstore bundles, offline.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use islet_reader::local::{LocalLogs, TileLog};
use islet_store::view::DataDirLogs;
use islet_verify::bundle::MAX_BUNDLE_FILE_BYTES;
use islet_verify::trusted_root::{MAX_TRUSTED_ROOT_BYTES, TrustedRoot};
use islet_verify::{Check, Failure, Verifier};
use sha2::{Digest, Sha256};

use crate::{EXIT_USAGE_OR_IO, EXIT_VERIFICATION};

#[derive(Args)]
#[command(group(clap::ArgGroup::new("artifact_group").args(["artifact", "digest"])))]
pub(crate) struct VerifyArgs {
    /// Sigstore bundles (media types v0.1 to v0.3), one verdict each.
    #[arg(long, value_name = "FILE", num_args = 1.., required = true)]
    bundle: Vec<PathBuf>,
    /// The trusted root naming the logs and their keys.
    #[arg(long, value_name = "FILE")]
    trusted_root: PathBuf,
    /// Also check against a local copy: a data directory (own log or
    /// mirror), a tlog-tiles directory or URL. The entry must be there and
    /// the bundle's checkpoint consistent with it.
    #[arg(long, value_name = "DIR|URL")]
    log: Option<String>,
    /// The artifact the bundles sign; its SHA-256 must be the signed digest.
    #[arg(long, value_name = "FILE")]
    artifact: Option<PathBuf>,
    /// The artifact's digest, as sha256:HEX.
    #[arg(long, value_name = "sha256:HEX")]
    digest: Option<String>,
    /// Print the verdicts as JSON.
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

fn artifact_digest(a: &VerifyArgs) -> Result<Option<[u8; 32]>, String> {
    if let Some(path) = &a.artifact {
        let mut file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut hasher = Sha256::new();
        std::io::copy(&mut file, &mut hasher).map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok(Some(hasher.finalize().into()));
    }
    let Some(d) = &a.digest else {
        return Ok(None);
    };
    let hex_part = d
        .strip_prefix("sha256:")
        .ok_or_else(|| format!("--digest {d:.80}: give sha256:HEX"))?;
    let bytes = hex::decode(hex_part).map_err(|_| format!("--digest {d:.80}: not hex"))?;
    bytes
        .try_into()
        .map(Some)
        .map_err(|_| format!("--digest {d:.80}: a SHA-256 digest has 32 bytes"))
}

pub(crate) fn run(a: &VerifyArgs) -> ExitCode {
    let root = match read_capped(&a.trusted_root, MAX_TRUSTED_ROOT_BYTES)
        .and_then(|b| TrustedRoot::parse(&b))
    {
        Ok(r) => r,
        Err(e) => {
            return usage(
                a.json,
                &format!("--trusted-root {}: {e}", a.trusted_root.display()),
            );
        }
    };
    let artifact = match artifact_digest(a) {
        Ok(d) => d,
        Err(e) => return usage(a.json, &e),
    };
    let local = match a.log.as_deref().map(open_local).transpose() {
        Ok(l) => l,
        Err(e) => return usage(a.json, &format!("--log {e}")),
    };
    let verifier = Verifier::new(&root, local.as_deref(), artifact);
    let (mut failed, mut unreadable) = (0usize, 0usize);
    let mut verdicts = Vec::new();
    for path in &a.bundle {
        let result = match read_capped(path, MAX_BUNDLE_FILE_BYTES) {
            Ok(bytes) => verifier.verify(&bytes),
            Err(e) => {
                unreadable += 1;
                Err(Failure {
                    check: Check::Bundle,
                    reason: e,
                })
            }
        };
        let name = path.display().to_string();
        match &result {
            Ok(v) => {
                if !a.json {
                    let local = v
                        .local_size
                        .map(|n| {
                            format!("; present in the local log (size {n}) and consistent with it")
                        })
                        .unwrap_or_default();
                    let key = if v.key_from_log {
                        "; signature checked with the key the log recorded (the bundle gives a hint only)"
                    } else {
                        ""
                    };
                    println!(
                        "OK {name}: {} {} entry {} of {}, included in its signed checkpoint of size {}{local}{key}",
                        v.kind, v.version, v.log_index, v.origin, v.tree_size
                    );
                }
            }
            Err(f) => {
                failed += 1;
                if !a.json {
                    println!(
                        "FAIL {name}: {}: {}",
                        serde_json::to_value(f.check)
                            .ok()
                            .and_then(|c| c.as_str().map(str::to_owned))
                            .unwrap_or_default(),
                        f.reason
                    );
                }
            }
        }
        if a.json {
            verdicts.push(match result {
                Ok(v) => serde_json::json!({ "bundle": name, "ok": true, "verified": v }),
                Err(f) => serde_json::json!({ "bundle": name, "ok": false, "check": f.check, "reason": f.reason }),
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
