//! Workloads: where requests come from. A request generator ([`REQUEST_GENERATORS`]) yields
//! requests lazily in arrival order; synthetic and closed-loop generators combine a length
//! generator ([`LENGTH_GENERATORS`]) with arrival intervals ([`INTERVAL_GENERATORS`]) or with
//! the completion of earlier requests.

mod closed_loop;
mod interval;
mod length;
mod replay;
mod synthetic;

/// The trace readers, which moved to [`crate::trace`]; this path is kept for the page and the
/// worker, which read traces through it.
pub use crate::trace;

use std::sync::Arc;

use crate::config::{FlagDef, Params};
use crate::rng::{SeedTree, splitmix64};
use crate::time::SimTime;
use crate::trace::BlockHashes;

pub use interval::{INTERVAL_GENERATORS, IntervalEntry, IntervalGenerator};
pub use length::{LENGTH_GENERATORS, LengthEntry, LengthGenerator, LengthSample};

/// A request as a workload produces it.
#[derive(Clone, Debug, PartialEq)]
pub struct NewRequest {
    /// Arrival instant: when the client sent it. A closed-loop client's overhead (HTTP,
    /// tokenisation) makes it reach the scheduler later, at the source's `peek_time`.
    pub arrived_at: SimTime,
    /// Prompt tokens (≥ 1).
    pub num_prefill_tokens: u32,
    /// Output tokens (≥ 1).
    pub num_decode_tokens: u32,
    /// Session id, if the workload has sessions.
    pub session_id: Option<u64>,
    /// Prefix block identities, if the workload has them.
    pub block_hashes: Option<BlockHashes>,
    /// The closed-loop client that sends it.
    pub client: Option<u32>,
    /// A benchmark's warm-up request: simulated, left out of the per-request statistics.
    pub warmup: bool,
}

/// Yields requests lazily, in arrival order.
pub trait RequestSource {
    /// The instant the next request reaches the scheduler, if any is left (its arrival, or
    /// later by a closed-loop client's overhead).
    fn peek_time(&self) -> Option<SimTime>;
    /// Takes the next request.
    fn next(&mut self) -> Option<NewRequest>;
    /// A request of `client` finished (completed or refused) at `now`; closed-loop clients
    /// send their next request then.
    fn on_request_done(&mut self, _client: Option<u32>, _now: SimTime) {}
}

/// Builds a workload's request source from the run's seed tree.
pub type SourceFactory = Arc<dyn Fn(&SeedTree) -> Box<dyn RequestSource> + Send + Sync>;

/// A validated workload: how to build its source, and what its requests carry.
#[derive(Clone)]
pub struct WorkloadPlan {
    /// Builds the request source.
    pub build: SourceFactory,
    /// Requests carry session ids.
    pub has_sessions: bool,
    /// Requests carry block hashes.
    pub has_block_hashes: bool,
    /// Requests the workload will produce, when known in advance.
    pub expected_requests: Option<u64>,
    /// Requests it is expected to produce (the count, or what a duration holds at the mean
    /// pace), at most [`crate::limits::MAX_REQUESTS`]: the memory estimate's.
    pub estimated_requests: u64,
    /// The flag that bounds how many requests it sends, named when they would not fit in memory.
    pub count_flag: &'static str,
}

/// A validated workload (see [`WorkloadPlan`]).
pub type WorkloadFactory = WorkloadPlan;

/// A registered request generator.
pub struct RequestGeneratorEntry {
    /// Its `--request_generator_config_type` name.
    pub name: &'static str,
    /// What it does, in one sentence; empty without the engine's `help-texts`
    /// feature ([`crate::config::help_text`]).
    pub summary: &'static str,
    /// Its own flags.
    pub flags: &'static [FlagDef],
    /// Reads its flags (and its sub-generators'); `None` after recording an error.
    pub parse: fn(&mut Params) -> Option<WorkloadPlan>,
}

