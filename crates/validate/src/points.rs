//! Reading a file of measured serving points (`../shared/validation/serving_points.csv` or any
//! CSV with the same columns): one closed-loop benchmark per row, typed, every problem named
//! by file, line and column.

use std::collections::HashMap;
use std::fmt;

use thiserror::Error;

/// Columns the mapping reads; a file without one of them is refused.
pub const REQUIRED_COLUMNS: &[&str] = &[
    "id",
    "backend",
    "model_path",
    "system",
    "precision",
    "mode",
    "isl",
    "osl",
    "gemm_quant_mode",
    "moe_quant_mode",
    "batch_size",
    "tp_size",
    "pp_size",
    "attention_dp_size",
    "moe_ep_size",
    "silicon_ttft_ms",
    "silicon_tpot_ms",
];

/// Columns read when the file has them (blank otherwise): the engine's version and the
/// measurement date (`YYYY-MM-DD`), which decide the serving-engine model and the client (a
/// file without `measured` has every row undated: exact lengths and the current warm-up,
/// `crate::client::client_for`).
/// `moe_tp_size` (expert tensor parallelism) is read only to undo a recording convention
/// (`crate::mapping::aggregated_shape`).
pub const OPTIONAL_COLUMNS: &[&str] = &["backend_version", "measured", "moe_tp_size"];

/// A problem with the points file; fatal for the whole run.
#[derive(Debug, Error, PartialEq)]
pub enum InputError {
    /// The header lacks a column the mapping needs.
    #[error("{file}: no column '{column}' (the file needs {})", REQUIRED_COLUMNS.join(", "))]
    MissingColumn { file: String, column: String },
    /// A value that does not parse, or is out of range.
    #[error("{file}, line {line}, column '{column}': {problem}")]
    BadValue { file: String, line: u64, column: String, problem: String },
    /// The CSV itself is malformed (unbalanced quotes, a row with too many fields, ...).
    #[error("{file}: {message}")]
    Csv { file: String, message: String },
}

/// The engine instance of an aggregated benchmark and the concurrency it was driven at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instance {
    /// Clients of the closed loop (`batch_size`).
    pub concurrency: u32,
    /// Tensor-parallel GPUs (`tp_size`).
    pub tp_size: u32,
    /// Pipeline stages (`pp_size`).
    pub pp_size: u32,
}

/// How a benchmark's GPUs serve: every GPU prefills and decodes, or prefill and decode pools.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Aggregated serving (`agg`): one engine instance.
    Aggregated(Instance),
    /// Prefill/decode disaggregation (`disagg`): pools described by the `prefill_*` and
    /// `decode_*` columns ([`ServingPoint::pools`], when the file has them).
    Disaggregated,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Aggregated(_) => "agg",
            Mode::Disaggregated => "disagg",
        })
    }
}

/// One measured benchmark point: the typed columns the mapping reads, and the raw row.
#[derive(Clone, Debug, PartialEq)]
pub struct ServingPoint {
    /// Line of the row in the file (the header is line 1).
    pub line: u64,
    /// Every field of the row as written, in the header's order (copied into `points.csv`).
    pub fields: Vec<String>,
    /// The row's identifier (never used to choose or tune anything).
    pub id: String,
    /// Serving engine: `vllm`, `sglang`, `trtllm`.
    pub backend: String,
    /// Its version (`0.10.2`, `1.1.0rc2.post2`, ...; blank = not recorded).
    pub backend_version: String,
    /// Measurement date, `YYYY-MM-DD` (blank = not recorded).
    pub measured: String,
    /// For a row without a date: the date of a dated row of the same file with the same
    /// configuration and the same measured TTFT and TPOT (to the decimals this row writes),
    /// i.e. the same benchmark run copied without its date ([`date_copies`]); blank otherwise.
    pub copy_of_date: String,
    /// Hugging Face id of the model.
    pub model_path: String,
    /// GPU system, e.g. `h200_sxm`.
    pub system: String,
    /// Weight precision: `bf16`, `fp8`, `fp4`, `int4`, ...
    pub precision: String,
    /// Aggregated serving (with its instance) or disaggregated.
    pub mode: Mode,
    /// Prompt tokens per request.
    pub isl: u32,
    /// Output tokens per request.
    pub osl: u32,
    /// GEMM dtype (`fp8`, `fp8_block`, `nvfp4`, `int4_wo`, ...; blank = the precision's).
    pub gemm_quant_mode: String,
    /// Expert dtype of MoE models (blank = the precision's).
    pub moe_quant_mode: String,
    /// Attention data-parallel ranks (blank = 1).
    pub attention_dp_size: Option<u32>,
    /// Expert-parallel ranks (blank = 1).
    pub moe_ep_size: Option<u32>,
    /// Expert tensor-parallel ranks (blank, or a file without the column = not recorded).
    pub moe_tp_size: Option<u32>,
    /// A disaggregated row's pools (`prefill_*` and `decode_*` columns), when the file has
    /// those columns and the row fills them.
    pub pools: Option<Pools>,
    /// Measured mean time to first token, ms.
    pub silicon_ttft_ms: f64,
    /// Measured mean time per output token, ms.
    pub silicon_tpot_ms: f64,
}

