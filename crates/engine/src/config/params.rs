//! Typed, validating reads of a [`Config`] for the policies' and the composition root's
//! parsers: every error is collected, each naming its flag.

use std::sync::Arc;

use super::{Config, ConfigError, FlagValue};
use crate::catalog;
use crate::inputs::Inputs;
use crate::limits::MAX_REQUESTS;
use crate::trace::Trace;

/// Typed, validating access to a [`Config`]; errors accumulate instead of stopping at the first.
pub struct Params<'a> {
    config: &'a Config,
    inputs: &'a Inputs,
    errors: Vec<ConfigError>,
    warnings: Vec<String>,
}

impl<'a> Params<'a> {
    /// Reads `config`, with no input files.
    pub fn new(config: &'a Config) -> Params<'a> {
        static NO_INPUTS: std::sync::OnceLock<Inputs> = std::sync::OnceLock::new();
        Params::with_inputs(config, NO_INPUTS.get_or_init(Inputs::new))
    }

    /// Reads `config`, with input files from `inputs`.
    pub fn with_inputs(config: &'a Config, inputs: &'a Inputs) -> Params<'a> {
        Params { config, inputs, errors: Vec::new(), warnings: Vec::new() }
    }

    /// The input files.
    pub fn inputs(&self) -> &'a Inputs {
        self.inputs
    }

    /// The trace named by the path flag `flag` (placeholders filled), or `None` after recording
    /// an error naming the flag, the file and, for malformed files, the row and column.
    pub fn trace(&mut self, flag: &str) -> Option<Arc<Trace>> {
        let Some(path) = self.opt_string(flag) else {
            self.errors.push(ConfigError::new(flag, "a trace file is required"));
            return None;
        };
        let path = fill_placeholders(self.config, &path);
        match self.inputs.trace(&path) {
            Ok(trace) => {
                // What the reader noticed (zero-token rows, arrivals out of order) reaches
                // the report, so no change to the input goes unsaid.
                for w in &trace.warnings {
                    let note = format!("{}: {w}", trace.name);
                    if !self.warnings.contains(&note) {
                        self.warnings.push(note);
                    }
                }
                Some(trace)
            }
            Err(e) => {
                self.errors.push(ConfigError::new(flag, e.to_string()));
                None
            }
        }
    }

    /// The underlying raw configuration.
    pub fn config(&self) -> &'a Config {
        self.config
    }

    /// Records a non-fatal note for the report (a change made to the input, an assumption).
    pub fn warn(&mut self, note: impl Into<String>) {
        let note = note.into();
        if !self.warnings.contains(&note) {
            self.warnings.push(note);
        }
    }

    /// Non-fatal notes gathered while reading (e.g. from trace files).
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// Records an error.
    pub fn error(&mut self, error: ConfigError) {
        self.errors.push(error);
    }

    /// Records an error about `flag` unless `ok`.
    pub fn check(&mut self, ok: bool, flag: &str, message: impl FnOnce() -> String) {
        if !ok {
            self.errors.push(ConfigError::new(flag, message()));
        }
    }

    /// The errors recorded so far.
    pub fn into_errors(self) -> Vec<ConfigError> {
        self.errors
    }

    /// Whether any error was recorded.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// A boolean flag.
    pub fn bool(&mut self, name: &str) -> bool {
        match self.config.get(name) {
            FlagValue::Bool(b) => b,
            other => self.wrong_kind(name, &other, false),
        }
    }

    /// A whole-number flag that must be set.
    pub fn int(&mut self, name: &str) -> i64 {
        match self.config.get(name) {
            FlagValue::Int(i) => i,
            FlagValue::None => {
                self.errors.push(ConfigError::new(name, "must be set"));
                0
            }
            other => self.wrong_kind(name, &other, 0),
        }
    }

    /// A whole-number flag that may be `None`.
    pub fn opt_int(&mut self, name: &str) -> Option<i64> {
        match self.config.get(name) {
            FlagValue::Int(i) => Some(i),
            FlagValue::None => None,
            other => self.wrong_kind(name, &other, None),
        }
    }

    /// A whole number in `[min, max]`.
    pub fn int_in(&mut self, name: &str, min: i64, max: i64) -> i64 {
        let v = self.int(name);
        if v < min || v > max {
            self.errors.push(ConfigError::new(
                name,
                format!("{v} is out of range: it must be between {min} and {max}"),
            ));
            return min;
        }
        v
    }

    /// A whole number ≥ `min`, as u64.
    pub fn u64_at_least(&mut self, name: &str, min: u64) -> u64 {
        self.int_in(name, min as i64, i64::MAX) as u64
    }

    /// An optional whole number ≥ `min`.
    pub fn opt_u64_at_least(&mut self, name: &str, min: u64) -> Option<u64> {
        let v = self.opt_int(name)?;
        if v < min as i64 {
            self.errors.push(ConfigError::new(
                name,
                format!("{v} is out of range: it must be at least {min} (or none)"),
            ));
            return None;
        }
        Some(v as u64)
    }

    /// A count of requests that may be `None`: at least 1, at most [`MAX_REQUESTS`].
    pub fn opt_request_count(&mut self, name: &str) -> Option<u64> {
        let v = self.opt_u64_at_least(name, 1)?;
        if v > MAX_REQUESTS {
            self.errors.push(
                ConfigError::new(
                    name,
                    format!("{v} requests are more than the {MAX_REQUESTS} a run simulates"),
                )
                .with_hint("simulate fewer requests"),
            );
            return None;
        }
        Some(v)
    }

    /// A real-number flag that must be set (whole numbers are accepted).
    pub fn float(&mut self, name: &str) -> f64 {
        match self.config.get(name) {
            FlagValue::Float(x) => x,
            FlagValue::Int(i) => i as f64,
            FlagValue::None => {
                self.errors.push(ConfigError::new(name, "must be set"));
                0.0
            }
            other => self.wrong_kind(name, &other, 0.0),
        }
    }

    /// A real-number flag that may be `None`.
    pub fn opt_float(&mut self, name: &str) -> Option<f64> {
        match self.config.get(name) {
            FlagValue::Float(x) => Some(x),
            FlagValue::Int(i) => Some(i as f64),
            FlagValue::None => None,
            other => self.wrong_kind(name, &other, None),
        }
    }

    /// A finite real number > 0.
    pub fn positive_float(&mut self, name: &str) -> f64 {
        let v = self.float(name);
        if !(v.is_finite() && v > 0.0) {
            self.errors.push(ConfigError::new(name, format!("{v} must be a positive number")));
            return 1.0;
        }
        v
    }

    /// A finite real number in `[min, max]`.
    pub fn float_in(&mut self, name: &str, min: f64, max: f64) -> f64 {
        let v = self.float(name);
        if !(v.is_finite() && v >= min && v <= max) {
            self.errors.push(ConfigError::new(
                name,
                format!("{v} is out of range: it must be between {min} and {max}"),
            ));
            return min;
        }
        v
    }

    /// A text flag.
    pub fn string(&mut self, name: &str) -> String {
        match self.config.get(name) {
            FlagValue::Str(s) => s,
            FlagValue::None => String::new(),
            other => other.to_text(),
        }
    }

    /// A text flag that may be `None` (or empty).
    pub fn opt_string(&mut self, name: &str) -> Option<String> {
        match self.config.get(name) {
            FlagValue::Str(s) if !s.is_empty() => Some(s),
            _ => None,
        }
    }

    /// A list of whole numbers.
    pub fn int_list(&mut self, name: &str) -> Vec<i64> {
        match self.config.get(name) {
            FlagValue::IntList(v) => v,
            FlagValue::Int(i) => vec![i],
            other => self.wrong_kind(name, &other, Vec::new()),
        }
    }

    fn wrong_kind<T>(&mut self, name: &str, value: &FlagValue, fallback: T) -> T {
        self.errors.push(ConfigError::new(name, format!("has the wrong kind of value: {}", value.to_text())));
        fallback
    }
}

