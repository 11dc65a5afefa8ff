//! The flag table: every option's Vidur name, kind, default, help and form group, assembled once
//! from the core flags and the flags each registered policy declares.

use std::borrow::Cow;
use std::sync::OnceLock;

use super::{ConfigError, FlagValue};

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
    /// A file path (the web page offers an upload instead).
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum FlagGroup {
    /// Seed, time limit and other run-wide settings.
    General,
    /// Model, device, node, parallelism, replicas, dtypes.
    Cluster,
    /// KV cache: block size, memory margin, prefix caching.
    Cache,
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
    /// One or two sentences for `-h` and the form.
    pub help: &'static str,
    /// The form section.
    pub group: FlagGroup,
    /// Shown (and read) only when the selector flag has one of these values.
    pub shown_when: Option<(&'static str, Cow<'static, [&'static str]>)>,
}

impl FlagDef {
    const fn with(name: &'static str, kind: FlagKind, default: &'static str, help: &'static str) -> FlagDef {
        FlagDef { name, kind, default, help, group: FlagGroup::General, shown_when: None }
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
    /// A file-path flag.
    pub const fn path(name: &'static str, default: &'static str, help: &'static str) -> FlagDef {
        FlagDef::with(name, FlagKind::Path, default, help)
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

    fn in_group(mut self, group: FlagGroup) -> FlagDef {
        self.group = group;
        self
    }

    fn shown_when(mut self, selector: &'static str, values: Vec<&'static str>) -> FlagDef {
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
fn list_items(t: &str) -> impl Iterator<Item = &str> {
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

/// Every flag the engine understands, in help order.
pub fn all_flags() -> &'static [FlagDef] {
    static FLAGS: OnceLock<Vec<FlagDef>> = OnceLock::new();
    FLAGS.get_or_init(assemble)
}

/// The flag called `name` (without `--`).
pub fn find_flag(name: &str) -> Option<&'static FlagDef> {
    all_flags().iter().find(|f| f.name == name)
}

/// The flag name closest to a misspelt `name`.
pub fn suggest_flag(name: &str) -> Option<&'static str> {
    closest(name, all_flags().iter().map(|f| f.name))
}

/// A Vidur flag llmsim does not implement. The parsers know it only to refuse it with a reason
/// ([`unsupported_flag`]) instead of calling it unknown.
#[derive(Clone, Copy, Debug)]
pub struct UnsupportedFlag {
    /// The flag name (without `--`).
    pub name: &'static str,
    /// A boolean (`--flag` / `--no-flag`) in Vidur.
    pub is_bool: bool,
}

/// Vidur's experimental disk KV cache (behaviour.md §5.4): no transfer cost is modelled, and a
/// debug loop in it can spin forever, so llmsim leaves it out rather than imitate it.
const DISK_CACHE: &str = "llmsim does not implement Vidur's experimental disk KV cache (the vllm_v1_disk scheduler, --cache_config_enable_disk_caching, --cache_config_disk_num_blocks)";
const DISK_CACHE_HINT: &str = "use --replica_scheduler_config_type vllm_v1, with --cache_config_enable_prefix_caching for the GPU prefix cache";

/// Every Vidur flag llmsim refuses as not supported.
pub const UNSUPPORTED_FLAGS: &[UnsupportedFlag] = &[
    UnsupportedFlag { name: "cache_config_enable_disk_caching", is_bool: true },
    UnsupportedFlag { name: "cache_config_disk_num_blocks", is_bool: false },
    UnsupportedFlag { name: "vllm_v1_disk_scheduler_config_chunk_size", is_bool: false },
    UnsupportedFlag { name: "vllm_v1_disk_scheduler_config_batch_size_cap", is_bool: false },
];

/// `(selector, value)` pairs of Vidur's that llmsim refuses as not supported.
const UNSUPPORTED_VALUES: &[(&str, &str)] = &[("replica_scheduler_config_type", "vllm_v1_disk")];

/// The error for setting the unsupported Vidur flag `name` to `text`, or `None` when `name` is
/// not such a flag. A boolean set to false (Vidur's default: the feature stays off) is accepted
/// as a no-op, so Vidur command lines that spell the default out still run; `Some(Ok(()))`.
pub fn unsupported_flag(name: &str, text: &str) -> Option<Result<(), ConfigError>> {
    let flag = UNSUPPORTED_FLAGS.iter().find(|f| f.name == name)?;
    if flag.is_bool && matches!(text.trim().to_ascii_lowercase().as_str(), "false" | "0" | "no" | "off") {
        return Some(Ok(()));
    }
    Some(Err(ConfigError::new(flag.name, format!("not supported: {DISK_CACHE}")).with_hint(DISK_CACHE_HINT)))
}

/// The error for choosing a value of `selector` that llmsim does not support.
fn unsupported_value(selector: &str, value: &str) -> Option<ConfigError> {
    UNSUPPORTED_VALUES.iter().any(|(s, v)| *s == selector && *v == value).then(|| {
        ConfigError::new(selector, format!("'{value}' is not supported: {DISK_CACHE}"))
            .with_hint(DISK_CACHE_HINT)
    })
}

const GENERAL: &[FlagDef] = &[
    FlagDef::int("seed", "42", "Seed of every random stream in the run (workload, routing, replicas)."),
    FlagDef::choice(
        "log_level",
        &["debug", "info", "warning", "error", "critical"],
        "info",
        "Accepted for Vidur compatibility; the simulator itself logs nothing.",
    ),
    FlagDef::float(
        "time_limit",
        "0",
        "Stop after this many simulated seconds (at most 10^9, the simulation horizon); 0 = run until every request is done. Requests still in flight are reported as unfinished.",
    ),
];

const CLUSTER: &[FlagDef] = &[
    FlagDef::int("cluster_config_num_replicas", "1", "Number of model replicas behind the global scheduler."),
    FlagDef::string(
        "replica_config_model_name",
        "meta-llama/Llama-2-7b-hf",
        "Model: a Hugging Face id from the catalogue (`llmsim --list-models`), or the name given to a custom config.json.",
    ),
    FlagDef::path(
        "replica_config_model_config_file",
        "none",
        "A Hugging Face config.json describing a custom dense or MoE decoder; overrides the catalogue entry.",
    ),
    FlagDef::int(
        "replica_config_num_pipeline_stages",
        "1",
        "Pipeline-parallel degree (PP): layers are split evenly over this many stages.",
    ),
    FlagDef::int(
        "replica_config_tensor_parallel_size",
        "1",
        "Tensor-parallel degree (TP): each layer's heads and MLP are split over this many GPUs.",
    ),
    FlagDef::string(
        "replica_config_device",
        "a100",
        "GPU SKU (lower case: a100, a100_40gb, h100, h200, b200, a40, l40s, mi300x), or custom (described by the --custom_device_config_* flags).",
    ),
    FlagDef::string(
        "replica_config_network_device",
        "a100_pairwise_nvlink",
        "Node / interconnect (e.g. h100_dgx, a100_pairwise_nvlink); sets all-reduce and send/recv speed.",
    ),
    FlagDef::choice(
        "replica_config_weight_dtype",
        &["bf16", "fp16", "fp8"],
        "bf16",
        "Weight dtype: sets bytes per parameter and the GEMM FLOP rate.",
    ),
    FlagDef::choice(
        "replica_config_kv_cache_dtype",
        &["bf16", "fp16", "fp8"],
        "bf16",
        "KV-cache dtype: sets bytes per cached token, hence KV capacity.",
    ),
];

/// Every predictor's settings.
const EXECUTION: &[FlagDef] = &[
    FlagDef::float(
        "execution_time_predictor_config_cpu_overhead_ms",
        "0",
        "CPU time per iteration (scheduling, input preparation, sampling, output processing), in ms, charged once per iteration on the last pipeline stage; 0 as in Vidur, whose predictors model none by default. A Vidur CPU-overhead table replaces it when the profile predictor reads one.",
    ),
    FlagDef::float(
        "execution_time_predictor_config_cpu_overhead_per_request_ms",
        "0",
        "Extra CPU time per iteration per request in the batch, in ms (with the flag above).",
    ),
];

const CACHE: &[FlagDef] = &[
    FlagDef::int("cache_config_block_size", "16", "Tokens per KV-cache block (a power of two)."),
    FlagDef::opt_int(
        "cache_config_num_blocks",
        "none",
        "KV blocks per replica; none = computed from device memory by the memory planner.",
    ),
    FlagDef::float(
        "cache_config_watermark_blocks_fraction",
        "0.01",
        "Fraction of blocks kept free when admitting requests (sarathi, vllm).",
    ),
    FlagDef::float(
        "cache_config_memory_margin_fraction",
        "0.1",
        "Fraction of device memory left unused (vLLM's 1 - gpu_memory_utilization); the rest holds weights, the reservations below and the KV cache.",
    ),
    FlagDef::choice(
        "cache_config_activation_memory",
        &["none", "profile"],
        "none",
        "Activation memory kept out of the KV cache: none (Vidur) or profile (vLLM's profile run: the peak of one forward pass over the scheduler's token budget, plus the sampler's fp32 logits for its batch-size cap).",
    ),
    FlagDef::float(
        "cache_config_runtime_memory_gb",
        "0",
        "GiB per GPU kept out of the KV cache for CUDA graphs, NCCL buffers and other non-torch allocations (vLLM: about 0.5-2 GiB); 0 as in Vidur.",
    ),
    FlagDef::bool(
        "cache_config_enable_prefix_caching",
        "false",
        "Reuse cached KV blocks of shared prompt prefixes (needs block_hash_ids in the trace to share them between requests; without, a preempted request re-hits its own blocks).",
    ),
    FlagDef::choice(
        "cache_config_prefix_caching_hash_algo",
        &["builtin", "sha256"],
        "builtin",
        "Accepted for Vidur compatibility; block identities come from the trace's hash ids.",
    ),
    FlagDef::int(
        "cache_config_num_preallocate_tokens",
        "64",
        "vllm_v1: extra tokens of blocks allocated ahead with each new allocation (64 as in Vidur and vLLM 0.7-0.8; later vLLM V1 allocates none: 0).",
    ),
];

const SLO: &[FlagDef] = &[
    FlagDef::opt_float(
        "slo_config_prefill_e2e_time_normalized",
        "none",
        "Prefill SLO in seconds per prompt token; the EDF queue's deadline is arrival + P × this.",
    ),
    FlagDef::opt_float(
        "slo_config_prefill_e2e_time_min",
        "none",
        "Lower bound of the prefill SLO in seconds.",
    ),
];

const METRICS: &[FlagDef] = &[
    FlagDef::bool(
        "metrics_config_write_metrics",
        "true",
        "Write the output files. Off: only config.json is written (as in Vidur); the summary is still printed.",
    ),
    FlagDef::bool(
        "metrics_config_write_json_trace",
        "false",
        "Accepted for Vidur compatibility (event traces are not written).",
    ),
    FlagDef::bool(
        "metrics_config_enable_chrome_trace",
        "true",
        "Write chrome_trace.json (open in Perfetto): one slice per batch and pipeline stage.",
    ),
    FlagDef::int(
        "metrics_config_chrome_trace_max_slices",
        "200000",
        "Keep at most this many batch-stage slices in chrome_trace.json (the first ones; 0 = no limit). Long runs have millions of batches, too many for memory and for trace viewers.",
    ),
    FlagDef::bool(
        "metrics_config_store_plots",
        "true",
        "Write the plots/ directory: CDFs, histograms, time series (CSV) and replica_metrics.json. Off: no plots/.",
    ),
    FlagDef::bool(
        "metrics_config_store_request_metrics",
        "true",
        "Write request_metrics.csv (one row per completed request). summary.json and the plots/ CDFs are computed either way.",
    ),
    FlagDef::bool(
        "metrics_config_store_batch_metrics",
        "true",
        "Compute the batch CDFs (batch size, tokens, prefill and decode tokens, execution time) written to plots/.",
    ),
    FlagDef::bool(
        "metrics_config_store_utilization_metrics",
        "true",
        "Write plots/replica_metrics.json (per replica: KV usage, busy and MFU per stage, prefix-cache hits). Off: not written; the means in summary.json are kept.",
    ),
    FlagDef::bool(
        "metrics_config_store_operation_metrics",
        "false",
        "Compute per-operation time CDFs (ms per stage) written to plots/ as <op>.csv.",
    ),
    FlagDef::bool(
        "metrics_config_store_token_completion_metrics",
        "false",
        "Accepted for Vidur compatibility (TBT is always measured).",
    ),
    FlagDef::bool(
        "metrics_config_keep_individual_batch_metrics",
        "false",
        "Write batch_metrics.csv with one row per batch.",
    ),
    FlagDef::bool(
        "metrics_config_save_table_to_wandb",
        "false",
        "Accepted for Vidur compatibility (no wandb).",
    ),
    FlagDef::string("metrics_config_wandb_project", "none", "Accepted for Vidur compatibility (no wandb)."),
    FlagDef::string("metrics_config_wandb_group", "none", "Accepted for Vidur compatibility (no wandb)."),
    FlagDef::string("metrics_config_wandb_run_name", "none", "Accepted for Vidur compatibility (no wandb)."),
    FlagDef::string("metrics_config_wandb_sweep_id", "none", "Accepted for Vidur compatibility (no wandb)."),
    FlagDef::string("metrics_config_wandb_run_id", "none", "Accepted for Vidur compatibility (no wandb)."),
    FlagDef::opt_int(
        "metrics_config_subsamples",
        "none",
        "Accepted for Vidur compatibility (unused, as in Vidur).",
    ),
    FlagDef::opt_int(
        "metrics_config_min_batch_index",
        "none",
        "Accepted for Vidur compatibility (unused, as in Vidur).",
    ),
    FlagDef::opt_int(
        "metrics_config_max_batch_index",
        "none",
        "Accepted for Vidur compatibility (unused, as in Vidur).",
    ),
    FlagDef::path(
        "metrics_config_output_dir",
        "simulator_output",
        "Output directory; a timestamped sub-directory is created in it unless --metrics_config_no_timestamp.",
    ),
    FlagDef::bool(
        "metrics_config_no_timestamp",
        "false",
        "Write the output files directly into the output directory (for scripts). Files a previous run left there under llmsim's own names, and its plots/ CSV/JSON files, are removed first.",
    ),
];

fn assemble() -> Vec<FlagDef> {
    use crate::{exec, scheduler, workload};
    let mut flags = Vec::new();
    fn push(flags: &mut Vec<FlagDef>, defs: &[FlagDef], group: FlagGroup) {
        flags.extend(defs.iter().cloned().map(|f| f.in_group(group)));
    }
    push(&mut flags, GENERAL, FlagGroup::General);
    push(&mut flags, CLUSTER, FlagGroup::Cluster);
    // The custom device's figures apply only to --replica_config_device custom.
    let custom_device = crate::catalog::CUSTOM_DEVICE_FLAGS.iter().cloned();
    flags.extend(custom_device.map(|f| {
        f.in_group(FlagGroup::Cluster)
            .shown_when("replica_config_device", vec![crate::catalog::CUSTOM_DEVICE])
    }));
    push(&mut flags, CACHE, FlagGroup::Cache);

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
    let generators = workload::REQUEST_GENERATORS;
    flags.push(selector(
        "request_generator_config_type",
        generators.iter().map(|e| e.name).collect(),
        "synthetic",
        "How requests are produced: synthetic (lengths × arrival intervals), trace (replay a trace file's arrivals and lengths) or closed_loop (N clients, each sending its next request when the previous finishes).",
        FlagGroup::Workload,
    ));
    policy_flags(
        &mut flags,
        "request_generator_config_type",
        FlagGroup::Workload,
        generators.iter().map(|e| (e.name, e.flags)),
    );
    let lengths = workload::LENGTH_GENERATORS;
    flags.push(
        selector(
            "length_generator_config_type",
            lengths.iter().map(|e| e.name).collect(),
            "fixed",
            "Request lengths for synthetic and closed-loop workloads: trace (from a trace file), fixed, uniform or zipf.",
            FlagGroup::Workload,
        )
        .shown_when("request_generator_config_type", vec!["synthetic", "closed_loop"]),
    );
    policy_flags(
        &mut flags,
        "length_generator_config_type",
        FlagGroup::Workload,
        lengths.iter().map(|e| (e.name, e.flags)),
    );
    let intervals = workload::INTERVAL_GENERATORS;
    flags.push(
        selector(
            "interval_generator_config_type",
            intervals.iter().map(|e| e.name).collect(),
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
        intervals.iter().map(|e| (e.name, e.flags)),
    );

    // Schedulers.
    let routers = scheduler::global::ROUTERS;
    flags.push(selector(
        "global_scheduler_config_type",
        routers.iter().map(|e| e.name).collect(),
        "round_robin",
        "Global scheduler: how each arriving request is routed to a replica.",
        FlagGroup::GlobalScheduler,
    ));
    policy_flags(
        &mut flags,
        "global_scheduler_config_type",
        FlagGroup::GlobalScheduler,
        routers.iter().map(|e| (e.name, e.flags)),
    );
    let replica_schedulers = scheduler::replica::REPLICA_SCHEDULERS;
    flags.push(selector(
        "replica_scheduler_config_type",
        replica_schedulers.iter().map(|e| e.name).collect(),
        "vllm_v1",
        "Replica scheduler: how each replica forms batches from its queue.",
        FlagGroup::ReplicaScheduler,
    ));
    policy_flags(
        &mut flags,
        "replica_scheduler_config_type",
        FlagGroup::ReplicaScheduler,
        replica_schedulers.iter().map(|e| (e.name, e.flags)),
    );
    flags.push(selector(
        "request_queue_config_type",
        scheduler::replica::REQUEST_QUEUES.to_vec(),
        "fcfs",
        "Order of a replica's waiting queue: fcfs (arrival order) or edf (earliest prefill deadline, needs an SLO).",
        FlagGroup::ReplicaScheduler,
    ));
    push(&mut flags, SLO, FlagGroup::ReplicaScheduler);

    // Execution time.
    let predictors = exec::PREDICTORS;
    flags.push(selector(
        "execution_time_predictor_config_type",
        predictors.iter().map(|e| e.name).collect(),
        "roofline",
        "How batch times are predicted: roofline (calibrated, no profiling needed) or profile tables (Vidur CSVs; random_forest and linear_regression are Vidur's names for the same files).",
        FlagGroup::Predictor,
    ));
    push(&mut flags, EXECUTION, FlagGroup::Predictor);
    policy_flags(
        &mut flags,
        "execution_time_predictor_config_type",
        FlagGroup::Predictor,
        predictors.iter().map(|e| (e.name, e.flags)),
    );

    push(&mut flags, METRICS, FlagGroup::Metrics);
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_is_unique_and_its_default_parses() {
        let flags = all_flags();
        for (i, f) in flags.iter().enumerate() {
            assert!(!flags[..i].iter().any(|g| g.name == f.name), "duplicate flag {}", f.name);
            let _ = f.default_value();
            assert!(!f.help.is_empty(), "--{} has no help", f.name);
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
        let mut config = super::super::Config::new();
        config.set("replica_config_device", "h100").unwrap();
        assert!(!super::super::is_active(&config, "custom_device_config_fp16_tflops"));
        config.set("custom_device_config_memory_gb", "80").unwrap();
        assert_eq!(config.ignored_flag_warnings().len(), 1, "{:?}", config.ignored_flag_warnings());
        config.set("replica_config_device", "custom").unwrap();
        for f in crate::catalog::CUSTOM_DEVICE_FLAGS {
            assert!(super::super::is_active(&config, f.name), "--{}", f.name);
        }
    }

    #[test]
    fn selector_defaults_are_registered_policies() {
        for f in all_flags().iter().filter(|f| f.name.ends_with("_type")) {
            assert!(f.choices().contains(&f.default), "--{} default {} is not a choice", f.name, f.default);
        }
    }
}
