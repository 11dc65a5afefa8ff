//! A trace at a glance (size, duration, length statistics, sessions, prefix reuse), shown after an upload.

use rustc_hash::{FxHashMap, FxHashSet};

use super::{Trace, TraceFormat};
use crate::stats::{Stats, exact_stats};

/// What a trace holds, in numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceSummary {
    /// The file it came from.
    pub name: String,
    /// The format it was read as.
    pub format: TraceFormat,
    /// Requests (rows).
    pub num_requests: u64,
    /// Seconds from the earliest to the latest arrival; `None` without arrival times.
    pub duration_s: Option<f64>,
    /// Prompt lengths in tokens.
    pub input_tokens: Stats,
    /// Output lengths in tokens.
    pub output_tokens: Stats,
    /// Distinct session ids; `None` when the trace has none.
    pub num_sessions: Option<u64>,
    /// Fraction of prompt blocks whose hash id already appeared in an earlier request (an
    /// upper bound on the prefix-cache hit rate); `None` without block hashes.
    pub prefix_reuse_share: Option<f64>,
    /// The reader's warnings.
    pub warnings: Vec<String>,
}

/// Summarises `trace`.
pub fn summarize(trace: &Trace) -> TraceSummary {
    let mut input: Vec<f64> = trace.rows.iter().map(|r| f64::from(r.num_prefill_tokens)).collect();
    let mut output: Vec<f64> = trace.rows.iter().map(|r| f64::from(r.num_decode_tokens)).collect();
    let duration_s = trace.has_arrivals().then(|| {
        let arrivals = trace.rows.iter().filter_map(|r| r.arrived_at);
        let (min, max) =
            arrivals.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), t| (lo.min(t), hi.max(t)));
        max - min
    });
    let num_sessions = trace.has_sessions().then(|| {
        let sessions: FxHashSet<u64> = trace.rows.iter().filter_map(|r| r.session_id).collect();
        sessions.len() as u64
    });
    TraceSummary {
        name: trace.name.clone(),
        format: trace.format,
        num_requests: trace.rows.len() as u64,
        duration_s,
        input_tokens: exact_stats(&mut input),
        output_tokens: exact_stats(&mut output),
        num_sessions,
        prefix_reuse_share: prefix_reuse_share(trace),
        warnings: trace.warnings.clone(),
    }
}

/// Of all prompt blocks, the share whose id some earlier request already had (among its
/// prompt or output blocks). A prompt's blocks are the ids covering its tokens, a last partial
/// block included.
fn prefix_reuse_share(trace: &Trace) -> Option<f64> {
    if !trace.has_block_hashes() {
        return None;
    }
    // Ids are counted per granularity: a 16-token id and a 512-token id are never the same block.
    let mut seen: FxHashMap<u32, SeenIds> = FxHashMap::default();
    let (mut prompt_blocks, mut reused) = (0u64, 0u64);
    for row in &trace.rows {
        let Some(hashes) = &row.block_hashes else { continue };
        let seen = seen
            .entry(hashes.tokens_per_id)
            .or_insert_with(|| SeenIds::for_trace(trace, hashes.tokens_per_id));
        let prompt_ids = row.num_prefill_tokens.div_ceil(hashes.tokens_per_id) as usize;
        let prompt = &hashes.ids[..prompt_ids.min(hashes.ids.len())];
        prompt_blocks += prompt.len() as u64;
        reused += prompt.iter().filter(|&&id| seen.contains(id)).count() as u64;
        hashes.ids.iter().for_each(|&id| seen.insert(id));
    }
    Some(if prompt_blocks == 0 { 0.0 } else { reused as f64 / prompt_blocks as f64 })
}

/// A set of block ids: a bitmap when the ids are small, as traces number them (0, 1, 2, ...),
/// else a hash set. The bitmap makes millions of lookups cache-friendly.
enum SeenIds {
    Bitmap(Vec<u64>),
    Hashed(FxHashSet<u64>),
}

