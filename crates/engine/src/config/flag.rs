//! One flag: its Vidur name, the kind of values it takes, its default, help and form group, and
//! the parsing of its values from CLI text and JSON.

use std::borrow::Cow;

use super::ConfigError;
use super::unsupported::unsupported_value;

/// `text`, or the empty text in a build without the engine's `help-texts` feature: what only a
/// person reads (a flag's help, a registered policy's summary), which the page's worker never
/// shows. Called in the `const` tables (flags, registries), it drops the literal at compile
/// time, so that build's binary does not carry it (about 10 KB of the worker's gzipped wasm).
/// Nothing a run computes or writes reads these texts.
pub const fn help_text(text: &'static str) -> &'static str {
    if cfg!(feature = "help-texts") { text } else { "" }
}

/// What values a flag takes.
#[derive(Clone, Debug, PartialEq)]
pub enum FlagKind {
    /// `true`/`false`; on the CLI `--flag` and `--no-flag`.
    Bool,
    /// A whole number.
    Int,
    /// A whole number or `none`.
    OptInt,
    /// A real number.
    Float,
    /// A real number or `none`.
    OptFloat,
    /// Free text.
    Str,
    /// A file or directory path; the flag's [`FlagRole`] says which.
    Path,
    /// One of a fixed set of names.
    Choice(Cow<'static, [&'static str]>),
    /// One or more whole numbers.
    IntList,
    /// One or more booleans (Vidur's `nargs="+"` grids of `True`/`False`); kept as text in
    /// Python's spelling, e.g. `True False`.
    BoolList,
}

/// The form section a flag belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FlagGroup {
    /// Seed, time limit and other run-wide settings.
    General,
    /// Model, device, node, parallelism, replicas, dtypes.
    Cluster,
    /// KV cache: block size, memory margin, prefix caching.
    Cache,
    /// Disaggregated prefill and decode: the decode pool and the KV transfer.
    Disaggregation,
    /// Request generators, lengths, intervals, traces.
    Workload,
    /// Global scheduler (router).
    GlobalScheduler,
    /// Replica scheduler and request queue.
    ReplicaScheduler,
    /// Execution-time predictor.
    Predictor,
    /// Output files and metrics.
    Metrics,
}

/// One flag: its Vidur name (without `--`), kind, default, help and where the form shows it.
#[derive(Clone, Debug)]
pub struct FlagDef {
    /// The flag name, e.g. `replica_config_model_name`.
    pub name: &'static str,
    /// What values it takes.
    pub kind: FlagKind,
    /// The default, as CLI text (`none` for unset).
    pub default: &'static str,
    /// One or two sentences for `-h` and the form; empty in a build without the engine's
    /// `help-texts` feature (the page's worker, which shows no help).
    pub help: &'static str,
    /// The form section.
    pub group: FlagGroup,
    /// Shown (and read) only when the selector flag has one of these values.
    pub shown_when: Option<(&'static str, Cow<'static, [&'static str]>)>,
    /// The selector this flag makes a second choice of, for part of the cluster (the decode
    /// pool's replica scheduler, and its device, whose `custom` reads the custom device's
    /// flags): while this flag applies, a flag shown for the value it holds applies too
    /// ([`super::Config::is_active`]).
    pub second_choice_of: Option<&'static str>,
    /// What the value stands for: a seed, a file to read, the output directory, or a setting.
    pub role: FlagRole,
}

/// What a flag's value stands for beyond its kind: the facts the engine and the front ends act
/// on, kept in the flag table rather than in the flag's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagRole {
    /// An ordinary setting.
    Setting,
    /// A seed of a random stream (a whole number).
    Seed,
    /// A file the run reads (a path): the CLI reads it from disk, the page asks for an upload.
    Input(InputFile),
    /// The directory the CLI writes its output files to (a path); the page has none.
    OutputDir,
}

/// What an input file holds, which says how it is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputFile {
    /// A request trace (Vidur CSV, Mooncake JSONL, Azure CSV), parsed whole
    /// ([`super::Params::trace`]).
    RequestTrace,
    /// A trace read for its arrival times only (Vidur's interval trace).
    ArrivalTimes,
    /// A Hugging Face `config.json`.
    ModelConfig,
    /// A Vidur profile table (CSV).
    ProfileTable,
}

