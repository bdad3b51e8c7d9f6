//! A session: what one user of the trainer holds between calls (the training and test sets, the
//! model in use, the current or last run, the checkpoint loaded last), and its rules:
//!
//! - the model in use is the current or last run's; without a run, the checkpoint loaded last,
//!   or else a fresh model;
//! - loading a checkpoint ends the run, which stops before its next step;
//! - saving gives the run as it stands, or else the checkpoint loaded last, with the user's
//!   examples and the weights fine-tuned on them;
//! - fine-tuning on the examples starts from the run's (or the loaded) weights, and its model is
//!   the one in use until undone, until a run starts or until another checkpoint is loaded; the
//!   examples stay through all of these (a checkpoint that holds examples brings its own);
//! - after each epoch a run evaluates on the test set when one is loaded (unless told);
//! - calls take turns, and a run holds the session only for a step, an evaluation or a read, so
//!   predictions and saves go on between steps; one run at a time;
//! - an abort stops a run between two steps, and also cuts short a callback the run is waiting
//!   for (a paused run) and the end of an epoch;
//! - on a device that can be lost (a GPU), a run copies itself into this machine's memory at the
//!   first read-back of its loss [`COPY_EVERY`] after its last copy, and when it stops; when the
//!   device is lost, the session goes on on the CPU from that copy (or the run's start), the run
//!   (if one is going) with it, and says so once.
//!
//! The JS surface (`web`) converts values and calls these; everything here runs natively.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_lock::{Mutex, MutexGuard};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use web_time::Instant;

use crate::{
    checkpoint::Weights,
    checkpoint::{Checkpoint, CheckpointError, CheckpointInfo},
    config::TrainingConfig,
    data::{DatasetError, Examples, ExamplesError, GreyLevels, MnistDataset, NUM_CLASSES},
    device::{self, ComputeDevice, DeviceError},
    finetune::{FineTuneConfig, FineTuneProgress, FineTuned, FineTuner},
    inference::{self, InferenceError, LayerView},
    metrics::EvaluationReport,
    model::{LeNet5, LeNet5Config},
    training::{Position, Progress, Trainer, TrainingError},
};

/// Why a session could not do what it was asked.
#[derive(Debug, Error)]
pub enum SessionError {
    #[error("the {split} set could not be loaded: {source}")]
    Dataset {
        split: &'static str,
        source: DatasetError,
    },
    #[error("load the training set before training")]
    NoTrainingSet,
    #[error("load the test set before evaluating")]
    NoTestSet,
    #[error("there is no test image {index}: the test set has {count} (0 to {})", count - 1)]
    NoTestImage { index: usize, count: usize },
    #[error("load a checkpoint before resuming")]
    NothingToResume,
    #[error("train or load a model before saving it")]
    NothingToSave,
    #[error("train or load a model before fine-tuning it")]
    NothingToFineTune,
    #[error(
        "the model was replaced while fine-tuning (a checkpoint was loaded, or the GPU device was lost): fine-tune again"
    )]
    ReplacedWhileFineTuning,
    #[error(transparent)]
    Examples(#[from] ExamplesError),
    #[error("the training run was replaced by a loaded checkpoint")]
    RunReplaced,
    #[error("this model is already training: abort that run (its signal) first")]
    AlreadyTraining,
    #[error("stop training before changing the backend")]
    TrainingOnChange,
    #[error("invalid run options: {0}")]
    Options(String),
    #[error("the GPU device was lost: {0}")]
    DeviceLost(String),
    #[error(transparent)]
    Training(#[from] TrainingError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Inference(#[from] InferenceError),
}

/// The kinds of failure a caller can tell apart: the JS surface names each error after its kind
/// (`error.name`), so an app can branch on it instead of on the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A data set that is missing, or files or arrays that are not a usable split.
    Dataset,
    /// A file that could not be fetched.
    Download,
    /// Bytes that are not a checkpoint of this model, or no checkpoint where one is needed.
    Checkpoint,
    /// Training stopped on a loss that is not finite or far too high.
    Diverged,
    /// WebGPU asked for and not to be had.
    WebGpuUnavailable,
    /// A drawing or image that cannot be classified.
    Drawing,
    /// Settings or options that are not valid.
    Settings,
    /// A call at the wrong time (already training, training on a backend change, ...).
    State,
    /// The GPU device failed while working.
    Device,
    /// The browser's storage is missing, full or refused.
    Storage,
}

