//! Replica schedulers: how one replica forms batches. Each policy implements
//! [`ReplicaScheduler`] and is registered in [`REPLICA_SCHEDULERS`].

mod dp_ranks;
mod faster_transformer;
mod legacy;
mod lightllm;
mod orca;
mod overlap;
mod queue;
mod sarathi;
mod sglang;
mod sglang_dp;
#[cfg(test)]
mod testkit;
mod trtllm;
mod vllm_dp;
mod vllm_v0;
mod vllm_v1;
mod watermark;

pub use faster_transformer::FasterTransformerScheduler;
pub use lightllm::LightLlmScheduler;
pub use orca::OrcaScheduler;
pub use queue::{QueueKind, RequestQueue};
pub use sarathi::SarathiScheduler;
pub use sglang::{SglangOptions, SglangScheduler};
pub use sglang_dp::SglangDpScheduler;
pub use trtllm::{CapacityPolicy, TrtllmOptions, TrtllmScheduler};
pub use vllm_dp::VllmDpScheduler;
pub use vllm_v0::VllmV0Scheduler;
pub use vllm_v1::{VllmV1Options, VllmV1Scheduler};

use std::sync::Arc;

use crate::batch::{Batch, BatchPlan};
use crate::config::{Config, FlagDef, Params, SloSpec};
use crate::kv::{KvCacheManager, KvUsage, PrefixCacheStats};
use crate::request::{ReplicaId, Request, RequestArena, RequestId};
use crate::time::SimTime;

/// What a replica scheduler is built with.
#[derive(Clone, Debug)]
pub struct ReplicaContext {
    /// The replica.
    pub replica: ReplicaId,
    /// KV blocks on the replica.
    pub num_blocks: u64,
    /// Tokens per block.
    pub block_size: u32,
    /// Pipeline stages (batches in flight at most).
    pub num_pipeline_stages: u32,
    /// Prefix caching on.
    pub enable_prefix_caching: bool,
    /// Tokens of blocks preallocated with each allocation (vllm_v1).
    pub num_preallocate_tokens: u32,
    /// Free-block reserve for admission (legacy schedulers).
    pub watermark_blocks_fraction: f64,
    /// Waiting-queue order.
    pub queue: QueueKind,
    /// Prefill SLO (EDF deadlines).
    pub slo: SloSpec,
    /// The model's context length: the worst-case sequence orca and faster_transformer reserve.
    pub max_model_len: u32,
    /// Which pool of a disaggregated cluster the replica serves (aggregated: both phases).
    pub pool: PoolRole,
    /// Attention data-parallel ranks of the replica (1 without attention DP); schedulers whose
    /// ranks schedule their own requests read it (TensorRT-LLM's, SGLang's).
    pub attention_dp_size: u32,
    /// Most sequences the replica's linear-attention state pool lets run at once
    /// ([`crate::memory::MemoryPlan::max_running_sequences`]; `None`: no such limit).
    pub max_running_sequences: Option<u64>,
    /// SGLang's speculative decoding (its draft tree; `None`: not speculating, or an engine
    /// whose scheduler needs no more than each request's `next_num_tokens`).
    pub speculative_tree: Option<crate::config::SpeculativeTree>,
}

/// The phase a replica serves: both (aggregated serving) or one pool of a disaggregated
/// cluster. Schedulers whose engines estimate a request's KV differently per role read it
/// (SGLang's and TensorRT-LLM's prefill servers count one output token).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PoolRole {
    /// Prefill and decode on one replica.
    #[default]
    Aggregated,
    /// A prefill replica: hands requests off after their prefill.
    Prefill,
    /// A decode replica: admits transferred requests.
    Decode,
}

/// Forms batches for one replica.
///
/// The engine calls [`ReplicaScheduler::next_batch`] while fewer than PP batches are in flight,
/// and [`ReplicaScheduler::on_batch_end`] once each batch has finished its last stage and its
/// requests' token counts have advanced ([`Request::on_iteration_end`], which also marks them
/// no longer `in_flight`).
pub trait ReplicaScheduler {
    /// Queues a request routed to this replica, or refuses it with the reason when it can never
    /// be served here (its KV needs exceed the replica's memory).
    fn add_request(&mut self, id: RequestId, requests: &mut RequestArena) -> Result<(), String>;

    /// Forms the next batch into `plan` (empty = nothing to run now). May preempt requests
    /// (restart them) to make room.
    fn next_batch(&mut self, now: SimTime, requests: &mut RequestArena, plan: &mut BatchPlan);

