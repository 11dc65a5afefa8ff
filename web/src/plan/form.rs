//! The plan form: the space (node/device, TP, PP, replicas, replica scheduler with its chunk
//! sizes and batch caps; a disaggregated base's decode replicas, TP, PP, attention DP and EP),
//! the objectives, the goal and the request count, over a base configuration taken from the
//! run form. It builds the JSON that `llmsim search --config` reads, and the engine's
//! `SearchSpec::from_json_value` validates it; each error is put at the form field it is about.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use llmsim_engine::search::{SearchSpec, SpecError};
use llmsim_engine::slo::SloMetric;

/// One objective row: metric, quantile and bound, as typed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SloRow {
    /// `ttft`, `tbt`, `tpot`, `e2e`, `scheduling_delay` or `e2e_normalized`.
    pub metric: String,
    /// The quantile, e.g. `0.9`.
    pub quantile: String,
    /// The bound in seconds.
    pub max_s: String,
}

/// What the plan form holds (all texts as typed; the engine judges them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanForm {
    /// Chosen nodes (`h100_dgx`, ...); each sets its device too.
    pub nodes: Vec<String>,
    /// Tensor-parallel degrees, comma-separated.
    pub tp: String,
    /// Pipeline stages, comma-separated.
    pub pp: String,
    /// Replica counts, comma-separated (empty: the base's, or searched by the goal).
    pub replicas: String,
    /// Replica schedulers (empty: the base's).
    pub schedulers: Vec<String>,
    /// Chunk sizes for the schedulers that have one, comma-separated (empty: their default).
    pub chunk_sizes: String,
    /// Batch size caps for the chosen schedulers, comma-separated (empty: their default).
    #[serde(default)]
    pub batch_caps: String,
    /// Decode replicas of a disaggregated base, comma-separated (empty: the base's); with the
    /// replica counts they are the prefill:decode ratios compared, which `min_replicas` and
    /// `min_cost` scale together.
    #[serde(default)]
    pub decode_replicas: String,
    /// Decode replicas' tensor-parallel degrees, comma-separated (empty: the base's).
    #[serde(default)]
    pub decode_tp: String,
    /// Decode replicas' pipeline stages, comma-separated (empty: the base's).
    #[serde(default)]
    pub decode_pp: String,
    /// Decode replicas' attention data-parallel ranks, comma-separated (empty: the base's).
    #[serde(default)]
    pub decode_dp: String,
    /// Decode replicas' expert-parallel degrees, comma-separated (empty: the base's).
    #[serde(default)]
    pub decode_ep: String,
    /// The objectives.
    pub slos: Vec<SloRow>,
    /// `and` or `or`.
    pub slo_combine: String,
    /// `max_qps`, `min_replicas` or `min_cost`.
    pub goal: String,
    /// The rate to serve (or where a QPS search starts).
    pub qps: String,
    /// Requests per simulated point.
    pub num_requests: String,
    /// QPS granularity.
    pub qps_granularity: String,
}

impl Default for PlanForm {
    fn default() -> PlanForm {
        PlanForm {
            nodes: vec!["h100_dgx".into()],
            tp: "1, 2".into(),
            pp: "1".into(),
            replicas: "1".into(),
            schedulers: Vec::new(),
            chunk_sizes: String::new(),
            batch_caps: String::new(),
            decode_replicas: String::new(),
            decode_tp: String::new(),
            decode_pp: String::new(),
            decode_dp: String::new(),
            decode_ep: String::new(),
            slos: vec![
                SloRow { metric: "ttft".into(), quantile: "0.9".into(), max_s: "1".into() },
                SloRow { metric: "tpot".into(), quantile: "0.9".into(), max_s: "0.05".into() },
            ],
            slo_combine: "and".into(),
            goal: "max_qps".into(),
            qps: "4".into(),
            num_requests: "200".into(),
            qps_granularity: "0.05".into(),
        }
    }
}

/// A form field an error is shown at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    /// The base configuration (the run form's settings).
    Base,
    /// Nodes / devices.
    Nodes,
    /// TP.
    Tp,
    /// PP.
    Pp,
    /// Replicas.
    Replicas,
    /// Schedulers, chunk sizes and batch caps.
    Schedulers,
    /// The decode pool's replicas, TP, PP, attention DP and EP (disaggregated).
    DecodePool,
    /// Objective row `i`.
    Slo(usize),
    /// And / or.
    SloCombine,
    /// Goal.
    Goal,
    /// QPS.
    Qps,
    /// Requests per point.
    NumRequests,
    /// Granularity.
    QpsGranularity,
    /// Anything else.
    Other,
}

