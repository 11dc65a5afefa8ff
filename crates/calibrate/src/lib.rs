//! llmsim's calibration tool: fits the roofline predictor's coefficients to the measured tables
//! in `../shared/profiles` (writing `data/calibration.json`) and prints how far the shipped
//! coefficients are from every measured row.

pub mod check;
pub mod data;
pub mod fit;
pub mod transfer;

use std::collections::BTreeMap;
use std::path::Path;

use llmsim_engine::catalog::{DeviceSpec, find_device};
use llmsim_engine::config::Dtype;
use llmsim_engine::exec::calibration::{
    Calibration, DeviceCalibration, FittedCurve, NodeCalibration, TpAlphaBeta, class,
};
use llmsim_engine::exec::{
    AlphaBeta, AttentionShape, Collective, Curve, DecodeWork, LatentShape, MLP_COLUMNS, Op, Peaks,
    PrefillWork, cost,
};

use data::{AttentionRow, CollectiveRow, GemmRow, GemmShape, MlpRow, Result};
use fit::{Fitted, Form, fit};

/// The engine's device record for `name` (a catalogue id).
pub fn device(name: &str) -> &'static DeviceSpec {
    find_device(name).unwrap_or_else(|| panic!("device {name} is not in data/devices.json"))
}

/// Peak rates of `device` for GEMMs with `weights` (the 16-bit rate for everything else).
pub fn peaks(device: &DeviceSpec, weights: Dtype) -> Peaks {
    Peaks { flops_per_s: weights.gemm_tflops(device) * 1e12, bytes_per_s: device.memory_bandwidth_gbps * 1e9 }
}

/// AIC system folders and the catalogue device each one calibrates.
pub const AIC_SYSTEMS: [(&str, &str); 5] = [
    ("h100_sxm", "h100"),
    ("h200_sxm", "h200"),
    ("a100_sxm", "a100"),
    ("b200_sxm", "b200"),
    ("b300_sxm", "b300"),
];

/// One GEMM dtype of AIC's tables: the file's dtype (`gemm_<file>.csv`), the dtype whose rows
/// of `gemm_shapes.csv` give the models' grid shapes, llmsim's weight dtype, and the generic and
/// layer-GEMM classes it calibrates.
#[derive(Clone, Copy, Debug)]
pub struct AicGemmDtype {
    /// `gemm_<file>.csv`.
    pub file: &'static str,
    /// The `dtype` of `gemm_shapes.csv` rows listing the models' shapes on this table's grid
    /// (NVFP4's full grid holds every fp8 grid point; `gemm_shapes.csv` lists bf16 and fp8 only).
    pub shapes: &'static str,
    /// llmsim's weight dtype.
    pub weights: Dtype,
    /// The generic GEMM class.
    pub generic: &'static str,
    /// The four layer-GEMM classes.
    pub layer: [&'static str; 4],
}

/// AIC's GEMM dtypes llmsim calibrates.
pub const AIC_GEMM_DTYPES: [AicGemmDtype; 3] = [
    AicGemmDtype {
        file: "bf16",
        shapes: "bf16",
        weights: Dtype::Bf16,
        generic: class::GEMM,
        layer: class::VLLM_LAYER_GEMMS,
    },
    AicGemmDtype {
        file: "fp8",
        shapes: "fp8",
        weights: Dtype::Fp8,
        generic: class::GEMM_FP8,
        layer: class::VLLM_LAYER_GEMMS_FP8,
    },
    AicGemmDtype {
        file: "nvfp4",
        shapes: "fp8",
        weights: Dtype::Fp4,
        generic: class::GEMM_FP4,
        layer: class::VLLM_LAYER_GEMMS_FP4,
    },
];

/// Vidur-profiled devices.
pub const VIDUR_DEVICES: [&str; 3] = ["h100", "a100", "a40"];

/// Head size of every AIC attention row.
pub const AIC_HEAD_DIM: f64 = 128.0;

/// Predicted µs of a Vidur `mlp.csv` op on `row` with `curve` on `device`.
pub fn mlp_op_us(curve: &Curve, device: &DeviceSpec, row: &MlpRow, op_index: usize) -> f64 {
    row.shape.op_us(MLP_COLUMNS[op_index].1, curve, peaks(device, Dtype::Bf16), row.tokens, 2.0, 2.0)
}

/// Predicted µs of an AIC GEMM row.
pub fn gemm_row_us(curve: &Curve, p: Peaks, row: &GemmRow, weight_bytes: f64) -> f64 {
    cost::gemm_us(curve, p, row.m, row.n, row.k, cost::ACT_BYTES, weight_bytes)
}

fn attention_shape(row: &AttentionRow, kv_bytes: f64) -> AttentionShape {
    AttentionShape {
        q_heads: row.q_heads,
        kv_heads: row.kv_heads,
        head_dim: AIC_HEAD_DIM,
        kv_bytes,
        latent: None,
    }
}

/// The latent sizes AIC's MLA tables are measured at: DeepSeek-V3's.
pub const AIC_MLA: LatentShape =
    LatentShape { q_lora: 1536.0, kv_lora: 512.0, nope: 128.0, rope: 64.0, v: 128.0 };

fn mla_shape(row: &AttentionRow, kv_bytes: f64) -> AttentionShape {
    AttentionShape {
        latent: Some(AIC_MLA),
        kv_heads: 1.0,
        head_dim: AIC_MLA.qk(),
        ..attention_shape(row, kv_bytes)
    }
}

/// Whether AIC's context-MLA rows of `dev` were timed absorbed. Its SGLang collector
/// (`collector/sglang/collect_mla.py`) runs the context phase on Blackwell through TRT-LLM's
/// MLA kernel non-absorbed (keys of nope + rope, values of v per head), as engines prefill
/// fresh prompts, but on Hopper through FlashAttention-3's MLA path absorbed (queries of
/// kv_lora + rope, values of kv_lora, one shared latent head): 3.4× the FLOPs of the
/// non-absorbed prefill at DeepSeek's sizes. The collector picks the path by SM version
/// (FlashAttention-3 is Hopper-only), so the Hopper systems are named: an A100 table, should
/// AIC add one, would be timed by another kernel.
pub fn aic_mla_prefill_absorbed(dev: &DeviceSpec) -> bool {
    const HOPPER: [&str; 2] = ["h100", "h200"];
    HOPPER.contains(&dev.name.as_str())
}

/// Predicted µs of an AIC context-MLA row (`batch` prompts of `len` tokens, no prefix), timed
/// absorbed or not as the row was measured ([`aic_mla_prefill_absorbed`]).
pub fn mla_prefill_row_us(curve: &Curve, p: Peaks, row: &AttentionRow, kv_bytes: f64, absorbed: bool) -> f64 {
    let shape = mla_shape(row, kv_bytes);
    if !absorbed {
        return prefill_us_of(curve, p, row, shape);
    }
    let mut one = PrefillWork::default();
    one.add_absorbed(&shape, row.len, 0.0);
    let work = PrefillWork { flops: one.flops * row.batch, bytes: one.bytes * row.batch };
    cost::prefill_attention_us(curve, p, work)
}

/// Predicted µs of an AIC generation-MLA row.
pub fn mla_decode_row_us(curve: &Curve, p: Peaks, row: &AttentionRow, kv_bytes: f64) -> f64 {
    decode_us_of(curve, p, row, mla_shape(row, kv_bytes))
}

/// Fits MLA prefill over the in-scope `rows`. (Weighting (heads, token band) cells alike, as
/// the GEMM fits do, moved the long-prompt rows by 1-4 % the wrong way: not done.)
pub fn fit_mla_prefill(p: Peaks, rows: &[AttentionRow], kv_bytes: f64, absorbed: bool) -> Fitted {
    let rows: Vec<AttentionRow> = rows.iter().copied().filter(prefill_rows_in_scope).collect();
    fit(
        Form::Roofline,
        PREFILL_START,
        &rows,
        |c, r| mla_prefill_row_us(c, p, r, kv_bytes, absorbed),
        |r| r.us,
    )
}

/// Fits MLA decode over the in-scope `rows`.
pub fn fit_mla_decode(p: Peaks, rows: &[AttentionRow], kv_bytes: f64) -> Fitted {
    let rows: Vec<AttentionRow> = rows.iter().copied().filter(decode_rows_in_scope).collect();
    fit(Form::Decode, DECODE_START, &rows, |c, r| mla_decode_row_us(c, p, r, kv_bytes), |r| r.us)
}

/// Median ratio of fp8-KV to bf16-KV MLA decode latency over the rows both tables hold at
/// KV ≥ 1024 (`None` without common rows).
pub fn fp8_over_bf16_decode(bf16: &[AttentionRow], fp8: &[AttentionRow]) -> Option<f64> {
    let key = |r: &AttentionRow| (r.batch as u64, r.len as u64, r.q_heads as u64);
    let bf16: BTreeMap<_, f64> = bf16.iter().map(|r| (key(r), r.us)).collect();
    let mut ratios: Vec<f64> =
        fp8.iter().filter(|r| r.len >= 1024.0).filter_map(|r| bf16.get(&key(r)).map(|b| r.us / b)).collect();
    if ratios.is_empty() {
        return None;
    }
    ratios.sort_by(f64::total_cmp);
    Some(ratios[ratios.len() / 2])
}

/// Predicted µs of an AIC context-attention row (`batch` prompts of `len` tokens, no prefix).
pub fn prefill_row_us(curve: &Curve, p: Peaks, row: &AttentionRow, kv_bytes: f64) -> f64 {
    prefill_us_of(curve, p, row, attention_shape(row, kv_bytes))
}

fn prefill_us_of(curve: &Curve, p: Peaks, row: &AttentionRow, shape: AttentionShape) -> f64 {
    let mut one = PrefillWork::default();
    one.add(&shape, row.len, 0.0);
    let work = PrefillWork { flops: one.flops * row.batch, bytes: one.bytes * row.batch };
    cost::prefill_attention_us(curve, p, work)
}

/// Predicted µs of an AIC generation-attention row (`batch` sequences over `len` cached tokens).
pub fn decode_row_us(curve: &Curve, p: Peaks, row: &AttentionRow, kv_bytes: f64) -> f64 {
    decode_us_of(curve, p, row, attention_shape(row, kv_bytes))
}

fn decode_us_of(curve: &Curve, p: Peaks, row: &AttentionRow, shape: AttentionShape) -> f64 {
    let mut one = DecodeWork::default();
    one.add(&shape, row.len);
    let work =
        DecodeWork { sequences: row.batch, flops: one.flops * row.batch, bytes: one.bytes * row.batch };
    cost::decode_attention_us(curve, p, &shape, work)
}

/// Context-attention rows the calibration fits and checks: real chunks (≥ 16 tokens).
pub fn prefill_rows_in_scope(row: &AttentionRow) -> bool {
    row.len >= 16.0
}

/// Generation-attention rows the calibration fits and checks: batch 1–256, KV 128–32k.
pub fn decode_rows_in_scope(row: &AttentionRow) -> bool {
    row.batch <= 256.0 && (128.0..=32768.0).contains(&row.len)
}

const GEMM_START: Curve = Curve { per_item_us: 1e-4, ..Curve::roofline(0.7, 0.8, 5.0) };
const MEMORY_START: Curve =
    Curve { sharpness: 3.0, overlapped_overhead: true, per_item_us: 1e-4, ..Curve::memory(0.4, 2.0) };
const PREFILL_START: Curve = Curve::roofline(0.5, 0.5, 10.0);
const DECODE_START: Curve = Curve { per_item_us: 0.05, ramp_units: 2.0, ..Curve::memory(0.8, 10.0) };

/// Upper bounds of the token bands the accuracy checks report per band: `[1,64]`, `(64,256]`,
/// `(256,1024]`, `(1024,4096]`, `(4096,∞)`. Pooled errors hid a 25 % bias in the middle bands.
pub const TOKEN_BANDS: [f64; 5] = [64.0, 256.0, 1024.0, 4096.0, f64::INFINITY];

/// The band (index into [`TOKEN_BANDS`]) of a token count.
pub fn token_band(tokens: f64) -> usize {
    TOKEN_BANDS.iter().position(|hi| tokens <= *hi).unwrap_or(TOKEN_BANDS.len() - 1)
}

/// A band's label.
pub fn band_label(band: usize) -> &'static str {
    ["[1,64]", "(64,256]", "(256,1024]", "(1024,4096]", "(4096,inf)"][band]
}

