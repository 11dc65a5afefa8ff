//! One GPU's memory before a run, from the engine's memory plan: the weights, the KV cache,
//! the reserve the planner leaves for activations and the runtime
//! (`--cache_config_memory_margin_fraction`), and what the KV cache holds: tokens, and
//! concurrent requests at the model's full context and at the workload's mean length.

use llmsim_engine::{FlagValue, SimConfig};

use crate::form::FormState;
use crate::page::Uploads;
use crate::presets;

/// Bytes in a GiB (device memory is in GiB, as Vidur counts it).
const GIB: f64 = (1u64 << 30) as f64;

/// Mean tokens (prompt + output) of a request of the trace the page ships
/// ([`presets::SHIPPED_TRACE`]; checked against the file by a test).
pub const SHIPPED_TRACE_MEAN_TOKENS: f64 = 7387.2;

/// One GPU of a replica, in GiB, and what its KV cache holds.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryBreakdown {
    /// The device's name and memory, e.g. `H100 SXM, 80 GiB`.
    pub device: String,
    /// GPUs per replica (TP × PP); the figures are those of the most loaded one.
    pub gpus_per_replica: u32,
    /// The GPU's memory.
    pub total_gib: f64,
    /// Model weights held by the GPU.
    pub weights_gib: f64,
    /// The KV cache on the GPU.
    pub kv_gib: f64,
    /// Left for activations, the runtime and fragmentation (the memory margin).
    pub reserve_gib: f64,
    /// The memory margin, %.
    pub margin_percent: f64,
    /// Memory left unused (a KV cache set smaller than what fits), or, when negative, by how
    /// much a KV cache set larger overflows.
    pub unused_gib: f64,
    /// KV blocks per replica, and their size in tokens.
    pub num_blocks: u64,
    /// Tokens per block.
    pub block_size: u32,
    /// Tokens the replica's KV cache holds.
    pub kv_tokens: u64,
    /// The model's longest context.
    pub max_model_len: u32,
    /// Requests of `max_model_len` tokens that fit at once.
    pub requests_at_max_len: u64,
    /// The workload's mean request length in tokens, when the page knows it, and how many such
    /// requests fit at once.
    pub typical: Option<(u64, u64)>,
}

impl MemoryBreakdown {
    /// The breakdown of a validated configuration; `typical_tokens` is the workload's mean
    /// request length, when known.
    pub fn of(sim: &SimConfig, typical_tokens: Option<f64>) -> MemoryBreakdown {
        let (replica, plan) = (&sim.replica, &sim.memory);
        let total_gib = replica.device.memory_gb;
        let margin = sim.cache.memory_margin_fraction;
        let weights_gib = plan.weight_bytes_per_device as f64 / GIB;
        let kv_tokens = plan.num_blocks * u64::from(plan.block_size);
        let kv_gib = (kv_tokens * plan.kv_bytes_per_token) as f64 / GIB;
        let reserve_gib = total_gib * margin;
        let fitting = |tokens: u64| plan.num_blocks / tokens.div_ceil(u64::from(plan.block_size)).max(1);
        let max_model_len = replica.model.max_model_len;
        MemoryBreakdown {
            device: format!("{}, {} GiB", replica.device.display_name, replica.device.memory_gb),
            gpus_per_replica: replica.parallel.tensor_parallel_size * replica.parallel.num_pipeline_stages,
            total_gib,
            weights_gib,
            kv_gib,
            reserve_gib,
            margin_percent: margin * 100.0,
            unused_gib: total_gib - weights_gib - kv_gib - reserve_gib,
            num_blocks: plan.num_blocks,
            block_size: plan.block_size,
            kv_tokens,
            max_model_len,
            requests_at_max_len: fitting(u64::from(max_model_len)),
            typical: typical_tokens.filter(|t| *t >= 1.0).map(|t| {
                let t = t.round() as u64;
                (t, fitting(t))
            }),
        }
    }

    /// The parts of the GPU's memory as `(name, GiB)`, in the order a bar shows them: weights,
    /// KV cache, reserve, then what is unused.
    pub fn parts(&self) -> Vec<(&'static str, f64)> {
        let mut parts =
            vec![("Weights", self.weights_gib), ("KV cache", self.kv_gib), ("Reserve", self.reserve_gib)];
        if self.unused_gib > 0.005 {
            parts.push(("Unused", self.unused_gib));
        }
        parts
    }
}

