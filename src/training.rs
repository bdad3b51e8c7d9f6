//! The training loop, one step at a time so that a caller (the page, through `web.rs`) can drive
//! it, show progress between steps and stop it. The loss and accuracy stay on the device and are
//! read back, asynchronously, only every `read_every` steps and at the end of each epoch.

use std::sync::Arc;

use burn::{
    config::Config,
    nn::loss::CrossEntropyLossConfig,
    optim::{AdamConfig, GradientsParams, ModuleOptimizer},
    tensor::{Device, ExecutionError, Int, Tensor, TensorData},
};
use serde::Serialize;
use thiserror::Error;

use crate::{
    data::{Batch, Batches, IMAGE_SIDE, MnistDataset, Pipeline},
    metrics::mean,
    model::{LeNet5, LeNet5Config},
};

/// Settings of a training run.
#[derive(Config, Debug, PartialEq)]
pub struct TrainingConfig {
    /// Passes over the training set.
    #[config(default = 1)]
    pub epochs: usize,
    /// Images per step.
    #[config(default = 64)]
    pub batch_size: usize,
    /// Adam's step size (the default of Kingma and Ba 2015).
    #[config(default = 1e-3)]
    pub learning_rate: f64,
    /// Seed of the weight initialisation and of the shuffling.
    #[config(default = 42)]
    pub seed: u64,
    /// Steps between read-backs of the loss and accuracy (each read waits for the device).
    #[config(default = 20)]
    pub read_every: usize,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// Why training stopped with an error.
#[derive(Debug, Error)]
pub enum TrainingError {
    #[error(
        "the loss became {loss} at step {step}: training diverged (try a smaller learning rate)"
    )]
    Diverged { step: usize, loss: f64 },
    #[error("reading results back from the device failed: {0}")]
    Device(String),
    #[error("invalid training settings: {0}")]
    Settings(String),
}

impl From<ExecutionError> for TrainingError {
    fn from(e: ExecutionError) -> Self {
        TrainingError::Device(e.to_string())
    }
}

/// Where training stands after a step (camelCase fields when serialised for JS).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Epoch of the step just taken, from 1.
    pub epoch: usize,
    pub epochs: usize,
    /// Steps done in this epoch, from 1.
    pub step_in_epoch: usize,
    pub steps_per_epoch: usize,
    /// Steps done in all, from 1.
    pub step: usize,
    pub total_steps: usize,
    /// Training images processed so far.
    pub images_seen: usize,
    /// Mean loss and accuracy over the steps since the last read-back, present only on steps
    /// that read them back.
    #[serde(flatten)]
    pub metrics: Option<StepMetrics>,
    /// True on the last step of an epoch.
    pub epoch_done: bool,
}

/// Loss and accuracy over a window of steps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StepMetrics {
    /// Mean cross-entropy per image.
    pub loss: f64,
    /// Fraction of images whose top prediction was right, 0 to 1.
    pub accuracy: f64,
}

/// Loss and correct predictions summed on the device since the last read-back.
#[derive(Default)]
struct Window {
    loss_sum: Option<Tensor<1>>,
    correct: Option<Tensor<1, Int>>,
    images: usize,
}

impl Window {
    fn add(&mut self, loss_sum: Tensor<1>, correct: Tensor<1, Int>, images: usize) {
        self.loss_sum = Some(match self.loss_sum.take() {
            Some(sum) => sum + loss_sum,
            None => loss_sum,
        });
        self.correct = Some(match self.correct.take() {
            Some(sum) => sum + correct,
            None => correct,
        });
        self.images += images;
    }

    /// Reads the window back (waiting for the device) and empties it.
    async fn read(&mut self) -> Result<Option<StepMetrics>, ExecutionError> {
        let (Some(loss), Some(correct)) = (self.loss_sum.take(), self.correct.take()) else {
            return Ok(None);
        };
        let images = std::mem::take(&mut self.images);
        let loss: f64 = loss.into_scalar_async::<f64>().await?;
        let correct: f64 = correct.into_scalar_async::<f64>().await?;
        Ok(Some(StepMetrics {
            loss: mean(loss, images),
            accuracy: mean(correct, images),
        }))
    }
}