/// The calibration class timing `op` of a model with (`gated`) or without a gated MLP.
pub fn mlp_class(op: Op, gated: bool) -> &'static str {
    if op == Op::MlpAct && !gated { class::MLP_ACT_UNGATED } else { op.name() }
}

/// A (model, TP, token band) cell of Vidur's profiles.
type Cell<'a> = (&'a str, u32, usize);

/// Weights that give every (model, TP, token band) cell of `rows` the same total weight, so
/// the many large-token rows of a few profiles do not outvote the chunk-sized rows of the rest.
fn band_weights(rows: &[&MlpRow]) -> Vec<f64> {
    let mut counts: BTreeMap<Cell, usize> = BTreeMap::new();
    for r in rows {
        *counts.entry((r.model.as_str(), r.tp, token_band(r.tokens))).or_default() += 1;
    }
    rows.iter().map(|r| 1.0 / counts[&(r.model.as_str(), r.tp, token_band(r.tokens))] as f64).collect()
}

/// Fits the Vidur `mlp.csv` op `op_index` for `class` (the activation's class depends on the
/// MLP's gating) over `rows`, every (model, TP, token band) weighted alike. GEMMs take the best
/// row tile of [`fit::GEMM_TILES`].
pub fn fit_mlp_op(device: &DeviceSpec, rows: &[MlpRow], op_index: usize, class: &str) -> Option<Fitted> {
    let op = MLP_COLUMNS[op_index].1;
    let samples: Vec<&MlpRow> =
        rows.iter().filter(|r| r.us[op_index].is_some() && mlp_class(op, r.shape.gated) == class).collect();
    if samples.is_empty() {
        return None;
    }
    let weights = band_weights(&samples);
    let index: Vec<usize> = (0..samples.len()).collect();
    let predict = |c: &Curve, i: &usize| mlp_op_us(c, device, samples[*i], op_index);
    let measured = |i: &usize| samples[*i].us[op_index].unwrap_or(1.0);
    Some(if samples[0].shape.gemm_nk(op).is_some() {
        // The tile is chosen by what the band checks look at: the MAPE of each (model, TP,
        // band) cell, summed.
        let score = |f: &Fitted| {
            let mut cells: BTreeMap<Cell, Vec<(f64, f64)>> = BTreeMap::new();
            for (i, r) in samples.iter().enumerate() {
                let key = (r.model.as_str(), r.tp, token_band(r.tokens));
                cells.entry(key).or_default().push((predict(&f.curve, &i), measured(&i)));
            }
            cells.into_values().map(|pairs| fit::mape(pairs.into_iter())).sum::<f64>()
        };
        fit::fit_gemm_tiles(GEMM_START, &index, predict, measured, |i| weights[*i], score)
    } else {
        fit::fit_weighted(Form::Memory, MEMORY_START, &index, predict, measured, |i| weights[*i])
    })
}

/// Fits one GEMM curve over `rows` at `p` (every row alike), at the best row tile.
pub fn fit_gemm(p: Peaks, rows: &[GemmRow], weight_bytes: f64) -> Fitted {
    fit::fit_gemm_tiles(
        GEMM_START,
        rows,
        |c, r| gemm_row_us(c, p, r, weight_bytes),
        |r| r.us,
        |_| 1.0,
        |f| f.loss,
    )
}

/// Most tokens of the AIC rows a layer-GEMM fit uses: the chunked-prefill regime. Larger GEMMs
/// run at power-limited clocks (fp8 on B200 falls from 75 % of peak at 4k rows to 67 % at 8k
/// and 49 % at 16k), and fitting them too bent the curve away from the chunk sizes.
pub const LAYER_GEMM_MAX_TOKENS: f64 = 4096.0;

/// Fits layer GEMM `op` over the AIC `rows` at the models' grid shapes of that op (at most
/// [`LAYER_GEMM_MAX_TOKENS`] rows), every (shape, token band) weighted alike; `None` if the
/// table has none of them.
pub fn fit_layer_gemm(
    p: Peaks,
    rows: &[GemmRow],
    shapes: &[GemmShape],
    op: Op,
    weight_bytes: f64,
) -> Option<Fitted> {
    let samples: Vec<GemmRow> = shapes
        .iter()
        .filter(|s| s.op == op)
        .flat_map(|s| data::rows_at(rows, s))
        .filter(|r| r.m <= LAYER_GEMM_MAX_TOKENS)
        .collect();
    if samples.is_empty() {
        return None;
    }
    let mut counts: BTreeMap<(u64, u64, usize), usize> = BTreeMap::new();
    let key = |r: &GemmRow| (r.n as u64, r.k as u64, token_band(r.m));
    for r in &samples {
        *counts.entry(key(r)).or_default() += 1;
    }
    let predict = |c: &Curve, r: &GemmRow| gemm_row_us(c, p, r, weight_bytes);
    // The tile is chosen by what the band check looks at: each (shape, band) cell's |bias|.
    let score = |f: &Fitted| {
        let mut cells: BTreeMap<(u64, u64, usize), (f64, f64)> = BTreeMap::new();
        for r in &samples {
            let cell = cells.entry(key(r)).or_default();
            cell.0 += predict(&f.curve, r) / r.us - 1.0;
            cell.1 += 1.0;
        }
        cells.into_values().map(|(sum, n)| (sum / n).abs()).sum::<f64>()
    };
    Some(fit::fit_gemm_tiles(
        GEMM_START,
        &samples,
        predict,
        |r| r.us,
        |r| 1.0 / counts[&key(r)] as f64,
        score,
    ))
}

/// Fits the grouped GEMMs of MoE experts to AIC's bf16 fused-MoE tables of `system`: balanced
/// routing (so the active experts are known: min(E, T·k)), no expert parallelism, at most 4096
/// tokens, every (shape, TP, band) weighted alike. `act` is the device's activation curve (the
/// fused kernel's SiLU·mul); `None` without MoE tables or an activation curve.
pub fn fit_moe(shared: &Path, system: &str, dev: &DeviceSpec, act: Option<Curve>) -> Result<Option<Fitted>> {
    let Some(act) = act else { return Ok(None) };
    let mut rows = data::aic_moe_if_present(shared, system, "moe_mixtral8x7b_bf16")?;
    if rows.is_empty() {
        return Ok(None);
    }
    let all = data::aic_moe_if_present(shared, system, "moe_bf16")?;
    rows.extend(all.into_iter().filter(|r| !(r.experts == 8.0 && r.inter == 14336.0 && r.hidden == 4096.0)));
    let rows: Vec<data::MoeRow> =
        rows.into_iter().filter(|r| r.ep == 1 && r.dist == "balanced" && r.tokens <= 4096.0).collect();
    if rows.is_empty() {
        return Ok(None);
    }
    Ok(Some(fit_moe_rows(&rows, |c, r| moe_row_us(c, &act, dev, Dtype::Bf16, r))))
}

/// Fits the experts' grouped-GEMM curve to fused-MoE `rows` predicted by `predict`, every
/// (shape, TP, EP, token band) weighted alike (the EP-1 fits' groups are as before).
fn fit_moe_rows(rows: &[data::MoeRow], predict: impl Fn(&Curve, &data::MoeRow) -> f64) -> Fitted {
    let key = |r: &data::MoeRow| {
        (r.hidden as u64, r.inter as u64, r.experts as u64, r.tp, r.ep, token_band(r.tokens))
    };
    let mut counts: BTreeMap<(u64, u64, u64, u32, u32, usize), usize> = BTreeMap::new();
    for r in rows {
        *counts.entry(key(r)).or_default() += 1;
    }
    fit::fit_weighted(Form::Gemm, GEMM_START, rows, predict, |r| r.us, |r| 1.0 / counts[&key(r)] as f64)
}

