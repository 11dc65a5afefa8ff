//! Execution-time prediction: how long one batch takes on one pipeline stage, op by op.
//!
//! Every predictor implements [`ExecutionTimePredictor`] and is registered in [`PREDICTORS`];
//! the configuration picks one by `--execution_time_predictor_config_type`.

pub mod calibration;
pub mod cost;
mod host_time;
mod interp;
pub mod moe_parallel;
mod profile;
mod profile_csv;
mod roofline;
mod shape;
mod speculative;

pub use cost::{
    AlphaBeta, AttentionShape, Collective, Curve, DecodeWork, LatentShape, MoeRouting, MoeShape, Peaks,
    PrefillWork,
};
pub(crate) use host_time::{SGLANG_OVERLAP_FLAG, non_overlap_cpu_overhead, sglang_overlap_schedule};
pub use interp::{Table1, Table2};
pub use profile::{MLP_COLUMNS, ProfilePredictor};
pub use profile_csv::ProfileCsv;
pub use roofline::{MoeRoutingKind, RooflineCoefficients, RooflinePredictor};
pub use shape::LayerShape;
pub use speculative::SpeculativePredictor;

use std::sync::Arc;

use crate::config::{FlagDef, Params, ReplicaSpec};
use crate::time::{Nanos, secs_to_nanos};

/// One request's part of a batch, as the predictor sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchItem {
    /// Tokens already in the KV cache before this iteration.
    pub num_processed_tokens: u32,
    /// Tokens this iteration processes for the request (prefill chunk, or 1 for a decode).
    pub num_tokens: u32,
    /// Whether this is prefill work (false: a decode step).
    pub is_prefill: bool,
    /// The attention-DP rank the replica's scheduler gave the request
    /// ([`BatchItem::NO_RANK`] where it gives none: the predictor then spreads the batch over
    /// the ranks by tokens).
    pub dp_rank: u16,
}

impl BatchItem {
    /// No attention-DP rank assigned.
    pub const NO_RANK: u16 = u16::MAX;

    /// `num_tokens` of prefill (`is_prefill`) or decode work after `num_processed_tokens`
    /// cached ones, on no particular attention-DP rank ([`BatchItem::NO_RANK`]).
    pub const fn new(num_processed_tokens: u32, num_tokens: u32, is_prefill: bool) -> BatchItem {
        BatchItem { num_processed_tokens, num_tokens, is_prefill, dp_rank: BatchItem::NO_RANK }
    }

    /// A prefill chunk of `num_tokens` after `num_processed_tokens` cached ones
    /// ([`BatchItem::new`]).
    pub const fn prefill(num_processed_tokens: u32, num_tokens: u32) -> BatchItem {
        BatchItem::new(num_processed_tokens, num_tokens, true)
    }

    /// A decode step of `num_tokens` (1, or k + 1 for a speculative verification) over
    /// `num_processed_tokens` cached ones ([`BatchItem::new`]).
    pub const fn decode(num_processed_tokens: u32, num_tokens: u32) -> BatchItem {
        BatchItem::new(num_processed_tokens, num_tokens, false)
    }
}

/// Which stage of how many a batch is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StagePosition {
    /// Stage index, 0-based.
    pub stage: u32,
    /// Pipeline stages of the replica.
    pub num_stages: u32,
}

impl StagePosition {
    /// Whether this is the first stage (it runs the embedding).
    pub fn is_first(self) -> bool {
        self.stage == 0
    }
    /// Whether this is the last stage (it runs the LM head and sends nothing on).
    pub fn is_last(self) -> bool {
        self.stage + 1 == self.num_stages
    }
}

/// The operations a stage's time is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[allow(missing_docs)] // The names are Vidur's operation names.
pub enum Op {
    Embedding,
    InputLayernorm,
    AttnPreProj,
    AttnRope,
    AttnKvCacheSave,
    AttnPrefill,
    AttnDecode,
    AttnPostProj,
    AttnPostProjAllReduce,
    PostAttentionLayernorm,
    MlpUpProj,
    MlpAct,
    MlpDownProj,
    MlpDownProjAllReduce,
    MoeRouter,
    MoeExperts,
    /// The MoE layers' exchange under attention TP with EP: the TP group's all-reduce of the
    /// experts' partial sums ([`moe_parallel::ExchangeKind::AllReduce`]).
    MoeAllReduce,
    /// The MoE layers' exchange under attention DP without a one-sided all-to-all: the
    /// all-gather of the other DP ranks' tokens before the experts and the reduce-scatter of
    /// the sums after ([`moe_parallel::ExchangeKind::GatherScatter`]).
    MoeAllGatherReduceScatter,
    /// The MoE layers' exchange on a multi-node NVLink rack: the token-level all-to-all
    /// dispatch and combine ([`moe_parallel::ExchangeKind::AllToAll`]).
    MoeAllToAll,
    Add,
    LmHead,
    PipelineSendRecv,
    CpuOverhead,
    /// Speculative decoding's draft: the MTP module, EAGLE head or draft model run k times on
    /// the last stage (`--replica_config_speculative_method`).
    SpeculativeDraft,
}

