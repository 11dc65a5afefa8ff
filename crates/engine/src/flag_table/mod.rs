//! The one flag table: every option's Vidur name, kind, default, help and form group,
//! assembled once from the core flags (`core.rs`) and the flags each registered policy declares
//! (`ROUTERS`, `REPLICA_SCHEDULERS`, `PREDICTORS`, the workload generators' tables). With it
//! come the constructors of a [`Config`] over that table (`Config::new()` and friends).
//!
//! This is the composition root's first half (the second is [`crate::sim_config`]): it sits
//! above every policy, so reading a default flag value initialises every policy's table.

mod core;

use std::borrow::Cow;
use std::sync::OnceLock;

use crate::config::{Config, ConfigErrors, FlagDef, FlagGroup, FlagKind, FlagTable};
use crate::{custom_device, disagg, exec, scheduler, serving_engine, workload};

/// The engine's flag table, assembled on first use.
pub fn flag_table() -> &'static FlagTable {
    static TABLE: OnceLock<FlagTable> = OnceLock::new();
    TABLE.get_or_init(|| FlagTable::new(assemble()))
}

/// Every flag the engine understands, in help order.
pub fn all_flags() -> &'static [FlagDef] {
    flag_table().flags()
}

/// The flag called `name` (without `--`).
pub fn find_flag(name: &str) -> Option<&'static FlagDef> {
    flag_table().find(name)
}

/// The flag name closest to a misspelt `name`.
pub fn suggest_flag(name: &str) -> Option<&'static str> {
    flag_table().suggest(name)
}

impl Config {
    /// All flags at their defaults.
    pub fn new() -> Config {
        Config::with_table(flag_table())
    }

    /// Reads a flat JSON object `{"flag_name": value, ...}` (the `--config` file, a share link's
    /// payload, the web form's state). Every error is reported, each naming its key.
    pub fn from_json_str(text: &str) -> Result<Config, ConfigErrors> {
        Config::new().with_json_str(text)
    }

    /// [`Config::from_json_str`] for an already parsed value.
    pub fn from_json_value(value: &serde_json::Value) -> Result<Config, ConfigErrors> {
        Config::new().with_json_value(value)
    }

    /// Parses `(name, text)` pairs (a share link's query string), collecting every error.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Config, ConfigErrors> {
        Config::new().with_pairs(pairs)
    }
}

impl Default for Config {
    fn default() -> Config {
        Config::new()
    }
}

/// The `(name, flags)` pairs of a policy registry, read at compile time. The table is assembled
/// from these copies, never from the registry at run time, so a binary that only reads flags
/// (the web page, which validates fields and runs no simulation) does not link the policies'
/// constructors the registry's entries point to, nor the policies behind them.
macro_rules! names_and_flags {
    ($registry:path) => {{
        const PAIRS: &[(&str, &[FlagDef])] = &{
            let mut pairs: [(&str, &[FlagDef]); $registry.len()] = [("", &[]); $registry.len()];
            let mut i = 0;
            while i < pairs.len() {
                pairs[i] = ($registry[i].name, $registry[i].flags);
                i += 1;
            }
            pairs
        };
        PAIRS
    }};
}

/// The names of a registry's entries, read at compile time (see [`names_and_flags`]).
macro_rules! names {
    ($registry:path) => {{
        const NAMES: &[&str] = &{
            let mut names: [&str; $registry.len()] = [""; $registry.len()];
            let mut i = 0;
            while i < names.len() {
                names[i] = $registry[i].name;
                i += 1;
            }
            names
        };
        NAMES
    }};
}

