//! `sticky`: session affinity. A new session is placed by least outstanding prefill; later
//! requests of the session go where the session lives, so its cached prefix is reused.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::least_outstanding::LeastOutstandingPrefill;
use super::{ClusterProbe, Router, RouterFactory};
use crate::config::{FlagDef, Params};
use crate::request::{ReplicaId, Request};
use crate::rng::StreamRng;

pub(super) const STICKY_FLAGS: &[FlagDef] =
    &[FlagDef::int("sticky_global_scheduler_config_seed", "67", "Seed mixed into the routing stream (tie-breaks).")];

pub(super) fn parse_sticky(_: &mut Params) -> Option<RouterFactory> {
    Some(Arc::new(|n| Box::new(Sticky { sessions: FxHashMap::default(), lop: LeastOutstandingPrefill::new(n) })))
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
        let replica = match request.session_id {
            Some(s) => match self.sessions.get(&s) {
                Some(r) => *r,
                None => {
                    let r = self.lop.pick(rng);
                    self.sessions.insert(s, r);
                    r
                }
            },
            None => self.lop.pick(rng),
        };
        self.lop.add(request, replica);
        replica
    }

    fn on_prefill_end(&mut self, request: &Request) {
        self.lop.remove(request);
    }
}
