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
    #[error(
        "images to classify hold {IMAGE_PIXELS} grey levels (28x28) each; {0} grey levels are not a whole number of images"
    )]
    BatchSize(usize),
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
    let probabilities = predict_batch(model, image).await?;
    Ok(probabilities
        .try_into()
        .expect("one image, NUM_CLASSES probabilities"))
}

/// Probabilities of each digit (10 per image, in order) for images of 784 grey levels each (0-1,
/// as for [`predict`]) laid end to end, in forward passes of [`EVAL_BATCH`] images.
pub async fn predict_batch(model: &LeNet5, images: &[f32]) -> Result<Vec<f32>, InferenceError> {
    if images.is_empty() || !images.len().is_multiple_of(IMAGE_PIXELS) {
        return Err(InferenceError::BatchSize(images.len()));
    }
    let model = model.valid();
    let device = model_device(&model);
    let batches: Vec<Tensor<2>> = images
        .chunks(EVAL_BATCH * IMAGE_PIXELS)
        .map(|chunk| {
            // As the training images were: 0-255 grey levels, normalised.
            let pixels: Vec<f32> = chunk
                .iter()
                .map(|&v| normalize((v.clamp(0.0, 1.0) * 255.0).round() as u8))
                .collect();
            let n = chunk.len() / IMAGE_PIXELS;
            let images = Tensor::<4>::from_data(
                TensorData::new(pixels, [n, 1, IMAGE_SIDE, IMAGE_SIDE]),
                &device,
            );
            model.probabilities(images)
        })
        .collect();
    Ok(Tensor::cat(batches, 0)
        .into_data_async()
        .await?
        .iter::<f32>()
        .collect())
}

fn model_device(model: &LeNet5) -> Device {
    model
        .devices()
        .into_iter()
        .next()
        .expect("LeNet-5 has parameters, so a device")
}
