//! The KV memory planner: how many KV blocks fit on a replica's GPUs next to the weights.

use crate::config::{ActivationMemory, CacheSpec, ConfigError, LinearStatePool, ReplicaSpec};

/// Bytes in a GiB (2^30). Device capacities are in GiB, as Vidur counts them (its "GB"), and
/// every message labels memory as GiB.
const GIB: f64 = (1u64 << 30) as f64;

/// Per-replica memory budget, per GPU of the most loaded pipeline stage.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryPlan {
    /// Parameters held by one GPU of the most loaded stage.
    pub params_per_device: u64,
    /// The transformer layers' parameters one token multiplies by on one GPU, which MFU counts:
    /// no embedding or LM head (an embedding is a gather, and the LM head runs once per
    /// sequence, not per token), and of an MoE layer's routed experts only the `top_k` a token
    /// is sent to (the execution-time model charges only those, so counting every expert
    /// reported an MFU above 100 %).
    pub active_layer_params_per_device: u64,
    /// Their bytes.
    pub weight_bytes_per_device: u64,
    /// Device memory left for weights and KV after the margin.
    pub available_bytes_per_device: u64,
    /// Of that, kept out of the KV cache for activations and the runtime.
    pub reserved_bytes_per_device: u64,
    /// KV bytes one token takes on one GPU: of a model with sliding-window layers, its
    /// full-attention layers' only (the block pool's charge per token).
    pub kv_bytes_per_token: u64,
    /// Kept out of the block pool for the sliding-window layers' KV: every sequence the
    /// scheduler may run holds at most the window plus one block of it per sliding layer (0
    /// without sliding-window attention).
    pub sliding_window_bytes_per_device: u64,
    /// Kept out of the block pool for the linear-attention layers' recurrent state: one
    /// fixed-size state per layer for every sequence the scheduler may run (0 without
    /// linear attention).
    pub linear_state_bytes_per_device: u64,
    /// Sequences the replica may run at once because of its linear-attention state pool, when
    /// that pool is sized by memory rather than by the batch-size cap
    /// ([`LinearStatePool::Ratio`]): every attention-DP rank's together. `None`: no such limit.
    pub max_running_sequences: Option<u64>,
    /// Tokens of KV the replica can hold: each attention-DP rank's, times the ranks.
    pub max_kv_tokens: u64,
    /// KV blocks per replica (the planner's, or `--cache_config_num_blocks`): with attention
    /// data parallelism, every rank's blocks together.
    pub num_blocks: u64,
    /// Attention-DP ranks, each holding `num_blocks / attention_dp_size` of the blocks for its
    /// own requests (1 without DP attention).
    pub attention_dp_size: u32,
    /// Tokens per block.
    pub block_size: u32,
}

/// Parameters of one transformer layer's attention on one GPU under TP (norms excluded).
/// Multi-head latent attention keeps its down-projections (the fused q/kv "a" projections
/// into the latents) whole on every GPU, as vLLM and SGLang replicate them, and splits the
/// per-head up-projections and the output projection by heads.
pub fn attention_params(replica: &ReplicaSpec) -> u64 {
    let m = &replica.model;
    let tp = u64::from(replica.parallel.tensor_parallel_size);
    let e = u64::from(m.embedding_dim);
    if let Some(mla) = &m.mla {
        let heads = u64::from(m.num_q_heads) / tp;
        let (q_lora, kv_lora) = (u64::from(mla.q_lora_rank), u64::from(mla.kv_lora_rank));
        let (qk, v) = (u64::from(mla.qk_head_dim()), u64::from(mla.v_head_dim));
        let down = e * (q_lora + kv_lora + u64::from(mla.qk_rope_head_dim));
        let queries = if q_lora > 0 { q_lora * heads * qk } else { e * heads * qk };
        let latent_norms = q_lora + kv_lora;
        // DeepSeek Sparse Attention's indexer, whole on every GPU (replicated linears): its
        // query from the query latent, its key and per-head weights from the hidden state, and
        // the key's layer norm.
        let indexer = m.sparse_attention.as_ref().map_or(0, |s| {
            let (heads, dim) = (u64::from(s.index_heads), u64::from(s.index_head_dim));
            let q_in = if q_lora > 0 { q_lora } else { e };
            q_in * heads * dim + e * dim + e * heads + 2 * dim
        });
        return indexer
            + down
            + queries
            + kv_lora * heads * (u64::from(mla.qk_nope_head_dim) + v)
            + heads * v * e
            + latent_norms;
    }
    let hd = u64::from(m.head_dim());
    let q = u64::from(m.num_q_heads) / tp;
    let kv = u64::from(m.num_kv_heads.div_ceil(replica.parallel.tensor_parallel_size));
    let mut n = e * hd * (q + 2 * kv) + q * hd * e;
    if m.use_qkv_bias || m.use_bias {
        n += hd * (q + 2 * kv);
    }
    n
}

/// Parameters of one linear-attention (Gated DeltaNet) layer's token mixer on one GPU under TP
/// (norms excluded): the fused q/k/v/z input projection, the β/decay projection, the
/// depthwise convolution, the per-head decay parameters and the output projection, all split
/// by heads. 0 without linear attention.
pub fn linear_attention_params(replica: &ReplicaSpec) -> u64 {
    let m = &replica.model;
    let Some(l) = &m.linear_attention else { return 0 };
    let tp = u64::from(replica.parallel.tensor_parallel_size.max(1));
    let e = u64::from(m.embedding_dim);
    let value_dim = u64::from(l.num_value_heads) * u64::from(l.value_head_dim);
    let v_heads = u64::from(l.num_value_heads);
    // in_proj_qkvz (q, k, v and the output gate z) and in_proj_ba (β and the decay per head).
    let input = e * (l.conv_dim() + value_dim + 2 * v_heads) / tp;
    let conv = l.conv_dim() * u64::from(l.conv_kernel) / tp;
    let decay = 2 * v_heads / tp;
    input + conv + decay + value_dim / tp * e
}

/// Of the layers on one GPU (a pipeline stage's): those with full attention (a KV cache
/// growing with the context), those with a sliding window and those with linear attention.
pub fn layer_kinds(replica: &ReplicaSpec) -> (u64, u64, u64) {
    let layers = replica.layers_per_stage();
    let sliding = replica.model.sliding_layers_of(layers);
    let linear = replica.model.linear_layers_of(layers).min(layers - sliding);
    (u64::from(layers - sliding - linear), u64::from(sliding), u64::from(linear))
}

/// Bytes per GPU that the linear-attention layers' recurrent state of `sequences` running
/// sequences takes ([`crate::catalog::LinearAttentionSpec::state_bytes_per_layer`] for each
/// of the stage's linear layers), kept out of the block pool: the state does not grow with
/// the context, so the block pool's per-token charge cannot hold it.
pub fn linear_state_bytes(replica: &ReplicaSpec, sequences: u64) -> u64 {
    let Some(l) = &replica.model.linear_attention else { return 0 };
    let (_, _, linear) = layer_kinds(replica);
    let per_sequence = linear * l.state_bytes_per_layer(replica.parallel.tensor_parallel_size, 2);
    sequences.saturating_mul(per_sequence)
}

/// Which of an MoE layer's routed experts a parameter count includes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Experts {
    /// Every expert: what the GPUs hold.
    All,
    /// The `top_k` one token is routed to: what a token multiplies by.
    Active,
}

/// Parameters of one layer's MLP on one GPU: the MoE block (its share of the routed experts,
/// the shared expert split by TP, and the router) for an MoE layer, else the dense MLP.
pub fn mlp_params(replica: &ReplicaSpec, moe_layer: bool) -> u64 {
    mlp_params_of(replica, moe_layer, Experts::All)
}

/// [`mlp_params`], counting `experts` of an MoE layer's routed experts.
fn mlp_params_of(replica: &ReplicaSpec, moe_layer: bool, experts: Experts) -> u64 {
    local_mlp_params(replica, moe_layer) + routed_expert_params(replica, moe_layer, experts)
}

