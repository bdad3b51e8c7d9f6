//! LeNet-5 learns MNIST on the CPU backend, natively: the loss falls within a few hundred steps
//! with either optimizer and with augmentation, one epoch with the default settings reaches at
//! least 98.5% test accuracy, a run resumed from a checkpoint goes on exactly as the
//! uninterrupted run, and fine-tuning that model on a few drawings of a style it misreads
//! teaches it the style without forgetting MNIST.
#![cfg(not(target_arch = "wasm32"))]

mod common;
#[path = "common/seven_segment.rs"]
mod seven_segment;

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, OnceLock},
};

use futures_lite::future::block_on;
use lenet_web::{
    checkpoint::Checkpoint,
    config::TrainingConfig,
    data::{Augmentation, GreyLevels, MnistDataset},
    device::ComputeDevice,
    finetune::FineTuneConfig,
    inference::{EVAL_BATCH, evaluate, predict, predict_batch},
    metrics::top,
    model::LeNet5Config,
    optimizer::OptimizerKind,
    schedule::Schedule,
    session::{EpochReport, RunHooks, Session, SessionError, SharedSession, Split},
    training::{Progress, Trainer, TrainingError},
};

/// The losses read back over `steps` steps of `trainer`.
fn losses(trainer: &mut Trainer, steps: usize) -> Vec<f64> {
    (0..steps)
        .filter_map(|_| {
            let progress = block_on(trainer.step()).unwrap().expect("a step is left");
            progress.loss
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
fn data_parallel_training_matches_one_device_on_the_same_batches() {
    let device = ComputeDevice::cpu().device;
    let train = Arc::new(common::train_set().take(640));
    for optimizer in [OptimizerKind::Sgd, OptimizerKind::Adam] {
        let config = TrainingConfig {
            epochs: 3,
            read_every: 5,
            ..TrainingConfig::for_optimizer(optimizer)
        };
        let mut one = Trainer::new(&device, train.clone(), config.clone()).unwrap();
        // Three shards of 22, 21 and 21 images, each in a thread of its own.
        let mut three = Trainer::new(&device, train.clone(), config)
            .unwrap()
            .data_parallel(&[device.clone(), device.clone()]);
        let (alone, parallel) = (losses(&mut one, 30), losses(&mut three, 30));
        assert_eq!(alone.len(), 6);
        for (p, a) in parallel.iter().zip(&alone) {
            assert!((p - a).abs() <= 1e-4 * a, "{optimizer:?}: loss {p} vs {a}");
        }
        // SGD is linear in the gradients: the weights agree to float rounding. (Adam divides by
        // the gradients' own size, so a weight whose gradient is near zero may move by up to
        // the learning rate either way: its losses agree above.)
        if optimizer == OptimizerKind::Sgd {
            let (p, a) = (weights(three.model()), weights(one.model()));
            let worst = p
                .iter()
                .zip(&a)
                .map(|(p, a)| (p - a).abs())
                .fold(0.0, f32::max);
            assert!(worst < 1e-5, "a weight differs by {worst}");
        }
    }
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

/// One epoch with the default settings, trained once for the tests that need a trained model.
fn one_epoch() -> &'static Checkpoint {
    static RUN: OnceLock<Checkpoint> = OnceLock::new();
    RUN.get_or_init(|| {
        let device = ComputeDevice::cpu().device;
        let mut trainer =
            Trainer::new(&device, common::train_set(), TrainingConfig::default()).unwrap();
        let mut epoch_ends = 0;
        while let Some(progress) = block_on(trainer.step()).unwrap() {
            if progress.epoch_done {
                epoch_ends += 1;
                assert!(
                    progress.loss.is_some(),
                    "the end of an epoch reads the loss back"
                );
            }
        }
        assert!(trainer.is_done());
        assert_eq!(epoch_ends, 1);
        block_on(trainer.checkpoint()).unwrap()
    })
}

#[test]
fn one_epoch_with_the_defaults_reaches_98_5_percent_test_accuracy() {
    let model = one_epoch().model(&ComputeDevice::cpu().device).unwrap();
    let test = common::test_set();
    let evaluation = block_on(evaluate(&model, test.clone())).unwrap();
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
    let probs = block_on(predict(&model, &image)).unwrap();
    let best = (0..10)
        .max_by(|&a, &b| probs[a].total_cmp(&probs[b]))
        .unwrap();
    assert_eq!(best, 7);
    assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-4);

    // Many images at once (more than one forward pass) give each image's own prediction.
    let images: Vec<f32> = (0..EVAL_BATCH + 3)
        .flat_map(|i| test.image(i).iter().map(|&g| g as f32 / 255.0))
        .collect();
    let batch = block_on(predict_batch(&model, &images)).unwrap();
    assert_eq!(batch.len(), (EVAL_BATCH + 3) * 10);
    for i in [0, 1, EVAL_BATCH - 1, EVAL_BATCH, EVAL_BATCH + 2] {
        let one = block_on(predict(&model, &images[i * 784..(i + 1) * 784])).unwrap();
        for (a, b) in one.iter().zip(&batch[i * 10..(i + 1) * 10]) {
            assert!((a - b).abs() < 1e-5, "image {i}: {a} against {b}");
        }
    }
}

/// A caller of fine-tuning that only waits.
struct Quiet;

impl RunHooks for Quiet {
    type Error = SessionError;

    fn aborted(&self) -> Option<SessionError> {
        None
    }

    fn abort(&self) -> impl Future<Output = SessionError> {
        std::future::pending()
    }

    async fn on_step(&self, _: &Progress) -> Result<(), SessionError> {
        Ok(())
    }

    fn wants_epoch_reports(&self) -> bool {
        false
    }

    async fn on_epoch(&self, _: &EpochReport) -> Result<(), SessionError> {
        Ok(())
    }

    async fn yield_now(&self) -> Result<(), SessionError> {
        Ok(())
    }
}

/// The digits `session`'s model reads in `drawings` (784 grey levels each, laid end to end).
fn readings(session: &Session, drawings: &[f32]) -> Vec<usize> {
    let probabilities = block_on(session.predict_batch(drawings)).unwrap();
    probabilities
        .chunks(10)
        .map(|p| top(p.try_into().unwrap()) as usize)
        .collect()
}

/// Fraction of `readings` that match `labels`.
fn share_right(readings: &[usize], labels: &[usize]) -> f64 {
    let right = readings.iter().zip(labels).filter(|(a, b)| a == b).count();
    right as f64 / labels.len() as f64
}

#[test]
fn fine_tuning_on_a_few_drawings_teaches_their_style_and_keeps_mnist() {
    // Seven-segment digits: 5 of each to teach, 30 of each held out.
    let set = |seeds: std::ops::Range<u64>| {
        let pairs: Vec<(Vec<f32>, usize)> = (0..10)
            .flat_map(|d| {
                seeds
                    .clone()
                    .map(move |s| (seven_segment::drawing(d, s), d))
            })
            .collect();
        let labels: Vec<usize> = pairs.iter().map(|(_, d)| *d).collect();
        (
            pairs.into_iter().flat_map(|(i, _)| i).collect::<Vec<f32>>(),
            labels,
        )
    };
    let (taught, taught_labels) = set(0..5);
    let (held, held_labels) = set(1000..1030);
    let test = common::test_set();
    let mut session = Session::new(ComputeDevice::cpu());
    session.set(Split::Training, common::train_set());
    session.load_checkpoint(&one_epoch().to_bytes()).unwrap();
    let mnist = |session: &Session| {
        block_on(evaluate(session.model(), test.clone()))
            .unwrap()
            .accuracy()
    };
    let mnist_before = mnist(&session);
    let taught_before = readings(&session, &taught);
    let held_before = share_right(&readings(&session, &held), &held_labels);
    assert!(
        share_right(&taught_before, &taught_labels) < 0.95 && held_before < 0.95,
        "the style is one the model misreads: {held_before}"
    );

    let labels: Vec<f64> = taught_labels.iter().map(|&d| d as f64).collect();
    session
        .add_examples(GreyLevels::Fractions(taught.clone()), &labels)
        .unwrap();
    let shared = SharedSession::new(session);
    let report = block_on(shared.fine_tune(FineTuneConfig::default(), &Quiet)).unwrap();
    let steps = FineTuneConfig::default().steps;
    assert_eq!((report.steps, report.examples), (steps, 50));
    let mut session = block_on(shared.lock());
    assert!(session.is_fine_tuned());
    let held_after = share_right(&readings(&session, &held), &held_labels);
    let mnist_after = mnist(&session);
    println!(
        "seven-segment digits held out: {held_before:.3} -> {held_after:.3}; MNIST test: {mnist_before:.4} -> {mnist_after:.4}"
    );
    assert_eq!(
        readings(&session, &taught),
        taught_labels,
        "every one taught"
    );
    assert!(held_after >= 0.98, "held out: {held_after}");
    assert!(
        mnist_after >= mnist_before - 0.003,
        "MNIST test accuracy {mnist_before} -> {mnist_after}"
    );

    // Saved and loaded back, the examples and the fine-tuned model come too; undoing the
    // fine-tuning gives back the earlier readings.
    let saved = block_on(session.checkpoint()).unwrap().to_bytes();
    let mut again = Session::new(ComputeDevice::cpu());
    let info = again.load_checkpoint(&saved).unwrap();
    assert_eq!((info.examples, info.fine_tuned), (50, true));
    assert_eq!(readings(&again, &taught), taught_labels);
    assert!(session.undo_fine_tuning());
    assert_eq!(readings(&session, &taught), taught_before);
    assert!(!session.undo_fine_tuning());
}

#[test]
fn an_image_of_the_wrong_size_is_refused_as_such() {
    let model = LeNet5Config::new().init(&ComputeDevice::cpu().device, 0);
    let err = block_on(predict(&model, &[0.5; 100])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "an image to classify has 784 grey levels (28x28), not 100"
    );
    for len in [0, 1000] {
        let err = block_on(predict_batch(&model, &vec![0.5; len])).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "images to classify hold 784 grey levels (28x28) each; {len} grey levels are not a whole number of images"
            )
        );
    }
}

