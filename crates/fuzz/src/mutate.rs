//! The mutators, and [`generate`]: execution `i`'s input from the seeds and the campaign's seed.
//!
//! Byte-level mutations (bit flips, interesting bytes, deleted, inserted and duplicated ranges,
//! splices with other seeds, truncation) find what the readers do with broken text;
//! structure-aware ones (a number replaced by an extreme, a CSV cell or a JSON value replaced,
//! lines duplicated, dropped or swapped, line endings changed, a byte-order mark added) reach
//! past the parsers into validation and the run; flag mutations set any flag of the table to an
//! extreme, contradictory or out-of-kind value, or switch a policy.

use llmsim_engine::{FlagKind, all_flags};
use serde_json::Value;

use crate::case::{Case, Target};
use crate::rng::Rng;
use crate::seeds::{ARRIVALS_PATH, CONFIG_PATH, MODEL_PATH, NETWORK_PATH, PROFILE_PATH, Seeds, TRACE_PATH};

/// Largest file a mutation leaves: inputs stay small, executions fast.
const MAX_FILE_BYTES: usize = 64 << 10;

/// Numbers at and around every boundary the engine has: zero, one, powers of two at the type
/// limits and llmsim's own limits, float extremes, and things that are not numbers.
pub const EXTREMES: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "3",
    "7",
    "16",
    "31",
    "64",
    "512",
    "1024",
    "4096",
    "65535",
    "65536",
    "65537",
    "1000000",
    "16777215",
    "16777216",
    "16777217",
    "100000000",
    "100000001",
    "1073741824",
    "2147483647",
    "2147483648",
    "4294967295",
    "4294967296",
    "9007199254740993",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "1e9",
    "1e10",
    "1e18",
    "1e19",
    "1e308",
    "-1e308",
    "1.7976931348623157e308",
    "1e-9",
    "1e-12",
    "1e-300",
    "5e-324",
    "0.5",
    "0.999",
    "1.5",
    "-0.0",
    "0.0",
    "3.0e2",
    "1e",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "infinity",
    "none",
    "None",
    "",
    " ",
    "true",
    "false",
    "x",
    "\"",
    "[]",
    "{}",
    "1970-01-01 00:00:00",
    "9999-12-31 23:59:59",
];

/// Bytes that mean something to a CSV, JSON or date parser.
const INTERESTING_BYTES: &[u8] = &[
    0, b'\n', b'\r', b',', b'"', b'[', b']', b'{', b'}', b':', b'-', b'.', b'e', b' ', b'\t', 0x7f, 0xc3,
    0xef, 0xff,
];

/// The policies' selector flags and their choices.
fn selectors() -> Vec<(&'static str, Vec<&'static str>)> {
    all_flags()
        .iter()
        .filter_map(|f| match &f.kind {
            FlagKind::Choice(choices) => Some((f.name, choices.to_vec())),
            _ => None,
        })
        .collect()
}

/// Execution `index`'s input in the campaign seeded with `seed`.
pub fn generate(seeds: &Seeds, seed: u64, index: u64) -> Case {
    let mut rng = Rng::for_execution(seed, index);
    let target = match rng.below(20) {
        0..=4 => Target::Trace,
        5..=6 => Target::Arrivals,
        7..=9 => Target::ConfigJson,
        10..=12 => Target::ModelConfig,
        _ => Target::Scenario,
    };
    let mut case = base_case(seeds, target, &mut rng);
    // Mostly one or two mutations, sometimes many.
    let rounds = 1 + [0, 0, 0, 1, 1, 2, 3, 7][rng.below(8)];
    for _ in 0..rounds {
        mutate_case(seeds, &mut case, &mut rng);
    }
    case
}

