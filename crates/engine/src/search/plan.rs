//! The search as a state machine: which simulations next, given the results so far.
//!
//! Each configuration runs its own search one point at a time, each point chosen from the
//! results of the earlier ones alone ([`next_step`]); configurations are independent, so an
//! executor with several workers keeps one point of each configuration in flight. The jobs
//! issued (their ids, rates and flags) and every result are therefore the same whatever the
//! number of workers and the order results come back in.
//!
//! - **QPS** (`max_qps`): start at the spec's `qps`; double while points pass, halve while they
//!   fail (down to `min_qps`); then bisect between the highest pass and the lowest failure above
//!   it until the bracket is at most `qps_granularity` × its upper end. The answer is the highest
//!   passing rate: every rate up to it passed, the bracket's upper end failed.
//!
//!   Neighbours start from each other's answer. Configurations that differ only in the space's
//!   last axis (say a batch cap) often sustain the same rate: the one at the axis's middle value
//!   (its *guide*) searches first, and each other one tries the guide's final bracket first (its
//!   answer, then the failing rate above it); when both agree, two points settle it instead of
//!   the ~8 of a search from `qps`; otherwise the search goes on as above from what they gave.
//!   The guide's result is itself deterministic, so the jobs issued still do not depend on the
//!   workers or the order results come back in; guides are issued first, so their followers are
//!   not left to the end of the search.
//! - **Replicas** (`min_replicas`, `min_cost` unless the space lists replica counts): at `qps`,
//!   start at 1 replica (or prefill:decode unit) and double while points fail, up to
//!   `max_replicas` and the cluster limit ([`SearchSpec::max_units`]); then bisect between the
//!   highest failure and the lowest pass to one replica. The answer is the lowest passing
//!   count. A count the run's validation refuses after smaller ones ran (a memory budget, the
//!   simulated-block limit) is past a limit, not an invalid configuration: it bounds the search
//!   like `max_replicas`, bisecting down to the highest count that runs, and a configuration
//!   that fails up to there is infeasible with the refusal's reason.
//! - **One point** (`min_cost` with replica counts in the space): the configuration as listed,
//!   at `qps`.
//!
//! A configuration stops after `max_runs` points with the best answer so far, and is skipped
//! (with the reason) when a point says it is invalid, except a replica count refused above
//! counts that ran (a limit, above), or when its executor gives the job up (`give_up`: a
//! crashed worker, at any count).

use std::fmt;

use super::job::{Job, JobId, JobOutcome, RunOutcome};
use super::spec::{SearchGoal, SearchSpec};

/// One point tried: its rate or replica count and what it gave.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// The job.
    pub id: JobId,
    /// Its arrival rate.
    pub qps: f64,
    /// Its replica count when searched.
    pub num_replicas: Option<u32>,
    /// The outcome.
    pub outcome: RunOutcome,
}

/// How a configuration's search ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// It meets the objectives (at `max_qps`, or with `num_replicas`).
    Feasible,
    /// No point tried met them; the reason says what was tried.
    Infeasible(String),
    /// The configuration is invalid.
    Skipped(String),
}

/// One configuration's result.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigurationResult {
    /// Its index.
    pub configuration: u32,
    /// How its search ended.
    pub verdict: Verdict,
    /// The chosen point: the highest passing rate, or the fewest passing replicas.
    pub chosen: Option<Point>,
    /// Every point tried, in order.
    pub points: Vec<Point>,
    /// A remark on the answer (a bound reached, the run budget spent).
    pub note: Option<String>,
}

impl ConfigurationResult {
    /// Whether the configuration met the objectives.
    pub fn feasible(&self) -> bool {
        self.verdict == Verdict::Feasible
    }
}

/// A result the plan cannot take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// No job with this id is in flight.
    UnknownJob(JobId),
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::UnknownJob(id) => write!(f, "no job {id} is in flight"),
        }
    }
}

impl std::error::Error for PlanError {}

/// What a configuration does next.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Run { qps: f64, num_replicas: Option<u32> },
    Done { verdict: Verdict, chosen: Option<usize>, note: Option<String> },
}

#[derive(Clone, Debug)]
enum State {
    /// Waiting for its guide's result.
    Waiting,
    /// Its next point is decided and not yet issued.
    Ready(f64, Option<u32>),
    /// A point is in flight.
    InFlight(Job),
    /// Finished.
    Done,
}

#[derive(Clone, Debug)]
struct Search {
    points: Vec<Point>,
    /// Jobs issued (the next job's step): its points and its refused counts.
    steps: u32,
    state: State,
    result: Option<ConfigurationResult>,
    /// The guide's final bracket, once known: its answer and the failing rate above it.
    hint: Option<Hint>,
    /// A replica search's lowest count whose run was refused, after smaller ones ran.
    refused: Option<Refusal>,
}

impl Search {
    fn new() -> Search {
        Search { points: Vec::new(), steps: 0, state: State::Done, result: None, hint: None, refused: None }
    }
}

/// A replica count past a limit: the run's validation refused it.
#[derive(Clone, Debug, PartialEq)]
struct Refusal {
    num_replicas: u32,
    reason: String,
}

/// A guide's final bracket: its highest passing rate and its lowest failing rate above that.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Hint {
    pass: f64,
    fail: Option<f64>,
}

/// Guides a space needs at least for its configurations to follow them: while the guides
/// search, only they run, and this many keep a pool of workers busy (the page's has at most 4;
/// a fixed count, so the plan does not depend on the pool).
const MIN_GUIDES: usize = 8;

