//! The `llmsim` binary end to end: output directories, help layout, warnings, exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A small, fast run (four requests on the default model).
const SMALL: &[&str] = &["--synthetic_request_generator_config_num_requests", "4"];

fn llmsim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_llmsim"))
}

/// A fresh, empty directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Runs `llmsim` with `args`, writing straight into `dir`.
fn run_into(dir: &Path, args: &[&str]) -> Output {
    let out = llmsim()
        .args(SMALL)
        .args(["--metrics_config_no_timestamp", "--metrics_config_output_dir"])
        .arg(dir)
        .args(args)
        .output()
        .expect("llmsim runs");
    assert!(out.status.success(), "llmsim {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_reused_output_directory_holds_only_this_runs_files() {
    let dir = scratch("reused");
    run_into(&dir, &["--metrics_config_keep_individual_batch_metrics"]);
    for name in ["batch_metrics.csv", "chrome_trace.json", "plots", "request_metrics.csv", "summary.json"] {
        assert!(dir.join(name).exists(), "run 1 wrote {name}");
    }
    // Files that are not llmsim's stay.
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    std::fs::write(dir.join("plots/figure.png"), "mine").unwrap();

    run_into(&dir, &["--no-metrics_config_enable_chrome_trace", "--no-metrics_config_store_plots"]);
    assert_eq!(
        names(&dir),
        ["config.json", "notes.txt", "plots", "request_errors.csv", "request_metrics.csv", "summary.json"],
        "run 1's batch_metrics.csv and chrome_trace.json are gone"
    );
    assert_eq!(names(&dir.join("plots")), ["figure.png"], "run 1's plot files are gone, other files stay");

    // With nothing else in it, plots/ itself goes.
    std::fs::remove_file(dir.join("plots/figure.png")).unwrap();
    run_into(&dir, &[]);
    run_into(&dir, &["--no-metrics_config_store_plots"]);
    assert!(!dir.join("plots").exists());
}

#[test]
fn help_is_readable_at_100_to_120_columns() {
    for columns in [100, 120] {
        let out = llmsim().arg("-h").env("COLUMNS", columns.to_string()).output().unwrap();
        assert!(out.status.success());
        let help = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = help.lines().collect();
        // The predictor's long flag names once printed every description one word per line (several
        // thousand lines); ~2.5 lines per flag is the normal size, and each feature adds flags
        // (1,003 lines at 100 columns at stop 38, with the piecewise-graph, shared-expert-stream
        // and serial-front-end flags).
        assert!(lines.len() < 1200, "{} lines at {columns} columns", lines.len());
        for line in &lines {
            assert!(line.chars().count() <= 120, "wider than 120 columns at {columns}: {line}");
        }
        let start = lines.iter().position(|l| *l == "Execution-time predictor:").expect("predictor section");
        let end = start
            + lines[start..].iter().position(|l| *l == "Metrics and outputs:").expect("metrics section");
        for line in &lines[start + 1..end] {
            let text = line.trim();
            // A lone `[default: x]` or `[with --x y]` (kept whole by a no-break space) is fine;
            // a lone word of a description is not.
            let lone_word =
                !text.is_empty() && !text.contains(' ') && !text.starts_with("--") && !text.starts_with('[');
            assert!(!lone_word, "a help line of one word at {columns} columns: {line:?}");
        }
    }
}

#[test]
fn flags_of_an_unselected_type_are_warned_about() {
    let dir = scratch("ignored");
    let out = run_into(
        &dir,
        &[
            "--request_generator_config_type",
            "closed_loop",
            "--closed_loop_request_generator_config_num_requests",
            "4",
            "--synthetic_request_generator_config_num_requests",
            "5",
            "--sarathi_scheduler_config_chunk_size",
            "256",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = [
        "--sarathi_scheduler_config_chunk_size is ignored: it applies with --replica_scheduler_config_type sarathi, not vllm_v1",
        "--synthetic_request_generator_config_num_requests is ignored: it applies with --request_generator_config_type synthetic, not closed_loop",
    ];
    let summary = std::fs::read_to_string(dir.join("summary.json")).unwrap();
    for warning in expected {
        assert!(stderr.contains(&format!("warning: {warning}")), "{stderr}");
        assert!(summary.contains(warning), "summary.json: {summary}");
    }
    assert!(!stderr.contains("closed_loop_request_generator_config_num_requests is ignored"), "{stderr}");
}

#[test]
fn a_node_of_another_device_is_warned_about_naming_the_devices_node() {
    let dir = scratch("node");
    // Device names are read in any case, as model names are.
    let out =
        run_into(&dir, &["--replica_config_device", "H200", "--replica_config_network_device", "h100_dgx"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warning = "network device h100_dgx is a node of h100 GPUs, but the replica device is h200: interconnect figures come from h100_dgx; --replica_config_network_device h200_dgx is the node of h200 GPUs";
    assert!(stderr.contains(&format!("warning: {warning}")), "{stderr}");
    let out =
        run_into(&dir, &["--replica_config_device", "h200", "--replica_config_network_device", "H200_DGX"]);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("network device"),
        "the matching node: no warning"
    );
}

#[test]
fn output_flags_gate_what_they_name() {
    let dir = scratch("utilization");
    run_into(&dir, &["--no-metrics_config_store_utilization_metrics"]);
    assert!(dir.join("plots/time_series.csv").exists());
    assert!(!dir.join("plots/replica_metrics.json").exists());
    let summary = std::fs::read_to_string(dir.join("summary.json")).unwrap();
    assert!(summary.contains("\"busy_percent_mean\""), "the summary keeps the means");

    run_into(&dir, &[]);
    assert!(dir.join("plots/replica_metrics.json").exists());

    // Without metrics only config.json is written, as in Vidur; the summary is still printed.
    let out = run_into(&dir, &["--no-metrics_config_write_metrics"]);
    assert_eq!(names(&dir), ["config.json"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("TTFT"));
    let config = std::fs::read_to_string(dir.join("config.json")).unwrap();
    assert!(config.contains("\"metrics_config_write_metrics\": false"), "{config}");
}

#[test]
fn the_moe_models_people_serve_run_from_the_catalogue() {
    // Qwen3-235B-A22B by the validation file's -FP8 name, gpt-oss-120b (sliding-window layers)
    // in fp4 on one H100 as vLLM serves it, MiniMax-M2.5 in fp8 over two B200s.
    for (name, model, device, node, tp, dtype) in [
        ("qwen3", "Qwen/Qwen3-235B-A22B-FP8", "h200", "h200_dgx", "4", "fp8"),
        ("gpt-oss", "openai/gpt-oss-120b", "h100", "h100_dgx", "1", "fp4"),
        ("minimax", "MiniMaxAI/MiniMax-M2.5", "b200", "b200_dgx", "2", "fp8"),
    ] {
        let dir = scratch(name);
        run_into(
            &dir,
            &[
                "--replica_config_model_name",
                model,
                "--replica_config_device",
                device,
                "--replica_config_network_device",
                node,
                "--replica_config_tensor_parallel_size",
                tp,
                "--replica_config_weight_dtype",
                dtype,
                "--replica_config_kv_cache_dtype",
                "fp8",
            ],
        );
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["num_completed"], 4, "{model}: {summary}");
    }
}

/// Runs `llmsim` with `args`, closing the read end of stdout and/or stderr at once, and returns
/// its exit code (the process must never panic, 101).
fn exit_code_with_closed(args: &[&str], close_stdout: bool, close_stderr: bool) -> Option<i32> {
    let pipe_or_null = |close: bool| if close { Stdio::piped() } else { Stdio::null() };
    let mut child = llmsim()
        .args(args)
        .stdout(pipe_or_null(close_stdout))
        .stderr(pipe_or_null(close_stderr))
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    drop(child.stderr.take());
    child.wait().unwrap().code()
}

#[test]
fn closed_pipes_end_quietly_without_a_panic() {
    let dir = scratch("pipes");
    let out_dir = dir.to_str().unwrap();
    // A run that writes a warning, the outputs line and the wall time to stderr.
    let run = [
        "--synthetic_request_generator_config_num_requests",
        "4",
        "--sarathi_scheduler_config_chunk_size",
        "256",
        "--metrics_config_output_dir",
        out_dir,
    ];
    assert_eq!(exit_code_with_closed(&run, false, true), Some(0), "closed stderr");
    assert_eq!(exit_code_with_closed(&run, true, true), Some(0), "closed stdout and stderr");
    assert_eq!(exit_code_with_closed(&["-h"], true, true), Some(0), "help into a closed pipe");
    assert_eq!(
        exit_code_with_closed(&["--seed", "x"], false, true),
        Some(2),
        "an error into a closed stderr"
    );
}

#[test]
fn an_output_directory_that_is_a_file_is_named() {
    let dir = scratch("file-as-dir");
    let file = dir.join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    for extra in [&[][..], &["--metrics_config_no_timestamp"]] {
        let out =
            llmsim().args(SMALL).arg("--metrics_config_output_dir").arg(&file).args(extra).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--metrics_config_output_dir"), "{stderr}");
        assert!(stderr.contains(&format!("{} is a file, not a directory", file.display())), "{stderr}");
    }
}

/// Runs `llmsim` with `args` in `cwd`; its exit code and stderr.
fn run_in(cwd: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = llmsim().current_dir(cwd).args(SMALL).args(args).output().expect("llmsim runs");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[cfg(unix)]
#[test]
fn outputs_never_follow_a_link_out_of_the_output_directory() {
    let root = scratch("symlinks");
    let (out, elsewhere) = (root.join("out"), root.join("elsewhere"));
    std::fs::create_dir_all(&out).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("time_series.csv"), "someone else's").unwrap();
    // A plots/ that links elsewhere is refused before the run, and nothing is written there.
    std::os::unix::fs::symlink(&elsewhere, out.join("plots")).unwrap();
    let out_arg = out.to_str().unwrap();
    let (code, stderr) =
        run_in(&root, &["--metrics_config_no_timestamp", "--metrics_config_output_dir", out_arg]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("plots is a symbolic link or a file, not a directory"), "{stderr}");
    assert_eq!(names(&elsewhere), ["time_series.csv"]);
    assert_eq!(std::fs::read_to_string(elsewhere.join("time_series.csv")).unwrap(), "someone else's");
    // An output file that is a link is removed as a stale output (the link, not its target)
    // and written anew inside the directory.
    std::fs::remove_file(out.join("plots")).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("time_series.csv"), out.join("summary.json")).unwrap();
    let (code, stderr) =
        run_in(&root, &["--metrics_config_no_timestamp", "--metrics_config_output_dir", out_arg]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!std::fs::symlink_metadata(out.join("summary.json")).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_to_string(elsewhere.join("time_series.csv")).unwrap(), "someone else's");
}

#[test]
fn an_empty_or_none_output_directory_is_refused() {
    let cwd = scratch("empty-output-dir");
    std::fs::write(cwd.join("summary.json"), "not llmsim's").unwrap();
    for dir in ["", "none", " None "] {
        for extra in [&[][..], &["--metrics_config_no_timestamp"]] {
            let mut args = vec!["--metrics_config_output_dir", dir];
            args.extend_from_slice(extra);
            let (code, stderr) = run_in(&cwd, &args);
            assert_eq!(code, Some(1), "{args:?}: {stderr}");
            assert!(stderr.contains("an empty or 'none' output directory is ambiguous"), "{stderr}");
        }
    }
    assert_eq!(names(&cwd), ["summary.json"], "nothing written or removed in the current directory");
    assert_eq!(std::fs::read_to_string(cwd.join("summary.json")).unwrap(), "not llmsim's");
}

#[test]
fn a_trace_that_is_not_utf8_is_refused_at_its_row_and_column() {
    let dir = scratch("not-utf8");
    std::fs::write(dir.join("t.csv"), b"arrived_at,num_prefill_tokens,num_decode_tokens\n0,1,1\n1,2\xff,1\n")
        .unwrap();
    let (code, stderr) = run_in(
        &dir,
        &["--request_generator_config_type", "trace", "--trace_request_generator_config_trace_file", "t.csv"],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("t.csv: row 3, column 'num_prefill_tokens', byte 4: the file is not UTF-8 text"),
        "{stderr}"
    );
}

#[test]
fn a_config_file_may_start_with_a_byte_order_mark() {
    let dir = scratch("config-bom");
    std::fs::write(dir.join("c.json"), "\u{feff}{\"seed\": 7, \"metrics_config_write_metrics\": false}")
        .unwrap();
    let (code, stderr) = run_in(&dir, &["--config", "c.json"]);
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_run_beyond_the_memory_budget_is_refused_before_it_starts() {
    let dir = scratch("memory-budget");
    let args = ["--synthetic_request_generator_config_num_requests", "4000000", "--memory-budget-gib", "0.5"];
    let (code, stderr) = run_in(&dir, &args);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--synthetic_request_generator_config_num_requests: the run would need about")
            && stderr.contains("more than its budget of 512.0 MiB"),
        "{stderr}"
    );
    assert!(names(&dir).is_empty(), "refused before any output: {:?}", names(&dir));
}

#[test]
fn bad_speculative_decoding_flags_are_refused_naming_the_flag() {
    let dir = scratch("speculative");
    // A method that is not a choice is refused when the arguments are parsed ...
    let (code, stderr) = run_in(&dir, &["--replica_config_speculative_method", "medusa"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "--replica_config_speculative_method: 'medusa' is not one of: none, mtp, eagle, draft_model"
        ),
        "{stderr}"
    );
    // ... a rate list that is not k rates in [0, 1] when the configuration is checked.
    let args = [
        "--replica_config_speculative_method",
        "mtp",
        "--replica_config_num_speculative_tokens",
        "3",
        "--replica_config_speculative_acceptance_rates",
        "0.8,x",
    ];
    let (code, stderr) = run_in(&dir, &args);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--replica_config_speculative_acceptance_rates: rate 2 of '0.8,x', 'x', is not a number between 0 and 1"),
        "{stderr}"
    );
    assert!(names(&dir).is_empty(), "refused before any output: {:?}", names(&dir));
    // A valid one runs.
    run_into(
        &dir,
        &[
            "--replica_config_speculative_method",
            "eagle",
            "--replica_config_speculative_acceptance_rate",
            "0.6",
        ],
    );
}

#[test]
fn a_disaggregated_runs_streamed_request_metrics_and_replica_metrics_name_the_pools() {
    let dir = scratch("disaggregated");
    run_into(&dir, &["--disaggregation_config_type", "prefill_decode"]);
    let csv = std::fs::read_to_string(dir.join("request_metrics.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(header.ends_with(",replica,decode_replica,kv_transfer_wait_time,kv_transfer_time"), "{header}");
    assert!(csv.lines().all(|l| l.split(',').count() == 28), "{csv}");
    let replicas = std::fs::read_to_string(dir.join("plots/replica_metrics.json")).unwrap();
    assert_eq!(
        (replicas.matches("\"pool\": \"prefill\"").count(), replicas.matches("\"pool\": \"decode\"").count()),
        (1, 1),
        "{replicas}"
    );
    // Aggregated: Vidur's columns and no pool.
    run_into(&dir, &[]);
    let csv = std::fs::read_to_string(dir.join("request_metrics.csv")).unwrap();
    assert!(csv.lines().next().unwrap().ends_with(",request_arrived_at,replica"), "{csv}");
    let replicas = std::fs::read_to_string(dir.join("plots/replica_metrics.json")).unwrap();
    assert!(!replicas.contains("\"pool\""), "{replicas}");
}