impl ErrorKind {
    /// The error's name in JS.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Dataset => "DatasetError",
            ErrorKind::Download => "DownloadError",
            ErrorKind::Checkpoint => "CheckpointError",
            ErrorKind::Diverged => "DivergedError",
            ErrorKind::WebGpuUnavailable => "WebGpuUnavailableError",
            ErrorKind::Drawing => "DrawingError",
            ErrorKind::Settings => "SettingsError",
            ErrorKind::State => "StateError",
            ErrorKind::Device => "DeviceError",
            ErrorKind::Storage => "StorageError",
        }
    }
}

impl SessionError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SessionError::Dataset { .. }
            | SessionError::NoTrainingSet
            | SessionError::NoTestSet => ErrorKind::Dataset,
            SessionError::NoTestImage { .. } | SessionError::Options(_) => ErrorKind::Settings,
            SessionError::Examples(ExamplesError::Invalid(_)) => ErrorKind::Dataset,
            SessionError::Examples(ExamplesError::NoSuchExample { .. }) => ErrorKind::Settings,
            SessionError::Examples(ExamplesError::TooMany { .. })
            | SessionError::NothingToFineTune
            | SessionError::ReplacedWhileFineTuning => ErrorKind::State,
            SessionError::NothingToResume
            | SessionError::NothingToSave
            | SessionError::Examples(ExamplesError::Damaged(_))
            | SessionError::Checkpoint(_)
            | SessionError::Training(TrainingError::Checkpoint(_)) => ErrorKind::Checkpoint,
            SessionError::RunReplaced
            | SessionError::AlreadyTraining
            | SessionError::TrainingOnChange => ErrorKind::State,
            SessionError::Training(TrainingError::Diverged { .. }) => ErrorKind::Diverged,
            SessionError::Training(TrainingError::Settings(_)) => ErrorKind::Settings,
            SessionError::DeviceLost(_)
            | SessionError::Training(TrainingError::Device(_))
            | SessionError::Inference(InferenceError::Device(_)) => ErrorKind::Device,
            SessionError::Inference(
                InferenceError::ImageSize(_) | InferenceError::BatchSize(_),
            ) => ErrorKind::Drawing,
        }
    }
}

impl DeviceError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DeviceError::UnknownBackend(_) | DeviceError::UnknownNativeBackend(_) => {
                ErrorKind::Settings
            }
            DeviceError::WebGpuUnavailable(_) => ErrorKind::WebGpuUnavailable,
            DeviceError::NotBuilt(_) | DeviceError::NoSuchDevice { .. } => ErrorKind::Device,
        }
    }
}

/// The two MNIST splits a session holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Training,
    Test,
}

impl Split {
    /// A data set read for this split, or why it could not be, naming the split.
    fn of(
        self,
        read: Result<MnistDataset, DatasetError>,
    ) -> Result<Arc<MnistDataset>, SessionError> {
        read.map(Arc::new).map_err(|source| SessionError::Dataset {
            split: self.name(),
            source,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Split::Training => "training",
            Split::Test => "test",
        }
    }
}

/// How many images each loaded split holds (camelCase fields when serialised for JS).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct MnistCounts {
    pub train_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_count: Option<usize>,
}

/// What a run reports after each epoch (camelCase fields when serialised for JS).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct EpochReport {
    /// The epoch just done, from 1.
    pub epoch: usize,
    pub epochs: usize,
    /// Steps done in all.
    pub step: usize,
    /// The test results, when the run evaluates after each epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<EvaluationReport>,
}

/// How a resumed run goes on, besides the run options: every field optional, a misspelt one
/// refused.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ResumeSettings {
    /// Epochs in all, counting those done (the saved run's number by default).
    pub epochs: Option<usize>,
}

/// What a session did when its device was lost (camelCase fields when serialised for JS).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct DeviceLost {
    /// Why, as the browser (or the call that found it lost) says.
    pub message: String,
    /// The step the run went back to, its last copy in memory, and goes on from on the CPU;
    /// absent when there is no run (the model in use is the checkpoint loaded last, or fresh).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
}

/// How often a run on a device that can be lost copies itself into this machine's memory: at
/// the first read-back of the loss this long after the last copy, when the device has no work
/// queued (a copy at any other step stalls the device's queue: it cost SwiftShader's WebGPU a
/// fifth of its speed). A copy reads back about 0.75 MB (the weights and Adam's two moments):
/// about 19 ms on SwiftShader here (docs/performance.md).
pub const COPY_EVERY: Duration = Duration::from_secs(5);

/// What fine-tuning did (camelCase fields when serialised for JS).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct FineTuneReport {
    /// Steps taken.
    pub steps: usize,
    /// The examples it learnt from.
    pub examples: usize,
    /// The mean loss over its last steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
}

