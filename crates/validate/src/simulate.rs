//! Running a point's configuration and taking the means the benchmark client reports.

use llmsim_engine::{Config, Inputs, SimConfig, Simulation, catalog};

use crate::mapping::PointConfig;
use crate::points::{Mode, ServingPoint};
use crate::skip::SkipReason;

/// Outputs the harness does not read, turned off to save time and memory; per-request records
/// stay on (the means are taken over them).
const HARNESS_FLAGS: &[(&str, &str)] = &[
    ("metrics_config_enable_chrome_trace", "false"),
    ("metrics_config_store_batch_metrics", "false"),
    ("metrics_config_store_plots", "false"),
    ("metrics_config_store_utilization_metrics", "false"),
    ("metrics_config_store_request_metrics", "true"),
];

/// What the simulated benchmark client reports.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimulatedPoint {
    /// Mean time to first token of the measured requests, ms.
    pub ttft_ms: f64,
    /// Mean over measured requests of (e2e − TTFT) / (output tokens − 1), ms; `None` for
    /// single-token outputs.
    pub tpot_ms: Option<f64>,
    /// Median TTFT of the measured requests, ms.
    pub ttft_median_ms: f64,
    /// Median per-request TPOT, ms.
    pub tpot_median_ms: Option<f64>,
}

/// Validates a point's configuration with the engine; a refusal (unknown model or device, a
/// model that does not fit) becomes the skip reason. `system` and `model` name the point in it.
pub fn build(config: &PointConfig, system: &str, model: &str) -> Result<SimConfig, SkipReason> {
    let pairs = config
        .flags
        .iter()
        .map(|(f, v)| (*f, v.as_str()))
        .chain(HARNESS_FLAGS.iter().copied())
        .chain(config.settings.iter().map(|(f, v)| (f.as_str(), v.as_str())));
    Config::from_pairs(pairs)
        .and_then(|c| SimConfig::build(&c, &Inputs::new()))
        .map_err(|errors| SkipReason::from_config_errors(&errors, system, model))
}

/// Refuses an aggregated row whose stated layout no serving engine starts: without attention
/// DP, every engine splits the attention heads evenly over the TP ranks and asserts that TP
/// divides them (SGLang `DeepseekV2AttentionMLA` and the other attention modules:
/// `num_heads % attn_tp_size == 0`, attention-TP = TP / attention-DP; vLLM's
/// `QKVParallelLinear` divides the heads by TP; TensorRT-LLM's `Attention` and `MLA` in
/// `_torch/modules/attention.py`: `num_heads % tp_size == 0`, TP taken as 1 under
/// `enable_attention_dp`). Such a row's `tp_size` counts the GPUs of several workers (replicas,
/// or prefill and decode pools) whose split it does not record, so it is skipped with that
/// meaning rather than with the engine's divisibility refusal.
pub fn attention_heads_split(point: &ServingPoint, config: &PointConfig) -> Result<(), SkipReason> {
    let Mode::Aggregated(_) = point.mode else { return Ok(()) };
    // The layout the harness runs (`mapping::aggregated_shape` reads a k-GPU instance spelt
    // TP k² with expert TP k × EP k as TP k), not the recorded spelling.
    let mapped =
        |flag: &str| config.flags.iter().find(|(f, _)| *f == flag).and_then(|(_, v)| v.parse::<u32>().ok());
    let tp = mapped("replica_config_tensor_parallel_size").unwrap_or(1).max(1);
    if mapped("replica_config_attention_dp_size").unwrap_or(1) > 1 {
        return Ok(());
    }
    let name = config
        .flags
        .iter()
        .find(|(f, _)| *f == "replica_config_model_name")
        .map_or(point.model_path.as_str(), |(_, v)| v.as_str());
    match catalog::find_model(name) {
        Some(model) if !model.num_q_heads.is_multiple_of(tp) => Err(SkipReason::LayoutNotRunnable {
            message: format!(
                "tp_size {tp} without attention DP splits {}'s {} attention heads unevenly over {tp} ranks, which SGLang, vLLM and \
                 TensorRT-LLM refuse: the row's tp_size counts the GPUs of several workers (replicas, or prefill and decode pools) \
                 whose split it does not record",
                model.name, model.num_q_heads
            ),
        }),
        _ => Ok(()),
    }
}

