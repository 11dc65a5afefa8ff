//! Service-level objectives: which latency metric, at which quantile, under which threshold,
//! and how several combine. Read from the `--slo_config_<metric>_max_s` /
//! `--slo_config_<metric>_quantile` / `--slo_config_combine` flags; every report evaluates them
//! (`metrics`), and the capacity search (`search`) accepts a configuration only where they hold.
//!
//! The rule, as Vidur-Search applies it (docs/search.md):
//! - **one target**: met when the metric's `quantile` over the run's requests is at most
//!   `max_s` (requests that did not complete count as infinitely late);
//! - **several targets**: each request meets the set when it meets all of them (`and`) or any
//!   (`or`); the set is met when the share of requests meeting it is at least the targets'
//!   quantile (the largest, if they differ).

use crate::config::{ConfigError, Params};

/// A per-request latency an SLO can bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SloMetric {
    /// Time to first token: arrival to the first output token.
    Ttft,
    /// Time between tokens: per token for a single target's quantile; per request its largest
    /// gap (every gap of the request within the bound) when counting requests.
    Tbt,
    /// Time per output token after the first: (e2e − TTFT) / (output tokens − 1).
    Tpot,
    /// End-to-end latency: arrival to the last token.
    E2e,
    /// Arrival to first schedule.
    SchedulingDelay,
    /// End-to-end latency per output token (Vidur's `request_e2e_time_normalized`).
    E2eNormalized,
}

impl SloMetric {
    /// Every metric, in flag order.
    pub const ALL: [SloMetric; 6] = [
        SloMetric::Ttft,
        SloMetric::Tbt,
        SloMetric::Tpot,
        SloMetric::E2e,
        SloMetric::SchedulingDelay,
        SloMetric::E2eNormalized,
    ];

    /// Its name in flags, search specs and reports (`ttft`).
    pub fn name(self) -> &'static str {
        match self {
            SloMetric::Ttft => "ttft",
            SloMetric::Tbt => "tbt",
            SloMetric::Tpot => "tpot",
            SloMetric::E2e => "e2e",
            SloMetric::SchedulingDelay => "scheduling_delay",
            SloMetric::E2eNormalized => "e2e_normalized",
        }
    }

    /// The metric called `name`.
    pub fn parse(name: &str) -> Option<SloMetric> {
        SloMetric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The flag holding its bound.
    pub fn max_flag(self) -> &'static str {
        match self {
            SloMetric::Ttft => "slo_config_ttft_max_s",
            SloMetric::Tbt => "slo_config_tbt_max_s",
            SloMetric::Tpot => "slo_config_tpot_max_s",
            SloMetric::E2e => "slo_config_e2e_max_s",
            SloMetric::SchedulingDelay => "slo_config_scheduling_delay_max_s",
            SloMetric::E2eNormalized => "slo_config_e2e_normalized_max_s",
        }
    }

    /// The flag holding its quantile.
    pub fn quantile_flag(self) -> &'static str {
        match self {
            SloMetric::Ttft => "slo_config_ttft_quantile",
            SloMetric::Tbt => "slo_config_tbt_quantile",
            SloMetric::Tpot => "slo_config_tpot_quantile",
            SloMetric::E2e => "slo_config_e2e_quantile",
            SloMetric::SchedulingDelay => "slo_config_scheduling_delay_quantile",
            SloMetric::E2eNormalized => "slo_config_e2e_normalized_quantile",
        }
    }

    /// A short label for tables (`TTFT`).
    pub fn label(self) -> &'static str {
        match self {
            SloMetric::Ttft => "TTFT",
            SloMetric::Tbt => "TBT",
            SloMetric::Tpot => "TPOT",
            SloMetric::E2e => "E2E",
            SloMetric::SchedulingDelay => "scheduling delay",
            SloMetric::E2eNormalized => "E2E per output token",
        }
    }
}

/// How several targets combine, per request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SloCombine {
    /// A request meets the set when it meets every target.
    #[default]
    And,
    /// A request meets the set when it meets any target.
    Or,
}

impl SloCombine {
    /// `and` or `or`.
    pub fn name(self) -> &'static str {
        match self {
            SloCombine::And => "and",
            SloCombine::Or => "or",
        }
    }

    /// The combination called `name`.
    pub fn parse(name: &str) -> Option<SloCombine> {
        match name {
            "and" => Some(SloCombine::And),
            "or" => Some(SloCombine::Or),
            _ => None,
        }
    }
}

/// One objective: `metric`'s `quantile` at most `max_s`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SloTarget {
    /// The latency bounded.
    pub metric: SloMetric,
    /// The quantile that must meet the bound, in (0, 1].
    pub quantile: f64,
    /// The bound, seconds (seconds per output token for `e2e_normalized`).
    pub max_s: f64,
}

/// The run's objectives; empty when no `--slo_config_<metric>_max_s` is set.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceLevels {
    /// The targets, in [`SloMetric::ALL`] order.
    pub targets: Vec<SloTarget>,
    /// How they combine per request.
    pub combine: SloCombine,
}

impl ServiceLevels {
    /// Whether any objective is set.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// The share of requests that must meet the set when several targets combine: the largest
    /// of their quantiles (Vidur-Search's configurations give them one).
    pub fn required_share(&self) -> f64 {
        self.targets.iter().map(|t| t.quantile).fold(0.0, f64::max)
    }

    /// Reads the objectives from their flags; a bound must be a positive number of seconds and a
    /// quantile lie in (0, 1].
    pub fn read(p: &mut Params) -> ServiceLevels {
        let mut targets = Vec::new();
        for metric in SloMetric::ALL {
            let quantile = p.float(metric.quantile_flag());
            let Some(max_s) = p.opt_float(metric.max_flag()) else { continue };
            if !(max_s > 0.0 && max_s.is_finite()) {
                p.error(ConfigError::new(
                    metric.max_flag(),
                    format!("{max_s} must be a positive number of seconds"),
                ));
                continue;
            }
            if !(quantile > 0.0 && quantile <= 1.0) {
                p.error(
                    ConfigError::new(metric.quantile_flag(), format!("{quantile} must lie in (0, 1]"))
                        .with_hint("0.9 means 90% of requests"),
                );
                continue;
            }
            targets.push(SloTarget { metric, quantile, max_s });
        }
        let combine_text = p.string("slo_config_combine");
        let combine = SloCombine::parse(&combine_text).unwrap_or_default();
        ServiceLevels { targets, combine }
    }
}
