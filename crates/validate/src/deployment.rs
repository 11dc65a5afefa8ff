//! The serving engine a point was measured on, as llmsim's serving-engine model: the engine
//! (`backend`), its version (`backend_version`, or for the image-less InferenceX runs of
//! autumn 2025 the image InferenceX used then), and what InferenceX's launch recipes set for
//! every model of an engine. Nothing here looks at a point's model, id or figures.

use llmsim_engine::serving_engine::Version;

use crate::points::ServingPoint;

/// Until this day InferenceX recorded no image in its results (InferenceX-app, "`image` …
/// null for runs before 2025-12-08").
pub const IMAGES_RECORDED_SINCE: &str = "2025-12-08";

/// The engine images InferenceX's workflows ran before images were recorded
/// (`.github/workflows/*-tmpl.yml` at InferenceX `ac1998a5`, 2025-10-19, and
/// `2582bce40`, 2025-10-29): `vllm/vllm-openai:v0.10.2`,
/// `tensorrt-llm/release:1.1.0rc2.post2`, `lmsysorg/sglang:v0.5.2rc2` / `v0.5.3rc1`.
const EARLY_IMAGES: &[(&str, &str)] =
    &[("vllm", "0.10.2"), ("trtllm", "1.1.0rc2.post2"), ("sglang", "0.5.3")];

/// The `--serving_engine_version` of `point`: its `backend_version`; a blank one, the image
/// InferenceX ran before it recorded images; a custom image tag that names no version
/// (`glm5-hopper`, `gpt-oss-dev`), the newest modelled.
pub fn engine_version(point: &ServingPoint) -> String {
    if !point.backend_version.is_empty() {
        return match Version::parse(&point.backend_version) {
            Ok(_) => point.backend_version.clone(),
            Err(_) => "latest".to_string(),
        };
    }
    // A row copying a dated run ran that run's image.
    let date = point.run_date();
    let early = !date.is_empty() && date < IMAGES_RECORDED_SINCE;
    match EARLY_IMAGES.iter().find(|(engine, _)| *engine == point.backend) {
        Some((_, version)) if early => (*version).to_string(),
        _ => "latest".to_string(),
    }
}

/// Flags InferenceX's launch recipes set for every model of the point's engine, where they
/// differ from the engine's defaults and change what llmsim models (the KV-cache dtype is set
/// apart, in [`crate::mapping`]):
/// - vLLM: async scheduling on (`async-scheduling: true` in every vLLM recipe,
///   `benchmarks/*.sh` at `ac1998a5`; on by default only from vLLM 0.14). Not on the rows
///   without a measurement date (that copy no dated row, [`ServingPoint::run_date`]): they are
///   not InferenceX's runs ("Benchmark clients"), so they keep the engine's own default, which
///   is also what AIConfigurator's vLLM launch templates give (`generator/config/
///   backend_templates/vllm/cli_args.<version>.j2` at `095f58a51` pass no `--async-scheduling`;
///   VALIDATION.md, "What desynchronises the undated rows' clients"). On the sweeps whose
///   scripts raise `--max-cudagraph-capture-size` to 2048 ([`VLLM_CAPTURE_SWEEPS`], aggregated
///   points only): graphs up to min(2048, budget) tokens and the scripts' token budget;
/// - TensorRT-LLM: a token budget with room for a whole prompt beside one decode token of
///   every client. Every TensorRT-LLM recipe raises `max_num_tokens` past the 8192 default
///   for this; the DeepSeek-R1 ones by the formula used here, max(8192, ⌈(C + ISL + 64) /
///   64⌉ · 64) (`benchmarks/dsr1_fp8_*_trt_slurm.sh`), others to a fixed 16384 or 20000.
///   With attention DP, every single-node recipe turns attention-DP balancing on
///   (`attention_dp_config: enable_balance: true`: the DeepSeek-R1 ones with
///   `timeout_iters: 60, batching_wait_iters: 0`, a model recipe below, gpt-oss and MiniMax
///   with the engine's defaults, 50 and 10, kept here); aggregated points only, as the disaggregated recipes'
///   servers are configured apart.
///   On the image InferenceX ran only with its MTP recipes ([`TRTLLM_MTP_IMAGES`]), or a
///   sweep of a shared image that ran only them ([`TRTLLM_MTP_SWEEPS`]): MTP speculative
///   decoding with the recipes' draft length, the drafts counted in the budget; on such a sweep
///   the scripts' own `--max_batch_size` and `--max_num_tokens`, unfloored
///   ([`trtllm_mtp_recipe_batch`]).
///   Aggregated rows without a date on an image AIConfigurator's pre-rule generator served
///   ([`TRTLLM_AIC_OVERLAP_OFF_IMAGES`]) run that generator's config: the overlap scheduler off.
/// - SGLang on Blackwell (`blackwell`: the GPU has an FP4 rate): the scheduler reads new
///   requests every 10 decode iterations, every 30 from 16 clients
///   (`--scheduler-recv-interval`, InferenceX's B200 SGLang recipes for DeepSeek-R1 fp8 and
///   fp4, `benchmarks/dsr1_fp{4,8}_b200*.sh`, and Qwen3.5, `qwen3.5_fp8_b200.sh`; its
///   H200 recipes leave the default 1); 1 under attention DP, which SGLang's skipper refuses
///   and the recipes reset; a deployment whose script fixes it takes the script's
///   ([`SGLANG_BUDGET_SWEEPS`]: `dsr1_fp8_b200.sh` at TP 4, 10). Aggregated points only.
/// - SGLang: the radix cache off (`--disable-radix-cache` in 36 of InferenceX's 38 single-node
///   SGLang scripts, `benchmarks/single_node/fixed_seq_len/*.sh` at `843c6254f`; the benchmark's
///   random prompts share no prefix). It matters most where the model has linear-attention
///   layers: without it SGLang budgets a running request one recurrent-state slot instead of
///   three, so its state pool runs three times the requests; elsewhere only where the KV cache
///   runs short (a retracted request no longer finds its own blocks cached). Aggregated points
///   only (109 of 177 disaggregated recipes set it).
/// - SGLang, both flags above on dated rows only: a row without a date that copies no dated
///   run is AIConfigurator's own, launched by its templates, which pass neither flag
///   (`generator/config/backend_templates/sglang/cli_args.<version>.j2` to `0.5.10.post1` at
///   `095f58a51`), so it keeps the engine's defaults (radix cache on, interval 1).
/// - SGLang's prefill budgets where every script of an image, system and day set them, or,
///   per deployment (precision, TP, EP), where one script did
///   ([`SGLANG_BUDGET_SWEEPS`]).
/// - SGLang's `--mem-fraction-static` where the sweep's scripts set it
///   ([`SGLANG_MEM_FRACTION_SWEEPS`]), as the memory margin 1 − fraction.
/// - SGLang on an image and date that ran only InferenceX's MTP recipe, or on a day both
///   recipes ran at a point only the MTP one swept ([`SGLANG_MTP_SWEEPS`]): EAGLE speculation
///   with the model's MTP layer as the draft, the script's steps, top-k and draft tokens, and
///   its `--max-running-requests` (the clients, or the script's own). Aggregated points only.
pub fn recipe_flags(
    point: &ServingPoint,
    concurrency: u32,
    dp_ranks: u32,
    blackwell: bool,
) -> Vec<(&'static str, String)> {
    match point.backend.as_str() {
        "vllm" => {
            // Undated rows are not InferenceX's runs: the engine's default scheduling.
            let mut flags = if point.run_date().is_empty() {
                Vec::new()
            } else {
                vec![("vllm_v1_scheduler_config_async_scheduling", "true".to_string())]
            };
            let aggregated = matches!(point.mode, crate::points::Mode::Aggregated(_));
            if aggregated && let Some(sweep) = vllm_capture_sweep(point) {
                let budget = match sweep.budget {
                    VllmBudget::Tokens(tokens) => tokens,
                    VllmBudget::TwicePrompt => point.isl.saturating_mul(2),
                };
                // vLLM caps the capture size at the token budget (`VllmConfig._set_cudagraph_sizes`).
                let graph = VLLM_RECIPE_CAPTURE_SIZE.min(budget);
                flags.push(("vllm_v1_scheduler_config_chunk_size", budget.to_string()));
                flags.push((
                    "roofline_execution_time_predictor_config_cuda_graph_max_tokens",
                    graph.to_string(),
                ));
            }
            if aggregated && vllm_mxfp4_marlin(point) {
                flags.push(("roofline_execution_time_predictor_config_mxfp4_moe_marlin", "true".to_string()));
            }
            if aggregated && vllm_mxfp4_mxfp8(point) {
                flags.push(("roofline_execution_time_predictor_config_mxfp4_moe_mxfp8", "true".to_string()));
            }
            flags
        }
        "trtllm" => {
            let aggregated = matches!(point.mode, crate::points::Mode::Aggregated(_));
            // The instance's attention DP (a script's, where the row records none: `mapping.rs`).
            let attention_dp = dp_ranks > 1;
            let mtp = trtllm_mtp_draft_tokens(point).filter(|_| aggregated);
            let mut flags = match mtp {
                None => {
                    let tokens = trtllm_mtp_budget(0, concurrency, point.isl);
                    vec![("trtllm_scheduler_config_max_num_tokens", tokens.max(8192).to_string())]
                }
                Some(drafts) => {
                    let k = trtllm_mtp_k(point, drafts);
                    let mut flags = match trtllm_mtp_recipe_batch(point, concurrency, dp_ranks) {
                        // The sweep's recipe as written: `MAX_BATCH_SIZE` clients per rank and
                        // its unfloored budget ([`trtllm_mtp_budget`]).
                        Some(batch) => vec![
                            (
                                "trtllm_scheduler_config_max_num_tokens",
                                trtllm_mtp_budget(k, batch, point.isl).to_string(),
                            ),
                            ("trtllm_scheduler_config_batch_size_cap", batch.to_string()),
                        ],
                        // The budget rule above with the k drafts of every client counted (the
                        // image's MTP recipes' own budget, without the 8192 floor, and their
                        // piecewise CUDA graphs are taken only under `--model-recipes`,
                        // [`trtllm_sweep_flags`]; VALIDATION.md, "TensorRT-LLM's MTP recipes").
                        None => {
                            let tokens = trtllm_mtp_budget(k, concurrency, point.isl);
                            vec![("trtllm_scheduler_config_max_num_tokens", tokens.max(8192).to_string())]
                        }
                    };
                    flags.push(("replica_config_speculative_method", "mtp".to_string()));
                    flags.push(("replica_config_num_speculative_tokens", k.to_string()));
                    flags
                }
            };
            if aggregated && attention_dp {
                flags.push(("trtllm_scheduler_config_attention_dp_enable_balance", "true".to_string()));
            }
            // Undated rows are AIConfigurator's own runs: its generator's aggregated worker of
            // the image's era runs without the overlap scheduler.
            if aggregated
                && point.run_date().is_empty()
                && TRTLLM_AIC_OVERLAP_OFF_IMAGES.contains(&point.backend_version.as_str())
            {
                flags.push(("trtllm_scheduler_config_overlap_scheduler", "false".to_string()));
            }
            flags
        }
        "sglang" => {
            let aggregated = matches!(point.mode, crate::points::Mode::Aggregated(_));
            // Undated rows are not InferenceX's runs: the engine's defaults, as AIConfigurator's
            // SGLang launch templates give them (no radix-cache or receive-interval flag).
            let inferencex = aggregated && !point.run_date().is_empty();
            let mut flags = Vec::new();
            if inferencex {
                flags.push(("cache_config_enable_prefix_caching", "false".to_string()));
            }
            if inferencex && blackwell && point.attention_dp_size.unwrap_or(1) <= 1 {
                let blackwell_rule = if concurrency >= SGLANG_RECV_INTERVAL_HIGH_FROM { 30 } else { 10 };
                let interval =
                    sglang_budget_sweep(point).and_then(|s| s.recv_interval).unwrap_or(blackwell_rule);
                flags.push(("sglang_scheduler_config_scheduler_recv_interval", interval.to_string()));
            }
            if aggregated && let Some(sweep) = sglang_budget_sweep(point) {
                flags.extend(prefill_budgets(sweep.tokens));
            }
            if aggregated && sglang_flashinfer_fp8_gemm(point) {
                flags.push((
                    "roofline_execution_time_predictor_config_flashinfer_trtllm_fp8_gemm",
                    "true".to_string(),
                ));
            }
            if aggregated && let Some(fraction) = sglang_mem_fraction(point) {
                flags.push(("cache_config_memory_margin_fraction", format!("{:.4}", 1.0 - fraction)));
            }
            if aggregated && let Some(sweep) = sglang_mtp_sweep(point) {
                flags.push(("replica_config_speculative_method", "mtp".to_string()));
                flags.push(("replica_config_num_speculative_tokens", sweep.steps.to_string()));
                flags.push(("sglang_scheduler_config_speculative_eagle_topk", sweep.topk.to_string()));
                flags.push((
                    "sglang_scheduler_config_speculative_num_draft_tokens",
                    sweep.draft_tokens.to_string(),
                ));
                // `--max-running-requests` ($CONC, or the script's own): without it SGLang would
                // cap speculation at 48.
                let cap = sweep.max_running.unwrap_or(concurrency.max(1));
                flags.push(("sglang_scheduler_config_batch_size_cap", cap.to_string()));
            }
            flags
        }
        _ => Vec::new(),
    }
}

/// TensorRT-LLM images AIConfigurator's generator wrote launch configs for before its rule
/// plugins (`generator/templates/trtllm/extra_engine_args.<version>.yaml.j2` at `a7c507ed7`,
/// 2025-09): the aggregated worker's config (`generator/backends/trtllm.py`,
/// `TrtllmBackend.generate`) sets no `disable_overlap_scheduler`, so every template's default
/// `disable_overlap_scheduler: true` applies (the overlap scheduler off); only the disaggregated
/// decode worker turned it on. The rule plugins that replaced it (`rule_plugin/trtllm.rule`,
/// from `95ddf241a`, 2025-12-04) turn it on for aggregated workers too, so later images keep the
/// engine's default. Undated rows ([`ServingPoint::run_date`]) are AIConfigurator's own runs.
const TRTLLM_AIC_OVERLAP_OFF_IMAGES: &[&str] =
    &["0.20.0", "1.0.0rc3", "1.0.0rc4", "1.0.0rc6", "1.1.0rc1", "1.1.0rc4", "1.1.0rc5"];

