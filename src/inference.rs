//! Running a trained model: evaluation on a labelled split and prediction for single images.
//! Both read results back once, asynchronously, so they work on WebGPU in a browser.

use std::sync::Arc;

use burn::{
    module::Module,
    tensor::{Device, ExecutionError, Tensor, TensorData},
};
use thiserror::Error;

use crate::{
    data::{IMAGE_PIXELS, IMAGE_SIDE, MnistDataset, NUM_CLASSES, Pipeline, normalize},
    metrics::Evaluation,
    model::LeNet5,
};

/// Why a model could not classify.
#[derive(Debug, Error)]
pub enum InferenceError {
    #[error("an image to classify has {IMAGE_PIXELS} grey levels (28x28), not {0}")]
    ImageSize(usize),
    #[error("reading the results back from the device failed: {0}")]
    Device(String),
}

impl From<ExecutionError> for InferenceError {
    fn from(e: ExecutionError) -> Self {
        InferenceError::Device(e.to_string())
    }
}

/// Images per forward pass during evaluation.
pub const EVAL_BATCH: usize = 500;

/// Classifies every image of `split` and tallies the results against its labels.
pub async fn evaluate(
    model: &LeNet5,
    split: Arc<MnistDataset>,
) -> Result<Evaluation, InferenceError> {
    let model = model.valid();
    let device = model_device(&model);
    let labels: Vec<u8> = (0..split.len()).map(|i| split.label(i)).collect();
    let batches: Vec<Tensor<2>> = Pipeline::new(split)
        .batch(EVAL_BATCH)
        .batches()
        .map(|batch| {
            let n = batch.len();
            let images = Tensor::<4>::from_data(
                TensorData::new(batch.images, [n, 1, IMAGE_SIDE, IMAGE_SIDE]),
                &device,
            );
            model.probabilities(images)
        })
        .collect();
    let values: Vec<f32> = Tensor::cat(batches, 0)
        .into_data_async()
        .await?
        .iter::<f32>()
        .collect();
    let probabilities: Vec<[f32; NUM_CLASSES]> = values
        .chunks_exact(NUM_CLASSES)
        .map(|p| p.try_into().expect("chunks of NUM_CLASSES"))
        .collect();
    Ok(Evaluation::from_probabilities(&probabilities, &labels))
}

/// Probabilities of each digit for one 28x28 image of grey levels from 0 (background) to 1
/// (ink), row-major, as the draw pad produces.
pub async fn predict(model: &LeNet5, image: &[f32]) -> Result<[f32; NUM_CLASSES], InferenceError> {
    if image.len() != IMAGE_PIXELS {
        return Err(InferenceError::ImageSize(image.len()));
    }
    let model = model.valid();
    let device = model_device(&model);
    let pixels: Vec<f32> = image
        .iter()
        .map(|&v| normalize((v.clamp(0.0, 1.0) * 255.0).round() as u8))
        .collect();
    let images = Tensor::<4>::from_data(
        TensorData::new(pixels, [1, 1, IMAGE_SIDE, IMAGE_SIDE]),
        &device,
    );
    let probs = model.probabilities(images).into_data_async().await?;
    let mut out = [0.0; NUM_CLASSES];
    for (o, p) in out.iter_mut().zip(probs.iter::<f32>()) {
        *o = p;
    }
    Ok(out)
}

fn model_device(model: &LeNet5) -> Device {
    model
        .devices()
        .into_iter()
        .next()
        .expect("LeNet-5 has parameters, so a device")
}