/// A run as it was when copied into this machine's memory.
struct HostCopy {
    checkpoint: Checkpoint,
    taken: Instant,
}

/// Which model answers (camelCase fields when serialised for JS): where it came from, how far it
/// was trained, and in words, for a person.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct ModelInUse {
    pub source: ModelSource,
    /// Training steps its weights have had (none for a fresh model).
    pub step: usize,
    /// True when it is fine-tuned on the user's examples.
    pub fine_tuned: bool,
    /// In words, e.g. "the run's model after 120 of 938 steps".
    pub description: String,
}

/// Where the model in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum ModelSource {
    /// Initial weights, untrained.
    Fresh,
    /// The current or last run's.
    Run,
    /// The checkpoint loaded last.
    Loaded,
}

impl ModelInUse {
    fn new(source: ModelSource, position: Option<Position>, fine_tuned: bool) -> Self {
        let Position {
            step,
            total_steps,
            epochs_done,
        } = position.unwrap_or_default();
        let epochs = match epochs_done {
            1 => "1 epoch".to_string(),
            n => format!("{n} epochs"),
        };
        let mut description = match source {
            ModelSource::Fresh => "a fresh model, untrained".to_string(),
            ModelSource::Run if step < total_steps => {
                format!("the run's model after {step} of {total_steps} steps")
            }
            ModelSource::Run => format!("the run's model, trained for {epochs}"),
            ModelSource::Loaded if step < total_steps => {
                format!("the loaded model, trained for {step} of {total_steps} steps")
            }
            ModelSource::Loaded => format!("the loaded model, trained for {epochs}"),
        };
        if fine_tuned {
            description.push_str(", fine-tuned on your examples");
        }
        Self {
            source,
            step,
            fine_tuned,
            description,
        }
    }
}

/// How a run starts: a new model, or the checkpoint loaded last going on.
#[derive(Debug, Clone)]
pub enum Start {
    New(TrainingConfig),
    Resume(ResumeSettings),
}

/// How a run goes, besides its settings.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RunOptions {
    /// Train on only the first `limit` training images.
    pub limit: Option<usize>,
    /// Evaluate on the test set after each epoch (default: when a test set is loaded).
    pub evaluate_each_epoch: Option<bool>,
}

impl RunOptions {
    /// The options as a caller gives them; a limit must be a whole number of at least 1.
    pub fn new(
        limit: Option<f64>,
        evaluate_each_epoch: Option<bool>,
    ) -> Result<Self, SessionError> {
        let limit = match limit {
            None => None,
            Some(n) if n >= 1.0 && n.fract() == 0.0 && n <= usize::MAX as f64 => Some(n as usize),
            Some(n) => {
                return Err(SessionError::Options(format!(
                    "limit must be a whole number of training images, at least 1, not {n}"
                )));
            }
        };
        Ok(Self {
            limit,
            evaluate_each_epoch,
        })
    }
}

/// What a session holds between calls.
pub struct Session {
    compute: ComputeDevice,
    train: Option<Arc<MnistDataset>>,
    test: Option<Arc<MnistDataset>>,
    /// The current or last training run: its model is the one in use while it exists.
    run: Option<Trainer>,
    /// The model in use when there is no run: fresh, or loaded from a checkpoint.
    model: LeNet5,
    /// The checkpoint loaded last; a resumed run goes on from it.
    loaded: Option<Checkpoint>,
    /// How the run started (with its limit): a device lost before its first copy restarts it.
    run_start: Option<(Start, Option<usize>)>,
    /// How often the run copies itself into memory: on a device that can be lost.
    copy_every: Option<Duration>,
    /// The run's last copy in memory.
    copy: Option<HostCopy>,
    /// The user's own examples.
    examples: Examples,
    /// The model in use fine-tuned on the examples, when it is.
    tuned: Option<FineTuned>,
    /// Counts the changes of the weights fine-tuning starts from: fine-tuning that started
    /// before one is not applied.
    base_changes: u64,
}

impl Session {
    /// A session on `compute` with a fresh model (drawn from the default seed) and no data.
    pub fn new(compute: ComputeDevice) -> Self {
        let model = fresh_model(&compute);
        Self {
            copy_every: compute.can_be_lost().then_some(COPY_EVERY),
            compute,
            train: None,
            test: None,
            run: None,
            model,
            loaded: None,
            run_start: None,
            copy: None,
            examples: Examples::default(),
            tuned: None,
            base_changes: 0,
        }
    }

