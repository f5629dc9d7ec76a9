//! Snapshots as OCI artifacts, following the ORAS conventions
//! (`../shared/DESIGN.md` §6): one manifest with `artifactType`
//! [`ARTIFACT_TYPE`], the empty config, and one layer of media type
//! [`LAYER_MEDIA_TYPE`] titled with the file name, so `oras pull` writes
//! the snapshot file back under its name.
//!
//! This module handles OCI image layouts on disk (for sneakernet and
//! `oras cp --from-oci-layout`). Everything read from a layout is hostile:
//! digests are parsed before they name a file, sizes are capped, and the
//! layer's digest is checked before import sees a byte of it.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// `artifactType` of a snapshot manifest.
pub const ARTIFACT_TYPE: &str = "application/vnd.islet.snapshot.v1";
/// Media type of the snapshot layer.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.islet.snapshot.v1.tar+zstd";
/// Media type of an OCI image manifest.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// Media type of the empty config (the two bytes `{}`).
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The empty config.
pub const EMPTY_CONFIG: &[u8] = b"{}";
/// Annotation naming the file a layer is.
pub const TITLE_ANNOTATION: &str = "org.opencontainers.image.title";
/// Annotation naming a manifest in `index.json`.
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";
/// Tag used when none is given.
pub const DEFAULT_TAG: &str = "latest";
/// Largest manifest or index read (real ones are a few hundred bytes).
pub const MAX_OCI_JSON_BYTES: u64 = 4 * 1024 * 1024;

/// An OCI content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type.
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// Annotations.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// An OCI image manifest, as much of it as a snapshot uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// [`MANIFEST_MEDIA_TYPE`].
    pub media_type: String,
    /// [`ARTIFACT_TYPE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The empty config.
    pub config: Descriptor,
    /// The snapshot layer.
    pub layers: Vec<Descriptor>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Index {
    schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    manifests: Vec<Descriptor>,
}

fn oci(reason: impl Into<String>) -> Error {
    Error::Archive {
        reason: format!("OCI: {}", reason.into()),
    }
}

/// `sha256:<hex>` of `data`.
pub fn digest_of(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// The hex part of a `sha256:` digest, checked (64 lowercase hex digits),
/// so it can name a file.
///
/// # Errors
/// [`Error::Archive`] for anything else.
pub fn parse_digest(digest: &str) -> Result<&str> {
    let hex = digest
        .strip_prefix("sha256:")
        .ok_or_else(|| oci(format!("digest {digest:?} is not sha256")))?;
    if hex.len() != 64
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(oci(format!(
            "digest {digest:?} is not 64 lowercase hex digits"
        )));
    }
    Ok(hex)
}

/// Checks a tag: the OCI distribution grammar `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
///
/// # Errors
/// [`Error::Usage`].
pub fn check_tag(tag: &str) -> Result<()> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag.bytes().enumerate().all(|(i, b)| {
            b.is_ascii_alphanumeric() || b == b'_' || (i > 0 && (b == b'.' || b == b'-'))
        });
    if ok {
        Ok(())
    } else {
        Err(Error::Usage {
            reason: format!("{tag:?} is not a valid OCI tag"),
        })
    }
}

/// The manifest of a snapshot layer.
pub fn snapshot_manifest(layer_digest: &str, layer_size: u64, title: &str) -> ImageManifest {
    ImageManifest {
        schema_version: 2,
        media_type: MANIFEST_MEDIA_TYPE.into(),
        artifact_type: Some(ARTIFACT_TYPE.into()),
        config: Descriptor {
            media_type: EMPTY_MEDIA_TYPE.into(),
            digest: digest_of(EMPTY_CONFIG),
            size: EMPTY_CONFIG.len() as u64,
            annotations: Default::default(),
        },
        layers: vec![Descriptor {
            media_type: LAYER_MEDIA_TYPE.into(),
            digest: layer_digest.into(),
            size: layer_size,
            annotations: [(TITLE_ANNOTATION.to_owned(), title.to_owned())].into(),
        }],
    }
}

/// Checks that a manifest is a snapshot's and returns its layer.
///
/// # Errors
/// [`Error::Archive`] naming what does not fit.
pub fn snapshot_layer(manifest: &ImageManifest) -> Result<&Descriptor> {
    if manifest.schema_version != 2 {
        return Err(oci(format!(
            "schemaVersion {} is not 2",
            manifest.schema_version
        )));
    }
    if manifest.artifact_type.as_deref() != Some(ARTIFACT_TYPE) {
        return Err(oci(format!(
            "artifactType {:?} is not {ARTIFACT_TYPE}",
            manifest.artifact_type
        )));
    }
    match manifest.layers.as_slice() {
        [layer] if layer.media_type == LAYER_MEDIA_TYPE => {
            parse_digest(&layer.digest)?;
            Ok(layer)
        }
        _ => Err(oci(format!(
            "a snapshot manifest has exactly one layer of type {LAYER_MEDIA_TYPE}"
        ))),
    }
}

fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>> {
    let f = std::fs::File::open(path).map_err(Error::io(path))?;
    let mut data = Vec::new();
    f.take(cap + 1)
        .read_to_end(&mut data)
        .map_err(Error::io(path))?;
    if data.len() as u64 > cap {
        return Err(oci(format!(
            "{} is larger than {cap} bytes",
            path.display()
        )));
    }
    Ok(data)
}

