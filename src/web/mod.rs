//! The JavaScript surface: the one module that speaks to JS (wasm-bindgen), and the npm
//! package's API. Everything it does is a thin call into the plain-Rust modules; values cross
//! the boundary as typed arrays and plain objects, errors as real `Error` objects, and every
//! method that waits returns a Promise.
//!
//! Calls on one `LeNet` take turns (an async lock), and `train()` lets go between steps, so a
//! page can predict, evaluate or save while training runs.

mod js;

use std::{cell::Cell, rc::Rc, sync::Arc};

use async_lock::Mutex;
use js_sys::{Float32Array, Function};
use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::{
    checkpoint::{Checkpoint, TrainingState},
    data::{MnistDataset, NUM_CLASSES},
    device::{BackendRequest, ComputeDevice},
    drawpad, inference,
    metrics::{Evaluation, top},
    model::{LeNet5, LeNet5Config},
    training::{Progress, Trainer, TrainingConfig},
};
use js::{Abort, Yielder, call, callback, from_js, get, js_error, js_value, to_js, without};

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** Where to train: WebGPU, the CPU, or WebGPU when the browser has it ("auto"). */
export type BackendChoice = "auto" | "webgpu" | "cpu";

/** Settings of a training run; every one is optional. */
export interface TrainingSettings {
  /** Passes over the training set (1). */
  epochs?: number;
  /** Images per step (64). */
  batchSize?: number;
  /** The optimizer's step size, the peak of the schedule (0.004; 0.01 suits SGD). */
  learningRate?: number;
  /** "oneCycle" (default: a warm-up over the first 5% of the steps, then a half cosine down
   * to zero at the last step) or "constant". */
  schedule?: "oneCycle" | "constant";
  /** "adam" (default) or "sgd" (momentum 0.9). */
  optimizer?: "adam" | "sgd";
  /** Distortions of the training images: "off", "affine" (default: rotation, scale, shift)
   * or "elastic" (those plus an elastic distortion). */
  augmentation?: "off" | "affine" | "elastic";
  /** Seed of the initial weights, the shuffling and the augmentation (42). */
  seed?: number;
  /** Steps between read-backs of the loss and accuracy (20). */
  readEvery?: number;
}

/** How `train()` and `resume()` run, besides the settings. */
export interface RunOptions {
  /** Train on only the first `limit` training images. */
  limit?: number;
  /** Evaluate on the test set after each epoch (default: when a test set is loaded). */
  evaluateEachEpoch?: boolean;
  /** Stops training between two steps; the promise then rejects with the signal's reason,
   * and the weights trained so far stay in use. */
  signal?: AbortSignal;
  /** Called after every step. Training waits for a returned promise (return one to pause). */
  onStep?: (progress: Progress) => void | Promise<void>;
  /** Called after every epoch, with the test results. Training waits for a returned promise. */
  onEpoch?: (report: EpochReport) => void | Promise<void>;
}

export interface TrainOptions extends TrainingSettings, RunOptions {}

export interface ResumeOptions extends RunOptions {
  /** Epochs in all, counting those done (the saved run's number by default). */
  epochs?: number;
}

/** Where training stands after a step. */
export interface Progress {
  /** Epoch of the step, from 1. */
  epoch: number;
  epochs: number;
  /** Steps done in this epoch, from 1. */
  stepInEpoch: number;
  stepsPerEpoch: number;
  /** Steps done in all, from 1. */
  step: number;
  totalSteps: number;
  imagesSeen: number;
  /** True on the last step of an epoch. */
  epochDone: boolean;
  /** Mean loss since the last read-back, on steps that read it back. */
  loss?: number;
  /** Training accuracy (0-1) since the last read-back, on steps that read it back. */
  accuracy?: number;
}

export interface EpochReport {
  epoch: number;
  epochs: number;
  step: number;
  /** Present when the run evaluates after each epoch. */
  evaluation?: Evaluation;
}

/** Results on the test set. */
export interface Evaluation {
  /** Fraction right, 0-1. */
  accuracy: number;
  correct: number;
  total: number;
  /** Accuracy on the images of each digit 0-9. */
  perClass: number[];
  /** `confusion[label][predicted]`: how many images of each digit were taken for each. */
  confusion: number[][];
  /** Every image the model got wrong. */
  misclassified: Misclassified[];
}

export interface Misclassified {
  /** Position of the image in the test set. */
  index: number;
  label: number;
  predicted: number;
  probabilities: number[];
}

/** What `train()` and `resume()` resolve to. */
export interface TrainResult {
  step: number;
  totalSteps: number;
  epochsDone: number;
}

