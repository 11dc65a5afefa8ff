//! llmsim's benchmark scenarios and how one is measured, shared by the native runner
//! (`llmsim-bench`), the criterion benches and the wasm harness (`llmsim-bench-wasm`), so
//! native and wasm figures come from the same configurations and the same procedure.
//!
//! The library does no IO and reads no clock: the host passes file contents, a clock and its
//! global allocator (whose counters measure the heap), natively and in wasm alike.

use std::path::{Path, PathBuf};

use llmsim_engine::{Config, Inputs, SimConfig, Simulation};
use peak_alloc::PeakAlloc;
use serde::{Deserialize, Serialize};

/// How large a scenario is run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// The sizes the issue asks for (1 M requests, whole traces).
    Full,
    /// A few thousand requests per scenario: a smoke run and the criterion benches.
    Quick,
}

/// A benchmark scenario: flag pairs in Vidur's names, with trace paths under the shared
/// reference directory.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Short name (command-line selector and table row).
    pub name: &'static str,
    /// What it exercises, in one line.
    pub summary: &'static str,
    /// Flag name → value.
    pub flags: Vec<(&'static str, String)>,
}

/// Every scenario's name, in table order.
pub const SCENARIO_NAMES: [&str; 5] = [
    "seed_quickstart",
    "mooncake_conversation",
    "splitwise_conv_saturated",
    "synthetic_1m",
    "llama70b_tp4_pp2",
];

/// Flags that every scenario but the seed's shares: no Chrome trace (one slice per batch and
/// stage would be gigabytes at these sizes). Output files are rendered (not written).
fn common() -> Vec<(&'static str, String)> {
    vec![("metrics_config_enable_chrome_trace", "false".into())]
}

fn pairs(list: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    list.iter().map(|(k, v)| (*k, (*v).to_string())).collect()
}

/// Llama-3-8B on H100 DGX, then `own`.
fn llama8b_h100(own: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let mut f = pairs(&[
        ("replica_config_model_name", "meta-llama/Meta-Llama-3-8B"),
        ("replica_config_device", "h100"),
        ("replica_config_network_device", "h100_dgx"),
    ]);
    f.extend(pairs(own));
    f
}

