//! Shared helpers of llmsim's integration tests: locating `../shared`, building scenarios from
//! flag pairs, and running them with invariant checks.

use std::path::PathBuf;

use llmsim_engine::{Config, Inputs, Report, SimConfig, Simulation};

/// The workplace's reference material (`../shared` next to the repository), or `None` with a
/// visible note when it is absent (a clone outside this workplace). Set `LLMSIM_SHARED_DIR` to
/// point elsewhere; CI sets `LLMSIM_REQUIRE_SHARED=1`, which turns absence into a failure.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("LLMSIM_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    if dir.join("README.md").is_file() {
        return Some(dir);
    }
    if std::env::var_os("LLMSIM_REQUIRE_SHARED").is_some() {
        panic!("LLMSIM_REQUIRE_SHARED is set but {} does not exist", dir.display());
    }
    eprintln!(
        "SKIPPED: {} not found (tests that read ../shared are skipped outside the workplace)",
        dir.display()
    );
    None
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A configuration from `(flag, value)` pairs; panics on a bad pair (test input is fixed).
pub fn config(pairs: &[(&str, &str)]) -> Config {
    Config::from_pairs(pairs.iter().copied()).unwrap_or_else(|e| panic!("bad test configuration: {e}"))
}

/// Builds and runs a configuration with every invariant checked after every event, and the
/// report's figures held to what the cluster could deliver ([`check_report_bounds`]).
pub fn run_checked(config: &Config, inputs: &Inputs) -> Report {
    let sim_config =
        SimConfig::build(config, inputs).unwrap_or_else(|e| panic!("invalid test configuration: {e}"));
    let report = Simulation::new(&sim_config).with_invariant_checks().run_to_report();
    if let Err(e) = check_report_bounds(&report, &sim_config) {
        panic!("{e}");
    }
    report
}

