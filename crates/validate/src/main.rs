//! `llmsim-validate`: simulates every point of a measured-benchmark file that llmsim can
//! model and writes `points.csv`, `summary.json` and `tables.md` (VALIDATION.md).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use llmsim_validate::output::{commands_sh, points_csv, tables_md};
use llmsim_validate::{Filter, Options, Overrides, Setting, Summary, parse_points, plan, run_plan};

/// Simulates measured closed-loop serving benchmarks with llmsim and tables the error of mean
/// TTFT and mean TPOT (signed: (simulated − measured) / measured).
#[derive(Parser)]
#[command(name = "llmsim-validate", version, max_term_width = 110)]
struct Args {
    /// Measured points: a CSV with the columns of ../shared/validation/serving_points.csv.
    #[arg(long, value_name = "FILE")]
    points: PathBuf,
    /// Output directory (created): points.csv, summary.json, tables.md, commands.sh.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Keep only rows whose COLUMN equals VALUE. Repeatable: filters on different columns must
    /// all match, several on one column match any of their values.
    #[arg(long = "filter", value_name = "COLUMN=VALUE", value_parser = |s: &str| Filter::parse(s).map_err(|e| e.to_string()))]
    filters: Vec<Filter>,
    /// Run every point (or, with a BACKEND: prefix, every point of that serving engine) with
    /// an llmsim flag set, e.g. `--set vllm:roofline_execution_time_predictor_config_all_reduce_kernel=vllm_custom`.
    /// Repeatable; a later setting of the same flag wins.
    #[arg(long = "set", value_name = "[BACKEND:]FLAG=VALUE", value_parser = |s: &str| Setting::parse(s).map_err(|e| e.to_string()))]
    settings: Vec<Setting>,
    /// Simulate at most N of the modellable points, evenly spread over the file (skipped
    /// points are still reported).
    #[arg(long, value_name = "N")]
    max: Option<usize>,
    /// Simulations run in parallel [default: all cores]. Results do not depend on it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    jobs: Option<u32>,
    /// Measured requests each benchmark client sends (the run sends concurrency × this)
    /// [default: the point's protocol, 10].
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..))]
    requests_per_client: Option<u32>,
    /// Warm-up requests per client, sent and finished before the measured run and left out
    /// of the means [default: the point's protocol: 1 request before 2026-01-21, 2 per
    /// client from then on].
    #[arg(long, value_name = "K")]
    warmup_per_client: Option<u32>,
    /// Prompt and output lengths uniform in [floor(R·L), L] around the point's isl and osl
    /// (1 = exact) [default: the protocol's 0.8].
    #[arg(long, value_name = "R", value_parser = range_ratio)]
    length_range_ratio: Option<f64>,
    /// The same for the rows without a measurement date only (an engine version but no date:
    /// not InferenceX's dated runs; a row repeating a dated row's figures for the same
    /// configuration takes that row's date and client); wins over --length-range-ratio on those
    /// rows [default: 1, exact lengths: AIConfigurator's AIPerf runs, every engine;
    /// --length-range-ratio when given].
    #[arg(long, value_name = "R", value_parser = range_ratio)]
    undated_length_range_ratio: Option<f64>,
    /// Client-side time to first token per request, ms [default: the harness's value].
    #[arg(long, value_name = "MS", value_parser = non_negative)]
    client_ttft_overhead_ms: Option<f64>,
    /// Client-side time to first token per prompt token, µs [default: the harness's value].
    #[arg(long, value_name = "US", value_parser = non_negative)]
    client_ttft_overhead_per_input_token_us: Option<f64>,
    /// Also apply InferenceX's launch recipes of individual models (e.g. TensorRT-LLM's
    /// token budget and batch waiting for Llama-3.1-70B); off, every model runs with its
    /// engine's defaults and InferenceX's engine-wide settings (VALIDATION.md).
    #[arg(long)]
    model_recipes: bool,
}

fn range_ratio(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        // 0 is SGLang bench_serving's default (lengths from 1 token to L), which the command
        // line must be able to spell.
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("'{text}' is not a ratio in [0, 1]")),
    }
}

fn non_negative(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(format!("'{text}' is not a number ≥ 0")),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match validate(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("llmsim-validate: {message}");
            ExitCode::from(2)
        }
    }
}

fn validate(args: &Args) -> Result<(), String> {
    let points_name = args.points.display().to_string();
    let text = std::fs::read_to_string(&args.points).map_err(|e| format!("{points_name}: {e}"))?;
    let file = parse_points(&text, &points_name).map_err(|e| e.to_string())?;
    let client = Overrides {
        requests_per_client: args.requests_per_client,
        warmup_per_client: args.warmup_per_client,
        length_range_ratio: args.length_range_ratio,
        undated_length_range_ratio: args.undated_length_range_ratio,
        ttft_overhead_ms: args.client_ttft_overhead_ms,
        ttft_overhead_per_input_token_us: args.client_ttft_overhead_per_input_token_us,
        model_recipes: args.model_recipes,
    };
    let options =
        Options { client, filters: args.filters.clone(), max: args.max, settings: args.settings.clone() };
    let plan = plan(&file, &options).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;

    let jobs =
        args.jobs.map_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()), |j| j as usize);
    let bar = ProgressBar::new(plan.num_simulated() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} points simulated, {elapsed} (eta {eta})")
            .expect("a valid template"),
    );
    let outcomes = run_plan(&file, &plan, jobs, &|| bar.inc(1));
    bar.finish_and_clear();

    let filters = args.filters.iter().map(Filter::to_string).collect();
    let mut summary = Summary::of(&points_name, &file, &plan, &outcomes, filters, args.max, &client);
    summary.settings = args.settings.iter().map(Setting::to_string).collect();
    let tables = tables_md(&summary);
    let write = |name: &str, contents: &str| {
        let path = args.out.join(name);
        std::fs::write(&path, contents).map_err(|e| format!("{}: {e}", path.display()))
    };
    write("points.csv", &points_csv(&file, &plan, &outcomes))?;
    write("summary.json", &summary.to_json())?;
    write("tables.md", &tables)?;
    write("commands.sh", &commands_sh(&file, &plan))?;
    print!("{tables}");
    println!("\nwrote points.csv, summary.json, tables.md and commands.sh to {}", args.out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::range_ratio;

    #[test]
    fn a_range_ratio_is_a_number_from_0_to_1() {
        assert_eq!(range_ratio("0"), Ok(0.0), "SGLang bench_serving's default");
        assert_eq!(range_ratio("0.8"), Ok(0.8));
        assert_eq!(range_ratio("1"), Ok(1.0));
        for bad in ["-0.1", "1.01", "NaN", "x", ""] {
            assert!(range_ratio(bad).unwrap_err().contains("[0, 1]"), "{bad}");
        }
    }
}
