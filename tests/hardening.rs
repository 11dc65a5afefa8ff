//! Hostile inputs (issue 15, INV-10 and INV-11): each class the hostile-input campaign found
//! — token counts wrapping at 2^32, a few bytes asking for gigabytes, duration-bounded
//! workloads that never end, model arithmetic wrapping, errors pointing at the wrong place — as
//! a minimal input that is now refused with a clear error naming its flag (or file, row and
//! column), or runs correctly. Output-directory safety is tested on the binary
//! (`crates/cli/tests/cli.rs`); the fuzz harness (`crates/fuzz`) drives the same entry points
//! with mutated inputs.

use llmsim_engine::limits::{MAX_CONFIG_KEYS, MAX_REQUEST_TOKENS};
use llmsim_engine::{Config, ConfigError, Inputs, SimConfig, Simulation};
use llmsim_tests::{check_report_bounds, check_report_invariants, config, run_checked};

/// The errors of building `pairs` with `files` (path, text) as inputs; panics if it builds.
fn refused(pairs: &[(&str, &str)], files: &[(&str, &str)]) -> Vec<ConfigError> {
    let mut inputs = Inputs::new();
    for (path, text) in files {
        inputs.add_text(*path, *text);
    }
    match SimConfig::build(&config(pairs), &inputs) {
        Ok(_) => panic!("{pairs:?} should be refused"),
        Err(e) => e.0,
    }
}

/// The one error of `refused`, as `(flag, message)`.
fn one_error(pairs: &[(&str, &str)], files: &[(&str, &str)]) -> (String, String) {
    let errors = refused(pairs, files);
    assert_eq!(errors.len(), 1, "{errors:?}");
    (errors[0].flag.clone(), errors[0].message.clone())
}

const REPLAY: (&str, &str) = ("request_generator_config_type", "trace");
const REPLAY_FILE: &str = "trace_request_generator_config_trace_file";

// Class 1: token counts wrapped at 2^32.

#[test]
fn a_prompt_of_2_to_the_32_tokens_is_refused_at_its_row() {
    // It "completed" in 38 ms with request_num_tokens = 0 and 1.1e11 input tokens/s.
    let trace = "arrived_at,num_prefill_tokens,num_decode_tokens\n0,4294967295,1\n";
    let (flag, message) = one_error(&[REPLAY, (REPLAY_FILE, "t.csv")], &[("t.csv", trace)]);
    assert_eq!(flag, REPLAY_FILE);
    assert_eq!(
        message,
        "t.csv, row 2, column 'num_prefill_tokens': '4294967295' tokens is more than the largest request llmsim simulates (16777216 tokens)"
    );
    // A sum that wrapped to a small number (and restarted forever) is refused the same way.
    let trace = "arrived_at,num_prefill_tokens,num_decode_tokens\n0,16777000,1000\n";
    let (_, message) = one_error(&[REPLAY, (REPLAY_FILE, "t.csv")], &[("t.csv", trace)]);
    assert!(message.starts_with("t.csv, row 2, column 'num_decode_tokens': num_prefill_tokens 16777000 + num_decode_tokens 1000 = 16778000 tokens"), "{message}");
}

#[test]
fn a_scale_factor_that_pushes_a_request_past_the_limit_is_named() {
    let trace = "arrived_at,num_prefill_tokens,num_decode_tokens\n0,100,10\n1,200,20\n";
    let pairs =
        [REPLAY, (REPLAY_FILE, "t.csv"), ("trace_request_generator_config_prefill_scale_factor", "1e9")];
    let (flag, message) = one_error(&pairs, &[("t.csv", trace)]);
    assert_eq!(flag, "trace_request_generator_config_prefill_scale_factor");
    assert_eq!(
        message,
        "t.csv, row 2: prompt 100 × 1000000000 + output 10 × 1 = 100000000010 tokens is more than the largest request llmsim simulates (16777216 tokens)"
    );
    // The length generator's scale factors are held to the same limit.
    let pairs = [
        ("length_generator_config_type", "trace"),
        ("trace_request_length_generator_config_trace_file", "t.csv"),
        ("trace_request_length_generator_config_decode_scale_factor", "1e300"),
    ];
    let (flag, _) = one_error(&pairs, &[("t.csv", trace)]);
    assert_eq!(flag, "trace_request_length_generator_config_decode_scale_factor");
    // Fixed lengths: each alone within the limit, their sum not.
    let half = (MAX_REQUEST_TOKENS / 2 + 1).to_string();
    let pairs = [
        ("length_generator_config_type", "fixed"),
        ("fixed_request_length_generator_config_prefill_tokens", half.as_str()),
        ("fixed_request_length_generator_config_decode_tokens", half.as_str()),
    ];
    let (flag, message) = one_error(&pairs, &[]);
    assert_eq!(flag, "fixed_request_length_generator_config_prefill_tokens");
    assert!(message.contains("more than the largest request llmsim simulates"), "{message}");
}

