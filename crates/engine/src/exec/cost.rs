//! Roofline cost formulas of single GPU operations, shared by the predictors, the calibration
//! tool and the accuracy tests so that all three evaluate exactly the same model.
//!
//! Every formula is `overhead + per_item × items + soft_max(F / (P × ec), B / (W × em × ramp))`:
//! F and B are the op's FLOPs and bytes, P and W the device's peak FLOP/s and bandwidth, and the
//! efficiencies, overhead and transition sharpness come from a fitted [`Curve`].

use serde::{Deserialize, Serialize};

/// Fitted coefficients of one op class's roofline curve.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    /// Fraction of peak FLOP/s reached when compute bound (unused by memory-only ops).
    #[serde(default)]
    pub compute_eff: f64,
    /// Fraction of peak memory bandwidth reached when memory bound.
    pub memory_eff: f64,
    /// Fixed cost per call (launch, synchronisation), µs.
    pub overhead_us: f64,
    /// Extra cost per item, µs: per sequence for decode attention, per step of the reduction
    /// dimension `k` for a GEMM, per row element for an element-wise kernel with an overlapped
    /// overhead (the latency of one row).
    #[serde(default)]
    pub per_item_us: f64,
    /// Parallel work units at which bandwidth use reaches 63 % (decode attention's occupancy
    /// ramp); 0 = always full.
    #[serde(default)]
    pub ramp_units: f64,
    /// Exponent of the soft maximum joining the compute and memory terms (2 = Euclidean,
    /// large = plain maximum).
    #[serde(default = "default_sharpness")]
    pub sharpness: f64,
    /// The fixed cost overlaps the transfer (joined by the soft maximum) instead of adding to
    /// it: small element-wise kernels take a near-constant time until enough rows fill the GPU.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub overlapped_overhead: bool,
    /// GEMM row tile: the compute term counts `m` rounded up to a multiple of this (tensor-core
    /// kernels compute whole tiles, so 520 rows cost as much as 640 with 128-row tiles); 0 = no
    /// rounding.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub m_tile: f64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

fn default_sharpness() -> f64 {
    2.0
}

impl Curve {
    /// A memory-bound curve (element-wise kernels).
    pub const fn memory(memory_eff: f64, overhead_us: f64) -> Curve {
        Curve {
            compute_eff: 0.0,
            memory_eff,
            overhead_us,
            per_item_us: 0.0,
            ramp_units: 0.0,
            sharpness: 2.0,
            overlapped_overhead: false,
            m_tile: 0.0,
        }
    }

    /// A compute/memory curve (GEMMs, attention).
    pub const fn roofline(compute_eff: f64, memory_eff: f64, overhead_us: f64) -> Curve {
        Curve {
            compute_eff,
            memory_eff,
            overhead_us,
            per_item_us: 0.0,
            ramp_units: 0.0,
            sharpness: 2.0,
            overlapped_overhead: false,
            m_tile: 0.0,
        }
    }

    /// The curve with its memory-bound time (fixed cost, per-item latency, bandwidth term)
    /// multiplied by `scale` and its compute term unchanged.
    pub fn stream_scaled(self, scale: f64) -> Curve {
        Curve {
            memory_eff: self.memory_eff / scale,
            overhead_us: self.overhead_us * scale,
            per_item_us: self.per_item_us * scale,
            ..self
        }
    }

    /// Whether every coefficient is finite and the efficiencies positive.
    pub fn is_valid(&self) -> bool {
        let all = [
            self.compute_eff,
            self.memory_eff,
            self.overhead_us,
            self.per_item_us,
            self.ramp_units,
            self.sharpness,
            self.m_tile,
        ];
        all.iter().all(|x| x.is_finite())
            && self.m_tile >= 0.0
            && self.memory_eff > 0.0
            && self.compute_eff >= 0.0
            && self.sharpness >= 1.0
    }
}

/// Peak rates of a device, in the units the formulas use.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Peaks {
    /// Dense tensor FLOP/s at the op's dtype.
    pub flops_per_s: f64,
    /// Memory bandwidth, bytes/s.
    pub bytes_per_s: f64,
}

/// `(a^k + b^k)^(1/k)`: a smooth maximum that, unlike `max`, charges some time for the
/// smaller term, as real kernels overlap compute and memory traffic imperfectly.
pub fn soft_max(a: f64, b: f64, k: f64) -> f64 {
    if a <= 0.0 {
        return b;
    }
    if b <= 0.0 {
        return a;
    }
    // Scaled so the powers stay in range whatever the magnitudes.
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    let r = lo / hi;
    if k == 2.0 {
        return hi * (1.0 + r * r).sqrt();
    }
    if r < 1e-6 {
        return hi;
    }
    hi * libm::pow(1.0 + libm::pow(r, k), 1.0 / k)
}

/// Time of an op with `flops` and `bytes` on `peaks`, in µs. `ramp` in (0, 1] scales the
/// bandwidth actually reachable.
pub fn roofline_us(curve: &Curve, peaks: Peaks, flops: f64, bytes: f64, items: f64, ramp: f64) -> f64 {
    let compute = if curve.compute_eff > 0.0 && flops > 0.0 {
        flops / (peaks.flops_per_s * curve.compute_eff) * 1e6
    } else {
        0.0
    };
    let memory = bytes / (peaks.bytes_per_s * curve.memory_eff * ramp) * 1e6;
    if curve.overlapped_overhead {
        // Element-wise kernels: one thread block per token row loops over the row, so a few
        // rows take the latency of one row (`per_item_us` per row element) however little
        // they move, until enough rows fill the GPU and the transfer dominates.
        return soft_max(
            curve.overhead_us + curve.per_item_us * items,
            soft_max(compute, memory, 2.0),
            curve.sharpness,
        );
    }
    curve.overhead_us + curve.per_item_us * items + soft_max(compute, memory, curve.sharpness)
}

/// Tokens per tile of the block-scaled fp8 GEMM FlashInfer's TRTLLM-Gen backend runs
/// (`gemm_fp8_nt_groupwise(backend="trtllm")`): its `select_kernel_fp8`
/// (`csrc/trtllm_gemm_runner.cu`, FlashInfer 0.6.3 and 0.6.7.post3) picks one of four
/// `transOut` (swap-AB) DeepSeek-fp8 kernels by the weight's N / K ratio alone, never by the
/// token count: 128 output features × 8 tokens where N / K ≥ 32, × 32 where N / K ≤ 2 or
/// N ≥ 20,000, × 16 otherwise.
pub fn flashinfer_trtllm_fp8_token_tile(n: f64, k: f64) -> f64 {
    let ratio = n / k;
    if ratio >= 32.0 {
        8.0
    } else if ratio <= 2.0 || n >= 20_000.0 {
        32.0
    } else {
        16.0
    }
}

/// Bytes a µs that FlashInfer's TRTLLM-Gen block-scaled fp8 GEMM streams into its tiles on
/// B200: the increment of its measured time from 256 to 512 tokens at N = 2,048, K = 1,024
/// (5.09 → 8.67 µs, CUPTI median, L2 flushed; NVIDIA/cutlass#2923, reproducing
/// flashinfer-ai/flashinfer#2146) over the operand bytes the tiles of
/// [`flashinfer_trtllm_fp8_stream_us`] add (20.97 MB): 5.86 TB/s.
pub const FLASHINFER_TRTLLM_FP8_STREAM_BYTES_PER_US: f64 = 5.86e6;

/// The smallest K the TRTLLM-Gen backend takes; SGLang runs narrower GEMMs through its Triton
/// block-fp8 kernel (`flashinfer_gemm_w8a8_block_fp8_linear_with_fallback`).
pub const FLASHINFER_TRTLLM_FP8_MIN_K: f64 = 256.0;

