//! Downloads, as `loadMnist()` and `loadCheckpoint(url)` make them: the one retry policy,
//! progress counted over every file of a call, the Cache API, and an abort (the caller's, or
//! the first failed file's) that stops the downloads in flight. Works in a page and in a Web
//! Worker.

use std::cell::Cell;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, prelude::*};
use wasm_bindgen_futures::JsFuture;

use super::js::{Abort, call_method, error, get, sleep_ms};
use crate::session::ErrorKind;

/// Tries per download: a failed connection, a server error or a body cut off midway is tried
/// again, after 1 s and then 2 s; a missing file (4xx) is not.
const DOWNLOAD_TRIES: u32 = 3;

/// The Cache API cache that `cache: true` keeps files in.
pub const DEFAULT_CACHE: &str = "lenet-web-mnist-v1";

/// Why a download failed, and whether trying again may help.
pub struct DownloadFailure {
    why: String,
    worth_retrying: bool,
}

impl DownloadFailure {
    /// A failed connection or a body cut off: the browser's reason, worth another try.
    fn network(e: JsValue) -> Self {
        let why = get(&e, "message")
            .as_string()
            .unwrap_or_else(|| format!("{e:?}"));
        Self {
            why,
            worth_retrying: true,
        }
    }
}

/// A file as fetched: its bytes, and whether they came from the cache.
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub from_cache: bool,
}

/// The downloads of one call: they share a progress count, a cache and a way to stop.
pub struct Downloads {
    on_progress: Option<Function>,
    /// Bytes received so far, and the sizes the servers announced (both over every file).
    loaded: Cell<f64>,
    total: Cell<f64>,
    /// An `AbortController` whose signal every fetch carries.
    stop: JsValue,
    cache: Option<JsValue>,
}

impl Downloads {
    /// Downloads that report to `on_progress` and keep files in the cache named `cache`
    /// (when the browser offers the Cache API; a page served over plain HTTP has none).
    pub async fn new(on_progress: Option<Function>, cache: Option<String>) -> Self {
        let global = js_sys::global();
        let stop = Reflect::construct(
            get(&global, "AbortController").unchecked_ref::<Function>(),
            &Array::new(),
        )
        .unwrap_or(JsValue::UNDEFINED);
        let cache = match cache {
            Some(name) => open_cache(&name).await,
            None => None,
        };
        Self {
            on_progress,
            loaded: Cell::new(0.0),
            total: Cell::new(0.0),
            stop,
            cache,
        }
    }

    /// Runs `downloads` (made of this call's files) until they end or `abort` fires; either
    /// failure stops the downloads still in flight. A failed download is a `DownloadError`.
    pub async fn until_done<T>(
        &self,
        abort: &Abort,
        downloads: impl Future<Output = Result<T, String>>,
    ) -> Result<T, JsValue> {
        let done = futures_lite::future::or(
            async {
                downloads
                    .await
                    .map_err(|why| error(ErrorKind::Download, why))
            },
            async { Err(abort.aborted().await) },
        )
        .await;
        if done.is_err() {
            let _ = call_method(&self.stop, "abort", &[]);
        }
        done
    }

    /// The file at `url`: from the cache when it holds it, else downloaded, trying again as
    /// the policy says. The error says which file and why.
    pub async fn file(&self, url: &str) -> Result<Fetched, String> {
        if let Some(response) = self.cached(url).await
            && let Ok(bytes) = self.read_body(&response).await
        {
            return Ok(Fetched {
                bytes,
                from_cache: true,
            });
        }
        let mut tries = 1;
        loop {
            match self.download(url).await {
                Ok(bytes) => {
                    return Ok(Fetched {
                        bytes,
                        from_cache: false,
                    });
                }
                Err(failure) if failure.worth_retrying && tries < DOWNLOAD_TRIES => {
                    sleep_ms(1000 * tries).await;
                    tries += 1;
                }
                Err(failure) => {
                    let tried = if tries > 1 {
                        format!(" (tried {tries} times)")
                    } else {
                        String::new()
                    };
                    return Err(format!("could not download {url}: {}{tried}", failure.why));
                }
            }
        }
    }