/// The configuration whose result configuration `c`'s QPS search starts from: the one with the
/// middle value of the space's last axis and the same values elsewhere (`None` for that one
/// itself, for other goals, without a last axis of two values or more, and with fewer than
/// [`MIN_GUIDES`] guides).
fn guide(spec: &SearchSpec, c: usize) -> Option<usize> {
    if spec.goal != SearchGoal::MaxQps || spec.searches_replicas {
        return None;
    }
    // The last axis varies fastest: its values are consecutive configurations.
    let len = spec.space.last().map_or(0, |a| a.values.len());
    if len < 2 || spec.num_configurations() / len < MIN_GUIDES {
        return None;
    }
    let guide = c - c % len + len / 2;
    (guide != c).then_some(guide)
}

/// What a finished guide tells its followers: nothing unless it found an answer.
fn hint_of(result: &ConfigurationResult) -> Option<Hint> {
    let chosen = result.chosen.as_ref().filter(|_| result.feasible())?;
    let fail = result
        .points
        .iter()
        .filter(|p| !p.outcome.passed && p.qps > chosen.qps)
        .map(|p| p.qps)
        .reduce(f64::min);
    Some(Hint { pass: chosen.qps, fail })
}

/// The search's state machine. Executors ask for [`SearchPlan::next_jobs`], run them, and hand
/// each outcome to [`SearchPlan::on_result`] in any order, until [`SearchPlan::is_done`].
#[derive(Clone, Debug)]
pub struct SearchPlan {
    spec: SearchSpec,
    searches: Vec<Search>,
    done: usize,
}

impl SearchPlan {
    /// A plan with no point tried.
    pub fn new(spec: SearchSpec) -> SearchPlan {
        let n = spec.num_configurations();
        let mut plan = SearchPlan { spec, searches: Vec::with_capacity(n), done: 0 };
        for c in 0..n {
            let mut search = Search::new();
            if guide(&plan.spec, c).is_some() {
                search.state = State::Waiting;
            } else {
                plan.advance(c, &mut search);
            }
            plan.searches.push(search);
        }
        plan
    }

    /// The spec.
    pub fn spec(&self) -> &SearchSpec {
        &self.spec
    }

    /// Up to `max` jobs to run now: the next point of each configuration whose previous point
    /// is done, guides first (others wait for them), then in configuration order. Each is
    /// issued once.
    pub fn next_jobs(&mut self, max: usize) -> Vec<Job> {
        let mut jobs = Vec::new();
        let spec = &self.spec;
        let guides_first = (0..self.searches.len())
            .filter(|c| guide(spec, *c).is_none())
            .chain((0..self.searches.len()).filter(|c| guide(spec, *c).is_some()));
        for c in guides_first {
            if jobs.len() >= max {
                break;
            }
            let search = &mut self.searches[c];
            if let State::Ready(qps, num_replicas) = search.state {
                let id = JobId { configuration: c as u32, step: search.steps };
                let job = Job { id, qps, num_replicas, flags: self.spec.point_flags(c, qps, num_replicas) };
                search.steps += 1;
                search.state = State::InFlight(job.clone());
                jobs.push(job);
            }
        }
        jobs
    }

    /// Takes the outcome of an issued job.
    pub fn on_result(&mut self, id: JobId, outcome: JobOutcome) -> Result<(), PlanError> {
        self.settle(id, outcome, true)
    }

    /// Gives up an issued job's configuration (Skipped, with `reason`) whatever its count: for
    /// an executor that lost the job (a crashed worker). Unlike a refusal by the run's
    /// validation, a lost job says nothing about capacity, so it never bounds a replica search
    /// as a limit; and a crash would likely recur at lower counts.
    pub fn give_up(&mut self, id: JobId, reason: String) -> Result<(), PlanError> {
        self.settle(id, JobOutcome::Invalid(reason), false)
    }

    /// `on_result`'s work; a refusal may bound a replica search only if `refusal_is_a_limit`.
    fn settle(&mut self, id: JobId, outcome: JobOutcome, refusal_is_a_limit: bool) -> Result<(), PlanError> {
        let c = id.configuration as usize;
        let Some(search) = self.searches.get_mut(c) else { return Err(PlanError::UnknownJob(id)) };
        let job = match &search.state {
            State::InFlight(job) if job.id == id => job.clone(),
            _ => return Err(PlanError::UnknownJob(id)),
        };
        let mut search = std::mem::replace(&mut self.searches[c], Search::new());
        match outcome {
            // A searched count refused above counts that ran: a limit, not an invalid
            // configuration (the counts are all that differ between its points).
            JobOutcome::Invalid(reason)
                if refusal_is_a_limit
                    && self.spec.searches_replicas
                    && let Some(n) = job.num_replicas
                    && let Some(ran) = search.points.iter().filter_map(|p| p.num_replicas).max()
                    && n > ran =>
            {
                if search.refused.as_ref().is_none_or(|r| n < r.num_replicas) {
                    search.refused = Some(Refusal { num_replicas: n, reason });
                }
                self.advance(c, &mut search);
            }
            JobOutcome::Invalid(reason) => {
                search.state = State::Done;
                search.result = Some(ConfigurationResult {
                    configuration: c as u32,
                    verdict: Verdict::Skipped(reason),
                    chosen: None,
                    points: std::mem::take(&mut search.points),
                    note: None,
                });
                self.done += 1;
            }
            JobOutcome::Ran(outcome) => {
                search.points.push(Point { id, qps: job.qps, num_replicas: job.num_replicas, outcome });
                self.advance(c, &mut search);
            }
        }
        let hint = search.result.as_ref().and_then(hint_of);
        let finished = search.result.is_some();
        self.searches[c] = search;
        if finished {
            self.release_followers(c, hint);
        }
        Ok(())
    }

