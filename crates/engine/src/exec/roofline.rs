//! The analytical roofline predictor: each op's time is the larger of its FLOPs at an
//! efficiency-scaled peak and its bytes at an efficiency-scaled bandwidth, plus a launch cost.

use std::sync::Arc;

use super::{BatchItem, ExecutionTime, Op, Provenance, SharedPredictor, StagePosition};
use crate::config::{FlagDef, Params, ReplicaSpec};

pub(super) const FLAGS: &[FlagDef] = &[
    FlagDef::float(
        "roofline_execution_time_predictor_config_cpu_overhead_ms",
        "0.5",
        "CPU time per iteration (scheduling, sampling, input preparation), in ms.",
    ),
    FlagDef::float(
        "roofline_execution_time_predictor_config_cpu_overhead_per_request_ms",
        "0.005",
        "Extra CPU time per request in the batch, in ms.",
    ),
];

pub(super) fn parse(params: &mut Params, replica: &ReplicaSpec) -> Option<SharedPredictor> {
    let cpu_ms = params.float_in("roofline_execution_time_predictor_config_cpu_overhead_ms", 0.0, 1e4);
    let cpu_per_req_ms = params.float_in("roofline_execution_time_predictor_config_cpu_overhead_per_request_ms", 0.0, 1e3);
    let coefficients = RooflineCoefficients { cpu_overhead_ms: cpu_ms, cpu_overhead_per_request_ms: cpu_per_req_ms, ..RooflineCoefficients::default() };
    Some(Arc::new(RooflinePredictor::new(replica, coefficients)))
}

/// Efficiencies and fixed costs of the roofline model.
#[derive(Clone, Debug, PartialEq)]
pub struct RooflineCoefficients {
    /// Fraction of peak FLOP/s GEMMs reach.
    pub gemm_compute_eff: f64,
    /// Fraction of peak bandwidth GEMMs reach.
    pub gemm_memory_eff: f64,
    /// Launch cost of one GEMM, µs.
    pub gemm_overhead_us: f64,
    /// Fraction of peak bandwidth element-wise kernels reach.
    pub elementwise_memory_eff: f64,
    /// Launch cost of one element-wise kernel, µs.
    pub elementwise_overhead_us: f64,
    /// Fraction of peak FLOP/s attention reaches.
    pub attention_compute_eff: f64,
    /// Fraction of peak bandwidth attention reaches.
    pub attention_memory_eff: f64,
    /// Launch cost of an attention kernel, µs.
    pub attention_overhead_us: f64,
    /// Extra decode-attention cost per sequence, µs.
    pub decode_per_sequence_us: f64,
    /// Fraction of link bandwidth collectives reach.
    pub collective_eff: f64,
    /// CPU overhead per iteration, ms.
    pub cpu_overhead_ms: f64,
    /// CPU overhead per request in the batch, ms.
    pub cpu_overhead_per_request_ms: f64,
}

impl Default for RooflineCoefficients {
    fn default() -> RooflineCoefficients {
        // Zero-fit defaults from ../shared/notes/execution-time.md §4.2/§6.2 (H100-class).
        RooflineCoefficients {
            gemm_compute_eff: 0.70,
            gemm_memory_eff: 0.85,
            gemm_overhead_us: 6.0,
            elementwise_memory_eff: 0.45,
            elementwise_overhead_us: 2.0,
            attention_compute_eff: 0.50,
            attention_memory_eff: 0.80,
            attention_overhead_us: 10.0,
            decode_per_sequence_us: 0.06,
            collective_eff: 0.6,
            cpu_overhead_ms: 0.5,
            cpu_overhead_per_request_ms: 0.005,
        }
    }
}

/// Roofline predictor for one replica shape (model, device, node, TP/PP, dtypes).
#[derive(Clone, Debug)]
pub struct RooflinePredictor {
    c: RooflineCoefficients,
    peak_flops: f64,
    peak_flops_weights: f64,
    mem_bw: f64,
    layers: f64,
    e: f64,
    head_dim: f64,
    q_heads: f64,
    kv_heads: f64,
    mlp_dim: f64,
    gated: bool,
    vocab: f64,
    moe: Option<(f64, f64, f64)>,
    weight_bytes: f64,
    kv_bytes: f64,
    tp: f64,
    tp_bw: f64,
    tp_latency_us: f64,
    pp_bw: f64,
    pp_latency_us: f64,
    post_attn_norm: bool,
}

const ACT_BYTES: f64 = 2.0;