/// Fits prefill attention over the in-scope `rows`.
pub fn fit_prefill(p: Peaks, rows: &[AttentionRow], kv_bytes: f64) -> Fitted {
    let rows: Vec<AttentionRow> = rows.iter().copied().filter(prefill_rows_in_scope).collect();
    fit(Form::Roofline, PREFILL_START, &rows, |c, r| prefill_row_us(c, p, r, kv_bytes), |r| r.us)
}

/// Fits decode attention over the in-scope `rows`.
pub fn fit_decode(p: Peaks, rows: &[AttentionRow], kv_bytes: f64) -> Fitted {
    let rows: Vec<AttentionRow> = rows.iter().copied().filter(decode_rows_in_scope).collect();
    fit(Form::Decode, DECODE_START, &rows, |c, r| decode_row_us(c, p, r, kv_bytes), |r| r.us)
}

/// Fits the faster of two α-β lines per GPU count over `rows`, in relative terms.
pub fn fit_collective(rows: &[CollectiveRow]) -> Vec<TpAlphaBeta> {
    let mut gpus: Vec<u32> = rows.iter().map(|r| r.gpus).collect();
    gpus.sort_unstable();
    gpus.dedup();
    gpus.into_iter()
        .map(|g| {
            let rows: Vec<&CollectiveRow> = rows.iter().filter(|r| r.gpus == g).collect();
            let collective = fit_two_algorithms(&rows);
            let mape_pct = fit::mape(rows.iter().map(|r| (collective.time_us(r.bytes), r.us)));
            TpAlphaBeta { tp: g, collective, mape_pct: round(mape_pct, 2) }
        })
        .collect()
}

/// Fits `min(α₁ + bytes/β₁, α₂ + bytes/β₂)`: collective libraries switch algorithm with the
/// message size, so one line is too slow at one end or the other. The second line is kept
/// only if it is the faster one somewhere in the measured range.
pub fn fit_two_algorithms(rows: &[&CollectiveRow]) -> Collective {
    let one = fit_alpha_beta(rows);
    let decode = |x: &[f64]| {
        let line = |a: f64, b: f64| AlphaBeta { alpha_us: a.exp(), beta_gbps: b.exp() };
        Collective { small: line(x[0], x[1]), large: Some(line(x[2], x[3])) }
    };
    let loss = |x: &[f64]| {
        let c = decode(x);
        let sum: f64 = rows.iter().map(|r| (c.time_us(r.bytes) / r.us).ln().powi(2)).sum();
        if sum.is_finite() { sum / rows.len().max(1) as f64 } else { f64::MAX }
    };
    let fastest = rows.iter().map(|r| r.us).fold(f64::INFINITY, f64::min).max(0.1);
    let mut x =
        vec![fastest.ln(), (one.beta_gbps * 0.5).ln(), (one.alpha_us * 2.0).ln(), (one.beta_gbps * 1.3).ln()];
    for _ in 0..4 {
        x = fit::nelder_mead(&loss, &x, 0.5, 800);
    }
    let c = decode(&x);
    let (mut small, mut large) = (c.small, c.large.expect("two lines"));
    if large.alpha_us < small.alpha_us {
        std::mem::swap(&mut small, &mut large);
    }
    let r = |ab: AlphaBeta| AlphaBeta { alpha_us: round(ab.alpha_us, 3), beta_gbps: round(ab.beta_gbps, 2) };
    let (small, large) = (r(small), r(large));
    let used = rows.iter().any(|row| large.time_us(row.bytes) < small.time_us(row.bytes));
    let two = Collective { small, large: used.then_some(large) };
    let single = Collective::single(one);
    let error = |c: &Collective| fit::mape(rows.iter().map(|row| (c.time_us(row.bytes), row.us)));
    if error(&two) < error(&single) { two } else { single }
}

/// Fits one α-β pair.
pub fn fit_alpha_beta(rows: &[&CollectiveRow]) -> AlphaBeta {
    // α and β are a memory curve in disguise: overhead + bytes / bandwidth.
    let to_ab = |c: &Curve| AlphaBeta { alpha_us: c.overhead_us, beta_gbps: c.memory_eff * 1e3 };
    let f = fit(Form::AlphaBeta, Curve::memory(0.1, 10.0), rows, |c, r| to_ab(c).time_us(r.bytes), |r| r.us);
    let ab = to_ab(&f.curve);
    AlphaBeta { alpha_us: round(ab.alpha_us, 3), beta_gbps: round(ab.beta_gbps, 2) }
}

/// `x` to `digits` significant digits (the per-item latencies span 1e-4…1e-1 µs).
fn round_significant(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let magnitude = x.abs().log10().floor() as i32;
    round(x, digits - 1 - magnitude)
}

fn round(x: f64, digits: i32) -> f64 {
    let s = 10f64.powi(digits);
    (x * s).round() / s
}

fn fitted(f: Fitted, source: String) -> FittedCurve {
    let c = f.curve;
    let curve = Curve {
        compute_eff: round(c.compute_eff, 4),
        memory_eff: round(c.memory_eff, 4),
        overhead_us: round(c.overhead_us, 3),
        per_item_us: round_significant(c.per_item_us, 4),
        ramp_units: round(c.ramp_units, 3),
        sharpness: round(c.sharpness, 3),
        overlapped_overhead: c.overlapped_overhead,
        m_tile: c.m_tile,
    };
    FittedCurve { curve, source, rows: f.rows, mape_pct: round(f.mape_pct, 2) }
}

fn transferred(from: &FittedCurve, what: &str) -> FittedCurve {
    FittedCurve {
        curve: from.curve,
        source: format!("transferred: {what} ({})", from.source),
        rows: 0,
        mape_pct: 0.0,
    }
}

/// A family of curves `llmsim-calibrate fit --only` refits alone, leaving every other curve of
/// the calibration as it is (a full fit takes hours on a small host; a family takes seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    /// Multi-head latent attention: prefill and decode, bf16 and fp8 KV cache
    /// (`ctx_mla_kv*.csv`, `gen_mla_kv*.csv`).
    Mla,
    /// Quantised (fp8, fp4, int4) MoE experts' grouped GEMMs at prefill sizes
    /// (`moe_fp8_block.csv`, `moe_nvfp4.csv` / `moe_w4a16_mxfp4.csv`, `moe_int4_wo.csv`).
    Moe,
}

impl Family {
    /// Flag values, in enum order.
    pub const NAMES: [&'static str; 2] = ["mla", "moe"];
    /// Every family, in enum order.
    pub const ALL: [Family; 2] = [Family::Mla, Family::Moe];

    /// The family a flag value names.
    pub fn parse(name: &str) -> Option<Family> {
        Self::NAMES.iter().position(|n| *n == name).map(|i| Self::ALL[i])
    }

    /// Its flag value.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The calibration classes the family's fits write (and a refit replaces).
    pub fn classes(self) -> &'static [&'static str] {
        match self {
            Family::Mla => &[
                class::MLA_PREFILL_ATTENTION,
                class::MLA_DECODE_ATTENTION,
                class::MLA_PREFILL_ATTENTION_FP8,
                class::MLA_DECODE_ATTENTION_FP8,
            ],
            Family::Moe => &[
                class::MOE_EXPERTS_FP8,
                class::MOE_EXPERTS_FP4,
                class::MOE_EXPERTS_INT4,
                class::MOE_EXPERTS_FP8_ALL_SIZES,
                class::MOE_EXPERTS_FP8_CUTLASS,
                class::MOE_EXPERTS_MARLIN,
                class::MOE_EXPERTS_FP4_DECODE,
            ],
        }
    }
}

/// Parses `--only`'s comma-separated family list; the error names the bad value and the
/// accepted ones.
pub fn parse_families(list: &str) -> std::result::Result<Vec<Family>, String> {
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim) {
        let family = Family::parse(name).ok_or_else(|| {
            format!("--only: unknown curve family '{name}' (expected one of: {})", Family::NAMES.join(", "))
        })?;
        if !out.contains(&family) {
            out.push(family);
        }
    }
    out.sort();
    Ok(out)
}

