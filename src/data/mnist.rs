//! An MNIST split (images with their labels), built from a pair of IDX files and checked to be a
//! set LeNet-5 can learn from: 28x28 images, as many labels as images, digits 0-9.

use std::io::Read;

use thiserror::Error;

use super::idx::{self, IdxError};

/// Side of an MNIST image in pixels.
pub const IMAGE_SIDE: usize = 28;
/// Pixels in one MNIST image.
pub const IMAGE_PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;
/// Digits 0-9.
pub const NUM_CLASSES: usize = 10;

/// Why a pair of files is not a usable MNIST split.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum DatasetError {
    #[error(transparent)]
    Idx(#[from] IdxError),
    #[error("the images are {rows}x{cols} pixels; MNIST images are 28x28")]
    WrongImageSize { rows: usize, cols: usize },
    #[error(
        "the images hold {grey_levels} grey levels, which is not a whole number of 28x28 images ({IMAGE_PIXELS} grey levels each)"
    )]
    PartialImage { grey_levels: usize },
    #[error("the images file holds {images} images but the labels file holds {labels} labels")]
    CountMismatch { images: usize, labels: usize },
    #[error("label {value} at position {index} is not a digit 0-9")]
    LabelOutOfRange { index: usize, value: u8 },
    #[error("label {value} at position {index} is not a digit 0-9")]
    LabelNotADigit { index: usize, value: f64 },
    #[error(
        "grey level {value} at position {index} is outside 0-1 (give fractions from 0 to 1, or bytes from 0 to 255 in a Uint8Array)"
    )]
    GreyLevelOutOfRange { index: usize, value: f32 },
    #[error("the files hold no images")]
    Empty,
    #[error("the {kind} file is not a valid gzip file ({reason}): was the download cut short?")]
    Gzip { kind: &'static str, reason: String },
}

/// Images' grey levels as an app holds them, 28x28 each, laid end to end, row-major: bytes
/// from 0 (background) to 255 (ink), as MNIST stores them, or fractions from 0 to 1.
#[derive(Debug, Clone, PartialEq)]
pub enum GreyLevels {
    Bytes(Vec<u8>),
    Fractions(Vec<f32>),
}

impl GreyLevels {
    /// The grey levels as bytes (fractions scaled to 0-255 and rounded); an error names the first
    /// fraction outside 0-1.
    fn into_bytes(self) -> Result<Vec<u8>, DatasetError> {
        match self {
            GreyLevels::Bytes(bytes) => Ok(bytes),
            GreyLevels::Fractions(values) => values
                .iter()
                .enumerate()
                .map(|(index, &value)| {
                    if (0.0..=1.0).contains(&value) {
                        Ok((value * 255.0).round() as u8)
                    } else {
                        Err(DatasetError::GreyLevelOutOfRange { index, value })
                    }
                })
                .collect(),
        }
    }
}

/// One MNIST split: `len()` images of 28x28 grey levels (0-255) and their digit labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MnistDataset {
    pixels: Vec<u8>,
    labels: Vec<u8>,
}

impl MnistDataset {
    /// Builds a split from the bytes of an IDX images file and an IDX labels file, each gzipped
    /// (as MNIST is published) or not.
    pub fn from_files(images: &[u8], labels: &[u8]) -> Result<Self, DatasetError> {
        Self::from_idx(&gunzip(images, "images")?, &gunzip(labels, "labels")?)
    }

    /// Builds a split from the bytes of an (un-gzipped) IDX images file and IDX labels file.
    pub fn from_idx(images: &[u8], labels: &[u8]) -> Result<Self, DatasetError> {
        let images = idx::parse_images(images)?;
        let labels = idx::parse_labels(labels)?;
        if (images.rows, images.cols) != (IMAGE_SIDE, IMAGE_SIDE) {
            return Err(DatasetError::WrongImageSize {
                rows: images.rows,
                cols: images.cols,
            });
        }
        Self::new(images.pixels, labels)
    }

    /// Builds a split from raw 28x28 grey-level images laid end to end and their labels.
    pub fn new(pixels: Vec<u8>, labels: Vec<u8>) -> Result<Self, DatasetError> {
        if !pixels.len().is_multiple_of(IMAGE_PIXELS) {
            return Err(DatasetError::PartialImage {
                grey_levels: pixels.len(),
            });
        }
        let images = pixels.len() / IMAGE_PIXELS;
        if images != labels.len() {
            return Err(DatasetError::CountMismatch {
                images,
                labels: labels.len(),
            });
        }
        if images == 0 {
            return Err(DatasetError::Empty);
        }
        if let Some((index, &value)) = labels
            .iter()
            .enumerate()
            .find(|&(_, &l)| l as usize >= NUM_CLASSES)
        {
            return Err(DatasetError::LabelOutOfRange { index, value });
        }
        Ok(Self { pixels, labels })
    }

