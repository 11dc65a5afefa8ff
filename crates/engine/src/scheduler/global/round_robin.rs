//! `round_robin` and `random`: routers that ignore load.

use std::sync::Arc;

use super::{ClusterProbe, Router, RouterFactory};
use crate::config::{FlagDef, Params};
use crate::request::{ReplicaId, Request};
use crate::rng::StreamRng;

/// The seed flag mixed into the routing stream (named by the router's entry).
pub(super) const ROUND_ROBIN_SEED: &str = "round_robin_global_scheduler_config_seed";
pub(super) const ROUND_ROBIN_FLAGS: &[FlagDef] =
    &[FlagDef::seed(ROUND_ROBIN_SEED, "67", "Seed mixed into the routing stream (Vidur's tie-break seed).")];
/// The seed flag mixed into the routing stream (named by the router's entry).
pub(super) const RANDOM_SEED: &str = "random_global_scheduler_config_seed";
pub(super) const RANDOM_FLAGS: &[FlagDef] =
    &[FlagDef::seed(RANDOM_SEED, "67", "Seed mixed into the routing stream.")];

pub(super) fn parse_round_robin(_: &mut Params) -> Option<RouterFactory> {
    Some(Arc::new(|_| Box::new(RoundRobin { next: 0 })))
}

pub(super) fn parse_random(_: &mut Params) -> Option<RouterFactory> {
    Some(Arc::new(|_| Box::new(RandomRouter)))
}

/// Sends request k to replica k mod n.
#[derive(Debug)]
pub struct RoundRobin {
    next: u32,
}

impl Router for RoundRobin {
    fn route(&mut self, _: &Request, cluster: &dyn ClusterProbe, _: &mut StreamRng) -> ReplicaId {
        let r = self.next % cluster.num_replicas();
        self.next = self.next.wrapping_add(1);
        ReplicaId(r)
    }
}

/// Sends each request to a uniformly random replica.
#[derive(Debug)]
pub struct RandomRouter;

impl Router for RandomRouter {
    fn route(&mut self, _: &Request, cluster: &dyn ClusterProbe, rng: &mut StreamRng) -> ReplicaId {
        use rand::RngExt;
        ReplicaId(rng.random_range(0..cluster.num_replicas()))
    }
}
