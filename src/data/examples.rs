//! The user's own examples ("my examples"): drawings labelled with the digit they show, kept
//! with a run (in its checkpoint) and taught to the model by fine-tuning. Each is held as MNIST
//! holds its images: 28x28 grey levels 0-255, so a drawing is stored as the model sees it.

use thiserror::Error;

use super::mnist::{DatasetError, GreyLevels, IMAGE_PIXELS, MnistDataset};

/// The most examples a run keeps: about 100 per digit, 785 bytes each in a checkpoint.
pub const MAX_EXAMPLES: usize = 1_000;

/// Why examples could not be added, removed or read.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ExamplesError {
    #[error("the examples are not usable: {0}")]
    Invalid(#[from] DatasetError),
    #[error(
        "a run keeps at most {MAX_EXAMPLES} examples: it holds {held}, and {adding} more would be too many (remove some first)"
    )]
    TooMany { held: usize, adding: usize },
    #[error("there is no example {index}: there are {count}")]
    NoSuchExample { index: usize, count: usize },
    #[error("the examples' bytes are damaged: {0}")]
    Damaged(String),
}

/// One labelled drawing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// 784 grey levels, 0 (background) to 255 (ink), row-major.
    pub image: Vec<u8>,
    /// The digit it shows.
    pub label: u8,
}

/// The examples of a run, in the order they were added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Examples(Vec<Example>);

impl Examples {
    /// Adds images (as an app's `Dataset`: grey levels laid end to end) with their labels,
    /// all or none; returns how many examples there are now.
    pub fn add(&mut self, images: GreyLevels, labels: &[f64]) -> Result<usize, ExamplesError> {
        let new = MnistDataset::from_arrays(images, labels)?;
        if self.0.len() + new.len() > MAX_EXAMPLES {
            return Err(ExamplesError::TooMany {
                held: self.0.len(),
                adding: new.len(),
            });
        }
        self.0.extend((0..new.len()).map(|i| Example {
            image: new.image(i).to_vec(),
            label: new.label(i),
        }));
        Ok(self.0.len())
    }

    /// Removes example `index` (counting from 0 in the order they were added).
    pub fn remove(&mut self, index: usize) -> Result<Example, ExamplesError> {
        if index >= self.0.len() {
            return Err(ExamplesError::NoSuchExample {
                index,
                count: self.0.len(),
            });
        }
        Ok(self.0.remove(index))
    }

    /// Removes them all.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The examples in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = &Example> {
        self.0.iter()
    }

    /// The examples as a data set for the pipeline (`None` when there are none).
    pub fn dataset(&self) -> Option<MnistDataset> {
        let pixels = self
            .0
            .iter()
            .flat_map(|e| e.image.iter().copied())
            .collect();
        let labels = self.0.iter().map(|e| e.label).collect();
        MnistDataset::new(pixels, labels).ok()
    }

    /// The examples as bytes: for each, its label, then its 784 grey levels.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.len() * (1 + IMAGE_PIXELS));
        for example in &self.0 {
            out.push(example.label);
            out.extend_from_slice(&example.image);
        }
        out
    }

    /// Reads what [`Examples::to_bytes`] wrote, checking every label and the count.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ExamplesError> {
        let damaged = |why: String| ExamplesError::Damaged(why);
        if !bytes.len().is_multiple_of(1 + IMAGE_PIXELS) {
            return Err(damaged(format!(
                "{} bytes is not a whole number of examples of {} bytes",
                bytes.len(),
                1 + IMAGE_PIXELS
            )));
        }
        let count = bytes.len() / (1 + IMAGE_PIXELS);
        if count > MAX_EXAMPLES {
            return Err(damaged(format!(
                "{count} examples, more than the {MAX_EXAMPLES} a run keeps"
            )));
        }
        let mut images = Vec::with_capacity(count * IMAGE_PIXELS);
        let mut labels = Vec::with_capacity(count);
        for chunk in bytes.chunks_exact(1 + IMAGE_PIXELS) {
            labels.push(f64::from(chunk[0]));
            images.extend_from_slice(&chunk[1..]);
        }
        let mut examples = Self::default();
        if count > 0 {
            examples
                .add(GreyLevels::Bytes(images), &labels)
                .map_err(|e| damaged(e.to_string()))?;
        }
        Ok(examples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(level: u8) -> Vec<u8> {
        vec![level; IMAGE_PIXELS]
    }

    #[test]
    fn adds_all_or_none_and_removes_by_index() {
        let mut examples = Examples::default();
        let two = [image(1), image(2)].concat();
        assert_eq!(examples.add(GreyLevels::Bytes(two), &[3.0, 7.0]), Ok(2));
        let bad = [image(4), image(5)].concat();
        let err = examples
            .add(GreyLevels::Bytes(bad), &[1.0, 10.0])
            .unwrap_err();
        assert!(err.to_string().contains("label 10"), "{err}");
        assert_eq!(examples.len(), 2);
        let fractions = GreyLevels::Fractions(vec![1.0; IMAGE_PIXELS]);
        assert_eq!(examples.add(fractions, &[0.0]), Ok(3));
        assert_eq!(examples.iter().last().unwrap().image, image(255));

        let removed = examples.remove(1).unwrap();
        assert_eq!((removed.label, removed.image[0]), (7, 2));
        let labels: Vec<u8> = examples.iter().map(|e| e.label).collect();
        assert_eq!(labels, [3, 0]);
        assert_eq!(
            examples.remove(2),
            Err(ExamplesError::NoSuchExample { index: 2, count: 2 })
        );
    }

    #[test]
    fn keeps_at_most_the_limit() {
        let mut examples = Examples::default();
        let many = vec![0u8; IMAGE_PIXELS * MAX_EXAMPLES];
        examples
            .add(GreyLevels::Bytes(many), &vec![1.0; MAX_EXAMPLES])
            .unwrap();
        let err = examples
            .add(GreyLevels::Bytes(image(0)), &[1.0])
            .unwrap_err();
        assert!(matches!(err, ExamplesError::TooMany { .. }), "{err}");
    }

    #[test]
    fn round_trip_through_bytes_and_refuse_damage() {
        let mut examples = Examples::default();
        assert_eq!(Examples::from_bytes(&[]), Ok(Examples::default()));
        examples
            .add(
                GreyLevels::Bytes([image(9), image(200)].concat()),
                &[9.0, 4.0],
            )
            .unwrap();
        let bytes = examples.to_bytes();
        assert_eq!(Examples::from_bytes(&bytes), Ok(examples.clone()));
        assert!(Examples::from_bytes(&bytes[1..]).is_err());
        let mut bad_label = bytes.clone();
        bad_label[0] = 12;
        let err = Examples::from_bytes(&bad_label).unwrap_err();
        assert!(matches!(err, ExamplesError::Damaged(_)), "{err}");
        assert_eq!(examples.dataset().unwrap().len(), 2);
        assert!(Examples::default().dataset().is_none());
    }
}
