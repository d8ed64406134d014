//! # runner
//!
//! The stepwise runner (work in progress).
//!
//! ```
//! assert!(true);
//! ```
