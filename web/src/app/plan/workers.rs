//! The plan view's pool of Web Workers (the same worker script as the single run's, a separate
//! pool of instances). Each worker first reads the uploaded files the search needs (the same
//! browser `File`s the single run's worker read), then only runs the jobs it is sent; the
//! page's plan decides them. Stopping the search terminates the pool.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Object, Reflect};
use llmsim_engine::search::Job;
use llmsim_protocol::search::RunJob;
use llmsim_protocol::{FromWorker, ToWorker};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{ErrorEvent, File, MessageEvent, Worker};

/// Receives `(worker index, message)`; a worker that dies sends `Crashed`.
type Handler = Rc<dyn Fn(usize, FromWorker)>;

struct PoolWorker {
    worker: Worker,
    ready: bool,
    waiting: Vec<JsValue>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

/// An uploaded file every worker reads before its first job: `(flag, path, file)`.
pub type PoolFile = (String, String, File);

struct Pool {
    workers: Vec<PoolWorker>,
    files: Rc<Vec<PoolFile>>,
    handler: Handler,
    /// Bumped by every start and stop, so a terminated pool's late events are dropped.
    generation: u32,
}

thread_local! {
    static POOL: RefCell<Option<Pool>> = const { RefCell::new(None) };
    static GENERATION: RefCell<u32> = const { RefCell::new(0) };
}

/// Workers the pool gets: `navigator.hardwareConcurrency`, at most `cap`, at least 1.
pub fn default_size(cap: usize) -> usize {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).ok();
    let cores = navigator
        .and_then(|n| Reflect::get(&n, &"hardwareConcurrency".into()).ok())
        .and_then(|c| c.as_f64())
        .unwrap_or(1.0);
    (cores as usize).clamp(1, cap.max(1))
}

/// The message asking a worker to read `file` (queued before any job, so it is read first).
fn load_envelope(upload_id: u32, (flag, path, file): &PoolFile) -> JsValue {
    let envelope = Object::new();
    let message = ToWorker::LoadFile { upload_id, flag: flag.clone(), path: path.clone() };
    let json = serde_json::to_string(&message).expect("messages serialise");
    let _ = Reflect::set(&envelope, &"json".into(), &json.into());
    let _ = Reflect::set(&envelope, &"file".into(), file);
    envelope.into()
}

fn spawn(index: usize, generation: u32, files: &[PoolFile]) -> Result<PoolWorker, String> {
    let worker = Worker::new(&crate::worker_client::worker_url())
        .map_err(|e| format!("cannot start a worker: {e:?}"))?;
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let json =
            Reflect::get(&event.data(), &"json".into()).ok().and_then(|j| j.as_string()).unwrap_or_default();
        match serde_json::from_str::<FromWorker>(&json) {
            Ok(message) => deliver(index, generation, message),
            Err(e) => {
                web_sys::console::error_1(&format!("llmsim plan: bad worker message {json:?}: {e}").into())
            }
        }
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |event: ErrorEvent| {
        event.prevent_default();
        deliver(index, generation, FromWorker::Crashed { message: event.message() });
    });
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    let waiting = files.iter().enumerate().map(|(i, f)| load_envelope(i as u32, f)).collect();
    Ok(PoolWorker { worker, ready: false, waiting, _on_message: on_message, _on_error: on_error })
}

fn deliver(index: usize, generation: u32, message: FromWorker) {
    let handler = POOL.with(|p| {
        let mut pool = p.borrow_mut();
        let pool = pool.as_mut().filter(|p| p.generation == generation)?;
        if matches!(message, FromWorker::Ready) {
            let w = pool.workers.get_mut(index)?;
            w.ready = true;
            for envelope in w.waiting.drain(..) {
                let _ = w.worker.post_message(&envelope);
            }
        }
        if matches!(message, FromWorker::Crashed { .. }) {
            // The worker aborts after a panic: replace it so the search goes on.
            let files = pool.files.clone();
            if let Ok(fresh) = spawn(index, generation, &files) {
                let old = std::mem::replace(&mut pool.workers[index], fresh);
                old.worker.terminate();
            }
        }
        Some(pool.handler.clone())
    });
    if let Some(handler) = handler {
        handler(index, message);
    }
}

/// Starts a pool of `size` workers (stopping any earlier one), each reading `files` first;
/// `handler` receives their replies.
pub fn start(
    size: usize,
    files: Vec<PoolFile>,
    handler: impl Fn(usize, FromWorker) + 'static,
) -> Result<(), String> {
    stop();
    let generation = GENERATION.with(|g| {
        *g.borrow_mut() += 1;
        *g.borrow()
    });
    let workers = (0..size).map(|i| spawn(i, generation, &files)).collect::<Result<Vec<_>, _>>()?;
    let files = Rc::new(files);
    POOL.with(|p| *p.borrow_mut() = Some(Pool { workers, files, handler: Rc::new(handler), generation }));
    Ok(())
}

/// Sends `job` to worker `index` (queued until it is ready).
pub fn send(index: usize, job: Job) {
    let envelope = Object::new();
    let json = serde_json::to_string(&ToWorker::RunJob(RunJob { job })).expect("messages serialise");
    let _ = Reflect::set(&envelope, &"json".into(), &json.into());
    POOL.with(|p| {
        if let Some(w) = p.borrow_mut().as_mut().and_then(|p| p.workers.get_mut(index)) {
            if w.ready {
                let _ = w.worker.post_message(&envelope);
            } else {
                w.waiting.push(envelope.into());
            }
        }
    });
}

/// Terminates the pool (cancel, or the search finished).
pub fn stop() {
    if let Some(pool) = POOL.with(|p| p.borrow_mut().take()) {
        for w in pool.workers {
            w.worker.terminate();
        }
    }
}
