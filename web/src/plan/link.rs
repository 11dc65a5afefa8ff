//! The plan's share link: `?_search=<the spec's JSON>`. The run form's link reader skips keys
//! that start with `_`, so a plan link does not disturb it (and a run link has no `_search`).

use crate::share::{decode, encode};

/// The query key.
pub const KEY: &str = "_search";

/// The query string (without `?`) carrying `spec`.
pub fn to_query(spec: &serde_json::Value) -> String {
    format!("{KEY}={}", encode(&spec.to_string()))
}

/// The spec a query string carries, if any (or why it cannot be read).
pub fn from_query(query: &str) -> Option<Result<serde_json::Value, String>> {
    query.trim_start_matches('?').split('&').find_map(|part| {
        let (key, value) = part.split_once('=')?;
        (decode(key) == KEY).then(|| {
            serde_json::from_str(&decode(value))
                .map_err(|e| format!("the link's search spec is not valid JSON: {e}"))
        })
    })
}