const DISAGG_TYPE: &str = "disaggregation_config_type";
const DECODE_REPLICAS: &str = "disaggregation_config_decode_num_replicas";
const DECODE_TP: &str = "disaggregation_config_decode_tensor_parallel_size";
const DECODE_PP: &str = "disaggregation_config_decode_num_pipeline_stages";
const DECODE_DP: &str = "disaggregation_config_decode_attention_dp_size";
const DECODE_EP: &str = "disaggregation_config_decode_expert_parallel_size";
/// The decode pool's axes.
const DECODE_AXES: [&str; 5] = [DECODE_REPLICAS, DECODE_TP, DECODE_PP, DECODE_DP, DECODE_EP];

/// The metric names the objective rows offer.
pub fn metric_names() -> Vec<&'static str> {
    SloMetric::ALL.iter().map(|m| m.name()).collect()
}

/// The nodes the space offers, as `(node, device)`, in the catalogue's order.
pub fn node_choices() -> Vec<(String, String)> {
    llmsim_engine::catalog::index::NODES.iter().map(|n| (n.name.to_string(), n.device.to_string())).collect()
}

/// The replica schedulers the space offers.
pub fn scheduler_choices() -> Vec<&'static str> {
    llmsim_engine::find_flag("replica_scheduler_config_type").map_or_else(Vec::new, |f| f.choices().to_vec())
}

/// A scheduler's chunk-size flag, if it has one.
fn chunk_flag(scheduler: &str) -> Option<&'static str> {
    let name = format!("{scheduler}_scheduler_config_chunk_size");
    llmsim_engine::find_flag(&name).map(|f| f.name)
}

/// A scheduler's batch-cap flag, if it has one.
fn batch_cap_flag(scheduler: &str) -> Option<&'static str> {
    let name = format!("{scheduler}_scheduler_config_batch_size_cap");
    llmsim_engine::find_flag(&name).map(|f| f.name)
}

/// Comma-separated items, as JSON numbers where they read as one (else strings, which the
/// engine names as wrong at their place in the list).
fn list(text: &str) -> Vec<Value> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| t.parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::String(t.to_string())))
        .collect()
}

/// A number as JSON, or the text for the engine to refuse at its field.
fn number(text: &str) -> Value {
    let t = text.trim();
    if let Ok(n) = t.parse::<i64>() {
        return Value::from(n);
    }
    t.parse::<f64>().ok().filter(|x| x.is_finite()).map_or_else(|| Value::String(t.to_string()), Value::from)
}

