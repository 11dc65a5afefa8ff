//! Speculative decoding (`--replica_config_speculative_*`): the flags read into a
//! [`SpeculativeSpec`], the draft as a replica of its own (for its weights, its KV and, through
//! the calibrated roofline, its time), and the predictor wrapped to add the draft's time.

use std::sync::Arc;

use crate::catalog::{self, ModelArch};
use crate::config::{
    ConfigError, FlagValue, ParallelSpec, Params, ReplicaSpec, SpeculativeMethod, SpeculativeSpec,
    SpeculativeTree, list_items,
};
use crate::exec::{PREDICTORS, SharedPredictor, SpeculativePredictor};
use crate::memory::{self, DraftMemory};

/// Most draft tokens per step (engines use 1-7; EAGLE trees go further, not modelled).
pub const MAX_SPECULATIVE_TOKENS: u32 = 16;

const METHOD: &str = "replica_config_speculative_method";
const NUM_TOKENS: &str = "replica_config_num_speculative_tokens";
const RATE: &str = "replica_config_speculative_acceptance_rate";
const RATES: &str = "replica_config_speculative_acceptance_rates";
const DRAFT_MODEL: &str = "replica_config_speculative_draft_model_name";
const TOPK: &str = "sglang_scheduler_config_speculative_eagle_topk";
const DRAFT_TOKENS: &str = "sglang_scheduler_config_speculative_num_draft_tokens";
const OVERLAP: &str = "sglang_scheduler_config_overlap_schedule";

/// Most candidates per draft step in an SGLang tree.
pub const MAX_EAGLE_TOPK: u32 = 16;

/// A text flag's value, `None` when unset, empty or `none`.
fn opt_text(p: &mut Params, name: &str) -> Option<String> {
    p.opt_string(name).filter(|s| !s.trim().is_empty() && !s.trim().eq_ignore_ascii_case("none"))
}

/// The speculative-decoding settings; `None` when off, or after recording errors that name
/// their flags.
pub(super) fn read(p: &mut Params, replica: Option<&ReplicaSpec>) -> Option<SpeculativeSpec> {
    let method = match p.string(METHOD).as_str() {
        "mtp" => SpeculativeMethod::Mtp,
        "eagle" => SpeculativeMethod::Eagle,
        "draft_model" => SpeculativeMethod::DraftModel,
        // Its settings are inactive then (the flag table's ignored-flag warnings name them).
        _ => return None,
    };
    let max_k = i64::from(MAX_SPECULATIVE_TOKENS);
    // An out-of-range k is its own error; the rate list is then not also held to its length.
    let k_in_range = matches!(p.config().get(NUM_TOKENS), FlagValue::Int(v) if (1..=max_k).contains(&v));
    let k = p.int_in(NUM_TOKENS, 1, max_k) as u32;
    let rates = match opt_text(p, RATES) {
        Some(list) => {
            if p.config().is_set(RATE) {
                p.warn(format!("--{RATE} is ignored: --{RATES} gives the rate of each draft position"));
            }
            parse_rates(p, &list, k_in_range.then_some(k))?
        }
        None => {
            let r = p.float_in(RATE, 0.0, 1.0);
            vec![r; k as usize]
        }
    };
    let draft_name = if method == SpeculativeMethod::DraftModel { opt_text(p, DRAFT_MODEL) } else { None };
    let replica = replica?;
    let target = &replica.model;
    let draft = match method {
        SpeculativeMethod::Mtp => {
            // DeepSeek-V3's MTP module: one decoder layer of the model's own shape (an MoE layer
            // for an MoE model), its embedding and LM head shared with the model.
            let mut layer = target.clone();
            layer.name = format!("{} MTP layer", target.name);
            layer.num_layers = 1;
            if let Some(moe) = layer.moe.as_mut() {
                moe.first_k_dense_layers = 0;
            }
            // Full attention over the whole context, whatever the target's layers do: timed as
            // [`draft_memory`] charges its KV.
            layer.sliding_window = None;
            // Qwen3.5's MTP layer is a full-attention layer.
            layer.linear_attention = None;
            layer
        }
        SpeculativeMethod::Eagle => {
            // An EAGLE head: one dense decoder layer at the model's hidden size.
            let mut layer = target.clone();
            layer.name = format!("{} EAGLE head", target.name);
            layer.num_layers = 1;
            layer.moe = None;
            // EAGLE-3 heads attend to the whole context (no sliding window), as `draft_memory`
            // charges their KV.
            layer.sliding_window = None;
            layer.linear_attention = None;
            layer
        }
        SpeculativeMethod::DraftModel => {
            let Some(name) = draft_name.clone() else {
                p.error(
                    ConfigError::new(DRAFT_MODEL, "must name a catalogue model with --replica_config_speculative_method draft_model")
                        .with_hint("e.g. meta-llama/Llama-3.2-1B-Instruct for a Llama-3 target; `llmsim --list-models` lists the catalogue"),
                );
                return None;
            };
            let Some(model) = catalog::find_model(&name) else {
                let mut e = ConfigError::new(DRAFT_MODEL, format!("unknown model '{name}'"));
                if let Some(best) = catalog::suggest_model(&name) {
                    e = e.with_hint(format!("did you mean '{best}'?"));
                }
                p.error(e);
                return None;
            };
            check_draft_model(p, model, replica)?;
            model.clone()
        }
    };
    let sglang = p.string("replica_scheduler_config_type") == "sglang";
    let tree = if sglang { read_sglang_tree(p, k) } else { None };
    if sglang && method == SpeculativeMethod::DraftModel && replica.parallel.attention_dp_size > 1 {
        // `ServerArgs._handle_speculative_decoding`: "Currently standalone speculative decoding
        // does not support dp attention."
        p.error(
            ConfigError::new(
                METHOD,
                "SGLang runs a standalone draft model (STANDALONE) without attention DP only",
            )
            .with_hint("use mtp or eagle, or --replica_config_attention_dp_size 1"),
        );
        return None;
    }
    let expected_tokens_fp = SpeculativeSpec::expected_tokens(&rates);
    Some(SpeculativeSpec { method, num_tokens: k, rates, draft, expected_tokens_fp, tree })
}