/// Replaces Vidur's path placeholders with this configuration's device, model and node.
/// `{MODEL}` is the model flag's text, except that a catalogue name given without its
/// organisation (`Meta-Llama-3-8B`) is the full id, as in Vidur's directory layout.
pub fn fill_placeholders(config: &Config, path: &str) -> String {
    fill_placeholders_with(config, path, &catalog::Parsed)
}

/// [`fill_placeholders`], finding the model in `catalogue` (the page passes the catalogues'
/// compile-time index, [`catalog::index::Index`]: the same entries).
pub fn fill_placeholders_with(config: &Config, path: &str, catalogue: &dyn catalog::Lookup) -> String {
    let model = config.get("replica_config_model_name").to_text();
    let model = match catalogue.model_id(&model) {
        Some(id) if !model.contains('/') => id.to_string(),
        _ => model,
    };
    path.replace("{DEVICE}", &config.get("replica_config_device").to_text())
        .replace("{MODEL}", &model)
        .replace("{NETWORK_DEVICE}", &config.get("replica_config_network_device").to_text())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled() {
        let config = Config::from_pairs([("replica_config_device", "h100")]).unwrap();
        assert_eq!(
            fill_placeholders(&config, "p/{DEVICE}/{MODEL}/mlp.csv"),
            "p/h100/meta-llama/Llama-2-7b-hf/mlp.csv"
        );
    }
}
