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
    /// Accepted, but probably not what was meant (a variable not set in
    /// `validate`, a property a step directory does not declare).
    Warning,
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
    /// The pipeline the problem is in (`None`: the file as a whole), so
    /// `runner run P` can leave other pipelines' problems to `validate`.
    pub pipeline: Option<String>,
    /// A second line: what to do about it (`runner step add …`).
    pub hint: Option<String>,
    /// Detail shown only with `--verbose` (where step directories were looked for).
    pub detail: Option<String>,
}

static VERBOSE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Shows diagnostics' [`Diagnostic::detail`] from now on (`--verbose`).
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, std::sync::atomic::Ordering::Relaxed);
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
            pipeline: None,
            hint: None,
            detail: None,
        }
    }

    /// A warning at a position.
    pub fn warning(file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            level: DiagLevel::Warning,
            ..Diagnostic::error(file, pos, message)
        }
    }

    /// The same diagnostic at another level.
    pub fn with_level(mut self, level: DiagLevel) -> Self {
        self.level = level;
        self
    }

    /// Marks the pipeline the diagnostic belongs to.
    pub fn in_pipeline(mut self, pipeline: Option<&str>) -> Self {
        self.pipeline = pipeline.map(str::to_string);
        self
    }

    /// Adds a hint line.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds detail shown with `--verbose`.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
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
            DiagLevel::Warning => "warning",
            DiagLevel::Notice => "notice",
        };
        write!(f, ": {level}: {}", self.message)?;
        if let Some(s) = &self.suggestion {
            write!(f, " (did you mean `{s}`?)")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        if let Some(d) = &self.detail
            && VERBOSE.load(std::sync::atomic::Ordering::Relaxed)
        {
            write!(f, "\n  {d}")?;
        }
        Ok(())
    }
}

/// Sorts diagnostics by file and position (unknown positions first) and
/// drops repeats: the same message at the same place, and a later error
/// at the same place that follows from the first (one problem, one line).
pub fn sort_dedup(diags: &mut Vec<Diagnostic>) {
    diags.sort_by(|a, b| {
        (&a.file, a.pos, level_rank(a.level)).cmp(&(&b.file, b.pos, level_rank(b.level)))
    });
    let mut seen: Vec<(PathBuf, Pos, DiagLevel, String)> = Vec::new();
    diags.retain(|d| {
        let key = (d.file.clone(), d.pos, d.level, d.message.clone());
        if seen.contains(&key) {
            return false;
        }
        seen.push(key);
        true
    });
}

fn level_rank(l: DiagLevel) -> u8 {
    match l {
        DiagLevel::Error => 0,
        DiagLevel::Warning => 1,
        DiagLevel::Notice => 2,
    }
}

/// The closest candidate to `word`, if one is close enough to be a likely
/// typo: at most one edit (a transposition counts as one), or edits for at
/// most a quarter of the longer name. `npm-install` is three edits from
/// `pip-install` (27%): no suggestion; `scirpt` is one from `script`.
pub fn closest<'a, I>(word: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let word = word.to_ascii_lowercase();
    let mut best: Option<(usize, f64, &str)> = None;
    for c in candidates {
        let lower = c.to_ascii_lowercase();
        let d = strsim::osa_distance(&word, &lower);
        let len = word.chars().count().max(c.chars().count());
        let close = d <= 1 || d * 4 <= len;
        // Ties go to the candidate that shares more of the start.
        let score = strsim::jaro_winkler(&word, &lower);
        if close && best.is_none_or(|(b, bs, _)| d < b || (d == b && score > bs)) {
            best = Some((d, score, c));
        }
    }
    best.map(|(_, _, c)| c.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_are_close_relative_to_the_length() {
        assert_eq!(closest("npm-install", ["pip-install"]), None);
        assert_eq!(
            closest("scirpt", ["script", "group"]).as_deref(),
            Some("script")
        );
        assert_eq!(closest("cod", ["code", "cwd"]).as_deref(), Some("code"));
        assert_eq!(
            closest("terrafrom-apply", ["terraform-apply"]).as_deref(),
            Some("terraform-apply")
        );
        assert_eq!(closest("xyz", ["steps"]), None);
    }

    #[test]
    fn sorting_orders_by_position_and_drops_repeats() {
        let f = Path::new("f.yml");
        let mut d = vec![
            Diagnostic::error(f, Pos::new(5, 1), "b"),
            Diagnostic::error(f, Pos::new(2, 3), "a"),
            Diagnostic::error(f, Pos::new(5, 1), "b"),
        ];
        sort_dedup(&mut d);
        let lines: Vec<u64> = d.iter().map(|d| d.pos.line).collect();
        assert_eq!(lines, vec![2, 5]);
    }
}
