//! The only module that talks to the Web Worker: spawns it, queues messages until it is ready,
//! remembers uploads so a respawned worker (after a crash) gets them again, and hands every
//! reply to one handler.
//!
//! Cancel is a message: a running simulation yields to the worker's message queue now and
//! then, reads it and stops, and the worker keeps the files it read.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use js_sys::{Object, Reflect};
use llmsim_protocol::{FromWorker, ToWorker};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{ErrorEvent, File, MessageEvent, Worker};

/// The worker's loader script. Trunk never content-hashes a `data-type="worker"` crate's files,
/// so `scripts/hash-worker.sh` (a post-build hook) renames them by their content and names the
/// loader in `index.html`'s global `llmsimWorker`: a cached page never starts a worker of another
/// build. Without the hook, Trunk's own name.
pub fn worker_url() -> String {
    Reflect::get(&js_sys::global(), &"llmsimWorker".into())
        .ok()
        .and_then(|url| url.as_string())
        .unwrap_or_else(|| "./worker_loader.js".into())
}

/// A reply from the worker, with the download texts of a finished run beside it.
#[derive(Debug)]
pub struct Reply {
    /// The message.
    pub message: FromWorker,
    /// `(file name, text)` of a finished run's downloads; empty otherwise.
    pub files: Vec<(String, String)>,
}

type Handler = Rc<dyn Fn(Reply)>;

struct Upload {
    flag: String,
    path: String,
    file: File,
}

