//! `llmsim`: runs a simulation from Vidur's command-line flags (or a `--config` JSON file),
//! writes Vidur's output files, and prints a summary table.

mod args;
mod output;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use llmsim_engine::{Inputs, SimConfig, Simulation};

fn main() -> ExitCode {
    let config = match args::parse(std::env::args_os()) {
        Ok(args::Parsed::Run(config)) => config,
        Ok(args::Parsed::Done) => return ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };

    let mut inputs = Inputs::new();
    for (_, path) in SimConfig::required_files(&config) {
        match std::fs::read_to_string(&path) {
            Ok(text) => inputs.add_text(path, text),
            Err(e) => inputs.add_unreadable(path, e.to_string()),
        }
    }
    let sim_config = match SimConfig::build(&config, &inputs) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("llmsim: invalid configuration:");
            for e in &errors.0 {
                eprintln!("  {e}");
            }
            return ExitCode::from(2);
        }
    };
    drop(inputs);

    // The output directory exists from the start: request_metrics.csv is streamed into it.
    let out_dir = if sim_config.metrics.write_metrics {
        match output::create_dir(&sim_config) {
            Ok(dir) => Some(dir),
            Err(e) => {
                eprintln!("llmsim: could not create the output directory: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        None
    };
    let mut rows = match out_dir.as_ref().filter(|_| sim_config.metrics.store_request_metrics).map(|dir| output::RowWriter::create(dir)) {
        Some(Ok(rows)) => Some(rows),
        Some(Err(e)) => {
            eprintln!("llmsim: could not write request_metrics.csv: {e}");
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
            eprintln!("llmsim: could not write request_metrics.csv: {e}");
            return ExitCode::from(1);
        }
        if bar.is_none() && started.elapsed() > Duration::from_secs(1) {
            bar = Some(new_bar(progress.requests_expected));
        }
        if let Some(bar) = &bar {
            bar.set_position(progress.requests_done);
            bar.set_message(format!("t = {:.1} s simulated, {} events", progress.sim_time_s, progress.events));
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = sim.finish();
    let wall = started.elapsed();

    if let Some(dir) = &out_dir {
        let written = rows.map_or(Ok(()), |rows| rows.close()).and_then(|()| output::write(dir, &sim_config, &report));
        if let Err(e) = written {
            eprintln!("llmsim: could not write outputs: {e}");
            return ExitCode::from(1);
        }
    }
    output::emit(&output::summary_table(&sim_config, &report));
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    if let Some(dir) = out_dir {
        eprintln!("outputs: {}", dir.display());
    }
    eprintln!(
        "wall time: {:.3} s ({:.0} events/s)",
        wall.as_secs_f64(),
        report.summary.num_events as f64 / wall.as_secs_f64().max(1e-9)
    );
    ExitCode::SUCCESS
}

fn new_bar(expected: Option<u64>) -> ProgressBar {
    let bar = match expected {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} requests  {msg}").expect("valid template"),
        ),
        None => ProgressBar::new_spinner()
            .with_style(ProgressStyle::with_template("{elapsed_precise} {spinner} {pos} requests  {msg}").expect("valid template")),
    };
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    bar
}
