//! `llmsim._llmsim`, the native half of the Python package `llmsim` (the Pythonic API around it
//! is in `python/llmsim/`): runs the engine with the GIL released, and hands the flag table and
//! the catalogues over as JSON.
//!
//! Layout: [`inputs`] turns the configuration and the files Python gives into a validated
//! `SimConfig`; [`run`] runs it and holds the report; [`errors`] raises the engine's errors as
//! the package's exceptions; [`catalog`] lists flags, models, devices and nodes.

mod catalog;
mod errors;
mod inputs;
mod run;

use pyo3::prelude::*;

/// The native half of `llmsim`; use the `llmsim` package rather than this module.
#[pymodule]
mod _llmsim {
    #[pymodule_export]
    use super::catalog::{devices_json, flags_json, models_json, nodes_json};
    #[pymodule_export]
    use super::run::{Run, run};
}