struct Client {
    worker: Worker,
    ready: bool,
    waiting: Vec<JsValue>,
    uploads: BTreeMap<u32, Upload>,
    handler: Handler,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

thread_local! {
    static CLIENT: RefCell<Option<Client>> = const { RefCell::new(None) };
}

/// Starts the worker; `handler` receives every reply (and a `Crashed` message when the worker
/// dies, after which it is respawned).
pub fn start(handler: impl Fn(Reply) + 'static) {
    let handler: Handler = Rc::new(handler);
    spawn(handler, BTreeMap::new());
}

fn spawn(handler: Handler, uploads: BTreeMap<u32, Upload>) {
    let worker = match Worker::new(&worker_url()) {
        Ok(w) => w,
        Err(e) => {
            handler(Reply {
                message: FromWorker::Crashed { message: format!("cannot start the worker: {e:?}") },
                files: Vec::new(),
            });
            return;
        }
    };
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(on_message);
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(|event: ErrorEvent| {
        event.prevent_default();
        crashed(format!("the worker stopped: {}", event.message()));
    });
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    // A fresh worker has no files: queue the uploads again, before anything else.
    let waiting = uploads.iter().map(|(id, u)| load_envelope(*id, &u.flag, &u.path, &u.file)).collect();
    let client = Client {
        worker,
        ready: false,
        waiting,
        uploads,
        handler,
        _on_message: on_message,
        _on_error: on_error,
    };
    CLIENT.with(|c| {
        if let Some(old) = c.borrow_mut().replace(client) {
            old.worker.terminate();
        }
    });
}

fn on_message(event: MessageEvent) {
    let data = event.data();
    let json = Reflect::get(&data, &"json".into()).ok().and_then(|j| j.as_string()).unwrap_or_default();
    let message: FromWorker = match serde_json::from_str(&json) {
        Ok(m) => m,
        Err(e) => {
            web_sys::console::error_1(&format!("llmsim page: bad worker message {json:?}: {e}").into());
            return;
        }
    };
    let mut files = Vec::new();
    if let Ok(map) = Reflect::get(&data, &"files".into())
        && map.is_object()
    {
        let object: &Object = map.unchecked_ref();
        for key in Object::keys(object).iter() {
            let name = key.as_string().unwrap_or_default();
            let text = Reflect::get(&map, &key).ok().and_then(|t| t.as_string()).unwrap_or_default();
            files.push((name, text));
        }
    }
    if matches!(message, FromWorker::Ready) {
        flush();
    }
    if let FromWorker::Crashed { message } = &message {
        // The panic hook posts this just before the worker aborts; onerror follows.
        crashed(message.clone());
        return;
    }
    if let Some(handler) = CLIENT.with(|c| c.borrow().as_ref().map(|c| c.handler.clone())) {
        handler(Reply { message, files });
    }
}

/// Reports a dead worker once, then respawns it with the uploads — unless it never started
/// (a missing or broken worker script would fail again at once).
fn crashed(message: String) {
    let Some((handler, uploads, was_ready)) = CLIENT.with(|c| {
        c.borrow_mut().take().map(|client| {
            client.worker.terminate();
            (client.handler, client.uploads, client.ready)
        })
    }) else {
        return;
    };
    if was_ready {
        // The new worker first, so that what the handler sends in answer (the live check sent
        // again) is queued for it until it is ready, not dropped for want of a worker.
        spawn(handler.clone(), uploads);
        let message = format!("{message}; it was restarted with your files");
        handler(Reply { message: FromWorker::Crashed { message }, files: Vec::new() });
    } else {
        let message = format!("the simulator could not start ({message}); reload the page to try again");
        handler(Reply { message: FromWorker::Crashed { message }, files: Vec::new() });
    }
}

fn flush() {
    CLIENT.with(|c| {
        if let Some(client) = c.borrow_mut().as_mut() {
            client.ready = true;
            for envelope in client.waiting.drain(..) {
                if let Err(e) = client.worker.post_message(&envelope) {
                    web_sys::console::error_2(&"llmsim page: postMessage failed".into(), &e);
                }
            }
        }
    });
}

fn envelope(message: &ToWorker) -> Object {
    let envelope = Object::new();
    let json = serde_json::to_string(message).expect("messages serialise");
    let _ = Reflect::set(&envelope, &"json".into(), &json.into());
    envelope
}

fn load_envelope(upload_id: u32, flag: &str, path: &str, file: &File) -> JsValue {
    let e = envelope(&ToWorker::LoadFile { upload_id, flag: flag.to_string(), path: path.to_string() });
    let _ = Reflect::set(&e, &"file".into(), file);
    e.into()
}

fn send(envelope: JsValue) {
    CLIENT.with(|c| {
        if let Some(client) = c.borrow_mut().as_mut() {
            if client.ready {
                if let Err(e) = client.worker.post_message(&envelope) {
                    web_sys::console::error_2(&"llmsim page: postMessage failed".into(), &e);
                }
            } else {
                client.waiting.push(envelope);
            }
        }
    });
}

/// Sends `file` to be read (and parsed, for trace flags) under `path`. Replies are
/// `FileProgress`, then `FileLoaded` or `FileFailed`, all carrying `upload_id`.
pub fn load_file(upload_id: u32, flag: &str, path: &str, file: File) {
    send(load_envelope(upload_id, flag, path, &file));
    CLIENT.with(|c| {
        if let Some(client) = c.borrow_mut().as_mut() {
            // An older upload under the same name stays until the page forgets it (once this
            // one is read): a respawned worker reads them in order, the newer last.
            client.uploads.insert(upload_id, Upload { flag: flag.to_string(), path: path.to_string(), file });
        }
    });
}

/// The newest upload under `path`, for the search's workers to read too.
pub fn uploaded_file(path: &str) -> Option<File> {
    CLIENT.with(|c| {
        c.borrow()
            .as_ref()
            .and_then(|client| client.uploads.values().rev().find(|u| u.path == path).map(|u| u.file.clone()))
    })
}

/// Forgets an upload that was rejected or replaced, so a respawned worker does not read it
/// again.
pub fn forget_upload(upload_id: u32) {
    CLIENT.with(|c| {
        if let Some(client) = c.borrow_mut().as_mut() {
            client.uploads.remove(&upload_id);
        }
    });
}

/// Runs a flat JSON configuration. Replies are `RunProgress`, then `RunFinished` (with the
/// downloads) or `RunFailed`, all carrying `run_id`.
pub fn run(run_id: u32, config: serde_json::Value) {
    send(envelope(&ToWorker::Run { run_id, config }).into());
}

/// Asks the worker to validate a form; it answers `Checked` with the request's id.
pub fn check(request: llmsim_protocol::check::CheckRequest) {
    send(envelope(&ToWorker::Check(request)).into());
}

/// Stops run `run_id` in the worker; the worker keeps its files.
pub fn cancel_run(run_id: u32) {
    send(envelope(&ToWorker::Cancel { run_id }).into());
}

/// Whether the worker has said it is ready.
pub fn is_ready() -> bool {
    CLIENT.with(|c| c.borrow().as_ref().is_some_and(|c| c.ready))
}
