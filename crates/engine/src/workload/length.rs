//! Length generators: prompt and output lengths of synthetic and closed-loop requests.

use std::sync::Arc;

use rand::RngExt;
use rand_distr::Distribution;

use crate::config::{ConfigError, FlagDef, InputFile, Params};
use crate::limits::MAX_REQUEST_TOKENS;
use crate::rng::{StreamRng, splitmix64, unit_f64};
use crate::trace::{BlockHashes, Trace};

/// One request's lengths (and, from traces, its session and prefix identities).
#[derive(Clone, Debug, PartialEq)]
pub struct LengthSample {
    /// Prompt tokens (≥ 1).
    pub num_prefill_tokens: u32,
    /// Output tokens (≥ 1).
    pub num_decode_tokens: u32,
    /// Session id from the trace.
    pub session_id: Option<u64>,
    /// Block hashes from the trace.
    pub block_hashes: Option<BlockHashes>,
}

/// Draws request lengths.
pub trait LengthGenerator: Send {
    /// The next request's lengths.
    fn next(&mut self, rng: &mut StreamRng) -> LengthSample;
}

/// Builds a length generator; a shuffle, if any, draws from the given stream.
pub type LengthFactory = Arc<dyn Fn(&mut StreamRng) -> Box<dyn LengthGenerator> + Send + Sync>;

/// A validated length generator.
#[derive(Clone)]
pub struct LengthPlan {
    /// Builds the generator.
    pub build: LengthFactory,
    /// Component seed mixed into the lengths stream.
    pub seed: u64,
    /// Samples carry session ids.
    pub has_sessions: bool,
    /// Samples carry block hashes.
    pub has_block_hashes: bool,
}

/// A registered length generator.
pub struct LengthEntry {
    /// Its `--length_generator_config_type` name.
    pub name: &'static str,
    /// What it draws, in one sentence; empty without the engine's `help-texts`
    /// feature ([`crate::config::help_text`]).
    pub summary: &'static str,
    /// Its own flags.
    pub flags: &'static [FlagDef],
    /// Reads its flags; `None` after recording an error.
    pub parse: fn(&mut Params) -> Option<LengthPlan>,
}

/// Every length generator, by name.
pub static LENGTH_GENERATORS: &[LengthEntry] = &[
    LengthEntry {
        name: "trace",
        summary: crate::config::help_text(
            "Lengths (and sessions, block hashes) from a trace file's rows, cycling.",
        ),
        flags: TRACE_FLAGS,
        parse: parse_trace,
    },
    LengthEntry {
        name: "fixed",
        summary: crate::config::help_text("The same prompt and output length for every request."),
        flags: FIXED_FLAGS,
        parse: parse_fixed,
    },
    LengthEntry {
        name: "uniform",
        summary: crate::config::help_text(
            "Total length uniform in [min_tokens, max_tokens], split by the prefill:decode ratio.",
        ),
        flags: UNIFORM_FLAGS,
        parse: parse_uniform,
    },
    LengthEntry {
        name: "zipf",
        summary: crate::config::help_text(
            "Total length Zipf-distributed over [min_tokens, max_tokens] (short ones most likely), split by the prefill:decode ratio.",
        ),
        flags: ZIPF_FLAGS,
        parse: parse_zipf,
    },
];