    /// Starts the configurations that waited for guide `c`, from its bracket.
    fn release_followers(&mut self, c: usize, hint: Option<Hint>) {
        let len = self.spec.space.last().map_or(0, |a| a.values.len());
        if len < 2 || guide(&self.spec, c).is_some() {
            return;
        }
        for f in c - c % len..(c - c % len + len).min(self.searches.len()) {
            if guide(&self.spec, f) != Some(c) {
                continue;
            }
            let mut search = std::mem::replace(&mut self.searches[f], Search::new());
            search.hint = hint;
            self.advance(f, &mut search);
            self.searches[f] = search;
        }
    }

    /// Decides configuration `c`'s next step from its points.
    fn advance(&mut self, c: usize, search: &mut Search) {
        match next_step(&self.spec, c, search) {
            Step::Run { qps, num_replicas } => search.state = State::Ready(qps, num_replicas),
            Step::Done { verdict, chosen, note } => {
                search.state = State::Done;
                search.result = Some(ConfigurationResult {
                    configuration: c as u32,
                    verdict,
                    chosen: chosen.map(|i| search.points[i].clone()),
                    points: search.points.clone(),
                    note,
                });
                self.done += 1;
            }
        }
    }

    /// Whether every configuration is finished.
    pub fn is_done(&self) -> bool {
        self.done == self.searches.len()
    }

    /// Configurations finished and in all.
    pub fn progress(&self) -> (usize, usize) {
        (self.done, self.searches.len())
    }

    /// Jobs in flight.
    pub fn in_flight(&self) -> usize {
        self.searches.iter().filter(|s| matches!(s.state, State::InFlight(_))).count()
    }

    /// Every point configuration `c` has run so far (finished or still searching), in order;
    /// empty for an index out of range. For live charts of a search under way.
    pub fn points(&self, c: usize) -> &[Point] {
        self.searches.get(c).map_or(&[], |s| s.result.as_ref().map_or(&s.points, |r| &r.points))
    }

    /// The finished configurations' results, in configuration order.
    pub fn results(&self) -> Vec<&ConfigurationResult> {
        self.searches.iter().filter_map(|s| s.result.as_ref()).collect()
    }

    /// The best finished configuration: the highest QPS per dollar (`max_qps`; the highest QPS
    /// when prices are unknown) or the lowest cost per hour (`min_replicas`, `min_cost`; the
    /// fewest GPUs when prices are unknown), ties to the lower index.
    pub fn best(&self) -> Option<&ConfigurationResult> {
        let key = |r: &ConfigurationResult| -> Option<f64> {
            let chosen = r.chosen.as_ref().filter(|_| r.feasible())?;
            let usd = chosen.outcome.usd_per_hour;
            Some(match self.spec.goal {
                SearchGoal::MaxQps => -usd.map_or(chosen.qps, |usd| chosen.qps / usd.max(1e-12)),
                _ => usd.unwrap_or(chosen.outcome.num_gpus as f64),
            })
        };
        let mut best: Option<(&ConfigurationResult, f64)> = None;
        for r in self.results() {
            if let Some(k) = key(r)
                && best.is_none_or(|(_, b)| k < b)
            {
                best = Some((r, k));
            }
        }
        best.map(|(r, _)| r)
    }
}

/// The next step of configuration `c`'s search, from its points, its guide's bracket and its
/// refused count alone.
fn next_step(spec: &SearchSpec, c: usize, search: &Search) -> Step {
    let points = &search.points[..];
    if spec.searches_replicas {
        replica_step(spec, c, points, search.refused.as_ref())
    } else if spec.goal == SearchGoal::MaxQps {
        qps_step(spec, points, search.hint)
    } else {
        match points.first() {
            None => Step::Run { qps: spec.qps, num_replicas: None },
            Some(p) if p.outcome.passed => {
                Step::Done { verdict: Verdict::Feasible, chosen: Some(0), note: None }
            }
            Some(p) => Step::Done {
                verdict: Verdict::Infeasible(failure(&p.outcome, spec.qps)),
                chosen: None,
                note: None,
            },
        }
    }
}

fn failure(o: &RunOutcome, qps: f64) -> String {
    if o.overloaded {
        format!("overloaded at {qps} requests/s")
    } else {
        format!("objectives not met at {qps} requests/s")
    }
}

/// The highest passing point and the lowest failing point above it.
fn bracket<T: PartialOrd + Copy>(
    points: &[Point],
    at: impl Fn(&Point) -> T,
) -> (Option<usize>, Option<usize>) {
    let mut pass: Option<usize> = None;
    for (i, p) in points.iter().enumerate() {
        if p.outcome.passed && pass.is_none_or(|j| at(p) > at(&points[j])) {
            pass = Some(i);
        }
    }
    let mut fail: Option<usize> = None;
    for (i, p) in points.iter().enumerate() {
        let above = pass.is_none_or(|j| at(p) > at(&points[j]));
        if !p.outcome.passed && above && fail.is_none_or(|j| at(p) < at(&points[j])) {
            fail = Some(i);
        }
    }
    (pass, fail)
}

