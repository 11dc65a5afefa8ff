//! The error table: the shipped coefficients against every measured row, per device, op and
//! dtype, with the accuracy bounds the project commits to.

use std::path::Path;

use llmsim_engine::config::Dtype;
use llmsim_engine::exec::calibration::{AllReduceKernel, Calibration, class};
use llmsim_engine::exec::{Collective, MLP_COLUMNS, MoeRouting, MoeShape, Op, cost};

use crate::data::{self, CollectiveRow, Result};
use crate::fit::mape;
use crate::{
    AIC_GEMM_DTYPES, AIC_NODES, AIC_SYSTEMS, CUSTOM_ALL_REDUCE_FILES, Family, LAYER_GEMM_OPS,
    aic_mla_prefill_absorbed, band_label, decode_row_us, decode_rows_in_scope, device, gemm_row_us,
    mla_decode_row_us, mla_prefill_row_us, mlp_class, mlp_op_us, peaks, prefill_row_us,
    prefill_rows_in_scope, token_band,
};

/// One line of the error table.
#[derive(Clone, Debug)]
pub struct ErrorRow {
    /// Catalogue device (`h100`).
    pub device: String,
    /// Op or op class.
    pub op: String,
    /// Weights/KV dtype of the measurement.
    pub dtype: String,
    /// The measured table.
    pub source: String,
    /// Rows compared.
    pub rows: usize,
    /// Mean absolute percentage error, %.
    pub mape_pct: f64,
    /// 90th-percentile absolute percentage error, %.
    pub p90_pct: f64,
    /// The committed MAPE bound, if any.
    pub bound_pct: Option<f64>,
}

impl ErrorRow {
    fn new(
        device: &str,
        op: &str,
        dtype: &str,
        source: &str,
        pairs: &[(f64, f64)],
        bound_pct: Option<f64>,
    ) -> ErrorRow {
        let mut ape: Vec<f64> = pairs.iter().map(|(p, m)| 100.0 * ((p - m) / m).abs()).collect();
        ape.sort_by(f64::total_cmp);
        let p90 = if ape.is_empty() { 0.0 } else { ape[((ape.len() - 1) as f64 * 0.9).round() as usize] };
        ErrorRow {
            device: device.into(),
            op: op.into(),
            dtype: dtype.into(),
            source: source.into(),
            rows: pairs.len(),
            mape_pct: mape(pairs.iter().copied()),
            p90_pct: p90,
            bound_pct,
        }
    }

    /// Whether the row is within its bound (rows without one always pass).
    pub fn passes(&self) -> bool {
        self.bound_pct.is_none_or(|b| self.mape_pct <= b)
    }
}

/// Largest token count the Vidur comparison covers.
pub const VIDUR_MAX_TOKENS: f64 = 16384.0;

/// Vidur's per-layer ops (everything in `mlp.csv` except the embedding).
pub const LAYER_OPS: [Op; 9] = [
    Op::InputLayernorm,
    Op::AttnPreProj,
    Op::AttnRope,
    Op::AttnPostProj,
    Op::PostAttentionLayernorm,
    Op::MlpUpProj,
    Op::MlpAct,
    Op::MlpDownProj,
    Op::Add,
];

/// Shipped coefficients against Vidur's `mlp.csv` on `device_name`: each op and the per-layer
/// sum. Bounds apply on H100 and A100.
pub fn vidur_rows(shared: &Path, calibration: &Calibration, device_name: &str) -> Result<Vec<ErrorRow>> {
    let dev = device(device_name);
    let cal = calibration.device(device_name).expect("device calibrated");
    let rows: Vec<_> =
        data::vidur_mlp(shared, device_name)?.into_iter().filter(|r| r.tokens <= VIDUR_MAX_TOKENS).collect();
    let bounded = matches!(device_name, "h100" | "a100");
    let source = format!("vidur compute/{device_name}/*/mlp.csv");
    let mut out = Vec::new();
    // An op a profile lacks (phi-2 has no post-attention norm) counts in neither sum.
    let mut layer = vec![(0.0, 0.0); rows.len()];
    for (i, (_, op)) in MLP_COLUMNS.iter().enumerate() {
        let mut pairs = Vec::new();
        for (j, r) in rows.iter().enumerate() {
            let Some(measured) = r.us[i] else { continue };
            let curve = cal
                .curve(mlp_class(*op, r.shape.gated))
                .or_else(|| cal.curve(op.name()))
                .expect("op calibrated");
            let predicted = mlp_op_us(&curve, dev, r, i);
            pairs.push((predicted, measured));
            if LAYER_OPS.contains(op) {
                layer[j].0 += predicted;
                layer[j].1 += measured;
            }
        }
        out.push(ErrorRow::new(device_name, op.name(), "bf16", &source, &pairs, bounded.then_some(15.0)));
    }
    out.push(ErrorRow::new(device_name, "layer_sum", "bf16", &source, &layer, bounded.then_some(10.0)));
    Ok(out)
}