const TRACE_FLAGS: &[FlagDef] = &[
    FlagDef::seed(
        "trace_request_length_generator_config_seed",
        "42",
        "Seed of the lengths stream (shuffling).",
    ),
    FlagDef::opt_int(
        "trace_request_length_generator_config_max_tokens",
        "none",
        "Refuse the trace if a request's prompt + output (after scaling) exceeds this.",
    ),
    FlagDef::input(
        "trace_request_length_generator_config_trace_file",
        InputFile::RequestTrace,
        "data/processed_traces/sharegpt_8k_filtered_stats_llama2_tokenizer.csv",
        "Trace whose lengths are used (Vidur CSV, Mooncake JSONL or Azure CSV).",
    ),
    FlagDef::float(
        "trace_request_length_generator_config_prefill_scale_factor",
        "1",
        "Multiply prompt lengths by this.",
    ),
    FlagDef::float(
        "trace_request_length_generator_config_decode_scale_factor",
        "1",
        "Multiply output lengths by this.",
    ),
    FlagDef::bool(
        "trace_request_length_generator_config_preserve_request_order",
        "true",
        "Use rows in file order (false: shuffle them once).",
    ),
];
const FIXED_FLAGS: &[FlagDef] = &[
    FlagDef::seed(
        "fixed_request_length_generator_config_seed",
        "42",
        "Seed of the lengths stream (unused: fixed lengths are not random).",
    ),
    FlagDef::opt_int(
        "fixed_request_length_generator_config_max_tokens",
        "none",
        "Refuse lengths whose prompt + output exceeds this.",
    ),
    FlagDef::int(
        "fixed_request_length_generator_config_prefill_tokens",
        "2048",
        "Prompt tokens of every request.",
    ),
    FlagDef::int(
        "fixed_request_length_generator_config_decode_tokens",
        "512",
        "Output tokens of every request.",
    ),
];
const UNIFORM_FLAGS: &[FlagDef] = &[
    FlagDef::seed("uniform_request_length_generator_config_seed", "42", "Seed of the lengths stream."),
    FlagDef::opt_int(
        "uniform_request_length_generator_config_max_tokens",
        "none",
        "Largest total length (required).",
    ),
    FlagDef::int("uniform_request_length_generator_config_min_tokens", "1024", "Smallest total length."),
    FlagDef::float(
        "uniform_request_length_generator_config_prefill_to_decode_ratio",
        "20",
        "Prompt tokens per output token.",
    ),
];
const ZIPF_FLAGS: &[FlagDef] = &[
    FlagDef::seed("zipf_request_length_generator_config_seed", "42", "Seed of the lengths stream."),
    FlagDef::opt_int(
        "zipf_request_length_generator_config_max_tokens",
        "none",
        "Largest total length (required).",
    ),
    FlagDef::float(
        "zipf_request_length_generator_config_theta",
        "0.6",
        "Zipf exponent: larger = more short requests.",
    ),
    FlagDef::bool(
        "zipf_request_length_generator_config_scramble",
        "false",
        "Scramble ranks so the most likely lengths are spread over the range.",
    ),
    FlagDef::int("zipf_request_length_generator_config_min_tokens", "1024", "Smallest total length."),
    FlagDef::float(
        "zipf_request_length_generator_config_prefill_to_decode_ratio",
        "20",
        "Prompt tokens per output token.",
    ),
];

/// Scales a trace length, truncating and clipping to ≥ 1 as Vidur does (validation has
/// refused lengths beyond [`MAX_REQUEST_TOKENS`]; the clamp keeps the type's bound anyway).
pub(super) fn scaled(tokens: u32, factor: f64) -> u32 {
    scaled_u64(tokens, factor).min(u64::from(MAX_REQUEST_TOKENS)) as u32
}

/// [`scaled`] without the upper bound (a float cast saturates: `1e300 as u64` is `u64::MAX`).
fn scaled_u64(tokens: u32, factor: f64) -> u64 {
    ((f64::from(tokens) * factor) as u64).max(1)
}

