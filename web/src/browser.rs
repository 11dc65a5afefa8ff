//! Small browser services the components use: downloads, the page URL, the clock, files
//! from text.

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
