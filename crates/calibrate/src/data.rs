//! Readers of the measured tables under `../shared/profiles` (Vidur's `mlp.csv` and network
//! CSVs, AIConfigurator's GEMM, attention and all-reduce tables).

use std::path::{Path, PathBuf};

use llmsim_engine::exec::{LayerShape, MLP_COLUMNS, Op, ProfileCsv};

/// A table read failed: which file, which row, which field.
#[derive(Debug)]
pub struct DataError(pub String);

impl std::fmt::Display for DataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DataError {}

impl From<String> for DataError {
    fn from(message: String) -> DataError {
        DataError(message)
    }
}

/// Result of reading a table.
pub type Result<T> = std::result::Result<T, DataError>;

/// Reads the CSV file at `path` whole.
fn read_table(path: &Path) -> Result<ProfileCsv> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError(format!("{}: {e}", path.display())))?;
    Ok(ProfileCsv::parse(&path.display().to_string(), &text)?)
}

/// One row of a Vidur `mlp.csv`: a model shape at one TP and token count, with each op's
/// median time.
#[derive(Clone, Debug)]
pub struct MlpRow {
    /// The model directory (`meta-llama/Meta-Llama-3-8B`).
    pub model: String,
    /// TP degree.
    pub tp: u32,
    /// The per-GPU layer shape.
    pub shape: LayerShape,
    /// Tokens in the batch.
    pub tokens: f64,
    /// Median µs per op, in [`MLP_COLUMNS`] order (`None` where the column is empty).
    pub us: [Option<f64>; 10],
}

/// Every `mlp.csv` under `profiles/vidur/compute/<device>/`, rows in file order.
pub fn vidur_mlp(shared: &Path, device: &str) -> Result<Vec<MlpRow>> {
    let root = shared.join("profiles/vidur/compute").join(device);
    let mut files = Vec::new();
    for org in sorted_dir(&root)? {
        for model in sorted_dir(&org)? {
            let file = model.join("mlp.csv");
            if file.is_file() {
                let name = format!(
                    "{}/{}",
                    org.file_name().unwrap().to_string_lossy(),
                    model.file_name().unwrap().to_string_lossy()
                );
                files.push((name, file));
            }
        }
    }
    let mut out = Vec::new();
    for (model, file) in files {
        out.extend(read_mlp(&file, &model)?);
    }
    Ok(out)
}

/// Reads one Vidur-format `mlp.csv`.
pub fn read_mlp(file: &Path, model: &str) -> Result<Vec<MlpRow>> {
    let t = read_table(file)?;
    let keys = [
        "n_head",
        "n_kv_head",
        "n_embd",
        "n_expanded_embd",
        "vocab_size",
        "use_gated_mlp",
        "num_tokens",
        "num_tensor_parallel_workers",
    ];
    let cols = t.columns(&keys)?;
    let op_cols: Vec<Option<usize>> =
        MLP_COLUMNS.iter().map(|(n, _)| t.find_column(&format!("time_stats.{n}.median"))).collect();
    let mut out = Vec::with_capacity(t.len());
    for i in 0..t.len() {
        let v: Vec<f64> =
            keys.iter().zip(&cols).map(|(k, c)| t.need(i, *c, k)).collect::<std::result::Result<_, _>>()?;
        let (heads, kv, e, mlp, vocab, gated, tokens, tp) =
            (v[0] as u32, v[1] as u32, v[2] as u32, v[3] as u32, v[4] as u32, v[5] != 0.0, v[6], v[7] as u32);
        let mut us = [None; 10];
        for (slot, col) in us.iter_mut().zip(&op_cols) {
            if let Some(c) = col {
                *slot = t.num(i, *c, "time_stats median")?.filter(|ms| *ms > 0.0).map(|ms| ms * 1e3);
            }
        }
        let shape = LayerShape::from_dims(e, heads, kv, e / heads.max(1), mlp, gated, vocab, tp);
        out.push(MlpRow { model: model.to_string(), tp, shape, tokens, us });
    }
    Ok(out)
}