fn assemble() -> Vec<FlagDef> {
    let mut flags = Vec::new();
    fn push(flags: &mut Vec<FlagDef>, defs: &[FlagDef], group: FlagGroup) {
        flags.extend(defs.iter().cloned().map(|f| f.in_group(group)));
    }
    push(&mut flags, core::GENERAL, FlagGroup::General);
    push(&mut flags, core::CLUSTER, FlagGroup::Cluster);
    // Speculative decoding's settings apply only with a method.
    push(&mut flags, core::SPECULATIVE_METHOD, FlagGroup::Cluster);
    flags.extend(core::SPECULATIVE.iter().cloned().map(|f| {
        f.in_group(FlagGroup::Cluster)
            .shown_when("replica_config_speculative_method", vec!["mtp", "eagle", "draft_model"])
    }));
    flags.extend(core::SPECULATIVE_DRAFT_MODEL.iter().cloned().map(|f| {
        f.in_group(FlagGroup::Cluster).shown_when("replica_config_speculative_method", vec!["draft_model"])
    }));
    // The custom device's figures apply only to --replica_config_device custom.
    let custom_device_flags = custom_device::FLAGS.iter().cloned();
    flags.extend(custom_device_flags.map(|f| {
        f.in_group(FlagGroup::Cluster).shown_when("replica_config_device", vec![custom_device::NAME])
    }));
    // Disaggregated prefill and decode: the decode pool's flags apply only with it.
    flags.push(selector(
        disagg::TYPE_FLAG,
        vec![disagg::AGGREGATED, disagg::PREFILL_DECODE],
        disagg::AGGREGATED,
        "none = aggregated serving; prefill_decode = the replicas prefill only and a decode pool (--disaggregation_config_decode_*) decodes after the KV transfer.",
        FlagGroup::Disaggregation,
    ));
    flags.extend(disagg::FLAGS.iter().cloned().map(|f| {
        f.in_group(FlagGroup::Disaggregation).shown_when(disagg::TYPE_FLAG, vec![disagg::PREFILL_DECODE])
    }));
    push(&mut flags, core::CACHE, FlagGroup::Cache);

    fn selector(
        name: &'static str,
        choices: Vec<&'static str>,
        default: &'static str,
        help: &'static str,
        group: FlagGroup,
    ) -> FlagDef {
        FlagDef::with(name, FlagKind::Choice(Cow::Owned(choices)), default, help).in_group(group)
    }
    fn policy_flags<'a>(
        out: &mut Vec<FlagDef>,
        selector: &'static str,
        group: FlagGroup,
        entries: impl Iterator<Item = (&'static str, &'a [FlagDef])>,
    ) {
        for (name, defs) in entries {
            for def in defs {
                // A flag shared by several policies is listed once, shown for all of them.
                if let Some(existing) = out.iter_mut().find(|f| f.name == def.name) {
                    if let Some((_, values)) = &mut existing.shown_when {
                        values.to_mut().push(name);
                    }
                    continue;
                }
                out.push(def.clone().in_group(group).shown_when(selector, vec![name]));
            }
        }
    }

    // Workload.
    let generators = names_and_flags!(workload::REQUEST_GENERATORS);
    flags.push(selector(
        "request_generator_config_type",
        generators.iter().map(|(name, _)| *name).collect(),
        "synthetic",
        "How requests are produced: synthetic (lengths × arrival intervals), trace (replay a trace file's arrivals and lengths) or closed_loop (N clients, each sending its next request when the previous finishes).",
        FlagGroup::Workload,
    ));
    policy_flags(
        &mut flags,
        "request_generator_config_type",
        FlagGroup::Workload,
        generators.iter().copied(),
    );
    let lengths = names_and_flags!(workload::LENGTH_GENERATORS);
    flags.push(
        selector(
            "length_generator_config_type",
            lengths.iter().map(|(name, _)| *name).collect(),
            "fixed",
            "Request lengths for synthetic and closed-loop workloads: trace (from a trace file), fixed, uniform or zipf.",
            FlagGroup::Workload,
        )
        .shown_when("request_generator_config_type", vec!["synthetic", "closed_loop"]),
    );
    policy_flags(&mut flags, "length_generator_config_type", FlagGroup::Workload, lengths.iter().copied());
    let intervals = names_and_flags!(workload::INTERVAL_GENERATORS);
    flags.push(
        selector(
            "interval_generator_config_type",
            intervals.iter().map(|(name, _)| *name).collect(),
            "poisson",
            "Gaps between synthetic arrivals: poisson, gamma, static (all at t=0), uniform (constant 1/qps) or trace.",
            FlagGroup::Workload,
        )
        .shown_when("request_generator_config_type", vec!["synthetic"]),
    );
    policy_flags(
        &mut flags,
        "interval_generator_config_type",
        FlagGroup::Workload,
        intervals.iter().copied(),
    );

    // Schedulers.
    // The serving engine first: it chooses the replica scheduler and its settings.
    let engines = names!(serving_engine::SERVING_ENGINES);
    flags.push(selector(
        "serving_engine",
        std::iter::once(serving_engine::NO_ENGINE).chain(engines.iter().copied()).collect(),
        serving_engine::NO_ENGINE,
        "Serving engine whose scheduler and defaults to model (explicit flags override them); none = Vidur's.",
        FlagGroup::ReplicaScheduler,
    ));
    flags.push(
        serving_engine::VERSION_FLAG
            .clone()
            .in_group(FlagGroup::ReplicaScheduler)
            .shown_when("serving_engine", engines.to_vec()),
    );
    let routers = names_and_flags!(scheduler::global::ROUTERS);
    flags.push(selector(
        "global_scheduler_config_type",
        routers.iter().map(|(name, _)| *name).collect(),
        "round_robin",
        "Global scheduler: how each arriving request is routed to a replica.",
        FlagGroup::GlobalScheduler,
    ));
    policy_flags(
        &mut flags,
        "global_scheduler_config_type",
        FlagGroup::GlobalScheduler,
        routers.iter().copied(),
    );
    let replica_schedulers = names_and_flags!(scheduler::replica::REPLICA_SCHEDULERS);
    flags.push(selector(
        "replica_scheduler_config_type",
        replica_schedulers.iter().map(|(name, _)| *name).collect(),
        "vllm_v1",
        "Replica scheduler: how each replica forms batches from its queue.",
        FlagGroup::ReplicaScheduler,
    ));
    policy_flags(
        &mut flags,
        "replica_scheduler_config_type",
        FlagGroup::ReplicaScheduler,
        replica_schedulers.iter().copied(),
    );
    flags.push(selector(
        "request_queue_config_type",
        scheduler::replica::REQUEST_QUEUES.to_vec(),
        "fcfs",
        "Order of a replica's waiting queue: fcfs (arrival order) or edf (earliest prefill deadline, needs an SLO).",
        FlagGroup::ReplicaScheduler,
    ));
    push(&mut flags, core::SLO, FlagGroup::ReplicaScheduler);

    // Execution time.
    let predictors = names_and_flags!(exec::PREDICTORS);
    flags.push(selector(
        "execution_time_predictor_config_type",
        predictors.iter().map(|(name, _)| *name).collect(),
        "roofline",
        "How batch times are predicted: roofline (calibrated, no profiling) or profile tables (Vidur CSVs; random_forest and linear_regression: the same).",
        FlagGroup::Predictor,
    ));
    push(&mut flags, core::EXECUTION, FlagGroup::Predictor);
    policy_flags(
        &mut flags,
        "execution_time_predictor_config_type",
        FlagGroup::Predictor,
        predictors.iter().copied(),
    );

    push(&mut flags, core::METRICS, FlagGroup::Metrics);
    flags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FlagRole, is_active};

    #[test]
    fn every_flag_is_unique_and_its_default_parses() {
        let flags = all_flags();
        for (i, f) in flags.iter().enumerate() {
            assert!(!flags[..i].iter().any(|g| g.name == f.name), "duplicate flag {}", f.name);
            let _ = f.default_value();
            // Every flag has help, which a build without `help-texts` (the worker) leaves out.
            assert_eq!(f.help.is_empty(), !cfg!(feature = "help-texts"), "--{}'s help", f.name);
            if let Some((selector, values)) = &f.shown_when {
                let sel = find_flag(selector).expect("selector exists");
                for v in values.iter() {
                    // A text selector (the device: a catalogue id or `custom`) has no choice list.
                    let known =
                        sel.choices().contains(v) || (matches!(sel.kind, FlagKind::Str) && !v.is_empty());
                    assert!(known, "--{} shown for unknown {selector}={v}", f.name);
                }
            }
        }
    }

    #[test]
    fn custom_device_figures_apply_only_to_the_custom_device() {
        let mut config = Config::new();
        config.set("replica_config_device", "h100").unwrap();
        assert!(!is_active(&config, "custom_device_config_fp16_tflops"));
        config.set("custom_device_config_memory_gb", "80").unwrap();
        assert_eq!(config.ignored_flag_warnings().len(), 1, "{:?}", config.ignored_flag_warnings());
        config.set("replica_config_device", "custom").unwrap();
        for f in custom_device::FLAGS {
            assert!(is_active(&config, f.name), "--{}", f.name);
        }
    }

    #[test]
    fn choice_defaults_are_choices_so_selectors_default_to_registered_policies() {
        for f in all_flags().iter().filter(|f| matches!(f.kind, FlagKind::Choice(_))) {
            assert!(f.choices().contains(&f.default), "--{} default {} is not a choice", f.name, f.default);
        }
    }

    #[test]
    fn roles_match_kinds() {
        for f in all_flags() {
            match f.role {
                FlagRole::Seed => assert_eq!(f.kind, FlagKind::Int, "seed --{}", f.name),
                FlagRole::Input(_) | FlagRole::OutputDir => {
                    assert_eq!(f.kind, FlagKind::Path, "--{}", f.name)
                }
                FlagRole::Setting => assert_ne!(f.kind, FlagKind::Path, "--{} is a path of no role", f.name),
            }
        }
        let outputs: Vec<&str> =
            all_flags().iter().filter(|f| f.role == FlagRole::OutputDir).map(|f| f.name).collect();
        assert_eq!(outputs, ["metrics_config_output_dir"]);
        let traces: Vec<&str> = all_flags().iter().filter(|f| f.is_trace_file()).map(|f| f.name).collect();
        assert_eq!(
            traces,
            [
                "trace_request_generator_config_trace_file",
                "trace_request_length_generator_config_trace_file",
                "trace_request_interval_generator_config_trace_file",
            ]
        );
    }

    #[test]
    fn each_router_names_its_one_seed_flag() {
        for router in scheduler::global::ROUTERS {
            let seeds: Vec<&str> =
                router.flags.iter().filter(|f| f.role == FlagRole::Seed).map(|f| f.name).collect();
            let named: Vec<&str> = router.seed_flag.into_iter().collect();
            assert_eq!(seeds, named, "{}: its entry names the seed flag among its flags", router.name);
        }
    }
}
