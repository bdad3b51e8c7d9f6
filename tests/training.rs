//! LeNet-5 learns MNIST on the CPU backend, natively: the loss falls within a few hundred steps
//! with either optimizer and with augmentation, one epoch with the default settings reaches at
//! least 98.5% test accuracy, and a run resumed from a checkpoint goes on exactly as the
//! uninterrupted run.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::{collections::HashMap, sync::Arc};

use futures_lite::future::block_on;
use lenet_web::{
    checkpoint::Checkpoint,
    data::{Augmentation, MnistDataset},
    device::ComputeDevice,
    inference::{evaluate, predict},
    schedule::Schedule,
    training::{OptimizerKind, Trainer, TrainingConfig, TrainingError},
};

/// The losses read back over `steps` steps of `trainer`.
fn losses(trainer: &mut Trainer, steps: usize) -> Vec<f64> {
    (0..steps)
        .filter_map(|_| {
            let progress = block_on(trainer.step()).unwrap().expect("a step is left");
            progress.metrics.map(|m| m.loss)
        })
        .collect()
}

/// Trains 300 steps with `config` and checks the loss fell by half, to below `below`.
fn learns(config: TrainingConfig, below: f64) {
    let device = ComputeDevice::cpu().device;
    let config = TrainingConfig {
        read_every: 50,
        ..config
    };
    let mut trainer = Trainer::new(&device, common::train_set(), config.clone()).unwrap();
    let losses = losses(&mut trainer, 300);
    assert_eq!(losses.len(), 6);
    assert!(losses.iter().all(|l| l.is_finite()));
    let (first, last) = (losses[0], losses[5]);
    assert!(
        last < first * 0.5 && last < below,
        "{config:?}: loss went from {first} to {last}"
    );
}

#[test]
fn a_few_hundred_steps_of_adam_lower_the_loss() {
    learns(TrainingConfig::default(), 0.5);
}

#[test]
fn a_few_hundred_steps_of_sgd_with_momentum_lower_the_loss() {
    learns(
        TrainingConfig {
            optimizer: OptimizerKind::Sgd,
            learning_rate: 0.01,
            ..Default::default()
        },
        0.6,
    );
}

#[test]
fn training_on_distorted_digits_lowers_the_loss() {
    learns(
        TrainingConfig {
            augmentation: Augmentation::Elastic,
            ..Default::default()
        },
        0.7,
    );
}

#[test]
fn a_run_resumed_from_a_checkpoint_goes_on_as_the_uninterrupted_run() {
    let device = ComputeDevice::cpu().device;
    let train: Arc<MnistDataset> = Arc::new(common::train_set().take(640));
    let config = TrainingConfig {
        epochs: 3,
        augmentation: Augmentation::Affine,
        read_every: 5,
        ..Default::default()
    };
    let mut whole = Trainer::new(&device, train.clone(), config.clone()).unwrap();
    let whole_losses = losses(&mut whole, 30);

    let mut first = Trainer::new(&device, train.clone(), config).unwrap();
    // Stop mid-epoch, on a read-back (a checkpoint holds no unread loss).
    let first_losses = losses(&mut first, 15);
    assert_eq!(first_losses, whole_losses[..3]);
    let bytes = block_on(first.checkpoint()).unwrap().to_bytes();
    drop(first);

    let checkpoint = Checkpoint::from_bytes(&bytes).unwrap();
    assert!(checkpoint.has_optimizer());
    assert_eq!(
        (checkpoint.state.step, checkpoint.state.epochs_done()),
        (15, 1)
    );
    let mut resumed = Trainer::resume(&device, train, &checkpoint, None).unwrap();
    let resumed_losses = losses(&mut resumed, 15);
    assert_eq!(resumed_losses.len(), whole_losses.len() - 3);
    for (r, w) in resumed_losses.iter().zip(&whole_losses[3..]) {
        assert!((r - w).abs() <= 1e-5 * w.abs(), "resumed {r} vs {w}");
    }
    assert!(resumed.is_done());
}

