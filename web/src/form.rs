//! The form's model: the text of each field the user set, keyed by Vidur flag name, turned into
//! the engine's `Config` field by field (each field's parse errors are the CLI's messages); the
//! engine's validator runs in the worker (`live_check`).
//!
//! Fields are generated from `all_flags()`, so every option the engine registers appears, in its
//! section, shown only while its selector chain holds (`config::is_active`).

use std::collections::{BTreeMap, BTreeSet};

use llmsim_engine::config::is_active;
use llmsim_engine::serving_engine;
use llmsim_engine::{Config, FlagDef, FlagGroup, FlagKind, FlagValue, SimConfig, all_flags};
use llmsim_protocol::{FieldError, is_trace_flag};

/// A section of the form: a heading over one or more flag groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Section {
    /// Stable id (HTML id of the section).
    pub id: &'static str,
    /// Heading.
    pub title: &'static str,
    /// The flag groups it shows.
    pub groups: &'static [FlagGroup],
    /// Whether it starts expanded.
    pub open: bool,
}

/// The form's sections in page order; every flag group is in exactly one.
pub const SECTIONS: &[Section] = &[
    Section {
        id: "cluster",
        title: "Cluster: model, hardware, parallelism, KV cache",
        groups: &[FlagGroup::Cluster, FlagGroup::Cache],
        open: true,
    },
    // Its fields show only with --disaggregation_config_type prefill_decode; closed until opened.
    Section {
        id: "disaggregation",
        title: "Disaggregated prefill and decode: decode pool, KV transfer",
        groups: &[FlagGroup::Disaggregation],
        open: false,
    },
    Section { id: "workload", title: "Workload", groups: &[FlagGroup::Workload], open: true },
    Section {
        id: "scheduler",
        title: "Scheduling",
        groups: &[FlagGroup::GlobalScheduler, FlagGroup::ReplicaScheduler],
        open: true,
    },
    Section { id: "predictor", title: "Execution time", groups: &[FlagGroup::Predictor], open: false },
    Section { id: "run", title: "Run: seed and time limit", groups: &[FlagGroup::General], open: true },
    Section {
        id: "outputs",
        title: "Outputs (CLI files and metrics)",
        groups: &[FlagGroup::Metrics],
        open: false,
    },
];

/// The prefix of the decode pool's own flags (`--disaggregation_config_decode_*`).
const DECODE_PREFIX: &str = "disaggregation_config_decode_";

/// Whether `config` serves disaggregated (`--disaggregation_config_type prefill_decode`): then
/// the cluster fields with a decode-pool counterpart set the prefill pool only.
pub use llmsim_engine::disagg::is_disaggregated;

/// Whether a field sets only the prefill pool of a disaggregated cluster: it is in the cluster
/// section and the decode pool has its own flag for it (`replica_config_device` and
/// `disaggregation_config_decode_device`, `cluster_config_num_replicas` and
/// `disaggregation_config_decode_num_replicas`, ...), or it is a selector the decode pool makes
/// its own choice of (`replica_scheduler_config_type` and
/// `disaggregation_config_decode_replica_scheduler_type`). The model and workload are shared by
/// both pools.
pub fn is_prefill_pool_flag(def: &FlagDef) -> bool {
    if all_flags().iter().any(|f| f.second_choice_of == Some(def.name)) {
        return true;
    }
    if !SECTIONS[0].groups.contains(&def.group) {
        return false;
    }
    ["replica_config_", "cluster_config_", "cache_config_"].iter().any(|prefix| {
        def.name
            .strip_prefix(prefix)
            .is_some_and(|rest| llmsim_engine::find_flag(&format!("{DECODE_PREFIX}{rest}")).is_some())
    })
}

/// The flags of a section, in the engine's help order.
pub fn section_flags(section: &Section) -> Vec<&'static FlagDef> {
    all_flags().iter().filter(|f| section.groups.contains(&f.group)).collect()
}