/// µs FlashInfer's TRTLLM-Gen block-scaled fp8 GEMM takes to stream its operands for `tokens`
/// rows of a weight of `n` × `k` (fp8, one byte an element): every tile of
/// [`flashinfer_trtllm_fp8_token_tile`] tokens reads the whole weight, every 128 output
/// features read the tokens' activations. At prefill sizes the weight is re-read hundreds of
/// times (8,192 tokens in tiles of 16: 512 times), which the generic GEMM curve, a kernel
/// whose tiles span the tokens, does not see. 0 below [`FLASHINFER_TRTLLM_FP8_MIN_K`].
pub fn flashinfer_trtllm_fp8_stream_us(tokens: f64, n: f64, k: f64) -> f64 {
    if k < FLASHINFER_TRTLLM_FP8_MIN_K || tokens <= 0.0 {
        return 0.0;
    }
    let tile = flashinfer_trtllm_fp8_token_tile(n, k);
    tokens * n * k * (1.0 / tile + 1.0 / 128.0) / FLASHINFER_TRTLLM_FP8_STREAM_BYTES_PER_US
}

/// A GEMM `Y[m,n] = X[m,k] · W[k,n]`, in µs; `act_bytes` and `weight_bytes` per element.
pub fn gemm_us(
    curve: &Curve,
    peaks: Peaks,
    m: f64,
    n: f64,
    k: f64,
    act_bytes: f64,
    weight_bytes: f64,
) -> f64 {
    if m <= 0.0 {
        return 0.0;
    }
    let rows = if curve.m_tile > 0.0 { (m / curve.m_tile).ceil() * curve.m_tile } else { m };
    let flops = 2.0 * rows * n * k;
    let bytes = (m * k + m * n) * act_bytes + k * n * weight_bytes;
    // The item is one step of the reduction dimension: a tile's K loop runs serially, so a
    // small GEMM's latency grows with `k` even when it moves next to nothing.
    roofline_us(curve, peaks, flops, bytes, k, 1.0)
}

/// A memory-bound kernel moving `bytes` over rows of `row_elements` elements, in µs.
pub fn elementwise_us(curve: &Curve, peaks: Peaks, bytes: f64, row_elements: f64) -> f64 {
    if bytes <= 0.0 {
        return 0.0;
    }
    roofline_us(curve, peaks, 0.0, bytes, row_elements, 1.0)
}

/// Head layout of attention on one GPU.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AttentionShape {
    /// Query heads per GPU.
    pub q_heads: f64,
    /// Key/value heads per GPU (for latent attention, the one latent every head shares).
    pub kv_heads: f64,
    /// Per-head size.
    pub head_dim: f64,
    /// Bytes per KV-cache element.
    pub kv_bytes: f64,
    /// Multi-head latent attention's sizes, if the model uses it.
    pub latent: Option<LatentShape>,
}

/// Multi-head latent attention's sizes (DeepSeek-V2/V3): the latent ranks and per-head sizes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatentShape {
    /// Query compression rank (0 = none).
    pub q_lora: f64,
    /// Key/value latent rank: what the cache holds per token, with the rotary key.
    pub kv_lora: f64,
    /// Per-head query/key size without rotary embedding.
    pub nope: f64,
    /// Rotary size (per head for queries, shared for the key).
    pub rope: f64,
    /// Per-head value size.
    pub v: f64,
}

impl LatentShape {
    /// Per-head query/key size.
    pub fn qk(&self) -> f64 {
        self.nope + self.rope
    }

    /// Cached elements per token: the latent and the rotary key.
    pub fn cached(&self) -> f64 {
        self.kv_lora + self.rope
    }
}

/// Query/key pairs of a causal chunk of `chunk` new tokens after `cached` ones: each new token
/// attends to the cached prefix and to the new tokens up to itself.
pub fn causal_pairs(chunk: f64, cached: f64) -> f64 {
    chunk * (cached + (chunk + 1.0) / 2.0)
}

/// Work of prefill (context) attention, accumulated over the batch's prefill chunks.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PrefillWork {
    /// Causal FLOPs.
    pub flops: f64,
    /// Bytes read and written (Q, K/V over the context, O).
    pub bytes: f64,
}

impl PrefillWork {
    /// Adds a chunk of `chunk` new tokens after `cached` tokens already in the KV cache.
    pub fn add(&mut self, shape: &AttentionShape, chunk: f64, cached: f64) {
        let pairs = causal_pairs(chunk, cached);
        if let Some(l) = shape.latent {
            // Engines run MLA's prefill without absorbing the up-projections: the cached
            // prefix's latents are decompressed to per-head keys and values (the new tokens'
            // are, in the pre-projection), then ordinary attention with keys of nope + rope
            // and values of v per head runs over them in 16-bit.
            let h = shape.q_heads;
            self.flops += 2.0 * h * (l.qk() + l.v) * pairs + 2.0 * cached * l.kv_lora * h * (l.nope + l.v);
            self.bytes += cached * l.cached() * shape.kv_bytes
                + (cached + chunk) * h * (l.qk() + l.v) * ACT_BYTES
                + chunk * h * (l.qk() + l.v) * ACT_BYTES;
            return;
        }
        // QKᵀ and PV over the causal triangle of the chunk plus the full cached prefix.
        self.flops += 4.0 * shape.q_heads * shape.head_dim * chunk * (cached + (chunk + 1.0) / 2.0);
        self.bytes += (cached + chunk) * 2.0 * shape.kv_heads * shape.head_dim * shape.kv_bytes
            + 2.0 * chunk * shape.q_heads * shape.head_dim * ACT_BYTES;
    }
}

impl PrefillWork {
    /// Adds a chunk of latent attention run absorbed, as decode runs it: every query head is
    /// projected into the latent space and attends, as one multi-query head of `cached()`
    /// elements for scores and `kv_lora` for values, over the cached latents. Engines prefill
    /// fresh prompts non-absorbed ([`PrefillWork::add`]); AIConfigurator's SGLang collector
    /// times its Hopper context-MLA rows this way (FlashAttention-3's MLA path), so the
    /// calibration reads those rows with it. A shape without a latent adds what `add` does.
    pub fn add_absorbed(&mut self, shape: &AttentionShape, chunk: f64, cached: f64) {
        let Some(l) = shape.latent else {
            return self.add(shape, chunk, cached);
        };
        let h = shape.q_heads;
        self.flops += 2.0 * h * (l.cached() + l.kv_lora) * causal_pairs(chunk, cached);
        self.bytes +=
            (cached + chunk) * l.cached() * shape.kv_bytes + chunk * h * (l.cached() + l.kv_lora) * ACT_BYTES;
    }
}

/// Prefill attention time, µs.
pub fn prefill_attention_us(curve: &Curve, peaks: Peaks, work: PrefillWork) -> f64 {
    if work.flops <= 0.0 {
        return 0.0;
    }
    roofline_us(curve, peaks, work.flops, work.bytes, 0.0, 1.0)
}

/// Work of decode attention, accumulated over the batch's decoding sequences.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DecodeWork {
    /// Sequences decoding one token each.
    pub sequences: f64,
    /// FLOPs over every sequence's context.
    pub flops: f64,
    /// KV bytes read (plus Q and O).
    pub bytes: f64,
}

impl DecodeWork {
    /// Adds one sequence attending over `context` tokens (the new one included).
    pub fn add(&mut self, shape: &AttentionShape, context: f64) {
        self.add_queries(shape, context, 1.0);
    }

