//! The page's state machine driven natively, message by message, as the browser would.

use llmsim_protocol::{ChartData, FieldError, FileError, FileInfo, FromWorker, RunProgress, RunResult};

use super::*;
use crate::share::SharedRun;

const REPLAY: &str = "trace_request_generator_config_trace_file";
const LENGTHS: &str = "trace_request_length_generator_config_trace_file";
const ARRIVALS: &str = "trace_request_interval_generator_config_trace_file";

/// A page whose worker is ready.
fn ready_page() -> Page {
    let mut page = Page::new();
    assert!(page.on_message(FromWorker::Ready, Vec::new(), 0.0).is_empty());
    page
}

fn reply(page: &mut Page, message: FromWorker, now_ms: f64) -> Vec<Effect> {
    page.on_message(message, Vec::new(), now_ms)
}

fn info(flag: &str, path: &str, size: u64, sha256: &str) -> FileInfo {
    FileInfo { flag: flag.into(), path: path.into(), size, sha256: sha256.into(), trace: None }
}

fn loaded(upload_id: u32, info: FileInfo) -> FromWorker {
    FromWorker::FileLoaded { upload_id, info, elapsed_ms: 3.0 }
}

fn failed(upload_id: u32, file: &str) -> FromWorker {
    let error = FileError {
        file: file.into(),
        line: Some(3),
        column: Some("arrived_at".into()),
        message: "x".into(),
    };
    FromWorker::FileFailed { upload_id, error }
}

fn result(completed: u64) -> RunResult {
    RunResult {
        summary_json: format!("{{\"num_completed\": {completed}}}"),
        config_json: String::new(),
        load: Default::default(),
        charts: ChartData::default(),
        warnings: Vec::new(),
        elapsed_ms: 1.0,
    }
}

/// The worker's reply that request `request` finished.
fn finished(request: u32) -> FromWorker {
    FromWorker::RunFinished { run_id: request, result: result(u64::from(request)) }
}

/// The request an effect list sends to the worker, if it sends one.
fn sent(effects: &[Effect]) -> Option<u32> {
    effects.iter().find_map(|e| match e {
        Effect::Run { request, .. } => Some(*request),
        _ => None,
    })
}

/// The run number of the running run.
fn running_id(page: &Page) -> Option<u32> {
    match page.runs().status() {
        RunStatus::Running { run_id, .. } => Some(*run_id),
        RunStatus::Idle => None,
    }
}

fn record_ids(page: &Page) -> Vec<u32> {
    page.runs().records().iter().map(|r| r.id).collect()
}

fn flag_text(page: &Page, flag: &str) -> String {
    page.field_text(flag)
}

/// Runs the form to the end; returns the effects of the result.
fn run_to_end(page: &mut Page, now: f64) -> Vec<Effect> {
    let request = sent(&page.start_run(now)).expect("a run is sent");
    reply(page, finished(request), now + 1.0)
}

#[test]
fn a_dropped_trace_is_read_then_loaded_and_feeds_the_active_trace_field() {
    let mut page = ready_page();
    assert_eq!(flag_text(&page, LENGTHS), "data/traces/conversation_synth.csv", "quick start");
    let effects = page.upload_trace("t.csv", 100);
    assert_eq!(
        effects,
        [Effect::LoadFile {
            upload_id: 1,
            flag: LENGTHS.into(),
            path: "t.csv".into(),
            content: Content::Given
        }]
    );
    assert_eq!(flag_text(&page, LENGTHS), "t.csv", "the active trace field reads the upload");
    let status = |page: &Page| page.uploads().get("t.csv").map(|u| u.status.clone());
    assert_eq!(status(&page), Some(UploadStatus::Loading { done: 0, total: 200 }));
    // Still reading: present for live validation, not yet for a run.
    assert!(page.uploads().is_provided("t.csv") && !page.uploads().is_available("t.csv"));
    reply(&mut page, FromWorker::FileProgress { upload_id: 1, bytes: 50, total: 200 }, 1.0);
    assert_eq!(status(&page), Some(UploadStatus::Loading { done: 50, total: 200 }));
    let link = SharedRun::from_query(&page.share_query());
    assert!(link.files.is_empty(), "a file still being read is not in links: {link:?}");

    let file = info(LENGTHS, "t.csv", 100, "ab12");
    assert!(reply(&mut page, loaded(1, file.clone()), 2.0).is_empty(), "no link is waiting to run");
    assert_eq!(status(&page), Some(UploadStatus::Loaded { info: file.clone(), elapsed_ms: 3.0 }));
    assert!(page.uploads().is_available("t.csv"));
    // A restarted worker reading it again does not make it "being read" (nor leave links).
    reply(&mut page, FromWorker::FileProgress { upload_id: 1, bytes: 10, total: 200 }, 2.5);
    assert_eq!(status(&page), Some(UploadStatus::Loaded { info: file, elapsed_ms: 3.0 }));
    let link = SharedRun::from_query(&page.share_query());
    assert_eq!(link.files.len(), 1, "{link:?}");
    assert_eq!((link.files[0].path.as_str(), link.files[0].size), ("t.csv", 100));
}

