//! Serving engines: `--serving_engine vllm|sglang|trtllm` (and `--serving_engine_version`)
//! stand for what that engine does by itself on the chosen GPU: its replica scheduler and the
//! defaults it applies (token budgets, request caps, KV block size, prefix caching, how much
//! memory it keeps back). Each engine in [`SERVING_ENGINES`] turns a target (version, device)
//! into a bundle of flag values; a flag set explicitly overrides its bundle value, and without
//! `--serving_engine` nothing changes (Vidur's rules and defaults). Every rule names its
//! source in docs/policies.md ("Serving engines").
//!
//! A bundle is a plain list of (flag, value) rows addressed by flag name, so an engine default
//! that lives in another family (an execution-time knob such as the all-reduce kernel or the
//! per-step CPU overhead) is one more row in that engine's function: no code here knows what a
//! flag means, and `apply` refuses a row whose flag or value the table does not accept, naming
//! `--serving_engine`.

use crate::catalog::{self, Lookup};
use crate::config::{Config, ConfigError, FlagDef, FlagValue};

/// One flag value of an engine's bundle.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    /// The flag.
    pub flag: &'static str,
    /// Its value, as CLI text.
    pub value: String,
}

impl Setting {
    fn new(flag: &'static str, value: impl ToString) -> Setting {
        Setting { flag, value: value.to_string() }
    }
}

/// What an engine's defaults depend on.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineTarget {
    /// The engine version (`None`: the newest modelled).
    pub version: Option<Version>,
    /// The GPU's catalogue id (`h100`, `custom`, ...).
    pub device: String,
    /// The GPU's memory, GiB.
    pub device_memory_gib: f64,
    /// Tensor-parallel GPUs per replica.
    pub tensor_parallel_size: u32,
    /// Pipeline stages per replica.
    pub pipeline_stages: u32,
    /// Attention data-parallel ranks per replica.
    pub attention_dp_size: u32,
    /// Whether the GPU has fp4 tensor cores (Blackwell: the catalogue lists an fp4 rate).
    pub fp4_tensor_cores: bool,
    /// The weights' dtype (`replica_config_weight_dtype`: fp16, fp8, fp4, ...).
    pub weight_dtype: String,
    /// Whether the catalogued model uses multi-head latent attention (the DeepSeek-V3 family;
    /// false for a model the catalogue lacks).
    pub latent_attention: bool,
    /// Whether the catalogued model adds a sparse-attention indexer over its attention
    /// (DeepSeek Sparse Attention: DeepSeek-V3.2, GLM-5; false for a model the catalogue lacks).
    pub sparse_indexer: bool,
    /// Whether the catalogued model has Gated DeltaNet linear-attention layers (the hybrid
    /// Qwen3-Next / Qwen3.5 architecture; false for a model the catalogue lacks).
    pub linear_attention: bool,
    /// The catalogued model's Hugging Face architecture class (`GptOssForCausalLM`, ...;
    /// `None` for a model the catalogue lacks or whose entry names none).
    pub architecture: Option<&'static str>,
    /// Speculative decoding's method (`replica_config_speculative_method`: mtp, eagle,
    /// draft_model; `None` when off).
    pub speculative: Option<String>,
    /// Whether the user gave the speculative flags that fix k (the draft count or the list of
    /// per-position rates).
    pub speculative_tokens_given: bool,
}

/// A registered serving engine.
pub struct ServingEngineEntry {
    /// Its `--serving_engine` name.
    pub name: &'static str,
    /// What it sets, in one sentence; empty without the engine's `help-texts`
    /// feature ([`crate::config::help_text`]).
    pub summary: &'static str,
    /// The flag values it stands for on `target`.
    pub bundle: fn(&EngineTarget) -> Vec<Setting>,
}

/// Every serving engine, by name.
pub static SERVING_ENGINES: &[ServingEngineEntry] = &[
    ServingEngineEntry {
        name: "vllm",
        summary: crate::config::help_text(
            "vLLM V1 (`vllm serve`): the vllm_v1 scheduler with 8192 tokens and 1024 requests per step on GPUs of 70 GiB or more (A100 excepted; else 2048 / 256), prefix caching, 16-token blocks without preallocation, 10 % of memory kept back; async scheduling from 0.14, whole-prompt admission from 0.19.",
        ),
        bundle: vllm,
    },
    ServingEngineEntry {
        name: "sglang",
        summary: crate::config::help_text(
            "SGLang (`sglang.launch_server`): the sglang scheduler (prefill first, new-token-ratio admission, retraction, overlap), chunked prefill of 2048-16384 tokens by GPU memory, radix cache, 1-token pages, memory kept back by SGLang's reserved-memory rule.",
        ),
        bundle: sglang,
    },
    ServingEngineEntry {
        name: "trtllm",
        summary: crate::config::help_text(
            "TensorRT-LLM (`trtllm-serve`, PyTorch backend): the trtllm scheduler (in-flight batching, guaranteed_no_evict, whole contexts, 8192 tokens and 2048 requests per iteration, overlap), block reuse, 32-token blocks, 10 % of memory kept back.",
        ),
        bundle: trtllm,
    },
];

/// The `--serving_engine` value that selects no engine model.
pub const NO_ENGINE: &str = "none";

/// The flags of this module: the engine and its version.
pub const VERSION_FLAG: FlagDef = FlagDef::string(
    "serving_engine_version",
    "latest",
    "Version of the serving engine (e.g. 0.10.2, 0.5.6.post2, 1.1.0rc2): rules that changed between versions follow it; latest = the newest modelled.",
);

/// An engine version: major, minor, patch (suffixes such as `rc2` or `.post1` are ignored).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl Version {
    /// Reads `0.10.2`, `v0.11`, `1.1.0rc2.post2`, ...; `latest`, `nightly…` and an empty text
    /// mean the newest (`None`).
    pub fn parse(text: &str) -> Result<Option<Version>, String> {
        let t = text.trim();
        if t.is_empty() || t == "latest" || t.starts_with("nightly") {
            return Ok(None);
        }
        let t = t.strip_prefix('v').unwrap_or(t);
        let mut parts = [0u32; 3];
        let mut count = 0;
        for (i, part) in t.split('.').take(3).enumerate() {
            let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
            if digits.is_empty() {
                break;
            }
            parts[i] = digits.parse().map_err(|_| format!("'{text}' has a number too large"))?;
            count += 1;
            if digits.len() < part.len() {
                break;
            }
        }
        if count < 2 {
            return Err(format!("'{text}' is not a version"));
        }
        Ok(Some(Version(parts[0], parts[1], parts[2])))
    }

    /// Whether `version` (`None`: the newest) is at least `major.minor`.
    fn at_least(version: Option<Version>, major: u32, minor: u32) -> bool {
        version.is_none_or(|v| v >= Version(major, minor, 0))
    }
}

/// The configuration a run uses: `config` with the chosen serving engine's bundle filled in
/// wherever a flag was not set explicitly, and the settings that came from the bundle.
pub fn apply(config: &Config) -> Result<(Config, Vec<Setting>), ConfigError> {
    apply_with(config, &catalog::Parsed)
}

/// [`apply`], reading the device's and the model's facts from `facts`: the page passes the
/// catalogues' compile-time index ([`catalog::index::Index`], the same entries), so its wasm
/// links no catalogue JSON.
pub fn apply_with(config: &Config, facts: &dyn Lookup) -> Result<(Config, Vec<Setting>), ConfigError> {
    let FlagValue::Str(name) = config.get("serving_engine") else {
        return Ok((config.clone(), Vec::new()));
    };
    let Some(entry) = SERVING_ENGINES.iter().find(|e| e.name == name) else {
        return Ok((config.clone(), Vec::new()));
    };
    let version_text = config.get(VERSION_FLAG.name).to_text();
    let version = Version::parse(&version_text).map_err(|e| {
        ConfigError::new(VERSION_FLAG.name, e)
            .with_hint("give major.minor[.patch], e.g. 0.10.2 or 1.1.0rc2, or latest")
    })?;
    let target = target(config, version, facts);
    let mut effective = config.clone();
    let mut applied = Vec::new();
    let settings = (entry.bundle)(&target).into_iter().chain(device_settings(&target));
    for setting in settings.chain(flashmla_sparse(entry.name, &target)) {
        if config.is_set(setting.flag) {
            continue;
        }
        effective.set(setting.flag, &setting.value).map_err(|e| {
            ConfigError::new(
                "serving_engine",
                format!("{name} sets --{} to {}: {}", setting.flag, setting.value, e.message),
            )
        })?;
        applied.push(setting);
    }
    Ok((effective, applied))
}

/// The device and parallelism the bundle depends on (a device the catalogue lacks is
/// refused later, naming its flag; its bundle then does not matter).
fn target(config: &Config, version: Option<Version>, facts: &dyn Lookup) -> EngineTarget {
    let device = config.get("replica_config_device").to_text();
    let device_memory_gib = if device == crate::custom_device::NAME {
        match config.get("custom_device_config_memory_gb") {
            FlagValue::Float(gib) => gib,
            FlagValue::Int(gib) => gib as f64,
            _ => 0.0,
        }
    } else {
        facts.device(&device).map_or(0.0, |(memory_gib, _)| memory_gib)
    };
    let int = |flag: &str| match config.get(flag) {
        FlagValue::Int(n) => n.clamp(1, i64::from(u32::MAX)) as u32,
        _ => 1,
    };
    // A custom device has FP4 tensor cores when its FP4 rate is given.
    let fp4_tensor_cores = if device == crate::custom_device::NAME {
        matches!(config.get("custom_device_config_fp4_tflops"), FlagValue::Float(r) if r > 0.0)
    } else {
        facts.device(&device).is_some_and(|(_, fp4)| fp4)
    };
    let model = facts.model(&config.get("replica_config_model_name").to_text());
    EngineTarget {
        version,
        device,
        device_memory_gib,
        tensor_parallel_size: int("replica_config_tensor_parallel_size"),
        pipeline_stages: int("replica_config_num_pipeline_stages"),
        attention_dp_size: int("replica_config_attention_dp_size"),
        fp4_tensor_cores,
        weight_dtype: config.get("replica_config_weight_dtype").to_text(),
        latent_attention: model.is_some_and(|(latent, _, _)| latent),
        sparse_indexer: model.is_some_and(|(_, sparse, _)| sparse),
        linear_attention: model.is_some_and(|(_, _, linear)| linear),
        architecture: facts.architecture(&config.get("replica_config_model_name").to_text()),
        speculative: Some(config.get("replica_config_speculative_method").to_text())
            .filter(|m| matches!(m.as_str(), "mtp" | "eagle" | "draft_model")),
        speculative_tokens_given: config.is_set("replica_config_num_speculative_tokens")
            || config.is_set("replica_config_speculative_acceptance_rates"),
    }
}

/// The catalogue's SM100-family GPUs (`is_sm100_supported`: capability major 10) and its Hopper
/// ones (SM90).
const SM100_DEVICES: &[&str] = &["b200", "b300", "gb200", "gb300"];
const SM90_DEVICES: &[&str] = &["h100", "h200"];

/// Whether DeepGEMM runs on `device`: its kernels are SM90 (Hopper) and SM100 (Blackwell) only
/// (deepseek-ai/DeepGEMM's README; vLLM's `has_deep_gemm` / `is_deep_gemm_supported` checks the
/// capability), so vLLM's fp8 MoE elsewhere (L40S, A100, MI300X, a custom device) stays on its
/// other kernels.
fn runs_deep_gemm(device: &str) -> bool {
    SM90_DEVICES.contains(&device) || SM100_DEVICES.contains(&device)
}