/** A saved run, as `loadCheckpoint()` reads it. */
export interface CheckpointInfo {
  config: Required<TrainingSettings>;
  step: number;
  stepsPerEpoch: number;
  trainingImages: number;
  epochsDone: number;
  finished: boolean;
  hasOptimizer: boolean;
}

/** Where `loadMnist()` fetches the four IDX files (gzipped or not). */
export interface MnistUrls {
  trainImages: string;
  trainLabels: string;
  testImages?: string;
  testLabels?: string;
}

export interface MnistCounts {
  trainCount: number;
  testCount?: number;
}

/** What `predictImage()` accepts. */
export type ImageSource = ImageData | HTMLCanvasElement | OffscreenCanvas;
"#;

/// What `evaluate()` resolves to: the [`Evaluation`] with its accuracies worked out.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EvaluationJs {
    accuracy: f64,
    per_class: [f64; NUM_CLASSES],
    #[serde(flatten)]
    evaluation: Evaluation,
}

impl From<Evaluation> for EvaluationJs {
    fn from(evaluation: Evaluation) -> Self {
        Self {
            accuracy: evaluation.accuracy(),
            per_class: evaluation.per_class_accuracy(),
            evaluation,
        }
    }
}

/// What `loadCheckpoint()` resolves to: the saved run's settings and position.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CheckpointJs {
    #[serde(flatten)]
    state: TrainingState,
    epochs_done: usize,
    finished: bool,
    has_optimizer: bool,
}

