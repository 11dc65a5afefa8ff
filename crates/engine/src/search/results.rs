//! The search's files, rendered from the plan: `search.csv` (one row per configuration),
//! `pareto.csv` (cost efficiency against each latency objective) and `points.csv` (every
//! simulation, with the outcome as JSON so a later search can reuse it).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::job::{Job, JobId, JobOutcome, RunOutcome};
use super::plan::{ConfigurationResult, SearchPlan, Verdict};
use super::spec::{SearchGoal, SearchSpec};

fn num(x: f64) -> String {
    format!("{x}")
}

fn opt(x: Option<f64>) -> String {
    x.map_or_else(String::new, num)
}

fn flag(b: Option<bool>) -> String {
    b.map_or_else(String::new, |b| b.to_string())
}

/// A CSV field, quoted when it must be.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The column names of the objectives (`slo_ttft_p90_s`), in the spec's order.
fn slo_columns(spec: &SearchSpec) -> Vec<String> {
    spec.slos.iter().map(|t| format!("slo_{}_p{}_s", t.metric.name(), num(t.quantile * 100.0))).collect()
}

/// US dollars per hour ÷ requests per second served, inverted: requests per second per dollar
/// per hour (Vidur's capacity per dollar).
fn qps_per_dollar(qps: f64, o: &RunOutcome) -> Option<f64> {
    o.usd_per_hour.filter(|usd| *usd > 0.0).map(|usd| qps / usd)
}

/// `search.csv`: one row per finished configuration, in configuration order.
pub fn search_csv(plan: &SearchPlan) -> String {
    let spec = plan.spec();
    let best = plan.best().map(|r| r.configuration);
    let mut out = String::from("configuration");
    for flag in spec.columns() {
        out.push(',');
        out.push_str(flag);
    }
    out.push_str(match spec.goal {
        SearchGoal::MaxQps => ",feasible,max_qps,replicas",
        _ => ",feasible,qps,replicas",
    });
    out.push_str(",gpus,cost_per_hour,qps_per_dollar,usd_per_million_output_tokens");
    for c in slo_columns(spec) {
        out.push(',');
        out.push_str(&c);
    }
    out.push_str(
        ",slo_attainment,goodput_rps,ttft_p90_s,tpot_p90_s,e2e_p90_s,runs,best,note,skipped_reason\n",
    );
    for r in plan.results() {
        let c = r.configuration as usize;
        let _ = write!(out, "{c}");
        for value in spec.column_values(c) {
            let _ = write!(out, ",{}", field(value));
        }
        let chosen = r.chosen.as_ref();
        let o = chosen.map(|p| &p.outcome);
        // A disaggregated configuration's replicas are its pools', `prefill+decode`.
        let replicas = match spec.pool_sizes(c, chosen.and_then(|p| p.num_replicas)) {
            (prefill, Some(decode)) => format!("{prefill}+{decode}"),
            (replicas, None) => replicas.to_string(),
        };
        let qps = match spec.goal {
            SearchGoal::MaxQps => chosen.map(|p| p.qps),
            _ => Some(spec.qps),
        };
        let skipped = matches!(r.verdict, Verdict::Skipped(_));
        // A replica search that found no count has none to show (not its first unit's).
        let no_count = skipped || (spec.searches_replicas && !r.feasible());
        let _ = write!(
            out,
            ",{},{},{}",
            if skipped { String::new() } else { r.feasible().to_string() },
            opt(qps.filter(|_| r.feasible())),
            if no_count { String::new() } else { replicas }
        );
        let _ = write!(
            out,
            ",{},{},{},{}",
            o.map_or_else(String::new, |o| o.num_gpus.to_string()),
            opt(o.and_then(|o| o.usd_per_hour)),
            opt(o.zip(qps).and_then(|(o, q)| qps_per_dollar(q, o))),
            opt(o.and_then(|o| o.usd_per_million_output_tokens))
        );
        for i in 0..spec.slos.len() {
            let _ = write!(out, ",{}", opt(o.and_then(|o| o.slo_observed_s.get(i).copied().flatten())));
        }
        let _ = writeln!(
            out,
            ",{},{},{},{},{},{},{},{},{}",
            opt(o.and_then(|o| o.attainment)),
            opt(o.and_then(|o| o.goodput_rps)),
            opt(o.and_then(|o| o.ttft_p90_s)),
            opt(o.and_then(|o| o.tpot_p90_s)),
            opt(o.and_then(|o| o.e2e_p90_s)),
            r.points.len(),
            best == Some(r.configuration),
            field(&note(r)),
            field(match &r.verdict {
                Verdict::Skipped(reason) => reason,
                _ => "",
            })
        );
    }
    out
}