/// What the engines' per-tensor fp8 decode GEMMs on an H200 take of the fitted curve's
/// memory-bound time (`roofline_execution_time_predictor_config_fp8_gemm_stream_scale`).
/// AIC's H200 fp8 table (one GEMM at a time) streams Llama-3.1-70B's TP 1 layer weights at
/// 3.5 TB/s at 4 tokens; the measured decode steps of vLLM (CUTLASS) and TensorRT-LLM
/// (cuBLASLt) on H200 are 14-18 % shorter than that at every TP, while on H100 the same
/// engines' steps agree with AIC's H100 table within 2-9 %. At 0.8 the TP 1 layer GEMMs stream
/// at 4.0 TB/s, what AIC's H200 tables reach on their largest decode GEMMs (fp8 4 × 65536 ×
/// 8192: 4.1 TB/s). Fitted on those measured steps, not on a kernel table (VALIDATION.md,
/// "Llama-3.1-70B's fp8 decode on H200").
const H200_FP8_GEMM_STREAM_SCALE: f64 = 0.8;

/// Settings every engine takes on a device: the H200's per-tensor fp8 GEMM streaming.
fn device_settings(t: &EngineTarget) -> Vec<Setting> {
    match t.device.as_str() {
        "h200" => vec![Setting::new(
            "roofline_execution_time_predictor_config_fp8_gemm_stream_scale",
            H200_FP8_GEMM_STREAM_SCALE,
        )],
        _ => Vec::new(),
    }
}

/// Whether `engine` runs DeepSeek Sparse Attention on FlashMLA's sparse kernels
/// (`roofline_execution_time_predictor_config_flashmla_sparse`), set for sparse-indexer models
/// only. SGLang: its NSA backend's `flashmla_sparse` / `flashmla_kv` (`nsa_backend.py`,
/// `_forward_flashmla_sparse`, heads padded to 64 on SM90 and 128 on SM100). vLLM: its
/// `FLASHMLA_SPARSE` backend (`v1/attention/backends/mla/flashmla_sparse.py`, the same padding).
/// TensorRT-LLM: only below SM100 (`forward_sparse_mla_kvcache_bf16`, `flash_mla_sparse_fwd`
/// with heads padded to 64); SM100 runs its own absorbed kernels
/// (`forward_absorption_context`, `_torch/modules/attention.py`).
fn flashmla_sparse(engine: &str, t: &EngineTarget) -> Option<Setting> {
    let runs = match engine {
        "sglang" | "vllm" => true,
        "trtllm" => SM90_DEVICES.contains(&t.device.as_str()),
        _ => false,
    };
    (t.sparse_indexer && runs)
        .then(|| Setting::new("roofline_execution_time_predictor_config_flashmla_sparse", true))
}

/// vLLM V1 (`vllm serve`).
fn vllm(t: &EngineTarget) -> Vec<Setting> {
    // EngineArgs.get_batch_defaults: the OpenAI server's defaults for GPUs with ≥ 70 GiB that
    // are not A100s, else the smaller ones.
    let large = t.device_memory_gib >= 70.0 && !t.device.contains("a100");
    let (tokens, seqs) = if large { (8192, 1024) } else { (2048, 256) };
    vec![
        Setting::new("replica_scheduler_config_type", "vllm_v1"),
        Setting::new("vllm_v1_scheduler_config_chunk_size", tokens),
        Setting::new("vllm_v1_scheduler_config_batch_size_cap", seqs),
        Setting::new(
            "vllm_v1_scheduler_config_async_scheduling",
            Version::at_least(t.version, 0, 14) && t.pipeline_stages == 1,
        ),
        Setting::new("vllm_v1_scheduler_config_admit_full_prompt", Version::at_least(t.version, 0, 19)),
        // Under data parallelism one engine core per DP rank, each with its own scheduler,
        // budgets and KV cache, the front end picking a rank per request by load
        // (`DPLBAsyncMPClient`), the ranks stepping in lockstep (`DPEngineCoreProc`).
        Setting::new("vllm_v1_scheduler_config_dp_engine_cores", true),
        Setting::new("cache_config_enable_prefix_caching", true),
        Setting::new("cache_config_block_size", 16),
        Setting::new("cache_config_num_preallocate_tokens", 0),
        // --gpu-memory-utilization 0.9 of all memory, after the profile run's activation peak.
        Setting::new("cache_config_memory_margin_fraction", 0.1),
        Setting::new("cache_config_activation_memory", "profile"),
        // Its custom all-reduce for the message sizes it covers (NCCL above), and its GEMMs.
        Setting::new("roofline_execution_time_predictor_config_all_reduce_kernel", "vllm_custom"),
        // Before 0.11 its custom all-reduce takes messages below its 8 MiB buffer and pynccl the
        // rest (`CustomAllreduce(max_size=8192 * 1024)`, `CudaCommunicator.all_reduce`); from
        // 0.11 the symmetric-memory all-reduce (`VLLM_ALLREDUCE_USE_SYMM_MEM` on by default)
        // takes the mid sizes, which no table times, so the custom fit stands in at every size.
        Setting::new(
            "roofline_execution_time_predictor_config_custom_all_reduce_max_mib",
            if Version::at_least(t.version, 0, 11) { 0 } else { VLLM_CUSTOM_ALL_REDUCE_MAX_MIB },
        ),
        Setting::new("roofline_execution_time_predictor_config_gemm_kernels", "vllm"),
        // Per-tensor fp8 linears on SM100 run FlashInfer's `bmm_fp8` (cuBLASLt): `Fp8LinearOp`
        // prefers `flashinfer` from capability 10.0 (`w8a8_utils.py`; later releases'
        // `FlashInferScaledMMLinearKernel`, min capability 100); CUTLASS on Hopper.
        Setting::new(
            "roofline_execution_time_predictor_config_fp8_cublaslt_gemm",
            SM100_DEVICES.contains(&t.device.as_str()),
        ),
        // torch.compile's piecewise CUDA graphs for every step of up to
        // min(2 × max_num_seqs, 512, max_num_batched_tokens) tokens, prefill included; larger
        // steps run the compiled model eagerly.
        Setting::new("roofline_execution_time_predictor_config_eager_launch_us", VLLM_EAGER_LAUNCH_US),
        Setting::new("roofline_execution_time_predictor_config_eager_moe_layer_us", VLLM_EAGER_MOE_LAYER_US),
        // A step holding prompt tokens within the capture size replays piecewise graphs
        // (FULL_AND_PIECEWISE, the default from 0.11: `CudagraphDispatcher.dispatch` gives a
        // non-uniform batch PIECEWISE, NONE above `max_cudagraph_capture_size`), its attention
        // run from Python between the pieces: a host time per MoE layer in series, fitted as
        // the eager one (VALIDATION.md, "vLLM's mixed steps under piecewise graphs").
        Setting::new(
            "roofline_execution_time_predictor_config_piecewise_moe_layer_us",
            VLLM_PIECEWISE_MOE_LAYER_US,
        ),
        // That MoE host time comes on top of the eager step's GPU time (VALIDATION.md, "vLLM's
        // eager MoE host time in series").
        Setting::new("roofline_execution_time_predictor_config_eager_moe_host_serial", true),
        // Its fused MoE for block-fp8 experts at every size, AIC's tables' kernels: Triton on
        // Hopper (VALIDATION.md, "MoE kernels at decode sizes on Hopper"), FlashInfer's
        // TRTLLM-Gen one on Blackwell (`oracle/fp8.py`: FLASHINFER_TRTLLM first in the priority
        // list outside SM90; VALIDATION.md, "vLLM's fp8 MoE at decode sizes on Blackwell").
        Setting::new("roofline_execution_time_predictor_config_fp8_moe_fit_at_decode", true),
        // NVFP4 experts likewise on Blackwell: FlashInfer's TRTLLM-Gen NVFP4 MoE, the kernel
        // AIC's `moe_nvfp4.csv` times (`oracle/nvfp4.py`; VALIDATION.md, "vLLM's NVFP4 MoE at
        // decode sizes").
        Setting::new("roofline_execution_time_predictor_config_fp4_moe_fit_at_decode", true),
        // Its MoE gates are unquantised whatever the checkpoint (`ReplicatedLinear(...,
        // quant_config=None)` in `deepseek_v2.py`, `minimax_m2.py`, `qwen3_moe.py`; gpt-oss's
        // router a bf16 `torch.nn.Linear`): bf16 GEMMs (VALIDATION.md, "vLLM's MoE router
        // runs in bf16").
        Setting::new("roofline_execution_time_predictor_config_moe_router_bf16", true),
        // Its shared experts run on a second CUDA stream beside the gate and the routed experts
        // in steps of up to 256 tokens (`FusedMoE._maybe_setup_shared_experts_stream`,
        // `vllm/model_executor/layers/fused_moe/layer.py`; `VLLM_SHARED_EXPERTS_STREAM_TOKEN_THRESHOLD`
        // defaults to 256 in `vllm/envs.py`) — unless a modular kernel owns the shared expert
        // and runs it in series (`has_separate_shared_experts` false): before 0.18 the NVFP4
        // MoE under attention DP with EP built its all-to-all kernel with the shared expert
        // (`oracle/nvfp4.py::make_nvfp4_moe_kernel`, `if use_all2all_kernels`, 0.16-0.17; 0.15.1
        // turned the overlap off for FlashInfer CUTLASS with DP > 1), narrowed to DeepEP
        // low-latency only in 0.18 (vllm-project/vllm#36061).
        Setting::new(
            "roofline_execution_time_predictor_config_shared_experts_stream_max_tokens",
            if t.attention_dp_size > 1 && t.weight_dtype == "fp4" && !Version::at_least(t.version, 0, 18) {
                0
            } else {
                256
            },
        ),
        // 0.12's block-fp8 MoE on Hopper/Blackwell is DeepGEMM's wherever `deep_gemm` is
        // installed (its Docker image builds it, vllm-project/vllm#21533): VLLM_USE_DEEP_GEMM and
        // VLLM_MOE_USE_DEEP_GEMM default on, `is_deep_gemm_e8m0_used()` true on SM90 too
        // (vllm-project/vllm#26197) so `fused_experts` takes `deep_gemm_moe_fp8` at every batch
        // size, and `deepgemm_moe_permute` maps the worst-case layout's unreached blocks to
        // expert 0, all computed; 0.13 marks them −1 and DeepGEMM skips them
        // (vllm-project/vllm#30494; the 0.16.0 wheel's `deep_gemm_utils.py`). Read in the 0.12.0
        // wheel; VALIDATION.md, "vLLM 0.12's DeepGEMM MoE computes its padded blocks".
        Setting::new(
            "roofline_execution_time_predictor_config_deepgemm_moe_padded",
            t.version.is_some_and(|v| v >= Version(0, 12, 0) && v < Version(0, 13, 0))
                && runs_deep_gemm(&t.device),
        ),
        Setting::new(
            "roofline_execution_time_predictor_config_cuda_graph_max_tokens",
            vllm_capture_size(t, seqs).min(tokens),
        ),
        Setting::new("roofline_execution_time_predictor_config_cuda_graph_prefill", true),
        // Under data parallelism every rank pads its step to the busiest rank's token count
        // while CUDA graphs are on (its default): `coordinate_batch_across_dp` with
        // `allow_dp_padding = cudagraph_mode != NONE` (`v1/worker/gpu_model_runner.py`,
        // `_determine_batch_execution_and_padding`, the 0.12.0 and 0.16.0 wheels; 0.10.2's
        // `get_dp_padding` pads unless `enforce_eager`), an idle rank's dummy batch too, and the
        // MoE's dispatch carries every rank's padded tokens (`NaiveAll2AllManager.dispatch`).
        // vllm-project/vllm#34102 (merged 2026-02, not in the 0.16.0 wheel, so from 0.17) pads
        // only steps every rank replays from a graph. docs/policies.md, "Per-rank batches".
        Setting::new(
            "roofline_execution_time_predictor_config_dp_padding",
            if Version::at_least(t.version, 0, 17) { "graph_steps" } else { "all_steps" },
        ),
    ]
}