impl Op {
    /// Number of operations.
    pub const COUNT: usize = 24;
    /// Every operation, in execution order.
    pub const ALL: [Op; Op::COUNT] = [
        Op::Embedding,
        Op::InputLayernorm,
        Op::AttnPreProj,
        Op::AttnRope,
        Op::AttnKvCacheSave,
        Op::AttnPrefill,
        Op::AttnDecode,
        Op::AttnPostProj,
        Op::AttnPostProjAllReduce,
        Op::PostAttentionLayernorm,
        Op::MlpUpProj,
        Op::MlpAct,
        Op::MlpDownProj,
        Op::MlpDownProjAllReduce,
        Op::MoeRouter,
        Op::MoeExperts,
        Op::MoeAllReduce,
        Op::MoeAllGatherReduceScatter,
        Op::MoeAllToAll,
        Op::Add,
        Op::LmHead,
        Op::PipelineSendRecv,
        Op::CpuOverhead,
        Op::SpeculativeDraft,
    ];

    /// Vidur-style snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Op::Embedding => "embedding",
            Op::InputLayernorm => "input_layernorm",
            Op::AttnPreProj => "attn_pre_proj",
            Op::AttnRope => "attn_rope",
            Op::AttnKvCacheSave => "attn_kv_cache_save",
            Op::AttnPrefill => "attn_prefill",
            Op::AttnDecode => "attn_decode",
            Op::AttnPostProj => "attn_post_proj",
            Op::AttnPostProjAllReduce => "attn_post_proj_all_reduce",
            Op::PostAttentionLayernorm => "post_attention_layernorm",
            Op::MlpUpProj => "mlp_up_proj",
            Op::MlpAct => "mlp_act",
            Op::MlpDownProj => "mlp_down_proj",
            Op::MlpDownProjAllReduce => "mlp_down_proj_all_reduce",
            Op::MoeRouter => "moe_router",
            Op::MoeExperts => "moe_experts",
            Op::MoeAllReduce => "moe_all_reduce",
            Op::MoeAllGatherReduceScatter => "moe_all_gather_reduce_scatter",
            Op::MoeAllToAll => "moe_all_to_all",
            Op::Add => "add",
            Op::LmHead => "lm_head",
            Op::PipelineSendRecv => "pipeline_send_recv",
            Op::CpuOverhead => "cpu_overhead",
            Op::SpeculativeDraft => "speculative_draft",
        }
    }

    /// Whether the op runs in every layer (its time is per layer × layers on the stage).
    pub fn is_per_layer(self) -> bool {
        !matches!(
            self,
            Op::Embedding | Op::LmHead | Op::PipelineSendRecv | Op::CpuOverhead | Op::SpeculativeDraft
        )
    }
}

/// Where an op's predicted time came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Provenance {
    /// The op does not run in this batch (zero time).
    #[default]
    None,
    /// A measured table row at exactly this shape.
    Measured,
    /// Interpolated between measured rows.
    Interpolated,
    /// Outside the measured range, extended from the nearest rows.
    Extrapolated,
    /// The analytical roofline model.
    Roofline,
}

impl Provenance {
    /// Every provenance that carries time.
    pub const TIMED: [Provenance; 4] =
        [Provenance::Measured, Provenance::Interpolated, Provenance::Extrapolated, Provenance::Roofline];

    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Provenance::None => "none",
            Provenance::Measured => "measured",
            Provenance::Interpolated => "interpolated",
            Provenance::Extrapolated => "extrapolated",
            Provenance::Roofline => "roofline",
        }
    }
}

/// A predicted stage time with its per-op breakdown.
#[derive(Clone, Debug, PartialEq)]
pub struct ExecutionTime {
    /// Milliseconds each op takes on the whole stage (per-layer ops already × layers).
    pub op_ms: [f64; Op::COUNT],
    /// Where each op's time came from.
    pub provenance: [Provenance; Op::COUNT],
}

impl Default for ExecutionTime {
    fn default() -> ExecutionTime {
        ExecutionTime { op_ms: [0.0; Op::COUNT], provenance: [Provenance::None; Op::COUNT] }
    }
}

impl ExecutionTime {
    /// Sets an op's stage time and provenance.
    pub fn set(&mut self, op: Op, ms: f64, provenance: Provenance) {
        self.op_ms[op as usize] = ms.max(0.0);
        self.provenance[op as usize] = if ms > 0.0 { provenance } else { Provenance::None };
    }

    /// An op's stage time in ms.
    pub fn get(&self, op: Op) -> f64 {
        self.op_ms[op as usize]
    }

    /// Time on the GPU (everything but CPU overhead), in ms.
    pub fn model_ms(&self) -> f64 {
        self.total_ms() - self.get(Op::CpuOverhead)
    }

    /// The stage's duration in ms.
    pub fn total_ms(&self) -> f64 {
        // Summed in a fixed order so the result is identical everywhere.
        self.op_ms.iter().sum()
    }

    /// The stage's duration in whole nanoseconds (at least 1, so time always advances).
    pub fn total_ns(&self) -> Nanos {
        secs_to_nanos(self.total_ms() / 1e3).max(1)
    }

