//! `llmsim-calibrate`: regenerates `data/calibration.json` from ../shared/profiles and prints the
//! error table of the shipped coefficients.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use llmsim_calibrate::data::DataError;
use llmsim_calibrate::{
    Family, calibrate, calibrate_only, carry_over, check, parse_families, to_json, transfer,
};
use llmsim_engine::exec::calibration::Calibration;

const USAGE: &str =
    "usage: llmsim-calibrate <fit|check|transfer> [--shared DIR] [--out FILE] [--only FAMILIES]

  fit       fit every curve to the tables under DIR/profiles and write FILE
            (default: data/calibration.json). With --only mla,moe (comma-separated families),
            refit only those curves and keep every other curve of the existing FILE as it is
            (byte-identical); prints the refitted curves' error rows
  check     print the error table of the shipped data/calibration.json against every
            measured row (per device, op, dtype), then per token band (layer sums per model
            and TP, ops, chunk sizes, vLLM's layer GEMMs against AIC's tables), with the
            accuracy bounds; exit 1 on a miss
  transfer  fit on one model or device, test on others, print the transfer errors

DIR defaults to ../shared (the workplace's reference folder).";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut shared = PathBuf::from("../shared");
    let mut out = PathBuf::from("data/calibration.json");
    let mut command = None;
    let mut only: Option<Vec<Family>> = None;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--shared" | "--out" if i + 1 < args.len() => {
                let value = PathBuf::from(&args[i + 1]);
                if args[i] == "--shared" {
                    shared = value
                } else {
                    out = value
                }
                i += 2;
            }
            "--only" if i + 1 < args.len() => {
                match parse_families(&args[i + 1]) {
                    Ok(f) => only = Some(f),
                    Err(e) => {
                        eprintln!("llmsim-calibrate: {e}");
                        return ExitCode::from(2);
                    }
                }
                i += 2;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            c if command.is_none() && !c.starts_with('-') => {
                command = Some(c.to_string());
                i += 1;
            }
            other => {
                eprintln!("llmsim-calibrate: unexpected argument '{other}'\n\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    if !shared.join("profiles").is_dir() {
        eprintln!("llmsim-calibrate: {} has no profiles/ folder (pass --shared DIR)", shared.display());
        return ExitCode::from(2);
    }
    if only.is_some() && command.as_deref() != Some("fit") {
        eprintln!("llmsim-calibrate: --only applies to fit\n\n{USAGE}");
        return ExitCode::from(2);
    }
    let result = match (command.as_deref(), only) {
        (Some("fit"), Some(families)) => fit_only(&shared, &out, &families),
        (Some("fit"), None) => calibrate(&shared).and_then(|c| {
            let c = keep_curves_fitted_outside_shared(c, &out)?;
            std::fs::write(&out, to_json(&c)).map_err(|e| DataError(format!("{}: {e}", out.display())))?;
            println!("wrote {}", out.display());
            print!("{}", check::format_table(&check::error_table(&shared, &c)?));
            print!("\n{}", check::format_band_table(&check::band_table(&shared, &c)?));
            Ok(true)
        }),
        (Some("check"), _) => check::error_table(&shared, Calibration::embedded()).and_then(|rows| {
            print!("{}", check::format_table(&rows));
            let bands = check::band_table(&shared, Calibration::embedded())?;
            print!("\n{}", check::format_band_table(&bands));
            let failed: Vec<String> = bands
                .iter()
                .filter(|r| !r.passes())
                .map(|r| format!("{} {} {} {}", r.device, r.what, r.kernels, r.band))
                .collect();
            if !failed.is_empty() {
                println!("\noutside the per-band bounds: {}", failed.join("; "));
            }
            Ok(rows.iter().all(check::ErrorRow::passes) && failed.is_empty())
        }),
        (Some("transfer"), _) => transfer::transfer_table(&shared).map(|rows| {
            print!("{}", transfer::format_transfer(&rows));
            true
        }),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("llmsim-calibrate: {e}");
            ExitCode::from(1)
        }
    }
}

/// A full `fit` keeps the curves of the file it replaces that no table under `../shared` can
/// refit ([`llmsim_calibrate::FITTED_OUTSIDE_SHARED`]) and says so; with no file at `out` yet
/// there is nothing to keep.
fn keep_curves_fitted_outside_shared(fitted: Calibration, out: &Path) -> Result<Calibration, DataError> {
    let text = match std::fs::read_to_string(out) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(fitted),
        Err(e) => return Err(DataError(format!("{}: {e}", out.display()))),
    };
    let previous: Calibration = serde_json::from_str(&text)
        .map_err(|e| DataError(format!("{}: not a calibration: {e}", out.display())))?;
    let (kept, carried) = carry_over(&fitted, &previous);
    for (device, class) in carried {
        println!("kept {device} {class} from {} (fitted outside ../shared: data/README.md)", out.display());
    }
    Ok(kept)
}

/// `fit --only`: refits `families` into the calibration already at `out`.
fn fit_only(shared: &Path, out: &Path, families: &[Family]) -> Result<bool, DataError> {
    let text = std::fs::read_to_string(out).map_err(|e| {
        DataError(format!("{}: {e} (--only refits into an existing calibration)", out.display()))
    })?;
    let base: Calibration = serde_json::from_str(&text)
        .map_err(|e| DataError(format!("{}: not a calibration: {e}", out.display())))?;
    let refitted = calibrate_only(shared, &base, families)?;
    std::fs::write(out, to_json(&refitted)).map_err(|e| DataError(format!("{}: {e}", out.display())))?;
    let names: Vec<&str> = families.iter().map(|f| f.name()).collect();
    println!("wrote {} (refitted: {})", out.display(), names.join(", "));
    let mut rows = Vec::new();
    for &family in families {
        rows.extend(check::family_rows(shared, &refitted, family)?);
    }
    print!("{}", check::format_table(&rows));
    Ok(true)
}
