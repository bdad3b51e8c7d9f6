//! MNIST data: IDX parsing, the validated dataset, and the pipeline that feeds training.

pub mod idx;
pub mod mnist;
pub mod pipeline;

pub use idx::IdxError;
pub use mnist::{DatasetError, IMAGE_PIXELS, IMAGE_SIDE, MnistDataset, NUM_CLASSES};
pub use pipeline::{Batch, Batches, Pipeline, normalize};