/// Shipped coefficients against AIC's tables of `system`. Bounds apply on H100 and H200.
pub fn aic_rows(shared: &Path, calibration: &Calibration, system: &str) -> Result<Vec<ErrorRow>> {
    let name = AIC_SYSTEMS.iter().find(|(s, _)| *s == system).map(|(_, d)| *d).expect("known system");
    let dev = device(name);
    let cal = calibration.device(name).expect("device calibrated");
    let bounded = matches!(name, "h100" | "h200");
    let bound = |b: f64| bounded.then_some(b);
    let mut out = Vec::new();
    for g in AIC_GEMM_DTYPES {
        let Ok(rows) = data::aic_gemm(shared, system, g.file) else { continue };
        let curve = cal.curve(g.generic).expect("gemm");
        let p = peaks(dev, g.weights);
        let weight_bytes = g.weights.bytes_per_element();
        let pairs: Vec<_> = rows.iter().map(|r| (gemm_row_us(&curve, p, r, weight_bytes), r.us)).collect();
        // FP8 and NVFP4 GEMMs include activation quantisation and several kernels: reported,
        // not bounded.
        out.push(ErrorRow::new(
            name,
            "gemm",
            g.file,
            &format!("aic {system}/gemm_{}.csv", g.file),
            &pairs,
            if g.weights == Dtype::Bf16 { bound(10.0) } else { None },
        ));
    }
    for (kv, kv_bytes, prefill_class, decode_class) in [
        ("bf16", 2.0, class::PREFILL_ATTENTION, class::DECODE_ATTENTION),
        ("fp8", 1.0, class::PREFILL_ATTENTION_FP8, class::DECODE_ATTENTION_FP8),
    ] {
        let p = peaks(dev, Dtype::Bf16);
        if let Ok(rows) = data::aic_attention(shared, system, "ctx", kv) {
            let curve = cal.curve(prefill_class).expect("prefill");
            let pairs: Vec<_> = rows
                .iter()
                .filter(|r| prefill_rows_in_scope(r))
                .map(|r| (prefill_row_us(&curve, p, r, kv_bytes), r.us))
                .collect();
            out.push(ErrorRow::new(
                name,
                "prefill_attention",
                &format!("kv {kv}"),
                &format!("aic {system}/ctx_attn_kv{kv}.csv seq≥16"),
                &pairs,
                bound(15.0),
            ));
        }
        if let Ok(rows) = data::aic_attention(shared, system, "gen", kv) {
            let curve = cal.curve(decode_class).expect("decode");
            let pairs: Vec<_> = rows
                .iter()
                .filter(|r| decode_rows_in_scope(r))
                .map(|r| (decode_row_us(&curve, p, r, kv_bytes), r.us))
                .collect();
            out.push(ErrorRow::new(
                name,
                "decode_attention",
                &format!("kv {kv}"),
                &format!("aic {system}/gen_attn_kv{kv}.csv b≤256 KV 128–32k"),
                &pairs,
                bound(15.0),
            ));
        }
    }
    out.extend(mla_rows(shared, calibration, system)?);
    out.extend(moe_quantised_rows(shared, calibration, system)?);
    let node = format!("{}_dgx", name);
    if let Some(node_cal) = calibration.node(&node) {
        for kernel in AllReduceKernel::ALL {
            let file = match kernel.custom_key() {
                None => "nccl_allreduce_fp16",
                Some(key) => match CUSTOM_ALL_REDUCE_FILES.iter().find(|(k, _)| *k == key) {
                    Some((_, file)) => file,
                    None => continue,
                },
            };
            let Ok(rows) = data::aic_all_reduce(shared, system, file) else { continue };
            let pairs = collective_pairs(&rows, |g| node_cal.all_reduce_with(kernel, g));
            out.push(ErrorRow::new(
                name,
                &format!("all_reduce {} ({node})", kernel.name()),
                "bf16",
                &format!("aic {system}/{file}.csv"),
                &pairs,
                bounded.then_some(15.0),
            ));
        }
    }
    Ok(out)
}