impl ServingPoint {
    /// The date of the benchmark run the row's figures come from: its own, else that of the
    /// dated row it copies; blank when neither is known.
    pub fn run_date(&self) -> &str {
        if self.measured.is_empty() { &self.copy_of_date } else { &self.measured }
    }

    /// The raw value of `column`, if the file has it.
    pub fn field<'a>(&'a self, headers: &[String], column: &str) -> Option<&'a str> {
        headers.iter().position(|h| h == column).map(|i| self.fields[i].as_str())
    }
}

/// One pool of a disaggregated point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool {
    /// Requests per worker (the decode pool's is derived per worker and attention-DP rank);
    /// `None` when blank.
    pub batch_size: Option<u32>,
    /// Engine instances (workers); `None` when blank.
    pub num_workers: Option<u32>,
    /// Tensor-parallel degree.
    pub tp_size: u32,
    /// Pipeline stages.
    pub pp_size: u32,
    /// Attention data-parallel ranks (blank or 0 = 1).
    pub attention_dp_size: u32,
    /// Expert-parallel ranks (blank or 0 = 1).
    pub moe_ep_size: u32,
}

/// A disaggregated point's prefill and decode pools.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pools {
    /// The prefill pool.
    pub prefill: Pool,
    /// The decode pool.
    pub decode: Pool,
}

/// A whole points file: its header and its rows, in file order.
#[derive(Clone, Debug, PartialEq)]
pub struct PointsFile {
    /// Column names as written.
    pub headers: Vec<String>,
    /// Rows in file order.
    pub points: Vec<ServingPoint>,
}

/// Reads a points file's text; `file` names it in errors.
pub fn parse_points(text: &str, file: &str) -> Result<PointsFile, InputError> {
    let csv_error = |e: csv::Error| InputError::Csv { file: file.to_string(), message: e.to_string() };
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
    let headers: Vec<String> =
        reader.headers().map_err(csv_error)?.iter().map(|h| h.trim().to_string()).collect();
    let index = |column: &str| {
        headers
            .iter()
            .position(|h| h == column)
            .ok_or_else(|| InputError::MissingColumn { file: file.to_string(), column: column.to_string() })
    };
    let columns = Columns {
        id: index("id")?,
        backend: index("backend")?,
        model_path: index("model_path")?,
        system: index("system")?,
        precision: index("precision")?,
        mode: index("mode")?,
        isl: index("isl")?,
        osl: index("osl")?,
        gemm_quant_mode: index("gemm_quant_mode")?,
        moe_quant_mode: index("moe_quant_mode")?,
        batch_size: index("batch_size")?,
        tp_size: index("tp_size")?,
        pp_size: index("pp_size")?,
        attention_dp_size: index("attention_dp_size")?,
        moe_ep_size: index("moe_ep_size")?,
        silicon_ttft_ms: index("silicon_ttft_ms")?,
        silicon_tpot_ms: index("silicon_tpot_ms")?,
        backend_version: headers.iter().position(|h| h == "backend_version"),
        measured: headers.iter().position(|h| h == "measured"),
        moe_tp_size: headers.iter().position(|h| h == "moe_tp_size"),
        pools: ["prefill", "decode"].map(|pool| {
            let at = |name: &str| headers.iter().position(|h| *h == format!("{pool}_{name}"));
            Some([
                at("batch_size")?,
                at("num_workers")?,
                at("tp_size")?,
                at("pp_size")?,
                at("attention_dp_size")?,
                at("moe_ep_size")?,
            ])
        }),
    };
    let mut points = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let line = record.position().map_or(0, |p| p.line());
        let fields: Vec<String> = record.iter().map(|f| f.trim().to_string()).collect();
        let row = Row { file, line, headers: &headers, fields: &fields };
        points.push(row.point(&columns)?);
    }
    date_copies(&mut points, &columns);
    Ok(PointsFile { headers, points })
}

