//! The seed's headline command (Vidur's how-to), with and without prefix caching, on the real
//! Mooncake conversation trace from `../shared`.

use llmsim_engine::{Inputs, SimConfig, Simulation};
use llmsim_tests::{check_report_invariants, config, shared_dir};

fn seed_pairs(trace: &str, prefix_caching: bool) -> Vec<(&str, String)> {
    vec![
        ("time_limit", "10800".into()),
        ("replica_config_model_name", "meta-llama/Meta-Llama-3-8B".into()),
        ("replica_config_tensor_parallel_size", "1".into()),
        ("replica_config_num_pipeline_stages", "1".into()),
        ("replica_config_device", "h100".into()),
        ("replica_config_network_device", "h100_dgx".into()),
        ("cluster_config_num_replicas", "8".into()),
        ("request_generator_config_type", "synthetic".into()),
        ("synthetic_request_generator_config_num_requests", "128".into()),
        ("length_generator_config_type", "trace".into()),
        ("trace_request_length_generator_config_trace_file", trace.into()),
        ("interval_generator_config_type", "poisson".into()),
        ("poisson_request_interval_generator_config_qps", "8.0".into()),
        ("global_scheduler_config_type", "round_robin".into()),
        ("replica_scheduler_config_type", "vllm_v1".into()),
        ("vllm_v1_scheduler_config_chunk_size", "512".into()),
        ("vllm_v1_scheduler_config_batch_size_cap", "512".into()),
        ("cache_config_enable_prefix_caching", prefix_caching.to_string()),
    ]
}

#[test]
fn seed_command_runs_with_and_without_prefix_caching() {
    let Some(shared) = shared_dir() else { return };
    let path = shared.join("traces/mooncake_conversation_trace.csv");
    let path = path.to_string_lossy().to_string();
    let text = std::fs::read_to_string(&path).expect("trace readable");
    let mut inputs = Inputs::new();
    inputs.add_text(path.clone(), text);
    let mut hit_rates = Vec::new();
    for prefix_caching in [true, false] {
        let pairs = seed_pairs(&path, prefix_caching);
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let sim_config = SimConfig::build(&config(&pairs), &inputs).expect("the seed command is valid");
        let report = Simulation::new(&sim_config).run_to_report();
        check_report_invariants(&report).unwrap();
        let s = &report.summary;
        assert_eq!((s.num_requests, s.num_completed), (128, 128));
        assert!(s.ttft_s.p50 > 0.0 && s.tbt_s.p50 > 0.0 && s.throughput.output_tokens_per_s > 0.0);
        hit_rates.push(s.prefix_cache_hit_rate);
        eprintln!(
            "prefix caching {prefix_caching}: TTFT p50 {:.4} s p99 {:.4} s, TBT p50 {:.4} s, hit rate {:.3}, {} events",
            s.ttft_s.p50, s.ttft_s.p99, s.tbt_s.p50, s.prefix_cache_hit_rate, s.num_events
        );
    }
    assert!(hit_rates[0] > 0.0, "the Mooncake trace shares prefixes");
    assert_eq!(hit_rates[1], 0.0);
}
