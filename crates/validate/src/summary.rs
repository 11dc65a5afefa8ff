//! `summary.json`: error statistics per group (backend × model × system × mode), per backend
//! and over all points, with the coverage (how many skipped, and why).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::client::Overrides;
use crate::stats::ErrorStats;
use crate::{Outcome, Plan, PointsFile};

/// Points of one group and how far off they are.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupStats {
    /// Serving engine (absent in the overall figures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// Model (groups only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// GPU system (groups only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// `agg` or `disagg` (groups only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Points simulated.
    pub n: usize,
    /// Points skipped.
    pub n_skipped: usize,
    /// Mean-TTFT errors; `null` when nothing was simulated.
    pub ttft: Option<ErrorStats>,
    /// Mean-TPOT errors; `null` when nothing was simulated.
    pub tpot: Option<ErrorStats>,
}

/// How many points were skipped for one reason.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReasonCount {
    /// [`crate::SkipReason::kind`].
    pub reason: String,
    /// Points.
    pub n: usize,
}

/// Everything `summary.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// The points file as given.
    pub points_file: String,
    /// `--filter`s, as given.
    pub filters: Vec<String>,
    /// `--max`, if given.
    pub max: Option<usize>,
    /// What the command line changed about each point's benchmark client (`null` = the
    /// protocol's value, `client.rs`).
    pub overrides: Overrides,
    /// `--set`s, as given.
    pub settings: Vec<String>,
    /// Modellable points `--max` left out (not in any figure below).
    pub thinned_out: usize,
    /// Over all reported points.
    pub overall: GroupStats,
    /// Per serving engine.
    pub by_backend: Vec<GroupStats>,
    /// Per backend × model × system × mode.
    pub groups: Vec<GroupStats>,
    /// Skipped points by reason, most frequent first.
    pub skipped_by_reason: Vec<ReasonCount>,
}

/// Collects one group's outcomes.
#[derive(Default)]
struct Accumulator {
    ttft: Vec<f64>,
    tpot: Vec<f64>,
    n: usize,
    n_skipped: usize,
}

impl Accumulator {
    fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Simulated(c) => {
                self.n += 1;
                self.ttft.push(c.ttft_err);
                self.tpot.extend(c.tpot_err);
            }
            Outcome::Skipped(_) => self.n_skipped += 1,
        }
    }

    fn stats(&self, key: [Option<String>; 4]) -> GroupStats {
        let [backend, model, system, mode] = key;
        GroupStats {
            backend,
            model,
            system,
            mode,
            n: self.n,
            n_skipped: self.n_skipped,
            ttft: ErrorStats::of(&self.ttft),
            tpot: ErrorStats::of(&self.tpot),
        }
    }
}

impl Summary {
    /// Summarises `outcomes` (one per row of `plan`, in its order).
    pub fn of(
        points_file: &str,
        file: &PointsFile,
        plan: &Plan,
        outcomes: &[Outcome],
        filters: Vec<String>,
        max: Option<usize>,
        client: &Overrides,
    ) -> Summary {
        let mut overall = Accumulator::default();
        let mut by_backend: BTreeMap<&str, Accumulator> = BTreeMap::new();
        let mut groups: BTreeMap<(&str, &str, &str, String), Accumulator> = BTreeMap::new();
        let mut reasons: BTreeMap<&'static str, usize> = BTreeMap::new();
        for (row, outcome) in plan.rows.iter().zip(outcomes) {
            let p = &file.points[row.index];
            overall.add(outcome);
            by_backend.entry(&p.backend).or_default().add(outcome);
            let key = (p.backend.as_str(), p.model_path.as_str(), p.system.as_str(), p.mode.to_string());
            groups.entry(key).or_default().add(outcome);
            if let Outcome::Skipped(reason) = outcome {
                *reasons.entry(reason.kind()).or_default() += 1;
            }
        }
        let mut skipped_by_reason: Vec<ReasonCount> =
            reasons.into_iter().map(|(reason, n)| ReasonCount { reason: reason.to_string(), n }).collect();
        // Most frequent first; ties stay in name order (the sort is stable).
        skipped_by_reason.sort_by_key(|r| std::cmp::Reverse(r.n));
        Summary {
            points_file: points_file.to_string(),
            filters,
            max,
            overrides: *client,
            settings: Vec::new(),
            thinned_out: plan.thinned_out,
            overall: overall.stats([None, None, None, None]),
            by_backend: by_backend
                .iter()
                .map(|(b, acc)| acc.stats([Some(b.to_string()), None, None, None]))
                .collect(),
            groups: groups
                .iter()
                .map(|((b, m, s, mode), acc)| {
                    acc.stats([
                        Some(b.to_string()),
                        Some(m.to_string()),
                        Some(s.to_string()),
                        Some(mode.clone()),
                    ])
                })
                .collect(),
            skipped_by_reason,
        }
    }

