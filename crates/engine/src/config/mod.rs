//! The flag vocabulary every policy and front end speaks: flag definitions and values
//! ([`FlagDef`], [`FlagValue`]), errors naming their flag ([`ConfigError`]), raw configurations
//! ([`Config`]: values keyed by flag name, checked against the flag's kind), typed validating
//! reads ([`Params`], which collect every error so a form can mark all bad fields at once) and
//! the validated settings a run is described by ([`ReplicaSpec`], [`CacheSpec`], ...).
//!
//! This module knows no policy: the one table of every flag is assembled above the policies, in
//! [`crate::flag_table`], and [`crate::sim_config`] turns a `Config` into a `SimConfig`.

mod error;
mod flag;
mod params;
mod spec;
mod table;
mod unsupported;

pub use error::{ConfigError, ConfigErrors};
pub use flag::{FlagDef, FlagGroup, FlagKind, FlagRole, FlagValue, InputFile, help_text};
pub(crate) use flag::{closest, list_items};
pub use params::{Params, fill_placeholders, fill_placeholders_with};
pub use spec::{
    ActivationMemory, CacheSpec, ClusterSpec, CostSpec, Dtype, LinearStatePool, MetricsSpec, ParallelSpec,
    ReplicaSpec, SPECULATIVE_TOKEN_UNIT, SloSpec, SpeculativeMethod, SpeculativeSpec, SpeculativeTree,
};
pub use table::FlagTable;
pub use unsupported::{UNSUPPORTED_FLAGS, UnsupportedFlag, unsupported_flag};

use std::collections::BTreeMap;
use std::fmt;

use crate::limits::{MAX_CONFIG_BYTES, MAX_CONFIG_KEYS, describe_bytes};

/// Whether flag `name` applies under `config`'s selector choices (its `shown_when` chain
/// holds); see [`Config::is_active`].
pub fn is_active(config: &Config, name: &str) -> bool {
    config.is_active(name)
}

/// Raw configuration: the flags a user set, each checked against its kind; every other flag
/// of its [`FlagTable`] takes its default. Serialises as a flat JSON object keyed by Vidur's
/// flag names.
///
/// `Config::new()` and the `from_*` constructors, which start from the engine's one flag table,
/// are defined with that table in [`crate::flag_table`]; this module knows no policy.
#[derive(Clone)]
pub struct Config {
    table: &'static FlagTable,
    values: BTreeMap<&'static str, FlagValue>,
}

impl PartialEq for Config {
    fn eq(&self, other: &Config) -> bool {
        std::ptr::eq(self.table, other.table) && self.values == other.values
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config").field("values", &self.values).finish()
    }
}

impl Config {
    /// Every flag of `table` at its default.
    pub fn with_table(table: &'static FlagTable) -> Config {
        Config { table, values: BTreeMap::new() }
    }

