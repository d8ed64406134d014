//! Extracting a release zip without trusting it.
//!
//! Every entry's path goes through [`zip::read::ZipFile::enclosed_name`];
//! an entry that would land outside the target directory (`../x`), that is
//! absolute (`/etc/x` — the zip crate would quietly make it relative), that
//! is a symbolic link (which could point anywhere) or that names the same
//! file as an earlier entry (which one would win?) fails the whole
//! extraction. Files are created, never overwritten; modes keep only the
//! permission bits. The zip crate checks each entry's CRC while it is read.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Upper bound on the extracted size: terraform is ~100 MB; anything far
/// bigger is a zip bomb, not a release.
pub const MAX_EXTRACTED_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Why an archive was refused.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Not a readable zip (or a corrupt entry).
    #[error("not a valid zip archive: {0}")]
    Invalid(String),
    /// An entry's path leaves the target directory.
    #[error(
        "the archive entry `{entry}` points outside the target directory (refusing a zip-slip)"
    )]
    Escapes {
        /// The entry's name as stored.
        entry: String,
    },
    /// An entry is a symbolic link.
    #[error("the archive entry `{entry}` is a symbolic link; release archives hold plain files")]
    Symlink {
        /// The entry's name as stored.
        entry: String,
    },
    /// Two entries name the same file.
    #[error("the archive holds `{entry}` twice; a release archive names each file once")]
    Duplicate {
        /// The entry's name as stored.
        entry: String,
    },
    /// The entries add up to more than [`MAX_EXTRACTED_BYTES`].
    #[error("the archive expands to more than {} MiB", MAX_EXTRACTED_BYTES / (1024 * 1024))]
    TooLarge,
    /// Writing a file failed.
    #[error("extracting {}: {source}", path.display())]
    Io {
        /// The file being written.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// Extracts the zip at `archive` into the existing, empty directory `dest`.
/// Returns the extracted files' paths (relative to `dest`).
pub fn extract_zip(archive: &Path, dest: &Path) -> Result<Vec<PathBuf>, ArchiveError> {
    let file = std::fs::File::open(archive).map_err(|source| ArchiveError::Io {
        path: archive.to_path_buf(),
        source,
    })?;
    let mut zip = zip::ZipArchive::new(io::BufReader::new(file))
        .map_err(|e| ArchiveError::Invalid(e.to_string()))?;
    // Check every entry before writing anything, so a bad archive leaves
    // nothing behind even for a moment.
    let mut total: u64 = 0;
    let mut seen = std::collections::HashSet::new();
    for i in 0..zip.len() {
        let entry = zip
            .by_index(i)
            .map_err(|e| ArchiveError::Invalid(e.to_string()))?;
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let absolute = name.starts_with('/') || name.starts_with('\\');
        let Some(enclosed) = entry.enclosed_name().filter(|_| !absolute) else {
            return Err(ArchiveError::Escapes { entry: name });
        };
        let normal: PathBuf = enclosed
            .components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .collect();
        if !entry.is_dir() && !seen.insert(normal) {
            return Err(ArchiveError::Duplicate { entry: name });
        }
        if entry.is_symlink() {
            return Err(ArchiveError::Symlink { entry: name });
        }
        total = total.saturating_add(entry.size());
        if total > MAX_EXTRACTED_BYTES {
            return Err(ArchiveError::TooLarge);
        }
    }
    let mut written = Vec::new();
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| ArchiveError::Invalid(e.to_string()))?;
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let relative = entry.enclosed_name().ok_or_else(|| ArchiveError::Escapes {
            entry: name.clone(),
        })?;
        let path = dest.join(&relative);
        let io_err = |source| ArchiveError::Io {
            path: path.clone(),
            source,
        };
        if entry.is_dir() {
            std::fs::create_dir_all(&path).map_err(io_err)?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_err)?;
        }
        let mode = entry.unix_mode().map(|m| m & 0o777).unwrap_or(0o644);
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&path)
            .map_err(io_err)?;
        let mut limited = io::Read::take(&mut entry, MAX_EXTRACTED_BYTES);
        io::copy(&mut limited, &mut out).map_err(|e| {
            if e.kind() == io::ErrorKind::InvalidData || e.kind() == io::ErrorKind::UnexpectedEof {
                ArchiveError::Invalid(format!("entry `{name}`: {e}"))
            } else {
                io_err(e)
            }
        })?;
        out.sync_all().map_err(io_err)?;
        written.push(relative);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn zip_file(dir: &Path, build: impl FnOnce(&mut zip::ZipWriter<std::fs::File>)) -> PathBuf {
        let path = dir.join("a.zip");
        let mut w = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        build(&mut w);
        w.finish().unwrap();
        path
    }

    fn opts(mode: u32) -> zip::write::SimpleFileOptions {
        zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(mode)
    }

    #[test]
    fn files_are_extracted_with_their_permission_bits_only() {
        let tmp = tempfile::tempdir().unwrap();
        let archive = zip_file(tmp.path(), |w| {
            w.start_file("terraform", opts(0o4755)).unwrap();
            w.write_all(b"#!/bin/sh\n").unwrap();
            w.add_directory("docs/", opts(0o755)).unwrap();
            w.start_file("docs/README", opts(0o644)).unwrap();
            w.write_all(b"hi").unwrap();
        });
        let dest = tmp.path().join("out");
        std::fs::create_dir(&dest).unwrap();
        let written = extract_zip(&archive, &dest).unwrap();
        assert_eq!(
            written,
            vec![PathBuf::from("terraform"), PathBuf::from("docs/README")]
        );
        let mode = std::fs::metadata(dest.join("terraform"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o755, "setuid is dropped");
        assert_eq!(std::fs::read(dest.join("docs/README")).unwrap(), b"hi");
    }

    #[test]
    fn escaping_entries_and_symlinks_are_refused_before_anything_is_written() {
        let tmp = tempfile::tempdir().unwrap();
        let archive = zip_file(tmp.path(), |w| {
            w.start_file("terraform", opts(0o755)).unwrap();
            w.write_all(b"x").unwrap();
            w.add_symlink("link", "/etc/passwd", opts(0o777)).unwrap();
        });
        let dest = tmp.path().join("out");
        std::fs::create_dir(&dest).unwrap();
        let err = extract_zip(&archive, &dest).unwrap_err();
        assert!(
            matches!(err, ArchiveError::Symlink { ref entry } if entry == "link"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_dir(&dest).unwrap().count(),
            0,
            "nothing written"
        );

        let archive = zip_file(tmp.path(), |w| {
            w.start_file("terraform", opts(0o755)).unwrap();
            w.write_all(b"x").unwrap();
            w.start_file("bin/../../escaped", opts(0o755)).unwrap();
            w.write_all(b"x").unwrap();
        });
        let err = extract_zip(&archive, &dest).unwrap_err();
        assert!(
            matches!(err, ArchiveError::Escapes { ref entry } if entry == "bin/../../escaped"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_dir(&dest).unwrap().count(),
            0,
            "nothing written"
        );
        assert!(!tmp.path().join("escaped").exists());

        std::fs::write(tmp.path().join("not.zip"), b"PK but not really").unwrap();
        let err = extract_zip(&tmp.path().join("not.zip"), &dest).unwrap_err();
        assert!(matches!(err, ArchiveError::Invalid(_)), "{err}");
    }
}
