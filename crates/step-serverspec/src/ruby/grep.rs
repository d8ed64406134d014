//! `grep` and `sed -n A,Bp` over a file's text, in-process, for the
//! patterns whose meaning is the same in grep's basic regular expressions
//! and here: literal characters, `.` for any character, `^` at the start and
//! `$` at the end. A pattern with anything else (`\`, `[`, `]`, `*`, `^` or
//! `$` elsewhere) gets `None`, and the check runs the command instead.

use regex::Regex;

/// A basic regular expression of the simple kind, compiled.
pub struct SimpleBre {
    re: Regex,
    /// The pattern's characters, `None` standing for `.` (for `grep -w`).
    chars: Vec<Option<char>>,
    anchored: bool,
}

impl SimpleBre {
    /// Compiles `pattern`, if it is of the simple kind.
    pub fn new(pattern: &str) -> Option<SimpleBre> {
        let (start, body) = match pattern.strip_prefix('^') {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        let (end, body) = match body.strip_suffix('$') {
            Some(rest) => (true, rest),
            None => (false, body),
        };
        if body.contains(['\\', '[', ']', '*', '^', '$', '\n']) {
            return None;
        }
        let mut re = String::from(if start { "^" } else { "" });
        let mut chars = Vec::new();
        for c in body.chars() {
            if c == '.' {
                re.push('.');
                chars.push(None);
            } else {
                re.push_str(&regex::escape(&c.to_string()));
                chars.push(Some(c));
            }
        }
        if end {
            re.push('$');
        }
        Some(SimpleBre {
            re: Regex::new(&re).ok()?,
            chars,
            anchored: start || end,
        })
    }

    /// Whether a line matches (`grep`).
    pub fn is_match(&self, line: &str) -> bool {
        self.re.is_match(line)
    }

    /// Whether a line matches as a whole word (`grep -w`): somewhere, with
    /// no word character just before or after. Only for unanchored
    /// patterns (`None` otherwise).
    pub fn is_word_match(&self, line: &str) -> Option<bool> {
        if self.anchored || self.chars.is_empty() {
            return None;
        }
        let text: Vec<char> = line.chars().collect();
        let n = self.chars.len();
        let word = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric() || *c == '_');
        Some((0..=text.len().saturating_sub(n)).any(|i| {
            text.len() >= i + n
                && self
                    .chars
                    .iter()
                    .zip(&text[i..i + n])
                    .all(|(p, c)| p.is_none_or(|p| p == *c))
                && !word(i.checked_sub(1).and_then(|j| text.get(j)))
                && !word(text.get(i + n))
        }))
    }
}

/// A text's lines as grep and sed read them (a last line without a
/// newline still counts; `\r` stays part of its line).
pub fn lines(text: &str) -> Vec<&str> {
    if text.is_empty() {
        return Vec::new();
    }
    text.strip_suffix('\n')
        .unwrap_or(text)
        .split('\n')
        .collect()
}

/// `grep -qs -- P FILE || grep -qFs -- P FILE` over `lines`.
pub fn contains(lines: &[&str], pattern: &SimpleBre, text: &str) -> bool {
    lines
        .iter()
        .any(|l| pattern.is_match(l) || l.contains(text))
}

/// A sed address.
pub enum Addr {
    /// A line number.
    Line(usize),
    /// `$`.
    Last,
    /// `/re/`.
    Re(SimpleBre),
}

impl Addr {
    /// Parses an address as specinfra writes it (`12`, `$`, `/^root/`).
    pub fn parse(text: &str) -> Option<Addr> {
        if text == "$" {
            return Some(Addr::Last);
        }
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return text.parse().ok().map(Addr::Line);
        }
        let inner = text.strip_prefix('/')?.strip_suffix('/')?;
        if inner.is_empty() || inner.contains('/') {
            return None;
        }
        SimpleBre::new(inner).map(Addr::Re)
    }

    fn starts(&self, n: usize, line: &str, last: usize) -> bool {
        match self {
            Addr::Line(m) => *m == n,
            Addr::Last => n == last,
            Addr::Re(re) => re.is_match(line),
        }
    }
}

/// `sed -n 'FROM,TOp'`: GNU sed's ranges (a range starts where FROM
/// matches; a regex TO is looked for from the next line; a line-number TO
/// at or before the start ends the range at once; a range may start again).
pub fn sed_range<'a>(lines: &[&'a str], from: &Addr, to: &Addr) -> Vec<&'a str> {
    let last = lines.len();
    let mut out = Vec::new();
    let mut active = false;
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        if active {
            out.push(*line);
            active = match to {
                Addr::Line(m) => n < *m,
                Addr::Last => true,
                Addr::Re(re) => !re.is_match(line),
            };
        } else if from.starts(n, line, last) {
            out.push(*line);
            active = match to {
                Addr::Line(m) => n < *m,
                Addr::Last => n < last,
                Addr::Re(_) => true,
            };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_patterns_only() {
        assert!(SimpleBre::new("root:x").is_some());
        assert!(SimpleBre::new("^root$").is_some());
        assert!(SimpleBre::new("a*b").is_none());
        assert!(SimpleBre::new("[a]").is_none());
        assert!(SimpleBre::new("a\\.b").is_none());
        let dot = SimpleBre::new("a.c").expect("simple");
        assert!(dot.is_match("xabcx"));
        assert!(!dot.is_match("ac"));
        let w = SimpleBre::new("local.host").expect("simple");
        assert_eq!(w.is_word_match("127.0.0.1 localxhost"), Some(true));
        assert_eq!(w.is_word_match("127.0.0.1 mylocal.host"), Some(false));
        assert_eq!(w.is_word_match("local.host-2"), Some(true));
        assert_eq!(
            SimpleBre::new("^x").and_then(|b| b.is_word_match("x")),
            None
        );
    }

    #[test]
    fn ranges_follow_gnu_sed() {
        let text = "root\nbin\ndaemon\nroot2\nbin\n";
        let l = lines(text);
        let re = |s: &str| Addr::parse(s).expect("address");
        assert_eq!(
            sed_range(&l, &re("/^root/"), &re("/^bin/")),
            ["root", "bin", "root2", "bin"]
        );
        assert_eq!(
            sed_range(&l, &re("1"), &re("/^daemon/")),
            ["root", "bin", "daemon"]
        );
        assert_eq!(sed_range(&l, &re("3"), &re("2")), ["daemon"]);
        assert_eq!(
            sed_range(&l, &re("/^daemon/"), &re("$")),
            ["daemon", "root2", "bin"]
        );
        assert_eq!(
            sed_range(&l, &re("/^bin/"), &re("/^bin/")),
            ["bin", "daemon", "root2", "bin"]
        );
        assert!(Addr::parse("^root").is_none());
        assert!(Addr::parse("/a\\/b/").is_none());
        let p = SimpleBre::new("root").expect("simple");
        assert!(contains(&l, &p, "root"));
        assert_eq!(lines("a\r\nb"), ["a\r", "b"]);
    }
}
