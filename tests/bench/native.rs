//! The native half of `make bench` (`cargo bench --bench native`): the same training loop and
//! prediction as in the browser, on the CPU backend (burn-flex) compiled for this machine.
//! Prints a table and writes target/bench/native.json.
//!
//! Measured: time to the end of the first training step; steady-state training images per
//! second (after warm-up, the loss read back every 20 steps as the page does); prediction latency
//! (median and p95) of a 280x280 drawing, preprocessing included; the evaluation of the test set;
//! test accuracy after each epoch of a run with the page's default settings. Then the training
//! speed on each native backend this build has (`--features wgpu`, `cuda`), on one device and
//! data-parallel on two (on the CPU: the one CPU backend twice, each shard in its own thread).
//!
//! Environment: BENCH_STEPS (default 300) timed steps; BENCH_EPOCHS (default 10, 0 skips) epochs
//! of the accuracy run; BENCH_LR, BENCH_SCHEDULE, BENCH_AUGMENTATION, BENCH_BATCH and BENCH_SEED
//! override the defaults of that run (to compare settings).

#[path = "../common/mod.rs"]
mod common;

use std::{fmt::Write, sync::Arc, time::Instant};

use burn::tensor::Device;
use futures_lite::future::block_on;
use lenet_web::{
    config::TrainingConfig,
    data::MnistDataset,
    device::{ComputeDevice, NativeBackend},
    drawpad,
    inference::{evaluate, predict},
    training::Trainer,
};

const WARMUP_STEPS: usize = 10;
const PREDICTIONS: usize = 200;
const DRAWING_SIDE: usize = 280;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v} is not valid"))
        })
        .unwrap_or(default)
}

/// A "7" drawn in black on a white 280x280 RGBA canvas, as on the draw pad.
fn drawing() -> Vec<u8> {
    let mut rgba = vec![255u8; DRAWING_SIDE * DRAWING_SIDE * 4];
    let mut ink = |x: usize, y: usize| {
        for dy in 0..24 {
            for dx in 0..24 {
                let (px, py) = (x + dx - 12, y + dy - 12);
                let i = (py * DRAWING_SIDE + px) * 4;
                rgba[i..i + 3].fill(0);
            }
        }
    };
    for t in 0..=160 {
        ink(60 + t, 60);
    }
    for t in 0..=180 {
        ink(220 - t * 100 / 180, 60 + t);
    }
    rgba
}

/// Settings of the accuracy run: the defaults, unless overridden from the environment.
fn accuracy_config(epochs: usize) -> TrainingConfig {
    let mut json = serde_json::json!({ "epochs": epochs });
    for (var, key) in [
        ("BENCH_LR", "learningRate"),
        ("BENCH_SCHEDULE", "schedule"),
        ("BENCH_AUGMENTATION", "augmentation"),
        ("BENCH_BATCH", "batchSize"),
        ("BENCH_SEED", "seed"),
    ] {
        if let Ok(value) = std::env::var(var) {
            json[key] = serde_json::from_str(&value).unwrap_or(serde_json::Value::String(value));
        }
    }
    serde_json::from_value(json).expect("valid settings")
}

/// A run with the default settings on `devices` (data-parallel on more than one), `steps`
/// steps timed after a warm-up: the run, the time to the end of its first step (ms) and its
/// training images per second.
fn train_on(devices: &[Device], train: &Arc<MnistDataset>, steps: usize) -> (Trainer, f64, f64) {
    let config = TrainingConfig::default();
    let batch_size = config.batch_size;
    let started = Instant::now();
    let mut trainer = Trainer::new(&devices[0], train.clone(), config)
        .unwrap()
        .data_parallel(&devices[1..]);
    let mut step = || block_on(trainer.step()).unwrap().expect("a step is left");
    step();
    let first_step_ms = started.elapsed().as_secs_f64() * 1e3;
    for _ in 1..WARMUP_STEPS {
        step();
    }
    let timed = Instant::now();
    for _ in 0..steps {
        step();
    }
    let rate = (steps * batch_size) as f64 / timed.elapsed().as_secs_f64();
    (trainer, first_step_ms, rate)
}