    /// Makes runs copy themselves into memory every `every` (a session on a device that can be
    /// lost does so every [`COPY_EVERY`]), and so go on from there after [`Session::fail_over`].
    pub fn keep_copies(&mut self, every: Duration) {
        self.copy_every = Some(every);
    }

    /// A split read from the bytes of its IDX images and labels files (gzipped or not).
    pub fn parse(
        split: Split,
        images: &[u8],
        labels: &[u8],
    ) -> Result<Arc<MnistDataset>, SessionError> {
        split.of(MnistDataset::from_files(images, labels))
    }

    /// A split from an app's own images and labels (see [`MnistDataset::from_arrays`]).
    pub fn from_arrays(
        split: Split,
        images: GreyLevels,
        labels: &[f64],
    ) -> Result<Arc<MnistDataset>, SessionError> {
        split.of(MnistDataset::from_arrays(images, labels))
    }

    /// Makes `set` the session's `split`; returns its number of images.
    pub fn set(&mut self, split: Split, set: Arc<MnistDataset>) -> usize {
        let slot = match split {
            Split::Training => &mut self.train,
            Split::Test => &mut self.test,
        };
        slot.insert(set).len()
    }

    /// How many images each loaded split holds.
    pub fn counts(&self) -> Result<MnistCounts, SessionError> {
        Ok(MnistCounts {
            train_count: self
                .train
                .as_ref()
                .ok_or(SessionError::NoTrainingSet)?
                .len(),
            test_count: self.test.as_ref().map(|t| t.len()),
        })
    }

    /// The 784 grey levels (0-255, row-major) of test image `index`.
    pub fn test_image(&self, index: usize) -> Result<&[u8], SessionError> {
        let test = self.test.as_ref().ok_or(SessionError::NoTestSet)?;
        if index >= test.len() {
            return Err(SessionError::NoTestImage {
                index,
                count: test.len(),
            });
        }
        Ok(test.image(index))
    }

    /// The model in use: fine-tuned, or else the run's, the loaded or a fresh one.
    pub fn model(&self) -> &LeNet5 {
        match &self.tuned {
            Some(tuned) => &tuned.model,
            None => self.run.as_ref().map_or(&self.model, Trainer::model),
        }
    }

    /// The user's own examples.
    pub fn examples(&self) -> &Examples {
        &self.examples
    }

    /// Adds examples (grey levels laid end to end, and their labels), all or none; returns how
    /// many there are now.
    pub fn add_examples(
        &mut self,
        images: GreyLevels,
        labels: &[f64],
    ) -> Result<usize, SessionError> {
        Ok(self.examples.add(images, labels)?)
    }

    /// Removes example `index`; returns how many are left.
    pub fn remove_example(&mut self, index: usize) -> Result<usize, SessionError> {
        self.examples.remove(index)?;
        Ok(self.examples.len())
    }

    /// Removes every example (the fine-tuned model, if any, stays in use until undone).
    pub fn clear_examples(&mut self) {
        self.examples.clear();
    }

    /// True while the model in use is fine-tuned.
    pub fn is_fine_tuned(&self) -> bool {
        self.tuned.is_some()
    }

    /// Fine-tuning of the run's (or the loaded) weights on the examples, mixed with the
    /// training set, and the count of base changes it starts at.
    async fn fine_tuner(&self, config: FineTuneConfig) -> Result<(FineTuner, u64), SessionError> {
        let train = self.train.clone().ok_or(SessionError::NoTrainingSet)?;
        let base = match (&self.run, &self.loaded) {
            (Some(run), _) => Weights::of(run.model()).await?,
            (None, Some(loaded)) => loaded.weights().clone(),
            (None, None) => return Err(SessionError::NothingToFineTune),
        };
        let device = &self.compute.device;
        let tuner = FineTuner::new(device, &base, &self.examples, train, config)?;
        Ok((tuner, self.base_changes))
    }

    /// Makes `tuned` the model in use, unless the weights it started from (at `base_changes`)
    /// have been replaced since.
    fn fine_tuned(&mut self, tuned: FineTuned, base_changes: u64) -> Result<(), SessionError> {
        if base_changes != self.base_changes {
            return Err(SessionError::ReplacedWhileFineTuning);
        }
        self.tuned = Some(tuned);
        Ok(())
    }

    /// Goes back to the weights before fine-tuning; false when the model was not fine-tuned.
    pub fn undo_fine_tuning(&mut self) -> bool {
        self.tuned.take().is_some()
    }

