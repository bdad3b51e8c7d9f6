//! The JavaScript surface: the one module that speaks to JS (wasm-bindgen), and the npm
//! package's API. It converts values and calls the session (`crate::session`), where the rules
//! live: values cross the boundary as typed arrays and plain objects, errors as real `Error`
//! objects, and every method that waits returns a Promise. The TypeScript types of the values
//! that cross are generated from the Rust types (tsify); only the JS-side ones are written here.

mod js;

use std::cell::RefCell;

use js_sys::{Float32Array, Function};
use wasm_bindgen::prelude::*;

use crate::{
    calibration::{self, Calibration},
    config::TrainingConfig,
    data::NUM_CLASSES,
    device::{Backend, BackendRequest, ComputeDevice},
    drawpad,
    metrics::top,
    optimizer::OptimizerKind,
    session::{
        EpochReport, RunHooks, RunOptions, Session, SessionError, SharedSession, Split, Start,
    },
    training::Progress,
};
use js::{Abort, Yielder, call, callback, from_js, get, js_error, to_js, without};

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** Where to train: WebGPU, the CPU, or whichever of them trains faster here ("auto"). */
export type BackendChoice = "auto" | "webgpu" | "cpu";

/** Options of `LeNet.create()`. */
export interface CreateOptions {
  /** A measurement `"auto"` made before (`lenet.calibration`, kept by the app): reused when it
   * was made of the same adapter by the same version of the package, instead of measuring. */
  calibration?: Calibration;
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

/** Where `loadMnist()` fetches the four IDX files (gzipped or not). */
export interface MnistUrls {
  trainImages: string;
  trainLabels: string;
  testImages?: string;
  testLabels?: string;
}

/** What `predictImage()` accepts. */
export type ImageSource = ImageData | HTMLCanvasElement | OffscreenCanvas;
"#;

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
    session: SharedSession,
    /// The device in use, as the getters report it (the session's own copy sits behind its lock).
    compute: RefCell<ComputeDevice>,
    /// What `"auto"` measured, if it measured.
    calibration: RefCell<Option<Calibration>>,
}

/// Errors of the session reach JS as `Error` objects (as `JsError` makes them).
impl From<SessionError> for JsValue {
    fn from(e: SessionError) -> Self {
        JsError::from(e).into()
    }
}

/// A device for `backend` (`"auto"` when missing), and what `"auto"` measured to choose it
/// when it had WebGPU to choose from (by `remembered`, when that applies).
async fn select(
    backend: Option<String>,
    remembered: Option<Calibration>,
) -> Result<(ComputeDevice, Option<Calibration>), JsError> {
    let request: BackendRequest = backend
        .as_deref()
        .unwrap_or("auto")
        .parse()
        .map_err(js_error)?;
    let device = ComputeDevice::select(request, webgpu_present())
        .await
        .map_err(js_error)?;
    if request != BackendRequest::Auto || device.backend != Backend::WebGpu {
        return Ok((device, None));
    }
    let adapter = js::adapter_description().await;
    let (device, calibration) = calibration::choose(device, &adapter, remembered).await;
    Ok((device, calibration.ok()))
}

/// The keys of `RunOptions`, which `train()` and `resume()` take besides their settings.
const RUN_KEYS: &[&str] = &["limit", "evaluateEachEpoch", "signal", "onStep", "onEpoch"];

#[wasm_bindgen]
impl LeNet {
    /// A fresh LeNet-5 on `backend`: `"webgpu"`, `"cpu"`, or `"auto"` (the default). `"auto"`
    /// times a few training steps on WebGPU and on the CPU (a second or a few; see
    /// `calibration`) and takes the faster, saying why in `fallbackReason` when that is the
    /// CPU; without WebGPU it takes the CPU and says why. Rejects when `"webgpu"` is asked for
    /// and cannot be had.
    pub async fn create(
        #[wasm_bindgen(unchecked_optional_param_type = "BackendChoice")] backend: Option<String>,
        #[wasm_bindgen(unchecked_optional_param_type = "CreateOptions")] options: JsValue,
    ) -> Result<LeNet, JsError> {
        console_error_panic_hook::set_once();
        let remembered: Option<Calibration> = from_js(&get(&options, "calibration"))
            .map_err(|_| {
                JsError::new(
                    "create(): `calibration` is not a measurement that \"auto\" made (lenet.calibration)",
                )
            })?;
        let (compute, calibration) = select(backend, remembered).await?;
        Ok(LeNet {
            session: SharedSession::new(Session::new(compute.clone())),
            compute: RefCell::new(compute),
            calibration: RefCell::new(calibration),
        })
    }

