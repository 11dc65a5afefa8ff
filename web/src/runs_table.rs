//! The runs table: its columns (what each shows of a run, how it reads, whether a phone has
//! room for it), sorting by any column, and its export as CSV.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::page::RunRecord;
use crate::summary::{self, Unit};

/// What a column shows of a run.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// A number in a unit (`None`: the run has none, e.g. no request completed).
    Number(Option<f64>, Unit),
    /// A text.
    Text(String),
}

impl Cell {
    /// The cell as the table shows it.
    pub fn shown(&self) -> String {
        match self {
            Cell::Number(Some(x), unit) => summary::format(*unit, *x),
            Cell::Number(None, _) => "–".to_string(),
            Cell::Text(t) => t.clone(),
        }
    }

    /// The cell as CSV holds it: numbers in their base unit (seconds, req/s), unformatted.
    fn csv(&self) -> String {
        match self {
            Cell::Number(Some(x), _) => x.to_string(),
            Cell::Number(None, _) => String::new(),
            Cell::Text(t) if t.contains([',', '"', '\n']) => format!("\"{}\"", t.replace('"', "\"\"")),
            Cell::Text(t) => t.clone(),
        }
    }

    fn order(&self, other: &Cell) -> Ordering {
        match (self, other) {
            // Runs without the value sort after those with it.
            (Cell::Number(a, _), Cell::Number(b, _)) => match (a, b) {
                (Some(a), Some(b)) => a.total_cmp(b),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            },
            (Cell::Text(a), Cell::Text(b)) => a.cmp(b),
            (Cell::Number(..), Cell::Text(_)) => Ordering::Less,
            (Cell::Text(_), Cell::Number(..)) => Ordering::Greater,
        }
    }
}

/// A column of the runs table.
#[derive(Clone, Copy)]
pub struct Column {
    /// Its heading (and CSV header, with the unit).
    pub title: &'static str,
    /// The CSV header's unit, if any.
    pub csv_unit: &'static str,
    /// Whether a phone leaves it out (the table fits 390 px without it).
    pub wide: bool,
    /// What it shows of a run.
    pub value: fn(&RunRecord) -> Cell,
}

fn latency(run: &RunRecord, key: &str, p: &str) -> Cell {
    Cell::Number(summary::value(&run.summary, &[key, p]), Unit::Seconds)
}

/// The columns, in table order.
pub const COLUMNS: &[Column] = &[
    Column {
        title: "Run",
        csv_unit: "",
        wide: false,
        value: |r| Cell::Number(Some(f64::from(r.id)), Unit::Count),
    },
    Column { title: "Scenario", csv_unit: "", wide: false, value: |r| Cell::Text(r.label.clone()) },
    Column { title: "TTFT p50", csv_unit: "s", wide: false, value: |r| latency(r, "ttft_s", "p50") },
    Column { title: "TTFT p90", csv_unit: "s", wide: true, value: |r| latency(r, "ttft_s", "p90") },
    Column { title: "TPOT p50", csv_unit: "s", wide: true, value: |r| latency(r, "tpot_s", "p50") },
    Column { title: "E2E p50", csv_unit: "s", wide: false, value: |r| latency(r, "e2e_s", "p50") },
    Column { title: "E2E p90", csv_unit: "s", wide: true, value: |r| latency(r, "e2e_s", "p90") },
    Column {
        title: "Offered",
        csv_unit: "req/s",
        wide: true,
        value: |r| Cell::Number(r.result.load.offered_rps, Unit::RequestsPerSecond),
    },
    Column {
        title: "Achieved",
        csv_unit: "req/s",
        wide: true,
        value: |r| Cell::Number(r.result.load.achieved_rps, Unit::RequestsPerSecond),
    },
    Column {
        title: "Output tokens",
        csv_unit: "tok/s",
        wide: true,
        value: |r| {
            Cell::Number(
                summary::value(&r.summary, &["throughput", "output_tokens_per_s"]),
                Unit::TokensPerSecond,
            )
        },
    },
    Column {
        title: "GPUs",
        csv_unit: "",
        wide: true,
        value: |r| Cell::Number(Some(r.gpus as f64), Unit::Count),
    },
    Column { title: "Load", csv_unit: "", wide: true, value: load_verdict },
    Column { title: "SLO", csv_unit: "", wide: true, value: slo_verdict },
];

/// The engine's overload verdict (`summary.json`'s `overload.overloaded`).
fn load_verdict(run: &RunRecord) -> Cell {
    let verdict = run.summary.pointer("/overload/overloaded").and_then(serde_json::Value::as_bool);
    Cell::Text(verdict.map_or("–", |o| if o { "overloaded" } else { "kept up" }).to_string())
}

/// Whether the run met its latency objectives (`summary.json`'s `slo.met`); a dash when it
/// set none.
fn slo_verdict(run: &RunRecord) -> Cell {
    let met = run.summary.pointer("/slo/met").and_then(serde_json::Value::as_bool);
    Cell::Text(met.map_or("–", |m| if m { "met" } else { "missed" }).to_string())
}

