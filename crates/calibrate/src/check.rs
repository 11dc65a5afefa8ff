//! The error table: the shipped coefficients against every measured row, per device, op and
//! dtype, with the accuracy bounds the project commits to.

use std::path::Path;

use llmsim_engine::exec::calibration::{Calibration, class};
use llmsim_engine::exec::{AlphaBeta, MLP_COLUMNS, Op};

use crate::data::{self, CollectiveRow, Result};
use crate::fit::mape;
use crate::{
    AIC_SYSTEMS, decode_row_us, decode_rows_in_scope, device, gemm_row_us, mlp_op_us, peaks, prefill_row_us,
    prefill_rows_in_scope,
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
        let curve = cal.curve(op.name()).expect("op calibrated");
        let mut pairs = Vec::new();
        for (j, r) in rows.iter().enumerate() {
            let Some(measured) = r.us[i] else { continue };
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
    for (dtype, weight_bytes, gemm_class) in [("bf16", 2.0, class::GEMM), ("fp8", 1.0, class::GEMM_FP8)] {
        let Ok(rows) = data::aic_gemm(shared, system, dtype) else { continue };
        let curve = cal.curve(gemm_class).expect("gemm");
        let p = peaks(dev, dtype == "fp8");
        let pairs: Vec<_> = rows.iter().map(|r| (gemm_row_us(&curve, p, r, weight_bytes), r.us)).collect();
        // FP8 GEMMs include activation quantisation and several kernels: reported, not bounded.
        out.push(ErrorRow::new(
            name,
            "gemm",
            dtype,
            &format!("aic {system}/gemm_{dtype}.csv"),
            &pairs,
            if dtype == "bf16" { bound(10.0) } else { None },
        ));
    }
    for (kv, kv_bytes, prefill_class, decode_class) in [
        ("bf16", 2.0, class::PREFILL_ATTENTION, class::DECODE_ATTENTION),
        ("fp8", 1.0, class::PREFILL_ATTENTION_FP8, class::DECODE_ATTENTION_FP8),
    ] {
        let p = peaks(dev, false);
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
    let node = format!("{}_dgx", name);
    if let Some(node_cal) = calibration.node(&node) {
        for (file, bounded_here) in [("nccl_allreduce_fp16", bounded), ("custom_allreduce_bf16", false)] {
            let rows = data::aic_all_reduce(shared, system, file)?;
            let pairs = collective_pairs(&rows, |g| node_cal.all_reduce(g));
            let b = if bounded_here { Some(15.0) } else { None };
            out.push(ErrorRow::new(
                name,
                &format!("all_reduce ({node})"),
                "fp16",
                &format!("aic {system}/{file}.csv"),
                &pairs,
                b,
            ));
        }
    }
    Ok(out)
}

fn collective_pairs(rows: &[CollectiveRow], fit: impl Fn(u32) -> Option<AlphaBeta>) -> Vec<(f64, f64)> {
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
