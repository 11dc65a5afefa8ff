//! The simulation horizon (10^9 simulated seconds): workloads whose arrivals would pass it are
//! refused up front, naming the flag (and the trace's file, row and column); a run that reaches
//! it anyway stops there with a warning, every arrived request accounted for. Also the interval
//! trace's arrival-times-only CSVs, in seconds or Vidur's date-times.

use std::sync::Arc;

use llmsim_engine::time::{HORIZON_SECS, NANOS_PER_SEC};
use llmsim_engine::workload::{NewRequest, RequestSource};
use llmsim_engine::{ConfigError, Inputs, SimConfig, SimTime, Simulation};
use llmsim_tests::{check_report_invariants, config, run_checked, shared_dir};

/// The errors of building `pairs` with `files` (path, text) as inputs; panics if it builds.
fn refused(pairs: &[(&str, &str)], files: &[(&str, &str)]) -> Vec<ConfigError> {
    let mut inputs = Inputs::new();
    for (path, text) in files {
        inputs.add_text(*path, *text);
    }
    match SimConfig::build(&config(pairs), &inputs) {
        Ok(_) => panic!("{pairs:?} should be refused"),
        Err(e) => e.0,
    }
}

/// The one error of `refused`, as `(flag, message, hint)`.
fn one_error(pairs: &[(&str, &str)], files: &[(&str, &str)]) -> (String, String, String) {
    let errors = refused(pairs, files);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = errors.into_iter().next().unwrap();
    (e.flag, e.message, e.hint.unwrap_or_default())
}

const REPLAY: (&str, &str) = ("request_generator_config_type", "trace");
const REPLAY_FILE: &str = "trace_request_generator_config_trace_file";

#[test]
fn epoch_millisecond_arrivals_are_refused_at_their_row_with_a_rebase_hint() {
    let trace =
        "arrived_at,num_prefill_tokens,num_decode_tokens\n1700000000000.0,100,10\n1700000001000.0,200,20\n";
    let (flag, message, hint) = one_error(&[REPLAY, (REPLAY_FILE, "ep.csv")], &[("ep.csv", trace)]);
    assert_eq!(flag, REPLAY_FILE);
    assert_eq!(
        message,
        "ep.csv, row 2, column 'arrived_at': arrival at 1.700e12 s (about 53870 years) is beyond the simulation horizon of 1000000000 s (about 31.7 years)"
    );
    assert!(hint.contains("milliseconds since 1970 (2023-11-14 22:13:20 as a date)"), "{hint}");
    assert!(hint.contains("rebase the arrived_at column so that the trace starts at 0"), "{hint}");
}

#[test]
fn epoch_second_arrivals_are_refused_too() {
    // 2023 in epoch seconds is 1.7e9 s, past the horizon even though it is "seconds".
    let trace = "arrived_at,num_prefill_tokens,num_decode_tokens\n1700000000.0,100,10\n1700000001.5,200,20\n";
    let (flag, message, hint) = one_error(&[REPLAY, (REPLAY_FILE, "ep.csv")], &[("ep.csv", trace)]);
    assert_eq!(flag, REPLAY_FILE);
    assert!(message.starts_with("ep.csv, row 2, column 'arrived_at': arrival at 1.700e9 s"), "{message}");
    assert!(hint.contains("seconds since 1970 (2023-11-14 22:13:20 as a date)"), "{hint}");
}

#[test]
fn a_time_scale_that_pushes_arrivals_past_the_horizon_is_named() {
    let trace = "arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,374,44\n4.314579,396,109\n26.5,10,10\n";
    let pairs =
        [REPLAY, (REPLAY_FILE, "conv.csv"), ("trace_request_generator_config_time_scale_factor", "1e9")];
    let (flag, message, hint) = one_error(&pairs, &[("conv.csv", trace)]);
    assert_eq!(flag, "trace_request_generator_config_time_scale_factor");
    assert!(message.starts_with("conv.csv, row 3, column 'arrived_at': arrival at 4.314579 s × time_scale_factor 1000000000 = 4.315e9 s"), "{message}");
    assert!(hint.contains("use a time_scale_factor of at most 3.773585e7"), "{hint}");
    // Replaying only the row at 0 fits.
    let mut inputs = Inputs::new();
    inputs.add_text("conv.csv", trace);
    let mut first_only = pairs.to_vec();
    first_only.push(("trace_request_generator_config_num_requests", "1"));
    assert!(SimConfig::build(&config(&first_only), &inputs).is_ok());
}

#[test]
fn the_splitwise_trace_scaled_by_a_billion_is_refused() {
    let Some(shared) = shared_dir() else { return };
    let path = shared.join("traces/splitwise_conv.csv");
    let path = path.to_str().unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    let pairs = [
        REPLAY,
        (REPLAY_FILE, path),
        ("trace_request_generator_config_num_requests", "50"),
        ("trace_request_generator_config_time_scale_factor", "1e9"),
    ];
    let (flag, message, _) = one_error(&pairs, &[(path, &text)]);
    assert_eq!(flag, "trace_request_generator_config_time_scale_factor");
    assert!(message.contains("splitwise_conv.csv, row 3, column 'arrived_at'"), "{message}");
}

