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
    /// The batch's description taken as the scheduler planned ([`BatchPlan::push_described`]):
    /// complete only when every request was pushed that way (`items.len() == requests.len()`).
    described: Described,
}

/// What [`Batch::describe_scheduling`] derives from the requests, recorded at their push while
/// the scheduler holds them (so the batch's forming needs no second look-up of each request).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Described {
    items: Vec<BatchItem>,
    /// Positions in the plan of the requests never scheduled before, in plan order.
    first: Vec<u32>,
    prefill_tokens: u32,
    decode_tokens: u32,
}

impl BatchPlan {
    /// Adds a request with `n` tokens.
    #[inline]
    pub fn push(&mut self, id: RequestId, n: u32) {
        self.requests.push(id);
        self.num_tokens.push(n);
    }

    /// [`BatchPlan::push`], and the request's item described now, as the batch's forming
    /// would describe it from the arena. For a scheduler that changes no planned request's
    /// progress (`num_processed_tokens`, `is_prefill_complete`) nor first-schedule time between
    /// its push and the batch's forming, and pushes every request of the plan this way;
    /// otherwise (any plain `push`) the batch is described from the arena as before.
    #[inline(always)]
    pub fn push_described(&mut self, request: &Request, n: u32) {
        if request.scheduled_at.is_none() {
            self.described.first.push(self.requests.len() as u32);
        }
        self.push_described_scheduled(request, n);
    }

    /// [`BatchPlan::push_described`] of a request known to have been in a formed batch before
    /// (a running one), whose `scheduled_at` is therefore set: not checked here (a scheduler's
    /// unit tests plan without forming batches); forming the batch checks it in debug builds.
    #[inline(always)]
    pub fn push_described_scheduled(&mut self, request: &Request, n: u32) {
        let d = &mut self.described;
        self.requests.push(request.id);
        self.num_tokens.push(n);
        let is_prefill = !request.is_prefill_complete;
        if is_prefill {
            d.prefill_tokens += n;
        } else {
            d.decode_tokens += n;
        }
        d.items.push(item_of(request, n));
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
        self.described.items.clear();
        self.described.first.clear();
        self.described.prefill_tokens = 0;
        self.described.decode_tokens = 0;
    }
}

/// The predictor's view of `n` tokens of `request` as it stands now (no attention-DP rank: the
/// engine assigns ranks after the batch is formed).
#[inline(always)]
fn item_of(request: &Request, n: u32) -> BatchItem {
    BatchItem::new(request.num_processed_tokens, n, !request.is_prefill_complete)
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
            self.items.push(item_of(r, n));
        }
    }

    /// [`Batch::describe`], then `visit` on each request in plan order after its item is taken
    /// (so what `visit` changes is not in the shape), in one walk of the plan: the engine marks
    /// first schedules this way when it forms a batch. When every request of the plan was
    /// pushed by [`BatchPlan::push_described`], the items and counts recorded there are taken
    /// instead (no look-up of the requests) and `visit` is called only on the requests that
    /// had no `scheduled_at` at their push, still in plan order: a `visit` that acts only on
    /// those (the engine's) sees the same calls.
    pub fn describe_scheduling(&mut self, requests: &mut RequestArena, mut visit: impl FnMut(&mut Request)) {
        if !self.plan.is_empty() && self.plan.described.items.len() == self.plan.len() {
            // Described at the pushes: the same items and counts, and the same requests
            // visited in the same order (those without a first schedule then, and none has
            // been scheduled since: only this visit sets it).
            debug_assert!(
                {
                    // `first` is in plan order: one walk beside the plan.
                    let mut first = self.plan.described.first.iter().peekable();
                    self.plan.requests.iter().enumerate().all(|(i, &id)| {
                        if first.next_if_eq(&&(i as u32)).is_some() {
                            true
                        } else {
                            requests.get(id).scheduled_at.is_some()
                        }
                    })
                },
                "a request pushed as scheduled before was never scheduled"
            );
            debug_assert!(
                self.plan
                    .requests
                    .iter()
                    .zip(&self.plan.num_tokens)
                    .zip(&self.plan.described.items)
                    .all(|((&id, &n), item)| *item == item_of(requests.get(id), n)),
                "the items recorded at the pushes are what the arena describes (the plan was not edited since)"
            );
            std::mem::swap(&mut self.items, &mut self.plan.described.items);
            self.plan.described.items.clear();
            self.num_prefill_tokens = self.plan.described.prefill_tokens;
            self.num_decode_tokens = self.plan.described.decode_tokens;
            for &i in &self.plan.described.first {
                visit(requests.get_mut(self.plan.requests[i as usize]));
            }
            return;
        }
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
            let item = item_of(r, n);
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
        let mut batch = Batch { plan, items: vec![BatchItem::decode(0, 0); 7], ..Batch::default() };
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

    #[test]
    fn a_plan_described_at_its_pushes_forms_the_batch_the_arena_describes() {
        let mut requests = RequestArena::new();
        let mut plain = BatchPlan::default();
        let mut described = BatchPlan::default();
        for (prefill, processed, complete, scheduled, n) in [
            (5, 6, true, true, 1),
            (40, 16, false, false, 8),
            (9, 0, false, true, 9),
            (7, 0, false, false, 7),
        ] {
            let mut r = Request::new(requests.next_id(), SimTime::ZERO, prefill, 4);
            r.num_processed_tokens = processed;
            r.is_prefill_complete = complete;
            r.scheduled_at = scheduled.then_some(SimTime(3));
            let id = requests.push(r);
            plain.push(id, n);
            described.push_described(requests.get(id), n);
        }
        let stale = vec![BatchItem::prefill(1, 1); 9];
        let form = |plan: BatchPlan, requests: &mut RequestArena| {
            let mut batch = Batch { plan, items: stale.clone(), ..Batch::default() };
            let mut visited = Vec::new();
            batch.describe_scheduling(requests, |r| {
                if r.scheduled_at.is_none() {
                    visited.push(r.id);
                    r.scheduled_at = Some(SimTime(10));
                }
            });
            (batch, visited)
        };
        let (from_arena, visited_arena) = form(plain, &mut requests.clone());
        let (from_pushes, visited_pushes) = form(described, &mut requests);
        assert_eq!(from_pushes.items, from_arena.items);
        assert_eq!(from_pushes.plan.requests, from_arena.plan.requests);
        assert_eq!(
            (from_pushes.num_prefill_tokens, from_pushes.num_decode_tokens),
            (from_arena.num_prefill_tokens, from_arena.num_decode_tokens)
        );
        assert_eq!((from_pushes.num_prefill_tokens, from_pushes.num_decode_tokens), (24, 1));
        assert_eq!(visited_pushes, visited_arena);
        assert_eq!(visited_pushes.len(), 2);
        // Cleared, the plan describes nothing; one plain push makes it be described from the
        // arena again.
        let mut plan = from_pushes.plan;
        plan.clear();
        assert_eq!(plan, BatchPlan::default());
        plan.push_described(requests.get(visited_pushes[0]), 3);
        plan.push(visited_pushes[1], 2);
        let (mixed, _) = form(plan, &mut requests);
        assert_eq!(mixed.items.len(), 2);
        assert_eq!(mixed.items[1].num_tokens, 2);
    }
}
