//! The capacity search's two halves for Python: the engine's plan (`SearchPlan`, in the driver)
//! and a job runner (`JobRunner`, in each worker process). Jobs and outcomes cross processes
//! as postcard bytes: a binary encoding that keeps every `f64` exact, so an outcome computed in
//! a worker is the one the plan would have computed itself.

use std::collections::BTreeSet;
use std::time::Instant;

use llmsim_engine::search::{self, Job, JobOutcome, SearchSpec};
use llmsim_engine::{ConfigError, ConfigErrors, Inputs, SimConfig};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyBytes;

use crate::errors;
use crate::inputs::add_file;

/// The search's state machine (`llmsim_engine::search::SearchPlan`): which simulations next,
/// given the outcomes so far.
#[pyclass(module = "llmsim._llmsim")]
pub struct SearchPlan {
    plan: search::SearchPlan,
}

#[pymethods]
impl SearchPlan {
    /// Reads the spec (`llmsim search`'s SEARCH.json); its errors name the field.
    #[new]
    fn new(py: Python<'_>, spec_json: &str) -> PyResult<SearchPlan> {
        let spec = SearchSpec::from_json_str(spec_json).map_err(|errors| {
            let errors = errors.0.into_iter().map(|e| ConfigError::new(&e.field, e.message)).collect();
            errors::config_error(py, &ConfigErrors(errors))
        })?;
        Ok(SearchPlan { plan: search::SearchPlan::new(spec) })
    }

    /// `(flag, path)` of every input file any configuration reads, each path once.
    fn input_files(&self) -> Vec<(String, String)> {
        let spec = self.plan.spec();
        let mut seen = BTreeSet::new();
        let mut files = Vec::new();
        for c in 0..spec.num_configurations() {
            for (flag, path) in SimConfig::required_files(&spec.point_config(c)) {
                if seen.insert((flag, path.clone())) {
                    files.push((flag.to_string(), path));
                }
            }
        }
        files
    }

    /// Up to `max` jobs to run now, encoded.
    fn next_jobs<'py>(&mut self, py: Python<'py>, max: usize) -> Vec<Bound<'py, PyBytes>> {
        self.plan.next_jobs(max).iter().map(|job| PyBytes::new(py, &encode(job))).collect()
    }

    /// Takes the outcome (from `JobRunner.run`) of an issued job.
    fn on_result(&mut self, job: &[u8], outcome: &[u8]) -> PyResult<()> {
        let job: Job = decode(job, "job")?;
        let outcome: JobOutcome = decode(outcome, "outcome")?;
        self.plan.on_result(job.id, outcome).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// A job's identity as text, e.g. `c3.s2` (configuration 3, its third point).
    fn job_label(&self, job: &[u8]) -> PyResult<String> {
        Ok(decode::<Job>(job, "job")?.id.to_string())
    }

    /// Whether every configuration is finished.
    fn is_done(&self) -> bool {
        self.plan.is_done()
    }

    /// Configurations finished, and in all.
    fn progress(&self) -> (usize, usize) {
        self.plan.progress()
    }

    /// `search.csv`'s text.
    fn search_csv(&self) -> String {
        search::search_csv(&self.plan)
    }

    /// `pareto.csv`'s text.
    fn pareto_csv(&self) -> String {
        search::pareto_csv(&self.plan)
    }
}

/// Runs jobs over input files read once: traces are parsed when the runner is made, once per
/// worker process, not once per job.
#[pyclass(frozen, module = "llmsim._llmsim")]
pub struct JobRunner {
    inputs: Inputs,
}

#[pymethods]
impl JobRunner {
    /// `files`: `(flag, path, contents)`; `unreadable`: `(path, reason)`. A malformed trace
    /// raises `TraceError`.
    #[new]
    fn new(
        py: Python<'_>,
        files: Vec<(String, String, PyBackedBytes)>,
        unreadable: Vec<(String, String)>,
    ) -> PyResult<JobRunner> {
        let inputs = py
            .detach(|| {
                let mut inputs = Inputs::new();
                for (path, reason) in unreadable {
                    inputs.add_unreadable(path, reason);
                }
                for (flag, path, bytes) in &files {
                    add_file(&mut inputs, flag, path.clone(), bytes)?;
                }
                Ok(inputs)
            })
            .map_err(|e| errors::trace_error(py, &e))?;
        Ok(JobRunner { inputs })
    }

    /// Runs one job (GIL released) and returns its outcome, encoded, and its wall time in
    /// seconds.
    fn run<'py>(&self, py: Python<'py>, job: &[u8]) -> PyResult<(Bound<'py, PyBytes>, f64)> {
        let job: Job = decode(job, "job")?;
        let (outcome, seconds) = py.detach(|| {
            let started = Instant::now();
            let outcome = search::run_job(&job, &self.inputs, &mut |_| false);
            (outcome, started.elapsed().as_secs_f64())
        });
        // run_job gives up only when asked to, and this runner never asks.
        let outcome =
            outcome.ok_or_else(|| PyRuntimeError::new_err("the simulation stopped before its end"))?;
        Ok((PyBytes::new(py, &encode(&outcome)), seconds))
    }
}

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("jobs and outcomes serialise")
}

fn decode<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8], what: &str) -> PyResult<T> {
    postcard::from_bytes(bytes)
        .map_err(|e| PyValueError::new_err(format!("not an encoded search {what}: {e}")))
}