fn qps_step(spec: &SearchSpec, points: &[Point], hint: Option<Hint>) -> Step {
    let run = |qps: f64| Step::Run { qps, num_replicas: None };
    // The guide's bracket first: its answer, then (if that passes) its failing rate.
    match (points, hint) {
        ([], Some(h)) => return run(h.pass),
        ([first], Some(Hint { fail: Some(fail), .. })) if first.outcome.passed && fail > first.qps => {
            return run(fail);
        }
        _ => {}
    }
    if points.is_empty() {
        return run(spec.qps.clamp(spec.min_qps, spec.max_qps));
    }
    let (pass, fail) = bracket(points, |p| p.qps);
    let budget = points.len() as u32 >= spec.max_runs;
    let budget_note = || Some(format!("stopped after max_runs = {} points", spec.max_runs));
    match (pass, fail) {
        (Some(p), None) => {
            let next = points[p].qps * 2.0;
            if points[p].qps >= spec.max_qps {
                Step::Done {
                    verdict: Verdict::Feasible,
                    chosen: Some(p),
                    note: Some(format!("passes at max_qps = {}", spec.max_qps)),
                }
            } else if budget {
                Step::Done { verdict: Verdict::Feasible, chosen: Some(p), note: budget_note() }
            } else {
                run(next.min(spec.max_qps))
            }
        }
        (None, Some(f)) => {
            let lowest = points[f].qps;
            if let Some(why) = lower_rates_do_not_help(points) {
                return Step::Done { verdict: Verdict::Infeasible(why), chosen: None, note: None };
            }
            if lowest <= spec.min_qps || budget {
                let o = &points[f].outcome;
                let why = if o.overloaded { "overloaded" } else { "objectives not met" };
                Step::Done {
                    verdict: Verdict::Infeasible(format!("{why} down to {lowest} requests/s")),
                    chosen: None,
                    note: budget.then(budget_note).flatten(),
                }
            } else {
                run((lowest / 2.0).max(spec.min_qps))
            }
        }
        (Some(p), Some(f)) => {
            let (lo, hi) = (points[p].qps, points[f].qps);
            if hi - lo <= spec.qps_granularity * hi {
                Step::Done { verdict: Verdict::Feasible, chosen: Some(p), note: None }
            } else if budget {
                Step::Done { verdict: Verdict::Feasible, chosen: Some(p), note: budget_note() }
            } else {
                run((lo + hi) / 2.0)
            }
        }
        (None, None) => unreachable!("a point either passed or failed"),
    }
}

/// While a QPS search halves its rate, whether going lower is pointless: the last two points
/// (the lowest rates so far) both failed without being overloaded, and halving the rate raised
/// the share of requests meeting the objectives by less than one point in a hundred — the
/// objectives fail for want of speed, not of capacity (say, a TBT bound a prefill stall breaks
/// at any load), and every further halving would cost a full run at a lower rate.
fn lower_rates_do_not_help(points: &[Point]) -> Option<String> {
    let [.., before, last] = points else { return None };
    let both_fail_unloaded = !before.outcome.passed
        && !last.outcome.passed
        && !before.outcome.overloaded
        && !last.outcome.overloaded;
    let (a, b) = (before.outcome.attainment?, last.outcome.attainment?);
    (both_fail_unloaded && last.qps < before.qps && b < a + 0.01).then(|| {
        format!(
            "objectives not met at low load: {:.1}% of requests meet them at {} requests/s and {:.1}% at {}",
            a * 100.0,
            before.qps,
            b * 100.0,
            last.qps
        )
    })
}

