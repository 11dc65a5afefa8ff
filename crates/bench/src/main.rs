//! `llmsim-bench`: runs the benchmark scenarios natively (each in its own process, so peak
//! memory is per scenario) and, with `--wasm`, in wasm under Node.js, and prints one table.
//!
//! `cargo run --release -p llmsim-bench -- [--quick] [--repeat N] [--scenario NAME]... [--wasm]`

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use clap::{Arg, ArgAction};
use llmsim_bench::{
    Host, JobCost, Measurement, SCENARIO_NAMES, Scale, default_shared_dir, measure, measure_job_cost, median,
    scenario, search_job_flags,
};
use peak_alloc::PeakAlloc;

#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

/// The native host: a monotonic clock and the counting allocator.
struct NativeHost {
    origin: Instant,
}

impl Host for NativeHost {
    fn now_s(&self) -> f64 {
        self.origin.elapsed().as_secs_f64()
    }
    fn cpu_s(&self) -> Option<f64> {
        cpu_time::ProcessTime::try_now().ok().map(|t| t.as_duration().as_secs_f64())
    }
    fn allocator(&self) -> &'static PeakAlloc {
        &ALLOCATOR
    }
}

fn command() -> clap::Command {
    clap::Command::new("llmsim-bench")
        .about("Runs llmsim's benchmark scenarios natively (and in wasm with --wasm) and prints wall time, requests/s, events/s, peak memory and bytes per request.")
        .arg(Arg::new("scenario").long("scenario").action(ArgAction::Append).value_parser(SCENARIO_NAMES).help("Run only this scenario (repeatable); default: all"))
        .arg(Arg::new("quick").long("quick").action(ArgAction::SetTrue).help("A few thousand requests per scenario instead of the full sizes"))
        .arg(Arg::new("repeat").long("repeat").value_parser(clap::value_parser!(u32).range(1..)).default_value("3").help("Runs per scenario; the median wall time is reported"))
        .arg(Arg::new("wasm").long("wasm").action(ArgAction::SetTrue).help("Also run every scenario in wasm under Node.js (build it first: see BENCHMARKS.md)"))
        .arg(Arg::new("no-native").long("no-native").action(ArgAction::SetTrue).help("Skip the native runs (with --wasm)"))
        .arg(Arg::new("wasm-dir").long("wasm-dir").default_value("target/bench-wasm").help("Where wasm-bindgen wrote llmsim_bench_wasm.js"))
        .arg(Arg::new("shared").long("shared").help("The reference directory with traces/ [default: $LLMSIM_SHARED_DIR or ../shared]"))
        .arg(Arg::new("job-cost").long("job-cost").action(ArgAction::SetTrue).help("Instead of the scenarios: the fixed cost of one capacity-search simulation (configuration, setup, summary) against its run time, over --jobs simulations of --job-requests requests"))
        .arg(Arg::new("jobs").long("jobs").value_parser(clap::value_parser!(u32).range(1..)).default_value("20").help("Simulations for --job-cost (the median of each phase is reported)"))
        .arg(Arg::new("job-requests").long("job-requests").value_parser(clap::value_parser!(u32).range(1..)).default_value("2000").help("Requests per simulation for --job-cost"))
        .arg(Arg::new("job-qps").long("job-qps").value_parser(clap::value_parser!(f64)).default_value("4").help("Arrival rate for --job-cost"))
        .arg(Arg::new("child").long("child").hide(true).help("Measure one scenario in this process and print it as JSON"))
}