    /// The flags this configuration holds values for.
    pub fn table(&self) -> &'static FlagTable {
        self.table
    }

    /// Sets `name` from text (CLI or URL form). Unknown names and bad values are refused with
    /// the closest valid flag or choice suggested.
    pub fn set(&mut self, name: &str, text: &str) -> Result<(), ConfigError> {
        if let Some(result) = unsupported_flag(name, text) {
            return result;
        }
        let def = self.lookup(name)?;
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
        let def = self.lookup(name)?;
        let value = def.parse_json(value)?;
        self.values.insert(def.name, value);
        Ok(())
    }

    /// Sets a boolean flag (for `--flag` / `--no-flag`).
    pub fn set_bool(&mut self, name: &str, on: bool) -> Result<(), ConfigError> {
        if let Some(result) = unsupported_flag(name, &on.to_string()) {
            return result;
        }
        let def = self.lookup(name)?;
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

    /// Sets the flags of a flat JSON object `{"flag_name": value, ...}` (the `--config` file, a
    /// share link's payload, the web form's state). Every error is reported, each naming its key.
    /// A UTF-8 byte-order mark is skipped, as the trace readers skip it; a text over
    /// [`MAX_CONFIG_BYTES`] is refused unread.
    pub fn with_json_str(self, text: &str) -> Result<Config, ConfigErrors> {
        if text.len() > MAX_CONFIG_BYTES {
            return Err(ConfigError::new(
                "config",
                format!("is {}, more than the {} a configuration may take", describe_bytes(text.len() as u64), describe_bytes(MAX_CONFIG_BYTES as u64)),
            )
            .with_hint("a configuration is one JSON object of flag names to values, as written by `llmsim` in config.json (about 10 kB)")
            .into());
        }
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            ConfigError::new("config", format!("not valid JSON: {e}"))
                .with_hint("the file must be one JSON object of flag names to values, as written by `llmsim` in config.json")
        })?;
        self.with_json_value(&value)
    }

    /// [`Config::with_json_str`] for an already parsed value.
    pub fn with_json_value(self, value: &serde_json::Value) -> Result<Config, ConfigErrors> {
        let Some(object) = value.as_object() else {
            return Err(ConfigError::new("config", "must be a JSON object of flag names to values").into());
        };
        check_key_count(object.len())?;
        let mut config = self;
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
        let def = self.table.find(name).unwrap_or_else(|| panic!("unknown flag {name} read by the engine"));
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
        self.ignored_flag_warnings_among(&|_| true)
    }

    /// [`Config::ignored_flag_warnings`] for the flags `chosen` accepts only (the ones a user
    /// set, when defaults of a serving engine were filled in as well).
    pub fn ignored_flag_warnings_among(&self, chosen: &dyn Fn(&str) -> bool) -> Vec<String> {
        let mut warnings = Vec::new();
        for (name, value) in self.values.iter().filter(|(name, _)| chosen(name)) {
            let Some(def) = self.table.find(name) else { continue };
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

    /// Whether flag `name` applies under the current selector choices: it exists and its
    /// `shown_when` chain holds.
    pub fn is_active(&self, name: &str) -> bool {
        self.table.find(name).is_some() && self.failing_selector(name).is_none()
    }

    /// The first link of `name`'s selector chain that does not hold: the selector, the values
    /// it would need and the value it has.
    fn failing_selector(&self, name: &str) -> Option<(&'static str, &'static [&'static str], String)> {
        let mut current = self.table.find(name)?;
        // Chains are at most a few links long (flag → length type → request type); the bound
        // guards against a cycle in the table.
        for _ in 0..8 {
            let (selector, values) = current.shown_when.as_ref()?;
            let chosen = self.get(selector).to_text();
            if !values.iter().any(|v| *v == chosen) && !self.second_choice_holds(selector, values) {
                return Some((selector, &values[..], chosen));
            }
            current = self.table.find(selector)?;
        }
        None
    }

    /// Whether a flag making a second choice of `selector` (a decode pool's replica
    /// scheduler, [`FlagDef::second_choice_of`]) applies and holds one of `values`.
    fn second_choice_holds(&self, selector: &str, values: &[&str]) -> bool {
        self.table.second_choices_of(selector).any(|flag| {
            let chosen = self.get(flag).to_text();
            values.iter().any(|v| *v == chosen) && self.failing_selector(flag).is_none()
        })
    }

    /// Flat JSON of the explicitly set flags (`full` = false) or of every flag (`full` = true).
    pub fn to_json(&self, full: bool) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        if full {
            for def in self.table.flags() {
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

    /// Sets `(name, text)` pairs (a share link's query string), collecting every error.
    pub fn with_pairs<'a>(
        self,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Config, ConfigErrors> {
        let mut config = self;
        let mut errors = Vec::new();
        let mut pairs = pairs.into_iter();
        for (k, v) in pairs.by_ref().take(MAX_CONFIG_KEYS) {
            if let Err(e) = config.set(k, v) {
                errors.push(e);
            }
        }
        let more = pairs.count();
        if more > 0 {
            check_key_count(MAX_CONFIG_KEYS + more)?;
        }
        if errors.is_empty() { Ok(config) } else { Err(ConfigErrors(errors)) }
    }

    fn lookup(&self, name: &str) -> Result<&'static FlagDef, ConfigError> {
        self.table.find(name).ok_or_else(|| {
            let e = ConfigError::new(name, "unknown flag");
            match self.table.suggest(name) {
                Some(s) => e.with_hint(format!("did you mean --{s}?")),
                None => e.with_hint("`llmsim -h` lists every flag"),
            }
        })
    }
}

/// Refuses a configuration of more than [`MAX_CONFIG_KEYS`] keys before reading them (each
/// unknown key costs a search for the closest flag).
fn check_key_count(keys: usize) -> Result<(), ConfigErrors> {
    if keys > MAX_CONFIG_KEYS {
        return Err(ConfigError::new(
            "config",
            format!("has {keys} keys, more than the {MAX_CONFIG_KEYS} a configuration may have"),
        )
        .with_hint("give each flag once; `llmsim -h` lists them")
        .into());
    }
    Ok(())
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(values: &[&str]) -> String {
    match values {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
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
