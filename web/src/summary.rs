//! What the summary table and the A/B comparison show, read from `summary.json` by key, so
//! numbers the engine adds later (e.g. new predictor provenances) need no change here; and
//! what the offered and achieved rates say.

use llmsim_protocol::LoadFigures;
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

/// A disaggregated run's per-pool rows (`summary.json`'s `disaggregation.prefill` and
/// `.decode`): `(label, key path under the pool, unit)`.
pub const POOL_ROWS: &[(&str, &[&str], Unit)] = &[
    ("Replicas", &["num_replicas"], Unit::Count),
    ("GPUs", &["num_gpus"], Unit::Count),
    ("KV blocks per replica", &["num_blocks_per_replica"], Unit::Count),
    ("GPU busy, mean", &["busy_percent_mean"], Unit::Percent),
    ("MFU, mean", &["mfu_percent_mean"], Unit::Percent),
    ("KV-cache usage, mean", &["kv_usage_percent_mean"], Unit::Percent),
    ("KV-cache usage, max", &["kv_usage_percent_max"], Unit::Percent),
    ("Queueing p50", &["queueing_s", "p50"], Unit::Seconds),
    ("Queueing p90", &["queueing_s", "p90"], Unit::Seconds),
    ("Queueing p99", &["queueing_s", "p99"], Unit::Seconds),
];

/// The two pools of a disaggregated run side by side: `(label, prefill cell, decode cell)`;
/// empty for an aggregated run.
pub fn pool_table(summary: &Value) -> Vec<(&'static str, String, String)> {
    let Some(pools) = summary.get("disaggregation").filter(|d| d.is_object()) else { return Vec::new() };
    let cell = |pool: &str, path: &[&str], unit: Unit| {
        let value = path.iter().try_fold(&pools[pool], |v, k| v.get(*k)).and_then(Value::as_f64);
        value.map_or_else(|| "–".to_string(), |x| format(unit, x))
    };
    POOL_ROWS
        .iter()
        .map(|(label, path, unit)| (*label, cell("prefill", path, *unit), cell("decode", path, *unit)))
        .collect()
}

/// A disaggregated run's KV transfers: `(label, text)` rows — how many, over which links, the
/// time on the link and the wait before it (p50 / p90 / p99 / max); empty for an aggregated run.
pub fn transfer_rows(summary: &Value) -> Vec<(&'static str, String)> {
    let Some(d) = summary.get("disaggregation").filter(|d| d.is_object()) else { return Vec::new() };
    let count = |key: &str| d.get(key).and_then(Value::as_f64);
    let transfers = count("num_kv_transfers").unwrap_or(0.0);
    let nvlink = count("num_kv_transfers_nvlink").unwrap_or(0.0);
    let spread = |key: &str| {
        let at = |p: &str| d.get(key).and_then(|s| s.get(p)).and_then(Value::as_f64);
        ["p50", "p90", "p99", "max"]
            .iter()
            .map(|p| at(p).map_or_else(|| format!("{p} –"), |x| format!("{p} {}", format(Unit::Seconds, x))))
            .collect::<Vec<_>>()
            .join(" · ")
    };
    vec![
        (
            "KV transfers",
            format!(
                "{} ({} over NVLink, {} over RDMA)",
                format(Unit::Count, transfers),
                format(Unit::Count, nvlink),
                format(Unit::Count, (transfers - nvlink).max(0.0))
            ),
        ),
        ("Transfer time on the link", spread("kv_transfer_s")),
        ("Wait before the transfer", spread("kv_transfer_wait_s")),
    ]
}

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

/// A number in its unit, e.g. `183 ms`, `1.52 s`, `8.00 req/s`, `36,642 tok/s`, `12.5 %`.
pub fn format(unit: Unit, x: f64) -> String {
    match unit {
        Unit::Seconds if x.abs() < 1.0 => format!("{} ms", sig3(x * 1e3)),
        Unit::Seconds if x.abs() >= 1000.0 => format!("{} s", group_thousands(&format!("{x:.0}"))),
        Unit::Seconds => format!("{} s", sig3(x)),
        Unit::RequestsPerSecond => format!("{} req/s", group_thousands(&format!("{x:.2}"))),
        Unit::TokensPerSecond => format!("{} tok/s", group_thousands(&format!("{x:.0}"))),
        Unit::Percent => format!("{x:.1} %"),
        Unit::Fraction => format!("{:.1} %", x * 100.0),
        Unit::Count => group_thousands(&format!("{x:.0}")),
    }
}

