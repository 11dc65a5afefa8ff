//! A user-described GPU (`--replica_config_device custom`): its flags and the reader that turns
//! them into a [`DeviceSpec`], borrowing a catalogued device's fitted efficiencies.

use crate::catalog::DeviceSpec;
use crate::config::{ConfigError, FlagDef, Params};

/// The device name that selects a user-described GPU.
pub const NAME: &str = "custom";

/// Flags describing a custom device (`--replica_config_device custom`).
pub const FLAGS: &[FlagDef] = &[
    FlagDef::float(
        "custom_device_config_fp16_tflops",
        "0",
        "Custom device: dense BF16/FP16 tensor TFLOP/s (datasheet, without sparsity).",
    ),
    FlagDef::opt_float(
        "custom_device_config_fp8_tflops",
        "none",
        "Custom device: dense FP8 tensor TFLOP/s; none = no FP8 tensor cores.",
    ),
    FlagDef::opt_float(
        "custom_device_config_fp4_tflops",
        "none",
        "Custom device: dense FP4 (NVFP4) tensor TFLOP/s; none = no FP4 tensor cores (fp4 weights then run at the FP16 rate).",
    ),
    FlagDef::float(
        "custom_device_config_memory_gb",
        "0",
        "Custom device: memory in GiB (2^30 bytes, which Vidur calls GB): enter the datasheet's figure, e.g. 80 for an 80 GB H100.",
    ),
    FlagDef::float(
        "custom_device_config_memory_bandwidth_gbps",
        "0",
        "Custom device: memory bandwidth in GB/s.",
    ),
    FlagDef::string(
        "custom_device_config_calibration",
        "h100",
        "Custom device: the catalogued GPU whose fitted efficiencies it borrows (the architecturally nearest one).",
    ),
];

/// Reads the custom device's flags, recording an error naming each bad one.
pub fn parse(p: &mut Params) -> Option<DeviceSpec> {
    let positive = |p: &mut Params, flag: &str, what: &str, max: f64| -> Option<f64> {
        let v = p.float(flag);
        if v > 0.0 && v <= max {
            return Some(v);
        }
        p.error(
            ConfigError::new(
                flag,
                format!("{v} is not a valid {what} for --replica_config_device custom (between 0 and {max})"),
            )
            .with_hint(format!("set --{flag} to the GPU's datasheet {what}")),
        );
        None
    };
    let fp16 = positive(p, "custom_device_config_fp16_tflops", "dense FP16 TFLOP/s", 1e5);
    let memory = positive(p, "custom_device_config_memory_gb", "memory size in GiB", 1e5);
    let bandwidth =
        positive(p, "custom_device_config_memory_bandwidth_gbps", "memory bandwidth in GB/s", 1e6);
    let optional_rate = |p: &mut Params, flag: &str, what: &str| {
        let rate = p.opt_float(flag);
        if let Some(v) = rate
            && !(v > 0.0 && v <= 1e5)
        {
            p.error(ConfigError::new(
                flag,
                format!("{v} is not a valid {what} TFLOP/s (between 0 and 100000, or none)"),
            ));
        }
        rate
    };
    let fp8 = optional_rate(p, "custom_device_config_fp8_tflops", "FP8");
    let fp4 = optional_rate(p, "custom_device_config_fp4_tflops", "FP4");
    let calibration = p.string("custom_device_config_calibration");
    let calibrated = &crate::exec::calibration::Calibration::embedded().devices;
    if !calibrated.iter().any(|d| d.device == calibration) {
        let names: Vec<&str> = calibrated.iter().map(|d| d.device.as_str()).collect();
        p.error(
            ConfigError::new(
                "custom_device_config_calibration",
                format!("'{calibration}' has no fitted efficiencies"),
            )
            .with_hint(format!("choose one of: {}", names.join(", "))),
        );
        return None;
    }
    Some(DeviceSpec {
        name: NAME.to_string(),
        display_name: format!("custom GPU ({:.0} TFLOP/s, {:.0} GB/s)", fp16?, bandwidth?),
        fp16_tflops: fp16?,
        fp8_tflops: fp8,
        fp4_tflops: fp4,
        memory_gb: memory?,
        memory_bandwidth_gbps: bandwidth?,
        calibration: Some(calibration),
    })
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::inputs::Inputs;
    use crate::sim_config::SimConfig;

    fn build(pairs: &[(&str, &str)]) -> Result<SimConfig, crate::config::ConfigErrors> {
        SimConfig::build(&Config::from_pairs(pairs.iter().copied()).unwrap(), &Inputs::new())
    }

    #[test]
    fn a_custom_device_runs_on_borrowed_efficiencies() {
        let c = build(&[
            ("replica_config_device", "custom"),
            ("custom_device_config_fp16_tflops", "500"),
            ("custom_device_config_memory_gb", "96"),
            ("custom_device_config_memory_bandwidth_gbps", "4000"),
            ("custom_device_config_calibration", "h100"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.replica.device.fp16_tflops, 500.0);
        assert!(
            c.predictor.build.describe().contains("borrowed from h100 for custom"),
            "{}",
            c.predictor.build.describe()
        );
    }

    #[test]
    fn a_custom_device_without_figures_names_each_missing_flag() {
        let e = build(&[("replica_config_device", "custom"), ("custom_device_config_calibration", "h999")])
            .unwrap_err();
        let flags: Vec<&str> = e.0.iter().map(|e| e.flag.as_str()).collect();
        for f in [
            "custom_device_config_fp16_tflops",
            "custom_device_config_memory_gb",
            "custom_device_config_memory_bandwidth_gbps",
            "custom_device_config_calibration",
        ] {
            assert!(flags.contains(&f), "{f} missing from {flags:?}");
        }
        assert!(!flags.contains(&"replica_config_device"), "custom is a known device: {flags:?}");
    }
}
