//! The profile-table predictor: Vidur-format `mlp.csv`, `attention.csv`, `all_reduce.csv`,
//! `send_recv.csv` (and optional `cpu_overhead.csv`) interpolated per op, falling back to the
//! calibrated roofline outside the measured range (`extrapolated`) and for ops the tables do
//! not cover (`roofline`). Vidur's `random_forest` and `linear_regression` select it too.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::interp::{Table1, Table2};
use super::profile_csv::ProfileCsv;
use super::roofline::{MLP_OPS, PIPELINE_TENSORS, RooflineCoefficients, RooflinePredictor, TOKEN_OPS};
use super::{
    BatchItem, DecodeWork, ExecutionTime, Op, PrefillWork, Provenance, SharedPredictor, StagePosition,
};
use crate::catalog::ModelArch;
use crate::config::{ConfigError, FlagDef, InputFile, Params, ReplicaSpec, fill_placeholders};

const IGNORED: &str =
    "Accepted for Vidur compatibility and ignored: no model is trained, the tables are interpolated.";

/// The flags every Vidur-style predictor prefix carries, then `$extra` prefix-specific ones.
macro_rules! vidur_flags {
    ($prefix:literal $(, $extra:expr)* $(,)?) => {
        &[
            FlagDef::seed(concat!($prefix, "_execution_time_predictor_config_seed"), "42", IGNORED),
            FlagDef::input(
                concat!($prefix, "_execution_time_predictor_config_compute_input_file"),
                InputFile::ProfileTable,
                "./data/profiling/compute/{DEVICE}/{MODEL}/mlp.csv",
                "Vidur mlp.csv (per-op layer times by num_tokens and TP); none = calibrated roofline for those ops.",
            ),
            FlagDef::input(
                concat!($prefix, "_execution_time_predictor_config_attention_input_file"),
                InputFile::ProfileTable,
                "./data/profiling/compute/{DEVICE}/{MODEL}/attention.csv",
                "Vidur attention.csv (prefill by KV and chunk, decode by batch and KV, KV-cache save); none = calibrated roofline.",
            ),
            FlagDef::input(
                concat!($prefix, "_execution_time_predictor_config_all_reduce_input_file"),
                InputFile::ProfileTable,
                "./data/profiling/network/{NETWORK_DEVICE}/all_reduce.csv",
                "Vidur all_reduce.csv, read when TP > 1; none = calibrated roofline.",
            ),
            FlagDef::input(
                concat!($prefix, "_execution_time_predictor_config_send_recv_input_file"),
                InputFile::ProfileTable,
                "./data/profiling/network/{NETWORK_DEVICE}/send_recv.csv",
                "Vidur send_recv.csv, read when PP > 1; none = calibrated roofline.",
            ),
            FlagDef::input(
                concat!($prefix, "_execution_time_predictor_config_cpu_overhead_input_file"),
                InputFile::ProfileTable,
                "./data/profiling/cpu_overhead/{NETWORK_DEVICE}/{MODEL}/cpu_overheads.csv",
                "Vidur CPU-overhead table, charged once per iteration; read unless CPU modelling is skipped.",
            ),
            FlagDef::int(concat!($prefix, "_execution_time_predictor_config_k_fold_cv_splits"), "10", IGNORED),
            FlagDef::choice(concat!($prefix, "_execution_time_predictor_config_cache_mode"), &["ignore_cache", "use_cache", "require_cache"], "use_cache", IGNORED),
            FlagDef::string(concat!($prefix, "_execution_time_predictor_config_cache_dir"), "cache", IGNORED),
            FlagDef::int(
                concat!($prefix, "_execution_time_predictor_config_kv_cache_prediction_granularity"),
                "64",
                "KV lengths are rounded up to a multiple of this before the attention lookup, as Vidur does.",
            ),
            FlagDef::int(
                concat!($prefix, "_execution_time_predictor_config_prefill_chunk_size_prediction_granularity"),
                "32",
                "Prefill chunk sizes are rounded up to a multiple of this before the attention lookup, as Vidur does.",
            ),
            FlagDef::int(concat!($prefix, "_execution_time_predictor_config_prediction_max_prefill_chunk_size"), "4096", IGNORED),
            FlagDef::int(concat!($prefix, "_execution_time_predictor_config_prediction_max_batch_size"), "512", IGNORED),
            FlagDef::int(concat!($prefix, "_execution_time_predictor_config_prediction_max_tokens_per_request"), "262144", IGNORED),
            FlagDef::float(
                concat!($prefix, "_execution_time_predictor_config_attention_decode_batching_overhead_fraction"),
                "0.0",
                "Decode attention × (1 + this) when more than one sequence decodes (GQA models only), as in Vidur.",
            ),
            FlagDef::float(
                concat!($prefix, "_execution_time_predictor_config_attention_prefill_batching_overhead_fraction"),
                "0.0",
                "Prefill attention × (1 + this) when more than one request prefills (GQA models only), as in Vidur.",
            ),
            FlagDef::float(concat!($prefix, "_execution_time_predictor_config_nccl_cpu_launch_overhead_ms"), "0.0", "Added to every all-reduce, ms."),
            FlagDef::float(
                concat!($prefix, "_execution_time_predictor_config_nccl_cpu_skew_overhead_per_device_ms"),
                "0.0",
                "× TP^1.25, added to every all-reduce, ms.",
            ),
            FlagDef::int(concat!($prefix, "_execution_time_predictor_config_num_training_job_threads"), "-1", IGNORED),
            FlagDef::bool(
                concat!($prefix, "_execution_time_predictor_config_skip_cpu_overhead_modeling"),
                "true",
                "Skip Vidur's CPU-overhead table (Vidur's default); false reads it, and it replaces --execution_time_predictor_config_cpu_overhead_ms.",
            ),
            $($extra,)*
        ]
    };
}