/// Half the last written digit's place value of a number's text: how far the exact value may
/// be from it when it was rounded to what it writes (`1245.21` and `1.24521e3`: 0.005).
fn rounding(text: &str) -> f64 {
    let (mantissa, exponent) = text.split_once(['e', 'E']).unwrap_or((text, "0"));
    let decimals = mantissa.split_once('.').map_or(0, |(_, d)| d.len()) as i32;
    0.5 * 10f64.powi(exponent.parse::<i32>().unwrap_or(0) - decimals)
}

/// Dates the rows that repeat a dated row's measurement: an undated row whose configuration
/// columns (engine, model, system, dtypes, lengths, concurrency, parallelism, pools) match a
/// dated row's, and whose TTFT and TPOT equal that row's figures rounded to the decimals the
/// undated row writes, is the same benchmark run copied without its date, so its client is
/// that run's ([`ServingPoint::copy_of_date`]). Of several such rows the first in file order.
fn date_copies(points: &mut [ServingPoint], c: &Columns) {
    let mut config: Vec<usize> = vec![
        c.backend,
        c.model_path,
        c.system,
        c.precision,
        c.mode,
        c.isl,
        c.osl,
        c.gemm_quant_mode,
        c.moe_quant_mode,
        c.batch_size,
        c.tp_size,
        c.pp_size,
        c.attention_dp_size,
        c.moe_ep_size,
    ];
    config.extend(c.moe_tp_size);
    config.extend(c.pools.iter().flatten().flatten());
    let key = |p: &ServingPoint| {
        let mut key = config.iter().map(|&i| p.fields[i].clone()).collect::<Vec<String>>();
        if let Some(moe_tp) = c.moe_tp_size {
            unspell_expert_tp(&mut key, &config, [c.tp_size, c.attention_dp_size, moe_tp, c.moe_ep_size]);
        }
        key
    };
    let mut dated: HashMap<Vec<String>, Vec<usize>> = HashMap::new();
    for (i, p) in points.iter().enumerate().filter(|(_, p)| !p.measured.is_empty()) {
        dated.entry(key(p)).or_default().push(i);
    }
    for i in 0..points.len() {
        let p = &points[i];
        if !p.measured.is_empty() {
            continue;
        }
        // Equal to the precision of the less precise of the two fields.
        let same = |column: usize, twin: &ServingPoint, undated: f64, other: f64| {
            let tolerance = rounding(&p.fields[column]).max(rounding(&twin.fields[column]));
            (undated - other).abs() <= tolerance * (1.0 + 1e-9)
        };
        let twin = dated.get(&key(p)).and_then(|rows| {
            rows.iter().find(|&&j| {
                let t = &points[j];
                same(c.silicon_ttft_ms, t, p.silicon_ttft_ms, t.silicon_ttft_ms)
                    && same(c.silicon_tpot_ms, t, p.silicon_tpot_ms, t.silicon_tpot_ms)
            })
        });
        if let Some(&j) = twin {
            points[i].copy_of_date = points[j].measured.clone();
        }
    }
}

/// Rewrites, in a copy-matching `key` (the values of the `config` columns), a k-GPU instance
/// spelled as expert TP k × EP k with the attention side multiplied by k (attention TP k² and
/// DP 1, or TP 1 and DP k²; `crate::mapping`'s `aggregated_shape`) as the k-GPU instance it
/// is (TP k or DP k, expert TP 1), so that a row recorded under one spelling matches its run
/// recorded under the other. Broader than the mapping (no check against the node's GPUs): a
/// real k²-GPU instance rewritten this way could only match a k-GPU row with the same TTFT and
/// TPOT, which another run does not give. A rewritten key writes its DP and expert TP as
/// numbers, so it can miss (never mis-date) a twin whose columns are blank.
fn unspell_expert_tp(key: &mut [String], config: &[usize], [tp, dp, moe_tp, ep]: [usize; 4]) {
    let slot = |column: usize| config.iter().position(|&i| i == column);
    let (Some(tp), Some(dp), Some(moe_tp), Some(ep)) = (slot(tp), slot(dp), slot(moe_tp), slot(ep)) else {
        return;
    };
    let count = |text: &str| match text.trim() {
        "" => Some(1),
        t => t.parse::<f64>().ok().filter(|v| v.fract() == 0.0 && *v >= 0.0).map(|v| (v as u64).max(1)),
    };
    let (Some(t), Some(d), Some(k), Some(e)) =
        (count(&key[tp]), count(&key[dp]), count(&key[moe_tp]), count(&key[ep]))
    else {
        return;
    };
    if k < 2 || k != e {
        return;
    }
    let (t, d) = match (t, d) {
        (t, 1) if t == k * k => (k, 1),
        (1, d) if d == k * k => (1, k),
        _ => return,
    };
    key[tp] = t.to_string();
    key[dp] = d.to_string();
    key[moe_tp] = "1".to_string();
    key[ep] = e.to_string();
}

