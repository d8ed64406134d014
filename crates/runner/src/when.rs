//! The `when:` condition language: a small boolean grammar over variables,
//! parsed when the file is loaded so that a typo is an error with its
//! column, never a comparison against a surprising literal.
//!
//! ```text
//! expr    := or
//! or      := and ( "||" and )*
//! and     := unary ( "&&" unary )*
//! unary   := "!" unary | primary
//! primary := "(" expr ")" | var [ ("==" | "!=") value ]
//! var     := NAME | $NAME | ${NAME}
//! value   := "quoted" | 'quoted' | bare-word | $NAME | ${NAME}
//! ```
//!
//! `!` binds tighter than `&&`, which binds tighter than `||`. A bare
//! `NAME` holds when the variable is set and is not empty, `0`, `false`,
//! `no` or `off` (case-insensitive). `NAME == value` compares text; an
//! unset variable compares as the empty string.

use std::fmt;

/// A parsed condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cond {
    /// `NAME`: set and not false/0/no/off/empty.
    Truthy(String),
    /// `NAME == value` (`negate`: `!=`).
    Compare {
        /// The variable on the left.
        var: String,
        /// The right-hand side.
        value: Operand,
        /// `!=` instead of `==`.
        negate: bool,
    },
    /// `!cond`.
    Not(Box<Cond>),
    /// `a && b`.
    And(Box<Cond>, Box<Cond>),
    /// `a || b`.
    Or(Box<Cond>, Box<Cond>),
}

/// The right-hand side of a comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operand {
    /// A literal value (quoted or a bare word).
    Literal(String),
    /// Another variable's value (`$NAME`).
    Var(String),
}

/// A condition that does not parse: what is wrong and where (a 0-based
/// character offset into the condition's text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WhenError {
    /// 0-based character offset of the problem.
    pub offset: usize,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for WhenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.offset + 1)
    }
}

impl std::error::Error for WhenError {}

/// A `when:` text that is not a condition, with what was expected
/// (the error of [`crate::model::When::parse`] and its `FromStr`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{text}` is not a condition: {source}; expected e.g. `APOLLO_run_tests`, `!NAME`, `NAME == value`, `A && (B || C)`"
)]
#[non_exhaustive]
pub struct ConditionError {
    /// The condition as written.
    pub text: String,
    /// What is wrong, and where.
    #[source]
    pub source: WhenError,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    And,
    Or,
    Not,
    Eq,
    Ne,
    Open,
    Close,
    Var(String),
    Word(String),
    Quoted(String),
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::And => "`&&`".into(),
            Tok::Or => "`||`".into(),
            Tok::Not => "`!`".into(),
            Tok::Eq => "`==`".into(),
            Tok::Ne => "`!=`".into(),
            Tok::Open => "`(`".into(),
            Tok::Close => "`)`".into(),
            Tok::Var(v) => format!("`${v}`"),
            Tok::Word(w) => format!("`{w}`"),
            Tok::Quoted(q) => format!("the quoted value \"{q}\""),
        }
    }
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_word_char(c: char) -> bool {
    !c.is_whitespace() && !"()!=&|\"'$".contains(c)
}

