//! Test helpers for routers: a cluster whose cached prefixes are given per request, and
//! requests to route.

use super::ClusterProbe;
use crate::request::{ReplicaId, Request, RequestId};
use crate::rng::{SeedTree, StreamRng};
use crate::time::SimTime;

/// A cluster of `cached.len()` replicas; `cached[r][i]` is how many tokens of request `i`'s
/// prompt replica `r` has cached (0 when absent).
pub(crate) struct FakeCluster {
    pub(crate) cached: Vec<Vec<u32>>,
}

impl FakeCluster {
    /// `n` replicas with nothing cached.
    pub(crate) fn empty(n: usize) -> FakeCluster {
        FakeCluster { cached: vec![Vec::new(); n] }
    }

    /// Replica `r` has `tokens` of request `id`'s prompt cached.
    pub(crate) fn cache(&mut self, r: usize, id: u32, tokens: u32) {
        let row = &mut self.cached[r];
        if row.len() <= id as usize {
            row.resize(id as usize + 1, 0);
        }
        row[id as usize] = tokens;
    }
}

impl ClusterProbe for FakeCluster {
    fn num_replicas(&self) -> u32 {
        self.cached.len() as u32
    }
    fn cached_prefix_tokens(&self, replica: ReplicaId, request: &Request) -> u32 {
        self.cached[replica.0 as usize].get(request.id.0 as usize).copied().unwrap_or(0)
    }
}

/// Request `id` with a `prefill`-token prompt, in session `session`, routed to nothing yet.
pub(crate) fn request(id: u32, prefill: u32, session: Option<u64>) -> Request {
    let mut r = Request::new(RequestId(id), SimTime::ZERO, prefill, 4);
    r.session_id = session;
    r
}

/// A routing stream.
pub(crate) fn rng() -> StreamRng {
    SeedTree::new(7).stream("routing", 67)
}
