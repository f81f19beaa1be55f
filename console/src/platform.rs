//! Browser services behind one interface: HTTP to the API (gloo-net), file uploads to presigned
//! URLs (XMLHttpRequest with `upload.onprogress`, sending the `File`/slice without copying it into
//! wasm memory), downloads, clipboard, theme, timers. The native build has stand-ins so that the
//! components compile and render in tests.

use crate::api::{ApiError, Method};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

/// A file the user picked or dropped.
#[derive(Clone)]
pub struct PickedFile {
    #[cfg(target_arch = "wasm32")]
    file: web_sys::File,
    /// File name.
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// `webkitRelativePath` for folder uploads (`dir/sub/file`), else empty.
    pub relative_path: String,
    /// The browser's idea of its type (may be empty).
    pub content_type: String,
}

impl PartialEq for PickedFile {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.size == other.size && self.relative_path == other.relative_path
    }
}

impl PickedFile {
    /// A stand-in file for native tests (uploading it fails).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn fake(name: &str, size: u64) -> Self {
        Self { name: name.into(), size, relative_path: String::new(), content_type: String::new() }
    }

    /// The browser `File` behind a Dioxus `FileData` (from an `<input type=file>` or a drop).
    pub fn from_file_data(data: &dioxus::html::FileData) -> Option<Self> {
        #[cfg(target_arch = "wasm32")]
        {
            let file = data.inner().downcast_ref::<web_sys::File>()?.clone();
            let relative_path = js_sys::Reflect::get(&file, &"webkitRelativePath".into())
                .ok()
                .and_then(|v| v.as_string())
                .unwrap_or_default();
            Some(Self { name: file.name(), size: file.size() as u64, content_type: file.type_(), relative_path, file })
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = data;
            None
        }
    }
}

/// Aborts the requests in flight of one upload (Cancel button, or a part that failed for good).
#[derive(Clone, Default)]
pub struct Aborter {
    #[cfg(target_arch = "wasm32")]
    xhrs: Rc<RefCell<Vec<(u64, web_sys::XmlHttpRequest)>>>,
    #[cfg(target_arch = "wasm32")]
    next: Rc<Cell<u64>>,
    cancelled: Rc<Cell<bool>>,
    #[cfg(not(target_arch = "wasm32"))]
    _unused: Rc<RefCell<()>>,
}

impl Aborter {
    /// Abort every request in flight, and make later checks see the cancellation.
    pub fn abort(&self) {
        self.cancelled.set(true);
        self.abort_requests();
    }

    /// Abort every request in flight without marking the upload cancelled (it failed).
    pub fn abort_requests(&self) {
        #[cfg(target_arch = "wasm32")]
        {
            let xhrs = std::mem::take(&mut *self.xhrs.borrow_mut());
            for (_, xhr) in xhrs {
                let _ = xhr.abort();
            }
        }
    }

    /// Whether Cancel was pressed.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.get()
    }
}

/// One HTTP call to the API; `(status, body text)`.
pub async fn http(
    method: Method,
    path: &str,
    token: Option<&str>,
    json_body: Option<String>,
) -> Result<(u16, String), ApiError> {
    #[cfg(target_arch = "wasm32")]
    {
        use gloo_net::http::Request;
        let mut rb = match method {
            Method::Get => Request::get(path),
            Method::Post => Request::post(path),
            Method::Put => Request::put(path),
            Method::Delete => Request::delete(path),
        };
        if let Some(t) = token {
            rb = rb.header("Authorization", &format!("Bearer {t}"));
        }
        let sent = match json_body {
            Some(b) => {
                rb.header("Content-Type", "application/json")
                    .body(b)
                    .map_err(|e| ApiError::local(e.to_string()))?
                    .send()
                    .await
            }
            None => rb.send().await,
        };
        let resp = sent.map_err(|e| ApiError::local(format!("cannot reach the server: {e}")))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        Ok((status, text))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (method, path, token, json_body);
        Err(ApiError::local("no network outside the browser"))
    }
}