/// The curves of `family` fitted to the tables of AIC `system` (calibrating `dev`, whose
/// activation curve is `act`: the fused-MoE kernels' SiLU·mul); empty where the system has no
/// such tables.
pub fn fit_family(
    shared: &Path,
    family: Family,
    system: &str,
    dev: &DeviceSpec,
    act: Option<Curve>,
) -> Result<Vec<(String, FittedCurve)>> {
    let source = |what: &str| format!("aic {system} {what}");
    let mut out = Vec::new();
    match family {
        Family::Mla => {
            let p = peaks(dev, Dtype::Bf16);
            let mut bf16_decode: Option<(FittedCurve, Vec<AttentionRow>)> = None;
            for (kv, kv_bytes, prefill_class, decode_class) in [
                ("bf16", 2.0, class::MLA_PREFILL_ATTENTION, class::MLA_DECODE_ATTENTION),
                ("fp8", 1.0, class::MLA_PREFILL_ATTENTION_FP8, class::MLA_DECODE_ATTENTION_FP8),
            ] {
                let (Ok(ctx), Ok(gen_rows)) =
                    (data::aic_mla(shared, system, "ctx", kv), data::aic_mla(shared, system, "gen", kv))
                else {
                    continue;
                };
                // Fitted to the work the rows timed (absorbed on Hopper: data/README.md); the
                // simulator applies the kernel's efficiency to the non-absorbed prefill
                // engines run. (The source text stays as it was: the page's wasm embeds it.)
                let absorbed = aic_mla_prefill_absorbed(dev);
                out.push((
                    prefill_class.to_string(),
                    fitted(
                        fit_mla_prefill(p, &ctx, kv_bytes, absorbed),
                        source(&format!("ctx_mla_kv{kv}.csv, seq ≥ 16")),
                    ),
                ));
                // SGLang's fp8-KV MLA decode on Hopper is 4.5-5.2× slower than its bf16-KV
                // kernel at KV ≥ 1024 (on Blackwell 0.55×, as reading half the bytes should
                // be): we read it as a fallback path (dequantising the cache), not the kernels
                // fp8-KV deployments run (TensorRT-LLM's), so where the fp8-KV table is the
                // slower one the device takes its bf16-KV fit, timed at the fp8 cache's bytes.
                let slower = bf16_decode
                    .as_ref()
                    .and_then(|(_, bf16_rows)| fp8_over_bf16_decode(bf16_rows, &gen_rows))
                    .filter(|ratio| *ratio > 1.0);
                let curve = match (&bf16_decode, slower) {
                    (Some((bf16, _)), Some(ratio)) => transferred(
                        bf16,
                        &format!(
                            "bf16-KV MLA decode; {system} gen_mla_kvfp8.csv runs {ratio:.1}× its bf16-KV kernel at KV ≥ 1024 (read as a fallback path)"
                        ),
                    ),
                    _ => fitted(
                        fit_mla_decode(p, &gen_rows, kv_bytes),
                        source(&format!("gen_mla_kv{kv}.csv, batch ≤ 256, KV 128–32k")),
                    ),
                };
                if kv == "bf16" {
                    bf16_decode = Some((curve.clone(), gen_rows));
                }
                out.push((decode_class.to_string(), curve));
            }
        }
        Family::Moe => {
            for (weights, class) in [
                (Dtype::Fp8, class::MOE_EXPERTS_FP8),
                (Dtype::Fp4, class::MOE_EXPERTS_FP4),
                (Dtype::Int4, class::MOE_EXPERTS_INT4),
            ] {
                let file = moe_table(dev, weights);
                if let Some(f) = fit_moe_quantised(
                    shared,
                    system,
                    dev,
                    act,
                    weights,
                    moe_fit_is_whole_range(dev, weights),
                )? {
                    let sizes = if moe_fit_is_whole_range(dev, weights) {
                        "≤ 4096 tokens".to_string()
                    } else {
                        format!("≥ {MOE_FIT_FROM} routed tokens per expert")
                    };
                    let what = format!(
                        "{file}.csv, balanced routing, no EP, {sizes}, (shape, TP, band) weighted alike"
                    );
                    out.push((class.to_string(), fitted(f, source(&what))));
                }
            }
            // fp8 experts over every size, for engines that run the table's fused MoE at decode
            // sizes too (vLLM: Hopper's Triton fused MoE, Blackwell's FlashInfer TRTLLM-Gen one).
            if let Some(f) = fit_moe_quantised(shared, system, dev, act, Dtype::Fp8, true)? {
                let what = format!(
                    "{}.csv, balanced routing, no EP, ≤ 4096 tokens, (shape, TP, band) weighted alike",
                    moe_table(dev, Dtype::Fp8)
                );
                out.push((class::MOE_EXPERTS_FP8_ALL_SIZES.to_string(), fitted(f, source(&what))));
            }
            // NVFP4 experts over every size, where the device has an fp4 rate (Blackwell), for
            // engines that run the table's fused MoE at decode sizes (vLLM's FlashInfer
            // TRTLLM-Gen NVFP4 MoE).
            if dev.fp4_tflops.is_some()
                && let Some(f) = fit_moe_nvfp4_decode(shared, system, dev, act)?
            {
                let what = format!(
                    "{}.csv, balanced routing, no EP, < {} routed tokens per expert, (shape, TP, band) weighted alike",
                    moe_table(dev, Dtype::Fp4),
                    cost::MOE_PREFILL_FROM
                );
                out.push((class::MOE_EXPERTS_FP4_DECODE.to_string(), fitted(f, source(&what))));
            }
            // fp8 experts on TensorRT-LLM's CUTLASS fused MoE (FlashInfer's copy of its
            // `CutlassMoeFCRunner`), every size, where the table times it (Hopper, EP > 1).
            if let Some(f) = fit_moe_cutlass_fp8(shared, system, dev, act)? {
                let what = format!(
                    "{}.csv, {MOE_CUTLASS_KERNEL} rows, balanced routing, EP > 1, ≤ 4096 tokens, (shape, TP, EP, band) weighted alike",
                    moe_table(dev, Dtype::Fp8)
                );
                out.push((class::MOE_EXPERTS_FP8_CUTLASS.to_string(), fitted(f, source(&what))));
            }
            // vLLM's fused Marlin MoE in its block form, INT4 and MXFP4 Marlin rows together.
            if let Some(f) = fit_moe_marlin(shared, system, dev, act)? {
                let what = format!(
                    "moe_int4_wo.csv + moe_w4a16_mxfp4.csv Marlin rows, balanced, EP 1, ≤ {MARLIN_FIT_TO} tokens"
                );
                out.push((class::MOE_EXPERTS_MARLIN.to_string(), fitted(f, source(&what))));
            }
        }
    }
    Ok(out)
}

/// Mean routed tokens per expert from which [`fit_moe_quantised`] fits the fused-MoE rows:
/// the sizes where the predictor gives the fit most weight ([`cost::MOE_PREFILL_FULL`] is 32).
pub const MOE_FIT_FROM: f64 = 16.0;

/// The AIC fused-MoE table whose kernels run `weights` experts on `dev` as llmsim times them:
/// fp8 block-scaled (DeepSeek's, Qwen3's and MiniMax's checkpoints); fp4 as NVFP4 where the
/// device has an fp4 rate, else weight-only MXFP4 with 16-bit activations; int4 as INT4
/// weight-only (vLLM's compressed-tensors WNA16 Marlin MoE, group 32, on every device).
pub fn moe_table(dev: &DeviceSpec, weights: Dtype) -> &'static str {
    match weights {
        Dtype::Fp4 if dev.fp4_tflops.is_some() => "moe_nvfp4",
        Dtype::Fp4 => "moe_w4a16_mxfp4",
        Dtype::Int4 => "moe_int4_wo",
        _ => "moe_fp8_block",
    }
}

/// The in-scope rows of a quantised fused-MoE table: balanced routing, no EP, at least
/// [`MOE_FIT_FROM`] routed tokens per expert. Weight-only experts (INT4; MXFP4 where the device
/// has no fp4 rate) take every size up to 4096 tokens instead, as the bf16 fit does
/// ([`moe_fit_is_whole_range`]).
pub fn moe_prefill_rows(
    shared: &Path,
    system: &str,
    dev: &DeviceSpec,
    weights: Dtype,
) -> Result<Vec<data::MoeRow>> {
    moe_fit_rows(shared, system, dev, weights, moe_fit_is_whole_range(dev, weights))
}

/// The balanced, EP-1 rows of `weights`' fused-MoE table: up to 4096 tokens if `whole`, else
/// from [`MOE_FIT_FROM`] routed tokens per expert; empty where the system has no such table,
/// an error naming the file, row and field where it has one that cannot be read.
pub fn moe_fit_rows(
    shared: &Path,
    system: &str,
    dev: &DeviceSpec,
    weights: Dtype,
    whole: bool,
) -> Result<Vec<data::MoeRow>> {
    let rows = data::aic_moe_if_present(shared, system, moe_table(dev, weights))?;
    Ok(rows
        .into_iter()
        .filter(|r| r.ep == 1 && r.dist == "balanced")
        .filter(|r| if whole { r.tokens <= 4096.0 } else { r.tokens * r.top_k / r.experts >= MOE_FIT_FROM })
        .collect())
}

/// NVFP4 experts' fused-MoE fit at decode sizes, where the device has an fp4 rate: the balanced
/// EP-1 rows of `moe_nvfp4.csv` below [`cost::MOE_PREFILL_FROM`] routed tokens per expert, the
/// sizes at which the predictor would otherwise take the generic fp4 GEMM curve (the
/// prefill-sized rows stay [`class::MOE_EXPERTS_FP4`]'s).
pub fn fit_moe_nvfp4_decode(
    shared: &Path,
    system: &str,
    dev: &DeviceSpec,
    act: Option<Curve>,
) -> Result<Option<Fitted>> {
    let Some(act) = act else { return Ok(None) };
    let rows: Vec<_> = moe_fit_rows(shared, system, dev, Dtype::Fp4, true)?
        .into_iter()
        .filter(|r| r.tokens * r.top_k / r.experts < cost::MOE_PREFILL_FROM)
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    Ok(Some(fit_moe_rows(&rows, |c, r| moe_row_us(c, &act, dev, Dtype::Fp4, r))))
}

/// Whether the fused-MoE fit of `weights` experts covers decode sizes too (the predictor then
/// times them on it at every size, as bf16 experts): INT4 weight-only, whose Marlin MoE kernel
/// runs 1.6-3.8× the generic 16-bit GEMM curve from 1 token up (AIC `moe_int4_wo.csv`, TP 8,
/// H200 and B200), and weight-only MXFP4 on a device without an fp4 rate (Hopper,
/// `moe_w4a16_mxfp4.csv`: 2.1-3.5× from 1 to 8 tokens), so the generic curve cannot stand in at
/// decode sizes as it does for fp8 and NVFP4 experts.
pub fn moe_fit_is_whole_range(dev: &DeviceSpec, weights: Dtype) -> bool {
    llmsim_engine::exec::calibration::moe_fit_is_whole_range(weights, dev.fp4_tflops.is_some())
}

/// Predicted µs of a balanced fused-MoE row with the experts' grouped-GEMM curve `c` at
/// `weights` (the predictor's [`cost::moe_experts_us`] form; bf16 for the bf16 fit). With EP,
/// one rank's work as the predictor times an EP rank: its `experts / ep` experts take
/// `tokens · top_k / ep` picks (balanced), each reaching a distinct expert until all are; at
/// EP 1 this is the whole layer's work, the same figures as before EP rows were fitted.
pub fn moe_row_us(c: &Curve, act: &Curve, dev: &DeviceSpec, weights: Dtype, r: &data::MoeRow) -> f64 {
    let ep = f64::from(r.ep.max(1));
    let experts = r.experts / ep;
    let picks = r.tokens * r.top_k / ep;
    let shape = cost::MoeShape {
        hidden: r.hidden,
        experts,
        top_k: 1.0,
        expert_dim: r.inter / f64::from(r.tp),
        shared_dim: 0.0,
        gated: true,
    };
    cost::moe_experts_us(
        c,
        act,
        peaks(dev, weights),
        peaks(dev, Dtype::Bf16),
        &shape,
        picks,
        experts.min(picks),
        weights.bytes_per_element(),
    )
}