    /// Starts a run (it becomes the model in use) on the loaded training set, or its first
    /// `limit` images.
    pub fn start(&mut self, start: Start, limit: Option<usize>) -> Result<(), SessionError> {
        let train = self.train.clone().ok_or(SessionError::NoTrainingSet)?;
        let train = match limit {
            Some(n) => Arc::new(train.take(n)),
            None => train,
        };
        let device = &self.compute.device;
        let run = match &start {
            Start::New(config) => Trainer::new(device, train, config.clone())?,
            Start::Resume(settings) => {
                let checkpoint = self.loaded.as_ref().ok_or(SessionError::NothingToResume)?;
                Trainer::resume(device, train, checkpoint, settings.epochs)?
            }
        };
        self.run = Some(run);
        self.run_start = Some((start, limit));
        self.copy = None;
        self.tuned = None;
        self.base_changes += 1;
        Ok(())
    }

    /// One step of the current run; `None` when it is done. After a failed step the run stays
    /// the model in use: a diverged run has gone back to its last good weights. Fails with
    /// [`SessionError::DeviceLost`] when the device fails and can be lost.
    pub async fn step(&mut self) -> Result<Option<Progress>, SessionError> {
        let step = self.copied_step().await;
        step.map_err(|e| self.lost_or(e))
    }

    /// A step, then a copy of the run into memory when one is due.
    async fn copied_step(&mut self) -> Result<Option<Progress>, SessionError> {
        let run = self.run.as_mut().ok_or(SessionError::RunReplaced)?;
        let progress = run.step().await?;
        let read_back = progress.as_ref().is_some_and(|p| p.loss.is_some());
        let due = self.copy_every.is_some_and(|every| {
            self.copy
                .as_ref()
                .is_none_or(|copy| copy.taken.elapsed() >= every)
        });
        if read_back && due {
            self.copy_run().await?;
        }
        Ok(progress)
    }

    /// Copies the run into memory, on a device that can be lost.
    async fn copy_run(&mut self) -> Result<(), SessionError> {
        if let (Some(_), Some(run)) = (self.copy_every, &self.run) {
            self.copy = Some(HostCopy {
                checkpoint: run.checkpoint().await?,
                taken: Instant::now(),
            });
        }
        Ok(())
    }

    /// `e`, or [`SessionError::DeviceLost`] when it is the device failing and the device can be
    /// lost.
    fn lost_or(&self, e: SessionError) -> SessionError {
        if e.kind() == ErrorKind::Device && self.copy_every.is_some() {
            SessionError::DeviceLost(e.to_string())
        } else {
            e
        }
    }

    /// Goes on on the CPU after the device was lost (`message` says why): the run, if any, from
    /// its last copy in memory (from its start when it had none yet); otherwise the checkpoint
    /// loaded last, or a fresh model. `None` when the session's device cannot be lost (the CPU,
    /// or a session that went on on the CPU already).
    pub fn fail_over(&mut self, message: &str) -> Result<Option<DeviceLost>, SessionError> {
        if self.copy_every.is_none() {
            return Ok(None);
        }
        if self.compute.can_be_lost() {
            device::webgpu_lost(message);
        }
        let cpu = ComputeDevice {
            fallback_reason: Some(format!(
                "the GPU device was lost: {}",
                message.trim_end_matches('.')
            )),
            ..ComputeDevice::cpu()
        };
        let run = self.run.take();
        let copy = self.copy.take();
        self.settle_on(cpu)?;
        match (run, copy) {
            (Some(run), Some(copy)) => {
                let device = &self.compute.device;
                let train = run.training_set();
                self.run = Some(Trainer::resume(device, train, &copy.checkpoint, None)?);
            }
            (Some(_), None) => {
                let (start, limit) = self.run_start.take().expect("a run has its start");
                self.start(start, limit)?;
            }
            (None, _) => {}
        }
        Ok(Some(DeviceLost {
            message: message.to_owned(),
            step: self.run.as_ref().map(|run| run.position().step),
        }))
    }

    /// How far the current run has got.
    pub fn position(&self) -> Result<Position, SessionError> {
        Ok(self
            .run
            .as_ref()
            .ok_or(SessionError::RunReplaced)?
            .position())
    }

    /// Classifies the test set.
    pub async fn evaluate(&self) -> Result<EvaluationReport, SessionError> {
        let test = self.test.clone().ok_or(SessionError::NoTestSet)?;
        Ok(inference::evaluate(self.model(), test).await?.into())
    }