/// A seed input for `target`.
fn base_case(seeds: &Seeds, target: Target, rng: &mut Rng) -> Case {
    let trace = rng.pick(&seeds.traces).1.clone();
    let arrivals = rng.pick(&seeds.arrivals).1.clone();
    let mut pairs = rng.pick(&seeds.scenarios).clone();
    let mut files =
        vec![(TRACE_PATH.to_string(), trace.clone()), (ARRIVALS_PATH.to_string(), arrivals.clone())];
    if !seeds.profiles.is_empty() && rng.one_in(8) {
        pairs.push(("execution_time_predictor_config_type".into(), "profile".into()));
        pairs
            .push(("profile_execution_time_predictor_config_compute_input_file".into(), PROFILE_PATH.into()));
        files.push((PROFILE_PATH.to_string(), seeds.profiles[0].1.clone()));
        if let Some((_, network)) = seeds.profiles.get(1) {
            pairs.push((
                "profile_execution_time_predictor_config_all_reduce_input_file".into(),
                NETWORK_PATH.into(),
            ));
            files.push((NETWORK_PATH.to_string(), network.clone()));
        }
    }
    match target {
        Target::Trace => Case { target, pairs: Vec::new(), files: vec![(TRACE_PATH.into(), trace)] },
        Target::Arrivals => Case { target, pairs: Vec::new(), files: vec![(ARRIVALS_PATH.into(), arrivals)] },
        Target::ConfigJson => {
            let object: serde_json::Map<String, Value> =
                pairs.iter().map(|(k, v)| (k.clone(), json_value(v))).collect();
            let json = serde_json::to_vec_pretty(&Value::Object(object)).unwrap_or_default();
            files.insert(0, (CONFIG_PATH.to_string(), json));
            Case { target, pairs: Vec::new(), files }
        }
        Target::ModelConfig => {
            pairs.push(("replica_config_model_config_file".into(), MODEL_PATH.into()));
            files.insert(0, (MODEL_PATH.to_string(), rng.pick(&seeds.models).1.clone()));
            Case { target, pairs, files }
        }
        Target::Scenario => Case { target, pairs, files },
    }
}

/// A flag value as JSON: numbers and booleans typed, the rest strings.
fn json_value(text: &str) -> Value {
    match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "none" => Value::Null,
        _ => serde_json::from_str::<serde_json::Number>(text)
            .map_or_else(|_| Value::String(text.into()), Value::Number),
    }
}

/// One mutation of a file or of the flags.
fn mutate_case(seeds: &Seeds, case: &mut Case, rng: &mut Rng) {
    let mutate_flags = !case.pairs.is_empty() && rng.one_in(2);
    if mutate_flags || case.files.is_empty() {
        mutate_pairs(&mut case.pairs, rng);
        return;
    }
    // The first file is the target's own: mutate it most.
    let index = if rng.one_in(4) { rng.below(case.files.len()) } else { 0 };
    let others: Vec<&[u8]> = seeds.traces.iter().chain(&seeds.models).map(|(_, b)| b.as_slice()).collect();
    mutate_bytes(&mut case.files[index].1, &others, rng);
}

/// Mutates flag pairs: any flag set to an extreme or out-of-kind value, a policy switched, a
/// pair dropped or repeated.
pub fn mutate_pairs(pairs: &mut Vec<(String, String)>, rng: &mut Rng) {
    match rng.below(10) {
        0..=3 => {
            let flag = rng.pick(all_flags());
            let value = match &flag.kind {
                FlagKind::Choice(choices) if !rng.one_in(5) => rng.pick(choices).to_string(),
                FlagKind::Bool if !rng.one_in(5) => rng.pick(&["true", "false"]).to_string(),
                _ if flag.is_input_file() => rng
                    .pick(&[TRACE_PATH, ARRIVALS_PATH, MODEL_PATH, PROFILE_PATH, "missing.csv", ""])
                    .to_string(),
                _ => rng.pick(EXTREMES).to_string(),
            };
            pairs.push((flag.name.to_string(), value));
        }
        4..=5 if !pairs.is_empty() => {
            let i = rng.below(pairs.len());
            pairs[i].1 = rng.pick(EXTREMES).to_string();
        }
        6 => {
            let selectors = selectors();
            let (name, choices) = rng.pick(&selectors);
            pairs.push((name.to_string(), rng.pick(choices).to_string()));
        }
        7 if !pairs.is_empty() => {
            pairs.remove(rng.below(pairs.len()));
        }
        8 if !pairs.is_empty() => {
            let i = rng.below(pairs.len());
            let (k, v) = pairs[i].clone();
            let scaled =
                v.parse::<f64>().map_or(v, |x| format!("{}", x * [10.0, 1000.0, 0.001, -1.0][rng.below(4)]));
            pairs.push((k, scaled));
        }
        _ => {
            // A small KV cache or many replicas, which drive preemption and routing.
            let (flag, values): (&str, &[&str]) = *rng.pick(&[
                ("cache_config_num_blocks", &["1", "2", "8", "33", "100"][..]),
                ("cluster_config_num_replicas", &["1", "2", "5", "64"][..]),
                ("cache_config_block_size", &["1", "2", "32", "512", "65536"][..]),
                ("replica_config_num_pipeline_stages", &["2", "4", "8"][..]),
                ("time_limit", &["0.001", "1", "30"][..]),
                // A disaggregated cluster's decode pool: tight KV room, few or many replicas,
                // another node (RDMA), another pipeline depth.
                ("disaggregation_config_type", &["prefill_decode"][..]),
                ("disaggregation_config_decode_num_blocks", &["1", "8", "100"][..]),
                ("disaggregation_config_decode_num_replicas", &["1", "3", "64"][..]),
                ("disaggregation_config_decode_network_device", &["h100_pairwise_nvlink", "gb200_nvl72"][..]),
                ("disaggregation_config_decode_num_pipeline_stages", &["2", "4"][..]),
            ]);
            pairs.push((flag.to_string(), rng.pick(values).to_string()));
        }
    }
}