    /// Releases what finished requests of `batch` held. `completed` lists the requests of
    /// `batch` that completed in it, in plan order (the engine finds them in its own walk of
    /// the batch, so a scheduler that only releases completions need not walk the batch).
    fn on_batch_end(&mut self, batch: &Batch, completed: &[RequestId], requests: &mut RequestArena);

    /// Requests routed here and not finished (waiting or running).
    fn num_pending(&self) -> usize;

    /// When nothing is in flight and no batch can be formed, removes the request that blocks
    /// the queue, with the reason it can never run. The engine records it as refused.
    fn evict_blocked(&mut self, requests: &mut RequestArena) -> Option<(RequestId, String)>;

    /// KV usage now.
    fn kv_usage(&self) -> KvUsage;

    /// Prefix-cache lookup statistics.
    fn prefix_cache_stats(&self) -> PrefixCacheStats {
        PrefixCacheStats::default()
    }

    /// Tokens of `request`'s prompt cached on this replica now (routers probe with this).
    fn cached_prefix_tokens(&self, _request: &Request) -> u32 {
        0
    }

    /// The attention-DP rank serving `id` (`None` without attention DP, or where the
    /// scheduler forms one batch for the replica and leaves the ranks to the execution model).
    /// The engine gives each batch item its rank, and the predictor times each rank on the
    /// requests its own scheduler gave it.
    fn dp_rank(&self, _id: RequestId) -> Option<usize> {
        None
    }

    /// Whether [`ReplicaScheduler::dp_rank`] may answer `Some`: asked once per batch, so that
    /// a scheduler without attention-DP ranks costs no look-up per request.
    fn assigns_dp_ranks(&self) -> bool {
        false
    }

    /// Checks internal invariants (KV conservation); used by tests after every event.
    fn check_invariants(&self, requests: &RequestArena) -> Result<(), String>;

    /// Whether the scheduler reads requests of its replica after they ended (completed or
    /// refused). If not, the engine reuses an ended request's memory at once (reading it
    /// afterwards panics); if so, its requests are kept to the end of the run.
    fn reads_ended_requests(&self) -> bool {
        false
    }

    // Disaggregated serving (`crate::disagg`). A scheduler that supports it says so in its
    // table entry (`ReplicaSchedulerEntry::disaggregation`); the engine calls these only then.

    /// Prefill side: `id`'s prefill is done; it leaves this replica's running set and is never
    /// scheduled here again, but its KV blocks stay allocated until
    /// [`ReplicaScheduler::release_handed_off`] (the transfer to its decode replica is over).
    fn hand_off(&mut self, _id: RequestId, _requests: &mut RequestArena) {
        unreachable!("hand_off on a scheduler without disaggregation support")
    }

    /// Prefill side: frees the KV blocks a handed-off request held.
    fn release_handed_off(&mut self, _id: RequestId, _requests: &RequestArena) {
        unreachable!("release_handed_off on a scheduler without disaggregation support")
    }

    /// Decode side: the most KV blocks one transferred request can ever be given here — the
    /// replica's, or, where each attention-DP rank pre-allocates from its own pool (SGLang;
    /// vLLM with an engine core per DP rank, `vllm_dp.rs`), one rank's — with the number of ranks sharing the replica's blocks (1: the whole
    /// replica). A request needing more is refused before its prefill (INV-13).
    fn transfer_capacity_blocks(&self) -> (u64, u32) {
        (self.kv_usage().total_blocks, 1)
    }

    /// Decode side: the admission queue `id` waits in on this replica, fixed when it reaches
    /// it (before [`ReplicaScheduler::admit_transferred`]): the engine keeps one first-come,
    /// first-served queue per answer, and a queue whose head waits holds back only itself
    /// (`crate::disagg::DecodeQueues`). 0, one queue for the replica, unless each
    /// attention-DP rank pre-allocates for itself (SGLang, and vLLM with an engine core per
    /// DP rank: the request's rank).
    fn transfer_queue(&mut self, _id: RequestId) -> usize {
        0
    }

    /// Decode side: reserves KV blocks for the tokens `id` has processed (its prompt and first
    /// token) and admits it as running but `in_flight` (not schedulable) until its transfer
    /// lands. `Ok(false)` when the blocks or the batch-size cap have no room now (the transfer
    /// waits); `Err` with the reason when it can never fit here. A request reserved before its
    /// prefill ([`ReplicaScheduler::reserve_transfer`]) is admitted at once on its blocks.
    fn admit_transferred(&mut self, _id: RequestId, _requests: &mut RequestArena) -> Result<bool, String> {
        unreachable!("admit_transferred on a scheduler without disaggregation support")
    }