fn main() {
    let matches = command().get_matches();
    let scale = if matches.get_flag("quick") { Scale::Quick } else { Scale::Full };
    let repeat = *matches.get_one::<u32>("repeat").expect("defaulted");
    let shared = matches.get_one::<String>("shared").map(PathBuf::from).unwrap_or_else(default_shared_dir);
    let shared_str = shared.to_string_lossy().to_string();

    if matches.get_flag("job-cost") {
        job_cost(&matches);
        return;
    }

    if let Some(name) = matches.get_one::<String>("child") {
        let s = scenario(name, scale, &shared_str).expect("known scenario");
        let files = s
            .files()
            .into_iter()
            .map(|p| std::fs::read_to_string(&p).map(|t| (p.clone(), t)).map_err(|e| format!("{p}: {e}")));
        let files: Vec<(String, String)> = match files.collect() {
            Ok(f) => f,
            Err(e) => {
                eprintln!("llmsim-bench: {e}");
                std::process::exit(3);
            }
        };
        let host = NativeHost { origin: Instant::now() };
        match measure(&s, files, repeat, "native", &host) {
            Ok(mut m) => {
                m.process_peak_bytes = peak_rss_bytes().unwrap_or(0);
                println!("{}", serde_json::to_string(&m).expect("serialises"));
            }
            Err(e) => {
                eprintln!("llmsim-bench: {e}");
                std::process::exit(3);
            }
        }
        return;
    }

    let names: Vec<String> = match matches.get_many::<String>("scenario") {
        Some(v) => v.cloned().collect(),
        None => SCENARIO_NAMES.iter().map(|s| s.to_string()).collect(),
    };
    let wasm_dir = PathBuf::from(matches.get_one::<String>("wasm-dir").expect("defaulted"));
    let run_wasm = matches.get_flag("wasm");
    if run_wasm && !wasm_dir.join("llmsim_bench_wasm.js").is_file() {
        eprintln!(
            "llmsim-bench: {} has no llmsim_bench_wasm.js; build it first (BENCHMARKS.md, \"wasm\")",
            wasm_dir.display()
        );
        std::process::exit(2);
    }
    let scale_arg = if scale == Scale::Quick { "quick" } else { "full" };
    println!("{}", machine_line());
    println!(
        "scale {scale_arg}, {repeat} runs per scenario (median wall time), shared dir {}\n",
        shared.display()
    );
    let mut results: Vec<Measurement> = Vec::new();
    for name in &names {
        let s = scenario(name, scale, &shared_str).expect("validated by clap");
        if let Some(missing) = s.files().iter().find(|f| !Path::new(f).is_file()) {
            eprintln!("SKIPPED {name}: {missing} not found");
            continue;
        }
        eprintln!("{name}: {}", s.summary);
        if !matches.get_flag("no-native") {
            let exe = std::env::current_exe().expect("own path");
            let mut cmd = Command::new(exe);
            cmd.args(["--child", name, "--repeat", &repeat.to_string(), "--shared", &shared_str]);
            if scale == Scale::Quick {
                cmd.arg("--quick");
            }
            if let Some(m) = run_child(&mut cmd, name, "native") {
                results.push(m);
            }
        }
        if run_wasm {
            let mut cmd = Command::new("node");
            cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench-wasm/run.mjs"));
            cmd.args([
                "--pkg",
                &wasm_dir.to_string_lossy(),
                "--scenario",
                name,
                "--scale",
                scale_arg,
                "--repeat",
                &repeat.to_string(),
                "--shared",
                &shared_str,
            ]);
            if let Some(m) = run_child(&mut cmd, name, "wasm") {
                results.push(m);
            }
        }
    }
    println!("{}", table(&results));
    if run_wasm {
        println!("{}", comparison(&results));
    }
}