#[test]
fn a_trace_dropped_on_a_synthetic_workload_switches_it_to_replay() {
    let mut page = ready_page();
    page.apply_preset("llama3-70b-tp4");
    assert!(page.form().active_trace_fields().is_empty());
    let effects = page.upload_trace("t.csv", 10);
    assert!(matches!(&effects[..], [Effect::LoadFile { flag, .. }] if flag == REPLAY), "{effects:?}");
    assert_eq!(flag_text(&page, "request_generator_config_type"), "trace");
    assert_eq!(flag_text(&page, REPLAY), "t.csv");
    assert_eq!(TraceMode::of(page.form(), "t.csv"), Some(TraceMode::Replay));
}

#[test]
fn a_trace_field_chosen_after_the_upload_reads_it_else_the_shipped_trace() {
    let mut page = ready_page();
    page.upload_trace("t.csv", 10);
    reply(&mut page, loaded(1, info(LENGTHS, "t.csv", 10, "ab")), 1.0);
    page.set_field("request_generator_config_type", "trace");
    assert_eq!(flag_text(&page, REPLAY), "t.csv", "replay reads the uploaded trace");
    // A rejected upload is not adopted; without an upload, the page's own trace is.
    let mut page = ready_page();
    page.apply_preset("closed-loop-benchmark");
    page.upload_trace("bad.csv", 10);
    reply(&mut page, failed(1, "bad.csv"), 1.0);
    page.set_field("length_generator_config_type", "trace");
    assert_eq!(flag_text(&page, LENGTHS), crate::presets::SHIPPED_TRACE, "never Vidur's unshipped default");
    // A file the user typed stays, even if nobody provided it.
    page.set_field(LENGTHS, "mine.csv");
    page.set_field("seed", "3");
    assert_eq!(flag_text(&page, LENGTHS), "mine.csv");
}

#[test]
fn a_rejected_upload_keeps_the_last_good_trace_and_says_why() {
    let mut page = ready_page();
    page.upload_trace("good.csv", 10);
    reply(&mut page, loaded(1, info(LENGTHS, "good.csv", 10, "aa")), 1.0);
    page.upload_trace("bad.csv", 20);
    assert_eq!(flag_text(&page, LENGTHS), "bad.csv");
    let effects = reply(&mut page, failed(2, "bad.csv"), 2.0);
    assert_eq!(effects, [Effect::ForgetUpload { upload_id: 2 }]);
    assert_eq!(flag_text(&page, LENGTHS), "good.csv", "the field reads the good trace again");
    assert!(page.uploads().get("bad.csv").is_none() && page.uploads().is_available("good.csv"));
    let rejection = page.uploads().rejected(LENGTHS).expect("the rejection is kept");
    assert_eq!((rejection.name.as_str(), rejection.kept.as_deref()), ("bad.csv", Some("good.csv")));
    assert_eq!(rejection.error.line, Some(3));
    assert_eq!(page.uploads().last_trace(), Some("good.csv"));

    // A bad file under the good one's name: the good one stays, in the page and the worker.
    let effects = page.upload_trace("good.csv", 30);
    assert!(matches!(&effects[..], [Effect::LoadFile { upload_id: 3, .. }]), "{effects:?}");
    reply(&mut page, failed(3, "good.csv"), 3.0);
    assert!(page.uploads().is_available("good.csv"), "the earlier good.csv is kept");
    assert_eq!(page.uploads().get("good.csv").map(|u| u.upload_id), Some(1));
    // A good one replaces it: the worker forgets the old.
    page.upload_trace("good.csv", 40);
    let effects = reply(&mut page, loaded(4, info(LENGTHS, "good.csv", 40, "bb")), 4.0);
    assert_eq!(effects, [Effect::ForgetUpload { upload_id: 1 }]);
    assert!(page.uploads().rejected(LENGTHS).is_none(), "a good upload clears the rejection");

    // A first upload rejected on a preset that had to switch to replay for it: the workload
    // goes back as it was.
    let mut page = ready_page();
    page.apply_preset("closed-loop-benchmark");
    page.upload_trace("bad.csv", 10);
    assert_eq!(flag_text(&page, "request_generator_config_type"), "trace");
    reply(&mut page, failed(1, "bad.csv"), 1.0);
    assert_eq!(page.matching_preset(), Some("closed-loop-benchmark"));
    assert_eq!(page.uploads().rejected(REPLAY).and_then(|r| r.kept.clone()), None);
}

#[test]
fn a_replaced_upload_ignores_the_replies_about_the_old_one() {
    let mut page = ready_page();
    page.upload_trace("t.csv", 10);
    let effects = page.upload_trace("t.csv", 20);
    assert_eq!(
        effects[0],
        Effect::ForgetUpload { upload_id: 1 },
        "an upload still being read is dropped at once"
    );
    assert!(matches!(&effects[1], Effect::LoadFile { upload_id: 2, .. }), "{effects:?}");
    reply(&mut page, loaded(1, info(LENGTHS, "t.csv", 10, "old")), 1.0);
    assert_eq!(
        page.uploads().get("t.csv").map(|u| &u.status),
        Some(&UploadStatus::Loading { done: 0, total: 40 }),
        "the old upload's reply changes nothing"
    );
    reply(&mut page, loaded(2, info(LENGTHS, "t.csv", 20, "new")), 2.0);
    assert!(page.uploads().is_available("t.csv"));
    assert_eq!(page.uploads().shared_files(page.form())[0].sha256, "new");
}