fn parse_trace(p: &mut Params) -> Option<LengthPlan> {
    let seed = p.int("trace_request_length_generator_config_seed") as u64;
    let max_tokens = p.opt_u64_at_least("trace_request_length_generator_config_max_tokens", 2);
    let prefill_scale = p.positive_float("trace_request_length_generator_config_prefill_scale_factor");
    let decode_scale = p.positive_float("trace_request_length_generator_config_decode_scale_factor");
    let preserve = p.bool("trace_request_length_generator_config_preserve_request_order");
    let trace = p.trace("trace_request_length_generator_config_trace_file")?;
    let flags = LengthFlags {
        max_tokens: "trace_request_length_generator_config_max_tokens",
        prefill_scale: "trace_request_length_generator_config_prefill_scale_factor",
        decode_scale: "trace_request_length_generator_config_decode_scale_factor",
    };
    check_scaled_lengths(p, &flags, &trace, prefill_scale, decode_scale, max_tokens)?;
    let (has_sessions, has_block_hashes) = (trace.has_sessions(), trace.has_block_hashes());
    Some(LengthPlan {
        build: Arc::new(move |rng| {
            let mut order: Vec<u32> = (0..trace.rows.len() as u32).collect();
            if !preserve {
                // Fisher–Yates with the lengths stream.
                for i in (1..order.len()).rev() {
                    let j = rng.random_range(0..=i);
                    order.swap(i, j);
                }
            }
            Box::new(TraceLengths { trace: trace.clone(), order, next: 0, prefill_scale, decode_scale })
        }),
        seed,
        has_sessions,
        has_block_hashes,
    })
}

/// The flags that bound and scale a trace's lengths, named in errors.
pub(super) struct LengthFlags {
    /// `..._max_tokens`.
    pub max_tokens: &'static str,
    /// `..._prefill_scale_factor`.
    pub prefill_scale: &'static str,
    /// `..._decode_scale_factor`.
    pub decode_scale: &'static str,
}

/// Refuses the first trace row whose prompt + output after scaling exceeds `max` (the
/// max_tokens flag, when set) or the largest request llmsim simulates
/// ([`MAX_REQUEST_TOKENS`]), naming the row and the flag to change.
pub(super) fn check_scaled_lengths(
    p: &mut Params,
    flags: &LengthFlags,
    trace: &Trace,
    prefill_scale: f64,
    decode_scale: f64,
    max: Option<u64>,
) -> Option<()> {
    let limit = u64::from(MAX_REQUEST_TOKENS);
    for row in &trace.rows {
        let prompt = scaled_u64(row.num_prefill_tokens, prefill_scale);
        let output = scaled_u64(row.num_decode_tokens, decode_scale);
        let total = prompt.saturating_add(output);
        if let Some(max) = max.filter(|max| total > *max) {
            p.error(
                ConfigError::new(
                    flags.max_tokens,
                    format!(
                        "{}, row {}: prompt + output = {total} tokens exceeds max_tokens = {max}",
                        trace.name, row.line
                    ),
                )
                .with_hint("raise max_tokens, scale the trace down, or leave max_tokens unset"),
            );
            return None;
        }
        if total > limit {
            // Each count alone is within the limit in the file: the scaling (or a zero raised
            // to one token) pushed the sum past it.
            let flag = if prompt >= output { flags.prefill_scale } else { flags.decode_scale };
            p.error(
                ConfigError::new(
                    flag,
                    format!(
                        "{}, row {}: prompt {} × {prefill_scale} + output {} × {decode_scale} = {total} tokens is more than the largest request llmsim simulates ({limit} tokens)",
                        trace.name, row.line, row.num_prefill_tokens, row.num_decode_tokens
                    ),
                )
                .with_hint("use smaller scale factors"),
            );
            return None;
        }
    }
    Some(())
}

struct TraceLengths {
    trace: Arc<Trace>,
    order: Vec<u32>,
    next: usize,
    prefill_scale: f64,
    decode_scale: f64,
}

impl LengthGenerator for TraceLengths {
    fn next(&mut self, _: &mut StreamRng) -> LengthSample {
        let row = &self.trace.rows[self.order[self.next] as usize];
        self.next = (self.next + 1) % self.order.len();
        LengthSample {
            num_prefill_tokens: scaled(row.num_prefill_tokens, self.prefill_scale),
            num_decode_tokens: scaled(row.num_decode_tokens, self.decode_scale),
            session_id: row.session_id,
            block_hashes: row.block_hashes.clone(),
        }
    }
}