/// PUT bytes `[start, end)` of `file` (the whole file when `whole`) to a presigned `url`.
/// `sent` follows the bytes sent; answers the response's ETag header.
pub async fn put_file(
    url: &str,
    headers: &BTreeMap<String, String>,
    file: &PickedFile,
    range: Option<(u64, u64)>,
    sent: Rc<Cell<f64>>,
    aborter: &Aborter,
) -> Result<Option<String>, String> {
    if aborter.is_cancelled() {
        return Err("cancelled".into());
    }
    #[cfg(target_arch = "wasm32")]
    {
        use wasm_bindgen::JsCast;
        use wasm_bindgen::prelude::*;
        let js = |e: JsValue| e.as_string().unwrap_or_else(|| format!("{e:?}"));
        let xhr = web_sys::XmlHttpRequest::new().map_err(js)?;
        xhr.open_with_async("PUT", url, true).map_err(js)?;
        for (k, v) in headers {
            // The browser sets Host/Content-Length itself and refuses to let scripts set them.
            let lower = k.to_ascii_lowercase();
            if lower == "host" || lower == "content-length" {
                continue;
            }
            xhr.set_request_header(k, v).map_err(js)?;
        }
        let body: web_sys::Blob = match range {
            Some((start, end)) => file.file.slice_with_f64_and_f64(start as f64, end as f64).map_err(js)?,
            None => file.file.clone().into(),
        };
        let progress_sent = sent.clone();
        let on_progress = Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |e: web_sys::ProgressEvent| {
            progress_sent.set(e.loaded());
        });
        xhr.upload().map_err(js)?.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
        let target = xhr.clone();
        let promise = js_sys::Promise::new(&mut |resolve: js_sys::Function, reject: js_sys::Function| {
            let done = target.clone();
            let onload = Closure::once_into_js(move || {
                let _ = resolve.call1(&JsValue::NULL, &JsValue::from(done.status().unwrap_or(0)));
            });
            target.set_onload(Some(onload.unchecked_ref()));
            let rej = reject.clone();
            let onerror = Closure::once_into_js(move || {
                let _ = rej.call1(
                    &JsValue::NULL,
                    &JsValue::from_str("network error (is the S3 endpoint reachable, with CORS for this origin?)"),
                );
            });
            target.set_onerror(Some(onerror.unchecked_ref()));
            let onabort = Closure::once_into_js(move || {
                let _ = reject.call1(&JsValue::NULL, &JsValue::from_str("cancelled"));
            });
            target.set_onabort(Some(onabort.unchecked_ref()));
        });
        let ticket = aborter.next.get();
        aborter.next.set(ticket + 1);
        aborter.xhrs.borrow_mut().push((ticket, xhr.clone()));
        let sent_ok = xhr.send_with_opt_blob(Some(&body)).map_err(js);
        let outcome = match sent_ok {
            Ok(()) => wasm_bindgen_futures::JsFuture::from(promise).await,
            Err(e) => Err(JsValue::from_str(&e)),
        };
        aborter.xhrs.borrow_mut().retain(|(t, _)| *t != ticket);
        drop(on_progress);
        let status = outcome.map_err(js)?.as_f64().unwrap_or(0.0) as u16;
        if (200..300).contains(&status) {
            sent.set(body.size());
            Ok(xhr.get_response_header("ETag").ok().flatten())
        } else {
            let text = xhr.response_text().ok().flatten().unwrap_or_default();
            Err(format!("the storage endpoint answered HTTP {status}: {}", text.chars().take(300).collect::<String>()))
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (url, headers, file, range, sent);
        Err("uploads need a browser".into())
    }
}

