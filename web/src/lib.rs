//! llmsim's page: a Leptos app that edits a configuration, runs it in a Web Worker and shows
//! the report as tables and charts.
//!
//! Reading guide. Pure parts, tested natively: [`form`] (fields ↔ engine `Config`, validated by
//! the engine), [`presets`], [`compare`] (A/B pairs: a preset's B form, the settings two runs
//! differ in), [`share`] (share-link query strings), [`summary`] (table rows and A/B
//! differences). Browser parts (wasm only): `worker_client` (the only module that talks
//! to the worker), `charts` (plotters on a canvas), `app` (the components), `browser`
//! (downloads, URL, file helpers).

#![warn(missing_docs)]

pub mod compare;
pub mod form;
pub mod page;
pub mod presets;
pub mod share;
pub mod summary;

#[cfg(target_arch = "wasm32")]
pub mod app;
#[cfg(target_arch = "wasm32")]
pub mod browser;
#[cfg(target_arch = "wasm32")]
pub mod charts;
#[cfg(target_arch = "wasm32")]
pub mod worker_client;
