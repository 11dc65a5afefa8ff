//! The replica: its model (from the catalogue or a Hugging Face config.json), device (from the
//! catalogue or described by flags), node, parallelism and dtypes, checked against each other.

use super::file_name;
use crate::catalog::{self, DeviceSpec, ModelArch, NodeSpec};
use crate::config::{ConfigError, Dtype, ParallelSpec, Params, ReplicaSpec, closest};
use crate::custom_device;
use crate::limits::MAX_PARALLEL_DEGREE;

/// Reads the replica's flags; `None` after recording an error naming each bad one.
pub(super) fn read(p: &mut Params, warnings: &mut Vec<String>) -> Option<ReplicaSpec> {
    let model = read_model(p, warnings);
    let device = read_device(p);
    let node = read_node(p);
    let max_degree = i64::from(MAX_PARALLEL_DEGREE);
    let tp = p.int_in("replica_config_tensor_parallel_size", 1, max_degree) as u32;
    let pp = p.int_in("replica_config_num_pipeline_stages", 1, max_degree) as u32;
    let ep = p.int_in("replica_config_expert_parallel_size", 1, max_degree) as u32;
    let dp = p.int_in("replica_config_attention_dp_size", 1, max_degree) as u32;
    let weight_dtype = Dtype::parse(&p.string("replica_config_weight_dtype"));
    let kv_cache_dtype = Dtype::parse(&p.string("replica_config_kv_cache_dtype"));
    let (model, device, node) = (model?, device?, node?);
    let parallel = ParallelSpec {
        tensor_parallel_size: tp,
        num_pipeline_stages: pp,
        expert_parallel_size: ep,
        attention_dp_size: dp,
    };
    check_parallelism(p, &model, &node, parallel);
    if node.device != device.name {
        let matching = match catalog::matching_node(&device.name) {
            Some(m) => {
                format!("; --replica_config_network_device {} is the node of {} GPUs", m.name, device.name)
            }
            None => format!("; no catalogued node holds {} GPUs", device.name),
        };
        warnings.push(format!(
            "network device {} is a node of {} GPUs, but the replica device is {}: interconnect figures come from {}{matching}",
            node.name, node.device, device.name, node.name
        ));
    }
    let tensor_cores = match weight_dtype {
        Dtype::Fp8 => Some(("FP8", device.fp8_tflops)),
        Dtype::Fp4 => Some(("FP4", device.fp4_tflops)),
        // Weight-only INT4 runs at the 16-bit rate everywhere (dequantised in the kernel).
        Dtype::Bf16 | Dtype::Fp16 | Dtype::Int4 => None,
    };
    if let Some((kind, None)) = tensor_cores {
        warnings.push(format!(
            "{} has no {kind} tensor cores: {} weights save memory but GEMMs run at the FP16 rate",
            device.name,
            kind.to_ascii_lowercase()
        ));
    }
    Some(ReplicaSpec { model, device, node, parallel, weight_dtype, kv_cache_dtype })
}

/// The model: a Hugging Face config.json if one is given, else the catalogue entry.
fn read_model(p: &mut Params, warnings: &mut Vec<String>) -> Option<ModelArch> {
    let model_name = p.string("replica_config_model_name");
    match p.opt_string("replica_config_model_config_file") {
        Some(path) => match p.inputs().text(&path) {
            Ok(text) => match crate::hf_config::model_from_hf_config(&model_name, &text) {
                Ok(hf) => {
                    let mut arch = hf.arch;
                    // Without an explicit --replica_config_model_name, the model is named by
                    // its file, not by the flag's default.
                    if !p.config().is_set("replica_config_model_name") {
                        arch.name = hf.name_or_path.unwrap_or_else(|| file_name(&path).to_string());
                    }
                    warnings.extend(hf.warnings.iter().map(|w| format!("{path}: {w}")));
                    Some(arch)
                }
                Err(e) => {
                    let mut error = ConfigError::new(
                        "replica_config_model_config_file",
                        format!("{path}: {}", e.message),
                    );
                    if let Some(hint) = e.hint {
                        error = error.with_hint(hint);
                    }
                    p.error(error);
                    None
                }
            },
            Err(message) => {
                p.error(ConfigError::new("replica_config_model_config_file", message));
                None
            }
        },
        None => match catalog::find_model(&model_name) {
            Some(m) => Some(m.clone()),
            None => {
                let mut e =
                    ConfigError::new("replica_config_model_name", format!("unknown model '{model_name}'"));
                e = match catalog::suggest_model(&model_name) {
                    Some(best) => e.with_hint(format!("did you mean '{best}'? Or give a Hugging Face config.json with --replica_config_model_config_file")),
                    None => e.with_hint("`llmsim --list-models` lists the catalogue; or give a config.json with --replica_config_model_config_file"),
                };
                p.error(e);
                None
            }
        },
    }
}

