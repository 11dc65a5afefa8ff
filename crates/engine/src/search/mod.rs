//! Capacity planning: for every configuration of a space (devices, parallelism, replicas,
//! schedulers, ...), the highest arrival rate that meets latency objectives, the fewest
//! replicas that serve a given rate, or the cheapest configuration that does — Vidur-Search's
//! questions, answered by one pure implementation that any executor drives.
//!
//! - [`SearchSpec`] (`spec.rs`): the base flags, the space, the objectives and the goal, read
//!   from JSON with errors naming the field.
//! - [`SearchPlan`] (`plan.rs`): the state machine. [`SearchPlan::next_jobs`] says which
//!   simulations to run, [`SearchPlan::on_result`] takes their outcomes in any order; the jobs
//!   and the answer do not depend on the number of workers or the order of results.
//! - [`run_job`] (`job.rs`): runs one [`Job`] (a full set of flags) with the run stopping at an
//!   overload verdict; what the CLI's threads, the page's Web Workers or a Python executor call.
//! - `results.rs`: `search.csv`, `pareto.csv` and `points.csv`, and reading `points.csv` back
//!   to resume.
//!
//! Composing configurations and reading run summaries, it sits above the simulation.

mod job;
mod plan;
mod results;
mod spec;

pub use job::{Job, JobId, JobOutcome, RunOutcome, run_job};
pub use plan::{ConfigurationResult, PlanError, Point, SearchPlan, Verdict};
pub use results::{pareto_csv, parse_points_csv, points_csv_header, points_csv_row, search_csv};
pub use spec::{
    Axis, DEFAULT_NUM_REQUESTS, DEFAULT_QPS_GRANULARITY, SearchGoal, SearchSpec, SpecError, SpecErrors,
};