impl FlagDef {
    pub(crate) const fn with(
        name: &'static str,
        kind: FlagKind,
        default: &'static str,
        help: &'static str,
    ) -> FlagDef {
        FlagDef::with_role(name, kind, FlagRole::Setting, default, help)
    }
    const fn with_role(
        name: &'static str,
        kind: FlagKind,
        role: FlagRole,
        default: &'static str,
        help: &'static str,
    ) -> FlagDef {
        let help = help_text(help);
        FlagDef {
            name,
            kind,
            default,
            help,
            group: FlagGroup::General,
            shown_when: None,
            second_choice_of: None,
            role,
        }
    }
    /// A boolean flag.
    pub const fn bool(name: &'static str, default: &'static str, help: &'static str) -> FlagDef {
        FlagDef::with(name, FlagKind::Bool, default, help)
    }
    /// A whole-number flag.
    pub const fn int(name: &'static str, default: &'static str, help: &'static str) -> FlagDef {
        FlagDef::with(name, FlagKind::Int, default, help)
    }
    /// A whole-number-or-none flag.
    pub const fn opt_int(name: &'static str, default: &'static str, help: &'static str) -> FlagDef {
        FlagDef::with(name, FlagKind::OptInt, default, help)
    }
    /// A real-number flag.
    pub const fn float(name: &'static str, default: &'static str, help: &'static str) -> FlagDef {
        FlagDef::with(name, FlagKind::Float, default, help)
    }
    /// A real-number-or-none flag.
    pub const fn opt_float(name: &'static str, default: &'static str, help: &'static str) -> FlagDef {
        FlagDef::with(name, FlagKind::OptFloat, default, help)
    }
    /// A text flag.
    pub const fn string(name: &'static str, default: &'static str, help: &'static str) -> FlagDef {
        FlagDef::with(name, FlagKind::Str, default, help)
    }
    /// A seed flag (a whole number).
    pub const fn seed(name: &'static str, default: &'static str, help: &'static str) -> FlagDef {
        FlagDef::with_role(name, FlagKind::Int, FlagRole::Seed, default, help)
    }
    /// A flag naming an input file holding `file`.
    pub const fn input(
        name: &'static str,
        file: InputFile,
        default: &'static str,
        help: &'static str,
    ) -> FlagDef {
        FlagDef::with_role(name, FlagKind::Path, FlagRole::Input(file), default, help)
    }
    /// The flag naming the output directory.
    pub const fn output_dir(name: &'static str, default: &'static str, help: &'static str) -> FlagDef {
        FlagDef::with_role(name, FlagKind::Path, FlagRole::OutputDir, default, help)
    }
    /// A flag taking one of `choices`.
    pub const fn choice(
        name: &'static str,
        choices: &'static [&'static str],
        default: &'static str,
        help: &'static str,
    ) -> FlagDef {
        FlagDef::with(name, FlagKind::Choice(Cow::Borrowed(choices)), default, help)
    }
    /// A list-of-whole-numbers flag.
    pub const fn int_list(name: &'static str, default: &'static str, help: &'static str) -> FlagDef {
        FlagDef::with(name, FlagKind::IntList, default, help)
    }
    /// A list-of-booleans flag.
    pub const fn bool_list(name: &'static str, default: &'static str, help: &'static str) -> FlagDef {
        FlagDef::with(name, FlagKind::BoolList, default, help)
    }

    /// This flag as a second choice of `selector` (its `second_choice_of` field).
    pub const fn as_second_choice_of(mut self, selector: &'static str) -> FlagDef {
        self.second_choice_of = Some(selector);
        self
    }

    pub(crate) fn in_group(mut self, group: FlagGroup) -> FlagDef {
        self.group = group;
        self
    }

    pub(crate) fn shown_when(mut self, selector: &'static str, values: Vec<&'static str>) -> FlagDef {
        self.shown_when = Some((selector, Cow::Owned(values)));
        self
    }

    /// The default value, parsed.
    pub fn default_value(&self) -> FlagValue {
        self.parse_text(self.default).unwrap_or_else(|e| panic!("bad default for --{}: {e}", self.name))
    }

    /// The choices of a choice flag.
    pub fn choices(&self) -> &[&'static str] {
        match &self.kind {
            FlagKind::Choice(c) => c,
            _ => &[],
        }
    }

    /// Whether the flag names a file the run reads.
    pub fn is_input_file(&self) -> bool {
        matches!(self.role, FlagRole::Input(_))
    }

    /// Whether the flag names a trace file: a request trace, or a trace read for its arrival
    /// times (the page parses both on upload and summarises them).
    pub fn is_trace_file(&self) -> bool {
        matches!(self.role, FlagRole::Input(InputFile::RequestTrace | InputFile::ArrivalTimes))
    }

    /// Parses CLI / URL text.
    pub fn parse_text(&self, text: &str) -> Result<FlagValue, ConfigError> {
        let t = text.trim();
        let is_none = t.eq_ignore_ascii_case("none") || t.eq_ignore_ascii_case("null");
        let bad = |what: &str| ConfigError::new(self.name, format!("'{text}' is not {what}"));
        match &self.kind {
            FlagKind::Bool => match t.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(FlagValue::Bool(true)),
                "false" | "0" | "no" | "off" => Ok(FlagValue::Bool(false)),
                _ => Err(bad("true or false")),
            },
            FlagKind::Int | FlagKind::OptInt => {
                if is_none && self.kind == FlagKind::OptInt {
                    return Ok(FlagValue::None);
                }
                parse_int(t).map(FlagValue::Int).ok_or_else(|| bad("a whole number"))
            }
            FlagKind::Float | FlagKind::OptFloat => {
                if is_none && self.kind == FlagKind::OptFloat {
                    return Ok(FlagValue::None);
                }
                match t.parse::<f64>() {
                    Ok(x) if x.is_finite() => Ok(FlagValue::Float(x)),
                    _ => Err(bad("a finite number")),
                }
            }
            FlagKind::Str | FlagKind::Path => {
                if is_none || t.is_empty() {
                    Ok(FlagValue::None)
                } else {
                    Ok(FlagValue::Str(t.to_string()))
                }
            }
            FlagKind::Choice(choices) => {
                if let Some(c) = choices.iter().find(|c| **c == t) {
                    return Ok(FlagValue::Str((*c).to_string()));
                }
                if let Some(e) = unsupported_value(self.name, t) {
                    return Err(e);
                }
                let mut e =
                    ConfigError::new(self.name, format!("'{t}' is not one of: {}", choices.join(", ")));
                if let Some(best) = closest(t, choices.iter().copied()) {
                    e = e.with_hint(format!("did you mean '{best}'?"));
                }
                Err(e)
            }
            FlagKind::IntList => {
                let items: Result<Vec<i64>, _> = list_items(t).map(|s| parse_int(s).ok_or(())).collect();
                match items {
                    Ok(v) if !v.is_empty() => Ok(FlagValue::IntList(v)),
                    _ => Err(bad("a list of whole numbers")),
                }
            }
            FlagKind::BoolList => {
                let items: Result<Vec<&str>, _> = list_items(t)
                    .map(|s| match s.to_ascii_lowercase().as_str() {
                        "true" | "1" => Ok("True"),
                        "false" | "0" => Ok("False"),
                        _ => Err(()),
                    })
                    .collect();
                match items {
                    Ok(v) if !v.is_empty() => Ok(FlagValue::Str(v.join(" "))),
                    _ => Err(bad("a list of True/False values")),
                }
            }
        }
    }

    /// Parses a JSON value.
    pub fn parse_json(&self, value: &serde_json::Value) -> Result<FlagValue, ConfigError> {
        use serde_json::Value;
        match (value, &self.kind) {
            (Value::Null, FlagKind::OptInt | FlagKind::OptFloat | FlagKind::Str | FlagKind::Path) => {
                Ok(FlagValue::None)
            }
            (Value::Bool(b), FlagKind::Bool) => Ok(FlagValue::Bool(*b)),
            (Value::Number(n), FlagKind::Int | FlagKind::OptInt) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|x| x.fract() == 0.0 && x.abs() < 9.0e15).map(|x| x as i64))
                .map(FlagValue::Int)
                .ok_or_else(|| ConfigError::new(self.name, format!("{n} is not a whole number"))),
            (Value::Number(n), FlagKind::Float | FlagKind::OptFloat) => {
                Ok(FlagValue::Float(n.as_f64().unwrap_or(f64::NAN)))
            }
            (Value::Array(items), FlagKind::BoolList) => {
                let texts: Option<Vec<&str>> =
                    items.iter().map(|v| v.as_bool().map(|b| if b { "True" } else { "False" })).collect();
                match texts {
                    Some(t) if !t.is_empty() => Ok(FlagValue::Str(t.join(" "))),
                    _ => Err(ConfigError::new(self.name, "must be a non-empty list of true/false values")),
                }
            }
            (Value::Array(items), FlagKind::IntList) => {
                let v: Option<Vec<i64>> = items.iter().map(Value::as_i64).collect();
                v.filter(|v| !v.is_empty())
                    .map(FlagValue::IntList)
                    .ok_or_else(|| ConfigError::new(self.name, "must be a non-empty list of whole numbers"))
            }
            (Value::String(s), _) => self.parse_text(s),
            (Value::Number(n), _) => self.parse_text(&n.to_string()),
            (Value::Bool(b), _) => self.parse_text(&b.to_string()),
            (other, _) => Err(ConfigError::new(self.name, format!("has an unsupported value: {other}"))),
        }
    }
}

/// The items of a list given as `1 2 3`, `1,2,3` or `[1, 2, 3]` (Python's repr, as pandas and
/// Vidur's config.json write it).
pub(crate) fn list_items(t: &str) -> impl Iterator<Item = &str> {
    t.split(|c: char| c == ',' || c.is_whitespace() || c == '[' || c == ']').filter(|s| !s.is_empty())
}

fn parse_int(t: &str) -> Option<i64> {
    t.parse::<i64>().ok().or_else(|| {
        // Accept "512.0" (pandas-written configs) but not "512.5".
        t.parse::<f64>().ok().filter(|x| x.fract() == 0.0 && x.abs() < 9.0e15).map(|x| x as i64)
    })
}

/// The candidate closest to `input` (Jaro-Winkler), if reasonably close.
pub(crate) fn closest<'a>(input: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::jaro_winkler(input, c), c))
        .filter(|(score, _)| *score > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

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
    /// The value as CLI / URL text; [`super::Config::set`] parses it back to the same value.
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
