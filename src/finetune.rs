//! Fine-tuning on the user's own examples ("teach it your handwriting"): a few seconds of
//! training from the model in use, on batches that mix the examples, augmented so that a few
//! drawings go a long way, with a replay of MNIST training images, at a constant learning rate;
//! then the weights go back halfway towards where they started. Replay and the step back keep
//! what the model knew of MNIST. How the defaults were chosen, and what they give, is in
//! docs/performance.md.

use std::sync::Arc;

use burn::{
    module::{Module, ModuleMapper, Param},
    tensor::Tensor,
};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};

use crate::{
    checkpoint::{CheckpointError, Weights},
    config::SettingsError,
    data::{Augmentation, Batch, Examples, MnistDataset, normalize, pipeline::mix},
    model::LeNet5,
    optimizer::{Optimizer, OptimizerKind},
    training::{Shard, StepMetrics, TrainingError, Window},
};

/// More steps than fine-tuning is for (minutes of training: train a run instead).
pub const MAX_FINE_TUNE_STEPS: usize = 10_000;

/// Steps between read-backs of the loss (and at the last step).
const READ_EVERY: usize = 10;

/// How fine-tuning trains. Serialised in camelCase, every field optional (a missing one takes
/// its default), a misspelt one refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct FineTuneConfig {
    /// Training steps (60).
    pub steps: usize,
    /// Images per step (64).
    pub batch_size: usize,
    /// How many of each step's images are the user's examples, drawn at random and augmented
    /// (32); the rest are MNIST training images, a replay that keeps what the model knows.
    pub examples_per_batch: usize,
    /// Adam's step size, constant (0.002: half a training run's peak).
    pub learning_rate: f64,
    /// How much of the change fine-tuning made to the weights is kept (0.5: the weights halfway
    /// between before and after, which keeps more of what the model knew, as weight-space
    /// ensembles do in Wortsman et al., "Robust fine-tuning of zero-shot models", CVPR 2022;
    /// 1: all of it).
    pub keep: f64,
    /// Seed of the draws and the augmentation (42).
    pub seed: u64,
}

impl Default for FineTuneConfig {
    fn default() -> Self {
        Self {
            steps: 60,
            batch_size: 64,
            examples_per_batch: 32,
            learning_rate: 0.002,
            keep: 0.5,
            seed: 42,
        }
    }
}

impl FineTuneConfig {
    /// Refuses settings that cannot fine-tune, saying which and why.
    pub fn check(&self) -> Result<(), SettingsError> {
        let refuse = |why: String| Err(SettingsError(why));
        if !(1..=MAX_FINE_TUNE_STEPS).contains(&self.steps) {
            return refuse(format!(
                "fine-tuning takes 1 to {MAX_FINE_TUNE_STEPS} steps, not {}",
                self.steps
            ));
        }
        if !(1..=self.batch_size).contains(&self.examples_per_batch) {
            return refuse(format!(
                "examplesPerBatch must be 1 to the batch size ({}), not {}",
                self.batch_size, self.examples_per_batch
            ));
        }
        if !(self.keep > 0.0 && self.keep <= 1.0) {
            return refuse(format!(
                "keep is more than 0 and at most 1, not {}",
                self.keep
            ));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return refuse(format!(
                "the learning rate must be a positive number, not {}",
                self.learning_rate
            ));
        }
        Ok(())
    }
}

/// Where fine-tuning stands after a step (camelCase fields when serialised for JS).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct FineTuneProgress {
    /// Steps done, from 1.
    pub step: usize,
    pub steps: usize,
    /// Mean loss per image (examples and replay) since the last read-back, every 10 steps
    /// and at the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
}

/// A model fine-tuned on the user's examples, for inference, and its weights in memory.
pub struct FineTuned {
    pub model: LeNet5,
    pub weights: Weights,
}

/// Fine-tuning under way, taken one [`FineTuner::step`] at a time.
pub struct FineTuner {
    /// Always `Some` between steps.
    model: Option<LeNet5>,
    optimizer: Optimizer,
    /// The weights it started from.
    base: Weights,
    /// The session's device, and the same with autodiff, where it trains.
    plain: burn::tensor::Device,
    device: burn::tensor::Device,
    examples: MnistDataset,
    replay: Arc<MnistDataset>,
    config: FineTuneConfig,
    step: usize,
    window: Window,
}

impl FineTuner {
    /// Fine-tuning of the model with weights `base`, on `device`, on `examples` mixed with
    /// images of `replay` (the MNIST training set). Fails when there are no examples or the
    /// settings cannot train.
    pub fn new(
        device: &burn::tensor::Device,
        base: &Weights,
        examples: &Examples,
        replay: Arc<MnistDataset>,
        config: FineTuneConfig,
    ) -> Result<Self, TrainingError> {
        config.check()?;
        let examples = examples.dataset().ok_or_else(|| {
            SettingsError("add examples of your own before fine-tuning".to_owned())
        })?;
        let plain = device.clone();
        let device = device.clone().autodiff();
        Ok(Self {
            model: Some(base.model(&device)?),
            // Started afresh: the run's state is tuned to the run's own steps.
            optimizer: Optimizer::new(OptimizerKind::Adam),
            base: base.clone(),
            plain,
            device,
            examples,
            replay,
            config,
            step: 0,
            window: Window::default(),
        })
    }