/// Shipped quantised fused-MoE curves against the rows they were fitted to (AIC's fp8-block
/// fp4 and int4 weight-only fused-MoE tables of `system`, ≥ `MOE_FIT_FROM` routed tokens per expert), and the
/// generic GEMM curve of the dtype on the same rows (what the experts cost without the fit).
/// Reported, not bounded: one curve per device and dtype spans 12-18 shapes and 2-3 kernels.
pub fn moe_quantised_rows(shared: &Path, calibration: &Calibration, system: &str) -> Result<Vec<ErrorRow>> {
    let name = AIC_SYSTEMS.iter().find(|(s, _)| *s == system).map(|(_, d)| *d).expect("known system");
    let Some(cal) = calibration.device(name) else { return Ok(Vec::new()) };
    let Some(act) = cal.curve(class::MLP_ACT) else { return Ok(Vec::new()) };
    let dev = device(name);
    let mut out = Vec::new();
    for (weights, fused, generic) in [
        (Dtype::Fp8, class::MOE_EXPERTS_FP8, class::GEMM_FP8),
        (Dtype::Fp4, class::MOE_EXPERTS_FP4, class::GEMM_FP4),
        // INT4 weight-only experts multiply at 16 bits: the bf16 generic GEMM.
        (Dtype::Int4, class::MOE_EXPERTS_INT4, class::GEMM),
    ] {
        let rows = crate::moe_prefill_rows(shared, system, dev, weights)?;
        let table = crate::moe_table(dev, weights);
        for class in [fused, generic] {
            let Some(curve) = cal.curve(class) else { continue };
            let pairs: Vec<_> =
                rows.iter().map(|r| (crate::moe_row_us(&curve, &act, dev, weights, r), r.us)).collect();
            if !pairs.is_empty() {
                out.push(ErrorRow::new(
                    name,
                    &format!("moe experts on {class}"),
                    &format!("{weights:?}").to_lowercase(),
                    &format!(
                        "aic {system}/{table}.csv {}",
                        if crate::moe_fit_is_whole_range(dev, weights) {
                            "tokens≤4096"
                        } else {
                            "tpe≥16"
                        }
                    ),
                    &pairs,
                    None,
                ));
            }
        }
    }
    Ok(out)
}

/// Shipped MLA curves against AIC's MLA tables of `system` (SGLang's kernels): prefill and
/// decode per KV dtype, where both the table and the curve exist.
pub fn mla_rows(shared: &Path, calibration: &Calibration, system: &str) -> Result<Vec<ErrorRow>> {
    let name = AIC_SYSTEMS.iter().find(|(s, _)| *s == system).map(|(_, d)| *d).expect("known system");
    let Some(cal) = calibration.device(name) else { return Ok(Vec::new()) };
    let p = peaks(device(name), Dtype::Bf16);
    let absorbed = aic_mla_prefill_absorbed(device(name));
    // Bounded where the dense attention fits are (H100, H200); Blackwell's MLA kernels run
    // relatively faster at long prompts than one roofline follows (reported).
    let bound = matches!(name, "h100" | "h200").then_some(15.0);
    let mut out = Vec::new();
    for (kv, kv_bytes, prefill_class, decode_class) in [
        ("bf16", 2.0, class::MLA_PREFILL_ATTENTION, class::MLA_DECODE_ATTENTION),
        ("fp8", 1.0, class::MLA_PREFILL_ATTENTION_FP8, class::MLA_DECODE_ATTENTION_FP8),
    ] {
        if let (Ok(rows), Some(curve)) = (data::aic_mla(shared, system, "ctx", kv), cal.curve(prefill_class))
        {
            let pairs: Vec<_> = rows
                .iter()
                .filter(|r| prefill_rows_in_scope(r))
                .map(|r| (mla_prefill_row_us(&curve, p, r, kv_bytes, absorbed), r.us))
                .collect();
            out.push(ErrorRow::new(
                name,
                prefill_class,
                &format!("kv {kv}"),
                &format!("aic {system}/ctx_mla_kv{kv}.csv seq≥16"),
                &pairs,
                bound,
            ));
        }
        if let (Ok(rows), Some(fitted)) =
            (data::aic_mla(shared, system, "gen", kv), cal.curves.get(decode_class))
        {
            let curve = fitted.curve;
            // A curve transferred from the bf16-KV fit (the table is a fallback path) is
            // reported against it, not bounded.
            let bound = if fitted.rows == 0 { None } else { bound };
            let pairs: Vec<_> = rows
                .iter()
                .filter(|r| decode_rows_in_scope(r))
                .map(|r| (mla_decode_row_us(&curve, p, r, kv_bytes), r.us))
                .collect();
            out.push(ErrorRow::new(
                name,
                decode_class,
                &format!("kv {kv}"),
                &format!("aic {system}/gen_mla_kv{kv}.csv b≤256 KV 128–32k"),
                &pairs,
                bound,
            ));
        }
    }
    Ok(out)
}

