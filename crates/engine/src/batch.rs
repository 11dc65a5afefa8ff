//! Batches: the requests and token counts one iteration of a replica processes.

use crate::exec::BatchItem;
use crate::request::{ReplicaId, Request, RequestArena, RequestId};
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
                dp_rank: BatchItem::NO_RANK,
            });
        }
    }

    /// [`Batch::describe`], then `visit` on each request in plan order after its item is taken
    /// (so what `visit` changes is not in the shape), in one walk of the plan: the engine marks
    /// first schedules this way when it forms a batch.
    pub fn describe_scheduling(&mut self, requests: &mut RequestArena, mut visit: impl FnMut(&mut Request)) {
        let (mut prefill, mut decode) = (0, 0);
        self.items.clear();
        // Sized by the zip, filled without a capacity check per item.
        self.items.extend(self.plan.requests.iter().zip(&self.plan.num_tokens).map(|(&id, &n)| {
            let r = requests.get_mut(id);
            let is_prefill = !r.is_prefill_complete;
            if is_prefill {
                prefill += n;
            } else {
                decode += n;
            }
            let item = BatchItem {
                num_processed_tokens: r.num_processed_tokens,
                num_tokens: n,
                is_prefill,
                dp_rank: BatchItem::NO_RANK,
            };
            visit(r);
            item
        }));
        self.num_prefill_tokens = prefill;
        self.num_decode_tokens = decode;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Request;

    #[test]
    fn describing_while_scheduling_is_describing_then_visiting() {
        let mut requests = RequestArena::new();
        let mut plan = BatchPlan::default();
        // A decode, a prefill chunk partway in, and a new prefill, out of id order.
        for (prefill, processed, complete, n) in [(5, 6, true, 1), (40, 16, false, 8), (9, 0, false, 9)] {
            let mut r = Request::new(requests.next_id(), SimTime::ZERO, prefill, 4);
            r.num_processed_tokens = processed;
            r.is_prefill_complete = complete;
            let id = requests.push(r);
            plan.push(id, n);
        }
        plan.requests.swap(0, 2);
        plan.num_tokens.swap(0, 2);
        let mut described = Batch { plan: plan.clone(), ..Batch::default() };
        described.describe(&requests);
        let mut batch = Batch {
            plan,
            items: vec![
                BatchItem {
                    num_processed_tokens: 0,
                    num_tokens: 0,
                    is_prefill: false,
                    dp_rank: BatchItem::NO_RANK
                };
                7
            ],
            ..Batch::default()
        };
        let mut visited = Vec::new();
        batch.describe_scheduling(&mut requests, |r| {
            visited.push(r.id);
            // What the visit changes is after the item was taken.
            r.num_processed_tokens += 100;
        });
        assert_eq!(batch.items, described.items);
        assert_eq!((batch.num_prefill_tokens, batch.num_decode_tokens), (17, 1));
        assert_eq!(
            (batch.num_prefill_tokens, batch.num_decode_tokens),
            (described.num_prefill_tokens, described.num_decode_tokens)
        );
        assert_eq!(visited, batch.plan.requests);
        assert_eq!(requests.get(visited[0]).num_processed_tokens, 100);
    }
}
