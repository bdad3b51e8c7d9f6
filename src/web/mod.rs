//! The JavaScript surface: the one module that speaks to JS (wasm-bindgen), and the npm
//! package's API. It converts values and calls the session (`crate::session`), where the rules
//! live: values cross the boundary as typed arrays and plain objects, errors as real `Error`
//! objects, and every method that waits returns a Promise. The TypeScript types of the values
//! that cross are generated from the Rust types (tsify); only the JS-side ones are written here.

mod fetch;
mod js;
mod storage;

use std::{cell::RefCell, rc::Rc};

use futures_lite::future;
use js_sys::{Float32Array, Float64Array, Function, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, prelude::*};

use crate::{
    calibration::{self, Calibration},
    checkpoint::Checkpoint,
    config::TrainingConfig,
    data::{GreyLevels, IMAGE_PIXELS, MnistDataset},
    device::{Backend, BackendRequest, ComputeDevice},
    drawpad::{self, Ink},
    finetune::{FineTuneConfig, FineTuneProgress},
    inference::LayerView,
    metrics::top,
    optimizer::OptimizerKind,
    saved::Location,
    session::{
        EpochReport, ErrorKind, RunHooks, RunOptions, Session, SessionError, SharedSession, Split,
        Start,
    },
    training::Progress,
};
use fetch::{DEFAULT_CACHE, Downloads, Fetched};
use js::{Abort, Yielder, call, callback, error, from_js, get, to_js, type_error, without};

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** Where to train: WebGPU, the CPU, or whichever of them trains faster here ("auto"). */
export type BackendChoice = "auto" | "webgpu" | "cpu";

/** Options of `LeNet.create()`. */
export interface CreateOptions {
  /** Where to train (as the first argument of `create()`; `"auto"` by default). */
  backend?: BackendChoice;
  /** Put the model in the package's own module Web Worker: the same API, with callbacks and
   * aborts crossing over, and the app's thread never waiting on training. */
  worker?: boolean;
  /** A measurement `"auto"` made before (`lenet.calibration`): reused when it was made of the
   * same adapter by the same version of the package, instead of measuring. Without it, the
   * package uses the one it kept in IndexedDB, if any. */
  calibration?: Calibration;
  /** Called when the GPU device the package trains on is lost (a driver reset, a GPU taken
   * away, the browser reclaiming it), once the model has moved to the CPU: a run goes on there
   * from its last copy in memory (made about every 5 seconds; `step`), and `train()`
   * resolves as usual. WebGPU cannot be asked for again in this page (or worker). */
  onDeviceLost?: (event: DeviceLost) => void;
}

/** Downloads' progress, in bytes over every file of the call (as sent, gzipped or not). */
export interface DownloadProgress {
  loaded: number;
  /** The sizes the servers announced so far (0 while unknown). */
  total: number;
}

/** Options of `loadMnist()`. */
export interface LoadMnistOptions {
  /** Called as bytes arrive. */
  onProgress?: (progress: DownloadProgress) => void;
  /** Stops the downloads; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Keep the files with the Cache API, so the next visit reads them from there: `true` (the
   * cache "lenet-web-mnist-v1") or a cache's name. A cached file found damaged is deleted. */
  cache?: boolean | string;
}

/** What `loadMnist()` resolves to. */
export interface MnistLoaded extends MnistCounts {
  /** True when every file came from the cache. */
  fromCache: boolean;
}

/** An app's own images and labels, for `loadTrainingSet()` and `loadTestSet()`. */
export interface Dataset {
  /** n x 784 grey levels (28x28, row-major, 0 = background): bytes 0-255 in a `Uint8Array`,
   * or fractions 0-1 in a `Float32Array` or `Float64Array`. */
  images: Uint8Array | Uint8ClampedArray | Float32Array | Float64Array;
  /** n digits 0-9. */
  labels: ArrayLike<number>;
}

/** Options of `saveCheckpoint()` and `save()`. */
export interface SaveOptions {
  /** Leave out the optimizer's state: a smaller file, to ship a trained model (a run resumed
   * from it starts its optimizer afresh). */
  weightsOnly?: boolean;
  /** `save()` to IndexedDB only: anything the structured clone takes, given back by
   * `loadCheckpoint()` and `listSaved()` (e.g. the app's charts of the run). */
  metadata?: unknown;
}

/** A model saved in this browser (`save("indexeddb://name")`), as `listSaved()` shows it. */
export interface SavedModel {
  name: string;
  /** When, in milliseconds since 1970 (`Date.now()`). */
  savedAt: number;
  /** Size of the checkpoint. */
  bytes: number;
  info: CheckpointInfo;
  metadata?: unknown;
}

/** Where `loadCheckpoint()` and `LeNet.load()` read a model from: checkpoint bytes, a file
 * (`File` or `Blob`), `"indexeddb://name"`, or the URL of a checkpoint file. */
export type CheckpointSource = Uint8Array | ArrayBuffer | Blob | string;

