//! A capacity search's simulation in the worker: the page's plan sends a job, the worker runs
//! it with the files it has loaded (stopping at an overload verdict, as every executor does)
//! and answers with the outcome. Plain Rust, tested natively; `glue` fetches the shipped files
//! the job reads first.

use llmsim_engine::search::{JobOutcome, run_job};
use llmsim_protocol::search::{JobDone, RunJob};

use crate::session::Session;

/// Runs `request`'s job on the session's files; `now_ms` is the wall clock (for the timing).
pub fn run(session: &Session, request: &RunJob, now_ms: &dyn Fn() -> f64) -> JobDone {
    let started = now_ms();
    let job = &request.job;
    let outcome = match job.config() {
        // An invalid point: the plan skips its configuration with the reason.
        Err(e) => JobOutcome::Invalid(e.0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")),
        Ok(config) => {
            let inputs = session.inputs(&config);
            // The page stops a search by terminating its workers: a job never gives up itself.
            run_job(job, &inputs, &mut |_| false).expect("a job that is never stopped finishes")
        }
    };
    JobDone { id: job.id, outcome, elapsed_ms: now_ms() - started }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmsim_engine::search::{SearchPlan, SearchSpec};

    fn session_with_trace() -> Session {
        let mut session = Session::new();
        let path = "data/traces/conversation_synth.csv";
        let bytes = std::fs::read(format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        session
            .load("trace_request_length_generator_config_trace_file", path, bytes, &mut |_, _| {})
            .unwrap();
        session
    }

    #[test]
    fn a_search_runs_on_the_worker_as_on_the_engine() {
        let spec = SearchSpec::from_json_value(&serde_json::json!({
            "base": {"replica_config_model_name": "meta-llama/Meta-Llama-3-8B",
                     "replica_config_device": "h100", "replica_config_network_device": "h100_dgx",
                     "length_generator_config_type": "trace",
                     "trace_request_length_generator_config_trace_file": "data/traces/conversation_synth.csv"},
            "space": {"replica_config_tensor_parallel_size": [1, 3]},
            "slos": [{"metric": "ttft", "quantile": 0.9, "max_s": 2.0}],
            "goal": "max_qps", "qps": 4, "num_requests": 60, "qps_granularity": 0.2
        }))
        .unwrap();
        let session = session_with_trace();
        let mut plan = SearchPlan::new(spec);
        while !plan.is_done() {
            for job in plan.next_jobs(4) {
                let done = run(&session, &RunJob { job: job.clone() }, &|| 0.0);
                assert_eq!(done.id, job.id);
                let inputs = session.inputs(&job.config().unwrap());
                let direct = run_job(&job, &inputs, &mut |_| false).unwrap();
                assert_eq!(done.outcome, direct, "the worker runs a job as the engine does");
                plan.on_result(done.id, done.outcome).unwrap();
            }
        }
        let results = plan.results();
        assert!(results[0].feasible(), "{:?}", results[0].verdict);
        // TP 3 does not divide the heads: skipped with the validator's reason.
        assert!(
            matches!(&results[1].verdict, llmsim_engine::search::Verdict::Skipped(_)),
            "{:?}",
            results[1].verdict
        );
    }
}
