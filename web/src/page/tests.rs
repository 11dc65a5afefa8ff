//! The page's state machine driven natively, message by message, as the browser would.

use llmsim_protocol::{ChartData, FieldError, FileError, FileInfo, FromWorker, RunProgress, RunResult};

use super::*;
use crate::share::SharedRun;

const REPLAY: &str = "trace_request_generator_config_trace_file";
const LENGTHS: &str = "trace_request_length_generator_config_trace_file";

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

fn result(completed: u64) -> RunResult {
    RunResult {
        summary_json: format!("{{\"num_completed\": {completed}}}"),
        charts: ChartData::default(),
        warnings: Vec::new(),
        elapsed_ms: 1.0,
    }
}

fn finished(run_id: u32) -> FromWorker {
    FromWorker::RunFinished { run_id, result: result(u64::from(run_id)) }
}

/// The id of the run an effect list sends, if it sends one.
fn sent_run(effects: &[Effect]) -> Option<u32> {
    effects.iter().find_map(|e| match e {
        Effect::Run { run_id, .. } => Some(*run_id),
        _ => None,
    })
}

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
    page.form().text(llmsim_engine::find_flag(flag).expect("a flag"))
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
    assert_eq!(status(&page), Some(UploadStatus::Loaded { info: file, elapsed_ms: 3.0 }));
    assert!(page.uploads().is_available("t.csv"));
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
}

#[test]
fn a_trace_field_chosen_after_the_upload_reads_it() {
    let mut page = ready_page();
    page.upload_trace("t.csv", 10);
    reply(&mut page, loaded(1, info(LENGTHS, "t.csv", 10, "ab")), 1.0);
    page.set_field("request_generator_config_type", "trace");
    assert_eq!(flag_text(&page, REPLAY), "t.csv", "replay reads the uploaded trace");
    // A failed upload is not adopted.
    let mut page = ready_page();
    page.upload_trace("bad.csv", 10);
    let error = FileError { file: "bad.csv".into(), line: Some(2), column: None, message: "bad".into() };
    reply(&mut page, FromWorker::FileFailed { upload_id: 1, error }, 1.0);
    page.set_field("request_generator_config_type", "trace");
    assert_ne!(flag_text(&page, REPLAY), "bad.csv");
}

#[test]
fn a_refused_upload_is_failed_and_forgotten_by_the_worker() {
    let mut page = ready_page();
    page.upload_trace("bad.csv", 10);
    let error = FileError {
        file: "bad.csv".into(),
        line: Some(3),
        column: Some("arrived_at".into()),
        message: "x".into(),
    };
    let effects = reply(&mut page, FromWorker::FileFailed { upload_id: 1, error: error.clone() }, 1.0);
    assert_eq!(effects, [Effect::ForgetUpload { upload_id: 1 }]);
    assert_eq!(page.uploads().get("bad.csv").map(|u| &u.status), Some(&UploadStatus::Failed(error)));
    assert!(!page.uploads().is_available("bad.csv"));
    assert!(page.uploads().is_provided("bad.csv"), "its own error shows at the field");
}

