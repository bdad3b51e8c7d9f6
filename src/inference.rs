//! Running a trained model: evaluation on a labelled split and prediction for single images.
//! Both read results back once, asynchronously, so they work on WebGPU in a browser.

use std::sync::Arc;

use burn::{
    module::Module,
    tensor::{Device, ExecutionError, Tensor, TensorData, activation::softmax},
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
    let values = read_values(batches).await?;
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
        .map(|chunk| model.probabilities(batch_of(chunk, &device)))
        .collect();
    read_values(batches).await
}

/// One layer's values, as [`activations`] and [`filters`] give them.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerView {
    /// The layer's name: conv1, pool1, conv2, pool2, fc1, fc2, logits or probabilities.
    pub layer: &'static str,
    /// Its dimensions, without the batch: [maps, height, width], [units], or for filters
    /// [output maps, input maps, height, width].
    pub shape: Vec<usize>,
    /// Its values, row-major.
    pub values: Vec<f32>,
}

/// What each layer of `model` gives for one image (784 grey levels from 0 to 1, as for
/// [`predict`]), in order: conv1, pool1, conv2, pool2, fc1, fc2, logits and probabilities,
/// without the batch dimension. The same forward pass as [`predict`]'s, read back at once.
pub async fn activations(model: &LeNet5, image: &[f32]) -> Result<Vec<LayerView>, InferenceError> {
    if image.len() != IMAGE_PIXELS {
        return Err(InferenceError::ImageSize(image.len()));
    }
    let model = model.valid();
    let layers = model.layers(batch_of(image, &model_device(&model)));
    let probabilities = softmax(layers.logits.clone(), 1);
    read_back(vec![
        flat("conv1", layers.conv1.squeeze_dim::<3>(0)),
        flat("pool1", layers.pool1.squeeze_dim::<3>(0)),
        flat("conv2", layers.conv2.squeeze_dim::<3>(0)),
        flat("pool2", layers.pool2.squeeze_dim::<3>(0)),
        flat("fc1", layers.fc1.squeeze_dim::<1>(0)),
        flat("fc2", layers.fc2.squeeze_dim::<1>(0)),
        flat("logits", layers.logits.squeeze_dim::<1>(0)),
        flat("probabilities", probabilities.squeeze_dim::<1>(0)),
    ])
    .await
}

/// The convolution kernels of `model`, [output maps, input maps, 5, 5]: conv1's and conv2's,
/// read back at once.
pub async fn filters(model: &LeNet5) -> Result<Vec<LayerView>, InferenceError> {
    let [conv1, conv2] = model.valid().filters();
    read_back(vec![flat("conv1", conv1), flat("conv2", conv2)]).await
}

/// A layer's values flattened, with its name and shape.
fn flat<const D: usize>(
    layer: &'static str,
    values: Tensor<D>,
) -> (&'static str, Vec<usize>, Tensor<1>) {
    (layer, values.dims().to_vec(), values.reshape([-1]))
}

