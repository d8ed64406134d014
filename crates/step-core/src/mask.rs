//! Secret masking. Every event passes through a [`Masker`] before any sink
//! sees it, so no terminal, log file, JUnit report or Slack message can leak
//! a secret value.
//!
//! A secret is masked in every form a step is likely to print it (see
//! [`forms`]): the value itself, each line of a multi-line value, base64
//! (both alphabets, all three alignments), percent-encoding, JSON escapes
//! and shell quoting. Values shorter than [`MIN_SECRET_LEN`] are refused as
//! secrets (they would blank out ordinary text); [`Masker::too_short`]
//! counts them so the runner can warn.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, Input, MatchKind, packed};
use base64::Engine;

/// Secrets shorter than this are not masked.
pub const MIN_SECRET_LEN: usize = 4;

/// What a masked secret is replaced with.
pub const MASK: &str = "***";

/// Finds the leftmost-longest occurrence of any form at or after a position.
///
/// Teddy (SIMD, up to a few dozen patterns) scans at several GB/s; the
/// aho-corasick DFA without prefilter is the fallback for many secrets or a
/// CPU without the vector instructions. Both answer the same question, so
/// the masking result does not depend on which one is used.
#[derive(Debug)]
enum Finder {
    Packed(packed::Searcher),
    Automaton(AhoCorasick),
}

impl Finder {
    fn build(patterns: &[String]) -> Option<Finder> {
        if patterns.is_empty() {
            return None;
        }
        let packed = packed::Config::new()
            .match_kind(packed::MatchKind::LeftmostLongest)
            .builder()
            .extend(patterns)
            .build();
        if let Some(searcher) = packed {
            return Some(Finder::Packed(searcher));
        }
        // A DFA without a prefilter: its cost per byte is flat. The
        // prefilter picks rare-looking bytes of the secrets; when those
        // bytes are common in the output it fires on nearly every line and
        // costs more than it saves.
        AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .prefilter(false)
            .build(patterns)
            .or_else(|_| {
                // Past the DFA's size limit (many secrets, each in every
                // encoded form): a slower automaton still masks.
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(patterns)
            })
            .ok()
            .map(Finder::Automaton)
    }

    /// The leftmost occurrence starting at or after `from`, the longest one
    /// starting there.
    fn find_from(&self, haystack: &[u8], from: usize) -> Option<Range<usize>> {
        if from >= haystack.len() {
            return None;
        }
        match self {
            Finder::Packed(s) => s
                .find_in(haystack, aho_corasick::Span::from(from..haystack.len()))
                .map(|m| m.range()),
            Finder::Automaton(ac) => ac
                .find(Input::new(haystack).span(from..haystack.len()))
                .map(|m| m.range()),
        }
    }
}

/// The compiled forms of a set of secrets.
#[derive(Debug)]
struct Compiled {
    finder: Finder,
    patterns: Vec<String>,
    longest: usize,
}

/// The byte ranges of `haystack` to hide, ascending: every occurrence of
/// every form, with overlapping occurrences merged into one range (so two
/// secrets sharing bytes are hidden together, not one of them half).
struct Ranges<'a> {
    finder: Option<&'a Finder>,
    haystack: &'a [u8],
    next: Option<Range<usize>>,
}

impl Iterator for Ranges<'_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        let finder = self.finder?;
        let mut current = self.next.take()?;
        // Every start position is tried (from `start + 1`, not from `end`),
        // so an occurrence that begins inside another one is found too.
        let mut from = current.start + 1;
        loop {
            match finder.find_from(self.haystack, from) {
                Some(m) if m.start < current.end => {
                    current.end = current.end.max(m.end);
                    from = m.start + 1;
                }
                // Disjoint: the start of the next range.
                Some(m) => {
                    self.next = Some(m);
                    return Some(current);
                }
                None => return Some(current),
            }
        }
    }
}

/// Replaces secret values in text. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Masker {
    compiled: Option<Arc<Compiled>>,
    too_short: usize,
}

