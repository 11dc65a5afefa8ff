//! `llmsim-validate`: simulates measured closed-loop serving benchmarks with llmsim and says
//! how far off it is.
//!
//! A points file ([`points`]) holds one measured benchmark per row. Each row becomes an llmsim
//! configuration ([`mapping::point_config`]) or a reason it cannot be modelled yet
//! ([`skip::SkipReason`]); the engine validates it ([`simulate::build`]), runs it and the
//! benchmark client's means are taken ([`simulate::run`]). Errors are signed fractions of the
//! measurement ([`stats`]), summarised per group and backend ([`summary`]) and written as
//! `points.csv`, `summary.json` and `tables.md` ([`output`]).

pub mod client;
pub mod deployment;
pub mod mapping;
pub mod output;
pub mod points;
pub mod select;
pub mod settings;
pub mod simulate;
pub mod skip;
pub mod stats;
pub mod summary;

use rayon::prelude::*;

pub use client::{Client, Overrides, Warmup};
pub use mapping::{PointConfig, point_config};
pub use points::{InputError, Instance, Mode, PointsFile, ServingPoint, parse_points};
pub use select::{Filter, FilterError};
pub use settings::{Setting, SettingError};
pub use skip::SkipReason;
pub use summary::Summary;

/// Which points to simulate, and how the benchmark client behaves.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    /// What the command line changes about the benchmark clients.
    pub client: Overrides,
    /// `--filter column=value`.
    pub filters: Vec<Filter>,
    /// `--max N`: simulate at most N of the modellable points, an even spread of them.
    pub max: Option<usize>,
    /// `--set [backend:]flag=value`, in the order given (a later one wins).
    pub settings: Vec<Setting>,
}

/// A row to report: simulated (with its configuration) or skipped.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedRow {
    /// Index of the row in [`PointsFile::points`].
    pub index: usize,
    /// The configuration the engine accepted, or why the point is skipped.
    pub config: Result<PointConfig, SkipReason>,
}

/// The rows a run reports, in file order.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Filtered rows: every skipped one, and the modellable ones `--max` kept.
    pub rows: Vec<PlannedRow>,
    /// Modellable rows left out by `--max`.
    pub thinned_out: usize,
}

impl Plan {
    /// Rows that will be simulated.
    pub fn num_simulated(&self) -> usize {
        self.rows.iter().filter(|r| r.config.is_ok()).count()
    }
}

/// Maps every filtered row of `file` to a configuration the engine accepts, or a skip reason,
/// and thins the modellable ones to `options.max`.
pub fn plan(file: &PointsFile, options: &Options) -> Result<Plan, FilterError> {
    let mut rows: Vec<PlannedRow> = select::filter_rows(file, &options.filters)?
        .into_iter()
        .map(|index| {
            let point = &file.points[index];
            let config = point_config(point, &options.client).and_then(|mut config| {
                config.settings = options
                    .settings
                    .iter()
                    .filter(|s| s.applies_to(&point.backend))
                    .map(|s| (s.flag.clone(), s.value.clone()))
                    .collect();
                simulate::attention_heads_split(point, &config)
                    .and_then(|()| simulate::build(&config, &point.system, &point.model_path))
                    .and_then(|sim| simulate::decode_kv_read_bound(point, &config, &sim))
                    .map(|_| config)
            });
            PlannedRow { index, config }
        })
        .collect();
    let mut thinned_out = 0;
    if let Some(max) = options.max {
        let modellable: Vec<usize> = rows.iter().filter(|r| r.config.is_ok()).map(|r| r.index).collect();
        let kept = select::spread(&modellable, max);
        thinned_out = modellable.len() - kept.len();
        rows.retain(|r| r.config.is_err() || kept.binary_search(&r.index).is_ok());
    }
    Ok(Plan { rows, thinned_out })
}