impl SeenIds {
    /// An empty set suited to the ids of `trace` at granularity `tokens_per_id`.
    fn for_trace(trace: &Trace, tokens_per_id: u32) -> SeenIds {
        let ids = || {
            trace
                .rows
                .iter()
                .filter_map(|r| r.block_hashes.as_ref())
                .filter(|h| h.tokens_per_id == tokens_per_id)
                .flat_map(|h| h.ids.iter())
        };
        let (count, max) = ids().fold((0u64, 0u64), |(n, max), &id| (n + 1, max.max(id)));
        // A bitmap of at most 64 bits per id is no bigger than a hash set of them.
        if max / 64 <= count {
            SeenIds::Bitmap(vec![0; (max / 64 + 1) as usize])
        } else {
            SeenIds::Hashed(FxHashSet::with_capacity_and_hasher(count as usize, Default::default()))
        }
    }

    fn contains(&self, id: u64) -> bool {
        match self {
            SeenIds::Bitmap(words) => {
                words.get((id / 64) as usize).is_some_and(|w| w & (1 << (id % 64)) != 0)
            }
            SeenIds::Hashed(set) => set.contains(&id),
        }
    }

    fn insert(&mut self, id: u64) {
        match self {
            SeenIds::Bitmap(words) => words[(id / 64) as usize] |= 1 << (id % 64),
            SeenIds::Hashed(set) => {
                set.insert(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_trace;
    use super::*;

    fn summary_of(text: &str) -> TraceSummary {
        summarize(&parse_trace("s", text, &mut |_| {}).unwrap())
    }

    #[test]
    fn summarises_lengths_arrivals_sessions_and_reuse() {
        let s = summary_of(
            "arrived_at,num_prefill_tokens,num_decode_tokens,session_id,block_size,block_hash_ids\n\
             1.0,32,10,0,16,\"[1, 2, 3]\"\n\
             3.5,48,20,0,16,\"[1, 2, 4, 5]\"\n\
             2.0,16,30,1,16,\"[9, 3]\"\n",
        );
        assert_eq!(
            (s.format, s.num_requests, s.duration_s, s.num_sessions),
            (TraceFormat::VidurCsv, 3, Some(2.5), Some(2))
        );
        assert_eq!((s.input_tokens.mean, s.input_tokens.p50, s.input_tokens.max), (32.0, 32.0, 48.0));
        assert_eq!((s.output_tokens.mean, s.output_tokens.p90), (20.0, 28.0));
        // Prompt blocks: 2 (1, 2), 3 (1, 2, 4: 2 seen), 1 (9: unseen). Output id 3 is not a prompt block.
        assert_eq!(s.prefix_reuse_share, Some(2.0 / 6.0));
        assert_eq!(s.warnings.len(), 1, "arrival 2.0 follows 3.5");
    }

    #[test]
    fn large_sparse_ids_give_the_same_share_as_small_dense_ones() {
        let text = |offset: u64| {
            let ids =
                |list: &[u64]| list.iter().map(|id| (id * offset).to_string()).collect::<Vec<_>>().join(", ");
            format!(
                "num_prefill_tokens,num_decode_tokens,block_hash_ids\n32,1,\"[{}]\"\n48,1,\"[{}]\"\n",
                ids(&[1, 2, 3]),
                ids(&[1, 2, 4])
            )
        };
        let dense = summary_of(&text(1)).prefix_reuse_share;
        assert_eq!(dense, Some(2.0 / 5.0));
        assert_eq!(summary_of(&text(u64::MAX / 8)).prefix_reuse_share, dense);
    }

    #[test]
    fn length_only_traces_have_no_duration_sessions_or_reuse() {
        let s = summary_of("num_prefill_tokens,num_decode_tokens\n10,1\n20,2\n");
        assert_eq!((s.duration_s, s.num_sessions, s.prefix_reuse_share), (None, None, None));
        assert_eq!(s.input_tokens.count, 2);
    }

    #[test]
    fn a_mooncake_request_is_one_session_without_reuse() {
        let s = summary_of(
            "{\"timestamp\": 0, \"input_length\": 1024, \"output_length\": 1, \"hash_ids\": [4, 5]}\n",
        );
        assert_eq!(s.format, TraceFormat::MooncakeJsonl);
        assert_eq!((s.num_requests, s.num_sessions, s.prefix_reuse_share), (1, Some(1), Some(0.0)));
        assert_eq!(s.input_tokens.max, 1024.0);
    }
}