impl Masker {
    /// A masker for these secret values.
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut patterns: Vec<String> = Vec::new();
        let mut too_short = 0;
        for secret in secrets {
            let secret = secret.as_ref();
            if secret.is_empty() {
                continue;
            }
            if secret.chars().count() < MIN_SECRET_LEN {
                too_short += 1;
                continue;
            }
            for form in forms(secret) {
                if form.chars().count() >= MIN_SECRET_LEN && !patterns.contains(&form) {
                    patterns.push(form);
                }
            }
        }
        let longest = patterns.iter().map(String::len).max().unwrap_or(0);
        let compiled = Finder::build(&patterns).map(|finder| {
            Arc::new(Compiled {
                finder,
                patterns,
                longest,
            })
        });
        Masker {
            compiled,
            too_short,
        }
    }

    /// Secret values that were too short to mask (the caller should warn,
    /// without printing them).
    pub fn too_short(&self) -> usize {
        self.too_short
    }

    /// Whether there is anything to mask.
    pub fn is_empty(&self) -> bool {
        self.compiled.is_none()
    }

    /// The length in bytes of the longest pattern.
    pub fn longest(&self) -> usize {
        self.compiled.as_ref().map_or(0, |c| c.longest)
    }

    /// The byte ranges of `text` that [`Masker::mask`] replaces, ascending
    /// and disjoint (overlapping occurrences merged).
    pub fn ranges<'a>(&'a self, text: &'a [u8]) -> impl Iterator<Item = Range<usize>> + 'a {
        let finder = self.compiled.as_ref().map(|c| &c.finder);
        Ranges {
            finder,
            haystack: text,
            next: finder.and_then(|f| f.find_from(text, 0)),
        }
    }

    /// The text with every secret form replaced by `***`, in one pass over
    /// the text. Occurrences that overlap (two secrets sharing bytes, a
    /// secret inside another's encoding) become a single `***`.
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let bytes = text.as_bytes();
        let mut ranges = self.ranges(bytes).peekable();
        if ranges.peek().is_none() {
            return Cow::Borrowed(text);
        }
        let mut out: Vec<u8> = Vec::with_capacity(text.len());
        let mut last = 0;
        for r in ranges {
            out.extend_from_slice(&bytes[last..r.start]);
            out.extend_from_slice(MASK.as_bytes());
            last = r.end;
        }
        out.extend_from_slice(&bytes[last..]);
        // A UTF-8 pattern found in UTF-8 text starts and ends on character
        // boundaries, so this is always valid; lossy all the same, never a panic.
        Cow::Owned(match String::from_utf8(out) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// Masks a `String` in place.
    pub fn mask_in_place(&self, text: &mut String) {
        if let Cow::Owned(masked) = self.mask(text) {
            *text = masked;
        }
    }

    /// A position at or before `preferred` where `text` may be cut without
    /// cutting through a secret: used when a child prints a line too long to
    /// hold, so the two halves are masked separately but safely. The caller
    /// must leave at least [`Masker::longest`] bytes after `preferred`, so
    /// that every secret starting before the cut is whole in `text`.
    pub fn safe_split(&self, text: &[u8], preferred: usize) -> usize {
        let mut split = preferred.min(text.len());
        for r in self.ranges(text) {
            if r.start >= split {
                break;
            }
            if r.end > split {
                split = r.start;
                break;
            }
        }
        // Never cut inside a UTF-8 sequence.
        while split > 0 && split < text.len() && (text[split] & 0b1100_0000) == 0b1000_0000 {
            split -= 1;
        }
        split
    }

    /// Where the end of `text` could be the beginning of a secret form that
    /// more output would complete: the index of the longest such suffix, or
    /// `text.len()` when none. Output up to that index can be shown now;
    /// the rest must wait for more bytes (or the end of the stream).
    pub fn pending_start(&self, text: &[u8]) -> usize {
        let Some(c) = &self.compiled else {
            return text.len();
        };
        let window = c.longest.saturating_sub(1).min(text.len());
        let first = text.len() - window;
        (first..text.len())
            .find(|&i| {
                let tail = &text[i..];
                c.patterns.iter().any(|p| p.as_bytes().starts_with(tail))
            })
            .unwrap_or(text.len())
    }
}

/// The forms of a secret that are masked: the value, each line of a
/// multi-line value, base64 (standard and URL-safe, padded or not, and the
/// three alignments it takes inside a longer encoded text), percent-encoding
/// (`quote` and `quote_plus` styles), JSON escaping (plain, HTML-safe
/// `\u0026`-style and ASCII-only) and shell quoting (`'…'\''…'`, `printf %q`).
pub fn forms(secret: &str) -> Vec<String> {
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
    for raw in [secret, trimmed] {
        base64_forms(raw.as_bytes(), &mut out);
        // `echo "$SECRET" | base64` encodes the newline echo adds.
        base64_forms(format!("{raw}\n").as_bytes(), &mut out);
    }
    for raw in [secret, trimmed] {
        out.push(percent_encode(raw, b"/", false));
        out.push(percent_encode(raw, b"", false));
        out.push(percent_encode(raw, b"", true));
        // encodeURIComponent leaves these alone.
        out.push(percent_encode(raw, b"!*'()", false));
        out.extend(json_forms(raw));
        out.push(raw.replace('\'', "'\\''"));
        out.push(backslash_quote(raw));
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|f| !f.is_empty() && seen.insert(f.clone()));
    out
}

/// Base64 of `raw` in both alphabets: padded, unpadded, and the part that
/// stays the same whatever bytes surround it at each of the three offsets
/// (`user:secret` encoded whole contains one of these).
fn base64_forms(raw: &[u8], out: &mut Vec<String>) {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    for engine in [&STANDARD, &URL_SAFE] {
        let full = engine.encode(raw);
        out.push(full.trim_end_matches('=').to_string());
        out.push(full);
        for offset in 0..3usize {
            let mut padded = vec![0u8; offset];
            padded.extend_from_slice(raw);
            let encoded = engine.encode(&padded);
            // Characters that mix in bits of the bytes before or after.
            let skip = [0, 2, 3][offset];
            let stable = padded.len() * 8 / 6;
            if let Some(part) = encoded.get(skip..stable) {
                out.push(part.to_string());
            }
        }
    }
}

