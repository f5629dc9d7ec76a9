//! `islet`: the command line. Thin by design: parse flags, call a library
//! function, print the result, map errors to exit codes (0 success,
//! 1 verification failure, 2 usage or I/O error, 75 `islet serve` stopped
//! after its store failed).

mod fsck;
mod keys;
mod mirror;
mod proof;
mod report;
mod server;
mod shard;
mod snapshot;
mod store;
mod token;
mod verify;
mod witness;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Requests allocate on several threads at once; mimalloc's per-thread
/// heaps cost far less CPU there than glibc's arenas (measured with the
/// hammer: see README, Benchmarks).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code for a verification failure.
pub(crate) const EXIT_VERIFICATION: u8 = 1;
/// Exit code for a usage or I/O error.
pub(crate) const EXIT_USAGE_OR_IO: u8 = 2;
/// Exit code of `islet serve` when it stopped because its store failed
/// (sysexits' EX_TEMPFAIL): the supervisor restarts it, and the start
/// recovers the store and checks it against the fork guard.
pub(crate) const EXIT_STORE_FAILED: u8 = 75;

#[derive(Parser)]
#[command(
    name = "islet",
    version,
    about = "A Rekor v2 compatible transparency log, mirror and snapshot tool for sovereign and air-gapped sites"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the log: the Rekor v2 write API and the tlog-tiles read API.
    ///
    /// With no flags it uses ./islet-data, initialising it on first start
    /// with a new Ed25519 key, and listens on 127.0.0.1:3000.
    Serve(server::ServeArgs),
    /// Create a data directory: configuration and log key.
    Init(server::InitArgs),
    /// Print the trusted root (and, with --signing-config, the signing
    /// config) that Sigstore clients need for this log.
    TrustRoot(server::TrustRootArgs),
    /// Verify a whole tlog-tiles log: checkpoint signature, every entry
    /// bundle re-hashed, every hash tile recomputed, the root.
    ///
    /// Exit status: 0 when the log verifies, 1 when it does not (the reason
    /// on stderr), 2 on a usage or I/O error.
    Fsck(fsck::FsckArgs),
    /// Export and import snapshots: a log as a tar+zstd file, to carry
    /// across an air gap.
    #[command(subcommand)]
    Snapshot(snapshot::SnapshotCommand),
    /// Keep verified copies of other logs: sync from an upstream, list.
    #[command(subcommand)]
    Mirror(mirror::MirrorCommand),
    /// Verify Sigstore bundles completely and offline against a trusted
    /// root: the transparency-log entries (inclusion proof to a signed
    /// checkpoint, body rebuilt from the bundle, Rekor v1 SET), the verified
    /// times (RFC 3161 timestamps, SETs), the signing certificate's chain to
    /// a trusted CA at every verified time with its SCTs, the identity
    /// policy (or --key), and the signature over the artifact or in-toto
    /// subject; with --log, the entry is in the local log or mirror and the
    /// checkpoint is consistent with it.
    ///
    /// Exit status: 0 when every bundle verifies, 1 when one does not (one
    /// verdict line each, with the reason), 2 on a usage or I/O error.
    Verify(verify::VerifyArgs),
    /// Write a c2sp.org/tlog-proof@v1 file for one entry of the own log or a
    /// mirror: its inclusion proof and the checkpoint with its
    /// cosignatures, which `islet verify --tlog-proof` checks offline.
    ///
    /// Exit status: 0 when written, 1 when the checkpoint does not meet
    /// --policy (or no entry matches --digest), 2 on a usage or I/O error.
    Proof(proof::ProofArgs),
    /// islet as a witness for other logs: its key, and what it cosigned.
    #[command(subcommand)]
    Witness(witness::WitnessCommand),
    /// Shards: end the own log (freeze) and start the next one (new) in
    /// the same data directory; list them.
    #[command(subcommand)]
    Shard(shard::ShardCommand),
    /// Bearer tokens for the route groups `[auth]` closes: add (printed
    /// once, only its hash kept), list, revoke (refused from the next
    /// request on, no restart).
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Storage engines: move the own log between a data directory
    /// (RocksDB) and PostgreSQL, verified tile for tile.
    #[command(subcommand)]
    Store(store::StoreCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => server::serve(&args),
        Command::Init(args) => server::init(&args),
        Command::TrustRoot(args) => server::trust_root(&args),
        Command::Fsck(args) => fsck::run(&args),
        Command::Snapshot(command) => snapshot::run(&command),
        Command::Mirror(command) => mirror::run(&command),
        Command::Verify(args) => verify::run(&args),
        Command::Proof(args) => proof::run(&args),
        Command::Witness(command) => witness::run(&command),
        Command::Shard(command) => shard::run(&command),
        Command::Token(command) => token::run(&command),
        Command::Store(command) => store::run(&command),
    }
}
