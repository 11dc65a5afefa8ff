//! `lop_binary` and `lop_batch_end`: least-outstanding-prefill routers that count requests, or
//! follow prefill progress chunk by chunk.

use std::sync::Arc;

use super::least_outstanding::TrackedLoad;
use super::{ClusterProbe, Router, RouterFactory};
use crate::batch::Batch;
use crate::config::{FlagDef, Params};
use crate::request::{ReplicaId, Request, RequestArena};
use crate::rng::StreamRng;

/// The seed flag mixed into the routing stream (named by the router's entry).
pub(super) const LOP_BINARY_SEED: &str = "l_o_p_binary_global_scheduler_config_seed";
pub(super) const LOP_BINARY_FLAGS: &[FlagDef] =
    &[FlagDef::seed(LOP_BINARY_SEED, "67", "Seed mixed into the routing stream (tie-breaks).")];
/// The seed flag mixed into the routing stream (named by the router's entry).
pub(super) const LOP_BATCH_END_SEED: &str = "l_o_p_batch_end_global_scheduler_config_seed";
pub(super) const LOP_BATCH_END_FLAGS: &[FlagDef] =
    &[FlagDef::seed(LOP_BATCH_END_SEED, "67", "Seed mixed into the routing stream (tie-breaks).")];

pub(super) fn parse_lop_binary(_: &mut Params) -> Option<RouterFactory> {
    Some(Arc::new(|n| Box::new(LopBinary::new(n))))
}

pub(super) fn parse_lop_batch_end(_: &mut Params) -> Option<RouterFactory> {
    Some(Arc::new(|n| Box::new(LopBatchEnd::new(n))))
}

/// Routes to the replica with the fewest requests awaiting their first prefill; ties broken at
/// random.
///
/// Difference from Vidur: none in the rule; the count is per request, so a refused request
/// is removed exactly once.
#[derive(Debug)]
pub struct LopBinary {
    load: TrackedLoad,
}

impl LopBinary {
    /// Empty load state for `n` replicas.
    pub fn new(n: u32) -> LopBinary {
        LopBinary { load: TrackedLoad::new(n) }
    }

    /// Requests awaiting their first prefill, per replica.
    pub fn pending(&self) -> &[u64] {
        self.load.pending()
    }
}

impl Router for LopBinary {
    fn route(&mut self, request: &Request, _: &dyn ClusterProbe, rng: &mut StreamRng) -> ReplicaId {
        let replica = self.load.least_loaded(rng);
        self.load.add(request.id, replica, 1);
        replica
    }

    fn on_prefill_end(&mut self, request: &Request) {
        self.load.remove(request.id);
    }
}

/// Routes to the replica with the fewest prompt tokens still to prefill, counting progress as
/// each batch ends (chunk by chunk); ties broken at random.
///
/// Difference from Vidur (behaviour.md §6, §12.14): each request's outstanding tokens are kept,
/// so a batch subtracts only what the request still owed, and whatever is left when its first
/// prefill ends (cache hits, which no batch computes) is removed then. Vidur subtracts every
/// prefill chunk, including re-prefills after a restart, and never the cached tokens, so its
/// load drifts.
#[derive(Debug)]
pub struct LopBatchEnd {
    load: TrackedLoad,
}

impl LopBatchEnd {
    /// Empty load state for `n` replicas.
    pub fn new(n: u32) -> LopBatchEnd {
        LopBatchEnd { load: TrackedLoad::new(n) }
    }

    /// Prompt tokens still to prefill, per replica.
    pub fn pending(&self) -> &[u64] {
        self.load.pending()
    }
}

impl Router for LopBatchEnd {
    fn route(&mut self, request: &Request, _: &dyn ClusterProbe, rng: &mut StreamRng) -> ReplicaId {
        let replica = self.load.least_loaded(rng);
        self.load.add(request.id, replica, u64::from(request.num_prefill_tokens));
        replica
    }

    fn on_batch_end(&mut self, _replica: ReplicaId, batch: &Batch, _requests: &RequestArena) {
        for ((id, &n), item) in batch.plan.requests.iter().zip(&batch.plan.num_tokens).zip(&batch.items) {
            if item.is_prefill {
                self.load.reduce(*id, u64::from(n));
            }
        }
    }

    fn on_prefill_end(&mut self, request: &Request) {
        self.load.remove(request.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::BatchPlan;
    use crate::exec::BatchItem;
    use crate::request::RequestId;
    use crate::scheduler::global::testkit::{FakeCluster, request, rng};

    fn other(r: ReplicaId) -> ReplicaId {
        ReplicaId(1 - r.0)
    }

    #[test]
    fn lop_binary_counts_requests_awaiting_their_first_prefill() {
        let (cluster, mut rng) = (FakeCluster::empty(2), rng());
        let mut router = LopBinary::new(2);
        let (r0, r1, r2, r3) =
            (request(0, 900, None), request(1, 10, None), request(2, 10, None), request(3, 10, None));
        let x = router.route(&r0, &cluster, &mut rng); // tie: either replica
        assert_eq!(router.route(&r1, &cluster, &mut rng), other(x), "prompt sizes do not matter, counts do");
        router.on_prefill_end(&r0);
        assert_eq!(router.route(&r2, &cluster, &mut rng), x);
        router.on_prefill_end(&r0); // a second end changes nothing
        assert_eq!(router.pending(), [1, 1]);
        router.on_prefill_end(&r1);
        assert_eq!(router.route(&r3, &cluster, &mut rng), other(x));
        assert_eq!(router.pending(), [1, 1]);
    }

    fn prefill_batch(chunks: &[(u32, u32)]) -> Batch {
        let mut plan = BatchPlan::default();
        for &(id, n) in chunks {
            plan.push(RequestId(id), n);
        }
        let items = chunks.iter().map(|&(_, n)| BatchItem::prefill(0, n)).collect();
        Batch { plan, items, ..Batch::default() }
    }

    #[test]
    fn lop_batch_end_follows_prefill_chunks_without_drift() {
        let (cluster, mut rng, requests) = (FakeCluster::empty(2), rng(), RequestArena::new());
        let mut router = LopBatchEnd::new(2);
        let (r0, r1, r2) = (request(0, 100, None), request(1, 30, None), request(2, 10, None));
        let x = router.route(&r0, &cluster, &mut rng);
        assert_eq!(router.route(&r1, &cluster, &mut rng), other(x));
        // An 80-token chunk of r0 ends: 20 of its tokens remain on x, 30 on the other.
        router.on_batch_end(x, &prefill_batch(&[(0, 80)]), &requests);
        assert_eq!(router.pending()[x.0 as usize], 20);
        assert_eq!(router.route(&r2, &cluster, &mut rng), x);
        assert_eq!(router.pending()[x.0 as usize], 30);
        // r0's prefill ends with 20 tokens served from cache (never in a batch): removed now.
        router.on_prefill_end(&r0);
        assert_eq!(router.pending()[x.0 as usize], 10);
        // A re-prefill of r0 after a restart owes nothing and subtracts nothing.
        router.on_batch_end(x, &prefill_batch(&[(0, 100), (2, 4)]), &requests);
        assert_eq!(router.pending()[x.0 as usize], 6);
        router.on_prefill_end(&r2);
        router.on_prefill_end(&r1);
        assert_eq!(router.pending(), [0, 0]);
    }
}
