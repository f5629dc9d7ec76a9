//! `islet proof`: a `c2sp.org/tlog-proof@v1` file for one entry of the own
//! log or a mirror (its inclusion proof and the cosigned checkpoint), which
//! `islet verify --tlog-proof` checks with no log at hand.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use islet_store::datadir::DataDir;
use islet_store::engine::hash_reader;
use islet_store::{LogNumber, LogStore, SearchKind, Store};
use islet_tlog::merkle::{inclusion_proof, leaf_hash};
use islet_tlog::note::Note;
use islet_tlog::proof_file::TlogProof;
use islet_verify::ArtifactDigest;

use crate::report::failure;

/// Most entries one `--digest` may match before the command asks for
/// `--index`.
const MAX_DIGEST_MATCHES: usize = 16;

#[derive(Args)]
#[command(group(clap::ArgGroup::new("which").args(["index", "digest"]).required(true)))]
pub(crate) struct ProofArgs {
    /// The data directory holding the log.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// The entry's index.
    #[arg(long, value_name = "N")]
    index: Option<u64>,
    /// The artifact digest the entry records (sha256:HEX, sha384:HEX,
    /// sha512:HEX); it must match exactly one entry.
    #[arg(long, value_name = "ALG:HEX")]
    digest: Option<String>,
    /// The log's origin: a mirror of the data directory (default: its own
    /// log).
    #[arg(long, value_name = "ORIGIN")]
    log: Option<String>,
    /// A witness policy (tlog-policy) the proof must meet; the file then
    /// carries only the log's signature and the policy witnesses'
    /// cosignatures.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Where to write the proof (default: standard output).
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Also write the entry itself (what `islet verify --entry` takes).
    #[arg(long, value_name = "FILE")]
    entry_out: Option<PathBuf>,
}

pub(crate) fn run(a: &ProofArgs) -> ExitCode {
    match make(a) {
        Ok((proof, entry)) => {
            let bytes = proof.to_bytes();
            let written = match &a.output {
                Some(path) => std::fs::write(path, &bytes)
                    .map_err(|e| format!("--output {}: {e}", path.display())),
                None => {
                    use std::io::Write;
                    std::io::stdout()
                        .write_all(&bytes)
                        .map_err(|e| format!("stdout: {e}"))
                }
            };
            let written = written.and_then(|()| match &a.entry_out {
                Some(path) => std::fs::write(path, &entry)
                    .map_err(|e| format!("--entry-out {}: {e}", path.display())),
                None => Ok(()),
            });
            match written {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => failure("islet proof", false, false, &e),
            }
        }
        Err((refused, e)) => failure("islet proof", false, refused, &e),
    }
}

