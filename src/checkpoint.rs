//! Checkpoints (the MindSpore tutorial's ModelCheckpoint): a training run saved as bytes (for
//! IndexedDB or a downloaded file) and read back, refusing anything that is not a checkpoint of
//! this model before it can touch the model in use.
//!
//! The file is, in order (integers little-endian):
//!
//! | bytes | content |
//! |---|---|
//! | 8 | the magic `LeNet5ck` |
//! | 4 | format version (2) |
//! | 4 + n | length and JSON of the architecture (the [`LeNet5Config`] of the weights) |
//! | 4 + n | length and JSON of the [`TrainingState`] (settings and position in the run) |
//! | 4 + n | length and burnpack bytes of the weights |
//! | 4 + n | length and bytes of the optimizer's state (see `Optimizer::to_bytes`; 0: none yet) |
//! | 4 + n | length and bytes of the user's examples (see `Examples::to_bytes`; 0: none) |
//! | 4 + n | length and burnpack bytes of the fine-tuned weights (0: not fine-tuned) |
//! | 4 | CRC-32 of everything before it |
//!
//! The weights are the run's own; fine-tuning on the examples (see [`crate::finetune`]) leaves
//! them as they are, so a run resumed from the file goes on from them, and undoing the
//! fine-tuning goes back to them. Version 2 files have no examples and fine-tuned weights, and
//! version 1 files no architecture section either (they hold LeNet-5 with its standard layer
//! sizes, the only model they were written for); both are still read.

use burn::{
    module::{Module, ModuleMapper, Param},
    store::{BurnpackStore, ModuleSnapshot},
    tensor::{Bytes, Device, ExecutionError, Tensor, TensorData},
};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{
    config::TrainingConfig,
    data::Examples,
    model::{LeNet5, LeNet5Config},
    optimizer::{Optimizer, StateMismatch},
};

/// The first bytes of every checkpoint file.
pub const MAGIC: &[u8; 8] = b"LeNet5ck";
/// The format version written; every version from 1 to it is read.
pub const VERSION: u32 = 3;

/// Why bytes could not be read as a checkpoint, or a checkpoint not be made.
#[derive(Debug, Error)]
pub enum CheckpointError {
    #[error("this is not a LeNet-5 checkpoint file")]
    NotACheckpoint,
    #[error(
        "this checkpoint has format version {0}, made by a newer version of the trainer; this one reads versions 1 to {VERSION}"
    )]
    Version(u32),
    #[error("the checkpoint file is damaged: {0}")]
    Damaged(String),
    #[error("the checkpoint does not fit this model: {0}")]
    Mismatch(String),
    #[error("saving the checkpoint failed: {0}")]
    Save(String),
}

impl From<StateMismatch> for CheckpointError {
    fn from(e: StateMismatch) -> Self {
        CheckpointError::Mismatch(e.to_string())
    }
}

impl From<ExecutionError> for CheckpointError {
    fn from(e: ExecutionError) -> Self {
        CheckpointError::Save(format!("reading the weights back failed: {e}"))
    }
}

/// Where a run stands: its settings and how far it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct TrainingState {
    pub config: TrainingConfig,
    /// Steps done, over all epochs.
    pub step: usize,
    pub steps_per_epoch: usize,
    /// Images in the training set the run used.
    pub training_images: usize,
}

impl TrainingState {
    /// Whole epochs done.
    pub fn epochs_done(&self) -> usize {
        self.step / self.steps_per_epoch.max(1)
    }

    /// Steps of the whole run.
    pub fn total_steps(&self) -> usize {
        self.steps_per_epoch.saturating_mul(self.config.epochs)
    }

    /// True when every epoch of the run is done.
    pub fn is_finished(&self) -> bool {
        self.step >= self.total_steps()
    }

    /// True when the steps per epoch are those of the training set in batches of the run's
    /// size, and the step lies within the run.
    fn adds_up(&self) -> bool {
        let batch_size = self.config.batch_size;
        batch_size > 0
            && self.steps_per_epoch == self.training_images.div_ceil(batch_size)
            && self
                .steps_per_epoch
                .checked_mul(self.config.epochs)
                .is_some_and(|total| self.step <= total)
    }
}

