//! From a measured point to an llmsim configuration: the deployment (model, GPUs,
//! parallelism, dtypes, the serving engine and its version, `deployment.rs`) and the benchmark
//! client (`client.rs`). Later work extends this one function: disaggregation, MoE/EP/MLA.

use crate::client::{Overrides, client_for};
use crate::deployment::{engine_version, model_recipe_flags, recipe_flags, trtllm_sweep_flags};
use crate::points::{Instance, Mode, Pools, ServingPoint};
use crate::skip::SkipReason;

/// A point as an llmsim run.
#[derive(Clone, Debug, PartialEq)]
pub struct PointConfig {
    /// `(flag, value)` pairs with Vidur's flag names.
    pub flags: Vec<(&'static str, String)>,
    /// `--set` flags for this point's backend, applied after `flags` (so they win).
    pub settings: Vec<(String, String)>,
    /// The serving engine measured (`--serving_engine`).
    pub backend: String,
    /// Clients of the closed loop.
    pub concurrency: u32,
    /// Warm-up requests, sent before the measured ones and excluded from the means.
    pub warmup_requests: u64,
    /// Requests the means are taken over.
    pub measured_requests: u64,
}

/// GPU systems by the `system` column: llmsim device and network node. Names the catalogue
/// lacks are kept so that adding the device and node to `data/*.json` is all it takes.
const SYSTEMS: &[(&str, &str, &str)] = &[
    ("h100_sxm", "h100", "h100_dgx"),
    ("h200_sxm", "h200", "h200_dgx"),
    ("b200_sxm", "b200", "b200_dgx"),
    ("b300_sxm", "b300", "b300_dgx"),
    ("gb200", "gb200", "gb200_nvl72"),
    ("gb300", "gb300", "gb300_nvl72"),
];

/// Serving engines the harness knows.
const BACKENDS: &[&str] = &["vllm", "sglang", "trtllm"];

/// KV page size of SGLang's disaggregated pools in the harness (SGLang's own is 1 token).
const SGLANG_DISAGG_BLOCK_SIZE: u32 = 16;

/// Requests one decode worker runs at once: `decode_batch_size` per attention-DP rank, as an
/// aggregated row's `batch_size` is. AIConfigurator, whose file this is, sizes batches per rank
/// (its SDK's `global_bs = bs * attention_dp_size`, as NVIDIA Dynamo's mocker `perf_model.rs`
/// states when it divides a global batch for it). Read per worker instead, the decode pools
/// with attention DP came out at half the measured TPOT (their batches DP-fold too small), those
/// without it within ~15 %.
fn decode_worker_batch(decode: &crate::points::Pool) -> u64 {
    u64::from(decode.batch_size.unwrap_or(1)) * u64::from(decode.attention_dp_size.max(1))
}

/// The decode pool of a disaggregated point: its workers, parallelism (TP, PP, attention DP,
/// EP) and per-worker batch; the prefill pool's shape is the replica flags'. The first token
/// reaches the client from the decode worker (Dynamo's workers: the prefill worker's output
/// token is not streamed), so TTFT includes the transfer. Every engine's scheduler serves
/// disaggregated pools (vLLM's, SGLang's and TensorRT-LLM's hand-off and decode admission).
///
/// The decode batch cap is the engine's: TensorRT-LLM's `max_batch_size` holds per attention-DP
/// rank (`per_rank_cap`), as vLLM's `max_num_seqs` does (each DP rank is its own engine core);
/// SGLang's cap per worker.
fn disagg_flags(pools: &Pools, per_rank_cap: bool) -> Vec<(&'static str, String)> {
    let (prefill, decode) = (pools.prefill, pools.decode);
    let decode_cap =
        if per_rank_cap { u64::from(decode.batch_size.unwrap_or(1)) } else { decode_worker_batch(&decode) };
    let count = |n: Option<u32>| n.unwrap_or(1).to_string();
    vec![
        ("cluster_config_num_replicas", count(prefill.num_workers)),
        ("disaggregation_config_type", "prefill_decode".to_string()),
        ("disaggregation_config_decode_num_replicas", count(decode.num_workers)),
        ("disaggregation_config_decode_tensor_parallel_size", decode.tp_size.to_string()),
        ("disaggregation_config_decode_num_pipeline_stages", decode.pp_size.to_string()),
        ("disaggregation_config_decode_attention_dp_size", decode.attention_dp_size.max(1).to_string()),
        ("disaggregation_config_decode_expert_parallel_size", decode.moe_ep_size.max(1).to_string()),
        ("disaggregation_config_decode_batch_size_cap", decode_cap.to_string()),
        ("disaggregation_config_first_token_after_transfer", "true".to_string()),
    ]
}

/// Attention TP, attention DP and EP of an aggregated instance whose recorded attention TP is
/// `tp`. Some rows spell an instance of k GPUs that serves the experts with EP k as expert TP
/// k × EP k (`moe_tp_size = moe_ep_size = k`) with the attention side multiplied by k (TP k²
/// and DP 1, or TP 1 and DP k²): the same measurements appear under both spellings in the
/// shared file (identical TTFT and TPOT; e.g. TP 64 with expert TP 8 × EP 8 against TP 8 with
/// EP 8, DP 64 against DP 8). Such rows are read as the k-GPU instance when k² GPUs would
/// spill out of one node of `node_gpus` and k would not. Inside one node (TP 4 with 2 × 2 on
/// an 8-GPU node) the attention DP column decides: the rows that record it (InferenceX's
/// sweeps, whose scripts start `--tp_size=$TP --ep_size=$EP_SIZE` on TP GPUs and whose rows
/// write TP and EP as expert TP × EP with their product as TP, as at k 4 and 8) are the k-GPU
/// instance (gpt-oss on TensorRT-LLM H200, "TP 4, 2 × 2": the TP 2 rows' TPOT within 2 %, the
/// TP 4 rows' 15-27 % below); a row that leaves it blank (AIConfigurator's own runs, whose
/// expert TP × EP splits the TP) keeps what it says. Their clients stay `batch_size` × the
/// recorded DP, the product on which both spellings agree.
fn aggregated_shape(point: &ServingPoint, tp: u32, node_gpus: Option<u32>) -> (u32, u32, u32) {
    let dp = point.attention_dp_size.unwrap_or(1).max(1);
    let ep = point.moe_ep_size.unwrap_or(1).max(1);
    let dp_recorded = point.attention_dp_size.is_some();
    let spelled = |k: u32, n: u32| {
        k == ep
            && k > 1
            && k.checked_mul(k) == Some(n)
            && node_gpus.is_some_and(|g| k <= g && (n > g || dp_recorded))
    };
    match point.moe_tp_size {
        Some(k) if dp == 1 && spelled(k, tp) => (k, 1, k),
        Some(k) if tp == 1 && spelled(k, dp) => (1, k, k),
        _ => match vllm_implied_dp(point, tp) {
            Some(implied) => (tp, implied, ep),
            None => (tp, dp, ep),
        },
    }
}

/// The layout InferenceX's TensorRT-LLM fp8 H200 MoE script ran on the image-less runs
/// (autumn 2025: no `backend_version`, run date before [`crate::deployment::IMAGES_RECORDED_SINCE`]), whose rows
/// record no expert layout (expert TP = TP, EP 1, as every image-less row of the file does):
/// `benchmarks/dsr1_fp8_h200_trt_slurm.sh` from `ec90f3fe7` (2025-09-18) to `9596d23d7`
/// (2025-10-29) sets `EP_SIZE="$TP"` at every length and concurrency and
/// `DP_ATTENTION=true` above 64 clients (ISL 1024) or 32 clients (ISL 8192), passed as
/// `trtllm-serve --tp_size=$TP --ep_size=$EP_SIZE` with `enable_attention_dp`; its successor
/// (`17d5e204f`, 2025-11-03) takes them from `.github/configs/nvidia-master.yaml`
/// (`dsr1-fp8-h200-trt`: "For all sequence lengths, EP=TP", `{ tp: 8, ep: 8 }`, `dp-attn`
/// at 8k/1k from 64 clients, none at 1k prompts). Runs before the script (2025-09-18) get
/// `None`. TensorRT-LLM's attention DP runs one attention rank per GPU
/// (attention TP 1, `--tp_size` ranks). Returns (attention TP, attention DP, EP), `None` for
/// any other row (an H200 fp8 MoE model on TensorRT-LLM is the only one those scripts ran;
/// B200 scripts of the time had their own rules, not encoded here).
fn early_script_shape(point: &ServingPoint, tp: u32, clients: u32) -> Option<(u32, u32, u32)> {
    let date = point.run_date();
    let undated_image = point.backend_version.is_empty()
        && date >= EARLY_SCRIPT_SINCE
        && date < crate::deployment::IMAGES_RECORDED_SINCE;
    let unrecorded = point.moe_ep_size.unwrap_or(1) <= 1
        && point.moe_tp_size.is_none_or(|k| k == tp)
        && point.attention_dp_size.unwrap_or(1) <= 1;
    let moe = llmsim_engine::catalog::find_model(&point.model_path).is_some_and(|m| m.moe.is_some());
    if point.backend != "trtllm" || point.system != "h200_sxm" || point.precision != "fp8" || tp <= 1 {
        return None;
    }
    if !(undated_image && unrecorded && moe) {
        return None;
    }
    let attention_dp = if date < EARLY_SCRIPT_YAML_SINCE {
        clients > if point.isl >= 8192 { 32 } else { 64 }
    } else {
        point.isl >= 8192 && clients >= 64
    };
    Some(if attention_dp { (1, tp, tp) } else { (tp, 1, tp) })
}

/// The first day of InferenceX's `dsr1_fp8_h200_trt_slurm.sh` with `EP_SIZE="$TP"` (`ec90f3fe7`).
const EARLY_SCRIPT_SINCE: &str = "2025-09-18";
/// The day InferenceX's H200 DeepSeek TensorRT-LLM layouts moved to `nvidia-master.yaml` (`17d5e204f`).
const EARLY_SCRIPT_YAML_SINCE: &str = "2025-11-03";

/// The attention DP of a vLLM row that records none but whose experts span more GPUs than its
/// attention TP (`moe_tp_size × moe_ep_size > tp_size`, attention DP blank or 1): vLLM run with
/// `--data-parallel-size D` shards every MoE layer over all D × TP GPUs, tensor-parallel with
/// expert parallelism off and expert-parallel with it on, while attention runs on each DP
/// rank's own TP GPUs (`FusedMoEParallelConfig.make` and `flatten_tp_across_dp_and_pcp`,
/// `vllm/model_executor/layers/fused_moe/config.py`, as of the v0.12 line and unchanged on
/// main: "When TP = 1, DP = 2 and EP = False ... TP = {2, 0} DP = {2, 0}"). So such a row is
/// TP × D GPUs with D = moe_tp × moe_ep / tp, the experts split `TP × D / EP` ways, which is
/// llmsim's expert TP under attention DP. `None` for any other row, and where the product is
/// not a whole multiple of the TP. vLLM only: SGLang and TensorRT-LLM count their MoE group
/// within their `--tp` / `tp_size` (SGLang's `moe_tp_size = tp_size // ep_size`, in
/// `python/sglang/srt/server_args.py`; TensorRT-LLM's `tensorrt_llm/mapping.py` checks
/// `moe_tp × moe_ep × moe_cluster = moe world size`), so an expert group wider than the TP
/// without attention DP does not arise in their terms. A dense model (by the catalogue) has no
/// MoE group: its `moe_tp_size` says nothing.
fn vllm_implied_dp(point: &ServingPoint, tp: u32) -> Option<u32> {
    if point.backend != "vllm" || point.attention_dp_size.unwrap_or(1) > 1 || tp == 0 {
        return None;
    }
    if llmsim_engine::catalog::find_model(&point.model_path).is_none_or(|m| m.moe.is_none()) {
        return None;
    }
    let group = point.moe_tp_size?.checked_mul(point.moe_ep_size.unwrap_or(1).max(1))?;
    (group > tp && group % tp == 0).then_some(group / tp)
}

/// The llmsim configuration of `point`, or why it cannot be modelled. Checks run in a fixed
/// order and the first that fails is the reason: serving mode (a disaggregated row must size
/// its pools), system, dtypes, serving engine. The engine's own refusals (unknown model, does
/// not fit) come when the configuration is built ([`crate::simulate::build`]).
pub fn point_config(point: &ServingPoint, overrides: &Overrides) -> Result<PointConfig, SkipReason> {
    // A disaggregated point runs its prefill pool's instance shape behind the router and adds
    // the decode pool (`disagg_flags`); its clients fill the decode pool's batches.
    let (instance, pools) = match (point.mode, point.pools) {
        (Mode::Aggregated(instance), _) => (instance, None),
        (Mode::Disaggregated, None) => return Err(SkipReason::Disaggregated),
        (Mode::Disaggregated, Some(pools)) => (
            Instance {
                concurrency: decode_worker_batch(&pools.decode)
                    .checked_mul(u64::from(pools.decode.num_workers.unwrap_or(1)))
                    .and_then(|clients| u32::try_from(clients).ok())
                    .ok_or_else(|| SkipReason::Refused {
                    flag: "decode_batch_size".into(),
                    message: "decode_batch_size × decode_attention_dp_size × decode_num_workers is beyond 2^32 clients"
                        .into(),
                })?,
                tp_size: pools.prefill.tp_size,
                pp_size: pools.prefill.pp_size,
            },
            Some(pools),
        ),
    };
    let (device, node) = SYSTEMS
        .iter()
        .find(|(system, ..)| *system == point.system)
        .map(|&(_, device, node)| (device, node))
        .ok_or_else(|| SkipReason::UnknownSystem(point.system.clone()))?;
    let weight_dtype = weight_dtype(point)?;
    // An aggregated point's attention DP and EP are the replica's; a disaggregated point's are
    // each pool's (the prefill pool's as the replica's, the decode pool's in `disagg_flags`).
    if !BACKENDS.contains(&point.backend.as_str()) {
        return Err(SkipReason::UnknownBackend(point.backend.clone()));
    }
    if let Some(message) = crate::client::concurrency_not_recorded(point) {
        return Err(SkipReason::ConcurrencyNotRecorded { message });
    }
    // Without worker counts and batch sizes the pools' sizes are unknown.
    if pools.is_some_and(|p| {
        [p.prefill, p.decode].iter().any(|p| p.num_workers.is_none() || p.batch_size.is_none())
    }) {
        return Err(SkipReason::Disaggregated);
    }
    // SGLang's `auto` KV dtype is fp8 for a DeepSeek-Sparse-Attention model on Blackwell (its
    // `_set_default_nsa_kv_cache_dtype`: fp8_e4m3 from compute capability 10), an architecture
    // fact of the catalogued model and a property of the GPU (its FP4 rate marks Blackwell).
    let blackwell = llmsim_engine::catalog::find_device(device).is_some_and(|d| d.fp4_tflops.is_some());
    let sparse_on_blackwell = llmsim_engine::catalog::find_model(&point.model_path)
        .is_some_and(|m| m.sparse_attention.is_some())
        && blackwell;
    // The Blackwell SGLang recipes that quantise the KV cache are the aggregated ones; the
    // disaggregated pools keep the engine's `auto`.
    let aggregated = matches!(point.mode, crate::points::Mode::Aggregated(_));
    let kv_dtype = kv_cache_dtype(&point.backend, weight_dtype, sparse_on_blackwell, blackwell && aggregated);
    let Instance { concurrency: batch_size, tp_size: recorded_tp, pp_size: pp } = instance;
    // `batch_size` is per attention-DP rank; the clients drive the whole instance.
    let concurrency =
        batch_size.checked_mul(point.attention_dp_size.unwrap_or(1)).ok_or_else(|| SkipReason::Refused {
            flag: "batch_size".into(),
            message: "batch_size × attention_dp_size is beyond 2^32 clients".into(),
        })?;
    let (tp, replica_dp, replica_ep) = match pools {
        Some(p) => (recorded_tp, p.prefill.attention_dp_size.max(1), p.prefill.moe_ep_size.max(1)),
        None => early_script_shape(point, recorded_tp, batch_size).unwrap_or_else(|| {
            aggregated_shape(
                point,
                recorded_tp,
                llmsim_engine::catalog::find_node(node).map(|n| n.devices_per_node),
            )
        }),
    };
    let client = client_for(point, overrides);
    let warmup_requests = client.warmup.requests(concurrency);
    let measured_requests = u64::from(client.requests_per_client) * u64::from(concurrency);
    let mut flags = vec![
        ("replica_config_model_name", point.model_path.clone()),
        ("replica_config_device", device.to_string()),
        ("replica_config_network_device", node.to_string()),
        ("replica_config_tensor_parallel_size", tp.to_string()),
        ("replica_config_num_pipeline_stages", pp.to_string()),
        ("replica_config_attention_dp_size", replica_dp.to_string()),
        ("replica_config_expert_parallel_size", replica_ep.to_string()),
        ("replica_config_weight_dtype", weight_dtype.to_string()),
        ("replica_config_kv_cache_dtype", kv_dtype.to_string()),
        ("serving_engine", point.backend.clone()),
        ("serving_engine_version", engine_version(point)),
        ("request_generator_config_type", "closed_loop".to_string()),
        ("closed_loop_request_generator_config_concurrency", concurrency.to_string()),
        ("closed_loop_request_generator_config_num_requests", measured_requests.to_string()),
        ("closed_loop_request_generator_config_warmup_requests", warmup_requests.to_string()),
        ("closed_loop_request_generator_config_length_range_ratio", client.length_range_ratio.to_string()),
        ("closed_loop_request_generator_config_client_ttft_overhead", client.ttft_overhead_s.to_string()),
        (
            "closed_loop_request_generator_config_client_ttft_overhead_per_input_token",
            client.ttft_overhead_per_input_token_s.to_string(),
        ),
        ("length_generator_config_type", "fixed".to_string()),
        ("fixed_request_length_generator_config_prefill_tokens", point.isl.to_string()),
        ("fixed_request_length_generator_config_decode_tokens", point.osl.to_string()),
    ];
    flags.extend(recipe_flags(point, concurrency, replica_dp, blackwell));
    if let Some(pools) = pools {
        // TensorRT-LLM's `max_batch_size` and vLLM's `max_num_seqs` (one engine core per DP
        // rank, `vllm_dp.rs`) hold per rank; SGLang's `--max-running-requests` per worker.
        flags.extend(disagg_flags(&pools, matches!(point.backend.as_str(), "trtllm" | "vllm")));
        if point.backend == "sglang" {
            // SGLang's 1-token pages would make a DP-8-32 pool's KV (up to 113 M tokens per
            // replica) more blocks than the simulator keeps; 16-token pages change only the
            // last page of each request (random prompts share no prefix).
            flags.push(("cache_config_block_size", SGLANG_DISAGG_BLOCK_SIZE.to_string()));
        }
    }
    if overrides.model_recipes {
        flags.extend(model_recipe_flags(point, replica_dp));
        let sweep = trtllm_sweep_flags(point, concurrency, replica_dp, replica_ep, &flags);
        flags.extend(sweep);
    }
    Ok(PointConfig {
        flags,
        settings: Vec::new(),
        backend: point.backend.clone(),
        concurrency,
        warmup_requests,
        measured_requests,
    })
}

/// llmsim's weight dtype for a dtype name of the file, `None` for one it has no model of.
/// Block-scaled fp8 (`fp8_block`) stores and multiplies fp8 like per-tensor fp8; `nvfp4` (and
/// the precision column's `fp4`) is llmsim's fp4; INT4 weight-only (`int4_wo`, the precision
/// column's `int4`) its int4 (W4A16, group 32: on an MoE model the routed experts, the other
/// weights bf16, as the compressed-tensors checkpoint ships them). MXFP4 and the like are not.
fn llmsim_dtype(name: &str) -> Option<&'static str> {
    match name {
        "bf16" => Some("bf16"),
        "fp16" => Some("fp16"),
        "fp8" | "fp8_block" => Some("fp8"),
        "nvfp4" | "fp4" => Some("fp4"),
        "int4_wo" | "int4" => Some("int4"),
        _ => None,
    }
}

