//! The attention-DP ranks of a replica: which rank serves each request. Under attention DP
//! every rank of TensorRT-LLM and SGLang runs its own scheduler over its own requests (its own
//! budgets and, in SGLang, its own KV pool), so a request is given to one rank when it reaches
//! the replica and keeps it until it leaves. Engines differ in the dispatch rule
//! ([`RankDispatch`]); docs/policies.md cites each.

use std::collections::{BTreeMap, BTreeSet};

use crate::request::RequestId;

/// How a new request picks its rank.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RankDispatch {
    /// The rank with the fewest active requests, the lowest index among equals (TensorRT-LLM's
    /// `_balance_requests_across_ranks`, which prefers ranks below the even share).
    FewestActive,
    /// Ranks in turn (SGLang's `round_robin`: its default outside a prefill server).
    RoundRobin,
    /// The request's bootstrap room modulo the ranks (SGLang's `follow_bootstrap_room`, a
    /// prefill server's default): the router draws the room at random per request, so the
    /// ranks are drawn uniformly and independently; here from a fixed hash of the request id,
    /// deterministic per run.
    BootstrapRoom,
    /// The lowest `4 × waiting + running` of the counts the front end last heard of, the lowest
    /// index among equals, each pick counting as one more waiting request on its rank until the
    /// next counts arrive (vLLM's `DPLBAsyncMPClient.get_core_engine_for_request`; the counts
    /// come from `DpRanks::publish`).
    LoadScore,
}

/// The requests of each attention-DP rank.
#[derive(Clone, Debug)]
pub struct DpRanks {
    dispatch: RankDispatch,
    /// Active (assigned, not released) requests per rank.
    loads: Vec<u32>,
    /// Each assigned request's rank.
    rank_of: BTreeMap<RequestId, usize>,
    /// The next rank in turn (round robin).
    turn: usize,
    /// Per rank, the (waiting, running) counts the dispatcher sees ([`RankDispatch::LoadScore`]).
    counts: Vec<(u32, u32)>,
    /// The requests picked since the last [`DpRanks::publish`]: their +1 waiting still counts
    /// in `counts`.
    picked: BTreeSet<RequestId>,
}

impl DpRanks {
    /// `ranks` ranks (at least one) dispatching by `dispatch`.
    pub fn new(ranks: u32, dispatch: RankDispatch) -> DpRanks {
        let n = ranks.max(1) as usize;
        DpRanks {
            dispatch,
            loads: vec![0; n],
            rank_of: BTreeMap::new(),
            turn: 0,
            counts: vec![(0, 0); n],
            picked: BTreeSet::new(),
        }
    }

    /// New (waiting, running) counts per rank for [`RankDispatch::LoadScore`]: they replace
    /// the dispatcher's own, its picks since the last counts included (vLLM's front end
    /// replaces `lb_engines` wholesale when the coordinator publishes).
    pub fn publish(&mut self, counts: impl IntoIterator<Item = (u32, u32)>) {
        for (slot, count) in self.counts.iter_mut().zip(counts) {
            *slot = count;
        }
        self.picked.clear();
    }

    /// The number of ranks.
    pub fn num_ranks(&self) -> usize {
        self.loads.len()
    }

    /// The rank `id` would get if it were assigned now (its own if it has one).
    pub fn peek(&self, id: RequestId) -> usize {
        if let Some(&rank) = self.rank_of.get(&id) {
            return rank;
        }
        let n = self.loads.len();
        match self.dispatch {
            RankDispatch::FewestActive => (0..n).min_by_key(|&r| (self.loads[r], r)).unwrap_or(0),
            RankDispatch::RoundRobin => self.turn % n,
            RankDispatch::BootstrapRoom => (mix64(u64::from(id.0)) % n as u64) as usize,
            RankDispatch::LoadScore => (0..n)
                .min_by_key(|&r| (4 * u64::from(self.counts[r].0) + u64::from(self.counts[r].1), r))
                .unwrap_or(0),
        }
    }

    /// `id`'s rank, assigning one the first time.
    pub fn assign(&mut self, id: RequestId) -> usize {
        if let Some(&rank) = self.rank_of.get(&id) {
            return rank;
        }
        let rank = self.peek(id);
        match self.dispatch {
            RankDispatch::RoundRobin => self.turn = (rank + 1) % self.loads.len(),
            // "Increment local waiting count for better balancing between stats updates".
            RankDispatch::LoadScore => {
                self.counts[rank].0 += 1;
                self.picked.insert(id);
            }
            RankDispatch::FewestActive | RankDispatch::BootstrapRoom => {}
        }
        self.loads[rank] += 1;
        self.rank_of.insert(id, rank);
        rank
    }

    /// Whether `id` may join a rank: it has one already (its load counts it), or some rank
    /// holds fewer than `cap` requests (TensorRT-LLM's per-rank `max_batch_size`; a paused
    /// request keeps its rank's place).
    pub fn has_room_for(&self, id: RequestId, cap: u32) -> bool {
        self.rank_of.contains_key(&id) || self.loads.iter().any(|&load| load < cap)
    }

    /// `id`'s rank (0 if it has none yet).
    pub fn of(&self, id: RequestId) -> usize {
        self.rank_of.get(&id).copied().unwrap_or(0)
    }

    /// `id`'s rank, if it has one.
    pub fn get(&self, id: RequestId) -> Option<usize> {
        self.rank_of.get(&id).copied()
    }