/// The MoE module a TensorRT-LLM recipe names (`moe_config.backend`), by the host time its
/// Python part adds to an eager step: `TRTLLM` (`TRTLLMGenFusedMoE`, one C++ runner op) or
/// `CUTLASS` / `DEEPGEMM` (`DeepGemmFusedMoE` subclasses `CutlassFusedMoE`,
/// `tensorrt_llm/_torch/modules/fused_moe/fused_moe_deepgemm.py`: the same Python set-up).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TrtllmMoeModule {
    TrtllmGen,
    Cutlass,
}

/// What one of InferenceX's dated TensorRT-LLM sweeps set at a point beyond [`recipe_flags`]'
/// engine-wide part ([`TRTLLM_SWEEPS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TrtllmSweepRecipe {
    moe: TrtllmMoeModule,
    /// `torch_compile_config: {enable_piecewise_cuda_graph: true, capture_num_tokens: [1 …
    /// max_num_tokens]}`: context and mixed steps up to the budget replay piecewise graphs.
    piecewise: bool,
    /// `batch_wait_timeout_iters: 40, batch_wait_max_tokens_ratio: 0.8`.
    delay_batching: bool,
}

/// InferenceX's dated TensorRT-LLM sweeps whose scripts set the MoE module, piecewise CUDA graphs
/// or batch waiting by sequence lengths and clients: (image, measurement date, system, precision,
/// the script's rule of (isl, osl, clients, attention DP, EP)), all on `b200_sxm` (the scripts' GPU).
/// A sequence-length pair a script does not list gets no piecewise graphs. Each sweep ran the day its script's
/// update merged (InferenceX history of `benchmarks/dsr1_fp{8,4}_b200_trt{,_mtp}.sh`):
/// - `1.2.0rc6.post2` fp8, 2026-01-29 (`ec7bafaae`, #594): `MOE_BACKEND=TRTLLM`, `DEEPGEMM` for
///   1k/8k from 256 clients; piecewise graphs for 1k/1k from 64 clients, 1k/8k from 128 (below
///   256), 8k/1k from 64; batch waiting for 1k/1k from 64 clients.
/// - `1.2.0rc6.post2` fp4, 2026-02-03 (`6eecc0e66`, #620): `TRTLLM`, `CUTLASS` under attention
///   DP; piecewise graphs for 1k/1k at TP 8 / EP 8.
/// - `1.2.0rc6.post3` fp8 (MTP), 2026-02-05 (`5d517074c`, #632): `TRTLLM` with piecewise graphs
///   except 1k/1k up to 4 clients, 1k/8k up to 8, 8k/1k up to 16; under attention DP
///   `DEEPGEMM` without them.
/// - `1.2.0rc6.post3` fp4 (MTP), 2026-02-06 (`0aae52d4c`, #642): `TRTLLM`, `CUTLASS` under
///   attention DP; piecewise graphs for 1k/1k at 32 or 64 clients (128 without attention DP),
///   1k/8k at 64.
#[allow(clippy::type_complexity)]
const TRTLLM_SWEEPS: &[(&str, &str, &str, &str, fn(u32, u32, u32, bool, u32) -> TrtllmSweepRecipe)] = &[
    ("1.2.0rc6.post2", "2026-01-29", "b200_sxm", "fp8", |isl, osl, c, _, _| {
        let deepgemm = (isl, osl) == (1024, 8192) && c >= 256;
        TrtllmSweepRecipe {
            moe: if deepgemm { TrtllmMoeModule::Cutlass } else { TrtllmMoeModule::TrtllmGen },
            piecewise: match (isl, osl) {
                (1024, 1024) | (8192, 1024) => c >= 64,
                (1024, 8192) => (128..256).contains(&c),
                _ => false,
            },
            delay_batching: (isl, osl) == (1024, 1024) && c >= 64,
        }
    }),
    ("1.2.0rc6.post2", "2026-02-03", "b200_sxm", "fp4", |isl, osl, _, dp, ep| TrtllmSweepRecipe {
        moe: if dp { TrtllmMoeModule::Cutlass } else { TrtllmMoeModule::TrtllmGen },
        piecewise: (isl, osl) == (1024, 1024) && !dp && ep == 8,
        delay_batching: false,
    }),
    ("1.2.0rc6.post3", "2026-02-05", "b200_sxm", "fp8", |isl, osl, c, dp, _| TrtllmSweepRecipe {
        moe: if dp { TrtllmMoeModule::Cutlass } else { TrtllmMoeModule::TrtllmGen },
        piecewise: !dp
            && match (isl, osl) {
                (1024, 1024) => c > 4,
                (1024, 8192) => c > 8,
                (8192, 1024) => c > 16,
                _ => false,
            },
        delay_batching: false,
    }),
    ("1.2.0rc6.post3", "2026-02-06", "b200_sxm", "fp4", |isl, osl, c, dp, _| TrtllmSweepRecipe {
        moe: if dp { TrtllmMoeModule::Cutlass } else { TrtllmMoeModule::TrtllmGen },
        piecewise: match (isl, osl) {
            (1024, 1024) => c == 32 || c == 64 || (c == 128 && !dp),
            (1024, 8192) => c == 64,
            _ => false,
        },
        delay_batching: false,
    }),
];

/// The recipe of a TensorRT-LLM point of one of [`TRTLLM_SWEEPS`] (its image, date, system and
/// precision; an undated copy of such a row takes its date) under attention DP or not and with
/// the instance's expert-parallel size `ep`, `None` for any other point.
fn trtllm_sweep_recipe(
    point: &ServingPoint,
    concurrency: u32,
    attention_dp: bool,
    ep: u32,
) -> Option<TrtllmSweepRecipe> {
    if point.backend != "trtllm" {
        return None;
    }
    let date = point.run_date();
    TRTLLM_SWEEPS
        .iter()
        .find(|(image, day, system, precision, _)| {
            *image == point.backend_version
                && *day == date
                && *system == point.system
                && *precision == point.precision
        })
        .map(|(_, _, _, _, rule)| rule(point.isl, point.osl, concurrency, attention_dp, ep))
}