/// vLLM's largest CUDA-graph capture size before its cap at the token budget
/// (`VllmConfig._set_cudagraph_sizes`): min(2 × `max_num_seqs`, 512) — unless the model's
/// architecture raises it. For `GptOssForCausalLM` vLLM's per-architecture config hook
/// (`GptOssForCausalLMConfig.verify_and_update_config`, `vllm/model_executor/models/config.py`,
/// run from `VllmConfig.__post_init__` before the sizes are set) raises it to 1024 when the user
/// set no capture sizes: 1024 in 0.10.2 (through `cuda_graph_sizes`), 992 in 0.11.0 (FA3's full
/// graphs' limit then), 1024 again through `max_cudagraph_capture_size` from 0.11.2 (read in the
/// 0.10.2, 0.11.0, 0.11.2, 0.15.1 and 0.18.0 wheels). Older versions keep the default.
fn vllm_capture_size(t: &EngineTarget, seqs: u32) -> u32 {
    let default = (2 * seqs).min(512);
    if t.architecture != Some("GptOssForCausalLM") {
        return default;
    }
    match t.version {
        Some(v) if v < Version(0, 10, 2) => default,
        Some(v) if v >= Version(0, 11, 0) && v < Version(0, 11, 2) => default.max(992),
        _ => default.max(1024),
    }
}

/// vLLM's custom all-reduce buffer before 0.11, MiB (`CustomAllreduce.__init__`'s `max_size`).
const VLLM_CUSTOM_ALL_REDUCE_MAX_MIB: u32 = 8;
/// Host µs per eagerly launched kernel, fitted per engine to the fixed part of the measured MoE
/// TTFTs (VALIDATION.md, "The fixed part of TTFT").
const VLLM_EAGER_LAUNCH_US: f64 = 20.0;
/// See [`VLLM_EAGER_LAUNCH_US`].
const SGLANG_EAGER_LAUNCH_US: f64 = 40.0;
/// Host ms an SGLang iteration pays in series with its overlap scheduler off (spec v1's
/// `event_loop_normal`), and ms per request in its batch: FITTED on the 26 speculating
/// DeepSeek-R1 fp8 B200 rows of 0.5.9 after the FlashInfer fp8 GEMM rule, Qwen3.5's 63 held
/// out (VALIDATION.md, "SGLang's host time with the overlap scheduler off" and its refit at
/// the merge). No public profile gives the size.
const SGLANG_NON_OVERLAP_CPU_MS: f64 = 2.0;
/// See [`SGLANG_NON_OVERLAP_CPU_MS`].
const SGLANG_NON_OVERLAP_CPU_PER_REQUEST_MS: f64 = 0.1;
/// TensorRT-LLM's, fitted like the others: its context and mixed steps run eagerly (graphs
/// for generation-only batches only) in one forward with that iteration's generation
/// requests, so their host time stalls everyone in them, as InferenceX's MoE rows show (TPOT
/// split by output length). They were off while Qwen3-235B's TPOT went +103 % with them: those
/// rows are undated and their clients run in lock-step (the harness's undated client), and with
/// that client these constants fit them (VALIDATION.md, "TensorRT-LLM's fixed part of TTFT").
/// 40 µs was fitted on launch counts that still held the kernels TensorRT-LLM fuses (RoPE into
/// the KV-cache write, the add + norm into the all-reduces); 53 µs keeps the host time per
/// layer of the dense model that bounds the fit (Llama-3.1-70B at TP > 1: 12 × 40 = 480 µs,
/// 9 × 53 = 477 µs) under the counts without them (VALIDATION.md, branch `trt37`).
const TRTLLM_EAGER_LAUNCH_US: f64 = 53.0;
/// Host µs per MoE layer of an eager step beyond its launches, fitted likewise; it runs in
/// series with the step's GPU time (`eager_moe_host_serial`; VALIDATION.md, "vLLM's eager MoE
/// host time in series").
const VLLM_EAGER_MOE_LAYER_US: f64 = 1000.0;
/// Host µs per MoE layer of a step holding prompt tokens that vLLM replays from piecewise
/// graphs, in series with its GPU time; fitted on the Blackwell MoE rows whose recipes capture
/// graphs up to 2048 tokens (their 1k-prompt mixed steps replay piecewise; VALIDATION.md,
/// "vLLM's mixed steps under piecewise graphs").
const VLLM_PIECEWISE_MOE_LAYER_US: f64 = 400.0;
/// See [`VLLM_EAGER_MOE_LAYER_US`].
const SGLANG_EAGER_MOE_LAYER_US: f64 = 2500.0;
/// SGLang's FlashInfer TRTLLM-Gen MoE runner (`--moe-runner-backend flashinfer_trtllm`): the
/// same one-op runner as TensorRT-LLM's TRTLLM-Gen MoE (routing, permutation, both grouped
/// GEMMs and the finalize in one C++ call), so its MoE layer's Python part is taken to be the
/// same as that runner's, [`TRTLLM_GEN_EAGER_MOE_LAYER_US`] (VALIDATION.md, "SGLang's MoE
/// runner by architecture").
const SGLANG_TRTLLM_GEN_EAGER_MOE_LAYER_US: f64 = TRTLLM_GEN_EAGER_MOE_LAYER_US;
/// See [`TRTLLM_EAGER_LAUNCH_US`]: its CUTLASS (and Hopper's Triton / DeepGEMM) fused-MoE
/// modules, whose routing method, input quantisation, expert maps and workspace set-up run from
/// Python before the C++ MoE op.
pub const TRTLLM_EAGER_MOE_LAYER_US: f64 = 1500.0;
/// Its TRTLLM-Gen MoE (`TRTLLMGenFusedMoE`), what its recipes pick on Blackwell for fp4 experts:
/// routing, permutation, both grouped GEMMs and the finalize run inside one C++ runner op, so
/// the MoE layer's Python part is a fraction of the CUTLASS module's (fitted: gpt-oss-120b on
/// B200, VALIDATION.md "TensorRT-LLM's MoE backends").
pub const TRTLLM_GEN_EAGER_MOE_LAYER_US: f64 = 300.0;
/// Host µs per latent-attention layer of its eager steps beyond the launches: its MLA module
/// splits context and generation requests and sets up the latent projections, RoPE and the
/// FMHA's fp8 inputs from Python (fitted on the DeepSeek rows, where the MoE layer's cost above
/// was standing in for it).
pub const TRTLLM_EAGER_LATENT_ATTENTION_LAYER_US: f64 = 1200.0;

/// The TensorRT-LLM MoE module's host µs per eager MoE layer on `t`: TRTLLM-Gen's on GPUs with
/// fp4 tensor cores running fp4 experts, else the CUTLASS module's.
fn trtllm_moe_layer_us(t: &EngineTarget) -> f64 {
    if t.fp4_tensor_cores && t.weight_dtype == "fp4" {
        TRTLLM_GEN_EAGER_MOE_LAYER_US
    } else {
        TRTLLM_EAGER_MOE_LAYER_US
    }
}

/// TensorRT-LLM's CUDA graphs: decode-only batches of up to `CudaGraphConfig.max_batch_size`.
/// Its default is 128, but the benchmarks' launch recipes capture up to their concurrency
/// (`cuda_graph_config: {enable_padding: true, max_batch_size: CONC}`), and their TPOT at 256
/// clients shows no eager decode steps: the bundle takes the engine's batch cap, 2048, so decode
/// steps stay graph-replayed and only context and mixed steps run eagerly.
const TRTLLM_CUDA_GRAPH_MAX_BATCH: u32 = 2048;

/// The first SGLang release whose DeepSeek-family MoE-runner default also covers the models with
/// the sparse indexer: sgl-project/sglang#13687 ("[Deepseek] Refactor deepseek server_args
/// _handle_model_specific_adjustments", opened 2025-11-21) moved the SM100 `flashinfer_trtllm`
/// block out of the branch for `DeepseekV3ForCausalLM` *without* NSA to after the NSA / non-NSA
/// split, so DeepSeek-V3.2 (whose config SGLang loads as `DeepseekV3ForCausalLM`) got it too;
/// 0.5.5's `server_args.py` still guards the block with `not is_deepseek_nsa(hf_config)`.
/// GLM-5 (`GlmMoeDsaForCausalLM`) joined the same branch with its support (#18521, merged
/// 2026-02-10, first released in 0.5.9).
const SGLANG_SPARSE_INDEXER_TRTLLM_MOE_SINCE: Version = Version(0, 5, 6);

/// The SGLang MoE runner's host µs per eager MoE layer on `t`. SGLang picks its runner itself
/// (`--moe-runner-backend auto`): its DeepSeek-family handler (`ServerArgs.
/// _handle_model_specific_adjustments`; from 2026 `ServerArgsModelHandlersMixin.
/// _handle_deepseek_family`, dispatched for `DeepseekV3ForCausalLM`, `GlmMoeDsaForCausalLM`,
/// Kimi-K2.5 and Mistral-Large-3) sets `flashinfer_trtllm` on SM100 with fp8 or ModelOpt
/// fp8/fp4 quantisation and no all-to-all backend: for latent-attention models without the
/// sparse indexer in every modelled version, for those with it from
/// [`SGLANG_SPARSE_INDEXER_TRTLLM_MOE_SINCE`] (`nightly…` builds read as the newest). Every
/// other model keeps the default runners (Triton / DeepGEMM / CUTLASS fused MoE), whose Python
/// set-up [`SGLANG_EAGER_MOE_LAYER_US`] stands for.
fn sglang_moe_layer_us(t: &EngineTarget) -> f64 {
    let runner_quant = t.weight_dtype == "fp8" || t.weight_dtype == "fp4";
    let deepseek_family = t.latent_attention
        && (!t.sparse_indexer || t.version.is_none_or(|v| v >= SGLANG_SPARSE_INDEXER_TRTLLM_MOE_SINCE));
    if t.fp4_tensor_cores && deepseek_family && runner_quant {
        SGLANG_TRTLLM_GEN_EAGER_MOE_LAYER_US
    } else {
        SGLANG_EAGER_MOE_LAYER_US
    }
}

/// SGLang's eager host time on a B300 (HGX) machine relative to the B200 machines its host
/// constants were fitted on: FITTED, 0.5. The same image and script measure about half the
/// fixed part of TTFT on InferenceX's B300 nodes (4 clients, 1k prompts: Qwen3.5 fp8 0.5.9 TP 4
/// 338 → 189 ms, TP 8 305 → 172; GLM-5 fp8 nightly TP 8 216 → 115; Qwen3.5 bf16 TP 8 232 →
/// 156 and fp4 TP 4 280 → 168, nightly on B200 and 0.5.10.post1 on B300; vLLM's Kimi-K2.5 164
/// → 83), where the simulated GPU work is the same (equal fp8 / bf16 rates and HBM bandwidth in
/// the catalogue, as in the datasheets). The host is the
/// machine's, not the GPU's (a DGX B200 carries Xeon Platinum 8570s; InferenceX does not record
/// its B300 nodes' CPUs): the ratio is the measurements', no CPU benchmark gives it
/// (VALIDATION.md, branch `sb340`).
const SGLANG_B300_HOST_SCALE: f64 = 0.5;

/// The factor on SGLang's eager host constants for `t`'s machine ([`SGLANG_B300_HOST_SCALE`]
/// on a B300, 1 elsewhere; GB300 trays carry Grace CPUs and are not scaled).
fn sglang_host_scale(t: &EngineTarget) -> f64 {
    if t.device == "b300" { SGLANG_B300_HOST_SCALE } else { 1.0 }
}

