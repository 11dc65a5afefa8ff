//! The flag table and the catalogues, as JSON text that the Python half turns into lists of
//! dicts (`llmsim.flags()`, `llmsim.models()`, `llmsim.devices()`, `llmsim.nodes()`).

use llmsim_engine::catalog;
use llmsim_engine::config::{FlagRole, InputFile};
use llmsim_engine::{FlagDef, FlagGroup, FlagKind, all_flags};
use pyo3::prelude::*;
use serde_json::{Value, json};

/// Every flag: name, kind, default (`None` for none), help, choices, group, role, and the
/// selector flag and values that make it apply.
#[pyfunction]
pub fn flags_json() -> String {
    Value::Array(all_flags().iter().map(flag).collect()).to_string()
}

fn flag(def: &FlagDef) -> Value {
    let (role, file_kind) = match def.role {
        FlagRole::Setting => ("setting", None),
        FlagRole::Seed => ("seed", None),
        FlagRole::OutputDir => ("output_dir", None),
        FlagRole::Input(kind) => (
            "input_file",
            Some(match kind {
                InputFile::RequestTrace => "request_trace",
                InputFile::ArrivalTimes => "arrival_times",
                InputFile::ModelConfig => "model_config",
                InputFile::ProfileTable => "profile_table",
            }),
        ),
    };
    json!({
        "name": def.name,
        "kind": kind(&def.kind),
        "default": def.default_value().to_json(),
        "help": def.help,
        "choices": def.choices(),
        "group": group(def.group),
        "role": role,
        "file_kind": file_kind,
        "applies_when": def.shown_when.as_ref().map(|(flag, values)| json!({"flag": flag, "values": values})),
    })
}

fn kind(kind: &FlagKind) -> &'static str {
    match kind {
        FlagKind::Bool => "bool",
        FlagKind::Int => "int",
        FlagKind::OptInt => "optional_int",
        FlagKind::Float => "float",
        FlagKind::OptFloat => "optional_float",
        FlagKind::Str => "str",
        FlagKind::Path => "path",
        FlagKind::Choice(_) => "choice",
        FlagKind::IntList => "int_list",
        FlagKind::BoolList => "bool_list",
    }
}

fn group(group: FlagGroup) -> &'static str {
    match group {
        FlagGroup::General => "general",
        FlagGroup::Cluster => "cluster",
        FlagGroup::Cache => "cache",
        FlagGroup::Disaggregation => "disaggregation",
        FlagGroup::Workload => "workload",
        FlagGroup::GlobalScheduler => "global_scheduler",
        FlagGroup::ReplicaScheduler => "replica_scheduler",
        FlagGroup::Predictor => "predictor",
        FlagGroup::Metrics => "metrics",
    }
}

/// The model catalogue: each model's Hugging Face id, aliases and shape.
#[pyfunction]
pub fn models_json() -> String {
    let models = catalog::models().iter().map(|m| {
        json!({
            "name": m.name,
            "aliases": m.aliases,
            "num_layers": m.num_layers,
            "num_q_heads": m.num_q_heads,
            "num_kv_heads": m.num_kv_heads,
            "embedding_dim": m.embedding_dim,
            "head_dim": m.head_dim(),
            "mlp_hidden_dim": m.mlp_hidden_dim,
            "use_gated_mlp": m.use_gated_mlp,
            "vocab_size": m.vocab_size,
            "max_model_len": m.max_model_len,
            "tie_word_embeddings": m.tie_word_embeddings,
            "moe": m.moe.as_ref().map(|x| json!({
                "num_experts": x.num_experts,
                "top_k": x.top_k,
                "expert_hidden_dim": x.expert_hidden_dim,
                "shared_expert_hidden_dim": x.shared_expert_hidden_dim,
            })),
        })
    });
    Value::Array(models.collect()).to_string()
}

/// The device catalogue: each GPU's id and datasheet figures.
#[pyfunction]
pub fn devices_json() -> String {
    let devices = catalog::devices().iter().map(|d| {
        json!({
            "name": d.name,
            "display_name": d.display_name,
            "fp16_tflops": d.fp16_tflops,
            "fp8_tflops": d.fp8_tflops,
            "fp4_tflops": d.fp4_tflops,
            "memory_gb": d.memory_gb,
            "memory_bandwidth_gbps": d.memory_bandwidth_gbps,
            "calibration": d.calibration_source(),
        })
    });
    Value::Array(devices.collect()).to_string()
}

/// The node (network device) catalogue.
#[pyfunction]
pub fn nodes_json() -> String {
    let nodes = catalog::nodes().iter().map(|n| {
        json!({
            "name": n.name,
            "device": n.device,
            "devices_per_node": n.devices_per_node,
            "intra_node_bandwidth_gbps": n.intra_node_bandwidth_gbps,
            "intra_node_latency_us": n.intra_node_latency_us,
            "inter_node_bandwidth_gbps": n.inter_node_bandwidth_gbps,
            "inter_node_latency_us": n.inter_node_latency_us,
        })
    });
    Value::Array(nodes.collect()).to_string()
}
