//! Import of a directory of snapshots, in order: what a site does with the
//! carry of several days (full and incremental snapshots, as `[[export]]`
//! writes them).
//!
//! Every file's manifest is read first, so a damaged or foreign file is
//! reported before anything is imported. Then, until no file reaches
//! further, the snapshot that applies to the mirror's size and reaches
//! furthest is imported (an increment preferred to a full snapshot that
//! reaches as far). A range no file covers stops the import with the
//! size held and the first size missing; what was imported before stays
//! (each import is atomic and verified end to end).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::import::{ImportReport, ImportRequest, import};

/// Snapshot files a directory import reads at most.
pub const MAX_DIRECTORY_FILES: usize = 100_000;

/// What happened to one file of the directory.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Imported (or already present with this checkpoint).
    Imported {
        /// The file.
        file: PathBuf,
        /// The import's report.
        report: ImportReport,
    },
    /// The mirror already reached its size: not read further.
    AlreadyHeld {
        /// The file.
        file: PathBuf,
        /// Its sizes.
        from_size: u64,
        /// See `from_size`.
        to_size: u64,
    },
    /// A snapshot of another log.
    OtherLog {
        /// The file.
        file: PathBuf,
        /// Its origin.
        origin: String,
    },
}

/// A file's manifest sizes.
#[derive(Debug, Clone)]
struct Candidate {
    file: PathBuf,
    from: u64,
    to: u64,
}

/// Imports every snapshot of `req.origin` in `dir` that the mirror does
/// not hold yet, in order. `req.source` is ignored (each file is its own
/// source).
///
/// # Errors
/// [`Error::Usage`] for a directory that cannot be read, too many files,
/// or a gap; the first file that does not inspect or import, with the
/// error of [`import`].
pub fn import_directory(req: &ImportRequest<'_>, dir: &Path) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    let mut candidates = Vec::new();
    for file in snapshot_files(dir)? {
        let reader = std::fs::File::open(&file).map_err(Error::io(&file))?;
        let inspection =
            crate::inspect::inspect(std::io::BufReader::new(reader), None).map_err(|e| {
                Error::Usage {
                    reason: format!("{}: {e}", file.display()),
                }
            })?;
        if inspection.origin == req.origin {
            candidates.push(Candidate {
                file,
                from: inspection.from_size,
                to: inspection.to_size,
            });
        } else {
            steps.push(Step::OtherLog {
                file,
                origin: inspection.origin,
            });
        }
    }
    let mut held = mirror_size(req)?;
    loop {
        let next = candidates
            .iter()
            .filter(|c| c.from <= held && c.to > held)
            .max_by_key(|c| (c.to, c.from))
            .cloned();
        let Some(next) = next else {
            break;
        };
        let reader = std::fs::File::open(&next.file).map_err(Error::io(&next.file))?;
        let one = ImportRequest {
            store: req.store,
            key: req.key.clone(),
            origin: req.origin.clone(),
            own_origin: req.own_origin.clone(),
            source: next.file.display().to_string(),
            progress: req.progress,
        };
        let report = import(&one, std::io::BufReader::with_capacity(1 << 20, reader))?;
        held = report.to_size;
        steps.push(Step::Imported {
            file: next.file,
            report,
        });
    }
    let mut gap = None;
    for c in candidates {
        if c.to <= held {
            if !steps
                .iter()
                .any(|s| matches!(s, Step::Imported { file, .. } if *file == c.file))
            {
                steps.push(Step::AlreadyHeld {
                    file: c.file,
                    from_size: c.from,
                    to_size: c.to,
                });
            }
        } else if gap.as_ref().is_none_or(|g: &Candidate| c.from < g.from) {
            gap = Some(c);
        }
    }
    if let Some(g) = gap {
        return Err(Error::Usage {
            reason: format!(
                "{}: the mirror of {} holds {held} entries and the next snapshot, {}, starts at {}: \
                 a snapshot from {held} is missing ({} imported before this)",
                dir.display(),
                req.origin,
                g.file.display(),
                g.from,
                steps
                    .iter()
                    .filter(|s| matches!(s, Step::Imported { .. }))
                    .count()
            ),
        });
    }
    Ok(steps)
}

/// The regular `*.tar.zst` files of `dir` (symbolic links and other
/// names are left alone), sorted by name.
fn snapshot_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(Error::io(dir))? {
        let entry = entry.map_err(Error::io(dir))?;
        let is_file = entry.file_type().map_err(Error::io(dir))?.is_file();
        let name = entry.file_name();
        if is_file && name.to_str().is_some_and(|n| n.ends_with(".tar.zst")) {
            if files.len() == MAX_DIRECTORY_FILES {
                return Err(Error::Usage {
                    reason: format!(
                        "{}: more than {MAX_DIRECTORY_FILES} snapshot files",
                        dir.display()
                    ),
                });
            }
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// The size of the mirror of `req.origin` (0 when there is none yet).
fn mirror_size(req: &ImportRequest<'_>) -> Result<u64> {
    let Some(record) = req.store.mirror(&req.origin)? else {
        return Ok(0);
    };
    Ok(req.store.tree_head(record.number)?.map_or(0, |h| h.size))
}
