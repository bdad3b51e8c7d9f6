//! MNIST data: IDX parsing, the validated dataset, augmentation, the pipeline that feeds
//! training, and the user's own labelled drawings.

pub mod augment;
pub mod examples;
pub mod idx;
pub mod mnist;
pub mod pipeline;

pub use augment::Augmentation;
pub use examples::{Example, Examples, ExamplesError, MAX_EXAMPLES};
pub use idx::IdxError;
pub use mnist::{DatasetError, GreyLevels, IMAGE_PIXELS, IMAGE_SIDE, MnistDataset, NUM_CLASSES};
pub use pipeline::{Batch, Batches, Pipeline, normalize};
