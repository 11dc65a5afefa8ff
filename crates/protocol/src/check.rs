//! Live validation asked of the worker: the page parses each field as it is typed (errors
//! naming the field at once), and sends the parsed form as a [`CheckRequest`]; the worker runs
//! the engine's validator on it (cross-field rules, the memory plan) and answers a
//! [`CheckAnswer`] with the same id. Ids grow with every form the page asks about, so the page
//! shows only the answer to its latest form and drops the older ones.
//!
//! The page does not link the engine's validator (`SimConfig::build` and every policy behind
//! it): that is most of the engine, and it is the worker's anyway.

use serde::{Deserialize, Serialize};

use crate::FieldError;

/// Bytes in a GiB (device memory is in GiB, as Vidur counts it).
const GIB: f64 = (1u64 << 30) as f64;

/// A form to validate, already parsed field by field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckRequest {
    /// The page's id of this form; a larger id is a newer form.
    pub id: u32,
    /// Every field the user set, as `(flag, canonical text)` (`Config::to_pairs`), whether or
    /// not it applies under the current selectors: whatever fields the flag table has.
    pub pairs: Vec<(String, String)>,
    /// The input files the form reads that a run can read (uploaded, or shipped with the
    /// page): counted as present. Traces are stood in for by a small trace; other files'
    /// checks wait for the run.
    pub available: Vec<String>,
    /// The workload's mean request length in tokens, when the page knows it (for the memory
    /// breakdown's "requests that fit").
    pub typical_tokens: Option<f64>,
}

/// What the engine's validator says of a [`CheckRequest`]'s form.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckAnswer {
    /// The request's id.
    pub id: u32,
    /// The engine's errors, each at its flag (empty: the form is valid).
    pub errors: Vec<FieldError>,
    /// The engine's warnings about the configuration (a valid one).
    pub warnings: Vec<String>,
    /// One GPU's memory (a valid configuration); a disaggregated cluster's prefill pool's.
    pub memory: Option<MemoryBreakdown>,
    /// One GPU's memory of a disaggregated cluster's decode pool (a valid configuration with
    /// `--disaggregation_config_type prefill_decode`), from its own memory plan: its device,
    /// parallelism and KV blocks may differ from the prefill pool's.
    #[serde(default)]
    pub decode_memory: Option<MemoryBreakdown>,
}