/// Known values offered for free-text flags that name catalogue entries: `(value, label)`.
/// From the catalogues' compile-time index (`catalog::index`): the page links no catalogue JSON.
pub fn suggestions(flag: &str) -> Vec<(String, String)> {
    use llmsim_engine::catalog::index;
    match flag {
        "replica_config_model_name" => {
            index::MODELS.iter().map(|m| (m.name.to_string(), m.name.to_string())).collect()
        }
        "replica_config_device" | "disaggregation_config_decode_device" => index::DEVICES
            .iter()
            .map(|d| (d.name.to_string(), format!("{} ({} GiB)", d.display_name, d.memory_gb)))
            .collect(),
        "replica_config_network_device" | "disaggregation_config_decode_network_device" => index::NODES
            .iter()
            .map(|n| (n.name.to_string(), format!("{} × {}", n.devices_per_node, n.device)))
            .collect(),
        _ => Vec::new(),
    }
}

/// The texts of the fields the user set; every other field shows its flag's default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FormState {
    texts: BTreeMap<&'static str, String>,
}

impl FormState {
    /// Every field at its default.
    pub fn new() -> FormState {
        FormState::default()
    }

    /// A form showing `(flag, text)` pairs (a preset or a share link); unknown flags are
    /// returned as errors.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> (FormState, Vec<FieldError>) {
        let mut form = FormState::new();
        let mut errors = Vec::new();
        for (name, text) in pairs {
            match llmsim_engine::find_flag(name) {
                // An empty text is the unset field (a flag that takes none reads it as none).
                Some(def) if text.trim().is_empty() && !empty_means_none(def) => {}
                Some(def) => {
                    form.texts.insert(def.name, text.to_string());
                }
                None => {
                    let mut config = Config::new();
                    if let Err(e) = config.set(name, text) {
                        errors.push(FieldError::from(&e));
                    }
                }
            }
        }
        form.drop_unset_values();
        (form, errors)
    }

    /// The text a field shows.
    pub fn text(&self, def: &FlagDef) -> String {
        self.texts.get(def.name).cloned().unwrap_or_else(|| value_text(&self.unset_value(def)))
    }

    /// What field `def` stands for while the user leaves it unset: the value the chosen serving
    /// engine gives it on the chosen device and parallelism (`--serving_engine`'s bundle), else
    /// the flag's default. A field set to this value is the same run as one left unset.
    pub fn unset_value(&self, def: &FlagDef) -> FlagValue {
        if !self.texts.contains_key("serving_engine") {
            // No engine chosen (its own default is none): the flag's default.
            return def.default_value();
        }
        let mut others = self.clone();
        others.texts.remove(def.name);
        let (config, _) = others.parse();
        serving_engine::apply_with(&config, &llmsim_engine::catalog::index::Index)
            .ok()
            .and_then(|(_, applied)| applied.into_iter().find(|s| s.flag == def.name))
            .and_then(|setting| def.parse_text(&setting.value).ok())
            .unwrap_or_else(|| def.default_value())
    }

    /// Whether the user set this field (it differs from the default).
    pub fn is_set(&self, name: &str) -> bool {
        self.texts.contains_key(name)
    }

    /// Sets a field from its text; a value equal to what the field stands for unset
    /// ([`FormState::unset_value`]: the serving engine's value where it sets one, else the
    /// flag's default) clears it. An empty field means `none` for a flag that takes none, else
    /// it is unset.
    pub fn set(&mut self, name: &str, text: &str) {
        let Some(def) = llmsim_engine::find_flag(name) else { return };
        if text.trim().is_empty() && !empty_means_none(def) {
            self.texts.remove(def.name);
            return;
        }
        self.texts.insert(def.name, text.to_string());
        // This field, or another (a new engine uses its value), may now stand for what it would
        // unset: the form keeps what a link of it would, so the two never disagree.
        self.drop_unset_values();
    }

    /// Clears every set field that stands for what it would unset, once all fields are known
    /// (a link may name a field before the serving engine whose value it overrides).
    fn drop_unset_values(&mut self) {
        let names: Vec<&'static str> = self.texts.keys().copied().collect();
        for name in names {
            let Some(def) = llmsim_engine::find_flag(name) else { continue };
            let text = self.texts[name].clone();
            if matches!(def.parse_text(&meaning(def, &text)), Ok(v) if v == self.unset_value(def)) {
                self.texts.remove(name);
            }
        }
    }

    /// The fields whose text differs from `before`'s: `(flag, text before, text now)`.
    pub fn changes_since(&self, before: &FormState) -> Vec<(&'static str, String, String)> {
        let flags: BTreeSet<&'static str> = self.texts.keys().chain(before.texts.keys()).copied().collect();
        flags
            .into_iter()
            .filter_map(|flag| {
                let def = llmsim_engine::find_flag(flag)?;
                let (was, now) = (before.text(def), self.text(def));
                (was != now).then_some((def.name, was, now))
            })
            .collect()
    }

    /// The engine configuration of the valid fields, and an error for each field whose text
    /// does not parse (unknown choice, not a number, ...).
    pub fn parse(&self) -> (Config, Vec<FieldError>) {
        let mut config = Config::new();
        let mut errors = Vec::new();
        for (name, text) in &self.texts {
            let result = match llmsim_engine::find_flag(name) {
                Some(def) => config.set(name, &meaning(def, text)),
                None => config.set(name, text),
            };
            if let Err(e) = result {
                errors.push(FieldError::from(&e));
            }
        }
        (config, errors)
    }

    /// Whether a field applies under the current selector choices.
    pub fn is_visible(&self, config: &Config, name: &str) -> bool {
        is_active(config, name)
    }

    /// The set fields that apply, as `(flag, text)` pairs: what a share link and a run carry.
    pub fn active_pairs(&self) -> Vec<(String, String)> {
        let (config, _) = self.parse();
        let active: BTreeSet<&str> = self.texts.keys().copied().filter(|n| is_active(&config, n)).collect();
        config.to_pairs().into_iter().filter(|(k, _)| active.contains(k.as_str())).collect()
    }

    /// The active configuration as the flat JSON the worker (and `llmsim --config`) reads.
    pub fn to_json(&self) -> serde_json::Value {
        let pairs = self.active_pairs();
        let config =
            Config::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap_or_default();
        config.to_json(false)
    }

    /// The trace-file fields the active configuration reads (set or not), with their text.
    pub fn active_trace_fields(&self) -> Vec<(&'static str, String)> {
        let (config, _) = self.parse();
        all_flags()
            .iter()
            .filter(|f| is_trace_flag(f.name) && is_active(&config, f.name))
            .map(|f| (f.name, self.text(f)))
            .collect()
    }

    /// The files the active configuration reads: `(flag, path)`.
    pub fn required_files(&self) -> Vec<(&'static str, String)> {
        SimConfig::required_files_with(&self.parse().0, &llmsim_engine::catalog::index::Index)
    }

    /// Every error of the form, as live validation finds it (the page's parse errors, then the
    /// worker's check). Files for which `available` answers true count as present.
    #[cfg(test)]
    pub fn validate(&self, available: &dyn Fn(&str) -> bool) -> Vec<FieldError> {
        let (config, errors) = self.parse();
        if !errors.is_empty() {
            return errors;
        }
        let available = self.required_files().into_iter().map(|(_, p)| p).filter(|p| available(p)).collect();
        let request = llmsim_protocol::check::CheckRequest {
            id: 0,
            pairs: config.to_pairs(),
            available,
            typical_tokens: None,
        };
        llmsim_worker::check::check(&request).errors
    }
}