impl RooflinePredictor {
    /// A predictor for `replica` with the given coefficients.
    pub fn new(replica: &ReplicaSpec, c: RooflineCoefficients) -> RooflinePredictor {
        let m = &replica.model;
        let tp = replica.parallel.tensor_parallel_size as f64;
        let device = &replica.device;
        let node = &replica.node;
        let fp16 = device.fp16_tflops * 1e12;
        let fp8 = device.fp8_tflops.map_or(fp16, |t| t * 1e12);
        let peak_flops_weights = if replica.weight_dtype.bytes() == 1 { fp8 } else { fp16 };
        let within_node = replica.parallel.tensor_parallel_size <= node.devices_per_node;
        let (tp_bw, tp_latency_us) = if within_node {
            (node.intra_node_bandwidth_gbps * 1e9, node.intra_node_latency_us)
        } else {
            (node.inter_node_bandwidth_gbps * 1e9, node.inter_node_latency_us)
        };
        let spans_nodes = replica.parallel.world_size() > node.devices_per_node;
        let (pp_bw, pp_latency_us) = if spans_nodes {
            (node.inter_node_bandwidth_gbps * 1e9, node.inter_node_latency_us)
        } else {
            (node.intra_node_bandwidth_gbps * 1e9, node.intra_node_latency_us)
        };
        RooflinePredictor {
            c,
            peak_flops: fp16,
            peak_flops_weights,
            mem_bw: device.memory_bandwidth_gbps * 1e9,
            layers: replica.layers_per_stage() as f64,
            e: m.embedding_dim as f64,
            head_dim: m.head_dim() as f64,
            q_heads: (m.num_q_heads as f64 / tp).max(1.0),
            kv_heads: m.num_kv_heads.div_ceil(replica.parallel.tensor_parallel_size) as f64,
            mlp_dim: m.mlp_hidden_dim as f64 / tp,
            gated: m.use_gated_mlp,
            vocab: m.vocab_size as f64 / tp,
            moe: m.moe.as_ref().map(|moe| (moe.num_experts as f64, moe.top_k as f64, moe.expert_hidden_dim as f64 / tp)),
            weight_bytes: replica.weight_dtype.bytes() as f64,
            kv_bytes: replica.kv_cache_dtype.bytes() as f64,
            tp,
            tp_bw,
            tp_latency_us,
            pp_bw,
            pp_latency_us,
            post_attn_norm: m.post_attn_norm,
        }
    }

    fn gemm_ms(&self, m: f64, n: f64, k: f64) -> f64 {
        if m <= 0.0 {
            return 0.0;
        }
        let flops = 2.0 * m * n * k;
        let bytes = m * k * ACT_BYTES + k * n * self.weight_bytes + m * n * ACT_BYTES;
        let t = (flops / (self.peak_flops_weights * self.c.gemm_compute_eff)).max(bytes / (self.mem_bw * self.c.gemm_memory_eff));
        t * 1e3 + self.c.gemm_overhead_us * 1e-3
    }

    fn elementwise_ms(&self, bytes: f64) -> f64 {
        if bytes <= 0.0 {
            return 0.0;
        }
        bytes / (self.mem_bw * self.c.elementwise_memory_eff) * 1e3 + self.c.elementwise_overhead_us * 1e-3
    }

    fn all_reduce_ms(&self, bytes: f64) -> f64 {
        if self.tp <= 1.0 || bytes <= 0.0 {
            return 0.0;
        }
        let ring = 2.0 * (self.tp - 1.0) / self.tp * bytes / (self.tp_bw * self.c.collective_eff);
        ring * 1e3 + self.tp_latency_us * 1e-3
    }
}

