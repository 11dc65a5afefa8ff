//! `llmsim-fuzz`: runs a fuzz campaign (see the library's documentation), or replays a
//! finding.
//!
//! ```text
//! llmsim-fuzz [--executions N] [--seed S] [--workers K] [--max-events N] [--hang-secs S]
//!             [--findings DIR] [--shared DIR] [--repo DIR]
//! llmsim-fuzz --replay DIR/case.json
//! ```
//!
//! Prints executions per second, the count, what was accepted, refused and cut, and each
//! unique finding; exits with 1 when there is a finding.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use llmsim_fuzz::campaign::{self, Options, Totals};
use llmsim_fuzz::{Case, ExecLimits, Seeds, Verdict, execute};

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("llmsim-fuzz: {message}");
            ExitCode::from(2)
        }
    }
}

/// The value after flag `name`, parsed.
fn value<T: std::str::FromStr>(args: &[String], name: &str) -> Result<Option<T>, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) => {
            let text = args.get(i + 1).ok_or_else(|| format!("{name} needs a value"))?;
            text.parse().map(Some).map_err(|_| format!("{name} {text}: not a valid value"))
        }
    }
}

fn run(args: Vec<String>) -> Result<ExitCode, String> {
    const KNOWN: &[&str] = &[
        "--executions",
        "--seed",
        "--workers",
        "--max-events",
        "--hang-secs",
        "--findings",
        "--shared",
        "--repo",
        "--replay",
        "--child",
        "--start",
        "--stride",
        "--help",
    ];
    if let Some(unknown) = args.iter().find(|a| a.starts_with("--") && !KNOWN.contains(&a.as_str())) {
        return Err(format!("unknown flag {unknown} (see --help)"));
    }
    if args.iter().any(|a| a == "--help") {
        println!(
            "{}",
            include_str!("main.rs")
                .lines()
                .skip(3)
                .take(5)
                .map(|l| l.trim_start_matches("//! "))
                .collect::<Vec<_>>()
                .join("\n")
        );
        return Ok(ExitCode::SUCCESS);
    }
    let repo: PathBuf =
        value(&args, "--repo")?.unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."));
    let shared: PathBuf = value(&args, "--shared")?.unwrap_or_else(|| repo.join("../shared"));
    let shared = shared.join("README.md").is_file().then_some(shared);
    let limits = ExecLimits {
        max_events: value(&args, "--max-events")?.unwrap_or(ExecLimits::default().max_events),
        ..ExecLimits::default()
    };
    let seeds = Seeds::load(&repo, shared.as_deref());
    let seed: u64 = value(&args, "--seed")?.unwrap_or(1);
    let executions: u64 = value(&args, "--executions")?.unwrap_or(100_000);

    if let Some(path) = value::<PathBuf>(&args, "--replay")? {
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let json = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let case = Case::from_json(&json)?;
        let verdict = execute(&case, &limits);
        println!("{verdict:?}");
        return Ok(if matches!(verdict, Verdict::Finding(_)) {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    if args.iter().any(|a| a == "--child") {
        let start: u64 = value(&args, "--start")?.unwrap_or(0);
        let stride: u64 = value(&args, "--stride")?.unwrap_or(1).max(1);
        let stdout = std::io::stdout();
        campaign::run_child(&seeds, seed, start, stride, executions, &limits, &mut stdout.lock());
        return Ok(ExitCode::SUCCESS);
    }

    let workers: u64 = value(&args, "--workers")?
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u64));
    let options = Options {
        seed,
        executions,
        workers,
        hang_secs: value(&args, "--hang-secs")?.unwrap_or(60),
        findings_dir: value(&args, "--findings")?.unwrap_or_else(|| repo.join("target/fuzz-findings")),
        limits,
        repo: repo.clone(),
        shared: shared.clone(),
        child_args: vec![
            "--max-events".into(),
            limits.max_events.to_string(),
            "--repo".into(),
            repo.display().to_string(),
            "--shared".into(),
            shared.as_ref().map_or_else(|| "/nonexistent".to_string(), |s| s.display().to_string()),
        ],
    };
    println!(
        "llmsim-fuzz: seed {seed}, {executions} executions, {workers} workers, at most {} events a run; seeds: {} traces, {} arrival files, {} models, {} profile tables, {} scenarios{}",
        limits.max_events,
        seeds.traces.len(),
        seeds.arrivals.len(),
        seeds.models.len(),
        seeds.profiles.len(),
        seeds.scenarios.len(),
        if shared.is_none() { " (../shared not found: its traces are not seeds)" } else { "" }
    );
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let started = std::time::Instant::now();
    let mut last_line = Duration::ZERO;
    let totals = campaign::run(&options, &exe, &mut |t, elapsed| {
        if elapsed - last_line >= Duration::from_secs(30) {
            last_line = elapsed;
            println!(
                "  {:>10} executions, {:>7.0}/s, {} findings",
                t.executions,
                t.executions as f64 / elapsed.as_secs_f64(),
                t.findings.len()
            );
        }
    });
    report(&totals, started.elapsed(), &options, &seeds)
}

fn report(totals: &Totals, wall: Duration, options: &Options, seeds: &Seeds) -> Result<ExitCode, String> {
    println!(
        "wall time {:.1} s: {:.0} executions/s",
        wall.as_secs_f64(),
        totals.executions as f64 / wall.as_secs_f64().max(1e-9)
    );
    let by_target: Vec<String> = totals.by_target.iter().map(|(t, n)| format!("{t} {n}")).collect();
    println!(
        "executions: {} ({}); accepted {}, refused {}, runs cut at the event budget {}, events simulated {}",
        totals.executions,
        by_target.join(", "),
        totals.accepted,
        totals.refused,
        totals.cut,
        totals.events
    );
    if totals.findings.is_empty() {
        println!("unique findings: 0");
        return Ok(ExitCode::SUCCESS);
    }
    println!("unique findings: {}", totals.findings.len());
    for (index, finding) in totals.findings.values() {
        println!("  execution {index}: {}: {}", finding.kind, finding.message);
    }
    let dirs =
        campaign::write_findings(totals, seeds, options).map_err(|e| format!("writing findings: {e}"))?;
    println!("minimal inputs: {}", options.findings_dir.display());
    for d in dirs {
        println!("  {}", d.display());
    }
    Ok(ExitCode::from(1))
}
