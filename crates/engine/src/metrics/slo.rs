//! Evaluates a run's latency objectives (the rule is `slo.rs`'s) over its completed requests'
//! records; requests that did not complete count as infinitely late.

use super::QuantileSketch;
use crate::report::{RequestRecord, SloReport, SloTargetReport, Throughput};
use crate::slo::{ServiceLevels, SloCombine, SloMetric, SloTarget};
use crate::time::nanos_to_secs;

/// What the evaluation reads from a finished run.
pub(super) struct SloInputs<'a> {
    /// Completed requests.
    pub records: &'a [RequestRecord],
    /// Requests that arrived and did not complete (refused or unfinished).
    pub not_completed: u64,
    /// Every gap between consecutive output tokens.
    pub tbt: &'a QuantileSketch,
    /// Simulated seconds (the goodput's denominator).
    pub simulated_s: f64,
}

/// The request's value of `metric`; `None` where it has none (TPOT and TBT of a one-token
/// output), which meets any bound.
fn value(metric: SloMetric, r: &RequestRecord) -> Option<f64> {
    match metric {
        SloMetric::Ttft => Some(r.ttft()),
        SloMetric::Tbt => (r.num_decode_tokens > 1).then(|| nanos_to_secs(r.max_token_gap_ns)),
        SloMetric::Tpot => r.tpot(),
        SloMetric::E2e => Some(r.e2e()),
        SloMetric::SchedulingDelay => Some(r.scheduling_delay()),
        SloMetric::E2eNormalized => Some(r.e2e() / f64::from(r.num_decode_tokens.max(1))),
    }
}

fn meets(target: &SloTarget, r: &RequestRecord) -> bool {
    value(target.metric, r).is_none_or(|v| v <= target.max_s)
}

/// The `q`-quantile (interpolated as pandas does) of sorted finite `values` followed by
/// `infinite` values larger than all of them; `None` when it falls among the infinite ones.
fn quantile_with_failures(values: &[f64], infinite: u64, q: f64) -> Option<f64> {
    let last = values.len().checked_sub(1)?;
    let n = values.len() as u64 + infinite;
    let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = libm::floor(pos) as usize;
    let frac = pos - lo as f64;
    if lo > last || (lo == last && frac > 0.0) {
        return None;
    }
    let hi = (lo + 1).min(last);
    Some(values[lo] + (values[hi] - values[lo]) * frac)
}