/// SGLang's draft tree: `--speculative-eagle-topk` and `--speculative-num-draft-tokens`, k
/// being `--speculative-num-steps` (`ServerArgs._handle_speculative_decoding`, 0.5.5-0.5.10.post1):
/// with topk 1 the draft tokens are num_steps + 1 (a different value is adjusted, with a
/// warning); with topk > 1 they are the root plus the best of the topk + (num_steps − 1) · topk²
/// scored candidates (`organize_draft_results`), and must be given (SGLang's own defaults come
/// from `auto_choose_speculative_params` with all three flags unset).
fn read_sglang_tree(p: &mut Params, k: u32) -> Option<SpeculativeTree> {
    let topk = p.int_in(TOPK, 1, i64::from(MAX_EAGLE_TOPK)) as u32;
    let given = p.opt_int(DRAFT_TOKENS);
    let chain = k + 1;
    let num_draft_tokens = if topk <= 1 {
        if let Some(n) = given.filter(|n| *n != i64::from(chain)) {
            p.warn(format!(
                "--{DRAFT_TOKENS} {n} is adjusted to --{NUM_TOKENS} + 1 = {chain} with --{TOPK} 1, as SGLang does"
            ));
        }
        chain
    } else {
        let most = i64::from(topk) + i64::from(k.saturating_sub(1)) * i64::from(topk) * i64::from(topk) + 1;
        match given {
            Some(n) if (2..=most).contains(&n) => n as u32,
            Some(n) => {
                p.error(
                    ConfigError::new(
                        DRAFT_TOKENS,
                        format!("{n} is not between 2 and {most}, the root plus the {} candidates {k} draft steps of top-{topk} score", most - 1),
                    )
                    .with_hint(format!("give 2 to {most}")),
                );
                return None;
            }
            None => {
                p.error(
                    ConfigError::new(
                        DRAFT_TOKENS,
                        format!("must be given with --{TOPK} {topk} (a draft tree)"),
                    )
                    .with_hint("SGLang's choice for a Llama target is 8, with 5 steps and top-4"),
                );
                return None;
            }
        }
    };
    // Spec v2 (the overlap scheduler with speculation, SGLANG_ENABLE_SPEC_V2) runs only chains.
    if topk > 1 && p.config().is_set(OVERLAP) && p.bool(OVERLAP) {
        p.error(
            ConfigError::new(OVERLAP, format!("SGLang's overlap scheduler with speculative decoding (spec v2) runs only --{TOPK} 1, not {topk}"))
                .with_hint(format!("set --{OVERLAP} false or --{TOPK} 1")),
        );
    }
    Some(SpeculativeTree { num_steps: k, topk, num_draft_tokens })
}

