//! llmsim's integration tests: one binary, a module per area. The shared helpers (locating
//! `../shared`, building and running scenarios with invariant checks) are the `llmsim_tests`
//! library, `lib.rs`.

mod capacity;
mod disagg;
mod execution_time;
mod hardening;
mod horizon;
mod policies;
mod properties;
mod routers;
mod scenarios;
mod seed;
mod speculative;
mod traces;
mod validation;
mod vidur_reference;