/// A simulated point against its measurement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Comparison {
    /// Simulated mean TTFT, ms.
    pub sim_ttft_ms: f64,
    /// Simulated mean TPOT, ms (`None` for single-token outputs).
    pub sim_tpot_ms: Option<f64>,
    /// Simulated median TTFT, ms (shown beside the mean; the errors compare means).
    pub sim_ttft_median_ms: f64,
    /// Simulated median TPOT, ms.
    pub sim_tpot_median_ms: Option<f64>,
    /// (simulated − measured) / measured TTFT.
    pub ttft_err: f64,
    /// (simulated − measured) / measured TPOT.
    pub tpot_err: Option<f64>,
}

/// What became of one row.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Simulated and compared.
    Simulated(Comparison),
    /// Not modelled, and why.
    Skipped(SkipReason),
}

/// Simulates the plan's modellable rows on `jobs` threads (`on_done` is called after each)
/// and returns one outcome per planned row, in the plan's order whatever `jobs` is.
pub fn run_plan(file: &PointsFile, plan: &Plan, jobs: usize, on_done: &(dyn Fn() + Sync)) -> Vec<Outcome> {
    let simulate_row = |row: &PlannedRow| match &row.config {
        Err(reason) => Outcome::Skipped(reason.clone()),
        Ok(config) => {
            // Built again rather than kept in the plan, which stays a plain comparable value:
            // building is well under a millisecond (planning all 4,591 rows of the shared
            // file takes 0.2 s), a simulation tens of milliseconds to seconds.
            let point = &file.points[row.index];
            let outcome = simulate::build(config, &point.system, &point.model_path)
                .and_then(|sim_config| simulate::run(&sim_config, config))
                .map_or_else(Outcome::Skipped, |sim| Outcome::Simulated(compare(point, sim)));
            on_done();
            outcome
        }
    };
    let pool =
        rayon::ThreadPoolBuilder::new().num_threads(jobs.max(1)).build().expect("a thread pool starts");
    pool.install(|| plan.rows.par_iter().map(simulate_row).collect())
}

