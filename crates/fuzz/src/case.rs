//! One fuzz input: which entry point it drives, the flags, and the files it hands in; and its
//! form on disk (a finding's `case.json`).

use serde_json::{Value, json};

/// The entry point an input drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// `files[0]` as a request trace (`parse_trace`, then its summary).
    Trace,
    /// `files[0]` as arrival times for the interval generator (`read_arrival_times`).
    Arrivals,
    /// `files[0]` as a `--config` JSON, the other files as its inputs; then build and run.
    ConfigJson,
    /// `files[0]` as a Hugging Face `config.json` (`model.json`) under `pairs`; build and run.
    ModelConfig,
    /// `pairs` as flags with `files` as inputs; build and run.
    Scenario,
}

impl Target {
    /// Every target, in the order of [`Target::name`].
    pub const ALL: [Target; 5] =
        [Target::Trace, Target::Arrivals, Target::ConfigJson, Target::ModelConfig, Target::Scenario];

    /// Its name in `case.json` and in statistics.
    pub fn name(self) -> &'static str {
        match self {
            Target::Trace => "trace",
            Target::Arrivals => "arrivals",
            Target::ConfigJson => "config_json",
            Target::ModelConfig => "model_config",
            Target::Scenario => "scenario",
        }
    }

    fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// One input.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// The entry point.
    pub target: Target,
    /// Flags as `(name, value)` pairs, in order (a later pair overrides an earlier one).
    pub pairs: Vec<(String, String)>,
    /// Input files as `(path, bytes)`.
    pub files: Vec<(String, Vec<u8>)>,
}

impl Case {
    /// The case as JSON: file contents as a string when they are UTF-8, else as an array of
    /// bytes.
    pub fn to_json(&self) -> Value {
        let files: Vec<Value> = self
            .files
            .iter()
            .map(|(path, bytes)| match std::str::from_utf8(bytes) {
                Ok(text) => json!({"path": path, "text": text}),
                Err(_) => json!({"path": path, "bytes": bytes}),
            })
            .collect();
        json!({"target": self.target.name(), "pairs": self.pairs, "files": files})
    }

    /// Reads a case written by [`Case::to_json`].
    pub fn from_json(value: &Value) -> Result<Case, String> {
        let target = value
            .get("target")
            .and_then(Value::as_str)
            .and_then(Target::from_name)
            .ok_or("case.json: 'target' is missing or unknown")?;
        let pairs = value
            .get("pairs")
            .and_then(Value::as_array)
            .ok_or("case.json: 'pairs' is missing")?
            .iter()
            .map(|p| match p.as_array().map(Vec::as_slice) {
                Some([Value::String(k), Value::String(v)]) => Ok((k.clone(), v.clone())),
                _ => Err("case.json: a pair is not [name, value]".to_string()),
            })
            .collect::<Result<_, _>>()?;
        let files = value
            .get("files")
            .and_then(Value::as_array)
            .ok_or("case.json: 'files' is missing")?
            .iter()
            .map(|f| {
                let path = f.get("path").and_then(Value::as_str).ok_or("case.json: a file has no path")?;
                let bytes =
                    match (f.get("text").and_then(Value::as_str), f.get("bytes").and_then(Value::as_array)) {
                        (Some(text), _) => text.as_bytes().to_vec(),
                        (None, Some(bytes)) => bytes.iter().map(|b| b.as_u64().unwrap_or(0) as u8).collect(),
                        _ => return Err("case.json: a file has neither text nor bytes".to_string()),
                    };
                Ok((path.to_string(), bytes))
            })
            .collect::<Result<_, String>>()?;
        Ok(Case { target, pairs, files })
    }

    /// Total bytes of its files and pairs (the minimiser's measure).
    pub fn size(&self) -> usize {
        self.files.iter().map(|(_, b)| b.len()).sum::<usize>()
            + self.pairs.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_survive_their_json_form() {
        let case = Case {
            target: Target::Scenario,
            pairs: vec![("seed".into(), "1".into())],
            files: vec![("a.csv".into(), b"x,y\n1,2\n".to_vec()), ("b.csv".into(), vec![0xff, b'\n'])],
        };
        assert_eq!(Case::from_json(&case.to_json()), Ok(case.clone()));
        assert!(case.to_json()["files"][1]["bytes"].is_array());
    }
}