fn note(r: &ConfigurationResult) -> String {
    let mut parts = Vec::new();
    if let Verdict::Infeasible(why) = &r.verdict {
        parts.push(why.clone());
    }
    if let Some(n) = &r.note {
        parts.push(n.clone());
    }
    parts.join("; ")
}

/// `pareto.csv`: for each latency (each objective's observed quantile; TTFT and TPOT p90
/// without objectives), the feasible configurations no other beats on both cost efficiency
/// (QPS per dollar for `max_qps`, cost per hour otherwise; QPS or GPUs without prices) and that
/// latency, best cost efficiency first.
pub fn pareto_csv(plan: &SearchPlan) -> String {
    let spec = plan.spec();
    let priced =
        plan.results().iter().all(|r| r.chosen.as_ref().is_none_or(|p| p.outcome.usd_per_hour.is_some()));
    let (x_name, higher_is_better) = match (spec.goal, priced) {
        (SearchGoal::MaxQps, true) => ("qps_per_dollar", true),
        (SearchGoal::MaxQps, false) => ("max_qps", true),
        (_, true) => ("cost_per_hour", false),
        (_, false) => ("gpus", false),
    };
    type Latency = (String, Box<dyn Fn(&RunOutcome) -> Option<f64>>);
    let latencies: Vec<Latency> = if spec.slos.is_empty() {
        vec![
            ("ttft_p90_s".to_string(), Box::new(|o: &RunOutcome| o.ttft_p90_s)),
            ("tpot_p90_s".to_string(), Box::new(|o: &RunOutcome| o.tpot_p90_s)),
        ]
    } else {
        slo_columns(spec)
            .into_iter()
            .enumerate()
            .map(|(i, name)| -> Latency {
                (
                    name.trim_start_matches("slo_").to_string(),
                    Box::new(move |o: &RunOutcome| o.slo_observed_s.get(i).copied().flatten()),
                )
            })
            .collect()
    };
    let mut out = String::from("latency,configuration");
    for flag in spec.columns() {
        out.push(',');
        out.push_str(flag);
    }
    let _ = writeln!(out, ",{x_name},latency_s");
    for (name, latency) in &latencies {
        let mut candidates: Vec<(u32, f64, f64)> = plan
            .results()
            .iter()
            .filter(|r| r.feasible())
            .filter_map(|r| {
                let p = r.chosen.as_ref()?;
                let qps = if spec.goal == SearchGoal::MaxQps { p.qps } else { spec.qps };
                let x = match x_name {
                    "qps_per_dollar" => qps_per_dollar(qps, &p.outcome)?,
                    "max_qps" => qps,
                    "cost_per_hour" => p.outcome.usd_per_hour?,
                    _ => p.outcome.num_gpus as f64,
                };
                Some((r.configuration, x, latency(&p.outcome)?))
            })
            .collect();
        // The configuration breaks every tie: an unstable sort gives the one order.
        candidates.sort_unstable_by(|a, b| {
            let by_x = if higher_is_better { b.1.total_cmp(&a.1) } else { a.1.total_cmp(&b.1) };
            by_x.then(a.2.total_cmp(&b.2)).then(a.0.cmp(&b.0))
        });
        let mut best_latency = f64::INFINITY;
        for (c, x, y) in candidates {
            if y < best_latency {
                best_latency = y;
                let _ = write!(out, "{name},{c}");
                for value in spec.column_values(c as usize) {
                    let _ = write!(out, ",{}", field(value));
                }
                let _ = writeln!(out, ",{},{}", num(x), num(y));
            }
        }
    }
    out
}