/** Options of `loadCheckpoint()`. */
export interface LoadOptions {
  /** Called as the bytes of a URL arrive. */
  onProgress?: (progress: DownloadProgress) => void;
  /** Stops a download; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** What `loadCheckpoint()` resolves to: the checkpoint's info, and for a model saved in
 * IndexedDB the metadata saved with it. */
export interface LoadedCheckpoint extends CheckpointInfo {
  metadata?: unknown;
}

/** What `predictImage()` accepts. */
export type ImageSource = ImageData | HTMLCanvasElement | OffscreenCanvas | ImageBitmap | HTMLImageElement;

/** Options of `predictImage()`. */
export interface PredictImageOptions {
  /** The digit is drawn light on a dark (or transparent) ground, as in MNIST itself. */
  lightOnDark?: boolean;
}

/** A prediction for a drawing (a plain object: nothing to free). */
export interface Prediction {
  /** The most probable digit. */
  digit: number;
  /** Probabilities of the digits 0-9. */
  probabilities: Float32Array;
  /** The 784 grey levels (0-1, row-major) the model classified. */
  image: Float32Array;
}

/** Settings of a training run (the generated `TrainingConfig`); every one is optional. */
export type TrainingSettings = TrainingConfig;

/** How `train()` and `resume()` run, besides the settings. */
export interface RunOptions {
  /** Train on only the first `limit` training images (a whole number, at least 1). */
  limit?: number;
  /** Evaluate on the test set after each epoch (default: when a test set is loaded). */
  evaluateEachEpoch?: boolean;
  /** Stops training between two steps, or while it waits for a callback; the promise then
   * rejects with the signal's reason (an `Error`), and the weights trained so far stay in use. */
  signal?: AbortSignal;
  /** Called after every step. Training waits for a returned promise (return one to pause). */
  onStep?: (progress: Progress) => void | Promise<void>;
  /** Called after every epoch, with the test results. Training waits for a returned promise. */
  onEpoch?: (report: EpochReport) => void | Promise<void>;
}

export interface TrainOptions extends TrainingConfig, RunOptions {}

export interface ResumeOptions extends ResumeSettings, RunOptions {}

/** What `train()` and `resume()` resolve to: where the run got. */
export type TrainResult = Position;

/** Results on the test set (the generated `EvaluationReport`). */
export type Evaluation = EvaluationReport;

/** A drawing labelled with the digit it shows, for `addExamples()`. */
export interface ExampleInput {
  image: ImageInput;
  /** The digit 0-9. */
  label: number;
}

/** One of the examples (`examples()`), as the model sees it. */
export interface Example {
  /** The 784 grey levels (0-1, row-major), as in `Prediction.image`. */
  image: Float32Array;
  label: number;
}

/** Options of `fineTune()`: its settings (every one optional), a signal and a callback. */
export interface FineTuneOptions extends FineTuneConfig {
  /** Stops fine-tuning between two steps; the promise then rejects with the signal's reason,
   * and the model in use stays as it was. */
  signal?: AbortSignal;
  /** Called after every step. Fine-tuning waits for a returned promise. */
  onStep?: (progress: FineTuneProgress) => void | Promise<void>;
}

/** A drawing as `predictImage()` takes it, or its 784 grey levels (bytes 0-255 in a
 * `Uint8Array`, fractions 0-1 in any other array), for `addExamples()` and `activations()`. */
export type ImageInput = ImageSource | Uint8Array | Float32Array | ArrayLike<number>;

/** One layer's values (`activations()`) or kernels (`filters()`). */
export interface LayerView {
  /** conv1, pool1, conv2, pool2, fc1, fc2, logits or probabilities. */
  layer: string;
  /** Its dimensions: [maps, height, width] or [units] for activations, [output maps, input
   * maps, height, width] for filters. */
  shape: number[];
  /** Its values, row-major. */
  values: Float32Array;
}

/** Where `loadMnist()` fetches the four IDX files (gzipped or not). */
export interface MnistUrls {
  trainImages: string;
  trainLabels: string;
  testImages?: string;
  testLabels?: string;
}
"#;

/// The package's version (as in its package.json).
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// True when the global scope (window or worker) has `navigator.gpu`.
fn webgpu_present() -> bool {
    let gpu = get(&get(&js_sys::global(), "navigator"), "gpu");
    !gpu.is_undefined() && !gpu.is_null()
}

/// LeNet-5 on MNIST in the browser: load the data, train, evaluate, predict, save and load
/// checkpoints. Works in a page and in a Web Worker.
///
/// ```js
/// const lenet = await LeNet.create("auto");
/// await lenet.loadMnist({ trainImages, trainLabels, testImages, testLabels }); // URLs
/// await lenet.train({ epochs: 1, onStep: (p) => console.log(p.step, p.loss) });
/// const { digit } = await lenet.predictImage(canvas);
/// ```
#[wasm_bindgen]
pub struct LeNet {
    session: Rc<SharedSession>,
    /// What `"auto"` measured, if it measured.
    calibration: RefCell<Option<Calibration>>,
    /// Moves the session to the CPU when its GPU device is lost.
    device_watch: Closure<dyn FnMut(String)>,
}

impl Drop for LeNet {
    fn drop(&mut self) {
        unwatch_gpu_devices(&self.device_watch);
    }
}

#[wasm_bindgen(module = "/src/web/browser.js")]
extern "C" {
    #[wasm_bindgen(js_name = watchGpuDevices)]
    fn watch_gpu_devices(on_lost: Option<&Closure<dyn FnMut(String)>>);
    #[wasm_bindgen(js_name = unwatchGpuDevices)]
    fn unwatch_gpu_devices(on_lost: &Closure<dyn FnMut(String)>);
}

/// Errors of the session reach JS as `Error` objects named after their kind.
impl From<SessionError> for JsValue {
    fn from(e: SessionError) -> Self {
        error(e.kind(), &e)
    }
}

/// A device for `backend` (`"auto"` when missing), and what `"auto"` measured to choose it
/// when it had WebGPU to choose from (by `remembered`, or what the browser kept, when that
/// applies; a new measurement is kept there).
async fn select(
    backend: Option<String>,
    remembered: Option<Calibration>,
) -> Result<(ComputeDevice, Option<Calibration>), JsValue> {
    let request: BackendRequest = backend
        .as_deref()
        .unwrap_or("auto")
        .parse()
        .map_err(|e: crate::device::DeviceError| error(e.kind(), &e))?;
    let device = ComputeDevice::select(request, webgpu_present())
        .await
        .map_err(|e| error(e.kind(), &e))?;
    if request != BackendRequest::Auto || device.backend != Backend::WebGpu {
        return Ok((device, None));
    }
    let adapter = js::adapter_description().await;
    let remembered = match remembered {
        Some(calibration) => Some(calibration),
        None => storage::remembered_calibration().await,
    };
    let (device, calibration) = calibration::choose(device, &adapter, remembered).await;
    let calibration = calibration.ok();
    if let Some(calibration) = &calibration {
        storage::remember_calibration(calibration).await;
    }
    Ok((device, calibration))
}

/// The keys of `RunOptions`, which `train()` and `resume()` take besides their settings.
const RUN_KEYS: &[&str] = &["limit", "evaluateEachEpoch", "signal", "onStep", "onEpoch"];
/// The keys `fineTune()` takes besides its settings.
const FINE_TUNE_KEYS: &[&str] = &["signal", "onStep"];

#[wasm_bindgen]
impl LeNet {
    /// A fresh LeNet-5 on `backend`: `"webgpu"`, `"cpu"`, or `"auto"` (the default), given
    /// first or as `options.backend`. `"auto"` times a few training steps on WebGPU and on the
    /// CPU (a second or a few; see `calibration`) and takes the faster, saying why in
    /// `fallbackReason` when that is the CPU; without WebGPU it takes the CPU and says why.
    /// Rejects with a `WebGpuUnavailableError` when `"webgpu"` is asked for and cannot be had.
    pub async fn create(
        #[wasm_bindgen(unchecked_optional_param_type = "BackendChoice | CreateOptions")]
        backend: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "CreateOptions")] options: JsValue,
    ) -> Result<LeNet, JsValue> {
        console_error_panic_hook::set_once();
        let (backend, options) = if backend.is_object() {
            (get(&backend, "backend"), backend)
        } else {
            (backend, options)
        };
        let backend = match backend.as_string() {
            Some(name) => Some(name),
            None if backend.is_undefined() || backend.is_null() => None,
            None => return Err(type_error("the backend is \"auto\", \"webgpu\" or \"cpu\"")),
        };
        let remembered: Option<Calibration> = from_js(&get(&options, "calibration")).map_err(|_| {
            error(
                ErrorKind::Settings,
                "create(): `calibration` is not a measurement that \"auto\" made (lenet.calibration)",
            )
        })?;
        let on_device_lost = callback(&options, "onDeviceLost")?;
        // Before the device is asked for.
        watch_gpu_devices(None);
        let (compute, calibration) = select(backend, remembered).await?;
        let session = SharedSession::new(Session::new(compute)).on_device_lost(move |lost| {
            if let (Some(on_lost), Ok(lost)) = (&on_device_lost, to_js(lost)) {
                let _ = on_lost.call1(&JsValue::NULL, &lost);
            }
        });
        let session = Rc::new(session);
        let device_watch = Closure::new({
            let session = Rc::downgrade(&session);
            move |message: String| {
                if let Some(session) = session.upgrade() {
                    wasm_bindgen_futures::spawn_local(async move {
                        if let Err(e) = session.device_lost(&message).await {
                            web_sys::console::error_1(
                                &format!("lenet-web: the GPU device was lost, and the model could not move to the CPU: {e}").into(),
                            );
                        }
                    });
                }
            }
        });
        watch_gpu_devices(Some(&device_watch));
        Ok(LeNet {
            session,
            calibration: RefCell::new(calibration),
            device_watch,
        })
    }

    /// A LeNet-5 (as `create(options)` makes it) with the checkpoint at `source` loaded: see
    /// `loadCheckpoint()`.
    pub async fn load(
        #[wasm_bindgen(unchecked_param_type = "CheckpointSource")] source: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "CreateOptions & LoadOptions")]
        options: JsValue,
    ) -> Result<LeNet, JsValue> {
        let lenet = Self::create(options.clone(), JsValue::UNDEFINED).await?;
        lenet.load_checkpoint(source, options).await?;
        Ok(lenet)
    }

    /// The models saved in this browser (`save("indexeddb://name")`).
    #[wasm_bindgen(js_name = listSaved, unchecked_return_type = "SavedModel[]")]
    pub async fn list_saved() -> Result<JsValue, JsValue> {
        storage::list().await
    }

    /// Deletes the model saved as `"indexeddb://name"` (or `name`); resolves to whether there
    /// was one.
    #[wasm_bindgen(js_name = deleteSaved)]
    pub async fn delete_saved(name: String) -> Result<bool, JsValue> {
        let name = match Location::source(&name) {
            Ok(Location::IndexedDb(name)) => name,
            _ => name,
        };
        storage::delete(&name).await
    }

    /// What `"auto"` measured (training images per second on each backend, and the adapter),
    /// or `undefined` when it had no WebGPU to choose from or another backend was asked for.
    /// The package keeps it in IndexedDB and reuses it; an app may keep it too and pass it to
    /// `create()`.
    #[wasm_bindgen(getter, unchecked_return_type = "Calibration | undefined")]
    pub fn calibration(&self) -> Result<JsValue, JsValue> {
        match &*self.calibration.borrow() {
            Some(c) => Ok(to_js(c)?),
            None => Ok(JsValue::UNDEFINED),
        }
    }

    /// The default training settings; with `optimizer`, the learning rate that suits it.
    #[wasm_bindgen(js_name = defaultSettings, unchecked_return_type = "Required<TrainingConfig>")]
    pub fn default_settings(
        #[wasm_bindgen(unchecked_optional_param_type = "OptimizerKind")] optimizer: JsValue,
    ) -> Result<JsValue, JsValue> {
        let optimizer: OptimizerKind = from_js(&optimizer)?;
        Ok(to_js(&TrainingConfig::for_optimizer(optimizer))?)
    }

    /// The backend in use: `"webgpu"` or `"cpu"`.
    #[wasm_bindgen(getter, unchecked_return_type = "\"webgpu\" | \"cpu\"")]
    pub fn backend(&self) -> String {
        self.session.compute().backend.name().to_owned()
    }

    /// Why `"auto"` chose the CPU (what it measured, or why WebGPU could not be had), that the
    /// GPU device was lost, or `undefined`.
    #[wasm_bindgen(getter, js_name = fallbackReason)]
    pub fn fallback_reason(&self) -> Option<String> {
        self.session.compute().fallback_reason
    }

    /// Moves to `backend` (as in `create`), keeping the loaded data, the model in use and the
    /// run to resume. Rejects while training, or when `"webgpu"` cannot be had (nothing changes).
    #[wasm_bindgen(js_name = setBackend)]
    pub async fn set_backend(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "BackendChoice")] backend: Option<String>,
    ) -> Result<(), JsValue> {
        let remembered = self.calibration.borrow().clone();
        let (compute, calibration) = select(backend, remembered).await?;
        self.session.move_to(compute).await?;
        if calibration.is_some() {
            *self.calibration.borrow_mut() = calibration;
        }
        Ok(())
    }

    /// Fetches the MNIST IDX files (gzipped or not) from `urls`, all at once, and loads them;
    /// the test files are optional. Resolves to the number of images in each split. A server
    /// error, a dropped connection or a body cut off midway is tried again (3 tries in all, 1 s
    /// and 2 s apart); a missing file rejects at once (`DownloadError`), and so does a file that
    /// is not a valid MNIST file (`DatasetError`), stopping the other downloads and leaving the
    /// splits loaded before unchanged.
    #[wasm_bindgen(js_name = loadMnist, unchecked_return_type = "MnistLoaded")]
    pub async fn load_mnist(
        &self,
        #[wasm_bindgen(unchecked_param_type = "MnistUrls")] urls: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "LoadMnistOptions")] options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let url = |key: &str| get(&urls, key).as_string();
        let Some(train) = url("trainImages").zip(url("trainLabels")) else {
            return Err(type_error(
                "loadMnist() needs trainImages and trainLabels URLs",
            ));
        };
        let test = url("testImages").zip(url("testLabels"));
        let abort = Abort::from_options(&options)?;
        let cache = match get(&options, "cache") {
            v if v.is_undefined() || v.is_null() || v.as_bool() == Some(false) => None,
            v if v.as_bool() == Some(true) => Some(DEFAULT_CACHE.to_owned()),
            v => Some(v.as_string().ok_or_else(|| {
                type_error("options.cache is true, false or the name of a cache")
            })?),
        };
        let downloads = Downloads::new(callback(&options, "onProgress")?, cache).await;
        let (train_files, test_files) = downloads
            .until_done(&abort, fetch_all(&downloads, &train, test.as_ref()))
            .await?;
        let mut files = vec![(&train, &train_files)];
        files.extend(test.as_ref().zip(test_files.as_ref()));

        let parsed = parse_pair(Split::Training, &train_files).and_then(|train| {
            let test = test_files
                .as_ref()
                .map(|f| parse_pair(Split::Test, f))
                .transpose()?;
            Ok((train, test))
        });
        let from_cache = each_file(&files).all(|(_, file)| file.from_cache);
        let (train_set, test_set) = match parsed {
            Ok(sets) => sets,
            Err(e) => {
                // A damaged copy in the cache must not break every later call.
                let mut forgot = false;
                for (url, file) in each_file(&files) {
                    if file.from_cache {
                        downloads.forget(url).await;
                        forgot = true;
                    }
                }
                let message = e.to_string();
                return Err(if forgot {
                    error(
                        e.kind(),
                        format!(
                            "{message}. The cached copy was deleted: try again to download it anew."
                        ),
                    )
                } else {
                    e.into()
                });
            }
        };
        for (url, file) in each_file(&files) {
            if !file.from_cache {
                downloads.keep(url, &file.bytes).await;
            }
        }
        let mut session = self.session.lock().await;
        session.set(Split::Training, train_set);
        if let Some(test) = test_set {
            session.set(Split::Test, test);
        }
        let loaded = to_js(&session.counts()?)?;
        Reflect::set(&loaded, &"fromCache".into(), &from_cache.into())?;
        Ok(loaded)
    }

    /// Loads the training split: from the bytes of its IDX images and labels files (gzipped or
    /// not), or from an app's own `{ images, labels }` (see `Dataset`). Resolves to the number
    /// of images. Rejects with a `DatasetError` saying what is wrong, keeping any split loaded
    /// before.
    #[wasm_bindgen(js_name = loadTrainingSet)]
    pub async fn load_training_set(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array | Dataset")] images: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "Uint8Array")] labels: JsValue,
    ) -> Result<usize, JsValue> {
        self.load_split(Split::Training, &images, &labels).await
    }

    /// Loads the test split, as `loadTrainingSet()`.
    #[wasm_bindgen(js_name = loadTestSet)]
    pub async fn load_test_set(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array | Dataset")] images: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "Uint8Array")] labels: JsValue,
    ) -> Result<usize, JsValue> {
        self.load_split(Split::Test, &images, &labels).await
    }

    /// The 784 grey levels (0-255, row-major) of test image `index`, as in `Misclassified`.
    #[wasm_bindgen(js_name = testImage)]
    pub async fn test_image(&self, index: usize) -> Result<Vec<u8>, JsValue> {
        Ok(self.session.lock().await.test_image(index)?.to_vec())
    }

    /// Trains a fresh model (from `seed`) with `options`, calling `onStep` after every step
    /// and `onEpoch` after every epoch; stops between steps, or while waiting for a callback,
    /// when `signal` aborts (rejecting with its reason). Other calls (predict, evaluate,
    /// saveCheckpoint) run between steps. A run that diverges rejects with a `DivergedError`,
    /// back at its last known good weights.
    #[wasm_bindgen(unchecked_return_type = "TrainResult")]
    pub async fn train(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "TrainOptions")] options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let config: TrainingConfig = from_js(&without(&options, RUN_KEYS))?;
        self.run(Start::New(config), &options).await
    }

    /// Goes on with the checkpoint loaded last (see `loadCheckpoint`), up to `options.epochs`
    /// epochs in all; otherwise as `train()`. `limit` must be the saved run's.
    #[wasm_bindgen(unchecked_return_type = "TrainResult")]
    pub async fn resume(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "ResumeOptions")] options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let settings = from_js(&without(&options, RUN_KEYS))?;
        self.run(Start::Resume(settings), &options).await
    }

    /// Classifies the test set.
    #[wasm_bindgen(unchecked_return_type = "Evaluation")]
    pub async fn evaluate(&self) -> Result<JsValue, JsValue> {
        Ok(to_js(&self.session.lock().await.evaluate().await?)?)
    }

    /// Probabilities of the digits 0-9 for one 28x28 image: 784 grey levels, 0 = background,
    /// 1 = ink, row-major (MNIST's own images, scaled to 0-1).
    pub async fn predict(&self, image: Vec<f32>) -> Result<Float32Array, JsValue> {
        let probabilities = self.session.lock().await.predict(&image).await?;
        Ok(Float32Array::from(&probabilities[..]))
    }

    /// Probabilities for many images at once: n x 784 grey levels as in `predict()`, laid end
    /// to end, give n x 10 probabilities in the same order.
    #[wasm_bindgen(js_name = predictBatch)]
    pub async fn predict_batch(&self, images: Vec<f32>) -> Result<Float32Array, JsValue> {
        let probabilities = self.session.lock().await.predict_batch(&images).await?;
        Ok(Float32Array::from(&probabilities[..]))
    }

    /// Classifies a digit in an image (see `ImageSource`), drawn dark on light unless
    /// `options.lightOnDark`: crops it to its ink, scales it to 20 pixels and centres it in
    /// 28x28 as MNIST was made, then predicts. Rejects with a `DrawingError` when nothing is
    /// drawn or the image cannot be read.
    #[wasm_bindgen(js_name = predictImage, unchecked_return_type = "Prediction")]
    pub async fn predict_image(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ImageSource")] source: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "PredictImageOptions")] options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let ink = ink_of(&options);
        let image = drawing_levels(&source, ink)?;
        let probabilities = self.session.lock().await.predict(&image).await?;
        let prediction = Object::new();
        Reflect::set(&prediction, &"digit".into(), &top(&probabilities).into())?;
        let probabilities = Float32Array::from(&probabilities[..]);
        Reflect::set(&prediction, &"probabilities".into(), &probabilities)?;
        Reflect::set(
            &prediction,
            &"image".into(),
            &Float32Array::from(&image[..]),
        )?;
        Ok(prediction.into())
    }

    /// What each layer of the model in use gives for an image (see `ImageInput`; a drawing is
    /// prepared as `predictImage()` prepares it), in order: conv1 (6 maps of 28x28), pool1 (6
    /// of 14x14), conv2 (16 of 10x10), pool2 (16 of 5x5), fc1 (120), fc2 (84), logits and
    /// probabilities (10). The convolutions and fully connected layers after their ReLU. The
    /// same forward pass as `predict()`, on the same backend.
    #[wasm_bindgen(unchecked_return_type = "LayerView[]")]
    pub async fn activations(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ImageInput")] image: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "PredictImageOptions")] options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let image = image_levels(&image, ink_of(&options))?;
        layer_views(self.session.lock().await.activations(&image).await?)
    }

    /// The convolution kernels of the model in use: conv1's (shape [6, 1, 5, 5]) and conv2's
    /// ([16, 6, 5, 5]).
    #[wasm_bindgen(unchecked_return_type = "LayerView[]")]
    pub async fn filters(&self) -> Result<JsValue, JsValue> {
        layer_views(self.session.lock().await.filters().await?)
    }

    /// Which model answers `predict()`, `activations()` and `filters()`: fresh, the run's or
    /// the loaded one, how far trained, fine-tuned or not, and in words.
    #[wasm_bindgen(js_name = modelInUse, unchecked_return_type = "ModelInUse")]
    pub async fn model_in_use(&self) -> Result<JsValue, JsValue> {
        Ok(to_js(&self.session.lock().await.model_in_use())?)
    }

    /// Adds drawings labelled with the digits they show to the examples that `fineTune()`
    /// teaches (see `ExampleInput`; drawings dark on light unless `options.lightOnDark`), all
    /// or none. They are saved with the model. Resolves to how many examples there are now (at
    /// most 1,000); rejects with a `DrawingError` for a blank drawing, a `DatasetError` for a
    /// label that is not a digit or grey levels that are not an image.
    #[wasm_bindgen(js_name = addExamples)]
    pub async fn add_examples(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ExampleInput[]")] examples: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "PredictImageOptions")] options: JsValue,
    ) -> Result<usize, JsValue> {
        let ink = ink_of(&options);
        if !js_sys::Array::is_array(&examples) {
            return Err(type_error(
                "addExamples() takes an array of { image, label }",
            ));
        }
        let mut images = Vec::new();
        let mut labels = Vec::new();
        for (i, example) in js_sys::Array::from(&examples).iter().enumerate() {
            let levels = image_levels(&get(&example, "image"), ink)?;
            if levels.len() != IMAGE_PIXELS {
                return Err(error(
                    ErrorKind::Dataset,
                    format!(
                        "example {i} has {} grey levels; an image has {IMAGE_PIXELS} (28x28)",
                        levels.len()
                    ),
                ));
            }
            images.extend(levels);
            labels.push(get(&example, "label").as_f64().unwrap_or(f64::NAN));
        }
        let mut session = self.session.lock().await;
        Ok(session.add_examples(GreyLevels::Fractions(images), &labels)?)
    }

    /// The examples, in the order they were added.
    #[wasm_bindgen(unchecked_return_type = "Example[]")]
    pub async fn examples(&self) -> Result<JsValue, JsValue> {
        let session = self.session.lock().await;
        let list = js_sys::Array::new();
        for example in session.examples().iter() {
            let item = Object::new();
            let image: Vec<f32> = example.image.iter().map(|&g| g as f32 / 255.0).collect();
            Reflect::set(&item, &"image".into(), &Float32Array::from(&image[..]))?;
            Reflect::set(&item, &"label".into(), &example.label.into())?;
            list.push(&item);
        }
        Ok(list.into())
    }

    /// Removes example `index` (as `examples()` lists them); resolves to how many are left.
    #[wasm_bindgen(js_name = removeExample)]
    pub async fn remove_example(&self, index: usize) -> Result<usize, JsValue> {
        Ok(self.session.lock().await.remove_example(index)?)
    }

    /// Removes every example (a fine-tuned model stays in use until `undoFineTune()`).
    #[wasm_bindgen(js_name = clearExamples)]
    pub async fn clear_examples(&self) {
        self.session.lock().await.clear_examples();
    }

    /// Teaches the model the examples: a few seconds of training from the run's (or the
    /// loaded) weights, on batches that mix the examples with MNIST training images, so that it
    /// keeps what it knew (the training set must be loaded). The result answers predictions at
    /// once and is saved with the model; `undoFineTune()` goes back. Predictions go on
    /// meanwhile with the model as it was; training waits. Rejects when there are no examples
    /// or no trained or loaded model (`StateError`).
    #[wasm_bindgen(js_name = fineTune, unchecked_return_type = "FineTuneReport")]
    pub async fn fine_tune(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "FineTuneOptions")] options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let config: FineTuneConfig = from_js(&without(&options, FINE_TUNE_KEYS))?;
        let hooks = Hooks {
            abort: Abort::from_options(&options)?,
            on_step: callback(&options, "onStep")?,
            on_epoch: None,
            yielder: Yielder::new()?,
        };
        let report = self.session.fine_tune(config, &hooks).await?;
        Ok(to_js(&report)?)
    }

    /// Goes back to the model before fine-tuning; resolves to whether it was fine-tuned.
    #[wasm_bindgen(js_name = undoFineTune)]
    pub async fn undo_fine_tune(&self) -> bool {
        self.session.lock().await.undo_fine_tuning()
    }

    /// The current or last training run (or the checkpoint loaded last) as checkpoint bytes:
    /// settings, position in the run, weights and (unless `options.weightsOnly`) the
    /// optimizer's state.
    #[wasm_bindgen(js_name = saveCheckpoint)]
    pub async fn save_checkpoint(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "SaveOptions")] options: JsValue,
    ) -> Result<Vec<u8>, JsValue> {
        Ok(self.checkpoint(&options).await?.to_bytes())
    }

    /// Saves the model as `saveCheckpoint()` gives it to `"indexeddb://name"` (this browser's
    /// storage, replacing a model saved under that name; `options.metadata` is kept with it)
    /// or to `"downloads://name"` (a file download, `name.ckpt`, in a page). Rejects with a
    /// `StorageError` when the browser's storage is missing or full.
    #[wasm_bindgen(unchecked_return_type = "SavedModel")]
    pub async fn save(
        &self,
        target: String,
        #[wasm_bindgen(unchecked_optional_param_type = "SaveOptions")] options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let location = Location::save_target(&target).map_err(|e| error(ErrorKind::Settings, e))?;
        let checkpoint = self.checkpoint(&options).await?;
        let bytes = checkpoint.to_bytes();
        let info = checkpoint.info();
        match location {
            Location::IndexedDb(name) => {
                storage::save_model(&name, &bytes, &info, &get(&options, "metadata")).await
            }
            Location::Download(file) => {
                storage::offer_download(&bytes, &file).map_err(|e| {
                    error(
                        ErrorKind::Storage,
                        get(&e, "message").as_string().unwrap_or_default(),
                    )
                })?;
                let saved = Object::new();
                Reflect::set(&saved, &"name".into(), &file.into())?;
                Reflect::set(&saved, &"savedAt".into(), &js_sys::Date::now().into())?;
                Reflect::set(&saved, &"bytes".into(), &bytes.len().into())?;
                Reflect::set(&saved, &"info".into(), &to_js(&info)?)?;
                Ok(saved.into())
            }
            Location::Url(_) => unreachable!("not a save target"),
        }
    }

    /// Loads a checkpoint (see `CheckpointSource`): its weights become the model in use.
    /// Rejects with a `CheckpointError`, leaving the model in use untouched, when it is not a
    /// checkpoint of LeNet-5 (or a `DownloadError` when a URL cannot be fetched). Waits for a
    /// running `train()` to finish its current step, and ends it.
    #[wasm_bindgen(js_name = loadCheckpoint, unchecked_return_type = "LoadedCheckpoint")]
    pub async fn load_checkpoint(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CheckpointSource")] source: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "LoadOptions")] options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let (bytes, metadata) = checkpoint_bytes(&source, &options).await?;
        let info = to_js(&self.session.lock().await.load_checkpoint(&bytes)?)?;
        if !metadata.is_undefined() {
            Reflect::set(&info, &"metadata".into(), &metadata)?;
        }
        Ok(info)
    }
}