/// A simulated point's errors against its measurement.
pub fn compare(point: &ServingPoint, sim: simulate::SimulatedPoint) -> Comparison {
    Comparison {
        sim_ttft_ms: sim.ttft_ms,
        sim_tpot_ms: sim.tpot_ms,
        sim_ttft_median_ms: sim.ttft_median_ms,
        sim_tpot_median_ms: sim.tpot_median_ms,
        ttft_err: stats::signed_error(sim.ttft_ms, point.silicon_ttft_ms),
        tpot_err: sim.tpot_ms.map(|t| stats::signed_error(t, point.silicon_tpot_ms)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::points::tests::{HEADER, row};

    fn file() -> PointsFile {
        let rows = [
            row(&[("id", "a"), ("batch_size", "2"), ("isl", "128"), ("osl", "4")]),
            row(&[("id", "b"), ("mode", "disagg")]),
            row(&[("id", "c"), ("batch_size", "4"), ("isl", "256"), ("osl", "4"), ("tp_size", "8")]),
            row(&[("id", "d"), ("model_path", "nobody/Unknown-1B")]),
            row(&[("id", "e"), ("batch_size", "3"), ("isl", "64"), ("osl", "6"), ("tp_size", "2")]),
        ];
        parse_points(&format!("{HEADER}\n{}\n", rows.join("\n")), "f").unwrap()
    }

    fn small_client() -> Overrides {
        Overrides { requests_per_client: Some(2), warmup_per_client: Some(1), ..Overrides::default() }
    }

    #[test]
    fn the_plan_keeps_skips_and_thins_only_modellable_rows() {
        let file = file();
        let options = Options { client: small_client(), ..Options::default() };
        let plan = plan(&file, &options).unwrap();
        let ok: Vec<usize> = plan.rows.iter().filter(|r| r.config.is_ok()).map(|r| r.index).collect();
        assert_eq!(ok, vec![0, 2, 4]);
        assert_eq!(plan.rows[1].config, Err(SkipReason::Disaggregated));
        assert_eq!(
            plan.rows[3].config.as_ref().unwrap_err().kind(),
            "model not in the catalogue or unsupported"
        );

        let thinned = super::plan(&file, &Options { max: Some(2), ..options }).unwrap();
        let kept: Vec<usize> = thinned.rows.iter().map(|r| r.index).collect();
        // Modellable rows 0, 2, 4 thinned to two: 0 and 2; the skipped rows 1 and 3 stay.
        assert_eq!(kept, vec![0, 1, 2, 3]);
        assert_eq!((thinned.thinned_out, thinned.num_simulated()), (1, 2));
    }

    #[test]
    fn results_do_not_depend_on_the_number_of_threads() {
        let file = file();
        let plan = plan(&file, &Options { client: small_client(), ..Options::default() }).unwrap();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let one = run_plan(&file, &plan, 1, &|| {
            done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
        assert_eq!(done.into_inner(), 3, "on_done is called once per simulated point");
        let three = run_plan(&file, &plan, 3, &|| {});
        assert_eq!(one, three);
        assert!(matches!(one[0], Outcome::Simulated(_)) && matches!(one[1], Outcome::Skipped(_)));
    }

    #[test]
    fn settings_reach_the_points_of_their_backend_and_change_the_simulation() {
        let rows = [
            row(&[("id", "v"), ("batch_size", "4"), ("isl", "256"), ("osl", "8"), ("tp_size", "8")]),
            row(&[
                ("id", "t"),
                ("backend", "trtllm"),
                ("batch_size", "4"),
                ("isl", "256"),
                ("osl", "8"),
                ("tp_size", "8"),
            ]),
        ];
        let file = parse_points(&format!("{HEADER}\n{}\n", rows.join("\n")), "f").unwrap();
        let kernel = "roofline_execution_time_predictor_config_all_reduce_kernel";
        let settings = vec![
            Setting::parse(&format!("vllm:{kernel}=nccl")).unwrap(),
            Setting::parse(&format!("trtllm:{kernel}=nccl")).unwrap(),
            Setting::parse(&format!("trtllm:{kernel}=trtllm_custom")).unwrap(),
        ];
        let client = small_client();
        let base = plan(&file, &Options { client, ..Options::default() }).unwrap();
        let set = plan(&file, &Options { client, settings, ..Options::default() }).unwrap();
        let applied = |i: usize| set.rows[i].config.as_ref().unwrap().settings.clone();
        assert_eq!(applied(0), vec![(kernel.to_string(), "nccl".to_string())]);
        // Both trtllm settings reach the point, in order: the later one (the engine's own
        // custom all-reduce, which its bundle sets anyway) wins.
        assert_eq!(applied(1).len(), 2);

        let tpot = |plan: &Plan, i: usize| match run_plan(&file, plan, 1, &|| {})[i] {
            Outcome::Simulated(c) => c.sim_tpot_ms.unwrap(),
            Outcome::Skipped(ref r) => panic!("skipped: {r}"),
        };
        // NCCL is slower than vLLM's custom all-reduce (its engine's default) at TP8 decode;
        // the trtllm point is as before.
        assert!(tpot(&set, 0) > tpot(&base, 0), "{} vs {}", tpot(&set, 0), tpot(&base, 0));
        assert_eq!(tpot(&set, 1), tpot(&base, 1));
    }

    #[test]
    fn comparisons_are_signed_errors_against_the_measurement() {
        let point = crate::points::tests::point(&[("silicon_ttft_ms", "200"), ("silicon_tpot_ms", "20")]);
        let c = compare(
            &point,
            simulate::SimulatedPoint {
                ttft_ms: 300.0,
                tpot_ms: Some(15.0),
                ttft_median_ms: 250.0,
                tpot_median_ms: Some(14.0),
            },
        );
        assert_eq!((c.sim_ttft_median_ms, c.sim_tpot_median_ms), (250.0, Some(14.0)));
        assert_eq!((c.ttft_err, c.tpot_err), (0.5, Some(-0.25)));
    }
}
