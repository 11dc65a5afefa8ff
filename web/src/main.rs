//! Entry point of the page's wasm module: mounts the app (natively a no-op, so
//! `cargo test --workspace` builds it).

fn main() {
    #[cfg(target_arch = "wasm32")]
    {
        std::panic::set_hook(Box::new(|info| {
            // panic = "abort" would otherwise show only "unreachable".
            web_sys::console::error_1(&format!("llmsim page panic: {info}").into());
        }));
        leptos::mount::mount_to_body(llmsim_web::app::App);
    }
}
