//! Live validation for the page ([`ToWorker::Check`](llmsim_protocol::ToWorker::Check)): the
//! engine's validator run on a form before any run, with its errors at their fields, its
//! warnings and one GPU's memory. Needs no loaded file: a trace the page has is stood in for by
//! a two-request trace (the run validates the real one), other files' checks wait for the run.

use std::collections::BTreeSet;
use std::sync::Arc;

use llmsim_engine::workload::trace::{BlockHashes, TraceFormat, TraceRow};
use llmsim_engine::{Config, Inputs, SimConfig, Trace};
use llmsim_protocol::check::{CheckAnswer, CheckRequest, MemoryBreakdown};
use llmsim_protocol::{FieldError, is_trace_flag};

/// Validates `request`'s form as the engine would before running it.
pub fn check(request: &CheckRequest) -> CheckAnswer {
    let id = request.id;
    let config = match Config::from_pairs(request.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        Ok(config) => config,
        // The page parsed every field already; a text it let through is refused here all the same.
        Err(e) => {
            return CheckAnswer {
                id,
                errors: e.0.iter().map(FieldError::from).collect(),
                ..CheckAnswer::default()
            };
        }
    };
    let mut inputs = Inputs::new();
    let mut deferred = BTreeSet::new();
    for (flag, path) in SimConfig::required_files(&config) {
        if !request.available.contains(&path) {
            continue;
        }
        if is_trace_flag(flag) {
            inputs.add_trace(path, Arc::new(stand_in_trace()));
        } else {
            deferred.insert(flag);
        }
    }
    match SimConfig::build(&config, &inputs) {
        Ok(sim) => CheckAnswer {
            id,
            errors: Vec::new(),
            warnings: sim.warnings.clone(),
            memory: Some(MemoryBreakdown::of(&sim, request.typical_tokens)),
            decode_memory: MemoryBreakdown::decode_of(&sim, request.typical_tokens),
        },
        Err(e) => CheckAnswer {
            id,
            errors: e
                .0
                .iter()
                .filter(|e| !deferred.contains(e.flag.as_str()))
                .map(FieldError::from)
                .collect(),
            ..CheckAnswer::default()
        },
    }
}

/// A two-request trace with arrivals, a session and block hashes, standing in for an uploaded
/// trace during live validation (the worker validates the real one when the run starts).
fn stand_in_trace() -> Trace {
    Trace {
        name: "stand-in".to_string(),
        format: TraceFormat::VidurCsv,
        // Two rows: an interval trace needs at least one gap.
        rows: (0u32..2)
            .map(|i| TraceRow {
                arrived_at: Some(f64::from(i)),
                num_prefill_tokens: 16,
                num_decode_tokens: 1,
                session_id: Some(0),
                block_hashes: Some(BlockHashes { tokens_per_id: 16, ids: Arc::from(&[0u64, 1][..]) }),
                line: 2 + u64::from(i),
            })
            .collect(),
        warnings: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(pairs: &[(&str, &str)], available: &[&str]) -> CheckRequest {
        CheckRequest {
            id: 3,
            pairs: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            available: available.iter().map(|p| p.to_string()).collect(),
            typical_tokens: Some(1280.0),
        }
    }

    #[test]
    fn a_valid_form_gets_its_warnings_and_memory_under_its_id() {
        let answer = check(&request(&[("replica_config_model_name", "meta-llama/Meta-Llama-3-8B")], &[]));
        assert_eq!((answer.id, answer.errors.len()), (3, 0));
        let memory = answer.memory.expect("a valid form has a memory breakdown");
        assert_eq!(memory.typical.map(|t| t.0), Some(1280));
        assert!(answer.decode_memory.is_none(), "an aggregated cluster has one pool");
        let answer = check(&request(
            &[
                ("replica_config_model_name", "meta-llama/Meta-Llama-3-8B"),
                ("disaggregation_config_type", "prefill_decode"),
                ("disaggregation_config_decode_tensor_parallel_size", "2"),
            ],
            &[],
        ));
        let decode = answer.decode_memory.expect("the decode pool's memory breakdown");
        assert_eq!((decode.gpus_per_replica, answer.memory.unwrap().gpus_per_replica), (2, 1));
    }

    #[test]
    fn cross_field_errors_name_their_field() {
        // Each field parses; together they are refused: PP=3 does not divide 32 layers.
        let answer = check(&request(
            &[
                ("replica_config_model_name", "meta-llama/Meta-Llama-3-8B"),
                ("replica_config_num_pipeline_stages", "3"),
            ],
            &[],
        ));
        assert!(answer.memory.is_none());
        assert!(
            answer.errors.iter().any(|e| e.flag == "replica_config_num_pipeline_stages"),
            "{:?}",
            answer.errors
        );
    }

    #[test]
    fn available_traces_are_stood_in_for_and_missing_ones_are_errors() {
        let pairs = [
            ("request_generator_config_type", "trace"),
            ("trace_request_generator_config_trace_file", "mine.csv"),
            ("cache_config_enable_prefix_caching", "true"),
        ];
        let missing = check(&request(&pairs, &[]));
        assert_eq!(missing.errors.len(), 1);
        assert_eq!(missing.errors[0].flag, "trace_request_generator_config_trace_file");
        assert_eq!(check(&request(&pairs, &["mine.csv"])).errors, vec![]);
        // An uploaded interval trace passes too (it needs two arrivals).
        let gaps = [
            ("interval_generator_config_type", "trace"),
            ("trace_request_interval_generator_config_trace_file", "gaps.csv"),
        ];
        assert_eq!(check(&request(&gaps, &[])).errors.len(), 1);
        assert_eq!(check(&request(&gaps, &["gaps.csv"])).errors, vec![]);
    }
}