/// A flag's default as the text its field shows (`none` as an empty field).
pub fn default_text(def: &FlagDef) -> String {
    value_text(&def.default_value())
}

/// A value as the text its field shows (`none` as an empty field).
fn value_text(value: &FlagValue) -> String {
    match value {
        FlagValue::None => String::new(),
        v => v.to_text(),
    }
}

/// Whether an empty field of this flag means `none` (an optional number, or a text or path
/// that is none by default), rather than its default.
fn empty_means_none(def: &FlagDef) -> bool {
    match def.kind {
        FlagKind::OptInt | FlagKind::OptFloat => true,
        FlagKind::Str | FlagKind::Path => def.default_value() == FlagValue::None,
        _ => false,
    }
}

/// What an empty field shows in grey, and means: `none` where the flag takes none (an
/// optional number, a text, a path), else the flag's default.
pub fn placeholder(def: &FlagDef) -> String {
    if empty_means_none(def) { "none".to_string() } else { default_text(def) }
}

/// The text a field's `text` stands for: its [`placeholder`] when it is empty.
fn meaning<'a>(def: &FlagDef, text: &'a str) -> std::borrow::Cow<'a, str> {
    if !text.trim().is_empty() {
        return text.into();
    }
    if empty_means_none(def) { "none".into() } else { def.default.into() }
}