/// Tokens up to which [`fit_moe_marlin`] fits the Marlin rows.
pub const MARLIN_FIT_TO: f64 = 8192.0;

/// The balanced, EP-1 rows of vLLM's fused Marlin MoE up to [`MARLIN_FIT_TO`] tokens, each with
/// its experts' dtype: every row of `moe_int4_wo.csv` (compressed-tensors WNA16, INT4) and the
/// `marlin` rows of `moe_w4a16_mxfp4.csv` (MXFP4 weights); empty where the system has neither.
pub fn moe_marlin_rows(shared: &Path, system: &str) -> Result<Vec<(data::MoeRow, Dtype)>> {
    let mut out = Vec::new();
    for (file, weights) in [("moe_int4_wo", Dtype::Int4), ("moe_w4a16_mxfp4", Dtype::Fp4)] {
        let rows = data::aic_moe_if_present(shared, system, file)?;
        out.extend(
            rows.into_iter()
                .filter(|r| r.ep == 1 && r.dist == "balanced" && r.tokens <= MARLIN_FIT_TO)
                .filter(|r| r.kernel.contains("marlin"))
                .map(|r| (r, weights)),
        );
    }
    Ok(out)
}

/// Predicted µs of a balanced Marlin fused-MoE row on `c` ([`cost::marlin_moe_us`], the
/// predictor's form) with `weights` experts: every expert the picks reach, evenly loaded.
pub fn marlin_row_us(c: &Curve, act: &Curve, dev: &DeviceSpec, weights: Dtype, r: &data::MoeRow) -> f64 {
    let shape = cost::MoeShape {
        hidden: r.hidden,
        experts: r.experts,
        top_k: r.top_k,
        expert_dim: r.inter / f64::from(r.tp),
        shared_dim: 0.0,
        gated: true,
    };
    cost::marlin_moe_us(
        c,
        act,
        peaks(dev, Dtype::Bf16),
        peaks(dev, Dtype::Bf16),
        &shape,
        r.tokens,
        r.experts.min(r.tokens * r.top_k),
        marlin_weight_bytes(weights),
    )
}

/// Bytes per expert weight of a Marlin table's rows: INT4 group 32 with bf16 scales, and MXFP4
/// (`Fp4` here) at 4 bits and one E8M0 scale per 32, as the predictor reads an MXFP4
/// checkpoint's experts (`ReplicaConfig::expert_bytes_per_element`).
pub fn marlin_weight_bytes(weights: Dtype) -> f64 {
    if weights == Dtype::Fp4 { 0.5 + 1.0 / 32.0 } else { weights.bytes_per_element() }
}

/// Fits vLLM's fused Marlin MoE ([`cost::marlin_moe_us`]) jointly over [`moe_marlin_rows`]
/// (Kimi-K2's 384 experts in INT4, 896 experts in MXFP4), each (shape, TP, token band) weighted
/// alike; `None` without rows or an activation curve, or on a GPU with an fp4 rate. Marlin multiplies at 16 bits: the bf16 peaks.
pub fn fit_moe_marlin(
    shared: &Path,
    system: &str,
    dev: &DeviceSpec,
    act: Option<Curve>,
) -> Result<Option<Fitted>> {
    // Read only for weight-only MXFP4 experts, on a GPU without an fp4 rate: none elsewhere
    // (every embedded byte is a byte the page downloads).
    let Some(act) = act.filter(|_| dev.fp4_tflops.is_none()) else { return Ok(None) };
    let rows = moe_marlin_rows(shared, system)?;
    if rows.is_empty() {
        return Ok(None);
    }
    let key = |(r, _): &(data::MoeRow, Dtype)| {
        (r.hidden as u64, r.inter as u64, r.experts as u64, r.tp, token_band(r.tokens))
    };
    let mut counts: BTreeMap<(u64, u64, u64, u32, usize), usize> = BTreeMap::new();
    for r in &rows {
        *counts.entry(key(r)).or_default() += 1;
    }
    let start = Curve { per_item_us: 1.0, ..Curve::roofline(0.5, 0.8, 10.0) };
    // The MXFP4 rows' method (compressed-tensors W4A4 MXFP4 on `MarlinExperts`) takes a fixed
    // time per call on top of the kernels the INT4 rows' method runs: an offset of its own,
    // searched (golden section, 0-60 µs) around the shared fit and not kept in the curve.
    let fit_at = |offset: f64| {
        fit::fit_weighted(
            Form::Gemm,
            start,
            &rows,
            |c, (r, w)| marlin_row_us(c, &act, dev, *w, r) + if *w == Dtype::Fp4 { offset } else { 0.0 },
            |(r, _)| r.us,
            |r| 1.0 / counts[&key(r)] as f64,
        )
    };
    let (mut lo, mut hi) = (0.0f64, MARLIN_MXFP4_OFFSET_MAX_US);
    let golden = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..MARLIN_OFFSET_STEPS {
        let (a, b) = (hi - golden * (hi - lo), lo + golden * (hi - lo));
        if fit_at(a).loss <= fit_at(b).loss {
            hi = b;
        } else {
            lo = a;
        }
    }
    let offset = (lo + hi) / 2.0;
    let f = fit_at(offset);
    // Its in-sample error counts the offset on the MXFP4 rows.
    eprintln!("{system}: Marlin MXFP4 method offset {offset:.1} µs a call");
    Ok(Some(f))
}

/// The upper end of [`fit_moe_marlin`]'s search for the MXFP4 rows' per-call offset, µs.
pub const MARLIN_MXFP4_OFFSET_MAX_US: f64 = 60.0;
/// Golden-section steps of that search (0.6 µs wide at the end).
pub const MARLIN_OFFSET_STEPS: usize = 10;

/// AIC's name for FlashInfer's CUTLASS fused MoE in `moe_fp8_block.csv` (a copy of
/// TensorRT-LLM's `CutlassMoeFCRunner`; vLLM runs it only with EP > 1).
pub const MOE_CUTLASS_KERNEL: &str = "vllm_fp8moe_flashinfer_cutlass_flashinferexperts";

/// The balanced rows of `system`'s fp8 fused-MoE table timed on TensorRT-LLM's CUTLASS fused
/// MoE ([`MOE_CUTLASS_KERNEL`]), up to 4096 tokens; empty where the table has none (Blackwell's
/// rows are FlashInfer's TRTLLM-Gen MoE) or the system has no fp8 MoE table, an error naming the
/// file, row and field where the table cannot be read.
pub fn moe_cutlass_fp8_rows(shared: &Path, system: &str, dev: &DeviceSpec) -> Result<Vec<data::MoeRow>> {
    let rows = data::aic_moe_if_present(shared, system, moe_table(dev, Dtype::Fp8))?;
    Ok(rows
        .into_iter()
        .filter(|r| r.kernel == MOE_CUTLASS_KERNEL && r.dist == "balanced" && r.tokens <= 4096.0)
        .collect())
}

/// Fits TensorRT-LLM's CUTLASS fused MoE on fp8 experts over every size
/// ([`moe_cutlass_fp8_rows`], each row one EP rank's work); `None` without such rows or an
/// activation curve.
pub fn fit_moe_cutlass_fp8(
    shared: &Path,
    system: &str,
    dev: &DeviceSpec,
    act: Option<Curve>,
) -> Result<Option<Fitted>> {
    let Some(act) = act else { return Ok(None) };
    let rows = moe_cutlass_fp8_rows(shared, system, dev)?;
    if rows.is_empty() {
        return Ok(None);
    }
    Ok(Some(fit_moe_rows(&rows, |c, r| moe_row_us(c, &act, dev, Dtype::Fp8, r))))
}

/// Fits the grouped GEMMs of `weights` (fp8 or fp4) experts to `system`'s fused-MoE table at
/// prefill sizes ([`moe_prefill_rows`]), every (shape, TP, band) weighted alike; `None`
/// without the table or an activation curve.
pub fn fit_moe_quantised(
    shared: &Path,
    system: &str,
    dev: &DeviceSpec,
    act: Option<Curve>,
    weights: Dtype,
    whole: bool,
) -> Result<Option<Fitted>> {
    let Some(act) = act else { return Ok(None) };
    let rows = moe_fit_rows(shared, system, dev, weights, whole)?;
    if rows.is_empty() {
        return Ok(None);
    }
    Ok(Some(fit_moe_rows(&rows, |c, r| moe_row_us(c, &act, dev, weights, r))))
}

/// `base` with the curves of `family` replaced by `fitted` (device id → curves): every curve
/// of the family is removed from every device first, so a device whose table is gone loses
/// its stale fit; every other curve, node and field is kept as it is.
pub fn replace_family(
    base: &Calibration,
    family: Family,
    fitted: &BTreeMap<String, Vec<(String, FittedCurve)>>,
) -> Calibration {
    let mut out = base.clone();
    for d in &mut out.devices {
        d.curves.retain(|c, _| !family.classes().contains(&c.as_str()));
        if let Some(curves) = fitted.get(&d.device) {
            d.curves.extend(curves.iter().cloned());
        }
    }
    out
}

/// Curve classes fitted to tables that `../shared` does not hold (data/README.md says where
/// each came from): a full [`calibrate`] cannot refit them, so `fit` carries them over from
/// the calibration it replaces ([`carry_over`]) instead of dropping them.
pub const FITTED_OUTSIDE_SHARED: &[&str] = &[class::DECODE_ATTENTION_FP8_TRTLLM];

/// `fitted` with every curve of a [`FITTED_OUTSIDE_SHARED`] class that `previous` has and
/// `fitted` lacks, on the same device; returns the carried `(device, class)` pairs too, so the
/// tool can say what it kept. A device `fitted` lacks is not added for such a curve alone.
pub fn carry_over(fitted: &Calibration, previous: &Calibration) -> (Calibration, Vec<(String, String)>) {
    let mut out = fitted.clone();
    let mut carried = Vec::new();
    for d in &mut out.devices {
        let Some(old) = previous.device(&d.device) else { continue };
        for &c in FITTED_OUTSIDE_SHARED {
            if let (false, Some(curve)) = (d.curves.contains_key(c), old.curves.get(c)) {
                d.curves.insert(c.to_string(), curve.clone());
                carried.push((d.device.clone(), c.to_string()));
            }
        }
    }
    (out, carried)
}