pub(super) static PROFILE_FLAGS: &[FlagDef] = vidur_flags!("profile");
pub(super) static RANDOM_FOREST_FLAGS: &[FlagDef] = vidur_flags!(
    "random_forest",
    FlagDef::int_list("random_forest_execution_time_predictor_config_num_estimators", "250 500 750", IGNORED),
    FlagDef::int_list("random_forest_execution_time_predictor_config_max_depth", "8 16 32", IGNORED),
    FlagDef::int_list("random_forest_execution_time_predictor_config_min_samples_split", "2 5 10", IGNORED),
);
pub(super) static LINEAR_REGRESSION_FLAGS: &[FlagDef] = vidur_flags!(
    "linear_regression",
    FlagDef::int_list(
        "linear_regression_execution_time_predictor_config_polynomial_degree",
        "1 2 3 4 5",
        IGNORED
    ),
    FlagDef::bool_list(
        "linear_regression_execution_time_predictor_config_polynomial_include_bias",
        "True False",
        IGNORED
    ),
    FlagDef::bool_list(
        "linear_regression_execution_time_predictor_config_polynomial_interaction_only",
        "True False",
        IGNORED
    ),
    FlagDef::bool_list(
        "linear_regression_execution_time_predictor_config_fit_intercept",
        "True False",
        IGNORED
    ),
);

pub(super) fn parse_profile(params: &mut Params, replica: &ReplicaSpec) -> Option<SharedPredictor> {
    parse(params, replica, "profile")
}
pub(super) fn parse_random_forest(params: &mut Params, replica: &ReplicaSpec) -> Option<SharedPredictor> {
    parse(params, replica, "random_forest")
}
pub(super) fn parse_linear_regression(params: &mut Params, replica: &ReplicaSpec) -> Option<SharedPredictor> {
    parse(params, replica, "linear_regression")
}

/// Vidur's `mlp.csv` op columns and the ops they time.
pub const MLP_COLUMNS: [(&str, Op); 10] = [
    ("emb", Op::Embedding),
    ("input_layernorm", Op::InputLayernorm),
    ("attn_pre_proj", Op::AttnPreProj),
    ("attn_rope", Op::AttnRope),
    ("attn_post_proj", Op::AttnPostProj),
    ("post_attention_layernorm", Op::PostAttentionLayernorm),
    ("mlp_up_proj", Op::MlpUpProj),
    ("mlp_act", Op::MlpAct),
    ("mlp_down_proj", Op::MlpDownProj),
    ("add", Op::Add),
];

/// Vidur's CPU-overhead targets (summed per iteration).
const CPU_COLUMNS: [&str; 5] = [
    "schedule_median",
    "sampler_e2e_median",
    "prepare_inputs_e2e_median",
    "process_model_outputs_median",
    "ray_comm_time_mean",
];

/// The shapes present in a table, for "no rows match" errors: each once, in order. (Inserted
/// one by one: `BTreeSet::insert` of strings is linked anyway, where collecting into the set
/// would link a stable sort of strings of its own.)
fn present(shapes: impl IntoIterator<Item = String>) -> String {
    let mut set = BTreeSet::new();
    for shape in shapes {
        set.insert(shape);
    }
    let mut list: Vec<String> = set.into_iter().collect();
    if list.len() > 12 {
        let more = list.len() - 12;
        list.truncate(12);
        list.push(format!("… and {more} more"));
    }
    if list.is_empty() { "none (the file has no data rows)".to_string() } else { list.join("; ") }
}

fn whole(x: f64) -> String {
    format!("{}", x as i64)
}

/// The measured tables for one replica shape, with the roofline for everything else.
pub struct ProfilePredictor {
    roofline: RooflinePredictor,
    /// Per-op µs by token count (Vidur's rounded `num_tokens`), for `mlp.csv` ops.
    mlp: [Option<Table1>; Op::COUNT],
    prefill: Option<Table2>,
    decode: Option<Table2>,
    kv_save: Option<Table1>,
    /// All-reduce µs by bytes.
    all_reduce: Option<Table1>,
    /// Send/recv µs by bytes.
    send_recv: Option<Table1>,
    /// CPU ms per iteration by batch size (Vidur's table, read unless skipped); `None` = the
    /// per-iteration CPU overhead flags.
    cpu: Option<Table1>,
    kv_granularity: f64,
    chunk_granularity: f64,
    decode_overhead: f64,
    prefill_overhead: f64,
    nccl_overhead_us: f64,
    tp: u32,
    embedding_bytes: f64,
    description: String,
}

