//! `islet shard freeze | new | list`: ending the own log and starting the
//! next one in the same data directory.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use clap::{Args, Subcommand};
use islet_server::shards::{freeze, shard_base_url, start_next};
use islet_store::Store;
use islet_store::datadir::DataDir;

use crate::report::{failure, print_json};
use crate::server::KeyTypeArg;

#[derive(Subcommand)]
pub(crate) enum ShardCommand {
    /// End the own log: sign a final checkpoint (with the `Log frozen`
    /// line) and take no more writes (405). It stays served, mirrored and
    /// verifiable. Run it with the server stopped.
    Freeze(FreezeArgs),
    /// Start the next shard of a frozen log: a new key and origin in the
    /// same data directory. The frozen shard is then served under
    /// `/shards/<SHA-256 of its origin>/api/v2/` and listed in the trusted
    /// root with its validFor window. Run it with the server stopped.
    New(NewArgs),
    /// List the shards: the ones that ended, then the current log.
    List(ListArgs),
}

#[derive(Args)]
pub(crate) struct FreezeArgs {
    /// The data directory.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(crate) struct NewArgs {
    /// The data directory.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// The origin of the new shard (such as `log2027.example.org`).
    #[arg(long, value_name = "NAME")]
    origin: String,
    /// The URL clients reach the new shard at (default: the current one
    /// with the new origin as its host: Sigstore clients such as
    /// sigstore-go expect a log's origin to be the host of its URL).
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// Algorithm of the new key.
    #[arg(long, value_enum, default_value = "ed25519")]
    key_type: KeyTypeArg,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(crate) struct ListArgs {
    /// The data directory.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(command: &ShardCommand) -> ExitCode {
    match command {
        ShardCommand::Freeze(a) => run_freeze(a),
        ShardCommand::New(a) => run_new(a),
        ShardCommand::List(a) => run_list(a),
    }
}

fn fail(json: bool, e: &dyn std::fmt::Display) -> ExitCode {
    failure("islet shard", json, false, e)
}

fn config(data: &DataDir) -> Result<islet_store::config::Config, String> {
    let config = data
        .load_config()
        .and_then(|raw| raw.validate())
        .map_err(|e| e.to_string())?;
    if config.store != islet_store::config::StoreSettings::Rocksdb {
        // A freeze is recorded in the data directory's store, where the
        // other nodes of a shared log would never see it.
        return Err(format!(
            "the own log of {} is kept in PostgreSQL ([store] of islet.toml) and served by every \
             node there; shards are not built for such a log yet (a freeze recorded here would \
             not stop the other nodes)",
            data.root().display()
        ));
    }
    Ok(config)
}

fn run_freeze(a: &FreezeArgs) -> ExitCode {
    let data = DataDir::new(&a.data);
    let config = match config(&data) {
        Ok(c) => c,
        Err(e) => return fail(a.json, &e),
    };
    match freeze(&data, &config, SystemTime::now()) {
        Ok(r) if a.json => {
            print_json(&r);
            ExitCode::SUCCESS
        }
        Ok(r) => {
            println!(
                "froze {} at size {} ({}); final checkpoint:\n{}",
                r.origin, r.size, r.frozen_at, r.checkpoint
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(a.json, &e),
    }
}

fn run_new(a: &NewArgs) -> ExitCode {
    let data = DataDir::new(&a.data);
    let config = match config(&data) {
        Ok(c) => c,
        Err(e) => return fail(a.json, &e),
    };
    match start_next(
        &data,
        &config,
        &a.origin,
        a.public_url.as_deref(),
        a.key_type.into(),
        SystemTime::now(),
    ) {
        Ok(r) if a.json => {
            print_json(&r);
            ExitCode::SUCCESS
        }
        Ok(r) => {
            println!(
                "{} (frozen at size {}) is now a shard of the past; the own log is {} at {}",
                r.previous, r.previous_size, r.origin, r.public_url
            );
            println!("verifier key {}", r.vkey);
            println!(
                "the key of {} signs nothing more: keep it offline, or destroy it once its final \
                 checkpoint is mirrored",
                r.previous
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(a.json, &e),
    }
}

fn run_list(a: &ListArgs) -> ExitCode {
    let data = DataDir::new(&a.data);
    let config = match config(&data) {
        Ok(c) => c,
        Err(e) => return fail(a.json, &e),
    };
    let store = match Store::open_read_only(&data.db_path()) {
        Ok(s) => s,
        Err(e) => return fail(a.json, &e),
    };
    let result = (|| -> islet_store::Result<Vec<serde_json::Value>> {
        let mut rows = Vec::new();
        for s in store.shards()? {
            rows.push(serde_json::json!({
                "origin": s.origin,
                "size": s.frozen.size,
                "vkey": s.vkey,
                "base_url": shard_base_url(&s.public_url, &s.origin),
                "valid_from": s.valid_from,
                "valid_until": s.frozen.frozen_at,
                "frozen": true,
            }));
        }
        if let Some(own) = &config.own {
            let log = store.own_log();
            let frozen = store.frozen(log)?;
            rows.push(serde_json::json!({
                "origin": own.origin,
                "size": store.tree_head(log)?.map_or(0, |h| h.size),
                "base_url": config.raw.public_url,
                "valid_from": own.valid_from,
                "valid_until": frozen.as_ref().map(|f| f.frozen_at.clone()),
                "frozen": frozen.is_some(),
            }));
        }
        Ok(rows)
    })();
    let rows = match result {
        Ok(r) => r,
        Err(e) => return fail(a.json, &e),
    };
    if a.json {
        print_json(serde_json::json!({ "shards": rows }));
        return ExitCode::SUCCESS;
    }
    for r in &rows {
        println!(
            "{}  size {}  {}  valid {} .. {}{}",
            r["origin"].as_str().unwrap_or_default(),
            r["size"],
            r["base_url"].as_str().unwrap_or_default(),
            r["valid_from"].as_str().unwrap_or_default(),
            r["valid_until"].as_str().unwrap_or(""),
            if r["frozen"] == true {
                "  (frozen)"
            } else {
                ""
            }
        );
    }
    ExitCode::SUCCESS
}
