//! The benchmark scenarios in wasm: `run.mjs` (Node.js, V8 — Chromium's engine) reads the
//! traces, calls [`measure_scenario`] once per scenario in a fresh instance, and prints the
//! figures as JSON for `llmsim-bench --wasm` to put beside the native ones.

use llmsim_bench::{Host, Scale, measure, scenario};
use peak_alloc::PeakAlloc;
use wasm_bindgen::prelude::*;

#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

#[wasm_bindgen]
extern "C" {
    /// `performance.now()`: milliseconds, sub-millisecond resolution.
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

/// The wasm host: the JS clock and the counting allocator.
struct WasmHost;

impl Host for WasmHost {
    fn now_s(&self) -> f64 {
        performance_now() / 1e3
    }
    fn allocator(&self) -> &'static PeakAlloc {
        &ALLOCATOR
    }
}

fn parse_scale(scale: &str) -> Scale {
    if scale == "quick" { Scale::Quick } else { Scale::Full }
}

/// Bytes of linear memory now; it only grows, so this is its peak.
#[wasm_bindgen]
pub fn linear_memory_bytes() -> f64 {
    #[cfg(target_arch = "wasm32")]
    return (core::arch::wasm32::memory_size(0) * 65536) as f64;
    #[cfg(not(target_arch = "wasm32"))]
    return 0.0;
}

/// The files scenario `name` reads, as a JSON array of paths.
#[wasm_bindgen]
pub fn scenario_files(name: &str, scale: &str, shared: &str) -> Result<String, String> {
    let s = scenario(name, parse_scale(scale), shared).ok_or_else(|| format!("unknown scenario {name}"))?;
    Ok(serde_json::to_string(&s.files()).expect("serialises"))
}

/// Measures scenario `name` `repeats` times; `paths` and `texts` are its files, in the order
/// [`scenario_files`] gave. Returns the `Measurement` as JSON.
#[wasm_bindgen]
pub fn measure_scenario(
    name: &str,
    scale: &str,
    shared: &str,
    repeats: u32,
    paths: Vec<String>,
    texts: Vec<String>,
) -> Result<String, String> {
    let s = scenario(name, parse_scale(scale), shared).ok_or_else(|| format!("unknown scenario {name}"))?;
    let files = paths.into_iter().zip(texts).collect();
    let m = measure(&s, files, repeats, "wasm", &WasmHost)?;
    Ok(serde_json::to_string(&m).expect("serialises"))
}