fn parse(params: &mut Params, replica: &ReplicaSpec, prefix: &str) -> Option<SharedPredictor> {
    let flag = |name: &str| format!("{prefix}_execution_time_predictor_config_{name}");
    let kv_granularity = params.int_in(&flag("kv_cache_prediction_granularity"), 1, 1 << 20) as f64;
    let chunk_granularity =
        params.int_in(&flag("prefill_chunk_size_prediction_granularity"), 1, 1 << 20) as f64;
    let decode_overhead = params.float_in(&flag("attention_decode_batching_overhead_fraction"), 0.0, 100.0);
    let prefill_overhead = params.float_in(&flag("attention_prefill_batching_overhead_fraction"), 0.0, 100.0);
    let launch_ms = params.float_in(&flag("nccl_cpu_launch_overhead_ms"), 0.0, 1e4);
    let skew_ms = params.float_in(&flag("nccl_cpu_skew_overhead_per_device_ms"), 0.0, 1e4);
    let skip_cpu = params.bool(&flag("skip_cpu_overhead_modeling"));
    // Read (and so validate the kind of) the flags that only exist for compatibility.
    for name in [
        "seed",
        "k_fold_cv_splits",
        "prediction_max_prefill_chunk_size",
        "prediction_max_batch_size",
        "prediction_max_tokens_per_request",
        "num_training_job_threads",
    ] {
        params.int(&flag(name));
    }

    let (cpu_overhead_ms, cpu_overhead_per_request_ms) = super::roofline::cpu_overhead_flags(params);
    let settings =
        RooflineCoefficients { cpu_overhead_ms, cpu_overhead_per_request_ms, ..Default::default() };
    let roofline = match RooflinePredictor::new(replica, settings) {
        Ok(r) => r,
        Err(message) => {
            params.error(ConfigError::new("replica_config_device", message));
            return None;
        }
    };
    let tp = replica.parallel.tensor_parallel_size;
    let pp = replica.parallel.num_pipeline_stages;
    let m = &replica.model;
    let block_size = params.int("cache_config_block_size") as f64;
    let mut p = ProfilePredictor {
        roofline,
        mlp: Default::default(),
        prefill: None,
        decode: None,
        kv_save: None,
        all_reduce: None,
        send_recv: None,
        cpu: None,
        kv_granularity,
        chunk_granularity,
        decode_overhead,
        prefill_overhead,
        nccl_overhead_us: 1e3 * (launch_ms + skew_ms * libm::pow(tp as f64, 1.25)),
        tp,
        embedding_bytes: m.embedding_dim as f64 * 2.0,
        description: String::new(),
    };
    let mut used = Vec::new();
    let mut ok = true;
    let mut read = |params: &mut Params,
                    name: &str,
                    needed: bool,
                    load: &mut dyn FnMut(&str, &str) -> Result<(), String>| {
        let f = flag(name);
        if !needed {
            return;
        }
        let Some(path) = params.opt_string(&f) else { return };
        let path = fill_placeholders(params.config(), &path);
        let result = params.inputs().text(&path).and_then(|text| load(&path, &text));
        match result {
            Ok(()) => used.push(path),
            Err(message) => {
                ok = false;
                params.error(ConfigError::new(&f, message).with_hint(format!("give a Vidur-format file, or --{f} none to predict these ops with the calibrated roofline")));
            }
        }
    };

    read(params, "compute_input_file", true, &mut |path, text| p.load_mlp(path, text, m, tp));
    read(params, "attention_input_file", true, &mut |path, text| {
        p.load_attention(path, text, m, tp, block_size)
    });
    let multi_node = tp * pp > replica.node.devices_per_node;
    for (name, collective, needed) in
        [("all_reduce_input_file", "all_reduce", tp > 1), ("send_recv_input_file", "send_recv", pp > 1)]
    {
        read(params, name, needed, &mut |path, text| {
            p.load_collective(path, text, collective, tp, multi_node)
        });
    }
    read(params, "cpu_overhead_input_file", !skip_cpu, &mut |path, text| p.load_cpu(path, text, m, tp));
    if !ok {
        return None;
    }
    p.description = p.describe(&used);
    Some(Arc::new(p))
}

impl ProfilePredictor {
    /// What the predictor reads from where: the tables it covers and the files they came
    /// from, with the roofline for the rest.
    fn describe(&self, used: &[String]) -> String {
        let covered: Vec<&str> = [
            ("mlp", self.mlp.iter().any(Option::is_some)),
            ("attention", self.prefill.is_some() || self.decode.is_some()),
            ("all_reduce", self.all_reduce.is_some()),
            ("send_recv", self.send_recv.is_some()),
            ("cpu_overhead", self.cpu.is_some()),
        ]
        .into_iter()
        .filter_map(|(n, ok)| ok.then_some(n))
        .collect();
        format!(
            "profile tables ({}) from {}; other ops and out-of-range shapes: {}",
            if covered.is_empty() { "none".to_string() } else { covered.join(", ") },
            if used.is_empty() { "no files".to_string() } else { used.join(", ") },
            self.roofline.describe_short()
        )
    }