impl LeNet {
    /// The checkpoint to save, without the optimizer's state when `options.weightsOnly`.
    async fn checkpoint(&self, options: &JsValue) -> Result<Checkpoint, SessionError> {
        let checkpoint = self.session.lock().await.checkpoint().await?;
        Ok(if get(options, "weightsOnly").as_bool() == Some(true) {
            checkpoint.without_optimizer()
        } else {
            checkpoint
        })
    }

    async fn load_split(
        &self,
        split: Split,
        images: &JsValue,
        labels: &JsValue,
    ) -> Result<usize, JsValue> {
        let set = if labels.is_undefined() && get(images, "images").is_object() {
            let own = images;
            Session::from_arrays(
                split,
                grey_levels(&get(own, "images"))?,
                &numbers(&get(own, "labels"))?,
            )?
        } else {
            let bytes = |value: &JsValue, what: &str| -> Result<Vec<u8>, JsValue> {
                if value.is_instance_of::<Uint8Array>()
                    || value.is_instance_of::<js_sys::ArrayBuffer>()
                {
                    Ok(Uint8Array::new(value).to_vec())
                } else {
                    Err(type_error(format!(
                        "the {what} are the bytes of an IDX file (a Uint8Array), or give {{ images, labels }} arrays as the only argument"
                    )))
                }
            };
            Session::parse(split, &bytes(images, "images")?, &bytes(labels, "labels")?)?
        };
        Ok(self.session.lock().await.set(split, set))
    }

