//! Bounds on the pipeline file: it must be a regular file (not a FIFO, a
//! device like `/dev/zero`, or a directory) no larger than
//! [`MAX_PIPELINE_FILE`], so reading it can neither block forever nor grow
//! without limit.

use std::io::Read;
use std::path::Path;

/// The largest pipeline file read (16 MiB).
pub const MAX_PIPELINE_FILE: u64 = 16 * 1024 * 1024;

/// Reads a pipeline file within the bounds; the error says what was
/// expected.
pub fn read_pipeline_file(path: &Path) -> Result<Vec<u8>, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read the pipeline file: {e}"))?;
    let kind = meta.file_type();
    if !kind.is_file() {
        use std::os::unix::fs::FileTypeExt;
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        return Err(format!(
            "the pipeline file is {what}; expected a regular YAML file"
        ));
    }
    if meta.len() > MAX_PIPELINE_FILE {
        return Err(too_big(meta.len()));
    }
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read the pipeline file: {e}"))?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_PIPELINE_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the pipeline file: {e}"))?;
    if bytes.len() as u64 > MAX_PIPELINE_FILE {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

fn too_big(len: u64) -> String {
    format!(
        "the pipeline file is {len} bytes; expected at most {} MiB",
        MAX_PIPELINE_FILE / (1024 * 1024)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_directories_and_huge_files_are_refused() {
        let e = read_pipeline_file(Path::new("/dev/zero")).unwrap_err();
        assert!(e.contains("a device") && e.contains("regular"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let e = read_pipeline_file(dir.path()).unwrap_err();
        assert!(e.contains("a directory"), "{e}");
        let big = dir.path().join("big.yml");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_PIPELINE_FILE + 1).unwrap();
        let e = read_pipeline_file(&big).unwrap_err();
        assert!(e.contains("at most 16 MiB"), "{e}");
        let ok = dir.path().join("ok.yml");
        std::fs::write(&ok, "build: {}\n").unwrap();
        assert_eq!(read_pipeline_file(&ok).unwrap(), b"build: {}\n");
    }
}