#[test]
fn synthetic_arrivals_that_would_pass_the_horizon_are_refused() {
    let (flag, message, hint) = one_error(&[("poisson_request_interval_generator_config_qps", "1e-9")], &[]);
    assert_eq!(flag, "poisson_request_interval_generator_config_qps");
    assert_eq!(
        message,
        "128 requests at this pace would arrive, on average, over 1.280e11 s (about 4056 years), beyond the simulation horizon of 1000000000 s (about 31.7 years)"
    );
    assert!(hint.contains("--synthetic_request_generator_config_duration"), "{hint}");

    // Uniform gaps are exact: 10 requests at 1e-8 QPS end at exactly 1e9 s, 11 do not.
    let uniform = |n: &'static str| {
        config(&[
            ("interval_generator_config_type", "uniform"),
            ("uniform_request_interval_generator_config_qps", "1e-8"),
            ("synthetic_request_generator_config_num_requests", n),
        ])
    };
    assert!(SimConfig::build(&uniform("10"), &Inputs::new()).is_ok());
    let errors = SimConfig::build(&uniform("11"), &Inputs::new()).unwrap_err().0;
    assert_eq!(errors[0].flag, "uniform_request_interval_generator_config_qps");
    assert!(errors[0].message.contains("would arrive over 1.100e9 s"), "{}", errors[0].message);

    // A duration within the horizon bounds the arrivals however slow they are.
    let bounded = [
        ("poisson_request_interval_generator_config_qps", "1e-9"),
        ("synthetic_request_generator_config_duration", "3600"),
    ];
    assert!(SimConfig::build(&config(&bounded), &Inputs::new()).is_ok());
    let (flag, message, _) = one_error(
        &[
            ("synthetic_request_generator_config_num_requests", "none"),
            ("synthetic_request_generator_config_duration", "2e9"),
        ],
        &[],
    );
    assert_eq!(flag, "synthetic_request_generator_config_duration");
    assert!(
        message.ends_with("is beyond the simulation horizon of 1000000000 s (about 31.7 years)"),
        "{message}"
    );

    // Slow but reasonable workloads pass: a request a day for a year.
    assert!(
        SimConfig::build(
            &config(&[
                ("poisson_request_interval_generator_config_qps", "1.157e-5"),
                ("synthetic_request_generator_config_num_requests", "365")
            ]),
            &Inputs::new()
        )
        .is_ok()
    );
}

#[test]
fn interval_traces_scaled_past_the_horizon_are_refused() {
    let pairs = [
        ("interval_generator_config_type", "trace"),
        ("trace_request_interval_generator_config_trace_file", "a.csv"),
        ("trace_request_interval_generator_config_time_scale_factor", "1e8"),
    ];
    let (flag, message, _) = one_error(&pairs, &[("a.csv", "arrived_at\n0.5\n1.5\n3.0\n")]);
    assert_eq!(flag, "trace_request_interval_generator_config_time_scale_factor");
    // 128 gaps cycling 1.0, 1.5 (× 1e8): 64 × 2.5e8 s.
    assert!(message.starts_with("128 requests at this pace would arrive over 1.600e10 s"), "{message}");
}

#[test]
fn closed_loop_think_times_and_time_limits_past_the_horizon_are_refused() {
    let (flag, message, _) = one_error(
        &[
            ("request_generator_config_type", "closed_loop"),
            ("closed_loop_request_generator_config_concurrency", "2"),
            ("closed_loop_request_generator_config_num_requests", "101"),
            ("closed_loop_request_generator_config_think_time", "2.1e7"),
        ],
        &[],
    );
    assert_eq!(flag, "closed_loop_request_generator_config_think_time");
    assert!(message.starts_with("50 think times of 21000000 s per client add up to 1.050e9 s"), "{message}");
    let (flag, message, hint) = one_error(&[("time_limit", "1e12")], &[]);
    assert_eq!(flag, "time_limit");
    assert_eq!(message, "1000000000000 is out of range: it must be between 0 and 1000000000 seconds");
    assert!(hint.contains("use 0 to run until every request is done"), "{hint}");
    assert_eq!(one_error(&[("time_limit", "-1")], &[]).0, "time_limit");
    assert!(SimConfig::build(&config(&[("time_limit", "1e9")]), &Inputs::new()).is_ok());
}

/// A workload of fixed requests at fixed instants (nanoseconds).
struct Fixed {
    arrivals: Vec<(u64, u32)>,
    next: usize,
}

impl RequestSource for Fixed {
    fn peek_time(&self) -> Option<SimTime> {
        self.arrivals.get(self.next).map(|&(t, _)| SimTime(t))
    }

    fn next(&mut self) -> Option<NewRequest> {
        let &(t, decode) = self.arrivals.get(self.next)?;
        self.next += 1;
        Some(NewRequest {
            arrived_at: SimTime(t),
            num_prefill_tokens: 64,
            num_decode_tokens: decode,
            session_id: None,
            block_hashes: None,
            client: None,
            warmup: false,
        })
    }
}

