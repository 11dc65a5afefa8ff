//! From what Python hands over (the configuration as JSON text, and for file flags a path or
//! the file's bytes) to a validated [`SimConfig`]: the files a configuration reads are read
//! from disk or taken from the bytes given, traces are parsed up front so that a malformed one
//! is reported with its file, row and column, and the configuration is validated.

use std::collections::BTreeMap;
use std::sync::Arc;

use llmsim_engine::config::{FlagRole, InputFile};
use llmsim_engine::flag_table::suggest_flag;
use llmsim_engine::trace::{TraceFormat, detect_format, read_arrival_times};
use llmsim_engine::{Config, ConfigError, ConfigErrors, Inputs, SimConfig, TraceError, all_flags, find_flag};

/// Where a file flag's contents come from.
pub enum FileSource<B> {
    /// A path, read from disk (relative to the working directory, as the CLI reads it); the
    /// flag is set to it.
    Path(String),
    /// The file's contents; the flag's value in the configuration names it.
    Bytes(B),
}

/// Why a configuration could not become a simulation.
#[derive(Debug)]
pub enum LoadError {
    /// Invalid settings, each naming its flag.
    Config(ConfigErrors),
    /// A malformed trace, naming file, row and column.
    Trace(TraceError),
}

impl From<ConfigErrors> for LoadError {
    fn from(e: ConfigErrors) -> LoadError {
        LoadError::Config(e)
    }
}

impl From<ConfigError> for LoadError {
    fn from(e: ConfigError) -> LoadError {
        LoadError::Config(e.into())
    }
}

impl From<TraceError> for LoadError {
    fn from(e: TraceError) -> LoadError {
        LoadError::Trace(e)
    }
}

/// A validated configuration, and what was noticed on the way that the report must say.
pub struct Loaded {
    /// The validated configuration.
    pub sim_config: SimConfig,
    /// Warnings of our own (file contents given for a flag the configuration does not read).
    pub warnings: Vec<String>,
}

/// Reads `config_json` (a flat object of Vidur flag names, `config.json`'s schema) and the
/// files it needs, and validates it.
pub fn load<B: AsRef<[u8]>>(
    config_json: &str,
    files: Vec<(String, FileSource<B>)>,
) -> Result<Loaded, LoadError> {
    let mut config = Config::from_json_str(config_json)?;
    let mut given: BTreeMap<&'static str, B> = BTreeMap::new();
    for (flag, source) in files {
        let name = file_flag(&flag)?;
        match source {
            FileSource::Path(path) => config.set(name, &path)?,
            FileSource::Bytes(bytes) => {
                given.insert(name, bytes);
            }
        }
    }
    let required = SimConfig::required_files(&config);
    let warnings = given
        .keys()
        .filter(|flag| !required.iter().any(|(f, _)| f == *flag))
        .map(|flag| format!("files['{flag}'] is not read: this configuration does not use --{flag}"))
        .collect();
    let mut inputs = Inputs::new();
    for (flag, path) in required {
        let read;
        let bytes = match given.get(flag) {
            Some(bytes) => bytes.as_ref(),
            None => match std::fs::read(&path) {
                Ok(bytes) => {
                    read = bytes;
                    &read[..]
                }
                Err(e) => {
                    inputs.add_unreadable(path, e.to_string());
                    continue;
                }
            },
        };
        add_file(&mut inputs, flag, path, bytes)?;
    }
    let sim_config = SimConfig::build(&config, &inputs)?;
    Ok(Loaded { sim_config, warnings })
}

/// The flag `name` if it names an input file; else an error naming it.
fn file_flag(name: &str) -> Result<&'static str, ConfigError> {
    let file_flags = || all_flags().iter().filter(|f| f.is_input_file()).map(|f| f.name).collect::<Vec<_>>();
    match find_flag(name) {
        Some(def) if def.is_input_file() => Ok(def.name),
        Some(_) => {
            Err(ConfigError::new(name, "is not a file flag: `files` gives the contents of input files")
                .with_hint(format!(
                    "set it in the configuration; the file flags are {}",
                    file_flags().join(", ")
                )))
        }
        None => {
            let error = ConfigError::new(name, "unknown flag");
            Err(match suggest_flag(name) {
                Some(close) => error.with_hint(format!("did you mean {close}?")),
                None => error.with_hint(format!("the file flags are {}", file_flags().join(", "))),
            })
        }
    }
}

/// Adds one file under `path`, parsing it as the engine will when it holds a trace (as the web
/// worker does on upload), so that a malformed trace is a [`TraceError`] with its row and
/// column rather than a configuration error's text.
fn add_file(inputs: &mut Inputs, flag: &str, path: String, bytes: &[u8]) -> Result<(), TraceError> {
    let role = find_flag(flag).map(|def| def.role);
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let at = e.valid_up_to();
            let message = format!("is not UTF-8 text (byte {at}): input files are CSV, JSON or JSONL text");
            if !matches!(role, Some(FlagRole::Input(InputFile::RequestTrace | InputFile::ArrivalTimes))) {
                inputs.add_unreadable(path, message);
                return Ok(());
            }
            let line = 1 + bytes[..at].iter().filter(|b| **b == b'\n').count() as u64;
            return Err(TraceError::new(&path, Some(line), None, message));
        }
    };
    match role {
        Some(FlagRole::Input(InputFile::ArrivalTimes))
            if detect_format(text) != Some(TraceFormat::MooncakeJsonl) =>
        {
            // Read here only to locate an error: the engine reads the arrival times itself.
            read_arrival_times(&path, text)?;
            inputs.add_text(path, text);
        }
        Some(FlagRole::Input(InputFile::RequestTrace | InputFile::ArrivalTimes)) => {
            let trace = llmsim_engine::parse_trace(&path, text, &mut |_| {})?;
            inputs.add_trace(path, Arc::new(trace));
        }
        _ => inputs.add_text(path, text),
    }
    Ok(())
}
