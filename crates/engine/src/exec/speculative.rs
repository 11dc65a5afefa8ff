//! Speculative decoding's draft cost: the target's predictor, plus the draft (an MTP layer, an
//! EAGLE head or a draft model, each priced as a model of its own) run k times on the last
//! stage, shown as [`Op::SpeculativeDraft`].
//!
//! The target's own predictor prices the verification: a speculating request's decode item
//! carries k + 1 tokens (the linear layers see k + 1 tokens, attention k + 1 queries over
//! its context). The draft then runs once over every token of the batch (prefill chunks
//! included: the MTP layer or EAGLE head reads the target's hidden states of every position,
//! and a draft model keeps its own KV cache of them), and k − 1 more times over one token per
//! decoding request (each draft token feeds the next).

use super::moe_parallel::spread_over_ranks;
use super::{
    BatchItem, ExecutionTime, ExecutionTimePredictor, Op, Provenance, SharedPredictor, StagePosition,
};

/// The target's predictor with the draft's time added on the last stage.
pub struct SpeculativePredictor {
    target: SharedPredictor,
    draft: SharedPredictor,
    num_tokens: u32,
    what: &'static str,
    /// Attention-DP ranks the draft's batch is spread over here (1: not spread, or spread by
    /// the draft's own predictor).
    ranks: usize,
    /// SGLang's tree, (topk, num_draft_tokens): each draft step runs topk tokens per decoding
    /// request and the verification `num_draft_tokens` per decoding request (`None`: 1 and the
    /// planned k + 1).
    tree: Option<(u32, u32)>,
}

impl SpeculativePredictor {
    /// `target` priced as usual, plus `draft` (a one-stage predictor of the draft) run
    /// `num_tokens` (k) times per step; `what` names the method in descriptions.
    pub fn new(
        target: SharedPredictor,
        draft: SharedPredictor,
        num_tokens: u32,
        what: &'static str,
    ) -> SpeculativePredictor {
        SpeculativePredictor { target, draft, num_tokens, what, ranks: 1, tree: None }
    }

    /// SGLang's EAGLE worker: `topk` candidates per request in each of the k − 1 draft forwards
    /// after the first (`EAGLEWorker.draft_forward`), and a verification of `num_draft_tokens`
    /// per request whatever it has left to produce (`EagleVerifyInput`: the verify batch holds
    /// bs × num_draft_tokens tokens).
    pub fn with_tree(mut self, topk: u32, num_draft_tokens: u32) -> SpeculativePredictor {
        self.tree = Some((topk.max(1), num_draft_tokens.max(1)));
        self
    }

    /// Drafting on `ranks` attention-DP ranks, each for its own requests (the batch spread as
    /// [`spread_over_ranks`] spreads it), for a draft predictor that does not spread a batch
    /// itself (a dense draft under attention DP); the slowest rank's time is the step's.
    pub fn with_ranks(mut self, ranks: u32) -> SpeculativePredictor {
        self.ranks = ranks.max(1) as usize;
        self
    }

    /// The draft's GPU time for `batch`, ms, and the provenance of its largest op.
    pub fn draft_ms(&self, batch: &[BatchItem]) -> (f64, Provenance) {
        if self.ranks <= 1 {
            return self.rank_draft_ms(batch);
        }
        let mut ranks = Vec::with_capacity(self.ranks);
        spread_over_ranks(batch, self.ranks, &mut ranks);
        ranks
            .iter()
            .filter(|r| !r.items.is_empty())
            .map(|r| self.rank_draft_ms(&r.items))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .unwrap_or((0.0, Provenance::None))
    }

