//! `islet fsck`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use islet_reader::fsck::{DEFAULT_CONCURRENCY, FsckOptions, FsckReport, fsck};
use islet_reader::source::LogSource;

use crate::{EXIT_USAGE_OR_IO, EXIT_VERIFICATION};

#[derive(Args)]
#[command(group(clap::ArgGroup::new("key").required(true).args(["vkey", "log_key"])))]
pub(crate) struct FsckArgs {
    /// The log: a directory holding `checkpoint` and `tile/`, or an HTTP(S)
    /// URL prefix such as `https://log2025-1.rekor.sigstore.dev/api/v2`
    log: String,
    /// Verifier key of the log (or of a cosigner whose signature suffices),
    /// as `<name>+<key ID>+<base64 key>`.
    #[arg(long)]
    vkey: Option<String>,
    /// The log's public key as a PEM or DER SubjectPublicKeyInfo (Ed25519 or
    /// ECDSA P-256); needs --origin.
    #[arg(long, value_name = "PEM", requires = "origin")]
    log_key: Option<PathBuf>,
    /// The checkpoint origin (and, with --log-key, the key name). With
    /// --vkey it defaults to the key name for log keys.
    #[arg(long, value_name = "NAME")]
    origin: Option<String>,
    /// Entry bundles fetched and hashed at once.
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY, value_parser = clap::value_parser!(u16).range(1..=1024))]
    concurrency: u16,
    /// Print the result as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Never draw a progress bar (it is drawn only on a terminal anyway).
    #[arg(long)]
    no_progress: bool,
    /// A file holding a bearer token for a log whose reads are closed
    /// (`islet token add --scope read` there); mode 0600.
    #[arg(long, value_name = "FILE")]
    token_file: Option<std::path::PathBuf>,
}

pub(crate) fn run(args: &FsckArgs) -> ExitCode {
    let fail = |code: u8, kind: &str, message: &str| {
        if args.json {
            println!(
                "{}",
                serde_json::json!({ "ok": false, "failure": kind, "error": message })
            );
        }
        eprintln!("islet fsck: {message}");
        ExitCode::from(code)
    };
    let verifier = match crate::keys::load_verifier(
        args.vkey.as_deref(),
        args.log_key.as_deref(),
        args.origin.as_deref(),
    ) {
        Ok(v) => v,
        Err(e) => return fail(EXIT_USAGE_OR_IO, "usage", &e),
    };
    let token = match args
        .token_file
        .as_deref()
        .map(islet_store::tokens::read_token_file)
        .transpose()
    {
        Ok(t) => t,
        Err(e) => return fail(EXIT_USAGE_OR_IO, "usage", &e.to_string()),
    };
    let source = match LogSource::from_arg_with_token(&args.log, token.as_deref()) {
        Ok(LogSource::Dir(d)) if !d.is_dir() => {
            return fail(
                EXIT_USAGE_OR_IO,
                "usage",
                &format!("{}: not a directory", d.display()),
            );
        }
        Ok(s) => s,
        Err(e) => return fail(EXIT_USAGE_OR_IO, "io", &e.to_string()),
    };
    let opts = FsckOptions {
        concurrency: usize::from(args.concurrency),
        progress: !args.no_progress && !args.json,
        origin: args.origin.clone(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return fail(
                EXIT_USAGE_OR_IO,
                "io",
                &format!("cannot start the runtime: {e}"),
            );
        }
    };
    match runtime.block_on(fsck(&source, &verifier, &opts)) {
        Ok(report) => {
            print_report(&report, args.json);
            ExitCode::SUCCESS
        }
        Err(e) if e.is_verification_failure() => {
            fail(EXIT_VERIFICATION, "verification", &format!("FAILED: {e}"))
        }
        Err(e) => fail(EXIT_USAGE_OR_IO, "io", &format!("error: {e}")),
    }
}

fn print_report(r: &FsckReport, json: bool) {
    if json {
        let mut v = serde_json::to_value(r).unwrap_or_default();
        v["ok"] = serde_json::Value::Bool(true);
        println!("{v}");
        return;
    }
    let secs = r.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        r.size as f64 / secs
    } else {
        0.0
    };
    println!(
        "ok: {} at size {} verifies, root {}",
        r.origin, r.size, r.root
    );
    println!(
        "    {} entry bundles, {} hash tiles, {:.1} MB of entries, {:.1} MB read in {:.2} s ({:.0} entries/s)",
        r.bundles,
        r.tiles,
        r.entry_bytes as f64 / 1e6,
        r.bytes_read as f64 / 1e6,
        secs,
        rate
    );
}
