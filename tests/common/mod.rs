//! Loading the real MNIST files that `make test` prepares in data/.

use std::{path::PathBuf, sync::Arc};

use lenet_web::data::MnistDataset;

/// The bytes of data/NAME.gz, gzipped as the page downloads them.
pub fn file(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(format!("{name}.gz"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `python3 scripts/fetch_mnist.py data` (make test does)",
            path.display()
        )
    })
}

/// The split in data/IMAGES.gz and data/LABELS.gz, read as the page reads them.
fn split(images: &str, labels: &str) -> Arc<MnistDataset> {
    let set = MnistDataset::from_files(&file(images), &file(labels));
    Arc::new(set.unwrap_or_else(|e| panic!("{images}: {e}")))
}

/// The training split (60,000 images).
pub fn train_set() -> Arc<MnistDataset> {
    split("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
}

/// The test split (10,000 images).
pub fn test_set() -> Arc<MnistDataset> {
    split("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
}
