//! `islet token add | list | revoke`: the bearer tokens that admit
//! clients to the route groups `[auth]` closes. Only their SHA-256 is kept
//! (in `DATA/tokens.json`); a running `islet serve` sees every change at
//! its next request, without a restart.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Args, Subcommand, ValueEnum};
use islet_store::datadir::DataDir;
use islet_store::tokens::{RouteGroup, TokenFile};

use crate::report::{failure, print_json};

#[derive(Subcommand)]
pub(crate) enum TokenCommand {
    /// Make a token: printed once on standard output, never stored.
    Add(AddArgs),
    /// List the tokens: name, state (live, expired, revoked), scopes and
    /// dates; never the tokens themselves.
    List(ListArgs),
    /// Revoke a token: refused from the next request on.
    Revoke(RevokeArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum Scope {
    Write,
    Timestamp,
    Witness,
    Read,
}

impl From<Scope> for RouteGroup {
    fn from(s: Scope) -> Self {
        match s {
            Scope::Write => RouteGroup::Write,
            Scope::Timestamp => RouteGroup::Timestamp,
            Scope::Witness => RouteGroup::Witness,
            Scope::Read => RouteGroup::Read,
        }
    }
}

#[derive(Args)]
pub(crate) struct AddArgs {
    /// The data directory.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Who holds it: 1 to 64 letters, digits, '.', '_' or '-'; never
    /// reused.
    name: String,
    /// A route group it admits to (repeatable; default all four).
    #[arg(long, value_enum, value_name = "GROUP")]
    scope: Vec<Scope>,
    /// It stops working after this long (such as 90d, 12h).
    #[arg(long, value_name = "DURATION", conflicts_with = "expires_at")]
    expires_in: Option<humantime::Duration>,
    /// It stops working at this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    expires_at: Option<String>,
    /// Print one JSON object (with the token) instead.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(crate) struct ListArgs {
    /// The data directory.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(crate) struct RevokeArgs {
    /// The data directory.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// The token's name.
    name: String,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(command: &TokenCommand) -> ExitCode {
    match command {
        TokenCommand::Add(a) => add(a),
        TokenCommand::List(a) => list(a),
        TokenCommand::Revoke(a) => revoke(a),
    }
}

fn tokens_path(data: &std::path::Path) -> Result<PathBuf, String> {
    if !data.is_dir() {
        return Err(format!("{}: no such data directory", data.display()));
    }
    Ok(DataDir::new(data).tokens_path())
}

fn make_token(a: &AddArgs) -> Result<islet_store::tokens::NewToken, String> {
    let path = tokens_path(&a.data)?;
    let now = SystemTime::now();
    let expires = match (&a.expires_in, &a.expires_at) {
        (Some(d), _) => Some(now + Duration::from(*d)),
        (None, Some(t)) => {
            Some(humantime::parse_rfc3339_weak(t).map_err(|e| format!("--expires-at {t:?}: {e}"))?)
        }
        (None, None) => None,
    };
    let scopes: Vec<RouteGroup> = if a.scope.is_empty() {
        RouteGroup::ALL.to_vec()
    } else {
        a.scope.iter().map(|s| RouteGroup::from(*s)).collect()
    };
    let mut file = TokenFile::load(&path).map_err(|e| e.to_string())?;
    let made = file
        .add(&a.name, &scopes, expires, now)
        .map_err(|e| e.to_string())?;
    file.save(&path).map_err(|e| e.to_string())?;
    Ok(made)
}

fn add(a: &AddArgs) -> ExitCode {
    match make_token(a) {
        Ok(made) if a.json => {
            print_json(serde_json::json!({ "token": made.secret, "record": made.record }));
            ExitCode::SUCCESS
        }
        Ok(made) => {
            println!("{}", made.secret);
            eprintln!(
                "islet: token {:?} for {} ({}); it is shown only now",
                made.record.name,
                scopes_text(&made.record.scopes),
                made.record
                    .expires
                    .as_deref()
                    .map_or_else(|| "no expiry".to_owned(), |e| format!("expires {e}"))
            );
            ExitCode::SUCCESS
        }
        Err(e) => failure("islet token add", a.json, false, &e),
    }
}

fn scopes_text(scopes: &[RouteGroup]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn list(a: &ListArgs) -> ExitCode {
    let loaded = tokens_path(&a.data).and_then(|p| TokenFile::load(&p).map_err(|e| e.to_string()));
    let file = match loaded {
        Ok(f) => f,
        Err(e) => return failure("islet token list", a.json, false, &e),
    };
    let now = SystemTime::now();
    if a.json {
        let tokens: Vec<serde_json::Value> = file
            .tokens
            .iter()
            .map(|t| {
                serde_json::json!({
                    "name": t.name,
                    "state": t.state(now),
                    "scopes": t.scopes,
                    "created": t.created,
                    "expires": t.expires,
                    "revoked": t.revoked,
                })
            })
            .collect();
        print_json(serde_json::json!({ "tokens": tokens }));
        return ExitCode::SUCCESS;
    }
    println!(
        "{:<24} {:<8} {:<32} {:<21} EXPIRES",
        "NAME", "STATE", "SCOPES", "CREATED"
    );
    for t in &file.tokens {
        println!(
            "{:<24} {:<8} {:<32} {:<21} {}",
            t.name,
            t.state(now),
            scopes_text(&t.scopes),
            t.created,
            t.expires.as_deref().unwrap_or("-")
        );
    }
    ExitCode::SUCCESS
}

fn revoke_token(a: &RevokeArgs) -> Result<String, String> {
    let path = tokens_path(&a.data)?;
    let mut file = TokenFile::load(&path).map_err(|e| e.to_string())?;
    let at = file
        .revoke(&a.name, SystemTime::now())
        .map_err(|e| e.to_string())?
        .revoked
        .clone()
        .unwrap_or_default();
    file.save(&path).map_err(|e| e.to_string())?;
    Ok(at)
}

fn revoke(a: &RevokeArgs) -> ExitCode {
    match revoke_token(a) {
        Ok(at) if a.json => {
            print_json(serde_json::json!({ "name": a.name, "revoked": at }));
            ExitCode::SUCCESS
        }
        Ok(at) => {
            println!("revoked token {:?} at {at}", a.name);
            ExitCode::SUCCESS
        }
        Err(e) => failure("islet token revoke", a.json, false, &e),
    }
}