    /// Runs a training run from `start` with `options`' run options and callbacks.
    async fn run(&self, start: Start, options: &JsValue) -> Result<JsValue, JsValue> {
        let run = RunOptions::new(
            number(options, "limit")?,
            get(options, "evaluateEachEpoch").as_bool(),
        )?;
        let hooks = Hooks {
            abort: Abort::from_options(options)?,
            on_step: callback(options, "onStep")?,
            on_epoch: callback(options, "onEpoch")?,
            yielder: Yielder::new()?,
        };
        let position = self.session.train(start, run, &hooks).await?;
        Ok(to_js(&position)?)
    }
}

/// The training files and the test files (if any), fetched together.
async fn fetch_all(
    downloads: &Downloads,
    train: &(String, String),
    test: Option<&(String, String)>,
) -> Result<((Fetched, Fetched), Option<(Fetched, Fetched)>), String> {
    let train = fetch_pair(downloads, train);
    match test {
        Some(test) => {
            let (train, test) = future::try_zip(train, fetch_pair(downloads, test)).await?;
            Ok((train, Some(test)))
        }
        None => Ok((train.await?, None)),
    }
}

/// A split's images and labels URLs, and its files as fetched.
type FetchedSplit<'a> = (&'a (String, String), &'a (Fetched, Fetched));