    /// What a run reports after the epoch that `progress` ends: with the test results when
    /// `evaluate` says so, or by default when a test set is loaded.
    pub async fn epoch_report(
        &self,
        progress: &Progress,
        evaluate: Option<bool>,
    ) -> Result<EpochReport, SessionError> {
        let evaluation = if evaluate.unwrap_or(self.test.is_some()) {
            Some(self.evaluate().await.map_err(|e| self.lost_or(e))?)
        } else {
            None
        };
        Ok(EpochReport {
            epoch: progress.epoch,
            epochs: progress.epochs,
            step: progress.step,
            evaluation,
        })
    }

    /// Probabilities of the digits 0-9 for one image of 784 grey levels (0 = background, 1 =
    /// ink, row-major).
    pub async fn predict(&self, image: &[f32]) -> Result<[f32; NUM_CLASSES], SessionError> {
        Ok(inference::predict(self.model(), image).await?)
    }

    /// What each layer of the model in use gives for one image of 784 grey levels (as for
    /// [`Session::predict`]), in order; see [`inference::activations`].
    pub async fn activations(&self, image: &[f32]) -> Result<Vec<LayerView>, SessionError> {
        Ok(inference::activations(self.model(), image).await?)
    }

    /// The convolution kernels of the model in use; see [`inference::filters`].
    pub async fn filters(&self) -> Result<Vec<LayerView>, SessionError> {
        Ok(inference::filters(self.model()).await?)
    }

    /// Which model answers predictions, activations and filters.
    pub fn model_in_use(&self) -> ModelInUse {
        let (source, position) = match (&self.run, &self.loaded) {
            (Some(run), _) => (ModelSource::Run, Some(run.position())),
            (None, Some(loaded)) => (
                ModelSource::Loaded,
                Some(Position {
                    step: loaded.state.step,
                    total_steps: loaded.state.total_steps(),
                    epochs_done: loaded.state.epochs_done(),
                }),
            ),
            (None, None) => (ModelSource::Fresh, None),
        };
        ModelInUse::new(source, position, self.tuned.is_some())
    }

    /// Probabilities of the digits 0-9 (ten per image, in order) for images of 784 grey levels
    /// each, laid end to end.
    pub async fn predict_batch(&self, images: &[f32]) -> Result<Vec<f32>, SessionError> {
        Ok(inference::predict_batch(self.model(), images).await?)
    }

    /// The current or last run as a checkpoint, or else the checkpoint loaded last, with the
    /// examples and the fine-tuned weights.
    pub async fn checkpoint(&self) -> Result<Checkpoint, SessionError> {
        let mut checkpoint = match (&self.run, &self.loaded) {
            (Some(run), _) => run.checkpoint().await?,
            (None, Some(loaded)) => loaded.clone(),
            (None, None) => return Err(SessionError::NothingToSave),
        };
        checkpoint.examples = self.examples.clone();
        checkpoint.fine_tuned = self.tuned.as_ref().map(|t| t.weights.clone());
        Ok(checkpoint)
    }

    /// Loads checkpoint bytes: their model (fine-tuned, when they hold fine-tuned weights)
    /// becomes the one in use, the run (if any) ends, and their examples, if they hold any,
    /// replace the session's. Fails, leaving the session untouched, when the bytes are not a
    /// checkpoint of LeNet-5.
    pub fn load_checkpoint(&mut self, bytes: &[u8]) -> Result<CheckpointInfo, SessionError> {
        let checkpoint = Checkpoint::from_bytes(bytes)?;
        let device = &self.compute.device;
        let model = checkpoint.model(device)?;
        let tuned = fine_tuned_on(checkpoint.fine_tuned.as_ref(), device)?;
        self.model = model;
        self.tuned = tuned;
        self.base_changes += 1;
        if !checkpoint.examples.is_empty() {
            self.examples = checkpoint.examples.clone();
        }
        self.run = None;
        self.copy = None;
        let info = CheckpointInfo {
            examples: self.examples.len(),
            ..checkpoint.info()
        };
        self.loaded = Some(checkpoint);
        Ok(info)
    }

    /// Moves the session to `compute`, keeping the data, the model in use and what a resumed
    /// run goes on from: the last run becomes the checkpoint loaded.
    pub async fn move_to(&mut self, compute: ComputeDevice) -> Result<(), SessionError> {
        if let Some(run) = self.run.take() {
            self.loaded = Some(run.checkpoint().await?);
        }
        self.settle_on(compute)
    }

