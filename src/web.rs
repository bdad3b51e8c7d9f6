//! The JavaScript surface: the one module that speaks to JS (wasm-bindgen). Everything it does is
//! a thin call into the plain-Rust modules; values cross the boundary as typed arrays and plain
//! objects, errors as real `Error` objects.

use std::sync::Arc;

use js_sys::{Float32Array, Reflect};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use crate::{
    data::MnistDataset,
    device::{BackendRequest, ComputeDevice},
    drawpad, inference,
    model::{LeNet5, LeNet5Config},
    training::{Trainer, TrainingConfig},
};

/// Training settings as JS passes them (every field optional).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct TrainOptions {
    epochs: Option<usize>,
    batch_size: Option<usize>,
    learning_rate: Option<f64>,
    seed: Option<u64>,
    read_every: Option<usize>,
}

impl From<TrainOptions> for TrainingConfig {
    fn from(o: TrainOptions) -> Self {
        let d = TrainingConfig::new();
        TrainingConfig {
            epochs: o.epochs.unwrap_or(d.epochs),
            batch_size: o.batch_size.unwrap_or(d.batch_size),
            learning_rate: o.learning_rate.unwrap_or(d.learning_rate),
            seed: o.seed.unwrap_or(d.seed),
            read_every: o.read_every.unwrap_or(d.read_every),
        }
    }
}

/// What `evaluate()` resolves to.
#[derive(Serialize)]
struct EvaluationJs {
    accuracy: f64,
    correct: usize,
    total: usize,
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

/// LeNet-5 on MNIST in the browser: load the data, train step by step, evaluate, predict.
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
    trainer: Option<Trainer>,
    /// The model predictions use: the trainer's while one exists, otherwise this.
    model: LeNet5,
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
            trainer: None,
            model,
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
    /// (1), `batchSize` (64), `learningRate` (0.001), `seed` (42) and `readEvery` (20: steps
    /// between read-backs of the loss). `limit` trains on only the first `limit` images.
    #[wasm_bindgen(js_name = startTraining)]
    pub fn start_training(
        &mut self,
        options: JsValue,
        limit: Option<usize>,
    ) -> Result<(), JsError> {
        let options: TrainOptions = if options.is_undefined() || options.is_null() {
            TrainOptions::default()
        } else {
            serde_wasm_bindgen::from_value(options).map_err(js_error)?
        };
        let train = self
            .train
            .clone()
            .ok_or_else(|| JsError::new("load the training set before training"))?;
        let train = match limit {
            Some(n) => Arc::new(train.take(n)),
            None => train,
        };
        let trainer =
            Trainer::new(&self.compute.device, train, options.into()).map_err(js_error)?;
        self.trainer = Some(trainer);
        Ok(())
    }

    /// Takes one training step. Resolves to the progress (`epoch`, `epochs`, `stepInEpoch`,
    /// `stepsPerEpoch`, `step`, `totalSteps`, `imagesSeen`, `epochDone`, and `loss` and
    /// `accuracy` on steps that read them back), or to `undefined` when training is done.
    pub async fn step(&mut self) -> Result<JsValue, JsError> {
        let trainer = self
            .trainer
            .as_mut()
            .ok_or_else(|| JsError::new("call startTraining() before step()"))?;
        match trainer.step().await {
            Ok(Some(progress)) => to_js(&progress),
            Ok(None) => {
                self.finish_training();
                Ok(JsValue::UNDEFINED)
            }
            Err(e) => {
                self.trainer = None;
                Err(js_error(e))
            }
        }
    }

    /// Ends the training run; the weights trained so far are kept for prediction and evaluation.
    #[wasm_bindgen(js_name = stopTraining)]
    pub fn stop_training(&mut self) {
        self.finish_training();
    }

    /// Classifies the test set; resolves to `{accuracy, correct, total}`.
    pub async fn evaluate(&self) -> Result<JsValue, JsError> {
        let test = self
            .test
            .clone()
            .ok_or_else(|| JsError::new("load the test set before evaluating"))?;
        let eval = inference::evaluate(self.current_model(), test)
            .await
            .map_err(js_error)?;
        to_js(&EvaluationJs {
            accuracy: eval.accuracy(),
            correct: eval.correct,
            total: eval.total,
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
            probabilities: probabilities.to_vec(),
        })
    }
}

/// A prediction for a drawing: the 28x28 image the model saw and its ten probabilities.
#[wasm_bindgen]
pub struct Prediction {
    image: Vec<f32>,
    probabilities: Vec<f32>,
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
    pub fn digit(&self) -> usize {
        self.probabilities
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(d, _)| d)
    }
}

impl LeNet {
    fn current_model(&self) -> &LeNet5 {
        self.trainer.as_ref().map_or(&self.model, Trainer::model)
    }

    fn finish_training(&mut self) {
        if let Some(trainer) = self.trainer.take() {
            self.model = trainer.into_model();
        }
    }
}
