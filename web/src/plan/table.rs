//! The results table: one row per finished configuration, its cells as text and as sort keys.

use llmsim_engine::search::{ConfigurationResult, SearchGoal, SearchPlan, Verdict};
use llmsim_engine::slo::SloMetric;

/// A column of the table after the configuration's own values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    /// A space value (index into the spec's columns).
    Value(usize),
    /// Feasible / infeasible / skipped.
    Feasible,
    /// The chosen rate (max QPS, or the QPS served).
    Qps,
    /// The replica count.
    Replicas,
    /// GPUs.
    Gpus,
    /// $ per hour.
    UsdPerHour,
    /// $ per million output tokens.
    UsdPerMillion,
    /// TTFT p90, s.
    TtftP90,
    /// TPOT p90, s.
    TpotP90,
    /// TBT p90, s.
    TbtP90,
    /// TBT p99, s.
    TbtP99,
    /// E2E p90, s.
    E2eP90,
    /// An objective's observed quantile (index into the spec's objectives), when no column
    /// above shows it already.
    Objective(usize),
    /// Share of requests meeting the objectives.
    Attainment,
    /// Simulations run.
    Runs,
    /// Why infeasible or skipped; notes.
    Reason,
}

/// The fixed columns after the space's; the objectives' own columns ([`Column::Objective`])
/// and the attainment go before [`Column::Runs`].
pub const FIXED: [Column; 13] = [
    Column::Feasible,
    Column::Qps,
    Column::Replicas,
    Column::Gpus,
    Column::UsdPerHour,
    Column::UsdPerMillion,
    Column::TtftP90,
    Column::TbtP90,
    Column::TbtP99,
    Column::TpotP90,
    Column::E2eP90,
    Column::Runs,
    Column::Reason,
];

/// The fixed column showing `metric`'s quantile `q`, if one does.
fn fixed_column_of(metric: SloMetric, q: f64) -> Option<Column> {
    let close = |x: f64| (q - x).abs() < 1e-9;
    match metric {
        SloMetric::Ttft if close(0.9) => Some(Column::TtftP90),
        SloMetric::Tbt if close(0.9) => Some(Column::TbtP90),
        SloMetric::Tbt if close(0.99) => Some(Column::TbtP99),
        SloMetric::Tpot if close(0.9) => Some(Column::TpotP90),
        SloMetric::E2e if close(0.9) => Some(Column::E2eP90),
        _ => None,
    }
}

/// A quantile as a percentile label: `0.9` → `p90`, `0.995` → `p99.5`.
pub fn percentile_label(q: f64) -> String {
    let p = (q * 1000.0).round() / 10.0;
    if p.fract() == 0.0 { format!("p{p:.0}") } else { format!("p{p}") }
}

/// One cell: its text and sort key (numbers sort numerically, missing ones last).
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// Shown.
    pub text: String,
    /// Sorted by.
    pub key: Option<f64>,
}

/// One row.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The configuration's index.
    pub configuration: u32,
    /// Whether it meets the objectives.
    pub feasible: bool,
    /// The best configuration of the search.
    pub best: bool,
    /// The chosen rate and replica count (to open it as a run).
    pub chosen: Option<(f64, Option<u32>)>,
    /// Cells, one per column of [`columns`].
    pub cells: Vec<Cell>,
}

/// The table's columns for a plan: the space's values, then [`FIXED`] with a column for each
/// objective whose quantile no fixed column shows, and the attainment when there are objectives.
pub fn columns(plan: &SearchPlan) -> Vec<Column> {
    let spec = plan.spec();
    let mut columns: Vec<Column> = (0..spec.columns().len()).map(Column::Value).collect();
    for column in FIXED {
        if column == Column::Runs {
            columns.extend(
                spec.slos
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| fixed_column_of(t.metric, t.quantile).is_none())
                    .map(|(i, _)| Column::Objective(i)),
            );
            if !spec.slos.is_empty() {
                columns.push(Column::Attainment);
            }
        }
        columns.push(column);
    }
    columns
}