    /// Adds one sequence whose `queries` newest tokens attend causally over `context` tokens
    /// (them included): a speculative verification step of k + 1 queries. The kernel reads the
    /// KV once for all the queries; query i of q sees `context − q + i` tokens.
    pub fn add_queries(&mut self, shape: &AttentionShape, context: f64, queries: f64) {
        self.sequences += 1.0;
        let pairs = if queries == 1.0 { context } else { queries * (context - (queries - 1.0) / 2.0) };
        if let Some(l) = shape.latent {
            // Absorbed MLA decode (FlashMLA, TRT-LLM, FlashInfer): each head's query is
            // projected into the latent space, scores are taken against the latent and the
            // rotary key, values are the latent itself; the latent is read once for all heads.
            let h = shape.q_heads;
            self.flops += 2.0 * h * (2.0 * l.kv_lora + l.rope) * pairs;
            self.bytes +=
                context * l.cached() * shape.kv_bytes + h * (l.cached() + l.kv_lora) * ACT_BYTES * queries;
            return;
        }
        self.flops += 4.0 * shape.q_heads * shape.head_dim * pairs;
        self.bytes += context * 2.0 * shape.kv_heads * shape.head_dim * shape.kv_bytes
            + 2.0 * shape.q_heads * shape.head_dim * ACT_BYTES * queries;
    }
}

/// [`PrefillWork::add`] and [`DecodeWork::add_queries`] of every item of `batch` (a decode's
/// context is its processed plus new tokens, its queries the new tokens), for a shape without
/// latent attention. The per-head products that do not depend on the item are taken once; each
/// sum receives the same operands in the same order as through `add`/`add_queries`, so the
/// results are the same bits (tested against them).
pub fn dense_attention_work(shape: &AttentionShape, batch: &[super::BatchItem]) -> (PrefillWork, DecodeWork) {
    debug_assert!(shape.latent.is_none());
    let mut prefill = PrefillWork::default();
    let mut decode = DecodeWork::default();
    // The leading factors of `add`'s and `add_queries`' products, evaluated left to right as
    // there.
    let flops_per_pair = 4.0 * shape.q_heads * shape.head_dim;
    let query_bytes = 2.0 * shape.q_heads * shape.head_dim * ACT_BYTES;
    for item in batch {
        let (tokens, processed) = (item.num_tokens as f64, item.num_processed_tokens as f64);
        if item.is_prefill {
            let (chunk, cached) = (tokens, processed);
            prefill.flops += flops_per_pair * chunk * (cached + (chunk + 1.0) / 2.0);
            prefill.bytes += (cached + chunk) * 2.0 * shape.kv_heads * shape.head_dim * shape.kv_bytes
                + 2.0 * chunk * shape.q_heads * shape.head_dim * ACT_BYTES;
        } else {
            let (context, queries) = (processed + tokens, tokens);
            decode.sequences += 1.0;
            let pairs = if queries == 1.0 { context } else { queries * (context - (queries - 1.0) / 2.0) };
            decode.flops += flops_per_pair * pairs;
            decode.bytes +=
                context * 2.0 * shape.kv_heads * shape.head_dim * shape.kv_bytes + query_bytes * queries;
        }
    }
    (prefill, decode)
}

/// Decode attention time, µs: a per-sequence cost plus KV traffic at a bandwidth that ramps up
/// with the number of (sequence, KV head) work units, since few units cannot fill the GPU.
pub fn decode_attention_us(curve: &Curve, peaks: Peaks, shape: &AttentionShape, work: DecodeWork) -> f64 {
    if work.sequences <= 0.0 {
        return 0.0;
    }
    let ramp = if curve.ramp_units > 0.0 {
        1.0 - libm::exp(-work.sequences * shape.kv_heads / curve.ramp_units)
    } else {
        1.0
    };
    roofline_us(curve, peaks, work.flops, work.bytes, work.sequences, ramp.max(1e-3))
}

/// A mixture-of-experts layer's routed experts on one GPU (experts split by TP).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MoeShape {
    /// Hidden size the experts see.
    pub hidden: f64,
    /// Routed experts.
    pub experts: f64,
    /// Experts per token.
    pub top_k: f64,
    /// Expert intermediate size per GPU.
    pub expert_dim: f64,
    /// Shared-expert intermediate size per GPU (0 = none).
    pub shared_dim: f64,
    /// Gated experts (gate and up fused).
    pub gated: bool,
}

/// How a router spreads tokens over experts.
#[derive(Clone, Debug, PartialEq)]
pub enum MoeRouting {
    /// Perfectly balanced, as AIConfigurator's `balanced` tables are measured: T tokens' T·k
    /// picks spread evenly, reaching min(E, T·k) experts.
    Balanced {
        /// Routed experts.
        experts: f64,
        /// Experts per token.
        top_k: f64,
    },
    /// Random routing: each token picks its top-k experts independently, expert i with
    /// probability p_i (uniform, or skewed by a power law over the experts' popularity ranks).
    Random {
        /// Per expert, ln(1 − p_i), most popular first.
        log_miss: Vec<f64>,
    },
    /// AIConfigurator's `power_law_<α>` routing as its collector samples it
    /// (`power_law_logits_v3`): each expert's count drawn from a power law x^−α on [1, 0.8·T]
    /// (T·k > E) or [0.01, 2], scaled to the T·k picks and rounded; an expert is reached when
    /// its count rounds to at least 1, and a token reaches its k distinct experts.
    Sampled {
        /// Routed experts.
        experts: f64,
        /// Experts per token.
        top_k: f64,
        /// The power law's exponent.
        alpha: f64,
    },
}

impl MoeRouting {
    /// Each token's top-k uniform over `experts`: a load-balanced router's expected reach.
    pub fn uniform(experts: f64, top_k: f64) -> MoeRouting {
        MoeRouting::power_law(experts, top_k, 0.0)
    }

    /// Expert i drawing a share ∝ (i + 1)^−α of the picks (α = 0: uniform). AIConfigurator
    /// measures `power_law_1.01` (its estimate for DeepSeek-V3) and `power_law_1.2` (Qwen3-235B)
    /// tables; its loads are sampled, this is their expectation over ranks.
    pub fn power_law(experts: f64, top_k: f64, alpha: f64) -> MoeRouting {
        let n = experts.max(1.0) as usize;
        let weights: Vec<f64> = (0..n).map(|i| libm::pow(i as f64 + 1.0, -alpha)).collect();
        let total: f64 = weights.iter().sum();
        // Expert i is among a token's top_k distinct picks with probability top_k·w_i/Σw (≤ 1).
        let log_miss = weights.iter().map(|w| libm::log1p(-(top_k * w / total).min(1.0 - 1e-12))).collect();
        MoeRouting::Random { log_miss }
    }

    /// Expected number of distinct experts `tokens` tokens reach: only these load their weights.
    /// Uniform top-k routing of T tokens over E experts reaches E·(1 − (1 − k/E)^T), far fewer
    /// than min(E, T·k) at small batches (Mixtral, 4 tokens: 5.5 of 8, not 8).
    pub fn active_experts(&self, tokens: f64) -> f64 {
        if tokens <= 0.0 {
            return 0.0;
        }
        match self {
            MoeRouting::Balanced { experts, top_k } => experts.min(tokens * top_k).max(1.0),
            MoeRouting::Random { log_miss } => {
                log_miss.iter().map(|lm| 1.0 - libm::exp(tokens * lm)).sum::<f64>().max(1.0)
            }
            MoeRouting::Sampled { experts, top_k, alpha } => sampled_reach(*experts, *top_k, *alpha, tokens),
        }
    }
}

