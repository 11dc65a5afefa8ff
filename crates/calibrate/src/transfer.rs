//! Held-out checks: fit on one model or device, test on another, and report the transfer error
//! (how well the roofline predicts what was never fitted).

use llmsim_engine::config::Dtype;
use std::path::Path;

use llmsim_engine::exec::{Curve, MLP_COLUMNS};

use crate::check::{LAYER_OPS, VIDUR_MAX_TOKENS};
use crate::data::{self, MlpRow, Result};
use crate::fit::mape;
use crate::{
    decode_row_us, decode_rows_in_scope, device, fit_decode, fit_gemm, fit_mlp_op, fit_prefill, gemm_row_us,
    mlp_op_us, peaks, prefill_row_us, prefill_rows_in_scope,
};

/// One held-out comparison.
#[derive(Clone, Debug)]
pub struct TransferRow {
    /// What the curves were fitted on.
    pub fit_on: String,
    /// What they were tested on.
    pub test_on: String,
    /// The quantity compared.
    pub op: String,
    /// Rows tested.
    pub rows: usize,
    /// MAPE on the fitted data, %.
    pub in_sample_pct: f64,
    /// MAPE on the held-out data, %.
    pub transfer_pct: f64,
}

/// The model whose H100 profile the layer curves are fitted on.
pub const FIT_MODEL: &str = "meta-llama/Meta-Llama-3-8B";

fn layer_sum_mape(curves: &[Option<Curve>; 10], device_name: &str, rows: &[&MlpRow]) -> (usize, f64) {
    let dev = device(device_name);
    let pairs: Vec<(f64, f64)> = rows
        .iter()
        .filter_map(|r| {
            let mut p = 0.0;
            let mut m = 0.0;
            for (i, (_, op)) in MLP_COLUMNS.iter().enumerate() {
                if !LAYER_OPS.contains(op) {
                    continue;
                }
                // An op the profile lacks (phi-2 has no post-attention norm) counts in neither.
                let Some(measured) = r.us[i] else { continue };
                m += measured;
                p += mlp_op_us(curves[i].as_ref()?, dev, r, i);
            }
            Some((p, m))
        })
        .collect();
    (pairs.len(), mape(pairs.into_iter()))
}

/// Every transfer comparison.
pub fn transfer_table(shared: &Path) -> Result<Vec<TransferRow>> {
    let mut out = Vec::new();
    let h100 = data::vidur_mlp(shared, "h100")?;
    let train: Vec<MlpRow> = h100.iter().filter(|r| r.model == FIT_MODEL).cloned().collect();
    let mut curves: [Option<Curve>; 10] = [None; 10];
    for (i, slot) in curves.iter_mut().enumerate() {
        *slot = fit_mlp_op(device("h100"), &train, i, MLP_COLUMNS[i].1.name()).map(|f| f.curve);
    }
    let (_, in_sample) = layer_sum_mape(&curves, "h100", &train.iter().collect::<Vec<_>>());
    let fit_on = format!("vidur h100 {FIT_MODEL}");
    let mut targets: Vec<(String, String, Vec<MlpRow>)> = Vec::new();
    let mut models: Vec<String> = h100.iter().map(|r| r.model.clone()).filter(|m| m != FIT_MODEL).collect();
    models.dedup();
    for model in models {
        targets.push((
            "h100".into(),
            model.clone(),
            h100.iter().filter(|r| r.model == model).cloned().collect(),
        ));
    }
    for d in ["a100", "a40"] {
        targets.push((d.into(), "all models".into(), data::vidur_mlp(shared, d)?));
    }
    for (d, what, rows) in targets {
        let rows: Vec<&MlpRow> = rows.iter().filter(|r| r.tokens <= VIDUR_MAX_TOKENS).collect();
        let (n, transfer) = layer_sum_mape(&curves, &d, &rows);
        out.push(TransferRow {
            fit_on: fit_on.clone(),
            test_on: format!("vidur {d} {what}"),
            op: "layer_sum".into(),
            rows: n,
            in_sample_pct: in_sample,
            transfer_pct: transfer,
        });
    }

    // AIC: fit on the H100's tables, test on other GPUs with only the datasheet peaks changed.
    let h100_dev = device("h100");
    let gemm = data::aic_gemm(shared, "h100_sxm", "bf16")?;
    let g = fit_gemm(peaks(h100_dev, Dtype::Bf16), &gemm, 2.0);
    let ctx = data::aic_attention(shared, "h100_sxm", "ctx", "bf16")?;
    let pf = fit_prefill(peaks(h100_dev, Dtype::Bf16), &ctx, 2.0);
    let gen_rows = data::aic_attention(shared, "h100_sxm", "gen", "bf16")?;
    let dc = fit_decode(peaks(h100_dev, Dtype::Bf16), &gen_rows, 2.0);
    for (system, name) in [("h200_sxm", "h200"), ("b200_sxm", "b200"), ("a100_sxm", "a100")] {
        let p = peaks(device(name), Dtype::Bf16);
        let rows = data::aic_gemm(shared, system, "bf16")?;
        let t = mape(rows.iter().map(|r| (gemm_row_us(&g.curve, p, r, 2.0), r.us)));
        out.push(TransferRow {
            fit_on: "aic h100_sxm".into(),
            test_on: format!("aic {system}"),
            op: "gemm bf16".into(),
            rows: rows.len(),
            in_sample_pct: g.mape_pct,
            transfer_pct: t,
        });
        let rows: Vec<_> = data::aic_attention(shared, system, "ctx", "bf16")?
            .into_iter()
            .filter(prefill_rows_in_scope)
            .collect();
        let t = mape(rows.iter().map(|r| (prefill_row_us(&pf.curve, p, r, 2.0), r.us)));
        out.push(TransferRow {
            fit_on: "aic h100_sxm".into(),
            test_on: format!("aic {system}"),
            op: "prefill_attention".into(),
            rows: rows.len(),
            in_sample_pct: pf.mape_pct,
            transfer_pct: t,
        });
        let rows: Vec<_> = data::aic_attention(shared, system, "gen", "bf16")?
            .into_iter()
            .filter(decode_rows_in_scope)
            .collect();
        let t = mape(rows.iter().map(|r| (decode_row_us(&dc.curve, p, r, 2.0), r.us)));
        out.push(TransferRow {
            fit_on: "aic h100_sxm".into(),
            test_on: format!("aic {system}"),
            op: "decode_attention".into(),
            rows: rows.len(),
            in_sample_pct: dc.mape_pct,
            transfer_pct: t,
        });
    }
    Ok(out)
}

/// The transfer table as aligned text.
pub fn format_transfer(rows: &[TransferRow]) -> String {
    let mut s = format!(
        "{:<40} {:<52} {:<18} {:>6} {:>10} {:>10}\n",
        "fit on", "test on", "op", "rows", "in-sample%", "transfer%"
    );
    for r in rows {
        s += &format!(
            "{:<40} {:<52} {:<18} {:>6} {:>10.2} {:>10.2}\n",
            r.fit_on, r.test_on, r.op, r.rows, r.in_sample_pct, r.transfer_pct
        );
    }
    s
}
