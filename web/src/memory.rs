//! One GPU's memory before a run: the breakdown ([`MemoryBreakdown`]) comes from the engine's
//! memory plan in the worker (`live_check`); the page knows the workload's mean request
//! length, which says how many typical requests the KV cache holds.

use llmsim_engine::FlagValue;
pub use llmsim_protocol::check::MemoryBreakdown;

use crate::form::FormState;
use crate::page::Uploads;
use crate::presets;

/// Mean tokens (prompt + output) of a request of the trace the page ships
/// ([`presets::SHIPPED_TRACE`]; checked against the file by a test).
pub const SHIPPED_TRACE_MEAN_TOKENS: f64 = 7387.2;

/// The mean tokens (prompt + output) of the workload's requests, when the form says them:
/// fixed and uniform lengths, or a trace the page read or ships. `None` otherwise (Zipf
/// lengths, a trace still being read).
pub fn typical_request_tokens(form: &FormState, uploads: &Uploads) -> Option<f64> {
    let (config, _) = form.parse();
    let int = |flag: &str| match config.get(flag) {
        FlagValue::Int(n) => Some(n as f64),
        _ => None,
    };
    let trace = |path: &str| {
        if path == presets::SHIPPED_TRACE {
            Some(SHIPPED_TRACE_MEAN_TOKENS)
        } else {
            uploads.mean_request_tokens(path)
        }
    };
    let text = |flag: &str| config.get(flag).to_text();
    if text("request_generator_config_type") == "trace" {
        return trace(&text("trace_request_generator_config_trace_file"));
    }
    match text("length_generator_config_type").as_str() {
        "fixed" => Some(
            int("fixed_request_length_generator_config_prefill_tokens")?
                + int("fixed_request_length_generator_config_decode_tokens")?,
        ),
        "uniform" => Some(
            (int("uniform_request_length_generator_config_min_tokens")?
                + int("uniform_request_length_generator_config_max_tokens")?)
                / 2.0,
        ),
        "trace" => trace(&text("trace_request_length_generator_config_trace_file")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mean_request_length_comes_from_the_workload() {
        let form = |pairs: &[(&str, &str)]| FormState::from_pairs(pairs.iter().copied()).0;
        let uploads = Uploads::default();
        let fixed = form(&[
            ("length_generator_config_type", "fixed"),
            ("fixed_request_length_generator_config_prefill_tokens", "1024"),
            ("fixed_request_length_generator_config_decode_tokens", "256"),
        ]);
        assert_eq!(typical_request_tokens(&fixed, &uploads), Some(1280.0));
        let uniform = form(&[
            ("length_generator_config_type", "uniform"),
            ("uniform_request_length_generator_config_min_tokens", "1000"),
            ("uniform_request_length_generator_config_max_tokens", "3000"),
        ]);
        assert_eq!(typical_request_tokens(&uniform, &uploads), Some(2000.0));
        let shipped = form(&[
            ("request_generator_config_type", "trace"),
            ("trace_request_generator_config_trace_file", presets::SHIPPED_TRACE),
        ]);
        assert_eq!(typical_request_tokens(&shipped, &uploads), Some(SHIPPED_TRACE_MEAN_TOKENS));
        assert_eq!(
            typical_request_tokens(&form(&[("length_generator_config_type", "zipf")]), &uploads),
            None
        );
    }

    #[test]
    fn the_shipped_traces_mean_length_is_the_files() {
        let path =
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).join(presets::SHIPPED_TRACE);
        let text = std::fs::read_to_string(path).unwrap();
        let trace = llmsim_engine::parse_trace("t", &text, &mut |_| {}).unwrap();
        let mean =
            trace.rows.iter().map(|r| f64::from(r.num_prefill_tokens + r.num_decode_tokens)).sum::<f64>()
                / trace.rows.len() as f64;
        assert!((mean - SHIPPED_TRACE_MEAN_TOKENS).abs() < 0.1, "{mean}");
    }
}
