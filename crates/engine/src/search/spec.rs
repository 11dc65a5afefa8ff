//! The search specification (`SEARCH.json`): a base configuration, a space of values per flag,
//! the latency objectives and the goal. Read with [`SearchSpec::from_json_str`], whose errors
//! name the field (`space.replica_config_tensor_parallel_size[2]`).

use std::fmt;

use serde_json::{Map, Value};

use crate::config::{Config, ConfigErrors};
use crate::disagg;
use crate::flag_table::all_flags;
use crate::limits::MAX_REPLICAS;
use crate::slo::{SloCombine, SloMetric, SloTarget};

/// What the search looks for, per configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchGoal {
    /// The highest arrival rate that meets the objectives (Vidur-Search's `qps` search).
    MaxQps,
    /// The fewest replicas that meet the objectives at `qps`.
    MinReplicas,
    /// The cheapest configuration meeting the objectives at `qps`: each configuration's fewest
    /// replicas (or its listed replica count), then the lowest cost per hour.
    MinCost,
}

impl SearchGoal {
    /// Its name in the spec (`max_qps`).
    pub fn name(self) -> &'static str {
        match self {
            SearchGoal::MaxQps => "max_qps",
            SearchGoal::MinReplicas => "min_replicas",
            SearchGoal::MinCost => "min_cost",
        }
    }
}

/// One dimension of the space: a flag and the values it takes, or a group of linked flags
/// (`"cluster": [{"replica_config_device": "h100", "replica_config_network_device":
/// "h100_dgx"}, ...]`) whose values are set together; values in the spec's order.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// The flag, or the group's name.
    pub name: String,
    /// The flags it sets, in the flag table's order.
    pub flags: Vec<&'static str>,
    /// Each value: the flags it sets, as `(flag, text)`.
    pub values: Vec<Vec<(&'static str, String)>>,
}

impl Axis {
    /// Whether the axis sets `flag` in any value.
    pub fn sets(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }
}

/// A problem with the spec, naming the field (a JSON path such as `slos[1].quantile`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    /// Where: a top-level key, `base.<flag>`, `space.<flag>[i]`, `slos[i].<key>`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every problem found in a spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecErrors(pub Vec<SpecError>);

impl fmt::Display for SpecErrors {
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

impl std::error::Error for SpecErrors {}

/// Default requests per simulated point.
pub const DEFAULT_NUM_REQUESTS: u64 = 2000;
/// Default relative width at which a QPS bisection stops.
pub const DEFAULT_QPS_GRANULARITY: f64 = 0.02;

const REPLICAS_FLAG: &str = "cluster_config_num_replicas";
/// A disaggregated cluster's decode replicas (its prefill replicas are [`REPLICAS_FLAG`]'s).
const DECODE_REPLICAS_FLAG: &str = "disaggregation_config_decode_num_replicas";
const NUM_REQUESTS_FLAG: &str = "synthetic_request_generator_config_num_requests";
/// Interval generators with a rate the search can set.
const RATED_INTERVALS: &[&str] = &["poisson", "gamma", "uniform"];
/// Output settings forced off in every point: a search keeps the summary only.
pub(super) const QUIET_FLAGS: &[(&str, &str)] = &[
    ("metrics_config_write_metrics", "false"),
    ("metrics_config_enable_chrome_trace", "false"),
    ("metrics_config_store_request_metrics", "false"),
    ("metrics_config_store_batch_metrics", "false"),
    ("metrics_config_store_operation_metrics", "false"),
    ("metrics_config_keep_individual_batch_metrics", "false"),
];

/// A validated search specification.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchSpec {
    /// The flags every point shares (the spec's `base`, the objectives as `--slo_config_*`
    /// flags), as a configuration.
    pub base: Config,
    /// The dimensions, in the flag table's order; every combination is a configuration.
    pub space: Vec<Axis>,
    /// The objectives (also in `base`).
    pub slos: Vec<SloTarget>,
    /// How the objectives combine.
    pub slo_combine: SloCombine,
    /// What to find.
    pub goal: SearchGoal,
    /// The arrival rate: the one to serve (`min_replicas`, `min_cost`) or where the QPS search
    /// starts (`max_qps`).
    pub qps: f64,
    /// A QPS search stops when its bracket is at most this share of its upper end.
    pub qps_granularity: f64,
    /// The lowest arrival rate a QPS search tries.
    pub min_qps: f64,
    /// The highest arrival rate a QPS search tries.
    pub max_qps: f64,
    /// The most replicas a replica search tries.
    pub max_replicas: u32,
    /// The most simulations per configuration.
    pub max_runs: u32,
    /// Requests per point.
    pub num_requests: u64,
    /// The flag holding the arrival rate (`poisson_request_interval_generator_config_qps`).
    pub qps_flag: &'static str,
    /// Whether the search chooses the replica count (else the base or the space sets it).
    pub searches_replicas: bool,
}

const KEYS: &[&str] = &[
    "base",
    "space",
    "slos",
    "slo_combine",
    "goal",
    "qps",
    "qps_granularity",
    "min_qps",
    "max_qps",
    "max_replicas",
    "max_runs",
    "num_requests",
];

/// A flag's place in the flag table (the order columns and axes follow).
fn position(flag: &str) -> usize {
    all_flags().iter().position(|f| f.name == flag).unwrap_or(usize::MAX)
}