/// Positions of the columns the mapping reads.
struct Columns {
    id: usize,
    backend: usize,
    model_path: usize,
    system: usize,
    precision: usize,
    mode: usize,
    isl: usize,
    osl: usize,
    gemm_quant_mode: usize,
    moe_quant_mode: usize,
    batch_size: usize,
    tp_size: usize,
    pp_size: usize,
    attention_dp_size: usize,
    moe_ep_size: usize,
    silicon_ttft_ms: usize,
    silicon_tpot_ms: usize,
    backend_version: Option<usize>,
    measured: Option<usize>,
    moe_tp_size: Option<usize>,
    /// The `prefill_*` and `decode_*` pool columns (batch size, workers, TP, PP, attention DP,
    /// EP), when the file has all of them.
    pools: [Option<[usize; 6]>; 2],
}

/// One record being typed, with what its errors need to name.
struct Row<'a> {
    file: &'a str,
    line: u64,
    headers: &'a [String],
    fields: &'a [String],
}

impl Row<'_> {
    fn error(&self, column: usize, problem: String) -> InputError {
        InputError::BadValue {
            file: self.file.to_string(),
            line: self.line,
            column: self.headers[column].clone(),
            problem,
        }
    }

    fn text(&self, column: usize) -> &str {
        self.fields.get(column).map_or("", String::as_str)
    }

    fn required_text(&self, column: usize) -> Result<String, InputError> {
        match self.text(column) {
            "" => Err(self.error(column, "is empty".into())),
            t => Ok(t.to_string()),
        }
    }

    /// A whole number ≥ 1, or `None` when blank. Whole-number floats (`128.0`, as pandas
    /// writes integer columns with gaps) are accepted.
    fn count(&self, column: usize) -> Result<Option<u32>, InputError> {
        let text = self.text(column);
        if text.is_empty() {
            return Ok(None);
        }
        let value = text.parse::<u32>().ok().or_else(|| {
            text.parse::<f64>()
                .ok()
                .filter(|v| v.fract() == 0.0 && *v <= f64::from(u32::MAX))
                .map(|v| v as u32)
        });
        match value {
            Some(v) if v >= 1 => Ok(Some(v)),
            _ => Err(self.error(column, format!("'{text}' is not a whole number ≥ 1"))),
        }
    }

    fn required_count(&self, column: usize) -> Result<u32, InputError> {
        self.count(column)?.ok_or_else(|| self.error(column, "is empty".into()))
    }

    fn positive_ms(&self, column: usize) -> Result<f64, InputError> {
        let text = self.text(column);
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
            _ if text.is_empty() => Err(self.error(column, "is empty".into())),
            _ => Err(self.error(column, format!("'{text}' is not a positive number of milliseconds"))),
        }
    }

    /// A whole number ≥ 0, blank read as 0 (the pools' DP and EP columns write 0 for none).
    fn count_or_zero(&self, column: usize) -> Result<u32, InputError> {
        match self.text(column) {
            "" | "0" | "0.0" => Ok(0),
            _ => Ok(self.count(column)?.unwrap_or(0)),
        }
    }

    /// A disaggregated row's pools, when the file has their columns and the row fills them.
    fn pools(&self, c: &Columns) -> Result<Option<Pools>, InputError> {
        let [Some(prefill), Some(decode)] = c.pools else { return Ok(None) };
        let pool = |cols: [usize; 6]| -> Result<Option<Pool>, InputError> {
            let [batch, workers, tp, pp, dp, ep] = cols;
            let Some(tp_size) = self.count(tp)? else { return Ok(None) };
            Ok(Some(Pool {
                batch_size: self.count(batch)?,
                num_workers: self.count(workers)?,
                tp_size,
                pp_size: self.count(pp)?.unwrap_or(1),
                attention_dp_size: self.count_or_zero(dp)?.max(1),
                moe_ep_size: self.count_or_zero(ep)?.max(1),
            }))
        };
        Ok(match (pool(prefill)?, pool(decode)?) {
            (Some(prefill), Some(decode)) => Some(Pools { prefill, decode }),
            _ => None,
        })
    }

    fn point(&self, c: &Columns) -> Result<ServingPoint, InputError> {
        // An aggregated row describes one engine instance and its concurrency; a
        // disaggregated row may leave these blank and describes its pools instead.
        let mode = match self.text(c.mode) {
            "agg" => Mode::Aggregated(Instance {
                concurrency: self.required_count(c.batch_size)?,
                tp_size: self.required_count(c.tp_size)?,
                pp_size: self.required_count(c.pp_size)?,
            }),
            "disagg" => {
                for column in [c.batch_size, c.tp_size, c.pp_size] {
                    self.count(column)?;
                }
                Mode::Disaggregated
            }
            other => return Err(self.error(c.mode, format!("'{other}' is neither 'agg' nor 'disagg'"))),
        };
        Ok(ServingPoint {
            line: self.line,
            fields: self.fields.to_vec(),
            id: self.required_text(c.id)?,
            backend: self.required_text(c.backend)?,
            backend_version: c.backend_version.map_or("", |i| self.text(i)).to_string(),
            measured: c.measured.map_or("", |i| self.text(i)).to_string(),
            copy_of_date: String::new(),
            model_path: self.required_text(c.model_path)?,
            system: self.required_text(c.system)?,
            precision: self.required_text(c.precision)?,
            mode,
            isl: self.required_count(c.isl)?,
            osl: self.required_count(c.osl)?,
            gemm_quant_mode: self.text(c.gemm_quant_mode).to_string(),
            moe_quant_mode: self.text(c.moe_quant_mode).to_string(),
            attention_dp_size: self.count(c.attention_dp_size)?,
            moe_ep_size: self.count(c.moe_ep_size)?,
            moe_tp_size: c
                .moe_tp_size
                .map(|column| self.count_or_zero(column))
                .transpose()?
                .filter(|&n| n > 0),
            pools: if matches!(mode, Mode::Disaggregated) { self.pools(c)? } else { None },
            silicon_ttft_ms: self.positive_ms(c.silicon_ttft_ms)?,
            silicon_tpot_ms: self.positive_ms(c.silicon_tpot_ms)?,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const HEADER: &str = "id,backend,backend_version,model_path,system,precision,mode,isl,osl,gemm_quant_mode,moe_quant_mode,batch_size,tp_size,pp_size,attention_dp_size,moe_tp_size,moe_ep_size,silicon_ttft_ms,silicon_tpot_ms,measured";

    /// An aggregated Llama-3.1-70B row on H200 with the given overrides applied as
    /// `column=value` (tests name only what matters to them).
    pub(crate) fn row(overrides: &[(&str, &str)]) -> String {
        let mut values: Vec<(&str, String)> = HEADER
            .split(',')
            .zip([
                "p1",
                "vllm",
                "",
                "meta-llama/Llama-3.1-70B",
                "h200_sxm",
                "fp8",
                "agg",
                "1024",
                "128",
                "fp8",
                "fp8",
                "16",
                "4",
                "1",
                "1",
                "4",
                "1",
                "200.5",
                "20.25",
                "2025-10-12",
            ])
            .map(|(k, v)| (k, v.to_string()))
            .collect();
        for (k, v) in overrides {
            let slot =
                values.iter_mut().find(|(name, _)| name == k).unwrap_or_else(|| panic!("no column {k}"));
            slot.1 = (*v).to_string();
        }
        values.into_iter().map(|(_, v)| v).collect::<Vec<_>>().join(",")
    }

    pub(crate) fn point(overrides: &[(&str, &str)]) -> ServingPoint {
        let text = format!("{HEADER}\n{}\n", row(overrides));
        parse_points(&text, "t.csv").unwrap().points.remove(0)
    }

    #[test]
    fn an_undated_copy_of_a_run_spelled_as_expert_tp_times_ep_takes_its_date() {
        // The dated run recorded as TP 16 with expert TP 4 × EP 4, its undated copy as the
        // 4-GPU instance it is (TP 4, EP 4): the same run.
        let figures = [("silicon_ttft_ms", "840.6942"), ("silicon_tpot_ms", "31.2041")];
        let spelled = [("tp_size", "16"), ("moe_tp_size", "4"), ("moe_ep_size", "4")];
        let plain = [("tp_size", "4"), ("moe_tp_size", "1"), ("moe_ep_size", "4")];
        let rows = [
            row(&[&figures[..], &spelled[..], &[("measured", "2026-03-03")]].concat()),
            row(&[&figures[..], &plain[..], &[("measured", "")]].concat()),
            // Another EP is another instance.
            row(&[
                &figures[..],
                &[("tp_size", "4"), ("moe_tp_size", "1"), ("moe_ep_size", "2")],
                &[("measured", "")],
            ]
            .concat()),
        ];
        let file = parse_points(&format!("{HEADER}\n{}\n", rows.join("\n")), "t.csv").unwrap();
        let dates: Vec<&str> = file.points.iter().map(ServingPoint::run_date).collect();
        assert_eq!(dates, ["2026-03-03", "2026-03-03", ""]);
    }

    #[test]
    fn an_undated_row_repeating_a_dated_rows_figures_takes_its_date() {
        let undated = |ttft: &str, tpot: &str, more: &[(&str, &str)]| {
            let mut o = vec![("measured", ""), ("silicon_ttft_ms", ttft), ("silicon_tpot_ms", tpot)];
            o.extend_from_slice(more);
            row(&o)
        };
        let rows = [
            row(&[
                ("silicon_ttft_ms", "1245.2075713"),
                ("silicon_tpot_ms", "26.753559"),
                ("measured", "2026-02-20"),
            ]),
            row(&[
                ("silicon_ttft_ms", "1245.2075713"),
                ("silicon_tpot_ms", "26.753559"),
                ("measured", "2026-03-01"),
            ]),
            // Rounded to two decimals: the same run.
            undated("1245.21", "26.75", &[]),
            // To one decimal: within its rounding too.
            undated("1245.2", "26.8", &[]),
            // A figure off by more than its rounding: another run.
            undated("1245.22", "26.75", &[]),
            // The same figures under another configuration (concurrency): another run.
            undated("1245.21", "26.75", &[("batch_size", "32")]),
            // An id or engine version of its own does not matter.
            undated("1245.21", "26.75", &[("id", "gap_analysis_1"), ("backend_version", "0.5.9")]),
            // Written with an exponent: to the hundredth, as 1245.21.
            undated("1.24521e3", "26.75", &[]),
        ];
        let file = parse_points(&format!("{HEADER}\n{}\n", rows.join("\n")), "t.csv").unwrap();
        let dates: Vec<&str> = file.points.iter().map(|p| p.copy_of_date.as_str()).collect();
        assert_eq!(dates, ["", "", "2026-02-20", "2026-02-20", "", "", "2026-02-20", "2026-02-20"]);
        let runs: Vec<&str> = file.points.iter().map(ServingPoint::run_date).collect();
        assert_eq!(
            runs,
            ["2026-02-20", "2026-03-01", "2026-02-20", "2026-02-20", "", "", "2026-02-20", "2026-02-20"]
        );
        let roundings = [rounding("1.24521e3"), rounding("26.75"), rounding("12"), rounding("3E-2")];
        assert_eq!(roundings.map(|r| (r * 1e3).round()), [5.0, 5.0, 500.0, 5.0]);
        // Without a measurement column no row is dated, so none copies one.
        let header = HEADER.trim_end_matches(",measured");
        let strip = |r: &str| r.rsplit_once(',').unwrap().0.to_string();
        let file =
            parse_points(&format!("{header}\n{}\n{}\n", strip(&rows[0]), strip(&rows[2])), "t.csv").unwrap();
        assert!(file.points.iter().all(|p| p.run_date().is_empty()));
    }

    #[test]
    fn reads_a_row_into_typed_fields() {
        let p = point(&[]);
        assert_eq!(p.line, 2);
        assert_eq!(p.backend, "vllm");
        assert_eq!(p.mode, Mode::Aggregated(Instance { concurrency: 16, tp_size: 4, pp_size: 1 }));
        assert_eq!((p.isl, p.osl, p.attention_dp_size, p.moe_ep_size), (1024, 128, Some(1), Some(1)));
        assert_eq!(p.silicon_ttft_ms, 200.5);
        assert_eq!((p.backend_version.as_str(), p.measured.as_str()), ("", "2025-10-12"));
        assert_eq!(p.fields.len(), HEADER.split(',').count());
    }

    #[test]
    fn the_version_and_date_columns_are_optional() {
        let header = HEADER.replace(",backend_version", "").replace(",measured", "");
        let values: Vec<String> = HEADER
            .split(',')
            .zip(row(&[("backend_version", "0.10.2")]).split(','))
            .filter(|(h, _)| header.split(',').any(|k| k == *h))
            .map(|(_, v)| v.to_string())
            .collect();
        let p = parse_points(&format!("{header}\n{}\n", values.join(",")), "f").unwrap().points.remove(0);
        assert_eq!((p.backend_version.as_str(), p.measured.as_str()), ("", ""));
        assert_eq!(point(&[("backend_version", "0.10.2")]).backend_version, "0.10.2");
    }

    #[test]
    fn a_missing_column_is_named() {
        let header = HEADER.replace(",silicon_tpot_ms", "");
        let err = parse_points(&format!("{header}\n"), "pts.csv").unwrap_err();
        assert_eq!(
            err,
            InputError::MissingColumn { file: "pts.csv".into(), column: "silicon_tpot_ms".into() }
        );
        assert!(err.to_string().starts_with("pts.csv: no column 'silicon_tpot_ms'"), "{err}");
    }

    #[test]
    fn a_non_numeric_value_names_line_and_column() {
        let text = format!("{HEADER}\n{}\n{}\n", row(&[]), row(&[("batch_size", "many")]));
        let err = parse_points(&text, "pts.csv").unwrap_err();
        assert_eq!(err.to_string(), "pts.csv, line 3, column 'batch_size': 'many' is not a whole number ≥ 1");
        let text = format!("{HEADER}\n{}\n", row(&[("silicon_ttft_ms", "fast")]));
        let err = parse_points(&text, "pts.csv").unwrap_err();
        assert_eq!(
            err.to_string(),
            "pts.csv, line 2, column 'silicon_ttft_ms': 'fast' is not a positive number of milliseconds"
        );
    }

    #[test]
    fn zero_negative_and_blank_required_values_are_refused() {
        for (column, value, problem) in [
            ("tp_size", "0", "'0' is not a whole number ≥ 1"),
            ("isl", "-5", "'-5' is not a whole number ≥ 1"),
            ("tp_size", "", "is empty"),
            ("silicon_tpot_ms", "0", "'0' is not a positive number of milliseconds"),
            ("silicon_tpot_ms", "", "is empty"),
            ("model_path", "", "is empty"),
            ("mode", "hybrid", "'hybrid' is neither 'agg' nor 'disagg'"),
        ] {
            let text = format!("{HEADER}\n{}\n", row(&[(column, value)]));
            let err = parse_points(&text, "f").unwrap_err();
            assert_eq!(err.to_string(), format!("f, line 2, column '{column}': {problem}"));
        }
    }

    #[test]
    fn disaggregated_rows_may_leave_the_instance_blank() {
        let p = point(&[("mode", "disagg"), ("batch_size", ""), ("tp_size", ""), ("pp_size", "")]);
        assert_eq!(p.mode, Mode::Disaggregated);
        // A value that is there must still be a number.
        let text = format!("{HEADER}\n{}\n", row(&[("mode", "disagg"), ("tp_size", "x")]));
        assert!(parse_points(&text, "f").unwrap_err().to_string().contains("column 'tp_size'"));
    }

    #[test]
    fn whole_number_floats_are_counts() {
        let p = point(&[("tp_size", "8.0"), ("attention_dp_size", "")]);
        assert_eq!(p.mode, Mode::Aggregated(Instance { concurrency: 16, tp_size: 8, pp_size: 1 }));
        assert_eq!(p.attention_dp_size, None);
        let text = format!("{HEADER}\n{}\n", row(&[("tp_size", "2.5")]));
        assert!(parse_points(&text, "f").is_err());
    }

    #[test]
    fn a_ragged_row_is_a_csv_error() {
        let err = parse_points(&format!("{HEADER}\n{},extra\n", row(&[])), "f").unwrap_err();
        assert!(matches!(err, InputError::Csv { .. }), "{err:?}");
    }
}
