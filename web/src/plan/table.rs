//! The results table: one row per finished configuration, its cells as text and as sort keys.

use llmsim_engine::search::{ConfigurationResult, SearchGoal, SearchPlan, Verdict};

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
    /// TBT p99, s.
    TbtP99,
    /// Simulations run.
    Runs,
    /// Why infeasible or skipped; notes.
    Reason,
}

/// The fixed columns, after the space's.
pub const FIXED: [Column; 11] = [
    Column::Feasible,
    Column::Qps,
    Column::Replicas,
    Column::Gpus,
    Column::UsdPerHour,
    Column::UsdPerMillion,
    Column::TtftP90,
    Column::TpotP90,
    Column::TbtP99,
    Column::Runs,
    Column::Reason,
];

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

/// The table's columns for a plan: the space's values, then [`FIXED`].
pub fn columns(plan: &SearchPlan) -> Vec<Column> {
    (0..plan.spec().columns().len()).map(Column::Value).chain(FIXED).collect()
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
        Column::TtftP90 => "TTFT p90 (s)".into(),
        Column::TpotP90 => "TPOT p90 (s)".into(),
        Column::TbtP99 => "TBT p99 (s)".into(),
        Column::Runs => "runs".into(),
        Column::Reason => "reason / note".into(),
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
    plan.results().into_iter().map(|r| row(plan, r, best == Some(r.configuration))).collect()
}

fn row(plan: &SearchPlan, r: &ConfigurationResult, best: bool) -> Row {
    let spec = plan.spec();
    let c = r.configuration as usize;
    let chosen = r.chosen.as_ref().filter(|_| r.feasible());
    let o = chosen.map(|p| &p.outcome);
    let replicas = chosen.and_then(|p| p.num_replicas).map(u64::from).or_else(|| {
        let set = spec.configuration(c);
        let text = set
            .iter()
            .find(|(f, _)| *f == "cluster_config_num_replicas")
            .map(|(_, v)| v.to_string())
            .unwrap_or_else(|| spec.base.get("cluster_config_num_replicas").to_text());
        text.parse().ok()
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
    cells.push(Cell { text: feasible.into(), key: Some(if r.feasible() { 1.0 } else { 0.0 }) });
    cells.push(number(qps, 2));
    cells.push(number(replicas.filter(|_| chosen.is_some()).map(|n| n as f64), 0));
    cells.push(number(o.map(|o| o.num_gpus as f64), 0));
    cells.push(number(o.and_then(|o| o.usd_per_hour), 2));
    cells.push(number(o.and_then(|o| o.usd_per_million_output_tokens), 3));
    cells.push(number(o.and_then(|o| o.ttft_p90_s), 3));
    cells.push(number(o.and_then(|o| o.tpot_p90_s), 4));
    cells.push(number(o.and_then(|o| o.tbt_p99_s), 4));
    cells.push(number(Some(r.points.len() as f64), 0));
    cells.push(text(reason));
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
    rows.sort_by(|a, b| {
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