/// Of one layer's MLP on one GPU, what the GPU applies to its own attention-DP rank's tokens
/// only: the dense MLP split by TP, or an MoE layer's shared expert split by TP and its router
/// (whole on every GPU).
fn local_mlp_params(replica: &ReplicaSpec, moe_layer: bool) -> u64 {
    let m = &replica.model;
    let tp = u64::from(replica.parallel.tensor_parallel_size);
    let e = u64::from(m.embedding_dim);
    let projections = if m.use_gated_mlp { 3 } else { 2 };
    match &m.moe {
        Some(moe) if moe_layer => {
            u64::from(moe.shared_expert_hidden_dim) * projections * e / tp + e * u64::from(moe.num_experts)
        }
        _ => projections * e * u64::from(m.mlp_hidden_dim) / tp,
    }
}

/// An MoE layer's routed experts on one GPU: `experts` of them (all, or a token's `top_k`)
/// spread over the stage's TP × attention-DP GPUs, whether by expert parallelism (E / EP
/// experts per rank, each split over TP × DP / EP GPUs) or by TP alone; 0 for a dense layer.
fn routed_expert_params(replica: &ReplicaSpec, moe_layer: bool, experts: Experts) -> u64 {
    let m = &replica.model;
    let e = u64::from(m.embedding_dim);
    let projections = if m.use_gated_mlp { 3 } else { 2 };
    match &m.moe {
        Some(moe) if moe_layer => {
            let routed = match experts {
                Experts::All => moe.num_experts,
                Experts::Active => moe.top_k.min(moe.num_experts),
            };
            u64::from(routed) * projections * e * u64::from(moe.expert_hidden_dim)
                / u64::from(replica.parallel.stage_size())
        }
        _ => 0,
    }
}

/// Parameters of one transformer layer on one GPU under TP: an MoE layer's for an MoE model
/// (its dense first layers are counted by [`stage_layer_params`]).
pub fn params_per_layer(replica: &ReplicaSpec) -> u64 {
    layer_params(replica, Experts::All)
}

/// Of [`params_per_layer`], those one token multiplies by: an MoE layer's `top_k` routed
/// experts instead of all of them.
pub fn active_params_per_layer(replica: &ReplicaSpec) -> u64 {
    layer_params(replica, Experts::Active)
}

fn layer_params(replica: &ReplicaSpec, experts: Experts) -> u64 {
    attention_params(replica)
        + mlp_params_of(replica, replica.model.moe.is_some(), experts)
        + 2 * u64::from(replica.model.embedding_dim)
}

/// The dense-MLP layers among pipeline stage `stage`'s layers: an MoE model's first
/// `first_k_dense_layers` layers sit on the first stages.
pub fn dense_layers_on_stage(replica: &ReplicaSpec, stage: u32) -> u32 {
    let per_stage = replica.layers_per_stage();
    match &replica.model.moe {
        None => per_stage,
        Some(moe) => moe.first_k_dense_layers.saturating_sub(stage * per_stage).min(per_stage),
    }
}

/// Bytes per GPU of `params` parameters that hold the busiest stage's routed experts
/// ([`stage_routed_expert_params`]), its embedding and LM head ([`edge_params`]), its
/// token mixers ([`stage_attention_params`]) and other weights: each part in
/// its dtype ([`ReplicaSpec::expert_bytes_of`], [`ReplicaSpec::edge_weight_dtype`],
/// [`ReplicaSpec::attention_weight_dtype`], [`ReplicaSpec::dense_weight_dtype`]).
pub fn weight_bytes(replica: &ReplicaSpec, params: u64) -> u64 {
    let (experts, dense, edge, attention) = (
        replica.expert_weight_dtype(),
        replica.dense_weight_dtype(),
        replica.edge_weight_dtype(),
        replica.attention_weight_dtype(),
    );
    if experts == dense && dense == edge && dense == attention && !replica.mxfp4_experts() {
        return dense.bytes_of(params);
    }
    let routed = stage_routed_expert_params(replica).min(params);
    let edge_params = edge_params(replica).min(params - routed);
    let attention_params = if attention == dense {
        0
    } else {
        stage_attention_params(replica).min(params - routed - edge_params)
    };
    replica.expert_bytes_of(routed)
        + edge.bytes_of(edge_params)
        + attention.bytes_of(attention_params)
        + dense.bytes_of(params - routed - edge_params - attention_params)
}

/// The token mixers' parameters (full attention, and a linear-attention layer's own) on one
/// GPU of the most loaded pipeline stage.
pub fn stage_attention_params(replica: &ReplicaSpec) -> u64 {
    let layers = u64::from(replica.layers_per_stage());
    let (_, _, linear) = layer_kinds(replica);
    (layers - linear) * attention_params(replica) + linear * linear_attention_params(replica)
}

/// The embedding and LM head parameters on one GPU of the most loaded pipeline stage: the
/// first stage holds the embedding, the last the LM head; one stage holds both (once when
/// tied).
pub fn edge_params(replica: &ReplicaSpec) -> u64 {
    let m = &replica.model;
    let tp = u64::from(replica.parallel.tensor_parallel_size);
    let embedding = u64::from(m.vocab_size) * u64::from(m.embedding_dim) / tp;
    if replica.parallel.num_pipeline_stages == 1 {
        if m.tie_word_embeddings { embedding } else { 2 * embedding }
    } else {
        embedding
    }
}

/// The routed experts' parameters on one GPU of the most loaded pipeline stage (0 for a dense
/// model): every expert of its MoE layers, spread as [`stage_layer_params`] counts them.
pub fn stage_routed_expert_params(replica: &ReplicaSpec) -> u64 {
    let layers = u64::from(replica.layers_per_stage());
    let last = replica.parallel.num_pipeline_stages.max(1) - 1;
    let dense = u64::from(dense_layers_on_stage(replica, last));
    (layers - dense) * routed_expert_params(replica, replica.model.moe.is_some(), Experts::All)
}

/// Layer parameters on one GPU of the most loaded pipeline stage: the last, which holds the
/// fewest of an MoE model's dense first layers.
pub fn stage_layer_params(replica: &ReplicaSpec) -> u64 {
    stage_layer_params_of(replica, Experts::All)
}

/// Of [`stage_layer_params`], those one token multiplies by ([`Experts::Active`]).
pub fn active_stage_layer_params(replica: &ReplicaSpec) -> u64 {
    stage_layer_params_of(replica, Experts::Active)
}

fn stage_layer_params_of(replica: &ReplicaSpec, experts: Experts) -> u64 {
    let layers = u64::from(replica.layers_per_stage());
    let last = replica.parallel.num_pipeline_stages.max(1) - 1;
    let dense = u64::from(dense_layers_on_stage(replica, last));
    let (_, _, linear) = layer_kinds(replica);
    // A linear-attention layer's token mixer replaces the full attention's.
    let mixers = (layers - linear) * attention_params(replica) + linear * linear_attention_params(replica);
    let moe = replica.model.moe.is_some();
    let local = mixers
        + layers * 2 * u64::from(replica.model.embedding_dim)
        + dense * local_mlp_params(replica, false)
        + (layers - dense) * local_mlp_params(replica, moe);
    let routed = (layers - dense) * routed_expert_params(replica, moe, experts);
    match experts {
        Experts::All => local + routed,
        // A token runs through the attention, dense MLP and shared expert of one attention-DP
        // rank only: per GPU of the stage, 1 / DP of them on average.
        Experts::Active => local / u64::from(replica.parallel.attention_dp_size.max(1)) + routed,
    }
}

