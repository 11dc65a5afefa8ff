//! `llmsim search` end to end: the files, the same answer on any number of threads, resuming
//! from `points.csv`, Ctrl-C, and spec errors that name the field.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn llmsim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_llmsim"))
}

/// A fresh, empty directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("search-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// A small search: an 8B model on one H100 at two batch caps and two TP degrees.
fn small_spec(num_requests: u32) -> String {
    format!(
        r#"{{"base": {{"replica_config_model_name": "meta-llama/Llama-3.1-8B", "replica_config_device": "h100",
              "replica_config_network_device": "h100_dgx", "length_generator_config_type": "fixed",
              "fixed_request_length_generator_config_prefill_tokens": 1024, "fixed_request_length_generator_config_decode_tokens": 128}},
           "space": {{"replica_config_tensor_parallel_size": [1, 2], "vllm_v1_scheduler_config_batch_size_cap": [32, 256]}},
           "slos": [{{"metric": "ttft", "quantile": 0.9, "max_s": 1.0}}],
           "goal": "max_qps", "qps": 4, "qps_granularity": 0.05, "num_requests": {num_requests}}}"#
    )
}

fn search(dir: &Path, spec: &str, jobs: &str) -> Output {
    let spec_path = dir.join("search.json");
    std::fs::write(&spec_path, spec).unwrap();
    llmsim()
        .args(["search", "--config"])
        .arg(&spec_path)
        .arg("--output_dir")
        .arg(dir.join("out"))
        .args(["--jobs", jobs])
        .output()
        .expect("llmsim runs")
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join("out").join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn a_search_writes_its_files_and_gives_the_same_answer_on_one_or_three_threads() {
    let one = scratch("one-thread");
    let three = scratch("three-threads");
    let spec = small_spec(400);
    for (dir, jobs) in [(&one, "1"), (&three, "3")] {
        let out = search(dir, &spec, jobs);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let table = String::from_utf8_lossy(&out.stdout);
        assert!(table.contains("4 configurations: 4 meet the objectives"), "{table}");
    }
    for name in ["search.csv", "pareto.csv", "points.csv"] {
        assert_eq!(read(&one, name), read(&three, name), "{name} differs between 1 and 3 threads");
    }
    let csv = read(&one, "search.csv");
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with(
        "configuration,replica_config_tensor_parallel_size,vllm_v1_scheduler_config_batch_size_cap,feasible,max_qps,replicas,gpus,cost_per_hour,qps_per_dollar,usd_per_million_output_tokens,slo_ttft_p90_s,"
    ));
    assert_eq!(lines.count(), 4);
    assert_eq!(csv.lines().filter(|l| l.contains(",true,")).count(), 4, "{csv}");
}

#[test]
fn a_second_run_reuses_every_point_and_another_spec_reuses_none() {
    let dir = scratch("resume");
    let spec = small_spec(300);
    let first = search(&dir, &spec, "2");
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let points = read(&dir, "points.csv");
    let n = points.lines().count() - 1;
    let again = search(&dir, &spec, "2");
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains(&format!("for 0 simulations ({n} reused")), "{stderr}");
    assert_eq!(read(&dir, "points.csv"), points);
    let other = search(&dir, &small_spec(301), "2");
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert!(stderr.contains("(0 reused"), "{stderr}");
}

