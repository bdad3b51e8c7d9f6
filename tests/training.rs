//! LeNet-5 learns MNIST on the CPU backend, natively: the loss falls within a few hundred steps
//! and one epoch reaches at least 97% test accuracy.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use futures_lite::future::block_on;
use lenet_web::{
    device::ComputeDevice,
    inference::{evaluate, predict},
    training::{Trainer, TrainingConfig},
};

#[test]
fn a_few_hundred_steps_lower_the_loss() {
    let device = ComputeDevice::cpu().device;
    let config = TrainingConfig::new().with_read_every(50);
    let mut trainer = Trainer::new(&device, common::train_set(), config).unwrap();
    let mut losses = Vec::new();
    for _ in 0..300 {
        let progress = block_on(trainer.step())
            .unwrap()
            .expect("an epoch has 938 steps");
        if let Some(m) = progress.metrics {
            assert!(m.loss.is_finite());
            losses.push(m.loss);
        }
    }
    assert_eq!(losses.len(), 6);
    let (first, last) = (losses[0], losses[5]);
    assert!(
        last < first * 0.5 && last < 0.5,
        "loss went from {first} to {last}"
    );
}

#[test]
fn one_epoch_reaches_97_percent_test_accuracy() {
    let device = ComputeDevice::cpu().device;
    let mut trainer = Trainer::new(&device, common::train_set(), TrainingConfig::new()).unwrap();
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
        evaluation.accuracy() >= 0.97,
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
        TrainingConfig::new().with_batch_size(0),
        TrainingConfig::new().with_learning_rate(f64::NAN),
        TrainingConfig::new().with_epochs(0),
    ] {
        assert!(Trainer::new(&device, common::test_set(), config).is_err());
    }
}

#[test]
fn a_huge_learning_rate_is_reported_as_divergence() {
    let device = ComputeDevice::cpu().device;
    let config = TrainingConfig::new()
        .with_learning_rate(1e6)
        .with_read_every(5);
    let mut trainer = Trainer::new(&device, common::test_set(), config).unwrap();
    let outcome = (0..100).find_map(|_| block_on(trainer.step()).err());
    let error = outcome.expect("a learning rate of a million diverges");
    assert!(error.to_string().contains("diverged"), "{error}");
}
