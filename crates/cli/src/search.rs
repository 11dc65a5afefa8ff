//! `llmsim search --config SEARCH.json [--output_dir D] [--jobs N]`: the engine's capacity
//! search (`llmsim_engine::search`) run on N threads. The engine's plan decides every
//! simulation; this file only reads the files, runs jobs on threads, writes the CSVs (points as
//! they finish, so an interrupted search keeps them) and reuses the points of an earlier run of
//! the same search in the same directory.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;

use clap::{Arg, Command};
use indicatif::{ProgressBar, ProgressStyle};
use llmsim_engine::search::{
    Job, JobId, JobOutcome, SearchGoal, SearchPlan, SearchSpec, Verdict, pareto_csv, parse_points_csv,
    points_csv_header, points_csv_row, search_csv,
};
use llmsim_engine::{Inputs, SimConfig, find_flag, parse_trace};
use sha2::{Digest, Sha256};

use crate::output::{emit, note};

/// Set by the first Ctrl-C: no new simulation starts and running ones give up.
static STOP: AtomicBool = AtomicBool::new(false);

fn command() -> Command {
    Command::new("llmsim search")
        .about("Capacity planning: for every configuration of a space, the highest QPS that meets latency SLOs, the fewest replicas for a QPS, or the cheapest configuration (docs/search.md).")
        .arg(Arg::new("config").long("config").value_name("SEARCH.json").required(true).help("The search spec: {\"base\": {flag: value}, \"space\": {flag: [values]}, \"slos\": [{\"metric\", \"quantile\", \"max_s\"}], \"slo_combine\", \"goal\": \"max_qps\" | \"min_replicas\" | \"min_cost\", \"qps\", \"qps_granularity\", \"num_requests\", ...}"))
        .arg(Arg::new("output_dir").long("output_dir").value_name("DIR").default_value("search_output").help("Where search.csv, pareto.csv and points.csv go; points of an earlier run of the same search there are reused"))
        .arg(Arg::new("jobs").long("jobs").value_name("N").value_parser(clap::value_parser!(u32).range(1..=4096)).help("Simulations run at once [default: the number of CPU cores]"))
}

/// Runs the subcommand; `args` start with the program name, then `search`.
pub fn main(args: Vec<OsString>) -> ExitCode {
    let args = std::iter::once(OsString::from("llmsim search")).chain(args.into_iter().skip(2));
    let matches = match command().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                emit(&e.to_string());
                return ExitCode::SUCCESS;
            }
            note(e.render().to_string().trim_end());
            return ExitCode::from(2);
        }
    };
    let spec_path = matches.get_one::<String>("config").expect("required");
    let out_dir = PathBuf::from(matches.get_one::<String>("output_dir").expect("has a default"));
    let jobs = matches
        .get_one::<u32>("jobs")
        .map_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()), |n| *n as usize);

    let text = match std::fs::read_to_string(spec_path) {
        Ok(t) => t,
        Err(e) => {
            note(&format!("llmsim search: cannot read --config {spec_path}: {e}"));
            return ExitCode::from(2);
        }
    };
    let spec = match SearchSpec::from_json_str(&text) {
        Ok(s) => s,
        Err(errors) => {
            note(&format!("llmsim search: invalid search spec {spec_path}:"));
            for e in &errors.0 {
                note(&format!("  {e}"));
            }
            return ExitCode::from(2);
        }
    };
    let (inputs, files) = read_inputs(&spec);
    let hash = spec_hash(&spec, &files);
    match run(spec, &inputs, &out_dir, jobs, &hash) {
        Ok(code) => code,
        Err(e) => {
            note(&format!("llmsim search: {e}"));
            ExitCode::from(1)
        }
    }
}

/// Every input file any configuration reads, traces parsed once for all jobs; with each
/// path's contents, for the spec's hash.
fn read_inputs(spec: &SearchSpec) -> (Inputs, BTreeMap<String, Vec<u8>>) {
    let mut inputs = Inputs::new();
    let mut files = BTreeMap::new();
    for c in 0..spec.num_configurations() {
        for (flag, path) in SimConfig::required_files(&spec.point_config(c)) {
            if files.contains_key(&path) {
                continue;
            }
            match std::fs::read(&path) {
                Ok(bytes) => {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    let is_trace = find_flag(flag).is_some_and(|f| f.is_trace_file());
                    match is_trace.then(|| parse_trace(&path, &text, &mut |_| {})) {
                        Some(Ok(trace)) => inputs.add_trace(path.clone(), Arc::new(trace)),
                        // A malformed file: each job's validation names the row and column.
                        _ => inputs.add_text(path.clone(), text),
                    }
                    files.insert(path, bytes);
                }
                Err(e) => {
                    inputs.add_unreadable(path.clone(), e.to_string());
                    files.insert(path, Vec::new());
                }
            }
        }
    }
    (inputs, files)
}

