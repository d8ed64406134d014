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
                .or_else(|_| {
                    // Past the DFA's size limit: a slower automaton still masks.
                    AhoCorasick::builder()
                        .match_kind(MatchKind::LeftmostLongest)
                        .build(&patterns)
                })
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
    fn safe_split_avoids_cutting_a_secret() {
        let m = Masker::new(["SECRETVALUE"]);
        let text = b"aaaaSECRETVALUEbbbb";
        assert_eq!(m.safe_split(text, 8), 4);
        assert_eq!(m.safe_split(text, 2), 2);
        assert_eq!(m.safe_split(text, 17), 17);
    }
}