/// `--job-cost`: parses the shipped conversation trace once (as every search executor does),
/// then runs `--jobs` search simulations and prints the median of each phase.
fn job_cost(matches: &clap::ArgMatches) {
    let jobs = *matches.get_one::<u32>("jobs").expect("defaulted");
    let requests = *matches.get_one::<u32>("job-requests").expect("defaulted");
    let qps = *matches.get_one::<f64>("job-qps").expect("defaulted");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/traces/conversation_synth.csv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        eprintln!("llmsim-bench: {}: {e}", path.display());
        std::process::exit(3);
    });
    let host = NativeHost { origin: Instant::now() };
    let name = "data/traces/conversation_synth.csv";
    let started = host.now_s();
    let trace = llmsim_engine::parse_trace(name, &text, &mut |_| {}).expect("the shipped trace parses");
    let parse_s = host.now_s() - started;
    let mut inputs = llmsim_engine::Inputs::new();
    inputs.add_trace(name, std::sync::Arc::new(trace));
    let flags = search_job_flags(name, requests, qps);
    let costs: Vec<JobCost> = (0..jobs)
        .map(|_| {
            measure_job_cost(&flags, &inputs, &host).unwrap_or_else(|e| {
                eprintln!("llmsim-bench: {e}");
                std::process::exit(3);
            })
        })
        .collect();
    let med = |f: fn(&JobCost) -> f64| median(&costs.iter().map(f).collect::<Vec<_>>()) * 1e3;
    println!("{}", machine_line());
    println!(
        "{jobs} search simulations of {requests} requests at {qps} QPS (Llama-3-8B, 2 × H100, conversation_synth lengths, vllm_v1, prefix caching, SLOs, no outputs); {} events each; trace parsed once in {:.2} ms\n",
        costs[0].events,
        parse_s * 1e3
    );
    println!("| phase | median ms | first job ms |\n|---|---:|---:|");
    let first = costs[0];
    for (phase, f) in [
        ("Config::from_pairs", (|c: &JobCost| c.config_s) as fn(&JobCost) -> f64),
        ("SimConfig::build", |c| c.build_s),
        ("Simulation::new", |c| c.new_s),
        ("finish + outcome", |c| c.finish_s),
        ("fixed (the four above)", JobCost::fixed_s),
        ("run (events)", |c| c.run_s),
    ] {
        println!("| {phase} | {:.3} | {:.3} |", med(f), f(&first) * 1e3);
    }
    let fixed_share = median(&costs.iter().map(|c| c.fixed_s() / c.run_s.max(1e-12)).collect::<Vec<_>>());
    println!("\nfixed ÷ run: {:.2} % (median over the simulations)", fixed_share * 100.0);
}

/// Runs a measuring child process and parses the JSON line it prints.
fn run_child(cmd: &mut Command, name: &str, platform: &str) -> Option<Measurement> {
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) => {
            eprintln!("  {platform}: could not start {:?}: {e}", cmd.get_program());
            return None;
        }
    };
    if !out.status.success() {
        eprintln!("  {platform}: {name} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().rev().find(|l| l.starts_with('{'))?;
    match serde_json::from_str::<Measurement>(line) {
        Ok(m) => {
            let rounded = |v: &[f64]| v.iter().map(|w| (w * 1e3).round() / 1e3).collect::<Vec<_>>();
            eprintln!(
                "  {platform}: wall {:.3} s median of {:?}; CPU {:?}",
                m.median_wall_s(),
                rounded(&m.wall_s),
                rounded(&m.cpu_s)
            );
            Some(m)
        }
        Err(e) => {
            eprintln!("  {platform}: unreadable result ({e}): {line}");
            None
        }
    }
}

/// The process's peak resident set (Linux `VmHWM`).
fn peak_rss_bytes() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU model, cores and commit, for the record.
fn machine_line() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .is_some_and(|o| !o.stdout.is_empty());
    format!("machine: {cpu}, {cores} cores; commit {commit}{}", if dirty { " (modified)" } else { "" })
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1e6
}

/// The results as a Markdown table.
fn table(results: &[Measurement]) -> String {
    let mut out = String::from(
        "| scenario | platform | requests | events | setup s | wall s | CPU s | req/s | events/s | peak heap MB | B/request | peak RSS / linear memory MB |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for m in results {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.3} | {:.3} | {} | {:.0} | {:.0} | {:.1} | {:.0} | {:.1} |\n",
            m.scenario,
            m.platform,
            m.requests,
            m.events,
            m.setup_s,
            m.median_wall_s(),
            m.median_cpu_s().map_or("-".to_string(), |c| format!("{c:.3}")),
            m.requests_per_s(),
            m.events_per_s(),
            mb(m.heap_peak_run),
            m.bytes_per_request(),
            mb(m.process_peak_bytes)
        ));
    }
    out
}

/// wasm ÷ native wall time per scenario.
fn comparison(results: &[Measurement]) -> String {
    let mut out =
        String::from("| scenario | native wall s | wasm wall s | wasm ÷ native |\n|---|---:|---:|---:|\n");
    for native in results.iter().filter(|m| m.platform == "native") {
        if let Some(wasm) = results.iter().find(|m| m.platform == "wasm" && m.scenario == native.scenario) {
            out.push_str(&format!(
                "| {} | {:.3} | {:.3} | {:.2} |\n",
                native.scenario,
                native.median_wall_s(),
                wasm.median_wall_s(),
                wasm.median_wall_s() / native.median_wall_s().max(1e-12)
            ));
        }
    }
    out
}