/// Each file of `loadMnist()` with its URL.
fn each_file<'a>(files: &'a [FetchedSplit<'a>]) -> impl Iterator<Item = (&'a String, &'a Fetched)> {
    files
        .iter()
        .flat_map(|((images, labels), (a, b))| [(images, a), (labels, b)])
}

/// The images and labels files at `urls`, fetched together.
async fn fetch_pair(
    downloads: &Downloads,
    (images, labels): &(String, String),
) -> Result<(Fetched, Fetched), String> {
    future::try_zip(downloads.file(images), downloads.file(labels)).await
}

/// A split from the fetched images and labels files.
fn parse_pair(
    split: Split,
    (images, labels): &(Fetched, Fetched),
) -> Result<std::sync::Arc<MnistDataset>, SessionError> {
    Session::parse(split, &images.bytes, &labels.bytes)
}

/// How `options` (see `PredictImageOptions`) say a drawing is inked.
fn ink_of(options: &JsValue) -> Ink {
    match get(options, "lightOnDark").as_bool() {
        Some(true) => Ink::LightOnDark,
        _ => Ink::DarkOnLight,
    }
}

/// The grey levels (0-1) of an `ImageInput`: bytes, numbers, or the digit drawn in an
/// `ImageSource`.
fn image_levels(image: &JsValue, ink: Ink) -> Result<Vec<f32>, JsValue> {
    if image.is_instance_of::<Uint8Array>() || image.is_instance_of::<js_sys::Uint8ClampedArray>() {
        Ok(Uint8Array::new(image)
            .to_vec()
            .iter()
            .map(|&b| b as f32 / 255.0)
            .collect())
    } else if get(image, "length").as_f64().is_some() {
        Ok(Float32Array::new(image).to_vec())
    } else {
        drawing_levels(image, ink)
    }
}