/// Checks that the row's measured TPOT is physically possible on the deployment it states:
/// every decode step reads, on each GPU, the KV cache of the sequences that GPU runs, so a step
/// takes at least their bytes over the device's peak memory bandwidth. The sequences decoding
/// at once are counted by Little's law from the row's own figures (a client spends
/// (osl − 1)·TPOT of every TTFT + (osl − 1)·TPOT cycle decoding), each with at least
/// r·(isl + (osl − 1)/2) tokens of context (r: the client's length range, lengths in [r·L, L]),
/// at the engine's KV bytes per token on one GPU (latent attention's cache is whole on every
/// attention-TP rank; grouped-query KV splits over it). Speculative decoding emits up to
/// 1 + drafts tokens a step. A row whose measured TPOT is below that bound did not run the
/// deployment its columns state (aggregated rows only: a disaggregated decode pool is sized by
/// its own columns).
pub fn decode_kv_read_bound(
    point: &ServingPoint,
    config: &PointConfig,
    sim: &SimConfig,
) -> Result<(), SkipReason> {
    // A sparse-attention model reads only its top-k latent tokens a step (plus the indexer keys
    // of all), so the whole-context bound below would overstate it: no check.
    if !matches!(point.mode, Mode::Aggregated(_))
        || sim.disagg.is_some()
        || point.osl < 2
        || sim.replica.model.sparse_attention.is_some()
    {
        return Ok(());
    }
    // `--set` overrides (`settings`) win over the harness's flags, as in the built simulation.
    const RANGE: &str = "closed_loop_request_generator_config_length_range_ratio";
    let ratio = config
        .settings
        .iter()
        .rev()
        .find(|(f, _)| f == RANGE)
        .map(|(_, v)| v.as_str())
        .or_else(|| config.flags.iter().rev().find(|(f, _)| *f == RANGE).map(|(_, v)| v.as_str()))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(1.0)
        .clamp(0.0, 1.0);
    let ranks =
        f64::from(sim.cluster.num_replicas.max(1)) * f64::from(sim.replica.parallel.attention_dp_size.max(1));
    let clients_per_rank = f64::from(config.concurrency) / ranks;
    let decode_ms = f64::from(point.osl - 1) * point.silicon_tpot_ms;
    let decoding = clients_per_rank * decode_ms / (point.silicon_ttft_ms.max(0.0) + decode_ms);
    let context = ratio * (f64::from(point.isl) + f64::from(point.osl - 1) / 2.0);
    let tokens_per_step = 1.0 + sim.speculative.as_ref().map_or(0.0, |s| f64::from(s.num_tokens));
    let bytes = decoding * context * sim.memory.kv_bytes_per_token as f64;
    let bound_ms = bytes / (sim.replica.device.memory_bandwidth_gbps * 1e9) * 1e3 / tokens_per_step;
    if bound_ms > point.silicon_tpot_ms {
        return Err(SkipReason::BelowPhysicalBound {
            message: format!(
                "measured TPOT {:.1} ms is below the {:.1} ms each decode step needs to read the KV cache of the ~{:.0} sequences one GPU holds \
                 ({} KV bytes a token on one GPU, ≥ {:.0} tokens each, {:.0} GB/s): the row did not run the deployment it states; \
                 its cache was spread over more GPUs (several workers, or attention DP the row does not record)",
                point.silicon_tpot_ms,
                bound_ms,
                decoding,
                sim.memory.kv_bytes_per_token,
                context,
                sim.replica.device.memory_bandwidth_gbps
            ),
        });
    }
    Ok(())
}

/// Runs a built configuration and takes the client's means over the measured requests.
pub fn run(sim_config: &SimConfig, config: &PointConfig) -> Result<SimulatedPoint, SkipReason> {
    let report = Simulation::new(sim_config).run_to_report();
    let s = &report.summary;
    if s.num_refused + s.num_unfinished > 0 {
        let reason = report.request_errors.first().map_or_else(String::new, |e| e.reason.clone());
        return Err(SkipReason::RequestsRefused {
            refused: s.num_refused + s.num_unfinished,
            total: s.num_requests,
            reason,
        });
    }
    // The engine leaves the warm-up requests out of its records.
    debug_assert_eq!(s.num_warmup_requests, config.warmup_requests);
    let measured: Vec<(f64, Option<f64>)> = report.requests.iter().map(|r| (r.ttft(), r.tpot())).collect();
    assert_eq!(
        measured.len() as u64,
        config.measured_requests,
        "every measured request completed, so each has a record"
    );
    Ok(client_means(&measured))
}