/// The device: described by flags (`custom`), else the catalogue entry.
fn read_device(p: &mut Params) -> Option<DeviceSpec> {
    let device_name = p.string("replica_config_device");
    let device = if device_name == custom_device::NAME {
        custom_device::parse(p)
    } else {
        catalog::find_device(&device_name).cloned()
    };
    if device.is_none() && device_name != custom_device::NAME {
        let names: Vec<&str> = catalog::devices().iter().map(|d| d.name.as_str()).collect();
        let mut e = ConfigError::new(
            "replica_config_device",
            format!("unknown device '{device_name}'; known: {}", names.join(", ")),
        );
        if let Some(best) = closest(&device_name, names.iter().copied()) {
            e = e.with_hint(format!("did you mean '{best}'?"));
        }
        p.error(e);
    }
    device
}

/// The node (network device) from the catalogue.
fn read_node(p: &mut Params) -> Option<NodeSpec> {
    let node_name = p.string("replica_config_network_device");
    let node = catalog::find_node(&node_name).cloned();
    if node.is_none() {
        let names: Vec<&str> = catalog::nodes().iter().map(|n| n.name.as_str()).collect();
        let mut e = ConfigError::new(
            "replica_config_network_device",
            format!("unknown network device '{node_name}'; known: {}", names.join(", ")),
        );
        if let Some(best) = closest(&node_name, names.iter().copied()) {
            e = e.with_hint(format!("did you mean '{best}'?"));
        }
        p.error(e);
    }
    node
}

/// Refuses a TP or PP degree that does not divide the model, or a TP×DP×PP that neither fits in
/// one node nor fills whole nodes, and expert or attention data parallelism where it is not
/// modelled.
fn check_parallelism(p: &mut Params, model: &ModelArch, node: &NodeSpec, parallel: ParallelSpec) {
    let (tp, pp) = (parallel.tensor_parallel_size, parallel.num_pipeline_stages);
    check_moe_parallelism(p, model, parallel);
    let divisors = |n: u32| -> String {
        (1..=n.min(64)).filter(|d| n.is_multiple_of(*d)).map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
    };
    if !model.num_layers.is_multiple_of(pp) {
        p.error(
            ConfigError::new(
                "replica_config_num_pipeline_stages",
                format!("PP={pp} does not divide {}'s {} layers", model.name, model.num_layers),
            )
            .with_hint(format!("choose PP from {}", divisors(model.num_layers))),
        );
    }
    if !model.num_q_heads.is_multiple_of(tp) || !model.embedding_dim.is_multiple_of(tp) {
        let common = (1..=model.num_q_heads.min(64))
            .filter(|d| model.num_q_heads.is_multiple_of(*d) && model.embedding_dim.is_multiple_of(*d));
        p.error(
            ConfigError::new(
                "replica_config_tensor_parallel_size",
                format!(
                    "TP={tp} does not divide {}'s {} attention heads and hidden size {}",
                    model.name, model.num_q_heads, model.embedding_dim
                ),
            )
            .with_hint(format!(
                "choose TP from {}",
                common.map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
            )),
        );
    }
    if model.no_tensor_parallel && tp > 1 {
        p.error(
            ConfigError::new(
                "replica_config_tensor_parallel_size",
                format!("{} does not support tensor parallelism", model.name),
            )
            .with_hint("use TP=1"),
        );
    }
    let world = parallel.world_size();
    if world > node.devices_per_node && !world.is_multiple_of(node.devices_per_node) {
        // Named by the TP flag, though PP and DP count too (`is_world_size_error` lets the
        // decode pool name whichever of its own flags the user set).
        let product = if parallel.attention_dp_size > 1 { "TP×DP×PP" } else { "TP×PP" };
        p.error(
            ConfigError::new(
                "replica_config_tensor_parallel_size",
                format!(
                    "{product} = {world} GPUs{WORLD_SIZE_MISFIT} {} node ({} GPUs) nor fills whole nodes",
                    node.name, node.devices_per_node
                ),
            )
            .with_hint(format!("make {product} at most {} or a multiple of it", node.devices_per_node)),
        );
    }
}