#[test]
fn the_trace_mode_is_a_choice_shown_with_the_upload() {
    let mut page = ready_page();
    page.upload_trace("t.csv", 10);
    reply(&mut page, loaded(1, info(LENGTHS, "t.csv", 10, "ab")), 1.0);
    assert_eq!(TraceMode::of(page.form(), "t.csv"), Some(TraceMode::Lengths));
    page.set_trace_mode("t.csv", TraceMode::Replay);
    assert_eq!(flag_text(&page, "request_generator_config_type"), "trace");
    assert_eq!(
        (TraceMode::of(page.form(), "t.csv"), flag_text(&page, REPLAY)),
        (Some(TraceMode::Replay), "t.csv".into())
    );
    page.set_trace_mode("t.csv", TraceMode::Arrivals);
    assert_eq!(flag_text(&page, "request_generator_config_type"), "synthetic");
    assert_eq!(flag_text(&page, ARRIVALS), "t.csv");
    assert_ne!(flag_text(&page, "length_generator_config_type"), "trace", "lengths come from elsewhere");
    assert_eq!(TraceMode::of(page.form(), "t.csv"), Some(TraceMode::Arrivals));
    page.set_trace_mode("t.csv", TraceMode::Lengths);
    assert_eq!(flag_text(&page, "interval_generator_config_type"), "poisson");
    assert_eq!(TraceMode::of(page.form(), "t.csv"), Some(TraceMode::Lengths));
    assert!(page.form().validate(&|p| page.uploads().is_provided(p)).is_empty());
}

#[test]
fn a_new_device_brings_its_node_unless_another_was_chosen() {
    let mut page = ready_page();
    assert_eq!(flag_text(&page, "replica_config_network_device"), "h100_dgx");
    page.set_field("replica_config_device", "h200");
    assert_eq!(flag_text(&page, "replica_config_network_device"), "h200_dgx");
    page.set_field("replica_config_device", "A100");
    assert_eq!(flag_text(&page, "replica_config_network_device"), "a100_dgx", "any case");
    page.set_field("replica_config_device", "mi300x");
    assert_eq!(flag_text(&page, "replica_config_network_device"), "a100_dgx", "no node holds an MI300X");
    // A node of another device was chosen on purpose: it stays.
    page.set_field("replica_config_device", "h100");
    page.set_field("replica_config_network_device", "a100_pairwise_nvlink");
    page.set_field("replica_config_device", "b200");
    assert_eq!(flag_text(&page, "replica_config_network_device"), "a100_pairwise_nvlink");
}

#[test]
fn a_decode_pools_device_brings_its_node_and_same_brings_same() {
    let mut page = ready_page();
    page.set_field("disaggregation_config_type", "prefill_decode");
    assert_eq!(flag_text(&page, "disaggregation_config_decode_network_device"), "same");
    page.set_field("disaggregation_config_decode_device", "h200");
    assert_eq!(flag_text(&page, "disaggregation_config_decode_network_device"), "h200_dgx");
    assert_eq!(flag_text(&page, "replica_config_network_device"), "h100_dgx", "the prefill pool's stays");
    page.set_field("disaggregation_config_decode_device", "same");
    assert_eq!(flag_text(&page, "disaggregation_config_decode_network_device"), "same");
    // A node chosen apart from the decode device stays.
    page.set_field("disaggregation_config_decode_device", "h100");
    page.set_field("disaggregation_config_decode_network_device", "a100_pairwise_nvlink");
    page.set_field("disaggregation_config_decode_device", "b200");
    assert_eq!(flag_text(&page, "disaggregation_config_decode_network_device"), "a100_pairwise_nvlink");
}

#[test]
fn an_empty_optional_field_means_none_and_a_word_in_a_number_is_refused_at_run() {
    let mut page = ready_page();
    page.set_field("synthetic_request_generator_config_num_requests", "");
    page.set_field("synthetic_request_generator_config_duration", "30");
    let config = page.form().to_json();
    assert_eq!(
        config["synthetic_request_generator_config_num_requests"],
        serde_json::Value::Null,
        "{config}"
    );
    assert!(page.form().validate(&|_| true).is_empty());
    // An emptied seed is the default seed.
    page.set_field("seed", "");
    assert!(!page.form().is_set("seed"));
    // Text that is not a number: the run is refused at the field, not run with the default.
    page.set_field("cluster_config_num_replicas", "eight");
    assert!(page.start_run(0.0).is_empty());
    assert_eq!(page.run_errors()[0].flag, "cluster_config_num_replicas");
    assert_eq!(page.runs().outcome(), Some(&Outcome::Refused { errors: 1 }));
}

