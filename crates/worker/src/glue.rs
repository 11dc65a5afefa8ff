//! The worker's JavaScript side: message handling, reading uploads, fetching shipped files and
//! running the engine in chunks with throttled progress messages.
//!
//! A message is a JS object `{ json, file?, files? }`: `json` is a [`ToWorker`] / [`FromWorker`]
//! as JSON text, `file` an uploaded `File`, `files` the download texts of a finished run (kept
//! out of the JSON so megabytes of CSV are not escaped twice).

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{DedicatedWorkerGlobalScope, File, FileReaderSync, MessageEvent, Response};

use crate::session::{Session, downloads, is_shipped_path, run_result};
use llmsim_protocol::{FileError, FromWorker, RunProgress, ToWorker};

/// Events handled between two looks at the clock.
const CHUNK_EVENTS: u64 = 20_000;
/// Least wall-clock time between two progress messages, ms.
const PROGRESS_EVERY_MS: f64 = 100.0;
/// Longest a run computes before it lets the worker read its messages (a Cancel), ms.
const SLICE_MS: f64 = 50.0;

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Posts `msg`, with `files` (name → text) beside it.
pub fn post(msg: &FromWorker, files: &[(&str, String)]) {
    let envelope = Object::new();
    let json = serde_json::to_string(msg).expect("messages serialise");
    let _ = Reflect::set(&envelope, &"json".into(), &json.into());
    if !files.is_empty() {
        let map = Object::new();
        for (name, text) in files {
            let _ = Reflect::set(&map, &(*name).into(), &text.as_str().into());
        }
        let _ = Reflect::set(&envelope, &"files".into(), &map);
    }
    if let Err(e) = scope().post_message(&envelope) {
        web_sys::console::error_2(&"llmsim worker: postMessage failed".into(), &e);
    }
}

/// Installs the panic hook and the message handler, then tells the page it is ready.
pub fn run() {
    std::panic::set_hook(Box::new(|info| {
        let message = info.to_string();
        web_sys::console::error_1(&format!("llmsim worker panic: {message}").into());
        // With panic = "abort" the worker dies next; tell the page why first.
        post(&FromWorker::Crashed { message }, &[]);
    }));
    let session = Rc::new(RefCell::new(Session::new()));
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        handle(&session, &event.data());
    });
    scope().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    // Messages posted before the handler existed would be lost: the page waits for this.
    post(&FromWorker::Ready, &[]);
}

/// Handles one envelope from the page.
pub fn handle(session: &Rc<RefCell<Session>>, data: &JsValue) {
    let json = Reflect::get(data, &"json".into()).ok().and_then(|j| j.as_string()).unwrap_or_default();
    let msg: ToWorker = match serde_json::from_str(&json) {
        Ok(m) => m,
        Err(e) => {
            web_sys::console::error_1(&format!("llmsim worker: bad message {json:?}: {e}").into());
            return;
        }
    };
    match msg {
        ToWorker::LoadFile { upload_id, flag, path } => {
            let file: Option<File> = Reflect::get(data, &"file".into()).ok().and_then(|f| f.dyn_into().ok());
            let failed = |message: String| FromWorker::FileFailed {
                upload_id,
                error: FileError { file: path.clone(), line: None, column: None, message },
            };
            let reply = match file.as_ref().map(read_file) {
                None => failed("no file was attached".to_string()),
                Some(Err(message)) => failed(message),
                Some(Ok(bytes)) => load(&mut session.borrow_mut(), upload_id, &flag, &path, bytes),
            };
            post(&reply, &[]);
        }
        ToWorker::Run { run_id, config } => {
            let session = session.clone();
            wasm_bindgen_futures::spawn_local(async move {
                fetch_shipped(&session, &config).await;
                run_simulation(&session, run_id, &config).await;
            });
        }
        ToWorker::Cancel { run_id } => {
            CANCELLED.with(|c| c.borrow_mut().insert(run_id));
        }
        ToWorker::Check(request) => post(&FromWorker::Checked(crate::check::check(&request)), &[]),
        ToWorker::RunJob(request) => {
            let session = session.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(config) = request.job.config() {
                    fetch_shipped(&session, &config.to_json(false)).await;
                }
                post(&FromWorker::JobDone(crate::search::run(&session.borrow(), &request, &now_ms)), &[]);
            });
        }
    }
}

thread_local! {
    /// Runs the page cancelled: a run looks here each time it yields, and stops.
    static CANCELLED: RefCell<std::collections::BTreeSet<u32>> = const { RefCell::new(std::collections::BTreeSet::new()) };
}

/// Whether run `run_id` was cancelled (forgetting it: ids are never reused).
fn take_cancelled(run_id: u32) -> bool {
    CANCELLED.with(|c| c.borrow_mut().remove(&run_id))
}

