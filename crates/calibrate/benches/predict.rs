//! Nanoseconds per batch prediction in the seed scenario (Llama-3-8B on one H100, vllm_v1-like
//! batches of up to ~512 tokens: one prefill chunk plus decodes). Prints numbers; asserts none.
//!
//! `cargo bench -p llmsim-calibrate --bench predict`

use std::hint::black_box;
use std::time::Instant;

use llmsim_engine::exec::{BatchItem, StagePosition};
use llmsim_engine::{Config, Inputs, SimConfig};

fn batches() -> Vec<Vec<BatchItem>> {
    // A fixed linear congruential sequence: the same batches every run.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |n: u64| {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    (0..1000)
        .map(|_| {
            let decodes = 1 + next(128) as u32;
            let mut batch: Vec<BatchItem> =
                (0..decodes).map(|_| BatchItem::decode(64 + next(4000) as u32, 1)).collect();
            if next(2) == 0 {
                batch.push(BatchItem::prefill(next(2048) as u32, 512 - decodes));
            }
            batch
        })
        .collect()
}

fn main() {
    let mut config = Config::new();
    for (k, v) in [
        ("replica_config_model_name", "meta-llama/Meta-Llama-3-8B"),
        ("replica_config_device", "h100"),
        ("replica_config_network_device", "h100_dgx"),
    ] {
        config.set(k, v).expect("valid flag");
    }
    let started = Instant::now();
    let sim = SimConfig::build(&config, &Inputs::new()).expect("seed configuration is valid");
    println!("configuration + predictor construction: {:.3} ms", started.elapsed().as_secs_f64() * 1e3);
    let predictor = &sim.predictor.build;
    let batches = batches();
    let position = StagePosition { stage: 0, num_stages: 1 };
    let mean_batch = batches.iter().map(Vec::len).sum::<usize>() as f64 / batches.len() as f64;
    for round in 0..5 {
        let started = Instant::now();
        let mut total = 0.0;
        let reps = 50;
        for _ in 0..reps {
            for b in &batches {
                total += black_box(predictor.predict(black_box(b), position)).total_ms();
            }
        }
        let ns = started.elapsed().as_nanos() as f64 / (reps * batches.len()) as f64;
        println!(
            "round {round}: {ns:.0} ns per prediction ({mean_batch:.0} requests per batch on average; checksum {total:.3})"
        );
    }
}