    /// GPU time in whole nanoseconds.
    pub fn model_ns(&self) -> Nanos {
        secs_to_nanos(self.model_ms() / 1e3)
    }

    /// [`ExecutionTime::total_ns`] and [`ExecutionTime::model_ns`], summing the ops once.
    pub fn total_and_model_ns(&self) -> (Nanos, Nanos) {
        let total_ms = self.total_ms();
        let model_ms = total_ms - self.get(Op::CpuOverhead);
        (secs_to_nanos(total_ms / 1e3).max(1), secs_to_nanos(model_ms / 1e3))
    }
}

/// Predicts stage times. Implementations are pure functions of their inputs.
pub trait ExecutionTimePredictor: Send + Sync {
    /// The time of `batch` on the stage at `position`.
    fn predict(&self, batch: &[BatchItem], position: StagePosition) -> ExecutionTime;

    /// A one-line description for reports (which tables or coefficients it uses).
    fn describe(&self) -> String;
}

/// A predictor shared by every replica of a run.
pub type SharedPredictor = Arc<dyn ExecutionTimePredictor>;

/// Builds a predictor from validated parameters and the replica's shape; `None` after an error
/// was recorded in `params`.
pub type PredictorParser = fn(&mut Params, &ReplicaSpec) -> Option<SharedPredictor>;

/// A registered execution-time predictor.
pub struct PredictorEntry {
    /// Its `--execution_time_predictor_config_type` name.
    pub name: &'static str,
    /// One sentence for the form; empty without the engine's `help-texts`
    /// feature ([`crate::config::help_text`]).
    pub summary: &'static str,
    /// Its own flags.
    pub flags: &'static [FlagDef],
    /// Reads its flags and builds it.
    pub parse: PredictorParser,
}

/// Every execution-time predictor, by name.
pub static PREDICTORS: &[PredictorEntry] = &[
    PredictorEntry {
        name: "roofline",
        summary: crate::config::help_text(
            "Calibrated roofline: op times from FLOPs and bytes at datasheet peaks, with efficiencies fitted to measured tables; needs no profiling data.",
        ),
        flags: roofline::FLAGS,
        parse: roofline::parse,
    },
    PredictorEntry {
        name: "profile",
        summary: crate::config::help_text(
            "Vidur-format profile tables (mlp, attention, all_reduce, send_recv, cpu_overhead CSVs), interpolated; the calibrated roofline beyond them.",
        ),
        flags: profile::PROFILE_FLAGS,
        parse: profile::parse_profile,
    },
    PredictorEntry {
        name: "random_forest",
        summary: crate::config::help_text(
            "Vidur's name: reads the same profile tables as `profile` (interpolated, no forest is trained).",
        ),
        flags: profile::RANDOM_FOREST_FLAGS,
        parse: profile::parse_random_forest,
    },
    PredictorEntry {
        name: "linear_regression",
        summary: crate::config::help_text(
            "Vidur's name: reads the same profile tables as `profile` (interpolated, no regression is fitted).",
        ),
        flags: profile::LINEAR_REGRESSION_FLAGS,
        parse: profile::parse_linear_regression,
    },
];

/// Total stage time and provenance shares accumulated over a run.
#[derive(Clone, Debug, Default)]
pub struct ProvenanceTotals {
    /// Milliseconds attributed to each provenance, indexed like [`Provenance::TIMED`].
    pub ms: [f64; 4],
}

impl ProvenanceTotals {
    /// Adds one stage's breakdown.
    pub fn add(&mut self, time: &ExecutionTime) {
        for (ms, provenance) in time.op_ms.iter().zip(time.provenance) {
            if let Some(i) = Provenance::TIMED.iter().position(|p| *p == provenance) {
                self.ms[i] += ms;
            }
        }
    }

    /// Share of the total per provenance name (0..1), in [`Provenance::TIMED`] order.
    pub fn shares(&self) -> Vec<(&'static str, f64)> {
        let total: f64 = self.ms.iter().sum();
        Provenance::TIMED
            .iter()
            .zip(self.ms)
            .map(|(p, ms)| (p.name(), if total > 0.0 { ms / total } else { 0.0 }))
            .collect()
    }
}

#[cfg(test)]
mod execution_time_tests {
    use super::*;

    #[test]
    fn total_and_model_nanoseconds_at_once_are_the_separate_ones() {
        // Sums that round (0.1 + 0.2), CPU overhead larger than the rest, and nothing at all.
        let cases: [&[(Op, f64)]; 4] = [
            &[(Op::AttnPrefill, 0.1), (Op::MlpUpProj, 0.2), (Op::CpuOverhead, 0.3)],
            &[(Op::CpuOverhead, 5.0), (Op::LmHead, 1e-7)],
            &[(Op::Embedding, 123.456_789_012_3)],
            &[],
        ];
        for ops in cases {
            let mut time = ExecutionTime::default();
            for &(op, ms) in ops {
                time.set(op, ms, Provenance::Roofline);
            }
            assert_eq!(time.total_and_model_ns(), (time.total_ns(), time.model_ns()), "{ops:?}");
        }
    }
}
