//! What the summary table and the A/B comparison show, read from `summary.json` by key, so
//! numbers the engine adds later (e.g. new predictor provenances) need no change here.

use serde_json::Value;

/// How a number is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Seconds, shown in ms below one second.
    Seconds,
    /// Requests per second.
    RequestsPerSecond,
    /// Tokens per second.
    TokensPerSecond,
    /// Already a percentage.
    Percent,
    /// A fraction in [0, 1], shown as a percentage.
    Fraction,
    /// A count.
    Count,
}

/// Which direction is an improvement (for colouring A/B changes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    /// Smaller is better (latencies, preemptions).
    Lower,
    /// Larger is better (throughput, hit rate).
    Higher,
    /// Neither (usage figures).
    Neither,
}

/// One number of the summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metric {
    /// Row label.
    pub label: &'static str,
    /// Key path in `summary.json`.
    pub path: &'static [&'static str],
    /// Display unit.
    pub unit: Unit,
    /// Improvement direction.
    pub better: Better,
}

/// The latency distributions of the table: `(label, summary key)`.
pub const LATENCIES: [(&str, &str); 4] =
    [("TTFT", "ttft_s"), ("TBT", "tbt_s"), ("TPOT", "tpot_s"), ("E2E latency", "e2e_s")];

/// The percentiles shown for each latency.
pub const PERCENTILES: [&str; 3] = ["p50", "p90", "p99"];

