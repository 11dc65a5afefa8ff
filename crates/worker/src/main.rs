//! Entry point of the worker's wasm module: installs the message handler (natively a no-op,
//! so `cargo test --workspace` builds it).

fn main() {
    #[cfg(target_arch = "wasm32")]
    llmsim_worker::glue::run();
}