/// Mutates a file's bytes; `others` are seeds to splice from.
pub fn mutate_bytes(bytes: &mut Vec<u8>, others: &[&[u8]], rng: &mut Rng) {
    let len = bytes.len();
    let at = |rng: &mut Rng| if len == 0 { 0 } else { rng.below(len + 1) };
    match rng.below(16) {
        0 if len > 0 => {
            let i = rng.below(len);
            bytes[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            bytes[i] = *rng.pick(INTERESTING_BYTES);
        }
        2 if len > 0 => {
            let start = rng.below(len);
            let end = (start + 1 + rng.below(64)).min(len);
            bytes.drain(start..end);
        }
        3 => {
            let i = at(rng);
            let insert: Vec<u8> = (0..1 + rng.below(8)).map(|_| *rng.pick(INTERESTING_BYTES)).collect();
            bytes.splice(i..i, insert);
        }
        4 if len > 0 => {
            let start = rng.below(len);
            let end = (start + 1 + rng.below(256)).min(len);
            let chunk = bytes[start..end].to_vec();
            let i = at(rng);
            bytes.splice(i..i, chunk);
        }
        5 | 6 | 7 => replace_number(bytes, rng),
        8 if !others.is_empty() => {
            let other = *rng.pick(others);
            if !other.is_empty() {
                let from = rng.below(other.len());
                let cut = at(rng);
                bytes.truncate(cut);
                bytes.extend_from_slice(&other[from..]);
            }
        }
        9 => {
            let endings: [&[u8]; 4] = [b"\r\n", b"\r", b"\n\n", b"\n \n"];
            let ending = *rng.pick(&endings);
            let mut out = Vec::with_capacity(bytes.len());
            for &b in bytes.iter() {
                if b == b'\n' { out.extend_from_slice(ending) } else { out.push(b) }
            }
            *bytes = out;
        }
        10 => {
            if bytes.starts_with(&[0xef, 0xbb, 0xbf]) {
                bytes.drain(..3);
            } else {
                bytes.splice(0..0, [0xef, 0xbb, 0xbf]);
            }
        }
        11 => line_mutation(bytes, rng),
        12 => replace_cell(bytes, rng),
        13 => mutate_json(bytes, rng),
        14 if len > 0 => bytes.truncate(rng.below(len)),
        _ => line_mutation(bytes, rng),
    }
    bytes.truncate(MAX_FILE_BYTES);
}

/// Replaces one run of digits (with its sign, point and exponent) by an extreme number.
fn replace_number(bytes: &mut Vec<u8>, rng: &mut Rng) {
    let starts: Vec<usize> = (0..bytes.len())
        .filter(|&i| bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()))
        .collect();
    if starts.is_empty() {
        return;
    }
    let start = *rng.pick(&starts);
    let end = (start..bytes.len())
        .find(|&i| !(bytes[i].is_ascii_digit() || matches!(bytes[i], b'.' | b'e' | b'E' | b'+' | b'-')))
        .unwrap_or(bytes.len());
    bytes.splice(start..end, rng.pick(EXTREMES).bytes());
}

