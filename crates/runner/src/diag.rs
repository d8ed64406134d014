//! Diagnostics: what is wrong with a pipeline file, where (file, line,
//! column), and what was probably meant.

use std::fmt;
use std::path::{Path, PathBuf};

/// A 1-based position in a file; line 0 means "unknown".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// 1-based line (0 when unknown).
    pub line: u64,
    /// 1-based column (0 when unknown).
    pub column: u64,
}

impl Pos {
    /// A position.
    pub fn new(line: u64, column: u64) -> Self {
        Pos { line, column }
    }

    /// Whether the position is known.
    pub fn is_known(self) -> bool {
        self.line > 0
    }
}

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiagLevel {
    /// The file cannot be run.
    Error,
    /// Accepted, but worth knowing (wercker keys that do nothing here).
    Notice,
}

/// One problem (or notice) in a pipeline file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or notice.
    pub level: DiagLevel,
    /// The file.
    pub file: PathBuf,
    /// Where in it.
    pub pos: Pos,
    /// What is wrong and what was expected.
    pub message: String,
    /// "did you mean …?"
    pub suggestion: Option<String>,
}

impl Diagnostic {
    /// An error at a position.
    pub fn error(file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            level: DiagLevel::Error,
            file: file.to_path_buf(),
            pos,
            message: message.into(),
            suggestion: None,
        }
    }

    /// A notice at a position.
    pub fn notice(file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            level: DiagLevel::Notice,
            ..Diagnostic::error(file, pos, message)
        }
    }

    /// Adds a suggestion.
    pub fn suggest(mut self, suggestion: Option<String>) -> Self {
        self.suggestion = suggestion;
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.level == DiagLevel::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.pos.is_known() {
            write!(f, ":{}:{}", self.pos.line, self.pos.column)?;
        }
        let level = match self.level {
            DiagLevel::Error => "error",
            DiagLevel::Notice => "notice",
        };
        write!(f, ": {level}: {}", self.message)?;
        if let Some(s) = &self.suggestion {
            write!(f, " (did you mean `{s}`?)")?;
        }
        Ok(())
    }
}

/// The closest candidate to `word`, if one is close enough to be a likely typo.
pub fn closest<'a, I>(word: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(&word.to_ascii_lowercase(), &c.to_ascii_lowercase());
        if best.is_none_or(|(b, _)| score > b) {
            best = Some((score, c));
        }
    }
    best.filter(|(score, _)| *score >= 0.75)
        .map(|(_, c)| c.to_string())
}