/// Splits the text into tokens with their character offsets.
fn tokenize(text: &str) -> Result<Vec<(usize, Tok)>, WhenError> {
    let chars: Vec<char> = text.chars().collect();
    let err = |offset: usize, message: String| WhenError { offset, message };
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let start = i;
        let tok = match (c, next) {
            (c, _) if c.is_whitespace() => {
                i += 1;
                continue;
            }
            ('&', Some('&')) => Tok::And,
            ('|', Some('|')) => Tok::Or,
            ('=', Some('=')) => Tok::Eq,
            ('!', Some('=')) => Tok::Ne,
            ('&', _) => return Err(err(i, "a single `&`; write `&&` for \"and\"".into())),
            ('|', _) => return Err(err(i, "a single `|`; write `||` for \"or\"".into())),
            ('=', _) => return Err(err(i, "a single `=`; write `==` to compare".into())),
            ('!', _) => Tok::Not,
            ('(', _) => Tok::Open,
            (')', _) => Tok::Close,
            ('"' | '\'', _) => {
                let close = chars[i + 1..]
                    .iter()
                    .position(|&q| q == c)
                    .ok_or_else(|| err(i, format!("the quote {c} is never closed")))?;
                let value: String = chars[i + 1..i + 1 + close].iter().collect();
                i += close + 2;
                out.push((start, Tok::Quoted(value)));
                continue;
            }
            ('$', _) => {
                let (name, len) = if next == Some('{') {
                    let close = chars[i + 2..]
                        .iter()
                        .position(|&q| q == '}')
                        .ok_or_else(|| err(i, "`${` is never closed with `}`".into()))?;
                    (
                        chars[i + 2..i + 2 + close].iter().collect::<String>(),
                        close + 3,
                    )
                } else {
                    let n = chars[i + 1..]
                        .iter()
                        .take_while(|c| is_word_char(**c))
                        .count();
                    (chars[i + 1..i + 1 + n].iter().collect(), n + 1)
                };
                if !is_name(&name) {
                    return Err(err(i, format!("`${name}` is not a variable name")));
                }
                i += len;
                out.push((start, Tok::Var(name)));
                continue;
            }
            _ => {
                let n = chars[i..].iter().take_while(|c| is_word_char(**c)).count();
                let word: String = chars[i..i + n].iter().collect();
                i += n;
                out.push((start, Tok::Word(word)));
                continue;
            }
        };
        i += if matches!(tok, Tok::Not | Tok::Open | Tok::Close) {
            1
        } else {
            2
        };
        out.push((start, tok));
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(_, t)| t)
    }

    fn offset(&self) -> usize {
        self.toks.get(self.at).map_or(self.end, |(o, _)| *o)
    }

    fn err<T>(&self, message: String) -> Result<T, WhenError> {
        Err(WhenError {
            offset: self.offset(),
            message,
        })
    }

    fn or(&mut self) -> Result<Cond, WhenError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Tok::Or) {
            self.at += 1;
            left = Cond::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Cond, WhenError> {
        let mut left = self.unary()?;
        while self.peek() == Some(&Tok::And) {
            self.at += 1;
            left = Cond::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Cond, WhenError> {
        if self.peek() == Some(&Tok::Not) {
            self.at += 1;
            return Ok(Cond::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Cond, WhenError> {
        let var = match self.peek().cloned() {
            Some(Tok::Open) => {
                self.at += 1;
                let inner = self.or()?;
                if self.peek() != Some(&Tok::Close) {
                    return self.err(format!("expected `)`, found {}", self.found()));
                }
                self.at += 1;
                return Ok(inner);
            }
            Some(Tok::Var(name)) => name,
            Some(Tok::Word(w)) if is_name(&w) => w,
            Some(Tok::Word(w)) => {
                return self.err(format!(
                    "`{w}` is not a variable name (letters, digits, `_`)"
                ));
            }
            Some(t @ Tok::Quoted(_)) => {
                return self.err(format!(
                    "expected a variable name, found {}; the variable goes on the left: `NAME == \"value\"`",
                    t.describe()
                ));
            }
            _ => return self.err(format!("expected a variable name, found {}", self.found())),
        };
        self.at += 1;
        let negate = match self.peek() {
            Some(Tok::Eq) => false,
            Some(Tok::Ne) => true,
            _ => return Ok(Cond::Truthy(var)),
        };
        self.at += 1;
        let value = match self.peek().cloned() {
            Some(Tok::Quoted(q)) => Operand::Literal(q),
            Some(Tok::Word(w)) => Operand::Literal(w),
            Some(Tok::Var(v)) => Operand::Var(v),
            _ => {
                return self.err(format!(
                    "expected a value after `{}`, found {}; write \"\" for the empty value",
                    if negate { "!=" } else { "==" },
                    self.found()
                ));
            }
        };
        self.at += 1;
        Ok(Cond::Compare { var, value, negate })
    }

    fn found(&self) -> String {
        self.peek()
            .map_or_else(|| "the end of the condition".into(), Tok::describe)
    }
}

/// Parses a condition.
pub fn parse(text: &str) -> Result<Cond, WhenError> {
    let toks = tokenize(text)?;
    let mut p = Parser {
        toks,
        at: 0,
        end: text.chars().count(),
    };
    if p.peek().is_none() {
        return p.err("the condition is empty; expected e.g. `NAME`, `NAME == value`".into());
    }
    let cond = p.or()?;
    if let Some(t) = p.peek() {
        let hint = match t {
            Tok::Word(_) | Tok::Quoted(_) | Tok::Var(_) => {
                "; quote a value that has spaces, and join conditions with `&&` or `||`"
            }
            _ => "",
        };
        return p.err(format!(
            "unexpected {} after a complete condition{hint}",
            t.describe()
        ));
    }
    Ok(cond)
}

/// Whether a variable's value counts as true for a bare `NAME`.
pub fn truthy(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "" | "0" | "false" | "no" | "off"
        )
    })
}

impl Cond {
    /// Evaluates the condition against a variable lookup.
    pub fn holds(&self, get: &dyn Fn(&str) -> Option<String>) -> bool {
        match self {
            Cond::Truthy(var) => truthy(get(var).as_deref()),
            Cond::Compare { var, value, negate } => {
                let right = match value {
                    Operand::Literal(l) => l.clone(),
                    Operand::Var(v) => get(v).unwrap_or_default(),
                };
                (get(var).unwrap_or_default() == right) != *negate
            }
            Cond::Not(c) => !c.holds(get),
            Cond::And(a, b) => a.holds(get) && b.holds(get),
            Cond::Or(a, b) => a.holds(get) || b.holds(get),
        }
    }

    /// The variables the condition reads.
    pub fn variables(&self) -> Vec<&str> {
        match self {
            Cond::Truthy(v) => vec![v],
            Cond::Compare { var, value, .. } => match value {
                Operand::Var(o) => vec![var, o],
                Operand::Literal(_) => vec![var],
            },
            Cond::Not(c) => c.variables(),
            Cond::And(a, b) | Cond::Or(a, b) => {
                let mut v = a.variables();
                v.extend(b.variables());
                v
            }
        }
    }
}

impl fmt::Display for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cond::Truthy(v) => f.write_str(v),
            Cond::Compare { var, value, negate } => {
                let op = if *negate { "!=" } else { "==" };
                match value {
                    Operand::Literal(l) => write!(f, "{var} {op} \"{l}\""),
                    Operand::Var(v) => write!(f, "{var} {op} ${v}"),
                }
            }
            Cond::Not(c) => match **c {
                Cond::Truthy(_) | Cond::Not(_) => write!(f, "!{c}"),
                _ => write!(f, "!({c})"),
            },
            Cond::And(a, b) => {
                let side = |c: &Cond| match c {
                    Cond::Or(..) => format!("({c})"),
                    _ => c.to_string(),
                };
                write!(f, "{} && {}", side(a), side(b))
            }
            Cond::Or(a, b) => write!(f, "{a} || {b}"),
        }
    }
}

#[cfg(test)]
mod tests;
