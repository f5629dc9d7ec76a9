//! Log keys from the command line: `--vkey`, or `--log-key` with
//! `--origin`.

use std::path::Path;

use islet_log::note::NoteVerifier;

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
