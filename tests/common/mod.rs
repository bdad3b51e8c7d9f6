//! Loading the real MNIST files that `make test` prepares in data/.

use std::{io::Read, path::PathBuf, sync::Arc};

use lenet_web::data::MnistDataset;

/// Un-gzipped bytes of data/NAME.gz.
pub fn read_gz(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(format!("{name}.gz"));
    let file = std::fs::File::open(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `python3 scripts/fetch_mnist.py` (make test does)",
            path.display()
        )
    });
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut bytes)
        .expect("MNIST file un-gzips");
    bytes
}

/// The training split (60,000 images).
pub fn train_set() -> Arc<MnistDataset> {
    Arc::new(
        MnistDataset::from_idx(
            &read_gz("train-images-idx3-ubyte"),
            &read_gz("train-labels-idx1-ubyte"),
        )
        .expect("training split parses"),
    )
}

/// The test split (10,000 images).
pub fn test_set() -> Arc<MnistDataset> {
    Arc::new(
        MnistDataset::from_idx(
            &read_gz("t10k-images-idx3-ubyte"),
            &read_gz("t10k-labels-idx1-ubyte"),
        )
        .expect("test split parses"),
    )
}