    /// Decode side: whether this engine pre-allocates a request's KV before its prefill runs
    /// (SGLang's bootstrap): the engine then asks [`ReplicaScheduler::reserve_transfer`] when
    /// the request arrives, and its prefill replica receives it only once that succeeds.
    /// Otherwise (vLLM, TensorRT-LLM) the prefill runs first and the transfer waits for
    /// [`ReplicaScheduler::admit_transferred`].
    fn preallocates_before_prefill(&self) -> bool {
        false
    }

    /// Decode side, before `id`'s prefill: reserves KV blocks for its prompt and first token
    /// and a request slot, as [`ReplicaScheduler::admit_transferred`] would after it, leaving
    /// the request itself alone (its prefill replica runs it next). Same answers.
    fn reserve_transfer(&mut self, _id: RequestId, _requests: &mut RequestArena) -> Result<bool, String> {
        unreachable!("reserve_transfer on a scheduler that does not pre-allocate before the prefill")
    }

    /// Decode side: frees what [`ReplicaScheduler::reserve_transfer`] reserved for `id`, which
    /// was refused before its transfer (nothing if it holds no reservation).
    fn release_reservation(&mut self, _id: RequestId, _requests: &RequestArena) {
        unreachable!("release_reservation on a scheduler that does not pre-allocate before the prefill")
    }
}

/// Builds a scheduler for one replica.
pub type ReplicaSchedulerFactory = Arc<dyn Fn(&ReplicaContext) -> Box<dyn ReplicaScheduler> + Send + Sync>;

/// A registered replica scheduler.
pub struct ReplicaSchedulerEntry {
    /// Its `--replica_scheduler_config_type` name.
    pub name: &'static str,
    /// The rule in one sentence; empty without the engine's `help-texts`
    /// feature ([`crate::config::help_text`]).
    pub summary: &'static str,
    /// Its own flags.
    pub flags: &'static [FlagDef],
    /// Whether it reuses cached prompt prefixes when `--cache_config_enable_prefix_caching` is
    /// on (the legacy schedulers keep Vidur's block ledger, which has no prefix cache).
    pub prefix_caching: bool,
    /// Whether it serves disaggregated pools (the [`ReplicaScheduler::hand_off`] family), and
    /// the flag that caps its running requests (a decode pool's batch-size cap sets it).
    pub disaggregation: Option<&'static str>,
    /// Whether it runs speculative decoding (`--replica_config_speculative_method`): it plans
    /// a decoding request's [`crate::request::Request::next_num_tokens`] (k + 1 tokens to
    /// verify, within its token budget) and reserves their KV slots before the step.
    pub speculative_decoding: bool,
    /// Reads its flags; `None` after recording an error.
    pub parse: fn(&mut Params) -> Option<ReplicaSchedulerFactory>,
    /// The largest forward pass it can form, from its (already validated) flags and the model's
    /// context length: what vLLM's memory profile run sizes activations by.
    pub peak_batch: fn(&Config, u32) -> PeakBatch,
}

/// The largest forward pass a scheduler forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeakBatch {
    /// Tokens (the token budget).
    pub tokens: u64,
    /// Sequences (the batch-size cap), each sampled at the end of the pass.
    pub sequences: u64,
}

/// A whole-number flag's value (flags are validated before this is read).
fn int_flag(config: &Config, name: &str) -> u64 {
    match config.get(name) {
        crate::config::FlagValue::Int(v) => v.max(1) as u64,
        _ => 1,
    }
}

/// A token budget and a batch-size cap read from two flags.
fn budget_and_cap(config: &Config, tokens: &str, cap: &str) -> PeakBatch {
    PeakBatch { tokens: int_flag(config, tokens), sequences: int_flag(config, cap) }
}