/// The report's SLO section; `None` without objectives.
pub(super) fn evaluate(levels: &ServiceLevels, input: &SloInputs) -> Option<SloReport> {
    if levels.is_empty() {
        return None;
    }
    let arrived = input.records.len() as u64 + input.not_completed;
    let share = |count: usize| if arrived == 0 { 0.0 } else { count as f64 / arrived as f64 };
    let mut column = Vec::with_capacity(input.records.len());
    let targets: Vec<SloTargetReport> = levels
        .targets
        .iter()
        .map(|target| {
            let observed = if target.metric == SloMetric::Tbt {
                // Every token's gap, as the report's TBT distribution (within 0.4%).
                (input.tbt.count() > 0).then(|| input.tbt.quantile(target.quantile))
            } else {
                column.clear();
                column.extend(input.records.iter().filter_map(|r| value(target.metric, r)));
                crate::stats::sort_floats(&mut column);
                quantile_with_failures(&column, input.not_completed, target.quantile)
            };
            let within = input.records.iter().filter(|r| meets(target, r)).count();
            SloTargetReport {
                metric: target.metric.name().to_string(),
                quantile: target.quantile,
                max_s: target.max_s,
                observed_s: observed,
                attainment: share(within),
                met: observed.is_some_and(|v| v <= target.max_s),
            }
        })
        .collect();
    let meeting: Vec<&RequestRecord> = input
        .records
        .iter()
        .filter(|r| match levels.combine {
            SloCombine::And => levels.targets.iter().all(|t| meets(t, r)),
            SloCombine::Or => levels.targets.iter().any(|t| meets(t, r)),
        })
        .collect();
    let attainment = share(meeting.len());
    let (required_attainment, met) = match targets.as_slice() {
        [one] => (None, one.met),
        _ => {
            let required = levels.required_share();
            (Some(required), arrived > 0 && attainment >= required)
        }
    };
    let per_s = |x: f64| if input.simulated_s > 0.0 { x / input.simulated_s } else { 0.0 };
    Some(SloReport {
        combine: levels.combine.name().to_string(),
        targets,
        attainment,
        required_attainment,
        met,
        goodput: Throughput {
            requests_per_s: per_s(meeting.len() as f64),
            input_tokens_per_s: per_s(meeting.iter().map(|r| f64::from(r.num_prefill_tokens)).sum()),
            output_tokens_per_s: per_s(meeting.iter().map(|r| f64::from(r.num_decode_tokens)).sum()),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(ttft_ms: u64, e2e_ms: u64, decode: u32) -> RequestRecord {
        RequestRecord {
            arrived_at_ns: 0,
            scheduled_at_ns: 0,
            prefill_completed_at_ns: ttft_ms * 1_000_000,
            completed_at_ns: e2e_ms * 1_000_000,
            num_prefill_tokens: 10,
            num_decode_tokens: decode,
            max_token_gap_ns: 1_000_000,
            ..RequestRecord::default()
        }
    }

    fn levels(targets: &[(SloMetric, f64, f64)], combine: SloCombine) -> ServiceLevels {
        ServiceLevels {
            targets: targets
                .iter()
                .map(|&(metric, quantile, max_s)| SloTarget { metric, quantile, max_s })
                .collect(),
            combine,
        }
    }

    #[test]
    fn one_target_is_judged_by_its_quantile_and_unfinished_requests_count_as_late() {
        // TTFTs 0.1 .. 1.0 s.
        let records: Vec<_> = (1..=10).map(|i| record(i * 100, 2000, 11)).collect();
        let tbt = QuantileSketch::new();
        let input = SloInputs { records: &records, not_completed: 0, tbt: &tbt, simulated_s: 10.0 };
        let report = evaluate(&levels(&[(SloMetric::Ttft, 0.5, 0.6)], SloCombine::And), &input).unwrap();
        let t = &report.targets[0];
        assert!((t.observed_s.unwrap() - 0.55).abs() < 1e-12, "pandas: midway between 0.5 and 0.6");
        assert!(t.met && report.met && report.required_attainment.is_none());
        assert!((report.attainment - 0.6).abs() < 1e-12);
        assert!((report.goodput.requests_per_s - 0.6).abs() < 1e-12);
        assert!((report.goodput.output_tokens_per_s - 6.6).abs() < 1e-12);
        // Ten more requests that never completed: p50 now falls on them.
        let late = SloInputs { not_completed: 10, ..input };
        let report = evaluate(&levels(&[(SloMetric::Ttft, 0.5, 0.6)], SloCombine::And), &late).unwrap();
        assert_eq!(report.targets[0].observed_s, None);
        assert!(!report.met);
        assert!((report.attainment - 0.3).abs() < 1e-12);
        let p40 = evaluate(&levels(&[(SloMetric::Ttft, 0.4, 0.9)], SloCombine::And), &late).unwrap();
        assert!((p40.targets[0].observed_s.unwrap() - 0.86).abs() < 1e-12, "{p40:?}");
    }

    #[test]
    fn several_targets_need_the_share_of_requests_meeting_all_or_any() {
        // Request i: TTFT i × 0.1 s, e2e 2.1 − i × 0.1 s (i = 1..10).
        let records: Vec<_> = (1..=10).map(|i| record(i * 100, 2100 - i * 100, 11)).collect();
        let tbt = QuantileSketch::new();
        let input = SloInputs { records: &records, not_completed: 0, tbt: &tbt, simulated_s: 1.0 };
        let targets = [(SloMetric::Ttft, 0.5, 0.7), (SloMetric::E2e, 0.5, 1.6)];
        // TTFT ≤ 0.7: i ≤ 7; e2e ≤ 1.6: i ≥ 5. Both: i = 5..7; either: all ten.
        let and = evaluate(&levels(&targets, SloCombine::And), &input).unwrap();
        assert!((and.attainment - 0.3).abs() < 1e-12 && !and.met, "{and:?}");
        assert_eq!(and.required_attainment, Some(0.5));
        assert!(and.targets.iter().all(|t| t.met), "each alone holds at p50");
        let or = evaluate(&levels(&targets, SloCombine::Or), &input).unwrap();
        assert!((or.attainment - 1.0).abs() < 1e-12 && or.met);
    }

    #[test]
    fn tpot_of_a_one_token_output_meets_any_bound() {
        let records = [record(100, 5000, 1)];
        let tbt = QuantileSketch::new();
        let input = SloInputs { records: &records, not_completed: 0, tbt: &tbt, simulated_s: 1.0 };
        let report = evaluate(&levels(&[(SloMetric::Tpot, 0.9, 0.001)], SloCombine::And), &input).unwrap();
        assert_eq!(report.targets[0].attainment, 1.0);
        assert_eq!(report.targets[0].observed_s, None, "no samples");
    }
}