/// With `--model-recipes`: the flags of a TensorRT-LLM point of one of [`TRTLLM_SWEEPS`] (the
/// DeepSeek-R1 B200 scripts' own settings) on an instance of `dp_ranks` attention-DP ranks and
/// expert-parallel size `ep` (`crate::mapping`'s aggregated shape), after `flags` (the point's
/// other flags): the MoE module's eager host time per layer (`llmsim_engine::serving_engine`'s
/// constants of the two modules); on the MTP sweeps the scripts' `--max_batch_size`
/// ([`trtllm_mtp_batch`]) and their unfloored budget ([`trtllm_mtp_budget`]); piecewise graphs
/// as graph-replayed steps of up to the budget's tokens (the capture list runs to
/// `max_num_tokens`) whose attention runs from Python between the pieces (TensorRT-LLM's
/// piecewise optimiser leaves its attention custom ops out of the graphs,
/// `tensorrt_llm/_torch/compilation/piecewise_optimizer.py`), so the latent-attention module's
/// host time per layer stays: the engine charges that per MoE layer, so it is scaled by all
/// layers over the MoE layers (61 / 58 on DeepSeek-R1); batch waiting as the script sets it.
/// Empty for any other point.
pub fn trtllm_sweep_flags(
    point: &ServingPoint,
    concurrency: u32,
    dp_ranks: u32,
    ep: u32,
    flags: &[(&'static str, String)],
) -> Vec<(&'static str, String)> {
    use llmsim_engine::serving_engine::{
        TRTLLM_EAGER_LATENT_ATTENTION_LAYER_US, TRTLLM_EAGER_MOE_LAYER_US, TRTLLM_GEN_EAGER_MOE_LAYER_US,
        TRTLLM_MAX_NUM_TOKENS,
    };
    const BUDGET: &str = "trtllm_scheduler_config_max_num_tokens";
    let aggregated = matches!(point.mode, crate::points::Mode::Aggregated(_));
    let attention_dp = dp_ranks > 1;
    let Some(recipe) = trtllm_sweep_recipe(point, concurrency, attention_dp, ep).filter(|_| aggregated)
    else {
        return Vec::new();
    };
    let moe_us = match recipe.moe {
        TrtllmMoeModule::TrtllmGen => TRTLLM_GEN_EAGER_MOE_LAYER_US,
        TrtllmMoeModule::Cutlass => TRTLLM_EAGER_MOE_LAYER_US,
    };
    let mut out = vec![("roofline_execution_time_predictor_config_eager_moe_layer_us", moe_us.to_string())];
    let mut budget = flags.iter().rev().find(|(flag, _)| *flag == BUDGET).map(|(_, v)| v.clone());
    if let Some(drafts) = trtllm_mtp_draft_tokens(point) {
        let batch = trtllm_mtp_batch(concurrency, dp_ranks);
        let tokens = trtllm_mtp_budget(trtllm_mtp_k(point, drafts), batch, point.isl);
        out.push((BUDGET, tokens.to_string()));
        out.push(("trtllm_scheduler_config_batch_size_cap", batch.to_string()));
        budget = Some(tokens.to_string());
    }
    if recipe.piecewise {
        out.push(("roofline_execution_time_predictor_config_cuda_graph_prefill", "true".to_string()));
        out.push((
            "roofline_execution_time_predictor_config_cuda_graph_max_tokens",
            budget.unwrap_or_else(|| TRTLLM_MAX_NUM_TOKENS.to_string()),
        ));
        out.push((
            "roofline_execution_time_predictor_config_piecewise_moe_layer_us",
            (TRTLLM_EAGER_LATENT_ATTENTION_LAYER_US * layers_per_moe_layer(&point.model_path)).to_string(),
        ));
    }
    if recipe.delay_batching {
        out.push(("trtllm_scheduler_config_batch_wait_timeout_iters", "40".to_string()));
        out.push(("trtllm_scheduler_config_batch_wait_max_tokens_ratio", "0.8".to_string()));
    }
    out
}

/// All layers over the MoE layers of `model` (the catalogue's; 1 for a model it lacks or one
/// without MoE layers): what turns a per-layer host time into the engine's per-MoE-layer one.
fn layers_per_moe_layer(model: &str) -> f64 {
    llmsim_engine::catalog::find_model(model)
        .and_then(|m| {
            let dense = m.moe.as_ref()?.first_k_dense_layers;
            let moe_layers = m.num_layers.checked_sub(dense).filter(|&n| n > 0)?;
            Some(f64::from(m.num_layers) / f64::from(moe_layers))
        })
        .unwrap_or(1.0)
}

/// InferenceX's TensorRT-LLM MTP scripts' `MAX_BATCH_SIZE=$((CONC/TP))` under attention DP (the
/// clients per rank; all of them on one rank), at least 1.
fn trtllm_mtp_batch(concurrency: u32, ranks: u32) -> u32 {
    (concurrency / ranks.max(1)).max(1)
}

/// The TensorRT-LLM DeepSeek-R1 scripts' token budget for `batch` requests of a prompt of `isl`
/// tokens each drafting `k` tokens, `MAX_NUM_TOKENS=(((k+1)·batch+ISL+64+63)/64)·64` (`k` = 0:
/// the plain recipes' `(CONC+ISL+64+63)/64·64`), before any floor.
fn trtllm_mtp_budget(k: u32, batch: u32, isl: u32) -> u64 {
    (u64::from(k + 1) * u64::from(batch) + u64::from(isl) + 64).div_ceil(64) * 64
}

/// The draft length an MTP recipe of `drafts` (without, with attention DP) sets at `point`: the
/// attention-DP one where its `attention_dp_size` column exceeds 1 (`DP_ATTENTION=true`).
fn trtllm_mtp_k(point: &ServingPoint, (k, k_dp): (u32, u32)) -> u32 {
    if point.attention_dp_size.unwrap_or(1) > 1 { k_dp } else { k }
}

/// TensorRT-LLM images InferenceX ran only with its MTP recipes, and the draft length those
/// recipes set (`speculative_config: {decoding_type: MTP, num_nextn_predict_layers: k}`),
/// without and with attention DP. `1.2.0rc6.post3`: in `.github/configs/nvidia-master.yaml`
/// (InferenceX `e62c6acdf`..`8fe499ff4`, 2026-02-05..09) only `dsr1-fp{4,8}-b200-trt-mtp` run it,
/// the plain recipes `1.2.0rc6.post2`; `benchmarks/dsr1_fp{4,8}_b200_trt_mtp.sh` set `MTP=3`,
/// `MTP=1` with `DP_ATTENTION=true`. The image, a column of the point, says which recipe ran;
/// an image shared by both recipes (`1.1.0rc2.post2`) says nothing alone (its MTP-only sweep
/// is dated: [`TRTLLM_MTP_SWEEPS`]).
const TRTLLM_MTP_IMAGES: &[(&str, u32, u32)] = &[("1.2.0rc6.post3", 3, 1)];

/// TensorRT-LLM sweeps of an image both recipes shared that ran only InferenceX's MTP recipes:
/// (image, measurement date, k, k under attention DP). `1.1.0rc2.post2` on 2026-01-14: the
/// merge that added `dsr1-fp8-h200-trt-mtp`, `dsr1-fp8-b200-trt-mtp` and `dsr1-fp4-b200-trt-mtp`
/// on that image (InferenceX `bf3456727`, #392, 2026-01-14 22:26 UTC) swept those configs; the
/// plain recipes' runs on the image are dated 2025-12-15 and 2026-01-28.
/// `benchmarks/dsr1_fp8_h200_trt_mtp_slurm.sh` and the B200 ones set `MTP=3`, `MTP=1` with
/// `DP_ATTENTION=true`. The image and the date, columns of the point, say which recipe ran.
const TRTLLM_MTP_SWEEPS: &[(&str, &str, u32, u32)] = &[("1.1.0rc2.post2", "2026-01-14", 3, 1)];

/// The `MAX_BATCH_SIZE` of a point of an MTP-only sweep ([`TRTLLM_MTP_SWEEPS`]), whose scripts
/// (`benchmarks/dsr1_fp8_{h200,b200}_trt_mtp_slurm.sh`, `dsr1_fp4_b200_trt_mtp_slurm.sh`, as
/// added by InferenceX `bf3456727`, unchanged until 2026-01-22) pass `--max_batch_size=$MAX_BATCH_SIZE` (the clients, per
/// rank under attention DP: `CONC/TP`, at least 1) and size `--max_num_tokens` from it without
/// an 8192 floor. They turn on no piecewise CUDA graphs, so their context steps run eagerly, as
/// llmsim's do. `None` off such a sweep: the `1.2.0rc6.post3` MTP recipes
/// ([`TRTLLM_MTP_IMAGES`]) replay a context step's non-attention part in piecewise CUDA graphs
/// at the concurrencies where their own budget is small, so by default the harness keeps its
/// floored budget there; under `--model-recipes` [`trtllm_sweep_flags`] takes their own budget,
/// batch size and piecewise graphs.
fn trtllm_mtp_recipe_batch(point: &ServingPoint, concurrency: u32, dp_ranks: u32) -> Option<u32> {
    TRTLLM_MTP_SWEEPS
        .iter()
        .any(|(image, date, _, _)| *image == point.backend_version && *date == point.measured)
        .then(|| trtllm_mtp_batch(concurrency, dp_ranks))
}

/// The MTP draft length (without, with attention DP) of a TensorRT-LLM point whose image ran
/// only InferenceX's MTP recipes ([`TRTLLM_MTP_IMAGES`]), or whose image and date are a sweep
/// of only those recipes ([`TRTLLM_MTP_SWEEPS`]); `None` for any other point.
pub fn trtllm_mtp_draft_tokens(point: &ServingPoint) -> Option<(u32, u32)> {
    if point.backend != "trtllm" {
        return None;
    }
    TRTLLM_MTP_IMAGES
        .iter()
        .find(|(image, _, _)| *image == point.backend_version)
        .map(|&(_, k, k_dp)| (k, k_dp))
        .or_else(|| {
            TRTLLM_MTP_SWEEPS
                .iter()
                .find(|(image, date, _, _)| *image == point.backend_version && *date == point.measured)
                .map(|&(_, _, k, k_dp)| (k, k_dp))
        })
}

/// An SGLang sweep of an image that InferenceX's plain and MTP recipes shared, on a day that
/// ran the MTP recipe, with what that recipe's script sets (its `--max-running-requests`,
/// applied by [`recipe_flags`]).
struct SglangMtpSweep {
    image: &'static str,
    date: &'static str,
    /// The deployment the MTP recipe ran that day when the plain recipe ran beside it:
    /// (system, precision, TP, expert-parallel size); `None` where only the MTP recipe ran.
    deployment: Option<(&'static str, &'static str, u32, u32)>,
    /// The plain recipe's sweep of the same deployment that day, (isl, osl, most clients): a
    /// point within it may come from either recipe and is left plain; one beyond it only the
    /// MTP recipe swept.
    plain_until: &'static [(u32, u32, u32)],
    /// `--speculative-num-steps`.
    steps: u32,
    /// `--speculative-eagle-topk`.
    topk: u32,
    /// `--speculative-num-draft-tokens`.
    draft_tokens: u32,
    /// `--max-running-requests` when the script fixes it; `None`: the clients (`$CONC`).
    max_running: Option<u32>,
}

/// `0.5.9` on 2026-03-20: InferenceX `35d4bb367` (#898, merged 2026-03-20 22:08 UTC) added
/// `qwen3.5-fp8-b200-sglang-mtp` (`v0.5.9-cu130`, TP 4 / EP 1, 4-256 clients) with
/// `benchmarks/single_node/qwen3.5_fp8_b200_mtp.sh`: `--speculative-algorithm EAGLE
/// --speculative-num-steps 3 --speculative-eagle-topk 1 --speculative-num-draft-tokens 4`
/// (the model's MTP layer as the draft) and `--max-running-requests $CONC` (as it stood at that
/// merge; 128 from a later edit), with the receive interval and budgets of the plain script. The plain `qwen3.5-fp8-b200-sglang` recipe that day swept
/// TP 4 / EP 4 and TP 8 / EP 1 only; every SGLang row dated 2026-03-20 is a TP 4 / EP 1 row of
/// this sweep. The image and the date, columns of the point, say which recipe ran.
///
/// `0.5.9` on 2026-03-25: InferenceX `12ba0ae07` (#943, "Update DSR1 h200 & b200 sglang image
/// to v0.5.9-cu130", 2026-03-25) moved `dsr1-fp8-b200-sglang` and `dsr1-fp8-b200-sglang-mtp`
/// (and the fp4 B200 and fp8 H200 plain recipes) to that image, so both fp8 B200 recipes swept
/// that day. The plain one (`benchmarks/single_node/dsr1_fp8_b200.sh`) swept TP 8 / EP 1 at
/// 4-64 clients for 1k/1k and 1k/8k and 4 clients for 8k/1k (and TP 4 for 8k/1k); the MTP one
/// TP 8 / EP 1 at 4-512 clients for all three (`.github/configs/nvidia-master.yaml` at
/// `12ba0ae07`). So a TP 8 / EP 1 fp8 B200 point of that day beyond the plain sweep ran
/// `benchmarks/single_node/dsr1_fp8_b200_mtp.sh` (as of `64c20b6b5`, unchanged until
/// `626932a11` on 03-27): `--speculative-algorithm EAGLE --speculative-num-steps 2
/// --speculative-eagle-topk 1 --speculative-num-draft-tokens 3`, `--max-running-requests 512`,
/// `--cuda-graph-max-bs 512` and `--chunked-prefill-size 16384` (SGLang's own B200 values).
/// Its `SGLANG_ENABLE_SPEC_V2=1` is a shell assignment without `export`, so the server runs
/// speculative v1 (overlap scheduler off), as the engine bundle does. Within the plain sweep
/// the file holds a measurement of each recipe under the same columns, which no column tells
/// apart: those stay plain.
const SGLANG_MTP_SWEEPS: &[SglangMtpSweep] = &[
    SglangMtpSweep {
        image: "0.5.9",
        date: "2026-03-20",
        deployment: None,
        plain_until: &[],
        steps: 3,
        topk: 1,
        draft_tokens: 4,
        max_running: None,
    },
    SglangMtpSweep {
        image: "0.5.9",
        date: "2026-03-25",
        deployment: Some(("b200_sxm", "fp8", 8, 1)),
        plain_until: &[(1024, 1024, 64), (1024, 8192, 64), (8192, 1024, 4)],
        steps: 2,
        topk: 1,
        draft_tokens: 3,
        max_running: Some(512),
    },
];

/// SGLang sweeps (image, system, first and last measurement day) on which every SGLang script
/// InferenceX ran with that image on that system set `--chunked-prefill-size` and
/// `--max-prefill-tokens` to `tokens` (SGLang's own default on B200 is 16384,
/// `ServerArgs._handle_gpu_memory_settings`). The image, system and date, columns of the
/// point, say which scripts ran:
/// - `0.5.9` on B200 from 2026-02-25 to 2026-03-24: `benchmarks/single_node/qwen3.5_fp8_b200.sh`
///   from `87b5ee212` (2026-02-25) until `92985b879` (2026-04-13) and its MTP twin
///   `qwen3.5_fp8_b200_mtp.sh` (`35d4bb367`, 2026-03-20) pass `--chunked-prefill-size 32768
///   --max-prefill-tokens 32768`; the DeepSeek-R1 B200 scripts took the image only on
///   2026-03-25 (`12ba0ae07`, #943), GLM-5 and Qwen3.5's bf16 / fp4 B200 scripts ran nightly
///   images, so no other script shared the image on B200 before that day.
/// - `0.5.9` on B200 on 2026-03-25, fp8 without expert parallelism: `12ba0ae07` (#943) moved
///   `dsr1-fp8-b200-sglang` to the image; `benchmarks/single_node/dsr1_fp8_b200.sh` there passes
///   32768 at TP 8 and 8192 at TP 4 (its only other TP, 8k/1k); its TP 4 branch also fixes
///   `SCHEDULER_RECV_INTERVAL=10` at every concurrency, where InferenceX's other Blackwell
///   scripts (and its own TP 8 branch) take 30 from 16 clients. Its MTP twin's points beyond
///   the plain sweep ([`SGLANG_MTP_SWEEPS`]) keep that script's SGLang default (16384); the
///   fp4 script of that day (`dsr1_fp4_b200.sh`, `--chunked-prefill-size 16384`, EP = TP) is
///   the default too.
/// - `0.5.9` on H200 on 2026-03-25, fp8 at TP 8 without expert parallelism:
///   `dsr1-fp8-h200-sglang` ran `lmsysorg/sglang:v0.5.9-cu130` that day (`.github/configs/
///   nvidia-master.yaml` at `cdcf0df19`), and `benchmarks/single_node/dsr1_fp8_h200.sh` there
///   (unchanged from `41aff0afc`, 2026-03-06, until `626932a11`, 2026-03-27) passes
///   `--chunked-prefill-size 32768 --max-prefill-tokens 32768` in both its branches, where
///   SGLang's own default on a 141 GB GPU is 8192. No other SGLang script ran that image on
///   H200 that day.
struct SglangBudgetSweep {
    image: &'static str,
    system: &'static str,
    from: &'static str,
    until: &'static str,
    /// The deployment the budget belongs to, (precision, TP, EP), where the image, system and
    /// day ran several scripts; `None` where every point of them takes it.
    deployment: Option<(&'static str, u32, u32)>,
    tokens: u32,
    /// `--scheduler-recv-interval` where the script fixes it at every concurrency; `None`: the
    /// harness's Blackwell rule (10, or 30 from 16 clients).
    recv_interval: Option<u32>,
}

const SGLANG_BUDGET_SWEEPS: &[SglangBudgetSweep] = &[
    SglangBudgetSweep {
        image: "0.5.9",
        system: "b200_sxm",
        from: "2026-02-25",
        until: "2026-03-24",
        deployment: None,
        tokens: 32768,
        recv_interval: None,
    },
    SglangBudgetSweep {
        image: "0.5.9",
        system: "b200_sxm",
        from: "2026-03-25",
        until: "2026-03-25",
        deployment: Some(("fp8", 8, 1)),
        tokens: 32768,
        recv_interval: None,
    },
    SglangBudgetSweep {
        image: "0.5.9",
        system: "b200_sxm",
        from: "2026-03-25",
        until: "2026-03-25",
        deployment: Some(("fp8", 4, 1)),
        tokens: 8192,
        recv_interval: Some(10),
    },
    SglangBudgetSweep {
        image: "0.5.9",
        system: "h200_sxm",
        from: "2026-03-25",
        until: "2026-03-25",
        deployment: Some(("fp8", 8, 1)),
        tokens: 32768,
        recv_interval: None,
    },
];

/// SGLang sweeps whose every fp8 script ran the dense block-fp8 GEMMs on FlashInfer's
/// TRTLLM-Gen kernel (`SGLANG_ENABLE_FLASHINFER_GEMM=true`, which SGLang 0.5.9's
/// `initialize_fp8_gemm_config` reads as `--fp8-gemm-backend flashinfer_trtllm` when the flag is
/// `auto`, or the flag itself), keyed by image, system and dates, fp8 points only:
/// - `0.5.9` on B200 from 2026-03-02 to 2026-03-25: `benchmarks/single_node/dsr1_fp8_b200.sh`
///   exports it at every commit from `6a2e4f5f0` (2026-02-06) to `8eec0d4ed` (2026-05-27), its
///   MTP twin passes `--fp8-gemm-backend=flashinfer_trtllm` from `288c39b28` (2026-02-09);
///   `qwen3.5_fp8_b200.sh` exports it from `748b75dcd` (2026-03-02; it was `false` from
///   `01fa35cfe`, 2026-02-27) to `92985b879` (2026-04-13), its MTP twin from `2ecc5ce3c`
///   (2026-03-09; the flag from `72032e098`). No other fp8 script ran on that image and GPU.
/// - `0.5.10.post1` on B300 on 2026-04-17, fp8 at TP 8 without expert parallelism:
///   `benchmarks/single_node/dsr1_fp8_b300.sh` exports it from `5b302f147` (2026-04-17); the
///   other fp8 script of that image, GPU and day, `qwen3.5_fp8_b300.sh` (`c0f62a2ef`), does not
///   and ran TP 4 only, so the shared TP 4 / EP 1 deployment stays on SGLang's default (DeepGEMM).
struct SglangFp8GemmSweep {
    image: &'static str,
    system: &'static str,
    from: &'static str,
    until: &'static str,
    /// (TP, EP) where the image, system and days ran fp8 scripts that differ; `None` where every
    /// fp8 point of them ran the kernel.
    deployment: Option<(u32, u32)>,
}

const SGLANG_FLASHINFER_FP8_GEMM_SWEEPS: &[SglangFp8GemmSweep] = &[
    SglangFp8GemmSweep {
        image: "0.5.9",
        system: "b200_sxm",
        from: "2026-03-02",
        until: "2026-03-25",
        deployment: None,
    },
    SglangFp8GemmSweep {
        image: "0.5.10.post1",
        system: "b300_sxm",
        from: "2026-04-17",
        until: "2026-04-17",
        deployment: Some((8, 1)),
    },
];

/// Whether an aggregated fp8 SGLang point ran one of [`SGLANG_FLASHINFER_FP8_GEMM_SWEEPS`]; an
/// undated copy of such a row takes its date.
fn sglang_flashinfer_fp8_gemm(point: &ServingPoint) -> bool {
    if point.backend != "sglang" || point.precision != "fp8" {
        return false;
    }
    let date = point.run_date();
    !date.is_empty()
        && SGLANG_FLASHINFER_FP8_GEMM_SWEEPS.iter().any(|s| {
            s.image == point.backend_version
                && s.system == point.system
                && s.from <= date
                && date <= s.until
                && s.deployment.is_none_or(|(tp, ep)| runs_deployment(point, "fp8", tp, ep))
        })
}

/// SGLang sweeps whose scripts pass `--mem-fraction-static` (the share of each GPU's memory SGLang
/// keeps for the weights and the KV pool: `ModelRunner` sizes the pool as the memory left after
/// loading the weights less `(1 − mem_fraction_static)` of the total, and
/// `ServerArgs._handle_gpu_memory_settings` derives its default only when the flag is absent),
/// keyed by image, system, date and deployment (precision, TP, EP, no attention DP); the
/// harness gives it as `cache_config_memory_margin_fraction` = 1 − fraction.
/// - `0.5.9` on B200 on 2026-03-25: `12ba0ae07` (#943) moved `dsr1-fp8-b200-sglang` and its MTP
///   twin to the image; `benchmarks/single_node/dsr1_fp8_b200.sh` there (unchanged from
///   `64c20b6b5` until `626932a11`, 2026-03-27) passes `MEM_FRAC_STATIC=0.95` at TP 4 (its 8k/1k
///   sweep) and `0.82` at TP 8, and `dsr1_fp8_b200_mtp.sh` (TP 8 / EP 1) `0.82` too, so every
///   TP 8 / EP 1 fp8 point of that day takes 0.82 whichever recipe ran it. Both pass
///   `--kv-cache-dtype fp8_e4m3` (the point's KV dtype column); the plain script's
///   `--max-running-requests` / `--cuda-graph-max-bs` (32 at TP 4, 128 at TP 8) are above the
///   clients of its sweep (at most 32 and 64), so they bind nothing and are not given.
/// - `0.5.9` on H200 on 2026-03-25, fp8 at TP 8 / EP 1: `benchmarks/single_node/dsr1_fp8_h200.sh`
///   (the sweep of [`SGLANG_BUDGET_SWEEPS`]) passes `--mem-fraction-static 0.82` (SGLang's
///   default there is about 0.9); its `--max-running-requests` / `--cuda-graph-max-bs` (512 at
///   1k/1k, 256 otherwise) are above its 64 clients.
struct SglangMemFractionSweep {
    image: &'static str,
    system: &'static str,
    date: &'static str,
    precision: &'static str,
    tp: u32,
    ep: u32,
    /// `--mem-fraction-static`.
    fraction: f64,
}

const SGLANG_MEM_FRACTION_SWEEPS: &[SglangMemFractionSweep] = &[
    SglangMemFractionSweep {
        image: "0.5.9",
        system: "b200_sxm",
        date: "2026-03-25",
        precision: "fp8",
        tp: 4,
        ep: 1,
        fraction: 0.95,
    },
    SglangMemFractionSweep {
        image: "0.5.9",
        system: "b200_sxm",
        date: "2026-03-25",
        precision: "fp8",
        tp: 8,
        ep: 1,
        fraction: 0.82,
    },
    SglangMemFractionSweep {
        image: "0.5.9",
        system: "h200_sxm",
        date: "2026-03-25",
        precision: "fp8",
        tp: 8,
        ep: 1,
        fraction: 0.82,
    },
];

/// Whether an aggregated point ran the deployment a recipe table names: its precision, TP and
/// EP, without attention DP (false for a disaggregated point).
fn runs_deployment(point: &ServingPoint, precision: &str, tp: u32, ep: u32) -> bool {
    let crate::points::Mode::Aggregated(instance) = point.mode else { return false };
    point.precision == precision
        && instance.tp_size == tp
        && point.moe_ep_size.unwrap_or(1) == ep
        && point.attention_dp_size.unwrap_or(1) <= 1
}

/// The `--mem-fraction-static` of an aggregated SGLang point whose image, system, date and
/// deployment are one of [`SGLANG_MEM_FRACTION_SWEEPS`]; an undated copy of such a row takes
/// its date. `None` otherwise (SGLang's own default).
fn sglang_mem_fraction(point: &ServingPoint) -> Option<f64> {
    if point.backend != "sglang" {
        return None;
    }
    let date = point.run_date();
    SGLANG_MEM_FRACTION_SWEEPS
        .iter()
        .find(|s| {
            s.image == point.backend_version
                && s.system == point.system
                && !date.is_empty()
                && s.date == date
                && runs_deployment(point, s.precision, s.tp, s.ep)
        })
        .map(|s| s.fraction)
}

/// The prefill budgets of an SGLang point whose image, system and date are one of
/// [`SGLANG_BUDGET_SWEEPS`]; an undated copy of such a row takes its date. `None` otherwise.
fn sglang_budget_sweep(point: &ServingPoint) -> Option<&'static SglangBudgetSweep> {
    if point.backend != "sglang" {
        return None;
    }
    if !matches!(point.mode, crate::points::Mode::Aggregated(_)) {
        return None;
    }
    // A plain script's budget is not its MTP twin's (the 2026-03-20 Qwen3.5 MTP script, a
    // sweep of its own, passes the plain script's budgets: no deployment to tell apart).
    let mtp = sglang_mtp_sweep(point).is_some();
    let date = point.run_date();
    let deployed = |d: Option<(&str, u32, u32)>| {
        d.is_none_or(|(precision, tp, ep)| !mtp && runs_deployment(point, precision, tp, ep))
    };
    SGLANG_BUDGET_SWEEPS.iter().find(|s| {
        s.image == point.backend_version
            && s.system == point.system
            && !date.is_empty()
            && s.from <= date
            && date <= s.until
            && deployed(s.deployment)
    })
}

/// The MTP recipe of an SGLang point whose image and date are a sweep of only that recipe
/// ([`SGLANG_MTP_SWEEPS`]); an undated copy of such a row takes its date. `None` otherwise.
fn sglang_mtp_sweep(point: &ServingPoint) -> Option<&'static SglangMtpSweep> {
    if point.backend != "sglang" {
        return None;
    }
    SGLANG_MTP_SWEEPS
        .iter()
        .find(|s| s.image == point.backend_version && s.date == point.run_date() && mtp_sweep_ran(s, point))
}

/// Whether a point of a sweep's image and date is one the MTP recipe ran and the plain one
/// did not ([`SglangMtpSweep::deployment`], [`SglangMtpSweep::plain_until`]).
fn mtp_sweep_ran(sweep: &SglangMtpSweep, point: &ServingPoint) -> bool {
    let Some((system, precision, tp, ep)) = sweep.deployment else {
        return true;
    };
    let crate::points::Mode::Aggregated(instance) = point.mode else {
        return false;
    };
    let deployed = point.system == system && runs_deployment(point, precision, tp, ep);
    let plain = sweep
        .plain_until
        .iter()
        .any(|&(isl, osl, clients)| point.isl == isl && point.osl == osl && instance.concurrency <= clients);
    deployed && !plain
}

/// The `--max-cudagraph-capture-size` (`max-cudagraph-capture-size:` in a `--config` file,
/// `cuda-graph-sizes:` before vLLM 0.11) InferenceX's vLLM recipes set where they raise it.
const VLLM_RECIPE_CAPTURE_SIZE: u32 = 2048;

/// The `--max-num-batched-tokens` of a vLLM recipe that raises the capture size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum VllmBudget {
    /// A fixed budget (`max-num-batched-tokens: 8192`).
    Tokens(u32),
    /// `--max-num-batched-tokens "$((ISL * 2))"`.
    TwicePrompt,
}

