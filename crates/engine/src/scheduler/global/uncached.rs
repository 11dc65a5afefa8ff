//! Prefix-aware routers: `lop_uncached` and its session-sticky variants
//! `ranked_sticky_lop_uncached` and `tolerant_sticky_lop_uncached`.
//!
//! All three keep, per replica, the prompt tokens awaiting their first prefill that are *not*
//! cached there. A request costs `u(r) = P − cached(r)` on replica `r`, where `cached(r)` is the
//! longest prefix of its prompt found in `r`'s block pool now (at most P − 1 tokens). The
//! imbalance of placing it on `r` is max − min of the loads after adding `u(r)` to `r`.
//!
//! Differences from Vidur (behaviour.md §6, §12.14): the cache probe does not count as a
//! prefix-cache lookup in the replica's statistics, and each request's `u` is remembered, so
//! exactly what was added is removed at its first prefill end.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::least_outstanding::TrackedLoad;
use super::{ClusterProbe, Router, RouterFactory, argmin_random_tie};
use crate::config::{FlagDef, Params};
use crate::request::{ReplicaId, Request};
use crate::rng::{StreamRng, unit_f64};

/// The seed flag mixed into the routing stream (named by the router's entry).
pub(super) const LOP_UNCACHED_SEED: &str = "l_o_p_uncached_global_scheduler_config_seed";
pub(super) const LOP_UNCACHED_FLAGS: &[FlagDef] =
    &[FlagDef::seed(LOP_UNCACHED_SEED, "67", "Seed mixed into the routing stream (tie-breaks).")];
/// The seed flag mixed into the routing stream (named by the router's entry).
pub(super) const RANKED_SEED: &str = "ranked_sticky_lop_uncached_global_scheduler_config_seed";
pub(super) const RANKED_FLAGS: &[FlagDef] = &[
    FlagDef::seed(RANKED_SEED, "67", "Seed mixed into the routing stream (tie-breaks)."),
    FlagDef::int(
        "ranked_sticky_lop_uncached_global_scheduler_config_top_k",
        "2",
        "A session stays on its replica while that replica is among the top_k with the lowest imbalance.",
    ),
];
/// The seed flag mixed into the routing stream (named by the router's entry).
pub(super) const TOLERANT_SEED: &str = "tolerant_sticky_lop_uncached_global_scheduler_config_seed";
pub(super) const TOLERANT_FLAGS: &[FlagDef] = &[
    FlagDef::seed(TOLERANT_SEED, "67", "Seed mixed into the routing stream (tie-breaks)."),
    FlagDef::float(
        "tolerant_sticky_lop_uncached_global_scheduler_config_tolerance_factor",
        "2.0",
        "A session stays on its replica unless that replica's imbalance exceeds this factor × the lowest imbalance.",
    ),
];

pub(super) fn parse_lop_uncached(_: &mut Params) -> Option<RouterFactory> {
    Some(Arc::new(|n| Box::new(LopUncached { load: UncachedLoad::new(n) })))
}

pub(super) fn parse_ranked(p: &mut Params) -> Option<RouterFactory> {
    let top_k = p.int_in("ranked_sticky_lop_uncached_global_scheduler_config_top_k", 1, 1 << 20) as usize;
    Some(Arc::new(move |n| {
        Box::new(RankedStickyLopUncached {
            top_k,
            sessions: FxHashMap::default(),
            load: UncachedLoad::new(n),
        })
    }))
}

pub(super) fn parse_tolerant(p: &mut Params) -> Option<RouterFactory> {
    let tolerance_factor =
        p.float_in("tolerant_sticky_lop_uncached_global_scheduler_config_tolerance_factor", 0.0, 1e9);
    Some(Arc::new(move |n| {
        Box::new(TolerantStickyLopUncached {
            tolerance_factor,
            sessions: FxHashMap::default(),
            load: UncachedLoad::new(n),
        })
    }))
}

/// Uncached prompt tokens awaiting their first prefill, per replica, with each request's
/// contribution remembered.
#[derive(Debug)]
pub struct UncachedLoad {
    load: TrackedLoad,
    /// Scratch: `u(r)` of the request being routed.
    costs: Vec<u64>,
    /// Scratch: the imbalance of placing it on each replica.
    imbalance: Vec<u64>,
}

impl UncachedLoad {
    /// Empty load state for `n` replicas.
    pub fn new(n: u32) -> UncachedLoad {
        UncachedLoad { load: TrackedLoad::new(n), costs: Vec::new(), imbalance: Vec::new() }
    }

    /// Uncached prompt tokens awaiting their first prefill, per replica.
    pub fn pending(&self) -> &[u64] {
        self.load.pending()
    }

