//! The training loop, one step at a time so that a caller (a session, driven by the page) can
//! drive it, show progress between steps and stop it. The loss and accuracy stay on the device and are
//! read back, asynchronously, only every `read_every` steps and at the end of each epoch.

use std::sync::Arc;

use burn::{
    module::Module,
    nn::loss::CrossEntropyLossConfig,
    optim::{GradientsAccumulator, GradientsParams},
    tensor::{Device, ExecutionError, Int, Tensor, TensorData},
};
use serde::Serialize;
use thiserror::Error;

use crate::{
    checkpoint::{Checkpoint, CheckpointError, TrainingState},
    config::{SettingsError, TrainingConfig},
    data::{Batch, Batches, IMAGE_SIDE, MnistDataset, Pipeline},
    metrics::mean,
    model::{LeNet5, LeNet5Config},
    optimizer::Optimizer,
};

/// Why training stopped with an error.
#[derive(Debug, Error)]
pub enum TrainingError {
    #[error(
        "the loss became {loss} at step {step}: training diverged and stopped, and the weights of step {restored}, the last known good, are back in use (try a smaller learning rate)"
    )]
    Diverged {
        step: usize,
        loss: f64,
        /// The step the run went back to.
        restored: usize,
    },
    #[error("reading results back from the device failed: {0}")]
    Device(String),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

impl From<ExecutionError> for TrainingError {
    fn from(e: ExecutionError) -> Self {
        TrainingError::Device(e.to_string())
    }
}

/// Where training stands after a step (camelCase fields when serialised for JS).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
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
    /// Mean loss per image since the last read-back, on steps that read it back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    /// Training accuracy (0-1) since the last read-back, on steps that read it back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// True on the last step of an epoch.
    pub epoch_done: bool,
}

/// How far a run has got (camelCase fields when serialised for JS).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Position {
    /// Steps done, over all epochs.
    pub step: usize,
    pub total_steps: usize,
    /// Whole epochs done.
    pub epochs_done: usize,
}

/// Loss and accuracy over a window of steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct StepMetrics {
    /// Mean cross-entropy per image.
    pub loss: f64,
    /// Fraction of images whose top prediction was right, 0 to 1.
    pub accuracy: f64,
}

/// A mean loss above which a run has diverged: ten times that of a uniform guess over the ten
/// digits (ln 10). Runs that learn stay below the uniform guess's 2.3 from the first read-back;
/// rates that blow the weights up (Adam at 0.1 and above) read back from 40 to 1e11 first, then
/// sit at 2.3, learning nothing.
const DIVERGED_LOSS: f64 = 10.0 * std::f64::consts::LN_10;

impl StepMetrics {
    /// True when the loss is not a number, infinite or above [`DIVERGED_LOSS`].
    pub(crate) fn diverged(&self) -> bool {
        !self.loss.is_finite() || self.loss > DIVERGED_LOSS
    }
}

/// Loss and correct predictions summed on the device since the last read-back.
#[derive(Default)]
pub(crate) struct Window {
    loss_sum: Option<Tensor<1>>,
    correct: Option<Tensor<1, Int>>,
    images: usize,
}