/// One weight dtype for GEMMs and experts; a blank quant mode means the row's precision.
/// INT4 weight-only experts beside bf16 GEMMs on a catalogued MoE model are llmsim's int4 (its
/// routed experts INT4, every other weight bf16); so are INT4 GEMMs and experts (llmsim then
/// keeps attention bf16: `int4` quantises an MoE model's routed experts only).
fn weight_dtype(point: &ServingPoint) -> Result<&'static str, SkipReason> {
    let resolve = |column: &'static str, value: &str| {
        let (column, value) =
            if value.is_empty() { ("precision", point.precision.as_str()) } else { (column, value) };
        llmsim_dtype(value).ok_or_else(|| SkipReason::Precision { column, value: value.to_string() })
    };
    let gemm = resolve("gemm_quant_mode", &point.gemm_quant_mode)?;
    let moe = resolve("moe_quant_mode", &point.moe_quant_mode)?;
    let moe_model = || llmsim_engine::catalog::find_model(&point.model_path).is_some_and(|m| m.moe.is_some());
    if (gemm, moe) == ("bf16", "int4") && moe_model() {
        return Ok("int4");
    }
    if gemm != moe {
        return Err(SkipReason::MixedPrecision { gemm, moe });
    }
    Ok(gemm)
}

/// The KV cache's dtype as the benchmarks ran it. InferenceX's vLLM and TensorRT-LLM
/// recipes for FP8 and FP4 checkpoints quantise the KV cache to fp8 (`kv-cache-dtype: fp8`,
/// `kv_cache_config: {dtype: fp8}`: `benchmarks/70b_fp8_*.sh`, `70b_fp4_b200_*.sh`,
/// `dsr1_fp8_*_trt_*.sh` at InferenceX `ac1998a5`, Oct 2025); its SGLang recipes leave it to
/// the engine's default (`auto`: the activations' dtype, bf16) on Hopper, and on Blackwell
/// (aggregated: `blackwell` is false for disaggregated pools) set `--kv-cache-dtype fp8_e4m3`
/// for FP8 and FP4 checkpoints (`dsr1_fp{4,8}_b200*.sh`,
/// `qwen3.5_fp8_b200.sh`, `glm5_fp8_b200.sh`). INT4 weight-only checkpoints (Kimi-K2.5's)
/// are taken to keep vLLM's `auto` (bf16). Anything else keeps the activations' dtype —
/// except SGLang's for a sparse-attention (DSA) model on Blackwell, whose `auto` is fp8
/// (`sparse_on_blackwell`).
fn kv_cache_dtype(
    backend: &str,
    weight_dtype: &'static str,
    sparse_on_blackwell: bool,
    blackwell: bool,
) -> &'static str {
    match (backend, weight_dtype) {
        ("vllm" | "trtllm", "fp8" | "fp4") => "fp8",
        ("sglang", "fp8" | "fp4") if blackwell => "fp8",
        ("sglang", _) if sparse_on_blackwell => "fp8",
        (_, "fp16") => "fp16",
        _ => "bf16",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::points::tests::point;

    fn flag<'a>(config: &'a PointConfig, name: &str) -> &'a str {
        config
            .flags
            .iter()
            .find(|(f, _)| *f == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name}"))
    }

    #[test]
    fn an_aggregated_point_becomes_a_closed_loop_run() {
        let p = point(&[("isl", "8192"), ("osl", "1024"), ("batch_size", "32"), ("tp_size", "2")]);
        let c = point_config(&p, &Overrides::default()).unwrap();
        assert_eq!(flag(&c, "replica_config_model_name"), "meta-llama/Llama-3.1-70B");
        assert_eq!(flag(&c, "replica_config_device"), "h200");
        assert_eq!(flag(&c, "replica_config_network_device"), "h200_dgx");
        assert_eq!(flag(&c, "replica_config_tensor_parallel_size"), "2");
        assert_eq!(flag(&c, "replica_config_weight_dtype"), "fp8");
        assert_eq!(flag(&c, "request_generator_config_type"), "closed_loop");
        assert_eq!(flag(&c, "closed_loop_request_generator_config_concurrency"), "32");
        assert_eq!(flag(&c, "fixed_request_length_generator_config_prefill_tokens"), "8192");
        assert_eq!(flag(&c, "fixed_request_length_generator_config_decode_tokens"), "1024");
        assert_eq!(flag(&c, "serving_engine"), "vllm");
        assert_eq!(flag(&c, "serving_engine_version"), "0.10.2", "blank in October 2025");
        assert_eq!(flag(&c, "vllm_v1_scheduler_config_async_scheduling"), "true");
        // Measured in October 2025: one warm-up request, then 10 measured requests per client.
        assert_eq!((c.warmup_requests, c.measured_requests), (1, 320));
        assert_eq!(flag(&c, "closed_loop_request_generator_config_num_requests"), "320");
        assert_eq!(flag(&c, "closed_loop_request_generator_config_warmup_requests"), "1");
        assert_eq!(flag(&c, "closed_loop_request_generator_config_length_range_ratio"), "0.8");
        assert_eq!(c.backend, "vllm");
    }

    #[test]
    fn clients_beyond_2_pow_32_are_refused_not_wrapped() {
        // 65,536 per rank × 65,536 ranks wrapped to 0 clients (a debug-build panic).
        let p = point(&[("batch_size", "65536"), ("attention_dp_size", "65536")]);
        match point_config(&p, &Overrides::default()) {
            Err(SkipReason::Refused { flag, .. }) => assert_eq!(flag, "batch_size"),
            other => panic!("{:?}", other.map(|c| c.flags)),
        }
    }

    #[test]
    fn the_client_model_sets_the_request_count() {
        let p = point(&[("batch_size", "8")]);
        let c = point_config(
            &p,
            &Overrides { requests_per_client: Some(3), warmup_per_client: Some(0), ..Overrides::default() },
        )
        .unwrap();
        assert_eq!((c.warmup_requests, c.measured_requests), (0, 24));
        assert_eq!(flag(&c, "closed_loop_request_generator_config_num_requests"), "24");
        assert_eq!(flag(&c, "closed_loop_request_generator_config_warmup_requests"), "0");
    }

    #[test]
    fn the_kv_cache_dtype_follows_the_benchmarks_recipes() {
        let kv_of = |overrides: &[(&str, &str)]| {
            flag(
                &point_config(&point(overrides), &Overrides::default()).unwrap(),
                "replica_config_kv_cache_dtype",
            )
            .to_string()
        };
        let kv = |backend, precision| {
            kv_of(&[
                ("backend", backend),
                ("precision", precision),
                ("gemm_quant_mode", ""),
                ("moe_quant_mode", ""),
            ])
        };
        assert_eq!(kv("vllm", "fp8"), "fp8");
        assert_eq!(kv("vllm", "bf16"), "bf16");
        assert_eq!(kv("sglang", "fp8"), "bf16");
        assert_eq!(kv("trtllm", "fp8"), "fp8");
        assert_eq!(kv("trtllm", "bf16"), "bf16");
        assert_eq!(kv("vllm", "fp16"), "fp16");
        assert_eq!(kv("vllm", "fp4"), "fp8");
        assert_eq!(kv("trtllm", "fp4"), "fp8");
        assert_eq!(kv("sglang", "fp4"), "bf16");
        // SGLang's auto is fp8 for a DeepSeek-Sparse-Attention model on Blackwell only.
        let sparse = |system| {
            kv_of(&[
                ("backend", "sglang"),
                ("model_path", "zhipuai/GLM-5"),
                ("system", system),
                ("precision", "fp8"),
                ("gemm_quant_mode", "fp8"),
                ("moe_quant_mode", "fp8_block"),
            ])
        };
        assert_eq!(sparse("b200_sxm"), "fp8");
        assert_eq!(sparse("h200_sxm"), "bf16");
        // SGLang's Blackwell recipes quantise the KV cache of FP8 and FP4 checkpoints.
        let on = |system, precision| {
            kv_of(&[
                ("backend", "sglang"),
                ("system", system),
                ("precision", precision),
                ("gemm_quant_mode", ""),
                ("moe_quant_mode", ""),
            ])
        };
        assert_eq!(on("b200_sxm", "fp8"), "fp8");
        assert_eq!(on("b300_sxm", "fp4"), "fp8");
        assert_eq!(on("b200_sxm", "bf16"), "bf16");
        assert_eq!(on("h200_sxm", "fp8"), "bf16");
    }

    #[test]
    fn block_scaled_fp8_is_fp8_and_blank_modes_take_the_precision() {
        let p = point(&[("gemm_quant_mode", "fp8_block"), ("moe_quant_mode", "fp8_block")]);
        assert_eq!(
            flag(&point_config(&p, &Overrides::default()).unwrap(), "replica_config_weight_dtype"),
            "fp8"
        );
        let p = point(&[("precision", "bf16"), ("gemm_quant_mode", ""), ("moe_quant_mode", "")]);
        assert_eq!(
            flag(&point_config(&p, &Overrides::default()).unwrap(), "replica_config_weight_dtype"),
            "bf16"
        );
    }

    #[test]
    fn int4_weight_only_points_run_int4_weights_with_a_bf16_kv_cache() {
        let p = point(&[
            ("model_path", "moonshotai/Kimi-K2.5"),
            ("system", "b200_sxm"),
            ("precision", "int4"),
            ("gemm_quant_mode", "int4_wo"),
            ("moe_quant_mode", "int4_wo"),
            ("tp_size", "8"),
            ("moe_tp_size", "8"),
        ]);
        let c = point_config(&p, &Overrides::default()).unwrap();
        assert_eq!(flag(&c, "replica_config_weight_dtype"), "int4");
        assert_eq!(flag(&c, "replica_config_kv_cache_dtype"), "bf16");
        // bf16 GEMMs beside INT4 weight-only experts are what `int4` models on an MoE model.
        let p = point(&[
            ("model_path", "moonshotai/Kimi-K2.5"),
            ("system", "b200_sxm"),
            ("precision", "int4"),
            ("gemm_quant_mode", "bf16"),
            ("moe_quant_mode", "int4_wo"),
            ("tp_size", "8"),
            ("moe_tp_size", "8"),
        ]);
        let c = point_config(&p, &Overrides::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(flag(&c, "replica_config_weight_dtype"), "int4");
        assert_eq!(flag(&c, "replica_config_kv_cache_dtype"), "bf16");
        // A dense model has no experts: INT4 GEMMs are int4, bf16 GEMMs beside an INT4 expert
        // mode stay a mixed precision llmsim cannot express.
        let dense = |gemm: &str| {
            point(&[
                ("model_path", "meta-llama/Meta-Llama-3-8B"),
                ("precision", "int4"),
                ("gemm_quant_mode", gemm),
                ("moe_quant_mode", "int4_wo"),
            ])
        };
        assert_eq!(
            flag(
                &point_config(&dense("int4_wo"), &Overrides::default()).unwrap(),
                "replica_config_weight_dtype"
            ),
            "int4"
        );
        assert_eq!(
            point_config(&dense("bf16"), &Overrides::default()).unwrap_err(),
            SkipReason::MixedPrecision { gemm: "bf16", moe: "int4" }
        );
        // A blank quant mode takes the precision column's int4.
        let p = point(&[("precision", "int4"), ("gemm_quant_mode", ""), ("moe_quant_mode", "")]);
        assert_eq!(
            flag(&point_config(&p, &Overrides::default()).unwrap(), "replica_config_weight_dtype"),
            "int4"
        );
    }

    #[test]
    fn nvfp4_points_run_fp4_weights_with_the_recipes_fp8_kv_cache() {
        let p = point(&[
            ("system", "b200_sxm"),
            ("precision", "fp4"),
            ("gemm_quant_mode", "nvfp4"),
            ("moe_quant_mode", "nvfp4"),
        ]);
        let c = point_config(&p, &Overrides::default()).unwrap();
        assert_eq!(flag(&c, "replica_config_weight_dtype"), "fp4");
        assert_eq!(flag(&c, "replica_config_kv_cache_dtype"), "fp8");
        let p = point(&[("precision", "fp4"), ("gemm_quant_mode", ""), ("moe_quant_mode", "")]);
        assert_eq!(
            flag(&point_config(&p, &Overrides::default()).unwrap(), "replica_config_weight_dtype"),
            "fp4"
        );
    }

    /// A point of the test row with `overrides`, read from a file that also has the pools'
    /// columns, set to `pools` (comma-separated, in `POOL_COLUMNS`' order).
    fn with_pools(overrides: &[(&str, &str)], pools: &str) -> crate::points::ServingPoint {
        const POOL_COLUMNS: &str = "prefill_batch_size,prefill_num_workers,prefill_tp_size,prefill_pp_size,prefill_attention_dp_size,prefill_moe_ep_size,decode_batch_size,decode_num_workers,decode_tp_size,decode_pp_size,decode_attention_dp_size,decode_moe_ep_size";
        let row = crate::points::tests::row(overrides);
        let text = format!("{},{POOL_COLUMNS}\n{row},{pools}\n", crate::points::tests::HEADER);
        crate::points::parse_points(&text, "t.csv").unwrap().points.remove(0)
    }

    #[test]
    fn disaggregated_points_map_their_pools_or_say_why_not() {
        let parse = |backend: &str, values: &str| {
            with_pools(
                &[
                    ("mode", "disagg"),
                    ("backend", backend),
                    ("batch_size", ""),
                    ("tp_size", ""),
                    ("pp_size", ""),
                    ("attention_dp_size", ""),
                    ("moe_ep_size", ""),
                    ("precision", "fp8"),
                ],
                values,
            )
        };
        let c = point_config(&parse("vllm", "1,2,4,1,0,0,32,3,8,1,1,0"), &Overrides::default()).unwrap();
        assert_eq!(flag(&c, "cluster_config_num_replicas"), "2");
        assert_eq!(flag(&c, "replica_config_tensor_parallel_size"), "4");
        assert_eq!(flag(&c, "disaggregation_config_type"), "prefill_decode");
        assert_eq!(flag(&c, "disaggregation_config_decode_num_replicas"), "3");
        assert_eq!(flag(&c, "disaggregation_config_decode_tensor_parallel_size"), "8");
        assert_eq!(flag(&c, "disaggregation_config_decode_batch_size_cap"), "32");
        // The clients fill every decode worker's batch.
        assert_eq!(c.concurrency, 96);
        assert_eq!(flag(&c, "replica_config_attention_dp_size"), "1");
        assert_eq!(flag(&c, "disaggregation_config_decode_expert_parallel_size"), "1");
        // Every engine runs disaggregated; each pool has its own EP and attention DP.
        let c = point_config(&parse("trtllm", "1,2,4,1,2,8,32,3,8,1,4,32"), &Overrides::default()).unwrap();
        assert_eq!(flag(&c, "serving_engine"), "trtllm");
        assert_eq!(flag(&c, "replica_config_attention_dp_size"), "2");
        assert_eq!(flag(&c, "replica_config_expert_parallel_size"), "8");
        assert_eq!(flag(&c, "disaggregation_config_decode_attention_dp_size"), "4");
        assert_eq!(flag(&c, "disaggregation_config_decode_expert_parallel_size"), "32");
        // `decode_batch_size` is per attention-DP rank: 32 × DP 4 a worker, 3 workers; TensorRT-LLM's
        // cap is per rank.
        assert_eq!(flag(&c, "disaggregation_config_decode_batch_size_cap"), "32");
        assert_eq!(c.concurrency, 384);
        let c = point_config(&parse("vllm", "1,2,4,1,2,8,32,3,8,1,4,32"), &Overrides::default()).unwrap();
        assert_eq!(
            flag(&c, "disaggregation_config_decode_batch_size_cap"),
            "32",
            "vLLM's max_num_seqs holds per DP engine core"
        );
        assert_eq!(c.concurrency, 384);
        let c = point_config(&parse("sglang", "1,2,4,1,2,8,32,3,8,1,4,32"), &Overrides::default()).unwrap();
        assert_eq!(
            flag(&c, "disaggregation_config_decode_batch_size_cap"),
            "128",
            "SGLang's cap is per worker"
        );
        assert_eq!(c.concurrency, 384);
        let c = point_config(&parse("sglang", "1,1,1,1,4,0,24,3,4,1,1,0"), &Overrides::default()).unwrap();
        assert_eq!(flag(&c, "replica_config_attention_dp_size"), "4");
        assert_eq!(flag(&c, "disaggregation_config_decode_attention_dp_size"), "1");
        assert_eq!(flag(&c, "cache_config_block_size"), "16");
        let skip = |backend: &str, values: &str| point_config(&parse(backend, values), &Overrides::default());
        // Blank pools, or pools without their sizes: the row does not say how it was served.
        assert_eq!(skip("vllm", ",,,,,,,,,,,").unwrap_err(), SkipReason::Disaggregated);
        assert_eq!(skip("vllm", ",,4,1,0,0,,,8,1,1,0").unwrap_err(), SkipReason::Disaggregated);
        assert_eq!(skip("sglang", ",,4,1,0,8,,,8,1,1,8").unwrap_err(), SkipReason::Disaggregated);
        // More clients than a u32 counts: refused, named by the column, never wrapped.
        for pools in ["1,1,1,1,1,0,65536,2,8,1,65536,0", "1,1,1,1,1,0,4294967295,4294967295,8,1,4294967295,0"]
        {
            match skip("trtllm", pools) {
                Err(SkipReason::Refused { flag, .. }) => assert_eq!(flag, "decode_batch_size"),
                other => panic!("expected a refusal, got {other:?}"),
            }
        }
    }

    #[test]
    fn sglang_quantises_the_kv_cache_on_blackwell_only_in_aggregated_recipes() {
        let parse = |mode: &str, instance: [&str; 4], values: &str| {
            with_pools(
                &[
                    ("mode", mode),
                    ("backend", "sglang"),
                    ("system", "b200_sxm"),
                    ("batch_size", instance[0]),
                    ("tp_size", instance[1]),
                    ("pp_size", instance[2]),
                    ("attention_dp_size", instance[3]),
                    ("moe_ep_size", ""),
                    ("precision", "fp8"),
                ],
                values,
            )
        };
        let agg =
            point_config(&parse("agg", ["16", "8", "1", "1"], ",,,,,,,,,,,"), &Overrides::default()).unwrap();
        assert_eq!(flag(&agg, "replica_config_kv_cache_dtype"), "fp8");
        assert_eq!(flag(&agg, "sglang_scheduler_config_scheduler_recv_interval"), "30");
        let disagg = point_config(
            &parse("disagg", ["", "", "", ""], "1,1,8,1,1,0,24,3,8,1,1,0"),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(flag(&disagg, "replica_config_kv_cache_dtype"), "bf16");
        assert!(disagg.flags.iter().all(|(f, _)| *f != "sglang_scheduler_config_scheduler_recv_interval"));
    }

    #[test]
    fn what_llmsim_cannot_model_is_skipped_with_the_reason() {
        let skip =
            |overrides: &[(&str, &str)]| point_config(&point(overrides), &Overrides::default()).unwrap_err();
        assert_eq!(skip(&[("mode", "disagg")]), SkipReason::Disaggregated);
        assert_eq!(skip(&[("system", "tpu_v5")]), SkipReason::UnknownSystem("tpu_v5".into()));
        assert_eq!(
            skip(&[("precision", "fp4"), ("gemm_quant_mode", "mxfp4"), ("moe_quant_mode", "mxfp4")]),
            SkipReason::Precision { column: "gemm_quant_mode", value: "mxfp4".into() }
        );
        assert_eq!(
            skip(&[("precision", "int8"), ("gemm_quant_mode", ""), ("moe_quant_mode", "")]),
            SkipReason::Precision { column: "precision", value: "int8".into() }
        );
        assert_eq!(
            skip(&[("gemm_quant_mode", "int4_wo"), ("moe_quant_mode", "fp8")]),
            SkipReason::MixedPrecision { gemm: "int4", moe: "fp8" }
        );
        assert_eq!(
            skip(&[("gemm_quant_mode", "fp8"), ("moe_quant_mode", "w4a16_mxfp4")]),
            SkipReason::Precision { column: "moe_quant_mode", value: "w4a16_mxfp4".into() }
        );
        assert_eq!(
            skip(&[("gemm_quant_mode", "fp8"), ("moe_quant_mode", "nvfp4")]),
            SkipReason::MixedPrecision { gemm: "fp8", moe: "fp4" }
        );
        assert_eq!(
            skip(&[("precision", "bf16"), ("gemm_quant_mode", "bf16"), ("moe_quant_mode", "fp8")]),
            SkipReason::MixedPrecision { gemm: "bf16", moe: "fp8" }
        );
        assert_eq!(skip(&[("backend", "tgi")]), SkipReason::UnknownBackend("tgi".into()));
        // The first check that fails decides: disaggregation before precision.
        assert_eq!(
            skip(&[("mode", "disagg"), ("precision", "fp4"), ("gemm_quant_mode", "nvfp4")]),
            SkipReason::Disaggregated
        );
    }

    #[test]
    fn aggregated_points_run_their_attention_dp_and_expert_parallelism() {
        let p = point(&[
            ("tp_size", "1"),
            ("attention_dp_size", "8"),
            ("moe_ep_size", "8"),
            ("batch_size", "16"),
        ]);
        let c = point_config(&p, &Overrides::default()).unwrap();
        assert_eq!(flag(&c, "replica_config_tensor_parallel_size"), "1");
        assert_eq!(flag(&c, "replica_config_attention_dp_size"), "8");
        assert_eq!(flag(&c, "replica_config_expert_parallel_size"), "8");
        // The batch size is per attention-DP rank.
        assert_eq!(c.concurrency, 128);
        let c =
            point_config(&point(&[("attention_dp_size", ""), ("moe_ep_size", "")]), &Overrides::default())
                .unwrap();
        assert_eq!(
            (flag(&c, "replica_config_attention_dp_size"), flag(&c, "replica_config_expert_parallel_size")),
            ("1", "1")
        );
    }

    #[test]
    fn the_image_less_h200_fp8_trtllm_moe_rows_run_their_scripts_ep_and_attention_dp() {
        let shape = |c: &PointConfig| {
            ["tensor_parallel_size", "attention_dp_size", "expert_parallel_size"]
                .map(|f| flag(c, &format!("replica_config_{f}")).to_string())
        };
        // An image-less H200 DeepSeek-R1 row (`more` overrides its columns) under `overrides`.
        let run_with = |overrides: &Overrides, more: &[(&str, &str)]| {
            let mut cols = vec![
                ("backend", "trtllm"),
                ("backend_version", ""),
                ("model_path", "deepseek-ai/DeepSeek-R1"),
                ("measured", "2025-11-02"),
                ("tp_size", "8"),
                ("moe_tp_size", "8"),
                ("moe_ep_size", "1"),
                ("batch_size", "4"),
            ];
            cols.extend_from_slice(more);
            point_config(&point(&cols), overrides).unwrap()
        };
        let run = |more: &[(&str, &str)]| run_with(&Overrides::default(), more);
        // `dsr1_fp8_h200_trt_slurm.sh`: EP = TP; attention DP above 64 clients at 1k prompts,
        // above 32 at 8k, with the clients the row records.
        assert_eq!(shape(&run(&[])), ["8", "1", "8"]);
        assert_eq!(shape(&run(&[("batch_size", "64")])), ["8", "1", "8"]);
        assert_eq!(shape(&run(&[("isl", "8192"), ("batch_size", "32")])), ["8", "1", "8"]);
        let dp = run(&[("isl", "8192"), ("batch_size", "64")]);
        assert_eq!(shape(&dp), ["1", "8", "8"]);
        assert_eq!(dp.concurrency, 64);
        assert_eq!(flag(&dp, "trtllm_scheduler_config_attention_dp_enable_balance"), "true");
        // Under `--model-recipes` the script's DP tuning follows the DP it ran, not the blank column.
        let recipes = Overrides { model_recipes: true, ..Overrides::default() };
        let with_recipes = |more: &[(&str, &str)]| run_with(&recipes, more);
        let dp = with_recipes(&[("isl", "8192"), ("batch_size", "64")]);
        assert_eq!(shape(&dp), ["1", "8", "8"]);
        assert_eq!(flag(&dp, "trtllm_scheduler_config_attention_dp_timeout_iters"), "60");
        assert_eq!(flag(&dp, "trtllm_scheduler_config_attention_dp_batching_wait_iters"), "0");
        let no_dp = with_recipes(&[("isl", "8192"), ("batch_size", "32")]);
        assert!(!no_dp.flags.iter().any(|(f, _)| f.starts_with("trtllm_scheduler_config_attention_dp_")));
        // Rows with an image, another GPU or precision, a dense model, or a recorded layout
        // keep what they say.
        for other in [
            &[("backend_version", "1.1.0rc2.post2")][..],
            &[("measured", "2025-12-15")],
            &[("system", "b200_sxm")],
            &[("precision", "fp4")],
            &[("model_path", "meta-llama/Llama-3.1-70B")],
            &[("backend", "vllm")],
        ] {
            assert_eq!(shape(&run(other)), ["8", "1", "1"], "{other:?}");
        }
        assert_eq!(shape(&run(&[("moe_tp_size", "1"), ("moe_ep_size", "8")])), ["8", "1", "8"]);
        // Dated by the scripts: none before `ec90f3fe7` (2025-09-18); from `nvidia-master.yaml`
        // (2025-11-03) attention DP at 8k prompts from 64 clients only, none at 1k prompts.
        assert_eq!(shape(&run(&[("measured", "2025-09-17")])), ["8", "1", "1"]);
        assert_eq!(shape(&run(&[("measured", "2025-09-18")])), ["8", "1", "8"]);
        assert_eq!(shape(&run(&[("batch_size", "128")])), ["1", "8", "8"]);
        assert_eq!(shape(&run(&[("batch_size", "128"), ("measured", "2025-11-03")])), ["8", "1", "8"]);
        let yaml = |isl, c| shape(&run(&[("isl", isl), ("batch_size", c), ("measured", "2025-11-20")]));
        assert_eq!(yaml("8192", "64"), ["1", "8", "8"]);
        assert_eq!(yaml("8192", "48"), ["8", "1", "8"]);
    }

    #[test]
    fn expert_tp_times_ep_spellings_are_read_as_the_k_gpu_instance() {
        let shape = |c: &PointConfig| {
            ["tensor_parallel_size", "attention_dp_size", "expert_parallel_size"]
                .map(|f| flag(c, &format!("replica_config_{f}")).to_string())
        };
        let run = |cols: &[(&str, &str)]| point_config(&point(cols), &Overrides::default()).unwrap();
        // TP 64 with expert TP 8 × EP 8: the TP 8, EP 8 instance.
        let c = run(&[("tp_size", "64"), ("moe_tp_size", "8"), ("moe_ep_size", "8"), ("batch_size", "4")]);
        assert_eq!(shape(&c), ["8", "1", "8"]);
        assert_eq!(c.concurrency, 4);
        // DP 64 with expert TP 8 × EP 8: DP 8, EP 8; the clients stay batch × the recorded DP,
        // as for the same measurement spelled DP 8 with batch 32.
        let c = run(&[
            ("tp_size", "1"),
            ("attention_dp_size", "64"),
            ("moe_tp_size", "8"),
            ("moe_ep_size", "8"),
            ("batch_size", "4"),
        ]);
        assert_eq!(shape(&c), ["1", "8", "8"]);
        assert_eq!(c.concurrency, 256);
        // Other spellings keep what they say: expert TP without EP, TP × DP, no expert TP column.
        let c =
            run(&[("tp_size", "4"), ("attention_dp_size", "4"), ("moe_tp_size", "4"), ("moe_ep_size", "4")]);
        assert_eq!(shape(&c), ["4", "4", "4"]);
        let c = run(&[("tp_size", "16"), ("moe_tp_size", "16"), ("moe_ep_size", "1")]);
        assert_eq!(shape(&c), ["16", "1", "1"]);
        let c = run(&[("tp_size", "16"), ("moe_tp_size", ""), ("moe_ep_size", "4")]);
        assert_eq!(shape(&c), ["16", "1", "4"]);
        // TP 4 with expert TP 2 × EP 2 fits one 8-GPU node: a real 4-GPU instance where the
        // row leaves attention DP blank (AIConfigurator's runs) ...
        let c =
            run(&[("tp_size", "4"), ("attention_dp_size", ""), ("moe_tp_size", "2"), ("moe_ep_size", "2")]);
        assert_eq!(shape(&c), ["4", "1", "2"]);
        // ... and the 2-GPU instance (TP 2, EP 2) where it records it (InferenceX's sweeps).
        let c =
            run(&[("tp_size", "4"), ("attention_dp_size", "1"), ("moe_tp_size", "2"), ("moe_ep_size", "2")]);
        assert_eq!(shape(&c), ["2", "1", "2"]);
        let c = run(&[
            ("tp_size", "1"),
            ("attention_dp_size", "4"),
            ("moe_tp_size", "2"),
            ("moe_ep_size", "2"),
            ("batch_size", "16"),
        ]);
        assert_eq!(shape(&c), ["1", "2", "2"]);
        assert_eq!(c.concurrency, 64);
        // A huge k is no overflow, and spills out of any node either way.
        let c = run(&[
            ("tp_size", "1"),
            ("attention_dp_size", "1"),
            ("moe_tp_size", "65536"),
            ("moe_ep_size", "65536"),
        ]);
        assert_eq!(shape(&c), ["1", "1", "65536"]);
    }

    #[test]
    fn vllm_rows_whose_experts_span_more_gpus_than_the_tp_run_attention_dp() {
        let shape = |c: &PointConfig| {
            ["tensor_parallel_size", "attention_dp_size", "expert_parallel_size"]
                .map(|f| flag(c, &format!("replica_config_{f}")).to_string())
        };
        let run = |cols: &[(&str, &str)]| point_config(&point(cols), &Overrides::default()).unwrap();
        let row = |backend, tp, dp, moe_tp, ep| {
            run(&[
                ("model_path", "Qwen/Qwen3-235B-A22B-FP8"),
                ("backend", backend),
                ("tp_size", tp),
                ("attention_dp_size", dp),
                ("moe_tp_size", moe_tp),
                ("moe_ep_size", ep),
                ("batch_size", "8"),
            ])
        };
        // TP 1 with expert TP 2 and no EP: `--data-parallel-size 2`, the experts split over
        // both GPUs (llmsim's expert TP = TP × DP / EP = 2).
        let c = row("vllm", "1", "", "2", "1");
        assert_eq!(shape(&c), ["1", "2", "1"]);
        // The clients stay the row's batch (its recorded DP is none).
        assert_eq!(c.concurrency, 8);
        assert_eq!(shape(&row("vllm", "1", "", "4", "1")), ["1", "4", "1"]);
        assert_eq!(shape(&row("vllm", "2", "", "4", "1")), ["2", "2", "1"]);
        assert_eq!(shape(&row("vllm", "1", "1", "4", "1")), ["1", "4", "1"]);
        // With EP on, the EP group is DP × TP likewise.
        assert_eq!(shape(&row("vllm", "2", "", "1", "4")), ["2", "2", "4"]);
        // An expert group that fits the TP, or a recorded DP, keeps what the row says.
        assert_eq!(shape(&row("vllm", "4", "", "4", "1")), ["4", "1", "1"]);
        assert_eq!(shape(&row("vllm", "2", "2", "1", "4")), ["2", "2", "4"]);
        // A group that is no whole multiple of the TP is not read as DP.
        assert_eq!(shape(&row("vllm", "4", "", "6", "1")), ["4", "1", "1"]);
        // Other engines count the MoE group within their TP: unchanged.
        assert_eq!(shape(&row("sglang", "1", "", "2", "1")), ["1", "1", "1"]);
        assert_eq!(shape(&row("trtllm", "1", "", "2", "1")), ["1", "1", "1"]);
        // A dense model has no MoE group to read.
        let dense =
            run(&[("tp_size", "2"), ("attention_dp_size", ""), ("moe_tp_size", "4"), ("moe_ep_size", "1")]);
        assert_eq!(shape(&dense), ["2", "1", "1"]);
    }

    #[test]
    fn systems_the_catalogue_lacks_still_map_to_device_names() {
        let c = point_config(&point(&[("system", "b300_sxm")]), &Overrides::default()).unwrap();
        assert_eq!(
            (flag(&c, "replica_config_device"), flag(&c, "replica_config_network_device")),
            ("b300", "b300_dgx")
        );
    }
}
