//! The capacity search's messages: the page's plan hands one simulation ([`RunJob`]) to a
//! worker of its pool, which answers with what came of it ([`JobDone`]). The plan stays in the
//! page; workers only simulate.

use serde::{Deserialize, Serialize};

use llmsim_engine::search::{Job, JobId, JobOutcome};

/// Run one job of a search (`ToWorker::RunJob`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunJob {
    /// The job, with every flag of its run.
    pub job: Job,
}

/// A job's outcome (`FromWorker::JobDone`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobDone {
    /// The job.
    pub id: JobId,
    /// What came of it.
    pub outcome: JobOutcome,
    /// Milliseconds the worker spent on it (wall clock).
    pub elapsed_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FromWorker, ToWorker};
    use llmsim_engine::search::RunOutcome;

    #[test]
    fn search_messages_round_trip_through_json() {
        let id = JobId { configuration: 3, step: 1 };
        let to = ToWorker::RunJob(RunJob {
            job: Job { id, qps: 2.5, num_replicas: Some(2), flags: vec![("seed".into(), "7".into())] },
        });
        let text = serde_json::to_string(&to).unwrap();
        assert!(text.starts_with("{\"run_job\":{"), "{text}");
        assert_eq!(serde_json::from_str::<ToWorker>(&text).unwrap(), to);
        let outcome = RunOutcome { passed: true, ttft_p90_s: Some(0.25), ..RunOutcome::default() };
        for outcome in [JobOutcome::Ran(outcome), JobOutcome::Invalid("does not fit".into())] {
            let from = FromWorker::JobDone(JobDone { id, outcome, elapsed_ms: 12.0 });
            let text = serde_json::to_string(&from).unwrap();
            assert_eq!(serde_json::from_str::<FromWorker>(&text).unwrap(), from);
        }
    }
}
