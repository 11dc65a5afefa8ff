//! The output files: `points.csv` (every reported row with its simulated figures or skip
//! reason), `tables.md` (the summary as Markdown tables, for VALIDATION.md) and `commands.sh`
//! (each simulated point as an `llmsim` command line, to rerun one point with all its outputs).

use std::fmt::Write;

use crate::stats::ErrorStats;
use crate::summary::{GroupStats, Summary};
use crate::{Outcome, Plan, PointsFile};

/// Columns `points.csv` adds to the input's.
pub const RESULT_COLUMNS: [&str; 7] = [
    "sim_ttft_ms",
    "sim_tpot_ms",
    "ttft_err",
    "tpot_err",
    "sim_ttft_median_ms",
    "sim_tpot_median_ms",
    "skipped",
];

/// `points.csv`: the input columns of each reported row, then the simulated means (ms, to the
/// microsecond), the signed errors of the means (fractions), the simulated medians and the
/// skip reason.
pub fn points_csv(file: &PointsFile, plan: &Plan, outcomes: &[Outcome]) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let header = file.headers.iter().map(String::as_str).chain(RESULT_COLUMNS);
    writer.write_record(header).expect("writing to memory");
    for (row, outcome) in plan.rows.iter().zip(outcomes) {
        let results: [String; 7] = match outcome {
            Outcome::Simulated(c) => [
                format!("{:.3}", c.sim_ttft_ms),
                c.sim_tpot_ms.map_or_else(String::new, |t| format!("{t:.3}")),
                format!("{:.5}", c.ttft_err),
                c.tpot_err.map_or_else(String::new, |e| format!("{e:.5}")),
                format!("{:.3}", c.sim_ttft_median_ms),
                c.sim_tpot_median_ms.map_or_else(String::new, |t| format!("{t:.3}")),
                String::new(),
            ],
            Outcome::Skipped(reason) => {
                let mut cells: [String; 7] = Default::default();
                cells[6] = reason.to_string();
                cells
            }
        };
        let fields = file.points[row.index].fields.iter().map(String::as_str);
        writer.write_record(fields.chain(results.iter().map(String::as_str))).expect("writing to memory");
    }
    String::from_utf8(writer.into_inner().expect("writing to memory")).expect("CSV of UTF-8 fields")
}

/// `commands.sh`: for each point the engine accepted (a point refused while running keeps its
/// command), a comment naming it (file line, id, and the run date its client follows) and the
/// `llmsim` command that runs its configuration (the mapping's flags, then the `--set` flags
/// for its engine, as the harness applies them), with the CLI's default outputs instead of the
/// harness's trimmed ones (the Chrome trace of the largest points is large). Its TTFT and TPOT
/// means over the measured requests (the engine leaves warm-up requests out of
/// `request_metrics.csv`) are the harness's figures.
pub fn commands_sh(file: &PointsFile, plan: &Plan) -> String {
    let mut out =
        String::from("#!/bin/sh\n# llmsim-validate: each simulated point as an llmsim run\nset -e\n");
    for row in &plan.rows {
        let Ok(config) = &row.config else { continue };
        let point = &file.points[row.index];
        let date = if point.run_date().is_empty() { "undated" } else { point.run_date() };
        writeln!(out, "\n# line {}: {} (run date {date})", point.line, point.id)
            .expect("writing to a String");
        out.push_str("llmsim");
        let settings = config.settings.iter().map(|(f, v)| (f.as_str(), v.as_str()));
        for (flag, value) in config.flags.iter().map(|(f, v)| (*f, v.as_str())).chain(settings) {
            write!(out, " \\\n  --{flag} {}", shell_word(value)).expect("writing to a String");
        }
        out.push('\n');
    }
    out
}