/// The first SGLang release read whose server arguments turn its FlashInfer all-reduce fusion on
/// by themselves for `DeepseekV3ForCausalLM` on SM100 (`_handle_model_specific_adjustments`: 0.5.5
/// "if not self.enable_dp_attention: self.enable_flashinfer_allreduce_fusion = True"; earlier
/// releases not read, so left unfused).
const SGLANG_ALL_REDUCE_FUSION_SINCE: Version = Version(0, 5, 5);
/// From this release the same default covers Hopper (SM90) too: 0.5.7's rule takes
/// `DeepseekV3ForCausalLM` (with `GptOss`, `Glm4Moe`, `Qwen3Moe`; 0.5.9 adds Kimi-K2.5) on
/// `is_sm90_supported() or is_blackwell_supported()` (0.5.8 on: `is_sm100_supported()`), without
/// DP attention, on one node, not on H20, with no MoE all-to-all backend; 0.5.6.post2 is SM100
/// only.
const SGLANG_ALL_REDUCE_FUSION_HOPPER_SINCE: Version = Version(0, 5, 7);
/// Whether SGLang runs its FlashInfer all-reduce fusion on `t` by default (read in the
/// 0.5.5, 0.5.6.post2, 0.5.7, 0.5.8, 0.5.9 and 0.5.10.post1 wheels, `server_args.py`): for the
/// DeepSeek-V3 architecture — the catalogue's latent-attention models without the sparse indexer
/// (Kimi-K2.5's `KimiK25ForConditionalGeneration` joins in 0.5.9; the sparse-indexer models are
/// left out: GLM-5's `GlmMoeDsaForCausalLM` is not in the list, DeepSeek-V3.2's handling differs
/// by release) — on an SM100 GPU (from 0.5.7 also SM90), without attention DP, with the replica
/// on one host (`nnodes == 1`, from 0.5.6.post2: 8 GPUs a host, 4 on a GB200 / GB300 tray;
/// taken for 0.5.5 too). The expert-parallel runs here use no all-to-all backend. `nightly…`
/// builds read as the newest. InferenceX's DeepSeek Blackwell scripts also pass
/// `--enable-flashinfer-allreduce-fusion` themselves.
fn sglang_all_reduce_fusion(t: &EngineTarget) -> bool {
    let since = |v: Version| t.version.is_none_or(|have| have >= v);
    let host_gpus = if matches!(t.device.as_str(), "gb200" | "gb300") { 4 } else { 8 };
    let gpu = SM100_DEVICES.contains(&t.device.as_str())
        || (SM90_DEVICES.contains(&t.device.as_str()) && since(SGLANG_ALL_REDUCE_FUSION_HOPPER_SINCE));
    t.latent_attention
        && !t.sparse_indexer
        && gpu
        && since(SGLANG_ALL_REDUCE_FUSION_SINCE)
        && t.attention_dp_size <= 1
        && t.tensor_parallel_size.saturating_mul(t.pipeline_stages) <= host_gpus
}

/// Whether SGLang's fp8 (block-scaled) experts take their fused-MoE fit at decode sizes too
/// (`roofline_execution_time_predictor_config_fp8_moe_fit_at_decode`, as vLLM's bundle): for the
/// hybrid Gated DeltaNet architecture (`Qwen3NextForCausalLM`, `Qwen3_5MoeForConditionalGeneration`;
/// the catalogue's models with `linear_attention`). On SM100 SGLang's own handler for those
/// architectures (`ServerArgs._handle_model_specific_adjustments`, read in the 0.5.9 and
/// 0.5.10.post1 wheels) sets `--moe-runner-backend flashinfer_trtllm` with fp8 / ModelOpt fp4 /
/// no quantisation and no all-to-all backend — FlashInfer's TRTLLM-Gen fp8 block-scale MoE, the
/// kernel AIConfigurator measured for the fit (vLLM's FlashInfer TRTLLM-Gen fp8 block MoE); on
/// SM90 `auto` runs the Triton fused MoE (`fused_moe_triton`), whose tuned-config lookup
/// (`try_get_optimal_moe_config`: `E`, `N`, device, fp8 block shape) finds no file for
/// Qwen3.5's experts (H200 at EP 8: `E=64,N=1024`; 0.5.9 ships `E=256,N=256` for DeepSeek's) and
/// falls back to `get_default_config`. The same holds for every model outside the DeepSeek
/// family (latent attention), e.g. `Qwen3MoeForCausalLM`: no all-to-all backend by default, so
/// SM90 runs the same Triton fused MoE, which AIConfigurator's fit times (H200, E = 128,
/// hidden 4096, expert width 1536 at TP 2: 61 µs a layer at one token against the generic fp8
/// curve's ~31 µs). On SM100 only Qwen3Next / Qwen3.5's branch (linear attention) takes the
/// `flashinfer_trtllm` runner; a plain MoE there has no evidence for the fit and keeps the
/// generic curve. The latent-attention models keep the generic fp8 curve at decode sizes (the
/// DeepSeek rows went over with the fit: docs/policies.md).
fn sglang_fp8_moe_fit_at_decode(t: &EngineTarget) -> bool {
    !t.latent_attention
        && t.weight_dtype == "fp8"
        && (t.linear_attention || SM90_DEVICES.contains(&t.device.as_str()))
}

/// SGLang's Gated DeltaNet prefill (`roofline_execution_time_predictor_config_linear_prefill_*`):
/// every CUDA extend of a linear-attention layer runs flash-linear-attention's Triton
/// `chunk_gated_delta_rule` (`layers/attention/hybrid_linear_attn_backend.py` importing
/// `layers/attention/fla/chunk.py`, 0.5.9; 0.5.10.post1's `--linear-attn-backend` defaults to
/// `triton`, FlashInfer's GDN prefill is opt-in there). Its speed as measured on B200 with FLA
/// 0.4.2 at Qwen3.5-397B's shapes (flashinfer-ai/flashinfer#3001: 0.21 ms a layer for one
/// 2-4k prompt at TP 8, 0.34 ms at 8k, 0.42 ms at 8k and TP 4) and Qwen3.6-27B's 48 value heads
/// (vllm-project/vllm#43273: 1.12-1.19 ms at 8k, 2.02-2.04 ms at 16k): a ~200 µs floor a layer
/// plus the FLOPs at ~0.025 of the device's 16-bit rate — where the attention prefill curve
/// gave ~20 µs at 8k, TP 4.
const SGLANG_LINEAR_PREFILL_EFFICIENCY: f64 = 0.025;
const SGLANG_LINEAR_PREFILL_FLOOR_US: f64 = 200.0;

/// The catalogue's SM103 GPUs (Blackwell Ultra, compute capability 10.3): `is_sm100_supported`
/// is true on them, so SGLang runs its SM100 paths there.
const SM103_DEVICES: &[&str] = &["b300", "gb300"];
/// The first SGLang release measured with the slow latent-attention prefill on SM103
/// ([`SGLANG_SM103_MLA_PREFILL_TFLOPS`]); SGLang 0.5.8.post1's GB300 prefill pools show none.
const SGLANG_SM103_MLA_PREFILL_SINCE: Version = Version(0, 5, 10);
/// The rate SGLang's latent-attention (MLA) prefill reaches on SM103, TFLOP/s: FITTED, 30.
/// DeepSeek-V3 under 0.5.10.post1 with its Blackwell scripts (`--attention-backend trtllm_mla`)
/// measures 8k-prompt TTFTs 4-5× B200's at equal settings (4 clients: 2.05 s at TP 8 fp8, 0.97 s
/// at TP 8 × EP 8 fp4, against 0.48 / 0.25 s on B200 with 0.5.9) while its 1k prompts run as fast
/// as B200's: an excess that grows with the prompt's square, ~0.7 s for one 8k prompt at 16
/// heads a GPU — the causal attention FLOPs at ~30 TFLOP/s, a CUDA-core rate, where the
/// kernels the fits time reach ~1 PFLOP/s. The engine's tracker has the symptom
/// (sgl-project/sglang#23061, "b300 fp4 perf worse than b200 on deepseekv3",
/// `lmsysorg/sglang:v0.5.10.post1-cu130`). 0.5.10.post1 pins FlashInfer 0.6.7.post3, the line
/// whose TRTLLM-Gen attention regressed on SM103 (flashinfer-ai/flashinfer#2939: hangs from
/// 0.6.7; sgl-project/sglang#21906 gated TRTLLM attention to exact SM100, #22098 reverted that
/// for 0.6.7.post2), and the DeepSeek prefill runs its TRTLLM-Gen ragged kernel
/// (`trtllm_ragged_attention_deepseek`); no measurement of that kernel on SM103 names the rate,
/// so it is fitted (VALIDATION.md, branch `sb342`).
const SGLANG_SM103_MLA_PREFILL_TFLOPS: f64 = 30.0;

/// SGLang's latent-attention prefill rate cap on `t`
/// (`roofline_execution_time_predictor_config_mla_prefill_tflops`): on SM103 from
/// [`SGLANG_SM103_MLA_PREFILL_SINCE`], for latent-attention models without the sparse indexer
/// (those run the NSA backend's FlashMLA sparse kernels instead). Measured only under
/// 0.5.10.post1 on B300 (one regression of FlashInfer's 0.6.7 line): GB300 and every version
/// after 0.5.10.post1 (there is no upper bound) are inferred, not measured.
fn sglang_mla_prefill_tflops(t: &EngineTarget) -> Option<f64> {
    (SM103_DEVICES.contains(&t.device.as_str())
        && t.latent_attention
        && !t.sparse_indexer
        && t.version.is_none_or(|v| v >= SGLANG_SM103_MLA_PREFILL_SINCE))
    .then_some(SGLANG_SM103_MLA_PREFILL_TFLOPS)
}

/// SGLang's `chunked_prefill_size` and `cuda_graph_max_bs` by GPU memory
/// (`ServerArgs._handle_gpu_memory_settings`).
fn sglang_memory_tier(memory_gib: f64, tp: u32) -> (u32, u32) {
    match memory_gib {
        m if m < 20.0 => (2048, 8),
        m if m < 35.0 => (2048, if tp < 4 { 24 } else { 80 }),
        m if m < 60.0 => (4096, if tp < 4 { 32 } else { 160 }),
        m if m < 160.0 => (8192, if tp < 4 { 256 } else { 512 }),
        _ => (16384, 512),
    }
}