/// Expected experts [`MoeRouting::Sampled`] reaches with `tokens` tokens: E·P(X ≥ c), X the
/// truncated power law, c the count that rounds to one pick (E·E[X] / (2·T·k)).
fn sampled_reach(experts: f64, top_k: f64, alpha: f64, tokens: f64) -> f64 {
    let picks = tokens * top_k;
    let cap = experts.min(picks);
    let floor = top_k.min(experts).max(1.0);
    let (a, b) = if picks > experts { (1.0, 0.8 * tokens) } else { (0.01, 2.0) };
    if b <= a {
        return cap.max(floor);
    }
    // ∫_a^x t^−p dt.
    let integral = |p: f64, x: f64| {
        let g = 1.0 - p;
        if g.abs() < 1e-9 { libm::log(x / a) } else { (libm::pow(x, g) - libm::pow(a, g)) / g }
    };
    let mass = integral(alpha, b);
    let mean = integral(alpha - 1.0, b) / mass;
    let c = (experts * mean / (2.0 * picks)).clamp(a, b);
    let reached = experts * (1.0 - integral(alpha, c) / mass);
    reached.min(cap).max(floor)
}

/// The routed (and shared) experts of one MoE layer over `tokens` tokens, µs: a fused kernel
/// runs every routed token through its experts in one grouped GEMM per projection, loading the
/// weights of the `active` experts only, with the activation between. `gemm` and `act` are the
/// GEMM and activation curves; the router's gate GEMM is not included.
#[allow(clippy::too_many_arguments)] // The layer's shape, its routing and two curves at two rates.
pub fn moe_experts_us(
    gemm: &Curve,
    act: &Curve,
    gemm_peaks: Peaks,
    peaks: Peaks,
    shape: &MoeShape,
    tokens: f64,
    active: f64,
    weight_bytes: f64,
) -> f64 {
    if tokens <= 0.0 {
        return 0.0;
    }
    let routed = tokens * shape.top_k;
    let grouped = GroupedExperts { rows: routed, weight_reads: active, items: None };
    let mut us = grouped.layer_us(gemm, act, gemm_peaks, peaks, shape, routed, weight_bytes);
    if shape.shared_dim > 0.0 {
        us += shared_expert_us(gemm, gemm_peaks, shape, tokens, weight_bytes);
    }
    us
}

/// Share of HBM bandwidth at which FlashInfer's TRTLLM-Gen MXFP4 × MXFP8 fused MoE streams its
/// experts' weights on B200: the median over AIC's `b200_sxm/moe_w4a8_mxfp4_mxfp8.csv` rows where
/// every expert is reached (balanced, EP 1, TP 1-2, ≤ 256 tokens; 30 rows, 0.78-0.88) of the
/// weight bytes at MXFP4's 0.53125 B over (time − the generic fp4 curve's two GEMM launches) at
/// 8 TB/s. The generic fp4 (NVFP4 GEMM) curve's is 0.70.
pub const TRTLLM_GEN_MXFP4_MXFP8_MOE_MEMORY_EFF: f64 = 0.84;

/// Rows per expert block of vLLM's fused Marlin MoE for `routed` token-expert pairs over
/// `experts` local experts: the first of 8, 16, 32, 48, 64 with `routed / experts / size < 0.9`,
/// else 64 (`fused_marlin_moe`, `vllm/model_executor/layers/fused_moe/fused_marlin_moe.py`).
pub fn marlin_block_size(routed: f64, experts: f64) -> f64 {
    let per_expert = routed / experts.max(1.0);
    [8.0, 16.0, 32.0, 48.0].into_iter().find(|size| per_expert / size < 0.9).unwrap_or(64.0)
}

/// The routed experts of one MoE layer on vLLM's fused Marlin MoE (`moe_wna16_marlin_gemm`),
/// µs: `moe_align_block_size` pads each expert's rows to blocks of [`marlin_block_size`] rows
/// and the kernel runs each block against its expert's whole weight, so both grouped GEMMs
/// cost `curve.per_item_us` per block, every block's weight bytes and every padded row's
/// FLOPs. `tokens` tokens reach `active` experts, evenly (the ceiling of their share per block).
#[allow(clippy::too_many_arguments)] // moe_experts_us's arguments.
pub fn marlin_moe_us(
    curve: &Curve,
    act: &Curve,
    gemm_peaks: Peaks,
    peaks: Peaks,
    shape: &MoeShape,
    tokens: f64,
    active: f64,
    weight_bytes: f64,
) -> f64 {
    if tokens <= 0.0 || active <= 0.0 {
        return 0.0;
    }
    let routed = tokens * shape.top_k;
    let size = marlin_block_size(routed, shape.experts);
    let blocks = active * (routed / active / size).ceil().max(1.0);
    let grouped = GroupedExperts { rows: blocks * size, weight_reads: blocks, items: Some(blocks) };
    grouped.layer_us(curve, act, gemm_peaks, peaks, shape, routed, weight_bytes)
}

/// How a fused MoE kernel's two grouped GEMMs run the routed token-expert pairs: the rows it
/// computes (`routed`, or padded to whole blocks), how many times it reads an expert's weight
/// (once per active expert, or once per block) and the curve's item count (`None`: the GEMM's K,
/// as a layer GEMM; `Some(blocks)`: a fixed cost per block).
struct GroupedExperts {
    rows: f64,
    weight_reads: f64,
    items: Option<f64>,
}

impl GroupedExperts {
    /// The routed experts' up (gate and up) and down projections and the activation between,
    /// µs, for `routed` token-expert pairs of `shape`.
    #[allow(clippy::too_many_arguments)] // moe_experts_us's arguments.
    fn layer_us(
        &self,
        gemm: &Curve,
        act: &Curve,
        gemm_peaks: Peaks,
        peaks: Peaks,
        shape: &MoeShape,
        routed: f64,
        weight_bytes: f64,
    ) -> f64 {
        let projections = if shape.gated { 2.0 } else { 1.0 };
        let grouped = |n: f64, k: f64| {
            let flops = 2.0 * self.rows * n * k;
            let bytes = routed * (n + k) * ACT_BYTES + self.weight_reads * n * k * weight_bytes;
            roofline_us(gemm, gemm_peaks, flops, bytes, self.items.unwrap_or(k), 1.0)
        };
        let act_bytes = (projections + 1.0) * routed * shape.expert_dim * ACT_BYTES;
        grouped(projections * shape.expert_dim, shape.hidden)
            + grouped(shape.hidden, shape.expert_dim)
            + elementwise_us(act, peaks, act_bytes, shape.expert_dim)
    }
}

/// Mean routed tokens per expert below which a quantised MoE layer's experts are timed on the
/// generic GEMM curve of their dtype alone (decode-sized batches: weight streaming, which that
/// curve gets right against measured TPOT).
pub const MOE_PREFILL_FROM: f64 = 8.0;
/// Mean routed tokens per expert from which the fused-MoE (grouped GEMM) fit counts in full.
/// Between the two the weight rises linearly in log(tokens per expert). AIConfigurator's
/// fused-MoE tables run 1.2-2.1× the generic curve from ~16 tokens per expert up (fp8 block;
/// NVFP4 1.1-1.3×, weight-only MXFP4 on Hopper 2.4-4×: skinny per-expert GEMMs far from
/// peak); below ~8 the generic curve is what measured decode (TPOT) needs.
pub const MOE_PREFILL_FULL: f64 = 32.0;

/// The weight in [0, 1] of the fused-MoE fit at `tokens_per_expert` mean routed tokens per
/// expert: 0 up to [`MOE_PREFILL_FROM`], 1 from [`MOE_PREFILL_FULL`], log-linear between
/// (non-decreasing and continuous).
pub fn moe_prefill_weight(tokens_per_expert: f64) -> f64 {
    if tokens_per_expert.is_nan() || tokens_per_expert <= MOE_PREFILL_FROM {
        return 0.0;
    }
    let w = libm::log(tokens_per_expert / MOE_PREFILL_FROM) / libm::log(MOE_PREFILL_FULL / MOE_PREFILL_FROM);
    w.min(1.0)
}

