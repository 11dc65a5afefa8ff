//! `sticky`: session affinity. A new session is placed by least outstanding prefill; later
//! requests of the session go where the session lives, so its cached prefix is reused.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::least_outstanding::LeastOutstandingPrefill;
use super::{ClusterProbe, Router, RouterFactory};
use crate::config::{FlagDef, Params};
use crate::request::{ReplicaId, Request};
use crate::rng::StreamRng;

/// The seed flag mixed into the routing stream (named by the router's entry).
pub(super) const STICKY_SEED: &str = "sticky_global_scheduler_config_seed";
pub(super) const STICKY_FLAGS: &[FlagDef] =
    &[FlagDef::seed(STICKY_SEED, "67", "Seed mixed into the routing stream (tie-breaks).")];

pub(super) fn parse_sticky(_: &mut Params) -> Option<RouterFactory> {
    Some(Arc::new(|n| {
        Box::new(Sticky { sessions: FxHashMap::default(), lop: LeastOutstandingPrefill::new(n) })
    }))
}

/// Session → replica map over least-outstanding-prefill placement. A request without a
/// session id is placed like a new session.
#[derive(Debug)]
pub struct Sticky {
    sessions: FxHashMap<u64, ReplicaId>,
    lop: LeastOutstandingPrefill,
}

impl Router for Sticky {
    fn route(&mut self, request: &Request, _: &dyn ClusterProbe, rng: &mut StreamRng) -> ReplicaId {
        let lop = &self.lop;
        let replica = session_replica(&mut self.sessions, request.session_id, || lop.pick(rng));
        self.lop.add(request, replica);
        replica
    }

    fn on_prefill_end(&mut self, request: &Request) {
        self.lop.remove(request);
    }
}

/// The replica `session` lives on; a new session is placed by `place` and remembered, a
/// request without a session is placed by `place` and not remembered.
pub(super) fn session_replica(
    sessions: &mut FxHashMap<u64, ReplicaId>,
    session: Option<u64>,
    place: impl FnOnce() -> ReplicaId,
) -> ReplicaId {
    match session {
        Some(s) => *sessions.entry(s).or_insert_with(place),
        None => place(),
    }
}
