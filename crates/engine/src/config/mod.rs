//! Configuration: one flat table of Vidur-named flags, shared by the CLI, JSON files, the web
//! form and share links, and the validation that turns it into a typed [`SimConfig`].
//!
//! Raw input (`--flag value` pairs, a flat JSON object, URL query pairs) lands in a [`Config`]:
//! values keyed by flag name, checked against the flag's kind. [`SimConfig::build`] then reads it
//! through [`Params`], which validates every value and collects every error, each naming its
//! flag, so a form can mark all bad fields at once.

mod flags;
mod typed;

pub use flags::{
    FlagDef, FlagGroup, FlagKind, UNSUPPORTED_FLAGS, UnsupportedFlag, all_flags, find_flag, suggest_flag,
    unsupported_flag,
};
pub use typed::{
    ActivationMemory, CacheSpec, ClusterSpec, Dtype, MetricsSpec, ParallelSpec, Policy, ReplicaSpec,
    SimConfig, SloSpec, fill_placeholders, is_active,
};

use std::collections::BTreeMap;
use std::fmt;

use crate::inputs::Inputs;

/// A parsed flag value.
#[derive(Clone, Debug, PartialEq)]
pub enum FlagValue {
    /// `true` / `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A real number.
    Float(f64),
    /// Text: a path, a name, a choice.
    Str(String),
    /// A list of whole numbers (Vidur's `nargs="+"` flags).
    IntList(Vec<i64>),
    /// Explicitly unset (Vidur's `None`).
    None,
}

impl FlagValue {
    /// The value as CLI / URL text; [`Config::set`] parses it back to the same value.
    pub fn to_text(&self) -> String {
        match self {
            FlagValue::Bool(b) => b.to_string(),
            FlagValue::Int(i) => i.to_string(),
            FlagValue::Float(x) => format_float(*x),
            FlagValue::Str(s) => s.clone(),
            FlagValue::IntList(v) => v.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(" "),
            FlagValue::None => "none".to_string(),
        }
    }

    /// The value as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            FlagValue::Bool(b) => (*b).into(),
            FlagValue::Int(i) => (*i).into(),
            FlagValue::Float(x) => {
                serde_json::Number::from_f64(*x).map_or(serde_json::Value::Null, Into::into)
            }
            FlagValue::Str(s) => s.clone().into(),
            FlagValue::IntList(v) => v.clone().into(),
            FlagValue::None => serde_json::Value::Null,
        }
    }
}

/// Shortest text that parses back to the same float.
fn format_float(x: f64) -> String {
    let s = format!("{x}");
    if s.contains('.') || s.contains('e') || s.contains("inf") || s.contains("NaN") {
        s
    } else {
        format!("{s}.0")
    }
}

/// A configuration error, always naming the flag (form field) it is about.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ConfigError {
    /// The flag (without `--`), or an empty string for errors about the whole configuration.
    pub flag: String,
    /// What is wrong, with the offending value and the numbers involved.
    pub message: String,
    /// How to fix it, when there is an obvious way.
    pub hint: Option<String>,
}

impl ConfigError {
    /// An error about `flag`.
    pub fn new(flag: &str, message: impl Into<String>) -> ConfigError {
        ConfigError { flag: flag.to_string(), message: message.into(), hint: None }
    }

    /// The same error with a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> ConfigError {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.flag.is_empty() {
            write!(f, "{}", self.message)?;
        } else {
            write!(f, "--{}: {}", self.flag, self.message)?;
        }
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Several configuration errors, reported together.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> ConfigErrors {
        ConfigErrors(vec![e])
    }
}

/// Raw configuration: the flags a user set, each checked against its kind; every other flag
/// takes its default. Serialises as a flat JSON object keyed by Vidur's flag names.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    values: BTreeMap<&'static str, FlagValue>,
}

impl Config {
    /// All flags at their defaults.
    pub fn new() -> Config {
        Config::default()
    }

    /// Sets `name` from text (CLI or URL form). Unknown names and bad values are refused with
    /// the closest valid flag or choice suggested.
    pub fn set(&mut self, name: &str, text: &str) -> Result<(), ConfigError> {
        if let Some(result) = unsupported_flag(name, text) {
            return result;
        }
        let def = lookup(name)?;
        let value = def.parse_text(text)?;
        self.values.insert(def.name, value);
        Ok(())
    }

    /// Sets `name` from a JSON value.
    pub fn set_json(&mut self, name: &str, value: &serde_json::Value) -> Result<(), ConfigError> {
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if let Some(result) = unsupported_flag(name, &text) {
            return result;
        }
        let def = lookup(name)?;
        let value = def.parse_json(value)?;
        self.values.insert(def.name, value);
        Ok(())
    }

    /// Sets a boolean flag (for `--flag` / `--no-flag`).
    pub fn set_bool(&mut self, name: &str, on: bool) -> Result<(), ConfigError> {
        if let Some(result) = unsupported_flag(name, &on.to_string()) {
            return result;
        }
        let def = lookup(name)?;
        if def.kind != FlagKind::Bool {
            return Err(ConfigError::new(def.name, "is not a boolean flag and needs a value"));
        }
        self.values.insert(def.name, FlagValue::Bool(on));
        Ok(())
    }