/// [`moe_experts_us`] with a quantised layer's fused-MoE fit `prefill` for the routed experts
/// at prefill sizes: `max(generic, w · fused)` with `w` = [`moe_prefill_weight`] of the mean
/// routed tokens per expert (`tokens · top_k / experts`). Both terms are non-decreasing in
/// `tokens` (as `active` is) and `w` is, so the cost is too, and continuous; where `w` = 0
/// (decode) it is exactly [`moe_experts_us`]. The shared expert stays on `gemm`.
#[allow(clippy::too_many_arguments)] // moe_experts_us's arguments and the prefill curve.
pub fn moe_experts_blended_us(
    gemm: &Curve,
    prefill: Option<&Curve>,
    act: &Curve,
    gemm_peaks: Peaks,
    peaks: Peaks,
    shape: &MoeShape,
    tokens: f64,
    active: f64,
    weight_bytes: f64,
) -> f64 {
    let w = match prefill {
        Some(_) if shape.experts > 0.0 => moe_prefill_weight(tokens * shape.top_k / shape.experts),
        _ => 0.0,
    };
    let Some(fused) = prefill.filter(|_| w > 0.0) else {
        return moe_experts_us(gemm, act, gemm_peaks, peaks, shape, tokens, active, weight_bytes);
    };
    let routed_shape = MoeShape { shared_dim: 0.0, ..*shape };
    let generic = moe_experts_us(gemm, act, gemm_peaks, peaks, &routed_shape, tokens, active, weight_bytes);
    let fused = moe_experts_us(fused, act, gemm_peaks, peaks, &routed_shape, tokens, active, weight_bytes);
    generic.max(w * fused) + shared_expert_us(gemm, gemm_peaks, shape, tokens, weight_bytes)
}

/// Rows per block of DeepGEMM's contiguous grouped-GEMM layout on Hopper/Blackwell (vLLM
/// `get_mk_alignment_for_contiguous_layout()[0]`): each expert's rows are padded to a multiple.
pub const DEEPGEMM_BLOCK_M: f64 = 128.0;

/// Rows vLLM 0.12's DeepGEMM MoE runs for `routed` token-expert pairs over `local_experts`
/// experts when the per-expert counts are not on the host (every non-batched call):
/// `compute_aligned_M`'s worst case, `round_up(M·top_k + E·(128 − 1), 128)`
/// (`vllm/model_executor/layers/fused_moe/deep_gemm_utils.py`).
pub fn deepgemm_padded_rows(routed: f64, local_experts: f64) -> f64 {
    if routed <= 0.0 {
        return 0.0;
    }
    let rows = routed + local_experts.max(1.0) * (DEEPGEMM_BLOCK_M - 1.0);
    (rows / DEEPGEMM_BLOCK_M).ceil() * DEEPGEMM_BLOCK_M
}

/// DeepGEMM's block-scaled fp8 GEMM against the generic fp8 curve at the sizes its padded MoE
/// layout runs (8,192-16,384 rows, N and K 256-8,192): AIC `h200_sxm/gemm_fp8_block.csv`'s
/// `DeepGemmFp8BlockScaledMMKernel` rows run a median 1.20× it (392 rows; quartiles 1.0 and
/// 1.85, the narrow-N shapes slowest). The generic curve is fitted on per-tensor CUTLASS rows.
pub const DEEPGEMM_FP8_BLOCK_VS_GENERIC: f64 = 1.2;

/// The routed experts of one MoE layer on vLLM 0.12's DeepGEMM MoE, µs: both grouped GEMMs
/// and the activation over every one of [`deepgemm_padded_rows`] rows, because
/// `deepgemm_moe_permute` fills the block-to-expert map of the blocks no token reaches with
/// expert 0 (`torch.zeros`), which DeepGEMM's scheduler computes like any other (a negative
/// index would have been skipped: vllm-project/vllm#30494, after 0.12). `routed` token-expert
/// pairs over `shape.experts` local experts. At decode sizes the ~E·128 rows make it a
/// compute-bound GEMM whatever the batch: timed as a dense GEMM of those rows (the weights of
/// the experts the tokens reach stream under it; the caller takes the larger of this and the
/// grouped GEMM that prices them), at DeepGEMM's rate ([`DEEPGEMM_FP8_BLOCK_VS_GENERIC`]).
pub fn deepgemm_padded_moe_us(
    gemm: &Curve,
    act: &Curve,
    gemm_peaks: Peaks,
    peaks: Peaks,
    shape: &MoeShape,
    routed: f64,
    weight_bytes: f64,
) -> f64 {
    if routed <= 0.0 {
        return 0.0;
    }
    let rows = deepgemm_padded_rows(routed, shape.experts);
    let projections = if shape.gated { 2.0 } else { 1.0 };
    let dim = shape.expert_dim;
    let gemms = gemm_us(gemm, gemm_peaks, rows, projections * dim, shape.hidden, ACT_BYTES, weight_bytes)
        + gemm_us(gemm, gemm_peaks, rows, shape.hidden, dim, ACT_BYTES, weight_bytes);
    let act_bytes = (projections + 1.0) * rows * dim * ACT_BYTES;
    DEEPGEMM_FP8_BLOCK_VS_GENERIC * gemms + elementwise_us(act, peaks, act_bytes, dim)
}

/// The (N, K) of an MoE layer's shared-expert GEMMs, up (gate and up when gated) then down;
/// `None` without a shared expert.
pub fn shared_expert_gemms(shape: &MoeShape) -> Option<[(f64, f64); 2]> {
    if shape.shared_dim <= 0.0 {
        return None;
    }
    let projections = if shape.gated { 2.0 } else { 1.0 };
    Some([(projections * shape.shared_dim, shape.hidden), (shape.hidden, shape.shared_dim)])
}

/// An MoE layer's shared expert (0 without one) over `tokens` tokens, µs: its two GEMMs
/// ([`shared_expert_gemms`]), every token through it.
pub fn shared_expert_us(
    gemm: &Curve,
    gemm_peaks: Peaks,
    shape: &MoeShape,
    tokens: f64,
    weight_bytes: f64,
) -> f64 {
    if tokens <= 0.0 {
        return 0.0;
    }
    shared_expert_gemms(shape)
        .into_iter()
        .flatten()
        .map(|(n, k)| gemm_us(gemm, gemm_peaks, tokens, n, k, ACT_BYTES, weight_bytes))
        .sum()
}

/// Latency/bandwidth (α-β) model of a collective: `α + bytes / β`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlphaBeta {
    /// Fixed latency, µs.
    pub alpha_us: f64,
    /// Effective (algorithm) bandwidth, GB/s.
    pub beta_gbps: f64,
}

impl AlphaBeta {
    /// Time to move `bytes`, µs.
    pub fn time_us(&self, bytes: f64) -> f64 {
        if bytes <= 0.0 {
            return 0.0;
        }
        self.alpha_us + bytes / (self.beta_gbps * 1e3)
    }
}

/// A collective whose library switches algorithm with the message size (vLLM's custom
/// all-reduce goes from one-shot to two-shot, NCCL from its low-latency to its bandwidth
/// protocols): the faster of two α-β lines.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Collective {
    /// The small-message algorithm (or the only one).
    #[serde(flatten)]
    pub small: AlphaBeta,
    /// The large-message algorithm, if the fit found one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large: Option<AlphaBeta>,
}

impl Collective {
    /// One α-β line.
    pub fn single(alpha_beta: AlphaBeta) -> Collective {
        Collective { small: alpha_beta, large: None }
    }

    /// Time to move `bytes`, µs: the faster algorithm's.
    pub fn time_us(&self, bytes: f64) -> f64 {
        let small = self.small.time_us(bytes);
        self.large.map_or(small, |large| small.min(large.time_us(bytes)))
    }
}

/// Bytes per activation element (bf16/fp16 activations throughout).
pub const ACT_BYTES: f64 = 2.0;

#[cfg(test)]
mod tests {
    use super::*;

    const H100: Peaks = Peaks { flops_per_s: 989.4e12, bytes_per_s: 3.35e12 };

