//! Positions inside a value: a node's position is where its value starts,
//! but a mistake is often further in — the third line of a block scalar,
//! the `&&` in the middle of a condition. These helpers turn an offset in
//! the value's text into the line and column of the file.

use crate::diag::Pos;

/// The position of the character at `offset` (in characters) of `value`,
/// a scalar whose node starts at `start` in `source`. Block scalars (`|`,
/// `>`) count lines from the line after the indicator; quoted scalars
/// skip the opening quote. Falls back to `start` when the source does not
/// have the value where the node says.
pub fn pos_in_value(source: &str, start: Pos, value: &str, offset: usize) -> Pos {
    let Some(line_text) = line(source, start.line) else {
        return start;
    };
    let col0 = usize::try_from(start.column.saturating_sub(1)).unwrap_or(0);
    let first = line_text.chars().nth(col0);
    let before: String = value.chars().take(offset).collect();
    let line_delta = before.matches('\n').count() as u64;
    let in_line = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u64;
    match first {
        Some('|' | '>') => {
            // Content lines start after the indicator; blank lines kept.
            let target = start.line + 1 + line_delta;
            let indent = line(source, target)
                .map_or(0, |l| l.chars().take_while(|c| *c == ' ').count() as u64);
            Pos::new(target, indent + in_line + 1)
        }
        Some('"' | '\'') if line_delta == 0 => Pos::new(start.line, start.column + 1 + in_line),
        _ if line_delta == 0 => Pos::new(start.line, start.column + in_line),
        _ => {
            // A plain multi-line scalar: continuation lines are indented.
            let target = start.line + line_delta;
            let indent = line(source, target)
                .map_or(0, |l| l.chars().take_while(|c| *c == ' ').count() as u64);
            Pos::new(target, indent + in_line + 1)
        }
    }
}

/// Where `$name` (or `${name…}`) is used in `value`, a scalar whose node
/// starts at `start` in `file`; `start` when it cannot be found. Reads the
/// file, so it is meant for the error path only.
pub fn var_pos(file: &std::path::Path, start: Pos, value: &str, name: &str) -> Pos {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let found = value.match_indices('$').find(|(i, _)| {
        let rest = &value[i + 1..];
        let rest = rest.strip_prefix('{').unwrap_or(rest);
        rest.strip_prefix(name)
            .is_some_and(|after| !after.starts_with(is_name))
    });
    let (Some((offset, _)), Ok(source)) = (found, std::fs::read_to_string(file)) else {
        return start;
    };
    pos_in_value(&source, start, value, char_offset(value, offset))
}

/// The 1-based line `n` of `source`.
fn line(source: &str, n: u64) -> Option<&str> {
    source.lines().nth(usize::try_from(n).ok()?.checked_sub(1)?)
}

/// The character offset of the byte offset `byte` in `text`.
pub fn char_offset(text: &str, byte: usize) -> usize {
    text.get(..byte).map_or(0, |t| t.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_quoted_and_block_scalars() {
        let src = "a:\n  when: CLOUD = aws\n  q: \"x $Y\"\n  code: |\n    echo 1\n    echo $Z\n";
        assert_eq!(
            pos_in_value(src, Pos::new(2, 9), "CLOUD = aws", 6),
            Pos::new(2, 15)
        );
        assert_eq!(pos_in_value(src, Pos::new(3, 6), "x $Y", 2), Pos::new(3, 9));
        let code = "echo 1\necho $Z\n";
        assert_eq!(
            pos_in_value(src, Pos::new(4, 9), code, code.find('$').unwrap()),
            Pos::new(6, 10)
        );
    }
}
