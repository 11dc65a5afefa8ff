//! llmsim against Vidur itself: the run in `../shared/vidur-reference/a100-llama2-7b-4rep`
//! (4 × Llama-2-7B on A100, vllm_v1 with prefix caching, 128 multi-turn requests replayed from
//! a trace) with Vidur's own profile tables, compared by distribution — Vidur's random forest
//! interpolates differently from our tables, so single requests may move by an iteration.

use llmsim_engine::{Inputs, SimConfig, Simulation};
use llmsim_tests::{check_report_invariants, config, shared_dir};

#[test]
fn distributions_match_vidurs_reference_run() {
    let Some(shared) = shared_dir() else { return };
    let dir = shared.join("vidur-reference/a100-llama2-7b-4rep");
    let path = |p: &std::path::Path| p.to_string_lossy().to_string();
    let files = [
        ("requests", dir.join("requests.csv")),
        ("mlp", shared.join("profiles/vidur/compute/a100/meta-llama/Llama-2-7b-hf/mlp.csv")),
        ("attention", dir.join("attention.csv")),
        ("all_reduce", shared.join("profiles/vidur/network/a100_dgx/all_reduce.csv")),
        ("send_recv", shared.join("profiles/vidur/network/a100_dgx/send_recv.csv")),
    ];
    let mut inputs = Inputs::new();
    for (_, p) in &files {
        inputs.add_text(path(p), std::fs::read_to_string(p).expect("reference file readable"));
    }
    let [requests, mlp, attention, all_reduce, send_recv] = files.map(|(_, p)| path(&p));
    let c = config(&[
        ("replica_config_model_name", "meta-llama/Llama-2-7b-hf"),
        ("replica_config_device", "a100"),
        ("replica_config_network_device", "a100_dgx"),
        ("cluster_config_num_replicas", "4"),
        ("request_generator_config_type", "trace"),
        ("trace_request_generator_config_trace_file", &requests),
        ("global_scheduler_config_type", "round_robin"),
        ("replica_scheduler_config_type", "vllm_v1"),
        ("vllm_v1_scheduler_config_chunk_size", "512"),
        ("vllm_v1_scheduler_config_batch_size_cap", "512"),
        ("cache_config_enable_prefix_caching", "true"),
        ("execution_time_predictor_config_type", "random_forest"),
        ("random_forest_execution_time_predictor_config_compute_input_file", &mlp),
        ("random_forest_execution_time_predictor_config_attention_input_file", &attention),
        ("random_forest_execution_time_predictor_config_all_reduce_input_file", &all_reduce),
        ("random_forest_execution_time_predictor_config_send_recv_input_file", &send_recv),
    ]);
    let report = Simulation::new(&SimConfig::build(&c, &inputs).expect("valid")).run_to_report();
    check_report_invariants(&report).unwrap();
    let s = &report.summary;
    assert_eq!(s.num_completed, 128);

    let vidur: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("vidur_summary.json")).unwrap()).unwrap();
    // The reference's "TPOT" is Vidur's decode_time_execution_plus_preemption_normalized,
    // (completion − first token) / D, not llmsim's (e2e − TTFT) / (D − 1).
    let mut decode_normalized: Vec<f64> = report
        .requests
        .iter()
        .map(|r| {
            (r.completed_at_ns - r.prefill_completed_at_ns) as f64 / 1e9 / f64::from(r.num_decode_tokens)
        })
        .collect();
    let vidur_tpot = llmsim_engine::stats::exact_stats(&mut decode_normalized);
    let mut worst: f64 = 0.0;
    eprintln!("{:8} {:5} {:>10} {:>10} {:>7}", "metric", "stat", "vidur", "llmsim", "diff");
    for (name, ours) in [("ttft_s", &s.ttft_s), ("tpot_s", &vidur_tpot), ("e2e_s", &s.e2e_s)] {
        for (stat, value) in [("mean", ours.mean), ("p50", ours.p50), ("p90", ours.p90), ("p99", ours.p99)] {
            let theirs = vidur[name][stat].as_f64().expect("reference value");
            let diff = (value - theirs) / theirs;
            eprintln!("{name:8} {stat:5} {theirs:>10.5} {value:>10.5} {:>+6.1}%", diff * 100.0);
            worst = worst.max(diff.abs());
        }
    }
    let cached = vidur["prefix_cached_prompt_tokens"].as_u64().unwrap() as f64;
    let cached_diff = (s.prefix_cached_prompt_tokens as f64 - cached) / cached;
    eprintln!(
        "prefix-cached prompt tokens: vidur {cached}, llmsim {} ({:+.2}%)",
        s.prefix_cached_prompt_tokens,
        cached_diff * 100.0
    );
    assert_eq!(s.prompt_tokens, vidur["prompt_tokens"].as_u64().unwrap());
    assert!(cached_diff.abs() < 0.01, "prefix-cache hits differ from Vidur's by {:.2}%", cached_diff * 100.0);
    assert!(worst < 0.10, "a latency statistic differs from Vidur's by {:.1}%", worst * 100.0);
}
