//! The native trainer behind `lenet-train` (src/bin/lenet-train.rs): MNIST read from a folder,
//! a run trained to its end on one or several native devices, evaluated on the test set and
//! saved after every epoch, and stopped on request with its last step saved. The checkpoints
//! are the page's: either side resumes the other's.

use std::{
    fs, io,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use futures_lite::future::block_on;
use thiserror::Error;

use crate::{
    checkpoint::{Checkpoint, CheckpointError},
    data::{DatasetError, MnistDataset},
    device::DeviceError,
    inference::{InferenceError, evaluate},
    training::{Progress, Trainer, TrainingError},
};

/// The MNIST files in a data folder, as `make data` writes them (gzipped) and as they are
/// published: training images and labels, then test images and labels.
pub const MNIST_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// Why the native trainer stopped with an error.
#[derive(Debug, Error)]
pub enum NativeError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{}: {source}", path.display())]
    Dataset { path: PathBuf, source: DatasetError },
    #[error("{}: {source}", path.display())]
    Checkpoint {
        path: PathBuf,
        source: CheckpointError,
    },
    #[error("cannot save the run to {}: {source} (a file already there is unchanged)", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(transparent)]
    Training(#[from] TrainingError),
    #[error("evaluating on the test set failed: {0}")]
    Inference(#[from] InferenceError),
}

/// The two MNIST splits.
pub struct Mnist {
    pub train: Arc<MnistDataset>,
    pub test: Arc<MnistDataset>,
}

/// Reads the MNIST files from `dir`, each gzipped (`NAME.gz`) or not (`NAME`).
pub fn load_mnist(dir: &Path) -> Result<Mnist, NativeError> {
    let read = |name: &str| {
        let gzipped = dir.join(format!("{name}.gz"));
        let path = if gzipped.exists() {
            gzipped
        } else {
            dir.join(name)
        };
        fs::read(&path)
            .map(|bytes| (path.clone(), bytes))
            .map_err(|source| NativeError::Read { path, source })
    };
    let split = |images: &str, labels: &str| {
        let ((path, images), (_, labels)) = (read(images)?, read(labels)?);
        MnistDataset::from_files(&images, &labels)
            .map(Arc::new)
            .map_err(|source| NativeError::Dataset { path, source })
    };
    let [train_images, train_labels, test_images, test_labels] = MNIST_FILES;
    Ok(Mnist {
        train: split(train_images, train_labels)?,
        test: split(test_images, test_labels)?,
    })
}

/// Reads the checkpoint file at `path`.
pub fn read_checkpoint(path: &Path) -> Result<Checkpoint, NativeError> {
    let bytes = fs::read(path).map_err(|source| NativeError::Read {
        path: path.to_owned(),
        source,
    })?;
    Checkpoint::from_bytes(&bytes).map_err(|source| NativeError::Checkpoint {
        path: path.to_owned(),
        source,
    })
}

/// Writes `checkpoint` to `path` whole or not at all: into a file beside it first, then renamed
/// over it, so a full disk or a crash never leaves a half-written checkpoint in its place.
pub fn write_checkpoint(path: &Path, checkpoint: &Checkpoint) -> Result<(), NativeError> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    fs::write(&partial, checkpoint.to_bytes())
        .and_then(|()| fs::rename(&partial, path))
        .map_err(|source| {
            let _ = fs::remove_file(&partial);
            NativeError::Write {
                path: path.to_owned(),
                source,
            }
        })
}

/// What the trainer tells its caller as it goes.
pub enum Event<'a> {
    /// A step was taken.
    Step(&'a Progress),
    /// An epoch ended: the model's test accuracy (0-1), and the run was saved.
    Epoch { epoch: usize, accuracy: f64 },
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// Every epoch was trained; the test accuracy after the last (0-1).
    Finished { accuracy: f64 },
    /// Stopped on request after `step` steps, saved.
    Stopped { step: usize },
}

/// A run of the native trainer: the trainer, the test set it is evaluated on and where it is
/// saved.
pub struct NativeRun {
    pub trainer: Trainer,
    pub test: Arc<MnistDataset>,
    pub out: PathBuf,
}

impl NativeRun {
    /// Trains to the end, or until `stop` is set (checked between steps), telling `report` of
    /// each step and epoch. Evaluates on the test set and saves to `out` after every epoch,
    /// and saves the last step taken when stopped.
    pub fn run(
        &mut self,
        stop: &AtomicBool,
        mut report: impl FnMut(Event),
    ) -> Result<Outcome, NativeError> {
        let mut accuracy = None;
        while !self.trainer.is_done() {
            if stop.load(Ordering::Relaxed) {
                self.save()?;
                return Ok(Outcome::Stopped {
                    step: self.trainer.position().step,
                });
            }
            let Some(progress) = block_on(self.trainer.step())? else {
                break;
            };
            report(Event::Step(&progress));
            if progress.epoch_done {
                let evaluation = block_on(evaluate(self.trainer.model(), self.test.clone()))?;
                self.save()?;
                report(Event::Epoch {
                    epoch: progress.epoch,
                    accuracy: evaluation.accuracy(),
                });
                accuracy = Some(evaluation.accuracy());
            }
        }
        let accuracy = match accuracy {
            Some(accuracy) => accuracy,
            // A run resumed at its end: nothing trained, evaluated as it is.
            None => block_on(evaluate(self.trainer.model(), self.test.clone()))?.accuracy(),
        };
        Ok(Outcome::Finished { accuracy })
    }

    fn save(&self) -> Result<(), NativeError> {
        let checkpoint = block_on(self.trainer.checkpoint())?;
        write_checkpoint(&self.out, &checkpoint)
    }
}
