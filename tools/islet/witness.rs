//! `islet witness key | list`: islet as a witness for other logs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use islet_server::mirrors::origin_hash_hex;
use islet_store::Store;
use islet_store::datadir::DataDir;

use crate::report::failure;

#[derive(Subcommand)]
pub(crate) enum WitnessCommand {
    /// Print the witness's verifier key (a cosignature/v1 vkey), for the
    /// `witness` lines of the logs' policies; creates the key on first use.
    Key(KeyArgs),
    /// List the logs this islet witnesses: per origin the cosigned size and
    /// root, the time of the last cosignature, and the fork evidence kept.
    List(ListArgs),
}

#[derive(Args)]
pub(crate) struct KeyArgs {
    /// The data directory (initialised with islet init).
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
}

#[derive(Args)]
pub(crate) struct ListArgs {
    /// The data directory.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Print one JSON object, with the evidence in full.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(command: &WitnessCommand) -> ExitCode {
    match command {
        WitnessCommand::Key(a) => run_key(a),
        WitnessCommand::List(a) => run_list(a),
    }
}

fn run_key(a: &KeyArgs) -> ExitCode {
    let data = DataDir::new(&a.data);
    let loaded = data
        .load_config()
        .and_then(islet_store::config::RawConfig::validate)
        .and_then(|cfg| {
            let mirror = data.load_mirror_signer(&cfg)?;
            data.load_witness_signer(&cfg, &mirror)
        });
    match loaded {
        Ok(signer) => {
            println!(
                "{}",
                islet_tlog::note::NoteSigner::verifier(signer.as_ref()).to_vkey()
            );
            ExitCode::SUCCESS
        }
        Err(e) => failure("islet witness key", false, false, &e),
    }
}

fn run_list(a: &ListArgs) -> ExitCode {
    let data = DataDir::new(&a.data);
    let store = match Store::open_read_only(&data.db_path()) {
        Ok(s) => s,
        Err(e) => return failure("islet witness list", a.json, false, &e),
    };
    let states = match store.witness_states() {
        Ok(s) => s,
        Err(e) => return failure("islet witness list", a.json, false, &e),
    };
    let mut rows = Vec::new();
    for state in states {
        let evidence = match store.witness_evidence(&state.origin) {
            Ok(e) => e,
            Err(e) => return failure("islet witness list", a.json, false, &e),
        };
        let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(state.timestamp);
        rows.push(serde_json::json!({
            "origin": state.origin,
            "origin_hash": origin_hash_hex(&state.origin),
            "size": state.size,
            "root": state.root,
            "cosigned_at": humantime::format_rfc3339_seconds(time).to_string(),
            "checkpoint": state.note,
            "evidence": evidence,
        }));
    }
    if a.json {
        println!("{}", serde_json::json!({ "ok": true, "witnessed": rows }));
    } else if rows.is_empty() {
        println!("{} has cosigned no checkpoint yet", a.data.display());
    } else {
        for r in &rows {
            println!(
                "{}  size {}  cosigned {}  /witness/{}/checkpoint  forks recorded: {}",
                r["origin"].as_str().unwrap_or_default(),
                r["size"],
                r["cosigned_at"].as_str().unwrap_or_default(),
                r["origin_hash"].as_str().unwrap_or_default(),
                r["evidence"].as_array().map_or(0, Vec::len)
            );
        }
    }
    ExitCode::SUCCESS
}