/// The scenario called `name` at `scale`, reading traces under `shared` (the `../shared`
/// reference directory); `None` for an unknown name.
pub fn scenario(name: &str, scale: Scale, shared: &str) -> Option<Scenario> {
    let quick = scale == Scale::Quick;
    let trace = |file: &str| format!("{}/traces/{file}", shared.trim_end_matches('/'));
    // Trace `file` replayed on 8 × Llama-3-8B/H100 with `own` flags (its first 2,000 requests
    // at the quick scale).
    let replay = |file: &str, own: &[(&'static str, &str)]| {
        let mut f =
            llama8b_h100(&[("cluster_config_num_replicas", "8"), ("request_generator_config_type", "trace")]);
        f.extend(pairs(own));
        f.push(("trace_request_generator_config_trace_file", trace(file)));
        if quick {
            f.push(("trace_request_generator_config_num_requests", "2000".into()));
        }
        f
    };
    let mut flags = if name == "seed_quickstart" { Vec::new() } else { common() };
    let (summary, own) = match name {
        "seed_quickstart" => (
            "README's seed command as is (Chrome trace and request metrics on): 128 requests with Mooncake lengths, poisson 8 QPS, 8 × Llama-3-8B/H100, vllm_v1, prefix caching",
            {
                let mut f = llama8b_h100(&[
                    ("time_limit", "10800"),
                    ("cluster_config_num_replicas", "8"),
                    ("request_generator_config_type", "synthetic"),
                    ("synthetic_request_generator_config_num_requests", "128"),
                    ("length_generator_config_type", "trace"),
                    ("interval_generator_config_type", "poisson"),
                    ("poisson_request_interval_generator_config_qps", "8.0"),
                    ("global_scheduler_config_type", "round_robin"),
                    ("replica_scheduler_config_type", "vllm_v1"),
                    ("vllm_v1_scheduler_config_chunk_size", "512"),
                    ("vllm_v1_scheduler_config_batch_size_cap", "512"),
                    ("cache_config_enable_prefix_caching", "true"),
                ]);
                f.push((
                    "trace_request_length_generator_config_trace_file",
                    trace("mooncake_conversation_trace.csv"),
                ));
                f
            },
        ),
        "mooncake_conversation" => (
            "Mooncake conversation trace replayed (12,031 requests, its arrivals), 8 × Llama-3-8B/H100, prefix caching",
            replay("mooncake_conversation_trace.csv", &[("cache_config_enable_prefix_caching", "true")]),
        ),
        "splitwise_conv_saturated" => (
            "splitwise_conv.csv (19,366 requests) replayed 20× faster (~110 QPS, near saturation), 8 × Llama-3-8B/H100",
            replay("splitwise_conv.csv", &[("trace_request_generator_config_time_scale_factor", "0.05")]),
        ),
        "synthetic_1m" => (
            "1 M synthetic requests (zipf 32–4096 tokens, poisson 150 QPS), 16 × Llama-3-8B/H100, no per-request output",
            llama8b_h100(&[
                ("cluster_config_num_replicas", "16"),
                ("request_generator_config_type", "synthetic"),
                ("synthetic_request_generator_config_num_requests", if quick { "20000" } else { "1000000" }),
                ("length_generator_config_type", "zipf"),
                ("zipf_request_length_generator_config_min_tokens", "32"),
                ("zipf_request_length_generator_config_max_tokens", "4096"),
                ("interval_generator_config_type", "poisson"),
                ("poisson_request_interval_generator_config_qps", "150"),
                ("metrics_config_store_request_metrics", "false"),
            ]),
        ),
        "llama70b_tp4_pp2" => (
            "Llama-3-70B with TP4 × PP2 on H100 DGX, 4 replicas, 20,000 zipf requests (256–8192 tokens) at 20 QPS",
            pairs(&[
                ("replica_config_model_name", "meta-llama/Meta-Llama-3-70B"),
                ("replica_config_device", "h100"),
                ("replica_config_network_device", "h100_dgx"),
                ("replica_config_tensor_parallel_size", "4"),
                ("replica_config_num_pipeline_stages", "2"),
                ("cluster_config_num_replicas", "4"),
                ("request_generator_config_type", "synthetic"),
                ("synthetic_request_generator_config_num_requests", if quick { "2000" } else { "20000" }),
                ("length_generator_config_type", "zipf"),
                ("zipf_request_length_generator_config_min_tokens", "256"),
                ("zipf_request_length_generator_config_max_tokens", "8192"),
                ("interval_generator_config_type", "poisson"),
                ("poisson_request_interval_generator_config_qps", "20"),
            ]),
        ),
        _ => return None,
    };
    flags.extend(own);
    Some(Scenario { name: SCENARIO_NAMES.iter().find(|n| **n == name)?, summary, flags })
}

impl Scenario {
    /// The engine configuration.
    pub fn config(&self) -> Config {
        Config::from_pairs(self.flags.iter().map(|(k, v)| (*k, v.as_str())))
            .unwrap_or_else(|e| panic!("scenario {}: {e}", self.name))
    }

    /// Files the scenario reads (trace paths), deduplicated.
    pub fn files(&self) -> Vec<String> {
        let mut files: Vec<String> =
            SimConfig::required_files(&self.config()).into_iter().map(|(_, path)| path).collect();
        files.sort();
        files.dedup();
        files
    }
}

/// The reference directory: `$LLMSIM_SHARED_DIR`, else `../shared` next to the repository.
pub fn default_shared_dir() -> PathBuf {
    std::env::var_os("LLMSIM_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

/// What the host lends the measurement: a monotonic clock and its allocator's counters.
pub trait Host {
    /// Seconds since an arbitrary origin.
    fn now_s(&self) -> f64;
    /// CPU seconds this process has used, where the platform tells (less disturbed than wall
    /// time by other processes on a shared machine).
    fn cpu_s(&self) -> Option<f64> {
        None
    }
    /// The host's global allocator, which counts the heap in use and its peak.
    fn allocator(&self) -> &'static PeakAlloc;
}

/// The figures of one scenario on one platform.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Measurement {
    /// Scenario name.
    pub scenario: String,
    /// `native` or `wasm`.
    pub platform: String,
    /// Requests that arrived.
    pub requests: u64,
    /// Of which completed.
    pub completed: u64,
    /// Events handled.
    pub events: u64,
    /// Batches formed.
    pub batches: u64,
    /// Simulated seconds.
    pub simulated_s: f64,
    /// Building the configuration (trace parsing included), seconds; not part of `wall_s`.
    pub setup_s: f64,
    /// Each repetition's wall time of `Simulation::new` + run + `finish` + rendering the output
    /// files (not writing them), seconds.
    pub wall_s: Vec<f64>,
    /// Each repetition's CPU time, seconds (native only).
    #[serde(default)]
    pub cpu_s: Vec<f64>,
    /// Heap in use before the run (configuration and parsed traces), bytes.
    pub heap_before_run: usize,
    /// Highest heap in use during the run and report building, bytes.
    pub heap_peak_run: usize,
    /// Bytes of output files rendered (with `metrics_config_write_metrics`).
    #[serde(default)]
    pub output_bytes: usize,
    /// Peak resident set of the whole process (native) or linear memory (wasm), bytes; set by
    /// the host.
    pub process_peak_bytes: usize,
}

impl Measurement {
    /// Median wall time over the repetitions.
    pub fn median_wall_s(&self) -> f64 {
        median(&self.wall_s)
    }

    /// Median CPU time over the repetitions, if measured.
    pub fn median_cpu_s(&self) -> Option<f64> {
        (!self.cpu_s.is_empty()).then(|| median(&self.cpu_s))
    }

    /// Requests handled per wall second (median run).
    pub fn requests_per_s(&self) -> f64 {
        self.requests as f64 / self.median_wall_s().max(1e-12)
    }

    /// Events handled per wall second (median run).
    pub fn events_per_s(&self) -> f64 {
        self.events as f64 / self.median_wall_s().max(1e-12)
    }

    /// Heap the run added at its peak, per arrived request: what the simulator keeps per
    /// request (the configuration and inputs it started with excluded).
    pub fn bytes_per_request(&self) -> f64 {
        self.heap_peak_run.saturating_sub(self.heap_before_run) as f64 / self.requests.max(1) as f64
    }
}

/// The median of `values` (mean of the middle two for an even count); 0 when empty.
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// Builds `scenario`'s configuration from `files` (path → text; consumed, so the texts are
/// freed before the run), then runs it `repeats` times — simulation, report and output files
/// rendered in memory as `llmsim` would write them — timing each run and tracking the heap.
pub fn measure(
    scenario: &Scenario,
    files: Vec<(String, String)>,
    repeats: u32,
    platform: &str,
    host: &dyn Host,
) -> Result<Measurement, String> {
    let started = host.now_s();
    let mut inputs = Inputs::new();
    for (path, text) in files {
        inputs.add_text(path, text);
    }
    let config = SimConfig::build(&scenario.config(), &inputs)
        .map_err(|e| format!("scenario {}: {e}", scenario.name))?;
    drop(inputs);
    let setup_s = host.now_s() - started;
    let mut m = Measurement {
        scenario: scenario.name.to_string(),
        platform: platform.to_string(),
        setup_s,
        ..Measurement::default()
    };
    for _ in 0..repeats.max(1) {
        m.heap_before_run = host.allocator().current_usage();
        host.allocator().reset_peak_usage();
        let (started, cpu_started) = (host.now_s(), host.cpu_s());
        let report = Simulation::new(&config).run_to_report();
        if config.metrics.write_metrics {
            let files = report.files(config.metrics.store_plots, config.metrics.enable_chrome_trace);
            m.output_bytes = files.iter().map(|(_, text)| text.len()).sum();
        }
        m.wall_s.push(host.now_s() - started);
        if let (Some(before), Some(after)) = (cpu_started, host.cpu_s()) {
            m.cpu_s.push(after - before);
        }
        m.heap_peak_run = m.heap_peak_run.max(host.allocator().peak_usage());
        let s = &report.summary;
        (m.requests, m.completed, m.events, m.batches, m.simulated_s) =
            (s.num_requests, s.num_completed, s.num_events, s.num_batches, s.simulated_time_s);
        drop(report);
    }
    Ok(m)
}

/// The flags of one simulation of a typical capacity search (the page's "Plan capacity"
/// defaults): Llama-3-8B on 2 × H100, the shipped conversation trace's lengths (`trace`, the
/// repository's `data/traces/conversation_synth.csv`) with Poisson arrivals at `qps`,
/// `requests` requests, vllm_v1 with prefix caching, TTFT and TPOT objectives — with what a
/// search turns off (no output files, no Chrome trace, no per-request rows).
pub fn search_job_flags(trace: &str, requests: u32, qps: f64) -> Vec<(&'static str, String)> {
    let mut f = llama8b_h100(&[
        ("cluster_config_num_replicas", "2"),
        ("request_generator_config_type", "synthetic"),
        ("length_generator_config_type", "trace"),
        ("interval_generator_config_type", "poisson"),
        ("replica_scheduler_config_type", "vllm_v1"),
        ("cache_config_enable_prefix_caching", "true"),
        ("slo_config_ttft_max_s", "1.0"),
        ("slo_config_tpot_max_s", "0.05"),
        ("metrics_config_write_metrics", "false"),
        ("metrics_config_enable_chrome_trace", "false"),
        ("metrics_config_store_request_metrics", "false"),
    ]);
    f.push(("synthetic_request_generator_config_num_requests", requests.to_string()));
    f.push(("poisson_request_interval_generator_config_qps", qps.to_string()));
    f.push(("trace_request_length_generator_config_trace_file", trace.to_string()));
    f
}

/// Where one search job's time goes, seconds: the phases of `search::run_job`.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct JobCost {
    /// `Config::from_pairs` over the job's flags.
    pub config_s: f64,
    /// `SimConfig::build` (catalogue, calibration, memory plan; the trace already parsed).
    pub build_s: f64,
    /// `Simulation::new` (replicas, KV pools, metrics).
    pub new_s: f64,
    /// The events.
    pub run_s: f64,
    /// `Simulation::finish_summary` and the job's outcome from the summary.
    pub finish_s: f64,
    /// Events handled.
    pub events: u64,
}

impl JobCost {
    /// Everything but the events: what a search pays per simulation whatever its length.
    pub fn fixed_s(&self) -> f64 {
        self.config_s + self.build_s + self.new_s + self.finish_s
    }
}

/// Runs one search job as `search::run_job` does (overload stop included), timing each phase.
/// `inputs` holds the trace already parsed, as every search executor shares it.
pub fn measure_job_cost(
    flags: &[(&'static str, String)],
    inputs: &Inputs,
    host: &dyn Host,
) -> Result<JobCost, String> {
    let t0 = host.now_s();
    let config =
        Config::from_pairs(flags.iter().map(|(k, v)| (*k, v.as_str()))).map_err(|e| e.to_string())?;
    let t1 = host.now_s();
    let sim_config = SimConfig::build(&config, inputs).map_err(|e| e.to_string())?;
    let t2 = host.now_s();
    let mut sim = Simulation::new(&sim_config).stop_when_overloaded();
    let t3 = host.now_s();
    while !sim.is_finished() {
        sim.run_for_events(50_000);
    }
    let t4 = host.now_s();
    let outcome = llmsim_engine::search::RunOutcome::from_summary(&sim.finish_summary());
    let t5 = host.now_s();
    Ok(JobCost {
        config_s: t1 - t0,
        build_s: t2 - t1,
        new_s: t3 - t2,
        run_s: t4 - t3,
        finish_s: t5 - t4,
        events: outcome.num_events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_is_a_valid_configuration() {
        for name in SCENARIO_NAMES {
            for scale in [Scale::Full, Scale::Quick] {
                let s = scenario(name, scale, "/shared").expect("known scenario");
                let config = s.config();
                for file in s.files() {
                    assert!(file.starts_with("/shared/traces/"), "{name}: {file}");
                }
                // Without the files the build fails only for the missing traces.
                if s.files().is_empty() {
                    SimConfig::build(&config, &Inputs::new()).unwrap_or_else(|e| panic!("{name}: {e}"));
                }
            }
        }
        assert!(scenario("nope", Scale::Full, "/shared").is_none());
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }
}