/// Duplicates (many times), drops or swaps lines.
fn line_mutation(bytes: &mut Vec<u8>, rng: &mut Rng) {
    let mut lines: Vec<Vec<u8>> = bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    if lines.is_empty() {
        return;
    }
    let i = rng.below(lines.len());
    match rng.below(4) {
        0 => {
            let copies = [1, 2, 10, 200][rng.below(4)];
            let line = lines[i].clone();
            for _ in 0..copies {
                lines.insert(i, line.clone());
            }
        }
        1 => {
            lines.remove(i);
        }
        2 => {
            let j = rng.below(lines.len());
            lines.swap(i, j);
        }
        _ => lines.truncate(i + 1),
    }
    *bytes = lines.join(&b'\n');
}

/// Replaces one comma-separated cell of a line by an extreme value.
fn replace_cell(bytes: &mut Vec<u8>, rng: &mut Rng) {
    let Ok(text) = std::str::from_utf8(bytes) else { return replace_number(bytes, rng) };
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let i = rng.below(lines.len());
    let mut cells: Vec<String> = lines[i].split(',').map(str::to_string).collect();
    let j = rng.below(cells.len());
    cells[j] = rng.pick(EXTREMES).to_string();
    lines[i] = cells.join(",");
    *bytes = lines.join("\n").into_bytes();
}

/// Parses a JSON document (one object, or one per line) and changes one value or key; other
/// text is left to the byte mutators.
fn mutate_json(bytes: &mut Vec<u8>, rng: &mut Rng) {
    let Ok(text) = std::str::from_utf8(bytes) else { return replace_number(bytes, rng) };
    let mut lines: Vec<String> =
        if text.trim_start().starts_with('{') && text.lines().count() > 1 && !text.contains("\n  ") {
            text.lines().map(str::to_string).collect()
        } else {
            vec![text.to_string()]
        };
    let i = rng.below(lines.len());
    let Ok(mut value) = serde_json::from_str::<Value>(&lines[i]) else { return replace_number(bytes, rng) };
    mutate_value(&mut value, rng);
    lines[i] = value.to_string();
    *bytes = lines.join("\n").into_bytes();
}

fn mutate_value(value: &mut Value, rng: &mut Rng) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = rng.pick(&keys).clone();
            match rng.below(6) {
                0 => {
                    map.remove(&key);
                }
                1 => {
                    let v = map.remove(&key).unwrap_or(Value::Null);
                    map.insert(format!("{key}{}", rng.pick(&["_", "x", "\u{feff}", " "])), v);
                }
                _ => mutate_value(map.get_mut(&key).expect("a key of the map"), rng),
            }
        }
        Value::Array(items) if !items.is_empty() && !rng.one_in(4) => {
            let i = rng.below(items.len());
            mutate_value(&mut items[i], rng);
        }
        _ => {
            *value = match rng.below(6) {
                0 => Value::Null,
                1 => Value::Bool(rng.one_in(2)),
                2 => Value::String(rng.pick(EXTREMES).to_string()),
                3 => Value::Array(vec![json_value(*rng.pick(EXTREMES))]),
                _ => json_value(*rng.pick(EXTREMES)),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_a_function_of_seed_and_index() {
        let seeds = Seeds::builtin();
        for i in 0..200 {
            assert_eq!(generate(&seeds, 5, i), generate(&seeds, 5, i));
        }
        let distinct: std::collections::BTreeSet<String> =
            (0..200).map(|i| generate(&seeds, 5, i).to_json().to_string()).collect();
        assert!(distinct.len() > 150, "{} distinct inputs of 200", distinct.len());
    }

    #[test]
    fn every_target_is_generated() {
        let seeds = Seeds::builtin();
        let targets: std::collections::BTreeSet<&str> =
            (0..500).map(|i| generate(&seeds, 1, i).target.name()).collect();
        assert_eq!(targets.len(), Target::ALL.len());
    }

    #[test]
    fn numbers_are_replaced_by_extremes() {
        let mut rng = Rng::for_execution(3, 0);
        let mut changed = 0;
        for _ in 0..50 {
            let mut bytes = b"a,b\n12,345\n".to_vec();
            replace_number(&mut bytes, &mut rng);
            changed += usize::from(bytes != b"a,b\n12,345\n");
        }
        assert!(changed > 40);
    }
}