#[test]
fn the_largest_request_runs_and_is_refused_for_want_of_kv_not_wrapped() {
    let largest = MAX_REQUEST_TOKENS - 1;
    let trace = format!("arrived_at,num_prefill_tokens,num_decode_tokens\n0,{largest},1\n0,100,10\n");
    let mut inputs = Inputs::new();
    inputs.add_text("t.csv", trace);
    let report = run_checked(&config(&[REPLAY, (REPLAY_FILE, "t.csv")]), &inputs);
    check_report_invariants(&report).unwrap();
    assert_eq!((report.summary.num_completed, report.summary.num_refused), (1, 1));
}

// Class 2: a few bytes asking for gigabytes.

#[test]
fn a_trace_block_size_of_gigatokens_is_refused_at_its_row() {
    let trace = "arrived_at,num_prefill_tokens,num_decode_tokens,block_size,block_hash_ids\n0,100,10,1073741824,[1]\n";
    let pairs = [
        REPLAY,
        (REPLAY_FILE, "t.csv"),
        ("cache_config_enable_prefix_caching", "true"),
        ("cache_config_block_size", "1"),
    ];
    let (flag, message) = one_error(&pairs, &[("t.csv", trace)]);
    assert_eq!(flag, REPLAY_FILE);
    assert!(
        message.starts_with(
            "t.csv, row 2, column 'block_size': 1073741824 tokens is more than the largest block size"
        ),
        "{message}"
    );
}

#[test]
fn coarse_trace_blocks_at_a_fine_engine_block_size_take_only_the_request_s_ids() {
    // 65,536-token trace blocks split into 1-token engine blocks: 65,536 ids for each trace id
    // before, now only the request's 110.
    let trace = "arrived_at,num_prefill_tokens,num_decode_tokens,session_id,block_size,block_hash_ids\n0,100,10,1,65536,[1]\n1,100,10,1,65536,[1]\n";
    let pairs = [
        REPLAY,
        (REPLAY_FILE, "t.csv"),
        ("cache_config_enable_prefix_caching", "true"),
        ("cache_config_block_size", "1"),
    ];
    let mut inputs = Inputs::new();
    inputs.add_text("t.csv", trace);
    let report = run_checked(&config(&pairs), &inputs);
    check_report_invariants(&report).unwrap();
    assert_eq!(report.summary.num_completed, 2);
    assert_eq!(
        report.summary.prefix_cached_prompt_tokens, 99,
        "the second request reuses the first's prompt"
    );
}

#[test]
fn a_million_qps_for_a_minute_is_refused_by_its_memory_estimate() {
    // It aborted at 2.6 GB.
    let pairs = [
        ("synthetic_request_generator_config_num_requests", "none"),
        ("synthetic_request_generator_config_duration", "60"),
        ("poisson_request_interval_generator_config_qps", "1e6"),
    ];
    let (flag, message) = one_error(&pairs, &[]);
    assert_eq!(flag, "synthetic_request_generator_config_num_requests");
    assert!(
        message.starts_with("the run would need about 23.6 GiB (requests 23.6 GiB,")
            && message.ends_with("more than its budget of 4.0 GiB"),
        "{message}"
    );
    // A larger budget takes it.
    let sim = SimConfig::build_with_budget(&config(&pairs), &Inputs::new(), 32 << 30).unwrap();
    // Poisson gaps cut at 3/qps average (1 − e⁻³)/qps = 950.2 ns, less the half nanosecond
    // rounding may take: 63,176,985 arrivals on average, planned with six standard deviations
    // (6·√mean ≈ 47,691) and the constant terms of the count's upper bound (20·cv² + 1 = 21).
    assert_eq!(sim.memory_estimate.requests, 63_224_697 * 400);
}