/// `0.8,0.6,0.4` (or `0.8 0.6 0.4`, `[0.8, 0.6, 0.4]`, as the other list flags): rates in
/// [0, 1], k of them when `k` is known (`None`: k is itself in error).
fn parse_rates(p: &mut Params, list: &str, k: Option<u32>) -> Option<Vec<f64>> {
    let mut rates = Vec::new();
    for (i, field) in list_items(list).enumerate() {
        match field.trim().parse::<f64>() {
            Ok(r) if (0.0..=1.0).contains(&r) => rates.push(r),
            _ => {
                p.error(
                    ConfigError::new(
                        RATES,
                        format!(
                            "rate {} of '{list}', '{}', is not a number between 0 and 1",
                            i + 1,
                            field.trim()
                        ),
                    )
                    .with_hint("give k comma-separated rates, e.g. 0.8,0.6,0.4"),
                );
                return None;
            }
        }
    }
    let k = k?;
    if rates.len() != k as usize {
        p.error(
            ConfigError::new(
                RATES,
                format!(
                    "'{list}' has {} rates, but --{NUM_TOKENS} is {k}: give one per draft position",
                    rates.len()
                ),
            )
            .with_hint(format!("give {k} rates, or set --{NUM_TOKENS} {}", rates.len())),
        );
        return None;
    }
    Some(rates)
}

/// Warns when vllm_v1's token budget cannot hold a full batch of verification steps: each
/// running request asks for k + 1 tokens, so with chunk < cap × (k + 1) the requests late in
/// the running queue wait a step (vLLM sizes `max_num_batched_tokens` for its spec tokens).
pub(super) fn warn_budget(p: &mut Params, spec: &SpeculativeSpec) {
    const CHUNK: &str = "vllm_v1_scheduler_config_chunk_size";
    const CAP: &str = "vllm_v1_scheduler_config_batch_size_cap";
    let (FlagValue::Int(chunk), FlagValue::Int(cap)) = (p.config().get(CHUNK), p.config().get(CAP)) else {
        return;
    };
    let per_step = i64::from(spec.num_tokens) + 1;
    let needed = cap.saturating_mul(per_step);
    if chunk < needed {
        p.warn(format!(
            "--{CHUNK} {chunk} holds only {} verification steps of k + 1 = {per_step} tokens, fewer than --{CAP} {cap}: running requests beyond them wait a step (set --{CHUNK} {needed} to verify a full batch)",
            chunk / per_step
        ));
    }
}

/// TensorRT-LLM plans a generation request with all its k + 1 tokens (its drafts and the
/// verified one) or not at all, so a `max_num_tokens` below k + 1 would never schedule one: the
/// run would stall with every request waiting. Refused, as TensorRT-LLM's own budget must
/// cover `max_draft_len + 1` per request.
pub(super) fn check_trtllm_budget(p: &mut Params, spec: &SpeculativeSpec) {
    const BUDGET: &str = "trtllm_scheduler_config_max_num_tokens";
    let FlagValue::Int(budget) = p.config().get(BUDGET) else {
        return;
    };
    let per_step = i64::from(spec.num_tokens) + 1;
    if budget < per_step {
        p.error(
            ConfigError::new(
                BUDGET,
                format!(
                    "{budget} tokens per iteration cannot hold one verification step of k + 1 = {per_step} tokens (--{NUM_TOKENS} {})",
                    spec.num_tokens
                ),
            )
            .with_hint(format!("set --{BUDGET} {per_step} or more")),
        );
    }
}