/// Every replica scheduler, by name.
pub static REPLICA_SCHEDULERS: &[ReplicaSchedulerEntry] = &[
    ReplicaSchedulerEntry {
        name: "vllm_v1",
        summary: crate::config::help_text(
            "vLLM V1: one token budget shared by decodes and prefill chunks, running requests first, preemption of the newest by recompute, prefix caching.",
        ),
        flags: vllm_v1::FLAGS,
        prefix_caching: true,
        disaggregation: Some("vllm_v1_scheduler_config_batch_size_cap"),
        speculative_decoding: true,
        parse: vllm_v1::parse,
        peak_batch: |c, _| {
            budget_and_cap(
                c,
                "vllm_v1_scheduler_config_chunk_size",
                "vllm_v1_scheduler_config_batch_size_cap",
            )
        },
    },
    ReplicaSchedulerEntry {
        name: "sglang",
        summary: crate::config::help_text(
            "SGLang: a new prefill batch, if one can be admitted (FCFS, chunked, KV budget with a decaying new-token ratio), runs alone before the decodes; out of KV in decode, the request with the fewest outputs is retracted by recompute; overlap scheduling.",
        ),
        flags: sglang::FLAGS,
        prefix_caching: true,
        disaggregation: Some("sglang_scheduler_config_batch_size_cap"),
        speculative_decoding: true,
        parse: sglang::parse,
        // A prefill batch runs alone, up to its chunk; without an explicit cap SGLang's default
        // running-request limit is clamped to 2048-4096 from the KV size, 2048 taken here (48
        // when speculating).
        peak_batch: |c, _| PeakBatch {
            tokens: int_flag(c, "sglang_scheduler_config_chunked_prefill_size"),
            sequences: match c.get("sglang_scheduler_config_batch_size_cap") {
                crate::config::FlagValue::Int(v) => v.max(1) as u64,
                _ if matches!(
                    c.get("replica_config_speculative_method").to_text().as_str(),
                    "mtp" | "eagle" | "draft_model"
                ) =>
                {
                    u64::from(sglang::SPECULATIVE_MAX_RUNNING_REQUESTS)
                }
                _ => 2048,
            },
        },
    },
    ReplicaSchedulerEntry {
        name: "trtllm",
        summary: crate::config::help_text(
            "TensorRT-LLM in-flight batching: a capacity scheduler (guaranteed_no_evict reserves prompt + output KV; max_utilization pauses the newest) and a micro-batch scheduler under max_num_tokens / max_batch_size, whole or chunked contexts, optional batch waiting; overlap scheduling.",
        ),
        flags: trtllm::FLAGS,
        prefix_caching: true,
        disaggregation: Some("trtllm_scheduler_config_batch_size_cap"),
        speculative_decoding: true,
        parse: trtllm::parse,
        peak_batch: |c, _| {
            budget_and_cap(
                c,
                "trtllm_scheduler_config_max_num_tokens",
                "trtllm_scheduler_config_batch_size_cap",
            )
        },
    },
    ReplicaSchedulerEntry {
        name: "sarathi",
        summary: crate::config::help_text(
            "Sarathi-Serve: decodes first, then continuing and new prefill chunks within a token budget; watermark admission; preemption of the newest by recompute.",
        ),
        flags: sarathi::FLAGS,
        prefix_caching: false,
        disaggregation: None,
        speculative_decoding: false,
        parse: sarathi::parse,
        peak_batch: |c, _| {
            budget_and_cap(
                c,
                "sarathi_scheduler_config_chunk_size",
                "sarathi_scheduler_config_batch_size_cap",
            )
        },
    },
    ReplicaSchedulerEntry {
        name: "vllm",
        summary: crate::config::help_text(
            "vLLM v0: prefill-only batches of whole prompts whenever requests can be admitted (padded-token limit, watermark), otherwise decode batches; preemption of the newest by recompute.",
        ),
        flags: vllm_v0::FLAGS,
        prefix_caching: false,
        disaggregation: None,
        speculative_decoding: false,
        parse: vllm_v0::parse,
        peak_batch: |c, _| {
            budget_and_cap(
                c,
                "vllm_scheduler_config_max_tokens_in_batch",
                "vllm_scheduler_config_batch_size_cap",
            )
        },
    },
    ReplicaSchedulerEntry {
        name: "orca",
        summary: crate::config::help_text(
            "Orca: every iteration decodes all admitted requests and admits new whole prompts while a maximum-length KV reservation fits; no preemption.",
        ),
        flags: orca::FLAGS,
        prefix_caching: false,
        disaggregation: None,
        speculative_decoding: false,
        parse: orca::parse,
        peak_batch: |c, max_model_len| {
            // Whole prompts, at most one context's worth per pass in the profile.
            PeakBatch {
                tokens: u64::from(max_model_len),
                sequences: int_flag(c, "orca_scheduler_config_batch_size_cap"),
            }
        },
    },
    ReplicaSchedulerEntry {
        name: "faster_transformer",
        summary: crate::config::help_text(
            "FasterTransformer: static batches of requests with maximum-length reservations, re-run until every request of the batch is done.",
        ),
        flags: faster_transformer::FLAGS,
        prefix_caching: false,
        disaggregation: None,
        speculative_decoding: false,
        parse: faster_transformer::parse,
        peak_batch: |c, max_model_len| PeakBatch {
            tokens: u64::from(max_model_len),
            sequences: int_flag(c, "faster_transformer_scheduler_config_batch_size_cap"),
        },
    },
    ReplicaSchedulerEntry {
        name: "lightllm",
        summary: crate::config::help_text(
            "LightLLM: decode batches, with a prefill batch when idle or every max_waiting_iters iterations, admitting a request only if the estimated peak KV of all requests fits.",
        ),
        flags: lightllm::FLAGS,
        prefix_caching: false,
        disaggregation: None,
        speculative_decoding: false,
        parse: lightllm::parse,
        peak_batch: |c, _| {
            budget_and_cap(
                c,
                "lightllm_scheduler_config_max_tokens_in_batch",
                "lightllm_scheduler_config_batch_size_cap",
            )
        },
    },
];