/// vLLM sweeps (image as the point records it, blank before images were recorded;
/// measurement day) on which every vLLM script InferenceX ran captured CUDA graphs up to
/// [`VLLM_RECIPE_CAPTURE_SIZE`] tokens, so that a step holding a whole 1k prompt beside the
/// decodes replays vLLM's piecewise graphs instead of running eagerly (vLLM's default,
/// min(2 × max_num_seqs, 512), leaves every such step eager), with the scripts' token budget.
/// The image and the date, columns of the point, say which recipe ran; the scripts, at the
/// last commit on or before the day (InferenceX `benchmarks/`, read in its history):
/// - 2025-11-02 (image-less, `gptoss_fp4_{b200_docker,h100_docker,h100_slurm,h200_slurm}.sh`,
///   `cuda-graph-sizes: 2048`, `max-num-batched-tokens: 8192`), 2025-12-05 (image-less) and
///   0.11.2 on 2025-12-08 (`gptoss_fp4_h100_{docker,slurm}.sh`, `max-cudagraph-capture-size:
///   2048`, 8192), 0.15.1 on 2026-02-25 (`single_node/gptoss_fp4_b200.sh`, the same): the
///   only vLLM sweeps of those days;
/// - 0.17.0 on 2026-04-20 (`kimik2.5_fp4_b200.sh` at `6c3acebfa`, PR #1047 of that day) and
///   0.19.0 on 2026-04-03, -08, -17, -21 and -22 (`minimaxm2.5_fp{8,4}_b{200,300}.sh` from
///   `bddbf4031`, `79bd988e9`, `340d7854c`, `22d0f12f7` and their 04-21 updates):
///   `--max-cudagraph-capture-size 2048 --max-num-batched-tokens "$((ISL * 2))"`.
///
/// Not listed, the engine's defaults: 0.19.0 on 2026-04-20 (`kimik2.5_fp4_b300.sh`, no
/// capture flag), 0.18.0 on 2026-03-27/28 (the gpt-oss scripts set it, the MiniMax ones of the
/// same image and days do not, so the columns cannot tell them apart), the nightly image of
/// 2026-04-03 (a pull request's run, script not in the history), and every other sweep
/// (scripts without the flag).
struct VllmCaptureSweep {
    image: &'static str,
    date: &'static str,
    budget: VllmBudget,
}

const VLLM_CAPTURE_SWEEPS: &[VllmCaptureSweep] = &[
    VllmCaptureSweep { image: "", date: "2025-11-02", budget: VllmBudget::Tokens(8192) },
    VllmCaptureSweep { image: "", date: "2025-12-05", budget: VllmBudget::Tokens(8192) },
    VllmCaptureSweep { image: "0.11.2", date: "2025-12-08", budget: VllmBudget::Tokens(8192) },
    VllmCaptureSweep { image: "0.15.1", date: "2026-02-25", budget: VllmBudget::Tokens(8192) },
    VllmCaptureSweep { image: "0.17.0", date: "2026-04-20", budget: VllmBudget::TwicePrompt },
    VllmCaptureSweep { image: "0.19.0", date: "2026-04-03", budget: VllmBudget::TwicePrompt },
    VllmCaptureSweep { image: "0.19.0", date: "2026-04-08", budget: VllmBudget::TwicePrompt },
    VllmCaptureSweep { image: "0.19.0", date: "2026-04-17", budget: VllmBudget::TwicePrompt },
    VllmCaptureSweep { image: "0.19.0", date: "2026-04-21", budget: VllmBudget::TwicePrompt },
    VllmCaptureSweep { image: "0.19.0", date: "2026-04-22", budget: VllmBudget::TwicePrompt },
];

/// From this day InferenceX's Hopper vLLM scripts run MXFP4 experts on the Marlin MoE: PR #327
/// (`4e52ed4c6`, 2026-01-02, "Fix H100/H200 perf regression" with the move to vLLM 0.13)
/// added `export VLLM_MXFP4_USE_MARLIN=1` to `gptoss_fp4_h{100,200}_{docker,slurm}.sh`, and
/// every later Hopper script keeps it (`single_node/gptoss_fp4_h{100,200}.sh` at `cec542a9a`,
/// the 0.18.0 update of 2026-03-27). vLLM's `get_mxfp4_backend`
/// (`model_executor/layers/quantization/mxfp4.py`, 0.18.0) then returns `Mxfp4Backend.MARLIN`
/// instead of the Triton `matmul_ogs` kernels it picks on SM90 by default. The variable
/// changes only MXFP4 checkpoints, so the flag moves only fp4 experts on a GPU without an fp4
/// rate; rows before that day ran the Triton kernels.
const VLLM_MXFP4_MARLIN_FROM: &str = "2026-01-02";

/// Whether a vLLM point ran InferenceX's Hopper scripts with `VLLM_MXFP4_USE_MARLIN=1`
/// ([`VLLM_MXFP4_MARLIN_FROM`]).
fn vllm_mxfp4_marlin(point: &ServingPoint) -> bool {
    point.backend == "vllm"
        && matches!(point.system.as_str(), "h100_sxm" | "h200_sxm")
        && point.run_date() >= VLLM_MXFP4_MARLIN_FROM
}

/// From this day InferenceX's B200 vLLM gpt-oss scripts run MXFP4 experts on FlashInfer's
/// TRTLLM-Gen MXFP4 × MXFP8 MoE: PR #48 (`5e92867f4`, 2025-09-24) added
/// `export VLLM_USE_FLASHINFER_MOE_MXFP4_MXFP8=1` to `gptoss_fp4_b200_{docker,slurm}.sh`, and
/// every later B200 script keeps it (`single_node/gptoss_fp4_b200.sh` at `d2c2acb19`, the 0.15.1
/// update of 2026-02-25). vLLM's `get_mxfp4_backend` (`model_executor/layers/quantization/
/// mxfp4.py`) then returns `Mxfp4Backend.SM100_FI_MXFP4_MXFP8_TRTLLM` instead of its SM100
/// default, `SM100_FI_MXFP4_BF16`. The variable changes only MXFP4 checkpoints.
const VLLM_MXFP4_MXFP8_FROM: &str = "2025-09-24";

/// Whether a vLLM point ran InferenceX's B200 scripts with `VLLM_USE_FLASHINFER_MOE_MXFP4_MXFP8=1`
/// ([`VLLM_MXFP4_MXFP8_FROM`]).
fn vllm_mxfp4_mxfp8(point: &ServingPoint) -> bool {
    point.backend == "vllm" && point.system == "b200_sxm" && point.run_date() >= VLLM_MXFP4_MXFP8_FROM
}