/// INV-11: a finished report's figures are plausible. Every latency statistic and per-request
/// time is finite and not negative, percentiles are ordered, shares are within 0–100 %, and
/// (with the roofline predictor, whose times are never below the device's peaks) the tokens
/// computed and batches run are no more than the cluster's FLOPs and memory bandwidth could
/// deliver in the simulated time: every computed token costs at least 2 FLOPs per active
/// parameter, and every batch reads at least one stage's attention and MLP weights.
pub fn check_report_bounds(report: &Report, config: &SimConfig) -> Result<(), String> {
    let s = &report.summary;
    let stats = [
        ("ttft_s", &s.ttft_s),
        ("tbt_s", &s.tbt_s),
        ("tpot_s", &s.tpot_s),
        ("e2e_s", &s.e2e_s),
        ("scheduling_delay_s", &s.scheduling_delay_s),
    ];
    for (name, st) in stats {
        if st.count == 0 {
            continue;
        }
        let values = [st.min, st.p50, st.p90, st.p95, st.p99, st.max, st.mean];
        if values.iter().any(|v| !v.is_finite() || *v < 0.0) {
            return Err(format!("INV-11: {name} has a NaN, infinite or negative figure: {st:?}"));
        }
        let ordered = st.min <= st.p50 && st.p50 <= st.p90 && st.p90 <= st.p95 && st.p95 <= st.p99;
        // The mean is summed in floating point: it may stray from min = max by an ulp or two.
        let mean_within = st.min * (1.0 - 1e-9) <= st.mean && st.mean <= st.max * (1.0 + 1e-9);
        if !(ordered && st.p99 <= st.max && mean_within) {
            return Err(format!("INV-11: {name}'s statistics are out of order: {st:?}"));
        }
    }
    let t = &s.throughput;
    let figures = [
        ("requests_per_s", t.requests_per_s),
        ("input_tokens_per_s", t.input_tokens_per_s),
        ("output_tokens_per_s", t.output_tokens_per_s),
        ("simulated_time_s", s.simulated_time_s),
    ];
    if let Some((name, v)) = figures.iter().find(|(_, v)| !v.is_finite() || *v < 0.0) {
        return Err(format!("INV-11: {name} = {v}"));
    }
    let shares = [
        ("kv_usage_percent_mean", s.kv_usage_percent_mean),
        ("kv_usage_percent_max", s.kv_usage_percent_max),
        ("busy_percent_mean", s.busy_percent_mean),
        ("mfu_percent_mean", s.mfu_percent_mean),
        ("prefix_cache_hit_rate %", s.prefix_cache_hit_rate * 100.0),
    ];
    if let Some((name, v)) = shares.iter().find(|(_, v)| !(*v >= 0.0 && *v <= 100.0 + 1e-9)) {
        return Err(format!("INV-11: {name} = {v} is not a share"));
    }
    if config.predictor.name != "roofline" || s.simulated_time_s <= 0.0 {
        return Ok(());
    }
    // A disaggregated cluster's pools each bring their GPUs, replicas and stages.
    let pools: Vec<&SimConfig> =
        std::iter::once(config).chain(config.disagg.as_ref().map(|d| &*d.decode)).collect();
    let m = &config.replica.model;
    let (e, hd) = (f64::from(m.embedding_dim), f64::from(m.head_dim()));
    let attention = e * hd * (f64::from(m.num_q_heads) + 2.0 * f64::from(m.num_kv_heads))
        + f64::from(m.num_q_heads) * hd * e;
    let projections = if m.use_gated_mlp { 3.0 } else { 2.0 };
    let active_mlp = match &m.moe {
        None => projections * e * f64::from(m.mlp_hidden_dim),
        Some(moe) => {
            let expert = projections * e * f64::from(moe.expert_hidden_dim);
            let shared = projections * e * f64::from(moe.shared_expert_hidden_dim);
            f64::from(moe.top_k) * expert + shared
        }
    };
    let active_params = f64::from(m.num_layers) * (attention + active_mlp);
    // Each completed request computed its prompt less the cached part, and one pass per output
    // token after the first (which the prompt's last pass produces).
    let computed: f64 = report
        .requests
        .iter()
        .map(|r| {
            f64::from(r.num_prefill_tokens - r.num_prefill_tokens_cached) + f64::from(r.num_decode_tokens)
                - 1.0
        })
        .sum();
    let (mut gpus, mut cluster_flops, mut batch_capacity, mut in_flight, mut stage_bytes) =
        (0.0, 0.0, 0.0, 0.0, 0.0);
    for pool in &pools {
        let replica = &pool.replica;
        let device = &replica.device;
        let pool_gpus = f64::from(pool.cluster.num_replicas) * f64::from(replica.parallel.world_size());
        gpus += pool_gpus;
        cluster_flops += pool_gpus * device.fp16_tflops.max(device.fp8_tflops.unwrap_or(0.0)) * 1e12;
        let bytes = min_stage_weight_bytes(replica);
        stage_bytes = f64::max(stage_bytes, bytes);
        batch_capacity +=
            f64::from(pool.cluster.num_replicas) * device.memory_bandwidth_gbps * 1e9 * s.simulated_time_s
                / bytes;
        // Batches still running when the run stopped (a time limit) have not paid their reads
        // yet: at most one per pipeline stage and replica.
        in_flight += f64::from(pool.cluster.num_replicas) * f64::from(replica.parallel.num_pipeline_stages);
    }
    let deliverable = cluster_flops * s.simulated_time_s / (2.0 * active_params);
    if computed > deliverable * (1.0 + 1e-6) {
        return Err(format!(
            "INV-11: {computed} tokens computed in {} s, more than the {deliverable:.0} the cluster's {gpus} GPUs of {:.0} TFLOP/s in all could compute ({active_params:.3e} active parameters a token)",
            s.simulated_time_s,
            cluster_flops / 1e12
        ));
    }
    if s.num_batches as f64 > batch_capacity * (1.0 + 1e-6) + in_flight {
        return Err(format!(
            "INV-11: {} batches in {} s, more than the {batch_capacity:.0} whose weight reads (up to {stage_bytes:.3e} bytes a stage) the replicas' memory bandwidth allows",
            s.num_batches, s.simulated_time_s
        ));
    }
    Ok(())
}

/// The fewest weight bytes one GPU of a pipeline stage reads a batch: every layer's attention
/// and one MLP (an MoE layer's one routed expert and its shared expert), each part in the
/// dtype the memory planner sizes it in (an INT4 model's routed experts INT4 beside bf16
/// attention and shared experts: `ReplicaSpec::expert_weight_dtype`, `dense_weight_dtype`).
pub fn min_stage_weight_bytes(replica: &llmsim_engine::config::ReplicaSpec) -> f64 {
    let m = &replica.model;
    let (e, hd) = (f64::from(m.embedding_dim), f64::from(m.head_dim()));
    let attention = e * hd * (f64::from(m.num_q_heads) + 2.0 * f64::from(m.num_kv_heads))
        + f64::from(m.num_q_heads) * hd * e;
    let projections = if m.use_gated_mlp { 3.0 } else { 2.0 };
    let (dense, experts) =
        (replica.dense_weight_dtype().bytes_per_element(), replica.expert_weight_dtype().bytes_per_element());
    let layer = match &m.moe {
        None => (attention + projections * e * f64::from(m.mlp_hidden_dim)) * dense,
        Some(moe) => {
            let expert = projections * e * f64::from(moe.expert_hidden_dim);
            let shared = projections * e * f64::from(moe.shared_expert_hidden_dim);
            (attention + shared) * dense + expert * experts
        }
    };
    f64::from(replica.layers_per_stage()) * layer / f64::from(replica.parallel.tensor_parallel_size)
}