    /// Builds a split from an app's own images and their labels (numbers that must be the
    /// digits 0-9).
    pub fn from_arrays(images: GreyLevels, labels: &[f64]) -> Result<Self, DatasetError> {
        let labels = labels
            .iter()
            .enumerate()
            .map(|(index, &value)| {
                if (0.0..NUM_CLASSES as f64).contains(&value) && value.fract() == 0.0 {
                    Ok(value as u8)
                } else {
                    Err(DatasetError::LabelNotADigit { index, value })
                }
            })
            .collect::<Result<Vec<u8>, _>>()?;
        Self::new(images.into_bytes()?, labels)
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Never true: an empty split is rejected when built.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The 784 grey levels of image `index`.
    pub fn image(&self, index: usize) -> &[u8] {
        &self.pixels[index * IMAGE_PIXELS..(index + 1) * IMAGE_PIXELS]
    }

    /// The digit shown by image `index`.
    pub fn label(&self, index: usize) -> u8 {
        self.labels[index]
    }

    /// The first `n` images (all of them if there are fewer): a smaller split for quick runs.
    pub fn take(&self, n: usize) -> Self {
        let n = n.min(self.len()).max(1);
        Self {
            pixels: self.pixels[..n * IMAGE_PIXELS].to_vec(),
            labels: self.labels[..n].to_vec(),
        }
    }
}

/// The bytes un-gzipped when they start with the gzip magic number, otherwise as they are.
fn gunzip<'a>(
    bytes: &'a [u8],
    kind: &'static str,
) -> Result<std::borrow::Cow<'a, [u8]>, DatasetError> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes.into());
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| DatasetError::Gzip {
            kind,
            reason: e.to_string(),
        })?;
    Ok(out.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::idx::{IMAGES_MAGIC, LABELS_MAGIC, encode as idx};

    #[test]
    fn builds_from_matching_files() {
        let images = idx(IMAGES_MAGIC, &[2, 28, 28], &[9; 2 * IMAGE_PIXELS]);
        let labels = idx(LABELS_MAGIC, &[2], &[3, 9]);
        let set = MnistDataset::from_idx(&images, &labels).unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set.label(1), 9);
        assert_eq!(set.image(1).len(), IMAGE_PIXELS);
    }

    #[test]
    fn count_mismatch_is_rejected() {
        let images = idx(IMAGES_MAGIC, &[2, 28, 28], &[0; 2 * IMAGE_PIXELS]);
        let labels = idx(LABELS_MAGIC, &[3], &[1, 2, 3]);
        assert_eq!(
            MnistDataset::from_idx(&images, &labels),
            Err(DatasetError::CountMismatch {
                images: 2,
                labels: 3
            })
        );
    }

    #[test]
    fn wrong_image_size_is_rejected() {
        let images = idx(IMAGES_MAGIC, &[1, 32, 32], &[0; 32 * 32]);
        let labels = idx(LABELS_MAGIC, &[1], &[1]);
        assert_eq!(
            MnistDataset::from_idx(&images, &labels),
            Err(DatasetError::WrongImageSize { rows: 32, cols: 32 })
        );
    }

    #[test]
    fn pixels_that_are_not_whole_images_are_rejected() {
        let err = MnistDataset::new(vec![0; IMAGE_PIXELS + 5], vec![1, 2]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the images hold 789 grey levels, which is not a whole number of 28x28 images (784 grey levels each)"
        );
    }

    #[test]
    fn label_out_of_range_is_rejected() {
        let images = idx(IMAGES_MAGIC, &[2, 28, 28], &[0; 2 * IMAGE_PIXELS]);
        let labels = idx(LABELS_MAGIC, &[2], &[4, 12]);
        assert_eq!(
            MnistDataset::from_idx(&images, &labels),
            Err(DatasetError::LabelOutOfRange {
                index: 1,
                value: 12
            })
        );
    }

    #[test]
    fn builds_from_an_apps_arrays() {
        let fractions = GreyLevels::Fractions(vec![0.5; IMAGE_PIXELS * 2]);
        let set = MnistDataset::from_arrays(fractions, &[3.0, 9.0]).unwrap();
        assert_eq!((set.len(), set.label(1)), (2, 9));
        assert!(set.image(0).iter().all(|&g| g == 128));
        let bytes = GreyLevels::Bytes(vec![255; IMAGE_PIXELS]);
        assert_eq!(
            MnistDataset::from_arrays(bytes, &[0.0]).unwrap().image(0)[0],
            255
        );
    }

    #[test]
    fn bad_arrays_are_rejected_with_what_is_wrong() {
        let one = || GreyLevels::Fractions(vec![0.0; IMAGE_PIXELS]);
        for (label, index) in [(10.0, 0), (-1.0, 0), (2.5, 0), (f64::NAN, 0)] {
            assert!(matches!(
                MnistDataset::from_arrays(one(), &[label]),
                Err(DatasetError::LabelNotADigit { index: i, .. }) if i == index
            ));
        }
        let mut levels = vec![0.0; IMAGE_PIXELS];
        levels[7] = 255.0;
        assert_eq!(
            MnistDataset::from_arrays(GreyLevels::Fractions(levels), &[1.0]),
            Err(DatasetError::GreyLevelOutOfRange {
                index: 7,
                value: 255.0
            })
        );
        let mut levels = vec![0.0; IMAGE_PIXELS];
        levels[3] = f32::NAN;
        assert!(matches!(
            MnistDataset::from_arrays(GreyLevels::Fractions(levels), &[1.0]),
            Err(DatasetError::GreyLevelOutOfRange { index: 3, .. })
        ));
        assert_eq!(
            MnistDataset::from_arrays(GreyLevels::Bytes(vec![0; 700]), &[1.0]),
            Err(DatasetError::PartialImage { grey_levels: 700 })
        );
        assert_eq!(
            MnistDataset::from_arrays(one(), &[1.0, 2.0]),
            Err(DatasetError::CountMismatch {
                images: 1,
                labels: 2
            })
        );
    }

    #[test]
    fn empty_split_is_rejected() {
        let images = idx(IMAGES_MAGIC, &[0, 28, 28], &[]);
        let labels = idx(LABELS_MAGIC, &[0], &[]);
        assert_eq!(
            MnistDataset::from_idx(&images, &labels),
            Err(DatasetError::Empty)
        );
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn reads_gzipped_files_and_plain_ones() {
        let images = idx(IMAGES_MAGIC, &[2, 28, 28], &[9; 2 * IMAGE_PIXELS]);
        let labels = idx(LABELS_MAGIC, &[2], &[3, 9]);
        let set = MnistDataset::from_files(&gzip(&images), &labels).unwrap();
        assert_eq!(set, MnistDataset::from_idx(&images, &labels).unwrap());
    }

    #[test]
    fn damaged_gzip_streams_are_refused() {
        let images = gzip(&idx(IMAGES_MAGIC, &[2, 28, 28], &[9; 2 * IMAGE_PIXELS]));
        let labels = idx(LABELS_MAGIC, &[2], &[3, 9]);
        let cut = &images[..images.len() / 2];
        let mut garbled = images.clone();
        garbled[12..20].copy_from_slice(&[0xff; 8]);
        for damaged in [cut, &garbled, &[0x1f, 0x8b][..]] {
            let err = MnistDataset::from_files(damaged, &labels).unwrap_err();
            assert!(
                matches!(err, DatasetError::Gzip { kind: "images", .. }),
                "{err}"
            );
            assert!(
                err.to_string()
                    .starts_with("the images file is not a valid gzip file")
            );
        }
    }

    #[test]
    fn empty_and_truncated_files_are_refused() {
        let images = idx(IMAGES_MAGIC, &[2, 28, 28], &[9; 2 * IMAGE_PIXELS]);
        let labels = idx(LABELS_MAGIC, &[2], &[3, 9]);
        let err = MnistDataset::from_files(&images, &[]).unwrap_err();
        assert_eq!(err.to_string(), "the labels file is empty");
        let err = MnistDataset::from_files(&gzip(&images[..1000]), &labels).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
    }

    #[test]
    fn idx_errors_pass_through() {
        let labels = idx(LABELS_MAGIC, &[1], &[1]);
        assert!(matches!(
            MnistDataset::from_idx(&[1, 2, 3], &labels),
            Err(DatasetError::Idx(IdxError::TruncatedHeader { .. }))
        ));
    }
}
