//! `--set [BACKEND:]FLAG=VALUE`: an llmsim flag added to (or replacing one of) the flags every
//! point runs with, or only the points of one serving engine. This is how a run measures a
//! knob's effect on the measured points (VALIDATION.md, "Fidelity II").

use llmsim_engine::Config;
use thiserror::Error;

/// A bad `--set`.
#[derive(Debug, Error, PartialEq)]
pub enum SettingError {
    /// Not of the form `[backend:]flag=value`.
    #[error("--set '{0}': expected [backend:]flag=value, e.g. vllm:cache_config_activation_memory=profile")]
    Syntax(String),
    /// The engine refuses the flag or its value.
    #[error("--set '{setting}': {message}")]
    Refused { setting: String, message: String },
}

/// One `--set`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// Only points of this `backend` (all when `None`).
    pub backend: Option<String>,
    /// llmsim flag name, without the leading `--`.
    pub flag: String,
    /// Its value.
    pub value: String,
}

impl Setting {
    /// Parses `[backend:]flag=value` (a leading `--` on the flag is dropped; the value may
    /// contain `=` and `:`). The flag and value are checked against the engine's flag table, so
    /// a typo is refused here rather than skipping every point.
    pub fn parse(text: &str) -> Result<Setting, SettingError> {
        let syntax = || SettingError::Syntax(text.to_string());
        let (target, value) = text.split_once('=').ok_or_else(syntax)?;
        let (backend, flag) = match target.split_once(':') {
            Some((backend, flag)) => (Some(backend.trim()), flag),
            None => (None, target),
        };
        let flag = flag.trim().trim_start_matches("--");
        if flag.is_empty() || backend.is_some_and(str::is_empty) {
            return Err(syntax());
        }
        let value = value.trim();
        Config::from_pairs([(flag, value)]).map_err(|errors| SettingError::Refused {
            setting: text.to_string(),
            message: errors.to_string(),
        })?;
        Ok(Setting { backend: backend.map(str::to_string), flag: flag.to_string(), value: value.to_string() })
    }

    /// Whether the setting applies to a point of `backend`.
    pub fn applies_to(&self, backend: &str) -> bool {
        self.backend.as_deref().is_none_or(|b| b == backend)
    }
}

impl std::fmt::Display for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.backend {
            Some(b) => write!(f, "{b}:{}={}", self.flag, self.value),
            None => write!(f, "{}={}", self.flag, self.value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_with_and_without_a_backend() {
        let s = Setting::parse("vllm:--cache_config_activation_memory=profile").unwrap();
        assert_eq!(s.backend.as_deref(), Some("vllm"));
        assert_eq!((s.flag.as_str(), s.value.as_str()), ("cache_config_activation_memory", "profile"));
        assert!(s.applies_to("vllm") && !s.applies_to("trtllm"));
        assert_eq!(s.to_string(), "vllm:cache_config_activation_memory=profile");

        let all = Setting::parse("cache_config_runtime_memory_gb = 1.5").unwrap();
        assert_eq!((all.backend, all.value.as_str()), (None, "1.5"));
    }

    #[test]
    fn bad_settings_are_refused_naming_the_setting() {
        assert_eq!(Setting::parse("no_equals_sign"), Err(SettingError::Syntax("no_equals_sign".into())));
        assert!(matches!(Setting::parse(":x=1"), Err(SettingError::Syntax(_))));
        let unknown = Setting::parse("vllm:cache_config_activation_memroy=profile").unwrap_err().to_string();
        assert!(unknown.contains("cache_config_activation_memroy"), "{unknown}");
        let bad_value = Setting::parse("cache_config_activation_memory=sometimes").unwrap_err().to_string();
        assert!(bad_value.contains("sometimes") || bad_value.contains("none"), "{bad_value}");
    }
}