/// One axis of the space: a flag with a list of values, or a group with a list of objects.
fn read_axis(r: &mut Reader, name: &str, values: &Value) -> Option<Axis> {
    let field = format!("space.{name}");
    let Some(list) = values.as_array().filter(|l| !l.is_empty()) else {
        r.error(field, "must be a non-empty list of values");
        return None;
    };
    let flag_name = name.trim_start_matches("--");
    let is_flag = all_flags().iter().any(|f| f.name == flag_name);
    let is_group = !is_flag && list.iter().all(Value::is_object);
    if !is_flag && !is_group {
        // A misspelt flag: the configuration's error suggests the closest.
        let mut probe = Config::new();
        if let Err(e) = probe.set(flag_name, "") {
            r.config_errors(&field, e.into());
        }
        return None;
    }
    let errors_before = r.errors.len();
    let mut parsed: Vec<Vec<(&'static str, String)>> = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let item = format!("{field}[{i}]");
        let entries: Vec<(&str, &Value)> = if is_flag {
            vec![(flag_name, v)]
        } else {
            let object = v.as_object().expect("checked");
            if object.is_empty() {
                r.error(&item, "sets no flag");
            }
            object.iter().map(|(k, v)| (k.trim_start_matches("--"), v)).collect()
        };
        let mut probe = Config::new();
        let mut value = Vec::new();
        for (flag, v) in entries {
            match probe.set_json(flag, v) {
                Ok(()) => {
                    let def = all_flags().iter().find(|f| f.name == flag).expect("set_json knows it");
                    value.push((def.name, probe.get(def.name).to_text()));
                }
                Err(e) => {
                    let at = if is_flag { item.clone() } else { format!("{item}.{flag}") };
                    r.config_errors(&at, e.into());
                }
            }
        }
        crate::stats::sort_stably_by(&mut value, |(f, _)| position(f) as u64);
        if parsed.contains(&value) {
            r.error(&item, "is listed twice");
        }
        parsed.push(value);
    }
    if r.errors.len() > errors_before {
        return None;
    }
    let mut flags: Vec<&'static str> = parsed.iter().flatten().map(|(f, _)| *f).collect();
    crate::stats::sort_stably_by(&mut flags, |f| position(f) as u64);
    flags.dedup();
    Some(Axis { name: flag_name.to_string(), flags, values: parsed })
}

struct Reader {
    errors: Vec<SpecError>,
}

impl Reader {
    fn error(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(SpecError { field: field.into(), message: message.into() });
    }

    fn config_errors(&mut self, field: &str, errors: ConfigErrors) {
        for e in errors.0 {
            let mut message = e.message;
            if let Some(hint) = e.hint {
                message.push_str(&format!(" (hint: {hint})"));
            }
            self.error(field, message);
        }
    }

    fn number(
        &mut self,
        object: &Map<String, Value>,
        key: &str,
        default: f64,
        valid: fn(f64) -> bool,
        what: &str,
    ) -> f64 {
        match object.get(key) {
            None => default,
            Some(v) => match v.as_f64() {
                Some(x) if valid(x) => x,
                _ => {
                    self.error(key, format!("{v} is not {what}"));
                    default
                }
            },
        }
    }
}

