//! Batches: the requests and token counts one iteration of a replica processes.

use crate::exec::BatchItem;
use crate::request::{ReplicaId, RequestArena, RequestId};
use crate::time::SimTime;

/// A batch's slot in the engine's batch arena (reused after the batch ends).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BatchSlot(pub u32);

/// What a replica scheduler decides for one iteration: requests in order, with token counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchPlan {
    /// Requests, running ones first, then newly admitted ones.
    pub requests: Vec<RequestId>,
    /// Tokens per request: a prefill chunk, or 1 for a decode.
    pub num_tokens: Vec<u32>,
}

impl BatchPlan {
    /// Adds a request with `n` tokens.
    #[inline]
    pub fn push(&mut self, id: RequestId, n: u32) {
        self.requests.push(id);
        self.num_tokens.push(n);
    }

    /// Whether nothing was scheduled.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// Requests in the plan.
    #[inline]
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// Σ tokens.
    pub fn total_tokens(&self) -> u32 {
        self.num_tokens.iter().sum()
    }

    /// Empties the plan, keeping its buffers.
    pub fn clear(&mut self) {
        self.requests.clear();
        self.num_tokens.clear();
    }
}

/// A batch in flight.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// Sequence number over the run (for traces and reports).
    pub seq: u64,
    /// The replica running it.
    pub replica: ReplicaId,
    /// When it was formed.
    pub scheduled_at: SimTime,
    /// Requests and token counts.
    pub plan: BatchPlan,
    /// The shape the predictor sees (state at formation; stable while in flight).
    pub items: Vec<BatchItem>,
    /// Σ tokens of prefill work.
    pub num_prefill_tokens: u32,
    /// Σ tokens of decode work.
    pub num_decode_tokens: u32,
}

impl Batch {
    /// Fills the derived fields from the plan and the requests' current state.
    pub fn describe(&mut self, requests: &RequestArena) {
        self.items.clear();
        self.num_prefill_tokens = 0;
        self.num_decode_tokens = 0;
        for (&id, &n) in self.plan.requests.iter().zip(&self.plan.num_tokens) {
            let r = requests.get(id);
            let is_prefill = !r.is_prefill_complete;
            if is_prefill {
                self.num_prefill_tokens += n;
            } else {
                self.num_decode_tokens += n;
            }
            self.items.push(BatchItem {
                num_processed_tokens: r.num_processed_tokens,
                num_tokens: n,
                is_prefill,
            });
        }
    }

    /// Requests in the batch.
    #[inline]
    pub fn size(&self) -> usize {
        self.plan.len()
    }

    /// Σ tokens.
    pub fn total_tokens(&self) -> u32 {
        self.num_prefill_tokens + self.num_decode_tokens
    }
}