/// A draft model must split like the target and read the same tokens.
fn check_draft_model(p: &mut Params, draft: &ModelArch, replica: &ReplicaSpec) -> Option<()> {
    let tp = replica.parallel.tensor_parallel_size;
    if !draft.num_q_heads.is_multiple_of(tp)
        || !draft.embedding_dim.is_multiple_of(tp)
        || draft.no_tensor_parallel && tp > 1
    {
        p.error(ConfigError::new(
            DRAFT_MODEL,
            format!(
                "the draft model {} runs at the target's TP={tp}, which does not divide its {} attention heads and hidden size {}",
                draft.name, draft.num_q_heads, draft.embedding_dim
            ),
        ));
        return None;
    }
    if draft.vocab_size != replica.model.vocab_size {
        p.warn(format!(
            "the draft model {} has a vocabulary of {} tokens, the target {} one of {}: engines need the same tokenizer",
            draft.name, draft.vocab_size, replica.model.name, replica.model.vocab_size
        ));
    }
    Some(())
}

/// The draft as a one-stage replica at the target's TP and attention DP (each attention-DP
/// rank drafts for its own requests; an MTP layer keeps the target's expert parallelism too,
/// an EAGLE head or draft model has none), on the target's GPUs and dtypes.
pub(super) fn draft_replica(spec: &SpeculativeSpec, replica: &ReplicaSpec) -> ReplicaSpec {
    let parallel = match spec.method {
        SpeculativeMethod::Mtp => ParallelSpec { num_pipeline_stages: 1, ..replica.parallel },
        _ => ParallelSpec { num_pipeline_stages: 1, expert_parallel_size: 1, ..replica.parallel },
    };
    ReplicaSpec { model: spec.draft.clone(), parallel, ..replica.clone() }
}

/// What the draft adds to each GPU of the last stage: an MTP layer or EAGLE head is one layer
/// plus its input projection from the concatenated embedding and hidden state (2E × E); a
/// draft model is its whole weight set. The draft's KV grows with every token of the target's.
pub(super) fn draft_memory(spec: &SpeculativeSpec, replica: &ReplicaSpec) -> DraftMemory {
    let draft = draft_replica(spec, replica);
    let tp = u64::from(replica.parallel.tensor_parallel_size.max(1));
    let e = u64::from(spec.draft.embedding_dim);
    let params_per_device = match spec.method {
        SpeculativeMethod::Mtp | SpeculativeMethod::Eagle => {
            memory::params_per_layer(&draft) + 2 * e * e / tp
        }
        SpeculativeMethod::DraftModel => {
            let embedding = u64::from(spec.draft.vocab_size) * e / tp;
            memory::stage_layer_params(&draft)
                + if spec.draft.tie_word_embeddings { embedding } else { 2 * embedding }
        }
    };
    let kv_bytes_per_token = replica
        .kv_cache_dtype
        .bytes_of(memory::kv_elements_per_token_layer(&draft) * u64::from(spec.draft.num_layers));
    DraftMemory { params_per_device, kv_bytes_per_token }
}

/// The target's predictor with the draft's time added; the draft is priced by the calibrated
/// roofline whichever predictor the target uses (profile tables describe the target only).
pub(super) fn wrap_predictor(
    p: &mut Params,
    spec: &SpeculativeSpec,
    replica: &ReplicaSpec,
    target: SharedPredictor,
) -> Option<SharedPredictor> {
    let roofline = PREDICTORS.iter().find(|e| e.name == "roofline").expect("registered");
    let draft_replica = draft_replica(spec, replica);
    let draft = (roofline.parse)(p, &draft_replica)?;
    // The roofline spreads an MoE model's batch over its attention-DP ranks itself; a dense
    // draft's batch is spread here, and the slowest rank's draft is the step's.
    let ranks = match spec.draft.moe {
        Some(_) => 1,
        None => draft_replica.parallel.attention_dp_size.max(1),
    };
    let mut predictor =
        SpeculativePredictor::new(target, draft, spec.num_tokens, spec.method.name()).with_ranks(ranks);
    if let Some(tree) = spec.tree {
        predictor = predictor.with_tree(tree.topk, tree.num_draft_tokens);
    }
    Some(Arc::new(predictor))
}