/// The mean tokens (prompt + output) of the workload's requests, when the form says them:
/// fixed and uniform lengths, or a trace the page read or ships. `None` otherwise (Zipf
/// lengths, a trace still being read).
pub fn typical_request_tokens(form: &FormState, uploads: &Uploads) -> Option<f64> {
    let (config, _) = form.parse();
    let int = |flag: &str| match config.get(flag) {
        FlagValue::Int(n) => Some(n as f64),
        _ => None,
    };
    let trace = |path: &str| {
        if path == presets::SHIPPED_TRACE {
            Some(SHIPPED_TRACE_MEAN_TOKENS)
        } else {
            uploads.mean_request_tokens(path)
        }
    };
    let text = |flag: &str| config.get(flag).to_text();
    if text("request_generator_config_type") == "trace" {
        return trace(&text("trace_request_generator_config_trace_file"));
    }
    match text("length_generator_config_type").as_str() {
        "fixed" => Some(
            int("fixed_request_length_generator_config_prefill_tokens")?
                + int("fixed_request_length_generator_config_decode_tokens")?,
        ),
        "uniform" => Some(
            (int("uniform_request_length_generator_config_min_tokens")?
                + int("uniform_request_length_generator_config_max_tokens")?)
                / 2.0,
        ),
        "trace" => trace(&text("trace_request_length_generator_config_trace_file")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use llmsim_engine::{Config, Inputs};

    use super::*;

    fn sim(pairs: &[(&str, &str)]) -> SimConfig {
        SimConfig::build(&Config::from_pairs(pairs.iter().copied()).unwrap(), &Inputs::new()).unwrap()
    }

    #[test]
    fn one_gpu_is_weights_kv_and_reserve() {
        let s = sim(&[
            ("replica_config_model_name", "meta-llama/Meta-Llama-3-8B"),
            ("replica_config_device", "h100"),
            ("replica_config_network_device", "h100_dgx"),
        ]);
        let m = MemoryBreakdown::of(&s, Some(1280.0));
        assert_eq!((m.total_gib, m.gpus_per_replica), (80.0, 1));
        assert!((m.weights_gib - 14.96).abs() < 0.05, "8 B parameters in bf16: {}", m.weights_gib);
        assert!((m.reserve_gib - 8.0).abs() < 1e-9, "the 10 % margin");
        assert!(m.unused_gib.abs() < 0.01, "the planner fills the rest with KV: {m:?}");
        assert_eq!(m.kv_tokens, m.num_blocks * 16);
        assert_eq!(m.requests_at_max_len, m.num_blocks / (8192 / 16));
        assert_eq!(m.typical, Some((1280, m.num_blocks / 80)));
        let names: Vec<&str> = m.parts().iter().map(|p| p.0).collect();
        assert_eq!(names, ["Weights", "KV cache", "Reserve"]);

        // TP2 halves the weights per GPU; a KV cache set small leaves memory unused.
        let s = sim(&[
            ("replica_config_model_name", "meta-llama/Meta-Llama-3-8B"),
            ("replica_config_tensor_parallel_size", "2"),
            ("cache_config_num_blocks", "1000"),
        ]);
        let m = MemoryBreakdown::of(&s, None);
        assert!((m.weights_gib - 14.96 / 2.0).abs() < 0.01, "{}", m.weights_gib);
        assert_eq!((m.gpus_per_replica, m.kv_tokens), (2, 16_000));
        assert!(m.unused_gib > 50.0 && m.parts().last().unwrap().0 == "Unused", "{m:?}");
    }

    #[test]
    fn the_mean_request_length_comes_from_the_workload() {
        let form = |pairs: &[(&str, &str)]| FormState::from_pairs(pairs.iter().copied()).0;
        let uploads = Uploads::default();
        let fixed = form(&[
            ("length_generator_config_type", "fixed"),
            ("fixed_request_length_generator_config_prefill_tokens", "1024"),
            ("fixed_request_length_generator_config_decode_tokens", "256"),
        ]);
        assert_eq!(typical_request_tokens(&fixed, &uploads), Some(1280.0));
        let uniform = form(&[
            ("length_generator_config_type", "uniform"),
            ("uniform_request_length_generator_config_min_tokens", "1000"),
            ("uniform_request_length_generator_config_max_tokens", "3000"),
        ]);
        assert_eq!(typical_request_tokens(&uniform, &uploads), Some(2000.0));
        let shipped = form(&[
            ("request_generator_config_type", "trace"),
            ("trace_request_generator_config_trace_file", presets::SHIPPED_TRACE),
        ]);
        assert_eq!(typical_request_tokens(&shipped, &uploads), Some(SHIPPED_TRACE_MEAN_TOKENS));
        assert_eq!(
            typical_request_tokens(&form(&[("length_generator_config_type", "zipf")]), &uploads),
            None
        );
    }

    #[test]
    fn the_shipped_traces_mean_length_is_the_files() {
        let path =
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).join(presets::SHIPPED_TRACE);
        let text = std::fs::read_to_string(path).unwrap();
        let trace = llmsim_engine::parse_trace("t", &text, &mut |_| {}).unwrap();
        let mean =
            trace.rows.iter().map(|r| f64::from(r.num_prefill_tokens + r.num_decode_tokens)).sum::<f64>()
                / trace.rows.len() as f64;
        assert!((mean - SHIPPED_TRACE_MEAN_TOKENS).abs() < 0.1, "{mean}");
    }
}