/// Reads flattened layers back in one transfer and cuts them apart again.
async fn read_back(
    layers: Vec<(&'static str, Vec<usize>, Tensor<1>)>,
) -> Result<Vec<LayerView>, InferenceError> {
    let (names, tensors): (Vec<_>, Vec<_>) = layers
        .into_iter()
        .map(|(layer, shape, values)| ((layer, shape), values))
        .unzip();
    let values = read_values(tensors).await?;
    let mut rest = values.as_slice();
    Ok(names
        .into_iter()
        .map(|(layer, shape)| {
            let (values, after) = rest.split_at(shape.iter().product());
            rest = after;
            LayerView {
                layer,
                shape,
                values: values.to_vec(),
            }
        })
        .collect())
}

/// The values of `tensors`, joined along their first dimension, read back from the device in one
/// asynchronous transfer.
async fn read_values<const D: usize>(tensors: Vec<Tensor<D>>) -> Result<Vec<f32>, InferenceError> {
    Ok(Tensor::cat(tensors, 0)
        .into_data_async()
        .await?
        .iter::<f32>()
        .collect())
}

/// Images of 784 grey levels from 0 to 1 each, laid end to end, as a batch normalised as the
/// training images were (0-255 grey levels, then [`normalize`]).
fn batch_of(grey_levels: &[f32], device: &Device) -> Tensor<4> {
    let pixels: Vec<f32> = grey_levels
        .iter()
        .map(|&v| normalize((v.clamp(0.0, 1.0) * 255.0).round() as u8))
        .collect();
    let n = grey_levels.len() / IMAGE_PIXELS;
    Tensor::from_data(
        TensorData::new(pixels, [n, 1, IMAGE_SIDE, IMAGE_SIDE]),
        device,
    )
}

fn model_device(model: &LeNet5) -> Device {
    model
        .devices()
        .into_iter()
        .next()
        .expect("LeNet-5 has parameters, so a device")
}

#[cfg(test)]
mod tests {
    use futures_lite::future::block_on;

    use super::*;
    use crate::model::LeNet5Config;

    /// A fresh model's layers for a diagonal stroke.
    fn layers_of_a_stroke() -> (LeNet5, Vec<f32>, Vec<LayerView>) {
        let model = LeNet5Config::new().init(&Device::flex(), 7);
        let image: Vec<f32> = (0..IMAGE_PIXELS)
            .map(|i| {
                if (i / IMAGE_SIDE).abs_diff(i % IMAGE_SIDE) < 3 {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let layers = block_on(activations(&model, &image)).unwrap();
        (model, image, layers)
    }

    #[test]
    fn activations_are_every_layer_in_order_with_its_shape() {
        let (_, _, layers) = layers_of_a_stroke();
        let shapes: Vec<(&str, Vec<usize>)> =
            layers.iter().map(|l| (l.layer, l.shape.clone())).collect();
        assert_eq!(
            shapes,
            [
                ("conv1", vec![6, 28, 28]),
                ("pool1", vec![6, 14, 14]),
                ("conv2", vec![16, 10, 10]),
                ("pool2", vec![16, 5, 5]),
                ("fc1", vec![120]),
                ("fc2", vec![84]),
                ("logits", vec![10]),
                ("probabilities", vec![10]),
            ]
        );
        for layer in &layers {
            assert_eq!(layer.values.len(), layer.shape.iter().product::<usize>());
            assert!(
                layer.values.iter().all(|v| v.is_finite()),
                "{}",
                layer.layer
            );
        }
    }

    #[test]
    fn the_last_layer_is_what_predict_gives() {
        let (model, image, layers) = layers_of_a_stroke();
        let predicted = block_on(predict(&model, &image)).unwrap();
        assert_eq!(layers[7].values, predicted);
    }

    #[test]
    fn each_pool_is_the_maximum_of_its_windows_of_the_convolution_before_it() {
        let (_, _, layers) = layers_of_a_stroke();
        for (conv, pool) in [(&layers[0], &layers[1]), (&layers[2], &layers[3])] {
            let [maps, side, _] = conv.shape[..] else {
                unreachable!()
            };
            let half = side / 2;
            let at = |map: usize, y: usize, x: usize| conv.values[(map * side + y) * side + x];
            for map in 0..maps {
                for y in 0..half {
                    for x in 0..half {
                        let window = [
                            at(map, 2 * y, 2 * x),
                            at(map, 2 * y, 2 * x + 1),
                            at(map, 2 * y + 1, 2 * x),
                            at(map, 2 * y + 1, 2 * x + 1),
                        ];
                        let max = window.into_iter().fold(f32::MIN, f32::max);
                        assert_eq!(pool.values[(map * half + y) * half + x], max);
                    }
                }
            }
        }
        // Not a vacuous check: the stroke lights up some maps.
        assert!(layers[1].values.iter().any(|&v| v > 0.0));
    }

    #[test]
    fn a_wrong_sized_image_is_refused() {
        let model = LeNet5Config::new().init(&Device::flex(), 7);
        assert!(matches!(
            block_on(activations(&model, &[0.5; 100])),
            Err(InferenceError::ImageSize(100))
        ));
    }

    #[test]
    fn filters_are_the_convolution_weights() {
        let model = LeNet5Config::new().init(&Device::flex(), 7);
        let filters = block_on(filters(&model)).unwrap();
        assert_eq!(filters[0].layer, "conv1");
        assert_eq!(filters[0].shape, [6, 1, 5, 5]);
        assert_eq!(filters[1].layer, "conv2");
        assert_eq!(filters[1].shape, [16, 6, 5, 5]);
        let weights = model.filters()[1]
            .clone()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(filters[1].values, weights);
    }
}