fn main() {
    let device = ComputeDevice::cpu().device;
    let train = common::train_set();
    let test = common::test_set();
    let steps: usize = env_or("BENCH_STEPS", 300);
    let epochs: usize = env_or("BENCH_EPOCHS", 10);

    let batch_size = TrainingConfig::default().batch_size;
    let (trainer, first_step_ms, images_per_second) =
        train_on(std::slice::from_ref(&device), &train, steps);

    // Data-parallel: the same run on every backend this build has, on 1 and 2 devices.
    let mut parallel = Vec::new();
    for backend in [NativeBackend::Cpu, NativeBackend::Wgpu, NativeBackend::Cuda] {
        for count in [1, 2] {
            match backend.devices(count) {
                Ok(devices) => {
                    let rate = train_on(&devices, &train, steps).2;
                    parallel.push((format!("{} ×{count}", backend.name()), rate));
                }
                Err(e) => eprintln!("{} ×{count}: {e}", backend.name()),
            }
        }
    }
    let evaluated = Instant::now();
    block_on(evaluate(trainer.model(), test.clone())).unwrap();
    let evaluation_ms = evaluated.elapsed().as_secs_f64() * 1e3;

    let rgba = drawing();
    let model = trainer.model();
    let mut latencies: Vec<f64> = (0..10 + PREDICTIONS)
        .map(|_| {
            let t = Instant::now();
            let ink = drawpad::ink_from_rgba(
                &rgba,
                DRAWING_SIDE,
                DRAWING_SIDE,
                drawpad::Ink::DarkOnLight,
            )
            .unwrap();
            let image = drawpad::to_mnist(&ink, DRAWING_SIDE, DRAWING_SIDE).unwrap();
            block_on(predict(model, &image)).unwrap();
            t.elapsed().as_secs_f64() * 1e3
        })
        .skip(10)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let median = latencies[PREDICTIONS / 2];
    let p95 = latencies[PREDICTIONS * 95 / 100];

    let mut accuracy = Vec::new();
    if epochs > 0 {
        let config = accuracy_config(epochs);
        eprintln!("accuracy run: {config:?}");
        let run = Instant::now();
        let mut trainer = Trainer::new(&device, train, config).unwrap();
        while let Some(progress) = block_on(trainer.step()).unwrap() {
            if progress.epoch_done {
                let evaluation = block_on(evaluate(trainer.model(), test.clone())).unwrap();
                eprintln!(
                    "epoch {}: {:.2}% ({:.0} s)",
                    progress.epoch,
                    evaluation.accuracy() * 100.0,
                    run.elapsed().as_secs_f64()
                );
                accuracy.push(evaluation.accuracy());
            }
        }
    }

    let mut table = String::new();
    let _ = writeln!(
        table,
        "| measure (native CPU, batch {batch_size}) | value |\n|---|---|"
    );
    let _ = writeln!(table, "| training images / s | {images_per_second:.0} |");
    for (devices, rate) in &parallel {
        let _ = writeln!(
            table,
            "| training images / s, {devices} (data-parallel) | {rate:.0} |"
        );
    }
    let _ = writeln!(table, "| first step (ms) | {first_step_ms:.0} |");
    let _ = writeln!(
        table,
        "| evaluation of the 10,000 test images (ms) | {evaluation_ms:.0} |"
    );
    let _ = writeln!(
        table,
        "| prediction median / p95 (ms) | {median:.3} / {p95:.3} |"
    );
    for (epoch, a) in accuracy.iter().enumerate() {
        let _ = writeln!(
            table,
            "| test accuracy after epoch {} | {:.2}% |",
            epoch + 1,
            a * 100.0
        );
    }
    print!("{table}");

    let json = serde_json::json!({
        "batchSize": batch_size,
        "imagesPerSecond": images_per_second,
        "dataParallelImagesPerSecond": parallel.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
        "firstStepMs": first_step_ms,
        "evaluationMs": evaluation_ms,
        "predictMedianMs": median,
        "predictP95Ms": p95,
        "testAccuracyPerEpoch": accuracy,
    });
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(format!("{dir}/native.json"), json.to_string()).unwrap();
    println!("written: target/bench/native.json");
}
