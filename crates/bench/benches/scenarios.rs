//! Criterion benches of whole simulations at the quick scale (`cargo bench -p llmsim-bench`):
//! each iteration builds a `Simulation` from a prepared configuration, runs it and builds the
//! report; throughput is in requests. The full-size scenarios are measured by `llmsim-bench`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use llmsim_bench::{SCENARIO_NAMES, Scale, default_shared_dir, scenario};
use llmsim_engine::{Inputs, SimConfig, Simulation};

fn scenarios(c: &mut Criterion) {
    let shared = default_shared_dir().to_string_lossy().to_string();
    let mut group = c.benchmark_group("quick");
    group.sample_size(10);
    for name in SCENARIO_NAMES {
        let s = scenario(name, Scale::Quick, &shared).expect("known scenario");
        let mut inputs = Inputs::new();
        let mut readable = true;
        for path in s.files() {
            match std::fs::read_to_string(&path) {
                Ok(text) => inputs.add_text(path, text),
                Err(_) => readable = false,
            }
        }
        if !readable {
            eprintln!("SKIPPED {name}: its trace is not under {shared}");
            continue;
        }
        let config = SimConfig::build(&s.config(), &inputs).expect("valid scenario");
        drop(inputs);
        let requests = Simulation::new(&config).run_to_report().summary.num_requests;
        group.throughput(Throughput::Elements(requests));
        group
            .bench_function(name, |b| b.iter(|| Simulation::new(&config).run_to_report().summary.num_events));
    }
    group.finish();
}

criterion_group!(benches, scenarios);
criterion_main!(benches);