#[test]
fn a_configuration_of_two_hundred_thousand_keys_is_refused_unread() {
    let mut json = String::from("{");
    for i in 0..200_000 {
        json.push_str(&format!("\"flag_{i}\": 1,"));
    }
    json.push_str("\"seed\": 1}");
    let started = std::time::Instant::now();
    let e = Config::from_json_str(&json).unwrap_err();
    assert_eq!(e.0.len(), 1);
    assert_eq!(e.0[0].message, "is 3.1 MiB, more than the 1.0 MiB a configuration may take",);
    // Within the size, the key count is bounded.
    let keys: Vec<(String, String)> =
        (0..MAX_CONFIG_KEYS + 1).map(|i| (format!("x{i}"), "1".into())).collect();
    let e = Config::from_pairs(keys.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap_err();
    assert_eq!(
        e.0.last().unwrap().message,
        format!("has {} keys, more than the {MAX_CONFIG_KEYS} a configuration may have", MAX_CONFIG_KEYS + 1)
    );
    let small: String =
        format!("{{{}}}", (0..5000).map(|i| format!("\"k{i}\":1")).collect::<Vec<_>>().join(","));
    let e = Config::from_json_str(&small).unwrap_err();
    assert_eq!(
        e.0[0].message,
        format!("has 5000 keys, more than the {MAX_CONFIG_KEYS} a configuration may have")
    );
    eprintln!("refused in {:?}", started.elapsed());
}

// Class 3: duration-bounded workloads whose gaps round to zero.

#[test]
fn equal_arrivals_with_a_duration_are_refused_as_never_ending() {
    let pairs = [
        ("synthetic_request_generator_config_num_requests", "none"),
        ("synthetic_request_generator_config_duration", "10"),
        ("interval_generator_config_type", "trace"),
        ("trace_request_interval_generator_config_trace_file", "a.csv"),
    ];
    let (flag, message) = one_error(&pairs, &[("a.csv", "arrived_at\n5\n5\n5\n")]);
    assert_eq!(flag, "trace_request_interval_generator_config_time_scale_factor");
    assert_eq!(
        message,
        "the gaps between arrivals round to 0 ns: arrivals would never pass the duration of 10 s"
    );
    // Bounded by a count instead, they all arrive at once and the run ends.
    let mut inputs = Inputs::new();
    inputs.add_text("a.csv", "arrived_at\n5\n5\n5\n");
    let counted = [("synthetic_request_generator_config_num_requests", "6"), pairs[2], pairs[3]];
    assert_eq!(run_checked(&config(&counted), &inputs).summary.num_completed, 6);
}

#[test]
fn a_qps_of_1e18_with_a_duration_is_refused() {
    for (interval, qps_flag) in [
        ("poisson", "poisson_request_interval_generator_config_qps"),
        ("uniform", "uniform_request_interval_generator_config_qps"),
        ("gamma", "gamma_request_interval_generator_config_qps"),
    ] {
        let pairs = [
            ("synthetic_request_generator_config_num_requests", "none"),
            ("synthetic_request_generator_config_duration", "1"),
            ("interval_generator_config_type", interval),
            (qps_flag, "1e18"),
        ];
        let (flag, message) = one_error(&pairs, &[]);
        assert_eq!(flag, qps_flag);
        assert!(
            message.contains("more than the 100000000 a run simulates") || message.contains("round to 0 ns"),
            "{interval}: {message}"
        );
    }
}

/// Found by the fuzz campaign (seed 502): gamma arrivals with cv = 65535 over a 5 s duration
/// were planned at the mean count (1 request) while the ~cv² near-zero gaps before each long
/// one brought thousands, past the workload's bound and its memory estimate. Now the count a
/// duration may hold is bounded with the gaps' spread, and arrivals that bursty are refused.
#[test]
fn bursty_gamma_arrivals_over_a_duration_are_bounded_by_their_spread() {
    let pairs = [
        ("synthetic_request_generator_config_num_requests", "none"),
        ("synthetic_request_generator_config_duration", "5"),
        ("interval_generator_config_type", "gamma"),
        ("gamma_request_interval_generator_config_cv", "65535"),
    ];
    let (flag, message) = one_error(&pairs, &[]);
    assert_eq!(flag, "gamma_request_interval_generator_config_cv");
    assert!(
        message.starts_with(
            "arrivals this bursty (cv = 65535) could bring up to 8.590e10 requests within a duration of 5 s"
        ),
        "{message}"
    );
    // Bounded by a count as well, the same arrivals run, and every one is accounted for.
    let counted = [("synthetic_request_generator_config_num_requests", "3000"), pairs[1], pairs[2], pairs[3]];
    let report = run_checked(&config(&counted), &Inputs::new());
    assert!(report.summary.num_requests <= 3000);
    // Bursty but plausible arrivals (cv 3: 10,000 on average over 10 s at 1,000 QPS, a count
    // spread of ±300) run on the duration alone and never bring more than they were planned
    // with, although some seeds bring more than the mean count the plan used to be.
    let mut above_mean = 0;
    for seed in ["1", "2", "3", "4"] {
        let bursty = [
            pairs[0],
            ("synthetic_request_generator_config_duration", "10"),
            pairs[2],
            ("gamma_request_interval_generator_config_cv", "3"),
            ("gamma_request_interval_generator_config_qps", "1000"),
            ("gamma_request_interval_generator_config_seed", seed),
            ("metrics_config_store_request_metrics", "false"),
        ];
        let built = SimConfig::build(&config(&bursty), &Inputs::new()).expect("builds");
        let planned = built.workload.build.estimated_requests;
        assert_eq!(planned, 11_982, "10,000 + 6·3·√(10,000·1e9/(1e9 − 0.5)) + 20·9 + 1, rounded up");
        let arrived = run_checked(&config(&bursty), &Inputs::new()).summary.num_requests;
        assert!(arrived <= planned, "seed {seed}: {arrived} > {planned}");
        above_mean += usize::from(arrived > 10_000);
    }
    assert!(above_mean > 0, "no seed brought more than the mean: the test would not catch a mean-count plan");
}

// Class 5: model arithmetic.

const MODEL: (&str, &str) = ("replica_config_model_config_file", "m.json");

fn model_error(json: &str) -> String {
    let (flag, message) = one_error(&[MODEL], &[("m.json", json)]);
    assert_eq!(flag, "replica_config_model_config_file");
    message
}

#[test]
fn a_model_of_2_to_the_31_layers_is_refused_not_fitted_with_zero_kv_bytes() {
    let json = r#"{"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 2147483648,
        "num_attention_heads": 32, "intermediate_size": 11008, "vocab_size": 32000}"#;
    assert_eq!(
        model_error(json),
        "m.json: field 'num_hidden_layers' = 2147483648 is more than the 4096 llmsim models"
    );
    let json = r#"{"model_type": "llama", "hidden_size": 1048576, "num_hidden_layers": 4096,
        "num_attention_heads": 16384, "intermediate_size": 1048576, "vocab_size": 32000}"#;
    assert!(
        model_error(json).starts_with("m.json: the model would have about 3.153e16 parameters"),
        "{}",
        model_error(json)
    );
    // A field derived from another (GPT-2-like families' MLP is 4 × hidden) wrapped before the
    // limits were checked: found by the fuzz harness.
    let json = r#"{"hidden_size": 1073741824, "model_type": "falcon", "num_attention_heads": 8, "num_hidden_layers": 2, "vocab_size": 6}"#;
    assert_eq!(
        model_error(json),
        "m.json: field 'hidden_size' = 1073741824 is more than the 1048576 llmsim models"
    );
    let json = r#"{"model_type": "mixtral", "hidden_size": 4096, "num_hidden_layers": 32,
        "num_attention_heads": 32, "intermediate_size": 14336, "vocab_size": 32000,
        "num_local_experts": 8, "num_experts_per_tok": 9}"#;
    assert_eq!(
        model_error(json),
        "m.json: field 'num_experts_per_tok' = 9 is more than the model's 8 experts"
    );
}