impl PlanForm {
    /// The search spec as `llmsim search --config` reads it, over `base` (the run form's
    /// active `(flag, text)` pairs; the flags the plan sets are left out of it).
    pub fn to_spec_json(&self, base: &[(String, String)]) -> Value {
        let mut space = Map::new();
        if !self.nodes.is_empty() {
            let nodes = node_choices();
            let cluster: Vec<Value> = self
                .nodes
                .iter()
                .map(|n| {
                    let device = nodes.iter().find(|(name, _)| name == n).map_or("", |(_, d)| d.as_str());
                    json!({"replica_config_device": device, "replica_config_network_device": n})
                })
                .collect();
            space.insert("cluster".into(), Value::Array(cluster));
        }
        // The decode pool's axes apply only to a disaggregated base (their fieldset is hidden
        // otherwise, and values left in it would multiply identical configurations).
        let disaggregated_base = base.iter().any(|(k, v)| k == DISAGG_TYPE && v == "prefill_decode");
        for (flag, text) in [
            ("replica_config_tensor_parallel_size", &self.tp),
            ("replica_config_num_pipeline_stages", &self.pp),
            ("cluster_config_num_replicas", &self.replicas),
            (DECODE_REPLICAS, &self.decode_replicas),
            (DECODE_TP, &self.decode_tp),
            (DECODE_PP, &self.decode_pp),
            (DECODE_DP, &self.decode_dp),
            (DECODE_EP, &self.decode_ep),
        ] {
            if flag.starts_with("disaggregation_config_decode_") && !disaggregated_base {
                continue;
            }
            let values = list(text);
            if !values.is_empty() {
                space.insert(flag.into(), Value::Array(values));
            }
        }
        if !self.schedulers.is_empty() {
            // Each scheduler × its chunk sizes (if it has them) × its batch caps (likewise).
            let (chunks, caps) = (list(&self.chunk_sizes), list(&self.batch_caps));
            let mut groups = Vec::new();
            for s in &self.schedulers {
                let mut variants = vec![json!({"replica_scheduler_config_type": s})];
                for (flag, values) in [(chunk_flag(s), &chunks), (batch_cap_flag(s), &caps)] {
                    let Some(flag) = flag.filter(|_| !values.is_empty()) else { continue };
                    variants = variants
                        .iter()
                        .flat_map(|v| {
                            values.iter().map(move |x| {
                                let mut v = v.clone();
                                v[flag] = x.clone();
                                v
                            })
                        })
                        .collect();
                }
                groups.extend(variants);
            }
            space.insert("scheduler".into(), Value::Array(groups));
        } else {
            // No scheduler ticked: the chunk sizes and caps are flat axes of the run form's
            // scheduler (as a hand-written spec lists them).
            let scheduler = base_scheduler(base.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            for (flag, text) in
                [(chunk_flag(&scheduler), &self.chunk_sizes), (batch_cap_flag(&scheduler), &self.batch_caps)]
            {
                let values = list(text);
                if let Some(flag) = flag.filter(|_| !values.is_empty()) {
                    space.insert(flag.into(), Value::Array(values));
                }
            }
        }
        // A disaggregated base keeps its replica count when the goal searches replicas: it is
        // the prefill part of the unit the search scales.
        let disaggregated = base.iter().any(|(k, v)| k == DISAGG_TYPE && v == "prefill_decode");
        let space_sets = |flag: &str| -> bool {
            match flag {
                "replica_config_device" | "replica_config_network_device" => !self.nodes.is_empty(),
                "replica_config_tensor_parallel_size" => !list(&self.tp).is_empty(),
                "replica_config_num_pipeline_stages" => !list(&self.pp).is_empty(),
                "cluster_config_num_replicas" => {
                    !list(&self.replicas).is_empty() || (self.goal != "max_qps" && !disaggregated)
                }
                DECODE_REPLICAS => !list(&self.decode_replicas).is_empty(),
                DECODE_TP => !list(&self.decode_tp).is_empty(),
                DECODE_PP => !list(&self.decode_pp).is_empty(),
                DECODE_DP => !list(&self.decode_dp).is_empty(),
                DECODE_EP => !list(&self.decode_ep).is_empty(),
                "replica_scheduler_config_type" => !self.schedulers.is_empty(),
                f => {
                    !list(&self.chunk_sizes).is_empty() && f.ends_with("_scheduler_config_chunk_size")
                        || !list(&self.batch_caps).is_empty()
                            && f.ends_with("_scheduler_config_batch_size_cap")
                }
            }
        };
        let base: Map<String, Value> = base
            .iter()
            .filter(|(k, _)| !is_reserved(k) && !space_sets(k))
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let slos: Vec<Value> = self
            .slos
            .iter()
            .map(|r| json!({"metric": r.metric, "quantile": number(&r.quantile), "max_s": number(&r.max_s)}))
            .collect();
        let mut spec = json!({
            "base": base,
            "space": space,
            "slos": slos,
            "slo_combine": self.slo_combine,
            "goal": self.goal,
            "qps": number(&self.qps),
            "num_requests": number(&self.num_requests),
            "qps_granularity": number(&self.qps_granularity),
        });
        if self.slos.is_empty() {
            spec.as_object_mut().expect("an object").remove("slos");
        }
        spec
    }

    /// The spec, validated by the engine, or its errors by form field.
    pub fn build(&self, base: &[(String, String)]) -> Result<(SearchSpec, Value), Vec<(Field, String)>> {
        let json = self.to_spec_json(base);
        SearchSpec::from_json_value(&json)
            .map(|spec| (spec, json))
            .map_err(|e| e.0.iter().map(|e| (field_of(e), format!("{}: {}", e.field, e.message))).collect())
    }

    /// A form showing a spec (a share link's), as far as the form can show it: the base is
    /// returned as `(flag, text)` pairs for the run form.
    pub fn from_spec_json(spec: &Value) -> Option<(PlanForm, Vec<(String, String)>)> {
        let object = spec.as_object()?;
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let joined = |v: Option<&Value>| {
            v.and_then(Value::as_array)
                .map_or_else(String::new, |l| l.iter().map(text).collect::<Vec<_>>().join(", "))
        };
        let space = object.get("space").and_then(Value::as_object).cloned().unwrap_or_default();
        let mut form = PlanForm {
            nodes: Vec::new(),
            tp: joined(space.get("replica_config_tensor_parallel_size")),
            pp: joined(space.get("replica_config_num_pipeline_stages")),
            replicas: joined(space.get("cluster_config_num_replicas")),
            schedulers: Vec::new(),
            chunk_sizes: String::new(),
            batch_caps: String::new(),
            decode_replicas: joined(space.get(DECODE_REPLICAS)),
            decode_tp: joined(space.get(DECODE_TP)),
            decode_pp: joined(space.get(DECODE_PP)),
            decode_dp: joined(space.get(DECODE_DP)),
            decode_ep: joined(space.get(DECODE_EP)),
            slos: Vec::new(),
            slo_combine: object.get("slo_combine").map_or("and".into(), text),
            goal: object.get("goal").map_or("max_qps".into(), text),
            qps: object.get("qps").map_or(String::new(), text),
            num_requests: object.get("num_requests").map_or(String::new(), text),
            qps_granularity: object.get("qps_granularity").map_or(String::new(), text),
        };
        for item in space.get("cluster").and_then(Value::as_array).into_iter().flatten() {
            if let Some(n) = item.get("replica_config_network_device") {
                form.nodes.push(text(n));
            }
        }
        let (mut chunks, mut caps): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
        for item in space.get("scheduler").and_then(Value::as_array).into_iter().flatten() {
            let Some(object) = item.as_object() else { continue };
            for (k, v) in object {
                if k == "replica_scheduler_config_type" {
                    if !form.schedulers.contains(&text(v)) {
                        form.schedulers.push(text(v));
                    }
                } else if k.ends_with("_scheduler_config_chunk_size") && !chunks.contains(&text(v)) {
                    chunks.push(text(v));
                } else if k.ends_with("_scheduler_config_batch_size_cap") && !caps.contains(&text(v)) {
                    caps.push(text(v));
                }
            }
        }
        // Flat axes (a hand-written spec's, or the form's without a ticked scheduler).
        for (k, values) in &space {
            let Some(values) = values.as_array() else { continue };
            let into = if k.ends_with("_scheduler_config_chunk_size") {
                &mut chunks
            } else if k.ends_with("_scheduler_config_batch_size_cap") {
                &mut caps
            } else {
                continue;
            };
            for v in values {
                if !into.contains(&text(v)) {
                    into.push(text(v));
                }
            }
        }
        form.chunk_sizes = chunks.join(", ");
        form.batch_caps = caps.join(", ");
        for item in object.get("slos").and_then(Value::as_array).into_iter().flatten() {
            form.slos.push(SloRow {
                metric: item.get("metric").map_or(String::new(), text),
                quantile: item.get("quantile").map_or("0.9".into(), text),
                max_s: item.get("max_s").map_or(String::new(), text),
            });
        }
        let base = object
            .get("base")
            .and_then(Value::as_object)
            .map(|b| b.iter().map(|(k, v)| (k.clone(), text(v))).collect())
            .unwrap_or_default();
        Some((form, base))
    }
}

/// The replica scheduler of a base's `(flag, text)` pairs: its own, else the flag's default.
fn base_scheduler<'a>(mut base: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    const FLAG: &str = "replica_scheduler_config_type";
    base.find(|(k, _)| *k == FLAG)
        .map(|(_, v)| v.to_string())
        .or_else(|| llmsim_engine::find_flag(FLAG).map(|f| f.default.to_string()))
        .unwrap_or_default()
}