/// A saved run as a person or a page sees it: its settings, how far it got, and whether it can go
/// on exactly (camelCase fields when serialised for JS).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct CheckpointInfo {
    #[serde(flatten)]
    pub state: TrainingState,
    /// Steps of the whole run (`stepsPerEpoch` x `config.epochs`).
    pub total_steps: usize,
    /// Whole epochs done.
    pub epochs_done: usize,
    /// True when every epoch of the run is done.
    pub finished: bool,
    /// True when the optimizer's state was saved, so a resumed run goes on exactly.
    pub has_optimizer: bool,
    /// How many of the user's own examples it holds.
    pub examples: usize,
    /// True when it holds weights fine-tuned on those examples, the model it answers with.
    pub fine_tuned: bool,
}

/// A model's weights as burnpack bytes, read back from its device: kept in memory, they make
/// the model again on any device, a lost one's replacement included.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights(Vec<u8>);

impl Weights {
    /// The weights of `model`, read back from its device asynchronously.
    pub async fn of(model: &LeNet5) -> Result<Self, CheckpointError> {
        let mut store = BurnpackStore::from_bytes(None);
        host_copy(model)
            .await?
            .save_into(&mut store)
            .map_err(|e| CheckpointError::Save(e.to_string()))?;
        let bytes = store
            .get_bytes()
            .map_err(|e| CheckpointError::Save(e.to_string()))?;
        Ok(Self(bytes.to_vec()))
    }

    /// LeNet-5 on `device` with these weights (and their parameter ids, which an optimizer's
    /// state refers to). Fails, without touching any model in use, when they do not fit LeNet-5.
    pub fn model(&self, device: &Device) -> Result<LeNet5, CheckpointError> {
        // The initial weights are overwritten; the seed only keeps others' draws apart.
        let mut model = LeNet5Config::new().init(device, 0);
        let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(self.0.clone())));
        model
            .load_from(&mut store)
            .map_err(|e| CheckpointError::Mismatch(e.to_string()))?;
        Ok(model)
    }
}

/// A saved training run: where it stands, the weights and the optimizer's state, and the user's
/// examples with the weights fine-tuned on them.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub state: TrainingState,
    /// The layer sizes of the saved weights.
    architecture: LeNet5Config,
    /// The run's weights.
    weights: Weights,
    optimizer: Vec<u8>,
    /// The user's own examples.
    pub examples: Examples,
    /// The run's weights fine-tuned on the examples, when they were.
    pub fine_tuned: Option<Weights>,
}

impl Checkpoint {
    /// Saves `model` (read back from its device asynchronously) with the optimizer's state (from
    /// `Optimizer::to_bytes`) and `state`.
    pub async fn save(
        model: &LeNet5,
        optimizer: Vec<u8>,
        state: TrainingState,
    ) -> Result<Self, CheckpointError> {
        Ok(Self {
            state,
            architecture: model.config(),
            weights: Weights::of(model).await?,
            optimizer,
            examples: Examples::default(),
            fine_tuned: None,
        })
    }

    /// The run's own weights (not fine-tuned).
    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    /// The checkpoint without the optimizer's state: the model to ship once trained (smaller; a
    /// run resumed from it starts its optimizer afresh).
    pub fn without_optimizer(mut self) -> Self {
        self.optimizer.clear();
        self
    }

    /// True when the optimizer's state was saved (it is, once the run has taken a step).
    pub fn has_optimizer(&self) -> bool {
        !self.optimizer.is_empty()
    }