    /// Fills the cost and imbalance of placing `request` on each replica; returns the
    /// imbalances.
    fn evaluate(&mut self, request: &Request, cluster: &dyn ClusterProbe) -> &[u64] {
        let prompt = u64::from(request.num_prefill_tokens);
        let pending = self.load.pending();
        self.costs.clear();
        self.costs.extend((0..pending.len() as u32).map(|r| {
            let cached =
                u64::from(cluster.cached_prefix_tokens(ReplicaId(r), request)).min(prompt.saturating_sub(1));
            prompt - cached
        }));
        self.imbalance.clear();
        for (r, cost) in self.costs.iter().enumerate() {
            let load = |i: usize| pending[i] + if i == r { *cost } else { 0 };
            let (mut lo, mut hi) = (u64::MAX, 0);
            for i in 0..pending.len() {
                lo = lo.min(load(i));
                hi = hi.max(load(i));
            }
            self.imbalance.push(hi - lo);
        }
        &self.imbalance
    }

    /// Places `request` on `replica`, adding its cost there.
    fn add(&mut self, request: &Request, replica: ReplicaId) {
        self.load.add(request.id, replica, self.costs[replica.0 as usize]);
    }

    /// Places `request` of a session on the replica `choose` picks from the imbalances and the
    /// replica the session is on (if any), and moves the session there.
    fn place_session(
        &mut self,
        sessions: &mut FxHashMap<u64, ReplicaId>,
        request: &Request,
        cluster: &dyn ClusterProbe,
        choose: impl FnOnce(&[u64], Option<ReplicaId>) -> ReplicaId,
    ) -> ReplicaId {
        let sticky = request.session_id.and_then(|s| sessions.get(&s).copied());
        let replica = choose(self.evaluate(request, cluster), sticky);
        if let Some(s) = request.session_id {
            sessions.insert(s, replica);
        }
        self.add(request, replica);
        replica
    }

    /// Removes what `request` added.
    fn remove(&mut self, request: &Request) {
        self.load.remove(request.id);
    }
}

/// Routes to the replica where adding the request's uncached prompt tokens leaves the
/// smallest load imbalance (max − min over replicas); ties broken at random.
#[derive(Debug)]
pub struct LopUncached {
    load: UncachedLoad,
}

impl Router for LopUncached {
    fn route(&mut self, request: &Request, cluster: &dyn ClusterProbe, rng: &mut StreamRng) -> ReplicaId {
        let replica = argmin_random_tie(self.load.evaluate(request, cluster), rng);
        self.load.add(request, replica);
        replica
    }

    fn on_prefill_end(&mut self, request: &Request) {
        self.load.remove(request);
    }
}

/// Keeps a session on its replica while that replica ranks among the `top_k` lowest
/// imbalances (as `lop_uncached` computes them, ties ordered at random); otherwise, and for a
/// new session, routes to the lowest-imbalance replica and moves the session there.
///
/// A request without a session id is routed as a new session that is not remembered.
#[derive(Debug)]
pub struct RankedStickyLopUncached {
    top_k: usize,
    sessions: FxHashMap<u64, ReplicaId>,
    load: UncachedLoad,
}

impl Router for RankedStickyLopUncached {
    fn route(&mut self, request: &Request, cluster: &dyn ClusterProbe, rng: &mut StreamRng) -> ReplicaId {
        let top_k = self.top_k;
        self.load.place_session(&mut self.sessions, request, cluster, |imbalance, sticky| {
            // Rank by (imbalance, random key): one key per replica, drawn in replica order.
            let mut ranked: Vec<(u64, f64, u32)> =
                imbalance.iter().enumerate().map(|(r, i)| (*i, unit_f64(rng), r as u32)).collect();
            ranked.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
            match sticky {
                Some(r) if ranked.iter().take(top_k).any(|x| x.2 == r.0) => r,
                _ => ReplicaId(ranked[0].2),
            }
        })
    }

    fn on_prefill_end(&mut self, request: &Request) {
        self.load.remove(request);
    }
}

/// Keeps a session on its replica unless that replica's imbalance exceeds `tolerance_factor`
/// × the lowest imbalance (any positive imbalance when the lowest is 0); otherwise, and for a
/// new session, routes to the lowest-imbalance replica (random tie-break) and moves the
/// session there.
///
/// A request without a session id is routed as a new session that is not remembered.
#[derive(Debug)]
pub struct TolerantStickyLopUncached {
    tolerance_factor: f64,
    sessions: FxHashMap<u64, ReplicaId>,
    load: UncachedLoad,
}

impl Router for TolerantStickyLopUncached {
    fn route(&mut self, request: &Request, cluster: &dyn ClusterProbe, rng: &mut StreamRng) -> ReplicaId {
        let tolerance_factor = self.tolerance_factor;
        self.load.place_session(&mut self.sessions, request, cluster, |imbalance, sticky| {
            let min = imbalance.iter().copied().min().unwrap_or(0);
            match sticky {
                Some(r) if imbalance[r.0 as usize] as f64 <= tolerance_factor * min as f64 => r,
                _ => argmin_random_tie(imbalance, rng),
            }
        })
    }