/// The words that mark the error of a replica's GPU count fitting neither one node nor whole
/// nodes.
const WORLD_SIZE_MISFIT: &str = " neither fits in one";

/// Whether `error` is the replica's GPU-count error (TP × DP × PP against the node), which the
/// TP flag names though each of the three flags counts.
pub(super) fn is_world_size_error(error: &ConfigError) -> bool {
    error.flag == "replica_config_tensor_parallel_size" && error.message.contains(WORLD_SIZE_MISFIT)
}

/// Expert parallelism and attention data parallelism: only for an MoE model, without pipeline
/// parallelism (not modelled together), EP dividing the stage's TP × DP GPUs and the experts.
fn check_moe_parallelism(p: &mut Params, model: &ModelArch, parallel: ParallelSpec) {
    let (ep, dp) = (parallel.expert_parallel_size, parallel.attention_dp_size);
    if ep == 1 && dp == 1 {
        return;
    }
    let flag =
        if ep > 1 { "replica_config_expert_parallel_size" } else { "replica_config_attention_dp_size" };
    let Some(moe) = &model.moe else {
        p.error(
            ConfigError::new(flag, format!("{} is not a mixture of experts: expert parallelism and attention data parallelism apply only to MoE models", model.name))
                .with_hint("a dense model's data parallelism is more replicas: --cluster_config_num_replicas"),
        );
        return;
    };
    if parallel.num_pipeline_stages > 1 {
        p.error(
            ConfigError::new(flag, "expert parallelism and attention data parallelism are not modelled with pipeline parallelism")
                .with_hint("use --replica_config_num_pipeline_stages 1"),
        );
    }
    let stage = parallel.stage_size();
    if !stage.is_multiple_of(ep) {
        p.error(
            ConfigError::new(
                "replica_config_expert_parallel_size",
                format!("EP={ep} does not divide the stage's TP×DP = {stage} GPUs"),
            )
            .with_hint("experts are split over TP×DP/EP GPUs each: choose EP dividing TP×DP"),
        );
    }
    if !moe.num_experts.is_multiple_of(ep) {
        p.error(
            ConfigError::new(
                "replica_config_expert_parallel_size",
                format!("EP={ep} does not divide {}'s {} routed experts", model.name, moe.num_experts),
            )
            .with_hint("every EP rank holds the same number of experts"),
        );
    }
}

/// Refuses expert or attention data parallelism where llmsim does not model it: under a
/// predictor other than the roofline (the profile tables have no all-to-all or per-rank
/// experts). Disaggregated pools take them per pool (the decode pool through
/// `--disaggregation_config_decode_*`, `sim_config/disagg.rs`).
pub(super) fn check_moe_deployment(p: &mut Params, replica: &ReplicaSpec) {
    let parallel = replica.parallel;
    if parallel.expert_parallel_size == 1 && parallel.attention_dp_size == 1 {
        return;
    }
    let flag = if parallel.expert_parallel_size > 1 {
        "replica_config_expert_parallel_size"
    } else {
        "replica_config_attention_dp_size"
    };
    let predictor = p.string("execution_time_predictor_config_type");
    if predictor != "roofline" {
        p.error(
            ConfigError::new(flag, format!("expert parallelism and attention data parallelism are modelled only by the roofline predictor, not {predictor}"))
                .with_hint("use --execution_time_predictor_config_type roofline"),
        );
    }
}