/// A formatted number with its whole part in groups of three digits: `36642.5` →
/// `36,642.5`.
pub fn group_thousands(number: &str) -> String {
    let (sign, rest) = number.strip_prefix('-').map_or(("", number), |r| ("-", r));
    let (whole, fraction) = rest.split_once('.').map_or((rest, None), |(w, f)| (w, Some(f)));
    if !whole.bytes().all(|b| b.is_ascii_digit()) {
        return number.to_string();
    }
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match fraction {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// Three significant digits without exponent notation.
pub fn sig3(x: f64) -> String {
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
    crate::sort::sort_by(&mut shares, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    (name, shares)
}

/// What the engine's overload verdict (`summary.json`'s `overload` section, the rule of
/// `metrics/overload.rs`: the queue of requests waiting for their first schedule grew with the
/// arrivals) says, in words, with its evidence, and whether the cluster falls behind; `None`
/// when the summary has no verdict (a run kept from an older page). The page judges by no other
/// rule: the offered and achieved rates beside it only show the size of the gap.
pub fn load_sentence(load: &LoadFigures, summary: &Value) -> Option<(String, bool)> {
    if load.closed_loop {
        return Some((
            "A closed loop: each client sends its next request when the previous one completes, so requests arrive as fast as the cluster serves them.".to_string(),
            false,
        ));
    }
    let verdict = summary.get("overload")?;
    if !verdict.get("overloaded").and_then(Value::as_bool)? {
        return Some(("The cluster kept up: its queue did not grow with the arrivals.".to_string(), false));
    }
    let number = |key: &str| verdict.get(key).and_then(Value::as_f64);
    let rate = |key: &str| number(key).map_or("–".to_string(), |x| format(Unit::RequestsPerSecond, x));
    let when = number("detected_at_s")
        .map_or("Requests".to_string(), |t| format!("From {} on requests", format(Unit::Seconds, t)));
    let growth = number("queue_growth_per_s").map_or(String::new(), |g| {
        format!(", and the queue grew by {} requests a second", group_thousands(&format!("{g:.1}")))
    });
    Some((
        format!(
            "Overloaded: the offered load is more than the cluster serves. {when} arrived at {} but were started at {}{growth}, so they queue for as long as they keep arriving (see the queue chart).",
            rate("offered_per_s"),
            rate("admitted_per_s"),
        ),
        true,
    ))
}

/// The A/B rows of the offered and achieved rates.
pub fn load_diff(a: &LoadFigures, b: &LoadFigures) -> Vec<DiffRow> {
    let row = |label: &'static str, x: Option<f64>, y: Option<f64>, better: Better| {
        let cell = |v: Option<f64>| v.map_or("–".to_string(), |v| format(Unit::RequestsPerSecond, v));
        let (change, b_better) = change(x, y, better);
        DiffRow { label, a: cell(x), b: cell(y), change, b_better }
    };
    vec![
        row("Offered rate", a.offered_rps, b.offered_rps, Better::Neither),
        row("Achieved rate", a.achieved_rps, b.achieved_rps, Better::Higher),
    ]
}

/// B relative to A, and whether B is better.
fn change(a: Option<f64>, b: Option<f64>, better: Better) -> (String, Option<bool>) {
    match (a, b) {
        (Some(x), Some(y)) if x == y => ("0 %".to_string(), None),
        (Some(x), Some(y)) if x != 0.0 => {
            let pct = (y - x) / x.abs() * 100.0;
            let b_better = match better {
                Better::Lower => Some(y < x),
                Better::Higher => Some(y > x),
                Better::Neither => None,
            };
            (format!("{pct:+.1} %"), b_better)
        }
        _ => ("–".to_string(), None),
    }
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
            let (change, b_better) = change(value(a, metric.path), value(b, metric.path), metric.better);
            DiffRow { label: metric.label, a: cell(a, metric), b: cell(b, metric), change, b_better }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
    fn a_disaggregated_summary_shows_both_pools_and_the_transfers() {
        let pool = |replicas: u64, busy: f64, queue_p50: f64| {
            json!({
                "num_replicas": replicas, "num_gpus": replicas * 2, "num_blocks_per_replica": 1000,
                "busy_percent_mean": busy, "mfu_percent_mean": 12.5, "kv_usage_percent_mean": 40.0,
                "kv_usage_percent_max": 90.0,
                "queueing_s": {"count": 3, "mean": 0.1, "p50": queue_p50, "p90": 0.2, "p95": 0.2, "p99": 0.3, "max": 0.3, "min": 0.0}
            })
        };
        let stats = json!({"count": 4, "mean": 0.002, "p50": 0.0015, "p90": 0.003, "p95": 0.003, "p99": 0.004, "max": 0.0045, "min": 0.001});
        let summary = json!({"disaggregation": {
            "prefill": pool(1, 80.0, 0.05), "decode": pool(3, 30.0, 0.0),
            "num_kv_transfers": 4, "num_kv_transfers_nvlink": 3, "kv_transfer_s": stats, "kv_transfer_wait_s": stats
        }});
        let table = pool_table(&summary);
        assert_eq!(table[0], ("Replicas", "1".to_string(), "3".to_string()));
        assert_eq!(table[1], ("GPUs", "2".to_string(), "6".to_string()));
        assert_eq!(table[3], ("GPU busy, mean", "80.0 %".to_string(), "30.0 %".to_string()));
        assert_eq!(table[7], ("Queueing p50", "50.0 ms".to_string(), "0 ms".to_string()));
        let transfers = transfer_rows(&summary);
        assert_eq!(transfers[0].1, "4 (3 over NVLink, 1 over RDMA)");
        assert_eq!(transfers[1].1, "p50 1.50 ms · p90 3.00 ms · p99 4.00 ms · max 4.50 ms");
        // An aggregated run has neither.
        assert!(pool_table(&json!({"ttft_s": {}})).is_empty());
        assert!(transfer_rows(&json!({"ttft_s": {}})).is_empty());
    }

    #[test]
    fn numbers_are_formatted_in_their_units() {
        assert_eq!(format(Unit::Seconds, 0.1834), "183 ms");
        assert_eq!(format(Unit::Seconds, 0.012345), "12.3 ms");
        assert_eq!(format(Unit::Seconds, 1.523), "1.52 s");
        assert_eq!(format(Unit::Fraction, 0.25), "25.0 %");
        assert_eq!(format(Unit::RequestsPerSecond, 8.0), "8.00 req/s");
        assert_eq!(format(Unit::TokensPerSecond, 36_642.4), "36,642 tok/s");
        assert_eq!(format(Unit::Count, 1_234_567.0), "1,234,567");
        assert_eq!(format(Unit::Seconds, 12_345.0), "12,345 s");
        assert_eq!(group_thousands("-1234.50"), "-1,234.50");
        assert_eq!(group_thousands("999"), "999");
        assert_eq!(group_thousands("NaN"), "NaN");
        let s = summary(0.2, 8.0);
        assert_eq!(cell(&s, &SCALARS[0]), "8.00 req/s");
        assert_eq!(cell(&s, &SCALARS[6]), "–", "absent keys show a dash");
        assert_eq!(predictor_shares(&s), ("roofline".to_string(), vec![("roofline".to_string(), 1.0)]));
    }

    #[test]
    fn the_engines_overload_verdict_is_said_with_its_evidence() {
        let load = |offered, achieved| LoadFigures {
            arrivals: 400,
            offered_rps: Some(offered),
            achieved_rps: Some(achieved),
            ..LoadFigures::default()
        };
        let overloaded = serde_json::json!({"overload": {
            "overloaded": true, "detected_at_s": 12.5, "offered_per_s": 20.0, "admitted_per_s": 8.5,
            "queue_growth_per_s": 11.5,
        }});
        let (text, said) = load_sentence(&load(20.0, 8.5), &overloaded).unwrap();
        assert!(said, "{text}");
        assert_eq!(
            text,
            "Overloaded: the offered load is more than the cluster serves. From 12.5 s on requests arrived at 20.00 req/s but were started at 8.50 req/s, and the queue grew by 11.5 requests a second, so they queue for as long as they keep arriving (see the queue chart)."
        );
        // The engine's verdict decides, whatever the rates: one definition of overload.
        let kept_up = serde_json::json!({"overload": {"overloaded": false}});
        assert_eq!(load_sentence(&load(20.0, 8.5), &kept_up).map(|s| s.1), Some(false));
        assert_eq!(load_sentence(&load(8.0, 7.9), &overloaded).map(|s| s.1), Some(true));
        assert_eq!(load_sentence(&load(20.0, 8.5), &Value::Null), None, "no verdict, no words");
        let closed = LoadFigures { closed_loop: true, ..load(8.0, 1.0) };
        assert!(load_sentence(&closed, &Value::Null).unwrap().0.starts_with("A closed loop"));
        let rows = load_diff(&load(20.0, 8.0), &load(20.0, 16.0));
        assert_eq!((rows[1].change.as_str(), rows[1].b_better), ("+100.0 %", Some(true)));
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
