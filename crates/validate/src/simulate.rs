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
    // Closed-loop requests are numbered in arrival order: the first ones are the warm-up.
    let measured: Vec<(f64, Option<f64>)> = report
        .requests
        .iter()
        .filter(|r| u64::from(r.id) >= config.warmup_requests)
        .map(|r| (r.ttft(), r.tpot()))
        .collect();
    assert_eq!(
        measured.len() as u64,
        config.measured_requests,
        "every measured request completed, so each has a record"
    );
    Ok(client_means(&measured))
}

/// The benchmark client's means: mean TTFT, and mean per-request TPOT over requests with more
/// than one output token (vLLM's `bench serve`, SGLang's `bench_serving` and genai-perf all
/// average per-request TPOT this way). `requests` holds each request's TTFT and TPOT in
/// seconds, in id order.
pub fn client_means(requests: &[(f64, Option<f64>)]) -> SimulatedPoint {
    let ttft_ms = 1e3 * requests.iter().map(|r| r.0).sum::<f64>() / requests.len() as f64;
    let tpots: Vec<f64> = requests.iter().filter_map(|r| r.1).collect();
    let tpot_ms = (!tpots.is_empty()).then(|| 1e3 * tpots.iter().sum::<f64>() / tpots.len() as f64);
    SimulatedPoint { ttft_ms, tpot_ms }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::{ClientModel, point_config};
    use crate::points::tests::point;

    #[test]
    fn a_small_point_runs_and_excludes_the_warm_up() {
        // 8 clients of 4096-token prompts: the first wave (32k tokens) arrives at once and
        // takes four 8192-token iterations to prefill; later requests arrive spread out.
        let p = point(&[("batch_size", "8"), ("isl", "4096"), ("osl", "4"), ("tp_size", "8")]);
        let measured = |client: ClientModel| {
            let config = point_config(&p, &client).unwrap();
            run(&build(&config, &p.system, &p.model_path).unwrap(), &config).unwrap()
        };
        let after_warmup = measured(ClientModel { requests_per_client: 2, warmup_per_client: 1 });
        assert!(after_warmup.ttft_ms > 0.0 && after_warmup.tpot_ms.unwrap() > 0.0, "{after_warmup:?}");
        let first_wave = measured(ClientModel { requests_per_client: 1, warmup_per_client: 0 });
        let everything = measured(ClientModel { requests_per_client: 3, warmup_per_client: 0 });
        assert!(first_wave.ttft_ms > after_warmup.ttft_ms, "{first_wave:?} vs {after_warmup:?}");
        // The same 24 requests with the first wave counted: the exclusion shows in the mean.
        assert!(everything.ttft_ms > after_warmup.ttft_ms, "{everything:?} vs {after_warmup:?}");
    }

    #[test]
    fn unknown_models_and_devices_are_skipped_with_the_engines_message() {
        let p = point(&[("model_path", "nobody/NoModel-1B")]);
        let config = point_config(&p, &ClientModel::default()).unwrap();
        let reason = build(&config, &p.system, &p.model_path).unwrap_err();
        assert_eq!(reason.kind(), "model not in the catalogue or unsupported");
        assert!(reason.to_string().contains("unknown model 'nobody/NoModel-1B'"), "{reason}");

        let p = point(&[("system", "gb300")]);
        let config = point_config(&p, &ClientModel::default()).unwrap();
        let reason = build(&config, &p.system, &p.model_path).unwrap_err();
        assert_eq!(reason.kind(), "system not in the catalogue");
        assert!(reason.to_string().contains("unknown device 'gb300'"), "{reason}");
    }

    #[test]
    fn a_run_that_refuses_requests_is_skipped_with_the_reason() {
        // Llama-3.1-70B in fp8 on one H100 leaves about 20k tokens of KV cache: a 32k-token
        // prompt can never be admitted.
        let p = point(&[
            ("system", "h100_sxm"),
            ("tp_size", "1"),
            ("batch_size", "1"),
            ("isl", "32768"),
            ("osl", "4"),
        ]);
        let config = point_config(&p, &ClientModel { requests_per_client: 1, warmup_per_client: 0 }).unwrap();
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
        assert_eq!(client_means(&[(0.2, None)]).tpot_ms, None);
    }
}
