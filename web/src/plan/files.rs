//! The files a search reads that the page does not ship: traces and configs uploaded in the
//! Single run form (a trace's lengths feeding the synthetic workload, a pasted config.json).
//! The search's workers each read them before their first job, from the same browser `File`s
//! the single run's worker read (`worker_client::uploaded_file`, wasm only); a file that is not
//! uploaded is an error at the form's workload.

use llmsim_engine::search::SearchSpec;
use llmsim_engine::{SimConfig, catalog};

use super::form::Field;
use crate::presets;

/// The `(flag, path)` of every file some configuration of `spec` reads that the page does not
/// ship, each path once, in first-use order.
pub fn uploaded_files(spec: &SearchSpec) -> Vec<(&'static str, String)> {
    let mut files: Vec<(&'static str, String)> = Vec::new();
    for c in 0..spec.num_configurations() {
        for (flag, path) in SimConfig::required_files_with(&spec.point_config(c), &catalog::index::Index) {
            if !path.is_empty() && !presets::is_shipped(&path) && !files.iter().any(|(_, p)| *p == path) {
                files.push((flag, path));
            }
        }
    }
    files
}

/// An error at the workload for each file the search reads that `is_uploaded` says is not.
pub fn missing_uploads(spec: &SearchSpec, is_uploaded: &dyn Fn(&str) -> bool) -> Vec<(Field, String)> {
    uploaded_files(spec)
        .into_iter()
        .filter(|(_, path)| !is_uploaded(path))
        .map(|(flag, path)| {
            (
                Field::Base,
                format!(
                    "base.{flag}: the search reads {path}, which is not uploaded: choose it in the Single run form (files never leave this machine)"
                ),
            )
        })
        .collect()
}