    /// The draft's time over `batch` on one rank, ms, and its provenance.
    fn rank_draft_ms(&self, batch: &[BatchItem]) -> (f64, Provenance) {
        const ONE: StagePosition = StagePosition { stage: 0, num_stages: 1 };
        if batch.is_empty() {
            return (0.0, Provenance::None);
        }
        let first = self.draft.predict(batch, ONE);
        let mut ms = first.model_ms();
        // The draft's logits are computed at each request's last position only (one row per
        // request), whereas `first` priced the LM head for every token of a verification item.
        if batch.iter().any(|i| !i.is_prefill && i.num_tokens > 1) {
            let one_row: Vec<BatchItem> = batch
                .iter()
                .map(|i| if i.is_prefill { *i } else { BatchItem { num_tokens: 1, ..*i } })
                .collect();
            ms += self.draft.predict(&one_row, ONE).get(Op::LmHead) - first.get(Op::LmHead);
        }
        let width = self.tree.map_or(1, |(topk, _)| topk);
        let decoding: Vec<BatchItem> = batch
            .iter()
            .filter(|i| !i.is_prefill)
            .map(|i| BatchItem::decode(i.num_processed_tokens + i.num_tokens, width))
            .collect();
        if self.num_tokens > 1 && !decoding.is_empty() {
            let next = self.draft.predict(&decoding, ONE);
            ms += f64::from(self.num_tokens - 1) * next.model_ms();
        }
        let provenance = Op::ALL
            .iter()
            .filter(|op| **op != Op::CpuOverhead)
            .max_by(|a, b| first.get(**a).total_cmp(&first.get(**b)))
            .map_or(Provenance::None, |op| first.provenance[*op as usize]);
        (ms, provenance)
    }
}

impl ExecutionTimePredictor for SpeculativePredictor {
    fn predict(&self, batch: &[BatchItem], position: StagePosition) -> ExecutionTime {
        let mut time = match self.tree {
            Some((_, verify)) if batch.iter().any(|i| !i.is_prefill) => {
                let verifying: Vec<BatchItem> = batch
                    .iter()
                    .map(|i| if i.is_prefill { *i } else { BatchItem { num_tokens: verify, ..*i } })
                    .collect();
                self.target.predict(&verifying, position)
            }
            _ => self.target.predict(batch, position),
        };
        if position.is_last() {
            let (ms, provenance) = self.draft_ms(batch);
            time.set(Op::SpeculativeDraft, ms, provenance);
        }
        time
    }

