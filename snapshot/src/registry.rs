//! Snapshots pushed to and pulled from OCI registries with `oci-client`, in
//! the ORAS layout of [`crate::oci`]: `oras pull REF` gets the same file.
//!
//! Plain HTTP is used only when asked for ([`RegistryOptions::plain_http`]).
//! Credentials come from `ISLET_REGISTRY_USERNAME` and
//! `ISLET_REGISTRY_PASSWORD` when set; otherwise access is anonymous (with
//! the registry's bearer-token dance where it asks for one).

use std::path::{Path, PathBuf};

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::error::{Error, Result};
use crate::oci::{
    EMPTY_CONFIG, ImageManifest, MANIFEST_MEDIA_TYPE, MAX_OCI_JSON_BYTES, digest_of,
    snapshot_layer, snapshot_manifest,
};

/// Bytes of a snapshot sent per upload chunk.
pub const PUSH_CHUNK_BYTES: usize = 8 * 1024 * 1024;

/// How to reach a registry.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Speak plain HTTP instead of HTTPS.
    pub plain_http: bool,
}

fn registry(reason: impl std::fmt::Display) -> Error {
    Error::Archive {
        reason: format!("registry: {reason}"),
    }
}

fn parse_reference(reference: &str) -> Result<Reference> {
    reference.parse().map_err(|e| Error::Usage {
        reason: format!("{reference:?} is not an OCI reference (registry/repository:tag): {e}"),
    })
}

fn client(opts: &RegistryOptions) -> Client {
    Client::new(ClientConfig {
        protocol: if opts.plain_http {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        },
        ..ClientConfig::default()
    })
}

fn credentials() -> RegistryAuth {
    match (
        std::env::var("ISLET_REGISTRY_USERNAME"),
        std::env::var("ISLET_REGISTRY_PASSWORD"),
    ) {
        (Ok(user), Ok(password)) => RegistryAuth::Basic(user, password),
        _ => RegistryAuth::Anonymous,
    }
}

/// SHA-256 and size of a file, read in chunks.
async fn file_digest(path: &Path) -> Result<(String, u64)> {
    let mut f = tokio::fs::File::open(path).await.map_err(Error::io(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).await.map_err(Error::io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((format!("sha256:{}", hex::encode(hasher.finalize())), size))
}

/// Pushes the snapshot file `snapshot` as `reference`; returns the
/// manifest's digest.
///
/// # Errors
/// [`Error::Usage`] for a bad reference; [`Error::Archive`] for what the
/// registry refuses; I/O errors.
pub async fn push(reference: &str, snapshot: &Path, opts: &RegistryOptions) -> Result<String> {
    let reference = parse_reference(reference)?;
    let client = client(opts);
    let auth = credentials();
    client
        .auth(&reference, &auth, RegistryOperation::Push)
        .await
        .map_err(registry)?;
    let (layer_digest, size) = file_digest(snapshot).await?;
    let file = tokio::fs::File::open(snapshot)
        .await
        .map_err(Error::io(snapshot))?;
    let chunks = futures::stream::unfold(file, |mut f| async move {
        let mut buf = vec![0u8; PUSH_CHUNK_BYTES];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(bytes::Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(oci_client::errors::OciDistributionError::IoError(e)), f)),
        }
    });
    client
        .push_blob_stream(&reference, chunks, &layer_digest, Some(size))
        .await
        .map_err(registry)?;
    client
        .push_blob(&reference, EMPTY_CONFIG.to_vec(), &digest_of(EMPTY_CONFIG))
        .await
        .map_err(registry)?;
    let title = snapshot
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "snapshot.tar.zst".into());
    let manifest =
        serde_json::to_vec(&snapshot_manifest(&layer_digest, size, &title)).map_err(registry)?;
    client
        .push_manifest_raw(
            &reference,
            manifest.clone(),
            MANIFEST_MEDIA_TYPE.parse().map_err(registry)?,
        )
        .await
        .map_err(registry)?;
    Ok(digest_of(&manifest))
}

/// Pulls the snapshot `reference` into `dir` under its layer's title (or
/// `snapshot.tar.zst`), checking its digest and size; returns the file.
///
/// # Errors
/// As [`push`]; [`Error::Archive`] when the artifact is not a snapshot or
/// the blob does not match its digest.
pub async fn pull(reference: &str, dir: &Path, opts: &RegistryOptions) -> Result<PathBuf> {
    let reference = parse_reference(reference)?;
    let client = client(opts);
    let auth = credentials();
    let (raw, _) = client
        .pull_manifest_raw(&reference, &auth, &[MANIFEST_MEDIA_TYPE])
        .await
        .map_err(registry)?;
    if raw.len() as u64 > MAX_OCI_JSON_BYTES {
        return Err(registry(format!(
            "the manifest is larger than {MAX_OCI_JSON_BYTES} bytes"
        )));
    }
    let manifest: ImageManifest = serde_json::from_slice(&raw).map_err(registry)?;
    let layer = snapshot_layer(&manifest)?.clone();
    // The title names a file in `dir`: a plain name, nothing else.
    let title = layer
        .annotations
        .get(crate::oci::TITLE_ANNOTATION)
        .filter(|t| {
            !t.is_empty()
                && !t.starts_with('.')
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        })
        .cloned()
        .unwrap_or_else(|| "snapshot.tar.zst".into());
    let target = dir.join(&title);
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(Error::io(dir))?;
    let std_file = tmp.as_file().try_clone().map_err(Error::io(tmp.path()))?;
    let mut out = tokio::fs::File::from_std(std_file);
    client
        .pull_blob(&reference, layer.digest.as_str(), &mut out)
        .await
        .map_err(registry)?;
    out.sync_all().await.map_err(Error::io(tmp.path()))?;
    let (digest, size) = file_digest(tmp.path()).await?;
    if digest != layer.digest || size != layer.size {
        return Err(registry(format!(
            "the layer blob does not match its digest {} and size {}",
            layer.digest, layer.size
        )));
    }
    tmp.persist(&target).map_err(|e| Error::Io {
        path: target.display().to_string(),
        source: e.error,
    })?;
    Ok(target)
}