#[test]
fn a_run_goes_from_requested_through_progress_to_finished_and_is_stored() {
    let mut page = ready_page();
    let effects = page.start_run(1000.0);
    assert_eq!(effects, [Effect::Run { request: 1, config: page.form().to_json() }]);
    assert!(page.start_run(1001.0).is_empty(), "Run is ignored while a run is in progress");
    let progress = RunProgress { sim_time_s: 2.0, requests_done: 5, ..RunProgress::default() };
    reply(&mut page, FromWorker::RunProgress { run_id: 7, progress }, 1100.0);
    assert!(
        matches!(page.runs().status(), RunStatus::Running { progress: None, .. }),
        "another run's progress is ignored"
    );
    reply(&mut page, FromWorker::RunProgress { run_id: 1, progress }, 1200.0);
    assert!(matches!(page.runs().status(), RunStatus::Running { progress: Some(p), .. } if *p == progress));

    let query = page.share_query();
    let effects = reply(&mut page, finished(1), 1500.0);
    let [Effect::ReplaceQuery(q), Effect::StoreRuns(stored)] = &effects[..] else { panic!("{effects:?}") };
    assert_eq!(q, &query, "the address bar holds the run's link");
    assert_eq!(storage::decode(stored).unwrap().len(), 1, "the run is kept in the browser");
    assert_eq!(page.runs().status(), &RunStatus::Idle);
    let record = page.runs().record(1).expect("recorded");
    assert_eq!((record.wall_ms, record.summary["num_completed"].as_u64()), (500.0, Some(1)));
    assert_eq!((record.share_query.as_str(), record.gpus), (query.as_str(), 8));
    assert!(record.label.starts_with("Quick start"), "{}", record.label);
    assert_eq!(page.runs().view(), View::Run(1));
    assert_eq!(page.runs().outcome(), Some(&Outcome::Finished { run_id: 1 }));
    assert!(page.form_is_run(1));

    let files = vec![("request_metrics.csv".to_string(), "a\n".to_string())];
    page.on_message(FromWorker::RunFiles { run_id: 1, skipped: Vec::new() }, files.clone(), 1600.0);
    assert_eq!(page.runs().downloads()[&1].files, files);

    // The next run is shown alone: nothing is compared unless asked.
    page.set_field("seed", "2");
    assert!(!page.form_is_run(1), "the results are run #1's, not the form's");
    run_to_end(&mut page, 2000.0);
    assert_eq!(page.runs().view(), View::Run(2));
    assert_eq!(page.runs().picks(), (None, None));
}

#[test]
fn the_comparison_is_a_view_the_user_asks_for() {
    let mut page = ready_page();
    for (i, now) in [0.0, 10.0, 20.0].into_iter().enumerate() {
        page.set_field("seed", &(i + 1).to_string());
        run_to_end(&mut page, now);
    }
    assert_eq!(page.runs().view(), View::Run(3));
    page.pick_a(1);
    page.pick_b(1);
    page.compare_picked();
    assert_eq!(page.runs().view(), View::Run(3), "a run is not compared with itself");
    page.pick_b(2);
    assert_eq!(page.runs().view(), View::Run(3), "picking A and B does not switch the view");
    page.compare_picked();
    assert_eq!(page.runs().view(), View::Compare { a: 1, b: 2 });
    page.show_run(3);
    assert_eq!(page.runs().view(), View::Run(3));
    // Deleting a compared run leaves the comparison.
    page.compare_picked();
    page.delete_run(2);
    assert_eq!((page.runs().view(), page.runs().picks()), (View::Run(3), (Some(1), None)));
}

#[test]
fn a_refused_run_marks_its_fields_says_so_and_does_not_use_up_its_number() {
    let mut page = ready_page();
    run_to_end(&mut page, 0.0);
    assert_eq!(sent(&page.start_run(1.0)), Some(2));
    let errors = vec![FieldError { flag: "seed".into(), message: "bad".into(), hint: None }];
    assert!(reply(&mut page, FromWorker::RunFailed { run_id: 2, errors: errors.clone() }, 1.0).is_empty());
    assert_eq!(page.runs().status(), &RunStatus::Idle);
    assert_eq!(page.run_errors(), errors);
    assert_eq!(page.runs().outcome(), Some(&Outcome::Refused { errors: 1 }), "the status line says refused");
    assert_eq!(record_ids(&page), [1], "a refused run leaves no record");
    page.set_field("seed", "3");
    assert!(page.run_errors().is_empty(), "editing the form clears the run's errors");
    assert_eq!(sent(&page.start_run(2.0)), Some(3), "a new request");
    assert_eq!(running_id(&page), Some(2), "the refused run's number is reused");
    reply(&mut page, finished(3), 3.0);
    assert_eq!(record_ids(&page), [1, 2]);
}

#[test]
fn a_cancelled_run_stops_in_the_worker_and_gives_its_number_to_the_next_run() {
    let mut page = ready_page();
    reply(&mut page, finished(9), 0.0);
    assert!(page.runs().records().is_empty(), "nothing runs: a stray result is ignored");
    assert!(page.cancel_run().is_empty(), "nothing to cancel");
    run_to_end(&mut page, 0.0);
    assert_eq!(sent(&page.start_run(2.0)), Some(2));
    assert_eq!(page.cancel_run(), [Effect::CancelRun { request: 2 }]);
    assert_eq!(page.runs().status(), &RunStatus::Idle);
    assert!(page.worker_ready(), "the worker is not restarted: it keeps the uploads");
    assert_eq!(page.notice(), Some("Run cancelled."));
    assert_eq!(page.runs().outcome(), Some(&Outcome::Cancelled));
    // The next run is run #2 again, sent as a new request: a late reply about the cancelled
    // one is not taken for it.
    assert_eq!(sent(&page.start_run(5.0)), Some(3));
    assert_eq!(running_id(&page), Some(2), "no gap in the numbers");
    assert_eq!(page.notice(), None, "Run clears the notice");
    reply(&mut page, finished(2), 6.0);
    assert_eq!(record_ids(&page), [1], "the cancelled request's result is ignored");
    reply(&mut page, finished(3), 7.0);
    assert_eq!(record_ids(&page), [1, 2]);
}