/// The bytes of an uploaded file (workers may read files synchronously).
pub fn read_file(file: &File) -> Result<Vec<u8>, String> {
    // Refused before reading: a file past the limit is never copied into the worker.
    llmsim_engine::inputs::check_file_size(file.size() as u64)?;
    let reader = FileReaderSync::new().map_err(|e| format!("cannot read the file: {e:?}"))?;
    let buffer = reader.read_as_array_buffer(file).map_err(|e| format!("cannot read the file: {e:?}"))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

fn load(session: &mut Session, upload_id: u32, flag: &str, path: &str, bytes: Vec<u8>) -> FromWorker {
    let started = now_ms();
    let mut last_post = started;
    let mut progress = |done: u64, total: u64| {
        let t = now_ms();
        if t - last_post >= PROGRESS_EVERY_MS {
            last_post = t;
            post(&FromWorker::FileProgress { upload_id, bytes: done, total }, &[]);
        }
    };
    match session.load(flag, path, bytes, &mut progress) {
        Ok(info) => FromWorker::FileLoaded { upload_id, info, elapsed_ms: now_ms() - started },
        Err(error) => FromWorker::FileFailed { upload_id, error },
    }
}

thread_local! {
    /// Shipped files being fetched now (a run and a search job may want the same file).
    static FETCHING: RefCell<std::collections::BTreeSet<String>> = const { RefCell::new(std::collections::BTreeSet::new()) };
}

/// Fetches the files the configuration names that the site ships (`data/...`) and are not
/// loaded yet, telling the page which one it is fetching; waits for those another task is
/// fetching. A failed fetch leaves the file
/// missing; validation then names its flag.
async fn fetch_shipped(session: &Rc<RefCell<Session>>, config: &serde_json::Value) {
    let Ok(parsed) = llmsim_engine::Config::from_json_value(config) else { return };
    let missing = session.borrow().missing_files(&parsed);
    for (flag, path) in missing.into_iter().filter(|(_, p)| is_shipped_path(p)) {
        if FETCHING.with(|f| f.borrow().contains(&path)) {
            while FETCHING.with(|f| f.borrow().contains(&path)) {
                sleep_ms(5).await;
            }
            continue;
        }
        FETCHING.with(|f| f.borrow_mut().insert(path.clone()));
        post(&FromWorker::FetchStarted { path: path.clone() }, &[]);
        match fetch_bytes(&path).await {
            Ok(bytes) => {
                if let Err(e) = session.borrow_mut().load(flag, &path, bytes, &mut |_, _| {}) {
                    web_sys::console::error_1(&format!("llmsim worker: shipped file {e}").into());
                }
            }
            Err(e) => web_sys::console::warn_1(&format!("llmsim worker: cannot fetch {path}: {e}").into()),
        }
        FETCHING.with(|f| f.borrow_mut().remove(&path));
        post(&FromWorker::FetchEnded { path }, &[]);
    }
}

/// Lets the worker handle the messages that arrived meanwhile, then resumes: a message posted
/// to a channel of its own is a task queued behind them, without the 4 ms floor of nested
/// timers.
async fn yield_to_messages() {
    let Ok(channel) = web_sys::MessageChannel::new() else { return sleep_ms(0).await };
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        channel.port1().set_onmessage(Some(&resolve));
    });
    let _ = channel.port2().post_message(&JsValue::NULL);
    let _ = JsFuture::from(promise).await;
    channel.port1().set_onmessage(None);
}

async fn sleep_ms(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = scope().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    let _ = JsFuture::from(promise).await;
}

/// The bytes of `path` on the page's own site.
pub async fn fetch_bytes(path: &str) -> Result<Vec<u8>, String> {
    let response =
        JsFuture::from(scope().fetch_with_str(&format!("./{path}"))).await.map_err(|e| format!("{e:?}"))?;
    let response: Response = response.dyn_into().map_err(|e| format!("{e:?}"))?;
    if !response.ok() {
        return Err(format!("HTTP {}", response.status()));
    }
    let buffer = JsFuture::from(response.array_buffer().map_err(|e| format!("{e:?}"))?)
        .await
        .map_err(|e| format!("{e:?}"))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// Validates and runs to the end, posting progress at most every [`PROGRESS_EVERY_MS`] and
/// yielding to the worker's message queue every [`SLICE_MS`], so that a Cancel is read: the run
/// then stops and posts nothing more, and the loaded files stay.
pub async fn run_simulation(session: &Rc<RefCell<Session>>, run_id: u32, config: &serde_json::Value) {
    let started = now_ms();
    if take_cancelled(run_id) {
        return;
    }
    // The simulation owns what it reads: the session is free for uploads while it runs.
    let prepared = session.borrow().prepare(config);
    let mut sim = match prepared {
        Ok(sim) => sim,
        Err(errors) => {
            post(&FromWorker::RunFailed { run_id, errors }, &[]);
            return;
        }
    };
    let (mut last_post, mut slice_start) = (started, started);
    loop {
        let progress = sim.run_for_events(CHUNK_EVENTS);
        if progress.finished {
            break;
        }
        let t = now_ms();
        if t - last_post >= PROGRESS_EVERY_MS {
            last_post = t;
            post(&FromWorker::RunProgress { run_id, progress: RunProgress::from(progress) }, &[]);
        }
        if t - slice_start >= SLICE_MS {
            yield_to_messages().await;
            if take_cancelled(run_id) {
                return;
            }
            slice_start = now_ms();
        }
    }
    let report = sim.finish();
    post(&FromWorker::RunFinished { run_id, result: run_result(&report, now_ms() - started) }, &[]);
    // The page shows the results meanwhile; big runs' files take a while to render.
    let (files, skipped) = downloads(&report);
    post(&FromWorker::RunFiles { run_id, skipped }, &files);
}
