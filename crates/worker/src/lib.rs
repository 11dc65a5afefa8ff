//! llmsim's Web Worker: runs the engine off the page's thread, in chunks, posting progress.
//!
//! The messages it shares with the page are the `llmsim-protocol` crate's; [`check`] is the
//! page's live validation (the page does not link the validator); [`session`] holds
//! the loaded files and drives the engine (plain Rust, tested natively); `glue` (wasm only)
//! receives the page's messages, reads uploaded `File`s, fetches the files the site ships and
//! posts the replies.

#![warn(missing_docs)]

pub mod check;
pub mod search;
pub mod session;

#[cfg(target_arch = "wasm32")]
pub mod glue;