fn sorted_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| DataError(format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    entries.sort();
    Ok(entries)
}

/// One AIC GEMM row.
#[derive(Clone, Copy, Debug)]
pub struct GemmRow {
    /// Tokens.
    pub m: f64,
    /// Output features.
    pub n: f64,
    /// Input features.
    pub k: f64,
    /// Latency, µs.
    pub us: f64,
}

/// `profiles/aic/<system>/gemm_<dtype>.csv`.
pub fn aic_gemm(shared: &Path, system: &str, dtype: &str) -> Result<Vec<GemmRow>> {
    let t = read_table(&shared.join(format!("profiles/aic/{system}/gemm_{dtype}.csv")))?;
    let (m, n, k, lat) = (t.column("m")?, t.column("n")?, t.column("k")?, t.column("lat_ms")?);
    (0..t.len())
        .map(|i| {
            Ok(GemmRow {
                m: t.need(i, m, "m")?,
                n: t.need(i, n, "n")?,
                k: t.need(i, k, "k")?,
                us: t.need(i, lat, "lat_ms")? * 1e3,
            })
        })
        .collect()
}

/// One AIC attention row (context: `len` = tokens per sequence; generation: cached length).
#[derive(Clone, Copy, Debug)]
pub struct AttentionRow {
    /// Sequences.
    pub batch: f64,
    /// Context rows: the prompt length; generation rows: the KV length.
    pub len: f64,
    /// Query heads per GPU.
    pub q_heads: f64,
    /// KV heads per GPU.
    pub kv_heads: f64,
    /// Latency, µs.
    pub us: f64,
}

/// `profiles/aic/<system>/{ctx,gen}_attn_kv<dtype>.csv` (`kind` = `ctx` or `gen`).
pub fn aic_attention(shared: &Path, system: &str, kind: &str, kv_dtype: &str) -> Result<Vec<AttentionRow>> {
    let t = read_table(&shared.join(format!("profiles/aic/{system}/{kind}_attn_kv{kv_dtype}.csv")))?;
    let len_name = if kind == "ctx" { "seq" } else { "kv_len" };
    let (b, len, q, kv, lat) = (
        t.column("bs")?,
        t.column(len_name)?,
        t.column("q_heads")?,
        t.column("kv_heads")?,
        t.column("lat_ms")?,
    );
    (0..t.len())
        .map(|i| {
            Ok(AttentionRow {
                batch: t.need(i, b, "bs")?,
                len: t.need(i, len, len_name)?,
                q_heads: t.need(i, q, "q_heads")?,
                kv_heads: t.need(i, kv, "kv_heads")?,
                us: t.need(i, lat, "lat_ms")? * 1e3,
            })
        })
        .collect()
}

/// `profiles/aic/<system>/{ctx,gen}_mla_kv<dtype>.csv` (`kind` = `ctx` or `gen`): SGLang's
/// MLA kernels at DeepSeek-V3's latent sizes; `heads` query heads per GPU share one latent.
pub fn aic_mla(shared: &Path, system: &str, kind: &str, kv_dtype: &str) -> Result<Vec<AttentionRow>> {
    let t = read_table(&shared.join(format!("profiles/aic/{system}/{kind}_mla_kv{kv_dtype}.csv")))?;
    let len_name = if kind == "ctx" { "seq" } else { "kv_len" };
    let (b, len, q, lat) = (t.column("bs")?, t.column(len_name)?, t.column("heads")?, t.column("lat_ms")?);
    (0..t.len())
        .map(|i| {
            Ok(AttentionRow {
                batch: t.need(i, b, "bs")?,
                len: t.need(i, len, len_name)?,
                q_heads: t.need(i, q, "heads")?,
                kv_heads: 1.0,
                us: t.need(i, lat, "lat_ms")? * 1e3,
            })
        })
        .collect()
}