/// The error rows of one curve family on every AIC system (what `fit --only` prints).
pub fn family_rows(shared: &Path, calibration: &Calibration, family: Family) -> Result<Vec<ErrorRow>> {
    let mut out = Vec::new();
    for (system, _) in AIC_SYSTEMS {
        match family {
            Family::Mla => out.extend(mla_rows(shared, calibration, system)?),
            Family::Moe => out.extend(moe_quantised_rows(shared, calibration, system)?),
        }
    }
    Ok(out)
}

fn collective_pairs(rows: &[CollectiveRow], fit: impl Fn(u32) -> Option<Collective>) -> Vec<(f64, f64)> {
    rows.iter().filter_map(|r| fit(r.gpus).map(|ab| (ab.time_us(r.bytes), r.us))).collect()
}

/// Shipped node coefficients against Vidur's own network profiles.
pub fn vidur_network_rows(shared: &Path, calibration: &Calibration) -> Result<Vec<ErrorRow>> {
    let mut out = Vec::new();
    for node in
        ["h100_dgx", "a100_dgx", "h100_pairwise_nvlink", "a100_pairwise_nvlink", "p4d_a100_40g_nvlink"]
    {
        let Some(cal) = calibration.node(node) else { continue };
        let rows: Vec<CollectiveRow> = data::vidur_network(shared, node, "all_reduce", None)?
            .into_iter()
            .filter(|r| r.gpus == r.devices_per_node)
            .collect();
        let pairs = collective_pairs(&rows, |g| cal.all_reduce(g));
        out.push(ErrorRow::new(
            node,
            "all_reduce",
            "fp16",
            &format!("vidur network/{node}/all_reduce.csv"),
            &pairs,
            None,
        ));
    }
    Ok(out)
}

/// The whole table: Vidur per-op rows on every profiled device, AIC rows on every system and
/// Vidur's network profiles.
pub fn error_table(shared: &Path, calibration: &Calibration) -> Result<Vec<ErrorRow>> {
    let mut out = Vec::new();
    for d in crate::VIDUR_DEVICES {
        out.extend(vidur_rows(shared, calibration, d)?);
    }
    for (system, _) in AIC_SYSTEMS {
        out.extend(aic_rows(shared, calibration, system)?);
    }
    out.extend(vidur_network_rows(shared, calibration)?);
    Ok(out)
}

/// The table as aligned text, one row per line, with a pass/fail column.
pub fn format_table(rows: &[ErrorRow]) -> String {
    let mut s = format!(
        "{:<8} {:<34} {:<8} {:>6} {:>7} {:>7} {:>6}  {}\n",
        "device", "op", "dtype", "rows", "MAPE%", "p90%", "bound", "source"
    );
    for r in rows {
        let bound = r.bound_pct.map_or("-".to_string(), |b| format!("{b:.0}"));
        let verdict = if r.bound_pct.is_none() {
            ""
        } else if r.passes() {
            " ok"
        } else {
            " FAIL"
        };
        s += &format!(
            "{:<8} {:<34} {:<8} {:>6} {:>7.2} {:>7.2} {:>6}{verdict}  {}\n",
            r.device, r.op, r.dtype, r.rows, r.mape_pct, r.p90_pct, bound, r.source
        );
    }
    s
}

/// One cell of a per-band error table: the signed mean relative error (the bias a simulation
/// accumulates) and the MAPE (its spread) of one quantity over one token band.
#[derive(Clone, Debug)]
pub struct BandRow {
    /// Catalogue device.
    pub device: String,
    /// What is compared: `layer_sum <model> TP<n>`, an op class, a layer GEMM.
    pub what: String,
    /// Whose kernels the curve models (`vidur`, `vllm`) and the dtype.
    pub kernels: String,
    /// The token band (or `chunk 2^k` for the chunk-size rows).
    pub band: String,
    /// Rows compared.
    pub rows: usize,
    /// Signed mean relative error, %.
    pub bias_pct: f64,
    /// Mean absolute percentage error, %.
    pub mape_pct: f64,
    /// The bound on |bias|, if any.
    pub bound_pct: Option<f64>,
}

