//! Running a point's configuration and taking the means the benchmark client reports.

use llmsim_engine::{Config, Inputs, SimConfig, Simulation};

use crate::mapping::PointConfig;
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