impl SearchSpec {
    /// Reads a spec from JSON; every problem is reported, each naming its field.
    pub fn from_json_str(text: &str) -> Result<SearchSpec, SpecErrors> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            SpecErrors(vec![SpecError {
                field: "search spec".into(),
                message: format!("not valid JSON: {e}"),
            }])
        })?;
        SearchSpec::from_json_value(&value)
    }

    /// Reads a spec from a parsed JSON value.
    pub fn from_json_value(value: &Value) -> Result<SearchSpec, SpecErrors> {
        let mut r = Reader { errors: Vec::new() };
        let Some(object) = value.as_object() else {
            r.error("search spec", "must be a JSON object with base, space, slos and goal");
            return Err(SpecErrors(r.errors));
        };
        for key in object.keys() {
            if !KEYS.contains(&key.as_str()) {
                r.error(key.as_str(), format!("unknown key (known: {})", KEYS.join(", ")));
            }
        }

        let goal = match object.get("goal") {
            None => SearchGoal::MaxQps,
            Some(Value::String(s)) if s == "max_qps" || s == "qps" => SearchGoal::MaxQps,
            Some(Value::String(s)) if s == "min_replicas" || s == "num_replicas" => SearchGoal::MinReplicas,
            Some(Value::String(s)) if s == "min_cost" => SearchGoal::MinCost,
            Some(other) => {
                r.error("goal", format!("{other} is not one of \"max_qps\", \"min_replicas\", \"min_cost\""));
                SearchGoal::MaxQps
            }
        };

        // The base configuration.
        let mut base = Config::new();
        match object.get("base") {
            None => {}
            Some(Value::Object(flags)) => {
                for (flag, v) in flags {
                    if let Err(e) = base.set_json(flag.trim_start_matches("--"), v) {
                        r.config_errors(&format!("base.{flag}"), e.into());
                    }
                }
            }
            Some(_) => r.error("base", "must be an object of flag names to values"),
        }

        // The space, in the flag table's order.
        let mut space: Vec<Axis> = Vec::new();
        match object.get("space") {
            None => {}
            Some(Value::Object(axes)) => {
                for (name, values) in axes {
                    if let Some(axis) = read_axis(&mut r, name, values) {
                        for flag in &axis.flags {
                            if base.is_set(flag) {
                                r.error(format!("space.{name}"), format!("sets --{flag}, which base sets too: give it in one place"));
                            }
                            if let Some(other) = space.iter().find(|a| a.sets(flag)) {
                                r.error(format!("space.{name}"), format!("sets --{flag}, which space.{} sets too", other.name));
                            }
                        }
                        space.push(axis);
                    }
                }
            }
            Some(_) => r.error("space", "must be an object of flag names to lists of values (or of group names to lists of objects of flags)"),
        }
        crate::stats::sort_stably_by(&mut space, |a| {
            a.flags.first().map_or(usize::MAX, |f| position(f)) as u64
        });

        // The workload: synthetic arrivals at a rate the search sets.
        let generator = base.get("request_generator_config_type").to_text();
        let intervals = base.get("interval_generator_config_type").to_text();
        let qps_flag = RATED_INTERVALS
            .iter()
            .find(|i| **i == intervals)
            .and_then(|i| {
                all_flags().iter().find(|f| f.name == format!("{i}_request_interval_generator_config_qps"))
            })
            .map_or("poisson_request_interval_generator_config_qps", |f| f.name);
        if generator != "synthetic" {
            r.error(
                "base.request_generator_config_type",
                format!("the search sets the arrival rate of synthetic requests, not of a {generator} workload (a trace's lengths can come from --length_generator_config_type trace)"),
            );
        } else if !RATED_INTERVALS.contains(&intervals.as_str()) {
            r.error(
                "base.interval_generator_config_type",
                format!(
                    "the search sets the arrival rate of {} intervals, not of {intervals}",
                    RATED_INTERVALS.join(", ")
                ),
            );
        }
        let mut reserved: Vec<(&str, &str)> = vec![(qps_flag, "the search sets the arrival rate")];
        for m in SloMetric::ALL {
            reserved.push((m.max_flag(), "give objectives under slos"));
            reserved.push((m.quantile_flag(), "give objectives under slos"));
        }
        reserved.push(("slo_config_combine", "give it as slo_combine"));
        reserved.push((NUM_REQUESTS_FLAG, "give it as num_requests"));
        for (flag, why) in &reserved {
            if base.is_set(flag) {
                r.error(format!("base.{flag}"), format!("not settable here: {why}"));
            }
            if let Some(a) = space.iter().find(|a| a.sets(flag)) {
                r.error(format!("space.{}", a.name), format!("sets --{flag}, not settable here: {why}"));
            }
        }

        // The objectives, as flags of the base.
        let slo_combine = match object.get("slo_combine") {
            None => SloCombine::And,
            Some(Value::String(s)) => SloCombine::parse(s).unwrap_or_else(|| {
                r.error("slo_combine", format!("'{s}' is not \"and\" or \"or\""));
                SloCombine::And
            }),
            Some(other) => {
                r.error("slo_combine", format!("{other} is not \"and\" or \"or\""));
                SloCombine::And
            }
        };
        let mut slos: Vec<SloTarget> = Vec::new();
        match object.get("slos") {
            None => {}
            Some(Value::Array(list)) => {
                for (i, item) in list.iter().enumerate() {
                    let field = |k: &str| format!("slos[{i}].{k}");
                    let Some(item) = item.as_object() else {
                        r.error(
                            format!("slos[{i}]"),
                            "must be an object {\"metric\", \"quantile\", \"max_s\"}",
                        );
                        continue;
                    };
                    for key in item.keys() {
                        if !["metric", "quantile", "max_s"].contains(&key.as_str()) {
                            r.error(field(key), "unknown key (known: metric, quantile, max_s)");
                        }
                    }
                    let names: Vec<&str> = SloMetric::ALL.iter().map(|m| m.name()).collect();
                    let metric = match item.get("metric").and_then(Value::as_str) {
                        Some(name) => SloMetric::parse(name).or_else(|| {
                            r.error(field("metric"), format!("'{name}' is not one of {}", names.join(", ")));
                            None
                        }),
                        None => {
                            r.error(field("metric"), format!("is required: one of {}", names.join(", ")));
                            None
                        }
                    };
                    let quantile = match item.get("quantile") {
                        None => 0.9,
                        Some(v) => match v.as_f64() {
                            Some(q) if q > 0.0 && q <= 1.0 => q,
                            _ => {
                                r.error(field("quantile"), format!("{v} must lie in (0, 1]"));
                                0.9
                            }
                        },
                    };
                    let max_s = match item.get("max_s").and_then(Value::as_f64) {
                        Some(x) if x > 0.0 && x.is_finite() => Some(x),
                        _ => {
                            r.error(field("max_s"), "is required: a positive number of seconds");
                            None
                        }
                    };
                    let (Some(metric), Some(max_s)) = (metric, max_s) else { continue };
                    if slos.iter().any(|t| t.metric == metric) {
                        r.error(
                            field("metric"),
                            format!("{} has an objective already: one per metric", metric.name()),
                        );
                        continue;
                    }
                    slos.push(SloTarget { metric, quantile, max_s });
                }
            }
            Some(_) => r.error("slos", "must be a list of {\"metric\", \"quantile\", \"max_s\"}"),
        }
        crate::stats::sort_stably_by(&mut slos, |t| t.metric as u64);
        for t in &slos {
            let _ = base.set(t.metric.max_flag(), &t.max_s.to_string());
            let _ = base.set(t.metric.quantile_flag(), &t.quantile.to_string());
        }
        if slos.len() > 1 {
            let _ = base.set("slo_config_combine", slo_combine.name());
        }

        for flag in ["request_generator_config_type", "interval_generator_config_type"] {
            if let Some(a) = space.iter().find(|a| a.sets(flag)) {
                r.error(format!("space.{}", a.name), format!("sets --{flag}: a search compares configurations under one arrival process, set it in base"));
            }
        }

        let replicas_in_space = space.iter().any(|a| a.sets(REPLICAS_FLAG));
        // With disaggregated serving in base, the replica counts in base and space are the
        // prefill part of a prefill:decode unit that a searched count scales (`point_flags`).
        let disaggregated = disagg::is_disaggregated(&base);
        let searches_replicas = match goal {
            SearchGoal::MaxQps => false,
            SearchGoal::MinReplicas => {
                if replicas_in_space && !disaggregated {
                    r.error(
                        format!("space.{REPLICAS_FLAG}"),
                        "min_replicas chooses the replica count: leave it out of the space",
                    );
                }
                true
            }
            SearchGoal::MinCost => !replicas_in_space || disaggregated,
        };
        if searches_replicas && base.is_set(REPLICAS_FLAG) && !disaggregated {
            r.error(
                format!("base.{REPLICAS_FLAG}"),
                format!("{} chooses the replica count: leave it out of base (or list counts under space to compare them as they are)", goal.name()),
            );
        }
        // A disaggregated configuration's counts are the unit a searched count multiplies:
        // a count that is not one is refused here, where the field can be named, rather than
        // read as some other unit.
        let some_disaggregated = disaggregated || space.iter().any(|a| a.sets(disagg::TYPE_FLAG));
        if searches_replicas && some_disaggregated {
            check_unit_counts(&mut r, &base, &space, goal);
        }

        let qps = match (goal, object.get("qps")) {
            (SearchGoal::MaxQps, None) => 1.0,
            (_, None) => {
                r.error("qps", format!("is required for {}: the arrival rate to serve", goal.name()));
                1.0
            }
            (_, Some(v)) => match v.as_f64() {
                Some(x) if x > 0.0 && x.is_finite() => x,
                _ => {
                    r.error("qps", format!("{v} is not a positive number of requests per second"));
                    1.0
                }
            },
        };
        let qps_granularity = r.number(
            object,
            "qps_granularity",
            DEFAULT_QPS_GRANULARITY,
            |x| x > 0.0 && x < 1.0,
            "a share in (0, 1), e.g. 0.02",
        );
        let min_qps = r.number(object, "min_qps", 0.01, |x| x > 0.0 && x.is_finite(), "a positive rate");
        let max_qps = r.number(object, "max_qps", 100_000.0, |x| x > 0.0 && x.is_finite(), "a positive rate");
        if min_qps >= max_qps {
            r.error("min_qps", format!("{min_qps} must be below max_qps ({max_qps})"));
        }
        let max_replicas = r.number(
            object,
            "max_replicas",
            64.0,
            |x| (1.0..=100_000.0).contains(&x) && x.fract() == 0.0,
            "a whole number from 1 to 100000",
        ) as u32;
        let max_runs = r.number(
            object,
            "max_runs",
            24.0,
            |x| (1.0..=1000.0).contains(&x) && x.fract() == 0.0,
            "a whole number from 1 to 1000",
        ) as u32;
        let num_requests = r.number(
            object,
            "num_requests",
            DEFAULT_NUM_REQUESTS as f64,
            |x| (1.0..=1e9).contains(&x) && x.fract() == 0.0,
            "a whole number of requests",
        ) as u64;

        if !r.errors.is_empty() {
            return Err(SpecErrors(r.errors));
        }
        Ok(SearchSpec {
            base,
            space,
            slos,
            slo_combine,
            goal,
            qps,
            qps_granularity,
            min_qps,
            max_qps,
            max_replicas,
            max_runs,
            num_requests,
            qps_flag,
            searches_replicas,
        })
    }

    /// Configurations: the product of the space's values, the last axis varying fastest.
    pub fn num_configurations(&self) -> usize {
        self.space.iter().map(|a| a.values.len()).product()
    }

    /// The flags configuration `index` sets, as `(flag, value)`, axis by axis.
    pub fn configuration(&self, index: usize) -> Vec<(&'static str, &str)> {
        let mut rest = index;
        let mut chosen = vec![0; self.space.len()];
        for (slot, axis) in chosen.iter_mut().zip(&self.space).rev() {
            *slot = rest % axis.values.len();
            rest /= axis.values.len();
        }
        chosen
            .iter()
            .zip(&self.space)
            .flat_map(|(i, axis)| axis.values[*i].iter().map(|(f, v)| (*f, v.as_str())))
            .collect()
    }

    /// The flags the space sets: the CSVs' configuration columns.
    pub fn columns(&self) -> Vec<&'static str> {
        self.space.iter().flat_map(|a| a.flags.iter().copied()).collect()
    }

    /// Configuration `index`'s value of each of [`SearchSpec::columns`] (empty where its value
    /// of a group leaves the flag at the base's value).
    pub fn column_values(&self, index: usize) -> Vec<&str> {
        let set = self.configuration(index);
        self.columns().iter().map(|c| set.iter().find(|(f, _)| f == c).map_or("", |(_, v)| *v)).collect()
    }

    /// The flags of one point: the base, the configuration's values, the arrival rate, the
    /// request count, the replica count (when searched) and the quiet output settings.
    pub fn point_flags(
        &self,
        configuration: usize,
        qps: f64,
        num_replicas: Option<u32>,
    ) -> Vec<(String, String)> {
        self.point(configuration, qps, num_replicas).to_pairs()
    }

    /// [`SearchSpec::point_flags`] as a configuration.
    fn point(&self, configuration: usize, qps: f64, num_replicas: Option<u32>) -> Config {
        let mut config = self.base.clone();
        for (flag, value) in self.configuration(configuration) {
            let _ = config.set(flag, value);
        }
        let _ = config.set(self.qps_flag, &qps.to_string());
        let _ = config.set(NUM_REQUESTS_FLAG, &self.num_requests.to_string());
        if let Some(n) = num_replicas {
            match pool_units(&config) {
                // Disaggregated: `n` units of the configuration's prefill:decode ratio (the
                // plan keeps `n` within `max_units`, so the products fit the cluster limit).
                Some(Ok((prefill, decode))) => {
                    let scaled = |unit: u32| (u64::from(n) * u64::from(unit)).to_string();
                    let _ = config.set(REPLICAS_FLAG, &scaled(prefill));
                    let _ = config.set(DECODE_REPLICAS_FLAG, &scaled(decode));
                }
                // A unit that is no replica count (refused when the spec is read, so not
                // reached): the counts stay as given, and the run's validation names the flag.
                Some(Err(_)) => {}
                None => {
                    let _ = config.set(REPLICAS_FLAG, &n.to_string());
                }
            }
        }
        for (flag, value) in QUIET_FLAGS {
            let _ = config.set(flag, value);
        }
        config
    }

    /// The replica counts of configuration `configuration` at a searched count `n` (or, with
    /// `None`, as configured): `(prefill, Some(decode))` when it is disaggregated, else
    /// `(replicas, None)`. A count that is no replica count reads as 0, not as a plausible
    /// count: only a configuration whose runs are refused has one, and its rows show none.
    pub fn pool_sizes(&self, configuration: usize, n: Option<u32>) -> (u32, Option<u32>) {
        let config = self.point(configuration, self.qps, n);
        let count = |flag: &str| config.get(flag).to_text().parse::<u32>().unwrap_or(0);
        (count(REPLICAS_FLAG), disagg::is_disaggregated(&config).then(|| count(DECODE_REPLICAS_FLAG)))
    }

    /// The most units (replicas, or prefill:decode units) a replica search tries for
    /// configuration `configuration`: `max_replicas`, and for a disaggregated configuration no
    /// more than fit the cluster limit of [`MAX_REPLICAS`] replicas over both pools (at least
    /// 1: a unit beyond the limit is refused by its first point's validation).
    pub fn max_units(&self, configuration: usize) -> u32 {
        match pool_units(&self.point(configuration, self.qps, None)) {
            Some(Ok((prefill, decode))) => self.max_replicas.min((MAX_REPLICAS / (prefill + decode)).max(1)),
            _ => self.max_replicas.min(MAX_REPLICAS),
        }
    }

    /// `n` searched units of configuration `configuration` in words: `3 replicas`, or
    /// `3 units (3 prefill + 6 decode replicas)` for a disaggregated one.
    pub fn units_text(&self, configuration: usize, n: u32) -> String {
        let plural = |n: u32, word: &str| if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") };
        match self.pool_sizes(configuration, Some(n)) {
            (prefill, Some(decode)) => {
                format!("{} ({prefill} prefill + {decode} decode replicas)", plural(n, "unit"))
            }
            (replicas, None) => plural(replicas, "replica"),
        }
    }

    /// The configuration of one point as a [`Config`] (for listing its input files).
    pub fn point_config(&self, configuration: usize) -> Config {
        let replicas = self.searches_replicas.then_some(1);
        let pairs = self.point_flags(configuration, self.qps, replicas);
        Config::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).expect("validated flags")
    }

    /// The spec in a canonical JSON form (sorted keys, defaults filled): equal specs give equal
    /// text, so a hash of it identifies a search's points for resuming.
    pub fn canonical_json(&self) -> String {
        let base: Map<String, Value> =
            self.base.to_pairs().into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        let space: Map<String, Value> = self
            .space
            .iter()
            .map(|a| {
                let values = a
                    .values
                    .iter()
                    .map(|v| {
                        Value::Object(
                            v.iter().map(|(f, t)| (f.to_string(), Value::String(t.clone()))).collect(),
                        )
                    })
                    .collect();
                (a.name.clone(), Value::Array(values))
            })
            .collect();
        let value = serde_json::json!({
            "base": base,
            "space": space,
            "goal": self.goal.name(),
            "qps": self.qps,
            "qps_granularity": self.qps_granularity,
            "min_qps": self.min_qps,
            "max_qps": self.max_qps,
            "max_replicas": self.max_replicas,
            "max_runs": self.max_runs,
            "num_requests": self.num_requests,
        });
        value.to_string()
    }
}