/// Checks a finished report: every request accounted for exactly once (INV-1), causality of
/// each completed request's timestamps and a latency that splits exactly into scheduling
/// delay, execution and preemption (INV-5), cached prompt within the prompt (INV-2), and no
/// KV block held after a run that completed everything (INV-4).
pub fn check_report_invariants(report: &Report) -> Result<(), String> {
    let s = &report.summary;
    if s.num_requests != s.num_completed + s.num_refused + s.num_unfinished + s.num_warmup_requests {
        return Err(format!(
            "INV-1: {} requests but {} completed + {} refused + {} unfinished + {} warm-up",
            s.num_requests, s.num_completed, s.num_refused, s.num_unfinished, s.num_warmup_requests
        ));
    }
    let mut seen = vec![false; s.num_requests as usize];
    let ids = report.requests.iter().map(|r| r.id).chain(report.request_errors.iter().map(|e| e.id));
    for id in ids {
        let slot = seen.get_mut(id as usize).ok_or_else(|| format!("INV-1: unknown request id {id}"))?;
        if std::mem::replace(slot, true) {
            return Err(format!("INV-1: request {id} reported twice"));
        }
    }
    // Completed warm-up requests have no row; they arrive before every measured request.
    let first_measured = report.requests.iter().map(|r| r.id).min().unwrap_or(u32::MAX);
    let missing: Vec<usize> = seen.iter().enumerate().filter(|(_, s)| !**s).map(|(i, _)| i).collect();
    if let Some(&id) = missing.iter().find(|&&id| id as u64 >= u64::from(first_measured)) {
        return Err(format!("INV-1: request {id} is missing from the report"));
    }
    if missing.len() as u64 != s.num_warmup_requests {
        return Err(format!(
            "INV-1: {} requests without a row, but {} warm-up requests",
            missing.len(),
            s.num_warmup_requests
        ));
    }
    for r in &report.requests {
        if !(r.arrived_at_ns <= r.scheduled_at_ns
            && r.scheduled_at_ns <= r.prefill_completed_at_ns
            && r.prefill_completed_at_ns <= r.completed_at_ns)
        {
            return Err(format!("INV-5: request {} has arrival/schedule/first token/end out of order", r.id));
        }
        let accounted = (r.scheduled_at_ns - r.arrived_at_ns) + r.execution_ns + r.preempted_ns;
        if r.completed_at_ns - r.arrived_at_ns != accounted {
            return Err(format!(
                "INV-5: request {}: e2e {} ns ≠ scheduling delay + execution + preemption = {} ns",
                r.id,
                r.completed_at_ns - r.arrived_at_ns,
                accounted
            ));
        }
        if r.num_prefill_tokens_cached > r.num_prefill_tokens {
            return Err(format!(
                "INV-2: request {} has {} cached prompt tokens of {}",
                r.id, r.num_prefill_tokens_cached, r.num_prefill_tokens
            ));
        }
    }
    if s.num_unfinished == 0 {
        for replica in &report.replicas {
            if replica.kv_blocks_allocated_at_end != 0 {
                return Err(format!(
                    "INV-4: replica {} still holds {} KV blocks at the end",
                    replica.replica, replica.kv_blocks_allocated_at_end
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bandwidth_bound_reads_an_int4_moe_models_experts_at_int4_and_the_rest_at_bf16() {
        let replica = |dtype: &str| {
            let config = Config::from_pairs([
                ("replica_config_model_name", "mistralai/Mixtral-8x7B-v0.1"),
                ("replica_config_device", "h100"),
                ("replica_config_tensor_parallel_size", "2"),
                ("replica_config_weight_dtype", dtype),
            ])
            .unwrap();
            SimConfig::build(&config, &Inputs::new()).unwrap_or_else(|e| panic!("{e}")).replica
        };
        // Mixtral-8x7B at TP 2, by hand: attention 4096·128·(32 + 2·8) + 32·128·4096 =
        // 41,943,040 parameters a layer, one expert 3·4096·14336 = 176,160,768, no shared
        // expert. bf16: 32 · 218,103,808 · 2 B / 2 = 6,979,321,856 B. INT4 experts beside bf16
        // attention: 32 · (41,943,040 · 2 + 176,160,768 · 0.5625) / 2 = 2,927,624,192 B (not
        // 32 · 218,103,808 · 0.5625 / 2 = 1,962,934,272 with every byte at INT4).
        assert_eq!(min_stage_weight_bytes(&replica("bf16")), 6_979_321_856.0);
        assert_eq!(min_stage_weight_bytes(&replica("int4")), 2_927_624_192.0);
    }
}