impl Window {
    pub(crate) fn add(&mut self, loss_sum: Tensor<1>, correct: Tensor<1, Int>, images: usize) {
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
    pub(crate) async fn read(&mut self) -> Result<Option<StepMetrics>, ExecutionError> {
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

/// The model and optimizer as they were after `step` steps.
#[derive(Clone)]
struct Snapshot {
    model: LeNet5,
    optimizer: Optimizer,
    step: usize,
}

/// A training run of LeNet-5, taken one [`Trainer::step`] at a time.
///
/// A run that diverges goes back to its last known good weights: those that the losses of a
/// whole read-back window were computed from, all finite.
pub struct Trainer {
    /// Always `Some` between steps; taken while the optimizer consumes it.
    model: Option<LeNet5>,
    optimizer: Optimizer,
    pipeline: Pipeline,
    batches: Batches,
    device: Device,
    /// More devices to train on, data-parallel (none by default).
    replicas: Vec<Device>,
    config: TrainingConfig,
    steps_per_epoch: usize,
    total_steps: usize,
    step: usize,
    /// Images in the training set.
    training_images: usize,
    window: Window,
    /// The run when the current read-back window began.
    window_start: Snapshot,
    /// The last run state known good (a window that started from it read back finite).
    good: Snapshot,
}

impl Trainer {
    /// A new model, initialised from `config.seed`, ready to train on `train` on `device`.
    pub fn new(
        device: &Device,
        train: Arc<MnistDataset>,
        config: TrainingConfig,
    ) -> Result<Self, TrainingError> {
        config.check()?;
        let device = device.clone().autodiff();
        let model = LeNet5Config::new().init(&device, config.seed);
        let optimizer = Optimizer::new(config.optimizer);
        Ok(Self::at_step(device, train, config, model, optimizer, 0))
    }

    /// Goes on with the run saved in `checkpoint`, on `train` (the same training set) on
    /// `device`, up to `epochs` epochs in all (the saved run's number when `None`; fewer than
    /// the run has begun are refused).
    pub fn resume(
        device: &Device,
        train: Arc<MnistDataset>,
        checkpoint: &Checkpoint,
        epochs: Option<usize>,
    ) -> Result<Self, TrainingError> {
        let state = &checkpoint.state;
        let config = TrainingConfig {
            epochs: epochs.unwrap_or(state.config.epochs),
            ..state.config.clone()
        };
        config.check()?;
        let needed = state.step.div_ceil(state.steps_per_epoch);
        if config.epochs < needed {
            return Err(SettingsError(format!(
                "the saved run is at step {}, in epoch {needed}: resume it with at least {needed} epochs, not {}",
                state.step, config.epochs
            ))
            .into());
        }
        if state.training_images != train.len() {
            return Err(CheckpointError::Mismatch(format!(
                "it was trained on {} images, not the {} loaded",
                state.training_images,
                train.len()
            ))
            .into());
        }
        let model = checkpoint.model(&device.clone().autodiff())?;
        let optimizer = checkpoint.optimizer(&model, device)?;
        let device = device.clone().autodiff();
        Ok(Self::at_step(
            device, train, config, model, optimizer, state.step,
        ))
    }

    /// Trains data-parallel on `replicas` as well as on the run's own device: every batch is
    /// cut into one shard per device (see [`Trainer::learn`]). The model and the optimizer stay
    /// on the run's device, so checkpoints are the same as a single device's, and the result
    /// matches single-device training on the same batches within float rounding.
    pub fn data_parallel(mut self, replicas: &[Device]) -> Self {
        self.replicas = replicas.iter().map(|d| d.clone().autodiff()).collect();
        self
    }

    /// The run with `model` and `optimizer` as they are after `step` steps (0: a new run).
    fn at_step(
        device: Device,
        train: Arc<MnistDataset>,
        config: TrainingConfig,
        model: LeNet5,
        optimizer: Optimizer,
        step: usize,
    ) -> Self {
        let images = train.len();
        let pipeline = Pipeline::new(train)
            .shuffle(config.seed)
            .augment(config.augmentation, config.seed)
            .batch(config.batch_size)
            .repeat(config.epochs);
        let steps_per_epoch = pipeline.batches_per_epoch();
        let total_steps = pipeline.total_batches();
        debug_assert!(step <= total_steps, "a run resumes within its steps");
        let start = Snapshot {
            model,
            optimizer,
            step,
        };
        // `go_to` puts in the model, the optimizer and the batches.
        let mut trainer = Self {
            model: None,
            optimizer: Optimizer::new(config.optimizer),
            batches: pipeline.batches_from(step),
            pipeline,
            steps_per_epoch,
            total_steps,
            device,
            replicas: Vec::new(),
            config,
            step,
            training_images: images,
            window: Window::default(),
            window_start: start.clone(),
            good: start.clone(),
        };
        trainer.go_to(start);
        trainer
    }

    /// Puts the run back where `snapshot` was taken.
    fn go_to(&mut self, snapshot: Snapshot) {
        let step = snapshot.step;
        self.model = Some(snapshot.model);
        self.optimizer = snapshot.optimizer;
        self.step = step;
        self.batches = self.pipeline.batches_from(step);
        self.window = Window::default();
    }

    /// Training images processed in the steps done (every batch is full but an epoch's last).
    fn images_seen(&self) -> usize {
        (self.step / self.steps_per_epoch) * self.training_images
            + (self.step % self.steps_per_epoch) * self.config.batch_size
    }

    /// The run as it is now.
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            model: self.model().clone(),
            optimizer: self.optimizer.clone(),
            step: self.step,
        }
    }

    /// The run so far, ready to save: settings, position, weights and the optimizer's state,
    /// read back from the device asynchronously.
    pub async fn checkpoint(&self) -> Result<Checkpoint, TrainingError> {
        let state = TrainingState {
            config: self.config.clone(),
            step: self.step,
            steps_per_epoch: self.steps_per_epoch,
            training_images: self.training_images,
        };
        let optimizer = self.optimizer.to_bytes().await?;
        Ok(Checkpoint::save(self.model(), optimizer, state).await?)
    }

    /// The model as trained so far.
    pub fn model(&self) -> &LeNet5 {
        self.model
            .as_ref()
            .expect("the model is present between steps")
    }

    /// The images it trains on.
    pub fn training_set(&self) -> Arc<MnistDataset> {
        self.pipeline.dataset().clone()
    }

    /// How far the run has got.
    pub fn position(&self) -> Position {
        Position {
            step: self.step,
            total_steps: self.total_steps,
            epochs_done: self.step / self.steps_per_epoch,
        }
    }

    /// True when every step of every epoch has been taken.
    pub fn is_done(&self) -> bool {
        self.step == self.total_steps
    }

    /// Takes one training step, or returns `None` when training is done. Reads the loss back
    /// every `read_every` steps and at the end of each epoch; a loss that is not a number,
    /// infinite or above [`DIVERGED_LOSS`] ends the run with [`TrainingError::Diverged`],
    /// back at its last known good weights.
    pub async fn step(&mut self) -> Result<Option<Progress>, TrainingError> {
        let Some(batch) = self.batches.next() else {
            return Ok(None);
        };
        let (epoch, index, images) = (batch.epoch, batch.index, batch.len());
        let (loss_sum, correct) = self.learn(batch);
        self.window.add(loss_sum, correct, images);
        self.step += 1;

        let epoch_done = index + 1 == self.steps_per_epoch;
        let metrics = if epoch_done || self.step.is_multiple_of(self.config.read_every) {
            let metrics = self.window.read().await?;
            if let Some(m) = metrics.filter(StepMetrics::diverged) {
                let step = self.step;
                self.go_to(self.good.clone());
                self.window_start = self.good.clone();
                return Err(TrainingError::Diverged {
                    step,
                    loss: m.loss,
                    restored: self.step,
                });
            }
            // The window's losses are sound: the weights it started from are good.
            let now = self.snapshot();
            self.good = std::mem::replace(&mut self.window_start, now);
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
            images_seen: self.images_seen(),
            loss: metrics.map(|m| m.loss),
            accuracy: metrics.map(|m| m.accuracy),
            epoch_done,
        }))
    }

    /// Forward, loss, backward and an optimizer update on one batch. Returns the batch's summed
    /// loss and its number of correct predictions, both still on the device.
    ///
    /// Data-parallel (see [`Trainer::data_parallel`]): each device takes its shard of the batch
    /// in a thread of its own, and their gradients are summed on the run's device (burn's
    /// `GradientsParams::to_device` and `GradientsAccumulator`) before the one optimizer step.
    /// Each shard's loss is weighted by its share of the batch, so the sum is the gradient of
    /// the batch's mean loss, as on one device.
    fn learn(&mut self, batch: Batch) -> (Tensor<1>, Tensor<1, Int>) {
        let model = self
            .model
            .take()
            .expect("the model is present between steps");
        let batch_len = batch.len();
        let mut shards = batch.shards(1 + self.replicas.len());
        let results: Vec<Shard> = if shards.len() == 1 {
            let shard = shards.pop().expect("one shard");
            vec![Shard::learn(model.clone(), shard, &self.device, batch_len)]
        } else {
            let devices = std::iter::once(&self.device).chain(&self.replicas);
            std::thread::scope(|scope| {
                let model = &model;
                let threads: Vec<_> = shards
                    .into_iter()
                    .zip(devices)
                    .enumerate()
                    .map(|(i, (shard, device))| {
                        scope.spawn(move || {
                            // A replica's copy has parameters of its own in autodiff's graph.
                            let copy = if i == 0 {
                                model.clone()
                            } else {
                                model.clone().fork(device)
                            };
                            Shard::learn(copy, shard, device, batch_len)
                        })
                    })
                    .collect();
                threads
                    .into_iter()
                    .map(|thread| thread.join().expect("a shard's thread does not panic"))
                    .collect()
            })
        };

        // The first shard ran on the run's device; the others' results move there.
        let mut results = results.into_iter();
        let first = results.next().expect("a batch has a shard");
        let (mut loss_sum, mut correct) = (first.loss_sum, first.correct);
        let mut gradients = GradientsAccumulator::new();
        gradients.accumulate(&model, first.grads);
        for shard in results {
            gradients.accumulate(&model, shard.grads.to_device(&self.device, &model));
            loss_sum = loss_sum + shard.loss_sum.to_device(&self.device);
            correct = correct + shard.correct.to_device(&self.device);
        }
        let rate =
            self.config
                .schedule
                .rate(self.config.learning_rate, self.step, self.total_steps);
        self.model = Some(self.optimizer.step(rate, model, gradients.grads()));
        (loss_sum, correct)
    }
}

