//! The seed corpus: inputs the mutators start from. Read at run time, never copied: the
//! repository's shipped trace and golden scenarios' configurations, `../shared`'s traces and
//! profile tables (their first rows) when present, and small hand-written traces, arrival
//! times and model files so that the harness works without them.

use std::path::{Path, PathBuf};

use llmsim_engine::catalog;
use serde_json::{Value, json};

/// Rows taken from the head of each trace file: mutation works on small inputs, and runs stay
/// short.
const SEED_ROWS: usize = 24;

/// The path under which a case hands its trace to the engine (the flags name it).
pub const TRACE_PATH: &str = "trace.csv";
/// The path of an interval trace's arrival times.
pub const ARRIVALS_PATH: &str = "arrivals.csv";
/// The path of a Hugging Face `config.json`.
pub const MODEL_PATH: &str = "model.json";
/// The path of a `--config` JSON.
pub const CONFIG_PATH: &str = "config.json";
/// The path of a profile table (`mlp.csv`).
pub const PROFILE_PATH: &str = "mlp.csv";
/// The path of a network profile table.
pub const NETWORK_PATH: &str = "all_reduce.csv";

/// Seeds by kind.
#[derive(Clone, Debug, Default)]
pub struct Seeds {
    /// Request traces (Vidur CSV, Mooncake JSONL, Azure CSV), as `(name, bytes)`.
    pub traces: Vec<(String, Vec<u8>)>,
    /// Arrival-time CSVs.
    pub arrivals: Vec<(String, Vec<u8>)>,
    /// Hugging Face `config.json` files.
    pub models: Vec<(String, Vec<u8>)>,
    /// Profile tables (`mlp.csv`, network tables), when `../shared` has them.
    pub profiles: Vec<(String, Vec<u8>)>,
    /// Flag sets of whole scenarios, with trace paths as [`TRACE_PATH`] / [`ARRIVALS_PATH`].
    pub scenarios: Vec<Vec<(String, String)>>,
}