    /// Reads Vidur's `mlp.csv`: per-op layer times of `m`'s shape at TP `tp`, by token count.
    fn load_mlp(&mut self, path: &str, text: &str, m: &ModelArch, tp: u32) -> Result<(), String> {
        let csv = ProfileCsv::parse(path, text)?;
        let names = [
            "n_head",
            "n_kv_head",
            "n_embd",
            "n_expanded_embd",
            "vocab_size",
            "use_gated_mlp",
            "num_tensor_parallel_workers",
            "num_tokens",
        ];
        let cols = csv.columns(&names)?;
        let want = [
            m.num_q_heads as f64,
            m.num_kv_heads as f64,
            m.embedding_dim as f64,
            m.mlp_hidden_dim as f64,
            m.vocab_size as f64,
            if m.use_gated_mlp { 1.0 } else { 0.0 },
            tp as f64,
        ];
        let keys = csv.number_rows(&names, &cols)?;
        let rows: Vec<usize> = (0..keys.len()).filter(|i| keys[*i][..7] == want).collect();
        if rows.is_empty() {
            let shapes: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "heads {} kv {} embd {} mlp {} vocab {} gated {} TP {}",
                        whole(k[0]),
                        whole(k[1]),
                        whole(k[2]),
                        whole(k[3]),
                        whole(k[4]),
                        k[5] != 0.0,
                        whole(k[6])
                    )
                })
                .collect();
            return Err(format!(
                "{path}: no rows for {} at TP {tp} (heads {} kv {} embd {} mlp {} vocab {} gated {}); the file has: {}",
                m.name,
                m.num_q_heads,
                m.num_kv_heads,
                m.embedding_dim,
                m.mlp_hidden_dim,
                m.vocab_size,
                m.use_gated_mlp,
                present(shapes)
            ));
        }
        for (column, op) in MLP_COLUMNS {
            let Some(col) = csv.find_column(&format!("time_stats.{column}.median")) else { continue };
            let mut points = Vec::new();
            for &i in &rows {
                if let Some(ms) = csv.time(i, col)? {
                    points.push((keys[i][7], ms * 1e3));
                }
            }
            if !points.is_empty() {
                self.mlp[op as usize] = Some(Table1::new(points));
            }
        }
        Ok(())
    }

    /// Reads Vidur's `attention.csv`: prefill by KV and chunk, decode by batch and KV, and the
    /// KV-cache save, of `m`'s shape at TP `tp` and `block_size`.
    fn load_attention(
        &mut self,
        path: &str,
        text: &str,
        m: &ModelArch,
        tp: u32,
        block_size: f64,
    ) -> Result<(), String> {
        let csv = ProfileCsv::parse(path, text)?;
        let names = [
            "n_embd",
            "n_q_head",
            "n_kv_head",
            "block_size",
            "num_tensor_parallel_workers",
            "batch_size",
            "prefill_chunk_size",
            "kv_cache_size",
            "is_prefill",
        ];
        let cols = csv.columns(&names)?;
        let keys = csv.number_rows(&names, &cols)?;
        let want =
            [m.embedding_dim as f64, m.num_q_heads as f64, m.num_kv_heads as f64, block_size, tp as f64];
        let rows: Vec<usize> = (0..keys.len()).filter(|i| keys[*i][..5] == want).collect();
        if rows.is_empty() {
            let shapes: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "embd {} heads {} kv {} block {} TP {}",
                        whole(k[0]),
                        whole(k[1]),
                        whole(k[2]),
                        whole(k[3]),
                        whole(k[4])
                    )
                })
                .collect();
            return Err(format!(
                "{path}: no rows for {} at TP {tp} with block size {block_size} (embd {} heads {} kv {}); the file has: {}",
                m.name,
                m.embedding_dim,
                m.num_q_heads,
                m.num_kv_heads,
                present(shapes)
            ));
        }
        let col = |name: &str| csv.find_column(&format!("time_stats.{name}.median"));
        let (prefill_col, decode_col, save_col) = (
            col("attn_prefill").or(col("attn")),
            col("attn_decode").or(col("attn")),
            col("attn_kv_cache_save"),
        );
        let (mut prefill, mut decode, mut save) = (Vec::new(), Vec::new(), Vec::new());
        for &i in &rows {
            let k = &keys[i];
            let (batch, chunk, kv, is_prefill) = (k[5], k[6], k[7], k[8] != 0.0);
            if is_prefill {
                if let Some(ms) = prefill_col.map(|c| csv.time(i, c)).transpose()?.flatten() {
                    prefill.push((kv, chunk, ms * 1e3));
                }
            } else if let Some(ms) = decode_col.map(|c| csv.time(i, c)).transpose()?.flatten() {
                decode.push((batch, kv, ms * 1e3));
            }
            if let Some(ms) = save_col.map(|c| csv.time(i, c)).transpose()?.flatten() {
                save.push((if is_prefill { chunk } else { batch }, ms * 1e3));
            }
        }
        self.prefill = (!prefill.is_empty()).then(|| Table2::new(prefill));
        self.decode = (!decode.is_empty()).then(|| Table2::new(decode));
        self.kv_save = (!save.is_empty()).then(|| Table1::new(save));
        Ok(())
    }

    /// Reads Vidur's `all_reduce.csv` or `send_recv.csv` (`collective`): times by bytes for TP
    /// `tp`, across nodes or inside one (`multi_node`).
    fn load_collective(
        &mut self,
        path: &str,
        text: &str,
        collective: &str,
        tp: u32,
        multi_node: bool,
    ) -> Result<(), String> {
        let csv = ProfileCsv::parse(path, text)?;
        let names = ["num_workers", "devices_per_node", "size"];
        let cols = csv.columns(&names)?;
        let keys = csv.number_rows(&names, &cols)?;
        let coll = csv.column("collective")?;
        let median = csv.column(&format!("time_stats.{collective}.median"))?;
        // Vidur's selection: all-reduce over TP GPUs of one node; send/recv across nodes
        // (1 GPU per node) or inside one (2 per node).
        let selected = |k: &[f64]| match collective {
            "all_reduce" => k[0] == tp as f64 && k[1] == tp as f64,
            _ => k[1] == if multi_node { 1.0 } else { 2.0 },
        };
        let mut points = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            if csv.text(i, coll) == collective && selected(k) {
                points.push((k[2], csv.need_time(i, median)? * 1e3));
            }
        }
        if points.is_empty() {
            let shapes: Vec<String> = keys
                .iter()
                .map(|k| format!("num_workers {} devices_per_node {}", whole(k[0]), whole(k[1])))
                .collect();
            let wanted = if collective == "all_reduce" {
                format!("num_workers {tp} and devices_per_node {tp}")
            } else {
                format!("devices_per_node {}", if multi_node { 1 } else { 2 })
            };
            return Err(format!(
                "{path}: no {collective} rows with {wanted}; the file has: {}",
                present(shapes)
            ));
        }
        let table = Some(Table1::new(points));
        if collective == "all_reduce" {
            self.all_reduce = table
        } else {
            self.send_recv = table
        }
        Ok(())
    }

    /// Reads Vidur's CPU-overhead table: per-iteration CPU time of `m` at TP `tp`, by batch size.
    fn load_cpu(&mut self, path: &str, text: &str, m: &ModelArch, tp: u32) -> Result<(), String> {
        let csv = ProfileCsv::parse(path, text)?;
        let (batch_col, tp_col) = (csv.column("batch_size")?, csv.column("tensor_parallel_degree")?);
        let model_col = csv.column("model_name")?;
        let cols: Vec<usize> = CPU_COLUMNS.iter().map(|c| csv.column(c)).collect::<Result<_, _>>()?;
        let mut points = Vec::new();
        let mut shapes = BTreeSet::new();
        for i in 0..csv.len() {
            let (model, row_tp) = (csv.text(i, model_col), csv.need(i, tp_col, "tensor_parallel_degree")?);
            shapes.insert(format!("{model} TP {}", whole(row_tp)));
            if model == m.name && row_tp == tp as f64 {
                let mut ms = 0.0;
                for c in &cols {
                    ms += csv.time(i, *c)?.unwrap_or(0.0);
                }
                points.push((csv.need(i, batch_col, "batch_size")?, ms));
            }
        }
        if points.is_empty() {
            return Err(format!(
                "{path}: no rows for model_name {} at tensor_parallel_degree {tp}; the file has: {}",
                m.name,
                present(shapes)
            ));
        }
        self.cpu = Some(Table1::new(points));
        Ok(())
    }
}