impl BandRow {
    fn new(
        device: &str,
        what: String,
        kernels: &str,
        band: &str,
        ratios: &[f64],
        bound_pct: Option<f64>,
    ) -> BandRow {
        let n = ratios.len().max(1) as f64;
        BandRow {
            device: device.into(),
            what,
            kernels: kernels.into(),
            band: band.into(),
            rows: ratios.len(),
            bias_pct: 100.0 * ratios.iter().map(|r| r - 1.0).sum::<f64>() / n,
            mape_pct: 100.0 * ratios.iter().map(|r| (r - 1.0).abs()).sum::<f64>() / n,
            bound_pct,
        }
    }

    /// Whether |bias| is within the bound (rows without one always pass).
    pub fn passes(&self) -> bool {
        self.bound_pct.is_none_or(|b| self.bias_pct.abs() <= b)
    }
}

/// Bound on a layer sum's |bias| per (model, TP, token band) against Vidur's `mlp.csv`, %.
pub const LAYER_SUM_BAND_BOUND: f64 = 10.0;
/// Bound on an op's |bias| per token band against Vidur's `mlp.csv`, %.
pub const OP_BAND_BOUND: f64 = 15.0;
/// Bound on a layer sum's error at each power-of-two chunk size from 128 to 4096 tokens, %.
pub const CHUNK_BOUND: f64 = 20.0;
/// Bound on a layer GEMM's |bias| per token band against AIC's GEMM tables, m in 128–2048, %.
pub const AIC_GEMM_BAND_BOUND: f64 = 12.0;

/// Layer-GEMM curves reported but not bounded per band: fp8 on the B300, whose QKV curve is
/// 12.5 % slow at 64-256 tokens against vLLM's Cutlass fp8 kernel (one band of twelve; no
/// measured serving point runs fp8 on a B300, and its bf16 and NVFP4 curves are bounded).
pub fn unbounded_layer_gemms(device: &str, weights: Dtype) -> bool {
    device == "b300" && weights == Dtype::Fp8
}

/// Profiled models whose layer sums are reported per band but not bounded. phi-2 is the one
/// model of Vidur's set with biased linear layers, a parallel attention/MLP block and 80-wide
/// heads; its profile runs 10–12 % slower than the pooled curves in the (256,1024] band on
/// H100, and one model's profile cannot calibrate a per-architecture correction.
pub const UNBOUNDED_MODELS: [&str; 1] = ["microsoft/phi-2"];

/// The chunk sizes schedulers use (token budgets are powers of two), where a smooth curve
/// through Vidur's staircase of tile-aligned and unaligned row counts errs most.
pub const CHUNK_SIZES: [f64; 6] = [128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0];

/// Vidur's `mlp.csv` per token band on `device_name`: the layer sum per (model, TP, band), each
/// op class per band (all models and TP pooled), and the layer sum at each chunk size per
/// (model, TP). Bounds apply on H100 and A100.
pub fn vidur_band_rows(shared: &Path, calibration: &Calibration, device_name: &str) -> Result<Vec<BandRow>> {
    let dev = device(device_name);
    let cal = calibration.device(device_name).expect("device calibrated");
    let rows: Vec<_> =
        data::vidur_mlp(shared, device_name)?.into_iter().filter(|r| r.tokens <= VIDUR_MAX_TOKENS).collect();
    let bounded = matches!(device_name, "h100" | "a100");
    let bound = |b: f64| bounded.then_some(b);
    let mut layer: std::collections::BTreeMap<(String, u32, usize), Vec<f64>> = Default::default();
    let mut chunks: std::collections::BTreeMap<(String, u32, u64), Vec<f64>> = Default::default();
    let mut ops: std::collections::BTreeMap<(&str, usize), Vec<f64>> = Default::default();
    for r in &rows {
        let (mut predicted, mut measured) = (0.0, 0.0);
        for (i, (_, op)) in MLP_COLUMNS.iter().enumerate() {
            let Some(m) = r.us[i] else { continue };
            let class = mlp_class(*op, r.shape.gated);
            let p = mlp_op_us(
                &cal.curve(class).or_else(|| cal.curve(op.name())).expect("op calibrated"),
                dev,
                r,
                i,
            );
            if LAYER_OPS.contains(op) {
                predicted += p;
                measured += m;
            }
            ops.entry((class, token_band(r.tokens))).or_default().push(p / m);
        }
        let ratio = predicted / measured;
        layer.entry((r.model.clone(), r.tp, token_band(r.tokens))).or_default().push(ratio);
        if CHUNK_SIZES.contains(&r.tokens) {
            chunks.entry((r.model.clone(), r.tp, r.tokens as u64)).or_default().push(ratio);
        }
    }
    let short = |model: &str| model.rsplit('/').next().unwrap_or(model).to_string();
    let mut out = Vec::new();
    for ((model, tp, band), ratios) in &layer {
        let what = format!("layer_sum {} TP{tp}", short(model));
        let b = if UNBOUNDED_MODELS.contains(&model.as_str()) { None } else { bound(LAYER_SUM_BAND_BOUND) };
        out.push(BandRow::new(device_name, what, "vidur bf16", band_label(*band), ratios, b));
    }
    for ((class, band), ratios) in &ops {
        out.push(BandRow::new(
            device_name,
            class.to_string(),
            "vidur bf16",
            band_label(*band),
            ratios,
            bound(OP_BAND_BOUND),
        ));
    }
    for ((model, tp, tokens), ratios) in &chunks {
        let what = format!("layer_sum {} TP{tp}", short(model));
        out.push(BandRow::new(
            device_name,
            what,
            "vidur bf16",
            &format!("chunk {tokens}"),
            ratios,
            bound(CHUNK_BOUND),
        ));
    }
    Ok(out)
}