/// A disaggregated configuration's prefill:decode unit, `(prefill replicas, decode replicas)`,
/// that a searched replica count multiplies; `None` when it is aggregated, `Some(Err(text))`
/// with the first count that is not a replica count (see [`unit_count`]).
fn pool_units(config: &Config) -> Option<Result<(u32, u32), String>> {
    disagg::is_disaggregated(config).then(|| {
        Ok((
            unit_count(&config.get(REPLICAS_FLAG).to_text())?,
            unit_count(&config.get(DECODE_REPLICAS_FLAG).to_text())?,
        ))
    })
}

/// One pool's count in a prefill:decode unit: a whole number from 1 to [`MAX_REPLICAS`];
/// otherwise the text as given.
fn unit_count(text: &str) -> Result<u32, String> {
    text.parse::<u32>().ok().filter(|n| (1..=MAX_REPLICAS).contains(n)).ok_or_else(|| text.to_string())
}

/// Refuses, naming the field and the value, every replica count in `base` and `space` that is
/// not a unit count ([`unit_count`]): with disaggregated pools a replica search multiplies them.
fn check_unit_counts(r: &mut Reader, base: &Config, space: &[Axis], goal: SearchGoal) {
    let why = |text: &str| {
        format!(
            "{text} is not a replica count: {} multiplies each pool's count by the units it tries, so it must be a whole number from 1 to {MAX_REPLICAS}",
            goal.name()
        )
    };
    for flag in [REPLICAS_FLAG, DECODE_REPLICAS_FLAG] {
        if base.is_set(flag)
            && let Err(text) = unit_count(&base.get(flag).to_text())
        {
            r.error(format!("base.{flag}"), why(&text));
        }
        for axis in space.iter().filter(|a| a.sets(flag)) {
            for (i, value) in axis.values.iter().enumerate() {
                let Some((_, text)) = value.iter().find(|(f, _)| *f == flag) else { continue };
                if let Err(text) = unit_count(text) {
                    // A flag's own axis is named by the flag; a group's value by its key.
                    let field = if axis.name == flag {
                        format!("space.{flag}[{i}]")
                    } else {
                        format!("space.{}[{i}].{flag}", axis.name)
                    };
                    r.error(field, why(&text));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(json: &str) -> Vec<String> {
        SearchSpec::from_json_str(json).unwrap_err().0.iter().map(|e| e.field.clone()).collect()
    }

    #[test]
    fn a_spec_reads_with_defaults_and_its_objectives_become_flags() {
        let spec = SearchSpec::from_json_str(
            r#"{"base": {"replica_config_model_name": "meta-llama/Llama-3.1-8B"},
                "space": {"replica_config_tensor_parallel_size": [1, 2], "replica_config_device": ["h100", "a100"]},
                "slos": [{"metric": "tpot", "quantile": 0.9, "max_s": 0.05}, {"metric": "ttft", "max_s": 1}],
                "goal": "max_qps", "qps": 4}"#,
        )
        .unwrap();
        assert_eq!(spec.num_configurations(), 4);
        // Flag-table order (TP before the device), values in the spec's order; the last axis
        // varies fastest.
        assert_eq!(
            spec.configuration(1),
            [("replica_config_tensor_parallel_size", "1"), ("replica_config_device", "a100")]
        );
        assert_eq!(spec.configuration(2)[0], ("replica_config_tensor_parallel_size", "2"));
        assert_eq!(spec.slos.iter().map(|t| t.metric.name()).collect::<Vec<_>>(), ["ttft", "tpot"]);
        assert_eq!(spec.base.get("slo_config_tpot_max_s").to_text(), "0.05");
        assert_eq!(spec.base.get("slo_config_ttft_quantile").to_text(), "0.9");
        assert_eq!(spec.qps_granularity, DEFAULT_QPS_GRANULARITY);
        let flags = spec.point_flags(3, 2.5, None);
        let get = |k: &str| flags.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
        assert_eq!(get("poisson_request_interval_generator_config_qps"), Some("2.5"));
        assert_eq!(get("synthetic_request_generator_config_num_requests"), Some("2000"));
        assert_eq!(get("replica_config_tensor_parallel_size"), Some("2"));
        assert_eq!(get("metrics_config_enable_chrome_trace"), Some("false"));
        // The same search written otherwise (key order, numbers as text) has the same canonical
        // form; another request count does not.
        let same = SearchSpec::from_json_str(
            r#"{"qps": 4, "goal": "max_qps",
                "slos": [{"max_s": 1, "metric": "ttft"}, {"metric": "tpot", "max_s": 0.05, "quantile": 0.9}],
                "space": {"replica_config_device": ["h100", "a100"], "replica_config_tensor_parallel_size": ["1", "2"]},
                "base": {"replica_config_model_name": "meta-llama/Llama-3.1-8B"}}"#,
        )
        .unwrap();
        assert_eq!(spec.canonical_json(), same.canonical_json());
        let other = SearchSpec::from_json_str(r#"{"num_requests": 10}"#).unwrap();
        assert_ne!(other.canonical_json(), SearchSpec::from_json_str("{}").unwrap().canonical_json());
    }

    #[test]
    fn a_group_sets_linked_flags_together() {
        let spec = SearchSpec::from_json_str(
            r#"{"space": {
                "cluster": [{"replica_config_device": "h100", "replica_config_network_device": "h100_dgx"},
                            {"replica_config_device": "a100", "replica_config_network_device": "a100_dgx"}],
                "scheduler": [{"replica_scheduler_config_type": "vllm"},
                              {"replica_scheduler_config_type": "sarathi", "sarathi_scheduler_config_chunk_size": 512}]}}"#,
        )
        .unwrap();
        assert_eq!(spec.num_configurations(), 4);
        assert_eq!(
            spec.configuration(3),
            [
                ("replica_config_device", "a100"),
                ("replica_config_network_device", "a100_dgx"),
                ("replica_scheduler_config_type", "sarathi"),
                ("sarathi_scheduler_config_chunk_size", "512"),
            ]
        );
        assert_eq!(spec.column_values(2), ["a100", "a100_dgx", "vllm", ""]);
        let fields = errors(
            r#"{"space": {"cluster": [{"replica_config_device": "h100", "replica_config_netwrk_device": "x"}, 3]}}"#,
        );
        assert_eq!(fields, ["space.cluster"], "a list mixing objects and values is no group");
        let fields = errors(
            r#"{"space": {"cluster": [{"replica_config_device": "h100", "replica_config_netwrk_device": "x"}]}}"#,
        );
        assert_eq!(fields, ["space.cluster[0].replica_config_netwrk_device"]);
        let fields = errors(
            r#"{"space": {"cluster": [{"replica_config_device": "h100"}], "replica_config_device": ["a100"]}}"#,
        );
        assert_eq!(fields, ["space.replica_config_device"], "one flag in two axes");
    }

    #[test]
    fn errors_name_each_field() {
        let fields = errors(
            r#"{"base": {"replica_config_devise": "h100"},
                "space": {"replica_config_tensor_parallel_size": [1, "two"], "poisson_request_interval_generator_config_qps": [1]},
                "slos": [{"metric": "ttfb", "max_s": 1}, {"metric": "tpot", "quantile": 1.5, "max_s": 0.1}],
                "goal": "fastest", "qps": -1, "extra": 1}"#,
        );
        for expected in [
            "base.replica_config_devise",
            "space.replica_config_tensor_parallel_size[1]",
            "space.poisson_request_interval_generator_config_qps",
            "slos[0].metric",
            "slos[1].quantile",
            "goal",
            "extra",
        ] {
            assert!(fields.iter().any(|f| f == expected), "{expected} not in {fields:?}");
        }
        assert_eq!(errors(r#"{"goal": "min_replicas"}"#), ["qps"]);
        assert_eq!(
            errors(r#"{"goal": "min_replicas", "qps": 2, "space": {"cluster_config_num_replicas": [1, 2]}}"#),
            ["space.cluster_config_num_replicas"]
        );
        assert_eq!(
            errors(r#"{"base": {"request_generator_config_type": "closed_loop"}}"#),
            ["base.request_generator_config_type"]
        );
        assert_eq!(
            errors(r#"{"slos": [{"metric": "ttft", "max_s": 1}, {"metric": "ttft", "max_s": 2}]}"#),
            ["slos[1].metric"]
        );
        assert_eq!(errors("[1]"), ["search spec"]);
        assert_eq!(errors("{"), ["search spec"]);
    }

    #[test]
    fn min_cost_searches_replicas_unless_the_space_lists_them() {
        let searched = SearchSpec::from_json_str(r#"{"goal": "min_cost", "qps": 3}"#).unwrap();
        assert!(searched.searches_replicas);
        let listed = SearchSpec::from_json_str(
            r#"{"goal": "min_cost", "qps": 3, "space": {"cluster_config_num_replicas": [1, 2]}}"#,
        )
        .unwrap();
        assert!(!listed.searches_replicas);
    }

    #[test]
    fn a_disaggregated_base_scales_both_pools_by_the_searched_count() {
        // Its replica counts are the prefill:decode unit: allowed in base and space.
        let spec = SearchSpec::from_json_str(
            r#"{"goal": "min_replicas", "qps": 3,
                "base": {"disaggregation_config_type": "prefill_decode"},
                "space": {"pools": [{"cluster_config_num_replicas": 2, "disaggregation_config_decode_num_replicas": 3},
                                    {"cluster_config_num_replicas": 1, "disaggregation_config_decode_num_replicas": 1}]}}"#,
        )
        .unwrap();
        assert!(spec.searches_replicas);
        let flag = |pairs: &[(String, String)], name: &str| {
            pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap()
        };
        let point = spec.point_flags(0, 3.0, Some(4));
        assert_eq!(flag(&point, "cluster_config_num_replicas"), "8", "4 units of 2 prefill");
        assert_eq!(flag(&point, "disaggregation_config_decode_num_replicas"), "12", "and of 3 decode");
        assert_eq!(spec.pool_sizes(1, Some(4)), (4, Some(4)));
        assert_eq!(spec.pool_sizes(0, None), (2, Some(3)), "as configured");
        // min_cost searches units even with counts listed; an aggregated base still refuses
        // a count in base under min_replicas.
        let listed = SearchSpec::from_json_str(
            r#"{"goal": "min_cost", "qps": 3, "base": {"disaggregation_config_type": "prefill_decode"},
                "space": {"cluster_config_num_replicas": [1, 2]}}"#,
        )
        .unwrap();
        assert!(listed.searches_replicas);
        // A prefill count in base is the unit's too.
        let in_base = SearchSpec::from_json_str(
            r#"{"goal": "min_replicas", "qps": 3,
                "base": {"disaggregation_config_type": "prefill_decode", "cluster_config_num_replicas": 2}}"#,
        )
        .unwrap();
        assert_eq!(in_base.pool_sizes(0, Some(3)), (6, Some(3)));
        let aggregated = SearchSpec::from_json_str(
            r#"{"goal": "min_replicas", "qps": 3, "base": {"cluster_config_num_replicas": 2}}"#,
        );
        assert!(aggregated.is_err());
    }
}

#[cfg(test)]
mod units {
    use super::*;

    fn errors(json: &str) -> Vec<SpecError> {
        SearchSpec::from_json_str(json).unwrap_err().0
    }

    const DISAGG: &str = r#""disaggregation_config_type": "prefill_decode""#;

    #[test]
    fn a_pool_count_that_is_no_replica_count_is_refused_naming_the_field_and_value() {
        // They used to read as a unit of 1 replica (0, negative, beyond u32) or saturate.
        for (base, field, value) in [
            (
                r#""disaggregation_config_decode_num_replicas": 0"#,
                "base.disaggregation_config_decode_num_replicas",
                "0",
            ),
            (r#""cluster_config_num_replicas": -2"#, "base.cluster_config_num_replicas", "-2"),
            (
                r#""disaggregation_config_decode_num_replicas": 5000000000"#,
                "base.disaggregation_config_decode_num_replicas",
                "5000000000",
            ),
            (
                r#""disaggregation_config_decode_num_replicas": 100001"#,
                "base.disaggregation_config_decode_num_replicas",
                "100001",
            ),
        ] {
            for goal in ["min_replicas", "min_cost"] {
                let e = errors(&format!(r#"{{"goal": "{goal}", "qps": 2, "base": {{{DISAGG}, {base}}}}}"#));
                assert_eq!(e.len(), 1, "{e:?}");
                assert_eq!(e[0].field, field);
                assert!(e[0].message.starts_with(&format!("{value} is not a replica count")), "{}", e[0]);
                assert!(e[0].message.contains("from 1 to 100000"), "{}", e[0]);
            }
        }
        // In the space: a flag's axis names its index, a group's value its key too.
        let e = errors(&format!(
            r#"{{"goal": "min_cost", "qps": 2, "base": {{{DISAGG}}},
                "space": {{"disaggregation_config_decode_num_replicas": [2, 0],
                          "pools": [{{"cluster_config_num_replicas": 1}}, {{"cluster_config_num_replicas": 0}}]}}}}"#
        ));
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "space.pools[1].cluster_config_num_replicas",
                "space.disaggregation_config_decode_num_replicas[1]"
            ]
        );
        // Disaggregation chosen in the space: its counts are units too.
        let e = errors(
            r#"{"goal": "min_replicas", "qps": 2, "base": {"disaggregation_config_decode_num_replicas": 0},
                "space": {"disaggregation_config_type": ["none", "prefill_decode"]}}"#,
        );
        assert_eq!(e[0].field, "base.disaggregation_config_decode_num_replicas");
        // A count that is not a whole number is refused when the flag is read.
        let e = errors(&format!(
            r#"{{"goal": "min_replicas", "qps": 2, "base": {{{DISAGG}, "disaggregation_config_decode_num_replicas": 1.5}}}}"#
        ));
        assert_eq!(e[0].field, "base.disaggregation_config_decode_num_replicas");
        // Counts the search does not multiply are run as given (the run's validation names the
        // flag and the configuration is skipped, as an aggregated one).
        assert!(
            SearchSpec::from_json_str(&format!(
                r#"{{"base": {{{DISAGG}, "disaggregation_config_decode_num_replicas": 0}}}}"#
            ))
            .is_ok()
        );
    }

    #[test]
    fn units_stay_within_the_cluster_limit_and_are_worded_per_pool() {
        let spec = SearchSpec::from_json_str(&format!(
            r#"{{"goal": "min_replicas", "qps": 2, "max_replicas": 100000, "base": {{{DISAGG}}},
                "space": {{"pools": [{{"cluster_config_num_replicas": 1, "disaggregation_config_decode_num_replicas": 4}},
                                    {{"cluster_config_num_replicas": 3, "disaggregation_config_decode_num_replicas": 99997}},
                                    {{"cluster_config_num_replicas": 50000, "disaggregation_config_decode_num_replicas": 60000}}]}}}}"#
        ))
        .unwrap();
        assert_eq!(spec.max_units(0), 20_000, "20000 × (1 + 4) = 100000 replicas");
        assert_eq!(spec.max_units(1), 1);
        assert_eq!(spec.max_units(2), 1, "beyond the limit at one unit: its first run says why");
        let flags = spec.point_flags(0, 2.0, Some(20_000));
        let get = |k: &str| flags.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
        assert_eq!(get("disaggregation_config_decode_num_replicas"), Some("80000"));
        assert_eq!(spec.units_text(0, 3), "3 units (3 prefill + 12 decode replicas)");
        assert_eq!(spec.units_text(0, 1), "1 unit (1 prefill + 4 decode replicas)");
        let aggregated = SearchSpec::from_json_str(r#"{"goal": "min_replicas", "qps": 2}"#).unwrap();
        assert_eq!(aggregated.max_units(0), 64);
        assert_eq!(aggregated.units_text(0, 5), "5 replicas");
        assert_eq!(aggregated.pool_sizes(0, None), (1, None), "the default count");
    }
}

#[cfg(test)]
mod examples {
    use super::*;

    /// The specs `docs/search-examples/` ships (and BENCHMARKS.md runs) read as documented.
    #[test]
    fn the_shipped_example_specs_read() {
        for (name, text, configurations) in [
            ("min_cost", include_str!("../../../../docs/search-examples/llama70b_20qps_min_cost.json"), 8),
            ("vidur", include_str!("../../../../docs/search-examples/vidur_search_llama2_70b.json"), 324),
            (
                "100",
                include_str!("../../../../docs/search-examples/llama31_70b_100_configurations.json"),
                100,
            ),
        ] {
            let spec = SearchSpec::from_json_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(spec.num_configurations(), configurations, "{name}");
        }
    }
}