/// The bound of the objective a column shows the observed quantile of, if any.
fn bound_of(plan: &SearchPlan, column: Column) -> Option<f64> {
    plan.spec().slos.iter().enumerate().find_map(|(i, t)| {
        let shows =
            fixed_column_of(t.metric, t.quantile).map_or(column == Column::Objective(i), |c| c == column);
        shows.then_some(t.max_s)
    })
}

/// A column's header.
pub fn header(plan: &SearchPlan, column: Column) -> String {
    match column {
        Column::Value(i) => short_flag(plan.spec().columns().get(i).copied().unwrap_or("")),
        Column::Feasible => "feasible".into(),
        Column::Qps => match plan.spec().goal {
            SearchGoal::MaxQps => "max QPS".into(),
            _ => "QPS".into(),
        },
        Column::Replicas => "replicas".into(),
        Column::Gpus => "GPUs".into(),
        Column::UsdPerHour => "$/hour".into(),
        Column::UsdPerMillion => "$/M output tokens".into(),
        Column::TtftP90 => with_bound(plan, column, "TTFT p90 (s)"),
        Column::TbtP90 => with_bound(plan, column, "TBT p90 (s)"),
        Column::TbtP99 => with_bound(plan, column, "TBT p99 (s)"),
        Column::TpotP90 => with_bound(plan, column, "TPOT p90 (s)"),
        Column::E2eP90 => with_bound(plan, column, "E2E p90 (s)"),
        Column::Objective(i) => match plan.spec().slos.get(i) {
            Some(t) => with_bound(
                plan,
                column,
                &format!("{} {} (s)", t.metric.label(), percentile_label(t.quantile)),
            ),
            None => String::new(),
        },
        Column::Attainment => "SLO attainment".into(),
        Column::Runs => "runs".into(),
        Column::Reason => "reason / note".into(),
    }
}

/// A latency header with the objective's bound on it, when one bounds it: `TTFT p90 (s) ≤ 1`.
fn with_bound(plan: &SearchPlan, column: Column, name: &str) -> String {
    match bound_of(plan, column) {
        Some(max_s) => format!("{name} ≤ {max_s}"),
        None => name.to_string(),
    }
}

/// A flag's short name for a header (`replica_config_tensor_parallel_size` → `TP`).
pub fn short_flag(flag: &str) -> String {
    match flag {
        "replica_config_device" => "device".into(),
        "replica_config_network_device" => "node".into(),
        "replica_config_tensor_parallel_size" => "TP".into(),
        "replica_config_num_pipeline_stages" => "PP".into(),
        "cluster_config_num_replicas" => "replicas (space)".into(),
        "replica_scheduler_config_type" => "scheduler".into(),
        f if f.ends_with("_scheduler_config_chunk_size") => "chunk".into(),
        f => f.to_string(),
    }
}

fn number(x: Option<f64>, digits: usize) -> Cell {
    Cell { text: x.map_or_else(String::new, |x| format!("{x:.digits$}")), key: x.filter(|x| x.is_finite()) }
}

fn text(t: impl Into<String>) -> Cell {
    Cell { text: t.into(), key: None }
}

/// The rows of the finished configurations, in configuration order.
pub fn rows(plan: &SearchPlan) -> Vec<Row> {
    let best = plan.best().map(|r| r.configuration);
    let columns = columns(plan);
    plan.results().into_iter().map(|r| row(plan, &columns, r, best == Some(r.configuration))).collect()
}

