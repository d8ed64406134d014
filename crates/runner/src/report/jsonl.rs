//! The event log: every event of a run as one JSON object per line
//! (`--events FILE`), for machines — dashboards, the tests, a later replay.
//!
//! Each line is the `serde_json` form of a [`step_core::Event`], so it
//! parses back into one; a block of output lines becomes one `output` event
//! per line, written without building the events. The file is written in
//! batches of [`BATCH`] bytes and flushed on the sink's timer (at most
//! [`step_core::event::FLUSH_EVERY`] late), at the end of every step, at the
//! end of the run and on [`EventListener::finish`]. A failing disk never
//! stops the run: the first I/O error is kept for
//! [`JsonLinesReporter::error`] and later events are dropped.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use serde::Serialize;
use step_core::event::{Event, EventKind, EventListener, OutputBlock, Stream};

/// How much is buffered before a write.
pub const BATCH: usize = 64 * 1024;

/// An `output` event of one line, borrowed: serializes exactly as the
/// [`Event`] it stands for.
#[derive(Serialize)]
struct OutputLine<'a> {
    time: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    step: Option<&'a str>,
    event: &'static str,
    stream: Stream,
    line: &'a str,
}

/// Writes every event as a line of JSON.
pub struct JsonLinesReporter {
    out: BufWriter<Box<dyn Write + Send>>,
    error: Option<io::Error>,
}

impl std::fmt::Debug for JsonLinesReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonLinesReporter")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl JsonLinesReporter {
    /// Creates (or truncates) the file at `path` and writes the events to it.
    ///
    /// Opening is the one error returned here, so that the CLI can refuse
    /// to start a run whose event log cannot be written.
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        let file = File::create(path)?;
        Ok(Self::new(Box::new(file)))
    }

    /// Writes the events to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        JsonLinesReporter {
            out: BufWriter::with_capacity(BATCH, out),
            error: None,
        }
    }

    /// The first error writing the log, if any. Events after it are lost.
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    fn record(&mut self, result: io::Result<()>) {
        if let Err(e) = result {
            self.error.get_or_insert(e);
        }
    }

    fn write_event(&mut self, event: &Event) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, event)?;
        self.out.write_all(b"\n")
    }
}

impl EventListener for JsonLinesReporter {
    fn event(&mut self, event: &Event) {
        if self.error.is_some() {
            return;
        }
        let result = self.write_event(event);
        self.record(result);
        // Flushing at step boundaries keeps the log useful after a crash
        // without a system call per output line.
        if matches!(
            event.kind,
            EventKind::StepFinished { .. } | EventKind::RunFinished { .. }
        ) && self.error.is_none()
        {
            let result = self.out.flush();
            self.record(result);
        }
    }

    fn output_block(&mut self, block: &OutputBlock<'_>) {
        if self.error.is_some() {
            return;
        }
        let head = OutputLine {
            time: block.time,
            target: block.target,
            step: block.step,
            event: "output",
            stream: block.stream,
            line: "",
        };
        // Every line of the block shares all but its text: serialize that
        // part once (`{…,"line":`), then only each line's string.
        let mut prefix = match serde_json::to_vec(&head) {
            Ok(v) => v,
            Err(e) => {
                self.error = Some(io::Error::from(e));
                return;
            }
        };
        if !prefix.ends_with(b"\"\"}") {
            self.error = Some(io::Error::other("unexpected form of an output event"));
            return;
        }
        prefix.truncate(prefix.len() - 3);
        for text in block.lines() {
            let result = self
                .out
                .write_all(&prefix)
                .and_then(|()| serde_json::to_writer(&mut self.out, text).map_err(io::Error::from))
                .and_then(|()| self.out.write_all(b"}\n"));
            if let Err(e) = result {
                self.error = Some(e);
                return;
            }
        }
    }

    fn flush(&mut self) {
        if self.error.is_none() {
            let result = self.out.flush();
            self.record(result);
        }
    }

    fn finish(&mut self) {
        if self.error.is_none() {
            let result = self.out.flush();
            self.record(result);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::*;

    #[test]
    fn the_file_parses_back_into_the_events() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("events.jsonl");
        let events = two_target_run();
        let mut reporter = JsonLinesReporter::create(&path).expect("create");
        for e in &events {
            reporter.event(e);
        }
        reporter.finish();
        assert!(reporter.error().is_none());

        let text = std::fs::read_to_string(&path).expect("read events");
        let parsed: Vec<Event> = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("one event per line"))
            .collect();
        assert_eq!(parsed, events);
    }

    #[test]
    fn steps_are_on_disk_before_the_run_ends() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("events.jsonl");
        let mut reporter = JsonLinesReporter::create(&path).expect("create");
        let events = two_target_run();
        // Up to and including the first StepFinished (`setup`).
        for e in &events[..4] {
            reporter.event(e);
        }
        let text = std::fs::read_to_string(&path).expect("read events");
        assert_eq!(text.lines().count(), 4);
        assert!(text.contains("\"event\":\"step_finished\""));
    }

    #[test]
    fn an_output_block_is_written_as_the_events_of_its_lines() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("events.jsonl");
        let mut reporter = JsonLinesReporter::create(&path).expect("create");
        for (target, step) in [(Some("aws"), Some("deploy")), (None, None)] {
            let block = OutputBlock {
                time: "2025-01-01T00:00:00.000Z",
                target,
                step,
                stream: Stream::Stderr,
                text: "one \"quoted\"\r\n\ttwo\n\nthree",
            };
            reporter.output_block(&block);
            let expected: String = block
                .events()
                .map(|e| serde_json::to_string(&e).expect("serializes") + "\n")
                .collect();
            reporter.flush();
            let text = std::fs::read_to_string(&path).expect("read events");
            assert!(text.ends_with(&expected), "{text}");
            assert_eq!(block.events().count(), 4);
        }
    }

    #[test]
    fn a_write_error_is_kept_not_a_panic() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut reporter = JsonLinesReporter::new(Box::new(Full));
        for e in two_target_run() {
            reporter.event(&e);
        }
        reporter.finish();
        assert_eq!(
            reporter.error().map(io::Error::kind),
            Some(io::ErrorKind::StorageFull)
        );
    }

    #[test]
    fn creating_in_a_missing_directory_fails_up_front() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = JsonLinesReporter::create(dir.path().join("no/such/dir/events.jsonl"))
            .expect_err("missing directory");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