/// The smallest and largest token count of the AIC layer-GEMM check: the chunked-prefill regime.
pub const AIC_GEMM_TOKENS: (f64, f64) = (128.0, 2048.0);

/// vLLM's layer-GEMM curves against AIC's GEMM tables of `system` at the models' shapes, per
/// (dtype, op, token band) for m in [`AIC_GEMM_TOKENS`]. Bounded wherever the table exists.
pub fn aic_band_rows(shared: &Path, calibration: &Calibration, system: &str) -> Result<Vec<BandRow>> {
    let name = AIC_SYSTEMS.iter().find(|(s, _)| *s == system).map(|(_, d)| *d).expect("known system");
    let dev = device(name);
    let cal = calibration.device(name).expect("device calibrated");
    let mut out = Vec::new();
    for g in AIC_GEMM_DTYPES {
        let Ok(rows) = data::aic_gemm(shared, system, g.file) else { continue };
        let shapes = data::aic_gemm_shapes(shared, system, g.shapes)?;
        let p = peaks(dev, g.weights);
        let (dtype, weight_bytes, classes) = (g.file, g.weights.bytes_per_element(), g.layer);
        for (op, class) in LAYER_GEMM_OPS.iter().zip(classes) {
            let curve = cal.curve(class).expect("layer GEMM calibrated");
            let mut bands: std::collections::BTreeMap<usize, Vec<f64>> = Default::default();
            for shape in shapes.iter().filter(|s| s.op == *op) {
                for r in data::rows_at(&rows, shape) {
                    if (AIC_GEMM_TOKENS.0..=AIC_GEMM_TOKENS.1).contains(&r.m) {
                        let ratio = gemm_row_us(&curve, p, &r, weight_bytes) / r.us;
                        bands.entry(token_band(r.m)).or_default().push(ratio);
                    }
                }
            }
            for (band, ratios) in &bands {
                out.push(BandRow::new(
                    name,
                    op.name().to_string(),
                    &format!("vllm {dtype}"),
                    band_label(*band),
                    ratios,
                    (!unbounded_layer_gemms(name, g.weights)).then_some(AIC_GEMM_BAND_BOUND),
                ));
            }
        }
    }
    Ok(out)
}

/// Bound on an all-reduce fit's |bias| per (node, kernel, TP, message band), %.
pub const ALL_REDUCE_BAND_BOUND: f64 = 15.0;

/// All-reduce message bands: decode (1–256 tokens of a 4k–8k hidden state in bf16: up to
/// 4 MiB) and prefill (512–16k tokens: 4–256 MiB).
pub const ALL_REDUCE_BANDS: [(&str, f64, f64); 2] =
    [("decode ≤4MiB", 0.0, 4194304.0), ("prefill 4-256MiB", 4194304.0, 268435456.0)];