/// The outcome's columns in `points.csv`, after the point's identity and space values.
const OUTCOME_COLUMNS: &[&str] = &[
    "passed",
    "overloaded",
    "stopped_early",
    "slo_met",
    "slo_attainment",
    // The objectives' columns go here.
    "ttft_p90_s",
    "ttft_p99_s",
    "tpot_p90_s",
    "tbt_p90_s",
    "tbt_p99_s",
    "e2e_p90_s",
    "scheduling_delay_p99_s",
    "num_requests",
    "num_completed",
    "throughput_rps",
    "output_tokens_per_s",
    "goodput_rps",
    "gpus",
    "cost_per_hour",
    "usd_per_million_output_tokens",
    "simulated_s",
    "events",
];

/// `points.csv`'s header.
pub fn points_csv_header(spec: &SearchSpec) -> String {
    let mut columns: Vec<String> = vec!["job".into(), "configuration".into()];
    columns.extend(spec.columns().iter().map(|f| f.to_string()));
    columns.extend(["qps".to_string(), "replicas".to_string()]);
    columns.extend(OUTCOME_COLUMNS[..5].iter().map(|c| c.to_string()));
    columns.extend(slo_columns(spec));
    columns.extend(OUTCOME_COLUMNS[5..].iter().map(|c| c.to_string()));
    columns.extend(["skipped_reason".to_string(), "spec_hash".to_string()]);
    columns.join(",") + "\n"
}

/// One row of `points.csv`; `spec_hash` identifies the search (see [`parse_points_csv`]).
/// Numbers are written in their shortest exact form, so a row reads back to the same outcome.
pub fn points_csv_row(spec: &SearchSpec, job: &Job, outcome: &JobOutcome, spec_hash: &str) -> String {
    let c = job.id.configuration as usize;
    let mut cells: Vec<String> = vec![job.id.to_string(), c.to_string()];
    cells.extend(spec.column_values(c).iter().map(|v| field(v)));
    cells.push(num(job.qps));
    cells.push(job.num_replicas.map_or_else(String::new, |n| n.to_string()));
    match outcome {
        JobOutcome::Ran(o) => {
            cells.extend([
                o.passed.to_string(),
                o.overloaded.to_string(),
                o.stopped_early.to_string(),
                flag(o.slo_met),
                opt(o.attainment),
            ]);
            cells.extend((0..spec.slos.len()).map(|i| opt(o.slo_observed_s.get(i).copied().flatten())));
            cells.extend([
                opt(o.ttft_p90_s),
                opt(o.ttft_p99_s),
                opt(o.tpot_p90_s),
                opt(o.tbt_p90_s),
                opt(o.tbt_p99_s),
                opt(o.e2e_p90_s),
                opt(o.scheduling_delay_p99_s),
                o.num_requests.to_string(),
                o.num_completed.to_string(),
                num(o.throughput_rps),
                num(o.output_tokens_per_s),
                opt(o.goodput_rps),
                o.num_gpus.to_string(),
                opt(o.usd_per_hour),
                opt(o.usd_per_million_output_tokens),
                num(o.simulated_s),
                o.num_events.to_string(),
                String::new(),
            ]);
        }
        JobOutcome::Invalid(reason) => {
            cells.extend(std::iter::repeat_n(String::new(), OUTCOME_COLUMNS.len() + spec.slos.len()));
            cells.push(field(reason));
        }
    }
    cells.push(field(spec_hash));
    cells.join(",") + "\n"
}

/// The outcomes of an earlier `points.csv` whose rows carry `spec_hash`, by job (with the
/// rate and replica count the row was run at). Rows of another search, and rows that do not
/// read, are left out: they are simply run again.
///
/// A file written before a figure's column existed (say `tbt_p90_s`) is still reused: a
/// missing figure column reads as that figure unknown. Only the columns a point
/// cannot do without (its verdict, its counts, each of the spec's objectives) make a row run
/// again when missing.
pub fn parse_points_csv(
    text: &str,
    spec: &SearchSpec,
    spec_hash: &str,
) -> BTreeMap<JobId, (f64, Option<u32>, JobOutcome)> {
    let mut found = BTreeMap::new();
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let Ok(headers) = reader.headers().cloned() else { return found };
    let column = |name: &str| headers.iter().position(|h| h == name);
    let objectives: Vec<Option<usize>> = slo_columns(spec).iter().map(|name| column(name)).collect();
    if objectives.iter().any(Option::is_none) {
        // An objective's figure decides the point's rows in `search.csv`: run them again.
        return found;
    }
    for row in reader.records().flatten() {
        let get = |name: &str| {
            match column(name) {
                Some(i) => row.get(i),
                // Missing from an older file: unknown.
                None => OPTIONAL_FIGURES.contains(&name).then_some(""),
            }
        };
        if get("spec_hash") != Some(spec_hash) {
            continue;
        }
        let slo: Vec<Option<&str>> = objectives.iter().map(|i| i.and_then(|i| row.get(i))).collect();
        if let Some(point) = read_point(&get, &slo) {
            found.insert(point.0, (point.1, point.2, point.3));
        }
    }
    found
}