fn parse_fixed(p: &mut Params) -> Option<LengthPlan> {
    let seed = p.int("fixed_request_length_generator_config_seed") as u64;
    let largest = i64::from(MAX_REQUEST_TOKENS);
    let prefill = p.int_in("fixed_request_length_generator_config_prefill_tokens", 1, largest - 1) as u32;
    let decode = p.int_in("fixed_request_length_generator_config_decode_tokens", 1, largest - 1) as u32;
    if i64::from(prefill) + i64::from(decode) > largest {
        p.error(
            ConfigError::new(
                "fixed_request_length_generator_config_prefill_tokens",
                format!(
                    "prefill + decode = {} tokens is more than the largest request llmsim simulates ({largest} tokens)",
                    u64::from(prefill) + u64::from(decode)
                ),
            )
            .with_hint("use fewer prefill or decode tokens"),
        );
        return None;
    }
    if let Some(max) = p.opt_u64_at_least("fixed_request_length_generator_config_max_tokens", 2)
        && u64::from(prefill + decode) > max
    {
        p.error(ConfigError::new(
            "fixed_request_length_generator_config_max_tokens",
            format!("prefill + decode = {} exceeds max_tokens = {max}", prefill + decode),
        ));
    }
    Some(LengthPlan {
        build: Arc::new(move |_| Box::new(FixedLengths { prefill, decode })),
        seed,
        has_sessions: false,
        has_block_hashes: false,
    })
}

struct FixedLengths {
    prefill: u32,
    decode: u32,
}

impl LengthGenerator for FixedLengths {
    fn next(&mut self, _: &mut StreamRng) -> LengthSample {
        LengthSample {
            num_prefill_tokens: self.prefill,
            num_decode_tokens: self.decode,
            session_id: None,
            block_hashes: None,
        }
    }
}

/// Reads `min_tokens`, `max_tokens` and the ratio of a ranged generator.
fn ranged(p: &mut Params, prefix: &str) -> Option<(u32, u32, f64)> {
    let max_flag = format!("{prefix}_max_tokens");
    let largest = i64::from(MAX_REQUEST_TOKENS);
    let min = p.int_in(&format!("{prefix}_min_tokens"), 2, largest) as u32;
    let ratio = p.float_in(&format!("{prefix}_prefill_to_decode_ratio"), 1e-6, 1e9);
    let Some(max) = p.opt_int(&max_flag) else {
        p.error(
            ConfigError::new(&max_flag, "must be set: it bounds the generated lengths")
                .with_hint("e.g. 4096"),
        );
        return None;
    };
    if max < i64::from(min) {
        p.error(ConfigError::new(&max_flag, format!("{max} must be at least min_tokens = {min}")));
        return None;
    }
    if max > largest {
        p.error(ConfigError::new(
            &max_flag,
            format!("{max} tokens is more than the largest request llmsim simulates ({largest} tokens)"),
        ));
        return None;
    }
    Some((min, max as u32, ratio))
}

/// Splits a total length into (prompt, output) by the prefill:decode ratio, both ≥ 1.
fn split(total: u32, ratio: f64, round_up_decode: bool) -> (u32, u32) {
    let d = f64::from(total) / (1.0 + ratio);
    let decode = if round_up_decode { libm::ceil(d) } else { libm::floor(d) } as u32;
    let decode = decode.clamp(1, total - 1);
    (total - decode, decode)
}

fn parse_uniform(p: &mut Params) -> Option<LengthPlan> {
    let seed = p.int("uniform_request_length_generator_config_seed") as u64;
    let (min, max, ratio) = ranged(p, "uniform_request_length_generator_config")?;
    Some(LengthPlan {
        build: Arc::new(move |_| Box::new(UniformLengths { min, max, ratio })),
        seed,
        has_sessions: false,
        has_block_hashes: false,
    })
}

