//! Decode routers: which decode replica receives a prefilled request's KV cache.

/// What a decode router sees of one decode replica.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeTarget {
    /// Requests waiting or running there.
    pub pending: u64,
    /// Transfers headed there that wait for KV room.
    pub queued: u64,
    /// Free KV blocks there.
    pub free_blocks: u64,
    /// KV blocks the queued transfers will need.
    pub queued_blocks: u64,
}

/// The decode router, from `--disaggregation_config_decode_router`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeRouterKind {
    /// Fewest requests running, waiting or queued for KV room.
    LeastLoaded,
    /// Most free KV blocks after the queued transfers.
    MostKvFree,
    /// In turn.
    RoundRobin,
}

impl DecodeRouterKind {
    /// The router of a flag value.
    pub fn parse(name: &str) -> Option<DecodeRouterKind> {
        match name {
            "least_loaded" => Some(DecodeRouterKind::LeastLoaded),
            "most_kv_free" => Some(DecodeRouterKind::MostKvFree),
            "round_robin" => Some(DecodeRouterKind::RoundRobin),
            _ => None,
        }
    }
}

/// The decode replica (index into `targets`) for the next request; `turn` counts the requests
/// routed so far (round robin). Ties go to the lowest index, so the choice is deterministic.
pub fn pick_decode_replica(kind: DecodeRouterKind, targets: &[DecodeTarget], turn: u64) -> usize {
    debug_assert!(!targets.is_empty());
    match kind {
        DecodeRouterKind::RoundRobin => (turn % targets.len() as u64) as usize,
        DecodeRouterKind::LeastLoaded => {
            (0..targets.len()).min_by_key(|&i| (targets[i].pending + targets[i].queued, i)).unwrap_or(0)
        }
        DecodeRouterKind::MostKvFree => (0..targets.len())
            .max_by_key(|&i| {
                let t = targets[i];
                (t.free_blocks as i128 - t.queued_blocks as i128, std::cmp::Reverse(i))
            })
            .unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(pending: u64, queued: u64, free_blocks: u64, queued_blocks: u64) -> DecodeTarget {
        DecodeTarget { pending, queued, free_blocks, queued_blocks }
    }

    #[test]
    fn each_router_picks_by_its_rule_and_ties_go_to_the_lowest_replica() {
        let targets = [target(3, 0, 10, 0), target(1, 1, 50, 45), target(2, 0, 20, 0), target(1, 1, 5, 0)];
        assert_eq!(
            pick_decode_replica(DecodeRouterKind::LeastLoaded, &targets, 0),
            1,
            "2 = 1 + 1 vs 2: lowest"
        );
        // Free after queued: 10, 5, 20, 5.
        assert_eq!(pick_decode_replica(DecodeRouterKind::MostKvFree, &targets, 0), 2);
        assert_eq!(pick_decode_replica(DecodeRouterKind::RoundRobin, &targets, 6), 2);
        let equal = [target(1, 0, 8, 0); 3];
        assert_eq!(pick_decode_replica(DecodeRouterKind::MostKvFree, &equal, 0), 0);
        assert_eq!(pick_decode_replica(DecodeRouterKind::LeastLoaded, &equal, 0), 0);
    }
}
