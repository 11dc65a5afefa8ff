//! llmsim's page: a Leptos app that edits a configuration, runs it in a Web Worker and shows
//! the report as tables and charts.
//!
//! Reading guide. Pure parts, tested natively: [`page`] (the page's state machine: form,
//! uploads, runs, A/B pairs, share links; what the user does and the worker says goes in, what
//! the browser must do comes out), [`form`] (fields ↔ engine `Config`, validated by the
//! engine), [`memory`] (one GPU's memory before a run), [`presets`], [`compare`] (A/B pairs: a
//! preset's B form, the settings two runs differ in), [`share`] (share-link query strings),
//! [`summary`] (table rows, offered against achieved load, A/B differences), [`runs_table`]
//! (the runs table's columns, sorting and CSV export), [`charts`] (what each chart shows,
//! drawn with plotters on any backend: SVG in tests; read back under the pointer). Browser parts (wasm only): `app` (the components, and `app::state`, which binds
//! signals to the page's state), `worker_client` (the only module that talks to the worker),
//! `charts::canvas` (charts on a `<canvas>`), `browser` (downloads, URL, file helpers). The
//! messages exchanged with the worker are the `llmsim-protocol` crate's.

#![warn(missing_docs)]

pub mod charts;
pub mod compare;
pub mod form;
pub mod live_check;
pub mod memory;
pub mod page;
pub mod plan;
pub mod presets;
pub mod runs_table;
pub mod share;
pub mod sort;
pub mod summary;

#[cfg(target_arch = "wasm32")]
pub mod app;
#[cfg(target_arch = "wasm32")]
pub mod browser;
#[cfg(target_arch = "wasm32")]
pub mod worker_client;
