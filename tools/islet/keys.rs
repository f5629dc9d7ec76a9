//! Log keys from the command line: `--vkey`, or `--log-key` with
//! `--origin`.

use std::path::{Path, PathBuf};

use clap::Args;

use islet_tlog::note::NoteVerifier;

/// The verifier the flags name.
pub(crate) fn load_verifier(
    vkey: Option<&str>,
    log_key: Option<&Path>,
    origin: Option<&str>,
) -> Result<NoteVerifier, String> {
    if let Some(vkey) = vkey {
        return NoteVerifier::from_vkey(vkey).map_err(|e| format!("--vkey: {e}"));
    }
    let (Some(path), Some(origin)) = (log_key, origin) else {
        return Err("give --vkey, or --log-key with --origin".into());
    };
    let pem = std::fs::read(path).map_err(|e| format!("--log-key {}: {e}", path.display()))?;
    NoteVerifier::from_public_key(origin, &pem)
        .map_err(|e| format!("--log-key {}: {e}", path.display()))
}

/// Which key the log's checkpoints must verify with.
#[derive(Args)]
pub(crate) struct KeyArgs {
    /// Verifier key of the log, as `<name>+<key ID>+<base64 key>`.
    #[arg(long)]
    pub(crate) vkey: Option<String>,
    /// The log's public key as a PEM or DER SubjectPublicKeyInfo; needs
    /// --origin.
    #[arg(long, value_name = "PEM", requires = "origin")]
    pub(crate) log_key: Option<PathBuf>,
    /// The log's origin (default: the name of --vkey). On a later import
    /// into an existing mirror it alone suffices: the pinned key is used.
    #[arg(long, value_name = "NAME")]
    pub(crate) origin: Option<String>,
}

/// The key and origin the flags name: `None` for the key when only
/// `--origin` is given (the pinned key of an existing mirror).
pub(crate) fn key_and_origin(
    k: &KeyArgs,
) -> Result<(Option<islet_tlog::note::NoteVerifier>, String), String> {
    if k.vkey.is_none() && k.log_key.is_none() {
        return match &k.origin {
            Some(o) => Ok((None, o.clone())),
            None => Err("give --vkey, or --log-key with --origin (or --origin alone for a mirror that exists)".into()),
        };
    }
    let v =
        crate::keys::load_verifier(k.vkey.as_deref(), k.log_key.as_deref(), k.origin.as_deref())?;
    let origin = k.origin.clone().unwrap_or_else(|| v.name().to_owned());
    Ok((Some(v), origin))
}
