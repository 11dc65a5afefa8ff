//! Writes `data/traces/conversation_synth.csv`: a synthetic multi-turn chat trace in Vidur's
//! processed-CSV format with session ids and block hashes, for the page's quick-start preset.
//!
//! Run from the repository root: `cargo run -p llmsim-worker --example gen_conversation_trace`
//! (or give an output path). The output is a pure function of the constants below: a test
//! regenerates it and compares it with the committed file byte for byte.
//!
//! Shape, loosely after the Mooncake conversation trace (FAST'25): conversations start as a
//! Poisson process; each has 1-8 turns. Every conversation opens with one of a few shared system
//! prompts (prefixes reused across sessions), then a document of log-normal length; each later
//! turn's prompt is the previous prompt + the previous answer + a new user message (prefixes
//! reused within a session). Answers are log-normal, median ~300 tokens, at most 2,000.

use std::fmt::Write as _;

/// Conversations in the file.
const SESSIONS: usize = 260;
/// New conversations per second.
const SESSION_RATE: f64 = 1.5;
/// Tokens per block hash id (Vidur's only supported block size).
const BLOCK: u32 = 16;
/// Longest prompt + answer; longer turns end the conversation.
const MAX_TOKENS: u32 = 32_768;
/// System prompt lengths (multiples of the block size, so their blocks are shared whole).
const SYSTEM_PROMPTS: [u32; 4] = [512, 1024, 1536, 2048];

/// SplitMix64: tiny, seedable, identical everywhere.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
    fn exponential(&mut self, mean: f64) -> f64 {
        -mean * libm::log(self.unit())
    }
    /// Log-normal with the given median and log-space standard deviation (Box-Muller through
    /// libm, so every platform draws the same numbers).
    fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        let z =
            libm::sqrt(-2.0 * libm::log(self.unit())) * libm::cos(2.0 * std::f64::consts::PI * self.unit());
        median * libm::exp(sigma * z)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

struct Row {
    arrived_at: f64,
    prefill: u32,
    decode: u32,
    conversation: usize,
    ids: Vec<u64>,
}

/// The trace's CSV text.
pub fn generate() -> String {
    let mut rng = Rng(20_250_601);
    // Ids 0.. are the system prompts' blocks; conversation content gets fresh ids after them.
    let system_ids: Vec<Vec<u64>> = {
        let mut next = 0u64;
        SYSTEM_PROMPTS
            .iter()
            .map(|len| {
                (0..len / BLOCK)
                    .map(|_| {
                        next += 1;
                        next - 1
                    })
                    .collect()
            })
            .collect()
    };
    let mut next_id = system_ids.iter().map(Vec::len).sum::<usize>() as u64;
    let mut fresh = |n: u32| -> Vec<u64> {
        (0..n)
            .map(|_| {
                next_id += 1;
                next_id - 1
            })
            .collect()
    };

    let mut rows = Vec::new();
    let mut start = 0.0;
    for conversation in 0..SESSIONS {
        start += rng.exponential(1.0 / SESSION_RATE);
        let turns = 1 + (0..7).take_while(|_| rng.unit() < 0.45).count();
        let system = rng.below(SYSTEM_PROMPTS.len() as u64) as usize;
        let document = rng.lognormal(3200.0, 1.1).clamp(16.0, 28_000.0) as u32;
        // Token content so far, as full-block ids plus the tokens of a trailing partial block.
        let mut context_ids = system_ids[system].clone();
        let mut context_tokens = SYSTEM_PROMPTS[system];
        let mut at = start;
        for turn in 0..turns {
            let message =
                if turn == 0 { document } else { rng.lognormal(250.0, 0.9).clamp(8.0, 4000.0) as u32 };
            let prefill = context_tokens + message;
            let decode = rng.lognormal(300.0, 0.8).clamp(1.0, 2000.0) as u32;
            if prefill + decode > MAX_TOKENS {
                break;
            }
            // Blocks of this request: the shared full blocks, then fresh ones up to prompt + answer.
            let shared = (context_tokens / BLOCK) as usize;
            let mut ids = context_ids[..shared].to_vec();
            ids.extend(fresh((prefill + decode).div_ceil(BLOCK) - shared as u32));
            rows.push(Row { arrived_at: at, prefill, decode, conversation, ids: ids.clone() });
            context_ids = ids;
            context_tokens = prefill + decode;
            // The user reads the answer and types the next message.
            at += 5.0 + rng.exponential(40.0);
        }
    }
    rows.sort_by(|a, b| a.arrived_at.total_cmp(&b.arrived_at).then(a.conversation.cmp(&b.conversation)));
    // Session ids in order of first appearance, as in the Mooncake CSV.
    let mut session_of = vec![None; SESSIONS];
    let mut sessions = 0u64;
    let first = rows[0].arrived_at;
    let mut out = String::from(
        "arrived_at,num_prefill_tokens,num_decode_tokens,session_id,block_size,block_hash_ids\n",
    );
    for row in &rows {
        let session = *session_of[row.conversation].get_or_insert_with(|| {
            sessions += 1;
            sessions - 1
        });
        let ids: Vec<String> = row.ids.iter().map(u64::to_string).collect();
        let _ = writeln!(
            out,
            "{:.3},{},{},{session},{BLOCK},\"[{}]\"",
            row.arrived_at - first,
            row.prefill,
            row.decode,
            ids.join(", ")
        );
    }
    out
}

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| "data/traces/conversation_synth.csv".to_string());
    let text = generate();
    std::fs::write(&path, &text).unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
    println!("wrote {path}: {} requests, {} bytes", text.lines().count() - 1, text.len());
}