fn row(plan: &SearchPlan, columns: &[Column], r: &ConfigurationResult, best: bool) -> Row {
    let spec = plan.spec();
    let c = r.configuration as usize;
    let chosen = r.chosen.as_ref().filter(|_| r.feasible());
    let o = chosen.map(|p| &p.outcome);
    // A disaggregated configuration's replicas are its pools': `prefill+decode`, sorted by
    // their total.
    let replicas = chosen.map(|p| match spec.pool_sizes(c, p.num_replicas) {
        (prefill, Some(decode)) => {
            Cell { text: format!("{prefill}+{decode}"), key: Some(f64::from(prefill) + f64::from(decode)) }
        }
        (n, None) => number(Some(f64::from(n)), 0),
    });
    let qps = match spec.goal {
        SearchGoal::MaxQps => chosen.map(|p| p.qps),
        _ => chosen.map(|_| spec.qps),
    };
    let mut cells: Vec<Cell> = spec
        .column_values(c)
        .into_iter()
        .map(|v| {
            let key = v.parse::<f64>().ok();
            Cell { text: v.to_string(), key }
        })
        .collect();
    let (feasible, reason) = match &r.verdict {
        Verdict::Feasible => ("yes", r.note.clone().unwrap_or_default()),
        Verdict::Infeasible(why) => ("no", why.clone()),
        Verdict::Skipped(why) => ("skipped", why.clone()),
    };
    let feasible_key = Some(if r.feasible() { 1.0 } else { 0.0 });
    for column in &columns[spec.columns().len()..] {
        cells.push(match *column {
            Column::Value(_) => text(""),
            Column::Feasible => Cell { text: feasible.into(), key: feasible_key },
            Column::Qps => number(qps, 2),
            Column::Replicas => replicas.clone().unwrap_or_else(|| number(None, 0)),
            Column::Gpus => number(o.map(|o| o.num_gpus as f64), 0),
            Column::UsdPerHour => number(o.and_then(|o| o.usd_per_hour), 2),
            Column::UsdPerMillion => number(o.and_then(|o| o.usd_per_million_output_tokens), 3),
            Column::TtftP90 => number(o.and_then(|o| o.ttft_p90_s), 3),
            Column::TbtP90 => number(o.and_then(|o| o.tbt_p90_s), 4),
            Column::TbtP99 => number(o.and_then(|o| o.tbt_p99_s), 4),
            Column::TpotP90 => number(o.and_then(|o| o.tpot_p90_s), 4),
            Column::E2eP90 => number(o.and_then(|o| o.e2e_p90_s), 3),
            Column::Objective(i) => number(o.and_then(|o| o.slo_observed_s.get(i).copied().flatten()), 4),
            Column::Attainment => number(o.and_then(|o| o.attainment), 3),
            Column::Runs => number(Some(r.points.len() as f64), 0),
            Column::Reason => text(reason.clone()),
        });
    }
    Row {
        configuration: r.configuration,
        feasible: r.feasible(),
        best,
        chosen: chosen
            .map(|p| (if spec.goal == SearchGoal::MaxQps { p.qps } else { spec.qps }, p.num_replicas)),
        cells,
    }
}

/// Sorts rows by column `index` (numbers numerically, missing last; text otherwise); ties keep
/// configuration order, so the order is the same however results arrived.
pub fn sort(rows: &mut [Row], index: usize, descending: bool) {
    crate::sort::sort_by(rows, |a, b| {
        let (x, y) = (a.cells.get(index), b.cells.get(index));
        let order = match (x.and_then(|c| c.key), y.and_then(|c| c.key)) {
            (Some(x), Some(y)) => {
                let o = x.total_cmp(&y);
                if descending { o.reverse() } else { o }
            }
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => {
                let o = x.map(|c| c.text.as_str()).cmp(&y.map(|c| c.text.as_str()));
                if descending { o.reverse() } else { o }
            }
        };
        order.then(a.configuration.cmp(&b.configuration))
    });
}

/// The flags of a row's configuration as a normal run at its chosen point: the search's point
/// without the outputs it turns off (a run in the page keeps its files and charts).
pub fn run_pairs(
    plan: &SearchPlan,
    configuration: u32,
    qps: f64,
    replicas: Option<u32>,
) -> Vec<(String, String)> {
    let spec = plan.spec();
    spec.point_flags(configuration as usize, qps, replicas)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("metrics_config_") || spec.base.is_set(k))
        .collect()
}
