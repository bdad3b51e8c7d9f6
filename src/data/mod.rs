//! MNIST data: IDX parsing, the validated dataset, augmentation, and the pipeline that feeds
//! training.

pub mod augment;
pub mod idx;
pub mod mnist;
pub mod pipeline;

pub use augment::Augmentation;
pub use idx::IdxError;
pub use mnist::{DatasetError, GreyLevels, IMAGE_PIXELS, IMAGE_SIDE, MnistDataset, NUM_CLASSES};
pub use pipeline::{Batch, Batches, Pipeline, normalize};