impl Seeds {
    /// The corpus: the repository at `repo`, and `shared` (`../shared`) when it exists.
    pub fn load(repo: &Path, shared: Option<&Path>) -> Seeds {
        let mut seeds = Seeds::builtin();
        for path in
            [repo.join("data/traces/conversation_synth.csv"), repo.join("tests/scenarios/conversation.csv")]
        {
            seeds.add_trace(&path);
        }
        if let Some(shared) = shared {
            if let Ok(entries) = std::fs::read_dir(shared.join("traces")) {
                let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
                paths.sort();
                for path in paths.iter().filter(|p| p.extension().is_some_and(|x| x == "csv" || x == "jsonl"))
                {
                    seeds.add_trace(path);
                }
            }
            let compute = shared.join("profiles/vidur/compute/h100/meta-llama/Meta-Llama-3-8B/mlp.csv");
            let network = shared.join("profiles/vidur/network/h100_pairwise_nvlink/all_reduce.csv");
            for path in [compute, network] {
                if let Some(head) = head_of(&path) {
                    seeds.profiles.push((path.display().to_string(), head));
                }
            }
        }
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(repo.join("tests/scenarios"))
            .map(|e| e.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        dirs.sort();
        for dir in dirs {
            if let Some(pairs) =
                std::fs::read_to_string(dir.join("config.json")).ok().and_then(|t| golden_pairs(&t))
            {
                seeds.scenarios.push(pairs);
            }
        }
        seeds
    }

    fn add_trace(&mut self, path: &Path) {
        if let Some(head) = head_of(path) {
            let name = path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            if head.starts_with(b"arrived_at") {
                self.arrivals.push((name.clone(), head.clone()));
            }
            self.traces.push((name, head));
        }
    }

    /// Hand-written seeds: one trace of each format, arrival times in seconds and as
    /// date-times, model files of each MLP form, and scenarios over each workload.
    pub fn builtin() -> Seeds {
        let text = |name: &str, t: &str| (name.to_string(), t.as_bytes().to_vec());
        let traces = vec![
            text(
                "vidur.csv",
                "arrived_at,num_prefill_tokens,num_decode_tokens,session_id,block_size,block_hash_ids\n\
                 0.0,40,5,0,16,\"[0, 1]\"\n0.25,64,3,0,16,\"[0, 1, 2, 3]\"\n0.5,20,9,1,16,[7]\n1.0,300,12,,,\n",
            ),
            text("lengths.csv", "num_prefill_tokens,num_decode_tokens\n374,44\n396,109\n1200,30\n8,1\n"),
            text(
                "mooncake.jsonl",
                "{\"timestamp\": 0, \"input_length\": 600, \"output_length\": 5, \"hash_ids\": [0, 1]}\n\
                 {\"timestamp\": 1500, \"input_length\": 1000, \"output_length\": 7, \"hash_ids\": [0, 2]}\n\
                 {\"timestamp\": 2100, \"input_length\": 90, \"output_length\": 2, \"hash_ids\": [5]}\n",
            ),
            text(
                "azure.csv",
                "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6,374,44\n\
                 2023-11-16 18:15:50.2,396,109\n2023-11-16 18:15:50.9,879,15\n",
            ),
        ];
        let arrivals = vec![
            text("seconds.csv", "arrived_at\n0\n0.5\n1.25\n3.0\n"),
            text(
                "datetimes.csv",
                "arrived_at\n1970-01-04 12:00:00\n1970-01-04 12:00:01.5\n1970-01-04 12:00:04\n",
            ),
        ];
        let models = vec![
            model(
                "llama",
                json!({"model_type": "llama", "hidden_size": 512, "num_hidden_layers": 4, "num_attention_heads": 8, "num_key_value_heads": 2, "intermediate_size": 1376, "vocab_size": 32000, "max_position_embeddings": 4096, "hidden_act": "silu"}),
            ),
            model(
                "mixtral",
                json!({"model_type": "mixtral", "hidden_size": 512, "num_hidden_layers": 4, "num_attention_heads": 8, "num_key_value_heads": 8, "intermediate_size": 1024, "num_local_experts": 8, "num_experts_per_tok": 2, "vocab_size": 32000, "max_position_embeddings": 8192}),
            ),
            model(
                "gpt2",
                json!({"model_type": "gpt2", "n_embd": 256, "n_layer": 4, "n_head": 4, "vocab_size": 50257, "n_positions": 1024, "activation_function": "gelu_new"}),
            ),
            model(
                "falcon",
                json!({"model_type": "falcon", "hidden_size": 512, "num_hidden_layers": 2, "num_attention_heads": 8, "new_decoder_architecture": false, "multi_query": true, "vocab_size": 65024}),
            ),
            model(
                "qwen2_moe",
                json!({"model_type": "qwen2_moe", "hidden_size": 512, "num_hidden_layers": 2, "num_attention_heads": 8, "num_key_value_heads": 4, "moe_intermediate_size": 256, "shared_expert_intermediate_size": 1024, "num_experts": 16, "num_experts_per_tok": 4, "intermediate_size": 2048, "vocab_size": 32000, "decoder_sparse_step": 1, "text_config": null}),
            ),
        ];
        let mut models = models;
        // Catalogued models written as Hugging Face files: real shapes.
        for m in catalog::models().iter().take(6) {
            let mut v = json!({
                "_name_or_path": m.name, "model_type": "llama", "hidden_size": m.embedding_dim,
                "num_hidden_layers": m.num_layers, "num_attention_heads": m.num_q_heads,
                "num_key_value_heads": m.num_kv_heads, "intermediate_size": m.mlp_hidden_dim,
                "vocab_size": m.vocab_size, "max_position_embeddings": m.max_model_len,
            });
            if let Some(moe) = &m.moe {
                v["num_local_experts"] = json!(moe.num_experts);
                v["num_experts_per_tok"] = json!(moe.top_k);
                v["model_type"] = json!("mixtral");
            }
            models.push(model(&m.name, v));
        }
        let s = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let scenarios = vec![
            s(&[("synthetic_request_generator_config_num_requests", "8")]),
            s(&[
                ("request_generator_config_type", "trace"),
                ("trace_request_generator_config_trace_file", TRACE_PATH),
                ("cluster_config_num_replicas", "2"),
                ("cache_config_enable_prefix_caching", "true"),
            ]),
            s(&[
                ("synthetic_request_generator_config_num_requests", "16"),
                ("length_generator_config_type", "trace"),
                ("trace_request_length_generator_config_trace_file", TRACE_PATH),
                ("interval_generator_config_type", "poisson"),
                ("poisson_request_interval_generator_config_qps", "20"),
                ("cache_config_num_blocks", "300"),
            ]),
            s(&[
                ("synthetic_request_generator_config_num_requests", "none"),
                ("synthetic_request_generator_config_duration", "5"),
                ("interval_generator_config_type", "trace"),
                ("trace_request_interval_generator_config_trace_file", ARRIVALS_PATH),
                ("length_generator_config_type", "uniform"),
                ("uniform_request_length_generator_config_min_tokens", "16"),
                ("uniform_request_length_generator_config_max_tokens", "512"),
            ]),
            s(&[
                ("request_generator_config_type", "closed_loop"),
                ("closed_loop_request_generator_config_concurrency", "4"),
                ("closed_loop_request_generator_config_num_requests", "12"),
                ("closed_loop_request_generator_config_think_time", "0.5"),
                ("length_generator_config_type", "zipf"),
                ("zipf_request_length_generator_config_min_tokens", "32"),
                ("zipf_request_length_generator_config_max_tokens", "2048"),
            ]),
            s(&[
                ("synthetic_request_generator_config_num_requests", "12"),
                ("replica_scheduler_config_type", "sarathi"),
                ("interval_generator_config_type", "gamma"),
                ("gamma_request_interval_generator_config_qps", "10"),
                ("gamma_request_interval_generator_config_cv", "3"),
                ("cache_config_num_blocks", "200"),
                ("global_scheduler_config_type", "lor"),
                ("cluster_config_num_replicas", "3"),
            ]),
            s(&[
                ("synthetic_request_generator_config_num_requests", "6"),
                ("replica_config_model_name", "meta-llama/Meta-Llama-3-70B"),
                ("replica_config_tensor_parallel_size", "4"),
                ("replica_config_num_pipeline_stages", "2"),
                ("interval_generator_config_type", "static"),
            ]),
            s(&[
                ("synthetic_request_generator_config_num_requests", "8"),
                ("replica_config_device", "custom"),
                ("custom_device_config_fp16_tflops", "400"),
                ("custom_device_config_memory_gb", "48"),
                ("custom_device_config_memory_bandwidth_gbps", "2000"),
                ("length_generator_config_type", "fixed"),
                ("fixed_request_length_generator_config_prefill_tokens", "128"),
                ("fixed_request_length_generator_config_decode_tokens", "16"),
            ]),
            // Disaggregated prefill and decode: pools of different size, parallelism and KV
            // room, the transfer's options set.
            s(&[
                ("request_generator_config_type", "trace"),
                ("trace_request_generator_config_trace_file", TRACE_PATH),
                ("disaggregation_config_type", "prefill_decode"),
                ("cluster_config_num_replicas", "2"),
                ("disaggregation_config_decode_num_replicas", "1"),
                ("disaggregation_config_decode_tensor_parallel_size", "2"),
                ("disaggregation_config_decode_num_blocks", "200"),
                ("disaggregation_config_decode_router", "most_kv_free"),
                ("disaggregation_config_layerwise_transfer", "true"),
                ("vllm_v1_scheduler_config_chunk_size", "256"),
            ]),
            s(&[
                ("synthetic_request_generator_config_num_requests", "10"),
                ("serving_engine", "sglang"),
                ("disaggregation_config_type", "prefill_decode"),
                ("replica_config_model_name", "mistralai/Mixtral-8x7B-v0.1"),
                ("replica_config_tensor_parallel_size", "2"),
                ("replica_config_expert_parallel_size", "2"),
                ("disaggregation_config_decode_attention_dp_size", "2"),
                ("disaggregation_config_decode_tensor_parallel_size", "1"),
                ("disaggregation_config_decode_batch_size_cap", "4"),
                ("disaggregation_config_first_token_after_transfer", "true"),
                ("disaggregation_config_transfer_overhead_ms", "0.2"),
            ]),
        ];
        Seeds { traces, arrivals, models, profiles: Vec::new(), scenarios }
    }
}

fn model(name: &str, v: Value) -> (String, Vec<u8>) {
    (name.to_string(), serde_json::to_vec_pretty(&v).unwrap_or_default())
}

/// The first [`SEED_ROWS`] lines of a file (reading at most 1 MiB of it).
fn head_of(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::new();
    std::fs::File::open(path).ok()?.take(1 << 20).read_to_end(&mut buf).ok()?;
    let mut lines = 0;
    let end = buf
        .iter()
        .position(|b| {
            if *b == b'\n' {
                lines += 1;
            }
            lines == SEED_ROWS
        })
        .map_or(buf.len(), |i| i + 1);
    buf.truncate(end);
    (!buf.is_empty()).then_some(buf)
}

/// A golden scenario's configuration as flag pairs, its trace paths renamed to the case's.
fn golden_pairs(text: &str) -> Option<Vec<(String, String)>> {
    let value: Value = serde_json::from_str(text).ok()?;
    let pairs = value
        .as_object()?
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let text = if k.ends_with("_trace_file") {
                if k.contains("interval") { ARRIVALS_PATH.to_string() } else { TRACE_PATH.to_string() }
            } else {
                text
            };
            (k.clone(), text)
        })
        .collect();
    Some(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_seeds_are_valid_inputs() {
        use llmsim_engine::{Config, Inputs, SimConfig};
        let seeds = Seeds::builtin();
        for (name, bytes) in &seeds.traces {
            let text = std::str::from_utf8(bytes).unwrap();
            llmsim_engine::parse_trace(name, text, &mut |_| {}).unwrap_or_else(|e| panic!("{e}"));
        }
        for (name, bytes) in &seeds.models {
            let text = std::str::from_utf8(bytes).unwrap();
            llmsim_engine::hf_config::model_from_hf_config(name, text)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        for pairs in &seeds.scenarios {
            let config = Config::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
            let mut inputs = Inputs::new();
            inputs.add_bytes(TRACE_PATH, seeds.traces[0].1.clone());
            inputs.add_bytes(ARRIVALS_PATH, seeds.arrivals[0].1.clone());
            SimConfig::build(&config, &inputs).unwrap_or_else(|e| panic!("{pairs:?}: {e}"));
        }
    }

    #[test]
    fn heads_stop_after_the_seed_rows() {
        let dir = std::env::temp_dir().join(format!("llmsim-fuzz-seeds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.csv");
        std::fs::write(&path, (0..100).map(|i| format!("{i}\n")).collect::<String>()).unwrap();
        let head = head_of(&path).unwrap();
        assert_eq!(head.iter().filter(|b| **b == b'\n').count(), SEED_ROWS);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