    #[test]
    fn a_stream_scaled_curve_scales_memory_bound_time_only() {
        let c = Curve { per_item_us: 0.001, ..Curve::roofline(0.5, 0.9, 6.0) };
        let s = c.stream_scaled(0.8);
        // Memory bound (one row): the whole time scales.
        let (a, b) = (
            gemm_us(&s, H100, 1.0, 8192.0, 8192.0, 2.0, 1.0),
            gemm_us(&c, H100, 1.0, 8192.0, 8192.0, 2.0, 1.0),
        );
        assert!((a / b - 0.8).abs() < 1e-3, "{a} {b}");
        // Compute bound (8,192 rows): the time stays within 3 % of the unscaled curve's.
        let (a, b) = (
            gemm_us(&s, H100, 8192.0, 8192.0, 8192.0, 2.0, 1.0),
            gemm_us(&c, H100, 8192.0, 8192.0, 8192.0, 2.0, 1.0),
        );
        assert!(a / b > 0.97 && a <= b, "{a} {b}");
        assert_eq!(c.stream_scaled(1.0), c);
    }

    #[test]
    fn flashinfer_trtllm_fp8_tiles_follow_select_kernel_fp8() {
        // By N / K alone: ≥ 32 → 8 tokens, ≤ 2 → 32, N ≥ 20,000 → 32, else 16.
        assert_eq!(flashinfer_trtllm_fp8_token_tile(8192.0, 256.0), 8.0);
        assert_eq!(flashinfer_trtllm_fp8_token_tile(2112.0, 7168.0), 32.0);
        assert_eq!(flashinfer_trtllm_fp8_token_tile(3072.0, 1536.0), 32.0);
        assert_eq!(flashinfer_trtllm_fp8_token_tile(7168.0, 2048.0), 16.0);
        assert_eq!(flashinfer_trtllm_fp8_token_tile(24576.0, 7168.0), 32.0);
        // The measured increment it was read from: 256 → 512 tokens at 2,048 × 1,024 added
        // 3.58 µs (5.09 → 8.67, NVIDIA/cutlass#2923).
        let step = flashinfer_trtllm_fp8_stream_us(512.0, 2048.0, 1024.0)
            - flashinfer_trtllm_fp8_stream_us(256.0, 2048.0, 1024.0);
        assert!((step - 3.58).abs() < 0.01, "{step}");
        // Linear in the tokens; nothing under the backend's K floor (Triton runs those).
        let one = flashinfer_trtllm_fp8_stream_us(1024.0, 7168.0, 2048.0);
        assert!((flashinfer_trtllm_fp8_stream_us(8192.0, 7168.0, 2048.0) - 8.0 * one).abs() < 1e-9);
        assert_eq!(flashinfer_trtllm_fp8_stream_us(8192.0, 7168.0, 128.0), 0.0);
    }

    #[test]
    fn deepgemm_padded_rows_are_the_worst_case_contiguous_layout() {
        // vLLM 0.12 `compute_aligned_M`: round_up(M·top_k + E·127, 128). Qwen3-235B's 128
        // experts, 16 tokens × top 8: 128 + 16,256 = 16,384 rows (128 blocks), as many as at 1
        // token (8 + 16,256 → 16,384) and at 48 (384 + 16,256 = 16,640).
        assert_eq!(deepgemm_padded_rows(128.0, 128.0), 16_384.0);
        assert_eq!(deepgemm_padded_rows(8.0, 128.0), 16_384.0);
        assert_eq!(deepgemm_padded_rows(384.0, 128.0), 16_640.0);
        // 64 local experts (EP 2): 8,128 + picks, rounded up to whole blocks.
        assert_eq!(deepgemm_padded_rows(64.0, 64.0), 8_192.0);
        assert_eq!(deepgemm_padded_rows(72.0, 64.0), 8_320.0);
        assert_eq!(deepgemm_padded_rows(0.0, 128.0), 0.0);
        let mut last = 0.0;
        for picks in 1..2000 {
            let rows = deepgemm_padded_rows(f64::from(picks), 128.0);
            assert!(rows >= last && rows % DEEPGEMM_BLOCK_M == 0.0 && rows >= f64::from(picks));
            last = rows;
        }
    }

    #[test]
    fn absorbed_latent_prefill_is_multi_query_attention_over_the_latent() {
        // DeepSeek-V3 at TP 8: 16 heads, latent 512 + rotary 64, per-head nope 128, v 128.
        let latent = LatentShape { q_lora: 1536.0, kv_lora: 512.0, nope: 128.0, rope: 64.0, v: 128.0 };
        let shape = AttentionShape {
            q_heads: 16.0,
            kv_heads: 1.0,
            head_dim: 192.0,
            kv_bytes: 2.0,
            latent: Some(latent),
        };
        let mut w = PrefillWork::default();
        w.add_absorbed(&shape, 100.0, 28.0);
        // 100 × (28 + 50.5) = 7850 causal pairs; scores over 576 elements and values of 512
        // per head: 2 × 16 × (576 + 512) FLOPs a pair.
        assert_eq!(w.flops, 2.0 * 16.0 * 1088.0 * 7850.0);
        // The 128 tokens' latents (576 elements, bf16) and 100 queries and outputs of 16 heads.
        assert_eq!(w.bytes, 128.0 * 576.0 * 2.0 + 100.0 * 16.0 * 1088.0 * ACT_BYTES);
        // Non-absorbed (what engines run for fresh prompts): 2 × 16 × (192 + 128) FLOPs a pair,
        // 3.4× fewer, plus the prefix's decompression.
        let mut engine = PrefillWork::default();
        engine.add(&shape, 100.0, 0.0);
        let mut absorbed = PrefillWork::default();
        absorbed.add_absorbed(&shape, 100.0, 0.0);
        assert_eq!(absorbed.flops / engine.flops, 1088.0 / 320.0);
        // Without a latent it is the ordinary prefill.
        let plain =
            AttentionShape { latent: None, kv_heads: 8.0, head_dim: 128.0, q_heads: 32.0, kv_bytes: 2.0 };
        let (mut a, mut b) = (PrefillWork::default(), PrefillWork::default());
        a.add_absorbed(&plain, 64.0, 10.0);
        b.add(&plain, 64.0, 10.0);
        assert_eq!(a, b);
    }

