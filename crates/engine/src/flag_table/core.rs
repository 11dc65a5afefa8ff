//! The flags of no policy: the run, the cluster and replica, the KV cache, the SLO and the
//! outputs, each list placed in its form group by the assembly.

use crate::config::{FlagDef, InputFile};

pub(super) const GENERAL: &[FlagDef] = &[
    FlagDef::seed("seed", "42", "Seed of every random stream in the run (workload, routing, replicas)."),
    FlagDef::choice(
        "log_level",
        &["debug", "info", "warning", "error", "critical"],
        "info",
        "Accepted for Vidur compatibility; the simulator itself logs nothing.",
    ),
    FlagDef::float(
        "time_limit",
        "0",
        "Stop after this many simulated seconds (at most 10^9); 0 = run until every request is done. Requests in flight are reported as unfinished.",
    ),
];

pub(super) const CLUSTER: &[FlagDef] = &[
    FlagDef::int("cluster_config_num_replicas", "1", "Number of model replicas behind the global scheduler."),
    FlagDef::string(
        "replica_config_model_name",
        "meta-llama/Llama-2-7b-hf",
        "Model: a Hugging Face id from the catalogue (`llmsim --list-models`), or the name given to a custom config.json.",
    ),
    FlagDef::input(
        "replica_config_model_config_file",
        InputFile::ModelConfig,
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
    FlagDef::int(
        "replica_config_expert_parallel_size",
        "1",
        "Expert-parallel degree of an MoE model: routed experts over this many of a stage's TP × DP GPUs (expert TP = TP × DP / EP), all-to-all per MoE layer.",
    ),
    FlagDef::int(
        "replica_config_attention_dp_size",
        "1",
        "Attention data-parallel degree of an MoE model: this many attention ranks of TP GPUs, each with its own requests and KV cache; the MoE layers are shared.",
    ),
    FlagDef::string(
        "replica_config_device",
        "a100",
        "GPU SKU (lower case: a100, a100_40gb, h100, h200, b200, b300, gb200, gb300, a40, l40s, mi300x), or custom (described by the --custom_device_config_* flags).",
    ),
    FlagDef::string(
        "replica_config_network_device",
        "a100_pairwise_nvlink",
        "Node / interconnect (e.g. h100_dgx, a100_pairwise_nvlink); sets all-reduce and send/recv speed.",
    ),
    FlagDef::choice(
        "replica_config_weight_dtype",
        &["bf16", "fp16", "fp8", "fp4", "int4"],
        "bf16",
        "Weight dtype (bytes per parameter, GEMM rate): fp4 = NVFP4, int4 = INT4 weight-only (an MoE model's routed experts only); docs/policies.md.",
    ),
    FlagDef::choice(
        "replica_config_kv_cache_dtype",
        &["bf16", "fp16", "fp8"],
        "bf16",
        "KV-cache dtype: sets bytes per cached token, hence KV capacity.",
    ),
    FlagDef::opt_float(
        "cost_config_usd_per_gpu_hour",
        "none",
        "Price of one GPU-hour in US dollars; none = the device's listed on-demand price (data/prices.json; a custom device has none).",
    ),
];

/// Every predictor's settings.
pub(super) const EXECUTION: &[FlagDef] = &[
    FlagDef::float(
        "execution_time_predictor_config_cpu_overhead_ms",
        "0",
        "CPU time per iteration (scheduling, input preparation, sampling, output processing), ms, on the last pipeline stage; 0 as in Vidur. A profile's CPU-overhead table replaces it.",
    ),
    FlagDef::float(
        "execution_time_predictor_config_cpu_overhead_per_request_ms",
        "0",
        "Extra CPU time per iteration per request in the batch, in ms (with the flag above).",
    ),
];

pub(super) const CACHE: &[FlagDef] = &[
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
        "Activation memory kept out of the KV cache: none (Vidur) or profile (vLLM's profile run over the token budget).",
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

pub(super) const SLO: &[FlagDef] = &[
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
    // The objectives every report evaluates (`slo.rs`): a bound and a quantile per metric.
    FlagDef::opt_float(
        "slo_config_ttft_max_s",
        "none",
        "SLO: time to first token at --slo_config_ttft_quantile must be at most this many seconds; none = no TTFT objective.",
    ),
    FlagDef::float("slo_config_ttft_quantile", "0.9", "Quantile of the TTFT objective (0.9 = p90)."),
    FlagDef::opt_float(
        "slo_config_tbt_max_s",
        "none",
        "SLO: time between tokens at --slo_config_tbt_quantile (over every token) must be at most this many seconds; a request meets it when all its gaps do.",
    ),
    FlagDef::float("slo_config_tbt_quantile", "0.9", "Quantile of the TBT objective (0.9 = p90)."),
    FlagDef::opt_float(
        "slo_config_tpot_max_s",
        "none",
        "SLO: time per output token after the first, (e2e − TTFT)/(output tokens − 1), at --slo_config_tpot_quantile must be at most this many seconds.",
    ),
    FlagDef::float("slo_config_tpot_quantile", "0.9", "Quantile of the TPOT objective (0.9 = p90)."),
    FlagDef::opt_float(
        "slo_config_e2e_max_s",
        "none",
        "SLO: end-to-end latency at --slo_config_e2e_quantile must be at most this many seconds.",
    ),
    FlagDef::float("slo_config_e2e_quantile", "0.9", "Quantile of the end-to-end objective (0.9 = p90)."),
    FlagDef::opt_float(
        "slo_config_scheduling_delay_max_s",
        "none",
        "SLO: arrival to first schedule at --slo_config_scheduling_delay_quantile must be at most this many seconds.",
    ),
    FlagDef::float(
        "slo_config_scheduling_delay_quantile",
        "0.9",
        "Quantile of the scheduling-delay objective (0.9 = p90).",
    ),
    FlagDef::opt_float(
        "slo_config_e2e_normalized_max_s",
        "none",
        "SLO: end-to-end latency per output token at --slo_config_e2e_normalized_quantile must be at most this many seconds.",
    ),
    FlagDef::float(
        "slo_config_e2e_normalized_quantile",
        "0.9",
        "Quantile of the per-output-token end-to-end objective (0.9 = p90).",
    ),
    FlagDef::choice(
        "slo_config_combine",
        &["and", "or"],
        "and",
        "With several objectives, a request meets them when it meets all (and) or any (or); they hold when that share of requests reaches their (largest) quantile.",
    ),
];

pub(super) const METRICS: &[FlagDef] = &[
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
        "Keep at most this many batch-stage slices in chrome_trace.json (the first ones; 0 = no limit).",
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
    FlagDef::output_dir(
        "metrics_config_output_dir",
        "simulator_output",
        "Output directory; a timestamped sub-directory is created in it unless --metrics_config_no_timestamp.",
    ),
    FlagDef::bool(
        "metrics_config_no_timestamp",
        "false",
        "Write the output files directly into the output directory (for scripts), removing llmsim's files a previous run left there.",
    ),
];

/// Speculative decoding: the method (in the cluster group, always shown) ...
pub(super) const SPECULATIVE_METHOD: &[FlagDef] = &[FlagDef::choice(
    "replica_config_speculative_method",
    &["none", "mtp", "eagle", "draft_model"],
    "none",
    "Speculative decoding (vllm_v1 and trtllm schedulers): mtp (one extra layer of the model's shape), eagle (one dense draft layer) or draft_model; each decode step drafts k tokens and verifies k + 1.",
)];

/// ... its settings, which apply with a method ...
pub(super) const SPECULATIVE: &[FlagDef] = &[
    FlagDef::int("replica_config_num_speculative_tokens", "1", "Draft tokens per decode step (k, 1-16)."),
    FlagDef::float(
        "replica_config_speculative_acceptance_rate",
        "0.7",
        "Acceptance rate of each draft position given the ones before it were accepted, 0-1: a step emits 1 + r + ... + r^k tokens on average.",
    ),
    FlagDef::string(
        "replica_config_speculative_acceptance_rates",
        "none",
        "Per-position acceptance rates instead, k comma-separated numbers in 0-1 (e.g. 0.8,0.6,0.4).",
    ),
];

/// ... and the draft model of `draft_model`.
pub(super) const SPECULATIVE_DRAFT_MODEL: &[FlagDef] = &[FlagDef::string(
    "replica_config_speculative_draft_model_name",
    "none",
    "The draft model: a catalogue model with the target's vocabulary, run at the target's TP.",
)];