/// The benchmark client's statistics: mean and median TTFT, and mean and median per-request
/// TPOT over requests with more than one output token (vLLM's `bench serve`, SGLang's
/// `bench_serving`, InferenceX's `benchmark_serving.py` and genai-perf all take per-request
/// TPOT this way; medians as numpy's, the middle value or the mean of the two middle ones).
/// `requests` holds each request's TTFT and TPOT in seconds, in id order.
pub fn client_means(requests: &[(f64, Option<f64>)]) -> SimulatedPoint {
    let ttfts: Vec<f64> = requests.iter().map(|r| r.0).collect();
    let tpots: Vec<f64> = requests.iter().filter_map(|r| r.1).collect();
    let mean = |v: &[f64]| 1e3 * v.iter().sum::<f64>() / v.len() as f64;
    SimulatedPoint {
        ttft_ms: mean(&ttfts),
        tpot_ms: (!tpots.is_empty()).then(|| mean(&tpots)),
        ttft_median_ms: 1e3 * median(ttfts),
        tpot_median_ms: (!tpots.is_empty()).then(|| 1e3 * median(tpots)),
    }
}

/// The median of a non-empty sample.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Overrides;
    use crate::mapping::point_config;
    use crate::points::tests::point;

    #[test]
    fn a_small_point_runs_and_excludes_the_warm_up() {
        // 8 clients of 4096-token prompts: the first wave (32k tokens) arrives at once and
        // takes four 8192-token iterations to prefill; later requests arrive spread out.
        let p = point(&[("batch_size", "8"), ("isl", "4096"), ("osl", "4"), ("tp_size", "8")]);
        let measured = |(requests, warmup): (u32, u32)| {
            let client = Overrides {
                requests_per_client: Some(requests),
                warmup_per_client: Some(warmup),
                length_range_ratio: Some(1.0),
                ..Overrides::default()
            };
            let config = point_config(&p, &client).unwrap();
            run(&build(&config, &p.system, &p.model_path).unwrap(), &config).unwrap()
        };
        let after_warmup = measured((2, 1));
        assert!(after_warmup.ttft_ms > 0.0 && after_warmup.tpot_ms.unwrap() > 0.0, "{after_warmup:?}");
        // The measured run starts on an idle engine once the warm-up is over, and the
        // warm-up's requests are not in the means: the figures are those of no warm-up.
        assert_eq!(after_warmup, measured((2, 0)));
        // The first wave waits for the whole wave's prefill: alone it is the slowest.
        let first_wave = measured((1, 0));
        assert!(first_wave.ttft_ms > after_warmup.ttft_ms, "{first_wave:?} vs {after_warmup:?}");
    }

    #[test]
    fn unknown_models_and_devices_are_skipped_with_the_engines_message() {
        let p = point(&[("model_path", "nobody/NoModel-1B")]);
        let config = point_config(&p, &Overrides::default()).unwrap();
        let reason = build(&config, &p.system, &p.model_path).unwrap_err();
        assert_eq!(reason.kind(), "model not in the catalogue or unsupported");
        assert!(reason.to_string().contains("unknown model 'nobody/NoModel-1B'"), "{reason}");

        // Every system of the harness is catalogued now: a mapping to a device the catalogue
        // lacks is what a newer GPU's would be.
        let p = point(&[("system", "gb300")]);
        let mut config = point_config(&p, &Overrides::default()).unwrap();
        for (flag, value) in &mut config.flags {
            if *flag == "replica_config_device" {
                *value = "gb400".to_string();
            }
        }
        let reason = build(&config, &p.system, &p.model_path).unwrap_err();
        assert_eq!(reason.kind(), "system not in the catalogue");
        assert!(reason.to_string().contains("unknown device 'gb400'"), "{reason}");
    }

    #[test]
    fn a_tpot_below_the_kv_read_of_the_stated_deployment_is_skipped() {
        // DeepSeek-R1 in NVFP4 at TP 64 (attention TP: the 576-byte fp8 latent of every one of
        // the 61 layers is whole on each GPU), 538 clients of 8k prompts on GB200: each decode
        // step reads ~115 GB of latent KV per GPU, ≥ 14 ms at 8 TB/s, where the row says 10 ms.
        let gb200 = |tpot: &str, clients: &str, dp: &str| {
            point(&[
                ("model_path", "deepseek-ai/DeepSeek-R1"),
                ("system", "gb200"),
                ("backend", "trtllm"),
                ("precision", "fp4"),
                ("gemm_quant_mode", "nvfp4"),
                ("moe_quant_mode", "nvfp4"),
                ("isl", "8192"),
                ("osl", "1024"),
                ("batch_size", clients),
                ("tp_size", if dp == "1" { "64" } else { "1" }),
                ("attention_dp_size", dp),
                ("moe_tp_size", if dp == "1" { "64" } else { "1" }),
                ("moe_ep_size", if dp == "1" { "1" } else { "64" }),
                ("silicon_ttft_ms", "1388.7"),
                ("silicon_tpot_ms", tpot),
                ("measured", "2025-11-17"),
            ])
        };
        let check = |p: &ServingPoint| {
            let config = point_config(p, &Overrides::default()).unwrap();
            let sim = build(&config, &p.system, &p.model_path).unwrap();
            decode_kv_read_bound(p, &config, &sim)
        };
        let reason = check(&gb200("10.07", "538", "1")).unwrap_err();
        assert_eq!(reason.kind(), "measured below the stated deployment's bound");
        assert!(reason.to_string().contains("did not run the deployment it states"), "{reason}");
        // The same TPOT is possible with twice the time a step, or with the clients spread
        // over 64 attention-DP ranks (8 or 9 each, `batch_size` per rank).
        assert_eq!(check(&gb200("25.0", "538", "1")), Ok(()));
        assert_eq!(check(&gb200("10.07", "9", "64")), Ok(()));
        // A `--set` length range wins over the harness's flags: lengths from 0 leave no floor.
        let p = gb200("10.07", "538", "1");
        let mut config = point_config(&p, &Overrides::default()).unwrap();
        let sim = build(&config, &p.system, &p.model_path).unwrap();
        config
            .settings
            .push(("closed_loop_request_generator_config_length_range_ratio".to_string(), "0".to_string()));
        assert_eq!(decode_kv_read_bound(&p, &config, &sim), Ok(()));
        // A sparse-attention model (GLM-5's top-k latent reads) is not checked, however fast.
        let glm = point(&[
            ("model_path", "zhipuai/GLM-5"),
            ("system", "b200_sxm"),
            ("backend", "sglang"),
            ("precision", "fp8"),
            ("isl", "8192"),
            ("osl", "1024"),
            ("batch_size", "256"),
            ("tp_size", "8"),
            ("silicon_ttft_ms", "1000"),
            ("silicon_tpot_ms", "0.01"),
            ("measured", "2026-03-01"),
        ]);
        let config = point_config(&glm, &Overrides::default()).unwrap();
        let sim = build(&config, &glm.system, &glm.model_path).unwrap();
        assert!(sim.replica.model.sparse_attention.is_some());
        assert_eq!(decode_kv_read_bound(&glm, &config, &sim), Ok(()));
        // The default row (Llama-3.1-70B, TP 4 on H200, 16 clients) is far from its bound.
        let p = point(&[]);
        assert_eq!(check(&p), Ok(()));
    }

    #[test]
    fn a_tp_that_splits_the_attention_heads_unevenly_is_a_multi_worker_row() {
        // DeepSeek-R1's 128 heads over TP 36 (TensorRT-LLM, NVFP4) or TP 72 (SGLang, fp8) on
        // GB200, no attention DP: no engine starts that, so tp_size counts several workers' GPUs.
        let row = |backend: &str, tp: &str, dp: &str| {
            point(&[
                ("model_path", "deepseek-ai/DeepSeek-R1"),
                ("system", "gb200"),
                ("backend", backend),
                ("precision", if backend == "trtllm" { "fp4" } else { "fp8" }),
                ("gemm_quant_mode", if backend == "trtllm" { "nvfp4" } else { "fp8" }),
                ("moe_quant_mode", if backend == "trtllm" { "nvfp4" } else { "fp8_block" }),
                ("isl", "1024"),
                ("osl", "1024"),
                ("batch_size", "512"),
                ("tp_size", tp),
                ("attention_dp_size", dp),
                ("moe_tp_size", tp),
                ("moe_ep_size", "1"),
                ("silicon_ttft_ms", "1348.0"),
                ("silicon_tpot_ms", "9.58"),
                ("measured", "2025-11-17"),
            ])
        };
        let check =
            |p: &ServingPoint| attention_heads_split(p, &point_config(p, &Overrides::default()).unwrap());
        for (backend, tp) in [("trtllm", "36"), ("trtllm", "12"), ("sglang", "72")] {
            let reason = check(&row(backend, tp, "1")).unwrap_err();
            assert_eq!(reason.kind(), "layout no engine runs");
            let text = reason.to_string();
            assert!(
                text.starts_with(&format!(
                    "tp_size {tp} without attention DP splits deepseek-ai/DeepSeek-R1's 128"
                )),
                "{text}"
            );
            assert!(text.contains("counts the GPUs of several workers"), "{text}");
        }
        // A TP that divides the heads passes on to the engine's checks, as does a row with
        // attention DP (its attention TP is what the engine splits the heads over).
        assert_eq!(check(&row("trtllm", "32", "1")), Ok(()));
        assert_eq!(check(&row("sglang", "8", "")), Ok(()));
        assert_eq!(check(&row("sglang", "72", "72")), Ok(()));
        // A k-GPU instance spelt TP k² with expert TP k × EP k runs as TP k (8 here), which
        // divides the heads: Qwen3.5's 32 over TP 64 / 8 × 8 (stop-40 review: the first version
        // of this check read the recorded 64 and skipped 15 such rows that had run before).
        let spelt = point(&[
            ("backend", "sglang"),
            ("model_path", "Qwen/Qwen3.5-397B-A17B"),
            ("system", "h200_sxm"),
            ("precision", "fp8"),
            ("mode", "agg"),
            ("isl", "1024"),
            ("osl", "1024"),
            ("batch_size", "16"),
            ("tp_size", "64"),
            ("attention_dp_size", "1"),
            ("moe_tp_size", "8"),
            ("moe_ep_size", "8"),
            ("silicon_ttft_ms", "900.0"),
            ("silicon_tpot_ms", "20.0"),
            ("measured", "2026-04-06"),
        ]);
        assert_eq!(check(&spelt), Ok(()));
        // Disaggregated rows are sized by their pools' columns.
        let config = point_config(&row("trtllm", "36", "1"), &Overrides::default()).unwrap();
        assert_eq!(attention_heads_split(&point(&[("mode", "disagg"), ("tp_size", "36")]), &config), Ok(()));
    }

    #[test]
    fn a_run_that_refuses_requests_is_skipped_with_the_reason() {
        // Llama-3.1-70B in fp8 on one H100 leaves about 40k tokens of fp8 KV cache: a
        // 64k-token prompt can never be admitted.
        let p = point(&[
            ("system", "h100_sxm"),
            ("tp_size", "1"),
            ("batch_size", "1"),
            ("isl", "65536"),
            ("osl", "4"),
        ]);
        let config = point_config(
            &p,
            &Overrides {
                requests_per_client: Some(1),
                warmup_per_client: Some(0),
                length_range_ratio: Some(1.0),
                ..Overrides::default()
            },
        )
        .unwrap();
        let reason = run(&build(&config, &p.system, &p.model_path).unwrap(), &config).unwrap_err();
        assert_eq!(reason.kind(), "requests refused in the run");
        assert!(reason.to_string().starts_with("1 of 1 requests refused: "), "{reason}");
    }

    #[test]
    fn client_means_average_per_request_tpot() {
        // TTFT 100 ms and 300 ms with TPOT 100 ms and 200 ms; the single-token request has
        // no TPOT, so it counts for TTFT only.
        let m = client_means(&[(0.1, Some(0.1)), (0.3, Some(0.2)), (0.2, None)]);
        assert!((m.ttft_ms - 200.0).abs() < 1e-9, "{m:?}");
        assert!((m.tpot_ms.unwrap() - 150.0).abs() < 1e-9, "{m:?}");
        // Medians: the middle TTFT; the mean of the two middle TPOTs.
        assert!((m.ttft_median_ms - 200.0).abs() < 1e-9, "{m:?}");
        assert!((m.tpot_median_ms.unwrap() - 150.0).abs() < 1e-9, "{m:?}");
        let skewed = client_means(&[(0.1, None), (0.1, None), (1.0, None)]);
        assert!((skewed.ttft_median_ms - 100.0).abs() < 1e-9 && (skewed.ttft_ms - 400.0).abs() < 1e-9);
        assert_eq!(client_means(&[(0.2, None)]).tpot_ms, None);
    }
}
