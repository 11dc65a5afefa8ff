//! `sticky_round_robin` and `sticky_lor`: session affinity over round-robin or
//! least-outstanding-requests placement of new sessions.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::least_outstanding::LeastOutstandingRequests;
use super::sticky::session_replica;
use super::{ClusterProbe, Router, RouterFactory};
use crate::config::{FlagDef, Params};
use crate::request::{ReplicaId, Request};
use crate::rng::StreamRng;

/// The seed flag mixed into the routing stream (named by the router's entry).
pub(super) const STICKY_ROUND_ROBIN_SEED: &str = "sticky_round_robin_global_scheduler_config_seed";
pub(super) const STICKY_ROUND_ROBIN_FLAGS: &[FlagDef] = &[FlagDef::seed(
    STICKY_ROUND_ROBIN_SEED,
    "67",
    "Seed mixed into the routing stream (unused: placement is not random).",
)];
/// The seed flag mixed into the routing stream (named by the router's entry).
pub(super) const STICKY_LOR_SEED: &str = "sticky_lor_global_scheduler_config_seed";
pub(super) const STICKY_LOR_FLAGS: &[FlagDef] =
    &[FlagDef::seed(STICKY_LOR_SEED, "67", "Seed mixed into the routing stream (tie-breaks).")];

pub(super) fn parse_sticky_round_robin(_: &mut Params) -> Option<RouterFactory> {
    Some(Arc::new(|_| Box::new(StickyRoundRobin { sessions: FxHashMap::default(), next_session: 0 })))
}

pub(super) fn parse_sticky_lor(_: &mut Params) -> Option<RouterFactory> {
    Some(Arc::new(|n| {
        Box::new(StickyLor { sessions: FxHashMap::default(), lor: LeastOutstandingRequests::new(n) })
    }))
}

/// Places the k-th new session on replica k mod n; a session's later requests follow it.
///
/// A request without a session id is placed as a new session that is not remembered.
#[derive(Debug)]
pub struct StickyRoundRobin {
    sessions: FxHashMap<u64, ReplicaId>,
    next_session: u32,
}

impl Router for StickyRoundRobin {
    fn route(&mut self, request: &Request, cluster: &dyn ClusterProbe, _: &mut StreamRng) -> ReplicaId {
        let next_session = &mut self.next_session;
        session_replica(&mut self.sessions, request.session_id, || {
            let r = ReplicaId(*next_session % cluster.num_replicas());
            *next_session = next_session.wrapping_add(1);
            r
        })
    }
}

/// Places a new session on the replica with the fewest routed, unfinished requests (random
/// tie-break); a session's later requests follow it. Every request counts towards its
/// replica's load until it ends.
///
/// A request without a session id is placed as a new session that is not remembered.
#[derive(Debug)]
pub struct StickyLor {
    sessions: FxHashMap<u64, ReplicaId>,
    lor: LeastOutstandingRequests,
}

impl Router for StickyLor {
    fn route(&mut self, request: &Request, _: &dyn ClusterProbe, rng: &mut StreamRng) -> ReplicaId {
        let lor = &mut self.lor;
        let replica = session_replica(&mut self.sessions, request.session_id, || lor.pick(rng));
        self.lor.add(replica);
        replica
    }

    fn on_request_end(&mut self, request: &Request) {
        if let Some(r) = request.replica {
            self.lor.remove(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::global::testkit::{FakeCluster, request, rng};

    #[test]
    fn sticky_round_robin_places_sessions_in_turn() {
        let (cluster, mut rng) = (FakeCluster::empty(3), rng());
        let mut router = StickyRoundRobin { sessions: FxHashMap::default(), next_session: 0 };
        let sessions = [Some(1), Some(2), Some(1), Some(3), None, Some(4), Some(2)];
        let placed: Vec<u32> = sessions
            .iter()
            .enumerate()
            .map(|(i, s)| router.route(&request(i as u32, 10, *s), &cluster, &mut rng).0)
            .collect();
        assert_eq!(placed, [0, 1, 0, 2, 0, 1, 1]);
    }

    #[test]
    fn sticky_lor_places_new_sessions_on_the_least_loaded_replica() {
        let (cluster, mut rng) = (FakeCluster::empty(2), rng());
        let mut router = StickyLor { sessions: FxHashMap::default(), lor: LeastOutstandingRequests::new(2) };
        let mut route = |router: &mut StickyLor, id: u32, session: u64| {
            let mut r = request(id, 10, Some(session));
            r.replica = Some(router.route(&r, &cluster, &mut rng));
            r
        };
        let r0 = route(&mut router, 0, 1); // tie: either replica
        let x = r0.replica.unwrap();
        let y = ReplicaId(1 - x.0);
        assert_eq!(route(&mut router, 1, 2).replica, Some(y));
        assert_eq!(route(&mut router, 2, 1).replica, Some(x), "session 1 stays although x is busier");
        assert_eq!(route(&mut router, 3, 3).replica, Some(y), "new session: y has 1 request, x has 2");
        router.on_request_end(&r0); // x: 1, y: 2
        assert_eq!(route(&mut router, 4, 4).replica, Some(x));
    }
}