/// Identifies a search's points: its canonical spec, the simulator's version and the input
/// files' contents. An earlier `points.csv` row is reused only under the same hash.
fn spec_hash(spec: &SearchSpec, files: &BTreeMap<String, Vec<u8>>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(spec.canonical_json().as_bytes());
    hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
    for (path, bytes) in files {
        hasher.update(path.as_bytes());
        hasher.update(Sha256::digest(bytes));
    }
    hasher.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// `points.csv`, appended row by row (flushed, so an interrupted search keeps them).
struct PointsFile {
    path: PathBuf,
    file: std::fs::File,
    rows: Vec<(JobId, String)>,
}

impl PointsFile {
    fn create(dir: &Path, header: &str) -> Result<PointsFile, String> {
        let path = dir.join("points.csv");
        let mut file =
            std::fs::File::create(&path).map_err(|e| format!("could not write {}: {e}", path.display()))?;
        file.write_all(header.as_bytes()).map_err(|e| format!("could not write {}: {e}", path.display()))?;
        Ok(PointsFile { path, file, rows: Vec::new() })
    }

    fn append(&mut self, id: JobId, row: String) -> Result<(), String> {
        self.file
            .write_all(row.as_bytes())
            .map_err(|e| format!("could not write {}: {e}", self.path.display()))?;
        self.rows.push((id, row));
        Ok(())
    }

    /// Rewrites the file in job order (completion order depends on the threads).
    fn sort(mut self, header: &str) -> Result<(), String> {
        self.rows.sort_by_key(|(id, _)| *id);
        let mut text = header.to_string();
        for (_, row) in &self.rows {
            text.push_str(row);
        }
        std::fs::write(&self.path, text).map_err(|e| format!("could not write {}: {e}", self.path.display()))
    }
}

fn write(dir: &Path, name: &str, text: &str) -> Result<(), String> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| format!("could not write {}: {e}", path.display()))
}