#[test]
fn ctrl_c_keeps_the_finished_points_and_the_next_run_goes_on_from_them() {
    let dir = scratch("interrupt");
    // Long enough to be interrupted: many configurations of 20,000 requests.
    let spec = small_spec(20_000).replace(r#"[32, 256]"#, r#"[8, 16, 32, 64, 128, 256, 512, 1024]"#);
    std::fs::write(dir.join("search.json"), &spec).unwrap();
    let child = llmsim()
        .args(["search", "--config"])
        .arg(dir.join("search.json"))
        .arg("--output_dir")
        .arg(dir.join("out"))
        .args(["--jobs", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let points = dir.join("out").join("points.csv");
    let started = Instant::now();
    while std::fs::read_to_string(&points).map_or(0, |t| t.lines().count()) < 3 {
        assert!(started.elapsed() < Duration::from_secs(300), "no point finished");
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted:"), "{stderr}");
    let kept = std::fs::read_to_string(&points).unwrap().lines().count() - 1;
    assert!(kept >= 2);
    assert!(
        read(&dir, "search.csv").starts_with("configuration,"),
        "search.csv holds the finished configurations"
    );
    // The next run starts from the kept points (stopped at once, so it reuses and runs a few).
    let mut resumed = llmsim()
        .args(["search", "--config"])
        .arg(dir.join("search.json"))
        .arg("--output_dir")
        .arg(dir.join("out"))
        .args(["--jobs", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Its first line says what it found; then it is stopped again.
    let mut first_line = String::new();
    let mut stderr = std::io::BufReader::new(resumed.stderr.take().unwrap());
    std::io::BufRead::read_line(&mut stderr, &mut first_line).unwrap();
    let _ = Command::new("kill").args(["-INT", &resumed.id().to_string()]).status();
    assert!(first_line.contains(&format!("{kept} earlier points to reuse")), "{first_line}");
    let _ = resumed.wait();
}

#[test]
fn spec_errors_name_the_field_and_exit_2() {
    let dir = scratch("bad-spec");
    let bad = r#"{"base": {"replica_config_devise": "h100"}, "space": {"replica_config_tensor_parallel_size": [1, "x"]},
                  "slos": [{"metric": "ttft"}], "goal": "fastest"}"#;
    let out = search(&dir, bad, "1");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for field in [
        "base.replica_config_devise",
        "space.replica_config_tensor_parallel_size[1]",
        "slos[0].max_s",
        "goal",
    ] {
        assert!(stderr.contains(&format!("  {field}: ")), "{field} not named in {stderr}");
    }
    assert!(stderr.contains("did you mean --replica_config_device"), "{stderr}");
    let missing = llmsim().args(["search", "--config", "/nonexistent/search.json"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
    let help = llmsim().arg("-h").output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("llmsim search --config"));
}

/// A disaggregated replica search on an 8B model: 1 prefill : 2 decode units.
fn pools_spec(extra: &str) -> String {
    format!(
        r#"{{"base": {{"replica_config_model_name": "meta-llama/Llama-3.1-8B", "replica_config_device": "h100",
              "replica_config_network_device": "h100_dgx", "length_generator_config_type": "fixed",
              "fixed_request_length_generator_config_prefill_tokens": 256, "fixed_request_length_generator_config_decode_tokens": 16,
              "disaggregation_config_type": "prefill_decode", "disaggregation_config_decode_num_replicas": 2}},
           "goal": "min_replicas", "qps": 1, "num_requests": 30{extra}}}"#
    )
}

#[test]
fn a_disaggregated_search_counts_both_pools_and_refuses_a_count_that_is_no_unit() {
    // The table's replicas are both pools', as search.csv's (it printed the unit count).
    let dir = scratch("pools");
    let out = search(&dir, &pools_spec(""), "1");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8_lossy(&out.stdout);
    let row = table.lines().find(|l| l.contains("(base)")).unwrap_or_else(|| panic!("{table}"));
    assert_eq!(row.split_whitespace().nth(2), Some("1+2"), "{table}");
    assert!(read(&dir, "search.csv").lines().nth(1).unwrap().contains(",true,1,1+2,3,"));
    // Infeasible: worded in units of both pools.
    let dir = scratch("pools-infeasible");
    let spec = pools_spec(r#", "max_replicas": 2, "slos": [{"metric": "ttft", "max_s": 0.000001}]"#);
    let out = search(&dir, &spec, "1");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let csv = read(&dir, "search.csv");
    assert!(csv.contains("objectives not met with up to 2 units (2 prefill + 4 decode replicas)"), "{csv}");
    // A count that is no replica count: refused, naming the field and the value.
    let dir = scratch("pools-bad-count");
    let out = search(&dir, &pools_spec("").replace(r#"num_replicas": 2"#, r#"num_replicas": 0"#), "1");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("  base.disaggregation_config_decode_num_replicas: 0 is not a replica count"),
        "{stderr}"
    );
}