/// One GPU of a replica, in GiB, and what its KV cache holds: from the engine's memory plan,
/// the weights, the KV cache, the reserve the planner leaves for activations and the runtime
/// (`--cache_config_memory_margin_fraction`), and concurrent requests at the model's full
/// context and at the workload's mean length.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// KV blocks per replica.
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
    /// The breakdown of a validated configuration (in the worker); `typical_tokens` is the
    /// workload's mean request length, when known.
    pub fn of(sim: &llmsim_engine::SimConfig, typical_tokens: Option<f64>) -> MemoryBreakdown {
        let (replica, plan) = (&sim.replica, &sim.memory);
        let total_gib = replica.device.memory_gb;
        let margin = sim.cache.memory_margin_fraction;
        let weights_gib = plan.weight_bytes_per_device as f64 / GIB;
        let kv_tokens = plan.num_blocks * u64::from(plan.block_size);
        // Under attention data parallelism each rank's GPUs hold only that rank's share of the
        // replica's blocks, and a request lives on one rank.
        let dp = u64::from(plan.attention_dp_size.max(1));
        let rank_blocks = plan.num_blocks / dp;
        // A sliding-window model's window KV and a linear-attention model's recurrent state,
        // kept out of the block pool per sequence, are cache too.
        let kv_gib = (rank_blocks * u64::from(plan.block_size) * plan.kv_bytes_per_token
            + plan.sliding_window_bytes_per_device
            + plan.linear_state_bytes_per_device) as f64
            / GIB;
        let reserve_gib = total_gib * margin;
        let fitting = |tokens: u64| dp * (rank_blocks / tokens.div_ceil(u64::from(plan.block_size)).max(1));
        let max_model_len = replica.model.max_model_len;
        MemoryBreakdown {
            device: format!("{}, {} GiB", replica.device.display_name, replica.device.memory_gb),
            gpus_per_replica: replica.parallel.world_size(),
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

    /// The decode pool's breakdown of a validated disaggregated configuration (in the worker);
    /// `None` for an aggregated one.
    pub fn decode_of(sim: &llmsim_engine::SimConfig, typical_tokens: Option<f64>) -> Option<MemoryBreakdown> {
        sim.disagg.as_ref().map(|d| MemoryBreakdown::of(&d.decode, typical_tokens))
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

#[cfg(test)]
mod tests {
    use llmsim_engine::{Config, Inputs, SimConfig};

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
    fn attention_data_parallel_ranks_each_hold_their_share_of_the_kv_cache() {
        // Mixtral on 4 H100s: TP 2 within each of 2 attention-DP ranks, experts over EP 4. It
        // showed the whole replica's KV on one GPU (99 GiB of 80, -49.5 GiB unused) and 2 GPUs.
        let s = sim(&[
            ("replica_config_model_name", "mistralai/Mixtral-8x7B-v0.1"),
            ("replica_config_device", "h100"),
            ("replica_config_network_device", "h100_dgx"),
            ("replica_config_tensor_parallel_size", "2"),
            ("replica_config_attention_dp_size", "2"),
            ("replica_config_expert_parallel_size", "4"),
        ]);
        let m = MemoryBreakdown::of(&s, None);
        assert_eq!(m.gpus_per_replica, 4);
        assert!(m.unused_gib.abs() < 0.01 && m.kv_gib > 1.0, "the planner fills each GPU with KV: {m:?}");
        assert!(m.weights_gib + m.kv_gib + m.reserve_gib <= m.total_gib + 0.01, "{m:?}");
        let per_request = u64::from(m.max_model_len).div_ceil(u64::from(m.block_size));
        assert_eq!(m.requests_at_max_len, 2 * (m.num_blocks / 2 / per_request));
    }

    #[test]
    fn a_disaggregated_clusters_decode_pool_has_its_own_memory_plan() {
        let base = [
            ("replica_config_model_name", "meta-llama/Meta-Llama-3-8B"),
            ("replica_config_device", "h100"),
            ("replica_config_network_device", "h100_dgx"),
        ];
        assert!(MemoryBreakdown::decode_of(&sim(&base), None).is_none(), "aggregated: one pool");
        let mut pairs = base.to_vec();
        pairs.extend([
            ("disaggregation_config_type", "prefill_decode"),
            ("disaggregation_config_decode_device", "h200"),
            ("disaggregation_config_decode_network_device", "h200_dgx"),
            ("disaggregation_config_decode_tensor_parallel_size", "2"),
        ]);
        let s = sim(&pairs);
        let prefill = MemoryBreakdown::of(&s, Some(1280.0));
        let decode = MemoryBreakdown::decode_of(&s, Some(1280.0)).expect("the decode pool's plan");
        assert_eq!((prefill.total_gib, prefill.gpus_per_replica), (80.0, 1), "{prefill:?}");
        assert!(prefill.device.contains("H100"), "{}", prefill.device);
        assert_eq!(decode.gpus_per_replica, 2, "{decode:?}");
        assert!(decode.device.contains("H200") && decode.total_gib > 80.0, "{decode:?}");
        assert!((decode.weights_gib - prefill.weights_gib / 2.0).abs() < 0.01, "TP 2 halves the weights");
        assert!(decode.kv_tokens > prefill.kv_tokens, "more memory and two GPUs: {decode:?}");
        assert!(decode.unused_gib.abs() < 0.01, "the planner fills each GPU with KV: {decode:?}");
        assert_eq!(decode.typical.map(|t| t.0), Some(1280));
    }

    #[test]
    fn answers_survive_the_json_between_page_and_worker() {
        let s = sim(&[("replica_config_model_name", "meta-llama/Meta-Llama-3-8B")]);
        let answer = CheckAnswer {
            id: 7,
            errors: vec![FieldError { flag: "seed".into(), message: "m".into(), hint: None }],
            warnings: vec!["w".into()],
            memory: Some(MemoryBreakdown::of(&s, Some(7387.2))),
            decode_memory: Some(MemoryBreakdown::of(&s, None)),
        };
        let message = crate::FromWorker::Checked(answer.clone());
        let back: crate::FromWorker =
            serde_json::from_str(&serde_json::to_string(&message).unwrap()).unwrap();
        assert_eq!(back, message);
    }
}
