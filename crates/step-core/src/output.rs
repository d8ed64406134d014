//! Cutting a child's output into blocks that can be masked whole.
//!
//! A process reader appends whatever it read to a [`Splitter`]'s buffer;
//! the splitter hands back everything up to the last newline as one block
//! (whole lines), and keeps the rest — a partial line — for the next read.
//! Masking a block whole is safe because no single-line secret spans a
//! newline, and each line of a multi-line secret is a form of its own.
//!
//! Two cases keep a partial line from waiting forever, and both cut only
//! where no secret can be cut through:
//! * a line longer than `max_line` is cut with [`Masker::safe_split`] once at
//!   least the longest secret form's length follows the cut (the carry-over
//!   window), so memory stays flat whatever the line length;
//! * when the child goes quiet ([`Splitter::idle`]) the partial line is
//!   shown, unless its end could be the start of a secret that more output
//!   would complete ([`Masker::pending_start`]); then it waits.

use crate::mask::Masker;

/// Holds a child's not yet emitted output of one stream.
#[derive(Debug)]
pub(crate) struct Splitter {
    buf: Vec<u8>,
    max_line: usize,
}

impl Splitter {
    /// A splitter cutting lines longer than `max_line` bytes.
    pub(crate) fn new(max_line: usize) -> Self {
        Splitter {
            buf: Vec::new(),
            max_line: max_line.max(1),
        }
    }

    /// The buffer to append read bytes to (then call [`Splitter::split`]).
    pub(crate) fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Emits what can be emitted after bytes were appended from offset
    /// `from` on: the whole lines, then cut pieces of an overlong line.
    /// `masker` is asked for only when a line must be cut.
    pub(crate) fn split(
        &mut self,
        from: usize,
        masker: impl Fn() -> Masker,
        emit: &mut impl FnMut(&[u8]),
    ) {
        let from = from.min(self.buf.len());
        if let Some(i) = memchr::memrchr(b'\n', &self.buf[from..]) {
            let end = from + i + 1;
            emit(&self.buf[..end]);
            self.buf.drain(..end);
        }
        if self.buf.len() <= self.max_line {
            return;
        }
        let masker = masker();
        // The carry-over window: cut only when the longest form fits after
        // the cut, so a secret starting before it is whole in the buffer.
        while self.buf.len() > self.max_line + masker.longest() {
            let mut cut = masker.safe_split(&self.buf, self.max_line);
            if cut == 0 {
                // A secret (or a run of overlapping ones) covers the cut:
                // cut after it instead.
                cut = masker
                    .ranges(&self.buf)
                    .next()
                    .map_or(self.max_line, |r| r.end);
            }
            emit(&self.buf[..cut]);
            self.buf.drain(..cut);
        }
    }

    /// The child has been quiet: emits the partial line, unless its end
    /// could be the start of a secret (or of a UTF-8 character) that more
    /// output would complete.
    pub(crate) fn idle(&mut self, masker: &Masker, emit: &mut impl FnMut(&[u8])) {
        if self.buf.is_empty() {
            return;
        }
        let incomplete_char =
            matches!(std::str::from_utf8(&self.buf), Err(e) if e.error_len().is_none());
        if incomplete_char || masker.pending_start(&self.buf) < self.buf.len() {
            return;
        }
        emit(&self.buf);
        self.buf.clear();
    }

    /// The stream ended: emits whatever is left.
    pub(crate) fn finish(&mut self, emit: &mut impl FnMut(&[u8])) {
        if !self.buf.is_empty() {
            emit(&self.buf);
            self.buf.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `chunks`, calling `idle` after the chunks marked so; returns
    /// the emitted pieces.
    fn feed(masker: &Masker, max_line: usize, chunks: &[(&[u8], bool)]) -> Vec<Vec<u8>> {
        let mut s = Splitter::new(max_line);
        let mut pieces = Vec::new();
        let mut emit = |b: &[u8]| pieces.push(b.to_vec());
        for (chunk, idle) in chunks {
            let from = s.buffer().len();
            s.buffer().extend_from_slice(chunk);
            s.split(from, || masker.clone(), &mut emit);
            if *idle {
                s.idle(masker, &mut emit);
            }
        }
        s.finish(&mut emit);
        pieces
    }

    /// The pieces masked one by one, joined.
    fn shown(masker: &Masker, pieces: &[Vec<u8>]) -> String {
        pieces
            .iter()
            .map(|p| masker.mask(&String::from_utf8_lossy(p)).into_owned())
            .collect()
    }

    #[test]
    fn whole_lines_go_out_as_one_block_and_the_partial_line_waits() {
        let m = Masker::default();
        let pieces = feed(&m, 100, &[(b"one\ntwo\nthr", false), (b"ee\n", false)]);
        assert_eq!(pieces, vec![b"one\ntwo\n".to_vec(), b"three\n".to_vec()]);
    }

    #[test]
    fn a_quiet_child_shows_its_partial_line_unless_it_may_start_a_secret() {
        let m = Masker::new(["hunter2-secret"]);
        let pieces = feed(&m, 100, &[(b"last line", true)]);
        assert_eq!(pieces, vec![b"last line".to_vec()]);
        let pieces = feed(&m, 100, &[(b"pw: hunt", true), (b"er2-secret ok\n", false)]);
        assert_eq!(pieces, vec![b"pw: hunter2-secret ok\n".to_vec()]);
        assert_eq!(shown(&m, &pieces), "pw: *** ok\n");
    }

    #[test]
    fn a_quiet_child_in_the_middle_of_a_character_waits() {
        let m = Masker::default();
        let e_acute = "é".as_bytes();
        let pieces = feed(&m, 100, &[(&e_acute[..1], true), (&e_acute[1..], true)]);
        assert_eq!(pieces, vec![e_acute.to_vec()]);
    }

    #[test]
    fn a_long_line_is_cut_outside_secrets_and_memory_stays_bounded() {
        let m = Masker::new(["SECRETVALUE"]);
        let line = "x".repeat(35) + "SECRETVALUE" + &"y".repeat(60);
        let chunks: Vec<(&[u8], bool)> = line.as_bytes().chunks(7).map(|c| (c, false)).collect();
        let mut s = Splitter::new(40);
        let mut max = 0;
        let mut pieces = Vec::new();
        for (c, _) in &chunks {
            let from = s.buffer().len();
            s.buffer().extend_from_slice(c);
            s.split(from, || m.clone(), &mut |b: &[u8]| pieces.push(b.to_vec()));
            max = max.max(s.buffer().len());
        }
        s.finish(&mut |b: &[u8]| pieces.push(b.to_vec()));
        assert!(max <= 40 + m.longest() + 7, "held {max} bytes");
        assert!(pieces.len() > 1);
        assert_eq!(shown(&m, &pieces), m.mask(&line));
        assert!(!shown(&m, &pieces).contains("SECRET"));
    }

    #[test]
    fn a_run_of_overlapping_secrets_longer_than_a_line_is_cut_after_it() {
        let m = Masker::new(["abab"]);
        let line = "ab".repeat(40);
        let pieces = feed(&m, 10, &[(line.as_bytes(), false)]);
        assert_eq!(shown(&m, &pieces), "***");
    }
}
