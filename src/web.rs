//! The JavaScript surface: the one module that speaks to JS (wasm-bindgen). Everything it does is
//! a thin call into the plain-Rust modules; values cross the boundary as typed arrays and plain
//! objects, errors as real `Error` objects.

use std::sync::Arc;

use js_sys::{Float32Array, Reflect};
use serde::{Serialize, de::DeserializeOwned};
use wasm_bindgen::prelude::*;

use crate::{
    checkpoint::{Checkpoint, TrainingState},
    data::{MnistDataset, NUM_CLASSES},
    device::{BackendRequest, ComputeDevice},
    drawpad, inference,
    metrics::{Evaluation, top},
    model::{LeNet5, LeNet5Config},
    training::{Trainer, TrainingConfig},
};

/// What `evaluate()` resolves to: the [`Evaluation`] with its accuracies worked out.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EvaluationJs {
    accuracy: f64,
    per_class: [f64; NUM_CLASSES],
    #[serde(flatten)]
    evaluation: Evaluation,
}

/// What `loadCheckpoint()` returns: the saved run's settings and position.
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

/// A plain JS object as `T`; `undefined` or `null` gives `T::default()`.
fn from_js<T: DeserializeOwned + Default>(value: JsValue) -> Result<T, JsError> {
    if value.is_undefined() || value.is_null() {
        Ok(T::default())
    } else {
        serde_wasm_bindgen::from_value(value).map_err(js_error)
    }
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(js_error)
}

fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// A split from un-gzipped IDX images and labels files.
fn parse_split(images: &[u8], labels: &[u8]) -> Result<Arc<MnistDataset>, JsError> {
    Ok(Arc::new(
        MnistDataset::from_idx(images, labels).map_err(js_error)?,
    ))
}

/// True when the global scope (window or worker) has `navigator.gpu`.
fn webgpu_present() -> bool {
    Reflect::get(&js_sys::global(), &"navigator".into())
        .and_then(|nav| Reflect::get(&nav, &"gpu".into()))
        .is_ok_and(|gpu| !gpu.is_undefined() && !gpu.is_null())
}

/// LeNet-5 on MNIST in the browser: load the data, train step by step, evaluate, predict,
/// save and load checkpoints.
///
/// ```js
/// const lenet = await LeNet.create("auto");        // "auto" | "webgpu" | "cpu"
/// lenet.loadTrainingSet(trainImages, trainLabels); // un-gzipped IDX bytes
/// lenet.startTraining({ epochs: 1, batchSize: 64 });
/// while (true) { const p = await lenet.step(); if (!p) break; }
/// ```
#[wasm_bindgen]
pub struct LeNet {
    compute: ComputeDevice,
    train: Option<Arc<MnistDataset>>,
    test: Option<Arc<MnistDataset>>,
    /// The current or last training run: its model is the one in use while it exists.
    run: Option<Trainer>,
    /// True while `run` takes steps (false once it is done or stopped).
    running: bool,
    /// The model in use when there is no run: fresh, or loaded from a checkpoint.
    model: LeNet5,
    /// The checkpoint loaded last; `resumeTraining` goes on from it.
    loaded: Option<Checkpoint>,
}

#[wasm_bindgen]
impl LeNet {
    /// Creates a model on the requested backend: `"webgpu"`, `"cpu"`, or `"auto"` (WebGPU when
    /// the browser gives an adapter, otherwise the CPU). Rejects when `"webgpu"` is asked for and
    /// cannot be had.
    pub async fn create(backend: String) -> Result<LeNet, JsError> {
        console_error_panic_hook::set_once();
        let request: BackendRequest = backend.parse().map_err(js_error)?;
        let compute = ComputeDevice::select(request, webgpu_present())
            .await
            .map_err(js_error)?;
        let model = LeNet5Config::new().init(&compute.device);
        Ok(LeNet {
            compute,
            train: None,
            test: None,
            run: None,
            running: false,
            model,
            loaded: None,
        })
    }

