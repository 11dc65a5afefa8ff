//! Web Worker entry point (filled by the web app).
fn main() {}
