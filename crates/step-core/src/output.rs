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

/// Property tests: whatever the read boundaries and pauses, the pieces a
/// splitter emits, masked one by one, show exactly what masking the whole
/// output at once shows — so no secret is ever cut where masking misses it.
#[cfg(test)]
mod properties {
    use super::*;
    use base64::Engine;
    use proptest::prelude::*;

    /// Text around the secrets: letters the secrets use too, so near-misses
    /// and partial matches are common, and newlines.
    fn filler() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[a-e0-9 \n-]{0,60}").expect("regex")
    }

    fn secret() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[a-e0-9-]{4,14}").expect("regex")
    }

    /// Feeds `input` cut at `cuts` (offsets, any order), the child going
    /// quiet after the cuts marked so; returns what is shown.
    fn shown(masker: &Masker, max_line: usize, input: &[u8], cuts: &[(usize, bool)]) -> String {
        let mut cuts: Vec<(usize, bool)> =
            cuts.iter().map(|&(c, q)| (c.min(input.len()), q)).collect();
        cuts.sort_unstable();
        let mut s = Splitter::new(max_line);
        let mut out = String::new();
        let mut emit = |b: &[u8]| out.push_str(&masker.mask(&String::from_utf8_lossy(b)));
        let mut last = 0;
        for (cut, quiet) in cuts.into_iter().chain([(input.len(), false)]) {
            let from = s.buffer().len();
            s.buffer().extend_from_slice(&input[last..cut]);
            last = cut;
            s.split(from, || masker.clone(), &mut emit);
            if quiet {
                s.idle(masker, &mut emit);
            }
        }
        s.finish(&mut emit);
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn a_secret_across_a_read_boundary_at_every_offset_is_masked(
            before in filler(), after in filler(), value in secret(), quiet in any::<bool>(),
            max_line in 24usize..80,
        ) {
            let masker = Masker::new([value.as_str()]);
            let b64 = base64::engine::general_purpose::STANDARD.encode(&value);
            let input = format!("{before}{value}{after} b64={b64}\n{after}");
            let whole = masker.mask(&input).into_owned();
            for k in 0..=input.len() {
                let got = shown(&masker, max_line, input.as_bytes(), &[(k, quiet)]);
                prop_assert_eq!(&got, &whole, "cut at {}", k);
                prop_assert!(!got.contains(&value) && !got.contains(&b64));
            }
        }

        #[test]
        fn any_reads_and_pauses_show_what_masking_the_whole_shows(
            parts in proptest::collection::vec((filler(), 0usize..3), 1..6),
            values in proptest::collection::vec(secret(), 1..3),
            cuts in proptest::collection::vec((0usize..400, any::<bool>()), 0..12),
            max_line in 24usize..80,
        ) {
            let masker = Masker::new(&values);
            let input: String = parts
                .iter()
                .map(|(text, which)| format!("{text}{}", values.get(*which).map_or("", String::as_str)))
                .collect();
            let got = shown(&masker, max_line, input.as_bytes(), &cuts);
            prop_assert_eq!(got.clone(), masker.mask(&input).into_owned());
            for v in &values {
                prop_assert!(!got.contains(v.as_str()), "{} leaked in {:?}", v, got);
            }
        }

        #[test]
        fn overlapping_secrets_hide_both_whole(
            x in secret(), y in secret(), z in secret(), before in filler(), k in 0usize..200,
        ) {
            // `xy` and `yz` share `y`: printed as `xyz`, neither may show a part.
            let (first, second) = (format!("{x}{y}"), format!("{y}{z}"));
            let masker = Masker::new([first.as_str(), second.as_str()]);
            let input = format!("{before}{x}{y}{z}.\n");
            let got = shown(&masker, 32, input.as_bytes(), &[(k, true)]);
            prop_assert!(got.ends_with("***.\n"), "{:?}", got);
            prop_assert!(!got.contains(&first) && !got.contains(&second));
        }

        #[test]
        fn no_line_of_a_multi_line_secret_shows(
            lines in proptest::collection::vec(secret(), 2..4), before in filler(),
            cuts in proptest::collection::vec((0usize..200, any::<bool>()), 0..6),
        ) {
            let value = lines.join("\n");
            let masker = Masker::new([value.as_str()]);
            let input = format!("{before}{value}\n{}\n", lines.join("\r\n"));
            let got = shown(&masker, 40, input.as_bytes(), &cuts);
            for line in &lines {
                prop_assert!(!got.contains(line.as_str()), "{} leaked in {:?}", line, got);
            }
        }
    }
}