#[test]
fn a_latent_attention_rank_beyond_the_limits_is_refused_naming_its_field() {
    // Latent attention was refused outright when this class was found (its message wrapped a
    // head count); now that it is modelled, its own sizes pass the same limits as the rest.
    let json = r#"{"model_type": "deepseek_v3", "hidden_size": 4096, "num_hidden_layers": 4,
        "num_attention_heads": 32, "intermediate_size": 11008, "vocab_size": 32000,
        "kv_lora_rank": 18446744073709551615, "q_lora_rank": 1536, "qk_nope_head_dim": 128,
        "qk_rope_head_dim": 64, "v_head_dim": 128}"#;
    let message = model_error(json);
    assert!(message.contains("'kv_lora_rank'"), "{message}");
    assert!(message.contains("18446744073709551615"), "the value as given, not wrapped: {message}");
}

// Class 6: errors that pointed at the wrong place.

#[test]
fn a_gamma_qps_out_of_range_is_blamed_on_qps_not_cv() {
    let pairs = [
        ("interval_generator_config_type", "gamma"),
        ("gamma_request_interval_generator_config_qps", "1e308"),
    ];
    let (flag, message) = one_error(&pairs, &[]);
    assert_eq!(flag, "gamma_request_interval_generator_config_qps");
    assert!(message.starts_with("qps = 1e308 with cv = 0.5 gives a gamma scale"), "{message}");
    let pairs = [
        ("interval_generator_config_type", "gamma"),
        ("gamma_request_interval_generator_config_cv", "1e-200"),
    ];
    assert_eq!(one_error(&pairs, &[]).0, "gamma_request_interval_generator_config_cv");
}