/// Every request generator, by name.
pub static REQUEST_GENERATORS: &[RequestGeneratorEntry] = &[
    RequestGeneratorEntry {
        name: "synthetic",
        summary: crate::config::help_text(
            "Lengths from a length generator, arrivals from an interval generator.",
        ),
        flags: synthetic::FLAGS,
        parse: synthetic::parse,
    },
    RequestGeneratorEntry {
        name: "trace",
        summary: crate::config::help_text("Replays a trace file: its arrival times and lengths."),
        flags: replay::FLAGS,
        parse: replay::parse,
    },
    RequestGeneratorEntry {
        name: "closed_loop",
        summary: crate::config::help_text(
            "N concurrent clients, each sending its next request when the previous one finishes (plus think time).",
        ),
        flags: closed_loop::FLAGS,
        parse: closed_loop::parse,
    },
];

/// Re-expresses trace block ids at the engine's block size `block_size`.
///
/// Ids finer than the engine's blocks are folded (an engine block is identified by all the ids
/// it covers); coarser ids are split (engine block j of trace block i gets a derived id).
/// Returns `None` when the two sizes are not multiples of each other. At most `max_ids` ids
/// are made — the request's full blocks: no block past its tokens is ever looked up, and a
/// trace's coarse ids split into fine blocks would otherwise ask for memory in proportion to
/// the trace's block size, not the request's.
pub fn hashes_for_block_size(hashes: &BlockHashes, block_size: u32, max_ids: usize) -> Option<Arc<[u64]>> {
    let g = hashes.tokens_per_id;
    if g == block_size {
        if hashes.ids.len() <= max_ids {
            return Some(hashes.ids.clone());
        }
        return Some(hashes.ids[..max_ids].into());
    }
    if g > block_size && g.is_multiple_of(block_size) {
        let k = u64::from(g / block_size);
        let ids: Vec<u64> = hashes
            .ids
            .iter()
            .flat_map(|&id| (0..k).map(move |j| splitmix64(splitmix64(id) ^ (j + 1))))
            .take(max_ids)
            .collect();
        return Some(ids.into());
    }
    if block_size > g && block_size.is_multiple_of(g) {
        let k = (block_size / g) as usize;
        let ids: Vec<u64> = hashes
            .ids
            .chunks_exact(k)
            .map(|c| c.iter().fold(0x5eed_u64, |h, id| splitmix64(h ^ *id)))
            .take(max_ids)
            .collect();
        return Some(ids.into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_hashes_convert_between_granularities() {
        let h = BlockHashes { tokens_per_id: 512, ids: Arc::from(&[7u64, 8][..]) };
        let fine = hashes_for_block_size(&h, 16, usize::MAX).unwrap();
        assert_eq!(fine.len(), 64);
        let other = BlockHashes { tokens_per_id: 512, ids: Arc::from(&[7u64, 9][..]) };
        let fine2 = hashes_for_block_size(&other, 16, usize::MAX).unwrap();
        assert_eq!(fine[..32], fine2[..32], "shared first block keeps shared ids");
        assert_ne!(fine[32], fine2[32]);
        let h16 = BlockHashes { tokens_per_id: 16, ids: Arc::from(&[1u64, 2, 3, 4, 5][..]) };
        assert_eq!(
            hashes_for_block_size(&h16, 32, usize::MAX).unwrap().len(),
            2,
            "a trailing half block is not a full block"
        );
        assert_eq!(hashes_for_block_size(&h16, 16, usize::MAX).unwrap(), h16.ids);
        assert!(
            hashes_for_block_size(&BlockHashes { tokens_per_id: 24, ids: Arc::from(&[1u64][..]) }, 16, 9)
                .is_none()
        );
    }

    #[test]
    fn block_hashes_stop_at_the_request_s_blocks() {
        // One id of 2^30 tokens split into 1-token blocks would be 2^30 ids (8 GiB).
        let huge = BlockHashes { tokens_per_id: 1 << 30, ids: Arc::from(&[7u64][..]) };
        let ids = hashes_for_block_size(&huge, 1, 110).unwrap();
        assert_eq!(ids[..], hashes_for_block_size(&huge, 1, 200).unwrap()[..110], "the same ids, cut short");
        assert_eq!(ids.len(), 110);
        let h16 = BlockHashes { tokens_per_id: 16, ids: Arc::from(&[1u64, 2, 3, 4, 5][..]) };
        assert_eq!(hashes_for_block_size(&h16, 16, 3).unwrap()[..], [1, 2, 3]);
        assert_eq!(hashes_for_block_size(&h16, 32, 1).unwrap().len(), 1);
    }
}