/// The capture-size recipe of a vLLM point whose image and date are one of
/// [`VLLM_CAPTURE_SWEEPS`]; an undated copy of such a row takes its date. `None` otherwise.
fn vllm_capture_sweep(point: &ServingPoint) -> Option<&'static VllmCaptureSweep> {
    if point.backend != "vllm" {
        return None;
    }
    let date = point.run_date();
    VLLM_CAPTURE_SWEEPS.iter().find(|s| s.image == point.backend_version && s.date == date)
}

/// From this many clients InferenceX's Blackwell SGLang recipes read new requests every 30
/// decode iterations instead of 10 (`dsr1_fp8_b200.sh`: "if CONC ≥ 16, relax to ~30").
const SGLANG_RECV_INTERVAL_HIGH_FROM: u32 = 16;

/// A model's own launch recipe in InferenceX: flags beyond [`recipe_flags`] that one model's
/// scripts set. Applied only with `--recipes` (they name models, which the validation's
/// headline figures must not depend on; VALIDATION.md reports both).
struct ModelRecipe {
    backend: &'static str,
    model: &'static str,
    /// Measured before this day (the recipe's lifetime in the repository).
    until: &'static str,
    /// The recipe's flags at a point run on an instance of `dp_ranks` attention-DP ranks (the
    /// resolved shape, `mapping.rs`: a script's DP where the row records none).
    flags: fn(&ServingPoint, u32) -> Vec<(&'static str, String)>,
}

/// InferenceX's model recipes for the points of the shared file (its `benchmarks/` at
/// `ac1998a5`, 2025-10-19; SGLang's GLM-5 Blackwell scripts at `8eec0d4e`, its Qwen3.5 ones as
/// they stood on the rows' dates).
const MODEL_RECIPES: &[ModelRecipe] = &[
    ModelRecipe {
        backend: "trtllm",
        model: "meta-llama/Llama-3.1-70B",
        until: "2025-12-08",
        // 70b_fp8_{h200,b200}_trt_slurm.sh: `--max_num_tokens 16384`, and for 1k/1k below TP 8
        // `batch_wait_max_tokens_ratio: 0.9, batch_wait_timeout_iters: 20`.
        flags: |p, _| {
            let mut flags = vec![("trtllm_scheduler_config_max_num_tokens", "16384".to_string())];
            let tp = match p.mode {
                crate::points::Mode::Aggregated(i) => i.tp_size,
                crate::points::Mode::Disaggregated => p.pools.map_or(0, |pools| pools.prefill.tp_size),
            };
            if p.isl == 1024 && p.osl == 1024 && tp < 8 {
                flags.push(("trtllm_scheduler_config_batch_wait_max_tokens_ratio", "0.9".to_string()));
                flags.push(("trtllm_scheduler_config_batch_wait_timeout_iters", "20".to_string()));
            }
            flags
        },
    },
    ModelRecipe {
        backend: "trtllm",
        model: "deepseek-ai/DeepSeek-R1",
        until: "9999-12-31",
        // dsr1_fp{4,8}_{b200,h200}_trt*.sh (since 2025-09-18, `ec90f3fe7`): with DP attention,
        // `attention_dp_config: {batching_wait_iters: 0, enable_balance: true, timeout_iters: 60}`,
        // keyed on the instance's attention DP (as `enable_balance` in [`recipe_flags`]).
        flags: |p, dp_ranks| {
            let aggregated = matches!(p.mode, crate::points::Mode::Aggregated(_));
            if aggregated && dp_ranks > 1 {
                vec![
                    ("trtllm_scheduler_config_attention_dp_timeout_iters", "60".to_string()),
                    ("trtllm_scheduler_config_attention_dp_batching_wait_iters", "0".to_string()),
                ]
            } else {
                Vec::new()
            }
        },
    },
    ModelRecipe {
        backend: "sglang",
        model: "Qwen/Qwen3.5-397B-A17B",
        until: "9999-12-31",
        // `benchmarks/single_node/qwen3.5_*.sh` as they stood when the rows were measured
        // (InferenceX history; the scripts changed often, so each regime is dated):
        // - every Blackwell script the rows ran (bf16 on B200 from 2026-02-16, fp8 on B200 from
        //   2026-02-25 until `92985b879` of 2026-04-13, fp4 on B200 at `48d35c480`, bf16 and fp4
        //   on B300 at `32274d6c1` / `8acbd08b7`): `--chunked-prefill-size 32768
        //   --max-prefill-tokens 32768`, `--scheduler-recv-interval` 10, 30 from 16 clients
        //   (the engine-wide rule), `--moe-runner-backend flashinfer_trtllm`,
        //   `--attention-backend trtllm_mha`, `--max-running-requests 128` (not applied: the
        //   fp8 B200 rows at 256 clients measure 2.5 s TTFT, not the ~30 s a 128-request cap
        //   would queue them for);
        // - fp8 on B300 from `c0f62a2ef` (2026-04-17; no InferenceX script before, so the
        //   0.5.9 rows of 2026-04-03 get none): budgets of 16384 (SGLang's default on these
        //   GPUs), `--scheduler-recv-interval 10` at every concurrency, `--max-running-requests`
        //   = clients.
        // The fp8 B200 script from 2026-04-13 on (interval 10, then 30 from 5 clients, budgets
        // 16384 or 81920) is not encoded: no row of the file is that late.
        flags: |p, _| {
            let crate::points::Mode::Aggregated(instance) = p.mode else { return Vec::new() };
            let c = instance.concurrency;
            let date = p.run_date();
            match (sglang_recipe_dtype(p), p.system.as_str()) {
                ("fp8", "b200_sxm") if date < QWEN35_FP8_B200_NEW_ARGS => prefill_budgets(32768),
                ("fp8", "b300_sxm") if date >= QWEN35_FP8_B300_SCRIPT => vec![
                    (RECV_INTERVAL, "10".to_string()),
                    ("sglang_scheduler_config_batch_size_cap", c.to_string()),
                ],
                ("bf16", "b200_sxm" | "b300_sxm") | ("fp4", "b200_sxm" | "b300_sxm") => {
                    prefill_budgets(32768)
                }
                _ => Vec::new(),
            }
        },
    },
    ModelRecipe {
        backend: "sglang",
        model: "zhipuai/GLM-5",
        until: "9999-12-31",
        // `glm5_fp8_b200.sh` and `glm5_fp8_b300.sh` (read at `8eec0d4e` / `1d765943`): no
        // `--scheduler-recv-interval` (the engine's 1), budgets of 32768,
        // `--max-running-requests` = clients; `glm5_fp4_b200.sh`: the interval 10 at every
        // concurrency, budgets of 32768.
        flags: |p, _| {
            let crate::points::Mode::Aggregated(instance) = p.mode else { return Vec::new() };
            match (sglang_recipe_dtype(p), p.system.as_str()) {
                ("fp8", "b200_sxm" | "b300_sxm") => {
                    let mut flags = prefill_budgets(32768);
                    flags.push((RECV_INTERVAL, "1".to_string()));
                    flags.push(("sglang_scheduler_config_batch_size_cap", instance.concurrency.to_string()));
                    flags
                }
                ("fp4", "b200_sxm") => {
                    let mut flags = prefill_budgets(32768);
                    flags.push((RECV_INTERVAL, "10".to_string()));
                    flags
                }
                _ => Vec::new(),
            }
        },
    },
];

/// The day InferenceX's `qwen3.5_fp8_b200.sh` took its new server arguments (`92985b879`).
const QWEN35_FP8_B200_NEW_ARGS: &str = "2026-04-13";
/// The day InferenceX added `qwen3.5_fp8_b300.sh` (`c0f62a2ef`, PR #1048).
const QWEN35_FP8_B300_SCRIPT: &str = "2026-04-17";

/// SGLang's receive-interval flag.
const RECV_INTERVAL: &str = "sglang_scheduler_config_scheduler_recv_interval";

/// SGLang's `--chunked-prefill-size` and `--max-prefill-tokens`, both `tokens`.
fn prefill_budgets(tokens: u32) -> Vec<(&'static str, String)> {
    vec![
        ("sglang_scheduler_config_chunked_prefill_size", tokens.to_string()),
        ("sglang_scheduler_config_max_prefill_tokens", tokens.to_string()),
    ]
}

/// The checkpoint an SGLang recipe script is chosen by: `fp8`, `fp4` or `bf16` (the MoE weights'
/// mode, else the precision column).
fn sglang_recipe_dtype(p: &ServingPoint) -> &'static str {
    let mode = if p.moe_quant_mode.is_empty() { p.precision.as_str() } else { p.moe_quant_mode.as_str() };
    match mode {
        "fp8" | "fp8_block" => "fp8",
        "fp4" | "nvfp4" => "fp4",
        "bf16" | "" => "bf16",
        _ => "other",
    }
}

