//! In a real browser (wasm-pack test --headless --chrome): LeNet-5 trains on WebGPU and on the
//! CPU backend, the loss is finite and falls, a checkpoint saves (reading back asynchronously),
//! loads the same model and resumes, and the backend asked for is the one used.
#![cfg(target_arch = "wasm32")]

use std::sync::Arc;

use lenet_web::{
    calibration::Calibration,
    checkpoint::Checkpoint,
    config::TrainingConfig,
    data::{IMAGE_PIXELS, MnistDataset},
    device::{Backend, BackendRequest, ComputeDevice},
    inference::predict,
    training::Trainer,
    web::LeNet,
};
use serde::Serialize;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// The real MNIST training files (prepared in data/ by `make test`), built into the test.
static TRAIN_IMAGES: &[u8] = include_bytes!("../data/train-images-idx3-ubyte.gz");
static TRAIN_LABELS: &[u8] = include_bytes!("../data/train-labels-idx1-ubyte.gz");

fn first_training_images(n: usize) -> Arc<MnistDataset> {
    let set = MnistDataset::from_files(TRAIN_IMAGES, TRAIN_LABELS).unwrap();
    Arc::new(set.take(n))
}

/// Trains `steps` steps, reading the loss every `read_every`, and returns the trainer and the
/// losses read.
async fn train(compute: &ComputeDevice, steps: usize, read_every: usize) -> (Trainer, Vec<f64>) {
    let config = TrainingConfig {
        read_every,
        ..Default::default()
    };
    let mut trainer =
        Trainer::new(&compute.device, first_training_images(64 * steps), config).unwrap();
    let mut losses = Vec::new();
    for _ in 0..steps {
        let progress = trainer.step().await.unwrap().unwrap();
        losses.extend(progress.loss);
        yield_to_browser().await;
    }
    (trainer, losses)
}

/// Saves `trainer` as checkpoint bytes, reads them back, and checks the loaded model answers
/// as the trained one and the run resumes.
async fn checkpoint_round_trip(compute: &ComputeDevice, trainer: &Trainer) {
    let saved = trainer.checkpoint().await.unwrap();
    let loaded = Checkpoint::from_bytes(&saved.to_bytes()).unwrap();
    assert!(loaded.has_optimizer());
    assert_eq!(loaded.state, saved.state);

    let model = loaded.model(&compute.device).unwrap();
    let image: Vec<f32> = (0..IMAGE_PIXELS)
        .map(|i| ((i * 7) % 11) as f32 / 10.0)
        .collect();
    let expected = predict(trainer.model(), &image).await.unwrap();
    let got = predict(&model, &image).await.unwrap();
    for (e, g) in expected.iter().zip(&got) {
        assert!((e - g).abs() < 1e-5, "{expected:?} vs {got:?}");
    }

    let train = first_training_images(saved.state.training_images);
    let mut resumed = Trainer::resume(&compute.device, train, &loaded, Some(2)).unwrap();
    let progress = resumed.step().await.unwrap().unwrap();
    assert_eq!(progress.step, saved.state.step + 1);
}

/// Lets the browser run its event loop: the CPU backend computes a step without giving the page
/// back, and the test runner must be able to poll the page.
async fn yield_to_browser() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let global = js_sys::global();
        let set_timeout: js_sys::Function = js_sys::Reflect::get(&global, &"setTimeout".into())
            .expect("setTimeout exists")
            .into();
        set_timeout
            .call2(&global, &resolve, &0.into())
            .expect("setTimeout runs");
    });
    wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .expect("a timeout resolves");
}

fn assert_falls(losses: &[f64]) {
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    let (first, last) = (losses[0], losses[losses.len() - 1]);
    assert!(last < first * 0.8, "the loss did not fall: {losses:?}");
}

#[wasm_bindgen_test]
async fn trains_on_the_cpu_backend() {
    let compute = ComputeDevice::select(BackendRequest::Cpu, true)
        .await
        .unwrap();
    assert_eq!(compute.backend, Backend::Cpu);
    let (trainer, losses) = train(&compute, 60, 10).await;
    assert_eq!(losses.len(), 6);
    assert_falls(&losses);
    checkpoint_round_trip(&compute, &trainer).await;
}

#[wasm_bindgen_test]
async fn trains_on_webgpu() {
    let compute = ComputeDevice::select(BackendRequest::WebGpu, true)
        .await
        .expect("the test browser offers WebGPU (SwiftShader)");
    assert_eq!(compute.backend, Backend::WebGpu);
    let (trainer, losses) = train(&compute, 20, 5).await;
    assert_eq!(losses.len(), 4);
    assert_falls(&losses);
    checkpoint_round_trip(&compute, &trainer).await;
}

#[wasm_bindgen_test]
async fn the_js_surface_uses_the_backend_asked_for() {
    let none = JsValue::UNDEFINED;
    let cpu = LeNet::create(JsValue::from("cpu"), none.clone())
        .await
        .unwrap();
    assert_eq!(cpu.backend(), "cpu");
    assert_eq!(cpu.fallback_reason(), None);
    assert!(cpu.calibration().unwrap().is_undefined());
    let gpu = LeNet::create(JsValue::from("webgpu"), none.clone())
        .await
        .unwrap();
    assert_eq!(gpu.backend(), "webgpu");
    assert!(LeNet::create(JsValue::from("tpu"), none).await.is_err());
}

/// `auto` times both backends and takes the faster, and keeps the measurement for next time; a
/// measurement given is reused instead (here one that says the opposite of the real one, to
/// tell the two apart).
#[wasm_bindgen_test]
async fn auto_takes_the_backend_that_trains_faster() {
    let auto = LeNet::create(JsValue::from("auto"), JsValue::UNDEFINED)
        .await
        .unwrap();
    let measured: Calibration = serde_wasm_bindgen::from_value(auto.calibration().unwrap())
        .expect("auto measured both backends");
    assert!(measured.cpu > 0.0 && measured.webgpu > 0.0, "{measured:?}");
    assert_eq!(auto.backend(), measured.faster().name());
    if measured.faster() == Backend::Cpu {
        assert_eq!(auto.fallback_reason(), Some(measured.reason()));
    }

    // The package kept the measurement: the next "auto" chooses at once, by it.
    let again = LeNet::create(JsValue::from("auto"), JsValue::UNDEFINED)
        .await
        .unwrap();
    let kept: Calibration = serde_wasm_bindgen::from_value(again.calibration().unwrap()).unwrap();
    assert_eq!(kept, measured);

    let opposite = Calibration {
        cpu: measured.webgpu,
        webgpu: measured.cpu,
        ..measured.clone()
    };
    let options = js_object(serde_json::json!({ "calibration": opposite }));
    let remembered = LeNet::create(JsValue::from("auto"), options).await.unwrap();
    assert_eq!(remembered.backend(), opposite.faster().name());
    assert_ne!(remembered.backend(), auto.backend());

    let bad = js_object(serde_json::json!({ "calibration": { "cpu": 1 } }));
    assert!(LeNet::create(JsValue::from("auto"), bad).await.is_err());
}

/// `value` as a plain JS object (as options reach the package from JS).
fn js_object(value: serde_json::Value) -> JsValue {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap()
}