/// Flags of the base the search sets itself (rate, request count, objectives): the run form's
/// values are dropped, not refused.
fn is_reserved(flag: &str) -> bool {
    flag.ends_with("_request_interval_generator_config_qps")
        || flag == "synthetic_request_generator_config_num_requests"
        || flag.starts_with("slo_config_") && !flag.starts_with("slo_config_prefill_e2e_time")
}

/// The form field a spec error is about.
pub fn field_of(e: &SpecError) -> Field {
    let f = e.field.as_str();
    let head = f.split(['[', '.']).next().unwrap_or("");
    if f == "space.cluster" || f.starts_with("space.cluster[") {
        return Field::Nodes;
    }
    if f.starts_with("space.replica_config_tensor_parallel_size") {
        return Field::Tp;
    }
    if f.starts_with("space.replica_config_num_pipeline_stages") {
        return Field::Pp;
    }
    if f.starts_with("space.cluster_config_num_replicas") || f.starts_with("base.cluster_config_num_replicas")
    {
        return Field::Replicas;
    }
    if f.starts_with("space.scheduler") {
        return Field::Schedulers;
    }
    if DECODE_AXES.iter().any(|d| f.starts_with(&format!("space.{d}"))) {
        return Field::DecodePool;
    }
    if let Some(rest) = f.strip_prefix("slos[") {
        return rest.split(']').next().and_then(|i| i.parse().ok()).map_or(Field::Other, Field::Slo);
    }
    match head {
        "base" => Field::Base,
        "slos" => Field::Slo(0),
        "slo_combine" => Field::SloCombine,
        "goal" => Field::Goal,
        "qps" | "min_qps" | "max_qps" => Field::Qps,
        "num_requests" => Field::NumRequests,
        "qps_granularity" => Field::QpsGranularity,
        _ => Field::Other,
    }
}
