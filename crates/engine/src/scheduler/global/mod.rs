//! Global schedulers (routers): each arriving request is sent to one replica. Each policy
//! implements [`Router`] and is registered in [`ROUTERS`].

mod least_outstanding;
mod lop_variants;
mod round_robin;
mod sticky;
mod sticky_variants;
#[cfg(test)]
mod testkit;
mod uncached;

pub use least_outstanding::{LeastOutstandingPrefill, LeastOutstandingRequests};
pub use lop_variants::{LopBatchEnd, LopBinary};
pub use round_robin::{RandomRouter, RoundRobin};
pub use sticky::Sticky;
pub use sticky_variants::{StickyLor, StickyRoundRobin};
pub use uncached::{LopUncached, RankedStickyLopUncached, TolerantStickyLopUncached, UncachedLoad};

use std::sync::Arc;

use crate::batch::Batch;
use crate::config::{FlagDef, Params};
use crate::request::{ReplicaId, Request, RequestArena};
use crate::rng::StreamRng;

/// What a router can ask about the cluster while routing.
pub trait ClusterProbe {
    /// Replicas in the cluster.
    fn num_replicas(&self) -> u32;
    /// Tokens of `request`'s prompt cached on `replica` now.
    fn cached_prefix_tokens(&self, replica: ReplicaId, request: &Request) -> u32;
}

/// Routes requests to replicas, keeping whatever load state its rule needs.
pub trait Router {
    /// Picks the replica for `request`.
    fn route(&mut self, request: &Request, cluster: &dyn ClusterProbe, rng: &mut StreamRng) -> ReplicaId;
    /// `request`'s first prefill completed (or it was refused before completing one).
    fn on_prefill_end(&mut self, _request: &Request) {}
    /// `request` finished (completed or refused).
    fn on_request_end(&mut self, _request: &Request) {}
    /// A batch finished on `replica`.
    fn on_batch_end(&mut self, _replica: ReplicaId, _batch: &Batch, _requests: &RequestArena) {}
}

/// Builds a router for a cluster of `n` replicas.
pub type RouterFactory = Arc<dyn Fn(u32) -> Box<dyn Router> + Send + Sync>;

/// A registered router.
pub struct RouterEntry {
    /// Its `--global_scheduler_config_type` name.
    pub name: &'static str,
    /// The rule in one sentence; empty without the engine's `help-texts`
    /// feature ([`crate::config::help_text`]).
    pub summary: &'static str,
    /// Its own flags.
    pub flags: &'static [FlagDef],
    /// Its seed flag (one of `flags`), whose value is mixed into the routing stream.
    pub seed_flag: Option<&'static str>,
    /// Whether it needs each request's `session_id`.
    pub needs_sessions: bool,
    /// Reads its flags; `None` after recording an error.
    pub parse: fn(&mut Params) -> Option<RouterFactory>,
}