impl super::ExecutionTimePredictor for RooflinePredictor {
    fn predict(&self, batch: &[BatchItem], position: StagePosition) -> ExecutionTime {
        let mut out = ExecutionTime::default();
        let tokens: f64 = batch.iter().map(|b| b.num_tokens as f64).sum();
        let l = self.layers;
        let e = self.e;
        let hd = self.head_dim;
        let r = Provenance::Roofline;

        // Attention projections and element-wise ops, per layer.
        out.set(Op::InputLayernorm, l * self.elementwise_ms(2.0 * tokens * e * ACT_BYTES), r);
        out.set(Op::AttnPreProj, l * self.gemm_ms(tokens, (self.q_heads + 2.0 * self.kv_heads) * hd, e), r);
        out.set(Op::AttnRope, l * self.elementwise_ms(2.0 * tokens * (self.q_heads + self.kv_heads) * hd * ACT_BYTES), r);
        out.set(Op::AttnKvCacheSave, l * self.elementwise_ms(tokens * 2.0 * self.kv_heads * hd * self.kv_bytes), r);

        // Prefill attention: causal FLOPs over each chunk against its context.
        let mut prefill_flops = 0.0;
        let mut prefill_bytes = 0.0;
        let mut decode_bytes = 0.0;
        let mut decode_flops = 0.0;
        let mut decode_seqs = 0.0;
        for item in batch {
            let c = item.num_tokens as f64;
            let k = item.num_processed_tokens as f64;
            if item.is_prefill {
                prefill_flops += 4.0 * self.q_heads * hd * c * (k + c / 2.0);
                prefill_bytes += (k + c) * 2.0 * self.kv_heads * hd * self.kv_bytes + 2.0 * c * self.q_heads * hd * ACT_BYTES;
            } else {
                decode_seqs += 1.0;
                decode_flops += 4.0 * self.q_heads * hd * (k + 1.0);
                decode_bytes += (k + 1.0) * 2.0 * self.kv_heads * hd * self.kv_bytes;
            }
        }
        if prefill_flops > 0.0 {
            let t = (prefill_flops / (self.peak_flops * self.c.attention_compute_eff))
                .max(prefill_bytes / (self.mem_bw * self.c.attention_memory_eff));
            out.set(Op::AttnPrefill, l * (t * 1e3 + self.c.attention_overhead_us * 1e-3), r);
        }
        if decode_seqs > 0.0 {
            let t = (decode_flops / (self.peak_flops * self.c.attention_compute_eff))
                .max(decode_bytes / (self.mem_bw * self.c.attention_memory_eff));
            let ms = t * 1e3 + (self.c.attention_overhead_us + self.c.decode_per_sequence_us * decode_seqs) * 1e-3;
            out.set(Op::AttnDecode, l * ms, r);
        }

        out.set(Op::AttnPostProj, l * self.gemm_ms(tokens, e, self.q_heads * hd), r);
        let activation_bytes = tokens * e * ACT_BYTES;
        out.set(Op::AttnPostProjAllReduce, l * self.all_reduce_ms(activation_bytes), r);
        if self.post_attn_norm {
            out.set(Op::PostAttentionLayernorm, l * self.elementwise_ms(2.0 * tokens * e * ACT_BYTES), r);
        }

        // MLP (dense) or experts (MoE).
        let up_factor = if self.gated { 2.0 } else { 1.0 };
        match self.moe {
            None => {
                out.set(Op::MlpUpProj, l * self.gemm_ms(tokens, up_factor * self.mlp_dim, e), r);
                out.set(Op::MlpAct, l * self.elementwise_ms(tokens * self.mlp_dim * ACT_BYTES * (up_factor + 1.0)), r);
                out.set(Op::MlpDownProj, l * self.gemm_ms(tokens, e, self.mlp_dim), r);
            }
            Some((experts, top_k, expert_dim)) => {
                out.set(Op::MoeRouter, l * self.gemm_ms(tokens, experts, e), r);
                // Each active expert sees its share of routed tokens but loads all its weights.
                let active = experts.min(tokens * top_k).max(1.0);
                let per_expert_tokens = tokens * top_k / active;
                let expert_ms = self.gemm_ms(per_expert_tokens, up_factor * expert_dim, e)
                    + self.gemm_ms(per_expert_tokens, e, expert_dim)
                    + self.elementwise_ms(per_expert_tokens * expert_dim * ACT_BYTES * (up_factor + 1.0));
                out.set(Op::MoeExperts, l * active * expert_ms, r);
            }
        }
        out.set(Op::MlpDownProjAllReduce, l * self.all_reduce_ms(activation_bytes), r);
        out.set(Op::Add, l * 2.0 * self.elementwise_ms(3.0 * tokens * e * ACT_BYTES), r);

        if position.is_first() {
            out.set(Op::Embedding, self.elementwise_ms(tokens * e * ACT_BYTES), r);
        }
        if position.is_last() {
            // Logits for every sequence in the batch.
            out.set(Op::LmHead, self.gemm_ms(batch.len() as f64, self.vocab, e), r);
        } else {
            let ms = activation_bytes / (self.pp_bw * self.c.collective_eff) * 1e3 + self.pp_latency_us * 1e-3;
            out.set(Op::PipelineSendRecv, ms, r);
        }
        out.set(Op::CpuOverhead, self.c.cpu_overhead_ms + self.c.cpu_overhead_per_request_ms * batch.len() as f64, r);
        out
    }

    fn describe(&self) -> String {
        "roofline (datasheet peaks × default efficiencies)".to_string()
    }
}