/// The layers' values as `LayerView` objects.
fn layer_views(views: Vec<LayerView>) -> Result<JsValue, JsValue> {
    let list = js_sys::Array::new();
    for view in views {
        let item = Object::new();
        Reflect::set(&item, &"layer".into(), &view.layer.into())?;
        let shape: js_sys::Array = view.shape.iter().map(|&d| JsValue::from(d)).collect();
        Reflect::set(&item, &"shape".into(), &shape)?;
        Reflect::set(
            &item,
            &"values".into(),
            &Float32Array::from(&view.values[..]),
        )?;
        list.push(&item);
    }
    Ok(list.into())
}

/// The 784 grey levels (0-1) of the digit drawn in `source` (see `ImageSource`), as MNIST was
/// made (see [`drawpad`]).
fn drawing_levels(source: &JsValue, ink: Ink) -> Result<Vec<f32>, JsValue> {
    let drawing = |e: drawpad::DrawingError| error(ErrorKind::Drawing, e);
    let (rgba, width, height) = js::rgba_of(source)?;
    let ink = drawpad::ink_from_rgba(&rgba, width, height, ink).map_err(drawing)?;
    drawpad::to_mnist(&ink, width, height).map_err(drawing)
}

/// An app's images as grey levels: bytes in a `Uint8Array`, fractions in a float array.
fn grey_levels(images: &JsValue) -> Result<GreyLevels, JsValue> {
    if images.is_instance_of::<Uint8Array>() || images.is_instance_of::<js_sys::Uint8ClampedArray>()
    {
        Ok(GreyLevels::Bytes(Uint8Array::new(images).to_vec()))
    } else if images.is_instance_of::<Float32Array>() || images.is_instance_of::<Float64Array>() {
        Ok(GreyLevels::Fractions(Float32Array::new(images).to_vec()))
    } else {
        Err(error(
            ErrorKind::Dataset,
            "images are n x 784 grey levels in a Uint8Array (0-255) or a Float32Array (0-1)",
        ))
    }
}

