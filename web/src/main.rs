//! The page (filled by the web app).
fn main() {}