    /// What `"auto"` measured (training images per second on each backend, and the adapter),
    /// or `undefined` when it had no WebGPU to choose from or another backend was asked for.
    /// Keep it (e.g. in IndexedDB) and pass it to `create()` to choose at once next time.
    #[wasm_bindgen(getter, unchecked_return_type = "Calibration | undefined")]
    pub fn calibration(&self) -> Result<JsValue, JsError> {
        match &*self.calibration.borrow() {
            Some(c) => to_js(c),
            None => Ok(JsValue::UNDEFINED),
        }
    }

    /// The default training settings; with `optimizer`, the learning rate that suits it.
    #[wasm_bindgen(js_name = defaultSettings, unchecked_return_type = "Required<TrainingConfig>")]
    pub fn default_settings(
        #[wasm_bindgen(unchecked_optional_param_type = "OptimizerKind")] optimizer: JsValue,
    ) -> Result<JsValue, JsError> {
        let optimizer: OptimizerKind = from_js(&optimizer)?;
        to_js(&TrainingConfig::for_optimizer(optimizer))
    }

    /// The backend in use: `"webgpu"` or `"cpu"`.
    #[wasm_bindgen(getter, unchecked_return_type = "\"webgpu\" | \"cpu\"")]
    pub fn backend(&self) -> String {
        self.compute.borrow().backend.name().to_owned()
    }

    /// Why `"auto"` chose the CPU (what it measured, or why WebGPU could not be had), or
    /// `undefined`.
    #[wasm_bindgen(getter, js_name = fallbackReason)]
    pub fn fallback_reason(&self) -> Option<String> {
        self.compute.borrow().fallback_reason.clone()
    }