struct UniformLengths {
    min: u32,
    max: u32,
    ratio: f64,
}

impl LengthGenerator for UniformLengths {
    fn next(&mut self, rng: &mut StreamRng) -> LengthSample {
        // Vidur: total = U(min, max + 1) as a float, truncated.
        let span = f64::from(self.max - self.min + 1);
        let total = (f64::from(self.min) + unit_f64(rng) * span) as u32;
        let (prefill, decode) = split(total.min(self.max), self.ratio, true);
        LengthSample {
            num_prefill_tokens: prefill,
            num_decode_tokens: decode,
            session_id: None,
            block_hashes: None,
        }
    }
}

fn parse_zipf(p: &mut Params) -> Option<LengthPlan> {
    let seed = p.int("zipf_request_length_generator_config_seed") as u64;
    let theta = p.float_in("zipf_request_length_generator_config_theta", 0.0, 100.0);
    let scramble = p.bool("zipf_request_length_generator_config_scramble");
    let (min, max, ratio) = ranged(p, "zipf_request_length_generator_config")?;
    let n = f64::from(max - min + 1);
    if rand_distr::Zipf::new(n, theta).is_err() {
        p.error(ConfigError::new(
            "zipf_request_length_generator_config_theta",
            format!("{theta} is not a valid Zipf exponent"),
        ));
        return None;
    }
    Some(LengthPlan {
        build: Arc::new(move |_| {
            let zipf = rand_distr::Zipf::new(n, theta).expect("validated");
            Box::new(ZipfLengths { zipf, min, n: max - min + 1, scramble, ratio })
        }),
        seed,
        has_sessions: false,
        has_block_hashes: false,
    })
}

struct ZipfLengths {
    zipf: rand_distr::Zipf<f64>,
    min: u32,
    n: u32,
    scramble: bool,
    ratio: f64,
}

impl LengthGenerator for ZipfLengths {
    fn next(&mut self, rng: &mut StreamRng) -> LengthSample {
        let rank = (self.zipf.sample(rng) as u32).clamp(1, self.n) - 1;
        let offset =
            if self.scramble { (splitmix64(u64::from(rank)) % u64::from(self.n)) as u32 } else { rank };
        let (prefill, decode) = split(self.min + offset, self.ratio, false);
        LengthSample {
            num_prefill_tokens: prefill,
            num_decode_tokens: decode,
            session_id: None,
            block_hashes: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeedTree;

    #[test]
    fn split_keeps_both_parts_positive() {
        assert_eq!(split(2100, 20.0, true), (2000, 100));
        assert_eq!(split(2, 20.0, false), (1, 1));
    }

    #[test]
    fn uniform_and_zipf_stay_in_range() {
        let mut rng = SeedTree::new(1).stream("t", 0);
        let mut u = UniformLengths { min: 100, max: 200, ratio: 3.0 };
        let mut z = ZipfLengths {
            zipf: rand_distr::Zipf::new(101.0, 0.6).unwrap(),
            min: 100,
            n: 101,
            scramble: true,
            ratio: 3.0,
        };
        for _ in 0..1000 {
            for s in [u.next(&mut rng), z.next(&mut rng)] {
                let total = s.num_prefill_tokens + s.num_decode_tokens;
                assert!((100..=200).contains(&total), "{total}");
                assert!(s.num_decode_tokens >= 1 && s.num_prefill_tokens >= 1);
            }
        }
    }

    #[test]
    fn zipf_favours_short_lengths() {
        let mut rng = SeedTree::new(1).stream("t", 0);
        let mut z = ZipfLengths {
            zipf: rand_distr::Zipf::new(1000.0, 1.2).unwrap(),
            min: 1000,
            n: 1000,
            scramble: false,
            ratio: 1.0,
        };
        let short = (0..2000).filter(|_| {
            let s = z.next(&mut rng);
            s.num_prefill_tokens + s.num_decode_tokens < 1100
        });
        assert!(short.count() > 1400);
    }
}