/// Peak activation bytes per GPU of one forward pass over `tokens` tokens that samples
/// `sequences` sequences, as vLLM's memory profile run finds it: the hidden state and residual
/// (bf16) next to the widest intermediate of a layer (the fused QKV output, or the MLP's gate+up
/// output with its activation; per routed token for MoE), plus the sampler's fp32 logits over
/// the whole vocabulary for every sequence. Layers run one after another, so one layer's
/// intermediates are live at a time.
pub fn activation_bytes(replica: &ReplicaSpec, tokens: u64, sequences: u64) -> u64 {
    let m = &replica.model;
    let tp = u64::from(replica.parallel.tensor_parallel_size);
    let e = u64::from(m.embedding_dim);
    let qkv = match &m.mla {
        // Non-absorbed prefill decompresses every head's keys and values.
        Some(mla) => {
            u64::from(m.num_q_heads) / tp * (2 * u64::from(mla.qk_head_dim()) + u64::from(mla.v_head_dim))
        }
        None => {
            let hd = u64::from(m.head_dim());
            let kv = u64::from(m.num_kv_heads.div_ceil(replica.parallel.tensor_parallel_size));
            (u64::from(m.num_q_heads) / tp + 2 * kv) * hd
        }
    };
    let projections = if m.use_gated_mlp { 3 } else { 2 };
    let dense_mlp = projections * u64::from(m.mlp_hidden_dim) / tp;
    let mlp = match &m.moe {
        None => dense_mlp,
        Some(moe) => {
            let moe_mlp = u64::from(moe.top_k) * (projections * u64::from(moe.expert_hidden_dim) / tp + e)
                + projections * u64::from(moe.shared_expert_hidden_dim) / tp;
            // The dense first layers (DeepSeek's first_k_dense_replace) may be wider.
            if moe.first_k_dense_layers > 0 { moe_mlp.max(dense_mlp) } else { moe_mlp }
        }
    };
    const ACT_BYTES: u64 = 2;
    const LOGIT_BYTES: u64 = 4;
    tokens * (2 * e + qkv.max(mlp)) * ACT_BYTES + sequences * u64::from(m.vocab_size) * LOGIT_BYTES
}

/// KV-cache elements one token takes per layer on one GPU: K and V of the GPU's KV heads
/// (replicated when TP exceeds them), or the latent and rotary key of multi-head latent
/// attention, which every TP rank holds whole (vLLM, SGLang and TensorRT-LLM replicate it).
pub fn kv_elements_per_token_layer(replica: &ReplicaSpec) -> u64 {
    let m = &replica.model;
    match &m.mla {
        Some(mla) => u64::from(mla.cached_elements()),
        None => {
            let kv_heads = u64::from(m.num_kv_heads.div_ceil(replica.parallel.tensor_parallel_size));
            2 * u64::from(m.head_dim()) * kv_heads
        }
    }
}

/// Of the layers on one GPU (a pipeline stage's), how many keep KV for the whole context and
/// how many slide (a sliding-window model's share of its sliding layers; 0 otherwise).
/// Linear-attention layers keep no KV and are in neither count ([`layer_kinds`]).
pub fn full_and_sliding_layers(replica: &ReplicaSpec) -> (u64, u64) {
    let (full, sliding, _) = layer_kinds(replica);
    (full, sliding)
}

/// Bytes per GPU that the sliding-window layers' KV of `sequences` running sequences takes:
/// each keeps the last `window` tokens of every sliding layer, plus up to one partly filled
/// block (vLLM's sliding-window manager frees the blocks that fall out of the window; they are
/// never charged to the block pool's per-token accounting).
pub fn sliding_window_bytes(replica: &ReplicaSpec, block_size: u32, sequences: u64) -> u64 {
    let (_, sliding) = full_and_sliding_layers(replica);
    let Some(w) = &replica.model.sliding_window else { return 0 };
    let per_sequence_tokens = u64::from(w.window) + u64::from(block_size);
    let per_token = replica.kv_cache_dtype.bytes_of(kv_elements_per_token_layer(replica) * sliding);
    sequences.saturating_mul(per_sequence_tokens).saturating_mul(per_token)
}

/// KV bytes one token takes on one GPU in the sliding-window layers (0 without them): what a
/// disaggregated transfer moves for each token of the window it sends.
pub fn sliding_kv_bytes_per_token(replica: &ReplicaSpec) -> u64 {
    let (_, sliding) = full_and_sliding_layers(replica);
    if replica.model.sliding_window.is_none() {
        return 0;
    }
    replica.kv_cache_dtype.bytes_of(kv_elements_per_token_layer(replica) * sliding)
}

/// Plans a replica's KV capacity; refuses a configuration whose weights do not fit, with the
/// numbers and a hint.
pub fn plan(replica: &ReplicaSpec, cache: &CacheSpec) -> Result<MemoryPlan, ConfigError> {
    plan_with_draft(replica, cache, DraftMemory::default())
}

/// What a speculative-decoding draft adds to each GPU of the stage that runs it (the last;
/// the plan is the busiest GPU's): its weights, and its KV bytes per token, which grows with
/// the target's KV token for token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DraftMemory {
    /// Draft parameters per GPU.
    pub params_per_device: u64,
    /// Draft KV bytes per token per GPU.
    pub kv_bytes_per_token: u64,
}