    /// How many of the user's examples it learns from.
    pub fn examples(&self) -> usize {
        self.examples.len()
    }

    /// The images of step `step`: `examples_per_batch` of the user's, then MNIST's, each drawn
    /// at random and augmented, from a generator seeded by the seed and the step.
    fn batch(&self, step: usize) -> Batch {
        let mut rng = StdRng::seed_from_u64(mix(self.config.seed, step as u64));
        let size = self.config.batch_size;
        let mut images = Vec::with_capacity(size * crate::data::IMAGE_PIXELS);
        let mut labels = Vec::with_capacity(size);
        for i in 0..size {
            let set = if i < self.config.examples_per_batch {
                &self.examples
            } else {
                &*self.replay
            };
            let pick = rng.random_range(0..set.len());
            let image = Augmentation::Affine.apply(set.image(pick), &mut rng);
            images.extend(image.iter().map(|&g| normalize(g)));
            labels.push(i64::from(set.label(pick)));
        }
        Batch {
            images,
            labels,
            epoch: 0,
            index: step,
        }
    }

    /// Takes one step, or returns `None` when every step is taken. A loss that is not a
    /// number, infinite or far too high stops fine-tuning with [`TrainingError::Diverged`]
    /// (the model it started from stays in use).
    pub async fn step(&mut self) -> Result<Option<FineTuneProgress>, TrainingError> {
        if self.step == self.config.steps {
            return Ok(None);
        }
        let batch = self.batch(self.step);
        let n = batch.len();
        let model = self
            .model
            .take()
            .expect("the model is present between steps");
        let shard = Shard::learn(model.clone(), batch, &self.device, n);
        self.window.add(shard.loss_sum, shard.correct, n);
        self.model = Some(
            self.optimizer
                .step(self.config.learning_rate, model, shard.grads),
        );
        self.step += 1;
        let loss = if self.step.is_multiple_of(READ_EVERY) || self.step == self.config.steps {
            let metrics = self.window.read().await?;
            if let Some(m) = metrics.filter(StepMetrics::diverged) {
                return Err(TrainingError::Diverged {
                    step: self.step,
                    loss: m.loss,
                    restored: 0,
                });
            }
            metrics.map(|m| m.loss)
        } else {
            None
        };
        Ok(Some(FineTuneProgress {
            step: self.step,
            steps: self.config.steps,
            loss,
        }))
    }

    /// The fine-tuned model, once every step is taken, with its weights read back.
    pub async fn finish(self) -> Result<FineTuned, CheckpointError> {
        let model = self
            .model
            .expect("the model is present between steps")
            .valid();
        let model = if self.config.keep < 1.0 {
            let base = self.base.model(&self.plain)?;
            between(&base, model, self.config.keep)
        } else {
            model
        };
        let weights = Weights::of(&model).await?;
        Ok(FineTuned { model, weights })
    }
}

/// The weights `keep` of the way from `base` to `tuned` (0: base; 1: tuned), parameter by
/// parameter.
fn between(base: &LeNet5, tuned: LeNet5, keep: f64) -> LeNet5 {
    /// Moves each parameter, in the same order, back towards the base's.
    struct Blend {
        base: std::vec::IntoIter<Tensor<1>>,
        keep: f64,
    }
    impl ModuleMapper for Blend {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let base = self.base.next().expect("the same parameters");
            let keep = self.keep;
            param.map(|tuned| {
                let shape = tuned.shape();
                let base = base.reshape(shape);
                base.clone() + (tuned - base).mul_scalar(keep)
            })
        }
    }
    tuned.map(&mut Blend {
        base: base.parameters().into_iter(),
        keep,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_settings_that_cannot_fine_tune() {
        assert_eq!(FineTuneConfig::default().check(), Ok(()));
        for bad in [
            FineTuneConfig {
                steps: 0,
                ..Default::default()
            },
            FineTuneConfig {
                examples_per_batch: 65,
                ..Default::default()
            },
            FineTuneConfig {
                learning_rate: f64::NAN,
                ..Default::default()
            },
            FineTuneConfig {
                keep: 0.0,
                ..Default::default()
            },
            FineTuneConfig {
                keep: 1.5,
                ..Default::default()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
        let err = serde_json::from_str::<FineTuneConfig>(r#"{"step": 3}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `step`"), "{err}");
    }

    /// Every parameter of `model`, flattened, in visiting order.
    fn flat(model: &LeNet5) -> Vec<f32> {
        Tensor::cat(model.parameters(), 0)
            .into_data()
            .iter::<f32>()
            .collect()
    }

    #[test]
    fn keeps_the_share_of_the_change_asked_for() {
        let device = burn::tensor::Device::flex();
        let base = crate::model::LeNet5Config::new().init(&device, 1);
        let tuned = crate::model::LeNet5Config::new().init(&device, 2);
        let (a, b) = (flat(&base), flat(&tuned));
        let quarter = flat(&between(&base, tuned, 0.25));
        assert_eq!(quarter.len(), a.len());
        for ((a, b), q) in a.iter().zip(&b).zip(&quarter) {
            assert!((a + 0.25 * (b - a) - q).abs() < 1e-6);
        }
    }
}