    fn on_prefill_end(&mut self, request: &Request) {
        self.load.remove(request);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::global::testkit::{FakeCluster, request, rng};

    fn routes(router: &mut dyn Router, cluster: &FakeCluster, requests: &[Request]) -> Vec<u32> {
        let mut rng = rng();
        requests.iter().map(|r| router.route(r, cluster, &mut rng).0).collect()
    }

    #[test]
    fn lop_uncached_minimises_the_imbalance_of_uncached_tokens() {
        let mut cluster = FakeCluster::empty(3);
        cluster.cache(1, 0, 60); // r0: costs [100, 40, 100] → imbalances [100, 40, 100]
        cluster.cache(0, 1, 10); // r1: costs [40, 50, 50] on loads [0, 40, 0] → [40, 90, 50]
        // r2: cost 30 on loads [40, 40, 0] → [70, 70, 10]
        let mut router = LopUncached { load: UncachedLoad::new(3) };
        let rs = [request(0, 100, None), request(1, 50, None), request(2, 30, None)];
        assert_eq!(routes(&mut router, &cluster, &rs), [1, 0, 2]);
        assert_eq!(router.load.pending(), [40, 40, 30]);
        router.on_prefill_end(&rs[0]);
        assert_eq!(router.load.pending(), [40, 0, 30], "exactly r0's uncached 40 tokens removed");
    }

    #[test]
    fn a_probe_never_counts_the_whole_prompt_as_cached() {
        let mut cluster = FakeCluster::empty(2);
        cluster.cache(0, 0, 500); // more than the prompt: capped at P − 1
        let mut router = LopUncached { load: UncachedLoad::new(2) };
        assert_eq!(routes(&mut router, &cluster, &[request(0, 100, None)]), [0]);
        assert_eq!(router.load.pending(), [1, 0]);
    }

    #[test]
    fn ranked_sticky_moves_a_session_that_falls_out_of_the_top_k() {
        let mut cluster = FakeCluster::empty(3);
        cluster.cache(0, 0, 50); // r0 (no session): → 0, loads [50, 0, 0]
        cluster.cache(1, 1, 10); // r1 (session 7, new): imbalances [150, 90, 100] → 1
        cluster.cache(1, 2, 19); // r2: imbalances [90, 91, 70]: ranking 2, 0, 1 → moves to 2
        // r3: imbalances [70, 90, 50]: ranking 2, 0, 1 → stays on 2
        let mut router =
            RankedStickyLopUncached { top_k: 2, sessions: FxHashMap::default(), load: UncachedLoad::new(3) };
        let rs = [
            request(0, 100, None),
            request(1, 100, Some(7)),
            request(2, 20, Some(7)),
            request(3, 20, Some(7)),
        ];
        assert_eq!(routes(&mut router, &cluster, &rs), [0, 1, 2, 2]);
        assert_eq!(router.sessions.get(&7), Some(&ReplicaId(2)));
        // With top_k = 3 every replica qualifies: the session never moves once placed.
        let mut router =
            RankedStickyLopUncached { top_k: 3, sessions: FxHashMap::default(), load: UncachedLoad::new(3) };
        assert_eq!(routes(&mut router, &cluster, &rs), [0, 1, 1, 1]);
    }

    #[test]
    fn tolerant_sticky_moves_a_session_beyond_the_tolerance() {
        let mut cluster = FakeCluster::empty(2);
        cluster.cache(1, 0, 50); // r0 (no session): imbalances [100, 50] → 1, loads [0, 50]
        // r1 (session 7, new): imbalances [0, 100] → 0, loads [50, 50]
        cluster.cache(0, 2, 29); // r2: imbalances [1, 30]; sticky 0 has 1 ≤ 2 × 1 → stays
        cluster.cache(1, 3, 9); // r3 costs [60, 51]
        let mut router = TolerantStickyLopUncached {
            tolerance_factor: 2.0,
            sessions: FxHashMap::default(),
            load: UncachedLoad::new(2),
        };
        let mut rng = rng();
        let rs = [
            request(0, 100, None),
            request(1, 50, Some(7)),
            request(2, 30, Some(7)),
            request(3, 60, Some(7)),
            request(4, 10, Some(7)),
        ];
        let mut route =
            |router: &mut TolerantStickyLopUncached, r: &Request| router.route(r, &cluster, &mut rng).0;
        assert_eq!(
            [route(&mut router, &rs[0]), route(&mut router, &rs[1]), route(&mut router, &rs[2])],
            [1, 0, 0]
        );
        router.on_prefill_end(&rs[0]); // loads [51, 0]
        // r3: imbalances [111, 0]: the lowest is 0, so any positive imbalance moves the session.
        assert_eq!(route(&mut router, &rs[3]), 1);
        // r4: imbalances [10, 10]: within tolerance, stays with the session on 1.
        assert_eq!(route(&mut router, &rs[4]), 1);
        assert_eq!(router.load.pending(), [51, 61]);
    }
}