/// A short human label for a flag: the part after `_config_`, in words
/// (`vllm_v1_scheduler_config_chunk_size` → `Chunk size`).
pub fn label(def: &FlagDef) -> String {
    // Selectors are named after what they select: `global_scheduler_config_type` → `Global scheduler`.
    let tail = match def.name.strip_suffix("_config_type") {
        Some(selector) => selector,
        None => def.name.split_once("_config_").map_or(def.name, |(_, t)| t),
    };
    let words: Vec<String> = tail
        .split('_')
        .map(|w| match w {
            "kv" | "qps" | "cv" | "tflops" | "gb" | "slo" | "cpu" | "mfu" | "fp8" | "fp16" | "bf16"
            | "id" => w.to_ascii_uppercase(),
            "gbps" => "GB/s".to_string(),
            _ => w.to_string(),
        })
        .collect();
    let words = words.join(" ");
    let mut chars = words.chars();
    match chars.next() {
        Some(c) => std::iter::once(c.to_ascii_uppercase()).chain(chars).collect(),
        None => String::new(),
    }
}

/// Whether a field takes a file (an upload).
pub fn is_file_flag(def: &FlagDef) -> bool {
    def.is_input_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_group_has_exactly_one_section() {
        for flag in all_flags() {
            let n = SECTIONS.iter().filter(|s| s.groups.contains(&flag.group)).count();
            assert_eq!(n, 1, "--{} ({:?}) is in {n} sections", flag.name, flag.group);
        }
    }

    #[test]
    fn defaults_are_not_stored_and_texts_round_trip() {
        let (mut form, errors) =
            FormState::from_pairs([("seed", "42"), ("cluster_config_num_replicas", "4")]);
        assert!(errors.is_empty());
        assert!(!form.is_set("seed"), "42 is the default");
        assert!(form.is_set("cluster_config_num_replicas"));
        form.set("cluster_config_num_replicas", "1");
        assert_eq!(form, FormState::new());
        let qps = llmsim_engine::find_flag("poisson_request_interval_generator_config_qps").unwrap();
        form.set(qps.name, "8");
        assert_eq!(form.text(qps), "8");
        assert_eq!(
            form.active_pairs(),
            vec![("poisson_request_interval_generator_config_qps".to_string(), "8.0".to_string())]
        );
    }

    #[test]
    fn a_serving_engine_s_values_are_shown_and_a_typed_vidur_default_is_kept() {
        // SGLang uses 1-token pages where Vidur's default block is 16 tokens.
        let block = llmsim_engine::find_flag("cache_config_block_size").unwrap();
        let mut form = FormState::new();
        form.set("serving_engine", "sglang");
        assert_eq!(form.text(block), "1", "the field shows what the engine will use");
        // Typing Vidur's default is a choice under SGLang: it is kept and reaches the run (it
        // was dropped as "the default" before, and the run used SGLang's 1).
        form.set(block.name, "16");
        assert!(form.is_set(block.name));
        assert!(form.active_pairs().contains(&("cache_config_block_size".to_string(), "16".to_string())));
        // Typing the engine's own value, or emptying the field, leaves it to the engine.
        form.set(block.name, "1");
        assert!(!form.is_set(block.name));
        form.set(block.name, "16");
        form.set(block.name, "");
        assert!(!form.is_set(block.name));
        assert_eq!(form.text(block), "1");
        // A link may name the field before the engine: the order does not matter.
        for pairs in [
            [("cache_config_block_size", "16"), ("serving_engine", "sglang")],
            [("serving_engine", "sglang"), ("cache_config_block_size", "16")],
        ] {
            let (linked, errors) = FormState::from_pairs(pairs);
            assert!(errors.is_empty());
            assert_eq!(linked.text(block), "16");
            assert!(linked.is_set(block.name));
        }
        let (linked, _) =
            FormState::from_pairs([("cache_config_block_size", "1"), ("serving_engine", "sglang")]);
        assert!(!linked.is_set(block.name), "the engine's own value is no choice");
        // Without an engine, Vidur's default is the default again.
        let (plain, _) = FormState::from_pairs([("cache_config_block_size", "16")]);
        assert!(!plain.is_set(block.name));
        assert_eq!(plain.text(block), "16");
        // An empty text in a link is the unset field, as typed.
        let (linked, _) =
            FormState::from_pairs([("serving_engine", "sglang"), ("cache_config_block_size", "")]);
        assert!(!linked.is_set(block.name));
        assert_eq!(linked.text(block), "1");
        // The form keeps what its link keeps: 16 typed under SGLang, then vLLM (16-token blocks)
        // chosen, leaves the field to the engine in both, and back under SGLang both show 1.
        let mut form = FormState::new();
        form.set("serving_engine", "sglang");
        form.set(block.name, "16");
        form.set("serving_engine", "vllm");
        assert_eq!(form.text(block), "16");
        let (linked, _) =
            FormState::from_pairs(form.active_pairs().iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert_eq!(linked, form);
        form.set("serving_engine", "sglang");
        assert_eq!(form.text(block), "1");
    }

    #[test]
    fn inactive_fields_are_hidden_and_left_out_of_runs() {
        let (form, _) = FormState::from_pairs([
            ("length_generator_config_type", "uniform"),
            ("zipf_request_length_generator_config_min_tokens", "64"),
        ]);
        let (config, _) = form.parse();
        assert!(form.is_visible(&config, "uniform_request_length_generator_config_min_tokens"));
        assert!(!form.is_visible(&config, "zipf_request_length_generator_config_min_tokens"));
        assert_eq!(form.to_json(), serde_json::json!({"length_generator_config_type": "uniform"}));
    }

    #[test]
    fn hidden_fields_raise_no_ignored_flag_warnings() {
        // Values typed into fields that a selector change then hid: the engine warns about
        // ignored flags, but a run carries only the active fields, so the page shows none.
        let (form, _) = FormState::from_pairs([
            ("replica_scheduler_config_type", "sarathi"),
            ("sarathi_scheduler_config_chunk_size", "256"),
            ("vllm_v1_scheduler_config_chunk_size", "1024"),
            ("zipf_request_length_generator_config_min_tokens", "64"),
            ("synthetic_request_generator_config_num_requests", "4"),
        ]);
        let config = Config::from_json_value(&form.to_json()).unwrap();
        let sim = SimConfig::build(&config, &llmsim_engine::Inputs::new()).unwrap();
        assert!(
            sim.warnings.iter().all(|w| !w.contains("is ignored: it applies with")),
            "{:?}",
            sim.warnings
        );
        let (all_fields, _) = form.parse();
        assert_eq!(all_fields.ignored_flag_warnings().len(), 2, "the hidden fields themselves would warn");
    }

    #[test]
    fn field_errors_come_from_the_engine_and_name_the_field() {
        let (form, _) = FormState::from_pairs([
            ("cluster_config_num_replicas", "eight"),
            ("global_scheduler_config_type", "round_robbin"),
        ]);
        let errors = form.validate(&|_| true);
        let flags: Vec<&str> = errors.iter().map(|e| e.flag.as_str()).collect();
        assert_eq!(flags, ["cluster_config_num_replicas", "global_scheduler_config_type"]);
        assert_eq!(errors[1].hint.as_deref(), Some("did you mean 'round_robin'?"));
        let (form, _) = FormState::from_pairs([("cluster_config_num_replicas", "0")]);
        let errors = form.validate(&|_| true);
        assert_eq!(errors[0].flag, "cluster_config_num_replicas");
        assert!(errors[0].message.contains("between 1 and"), "{}", errors[0].message);
    }

    #[test]
    fn missing_files_are_errors_unless_available() {
        let (form, _) = FormState::from_pairs([
            ("request_generator_config_type", "trace"),
            ("trace_request_generator_config_trace_file", "mine.csv"),
            ("cache_config_enable_prefix_caching", "true"),
        ]);
        assert_eq!(
            form.required_files(),
            vec![("trace_request_generator_config_trace_file", "mine.csv".to_string())]
        );
        let errors = form.validate(&|_| false);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].flag, "trace_request_generator_config_trace_file");
        assert!(form.validate(&|p| p == "mine.csv").is_empty());
        // An uploaded interval trace passes live validation too (it needs two arrivals).
        let (form, _) = FormState::from_pairs([
            ("interval_generator_config_type", "trace"),
            ("trace_request_interval_generator_config_trace_file", "gaps.csv"),
        ]);
        assert_eq!(form.validate(&|_| false).len(), 1);
        assert_eq!(form.validate(&|p| p == "gaps.csv"), vec![]);
    }

    #[test]
    fn unknown_flags_from_links_are_reported() {
        let (_, errors) = FormState::from_pairs([("replica_config_modle_name", "x")]);
        assert_eq!(errors[0].hint.as_deref(), Some("did you mean --replica_config_model_name?"));
    }

    #[test]
    fn labels_are_the_flag_tails_in_words() {
        let flag = |n| llmsim_engine::find_flag(n).unwrap();
        assert_eq!(label(flag("vllm_v1_scheduler_config_chunk_size")), "Chunk size");
        assert_eq!(label(flag("time_limit")), "Time limit");
        assert_eq!(label(flag("replica_config_kv_cache_dtype")), "KV cache dtype");
        assert_eq!(label(flag("poisson_request_interval_generator_config_qps")), "QPS");
        assert_eq!(label(flag("request_generator_config_type")), "Request generator");
    }

    #[test]
    fn the_cluster_fields_with_a_decode_counterpart_are_the_prefill_pools() {
        let mut prefill: Vec<&str> =
            all_flags().iter().filter(|f| is_prefill_pool_flag(f)).map(|f| f.name).collect();
        prefill.sort_unstable();
        assert_eq!(
            prefill,
            [
                "cache_config_num_blocks",
                "cluster_config_num_replicas",
                "replica_config_attention_dp_size",
                "replica_config_device",
                "replica_config_expert_parallel_size",
                "replica_config_network_device",
                "replica_config_num_pipeline_stages",
                "replica_config_tensor_parallel_size",
                "replica_scheduler_config_type",
            ]
        );
        let config = |pairs: &[(&str, &str)]| FormState::from_pairs(pairs.iter().copied()).0.parse().0;
        assert!(!is_disaggregated(&config(&[])));
        assert!(is_disaggregated(&config(&[("disaggregation_config_type", "prefill_decode")])));
    }

    #[test]
    fn the_decode_pool_s_scheduler_is_a_choice_whose_own_fields_apply_and_travel() {
        let decode = "disaggregation_config_decode_replica_scheduler_type";
        let def = llmsim_engine::find_flag(decode).unwrap();
        assert!(section_flags(&SECTIONS[1]).iter().any(|f| f.name == decode), "in the decode pool's section");
        assert_eq!(def.choices(), ["same", "vllm_v1", "sglang", "trtllm"]);
        let tokens = "trtllm_scheduler_config_max_num_tokens";
        let (mut form, _) = FormState::from_pairs([
            ("disaggregation_config_type", "prefill_decode"),
            (decode, "trtllm"),
            (tokens, "1024"),
        ]);
        // The decode scheduler's fields show (beside the prefill pool's) and reach the run.
        let config = form.parse().0;
        assert!(form.is_visible(&config, tokens));
        assert!(form.is_visible(&config, "vllm_v1_scheduler_config_chunk_size"));
        assert!(form.active_pairs().contains(&(tokens.to_string(), "1024".to_string())));
        // With `same` (or aggregated) they do not apply, and are left out of a link.
        form.set(decode, "same");
        assert!(!form.is_visible(&form.parse().0, tokens));
        assert!(!form.active_pairs().iter().any(|(k, _)| k == tokens));
    }

    #[test]
    fn catalogue_fields_offer_the_catalogue() {
        assert!(
            suggestions("replica_config_model_name").iter().any(|(v, _)| v == "meta-llama/Meta-Llama-3-8B")
        );
        assert!(suggestions("replica_config_device").iter().any(|(v, _)| v == "h100"));
        assert!(suggestions("replica_config_network_device").iter().any(|(v, _)| v == "h100_dgx"));
    }
}
