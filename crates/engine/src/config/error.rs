//! Configuration errors: each names the flag (form field) it is about, with a hint when there
//! is an obvious fix.

use std::fmt;

/// A configuration error, always naming the flag (form field) it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
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
#[derive(Clone, Debug, PartialEq, Eq)]
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
