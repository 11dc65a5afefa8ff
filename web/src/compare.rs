//! A/B pairs: the form a preset's variant runs, the settings two runs differ in, and names
//! and labels for the two sides.

use llmsim_engine::{Config, FlagValue};
use llmsim_engine::{FlagKind, all_flags, config::is_active};

use crate::form::FormState;
use crate::presets::Variant;

/// What a setting shows on the side it does not apply to (another policy's flag).
pub const NOT_APPLICABLE: &str = "–";

/// The form run B runs: `base` with the variant's overrides.
pub fn variant_form(base: &FormState, variant: &Variant) -> FormState {
    let mut form = base.clone();
    for (flag, text) in variant.overrides {
        form.set(flag, text);
    }
    form
}

/// A setting in which two runs differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingDiff {
    /// The flag.
    pub flag: &'static str,
    /// A's value, [`NOT_APPLICABLE`] where the flag does not apply to A.
    pub a: String,
    /// B's value, likewise.
    pub b: String,
    /// Whether the flag picks a policy or mode (a choice), rather than a number or a path.
    pub is_choice: bool,
}

/// The settings in which two runs differ, in flag-table order, from their `(flag, text)` pairs
/// (what a share link carries; flags left out are at their defaults). Flags that apply to
/// neither run are skipped.
pub fn settings_diff(a: &[(String, String)], b: &[(String, String)]) -> Vec<SettingDiff> {
    let config = |pairs: &[(String, String)]| {
        Config::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap_or_default()
    };
    let (a, b) = (config(a), config(b));
    let shown = |config: &Config, flag: &str| match config.get(flag) {
        _ if !is_active(config, flag) => NOT_APPLICABLE.to_string(),
        FlagValue::None => "none".to_string(),
        value => value.to_text(),
    };
    all_flags()
        .iter()
        .filter_map(|def| {
            let (va, vb) = (shown(&a, def.name), shown(&b, def.name));
            (va != vb).then_some(SettingDiff {
                flag: def.name,
                a: va,
                b: vb,
                is_choice: matches!(def.kind, FlagKind::Choice(_)),
            })
        })
        .collect()
}

/// Short names for A and B: the policies and modes they differ in (e.g. `vllm_v1` and
/// `sarathi`), else their first differing setting as `flag=value`; `None` when their settings
/// are the same.
pub fn side_names(diff: &[SettingDiff]) -> Option<(String, String)> {
    let choices: Vec<&SettingDiff> =
        diff.iter().filter(|d| d.is_choice && d.a != NOT_APPLICABLE && d.b != NOT_APPLICABLE).collect();
    if !choices.is_empty() {
        let join =
            |side: fn(&SettingDiff) -> &str| choices.iter().map(|d| side(d)).collect::<Vec<_>>().join(", ");
        return Some((join(|d| &d.a), join(|d| &d.b)));
    }
    diff.first().map(|d| (format!("{}={}", d.flag, d.a), format!("{}={}", d.flag, d.b)))
}

/// The runs-list labels of a pair: `base`, then the side and its name from [`side_names`]
/// (`… · A: vllm_v1`, `… · B: sarathi`).
pub fn pair_labels(base: &str, diff: &[SettingDiff]) -> (String, String) {
    match side_names(diff) {
        Some((a, b)) => (format!("{base} · A: {a}"), format!("{base} · B: {b}")),
        None => (format!("{base} · A"), format!("{base} · B")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_variant_changes_only_its_overrides() {
        let (base, _) = FormState::from_pairs([
            ("replica_scheduler_config_type", "vllm_v1"),
            ("cluster_config_num_replicas", "4"),
        ]);
        let variant = Variant {
            name: "sarathi",
            overrides: &[
                ("replica_scheduler_config_type", "sarathi"),
                ("sarathi_scheduler_config_chunk_size", "1024"),
            ],
        };
        let b = variant_form(&base, &variant);
        let diff = settings_diff(&base.active_pairs(), &b.active_pairs());
        let flags: Vec<&str> = diff.iter().map(|d| d.flag).collect();
        assert!(flags.contains(&"replica_scheduler_config_type"), "{diff:?}");
        assert!(flags.contains(&"sarathi_scheduler_config_chunk_size"), "{diff:?}");
        assert!(!flags.contains(&"cluster_config_num_replicas"), "{diff:?}");
        let chunk = diff.iter().find(|d| d.flag == "sarathi_scheduler_config_chunk_size").unwrap();
        assert_eq!(
            (chunk.a.as_str(), chunk.b.as_str()),
            (NOT_APPLICABLE, "1024"),
            "sarathi's flag does not apply to A"
        );
        // vllm_v1's own flags apply to A only, even at their defaults.
        assert!(diff.iter().any(|d| d.flag.starts_with("vllm_v1_") && d.b == NOT_APPLICABLE), "{diff:?}");
        assert_eq!(side_names(&diff), Some(("vllm_v1".to_string(), "sarathi".to_string())));
        assert_eq!(
            pair_labels("4 × H100", &diff),
            ("4 × H100 · A: vllm_v1".to_string(), "4 × H100 · B: sarathi".to_string())
        );
    }

    #[test]
    fn numbers_name_the_sides_when_no_choice_differs() {
        let diff = settings_diff(&pairs(&[("seed", "1")]), &pairs(&[("seed", "2")]));
        assert_eq!(diff.len(), 1, "{diff:?}");
        assert_eq!(side_names(&diff), Some(("seed=1".to_string(), "seed=2".to_string())));
        let same = settings_diff(&pairs(&[("seed", "1")]), &pairs(&[("seed", "1")]));
        assert!(same.is_empty());
        assert_eq!(side_names(&same), None);
        assert_eq!(pair_labels("run", &same), ("run · A".to_string(), "run · B".to_string()));
    }
}