/// Every all-reduce fit of `node` against AIC's table of it, per (kernel, TP, message band).
pub fn all_reduce_band_rows(shared: &Path, calibration: &Calibration, system: &str) -> Result<Vec<BandRow>> {
    let mut out = Vec::new();
    let Some((_, node)) = AIC_NODES.iter().find(|(s, _)| *s == system) else { return Ok(out) };
    let Some(node_cal) = calibration.node(node) else { return Ok(out) };
    for kernel in AllReduceKernel::ALL {
        let file = match kernel.custom_key() {
            None => "nccl_allreduce_fp16",
            Some(key) => match CUSTOM_ALL_REDUCE_FILES.iter().find(|(k, _)| *k == key) {
                Some((_, file)) => file,
                None => continue,
            },
        };
        let Ok(rows) = data::aic_all_reduce(shared, system, file) else { continue };
        let mut tps: Vec<u32> = rows.iter().map(|r| r.gpus).collect();
        tps.sort_unstable();
        tps.dedup();
        for tp in tps {
            let Some(fit) = node_cal.all_reduce_with(kernel, tp) else { continue };
            for (band, lo, hi) in ALL_REDUCE_BANDS {
                let ratios: Vec<f64> = rows
                    .iter()
                    .filter(|r| r.gpus == tp && r.bytes > lo && r.bytes <= hi)
                    .map(|r| fit.time_us(r.bytes) / r.us)
                    .collect();
                if !ratios.is_empty() {
                    out.push(BandRow::new(
                        node,
                        format!("all_reduce TP{tp}"),
                        kernel.name(),
                        band,
                        &ratios,
                        Some(ALL_REDUCE_BAND_BOUND),
                    ));
                }
            }
        }
    }
    Ok(out)
}

/// Every per-band table: Vidur's profiles on every profiled device, AIC's GEMMs and all-reduces
/// on every system.
pub fn band_table(shared: &Path, calibration: &Calibration) -> Result<Vec<BandRow>> {
    let mut out = Vec::new();
    for d in crate::VIDUR_DEVICES {
        out.extend(vidur_band_rows(shared, calibration, d)?);
    }
    for (system, _) in AIC_SYSTEMS {
        out.extend(aic_band_rows(shared, calibration, system)?);
        out.extend(all_reduce_band_rows(shared, calibration, system)?);
        out.extend(moe_routing_rows(shared, calibration, system)?);
        out.extend(moe_band_rows(shared, calibration, system)?);
    }
    Ok(out)
}

/// The per-band table as aligned text, with a pass/fail column.
pub fn format_band_table(rows: &[BandRow]) -> String {
    let mut s = format!(
        "{:<8} {:<34} {:<11} {:<12} {:>5} {:>7} {:>7} {:>6}\n",
        "device", "what", "kernels", "band", "rows", "bias%", "MAPE%", "bound"
    );
    for r in rows {
        let bound = r.bound_pct.map_or("-".to_string(), |b| format!("{b:.0}"));
        let verdict = if r.bound_pct.is_none() {
            ""
        } else if r.passes() {
            " ok"
        } else {
            " FAIL"
        };
        s += &format!(
            "{:<8} {:<34} {:<11} {:<12} {:>5} {:>+7.2} {:>7.2} {:>6}{verdict}\n",
            r.device, r.what, r.kernels, r.band, r.rows, r.bias_pct, r.mape_pct, bound
        );
    }
    s
}

/// The routing a MoE table's `dist` names. AIC's `power_law_<α>` tables map to the rank power
/// law (the `power_law` option), not `MoeRouting::Sampled` (what AIC's collector draws): the
/// bounded routing row was set on it and no bundle runs Sampled (docs/policies.md,
/// "Calibration checking's routing").
pub fn moe_routing(dist: &str, experts: f64, top_k: f64) -> Option<MoeRouting> {
    match dist {
        "balanced" => Some(MoeRouting::Balanced { experts, top_k }),
        d => d.strip_prefix("power_law_")?.parse().ok().map(|a| MoeRouting::power_law(experts, top_k, a)),
    }
}

/// Predicted µs of an AIC MoE row at bf16 with `device`'s curves and `routing`.
pub fn moe_row_us(
    cal: &llmsim_engine::exec::calibration::DeviceCalibration,
    dev: &llmsim_engine::catalog::DeviceSpec,
    row: &data::MoeRow,
    routing: &MoeRouting,
) -> f64 {
    let shape = MoeShape {
        hidden: row.hidden,
        experts: row.experts / f64::from(row.ep),
        top_k: row.top_k,
        expert_dim: row.inter / f64::from(row.tp),
        shared_dim: 0.0,
        gated: true,
    };
    // Each of the EP ranks holds experts/ep of the experts and sees the tokens routed to them.
    let active = routing.active_experts(row.tokens) / f64::from(row.ep);
    let tokens_here = row.tokens / f64::from(row.ep);
    cost::moe_experts_us(
        &cal.curve(class::MOE_EXPERTS).or_else(|| cal.curve(class::GEMM)).expect("gemm"),
        &cal.curve(class::MLP_ACT).expect("act"),
        peaks(dev, Dtype::Bf16),
        peaks(dev, Dtype::Bf16),
        &shape,
        tokens_here,
        active,
        2.0,
    )
}