impl From<&Checkpoint> for CheckpointJs {
    fn from(c: &Checkpoint) -> Self {
        Self {
            state: c.state.clone(),
            epochs_done: c.state.epochs_done(),
            finished: c.state.is_finished(),
            has_optimizer: c.has_optimizer(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EpochReportJs {
    epoch: usize,
    epochs: usize,
    step: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    evaluation: Option<EvaluationJs>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MnistCountsJs {
    train_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    test_count: Option<usize>,
}

/// A split from IDX images and labels files (gzipped or not).
fn parse_split(images: Vec<u8>, labels: Vec<u8>, what: &str) -> Result<Arc<MnistDataset>, JsError> {
    let set = MnistDataset::from_files(&images, &labels)
        .map_err(|e| JsError::new(&format!("the {what} set could not be loaded: {e}")))?;
    Ok(Arc::new(set))
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
    compute: ComputeDevice,
    state: Rc<Mutex<State>>,
    /// True while `train()` or `resume()` runs.
    training: Rc<Cell<bool>>,
}

/// What a `LeNet` holds between calls.
struct State {
    train: Option<Arc<MnistDataset>>,
    test: Option<Arc<MnistDataset>>,
    /// The current or last training run: its model is the one in use while it exists.
    run: Option<Trainer>,
    /// The model in use when there is no run: fresh, or loaded from a checkpoint.
    model: LeNet5,
    /// The checkpoint loaded last; `resume()` goes on from it.
    loaded: Option<Checkpoint>,
}

impl State {
    fn model(&self) -> &LeNet5 {
        self.run.as_ref().map_or(&self.model, Trainer::model)
    }

    /// The loaded training set, or its first `limit` images.
    fn training_set(&self, limit: Option<usize>) -> Result<Arc<MnistDataset>, JsError> {
        let train = self
            .train
            .clone()
            .ok_or_else(|| JsError::new("load the training set before training"))?;
        Ok(match limit {
            Some(n) => Arc::new(train.take(n)),
            None => train,
        })
    }
}

#[wasm_bindgen]
impl LeNet {
    /// A fresh LeNet-5 on `backend`: `"webgpu"`, `"cpu"`, or `"auto"` (the default: WebGPU when
    /// the browser gives an adapter, otherwise the CPU, saying why in `fallbackReason`).
    /// Rejects when `"webgpu"` is asked for and cannot be had.
    pub async fn create(
        #[wasm_bindgen(unchecked_param_type = "BackendChoice | undefined")] backend: Option<String>,
    ) -> Result<LeNet, JsError> {
        console_error_panic_hook::set_once();
        let request: BackendRequest = backend
            .as_deref()
            .unwrap_or("auto")
            .parse()
            .map_err(js_error)?;
        let compute = ComputeDevice::select(request, webgpu_present())
            .await
            .map_err(js_error)?;
        let model = LeNet5Config::new().init(&compute.device);
        Ok(LeNet {
            compute,
            state: Rc::new(Mutex::new(State {
                train: None,
                test: None,
                run: None,
                model,
                loaded: None,
            })),
            training: Rc::default(),
        })
    }

    /// The backend in use: `"webgpu"` or `"cpu"`.
    #[wasm_bindgen(getter, unchecked_return_type = "\"webgpu\" | \"cpu\"")]
    pub fn backend(&self) -> String {
        self.compute.backend.name().to_owned()
    }

    /// Why `"auto"` fell back to the CPU, or `undefined`.
    #[wasm_bindgen(getter, js_name = fallbackReason)]
    pub fn fallback_reason(&self) -> Option<String> {
        self.compute.fallback_reason.clone()
    }

    /// Fetches the MNIST IDX files (gzipped or not) from `urls` and loads them; the test files
    /// are optional. Resolves to the number of images in each split. A server error, a dropped
    /// connection or a body cut off midway is tried again (3 tries in all); a missing file, or
    /// one that is not a valid MNIST file, rejects with what is wrong with it.
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
        let train = parse_split(train.0.await?, train.1.await?, "training")?;
        let test = match test {
            Some((images, labels)) => Some(parse_split(images.await?, labels.await?, "test")?),
            None => None,
        };
        let mut state = self.state.lock().await;
        let counts = MnistCountsJs {
            train_count: state.train.insert(train).len(),
            test_count: test.map(|t| state.test.insert(t).len()),
        };
        to_js(&counts)
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
        let set = parse_split(images, labels, "training")?;
        Ok(self.state.lock().await.train.insert(set).len())
    }

    /// Loads the test split from the bytes of its IDX files (gzipped or not).
    #[wasm_bindgen(js_name = loadTestSet)]
    pub async fn load_test_set(&self, images: Vec<u8>, labels: Vec<u8>) -> Result<usize, JsError> {
        let set = parse_split(images, labels, "test")?;
        Ok(self.state.lock().await.test.insert(set).len())
    }

    /// Trains a fresh model (from `seed`) with `options`, calling `onStep` after every step
    /// and `onEpoch` after every epoch; stops between steps when `signal` aborts (rejecting
    /// with its reason). Other calls (predict, evaluate, saveCheckpoint) run between steps.
    /// A run that diverges rejects, back at its last known good weights.
    #[wasm_bindgen(unchecked_return_type = "TrainResult")]
    pub async fn train(
        &self,
        #[wasm_bindgen(unchecked_param_type = "TrainOptions | undefined")] options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let run = RunOptions::from_js(&options)?;
        let config: TrainingConfig = from_js(&without(&options, RunOptions::KEYS))?;
        let _training = self.start_training()?;
        {
            let mut state = self.state.lock().await;
            let train = state.training_set(run.limit)?;
            let trainer = Trainer::new(&self.compute.device, train, config).map_err(js_value)?;
            state.run = Some(trainer);
        }
        self.run(run).await
    }

    /// Goes on with the checkpoint loaded last (see `loadCheckpoint`), up to `options.epochs`
    /// epochs in all; otherwise as `train()`. `limit` must be the saved run's.
    #[wasm_bindgen(unchecked_return_type = "TrainResult")]
    pub async fn resume(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ResumeOptions | undefined")] options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let run = RunOptions::from_js(&options)?;
        let epochs = get(&options, "epochs").as_f64().map(|e| e as usize);
        let _training = self.start_training()?;
        {
            let mut state = self.state.lock().await;
            let checkpoint = state
                .loaded
                .as_ref()
                .ok_or_else(|| js_value("load a checkpoint before resuming"))?;
            let train = state.training_set(run.limit)?;
            let trainer = Trainer::resume(&self.compute.device, train, checkpoint, epochs)
                .map_err(js_value)?;
            state.run = Some(trainer);
        }
        self.run(run).await
    }

    /// Classifies the test set.
    #[wasm_bindgen(unchecked_return_type = "Evaluation")]
    pub async fn evaluate(&self) -> Result<JsValue, JsError> {
        let state = self.state.lock().await;
        to_js(&evaluate(&state).await?)
    }

    /// Probabilities of the digits 0-9 for one 28x28 image: 784 grey levels, 0 = background,
    /// 1 = ink, row-major (MNIST's own images, scaled to 0-1).
    pub async fn predict(&self, image: Vec<f32>) -> Result<Float32Array, JsError> {
        let state = self.state.lock().await;
        let probs = inference::predict(state.model(), &image)
            .await
            .map_err(js_error)?;
        Ok(Float32Array::from(&probs[..]))
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
        let state = self.state.lock().await;
        let probabilities = inference::predict(state.model(), &image)
            .await
            .map_err(js_error)?;
        Ok(Prediction {
            image,
            probabilities,
        })
    }

    /// The current or last training run (or the checkpoint loaded last) as checkpoint bytes:
    /// settings, position in the run, weights and the optimizer's state.
    #[wasm_bindgen(js_name = saveCheckpoint)]
    pub async fn save_checkpoint(&self) -> Result<Vec<u8>, JsError> {
        let state = self.state.lock().await;
        let checkpoint = match (&state.run, &state.loaded) {
            (Some(run), _) => run.checkpoint().await.map_err(js_error)?,
            (None, Some(loaded)) => loaded.clone(),
            (None, None) => return Err(JsError::new("train or load a model before saving it")),
        };
        Ok(checkpoint.to_bytes())
    }

    /// Loads checkpoint bytes from `saveCheckpoint`: its weights become the model in use.
    /// Rejects, leaving the model in use untouched, when the bytes are not a checkpoint of
    /// LeNet-5. Waits for a running `train()` to finish its current step, and ends it.
    #[wasm_bindgen(js_name = loadCheckpoint, unchecked_return_type = "CheckpointInfo")]
    pub async fn load_checkpoint(&self, bytes: Vec<u8>) -> Result<JsValue, JsError> {
        let checkpoint = Checkpoint::from_bytes(&bytes).map_err(js_error)?;
        let model = checkpoint.model(&self.compute.device).map_err(js_error)?;
        let info = to_js(&CheckpointJs::from(&checkpoint))?;
        let mut state = self.state.lock().await;
        state.model = model;
        state.run = None;
        state.loaded = Some(checkpoint);
        Ok(info)
    }
}

/// `train()`'s and `resume()`'s options besides the training settings.
struct RunOptions {
    limit: Option<usize>,
    evaluate_each_epoch: Option<bool>,
    abort: Abort,
    on_step: Option<Function>,
    on_epoch: Option<Function>,
}

impl RunOptions {
    const KEYS: &'static [&'static str] =
        &["limit", "evaluateEachEpoch", "signal", "onStep", "onEpoch"];

    fn from_js(options: &JsValue) -> Result<Self, JsError> {
        Ok(Self {
            limit: get(options, "limit").as_f64().map(|n| n as usize),
            evaluate_each_epoch: get(options, "evaluateEachEpoch").as_bool(),
            abort: Abort::from_options(options)?,
            on_step: callback(options, "onStep")?,
            on_epoch: callback(options, "onEpoch")?,
        })
    }
}

/// Marks a `LeNet` as training until dropped.
struct Training(Rc<Cell<bool>>);

impl Drop for Training {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

impl LeNet {
    fn start_training(&self) -> Result<Training, JsError> {
        if self.training.replace(true) {
            return Err(JsError::new(
                "this model is already training: abort that run (its signal) first",
            ));
        }
        Ok(Training(self.training.clone()))
    }

    /// Steps the run just started to its end, holding the lock only during a step, an
    /// evaluation or a read, and calling back in between.
    async fn run(&self, options: RunOptions) -> Result<JsValue, JsValue> {
        let yielder = Yielder::new()?;
        loop {
            if let Some(reason) = options.abort.reason() {
                return Err(reason);
            }
            let progress = self.step().await?;
            let Some(progress) = progress else { break };
            if let Some(on_step) = &options.on_step {
                call(on_step, &to_js(&progress)?).await?;
            }
            if progress.epoch_done {
                self.end_epoch(&progress, &options).await?;
            }
            yielder.yield_now().await?;
        }
        let state = self.state.lock().await;
        let run = state
            .run
            .as_ref()
            .ok_or_else(|| js_value("the training run was replaced by a loaded checkpoint"))?;
        Ok(to_js(&run.position())?)
    }

    /// One step of the current run; `None` when it is done. After a failed step the run stays
    /// the model in use: a diverged run has gone back to its last good weights.
    async fn step(&self) -> Result<Option<Progress>, JsValue> {
        let mut state = self.state.lock().await;
        let run = state
            .run
            .as_mut()
            .ok_or_else(|| js_value("the training run was replaced by a loaded checkpoint"))?;
        run.step().await.map_err(js_value)
    }

    async fn end_epoch(&self, progress: &Progress, options: &RunOptions) -> Result<(), JsValue> {
        let Some(on_epoch) = &options.on_epoch else {
            return Ok(());
        };
        let evaluation = {
            let state = self.state.lock().await;
            let wanted = options.evaluate_each_epoch.unwrap_or(state.test.is_some());
            if wanted {
                Some(evaluate(&state).await?)
            } else {
                None
            }
        };
        let report = EpochReportJs {
            epoch: progress.epoch,
            epochs: progress.epochs,
            step: progress.step,
            evaluation,
        };
        call(on_epoch, &to_js(&report)?).await
    }
}

async fn evaluate(state: &State) -> Result<EvaluationJs, JsError> {
    let test = state
        .test
        .clone()
        .ok_or_else(|| JsError::new("load the test set before evaluating"))?;
    let evaluation = inference::evaluate(state.model(), test)
        .await
        .map_err(js_error)?;
    Ok(evaluation.into())
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
