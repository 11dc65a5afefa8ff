//! One simulation the plan asks for ([`Job`]), what came of it ([`JobOutcome`]) and how an
//! executor runs it ([`run_job`]). Jobs and outcomes are plain serde types, so a worker pool, a
//! thread pool or a remote executor can carry them.

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::inputs::Inputs;
use crate::report::Summary;
use crate::sim::{Progress, Simulation};
use crate::sim_config::SimConfig;

/// A job's identity: its configuration and its place in that configuration's sequence. The
/// same spec issues the same jobs under the same ids, whatever the executor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct JobId {
    /// The configuration's index.
    pub configuration: u32,
    /// The job's place in its configuration's search, from 0.
    pub step: u32,
}

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "c{}.s{}", self.configuration, self.step)
    }
}

/// One simulation to run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Its identity.
    pub id: JobId,
    /// The arrival rate, requests per second.
    pub qps: f64,
    /// The replica count, when the search chooses it.
    pub num_replicas: Option<u32>,
    /// Every flag of the run, as `(name, text)`.
    pub flags: Vec<(String, String)>,
}

impl Job {
    /// The run's configuration.
    pub fn config(&self) -> Result<Config, crate::config::ConfigErrors> {
        Config::from_pairs(self.flags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }
}

/// The figures of a point the search keeps (the CSVs' columns).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunOutcome {
    /// Objectives met (or none set) and not overloaded.
    pub passed: bool,
    /// Whether the objectives held (`None` without objectives).
    pub slo_met: Option<bool>,
    /// Whether the arrivals outgrew the cluster.
    pub overloaded: bool,
    /// Whether the run was stopped at the overload verdict.
    pub stopped_early: bool,
    /// Share of requests meeting the objectives.
    pub attainment: Option<f64>,
    /// Each objective's observed quantile, seconds, in the spec's (metric) order.
    pub slo_observed_s: Vec<Option<f64>>,
    /// Requests arrived and completed.
    pub num_requests: u64,
    /// Of which completed.
    pub num_completed: u64,
    /// Time to first token p90, s.
    pub ttft_p90_s: Option<f64>,
    /// Time to first token p99, s.
    pub ttft_p99_s: Option<f64>,
    /// Time per output token p90, s.
    pub tpot_p90_s: Option<f64>,
    /// Time between tokens p90, s (over every token's gap, as the report's distribution).
    pub tbt_p90_s: Option<f64>,
    /// Time between tokens p99, s.
    pub tbt_p99_s: Option<f64>,
    /// End-to-end latency p90, s.
    pub e2e_p90_s: Option<f64>,
    /// Scheduling delay p99, s.
    pub scheduling_delay_p99_s: Option<f64>,
    /// Completed requests per second.
    pub throughput_rps: f64,
    /// Output tokens per second.
    pub output_tokens_per_s: f64,
    /// Requests meeting the objectives per second.
    pub goodput_rps: Option<f64>,
    /// GPUs.
    pub num_gpus: u64,
    /// US dollars per hour.
    pub usd_per_hour: Option<f64>,
    /// US dollars per million output tokens.
    pub usd_per_million_output_tokens: Option<f64>,
    /// Simulated seconds.
    pub simulated_s: f64,
    /// Events handled.
    pub num_events: u64,
}

fn figure(count: u64, x: f64) -> Option<f64> {
    (count > 0).then_some(x)
}

impl RunOutcome {
    /// The outcome of a finished run.
    pub fn from_summary(s: &Summary) -> RunOutcome {
        let slo_met = s.slo.as_ref().map(|r| r.met);
        RunOutcome {
            passed: slo_met.unwrap_or(true) && !s.overload.overloaded,
            slo_met,
            overloaded: s.overload.overloaded,
            stopped_early: s.overload.stopped_early,
            attainment: s.slo.as_ref().map(|r| r.attainment),
            slo_observed_s: s
                .slo
                .as_ref()
                .map_or_else(Vec::new, |r| r.targets.iter().map(|t| t.observed_s).collect()),
            num_requests: s.num_requests,
            num_completed: s.num_completed,
            ttft_p90_s: figure(s.ttft_s.count, s.ttft_s.p90),
            ttft_p99_s: figure(s.ttft_s.count, s.ttft_s.p99),
            tpot_p90_s: figure(s.tpot_s.count, s.tpot_s.p90),
            tbt_p90_s: figure(s.tbt_s.count, s.tbt_s.p90),
            tbt_p99_s: figure(s.tbt_s.count, s.tbt_s.p99),
            e2e_p90_s: figure(s.e2e_s.count, s.e2e_s.p90),
            scheduling_delay_p99_s: figure(s.scheduling_delay_s.count, s.scheduling_delay_s.p99),
            throughput_rps: s.throughput.requests_per_s,
            output_tokens_per_s: s.throughput.output_tokens_per_s,
            goodput_rps: s.slo.as_ref().map(|r| r.goodput.requests_per_s),
            num_gpus: s.cost.num_gpus,
            usd_per_hour: s.cost.usd_per_hour,
            usd_per_million_output_tokens: s.cost.usd_per_million_output_tokens,
            simulated_s: s.simulated_time_s,
            num_events: s.num_events,
        }
    }
}

/// What came of a job.
// One per simulation, moved across threads and messages: not worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobOutcome {
    /// It ran.
    Ran(RunOutcome),
    /// Its configuration is invalid (a model that does not fit, a parallelism the node cannot
    /// hold, ...): the configuration is skipped with this reason.
    Invalid(String),
}

/// Events simulated between two calls of the executor's `should_stop`.
const EVENTS_PER_CHECK: u64 = 50_000;

/// Runs `job` with input files from `inputs`, stopping at an overload verdict. Returns `None`
/// when `should_stop` (asked between chunks of events, with the progress) says to give up: the
/// job then did not happen and is not reported to the plan.
pub fn run_job(
    job: &Job,
    inputs: &Inputs,
    should_stop: &mut dyn FnMut(&Progress) -> bool,
) -> Option<JobOutcome> {
    let invalid = |errors: crate::config::ConfigErrors| {
        let text: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
        JobOutcome::Invalid(text.join("; "))
    };
    let config = match job.config() {
        Ok(c) => c,
        Err(e) => return Some(invalid(e)),
    };
    let sim_config = match SimConfig::build(&config, inputs) {
        Ok(c) => c,
        Err(e) => return Some(invalid(e)),
    };
    let mut sim = Simulation::new(&sim_config).stop_when_overloaded();
    while !sim.is_finished() {
        let progress = sim.run_for_events(EVENTS_PER_CHECK);
        if !progress.finished && should_stop(&progress) {
            return None;
        }
    }
    // Only the summary is read: the rest of the report is not built.
    Some(JobOutcome::Ran(RunOutcome::from_summary(&sim.finish_summary())))
}