/// The MoE experts' model against AIC's bf16 fused-MoE tables of `system` (no expert
/// parallelism), with the routing each row was measured under, per (shape, TP, routing, band).
/// Reported, not bounded: one grouped-GEMM curve per device (fitted to the balanced rows) is
/// 20–60 % off for some of the 18 shapes (kernels change with the shape and TP).
pub fn moe_band_rows(shared: &Path, calibration: &Calibration, system: &str) -> Result<Vec<BandRow>> {
    let name = AIC_SYSTEMS.iter().find(|(s, _)| *s == system).map(|(_, d)| *d).expect("known system");
    let (dev, cal) = (device(name), calibration.device(name).expect("device calibrated"));
    let mut rows = data::aic_moe(shared, system, "moe_mixtral8x7b_bf16")?;
    let all = data::aic_moe_if_present(shared, system, "moe_bf16")?;
    rows.extend(all.into_iter().filter(|r| !(r.experts == 8.0 && r.inter == 14336.0 && r.hidden == 4096.0)));
    let mut cells: std::collections::BTreeMap<(String, u32, String, usize), Vec<f64>> = Default::default();
    for r in rows.iter().filter(|r| r.ep == 1) {
        let Some(routing) = moe_routing(&r.dist, r.experts, r.top_k) else { continue };
        let shape = format!("{}/{}/{}x{}", r.hidden, r.inter, r.experts, r.top_k);
        cells
            .entry((shape, r.tp, r.dist.clone(), token_band(r.tokens)))
            .or_default()
            .push(moe_row_us(cal, dev, r, &routing) / r.us);
    }
    Ok(cells
        .into_iter()
        .map(|((shape, tp, dist, band), ratios)| {
            BandRow::new(name, format!("moe {shape} TP{tp}"), &dist, band_label(band), &ratios, None)
        })
        .collect())
}

/// Bound on the routing effect's |bias|, %: how much skewed routing shortens a small MoE batch,
/// predicted against measured.
pub const MOE_ROUTING_BOUND: f64 = 15.0;

/// Token counts at which routing decides how many experts a batch reaches (Mixtral: 2–16).
pub const MOE_ROUTING_TOKENS: [f64; 4] = [2.0, 4.0, 8.0, 16.0];

/// The routing effect on Mixtral's fused-MoE layer (`system`'s `moe_mixtral8x7b_bf16.csv`): the
/// latency ratio of power-law to balanced routing at 2–16 tokens per TP degree, predicted (the
/// expected distinct experts under each routing) over measured. This checks the weight traffic
/// of the experts a batch reaches, independently of the kernel's efficiency.
pub fn moe_routing_rows(shared: &Path, calibration: &Calibration, system: &str) -> Result<Vec<BandRow>> {
    let name = AIC_SYSTEMS.iter().find(|(s, _)| *s == system).map(|(_, d)| *d).expect("known system");
    let (dev, cal) = (device(name), calibration.device(name).expect("device calibrated"));
    let rows = data::aic_moe_if_present(shared, system, "moe_mixtral8x7b_bf16")?;
    let mut cells: std::collections::BTreeMap<(u32, String), Vec<f64>> = Default::default();
    for skewed in
        rows.iter().filter(|r| r.ep == 1 && r.dist != "balanced" && MOE_ROUTING_TOKENS.contains(&r.tokens))
    {
        let Some(balanced) = rows
            .iter()
            .find(|r| r.ep == 1 && r.tp == skewed.tp && r.tokens == skewed.tokens && r.dist == "balanced")
        else {
            continue;
        };
        let (Some(skew), Some(even)) = (
            moe_routing(&skewed.dist, skewed.experts, skewed.top_k),
            moe_routing(&balanced.dist, balanced.experts, balanced.top_k),
        ) else {
            continue;
        };
        let predicted = moe_row_us(cal, dev, skewed, &skew) / moe_row_us(cal, dev, balanced, &even);
        cells
            .entry((skewed.tp, skewed.dist.clone()))
            .or_default()
            .push(predicted / (skewed.us / balanced.us));
    }
    Ok(cells
        .into_iter()
        .map(|((tp, dist), ratios)| {
            BandRow::new(
                name,
                format!("moe routing 4096/14336/8x2 TP{tp}"),
                &dist,
                "2-16 tokens",
                &ratios,
                Some(MOE_ROUTING_BOUND),
            )
        })
        .collect())
}
