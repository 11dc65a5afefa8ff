//! `lor` and `lop`: route to the least-loaded replica by outstanding requests or by prompt
//! tokens awaiting prefill.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::{ClusterProbe, Router, RouterFactory, argmin_random_tie};
use crate::config::{FlagDef, Params};
use crate::request::{ReplicaId, Request, RequestId};
use crate::rng::StreamRng;

pub(super) const LOR_FLAGS: &[FlagDef] =
    &[FlagDef::int("l_o_r_global_scheduler_config_seed", "67", "Seed mixed into the routing stream (tie-breaks).")];
pub(super) const LOP_FLAGS: &[FlagDef] =
    &[FlagDef::int("l_o_p_global_scheduler_config_seed", "67", "Seed mixed into the routing stream (tie-breaks).")];

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

/// Routes to the replica with the fewest prompt tokens awaiting their first prefill; ties
/// broken at random. Each request's contribution is remembered, so the exact amount added is
/// removed at prefill end (Vidur subtracts the post-restart prompt, drifting; §12.14).
#[derive(Debug)]
pub struct LeastOutstandingPrefill {
    pending: Vec<u64>,
    added: FxHashMap<RequestId, (ReplicaId, u64)>,
}

impl LeastOutstandingPrefill {
    /// Empty load state for `n` replicas.
    pub fn new(n: u32) -> LeastOutstandingPrefill {
        LeastOutstandingPrefill { pending: vec![0; n as usize], added: FxHashMap::default() }
    }

    pub(super) fn pick(&self, rng: &mut StreamRng) -> ReplicaId {
        argmin_random_tie(&self.pending, rng)
    }

    pub(super) fn add(&mut self, request: &Request, replica: ReplicaId) {
        let tokens = u64::from(request.num_prefill_tokens);
        self.pending[replica.0 as usize] += tokens;
        self.added.insert(request.id, (replica, tokens));
    }

    pub(super) fn remove(&mut self, request: &Request) {
        if let Some((replica, tokens)) = self.added.remove(&request.id) {
            let p = &mut self.pending[replica.0 as usize];
            *p = p.saturating_sub(tokens);
        }
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