    fn describe(&self) -> String {
        let tree = match self.tree {
            Some((topk, verify)) => format!(", top-{topk}, {verify} tokens verified"),
            None => String::new(),
        };
        format!(
            "{}; speculative decoding ({}, k = {}{tree}): draft {}",
            self.target.describe(),
            self.what,
            self.num_tokens,
            self.draft.describe()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// 1 ms per token, on the GPU.
    struct PerToken;
    impl ExecutionTimePredictor for PerToken {
        fn predict(&self, batch: &[BatchItem], _: StagePosition) -> ExecutionTime {
            let mut t = ExecutionTime::default();
            t.set(Op::MlpUpProj, batch.iter().map(|i| f64::from(i.num_tokens)).sum(), Provenance::Roofline);
            t.set(Op::CpuOverhead, 5.0, Provenance::Roofline);
            t
        }
        fn describe(&self) -> String {
            "per token".into()
        }
    }

    /// 1 ms per token, plus 1 ms of LM head per logit row (every token of a decode item, one
    /// per prefill item, as the roofline's `logit_rows` counts them).
    struct PerTokenWithHead;
    impl ExecutionTimePredictor for PerTokenWithHead {
        fn predict(&self, batch: &[BatchItem], _: StagePosition) -> ExecutionTime {
            let mut t = ExecutionTime::default();
            t.set(Op::MlpUpProj, batch.iter().map(|i| f64::from(i.num_tokens)).sum(), Provenance::Roofline);
            let rows = batch.iter().map(|i| if i.is_prefill { 1.0 } else { f64::from(i.num_tokens) }).sum();
            t.set(Op::LmHead, rows, Provenance::Roofline);
            t
        }
        fn describe(&self) -> String {
            "per token with head".into()
        }
    }

    #[test]
    fn the_draft_computes_one_logit_row_per_request_not_one_per_verified_token() {
        let p = SpeculativePredictor::new(Arc::new(PerToken), Arc::new(PerTokenWithHead), 3, "eagle");
        let batch = [BatchItem::prefill(0, 100), BatchItem::decode(50, 4), BatchItem::decode(70, 4)];
        let last = p.predict(&batch, StagePosition { stage: 0, num_stages: 1 });
        // First pass: 108 tokens and 3 logit rows (not 1 + 4 + 4); then 2 passes over the 2
        // decoding requests, each 2 tokens and 2 rows.
        assert_eq!(last.get(Op::SpeculativeDraft), (108.0 + 3.0) + 2.0 * (2.0 + 2.0));
    }

    #[test]
    fn the_draft_runs_once_over_the_batch_then_k_minus_one_times_per_decode_on_the_last_stage() {
        let p = SpeculativePredictor::new(Arc::new(PerToken), Arc::new(PerToken), 3, "mtp");
        let batch = [BatchItem::prefill(0, 100), BatchItem::decode(50, 4), BatchItem::decode(70, 4)];
        let last = p.predict(&batch, StagePosition { stage: 1, num_stages: 2 });
        // First pass: 108 tokens; then 2 more passes over the 2 decoding requests' 1 token.
        assert_eq!(last.get(Op::SpeculativeDraft), 108.0 + 2.0 * 2.0);
        assert_eq!(last.provenance[Op::SpeculativeDraft as usize], Provenance::Roofline);
        assert_eq!(last.get(Op::MlpUpProj), 108.0, "the target's time is unchanged");
        let first = p.predict(&batch, StagePosition { stage: 0, num_stages: 2 });
        assert_eq!(first.get(Op::SpeculativeDraft), 0.0, "only the last stage drafts");
        assert!(p.describe().contains("k = 3"));
    }

    #[test]
    fn sglang_s_tree_verifies_its_draft_tokens_per_request_and_drafts_top_k_per_step() {
        // k = 5, top-4, 8 draft tokens: the verification runs 8 tokens per decoding request
        // whatever the plan holds (a request near its end: 2), the draft's first pass the
        // planned tokens, then 4 more passes of 4 candidates per decoding request.
        let p = SpeculativePredictor::new(Arc::new(PerToken), Arc::new(PerToken), 5, "eagle").with_tree(4, 8);
        let item = |processed, tokens, is_prefill| BatchItem {
            num_processed_tokens: processed,
            num_tokens: tokens,
            is_prefill,
            dp_rank: BatchItem::NO_RANK,
        };
        let batch = [item(0, 100, true), item(50, 6, false), item(70, 2, false)];
        let last = p.predict(&batch, StagePosition { stage: 0, num_stages: 1 });
        assert_eq!(last.get(Op::MlpUpProj), 100.0 + 8.0 + 8.0);
        assert_eq!(last.get(Op::SpeculativeDraft), 108.0 + 4.0 * (4.0 + 4.0));
        assert!(p.describe().contains("top-4, 8 tokens verified"), "{}", p.describe());
        // A prefill alone is priced as planned.
        let prefill = p.predict(&batch[..1], StagePosition { stage: 0, num_stages: 1 });
        assert_eq!(prefill.get(Op::MlpUpProj), 100.0);
    }

    #[test]
    fn a_dense_draft_under_attention_dp_drafts_each_ranks_requests_on_that_rank() {
        // Two ranks: the prefill on one, the two decodes on the other; the slowest rank's
        // draft is the step's, not the whole batch's on one GPU.
        let p = SpeculativePredictor::new(Arc::new(PerToken), Arc::new(PerToken), 3, "eagle").with_ranks(2);
        let batch = [BatchItem::prefill(0, 100), BatchItem::decode(50, 4), BatchItem::decode(70, 4)];
        let last = p.predict(&batch, StagePosition { stage: 0, num_stages: 1 });
        assert_eq!(last.get(Op::SpeculativeDraft), 100.0);
        let decodes = p.predict(&batch[1..], StagePosition { stage: 0, num_stages: 1 });
        assert_eq!(decodes.get(Op::SpeculativeDraft), 4.0 + 2.0 * 1.0, "one decode a rank");
    }
}