/// [`plan`] with a speculative-decoding draft's weights and KV on every GPU.
pub fn plan_with_draft(
    replica: &ReplicaSpec,
    cache: &CacheSpec,
    draft: DraftMemory,
) -> Result<MemoryPlan, ConfigError> {
    let m = &replica.model;
    let tp = u64::from(replica.parallel.tensor_parallel_size);
    let pp = replica.parallel.num_pipeline_stages;
    let params_per_device = stage_layer_params(replica) + edge_params(replica) + draft.params_per_device;
    let active_layer_params_per_device = active_stage_layer_params(replica);
    let weight_bytes = weight_bytes(replica, params_per_device);
    let available = (replica.device.memory_gb * GIB * (1.0 - cache.memory_margin_fraction)) as u64;
    let activations = match cache.activation_memory {
        ActivationMemory::None => 0,
        ActivationMemory::Profile { tokens, sequences } => activation_bytes(replica, tokens, sequences),
    };
    let reserved = activations + cache.runtime_memory_bytes;
    let (full_layers, sliding_layers) = full_and_sliding_layers(replica);
    if full_layers == 0 && (sliding_layers > 0 || m.linear_attention.is_some()) {
        // The block pool is sized by the full layers' KV; with none, it would be unbounded.
        return Err(ConfigError::new(
            "replica_config_model_name",
            format!(
                "{}: no layer on a GPU is a full-attention layer (its `layer_types` has no full_attention entry there); a model without full-attention layers is not modelled",
                m.name
            ),
        )
        .with_hint("use a model with full-attention layers (gpt-oss alternates them with sliding ones), or fewer pipeline stages"));
    }
    // A sparse-attention model's indexer keys are cached beside the latent, in fp8 whatever the
    // KV dtype.
    let index_bytes =
        m.sparse_attention.as_ref().map_or(0, |s| s.index_bytes_per_token_layer() * full_layers);
    let kv_bytes_per_token =
        replica.kv_cache_dtype.bytes_of(kv_elements_per_token_layer(replica) * full_layers)
            + index_bytes
            + draft.kv_bytes_per_token;
    // Each attention-DP rank runs its share of the scheduler's sequences (under vLLM's engine
    // core per DP rank the config gives `max_sequences` as the cap times DP: each rank's whole
    // max_num_seqs, sim_config).
    let rank_sequences = cache.max_sequences.div_ceil(u64::from(replica.parallel.attention_dp_size.max(1)));
    let sliding_window_bytes = sliding_window_bytes(replica, cache.block_size, rank_sequences);

    let gib = |b: u64| b as f64 / GIB;
    if weight_bytes >= available {
        let needed_tp = (1..=64u64).map(|x| x * tp).find(|t| weight_bytes * tp / t < available);
        let hint = match needed_tp {
            Some(t) => format!(
                "increase TP or PP (TP×PP ≥ {} would leave room), use fp8 weights, a device with more memory, or a smaller --cache_config_memory_margin_fraction",
                t * u64::from(pp)
            ),
            None => "use a device with more memory or more GPUs per replica".to_string(),
        };
        return Err(ConfigError::new(
            "replica_config_tensor_parallel_size",
            format!(
                "{} does not fit: its weights need {:.1} GiB per GPU at TP={} PP={} ({:?}), but one {} GPU offers {:.1} GiB of its {} GiB after the {:.0}% memory margin",
                m.name,
                gib(weight_bytes),
                tp,
                pp,
                replica.weight_dtype,
                replica.device.name,
                gib(available),
                replica.device.memory_gb,
                cache.memory_margin_fraction * 100.0
            ),
        )
        .with_hint(hint));
    }
    let rest = (available - weight_bytes).saturating_sub(reserved).saturating_sub(sliding_window_bytes);
    let state_per_sequence = linear_state_bytes(replica, 1);
    let (linear_state_bytes, rank_running) = match cache.linear_state_pool {
        _ if state_per_sequence == 0 => (0, None),
        LinearStatePool::PerSequence => (rank_sequences.saturating_mul(state_per_sequence), None),
        LinearStatePool::Ratio { ratio, slots_per_request } => {
            let slots = (rest as f64 * ratio / (1.0 + ratio) / state_per_sequence as f64) as u64;
            (slots * state_per_sequence, Some(slots / slots_per_request.max(1)))
        }
    };
    if rank_running == Some(0) {
        return Err(ConfigError::new(
            "replica_config_tensor_parallel_size",
            format!(
                "{}: the linear-attention state pool ({:.2} GiB of the {:.2} GiB left after the weights) holds no running request's state ({:.1} MiB a sequence)",
                m.name,
                gib(linear_state_bytes),
                gib(rest),
                state_per_sequence as f64 / (1u64 << 20) as f64
            ),
        )
        .with_hint("use more GPUs per replica or smaller weights"));
    }
    // Both are kept per sequence the scheduler may run.
    let per_sequence_bytes = sliding_window_bytes.saturating_add(linear_state_bytes);
    let free = (available - weight_bytes).saturating_sub(reserved).saturating_sub(per_sequence_bytes);
    // Every GPU of an attention-DP rank holds its share of that rank's KV (TP splits the heads),
    // so one GPU's free memory is one rank's capacity; the ranks' capacities add up.
    let dp = u64::from(replica.parallel.attention_dp_size.max(1));
    let rank_kv_tokens = free / kv_bytes_per_token.max(1);
    let rank_blocks = rank_kv_tokens / u64::from(cache.block_size);
    let (max_kv_tokens, planned_blocks) = (rank_kv_tokens * dp, rank_blocks * dp);
    if planned_blocks == 0 && cache.num_blocks_override.is_none() {
        let mut reservation = String::new();
        if reserved > 0 {
            reservation += &format!(", {:.2} GiB reserved for activations and the runtime", gib(reserved));
        }
        if sliding_window_bytes > 0 {
            reservation += &format!(
                ", {:.2} GiB for the sliding-window layers' KV of {rank_sequences} sequences",
                gib(sliding_window_bytes)
            );
        }
        if linear_state_bytes > 0 {
            reservation += &format!(
                ", {:.2} GiB for the linear-attention layers' state of {rank_sequences} sequences",
                gib(linear_state_bytes)
            );
        }
        // Without the per-sequence reservations, would a block fit? Then the batch-size cap
        // that sizes them is what to lower.
        let without_window = (available - weight_bytes).saturating_sub(reserved);
        let window_exhausts = per_sequence_bytes > 0
            && without_window / kv_bytes_per_token.max(1) >= u64::from(cache.block_size);
        let hint = if window_exhausts && !cache.max_sequences_flag.is_empty() {
            format!(
                "lower --{} (each running sequence keeps its sliding-window KV or linear-attention state), or use more GPUs per replica",
                cache.max_sequences_flag
            )
        } else {
            "use more GPUs per replica, a smaller model, a smaller block size or token budget".to_string()
        };
        return Err(ConfigError::new(
            "cache_config_block_size",
            format!(
                "no KV block of {} tokens fits next to the weights{reservation} ({:.2} GiB free per GPU)",
                cache.block_size,
                gib(free)
            ),
        )
        .with_hint(hint));
    }
    Ok(MemoryPlan {
        params_per_device,
        active_layer_params_per_device,
        weight_bytes_per_device: weight_bytes,
        available_bytes_per_device: available,
        reserved_bytes_per_device: reserved,
        kv_bytes_per_token,
        sliding_window_bytes_per_device: sliding_window_bytes,
        linear_state_bytes_per_device: linear_state_bytes,
        max_kv_tokens,
        num_blocks: cache.num_blocks_override.unwrap_or(planned_blocks),
        attention_dp_size: replica.parallel.attention_dp_size.max(1),
        max_running_sequences: rank_running.map(|n| n * dp),
        block_size: cache.block_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;
    use crate::config::{Dtype, ParallelSpec};

    fn replica(model: &str, device: &str, tp: u32, pp: u32) -> ReplicaSpec {
        ReplicaSpec {
            model: catalog::find_model(model).unwrap().clone(),
            device: catalog::find_device(device).unwrap().clone(),
            node: catalog::find_node("h100_dgx").unwrap().clone(),
            parallel: ParallelSpec::tp_pp(tp, pp),
            weight_dtype: Dtype::Bf16,
            kv_cache_dtype: Dtype::Bf16,
        }
    }

    fn cache() -> CacheSpec {
        CacheSpec {
            block_size: 16,
            num_blocks_override: None,
            watermark_blocks_fraction: 0.01,
            memory_margin_fraction: 0.1,
            activation_memory: ActivationMemory::None,
            runtime_memory_bytes: 0,
            enable_prefix_caching: false,
            num_preallocate_tokens: 64,
            max_sequences: 0,
            max_sequences_flag: String::new(),
            linear_state_pool: Default::default(),
        }
    }

    #[test]
    fn layer_parameters_match_vidur_counts() {
        // Vidur's planner (behaviour.md §2.5) counts the same per-layer weights: 6,979,321,856
        // for Llama-3-8B TP1 without embeddings and norms.
        let r = replica("meta-llama/Meta-Llama-3-8B", "h100", 1, 1);
        assert_eq!((params_per_layer(&r) - 2 * 4096) * 32, 6_979_321_856);
        let r = replica("meta-llama/Meta-Llama-3-70B", "h100", 4, 1);
        assert_eq!((params_per_layer(&r) - 2 * 8192) * 80, 17_112_760_320);
    }

    #[test]
    fn llama3_8b_on_h100_plans_vidur_like_capacity() {
        let plan = plan(&replica("meta-llama/Meta-Llama-3-8B", "h100", 1, 1), &cache()).unwrap();
        // Vidur: 483,328 tokens without embeddings; the embedding + LM head (1.05 B params)
        // take 2.1 GB more, about 16 k tokens.
        assert_eq!(plan.kv_bytes_per_token, 131_072);
        assert!((460_000..483_328).contains(&plan.max_kv_tokens), "{}", plan.max_kv_tokens);
        assert_eq!(plan.num_blocks, plan.max_kv_tokens / 16);
    }

    #[test]
    fn pipeline_stages_split_layers_and_kv() {
        let one = plan(&replica("meta-llama/Meta-Llama-3-70B", "h100", 4, 1), &cache()).unwrap();
        let two = plan(&replica("meta-llama/Meta-Llama-3-70B", "h100", 2, 2), &cache()).unwrap();
        assert_eq!(one.kv_bytes_per_token, two.kv_bytes_per_token);
    }

    #[test]
    fn fp8_kv_doubles_capacity_per_byte() {
        let mut r = replica("meta-llama/Meta-Llama-3-8B", "h100", 1, 1);
        r.kv_cache_dtype = Dtype::Fp8;
        assert_eq!(plan(&r, &cache()).unwrap().kv_bytes_per_token, 65_536);
    }

    #[test]
    fn nvfp4_weights_take_half_a_byte_and_a_scale_byte_per_16_parameters() {
        let mut r = replica("meta-llama/Meta-Llama-3-70B", "b200", 1, 1);
        let bf16 = plan(&r, &cache()).unwrap();
        r.weight_dtype = Dtype::Fp4;
        let fp4 = plan(&r, &cache()).unwrap();
        // 70.55 B parameters: 141.1 GB at bf16; the 68.4 B of the layers at 0.5625 B each =
        // 38.5 GB at NVFP4, the embedding and LM head (2.1 B) staying bf16 (`exclude_modules`
        // lists `lm_head`); the 98.4 GB freed become KV cache (320 KiB per token at bf16 KV).
        let freed = (fp4.max_kv_tokens - bf16.max_kv_tokens) * fp4.kv_bytes_per_token;
        let params = (params_per_layer(&r) * 80) as f64;
        let expected = params * (2.0 - 0.5625);
        assert!(
            (freed as f64 - expected).abs() < 2.0 * fp4.kv_bytes_per_token as f64,
            "{freed} vs {expected}"
        );
        assert_eq!(Dtype::Fp4.bytes_of(32), 16 + 2);
        assert_eq!(Dtype::Fp4.bytes_of(33), 17 + 3, "a started block has its scale");
    }

    #[test]
    fn int4_weight_only_quantises_an_moe_models_routed_experts_and_a_dense_models_layers() {
        assert_eq!(Dtype::Int4.bytes_of(32), 16 + 2, "a bf16 scale per group of 32");
        assert_eq!(Dtype::Int4.bytes_of(33), 17 + 4, "a started group has its scale");
        assert_eq!(Dtype::Int4.bytes_per_element(), 0.5625);
        // Mixtral-8x7B at TP 2, by hand. Routed experts per GPU: 32 layers × 8 experts ×
        // 3·4096·14336 / 2 = 22,548,578,304 parameters, at INT4 half a byte each plus 2 bytes
        // per 32: 11,274,289,152 + 1,409,286,144 = 12,683,575,296 B. The rest in bf16: per layer
        // attention (2·4096·4096 + 2·4096·1024) / 2 = 20,971,520, router 4096·8 = 32,768, two
        // norms 8,192, × 32 = 672,399,360; embedding and LM head 2 · 32000·4096 / 2 =
        // 131,072,000; 803,471,360 parameters, 1,606,942,720 B.
        let mut r = replica("mistralai/Mixtral-8x7B-v0.1", "h100", 2, 1);
        r.weight_dtype = Dtype::Int4;
        let p = plan(&r, &cache()).unwrap();
        assert_eq!(stage_routed_expert_params(&r), 22_548_578_304);
        assert_eq!(p.params_per_device, 22_548_578_304 + 803_471_360);
        assert_eq!(p.weight_bytes_per_device, 12_683_575_296 + 1_606_942_720);
        // A dense model's layer weights are all INT4, its embedding and LM head bf16 (as GPTQ,
        // AWQ and compressed-tensors W4A16 checkpoints keep them): Llama-3-8B's 8,030,257,152
        // parameters (the final norm's 4096 not counted) are 2 · 128256·4096 = 1,050,673,152
        // edge parameters, 2,101,346,304 B in bf16, and 6,979,584,000 layer parameters,
        // 3,489,792,000 + 2 · 218,112,000 = 3,926,016,000 B in INT4: 6,027,362,304 B.
        let mut r = replica("meta-llama/Meta-Llama-3-8B", "h100", 1, 1);
        r.weight_dtype = Dtype::Int4;
        let p = plan(&r, &cache()).unwrap();
        assert_eq!(p.params_per_device, 8_030_257_152);
        assert_eq!(edge_params(&r), 1_050_673_152);
        assert_eq!(p.weight_bytes_per_device, 3_926_016_000 + 2_101_346_304);
        assert_eq!(stage_routed_expert_params(&r), 0);
        // NVFP4 checkpoints keep them in bf16 too (ModelOpt's `exclude_modules` lists
        // `lm_head`); fp8 sizes them as every weight.
        r.weight_dtype = Dtype::Fp4;
        assert_eq!(
            plan(&r, &cache()).unwrap().weight_bytes_per_device,
            Dtype::Fp4.bytes_of(6_979_584_000) + 2_101_346_304
        );
        r.weight_dtype = Dtype::Fp8;
        assert_eq!(plan(&r, &cache()).unwrap().weight_bytes_per_device, 8_030_257_152);
    }

    #[test]
    fn mfu_counts_the_layer_parameters_per_token_not_the_embedding_and_lm_head() {
        // One 512-token prompt with one output token: a single batch, so the run's MFU is that
        // batch's FLOPs over the simulated time at the BF16 peak.
        let config = crate::Config::from_pairs([
            ("replica_config_model_name", "meta-llama/Meta-Llama-3-8B"),
            ("replica_config_device", "h100"),
            ("replica_config_network_device", "h100_dgx"),
            ("synthetic_request_generator_config_num_requests", "1"),
            ("length_generator_config_type", "fixed"),
            ("fixed_request_length_generator_config_prefill_tokens", "512"),
            ("fixed_request_length_generator_config_decode_tokens", "1"),
        ])
        .unwrap();
        let report = crate::run(&config, &crate::Inputs::new()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.summary.num_batches, 1);
        let r = replica("meta-llama/Meta-Llama-3-8B", "h100", 1, 1);
        let layer_params = (params_per_layer(&r) * 32) as f64;
        // QKᵀ and PV over the causal triangle: 512 × 513 / 2 query/key pairs.
        let attention = 4.0 * 32.0 * 32.0 * 128.0 * 512.0 * (513.0 / 2.0);
        let flops = 2.0 * 512.0 * layer_params + attention;
        let expected = flops / (report.summary.simulated_time_s * 989.4e12) * 100.0;
        let mfu = report.summary.mfu_percent_mean;
        assert!((mfu / expected - 1.0).abs() < 1e-3, "MFU {mfu} %, expected {expected} %");
    }

    #[test]
    fn a_vllm_profile_run_reserves_activations_and_the_runtime_reserve_comes_off_the_kv_cache() {
        let r = replica("meta-llama/Meta-Llama-3-8B", "h100", 1, 1);
        let none = plan(&r, &cache()).unwrap();
        // vLLM's H100 defaults: 8192 batched tokens, 1024 sequences.
        let profile = CacheSpec {
            activation_memory: ActivationMemory::Profile { tokens: 8192, sequences: 1024 },
            ..cache()
        };
        let with = plan(&r, &profile).unwrap();
        // 8192 × (2·4096 + 3·14336) × 2 B = 0.78 GiB of layer activations + 1024 × 128256 × 4 B
        // = 0.49 GiB of logits: 1.27 GiB.
        let reserved = with.reserved_bytes_per_device as f64 / GIB;
        assert!((reserved - 1.27).abs() < 0.01, "{reserved}");
        assert_eq!(none.max_kv_tokens - with.max_kv_tokens, with.reserved_bytes_per_device / 131_072);
        // 3–7 % of the KV capacity goes, as the review estimated against vLLM.
        let lost = 1.0 - with.max_kv_tokens as f64 / none.max_kv_tokens as f64;
        assert!((0.015..0.07).contains(&lost), "{lost}");
        let runtime = CacheSpec { runtime_memory_bytes: 1 << 30, ..profile };
        let both = plan(&r, &runtime).unwrap();
        assert_eq!(with.max_kv_tokens - both.max_kv_tokens, (1u64 << 30) / 131_072);
    }

    #[test]
    fn qwen3_235b_kv_bytes_per_token_from_its_config() {
        // config.json: 94 layers, 4 KV heads of head_dim 128, no sliding window. Per token:
        // K and V × 128 × 4 heads × 94 layers × 2 B = 192,512 B at TP 1; at TP 4 and TP 8 each GPU
        // holds one KV head (replicated above TP 4): 2 × 128 × 1 × 94 × 2 = 48,128 B; fp8 halves it.
        let kv = |tp, dtype| {
            let mut r = replica("Qwen/Qwen3-235B-A22B-FP8", "h200", tp, 1);
            r.kv_cache_dtype = dtype;
            r.weight_dtype = Dtype::Fp8;
            plan(&r, &cache()).unwrap().kv_bytes_per_token
        };
        assert_eq!(kv(4, Dtype::Bf16), 48_128);
        assert_eq!(kv(8, Dtype::Bf16), 48_128);
        assert_eq!(kv(8, Dtype::Fp8), 24_064);
        let r = replica("Qwen/Qwen3-235B-A22B", "h200", 1, 1);
        assert_eq!(kv_elements_per_token_layer(&r) * 94 * 2, 192_512);
        assert_eq!(full_and_sliding_layers(&r), (94, 0));
    }

    #[test]
    fn nvfp4_weights_keep_unquantised_attention_and_edges_in_bf16() {
        // DeepSeek-R1 at fp4 over TP 8: the routed experts and the dense and shared MLPs at
        // 0.5625 B, the MLA projections (`self_attn`, excluded by the NVFP4 checkpoint) and
        // the embedding and LM head at 2 B.
        let mut r = replica("deepseek-ai/DeepSeek-R1", "b200", 8, 1);
        r.weight_dtype = Dtype::Fp4;
        assert_eq!((r.attention_weight_dtype(), r.dense_weight_dtype()), (Dtype::Bf16, Dtype::Fp4));
        assert_eq!(r.edge_weight_dtype(), Dtype::Bf16);
        let params = stage_layer_params(&r) + edge_params(&r);
        let (routed, edge, attention) =
            (stage_routed_expert_params(&r), edge_params(&r), stage_attention_params(&r));
        assert_eq!(attention, 61 * attention_params(&r));
        let rest = params - routed - edge - attention;
        assert_eq!(
            weight_bytes(&r, params),
            Dtype::Fp4.bytes_of(routed) + 2 * edge + 2 * attention + Dtype::Fp4.bytes_of(rest)
        );
        // Without the catalogue's exclusion (a model whose checkpoint quantises attention)
        // only the edges are bf16.
        r.model.fp4_unquantised.clear();
        assert_eq!(r.attention_weight_dtype(), Dtype::Fp4);
        assert_eq!(
            weight_bytes(&r, params),
            Dtype::Fp4.bytes_of(routed) + 2 * edge + Dtype::Fp4.bytes_of(params - routed - edge)
        );
        // fp8 weights are fp8 throughout.
        r.weight_dtype = Dtype::Fp8;
        assert_eq!(weight_bytes(&r, params), params);
    }

    #[test]
    fn moe_models_weights_match_their_published_totals() {
        // Per layer at TP 1: attention E·hd·(q + 2kv) + q·hd·E (+ q/k/v biases), the router E ×
        // experts, every routed expert's 3 projections, two norms; plus embedding and LM head.
        // gpt-oss-120b: 2880·64·80 + 64·64·2880 + 64·80 = 26,547,200; router 368,640; experts
        // 128·3·2880·2880 = 3,185,049,600; norms 5,760: 3,211,971,200 × 36 = 115,630,963,200,
        // + 2 × 201,088 × 2880 = 1,158,266,880: 116.79 B ("117 B" as OpenAI states it).
        // Qwen3-235B-A22B: 4096·128·72 + 64·128·4096 = 71,303,168; router 524,288; experts
        // 128·3·4096·1536 = 2,415,919,104; norms 8,192: 2,487,754,752 × 94 + 2 × 151,936 × 4096
        // = 235,093,606,400 ("235 B").
        // MiniMax-M2.5: 3072·128·64 + 48·128·3072 = 44,040,192; router 786,432; experts
        // 256·3·3072·1536 = 3,623,878,656; norms 6,144: 3,668,711,424 × 62 + 2 × 200,064 × 3072
        // = 228,689,301,504 ("229 B").
        let params = |model| {
            plan(&replica(model, "b200", 1, 1), &CacheSpec { memory_margin_fraction: 0.0, ..cache() })
        };
        let total = |model| {
            let r = replica(model, "b200", 1, 1);
            let m = &r.model;
            params_per_layer(&r) * u64::from(m.num_layers)
                + 2 * u64::from(m.vocab_size) * u64::from(m.embedding_dim)
        };
        assert_eq!(total("openai/gpt-oss-120b"), 116_789_230_080);
        assert_eq!(total("Qwen/Qwen3-235B-A22B"), 235_093_606_400);
        assert_eq!(total("MiniMaxAI/MiniMax-M2.5"), 228_689_301_504);
        // At fp4 gpt-oss-120b's experts take MXFP4's 0.53125 B a parameter, its attention
        // (`modules_to_not_convert`: `self_attn`), embedding and LM head bf16: the real
        // checkpoint's 65.1 GB within 0.5 % (the router and norms, bf16 there, count at 0.5625 B
        // here).
        let mut r = replica("openai/gpt-oss-120b", "b200", 1, 1);
        r.weight_dtype = Dtype::Fp4;
        let fp4 = plan(&r, &cache()).unwrap();
        assert_eq!(fp4.params_per_device, 116_789_230_080);
        let checkpoint =
            36.0 * 3_185_049_600.0 * 0.53125 + (116_789_230_080.0 - 36.0 * 3_185_049_600.0) * 2.0;
        let over = fp4.weight_bytes_per_device as f64 / checkpoint - 1.0;
        assert!(over.abs() < 0.005, "{over}");
        // Qwen3-235B over TP 8 (the experts split 8 ways, one KV head per GPU): 94 × (4096·128·10
        // + 8·128·4096 + 524,288 + 2,415,919,104 / 8 + 8,192) + 2 × 151,936 × 4096 / 8.
        let r = replica("Qwen/Qwen3-235B-A22B", "h200", 8, 1);
        let per_gpu = 94 * (4096 * 128 * 10 + 8 * 128 * 4096 + 524_288 + 2_415_919_104 / 8 + 8_192)
            + 2 * 151_936 * 4096 / 8;
        assert_eq!(plan(&r, &cache()).unwrap().params_per_device, per_gpu);
        assert!(params("MiniMaxAI/MiniMax-M2.5").is_err(), "229 B bf16 parameters do not fit one B200");
    }

    #[test]
    fn gpt_oss_kv_per_token_counts_its_full_layers_and_the_window_is_reserved_per_sequence() {
        // config.json: 36 layers, layer_types alternating sliding_attention (window 128) and
        // full_attention, 8 KV heads of head_dim 64. The block pool charges the 18 full layers:
        // 2 × 64 × 8 × 18 × 2 B = 36,864 B a token at TP 1, bf16; at TP 8, one KV head: 4,608 B.
        let mut r = replica("openai/gpt-oss-120b", "h200", 1, 1);
        r.weight_dtype = Dtype::Fp4;
        assert_eq!(full_and_sliding_layers(&r), (18, 18));
        let none = plan(&r, &cache()).unwrap();
        assert_eq!(none.kv_bytes_per_token, 36_864);
        assert_eq!(none.sliding_window_bytes_per_device, 0, "no sequence cap: nothing reserved");
        // 256 sequences each keep the window and one 16-token block of the 18 sliding layers:
        // 256 × (128 + 16) × 36,864 B = 1,358,954,496 B, which the pool loses.
        let capped = plan(&r, &CacheSpec { max_sequences: 256, ..cache() }).unwrap();
        assert_eq!(capped.sliding_window_bytes_per_device, 1_358_954_496);
        assert_eq!(none.max_kv_tokens - capped.max_kv_tokens, 1_358_954_496 / 36_864);
        // Attention-DP ranks each run their share of the sequences.
        let mut dp = r.clone();
        dp.parallel.attention_dp_size = 2;
        dp.parallel.tensor_parallel_size = 1;
        let dp_plan = plan(&dp, &CacheSpec { max_sequences: 256, ..cache() }).unwrap();
        assert_eq!(dp_plan.sliding_window_bytes_per_device, 1_358_954_496 / 2);
        let mut tp8 = replica("openai/gpt-oss-120b", "h200", 8, 1);
        tp8.kv_cache_dtype = Dtype::Bf16;
        assert_eq!(plan(&tp8, &cache()).unwrap().kv_bytes_per_token, 4_608);
        // Two pipeline stages hold 9 sliding and 9 full layers each.
        let pp2 = replica("openai/gpt-oss-120b", "h200", 1, 2);
        assert_eq!(full_and_sliding_layers(&pp2), (9, 9));
    }

    #[test]
    fn qwen3_5_keeps_kv_for_its_full_layers_and_a_fixed_state_per_sequence_for_the_linear_ones() {
        // config.json (text_config): 60 layers, layer_types 3 × linear_attention then
        // full_attention (full_attention_interval 4): 45 linear, 15 full; full attention 32 heads,
        // 2 KV heads of head_dim 256; linear attention 16 key heads and 64 value heads of 128,
        // conv kernel 4, mamba_ssm_dtype float32.
        let mut r = replica("Qwen/Qwen3.5-397B-A17B", "b300", 1, 1);
        r.weight_dtype = Dtype::Fp4;
        assert_eq!(layer_kinds(&r), (15, 0, 45));
        assert_eq!(full_and_sliding_layers(&r), (15, 0));
        // KV: the 15 full layers only, K and V of 2 heads × 256, bf16: 15 × 2 × 2 × 256 × 2 B.
        let none = plan(&r, &cache()).unwrap();
        assert_eq!(none.kv_bytes_per_token, 30_720);
        assert_eq!(none.linear_state_bytes_per_device, 0, "no sequence cap: nothing reserved");
        // State per sequence and linear layer at TP 1: the convolution's last 3 inputs of
        // q, k, v (2 × 16 × 128 + 64 × 128 = 12,288 channels) in bf16, 73,728 B, and 64 fp32
        // matrices of 128 × 128, 4,194,304 B; × 45 layers = 192,061,440 B.
        assert_eq!(linear_state_bytes(&r, 1), 45 * (12_288 * 3 * 2 + 64 * 128 * 128 * 4));
        assert_eq!(linear_state_bytes(&r, 1), 192_061_440);
        let capped = plan(&r, &CacheSpec { max_sequences: 128, ..cache() }).unwrap();
        assert_eq!(capped.linear_state_bytes_per_device, 128 * 192_061_440);
        assert_eq!(none.max_kv_tokens - capped.max_kv_tokens, 128 * 192_061_440 / 30_720);
        // TP 8 splits the heads: 1,536 conv channels and 8 matrices a GPU, one KV head
        // (replicated) of the 2.
        let mut tp8 = replica("Qwen/Qwen3.5-397B-A17B", "h200", 8, 1);
        tp8.weight_dtype = Dtype::Fp4;
        assert_eq!(linear_state_bytes(&tp8, 1), 45 * (1_536 * 3 * 2 + 8 * 128 * 128 * 4));
        assert_eq!(plan(&tp8, &cache()).unwrap().kv_bytes_per_token, 15_360);
        // Two pipeline stages of 30 layers hold 22 linear layers each (22.5, rounded down) and
        // 8 full ones: the planner charges KV for a layer more, not less.
        let pp2 = replica("Qwen/Qwen3.5-397B-A17B", "h200", 8, 2);
        assert_eq!(layer_kinds(&pp2), (8, 0, 22));
    }

    #[test]
    fn the_linear_attention_state_pool_caps_the_batch() {
        // ~208 GiB of fp4 weights on one B300 leave ~33 GiB: 128 sequences' states (22.9 GiB)
        // fit, 256 (45.8 GiB) do not, and the refusal names the state and the batch-size cap.
        let mut r = replica("Qwen/Qwen3.5-397B-A17B", "b300", 1, 1);
        r.weight_dtype = Dtype::Fp4;
        let cache = |n| CacheSpec {
            max_sequences: n,
            max_sequences_flag: "sglang_scheduler_config_batch_size_cap".into(),
            ..cache()
        };
        assert!(plan(&r, &cache(128)).is_ok());
        let e = plan(&r, &cache(256)).unwrap_err();
        assert!(e.message.contains("linear-attention layers' state of 256 sequences"), "{e}");
        assert!(e.hint.as_deref().unwrap().contains("--sglang_scheduler_config_batch_size_cap"), "{e}");
    }

    #[test]
    fn sglang_gives_the_state_pool_its_share_of_memory_and_caps_running_requests_by_its_slots() {
        // SGLang's handle_max_mamba_cache: the pool takes 0.9 / 1.9 of what the weights leave,
        // in whole 192,061,440 B states; init_memory runs at most slots / 3 requests.
        let mut r = replica("Qwen/Qwen3.5-397B-A17B", "b300", 1, 1);
        r.weight_dtype = Dtype::Fp4;
        let per_sequence = 192_061_440u64;
        let sglang = CacheSpec {
            max_sequences: 2048,
            linear_state_pool: LinearStatePool::Ratio { ratio: 0.9, slots_per_request: 3 },
            ..cache()
        };
        let p = plan(&r, &sglang).unwrap();
        let rest = p.available_bytes_per_device - p.weight_bytes_per_device;
        let slots = (rest as f64 * 0.9 / 1.9 / per_sequence as f64) as u64;
        assert!(slots > 3, "{slots}");
        assert_eq!(p.linear_state_bytes_per_device, slots * per_sequence);
        assert_eq!(p.max_running_sequences, Some(slots / 3));
        assert_eq!(p.max_kv_tokens, (rest - slots * per_sequence) / 30_720);
        // Without the radix cache, one slot a request; the per-sequence rule sets no limit.
        let no_radix = CacheSpec {
            linear_state_pool: LinearStatePool::Ratio { ratio: 0.9, slots_per_request: 1 },
            ..sglang.clone()
        };
        assert_eq!(plan(&r, &no_radix).unwrap().max_running_sequences, Some(slots));
        assert_eq!(
            plan(&r, &CacheSpec { max_sequences: 64, ..cache() }).unwrap().max_running_sequences,
            None
        );
        // A model without linear attention is untouched by the policy.
        let q3 = replica("Qwen/Qwen3-235B-A22B", "b300", 4, 1);
        assert_eq!(
            plan(&q3, &sglang).unwrap(),
            plan(&q3, &CacheSpec { max_sequences: 2048, ..cache() }).unwrap()
        );
    }

    #[test]
    fn glm5_caches_the_latent_and_the_indexer_key_and_weighs_its_published_744_b() {
        // config.json: 78 layers, hidden 6144, 64 heads, q_lora_rank 2048, kv_lora_rank 512,
        // qk_nope 192, qk_rope 64, v_head_dim 256; index_n_heads 32, index_head_dim 128.
        let r = replica("zhipuai/GLM-5", "h200", 8, 1);
        // A token's cache per layer: the 576-element latent (bf16 here) and the indexer's fp8
        // key of 128 with one fp32 scale, 132 B: (1,152 + 132) × 78.
        let mut fp8 = r.clone();
        fp8.weight_dtype = Dtype::Fp8;
        assert_eq!(plan(&fp8, &cache()).unwrap().kv_bytes_per_token, (1_152 + 132) * 78);
        // TP 1, every GPU's share whole: MLA 6144·2624 + 2048·64·256 + 512·64·448 + 64·256·6144
        // + 2,560 = 165,022,208; the indexer 2048·32·128 + 6144·128 + 6144·32 + 256 = 9,371,904;
        // norms 12,288; 3 dense MLPs of 3·6144·12288; 75 MoE layers of 256 experts
        // (3·6144·2048 each), the shared expert and the router; embedding and LM head.
        let one = replica("zhipuai/GLM-5", "h200", 1, 1);
        assert_eq!(attention_params(&one), 165_022_208 + 9_371_904);
        let total = stage_layer_params(&one) + 2 * 154_880 * 6144;
        assert_eq!(
            total,
            78 * (174_394_112 + 12_288)
                + 3 * 226_492_416
                + 75 * (37_748_736 + 1_572_864 + 9_663_676_416)
                + 2 * 154_880 * 6144
        );
        assert_eq!(total, 743_911_193_088, "744 B published");
    }

    #[test]
    fn qwen3_5_weights_match_its_published_total() {
        // TP 1: full attention 4096·256·36 + 32·256·4096 = 71,303,168 (its output gate, 0.5 B in
        // all, not counted); linear attention 4096·(12,288 + 8,192 + 128) + 12,288·4 + 128 +
        // 8,192·4096 = 118,014,080; MoE 512·3·4096·1024 + shared 3·4096·1024 + router 4096·512
        // + norms 8,192 = 6,457,139,200. 15 + 45 + 60 of them and 2 × 248,320 × 4096:
        // 395.8 B ("397 B" with the vision encoder and the MTP layer).
        let r = replica("Qwen/Qwen3.5-397B-A17B", "b300", 1, 1);
        assert_eq!(attention_params(&r), 71_303_168);
        assert_eq!(linear_attention_params(&r), 118_014_080);
        let total = stage_layer_params(&r) + 2 * 248_320 * 4096;
        assert_eq!(total, 15 * 71_303_168 + 45 * 118_014_080 + 60 * 6_457_139_200 + 2 * 248_320 * 4096);
        assert_eq!(total, 395_842_770_560);
    }

    #[test]
    fn a_model_whose_every_layer_slides_is_refused_by_name() {
        let mut r = replica("openai/gpt-oss-120b", "h200", 1, 1);
        r.weight_dtype = Dtype::Fp4;
        r.model.sliding_window.as_mut().unwrap().layers = r.model.num_layers;
        let e = plan(&r, &cache()).unwrap_err();
        assert_eq!(e.flag, "replica_config_model_name");
        assert!(e.message.contains("openai/gpt-oss-120b") && e.message.contains("layer_types"), "{e}");
    }

    #[test]
    fn running_out_of_memory_for_the_window_reservation_names_it_and_the_batch_size_cap() {
        let mut r = replica("openai/gpt-oss-120b", "h200", 1, 1);
        r.weight_dtype = Dtype::Fp4;
        // ~65 GiB of fp4 weights leave ~60 GiB of an H200: 40,000 sequences' windows
        // (40,000 × 144 × 36,864 B ≈ 198 GiB) take it all.
        let cache = CacheSpec {
            max_sequences: 40_000,
            max_sequences_flag: "vllm_v1_scheduler_config_batch_size_cap".into(),
            ..cache()
        };
        let e = plan(&r, &cache).unwrap_err();
        assert!(e.message.contains("sliding-window layers' KV of 40000 sequences"), "{e}");
        let hint = e.hint.as_deref().unwrap();
        assert!(hint.contains("--vllm_v1_scheduler_config_batch_size_cap"), "{hint}");
        // Without a flag to name, the general hint.
        let e = plan(&r, &CacheSpec { max_sequences_flag: String::new(), ..cache }).unwrap_err();
        assert!(e.hint.as_deref().unwrap().contains("more GPUs"), "{e}");
    }

    #[test]
    fn moe_activations_count_each_routed_token_once_per_expert() {
        let r = replica("mistralai/Mixtral-8x7B-v0.1", "h100", 4, 1);
        let m = &r.model;
        let moe = m.moe.as_ref().unwrap();
        let per_token =
            (2 * 4096 + u64::from(moe.top_k) * (3 * u64::from(moe.expert_hidden_dim) / 4 + 4096)) * 2;
        assert_eq!(activation_bytes(&r, 100, 0), 100 * per_token);
    }

    #[test]
    fn a_token_multiplies_by_its_top_k_experts_only() {
        // Mixtral-8x7B at TP4: 8 experts of 3 × 4096 × 14336 / 4 parameters, top 2.
        let r = replica("mistralai/Mixtral-8x7B-v0.1", "h100", 4, 1);
        let expert = 3 * 4096 * 14_336 / 4;
        assert_eq!(params_per_layer(&r) - active_params_per_layer(&r), 6 * expert);
        let p = plan(&r, &cache()).unwrap();
        assert_eq!(p.active_layer_params_per_device, active_params_per_layer(&r) * 32);
        assert_eq!(stage_layer_params(&r) - active_stage_layer_params(&r), 6 * expert * 32);
        // A dense model's every parameter is active.
        let dense = replica("meta-llama/Meta-Llama-3-8B", "h100", 1, 1);
        assert_eq!(params_per_layer(&dense), active_params_per_layer(&dense));
    }

    #[test]
    fn too_big_is_refused_with_numbers_and_a_hint() {
        let e = plan(&replica("meta-llama/Meta-Llama-3-70B", "h100", 1, 1), &cache()).unwrap_err();
        assert!(e.message.contains("131.4 GiB per GPU at TP=1 PP=1"), "{e}");
        assert!(e.message.contains("one h100 GPU offers 72.0 GiB of its 80 GiB"), "{e}");
        assert!(!e.message.contains(" GB"), "every figure is labelled GiB: {e}");
        assert!(e.hint.unwrap().contains("TP×PP ≥ 2"));
    }

    #[test]
    fn expert_and_attention_data_parallelism_plan_each_rank_by_hand() {
        // Mixtral-8x7B at TP 2 × attention DP 2 = 4 GPUs, EP 4 (expert TP 1) on h100, bf16.
        let mut r = replica("mistralai/Mixtral-8x7B-v0.1", "h100", 2, 1);
        r.parallel = ParallelSpec {
            tensor_parallel_size: 2,
            num_pipeline_stages: 1,
            expert_parallel_size: 4,
            attention_dp_size: 2,
        };
        // Attention split by TP 2 (16 query, 4 KV heads of 128): 4096·128·24 + 16·128·4096
        // = 20,971,520; norms 8,192; router 4096·8 = 32,768; routed experts: 8 of
        // 3·4096·14336 = 176,160,768 over 4 GPUs (2 whole experts each) = 352,321,536.
        assert_eq!(params_per_layer(&r), 20_971_520 + 8_192 + 32_768 + 352_321_536);
        let plan = plan(&r, &cache()).unwrap();
        // 32 layers, + the embedding and the LM head split by TP 2: 2 · 32000·4096/2.
        assert_eq!(plan.params_per_device, 32 * 373_334_016 + 131_072_000);
        assert_eq!(plan.weight_bytes_per_device, 2 * 12_077_760_512);
        // KV: 4 KV heads · 2 · 128 · 32 layers · 2 B = 65,536 B per token on each GPU of a rank.
        assert_eq!(plan.kv_bytes_per_token, 65_536);
        // One rank: (80 GiB · 0.9 − 24,155,521,024 B) / 65,536 = 811,064 tokens, 50,691
        // blocks of 16; the replica holds both ranks'.
        assert_eq!(plan.attention_dp_size, 2);
        assert_eq!(plan.max_kv_tokens, 2 * 811_064);
        assert_eq!(plan.num_blocks, 2 * 50_691);
        // MFU's per-GPU share of a token: attention, norms and router on one rank of 2
        // ((20,971,520 + 8,192 + 32,768) · 32 / 2), its 2 experts over the 4 GPUs
        // (2 · 176,160,768 / 4 · 32).
        assert_eq!(plan.active_layer_params_per_device, 21_012_480 * 32 / 2 + 88_080_384 * 32);
        // The routed experts per GPU are the same whether sharded by EP or split by TP 4.
        let tp4 = replica("mistralai/Mixtral-8x7B-v0.1", "h100", 4, 1);
        assert_eq!(
            routed_expert_params(&tp4, true, Experts::All),
            routed_expert_params(&r, true, Experts::All)
        );
    }
}
