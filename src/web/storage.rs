//! What the package keeps in the browser's IndexedDB: models saved by name (`indexeddb://name`),
//! and what `"auto"` measured, so that the next `create("auto")` chooses at once.

use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use super::js::{error, from_js, get, to_js};
use crate::{calibration::Calibration, checkpoint::CheckpointInfo, session::ErrorKind};

#[wasm_bindgen(module = "/src/web/browser.js")]
extern "C" {
    #[wasm_bindgen(js_name = storePut, catch)]
    async fn store_put(store: &str, key: &str, value: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = storeGet, catch)]
    async fn store_get(store: &str, key: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = storeDelete, catch)]
    async fn store_delete(store: &str, key: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = storeEntries, catch)]
    async fn store_entries(store: &str) -> Result<JsValue, JsValue>;
    /// Offers bytes as a file download (a page only).
    #[wasm_bindgen(js_name = offerDownload, catch)]
    pub fn offer_download(bytes: &[u8], file_name: &str) -> Result<(), JsValue>;
}

/// Object stores (see browser.js).
const MODELS: &str = "models";
const MEMORY: &str = "memory";
const CALIBRATION: &str = "calibration";

/// A storage failure as a `StorageError` that says what was being done.
fn storage_error(doing: &str, e: JsValue) -> JsValue {
    let why = get(&e, "message")
        .as_string()
        .unwrap_or_else(|| format!("{e:?}"));
    error(ErrorKind::Storage, format!("{doing}: {why}"))
}

/// What `"auto"` measured before, if the browser kept it.
pub async fn remembered_calibration() -> Option<Calibration> {
    let value = store_get(MEMORY, CALIBRATION).await.ok()?;
    from_js::<Option<Calibration>>(&value).ok().flatten()
}

/// Keeps what `"auto"` measured (quietly: without storage it measures again next time).
pub async fn remember_calibration(calibration: &Calibration) {
    if let Ok(value) = to_js(calibration) {
        let _ = store_put(MEMORY, CALIBRATION, &value).await;
    }
}

/// Saves checkpoint bytes under `name` with the app's `metadata`, replacing a model saved
/// under that name; resolves to what `listSaved()` shows of it.
pub async fn save_model(
    name: &str,
    bytes: &[u8],
    info: &CheckpointInfo,
    metadata: &JsValue,
) -> Result<JsValue, JsValue> {
    let record = Object::new();
    set(&record, "checkpoint", &Uint8Array::from(bytes));
    set(&record, "savedAt", &js_sys::Date::now().into());
    set(&record, "info", &to_js(info)?);
    set(&record, "metadata", metadata);
    store_put(MODELS, name, &record)
        .await
        .map_err(|e| storage_error(&format!("could not save the model as {name:?}"), e))?;
    Ok(summary(name, &record))
}

/// The checkpoint bytes saved under `name`, with the app's metadata.
pub async fn saved_model(name: &str) -> Result<(Vec<u8>, JsValue), JsValue> {
    let record = store_get(MODELS, name)
        .await
        .map_err(|e| storage_error(&format!("could not read the model {name:?}"), e))?;
    let checkpoint = get(&record, "checkpoint");
    if !checkpoint.is_object() {
        return Err(error(
            ErrorKind::Checkpoint,
            format!("no model is saved in this browser as {name:?}"),
        ));
    }
    Ok((
        Uint8Array::new(&checkpoint).to_vec(),
        get(&record, "metadata"),
    ))
}

/// Every saved model: its name, when it was saved, its size, what it holds and the app's
/// metadata (without the bytes).
pub async fn list() -> Result<JsValue, JsValue> {
    let entries = store_entries(MODELS)
        .await
        .map_err(|e| storage_error("could not list the saved models", e))?;
    let list: Array = Array::from(&entries)
        .iter()
        .map(|entry| {
            let entry = Array::from(&entry);
            summary(&entry.get(0).as_string().unwrap_or_default(), &entry.get(1))
        })
        .collect();
    Ok(list.into())
}

/// Deletes the model saved as `name`; resolves to whether there was one.
pub async fn delete(name: &str) -> Result<bool, JsValue> {
    let existed = get(
        &store_get(MODELS, name).await.unwrap_or_default(),
        "checkpoint",
    )
    .is_object();
    store_delete(MODELS, name)
        .await
        .map_err(|e| storage_error(&format!("could not delete the model {name:?}"), e))?;
    Ok(existed)
}

/// What an app sees of a saved model: `SavedModel`.
fn summary(name: &str, record: &JsValue) -> JsValue {
    let out = Object::new();
    set(&out, "name", &name.into());
    set(&out, "savedAt", &get(record, "savedAt"));
    set(&out, "bytes", &get(&get(record, "checkpoint"), "length"));
    set(&out, "info", &get(record, "info"));
    set(&out, "metadata", &get(record, "metadata"));
    out.into()
}

fn set(object: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(object, &key.into(), value);
}
