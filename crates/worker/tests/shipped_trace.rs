//! The page's shipped conversation trace is exactly what its generator writes, and the engine
//! reads it as a multi-turn trace with sessions and shared prefixes.
#![cfg(not(target_arch = "wasm32"))]

#[path = "../examples/gen_conversation_trace.rs"]
#[allow(dead_code)]
mod generator;

const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/traces/conversation_synth.csv");

#[test]
fn the_committed_trace_is_the_generators_output() {
    let committed = std::fs::read_to_string(SHIPPED).expect("data/traces/conversation_synth.csv exists");
    assert!(
        committed == generator::generate(),
        "data/traces/conversation_synth.csv differs from its generator: run `cargo run -p llmsim-worker --example gen_conversation_trace`"
    );
}

#[test]
fn the_trace_has_sessions_and_reused_prefixes() {
    let text = std::fs::read_to_string(SHIPPED).unwrap();
    let trace = llmsim_engine::parse_trace("conversation_synth.csv", &text, &mut |_| {}).unwrap();
    let summary = llmsim_worker::session::summarize(&trace);
    assert!(trace.has_arrivals() && trace.has_sessions() && trace.has_block_hashes());
    assert!(summary.requests >= 400 && summary.sessions.unwrap() >= 200, "{summary:?}");
    let reuse = summary.prefix_reuse_share.unwrap();
    assert!((0.3..0.8).contains(&reuse), "prefix reuse {reuse}");
    // Loosely Mooncake-like: medians of a few thousand prompt and a few hundred output tokens.
    assert!(
        (3000.0..9000.0).contains(&summary.input_tokens.as_ref().unwrap().p50),
        "{:?}",
        summary.input_tokens
    );
    assert!(
        (150.0..600.0).contains(&summary.output_tokens.as_ref().unwrap().p50),
        "{:?}",
        summary.output_tokens
    );
    assert!(text.len() <= 2 << 20, "keep the shipped trace small");
}