/// SGLang (`sglang.launch_server`).
fn sglang(t: &EngineTarget) -> Vec<Setting> {
    let (chunk, graph_bs) = sglang_memory_tier(t.device_memory_gib, t.tensor_parallel_size);
    // mem_fraction_static = 1 − reserved / total, reserved (MiB) = 512 + 1.5 × chunk size +
    // 2 × CUDA-graph batch size + 1024 × TP × PP / 8, at least 10 GiB on GPUs over 60 GiB.
    let memory_mib = t.device_memory_gib * 1024.0;
    let mut reserved_mib = 512.0
        + 1.5 * f64::from(chunk.max(2048))
        + 2.0 * f64::from(graph_bs)
        + 1024.0 * f64::from(t.tensor_parallel_size) * f64::from(t.pipeline_stages) / 8.0;
    if t.device_memory_gib > 60.0 {
        reserved_mib = reserved_mib.max(10.0 * 1024.0);
    }
    // A speculating server keeps 2 GiB more for the EAGLE / MTP draft's CUDA graphs, 6 GiB for a
    // standalone draft model (`_handle_gpu_memory_settings`, after the 10 GiB floor).
    match t.speculative.as_deref() {
        Some("draft_model") => reserved_mib += 6.0 * 1024.0,
        Some(_) => reserved_mib += 2.0 * 1024.0,
        None => {}
    }
    let margin = if memory_mib > 0.0 { (reserved_mib / memory_mib).clamp(0.0, 0.99) } else { 0.1 };
    let mut settings = vec![
        Setting::new("replica_scheduler_config_type", "sglang"),
        Setting::new("sglang_scheduler_config_chunked_prefill_size", chunk),
        Setting::new("cache_config_enable_prefix_caching", true),
        Setting::new("cache_config_block_size", 1),
        Setting::new("cache_config_memory_margin_fraction", format!("{margin:.4}")),
        // Its custom all-reduce (NCCL above its size limit); cuBLAS GEMMs as vLLM's.
        Setting::new("roofline_execution_time_predictor_config_all_reduce_kernel", "sglang_custom"),
        Setting::new("roofline_execution_time_predictor_config_gemm_kernels", "vllm"),
        // CUDA graphs for decode batches of up to cuda_graph_max_bs; prefill and mixed steps
        // run eagerly (piecewise CUDA graphs off).
        Setting::new(
            "roofline_execution_time_predictor_config_eager_launch_us",
            SGLANG_EAGER_LAUNCH_US * sglang_host_scale(t),
        ),
        Setting::new(
            "roofline_execution_time_predictor_config_eager_moe_layer_us",
            sglang_moe_layer_us(t) * sglang_host_scale(t),
        ),
        Setting::new("roofline_execution_time_predictor_config_cuda_graph_max_tokens", graph_bs),
        Setting::new("roofline_execution_time_predictor_config_cuda_graph_prefill", false),
        // Its eager extend step's host work runs in series with the GPU's (VALIDATION.md,
        // "SGLang on Blackwell": the fixed part of TTFT adds to the prefill's GPU time).
        Setting::new("roofline_execution_time_predictor_config_eager_host_serial", true),
        // With the overlap scheduler off (`event_loop_normal`: speculation's v1 worker) the
        // scheduler's and the EAGLE worker's host work runs between the GPU's batches; charged
        // only then (`non_overlap_cpu_overhead`).
        Setting::new("sglang_scheduler_config_non_overlap_cpu_overhead_ms", SGLANG_NON_OVERLAP_CPU_MS),
        Setting::new(
            "sglang_scheduler_config_non_overlap_cpu_overhead_per_request_ms",
            SGLANG_NON_OVERLAP_CPU_PER_REQUEST_MS,
        ),
    ];
    if sglang_all_reduce_fusion(t) {
        settings.push(Setting::new("roofline_execution_time_predictor_config_kernel_fusion", "sglang"));
    }
    if let Some(tflops) = sglang_mla_prefill_tflops(t) {
        settings.push(Setting::new("roofline_execution_time_predictor_config_mla_prefill_tflops", tflops));
    }
    if sglang_fp8_moe_fit_at_decode(t) {
        settings.push(Setting::new("roofline_execution_time_predictor_config_fp8_moe_fit_at_decode", true));
    }
    if t.linear_attention {
        settings.push(Setting::new(
            "roofline_execution_time_predictor_config_linear_prefill_efficiency",
            SGLANG_LINEAR_PREFILL_EFFICIENCY,
        ));
        settings.push(Setting::new(
            "roofline_execution_time_predictor_config_linear_prefill_floor_us",
            SGLANG_LINEAR_PREFILL_FLOOR_US,
        ));
    }
    if t.speculative.is_some() {
        // `_handle_speculative_decoding` (0.5.5-0.5.10.post1): 48 running requests unless set, the
        // overlap scheduler off (spec v2, `SGLANG_ENABLE_SPEC_V2`, is off by default), and with
        // no step count given `auto_choose_speculative_params`' 3 steps, top-1, 4 draft tokens
        // (every architecture but LlamaForCausalLM and Grok's, which take 5 / 4 / 8: the
        // catalogue does not name architectures, so those are given with the flags).
        settings.push(Setting::new("sglang_scheduler_config_batch_size_cap", 48));
        settings.push(Setting::new("sglang_scheduler_config_overlap_schedule", false));
        // A hybrid linear-attention model's verification keeps a recurrent-state snapshot per
        // verified token and copies the accepted one back (`HybridLinearAttnBackend`,
        // `update_mamba_state_after_mtp_verify`); no effect on models without such layers.
        settings.push(Setting::new(
            "roofline_execution_time_predictor_config_linear_verify_state_snapshots",
            true,
        ));
        if !t.speculative_tokens_given {
            settings.push(Setting::new("replica_config_num_speculative_tokens", 3));
        }
    }
    settings
}

/// TensorRT-LLM's default token budget per iteration (`max_num_tokens`, `BaseLlmArgs`).
pub const TRTLLM_MAX_NUM_TOKENS: u32 = 8192;

