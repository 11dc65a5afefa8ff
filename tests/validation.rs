//! A thinned validation run against measured serving benchmarks (../shared/validation): 40
//! modellable points spread evenly over the file, simulated as `llmsim-validate --max 40` does,
//! with the per-backend error bounds the model reaches today asserted, so that a change that
//! makes llmsim further off fails. The full run is a documented command (VALIDATION.md).

use llmsim_tests::shared_dir;
use llmsim_validate::summary::GroupStats;
use llmsim_validate::{Options, Outcome, Summary, parse_points, plan, run_plan};

/// Points simulated: every k-th modellable row of the file, chosen by position only.
const THINNED_POINTS: usize = 40;

/// Upper bounds on (median |err|, p90 |err|) of mean TTFT and mean TPOT per backend: the
/// figures of the baseline (VALIDATION.md, thinned run) rounded up a little. The fidelity work
/// (serving-engine models, a client model) tightens them as it lowers the error.
const BOUNDS: &[(&str, [f64; 2], [f64; 2])] = &[
    // backend, TTFT (median, p90), TPOT (median, p90)
    ("trtllm", [0.50, 1.25], [0.45, 0.70]),
    ("vllm", [0.77, 2.00], [0.16, 0.40]),
];

fn within(name: &str, g: &GroupStats, ttft: [f64; 2], tpot: [f64; 2]) -> Vec<String> {
    let mut misses = Vec::new();
    for (metric, stats, [median, p90]) in [("TTFT", g.ttft, ttft), ("TPOT", g.tpot, tpot)] {
        let s = stats.unwrap_or_else(|| panic!("{name}: no {metric} errors"));
        if s.abs_err_median > median || s.abs_err_p90 > p90 {
            misses.push(format!(
                "{name} {metric}: median |err| {:.1} % (bound {:.0} %), p90 {:.1} % (bound {:.0} %)",
                100.0 * s.abs_err_median,
                100.0 * median,
                100.0 * s.abs_err_p90,
                100.0 * p90
            ));
        }
    }
    misses
}

#[test]
fn thinned_validation_run_stays_within_the_baseline_error() {
    let Some(shared) = shared_dir() else { return };
    let path = shared.join("validation/serving_points.csv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = parse_points(&text, &path.display().to_string()).expect("the points file reads");
    let options = Options { max: Some(THINNED_POINTS), ..Options::default() };
    let plan = plan(&file, &options).expect("no filters");
    assert_eq!(plan.num_simulated(), THINNED_POINTS, "the file has enough modellable points");
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let outcomes = run_plan(&file, &plan, jobs, &|| {});
    let simulated = outcomes.iter().filter(|o| matches!(o, Outcome::Simulated(_))).count();
    assert_eq!(simulated, THINNED_POINTS, "every planned point ran to completion");

    let summary =
        Summary::of("serving_points.csv", &file, &plan, &outcomes, vec![], options.max, &options.client);
    print!("{}", llmsim_validate::output::tables_md(&summary));
    let mut misses = Vec::new();
    for &(backend, ttft, tpot) in BOUNDS {
        let g = summary.backend(backend).unwrap_or_else(|| panic!("no {backend} points"));
        assert!(g.n >= 10, "{backend}: only {} points simulated", g.n);
        misses.extend(within(backend, g, ttft, tpot));
    }
    assert!(misses.is_empty(), "further off than the baseline:\n{}", misses.join("\n"));
    // Points of a backend without bounds would go unchecked: every simulated backend has one.
    for g in summary.by_backend.iter().filter(|g| g.n > 0) {
        let name = g.backend.as_deref().unwrap_or("");
        assert!(BOUNDS.iter().any(|(b, ..)| *b == name), "{name} has simulated points but no bounds");
    }
}
