//! What the JS surface needs from the JavaScript world: conversions, callbacks that may return
//! promises, `AbortSignal`s, yielding to the event loop, timers, named errors and image
//! sources. Each works in a page and in a Web Worker.

use std::{cell::RefCell, rc::Rc, task::Poll, task::Waker};

use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use serde::{Serialize, de::DeserializeOwned};

use crate::session::ErrorKind;
use wasm_bindgen::{JsCast, prelude::*};
use wasm_bindgen_futures::JsFuture;
use web_sys::{MessageChannel, MessagePort};

pub fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// A `TypeError`: an argument of the wrong kind.
pub fn type_error(message: impl std::fmt::Display) -> JsValue {
    js_sys::TypeError::new(&message.to_string()).into()
}

pub fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(js_error)
}

/// A plain JS object as `T`; `undefined` or `null` gives `T::default()`. It goes through a
/// JSON value so that every key reaches `T`'s checks: serde-wasm-bindgen reads only the fields a
/// struct declares, so a misspelt option would pass unseen.
/// An error is a `SettingsError`.
pub fn from_js<T: DeserializeOwned + Default>(value: &JsValue) -> Result<T, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    let settings = |e: &dyn std::fmt::Display| error(ErrorKind::Settings, e);
    let json: serde_json::Value =
        serde_wasm_bindgen::from_value(value.clone()).map_err(|e| settings(&e))?;
    serde_json::from_value(json).map_err(|e| settings(&e))
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
pub fn callback(options: &JsValue, key: &str) -> Result<Option<Function>, JsValue> {
    let value = get(options, key);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value
        .dyn_into::<Function>()
        .map(Some)
        .map_err(|_| type_error(format!("options.{key} must be a function")))
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
    pub fn from_options(options: &JsValue) -> Result<Self, JsValue> {
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
            .ok_or_else(|| type_error("options.signal must be an AbortSignal"))?;
        let waiting: Rc<RefCell<Option<Waker>>> = Rc::default();
        let wake = waiting.clone();
        let listener = Closure::<dyn FnMut()>::new(move || {
            if let Some(waker) = wake.borrow_mut().take() {
                waker.wake();
            }
        });
        add.call2(&signal, &"abort".into(), listener.as_ref())
            .map_err(|_| type_error("options.signal must be an AbortSignal"))?;
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

/// Resolves after `ms` milliseconds (the global `setTimeout`, page or worker).
pub async fn sleep_ms(ms: u32) {
    let promise = Promise::new(&mut |resolve, _| {
        let _ = call_method(
            &js_sys::global(),
            "setTimeout",
            &[resolve.into(), ms.into()],
        );
    });
    let _ = JsFuture::from(promise).await;
}

/// `object.name(...args)`; an error when it is not a method.
pub fn call_method(object: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let method: Function = get(object, name)
        .dyn_into()
        .map_err(|_| js_sys::Error::new(&format!("{name} is not a function here")))?;
    method.apply(object, &args.iter().collect::<js_sys::Array>())
}

/// An `Error` whose `name` says its kind (`DatasetError`, `CheckpointError`, ...).
pub fn error(kind: ErrorKind, message: impl std::fmt::Display) -> JsValue {
    let error = js_sys::Error::new(&message.to_string());
    error.set_name(kind.name());
    error.into()
}

/// RGBA pixels and size of an image: an `ImageData`, what is drawn on a canvas
/// (`HTMLCanvasElement` or `OffscreenCanvas`), or an image a canvas can draw (`ImageBitmap`,
/// `HTMLImageElement` once loaded).
pub fn rgba_of(source: &JsValue) -> Result<(Vec<u8>, usize, usize), JsValue> {
    let drawing = |message: &str| error(ErrorKind::Drawing, message);
    let size = |w: &str, h: &str| {
        let side = |key| get(source, key).as_f64().unwrap_or(0.0) as usize;
        (side(w), side(h))
    };
    let image = if get(source, "data").is_object() {
        source.clone()
    } else if get(source, "getContext").is_function() {
        let context = call_method(source, "getContext", &["2d".into()])
            .ok()
            .filter(|c| get(c, "getImageData").is_function())
            .ok_or_else(|| drawing("the canvas has no 2d context (is it used for WebGL?)"))?;
        let (w, h) = size("width", "height");
        call_method(
            &context,
            "getImageData",
            &[0.into(), 0.into(), w.into(), h.into()],
        )
        .map_err(|_| drawing("could not read the canvas's pixels"))?
    } else if get(source, "naturalWidth").as_f64().is_some() {
        let (w, h) = size("naturalWidth", "naturalHeight");
        if get(source, "complete").as_bool() != Some(true) || w == 0 || h == 0 {
            return Err(drawing(
                "the image has not loaded (wait for its load event or `await image.decode()`)",
            ));
        }
        draw(source, w, h).map_err(|_| drawing("could not draw the image"))?
    } else if get(source, "close").is_function() && get(source, "width").as_f64().is_some() {
        let (w, h) = size("width", "height");
        draw(source, w, h)
            .map_err(|_| drawing("could not draw the ImageBitmap (was it closed?)"))?
    } else {
        return Err(type_error(
            "expected an ImageData, a canvas (HTMLCanvasElement or OffscreenCanvas), an ImageBitmap or an HTMLImageElement",
        ));
    };
    let width = get(&image, "width").as_f64().unwrap_or(0.0) as usize;
    let height = get(&image, "height").as_f64().unwrap_or(0.0) as usize;
    let data = get(&image, "data");
    if !data.is_object() {
        return Err(drawing("the image has no pixel data"));
    }
    let rgba = Uint8Array::new(&data).to_vec();
    Ok((rgba, width, height))
}

#[wasm_bindgen(module = "/src/web/browser.js")]
extern "C" {
    /// `source` drawn on a canvas of its size, as an `ImageData`.
    #[wasm_bindgen(js_name = imageDataOf, catch)]
    fn draw(source: &JsValue, width: usize, height: usize) -> Result<JsValue, JsValue>;
}