    /// Moves to `backend` (as in `create`), keeping the loaded data, the model in use and the
    /// run to resume. Rejects while training, or when `"webgpu"` cannot be had (nothing changes).
    #[wasm_bindgen(js_name = setBackend)]
    pub async fn set_backend(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "BackendChoice")] backend: Option<String>,
    ) -> Result<(), JsError> {
        let remembered = self.calibration.borrow().clone();
        let (compute, calibration) = select(backend, remembered).await?;
        self.session.move_to(compute.clone()).await?;
        *self.compute.borrow_mut() = compute;
        if calibration.is_some() {
            *self.calibration.borrow_mut() = calibration;
        }
        Ok(())
    }

    /// Fetches the MNIST IDX files (gzipped or not) from `urls` and loads them; the test files
    /// are optional. Resolves to the number of images in each split. A server error, a dropped
    /// connection or a body cut off midway is tried again (3 tries in all); a missing file, or
    /// one that is not a valid MNIST file, rejects with what is wrong with it, the splits
    /// loaded before unchanged.
    #[wasm_bindgen(js_name = loadMnist, unchecked_return_type = "MnistCounts")]
    pub async fn load_mnist(
        &self,
        #[wasm_bindgen(unchecked_param_type = "MnistUrls")] urls: JsValue,
    ) -> Result<JsValue, JsError> {
        let url = |key: &str| get(&urls, key).as_string();
        let (Some(images), Some(labels)) = (url("trainImages"), url("trainLabels")) else {
            return Err(JsError::new(
                "loadMnist() needs trainImages and trainLabels URLs",
            ));
        };
        // All four downloads start now and run together.
        let train = (js::fetch_bytes(&images), js::fetch_bytes(&labels));
        let test = match (url("testImages"), url("testLabels")) {
            (Some(images), Some(labels)) => {
                Some((js::fetch_bytes(&images), js::fetch_bytes(&labels)))
            }
            _ => None,
        };
        let train = Session::parse(Split::Training, &train.0.await?, &train.1.await?)?;
        let test = match test {
            Some((images, labels)) => {
                Some(Session::parse(Split::Test, &images.await?, &labels.await?)?)
            }
            None => None,
        };
        let mut session = self.session.lock().await;
        session.set(Split::Training, train);
        if let Some(test) = test {
            session.set(Split::Test, test);
        }
        to_js(&session.counts()?)
    }

    /// Loads the training split from the bytes of its IDX files (gzipped or not); resolves to
    /// the number of images. Rejects, keeping any split loaded before, when the files are
    /// corrupt or do not match.
    #[wasm_bindgen(js_name = loadTrainingSet)]
    pub async fn load_training_set(
        &self,
        images: Vec<u8>,
        labels: Vec<u8>,
    ) -> Result<usize, JsError> {
        self.load(Split::Training, &images, &labels).await
    }

    /// Loads the test split from the bytes of its IDX files (gzipped or not).
    #[wasm_bindgen(js_name = loadTestSet)]
    pub async fn load_test_set(&self, images: Vec<u8>, labels: Vec<u8>) -> Result<usize, JsError> {
        self.load(Split::Test, &images, &labels).await
    }

    /// The 784 grey levels (0-255, row-major) of test image `index`, as in `Misclassified`.
    #[wasm_bindgen(js_name = testImage)]
    pub async fn test_image(&self, index: usize) -> Result<Vec<u8>, JsError> {
        Ok(self.session.lock().await.test_image(index)?.to_vec())
    }

    /// Trains a fresh model (from `seed`) with `options`, calling `onStep` after every step
    /// and `onEpoch` after every epoch; stops between steps, or while waiting for a callback,
    /// when `signal` aborts (rejecting with its reason). Other calls (predict, evaluate,
    /// saveCheckpoint) run between steps. A run that diverges rejects, back at its last known
    /// good weights.
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
    pub async fn evaluate(&self) -> Result<JsValue, JsError> {
        to_js(&self.session.lock().await.evaluate().await?)
    }

    /// Probabilities of the digits 0-9 for one 28x28 image: 784 grey levels, 0 = background,
    /// 1 = ink, row-major (MNIST's own images, scaled to 0-1).
    pub async fn predict(&self, image: Vec<f32>) -> Result<Float32Array, JsError> {
        let probabilities = self.session.lock().await.predict(&image).await?;
        Ok(Float32Array::from(&probabilities[..]))
    }

    /// Classifies a digit drawn dark on light (an `ImageData`, `HTMLCanvasElement` or
    /// `OffscreenCanvas`): crops it to its ink, scales it to 20 pixels and centres it in 28x28
    /// as MNIST was made, then predicts. Rejects when nothing is drawn.
    #[wasm_bindgen(js_name = predictImage)]
    pub async fn predict_image(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ImageSource")] source: JsValue,
    ) -> Result<Prediction, JsError> {
        let (rgba, width, height) = js::rgba_of(&source)?;
        let ink = drawpad::ink_from_rgba(&rgba, width, height).map_err(js_error)?;
        let image = drawpad::to_mnist(&ink, width, height).map_err(js_error)?;
        let probabilities = self.session.lock().await.predict(&image).await?;
        Ok(Prediction {
            image,
            probabilities,
        })
    }

    /// The current or last training run (or the checkpoint loaded last) as checkpoint bytes:
    /// settings, position in the run, weights and the optimizer's state.
    #[wasm_bindgen(js_name = saveCheckpoint)]
    pub async fn save_checkpoint(&self) -> Result<Vec<u8>, JsError> {
        Ok(self.session.lock().await.checkpoint().await?.to_bytes())
    }

    /// Loads checkpoint bytes from `saveCheckpoint`: its weights become the model in use.
    /// Rejects, leaving the model in use untouched, when the bytes are not a checkpoint of
    /// LeNet-5. Waits for a running `train()` to finish its current step, and ends it.
    #[wasm_bindgen(js_name = loadCheckpoint, unchecked_return_type = "CheckpointInfo")]
    pub async fn load_checkpoint(&self, bytes: Vec<u8>) -> Result<JsValue, JsError> {
        to_js(&self.session.lock().await.load_checkpoint(&bytes)?)
    }
}

impl LeNet {
    async fn load(&self, split: Split, images: &[u8], labels: &[u8]) -> Result<usize, JsError> {
        let set = Session::parse(split, images, labels)?;
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

/// `options[key]` as a number; an error when it holds something else.
fn number(options: &JsValue, key: &str) -> Result<Option<f64>, JsError> {
    let value = get(options, key);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value
        .as_f64()
        .map(Some)
        .ok_or_else(|| JsError::new(&format!("options.{key} must be a number")))
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

/// A prediction for a drawing: the 28x28 image the model saw and its ten probabilities.
#[wasm_bindgen]
pub struct Prediction {
    image: Vec<f32>,
    probabilities: [f32; NUM_CLASSES],
}

#[wasm_bindgen]
impl Prediction {
    /// The 784 grey levels (0-1, row-major) the model classified.
    #[wasm_bindgen(getter)]
    pub fn image(&self) -> Float32Array {
        Float32Array::from(&self.image[..])
    }

    /// Probabilities of the digits 0-9.
    #[wasm_bindgen(getter)]
    pub fn probabilities(&self) -> Float32Array {
        Float32Array::from(&self.probabilities[..])
    }

    /// The most probable digit.
    #[wasm_bindgen(getter)]
    pub fn digit(&self) -> u8 {
        top(&self.probabilities)
    }
}