    /// `id` left the replica (finished or handed off). Its pick stays in the dispatcher's own
    /// counts until the next publication (vLLM's front end only ever adds to them).
    pub fn release(&mut self, id: RequestId) {
        self.picked.remove(&id);
        if let Some(rank) = self.rank_of.remove(&id) {
            self.loads[rank] -= 1;
        }
    }

    /// `id` was refused or evicted by its rank: released, and its own +1 waiting taken back
    /// from the dispatcher's counts when no publication has replaced them since the pick.
    pub fn unassign(&mut self, id: RequestId) {
        if self.picked.remove(&id)
            && let Some(&rank) = self.rank_of.get(&id)
        {
            self.counts[rank].0 = self.counts[rank].0.saturating_sub(1);
        }
        self.release(id);
    }
}

/// SplitMix64's finaliser: spreads consecutive ids over the ranks like independent draws.
fn mix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fewest_active_fills_the_least_loaded_rank_and_a_release_frees_its_place() {
        let mut ranks = DpRanks::new(2, RankDispatch::FewestActive);
        assert_eq!([0, 1, 2].map(|i| ranks.assign(RequestId(i))), [0, 1, 0]);
        assert_eq!(ranks.assign(RequestId(1)), 1, "a request keeps its rank");
        ranks.release(RequestId(1));
        ranks.release(RequestId(0));
        assert_eq!(ranks.assign(RequestId(3)), 1, "rank 0 still holds request 2");
        assert!(!ranks.has_room_for(RequestId(4), 1));
        assert!(ranks.has_room_for(RequestId(3), 1), "an assigned request has its place");
    }

    #[test]
    fn round_robin_takes_the_ranks_in_turn_whatever_their_load() {
        let mut ranks = DpRanks::new(3, RankDispatch::RoundRobin);
        assert_eq!([0, 1, 2, 3].map(|i| ranks.assign(RequestId(i))), [0, 1, 2, 0]);
        ranks.release(RequestId(1));
        assert_eq!(ranks.peek(RequestId(9)), 1);
        assert_eq!(ranks.assign(RequestId(9)), 1);
        assert_eq!(ranks.of(RequestId(9)), 1);
    }

    #[test]
    fn load_score_picks_the_lowest_four_waiting_plus_running_and_counts_its_own_picks() {
        let mut ranks = DpRanks::new(3, RankDispatch::LoadScore);
        // Nothing published: every score 0, ties to the lowest index; each pick adds a waiting
        // request to its rank's score (4), so picks go round the ranks.
        assert_eq!([0, 1, 2, 3].map(|i| ranks.assign(RequestId(i))), [0, 1, 2, 0]);
        // Published: rank 0 has 1 waiting + 0 running (4), rank 1 0 + 5 (5), rank 2 0 + 3 (3).
        ranks.publish([(1, 0), (0, 5), (0, 3)]);
        assert_eq!(ranks.peek(RequestId(10)), 2);
        assert_eq!(ranks.assign(RequestId(10)), 2, "3 is lowest");
        // Rank 2 now scores 7: rank 0 (4) is next, then rank 1 (5) over rank 0's 8.
        assert_eq!(ranks.assign(RequestId(11)), 0);
        assert_eq!(ranks.assign(RequestId(12)), 1);
        // Waiting weighs four times running: 1 waiting (4) loses to 3 running (3).
        ranks.publish([(1, 0), (0, 3), (0, 9)]);
        assert_eq!(ranks.peek(RequestId(13)), 1);
        // Equal scores: the lowest index.
        ranks.publish([(0, 4), (1, 0), (0, 4)]);
        assert_eq!(ranks.peek(RequestId(14)), 0);
    }

    #[test]
    fn an_unassigned_pick_leaves_the_counts_unless_they_were_published_since() {
        let mut ranks = DpRanks::new(2, RankDispatch::LoadScore);
        assert_eq!(ranks.assign(RequestId(0)), 0);
        ranks.unassign(RequestId(0));
        assert_eq!(ranks.peek(RequestId(1)), 0, "rank 0's +1 went with its refused request");
        assert_eq!(ranks.assign(RequestId(1)), 0);
        ranks.publish([(0, 0), (0, 2)]);
        ranks.unassign(RequestId(1));
        assert_eq!(ranks.peek(RequestId(2)), 0, "published counts are left alone");
        assert_eq!(ranks.assign(RequestId(2)), 0);
        ranks.release(RequestId(2));
        assert_eq!(ranks.peek(RequestId(3)), 1, "a finished request's pick stays counted (4 > 2)");
    }

    #[test]
    fn bootstrap_rooms_spread_requests_over_every_rank_but_not_in_turn() {
        let mut ranks = DpRanks::new(8, RankDispatch::BootstrapRoom);
        let picks: Vec<usize> = (0..800).map(|i| ranks.assign(RequestId(i))).collect();
        let mut counts = [0u32; 8];
        for &p in &picks {
            counts[p] += 1;
        }
        assert!(counts.iter().all(|&c| (60..=140).contains(&c)), "{counts:?}");
        assert_ne!(picks[..8], [0, 1, 2, 3, 4, 5, 6, 7], "independent draws, not a turn");
        let again = DpRanks::new(8, RankDispatch::BootstrapRoom);
        assert_eq!(again.peek(RequestId(5)), picks[5], "deterministic");
    }
}
