//! Inputs the long campaign found (minimised `case.json` files in `crates/fuzz/regressions/`),
//! replayed in process: each must now be refused or run, never a finding. Test builds check
//! overflow, as the fuzz profile does, so an arithmetic overflow fails here as a panic.

use llmsim_fuzz::{Case, ExecLimits, Verdict, execute};

fn replay(name: &str) -> Verdict {
    replay_with(name, &ExecLimits::default())
}

/// `replay` under the given limits (e.g. the campaign's event budget, where a finding showed).
fn replay_with(name: &str, limits: &ExecLimits) -> Verdict {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let case = Case::from_json(&json).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    execute(&case, limits)
}

/// A `--..._end_time` of ~1e300 s on a trace of date-times: the bound saturates to "none"
/// instead of overflowing `earliest + seconds` (workload/interval.rs).
#[test]
fn an_arrival_window_bound_of_huge_seconds_on_date_times_does_not_overflow() {
    let verdict = replay("arrivals_window_seconds_overflow.json");
    assert!(!matches!(verdict, Verdict::Finding(_)), "{verdict:?}");
}

/// SGLang's memory reserve multiplies TP × PP as floats, not as u32 (serving_engine.rs).
#[test]
fn sglang_reserve_with_huge_tp_times_pp_does_not_overflow() {
    let verdict = replay("sglang_reserve_tp_pp_overflow.json");
    assert!(!matches!(verdict, Verdict::Finding(_)), "{verdict:?}");
}

/// A compute-bound MoE model (8 experts, top 2) on a device of 1e-9 TFLOP/s reported an MFU of
/// 250 %: the MFU numerator counted every routed expert's weights per token while the
/// execution-time model charges only the `top_k` a token is sent to (memory.rs,
/// `active_params_per_layer`).
#[test]
fn moe_mfu_counts_only_the_experts_a_token_is_routed_to() {
    let verdict = replay("moe_mfu_counts_every_expert.json");
    assert!(matches!(verdict, Verdict::Accepted { .. }), "{verdict:?}");
}

/// SGLang with 16-token pages: a 338-token prompt in 21-token chunks on exactly 22 pages held
/// every page after 337 tokens, and its last token never ran (room counted only free pages,
/// not what was left of the prompt's last one): the run ran out of events with the request
/// unfinished. Found by the property test; the fuzzer did not flag a run ending with requests
/// left over until this case.
#[test]
fn sglang_s_last_chunk_fits_in_the_page_the_prompt_holds() {
    let verdict = replay("sglang_last_chunk_in_held_page.json");
    assert!(matches!(verdict, Verdict::Accepted { .. }), "{verdict:?}");
}

/// Llama-3.1-8B prompts of up to 1.2 M tokens (lightllm, uniform lengths), cut at 2,000 events
/// as the campaign runs: a mean MFU of 118 %. The MFU numerator counted a prefill chunk's
/// attention over the full n × (n + processed) square (Vidur's formula) while the execution
/// model times the causal triangle n × (processed + (n + 1) / 2); at these lengths attention
/// is most of the FLOPs (metrics/mod.rs, `on_stage_start`). Found by the 10 M campaign of
/// stop 25, seed 310.
#[test]
fn a_long_prompt_s_mfu_counts_causal_attention_pairs() {
    let verdict = replay_with(
        "prefill_mfu_counts_causal_pairs.json",
        &ExecLimits { max_events: 2_000, ..ExecLimits::default() },
    );
    assert!(matches!(verdict, Verdict::Accepted { .. }), "{verdict:?}");
}

/// Gamma arrivals with cv = 65535 over a 5 s duration (the 1 M campaign, seed 502): planned at
/// the mean count (one request), they brought 2,000 at once — about cv² gaps round to nothing
/// before each long one — past the workload's bound and its memory estimate
/// (workload/synthetic.rs, `check_request_count`). Now refused, naming the cv flag.
#[test]
fn bursty_gamma_arrivals_are_planned_with_their_spread() {
    let verdict = replay("gamma_burst_count_bound.json");
    assert!(matches!(verdict, Verdict::Refused), "{verdict:?}");
}

/// Static arrivals (every gap 0) with a count and a duration (the 1 M campaign, seed 503): the
/// count bound's spread term computed 0 · ∞ = NaN for a mean count of ∞ (gaps that round to
/// nothing), and the plan fell to 0 requests while 65,535 arrived (workload/interval.rs,
/// `count_upper_bound`). The count bounds them: accepted, and they all run.
#[test]
fn static_arrivals_with_a_count_and_a_duration_are_planned_at_the_count() {
    let verdict = replay("static_count_with_duration.json");
    assert!(matches!(verdict, Verdict::Accepted { .. }), "{verdict:?}");
}