/// One collective measurement.
#[derive(Clone, Copy, Debug)]
pub struct CollectiveRow {
    /// GPUs taking part.
    pub gpus: u32,
    /// GPUs per node in the measurement (Vidur's `devices_per_node`; AIC: all in one node).
    pub devices_per_node: u32,
    /// Message bytes.
    pub bytes: f64,
    /// Latency, µs.
    pub us: f64,
}

/// `profiles/aic/<system>/<file>.csv` all-reduce rows (`nccl_allreduce_fp16`, `custom_allreduce_bf16`).
pub fn aic_all_reduce(shared: &Path, system: &str, file: &str) -> Result<Vec<CollectiveRow>> {
    let t = read_table(&shared.join(format!("profiles/aic/{system}/{file}.csv")))?;
    let (g, b, lat) = (t.column("gpus")?, t.column("bytes")?, t.column("lat_ms")?);
    (0..t.len())
        .map(|i| {
            Ok(CollectiveRow {
                gpus: t.need(i, g, "gpus")? as u32,
                devices_per_node: t.need(i, g, "gpus")? as u32,
                bytes: t.need(i, b, "bytes")?,
                us: t.need(i, lat, "lat_ms")? * 1e3,
            })
        })
        .collect()
}

/// Vidur network rows of `profiles/vidur/network/<node>/<collective>.csv` with
/// `devices_per_node == dpn` (all of them when `None`).
pub fn vidur_network(
    shared: &Path,
    node: &str,
    collective: &str,
    dpn: Option<u32>,
) -> Result<Vec<CollectiveRow>> {
    let path = shared.join(format!("profiles/vidur/network/{node}/{collective}.csv"));
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let t = read_table(&path)?;
    let median = t.column(&format!("time_stats.{collective}.median"))?;
    let (workers, size, d, coll) =
        (t.column("num_workers")?, t.column("size")?, t.column("devices_per_node")?, t.column("collective")?);
    let mut out = Vec::new();
    for i in 0..t.len() {
        if t.text(i, coll) != collective {
            continue;
        }
        let devices_per_node = t.need(i, d, "devices_per_node")? as u32;
        if dpn.is_some_and(|dpn| dpn != devices_per_node) {
            continue;
        }
        out.push(CollectiveRow {
            gpus: t.need(i, workers, "num_workers")? as u32,
            devices_per_node,
            bytes: t.need(i, size, "size")?,
            us: t.need(i, median, "median")? * 1e3,
        });
    }
    Ok(out)
}

/// A layer GEMM shape of a model in AIC's `gemm_shapes.csv`, expanded to the table's grid
/// points (`n` and `k` bracketed on the grid when the model's value is not on it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GemmShape {
    /// The layer op.
    pub op: Op,
    /// Output features (a grid point).
    pub n: f64,
    /// Input features (a grid point).
    pub k: f64,
}

/// The grid shapes of the four layer GEMMs of every model and TP in `gemm_shapes.csv` for
/// `system` and `dtype`, without duplicates, in file order.
pub fn aic_gemm_shapes(shared: &Path, system: &str, dtype: &str) -> Result<Vec<GemmShape>> {
    let t = read_table(&shared.join("profiles/aic/gemm_shapes.csv"))?;
    let (sys, dt, op, ng, kg) =
        (t.column("system")?, t.column("dtype")?, t.column("op")?, t.column("n_grid")?, t.column("k_grid")?);
    let mut out: Vec<GemmShape> = Vec::new();
    for i in 0..t.len() {
        if t.text(i, sys) != system || t.text(i, dt) != dtype {
            continue;
        }
        let op = match t.text(i, op) {
            "qkv_proj" => Op::AttnPreProj,
            "o_proj" => Op::AttnPostProj,
            "gate_up_proj" => Op::MlpUpProj,
            "down_proj" => Op::MlpDownProj,
            _ => continue,
        };
        let grid = |col: usize, name: &str| -> Result<Vec<f64>> {
            t.text(i, col)
                .split('|')
                .map(|v| {
                    v.parse::<f64>().map_err(|_| {
                        DataError(format!("gemm_shapes.csv, row {}, column '{name}': '{v}'", i + 2))
                    })
                })
                .collect()
        };
        for n in grid(ng, "n_grid")? {
            for k in grid(kg, "k_grid")? {
                let shape = GemmShape { op, n, k };
                if !out.contains(&shape) {
                    out.push(shape);
                }
            }
        }
    }
    Ok(out)
}