/// The `Content-MD5` value (base64 of the MD5) of `file`, or of bytes `range` of it: read into wasm
/// memory one call at a time (a part, or a file below the multipart threshold), only for buckets whose
/// uploads must carry a digest.
pub async fn md5_base64(file: &PickedFile, range: Option<(u64, u64)>) -> Result<String, String> {
    #[cfg(target_arch = "wasm32")]
    {
        use wasm_bindgen::JsValue;
        let js = |e: JsValue| e.as_string().unwrap_or_else(|| format!("{e:?}"));
        let blob: web_sys::Blob = match range {
            Some((start, end)) => file.file.slice_with_f64_and_f64(start as f64, end as f64).map_err(js)?,
            None => file.file.clone().into(),
        };
        let buffer = wasm_bindgen_futures::JsFuture::from(blob.array_buffer()).await.map_err(js)?;
        Ok(crate::logic::content_md5(&js_sys::Uint8Array::new(&buffer).to_vec()))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (file, range);
        Err("reading files needs a browser".into())
    }
}

/// GET the first `max_bytes` of `url` (a presigned URL on the S3 origin; CORS allows the console's
/// origin) with a `Range` request; answers the bytes, which a server ignoring `Range` may make longer.
pub async fn fetch_prefix(url: &str, max_bytes: u64) -> Result<Vec<u8>, String> {
    #[cfg(target_arch = "wasm32")]
    {
        use gloo_net::http::Request;
        let range = format!("bytes=0-{}", max_bytes.saturating_sub(1));
        let resp = Request::get(url)
            .header("Range", &range)
            .send()
            .await
            .map_err(|e| format!("cannot reach the storage endpoint: {e}"))?;
        match resp.status() {
            200 | 206 => resp.binary().await.map_err(|e| e.to_string()),
            // An empty object has no byte 0.
            416 => Ok(Vec::new()),
            s => Err(format!("the storage endpoint answered HTTP {s}")),
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (url, max_bytes);
        Err("previews need a browser".into())
    }
}

/// Open `url` in a new tab without giving it a handle on the console (`noopener`) or its address
/// (`noreferrer`). Answers `false` when the browser blocked the tab.
pub fn open_new_tab(url: &str) -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        // With `noopener` window.open always answers null, so success cannot be told apart from a block.
        web_sys::window()
            .map(|w| w.open_with_url_and_target_and_features(url, "_blank", "noopener,noreferrer").is_ok())
            .unwrap_or(false)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = url;
        false
    }
}

/// Start a download of `url` through a temporary `<a download>`.
pub fn download(url: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        use wasm_bindgen::JsCast;
        let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
        let anchor = doc.create_element("a").ok().and_then(|el| el.dyn_into::<web_sys::HtmlAnchorElement>().ok());
        if let (Some(a), Some(body)) = (anchor, doc.body()) {
            a.set_href(url);
            a.set_download("");
            a.set_rel("noopener noreferrer");
            let _ = body.append_child(&a);
            a.click();
            let _ = body.remove_child(&a);
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = url;
}

/// Empty a file `<input>` after its files were taken, so picking the same file again fires `change`.
pub fn clear_file_input(id: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        use wasm_bindgen::JsCast;
        if let Some(input) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(id))
            .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok())
        {
            input.set_value("");
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = id;
}

/// Put `text` on the clipboard.
pub fn copy_text(text: &str) {
    #[cfg(target_arch = "wasm32")]
    if let Some(w) = web_sys::window() {
        let _ = w.navigator().clipboard().write_text(text);
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = text;
}

/// Apply `light` / `dark` to the document, or `""` to follow the system.
pub fn set_theme(theme: &str) {
    #[cfg(target_arch = "wasm32")]
    if let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
        if theme.is_empty() {
            let _ = root.remove_attribute("data-theme");
        } else {
            let _ = root.set_attribute("data-theme", theme);
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = theme;
}

/// Whether the system prefers a dark scheme.
pub fn prefers_dark() -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        web_sys::window()
            .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
            .map(|m| m.matches())
            .unwrap_or(false)
    }
    #[cfg(not(target_arch = "wasm32"))]
    false
}

/// Wait `ms` milliseconds.
pub async fn sleep_ms(ms: u32) {
    #[cfg(target_arch = "wasm32")]
    gloo_timers::future::TimeoutFuture::new(ms).await;
    #[cfg(not(target_arch = "wasm32"))]
    let _ = ms;
}

/// Milliseconds since the epoch.
pub fn now_ms() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as f64).unwrap_or(0.0)
    }
}