/// An app's labels (any array of numbers).
fn numbers(labels: &JsValue) -> Result<Vec<f64>, JsValue> {
    if labels.is_object() && get(labels, "length").as_f64().is_some() {
        Ok(Float64Array::new(labels).to_vec())
    } else {
        Err(error(
            ErrorKind::Dataset,
            "labels are an array of digits 0-9, one per image",
        ))
    }
}

/// The bytes of a checkpoint `source` (see `CheckpointSource`), and for a model saved in
/// IndexedDB the app's metadata saved with it (else `undefined`).
async fn checkpoint_bytes(
    source: &JsValue,
    options: &JsValue,
) -> Result<(Vec<u8>, JsValue), JsValue> {
    if source.is_instance_of::<Uint8Array>() || source.is_instance_of::<js_sys::ArrayBuffer>() {
        return Ok((Uint8Array::new(source).to_vec(), JsValue::UNDEFINED));
    }
    if get(source, "arrayBuffer").is_function() && get(source, "size").as_f64().is_some() {
        let buffer = js::call_method(source, "arrayBuffer", &[])?;
        let buffer = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&buffer))
            .await
            .map_err(|e| {
                error(
                    ErrorKind::Checkpoint,
                    format!(
                        "could not read the file: {}",
                        get(&e, "message").as_string().unwrap_or_default()
                    ),
                )
            })?;
        return Ok((Uint8Array::new(&buffer).to_vec(), JsValue::UNDEFINED));
    }
    let Some(text) = source.as_string() else {
        return Err(type_error(
            "a checkpoint comes as bytes (Uint8Array or ArrayBuffer), a File or Blob, \"indexeddb://name\" or a URL",
        ));
    };
    match Location::source(&text).map_err(|e| error(ErrorKind::Settings, e))? {
        Location::IndexedDb(name) => storage::saved_model(&name).await,
        Location::Url(url) => {
            let abort = Abort::from_options(options)?;
            let downloads = Downloads::new(callback(options, "onProgress")?, None).await;
            let fetched = downloads.until_done(&abort, downloads.file(&url)).await?;
            Ok((fetched.bytes, JsValue::UNDEFINED))
        }
        Location::Download(_) => unreachable!("not a source"),
    }
}

