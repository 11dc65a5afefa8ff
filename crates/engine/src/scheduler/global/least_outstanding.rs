//! `lor` and `lop`: route to the least-loaded replica by outstanding requests or by prompt
//! tokens awaiting prefill.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::{ClusterProbe, Router, RouterFactory, argmin_random_tie};
use crate::config::{FlagDef, Params};
use crate::request::{ReplicaId, Request, RequestId};
use crate::rng::StreamRng;

/// The seed flag mixed into the routing stream (named by the router's entry).
pub(super) const LOR_SEED: &str = "l_o_r_global_scheduler_config_seed";
pub(super) const LOR_FLAGS: &[FlagDef] =
    &[FlagDef::seed(LOR_SEED, "67", "Seed mixed into the routing stream (tie-breaks).")];
/// The seed flag mixed into the routing stream (named by the router's entry).
pub(super) const LOP_SEED: &str = "l_o_p_global_scheduler_config_seed";
pub(super) const LOP_FLAGS: &[FlagDef] =
    &[FlagDef::seed(LOP_SEED, "67", "Seed mixed into the routing stream (tie-breaks).")];

pub(super) fn parse_lor(_: &mut Params) -> Option<RouterFactory> {
    Some(Arc::new(|n| Box::new(LeastOutstandingRequests::new(n))))
}

pub(super) fn parse_lop(_: &mut Params) -> Option<RouterFactory> {
    Some(Arc::new(|n| Box::new(LeastOutstandingPrefill::new(n))))
}

/// Routes to the replica with the fewest routed, unfinished requests; ties broken at random.
#[derive(Debug)]
pub struct LeastOutstandingRequests {
    pending: Vec<u64>,
}

impl LeastOutstandingRequests {
    /// Empty load state for `n` replicas.
    pub fn new(n: u32) -> LeastOutstandingRequests {
        LeastOutstandingRequests { pending: vec![0; n as usize] }
    }

    pub(super) fn pick(&mut self, rng: &mut StreamRng) -> ReplicaId {
        argmin_random_tie(&self.pending, rng)
    }

    pub(super) fn add(&mut self, replica: ReplicaId) {
        self.pending[replica.0 as usize] += 1;
    }

    pub(super) fn remove(&mut self, replica: ReplicaId) {
        let p = &mut self.pending[replica.0 as usize];
        *p = p.saturating_sub(1);
    }
}

impl Router for LeastOutstandingRequests {
    fn route(&mut self, _: &Request, _: &dyn ClusterProbe, rng: &mut StreamRng) -> ReplicaId {
        let r = self.pick(rng);
        self.add(r);
        r
    }

    fn on_request_end(&mut self, request: &Request) {
        if let Some(r) = request.replica {
            self.remove(r);
        }
    }
}

/// Per-replica load made of per-request amounts, each remembered so that exactly what was
/// added for a request is removed.
#[derive(Debug)]
pub(super) struct TrackedLoad {
    pending: Vec<u64>,
    added: FxHashMap<RequestId, (ReplicaId, u64)>,
}

impl TrackedLoad {
    /// No load on `n` replicas.
    pub(super) fn new(n: u32) -> TrackedLoad {
        TrackedLoad { pending: vec![0; n as usize], added: FxHashMap::default() }
    }

    /// The load per replica.
    pub(super) fn pending(&self) -> &[u64] {
        &self.pending
    }

    /// The least-loaded replica; ties broken at random.
    pub(super) fn least_loaded(&self, rng: &mut StreamRng) -> ReplicaId {
        argmin_random_tie(&self.pending, rng)
    }

    /// Adds `amount` for request `id` on `replica`.
    pub(super) fn add(&mut self, id: RequestId, replica: ReplicaId, amount: u64) {
        self.pending[replica.0 as usize] += amount;
        self.added.insert(id, (replica, amount));
    }

    /// Takes up to `amount` off what request `id` still adds.
    pub(super) fn reduce(&mut self, id: RequestId, amount: u64) {
        if let Some((replica, left)) = self.added.get_mut(&id) {
            let done = amount.min(*left);
            *left -= done;
            self.pending[replica.0 as usize] -= done;
        }
    }

    /// Removes what request `id` still adds (nothing if it was removed already).
    pub(super) fn remove(&mut self, id: RequestId) {
        if let Some((replica, left)) = self.added.remove(&id) {
            self.pending[replica.0 as usize] -= left;
        }
    }
}

/// Routes to the replica with the fewest prompt tokens awaiting their first prefill; ties
/// broken at random. Each request's contribution is remembered, so the exact amount added is
/// removed at prefill end (Vidur subtracts the post-restart prompt, drifting; §12.14).
#[derive(Debug)]
pub struct LeastOutstandingPrefill {
    load: TrackedLoad,
}

impl LeastOutstandingPrefill {
    /// Empty load state for `n` replicas.
    pub fn new(n: u32) -> LeastOutstandingPrefill {
        LeastOutstandingPrefill { load: TrackedLoad::new(n) }
    }

    pub(super) fn pick(&self, rng: &mut StreamRng) -> ReplicaId {
        self.load.least_loaded(rng)
    }

    pub(super) fn add(&mut self, request: &Request, replica: ReplicaId) {
        self.load.add(request.id, replica, u64::from(request.num_prefill_tokens));
    }

    pub(super) fn remove(&mut self, request: &Request) {
        self.load.remove(request.id);
    }
}

impl Router for LeastOutstandingPrefill {
    fn route(&mut self, request: &Request, _: &dyn ClusterProbe, rng: &mut StreamRng) -> ReplicaId {
        let r = self.pick(rng);
        self.add(request, r);
        r
    }

    fn on_prefill_end(&mut self, request: &Request) {
        self.remove(request);
    }
}
