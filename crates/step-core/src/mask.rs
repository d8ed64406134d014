//! Secret masking. Every event passes through a [`Masker`] before any sink
//! sees it, so no terminal, log file, JUnit report or Slack message can leak
//! a secret value.
//!
//! A secret is masked in every form a step is likely to print it: the value
//! itself, each line of a multi-line value, its base64 encoding and its
//! JSON-escaped form. Values shorter than [`MIN_SECRET_LEN`] are not masked
//! (they would blank out ordinary text); [`Masker::too_short`] lists them so
//! the runner can warn.

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine;

/// Secrets shorter than this are not masked.
pub const MIN_SECRET_LEN: usize = 4;

/// What a masked secret is replaced with.
pub const MASK: &str = "***";

/// Replaces secret values in text. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Masker {
    automaton: Option<AhoCorasick>,
    patterns: Vec<String>,
    too_short: Vec<String>,
    longest: usize,
}

impl Masker {
    /// A masker for these secret values.
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut patterns: Vec<String> = Vec::new();
        let mut too_short = Vec::new();
        for secret in secrets {
            let secret = secret.as_ref();
            if secret.is_empty() {
                continue;
            }
            if secret.chars().count() < MIN_SECRET_LEN {
                too_short.push(secret.to_string());
                continue;
            }
            for form in forms(secret) {
                if form.chars().count() >= MIN_SECRET_LEN && !patterns.contains(&form) {
                    patterns.push(form);
                }
            }
        }
        let longest = patterns.iter().map(String::len).max().unwrap_or(0);
        let automaton = if patterns.is_empty() {
            None
        } else {
            // A DFA without a prefilter: its cost per byte is flat. The
            // prefilter picks rare-looking bytes of the secrets; when those
            // bytes are common in the output it fires on nearly every line
            // and costs more than it saves (measured: 41% of the time of a
            // 1 GiB masking run).
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .prefilter(false)
                .build(&patterns)
                .ok()
        };
        Masker {
            automaton,
            patterns,
            too_short,
            longest,
        }
    }

    /// Secret values that were too short to mask (the caller should warn,
    /// without printing them).
    pub fn too_short(&self) -> usize {
        self.too_short.len()
    }

    /// Whether there is anything to mask.
    pub fn is_empty(&self) -> bool {
        self.automaton.is_none()
    }

    /// The length in bytes of the longest pattern.
    pub fn longest(&self) -> usize {
        self.longest
    }

    /// The text with every secret form replaced by `***`.
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let Some(ac) = &self.automaton else {
            return Cow::Borrowed(text);
        };
        if ac.find(text).is_none() {
            return Cow::Borrowed(text);
        }
        let replacements = vec![MASK; self.patterns.len()];
        Cow::Owned(ac.replace_all(text, &replacements))
    }

    /// Masks a `String` in place.
    pub fn mask_in_place(&self, text: &mut String) {
        if let Cow::Owned(masked) = self.mask(text) {
            *text = masked;
        }
    }

    /// A position at or before `preferred` where `text` may be cut without
    /// cutting through a secret: used when a child prints a line too long to
    /// hold, so the two halves are masked separately but safely.
    pub fn safe_split(&self, text: &[u8], preferred: usize) -> usize {
        let mut split = preferred.min(text.len());
        if let Some(ac) = &self.automaton {
            for m in ac.find_iter(text) {
                if m.start() < split && m.end() > split {
                    split = m.start();
                    break;
                }
                if m.start() >= split {
                    break;
                }
            }
        }
        // Never cut inside a UTF-8 sequence.
        while split > 0 && split < text.len() && (text[split] & 0b1100_0000) == 0b1000_0000 {
            split -= 1;
        }
        split
    }
}

/// The forms of a secret that are masked.
fn forms(secret: &str) -> Vec<String> {
    let mut out = vec![secret.to_string()];
    let trimmed = secret.trim_end_matches(['\n', '\r']);
    if trimmed != secret {
        out.push(trimmed.to_string());
    }
    if trimmed.contains('\n') {
        for line in trimmed.lines() {
            let line = line.trim_end_matches('\r');
            if line.trim().chars().count() >= MIN_SECRET_LEN {
                out.push(line.to_string());
            }
        }
    }
    let engine = base64::engine::general_purpose::STANDARD;
    for raw in [secret, trimmed] {
        out.push(engine.encode(raw));
        out.push(engine.encode(raw).trim_end_matches('=').to_string());
        out.push(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw));
        // `echo "$SECRET" | base64` encodes the newline echo adds.
        out.push(engine.encode(format!("{raw}\n")));
    }
    if let Ok(json) = serde_json::to_string(secret) {
        let inner = &json[1..json.len() - 1];
        if inner != secret {
            out.push(inner.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_value_lines_base64_and_json_forms() {
        let m = Masker::new(["s3cr3t-value", "line-one\nline-two"]);
        assert_eq!(m.mask("x s3cr3t-value y"), "x *** y");
        assert_eq!(m.mask("line-two"), "***");
        let b64 = base64::engine::general_purpose::STANDARD.encode("s3cr3t-value");
        assert_eq!(m.mask(&format!("b64={b64}")), "b64=***");
        assert_eq!(m.mask("line-one\\nline-two"), "***");
        assert_eq!(m.mask("nothing here"), "nothing here");
    }

    #[test]
    fn short_values_are_not_masked_but_counted() {
        let m = Masker::new(["ab"]);
        assert_eq!(m.mask("ab cd"), "ab cd");
        assert_eq!(m.too_short(), 1);
    }

    #[test]
    fn safe_split_avoids_cutting_a_secret() {
        let m = Masker::new(["SECRETVALUE"]);
        let text = b"aaaaSECRETVALUEbbbb";
        assert_eq!(m.safe_split(text, 8), 4);
        assert_eq!(m.safe_split(text, 2), 2);
        assert_eq!(m.safe_split(text, 17), 17);
    }
}