/// TensorRT-LLM (`trtllm-serve`, PyTorch backend).
fn trtllm(t: &EngineTarget) -> Vec<Setting> {
    vec![
        Setting::new("replica_scheduler_config_type", "trtllm"),
        Setting::new("trtllm_scheduler_config_max_num_tokens", TRTLLM_MAX_NUM_TOKENS),
        Setting::new("trtllm_scheduler_config_batch_size_cap", 2048),
        Setting::new("trtllm_scheduler_config_capacity_scheduler_policy", "guaranteed_no_evict"),
        Setting::new("trtllm_scheduler_config_enable_chunked_context", false),
        Setting::new("trtllm_scheduler_config_overlap_scheduler", true),
        // KvCacheConfig: enable_block_reuse, tokens_per_block 32.
        Setting::new("cache_config_enable_prefix_caching", true),
        Setting::new("cache_config_block_size", 32),
        // free_gpu_memory_fraction 0.9 (of the memory left after the weights; approximated
        // by 10 % of all memory until the planner models it).
        Setting::new("cache_config_memory_margin_fraction", 0.1),
        // Its custom all-reduce kernels (NCCL above their size limit); cuBLAS GEMMs as vLLM's.
        Setting::new("roofline_execution_time_predictor_config_all_reduce_kernel", "trtllm_custom"),
        Setting::new("roofline_execution_time_predictor_config_gemm_kernels", "vllm"),
        // Its FP8 QDQ linears (per-tensor fp8 checkpoints) run cuBLASLt on every GPU
        // (`FP8QDQLinearMethod.apply` → `cublas_scaled_mm`; the CUDA-core GEMM is SM89/SM120).
        // The cuBLASLt curve (16-bit cuBLAS latency terms) stands for it on SM100 only: on
        // Hopper the measured TensorRT-LLM / vLLM decode-step ratio at equal TP (H200 Llama,
        // 4 clients: 0.94 / 0.86 / 0.81 / 0.79 at TP 1 / 2 / 4 / 8) is what the CUTLASS fit
        // gives both engines (0.97 / 0.87 / 0.81 / 0.77), not that curve (0.95 / 0.81 / 0.70 /
        // 0.62): cuBLASLt's Hopper fp8 kernel times as AIC's CUTLASS table.
        Setting::new(
            "roofline_execution_time_predictor_config_fp8_cublaslt_gemm",
            SM100_DEVICES.contains(&t.device.as_str()),
        ),
        // Its decoder layers fuse the residual add and RMSNorm into the all-reduce (TP > 1:
        // the Llama layer above hidden 4096, the Qwen3-MoE and gpt-oss layers at any size) and
        // RoPE into the KV-cache write.
        Setting::new("roofline_execution_time_predictor_config_kernel_fusion", "trtllm"),
        // Its fp8 experts run the CUTLASS fused MoE (`MoeConfig.backend` CUTLASS by default,
        // `CutlassFusedMoE`): timed on that runner's fit where the device has one (H100/H200).
        Setting::new("roofline_execution_time_predictor_config_trtllm_cutlass_fp8_moe", true),
        // Its MoE gates are unquantised whatever the checkpoint: gpt-oss's `MLPBlock.gate` a bf16
        // `Linear` (`tinygemm2` up to 128 tokens on SM90/SM100, `modeling_gpt_oss.py`), Qwen3's
        // `Qwen3Gate` a bf16 weight through `cublas_mm` (`modeling_qwen3_moe.py`), DeepSeek's
        // `Deepseekv3Gate` its own bf16 weight (`modeling_deepseekv3.py`): bf16 GEMMs.
        Setting::new("roofline_execution_time_predictor_config_moe_router_bf16", true),
        // Its attention op decodes an fp8 KV cache with its own XQA kernels, not FlashAttention
        // (AIC's TensorRT-LLM generation-attention table, where the device has a fit of it).
        Setting::new("roofline_execution_time_predictor_config_trtllm_decode_attention", true),
        // CUDA graphs for decode-only batches (up to the recipes' concurrency); context and
        // mixed steps run eagerly (torch_compile_config, hence piecewise graphs, off).
        Setting::new("roofline_execution_time_predictor_config_eager_launch_us", TRTLLM_EAGER_LAUNCH_US),
        Setting::new("roofline_execution_time_predictor_config_eager_moe_layer_us", trtllm_moe_layer_us(t)),
        Setting::new(
            "roofline_execution_time_predictor_config_eager_latent_attention_layer_us",
            TRTLLM_EAGER_LATENT_ATTENTION_LAYER_US,
        ),
        Setting::new(
            "roofline_execution_time_predictor_config_cuda_graph_max_tokens",
            TRTLLM_CUDA_GRAPH_MAX_BATCH,
        ),
        Setting::new("roofline_execution_time_predictor_config_cuda_graph_prefill", false),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(pairs: &[(&str, &str)]) -> (Config, Vec<Setting>) {
        apply(&Config::from_pairs(pairs.iter().copied()).unwrap()).unwrap()
    }

    fn value(config: &Config, flag: &str) -> String {
        config.get(flag).to_text()
    }

    #[test]
    fn versions_read_release_tags_and_name_the_newest() {
        assert_eq!(Version::parse("0.10.2"), Ok(Some(Version(0, 10, 2))));
        assert_eq!(Version::parse("v0.11"), Ok(Some(Version(0, 11, 0))));
        assert_eq!(Version::parse("1.1.0rc2.post2"), Ok(Some(Version(1, 1, 0))));
        assert_eq!(Version::parse("0.5.6.post2"), Ok(Some(Version(0, 5, 6))));
        assert_eq!(Version::parse("1.2.0rc6"), Ok(Some(Version(1, 2, 0))));
        for newest in ["", "latest", "nightly-5b8c30d6"] {
            assert_eq!(Version::parse(newest), Ok(None));
        }
        assert!(Version::parse("banana").is_err());
        assert!(Version::parse("7").is_err());
        assert!(Version::at_least(Some(Version(0, 14, 1)), 0, 14));
        assert!(!Version::at_least(Some(Version(0, 13, 9)), 0, 14));
        assert!(Version::at_least(None, 9, 0));
    }

    #[test]
    fn without_an_engine_the_configuration_is_unchanged() {
        let config = Config::from_pairs([("replica_config_device", "h100")]).unwrap();
        assert_eq!(apply(&config).unwrap(), (config.clone(), vec![]));
    }

    #[test]
    fn vllm_takes_its_budget_from_the_gpu_and_its_scheduling_from_the_version() {
        let (h100, _) = applied(&[("serving_engine", "vllm"), ("replica_config_device", "h100")]);
        assert_eq!(value(&h100, "replica_scheduler_config_type"), "vllm_v1");
        assert_eq!(value(&h100, "vllm_v1_scheduler_config_chunk_size"), "8192");
        assert_eq!(value(&h100, "vllm_v1_scheduler_config_batch_size_cap"), "1024");
        assert_eq!(value(&h100, "vllm_v1_scheduler_config_async_scheduling"), "true");
        assert_eq!(value(&h100, "vllm_v1_scheduler_config_admit_full_prompt"), "true");
        // One engine core per DP rank (a replica without DP runs the one scheduler anyway).
        assert_eq!(value(&h100, "vllm_v1_scheduler_config_dp_engine_cores"), "true");
        assert_eq!(value(&h100, "cache_config_enable_prefix_caching"), "true");
        let (a100, _) = applied(&[("serving_engine", "vllm"), ("replica_config_device", "a100")]);
        assert_eq!(value(&a100, "vllm_v1_scheduler_config_chunk_size"), "2048");
        assert_eq!(value(&a100, "vllm_v1_scheduler_config_batch_size_cap"), "256");
        let (old, _) = applied(&[
            ("serving_engine", "vllm"),
            ("serving_engine_version", "0.10.2"),
            ("replica_config_device", "h200"),
        ]);
        assert_eq!(value(&old, "vllm_v1_scheduler_config_async_scheduling"), "false");
        assert_eq!(value(&old, "vllm_v1_scheduler_config_admit_full_prompt"), "false");
        let (v015, _) = applied(&[("serving_engine", "vllm"), ("serving_engine_version", "0.15.1")]);
        assert_eq!(value(&v015, "vllm_v1_scheduler_config_async_scheduling"), "true");
        assert_eq!(value(&v015, "vllm_v1_scheduler_config_admit_full_prompt"), "false");
    }

    #[test]
    fn vllm_hands_messages_past_its_custom_all_reduce_buffer_to_nccl_before_0_11() {
        let cap = |version: &str| {
            let (c, _) = applied(&[("serving_engine", "vllm"), ("serving_engine_version", version)]);
            value(&c, "roofline_execution_time_predictor_config_custom_all_reduce_max_mib")
        };
        // 0.10.x: `CustomAllreduce(max_size=8192 * 1024)`, pynccl above; from 0.11 the
        // symmetric-memory all-reduce takes the mid sizes (no table: the custom fit stands in).
        assert_eq!(cap("0.10.2"), "8.0");
        assert_eq!(cap("0.11.0"), "0.0");
        assert_eq!(cap("latest"), "0.0");
    }

    #[test]
    fn explicit_flags_override_the_bundle() {
        let (c, settings) = applied(&[
            ("serving_engine", "vllm"),
            ("replica_config_device", "h100"),
            ("vllm_v1_scheduler_config_chunk_size", "2048"),
            ("vllm_v1_scheduler_config_async_scheduling", "false"),
        ]);
        assert_eq!(value(&c, "vllm_v1_scheduler_config_chunk_size"), "2048");
        assert_eq!(value(&c, "vllm_v1_scheduler_config_async_scheduling"), "false");
        assert!(settings.iter().all(|s| s.flag != "vllm_v1_scheduler_config_chunk_size"));
        assert!(settings.iter().any(|s| s.flag == "vllm_v1_scheduler_config_batch_size_cap"));
    }

    #[test]
    fn sglang_sizes_chunks_and_reserved_memory_by_gpu_memory() {
        let (h100, _) = applied(&[("serving_engine", "sglang"), ("replica_config_device", "h100")]);
        assert_eq!(value(&h100, "replica_scheduler_config_type"), "sglang");
        assert_eq!(value(&h100, "sglang_scheduler_config_chunked_prefill_size"), "8192");
        assert_eq!(value(&h100, "cache_config_block_size"), "1");
        // TP 1: 512 + 1.5 × 8192 + 2 × 256 + 128 = 13440 MiB of 81920.
        assert_eq!(value(&h100, "cache_config_memory_margin_fraction"), "0.1641");
        let (b200, _) = applied(&[
            ("serving_engine", "sglang"),
            ("replica_config_device", "b200"),
            ("replica_config_tensor_parallel_size", "8"),
        ]);
        assert_eq!(value(&b200, "sglang_scheduler_config_chunked_prefill_size"), "16384");
        // 512 + 24576 + 1024 + 1024 = 27136 MiB of 184320.
        assert_eq!(value(&b200, "cache_config_memory_margin_fraction"), "0.1472");
        let (a40, _) = applied(&[("serving_engine", "sglang"), ("replica_config_device", "a40")]);
        assert_eq!(value(&a40, "sglang_scheduler_config_chunked_prefill_size"), "4096");
    }

    #[test]
    fn trtllm_selects_in_flight_batching_with_its_defaults() {
        let (c, settings) = applied(&[("serving_engine", "trtllm"), ("replica_config_device", "h200")]);
        assert_eq!(value(&c, "replica_scheduler_config_type"), "trtllm");
        assert_eq!(value(&c, "trtllm_scheduler_config_max_num_tokens"), "8192");
        assert_eq!(value(&c, "cache_config_block_size"), "32");
        assert_eq!(value(&c, "roofline_execution_time_predictor_config_all_reduce_kernel"), "trtllm_custom");
        assert_eq!(value(&c, "roofline_execution_time_predictor_config_kernel_fusion"), "trtllm");
        assert_eq!(value(&c, "roofline_execution_time_predictor_config_trtllm_decode_attention"), "true");
        assert_eq!(value(&c, "roofline_execution_time_predictor_config_trtllm_cutlass_fp8_moe"), "true");
        assert_eq!(value(&c, "roofline_execution_time_predictor_config_moe_router_bf16"), "true");
        // 21 of its own and the H200's fp8 GEMM streaming (`device_settings`).
        assert_eq!(settings.len(), 22);
    }

    #[test]
    fn only_vllm_012_times_its_deepgemm_moe_padded_blocks() {
        let on = |engine: &str, version: &str, device: &str| {
            let (c, _) = applied(&[
                ("serving_engine", engine),
                ("serving_engine_version", version),
                ("replica_config_device", device),
            ]);
            value(&c, "roofline_execution_time_predictor_config_deepgemm_moe_padded")
        };
        let padded = |engine: &str, version: &str| on(engine, version, "h200");
        for (version, expected) in [
            ("0.11.0", "false"),
            ("0.12.0", "true"),
            ("0.12.1", "true"),
            ("0.13.0", "false"),
            ("latest", "false"),
        ] {
            assert_eq!(padded("vllm", version), expected, "{version}");
        }
        assert_eq!(padded("sglang", "0.5.6"), "false");
        // DeepGEMM needs SM90 or SM100: not on an L40S (SM89), an A100 or an MI300X.
        assert_eq!(on("vllm", "0.12.0", "b200"), "true");
        for device in ["l40s", "a100", "mi300x"] {
            assert_eq!(on("vllm", "0.12.0", device), "false", "{device}");
        }
    }

    #[test]
    fn vllm_raises_gpt_oss_capture_size_as_its_architecture_hook_does() {
        let capture = |model: &str, version: &str| {
            let (c, _) = applied(&[
                ("serving_engine", "vllm"),
                ("serving_engine_version", version),
                ("replica_config_device", "h200"),
                ("replica_config_model_name", model),
            ]);
            value(&c, "roofline_execution_time_predictor_config_cuda_graph_max_tokens")
        };
        // GptOssForCausalLMConfig.verify_and_update_config: 1024 (0.10.2), 992 (0.11.0), 1024
        // through max_cudagraph_capture_size from 0.11.2.
        for (version, expected) in [
            ("0.10.1", "512"),
            ("0.10.2", "1024"),
            ("0.11.0", "992"),
            ("0.11.2", "1024"),
            ("0.18.0", "1024"),
            ("latest", "1024"),
        ] {
            assert_eq!(capture("openai/gpt-oss-120b", version), expected, "{version}");
        }
        // Every other architecture keeps min(2 × max_num_seqs, 512).
        assert_eq!(capture("MiniMaxAI/MiniMax-M2.5", "0.18.0"), "512");
        assert_eq!(capture("meta-llama/Llama-3.1-70B", "0.18.0"), "512");
        // An explicit capture size wins, as vLLM's hook leaves a user's sizes alone.
        let (c, _) = applied(&[
            ("serving_engine", "vllm"),
            ("replica_config_device", "h200"),
            ("replica_config_model_name", "openai/gpt-oss-120b"),
            ("roofline_execution_time_predictor_config_cuda_graph_max_tokens", "2048"),
        ]);
        assert_eq!(value(&c, "roofline_execution_time_predictor_config_cuda_graph_max_tokens"), "2048");
    }

    #[test]
    fn each_engine_sets_which_steps_replay_cuda_graphs_and_what_an_eager_one_costs() {
        let flag =
            |c: &Config, knob: &str| value(c, &format!("roofline_execution_time_predictor_config_{knob}"));
        let num = |c: &Config, knob: &str| flag(c, knob).parse::<f64>().unwrap();
        let (vllm, _) = applied(&[("serving_engine", "vllm"), ("replica_config_device", "h100")]);
        // min(2 × 1024 requests, 512, 8192 tokens); prefill steps replay piecewise graphs.
        assert_eq!(flag(&vllm, "cuda_graph_max_tokens"), "512");
        assert_eq!(flag(&vllm, "cuda_graph_prefill"), "true");
        assert_eq!(num(&vllm, "eager_launch_us"), VLLM_EAGER_LAUNCH_US);
        let (sglang, _) = applied(&[("serving_engine", "sglang"), ("replica_config_device", "h100")]);
        assert_eq!(flag(&sglang, "cuda_graph_max_tokens"), "256");
        assert_eq!(flag(&sglang, "cuda_graph_prefill"), "false");
        assert_eq!(num(&sglang, "eager_moe_layer_us"), SGLANG_EAGER_MOE_LAYER_US);
        assert_eq!(flag(&sglang, "eager_host_serial"), "true");
        assert_eq!(flag(&vllm, "eager_host_serial"), "false");
        assert_eq!(flag(&vllm, "eager_moe_host_serial"), "true");
        assert_eq!(num(&vllm, "piecewise_moe_layer_us"), VLLM_PIECEWISE_MOE_LAYER_US);
        assert_eq!(num(&sglang, "piecewise_moe_layer_us"), 0.0);
        assert_eq!(flag(&vllm, "fp8_moe_fit_at_decode"), "true");
        assert_eq!(flag(&vllm, "fp4_moe_fit_at_decode"), "true");
        assert_eq!(flag(&sglang, "fp4_moe_fit_at_decode"), "false");
        assert_eq!(flag(&vllm, "moe_router_bf16"), "true");
        // vLLM's shared experts on their own stream up to 256 tokens; SGLang's in series.
        assert_eq!(num(&vllm, "shared_experts_stream_max_tokens"), 256.0);
        assert_eq!(num(&sglang, "shared_experts_stream_max_tokens"), 0.0);
        // Before 0.18 an NVFP4 MoE under attention DP runs its shared expert inside the
        // all-to-all kernel, in series.
        let nvfp4_dp = |version: &str| {
            let (c, _) = applied(&[
                ("serving_engine", "vllm"),
                ("serving_engine_version", version),
                ("replica_config_model_name", "moonshotai/Kimi-K2.5"),
                ("replica_config_device", "b200"),
                ("replica_config_weight_dtype", "fp4"),
                ("replica_config_tensor_parallel_size", "1"),
                ("replica_config_attention_dp_size", "4"),
                ("replica_config_expert_parallel_size", "4"),
            ]);
            num(&c, "shared_experts_stream_max_tokens")
        };
        assert_eq!(nvfp4_dp("0.17.0"), 0.0);
        assert_eq!(nvfp4_dp("0.18.0"), 256.0);
        // vLLM pads every DP rank's step to the busiest rank's tokens; the others do not.
        assert_eq!(flag(&vllm, "dp_padding"), "graph_steps");
        let (vllm_012, _) = applied(&[("serving_engine", "vllm"), ("serving_engine_version", "0.12.0")]);
        assert_eq!(flag(&vllm_012, "dp_padding"), "all_steps");
        assert_eq!(flag(&sglang, "dp_padding"), "none");
        let (trtllm, _) = applied(&[("serving_engine", "trtllm"), ("replica_config_device", "h200")]);
        assert_eq!(flag(&trtllm, "dp_padding"), "none");
        assert_eq!(flag(&trtllm, "cuda_graph_max_tokens"), "2048");
        assert_eq!(flag(&trtllm, "cuda_graph_prefill"), "false");
        assert_eq!(num(&trtllm, "eager_launch_us"), TRTLLM_EAGER_LAUNCH_US);
        // The fitted host costs, as VALIDATION.md's figures were taken with them: a change of
        // constant must come with new figures.
        assert_eq!(
            [VLLM_EAGER_LAUNCH_US, SGLANG_EAGER_LAUNCH_US, TRTLLM_EAGER_LAUNCH_US],
            [20.0, 40.0, 53.0]
        );
        assert_eq!(num(&trtllm, "eager_moe_layer_us"), 1500.0);
        assert_eq!(num(&trtllm, "eager_latent_attention_layer_us"), 1200.0);
        assert_eq!(num(&sglang, "eager_latent_attention_layer_us"), 0.0);
        // Without an engine no step pays a host cost (Vidur parity).
        let plain = Config::from_pairs([("replica_config_device", "h100")]).unwrap();
        assert_eq!(num(&plain, "eager_launch_us"), 0.0);
        assert_eq!(num(&plain, "eager_moe_layer_us"), 0.0);
        // An explicit flag wins.
        let (off, _) = applied(&[
            ("serving_engine", "trtllm"),
            ("roofline_execution_time_predictor_config_eager_launch_us", "0"),
        ]);
        assert_eq!(num(&off, "eager_launch_us"), 0.0);
    }

    #[test]
    fn a_speculating_sglang_server_caps_48_requests_turns_overlap_off_and_keeps_2_gib_more() {
        let (plain, _) = applied(&[("serving_engine", "sglang"), ("replica_config_device", "h100")]);
        let (mtp, _) = applied(&[
            ("serving_engine", "sglang"),
            ("replica_config_device", "h100"),
            ("replica_config_speculative_method", "mtp"),
        ]);
        assert_eq!(value(&mtp, "sglang_scheduler_config_batch_size_cap"), "48");
        assert_eq!(value(&mtp, "sglang_scheduler_config_overlap_schedule"), "false");
        // Its host time in series, charged only with the overlap off (the plain bundle sets
        // the same values, which its overlap scheduler hides).
        for c in [&mtp, &plain] {
            let ms = |flag: &str| value(c, flag).parse::<f64>().unwrap();
            assert_eq!(ms("sglang_scheduler_config_non_overlap_cpu_overhead_ms"), SGLANG_NON_OVERLAP_CPU_MS);
            assert_eq!(
                ms("sglang_scheduler_config_non_overlap_cpu_overhead_per_request_ms"),
                SGLANG_NON_OVERLAP_CPU_PER_REQUEST_MS
            );
        }
        // auto_choose_speculative_params: 3 steps (top-1, 4 draft tokens).
        assert_eq!(value(&mtp, "replica_config_num_speculative_tokens"), "3");
        assert_eq!(
            value(&mtp, "roofline_execution_time_predictor_config_linear_verify_state_snapshots"),
            "true"
        );
        assert_eq!(
            value(&plain, "roofline_execution_time_predictor_config_linear_verify_state_snapshots"),
            "false"
        );
        let margin = |c: &Config| value(c, "cache_config_memory_margin_fraction").parse::<f64>().unwrap();
        // H100 (80 GiB): 2 GiB more for the draft's CUDA graphs, 6 GiB for a draft model.
        assert!((margin(&mtp) - margin(&plain) - 2.0 / 80.0).abs() < 1e-3, "{}", margin(&mtp));
        let (draft, _) = applied(&[
            ("serving_engine", "sglang"),
            ("replica_config_device", "h100"),
            ("replica_config_speculative_method", "draft_model"),
            ("replica_config_num_speculative_tokens", "5"),
        ]);
        assert!((margin(&draft) - margin(&plain) - 6.0 / 80.0).abs() < 1e-3, "{}", margin(&draft));
        assert_eq!(value(&draft, "replica_config_num_speculative_tokens"), "5", "the user's k stays");
        // Without speculation none of it.
        assert_eq!(plain.get("sglang_scheduler_config_batch_size_cap").to_text(), "none");
        assert_eq!(value(&plain, "sglang_scheduler_config_overlap_schedule"), "true");
    }

    #[test]
    fn sglang_on_a_b300_machine_pays_half_the_eager_host_time_of_a_b200_one() {
        // (eager launch µs, MoE-layer µs) of SGLang's bundle for `model` on `device`.
        let host = |model: &str, device: &str| {
            let (c, _) = applied(&[
                ("serving_engine", "sglang"),
                ("replica_config_model_name", model),
                ("replica_config_device", device),
                ("replica_config_weight_dtype", "fp8"),
            ]);
            let num = |knob: &str| {
                value(&c, &format!("roofline_execution_time_predictor_config_{knob}")).parse::<f64>().unwrap()
            };
            (num("eager_launch_us"), num("eager_moe_layer_us"))
        };
        for model in ["Qwen/Qwen3.5-397B-A17B", "deepseek-ai/DeepSeek-R1"] {
            let (b200, b300) = (host(model, "b200"), host(model, "b300"));
            assert_eq!(b300, (b200.0 * SGLANG_B300_HOST_SCALE, b200.1 * SGLANG_B300_HOST_SCALE), "{model}");
            assert!(b300.0 < b200.0 && b300.1 < b200.1, "{model}");
            // Other machines (GB300's Grace host included) keep the fitted constants.
            assert_eq!(host(model, "gb300"), b200, "{model}");
        }
        assert_eq!(host("Qwen/Qwen3.5-397B-A17B", "h200").0, SGLANG_EAGER_LAUNCH_US);
        // Other engines' host constants do not follow SGLang's machine factor.
        let (vllm, _) = applied(&[("serving_engine", "vllm"), ("replica_config_device", "b300")]);
        assert_eq!(
            value(&vllm, "roofline_execution_time_predictor_config_eager_launch_us").parse::<f64>().unwrap(),
            VLLM_EAGER_LAUNCH_US
        );
    }

    #[test]
    fn sglang_picks_its_moe_runners_host_cost_by_architecture_gpu_and_dtype() {
        // The bundle's MoE host µs for an SGLang run of `model` on `device` with `dtype` weights.
        let moe_us = |model: &str, device: &str, dtype: &str| {
            let (c, _) = applied(&[
                ("serving_engine", "sglang"),
                ("replica_config_model_name", model),
                ("replica_config_device", device),
                ("replica_config_weight_dtype", dtype),
            ]);
            value(&c, "roofline_execution_time_predictor_config_eager_moe_layer_us").parse::<f64>().unwrap()
        };
        // The DeepSeek-V3 architecture (latent attention, no sparse indexer) on SM100 with fp8 or
        // fp4 weights: `flashinfer_trtllm`, TRTLLM-Gen's one runner op.
        assert_eq!(moe_us("deepseek-ai/DeepSeek-R1", "b200", "fp8"), SGLANG_TRTLLM_GEN_EAGER_MOE_LAYER_US);
        assert_eq!(
            moe_us("deepseek-ai/DeepSeek-V3", "b300", "fp4"),
            SGLANG_TRTLLM_GEN_EAGER_MOE_LAYER_US * SGLANG_B300_HOST_SCALE
        );
        assert_eq!(SGLANG_TRTLLM_GEN_EAGER_MOE_LAYER_US, 300.0);
        // Hopper, other weight dtypes, other architectures (Gated DeltaNet hybrids) and models
        // the catalogue lacks keep the default runners'.
        assert_eq!(moe_us("deepseek-ai/DeepSeek-R1", "h200", "fp8"), SGLANG_EAGER_MOE_LAYER_US);
        assert_eq!(moe_us("moonshotai/Kimi-K2.5", "b200", "int4"), SGLANG_EAGER_MOE_LAYER_US);
        assert_eq!(moe_us("zai-org/GLM-5", "h200", "fp8"), SGLANG_EAGER_MOE_LAYER_US);
        assert_eq!(moe_us("Qwen/Qwen3.5-397B-A17B", "b200", "fp8"), SGLANG_EAGER_MOE_LAYER_US);
        assert_eq!(moe_us("no-such/model", "b200", "fp8"), SGLANG_EAGER_MOE_LAYER_US);
        assert_eq!(SGLANG_EAGER_MOE_LAYER_US, 2500.0);
    }

    #[test]
    fn every_engine_streams_per_tensor_fp8_gemms_faster_on_h200_only() {
        let scale = |engine: &str, device: &str| {
            let (c, _) = applied(&[("serving_engine", engine), ("replica_config_device", device)]);
            c.get("roofline_execution_time_predictor_config_fp8_gemm_stream_scale").to_text()
        };
        for engine in ["vllm", "sglang", "trtllm"] {
            assert_eq!(scale(engine, "h200"), "0.8", "{engine}");
            assert_eq!(scale(engine, "h100"), "1.0", "{engine}");
            assert_eq!(scale(engine, "b200"), "1.0", "{engine}");
        }
        // An explicit value wins over the device's.
        let (c, _) = applied(&[
            ("serving_engine", "vllm"),
            ("replica_config_device", "h200"),
            ("roofline_execution_time_predictor_config_fp8_gemm_stream_scale", "1"),
        ]);
        assert_eq!(c.get("roofline_execution_time_predictor_config_fp8_gemm_stream_scale").to_text(), "1.0");
    }

    #[test]
    fn per_tensor_fp8_gemms_run_cublaslt_in_trtllm_and_in_vllm_on_sm100() {
        let flag = |engine: &str, device: &str| {
            let (c, _) = applied(&[("serving_engine", engine), ("replica_config_device", device)]);
            c.get("roofline_execution_time_predictor_config_fp8_cublaslt_gemm").to_text()
        };
        assert_eq!(flag("vllm", "b200"), "true");
        assert_eq!(flag("vllm", "gb300"), "true");
        assert_eq!(flag("vllm", "h200"), "false");
        assert_eq!(flag("trtllm", "h200"), "false");
        assert_eq!(flag("trtllm", "h100"), "false");
        assert_eq!(flag("trtllm", "b200"), "true");
        assert_eq!(flag("sglang", "b200"), "false");
    }

    #[test]
    fn sglang_fuses_norms_into_the_all_reduce_for_deepseek_by_gpu_version_dp_and_host() {
        // The bundle's kernel fusion for an SGLang run with `flags` on top of DeepSeek-V3, TP 8.
        let fusion = |flags: &[(&str, &str)]| {
            let mut all = vec![
                ("serving_engine", "sglang"),
                ("replica_config_model_name", "deepseek-ai/DeepSeek-V3"),
                ("replica_config_device", "b200"),
                ("replica_config_tensor_parallel_size", "8"),
            ];
            all.extend_from_slice(flags);
            let (c, _) = applied(&all);
            c.get("roofline_execution_time_predictor_config_kernel_fusion").to_text()
        };
        assert_eq!(fusion(&[]), "sglang");
        assert_eq!(
            fusion(&[("replica_config_device", "b300"), ("serving_engine_version", "0.5.10.post1")]),
            "sglang"
        );
        assert_eq!(fusion(&[("serving_engine_version", "0.5.5")]), "sglang");
        // Before 0.5.5 (not read) none; Hopper from 0.5.7.
        assert_eq!(fusion(&[("serving_engine_version", "0.5.3")]), "none");
        assert_eq!(
            fusion(&[("replica_config_device", "h200"), ("serving_engine_version", "0.5.9")]),
            "sglang"
        );
        assert_eq!(fusion(&[("replica_config_device", "h200"), ("serving_engine_version", "0.5.6")]), "none");
        // Other GPUs, attention DP, two hosts, other architectures: none.
        assert_eq!(fusion(&[("replica_config_device", "a100")]), "none");
        assert_eq!(fusion(&[("replica_config_attention_dp_size", "8")]), "none");
        assert_eq!(fusion(&[("replica_config_tensor_parallel_size", "16")]), "none");
        assert_eq!(
            fusion(&[("replica_config_device", "gb200"), ("replica_config_tensor_parallel_size", "8")]),
            "none"
        );
        assert_eq!(fusion(&[("replica_config_model_name", "Qwen/Qwen3.5-397B-A17B")]), "none");
        assert_eq!(fusion(&[("replica_config_model_name", "zai-org/GLM-5")]), "none");
    }

    #[test]
    fn sglang_times_fp8_experts_outside_the_latent_attention_family_on_the_fused_moe_fit() {
        // The bundle's fp8_moe_fit_at_decode for an SGLang run of `model` on `device` with
        // `dtype` weights.
        let fit = |model: &str, device: &str, dtype: &str| {
            let (c, _) = applied(&[
                ("serving_engine", "sglang"),
                ("serving_engine_version", "0.5.9"),
                ("replica_config_model_name", model),
                ("replica_config_device", device),
                ("replica_config_tensor_parallel_size", "8"),
                ("replica_config_weight_dtype", dtype),
            ]);
            value(&c, "roofline_execution_time_predictor_config_fp8_moe_fit_at_decode")
        };
        // Qwen3.5 (Gated DeltaNet layers): SGLang's `flashinfer_trtllm` runner on SM100, the
        // untuned Triton fused MoE on SM90.
        for device in ["b200", "b300", "h200"] {
            assert_eq!(fit("Qwen/Qwen3.5-397B-A17B", device, "fp8"), "true", "{device}");
        }
        // A plain MoE (Qwen3-MoE: no latent, no linear attention) runs the same Triton fused
        // MoE on SM90, the fit's kernel.
        assert_eq!(fit("Qwen/Qwen3-235B-A22B-FP8", "h200", "fp8"), "true");
        // On SM100 only the linear-attention branch takes `flashinfer_trtllm`: no fit there.
        assert_eq!(fit("Qwen/Qwen3-235B-A22B-FP8", "b200", "fp8"), "false");
        // Other weights, the latent-attention family: the generic fp8 curve at decode sizes.
        assert_eq!(fit("Qwen/Qwen3.5-397B-A17B", "b200", "fp16"), "false");
        assert_eq!(fit("Qwen/Qwen3.5-397B-A17B", "b200", "fp4"), "false");
        assert_eq!(fit("deepseek-ai/DeepSeek-R1", "b200", "fp8"), "false");
        assert_eq!(fit("deepseek-ai/DeepSeek-R1", "h200", "fp8"), "false");
        assert_eq!(fit("zhipuai/GLM-5", "h200", "fp8"), "false");
    }

    #[test]
    fn sglang_times_gated_deltanet_prefill_as_flash_linear_attention_s_chunked_kernels() {
        let flags = |engine: &str, model: &str, device: &str, dtype: &str| {
            let (c, _) = applied(&[
                ("serving_engine", engine),
                ("replica_config_model_name", model),
                ("replica_config_device", device),
                ("replica_config_tensor_parallel_size", "8"),
                ("replica_config_weight_dtype", dtype),
            ]);
            (
                value(&c, "roofline_execution_time_predictor_config_linear_prefill_efficiency"),
                value(&c, "roofline_execution_time_predictor_config_linear_prefill_floor_us"),
            )
        };
        // Qwen3.5's Gated DeltaNet layers, any weights and GPU: SGLang's Triton FLA prefill.
        for (device, dtype) in [("b200", "fp8"), ("b300", "fp16"), ("h200", "fp8"), ("b200", "fp4")] {
            let got = flags("sglang", "Qwen/Qwen3.5-397B-A17B", device, dtype);
            assert_eq!(got, ("0.025".to_string(), "200.0".to_string()), "{device} {dtype}");
        }
        // Other architectures and other engines: inside the attention work, as before.
        assert_eq!(flags("sglang", "deepseek-ai/DeepSeek-R1", "b200", "fp8").0, "0.0");
        assert_eq!(flags("vllm", "Qwen/Qwen3.5-397B-A17B", "b200", "fp8").0, "0.0");
    }

    #[test]
    fn only_engines_running_flashmla_s_sparse_kernels_set_them_for_sparse_attention() {
        let flag = |engine: &str, model: &str, device: &str| {
            let (c, _) = applied(&[
                ("serving_engine", engine),
                ("replica_config_model_name", model),
                ("replica_config_device", device),
                ("replica_config_tensor_parallel_size", "8"),
            ]);
            value(&c, "roofline_execution_time_predictor_config_flashmla_sparse")
        };
        for device in ["h200", "b200"] {
            assert_eq!(flag("sglang", "zhipuai/GLM-5", device), "true", "{device}");
            assert_eq!(flag("vllm", "zhipuai/GLM-5", device), "true", "{device}");
        }
        assert_eq!(flag("trtllm", "zhipuai/GLM-5", "h200"), "true");
        assert_eq!(flag("trtllm", "zhipuai/GLM-5", "gb200"), "false");
        assert_eq!(flag("sglang", "deepseek-ai/DeepSeek-R1", "b200"), "false");
    }

    #[test]
    fn sglang_caps_latent_attention_prefill_on_sm103_from_0_5_10() {
        // The bundle's MLA prefill cap for an SGLang `version` run of `model` on `device`.
        let cap = |model: &str, device: &str, version: &str| {
            let (c, _) = applied(&[
                ("serving_engine", "sglang"),
                ("serving_engine_version", version),
                ("replica_config_model_name", model),
                ("replica_config_device", device),
                ("replica_config_weight_dtype", "fp8"),
            ]);
            value(&c, "roofline_execution_time_predictor_config_mla_prefill_tflops").parse::<f64>().unwrap()
        };
        let capped = SGLANG_SM103_MLA_PREFILL_TFLOPS;
        for device in ["b300", "gb300"] {
            for version in ["0.5.10.post1", "nightly-dev", "latest"] {
                assert_eq!(cap("deepseek-ai/DeepSeek-V3", device, version), capped, "{device} {version}");
            }
            // Before 0.5.10 (GB300's 0.5.8.post1 prefill pools are not slow): no cap.
            assert_eq!(cap("deepseek-ai/DeepSeek-V3", device, "0.5.8.post1"), 0.0, "{device}");
        }
        // SM100 and Hopper, the sparse-indexer models (FlashMLA sparse) and other attention: none.
        assert_eq!(cap("deepseek-ai/DeepSeek-V3", "b200", "0.5.10.post1"), 0.0);
        assert_eq!(cap("deepseek-ai/DeepSeek-V3", "h200", "0.5.10.post1"), 0.0);
        assert_eq!(cap("zai-org/GLM-5", "b300", "0.5.10.post1"), 0.0);
        assert_eq!(cap("Qwen/Qwen3.5-397B-A17B", "b300", "0.5.10.post1"), 0.0);
        // Another engine on the same GPU: none.
        let (vllm, _) = applied(&[
            ("serving_engine", "vllm"),
            ("replica_config_model_name", "deepseek-ai/DeepSeek-V3"),
            ("replica_config_device", "b300"),
        ]);
        assert_eq!(value(&vllm, "roofline_execution_time_predictor_config_mla_prefill_tflops"), "0.0");
    }

    #[test]
    fn sglang_gives_sparse_indexer_models_the_trtllm_gen_runner_from_0_5_6() {
        // The bundle's MoE host µs for an SGLang `version` run of `model` on B200 with fp8 weights.
        let moe_us = |model: &str, version: &str| {
            let (c, _) = applied(&[
                ("serving_engine", "sglang"),
                ("serving_engine_version", version),
                ("replica_config_model_name", model),
                ("replica_config_device", "b200"),
                ("replica_config_weight_dtype", "fp8"),
            ]);
            value(&c, "roofline_execution_time_predictor_config_eager_moe_layer_us").parse::<f64>().unwrap()
        };
        // Latent attention with the sparse indexer (DeepSeek Sparse Attention): the default
        // runners before the DeepSeek-family MoE block covered NSA models (0.5.5), TRTLLM-Gen
        // from 0.5.6, in nightly builds and in the newest.
        // (GLM-5, the catalogue's model with it.)
        assert_eq!(moe_us("zai-org/GLM-5", "0.5.5.post2"), SGLANG_EAGER_MOE_LAYER_US);
        for version in ["0.5.6", "0.5.9", "0.5.10.post1", "nightly-dev", "latest"] {
            assert_eq!(moe_us("zai-org/GLM-5", version), SGLANG_TRTLLM_GEN_EAGER_MOE_LAYER_US, "{version}");
        }
        // Without the indexer the runner does not depend on the version.
        assert_eq!(moe_us("deepseek-ai/DeepSeek-R1", "0.5.3"), SGLANG_TRTLLM_GEN_EAGER_MOE_LAYER_US);
        assert_eq!(moe_us("deepseek-ai/DeepSeek-R1", "0.5.9"), SGLANG_TRTLLM_GEN_EAGER_MOE_LAYER_US);
    }

    #[test]
    fn trtllm_picks_its_moe_modules_host_cost_by_gpu_and_expert_dtype() {
        // The bundle's MoE host µs for a TensorRT-LLM run with `pairs` besides the engine.
        let moe_us_with = |pairs: &[(&str, &str)]| {
            let all: Vec<(&str, &str)> =
                [("serving_engine", "trtllm")].into_iter().chain(pairs.iter().copied()).collect();
            let (c, _) = applied(&all);
            value(&c, "roofline_execution_time_predictor_config_eager_moe_layer_us").parse::<f64>().unwrap()
        };
        let moe_us = |device: &str, dtype: &str| {
            moe_us_with(&[("replica_config_device", device), ("replica_config_weight_dtype", dtype)])
        };
        // fp4 experts on a GPU with fp4 tensor cores: TRTLLM-Gen's one runner op.
        assert_eq!(moe_us("b200", "fp4"), TRTLLM_GEN_EAGER_MOE_LAYER_US);
        assert_eq!(TRTLLM_GEN_EAGER_MOE_LAYER_US, 300.0);
        // fp8 experts on Blackwell, and fp4 ones on Hopper: the CUTLASS / Triton modules.
        assert_eq!(moe_us("b200", "fp8"), TRTLLM_EAGER_MOE_LAYER_US);
        assert_eq!(moe_us("h200", "fp4"), TRTLLM_EAGER_MOE_LAYER_US);
        assert_eq!(moe_us("h100", "fp16"), TRTLLM_EAGER_MOE_LAYER_US);
        assert_eq!(moe_us("gb300", "fp4"), TRTLLM_GEN_EAGER_MOE_LAYER_US);
        // A custom device has fp4 tensor cores when its FP4 rate is given.
        let custom = |fp4: &str| {
            moe_us_with(&[
                ("replica_config_device", "custom"),
                ("custom_device_config_fp4_tflops", fp4),
                ("replica_config_weight_dtype", "fp4"),
            ])
        };
        assert_eq!(custom("9000"), TRTLLM_GEN_EAGER_MOE_LAYER_US);
        assert_eq!(custom("none"), TRTLLM_EAGER_MOE_LAYER_US);
        // The user's value wins over the bundle's.
        let (c, _) = applied(&[
            ("serving_engine", "trtllm"),
            ("replica_config_device", "b200"),
            ("replica_config_weight_dtype", "fp4"),
            ("roofline_execution_time_predictor_config_eager_moe_layer_us", "1500"),
        ]);
        assert_eq!(value(&c, "roofline_execution_time_predictor_config_eager_moe_layer_us"), "1500.0");
    }

    #[test]
    fn a_bad_version_is_refused_naming_its_flag() {
        let config =
            Config::from_pairs([("serving_engine", "vllm"), ("serving_engine_version", "recent")]).unwrap();
        let e = apply(&config).unwrap_err();
        assert_eq!(e.flag, "serving_engine_version");
        assert!(e.message.contains("'recent' is not a version"), "{}", e.message);
    }
}