#[test]
fn resuming_with_fewer_epochs_than_done_is_refused() {
    let device = ComputeDevice::cpu().device;
    let train: Arc<MnistDataset> = Arc::new(common::test_set().take(640));
    let config = TrainingConfig {
        epochs: 3,
        read_every: 5,
        ..Default::default()
    };
    let mut trainer = Trainer::new(&device, train.clone(), config).unwrap();
    losses(&mut trainer, 15);
    let checkpoint = block_on(trainer.checkpoint()).unwrap();
    let err = Trainer::resume(&device, train.clone(), &checkpoint, Some(1))
        .err()
        .expect("1 epoch is fewer than the 2 begun");
    assert_eq!(
        err.to_string(),
        "invalid training settings: the saved run is at step 15, in epoch 2: resume it with at least 2 epochs, not 1"
    );
    assert!(Trainer::resume(&device, train, &checkpoint, Some(2)).is_ok());
}

#[test]
fn bad_settings_are_refused() {
    let device = ComputeDevice::cpu().device;
    let mut messages = Vec::new();
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
        let message = match Trainer::new(&device, common::test_set(), config.clone()) {
            Ok(_) => panic!("{config:?} was accepted"),
            Err(e) => e.to_string(),
        };
        messages.push(message);
    }
    assert_eq!(
        messages,
        [
            "invalid training settings: the batch size must be at least 1, not 0",
            "invalid training settings: the learning rate must be a positive number, not NaN",
            "invalid training settings: epochs must be at least 1, not 0",
            &format!(
                "invalid training settings: at most 10000 epochs, not {}",
                usize::MAX
            ),
        ]
    );
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
                if progress.loss.is_some() {
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

/// Every weight of `model`, in the order the model visits its parameters.
fn weights(model: &lenet_web::model::LeNet5) -> Vec<f32> {
    burn::tensor::Tensor::cat(model.parameters(), 0)
        .into_data()
        .iter::<f32>()
        .collect()
}

#[test]
fn a_seed_gives_its_weights_while_other_threads_make_models() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let device = ComputeDevice::cpu().device;
    let train = Arc::new(common::test_set().take(64));
    let new_run = || Trainer::new(&device, train.clone(), TrainingConfig::default()).unwrap();
    let answer = |trainer: &Trainer| weights(trainer.model());
    let first = new_run();
    let reference = answer(&first);
    let checkpoint = block_on(first.checkpoint()).unwrap();
    let loading = AtomicBool::new(true);
    let same = std::thread::scope(|scope| {
        scope.spawn(|| {
            // What a page does meanwhile: load a checkpoint, and create a fresh model that
            // answers the draw pad.
            while loading.load(Ordering::Relaxed) {
                checkpoint.model(&ComputeDevice::cpu().device).unwrap();
                block_on(Session::new(ComputeDevice::cpu()).predict(&[0.5; 784])).unwrap();
            }
        });
        let same = (0..40).filter(|_| answer(&new_run()) == reference).count();
        loading.store(false, Ordering::Relaxed);
        same
    });
    assert_eq!(same, 40, "runs of one seed got other weights");
}