#[test]
fn a_byte_order_mark_is_accepted_in_a_config_as_in_traces() {
    let c = Config::from_json_str("\u{feff}{\"seed\": 3}").unwrap();
    assert_eq!(c.get("seed").to_text(), "3");
    let json = "\u{feff}{\"model_type\": \"llama\", \"hidden_size\": 64, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"intermediate_size\": 128, \"vocab_size\": 100}";
    let mut inputs = Inputs::new();
    inputs.add_text("m.json", json);
    SimConfig::build(&config(&[MODEL]), &inputs).unwrap();
}

#[test]
fn a_trace_with_cr_line_endings_names_the_right_row() {
    let trace = "arrived_at,num_prefill_tokens,num_decode_tokens\r0,1,1\r1,1,1\r2,x,1\r";
    let (_, message) = one_error(&[REPLAY, (REPLAY_FILE, "t.csv")], &[("t.csv", trace)]);
    assert_eq!(message, "t.csv, row 4, column 'num_prefill_tokens': 'x' is not a number");
}

#[test]
fn a_trace_that_is_not_utf8_names_its_row_and_column() {
    let mut inputs = Inputs::new();
    inputs.add_bytes("t.csv", b"arrived_at,num_prefill_tokens,num_decode_tokens\n0,1,1\n1,1,\xe9\n".to_vec());
    let e = SimConfig::build(&config(&[REPLAY, (REPLAY_FILE, "t.csv")]), &inputs).unwrap_err();
    assert_eq!(
        e.to_string(),
        "--trace_request_generator_config_trace_file: cannot read t.csv: row 3, column 'num_decode_tokens', byte 5: the file is not UTF-8 text (save it as UTF-8)"
    );
}

// INV-11: the report's figures are plausible.

#[test]
fn implausible_figures_are_caught() {
    let sim_config = SimConfig::build(
        &config(&[("synthetic_request_generator_config_num_requests", "16")]),
        &Inputs::new(),
    )
    .unwrap();
    let report = Simulation::new(&sim_config).run_to_report();
    check_report_bounds(&report, &sim_config).unwrap();
    let mut nan = report.clone();
    nan.summary.ttft_s.p99 = f64::NAN;
    assert!(check_report_bounds(&nan, &sim_config).unwrap_err().contains("ttft_s has a NaN"));
    let mut fast = report.clone();
    fast.summary.simulated_time_s /= 1e6;
    assert!(check_report_bounds(&fast, &sim_config).unwrap_err().contains("could compute"));
    let mut wrapped = report.clone();
    wrapped.summary.throughput.input_tokens_per_s = -1.0;
    assert!(check_report_bounds(&wrapped, &sim_config).is_err());
}