#[test]
fn a_replaced_upload_ignores_the_replies_about_the_old_one() {
    let mut page = ready_page();
    page.upload_trace("t.csv", 10);
    let effects = page.upload_trace("t.csv", 20);
    assert!(matches!(&effects[..], [Effect::LoadFile { upload_id: 2, .. }]), "{effects:?}");
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
fn a_run_goes_from_requested_through_progress_to_finished() {
    let mut page = ready_page();
    let effects = page.start_run(1000.0);
    assert_eq!(effects, [Effect::Run { run_id: 1, config: page.form().to_json() }]);
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
    assert_eq!(effects, [Effect::ReplaceQuery(query.clone())], "the address bar holds the run's link");
    assert_eq!(page.runs().status(), &RunStatus::Idle);
    let record = page.runs().record(1).expect("recorded");
    assert_eq!((record.wall_ms, record.summary["num_completed"].as_u64()), (500.0, Some(1)));
    assert_eq!(record.share_query, query);
    assert!(record.label.starts_with("Quick start"), "{}", record.label);
    assert_eq!(page.runs().shown(), Some(1));
    assert_eq!(page.runs().compare(), (None, Some(1)));

    let files = vec![("summary.json".to_string(), "{}".to_string())];
    page.on_message(FromWorker::RunFiles { run_id: 1, skipped: Vec::new() }, files.clone(), 1600.0);
    assert_eq!(page.runs().downloads()[&1].files, files);

    // The next single run is compared with this one.
    assert_eq!(sent_run(&page.start_run(2000.0)), Some(2));
    reply(&mut page, finished(2), 2100.0);
    assert_eq!(page.runs().compare(), (Some(1), Some(2)));
    let (a, b) = page.runs().compared().expect("two runs");
    assert_eq!((a.id, b.id), (1, 2));
}

#[test]
fn a_refused_run_marks_its_fields_and_does_not_use_up_its_number() {
    let mut page = ready_page();
    assert_eq!(sent_run(&page.start_run(0.0)), Some(1));
    let errors = vec![FieldError { flag: "seed".into(), message: "bad".into(), hint: None }];
    assert!(reply(&mut page, FromWorker::RunFailed { run_id: 1, errors: errors.clone() }, 1.0).is_empty());
    assert_eq!(page.runs().status(), &RunStatus::Idle);
    assert_eq!(page.run_errors(), errors);
    assert!(page.runs().records().is_empty(), "a refused run leaves no record");
    page.set_field("seed", "3");
    assert!(page.run_errors().is_empty(), "editing the form clears the run's errors");
    assert_eq!(sent_run(&page.start_run(2.0)), Some(1), "the refused run's number is reused");
    reply(&mut page, finished(1), 3.0);
    assert_eq!(record_ids(&page), [1]);
}

#[test]
fn a_cancelled_run_restarts_the_worker_and_gives_its_number_to_the_next_run() {
    let mut page = ready_page();
    reply(&mut page, finished(9), 0.0);
    assert!(page.runs().records().is_empty(), "nothing runs: a stray result is ignored");
    assert!(page.cancel_run().is_empty(), "nothing to cancel");
    page.start_run(0.0);
    reply(&mut page, finished(1), 1.0);
    assert_eq!(sent_run(&page.start_run(2.0)), Some(2));
    assert_eq!(page.cancel_run(), [Effect::RestartWorker]);
    assert_eq!(page.runs().status(), &RunStatus::Idle);
    assert!(!page.worker_ready());
    assert_eq!(page.notice(), Some("Run cancelled."));
    // A late reply of the stopped worker changes nothing.
    reply(&mut page, finished(2), 3.0);
    assert_eq!(record_ids(&page), [1]);
    reply(&mut page, FromWorker::Ready, 4.0);
    assert_eq!(sent_run(&page.start_run(5.0)), Some(2), "no gap in the numbers");
    assert_eq!(page.notice(), None, "Run clears the notice");
    reply(&mut page, finished(2), 6.0);
    assert_eq!(record_ids(&page), [1, 2]);
}

#[test]
fn a_crash_stops_the_run_and_says_so() {
    let mut page = ready_page();
    page.start_run(0.0);
    reply(&mut page, FromWorker::Crashed { message: "out of memory".into() }, 1.0);
    assert_eq!(page.runs().status(), &RunStatus::Idle);
    assert!(!page.worker_ready());
    assert!(page.notice().is_some_and(|n| n.contains("out of memory")), "{:?}", page.notice());
}

#[test]
fn an_ab_preset_runs_a_then_b_and_compares_them() {
    let mut page = ready_page();
    page.apply_preset("scheduler-ab");
    let variant = page.armed_variant().expect("the preset's B is armed");
    let effects = page.start_run(0.0);
    assert_eq!(sent_run(&effects), Some(1));
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
    let [Effect::ReplaceQuery(query), Effect::Run { run_id: 2, config }] = &effects[..] else {
        panic!("A's link in the address bar, then B: {effects:?}")
    };
    assert_eq!(query, &page.runs().record(1).unwrap().share_query);
    assert_eq!(config["replica_scheduler_config_type"], "sarathi");
    assert!(config.get("seed").is_none(), "{config}");
    assert!(matches!(
        page.runs().status(),
        RunStatus::Running { run_id: 2, pair: Some(PairPart::B { a: 1 }), .. }
    ));
    assert_eq!(page.runs().shown(), Some(1), "A is shown while B runs");
    assert!(reply(&mut page, finished(2), 20.0).is_empty(), "the address bar keeps A's link");
    assert_eq!(page.runs().status(), &RunStatus::Idle);
    assert_eq!((page.runs().shown(), page.runs().compare()), (Some(2), (Some(1), Some(2))));

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
    assert_eq!(sent_run(&page.start_run(3.0)), Some(2), "B's number is reused");
}

#[test]
fn the_compared_pair_is_what_the_user_picks() {
    let mut page = ready_page();
    for (id, now) in [(1, 0.0), (2, 1.0), (3, 2.0)] {
        page.start_run(now);
        reply(&mut page, finished(id), now + 0.5);
    }
    assert_eq!(page.runs().compare(), (Some(2), Some(3)));
    page.pick_a(1);
    page.pick_b(1);
    assert!(page.runs().compared().is_none(), "a run is not compared with itself");
    page.pick_b(3);
    let (a, b) = page.runs().compared().unwrap();
    assert_eq!((a.id, b.id), (1, 3));
    page.show_run(2);
    assert_eq!(page.runs().shown(), Some(2));
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
    assert_eq!(page.uploads().missing_expected(), ["mine.csv"]);
    assert!(reply(&mut page, FromWorker::Ready, 2.0).is_empty(), "the file is missing");
    // Whatever its name here, the file takes the link's.
    let effects = page.upload_trace("renamed.csv", 64);
    assert!(matches!(&effects[..], [Effect::LoadFile { path, .. }] if path == "mine.csv"), "{effects:?}");
    assert_eq!(flag_text(&page, REPLAY), "mine.csv");
    // A worker that restarts meanwhile does not run it either: the file is still being read.
    assert!(reply(&mut page, FromWorker::Ready, 2.5).is_empty());
    assert_eq!(running_id(&page), None);
    let effects = reply(&mut page, loaded(1, info(REPLAY, "mine.csv", 64, "c0ffee")), 3.0);
    assert_eq!(sent_run(&effects), Some(1), "it runs once the file is in");
    assert!(!page.autorun());
    assert_eq!(page.notice(), None);
}

#[test]
fn a_linked_file_that_differs_is_warned_about() {
    let mut maker = ready_page();
    maker.upload_trace("t.csv", 8);
    reply(&mut maker, loaded(1, info(LENGTHS, "t.csv", 8, "aaaa")), 1.0);
    // The worker is still starting, so the run waits and the warning stays.
    let mut page = Page::new();
    page.open_link(&maker.share_query());
    page.upload_trace("t.csv", 9);
    assert!(reply(&mut page, loaded(1, info(LENGTHS, "t.csv", 9, "bbbb")), 2.0).is_empty());
    let notice = page.notice().expect("a warning");
    assert!(notice.starts_with("t.csv differs from the file the link was made with (t.csv ("), "{notice}");
    assert_eq!(sent_run(&reply(&mut page, FromWorker::Ready, 3.0)), Some(1), "it still runs");
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
fn a_picked_file_names_its_field_and_uploads() {
    let flag = "replica_config_model_config_file";
    let mut page = ready_page();
    let effects = page.pick_file(flag, "config.json", 5);
    assert_eq!(flag_text(&page, flag), "config.json");
    assert!(matches!(&effects[..], [Effect::LoadFile { content: Content::Given, .. }]));
}

#[test]
fn a_preset_replaces_the_form_and_forgets_the_links_files() {
    let mut maker = ready_page();
    maker.upload_trace("t.csv", 8);
    reply(&mut maker, loaded(1, info(LENGTHS, "t.csv", 8, "aaaa")), 1.0);
    let mut page = ready_page();
    page.open_link(&maker.share_query());
    assert_eq!(page.uploads().expected().len(), 1);
    page.apply_preset("closed-loop-benchmark");
    assert!(page.uploads().expected().is_empty());
    assert_eq!(page.matching_preset(), Some("closed-loop-benchmark"));
    page.set_field("seed", "5");
    assert_eq!(page.matching_preset(), None, "an edited preset is custom");
    assert!(page.run_label().starts_with("custom: "), "{}", page.run_label());
}