    /// Makes `compute` the session's device, with the checkpoint loaded last (or a fresh model)
    /// on it as the model in use when there is no run.
    fn settle_on(&mut self, compute: ComputeDevice) -> Result<(), SessionError> {
        self.model = match &self.loaded {
            Some(checkpoint) => checkpoint.model(&compute.device)?,
            None => fresh_model(&compute),
        };
        let weights = self.tuned.take().map(|t| t.weights);
        self.tuned = fine_tuned_on(weights.as_ref(), &compute.device)?;
        self.base_changes += 1;
        self.copy_every = compute.can_be_lost().then_some(COPY_EVERY);
        self.copy = None;
        self.compute = compute;
        Ok(())
    }
}

/// The fine-tuned model with `weights` (if any) on `device`.
fn fine_tuned_on(
    weights: Option<&Weights>,
    device: &burn::tensor::Device,
) -> Result<Option<FineTuned>, SessionError> {
    Ok(match weights {
        Some(weights) => Some(FineTuned {
            model: weights.model(device)?,
            weights: weights.clone(),
        }),
        None => None,
    })
}

/// The model of a session that has neither trained nor loaded one: LeNet-5 from the default
/// seed.
fn fresh_model(compute: &ComputeDevice) -> LeNet5 {
    LeNet5Config::new().init(&compute.device, TrainingConfig::default().seed)
}

/// What a run tells its caller, and how the caller stops it. `Error` is the caller's: what an
/// abort or a failed callback stops the run with; the session's own errors convert into it.
pub trait RunHooks {
    type Error: From<SessionError>;

    /// The abort's reason, once the caller has aborted the run.
    fn aborted(&self) -> Option<Self::Error>;

    /// Resolves with the abort's reason when the caller aborts the run.
    fn abort(&self) -> impl Future<Output = Self::Error>;

    /// After every step; the run waits for it (or for an abort).
    fn on_step(&self, progress: &Progress) -> impl Future<Output = Result<(), Self::Error>>;

    /// True when the caller takes epoch reports (otherwise no evaluation is made for one).
    fn wants_epoch_reports(&self) -> bool;

    /// After every step of fine-tuning; it waits for it (or for an abort).
    fn on_fine_tune_step(
        &self,
        _progress: &FineTuneProgress,
    ) -> impl Future<Output = Result<(), Self::Error>> {
        async { Ok(()) }
    }

    /// After every epoch; the run waits for it (or for an abort).
    fn on_epoch(&self, report: &EpochReport) -> impl Future<Output = Result<(), Self::Error>>;

    /// Lets the caller's other work run between steps (a browser's event loop).
    fn yield_now(&self) -> impl Future<Output = Result<(), Self::Error>>;
}

/// A session whose calls take turns.
pub struct SharedSession {
    session: Mutex<Session>,
    training: AtomicBool,
    /// The session's device, readable while a call holds the session.
    compute: std::sync::Mutex<ComputeDevice>,
    /// Told when the session goes on on the CPU after losing its device.
    on_device_lost: Box<dyn Fn(&DeviceLost)>,
}

impl SharedSession {
    pub fn new(session: Session) -> Self {
        Self {
            compute: std::sync::Mutex::new(session.compute.clone()),
            session: Mutex::new(session),
            training: AtomicBool::new(false),
            on_device_lost: Box::new(|_| ()),
        }
    }

    /// The session, telling `listener` each time it goes on on the CPU after losing its device.
    pub fn on_device_lost(self, listener: impl Fn(&DeviceLost) + 'static) -> Self {
        Self {
            on_device_lost: Box::new(listener),
            ..self
        }
    }

    /// The device in use.
    pub fn compute(&self) -> ComputeDevice {
        self.compute.lock().expect("not poisoned").clone()
    }

