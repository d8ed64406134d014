//! The report files written at the end of a run from its [`Summary`]:
//! SARIF (`--sarif`), GitLab Code Quality (`--codequality`) and the HTML
//! report (`--report`).
//!
//! Each is written once, when the run ends, to a temporary file next to the
//! path and renamed over it, so a CI system never reads half a report.

use std::io;
use std::path::{Path, PathBuf};

use step_core::event::{Event, EventKind, EventListener};

use super::summary::Summary;
use super::{codequality, html, sarif};

/// How many output lines of each step the HTML report keeps.
pub const HTML_OUTPUT_LINES: usize = 2000;

/// Which file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// SARIF 2.1.0.
    Sarif,
    /// GitLab Code Quality JSON.
    CodeQuality,
    /// The self-contained HTML run report.
    Html,
}

impl FileFormat {
    /// The name used in messages: `SARIF`, `Code Quality`, `HTML report`.
    pub fn name(self) -> &'static str {
        match self {
            FileFormat::Sarif => "SARIF",
            FileFormat::CodeQuality => "Code Quality",
            FileFormat::Html => "HTML report",
        }
    }
}

/// Collects a run and writes one report file at the end.
#[derive(Debug)]
pub struct FileReporter {
    path: PathBuf,
    format: FileFormat,
    summary: Summary,
    /// Start of each row, in ms since the first event (HTML timeline).
    starts: Vec<Option<u64>>,
    first: Option<u64>,
    written: bool,
    error: Option<io::Error>,
}

impl FileReporter {
    /// A reporter writing `format` to `path` when the run ends.
    pub fn new(path: impl Into<PathBuf>, format: FileFormat) -> Self {
        let keep = if format == FileFormat::Html {
            HTML_OUTPUT_LINES
        } else {
            0
        };
        FileReporter {
            path: path.into(),
            format,
            summary: Summary::new().keep_output(keep),
            starts: Vec::new(),
            first: None,
            written: false,
            error: None,
        }
    }

    /// The path written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format written.
    pub fn format(&self) -> FileFormat {
        self.format
    }

    /// The error writing the file, if writing failed.
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    /// The file's content for the events so far.
    pub fn render(&self) -> String {
        match self.format {
            FileFormat::Sarif => pretty(&sarif::sarif(&self.summary)),
            FileFormat::CodeQuality => pretty(&codequality::code_quality(&self.summary)),
            FileFormat::Html => html::html(&self.summary, &self.starts),
        }
    }

    /// Writes the file now.
    pub fn write(&self) -> io::Result<()> {
        write_atomic(&self.path, self.render().as_bytes())
    }
}

fn pretty(value: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    s.push('\n');
    s
}

fn millis_of(time: &str) -> Option<u64> {
    let t = humantime::parse_rfc3339(time).ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    u64::try_from(d.as_millis()).ok()
}

impl EventListener for FileReporter {
    fn event(&mut self, event: &Event) {
        let now = millis_of(&event.time);
        if self.first.is_none() {
            self.first = now;
        }
        let Some(index) = self.summary.record(event) else {
            return;
        };
        if self.starts.len() <= index {
            self.starts.resize(index + 1, None);
        }
        let offset = now.zip(self.first).map(|(n, f)| n.saturating_sub(f));
        match &event.kind {
            EventKind::StepStarted { .. } => self.starts[index] = offset,
            EventKind::StepFinished { duration_ms, .. } if self.starts[index].is_none() => {
                self.starts[index] = offset.map(|o| o.saturating_sub(*duration_ms));
            }
            _ => {}
        }
    }

    fn finish(&mut self) {
        if self.written {
            return;
        }
        self.written = true;
        if let Err(e) = self.write() {
            self.error = Some(e);
        }
    }
}

/// Writes `bytes` to a temporary file next to `path`, then renames it over
/// `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    file.flush()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}