/// How the table is sorted: by column `column` (an index of [`COLUMNS`]), ascending or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort {
    /// The column.
    pub column: usize,
    /// Smallest first.
    pub ascending: bool,
}

impl Default for Sort {
    /// Oldest run first.
    fn default() -> Sort {
        Sort { column: 0, ascending: true }
    }
}

impl Sort {
    /// The sort after a click on column `column`'s heading: the other way round if it sorts by
    /// it already, else by it, ascending.
    pub fn clicked(self, column: usize) -> Sort {
        if self.column == column {
            Sort { column, ascending: !self.ascending }
        } else {
            Sort { column, ascending: true }
        }
    }
}

/// The runs in the order `sort` says (ties by run number).
pub fn sorted(records: &[Arc<RunRecord>], sort: Sort) -> Vec<Arc<RunRecord>> {
    let value = COLUMNS.get(sort.column).map_or(COLUMNS[0].value, |c| c.value);
    let mut rows: Vec<(Cell, Arc<RunRecord>)> = records.iter().map(|r| (value(r), r.clone())).collect();
    crate::sort::sort_by(&mut rows, |(a, ra), (b, rb)| {
        let order = a.order(b).then(ra.id.cmp(&rb.id));
        if sort.ascending { order } else { order.reverse() }
    });
    rows.into_iter().map(|(_, r)| r).collect()
}

/// The table as CSV: a header of the column titles (with units), then a row per run.
pub fn to_csv(records: &[Arc<RunRecord>]) -> String {
    let header: Vec<String> = COLUMNS
        .iter()
        .map(|c| {
            if c.csv_unit.is_empty() { c.title.to_string() } else { format!("{} ({})", c.title, c.csv_unit) }
        })
        .collect();
    let mut out = header.join(",") + "\n";
    for r in records {
        let row: Vec<String> = COLUMNS.iter().map(|c| (c.value)(r).csv()).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use llmsim_protocol::{ChartData, LoadFigures, RunResult};

    use super::*;

    fn record(id: u32, ttft_p90: Option<f64>, label: &str) -> Arc<RunRecord> {
        let ttft = ttft_p90.map_or("null".to_string(), |x| format!("{{\"p50\": {x}, \"p90\": {x}}}"));
        let result = RunResult {
            summary_json: format!(
                "{{\"ttft_s\": {ttft}, \"throughput\": {{\"output_tokens_per_s\": 12345.6}}, \"overload\": {{\"overloaded\": {}}}, \"slo\": {}}}",
                id == 2,
                if id == 1 { "{\"met\": true}" } else { "null" },
            ),
            config_json: String::new(),
            load: LoadFigures { offered_rps: Some(8.0), achieved_rps: Some(7.9), ..LoadFigures::default() },
            charts: ChartData::default(),
            warnings: Vec::new(),
            elapsed_ms: 1.0,
        };
        Arc::new(RunRecord::new(
            id,
            label.into(),
            result,
            "cluster_config_num_replicas=2&replica_config_tensor_parallel_size=4".into(),
            1.0,
        ))
    }

    fn column(title: &str) -> usize {
        COLUMNS.iter().position(|c| c.title == title).unwrap()
    }

    #[test]
    fn runs_sort_by_any_column_both_ways_with_missing_values_last() {
        let runs = [record(1, Some(0.5), "b"), record(2, None, "c"), record(3, Some(0.2), "a")];
        let ids = |sort| sorted(&runs, sort).iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(ids(Sort::default()), [1, 2, 3]);
        let by_ttft = Sort::default().clicked(column("TTFT p90"));
        assert_eq!(ids(by_ttft), [3, 1, 2]);
        assert_eq!(ids(by_ttft.clicked(column("TTFT p90"))), [2, 1, 3]);
        assert_eq!(ids(Sort { column: column("Scenario"), ascending: true }), [3, 1, 2]);
    }

    #[test]
    fn the_table_exports_as_csv_with_units_in_the_header() {
        let runs = [record(1, Some(0.25), "quick, start"), record(2, None, "x")];
        let csv = to_csv(&runs);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("Run,Scenario,TTFT p50 (s),TTFT p90 (s),TPOT p50 (s)"), "{}", lines[0]);
        assert!(
            lines[0].ends_with("Offered (req/s),Achieved (req/s),Output tokens (tok/s),GPUs,Load,SLO"),
            "{}",
            lines[0]
        );
        assert_eq!(lines[1], "1,\"quick, start\",0.25,0.25,,,,8,7.9,12345.6,8,kept up,met");
        assert!(lines[2].ends_with(",overloaded,–"), "no objectives: a dash; {}", lines[2]);
        assert_eq!((COLUMNS[column("GPUs")].value)(&runs[0]).shown(), "8", "2 replicas × TP4");
        assert_eq!((COLUMNS[column("Output tokens")].value)(&runs[0]).shown(), "12,346 tok/s");
        assert_eq!((COLUMNS[column("TTFT p90")].value)(&runs[1]).shown(), "–");
    }
}