/// Percent-encoding as Python's `quote(s, safe)` (or `quote_plus` with
/// `plus`): unreserved characters and `safe` stay, the rest is `%XX`.
fn percent_encode(raw: &str, safe: &[u8], plus: bool) -> String {
    let mut out = String::with_capacity(raw.len() * 3);
    for &b in raw.as_bytes() {
        if b.is_ascii_alphanumeric() || b"_.-~".contains(&b) || safe.contains(&b) {
            out.push(b as char);
        } else if plus && b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The JSON-escaped forms (without the quotes): serde's, with `&`, `<`,
/// `>` and `'` as `\u0026`-style escapes (minijinja's `tojson`), the same
/// without `'` (Go), with `/` as `\/`, and ASCII-only (`\u00e9`).
fn json_forms(raw: &str) -> Vec<String> {
    let Ok(json) = serde_json::to_string(raw) else {
        return Vec::new();
    };
    let plain = json[1..json.len() - 1].to_string();
    let html = |chars: &[char], upper: bool| {
        let mut s = String::with_capacity(plain.len());
        for c in plain.chars() {
            if chars.contains(&c) && upper {
                s.push_str(&format!("\\u{:04X}", c as u32));
            } else if chars.contains(&c) {
                s.push_str(&format!("\\u{:04x}", c as u32));
            } else {
                s.push(c);
            }
        }
        s
    };
    let mut ascii = String::with_capacity(plain.len());
    for c in plain.chars() {
        if c.is_ascii() {
            ascii.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                ascii.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    vec![
        html(&['&', '<', '>', '\''], false),
        html(&['&', '<', '>'], false),
        html(&['&', '<', '>', '\''], true),
        plain.replace('/', "\\/"),
        ascii,
        plain,
    ]
}

/// Bash's `printf %q` style: a backslash before each character the shell
/// would treat specially.
fn backslash_quote(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() * 2);
    for c in raw.chars() {
        if !(c.is_alphanumeric() || "_-./,:@%+=".contains(c)) {
            out.push('\\');
        }
        out.push(c);
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
    fn encoded_forms_are_masked() {
        let secret = "p&ss <w>o'rd/+x?";
        let m = Masker::new([secret]);
        let cases = [
            "p%26ss%20%3Cw%3Eo%27rd/%2Bx%3F",
            "p%26ss+%3Cw%3Eo%27rd%2F%2Bx%3F",
            "p\\u0026ss \\u003cw\\u003eo\\u0027rd/+x?",
            "p\\u0026ss \\u003cw\\u003eo'rd/+x?",
            "p&ss <w>o'\\''rd/+x?",
        ];
        for form in cases {
            assert_eq!(m.mask(&format!("[{form}]")), "[***]", "{form}");
        }
        use base64::engine::general_purpose::{STANDARD, URL_SAFE};
        for prefix in ["", "u", "us", "usr:"] {
            for engine in [&STANDARD, &URL_SAFE] {
                let whole = engine.encode(format!("{prefix}{secret}"));
                let masked = m.mask(&whole);
                assert!(masked.contains(MASK), "{prefix:?}: {whole} -> {masked}");
                assert!(masked.len() < 12, "{prefix:?}: {whole} -> {masked}");
            }
        }
    }

    #[test]
    fn short_values_are_not_masked_but_counted() {
        let m = Masker::new(["ab"]);
        assert_eq!(m.mask("ab cd"), "ab cd");
        assert_eq!(m.too_short(), 1);
    }

    #[test]
    fn overlapping_secrets_are_hidden_whole_and_adjacent_ones_each() {
        let m = Masker::new(["abcdef", "defghi", "xyz-1234"]);
        assert_eq!(m.mask("1 abcdefghi 2"), "1 *** 2");
        // One inside the other's span, starting later and ending earlier.
        let m2 = Masker::new(["0123456789", "34567"]);
        assert_eq!(m2.mask("a0123456789b 34567"), "a***b ***");
        assert_eq!(m.mask("xyz-1234xyz-1234"), "******");
        assert_eq!(m.ranges(b"..abcdefghi..").collect::<Vec<_>>(), vec![2..11]);
    }

    #[test]
    fn a_tail_that_may_begin_a_secret_is_found() {
        let m = Masker::new(["hunter22"]);
        assert_eq!(m.pending_start(b"pw: hunt"), 4);
        assert_eq!(m.pending_start(b"pw: h"), 4);
        assert_eq!(m.pending_start(b"all done"), 8);
        assert_eq!(Masker::default().pending_start(b"hunt"), 4);
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
