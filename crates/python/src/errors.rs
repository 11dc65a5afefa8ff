//! The engine's errors as the package's Python exceptions (`llmsim.ConfigError`,
//! `llmsim.TraceError`), which are defined in Python (`llmsim/_errors.py`) so that they are
//! ordinary, picklable exception classes with documented fields.

use llmsim_engine::{ConfigErrors, TraceError};
use pyo3::prelude::*;

use crate::inputs::LoadError;

/// The Python exception for `error`.
pub fn to_py(py: Python<'_>, error: LoadError) -> PyErr {
    match error {
        LoadError::Config(errors) => config_error(py, &errors),
        LoadError::Trace(error) => trace_error(py, &error),
    }
}

/// `llmsim.ConfigError` carrying every error (flag, message, hint) of `errors`.
pub fn config_error(py: Python<'_>, errors: &ConfigErrors) -> PyErr {
    let items: Vec<(String, String, Option<String>)> =
        errors.0.iter().map(|e| (e.flag.clone(), e.message.clone(), e.hint.clone())).collect();
    build(py, "ConfigError", (items,))
}

/// `llmsim.TraceError` with the file, row (1-based line) and column.
pub fn trace_error(py: Python<'_>, error: &TraceError) -> PyErr {
    build(py, "TraceError", (error.file.clone(), error.line, error.column.clone(), error.message.clone()))
}

/// Calls `llmsim._errors.<class>._from_engine(*args)` and returns the instance as a `PyErr`;
/// should that fail (the package's Python half missing), that failure is the error raised.
fn build<'py, A: pyo3::call::PyCallArgs<'py>>(py: Python<'py>, class: &str, args: A) -> PyErr {
    let made = py
        .import("llmsim._errors")
        .and_then(|module| module.getattr(class))
        .and_then(|class| class.call_method1("_from_engine", args));
    match made {
        Ok(instance) => PyErr::from_value(instance),
        Err(e) => e,
    }
}