/// Request queue orders, by `--request_queue_config_type` name.
pub static REQUEST_QUEUES: &[&str] = &["fcfs", "edf"];

/// Releases the KV of each request of a batch that `completed` in it (in plan order) with
/// `free` and removes those requests from `running`. (The batch's requests are idle already:
/// [`Request::on_iteration_end`] clears `in_flight`.)
fn release_completed(
    completed: &[RequestId],
    requests: &RequestArena,
    running: &mut Vec<RequestId>,
    mut free: impl FnMut(&Request),
) {
    for &id in completed {
        free(requests.get(id));
    }
    if !completed.is_empty() {
        running.retain(|id| !requests.get(*id).is_completed());
    }
}

/// The refusal of a waiting request `id` that cannot be scheduled with nothing running (the
/// block-pool schedulers' `evict_blocked`): with every block free, it can never fit.
fn refuse_unschedulable(id: RequestId, requests: &RequestArena, kv: &KvCacheManager) -> (RequestId, String) {
    let tokens = requests.get(id).total_tokens();
    let why = format!(
        "could not be scheduled ({tokens} tokens) with {} free of {} KV blocks and nothing running",
        kv.num_free(),
        kv.num_blocks()
    );
    (id, why)
}

/// Refuses a request cap below the pipeline depth, naming `flag`: some micro-batches could
/// hold no request. A depth out of its range is the pipeline flag's own error (reported by the
/// replica's check), not a reason to ask for a cap of that size too.
pub(super) fn check_cap_covers_stages(p: &mut Params, flag: &str, cap: u32) {
    if let crate::config::FlagValue::Int(pp) = p.config().get("replica_config_num_pipeline_stages")
        && (1..=i64::from(crate::limits::MAX_PARALLEL_DEGREE)).contains(&pp)
        && i64::from(cap) < pp
    {
        p.error(
            crate::config::ConfigError::new(
                flag,
                format!(
                    "{cap} is smaller than the {pp} pipeline stages: some micro-batches could hold no request"
                ),
            )
            .with_hint(format!("use at least {pp}")),
        );
    }
}

/// Blocks a request needs at its end (P + D tokens).
pub fn blocks_needed(request: &Request, block_size: u32) -> u64 {
    u64::from(request.total_tokens()).div_ceil(u64::from(block_size))
}

/// Blocks `request` holds at most on a replica of `role`: a prefill server holds its prompt and
/// the one token it produces (the whole request is checked against the decode pool); any other
/// replica its prompt and output.
pub fn blocks_held(request: &Request, block_size: u32, role: PoolRole) -> u64 {
    if role == PoolRole::Prefill {
        (u64::from(request.num_prefill_tokens) + 1).div_ceil(u64::from(block_size))
    } else {
        blocks_needed(request, block_size)
    }
}

/// `Err` with the refusal message when `request` can never fit in the KV cache of a replica of
/// `role` with `num_blocks` blocks.
pub fn check_fits(request: &Request, block_size: u32, num_blocks: u64, role: PoolRole) -> Result<(), String> {
    if blocks_held(request, block_size, role) <= num_blocks {
        return Ok(());
    }
    if role == PoolRole::Prefill {
        return Err(format!(
            "needs {} KV blocks ({} prompt tokens + the first output token at {} tokens per block) but the prefill replica has only {}",
            blocks_held(request, block_size, role),
            request.num_prefill_tokens,
            block_size,
            num_blocks
        ));
    }
    Err(never_fits(request, block_size, num_blocks))
}

/// The refusal message for a request that can never fit in a replica's KV cache.
pub fn never_fits(request: &Request, block_size: u32, num_blocks: u64) -> String {
    format!(
        "needs {} KV blocks ({} prompt + {} output tokens at {} tokens per block) but the replica has only {}",
        blocks_needed(request, block_size),
        request.num_prefill_tokens,
        request.num_decode_tokens,
        block_size,
        num_blocks
    )
}