/// Vidur's lookup rounding: up to a multiple of `granularity`.
fn round_up(x: f64, granularity: f64) -> f64 {
    (x / granularity).ceil() * granularity
}

impl super::ExecutionTimePredictor for ProfilePredictor {
    fn predict(&self, batch: &[BatchItem], position: StagePosition) -> ExecutionTime {
        let mut out = ExecutionTime::default();
        let r = &self.roofline;
        let tokens: f64 = batch.iter().map(|b| b.num_tokens as f64).sum();
        // Vidur looks compute and network tables up at the token count rounded up to 8.
        let t8 = round_up(tokens, 8.0);
        let per_layer_ms = r.layers() * 1e-3;

        let token_op = |op: Op| -> (f64, Provenance) {
            match &self.mlp[op as usize] {
                Some(table) => table.eval(t8, |t| r.token_op_us(op, t)),
                None => (r.token_op_us(op, tokens), Provenance::Roofline),
            }
        };
        let mlp_ops: &[Op] = if r.is_moe() { &[] } else { &MLP_OPS };
        for op in TOKEN_OPS.iter().chain(mlp_ops).copied() {
            if op == Op::PostAttentionLayernorm && !r.has_post_attn_norm() {
                continue;
            }
            let (us, provenance) = if op == Op::AttnKvCacheSave {
                match &self.kv_save {
                    Some(table) => table.eval(tokens, |t| r.token_op_us(op, t)),
                    None => (r.token_op_us(op, tokens), Provenance::Roofline),
                }
            } else {
                token_op(op)
            };
            out.set(op, per_layer_ms * us, provenance);
        }
        if r.is_moe() {
            // The tables hold no experts: the roofline predicts them.
            let t = r.predict_moe_ms(tokens, per_layer_ms);
            out.set(Op::MoeRouter, t.0, Provenance::Roofline);
            out.set(Op::MoeExperts, t.1, Provenance::Roofline);
        }

        // Attention with Vidur's batch keys: decode (count, mean KV), prefill (Σ KV, √Σc²).
        let shape = *r.attention_shape();
        let (mut decode_n, mut decode_kv, mut prefill_n, mut prefill_kv, mut chunk_sq) =
            (0.0, 0.0, 0.0, 0.0, 0.0);
        for item in batch {
            if item.is_prefill {
                prefill_n += 1.0;
                prefill_kv += item.num_processed_tokens as f64;
                chunk_sq += (item.num_tokens as f64).powi(2);
            } else {
                decode_n += 1.0;
                decode_kv += item.num_processed_tokens as f64;
            }
        }
        let gqa = shape.q_heads > shape.kv_heads;
        // A sparse-attention model's indexer kernels, beside whatever times the attention
        // itself (no table measures them; (0, 0) for any other model).
        let (index_prefill_us, index_decode_us) = r.dsa_kernels_us(batch);
        if decode_n > 0.0 {
            let kv = round_up((decode_kv / decode_n).floor().max(1.0), self.kv_granularity);
            let roof = |b: f64, kv: f64| {
                let mut one = DecodeWork::default();
                one.add(&shape, kv);
                r.decode_us(DecodeWork { sequences: b, flops: one.flops * b, bytes: one.bytes * b })
            };
            let (mut us, provenance) = match &self.decode {
                Some(table) => table.eval(decode_n, kv, roof),
                None => {
                    let (_, work) = r.attention_work(batch);
                    (r.decode_us(work), Provenance::Roofline)
                }
            };
            if decode_n > 1.0 && gqa {
                us *= 1.0 + self.decode_overhead;
            }
            out.set(Op::AttnDecode, per_layer_ms * (us + index_decode_us), provenance);
        }
        if prefill_n > 0.0 {
            let kv = round_up(prefill_kv, self.kv_granularity);
            let chunk = round_up(chunk_sq.sqrt().round().max(1.0), self.chunk_granularity);
            let roof = |kv: f64, chunk: f64| {
                let mut work = PrefillWork::default();
                work.add(&shape, chunk, kv);
                r.prefill_us(work)
            };
            let (mut us, provenance) = match &self.prefill {
                // A sparse-attention step past the top k runs the sparse kernel
                // (`dsa_kernels_us`), not the dense MLA prefill the table measured.
                Some(_) if r.sparse_prefill(batch) => (0.0, Provenance::Roofline),
                Some(table) => table.eval(kv, chunk, roof),
                None => {
                    let (work, _) = r.attention_work(batch);
                    (r.prefill_us(work), Provenance::Roofline)
                }
            };
            if prefill_n > 1.0 && gqa {
                us *= 1.0 + self.prefill_overhead;
            }
            // Linear-attention layers' prefill (flash-linear-attention's chunked kernels), timed
            // apart as the roofline path does: not a GQA attention kernel, so not scaled by the
            // fitted GQA prefill overhead. A measured prefill table holds full-attention layers
            // only and takes no linear term (not modelled).
            let linear_us = if self.prefill.is_none() { r.linear_prefill_us(batch) } else { 0.0 };
            out.set(Op::AttnPrefill, per_layer_ms * (us + linear_us + index_prefill_us), provenance);
        }

        if self.tp > 1 {
            let (us, provenance) = match &self.all_reduce {
                Some(table) => table
                    .eval(t8 * self.embedding_bytes, |bytes| r.all_reduce_us(bytes / self.embedding_bytes)),
                None => (r.all_reduce_us(tokens), Provenance::Roofline),
            };
            let ms = per_layer_ms * (us + self.nccl_overhead_us);
            out.set(Op::AttnPostProjAllReduce, ms, provenance);
            out.set(Op::MlpDownProjAllReduce, ms, provenance);
        }
        if position.is_first() {
            let (us, provenance) = token_op(Op::Embedding);
            out.set(Op::Embedding, us * 1e-3, provenance);
        }
        if position.is_last() {
            let rows = super::roofline::logit_rows(batch) as f64;
            out.set(Op::LmHead, r.lm_head_us(rows) * 1e-3, Provenance::Roofline);
            // CPU work happens once per iteration: Vidur's table where read, else the flags.
            let n = batch.len() as f64;
            let (ms, provenance) = match &self.cpu {
                Some(table) => table.eval(n, |n| r.cpu_overhead_ms(n)),
                None => (r.cpu_overhead_ms(n), Provenance::Roofline),
            };
            out.set(Op::CpuOverhead, ms, provenance);
        } else {
            // Vidur's table by the bytes sent: the hidden state and the residual.
            let bytes_per_token = PIPELINE_TENSORS * self.embedding_bytes;
            let (us, provenance) = match &self.send_recv {
                Some(table) => {
                    table.eval(t8 * bytes_per_token, |bytes| r.send_recv_us(bytes / bytes_per_token))
                }
                None => (r.send_recv_us(tokens), Provenance::Roofline),
            };
            out.set(Op::PipelineSendRecv, us * 1e-3, provenance);
        }
        out
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, ConfigErrors};
    use crate::inputs::Inputs;
    use crate::sim_config::SimConfig;