/// What one shard of a batch gives: the gradients of its share of the batch's mean loss, its
/// summed loss and its correct predictions, all on its device.
pub(crate) struct Shard {
    pub grads: GradientsParams,
    pub loss_sum: Tensor<1>,
    pub correct: Tensor<1, Int>,
}

impl Shard {
    /// Forward and backward of `model` (on `device`) on `shard`, one of the shards of a batch
    /// of `batch_len` images.
    pub(crate) fn learn(model: LeNet5, shard: Batch, device: &Device, batch_len: usize) -> Self {
        let n = shard.len();
        let images = Tensor::<4>::from_data(
            TensorData::new(shard.images, [n, 1, IMAGE_SIDE, IMAGE_SIDE]),
            device,
        );
        let labels = Tensor::<1, Int>::from_data(TensorData::new(shard.labels, [n]), device);

        let logits = model.forward(images);
        let loss = CrossEntropyLossConfig::new()
            .init(device)
            .forward(logits.clone(), labels.clone());
        let correct = logits
            .detach()
            .argmax(1)
            .squeeze_dim::<1>(1)
            .equal(labels)
            .int()
            .sum();
        let share = if n == batch_len {
            loss.clone()
        } else {
            loss.clone().mul_scalar(n as f64 / batch_len as f64)
        };
        Self {
            grads: GradientsParams::from_grads(share.backward(), &model),
            loss_sum: loss.detach().mul_scalar(n as f64),
            correct,
        }
    }
}