    #[test]
    fn dense_attention_work_is_the_items_added_one_by_one_to_the_bit() {
        use super::super::BatchItem;
        // Factors whose products round (non-powers of two), mixed items with long contexts
        // and verification steps: any regrouping of a product or sum would change low bits.
        for shape in [
            AttentionShape { q_heads: 32.0, kv_heads: 8.0, head_dim: 128.0, kv_bytes: 2.0, latent: None },
            AttentionShape { q_heads: 7.0, kv_heads: 3.0, head_dim: 96.0, kv_bytes: 1.0 / 3.0, latent: None },
            AttentionShape { q_heads: 0.1, kv_heads: 0.7, head_dim: 80.3, kv_bytes: 1.13, latent: None },
        ] {
            let mut seed = 7u64;
            let batch: Vec<BatchItem> = (0..300)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let is_prefill = (seed >> 60).is_multiple_of(3);
                    let num_tokens =
                        if is_prefill { 1 + (seed >> 20) as u32 % 8191 } else { 1 + (seed >> 40) as u32 % 5 };
                    BatchItem::new((seed >> 30) as u32 % 120_000, num_tokens, is_prefill)
                })
                .collect();
            let (mut prefill, mut decode) = (PrefillWork::default(), DecodeWork::default());
            for item in &batch {
                let (tokens, processed) = (item.num_tokens as f64, item.num_processed_tokens as f64);
                if item.is_prefill {
                    prefill.add(&shape, tokens, processed);
                } else {
                    decode.add_queries(&shape, processed + tokens, tokens);
                }
            }
            let (p, d) = dense_attention_work(&shape, &batch);
            assert_eq!(p.flops.to_bits(), prefill.flops.to_bits());
            assert_eq!(p.bytes.to_bits(), prefill.bytes.to_bits());
            assert_eq!(d.sequences.to_bits(), decode.sequences.to_bits());
            assert_eq!(d.flops.to_bits(), decode.flops.to_bits());
            assert_eq!(d.bytes.to_bits(), decode.bytes.to_bits());
            assert!(p.flops > 0.0 && d.flops > 0.0);
        }
    }

    #[test]
    fn a_verification_step_reads_the_kv_once_for_its_causal_queries() {
        let shape =
            AttentionShape { q_heads: 32.0, kv_heads: 8.0, head_dim: 128.0, kv_bytes: 2.0, latent: None };
        let (mut one, mut four) = (DecodeWork::default(), DecodeWork::default());
        one.add(&shape, 1000.0);
        four.add_queries(&shape, 1000.0, 4.0);
        // Queries over 997, 998, 999 and 1000 tokens: 3994 pairs.
        assert_eq!(four.flops, one.flops / 1000.0 * 3994.0);
        let qo = 2.0 * 32.0 * 128.0 * ACT_BYTES;
        assert_eq!(four.bytes - one.bytes, 3.0 * qo, "the KV is read once; Q and O per query");
        assert_eq!(four.sequences, 1.0);
        let mut same = DecodeWork::default();
        same.add_queries(&shape, 1000.0, 1.0);
        assert_eq!(same, one, "one query is a decode step");
    }

    #[test]
    fn the_fused_moe_weight_rises_from_8_to_32_tokens_per_expert() {
        assert_eq!(moe_prefill_weight(0.5), 0.0);
        assert_eq!(moe_prefill_weight(MOE_PREFILL_FROM), 0.0);
        assert!((moe_prefill_weight(16.0) - 0.5).abs() < 1e-12, "log-linear: half way at 16");
        assert_eq!(moe_prefill_weight(MOE_PREFILL_FULL), 1.0);
        assert_eq!(moe_prefill_weight(1e6), 1.0);
        assert_eq!(moe_prefill_weight(f64::NAN), 0.0);
        let mut last = 0.0;
        for i in 0..4000 {
            let w = moe_prefill_weight(f64::from(i) * 0.01);
            assert!(w >= last && (0.0..=1.0).contains(&w), "{i}");
            last = w;
        }
    }

    #[test]
    fn blended_experts_are_the_generic_cost_below_the_blend_and_monotone_through_it() {
        let shape = MoeShape {
            hidden: 7168.0,
            experts: 256.0,
            top_k: 8.0,
            expert_dim: 256.0,
            shared_dim: 256.0,
            gated: true,
        };
        let gemm = Curve { per_item_us: 5e-4, ..Curve::roofline(0.58, 1.0, 5.7) };
        // A fused kernel three times slower in compute, with a larger launch cost.
        let fused = Curve { per_item_us: 1e-12, ..Curve::roofline(0.2, 0.9, 30.0) };
        let act = Curve::memory(0.8, 3.0);
        let routing = MoeRouting::uniform(256.0, 8.0);
        let us = |prefill: Option<&Curve>, tokens: f64| {
            moe_experts_blended_us(
                &gemm,
                prefill,
                &act,
                H100,
                H100,
                &shape,
                tokens,
                routing.active_experts(tokens),
                1.0,
            )
        };
        for tokens in [1.0, 16.0, 200.0, 256.0] {
            let plain =
                moe_experts_us(&gemm, &act, H100, H100, &shape, tokens, routing.active_experts(tokens), 1.0);
            assert_eq!(us(Some(&fused), tokens), plain, "{tokens} tokens: ≤ 8 per expert");
            assert_eq!(us(None, tokens), plain);
        }
        assert!(us(Some(&fused), 8192.0) > 1.5 * us(None, 8192.0), "the fused fit counts at prefill sizes");
        let mut last = 0.0;
        for t in 1..=20_000 {
            let v = us(Some(&fused), f64::from(t));
            assert!(v >= last, "{t}: {v} < {last}");
            last = v;
        }
    }

    #[test]
    fn marlin_blocks_follow_vllms_block_size_rule() {
        // fused_marlin_moe: the first of 8, 16, 32, 48, 64 with M·topk/E/size < 0.9.
        assert_eq!(marlin_block_size(4.0 * 4.0, 128.0), 8.0);
        assert_eq!(marlin_block_size(384.0 * 8.0, 384.0), 16.0, "8 a expert: 8/8 = 1 ≥ 0.9");
        assert_eq!(marlin_block_size(1024.0 * 8.0, 384.0), 32.0);
        assert_eq!(marlin_block_size(1536.0 * 8.0, 384.0), 48.0);
        assert_eq!(marlin_block_size(4096.0 * 8.0, 384.0), 64.0);
        // Kimi-K2.5's experts at TP 8: each block of 64 rows reads its expert's weight again, so
        // 4096 tokens (85 a expert, two blocks) cost about twice 3072 (64, one block), as AIC's
        // moe_int4_wo.csv measures (H100: 1620 → 2855 µs).
        let shape = MoeShape {
            hidden: 7168.0,
            experts: 384.0,
            top_k: 8.0,
            expert_dim: 256.0,
            shared_dim: 0.0,
            gated: true,
        };
        let curve = Curve { per_item_us: 0.15, ..Curve::roofline(0.3, 1.0, 18.0) };
        let act = Curve::memory(0.8, 3.0);
        let us = |t: f64| marlin_moe_us(&curve, &act, H100, H100, &shape, t, 384.0f64.min(t * 8.0), 0.5625);
        let (one, two) = (us(3072.0), us(4096.0));
        assert!(two > 1.6 * one, "{one:.0} → {two:.0} µs");
        // Each block costs `per_item_us` in both GEMMs: 8 → 64 experts at one token each.
        let per_block = Curve { per_item_us: 1.0, ..curve };
        let blocks = |t: f64| {
            marlin_moe_us(&per_block, &act, H100, H100, &shape, t, t * 8.0, 0.5625)
                - marlin_moe_us(&curve, &act, H100, H100, &shape, t, t * 8.0, 0.5625)
        };
        assert!(
            (blocks(1.0) - 2.0 * 0.85 * 8.0).abs() < 1e-6 && (blocks(8.0) - 2.0 * 0.85 * 64.0).abs() < 1e-6
        );
        assert_eq!(marlin_moe_us(&curve, &act, H100, H100, &shape, 0.0, 0.0, 0.5625), 0.0);
    }

    #[test]
    fn soft_max_lies_between_max_and_sum() {
        for k in [1.0, 1.3, 2.0, 8.0] {
            let s = soft_max(3.0, 4.0, k);
            assert!((4.0..=7.0 + 1e-12).contains(&s), "k={k}: {s}");
        }
        assert_eq!(soft_max(0.0, 4.0, 2.0), 4.0);
        assert!((soft_max(3.0, 4.0, 2.0) - 5.0).abs() < 1e-12);
        assert!((soft_max(3.0, 4.0, 1.0) - 7.0).abs() < 1e-12);
    }

    #[test]
    fn gemm_is_memory_bound_at_small_m_and_compute_bound_at_large_m() {
        let c = Curve { sharpness: 50.0, ..Curve::roofline(0.7, 0.8, 5.0) };
        // m=1: weights dominate, 4096×4096×2 bytes at 0.8 × 3.35 TB/s ≈ 12.5 µs.
        let small = gemm_us(&c, H100, 1.0, 4096.0, 4096.0, 2.0, 2.0) - 5.0;
        assert!((small - 4096.0 * 4096.0 * 2.0 / (3.35e12 * 0.8) * 1e6).abs() < 0.1, "{small}");
        // m=8192: 2·8192·4096² FLOPs at 0.7 × 989 TFLOP/s ≈ 397 µs.
        let large = gemm_us(&c, H100, 8192.0, 4096.0, 4096.0, 2.0, 2.0) - 5.0;
        assert!(
            (large / (2.0 * 8192.0 * 4096.0 * 4096.0 / (989.4e12 * 0.7) * 1e6) - 1.0).abs() < 0.01,
            "{large}"
        );
        assert_eq!(gemm_us(&c, H100, 0.0, 4096.0, 4096.0, 2.0, 2.0), 0.0);
    }

    #[test]
    fn a_row_tile_charges_whole_tiles_of_compute() {
        let c = Curve { sharpness: 50.0, m_tile: 128.0, ..Curve::roofline(0.7, 0.8, 0.0) };
        let at = |m: f64| gemm_us(&c, H100, m, 28672.0, 4096.0, 2.0, 2.0);
        // Compute bound: 520 rows cost as much as 640 (five tiles), 512 as four.
        assert!((at(520.0) / at(640.0) - 1.0).abs() < 1e-3, "{} {}", at(520.0), at(640.0));
        assert!((at(520.0) / at(512.0) - 1.25).abs() < 0.01, "{} {}", at(520.0), at(512.0));
        let untiled = Curve { m_tile: 0.0, ..c };
        assert!(gemm_us(&untiled, H100, 520.0, 28672.0, 4096.0, 2.0, 2.0) < at(520.0));
    }

    #[test]
    fn a_gemm_item_is_a_step_of_the_reduction_dimension() {
        let c = Curve { per_item_us: 0.001, ..Curve::roofline(0.7, 0.8, 5.0) };
        let none = Curve { per_item_us: 0.0, ..c };
        let extra = |k: f64| {
            gemm_us(&c, H100, 1.0, 4096.0, k, 2.0, 2.0) - gemm_us(&none, H100, 1.0, 4096.0, k, 2.0, 2.0)
        };
        assert!((extra(512.0) - 0.512).abs() < 1e-9 && (extra(8192.0) - 8.192).abs() < 1e-9);
    }

    #[test]
    fn an_element_wise_kernel_takes_one_rows_latency_until_the_transfer_dominates() {
        let c = Curve {
            per_item_us: 0.0005,
            sharpness: 8.0,
            overlapped_overhead: true,
            ..Curve::memory(0.5, 1.0)
        };
        // One token of a 28k-wide row: latency-bound, 1 + 0.0005 × 28672 ≈ 15 µs, however few
        // bytes move; a narrow row of the same bytes is cheaper.
        let wide = elementwise_us(&c, H100, 3.0 * 28672.0 * 2.0, 28672.0);
        assert!((wide - 15.3).abs() < 0.2, "{wide}");
        assert!(elementwise_us(&c, H100, 3.0 * 28672.0 * 2.0, 4096.0) < wide / 4.0);
        // Many rows: bandwidth bound, the row latency hidden.
        let bytes = 4096.0 * 3.0 * 28672.0 * 2.0;
        let transfer = bytes / (3.35e12 * 0.5) * 1e6;
        assert!((elementwise_us(&c, H100, bytes, 28672.0) / transfer - 1.0).abs() < 0.01);
    }

    #[test]
    fn decode_attention_grows_with_context_and_ramps_with_sequences() {
        let shape =
            AttentionShape { q_heads: 32.0, kv_heads: 8.0, head_dim: 128.0, kv_bytes: 2.0, latent: None };
        let c = Curve { per_item_us: 0.06, ramp_units: 2.0, ..Curve::roofline(0.5, 0.9, 11.0) };
        let time = |n: usize, ctx: f64| {
            let mut w = DecodeWork::default();
            (0..n).for_each(|_| w.add(&shape, ctx));
            decode_attention_us(&c, H100, &shape, w)
        };
        assert!(time(1, 4096.0) < time(1, 8192.0));
        // Per sequence, a batch of 64 is cheaper than one sequence alone (better occupancy).
        assert!(time(64, 4096.0) / 64.0 < time(1, 4096.0));
    }

    #[test]
    fn aic_sampled_power_law_reaches_fewer_experts_than_uniform_routing() {
        // gpt-oss: 128 experts, top 4. AIConfigurator's sampler (Monte Carlo of its
        // `power_law_logits_v3`, α 1.01): 23.5, 40.2, 56.8, 90.3, 100.2 and 106.7 experts at 8,
        // 16, 32, 64, 128 and 256 tokens; uniform routing reaches 28.7, 51.0, 81.7, 111.2, 125.8, 128.
        let sampled = MoeRouting::Sampled { experts: 128.0, top_k: 4.0, alpha: 1.01 };
        let uniform = MoeRouting::uniform(128.0, 4.0);
        for (tokens, monte_carlo) in
            [(8.0, 23.5), (16.0, 40.2), (32.0, 56.8), (64.0, 90.3), (128.0, 100.2), (256.0, 106.7)]
        {
            let reach = sampled.active_experts(tokens);
            assert!((reach - monte_carlo).abs() < 1.0, "{tokens}: {reach} vs {monte_carlo}");
            assert!(reach < uniform.active_experts(tokens));
        }
        // One token reaches its k distinct experts; never more than E or T·k.
        assert_eq!(sampled.active_experts(1.0), 4.0);
        assert!(sampled.active_experts(4096.0) <= 128.0);
    }

    #[test]
    fn balanced_routing_reaches_the_expected_number_of_distinct_experts() {
        let mixtral = MoeRouting::uniform(8.0, 2.0);
        // 1 - (1 - 2/8)^4 of 8 experts: 5.47 (min(E, T·k) said 8).
        assert!((mixtral.active_experts(4.0) - 8.0 * (1.0 - 0.75f64.powi(4))).abs() < 1e-9);
        assert!((mixtral.active_experts(1.0) - 2.0).abs() < 1e-9, "one token reaches its top-k");
        assert!(mixtral.active_experts(64.0) > 7.99);
        // 256 experts, top-8, 16 tokens: 100.6 (min said 128).
        let dsv3 = MoeRouting::uniform(256.0, 8.0);
        assert!((dsv3.active_experts(16.0) - 256.0 * (1.0 - (1.0 - 8.0 / 256.0f64).powi(16))).abs() < 1e-6);
        // A skewed router concentrates tokens on fewer experts.
        assert!(MoeRouting::power_law(256.0, 8.0, 1.2).active_experts(16.0) < dsv3.active_experts(16.0));
        // AIC's balanced tables spread the picks evenly: min(E, T·k).
        let balanced = MoeRouting::Balanced { experts: 8.0, top_k: 2.0 };
        assert_eq!((balanced.active_experts(2.0), balanced.active_experts(16.0)), (4.0, 8.0));
    }

    #[test]
    fn alpha_beta_adds_latency_to_transfer() {
        let ab = AlphaBeta { alpha_us: 10.0, beta_gbps: 100.0 };
        assert!((ab.time_us(1e8) - (10.0 + 1000.0)).abs() < 1e-9);
        assert_eq!(ab.time_us(0.0), 0.0);
    }

    #[test]
    fn a_collective_takes_the_faster_of_its_two_algorithms() {
        let one_shot = AlphaBeta { alpha_us: 5.0, beta_gbps: 80.0 };
        let two_shot = AlphaBeta { alpha_us: 12.0, beta_gbps: 200.0 };
        let c = Collective { small: one_shot, large: Some(two_shot) };
        assert_eq!(c.time_us(64e3), one_shot.time_us(64e3));
        assert_eq!(c.time_us(64e6), two_shot.time_us(64e6));
        assert_eq!(Collective::single(one_shot).time_us(64e6), one_shot.time_us(64e6));
    }
}