    /// Keeps `bytes` as the cached copy of `url` (when there is a cache; failing quietly, as a
    /// full disk only costs the next visit a download).
    pub async fn keep(&self, url: &str, bytes: &[u8]) {
        let Some(cache) = &self.cache else { return };
        let init = Object::new();
        let headers = Object::new();
        let length = bytes.len().to_string();
        let _ = Reflect::set(&headers, &"Content-Length".into(), &length.into());
        let _ = Reflect::set(&init, &"headers".into(), &headers);
        let body = Uint8Array::from(bytes);
        let response_class = get(&js_sys::global(), "Response");
        let Ok(response) = Reflect::construct(
            response_class.unchecked_ref::<Function>(),
            &Array::of2(&body, &init),
        ) else {
            return;
        };
        let _ = await_method(cache, "put", &[url.into(), response]).await;
    }

    /// Deletes the cached copy of `url` (found damaged).
    pub async fn forget(&self, url: &str) {
        if let Some(cache) = &self.cache {
            let _ = await_method(cache, "delete", &[url.into()]).await;
        }
    }

    /// The cached response for `url`, if the cache holds one.
    async fn cached(&self, url: &str) -> Option<JsValue> {
        let response = await_method(self.cache.as_ref()?, "match", &[url.into()])
            .await
            .ok()?;
        response.is_object().then_some(response)
    }

    /// One try at `url`.
    async fn download(&self, url: &str) -> Result<Vec<u8>, DownloadFailure> {
        let fetch = get(&js_sys::global(), "fetch")
            .dyn_into::<Function>()
            .map_err(|_| DownloadFailure {
                why: "this environment has no fetch()".into(),
                worth_retrying: false,
            })?;
        let init = Object::new();
        let _ = Reflect::set(&init, &"signal".into(), &get(&self.stop, "signal"));
        let promise = fetch
            .call2(&JsValue::NULL, &url.into(), &init)
            .map_err(DownloadFailure::network)?;
        let response = JsFuture::from(Promise::from(promise))
            .await
            .map_err(DownloadFailure::network)?;
        if get(&response, "ok").as_bool() != Some(true) {
            let status = get(&response, "status").as_f64().unwrap_or(0.0) as u32;
            return Err(DownloadFailure {
                why: format!("the server answered {status}"),
                // Server errors, timeouts and "too many requests" pass; a missing file stays
                // missing.
                worth_retrying: status >= 500 || status == 408 || status == 429,
            });
        }
        self.read_body(&response)
            .await
            .map_err(DownloadFailure::network)
    }

    /// A response's body to its end, counted into the progress as it comes; a body that breaks
    /// off takes its bytes back out.
    async fn read_body(&self, response: &JsValue) -> Result<Vec<u8>, JsValue> {
        let headers = get(response, "headers");
        let size = call_method(&headers, "get", &["Content-Length".into()])
            .ok()
            .and_then(|v| v.as_string())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
        self.count(0.0, size);
        let reader = call_method(&get(response, "body"), "getReader", &[])?;
        let mut bytes = Vec::with_capacity(size as usize);
        loop {
            let chunk = match await_method(&reader, "read", &[]).await {
                Ok(chunk) => chunk,
                Err(e) => {
                    self.count(-(bytes.len() as f64), -size);
                    return Err(e);
                }
            };
            if get(&chunk, "done").as_bool() == Some(true) {
                return Ok(bytes);
            }
            let value: Uint8Array = get(&chunk, "value").unchecked_into();
            let start = bytes.len();
            bytes.resize(start + value.length() as usize, 0);
            value.copy_to(&mut bytes[start..]);
            self.count(value.length() as f64, 0.0);
        }
    }

    /// Adds to the bytes received and announced, and tells `onProgress`.
    fn count(&self, loaded: f64, total: f64) {
        self.loaded.set(self.loaded.get() + loaded);
        self.total.set(self.total.get() + total);
        if let Some(on_progress) = &self.on_progress {
            let progress = Object::new();
            let _ = Reflect::set(&progress, &"loaded".into(), &self.loaded.get().into());
            let _ = Reflect::set(&progress, &"total".into(), &self.total.get().into());
            let _ = on_progress.call1(&JsValue::NULL, &progress);
        }
    }
}

/// The Cache API cache `name`, or `None` where the browser offers none.
async fn open_cache(name: &str) -> Option<JsValue> {
    let caches = get(&js_sys::global(), "caches");
    if !caches.is_object() {
        return None;
    }
    await_method(&caches, "open", &[name.into()]).await.ok()
}

/// `object.name(...args)`, awaited.
async fn await_method(object: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let promise = call_method(object, name, args)?;
    JsFuture::from(Promise::resolve(&promise)).await
}
