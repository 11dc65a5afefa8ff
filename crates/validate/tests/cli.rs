//! The `llmsim-validate` binary end to end on a small points file: output files, coverage,
//! thread-count independence, and errors that name their source.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const HEADER: &str = "id,backend,model_path,system,precision,mode,isl,osl,gemm_quant_mode,moe_quant_mode,batch_size,tp_size,pp_size,attention_dp_size,moe_ep_size,silicon_ttft_ms,silicon_tpot_ms";

/// Two small modellable points and three that are skipped for different reasons.
const POINTS: &str = "\
a,vllm,meta-llama/Llama-3.1-70B,h200_sxm,fp8,agg,256,8,fp8,fp8,4,4,1,1,1,120.0,15.0
b,trtllm,meta-llama/Llama-3.1-70B,h100_sxm,fp8,agg,512,6,fp8,fp8,2,8,1,,1,90.0,12.0
c,sglang,deepseek-ai/DeepSeek-R1,h200_sxm,fp8,disagg,1024,1024,fp8,fp8,,,,,,300.0,30.0
d,vllm,meta-llama/Llama-3.1-70B,b200_sxm,fp4,agg,1024,1024,mxfp4,mxfp4,8,4,1,1,1,100.0,10.0
e,sglang,nobody/Unknown-7B,h100_sxm,bf16,agg,1024,128,,,8,1,1,1,1,50.0,9.0
";

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("validate-cli").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

fn validate(dir: &Path, points: &str, args: &[&str]) -> Output {
    let file = dir.join("points_in.csv");
    std::fs::write(&file, points).unwrap();
    Command::new(env!("CARGO_BIN_EXE_llmsim-validate"))
        .arg("--points")
        .arg(&file)
        .arg("--out")
        .arg(dir.join("out"))
        .args(["--requests-per-client", "2", "--warmup-per-client", "1"])
        .args(args)
        .output()
        .expect("llmsim-validate runs")
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join("out").join(name)).unwrap()
}

#[test]
fn writes_points_summary_and_tables() {
    let dir = scratch("outputs");
    let out = validate(&dir, &format!("{HEADER}\n{POINTS}"), &["--jobs", "2"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let points = read(&dir, "points.csv");
    let lines: Vec<&str> = points.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "{HEADER},sim_ttft_ms,sim_tpot_ms,ttft_err,tpot_err,sim_ttft_median_ms,sim_tpot_median_ms,skipped"
        )
    );
    assert_eq!(lines.len(), 6, "every row is reported");
    for (line, id) in lines[1..].iter().zip(["a", "b", "c", "d", "e"]) {
        assert!(line.starts_with(&format!("{id},")), "rows keep the file's order: {line}");
    }
    assert!(lines[1].ends_with(','), "a simulated row has no skip reason: {}", lines[1]);
    assert!(lines[3].contains("disaggregation without its pools"), "{}", lines[3]);
    assert!(lines[4].contains("gemm_quant_mode mxfp4 is not modelled"), "{}", lines[4]);
    assert!(lines[5].contains("unknown model 'nobody/Unknown-7B'"), "{}", lines[5]);

    let summary: serde_json::Value = serde_json::from_str(&read(&dir, "summary.json")).unwrap();
    assert_eq!(summary["overall"]["n"], 2);
    assert_eq!(summary["overall"]["n_skipped"], 3);
    assert_eq!(summary["by_backend"].as_array().unwrap().len(), 3);
    assert_eq!(summary["overrides"]["requests_per_client"], 2);
    assert_eq!(summary["overrides"]["length_range_ratio"], serde_json::Value::Null);
    assert!(summary["overall"]["ttft"]["abs_err_p90"].as_f64().unwrap() >= 0.0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Coverage: 2 points simulated, 3 skipped."), "{stdout}");
    assert_eq!(read(&dir, "tables.md"), stdout.split("\nwrote ").next().unwrap());
}

#[test]
fn results_are_the_same_for_any_number_of_jobs() {
    let text = format!("{HEADER}\n{POINTS}");
    let (one, two) = (scratch("jobs1"), scratch("jobs2"));
    assert!(validate(&one, &text, &["--jobs", "1"]).status.success());
    assert!(validate(&two, &text, &["--jobs", "2"]).status.success());
    for name in ["points.csv", "tables.md"] {
        assert_eq!(read(&one, name), read(&two, name), "{name}");
    }
    // summary.json names its input file, which lives in each test's own directory.
    let summary = |dir: &Path| read(dir, "summary.json").replace(&dir.display().to_string(), "DIR");
    assert_eq!(summary(&one), summary(&two));
}

#[test]
fn filters_and_max_choose_the_rows() {
    let dir = scratch("filters");
    let out = validate(&dir, &format!("{HEADER}\n{POINTS}"), &["--filter", "system=h200_sxm", "--max", "0"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_str(&read(&dir, "summary.json")).unwrap();
    // Rows a and c are on h200_sxm; --max 0 thins the modellable one out.
    assert_eq!(
        (summary["overall"]["n"].as_u64(), summary["overall"]["n_skipped"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(summary["thinned_out"], 1);
    assert_eq!(summary["filters"][0], "system=h200_sxm");
}

#[test]
fn bad_input_is_refused_naming_its_source() {
    let dir = scratch("errors");
    let refused = |points: &str, args: &[&str]| {
        let out = validate(&dir, points, args);
        assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let bad_number = POINTS.replacen(",256,8,", ",256,eight,", 1);
    let stderr = refused(&format!("{HEADER}\n{bad_number}"), &[]);
    assert!(
        stderr.contains("points_in.csv, line 2, column 'osl': 'eight' is not a whole number ≥ 1"),
        "{stderr}"
    );

    let stderr = refused(&format!("{}\n", HEADER.replace(",silicon_ttft_ms", "")), &[]);
    assert!(stderr.contains("no column 'silicon_ttft_ms'"), "{stderr}");

    let stderr = refused(&format!("{HEADER}\n{POINTS}"), &["--filter", "gpu=h100"]);
    assert!(stderr.contains("--filter 'gpu=h100': the points file has no column 'gpu'"), "{stderr}");

    let out = validate(&dir, &format!("{HEADER}\n"), &["--filter", "backend"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected column=value"));
}