fn write_synced(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(Error::io(dir))?;
    tmp.write_all(data).map_err(Error::io(path))?;
    tmp.as_file().sync_all().map_err(Error::io(path))?;
    tmp.persist(path).map_err(|e| Error::Io {
        path: path.display().to_string(),
        source: e.error,
    })?;
    Ok(())
}

fn blob_path(layout: &Path, digest: &str) -> Result<PathBuf> {
    Ok(layout.join("blobs/sha256").join(parse_digest(digest)?))
}

/// Writes the snapshot file `snapshot` into the OCI image layout `layout`
/// (created when missing) under `tag`, replacing an older manifest of the
/// same tag. Returns the manifest's digest.
///
/// # Errors
/// I/O errors; [`Error::Usage`] for a bad tag; [`Error::Archive`] for an
/// existing layout that is not one.
pub fn write_layout(layout: &Path, snapshot: &Path, tag: &str) -> Result<String> {
    check_tag(tag)?;
    let blobs = layout.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).map_err(Error::io(&blobs))?;
    let layout_file = layout.join("oci-layout");
    if !layout_file.exists() {
        write_synced(&layout_file, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    }
    // The layer: copied while hashing, then named by its digest.
    let mut src = std::fs::File::open(snapshot).map_err(Error::io(snapshot))?;
    let mut tmp = tempfile::NamedTempFile::new_in(&blobs).map_err(Error::io(&blobs))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = src.read(&mut buf).map_err(Error::io(snapshot))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n]).map_err(Error::io(tmp.path()))?;
        size += n as u64;
    }
    tmp.as_file().sync_all().map_err(Error::io(tmp.path()))?;
    let layer_digest = format!("sha256:{}", hex::encode(hasher.finalize()));
    let layer_path = blob_path(layout, &layer_digest)?;
    tmp.persist(&layer_path).map_err(|e| Error::Io {
        path: layer_path.display().to_string(),
        source: e.error,
    })?;
    write_synced(&blob_path(layout, &digest_of(EMPTY_CONFIG))?, EMPTY_CONFIG)?;
    let title = snapshot
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "snapshot.tar.zst".into());
    let manifest = serde_json::to_vec(&snapshot_manifest(&layer_digest, size, &title))
        .map_err(|e| oci(e.to_string()))?;
    let manifest_digest = digest_of(&manifest);
    write_synced(&blob_path(layout, &manifest_digest)?, &manifest)?;
    // index.json: this tag now names the new manifest.
    let index_path = layout.join("index.json");
    let mut index = if index_path.exists() {
        serde_json::from_slice::<Index>(&read_capped(&index_path, MAX_OCI_JSON_BYTES)?)
            .map_err(|e| oci(format!("index.json: {e}")))?
    } else {
        Index {
            schema_version: 2,
            media_type: Some("application/vnd.oci.image.index.v1+json".into()),
            manifests: Vec::new(),
        }
    };
    index
        .manifests
        .retain(|m| m.annotations.get(REF_NAME_ANNOTATION).map(String::as_str) != Some(tag));
    index.manifests.push(Descriptor {
        media_type: MANIFEST_MEDIA_TYPE.into(),
        digest: manifest_digest.clone(),
        size: manifest.len() as u64,
        annotations: [(REF_NAME_ANNOTATION.to_owned(), tag.to_owned())].into(),
    });
    let text = serde_json::to_vec(&index).map_err(|e| oci(e.to_string()))?;
    write_synced(&index_path, &text)?;
    std::fs::File::open(layout)
        .and_then(|d| d.sync_all())
        .map_err(Error::io(layout))?;
    Ok(manifest_digest)
}

/// Finds the snapshot tagged `tag` in the OCI image layout `layout` and
/// checks its layer blob against its digest and size. Returns the blob's
/// path and the layer's title.
///
/// # Errors
/// [`Error::Archive`] for a missing tag, a manifest that is not a
/// snapshot's, or a blob that does not match its digest; I/O errors.
pub fn read_layout(layout: &Path, tag: &str) -> Result<(PathBuf, String)> {
    check_tag(tag)?;
    let index: Index = serde_json::from_slice(&read_capped(
        &layout.join("index.json"),
        MAX_OCI_JSON_BYTES,
    )?)
    .map_err(|e| oci(format!("index.json: {e}")))?;
    let entry = index
        .manifests
        .iter()
        .find(|m| m.annotations.get(REF_NAME_ANNOTATION).map(String::as_str) == Some(tag))
        .ok_or_else(|| {
            oci(format!(
                "{} has no manifest tagged {tag:?}",
                layout.display()
            ))
        })?;
    let manifest_bytes = read_capped(&blob_path(layout, &entry.digest)?, MAX_OCI_JSON_BYTES)?;
    if digest_of(&manifest_bytes) != entry.digest {
        return Err(oci(format!(
            "manifest {} does not match its digest",
            entry.digest
        )));
    }
    let manifest: ImageManifest =
        serde_json::from_slice(&manifest_bytes).map_err(|e| oci(format!("manifest: {e}")))?;
    let layer = snapshot_layer(&manifest)?;
    let path = blob_path(layout, &layer.digest)?;
    let mut f = std::fs::File::open(&path).map_err(Error::io(&path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(Error::io(&path))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        if size > layer.size {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let digest = format!("sha256:{}", hex::encode(hasher.finalize()));
    if size != layer.size || digest != layer.digest {
        return Err(oci(format!(
            "layer blob {} does not match its digest and size",
            layer.digest
        )));
    }
    let title = layer
        .annotations
        .get(TITLE_ANNOTATION)
        .cloned()
        .unwrap_or_default();
    Ok((path, title))
}