/// Refits only `families` on every AIC system and puts them into `base` (the shipped
/// calibration): `llmsim-calibrate fit --only`. The family's curves come out as a full
/// [`calibrate`] writes them.
pub fn calibrate_only(shared: &Path, base: &Calibration, families: &[Family]) -> Result<Calibration> {
    let mut out = base.clone();
    for &family in families {
        let mut fitted = BTreeMap::new();
        for (system, name) in AIC_SYSTEMS {
            let act = base.device(name).and_then(|d| d.curve(class::MLP_ACT));
            let curves = fit_family(shared, family, system, device(name), act)?;
            if !curves.is_empty() {
                fitted.insert(name.to_string(), curves);
            }
        }
        out = replace_family(&out, family, &fitted);
    }
    Ok(out)
}

/// Fits every device and node from the tables under `shared` (the `../shared` folder).
pub fn calibrate(shared: &Path) -> Result<Calibration> {
    let mut devices: BTreeMap<&str, BTreeMap<String, FittedCurve>> = BTreeMap::new();

    // Layer ops from Vidur's profiles: the stack Vidur simulates.
    for name in VIDUR_DEVICES {
        let dev = device(name);
        let rows = data::vidur_mlp(shared, name)?;
        let curves = devices.entry(name).or_default();
        for (i, (column, op)) in MLP_COLUMNS.iter().enumerate() {
            let classes: &[&str] =
                if *op == Op::MlpAct { &[class::MLP_ACT, class::MLP_ACT_UNGATED] } else { &[op.name()] };
            for &c in classes {
                let models = match c {
                    class::MLP_ACT => "gated-MLP models",
                    class::MLP_ACT_UNGATED => "ungated-MLP models",
                    _ => "all models",
                };
                if let Some(f) = fit_mlp_op(dev, &rows, i, c) {
                    curves.insert(
                        c.to_string(),
                        fitted(
                            f,
                            format!(
                                "vidur {name} mlp.csv `{column}`, {models} and TP, token bands weighted alike"
                            ),
                        ),
                    );
                }
            }
        }
        if name == "a40" {
            // No AIC tables for the A40: its generic GEMM pools Vidur's four layer GEMMs.
            let gemms: Vec<GemmRow> = rows
                .iter()
                .flat_map(|r| {
                    MLP_COLUMNS.iter().enumerate().filter_map(move |(i, (_, op))| {
                        let (n, k) = r.shape.gemm_nk(*op)?;
                        Some(GemmRow { m: r.tokens, n, k, us: r.us[i]? })
                    })
                })
                .collect();
            curves.insert(
                class::GEMM.into(),
                fitted(
                    fit_gemm(peaks(dev, Dtype::Bf16), &gemms, 2.0),
                    "vidur a40 mlp.csv, the four layer GEMMs pooled".into(),
                ),
            );
        }
    }

    // Generic GEMMs, vLLM's layer GEMMs and attention from AIConfigurator's vLLM tables.
    for (system, name) in AIC_SYSTEMS {
        let dev = device(name);
        let source = |what: &str| format!("aic {system} {what}");
        let curves = devices.entry(name).or_default();
        for g in AIC_GEMM_DTYPES {
            let Ok(rows) = data::aic_gemm(shared, system, g.file) else { continue };
            let p = peaks(dev, g.weights);
            let weight_bytes = g.weights.bytes_per_element();
            curves.insert(
                g.generic.into(),
                fitted(fit_gemm(p, &rows, weight_bytes), source(&format!("gemm_{}.csv", g.file))),
            );
            let shapes = data::aic_gemm_shapes(shared, system, g.shapes)?;
            for (op, c) in LAYER_GEMM_OPS.iter().zip(g.layer) {
                if let Some(f) = fit_layer_gemm(p, &rows, &shapes, *op, weight_bytes) {
                    let shapes_of =
                        if g.shapes == g.file { String::new() } else { format!(" ({})", g.shapes) };
                    let what = format!(
                        "gemm_{}.csv at the {} shapes of gemm_shapes.csv{shapes_of}, token bands weighted alike",
                        g.file,
                        op.name(),
                    );
                    curves.insert(c.into(), fitted(f, source(&what)));
                }
            }
        }
        for (kv, kv_bytes, prefill_class, decode_class) in [
            ("bf16", 2.0, class::PREFILL_ATTENTION, class::DECODE_ATTENTION),
            ("fp8", 1.0, class::PREFILL_ATTENTION_FP8, class::DECODE_ATTENTION_FP8),
        ] {
            let Ok(ctx) = data::aic_attention(shared, system, "ctx", kv) else { continue };
            curves.insert(
                prefill_class.into(),
                fitted(
                    fit_prefill(peaks(dev, Dtype::Bf16), &ctx, kv_bytes),
                    source(&format!("ctx_attn_kv{kv}.csv, seq ≥ 16")),
                ),
            );
            let gen_rows = data::aic_attention(shared, system, "gen", kv)?;
            curves.insert(
                decode_class.into(),
                fitted(
                    fit_decode(peaks(dev, Dtype::Bf16), &gen_rows, kv_bytes),
                    source(&format!("gen_attn_kv{kv}.csv, batch ≤ 256, KV 128–32k")),
                ),
            );
        }
        curves.extend(fit_family(shared, Family::Mla, system, dev, None)?);
    }

    // Fill what a device lacks from its nearest measured relative.
    let copy = |devices: &BTreeMap<&str, BTreeMap<String, FittedCurve>>, from: &str, class: &str| {
        devices[from].get(class).cloned()
    };
    let element_wise = [
        "embedding",
        "input_layernorm",
        "attn_rope",
        "post_attention_layernorm",
        class::MLP_ACT,
        class::MLP_ACT_UNGATED,
        "add",
    ];
    let mut h100_vidur: Vec<&str> = MLP_COLUMNS.iter().map(|(_, op)| op.name()).collect();
    h100_vidur.push(class::MLP_ACT_UNGATED);
    let fills: [(&str, &str, &[&str]); 4] = [
        // H200 is the H100 chip with faster memory: Vidur's H100 efficiencies carry over.
        ("h200", "h100", &h100_vidur),
        // B200 has no Vidur profile: element-wise ops from the H100 (its layer GEMMs below).
        ("b200", "h100", &element_wise),
        // Nor has the B300 (Blackwell Ultra).
        ("b300", "h100", &element_wise),
        // A40 (Ampere, like the A100) has no attention tables.
        ("a40", "a100", &[class::PREFILL_ATTENTION, class::DECODE_ATTENTION]),
    ];
    for (to, from, classes) in fills {
        for c in classes.iter() {
            if let Some(f) = copy(&devices, from, c) {
                devices
                    .get_mut(to)
                    .expect("device fitted")
                    .insert(c.to_string(), transferred(&f, &format!("{from} curve")));
            }
        }
    }
    // MoE experts after the fills: the fused kernel's activation is the device's.
    for (system, name) in AIC_SYSTEMS {
        let curves = devices.get_mut(name).expect("device fitted");
        if let Some(f) = fit_moe(shared, system, device(name), curves.get(class::MLP_ACT).map(|c| c.curve))? {
            let what = "moe_mixtral8x7b_bf16.csv and moe_bf16.csv, balanced routing, no EP, ≤ 4096 tokens, (shape, TP, band) weighted alike";
            curves.insert(class::MOE_EXPERTS.into(), fitted(f, format!("aic {system} {what}")));
        }
        let act = curves.get(class::MLP_ACT).map(|c| c.curve);
        curves.extend(fit_family(shared, Family::Moe, system, device(name), act)?);
    }
    for curves in devices.values_mut() {
        let get = |c: &str| curves.get(c).cloned();
        let mut add = Vec::new();
        if !curves.contains_key(class::MOE_EXPERTS) {
            add.push((
                class::MOE_EXPERTS,
                transferred(&get(class::GEMM).expect("gemm"), "the generic GEMM; no MoE table"),
            ));
        }
        for (i, op) in LAYER_GEMM_OPS.iter().enumerate() {
            let (vidur, vllm, vllm_fp8) =
                (op.name(), class::VLLM_LAYER_GEMMS[i], class::VLLM_LAYER_GEMMS_FP8[i]);
            // No Vidur profile (B200): vLLM's kernels stand in; no AIC table (A40): Vidur's.
            match (curves.contains_key(vidur), curves.contains_key(vllm)) {
                (false, true) => {
                    add.push((vidur, transferred(&get(vllm).expect("fitted"), "vLLM's layer GEMM")))
                }
                (true, false) => {
                    add.push((vllm, transferred(&get(vidur).expect("fitted"), "Vidur's layer GEMM")))
                }
                _ => {}
            }
            if !curves.contains_key(vllm_fp8) {
                let from = get(vllm).or_else(|| get(vidur)).expect("a layer GEMM fitted");
                add.push((vllm_fp8, transferred(&from, "bf16 layer GEMM; no FP8 tensor cores")));
            }
            let vllm_fp4 = class::VLLM_LAYER_GEMMS_FP4[i];
            if !curves.contains_key(vllm_fp4) {
                let from = get(vllm).or_else(|| get(vidur)).expect("a layer GEMM fitted");
                add.push((
                    vllm_fp4,
                    transferred(
                        &from,
                        "bf16 layer GEMM; no NVFP4 table (weight-only FP4 runs at the FP16 rate)",
                    ),
                ));
            }
        }
        if !curves.contains_key(class::GEMM_FP4) {
            add.push((
                class::GEMM_FP4,
                transferred(
                    &get(class::GEMM).expect("gemm"),
                    "bf16 GEMM; no NVFP4 table (weight-only FP4 runs at the FP16 rate)",
                ),
            ));
        }
        if !curves.contains_key(class::GEMM_FP8) {
            add.push((
                class::GEMM_FP8,
                transferred(&get(class::GEMM).expect("gemm"), "bf16 GEMM; no FP8 tensor cores"),
            ));
        }
        if !curves.contains_key(class::PREFILL_ATTENTION_FP8) {
            add.push((
                class::PREFILL_ATTENTION_FP8,
                transferred(&get(class::PREFILL_ATTENTION).expect("prefill"), "bf16-KV prefill attention"),
            ));
        }
        if !curves.contains_key(class::DECODE_ATTENTION_FP8) {
            add.push((
                class::DECODE_ATTENTION_FP8,
                transferred(&get(class::DECODE_ATTENTION).expect("decode"), "bf16-KV decode attention"),
            ));
        }
        // Vidur's attention.csv (with its attn_kv_cache_save timer) is unavailable: the
        // KV-cache write is a copy kernel like the residual add.
        add.push((
            class::KV_CACHE_SAVE,
            transferred(&get(class::ADD).expect("add"), "residual add curve (a copy kernel)"),
        ));
        for (c, f) in add {
            curves.insert(c.to_string(), f);
        }
    }

    let devices =
        devices.into_iter().map(|(d, curves)| DeviceCalibration { device: d.to_string(), curves }).collect();
    Ok(Calibration {
        generated_by: "llmsim-calibrate fit (crates/calibrate) from ../shared/profiles: Vidur mlp.csv and network CSVs (MIT), AIConfigurator 0.12.0 tables (Apache-2.0)".into(),
        devices,
        nodes: calibrate_nodes(shared)?,
    })
}

