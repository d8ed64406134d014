//! Integration tests of step-serverspec with real components: a local HTTP
//! service (axum), real processes, an sshd started on 127.0.0.1, a docker
//! engine with a busybox container, and rspec with serverspec.

mod support;

mod differential;
mod docker;
mod docker_api;
mod local;
mod seed_serverspec;
mod serverspec;
mod ssh;
mod templates;
mod wait_for;