fn run(spec: SearchSpec, inputs: &Inputs, dir: &Path, jobs: usize, hash: &str) -> Result<ExitCode, String> {
    if let Some(file) =
        dir.ancestors().find(|p| !p.as_os_str().is_empty() && std::fs::metadata(p).is_ok_and(|m| !m.is_dir()))
    {
        return Err(format!("--output_dir {}: {} is a file, not a directory", dir.display(), file.display()));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("--output_dir: could not create {}: {e}", dir.display()))?;
    let mut cache = std::fs::read_to_string(dir.join("points.csv"))
        .map_or_else(|_| BTreeMap::new(), |t| parse_points_csv(&t, &spec, hash));
    for stale in ["search.csv", "pareto.csv"] {
        let _ = std::fs::remove_file(dir.join(stale));
    }
    let header = points_csv_header(&spec);
    let mut points = PointsFile::create(dir, &header)?;
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });

    let started = Instant::now();
    let total = spec.num_configurations();
    note(&format!(
        "llmsim search: {total} configurations, goal {}, {} requests per point, {jobs} threads{}",
        spec.goal.name(),
        spec.num_requests,
        if cache.is_empty() { String::new() } else { format!(", {} earlier points to reuse", cache.len()) }
    ));
    let mut plan = SearchPlan::new(spec);
    let bar = ProgressBar::new(total as u64).with_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} configurations  {msg}")
            .expect("valid template"),
    );
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    let (mut ran, mut reused) = (0u64, 0u64);

    let (job_tx, job_rx) = mpsc::channel::<Job>();
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (result_tx, result_rx) = mpsc::channel::<(Job, Option<JobOutcome>)>();
    let outcome: Result<(), String> = std::thread::scope(|scope| {
        for _ in 0..jobs {
            let job_rx = Arc::clone(&job_rx);
            let result_tx = result_tx.clone();
            scope.spawn(move || {
                loop {
                    let next = job_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok(job)) = next else { break };
                    let outcome =
                        llmsim_engine::search::run_job(&job, inputs, &mut |_| STOP.load(Ordering::Relaxed));
                    if result_tx.send((job, outcome)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(result_tx);
        let mut in_flight = 0usize;
        let mut drive = || -> Result<(), String> {
            loop {
                // Issue what the plan allows, answering from earlier points where they exist.
                while !STOP.load(Ordering::Relaxed) && in_flight < jobs {
                    let issued = plan.next_jobs(jobs - in_flight);
                    if issued.is_empty() {
                        break;
                    }
                    for job in issued {
                        match cache.remove(&job.id) {
                            Some((qps, replicas, outcome))
                                if qps == job.qps && replicas == job.num_replicas =>
                            {
                                points.append(job.id, points_csv_row(plan.spec(), &job, &outcome, hash))?;
                                plan.on_result(job.id, outcome).map_err(|e| e.to_string())?;
                                reused += 1;
                            }
                            _ => {
                                job_tx.send(job).map_err(|_| "the simulation threads stopped".to_string())?;
                                in_flight += 1;
                            }
                        }
                    }
                }
                let (done, _) = plan.progress();
                bar.set_position(done as u64);
                bar.set_message(format!("{ran} simulations run, {reused} reused, {in_flight} running"));
                if in_flight == 0 {
                    return Ok(());
                }
                let Ok((job, outcome)) = result_rx.recv() else {
                    return Err("the simulation threads stopped".to_string());
                };
                in_flight -= 1;
                if let Some(outcome) = outcome {
                    points.append(job.id, points_csv_row(plan.spec(), &job, &outcome, hash))?;
                    plan.on_result(job.id, outcome).map_err(|e| e.to_string())?;
                    ran += 1;
                }
            }
        };
        let result = drive();
        if result.is_err() {
            // Running simulations give up; the threads end once the queue closes.
            STOP.store(true, Ordering::SeqCst);
        }
        drop(job_tx);
        result
    });
    bar.finish_and_clear();
    outcome?;
    let interrupted = STOP.load(Ordering::Relaxed) && !plan.is_done();
    write(dir, "search.csv", &search_csv(&plan))?;
    write(dir, "pareto.csv", &pareto_csv(&plan))?;
    if !interrupted {
        points.sort(&header)?;
    }
    emit(&summary(&plan));
    note(&format!(
        "outputs: {} (search.csv, pareto.csv, points.csv)\nwall time: {:.1} s for {ran} simulations ({reused} reused from an earlier run)",
        dir.display(),
        started.elapsed().as_secs_f64()
    ));
    if interrupted {
        let (done, total) = plan.progress();
        note(&format!(
            "interrupted: {done} of {total} configurations finished; run the same command again to go on from the {} points written",
            ran + reused
        ));
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::SUCCESS)
}

/// The end-of-search table: the finished configurations, best first.
fn summary(plan: &SearchPlan) -> String {
    use std::fmt::Write as _;
    let spec = plan.spec();
    let results = plan.results();
    let feasible = results.iter().filter(|r| r.feasible()).count();
    let skipped = results.iter().filter(|r| matches!(r.verdict, Verdict::Skipped(_))).count();
    let mut out = format!(
        "{} configurations: {feasible} meet the objectives, {} do not, {skipped} skipped (see search.csv's skipped_reason)\n",
        results.len(),
        results.len() - feasible - skipped
    );
    let mut ranked: Vec<_> = results.iter().filter(|r| r.feasible() && r.chosen.is_some()).collect();
    let cost = |r: &&&llmsim_engine::search::ConfigurationResult| {
        let p = r.chosen.as_ref().expect("filtered");
        match spec.goal {
            SearchGoal::MaxQps => -p.outcome.usd_per_hour.map_or(p.qps, |usd| p.qps / usd.max(1e-12)),
            _ => p.outcome.usd_per_hour.unwrap_or(p.outcome.num_gpus as f64),
        }
    };
    ranked.sort_by(|a, b| cost(a).total_cmp(&cost(b)).then(a.configuration.cmp(&b.configuration)));
    let _ = writeln!(
        out,
        "  {:<52} {:>10} {:>8} {:>5} {:>10} {:>10}",
        "configuration",
        if spec.goal == SearchGoal::MaxQps { "max QPS" } else { "QPS" },
        "replicas",
        "GPUs",
        "$/hour",
        "QPS per $"
    );
    for r in ranked.iter().take(15) {
        let p = r.chosen.as_ref().expect("filtered");
        let values: Vec<String> = spec
            .configuration(r.configuration as usize)
            .iter()
            .map(|(flag, v)| format!("{}={v}", short(flag)))
            .collect();
        let qps = if spec.goal == SearchGoal::MaxQps { p.qps } else { spec.qps };
        // As search.csv: a disaggregated configuration's pools, `prefill+decode`.
        let replicas = match spec.pool_sizes(r.configuration as usize, p.num_replicas) {
            (prefill, Some(decode)) => format!("{prefill}+{decode}"),
            (replicas, None) => replicas.to_string(),
        };
        let usd = p.outcome.usd_per_hour;
        let _ = writeln!(
            out,
            "  {:<52} {:>10.3} {:>8} {:>5} {:>10} {:>10}",
            if values.is_empty() { "(base)".to_string() } else { values.join(" ") },
            qps,
            replicas,
            p.outcome.num_gpus,
            usd.map_or_else(|| "-".to_string(), |u| format!("{u:.2}")),
            usd.filter(|u| *u > 0.0).map_or_else(|| "-".to_string(), |u| format!("{:.3}", qps / u))
        );
    }
    if ranked.len() > 15 {
        let _ = writeln!(out, "  ... {} more in search.csv", ranked.len() - 15);
    }
    out
}

/// A flag's last words, for the table (`replica_config_tensor_parallel_size` →
/// `tensor_parallel_size`).
fn short(flag: &str) -> &str {
    flag.rsplit_once("_config_").map_or(flag, |(_, rest)| rest)
}