/// A simulation of the default cluster whose workload is `arrivals` (ns, output tokens).
fn fixed_workload(arrivals: Vec<(u64, u32)>) -> Simulation {
    let mut sim_config = SimConfig::build(&config(&[]), &Inputs::new()).unwrap();
    sim_config.workload.build.expected_requests = Some(arrivals.len() as u64);
    let arrivals = Arc::new(arrivals);
    sim_config.workload.build.build =
        Arc::new(move |_| Box::new(Fixed { arrivals: arrivals.to_vec(), next: 0 }));
    Simulation::new(&sim_config)
}

#[test]
fn a_run_reaching_the_horizon_stops_there_with_a_warning_and_every_request_accounted_for() {
    let horizon = HORIZON_SECS * NANOS_PER_SEC;
    let arrivals = vec![
        (0, 8),
        (0, 8),
        (NANOS_PER_SEC, 8),
        // Arrives a millisecond before the horizon; its tokens take longer than that.
        (horizon - 1_000_000, 500),
        // Would arrive after the horizon: never enters the simulation.
        (horizon + NANOS_PER_SEC, 8),
        (u64::MAX, 8),
    ];
    let mut sim = fixed_workload(arrivals.clone()).with_invariant_checks();
    sim.run();
    assert!(sim.horizon_reached());
    assert_eq!(sim.now(), SimTime::HORIZON);
    let report = sim.finish();
    check_report_invariants(&report).unwrap();
    let s = &report.summary;
    assert_eq!((s.num_requests, s.num_completed, s.num_refused, s.num_unfinished), (4, 3, 0, 1));
    assert_eq!(s.simulated_time_s, HORIZON_SECS as f64);
    assert!(!s.time_limit_reached);
    assert_eq!(report.request_errors.len(), 1);
    assert_eq!(report.request_errors[0].id, 3);
    assert_eq!(
        report.request_errors[0].reason,
        "still in flight when the simulation horizon of 1000000000 s (about 31.7 years) ended the run"
    );
    let warning = report.warnings.iter().find(|w| w.contains("horizon")).expect("a horizon warning");
    assert!(
        warning.starts_with("the run stopped at the simulation horizon of 1000000000 s (about 31.7 years)"),
        "{warning}"
    );
    assert!(warning.contains("1 requests still in flight are reported as unfinished"), "{warning}");
    assert!(warning.contains("later requests never arrived"), "{warning}");

    // The same run in chunks of one event ends identically.
    let mut chunked = fixed_workload(arrivals);
    while !chunked.run_for_events(1).finished {}
    let again = chunked.finish();
    assert_eq!(
        serde_json::to_string(&again.summary).unwrap(),
        serde_json::to_string(&report.summary).unwrap()
    );
    assert_eq!(again.warnings, report.warnings);
}

#[test]
fn a_run_ending_before_the_horizon_has_no_horizon_warning() {
    let mut sim = fixed_workload(vec![(0, 4), (SimTime::HORIZON.0 - 10 * NANOS_PER_SEC, 4)]);
    sim.run();
    assert!(!sim.horizon_reached(), "a request served before the horizon is simulated to its end");
    let report = sim.finish();
    assert_eq!(report.summary.num_requests, 2);
    assert!(report.warnings.iter().all(|w| !w.contains("horizon")), "{:?}", report.warnings);
}

#[test]
fn an_interval_trace_of_arrival_times_only_runs() {
    for (file, window) in [
        ("arrived_at\n0.5\n1.5\n3.0\n", None),
        (
            "arrived_at\n1970-01-04 11:00:00\n1970-01-04 12:00:01\n1970-01-04 12:00:02.5\n1970-01-04 12:00:04\n1970-01-04 16:00:00\n",
            Some(("1970-01-04 12:00:00", "1970-01-04 15:00:00")),
        ),
    ] {
        let mut pairs = vec![
            ("interval_generator_config_type", "trace"),
            ("trace_request_interval_generator_config_trace_file", "a.csv"),
            ("synthetic_request_generator_config_num_requests", "6"),
            ("fixed_request_length_generator_config_prefill_tokens", "64"),
            ("fixed_request_length_generator_config_decode_tokens", "4"),
        ];
        if let Some((start, end)) = window {
            pairs.push(("trace_request_interval_generator_config_start_time", start));
            pairs.push(("trace_request_interval_generator_config_end_time", end));
        }
        let mut inputs = Inputs::new();
        inputs.add_text("a.csv", file);
        let report = run_checked(&config(&pairs), &inputs);
        check_report_invariants(&report).unwrap();
        assert_eq!(report.summary.num_completed, 6);
        let mut arrivals: Vec<f64> = report.requests.iter().map(|r| r.arrived_at_ns as f64 / 1e9).collect();
        arrivals.sort_by(f64::total_cmp);
        // Seconds: gaps 1, 1.5 cycling. Date-times: whole seconds 0, 1, 3 → gaps 1, 2 cycling.
        let expected =
            if window.is_none() { [1.0, 2.5, 3.5, 5.0, 6.0, 7.5] } else { [1.0, 3.0, 4.0, 6.0, 7.0, 9.0] };
        assert_eq!(arrivals, expected, "{file}");
    }
}
