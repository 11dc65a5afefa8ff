//! The largest inputs llmsim accepts, stated once (INV-10, Bounded resources).
//!
//! Every quantity that comes from input (tokens, blocks, bytes, parameters, request counts) is
//! held to these bounds where it is read — the trace readers, the flag readers, the model
//! reader, `SimConfig::build` — and refused there naming the flag, or the file, row and column.
//! Inside them the engine's integer arithmetic cannot wrap: a request's tokens and a batch's
//! fit `u32` with room to spare, a model's parameter and byte counts fit `u64`. Time has its
//! own bound, the simulation horizon (`time::HORIZON_SECS`, INV-9). Memory a run will need is
//! estimated before it starts ([`MemoryEstimate`]) and refused beyond a budget.

use std::fmt;

/// Tokens (prompt + output) of the largest request: 2^24 = 16,777,216, above every model's
/// context. A request's token counts are `u32`; with this bound their sums never wrap.
pub const MAX_REQUEST_TOKENS: u32 = 1 << 24;

/// Tokens per KV block, of the engine's cache (`--cache_config_block_size`) and of a trace's
/// block hash ids (`block_size` column).
pub const MAX_BLOCK_SIZE: u32 = 1 << 16;

/// Replicas in a cluster.
pub const MAX_REPLICAS: u32 = 100_000;

/// Tensor-parallel, pipeline-parallel, expert-parallel and attention data-parallel degree, each
/// (their product stays within `u32`).
pub const MAX_PARALLEL_DEGREE: u32 = 1024;

/// KV blocks simulated over all replicas (about 40 bytes of bookkeeping each: 2 GB).
pub const MAX_SIMULATED_BLOCKS: u64 = 50_000_000;

/// KV tokens one replica holds (blocks × block size): a batch's tokens, which are resident in
/// the cache, are summed in `u32`.
pub const MAX_KV_TOKENS_PER_REPLICA: u64 = 1 << 31;

/// Requests one run simulates (ids are `u32`).
pub const MAX_REQUESTS: u64 = 100_000_000;

/// Bytes of one input file (trace, arrival times, profile table, model `config.json`).
pub const MAX_INPUT_FILE_BYTES: u64 = 1 << 30;

/// Bytes of a flat JSON configuration (`--config`; a full `config.json` is about 10 kB).
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

/// Keys of a configuration (a JSON object or a share link's pairs); there are a few hundred
/// flags.
pub const MAX_CONFIG_KEYS: usize = 2000;

/// Transformer layers of a model.
pub const MAX_MODEL_LAYERS: u32 = 4096;

/// Hidden size, head size and MLP (or expert) hidden size of a model, each.
pub const MAX_MODEL_DIM: u32 = 1 << 20;

/// Attention heads (query or key/value) of a model.
pub const MAX_MODEL_HEADS: u32 = 1 << 14;

/// Experts (and experts per token) of a mixture-of-experts model.
pub const MAX_MODEL_EXPERTS: u32 = 1 << 14;

/// Vocabulary size of a model.
pub const MAX_VOCAB_SIZE: u32 = 1 << 24;

/// Context length (`max_position_embeddings`) of a model.
pub const MAX_MODEL_LEN: u32 = 1 << 30;

/// Parameters of a model: 2^50, about 10^15, 500 times the largest model published. Within it
/// every parameter and byte count of the memory planner fits `u64`.
pub const MAX_MODEL_PARAMS: u64 = 1 << 50;

/// Memory a native run may plan to use by default (`llmsim --memory-budget-gib` changes it).
pub const DEFAULT_MEMORY_BUDGET_BYTES: u64 = 4 << 30;

/// Memory a run in the web page's worker may plan to use (wasm32 addresses 4 GiB at most, and
/// the browser's tab less).
pub const BROWSER_MEMORY_BUDGET_BYTES: u64 = 1536 << 20;

/// Bytes the simulator keeps per request until the report (the completed request's record,
/// its arena slot, its share of the sorted columns at the end), measured on `synthetic_1m`
/// (BENCHMARKS.md: 126 B/request) and rounded up.
pub const BYTES_PER_REQUEST: u64 = 160;

/// Bytes a request's row of `request_metrics.csv` takes when the report renders it in memory
/// (the page's downloads; the CLI streams rows to disk instead).
pub const BYTES_PER_REQUEST_ROW: u64 = 240;

/// Bytes of bookkeeping per simulated KV block (pool entry, free queue, hash index, tables).
pub const BYTES_PER_KV_BLOCK: u64 = 40;

/// Bytes a parsed trace row takes besides its block hash ids.
pub const BYTES_PER_TRACE_ROW: u64 = 96;

/// What a run is expected to hold in memory, by part, in bytes. An estimate made before the
/// run: what the workload and the cluster size say, not what the run ends up using.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryEstimate {
    /// Requests kept until the report (records, arena, per-request rows).
    pub requests: u64,
    /// KV block bookkeeping over all replicas.
    pub kv_blocks: u64,
    /// Input files' text and parsed traces (with their block hash ids).
    pub inputs: u64,
}

impl MemoryEstimate {
    /// The whole estimate.
    pub fn total(&self) -> u64 {
        self.requests.saturating_add(self.kv_blocks).saturating_add(self.inputs)
    }
}

impl fmt::Display for MemoryEstimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (requests {}, KV blocks {}, input files {})",
            describe_bytes(self.total()),
            describe_bytes(self.requests),
            describe_bytes(self.kv_blocks),
            describe_bytes(self.inputs)
        )
    }
}

/// Bytes for messages: `1.5 GiB`, `12.0 MiB`, `800 B`.
pub fn describe_bytes(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b >= KIB * KIB * KIB {
        format!("{:.1} GiB", b / (KIB * KIB * KIB))
    } else if b >= KIB * KIB {
        format!("{:.1} MiB", b / (KIB * KIB))
    } else if b >= KIB {
        format!("{:.1} KiB", b / KIB)
    } else {
        format!("{bytes} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bounds_keep_integer_arithmetic_in_range() {
        // A request's prompt + output + the first token, and a batch of resident tokens, in u32.
        assert!(u64::from(MAX_REQUEST_TOKENS) * 2 + 1 < u64::from(u32::MAX));
        assert!(MAX_KV_TOKENS_PER_REPLICA < u64::from(u32::MAX));
        // A KV block's tokens within a replica's.
        assert!(u64::from(MAX_BLOCK_SIZE) <= MAX_KV_TOKENS_PER_REPLICA);
        // Request ids are u32.
        assert!(MAX_REQUESTS < u64::from(u32::MAX));
        // Weight bytes (up to 2 bytes a parameter, twice for the edge stages) in u64.
        assert!(MAX_MODEL_PARAMS.checked_mul(8).is_some());
    }

    #[test]
    fn bytes_read_in_binary_units() {
        assert_eq!(describe_bytes(800), "800 B");
        assert_eq!(describe_bytes(3 << 19), "1.5 MiB");
        assert_eq!(describe_bytes(DEFAULT_MEMORY_BUDGET_BYTES), "4.0 GiB");
        let e = MemoryEstimate { requests: 1 << 30, kv_blocks: 1 << 29, inputs: 0 };
        assert_eq!(e.to_string(), "1.5 GiB (requests 1.0 GiB, KV blocks 512.0 MiB, input files 0 B)");
    }
}