/// The proof and the entry, or (whether it is a refusal, why).
fn make(a: &ProofArgs) -> Result<(TlogProof, Vec<u8>), (bool, String)> {
    let usage = |e: String| (false, e);
    let data = DataDir::new(&a.data);
    let store = Store::open_read_only(&data.db_path()).map_err(|e| usage(e.to_string()))?;
    let own = data.load_config().ok().and_then(|c| c.origin);
    let (mut log, origin) = pick_log(&store, a.log.as_deref(), own).map_err(usage)?;
    // The own log of a node on PostgreSQL is read from the database.
    let in_postgres = if log == store.own_log() {
        crate::snapshot::own_log_if_in_postgres(&data).map_err(|e| usage(e.to_string()))?
    } else {
        None
    };
    let store: &dyn LogStore = match &in_postgres {
        Some((pg, row)) => {
            log = row.number;
            pg
        }
        None => &store,
    };
    let head = store
        .tree_head(log)
        .map_err(|e| usage(e.to_string()))?
        .ok_or_else(|| usage(format!("{origin} has no entries yet")))?;
    let index = match (a.index, &a.digest) {
        (Some(i), _) => i,
        (None, Some(d)) => by_digest(store, log, d)?,
        (None, None) => return Err(usage("give --index or --digest".into())),
    };
    if index >= head.size {
        return Err(usage(format!(
            "{origin} has {} entries; there is no index {index}",
            head.size
        )));
    }
    let entry = store
        .entry(log, index, head.size)
        .map_err(|e| usage(e.to_string()))?
        .ok_or_else(|| usage(format!("entry {index} of {origin} is not stored")))?;
    let note = store
        .checkpoint_at(log, head.size)
        .map_err(|e| usage(e.to_string()))?
        .unwrap_or(head.checkpoint);
    let proof = inclusion_proof(index, head.size, &hash_reader(store, log, head.size))
        .map_err(|e| usage(e.to_string()))?;
    let mut file = TlogProof {
        extra: None,
        index,
        proof,
        checkpoint: note,
    };
    if let Some(path) = &a.policy {
        let text =
            std::fs::read(path).map_err(|e| usage(format!("--policy {}: {e}", path.display())))?;
        let policy = islet_verify::witness::parse_policy(&text)
            .map_err(|f| usage(format!("--policy {}: {}", path.display(), f.reason)))?;
        file.checkpoint = only_policy_lines(&file.checkpoint, &policy, &origin).map_err(usage)?;
        file.verify(&leaf_hash(&entry), &policy)
            .map_err(|e| (true, format!("the proof does not meet --policy: {e}")))
            .and_then(|report| {
                if report.quorum_met {
                    Ok(())
                } else {
                    Err((
                        true,
                        "the checkpoint does not carry the policy's quorum of cosignatures yet"
                            .into(),
                    ))
                }
            })?;
    }
    Ok((file, entry))
}

fn pick_log(
    store: &Store,
    wanted: Option<&str>,
    own: Option<String>,
) -> Result<(LogNumber, String), String> {
    match (wanted, own) {
        (None, Some(own)) => Ok((store.own_log(), own)),
        (Some(w), Some(own)) if w == own => Ok((store.own_log(), own)),
        (Some(w), _) => store
            .other_log(w)
            .map_err(|e| e.to_string())?
            .map(|(number, _)| (number, w.to_owned()))
            .ok_or_else(|| format!("--log {w}: the data directory holds no log of that origin")),
        (None, None) => Err("the data directory has no own log; name a mirror with --log".into()),
    }
}

fn by_digest(store: &dyn LogStore, log: LogNumber, digest: &str) -> Result<u64, (bool, String)> {
    let d = ArtifactDigest::parse(digest).map_err(|e| (false, format!("--digest {e}")))?;
    let found = store
        .search(
            log,
            SearchKind::ArtifactDigest,
            &d.digest,
            MAX_DIGEST_MATCHES + 1,
        )
        .map_err(|e| (false, e.to_string()))?;
    match found.as_slice() {
        [] => Err((true, format!("no entry records {digest}"))),
        [one] => Ok(*one),
        many => Err((
            false,
            format!(
                "{} entries record {digest} (indexes {}{}); choose one with --index",
                many.len().min(MAX_DIGEST_MATCHES),
                many.iter()
                    .take(MAX_DIGEST_MATCHES)
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                if many.len() > MAX_DIGEST_MATCHES {
                    ", …"
                } else {
                    ""
                }
            ),
        )),
    }
}

/// The checkpoint with only the log's signature lines and those of the
/// policy's witnesses: a line of anyone else is not needed to verify, and
/// a verifier cannot tell an unknown line from noise.
fn only_policy_lines(
    note: &[u8],
    policy: &islet_verify::WitnessPolicy,
    origin: &str,
) -> Result<Vec<u8>, String> {
    let mut parsed = Note::parse(note).map_err(|e| e.to_string())?;
    parsed.signatures.retain(|s| {
        s.name == origin
            || policy
                .witnesses()
                .iter()
                .any(|w| w.verifier.name() == s.name && w.verifier.key_id() == s.key_id)
    });
    Ok(parsed.to_bytes())
}