    /// The figures of one backend, if any of its points was reported.
    pub fn backend(&self, backend: &str) -> Option<&GroupStats> {
        self.by_backend.iter().find(|g| g.backend.as_deref() == Some(backend))
    }

    /// `summary.json`'s text.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the summary serialises") + "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::points::parse_points;
    use crate::points::tests::{HEADER, row};
    use crate::{Comparison, PlannedRow, SkipReason};

    fn simulated(ttft_err: f64, tpot_err: f64) -> Outcome {
        Outcome::Simulated(Comparison {
            sim_ttft_ms: 1.0,
            sim_tpot_ms: Some(1.0),
            sim_ttft_median_ms: 1.0,
            sim_tpot_median_ms: None,
            ttft_err,
            tpot_err: Some(tpot_err),
        })
    }

    #[test]
    fn groups_split_by_backend_model_system_and_mode() {
        let rows = [
            row(&[("backend", "vllm"), ("system", "h200_sxm")]),
            row(&[("backend", "vllm"), ("system", "h200_sxm")]),
            row(&[("backend", "vllm"), ("system", "h100_sxm")]),
            row(&[("backend", "trtllm"), ("system", "h200_sxm")]),
            row(&[("backend", "trtllm"), ("system", "h200_sxm"), ("mode", "disagg")]),
        ];
        let file = parse_points(&format!("{HEADER}\n{}\n", rows.join("\n")), "f").unwrap();
        let plan = Plan {
            rows: (0..5).map(|index| PlannedRow { index, config: Err(SkipReason::Disaggregated) }).collect(),
            thinned_out: 0,
        };
        let outcomes = vec![
            simulated(0.5, -0.1),
            simulated(-0.25, 0.3),
            simulated(1.0, 0.0),
            Outcome::Skipped(SkipReason::UnknownBackend("x".into())),
            Outcome::Skipped(SkipReason::Disaggregated),
        ];
        let s = Summary::of("f", &file, &plan, &outcomes, vec![], None, &Overrides::default());
        assert_eq!((s.overall.n, s.overall.n_skipped), (3, 2));
        assert_eq!(s.overall.ttft.unwrap().abs_err_median, 0.5);

        let keys: Vec<(String, String, usize, usize)> = s
            .groups
            .iter()
            .map(|g| {
                (
                    g.backend.clone().unwrap(),
                    format!("{}/{}", g.system.clone().unwrap(), g.mode.clone().unwrap()),
                    g.n,
                    g.n_skipped,
                )
            })
            .collect();
        assert_eq!(
            keys,
            vec![
                ("trtllm".into(), "h200_sxm/agg".into(), 0, 1),
                ("trtllm".into(), "h200_sxm/disagg".into(), 0, 1),
                ("vllm".into(), "h100_sxm/agg".into(), 1, 0),
                ("vllm".into(), "h200_sxm/agg".into(), 2, 0),
            ]
        );
        let vllm_h200 = &s.groups[3];
        let ttft = vllm_h200.ttft.unwrap();
        assert_eq!((ttft.abs_err_median, ttft.err_median), (0.375, 0.125));
        assert_eq!(s.groups[0].ttft, None);

        let vllm = s.backend("vllm").unwrap();
        assert_eq!((vllm.n, vllm.n_skipped, vllm.model.clone()), (3, 0, None));
        assert_eq!(s.backend("trtllm").unwrap().n_skipped, 2);
        assert_eq!(
            s.skipped_by_reason,
            vec![
                ReasonCount { reason: "disaggregated serving".into(), n: 1 },
                ReasonCount { reason: "unknown serving engine".into(), n: 1 },
            ]
        );
        let json: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        assert_eq!(json["groups"][0]["ttft"], serde_json::Value::Null);
        assert_eq!(json["overall"]["n"], 3);
        assert!(json["overall"].get("backend").is_none());
    }
}