/// The four layer GEMMs, in the order of [`class::VLLM_LAYER_GEMMS`].
pub const LAYER_GEMM_OPS: [Op; 4] = [Op::AttnPreProj, Op::AttnPostProj, Op::MlpUpProj, Op::MlpDownProj];

/// AIC systems and the DGX-style node (8 GPUs on NVSwitch) each one's collectives calibrate.
pub const AIC_NODES: [(&str, &str); 5] = [
    ("h100_sxm", "h100_dgx"),
    ("h200_sxm", "h200_dgx"),
    ("a100_sxm", "a100_dgx"),
    ("b200_sxm", "b200_dgx"),
    ("b300_sxm", "b300_dgx"),
];

/// The engines' all-reduce tables, by [`NodeCalibration::custom_all_reduce`] key.
pub const CUSTOM_ALL_REDUCE_FILES: [(&str, &str); 3] = [
    ("vllm", "custom_allreduce_bf16"),
    ("sglang", "custom_allreduce_sglang_bf16"),
    ("trtllm", "custom_allreduce_trtllm_bf16"),
];

/// Collective fits per node.
fn calibrate_nodes(shared: &Path) -> Result<Vec<NodeCalibration>> {
    let mut nodes = Vec::new();
    let send_recv = |node: &str, dpn: u32| -> Result<Option<AlphaBeta>> {
        let rows = data::vidur_network(shared, node, "send_recv", Some(dpn))?;
        Ok((!rows.is_empty()).then(|| fit_alpha_beta(&rows.iter().collect::<Vec<_>>())))
    };
    // NVSwitch nodes: AIC's NCCL and engine all-reduce tables (one node).
    for (system, node) in AIC_NODES {
        let vidur_node = if node == "h100_dgx" || node == "a100_dgx" { node } else { "" };
        let mut custom = BTreeMap::new();
        let mut custom_files = Vec::new();
        for (engine, file) in CUSTOM_ALL_REDUCE_FILES {
            if let Ok(rows) = data::aic_all_reduce(shared, system, file) {
                custom.insert(engine.to_string(), fit_collective(&rows));
                custom_files.push(format!("{file}.csv"));
            }
        }
        nodes.push(NodeCalibration {
            node: node.into(),
            source: format!(
                "all-reduce: aic {system} nccl_allreduce_fp16.csv, {}; send/recv: {}",
                custom_files.join(", "),
                if vidur_node.is_empty() { "link model" } else { "vidur send_recv.csv" }
            ),
            all_reduce: fit_collective(&data::aic_all_reduce(shared, system, "nccl_allreduce_fp16")?),
            custom_all_reduce: custom,
            send_recv_intra_node: if vidur_node.is_empty() { None } else { send_recv(vidur_node, 2)? },
            send_recv_inter_node: if vidur_node.is_empty() { None } else { send_recv(vidur_node, 1)? },
        });
    }
    // Other Vidur nodes: their own network profiles (all-reduce rows with every GPU in one node).
    for node in ["a100_pairwise_nvlink", "h100_pairwise_nvlink", "a40_pairwise_nvlink", "p4d_a100_40g_nvlink"]
    {
        let all_reduce: Vec<CollectiveRow> = data::vidur_network(shared, node, "all_reduce", None)?
            .into_iter()
            .filter(|r| r.gpus == r.devices_per_node)
            .collect();
        nodes.push(NodeCalibration {
            node: node.into(),
            source: format!("vidur network/{node} all_reduce.csv and send_recv.csv"),
            all_reduce: fit_collective(&all_reduce),
            custom_all_reduce: BTreeMap::new(),
            send_recv_intra_node: send_recv(node, 2)?,
            send_recv_inter_node: send_recv(node, 1)?,
        });
    }
    Ok(nodes)
}