/// The flags of `point`'s model recipe, if InferenceX has one for it ([`MODEL_RECIPES`]), on an
/// instance of `dp_ranks` attention-DP ranks.
pub fn model_recipe_flags(point: &ServingPoint, dp_ranks: u32) -> Vec<(&'static str, String)> {
    MODEL_RECIPES
        .iter()
        .filter(|r| r.backend == point.backend && r.model == point.model_path)
        .filter(|r| {
            let date = point.run_date();
            !date.is_empty() && date < r.until
        })
        .flat_map(|r| (r.flags)(point, dp_ranks))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::points::tests::point;

    #[test]
    fn a_blank_version_is_the_image_of_its_time() {
        let v = |backend, version, measured| {
            engine_version(&point(&[
                ("backend", backend),
                ("backend_version", version),
                ("measured", measured),
            ]))
        };
        assert_eq!(v("vllm", "0.19.0", "2026-04-17"), "0.19.0");
        assert_eq!(v("vllm", "", "2025-10-12"), "0.10.2");
        assert_eq!(v("trtllm", "", "2025-10-12"), "1.1.0rc2.post2");
        assert_eq!(v("sglang", "", "2025-11-30"), "0.5.3");
        assert_eq!(v("trtllm", "", "2026-04-02"), "latest");
        assert_eq!(v("vllm", "", ""), "latest");
        assert_eq!(v("sglang", "glm5-hopper", "2026-03-01"), "latest");
        assert_eq!(v("sglang", "0.5.6.post2", "2026-03-01"), "0.5.6.post2");
    }

    #[test]
    fn the_trtllm_image_of_the_mtp_recipes_turns_mtp_on_with_its_draft_length() {
        let flags = |version: &str, dp: &str, isl: &str, c| {
            recipe_flags(
                &point(&[
                    ("backend", "trtllm"),
                    ("backend_version", version),
                    ("attention_dp_size", dp),
                    ("isl", isl),
                ]),
                c,
                dp.parse().unwrap(),
                true,
            )
        };
        let mtp = |k: &str, tokens: &str| {
            vec![
                ("trtllm_scheduler_config_max_num_tokens", tokens.to_string()),
                ("replica_config_speculative_method", "mtp".to_string()),
                ("replica_config_num_speculative_tokens", k.to_string()),
            ]
        };
        // k = 3; the budget counts every client's drafts: ⌈(4 · 256 + 8192 + 64) / 64⌉ · 64.
        assert_eq!(flags("1.2.0rc6.post3", "1", "8192", 256), mtp("3", "9280"));
        assert_eq!(flags("1.2.0rc6.post3", "1", "1024", 64), mtp("3", "8192"));
        // k = 1 under attention DP, where balancing is on as for every DP recipe.
        let mut dp = mtp("1", "8192");
        dp.push(("trtllm_scheduler_config_attention_dp_enable_balance", "true".to_string()));
        assert_eq!(flags("1.2.0rc6.post3", "8", "1024", 32), dp);
        // The plain recipes' image, and the image both recipes shared: no speculation.
        for version in ["1.2.0rc6.post2", "1.1.0rc2.post2", ""] {
            assert_eq!(
                flags(version, "1", "8192", 256),
                [("trtllm_scheduler_config_max_num_tokens", "8512".to_string())],
                "{version}"
            );
        }
        // Another engine on a version string that happens to match: nothing of it.
        assert_eq!(
            trtllm_mtp_draft_tokens(&point(&[("backend", "vllm"), ("backend_version", "1.2.0rc6.post3")])),
            None
        );
    }

    #[test]
    fn the_deepseek_b200_sweeps_set_their_moe_module_piecewise_graphs_and_batch_waiting() {
        let flags =
            |version: &str, measured: &str, precision: &str, isl: &str, osl: &str, c: u32, dp: u32| {
                let p = point(&[
                    ("backend", "trtllm"),
                    ("backend_version", version),
                    ("measured", measured),
                    ("precision", precision),
                    ("isl", isl),
                    ("osl", osl),
                    ("system", "b200_sxm"),
                ]);
                let base = recipe_flags(&p, c, dp, true);
                trtllm_sweep_flags(&p, c, dp, dp, &base)
            };
        let has =
            |f: &[(&str, String)], flag: &str| f.iter().find(|(k, _)| *k == flag).map(|(_, v)| v.clone());
        let moe = "roofline_execution_time_predictor_config_eager_moe_layer_us";
        let graphs = "roofline_execution_time_predictor_config_cuda_graph_max_tokens";
        let wait = "trtllm_scheduler_config_batch_wait_timeout_iters";
        // fp8 2026-01-29: TRTLLM-Gen MoE; 1k/1k from 64 clients piecewise up to the budget, waiting.
        let f = flags("1.2.0rc6.post2", "2026-01-29", "fp8", "1024", "1024", 64, 1);
        assert_eq!(has(&f, moe).as_deref(), Some("300"));
        assert_eq!(has(&f, graphs).as_deref(), Some("8192"));
        assert_eq!(has(&f, wait).as_deref(), Some("40"));
        let f = flags("1.2.0rc6.post2", "2026-01-29", "fp8", "1024", "1024", 32, 1);
        assert_eq!((has(&f, moe).as_deref(), has(&f, graphs), has(&f, wait)), (Some("300"), None, None));
        // 1k/8k from 256 clients: DeepGEMM (the CUTLASS module's Python), no graphs.
        let f = flags("1.2.0rc6.post2", "2026-01-29", "fp8", "1024", "8192", 256, 1);
        assert_eq!((has(&f, moe).as_deref(), has(&f, graphs)), (Some("1500"), None));
        // fp4 2026-02-03: CUTLASS under attention DP.
        let f = flags("1.2.0rc6.post2", "2026-02-03", "fp4", "1024", "1024", 32, 8);
        assert_eq!(has(&f, moe).as_deref(), Some("1500"));
        // MTP fp8 2026-02-05: the script's unfloored budget ⌈(4 · 64 + 1024 + 64) / 64⌉ · 64 and
        // batch cap, piecewise up to it; none at 4 clients.
        let f = flags("1.2.0rc6.post3", "2026-02-05", "fp8", "1024", "1024", 64, 1);
        assert_eq!(has(&f, "trtllm_scheduler_config_max_num_tokens").as_deref(), Some("1344"));
        assert_eq!(has(&f, "trtllm_scheduler_config_batch_size_cap").as_deref(), Some("64"));
        assert_eq!(has(&f, graphs).as_deref(), Some("1344"));
        let f = flags("1.2.0rc6.post3", "2026-02-05", "fp8", "1024", "1024", 4, 1);
        assert_eq!(has(&f, graphs), None);
        // Another day, image, precision or engine: nothing.
        assert!(flags("1.2.0rc6.post2", "2026-01-28", "fp8", "1024", "1024", 64, 1).is_empty());
        assert!(flags("1.1.0rc2.post2", "2026-01-29", "fp8", "1024", "1024", 64, 1).is_empty());
        assert!(flags("1.2.0rc6.post2", "2026-01-29", "fp4", "1024", "1024", 64, 1).is_empty());
        let vllm =
            point(&[("backend", "vllm"), ("backend_version", "1.2.0rc6.post2"), ("measured", "2026-01-29")]);
        assert!(trtllm_sweep_flags(&vllm, 64, 1, 1, &[]).is_empty());
    }

    /// A point of the DeepSeek-R1 B200 sweeps, with `extra` columns over these.
    fn b200_sweep_point(
        version: &str,
        measured: &str,
        precision: &str,
        extra: &[(&str, &str)],
    ) -> ServingPoint {
        let mut columns = vec![
            ("backend", "trtllm"),
            ("backend_version", version),
            ("measured", measured),
            ("precision", precision),
            ("system", "b200_sxm"),
            ("model_path", "deepseek-ai/DeepSeek-R1"),
            ("isl", "1024"),
            ("osl", "1024"),
        ];
        columns.extend_from_slice(extra);
        point(&columns)
    }

    fn flag_value(flags: &[(&str, String)], flag: &str) -> Option<String> {
        flags.iter().rev().find(|(k, _)| *k == flag).map(|(_, v)| v.clone())
    }

    #[test]
    fn the_mtp_sweeps_batch_is_the_clients_per_rank_at_least_one() {
        // 4 clients on 8 attention-DP ranks: `$((CONC/TP))` floored at 1, not the 4 clients.
        let p = b200_sweep_point("1.2.0rc6.post3", "2026-02-05", "fp8", &[("attention_dp_size", "8")]);
        let f = trtllm_sweep_flags(&p, 4, 8, 8, &recipe_flags(&p, 4, 8, true));
        assert_eq!(flag_value(&f, "trtllm_scheduler_config_batch_size_cap").as_deref(), Some("1"));
        // k = 1 under attention DP: ⌈(2 · 1 + 1024 + 64) / 64⌉ · 64.
        assert_eq!(flag_value(&f, "trtllm_scheduler_config_max_num_tokens").as_deref(), Some("1152"));
        assert_eq!((trtllm_mtp_batch(64, 8), trtllm_mtp_batch(4, 8), trtllm_mtp_batch(7, 0)), (8, 1, 7));
        assert_eq!(trtllm_mtp_budget(3, 64, 1024), 1344);
    }

    #[test]
    fn the_deepseek_b200_sweeps_check_the_system_and_take_the_instance_s_ep() {
        // The fp4 2026-02-03 sweep: piecewise graphs for 1k/1k at EP 8 (the instance's, here
        // from the shape, whatever the column says), none at EP 4.
        let graphs = "roofline_execution_time_predictor_config_cuda_graph_prefill";
        let p = b200_sweep_point("1.2.0rc6.post2", "2026-02-03", "fp4", &[]);
        assert_eq!(flag_value(&trtllm_sweep_flags(&p, 64, 1, 8, &[]), graphs).as_deref(), Some("true"));
        assert_eq!(flag_value(&trtllm_sweep_flags(&p, 64, 1, 4, &[]), graphs), None);
        // The same image, day and precision on another system: not the B200 scripts' sweep.
        for system in ["b300", "h200_sxm"] {
            let p = b200_sweep_point("1.2.0rc6.post2", "2026-02-03", "fp4", &[("system", system)]);
            assert!(trtllm_sweep_flags(&p, 64, 1, 8, &[]).is_empty(), "{system}");
        }
    }

    #[test]
    fn a_sequence_length_pair_the_post3_fp8_script_does_not_list_gets_no_piecewise_graphs() {
        let graphs = "roofline_execution_time_predictor_config_cuda_graph_prefill";
        let listed = b200_sweep_point("1.2.0rc6.post3", "2026-02-05", "fp8", &[]);
        assert_eq!(flag_value(&trtllm_sweep_flags(&listed, 64, 1, 1, &[]), graphs).as_deref(), Some("true"));
        let other =
            b200_sweep_point("1.2.0rc6.post3", "2026-02-05", "fp8", &[("isl", "2048"), ("osl", "2048")]);
        let f = trtllm_sweep_flags(&other, 64, 1, 1, &[]);
        assert!(!f.is_empty());
        assert_eq!(flag_value(&f, graphs), None);
    }

    #[test]
    fn the_piecewise_latent_attention_host_time_is_per_layer_not_per_moe_layer() {
        use llmsim_engine::serving_engine::TRTLLM_EAGER_LATENT_ATTENTION_LAYER_US;
        // The engine charges it per MoE layer: DeepSeek-R1's 61 layers over its 58 MoE layers.
        let p = b200_sweep_point("1.2.0rc6.post3", "2026-02-05", "fp8", &[]);
        let f = trtllm_sweep_flags(&p, 64, 1, 1, &[]);
        let us: f64 = flag_value(&f, "roofline_execution_time_predictor_config_piecewise_moe_layer_us")
            .unwrap()
            .parse()
            .unwrap();
        assert!((us * 58.0 - TRTLLM_EAGER_LATENT_ATTENTION_LAYER_US * 61.0).abs() < 1e-6, "{us}");
        assert_eq!(layers_per_moe_layer("meta-llama/Llama-3.1-70B"), 1.0);
    }

    #[test]
    fn the_mtp_only_sweep_of_a_shared_trtllm_image_turns_mtp_on() {
        let draft = |backend: &str, version: &str, measured: &str| {
            trtllm_mtp_draft_tokens(&point(&[
                ("backend", backend),
                ("backend_version", version),
                ("measured", measured),
            ]))
        };
        // `1.1.0rc2.post2` on the day only its MTP recipes were swept: k = 3, 1 under attention DP.
        assert_eq!(draft("trtllm", "1.1.0rc2.post2", "2026-01-14"), Some((3, 1)));
        let flags = recipe_flags(
            &point(&[
                ("backend", "trtllm"),
                ("backend_version", "1.1.0rc2.post2"),
                ("measured", "2026-01-14"),
                ("isl", "1024"),
            ]),
            4,
            1,
            false,
        );
        assert!(flags.contains(&("replica_config_speculative_method", "mtp".to_string())), "{flags:?}");
        assert!(flags.contains(&("replica_config_num_speculative_tokens", "3".to_string())), "{flags:?}");
        // The sweep's scripts as written: `--max_batch_size` the clients (per rank under
        // attention DP) and `--max_num_tokens` ⌊((k + 1) · batch + ISL + 127) / 64⌋ · 64, no
        // 8192 floor: 4 · 4 + 1024 + 127 → 1152 tokens.
        assert!(flags.contains(&("trtllm_scheduler_config_max_num_tokens", "1152".to_string())), "{flags:?}");
        assert!(flags.contains(&("trtllm_scheduler_config_batch_size_cap", "4".to_string())), "{flags:?}");
        // 128 clients on 8 attention-DP ranks: 16 a rank, k = 1: 2 · 16 + 8192 + 127 → 8320.
        let dp = recipe_flags(
            &point(&[
                ("backend", "trtllm"),
                ("backend_version", "1.1.0rc2.post2"),
                ("measured", "2026-01-14"),
                ("isl", "8192"),
                ("attention_dp_size", "8"),
            ]),
            128,
            8,
            false,
        );
        assert!(dp.contains(&("trtllm_scheduler_config_max_num_tokens", "8320".to_string())), "{dp:?}");
        assert!(dp.contains(&("trtllm_scheduler_config_batch_size_cap", "16".to_string())), "{dp:?}");
        assert!(dp.contains(&("replica_config_num_speculative_tokens", "1".to_string())), "{dp:?}");
        // The same image on the plain recipes' days, undated, or another image that day: none.
        for (version, measured) in [
            ("1.1.0rc2.post2", "2025-12-15"),
            ("1.1.0rc2.post2", "2026-01-28"),
            ("1.1.0rc2.post2", ""),
            ("1.2.0rc6.post2", "2026-01-14"),
        ] {
            assert_eq!(draft("trtllm", version, measured), None, "{version} {measured}");
        }
        // Another engine with that version and date: nothing of it.
        assert_eq!(draft("sglang", "1.1.0rc2.post2", "2026-01-14"), None);
    }

    #[test]
    fn the_mtp_only_sweep_of_a_shared_sglang_image_turns_eagle_mtp_on() {
        let sglang = |version: &str, measured: &str| {
            point(&[
                ("backend", "sglang"),
                ("backend_version", version),
                ("measured", measured),
                ("tp_size", "4"),
            ])
        };
        // `0.5.9` on 2026-03-20 ran only `qwen3.5_fp8_b200_mtp.sh`: 3 steps, top-1, 4 draft
        // tokens, `--max-running-requests $CONC`.
        let flags = recipe_flags(&sglang("0.5.9", "2026-03-20"), 256, 1, true);
        for want in [
            ("replica_config_speculative_method", "mtp"),
            ("replica_config_num_speculative_tokens", "3"),
            ("sglang_scheduler_config_speculative_eagle_topk", "1"),
            ("sglang_scheduler_config_speculative_num_draft_tokens", "4"),
            ("sglang_scheduler_config_batch_size_cap", "256"),
            ("sglang_scheduler_config_scheduler_recv_interval", "30"),
        ] {
            assert!(flags.contains(&(want.0, want.1.to_string())), "{want:?} in {flags:?}");
        }
        // An undated copy of such a row takes its date, so its recipe.
        let mut copy = sglang("0.5.9", "");
        copy.copy_of_date = "2026-03-20".to_string();
        assert!(sglang_mtp_sweep(&copy).is_some());
        // The image on the plain recipe's days, undated, another image that day, another engine
        // with that image and date, or a disaggregated point: no speculation.
        for p in [
            sglang("0.5.9", "2026-03-24"),
            sglang("0.5.9", "2026-03-03"),
            sglang("0.5.9", ""),
            sglang("0.5.10.post1", "2026-03-20"),
            point(&[("backend", "vllm"), ("backend_version", "0.5.9"), ("measured", "2026-03-20")]),
        ] {
            let flags = recipe_flags(&p, 16, 1, true);
            assert!(flags.iter().all(|(f, _)| !f.contains("speculative")), "{flags:?}");
        }
        let mut disagg = sglang("0.5.9", "2026-03-20");
        disagg.mode = crate::points::Mode::Disaggregated;
        assert!(recipe_flags(&disagg, 16, 1, true).iter().all(|(f, _)| !f.contains("speculative")));
    }

    #[test]
    fn a_shared_days_mtp_sweep_turns_eagle_mtp_on_beyond_the_plain_recipes_sweep() {
        let dsr1 = |isl: &str, osl: &str, clients: &str, more: &[(&str, &str)]| {
            let mut o = vec![
                ("backend", "sglang"),
                ("backend_version", "0.5.9"),
                ("measured", "2026-03-25"),
                ("system", "b200_sxm"),
                ("precision", "fp8"),
                ("tp_size", "8"),
                ("moe_ep_size", "1"),
                ("isl", isl),
                ("osl", osl),
                ("batch_size", clients),
            ];
            o.extend_from_slice(more);
            point(&o)
        };
        // Beyond the plain recipe's sweep of that day (1k prompts past 64 clients, 8k past 4):
        // `dsr1_fp8_b200_mtp.sh`, 2 steps, top-1, 3 draft tokens, `--max-running-requests 512`.
        for (isl, osl, c) in [("1024", "1024", 128), ("1024", "8192", 512), ("8192", "1024", 8)] {
            let p = dsr1(isl, osl, &c.to_string(), &[]);
            let flags = recipe_flags(&p, c, 1, true);
            for want in [
                ("replica_config_speculative_method", "mtp"),
                ("replica_config_num_speculative_tokens", "2"),
                ("sglang_scheduler_config_speculative_eagle_topk", "1"),
                ("sglang_scheduler_config_speculative_num_draft_tokens", "3"),
                ("sglang_scheduler_config_batch_size_cap", "512"),
            ] {
                assert!(flags.contains(&(want.0, want.1.to_string())), "{want:?} in {flags:?}");
            }
        }
        // An undated copy of such a row takes its date, so its recipe.
        let mut copy = dsr1("8192", "1024", "64", &[("measured", "")]);
        copy.copy_of_date = "2026-03-25".to_string();
        assert!(sglang_mtp_sweep(&copy).is_some());
        // Within the plain sweep (either recipe), another deployment, GPU, checkpoint, image or
        // day: no speculation.
        for p in [
            dsr1("1024", "1024", "64", &[]),
            dsr1("1024", "8192", "4", &[]),
            dsr1("8192", "1024", "4", &[]),
            dsr1("8192", "1024", "32", &[("tp_size", "4")]),
            dsr1("1024", "1024", "128", &[("moe_ep_size", "8")]),
            dsr1("1024", "1024", "128", &[("system", "h200_sxm")]),
            dsr1("1024", "1024", "128", &[("precision", "fp4")]),
            dsr1("1024", "1024", "128", &[("backend_version", "0.5.10.post1")]),
            dsr1("1024", "1024", "128", &[("measured", "2026-03-24")]),
        ] {
            assert!(sglang_mtp_sweep(&p).is_none(), "{p:?}");
            let c = match p.mode {
                crate::points::Mode::Aggregated(i) => i.concurrency,
                crate::points::Mode::Disaggregated => 1,
            };
            assert!(recipe_flags(&p, c, 1, true).iter().all(|(f, _)| !f.contains("speculative")));
        }
    }

    #[test]
    fn hopper_vllm_rows_from_2026_01_02_run_mxfp4_experts_on_marlin() {
        let vllm = |system: &str, measured: &str| {
            point(&[("backend", "vllm"), ("system", system), ("measured", measured), ("isl", "1024")])
        };
        let marlin = |p: &ServingPoint| {
            recipe_flags(p, 4, 1, false).iter().any(|(f, v)| {
                *f == "roofline_execution_time_predictor_config_mxfp4_moe_marlin" && v == "true"
            })
        };
        assert!(marlin(&vllm("h200_sxm", "2026-03-27")));
        assert!(marlin(&vllm("h100_sxm", "2026-01-02")));
        assert!(!marlin(&vllm("h200_sxm", "2025-12-08")), "the Triton kernels before PR #327");
        assert!(!marlin(&vllm("h200_sxm", "")), "undated rows: the engine's default");
        assert!(!marlin(&vllm("b200_sxm", "2026-03-27")), "Blackwell scripts do not set it");
    }

    #[test]
    fn b200_vllm_rows_from_2025_09_24_run_mxfp4_experts_on_trtllm_gen_mxfp8() {
        let vllm = |system: &str, measured: &str| {
            point(&[("backend", "vllm"), ("system", system), ("measured", measured), ("isl", "1024")])
        };
        let mxfp8 = |p: &ServingPoint| {
            recipe_flags(p, 4, 1, true)
                .iter()
                .any(|(f, v)| *f == "roofline_execution_time_predictor_config_mxfp4_moe_mxfp8" && v == "true")
        };
        assert!(mxfp8(&vllm("b200_sxm", "2026-02-25")));
        assert!(mxfp8(&vllm("b200_sxm", "2025-11-02")));
        assert!(!mxfp8(&vllm("b200_sxm", "2025-09-20")), "before PR #48: the BF16 default");
        assert!(!mxfp8(&vllm("b200_sxm", "")), "undated rows: the engine's default");
        assert!(!mxfp8(&vllm("h200_sxm", "2026-03-27")), "Hopper scripts set Marlin instead");
    }

    #[test]
    fn the_vllm_sweeps_whose_scripts_raise_the_capture_size_replay_their_prompt_steps() {
        let vllm = |version: &str, measured: &str, isl: &str| {
            point(&[("backend", "vllm"), ("backend_version", version), ("measured", measured), ("isl", isl)])
        };
        let graph = "roofline_execution_time_predictor_config_cuda_graph_max_tokens";
        let budget = "vllm_v1_scheduler_config_chunk_size";
        let flag = |flags: &[(&str, String)], name: &str| {
            flags.iter().find(|(f, _)| *f == name).map(|(_, v)| v.clone())
        };
        // 0.19.0 on 2026-04-03: `--max-cudagraph-capture-size 2048 --max-num-batched-tokens
        // $((ISL * 2))`; the capture size is capped at the budget.
        let f = recipe_flags(&vllm("0.19.0", "2026-04-03", "1024"), 64, 1, true);
        assert_eq!(flag(&f, graph).as_deref(), Some("2048"));
        assert_eq!(flag(&f, budget).as_deref(), Some("2048"));
        let f = recipe_flags(&vllm("0.19.0", "2026-04-03", "8192"), 64, 1, true);
        assert_eq!(flag(&f, graph).as_deref(), Some("2048"));
        assert_eq!(flag(&f, budget).as_deref(), Some("16384"));
        // The image-less gpt-oss sweep of 2025-11-02: capture 2048, budget 8192.
        let f = recipe_flags(&vllm("", "2025-11-02", "1024"), 64, 1, true);
        assert_eq!(flag(&f, graph).as_deref(), Some("2048"));
        assert_eq!(flag(&f, budget).as_deref(), Some("8192"));
        // An undated copy takes its date.
        let mut copy = vllm("0.15.1", "", "1024");
        copy.copy_of_date = "2026-02-25".to_string();
        assert!(vllm_capture_sweep(&copy).is_some());
        // Sweeps whose scripts leave the default, another engine, a disaggregated point: nothing.
        let mut disagg = vllm("0.19.0", "2026-04-03", "1024");
        disagg.mode = crate::points::Mode::Disaggregated;
        for p in [
            vllm("0.19.0", "2026-04-20", "1024"),
            vllm("0.17.0", "2026-03-11", "1024"),
            vllm("0.18.0", "2026-03-27", "1024"),
            vllm("nightly-5b8c30d62b754b57", "2026-04-03", "1024"),
            vllm("0.15.1", "", "1024"),
            point(&[("backend", "sglang"), ("backend_version", "0.19.0"), ("measured", "2026-04-03")]),
            disagg,
        ] {
            let f = recipe_flags(&p, 64, 1, true);
            assert!(flag(&f, graph).is_none() && flag(&f, budget).is_none(), "{f:?}");
        }
    }

    #[test]
    fn trtllms_undated_rows_of_pre_rule_aic_images_run_without_the_overlap_scheduler() {
        let off = ("trtllm_scheduler_config_overlap_scheduler", "false".to_string());
        let flags = |pairs: &[(&str, &str)]| {
            let all = [&[("backend", "trtllm"), ("isl", "1024"), ("mode", "agg")][..], pairs].concat();
            recipe_flags(&point(&all), 64, 1, false)
        };
        let undated = flags(&[("backend_version", "1.0.0rc3"), ("measured", "")]);
        assert!(undated.contains(&off), "{undated:?}");
        // A dated row ran InferenceX's recipe; a later image's AIC config turns overlap on.
        for pairs in [
            &[("backend_version", "1.0.0rc3"), ("measured", "2025-10-01")][..],
            &[("backend_version", "1.2.0rc6.post1"), ("measured", "")][..],
        ] {
            let f = flags(pairs);
            assert!(!f.iter().any(|(k, _)| *k == off.0), "{pairs:?}: {f:?}");
        }
        // The token budget is unchanged.
        assert!(undated.contains(&("trtllm_scheduler_config_max_num_tokens", "8192".to_string())));
        // A disaggregated point's servers are configured apart: no such flag.
        let mut disagg = point(&[("backend", "trtllm"), ("backend_version", "1.0.0rc3"), ("measured", "")]);
        disagg.mode = crate::points::Mode::Disaggregated;
        let f = recipe_flags(&disagg, 64, 1, false);
        assert!(!f.iter().any(|(k, _)| *k == off.0), "{f:?}");
    }

    #[test]
    fn vllms_undated_rows_keep_the_engines_default_scheduling() {
        // On a B200: Hopper rows from 2026-01-02 also take the Marlin MXFP4 MoE flag (dated B200
        // rows take the MXFP4 × MXFP8 one, which moves only MXFP4 experts).
        let undated = point(&[
            ("backend", "vllm"),
            ("system", "b200_sxm"),
            ("backend_version", "0.12.0"),
            ("measured", ""),
        ]);
        assert_eq!(recipe_flags(&undated, 28, 1, false), []);
        // A dated row, and an undated copy of one, ran InferenceX's recipe.
        let dated = point(&[
            ("backend", "vllm"),
            ("system", "b200_sxm"),
            ("backend_version", "0.12.0"),
            ("measured", "2026-01-10"),
        ]);
        let async_on = [
            ("vllm_v1_scheduler_config_async_scheduling", "true".to_string()),
            ("roofline_execution_time_predictor_config_mxfp4_moe_mxfp8", "true".to_string()),
        ];
        assert_eq!(recipe_flags(&dated, 28, 1, false), async_on);
        let mut copy = undated.clone();
        copy.copy_of_date = "2026-01-10".to_string();
        assert_eq!(recipe_flags(&copy, 28, 1, false), async_on);
    }

    #[test]
    fn engine_recipes_turn_async_scheduling_on_and_size_the_token_budget() {
        assert_eq!(
            recipe_flags(&point(&[("backend", "vllm")]), 16, 1, false),
            [("vllm_v1_scheduler_config_async_scheduling", "true".to_string())]
        );
        // ⌈(128 + 8192 + 64) / 64⌉ · 64 = 8384; at most the default below it.
        let budget = |isl: &str, c| recipe_flags(&point(&[("backend", "trtllm"), ("isl", isl)]), c, 1, true);
        assert_eq!(budget("8192", 128), [("trtllm_scheduler_config_max_num_tokens", "8384".to_string())]);
        assert_eq!(budget("1024", 64), [("trtllm_scheduler_config_max_num_tokens", "8192".to_string())]);
        // SGLang: a receive interval on Blackwell, 10 below 16 clients, 30 from 16; none on
        // Hopper or under attention DP.
        // SGLang's aggregated points also run without the radix cache.
        let recv = "sglang_scheduler_config_scheduler_recv_interval";
        let radix = ("cache_config_enable_prefix_caching", "false".to_string());
        assert_eq!(recipe_flags(&point(&[("backend", "sglang")]), 8, 1, false), vec![radix.clone()]);
        assert_eq!(
            recipe_flags(&point(&[("backend", "sglang")]), 8, 1, true),
            [radix.clone(), (recv, "10".to_string())]
        );
        assert_eq!(
            recipe_flags(&point(&[("backend", "sglang")]), 16, 1, true),
            [radix.clone(), (recv, "30".to_string())]
        );
        assert_eq!(
            recipe_flags(&point(&[("backend", "sglang"), ("attention_dp_size", "8")]), 64, 8, true),
            [radix]
        );
        // An undated row of its own (AIConfigurator's run, not InferenceX's): the engine's
        // defaults, radix cache on and the receive interval 1.
        assert!(recipe_flags(&point(&[("backend", "sglang"), ("measured", "")]), 16, 1, true).is_empty());
        // 0.5.9 on B200 before DeepSeek's scripts took the image: Qwen3.5's 32768-token budgets,
        // for a dated row and an undated copy of one; not on 2026-03-25 or on another system.
        let budget = ("sglang_scheduler_config_max_prefill_tokens", "32768".to_string());
        let b200 = |date: &str| {
            let p = point(&[
                ("backend", "sglang"),
                ("backend_version", "0.5.9"),
                ("system", "b200_sxm"),
                ("measured", date),
            ]);
            recipe_flags(&p, 16, 1, true)
        };
        assert!(b200("2026-03-03").contains(&budget));
        assert!(b200("2026-03-24").contains(&budget));
        assert!(!b200("2026-03-25").contains(&budget));
        let mut copy = point(&[
            ("backend", "sglang"),
            ("backend_version", "0.5.9"),
            ("system", "b200_sxm"),
            ("measured", ""),
        ]);
        copy.copy_of_date = "2026-03-24".to_string();
        assert!(recipe_flags(&copy, 16, 1, true).contains(&budget));
        copy.system = "h200_sxm".to_string();
        assert!(!recipe_flags(&copy, 16, 1, false).contains(&budget));
        // 2026-03-25: DeepSeek-R1's fp8 script, 32768 at TP 8 and 8192 at TP 4; its MTP twin's
        // points beyond the plain sweep and the fp4 script keep the default.
        let dsr1 = |more: &[(&str, &str)]| {
            let mut all = vec![
                ("backend", "sglang"),
                ("backend_version", "0.5.9"),
                ("system", "b200_sxm"),
                ("measured", "2026-03-25"),
                ("moe_ep_size", "1"),
                ("osl", "1024"),
            ];
            all.extend_from_slice(more);
            let p = point(&all);
            let crate::points::Mode::Aggregated(i) = p.mode else { unreachable!() };
            recipe_flags(&p, i.concurrency, 1, true)
        };
        let budget8k = ("sglang_scheduler_config_max_prefill_tokens", "8192".to_string());
        assert!(dsr1(&[("tp_size", "8"), ("batch_size", "64")]).contains(&budget));
        assert!(dsr1(&[("tp_size", "4"), ("isl", "8192"), ("batch_size", "32")]).contains(&budget8k));
        let beyond = dsr1(&[("tp_size", "8"), ("batch_size", "128")]);
        assert!(beyond.contains(&("replica_config_speculative_method", "mtp".to_string())));
        assert!(!beyond.iter().any(|(k, _)| *k == "sglang_scheduler_config_max_prefill_tokens"));
        let fp4 = dsr1(&[("tp_size", "8"), ("moe_ep_size", "8"), ("precision", "fp4"), ("batch_size", "64")]);
        assert!(!fp4.iter().any(|(k, _)| *k == "sglang_scheduler_config_max_prefill_tokens"));
        // Attention DP: balancing on, for TensorRT-LLM only.
        let dp =
            |backend| recipe_flags(&point(&[("backend", backend), ("attention_dp_size", "8")]), 64, 8, true);
        assert!(
            dp("trtllm")
                .contains(&("trtllm_scheduler_config_attention_dp_enable_balance", "true".to_string()))
        );
        assert_eq!(dp("vllm").len(), 1);
    }

    #[test]
    fn sglang_059_b200_fp8_scripts_run_flashinfer_trtllm_fp8_gemms() {
        // Every fp8 script of image 0.5.9 on B200 from 2026-03-02 to 2026-03-25 exports
        // SGLANG_ENABLE_FLASHINFER_GEMM=true (or passes --fp8-gemm-backend flashinfer_trtllm);
        // not fp4, not another day, system or image, not an undated row.
        let flagged = |more: &[(&str, &str)]| {
            let mut all = vec![
                ("backend", "sglang"),
                ("backend_version", "0.5.9"),
                ("system", "b200_sxm"),
                ("measured", "2026-03-25"),
                ("precision", "fp8"),
                ("tp_size", "8"),
                ("batch_size", "4"),
            ];
            all.extend_from_slice(more);
            recipe_flags(&point(&all), 4, 1, true).contains(&(
                "roofline_execution_time_predictor_config_flashinfer_trtllm_fp8_gemm",
                "true".to_string(),
            ))
        };
        assert!(flagged(&[]));
        assert!(flagged(&[("measured", "2026-03-03")]));
        assert!(!flagged(&[("measured", "2026-02-28")]));
        assert!(!flagged(&[("measured", "")]));
        assert!(!flagged(&[("precision", "fp4")]));
        assert!(!flagged(&[("system", "b300_sxm")]));
        assert!(!flagged(&[("system", "h200_sxm")]));
        assert!(!flagged(&[("backend_version", "0.5.10.post1")]));
        // 0.5.10.post1 on B300 on 2026-04-17: `dsr1_fp8_b300.sh`'s TP 8 / EP 1 only (the TP 4 / EP 1
        // deployment is also `qwen3.5_fp8_b300.sh`'s, which does not export it).
        let b300 = [("backend_version", "0.5.10.post1"), ("system", "b300_sxm"), ("measured", "2026-04-17")];
        assert!(flagged(&b300));
        assert!(!flagged(&[b300.as_slice(), &[("tp_size", "4")]].concat()));
        assert!(!flagged(&[b300.as_slice(), &[("moe_ep_size", "8")]].concat()));
        assert!(!flagged(&[b300.as_slice(), &[("measured", "2026-04-18")]].concat()));
        assert!(!flagged(&[b300.as_slice(), &[("precision", "fp4")]].concat()));
    }

    #[test]
    fn dsr1_fp8_b200_scripts_mem_fraction_static_sets_the_memory_margin() {
        // `dsr1_fp8_b200.sh` at `12ba0ae07`: `--mem-fraction-static 0.95` at TP 4, 0.82 at TP 8
        // (and its MTP twin 0.82); nothing on another day, system, precision or EP, undated rows
        // or disaggregated points.
        let dsr1 = |more: &[(&str, &str)]| {
            let mut all = vec![
                ("backend", "sglang"),
                ("backend_version", "0.5.9"),
                ("system", "b200_sxm"),
                ("measured", "2026-03-25"),
                ("precision", "fp8"),
                ("moe_ep_size", "1"),
                ("isl", "8192"),
                ("osl", "1024"),
            ];
            all.extend_from_slice(more);
            point(&all)
        };
        let margin = |p: &ServingPoint| {
            let c = match p.mode {
                crate::points::Mode::Aggregated(i) => i.concurrency,
                crate::points::Mode::Disaggregated => 16,
            };
            recipe_flags(p, c, 1, true)
                .into_iter()
                .find(|(k, _)| *k == "cache_config_memory_margin_fraction")
                .map(|(_, v)| v)
        };
        let tp4 = dsr1(&[("tp_size", "4"), ("batch_size", "32")]);
        assert_eq!(margin(&tp4).as_deref(), Some("0.0500"));
        assert_eq!(margin(&dsr1(&[("tp_size", "8"), ("batch_size", "64")])).as_deref(), Some("0.1800"));
        // A point only the MTP recipe ran: its script's 0.82 as well.
        let mtp = dsr1(&[("tp_size", "8"), ("batch_size", "256")]);
        assert!(sglang_mtp_sweep(&mtp).is_some());
        assert_eq!(margin(&mtp).as_deref(), Some("0.1800"));
        // An undated copy takes the row's date.
        let mut copy = dsr1(&[("tp_size", "4"), ("batch_size", "8"), ("measured", "")]);
        assert_eq!(margin(&copy), None);
        copy.copy_of_date = "2026-03-25".to_string();
        assert_eq!(margin(&copy).as_deref(), Some("0.0500"));
        for p in [
            dsr1(&[("tp_size", "4"), ("batch_size", "8"), ("measured", "2026-03-24")]),
            dsr1(&[("tp_size", "4"), ("batch_size", "8"), ("system", "h200_sxm")]),
            dsr1(&[("tp_size", "4"), ("batch_size", "8"), ("backend_version", "0.5.10.post1")]),
            dsr1(&[("tp_size", "4"), ("batch_size", "8"), ("precision", "fp4"), ("moe_ep_size", "4")]),
            dsr1(&[("tp_size", "8"), ("batch_size", "8"), ("attention_dp_size", "8")]),
        ] {
            assert_eq!(margin(&p), None, "{p:?}");
        }
        let mut disagg = tp4.clone();
        disagg.mode = crate::points::Mode::Disaggregated;
        assert_eq!(margin(&disagg), None);
    }

    #[test]
    fn dsr1_fp8_h200_script_sets_its_prefill_budgets_and_mem_fraction() {
        // `dsr1_fp8_h200.sh` on 0.5.9 (2026-03-25): `--chunked-prefill-size 32768
        // --max-prefill-tokens 32768 --mem-fraction-static 0.82` at TP 8; SGLang's defaults on
        // another day, image, TP, precision, or with attention DP.
        let h200 = |more: &[(&str, &str)]| {
            let mut all = vec![
                ("backend", "sglang"),
                ("backend_version", "0.5.9"),
                ("system", "h200_sxm"),
                ("measured", "2026-03-25"),
                ("precision", "fp8"),
                ("tp_size", "8"),
                ("moe_ep_size", "1"),
                ("isl", "8192"),
                ("osl", "1024"),
                ("batch_size", "16"),
            ];
            all.extend_from_slice(more);
            point(&all)
        };
        let flag = |p: &ServingPoint, name: &str| {
            recipe_flags(p, 16, 1, false).into_iter().find(|(k, _)| *k == name).map(|(_, v)| v)
        };
        let plain = h200(&[]);
        assert_eq!(flag(&plain, "sglang_scheduler_config_chunked_prefill_size").as_deref(), Some("32768"));
        assert_eq!(flag(&plain, "sglang_scheduler_config_max_prefill_tokens").as_deref(), Some("32768"));
        assert_eq!(flag(&plain, "cache_config_memory_margin_fraction").as_deref(), Some("0.1800"));
        for p in [
            h200(&[("measured", "2026-03-24")]),
            h200(&[("backend_version", "0.5.10.post1")]),
            h200(&[("tp_size", "4")]),
            h200(&[("precision", "fp4")]),
            h200(&[("attention_dp_size", "8")]),
        ] {
            assert_eq!(flag(&p, "sglang_scheduler_config_chunked_prefill_size"), None, "{p:?}");
            assert_eq!(flag(&p, "cache_config_memory_margin_fraction"), None, "{p:?}");
        }
    }

    #[test]
    fn dsr1_fp8_b200_tp4_script_fixes_its_receive_interval_at_10() {
        // `dsr1_fp8_b200.sh` on 0.5.9 (2026-03-25), TP 4 branch: `SCHEDULER_RECV_INTERVAL=10`
        // at 16 and 32 clients too; its TP 8 branch and the fp4 script keep 30 from 16 clients.
        let b200 = |more: &[(&str, &str)]| {
            let mut all = vec![
                ("backend", "sglang"),
                ("backend_version", "0.5.9"),
                ("system", "b200_sxm"),
                ("measured", "2026-03-25"),
                ("precision", "fp8"),
                ("tp_size", "4"),
                ("moe_ep_size", "1"),
                ("isl", "8192"),
                ("osl", "1024"),
                ("batch_size", "32"),
            ];
            all.extend_from_slice(more);
            point(&all)
        };
        let interval = |p: &ServingPoint, clients: u32| {
            recipe_flags(p, clients, 1, true)
                .into_iter()
                .find(|(k, _)| *k == "sglang_scheduler_config_scheduler_recv_interval")
                .map(|(_, v)| v)
        };
        assert_eq!(interval(&b200(&[]), 32).as_deref(), Some("10"));
        assert_eq!(interval(&b200(&[]), 4).as_deref(), Some("10"));
        for p in [
            b200(&[("tp_size", "8")]),
            b200(&[("precision", "fp4"), ("moe_ep_size", "4")]),
            b200(&[("measured", "2026-03-24")]),
        ] {
            assert_eq!(interval(&p, 32).as_deref(), Some("30"), "{p:?}");
        }
    }

    #[test]
    fn model_recipes_apply_to_their_model_engine_and_time() {
        let p = |overrides: &[(&str, &str)]| {
            let mut all = vec![("backend", "trtllm"), ("isl", "1024"), ("osl", "1024"), ("tp_size", "4")];
            all.extend_from_slice(overrides);
            let p = point(&all);
            model_recipe_flags(&p, p.attention_dp_size.unwrap_or(1))
        };
        assert_eq!(p(&[]).len(), 3, "16384 tokens and batch waiting for 1k/1k below TP 8");
        assert_eq!(p(&[("tp_size", "8")]).len(), 1);
        assert!(p(&[("backend", "vllm")]).is_empty());
        assert!(p(&[("measured", "2026-02-01")]).is_empty());
        assert!(p(&[("model_path", "Qwen/Qwen3-32B")]).is_empty());
        // DeepSeek-R1's recipes: balancing after 60 iterations, no batching wait, with DP only.
        let r1 = [("model_path", "deepseek-ai/DeepSeek-R1"), ("tp_size", "1")];
        let flags = p(&[r1[0], r1[1], ("attention_dp_size", "8"), ("moe_ep_size", "8")]);
        assert!(flags.contains(&("trtllm_scheduler_config_attention_dp_timeout_iters", "60".to_string())));
        assert!(
            flags.contains(&("trtllm_scheduler_config_attention_dp_batching_wait_iters", "0".to_string()))
        );
        assert!(p(&r1).is_empty());
        // The instance's DP, not the column: a row recording none that ran a script's DP.
        let scripted = point(&[("backend", "trtllm"), r1[0], ("tp_size", "8")]);
        assert_eq!(model_recipe_flags(&scripted, 8).len(), 2);
        assert!(model_recipe_flags(&scripted, 1).is_empty());
        // Qwen3.5's SGLang recipes as the rows ran them: 32768-token prefill budgets on B200
        // before the fp8 script's new arguments of 2026-04-13 (the receive interval left to the
        // engine-wide rule); on B300 the fp8 script, from its first day, reads every 10
        // iterations and caps the running requests at the clients.
        let qwen = |more: &[(&str, &str)]| {
            let mut all = vec![
                ("backend", "sglang"),
                ("model_path", "Qwen/Qwen3.5-397B-A17B"),
                ("system", "b200_sxm"),
                ("moe_quant_mode", "fp8_block"),
                ("measured", "2026-03-20"),
            ];
            all.extend_from_slice(more);
            model_recipe_flags(&point(&all), 1)
        };
        let budget = ("sglang_scheduler_config_max_prefill_tokens", "32768".to_string());
        assert_eq!(qwen(&[("batch_size", "8")]), prefill_budgets(32768));
        assert!(qwen(&[("batch_size", "8"), ("measured", "2026-04-20")]).is_empty());
        assert!(
            qwen(&[("batch_size", "8"), ("moe_quant_mode", "nvfp4"), ("measured", "2026-04-08")])
                .contains(&budget)
        );
        let b300 =
            |date: &'static str| qwen(&[("batch_size", "64"), ("system", "b300_sxm"), ("measured", date)]);
        assert!(
            b300("2026-04-17")
                .contains(&("sglang_scheduler_config_scheduler_recv_interval", "10".to_string()))
        );
        assert!(b300("2026-04-17").contains(&("sglang_scheduler_config_batch_size_cap", "64".to_string())));
        assert!(b300("2026-04-03").is_empty(), "no InferenceX fp8 B300 script before 2026-04-17");
        assert!(qwen(&[("batch_size", "8"), ("system", "h200_sxm")]).is_empty());
        // GLM-5's fp8 Blackwell recipes read every iteration.
        let glm = model_recipe_flags(
            &point(&[
                ("backend", "sglang"),
                ("model_path", "zhipuai/GLM-5"),
                ("system", "b300_sxm"),
                ("moe_quant_mode", "fp8_block"),
                ("measured", "2026-04-03"),
                ("batch_size", "64"),
            ]),
            1,
        );
        assert!(glm.contains(&("sglang_scheduler_config_scheduler_recv_interval", "1".to_string())));
        assert!(glm.contains(&("sglang_scheduler_config_batch_size_cap", "64".to_string())));
    }

    #[test]
    fn an_undated_copy_of_a_dated_run_takes_its_recipes_and_image() {
        use crate::points::parse_points;
        use crate::points::tests::{HEADER, row};
        let llama = [("backend", "trtllm"), ("isl", "1024"), ("osl", "1024"), ("tp_size", "4")];
        let dated =
            row(&[&llama[..], &[("measured", "2025-10-12"), ("silicon_ttft_ms", "200.504")]].concat());
        let copy = row(&[&llama[..], &[("measured", ""), ("silicon_ttft_ms", "200.50")]].concat());
        let other = row(&[&llama[..], &[("measured", ""), ("silicon_ttft_ms", "300.50")]].concat());
        let file = parse_points(&format!("{HEADER}\n{dated}\n{copy}\n{other}\n"), "t.csv").unwrap();
        let [dated, copy, other] = [&file.points[0], &file.points[1], &file.points[2]];
        assert_eq!(model_recipe_flags(copy, 1), model_recipe_flags(dated, 1));
        assert_eq!(model_recipe_flags(copy, 1).len(), 3);
        assert!(model_recipe_flags(other, 1).is_empty(), "an undated row of its own has no date to match");
        // Blank versions: the copy ran its run's early image, an undated row the newest.
        assert_eq!(engine_version(copy), "1.1.0rc2.post2");
        assert_eq!(engine_version(other), "latest");
    }
}