    const OPS: [&str; 10] = [
        "emb",
        "input_layernorm",
        "attn_pre_proj",
        "attn_rope",
        "attn_post_proj",
        "post_attention_layernorm",
        "mlp_up_proj",
        "mlp_act",
        "mlp_down_proj",
        "add",
    ];

    /// A Vidur-layout mlp.csv for Llama-2-7B at TP 1 with every op taking `ms_per_token × T + 0.01`.
    fn mlp_csv(tp: u32, tokens: &[u32]) -> String {
        let mut header: Vec<String> = OPS
            .iter()
            .flat_map(|op| ["min", "max", "mean", "median", "std"].map(|s| format!("time_stats.{op}.{s}")))
            .collect();
        header.extend(
            [
                "n_head",
                "n_kv_head",
                "n_embd",
                "n_expanded_embd",
                "vocab_size",
                "use_gated_mlp",
                "num_tokens",
                "num_tensor_parallel_workers",
            ]
            .map(String::from),
        );
        let mut s = header.join(",") + "\n";
        for &t in tokens {
            let ms = 0.01 + 0.0001 * t as f64;
            let stats: Vec<String> =
                OPS.iter().flat_map(|_| [ms, ms, ms, ms, 0.0].map(|v| v.to_string())).collect();
            s += &format!("{},32,32,4096,11008,32768,True,{t},{tp}\n", stats.join(","));
        }
        s
    }