/// The calibration as the pretty JSON committed to `data/calibration.json`.
pub fn to_json(calibration: &Calibration) -> String {
    let mut s = serde_json::to_string_pretty(calibration).expect("calibration serialises");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_fused_moe_table_is_an_error_naming_its_file_row_and_field() {
        // A system's fp8 MoE table with a malformed latency: the CUTLASS rows and the fit rows
        // name the file, row and field (both read as "no rows" before); a system without the
        // table (A100's has none) still has no rows.
        let shared =
            std::env::temp_dir().join(format!("llmsim-calibrate-bad-moe-table-{}", std::process::id()));
        let dir = shared.join("profiles/aic/h200_sxm");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("moe_fp8_block.csv"),
            format!(
                "hidden,inter,experts,topk,tokens,tp,ep,dist,lat_ms,kernel\n\
                 7168,2048,256,8,64,1,8,balanced,0.05,{MOE_CUTLASS_KERNEL}\n\
                 7168,2048,256,8,128,1,8,balanced,fast,{MOE_CUTLASS_KERNEL}\n"
            ),
        )
        .unwrap();
        let h200 = device("h200");
        let cutlass = moe_cutlass_fp8_rows(&shared, "h200_sxm", h200).unwrap_err().to_string();
        let fit = moe_fit_rows(&shared, "h200_sxm", h200, Dtype::Fp8, true).unwrap_err().to_string();
        for e in [cutlass, fit] {
            assert!(e.contains("moe_fp8_block.csv row 3 field 'lat_ms'"), "{e}");
        }
        assert!(moe_cutlass_fp8_rows(&shared, "a100_sxm", device("a100")).unwrap().is_empty());
        assert!(
            fit_moe_cutlass_fp8(&shared, "h200_sxm", h200, Some(Curve::roofline(0.7, 0.8, 5.0))).is_err()
        );
    }

    #[test]
    fn a_full_fit_keeps_the_curves_fitted_outside_shared_and_nothing_else() {
        let shipped = Calibration::embedded();
        let trtllm = class::DECODE_ATTENTION_FP8_TRTLLM;
        assert!(shipped.device("h200").is_some_and(|d| d.curves.contains_key(trtllm)));
        // What a full fit from ../shared yields: the shipped file without that curve, and
        // without one ordinary curve (a table gone from ../shared), which must stay gone.
        let mut fitted = shipped.clone();
        for d in &mut fitted.devices {
            d.curves.remove(trtllm);
            d.curves.remove(class::GEMM);
        }
        let (kept, carried) = carry_over(&fitted, shipped);
        let with_trtllm: Vec<&str> = shipped
            .devices
            .iter()
            .filter(|d| d.curves.contains_key(trtllm))
            .map(|d| d.device.as_str())
            .collect();
        assert_eq!(carried.iter().map(|(d, _)| d.as_str()).collect::<Vec<_>>(), with_trtllm);
        for d in &kept.devices {
            let old = shipped.device(&d.device).unwrap();
            assert_eq!(d.curves.get(trtllm).map(|c| c.curve), old.curves.get(trtllm).map(|c| c.curve));
            assert!(
                !d.curves.contains_key(class::GEMM),
                "{}: only curves fitted outside ../shared are kept",
                d.device
            );
        }
        // A fit that has the curve itself wins over the old file's.
        let (again, none) = carry_over(shipped, &fitted);
        assert!(none.is_empty());
        assert_eq!(to_json(&again), to_json(shipped));
    }

    #[test]
    fn hopper_context_mla_rows_are_read_absorbed_and_blackwell_rows_not() {
        // AIC's SGLang collector: FlashAttention-3's absorbed MLA on Hopper, TRT-LLM's
        // non-absorbed context kernel on Blackwell.
        assert!(aic_mla_prefill_absorbed(device("h100")) && aic_mla_prefill_absorbed(device("h200")));
        assert!(!aic_mla_prefill_absorbed(device("b200")) && !aic_mla_prefill_absorbed(device("b300")));
        // Neither is an Ampere GPU, which has no FP4 rate either.
        assert!(!aic_mla_prefill_absorbed(device("a100")));
        // One 8192-token prompt, 16 heads: read absorbed, the same curve costs 3.4× the
        // non-absorbed compute-bound time.
        let row = AttentionRow { batch: 1.0, len: 8192.0, q_heads: 16.0, kv_heads: 1.0, us: 1986.41 };
        let curve = Curve::roofline(0.6, 0.6, 0.0);
        let p = peaks(device("h200"), Dtype::Bf16);
        let ratio =
            mla_prefill_row_us(&curve, p, &row, 2.0, true) / mla_prefill_row_us(&curve, p, &row, 2.0, false);
        assert!((3.3..3.5).contains(&ratio), "{ratio}");
    }

    #[test]
    fn only_accepts_known_families_and_names_a_bad_one() {
        assert_eq!(parse_families("mla"), Ok(vec![Family::Mla]));
        assert_eq!(parse_families(" mla , mla"), Ok(vec![Family::Mla]));
        assert_eq!(parse_families("moe,mla"), Ok(vec![Family::Mla, Family::Moe]));
        let e = parse_families("mla,gemm").unwrap_err();
        assert!(e.contains("'gemm'") && e.contains("expected one of: mla, moe"), "{e}");
    }

    #[test]
    fn an_ep_row_is_one_ranks_work_and_an_ep1_row_is_unchanged() {
        let h200 = Calibration::embedded().device("h200").unwrap();
        let (gemm, act) = (h200.curve(class::GEMM_FP8).unwrap(), h200.curve(class::MLP_ACT).unwrap());
        let dev = device("h200");
        let row = |tokens: f64, ep: u32| data::MoeRow {
            hidden: 7168.0,
            inter: 2048.0,
            experts: 256.0,
            top_k: 8.0,
            tokens,
            tp: 1,
            ep,
            dist: "balanced".to_string(),
            us: 0.0,
            kernel: String::new(),
        };
        let layer = |experts: f64, top_k: f64, tokens: f64, active: f64| {
            let shape = cost::MoeShape {
                hidden: 7168.0,
                experts,
                top_k,
                expert_dim: 2048.0,
                shared_dim: 0.0,
                gated: true,
            };
            cost::moe_experts_us(
                &gemm,
                &act,
                peaks(dev, Dtype::Fp8),
                peaks(dev, Dtype::Bf16),
                &shape,
                tokens,
                active,
                1.0,
            )
        };
        for tokens in [1.0, 4.0, 64.0, 4096.0] {
            // EP 1: the whole layer, exactly as the EP-1 fits were made (min(E, T·k) experts).
            let whole = layer(256.0, 8.0, tokens, (tokens * 8.0).min(256.0));
            assert_eq!(moe_row_us(&gemm, &act, dev, Dtype::Fp8, &row(tokens, 1)), whole);
            // EP 8: one rank's 32 experts and its eighth of the picks.
            let rank = layer(32.0, 1.0, tokens, tokens.min(32.0));
            assert_eq!(moe_row_us(&gemm, &act, dev, Dtype::Fp8, &row(tokens, 8)), rank);
            assert!(rank < whole);
        }
    }

    #[test]
    fn quantised_experts_take_the_table_of_the_kernels_llmsim_times() {
        // fp4 is NVFP4 where the device has an fp4 rate, weight-only (16-bit activations) where
        // it has not; fp8 is block-scaled (the MoE checkpoints' format).
        assert_eq!(moe_table(device("b200"), Dtype::Fp4), "moe_nvfp4");
        assert_eq!(moe_table(device("h200"), Dtype::Fp4), "moe_w4a16_mxfp4");
        assert_eq!(moe_table(device("h100"), Dtype::Fp8), "moe_fp8_block");
        assert_eq!(moe_table(device("b200"), Dtype::Int4), "moe_int4_wo");
        assert_eq!(moe_table(device("h200"), Dtype::Int4), "moe_int4_wo");
        assert_eq!(
            Family::Moe.classes(),
            &[
                class::MOE_EXPERTS_FP8,
                class::MOE_EXPERTS_FP4,
                class::MOE_EXPERTS_INT4,
                class::MOE_EXPERTS_FP8_ALL_SIZES,
                class::MOE_EXPERTS_FP8_CUTLASS,
                class::MOE_EXPERTS_MARLIN,
                class::MOE_EXPERTS_FP4_DECODE
            ]
        );
        // INT4 weight-only experts are fitted from one token up; the others at prefill sizes.
        assert!(
            moe_fit_is_whole_range(device("b200"), Dtype::Int4)
                && !moe_fit_is_whole_range(device("h200"), Dtype::Fp8)
        );
        // Weight-only MXFP4 (fp4 without an fp4 rate) from one token up; NVFP4 at prefill sizes.
        assert!(
            moe_fit_is_whole_range(device("h100"), Dtype::Fp4)
                && !moe_fit_is_whole_range(device("b200"), Dtype::Fp4)
        );
    }

    /// `../shared` (or `LLMSIM_SHARED_DIR`) where it holds AIC's profiles; `None`, said on stderr,
    /// where it does not (a failure instead under `LLMSIM_REQUIRE_SHARED`).
    fn shared_profiles() -> Option<std::path::PathBuf> {
        let shared = std::env::var_os("LLMSIM_SHARED_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
        if shared.join("profiles/aic").is_dir() {
            return Some(shared);
        }
        assert!(std::env::var_os("LLMSIM_REQUIRE_SHARED").is_none(), "{} is missing", shared.display());
        eprintln!("skipped: no {}", shared.display());
        None
    }

    #[test]
    fn the_shipped_fused_moe_fits_beat_the_generic_curve_on_their_rows() {
        // Where ../shared is present: every shipped fused-MoE curve is nearer AIC's table at
        // prefill sizes than the dtype's generic GEMM curve (the reason it exists), and within
        // 25 % MAPE.
        let Some(shared) = shared_profiles() else { return };
        let rows = check::moe_quantised_rows(&shared, Calibration::embedded(), "h200_sxm").unwrap();
        let mape = |what: &str| rows.iter().find(|r| r.op == what).map(|r| r.mape_pct).expect(what);
        for (fused, generic) in [
            ("moe experts on moe_experts_fp8", "moe experts on gemm_fp8"),
            ("moe experts on moe_experts_fp4", "moe experts on gemm_fp4"),
            ("moe experts on moe_experts_int4", "moe experts on gemm"),
        ] {
            assert!(
                mape(fused) < 25.0 && mape(fused) < mape(generic),
                "{fused}: {} vs {}",
                mape(fused),
                mape(generic)
            );
        }
    }

    #[test]
    fn the_marlin_block_fit_beats_the_int4_fit_on_both_marlin_tables() {
        // Where ../shared is present: the joint fit reads the INT4 table and only the Marlin
        // rows of the MXFP4 one, and on each table's rows (1-8192 tokens) it is nearer AIC's
        // measurements than the INT4 fit of Kimi-K2.5's rows (the MXFP4 rows without their
        // method's per-call offset: the block form alone).
        let Some(shared) = shared_profiles() else { return };
        for (system, name) in [("h100_sxm", "h100"), ("h200_sxm", "h200")] {
            let cal = Calibration::embedded().device(name).unwrap();
            let (marlin, int4) =
                (cal.curve(class::MOE_EXPERTS_MARLIN).unwrap(), cal.curve(class::MOE_EXPERTS_INT4).unwrap());
            let act = cal.curve(class::MLP_ACT).unwrap();
            let dev = device(name);
            let rows = moe_marlin_rows(&shared, system).unwrap();
            assert!(rows.iter().all(|(r, _)| r.kernel.contains("marlin") && r.ep == 1));
            for weights in [Dtype::Int4, Dtype::Fp4] {
                let rows: Vec<&data::MoeRow> =
                    rows.iter().filter(|(_, w)| *w == weights).map(|(r, _)| r).collect();
                assert!(rows.len() > 100, "{system} {weights:?}: {} rows", rows.len());
                let block =
                    fit::mape(rows.iter().map(|r| (marlin_row_us(&marlin, &act, dev, weights, r), r.us)));
                let old =
                    fit::mape(rows.iter().map(|r| (moe_row_us(&int4, &act, dev, Dtype::Int4, r), r.us)));
                assert!(block < old, "{system} {weights:?}: block form {block:.1} % vs INT4 fit {old:.1} %");
            }
        }
    }

    #[test]
    fn the_fp8_over_bf16_decode_ratio_is_the_median_over_common_rows_at_long_kv() {
        let row =
            |batch: f64, len: f64, us: f64| AttentionRow { batch, len, q_heads: 16.0, kv_heads: 1.0, us };
        let bf16 =
            [row(1.0, 512.0, 10.0), row(1.0, 1024.0, 10.0), row(8.0, 4096.0, 20.0), row(64.0, 8192.0, 40.0)];
        // The 512-token row is below the KV ≥ 1024 cut; the 16k row has no bf16 partner.
        let fp8 = [
            row(1.0, 512.0, 100.0),
            row(1.0, 1024.0, 50.0),
            row(8.0, 4096.0, 10.0),
            row(64.0, 8192.0, 120.0),
            row(64.0, 16384.0, 1.0),
        ];
        assert_eq!(fp8_over_bf16_decode(&bf16, &fp8), Some(3.0)); // of 5.0, 0.5, 3.0
        assert_eq!(fp8_over_bf16_decode(&bf16, &fp8[..1]), None);
    }

    #[test]
    fn the_shipped_calibration_is_what_to_json_writes_of_itself() {
        // `fit --only` parses the file and writes it back: every curve it does not refit stays
        // byte-identical only if the round trip is exact.
        let text = include_str!("../../../data/calibration.json");
        let parsed: Calibration = serde_json::from_str(text).expect("valid");
        assert!(to_json(&parsed) == text, "data/calibration.json does not round-trip byte for byte");
    }

    #[test]
    fn replacing_a_family_keeps_every_other_curve_and_drops_stale_fits() {
        let base = Calibration::embedded();
        let new_curve = FittedCurve {
            curve: Curve::roofline(0.25, 0.5, 7.0),
            source: "test".into(),
            rows: 1,
            mape_pct: 0.0,
        };
        // h200 gets a new prefill fit; every other device loses its MLA curves.
        let fitted = BTreeMap::from([(
            "h200".to_string(),
            vec![(class::MLA_PREFILL_ATTENTION.to_string(), new_curve.clone())],
        )]);
        let out = replace_family(base, Family::Mla, &fitted);
        assert_eq!(out.nodes, base.nodes);
        assert_eq!(out.generated_by, base.generated_by);
        for (d, before) in out.devices.iter().zip(&base.devices) {
            assert_eq!(d.device, before.device);
            for (c, f) in &before.curves {
                if !Family::Mla.classes().contains(&c.as_str()) {
                    assert_eq!(d.curves.get(c), Some(f), "{} {c} changed", d.device);
                }
            }
            let mla: Vec<&String> =
                d.curves.keys().filter(|c| Family::Mla.classes().contains(&c.as_str())).collect();
            if d.device == "h200" {
                assert_eq!(mla, [class::MLA_PREFILL_ATTENTION]);
                assert_eq!(d.curves[class::MLA_PREFILL_ATTENTION], new_curve);
            } else {
                assert!(mla.is_empty(), "{}: {mla:?}", d.device);
            }
        }
    }
}
