//! Tests inside a real dedicated Web Worker (wasm-bindgen-test): reading an uploaded `File`
//! synchronously, fetching from the site, and running the engine in wasm.
#![cfg(target_arch = "wasm32")]

use llmsim_worker::glue;
use llmsim_worker::session::{Session, downloads, run_result};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

const TRACE: &str = "arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,100,10\n0.5,200,20\n1.0,300,5\n";

#[wasm_bindgen_test]
fn uploaded_files_are_read_and_parsed_in_the_worker() {
    let parts = js_sys::Array::of1(&TRACE.into());
    let file = web_sys::File::new_with_str_sequence(&parts, "t.csv").unwrap();
    let bytes = glue::read_file(&file).unwrap();
    assert_eq!(bytes, TRACE.as_bytes());
    let mut session = Session::new();
    let info =
        session.load("trace_request_generator_config_trace_file", "t.csv", bytes, &mut |_, _| {}).unwrap();
    assert_eq!(info.trace.unwrap().requests, 3);
    let config = serde_json::json!({
        "request_generator_config_type": "trace",
        "trace_request_generator_config_trace_file": "t.csv",
    });
    let mut sim = session.prepare(&config).unwrap();
    while !sim.run_for_events(10).finished {}
    let report = sim.finish();
    let result = run_result(&report, 0.0);
    assert!(result.summary_json.contains("\"num_completed\": 3"), "{}", result.summary_json);
    assert_eq!(downloads(&report).0.len(), 4);
}

#[wasm_bindgen_test]
async fn a_file_the_site_does_not_serve_is_an_error_not_a_panic() {
    let e = glue::fetch_bytes("data/traces/no_such_trace.csv").await.unwrap_err();
    assert!(e.contains("404"), "{e}");
}
