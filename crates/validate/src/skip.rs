//! Why a point is not simulated: what llmsim cannot model yet, so the tables show coverage.

use std::fmt;

use llmsim_engine::ConfigErrors;

/// A point llmsim cannot model (yet), with the detail that says what is missing.
#[derive(Clone, Debug, PartialEq)]
pub enum SkipReason {
    /// Prefill/decode disaggregation whose row does not size its pools (no `prefill_*` /
    /// `decode_*` columns, or blank worker counts or batch sizes).
    Disaggregated,
    /// The `system` column names no GPU system the harness knows.
    UnknownSystem(String),
    /// The GPU system maps to a device or node llmsim's catalogue lacks.
    SystemNotInCatalogue { system: String, message: String },
    /// A weight dtype llmsim has no model of (MXFP4, INT8, ...).
    Precision { column: &'static str, value: String },
    /// GEMMs and experts in different dtypes that llmsim cannot express with one weight dtype.
    MixedPrecision { gemm: &'static str, moe: &'static str },
    /// A serving engine the harness has no defaults for.
    UnknownBackend(String),
    /// The model is not in the catalogue, or has an architecture the engine refuses.
    Model { model: String, message: String },
    /// The engine refused the configuration for another reason (e.g. it does not fit).
    Refused { flag: String, message: String },
    /// The row's measured figures are impossible on the deployment its columns state (its
    /// TPOT is below the time a decode step needs to read the KV cache its GPUs hold).
    BelowPhysicalBound { message: String },
    /// An aggregated row whose stated layout no serving engine starts (its TP splits the
    /// attention heads unevenly, with no attention DP): its `tp_size` counts the GPUs of several
    /// workers whose split the row does not record.
    LayoutNotRunnable { message: String },
    /// The row's concurrency is not the one its server ran (a benchmark script's bug recorded
    /// the client's limit; the run's own is not in the row).
    ConcurrencyNotRecorded { message: String },
    /// The simulation ran but refused requests (e.g. one that can never fit the KV cache).
    RequestsRefused { refused: u64, total: u64, reason: String },
}

impl SkipReason {
    /// The category the coverage table counts by.
    pub fn kind(&self) -> &'static str {
        match self {
            SkipReason::Disaggregated => "disaggregated serving",
            SkipReason::UnknownSystem(_) => "unknown system",
            SkipReason::SystemNotInCatalogue { .. } => "system not in the catalogue",
            SkipReason::Precision { .. } => "weight dtype not modelled",
            SkipReason::MixedPrecision { .. } => "mixed GEMM/expert dtypes",
            SkipReason::UnknownBackend(_) => "unknown serving engine",
            SkipReason::Model { .. } => "model not in the catalogue or unsupported",
            SkipReason::Refused { .. } => "refused by the engine",
            SkipReason::RequestsRefused { .. } => "requests refused in the run",
            SkipReason::BelowPhysicalBound { .. } => "measured below the stated deployment's bound",
            SkipReason::LayoutNotRunnable { .. } => "layout no engine runs",
            SkipReason::ConcurrencyNotRecorded { .. } => "run's concurrency not recorded",
        }
    }

    /// Classifies the engine's refusal of a point's configuration: the device or node first
    /// (the system), then the model, then the rest.
    pub fn from_config_errors(errors: &ConfigErrors, system: &str, model: &str) -> SkipReason {
        let flag_is = |names: &[&str]| errors.0.iter().find(|e| names.contains(&e.flag.as_str()));
        if let Some(e) = flag_is(&["replica_config_device", "replica_config_network_device"]) {
            return SkipReason::SystemNotInCatalogue {
                system: system.to_string(),
                message: e.message.clone(),
            };
        }
        if let Some(e) = flag_is(&["replica_config_model_name", "replica_config_model_config_file"]) {
            return SkipReason::Model { model: model.to_string(), message: e.message.clone() };
        }
        let first = &errors.0[0];
        SkipReason::Refused { flag: first.flag.clone(), message: first.message.clone() }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Disaggregated => {
                f.write_str("prefill/decode disaggregation without its pools' sizes (prefill_* / decode_* workers and batch)")
            }
            SkipReason::UnknownSystem(system) => write!(f, "unknown system '{system}'"),
            SkipReason::SystemNotInCatalogue { system, message } => {
                write!(f, "system {system} is not in llmsim's catalogue: {message}")
            }
            SkipReason::Precision { column, value } => {
                write!(f, "{column} {value} is not modelled (llmsim has bf16, fp16, fp8, NVFP4 and INT4 weight-only weights)")
            }
            SkipReason::MixedPrecision { gemm, moe } => {
                write!(f, "GEMMs in {gemm} and experts in {moe}: llmsim has one weight dtype")
            }
            SkipReason::UnknownBackend(b) => {
                write!(f, "unknown serving engine '{b}' (the harness knows vllm, sglang and trtllm)")
            }
            SkipReason::Model { model, message } => write!(f, "model {model}: {message}"),
            SkipReason::Refused { flag, message } if flag.is_empty() => write!(f, "{message}"),
            SkipReason::Refused { flag, message } => write!(f, "--{flag}: {message}"),
            SkipReason::BelowPhysicalBound { message }
            | SkipReason::LayoutNotRunnable { message }
            | SkipReason::ConcurrencyNotRecorded { message } => {
                f.write_str(message)
            }
            SkipReason::RequestsRefused { refused, total, reason } => {
                write!(f, "{refused} of {total} requests refused: {reason}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use llmsim_engine::ConfigError;

    use super::*;

    #[test]
    fn engine_errors_are_classified_system_first() {
        let errors = ConfigErrors(vec![
            ConfigError::new("replica_config_model_name", "unknown model 'x/y'"),
            ConfigError::new("replica_config_device", "unknown device 'b300'"),
        ]);
        let reason = SkipReason::from_config_errors(&errors, "b300_sxm", "x/y");
        assert_eq!(reason.kind(), "system not in the catalogue");
        assert_eq!(reason.to_string(), "system b300_sxm is not in llmsim's catalogue: unknown device 'b300'");

        let errors = ConfigErrors(vec![ConfigError::new("replica_config_model_name", "unknown model 'x/y'")]);
        let reason = SkipReason::from_config_errors(&errors, "h200_sxm", "x/y");
        assert_eq!(reason.to_string(), "model x/y: unknown model 'x/y'");

        let errors = ConfigErrors(vec![ConfigError::new("", "the model does not fit")]);
        let reason = SkipReason::from_config_errors(&errors, "h200_sxm", "x/y");
        assert_eq!(
            (reason.kind(), reason.to_string().as_str()),
            ("refused by the engine", "the model does not fit")
        );
    }
}