/// The rows of `rows` at `shape`'s `(n, k)`.
pub fn rows_at(rows: &[GemmRow], shape: &GemmShape) -> impl Iterator<Item = GemmRow> {
    let (n, k) = (shape.n, shape.k);
    rows.iter().copied().filter(move |r| r.n == n && r.k == k)
}

/// One AIC fused-MoE row (the experts of one layer; no router GEMM).
#[derive(Clone, Debug)]
pub struct MoeRow {
    /// Hidden size the experts see.
    pub hidden: f64,
    /// Expert intermediate size (whole, before TP).
    pub inter: f64,
    /// Routed experts.
    pub experts: f64,
    /// Experts per token.
    pub top_k: f64,
    /// Tokens entering the layer.
    pub tokens: f64,
    /// MoE tensor-parallel degree.
    pub tp: u32,
    /// Expert-parallel degree.
    pub ep: u32,
    /// Routing of the measurement (`balanced`, `power_law_1.01`, ...).
    pub dist: String,
    /// Latency, µs.
    pub us: f64,
    /// The kernel AIC timed (`kernel` column; empty where the table has none).
    pub kernel: String,
}

/// `profiles/aic/<system>/<file>.csv` MoE rows: a `moe_<dtype>` file (every shape) or a
/// `moe_mixtral8x7b_<dtype>` file (Mixtral's shape: hidden 4096, inter 14336, 8 experts, top-2).
pub fn aic_moe(shared: &Path, system: &str, file: &str) -> Result<Vec<MoeRow>> {
    read_moe(&aic_moe_path(shared, system, file))
}

/// [`aic_moe`] where the system may not have the table (A100 has no fp8 or fp4 MoE tables):
/// no rows when the file is absent, and an error naming the file, row and field when it is
/// there but cannot be read (never an unreadable table taken for a missing one).
pub fn aic_moe_if_present(shared: &Path, system: &str, file: &str) -> Result<Vec<MoeRow>> {
    let path = aic_moe_path(shared, system, file);
    if !path.exists() {
        return Ok(Vec::new());
    }
    read_moe(&path)
}

fn aic_moe_path(shared: &Path, system: &str, file: &str) -> PathBuf {
    shared.join(format!("profiles/aic/{system}/{file}.csv"))
}

fn read_moe(path: &Path) -> Result<Vec<MoeRow>> {
    let t = read_table(path)?;
    let shape_cols = ["hidden", "inter", "experts", "topk"];
    let shape: Vec<Option<usize>> = shape_cols.iter().map(|c| t.find_column(c)).collect();
    let mixtral = [4096.0, 14336.0, 8.0, 2.0];
    let (tokens, tp, ep, dist, lat) =
        (t.column("tokens")?, t.column("tp")?, t.column("ep")?, t.column("dist")?, t.column("lat_ms")?);
    let kernel = t.find_column("kernel");
    (0..t.len())
        .map(|i| {
            let mut s = mixtral;
            for (j, col) in shape.iter().enumerate() {
                if let Some(c) = col {
                    s[j] = t.need(i, *c, shape_cols[j])?;
                }
            }
            Ok(MoeRow {
                hidden: s[0],
                inter: s[1],
                experts: s[2],
                top_k: s[3],
                tokens: t.need(i, tokens, "tokens")?,
                tp: t.need(i, tp, "tp")? as u32,
                ep: t.need(i, ep, "ep")? as u32,
                dist: t.text(i, dist).to_string(),
                us: t.need(i, lat, "lat_ms")? * 1e3,
                kernel: kernel.map_or_else(String::new, |k| t.text(i, k).to_string()),
            })
        })
        .collect()
}