const fn m(label: &'static str, path: &'static [&'static str], unit: Unit, better: Better) -> Metric {
    Metric { label, path, unit, better }
}

/// The scalar rows under the latency table.
pub const SCALARS: &[Metric] = &[
    m("Throughput", &["throughput", "requests_per_s"], Unit::RequestsPerSecond, Better::Higher),
    m("Prompt tokens", &["throughput", "input_tokens_per_s"], Unit::TokensPerSecond, Better::Higher),
    m("Output tokens", &["throughput", "output_tokens_per_s"], Unit::TokensPerSecond, Better::Higher),
    m("Requests completed", &["num_completed"], Unit::Count, Better::Higher),
    m("Requests refused", &["num_refused"], Unit::Count, Better::Lower),
    m("Requests unfinished", &["num_unfinished"], Unit::Count, Better::Lower),
    m("Preemptions", &["num_preemptions"], Unit::Count, Better::Lower),
    m("KV-cache usage, mean", &["kv_usage_percent_mean"], Unit::Percent, Better::Neither),
    m("KV-cache usage, max", &["kv_usage_percent_max"], Unit::Percent, Better::Neither),
    m("Prefix-cache hit rate", &["prefix_cache_hit_rate"], Unit::Fraction, Better::Higher),
    m("GPU busy, mean", &["busy_percent_mean"], Unit::Percent, Better::Neither),
    m("MFU, mean", &["mfu_percent_mean"], Unit::Percent, Better::Higher),
    m("Simulated time", &["simulated_time_s"], Unit::Seconds, Better::Neither),
];

/// Every metric compared in A/B: the latency percentiles, then the scalars.
pub fn compared_metrics() -> Vec<Metric> {
    const PATHS: [[&str; 2]; 12] = [
        ["ttft_s", "p50"],
        ["ttft_s", "p90"],
        ["ttft_s", "p99"],
        ["tbt_s", "p50"],
        ["tbt_s", "p90"],
        ["tbt_s", "p99"],
        ["tpot_s", "p50"],
        ["tpot_s", "p90"],
        ["tpot_s", "p99"],
        ["e2e_s", "p50"],
        ["e2e_s", "p90"],
        ["e2e_s", "p99"],
    ];
    const LABELS: [&str; 12] = [
        "TTFT p50", "TTFT p90", "TTFT p99", "TBT p50", "TBT p90", "TBT p99", "TPOT p50", "TPOT p90",
        "TPOT p99", "E2E p50", "E2E p90", "E2E p99",
    ];
    let mut out: Vec<Metric> =
        PATHS.iter().zip(LABELS).map(|(p, label)| m(label, p, Unit::Seconds, Better::Lower)).collect();
    out.extend_from_slice(SCALARS);
    out
}

/// The number at `path`, if present.
pub fn value(summary: &Value, path: &[&str]) -> Option<f64> {
    path.iter().try_fold(summary, |v, k| v.get(*k))?.as_f64()
}

/// A number in its unit, e.g. `183 ms`, `1.52 s`, `8.00 req/s`, `12.5 %`.
pub fn format(unit: Unit, x: f64) -> String {
    match unit {
        Unit::Seconds if x.abs() < 1.0 => format!("{} ms", sig3(x * 1e3)),
        Unit::Seconds => format!("{} s", sig3(x)),
        Unit::RequestsPerSecond => format!("{x:.2} req/s"),
        Unit::TokensPerSecond => format!("{x:.0} tok/s"),
        Unit::Percent => format!("{x:.1} %"),
        Unit::Fraction => format!("{:.1} %", x * 100.0),
        Unit::Count => format!("{x:.0}"),
    }
}

/// Three significant digits without exponent notation.
fn sig3(x: f64) -> String {
    let a = x.abs();
    if a >= 100.0 || a == 0.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// A metric's cell text, `–` when absent.
pub fn cell(summary: &Value, metric: &Metric) -> String {
    value(summary, metric.path).map_or_else(|| "–".to_string(), |x| format(metric.unit, x))
}

/// The predictor's name and the share of predicted time by provenance (measured,
/// interpolated, extrapolated, roofline), largest first.
pub fn predictor_shares(summary: &Value) -> (String, Vec<(String, f64)>) {
    let predictor = &summary["predictor"];
    let name = predictor["name"].as_str().unwrap_or("?").to_string();
    let mut shares: Vec<(String, f64)> = predictor["time_share"]
        .as_object()
        .map(|o| o.iter().filter_map(|(k, v)| v.as_f64().map(|x| (k.clone(), x))).collect())
        .unwrap_or_default();
    shares.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    (name, shares)
}

/// One row of the A/B comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct DiffRow {
    /// The metric.
    pub label: &'static str,
    /// A's value.
    pub a: String,
    /// B's value.
    pub b: String,
    /// B relative to A, e.g. `+12.5 %`, or `–` when not comparable.
    pub change: String,
    /// Whether B is better than A (`None`: equal, neutral or not comparable).
    pub b_better: Option<bool>,
}

/// The A/B comparison of two summaries.
pub fn diff(a: &Value, b: &Value) -> Vec<DiffRow> {
    compared_metrics()
        .iter()
        .map(|metric| {
            let (va, vb) = (value(a, metric.path), value(b, metric.path));
            let (change, b_better) = match (va, vb) {
                (Some(x), Some(y)) if x == y => ("0 %".to_string(), None),
                (Some(x), Some(y)) if x != 0.0 => {
                    let pct = (y - x) / x.abs() * 100.0;
                    let better = match metric.better {
                        Better::Lower => Some(y < x),
                        Better::Higher => Some(y > x),
                        Better::Neither => None,
                    };
                    (format!("{pct:+.1} %"), better)
                }
                _ => ("–".to_string(), None),
            };
            DiffRow { label: metric.label, a: cell(a, metric), b: cell(b, metric), change, b_better }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(ttft_p50: f64, rps: f64) -> Value {
        serde_json::json!({
            "ttft_s": {"p50": ttft_p50, "p90": 0.5, "p99": 1.5},
            "throughput": {"requests_per_s": rps},
            "num_completed": 128,
            "prefix_cache_hit_rate": 0.25,
            "predictor": {"name": "roofline", "time_share": {"roofline": 1.0}},
        })
    }

    #[test]
    fn numbers_are_formatted_in_their_units() {
        assert_eq!(format(Unit::Seconds, 0.1834), "183 ms");
        assert_eq!(format(Unit::Seconds, 0.012345), "12.3 ms");
        assert_eq!(format(Unit::Seconds, 1.523), "1.52 s");
        assert_eq!(format(Unit::Fraction, 0.25), "25.0 %");
        assert_eq!(format(Unit::RequestsPerSecond, 8.0), "8.00 req/s");
        let s = summary(0.2, 8.0);
        assert_eq!(cell(&s, &SCALARS[0]), "8.00 req/s");
        assert_eq!(cell(&s, &SCALARS[6]), "–", "absent keys show a dash");
        assert_eq!(predictor_shares(&s), ("roofline".to_string(), vec![("roofline".to_string(), 1.0)]));
    }

    #[test]
    fn ab_diffs_say_which_side_is_better() {
        let rows = diff(&summary(0.2, 8.0), &summary(0.1, 10.0));
        let ttft = rows.iter().find(|r| r.label == "TTFT p50").unwrap();
        assert_eq!((ttft.change.as_str(), ttft.b_better), ("-50.0 %", Some(true)));
        let tput = rows.iter().find(|r| r.label == "Throughput").unwrap();
        assert_eq!((tput.change.as_str(), tput.b_better), ("+25.0 %", Some(true)));
        let same = rows.iter().find(|r| r.label == "TTFT p90").unwrap();
        assert_eq!((same.change.as_str(), same.b_better), ("0 %", None));
    }
}