    /// The checkpoint as one file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let architecture =
            serde_json::to_vec(&self.architecture).expect("the architecture serialises");
        let state = serde_json::to_vec(&self.state).expect("the training state serialises");
        let examples = self.examples.to_bytes();
        let fine_tuned = self.fine_tuned.as_ref().map_or(&[][..], |w| &w.0);
        let sections = [
            &architecture[..],
            &state,
            &self.weights.0,
            &self.optimizer,
            &examples,
            fine_tuned,
        ];
        let mut out = Vec::with_capacity(16 + sections.iter().map(|s| 4 + s.len()).sum::<usize>());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        for section in sections {
            out.extend_from_slice(&(section.len() as u32).to_le_bytes());
            out.extend_from_slice(section);
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Reads a file written by [`Checkpoint::to_bytes`], checking its magic, version, lengths,
    /// checksum, architecture and state. The weights are checked against the model by
    /// [`Checkpoint::model`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CheckpointError> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(CheckpointError::NotACheckpoint);
        }
        let damaged = |what: &str| CheckpointError::Damaged(what.to_owned());
        let (body, crc) = bytes
            .split_last_chunk::<4>()
            .filter(|(body, _)| body.len() >= MAGIC.len() + 4)
            .ok_or_else(|| damaged("it is cut short"))?;
        let mut rest = &body[MAGIC.len()..];
        let version = take_u32(&mut rest).ok_or_else(|| damaged("it has no version"))?;
        if version == 0 {
            return Err(damaged("it has format version 0, which does not exist"));
        }
        if version > VERSION {
            return Err(CheckpointError::Version(version));
        }
        if crc32fast::hash(body) != u32::from_le_bytes(*crc) {
            return Err(damaged(
                "its checksum does not match (the file was changed or cut short)",
            ));
        }
        let mut section = || -> Result<&[u8], CheckpointError> {
            let len = take_u32(&mut rest).ok_or_else(|| damaged("a section is cut short"))?;
            take(&mut rest, len as usize).ok_or_else(|| damaged("a section is cut short"))
        };
        let architecture = if version == 1 {
            LeNet5Config::new()
        } else {
            serde_json::from_slice(section()?).map_err(|e| {
                CheckpointError::Damaged(format!("its architecture is unreadable: {e}"))
            })?
        };
        if architecture != LeNet5Config::new() {
            return Err(CheckpointError::Mismatch(format!(
                "it holds {}; this trainer's model is {}",
                architecture.describe(),
                LeNet5Config::new().describe()
            )));
        }
        let state: TrainingState = serde_json::from_slice(section()?).map_err(|e| {
            CheckpointError::Damaged(format!("its training state is unreadable: {e}"))
        })?;
        let weights = Weights(section()?.to_vec());
        let optimizer = section()?.to_vec();
        let (examples, fine_tuned) = if version < 3 {
            (Examples::default(), None)
        } else {
            let examples = Examples::from_bytes(section()?)
                .map_err(|e| CheckpointError::Damaged(e.to_string()))?;
            let fine_tuned = section()?;
            (
                examples,
                (!fine_tuned.is_empty()).then(|| Weights(fine_tuned.to_vec())),
            )
        };
        if !rest.is_empty() {
            return Err(damaged("it has bytes after its last section"));
        }
        if state.steps_per_epoch == 0 || state.training_images == 0 {
            return Err(damaged("its training state is empty"));
        }
        if !state.adds_up() {
            return Err(damaged(
                "its position in the run does not fit its settings and training set",
            ));
        }
        Ok(Self {
            state,
            architecture,
            weights,
            optimizer,
            examples,
            fine_tuned,
        })
    }

    /// LeNet-5 on `device` with the run's saved weights (see [`Weights::model`]).
    pub fn model(&self, device: &Device) -> Result<LeNet5, CheckpointError> {
        self.weights.model(device)
    }

    /// The run's optimizer with its saved state, for `model` (loaded by [`Checkpoint::model`]),
    /// placed on `device` (the run's device, without autodiff).
    pub fn optimizer(&self, model: &LeNet5, device: &Device) -> Result<Optimizer, CheckpointError> {
        Ok(Optimizer::from_bytes(
            self.state.config.optimizer,
            &self.optimizer,
            model,
            device,
        )?)
    }

    /// What the saved run is: its settings and how far it got.
    pub fn info(&self) -> CheckpointInfo {
        CheckpointInfo {
            state: self.state.clone(),
            total_steps: self.state.total_steps(),
            epochs_done: self.state.epochs_done(),
            finished: self.state.is_finished(),
            has_optimizer: self.has_optimizer(),
            examples: self.examples.len(),
            fine_tuned: self.fine_tuned.is_some(),
        }
    }
}

/// The next `n` bytes of `rest`, or `None` when fewer are left.
fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if rest.len() < n {
        return None;
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Some(head)
}

/// The next little-endian `u32` of `rest`.
fn take_u32(rest: &mut &[u8]) -> Option<u32> {
    take(rest, 4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
}

/// A copy of `model` on the CPU backend with the same parameter ids, read back from the model's
/// device in one asynchronous read (WebGPU in a browser allows no other kind).
async fn host_copy(model: &LeNet5) -> Result<LeNet5, CheckpointError> {
    /// Replaces each parameter, in the same order, with its values on the CPU.
    struct Place<'a> {
        values: &'a [f32],
        device: Device,
    }
    impl ModuleMapper for Place<'_> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let device = self.device.clone();
            let values = &mut self.values;
            param.map(|tensor| {
                let shape = tensor.shape();
                let (mine, rest) = values.split_at(shape.num_elements());
                *values = rest;
                Tensor::from_data(TensorData::new(mine.to_vec(), shape), &device)
            })
        }
    }

    let model = model.valid();
    let data = Tensor::cat(model.parameters(), 0).into_data_async().await?;
    let values = data
        .try_to_vec::<f32>()
        .map_err(|e| CheckpointError::Save(format!("the weights are not 32-bit floats: {e:?}")))?;
    Ok(model.map(&mut Place {
        values: &values,
        device: Device::flex(),
    }))
}