fn replica_step(spec: &SearchSpec, c: usize, points: &[Point], refused: Option<&Refusal>) -> Step {
    let run = |n: u32| Step::Run { qps: spec.qps, num_replicas: Some(n) };
    if points.is_empty() {
        return run(1);
    }
    let replicas = |p: &Point| p.num_replicas.unwrap_or(1);
    // Passing counts are the lowest of interest here: bracket by the negated count.
    let lowest_pass = points
        .iter()
        .enumerate()
        .filter(|(_, p)| p.outcome.passed)
        .min_by_key(|(i, p)| (replicas(p), *i))
        .map(|(i, _)| i);
    let highest_fail_below = points
        .iter()
        .filter(|p| !p.outcome.passed && lowest_pass.is_none_or(|j| replicas(p) < replicas(&points[j])))
        .map(replicas)
        .max();
    let budget = points.len() as u32 >= spec.max_runs;
    match (lowest_pass, highest_fail_below) {
        (Some(p), None) => Step::Done { verdict: Verdict::Feasible, chosen: Some(p), note: None },
        (Some(p), Some(lo)) => {
            let hi = replicas(&points[p]);
            if hi - lo <= 1 || budget {
                let note =
                    (hi - lo > 1).then(|| format!("stopped after max_runs = {} points", spec.max_runs));
                Step::Done { verdict: Verdict::Feasible, chosen: Some(p), note }
            } else {
                run(lo + (hi - lo) / 2)
            }
        }
        (None, Some(lo)) => {
            // The most it may try: `max_replicas`, the cluster limit, below a refused count.
            let max_units = spec.max_units(c);
            let limit = refused.map_or(max_units, |r| max_units.min(r.num_replicas.saturating_sub(1)));
            if lo >= limit || budget {
                let last = points.last().expect("points exist");
                let why = if last.outcome.overloaded { "overloaded" } else { "objectives not met" };
                let bound = match refused {
                    Some(r) if lo >= limit && r.num_replicas <= max_units => {
                        format!("; {} are refused: {}", spec.units_text(c, r.num_replicas), r.reason)
                    }
                    _ if lo >= limit && max_units < spec.max_replicas => format!(
                        "; more would exceed the {} replicas a cluster may have over both pools",
                        crate::limits::MAX_REPLICAS
                    ),
                    _ => String::new(),
                };
                Step::Done {
                    verdict: Verdict::Infeasible(format!(
                        "{why} with up to {}{bound}",
                        spec.units_text(c, lo)
                    )),
                    chosen: None,
                    note: budget.then(|| format!("stopped after max_runs = {} points", spec.max_runs)),
                }
            } else {
                match refused {
                    // Bisect below the refused count.
                    Some(r) if lo * 2 >= r.num_replicas => run(lo + (r.num_replicas - lo) / 2),
                    _ => run((lo * 2).min(limit)),
                }
            }
        }
        (None, None) => unreachable!("a point either passed or failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::JobOutcome;

    /// A toy execution model: configuration `c` sustains `capacity[c]` requests/s per replica;
    /// a point passes at or below its capacity; configuration 3 (if any) is invalid.
    fn toy(capacity: &[f64], job: &Job) -> JobOutcome {
        let c = job.id.configuration as usize;
        if c == 3 {
            return JobOutcome::Invalid("does not fit".into());
        }
        let total = capacity[c] * f64::from(job.num_replicas.unwrap_or(1));
        let passed = job.qps <= total;
        JobOutcome::Ran(RunOutcome {
            passed,
            overloaded: job.qps > 1.5 * total,
            num_gpus: u64::from(job.num_replicas.unwrap_or(1)) * (c as u64 + 1),
            usd_per_hour: Some(f64::from(job.num_replicas.unwrap_or(1)) * (c as u64 + 1) as f64),
            ..RunOutcome::default()
        })
    }

    fn spec(goal: &str, qps: f64) -> SearchSpec {
        SearchSpec::from_json_str(&format!(
            r#"{{"space": {{"replica_config_tensor_parallel_size": [1, 2, 4, 8, 16]}}, "goal": "{goal}", "qps": {qps}, "qps_granularity": 0.02}}"#
        ))
        .unwrap()
    }

    /// Drives `plan` with `workers` in flight, completing jobs in an order drawn from `seed`;
    /// returns every job issued.
    fn drive(plan: &mut SearchPlan, capacity: &[f64], workers: usize, seed: u64) -> Vec<Job> {
        let mut issued = Vec::new();
        let mut in_flight: Vec<Job> = Vec::new();
        let mut state = seed;
        loop {
            let jobs = plan.next_jobs(workers - in_flight.len());
            issued.extend(jobs.iter().cloned());
            in_flight.extend(jobs);
            if in_flight.is_empty() {
                break;
            }
            state = crate::rng::splitmix64(state);
            let job = in_flight.swap_remove(state as usize % in_flight.len());
            plan.on_result(job.id, toy(capacity, &job)).unwrap();
        }
        assert!(plan.is_done());
        issued.sort_by_key(|j| j.id);
        issued
    }

    const CAPACITY: [f64; 5] = [3.7, 12.5, 0.004, 1.0, 900.0];

    #[test]
    fn max_qps_is_found_within_the_granularity_and_every_chosen_point_passes() {
        let mut plan = SearchPlan::new(spec("max_qps", 1.0));
        drive(&mut plan, &CAPACITY, 1, 1);
        for r in plan.results() {
            let c = r.configuration as usize;
            match c {
                2 => assert!(matches!(r.verdict, Verdict::Infeasible(_)), "capacity below min_qps: {r:?}"),
                3 => assert_eq!(r.verdict, Verdict::Skipped("does not fit".into())),
                _ => {
                    assert_found(r, CAPACITY[c]);
                    assert!(r.points.len() <= 24);
                }
            }
        }
    }

    #[test]
    fn the_same_jobs_and_results_with_any_number_of_workers_and_completion_order() {
        let run = |workers: usize, seed: u64| {
            let mut plan = SearchPlan::new(spec("max_qps", 2.0));
            let jobs = drive(&mut plan, &CAPACITY, workers, seed);
            let results: Vec<ConfigurationResult> = plan.results().into_iter().cloned().collect();
            (jobs, results)
        };
        let one = run(1, 0);
        for (workers, seed) in [(2, 1), (7, 2), (7, 3), (64, 4)] {
            assert_eq!(run(workers, seed), one, "{workers} workers, seed {seed}");
        }
    }

    /// Checks configuration `c`'s answer against its capacity: the chosen rate passes and is
    /// within the granularity of the lowest failing rate above it, which is above the capacity.
    fn assert_found(r: &ConfigurationResult, capacity: f64) {
        let chosen = r.chosen.as_ref().unwrap();
        assert!(chosen.outcome.passed && chosen.qps <= capacity, "{r:?}");
        let next = r
            .points
            .iter()
            .filter(|p| !p.outcome.passed && p.qps > chosen.qps)
            .map(|p| p.qps)
            .fold(f64::INFINITY, f64::min);
        assert!(next > capacity && next - chosen.qps <= 0.02 * next, "{r:?}");
    }

    #[test]
    fn neighbours_start_from_their_guides_bracket_and_settle_in_two_points_when_it_holds() {
        // TP × PP × 4 batch caps: in each block of caps the middle value (256, c % 4 = 2)
        // guides the others. Configuration 3 is invalid; in each block the cap 128 sustains
        // its guide's rate, 64 and 512 other rates.
        let spec = |space: &str| {
            SearchSpec::from_json_str(&format!(
                r#"{{"space": {{{space}}}, "goal": "max_qps", "qps": 1, "qps_granularity": 0.02}}"#
            ))
            .unwrap()
        };
        let space = r#""replica_config_tensor_parallel_size": [1, 2, 4, 8, 16],
            "replica_config_num_pipeline_stages": [1, 2],
            "vllm_v1_scheduler_config_batch_size_cap": [64, 128, 256, 512]"#;
        let capacity: Vec<f64> = (0..40)
            .map(|c| {
                let block = (c / 4 + 1) as f64;
                match c % 4 {
                    0 => 0.3 + 0.7 * block,
                    1 | 2 => 1.1 + 2.3 * block,
                    _ => 9.0 + 5.0 * block,
                }
            })
            .collect();
        let run = |workers: usize, seed: u64| {
            let mut plan = SearchPlan::new(spec(space));
            let jobs = drive(&mut plan, &capacity, workers, seed);
            (jobs, plan.results().into_iter().cloned().collect::<Vec<_>>())
        };
        let (jobs, results) = run(1, 0);
        for r in &results {
            let c = r.configuration as usize;
            if c == 3 {
                assert!(matches!(r.verdict, Verdict::Skipped(_)));
                continue;
            }
            assert_found(r, capacity[c]);
            if c % 4 == 1 {
                let guide = &results[c + 1];
                assert_eq!(r.points.len(), 2, "{r:?}");
                assert_eq!(r.chosen.as_ref().unwrap().qps, guide.chosen.as_ref().unwrap().qps);
            }
        }
        // The others wait for their guides.
        let first: Vec<u32> =
            SearchPlan::new(spec(space)).next_jobs(40).iter().map(|j| j.id.configuration).collect();
        assert_eq!(first, (0..10).map(|b| 4 * b + 2).collect::<Vec<u32>>());
        // The same jobs and results whatever the workers and the completion order.
        for (workers, seed) in [(2, 1), (7, 2), (7, 3), (3, 9)] {
            assert_eq!(run(workers, seed), (jobs.clone(), results.clone()), "{workers} workers, seed {seed}");
        }
        // Fewer simulations than each configuration searched from `qps` on its own.
        let alone: usize = (0..40)
            .filter(|c| *c != 3)
            .map(|c| {
                let mut plan = SearchPlan::new(spec(r#""replica_config_tensor_parallel_size": [1]"#));
                drive(&mut plan, &[capacity[c]], 1, 0).len()
            })
            .sum();
        assert!(jobs.len() + 3 * 9 <= alone, "{} jobs against {alone}", jobs.len());
        // With fewer than 8 blocks, nobody waits: the guides would leave workers idle.
        let few = spec(
            r#""replica_config_tensor_parallel_size": [1, 2], "vllm_v1_scheduler_config_batch_size_cap": [64, 128, 256, 512]"#,
        );
        assert_eq!(SearchPlan::new(few).next_jobs(8).len(), 8);
        // Nor without a space (one configuration).
        let mut plan =
            SearchPlan::new(SearchSpec::from_json_str(r#"{"goal": "max_qps", "qps": 1}"#).unwrap());
        drive(&mut plan, &[3.0], 1, 0);
        assert!(plan.results()[0].feasible());
    }

    #[test]
    fn min_replicas_finds_the_fewest_passing_and_min_cost_the_cheapest() {
        let mut plan = SearchPlan::new(spec("min_replicas", 20.0));
        drive(&mut plan, &CAPACITY, 3, 9);
        let replicas = |plan: &SearchPlan, c: u32| {
            plan.results()
                .iter()
                .find(|r| r.configuration == c)
                .unwrap()
                .chosen
                .as_ref()
                .and_then(|p| p.num_replicas)
        };
        assert_eq!(replicas(&plan, 0), Some(6), "3.7 × 6 ≥ 20 > 3.7 × 5");
        assert_eq!(replicas(&plan, 1), Some(2));
        assert_eq!(replicas(&plan, 4), Some(1));
        assert_eq!(replicas(&plan, 2), None, "needs more than max_replicas");
        let mut plan = SearchPlan::new(spec("min_cost", 20.0));
        drive(&mut plan, &CAPACITY, 2, 5);
        // Costs: config 0: 6 × 1 = 6, config 1: 2 × 2 = 4, config 4: 1 × 5 = 5.
        assert_eq!(plan.best().unwrap().configuration, 1);
    }

    /// A toy disaggregated cluster: each prefill replica sustains 10 requests/s and each
    /// decode replica 4; a point passes when both pools keep up, and costs one per GPU.
    fn toy_pools(job: &Job) -> JobOutcome {
        let count = |flag: &str| {
            job.flags.iter().find(|(f, _)| f == flag).map_or(1.0, |(_, v)| v.parse::<f64>().unwrap())
        };
        let (prefill, decode) =
            (count("cluster_config_num_replicas"), count("disaggregation_config_decode_num_replicas"));
        let capacity = (10.0 * prefill).min(4.0 * decode);
        JobOutcome::Ran(RunOutcome {
            passed: job.qps <= capacity,
            overloaded: job.qps > 1.5 * capacity,
            num_gpus: (prefill + decode) as u64,
            usd_per_hour: Some(prefill + decode),
            ..RunOutcome::default()
        })
    }

    #[test]
    fn min_cost_over_prefill_decode_ratios_scales_both_pools_and_finds_the_cheapest_ratio() {
        // 20 requests/s over 1 prefill : d decode replicas, d = 1..4. A unit sustains
        // min(10, 4 d) requests/s: 4, 8, 10, 10. Units needed: 5, 3, 2, 2, so GPUs
        // 5 × 2 = 10, 3 × 3 = 9, 2 × 4 = 8, 2 × 5 = 10: one prefill to three decode is cheapest.
        let spec = SearchSpec::from_json_str(
            r#"{"base": {"disaggregation_config_type": "prefill_decode"},
                "space": {"disaggregation_config_decode_num_replicas": [1, 2, 3, 4]},
                "goal": "min_cost", "qps": 20}"#,
        )
        .unwrap();
        let mut plan = SearchPlan::new(spec.clone());
        let mut issued = Vec::new();
        while !plan.is_done() {
            for job in plan.next_jobs(3) {
                plan.on_result(job.id, toy_pools(&job)).unwrap();
                issued.push(job);
            }
        }
        let units: Vec<Option<u32>> =
            plan.results().iter().map(|r| r.chosen.as_ref().and_then(|p| p.num_replicas)).collect();
        assert_eq!(units, [Some(5), Some(3), Some(2), Some(2)]);
        let best = plan.best().unwrap();
        assert_eq!(best.configuration, 2, "1 : 3");
        assert_eq!(best.chosen.as_ref().unwrap().outcome.num_gpus, 8);
        assert_eq!(spec.pool_sizes(2, Some(2)), (2, Some(6)), "both pools scaled");
        // Every point's flags scale both pools by its unit count.
        for job in &issued {
            let (p, d) = spec.pool_sizes(job.id.configuration as usize, job.num_replicas);
            let d_per_unit = job.id.configuration + 1;
            assert_eq!((p, d), (job.num_replicas.unwrap(), Some(job.num_replicas.unwrap() * d_per_unit)));
        }
        let csv = crate::search::search_csv(&plan);
        assert!(csv.lines().any(|l| l.starts_with("2,3,true,20,2+6,8,")), "{csv}");
    }

    /// Drives `plan` one job at a time with `run`; returns every job issued.
    fn drive_with(plan: &mut SearchPlan, run: impl Fn(&Job) -> JobOutcome) -> Vec<Job> {
        let mut issued = Vec::new();
        while !plan.is_done() {
            for job in plan.next_jobs(1) {
                plan.on_result(job.id, run(&job)).unwrap();
                issued.push(job);
            }
        }
        issued
    }

    fn pools(job: &Job) -> (u32, u32) {
        let count = |flag: &str| {
            job.flags.iter().find(|(f, _)| f == flag).map_or(1, |(_, v)| v.parse::<u32>().unwrap())
        };
        (count("cluster_config_num_replicas"), count("disaggregation_config_decode_num_replicas"))
    }

    #[test]
    fn a_unit_search_stops_at_the_cluster_limit_infeasible_in_units_of_both_pools() {
        // 1 prefill : 4 decode never meets 10^6 requests/s; 20,000 units are the 100,000
        // replicas a cluster may have. The search used to double on to 65,536 and 100,000 units
        // (400,000 decode replicas), which the run refuses: "Skipped".
        let spec = SearchSpec::from_json_str(
            r#"{"base": {"disaggregation_config_type": "prefill_decode", "disaggregation_config_decode_num_replicas": 4},
                "goal": "min_replicas", "qps": 1000000, "max_replicas": 100000}"#,
        )
        .unwrap();
        let mut plan = SearchPlan::new(spec);
        let issued = drive_with(&mut plan, |job| {
            let (p, d) = pools(job);
            if p + d > crate::limits::MAX_REPLICAS {
                JobOutcome::Invalid(format!("{p} prefill + {d} decode replicas, more than 100000"))
            } else {
                toy_pools(job)
            }
        });
        assert!(issued.iter().all(|j| pools(j).0 + pools(j).1 <= 100_000), "{:?}", issued.last());
        let r = plan.results()[0];
        assert_eq!(
            r.verdict,
            Verdict::Infeasible(
                "overloaded with up to 20000 units (20000 prefill + 80000 decode replicas); more would exceed the 100000 replicas a cluster may have over both pools".into()
            )
        );
    }

    #[test]
    fn a_count_the_run_refuses_above_counts_that_ran_bounds_the_search_instead_of_skipping() {
        // A limit the run's validation knows (a memory budget): more than 40 replicas over
        // both pools are refused. 1 prefill : 3 decode units: up to 10.
        let refuse_above_40 = |job: &Job| {
            let (p, d) = pools(job);
            if p + d > 40 {
                JobOutcome::Invalid(format!("{p} + {d} replicas need more memory"))
            } else {
                toy_pools(job)
            }
        };
        let spec = |qps: f64| {
            SearchSpec::from_json_str(&format!(
                r#"{{"base": {{"disaggregation_config_type": "prefill_decode", "disaggregation_config_decode_num_replicas": 3}},
                    "goal": "min_replicas", "qps": {qps}}}"#
            ))
            .unwrap()
        };
        // 10 units serve 100 requests/s (10 per prefill replica); 10 units are the most that run.
        let mut plan = SearchPlan::new(spec(95.0));
        let issued = drive_with(&mut plan, refuse_above_40);
        let r = plan.results()[0];
        assert!(r.feasible(), "{r:?}");
        assert_eq!(r.chosen.as_ref().unwrap().num_replicas, Some(10));
        let tried: Vec<u32> = issued.iter().map(|j| j.num_replicas.unwrap()).collect();
        assert_eq!(tried, [1, 2, 4, 8, 16, 12, 10, 9], "bisects below the refused count");
        let steps: Vec<u32> = issued.iter().map(|j| j.id.step).collect();
        assert_eq!(steps, (0..8).collect::<Vec<u32>>(), "each job its own id");
        // 160 requests/s need 16 units: infeasible up to 10, with the refusal's reason.
        let mut plan = SearchPlan::new(spec(160.0));
        drive_with(&mut plan, refuse_above_40);
        assert_eq!(
            plan.results()[0].verdict,
            Verdict::Infeasible(
                "overloaded with up to 10 units (10 prefill + 30 decode replicas); 11 units (11 prefill + 33 decode replicas) are refused: 11 + 33 replicas need more memory".into()
            )
        );
        // Aggregated alike (3.7 requests/s per replica, more than 20 replicas refused); a
        // refusal of the first count is an invalid configuration.
        let mut plan =
            SearchPlan::new(SearchSpec::from_json_str(r#"{"goal": "min_replicas", "qps": 150}"#).unwrap());
        drive_with(&mut plan, |job| match job.num_replicas {
            Some(n) if n > 20 => JobOutcome::Invalid(format!("{n} replicas need more memory")),
            _ => toy(&CAPACITY, job),
        });
        assert_eq!(
            plan.results()[0].verdict,
            Verdict::Infeasible(
                "overloaded with up to 20 replicas; 21 replicas are refused: 21 replicas need more memory"
                    .into()
            )
        );
        let mut plan = SearchPlan::new(spec(95.0));
        drive_with(&mut plan, |_| JobOutcome::Invalid("does not fit".into()));
        assert_eq!(plan.results()[0].verdict, Verdict::Skipped("does not fit".into()));
    }

    #[test]
    fn a_job_given_up_above_counts_that_ran_skips_its_configuration_instead_of_bounding_it() {
        // A lost job (a crashed worker) at the third count of a replica search: Skipped with
        // the reason, keeping the points that ran; no bisect below it as if it were a limit.
        let mut plan =
            SearchPlan::new(SearchSpec::from_json_str(r#"{"goal": "min_replicas", "qps": 150}"#).unwrap());
        let mut tried = Vec::new();
        while !plan.is_done() {
            for job in plan.next_jobs(1) {
                tried.push(job.num_replicas.unwrap());
                if job.num_replicas == Some(4) {
                    plan.give_up(job.id, "the worker stopped: out of memory".into()).unwrap();
                } else {
                    plan.on_result(job.id, toy(&CAPACITY, &job)).unwrap();
                }
            }
        }
        assert_eq!(tried, [1, 2, 4]);
        let r = plan.results()[0];
        assert_eq!(r.verdict, Verdict::Skipped("the worker stopped: out of memory".into()));
        assert_eq!(r.points.len(), 2);
    }

    #[test]
    fn halving_stops_when_a_lower_rate_does_not_raise_attainment() {
        let mut plan = SearchPlan::new(spec("max_qps", 8.0));
        let mut runs = 0;
        while !plan.is_done() {
            for job in plan.next_jobs(8) {
                runs += 1;
                // Configuration 0 meets its objectives nowhere, for want of speed: 80% of
                // requests at any rate, never overloaded. The others gain 5 points per halving.
                let c = job.id.configuration;
                let attainment = if c == 0 { 0.8 } else { 0.5 + 0.05 * libm::log2(8.0 / job.qps) };
                let outcome =
                    RunOutcome { passed: false, attainment: Some(attainment), ..RunOutcome::default() };
                plan.on_result(job.id, JobOutcome::Ran(outcome)).unwrap();
            }
        }
        let first = plan.results()[0];
        assert_eq!(first.points.len(), 2, "{first:?}");
        assert!(matches!(&first.verdict, Verdict::Infeasible(why) if why.contains("low load")), "{first:?}");
        let second = plan.results()[1];
        assert!(second.points.len() > 5, "an improving configuration halves on: {second:?}");
        assert!(runs > 10);
    }

    #[test]
    fn results_for_unknown_or_repeated_jobs_are_refused() {
        let mut plan = SearchPlan::new(spec("max_qps", 1.0));
        let jobs = plan.next_jobs(2);
        assert_eq!(jobs.len(), 2);
        assert!(
            plan.next_jobs(10).iter().all(|j| j.id.configuration >= 2),
            "one job per configuration in flight"
        );
        let outcome = toy(&CAPACITY, &jobs[0]);
        plan.on_result(jobs[0].id, outcome.clone()).unwrap();
        assert_eq!(plan.on_result(jobs[0].id, outcome), Err(PlanError::UnknownJob(jobs[0].id)));
        let stranger = JobId { configuration: 99, step: 0 };
        assert!(plan.on_result(stranger, JobOutcome::Invalid(String::new())).is_err());
    }

    #[test]
    fn points_are_seen_while_a_configuration_searches_and_after() {
        let mut plan = SearchPlan::new(spec("max_qps", 1.0));
        assert!(plan.points(0).is_empty() && plan.points(99).is_empty());
        let job = plan.next_jobs(1).remove(0);
        plan.on_result(job.id, toy(&CAPACITY, &job)).unwrap();
        assert!(plan.results().is_empty(), "configuration 0 is still searching");
        assert_eq!(plan.points(0).len(), 1);
        assert_eq!(plan.points(0)[0].qps, job.qps);
        drive(&mut plan, &CAPACITY, 2, 3);
        for r in plan.results() {
            assert_eq!(plan.points(r.configuration as usize), &r.points[..]);
        }
    }
}