/// The outcome's figures a point can be reused without (unknown when their column is absent).
const OPTIONAL_FIGURES: &[&str] = &[
    "ttft_p90_s",
    "ttft_p99_s",
    "tpot_p90_s",
    "tbt_p90_s",
    "tbt_p99_s",
    "e2e_p90_s",
    "scheduling_delay_p99_s",
];

fn read_point<'a>(
    get: &dyn Fn(&str) -> Option<&'a str>,
    slo: &[Option<&'a str>],
) -> Option<(JobId, f64, Option<u32>, JobOutcome)> {
    let id = parse_job_id(get("job")?)?;
    let qps: f64 = get("qps")?.parse().ok()?;
    let replicas = match get("replicas")? {
        "" => None,
        r => Some(r.parse().ok()?),
    };
    let reason = get("skipped_reason")?;
    if !reason.is_empty() {
        return Some((id, qps, replicas, JobOutcome::Invalid(reason.to_string())));
    }
    fn optional<T: std::str::FromStr>(text: Option<&str>) -> Option<Option<T>> {
        match text? {
            "" => Some(None),
            t => t.parse().ok().map(Some),
        }
    }
    let outcome = RunOutcome {
        passed: get("passed")?.parse().ok()?,
        slo_met: optional(get("slo_met"))?,
        overloaded: get("overloaded")?.parse().ok()?,
        stopped_early: get("stopped_early")?.parse().ok()?,
        attainment: optional(get("slo_attainment"))?,
        slo_observed_s: slo.iter().map(|t| optional(*t)).collect::<Option<Vec<_>>>()?,
        num_requests: get("num_requests")?.parse().ok()?,
        num_completed: get("num_completed")?.parse().ok()?,
        ttft_p90_s: optional(get("ttft_p90_s"))?,
        ttft_p99_s: optional(get("ttft_p99_s"))?,
        tpot_p90_s: optional(get("tpot_p90_s"))?,
        tbt_p90_s: optional(get("tbt_p90_s"))?,
        tbt_p99_s: optional(get("tbt_p99_s"))?,
        e2e_p90_s: optional(get("e2e_p90_s"))?,
        scheduling_delay_p99_s: optional(get("scheduling_delay_p99_s"))?,
        throughput_rps: get("throughput_rps")?.parse().ok()?,
        output_tokens_per_s: get("output_tokens_per_s")?.parse().ok()?,
        goodput_rps: optional(get("goodput_rps"))?,
        num_gpus: get("gpus")?.parse().ok()?,
        usd_per_hour: optional(get("cost_per_hour"))?,
        usd_per_million_output_tokens: optional(get("usd_per_million_output_tokens"))?,
        simulated_s: get("simulated_s")?.parse().ok()?,
        num_events: get("events")?.parse().ok()?,
    };
    Some((id, qps, replicas, JobOutcome::Ran(outcome)))
}