    /// The backend in use: `"webgpu"` or `"cpu"`.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.compute.backend.name().to_owned()
    }

    /// Why `"auto"` fell back to the CPU, or `undefined`.
    #[wasm_bindgen(getter, js_name = fallbackReason)]
    pub fn fallback_reason(&self) -> Option<String> {
        self.compute.fallback_reason.clone()
    }

    /// Loads the training split from un-gzipped IDX files; returns the number of images.
    /// Throws, keeping any split loaded before, if the files are corrupt or do not match.
    #[wasm_bindgen(js_name = loadTrainingSet)]
    pub fn load_training_set(&mut self, images: &[u8], labels: &[u8]) -> Result<usize, JsError> {
        let set = parse_split(images, labels)?;
        Ok(self.train.insert(set).len())
    }

    /// Loads the test split from un-gzipped IDX files; returns the number of images.
    #[wasm_bindgen(js_name = loadTestSet)]
    pub fn load_test_set(&mut self, images: &[u8], labels: &[u8]) -> Result<usize, JsError> {
        let set = parse_split(images, labels)?;
        Ok(self.test.insert(set).len())
    }

    /// Starts a new training run from freshly initialised weights. `options` may set `epochs`
    /// (1), `batchSize` (64), `learningRate` (0.001), `optimizer` (`"adam"` or `"sgd"`: SGD
    /// with momentum 0.9), `augmentation` (`"off"`, `"affine"`: rotation, scale and shift, or
    /// `"elastic"`: those plus elastic distortion), `seed` (42) and `readEvery` (20: steps
    /// between read-backs of the loss). `limit` trains on only the first `limit` images.
    #[wasm_bindgen(js_name = startTraining)]
    pub fn start_training(
        &mut self,
        options: JsValue,
        limit: Option<usize>,
    ) -> Result<(), JsError> {
        let config: TrainingConfig = from_js(options)?;
        let train = self.training_set(limit)?;
        let run = Trainer::new(&self.compute.device, train, config).map_err(js_error)?;
        self.begin(run);
        Ok(())
    }

    /// Goes on with the checkpoint loaded last (see `loadCheckpoint`), up to `epochs` epochs in
    /// all (the saved run's number when omitted). `limit` must match the saved run's.
    #[wasm_bindgen(js_name = resumeTraining)]
    pub fn resume_training(
        &mut self,
        epochs: Option<usize>,
        limit: Option<usize>,
    ) -> Result<(), JsError> {
        let checkpoint = self
            .loaded
            .as_ref()
            .ok_or_else(|| JsError::new("load a checkpoint before resuming"))?;
        let train = self.training_set(limit)?;
        let run =
            Trainer::resume(&self.compute.device, train, checkpoint, epochs).map_err(js_error)?;
        self.begin(run);
        Ok(())
    }

    /// Takes one training step. Resolves to the progress (`epoch`, `epochs`, `stepInEpoch`,
    /// `stepsPerEpoch`, `step`, `totalSteps`, `imagesSeen`, `epochDone`, and `loss` and
    /// `accuracy` on steps that read them back), or to `undefined` when training is done or
    /// stopped.
    pub async fn step(&mut self) -> Result<JsValue, JsError> {
        let run = self
            .run
            .as_mut()
            .ok_or_else(|| JsError::new("call startTraining() before step()"))?;
        if !self.running {
            return Ok(JsValue::UNDEFINED);
        }
        match run.step().await {
            Ok(Some(progress)) => to_js(&progress),
            Ok(None) => {
                self.running = false;
                Ok(JsValue::UNDEFINED)
            }
            Err(e) => {
                self.running = false;
                self.run = None;
                Err(js_error(e))
            }
        }
    }

    /// Ends the training run; the weights trained so far are kept for prediction, evaluation
    /// and saving.
    #[wasm_bindgen(js_name = stopTraining)]
    pub fn stop_training(&mut self) {
        self.running = false;
    }

    /// Classifies the test set. Resolves to `{accuracy, correct, total, perClass, confusion,
    /// misclassified}`: `perClass[d]` is the accuracy on images of digit `d`,
    /// `confusion[label][predicted]` counts images, and `misclassified` lists `{index, label,
    /// predicted, probabilities}` for each wrong answer (`index` into the test set).
    pub async fn evaluate(&self) -> Result<JsValue, JsError> {
        let test = self
            .test
            .clone()
            .ok_or_else(|| JsError::new("load the test set before evaluating"))?;
        let evaluation = inference::evaluate(self.current_model(), test)
            .await
            .map_err(js_error)?;
        to_js(&EvaluationJs {
            accuracy: evaluation.accuracy(),
            per_class: evaluation.per_class_accuracy(),
            evaluation,
        })
    }

    /// Probabilities of the digits 0-9 for one 28x28 image (784 grey levels, 0 = background,
    /// 1 = ink, row-major).
    pub async fn predict(&self, image: Vec<f32>) -> Result<Float32Array, JsError> {
        let probs = inference::predict(self.current_model(), &image)
            .await
            .map_err(js_error)?;
        Ok(Float32Array::from(&probs[..]))
    }

    /// Classifies a drawing given as RGBA pixels (a canvas's `ImageData.data`, `width` x
    /// `height`): crops it to its ink, scales it to 20 pixels and centres it in 28x28 as MNIST
    /// was made, then predicts. Rejects when nothing is drawn.
    #[wasm_bindgen(js_name = predictDrawing)]
    pub async fn predict_drawing(
        &self,
        rgba: Vec<u8>,
        width: usize,
        height: usize,
    ) -> Result<Prediction, JsError> {
        let ink = drawpad::ink_from_rgba(&rgba, width, height).map_err(js_error)?;
        let image = drawpad::to_mnist(&ink, width, height).map_err(js_error)?;
        let probabilities = inference::predict(self.current_model(), &image)
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
        let checkpoint = match (&self.run, &self.loaded) {
            (Some(run), _) => run.checkpoint().await.map_err(js_error)?,
            (None, Some(loaded)) => loaded.clone(),
            (None, None) => return Err(JsError::new("train or load a model before saving it")),
        };
        Ok(checkpoint.to_bytes())
    }

    /// Loads checkpoint bytes from `saveCheckpoint`: its weights become the model in use (a
    /// running training run ends). Returns the saved run's settings and position (`config`,
    /// `step`, `stepsPerEpoch`, `trainingImages`, `epochsDone`, `finished`, `hasOptimizer`).
    /// Throws, leaving the model in use untouched, when the bytes are not a checkpoint of
    /// LeNet-5.
    #[wasm_bindgen(js_name = loadCheckpoint)]
    pub fn load_checkpoint(&mut self, bytes: &[u8]) -> Result<JsValue, JsError> {
        let checkpoint = Checkpoint::from_bytes(bytes).map_err(js_error)?;
        let model = checkpoint.model(&self.compute.device).map_err(js_error)?;
        let info = to_js(&CheckpointJs::from(&checkpoint))?;
        self.model = model;
        self.run = None;
        self.running = false;
        self.loaded = Some(checkpoint);
        Ok(info)
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

impl LeNet {
    fn current_model(&self) -> &LeNet5 {
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

    fn begin(&mut self, run: Trainer) {
        self.run = Some(run);
        self.running = true;
    }
}