    fn build(pairs: &[(&str, &str)], files: &[(&str, String)]) -> Result<SimConfig, ConfigErrors> {
        let config = Config::from_pairs(pairs.iter().copied()).unwrap();
        let mut inputs = Inputs::new();
        for (path, text) in files {
            inputs.add_text(*path, text.as_str());
        }
        SimConfig::build(&config, &inputs)
    }

    const NO_ATTENTION: (&str, &str) =
        ("profile_execution_time_predictor_config_attention_input_file", "none");

    #[test]
    fn mlp_rows_are_measured_interpolated_and_extrapolated_past_the_table() {
        let c = build(
            &[
                ("execution_time_predictor_config_type", "profile"),
                ("profile_execution_time_predictor_config_compute_input_file", "mlp.csv"),
                NO_ATTENTION,
            ],
            &[("mlp.csv", mlp_csv(1, &[8, 16, 32]))],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let p = &c.predictor.build;
        let at = |t: u32| p.predict(&[BatchItem::prefill(0, t)], StagePosition { stage: 0, num_stages: 1 });
        let layers = 32.0;
        let exact = at(16);
        assert_eq!(exact.provenance[Op::MlpUpProj as usize], Provenance::Measured);
        assert!((exact.get(Op::MlpUpProj) - layers * (0.01 + 0.0016)).abs() < 1e-9);
        // 20 tokens round up to 24 (Vidur's ×8 key), between the 16 and 32 rows.
        let between = at(20);
        assert_eq!(between.provenance[Op::MlpUpProj as usize], Provenance::Interpolated);
        assert!((between.get(Op::MlpUpProj) - layers * (0.01 + 0.0024)).abs() < 1e-9);
        let beyond = at(4096);
        assert_eq!(beyond.provenance[Op::MlpUpProj as usize], Provenance::Extrapolated);
        assert!(beyond.get(Op::MlpUpProj) > exact.get(Op::MlpUpProj) * 10.0);
        // Attention and the LM head are not in the tables.
        assert_eq!(exact.provenance[Op::AttnPrefill as usize], Provenance::Roofline);
        assert_eq!(exact.provenance[Op::LmHead as usize], Provenance::Roofline);
        assert!(p.describe().contains("mlp.csv"), "{}", p.describe());
    }

    #[test]
    fn unmatched_rows_name_the_flag_the_file_and_the_shapes_present() {
        let e = build(
            &[
                ("execution_time_predictor_config_type", "random_forest"),
                ("random_forest_execution_time_predictor_config_compute_input_file", "p/{DEVICE}/mlp.csv"),
            ],
            &[("p/a100/mlp.csv", mlp_csv(2, &[8]))],
        )
        .unwrap_err();
        let err =
            e.0.iter()
                .find(|e| e.flag == "random_forest_execution_time_predictor_config_compute_input_file")
                .expect("compute file error");
        assert!(
            err.message.contains("p/a100/mlp.csv")
                && err.message.contains("TP 1")
                && err.message.contains("TP 2"),
            "{err}"
        );
    }

    #[test]
    fn a_negative_or_infinite_time_is_refused_naming_file_row_and_column() {
        for bad in ["-5", "inf", "NaN"] {
            // Row 3 of the file (the 16-token row): its mlp_up_proj median.
            let mut lines: Vec<String> = mlp_csv(1, &[8, 16, 32]).lines().map(String::from).collect();
            let header: Vec<&str> = lines[0].split(',').collect();
            let col = header.iter().position(|h| *h == "time_stats.mlp_up_proj.median").unwrap();
            let mut fields: Vec<String> = lines[2].split(',').map(String::from).collect();
            fields[col] = bad.to_string();
            lines[2] = fields.join(",");
            let e = build(
                &[
                    ("execution_time_predictor_config_type", "profile"),
                    ("profile_execution_time_predictor_config_compute_input_file", "mlp.csv"),
                    NO_ATTENTION,
                ],
                &[("mlp.csv", lines.join("\n") + "\n")],
            )
            .unwrap_err();
            let err =
                e.0.iter()
                    .find(|e| e.flag == "profile_execution_time_predictor_config_compute_input_file")
                    .expect("compute file error");
            assert!(err.message.contains("mlp.csv, row 3, column 'time_stats.mlp_up_proj.median'"), "{err}");
            assert!(err.message.contains(bad), "{err}");
        }
    }

    #[test]
    fn a_negative_collective_time_is_refused() {
        let csv = "num_workers,devices_per_node,size,collective,time_stats.all_reduce.median\n2,2,1024,all_reduce,0.01\n2,2,2048,all_reduce,-0.02\n";
        let e = build(
            &[
                ("execution_time_predictor_config_type", "profile"),
                ("profile_execution_time_predictor_config_compute_input_file", "none"),
                NO_ATTENTION,
                ("profile_execution_time_predictor_config_all_reduce_input_file", "all_reduce.csv"),
                ("replica_config_tensor_parallel_size", "2"),
            ],
            &[("all_reduce.csv", csv.to_string())],
        )
        .unwrap_err();
        let err =
            e.0.iter()
                .find(|e| e.flag == "profile_execution_time_predictor_config_all_reduce_input_file")
                .expect("all-reduce file error");
        assert!(
            err.message.contains("all_reduce.csv, row 3, column 'time_stats.all_reduce.median'")
                && err.message.contains("negative"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_file_is_an_error_with_a_way_out() {
        let e = build(&[("execution_time_predictor_config_type", "linear_regression")], &[]).unwrap_err();
        let err =
            e.0.iter()
                .find(|e| e.flag == "linear_regression_execution_time_predictor_config_compute_input_file")
                .expect("error");
        assert!(
            err.message.contains("./data/profiling/compute/a100/meta-llama/Llama-2-7b-hf/mlp.csv"),
            "{err}"
        );
        assert!(err.hint.as_deref().unwrap_or("").contains("none"), "{err}");
    }

    #[test]
    fn vidurs_cpu_overhead_table_is_read_and_charged_once_per_iteration() {
        let csv = "model_name,tensor_parallel_degree,batch_size,schedule_median,sampler_e2e_median,prepare_inputs_e2e_median,process_model_outputs_median,ray_comm_time_mean\n\
                   meta-llama/Llama-2-7b-hf,1,1,0.1,0.2,0.1,0.05,0.05\n\
                   meta-llama/Llama-2-7b-hf,1,8,0.2,0.4,0.2,0.1,0.1\n";
        let c = build(
            &[
                ("execution_time_predictor_config_type", "profile"),
                ("profile_execution_time_predictor_config_compute_input_file", "none"),
                NO_ATTENTION,
                ("profile_execution_time_predictor_config_send_recv_input_file", "none"),
                ("profile_execution_time_predictor_config_skip_cpu_overhead_modeling", "false"),
                ("profile_execution_time_predictor_config_cpu_overhead_input_file", "cpu.csv"),
                ("replica_config_num_pipeline_stages", "2"),
                // The table replaces the flat flags.
                ("execution_time_predictor_config_cpu_overhead_ms", "5"),
            ],
            &[("cpu.csv", csv.to_string())],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let batch: Vec<BatchItem> = (0..8).map(|_| BatchItem::decode(100, 1)).collect();
        let p = &c.predictor.build;
        let first = p.predict(&batch, StagePosition { stage: 0, num_stages: 2 });
        let last = p.predict(&batch, StagePosition { stage: 1, num_stages: 2 });
        assert_eq!(first.get(Op::CpuOverhead), 0.0);
        assert!((last.get(Op::CpuOverhead) - 1.0).abs() < 1e-12, "{}", last.get(Op::CpuOverhead));
        assert_eq!(last.provenance[Op::CpuOverhead as usize], Provenance::Measured);
    }

    #[test]
    fn vidur_only_flags_parse_and_overheads_act() {
        let pairs = [
            ("execution_time_predictor_config_type", "random_forest"),
            ("random_forest_execution_time_predictor_config_compute_input_file", "none"),
            ("random_forest_execution_time_predictor_config_attention_input_file", "none"),
            ("random_forest_execution_time_predictor_config_num_estimators", "250 500"),
            ("random_forest_execution_time_predictor_config_cache_mode", "ignore_cache"),
            ("replica_config_model_name", "meta-llama/Meta-Llama-3-8B"),
            ("replica_config_device", "h100"),
            ("replica_config_network_device", "h100_dgx"),
            ("replica_config_tensor_parallel_size", "2"),
            ("random_forest_execution_time_predictor_config_all_reduce_input_file", "none"),
        ];
        let base = build(&pairs, &[]).unwrap_or_else(|e| panic!("{e}"));
        let mut more = pairs.to_vec();
        more.push(("random_forest_execution_time_predictor_config_nccl_cpu_launch_overhead_ms", "0.02"));
        more.push((
            "random_forest_execution_time_predictor_config_attention_decode_batching_overhead_fraction",
            "0.1",
        ));
        let with = build(&more, &[]).unwrap_or_else(|e| panic!("{e}"));
        let batch: Vec<BatchItem> = (0..4).map(|_| BatchItem::decode(100, 1)).collect();
        let pos = StagePosition { stage: 0, num_stages: 1 };
        let (a, b) = (base.predictor.build.predict(&batch, pos), with.predictor.build.predict(&batch, pos));
        assert!(
            (b.get(Op::AttnPostProjAllReduce) - a.get(Op::AttnPostProjAllReduce) - 0.02 * 32.0).abs() < 1e-9
        );
        assert!((b.get(Op::AttnDecode) / a.get(Op::AttnDecode) - 1.1).abs() < 1e-9);
        assert_eq!(a.get(Op::CpuOverhead), 0.0, "Vidur skips CPU overhead by default");
    }
}