// Natively only: the tests block on the async save, which a browser cannot do.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn state() -> TrainingState {
        TrainingState {
            config: TrainingConfig {
                epochs: 3,
                ..TrainingConfig::default()
            },
            step: 10,
            steps_per_epoch: 4,
            training_images: 256,
        }
    }

    fn saved() -> Checkpoint {
        let model = LeNet5Config::new().init(&Device::flex(), 0);
        futures_lite::future::block_on(Checkpoint::save(&model, Vec::new(), state())).unwrap()
    }

    #[test]
    fn round_trips_through_bytes() {
        let checkpoint = saved();
        let bytes = checkpoint.to_bytes();
        let back = Checkpoint::from_bytes(&bytes).unwrap();
        assert_eq!(back.state, state());
        assert_eq!(back.weights, checkpoint.weights);
        assert_eq!(back.architecture, LeNet5Config::new());
        assert!(!back.has_optimizer());
        assert_eq!(back.state.epochs_done(), 2);
    }

    /// `bytes` with `edit` applied after the version, and a fresh checksum: a file as a
    /// trainer would have written it.
    fn rewritten(bytes: &[u8], version: u32, edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut body = bytes[MAGIC.len() + 4..bytes.len() - 4].to_vec();
        edit(&mut body);
        let mut out = [&MAGIC[..], &version.to_le_bytes(), &body].concat();
        out.extend_from_slice(&crc32fast::hash(&out).to_le_bytes());
        out
    }

    #[test]
    fn refuses_other_files_and_damage() {
        let bytes = saved().to_bytes();
        assert!(matches!(
            Checkpoint::from_bytes(b"PK\x03\x04 a zip file"),
            Err(CheckpointError::NotACheckpoint)
        ));
        assert!(matches!(
            Checkpoint::from_bytes(&[]),
            Err(CheckpointError::NotACheckpoint)
        ));
        let mut flipped = bytes.clone();
        flipped[bytes.len() / 2] ^= 0x40;
        assert!(matches!(
            Checkpoint::from_bytes(&flipped),
            Err(CheckpointError::Damaged(_))
        ));
        let zero = rewritten(&bytes, 0, |_| {});
        assert!(matches!(
            Checkpoint::from_bytes(&zero),
            Err(CheckpointError::Damaged(_))
        ));
    }

    #[test]
    fn refuses_every_truncation() {
        let bytes = saved().to_bytes();
        // Every cut inside the header and the sections' lengths, then every 997th byte.
        for len in (0..64).chain((64..bytes.len()).step_by(997)) {
            let err = Checkpoint::from_bytes(&bytes[..len]).unwrap_err();
            assert!(
                matches!(
                    err,
                    CheckpointError::Damaged(_) | CheckpointError::NotACheckpoint
                ),
                "{len} bytes: {err}"
            );
        }
    }

    #[test]
    fn refuses_random_bytes() {
        use rand::{Rng, SeedableRng, rngs::StdRng};
        let mut rng = StdRng::seed_from_u64(6);
        for round in 0..2000 {
            let mut bytes = vec![0u8; rng.random_range(0..2048)];
            rng.fill(&mut bytes[..]);
            if round % 2 == 0 && bytes.len() >= 12 {
                // Behind a good magic and version, with a checksum that fits every other time.
                bytes[..8].copy_from_slice(MAGIC);
                bytes[8..12].copy_from_slice(&VERSION.to_le_bytes());
                if round % 4 == 0 && bytes.len() >= 16 {
                    bytes = rewritten(&bytes[..bytes.len()], VERSION, |_| {});
                }
            }
            if let Ok(checkpoint) = Checkpoint::from_bytes(&bytes) {
                assert!(checkpoint.model(&Device::flex()).is_err(), "round {round}");
            }
        }
    }

    #[test]
    fn refuses_a_position_that_does_not_add_up() {
        // Found by `make fuzz`: epochs x steps per epoch overflowed.
        let huge = TrainingState {
            config: TrainingConfig {
                epochs: 1 << 32,
                ..TrainingConfig::default()
            },
            step: 0,
            steps_per_epoch: 1 << 32,
            training_images: 1,
        };
        let past_the_end = TrainingState {
            step: 13,
            ..state()
        };
        let other_batches = TrainingState {
            steps_per_epoch: 5,
            ..state()
        };
        for state in [huge, past_the_end, other_batches] {
            let mut checkpoint = saved();
            checkpoint.state = state.clone();
            let err = Checkpoint::from_bytes(&checkpoint.to_bytes()).unwrap_err();
            assert!(
                matches!(err, CheckpointError::Damaged(_)),
                "{state:?}: {err}"
            );
        }
    }

    #[test]
    fn refuses_a_newer_format_version() {
        let newer = rewritten(&saved().to_bytes(), VERSION + 1, |_| {});
        let err = Checkpoint::from_bytes(&newer).unwrap_err();
        assert!(
            matches!(err, CheckpointError::Version(v) if v == VERSION + 1),
            "{err}"
        );
        assert!(
            err.to_string().contains("newer version of the trainer"),
            "{err}"
        );
    }

    /// A version 2 file: the sections of `checkpoint` (with no examples and not fine-tuned)
    /// but the last two, empty.
    fn version_2(checkpoint: &Checkpoint) -> Vec<u8> {
        assert!(checkpoint.examples.is_empty() && checkpoint.fine_tuned.is_none());
        rewritten(&checkpoint.to_bytes(), 2, |body| {
            body.truncate(body.len() - 8)
        })
    }

    #[test]
    fn reads_version_1_and_2_files() {
        let checkpoint = saved();
        let v2 = version_2(&checkpoint);
        // Version 1: version 2's sections without the architecture.
        let v1 = rewritten(&v2, 1, |body| {
            let len = u32::from_le_bytes(body[..4].try_into().unwrap()) as usize;
            body.drain(..4 + len);
        });
        for old in [v1, v2] {
            let back = Checkpoint::from_bytes(&old).unwrap();
            assert_eq!(back.state, state());
            assert_eq!(back.architecture, LeNet5Config::new());
            assert!(back.model(&Device::flex()).is_ok());
            assert!(back.examples.is_empty() && back.fine_tuned.is_none());
        }
    }

    #[test]
    fn keeps_the_examples_and_the_fine_tuned_weights() {
        let mut checkpoint = saved();
        checkpoint
            .examples
            .add(
                crate::data::GreyLevels::Bytes(vec![7; 2 * crate::data::IMAGE_PIXELS]),
                &[1.0, 7.0],
            )
            .unwrap();
        let tuned = LeNet5Config::new().init(&Device::flex(), 5);
        checkpoint.fine_tuned = Some(futures_lite::future::block_on(Weights::of(&tuned)).unwrap());
        let back = Checkpoint::from_bytes(&checkpoint.to_bytes()).unwrap();
        assert_eq!(back.examples, checkpoint.examples);
        assert_eq!(back.fine_tuned, checkpoint.fine_tuned);
        let info = back.info();
        assert_eq!((info.examples, info.fine_tuned), (2, true));
        assert!(back.fine_tuned.unwrap().model(&Device::flex()).is_ok());
        // A weights-only copy keeps both.
        let shipped = checkpoint.clone().without_optimizer();
        assert_eq!(shipped.examples.len(), 2);
    }

    #[test]
    fn refuses_another_architecture() {
        let other = LeNet5Config::new()
            .with_fc1_units(100)
            .init(&Device::flex(), 0);
        let checkpoint =
            futures_lite::future::block_on(Checkpoint::save(&other, Vec::new(), state())).unwrap();
        let err = Checkpoint::from_bytes(&checkpoint.to_bytes()).unwrap_err();
        assert!(matches!(err, CheckpointError::Mismatch(_)), "{err}");
        assert!(err.to_string().contains("100, 84 and 10 units"), "{err}");
    }

    #[test]
    fn refuses_weights_that_do_not_fit_their_architecture() {
        let other = LeNet5Config::new()
            .with_fc1_units(100)
            .init(&Device::flex(), 0);
        let mut checkpoint =
            futures_lite::future::block_on(Checkpoint::save(&other, Vec::new(), state())).unwrap();
        checkpoint.architecture = LeNet5Config::new();
        let back = Checkpoint::from_bytes(&checkpoint.to_bytes()).unwrap();
        let err = back.model(&Device::flex()).unwrap_err();
        assert!(matches!(err, CheckpointError::Mismatch(_)), "{err}");
    }
}
