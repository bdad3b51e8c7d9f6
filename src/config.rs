//! The settings of a training run, their defaults and the checks that refuse settings that
//! cannot train.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{data::Augmentation, optimizer::OptimizerKind, schedule::Schedule};

/// More epochs than anyone would train LeNet-5 for (weeks of training in a browser); more would
/// only overflow step counts.
pub const MAX_EPOCHS: usize = 10_000;

/// Settings of a training run. Serialised in camelCase, every field optional (a missing one
/// takes its default), a misspelt one refused: JS options and checkpoint headers use this form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct TrainingConfig {
    /// Passes over the training set (1).
    pub epochs: usize,
    /// Images per step (64).
    pub batch_size: usize,
    /// The optimizer's step size, the peak of the schedule (0.004 for Adam, 0.01 for SGD).
    pub learning_rate: f64,
    /// How the step size moves over the run ("oneCycle").
    pub schedule: Schedule,
    /// "adam" (default) or "sgd" (momentum 0.9).
    pub optimizer: OptimizerKind,
    /// Distortions of the training images in the pipeline's map stage ("affine").
    pub augmentation: Augmentation,
    /// Seed of the initial weights, the shuffling and the augmentation (42).
    pub seed: u64,
    /// Steps between read-backs of the loss and accuracy (20; each read waits for the device).
    pub read_every: usize,
}

impl Default for TrainingConfig {
    /// One epoch of Adam on batches of 64, its step size on a one-cycle schedule peaking at
    /// 0.004, the images randomly rotated, scaled and shifted, seed 42: 98.8% test accuracy
    /// after that epoch (docs/performance.md).
    fn default() -> Self {
        Self::for_optimizer(OptimizerKind::Adam)
    }
}

/// Settings that cannot train.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid training settings: {0}")]
pub struct SettingsError(pub String);

impl TrainingConfig {
    /// The default settings with `optimizer` and the learning rate that suits it.
    pub fn for_optimizer(optimizer: OptimizerKind) -> Self {
        Self {
            epochs: 1,
            batch_size: 64,
            learning_rate: optimizer.learning_rate(),
            schedule: Schedule::OneCycle,
            optimizer,
            augmentation: Augmentation::Affine,
            seed: 42,
            read_every: 20,
        }
    }

    /// Refuses settings that cannot train, saying which and why.
    pub fn check(&self) -> Result<(), SettingsError> {
        let refuse = |why: String| Err(SettingsError(why));
        for (what, value) in [
            ("epochs", self.epochs),
            ("the batch size", self.batch_size),
            ("the read interval", self.read_every),
        ] {
            if value == 0 {
                return refuse(format!("{what} must be at least 1, not 0"));
            }
        }
        if self.epochs > MAX_EPOCHS {
            return refuse(format!("at most {MAX_EPOCHS} epochs, not {}", self.epochs));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_train_and_suit_the_optimizer() {
        assert_eq!(TrainingConfig::default().check(), Ok(()));
        let sgd = TrainingConfig::for_optimizer(OptimizerKind::Sgd);
        assert_eq!(
            (sgd.optimizer, sgd.learning_rate),
            (OptimizerKind::Sgd, 0.01)
        );
    }

    #[test]
    fn settings_are_read_strictly() {
        let config: TrainingConfig = serde_json::from_str(r#"{"epochs": 3}"#).unwrap();
        assert_eq!(config.epochs, 3);
        assert_eq!(config.batch_size, 64);
        let err = serde_json::from_str::<TrainingConfig>(r#"{"epoch": 3}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `epoch`"), "{err}");
    }
}