/// A training run of LeNet-5 with Adam, taken one [`Trainer::step`] at a time.
pub struct Trainer {
    /// Always `Some` between steps; taken while the optimizer consumes it.
    model: Option<LeNet5>,
    optimizer: ModuleOptimizer,
    batches: Batches,
    device: Device,
    config: TrainingConfig,
    steps_per_epoch: usize,
    total_steps: usize,
    step: usize,
    images_seen: usize,
    window: Window,
}

impl Trainer {
    /// A new model, initialised from `config.seed`, ready to train on `train` on `device`.
    pub fn new(
        device: &Device,
        train: Arc<MnistDataset>,
        config: TrainingConfig,
    ) -> Result<Self, TrainingError> {
        if config.batch_size == 0 || config.read_every == 0 || config.epochs == 0 {
            return Err(TrainingError::Settings(
                "epochs, batch size and read interval must be at least 1".into(),
            ));
        }
        if !(config.learning_rate.is_finite() && config.learning_rate > 0.0) {
            return Err(TrainingError::Settings(format!(
                "the learning rate must be a positive number, not {}",
                config.learning_rate
            )));
        }
        let device = device.clone().autodiff();
        device.seed(config.seed);
        let model = LeNet5Config::new().init(&device);
        let pipeline = Pipeline::new(train)
            .shuffle(config.seed)
            .batch(config.batch_size)
            .repeat(config.epochs);
        Ok(Self {
            model: Some(model),
            optimizer: AdamConfig::new().init(),
            batches: pipeline.batches(),
            steps_per_epoch: pipeline.batches_per_epoch(),
            total_steps: pipeline.total_batches(),
            device,
            config,
            step: 0,
            images_seen: 0,
            window: Window::default(),
        })
    }

    /// The model as trained so far.
    pub fn model(&self) -> &LeNet5 {
        self.model
            .as_ref()
            .expect("the model is present between steps")
    }

    /// Ends the run, giving back the model as trained so far.
    pub fn into_model(self) -> LeNet5 {
        self.model.expect("the model is present between steps")
    }

    /// True when every step of every epoch has been taken.
    pub fn is_done(&self) -> bool {
        self.step == self.total_steps
    }

    /// Takes one training step, or returns `None` when training is done. Reads the loss back
    /// (and checks it is finite) every `read_every` steps and at the end of each epoch.
    pub async fn step(&mut self) -> Result<Option<Progress>, TrainingError> {
        let Some(batch) = self.batches.next() else {
            return Ok(None);
        };
        let (epoch, index, images) = (batch.epoch, batch.index, batch.len());
        let (loss_sum, correct) = self.learn(batch);
        self.window.add(loss_sum, correct, images);
        self.step += 1;
        self.images_seen += images;

        let epoch_done = index + 1 == self.steps_per_epoch;
        let metrics = if epoch_done || self.step.is_multiple_of(self.config.read_every) {
            let metrics = self.window.read().await?;
            if let Some(m) = metrics.filter(|m| !m.loss.is_finite()) {
                return Err(TrainingError::Diverged {
                    step: self.step,
                    loss: m.loss,
                });
            }
            metrics
        } else {
            None
        };
        Ok(Some(Progress {
            epoch: epoch + 1,
            epochs: self.config.epochs,
            step_in_epoch: index + 1,
            steps_per_epoch: self.steps_per_epoch,
            step: self.step,
            total_steps: self.total_steps,
            images_seen: self.images_seen,
            metrics,
            epoch_done,
        }))
    }

    /// Forward, loss, backward and an Adam update on one batch. Returns the batch's summed loss
    /// and its number of correct predictions, both still on the device.
    fn learn(&mut self, batch: Batch) -> (Tensor<1>, Tensor<1, Int>) {
        let n = batch.len();
        let images = Tensor::<4>::from_data(
            TensorData::new(batch.images, [n, 1, IMAGE_SIDE, IMAGE_SIDE]),
            &self.device,
        );
        let labels = Tensor::<1, Int>::from_data(TensorData::new(batch.labels, [n]), &self.device);
        let model = self
            .model
            .take()
            .expect("the model is present between steps");

        let logits = model.forward(images);
        let loss = CrossEntropyLossConfig::new()
            .init(&self.device)
            .forward(logits.clone(), labels.clone());
        let correct = logits
            .detach()
            .argmax(1)
            .squeeze_dim::<1>(1)
            .equal(labels)
            .int()
            .sum();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        self.model = Some(self.optimizer.step(self.config.learning_rate, model, grads));
        (loss.detach().mul_scalar(n as f64), correct)
    }
}
