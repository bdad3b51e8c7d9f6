//! The real MNIST files parse, and damaged copies of them are rejected with the right error.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use lenet_web::data::{DatasetError, IdxError, MnistDataset};

#[test]
fn real_files_parse_with_the_known_first_labels() {
    let train = common::train_set();
    let test = common::test_set();
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    let first = |set: &MnistDataset| (0..10).map(|i| set.label(i)).collect::<Vec<_>>();
    assert_eq!(first(&train), [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    assert_eq!(first(&test), [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
}

#[test]
fn a_truncated_real_file_is_rejected() {
    let images = common::file("t10k-images-idx3-ubyte");
    let labels = common::file("t10k-labels-idx1-ubyte");
    let cut = &images[..images.len() - 100];
    assert!(matches!(
        MnistDataset::from_files(cut, &labels),
        Err(DatasetError::Gzip { kind: "images", .. })
    ));
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&images[..]), &mut plain).unwrap();
    plain.truncate(plain.len() - 100);
    assert_eq!(
        MnistDataset::from_files(&plain, &labels),
        Err(DatasetError::Idx(IdxError::WrongLength {
            kind: "images",
            expected: 7_840_000,
            found: 7_839_900
        }))
    );
}

#[test]
fn training_images_with_test_labels_are_a_count_mismatch() {
    let images = common::file("train-images-idx3-ubyte");
    let labels = common::file("t10k-labels-idx1-ubyte");
    assert_eq!(
        MnistDataset::from_files(&images, &labels),
        Err(DatasetError::CountMismatch {
            images: 60_000,
            labels: 10_000
        })
    );
}

#[test]
fn files_swapped_are_a_bad_magic() {
    let images = common::file("t10k-images-idx3-ubyte");
    let labels = common::file("t10k-labels-idx1-ubyte");
    assert!(matches!(
        MnistDataset::from_files(&labels, &images),
        Err(DatasetError::Idx(IdxError::BadMagic { .. }))
    ));
}