    /// Returns `name` to its default.
    pub fn unset(&mut self, name: &str) {
        self.values.retain(|k, _| *k != name);
    }

    /// Reads a flat JSON object `{"flag_name": value, ...}` (the `--config` file, a share link's
    /// payload, the web form's state). Every error is reported, each naming its key.
    pub fn from_json_str(text: &str) -> Result<Config, ConfigErrors> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            ConfigError::new("config", format!("not valid JSON: {e}"))
                .with_hint("the file must be one JSON object of flag names to values, as written by `llmsim` in config.json")
        })?;
        Config::from_json_value(&value)
    }

    /// [`Config::from_json_str`] for an already parsed value.
    pub fn from_json_value(value: &serde_json::Value) -> Result<Config, ConfigErrors> {
        let Some(object) = value.as_object() else {
            return Err(ConfigError::new("config", "must be a JSON object of flag names to values").into());
        };
        let mut config = Config::new();
        let mut errors = Vec::new();
        for (key, v) in object {
            if let Err(e) = config.set_json(key.trim_start_matches("--"), v) {
                errors.push(e);
            }
        }
        if errors.is_empty() { Ok(config) } else { Err(ConfigErrors(errors)) }
    }

    /// The value of `name`: the one set, or the default.
    ///
    /// # Panics
    /// If `name` is not a flag: callers pass literal flag names, checked by tests.
    pub fn get(&self, name: &str) -> FlagValue {
        if let Some(v) = self.values.get(name) {
            return v.clone();
        }
        let def = find_flag(name).unwrap_or_else(|| panic!("unknown flag {name} read by the engine"));
        def.default_value()
    }

    /// Whether `name` was set explicitly.
    pub fn is_set(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The explicitly set flags, in name order.
    pub fn explicit(&self) -> impl Iterator<Item = (&'static str, &FlagValue)> {
        self.values.iter().map(|(k, v)| (*k, v))
    }

    /// A warning for every explicitly set flag that does not apply under the chosen selectors
    /// (its `shown_when` chain fails, see [`is_active`]) and whose value differs from its
    /// default, naming the selector and value it needs, e.g. `--sarathi_scheduler_config_chunk_size
    /// is ignored: it applies with --replica_scheduler_config_type sarathi, not vllm_v1`.
    ///
    /// A value equal to the default changes nothing either way; leaving those out keeps a full
    /// `config.json` given back with `--config` (every flag set) from warning about every
    /// inactive flag.
    pub fn ignored_flag_warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        for (name, value) in &self.values {
            let Some(def) = find_flag(name) else { continue };
            if *value == def.default_value() {
                continue;
            }
            if let Some((selector, values, chosen)) = self.failing_selector(name) {
                warnings.push(format!(
                    "--{name} is ignored: it applies with --{selector} {}, not {chosen}",
                    or_list(values)
                ));
            }
        }
        warnings
    }

    /// The first link of `name`'s selector chain that does not hold: the selector, the values
    /// it would need and the value it has.
    fn failing_selector(&self, name: &str) -> Option<(&'static str, &'static [&'static str], String)> {
        let mut current = find_flag(name)?;
        // Chains are at most a few links long (flag → length type → request type); the bound
        // guards against a cycle in the table.
        for _ in 0..8 {
            let (selector, values) = current.shown_when.as_ref()?;
            let chosen = self.get(selector).to_text();
            if !values.iter().any(|v| *v == chosen) {
                return Some((selector, &values[..], chosen));
            }
            current = find_flag(selector)?;
        }
        None
    }

    /// Flat JSON of the explicitly set flags (`full` = false) or of every flag (`full` = true).
    pub fn to_json(&self, full: bool) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        if full {
            for def in all_flags() {
                map.insert(def.name.to_string(), self.get(def.name).to_json());
            }
        } else {
            for (k, v) in &self.values {
                map.insert((*k).to_string(), v.to_json());
            }
        }
        serde_json::Value::Object(map)
    }

    /// The explicitly set flags as `(name, text)` pairs, e.g. for a share link's query string.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        self.values.iter().map(|(k, v)| ((*k).to_string(), v.to_text())).collect()
    }

    /// Parses `(name, text)` pairs (a share link's query string), collecting every error.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Config, ConfigErrors> {
        let mut config = Config::new();
        let mut errors = Vec::new();
        for (k, v) in pairs {
            if let Err(e) = config.set(k, v) {
                errors.push(e);
            }
        }
        if errors.is_empty() { Ok(config) } else { Err(ConfigErrors(errors)) }
    }
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(values: &[&str]) -> String {
    match values {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn lookup(name: &str) -> Result<&'static FlagDef, ConfigError> {
    find_flag(name).ok_or_else(|| {
        let e = ConfigError::new(name, "unknown flag");
        match suggest_flag(name) {
            Some(s) => e.with_hint(format!("did you mean --{s}?")),
            None => e.with_hint("`llmsim -h` lists every flag"),
        }
    })
}

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
    pub fn trace(&mut self, flag: &str) -> Option<std::sync::Arc<crate::workload::trace::Trace>> {
        let Some(path) = self.opt_string(flag) else {
            self.errors.push(ConfigError::new(flag, "a trace file is required"));
            return None;
        };
        let path = typed::fill_placeholders(self.config, &path);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_flags_are_refused_with_the_closest_one() {
        let mut c = Config::new();
        let e = c.set("replica_config_modle_name", "x").unwrap_err();
        assert_eq!(e.hint.as_deref(), Some("did you mean --replica_config_model_name?"));
    }

    #[test]
    fn bad_values_name_the_flag_and_suggest_a_choice() {
        let mut c = Config::new();
        let e = c.set("global_scheduler_config_type", "round_robbin").unwrap_err();
        assert_eq!(e.flag, "global_scheduler_config_type");
        assert!(e.hint.unwrap().contains("round_robin"), "hint names the closest choice");
        let e = c.set("cluster_config_num_replicas", "eight").unwrap_err();
        assert!(e.message.contains("eight"));
    }

    #[test]
    fn json_and_pairs_round_trip() {
        let mut c = Config::new();
        c.set("poisson_request_interval_generator_config_qps", "8").unwrap();
        c.set("cache_config_enable_prefix_caching", "true").unwrap();
        c.set("synthetic_request_generator_config_duration", "none").unwrap();
        let json = c.to_json(false).to_string();
        assert_eq!(Config::from_json_str(&json).unwrap(), c);
        let pairs = c.to_pairs();
        let back = Config::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        assert_eq!(back, c);
        assert_eq!(c.get("poisson_request_interval_generator_config_qps"), FlagValue::Float(8.0));
    }

    #[test]
    fn json_errors_name_every_key() {
        let errors = Config::from_json_str(r#"{"seed": "x", "nope": 1}"#).unwrap_err();
        let flags: Vec<_> = errors.0.iter().map(|e| e.flag.as_str()).collect();
        assert_eq!(flags, ["nope", "seed"]);
    }

    #[test]
    fn flags_of_unselected_types_are_warned_about_with_the_failing_selector() {
        let c = Config::from_pairs([
            ("request_generator_config_type", "trace"),
            ("sarathi_scheduler_config_chunk_size", "256"),
            // Fails two links up: poisson is chosen, but intervals apply to synthetic only.
            ("poisson_request_interval_generator_config_qps", "3"),
            // Applies to synthetic and closed_loop.
            ("length_generator_config_type", "zipf"),
            // Set to its default: changes nothing either way, so no warning.
            ("vllm_v1_scheduler_config_chunk_size", "512"),
            ("synthetic_request_generator_config_num_requests", "128"),
            ("seed", "3"),
        ])
        .unwrap();
        assert_eq!(
            c.ignored_flag_warnings(),
            [
                "--length_generator_config_type is ignored: it applies with --request_generator_config_type synthetic or closed_loop, not trace",
                "--poisson_request_interval_generator_config_qps is ignored: it applies with --request_generator_config_type synthetic, not trace",
                "--sarathi_scheduler_config_chunk_size is ignored: it applies with --replica_scheduler_config_type sarathi, not vllm_v1",
            ]
        );
        let active = Config::from_pairs([
            ("replica_scheduler_config_type", "sarathi"),
            ("sarathi_scheduler_config_chunk_size", "256"),
        ])
        .unwrap();
        assert!(active.ignored_flag_warnings().is_empty());
        // A full config.json (every flag set, most to their defaults) warns about nothing.
        let full = Config::from_json_value(&Config::new().to_json(true)).unwrap();
        assert!(full.ignored_flag_warnings().is_empty(), "{:?}", full.ignored_flag_warnings());
    }

    #[test]
    fn the_disk_cache_is_refused_from_json_too_unless_off() {
        let e = Config::from_json_str(
            r#"{"replica_scheduler_config_type": "vllm_v1_disk", "cache_config_enable_disk_caching": true}"#,
        )
        .unwrap_err();
        let flags: Vec<_> = e.0.iter().map(|e| e.flag.as_str()).collect();
        assert_eq!(flags, ["cache_config_enable_disk_caching", "replica_scheduler_config_type"]);
        assert!(e.0.iter().all(|e| e.message.contains("not supported")), "{e}");
        let off = Config::from_json_str(r#"{"cache_config_enable_disk_caching": false}"#).unwrap();
        assert_eq!(off, Config::new(), "Vidur's default is a no-op");
    }

    #[test]
    fn bool_lists_parse_in_python_spelling() {
        let flag = "linear_regression_execution_time_predictor_config_fit_intercept";
        let mut c = Config::new();
        c.set(flag, "true, false").unwrap();
        assert_eq!(c.get(flag), FlagValue::Str("True False".into()));
        c.set_json(flag, &serde_json::json!([false])).unwrap();
        assert_eq!(c.get(flag), FlagValue::Str("False".into()));
        assert!(c.set(flag, "[True, maybe]").is_err());
        assert_eq!(Config::from_json_value(&c.to_json(false)).unwrap(), c, "round-trips through config.json");
    }
}
