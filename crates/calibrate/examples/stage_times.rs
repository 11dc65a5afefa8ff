//! Prints the predicted per-op stage times of a 16-sequence decode step and a 512-token prefill
//! for a configuration given as flag/value pairs, e.g.
//! `cargo run --release -p llmsim-calibrate --example stage_times -- replica_config_device h100
//! replica_config_model_name meta-llama/Meta-Llama-3-8B`.

use llmsim_engine::exec::{BatchItem, Op, StagePosition};
use llmsim_engine::{Config, Inputs, SimConfig};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.len().is_multiple_of(2) {
        eprintln!("usage: stage_times [FLAG VALUE]...");
        std::process::exit(2);
    }
    let pairs = args.chunks(2).map(|c| (c[0].as_str(), c[1].as_str()));
    let config = Config::from_pairs(pairs).unwrap_or_else(|e| panic!("{e}"));
    let sim = SimConfig::build(&config, &Inputs::new()).unwrap_or_else(|e| panic!("{e}"));
    let decode: Vec<BatchItem> = (0..16).map(|_| BatchItem::decode(1024, 1)).collect();
    let prefill = vec![BatchItem::prefill(0, 512)];
    let stages = sim.replica.parallel.num_pipeline_stages;
    for (label, batch) in [("16 decodes at 1024", decode), ("prefill of 512", prefill)] {
        for stage in 0..stages {
            let t = sim.predictor.build.predict(&batch, StagePosition { stage, num_stages: stages });
            let ops: Vec<String> = Op::ALL
                .iter()
                .filter(|o| t.get(**o) > 0.0)
                .map(|o| format!("{}={:.3}", o.name(), t.get(*o)))
                .collect();
            println!("{label}, stage {stage}: {:.3} ms = {}", t.total_ms(), ops.join(" "));
        }
    }
}