#[test]
fn a_crash_stops_the_run_and_says_so() {
    let mut page = ready_page();
    page.start_run(0.0);
    reply(&mut page, FromWorker::Crashed { message: "out of memory".into() }, 1.0);
    assert_eq!(page.runs().status(), &RunStatus::Idle);
    assert!(!page.worker_ready());
    assert_eq!(page.runs().outcome(), Some(&Outcome::Crashed));
    assert!(page.notice().is_some_and(|n| n.contains("out of memory")), "{:?}", page.notice());
}

#[test]
fn an_ab_preset_runs_a_then_b_and_compares_them() {
    let mut page = ready_page();
    page.apply_preset("scheduler-ab");
    let variant = page.armed_variant().expect("the preset's B is armed");
    let effects = page.start_run(0.0);
    assert_eq!(sent(&effects), Some(1));
    let a_label = match page.runs().status() {
        RunStatus::Running { pair: Some(PairPart::A { b }), label, .. } => {
            let b_form = crate::compare::variant_form(page.form(), &variant);
            assert_eq!(b.config, b_form.to_json(), "B is the form with the variant's overrides");
            assert!(b.label.ends_with("B: sarathi"), "{}", b.label);
            label.clone()
        }
        other => panic!("A of a pair runs: {other:?}"),
    };
    assert!(a_label.ends_with("A: vllm_v1"), "{a_label}");
    // Edits while A runs do not change B.
    page.set_field("seed", "7");
    let effects = reply(&mut page, finished(1), 10.0);
    let [Effect::ReplaceQuery(query), Effect::StoreRuns(_), Effect::Run { request: 2, config }] =
        &effects[..]
    else {
        panic!("A's link in the address bar, then B: {effects:?}")
    };
    assert_eq!(query, &page.runs().record(1).unwrap().share_query);
    assert_eq!(config["replica_scheduler_config_type"], "sarathi");
    assert!(config.get("seed").is_none(), "{config}");
    assert!(matches!(
        page.runs().status(),
        RunStatus::Running { run_id: 2, pair: Some(PairPart::B { a: 1 }), .. }
    ));
    assert_eq!(page.runs().view(), View::Run(1), "A is shown while B runs");
    let effects = reply(&mut page, finished(2), 20.0);
    assert!(matches!(&effects[..], [Effect::StoreRuns(_)]), "the address bar keeps A's link: {effects:?}");
    assert_eq!(page.runs().status(), &RunStatus::Idle);
    assert_eq!(page.runs().view(), View::Compare { a: 1, b: 2 }, "a pair is shown compared");
    assert_eq!(page.runs().picks(), (Some(1), Some(2)));

    // Unticking the checkbox runs A alone.
    page.set_run_variant(false);
    assert!(page.armed_variant().is_none() && page.variant().is_some());
    page.start_run(30.0);
    assert!(matches!(page.runs().status(), RunStatus::Running { pair: None, .. }));
}

#[test]
fn a_refused_b_is_reported_on_the_page_not_at_the_fields() {
    let mut page = ready_page();
    page.apply_preset("scheduler-ab");
    page.start_run(0.0);
    reply(&mut page, finished(1), 1.0);
    let errors = vec![FieldError { flag: "seed".into(), message: "bad".into(), hint: Some("fix".into()) }];
    reply(&mut page, FromWorker::RunFailed { run_id: 2, errors }, 2.0);
    assert!(page.run_errors().is_empty(), "the form shows A's settings");
    let notice = page.notice().expect("a notice");
    assert!(notice.starts_with("Run B (") && notice.ends_with("was refused: --seed: bad (fix)"), "{notice}");
    assert_eq!(page.runs().status(), &RunStatus::Idle);
    page.start_run(3.0);
    assert_eq!(running_id(&page), Some(2), "B's number is reused");
}

#[test]
fn runs_that_differ_only_in_one_setting_have_different_labels() {
    let mut page = ready_page();
    page.set_field("seed", "5");
    run_to_end(&mut page, 0.0);
    page.set_field("replica_config_network_device", "h100_pairwise_nvlink");
    run_to_end(&mut page, 10.0);
    run_to_end(&mut page, 20.0);
    let labels: Vec<&str> = page.runs().records().iter().map(|r| r.label.as_str()).collect();
    assert!(labels[1].ends_with(" · network_device=h100_pairwise_nvlink"), "{labels:?}");
    assert!(labels[2].ends_with(" · again"), "{labels:?}");
    assert_eq!(labels.iter().collect::<std::collections::BTreeSet<_>>().len(), 3, "{labels:?}");
}