/// Every router, by name.
pub static ROUTERS: &[RouterEntry] = &[
    RouterEntry {
        name: "round_robin",
        summary: crate::config::help_text("Replicas in turn: 0, 1, ..., n−1, 0, ..."),
        flags: round_robin::ROUND_ROBIN_FLAGS,
        seed_flag: Some(round_robin::ROUND_ROBIN_SEED),
        needs_sessions: false,
        parse: round_robin::parse_round_robin,
    },
    RouterEntry {
        name: "random",
        summary: crate::config::help_text("A uniformly random replica."),
        flags: round_robin::RANDOM_FLAGS,
        seed_flag: Some(round_robin::RANDOM_SEED),
        needs_sessions: false,
        parse: round_robin::parse_random,
    },
    RouterEntry {
        name: "lor",
        summary: crate::config::help_text(
            "Least outstanding requests: the replica with the fewest routed, unfinished requests (random tie-break).",
        ),
        flags: least_outstanding::LOR_FLAGS,
        seed_flag: Some(least_outstanding::LOR_SEED),
        needs_sessions: false,
        parse: least_outstanding::parse_lor,
    },
    RouterEntry {
        name: "lop",
        summary: crate::config::help_text(
            "Least outstanding prefill: the replica with the fewest prompt tokens awaiting their first prefill (random tie-break).",
        ),
        flags: least_outstanding::LOP_FLAGS,
        seed_flag: Some(least_outstanding::LOP_SEED),
        needs_sessions: false,
        parse: least_outstanding::parse_lop,
    },
    RouterEntry {
        name: "sticky",
        summary: crate::config::help_text(
            "Session affinity: a session's first request goes to the least-outstanding-prefill replica, its later requests follow it (needs session_id).",
        ),
        flags: sticky::STICKY_FLAGS,
        seed_flag: Some(sticky::STICKY_SEED),
        needs_sessions: true,
        parse: sticky::parse_sticky,
    },
    RouterEntry {
        name: "lop_binary",
        summary: crate::config::help_text(
            "The replica with the fewest requests awaiting their first prefill (random tie-break).",
        ),
        flags: lop_variants::LOP_BINARY_FLAGS,
        seed_flag: Some(lop_variants::LOP_BINARY_SEED),
        needs_sessions: false,
        parse: lop_variants::parse_lop_binary,
    },
    RouterEntry {
        name: "lop_batch_end",
        summary: crate::config::help_text(
            "The replica with the fewest prompt tokens still to prefill, updated as each batch ends (random tie-break).",
        ),
        flags: lop_variants::LOP_BATCH_END_FLAGS,
        seed_flag: Some(lop_variants::LOP_BATCH_END_SEED),
        needs_sessions: false,
        parse: lop_variants::parse_lop_batch_end,
    },
    RouterEntry {
        name: "lop_uncached",
        summary: crate::config::help_text(
            "The replica where the request's uncached prompt tokens (its prefix cached there excluded) leave the smallest load imbalance (random tie-break).",
        ),
        flags: uncached::LOP_UNCACHED_FLAGS,
        seed_flag: Some(uncached::LOP_UNCACHED_SEED),
        needs_sessions: false,
        parse: uncached::parse_lop_uncached,
    },
    RouterEntry {
        name: "sticky_round_robin",
        summary: crate::config::help_text(
            "Session affinity: new sessions go to replicas in turn, later requests follow their session (needs session_id).",
        ),
        flags: sticky_variants::STICKY_ROUND_ROBIN_FLAGS,
        seed_flag: Some(sticky_variants::STICKY_ROUND_ROBIN_SEED),
        needs_sessions: true,
        parse: sticky_variants::parse_sticky_round_robin,
    },
    RouterEntry {
        name: "sticky_lor",
        summary: crate::config::help_text(
            "Session affinity: new sessions go to the replica with the fewest outstanding requests, later requests follow their session (needs session_id).",
        ),
        flags: sticky_variants::STICKY_LOR_FLAGS,
        seed_flag: Some(sticky_variants::STICKY_LOR_SEED),
        needs_sessions: true,
        parse: sticky_variants::parse_sticky_lor,
    },
    RouterEntry {
        name: "ranked_sticky_lop_uncached",
        summary: crate::config::help_text(
            "Session affinity while the session's replica ranks in the top_k by lop_uncached imbalance; otherwise the best replica, and the session moves (needs session_id).",
        ),
        flags: uncached::RANKED_FLAGS,
        seed_flag: Some(uncached::RANKED_SEED),
        needs_sessions: true,
        parse: uncached::parse_ranked,
    },
    RouterEntry {
        name: "tolerant_sticky_lop_uncached",
        summary: crate::config::help_text(
            "Session affinity unless the session's replica has more than tolerance_factor × the lowest lop_uncached imbalance; then the best replica, and the session moves (needs session_id).",
        ),
        flags: uncached::TOLERANT_FLAGS,
        seed_flag: Some(uncached::TOLERANT_SEED),
        needs_sessions: true,
        parse: uncached::parse_tolerant,
    },
];

/// Picks uniformly among the replicas whose load equals the minimum; `loads` in replica order.
pub(crate) fn argmin_random_tie<T: PartialOrd + Copy>(loads: &[T], rng: &mut StreamRng) -> ReplicaId {
    use rand::RngExt;
    let mut min = loads[0];
    for &l in &loads[1..] {
        if l < min {
            min = l;
        }
    }
    let tied = loads.iter().filter(|l| **l == min).count();
    let pick = if tied == 1 { 0 } else { rng.random_range(0..tied) };
    let index = loads.iter().enumerate().filter(|(_, l)| **l == min).nth(pick).map(|(i, _)| i).unwrap_or(0);
    ReplicaId(index as u32)
}