/// `value` as one word of a POSIX shell: as is when it holds only characters the shell leaves
/// alone, else single-quoted (a quote inside written as `'\''`).
fn shell_word(value: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./:,=+@%".contains(c);
    if !value.is_empty() && value.chars().all(plain) {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

fn percent(x: f64) -> String {
    format!("{:.1} %", 100.0 * x)
}

fn signed_percent(x: f64) -> String {
    format!("{:+.1} %", 100.0 * x)
}

/// `| median |err| | p90 |err| | median err |` cells of one metric, dashes when empty.
fn error_cells(stats: &Option<ErrorStats>) -> String {
    match stats {
        Some(s) => format!(
            "{} | {} | {}",
            percent(s.abs_err_median),
            percent(s.abs_err_p90),
            signed_percent(s.err_median)
        ),
        None => "– | – | –".to_string(),
    }
}

const ERROR_HEADER: &str = "TTFT median \\|err\\| | TTFT p90 \\|err\\| | TTFT median err | TPOT median \\|err\\| | TPOT p90 \\|err\\| | TPOT median err";
const ERROR_RULE: &str = "---:|---:|---:|---:|---:|---:";

fn error_row(label: &str, g: &GroupStats) -> String {
    format!("| {label} | {} | {} | {} | {} |\n", g.n, g.n_skipped, error_cells(&g.ttft), error_cells(&g.tpot))
}

/// The summary as Markdown: coverage, errors per backend and overall, errors per group with
/// simulated points.
pub fn tables_md(summary: &Summary) -> String {
    let mut out = String::new();
    let o = &summary.overall;
    let _ = writeln!(out, "Coverage: {} points simulated, {} skipped.\n", o.n, o.n_skipped);
    out.push_str("| skipped because | points |\n|---|---:|\n");
    for r in &summary.skipped_by_reason {
        let _ = writeln!(out, "| {} | {} |", r.reason, r.n);
    }
    out.push('\n');
    let _ = writeln!(out, "| backend | simulated | skipped | {ERROR_HEADER} |\n|---|---:|---:|{ERROR_RULE}|");
    for g in &summary.by_backend {
        out.push_str(&error_row(g.backend.as_deref().unwrap_or(""), g));
    }
    out.push_str(&error_row("**all**", o));
    out.push('\n');
    let _ = writeln!(
        out,
        "| backend | model | system | mode | simulated | skipped | {ERROR_HEADER} |\n|---|---|---|---|---:|---:|{ERROR_RULE}|"
    );
    for g in summary.groups.iter().filter(|g| g.n > 0) {
        let label = format!(
            "{} | {} | {} | {}",
            g.backend.as_deref().unwrap_or(""),
            g.model.as_deref().unwrap_or(""),
            g.system.as_deref().unwrap_or(""),
            g.mode.as_deref().unwrap_or("")
        );
        out.push_str(&error_row(&label, g));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Overrides;
    use crate::points::parse_points;
    use crate::points::tests::{HEADER, row};
    use crate::{Comparison, PlannedRow, SkipReason};

    #[test]
    fn points_csv_appends_results_or_the_skip_reason() {
        let rows = [row(&[("id", "a,quoted")]), row(&[("id", "b"), ("mode", "disagg")])];
        let file = parse_points(
            &format!("{HEADER}\n{}\n", rows.join("\n").replacen("a,quoted", "\"a,quoted\"", 1)),
            "f",
        )
        .unwrap();
        let plan = Plan {
            rows: vec![
                PlannedRow { index: 0, config: Err(SkipReason::Disaggregated) },
                PlannedRow { index: 1, config: Err(SkipReason::Disaggregated) },
            ],
            thinned_out: 0,
        };
        let outcomes = vec![
            Outcome::Simulated(Comparison {
                sim_ttft_ms: 250.0,
                sim_tpot_ms: Some(18.0),
                sim_ttft_median_ms: 1.0,
                sim_tpot_median_ms: None,
                ttft_err: 0.24688,
                tpot_err: Some(-0.11111),
            }),
            Outcome::Skipped(SkipReason::Disaggregated),
        ];
        let text = points_csv(&file, &plan, &outcomes);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            format!(
                "{HEADER},sim_ttft_ms,sim_tpot_ms,ttft_err,tpot_err,sim_ttft_median_ms,sim_tpot_median_ms,skipped"
            )
        );
        assert!(lines[1].starts_with("\"a,quoted\",vllm,"), "{}", lines[1]);
        assert!(
            lines[1].ends_with(",200.5,20.25,2025-10-12,250.000,18.000,0.24688,-0.11111,1.000,,"),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].ends_with(
                ",,,,,,,prefill/decode disaggregation without its pools' sizes (prefill_* / decode_* workers and batch)"
            ),
            "{}",
            lines[2]
        );
        // The output reads back with the input's reader.
        assert_eq!(parse_points(&text, "out").unwrap().points.len(), 2);
    }

    #[test]
    fn commands_rerun_each_simulated_point_with_its_flags_then_its_settings() {
        let file =
            parse_points(&format!("{HEADER}\n{}\n{}\n", row(&[]), row(&[("id", "skipped")])), "f").unwrap();
        let mut config = crate::mapping::point_config(&file.points[0], &Overrides::default()).unwrap();
        config.settings.push(("vllm_scheduler_config_max_tokens_in_batch".into(), "4096".into()));
        let flags = config.flags.clone();
        let plan = Plan {
            rows: vec![
                PlannedRow { index: 0, config: Ok(config) },
                PlannedRow { index: 1, config: Err(SkipReason::Disaggregated) },
            ],
            thinned_out: 0,
        };
        let text = commands_sh(&file, &plan);
        assert!(text.starts_with("#!/bin/sh\n"), "{text}");
        assert!(
            text.starts_with("#!/bin/sh\n# llmsim-validate: each simulated point as an llmsim run\nset -e\n")
        );
        let comment = format!("\n# line 2: {} (run date 2025-10-12)\nllmsim \\\n  --", file.points[0].id);
        assert!(text.contains(&comment), "{text}");
        assert!(!text.contains("skipped"), "a skipped point has no command: {text}");
        // The command's words, read back, are the harness's pairs in its order, settings last.
        let body = text.split_once("\nllmsim").unwrap().1;
        let pairs: Vec<(String, String)> = body
            .split(" \\\n  --")
            .skip(1)
            .map(|word| {
                let (flag, value) = word.trim_end().split_once(' ').unwrap();
                (flag.to_string(), value.trim_matches('\'').to_string())
            })
            .collect();
        let mut expected: Vec<(String, String)> =
            flags.iter().map(|(f, v)| (f.to_string(), v.clone())).collect();
        expected.push(("vllm_scheduler_config_max_tokens_in_batch".into(), "4096".into()));
        assert_eq!(pairs, expected);
    }

    #[test]
    fn shell_words_are_quoted_only_when_the_shell_would_change_them() {
        assert_eq!(shell_word("meta-llama/Llama-3.1-70B"), "meta-llama/Llama-3.1-70B");
        assert_eq!(shell_word("0.8"), "0.8");
        assert_eq!(shell_word(""), "''");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word("$HOME;*"), "'$HOME;*'");
    }

    #[test]
    fn tables_show_coverage_and_errors() {
        let file = parse_points(&format!("{HEADER}\n{}\n{}\n", row(&[]), row(&[("moe_ep_size", "8")])), "f")
            .unwrap();
        let plan = Plan {
            rows: vec![
                PlannedRow { index: 0, config: Err(SkipReason::Disaggregated) },
                PlannedRow { index: 1, config: Err(SkipReason::UnknownBackend("x".into())) },
            ],
            thinned_out: 0,
        };
        let outcomes = vec![
            Outcome::Simulated(Comparison {
                sim_ttft_ms: 1.0,
                sim_tpot_ms: Some(1.0),
                sim_ttft_median_ms: 1.0,
                sim_tpot_median_ms: None,
                ttft_err: 0.5,
                tpot_err: Some(-0.05),
            }),
            Outcome::Skipped(SkipReason::UnknownBackend("x".into())),
        ];
        let summary = Summary::of("f", &file, &plan, &outcomes, vec![], None, &Overrides::default());
        let md = tables_md(&summary);
        assert!(md.contains("| unknown serving engine | 1 |"), "{md}");
        assert!(md.contains("| vllm | 1 | 1 | 50.0 % | 50.0 % | +50.0 % | 5.0 % | 5.0 % | -5.0 % |"), "{md}");
        assert!(md.contains("| vllm | meta-llama/Llama-3.1-70B | h200_sxm | agg | 1 | 1 |"), "{md}");
    }
}