/// `options[key]` as a number; an error when it holds something else.
fn number(options: &JsValue, key: &str) -> Result<Option<f64>, JsValue> {
    let value = get(options, key);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value
        .as_f64()
        .map(Some)
        .ok_or_else(|| type_error(format!("options.{key} must be a number")))
}

/// A run's callbacks and abort signal, as the session calls them.
struct Hooks {
    abort: Abort,
    on_step: Option<Function>,
    on_epoch: Option<Function>,
    yielder: Yielder,
}

impl RunHooks for Hooks {
    type Error = JsValue;

    fn aborted(&self) -> Option<JsValue> {
        self.abort.reason()
    }

    fn abort(&self) -> impl Future<Output = JsValue> {
        self.abort.aborted()
    }

    async fn on_step(&self, progress: &Progress) -> Result<(), JsValue> {
        match &self.on_step {
            Some(on_step) => call(on_step, &to_js(progress)?).await,
            None => Ok(()),
        }
    }

    async fn on_fine_tune_step(&self, progress: &FineTuneProgress) -> Result<(), JsValue> {
        match &self.on_step {
            Some(on_step) => call(on_step, &to_js(progress)?).await,
            None => Ok(()),
        }
    }

    fn wants_epoch_reports(&self) -> bool {
        self.on_epoch.is_some()
    }

    async fn on_epoch(&self, report: &EpochReport) -> Result<(), JsValue> {
        match &self.on_epoch {
            Some(on_epoch) => call(on_epoch, &to_js(report)?).await,
            None => Ok(()),
        }
    }

    async fn yield_now(&self) -> Result<(), JsValue> {
        self.yielder.yield_now().await
    }
}
