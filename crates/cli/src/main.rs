//! `llmsim`: runs a simulation from Vidur's command-line flags (or a `--config` JSON file),
//! writes Vidur's output files, and prints a summary table; `llmsim search` runs a capacity
//! search (`search.rs`).

mod args;
mod search;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use llmsim_cli::output;
use llmsim_engine::inputs::check_file_size;
use llmsim_engine::{Inputs, SimConfig, Simulation};

/// [`output::note`] with `format!` arguments: a line on stderr that a closed pipe cannot turn
/// into a panic.
macro_rules! note {
    ($($arg:tt)*) => { output::note(&format!($($arg)*)) };
}

fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == "search") {
        return search::main(argv);
    }
    let (config, memory_budget) = match args::parse(argv) {
        Ok(args::Parsed::Run { config, memory_budget }) => (config, memory_budget),
        Ok(args::Parsed::Done) => return ExitCode::SUCCESS,
        Err(message) => {
            note!("{message}");
            return ExitCode::from(2);
        }
    };

    let mut inputs = Inputs::new();
    for (_, path) in SimConfig::required_files(&config) {
        // The size is checked before reading: a file past the limit is never loaded.
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        match check_file_size(size).and_then(|()| std::fs::read(&path).map_err(|e| e.to_string())) {
            Ok(bytes) => inputs.add_bytes(path, bytes),
            Err(reason) => inputs.add_unreadable(path, reason),
        }
    }
    let sim_config = match SimConfig::build_with_budget(&config, &inputs, memory_budget) {
        Ok(c) => c,
        Err(errors) => {
            note!("llmsim: invalid configuration:");
            for e in &errors.0 {
                note!("  {e}");
            }
            return ExitCode::from(2);
        }
    };
    drop(inputs);

    // The output directory exists from the start: config.json is written first, as in Vidur
    // (also with --no-metrics_config_write_metrics), and request_metrics.csv is streamed into it.
    let prepared = output::create_dir(&sim_config).and_then(|dir| {
        output::remove_stale(&dir)?;
        output::write_config(&dir, &sim_config)?;
        Ok(dir)
    });
    let out_dir = match prepared {
        Ok(dir) => dir,
        Err(e) => {
            note!("llmsim: {e}");
            return ExitCode::from(1);
        }
    };
    let write_metrics = sim_config.metrics.write_metrics;
    let mut rows = match (write_metrics && sim_config.metrics.store_request_metrics)
        .then(|| output::RowWriter::create(&out_dir, sim_config.disagg.is_some()))
    {
        Some(Ok(rows)) => Some(rows),
        Some(Err(e)) => {
            note!("llmsim: {e}");
            return ExitCode::from(1);
        }
        None => None,
    };

    let started = Instant::now();
    let mut sim = Simulation::new(&sim_config);
    if rows.is_some() {
        sim = sim.stream_request_records();
    }
    let mut bar: Option<ProgressBar> = None;
    let mut finished = false;
    while !finished {
        let progress = sim.run_for_events(20_000);
        finished = sim.is_finished();
        if let Some(rows) = &mut rows
            && let Err(e) = rows.write_from(&mut sim)
        {
            note!("llmsim: {e}");
            return ExitCode::from(1);
        }
        if bar.is_none() && started.elapsed() > Duration::from_secs(1) {
            bar = Some(new_bar(progress.requests_expected));
        }
        if let Some(bar) = &bar {
            bar.set_position(progress.requests_done);
            bar.set_message(format!(
                "t = {:.1} s simulated, {} events",
                progress.sim_time_s, progress.events
            ));
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = sim.finish();
    let wall = started.elapsed();

    if write_metrics {
        let written = rows
            .map_or(Ok(()), output::RowWriter::close)
            .and_then(|()| output::write(&out_dir, &sim_config, &report));
        if let Err(e) = written {
            note!("llmsim: {e}");
            return ExitCode::from(1);
        }
    }
    output::emit(&output::summary_table(&sim_config, &report));
    for w in &report.warnings {
        note!("warning: {w}");
    }
    note!("outputs: {}", out_dir.display());
    note!(
        "wall time: {:.3} s ({:.0} events/s)",
        wall.as_secs_f64(),
        report.summary.num_events as f64 / wall.as_secs_f64().max(1e-9)
    );
    ExitCode::SUCCESS
}

fn new_bar(expected: Option<u64>) -> ProgressBar {
    let bar = match expected {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} requests  {msg}")
                .expect("valid template"),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{elapsed_precise} {spinner} {pos} requests  {msg}")
                .expect("valid template"),
        ),
    };
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    bar
}
