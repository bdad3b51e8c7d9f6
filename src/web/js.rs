//! What the JS surface needs from the JavaScript world: conversions, callbacks that may return
//! promises, `AbortSignal`s, yielding to the event loop, fetching (passing failures tried again)
//! and image sources. Each works in a page and in a Web Worker.

use std::{cell::RefCell, rc::Rc, task::Poll, task::Waker};

use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use serde::{Serialize, de::DeserializeOwned};
use wasm_bindgen::{JsCast, prelude::*};
use wasm_bindgen_futures::JsFuture;
use web_sys::{MessageChannel, MessagePort};

pub fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

pub fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(js_error)
}

/// A plain JS object as `T`; `undefined` or `null` gives `T::default()`. It goes through a
/// JSON value so that every key reaches `T`'s checks: serde-wasm-bindgen reads only the fields a
/// struct declares, so a misspelt option would pass unseen.
pub fn from_js<T: DeserializeOwned + Default>(value: &JsValue) -> Result<T, JsError> {
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    let json: serde_json::Value =
        serde_wasm_bindgen::from_value(value.clone()).map_err(js_error)?;
    serde_json::from_value(json).map_err(js_error)
}

/// `object[key]`, or `undefined` when `object` is not an object.
pub fn get(object: &JsValue, key: &str) -> JsValue {
    if object.is_object() {
        Reflect::get(object, &key.into()).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

/// A copy of the options object without `keys` (what is left is parsed strictly).
pub fn without(object: &JsValue, keys: &[&str]) -> JsValue {
    if !object.is_object() {
        return object.clone();
    }
    let copy = Object::assign(&Object::new(), object.unchecked_ref());
    for key in keys {
        let _ = Reflect::delete_property(&copy, &(*key).into());
    }
    copy.into()
}

/// An optional callback from an options object; an error when `key` holds something else.
pub fn callback(options: &JsValue, key: &str) -> Result<Option<Function>, JsError> {
    let value = get(options, key);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value
        .dyn_into::<Function>()
        .map(Some)
        .map_err(|_| JsError::new(&format!("options.{key} must be a function")))
}

/// Calls `f(arg)` and, when it returns a promise, waits for it. What it throws or rejects
/// with comes back as the error.
pub async fn call(f: &Function, arg: &JsValue) -> Result<(), JsValue> {
    let returned = f.call1(&JsValue::NULL, arg)?;
    if let Some(promise) = returned.dyn_ref::<Promise>() {
        JsFuture::from(promise.clone()).await?;
    }
    Ok(())
}

/// `options.signal`, checked to be an `AbortSignal`-like object, and a way to wait for it: one
/// `abort` listener for the whole run wakes whatever waits (a listener per wait would pile up
/// on a signal that never fires).
pub struct Abort {
    signal: JsValue,
    waiting: Rc<RefCell<Option<Waker>>>,
    listener: Option<Closure<dyn FnMut()>>,
}

impl Abort {
    pub fn from_options(options: &JsValue) -> Result<Self, JsError> {
        let signal = get(options, "signal");
        if signal.is_undefined() || signal.is_null() {
            return Ok(Self {
                signal: JsValue::UNDEFINED,
                waiting: Rc::default(),
                listener: None,
            });
        }
        let add: Function = get(&signal, "addEventListener")
            .dyn_into()
            .ok()
            .filter(|_| get(&signal, "aborted").as_bool().is_some())
            .ok_or_else(|| JsError::new("options.signal must be an AbortSignal"))?;
        let waiting: Rc<RefCell<Option<Waker>>> = Rc::default();
        let wake = waiting.clone();
        let listener = Closure::<dyn FnMut()>::new(move || {
            if let Some(waker) = wake.borrow_mut().take() {
                waker.wake();
            }
        });
        add.call2(&signal, &"abort".into(), listener.as_ref())
            .map_err(|_| JsError::new("options.signal must be an AbortSignal"))?;
        Ok(Self {
            signal,
            waiting,
            listener: Some(listener),
        })
    }

    /// The signal's reason when it has been aborted, as an `Error` (a reason that is not one,
    /// such as a string, becomes the message of an `AbortError`).
    pub fn reason(&self) -> Option<JsValue> {
        if get(&self.signal, "aborted").as_bool() != Some(true) {
            return None;
        }
        let reason = get(&self.signal, "reason");
        if reason.is_instance_of::<js_sys::Error>() {
            return Some(reason);
        }
        let message = reason
            .as_string()
            .unwrap_or_else(|| "the run was aborted".to_owned());
        let error = js_sys::Error::new(&message);
        error.set_name("AbortError");
        let _ = Reflect::set(&error, &"cause".into(), &reason);
        Some(error.into())
    }

    /// Resolves with the reason when the signal aborts; never without a signal.
    pub fn aborted(&self) -> impl Future<Output = JsValue> + '_ {
        std::future::poll_fn(move |cx| match self.reason() {
            Some(reason) => Poll::Ready(reason),
            None => {
                *self.waiting.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
    }
}

impl Drop for Abort {
    fn drop(&mut self) {
        if let Some(listener) = &self.listener
            && let Ok(remove) = get(&self.signal, "removeEventListener").dyn_into::<Function>()
        {
            let _ = remove.call2(&self.signal, &"abort".into(), listener.as_ref());
        }
    }
}

/// Lets the event loop run (messages, timers, rendering) between training steps. A
/// MessageChannel task, unlike a zero-delay timer, is not clamped to 4 ms.
pub struct Yielder {
    send: MessagePort,
    receive: MessagePort,
}

impl Yielder {
    pub fn new() -> Result<Self, JsValue> {
        let channel = MessageChannel::new()?;
        Ok(Self {
            send: channel.port2(),
            receive: channel.port1(),
        })
    }

    pub async fn yield_now(&self) -> Result<(), JsValue> {
        let receive = self.receive.clone();
        let promise = Promise::new(&mut |resolve, _| receive.set_onmessage(Some(&resolve)));
        self.send.post_message(&JsValue::NULL)?;
        JsFuture::from(promise).await?;
        self.receive.set_onmessage(None);
        Ok(())
    }
}

impl Drop for Yielder {
    fn drop(&mut self) {
        self.send.close();
        self.receive.close();
    }
}

/// The WebGPU adapter as the platform describes it ("vendor architecture description", e.g.
/// "google swiftshader SwiftShader Device (Subzero)"), or "" when it says nothing.
pub async fn adapter_description() -> String {
    let gpu = get(&get(&js_sys::global(), "navigator"), "gpu");
    let request = Reflect::get(&gpu, &"requestAdapter".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .and_then(|f| f.call0(&gpu).ok())
        .and_then(|p| p.dyn_into::<Promise>().ok());
    let Some(request) = request else {
        return String::new();
    };
    let info = get(&JsFuture::from(request).await.unwrap_or_default(), "info");
    let parts = ["vendor", "architecture", "description"].map(|key| get(&info, key).as_string());
    parts
        .into_iter()
        .flatten()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Tries per download: a failed connection, a server error or a body cut off midway is tried
/// again, after 1 s and then 2 s; a missing file (4xx) is not.
const DOWNLOAD_TRIES: u32 = 3;

/// The bytes at `url`, fetched with the global `fetch` (page or worker). The request starts
/// at once, before the future is awaited, so that several downloads run together.
pub fn fetch_bytes(url: &str) -> impl Future<Output = Result<Vec<u8>, JsError>> + use<> {
    let url = url.to_owned();
    let mut first = Some(start_fetch(&url));
    async move {
        let mut tries = 1;
        loop {
            let request = first.take().unwrap_or_else(|| start_fetch(&url));
            match read_response(request).await {
                Ok(bytes) => return Ok(bytes),
                Err(failure) if failure.worth_retrying && tries < DOWNLOAD_TRIES => {
                    sleep_ms(1000 * tries).await?;
                    tries += 1;
                }
                Err(failure) => {
                    let tried = if tries > 1 {
                        format!(" (tried {tries} times)")
                    } else {
                        String::new()
                    };
                    return Err(JsError::new(&format!(
                        "could not download {url}: {}{tried}",
                        failure.why
                    )));
                }
            }
        }
    }
}

/// Why a download failed, and whether trying again may help.
struct DownloadFailure {
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

/// `fetch(url)`, started now.
fn start_fetch(url: &str) -> Result<JsFuture, DownloadFailure> {
    let fetch = get(&js_sys::global(), "fetch")
        .dyn_into::<Function>()
        .map_err(|_| DownloadFailure {
            why: "this environment has no fetch()".into(),
            worth_retrying: false,
        })?;
    let promise = fetch
        .call1(&JsValue::NULL, &url.into())
        .map_err(DownloadFailure::network)?;
    Ok(JsFuture::from(Promise::from(promise)))
}

/// The body of a `fetch` response, or why there is none.
async fn read_response(
    request: Result<JsFuture, DownloadFailure>,
) -> Result<Vec<u8>, DownloadFailure> {
    let response = request?.await.map_err(DownloadFailure::network)?;
    if get(&response, "ok").as_bool() != Some(true) {
        let status = get(&response, "status").as_f64().unwrap_or(0.0) as u32;
        return Err(DownloadFailure {
            why: format!("the server answered {status}"),
            // Server errors, timeouts and "too many requests" pass; a missing file stays missing.
            worth_retrying: status >= 500 || status == 408 || status == 429,
        });
    }
    let read: Function = get(&response, "arrayBuffer").unchecked_into();
    let body = read.call0(&response).map_err(DownloadFailure::network)?;
    let buffer = JsFuture::from(Promise::from(body))
        .await
        .map_err(DownloadFailure::network)?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// Resolves after `ms` milliseconds (the global `setTimeout`, page or worker).
async fn sleep_ms(ms: u32) -> Result<(), JsError> {
    let set_timeout: Function = get(&js_sys::global(), "setTimeout")
        .dyn_into()
        .map_err(|_| JsError::new("this environment has no setTimeout()"))?;
    let promise = Promise::new(&mut |resolve, _| {
        let _ = set_timeout.call2(&JsValue::NULL, &resolve, &ms.into());
    });
    JsFuture::from(promise)
        .await
        .map_err(|_| JsError::new("a timer failed"))?;
    Ok(())
}

/// RGBA pixels and size of an `ImageData`, or of what is drawn on a canvas (`HTMLCanvasElement`
/// or `OffscreenCanvas`).
pub fn rgba_of(source: &JsValue) -> Result<(Vec<u8>, usize, usize), JsError> {
    let image = if get(source, "data").is_object() {
        source.clone()
    } else {
        let get_context: Function = get(source, "getContext").dyn_into().map_err(|_| {
            JsError::new("expected an ImageData, an HTMLCanvasElement or an OffscreenCanvas")
        })?;
        let context = get_context
            .call1(source, &"2d".into())
            .map_err(|_| JsError::new("the canvas has no 2d context"))?;
        let get_image_data: Function = get(&context, "getImageData")
            .dyn_into()
            .map_err(|_| JsError::new("the canvas has no 2d context (is it used for WebGL?)"))?;
        let (w, h) = (get(source, "width"), get(source, "height"));
        get_image_data
            .call4(&context, &0.into(), &0.into(), &w, &h)
            .map_err(|_| JsError::new("could not read the canvas's pixels"))?
    };
    let width = get(&image, "width").as_f64().unwrap_or(0.0) as usize;
    let height = get(&image, "height").as_f64().unwrap_or(0.0) as usize;
    let data = get(&image, "data");
    if !data.is_object() {
        return Err(JsError::new("the image has no pixel data"));
    }
    let rgba = Uint8Array::new(&data).to_vec();
    Ok((rgba, width, height))
}
