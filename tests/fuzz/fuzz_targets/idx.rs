//! The IDX parser and the MNIST split built on it, on any bytes: they must answer with a value
//! or a typed error, never panic.
//!
//! The input is a pair of files: its first two bytes (little-endian) are the length of the
//! images file, the rest is the images file then the labels file. Each file goes through its
//! parser, and the pair through `MnistDataset::from_idx` and `MnistDataset::from_files`.
#![no_main]

use lenet_web::data::{
    IMAGE_PIXELS, MnistDataset, NUM_CLASSES,
    idx::{parse_images, parse_labels},
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (images, labels) = split(data);

    // A parsed file holds exactly what its header says, after a header of 4 + 4 * dims bytes.
    if let Ok(parsed) = parse_images(images) {
        assert_eq!(parsed.pixels.len(), parsed.count * parsed.rows * parsed.cols);
        assert_eq!(images.len(), 16 + parsed.pixels.len());
    }
    if let Ok(parsed) = parse_labels(labels) {
        assert_eq!(labels.len(), 8 + parsed.len());
    }

    // A split is 28x28 images, one digit label each; `from_files` also takes gzipped files.
    if let Ok(dataset) = MnistDataset::from_idx(images, labels) {
        assert_eq!(images.len(), 16 + dataset.len() * IMAGE_PIXELS);
        check(&dataset);
    }
    if let Ok(dataset) = MnistDataset::from_files(images, labels) {
        check(&dataset);
    }
});

/// The images and labels files of an input (see the module's doc).
fn split(data: &[u8]) -> (&[u8], &[u8]) {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return (data, data);
    };
    rest.split_at((u16::from_le_bytes(*len) as usize).min(rest.len()))
}

/// What every split holds: at least one image, each of 784 pixels with a label 0-9.
fn check(dataset: &MnistDataset) {
    assert!(!dataset.is_empty());
    for i in 0..dataset.len() {
        assert_eq!(dataset.image(i).len(), IMAGE_PIXELS);
        assert!((dataset.label(i) as usize) < NUM_CLASSES);
    }
}
