//! Vidur flags and choices llmsim knows only to refuse, with the reason, instead of calling
//! them unknown.

use super::ConfigError;

/// A Vidur flag llmsim does not implement. The parsers know it only to refuse it with a reason
/// ([`unsupported_flag`]) instead of calling it unknown.
#[derive(Clone, Copy, Debug)]
pub struct UnsupportedFlag {
    /// The flag name (without `--`).
    pub name: &'static str,
    /// A boolean (`--flag` / `--no-flag`) in Vidur.
    pub is_bool: bool,
}

/// Vidur's experimental disk KV cache (behaviour.md §5.4): no transfer cost is modelled, and a
/// debug loop in it can spin forever, so llmsim leaves it out rather than imitate it.
const DISK_CACHE: &str = "llmsim does not implement Vidur's experimental disk KV cache (the vllm_v1_disk scheduler, --cache_config_enable_disk_caching, --cache_config_disk_num_blocks)";
const DISK_CACHE_HINT: &str = "use --replica_scheduler_config_type vllm_v1, with --cache_config_enable_prefix_caching for the GPU prefix cache";

/// Every Vidur flag llmsim refuses as not supported.
pub const UNSUPPORTED_FLAGS: &[UnsupportedFlag] = &[
    UnsupportedFlag { name: "cache_config_enable_disk_caching", is_bool: true },
    UnsupportedFlag { name: "cache_config_disk_num_blocks", is_bool: false },
    UnsupportedFlag { name: "vllm_v1_disk_scheduler_config_chunk_size", is_bool: false },
    UnsupportedFlag { name: "vllm_v1_disk_scheduler_config_batch_size_cap", is_bool: false },
];

/// `(selector, value)` pairs of Vidur's that llmsim refuses as not supported.
const UNSUPPORTED_VALUES: &[(&str, &str)] = &[("replica_scheduler_config_type", "vllm_v1_disk")];

/// The error for setting the unsupported Vidur flag `name` to `text`, or `None` when `name` is
/// not such a flag. A boolean set to false (Vidur's default: the feature stays off) is accepted
/// as a no-op, so Vidur command lines that spell the default out still run; `Some(Ok(()))`.
pub fn unsupported_flag(name: &str, text: &str) -> Option<Result<(), ConfigError>> {
    let flag = UNSUPPORTED_FLAGS.iter().find(|f| f.name == name)?;
    if flag.is_bool && matches!(text.trim().to_ascii_lowercase().as_str(), "false" | "0" | "no" | "off") {
        return Some(Ok(()));
    }
    Some(Err(ConfigError::new(flag.name, format!("not supported: {DISK_CACHE}")).with_hint(DISK_CACHE_HINT)))
}

/// The error for choosing a value of `selector` that llmsim does not support.
pub(super) fn unsupported_value(selector: &str, value: &str) -> Option<ConfigError> {
    UNSUPPORTED_VALUES.iter().any(|(s, v)| *s == selector && *v == value).then(|| {
        ConfigError::new(selector, format!("'{value}' is not supported: {DISK_CACHE}"))
            .with_hint(DISK_CACHE_HINT)
    })
}