#[test]
fn runs_survive_a_reload_and_can_be_deleted() {
    let mut page = ready_page();
    run_to_end(&mut page, 0.0);
    page.set_field("seed", "9");
    let effects = run_to_end(&mut page, 10.0);
    let Some(Effect::StoreRuns(stored)) = effects.iter().find(|e| matches!(e, Effect::StoreRuns(_))) else {
        panic!("{effects:?}")
    };
    // A reload: a fresh page restores them, showing the latest, and numbers on.
    let mut again = ready_page();
    assert!(again.restore_runs(stored).is_empty());
    assert_eq!(record_ids(&again), [1, 2]);
    assert!(again.runs().records().iter().all(|r| r.restored));
    assert_eq!(again.runs().view(), View::Run(2));
    assert_eq!(again.runs().record(2).unwrap().share_query, page.runs().record(2).unwrap().share_query);
    // The reloaded address bar holds run 2's link: it shows run 2 rather than running again.
    let link = again.runs().record(2).unwrap().share_query.clone();
    again.show_run(1);
    assert!(again.open_link(&format!("?{link}")).is_empty());
    assert!(!again.autorun());
    assert_eq!(again.runs().view(), View::Run(2));
    run_to_end(&mut again, 20.0);
    assert_eq!(record_ids(&again), [1, 2, 3]);
    // Deleting one, then all.
    let effects = again.delete_run(1);
    let [Effect::StoreRuns(stored), Effect::ReplaceQuery(address)] = &effects[..] else {
        panic!("{effects:?}")
    };
    assert_eq!(storage::decode(stored).unwrap().iter().map(|r| r.id).collect::<Vec<_>>(), [2, 3]);
    // The address bar holds the shown run's link, so a reload shows it and runs nothing.
    assert_eq!(*address, again.runs().record(3).unwrap().share_query);
    // After all are deleted it holds no link: a reload must not run a deleted run again.
    assert_eq!(
        again.delete_all_runs(),
        [Effect::StoreRuns(String::new()), Effect::ReplaceQuery(String::new())]
    );
    assert!(again.runs().records().is_empty() && again.runs().view() == View::Nothing);
    // Another schema is dropped with a notice, not misread.
    let mut other = ready_page();
    let effects = other.restore_runs(r#"{"schema": 0, "runs": []}"#);
    assert_eq!(effects, [Effect::StoreRuns(String::new())]);
    assert!(other.notice().is_some_and(|n| n.contains("could not be read")));
}

#[test]
fn a_share_link_asks_for_its_file_and_runs_once_it_is_in() {
    // The page that makes the link.
    let mut maker = ready_page();
    maker.apply_preset("llama3-70b-tp4");
    maker.upload_trace("mine.csv", 64);
    reply(&mut maker, loaded(1, info(REPLAY, "mine.csv", 64, "c0ffee")), 1.0);
    let query = maker.share_query();

    // The page that opens it, with the worker still starting.
    let mut page = Page::new();
    assert!(page.open_link(&query).is_empty(), "nothing to load: the file is not in links");
    assert_eq!(page.form().active_pairs(), maker.form().active_pairs());
    assert!(page.autorun() && page.variant().is_none());
    assert_eq!(page.uploads().missing_expected().len(), 1);
    assert!(reply(&mut page, FromWorker::Ready, 2.0).is_empty(), "the file is missing");
    let effects = page.upload_trace("mine.csv", 64);
    assert!(matches!(&effects[..], [Effect::LoadFile { path, .. }] if path == "mine.csv"), "{effects:?}");
    assert_eq!(flag_text(&page, REPLAY), "mine.csv");
    assert_eq!(running_id(&page), None, "the file is still being read");
    let effects = reply(&mut page, loaded(1, info(REPLAY, "mine.csv", 64, "c0ffee")), 3.0);
    assert_eq!(sent(&effects), Some(1), "it runs once the file is in");
    assert!(!page.autorun());
    assert_eq!(page.notice(), None);
}

#[test]
fn a_file_that_differs_from_the_links_waits_for_confirmation() {
    let mut maker = ready_page();
    maker.apply_preset("llama3-70b-tp4");
    maker.upload_trace("conv.csv", 8);
    reply(&mut maker, loaded(1, info(REPLAY, "conv.csv", 8, "aaaa")), 1.0);
    let mut page = ready_page();
    page.open_link(&maker.share_query());

    // Another file: read under its own name, checked, and not run.
    let effects = page.upload_trace("code.csv", 9);
    assert!(matches!(&effects[..], [Effect::LoadFile { path, .. }] if path == "code.csv"), "{effects:?}");
    assert_eq!(flag_text(&page, REPLAY), "conv.csv", "the form reads the link's file until checked");
    let effects = reply(&mut page, loaded(1, info(REPLAY, "code.csv", 9, "bbbb")), 2.0);
    assert_eq!(sent(&effects), None, "a file that differs does not run by itself");
    let mismatches = page.uploads().mismatches();
    let UploadStatus::Mismatch { info: read, expected, .. } = &mismatches[0].status else {
        panic!("{mismatches:?}")
    };
    let said = uploads::mismatch_text(read, expected);
    assert!(said.contains("its name, size and SHA-256 differ"), "{said}");
    assert!(said.contains("conv.csv") && said.contains("code.csv"), "{said}");

    // The link's own file, renamed: same size and hash, so it is used under its own name.
    let mut renamed = Page::new();
    renamed.open_link(&maker.share_query());
    renamed.upload_trace("copy.csv", 8);
    reply(&mut renamed, loaded(1, info(REPLAY, "copy.csv", 8, "aaaa")), 2.0);
    assert_eq!(flag_text(&renamed, REPLAY), "copy.csv");
    assert!(renamed.notice().is_some_and(|n| n.contains("size and SHA-256 of the link's conv.csv")));
    assert_eq!(sent(&reply(&mut renamed, FromWorker::Ready, 3.0)), Some(1), "and it runs");

    // Confirming the other file runs it under its own name; its link says so.
    let effects = page.use_mismatched("code.csv", 3.0);
    assert_eq!(sent(&effects), Some(1));
    assert_eq!(flag_text(&page, REPLAY), "code.csv");
    assert!(page.uploads().missing_expected().is_empty());
    let link = SharedRun::from_query(&page.share_query());
    assert_eq!((link.files[0].path.as_str(), link.files[0].sha256.as_str()), ("code.csv", "bbbb"));

    // Choosing the right file instead drops the one waiting.
    let mut right = ready_page();
    right.open_link(&maker.share_query());
    right.upload_trace("code.csv", 9);
    reply(&mut right, loaded(1, info(REPLAY, "code.csv", 9, "bbbb")), 2.0);
    right.upload_trace("conv.csv", 8);
    let effects = reply(&mut right, loaded(2, info(REPLAY, "conv.csv", 8, "aaaa")), 3.0);
    assert!(effects.contains(&Effect::ForgetUpload { upload_id: 1 }), "{effects:?}");
    assert_eq!(sent(&effects), Some(1));
    assert!(right.uploads().mismatches().is_empty());
}

#[test]
fn a_disaggregated_form_survives_its_share_link() {
    let mut maker = ready_page();
    for (flag, text) in [
        ("disaggregation_config_type", "prefill_decode"),
        ("disaggregation_config_decode_num_replicas", "3"),
        ("disaggregation_config_decode_device", "h200"),
        ("disaggregation_config_decode_tensor_parallel_size", "2"),
        ("disaggregation_config_decode_router", "most_kv_free"),
        ("disaggregation_config_layerwise_transfer", "true"),
        ("disaggregation_config_transfer_overhead_ms", "0.5"),
        ("disaggregation_config_decode_replica_scheduler_type", "trtllm"),
        ("trtllm_scheduler_config_max_num_tokens", "4096"),
    ] {
        maker.set_field(flag, text);
    }
    let errors = maker.form().validate(&|p| maker.uploads().is_provided(p));
    assert!(errors.is_empty(), "the quick start, disaggregated, is valid: {errors:?}");
    let query = maker.share_query();
    assert!(query.contains("disaggregation_config_decode_num_replicas=3"), "{query}");
    assert!(query.contains("disaggregation_config_decode_replica_scheduler_type=trtllm"), "{query}");
    assert!(
        query.contains("trtllm_scheduler_config_max_num_tokens=4096"),
        "the decode scheduler's own: {query}"
    );
    let mut opened = ready_page();
    opened.open_link(&format!("?{query}"));
    assert!(opened.run_errors().is_empty(), "{:?}", opened.run_errors());
    assert_eq!(opened.form().to_json(), maker.form().to_json());
    assert_eq!(flag_text(&opened, "disaggregation_config_decode_network_device"), "h200_dgx");
    assert_eq!(flag_text(&opened, "disaggregation_config_decode_router"), "most_kv_free");
}

#[test]
fn a_link_with_unknown_settings_does_not_run() {
    let mut page = ready_page();
    page.open_link("seed=3&no_such_flag=1");
    assert!(!page.autorun());
    assert_eq!(page.run_errors().len(), 1, "{:?}", page.run_errors());
    assert!(page.notice().is_some_and(|n| n.contains("does not know")));
    assert!(page.open_link("").is_empty(), "a bare page URL changes nothing");
}

#[test]
fn a_link_of_an_ab_preset_runs_alone_with_b_offered() {
    let mut maker = ready_page();
    maker.apply_preset("scheduler-ab");
    let mut page = ready_page();
    page.open_link(&maker.share_query());
    assert!(page.variant().is_some() && !page.run_variant());
    assert_eq!(page.matching_preset(), Some("scheduler-ab"));
}

#[test]
fn a_pasted_config_is_checked_named_uploaded_and_carried_by_links() {
    let flag = "replica_config_model_config_file";
    let mut page = ready_page();
    assert!(page.use_pasted_config(flag, "{").unwrap_err().starts_with("not valid JSON"));
    assert!(page.use_pasted_config(flag, "[1]").unwrap_err().contains("JSON object"));
    let big = format!("{{\"x\": \"{}\"}}", "a".repeat(crate::share::MAX_LINK_TEXT));
    assert!(page.use_pasted_config(flag, &big).unwrap_err().contains("upload the file instead"));
    let text = r#"{"_name_or_path": "org/My Model", "num_hidden_layers": 2}"#;
    let effects = page.use_pasted_config(flag, text).unwrap();
    let expected = Content::Text(text.to_string());
    assert_eq!(
        effects,
        [Effect::LoadFile {
            upload_id: 1,
            flag: flag.into(),
            path: "My-Model.json".into(),
            content: expected
        }]
    );
    assert_eq!(flag_text(&page, flag), "My-Model.json");
    assert_eq!(flag_text(&page, "replica_config_model_name"), "org/My Model");
    assert!(page.run_label().starts_with("custom: 8 × My Model h100"), "{}", page.run_label());
    let link = SharedRun::from_query(&page.share_query());
    assert_eq!(link.texts, [("My-Model.json".to_string(), text.to_string())]);

    // Opening the link loads the text again, for the same flag.
    let mut other = ready_page();
    let effects = other.open_link(&page.share_query());
    let Some(Effect::LoadFile { flag: loaded_flag, path, content: Content::Text(t), .. }) = effects.first()
    else {
        panic!("{effects:?}")
    };
    assert_eq!((loaded_flag.as_str(), path.as_str(), t.as_str()), (flag, "My-Model.json", text));
    assert_eq!(other.uploads().pasted("My-Model.json"), Some(text));
}

#[test]
fn a_picked_file_names_its_field_and_uploads_and_a_rejected_one_is_undone() {
    let flag = "replica_config_model_config_file";
    let mut page = ready_page();
    let effects = page.pick_file(flag, "config.json", 5);
    assert_eq!(flag_text(&page, flag), "config.json");
    assert!(matches!(&effects[..], [Effect::LoadFile { content: Content::Given, .. }]));
    reply(&mut page, failed(1, "config.json"), 1.0);
    assert_eq!(flag_text(&page, flag), "", "the field is back to what it read");
    assert_eq!(page.uploads().rejected(flag).map(|r| r.name.as_str()), Some("config.json"));
}

#[test]
fn a_preset_replaces_the_form_and_can_be_undone() {
    let mut maker = ready_page();
    maker.upload_trace("t.csv", 8);
    reply(&mut maker, loaded(1, info(LENGTHS, "t.csv", 8, "aaaa")), 1.0);
    let mut page = ready_page();
    page.open_link(&maker.share_query());
    assert_eq!(page.uploads().expected().len(), 1);
    let linked = page.form().clone();
    page.apply_preset("closed-loop-benchmark");
    assert!(page.uploads().expected().is_empty());
    assert_eq!(page.matching_preset(), Some("closed-loop-benchmark"));
    assert!(page.preset_undo().is_some(), "the link's files were to be read");
    page.undo_preset();
    assert_eq!(page.uploads().expected().len(), 1);
    assert_eq!(page.form(), &linked);
    assert!(page.preset_undo().is_none());

    // Edits and an uploaded trace come back with undo.
    let mut page = ready_page();
    page.set_field("seed", "5");
    page.upload_trace("mine.csv", 8);
    reply(&mut page, loaded(1, info(LENGTHS, "mine.csv", 8, "aa")), 1.0);
    let edited = page.form().clone();
    page.apply_preset("llama3-70b-tp4");
    assert_eq!(page.preset_undo().map(|u| u.preset), Some("llama3-70b-tp4"));
    page.undo_preset();
    assert_eq!(page.form(), &edited);
    // Between untouched presets there is nothing to undo; an edit forgets the undo.
    page.apply_preset("quick-start");
    page.apply_preset("closed-loop-benchmark");
    assert!(page.preset_undo().is_none());
    page.set_field("seed", "5");
    page.apply_preset("quick-start");
    page.set_field("seed", "6");
    assert!(page.preset_undo().is_none());
    assert!(page.run_label().starts_with("custom: "), "{}", page.run_label());
}

#[test]
fn the_default_preset_runs_at_once_and_the_page_says_which_shipped_file_the_worker_fetches() {
    // Nothing is fetched ahead of the Run: the first visit downloads no trace, and the Run
    // itself is sent at once (the worker fetches the shipped trace before running it).
    let mut page = ready_page();
    assert!(
        crate::presets::is_shipped(&flag_text(&page, LENGTHS)),
        "the default preset reads a shipped trace"
    );
    assert_eq!(sent(&page.start_run(1.0)), Some(1), "the first Run is sent without waiting for the trace");
    assert_eq!(page.fetching(), None);
    let path = crate::presets::SHIPPED_TRACE.to_string();
    reply(&mut page, FromWorker::FetchStarted { path: path.clone() }, 2.0);
    assert_eq!(page.fetching(), Some(path.as_str()), "shown while the worker fetches it");
    reply(&mut page, FromWorker::FetchEnded { path: "data/traces/other.csv".into() }, 3.0);
    assert_eq!(page.fetching(), Some(path.as_str()), "another file's end leaves it");
    reply(&mut page, FromWorker::FetchEnded { path: path.clone() }, 4.0);
    assert_eq!(page.fetching(), None);
    reply(&mut page, FromWorker::FetchStarted { path }, 5.0);
    reply(&mut page, FromWorker::Crashed { message: "gone".into() }, 6.0);
    assert_eq!(page.fetching(), None, "a restarted worker fetches nothing yet");
}

#[test]
fn a_run_s_gpus_are_the_report_s_both_pools_not_the_link_s_first() {
    // A disaggregated cluster of 1 prefill and 3 decode replicas: the link's replica count
    // says 1 GPU (what the runs table showed), the report's cost counts 4.
    let query =
        SharedRun { pairs: vec![("cluster_config_num_replicas".into(), "1".into())], ..SharedRun::default() }
            .to_query();
    let mut four = result(1);
    four.summary_json = r#"{"num_completed": 1, "cost": {"num_gpus": 4}}"#.into();
    assert_eq!(RunRecord::new(1, "a".into(), four, query.clone(), 1.0).gpus, 4);
    // A summary without a cost falls back to the link.
    assert_eq!(RunRecord::new(2, "b".into(), result(1), query, 1.0).gpus, 1);
}
