//! Integration tests of step-slack against real HTTP servers on 127.0.0.1:
//! wiremock for answers (200, 404, 429, 500), a bare TCP listener for a
//! server that never answers, and a closed port for a refused connection.

mod support;

mod describe;
mod filters;
mod payload;
mod retries;
mod secrecy;
