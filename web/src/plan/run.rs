//! A search running on a pool of workers: the engine's plan decides every job; this hands
//! them to idle workers and feeds results back by job id, so the answers are the same whatever
//! the number of workers and the order results arrive in. The workers only simulate.

use llmsim_engine::search::{Job, JobId, JobOutcome, PlanError, SearchPlan, SearchSpec};

/// Where a search stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    /// Jobs are in flight or waiting.
    Running,
    /// Every configuration is finished.
    Finished,
    /// Stopped by the user; the finished configurations stay.
    Cancelled,
}

/// One search on `workers` workers.
#[derive(Clone, Debug)]
pub struct SearchRun {
    plan: SearchPlan,
    /// The job each worker runs, by worker index.
    busy: Vec<Option<JobId>>,
    state: RunState,
    jobs_done: usize,
    started_ms: f64,
    elapsed_ms: f64,
    busy_ms: f64,
}

impl SearchRun {
    /// A search of `spec` on `workers` workers (at least one), started at `now_ms`.
    pub fn new(spec: SearchSpec, workers: usize, now_ms: f64) -> SearchRun {
        let mut run = SearchRun {
            plan: SearchPlan::new(spec),
            busy: vec![None; workers.max(1)],
            state: RunState::Running,
            jobs_done: 0,
            started_ms: now_ms,
            elapsed_ms: 0.0,
            busy_ms: 0.0,
        };
        run.check_finished(now_ms);
        run
    }

    /// Jobs for the idle workers, as `(worker, job)`: what to send now.
    pub fn dispatch(&mut self) -> Vec<(usize, Job)> {
        if self.state != RunState::Running {
            return Vec::new();
        }
        let idle: Vec<usize> = (0..self.busy.len()).filter(|w| self.busy[*w].is_none()).collect();
        let jobs = self.plan.next_jobs(idle.len());
        idle.into_iter()
            .zip(jobs)
            .map(|(w, job)| {
                self.busy[w] = Some(job.id);
                (w, job)
            })
            .collect()
    }

    /// A worker's result. Results of a cancelled search, or of a job the worker was not
    /// running, are ignored.
    pub fn on_done(
        &mut self,
        worker: usize,
        id: JobId,
        outcome: JobOutcome,
        now_ms: f64,
    ) -> Result<(), PlanError> {
        self.settle(worker, id, now_ms, |plan| plan.on_result(id, outcome))
    }

    /// Frees `worker` of job `id` and hands the plan its end (`take`), if the job is still
    /// the worker's while the search runs; a late answer counts for nothing.
    fn settle(
        &mut self,
        worker: usize,
        id: JobId,
        now_ms: f64,
        take: impl FnOnce(&mut SearchPlan) -> Result<(), PlanError>,
    ) -> Result<(), PlanError> {
        if self.state != RunState::Running || self.busy.get(worker) != Some(&Some(id)) {
            return Ok(());
        }
        self.busy[worker] = None;
        self.jobs_done += 1;
        take(&mut self.plan)?;
        self.check_finished(now_ms);
        Ok(())
    }

    /// Adds the time a worker spent on a job it reported (while the search runs): against the
    /// wall time, how many workers were busy on average.
    pub fn add_busy_ms(&mut self, ms: f64) {
        if self.state == RunState::Running && ms.is_finite() && ms > 0.0 {
            self.busy_ms += ms;
        }
    }

    /// Worker time spent on reported jobs, ms.
    pub fn busy_ms(&self) -> f64 {
        self.busy_ms
    }

    /// A worker died running its job: the job's configuration is given up with `reason`
    /// (`SearchPlan::give_up`: a crash says nothing about capacity, so it is no replica limit,
    /// and it would likely recur).
    pub fn on_worker_lost(&mut self, worker: usize, reason: &str, now_ms: f64) -> Result<(), PlanError> {
        match self.busy.get(worker).copied().flatten() {
            Some(id) => self
                .settle(worker, id, now_ms, |plan| plan.give_up(id, format!("the worker stopped: {reason}"))),
            None => Ok(()),
        }
    }

    /// Stops the search: the workers are to be terminated; finished rows stay.
    pub fn cancel(&mut self, now_ms: f64) {
        if self.state == RunState::Running {
            self.state = RunState::Cancelled;
            self.elapsed_ms = now_ms - self.started_ms;
            self.busy.iter_mut().for_each(|b| *b = None);
        }
    }

    fn check_finished(&mut self, now_ms: f64) {
        if self.plan.is_done() {
            self.state = RunState::Finished;
            self.elapsed_ms = now_ms - self.started_ms;
        }
    }

    /// The plan (its spec and results).
    pub fn plan(&self) -> &SearchPlan {
        &self.plan
    }

    /// Where the search stands.
    pub fn state(&self) -> RunState {
        self.state
    }

    /// Workers in the pool.
    pub fn workers(&self) -> usize {
        self.busy.len()
    }

    /// Simulations finished.
    pub fn jobs_done(&self) -> usize {
        self.jobs_done
    }

    /// Simulations running now.
    pub fn jobs_running(&self) -> usize {
        self.busy.iter().filter(|b| b.is_some()).count()
    }

    /// Wall time from start to finish or cancel, ms (0 while running).
    pub fn elapsed_ms(&self) -> f64 {
        self.elapsed_ms
    }

    /// A status line: configurations and simulations done.
    pub fn status_line(&self) -> String {
        let (done, all) = self.plan.progress();
        let what = match self.state {
            RunState::Running => format!("running on {} workers", self.workers()),
            RunState::Finished => {
                format!(
                    "finished in {:.1} s on {} workers ({:.1} s of simulation in the workers)",
                    self.elapsed_ms / 1e3,
                    self.workers(),
                    self.busy_ms / 1e3
                )
            }
            RunState::Cancelled => "cancelled".to_string(),
        };
        format!("{done} of {all} configurations, {} simulations: {what}", self.jobs_done)
    }
}