/// `c3.s2` → the job id.
fn parse_job_id(text: &str) -> Option<JobId> {
    let (c, s) = text.strip_prefix('c')?.split_once(".s")?;
    Some(JobId { configuration: c.parse().ok()?, step: s.parse().ok()? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_read_back_to_the_same_outcomes_bit_for_bit() {
        let spec = SearchSpec::from_json_str(
            r#"{"space": {"replica_config_device": ["h100", "a100"]}, "slos": [{"metric": "ttft", "max_s": 1}]}"#,
        )
        .unwrap();
        let ran = JobOutcome::Ran(RunOutcome {
            passed: true,
            slo_met: Some(true),
            attainment: Some(0.1 + 0.2),
            slo_observed_s: vec![Some(123.10000000000001)],
            ttft_p90_s: Some(1.0 / 3.0),
            tbt_p90_s: Some(0.1 + 0.2),
            throughput_rps: 5.147_000_000_000_1,
            usd_per_hour: Some(123.10000000000001),
            num_gpus: 8,
            num_events: 81_964,
            ..RunOutcome::default()
        });
        let invalid = JobOutcome::Invalid("does not fit, \"quoted\"\nacross lines".into());
        let job = |c: u32, qps: f64| Job {
            id: JobId { configuration: c, step: 3 },
            qps,
            num_replicas: Some(2),
            flags: Vec::new(),
        };
        let mut text = points_csv_header(&spec);
        text.push_str(&points_csv_row(&spec, &job(0, 0.1 + 0.7), &ran, "abc"));
        text.push_str(&points_csv_row(&spec, &job(1, 2.0), &invalid, "abc"));
        text.push_str(&points_csv_row(&spec, &job(1, 2.0), &ran, "other search"));
        let back = parse_points_csv(&text, &spec, "abc");
        assert_eq!(back.len(), 2, "{text}");
        assert_eq!(back[&JobId { configuration: 0, step: 3 }], (0.1 + 0.7, Some(2), ran));
        assert_eq!(back[&JobId { configuration: 1, step: 3 }], (2.0, Some(2), invalid));
    }

    /// Drops the named columns of a CSV text.
    fn without_columns(text: &str, names: &[&str]) -> String {
        let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let headers = reader.headers().unwrap().clone();
        let keep: Vec<usize> = (0..headers.len()).filter(|i| !names.contains(&&headers[*i])).collect();
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(keep.iter().map(|i| &headers[*i])).unwrap();
        for row in reader.records() {
            let row = row.unwrap();
            writer.write_record(keep.iter().map(|i| &row[*i])).unwrap();
        }
        String::from_utf8(writer.into_inner().unwrap()).unwrap()
    }

    #[test]
    fn points_written_before_a_figure_column_existed_are_reused_with_that_figure_unknown() {
        let spec = |slos: &str| {
            SearchSpec::from_json_str(&format!(
                r#"{{"space": {{"replica_config_device": ["h100", "a100"]}}, "slos": [{slos}]}}"#
            ))
            .unwrap()
        };
        let outcome = RunOutcome {
            passed: true,
            slo_met: Some(true),
            attainment: Some(0.95),
            slo_observed_s: vec![Some(0.25)],
            ttft_p90_s: Some(0.5),
            tbt_p90_s: Some(0.25),
            tbt_p99_s: Some(0.75),
            num_requests: 10,
            num_completed: 10,
            ..RunOutcome::default()
        };
        let job =
            Job { id: JobId { configuration: 1, step: 2 }, qps: 3.5, num_replicas: None, flags: Vec::new() };
        let file = |spec: &SearchSpec| {
            let mut text = points_csv_header(spec);
            text.push_str(&points_csv_row(spec, &job, &JobOutcome::Ran(outcome.clone()), "h"));
            // As written before `tbt_p90_s` was a column.
            without_columns(&text, &["tbt_p90_s"])
        };
        // Objectives on TTFT: the point is reused, its TBT p90 unknown.
        let ttft = spec(r#"{"metric": "ttft", "quantile": 0.9, "max_s": 1}"#);
        let back = parse_points_csv(&file(&ttft), &ttft, "h");
        let expected = RunOutcome { tbt_p90_s: None, ..outcome.clone() };
        assert_eq!(back.get(&job.id), Some(&(3.5, None, JobOutcome::Ran(expected.clone()))));
        // An objective on TBT p90 has its own column, and the point its verdict.
        let tbt = spec(r#"{"metric": "tbt", "quantile": 0.9, "max_s": 1}"#);
        let back = parse_points_csv(&file(&tbt), &tbt, "h");
        assert_eq!(back.get(&job.id), Some(&(3.5, None, JobOutcome::Ran(expected))));
        // Without an objective's column the points are run again, as without the verdict.
        let text = without_columns(&file(&tbt), &["slo_tbt_p90_s"]);
        assert!(parse_points_csv(&text, &tbt, "h").is_empty());
        let text = without_columns(&file(&ttft), &["passed"]);
        assert!(parse_points_csv(&text, &ttft, "h").is_empty());
    }
}