    /// The session, once the call before has let go of it.
    pub async fn lock(&self) -> MutexGuard<'_, Session> {
        self.session.lock().await
    }

    /// Moves the session to `compute` (see [`Session::move_to`]); refused while training.
    pub async fn move_to(&self, compute: ComputeDevice) -> Result<(), SessionError> {
        if self.training.load(Ordering::Acquire) {
            return Err(SessionError::TrainingOnChange);
        }
        self.lock().await.move_to(compute.clone()).await?;
        *self.compute.lock().expect("not poisoned") = compute;
        Ok(())
    }

    /// The device was lost (`message` says why): once the call holding the session lets go, the
    /// session goes on on the CPU (see [`Session::fail_over`]), even in the middle of a run, and
    /// tells the listener. `None` when the session's device cannot be lost.
    pub async fn device_lost(&self, message: &str) -> Result<Option<DeviceLost>, SessionError> {
        let mut session = self.lock().await;
        let lost = session.fail_over(message)?;
        if let Some(lost) = &lost {
            *self.compute.lock().expect("not poisoned") = session.compute.clone();
            drop(session);
            (self.on_device_lost)(lost);
        }
        Ok(lost)
    }

    /// Runs a training run from `start` to its end, telling `hooks` of each step and epoch and
    /// holding the session only during a step, an evaluation or a read. Resolves to where the
    /// run got; stops with the caller's reason when it aborts, or with a callback's error.
    pub async fn train<H: RunHooks>(
        &self,
        start: Start,
        options: RunOptions,
        hooks: &H,
    ) -> Result<Position, H::Error> {
        let _training = Training::begin(&self.training)?;
        self.lock().await.start(start, options.limit)?;
        let end = self.steps(options, hooks).await;
        // What a device lost from now on goes back to (a device lost already has its copy).
        let _ = self.lock().await.copy_run().await;
        end
    }

    /// Fine-tunes the model on the examples (see [`crate::finetune`]), telling `hooks` of each
    /// step and holding the session only to start and to finish: predictions go on meanwhile,
    /// with the model as it was. The result becomes the model in use; an abort leaves the model
    /// as it was. No run trains meanwhile.
    pub async fn fine_tune<H: RunHooks>(
        &self,
        config: FineTuneConfig,
        hooks: &H,
    ) -> Result<FineTuneReport, H::Error> {
        let _training = Training::begin(&self.training)?;
        let (mut tuner, base) = self.lock().await.fine_tuner(config).await?;
        let mut report = FineTuneReport {
            steps: 0,
            examples: tuner.examples(),
            loss: None,
        };
        loop {
            if let Some(reason) = hooks.aborted() {
                return Err(reason);
            }
            let step = tuner.step().await.map_err(SessionError::from)?;
            let Some(progress) = step else {
                break;
            };
            report.steps = progress.step;
            report.loss = progress.loss.or(report.loss);
            until_aborted(hooks, hooks.on_fine_tune_step(&progress)).await?;
            hooks.yield_now().await?;
        }
        let tuned = tuner.finish().await.map_err(SessionError::from)?;
        self.lock().await.fine_tuned(tuned, base)?;
        Ok(report)
    }

    /// The steps of the run started, as [`SharedSession::train`] takes them.
    async fn steps<H: RunHooks>(
        &self,
        options: RunOptions,
        hooks: &H,
    ) -> Result<Position, H::Error> {
        loop {
            if let Some(reason) = hooks.aborted() {
                return Err(reason);
            }
            let step = self.lock().await.step().await;
            let Some(step) = self.unless_lost(step, hooks).await? else {
                continue;
            };
            let Some(progress) = step else {
                break;
            };
            until_aborted(hooks, hooks.on_step(&progress)).await?;
            if progress.epoch_done && hooks.wants_epoch_reports() {
                let report = self
                    .lock()
                    .await
                    .epoch_report(&progress, options.evaluate_each_epoch)
                    .await;
                let Some(report) = self.unless_lost(report, hooks).await? else {
                    continue;
                };
                if let Some(reason) = hooks.aborted() {
                    return Err(reason);
                }
                until_aborted(hooks, hooks.on_epoch(&report)).await?;
            }
            hooks.yield_now().await?;
        }
        Ok(self.lock().await.position()?)
    }

    /// What a step or an evaluation of a run gave; `None` when it found the device lost, once
    /// the session goes on on the CPU.
    async fn unless_lost<T, H: RunHooks>(
        &self,
        result: Result<T, SessionError>,
        hooks: &H,
    ) -> Result<Option<T>, H::Error> {
        match result {
            Err(SessionError::DeviceLost(message)) => {
                // The browser's own report of the loss, which says why, comes first.
                hooks.yield_now().await?;
                self.device_lost(&message).await?;
                Ok(None)
            }
            result => Ok(Some(result?)),
        }
    }
}

/// `work`, or the abort's reason if the caller aborts first.
async fn until_aborted<H: RunHooks>(
    hooks: &H,
    work: impl Future<Output = Result<(), H::Error>>,
) -> Result<(), H::Error> {
    futures_lite::future::or(work, async { Err(hooks.abort().await) }).await
}

/// Marks a session as training until dropped.
struct Training<'a>(&'a AtomicBool);

impl<'a> Training<'a> {
    fn begin(flag: &'a AtomicBool) -> Result<Self, SessionError> {
        if flag.swap(true, Ordering::AcqRel) {
            return Err(SessionError::AlreadyTraining);
        }
        Ok(Self(flag))
    }
}

impl Drop for Training<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}
