//! Small browser services the components use: downloads, the page URL, the clock, files
//! from text, the browser's storage, moving the focus, and confirmation dialogs.

use wasm_bindgen::JsCast;
use web_sys::{Blob, BlobPropertyBag, File, HtmlAnchorElement};

fn window() -> web_sys::Window {
    web_sys::window().expect("the page runs in a window")
}

/// Offers `text` as a file download called `name`.
pub fn download(name: &str, text: &str) {
    let mime = if name.ends_with(".json") { "application/json" } else { "text/csv" };
    let parts = js_sys::Array::of1(&text.into());
    let options = BlobPropertyBag::new();
    options.set_type(mime);
    let Ok(blob) = Blob::new_with_str_sequence_and_options(&parts, &options) else { return };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else { return };
    let document = window().document().expect("a document");
    if let Ok(a) = document.create_element("a") {
        let a: HtmlAnchorElement = a.unchecked_into();
        a.set_href(&url);
        a.set_download(name);
        a.click();
    }
    // Revoking at once can abort the download in some browsers: free the blob a little later.
    let revoke = wasm_bindgen::closure::Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 30_000);
}

/// The query string of the page's URL, without `?`.
pub fn query() -> String {
    window().location().search().unwrap_or_default().trim_start_matches('?').to_string()
}

/// The page's URL without query or fragment.
pub fn page_url() -> String {
    let location = window().location();
    format!("{}{}", location.origin().unwrap_or_default(), location.pathname().unwrap_or_default())
}

/// Replaces the address bar's query (no reload, no history entry).
pub fn replace_query(query: &str) {
    let url = if query.is_empty() { page_url() } else { format!("{}?{query}", page_url()) };
    if let Ok(history) = window().history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
}

/// Milliseconds on a monotonic-enough clock (for the status line's wall times).
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// A `File` holding `text` (pasted model configs travel to the worker like uploads).
pub fn text_file(name: &str, text: &str) -> Option<File> {
    let parts = js_sys::Array::of1(&text.into());
    File::new_with_str_sequence(&parts, name).ok()
}

/// The browser's local storage, if the page may use it (private modes may refuse).
fn local_storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

/// Keeps `text` under `key` in the browser's storage; an empty text removes the key. A full
/// or refused storage is logged: the runs then last as long as the page.
pub fn store(key: &str, text: &str) {
    let Some(storage) = local_storage() else { return };
    let result = if text.is_empty() { storage.remove_item(key) } else { storage.set_item(key, text) };
    if let Err(e) = result {
        web_sys::console::warn_2(&"llmsim page: the runs could not be kept in the browser".into(), &e);
    }
}

/// The text kept under `key` in the browser's storage, if any.
pub fn stored(key: &str) -> Option<String> {
    local_storage()?.get_item(key).ok().flatten()
}

/// Once the page has redrawn, moves the focus to the element with `id` if the focus is on no
/// element (it was on a control that got disabled or removed).
pub fn focus_if_lost(id: &'static str) {
    let later = wasm_bindgen::closure::Closure::once_into_js(move || {
        let Some(document) = window().document() else { return };
        let lost = match (document.active_element(), document.body()) {
            (None, _) => true,
            (Some(active), Some(body)) => active == *body.unchecked_ref::<web_sys::Element>(),
            (Some(_), None) => false,
        };
        if lost && let Some(target) = document.get_element_by_id(id) {
            let _ = target.unchecked_into::<web_sys::HtmlElement>().focus();
        }
    });
    let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(later.unchecked_ref(), 0);
}

/// Moves the focus to the element with `id`, once the page has redrawn (it may be about to
/// appear), opening the form section around it.
pub fn focus_later(id: String) {
    let later = wasm_bindgen::closure::Closure::once_into_js(move || {
        let Some(target) = window().document().and_then(|d| d.get_element_by_id(&id)) else { return };
        if let Ok(Some(section)) = target.closest("details") {
            let _ = section.set_attribute("open", "");
        }
        let _ = target.unchecked_into::<web_sys::HtmlElement>().focus();
    });
    let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(later.unchecked_ref(), 0);
}

/// Asks the user to confirm `question` (a native dialog); `false` if the browser refuses.
pub fn confirm(question: &str) -> bool {
    window().confirm_with_message(question).unwrap_or(false)
}
