//! Integration tests of step-dockerbench: one binary, one module per area.
//!
//! * `parsing` — the log parsers on fixture logs (current text + JSON of the
//!   same run, a badly escaped JSON log, a 2015 text log);
//! * `gate` — the step in log mode: thresholds, ignore, fail_on, fallbacks,
//!   outputs, findings and JUnit cases;
//! * `errors` — configuration and I/O errors;
//! * `describe` — the kind's description and example;
//! * `run` — run mode with the stand-in script against the real local Docker
//!   daemon, and the docker backend.

mod common;
mod describe;
mod errors;
mod gate;
mod parsing;
mod run;