#[test]
fn a_checkpoint_is_refused_for_another_training_set() {
    let device = ComputeDevice::cpu().device;
    let train = Arc::new(common::test_set().take(128));
    let trainer = Trainer::new(&device, train, TrainingConfig::default()).unwrap();
    let checkpoint = block_on(trainer.checkpoint()).unwrap();
    let other = Arc::new(common::test_set().take(256));
    let error = Trainer::resume(&device, other, &checkpoint, None)
        .err()
        .unwrap();
    assert!(error.to_string().contains("128 images"), "{error}");
}

#[test]
fn one_epoch_with_the_defaults_reaches_98_5_percent_test_accuracy() {
    let device = ComputeDevice::cpu().device;
    let mut trainer =
        Trainer::new(&device, common::train_set(), TrainingConfig::default()).unwrap();
    let mut epoch_ends = 0;
    while let Some(progress) = block_on(trainer.step()).unwrap() {
        if progress.epoch_done {
            epoch_ends += 1;
            assert!(
                progress.metrics.is_some(),
                "the end of an epoch reads the loss back"
            );
        }
    }
    assert!(trainer.is_done());
    assert_eq!(epoch_ends, 1);

    let test = common::test_set();
    let evaluation = block_on(evaluate(trainer.model(), test.clone())).unwrap();
    assert_eq!(evaluation.total, 10_000);
    println!(
        "test accuracy after one epoch: {:.4}",
        evaluation.accuracy()
    );
    assert!(
        evaluation.accuracy() >= 0.985,
        "accuracy {}",
        evaluation.accuracy()
    );

    // The trained model recognises the first test digit (a 7) from draw-pad style input.
    let image: Vec<f32> = test.image(0).iter().map(|&g| g as f32 / 255.0).collect();
    let probs = block_on(predict(trainer.model(), &image)).unwrap();
    let best = (0..10)
        .max_by(|&a, &b| probs[a].total_cmp(&probs[b]))
        .unwrap();
    assert_eq!(best, 7);
    assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-4);
}

#[test]
fn bad_settings_are_refused() {
    let device = ComputeDevice::cpu().device;
    for config in [
        TrainingConfig {
            batch_size: 0,
            ..Default::default()
        },
        TrainingConfig {
            learning_rate: f64::NAN,
            ..Default::default()
        },
        TrainingConfig {
            epochs: 0,
            ..Default::default()
        },
        TrainingConfig {
            epochs: usize::MAX,
            ..Default::default()
        },
    ] {
        assert!(Trainer::new(&device, common::test_set(), config).is_err());
    }
}

#[test]
fn a_diverging_run_stops_and_goes_back_to_its_last_good_weights() {
    let device = ComputeDevice::cpu().device;
    let train = Arc::new(common::test_set().take(3200));
    let config = TrainingConfig {
        learning_rate: 10.0,
        schedule: Schedule::Constant,
        augmentation: Augmentation::Off,
        read_every: 5,
        ..Default::default()
    };
    let mut trainer = Trainer::new(&device, train, config).unwrap();
    // The run as saved at each read-back, to compare with where it goes back to.
    let save = |trainer: &Trainer| block_on(trainer.checkpoint()).unwrap().to_bytes();
    let mut saved = HashMap::from([(0, save(&trainer))]);
    let error = (0..50)
        .find_map(|_| match block_on(trainer.step()) {
            Ok(progress) => {
                let progress = progress.expect("a step is left");
                if progress.metrics.is_some() {
                    saved.insert(progress.step, save(&trainer));
                }
                None
            }
            Err(error) => Some(error),
        })
        .expect("a learning rate of 10 diverges");
    let TrainingError::Diverged { step, restored, .. } = error else {
        panic!("expected divergence, got {error}");
    };
    assert!(error.to_string().contains("diverged"), "{error}");
    assert!(restored < step && restored.is_multiple_of(5), "{error}");
    assert_eq!(trainer.position().step, restored);

    // The weights and optimizer state in use are exactly those the run had at that step, and
    // they answer.
    assert!(
        save(&trainer) == saved[&restored],
        "the run is back at step {restored}"
    );
    let image: Vec<f32> = common::test_set()
        .image(0)
        .iter()
        .map(|&g| g as f32 / 255.0)
        .collect();
    let probabilities = block_on(predict(trainer.model(), &image)).unwrap();
    assert!(
        probabilities.iter().all(|p| p.is_finite()),
        "{probabilities:?}"
    );
}
